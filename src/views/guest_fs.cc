#include "views/guest_fs.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "views/sysfs_attr.h"

namespace memplug::views {

namespace {

std::vector<std::string> split_path(std::string_view path)
{
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
        while (i < path.size() && path[i] == '/') ++i;
        const size_t j = path.find('/', i);
        const std::string_view part = path.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i);
        if (!part.empty() && part != ".") {
            if (part == "..") {
                if (!out.empty()) out.pop_back();
            } else {
                out.emplace_back(part);
            }
        }
        if (j == std::string_view::npos) break;
        i = j;
    }
    return out;
}

std::string join_path(const std::vector<std::string>& c)
{
    std::string path;
    for (const std::string& s : c) path += "/" + s;
    return path.empty() ? "/" : path;
}

// kernfs_name_hash() (fs/kernfs/dir.c) for a name without namespace: the
// reiserfs-style partial_name_hash of each byte, end_name_hash (hash_64 to 32
// bits), then 31 bits with 0, 1 and INT_MAX kept for "." , ".." and the end.
uint32_t kernfs_name_hash(std::string_view name)
{
    uint64_t hash = 0;
    for (const char ch : name) {
        const uint64_t c = static_cast<uint64_t>(static_cast<signed char>(ch));
        hash = (hash + (c << 4) + (c >> 4)) * 11;
    }
    uint32_t h = uint32_t((hash * 0x61C8864680B583EBull) >> 32) & 0x7fffffffu;
    if (h < 2) h += 2;
    if (h >= 0x7fffffffu) h = 0x7fffffffu - 1;
    return h;
}

bool in_tmpfs(const std::vector<std::string>& c)
{
    return c.empty() || (c[0] != "dev" && c[0] != "proc" && c[0] != "sys");
}

// /sys/bus/<subsys>/devices: links back into /sys/devices/system.
std::optional<VNode> lookup_bus(mm::Kernel& k, Path rest)
{
    if (rest.empty()) return dir([] { return std::vector<std::string>{"memory", "node"}; });
    const std::string subsys = rest[0];
    if (subsys != "memory" && subsys != "node") return std::nullopt;
    if (rest.size() == 1) return dir([] { return std::vector<std::string>{"devices"}; });
    if (rest[1] != "devices") return std::nullopt;
    auto is_device = [subsys](const std::string& n) {
        return n.starts_with(subsys) && n.size() > subsys.size() && std::isdigit(static_cast<unsigned char>(n[subsys.size()]));
    };
    auto lookup_device_dir = [&k, subsys](Path p) { return subsys == "memory" ? lookup_sys_memory(k, p) : lookup_sys_node(k, p); };
    if (rest.size() == 2) {
        return dir([lookup_device_dir, is_device] {
            std::vector<std::string> out;
            for (std::string& n : lookup_device_dir({})->children())
                if (is_device(n)) out.push_back(std::move(n));
            return out;
        });
    }
    if (rest.size() != 3 || !is_device(rest[2])) return std::nullopt;
    // The device itself, not the listing: one lookup stays O(log blocks).
    const auto d = lookup_device_dir(rest.subspan(2));
    if (!d || d->kind != NodeKind::Dir) return std::nullopt;
    return symlink(fmt::format("../../../devices/system/{}/{}", subsys, rest[2]));
}

// /sys/devices itself and the ACPI devices memory blocks link to as their
// firmware_node (only the path is modelled, not the devices' attributes). A
// device exists while a block links to it or below it: `witness` keeps one such
// block per path, so that a lookup checks one block rather than all of them.
std::optional<VNode> lookup_firmware_nodes(mm::Kernel& k, Path rest, std::map<std::string, mm::BlockId>& witness)
{
    std::vector<std::string> want{"sys", "devices"};
    want.insert(want.end(), rest.begin(), rest.end());
    auto fw_path = [](const mm::MemoryBlock& mem) {
        return split_path("/sys/devices/system/memory/memory0/" + mem.firmware_node);
    };
    if (!rest.empty()) {
        auto below = [&](const mm::MemoryBlock& mem) {
            if (mem.firmware_node.empty()) return false;
            const auto fw = fw_path(mem);
            return fw.size() >= want.size() && std::equal(want.begin(), want.end(), fw.begin());
        };
        std::string key;
        for (const std::string& c : rest) key += "/" + c;
        const auto it = witness.find(key);
        const mm::MemoryBlock* seen = it == witness.end() ? nullptr : k.find_memory_block(it->second);
        if (!seen || !below(*seen)) {
            const auto& blocks = k.memory_blocks();
            const auto b = std::find_if(blocks.begin(), blocks.end(), [&](const auto& kv) { return below(kv.second); });
            if (b == blocks.end()) {
                if (it != witness.end()) witness.erase(it);
                return std::nullopt;
            }
            witness[key] = b->first;
        }
    }
    return dir([&k, want, fw_path] {
        std::set<std::string> children;
        if (want.size() == 2) children.insert("system");
        const std::string* prev = nullptr;
        for (const auto& [id, mem] : k.memory_blocks()) {
            // A DIMM's blocks are adjacent and share one node: split each path once.
            if (mem.firmware_node.empty() || (prev && *prev == mem.firmware_node)) continue;
            prev = &mem.firmware_node;
            const auto fw = fw_path(mem);
            if (fw.size() > want.size() && std::equal(want.begin(), want.end(), fw.begin())) children.insert(fw[want.size()]);
        }
        return std::vector<std::string>(children.begin(), children.end());
    });
}

}  // namespace

GuestFs::GuestFs(mm::Kernel& kernel, drivers::VirtioMemParams& virtio_mem)
    : m_kernel(kernel), m_virtio_mem(virtio_mem),
      // The roots of procfs and sysfs got their dentries when init mounted them at boot.
      m_instantiated{"/proc", "/sys"}
{
    for (const char* d : {"/", "/bin", "/etc", "/lib", "/root", "/sbin", "/tmp", "/usr"}) m_tmpfs[d] = {true, 0, 0};
}

const GuestFs::TmpfsEntry* GuestFs::tmpfs_file(std::string_view path) const
{
    auto c = resolve(path, true);
    if (!c || !in_tmpfs(*c)) return nullptr;
    auto it = m_tmpfs.find(join_path(*c));
    return it == m_tmpfs.end() || it->second.is_dir ? nullptr : &it->second;
}

std::optional<VNode> GuestFs::lookup_tmpfs(const std::vector<std::string>& c) const
{
    const std::string path = join_path(c);
    auto it = m_tmpfs.find(path);
    if (it == m_tmpfs.end()) return std::nullopt;
    if (it->second.is_dir) {
        return dir([this, prefix = path == "/" ? path : path + "/", root = c.empty()] {
            // dcache_readdir(): a new dentry goes to the head of its parent's
            // list, so the newest entry comes first; the initramfs's own in name order.
            std::vector<std::pair<uint64_t, std::string>> entries;
            if (root)
                for (const char* d : {"dev", "proc", "sys"}) entries.emplace_back(0, d);
            for (auto e = m_tmpfs.lower_bound(prefix); e != m_tmpfs.end() && e->first.starts_with(prefix); ++e) {
                const std::string_view rest = std::string_view(e->first).substr(prefix.size());
                if (!rest.empty() && rest.find('/') == std::string_view::npos) entries.emplace_back(e->second.created, rest);
            }
            std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
                return a.first != b.first ? a.first > b.first : a.second < b.second;
            });
            std::vector<std::string> names;
            names.reserve(entries.size());
            for (auto& e : entries) names.push_back(std::move(e.second));
            return names;
        });
    }
    const mm::InodeId ino = it->second.ino;
    mm::Kernel& k = m_kernel;
    // Whole-file reads (cat, grep, wc) are for files that fit in memory; the
    // streaming applets (md5sum, cmp, dd, cp) read any size in pieces.
    return attr_rw([&k, ino] {
                       constexpr uint64_t whole_read_limit = uint64_t{4} << 30;
                       if (k.shmem().size(ino) > whole_read_limit)
                           throw std::length_error("memplug reads files over 4 GiB whole only in md5sum, cmp, dd and cp");
                       return k.shmem().read(ino, 0, k.shmem().size(ino));
                   },
                   [&k, ino](std::string_view data) -> KResult<void> {
                       auto n = k.shmem_write(ino, k.shmem().size(ino), data);
                       if (!n) return tl::unexpected(n.error());
                       return {};
                   });
}

std::optional<VNode> GuestFs::lookup(const std::vector<std::string>& c) const
{
    const Path p(c);
    auto fixed_dir = [](std::vector<std::string> names) { return dir([names] { return names; }); };
    if (in_tmpfs(c)) return lookup_tmpfs(c);
    if (p[0] == "dev") {
        if (p.size() == 1) return fixed_dir({"null", "urandom", "zero"});
        auto discard = [](std::string_view) -> KResult<void> { return {}; };
        if (p.size() == 2 && p[1] == "null") return attr_rw([] { return std::string(); }, discard);
        // The endless devices cannot be read whole (cat, <): a limit of memplug, said so.
        if (p.size() == 2 && (p[1] == "zero" || p[1] == "urandom"))
            return attr_rw([]() -> std::string {
                               throw std::length_error("memplug reads /dev/zero and /dev/urandom only in pieces: "
                                                       "head -c, dd, md5sum, cmp and cp");
                           },
                           discard);
        return std::nullopt;
    }
    if (p[0] == "proc") return lookup_proc(m_kernel, p.subspan(1));
    if (p.size() == 1) return fixed_dir({"bus", "devices", "kernel", "module"});
    if (p[1] == "bus") return lookup_bus(m_kernel, p.subspan(2));
    if (p[1] == "kernel") return lookup_sys_kernel(m_kernel, p.subspan(2));
    if (p[1] == "module") return lookup_sys_module(m_kernel, m_virtio_mem, p.subspan(2));
    if (p[1] != "devices") return std::nullopt;
    if (p.size() == 2 || p[2] != "system") return lookup_firmware_nodes(m_kernel, p.subspan(2), m_firmware_witness);
    if (p.size() == 3) return fixed_dir({"memory", "node"});
    if (p[3] == "memory") return lookup_sys_memory(m_kernel, p.subspan(4));
    if (p[3] == "node") return lookup_sys_node(m_kernel, p.subspan(4));
    return std::nullopt;
}

KResult<std::vector<std::string>> GuestFs::resolve(std::string_view path, bool follow_last) const
{
    std::vector<std::string> todo = split_path(path);
    std::vector<std::string> done;
    int links = 0;
    for (size_t i = 0; i < todo.size(); ++i) {
        done.push_back(todo[i]);
        const auto node = lookup(done);
        if (!node) return kerr(ENOENT);
        const bool last = i + 1 == todo.size();
        if (node->kind == NodeKind::Symlink && (!last || follow_last)) {
            if (++links > 40) return kerr(ELOOP);
            done.pop_back();
            std::string target = "/";
            for (const std::string& d : done) target += d + "/";
            target += node->link;
            for (size_t j = i + 1; j < todo.size(); ++j) target += "/" + todo[j];
            todo = split_path(target);
            done.clear();
            i = size_t(-1);
            continue;
        }
        if (!last && node->kind != NodeKind::Dir) return kerr(ENOTDIR);
    }
    // d_alloc + iget on the first lookup of each sysfs and procfs component.
    // A path seen before has all its components instantiated already.
    if (!in_tmpfs(done) && !m_instantiated.contains(join_path(done))) {
        std::string prefix;
        for (const std::string& c : done) {
            prefix += '/';
            prefix += c;
            if (!m_instantiated.insert(prefix).second) continue;
            m_kernel.kmem_cache_alloc(done[0] == "proc" ? mm::Kernel::SlabCache::ProcInodeCache
                                                        : mm::Kernel::SlabCache::InodeCache);
            m_kernel.kmem_cache_alloc(mm::Kernel::SlabCache::Dentry);
        }
    }
    return done;
}

KResult<NodeKind> GuestFs::stat(std::string_view path, bool follow_last) const
{
    auto c = MP_TRY(resolve(path, follow_last));
    return lookup(c)->kind;
}

KResult<unsigned> GuestFs::permissions(std::string_view path) const
{
    auto c = MP_TRY(resolve(path, false));
    const auto node = lookup(c);
    switch (node->kind) {
    case NodeKind::Dir: return 0755u;
    case NodeKind::Symlink: return 0777u;
    case NodeKind::File:
        if (node->mode) return node->mode;
        return (node->readable ? 0444u : 0u) | (node->writable ? 0200u : 0u);
    }
    return 0u;
}

KResult<std::string> GuestFs::readlink(std::string_view path) const
{
    auto c = MP_TRY(resolve(path, false));
    const auto node = lookup(c);
    if (node->kind != NodeKind::Symlink) return kerr(EINVAL);
    return node->link;
}

KResult<std::vector<std::string>> GuestFs::list(std::string_view path) const
{
    auto c = MP_TRY(resolve(path, true));
    const auto node = lookup(c);
    if (node->kind != NodeKind::Dir) return kerr(ENOTDIR);
    std::vector<std::string> names = node->children();
    // A kernfs directory keeps its children in an rbtree by (hash, name): readdir's order.
    if (!c.empty() && c[0] == "sys") {
        std::vector<std::pair<uint32_t, std::string>> keyed;
        keyed.reserve(names.size());
        for (std::string& n : names) keyed.emplace_back(kernfs_name_hash(n), std::move(n));
        std::sort(keyed.begin(), keyed.end());
        for (size_t i = 0; i < keyed.size(); ++i) names[i] = std::move(keyed[i].second);
    }
    return names;
}

KResult<unsigned> GuestFs::subdirectory_count(std::string_view path) const
{
    auto c = MP_TRY(resolve(path, true));
    const auto node = lookup(c);
    if (node->kind != NodeKind::Dir) return kerr(ENOTDIR);
    unsigned n = 0;
    for (const std::string& name : node->children()) {
        c.push_back(name);
        if (const auto child = lookup(c); child && child->kind == NodeKind::Dir) ++n;
        c.pop_back();
    }
    return n;
}

KResult<std::string> GuestFs::read(std::string_view path) const
{
    auto c = MP_TRY(resolve(path, true));
    const auto node = lookup(c);
    if (node->kind == NodeKind::Dir) return kerr(EISDIR);
    if (!node->readable) return kerr(EACCES);
    return node->show();
}

KResult<void> GuestFs::open_tmpfs(std::string_view path, bool truncate)
{
    if (const TmpfsEntry* f = tmpfs_file(path)) {
        if (truncate) m_kernel.shmem_truncate(f->ino, 0);
        return {};
    }
    // O_CREAT in a tmpfs directory.
    std::vector<std::string> c = split_path(path);
    if (c.empty()) return kerr(EISDIR);
    const std::string name = c.back();
    c.pop_back();
    auto parent = resolve(join_path(c), true);
    if (!parent) return tl::unexpected(parent.error());
    auto it = m_tmpfs.find(join_path(*parent));
    if (it == m_tmpfs.end()) return kerr(EACCES);  // sysfs and procfs cannot create
    if (!it->second.is_dir) return kerr(ENOTDIR);
    parent->push_back(name);
    const std::string full = join_path(*parent);
    if (auto e = m_tmpfs.find(full); e != m_tmpfs.end()) return kerr(e->second.is_dir ? EISDIR : EEXIST);
    m_tmpfs[full] = {false, m_kernel.shmem_create(), ++m_tmpfs_created};
    return {};
}

KResult<void> GuestFs::open_append(std::string_view path)
{
    if (in_tmpfs(split_path(path))) return open_tmpfs(path, false);
    return open_write(path);
}

KResult<std::string> GuestFs::read_range(std::string_view path, uint64_t offset, uint64_t len) const
{
    if (const TmpfsEntry* f = tmpfs_file(path)) return m_kernel.shmem().read(f->ino, offset, len);
    // /dev/zero and /dev/urandom never end: whatever is asked for. urandom's
    // bytes are a fixed function of the offset (splitmix64), so a transcript
    // replays the same, unlike the real device.
    if (auto c = resolve(path, true); c && c->size() == 2 && (*c)[0] == "dev") {
        if ((*c)[1] == "zero") return std::string(len, '\0');
        if ((*c)[1] == "urandom") {
            std::string out(len, '\0');
            for (uint64_t i = 0; i < len; ++i) {
                uint64_t z = (offset + i) / 8 + 0x9e3779b97f4a7c15ULL;
                z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
                z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
                out[i] = char((z ^ (z >> 31)) >> (8 * ((offset + i) % 8)));
            }
            return out;
        }
    }
    return Vfs::read_range(path, offset, len);
}

KResult<void> GuestFs::write_at(std::string_view path, uint64_t offset, std::string_view data)
{
    if (const TmpfsEntry* f = tmpfs_file(path)) {
        auto n = m_kernel.shmem_write(f->ino, offset, data);
        if (!n) return tl::unexpected(n.error());
        return {};
    }
    return write(path, data);
}

std::optional<uint64_t> GuestFs::regular_file_size(std::string_view path) const
{
    if (const TmpfsEntry* f = tmpfs_file(path)) return m_kernel.shmem().size(f->ino);
    return std::nullopt;
}

KResult<void> GuestFs::unlink(std::string_view path)
{
    auto c = MP_TRY(resolve(path, false));
    // may_delete(): the sysctl directories are 0555, so unlinking in them fails
    // the permission check, even for root, before the filesystem is asked.
    if (c.size() > 2 && c[0] == "proc" && c[1] == "sys") return kerr(EACCES);
    if (!in_tmpfs(c)) return Vfs::unlink(path);
    auto it = m_tmpfs.find(join_path(c));
    if (it == m_tmpfs.end()) return kerr(ENOENT);
    if (it->second.is_dir) return kerr(EISDIR);
    m_kernel.shmem_unlink(it->second.ino);
    m_tmpfs.erase(it);
    return {};
}

KResult<void> GuestFs::truncate(std::string_view path, uint64_t size)
{
    if (const TmpfsEntry* f = tmpfs_file(path)) {
        if (size > uint64_t(INT64_MAX)) return kerr(EINVAL);  // a negative loff_t
        m_kernel.shmem_truncate(f->ino, size);
        return {};
    }
    return Vfs::truncate(path, size);
}

KResult<void> GuestFs::open_write(std::string_view path)
{
    if (in_tmpfs(split_path(path))) return open_tmpfs(path, true);
    auto c = resolve(path, true);
    if (!c) {
        // The file is missing: sysfs and procfs cannot create one; a missing directory is ENOENT.
        std::vector<std::string> parent = split_path(path);
        if (parent.empty()) return kerr(EISDIR);
        parent.pop_back();
        std::string dir_path = "/";
        for (const std::string& s : parent) dir_path += s + "/";
        auto pd = resolve(dir_path, true);
        if (pd && lookup(*pd)->kind == NodeKind::Dir && c.error().err == ENOENT) return kerr(EACCES);
        return tl::unexpected(c.error());
    }
    const auto node = lookup(*c);
    if (node->kind == NodeKind::Dir) return kerr(EISDIR);
    if (!node->writable) return kerr(EACCES);
    return {};
}

KResult<void> GuestFs::write(std::string_view path, std::string_view data)
{
    if (const TmpfsEntry* f = tmpfs_file(path)) {
        auto n = m_kernel.shmem_write(f->ino, m_kernel.shmem().size(f->ino), data);
        if (!n) return tl::unexpected(n.error());
        return {};
    }
    MP_TRY(open_write(path));
    auto c = MP_TRY(resolve(path, true));
    return lookup(c)->store(data);
}

bool GuestFs::in_tmpfs_root(std::string_view path) { return in_tmpfs(split_path(path)); }

KResult<std::string> GuestFs::syslog(SyslogAction action, int level)
{
    // do_syslog: the console level must be one of the eight levels.
    if (action == SyslogAction::ConsoleLevel && (level < 1 || level > 8)) return kerr(EINVAL);
    mm::KernelLog& log = m_kernel.log();
    std::string out;
    if (action == SyslogAction::ReadAll || action == SyslogAction::ReadClear) {
        // record_print_text() with the time prefix: the facility is 0 (kernel),
        // so the syslog prefix is the level alone.
        for (const mm::LogRecord& r : log.records())
            fmt::format_to(std::back_inserter(out), "<{}>[{:5}.{:06}] {}\n", int(r.level), r.ts_nsec / 1'000'000'000,
                           r.ts_nsec % 1'000'000'000 / 1000, r.text);
    }
    if (action == SyslogAction::ReadClear || action == SyslogAction::Clear) log.clear();
    return out;
}

}  // namespace memplug::views
