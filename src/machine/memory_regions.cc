// The memory-region tree of a pc or q35 machine as QEMU 7.2 builds it with
// -nodefaults, before the firmware ran (-S): no PCI BAR is mapped and the
// chipset's ACPI I/O block is still disabled. The fixed part is what QEMU 7.2
// shows for these machines (tests/conformance/qemu/monitor-mtree*.out); RAM,
// NUMA memory backends, device memory, memory devices, CPUs and PCI devices
// come from the machine.
#include <algorithm>
#include <array>
#include <span>

#include <fmt/format.h>

#include "machine/machine.h"
#include "machine/memory_regions.h"

namespace memplug::machine {

namespace {

constexpr uint64_t ALL = ~uint64_t{0};  // a region covering the whole 64-bit space ends here

class Builder {
public:
    explicit Builder(MemoryMap& map) : m_map(map) {}

    std::size_t region(std::string name, uint64_t addr, uint64_t last, RegionType type = RegionType::Io,
                       int priority = 0)
    {
        MemoryRegion& r = m_map.regions.emplace_back();
        r.name = std::move(name);
        r.addr = addr;
        r.last = last;
        r.priority = priority;
        r.type = type;
        return m_map.regions.size() - 1;
    }
    // An unmapped region (a root, or a target of aliases only).
    std::size_t root(std::string name, uint64_t last, RegionType type = RegionType::Io, uint64_t addr = 0)
    {
        return region(std::move(name), addr, last, type);
    }
    std::size_t add(std::size_t parent, std::size_t child)
    {
        m_map.regions[parent].subregions.push_back(child);
        return child;
    }
    std::size_t add(std::size_t parent, std::string name, uint64_t addr, uint64_t size, RegionType type = RegionType::Io,
                    int priority = 0)
    {
        return add(parent, region(std::move(name), addr, size ? size - 1 : 0, type, priority));
    }
    std::size_t alias(std::size_t parent, std::string name, uint64_t addr, uint64_t size, std::size_t target,
                      uint64_t offset, int priority = 0)
    {
        const std::size_t r = add(parent, std::move(name), addr, size, RegionType::Io, priority);
        m_map.regions[r].alias = target;
        m_map.regions[r].alias_offset = offset;
        return r;
    }
    void disable(std::size_t r) { m_map.regions[r].enabled = false; }
    void address_space(std::string name, std::size_t root) { m_map.address_spaces.push_back({std::move(name), root}); }
    // A PCI device's bus-master address space: a container of its own.
    void bus_master(const std::string& device) { address_space(device, root("bus master container", ALL)); }

private:
    MemoryMap& m_map;
};

struct IoPort {
    const char* name;
    uint64_t port, size;
    int priority = 0;
};

// The ISA and chipset ports both machines have, below the ACPI memory hotplug block.
constexpr IoPort legacy_ports[] = {
    {"dma-chan", 0x0, 8},     {"dma-cont", 0x8, 8},     {"pic", 0x20, 2},       {"pit", 0x40, 4},
    {"i8042-data", 0x60, 1},  {"pcspk", 0x61, 1},       {"i8042-cmd", 0x64, 1}, {"kvmvapic", 0x7e, 2},
    {"ioport80", 0x80, 1},    {"dma-page", 0x81, 3},    {"dma-page", 0x87, 1},  {"dma-page", 0x89, 3},
    {"dma-page", 0x8f, 1},    {"port92", 0x92, 1},      {"pic", 0xa0, 2},       {"apm-io", 0xb2, 2},
    {"dma-chan", 0xc0, 0x10}, {"dma-cont", 0xd0, 0x10}, {"ioportF0", 0xf0, 1},  {"elcr", 0x4d0, 1},
    {"elcr", 0x4d1, 1},       {"fwcfg", 0x510, 2},      {"fwcfg.dma", 0x514, 8}};
// i440FX/PIIX: the IDE and floppy controllers, the PCI and ACPI hotplug blocks, SMBus.
constexpr IoPort pc_ports[] = {
    {"ide", 0x170, 8},         {"ide", 0x1f0, 8},
    {"ide", 0x376, 1},         {"fdc", 0x3f1, 5},
    {"ide", 0x3f6, 1},         {"fdc", 0x3f7, 1},
    {"pci-conf-idx", 0xcf8, 4}, {"piix3-reset-control", 0xcf9, 1, 1},
    {"pci-conf-data", 0xcfc, 4}, {"vmport", 0x5658, 1},
    {"acpi-pci-hotplug", 0xae00, 0x18}, {"acpi-cpu-hotplug", 0xaf00, 0x20},
    {"acpi-gpe0", 0xafe0, 4},  {"pm-smbus", 0xb100, 0x40}};
// Q35/ICH9: the ACPI hotplug blocks and the PCI configuration ports.
constexpr IoPort q35_ports[] = {
    {"acpi-pci-hotplug", 0xcc0, 0x18}, {"acpi-cpu-hotplug", 0xcd8, 0x20}, {"pci-conf-idx", 0xcf8, 4},
    {"lpc-reset-control", 0xcf9, 1, 1}, {"pci-conf-data", 0xcfc, 4},     {"vmport", 0x5658, 1}};
// The power-management block's registers (PIIX4: the first three; ICH9: all),
// in a container the guest's firmware has not placed yet.
constexpr IoPort pm_ports[] = {{"acpi-evt", 0x0, 4},     {"acpi-cnt", 0x4, 2},     {"acpi-tmr", 0x8, 4},
                               {"acpi-gpe0", 0x20, 0x10}, {"acpi-smi", 0x30, 8}, {"sm-tco", 0x60, 0x20}};

// The chipset's PCI functions.
constexpr std::array<const char*, 4> pc_functions = {"i440FX", "PIIX3", "PIIX4_PM", "piix3-ide"};
constexpr std::array<const char*, 4> q35_functions = {"mch", "ICH9-LPC", "ICH9-SMB", "ich9-ahci"};

}  // namespace

tl::expected<MemoryMap, std::string> Machine::memory_map() const
{
    const MachineConfig& c = m_config;
    // What changes the tree beyond what is built here: default devices, KVM's
    // own regions, the firmware's BARs and ACPI set-up, legacy -numa mem=.
    if (!c.nodefaults) return tl::unexpected(std::string("the machine's default devices (start it with -nodefaults)"));
    if (c.kvm) return tl::unexpected(std::string("KVM's memory regions (start it without -enable-kvm)"));
    if (!c.stopped) return tl::unexpected(std::string("a machine whose firmware ran (start it with -S)"));
    if (m_numa_have_mem) return tl::unexpected(std::string("-numa node,mem= (give the nodes memdev=)"));
    for (const std::string& driver : m_other_drivers)
        if (driver != "pcie-root-port") return tl::unexpected(fmt::format("the regions of {}", driver));

    const bool q35 = c.type == MachineType::Q35;
    MemoryMap map;
    Builder b(map);

    // Guest RAM: pc.ram, or a container of the NUMA nodes' memory backends.
    const bool numa_ram = m_numa_have_memdev;
    const std::size_t ram = b.root("pc.ram", c.ram_size - 1, numa_ram ? RegionType::Io : RegionType::Ram);
    if (numa_ram) {
        // In node-id order, each backend after the previous one.
        std::vector<const NumaNode*> nodes;
        for (const NumaNode& n : c.numa) nodes.push_back(&n);
        std::sort(nodes.begin(), nodes.end(),
                  [](const NumaNode* x, const NumaNode* y) { return x->nodeid < y->nodeid; });
        uint64_t offset = 0;
        for (const NumaNode* node : nodes) {
            const NumaNode& n = *node;
            if (n.memdev.empty()) continue;
            const MemoryBackend* be = find_backend(n.memdev);
            b.add(ram, be->id, offset, be->size, RegionType::Ram);
            offset += be->size;
        }
    }
    const std::size_t bios = b.root("pc.bios", 0x3ffff, RegionType::Rom, 0xfffc0000);
    const std::size_t pci = b.root("pci", ALL);
    map.regions[pci].priority = -1;
    const std::size_t system = b.root("system", ALL);
    const std::size_t io = b.root("io", 0xffff);
    const std::size_t smram = b.root("smram", 0xffffffff);

    // The PCI address space: each root port's (still closed) bridge windows, the option ROM area, the BIOS.
    for (const std::string& driver : m_other_drivers) {
        if (driver != "pcie-root-port") continue;
        const std::size_t bridge = b.root("pci_bridge_pci", ALL);
        const std::size_t bridge_io = b.root("pci_bridge_io", 0xffffffff);
        b.alias(pci, "pci_bridge_mem", 0, 0, bridge, 0, 1);
        b.alias(pci, "pci_bridge_pref_mem", 0, 0, bridge, 0, 1);
        b.alias(io, "pci_bridge_io", 0, 0, bridge_io, 0, 1);
    }
    b.add(pci, "pc.rom", 0xc0000, 0x20000, RegionType::Rom, 1);
    b.alias(pci, "isa-bios", 0xe0000, 0x20000, bios, 0x20000, 1);
    b.add(pci, bios);

    // System memory.
    b.alias(system, "ram-below-4g", 0, m_below_4g, ram, 0);
    b.add(system, pci);
    b.alias(system, "smram-region", 0xa0000, 0x20000, pci, 0xa0000, 1);
    // The PAM windows over the BIOS area: 16 KiB each up to 0xf0000, then 64 KiB, all reading PCI.
    for (uint64_t a = 0xc0000; a < 0x100000; a += a < 0xf0000 ? 0x4000 : 0x10000)
        b.alias(system, "pam-pci", a, a < 0xf0000 ? 0x4000 : 0x10000, pci, a, 1);
    b.add(system, "ioapic", 0xfec00000, 0x1000);
    b.add(system, "hpet", 0xfed00000, 0x400);
    b.add(system, "apic-msi", 0xfee00000, 0x100000, RegionType::Io, 4096);
    if (m_above_4g) b.alias(system, "ram-above-4g", m_above_4g_start, m_above_4g, ram, m_below_4g);
    if (m_device_memory_size) {
        const std::size_t dm = b.add(system, "device-memory", m_device_memory_base, m_device_memory_size);
        // Each memory device maps its whole memory backend.
        for (const auto& d : m_devices)
            b.add(dm, d->memdev(), d->address() - m_device_memory_base, d->region_size(), RegionType::Ram);
    }

    // I/O ports.
    const std::size_t pm = b.add(io, "acpi", 0, q35 ? 0x80 : 0x40);
    b.disable(pm);
    for (const IoPort& p : std::span<const IoPort>(pm_ports).first(q35 ? std::size(pm_ports) : 3))
        b.add(pm, p.name, p.port, p.size);
    for (const IoPort& p : legacy_ports) b.add(io, p.name, p.port, p.size, RegionType::Io, p.priority);
    const std::size_t rtc = b.add(io, "rtc", 0x70, 2);
    b.add(rtc, "rtc-index", 0, 1);
    // The ACPI memory hotplug block exists only with DIMM slots.
    if (c.ram_slots) b.add(io, "acpi-mem-hotplug", 0xa00, 0x18);
    for (const IoPort& p : q35 ? std::span<const IoPort>(q35_ports) : std::span<const IoPort>(pc_ports))
        b.add(io, p.name, p.port, p.size, RegionType::Io, p.priority);

    // SMRAM: q35's is enabled with nothing visible in it; pc's is closed, its low window open onto RAM.
    if (!q35) {
        b.disable(smram);
        b.alias(smram, "smram-low", 0xa0000, 0x20000, ram, 0xa0000);
    }

    // Address spaces: the chipset's PCI functions, each CPU's memory and SMM views, memory, I/O.
    for (const char* dev : q35 ? q35_functions : pc_functions) b.bus_master(dev);
    for (const std::string& driver : m_other_drivers) b.bus_master(driver);
    for (const auto& d : m_devices)
        if (d->qom_type() == "virtio-mem-pci") b.bus_master("virtio-mem-pci");
    for (int cpu = 0; cpu < c.smp; ++cpu) b.address_space(fmt::format("cpu-memory-{}", cpu), system);
    b.address_space("memory", system);
    for (int cpu = 0; cpu < c.smp; ++cpu) {
        const std::size_t smm = b.root("memory", ALL);
        b.alias(smm, "smram", 0, 0x100000000, smram, 0, 1);
        b.alias(smm, "memory", 0, 0, system, 0);
        map.regions.back().last = ALL;  // all 2^64 bytes: a size that does not fit in 64 bits
        b.address_space(fmt::format("cpu-smm-{}", cpu), smm);
    }
    b.address_space("I/O", io);
    return map;
}

}  // namespace memplug::machine
