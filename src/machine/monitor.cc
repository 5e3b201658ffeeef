// The human monitor (HMP): commands and their output as QEMU 7.2 prints them.
#include <algorithm>

#include <fmt/format.h>

#include "machine/machine.h"

namespace memplug::machine {

namespace {

std::string error_text(std::string_view msg) { return fmt::format("Error: {}\n", msg); }

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

}  // namespace

std::string Machine::hmp(std::string_view line)
{
    auto [cmd, args] = split_first_word(line);
    if (cmd.empty()) return {};
    if (cmd == "object_add") return hmp_object_add(args);
    if (cmd == "object_del") return hmp_object_del(args);
    if (cmd == "device_add") return hmp_device_add(args);
    if (cmd == "device_del") return hmp_device_del(args);
    if (cmd == "qom-get") return hmp_qom_get(args);
    if (cmd == "qom-set") return hmp_qom_set(args);
    if (cmd == "info") return hmp_info(args);
    return fmt::format("unknown command: '{}'\n", cmd);
}

std::string Machine::hmp_object_add(std::string_view args)
{
    if (auto r = object_add(args); !r) return error_text(r.error());
    return {};
}

std::string Machine::hmp_object_del(std::string_view args)
{
    auto it = std::find_if(m_backends.begin(), m_backends.end(), [&](const auto& b) { return b.id == args; });
    if (it == m_backends.end()) return error_text(fmt::format("object '{}' not found", args));
    if (!it->used_by.empty()) return error_text(fmt::format("object '{}' is in use, can not be deleted", args));
    m_backends.erase(it);
    return {};
}

std::string Machine::hmp_device_add(std::string_view args)
{
    if (auto r = device_add(args, true); !r) return error_text(r.error());
    return {};
}

std::string Machine::hmp_device_del(std::string_view args)
{
    if (std::any_of(m_virtio_mems.begin(), m_virtio_mems.end(), [&](const auto& v) { return v.dev.id == args; }))
        return error_text("virtio based memory devices cannot be unplugged.");
    auto it = std::find_if(m_dimms.begin(), m_dimms.end(), [&](const PcDimm& d) { return !d.id.empty() && d.id == args; });
    if (it == m_dimms.end()) return error_text(fmt::format("Device '{}' not found", args));
    // QEMU only asks the guest (an ACPI eject request) and returns at once.
    if (acpi_memory_device_eject(*it)) {
        auto backend = std::find_if(m_backends.begin(), m_backends.end(), [&](const auto& b) { return b.id == it->memdev; });
        if (backend != m_backends.end()) backend->used_by.clear();
        m_dimms.erase(it);
    }
    return {};
}

std::string Machine::hmp_qom_get(std::string_view args)
{
    auto [path, prop] = split_first_word(args);
    std::string_view id = path;
    if (id.starts_with("/machine/peripheral/")) id.remove_prefix(20);
    auto it = std::find_if(m_dimms.begin(), m_dimms.end(), [&](const PcDimm& d) { return d.id == id; });
    if (it != m_dimms.end()) {
        if (prop == "addr" || prop == "size") return fmt::format("{}\n", prop == "addr" ? it->addr : it->size);
        if (prop == "slot") return fmt::format("{}\n", it->slot);
        if (prop == "node") return fmt::format("{}\n", it->node);
        if (prop == "memdev") return fmt::format("\"/objects/{}\"\n", it->memdev);
        return error_text(fmt::format("Property 'pc-dimm.{}' not found", prop));
    }
    auto vm = std::find_if(m_virtio_mems.begin(), m_virtio_mems.end(), [&](const auto& v) { return v.dev.id == id; });
    if (vm != m_virtio_mems.end()) {
        const VirtioMem& v = vm->dev;
        if (prop == "size") return fmt::format("{}\n", v.plugged_size());
        if (prop == "requested-size") return fmt::format("{}\n", v.requested_size);
        if (prop == "block-size") return fmt::format("{}\n", v.block_size);
        if (prop == "memaddr") return fmt::format("{}\n", v.addr);
        if (prop == "node") return fmt::format("{}\n", v.node);
        if (prop == "memdev") return fmt::format("\"/objects/{}\"\n", v.memdev);
        return error_text(fmt::format("Property 'virtio-mem-pci.{}' not found", prop));
    }
    if (id.starts_with("/objects/")) id.remove_prefix(9);
    auto b = std::find_if(m_backends.begin(), m_backends.end(), [&](const auto& x) { return x.id == id; });
    if (b != m_backends.end()) {
        if (prop == "size") return fmt::format("{}\n", b->size);
        if (prop == "share" || prop == "prealloc" || prop == "reserve" || prop == "merge" || prop == "dump") {
            const bool v = prop == "share" ? b->share : prop == "prealloc" ? b->prealloc : prop == "reserve" ? b->reserve
                         : prop == "merge" ? b->merge : b->dump;
            return v ? "true\n" : "false\n";
        }
        return error_text(fmt::format("Property '{}.{}' not found", b->qom_type, prop));
    }
    return error_text(fmt::format("Device '{}' not found", path));
}

std::string Machine::hmp_qom_set(std::string_view args)
{
    auto [path, rest] = split_first_word(args);
    auto [prop, value] = split_first_word(rest);
    std::string_view id = path;
    if (id.starts_with("/machine/peripheral/")) id.remove_prefix(20);
    auto vm = std::find_if(m_virtio_mems.begin(), m_virtio_mems.end(), [&](const auto& v) { return v.dev.id == id; });
    if (vm != m_virtio_mems.end()) {
        VirtioMem& v = vm->dev;
        if (prop == "block-size") return error_text("'block-size' cannot be changed");
        if (prop != "requested-size") {
            if (prop == "size" || prop == "memaddr" || prop == "node" || prop == "memdev")
                return error_text(fmt::format("Attempt to set property '{}' on device '{}' (type 'virtio-mem') after it "
                                              "was realized",
                                              prop, v.id));
            return error_text(fmt::format("Property 'virtio-mem-pci.{}' not found", prop));
        }
        auto size = parse_size(value, 'B');
        if (!size) return error_text(fmt::format("Parameter 'requested-size' expects a size"));
        if (*size % v.block_size)
            return error_text(fmt::format("'requested-size' has to be multiples of 'block-size' (0x{:x})", v.block_size));
        if (*size > v.region_size)
            return error_text(fmt::format("'requested-size' cannot exceed the memory backend size(0x{:x})", v.region_size));
        v.requested_size = *size;
        // The config change interrupt: the guest driver plugs or unplugs.
        if (vm->driver) vm->driver->run(*m_kernel, v);
        return {};
    }
    auto it = std::find_if(m_dimms.begin(), m_dimms.end(), [&](const PcDimm& d) { return d.id == id; });
    if (it != m_dimms.end()) {
        if (prop == "addr" || prop == "slot" || prop == "node" || prop == "memdev")
            return error_text(fmt::format("Attempt to set property '{}' on device '{}' (type 'pc-dimm') after it was "
                                          "realized",
                                          prop, it->id));
        if (prop == "size") return error_text(fmt::format("Property 'pc-dimm.{}' is not writable", prop));
        return error_text(fmt::format("Property 'pc-dimm.{}' not found", prop));
    }
    return error_text(fmt::format("Device '{}' not found", path));
}

std::string Machine::hmp_info(std::string_view args)
{
    auto [what, rest] = split_first_word(args);
    std::string out;
    if (what == "memory-devices") {
        for (const MemoryDeviceRange& r : memory_devices()) {
            auto d = std::find_if(m_dimms.begin(), m_dimms.end(), [&](const PcDimm& x) { return x.addr == r.addr; });
            if (d != m_dimms.end()) {
                out += fmt::format("Memory device [dimm]: \"{}\"\n", d->id);
                out += fmt::format("  addr: 0x{:x}\n  slot: {}\n  node: {}\n  size: {}\n", d->addr, d->slot, d->node,
                                   d->size);
                out += fmt::format("  memdev: /objects/{}\n", d->memdev);
                out += fmt::format("  hotplugged: {}\n  hotpluggable: true\n", d->hotplugged ? "true" : "false");
                continue;
            }
            for (const VirtioMemSlot& s : m_virtio_mems) {
                if (s.dev.addr != r.addr) continue;
                const VirtioMem& v = s.dev;
                out += fmt::format("Memory device [virtio-mem]: \"{}\"\n", v.id);
                out += fmt::format("  memaddr: 0x{:x}\n  node: {}\n  requested-size: {}\n  size: {}\n", v.addr, v.node,
                                   v.requested_size, v.plugged_size());
                out += fmt::format("  max-size: {}\n  block-size: {}\n  memdev: /objects/{}\n", v.region_size,
                                   v.block_size, v.memdev);
            }
        }
        return out;
    }
    if (what == "memdev") {
        // Backends in creation order, then the machine's own RAM ("pc.ram") unless
        // NUMA nodes took their memory from backends.
        std::vector<MemoryBackend> all = m_backends;
        if (std::none_of(m_config.numa.begin(), m_config.numa.end(), [](const NumaNode& n) { return !n.memdev.empty(); })) {
            MemoryBackend ram;
            ram.id = "pc.ram";
            ram.qom_type = "memory-backend-ram";
            ram.size = m_config.ram_size;
            all.push_back(ram);
        }
        for (const MemoryBackend& b : all) {
            out += fmt::format("memory backend: {}\n", b.id);
            out += fmt::format("  size:  {}\n", b.size);
            out += fmt::format("  merge: {}\n  dump: {}\n  prealloc: {}\n  share: {}\n", b.merge, b.dump, b.prealloc,
                               b.share);
            if (b.qom_type == "memory-backend-ram" || b.qom_type == "memory-backend-file")
                out += fmt::format("  reserve: {}\n", b.reserve);
            out += "  policy: default\n  host nodes: \n";
        }
        return out + "\n";
    }
    if (what == "numa") {
        const auto& numa = m_config.numa;
        out += fmt::format("{} nodes\n", numa.size());
        for (const NumaNode& n : numa) {
            // Memory devices count with what they plugged: a DIMM whole, virtio-mem its plugged size.
            uint64_t plugged = 0;
            for (const PcDimm& d : m_dimms)
                if (d.node == n.nodeid) plugged += d.size;
            for (const VirtioMemSlot& v : m_virtio_mems)
                if (v.dev.node == n.nodeid) plugged += v.dev.plugged_size();
            out += fmt::format("node {} cpus:", n.nodeid);
            for (int c : n.cpus) out += fmt::format(" {}", c);
            out += fmt::format("\nnode {} size: {} MB\nnode {} plugged: {} MB\n", n.nodeid, (n.size + plugged) >> 20,
                               n.nodeid, plugged >> 20);
        }
        return out;
    }
    return fmt::format("unknown command: 'info {}'\n", what);
}

}  // namespace memplug::machine
