// report config: a qemu-system-x86_64 command line judged without running QEMU.
// Machine::create models QEMU's checks and boots the model guest; a fork of
// it is filled to maxmem (virtio-mem grown to
// its region, the largest DIMMs QEMU places in the free slots) to show what
// the guest would make of the full size.
#include "reports/report_kinds.h"

#include <map>

#include <fmt/format.h>

#include "machine/monitor.h"
#include "views/sysfs_attr.h"

namespace memplug::fe::report_detail {

using nlohmann::ordered_json;

namespace {

constexpr uint64_t GiB = mm::GiB;

std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }

// probe_memory_block_size() (arch/x86/mm/init_64.c) in a guest, in words.
ordered_json block_size_json(const mm::Kernel& k)
{
    const uint64_t bs = k.memory_block_size_bytes(), end = k.max_pfn().phys();
    std::string why;
    if (end < 64 * GiB)
        why = fmt::format("boot RAM ends at {} (max_pfn), below 64 GiB (MEM_SIZE_FOR_LARGE_BLOCK): the smallest "
                          "block, 128 MiB", hex(end));
    else if (bs == 2 * GiB)
        why = fmt::format("boot RAM ends at {}, 64 GiB or more and 2 GiB-aligned: the largest block (MAX_BLOCK_SIZE)",
                          hex(end));
    else
        why = fmt::format("boot RAM ends at {}, 64 GiB or more: a guest (X86_FEATURE_HYPERVISOR) takes the largest "
                          "power of two up to 2 GiB that the end is aligned to, here {} (not {})",
                          hex(end), human_bytes(bs), human_bytes(2 * bs));
    return {{"size", bs}, {"boot_mem_end", end}, {"reason", why}};
}

std::string_view e820_name(mm::E820Type t)
{
    switch (t) {
    case mm::E820Type::Ram: return "usable";
    case mm::E820Type::Reserved: return "reserved";
    case mm::E820Type::Acpi: return "ACPI data";
    case mm::E820Type::Nvs: return "ACPI NVS";
    case mm::E820Type::Unusable: return "unusable";
    }
    return "reserved";
}

ordered_json layout_json(const machine::Machine& m)
{
    const machine::MachineConfig& c = m.config();
    const bool q35 = c.type == machine::MachineType::Q35;
    std::string why =
        q35 ? fmt::format("q35 keeps RAM below 0xb0000000 (where MMCONFIG starts) when it fits there, else below 2 GiB; "
                          "{} of RAM: {} below 4 GiB", human_bytes(c.ram_size), human_bytes(m.below_4g_mem_size()))
            : fmt::format("pc (i440FX) keeps RAM below 0xe0000000 when it fits there, else below 3 GiB (gigabyte_align); "
                          "{} of RAM: {} below 4 GiB", human_bytes(c.ram_size), human_bytes(m.below_4g_mem_size()));
    if (m.above_4g_mem_size()) {
        why += fmt::format(", the other {} from {}", human_bytes(m.above_4g_mem_size()), hex(m.above_4g_mem_start()));
        if (m.above_4g_mem_start() != 4 * GiB)
            why += " (past the AMD HyperTransport hole at 0xfd00000000: TCG's CPUs are AMD's and the address space "
                   "would cross 1 TiB)";
    }
    ordered_json e820 = ordered_json::array();
    for (const mm::E820Entry& e : m.e820_table())
        e820.push_back({{"addr", e.addr}, {"size", e.size}, {"type", e820_name(e.type)}});
    return {{"below_4g", m.below_4g_mem_size()}, {"above_4g", m.above_4g_mem_size()},
            {"above_4g_start", m.above_4g_mem_start()}, {"reason", why}, {"e820", std::move(e820)}};
}

ordered_json device_memory_json(const machine::Machine& m)
{
    const machine::MachineConfig& c = m.config();
    if (!m.device_memory_size()) return nullptr;
    const uint64_t ram_end = m.above_4g_mem_size() ? m.above_4g_mem_start() + m.above_4g_mem_size() : 4 * GiB;
    const unsigned phys_bits = c.kvm ? c.phys_bits : 40;
    const uint64_t top = m.pci_hole64_start() + m.pci_hole64_size() - 1;
    const std::string why = fmt::format(
        "from the end of RAM above 4 GiB ({}) aligned up to 1 GiB; maxmem - RAM ({}) plus 1 GiB for each of the {} "
        "slots, room to align every DIMM (enforce_aligned_dimm); the 64-bit PCI window ({}) follows, up to {}, "
        "within phys-bits {} ({}){}",
        hex(ram_end), human_bytes(c.maxram_size - c.ram_size), c.ram_slots, human_bytes(m.pci_hole64_size()), hex(top),
        phys_bits, hex((uint64_t{1} << phys_bits) - 1), c.kvm ? "" : ": TCG's TCG_PHYS_ADDR_BITS");
    return {{"base", m.device_memory_base()}, {"size", m.device_memory_size()}, {"pci_hole64_end", top},
            {"phys_bits", phys_bits}, {"reason", why}};
}

ordered_json limits_json(const machine::Machine& m)
{
    const machine::MachineConfig& c = m.config();
    int dimms = 0;
    uint64_t used = 0;
    for (const auto& d : m.memory_devices()) {
        dimms += d->qom_type() == "pc-dimm";
        used += d->region_size();  // memory_device_check_addable counts every device's whole region
    }
    const uint64_t space = c.maxram_size > c.ram_size ? c.maxram_size - c.ram_size : 0;
    return {{"slots", c.ram_slots}, {"slots_used", dimms}, {"slots_free", c.ram_slots - dimms},
            {"maxmem", c.maxram_size}, {"maxmem_space", space}, {"maxmem_used", used}, {"maxmem_left", space - used}};
}

// QEMU aligns a DIMM to its RAM block (2 MiB); the guest adds only whole memory blocks.
ordered_json dimm_alignment_json(const machine::Machine& m)
{
    const mm::Kernel& k = m.kernel();
    const uint64_t bs = k.memory_block_size_bytes();
    ordered_json j{{"qemu_align", machine::Machine::k_dimm_align},
                   {"qemu_reason", "QEMU_VMALLOC_ALIGN: anonymous RAM blocks are 2 MiB (THP) aligned, and so is the "
                                   "DIMM's address"},
                   {"guest_align", bs},
                   {"guest_reason", fmt::format("add_memory takes only ranges of whole memory blocks: address and size "
                                                "multiples of {}", human_bytes(bs))}};
    j["next_addr"] = nullptr;
    j["misaligned_refusal"] = nullptr;
    if (auto addr = m.memory_device_pre_plug(bs, machine::Machine::k_dimm_align, std::nullopt); addr) {
        j["next_addr"] = *addr;
        j["next_addr_block_aligned"] = *addr % bs == 0;
        // The kernel's words for a DIMM one 2 MiB step past a block multiple.
        if (auto t = k.test_add_memory(0, *addr - *addr % bs, bs + machine::Machine::k_dimm_align, 0); !t)
            j["misaligned_refusal"] = err_json(t.error().err, t.error().reason);
    }
    return j;
}

ordered_json virtio_mem_json(const machine::Machine& m)
{
    const mm::Kernel& k = m.kernel();
    const uint64_t bs = k.memory_block_size_bytes();
    ordered_json out = ordered_json::array();
    for (const auto& d : m.memory_devices()) {
        const auto* vm = dynamic_cast<const machine::VirtioMem*>(d.get());
        if (!vm) continue;
        ordered_json j{{"id", vm->id()}, {"addr", vm->address()}, {"region_size", vm->region_size()},
                       {"block_size", vm->block_size()}, {"requested_size", vm->requested_size()}, {"node", vm->node()}};
        const drivers::VirtioMemDriver* drv = m.virtio_mem().driver_of(*vm);
        if (!drv) {
            j["mode"] = nullptr;
            j["reason"] = "no guest driver acts on it (-S: the CPUs never start)";
        } else {
            // SBM while max(device block, pageblock) is below a memory block (and no force_bbm).
            const bool bbm = drv->subblock_size() >= bs;
            j["mode"] = bbm ? "bbm" : "sbm";
            j["unit_size"] = drv->unit_size();
            j["subblock_size"] = drv->subblock_size();
            j["reason"] = bbm ? fmt::format("Big Block Mode: the device block ({}) is not smaller than a memory block ({}), "
                                            "or force_bbm: the driver adds, onlines and plugs big blocks of {}",
                                            human_bytes(vm->block_size()), human_bytes(bs), human_bytes(drv->unit_size()))
                              : fmt::format("Sub Block Mode: the device block ({}) is smaller than a memory block ({}): "
                                            "the driver adds memory blocks and plugs subblocks of {} (at least "
                                            "a pageblock) in them",
                                            human_bytes(vm->block_size()), human_bytes(bs), human_bytes(drv->subblock_size()));
        }
        out.push_back(std::move(j));
    }
    return out;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// The guest's memory blocks as lsmem -o+ZONES groups them: same state, node and valid_zones.
ordered_json lsmem_json(const mm::Kernel& k)
{
    const uint64_t bs = k.memory_block_size_bytes();
    ordered_json ranges = ordered_json::array();
    uint64_t online = 0, offline = 0;
    struct Run {
        uint64_t first = 0, last = 0;
        std::string state, zones;
        int node = 0;
    };
    std::optional<Run> run;
    auto flush = [&] {
        if (!run) return;
        ordered_json zones = ordered_json::array();
        if (run->zones != "none")
            for (size_t p = 0; p < run->zones.size();) {
                const size_t q = std::min(run->zones.find(' ', p), run->zones.size());
                zones.push_back(run->zones.substr(p, q - p));
                p = q + 1;
            }
        ranges.push_back({{"start", run->first * bs}, {"end", (run->last + 1) * bs - 1},
                          {"size", (run->last - run->first + 1) * bs}, {"state", run->state},
                          {"blocks", {run->first, run->last}}, {"node", run->node}, {"zones", std::move(zones)}});
    };
    for (const auto& [id, mem] : k.memory_blocks()) {
        const std::string state = mem.state == mm::MemState::Online ? "online" : "offline";
        (mem.state == mm::MemState::Online ? online : offline) += bs;
        std::string zones = views::valid_zones_show(k, mem);
        zones.pop_back();
        if (run && run->last + 1 == id.value() && run->state == state && run->zones == zones && run->node == mem.nid) {
            run->last = id.value();
            continue;
        }
        flush();
        run = Run{id.value(), id.value(), state, zones, mem.nid};
    }
    flush();
    return {{"memory_block_size", bs}, {"total_online", online}, {"total_offline", offline}, {"ranges", std::move(ranges)}};
}

// What the guest said since `seq`: warnings and errors, struct page dumps left out.
ordered_json guest_said(const mm::Kernel& k, uint64_t seq)
{
    ordered_json said = ordered_json::array();
    for (const mm::LogRecord& r : k.log().since(seq))
        if (r.level <= mm::LogLevel::Warning && !r.text.starts_with("raw: ") && !r.text.starts_with("page:") &&
            !r.text.starts_with("flags: "))
            said.push_back(r.text);
    return said;
}

// What the fill did to one device, as the monitor answered.
ordered_json fill_step(std::string what, const std::string& out)
{
    ordered_json j{{"command", std::move(what)}};
    j["qemu_error"] = out.starts_with("Error: ") ? ordered_json(first_line(out.substr(7))) : ordered_json(nullptr);
    return j;
}

// A copy of the freshly booted machine, every free byte of maxmem plugged.
ordered_json full_json(const machine::Machine& boot)
{
    const std::unique_ptr<machine::Machine> full = boot.fork();
    machine::Machine& m = *full;
    mm::Kernel& k = m.kernel();
    ordered_json steps = ordered_json::array();
    for (const auto& d : m.memory_devices())
        if (const auto* vm = dynamic_cast<const machine::VirtioMem*>(d.get()); vm && vm->requested_size() < vm->region_size()) {
            const std::string cmd = fmt::format("qom-set {} requested-size {}", vm->id(), vm->region_size());
            const uint64_t seq = k.log().next_seq();
            ordered_json s = fill_step(cmd, machine::hmp(m, cmd));
            s["plugged_size"] = vm->plugged_size();
            s["guest_log"] = guest_said(k, seq);
            steps.push_back(std::move(s));
        }
    for (int n = 0; m.pc_dimm_free_slot(); ++n) {
        const uint64_t size = dimm_qemu_max(m);
        if (!size) break;
        const std::string obj = fmt::format("object_add memory-backend-ram,id=memplug-full{},size={}", n, size);
        const std::string dev = fmt::format("device_add pc-dimm,id=memplug-dimm{},memdev=memplug-full{}", n, n);
        const auto addr = m.memory_device_pre_plug(size, machine::Machine::k_dimm_align, std::nullopt);
        machine::hmp(m, obj);
        const uint64_t step_seq = k.log().next_seq();
        ordered_json s = fill_step(obj + "; " + dev, machine::hmp(m, dev));
        const bool refused = !s["qemu_error"].is_null();
        s["size"] = size;
        if (addr && !refused) {
            s["addr"] = *addr;
            // The guest took it when its first block is there; else the kernel said why.
            s["guest_adds"] = k.find_memory_block(mm::BlockId(*addr / k.memory_block_size_bytes())) != nullptr;
            s["guest_log"] = guest_said(k, step_seq);
        }
        steps.push_back(std::move(s));
        if (refused) break;
    }
    ordered_json j = lsmem_json(k);
    j["steps"] = std::move(steps);
    // What no DIMM QEMU places in a free slot and the guest can use takes: less than a block, or no slot.
    j["maxmem_left"] = limits_json(m)["maxmem_left"];
    // The memmap of the full size, per node: 64 bytes of struct page per 4 KiB page;
    // boot memory's is in place, the devices' must come from kernel memory.
    std::map<int, uint64_t> boot_bytes, device_bytes, has_bytes;
    const uint64_t bs = k.memory_block_size_bytes();
    for (const auto& [id, mem] : boot.kernel().memory_blocks())
        if (mem.early) boot_bytes[mem.nid] += bs;
    for (const auto& [id, mem] : k.memory_blocks()) has_bytes[mem.nid] += bs;
    for (const auto& d : m.memory_devices()) device_bytes[d->numa_node()] += d->region_size();
    ordered_json memmap = ordered_json::array();
    for (const auto& [nid, bytes] : boot_bytes) device_bytes[nid] += 0;
    for (const auto& [nid, dev] : device_bytes)
        memmap.push_back({{"node", nid}, {"boot_memory", boot_bytes[nid]}, {"device_memory", dev},
                          {"memmap", mm::Kernel::memmap_pages(boot_bytes[nid] + dev).bytes()},
                          {"device_memmap", mm::Kernel::memmap_pages(dev).bytes()}, {"guest_has", has_bytes[nid]}});
    j["memmap"] = std::move(memmap);
    j["kernel_free_at_boot"] = boot.kernel().page_alloc().allocatable_pages(0, mm::GFP_KERNEL).bytes();
    return j;
}

}  // namespace

tl::expected<ordered_json, std::string> config_report(const std::vector<std::string>& args)
{
    ordered_json r;
    r["schema"] = k_report_schema;
    r["report"] = "config";
    r["args"] = args;
    auto made = machine::Machine::create(args);
    if (!made) {
        if (made.error().kind == machine::StartError::Kind::Model)
            return tl::unexpected(fmt::format("memplug cannot model this guest: {}", made.error().text));
        r["qemu_error"] = made.error().text;
        return r;
    }
    const machine::Machine& m = **made;
    const machine::MachineConfig& c = m.config();
    r["qemu_error"] = nullptr;
    r["warnings"] = m.startup_output();
    r["machine"] = {{"type", c.type == machine::MachineType::Q35 ? "q35" : "pc"}, {"accel", c.kvm ? "kvm" : "tcg"},
                    {"ram_size", c.ram_size}, {"nodes", c.numa.size()},
                    {"memmap_on_memory", m.kernel().params().memmap_on_memory},
                    {"online_type", views::online_type_to_str(m.kernel().params().mhp_default_online_type)}};
    r["block_size"] = block_size_json(m.kernel());
    r["boot_layout"] = layout_json(m);
    r["device_memory"] = device_memory_json(m);
    r["limits"] = limits_json(m);
    r["dimm_alignment"] = m.device_memory_size() ? dimm_alignment_json(m) : ordered_json(nullptr);
    r["virtio_mem"] = virtio_mem_json(m);
    r["boot"] = lsmem_json(m.kernel());
    r["boot"].erase("ranges");
    r["full"] = m.device_memory_size() ? full_json(m) : ordered_json(nullptr);
    return r;
}

namespace {

// lsmem's sizes: "128M", "1.9G", "64T".
std::string lsmem_size(uint64_t b)
{
    static constexpr const char* units[] = {"B", "K", "M", "G", "T", "P"};
    int u = 0;
    double v = double(b);
    while (v >= 1024 && u < 5) {
        v /= 1024;
        ++u;
    }
    std::string n = fmt::format("{:.1f}", v);
    if (n.ends_with(".0")) n.resize(n.size() - 2);  // util-linux drops a zero fraction
    return n + units[u];
}

std::string lsmem_text(const ordered_json& l)
{
    std::string out = fmt::format("  {:<37} {:>6} {:>7} {:>11} {:>4} {}\n", "RANGE", "SIZE", "STATE", "BLOCK", "NODE", "ZONES");
    for (const ordered_json& g : l["ranges"]) {
        const uint64_t a = g["blocks"][0], b = g["blocks"][1];
        std::string zones;
        for (const auto& z : g["zones"]) zones += (zones.empty() ? "" : "/") + z.get<std::string>();
        out += fmt::format("  {:#018x}-{:#018x} {:>6} {:>7} {:>11} {:>4} {}\n", g["start"].get<uint64_t>(),
                           g["end"].get<uint64_t>(), lsmem_size(g["size"]), g["state"].get<std::string>(),
                           a == b ? fmt::format("{}", a) : fmt::format("{}-{}", a, b), g["node"].get<int>(),
                           zones.empty() ? "None" : zones);
    }
    out += fmt::format("  Memory block size:    {:>6}\n  Total online memory:  {:>6}\n  Total offline memory: {:>6}\n",
                       lsmem_size(l["memory_block_size"]), lsmem_size(l["total_online"]), lsmem_size(l["total_offline"]));
    return out;
}

}  // namespace

std::string config_text(const ordered_json& r)
{
    if (!r["qemu_error"].is_null())
        return fmt::format("config: QEMU refuses to start:\n{}\n", r["qemu_error"].get<std::string>());
    const ordered_json& mc = r["machine"];
    std::string out = fmt::format("config: a {} machine ({}) with {} of RAM{}: QEMU starts it\n",
                                  mc["type"].get<std::string>(), mc["accel"].get<std::string>(),
                                  human_bytes(mc["ram_size"]),
                                  mc["nodes"].get<size_t>() > 1 ? fmt::format(" on {} nodes", mc["nodes"].get<size_t>()) : "");
    if (!r["warnings"].get<std::string>().empty()) out += r["warnings"].get<std::string>();
    const ordered_json& bs = r["block_size"];
    out += fmt::format("memory block size: {}: {}\n", human_bytes(bs["size"]), bs["reason"].get<std::string>());
    const ordered_json& l = r["boot_layout"];
    out += fmt::format("boot memory: {}\n  e820:\n", l["reason"].get<std::string>());
    for (const ordered_json& e : l["e820"])
        out += fmt::format("  [mem {:#018x}-{:#018x}] {}\n", e["addr"].get<uint64_t>(),
                           e["addr"].get<uint64_t>() + e["size"].get<uint64_t>() - 1, e["type"].get<std::string>());
    out += fmt::format("  the guest boots with {} online, {} offline (whole blocks, as lsmem counts them)\n", human_bytes(r["boot"]["total_online"]),
                       human_bytes(r["boot"]["total_offline"]));
    if (r["device_memory"].is_null()) {
        out += "device memory: none (no maxmem above -m): nothing can be plugged\n";
        return out;
    }
    const ordered_json& d = r["device_memory"];
    out += fmt::format("device memory: {:#x}, {}: {}\n", d["base"].get<uint64_t>(), human_bytes(d["size"]),
                       d["reason"].get<std::string>());
    const ordered_json& lim = r["limits"];
    out += fmt::format("slots: {} of {} used, {} free; maxmem space: {} of {} used, {} left\n",
                       lim["slots_used"].get<int>(), lim["slots"].get<int>(), lim["slots_free"].get<int>(),
                       human_bytes(lim["maxmem_used"]), human_bytes(lim["maxmem_space"]), human_bytes(lim["maxmem_left"]));
    const ordered_json& a = r["dimm_alignment"];
    out += fmt::format("pc-dimm alignment: QEMU {} ({}); the guest {} ({})\n", human_bytes(a["qemu_align"]),
                       a["qemu_reason"].get<std::string>(), human_bytes(a["guest_align"]), a["guest_reason"].get<std::string>());
    if (!a["next_addr"].is_null())
        out += fmt::format("  the next DIMM goes to {:#x}{}\n", a["next_addr"].get<uint64_t>(),
                           a["next_addr_block_aligned"] ? "" : ": not block-aligned, the guest cannot add it");
    if (!a["misaligned_refusal"].is_null())
        out += fmt::format("  a size that is no block multiple: add_memory fails, {} {}\n",
                           a["misaligned_refusal"]["errno"].get<std::string>(),
                           a["misaligned_refusal"]["reason"].get<std::string>());
    for (const ordered_json& v : r["virtio_mem"])
        out += fmt::format("virtio-mem-pci {}: {} region at {:#x}, block-size {}: {}\n", v["id"].get<std::string>(),
                           human_bytes(v["region_size"]), v["addr"].get<uint64_t>(), human_bytes(v["block_size"]),
                           v["reason"].get<std::string>());
    const ordered_json& f = r["full"];
    out += "at full size (a second machine, every free byte of maxmem plugged):\n";
    for (const ordered_json& s : f["steps"]) {
        out += fmt::format("  ({}) {}", "qemu", s["command"].get<std::string>());
        if (!s["qemu_error"].is_null()) out += fmt::format(": QEMU refuses: \"{}\"", s["qemu_error"].get<std::string>());
        else if (s.contains("plugged_size")) out += fmt::format(": {} plugged", human_bytes(s["plugged_size"]));
        else
            out += fmt::format(": at {:#x}, {}", s["addr"].get<uint64_t>(),
                               s["guest_adds"] ? "the guest adds it" : "the guest does not add it");
        out += "\n";
        if (s.contains("guest_log"))
            for (const ordered_json& said : s["guest_log"]) out += fmt::format("    guest: {}\n", said.get<std::string>());
    }
    if (f["steps"].empty()) out += "  nothing left to plug\n";
    if (uint64_t left = f["maxmem_left"])
        out += fmt::format("  {} of maxmem stays unplugged: less than a memory block, or no free slot\n", human_bytes(left));
    out += lsmem_text(f);
    for (const ordered_json& n : f["memmap"])
        out += fmt::format("  node {}: {} boot + {} device memory, memmap {} (1/64), {} of it for device memory; "
                           "the guest has {}\n",
                           n["node"].get<int>(), human_bytes(n["boot_memory"]), human_bytes(n["device_memory"]),
                           human_bytes(n["memmap"]), human_bytes(n["device_memmap"]), human_bytes(n["guest_has"]));
    out += fmt::format("  kernel memory free at boot for GFP_KERNEL, where device memory's memmap comes from: {}\n",
                       human_bytes(f["kernel_free_at_boot"]));
    return out;
}

}  // namespace memplug::fe::report_detail
