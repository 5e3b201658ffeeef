// The QEMU 7.2 platform (pc and q35): guest physical layout, e820, NUMA,
// memory backends, memory devices, the monitor, and the guest's ACPI memory
// hotplug driver that connects a DIMM to the kernel model.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "machine/qemu_opts.h"
#include "machine/virtio_mem.h"
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
    std::string used_by;  // device id, or "(numa)" for a NUMA node's memory
};

// -device pc-dimm
struct PcDimm {
    std::string id;
    std::string memdev;
    uint64_t addr = 0;
    int slot = 0;
    int node = 0;
    uint64_t size = 0;
    bool hotplugged = false;
    int acpi_group = -1;     // the guest's static memory group, once added
    int acpi_instance = -1;  // N of the guest's PNP0C80:N device
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
    unsigned phys_bits = 40;
    int smp = 1;
    std::vector<NumaNode> numa;
    std::string append;
};

// Why a machine did not start: QEMU refused the command line (its stderr text is
// what the user sees), or the model cannot run this guest (memplug's own words).
struct StartError {
    enum class Kind { Qemu, Model };
    Kind kind = Kind::Qemu;
    std::string text;
};

class Machine {
public:
    // Parses a qemu-system-x86_64 command line (without the program name) and
    // boots the guest.
    static tl::expected<std::unique_ptr<Machine>, StartError> create(const std::vector<std::string>& args);

    // One HMP command line; returns its output ("Error: ..." included).
    std::string hmp(std::string_view command_line);

    struct VirtioMemSlot {
        VirtioMem dev;
        std::optional<VirtioMemDriver> driver;  // bound in the guest
        int index = -1;                         // N of the guest's virtioN
    };

    mm::Kernel& kernel() { return *m_kernel; }
    const mm::Kernel& kernel() const { return *m_kernel; }
    const MachineConfig& config() const { return m_config; }
    uint64_t below_4g_mem_size() const { return m_below_4g; }
    uint64_t above_4g_mem_size() const { return m_above_4g; }
    uint64_t device_memory_base() const { return m_device_memory_base; }
    uint64_t device_memory_size() const { return m_device_memory_size; }
    const std::vector<PcDimm>& dimms() const { return m_dimms; }
    const std::deque<VirtioMemSlot>& virtio_mems() const { return m_virtio_mems; }

private:
    Machine() = default;
    tl::expected<void, std::string> parse_args(const std::vector<std::string>& args);
    tl::expected<void, std::string> lay_out();
    mm::BootConfig boot_config() const;
    std::vector<mm::PlatformResource> platform_resources() const;
    uint64_t pci_hole64_start() const;

    // Monitor commands; each returns the text HMP prints.
    std::string hmp_object_add(std::string_view args);
    std::string hmp_object_del(std::string_view args);
    std::string hmp_device_add(std::string_view args);
    std::string hmp_device_del(std::string_view args);
    std::string hmp_qom_get(std::string_view args);
    std::string hmp_qom_set(std::string_view args);
    std::string hmp_info(std::string_view args);

    tl::expected<void, std::string> object_add(std::string_view opts);
    tl::expected<void, std::string> device_add(std::string_view opts, bool hotplugged);
    // pc_dimm_pre_plug + memory_device_pre_plug: every check, nothing changed.
    tl::expected<PcDimm, std::string> pc_dimm_pre_plug(const OptList& opts, bool hotplugged) const;
    bool id_in_use(std::string_view id) const;
    struct MemoryDeviceRange {
        uint64_t addr, size;
        std::string id;
    };
    std::vector<MemoryDeviceRange> memory_devices() const;  // sorted by address
    tl::expected<uint64_t, std::string> memory_device_pre_plug(uint64_t size, uint64_t align,
                                                               std::optional<uint64_t> hint) const;
    tl::expected<void, std::string> virtio_mem_add(const OptList& opts, bool hotplugged);
    void virtio_mem_probe(VirtioMemSlot& slot);
    std::vector<std::pair<mm::Pfn, mm::PageCount>> logically_offline(mm::Pfn start, mm::PageCount n) const;

    // The guest's drivers/acpi/acpi_memhotplug.c.
    void acpi_memory_device_add(PcDimm& dimm);
    // acpi_scan_hot_remove: true when the guest ejected the DIMM.
    bool acpi_memory_device_eject(PcDimm& dimm);

    MachineConfig m_config;
    std::vector<MemoryBackend> m_backends;
    std::vector<PcDimm> m_dimms;
    std::deque<VirtioMemSlot> m_virtio_mems;  // stable addresses: the kernel's callback reaches them
    std::vector<std::string> m_root_ports;    // pcie-root-port ids, buses for hot-plugged PCI devices
    std::vector<std::string> m_other_devices;
    std::vector<std::string> m_cold_devices;  // -device arguments, plugged once the layout is known
    uint64_t m_below_4g = 0, m_above_4g = 0, m_above_4g_start = 4 * mm::GiB;
    uint64_t m_device_memory_base = 0, m_device_memory_size = 0;
    std::unique_ptr<mm::Kernel> m_kernel;
};

}  // namespace memplug::machine
