// Memory backends and pc-dimm: every check in pre_plug, in QEMU's order and
// words, so a refused device_add changes nothing (hw/mem/pc-dimm.c,
// hw/mem/memory-device.c, backends/hostmem*.c).
#include <algorithm>

#include <fmt/format.h>

#include "machine/machine.h"
#include "machine/virtio_mem.h"

namespace memplug::machine {

using mm::GiB;

namespace {

constexpr uint64_t DIMM_ALIGN = 2 * mm::MiB;  // QEMU_VMALLOC_ALIGN: RAM blocks are THP-aligned

bool valid_id(std::string_view id)
{
    if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0]))) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
}

}  // namespace

bool Machine::id_in_use(std::string_view id) const
{
    return std::any_of(m_dimms.begin(), m_dimms.end(), [&](const PcDimm& d) { return d.id == id; }) ||
           std::any_of(m_virtio_mems.begin(), m_virtio_mems.end(), [&](const auto& v) { return v.dev.id == id; }) ||
           std::find(m_other_devices.begin(), m_other_devices.end(), id) != m_other_devices.end();
}

std::vector<Machine::MemoryDeviceRange> Machine::memory_devices() const
{
    std::vector<MemoryDeviceRange> out;
    for (const PcDimm& d : m_dimms) out.push_back({d.addr, d.size, d.id});
    for (const auto& v : m_virtio_mems) out.push_back({v.dev.addr, v.dev.region_size, v.dev.id});
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.addr < b.addr; });
    return out;
}

// memory_device_pre_plug: room, alignment and an address in the device-memory
// region, shared by every kind of memory device.
tl::expected<uint64_t, std::string> Machine::memory_device_pre_plug(uint64_t size, uint64_t align,
                                                                   std::optional<uint64_t> hint) const
{
    if (!m_device_memory_size)
        return tl::unexpected(std::string("memory devices (e.g. for memory hotplug) are not enabled, please specify the "
                                          "maxmem option"));
    uint64_t in_use = 0;
    for (const MemoryDeviceRange& x : memory_devices()) in_use += x.size;
    const uint64_t space = m_config.maxram_size - m_config.ram_size;
    if (in_use > space || size > space - in_use)
        return tl::unexpected(fmt::format("not enough space, currently 0x{:x} in use of total space for memory devices "
                                          "0x{:x}",
                                          in_use, space));
    if (hint == 0) hint.reset();  // 0 asks QEMU to pick
    if (hint && *hint % align) return tl::unexpected(fmt::format("address must be aligned to 0x{:x} bytes", align));
    if (size % align) return tl::unexpected(fmt::format("backend memory size must be multiple of 0x{:x}", align));
    const uint64_t as_start = m_device_memory_base, as_end = m_device_memory_base + m_device_memory_size;
    uint64_t new_addr = as_start;
    if (hint) {
        if (*hint < as_start || *hint > as_end || size > as_end - *hint)
            return tl::unexpected(fmt::format("can't add memory device [0x{:x}:0x{:x}], usable range for memory "
                                              "devices [0x{:x}:0x{:x}]",
                                              *hint, size, as_start, m_device_memory_size));
        new_addr = *hint;
    }
    for (const MemoryDeviceRange& x : memory_devices()) {
        if (x.addr < new_addr + size && new_addr < x.addr + x.size) {
            if (hint)
                return tl::unexpected(fmt::format("address range conflicts with memory device id='{}'",
                                                  x.id.empty() ? "(unnamed)" : x.id));
            new_addr = mm::align_up(x.addr + x.size, align);
        } else if (x.addr > new_addr + size - 1) {
            break;
        }
    }
    if (new_addr + size > as_end)
        return tl::unexpected(std::string("could not find position in guest address space for memory device - memory "
                                          "fragmented due to alignments"));
    return new_addr;
}

tl::expected<void, std::string> Machine::object_add(std::string_view text)
{
    auto o = OptList::parse(text, "qom-type");
    if (!o) return tl::unexpected(o.error());
    const auto type = o->get("qom-type");
    if (!type) return tl::unexpected(std::string("Parameter 'qom-type' is missing"));
    if (*type != "memory-backend-ram" && *type != "memory-backend-file" && *type != "memory-backend-memfd")
        return tl::unexpected(fmt::format("invalid object type: {}", *type));
    const auto id = o->get("id");
    if (!id) return tl::unexpected(std::string("Parameter 'id' is missing"));
    if (!valid_id(*id)) return tl::unexpected(std::string("Parameter 'id' expects an identifier"));
    if (std::any_of(m_backends.begin(), m_backends.end(), [&](const auto& b) { return b.id == *id; }))
        return tl::unexpected(fmt::format("attempt to add duplicate property '{}' to object (type 'container')", *id));
    MemoryBackend b;
    b.id = *id;
    b.qom_type = *type;
    for (const auto& [k, v] : o->items()) {
        if (k == "qom-type" || k == "id") continue;
        if (k == "size") {
            auto s = parse_size(v, 'B');
            if (!s) return tl::unexpected(fmt::format("Parameter 'size' expects a size"));
            b.size = *s;
        } else if (k == "share" || k == "prealloc" || k == "reserve" || k == "merge" || k == "dump") {
            auto flag = parse_qapi_bool(v);
            if (!flag) return tl::unexpected(fmt::format("Parameter '{}' expects 'on' or 'off'", k));
            (k == "share" ? b.share : k == "prealloc" ? b.prealloc : k == "reserve" ? b.reserve
                                                     : k == "merge" ? b.merge : b.dump) = *flag;
        } else if (k == "mem-path") {
            b.mem_path = v;
        } else if (k != "policy" && k != "host-nodes" && k != "align" && k != "discard-data" && k != "pmem" &&
                   k != "readonly" && k != "x-use-canonical-path-for-ramblock-id" && k != "hugetlb" &&
                   k != "hugetlbsize" && k != "seal" && k != "prealloc-threads") {
            return tl::unexpected(fmt::format("Property '{}.{}' not found", *type, k));
        }
    }
    if (*type == "memory-backend-file" && b.mem_path.empty())
        return tl::unexpected(std::string("mem-path property not set"));
    if (!b.size) return tl::unexpected(std::string("can't create backend with size 0"));
    m_backends.push_back(std::move(b));
    return {};
}

tl::expected<PcDimm, std::string> Machine::pc_dimm_pre_plug(const OptList& o, bool hotplugged) const
{
    PcDimm d;
    d.hotplugged = hotplugged;
    if (auto id = o.get("id")) {
        if (!valid_id(*id)) return tl::unexpected(std::string("Parameter 'id' expects an identifier"));
        if (id_in_use(*id)) return tl::unexpected(fmt::format("Duplicate device ID '{}'", *id));
        d.id = *id;
    }
    std::optional<int> slot_hint;
    std::optional<uint64_t> addr_hint;
    const MemoryBackend* backend = nullptr;
    for (const auto& [k, v] : o.items()) {
        if (k == "driver" || k == "id") continue;
        if (k == "memdev") {
            auto it = std::find_if(m_backends.begin(), m_backends.end(), [&](const auto& b) { return b.id == v; });
            if (it == m_backends.end())
                return tl::unexpected(fmt::format("Device '{}' not found", v));
            backend = &*it;
            d.memdev = v;
        } else if (k == "slot") {
            const auto n = parse_uint(v, INT32_MAX);
            if (!n) return tl::unexpected(std::string("Parameter 'slot' expects int32"));
            slot_hint = int(*n);
        } else if (k == "addr") {
            addr_hint = parse_uint(v);
            if (!addr_hint) return tl::unexpected(std::string("Parameter 'addr' expects uint64"));
        } else if (k == "node") {
            const auto n = parse_uint(v, UINT32_MAX);
            if (!n) return tl::unexpected(std::string("Parameter 'node' expects uint32"));
            d.node = int(std::min<uint64_t>(*n, INT32_MAX));
        } else {
            return tl::unexpected(fmt::format("Property 'pc-dimm.{}' not found", k));
        }
    }
    // pc_dimm_get_free_slot
    const int max_slots = m_config.ram_slots;
    if (!max_slots) return tl::unexpected(std::string("no slots where allocated, please specify the 'slots' option"));
    std::vector<bool> used(size_t(max_slots), false);
    for (const PcDimm& x : m_dimms)
        if (x.slot >= 0 && x.slot < max_slots) used[size_t(x.slot)] = true;
    if (slot_hint) {
        if (*slot_hint < 0 || *slot_hint >= max_slots)
            return tl::unexpected(fmt::format("invalid slot number {}, valid range is [0-{}]", *slot_hint, max_slots - 1));
        if (used[size_t(*slot_hint)]) return tl::unexpected(fmt::format("slot {} is busy", *slot_hint));
        d.slot = *slot_hint;
    } else {
        auto it = std::find(used.begin(), used.end(), false);
        if (it == used.end()) return tl::unexpected(std::string("no free slots available"));
        d.slot = int(it - used.begin());
    }
    if (!backend) return tl::unexpected(std::string("'memdev' property must be set"));
    d.size = backend->size;
    auto addr = memory_device_pre_plug(d.size, DIMM_ALIGN, addr_hint);
    if (!addr) return tl::unexpected(addr.error());
    d.addr = *addr;
    // pc_dimm_realize
    if (!backend->used_by.empty()) return tl::unexpected(fmt::format("can't use already busy memdev: {}", backend->id));
    const int nb_numa_nodes = int(m_config.numa.size());
    if ((nb_numa_nodes > 0 && d.node >= nb_numa_nodes) || (!nb_numa_nodes && d.node))
        return tl::unexpected(fmt::format("'DIMM property node has value {}' which exceeds the number of numa nodes: {}",
                                          d.node, nb_numa_nodes ? nb_numa_nodes : 1));
    return d;
}

tl::expected<void, std::string> Machine::device_add(std::string_view text, bool hotplugged)
{
    auto o = OptList::parse(text, "driver");
    if (!o) return tl::unexpected(o.error());
    const auto driver = o->get("driver");
    if (!driver || driver->empty()) return tl::unexpected(std::string("Parameter 'driver' is missing"));
    if (*driver != "pc-dimm") {
        if (auto bus = o->get("bus"); bus && *bus != "pcie.0" && *bus != "pci.0" &&
                                      std::find(m_root_ports.begin(), m_root_ports.end(), *bus) == m_root_ports.end())
            return tl::unexpected(fmt::format("Bus '{}' not found", *bus));
        // q35's root bus cannot take hot-plugged PCI devices; they need a root port.
        if (hotplugged && m_config.type == MachineType::Q35 && (!o->has("bus") || o->get("bus") == "pcie.0"))
            return tl::unexpected(std::string("Bus 'pcie.0' does not support hotplugging"));
        if (auto id = o->get("id"); id && id_in_use(*id)) return tl::unexpected(fmt::format("Duplicate device ID '{}'", *id));
        if (*driver == "virtio-mem-pci") return virtio_mem_add(*o, hotplugged);
        // Other devices are accepted and have no effect on the model.
        if (auto id = o->get("id")) {
            if (*driver == "pcie-root-port") m_root_ports.push_back(*id);
            m_other_devices.push_back(*id);
        }
        return {};
    }
    auto r = pc_dimm_pre_plug(*o, hotplugged);
    if (!r) return tl::unexpected(r.error());
    PcDimm d = std::move(*r);
    auto backend = std::find_if(m_backends.begin(), m_backends.end(), [&](const auto& b) { return b.id == d.memdev; });
    backend->used_by = d.id.empty() ? "(unnamed)" : d.id;
    m_dimms.push_back(std::move(d));
    if (m_kernel) acpi_memory_device_add(m_dimms.back());
    return {};
}

// drivers/acpi/acpi_memhotplug.c: acpi_memory_enable_device. One static group
// and one __add_memory per DIMM; the kernel onlines per auto_online_blocks.
void Machine::acpi_memory_device_add(PcDimm& dimm)
{
    mm::Kernel& k = *m_kernel;
    // The ACPI scan names the device PNP0C80:N with the lowest free instance number.
    for (dimm.acpi_instance = 0;; ++dimm.acpi_instance)
        if (std::none_of(m_dimms.begin(), m_dimms.end(), [&](const PcDimm& d) {
                return &d != &dimm && d.acpi_instance == dimm.acpi_instance;
            }))
            break;
    const int nid = dimm.node < int(k.nodes().size()) ? dimm.node : 0;
    dimm.acpi_group = k.memory_group_register_static(nid, mm::PageCount::from_bytes(dimm.size));
    unsigned flags = mm::MHP_NID_IS_MGID;
    if (k.mhp_supports_memmap_on_memory(dimm.size)) flags |= mm::MHP_MEMMAP_ON_MEMORY;
    if (auto r = k.add_memory(dimm.acpi_group, dimm.addr, dimm.size, flags); !r) {
        // "add_memory failed": the DIMM stays in QEMU, the guest ignores it.
        k.memory_group_unregister(dimm.acpi_group);
        dimm.acpi_group = -1;
        return;
    }
    // The memory hotplug container is the fifth PNP0A06 device on both machines.
    const std::string fwnode =
        fmt::format("../../../LNXSYSTM:00/LNXSYBUS:00/PNP0A06:04/PNP0C80:{:02x}", dimm.acpi_instance);
    for (uint64_t a = dimm.addr; a < dimm.addr + dimm.size; a += k.memory_block_size_bytes())
        k.set_firmware_node(mm::BlockId(a / k.memory_block_size_bytes()), fwnode);
}

// acpi_scan_hot_remove: offline every block (two passes), undo on failure,
// otherwise remove the memory and let QEMU drop the DIMM (_EJ0).
bool Machine::acpi_memory_device_eject(PcDimm& dimm)
{
    mm::Kernel& k = *m_kernel;
    if (dimm.acpi_group < 0) return true;  // the guest never used it
    const uint64_t bs = k.memory_block_size_bytes();
    std::vector<mm::BlockId> blocks;
    for (uint64_t a = dimm.addr; a < dimm.addr + dimm.size; a += bs) blocks.emplace_back(a / bs);
    std::vector<mm::BlockId> offlined_now;
    bool failed = false;
    for (int pass = 0; pass < 2; ++pass) {
        failed = false;
        for (mm::BlockId id : blocks) {
            auto r = k.device_offline(id);
            if (r && *r == 0) offlined_now.push_back(id);
            if (!r) {
                failed = true;
                if (pass == 1) break;
            }
        }
        if (!failed) break;
    }
    if (failed) {
        // acpi_bus_online: what this attempt offlined comes back with the default type.
        for (mm::BlockId id : offlined_now) (void)k.device_online(id);
        return false;
    }
    if (auto r = k.remove_memory(dimm.addr, dimm.size); !r) return false;
    k.memory_group_unregister(dimm.acpi_group);
    return true;
}

// virtio_mem_pci realize and plug: QEMU's checks, then the guest driver binds.
tl::expected<void, std::string> Machine::virtio_mem_add(const OptList& o, bool hotplugged)
{
    VirtioMem v;
    v.hotplugged = hotplugged;
    v.id = o.get("id").value_or("");
    std::optional<uint64_t> memaddr;
    const MemoryBackend* backend = nullptr;
    for (const auto& [k, val] : o.items()) {
        if (k == "driver" || k == "id" || k == "bus" || k == "addr" || k == "slot" || k == "multifunction") continue;
        if (k == "memdev") {
            auto it = std::find_if(m_backends.begin(), m_backends.end(), [&](const auto& b) { return b.id == val; });
            if (it == m_backends.end()) return tl::unexpected(fmt::format("Device '{}' not found", val));
            backend = &*it;
            v.memdev = val;
        } else if (k == "requested-size" || k == "block-size" || k == "memaddr") {
            auto size = parse_size(val, 'B');
            if (!size) return tl::unexpected(fmt::format("Parameter '{}' expects a size", k));
            if (k == "block-size" && (!*size || (*size & (*size - 1))))
                return tl::unexpected(std::string("'block-size' property has to be a power of two"));
            (k == "requested-size" ? v.requested_size : k == "block-size" ? v.block_size : memaddr.emplace()) = *size;
        } else if (k == "node") {
            const auto n = parse_uint(val, UINT32_MAX);
            if (!n) return tl::unexpected(std::string("Parameter 'node' expects uint32"));
            v.node = int(std::min<uint64_t>(*n, INT32_MAX));
        } else {
            return tl::unexpected(fmt::format("Property 'virtio-mem-pci.{}' not found", k));
        }
    }
    if (!backend) return tl::unexpected(std::string("'memdev' property must be set"));
    v.region_size = backend->size;
    auto addr = memory_device_pre_plug(v.region_size, v.block_size, memaddr);
    if (!addr) return tl::unexpected(addr.error());
    v.addr = *addr;
    if (!backend->used_by.empty())
        return tl::unexpected(fmt::format("'memdev' property specifies a busy memdev: {}", backend->id));
    if (v.requested_size % v.block_size)
        return tl::unexpected(fmt::format("'requested-size' property has to be multiples of 'block-size' (0x{:x})",
                                          v.block_size));
    if (v.requested_size > v.region_size)
        return tl::unexpected(fmt::format("'requested-size' cannot exceed the memory backend size(0x{:x})", v.region_size));
    const int nb_numa_nodes = int(m_config.numa.size());
    if ((nb_numa_nodes && v.node >= nb_numa_nodes) || (!nb_numa_nodes && v.node))
        return tl::unexpected(fmt::format("'node' property has value '{}', which exceeds the number of numa nodes: {}",
                                          v.node, nb_numa_nodes ? nb_numa_nodes : 1));
    v.plugged.assign(v.region_size / v.block_size, false);
    m_backends[size_t(backend - m_backends.data())].used_by = v.id.empty() ? "(unnamed)" : v.id;
    m_virtio_mems.push_back(VirtioMemSlot{std::move(v), std::nullopt});
    if (m_kernel) {
        // The device's modern virtio BAR, at the start of its root port's window.
        const auto port = std::find(m_root_ports.begin(), m_root_ports.end(), o.get("bus").value_or(""));
        if (port != m_root_ports.end() && m_config.type == MachineType::Q35) {
            const uint64_t ports = std::min<uint64_t>(m_root_ports.size(), 2), j = uint64_t(port - m_root_ports.begin()) + 1;
            const uint64_t window = 0xfe000000 + (ports - std::min(j, ports)) * 2 * mm::MiB;
            (void)m_kernel->request_mem_region(window, 0x4000, fmt::format("0000:{:02x}:00.0", j));
            (void)m_kernel->request_mem_region(window, 0x4000, "virtio-pci-modern");
        }
        virtio_mem_probe(m_virtio_mems.back());
    }
    return {};
}

void Machine::virtio_mem_probe(VirtioMemSlot& slot)
{
    // virtio device indexes: the lowest free, over the bound drivers.
    int index = 0;
    while (std::any_of(m_virtio_mems.begin(), m_virtio_mems.end(),
                       [&](const VirtioMemSlot& s) { return s.driver && s.index == index; }))
        ++index;
    slot.index = index;
    slot.driver = VirtioMemDriver::probe(*m_kernel, slot.dev, index);
}

// The kernel's online-page callback: virtio-mem's unplugged subblocks stay offline.
std::vector<std::pair<mm::Pfn, mm::PageCount>> Machine::logically_offline(mm::Pfn start, mm::PageCount n) const
{
    std::vector<std::pair<mm::Pfn, mm::PageCount>> out;
    // The device's own bitmap decides, also while the driver is still probing
    // (a cold-plugged device plugs and onlines its first blocks from probe).
    for (const VirtioMemSlot& s : m_virtio_mems) {
        if (start.phys() >= s.dev.addr + s.dev.region_size || (start + n).phys() <= s.dev.addr) continue;
        auto r = VirtioMemDriver::unplugged_ranges(s.dev, start, n);
        out.insert(out.end(), r.begin(), r.end());
    }
    return out;
}

}  // namespace memplug::machine
