// hugetlb pools (mm/hugetlb.c): one hstate per huge page size, 2 MiB (order 9)
// and 1 GiB (order 18, gigantic), each a pool of pages taken from the page
// allocator per node. Nothing in a busybox guest maps them, so every pool page
// is a free huge page; resv and surplus stay 0.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "mm/page_alloc.h"
#include "mm/printk.h"
#include "mm/types.h"

namespace memplug::mm {

class ShmemFs;

struct Hstate {
    unsigned order = 0;
    uint64_t nr_huge_pages = 0;
    uint64_t free_huge_pages = 0;
    uint64_t max_huge_pages = 0;
    uint64_t nr_overcommit_huge_pages = 0;
    std::vector<uint64_t> nr_huge_pages_node;
    NodeId next_nid_to_alloc = 0;
    NodeId next_nid_to_free = 0;
    // Free huge pages per node, most recently enqueued last (the kernel's list
    // head): the pool frees and hands out from there.
    std::vector<std::map<uint64_t, Pfn>> free_list;  // sequence -> head pfn
    uint64_t seq = 0;

    PageCount pages_per_huge_page() const { return PageCount(uint64_t{1} << order); }
    uint64_t size_kb() const { return (PAGE_SIZE << order) >> 10; }
    bool gigantic() const { return order >= MAX_ORDER; }
};

// What alloc_fresh_huge_page() could find in one zone now: every aligned range
// of the huge page's size, classified by the worst page in it.
struct HugeZoneForecast {
    ZoneType zone = ZoneType::Normal;
    // What keeps a range from becoming a huge page, best first: wholly free
    // (the buddy has it now), free once its movable pages migrate (compaction,
    // alloc_contig_range), and the refusals: part in another zone or node, not
    // online memory (offline blocks, unplugged virtio-mem subblocks, holes),
    // already a huge page, unmovable kernel pages, reserved (boot memory, the
    // self-hosted memmap, poisoned pages).
    enum Class : uint8_t { Free, Compactable, OtherZone, NotOnline, HugeTlb, Unmovable, Reserved, NR_CLASSES };
    std::array<uint64_t, NR_CLASSES> ranges{};
    PageCount to_migrate;          // movable pages in the compactable ranges
    uint64_t watermark_room = 0;   // huge pages the zone's min watermark lets go (2 MiB: __zone_watermark_ok)
    uint64_t expected = 0;         // what a request for as many as possible would get here
};
struct HugeForecast {
    unsigned order = 0;
    NodeId nid = 0;
    std::vector<HugeZoneForecast> zones;  // in the order the allocator tries them
    uint64_t expected = 0;
    uint64_t without_compaction = 0;      // from wholly free ranges alone (exact)
};

class Hugetlb {
public:
    enum HstateIdx { HSTATE_2M, HSTATE_1G, HUGE_MAX_HSTATE };

    void init(int nr_nodes);
    // report_hugepages() at the end of hugetlb_init: per hstate, in the order x86
    // registers them (1 GiB at arch_initcall, then the default 2 MiB), its pool
    // and what HVO could free of a huge page's memmap.
    void report_hugepages(KernelLog& log) const;
    const Hstate& hstate(HstateIdx h) const { return m_hstates[h]; }

    // set_max_huge_pages(): grow or shrink the pool to `count` pages, on every
    // node with memory (round-robin) or on one node. Growth stops at the first
    // page no node can give, keeping what it got (the write still succeeds).
    void set_max_huge_pages(PageAllocator& pa, ShmemFs& shmem, HstateIdx h, uint64_t count,
                            std::optional<NodeId> node);
    void set_nr_overcommit(HstateIdx h, uint64_t n) { m_hstates[h].nr_overcommit_huge_pages = n; }
    // demote_store(): up to n free gigantic pages become free 2 MiB pages of the
    // same node, round-robin over the nodes (or on one); nothing is allocated.
    void demote(HstateIdx h, uint64_t n, std::optional<NodeId> node);

    // dissolve_free_huge_pages(): free huge pages in [start, end) go back to the
    // buddy and the pool shrinks for good (max_huge_pages too).
    void dissolve_free_huge_pages(PageAllocator& pa, Pfn start, Pfn end);
    // alloc_contig_range()'s isolate_or_dissolve_huge_page(): each free 2 MiB page
    // in [start, end) gives way to a fresh one of its node from outside the range
    // (alloc_and_dissolve_huge_page), its own pages going back to the buddy, so
    // the pool keeps its size. A gigantic page cannot be replaced (ENOMEM), nor
    // one with nowhere to go; those replaced before a failure stay replaced.
    KResult<void> replace_free_huge_pages(PageAllocator& pa, ShmemFs& shmem, Pfn start, Pfn end);
    // Free huge pages of each size that overlap [start, end) (a 1 GiB page may start before it).
    std::array<uint64_t, HUGE_MAX_HSTATE> free_huge_pages_in(Pfn start, Pfn end) const;
    // Huge pages whose head is in [start, end) (offline and virtio-mem checks).
    bool has_huge_pages(const PageAllocator& pa, Pfn start, Pfn end) const;

    // How many more huge pages of size h node nid could give now, and what
    // blocks the rest (reports). Wholly free ranges are counted exactly;
    // compaction is assumed to find room for what it migrates while the node
    // has free pages above its min watermarks (docs/REPORTS.md).
    HugeForecast forecast(const PageAllocator& pa, HstateIdx h, NodeId nid) const;

    KResult<void> check(const PageAllocator& pa) const;

    // HTLB_BUDDY_PGALLOC(_FAIL): pool pages asked of the buddy allocator, one
    // per node tried (gigantic pages come from alloc_contig_pages, uncounted).
    uint64_t buddy_alloc_success() const { return m_buddy_alloc_success; }
    uint64_t buddy_alloc_fail() const { return m_buddy_alloc_fail; }

private:
    // `exclude`: a range being isolated for alloc_contig_range, which gives nothing.
    using Exclude = std::optional<std::pair<Pfn, Pfn>>;
    bool alloc_fresh_huge_page(PageAllocator& pa, ShmemFs& shmem, Hstate& h, NodeId nid, Exclude exclude = {});
    bool alloc_in_zone(PageAllocator& pa, ShmemFs& shmem, Hstate& h, Zone& zone, NodeId nid, Exclude exclude);
    void enqueue(Hstate& h, NodeId nid, Pfn head);
    std::array<Hstate, HUGE_MAX_HSTATE> m_hstates;
    uint64_t m_buddy_alloc_success = 0;
    uint64_t m_buddy_alloc_fail = 0;
    std::vector<NodeId> nodes_with_memory(const PageAllocator& pa) const;
};

}  // namespace memplug::mm
