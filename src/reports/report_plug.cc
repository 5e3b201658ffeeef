// report plug: the largest DIMM and virtio-mem growth that would succeed now, and one step.
#include "reports/report_kinds.h"

#include <map>
#include <vector>

#include <fmt/format.h>

#include "views/sysfs_attr.h"

namespace memplug::fe::report_detail {

using nlohmann::ordered_json;
using mm::PageCount;
using mm::Pfn;

namespace {

// A pc-dimm of `size` plugged now: QEMU's pre-plug checks (slot, space, placement),
// then the guest's acpi_memory_enable_device -> add_memory checks at the address
// QEMU picks. `qemu_error` set: QEMU refuses; `guest` an error: the DIMM stays in
// QEMU and the guest does not use it.
struct DimmVerdict {
    std::optional<std::string> qemu_error;
    uint64_t addr = 0;
    KResult<mm::PageCount> guest = mm::PageCount();
};

unsigned dimm_mhp_flags(const mm::Kernel& k, uint64_t size)
{
    return k.mhp_supports_memmap_on_memory(size) ? unsigned(mm::MHP_MEMMAP_ON_MEMORY) : 0u;
}

// The DIMM device_add would make (without node=: on node 0).
DimmVerdict dimm_verdict(const machine::Machine& m, uint64_t size, int node = 0)
{
    DimmVerdict v;
    if (auto slot = m.pc_dimm_free_slot(); !slot) {
        v.qemu_error = slot.error().desc;
        return v;
    }
    auto addr = m.memory_device_pre_plug(size, machine::Machine::k_dimm_align, std::nullopt);
    if (!addr) {
        v.qemu_error = addr.error().desc;
        return v;
    }
    v.addr = *addr;
    const mm::Kernel& k = m.kernel();
    v.guest = k.test_add_memory(node, *addr, size, dimm_mhp_flags(k, size));
    return v;
}

// The largest n in [0, hi] with ok(n), for ok true up to some n and false after.
template <typename F>
uint64_t largest_where(uint64_t hi, F&& ok)
{
    uint64_t lo = 0;
    while (lo < hi) {
        const uint64_t mid = lo + (hi - lo + 1) / 2;
        if (ok(mid)) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

ordered_json dimm_json(const machine::Machine& m)
{
    const mm::Kernel& k = m.kernel();
    const uint64_t bs = k.memory_block_size_bytes();
    ordered_json j;
    auto slot = m.pc_dimm_free_slot();
    j["slot"] = slot ? ordered_json(*slot) : ordered_json(nullptr);
    const uint64_t qemu_blocks = dimm_qemu_max(m) / bs;
    j["qemu_max"] = qemu_blocks * bs;
    const DimmVerdict above = dimm_verdict(m, (qemu_blocks + 1) * bs);
    j["qemu_refuses_above"] = above.qemu_error ? ordered_json(*above.qemu_error) : ordered_json(nullptr);
    // The guest: add_memory at QEMU's address, its memmap from kernel memory
    // (memmap_on_memory only for a DIMM of exactly one block, as Linux 6.1's ACPI driver adds it whole).
    const uint64_t guest_blocks = largest_where(qemu_blocks, [&](uint64_t n) {
        const DimmVerdict v = dimm_verdict(m, n * bs);
        return !v.qemu_error && v.guest.has_value();
    });
    j["memmap_on_memory_size"] = k.mhp_supports_memmap_on_memory(bs) ? ordered_json(bs) : ordered_json(nullptr);
    j["largest"] = guest_blocks * bs;
    if (guest_blocks < qemu_blocks) {
        const DimmVerdict v = dimm_verdict(m, (guest_blocks + 1) * bs);
        j["limit"] = {{"by", "guest"}, {"errno", errno_name(v.guest.error().err)}, {"reason", v.guest.error().reason}};
    } else {
        j["limit"] = {{"by", "qemu"}, {"errno", nullptr}, {"reason", j["qemu_refuses_above"]}};
    }
    const DimmVerdict at = dimm_verdict(m, guest_blocks * bs);
    const mm::PageCount memmap = guest_blocks && at.guest ? *at.guest : mm::PageCount();
    j["memmap_bytes"] = memmap.bytes();
    const mm::PageCount free_min = k.page_alloc().allocatable_pages(0, mm::GFP_KERNEL),
                        free_low = k.kernel_free_above(mm::WMARK_LOW);
    j["kernel_free_after"] = (free_min - std::min(free_min, memmap)).bytes();
    // Were QEMU to take any size: where the memmap alone pushes kernel memory
    // under the low watermark (kswapd, direct reclaim), and where add_memory refuses it.
    const uint64_t per_block = mm::Kernel::memmap_pages(bs).value();
    j["reclaim_from"] = (free_low.value() / per_block + 1) * bs;
    j["enomem_from"] = (free_min.value() / per_block + 1) * bs;
    return j;
}

ordered_json virtio_mem_plug_json(const machine::Machine& m, const machine::VirtioMem& dev, uint64_t requested)
{
    ordered_json j;
    j["requested_size"] = requested;
    if (auto q = dev.check_requested_size(requested); !q) {
        j["qemu_error"] = q.error().desc;
        return j;
    }
    j["qemu_error"] = nullptr;
    const drivers::VirtioMemDriver* drv = m.virtio_mem().driver_of(dev);
    if (!drv || m.config().stopped) {
        j["reached"] = dev.plugged_size();
        j["stop"] = err_json(0, "no guest driver acts on it");
        return j;
    }
    if (requested < dev.plugged_size()) {
        // A shrink: as far as the unplug report says it can go.
        const uint64_t smallest = shrink_json(m, dev, {})["smallest_request_served"];
        j["reached"] = std::max(requested, smallest);
        j["stop"] = smallest > requested ? err_json(0, "a shrink: what stays plugged, see report unplug") : ordered_json(nullptr);
        return j;
    }
    const auto f = drv->plug_forecast(m.kernel(), requested);
    j["reached"] = f.reached;
    j["stop"] = f.reached < requested ? err_json(f.err, f.reason) : ordered_json(nullptr);
    j["units_added"] = f.units_added;
    j["memmap_bytes"] = f.memmap_pages.bytes();
    j["kernel_free_after"] = f.kernel_free.bytes();
    return j;
}

std::string plug_stop_text(const ordered_json& v)
{
    if (!v["qemu_error"].is_null()) return fmt::format("QEMU refuses: \"{}\"", v["qemu_error"].get<std::string>());
    const uint64_t reached = v["reached"];
    std::string out = reached == v["requested_size"].get<uint64_t>() ? fmt::format("fully served")
                                                                     : fmt::format("stops at {}", human_bytes(reached));
    if (!v["stop"].is_null())
        out += fmt::format(" ({}{})", v["stop"]["errno"].is_null() ? "" : v["stop"]["errno"].get<std::string>() + ": ",
                           v["stop"]["reason"].get<std::string>());
    if (v.contains("memmap_bytes") && v["memmap_bytes"].get<uint64_t>())
        out += fmt::format("; memmap {} from kernel memory, {} left for GFP_KERNEL", human_bytes(v["memmap_bytes"]),
                           human_bytes(v["kernel_free_after"]));
    return out;
}

// One step as the report judges it.
std::string judgement_text(const ordered_json& s)
{
    if (s.contains("virtio_mem")) return plug_stop_text(s["virtio_mem"]);
    if (!s["qemu_error"].is_null()) return fmt::format("QEMU refuses: \"{}\"", s["qemu_error"].get<std::string>());
    if (s["guest_adds"])
        return fmt::format("QEMU places it at {:#x}, the guest adds it (memmap {})", s["addr"].get<uint64_t>(),
                           human_bytes(s["memmap_bytes"]));
    return fmt::format("QEMU places it at {:#x}; add_memory fails, {} {}: unused by the guest", s["addr"].get<uint64_t>(),
                       s["guest_error"]["errno"].get<std::string>(), s["guest_error"]["reason"].get<std::string>());
}

}  // namespace

uint64_t dimm_qemu_max(const machine::Machine& m)
{
    // Placement is first fit, so a size that fits means every smaller one does.
    const uint64_t bs = m.kernel().memory_block_size_bytes();
    const uint64_t space_blocks = m.config().maxram_size > m.config().ram_size
                                      ? (m.config().maxram_size - m.config().ram_size) / bs : 0;
    return bs * largest_where(space_blocks, [&](uint64_t n) { return !dimm_verdict(m, n * bs).qemu_error; });
}

ordered_json plug_step_json(const machine::Machine& m, const PlugStep& step)
{
    ordered_json s;
    s["target"] = step.target;
    s["size"] = step.size;
    if (step.node) s["node"] = *step.node;
    if (step.target == "dimm") {
        const DimmVerdict v = dimm_verdict(m, step.size, step.node.value_or(0));
        s["qemu_error"] = v.qemu_error ? ordered_json(*v.qemu_error) : ordered_json(nullptr);
        if (!v.qemu_error) {
            s["addr"] = v.addr;
            s["guest_adds"] = v.guest.has_value();
            s["guest_error"] = v.guest ? ordered_json(nullptr) : err_json(v.guest.error().err, v.guest.error().reason);
            s["memmap_bytes"] = v.guest ? v.guest->bytes() : 0;
        }
        return s;
    }
    for (const auto& d : m.memory_devices())
        if (const auto* vm = dynamic_cast<const machine::VirtioMem*>(d.get()); vm && vm->id() == step.target)
            s["virtio_mem"] = virtio_mem_plug_json(m, *vm, step.size);
    return s;
}

tl::expected<ordered_json, std::string> plug_report(const machine::Machine& m, std::string_view step, std::string_view plan)
{
    const mm::Kernel& k = m.kernel();
    ordered_json r;
    r["schema"] = k_report_schema;
    r["report"] = "plug";
    const uint64_t bs = k.memory_block_size_bytes();
    r["memory_block_size"] = bs;
    r["memmap_on_memory"] = k.params().memmap_on_memory;
    r["online_type"] = views::online_type_to_str(k.params().mhp_default_online_type);
    r["kernel_memory"] = {{"gfp_kernel_allocatable", k.page_alloc().allocatable_pages(0, mm::GFP_KERNEL).bytes()},
                          {"free_above_low", k.kernel_free_above(mm::WMARK_LOW).bytes()},
                          {"memmap_per_block", mm::Kernel::memmap_pages(bs).bytes()}};
    r["dimm"] = m.config().ram_slots && m.device_memory_size() ? dimm_json(m) : ordered_json(nullptr);
    ordered_json devs = ordered_json::array();
    for (const auto& d : m.memory_devices()) {
        const auto* vm = dynamic_cast<const machine::VirtioMem*>(d.get());
        if (!vm) continue;
        ordered_json j;
        j["id"] = vm->id();
        j["node"] = vm->numa_node();
        j["plugged_size"] = vm->plugged_size();
        j["region_size"] = vm->region_size();
        if (const drivers::VirtioMemDriver* drv = m.virtio_mem().driver_of(*vm)) {
            j["unit_size"] = drv->unit_size();
            j["subblock_size"] = drv->subblock_size();
        }
        // The largest request QEMU takes is the whole region; how far the guest gets towards it.
        j["full"] = virtio_mem_plug_json(m, *vm, vm->region_size());
        j["largest_served"] = j["full"]["reached"];
        devs.push_back(std::move(j));
    }
    r["virtio_mem"] = std::move(devs);
    if (!step.empty()) r["step"] = plug_step_json(m, MP_TRY(parse_plug_step(m, step)));
    if (!plan.empty()) r["plan"] = MP_TRY(plug_plan_json(m, plan));
    return r;
}


std::string plug_text(const ordered_json& r)
{
    const ordered_json& km = r["kernel_memory"];
    std::string out = fmt::format("plug: what plugging memory would do now (memory block {}, memmap_on_memory {}, "
                                  "new blocks {})\n",
                                  human_bytes(r["memory_block_size"]), r["memmap_on_memory"] ? "on" : "off",
                                  r["online_type"].get<std::string>());
    out += fmt::format("kernel memory: {} for GFP_KERNEL allocations (the memmap's too), {} free above the low "
                       "watermarks; the memmap of each block takes {}\n",
                       human_bytes(km["gfp_kernel_allocatable"]), human_bytes(km["free_above_low"]),
                       human_bytes(km["memmap_per_block"]));
    if (r["dimm"].is_null()) {
        out += "pc-dimm: none can be plugged (no slots or maxmem on the command line)\n";
    } else {
        const ordered_json& d = r["dimm"];
        out += fmt::format("pc-dimm{}: QEMU places up to {}", d["slot"].is_null() ? "" : fmt::format(" (slot {})", d["slot"].get<int>()),
                           human_bytes(d["qemu_max"]));
        if (!d["qemu_refuses_above"].is_null()) out += fmt::format("; above: \"{}\"", d["qemu_refuses_above"].get<std::string>());
        out += "\n";
        out += fmt::format("  largest the guest adds now: {}", human_bytes(d["largest"]));
        if (uint64_t mm = d["memmap_bytes"]) out += fmt::format(", its memmap {} from kernel memory, {} left for GFP_KERNEL",
                                                                human_bytes(mm), human_bytes(d["kernel_free_after"]));
        if (!d["memmap_on_memory_size"].is_null())
            out += fmt::format(" (memmap_on_memory for a {} DIMM only)", human_bytes(d["memmap_on_memory_size"]));
        out += "\n";
        if (d["limit"]["by"] == "guest")
            out += fmt::format("  larger: add_memory fails, {} {}; the DIMM stays in QEMU, unused by the guest\n",
                               d["limit"]["errno"].get<std::string>(), d["limit"]["reason"].get<std::string>());
        out += fmt::format("  memmap alone: from {} kernel memory falls under the low watermark (reclaim on every "
                           "allocation), from {} add_memory fails with ENOMEM\n",
                           human_bytes(d["reclaim_from"]), human_bytes(d["enomem_from"]));
    }
    for (const ordered_json& v : r["virtio_mem"]) {
        out += fmt::format("virtio-mem-pci {}: plugged {} of {}, node {}", v["id"].get<std::string>(),
                           human_bytes(v["plugged_size"]), human_bytes(v["region_size"]), v["node"].get<int>());
        if (v.contains("unit_size"))
            out += fmt::format(" ({} units, {} subblocks)", human_bytes(v["unit_size"]), human_bytes(v["subblock_size"]));
        out += fmt::format("\n  requested-size {}: {}\n", human_bytes(v["full"]["requested_size"]), plug_stop_text(v["full"]));
    }
    if (r.contains("step"))
        out += fmt::format("step {}:{}: {}\n", r["step"]["target"].get<std::string>(), human_bytes(r["step"]["size"]),
                           judgement_text(r["step"]));
    if (r.contains("plan")) {
        out += "plan, performed step by step on a copy of the machine:\n";
        const ordered_json& steps = r["plan"]["steps"];
        for (size_t i = 0; i < steps.size(); ++i) {
            const ordered_json& s = steps[i];
            out += fmt::format("  {}. {}: judged: {}\n     did: {}; then {} for GFP_KERNEL\n", i + 1, s["step"].get<std::string>(),
                               judgement_text(s["judged"]), plug_outcome_text(s["outcome"]),
                               human_bytes(s["kernel_memory"]["gfp_kernel_allocatable"]));
        }
        const ordered_json& f = r["plan"]["first_failure"];
        out += f.is_null() ? std::string("  every step succeeds\n")
                           : fmt::format("  first failing step: {}. {}\n", f.get<size_t>() + 1,
                                         steps[f.get<size_t>()]["step"].get<std::string>());
    }
    return out;
}

}  // namespace memplug::fe::report_detail
