// Show that the reports' predictions are what the model then does: random
// states (random_session.h, plus pinned and anonymous memory), a report asked,
// the operation performed, the outcome compared with the prediction.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "frontends/guest_session.h"
#include "frontends/report.h"
#include "random_session.h"

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
    const auto* dev = dynamic_cast<const machine::VirtioMem*>(st.s.machine()->memory_devices().front().get());
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
    const ordered_json r = report(st, "hugepages");
    const ordered_json& sz = r["sizes"][gigantic ? 1 : 0];
    RC_LOG() << sz.dump() << "\n";
    const uint64_t before = sz["nr_hugepages"];
    const std::string file = gigantic ? "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
                                      : "/proc/sys/vm/nr_hugepages";
    RC_ASSERT(bool(st.s.run(CommandKind::Guest, fmt::format("echo 100000000 > {}", file))));
    const uint64_t after = st.s.machine()->kernel().hugetlb().hstate(gigantic ? mm::Hugetlb::HSTATE_1G
                                                                               : mm::Hugetlb::HSTATE_2M).nr_huge_pages;
    RC_LOG() << "got " << after - before << "\n";
    RC_ASSERT(after - before >= sz["more_without_compaction"].get<uint64_t>());
    RC_ASSERT(after - before == sz["more"].get<uint64_t>());
}

}  // namespace
}  // namespace memplug::fe
