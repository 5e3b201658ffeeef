// Building blocks for sysfs and procfs nodes, and the kernel's string parsers
// that store() callbacks use (lib/string.c, lib/kstrtox.c).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/virtio_mem.h"
#include "mm/kernel.h"
#include "mm/kstrtox.h"
#include "views/guest_fs.h"

namespace memplug::views {

using Path = std::span<const std::string>;

inline VNode attr_ro(std::function<std::string()> show)
{
    return VNode{NodeKind::File, true, false, std::move(show), {}, {}, {}};
}
inline VNode attr_rw(std::function<std::string()> show, std::function<KResult<void>(std::string_view)> store)
{
    return VNode{NodeKind::File, true, true, std::move(show), std::move(store), {}, {}};
}
inline VNode attr_wo(std::function<KResult<void>(std::string_view)> store)
{
    return VNode{NodeKind::File, false, true, {}, std::move(store), {}, {}};
}
inline VNode dir(std::function<std::vector<std::string>()> children)
{
    return VNode{NodeKind::Dir, true, false, {}, {}, std::move(children), {}};
}
// An attribute the kernel creates with other permission bits (root-only files).
inline VNode with_mode(VNode node, unsigned mode)
{
    node.mode = mode;
    return node;
}
inline VNode symlink(std::string target) { return VNode{NodeKind::Symlink, true, false, {}, {}, {}, std::move(target)}; }

// sysfs_streq: equal, ignoring one trailing newline on either side.
bool sysfs_streq(std::string_view a, std::string_view b);
using mm::kstrtobool;
using mm::kstrtoull;

// The online-type strings of drivers/base/memory.c.
std::optional<mm::MmopType> mhp_online_type_from_str(std::string_view s);
std::string_view online_type_to_str(mm::MmopType t);

// valid_zones_show: the block's zone when online ("none" when it spans two), or where
// an online would put it: the default first, then the others.
std::string valid_zones_show(const mm::Kernel& k, const mm::MemoryBlock& mem);

// "memoryN" as drivers/base/memory.c names a block device (no leading zeros):
// the block id, found without listing the directory.
std::optional<mm::BlockId> parse_block_name(std::string_view name);

// Each subtree answers for the components below its root.
std::optional<VNode> lookup_sys_memory(mm::Kernel& k, Path rest);
std::optional<VNode> lookup_sys_node(mm::Kernel& k, Path rest);
std::optional<VNode> lookup_sys_module(mm::Kernel& k, drivers::VirtioMemParams& virtio_mem, Path rest);
std::optional<VNode> lookup_proc(mm::Kernel& k, Path rest);
std::optional<VNode> lookup_sys_kernel(mm::Kernel& k, Path rest);
// A device's power/ directory (drivers/base/power/sysfs.c, runtime PM unsupported).
std::optional<VNode> lookup_device_power(Path rest);
std::optional<VNode> lookup_node_hugepages(mm::Kernel& k, mm::NodeId nid, Path rest);

}  // namespace memplug::views
