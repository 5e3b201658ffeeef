// The guest's file namespace as the shell sees it: /sys, /proc, /dev/null.
// Paths are absolute and normalised ("/sys/devices/system/memory/memory32/state",
// no "." or "..", no trailing slash except "/"). Symlinks in the middle of a path
// are followed by the implementation; errors are the errno the syscall would give.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mm/result.h"

namespace memplug::views {

enum class NodeKind { File, Dir, Symlink };

class Vfs {
public:
    virtual ~Vfs() = default;

    // stat(2) (follow_last = true) or lstat(2). ENOENT, ENOTDIR.
    virtual KResult<NodeKind> stat(std::string_view path, bool follow_last) const = 0;

    // The permission bits stat(2) reports (0644, 0444, 0200 for attributes, 0755
    // for directories, 0777 for links), without following a last symlink.
    virtual KResult<unsigned> permissions(std::string_view path) const = 0;

    // readlink(2): the link text ("../../node/node0"). EINVAL if not a link.
    virtual KResult<std::string> readlink(std::string_view path) const = 0;

    // Names in a directory, in the order the kernel's readdir returns them where
    // the implementation knows it (GuestFs: sysfs by kernfs's name hash, tmpfs
    // newest first); callers that print sorted names sort. ENOENT, ENOTDIR.
    virtual KResult<std::vector<std::string>> list(std::string_view dir) const = 0;

    // open(O_RDONLY) + read to EOF. ENOENT, EISDIR, EACCES (write-only attribute).
    virtual KResult<std::string> read(std::string_view path) const = 0;

    // open(O_WRONLY|O_CREAT|O_TRUNC) alone: EACCES for read-only attributes and for
    // files that do not exist in a directory that does (sysfs cannot create),
    // ENOENT for a missing directory, EISDIR.
    virtual KResult<void> open_write(std::string_view path) = 0;

    // One write(2) of `data` to a file that open_write() accepted; the store's errno
    // (EINVAL, EBUSY, ...). A refused write changes nothing. Regular files take
    // the data at their end, as the file offset of a sequential writer is.
    virtual KResult<void> write(std::string_view path, std::string_view data) = 0;

    // --- regular files (the guest's tmpfs root); sysfs and procfs have none ---

    // open(O_WRONLY|O_CREAT|O_APPEND): as open_write() but keeps what is there.
    virtual KResult<void> open_append(std::string_view path) { return open_write(path); }
    // pread(2) of up to len bytes from offset; "" past the end.
    virtual KResult<std::string> read_range(std::string_view path, uint64_t offset, uint64_t len) const
    {
        auto all = read(path);
        if (!all) return all;
        return offset >= all->size() ? std::string() : all->substr(offset, len);
    }
    // pwrite(2) at `offset` of a regular file (the end of the file for others).
    virtual KResult<void> write_at(std::string_view path, uint64_t, std::string_view data) { return write(path, data); }
    // st_size of a regular file; nullopt for attributes, directories and links.
    virtual std::optional<uint64_t> regular_file_size(std::string_view) const { return std::nullopt; }
    // unlink(2): EPERM where the filesystem cannot remove (sysfs, procfs), ENOENT, EISDIR.
    virtual KResult<void> unlink(std::string_view path)
    {
        auto kind = stat(path, false);
        if (!kind) return tl::unexpected(kind.error());
        return kerr(*kind == NodeKind::Dir ? EISDIR : EPERM);
    }
    // syslog(2), which busybox dmesg calls as klogctl(): READ_ALL and
    // READ_CLEAR give the ring as "<level>[    S.UUUUUU] text" lines, oldest
    // first; READ_CLEAR and CLEAR empty it; CONSOLE_LEVEL (dmesg -n) sets the
    // console's level to `level` (1..8, else EINVAL), which no transcript sees.
    // ENOSYS where there is no kernel.
    enum class SyslogAction { ReadAll = 3, ReadClear = 4, Clear = 5, ConsoleLevel = 8 };
    virtual KResult<std::string> syslog(SyslogAction, int /*level*/ = 0) { return kerr(ENOSYS); }

    // truncate(2) to `size`, creating nothing: ENOENT, EISDIR, EPERM for attributes.
    virtual KResult<void> truncate(std::string_view path, uint64_t)
    {
        auto kind = stat(path, true);
        if (!kind) return tl::unexpected(kind.error());
        return kerr(*kind == NodeKind::Dir ? EISDIR : EPERM);
    }
};

}  // namespace memplug::views
