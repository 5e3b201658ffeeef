// The guest's /sys, /proc and /dev/null over the kernel model: the Vfs the
// shell reads and writes. Files are rendered on each read from live state, as
// sysfs show() callbacks do; writes go through the store() semantics.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "drivers/virtio_mem.h"
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
    unsigned mode = 0;  // permission bits where the kernel's differ from readable/writable's 0444, 0644, 0200
};

class GuestFs final : public Vfs {
public:
    // The guest kernel, and the loaded modules' parameters the model has (/sys/module).
    GuestFs(mm::Kernel& kernel, drivers::VirtioMemParams& virtio_mem);
    // The path (as written, no link followed) is in the initramfs's tmpfs root,
    // not in the devtmpfs, procfs or sysfs mounted on it.
    static bool in_tmpfs_root(std::string_view path);

    KResult<NodeKind> stat(std::string_view path, bool follow_last) const override;
    KResult<std::string> readlink(std::string_view path) const override;
    KResult<unsigned> permissions(std::string_view path) const override;
    KResult<std::vector<std::string>> list(std::string_view dir) const override;
    KResult<std::string> read(std::string_view path) const override;
    KResult<void> open_write(std::string_view path) override;
    KResult<void> write(std::string_view path, std::string_view data) override;
    KResult<void> open_append(std::string_view path) override;
    KResult<std::string> read_range(std::string_view path, uint64_t offset, uint64_t len) const override;
    KResult<void> write_at(std::string_view path, uint64_t offset, std::string_view data) override;
    std::optional<uint64_t> regular_file_size(std::string_view path) const override;
    KResult<void> unlink(std::string_view path) override;
    KResult<void> truncate(std::string_view path, uint64_t size) override;
    KResult<std::string> syslog(SyslogAction action, int level = 0) override;

    // A directory's subdirectories, for its link count (2 + this, as kernfs and
    // procfs count). Unlike stat() of each, it instantiates no dentry of the children.
    KResult<unsigned> subdirectory_count(std::string_view dir) const;

private:
    // The tmpfs root: the recorder's initramfs directories, and the files the
    // guest makes, each a shmem inode of the kernel model. Keyed by canonical path.
    struct TmpfsEntry {
        bool is_dir = false;
        mm::InodeId ino = 0;
        uint64_t created = 0;  // creation order, for readdir (0: the initramfs's)
    };
    std::optional<VNode> lookup_tmpfs(const std::vector<std::string>& components) const;
    const TmpfsEntry* tmpfs_file(std::string_view path) const;
    KResult<void> open_tmpfs(std::string_view path, bool truncate);

    // Canonical components with every symlink resolved (the last one only if follow_last).
    KResult<std::vector<std::string>> resolve(std::string_view path, bool follow_last) const;
    std::optional<VNode> lookup(const std::vector<std::string>& components) const;

    mm::Kernel& m_kernel;
    drivers::VirtioMemParams& m_virtio_mem;
    // sysfs and procfs paths whose dentry and inode the guest has instantiated
    // (the first lookup allocates them: kernel slab memory).
    mutable std::set<std::string, std::less<>> m_instantiated;
    std::map<std::string, TmpfsEntry, std::less<>> m_tmpfs;
    uint64_t m_tmpfs_created = 0;
    // /sys/devices/<firmware path> -> a block whose firmware_node is there or below.
    mutable std::map<std::string, mm::BlockId> m_firmware_witness;
};

}  // namespace memplug::views
