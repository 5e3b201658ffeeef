// Show that the reports' predictions are what the model then does: random
// states (random_session.h, plus pinned and anonymous memory), a report asked,
// the operation performed, the outcome compared with the prediction.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "frontends/guest_session.h"
#include "reports/report.h"
#include "frontends/random_session.h"

namespace memplug::fe {
namespace {

using nlohmann::ordered_json;

struct State {
    GuestSession s{GuestSession::CheckInvariants::Yes};
    std::mt19937 rng;
};

// A random state: a random session, then kernel memory pinned and anonymous memory taken.
void random_state(State& st, uint32_t seed, uint64_t ops)
{
    const test::Outcome o = test::random_session(seed, ops, st.s);
    RC_ASSERT(o.failure == std::string());
    st.rng.seed(seed ^ 0x5eed);
    auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(st.rng); };
    for (uint64_t i = 0, n = pick(4); i < n; ++i) {
        const char* verb = pick(2) ? "pin" : "anon";
        RC_ASSERT(bool(st.s.run(CommandKind::Memplug, fmt::format("{} w{} {}M", verb, i, 1 + pick(300)))));
    }
}

ordered_json report(State& st, std::string_view kind)
{
    auto r = build_report(*st.s.machine(), kind);
    RC_ASSERT(bool(r));
    return *r;
}

std::vector<ordered_json> all_blocks(const ordered_json& r)
{
    std::vector<ordered_json> out(r["boot_blocks"].begin(), r["boot_blocks"].end());
    for (const ordered_json& d : r["devices"]) out.insert(out.end(), d["blocks"].begin(), d["blocks"].end());
    return out;
}

// Offlining a block: the errno predicted, and the pages migrated.
RC_GTEST_PROP(Report, UnplugPredictsEachBlocksOffline, ())
{
    State st;
    random_state(st, *rc::gen::arbitrary<uint32_t>(), *rc::gen::inRange<uint64_t>(0, 60));
    const ordered_json r = report(st, "unplug");
    const auto blocks = all_blocks(r);
    RC_PRE(!blocks.empty());
    const ordered_json& b = blocks[*rc::gen::inRange<size_t>(0, blocks.size())];
    mm::Kernel& k = st.s.machine()->kernel();
    const uint64_t migrated_before = k.work().pages_migrated;
    const auto got = k.device_offline(mm::BlockId(b["block"].get<uint64_t>()));
    const ordered_json& v = b["offline"];
    RC_LOG() << b.dump() << "\n";
    if (v["ok"]) {
        RC_ASSERT(got.has_value());
        RC_ASSERT(*got == 0);
        RC_ASSERT(k.work().pages_migrated - migrated_before == v["migrate_pages"].get<uint64_t>());
    } else if (b["state"] == "offline") {
        RC_ASSERT(got.has_value() && *got == 1);  // state_store's EINVAL: already offline
    } else {
        RC_ASSERT(!got.has_value());
        RC_ASSERT(strerrorname_np(got.error().err) == v["errno"].get<std::string>());
        RC_ASSERT(got.error().reason == v["reason"].get<std::string>());
    }
    RC_ASSERT(bool(k.check_invariants()));
}

// device_del of a DIMM: ejected exactly when the report says the guest would.
RC_GTEST_PROP(Report, UnplugPredictsDimmEject, ())
{
    State st;
    random_state(st, *rc::gen::arbitrary<uint32_t>(), *rc::gen::inRange<uint64_t>(0, 60));
    const ordered_json r = report(st, "unplug");
    std::vector<ordered_json> dimms;
    for (const ordered_json& d : r["devices"])
        if (d["type"] == "pc-dimm") dimms.push_back(d);
    RC_PRE(!dimms.empty());
    const ordered_json& d = dimms[*rc::gen::inRange<size_t>(0, dimms.size())];
    RC_LOG() << d["eject"].dump() << "\n";
    RC_ASSERT(bool(st.s.run(CommandKind::Monitor, "device_del " + d["id"].get<std::string>())));
    bool still_there = false;
    for (const auto& dev : st.s.machine()->memory_devices()) still_there |= dev->id() == d["id"].get<std::string>();
    RC_ASSERT(still_there == !d["eject"]["possible"].get<bool>());
}

// A virtio-mem shrink to nothing gives back what the report said it could.
RC_GTEST_PROP(Report, UnplugPredictsVirtioMemShrink, ())
{
    State st;
    random_state(st, *rc::gen::arbitrary<uint32_t>(), *rc::gen::inRange<uint64_t>(0, 60));
    const ordered_json r = report(st, "unplug");
    const ordered_json* vm = nullptr;
    for (const ordered_json& d : r["devices"])
        if (d["type"] == "virtio-mem-pci") vm = &d;
    RC_PRE(vm != nullptr);
    const ordered_json& s = (*vm)["shrink"];
    RC_LOG() << s.dump() << "\n";
    const uint64_t target = *rc::gen::element<uint64_t>(0, s["smallest_request_served"].get<uint64_t>());
    RC_ASSERT(bool(st.s.run(CommandKind::Monitor, fmt::format("qom-set {} requested-size {}",
                                                               (*vm)["id"].get<std::string>(), target))));
    const machine::VirtioMem* dev = nullptr;
    for (const auto& d : st.s.machine()->memory_devices())
        if (d->id() == (*vm)["id"].get<std::string>()) dev = dynamic_cast<const machine::VirtioMem*>(d.get());
    RC_ASSERT(dev != nullptr);
    // Asked for what it can give, it reaches the request; asked for less, it stops where the report said.
    RC_ASSERT(dev->plugged_size() == s["smallest_request_served"].get<uint64_t>());
}

// Growing the 2 MiB pool as far as it goes: the report's count, within what it
// says compaction may add.
RC_GTEST_PROP(Report, HugepagesPredictsPoolGrowth, ())
{
    State st;
    random_state(st, *rc::gen::arbitrary<uint32_t>(), *rc::gen::inRange<uint64_t>(0, 60));
    const bool gigantic = *rc::gen::arbitrary<bool>();
    const std::string file = gigantic ? "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
                                      : "/proc/sys/vm/nr_hugepages";
    // The first lookup of a path allocates its dentries and inodes (a few pages
    // of slab, as on the real kernel): done before asking, so that the write's
    // own lookup takes nothing the report counted as free.
    RC_ASSERT(bool(st.s.run(CommandKind::Guest, "cat " + file + " > /dev/null")));
    const ordered_json r = report(st, "hugepages");
    const ordered_json& sz = r["sizes"][gigantic ? 1 : 0];
    RC_LOG() << sz.dump() << "\n";
    const uint64_t before = sz["nr_hugepages"];
    RC_ASSERT(bool(st.s.run(CommandKind::Guest, fmt::format("echo 100000000 > {}", file))));
    const uint64_t after = st.s.machine()->kernel().hugetlb().hstate(gigantic ? mm::Hugetlb::HSTATE_1G
                                                                               : mm::Hugetlb::HSTATE_2M).nr_huge_pages;
    RC_LOG() << "got " << after - before << "\n";
    RC_ASSERT(after - before >= sz["more_without_compaction"].get<uint64_t>());
    RC_ASSERT(after - before == sz["more"].get<uint64_t>());
}

// A plug step as the report judges it, then performed: a new pc-dimm (QEMU's
// refusal in its words, or the guest adding it or not) or a virtio-mem
// requested-size (the size the driver reaches).
void check_plug_step(State& st, const std::string& step)
{
    auto r = build_report(*st.s.machine(), "plug", {}, step);
    RC_ASSERT(bool(r));
    const ordered_json& s = (*r)["step"];
    RC_LOG() << s.dump() << "\n";
    machine::Machine& m = *st.s.machine();
    const uint64_t bs = m.kernel().memory_block_size_bytes();
    if (s["target"] == "dimm") {
        const uint64_t size = s["size"];
        RC_ASSERT(bool(st.s.run(CommandKind::Monitor, fmt::format("object_add memory-backend-ram,id=plug0,size={}", size))));
        auto out = st.s.run(CommandKind::Monitor, "device_add pc-dimm,id=plug1,memdev=plug0");
        RC_ASSERT(bool(out));
        if (!s["qemu_error"].is_null()) {
            RC_ASSERT(*out == "Error: " + s["qemu_error"].get<std::string>() + "\n");
            return;
        }
        RC_ASSERT(out->empty());
        const auto& devs = m.memory_devices();
        const auto it = std::find_if(devs.begin(), devs.end(), [](const auto& d) { return d->id() == "plug1"; });
        RC_ASSERT(it != devs.end());
        RC_ASSERT((*it)->address() == s["addr"].get<uint64_t>());
        RC_ASSERT(bool(m.kernel().find_memory_block(mm::BlockId(s["addr"].get<uint64_t>() / bs))) ==
                  s["guest_adds"].get<bool>());
    } else {
        const ordered_json& v = s["virtio_mem"];
        auto out = st.s.run(CommandKind::Monitor,
                            fmt::format("qom-set {} requested-size {}", s["target"].get<std::string>(), s["size"].get<uint64_t>()));
        RC_ASSERT(bool(out));
        if (!v["qemu_error"].is_null()) {
            RC_ASSERT(*out == "Error: " + v["qemu_error"].get<std::string>() + "\n");
            return;
        }
        for (const auto& d : m.memory_devices())
            if (const auto* vm = dynamic_cast<const machine::VirtioMem*>(d.get()); vm && vm->id() == s["target"])
                RC_ASSERT(vm->plugged_size() == v["reached"].get<uint64_t>());
    }
}

// Plugging on the random states: a DIMM of the report's largest size, one block
// more, or any; a virtio-mem request of any size.
RC_GTEST_PROP(Report, PlugPredictsEachStep, ())
{
    State st;
    random_state(st, *rc::gen::arbitrary<uint32_t>(), *rc::gen::inRange<uint64_t>(0, 60));
    const ordered_json r = report(st, "plug");
    const uint64_t bs = r["memory_block_size"];
    if (*rc::gen::arbitrary<bool>() || r["virtio_mem"].empty()) {
        RC_PRE(!r["dimm"].is_null());
        const uint64_t largest = r["dimm"]["largest"];
        const uint64_t any = bs * *rc::gen::inRange<uint64_t>(1, 48);
        const uint64_t size = *rc::gen::element<uint64_t>(uint64_t(largest), largest + bs, uint64_t(any));
        RC_PRE(size > 0);
        check_plug_step(st, fmt::format("dimm:{}", size));
    } else {
        const ordered_json& v = r["virtio_mem"][0];
        const uint64_t req = 2 * mm::MiB * *rc::gen::inRange<uint64_t>(0, v["region_size"].get<uint64_t>() / (2 * mm::MiB) + 2);
        check_plug_step(st, fmt::format("{}:{}", v["id"].get<std::string>(), req));
    }
}

// Where kernel memory runs out: a small guest, a large device-memory region, every
// online policy, memmap_on_memory or not, some kernel memory pinned; then the
// largest DIMM, one block more, or a virtio-mem request near where the report says it stops.
RC_GTEST_PROP(Report, PlugPredictsWhereKernelMemoryRunsOut, ())
{
    State st;
    static const char* policies[] = {"online", "online_movable", "offline", "online memory_hotplug.online_policy=auto-movable",
                                     "online memory_hotplug.online_policy=auto-movable memory_hotplug.auto_movable_ratio=5000"};
    const std::string policy = *rc::gen::element<std::string>(policies[0], policies[1], policies[2], policies[3], policies[4]);
    const bool mom = *rc::gen::arbitrary<bool>();
    const uint64_t boot_mib = *rc::gen::element<uint64_t>(1024, 2048, 3072, 6144);
    RC_ASSERT(bool(st.s.run(CommandKind::Host,
                            fmt::format("qemu-system-x86_64 -m {}M,slots=4,maxmem=600G -machine q35 -device pcie-root-port,id=port1,"
                                        "bus=pcie.0,slot=1 -object memory-backend-ram,id=vm0,size=256G -device virtio-mem-pci,"
                                        "id=vmem0,memdev=vm0,bus=port1 -append \"memhp_default_state={}{}\"",
                                        boot_mib, policy, mom ? " memory_hotplug.memmap_on_memory=1" : ""))));
    RC_ASSERT(st.s.machine() != nullptr);
    if (const uint64_t pin = *rc::gen::inRange<uint64_t>(0, boot_mib / 2))
        RC_ASSERT(bool(st.s.run(CommandKind::Memplug, fmt::format("pin k {}M", pin))));
    const ordered_json r = report(st, "plug");
    RC_LOG() << r.dump() << "\n";
    const uint64_t bs = r["memory_block_size"];
    if (*rc::gen::arbitrary<bool>()) {
        const uint64_t largest = r["dimm"]["largest"];
        const uint64_t size = *rc::gen::element<uint64_t>(uint64_t(largest), largest + bs, uint64_t(bs));
        RC_PRE(size > 0);
        // `largest` is the boundary: the guest adds it, and one block more is refused by QEMU or the guest.
        const ordered_json s = (*build_report(*st.s.machine(), "plug", {}, fmt::format("dimm:{}", size)))["step"];
        // (RC_ASSERT decomposes its expression, so no short circuit inside it.)
        const bool added = s["qemu_error"].is_null() && s["guest_adds"].get<bool>();
        if (size == largest) RC_ASSERT(added);
        if (size == largest + bs) RC_ASSERT(!added);
        check_plug_step(st, fmt::format("dimm:{}", size));
    } else {
        const uint64_t served = r["virtio_mem"][0]["largest_served"];
        const uint64_t req = std::min<uint64_t>(256 * mm::GiB, served + bs * *rc::gen::inRange<int64_t>(-2, 3));
        check_plug_step(st, fmt::format("vmem0:{}", req));
    }
}

}  // namespace
}  // namespace memplug::fe
