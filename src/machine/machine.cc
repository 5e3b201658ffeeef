// The QEMU 7.2 pc/q35 machine: command line, memory layout, e820 as SeaBIOS
// hands it to the guest, and the NUMA description the guest reads from SRAT.
#include "machine/machine.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <map>
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
uint64_t default_pci_hole64_size(MachineType t) { return t == MachineType::Q35 ? 32 * GiB : 2 * GiB; }
// SeaBIOS keeps its tables at the top of low RAM: one page more on q35.
uint64_t seabios_high_reserve(MachineType t) { return t == MachineType::Q35 ? 0x21000 : 0x20000; }

constexpr uint64_t MAX_CPUS = 288;     // q35's max_cpus; pc allows 255
constexpr uint64_t MAX_NODES = 128;    // MAX_NODES

}  // namespace

tl::expected<std::unique_ptr<Machine>, StartError> Machine::create(const std::vector<std::string>& args)
{
    // Debian's kernel and initramfs need this much before the guest reaches a shell.
    constexpr uint64_t min_guest_ram = 128 * MiB;
    std::unique_ptr<Machine> m(new Machine());
    m->m_args = args;
    // parse_args and lay_out return the text QEMU prints when it refuses to start.
    auto qemu_error = [&](const std::string& text) {
        std::string all = m->m_startup_output + text;
        if (all.ends_with('\n')) all.pop_back();  // StartError's text has no final newline
        return tl::unexpected(StartError{StartError::Kind::Qemu, std::move(all)});
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

std::unique_ptr<Machine> Machine::fork() const
{
    std::unique_ptr<Machine> f(new Machine());
    f->m_config = m_config;
    f->m_backends = m_backends;
    for (const auto& d : m_devices) f->m_devices.push_back(d->clone(*f));
    f->m_root_ports = m_root_ports;
    f->m_other_devices = m_other_devices;
    f->m_other_drivers = m_other_drivers;
    f->m_cold_devices = m_cold_devices;
    f->m_below_4g = m_below_4g;
    f->m_above_4g = m_above_4g;
    f->m_above_4g_start = m_above_4g_start;
    f->m_device_memory_base = m_device_memory_base;
    f->m_device_memory_size = m_device_memory_size;
    f->m_kernel = std::make_unique<mm::Kernel>(m_kernel->fork());
    // The drivers know devices by address: the copy of the i-th device is the fork's i-th.
    auto copy_index = [this](const MemoryDevice* d) {
        for (size_t i = 0; i < m_devices.size(); ++i)
            if (m_devices[i].get() == d) return i;
        return m_devices.size();
    };
    f->m_acpi = m_acpi->fork(*f->m_kernel, [&](const drivers::AcpiMemoryDevice& d) -> drivers::AcpiMemoryDevice* {
        const size_t i = copy_index(dynamic_cast<const PcDimm*>(&d));
        return i < m_devices.size() ? static_cast<PcDimm*>(f->m_devices[i].get()) : nullptr;
    });
    f->m_virtio_mem = m_virtio_mem->fork(*f->m_kernel, [&](const drivers::VirtioMemDevice& d) -> drivers::VirtioMemDevice& {
        // A bound driver's device is always one of the machine's.
        return *static_cast<VirtioMem*>(f->m_devices.at(copy_index(dynamic_cast<const VirtioMem*>(&d))).get());
    });
    f->m_objects = m_objects;
    f->m_cpu_node = m_cpu_node;
    f->m_numa_distance = m_numa_distance;
    f->m_numa_have_memdev = m_numa_have_memdev;
    f->m_numa_have_mem = m_numa_have_mem;
    f->m_quit = m_quit;
    f->m_startup_output = m_startup_output;
    f->m_args = m_args;
    return f;
}

namespace {

const char* const qemu = "qemu-system-x86_64: ";
const char* const size_hint =
    "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.\n";

std::string refuse(std::string_view where, const QemuError& e) { return fmt::format("{}{}{}\n{}", qemu, where, e.desc, e.hint); }
std::string refuse(std::string_view where, std::string_view desc) { return fmt::format("{}{}{}\n", qemu, where, desc); }

// qemu_strtoi64 with base 0, as the keyval visitor reads an 'int'.
std::optional<int64_t> parse_int(std::string_view t)
{
    const bool neg = t.starts_with('-');
    if (neg) t.remove_prefix(1);
    const auto v = parse_uint(t);
    if (!v || *v > uint64_t(INT64_MAX) + (neg ? 1 : 0)) return std::nullopt;
    return neg ? int64_t(0 - *v) : int64_t(*v);
}

// The opts visitor's integer lists: "3" or "0-3".
std::optional<std::vector<uint64_t>> parse_range(std::string_view t)
{
    const auto dash = t.find('-');
    const auto a = parse_uint(t.substr(0, dash));
    const auto b = dash == std::string_view::npos ? a : parse_uint(t.substr(dash + 1));
    if (!a || !b || *b < *a || *b - *a >= 65536) return std::nullopt;
    std::vector<uint64_t> out;
    for (uint64_t v = *a; v <= *b; ++v) out.push_back(v);
    return out;
}

// Properties of the pc and q35 machines besides their type; others are refused.
const std::set<std::string> machine_properties = {
    "type", "accel", "kernel-irqchip", "kernel_irqchip", "smm", "nvdimm", "hmat", "vmport", "pit", "hpet", "sata",
    "usb", "graphics", "dump-guest-core", "mem-merge", "memory-backend", "max-ram-below-4g", "acpi", "sgx-epc",
    "confidential-guest-support", "suppress-vmdesc", "smbus", "i8042", "default-bus-bypass-iommu", "x-oem-id",
    "x-oem-table-id", "bus-lock-ratelimit", "firmware", "memory-encryption", "dt-compatible", "phandle-start",
    "dumpdtb", "dtb", "append", "kernel", "initrd", "boot", "smp", "memory", "pflash0", "pflash1"};

}  // namespace

// qemu_init's order: every option parsed as it comes (QemuOpts and keyval
// syntax, -object's and -device's ids), then the machine type, -m, the
// machine's properties and -smp, the memory backends, and -numa.
tl::expected<void, std::string> Machine::parse_args(const std::vector<std::string>& args)
{
    std::vector<std::pair<std::string, std::string>> mem_items;
    QObject smp = QObject::object();
    std::optional<std::string> machine_type;
    std::vector<std::string> machine_props;
    std::vector<std::pair<std::string, OptList>> numa_opts;
    std::vector<MemoryBackend> objects;
    std::set<std::string> object_ids, device_ids;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string opt = args[i];
        if (opt.size() < 2 || opt[0] != '-') continue;  // a stray word; QEMU would take it as a disk image
        opt.erase(0, opt[1] == '-' ? 2 : 1);
        if (opt == "enable-kvm") m_config.kvm = true;
        if (opt == "S") m_config.stopped = true;
        if (opt == "nodefaults") m_config.nodefaults = true;
        if (flag_options.count(opt)) continue;
        if (i + 1 >= args.size()) return tl::unexpected(refuse("", fmt::format("-{}: requires an argument", opt)));
        const std::string& arg = args[++i];
        const std::string at = fmt::format("-{} {}: ", opt, arg);
        if (opt == "m") {
            auto o = OptList::parse(arg, "size");
            if (!o) return tl::unexpected(refuse(at, o.error()));
            for (const auto& [k, v] : o->items()) {
                if (k != "size" && k != "slots" && k != "maxmem")
                    return tl::unexpected(refuse(at, fmt::format("Invalid parameter '{}'", k)));
                if (k == "slots" ? !parse_uint(v) : !parse_size(v, 'B'))
                    return tl::unexpected(k == "slots" ? refuse(at, "Parameter 'slots' expects a number")
                                                       : refuse(at, QemuError{ErrorClass::GenericError,
                                                                              fmt::format("Parameter '{}' expects a non-negative number below 2^64", k),
                                                                              size_hint}));
                mem_items.emplace_back(k, v);
            }
        } else if (opt == "machine" || opt == "M") {
            auto o = OptList::parse(arg, "type");
            if (!o) return tl::unexpected(refuse(at, o.error()));
            for (const auto& [k, v] : o->items()) {
                if (k == "type") machine_type = v;
                else if (k == "accel") m_config.kvm = v.starts_with("kvm");
                else if (!machine_properties.count(k)) machine_props.push_back(k);
            }
        } else if (opt == "smp") {
            if (arg.empty()) continue;
            auto o = OptList::parse(arg, "cpus");
            if (!o) return tl::unexpected(refuse(at, o.error()));
            for (const auto& [k, v] : o->items()) {
                if (k.empty()) return tl::unexpected(refuse(at, "Invalid parameter ''"));
                smp[k] = v;  // keyval: the last value of a key wins
            }
        } else if (opt == "numa") {
            auto o = OptList::parse(arg, "type");
            if (!o) return tl::unexpected(refuse(at, o.error()));
            numa_opts.emplace_back(at, std::move(*o));
        } else if (opt == "object") {
            auto o = OptList::parse(arg, "qom-type");
            if (!o) return tl::unexpected(refuse(at, o.error()));
            if (auto id = o->get("id")) {
                if (!id_wellformed(*id)) return tl::unexpected(refuse(at, qerr_bad_id().value()));
                if (!object_ids.insert(*id).second)
                    return tl::unexpected(refuse(at, fmt::format("Duplicate ID '{}' for object", *id)));
            }
            auto b = backend_options(o->to_qdict(), Input::Opts);
            if (!b) return tl::unexpected(refuse(at, b.error()));
            objects.push_back(std::move(*b));
        } else if (opt == "device") {
            auto o = OptList::parse(arg, "driver");
            if (!o) return tl::unexpected(refuse(at, o.error()));
            if (o->has("help") || o->get("driver") == "help") {
                if (o->get("driver") == "pc-dimm") return tl::unexpected(pc_dimm_help());
                return tl::unexpected(refuse(at, "memplug: only pc-dimm's property list is modelled"));
            }
            if (auto id = o->get("id")) {
                if (!id_wellformed(*id)) return tl::unexpected(refuse(at, qerr_bad_id().value()));
                if (!device_ids.insert(*id).second)
                    return tl::unexpected(refuse(at, fmt::format("Duplicate ID '{}' for device", *id)));
            }
            m_cold_devices.push_back(arg);
        } else if (opt == "append") {
            m_config.append = arg;
        } else if (opt == "accel") {
            m_config.kvm = arg.starts_with("kvm");
        } else if (opt == "cpu") {
            auto o = OptList::parse(arg, "model");
            if (!o) return tl::unexpected(refuse(at, o.error()));
            m_config.cpu_model = o->get("model").value_or("");
            if (auto bits = o->get("phys-bits")) {
                const auto v = parse_uint(*bits, 64);
                if (!v || *v < 32 || *v > 52)
                    return tl::unexpected(refuse("", fmt::format("phys-bits should be between 32 and 52 (but is {})", *bits)));
                m_config.phys_bits = unsigned(*v);
            } else if (o->get("model") == "host") {
                m_config.phys_bits = 46;
            }
        }
    }
    // select_machine
    if (machine_type) {
        const std::string& t = *machine_type;
        if (t == "q35" || t.starts_with("pc-q35")) m_config.type = MachineType::Q35;
        else if (t == "pc" || t.starts_with("pc-i440fx")) m_config.type = MachineType::Pc;
        else if (t != "help")
            return tl::unexpected(refuse("", "unsupported machine type\nUse -machine help to list supported machines"));
    }
    // set_memory_options: a size without a suffix is in MiB; 0 is the default.
    std::optional<std::string> size, slots, maxmem;
    for (const auto& [k, v] : mem_items) (k == "size" ? size : k == "slots" ? slots : maxmem) = v;
    if (size) {
        if (size->empty()) return tl::unexpected(refuse("", "missing 'size' option value"));
        uint64_t sz = *parse_size(*size, 'B');
        if (std::isdigit(static_cast<unsigned char>(size->back()))) {
            if (sz > UINT64_MAX / MiB) return tl::unexpected(refuse("", "too large 'size' option value"));
            sz *= MiB;
        }
        m_config.ram_size = sz ? mm::align_up(sz, 8192) : 128 * MiB;
    }
    if (maxmem) {
        const uint64_t max = *parse_size(*maxmem, 'B');
        m_config.ram_slots = int(std::min<uint64_t>(slots ? *parse_uint(*slots) : 0, INT32_MAX));
        if (max < m_config.ram_size)
            return tl::unexpected(refuse("", fmt::format("invalid value of maxmem: maximum memory size (0x{:x}) must be at "
                                                         "least the initial memory size (0x{:x})",
                                                         max, m_config.ram_size)));
        if (m_config.ram_slots && max == m_config.ram_size)
            return tl::unexpected(refuse("", fmt::format("invalid value of maxmem: memory slots were specified but maximum "
                                                         "memory size (0x{:x}) is equal to the initial memory size (0x{:x})",
                                                         max, m_config.ram_size)));
        m_config.maxram_size = max;
    } else if (slots) {
        return tl::unexpected(refuse("", "slots specified but no max-size"));
    }
    if (!m_config.maxram_size) m_config.maxram_size = m_config.ram_size;
    // qemu_apply_machine_options
    if (!machine_props.empty())
        return tl::unexpected(refuse("", fmt::format("Property '{}-machine.{}' not found",
                                                     m_config.type == MachineType::Q35 ? "pc-q35-7.2" : "pc-i440fx-7.2",
                                                     machine_props.front())));
    if (auto r = parse_smp(smp); !r) return tl::unexpected(r.error());
    // qemu_create_late_backends
    for (MemoryBackend& b : objects)
        if (auto r = create_backend(std::move(b)); !r) return tl::unexpected(refuse("", r.error()));
    m_cpu_node.assign(m_config.max_cpus, -1);
    for (const auto& [at, o] : numa_opts)
        if (auto r = parse_numa_node(o); !r) return tl::unexpected(at.empty() ? r.error() : refuse(at, r.error()));
    return {};
}

// machine_parse_smp_config: missing values computed (cores preferred over
// sockets), then the product of the topology checked against maxcpus.
tl::expected<void, std::string> Machine::parse_smp(const QObject& smp)
{
    const char* const members[] = {"cpus", "sockets", "dies", "clusters", "cores", "threads", "maxcpus"};
    std::map<std::string, unsigned> v;
    bool zero = false;
    for (const char* k : members) {
        if (!smp.contains(k)) continue;
        const auto n = parse_int(smp[k].get<std::string>());
        if (!n) return tl::unexpected(refuse("", fmt::format("Parameter 'smp.{}' expects integer", k)));
        v[k] = unsigned(uint64_t(*n));  // QEMU keeps them in unsigned ints
        zero |= v[k] == 0;
    }
    for (auto it = smp.begin(); it != smp.end(); ++it)
        if (std::find_if(std::begin(members), std::end(members), [&](const char* k) { return it.key() == k; }) ==
            std::end(members))
            return tl::unexpected(refuse("", fmt::format("Parameter 'smp.{}' is unexpected", it.key())));
    if (zero)
        m_startup_output += refuse("", "warning: Deprecated CPU topology (considered invalid): CPU topology parameters "
                                       "must be greater than zero");
    unsigned cpus = v["cpus"], sockets = v["sockets"], dies = v["dies"], clusters = v["clusters"], cores = v["cores"],
             threads = v["threads"], maxcpus = v["maxcpus"];
    if (clusters > 1) return tl::unexpected(refuse("", "clusters not supported by this machine's CPU topology"));
    dies = dies ? dies : 1;
    clusters = 1;
    if (!cpus && !maxcpus) {
        sockets = sockets ? sockets : 1;
        cores = cores ? cores : 1;
        threads = threads ? threads : 1;
    } else {
        maxcpus = maxcpus ? maxcpus : cpus;
        if (!cores) {
            sockets = sockets ? sockets : 1;
            threads = threads ? threads : 1;
            cores = maxcpus / (sockets * dies * clusters * threads);
        } else if (!sockets) {
            threads = threads ? threads : 1;
            sockets = maxcpus / (dies * clusters * cores * threads);
        }
        if (!threads) threads = maxcpus / (sockets * dies * clusters * cores);
    }
    maxcpus = maxcpus ? maxcpus : sockets * dies * clusters * cores * threads;
    cpus = cpus ? cpus : maxcpus;
    const std::string topo = fmt::format("sockets ({}) * dies ({}) * cores ({}) * threads ({})", sockets, dies, cores, threads);
    if (sockets * dies * clusters * cores * threads != maxcpus)
        return tl::unexpected(refuse("", fmt::format("Invalid CPU topology: product of the hierarchy must match maxcpus: "
                                                     "{} != maxcpus ({})",
                                                     topo, maxcpus)));
    if (maxcpus < cpus)
        return tl::unexpected(refuse("", fmt::format("Invalid CPU topology: maxcpus must be equal to or greater than smp: "
                                                     "{} == maxcpus ({}) < smp_cpus ({})",
                                                     topo, maxcpus, cpus)));
    const bool q35 = m_config.type == MachineType::Q35;
    if (maxcpus > (q35 ? MAX_CPUS : 255))
        return tl::unexpected(refuse("", fmt::format("Invalid SMP CPUs {}. The max CPUs supported by machine '{}' is {}",
                                                     int(maxcpus), q35 ? "pc-q35-7.2" : "pc-i440fx-7.2", q35 ? MAX_CPUS : 255)));
    m_config.smp = int(cpus);
    m_config.max_cpus = maxcpus;
    m_config.sockets = sockets;
    m_config.dies = dies;
    m_config.cores = cores;
    m_config.threads = threads;
    return {};
}

// parse_numa: -numa node as the opts visitor reads NumaNodeOptions, then
// parse_numa_node's checks. Errors without the "qemu-system-x86_64: " prefix.
tl::expected<void, std::string> Machine::parse_numa_node(const OptList& o)
{
    const auto type = o.get("type");
    if (!type) return tl::unexpected(std::string("Parameter 'type' is missing"));
    if (*type != "node" && *type != "dist" && *type != "cpu" && *type != "hmat-lb" && *type != "hmat-cache")
        return tl::unexpected(fmt::format("Parameter 'type' does not accept value '{}'", *type));
    if (*type == "dist") return parse_numa_distance(o);
    if (*type == "cpu") {
        // set_numa_options: the node must exist; which CPUs it names is not modelled.
        const auto node_id = o.get("node-id");
        if (!node_id) return tl::unexpected(std::string("Missing mandatory node-id property"));
        const auto n = parse_int(*node_id);
        if (!n) return tl::unexpected(std::string("Parameter 'node-id' expects an int64 value"));
        if (std::none_of(m_config.numa.begin(), m_config.numa.end(), [&](const NumaNode& x) { return x.nodeid == *n; }))
            return tl::unexpected(fmt::format("Invalid node-id={}, NUMA node must be defined with -numa node,nodeid=ID "
                                              "before it's used with -numa cpu,node-id=ID",
                                              *n));
        return {};
    }
    if (*type != "node") return {};  // HMAT descriptions: not modelled
    std::optional<uint64_t> nodeid;
    std::vector<uint64_t> cpus;
    std::optional<std::string> memdev;
    bool has_mem = false;
    for (const auto& [k, v] : o.items()) {
        if (k == "type") continue;
        if (k == "nodeid" || k == "initiator") {
            const auto n = parse_uint(v);
            if (!n) return tl::unexpected(fmt::format("Parameter '{}' expects a uint64 value", k));
            if (*n > UINT16_MAX) return tl::unexpected(fmt::format("Parameter '{}' expects uint16_t", k));
            if (k == "nodeid") nodeid = *n;
        } else if (k == "cpus") {
            const auto r = parse_range(v);
            if (!r) return tl::unexpected(std::string("Parameter 'cpus' expects a uint64 value or range"));
            for (uint64_t c : *r) {
                if (c > UINT16_MAX) return tl::unexpected(std::string("Parameter 'cpus' expects uint16_t"));
                cpus.push_back(c);
            }
        } else if (k == "mem") {
            if (!parse_size(v, 'B')) return tl::unexpected(std::string("Parameter 'mem' expects a size value"));
            has_mem = true;
        } else if (k == "memdev") {
            memdev = v;
        } else {
            return tl::unexpected(fmt::format("Invalid parameter '{}'", k));
        }
    }
    const uint64_t nodenr = nodeid.value_or(m_config.numa.size());
    if (nodenr >= MAX_NODES) return tl::unexpected(fmt::format("Max number of NUMA nodes reached: {}", nodenr));
    if (std::any_of(m_config.numa.begin(), m_config.numa.end(), [&](const NumaNode& x) { return uint64_t(x.nodeid) == nodenr; }))
        return tl::unexpected(fmt::format("Duplicate NUMA nodeid: {}", nodenr));
    for (uint64_t c : cpus) {
        if (c >= m_config.max_cpus)
            return tl::unexpected(fmt::format("CPU index ({}) should be smaller than maxcpus ({})", c, m_config.max_cpus));
        if (m_cpu_node[c] >= 0 && uint64_t(m_cpu_node[c]) != nodenr)
            return tl::unexpected(fmt::format("CPU is already assigned to node-id: {}", m_cpu_node[c]));
        m_cpu_node[c] = int(nodenr);
    }
    m_numa_have_memdev |= memdev.has_value();
    m_numa_have_mem |= has_mem;
    if ((has_mem && m_numa_have_memdev) || (memdev && m_numa_have_mem))
        return tl::unexpected(std::string("numa configuration should use either mem= or memdev=,mixing both is not allowed"));
    if (has_mem)
        return tl::unexpected(std::string("Parameter -numa node,mem is not supported by this machine type\n"
                                          "Use -numa node,memdev instead"));
    NumaNode n;
    n.nodeid = int(nodenr);
    if (memdev) {
        const MemoryBackend* b = backend(*memdev);
        if (!b) return tl::unexpected(fmt::format("memdev={} is ambiguous", *memdev));
        n.memdev = *memdev;
        n.size = b->size;
    }
    m_config.numa.push_back(n);
    return {};
}

// parse_numa_distance: NumaDistOptions in the schema's order (src, dst, val),
// then the distance checked against the nodes declared so far.
tl::expected<void, std::string> Machine::parse_numa_distance(const OptList& o)
{
    constexpr uint64_t NUMA_DISTANCE_MIN = 10;  // a node's distance to itself
    uint64_t value[3] = {};
    const char* const names[3] = {"src", "dst", "val"};
    for (int i = 0; i < 3; ++i) {
        const auto v = o.get(names[i]);
        if (!v) return tl::unexpected(fmt::format("Parameter '{}' is missing", names[i]));
        const auto n = parse_uint(*v);
        if (!n) return tl::unexpected(fmt::format("Parameter '{}' expects a uint64 value", names[i]));
        if (*n > (i < 2 ? UINT16_MAX : UINT8_MAX))
            return tl::unexpected(fmt::format("Parameter '{}' expects {}", names[i], i < 2 ? "uint16_t" : "uint8_t"));
        value[i] = *n;
    }
    for (const auto& [k, v] : o.items())
        if (k != "type" && k != "src" && k != "dst" && k != "val")
            return tl::unexpected(fmt::format("Invalid parameter '{}'", k));
    const auto [src, dst, val] = value;
    if (src >= MAX_NODES || dst >= MAX_NODES)
        return tl::unexpected(fmt::format("Parameter '{}' expects an integer between 0 and {}",
                                          src >= MAX_NODES ? "src" : "dst", MAX_NODES - 1));
    auto present = [&](uint64_t id) {
        return std::any_of(m_config.numa.begin(), m_config.numa.end(),
                           [&](const NumaNode& n) { return uint64_t(n.nodeid) == id; });
    };
    if (!present(src) || !present(dst))
        return tl::unexpected(std::string(
            "Source/Destination NUMA node is missing. Please use '-numa node' option to declare it first."));
    if (val < NUMA_DISTANCE_MIN)
        return tl::unexpected(
            fmt::format("NUMA distance ({}) is invalid, it shouldn't be less than {}.", val, NUMA_DISTANCE_MIN));
    if (src == dst && val != NUMA_DISTANCE_MIN)
        return tl::unexpected(fmt::format("Local distance of node {} should be {}.", src, NUMA_DISTANCE_MIN));
    m_numa_distance[{int(src), int(dst)}] = unsigned(val);
    return {};
}

// validate_numa_distance: once any distance is given, every pair of nodes needs
// one (the other direction is then the same), or both when some pair differs.
tl::expected<void, std::string> Machine::validate_numa_distance() const
{
    const int nodes = int(m_config.numa.size());
    auto distance = [&](int a, int b) {
        const auto it = m_numa_distance.find({a, b});
        return it == m_numa_distance.end() ? 0u : it->second;
    };
    bool asymmetric = false;
    for (int src = 0; src < nodes; ++src)
        for (int dst = src; dst < nodes; ++dst) {
            if (src != dst && !distance(src, dst) && !distance(dst, src))
                return tl::unexpected(refuse("", fmt::format("The distance between node {} and {} is missing, at least "
                                                             "one distance value between each nodes should be provided.",
                                                             src, dst)));
            if (distance(src, dst) && distance(dst, src) && distance(src, dst) != distance(dst, src)) asymmetric = true;
        }
    if (asymmetric)
        for (int src = 0; src < nodes; ++src)
            for (int dst = 0; dst < nodes; ++dst)
                if (src != dst && !distance(src, dst))
                    return tl::unexpected(refuse("", "At least one asymmetrical pair of distances is given, please "
                                                     "provide distances for both directions of all node pairs."));
    return {};
}

// numa_complete_configuration and machine_numa_finalize: one node when memory
// hotplug is possible, no gaps in node ids, memory adding up, CPUs mapped.
tl::expected<void, std::string> Machine::complete_numa()
{
    MachineConfig& c = m_config;
    if (c.numa.empty() && (c.ram_slots > 0 || c.maxram_size > c.ram_size)) {
        NumaNode n;
        n.size = c.ram_size;
        c.numa.push_back(n);
    }
    if (c.numa.empty()) return {};
    std::sort(c.numa.begin(), c.numa.end(), [](const NumaNode& a, const NumaNode& b) { return a.nodeid < b.nodeid; });
    for (int i = c.numa.back().nodeid; i >= 0; --i)
        if (std::none_of(c.numa.begin(), c.numa.end(), [&](const NumaNode& n) { return n.nodeid == i; }))
            return tl::unexpected(refuse("", fmt::format("numa: Node ID missing: {}", i)));
    uint64_t total = 0;
    for (const NumaNode& n : c.numa) total += n.size;
    if (total != c.ram_size)
        return tl::unexpected(refuse("", fmt::format("total memory for NUMA nodes (0x{:x}) should equal RAM size (0x{:x})",
                                                     total, c.ram_size)));
    if (!m_numa_distance.empty())
        if (auto r = validate_numa_distance(); !r) return r;
    for (const NumaNode& n : c.numa) {
        if (n.memdev.empty()) continue;
        MemoryBackend* b = backend(n.memdev);
        if (!b->used_by.empty())
            return tl::unexpected(refuse("", fmt::format("memory backend {} can't be used multiple times.", n.memdev)));
        b->used_by = "(numa)";
    }
    // Without any -numa cpus= a CPU's socket picks its node; otherwise the CPUs left out go to node 0.
    const bool default_mapping = std::all_of(m_cpu_node.begin(), m_cpu_node.end(), [](int n) { return n < 0; });
    std::string missing;
    m_cpu_node.resize(c.max_cpus, -1);
    for (unsigned i = 0; i < c.max_cpus; ++i) {
        if (m_cpu_node[i] >= 0) continue;
        const unsigned thread = i % c.threads, core = i / c.threads % c.cores, die = i / (c.threads * c.cores) % c.dies,
                       socket = i / (c.threads * c.cores * c.dies);
        if (default_mapping) {
            m_cpu_node[i] = int(socket % c.numa.size());
            continue;
        }
        missing += fmt::format("{}CPU {} [socket-id: {}{}, core-id: {}, thread-id: {}]", missing.empty() ? "" : ", ", i,
                               socket, c.dies > 1 ? fmt::format(", die-id: {}", die) : "", core, thread);
        m_cpu_node[i] = 0;
    }
    if (!missing.empty())
        m_startup_output += refuse("", "warning: CPU(s) not present in any NUMA nodes: " + missing) +
                            refuse("", "warning: All CPU(s) up to maxcpus should be described in NUMA config, ability to "
                                       "start up with partial NUMA mappings is obsoleted and will be removed in future");
    for (NumaNode& n : c.numa) {
        n.cpus.clear();
        for (int cpu = 0; cpu < c.smp; ++cpu)
            if (m_cpu_node[size_t(cpu)] == n.nodeid) n.cpus.push_back(cpu);
    }
    return {};
}

tl::expected<void, std::string> Machine::lay_out()
{
    MachineConfig& c = m_config;
    if (auto r = complete_numa(); !r) return r;
    // x86_cpu_realizefn, once: TCG's default and max CPUs are AMD CPUs without topoext.
    const bool amd_without_topoext = c.cpu_model.empty() || c.cpu_model == "max" || c.cpu_model == "qemu64";
    if (!c.kvm && amd_without_topoext && c.threads > 1)
        m_startup_output += refuse("", fmt::format("warning: This family of AMD CPU doesn't support hyperthreading({})",
                                                   c.threads)) +
                            "Please configure -smp options properly or try enabling topoext feature.\n";
    // The machine's own RAM, a child of /objects, unless NUMA nodes took theirs from backends.
    if (std::none_of(c.numa.begin(), c.numa.end(), [](const NumaNode& n) { return !n.memdev.empty(); })) {
        MemoryBackend ram;
        ram.id = "pc.ram";
        ram.qom_type = "memory-backend-ram";
        ram.size = c.ram_size;
        ram.used_by = "(machine)";
        m_backends.push_back(ram);
        m_objects.insert("pc.ram");
    }
    // pc_q35_init / pc_init1: how much RAM stays below the 4 GiB hole.
    const uint64_t lowmem = c.type == MachineType::Q35 ? (c.ram_size >= 0xb0000000 ? 0x80000000 : 0xb0000000)
                                                       : (c.ram_size >= 0xe0000000 ? 0xc0000000 : 0xe0000000);
    m_below_4g = std::min(c.ram_size, lowmem);
    m_above_4g = c.ram_size - m_below_4g;

    if (c.maxram_size <= c.ram_size && c.ram_slots) return tl::unexpected(refuse("", "slots specified but no max-size"));
    auto place_device_memory = [&] {
        if (c.maxram_size <= c.ram_size) return;
        m_device_memory_base = mm::align_up(m_above_4g_start + m_above_4g, GiB);
        m_device_memory_size = (c.maxram_size - c.ram_size) + GiB * uint64_t(c.ram_slots);
    };
    place_device_memory();
    // The AMD HyperTransport hole: TCG's CPU models are AMD, so RAM above 4 GiB
    // moves past 1 TiB when the address space would cross it.
    auto max_used_gpa = [&] { return pci_hole64_start() + default_pci_hole64_size(c.type) - 1; };
    if (!c.kvm && max_used_gpa() >= AMD_HT_START) {
        m_above_4g_start = AMD_ABOVE_1TB_START;
        place_device_memory();
    }
    const unsigned phys_bits = c.kvm ? c.phys_bits : 40;  // TCG_PHYS_ADDR_BITS
    const uint64_t maxphysaddr = (uint64_t{1} << phys_bits) - 1;
    if (maxphysaddr < max_used_gpa())
        return tl::unexpected(refuse("", fmt::format("Address space limit 0x{:x} < 0x{:x} phys-bits too low ({})",
                                                     maxphysaddr, max_used_gpa(), phys_bits)));
    // pc_memory_init checks the device-memory region only after the address space
    // (real QEMU: maxmem=8P is refused for phys-bits, tests/conformance/qemu/cmdline-config-limits).
    if (c.maxram_size > c.ram_size) {
        if (c.ram_slots > ACPI_MAX_RAM_SLOTS)
            return tl::unexpected(refuse("", fmt::format("unsupported amount of memory slots: {}", c.ram_slots)));
        if (c.maxram_size % mm::PAGE_SIZE)
            return tl::unexpected(refuse("", fmt::format("maximum memory size must by aligned to multiple of {} bytes", mm::PAGE_SIZE)));
        if (c.maxram_size > (uint64_t{1} << 52))
            return tl::unexpected(refuse("", fmt::format("unsupported amount of maximum memory: 0x{:x}", c.maxram_size)));
    }

    for (const std::string& args : m_cold_devices) {
        auto o = OptList::parse(args, "driver");
        const std::string at = fmt::format("-device {}: ", args);
        if (!o) return tl::unexpected(refuse(at, o.error()));
        const auto r = device_add(o->to_qdict(), false);
        // Warnings as warn_report prints them under the option's location.
        const std::string warnings = take_warnings();
        for (std::string_view w = warnings; !w.empty();) {
            const auto nl = w.find('\n');
            m_startup_output += fmt::format("{}{}{}\n", qemu, at, w.substr(0, nl));
            w.remove_prefix(nl + 1);
        }
        if (!r) return tl::unexpected(refuse(at, r.error()));
    }
    return {};
}

std::vector<mm::E820Entry> Machine::e820_table() const
{
    using mm::E820Entry;
    using mm::E820Type;
    std::vector<E820Entry> e820;
    // The map as SeaBIOS passes it on: QEMU's RAM entries, the EBDA and BIOS
    // areas, SeaBIOS's own tables at the top of low RAM, and the reserved ranges.
    e820.push_back({0, 0x9fc00, E820Type::Ram});
    e820.push_back({0x9fc00, 0x400, E820Type::Reserved});
    e820.push_back({0xf0000, 0x10000, E820Type::Reserved});
    const bool q35 = m_config.type == MachineType::Q35;
    const uint64_t seabios = seabios_high_reserve(m_config.type);
    e820.push_back({0x100000, m_below_4g - seabios - 0x100000, E820Type::Ram});
    e820.push_back({m_below_4g - seabios, seabios, E820Type::Reserved});
    if (q35) {
        e820.push_back({0xb0000000, 0x10000000, E820Type::Reserved});  // MMCONFIG
        e820.push_back({0xfed1c000, 0x4000, E820Type::Reserved});      // ICH9 root complex register block
    }
    e820.push_back({0xfffc0000, 0x40000, E820Type::Reserved});
    if (m_above_4g) e820.push_back({m_above_4g_start, m_above_4g, E820Type::Ram});
    if (!m_config.kvm) e820.push_back({AMD_HT_START, AMD_HT_SIZE, E820Type::Reserved});
    std::sort(e820.begin(), e820.end(), [](const E820Entry& x, const E820Entry& y) { return x.addr < y.addr; });
    return e820;
}

mm::BootConfig Machine::boot_config() const
{
    using mm::E820Entry;
    using mm::E820Type;
    mm::BootConfig b;
    b.e820 = e820_table();

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

uint64_t Machine::pci_hole64_size() const { return memplug::machine::default_pci_hole64_size(m_config.type); }

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
    r.push_back({pci_hole64_start(), pci_hole64_start() + default_pci_hole64_size(m_config.type) - 1, bus, true});
    return r;
}

}  // namespace memplug::machine
