// HMP as QEMU 7.2's monitor/hmp.c runs it: the command name looked up in the
// command tables (aliases after '|', `info` through its own table), the
// arguments parsed by the command's args_type, then the command.
#include "machine/monitor.h"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "machine/hmp_commands.h"
#include "machine/machine.h"

namespace memplug::machine {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

void skip_spaces(std::string_view& p)
{
    while (!p.empty() && is_space(p.front())) p.remove_prefix(1);
}

// hmp_compare_cmd: `name` is one of the '|'-separated names in `list`.
bool compare_cmd(std::string_view name, std::string_view list)
{
    while (true) {
        const auto bar = list.find('|');
        if (list.substr(0, bar) == name) return true;
        if (bar == std::string_view::npos) return false;
        list.remove_prefix(bar + 1);
    }
}

const HmpCommand* find_cmd(std::span<const HmpCommand> table, std::string_view name)
{
    for (const HmpCommand& c : table)
        if (compare_cmd(name, c.name)) return &c;
    return nullptr;
}

// get_str: a word, or a double-quoted string with \n \r \\ \' \" escapes. The
// error (what QEMU prints itself) or nullopt at the end of the line.
struct Word {
    std::optional<std::string> value;
    std::string error;
};
Word get_str(std::string_view& p)
{
    skip_spaces(p);
    if (p.empty()) return {};
    std::string out;
    if (p.front() != '"') {
        while (!p.empty() && !is_space(p.front())) {
            out += p.front();
            p.remove_prefix(1);
        }
        return {out, {}};
    }
    p.remove_prefix(1);
    while (!p.empty() && p.front() != '"') {
        char c = p.front();
        p.remove_prefix(1);
        if (c == '\\') {
            if (p.empty()) break;
            c = p.front();
            p.remove_prefix(1);
            switch (c) {
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case '\\': case '\'': case '"': break;
            default: return {std::nullopt, fmt::format("unsupported escape code: '\\{}'\n", c)};
            }
        }
        out += c;
    }
    if (p.empty()) return {std::nullopt, "unterminated string\n"};
    p.remove_prefix(1);
    return {out, {}};
}

// The args_type of the commands memplug runs (hmp-commands.hx).
const std::map<std::string_view, std::string_view> args_types = {
    {"help|?", "name:S?"},
    {"info", "item:s?"},
    {"quit|q", ""},
    {"device_add", "device:O"},
    {"device_del", "id:s"},
    {"object_add", "object:S"},
    {"object_del", "id:s"},
    {"qom-get", "path:s,property:s"},
    {"qom-set", "json:-j,path:s,property:s,value:S"},
    {"qom-list", "path:s?"},
    {"info memdev", ""},
    {"info memory-devices", ""},
    {"info memory_size_summary", ""},
    {"info mtree", "flatview:-f,dispatch_tree:-d,owner:-o,disabled:-D"},
    {"info numa", ""},
    {"info status", ""},
};

struct Parsed {
    std::map<std::string, std::string> args;
    std::map<std::string, bool> flags;
    QObject opts;  // the 'O' argument (device_add), as QemuOpts' QDict
};

// monitor_parse_arguments: the arguments, or what the monitor prints on failure.
tl::expected<Parsed, std::string> parse_args(std::string_view cmd_name, std::string_view types, std::string_view p)
{
    Parsed out;
    auto expected = [&](std::string_view what) { return tl::unexpected(fmt::format("{}: {} expected\n", cmd_name, what)); };
    while (!types.empty()) {
        const auto comma = types.find(',');
        const std::string_view spec = types.substr(0, comma);
        types = comma == std::string_view::npos ? std::string_view() : types.substr(comma + 1);
        const auto colon = spec.find(':');
        const std::string key(spec.substr(0, colon));
        std::string_view type = spec.substr(colon + 1);
        const bool optional = type.ends_with('?');
        if (optional) type.remove_suffix(1);
        skip_spaces(p);
        if (type.starts_with('-')) {
            if (!p.empty() && p.front() == '-') {
                if (p.size() < 2 || p[1] != type[1]) {
                    // Another flag of the same command, or none of them.
                    bool other = false;
                    for (std::string_view rest = types; !rest.empty();) {
                        const auto c2 = rest.find(',');
                        const std::string_view s2 = rest.substr(0, c2);
                        if (p.size() >= 2 && s2.substr(s2.find(':') + 1) == std::string{'-', p[1]}) other = true;
                        rest = c2 == std::string_view::npos ? std::string_view() : rest.substr(c2 + 1);
                    }
                    if (!other)
                        return tl::unexpected(fmt::format("{}: unsupported option -{}\n", cmd_name,
                                                          p.size() >= 2 ? std::string(1, p[1]) : std::string()));
                    continue;
                }
                out.flags[key] = true;
                p.remove_prefix(2);
            }
            continue;
        }
        if (type == "S") {
            if (p.empty()) {
                if (optional) continue;
                return expected("string");
            }
            out.args[key] = std::string(p);
            p = {};
            continue;
        }
        if ((optional || type == "O") && p.empty()) continue;
        Word w = get_str(p);
        if (!w.value) {
            if (!w.error.empty()) return tl::unexpected(w.error);
            return expected("string");
        }
        if (type == "O") {
            // QemuOpts of the "device" list: an id must be well formed (its
            // error goes to QEMU's stderr, not to the monitor).
            auto o = OptList::parse(*w.value, "driver");
            if (!o) return tl::unexpected(std::string());
            if (auto id = o->get("id"); id && !id_wellformed(*id)) return tl::unexpected(std::string());
            out.opts = o->to_qdict();
            continue;
        }
        out.args[key] = *w.value;
    }
    skip_spaces(p);
    if (!p.empty()) return tl::unexpected(fmt::format("{}: extraneous characters at the end of line\n", cmd_name));
    return out;
}

std::string print(const QResult<void>& r) { return r ? std::string() : format_hmp_error(r.error()); }

std::string info_memory_devices(const Machine& m)
{
    std::string out;
    for (const MemoryDeviceInfo& info : m.query_memory_devices()) {
        if (const auto* d = std::get_if<PcDimmDeviceInfo>(&info)) {
            out += fmt::format("Memory device [dimm]: \"{}\"\n", d->id);
            out += fmt::format("  addr: 0x{:x}\n  slot: {}\n  node: {}\n  size: {}\n", d->addr, d->slot, d->node, d->size);
            out += fmt::format("  memdev: {}\n", d->memdev);
            out += fmt::format("  hotplugged: {}\n  hotpluggable: {}\n", d->hotplugged, d->hotpluggable);
        } else {
            const auto& v = std::get<VirtioMemDeviceInfo>(info);
            out += fmt::format("Memory device [virtio-mem]: \"{}\"\n", v.id);
            out += fmt::format("  memaddr: 0x{:x}\n  node: {}\n  requested-size: {}\n  size: {}\n", v.memaddr, v.node,
                               v.requested_size, v.size);
            out += fmt::format("  max-size: {}\n  block-size: {}\n  memdev: {}\n", v.max_size, v.block_size, v.memdev);
        }
    }
    return out;
}

std::string info_memdev(const Machine& m)
{
    std::string out;
    for (const MemdevInfo& b : m.query_memdev()) {
        out += fmt::format("memory backend: {}\n", b.id);
        out += fmt::format("  size:  {}\n", b.size);
        out += fmt::format("  merge: {}\n  dump: {}\n  prealloc: {}\n  share: {}\n", b.merge, b.dump, b.prealloc, b.share);
        out += fmt::format("  reserve: {}\n", b.reserve);
        out += "  policy: default\n  host nodes: \n";
    }
    return out + "\n";
}

std::string info_numa(const Machine& m)
{
    const auto nodes = m.query_numa();
    std::string out = fmt::format("{} nodes\n", nodes.size());
    for (const NumaNodeInfo& n : nodes) {
        out += fmt::format("node {} cpus:", n.nodeid);
        for (int c : n.cpus) out += fmt::format(" {}", c);
        out += fmt::format("\nnode {} size: {} MB\nnode {} plugged: {} MB\n", n.nodeid, (n.size + n.plugged) >> 20,
                           n.nodeid, n.plugged >> 20);
    }
    return out;
}

// mtree_info without options: each group of address spaces sharing a root with
// that root's tree, then each region an alias showed (queued as the walk meets
// them), with its tree. Aliases show no subregions of their own.
class MtreePrinter {
public:
    explicit MtreePrinter(const MemoryMap& map) : m_map(map) {}

    std::string print()
    {
        std::vector<std::size_t> roots;
        for (const AddressSpace& as : m_map.address_spaces)
            if (std::find(roots.begin(), roots.end(), as.root) == roots.end()) roots.push_back(as.root);
        for (std::size_t root : roots) {
            for (const AddressSpace& as : m_map.address_spaces)
                if (as.root == root) m_out += fmt::format("address-space: {}\n", as.name);
            region(root, 1, 0);
            m_out += "\n";
        }
        for (std::size_t i = 0; i < m_aliased.size(); ++i) {
            m_out += fmt::format("memory-region: {}\n", m_map.regions[m_aliased[i]].name);
            region(m_aliased[i], 1, 0);
            m_out += "\n";
        }
        return std::move(m_out);
    }

private:
    const char* type_name(const MemoryRegion& r) const
    {
        if (r.alias) return type_name(m_map.regions[*r.alias]);
        switch (r.type) {
        case RegionType::Ram: return "ram";
        case RegionType::Rom: return "rom";
        case RegionType::Io: break;
        }
        return "i/o";
    }

    void region(std::size_t index, int level, uint64_t base)
    {
        const MemoryRegion& r = m_map.regions[index];
        const uint64_t start = base + r.addr;
        if (r.alias && std::find(m_aliased.begin(), m_aliased.end(), *r.alias) == m_aliased.end())
            m_aliased.push_back(*r.alias);
        if (r.enabled) {
            m_out += fmt::format("{:{}}{:016x}-{:016x} (prio {}, {}): ", "", level * 2, start, start + r.last,
                                 r.priority, type_name(r));
            if (r.alias)
                m_out += fmt::format("alias {} @{} {:016x}-{:016x}\n", r.name, m_map.regions[*r.alias].name,
                                     r.alias_offset, r.alias_offset + r.last);
            else
                m_out += r.name + "\n";
        }
        std::vector<std::size_t> subs = r.subregions;
        std::stable_sort(subs.begin(), subs.end(), [&](std::size_t a, std::size_t b) {
            const MemoryRegion &x = m_map.regions[a], &y = m_map.regions[b];
            return x.addr != y.addr ? x.addr < y.addr : x.priority > y.priority;
        });
        for (std::size_t sub : subs) region(sub, level + 1, start);
    }

    const MemoryMap& m_map;
    std::vector<std::size_t> m_aliased;
    std::string m_out;
};

std::string info_mtree(const Machine& m, const Parsed& a)
{
    if (!a.flags.empty()) return "memplug: info mtree's options (-f, -d, -o, -D) are not modelled\n";
    const auto map = m.memory_map();
    if (!map) return fmt::format("memplug: info mtree does not model {}\n", map.error());
    return MtreePrinter(*map).print();
}

// help_cmd_dump: every command of `table`, or the one args[i] names (a table's
// subcommand through the next word).
std::string help_dump(std::span<const HmpCommand> table, const std::vector<std::string>& args, size_t i)
{
    auto one = [&](const HmpCommand& c) {
        std::string s;
        for (size_t k = 0; k < i; ++k) s += args[k] + " ";
        return s + c.name + c.text + "\n";
    };
    std::string out;
    if (i >= args.size()) {
        for (const HmpCommand& c : table) out += one(c);
        return out;
    }
    if (const HmpCommand* c = find_cmd(table, args[i])) {
        if (compare_cmd("info", c->name) && table.data() == hmp_command_table().data())
            return help_dump(hmp_info_table(), args, i + 1);
        return one(*c);
    }
    out = "unknown command: '";
    for (size_t k = 0; k <= i; ++k) out += args[k] + (k == args.size() - 1 ? "'\n" : " ");
    return out;
}

std::string help(const std::optional<std::string>& name)
{
    std::vector<std::string> words;
    if (name) {
        std::string_view p = *name;
        while (true) {
            Word w = get_str(p);
            if (!w.value) break;
            words.push_back(*w.value);
        }
    }
    return help_dump(hmp_command_table(), words, 0);
}

std::string run(Machine& m, std::string_view name, Parsed& a)
{
    auto arg = [&](const char* k) { return a.args.count(k) ? std::optional(a.args[k]) : std::nullopt; };
    if (name == "help|?") return help(arg("name"));
    if (name == "info") return help_dump(hmp_info_table(), {"info"}, 1);
    if (name == "quit|q") {
        m.quit();
        return {};
    }
    if (name == "device_add") {
        if (a.opts.is_null()) a.opts = QObject::object();
        // qdev_device_help: HMP (not QMP) prints a device's properties.
        if (a.opts.contains("help")) {
            if (a.opts.value("driver", "") == "pc-dimm") return pc_dimm_help();
            return "memplug: only pc-dimm's property list is modelled\n";
        }
        return print(m.device_add(a.opts));
    }
    if (name == "device_del") return print(m.device_del(*arg("id")));
    if (name == "object_add") {
        auto o = OptList::parse(*arg("object"), "qom-type");
        if (!o) return print(qerr(o.error()));
        return print(m.object_add(o->to_qdict(), Input::Text));
    }
    if (name == "object_del") return print(m.object_del(*arg("id")));
    if (name == "qom-get") {
        auto v = m.qom_get(*arg("path"), *arg("property"));
        if (!v) return format_hmp_error(v.error());
        return to_qemu_json(*v) + "\n";
    }
    if (name == "qom-set") {
        QObject value(*arg("value"));
        Input in = Input::Text;
        if (a.flags["json"]) {
            // -j: the value is JSON; memplug's properties take booleans and numbers.
            const std::string v = a.args["value"];
            if (v == "true" || v == "false") value = QObject(v == "true");
            else if (auto n = parse_uint(v)) value = QObject(*n);
            else return fmt::format("memplug: qom-set -j takes true, false or a number here, not '{}'\n", v);
            in = Input::Json;
        }
        return print(m.qom_set(*arg("path"), *arg("property"), value, in));
    }
    if (name == "qom-list") {
        const auto path = arg("path");
        if (!path) return "/\n";
        auto l = m.qom_list(*path);
        if (!l) return format_hmp_error(l.error());
        std::string out;
        for (const ObjectPropertyInfo& p : *l) out += fmt::format("{} ({})\n", p.name, p.type);
        return out;
    }
    if (name == "info memory-devices") return info_memory_devices(m);
    if (name == "info memdev") return info_memdev(m);
    if (name == "info numa") return info_numa(m);
    if (name == "info mtree") return info_mtree(m, a);
    if (name == "info memory_size_summary") {
        const MemorySizeSummary s = m.query_memory_size_summary();
        return fmt::format("base memory: {}\nplugged memory: {}\n", s.base_memory, s.plugged_memory);
    }
    if (name == "info status") return m.config().stopped ? "VM status: paused (prelaunch)\n" : "VM status: running\n";
    return {};
}

}  // namespace

namespace {

// The commands memplug runs (the keys of args_types), first names only: a
// command's own name, or an info topic's (with `info` stripped).
struct CompletionNames {
    std::vector<std::string_view> commands, info_topics;
    CompletionNames()
    {
        for (const auto& [key, types] : args_types) {
            const std::string_view name = key.substr(0, key.find('|'));
            if (name.starts_with("info ")) info_topics.push_back(name.substr(5));
            else commands.push_back(name);
        }
    }
};
const CompletionNames& completion_names()
{
    static const CompletionNames names;
    return names;
}

}  // namespace

std::span<const std::string_view> hmp_commands()
{
    return completion_names().commands;
}

std::span<const std::string_view> hmp_info_topics()
{
    return completion_names().info_topics;
}

std::string hmp(Machine& m, std::string_view line)
{
    std::string_view p = line;
    skip_spaces(p);
    const std::string_view start = p;
    std::span<const HmpCommand> table = hmp_command_table();
    std::string qualified;  // "info memdev" for a subcommand
    while (true) {
        skip_spaces(p);
        size_t n = 0;
        while (n < p.size() && p[n] != '/' && !is_space(p[n])) ++n;
        if (!n) return {};
        const std::string_view word = p.substr(0, n);
        p.remove_prefix(n);
        const HmpCommand* c = find_cmd(table, word);
        if (!c) return fmt::format("unknown command: '{}'\n", start.substr(0, size_t(p.data() - start.data())));
        qualified = table.data() == hmp_command_table().data() ? std::string(c->name) : "info " + std::string(c->name);
        std::string_view rest = p;
        skip_spaces(rest);
        if (compare_cmd("info", c->name) && table.data() == hmp_command_table().data() && !rest.empty()) {
            table = hmp_info_table();
            continue;
        }
        if (compare_cmd("info", c->name) && table.data() == hmp_command_table().data()) qualified = "info";
        const auto types = args_types.find(qualified);
        if (types == args_types.end())
            return fmt::format("memplug: the monitor command '{}' is not modelled\n",
                               start.substr(0, size_t(p.data() - start.data())));
        const std::string cmd_name = qualified.starts_with("info ") ? qualified.substr(5) : std::string(c->name);
        auto parsed = parse_args(cmd_name, types->second, p);
        if (!parsed)
            return parsed.error() + fmt::format("Try \"help {}\" for more information\n",
                                                start.substr(0, size_t(p.data() - start.data())));
        std::string out = run(m, qualified, *parsed);
        return m.take_warnings() + out;
    }
}

}  // namespace memplug::machine
