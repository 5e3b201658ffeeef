#include "mm/shmem.h"

#include <algorithm>
#include <cstring>

namespace memplug::mm {

ShmemFs::ShmemFs(const ShmemFs& o)
    : m_inodes(o.m_inodes), m_rmap(o.m_rmap), m_next_ino(o.m_next_ino), m_nr_pages(o.m_nr_pages),
      m_charged_pages(o.m_charged_pages), m_max_blocks(o.m_max_blocks)
{
    m_content.reserve(o.m_content.size());
    for (const auto& [pfn, page] : o.m_content) m_content.emplace(pfn, std::make_unique<Page>(*page));
}

InodeId ShmemFs::create()
{
    const InodeId ino = m_next_ino++;
    m_inodes.emplace(ino, Inode{});
    return ino;
}

PageCount ShmemFs::nr_pages(InodeId ino) const
{
    uint64_t n = 0;
    for (const auto& [index, e] : m_inodes.at(ino).pages) n += e.len;
    return PageCount(n);
}

PageCount ShmemFs::nr_shmem_pages(const PageAllocator& pa, NodeId nid) const
{
    // Linear in reverse-map entries (extents), not in pages.
    PageCount n;
    for (const auto& [pfn, r] : m_rmap)
        pa.memmap().for_each_run(pfn, pfn + PageCount(r.len), [&](Pfn, PageCount len, PageInfo info) {
            if (info.nid == nid) n += len;
            return true;
        });
    return n;
}

PageCount ShmemFs::inode_pages_on_node(const PageAllocator& pa, InodeId ino, NodeId nid) const
{
    PageCount n;
    for (const auto& [index, e] : m_inodes.at(ino).pages)
        pa.memmap().for_each_run(e.pfn, e.pfn + PageCount(e.len), [&](Pfn, PageCount len, PageInfo info) {
            if (info.nid == nid) n += len;
            return true;
        });
    return n;
}

void ShmemFs::rmap_insert(Pfn pfn, uint64_t len, InodeId ino, uint64_t index)
{
    auto it = m_rmap.lower_bound(pfn);
    if (it != m_rmap.begin()) {
        auto prev = std::prev(it);
        if (prev->first + PageCount(prev->second.len) == pfn && prev->second.ino == ino &&
            prev->second.index + prev->second.len == index) {
            prev->second.len += len;
            return;
        }
    }
    m_rmap.emplace(pfn, Rmap{len, ino, index});
}

std::optional<Pfn> ShmemFs::lookup(const Inode& inode, uint64_t index) const
{
    auto it = inode.pages.upper_bound(index);
    if (it == inode.pages.begin()) return std::nullopt;
    --it;
    if (index >= it->first + it->second.len) return std::nullopt;
    return it->second.pfn + PageCount(index - it->first);
}

void ShmemFs::map_pages(InodeId ino, uint64_t index, const PageRanges& pages)
{
    Inode& inode = m_inodes.at(ino);
    for (const auto& [pfn, len] : pages) {
        // Merge with the extent before when both index and pfn continue it.
        auto it = inode.pages.upper_bound(index);
        if (it != inode.pages.begin()) {
            auto prev = std::prev(it);
            if (prev->first + prev->second.len == index && prev->second.pfn + PageCount(prev->second.len) == pfn) {
                rmap_insert(pfn, len.value(), ino, index);
                prev->second.len += len.value();
                index += len.value();
                m_nr_pages += len;
                if (inode.charged) m_charged_pages += len;
                continue;
            }
        }
        inode.pages.emplace(index, Extent{pfn, len.value()});
        rmap_insert(pfn, len.value(), ino, index);
        index += len.value();
        m_nr_pages += len;
        if (inode.charged) m_charged_pages += len;
    }
}

// Removes [pfn, pfn + len) from the reverse map, splitting entries at its edges.
void ShmemFs::rmap_erase(Pfn pfn, uint64_t len)
{
    const Pfn end = pfn + PageCount(len);
    auto it = m_rmap.upper_bound(pfn);
    if (it != m_rmap.begin()) --it;
    while (it != m_rmap.end() && it->first < end) {
        const Pfn b = it->first;
        const Rmap r = it->second;
        const Pfn e = b + PageCount(r.len);
        if (e <= pfn) {
            ++it;
            continue;
        }
        it = m_rmap.erase(it);
        if (b < pfn) m_rmap.emplace(b, Rmap{(pfn - b).value(), r.ino, r.index});
        if (e > end) m_rmap.emplace(end, Rmap{(e - end).value(), r.ino, r.index + (end - b).value()});
        it = m_rmap.lower_bound(end);
    }
}

PageRanges ShmemFs::unmap_pages(Inode& inode, uint64_t index, uint64_t end)
{
    PageRanges out;
    auto it = inode.pages.upper_bound(index);
    if (it != inode.pages.begin()) --it;
    while (it != inode.pages.end() && it->first < end) {
        const uint64_t b = it->first;
        const Extent e = it->second;
        if (b + e.len <= index) {
            ++it;
            continue;
        }
        it = inode.pages.erase(it);
        const uint64_t cut_b = std::max(b, index), cut_e = std::min(b + e.len, end);
        if (b < cut_b) inode.pages.emplace(b, Extent{e.pfn, cut_b - b});
        if (b + e.len > cut_e) inode.pages.emplace(cut_e, Extent{e.pfn + PageCount(cut_e - b), b + e.len - cut_e});
        const Pfn pfn = e.pfn + PageCount(cut_b - b);
        out.emplace_back(pfn, PageCount(cut_e - cut_b));
        rmap_erase(pfn, cut_e - cut_b);
        m_nr_pages -= PageCount(cut_e - cut_b);
        if (inode.charged) m_charged_pages -= PageCount(cut_e - cut_b);
        it = inode.pages.lower_bound(cut_e);
    }
    return out;
}

KResult<uint64_t> ShmemFs::write(PageAllocator& pa, NodeId nid, InodeId ino, uint64_t offset, std::string_view data)
{
    if (data.empty()) return uint64_t{0};
    // MAX_LFS_FILESIZE: tmpfs files end before 2^63.
    if (offset > uint64_t(INT64_MAX) - data.size()) return kerr(EFBIG, "file too large");
    Inode& inode = m_inodes.at(ino);
    const uint64_t first = offset / PAGE_SIZE, last = (offset + data.size() - 1) / PAGE_SIZE;
    // shmem_get_folio for every missing page, in index order; runs of missing
    // pages are one request each.
    uint64_t written_end = offset + data.size();
    int error = 0;
    for (uint64_t index = first; index <= last;) {
        if (lookup(inode, index)) {
            ++index;
            continue;
        }
        uint64_t run_end = index + 1;
        while (run_end <= last && !lookup(inode, run_end)) ++run_end;
        uint64_t want = run_end - index;
        const uint64_t room = m_max_blocks > m_charged_pages ? (m_max_blocks - m_charged_pages).value() : 0;
        if (want > room) {
            want = room;
            error = ENOSPC;
        }
        PageRanges got;
        if (want) {
            if (auto r = pa.alloc_pages(nid, GFP_HIGHUSER_MOVABLE, PageCount(want), PageState::Movable, &got); !r) {
                // Take what the allocator can still give, then stop there.
                want = std::min(want, pa.allocatable_pages(nid, GFP_HIGHUSER_MOVABLE).value());
                error = ENOMEM;
                got.clear();
                if (want) (void)pa.alloc_pages(nid, GFP_HIGHUSER_MOVABLE, PageCount(want), PageState::Movable, &got);
            }
        }
        map_pages(ino, index, got);
        if (error) {
            written_end = std::max(offset, (index + want) * PAGE_SIZE);
            break;
        }
        index = run_end;
    }
    const uint64_t n = written_end - offset;
    if (n == 0 && error) return kerr(error, error == ENOSPC ? "no space left on tmpfs" : "page allocation failure");
    // Copy the bytes; pages that stay all zero keep no data.
    for (uint64_t pos = offset; pos < written_end;) {
        const uint64_t index = pos / PAGE_SIZE, in_page = pos % PAGE_SIZE;
        const uint64_t chunk = std::min(PAGE_SIZE - in_page, written_end - pos);
        const std::string_view bytes = data.substr(pos - offset, chunk);
        const Pfn pfn = *lookup(inode, index);
        auto it = m_content.find(pfn.value());
        static const Page zero_page{};
        const bool zeros = std::memcmp(bytes.data(), zero_page.data(), chunk) == 0;
        if (it == m_content.end() && !zeros) it = m_content.emplace(pfn.value(), std::make_unique<Page>()).first;
        if (it != m_content.end()) std::memcpy(it->second->data() + in_page, bytes.data(), chunk);
        pos += chunk;
    }
    inode.size = std::max(inode.size, written_end);
    // A short write keeps what it wrote; the caller's next write would fail.
    if (error) return kerr(error, error == ENOSPC ? "no space left on tmpfs" : "page allocation failure");
    return n;
}

std::string ShmemFs::read(InodeId ino, uint64_t offset, uint64_t len) const
{
    const Inode& inode = m_inodes.at(ino);
    if (offset >= inode.size) return {};
    len = std::min(len, inode.size - offset);
    std::string out(len, '\0');
    for (uint64_t pos = offset; pos < offset + len;) {
        const uint64_t index = pos / PAGE_SIZE, in_page = pos % PAGE_SIZE;
        const uint64_t chunk = std::min(PAGE_SIZE - in_page, offset + len - pos);
        if (const auto pfn = lookup(inode, index)) {
            if (auto it = m_content.find(pfn->value()); it != m_content.end())
                std::memcpy(out.data() + (pos - offset), it->second->data() + in_page, chunk);
        }
        pos += chunk;
    }
    return out;
}

void ShmemFs::truncate(PageAllocator& pa, InodeId ino, uint64_t size)
{
    Inode& inode = m_inodes.at(ino);
    if (size < inode.size) {
        const uint64_t keep = (size + PAGE_SIZE - 1) / PAGE_SIZE;
        for (const auto& [pfn, len] : unmap_pages(inode, keep, ~uint64_t{0})) {
            for (uint64_t i = 0; i < len.value(); ++i) m_content.erase(pfn.value() + i);
            pa.free_pages(pfn, len);
        }
        // The partial last page reads as zeros past the new end.
        if (size % PAGE_SIZE)
            if (const auto pfn = lookup(inode, size / PAGE_SIZE))
                if (auto it = m_content.find(pfn->value()); it != m_content.end())
                    std::memset(it->second->data() + size % PAGE_SIZE, 0, PAGE_SIZE - size % PAGE_SIZE);
    }
    inode.size = size;
}

void ShmemFs::unlink(PageAllocator& pa, InodeId ino)
{
    truncate(pa, ino, 0);
    m_inodes.erase(ino);
}

void ShmemFs::adopt(InodeId ino, const PageRanges& pages, bool charged)
{
    Inode& inode = m_inodes.at(ino);
    inode.charged = charged;
    uint64_t index = 0;
    if (!inode.pages.empty()) index = std::prev(inode.pages.end())->first + std::prev(inode.pages.end())->second.len;
    map_pages(ino, index, pages);
    inode.size = std::max(inode.size, (index + [&] {
                                          uint64_t n = 0;
                                          for (const auto& [p, len] : pages) n += len.value();
                                          return n;
                                      }()) * PAGE_SIZE);
}

PageCount ShmemFs::pages_in(Pfn start, Pfn end) const
{
    PageCount n;
    auto it = m_rmap.upper_bound(start);
    if (it != m_rmap.begin()) --it;
    for (; it != m_rmap.end() && it->first < end; ++it) {
        const Pfn b = std::max(it->first, start), e = std::min(it->first + PageCount(it->second.len), end);
        if (b < e) n += e - b;
    }
    return n;
}

KResult<PageCount> ShmemFs::migrate_range(PageAllocator& pa, Pfn start, Pfn end, NodeId target, bool thisnode,
                                          NodeId not_node)
{
    // The pieces to move, in pfn order, split at the range's edges.
    struct Piece {
        Pfn pfn;
        uint64_t len;
        InodeId ino;
        uint64_t index;
    };
    std::vector<Piece> pieces;
    uint64_t total = 0;
    auto it = m_rmap.upper_bound(start);
    if (it != m_rmap.begin()) --it;
    for (; it != m_rmap.end() && it->first < end; ++it) {
        const Pfn b = std::max(it->first, start), e = std::min(it->first + PageCount(it->second.len), end);
        if (b >= e) continue;
        pieces.push_back({b, (e - b).value(), it->second.ino, it->second.index + (b - it->first).value()});
        total += (e - b).value();
    }
    if (!total) return PageCount();
    const Gfp gfp{ZoneType::Movable, MigrateType::Movable, thisnode, not_node};
    PageRanges to;
    if (!pa.alloc_pages(target, gfp, PageCount(total), PageState::Movable, &to, std::pair{start, end}))
        return kerr(EBUSY, "migration failure: no memory to migrate to");
    // Pair old and new pages in order; each pair of runs is one remap.
    size_t t = 0;
    uint64_t t_used = 0;
    for (const Piece& p : pieces) {
        uint64_t done = 0;
        Inode& inode = m_inodes.at(p.ino);
        unmap_pages(inode, p.index, p.index + p.len);
        while (done < p.len) {
            const uint64_t n = std::min(p.len - done, to[t].second.value() - t_used);
            const Pfn from = p.pfn + PageCount(done), dest = to[t].first + PageCount(t_used);
            for (uint64_t i = 0; i < n; ++i) {
                auto c = m_content.find(from.value() + i);
                if (c == m_content.end()) continue;
                m_content[dest.value() + i] = std::move(c->second);
                m_content.erase(from.value() + i);
            }
            map_pages(p.ino, p.index + done, {{dest, PageCount(n)}});
            done += n;
            t_used += n;
            if (t_used == to[t].second.value()) {
                ++t;
                t_used = 0;
            }
        }
        pa.free_pages(p.pfn, PageCount(p.len));
    }
    return PageCount(total);
}

InodeId ShmemFs::owner(Pfn pfn) const
{
    auto it = m_rmap.upper_bound(pfn);
    if (it == m_rmap.begin()) return 0;
    --it;
    return pfn < it->first + PageCount(it->second.len) ? it->second.ino : 0;
}

KResult<void> ShmemFs::check(const PageAllocator& pa) const
{
    uint64_t mapped = 0;
    for (const auto& [ino, inode] : m_inodes)
        for (const auto& [index, e] : inode.pages) {
            mapped += e.len;
            bool ok = true;
            pa.memmap().for_each_run(e.pfn, e.pfn + PageCount(e.len), [&](Pfn, PageCount, PageInfo info) {
                ok = info.state == PageState::Movable;
                return ok;
            });
            if (!ok) return kerr(EFAULT, "shmem page not Movable in the memmap");
            // Every page of the extent is in the reverse map, pointing back.
            for (uint64_t i = 0; i < e.len;) {
                auto r = m_rmap.upper_bound(e.pfn + PageCount(i));
                if (r == m_rmap.begin()) return kerr(EFAULT, "shmem page missing from the reverse map");
                --r;
                const uint64_t off = (e.pfn + PageCount(i) - r->first).value();
                if (off >= r->second.len || r->second.ino != ino || r->second.index + off != index + i)
                    return kerr(EFAULT, "shmem reverse map disagrees with the page cache");
                i += r->second.len - off;
            }
        }
    uint64_t rmapped = 0;
    for (const auto& [pfn, r] : m_rmap) rmapped += r.len;
    if (mapped != m_nr_pages.value() || rmapped != mapped) return kerr(EFAULT, "shmem page counts out of step");
    for (const auto& [pfn, page] : m_content)
        if (!m_rmap.empty()) {
            auto r = m_rmap.upper_bound(Pfn(pfn));
            if (r == m_rmap.begin() || Pfn(pfn) >= std::prev(r)->first + PageCount(std::prev(r)->second.len))
                return kerr(EFAULT, "page contents kept for a page no file owns");
        }
    return {};
}

}  // namespace memplug::mm
