#include "machine/monitor.h"

#include <fmt/format.h>

#include "machine/machine.h"

namespace memplug::machine {

namespace {

std::pair<std::string_view, std::string_view> split_first_word(std::string_view s)
{
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    const auto sp = s.find(' ');
    if (sp == std::string_view::npos) return {s, {}};
    std::string_view rest = s.substr(sp + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
    return {s.substr(0, sp), rest};
}

std::string print(const QResult<void>& r) { return r ? std::string() : fmt::format("Error: {}\n", r.error().desc); }

QResult<void> with_opts(std::string_view text, std::string_view implied_key,
                        const std::function<QResult<void>(const QObject&)>& f)
{
    auto o = OptList::parse(text, implied_key);
    if (!o) return qerr(o.error());
    return f(o->to_qdict());
}

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
        if (b.reserve) out += fmt::format("  reserve: {}\n", *b.reserve);
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

}  // namespace

namespace {

constexpr std::string_view k_commands[] = {"device_add", "device_del", "info",   "object_add",
                                           "object_del", "qom-get",    "qom-set"};
constexpr std::string_view k_info_topics[] = {"memdev", "memory-devices", "numa"};

}  // namespace

std::span<const std::string_view> hmp_commands()
{
    return k_commands;
}

std::span<const std::string_view> hmp_info_topics()
{
    return k_info_topics;
}

std::string hmp(Machine& m, std::string_view line)
{
    auto [cmd, args] = split_first_word(line);
    if (cmd.empty()) return {};
    if (cmd == "object_add")
        return print(with_opts(args, "qom-type", [&](const QObject& o) { return m.object_add(o, Input::Text); }));
    if (cmd == "object_del") return print(m.object_del(args));
    if (cmd == "device_add") return print(with_opts(args, "driver", [&](const QObject& o) { return m.device_add(o); }));
    if (cmd == "device_del") return print(m.device_del(args));
    if (cmd == "qom-get") {
        auto [path, prop] = split_first_word(args);
        auto v = m.qom_get(path, prop);
        if (!v) return fmt::format("Error: {}\n", v.error().desc);
        return to_qemu_json(*v) + "\n";
    }
    if (cmd == "qom-set") {
        auto [path, rest] = split_first_word(args);
        auto [prop, value] = split_first_word(rest);
        return print(m.qom_set(path, prop, QObject(std::string(value)), Input::Text));
    }
    if (cmd == "info") {
        auto [what, rest] = split_first_word(args);
        if (what == "memory-devices") return info_memory_devices(m);
        if (what == "memdev") return info_memdev(m);
        if (what == "numa") return info_numa(m);
        return fmt::format("unknown command: 'info {}'\n", what);
    }
    return fmt::format("unknown command: '{}'\n", cmd);
}

}  // namespace memplug::machine
