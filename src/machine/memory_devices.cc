// Memory backends and memory devices: every check before anything changes, in
// QEMU's order and words, so a refused command changes nothing
// (backends/hostmem*.c, hw/mem/pc-dimm.c, hw/mem/memory-device.c,
// hw/virtio/virtio-mem.c, qom/object_interfaces.c).
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "machine/machine.h"
#include "mm/result.h"

namespace memplug::machine {

namespace {

// A qdev integer property set from text (the string input visitor): a number
// (a negative one wraps), then its range.
QResult<uint64_t> qdev_uint(std::string_view v, std::string_view name, uint64_t max, std::string_view type)
{
    const bool neg = v.starts_with('-');
    const auto n = parse_uint(neg ? v.substr(1) : v);
    if (!n) return qerr(fmt::format("Parameter '{}' expects integer", name));
    const uint64_t value = neg ? 0 - *n : *n;
    if (value > max) return qerr(fmt::format("Parameter '{}' expects {}", name, type));
    return value;
}

QResult<int64_t> qdev_int(std::string_view v, std::string_view name, int64_t min, int64_t max, std::string_view type)
{
    const bool neg = v.starts_with('-');
    const auto n = parse_uint(neg ? v.substr(1) : v);
    if (!n || *n > uint64_t(INT64_MAX) + (neg ? 1 : 0)) return qerr(fmt::format("Parameter '{}' expects integer", name));
    const int64_t value = neg ? int64_t(0 - *n) : int64_t(*n);
    if (value < min || value > max) return qerr(fmt::format("Parameter '{}' expects {}", name, type));
    return value;
}

// QemuOpts' value as text: the string, or the number as qnum_to_string prints it.
std::string opt_text(const QObject& v)
{
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "on" : "off";
    return to_qemu_json(v);
}

std::optional<std::string> opt(const QObject& args, const char* key)
{
    auto it = args.find(key);
    if (it == args.end() || it->is_object() || it->is_array() || it->is_null()) return std::nullopt;
    return opt_text(*it);
}

}  // namespace

// ------------------------------------------------------------------ backends

MemoryBackend* Machine::backend(std::string_view id)
{
    auto it = std::find_if(m_backends.begin(), m_backends.end(), [&](const auto& b) { return b.id == id; });
    return it == m_backends.end() ? nullptr : &*it;
}

const MemoryBackend* Machine::find_backend(std::string_view id) const
{
    auto it = std::find_if(m_backends.begin(), m_backends.end(), [&](const auto& b) { return b.id == id; });
    return it == m_backends.end() ? nullptr : &*it;
}

// ObjectOptions as QAPI visits it: qom-type, id, then the backend's members in
// the schema's order (so the first bad one is the one QEMU names), then any
// member the type does not have.
QResult<MemoryBackend> Machine::backend_options(const QObject& args, Input in) const
{
    const auto type_it = args.find("qom-type");
    if (type_it == args.end()) return qerr("Parameter 'qom-type' is missing");
    const std::string type = MP_TRY(visit_str(*type_it, "qom-type"));
    if (type != "memory-backend-ram" && type != "memory-backend-file" && type != "memory-backend-memfd")
        return qerr(fmt::format("Parameter 'qom-type' does not accept value '{}'", type));
    const auto id_it = args.find("id");
    if (id_it == args.end()) return qerr("Parameter 'id' is missing");
    MemoryBackend b;
    b.id = MP_TRY(visit_str(*id_it, "id"));
    b.qom_type = type;
    b.share = type == "memory-backend-memfd";  // memfd's memory is shared unless share=off
    std::vector<std::string_view> members = {"dump", "host-nodes", "merge", "policy", "prealloc", "prealloc-threads",
                                             "prealloc-context", "share", "reserve", "size",
                                             "x-use-canonical-path-for-ramblock-id"};
    if (type == "memory-backend-file") members.insert(members.end(), {"align", "discard-data", "mem-path", "pmem", "readonly"});
    if (type == "memory-backend-memfd") members.insert(members.end(), {"hugetlb", "hugetlbsize", "seal"});
    for (std::string_view k : members) {
        const auto it = args.find(std::string(k));
        if (it == args.end()) {
            if (k == "size" || k == "mem-path") return qerr(fmt::format("Parameter '{}' is missing", k));
            continue;
        }
        if (k == "size") {
            b.size = MP_TRY(visit_size(*it, k, in));
        } else if (k == "share" || k == "prealloc" || k == "reserve" || k == "merge" || k == "dump") {
            const bool flag = MP_TRY(visit_bool(*it, k, in));
            (k == "share" ? b.share : k == "prealloc" ? b.prealloc : k == "reserve" ? b.reserve
                                     : k == "merge" ? b.merge : b.dump) = flag;
        } else if (k == "mem-path") {
            b.mem_path = MP_TRY(visit_str(*it, k));
        } else if (k == "hugetlb") {
            b.hugetlb = MP_TRY(visit_bool(*it, k, in));
        }
    }
    for (auto it = args.begin(); it != args.end(); ++it) {
        const std::string& k = it.key();
        if (k == "qom-type" || k == "id" || std::find(members.begin(), members.end(), k) != members.end()) continue;
        if (in == Input::Opts) return qerr(fmt::format("Invalid parameter '{}'", k));
        return qerr(fmt::format("Parameter '{}' is unexpected", k));
    }
    return b;
}

// user_creatable_add_type once the options are valid: the size setter, the
// child of /objects, then the memory itself.
QResult<void> Machine::create_backend(MemoryBackend b)
{
    if (!b.size) return qerr(fmt::format("property 'size' of {} doesn't take value '0'", b.qom_type));
    if (backend(b.id))
        return qerr(fmt::format("attempt to add duplicate property '{}' to object (type 'container')", b.id));
    if (b.qom_type == "memory-backend-file") {
        // file_ram_open: an existing file or directory, or a file QEMU creates in an existing directory.
        std::error_code ec;
        const std::filesystem::path path(b.mem_path);
        if (!std::filesystem::exists(path, ec) &&
            !std::filesystem::is_directory(path.has_parent_path() ? path.parent_path() : ".", ec))
            return qerr(fmt::format("can't open backing store {} for guest RAM: No such file or directory", b.mem_path));
    }
    // The reference host (where tests/conformance/qemu was recorded) reserves no huge pages.
    if (b.hugetlb) return qerr("unable to map backing store for guest RAM: Cannot allocate memory");
    m_objects.insert(b.id);
    m_backends.push_back(std::move(b));
    return {};
}

QResult<void> Machine::object_add(const QObject& args, Input in)
{
    MemoryBackend b = MP_TRY(backend_options(args, in));
    if (!id_wellformed(b.id)) return qerr_bad_id();
    return create_backend(std::move(b));
}

QResult<void> Machine::object_del(std::string_view id)
{
    MemoryBackend* b = backend(id);
    if (!b) return qerr(fmt::format("object '{}' not found", id));
    if (!b->used_by.empty()) return qerr(fmt::format("object '{}' is in use, can not be deleted", id));
    m_objects.remove(b->id);
    m_backends.erase(m_backends.begin() + (b - m_backends.data()));
    return {};
}

// ------------------------------------------------------------------ memory devices

bool Machine::id_in_use(std::string_view id) const
{
    return find_device(id) || std::find(m_other_devices.begin(), m_other_devices.end(), id) != m_other_devices.end();
}

MemoryDevice* Machine::find_device(std::string_view id) const
{
    auto it = std::find_if(m_devices.begin(), m_devices.end(), [&](const auto& d) { return !d->id().empty() && d->id() == id; });
    return it == m_devices.end() ? nullptr : it->get();
}

std::vector<const MemoryDevice*> Machine::devices_by_address() const
{
    std::vector<const MemoryDevice*> out;
    for (const auto& d : m_devices) out.push_back(d.get());
    std::stable_sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->address() < b->address(); });
    return out;
}

// memory_device_pre_plug: room, alignment and an address in the device-memory
// region, shared by every kind of memory device.
QResult<uint64_t> Machine::memory_device_pre_plug(uint64_t size, uint64_t align, std::optional<uint64_t> hint) const
{
    if (!m_device_memory_size)
        return qerr("memory devices (e.g. for memory hotplug) are not enabled, please specify the maxmem option");
    uint64_t in_use = 0;
    for (const auto& x : m_devices) in_use += x->region_size();
    const uint64_t space = m_config.maxram_size - m_config.ram_size;
    if (in_use > space || size > space - in_use)
        return qerr(fmt::format("not enough space, currently 0x{:x} in use of total space for memory devices 0x{:x}",
                                in_use, space));
    if (hint == 0) hint.reset();  // 0 asks QEMU to pick
    if (hint && *hint % align) return qerr(fmt::format("address must be aligned to 0x{:x} bytes", align));
    if (size % align) return qerr(fmt::format("backend memory size must be multiple of 0x{:x}", align));
    const uint64_t as_start = m_device_memory_base, as_end = m_device_memory_base + m_device_memory_size;
    uint64_t new_addr = as_start;
    if (hint) {
        if (*hint < as_start || *hint > as_end || size > as_end - *hint)
            return qerr(fmt::format("can't add memory device [0x{:x}:0x{:x}], usable range for memory devices "
                                    "[0x{:x}:0x{:x}]",
                                    *hint, size, as_start, m_device_memory_size));
        new_addr = *hint;
    }
    for (const MemoryDevice* x : devices_by_address()) {
        if (x->address() < new_addr + size && new_addr < x->address() + x->region_size()) {
            if (hint)
                return qerr(fmt::format("address range conflicts with memory device id='{}'",
                                        x->id().empty() ? "(unnamed)" : x->id()));
            new_addr = mm::align_up(x->address() + x->region_size(), align);
        } else if (x->address() > new_addr + size - 1) {
            break;
        }
    }
    if (new_addr + size > as_end)
        return qerr("could not find position in guest address space for memory device - memory fragmented due to "
                    "alignments");
    return new_addr;
}

QResult<int> Machine::pc_dimm_free_slot(std::optional<int> hint) const
{
    const int max_slots = m_config.ram_slots;
    if (!max_slots) return qerr("no slots where allocated, please specify the 'slots' option");
    std::vector<bool> used(size_t(max_slots), false);
    for (const auto& x : m_devices)
        if (auto* d = dynamic_cast<const PcDimm*>(x.get()); d && d->slot() >= 0 && d->slot() < max_slots)
            used[size_t(d->slot())] = true;
    if (hint == -1) hint.reset();  // -1: the first free one
    if (hint) {
        if (*hint < 0 || *hint >= max_slots)
            return qerr(fmt::format("invalid slot number {}, valid range is [0-{}]", *hint, max_slots - 1));
        if (used[size_t(*hint)]) return qerr(fmt::format("slot {} is busy", *hint));
        return *hint;
    }
    auto it = std::find(used.begin(), used.end(), false);
    if (it == used.end()) return qerr("no free slots available");
    return int(it - used.begin());
}

QResult<std::unique_ptr<MemoryDevice>> Machine::pc_dimm_pre_plug(const QObject& o, bool hotplugged)
{
    const std::string id = opt(o, "id").value_or("");
    std::optional<int> slot_hint;  // -1: the first free one
    std::optional<uint64_t> addr_hint;
    int node = 0;
    const MemoryBackend* be = nullptr;
    for (auto it = o.begin(); it != o.end(); ++it) {
        const std::string& k = it.key();
        if (k == "driver" || k == "id") continue;
        const std::string v = opt_text(*it);
        if (k == "memdev") {
            // An empty link path leaves the link unset.
            be = v.empty() ? nullptr : backend(v);
            if (!be && !v.empty()) return qerr(fmt::format("Device '{}' not found", v), ErrorClass::DeviceNotFound);
        } else if (k == "slot") {
            slot_hint = int(MP_TRY(qdev_int(v, k, INT32_MIN, INT32_MAX, "int32_t")));
        } else if (k == "addr") {
            addr_hint = MP_TRY(qdev_uint(v, k, UINT64_MAX, "uint64_t"));
        } else if (k == "node") {
            node = int(MP_TRY(qdev_uint(v, k, UINT32_MAX, "uint32_t")));
        } else if (k == "size") {
            return qerr("Property 'pc-dimm.size' is not writable");
        } else {
            return qerr(fmt::format("Property 'pc-dimm.{}' not found", k));
        }
    }
    const int slot = MP_TRY(pc_dimm_free_slot(slot_hint));
    if (!be) return qerr("'memdev' property must be set");
    const uint64_t addr = MP_TRY(memory_device_pre_plug(be->size, k_dimm_align, addr_hint));
    // pc_dimm_realize
    if (!be->used_by.empty()) return qerr(fmt::format("can't use already busy memdev: {}", be->id));
    const int nb_numa_nodes = int(m_config.numa.size());
    if ((nb_numa_nodes > 0 && node >= nb_numa_nodes) || (!nb_numa_nodes && node))
        return qerr(fmt::format("'DIMM property node has value {}' which exceeds the number of numa nodes: {}", node,
                                nb_numa_nodes ? nb_numa_nodes : 1));
    return std::make_unique<PcDimm>(*this, id, be->id, hotplugged, addr, be->size, slot, node);
}

// virtio_mem_pci realize and plug: QEMU's checks.
QResult<std::unique_ptr<MemoryDevice>> Machine::virtio_mem_pre_plug(const QObject& o, bool hotplugged)
{
    VirtioMem::Config c;
    std::optional<uint64_t> memaddr;
    const MemoryBackend* be = nullptr;
    for (auto it = o.begin(); it != o.end(); ++it) {
        const std::string& k = it.key();
        if (k == "driver" || k == "id" || k == "bus" || k == "addr" || k == "slot" || k == "multifunction") continue;
        const std::string val = opt_text(*it);
        if (k == "memdev") {
            be = val.empty() ? nullptr : backend(val);
            if (!be && !val.empty()) return qerr(fmt::format("Device '{}' not found", val), ErrorClass::DeviceNotFound);
        } else if (k == "requested-size" || k == "block-size" || k == "memaddr") {
            auto size = parse_size(val, 'B');
            if (!size) return qerr(fmt::format("Parameter '{}' expects size", k));
            if (k == "block-size" && (!*size || (*size & (*size - 1))))
                return qerr("'block-size' property has to be a power of two");
            if (k == "block-size" && *size < mm::MiB) return qerr("'block-size' property has to be at least 0x100000");
            (k == "requested-size" ? c.requested_size : k == "block-size" ? c.block_size : memaddr.emplace()) = *size;
        } else if (k == "node") {
            c.node = int(std::min<uint64_t>(MP_TRY(qdev_uint(val, k, UINT32_MAX, "uint32_t")), INT32_MAX));
        } else if (k == "size") {
            return qerr("Property 'virtio-mem.size' is not writable");
        } else {
            return qerr(fmt::format("Property 'virtio-mem-pci.{}' not found", k));
        }
    }
    if (!be) return qerr("'memdev' property must be set");
    c.region_size = be->size;
    c.addr = MP_TRY(memory_device_pre_plug(c.region_size, c.block_size, memaddr));
    if (!be->used_by.empty()) return qerr(fmt::format("'memdev' property specifies a busy memdev: {}", be->id));
    if (c.block_size < 2 * mm::MiB) warn("'block-size' property is smaller than the default block size (2 MiB)");
    // realize checks requested-size against the block size only; qom-set also against the region.
    if (c.requested_size % c.block_size)
        return qerr(fmt::format("'requested-size' property has to be multiples of 'block-size' (0x{:x})", c.block_size));
    const int nb_numa_nodes = int(m_config.numa.size());
    if ((nb_numa_nodes && c.node >= nb_numa_nodes) || (!nb_numa_nodes && c.node))
        // QEMU 7.2's words, the missing space included.
        return qerr(fmt::format("'node' property has value '{}', which exceedsthe number of numa nodes: {}", c.node,
                                nb_numa_nodes ? nb_numa_nodes : 1));
    return std::make_unique<VirtioMem>(*this, opt(o, "id").value_or(""), be->id, hotplugged, c);
}

QResult<void> Machine::device_add(const QObject& args) { return device_add(args, true); }

QResult<void> Machine::device_add(const QObject& o, bool hotplugged)
{
    const auto driver = opt(o, "driver");
    if (!driver || driver->empty()) return qerr("Parameter 'driver' is missing");
    // QemuOpts takes the id only when it is a string, and checks it first.
    if (auto it = o.find("id"); it != o.end() && it->is_string() && !id_wellformed(it->get_ref<const std::string&>()))
        return qerr("Parameter 'id' expects an identifier");
    const auto id = o.contains("id") && o["id"].is_string() ? std::optional(o["id"].get<std::string>()) : std::nullopt;
    QObject args = o;
    if (!id) args.erase("id");
    const bool memory_device = *driver == "pc-dimm" || *driver == "virtio-mem-pci";
    if (!memory_device && *driver != "pcie-root-port" && *driver != "virtio-net-pci" && *driver != "e1000" &&
        *driver != "e1000e" && *driver != "virtio-blk-pci" && *driver != "virtio-scsi-pci")
        return qerr(fmt::format("'{}' is not a valid device model name", *driver));
    if (*driver != "pc-dimm") {
        // The root bus: pc's PCI bus pci.0, q35's PCI Express bus pcie.0.
        const std::string root = m_config.type == MachineType::Q35 ? "pcie.0" : "pci.0";
        if (auto bus = opt(args, "bus"); bus && *bus != root &&
                                         std::find(m_root_ports.begin(), m_root_ports.end(), *bus) == m_root_ports.end())
            return qerr(fmt::format("Bus '{}' not found", *bus));
        // q35's root bus cannot take hot-plugged PCI devices; they need a root port.
        if (hotplugged && m_config.type == MachineType::Q35 && opt(args, "bus").value_or("pcie.0") == "pcie.0")
            return qerr("Bus 'pcie.0' does not support hotplugging");
    }
    if (id && id_in_use(*id)) return qerr(fmt::format("Duplicate device ID '{}'", *id));
    if (!memory_device) {
        // Other devices are accepted and have no effect on the model but for info mtree.
        m_other_drivers.push_back(*driver);
        if (id) {
            if (*driver == "pcie-root-port") m_root_ports.push_back(*id);
            m_other_devices.push_back(*id);
        }
        return {};
    }
    auto dev = MP_TRY(*driver == "pc-dimm" ? pc_dimm_pre_plug(args, hotplugged) : virtio_mem_pre_plug(args, hotplugged));
    backend(dev->memdev())->used_by = dev->id().empty() ? "(unnamed)" : dev->id();
    m_devices.push_back(std::move(dev));
    if (m_kernel) {
        if (m_config.type == MachineType::Q35 && *driver == "virtio-mem-pci") {
            // The device's modern virtio BAR, at the start of its root port's window.
            const auto port = std::find(m_root_ports.begin(), m_root_ports.end(), opt(args, "bus").value_or(""));
            if (port != m_root_ports.end()) {
                const uint64_t ports = std::min<uint64_t>(m_root_ports.size(), 2), j = uint64_t(port - m_root_ports.begin()) + 1;
                const uint64_t window = 0xfe000000 + (ports - std::min(j, ports)) * 2 * mm::MiB;
                const std::string pci_dev = fmt::format("0000:{:02x}:00.0", j);
                (void)m_kernel->request_mem_region(window, 0x4000, pci_dev);
                (void)m_kernel->request_mem_region(window, 0x4000, "virtio-pci-modern");
                // pciehp's enumeration of the new slot, then virtio-pci's probe.
                mm::KernelLog& log = m_kernel->log();
                log.pr_info(fmt::format("pci {}: [1af4:1058] type 00 class 0x00ff00", pci_dev));
                log.pr_info(fmt::format("pci {}: BAR 4 [mem 0x00000000-0x00003fff 64bit pref]", pci_dev));
                log.pr_info(fmt::format("pci {}: BAR 4 [mem {:#010x}-{:#010x} 64bit pref]: assigned", pci_dev, window,
                                        window + 0x3fff));
                log.pr_info(fmt::format("virtio-pci {}: enabling device (0000 -> 0002)", pci_dev));
            }
        }
        plugged(*m_devices.back());
    }
    return {};
}

// The guest learns about a device: the ACPI scan or a DEVICE_CHECK for a DIMM,
// a PCI probe for virtio-mem.
void Machine::plugged(MemoryDevice& dev)
{
    if (m_config.stopped) return;
    if (auto* d = dynamic_cast<PcDimm*>(&dev)) m_acpi->device_check(*d, d->hotplugged());
    if (auto* v = dynamic_cast<VirtioMem*>(&dev)) m_virtio_mem->probe(*v);
}

QResult<void> Machine::device_del(std::string_view id)
{
    MemoryDevice* d = find_device(id);
    if (!d) {
        if (std::find(m_other_devices.begin(), m_other_devices.end(), id) != m_other_devices.end()) return {};
        return qerr(fmt::format("Device '{}' not found", id), ErrorClass::DeviceNotFound);
    }
    return d->unplug_request();
}

void Machine::acpi_eject(PcDimm& dimm)
{
    const std::string slot = std::to_string(dimm.slot());
    const std::optional<std::string> id = dimm.id().empty() ? std::nullopt : std::optional(dimm.id());
    const std::string path = "/machine/peripheral" + (id ? "/" + *id : std::string("-anon/device"));
    if (MemoryBackend* b = backend(dimm.memdev())) b->used_by.clear();
    auto it = std::find_if(m_devices.begin(), m_devices.end(), [&](const auto& d) { return d.get() == &dimm; });
    m_devices.erase(it);  // `dimm` is gone from here on
    emit(DeviceDeleted{id, path});
    // The guest's final _OST finds the slot empty.
    emit(AcpiDeviceOst{std::nullopt, slot, "DIMM", drivers::ACPI_NOTIFY_EJECT_REQUEST, drivers::ACPI_OST_SC_SUCCESS});
}

// ------------------------------------------------------------------ events

int Machine::subscribe(EventSink sink)
{
    m_sinks.emplace_back(m_next_sink, std::move(sink));
    return m_next_sink++;
}

void Machine::unsubscribe(int token)
{
    std::erase_if(m_sinks, [&](const auto& s) { return s.first == token; });
}

void Machine::emit(const Event& e)
{
    for (const auto& [token, sink] : m_sinks) sink(e);
}

// ------------------------------------------------------------------ the devices

MemoryDeviceInfo PcDimm::info() const
{
    return PcDimmDeviceInfo{id(), "/objects/" + memdev(), m_addr, m_size, m_slot, m_node, hotplugged(), true};
}

QResult<void> PcDimm::unplug_request()
{
    // QEMU only asks the guest (an ACPI eject request) and returns at once.
    if (!m_machine.m_config.stopped) m_machine.m_acpi->eject_request(*this);
    return {};
}

void PcDimm::ost(uint32_t source_event, uint32_t status)
{
    m_machine.emit(AcpiDeviceOst{id().empty() ? std::nullopt : std::optional(id()), std::to_string(m_slot), "DIMM",
                                 source_event, status});
}

void PcDimm::eject() { m_machine.acpi_eject(*this); }

MemoryDeviceInfo VirtioMem::info() const
{
    return VirtioMemDeviceInfo{id(), "/objects/" + memdev(), m_config.addr, m_config.requested_size, plugged_size(),
                               m_config.region_size, m_config.block_size, m_config.node};
}

QResult<void> VirtioMem::unplug_request() { return qerr("virtio based memory devices cannot be unplugged."); }

uint64_t VirtioMem::usable_region_size() const
{
    // QEMU grows it with requests (requested + 256 MiB, block-aligned), never past the region.
    if (!m_config.requested_size) return 0;
    return std::min(m_config.region_size, mm::align_up(m_config.requested_size + 256 * mm::MiB, m_config.block_size));
}

bool VirtioMem::plug_request(uint64_t start, uint64_t size, bool plug)
{
    // virtio_mem_valid_range + virtio_mem_test_bitmap: aligned, inside, all in the other state.
    const uint64_t base = m_config.addr, bs = m_config.block_size;
    if (start < base || start % bs || size % bs || !size) return false;
    if (start + size > base + (plug ? usable_region_size() : m_config.region_size)) return false;
    const uint64_t first = (start - base) / bs, n = size / bs;
    for (uint64_t i = first; i < first + n; ++i)
        if (m_plugged[i] == plug) return false;
    std::fill(m_plugged.begin() + long(first), m_plugged.begin() + long(first + n), plug);
    m_nr_plugged = plug ? m_nr_plugged + n : m_nr_plugged - n;
    // Each acknowledged request changes the plugged size.
    m_machine.emit(MemoryDeviceSizeChange{id().empty() ? std::nullopt : std::optional(id()), plugged_size(),
                                          id().empty() ? "/machine/peripheral-anon/device" : "/machine/peripheral/" + id()});
    return true;
}

void VirtioMem::unplug_all()
{
    std::fill(m_plugged.begin(), m_plugged.end(), false);
    m_nr_plugged = 0;
}

}  // namespace memplug::machine
