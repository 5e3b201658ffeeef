// The QEMU 7.2 pc/q35 machine: command line, memory layout, e820 as SeaBIOS
// hands it to the guest, and the NUMA description the guest reads from SRAT.
#include "machine/machine.h"

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>

#include "machine/kernel_cmdline.h"

namespace memplug::machine {

using mm::GiB;
using mm::MiB;

namespace {

// Options that take no argument; every other option consumes the next word.
const std::set<std::string> flag_options = {
    "nographic", "enable-kvm", "no-reboot", "no-shutdown", "S", "s", "snapshot", "daemonize", "no-hpet",
    "no-acpi", "no-user-config", "nodefaults", "full-screen", "no-fd-bootchk", "no-quit", "version", "help",
    "only-migratable", "preconfig", "no-graphic", "win2k-hack", "no-frame", "alt-grab", "ctrl-grab", "perfmode"};

constexpr uint64_t AMD_HT_START = 0xfd00000000ULL;
constexpr uint64_t AMD_HT_SIZE = 0x300000000ULL;
constexpr uint64_t AMD_ABOVE_1TB_START = AMD_HT_START + AMD_HT_SIZE;

constexpr int ACPI_MAX_RAM_SLOTS = 256;

// "pci-hole64-size": where the 64-bit PCI window goes, after RAM and device memory.
uint64_t pci_hole64_size(MachineType t) { return t == MachineType::Q35 ? 32 * GiB : 2 * GiB; }
// SeaBIOS keeps its tables at the top of low RAM: one page more on q35.
uint64_t seabios_high_reserve(MachineType t) { return t == MachineType::Q35 ? 0x21000 : 0x20000; }

constexpr uint64_t MAX_CPUS = 288;     // q35's max_cpus; pc allows 255
constexpr uint64_t MAX_NODES = 128;    // MAX_NODES

// "0-3" or "2" or "0-1:4-5" as -numa cpus= takes them.
tl::expected<std::vector<int>, std::string> parse_cpu_list(std::string_view s)
{
    std::vector<int> out;
    size_t pos = 0;
    while (pos <= s.size()) {
        const size_t next = std::min(s.find(':', pos), s.size());
        const std::string_view part = s.substr(pos, next - pos);
        const size_t dash = part.find('-');
        const auto a = parse_uint(part.substr(0, dash), MAX_CPUS - 1);
        const auto b = dash == std::string_view::npos ? a : parse_uint(part.substr(dash + 1), MAX_CPUS - 1);
        if (!a || !b || *b < *a) return tl::unexpected(fmt::format("Invalid CPU range: {}", part));
        for (uint64_t c = *a; c <= *b; ++c) out.push_back(int(c));
        pos = next + 1;
    }
    return out;
}

}  // namespace

tl::expected<std::unique_ptr<Machine>, StartError> Machine::create(const std::vector<std::string>& args)
{
    // Debian's kernel and initramfs need this much before the guest reaches a shell.
    constexpr uint64_t min_guest_ram = 128 * MiB;
    std::unique_ptr<Machine> m(new Machine());
    auto qemu_error = [](const std::string& text) {
        return tl::unexpected(StartError{StartError::Kind::Qemu, "qemu-system-x86_64: " + text});
    };
    if (auto r = m->parse_args(args); !r) return qemu_error(r.error());
    if (m->m_config.ram_size < min_guest_ram)
        return tl::unexpected(StartError{StartError::Kind::Model,
                                         fmt::format("a guest with {} bytes of RAM does not boot Debian's 6.1 kernel; "
                                                     "memplug models guests of 128 MiB and more",
                                                     m->m_config.ram_size)});
    if (auto r = m->lay_out(); !r) return qemu_error(r.error());
    auto kernel = mm::Kernel::boot(m->boot_config());
    if (!kernel)
        return tl::unexpected(StartError{StartError::Kind::Model, "the guest kernel cannot boot: " + kernel.error().reason});
    m->m_kernel = std::make_unique<mm::Kernel>(std::move(*kernel));
    m->m_acpi = std::make_unique<drivers::AcpiMemoryHotplug>(*m->m_kernel);
    m->m_virtio_mem = std::make_unique<drivers::VirtioMemModule>(*m->m_kernel);
    // Cold-plugged devices are in the firmware map's device region; the guest
    // finds DIMMs through the ACPI scan and virtio-mem devices on the PCI bus.
    for (auto& d : m->m_devices) m->plugged(*d);
    return m;
}

tl::expected<void, std::string> Machine::parse_args(const std::vector<std::string>& args)
{
    std::optional<std::string> mem_opt;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string opt = args[i];
        if (opt.size() < 2 || opt[0] != '-') continue;  // a stray word; QEMU would take it as a disk image
        opt.erase(0, opt[1] == '-' ? 2 : 1);
        if (opt == "enable-kvm") m_config.kvm = true;
        if (opt == "S") m_config.stopped = true;
        if (flag_options.count(opt)) continue;
        if (i + 1 >= args.size()) return tl::unexpected(fmt::format("-{}: requires an argument", opt));
        const std::string& arg = args[++i];
        if (opt == "m") {
            mem_opt = arg;
        } else if (opt == "machine" || opt == "M") {
            auto o = OptList::parse(arg, "type");
            if (!o) return tl::unexpected(o.error());
            if (auto accel = o->get("accel")) m_config.kvm = accel->starts_with("kvm");
            if (auto t = o->get("type")) {
                if (*t == "q35" || t->starts_with("pc-q35")) m_config.type = MachineType::Q35;
                else if (*t == "pc" || t->starts_with("pc-i440fx")) m_config.type = MachineType::Pc;
                else if (*t != "help") return tl::unexpected(fmt::format("unsupported machine type: \"{}\"", *t));
            }
        } else if (opt == "smp") {
            auto o = OptList::parse(arg, "cpus");
            if (!o) return tl::unexpected(o.error());
            if (auto c = o->get("cpus")) {
                auto n = parse_uint(*c);
                if (!n || *n < 1) return tl::unexpected(fmt::format("Invalid parameter '{}'", arg));
                if (*n > MAX_CPUS)
                    return tl::unexpected(fmt::format("Invalid SMP CPUs {}. The max CPUs supported by machine '{}' is {}",
                                                      *n, m_config.type == MachineType::Q35 ? "pc-q35-7.2" : "pc-i440fx-7.2",
                                                      MAX_CPUS));
                m_config.smp = int(*n);
            }
        } else if (opt == "numa") {
            auto o = OptList::parse(arg, "type");
            if (!o) return tl::unexpected(o.error());
            if (o->get("type") != "node") continue;  // cpu, dist, hmat-*: not modelled
            NumaNode n;
            n.nodeid = int(m_config.numa.size());
            if (auto id = o->get("nodeid")) {
                const auto v = parse_uint(*id);
                if (!v || *v >= MAX_NODES)
                    return tl::unexpected(fmt::format("Invalid node ID {}, max possible could be {}", *id, MAX_NODES));
                n.nodeid = int(*v);
            }
            if (std::any_of(m_config.numa.begin(), m_config.numa.end(), [&](const NumaNode& x) { return x.nodeid == n.nodeid; }))
                return tl::unexpected(fmt::format("Duplicate NUMA nodeid: {}", n.nodeid));
            if (auto md = o->get("memdev")) n.memdev = *md;
            if (o->has("mem"))
                return tl::unexpected(std::string("-numa node,mem=: parameter -numa node,mem is not supported by this machine "
                                      "type\nUse -numa node,memdev instead"));
            if (auto c = o->get("cpus")) {
                auto cpus = parse_cpu_list(*c);
                if (!cpus) return tl::unexpected(cpus.error());
                n.cpus = std::move(*cpus);
            }
            m_config.numa.push_back(n);
        } else if (opt == "object") {
            auto o = OptList::parse(arg, "qom-type");
            if (!o) return tl::unexpected(o.error());
            if (auto r = object_add(o->to_qdict(), Input::Text); !r)
                return tl::unexpected(fmt::format("-object {}: {}", arg, r.error().desc));
        } else if (opt == "device") {
            m_cold_devices.push_back(arg);
        } else if (opt == "append") {
            m_config.append = arg;
        } else if (opt == "accel") {
            m_config.kvm = arg.starts_with("kvm");
        } else if (opt == "cpu") {
            auto o = OptList::parse(arg, "model");
            if (!o) return tl::unexpected(o.error());
            if (auto bits = o->get("phys-bits")) {
                const auto v = parse_uint(*bits, 64);
                if (!v || *v < 32 || *v > 52)
                    return tl::unexpected(fmt::format("phys-bits should be between 32 and 52 (but is {})", *bits));
                m_config.phys_bits = unsigned(*v);
            } else if (o->get("model") == "host") {
                m_config.phys_bits = 46;
            }
        }
    }
    if (mem_opt) {
        auto o = OptList::parse(*mem_opt, "size");
        if (!o) return tl::unexpected(o.error());
        if (auto s = o->get("size")) {
            auto v = parse_size(*s, 'M');
            if (!v) return tl::unexpected(fmt::format("-m {}: Parameter 'size' expects a size", *mem_opt));
            m_config.ram_size = *v;
        }
        const auto max = o->get("maxmem");
        const auto slots = o->get("slots");
        if (slots) {
            auto n = parse_uint(*slots);
            if (!n) return tl::unexpected(fmt::format("-m {}: Parameter 'slots' expects uint64", *mem_opt));
            m_config.ram_slots = int(std::min<uint64_t>(*n, INT32_MAX));
        }
        if (max) {
            auto v = parse_size(*max, 'B');
            if (!v) return tl::unexpected(fmt::format("-m {}: Parameter 'maxmem' expects a size", *mem_opt));
            if (*v < m_config.ram_size)
                return tl::unexpected(fmt::format("invalid value of maxmem: maximum memory size (0x{:x}) must be at "
                                                  "least the initial memory size (0x{:x})",
                                                  *v, m_config.ram_size));
            if (m_config.ram_slots && *v == m_config.ram_size)
                return tl::unexpected(fmt::format("invalid value of maxmem: memory slots were specified but maximum "
                                                  "memory size (0x{:x}) is equal to the initial memory size (0x{:x})",
                                                  *v, m_config.ram_size));
            m_config.maxram_size = *v;
        } else if (slots) {
            return tl::unexpected(std::string("slots specified but no max-size"));
        }
    }
    if (!m_config.maxram_size) m_config.maxram_size = m_config.ram_size;
    return {};
}

tl::expected<void, std::string> Machine::lay_out()
{
    MachineConfig& c = m_config;
    // NUMA nodes take their memory from their backends, in node order.
    if (!c.numa.empty()) {
        uint64_t total = 0;
        for (NumaNode& n : c.numa) {
            if (n.memdev.empty()) continue;
            auto it = std::find_if(m_backends.begin(), m_backends.end(), [&](const auto& b) { return b.id == n.memdev; });
            if (it == m_backends.end()) return tl::unexpected(fmt::format("memdev={}: Device '{}' not found", n.memdev, n.memdev));
            n.size = it->size;
            it->used_by = "(numa)";
            total += n.size;
        }
        if (total != c.ram_size)
            return tl::unexpected(fmt::format("total memory for NUMA nodes (0x{:x}) should equal RAM size (0x{:x})",
                                              total, c.ram_size));
    }
    // numa_complete_configuration: memory hotplug slots on pc/q35 imply one node.
    if (c.numa.empty() && c.ram_slots > 0) {
        NumaNode n;
        n.size = c.ram_size;
        for (int cpu = 0; cpu < c.smp; ++cpu) n.cpus.push_back(cpu);  // c.smp <= MAX_CPUS
        c.numa.push_back(n);
    }
    // pc_q35_init / pc_init1: how much RAM stays below the 4 GiB hole.
    const uint64_t lowmem = c.type == MachineType::Q35 ? (c.ram_size >= 0xb0000000 ? 0x80000000 : 0xb0000000)
                                                       : (c.ram_size >= 0xe0000000 ? 0xc0000000 : 0xe0000000);
    m_below_4g = std::min(c.ram_size, lowmem);
    m_above_4g = c.ram_size - m_below_4g;

    if (c.maxram_size > c.ram_size) {
        if (c.ram_slots > ACPI_MAX_RAM_SLOTS)
            return tl::unexpected(fmt::format("unsupported amount of memory slots: {}", c.ram_slots));
        if (c.maxram_size % mm::PAGE_SIZE)
            return tl::unexpected(fmt::format("maximum memory size must by aligned to multiple of {} bytes", mm::PAGE_SIZE));
        if (c.maxram_size > (uint64_t{1} << 52))
            return tl::unexpected(fmt::format("unsupported amount of maximum memory: 0x{:x}", c.maxram_size));
    } else if (c.ram_slots) {
        return tl::unexpected(std::string("slots specified but no max-size"));
    }
    auto place_device_memory = [&] {
        if (c.maxram_size <= c.ram_size) return;
        m_device_memory_base = mm::align_up(m_above_4g_start + m_above_4g, GiB);
        m_device_memory_size = (c.maxram_size - c.ram_size) + GiB * uint64_t(c.ram_slots);
    };
    place_device_memory();
    // The AMD HyperTransport hole: TCG's CPU models are AMD, so RAM above 4 GiB
    // moves past 1 TiB when the address space would cross it.
    auto max_used_gpa = [&] { return pci_hole64_start() + pci_hole64_size(c.type) - 1; };
    if (!c.kvm && max_used_gpa() >= AMD_HT_START) {
        m_above_4g_start = AMD_ABOVE_1TB_START;
        place_device_memory();
    }
    const unsigned phys_bits = c.kvm ? c.phys_bits : 40;  // TCG_PHYS_ADDR_BITS
    const uint64_t maxphysaddr = (uint64_t{1} << phys_bits) - 1;
    if (maxphysaddr < max_used_gpa())
        return tl::unexpected(fmt::format("Address space limit 0x{:x} < 0x{:x} phys-bits too low ({})", maxphysaddr,
                                          max_used_gpa(), phys_bits));

    for (const std::string& args : m_cold_devices) {
        auto o = OptList::parse(args, "driver");
        if (!o) return tl::unexpected(o.error());
        if (auto r = device_add(o->to_qdict(), false); !r)
            return tl::unexpected(fmt::format("-device {}: {}", args, r.error().desc));
    }
    return {};
}

mm::BootConfig Machine::boot_config() const
{
    using mm::E820Entry;
    using mm::E820Type;
    mm::BootConfig b;
    // The map as SeaBIOS passes it on: QEMU's RAM entries, the EBDA and BIOS
    // areas, SeaBIOS's own tables at the top of low RAM, and the reserved ranges.
    b.e820.push_back({0, 0x9fc00, E820Type::Ram});
    b.e820.push_back({0x9fc00, 0x400, E820Type::Reserved});
    b.e820.push_back({0xf0000, 0x10000, E820Type::Reserved});
    const bool q35 = m_config.type == MachineType::Q35;
    const uint64_t seabios = seabios_high_reserve(m_config.type);
    b.e820.push_back({0x100000, m_below_4g - seabios - 0x100000, E820Type::Ram});
    b.e820.push_back({m_below_4g - seabios, seabios, E820Type::Reserved});
    if (q35) {
        b.e820.push_back({0xb0000000, 0x10000000, E820Type::Reserved});  // MMCONFIG
        b.e820.push_back({0xfed1c000, 0x4000, E820Type::Reserved});      // ICH9 root complex register block
    }
    b.e820.push_back({0xfffc0000, 0x40000, E820Type::Reserved});
    if (m_above_4g) b.e820.push_back({m_above_4g_start, m_above_4g, E820Type::Ram});
    if (!m_config.kvm) b.e820.push_back({AMD_HT_START, AMD_HT_SIZE, E820Type::Reserved});
    std::sort(b.e820.begin(), b.e820.end(), [](const E820Entry& x, const E820Entry& y) { return x.addr < y.addr; });

    // SRAT: node memory in node order, split around the 4 GiB hole.
    b.nr_cpus = m_config.smp;
    if (!m_config.numa.empty()) {
        int max_node = 0;
        for (const NumaNode& n : m_config.numa) max_node = std::max(max_node, n.nodeid);
        b.nr_node_ids = max_node + 1;
        b.node_cpus.resize(b.nr_node_ids);
        uint64_t base = 0;
        for (const NumaNode& n : m_config.numa) {
            b.node_cpus[n.nodeid] = n.cpus;
            uint64_t len = n.size;
            while (len) {
                uint64_t chunk = len;
                uint64_t start = base;
                if (base < m_below_4g) {
                    chunk = std::min(len, m_below_4g - base);
                } else {
                    start = base - m_below_4g + m_above_4g_start;
                }
                b.numa.push_back({start, start + chunk, n.nodeid});
                base += chunk;
                len -= chunk;
            }
        }
    } else {
        b.node_cpus.assign(1, {});
        for (int cpu = 0; cpu < m_config.smp; ++cpu) b.node_cpus[0].push_back(cpu);
    }
    b.platform_resources = platform_resources();
    const KernelCmdline cmdline = parse_kernel_cmdline(m_config.append);
    b.params = cmdline.params;
    b.command_line = m_config.append;
    b.kernelcore_bytes = cmdline.kernelcore_bytes;
    b.movablecore_bytes = cmdline.movablecore_bytes;
    b.hotplug_region_end = m_device_memory_base + m_device_memory_size;
    return b;
}

// pc_pci_hole64_start: the 64-bit PCI window follows device memory, or RAM.
uint64_t Machine::pci_hole64_start() const
{
    return m_device_memory_size ? mm::align_up(m_device_memory_base + m_device_memory_size, GiB)
                                : mm::align_up(m_above_4g_start + m_above_4g, GiB);
}

// What the guest's /proc/iomem shows besides RAM: the PCI root bus windows
// (from ACPI _CRS), the default devices' BARs and option ROMs as SeaBIOS places
// them for the recorder's -kernel boot, and the chipset's fixed ranges.
std::vector<mm::PlatformResource> Machine::platform_resources() const
{
    const bool q35 = m_config.type == MachineType::Q35;
    const std::string bus = "PCI Bus 0000:00";
    std::vector<mm::PlatformResource> r = {
        {0xa0000, 0xbffff, bus, true},
        {0xc0000, 0xc9bff, "Video ROM", false},
        {0xca000, 0xcadff, "Adapter ROM", false},
        {0xcb000, 0xcb5ff, "Adapter ROM", false},
        {0xf0000, 0xfffff, "System ROM", false},
    };
    // BARs as SeaBIOS lays them out for the default devices (VGA, NIC, AHCI),
    // up to two cold-plugged pcie-root-ports (each with two 2 MiB bridge windows)
    // and a virtio-mem-pci on the root bus.
    const auto first_virtio_mem = std::find_if(m_devices.begin(), m_devices.end(), [](const auto& d) {
        return d->qom_type() == "virtio-mem-pci";
    });
    const bool cold_virtio_mem = first_virtio_mem != m_devices.end() && !(*first_virtio_mem)->hotplugged();
    if (q35) {
        const uint64_t ports = std::min<uint64_t>(m_root_ports.size(), 2);
        if (m_below_4g < 0xb0000000) r.push_back({m_below_4g, 0xafffffff, bus, true});
        r.push_back({0xb0000000, 0xbfffffff, "PCI MMCONFIG 0000 [bus 00-ff]", true});
        r.push_back({0xb0000000, 0xbfffffff, "pnp 00:05", false});
        r.push_back({0xc0000000, 0xfebfffff, bus, true});
        r.push_back({0xfd000000, 0xfdffffff, "0000:00:01.0", false});  // VGA framebuffer
        if (cold_virtio_mem && !ports) {
            r.push_back({0xfe000000, 0xfe003fff, "0000:00:03.0", false});
            r.push_back({0xfe000000, 0xfe003fff, "virtio-pci-modern", false});
        }
        for (uint64_t j = 1; j <= ports; ++j) {
            const std::string port_bus = fmt::format("PCI Bus 0000:{:02x}", j);
            const uint64_t window = 0xfe000000 + (ports - j) * 2 * MiB, pref = 0xfe800000 - (j - 1) * 2 * MiB;
            r.push_back({window, window + 2 * MiB - 1, port_bus, true});
            r.push_back({pref, pref + 2 * MiB - 1, port_bus, true});
        }
        // e1000e and the rest move down by 1 MiB once bridge windows take the top.
        const uint64_t nic = ports ? 0xfea00000 : 0xfeb40000;
        r.push_back({nic, nic + 0x3ffff, "0000:00:02.0", false});
        r.push_back({nic + 0x40000, nic + 0x5ffff, "0000:00:02.0", false});
        r.push_back({nic + 0x60000, nic + 0x7ffff, "0000:00:02.0", false});
        r.push_back({nic + 0x90000, nic + 0x93fff, "0000:00:02.0", false});
        uint64_t page = nic + 0x94000;
        r.push_back({page, page + 0xfff, "0000:00:01.0", false});
        for (uint64_t j = 0; j < ports; ++j) {
            page += 0x1000;
            r.push_back({page, page + 0xfff, fmt::format("0000:00:{:02x}.0", 3 + j), false});  // the ports' own BARs
        }
        page += 0x1000;
        r.push_back({page, page + 0xfff, "0000:00:1f.2", false});  // AHCI
    } else {
        r.push_back({m_below_4g, 0xfebfffff, bus, true});
        r.push_back({0xfd000000, 0xfdffffff, "0000:00:02.0", false});  // VGA framebuffer
        if (cold_virtio_mem) {
            r.push_back({0xfe000000, 0xfe003fff, "0000:00:04.0", false});
            r.push_back({0xfe000000, 0xfe003fff, "virtio-pci-modern", false});
        }
        r.push_back({0xfeb80000, 0xfebbffff, "0000:00:03.0", false});  // e1000
        r.push_back({0xfebc0000, 0xfebdffff, "0000:00:03.0", false});
        r.push_back({0xfebf0000, 0xfebf0fff, "0000:00:02.0", false});
    }
    r.push_back({0xfec00000, 0xfec003ff, "IOAPIC 0", true});
    r.push_back({0xfed00000, 0xfed003ff, "HPET 0", true});
    r.push_back({0xfed00000, 0xfed003ff, "PNP0103:00", false});
    r.push_back({0xfee00000, 0xfee00fff, "Local APIC", true});
    r.push_back({pci_hole64_start(), pci_hole64_start() + pci_hole64_size(m_config.type) - 1, bus, true});
    return r;
}

}  // namespace memplug::machine
