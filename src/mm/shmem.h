// tmpfs (mm/shmem.c) as the guest's root filesystem uses it: inodes whose pages
// come from the page allocator as movable page cache, with their contents, so
// that migration (offline, alloc_contig_range, compaction) can be checked to
// move data and not only counters. Names belong to the views; here an inode is
// a number.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mm/page_alloc.h"
#include "mm/result.h"
#include "mm/types.h"

namespace memplug::mm {

using InodeId = uint64_t;

class ShmemFs {
public:
    ShmemFs() = default;
    // Deep, file contents too: a forked kernel's tmpfs.
    ShmemFs(const ShmemFs& o);
    ShmemFs& operator=(const ShmemFs&) = delete;
    ShmemFs(ShmemFs&&) = default;
    ShmemFs& operator=(ShmemFs&&) = default;

    // The mount's size limit in pages (shmem_default_max_blocks: half of RAM when mounted).
    void set_max_blocks(PageCount max_blocks) { m_max_blocks = max_blocks; }
    PageCount max_blocks() const { return m_max_blocks; }

    InodeId create();
    bool exists(InodeId ino) const { return m_inodes.contains(ino); }
    uint64_t size(InodeId ino) const { return m_inodes.at(ino).size; }
    PageCount nr_pages(InodeId ino) const;
    // Pages of every inode, and those on one node (Shmem in meminfo).
    PageCount nr_shmem_pages() const { return m_nr_pages; }
    PageCount nr_shmem_pages(const PageAllocator& pa, NodeId nid) const;
    PageCount inode_pages_on_node(const PageAllocator& pa, InodeId ino, NodeId nid) const;

    // shmem_write_begin/end for [offset, offset + data.size()): missing pages are
    // allocated on nid (GFP_HIGHUSER_MOVABLE); ENOSPC over the size limit, ENOMEM
    // when the allocator cannot give them. Returns how many bytes were written;
    // a write that stops short (at the first page that could not be had) keeps
    // what it wrote and returns the error, as write(2) followed by a retry does.
    KResult<uint64_t> write(PageAllocator& pa, NodeId nid, InodeId ino, uint64_t offset, std::string_view data);
    // shmem_setattr: shrinking frees whole pages past the end and zeroes the tail
    // of the last; growing only moves the end (a hole).
    void truncate(PageAllocator& pa, InodeId ino, uint64_t size);
    // The last link gone: every page back to the buddy.
    void unlink(PageAllocator& pa, InodeId ino);
    std::string read(InodeId ino, uint64_t offset, uint64_t len) const;

    // Pages the allocator gave for a caller that keeps no contents (the idle
    // guest's initramfs, processes' anonymous memory): owned by inode `ino`;
    // `charged`: they count against the mount's size limit (files do, anonymous
    // memory does not).
    void adopt(InodeId ino, const PageRanges& pages, bool charged);

    // migrate_pages() for every shmem page in [start, end): new pages from the
    // allocator outside the range, on target's zonelist (other nodes only when
    // `thisnode` is false), contents copied, the page cache and the reverse map
    // updated. All or nothing: EBUSY when there is nowhere to put them.
    KResult<PageCount> migrate_range(PageAllocator& pa, Pfn start, Pfn end, NodeId target, bool thisnode = false,
                                     NodeId not_node = NUMA_NO_NODE);
    // Shmem pages in [start, end).
    PageCount pages_in(Pfn start, Pfn end) const;
    // The inode a page belongs to (0: none).
    InodeId owner(Pfn pfn) const;

    // Every mapping and the reverse map agree, pages are Movable in the memmap,
    // counts add up. Returns the first violation.
    KResult<void> check(const PageAllocator& pa) const;

private:
    struct Extent {
        Pfn pfn;
        uint64_t len = 0;
    };
    struct Inode {
        uint64_t size = 0;
        bool charged = true;  // its pages count against m_max_blocks
        std::map<uint64_t, Extent> pages;  // first page index -> pfns
    };
    struct Rmap {
        uint64_t len = 0;
        InodeId ino = 0;
        uint64_t index = 0;
    };
    using Page = std::array<char, PAGE_SIZE>;

    std::optional<Pfn> lookup(const Inode& inode, uint64_t index) const;
    void map_pages(InodeId ino, uint64_t index, const PageRanges& pages);
    // Drops [index, end) from the inode's page cache; returns the pfn ranges.
    PageRanges unmap_pages(Inode& inode, uint64_t index, uint64_t end);
    void rmap_erase(Pfn pfn, uint64_t len);
    void rmap_insert(Pfn pfn, uint64_t len, InodeId ino, uint64_t index);

    std::map<InodeId, Inode> m_inodes;
    std::map<Pfn, Rmap> m_rmap;                           // keyed by first pfn
    std::unordered_map<uint64_t, std::unique_ptr<Page>> m_content;  // pfn -> data (absent: zeros)
    InodeId m_next_ino = 1;
    PageCount m_nr_pages;
    PageCount m_charged_pages;  // of inodes charged to the mount
    PageCount m_max_blocks{~uint64_t{0}};
};

}  // namespace memplug::mm
