// The guest's /sys, /proc and /dev/null over the kernel model: the Vfs the
// shell reads and writes. Files are rendered on each read from live state, as
// sysfs show() callbacks do; writes go through the store() semantics.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mm/kernel.h"
#include "views/vfs.h"

namespace memplug::views {

// One node of the tree, produced on demand for a canonical path.
struct VNode {
    NodeKind kind = NodeKind::File;
    bool readable = true;
    bool writable = false;
    std::function<std::string()> show;                       // File
    std::function<KResult<void>(std::string_view)> store;    // File, when writable
    std::function<std::vector<std::string>()> children;      // Dir
    std::string link;                                        // Symlink: relative target
};

class GuestFs final : public Vfs {
public:
    explicit GuestFs(mm::Kernel& kernel) : m_kernel(kernel) {}

    KResult<NodeKind> stat(std::string_view path, bool follow_last) const override;
    KResult<std::string> readlink(std::string_view path) const override;
    KResult<unsigned> permissions(std::string_view path) const override;
    KResult<std::vector<std::string>> list(std::string_view dir) const override;
    KResult<std::string> read(std::string_view path) const override;
    KResult<void> open_write(std::string_view path) override;
    KResult<void> write(std::string_view path, std::string_view data) override;

private:
    // Canonical components with every symlink resolved (the last one only if follow_last).
    KResult<std::vector<std::string>> resolve(std::string_view path, bool follow_last) const;
    std::optional<VNode> lookup(const std::vector<std::string>& components) const;

    mm::Kernel& m_kernel;
    // /sys/devices/<firmware path> -> a block whose firmware_node is there or below.
    mutable std::map<std::string, mm::BlockId> m_firmware_witness;
};

}  // namespace memplug::views
