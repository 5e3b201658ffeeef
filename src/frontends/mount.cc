#include "frontends/mount.h"

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace memplug::fe {

namespace {

// sysfs attributes report PAGE_SIZE as their size and take at most that much per
// write(2); procfs files and debugfs's report 0.
constexpr size_t k_page_size = 4096;

bool under(std::string_view path, std::string_view root)
{
    return path.starts_with(root) && (path.size() == root.size() || path[root.size()] == '/');
}
bool in_sysfs(std::string_view path) { return under(path, "/sys") && !under(path, "/sys/kernel/debug"); }
// The guest's root is the initramfs's tmpfs: files there are shmem inodes of the model.
bool in_tmpfs(std::string_view path) { return views::GuestFs::in_tmpfs_root(path); }
// The guest's /dev holds the memory character devices: the mount's are nodes of
// the host's (1:3, 1:5, 1:9), which the host's kernel opens itself.
std::optional<dev_t> memory_device(std::string_view path)
{
    if (path == "/dev/null") return makedev(1, 3);
    if (path == "/dev/zero") return makedev(1, 5);
    if (path == "/dev/urandom") return makedev(1, 9);
    return std::nullopt;
}

std::string child_path(const std::string& dir, const char* name)
{
    return dir == "/" ? "/" + std::string(name) : dir + "/" + name;
}

std::string parent_path(const std::string& path)
{
    const size_t slash = path.rfind('/');
    return slash == 0 ? "/" : path.substr(0, slash);
}

struct FileHandle {
    std::string path;
    bool append = false;  // O_APPEND on a tmpfs file: every write at its end
    // What the last read at offset 0 rendered: later offsets read the same
    // rendering, as seq_file does, so a reader in pieces never sees two states.
    std::string rendered;
    bool have_rendered = false;
};

struct DirHandle {
    std::vector<std::pair<std::string, fuse_ino_t>> entries;  // ".", "..", then the names
};

// The open files' state. The table owns it: a RELEASE still on its way when the
// mount ends never arrives, and what it would have freed goes with the table.
template <class Handle>
class HandleTable {
public:
    uint64_t add(std::unique_ptr<Handle> h)
    {
        std::lock_guard lock(m_lock);
        const auto key = reinterpret_cast<uint64_t>(h.get());
        m_open.emplace(key, std::move(h));
        return key;
    }
    static Handle& get(const fuse_file_info* fi) { return *reinterpret_cast<Handle*>(fi->fh); }
    void remove(const fuse_file_info* fi)
    {
        std::lock_guard lock(m_lock);
        m_open.erase(fi->fh);
    }

private:
    std::mutex m_lock;  // the table's own: release and open need not wait for the model
    std::unordered_map<uint64_t, std::unique_ptr<Handle>> m_open;
};

// The FUSE requests against one LiveGuest. Node ids are paths, numbered on
// first sight and kept for the life of the mount (a path that goes away and
// comes back gets its old number, as a reused memory block id would).
class MountFs {
public:
    explicit MountFs(LiveGuest& guest)
        : m_guest(guest), m_uid(getuid()), m_gid(getgid()), m_mounted_at(std::time(nullptr))
    {
        m_paths = {"", "/"};  // FUSE_ROOT_ID is 1
        m_ids["/"] = FUSE_ROOT_ID;
    }

    static MountFs& of(fuse_req_t req) { return *static_cast<MountFs*>(fuse_req_userdata(req)); }

    static fuse_entry_param entry_of(const struct stat& st)
    {
        fuse_entry_param e{};
        e.ino = st.st_ino;
        e.attr = st;
        return e;
    }

    void lookup(fuse_req_t req, fuse_ino_t parent, const char* name)
    {
        std::unique_lock lock(m_guest.lock());
        const std::string path = child_path(m_paths.at(parent), name);
        // A lookup answers with the link count a directory has at least; stat(2)
        // asks again (the attributes time out at once) and counts the subdirectories.
        auto st = attributes(path, false);
        lock.unlock();
        if (!st) return reply_err(req, st.error().err);
        const fuse_entry_param e = entry_of(*st);
        fuse_reply_entry(req, &e);
    }

    void getattr(fuse_req_t req, fuse_ino_t ino)
    {
        std::unique_lock lock(m_guest.lock());
        auto st = attributes(m_paths.at(ino), true);
        lock.unlock();
        if (!st) return reply_err(req, st.error().err);
        fuse_reply_attr(req, &*st, 0.0);
    }

    // sysfs lets root set times and sizes (accepted here, not kept); owners and modes stay the guest's.
    void setattr(fuse_req_t req, fuse_ino_t ino, int to_set)
    {
        std::unique_lock lock(m_guest.lock());
        auto st = attributes(m_paths.at(ino), true);
        lock.unlock();
        if (!st) return reply_err(req, st.error().err);
        if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) return reply_err(req, EPERM);
        if ((to_set & FUSE_SET_ATTR_SIZE) && S_ISDIR(st->st_mode)) return reply_err(req, EISDIR);
        fuse_reply_attr(req, &*st, 0.0);
    }

    // truncate(2) of a tmpfs file changes the model; sysfs accepts and ignores it (above).
    void setattr_size(fuse_req_t req, fuse_ino_t ino, off_t size)
    {
        std::unique_lock lock(m_guest.lock());
        const std::string& path = m_paths.at(ino);
        if (auto r = m_guest.fs().truncate(path, uint64_t(size)); !r) return reply_err(req, r.error().err);
        m_guest.after_change();
        auto st = attributes(path, true);
        lock.unlock();
        if (!st) return reply_err(req, st.error().err);
        fuse_reply_attr(req, &*st, 0.0);
    }

    // O_CREAT of a new name: only the tmpfs root's directories create.
    void create(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_file_info* fi)
    {
        std::unique_lock lock(m_guest.lock());
        const std::string path = child_path(m_paths.at(parent), name);
        if (!in_tmpfs(path)) return reply_err(req, EACCES);  // lookup_open's errno without ->create
        if (auto r = m_guest.fs().open_write(path); !r) return reply_err(req, r.error().err);
        m_guest.after_change();
        auto st = attributes(path, false);
        lock.unlock();
        if (!st) return reply_err(req, st.error().err);
        const fuse_entry_param e = entry_of(*st);
        fi->direct_io = 1;
        fi->keep_cache = 0;
        fi->fh = m_files.add(std::make_unique<FileHandle>(FileHandle{path, (fi->flags & O_APPEND) != 0, {}, false}));
        if (fuse_reply_create(req, &e, fi) != 0) m_files.remove(fi);
    }

    void unlink(fuse_req_t req, fuse_ino_t parent, const char* name)
    {
        std::unique_lock lock(m_guest.lock());
        const std::string path = child_path(m_paths.at(parent), name);
        // The shell's unlink: tmpfs removes, sysfs and procfs refuse with the kernel's errno.
        auto r = m_guest.fs().unlink(path);
        if (r) m_guest.after_change();
        lock.unlock();
        reply_err(req, r ? 0 : r.error().err);
    }

    void readlink(fuse_req_t req, fuse_ino_t ino)
    {
        std::unique_lock lock(m_guest.lock());
        auto link = m_guest.fs().readlink(m_paths.at(ino));
        lock.unlock();
        if (!link) return reply_err(req, link.error().err);
        fuse_reply_readlink(req, link->c_str());
    }

    void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi)
    {
        std::unique_lock lock(m_guest.lock());
        const std::string path = m_paths.at(ino);
        views::Vfs& fs = m_guest.fs();
        const int acc = fi->flags & O_ACCMODE;
        // kernfs refuses to open for reading an attribute without show(), and for
        // writing one without store(), whatever the caller's privileges.
        if (acc != O_WRONLY) {
            auto perm = fs.permissions(path);
            if (!perm) return reply_err(req, perm.error().err);
            if (!(*perm & 0444)) return reply_err(req, EACCES);
        }
        if (acc != O_RDONLY && in_tmpfs(path)) {
            // O_TRUNC comes with the open (atomic_o_trunc).
            if (fi->flags & O_TRUNC) {
                if (auto t = fs.truncate(path, 0); !t) return reply_err(req, t.error().err);
                m_guest.after_change();
            }
        } else if (acc != O_RDONLY) {
            // O_TRUNC means nothing to an attribute.
            if (auto w = fs.open_write(path); !w) return reply_err(req, w.error().err);
        }
        lock.unlock();
        fi->direct_io = 1;
        fi->keep_cache = 0;
        fi->fh = m_files.add(std::make_unique<FileHandle>(FileHandle{path, (fi->flags & O_APPEND) != 0, {}, false}));
        if (fuse_reply_open(req, fi) != 0) m_files.remove(fi);  // the opener was interrupted
    }

    void read(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi)
    {
        FileHandle& h = HandleTable<FileHandle>::get(fi);
        std::unique_lock lock(m_guest.lock());
        if (in_tmpfs(h.path)) {  // a file's page cache, read where asked
            auto piece = m_guest.fs().read_range(h.path, uint64_t(off), size);
            lock.unlock();
            if (!piece) return reply_err(req, piece.error().err);
            fuse_reply_buf(req, piece->data(), piece->size());
            return;
        }
        if (off == 0 || !h.have_rendered) {
            auto text = m_guest.fs().read(h.path);
            if (!text) return reply_err(req, text.error().err);
            h.rendered = std::move(*text);
            h.have_rendered = true;
        }
        const size_t from = std::min(h.rendered.size(), size_t(off));
        const std::string piece = h.rendered.substr(from, size);
        lock.unlock();
        fuse_reply_buf(req, piece.data(), piece.size());
    }

    void write(fuse_req_t req, const char* buf, size_t size, off_t off, fuse_file_info* fi)
    {
        const FileHandle& h = HandleTable<FileHandle>::get(fi);
        std::string_view data(buf, size);
        if (in_tmpfs(h.path)) {
            std::unique_lock lock(m_guest.lock());
            views::GuestFs& fs = m_guest.fs();
            auto r = h.append ? fs.write(h.path, data) : fs.write_at(h.path, uint64_t(off), data);
            if (r) m_guest.after_change();
            lock.unlock();
            if (!r) return reply_err(req, r.error().err);
            fuse_reply_write(req, data.size());
            return;
        }
        if (in_sysfs(h.path)) data = data.substr(0, k_page_size);
        // sysfs passes an empty write to no store().
        if (data.empty()) {
            fuse_reply_write(req, 0);
            return;
        }
        std::unique_lock lock(m_guest.lock());
        auto r = m_guest.fs().write(h.path, data);
        if (r) m_guest.after_change();
        lock.unlock();
        if (!r) return reply_err(req, r.error().err);
        fuse_reply_write(req, data.size());
    }

    void release(fuse_req_t req, fuse_file_info* fi)
    {
        m_files.remove(fi);
        fuse_reply_err(req, 0);
    }

    void opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi)
    {
        std::unique_lock lock(m_guest.lock());
        const std::string path = m_paths.at(ino);
        auto names = m_guest.fs().list(path);
        if (!names) return reply_err(req, names.error().err);
        auto d = std::make_unique<DirHandle>();
        d->entries.emplace_back(".", ino);
        d->entries.emplace_back("..", id_of(parent_path(path)));
        for (const std::string& n : *names) d->entries.emplace_back(n, id_of(child_path(path, n.c_str())));
        lock.unlock();
        fi->fh = m_dirs.add(std::move(d));
        if (fuse_reply_open(req, fi) != 0) m_dirs.remove(fi);
    }

    static void readdir(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi)
    {
        const DirHandle& d = HandleTable<DirHandle>::get(fi);
        std::string buf(size, '\0');
        size_t used = 0;
        for (size_t i = size_t(off); i < d.entries.size(); ++i) {
            struct stat st {};
            st.st_ino = d.entries[i].second;  // the type stays unknown: readers that need it stat
            const size_t n = fuse_add_direntry(req, buf.data() + used, size - used, d.entries[i].first.c_str(), &st,
                                               off_t(i + 1));
            if (n > size - used) break;
            used += n;
        }
        fuse_reply_buf(req, buf.data(), used);
    }

    void releasedir(fuse_req_t req, fuse_file_info* fi)
    {
        m_dirs.remove(fi);
        fuse_reply_err(req, 0);
    }

    // After the loop: the model's invariants, once more.
    int exit_status()
    {
        std::lock_guard lock(m_guest.lock());
        return m_guest.invariants_held() ? 0 : 1;
    }

    static void reply_err(fuse_req_t req, int err) { fuse_reply_err(req, err); }

    std::string path_of(fuse_ino_t ino)
    {
        std::lock_guard lock(m_guest.lock());
        return m_paths.at(ino);
    }

private:
    fuse_ino_t id_of(const std::string& path)
    {
        auto [it, added] = m_ids.try_emplace(path, m_paths.size());
        if (added) m_paths.push_back(path);
        return it->second;
    }

    // stat(2) of a guest path as sysfs and procfs answer it. The caller holds the lock.
    KResult<struct stat> attributes(const std::string& path, bool count_subdirs)
    {
        struct stat st {};
        st.st_ino = id_of(path);
        st.st_uid = m_uid;
        st.st_gid = m_gid;
        st.st_atime = st.st_mtime = st.st_ctime = m_mounted_at;
        st.st_blksize = in_sysfs(path) ? k_page_size : 1024;
        views::GuestFs& fs = m_guest.fs();
        if (path == "/") {
            st.st_mode = S_IFDIR | 0755;
            st.st_nlink = 2 + (count_subdirs ? MP_TRY(fs.subdirectory_count(path)) : 0);
            return st;
        }
        if (auto dev = memory_device(path)) {
            st.st_mode = S_IFCHR | 0666;
            st.st_rdev = *dev;
            st.st_nlink = 1;
            return st;
        }
        const views::NodeKind kind = MP_TRY(fs.stat(path, false));
        const unsigned perm = MP_TRY(fs.permissions(path));
        switch (kind) {
        case views::NodeKind::File:
            st.st_mode = S_IFREG | perm;
            st.st_nlink = 1;
            // procfs says 0, but the host's FUSE ends sendfile(2) and splice(2) at the
            // size it was told (busybox's cat would print nothing): the text's length.
            if (in_sysfs(path)) {
                st.st_size = k_page_size;
            } else if (in_tmpfs(path)) {
                st.st_size = off_t(fs.regular_file_size(path).value_or(0));
                st.st_blocks = (st.st_size + 511) / 512;
            } else if (auto text = fs.read(path)) {
                st.st_size = off_t(text->size());
            }
            break;
        case views::NodeKind::Dir:
            st.st_mode = S_IFDIR | perm;
            st.st_nlink = 2 + (count_subdirs ? MP_TRY(fs.subdirectory_count(path)) : 0);
            break;
        case views::NodeKind::Symlink:
            st.st_mode = S_IFLNK | perm;
            st.st_nlink = 1;
            break;
        }
        return st;
    }

    LiveGuest& m_guest;
    const uid_t m_uid;
    const gid_t m_gid;
    const time_t m_mounted_at;
    // Under the guest's lock, as everything the requests share.
    std::vector<std::string> m_paths;
    std::unordered_map<std::string, fuse_ino_t> m_ids;
    HandleTable<FileHandle> m_files;
    HandleTable<DirHandle> m_dirs;
};

// A bug in the model fails the one request (EIO), not the mount.
template <class F>
void guarded(fuse_req_t req, F&& f)
{
    try {
        f();
    } catch (const std::exception& e) {
        std::cerr << "memplug mount: a request failed (" << e.what() << "); please report it\n";
        fuse_reply_err(req, EIO);
    }
}

void op_init(void*, fuse_conn_info* conn)
{
    // Attributes come from getattr alone: one directory listing stays a cheap readdir.
    conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
}

// sysfs and procfs create, link and remove nothing: vfs's errno where the
// kernfs or procfs inode has no such operation.
void op_refuse(fuse_req_t req) { fuse_reply_err(req, EPERM); }

fuse_lowlevel_ops make_ops()
{
    fuse_lowlevel_ops ops{};
    ops.init = op_init;
    ops.lookup = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
        guarded(req, [&] { MountFs::of(req).lookup(req, parent, name); });
    };
    ops.getattr = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
        guarded(req, [&] { MountFs::of(req).getattr(req, ino); });
    };
    ops.setattr = [](fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
        guarded(req, [&] {
            MountFs& fs = MountFs::of(req);
            if ((to_set & FUSE_SET_ATTR_SIZE) && in_tmpfs(fs.path_of(ino)))
                return fs.setattr_size(req, ino, attr->st_size);
            fs.setattr(req, ino, to_set);
        });
    };
    ops.readlink = [](fuse_req_t req, fuse_ino_t ino) { guarded(req, [&] { MountFs::of(req).readlink(req, ino); }); };
    ops.open = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
        guarded(req, [&] { MountFs::of(req).open(req, ino, fi); });
    };
    ops.read = [](fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
        guarded(req, [&] { MountFs::of(req).read(req, size, off, fi); });
    };
    ops.write = [](fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
        guarded(req, [&] { MountFs::of(req).write(req, buf, size, off, fi); });
    };
    ops.release = [](fuse_req_t req, fuse_ino_t, fuse_file_info* fi) { MountFs::of(req).release(req, fi); };
    ops.opendir = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
        guarded(req, [&] { MountFs::of(req).opendir(req, ino, fi); });
    };
    ops.readdir = [](fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
        guarded(req, [&] { MountFs::readdir(req, size, off, fi); });
    };
    ops.releasedir = [](fuse_req_t req, fuse_ino_t, fuse_file_info* fi) { MountFs::of(req).releasedir(req, fi); };
    ops.create = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t, fuse_file_info* fi) {
        guarded(req, [&] { MountFs::of(req).create(req, parent, name, fi); });
    };
    ops.mknod = [](fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) { op_refuse(req); };
    ops.mkdir = [](fuse_req_t req, fuse_ino_t, const char*, mode_t) { op_refuse(req); };
    ops.unlink = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
        guarded(req, [&] { MountFs::of(req).unlink(req, parent, name); });
    };
    ops.rmdir = [](fuse_req_t req, fuse_ino_t, const char*) { op_refuse(req); };
    ops.symlink = [](fuse_req_t req, const char*, fuse_ino_t, const char*) { op_refuse(req); };
    ops.rename = [](fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) { op_refuse(req); };
    ops.link = [](fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { op_refuse(req); };
    return ops;
}

// What stops a mount before libfuse tries, in words that say what to do.
std::optional<std::string> mount_precondition(const std::string& dir)
{
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        return fmt::format("{}: {} (create the directory first: mkdir -p {})", dir, std::strerror(errno), dir);
    if (!S_ISDIR(st.st_mode)) return fmt::format("{}: not a directory", dir);
    if (access("/dev/fuse", F_OK) != 0)
        return std::string("/dev/fuse is missing: FUSE is not available here. Load the module (modprobe fuse); "
                           "in a container, pass the device (docker run --device /dev/fuse --cap-add SYS_ADMIN)");
    if (access("/dev/fuse", R_OK | W_OK) != 0)
        return fmt::format("/dev/fuse: {}: run as root, or as a user who may open /dev/fuse", std::strerror(errno));
    if (geteuid() != 0 && access("/usr/bin/fusermount3", X_OK) != 0)
        return std::string("mounting as a user needs fusermount3 (apt-get install fuse3), or run as root");
    return std::nullopt;
}

}  // namespace

int serve_mount(LiveGuest& guest, const MountOptions& opts)
{
    if (auto why = mount_precondition(opts.dir)) {
        std::cerr << "memplug mount: " << *why << "\n";
        return 2;
    }
    std::string options = "fsname=memplug,subtype=memplug,default_permissions";
    if (opts.allow_other) options += ",allow_other";
    std::vector<std::string> words = {"memplug", "-o", options};
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    fuse_args args = FUSE_ARGS_INIT(int(argv.size()), argv.data());

    MountFs fs(guest);
    const fuse_lowlevel_ops ops = make_ops();
    fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, &fs);
    if (!se) {
        std::cerr << "memplug mount: libfuse refused the options " << options << "\n";
        fuse_opt_free_args(&args);
        return 2;
    }
    int status = 2;
    if (fuse_set_signal_handlers(se) != 0) {
        std::cerr << "memplug mount: could not install the SIGINT/SIGTERM handlers\n";
    } else {
        if (fuse_session_mount(se, opts.dir.c_str()) != 0) {
            std::cerr << "memplug mount: could not mount on " << opts.dir
                      << " (not permitted? run as root or install fuse3 for fusermount3; in a container, "
                         "CAP_SYS_ADMIN is needed"
                      << (opts.allow_other ? "; allow_other as a user needs user_allow_other in /etc/fuse.conf" : "")
                      << ")\n";
        } else {
            std::cerr << "memplug: the guest's /sys and /proc are on " << opts.dir << "; Ctrl-C (or fusermount3 -u "
                      << opts.dir << ") unmounts\n";
            fuse_loop_config* cfg = fuse_loop_cfg_create();
            const int loop = fuse_session_loop_mt(se, cfg);
            fuse_loop_cfg_destroy(cfg);
            fuse_session_unmount(se);
            status = loop < 0 ? 2 : fs.exit_status();
            if (loop < 0) std::cerr << "memplug mount: " << std::strerror(-loop) << "\n";
        }
        fuse_remove_signal_handlers(se);
    }
    fuse_session_destroy(se);
    fuse_opt_free_args(&args);
    return status;
}

}  // namespace memplug::fe
