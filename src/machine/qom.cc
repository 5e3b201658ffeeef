// QOM paths and properties (qom-get, qom-set, qom-list) and the queries of
// hw/mem/memory-device.c, hw/core/machine-qmp-cmds.c and backends/hostmem.c.
#include <algorithm>

#include <fmt/format.h>

#include "machine/machine.h"
#include "mm/result.h"

namespace memplug::machine {

namespace {

std::vector<ObjectPropertyInfo> props(std::initializer_list<std::pair<const char*, const char*>> l)
{
    std::vector<ObjectPropertyInfo> out;
    for (auto [n, t] : l) out.push_back({n, t});
    return out;
}

}  // namespace

QResult<QObject> PcDimm::qom_get(std::string_view prop) const
{
    if (prop == "addr") return QObject(m_addr);
    if (prop == "size") return QObject(m_size);
    if (prop == "slot") return QObject(m_slot);
    if (prop == "node") return QObject(m_node);
    if (prop == "memdev") return QObject("/objects/" + memdev());
    return qerr(fmt::format("Property 'pc-dimm.{}' not found", prop));
}

QResult<void> PcDimm::qom_set(std::string_view prop, const QObject&, Input)
{
    if (prop == "addr" || prop == "slot" || prop == "node" || prop == "memdev")
        return qerr(fmt::format("Attempt to set property '{}' on device '{}' (type 'pc-dimm') after it was realized", prop,
                                id()));
    if (prop == "size") return qerr(fmt::format("Property 'pc-dimm.{}' is not writable", prop));
    return qerr(fmt::format("Property 'pc-dimm.{}' not found", prop));
}

std::vector<ObjectPropertyInfo> PcDimm::qom_list() const
{
    return props({{"type", "string"}, {"parent_bus", "link<bus>"}, {"realized", "bool"}, {"hotplugged", "bool"},
                  {"hotpluggable", "bool"}, {"memdev", "link<memory-backend>"}, {"node", "uint32"}, {"addr", "uint64"},
                  {"legacy-memdev", "str"}, {"slot", "int32"}, {"size", "uint64"}});
}

QResult<QObject> VirtioMem::qom_get(std::string_view prop) const
{
    if (prop == "size") return QObject(plugged_size());
    if (prop == "requested-size") return QObject(m_config.requested_size);
    if (prop == "block-size") return QObject(m_config.block_size);
    if (prop == "memaddr") return QObject(m_config.addr);
    if (prop == "node") return QObject(m_config.node);
    if (prop == "memdev") return QObject("/objects/" + memdev());
    return qerr(fmt::format("Property 'virtio-mem-pci.{}' not found", prop));
}

QResult<void> VirtioMem::check_requested_size(uint64_t size) const
{
    if (size % m_config.block_size)
        return qerr(fmt::format("'requested-size' has to be multiples of 'block-size' (0x{:x})", m_config.block_size));
    if (size > m_config.region_size)
        return qerr(fmt::format("'requested-size' cannot exceed the memory backend size(0x{:x})", m_config.region_size));
    return {};
}

QResult<void> VirtioMem::qom_set(std::string_view prop, const QObject& value, Input in)
{
    if (prop == "block-size") return qerr("'block-size' cannot be changed");
    if (prop != "requested-size") {
        // The properties belong to the proxy's child, the virtio-mem device itself, which has no id.
        if (prop == "size") return qerr("Property 'virtio-mem.size' is not writable");
        if (prop == "memaddr" || prop == "node" || prop == "memdev")
            return qerr(fmt::format("Attempt to set property '{}' on anonymous device (type 'virtio-mem') after it was "
                                    "realized",
                                    prop));
        return qerr(fmt::format("Property 'virtio-mem-pci.{}' not found", prop));
    }
    const uint64_t size = MP_TRY(visit_size(value, "requested-size", in));
    MP_TRY(check_requested_size(size));
    m_config.requested_size = size;
    // The config change interrupt: the guest driver plugs or unplugs.
    if (!m_machine.m_config.stopped) m_machine.m_virtio_mem->config_changed(*this);
    return {};
}

std::vector<ObjectPropertyInfo> VirtioMem::qom_list() const
{
    return props({{"type", "string"}, {"parent_bus", "link<bus>"}, {"realized", "bool"}, {"hotplugged", "bool"},
                  {"hotpluggable", "bool"}, {"failover_pair_id", "str"}, {"romfile", "str"}, {"addr", "int32"},
                  {"romsize", "uint32"}, {"x-pcie-lnksta-dllla", "bool"}, {"rombar", "uint32"},
                  {"x-pcie-extcap-init", "bool"}, {"acpi-index", "uint32"}, {"multifunction", "bool"},
                  {"legacy-addr", "str"}, {"migrate-extra", "bool"}, {"ats", "bool"},
                  {"x-ignore-backend-features", "bool"}, {"x-pcie-pm-init", "bool"}, {"aer", "bool"},
                  {"x-pcie-flr-init", "bool"}, {"x-pcie-lnkctl-init", "bool"}, {"x-ats-page-aligned", "bool"},
                  {"page-per-vq", "bool"}, {"x-pcie-deverr-init", "bool"},
                  {"virtio-pci-bus-master-bug-migration", "bool"}, {"modern-pio-notify", "bool"},
                  {"x-disable-pcie", "bool"}, {"disable-legacy", "OnOffAuto"}, {"disable-modern", "bool"},
                  {"memaddr", "uint64"}, {"indirect_desc", "bool"},
                  {"virtio-pci-isr-virtio-mem[0]", "child<memory-region>"},
                  {"virtio-pci-device-virtio-mem[0]", "child<memory-region>"}, {"iommu_platform", "bool"},
                  {"memdev", "link<memory-backend>"}, {"use-disabled-flag", "bool"}, {"event_idx", "bool"},
                  {"node", "uint32"}, {"virtio-pci-notify-pio-virtio-mem[0]", "child<memory-region>"},
                  {"requested-size", "size"}, {"bus master container[0]", "child<memory-region>"},
                  {"x-disable-legacy-check", "bool"}, {"any_layout", "bool"}, {"queue_reset", "bool"},
                  {"notify_on_empty", "bool"}, {"packed", "bool"}, {"block-size", "size"}, {"prealloc", "bool"},
                  {"use-started", "bool"}, {"virtio-pci-notify-virtio-mem[0]", "child<memory-region>"},
                  {"virtio-pci-common-virtio-mem[0]", "child<memory-region>"},
                  {"unplugged-inaccessible", "OnOffAuto"}, {"virtio-pci[0]", "child<memory-region>"},
                  {"virtio-bus", "child<virtio-pci-bus>"}, {"bus master[0]", "child<memory-region>"},
                  {"size", "size"}, {"virtio-backend", "child<virtio-mem>"}});
}

// object_resolve_path: "/machine/peripheral/ID", "/objects/ID", or a partial
// path (an id) that names one object.
namespace {
std::string_view strip(std::string_view path, std::string_view prefix)
{
    return path.starts_with(prefix) ? path.substr(prefix.size()) : path;
}
}  // namespace

QResult<QObject> Machine::qom_get(std::string_view path, std::string_view prop) const
{
    if (!path.starts_with("/objects/"))
        if (const MemoryDevice* d = find_device(strip(path, "/machine/peripheral/"))) return d->qom_get(prop);
    if (!path.starts_with("/machine/")) {
        if (const MemoryBackend* b = find_backend(strip(path, "/objects/"))) {
            if (prop == "size") return QObject(b->size);
            if (prop == "share") return QObject(b->share);
            if (prop == "prealloc") return QObject(b->prealloc);
            if (prop == "reserve") return QObject(b->reserve);
            if (prop == "merge") return QObject(b->merge);
            if (prop == "dump") return QObject(b->dump);
            return qerr(fmt::format("Property '{}.{}' not found", b->qom_type, prop));
        }
    }
    return qerr(fmt::format("Device '{}' not found", path), ErrorClass::DeviceNotFound);
}

QResult<void> Machine::qom_set(std::string_view path, std::string_view prop, const QObject& value, Input in)
{
    if (!path.starts_with("/objects/"))
        if (MemoryDevice* d = find_device(strip(path, "/machine/peripheral/"))) return d->qom_set(prop, value, in);
    if (!path.starts_with("/machine/"))
        if (MemoryBackend* b = backend(strip(path, "/objects/"))) {
            // backends/hostmem.c: merge, dump and prealloc change the mapped memory; the rest is fixed once it is.
            if (prop == "merge" || prop == "dump" || prop == "prealloc") {
                const bool v = MP_TRY(visit_bool(value, prop, in));
                (prop == "merge" ? b->merge : prop == "dump" ? b->dump : b->prealloc) = v;
                return {};
            }
            if (prop == "size") return qerr(fmt::format("cannot change property {} of {} ", prop, b->qom_type));
            if (prop == "share" || prop == "reserve" || prop == "host-nodes" || prop == "policy" ||
                prop == "prealloc-threads" || prop == "x-use-canonical-path-for-ramblock-id")
                return qerr("cannot change property value");
            return qerr(fmt::format("Property '{}.{}' not found", b->qom_type, prop));
        }
    return qerr(fmt::format("Device '{}' not found", path), ErrorClass::DeviceNotFound);
}

QResult<std::vector<ObjectPropertyInfo>> Machine::qom_list(std::string_view path) const
{
    if (path == "/objects" || path == "/objects/") {
        // Its children, last found first (qom-list prepends while it walks the hash table).
        std::vector<ObjectPropertyInfo> l = {{"type", "string"}};
        const auto keys = m_objects.keys();
        for (auto it = keys.rbegin(); it != keys.rend(); ++it)
            if (const MemoryBackend* b = find_backend(*it)) l.push_back({*it, "child<" + b->qom_type + ">"});
        return l;
    }
    if (!path.starts_with("/objects/"))
        if (const MemoryDevice* d = find_device(strip(path, "/machine/peripheral/"))) return d->qom_list();
    if (!path.starts_with("/machine/")) {
        if (const MemoryBackend* b = find_backend(strip(path, "/objects/")); b && b->qom_type == "memory-backend-ram") {
            auto l = props({{"type", "string"}, {"share", "bool"}, {"size", "int"}, {"dump", "bool"},
                            {"prealloc-threads", "int"}, {"x-use-canonical-path-for-ramblock-id", "bool"},
                            {"policy", "HostMemPolicy"}, {"prealloc-context", "link<thread-context>"},
                            {"prealloc", "bool"}, {"reserve", "bool"}, {"host-nodes", "int"}, {"merge", "bool"}});
            l.push_back({b->id + "[0]", "child<memory-region>"});
            return l;
        }
    }
    return qerr(fmt::format("Device '{}' not found", path), ErrorClass::DeviceNotFound);
}

std::vector<MemoryDeviceInfo> Machine::query_memory_devices() const
{
    std::vector<MemoryDeviceInfo> out;
    for (const MemoryDevice* d : devices_by_address()) out.push_back(d->info());
    return out;
}

MemorySizeSummary Machine::query_memory_size_summary() const
{
    MemorySizeSummary s{m_config.ram_size, 0};
    for (const auto& d : m_devices) s.plugged_memory += d->plugged_memory();
    return s;
}

std::vector<MemdevInfo> Machine::query_memdev() const
{
    // /objects' children in reverse hash-table order (query-memdev prepends each one it finds).
    std::vector<MemdevInfo> out;
    const auto keys = m_objects.keys();
    for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
        const MemoryBackend* b = find_backend(*it);
        if (!b) continue;
        out.push_back({b->id, b->size, b->merge, b->dump, b->prealloc, b->share, b->reserve});
    }
    return out;
}

std::string pc_dimm_help()
{
    return "pc-dimm options:\n"
           "  addr=<uint64>          -  (default: 0)\n"
           "  memdev=<link<memory-backend>>\n"
           "  node=<uint32>          -  (default: 0)\n"
           "  size=<uint64>\n"
           "  slot=<int32>           -  (default: -1)\n";
}

std::vector<NumaNodeInfo> Machine::query_numa() const
{
    std::vector<NumaNodeInfo> out;
    for (const NumaNode& n : m_config.numa) {
        NumaNodeInfo i{n.nodeid, n.cpus, n.size, 0};
        // Memory devices count with what they plugged: a DIMM whole, virtio-mem its plugged size.
        for (const auto& d : m_devices)
            if (d->numa_node() == n.nodeid) i.plugged += d->plugged_memory();
        out.push_back(i);
    }
    return out;
}

}  // namespace memplug::machine
