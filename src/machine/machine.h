// The QEMU 7.2 platform (pc and q35): guest physical layout, e820, NUMA,
// memory backends, memory devices, and a typed API with QEMU's verbs, errors
// and events that HMP (monitor.h) and QMP (frontends/qmp.h) both use. The
// guest's drivers (src/drivers) are bound to the devices at boot.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "drivers/acpi_memhotplug.h"
#include "drivers/virtio_mem.h"
#include "machine/events.h"
#include "machine/ghash_order.h"
#include "machine/memory_device.h"
#include "machine/memory_regions.h"
#include "machine/qemu_error.h"
#include "machine/qemu_opts.h"
#include "machine/qobject.h"
#include "mm/kernel.h"

namespace memplug::machine {

enum class MachineType { Pc, Q35 };

// -object memory-backend-{ram,file}
struct MemoryBackend {
    std::string id;
    std::string qom_type;
    uint64_t size = 0;
    bool share = false;
    bool prealloc = false;
    bool reserve = true;
    bool merge = true;
    bool dump = true;
    std::string mem_path;
    bool hugetlb = false;  // memory-backend-memfd's hugetlb=on
    std::string used_by;  // device id, or "(numa)" for a NUMA node's memory
};

struct NumaNode {
    int nodeid = 0;
    std::string memdev;
    uint64_t size = 0;
    std::vector<int> cpus;
};

struct MachineConfig {
    MachineType type = MachineType::Pc;
    uint64_t ram_size = 128 * mm::MiB;
    uint64_t maxram_size = 0;
    int ram_slots = 0;
    // KVM with -cpu host: an Intel host with 46 address bits; TCG: AMD, 40 bits.
    bool kvm = false;
    std::string cpu_model;  // -cpu's model; empty: the default (qemu64)
    // -S: the guest's CPUs never start (memplug has no `cont`): devices plug into
    // QEMU, but no guest driver acts on them (no ACPI _OST, no virtio-mem plug).
    bool stopped = false;
    bool nodefaults = false;  // -nodefaults: no default VGA, NIC, disks, serial or parallel ports
    unsigned phys_bits = 40;
    int smp = 1;
    // -smp's topology: possible CPUs (maxcpus) and how they split.
    unsigned max_cpus = 1, sockets = 1, dies = 1, cores = 1, threads = 1;
    std::vector<NumaNode> numa;
    std::string append;
};

// Why a machine did not start: QEMU refused the command line (its stderr text is
// what the user sees), or the model cannot run this guest (memplug's own words).
struct StartError {
    enum class Kind { Qemu, Model };
    Kind kind = Kind::Qemu;
    std::string text;  // without the final newline
};

// query-memory-size-summary.
struct MemorySizeSummary {
    uint64_t base_memory = 0, plugged_memory = 0;
};

// query-memdev: Memdev.
struct MemdevInfo {
    std::string id;
    uint64_t size = 0;
    bool merge = true, dump = true, prealloc = false, share = false;
    bool reserve = true;
};

// HMP's info numa: per node, its CPUs, its memory and what memory devices plugged there.
struct NumaNodeInfo {
    int nodeid = 0;
    std::vector<int> cpus;
    uint64_t size = 0, plugged = 0;
};

// -device pc-dimm,help and HMP's device_add pc-dimm,help: its properties.
std::string pc_dimm_help();

class Machine {
public:
    // Parses a qemu-system-x86_64 command line (without the program name) and
    // boots the guest with its ACPI memory hotplug and virtio-mem drivers.
    static tl::expected<std::unique_ptr<Machine>, StartError> create(const std::vector<std::string>& args);
    Machine(const Machine&) = delete;
    Machine& operator=(const Machine&) = delete;
    // A what-if copy: QEMU's state, the guest kernel's and its drivers', deep, so
    // that whatever is done to the fork leaves this machine as it is. No event
    // sinks: nobody listens to a fork until it subscribes.
    std::unique_ptr<Machine> fork() const;

    // --- QEMU's verbs (qapi/qom.json, qdev.json, machine.json) ---
    // `args` is a JSON object: qom-type, id and the backend's properties.
    QResult<void> object_add(const QObject& args, Input in);
    QResult<void> object_del(std::string_view id);
    // `args`: driver, id, bus and the device's properties, as text (QemuOpts).
    QResult<void> device_add(const QObject& args);
    QResult<void> device_del(std::string_view id);
    QResult<QObject> qom_get(std::string_view path, std::string_view property) const;
    QResult<void> qom_set(std::string_view path, std::string_view property, const QObject& value, Input in);
    QResult<std::vector<ObjectPropertyInfo>> qom_list(std::string_view path) const;
    std::vector<MemoryDeviceInfo> query_memory_devices() const;
    MemorySizeSummary query_memory_size_summary() const;
    std::vector<MemdevInfo> query_memdev() const;
    std::vector<NumaNodeInfo> query_numa() const;
    // HMP's info mtree: the memory-region tree, or what of the machine memplug
    // cannot show in it.
    tl::expected<MemoryMap, std::string> memory_map() const;
    // quit: QEMU exits; the session ends the machine.
    void quit() { m_quit = true; }
    bool quit_requested() const { return m_quit; }
    // warn_report texts of the last command ("warning: ..." lines), then forgotten.
    std::string take_warnings() { return std::exchange(m_warnings, {}); }
    // What the command line printed before the machine started (warnings).
    const std::string& startup_output() const { return m_startup_output; }

    // Events go to every sink, in the order they happen.
    int subscribe(EventSink sink);
    void unsubscribe(int token);

    mm::Kernel& kernel() { return *m_kernel; }
    const mm::Kernel& kernel() const { return *m_kernel; }
    const MachineConfig& config() const { return m_config; }
    // The command line it was created from (without the program name).
    const std::vector<std::string>& args() const { return m_args; }
    uint64_t below_4g_mem_size() const { return m_below_4g; }
    uint64_t above_4g_mem_size() const { return m_above_4g; }
    // 4 GiB, or 1 TiB past the AMD HyperTransport hole (TCG's AMD CPUs, large guests).
    uint64_t above_4g_mem_start() const { return m_above_4g_start; }
    // The e820 map SeaBIOS passes to the guest, by address.
    std::vector<mm::E820Entry> e820_table() const;
    // pc_pci_hole64_start and its size: the 64-bit PCI window after device memory.
    uint64_t pci_hole64_start() const;
    uint64_t pci_hole64_size() const;
    uint64_t device_memory_base() const { return m_device_memory_base; }
    uint64_t device_memory_size() const { return m_device_memory_size; }
    // Memory devices in plug order.
    const std::vector<std::unique_ptr<MemoryDevice>>& memory_devices() const { return m_devices; }
    drivers::VirtioMemParams& virtio_mem_params() { return m_virtio_mem->params(); }
    // The guest's virtio-mem driver, as reports read it.
    const drivers::VirtioMemModule& virtio_mem() const { return *m_virtio_mem; }
    // memory_device_pre_plug: every check, nothing changed; the address QEMU would pick.
    QResult<uint64_t> memory_device_pre_plug(uint64_t size, uint64_t align, std::optional<uint64_t> hint) const;
    // pc_dimm_get_free_slot: the slot a pc-dimm gets (`hint`: the one asked for).
    QResult<int> pc_dimm_free_slot(std::optional<int> hint = std::nullopt) const;
    static constexpr uint64_t k_dimm_align = 2 * mm::MiB;  // QEMU_VMALLOC_ALIGN: RAM blocks are THP-aligned

private:
    friend class PcDimm;
    friend class VirtioMem;
    Machine() = default;
    tl::expected<void, std::string> parse_args(const std::vector<std::string>& args);
    tl::expected<void, std::string> lay_out();
    mm::BootConfig boot_config() const;
    std::vector<mm::PlatformResource> platform_resources() const;

    QResult<void> device_add(const QObject& args, bool hotplugged);
    QResult<MemoryBackend> backend_options(const QObject& args, Input in) const;
    QResult<void> create_backend(MemoryBackend b);
    tl::expected<void, std::string> parse_smp(const QObject& smp);
    tl::expected<void, std::string> parse_numa_node(const OptList& o);
    tl::expected<void, std::string> parse_numa_distance(const OptList& o);
    tl::expected<void, std::string> validate_numa_distance() const;
    tl::expected<void, std::string> complete_numa();
    void warn(std::string text) { m_warnings += "warning: " + text + "\n"; }
    QResult<std::unique_ptr<MemoryDevice>> pc_dimm_pre_plug(const QObject& args, bool hotplugged);
    QResult<std::unique_ptr<MemoryDevice>> virtio_mem_pre_plug(const QObject& args, bool hotplugged);
    bool id_in_use(std::string_view id) const;
    MemoryBackend* backend(std::string_view id);
    const MemoryBackend* find_backend(std::string_view id) const;
    MemoryDevice* find_device(std::string_view id) const;
    std::vector<const MemoryDevice*> devices_by_address() const;
    void plugged(MemoryDevice& dev);
    void emit(const Event& e);
    // The guest ejected a DIMM (_EJ0), or plugged memory of a virtio-mem device changed.
    void acpi_eject(PcDimm& dimm);

    // fork() copies every member below (a new one needs a line there) but the
    // event sinks and the warnings of the last command, which are not state.
    MachineConfig m_config;
    std::vector<std::string> m_args;
    std::vector<MemoryBackend> m_backends;
    std::vector<std::unique_ptr<MemoryDevice>> m_devices;
    std::vector<std::string> m_root_ports;    // pcie-root-port ids, buses for hot-plugged PCI devices
    std::vector<std::string> m_other_devices;
    std::vector<std::string> m_other_drivers;  // the driver of every device but memory devices, in plug order
    std::vector<std::string> m_cold_devices;  // -device arguments, plugged once the layout is known
    uint64_t m_below_4g = 0, m_above_4g = 0, m_above_4g_start = 4 * mm::GiB;
    uint64_t m_device_memory_base = 0, m_device_memory_size = 0;
    std::unique_ptr<mm::Kernel> m_kernel;
    std::unique_ptr<drivers::AcpiMemoryHotplug> m_acpi;
    std::unique_ptr<drivers::VirtioMemModule> m_virtio_mem;
    std::vector<std::pair<int, EventSink>> m_sinks;
    GHashOrder m_objects;         // the children of /objects: backends and pc.ram
    std::vector<int> m_cpu_node;  // per possible CPU, its -numa node (-1: none yet)
    std::map<std::pair<int, int>, unsigned> m_numa_distance;  // -numa dist: (src, dst) -> val
    bool m_numa_have_memdev = false, m_numa_have_mem = false;  // some -numa node has memdev=, mem=
    bool m_quit = false;
    std::string m_warnings, m_startup_output;
    int m_next_sink = 0;
};

}  // namespace memplug::machine
