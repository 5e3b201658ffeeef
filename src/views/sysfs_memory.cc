// /sys/devices/system/memory (drivers/base/memory.c): the block devices and
// their attributes, with the store() semantics that decide errnos.
#include <fmt/format.h>

#include "views/sysfs_attr.h"

namespace memplug::views {

std::string valid_zones_show(const mm::Kernel& k, const mm::MemoryBlock& mem)
{
    if (mem.state == mm::MemState::Online) {
        if (!mem.zone) return "none\n";
        return fmt::format("{}\n", mm::zone_name(*mem.zone));
    }
    const mm::Pfn start = mm::section_nr_to_pfn(mem.start_section_nr);
    const mm::PageCount nr = k.pages_per_block();
    const mm::ZoneType def = k.zone_for_pfn_range(mm::MmopType::Online, mem.nid, mem.group, start, nr);
    std::string out(mm::zone_name(def));
    for (mm::MmopType t : {mm::MmopType::OnlineKernel, mm::MmopType::OnlineMovable}) {
        const mm::ZoneType z = k.zone_for_pfn_range(t, mem.nid, mem.group, start, nr);
        if (z != def) out += fmt::format(" {}", mm::zone_name(z));
    }
    return out + "\n";
}

namespace {

using mm::BlockId;
using mm::Kernel;
using mm::MemoryBlock;
using mm::MemState;
using mm::MmopType;

std::string_view state_name(MemState s)
{
    switch (s) {
    case MemState::Online: return "online";
    case MemState::GoingOffline: return "going-offline";
    case MemState::Offline: return "offline";
    }
    return "offline";
}

// state_store: parse first (EINVAL before any locking), remember the type,
// then online or offline; "already so" (1) becomes EINVAL.
KResult<void> state_store(Kernel& k, BlockId id, std::string_view buf)
{
    const auto type = mhp_online_type_from_str(buf);
    if (!type) return kerr(EINVAL, "unknown online type");
    KResult<int> r;
    if (*type == MmopType::Offline) {
        r = k.device_offline(id);
    } else {
        k.set_online_type(id, *type);
        r = k.device_online(id);
    }
    if (!r) return tl::unexpected(r.error());
    if (*r) return kerr(EINVAL, "already in that state");
    return {};
}

// online_store (drivers/base/core.c): here "already so" is success.
KResult<void> online_store(Kernel& k, BlockId id, std::string_view buf)
{
    const auto val = kstrtobool(buf);
    if (!val) return kerr(EINVAL, "not a boolean");
    auto r = *val ? k.device_online(id) : k.device_offline(id);
    if (!r) return tl::unexpected(r.error());
    return {};
}

// soft/hard_offline_page take a physical address (any byte of the page).
KResult<void> offline_page_store(Kernel& k, std::string_view buf, bool soft)
{
    const auto addr = kstrtoull(buf, 0);
    if (!addr) return kerr(EINVAL, "not an address");
    const mm::Pfn pfn = mm::Pfn::from_phys(*addr);
    return soft ? k.soft_offline_page(pfn) : k.memory_failure(pfn);
}

std::vector<std::string> power_children()
{
    return {"async", "autosuspend_delay_ms", "control", "runtime_active_kids", "runtime_active_time",
            "runtime_enabled", "runtime_status", "runtime_suspended_time", "runtime_usage"};
}

}  // namespace

std::optional<VNode> lookup_device_power(Path rest)
{
    if (rest.empty()) return dir(power_children);
    if (rest.size() != 1) return std::nullopt;
    const std::string& f = rest[0];
    // Runtime PM of a device (memory blocks, nodes and their roots): the values drivers/base/power/sysfs.c accepts, to no effect here.
    auto one_of = [](std::string_view a, std::string_view b) {
        return [a, b](std::string_view v) -> KResult<void> {
            if (sysfs_streq(v, a) || sysfs_streq(v, b)) return {};
            return kerr(EINVAL, "not a power setting");
        };
    };
    if (f == "control") return attr_rw([] { return std::string("auto\n"); }, one_of("auto", "on"));
    if (f == "async") return attr_rw([] { return std::string("disabled\n"); }, one_of("enabled", "disabled"));
    if (f == "runtime_status") return attr_ro([] { return std::string("unsupported\n"); });
    if (f == "runtime_enabled") return attr_ro([] { return std::string("disabled\n"); });
    if (f == "autosuspend_delay_ms") return attr_rw([] { return std::string(); }, [](std::string_view) { return KResult<void>(kerr(EIO)); });
    for (const std::string& name : power_children())
        if (name == f) return attr_ro([] { return std::string("0\n"); });
    return std::nullopt;
}

namespace {

std::optional<VNode> lookup_block(Kernel& k, BlockId id, Path rest)
{
    const MemoryBlock* mem = k.find_memory_block(id);
    if (!mem) return std::nullopt;
    const std::string node_link = fmt::format("node{}", mem->nid);
    const std::string fwnode = mem->firmware_node;
    if (rest.empty()) {
        return dir([node_link, fwnode] {
            std::vector<std::string> names{node_link, "online", "phys_device", "phys_index", "power",
                                           "removable", "state", "subsystem", "uevent", "valid_zones"};
            if (!fwnode.empty()) names.push_back("firmware_node");
            return names;
        });
    }
    const std::string& f = rest[0];
    if (f == "power") return lookup_device_power(rest.subspan(1));
    if (rest.size() != 1) return std::nullopt;
    if (f == node_link) return symlink(fmt::format("../../node/node{}", mem->nid));
    if (f == "subsystem") return symlink("../../../../bus/memory");
    if (f == "firmware_node" && !fwnode.empty()) return symlink(fwnode);
    auto block = [&k, id]() -> const MemoryBlock& { return *k.find_memory_block(id); };
    if (f == "state")
        return attr_rw([block] { return fmt::format("{}\n", state_name(block().state)); },
                       [&k, id](std::string_view b) { return state_store(k, id, b); });
    if (f == "online")
        return attr_rw([block] { return std::string(block().state == MemState::Offline ? "0\n" : "1\n"); },
                       [&k, id](std::string_view b) { return online_store(k, id, b); });
    if (f == "phys_index") return attr_ro([id] { return fmt::format("{:08x}\n", id.value()); });
    if (f == "phys_device") return attr_ro([] { return std::string("0\n"); });
    if (f == "removable") return attr_ro([] { return std::string("1\n"); });
    if (f == "valid_zones") return attr_ro([&k, block] { return valid_zones_show(k, block()); });
    if (f == "uevent") return attr_rw([] { return std::string(); }, [](std::string_view) -> KResult<void> { return {}; });
    return std::nullopt;
}

}  // namespace

std::optional<VNode> lookup_sys_memory(Kernel& k, Path rest)
{
    if (rest.empty()) {
        return dir([&k] {
            std::vector<std::string> names{"auto_online_blocks", "block_size_bytes", "hard_offline_page", "power",
                                           "soft_offline_page", "uevent"};
            for (const auto& [id, mem] : k.memory_blocks()) names.push_back(fmt::format("memory{}", id.value()));
            return names;
        });
    }
    const std::string& f = rest[0];
    if (auto id = parse_block_name(f)) return lookup_block(k, *id, rest.subspan(1));
    if (f == "power") return lookup_device_power(rest.subspan(1));
    if (rest.size() != 1) return std::nullopt;
    if (f == "block_size_bytes") return attr_ro([&k] { return fmt::format("{:x}\n", k.memory_block_size_bytes()); });
    if (f == "auto_online_blocks")
        return attr_rw([&k] { return fmt::format("{}\n", online_type_to_str(k.params().mhp_default_online_type)); },
                       [&k](std::string_view b) -> KResult<void> {
                           const auto t = mhp_online_type_from_str(b);
                           if (!t) return kerr(EINVAL, "unknown online type");
                           k.params().mhp_default_online_type = *t;
                           return {};
                       });
    if (f == "soft_offline_page" || f == "hard_offline_page")
        return attr_wo([&k, soft = f == "soft_offline_page"](std::string_view b) { return offline_page_store(k, b, soft); });
    if (f == "uevent") return attr_rw([] { return std::string(); }, [](std::string_view) -> KResult<void> { return {}; });
    return std::nullopt;
}

}  // namespace memplug::views
