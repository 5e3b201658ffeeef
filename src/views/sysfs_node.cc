// /sys/devices/system/node (drivers/base/node.c) and /sys/module/memory_hotplug.
#include <fmt/format.h>

#include "views/procfs.h"
#include "views/sysfs_attr.h"

namespace memplug::views {

namespace {

using mm::Kernel;
using mm::ZoneType;

// "%*pbl": a list of ranges, "0-1,3".
std::string nodelist(const std::vector<int>& ids)
{
    std::string out;
    for (size_t i = 0; i < ids.size();) {
        size_t j = i;
        while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += j == i ? fmt::format("{}", ids[i]) : fmt::format("{}-{}", ids[i], ids[j]);
        i = j + 1;
    }
    return out + "\n";
}

bool node_has_memory(const mm::PgData& p, bool normal_only)
{
    for (const mm::Zone& z : p.node_zones) {
        if (normal_only && (z.type == ZoneType::Movable || z.type == ZoneType::Device)) continue;
        if (z.populated_zone()) return true;
    }
    return false;
}

std::vector<int> nodes_where(const Kernel& k, const std::function<bool(const mm::PgData&)>& pred)
{
    std::vector<int> ids;
    for (const mm::PgData& p : k.nodes())
        if (pred(p)) ids.push_back(p.node_id);
    return ids;
}

std::optional<VNode> lookup_one_node(Kernel& k, int nid, Path rest)
{
    if (!k.node_online(nid)) return std::nullopt;
    if (rest.empty()) {
        return dir([&k, nid] {
            std::vector<std::string> names{"compact", "cpulist", "cpumap", "distance", "hugepages", "meminfo",
                                           "numastat", "power", "subsystem", "uevent", "vmstat", "x86"};
            for (int cpu : k.node_cpus(nid)) names.push_back(fmt::format("cpu{}", cpu));
            for (const auto& [id, mem] : k.memory_blocks())
                if (mem.nid == nid) names.push_back(fmt::format("memory{}", id.value()));
            return names;
        });
    }
    const std::string& f = rest[0];
    if (f == "hugepages") return lookup_node_hugepages(k, nid, rest.subspan(1));
    if (f == "power") return lookup_device_power(rest.subspan(1));
    if (rest.size() != 1) return std::nullopt;
    if (f.starts_with("memory")) {
        // One block by its id, not by scanning the node's blocks: loops over links stay linear.
        const auto id = parse_block_name(f);
        const mm::MemoryBlock* mem = id ? k.find_memory_block(*id) : nullptr;
        if (!mem || mem->nid != nid) return std::nullopt;
        return symlink(fmt::format("../../memory/{}", f));
    }
    if (f == "subsystem") return symlink("../../../../bus/node");
    for (int cpu : k.node_cpus(nid))
        if (f == fmt::format("cpu{}", cpu)) return symlink(fmt::format("../../cpu/cpu{}", cpu));
    if (f == "cpulist") return attr_ro([&k, nid] { return nodelist(k.node_cpus(nid)); });
    if (f == "cpumap")
        return attr_ro([&k, nid] {
            uint64_t mask = 0;
            for (int c : k.node_cpus(nid)) mask |= uint64_t{1} << c;
            return fmt::format("{:x}\n", mask);
        });
    if (f == "distance")
        return attr_ro([&k, nid] {
            std::string out;
            for (const mm::PgData& p : k.nodes()) {
                if (!k.node_online(p.node_id)) continue;
                out += fmt::format("{}{}", out.empty() ? "" : " ", p.node_id == nid ? 10 : 20);
            }
            return out + "\n";
        });
    if (f == "meminfo") return attr_ro([&k, nid] { return node_meminfo_show(k, nid); });
    if (f == "uevent") return attr_rw([] { return std::string(); }, [](std::string_view) -> KResult<void> { return {}; });
    if (f == "compact") return attr_wo([](std::string_view) -> KResult<void> { return {}; });
    if (f == "x86") return dir([] { return std::vector<std::string>{}; });
    if (f == "numastat" || f == "vmstat") return attr_ro([] { return std::string(); });
    return std::nullopt;
}

}  // namespace

std::optional<VNode> lookup_sys_node(Kernel& k, Path rest)
{
    if (rest.empty()) {
        return dir([&k] {
            std::vector<std::string> names{"has_cpu", "has_generic_initiator", "has_memory", "has_normal_memory",
                                           "online", "possible", "power", "uevent"};
            for (const mm::PgData& p : k.nodes())
                if (k.node_online(p.node_id)) names.push_back(fmt::format("node{}", p.node_id));
            return names;
        });
    }
    const std::string& f = rest[0];
    if (f == "power") return lookup_device_power(rest.subspan(1));
    // "nodeN" with N as the kernel prints it: no leading zeros, below MAX_NUMNODES.
    if (f.starts_with("node") && f.size() > 4 && f.size() <= 6 && f.find_first_not_of("0123456789", 4) == std::string::npos &&
        (f.size() == 5 || f[4] != '0'))
        return lookup_one_node(k, std::stoi(f.substr(4)), rest.subspan(1));
    if (rest.size() != 1) return std::nullopt;
    if (f == "possible")
        return attr_ro([&k] { return nodelist(nodes_where(k, [](const mm::PgData&) { return true; })); });
    if (f == "online")
        return attr_ro([&k] { return nodelist(nodes_where(k, [&k](const mm::PgData& p) { return k.node_online(p.node_id); })); });
    if (f == "has_memory")
        return attr_ro([&k] { return nodelist(nodes_where(k, [](const mm::PgData& p) { return node_has_memory(p, false); })); });
    if (f == "has_normal_memory")
        return attr_ro([&k] { return nodelist(nodes_where(k, [](const mm::PgData& p) { return node_has_memory(p, true); })); });
    if (f == "has_cpu")
        return attr_ro([&k] { return nodelist(nodes_where(k, [&k](const mm::PgData& p) { return !k.node_cpus(p.node_id).empty(); })); });
    if (f == "has_generic_initiator") return attr_ro([] { return std::string("\n"); });
    if (f == "uevent") return attr_rw([] { return std::string(); }, [](std::string_view) -> KResult<void> { return {}; });
    return std::nullopt;
}

namespace {

// /sys/module/virtio_mem/parameters: the driver's module parameters.
std::optional<VNode> lookup_virtio_mem_params(drivers::VirtioMemParams& p, Path rest)
{
    if (rest.empty())
        return dir([] {
            return std::vector<std::string>{"bbm_block_size", "bbm_safe_unplug", "force_bbm", "unplug_online"};
        });
    if (rest.size() != 1) return std::nullopt;
    auto yn = [](bool b) { return std::string(b ? "Y\n" : "N\n"); };
    const std::string& f = rest[0];
    if (f == "bbm_block_size") return attr_ro([&p] { return fmt::format("{}\n", p.bbm_block_size); });
    if (f == "bbm_safe_unplug") return attr_ro([&p, yn] { return yn(p.bbm_safe_unplug); });
    if (f == "force_bbm") return attr_ro([&p, yn] { return yn(p.force_bbm); });
    if (f == "unplug_online")
        return attr_rw([&p, yn] { return yn(p.unplug_online); }, [&p](std::string_view b) -> KResult<void> {
            const auto v = kstrtobool(b);
            if (!v) return kerr(EINVAL, "not a boolean");
            p.unplug_online = *v;
            return {};
        });
    return std::nullopt;
}

}  // namespace

std::optional<VNode> lookup_sys_module(Kernel& k, drivers::VirtioMemParams& virtio_mem, Path rest)
{
    // memory_hotplug (mm/memory_hotplug.c) and virtio_mem, the modules the guest's memory hotplug uses.
    if (rest.empty()) return dir([] { return std::vector<std::string>{"memory_hotplug", "virtio_mem"}; });
    if (rest[0] == "virtio_mem") {
        if (rest.size() == 1) return dir([] { return std::vector<std::string>{"parameters", "uevent"}; });
        if (rest[1] == "parameters") return lookup_virtio_mem_params(virtio_mem, rest.subspan(2));
        if (rest[1] == "uevent" && rest.size() == 2)
            return attr_wo([](std::string_view) -> KResult<void> { return {}; });
        return std::nullopt;
    }
    if (rest[0] != "memory_hotplug") return std::nullopt;
    if (rest.size() == 1) return dir([] { return std::vector<std::string>{"parameters", "uevent"}; });
    if (rest[1] == "uevent" && rest.size() == 2)
        return attr_wo([](std::string_view) -> KResult<void> { return {}; });
    if (rest[1] != "parameters") return std::nullopt;
    if (rest.size() == 2)
        return dir([] {
            return std::vector<std::string>{"auto_movable_numa_aware", "auto_movable_ratio", "memmap_on_memory",
                                            "online_policy"};
        });
    if (rest.size() != 3) return std::nullopt;
    const std::string& f = rest[2];
    mm::HotplugParams& p = k.params();
    if (f == "memmap_on_memory") return attr_ro([&p] { return std::string(p.memmap_on_memory ? "Y\n" : "N\n"); });
    if (f == "auto_movable_numa_aware")
        return attr_rw([&p] { return std::string(p.auto_movable_numa_aware ? "Y\n" : "N\n"); },
                       [&p](std::string_view b) -> KResult<void> {
                           const auto v = kstrtobool(b);
                           if (!v) return kerr(EINVAL, "not a boolean");
                           p.auto_movable_numa_aware = *v;
                           return {};
                       });
    if (f == "auto_movable_ratio")
        return attr_rw([&p] { return fmt::format("{}\n", p.auto_movable_ratio); },
                       [&p](std::string_view b) -> KResult<void> {
                           const unsigned v = MP_TRY(kstrtoull(b, 0, UINT32_MAX));
                           p.auto_movable_ratio = v;
                           return {};
                       });
    if (f == "online_policy")
        return attr_rw([&p] {
                           return std::string(p.online_policy == mm::OnlinePolicy::AutoMovable ? "auto-movable\n"
                                                                                               : "contig-zones\n");
                       },
                       [&p](std::string_view b) -> KResult<void> {
                           if (sysfs_streq(b, "contig-zones")) p.online_policy = mm::OnlinePolicy::ContigZones;
                           else if (sysfs_streq(b, "auto-movable")) p.online_policy = mm::OnlinePolicy::AutoMovable;
                           else return kerr(EINVAL, "unknown policy");
                           return {};
                       });
    return std::nullopt;
}

}  // namespace memplug::views
