// The page allocator (mm/page_alloc.c): the memmap, every pageblock's migrate
// type, the zones' page counters, the watermarks, and the requests that take
// pages from the buddy and give them back. set_page_state() is its one mutator
// of page state, so nothing that reads a counter (MemTotal, MemFree, zoneinfo)
// ever scans; the const queries are shared by offline, /proc and reports.
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "mm/memmap.h"
#include "mm/mmzone.h"
#include "mm/result.h"
#include "mm/types.h"

namespace memplug::mm {

// What a request may use: gfp_zone() (the highest zone), gfpflags_to_migratetype()
// and __GFP_THISNODE.
struct Gfp {
    ZoneType highest_zone = ZoneType::Normal;
    MigrateType migratetype = MigrateType::Unmovable;
    bool thisnode = false;
    // A nodemask without this node (do_migrate_range leaves the source out).
    NodeId not_node = NUMA_NO_NODE;
};
inline constexpr Gfp GFP_KERNEL{ZoneType::Normal, MigrateType::Unmovable, false};
inline constexpr Gfp GFP_HIGHUSER_MOVABLE{ZoneType::Movable, MigrateType::Movable, false};

using PageRanges = std::vector<std::pair<Pfn, PageCount>>;

class PageAllocator {
public:
    void init_nodes(int nr_nodes, std::vector<std::vector<int>> node_cpus, int nr_cpus);

    std::vector<PgData>& nodes() { return m_nodes; }
    const std::vector<PgData>& nodes() const { return m_nodes; }
    Zone& zone(NodeId nid, ZoneType z) { return m_nodes.at(nid).zone(z); }
    const Memmap& memmap() const { return m_memmap; }
    int nr_cpus() const { return m_nr_cpus; }
    const std::vector<int>& node_cpus(NodeId nid) const { return m_node_cpus.at(nid); }
    size_t nr_node_cpu_lists() const { return m_node_cpus.size(); }

    // sparse_add_section / sparse_remove_section and online_mem_sections, keeping
    // the zones' counts of pages with an online memmap.
    void add_section(SectionNr nr, PageInfo initial, bool early) { m_memmap.add_section(nr, initial, early); }
    void remove_section(SectionNr nr) { m_memmap.remove_section(nr); }
    void set_section_online(SectionNr nr, bool online);

    // The one path for page state changes: keeps managed and free counters in step.
    void set_page_state(Pfn start, PageCount n, PageInfo info);
    // The same, but pages a driver keeps logically offline (PageOffline) only
    // follow the zone and node links.
    void relabel_pages(Pfn start, PageCount n, PageInfo info);
    void set_pageblock_migratetype(Pfn start, PageCount n, MigrateType mt);

    // memblock placement at boot: turns up to n Free pages of [start, end) that
    // pass the filter into `as`, from the bottom or the top; returns how many.
    enum class AllocFrom { Bottom, Top };
    struct PageFilter {
        std::optional<ZoneType> zone;
        std::optional<NodeId> nid;
    };
    PageCount take_free_pages(Pfn start, Pfn end, PageCount n, PageState as, AllocFrom from, PageFilter filter = {},
                              PageRanges* taken = nullptr);

    // __alloc_pages for n order-0 pages: the zonelist of nid (its own zones from
    // gfp's highest down, then the other nodes unless __GFP_THISNODE), each zone
    // only above its min watermark plus lowmem_reserve for the request's highest
    // zone; inside a zone __rmqueue: pageblocks of the request's migrate type
    // first, then __rmqueue_fallback. All or nothing: a failed request takes
    // nothing. `exclude` (a range being offlined) is never used. With order
    // pageblock_order (the only other order asked for: a section's memmap), n
    // is a multiple of a pageblock and each pageblock's worth is one aligned,
    // wholly free pageblock, as the buddy hands out an order-9 page.
    KResult<void> alloc_pages(NodeId nid, Gfp gfp, PageCount n, PageState as, PageRanges* taken = nullptr,
                              std::optional<std::pair<Pfn, Pfn>> exclude = std::nullopt, unsigned order = 0);
    // Where alloc_pages() would take n pages from, zone by zone, if every zone
    // hands out all it has above its watermark (the zonelist walk, low
    // watermarks first, then min); empty when it would fail.
    struct ZoneShare {
        NodeId nid = 0;
        ZoneType zone = ZoneType::Normal;
        PageCount pages;
    };
    std::vector<ZoneShare> allocation_spread(NodeId nid, Gfp gfp, PageCount n,
                                             std::optional<std::pair<Pfn, Pfn>> exclude = std::nullopt) const;
    // How many pages alloc_pages() could give now.
    PageCount allocatable_pages(NodeId nid, Gfp gfp, std::optional<std::pair<Pfn, Pfn>> exclude = std::nullopt) const;
    // __free_pages: back to the buddy.
    void free_pages(Pfn start, PageCount n);

    // --- const queries ---
    PageCount totalram_pages() const;
    PageCount nr_free_pages() const;
    // has_unmovable_pages(): the first page of [start, end) that keeps the range
    // from being isolated (PageReserved anywhere; outside ZONE_MOVABLE also
    // unmovable allocations and the self-hosted memmap), or none.
    std::optional<Pfn> has_unmovable_pages(Pfn start, Pfn end) const;
    // free_area[order].nr_free per migrate type, as the buddy would hold [zone]'s
    // free pages (each free run split into the largest aligned blocks).
    using FreeArea = std::array<std::array<uint64_t, MAX_ORDER>, MIGRATE_TYPES>;
    FreeArea free_area(const Zone& zone) const;
    // Pageblocks of each type whose first pfn is in the zone (pagetypeinfo).
    std::array<uint64_t, MIGRATE_TYPES> nr_pageblocks(const Zone& zone) const;

    // init_per_zone_wmark_min(): min_free_kbytes, watermarks, lowmem_reserve and
    // khugepaged's recommended minimum, recomputed after every online and offline.
    void init_per_zone_wmark_min();
    // A zone as the watermark computation sees it.
    struct ZoneWmarks {
        NodeId nid;
        ZoneType type;
        uint64_t managed;
        bool populated;  // present pages
        std::array<uint64_t, NR_WMARK> watermark;
        std::array<uint64_t, MAX_NR_ZONES> lowmem_reserve;
    };
    // Every node's zones, node by node in zone order.
    std::vector<ZoneWmarks> zone_wmarks() const;
    // The watermarks and lowmem_reserve init_per_zone_wmark_min() sets for these
    // zones (their current high watermarks in, the new ones out); returns min_free_kbytes. Forecasts
    // run it on zones with memory they would online.
    static uint64_t setup_watermarks(std::vector<ZoneWmarks>& zones);
    void setup_zone_pagesets();
    uint64_t min_free_kbytes() const { return m_min_free_kbytes; }
    PageCount totalreserve_pages() const { return m_totalreserve_pages; }

private:
    // __rmqueue in one zone for up to n pages; returns how many it took.
    PageCount rmqueue(Zone& zone, PageCount n, MigrateType mt, unsigned order, PageState as, PageRanges& got,
                      std::optional<std::pair<Pfn, Pfn>> exclude);
    PageCount take_from_pageblock(Zone& zone, Pfn pb, PageCount n, PageState as, PageRanges& got);
    uint64_t zone_reserve(const Zone& zone, ZoneType highest, WatermarkIdx mark) const;
    // What a request may take from `zone` at watermark `mark`, `taken` already gone.
    PageCount zone_room(const Zone& zone, const Gfp& gfp, WatermarkIdx mark, std::optional<std::pair<Pfn, Pfn>> exclude,
                        uint64_t unit, PageCount taken = PageCount()) const;
    std::vector<NodeId> zonelist_nodes(NodeId nid, const Gfp& gfp) const;

    std::vector<PgData> m_nodes;
    Memmap m_memmap;
    int m_nr_cpus = 1;
    std::vector<std::vector<int>> m_node_cpus;
    uint64_t m_min_free_kbytes = 0;
    PageCount m_totalreserve_pages;
};

}  // namespace memplug::mm
