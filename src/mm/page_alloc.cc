// The page allocator (mm/page_alloc.c): page state changes, the buddy's choice
// of pages, watermarks and pagesets. Counters change only in set_page_state().
#include "mm/page_alloc.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace memplug::mm {

void PageAllocator::init_nodes(int nr_nodes, std::vector<std::vector<int>> node_cpus, int nr_cpus)
{
    m_nodes.resize(size_t(nr_nodes));
    m_node_cpus = std::move(node_cpus);
    m_node_cpus.resize(size_t(nr_nodes));
    m_nr_cpus = std::max(1, nr_cpus);
    for (int nid = 0; nid < nr_nodes; ++nid) {
        m_nodes[nid].node_id = nid;
        for (ZoneType z : all_zone_types) {
            m_nodes[nid].zone(z).nid = nid;
            m_nodes[nid].zone(z).type = z;
        }
    }
}

namespace {

int kernel_set_index(MigrateType mt) { return mt == MigrateType::Unmovable ? 0 : mt == MigrateType::Reclaimable ? 1 : -1; }

}  // namespace

void PageAllocator::set_page_state(Pfn start, PageCount n, PageInfo info)
{
    auto account = [&](PageInfo pi, PageCount len, bool online, bool add) {
        if (pi.nid < 0 || pi.nid >= int(m_nodes.size())) return;
        Zone& z = zone(pi.nid, pi.zone);
        auto apply = [&](PageCount& c) { add ? c += len : c -= len; };
        if (page_state_managed(pi.state)) apply(z.managed_pages);
        if (pi.state == PageState::Free) apply(z.nr_free_pages);
        if (online) apply(z.pages_with_online_memmap);
    };
    std::vector<std::pair<Pfn, PageInfo>> old_pageblocks;  // zones whose hints the change may concern
    m_memmap.assign(start, n, info, [&](Pfn b, PageCount len, PageInfo old) {
        account(old, len, m_memmap.online_section(pfn_to_section_nr(b)), false);
        if (old.state == PageState::Free) old_pageblocks.emplace_back(b, old);
    });
    for (Pfn p = start; p < start + n;) {
        const Pfn section_end = section_nr_to_pfn(SectionNr(pfn_to_section_nr(p).value() + 1));
        const Pfn e = std::min(section_end, start + n);
        account(info, e - p, m_memmap.online_section(pfn_to_section_nr(p)), true);
        p = e;
    }
    // The allocator's search hints: pageblocks that gained free pages lower them,
    // kernel pageblocks are tracked exactly.
    auto refresh = [&](Pfn pb, PageInfo pi) {
        if (pi.nid < 0 || pi.nid >= int(m_nodes.size())) return;
        Zone& z = zone(pi.nid, pi.zone);
        const uint64_t nr_free = m_memmap.pageblock_nr_free(pb);
        const MigrateType mt = m_memmap.pageblock_migratetype(pb);
        if (nr_free && pb < z.free_hint) z.free_hint = pb;
        if (nr_free && mt == MigrateType::Movable && pb < z.movable_free_hint) z.movable_free_hint = pb;
        if (nr_free == pageblock_nr_pages && pb < z.whole_free_hint) z.whole_free_hint = pb;
        const int k = kernel_set_index(mt);
        if (k < 0) return;
        if (nr_free)
            z.kernel_pageblocks_with_free[k].insert(pb);
        else
            z.kernel_pageblocks_with_free[k].erase(pb);
    };
    // Only free counts move the hints: nothing to do when no page was or becomes free.
    if (info.state != PageState::Free && old_pageblocks.empty()) return;
    const uint64_t first_pb = align_down(start.value(), pageblock_nr_pages);
    for (uint64_t pb = first_pb; pb < (start + n).value(); pb += pageblock_nr_pages) refresh(Pfn(pb), info);
    for (const auto& [b, old] : old_pageblocks)
        if (old.zone != info.zone || old.nid != info.nid) refresh(Pfn(align_down(b.value(), pageblock_nr_pages)), old);
}

void PageAllocator::relabel_pages(Pfn start, PageCount n, PageInfo info)
{
    PageRanges logically_offline;
    m_memmap.for_each_run(start, start + n, [&](Pfn b, PageCount len, PageInfo old) {
        if (old.state == PageState::Offline) logically_offline.emplace_back(b, len);
        return true;
    });
    set_page_state(start, n, info);
    for (const auto& [b, len] : logically_offline)
        set_page_state(b, len, PageInfo{PageState::Offline, info.zone, info.nid});
}

void PageAllocator::set_pageblock_migratetype(Pfn start, PageCount n, MigrateType mt)
{
    for (uint64_t pb = align_down(start.value(), pageblock_nr_pages); pb < (start + n).value(); pb += pageblock_nr_pages) {
        const Pfn p(pb);
        if (!m_memmap.pfn_valid(p)) continue;
        const MigrateType old = m_memmap.pageblock_migratetype(p);
        if (old == mt) continue;
        m_memmap.set_pageblock_migratetype(p, mt);
        // Only pageblocks with free pages concern the hints and the kernel sets.
        if (!m_memmap.pageblock_nr_free(p)) continue;
        const PageInfo pi = m_memmap.at(p);
        Zone& z = zone(pi.nid, pi.zone);
        if (mt == MigrateType::Movable && p < z.movable_free_hint) z.movable_free_hint = p;
        const int k_old = kernel_set_index(old), k_new = kernel_set_index(mt);
        if (k_old >= 0) z.kernel_pageblocks_with_free[k_old].erase(p);
        if (k_new >= 0) z.kernel_pageblocks_with_free[k_new].insert(p);
    }
}

void PageAllocator::set_section_online(SectionNr nr, bool online)
{
    if (m_memmap.online_section(nr) == online) return;
    m_memmap.for_each_run(section_nr_to_pfn(nr), section_nr_to_pfn(SectionNr(nr.value() + 1)),
                          [&](Pfn, PageCount len, PageInfo info) {
                              PageCount& c = zone(info.nid, info.zone).pages_with_online_memmap;
                              online ? c += len : c -= len;
                              return true;
                          });
    m_memmap.set_section_online(nr, online);
}

PageCount PageAllocator::take_free_pages(Pfn start, Pfn end, PageCount n, PageState as, AllocFrom from,
                                         PageFilter filter, PageRanges* taken)
{
    struct Piece {
        Pfn start;
        PageCount len;
        PageInfo info;
    };
    std::vector<Piece> pieces;
    PageCount want = n;
    auto collect = [&](Pfn b, PageCount len, PageInfo info) {
        if (!want) return false;
        if (info.state != PageState::Free) return true;
        if (filter.zone && info.zone != *filter.zone) return true;
        if (filter.nid && info.nid != *filter.nid) return true;
        const PageCount take = std::min(len, want);
        pieces.push_back({from == AllocFrom::Top ? (b + len) - take : b, take, info});
        want -= take;
        return true;
    };
    if (from == AllocFrom::Top)
        m_memmap.for_each_run_reverse(start, end, collect);
    else
        m_memmap.for_each_run(start, end, collect);
    for (const Piece& p : pieces) set_page_state(p.start, p.len, PageInfo{as, p.info.zone, p.info.nid});
    if (taken)
        for (const Piece& p : pieces) taken->emplace_back(p.start, p.len);
    return n - want;
}

// What a request whose highest zone is `highest` must leave free in `zone`:
// the watermark plus the lowmem_reserve that protects it from such requests.
uint64_t PageAllocator::zone_reserve(const Zone& zone, ZoneType highest, WatermarkIdx mark) const
{
    return zone.watermark[mark] + zone.lowmem_reserve[zone_idx(highest)];
}

std::vector<NodeId> PageAllocator::zonelist_nodes(NodeId nid, const Gfp& gfp) const
{
    // QEMU's default SLIT: every other node at the same distance, so after the
    // local node they come in id order (build_zonelists).
    std::vector<NodeId> order;
    if (nid != gfp.not_node) order.push_back(nid);
    if (gfp.thisnode) return order;
    for (const PgData& p : m_nodes)
        if (p.node_id != nid && p.node_id != gfp.not_node && p.online) order.push_back(p.node_id);
    return order;
}

namespace {

// Free pages of [zone] inside `exclude`, which a request must not count.
PageCount free_in(const Memmap& memmap, const Zone& zone, std::optional<std::pair<Pfn, Pfn>> exclude)
{
    PageCount n;
    if (!exclude) return n;
    memmap.for_each_run(exclude->first, exclude->second, [&](Pfn, PageCount len, PageInfo info) {
        if (info.state == PageState::Free && info.zone == zone.type && info.nid == zone.nid) n += len;
        return true;
    });
    return n;
}

}  // namespace

PageCount PageAllocator::zone_room(const Zone& zone, const Gfp& gfp, WatermarkIdx mark,
                                   std::optional<std::pair<Pfn, Pfn>> exclude, uint64_t unit, PageCount taken) const
{
    if (!zone.populated_zone()) return PageCount();
    const uint64_t reserve = zone_reserve(zone, gfp.highest_zone, mark);
    const uint64_t free = (zone.nr_free_pages - free_in(m_memmap, zone, exclude) - taken).value();
    if (free <= reserve) return PageCount();
    return PageCount(align_down(free - reserve, unit));
}

PageCount PageAllocator::allocatable_pages(NodeId nid, Gfp gfp, std::optional<std::pair<Pfn, Pfn>> exclude) const
{
    PageCount available;
    for (NodeId node : zonelist_nodes(nid, gfp))
        for (int z = zone_idx(gfp.highest_zone); z >= 0; --z)
            available += zone_room(m_nodes[node].node_zones[z], gfp, WMARK_MIN, exclude, 1);
    return available;
}

std::vector<PageAllocator::ZoneShare> PageAllocator::allocation_spread(NodeId nid, Gfp gfp, PageCount n,
                                                                       std::optional<std::pair<Pfn, Pfn>> exclude) const
{
    std::vector<ZoneShare> out;
    if (!n || allocatable_pages(nid, gfp, exclude) < n) return out;
    PageCount want = n;
    for (WatermarkIdx mark : {WMARK_LOW, WMARK_MIN})
        for (NodeId node : zonelist_nodes(nid, gfp))
            for (int z = zone_idx(gfp.highest_zone); z >= 0 && want; --z) {
                const Zone& zone = m_nodes[node].node_zones[z];
                auto it = std::find_if(out.begin(), out.end(),
                                       [&](const ZoneShare& s) { return s.nid == node && s.zone == zone.type; });
                const PageCount taken = it == out.end() ? PageCount() : it->pages;
                const PageCount k = std::min(want, zone_room(zone, gfp, mark, exclude, 1, taken));
                if (!k) continue;
                if (it == out.end())
                    out.push_back({node, zone.type, k});
                else
                    it->pages += k;
                want -= k;
            }
    return out;
}

KResult<void> PageAllocator::alloc_pages(NodeId nid, Gfp gfp, PageCount n, PageState as, PageRanges* taken,
                                         std::optional<std::pair<Pfn, Pfn>> exclude, unsigned order)
{
    const uint64_t unit = uint64_t{1} << order;
    if (allocatable_pages(nid, gfp, exclude) < n) return kerr(ENOMEM, "page allocation failure");
    PageCount want = n;
    PageRanges got;
    // get_page_from_freelist's fast path keeps every zone above its low
    // watermark; only when the whole zonelist is there does the slow path go
    // down to min.
    for (WatermarkIdx mark : {WMARK_LOW, WMARK_MIN})
        for (NodeId node : zonelist_nodes(nid, gfp))
            for (int z = zone_idx(gfp.highest_zone); z >= 0 && want; --z) {
                Zone& zone = m_nodes[node].node_zones[z];
                const PageCount room = zone_room(zone, gfp, mark, exclude, unit);
                if (room) want -= rmqueue(zone, std::min(want, room), gfp.migratetype, order, as, got, exclude);
            }
    if (want) {
        // Free pages the zones count but cannot hand out here (isolated, or linked
        // to another zone in a shared pageblock): all or nothing.
        for (const auto& [b, len] : got) free_pages(b, len);
        return kerr(ENOMEM, "page allocation failure");
    }
    if (taken) taken->insert(taken->end(), got.begin(), got.end());
    return {};
}

PageCount PageAllocator::take_from_pageblock(Zone& zone, Pfn pb, PageCount n, PageState as, PageRanges& got)
{
    return take_free_pages(pb, pb + PageCount(pageblock_nr_pages), n, as, AllocFrom::Bottom, {zone.type, zone.nid},
                           &got);
}

// __rmqueue: the buddy hands out its lowest pages first (boot and onlining free
// pages to the tail of the free lists in ascending order). A kernel request is
// served from its own pageblocks first; then __rmqueue_fallback steals the
// lowest wholly free pageblock (the largest free buddy) and converts it, as
// steal_suitable_fallback does for unmovable and reclaimable requests. Movable
// requests take from movable pageblocks, then from any, converting nothing.
PageCount PageAllocator::rmqueue(Zone& zone, PageCount n, MigrateType mt, unsigned order, PageState as, PageRanges& got,
                                 std::optional<std::pair<Pfn, Pfn>> exclude)
{
    const auto excluded = [&](Pfn pb) {
        return exclude && pb + PageCount(pageblock_nr_pages) > exclude->first && pb < exclude->second;
    };
    PageCount want = n;
    const int k = kernel_set_index(mt);
    // An order-9 request takes wholly free pageblocks only.
    const bool whole = order == pageblock_order;
    if (k >= 0) {
        // A copy: taking pages changes the set.
        const std::vector<Pfn> own(zone.kernel_pageblocks_with_free[k].begin(), zone.kernel_pageblocks_with_free[k].end());
        for (Pfn pb : own) {
            if (!want) break;
            if (excluded(pb) || (whole && m_memmap.pageblock_nr_free(pb) != pageblock_nr_pages)) continue;
            want -= take_from_pageblock(zone, pb, want, as, got);
        }
    }
    const Pfn end = zone.zone_end_pfn();
    // Scans from a hint, a lower bound that moves forward past every pageblock
    // that can never qualify until pages are freed there (`skippable`); freeing
    // lowers it again (set_page_state), so each pageblock is passed once between
    // frees and requests stay linear.
    auto scan = [&](Pfn& hint, auto&& qualifies, auto&& skippable) -> std::optional<Pfn> {
        Pfn pb(std::max(align_down(zone.zone_start_pfn.value(), pageblock_nr_pages),
                        hint.value() == ~uint64_t{0} ? end.value() : hint.value()));
        bool moving = true;
        for (; pb < end; pb += PageCount(pageblock_nr_pages)) {
            if (!m_memmap.pfn_valid(pb)) {
                pb = Pfn(align_down(pb.value(), PAGES_PER_SECTION) + PAGES_PER_SECTION) - PageCount(pageblock_nr_pages);
                continue;
            }
            if (qualifies(pb) && !excluded(pb)) {
                if (moving) hint = pb;
                return pb;
            }
            if (moving && (!skippable(pb) || excluded(pb))) {
                hint = pb;
                moving = false;
            }
        }
        if (moving) hint = Pfn(~uint64_t{0});
        return std::nullopt;
    };
    auto not_wholly_free = [&](Pfn p) { return m_memmap.pageblock_nr_free(p) != pageblock_nr_pages; };
    auto nothing_free = [&](Pfn p) { return m_memmap.pageblock_nr_free(p) == 0; };
    // Isolated pageblocks (an offline in progress) give nothing.
    auto usable = [&](Pfn pb) { return m_memmap.pageblock_migratetype(pb) != MigrateType::Isolate; };
    auto same_zone = [&](Pfn pb) {
        const PageInfo pi = m_memmap.at(pb + PageCount(pageblock_nr_pages - 1));
        return pi.zone == zone.type && pi.nid == zone.nid;
    };
    // A zone's span may hold other zones' blocks (a Movable block amid DMA32):
    // their free pages are on those zones' free lists, not this one's.
    auto any_free = [&](Pfn p) { return m_memmap.pageblock_nr_free(p) != 0 && usable(p) && same_zone(p); };
    auto no_free_of_zone = [&](Pfn p) { return nothing_free(p) || !same_zone(p); };
    while (want) {
        std::optional<Pfn> pb;
        if (k >= 0 || whole) {
            Pfn hint = zone.whole_free_hint;
            pb = scan(
                hint,
                [&](Pfn p) { return m_memmap.pageblock_nr_free(p) == pageblock_nr_pages && same_zone(p) && usable(p); },
                not_wholly_free);
            zone.whole_free_hint = hint;
            if (!pb && !whole) {
                Pfn any = zone.free_hint;
                pb = scan(any, any_free, no_free_of_zone);
                zone.free_hint = any;
            }
            if (pb) set_pageblock_migratetype(*pb, PageCount(pageblock_nr_pages), mt);
        } else {
            // Movable pageblocks first; then any, converting nothing (order 0).
            auto movable_with_free = [&](Pfn p) {
                return m_memmap.pageblock_nr_free(p) != 0 && m_memmap.pageblock_migratetype(p) == MigrateType::Movable &&
                       same_zone(p);
            };
            Pfn hint = zone.movable_free_hint;
            pb = scan(hint, movable_with_free, [&](Pfn p) { return !movable_with_free(p); });
            zone.movable_free_hint = hint;
            if (!pb) {
                Pfn any = zone.free_hint;
                pb = scan(any, any_free, no_free_of_zone);
            }
        }
        if (!pb) break;
        const PageCount took = take_from_pageblock(zone, *pb, want, as, got);
        if (!took) break;  // free pages of another zone's or node's link in this pageblock
        want -= took;
    }
    return n - want;
}

void PageAllocator::free_pages(Pfn start, PageCount n)
{
    m_memmap.for_each_run(start, start + n, [&](Pfn b, PageCount len, PageInfo info) {
        set_page_state(b, len, PageInfo{PageState::Free, info.zone, info.nid});
        return true;
    });
}

PageCount PageAllocator::totalram_pages() const
{
    PageCount total;
    for (const PgData& p : m_nodes)
        for (const Zone& z : p.node_zones) total += z.managed_pages;
    return total;
}

PageCount PageAllocator::nr_free_pages() const
{
    PageCount total;
    for (const PgData& p : m_nodes)
        for (const Zone& z : p.node_zones) total += z.nr_free_pages;
    return total;
}

std::optional<Pfn> PageAllocator::has_unmovable_pages(Pfn start, Pfn end) const
{
    std::optional<Pfn> found;
    m_memmap.for_each_run(start, end, [&](Pfn b, PageCount, PageInfo info) {
        switch (info.state) {
        case PageState::Reserved:
        case PageState::Hole: found = b; break;
        case PageState::Vmemmap:
        case PageState::Unmovable:
            // Inside ZONE_MOVABLE only PageReserved counts (the zone is trusted).
            if (info.zone != ZoneType::Movable) found = b;
            break;
        default: break;
        }
        return !found;
    });
    return found;
}

PageAllocator::FreeArea PageAllocator::free_area(const Zone& z) const
{
    FreeArea area{};
    m_memmap.for_each_run(z.zone_start_pfn, z.zone_end_pfn(), [&](Pfn b, PageCount len, PageInfo info) {
        if (info.state != PageState::Free || info.zone != z.type || info.nid != z.nid) return true;
        uint64_t pfn = b.value();
        const uint64_t end = pfn + len.value();
        while (pfn < end) {
            unsigned order = MAX_ORDER - 1;
            while (order && ((pfn & ((uint64_t{1} << order) - 1)) || pfn + (uint64_t{1} << order) > end)) --order;
            ++area[int(m_memmap.pageblock_migratetype(Pfn(pfn)))][order];
            pfn += uint64_t{1} << order;
        }
        return true;
    });
    return area;
}

std::array<uint64_t, MIGRATE_TYPES> PageAllocator::nr_pageblocks(const Zone& z) const
{
    // pagetypeinfo_showblockcount walks from zone_start_pfn in pageblock steps.
    std::array<uint64_t, MIGRATE_TYPES> n{};
    for (uint64_t pfn = z.zone_start_pfn.value(); pfn < z.zone_end_pfn().value(); pfn += pageblock_nr_pages) {
        const Pfn p(pfn);
        if (!m_memmap.online_section(pfn_to_section_nr(p))) {
            pfn = align_down(pfn, PAGES_PER_SECTION) + PAGES_PER_SECTION + pfn % pageblock_nr_pages - pageblock_nr_pages;
            continue;
        }
        const PageInfo pi = m_memmap.at(p);
        if (pi.zone == z.type && pi.nid == z.nid) ++n[int(m_memmap.pageblock_migratetype(p))];
    }
    return n;
}

namespace {

uint64_t int_sqrt(uint64_t x)
{
    auto r = static_cast<uint64_t>(std::sqrt(static_cast<long double>(x)));
    while (r * r > x) --r;
    while ((r + 1) * (r + 1) <= x) ++r;
    return r;
}

// The zones nr_free_buffer_pages() counts: everything up to Normal.
bool is_lowmem(ZoneType z) { return z != ZoneType::Movable && z != ZoneType::Device; }

}  // namespace

// The watermark part of init_per_zone_wmark_min(): min_free_kbytes from the
// kernel zones' managed pages above their current high watermarks, split over
// every zone by managed pages, then raised to khugepaged's recommended minimum.
uint64_t PageAllocator::setup_watermarks(std::vector<ZoneWmarks>& zones)
{
    constexpr uint64_t watermark_scale_factor = 10;
    uint64_t min_free_kbytes = 0;
    auto setup_wmarks = [&] {
        const uint64_t pages_min = min_free_kbytes >> (PAGE_SHIFT - 10);
        uint64_t lowmem_pages = 0;
        for (const ZoneWmarks& z : zones) lowmem_pages += z.managed;
        for (ZoneWmarks& z : zones) {
            const uint64_t tmp = lowmem_pages ? pages_min * z.managed / lowmem_pages : 0;
            z.watermark[WMARK_MIN] = tmp;
            const uint64_t step = std::max(tmp >> 2, z.managed * watermark_scale_factor / 10000);
            z.watermark[WMARK_LOW] = tmp + step;
            z.watermark[WMARK_HIGH] = tmp + 2 * step;
        }
    };
    // nr_free_buffer_pages(): managed minus high watermark over the kernel zones.
    uint64_t buffer_pages = 0;
    for (const ZoneWmarks& z : zones)
        if (is_lowmem(z.type) && z.managed > z.watermark[WMARK_HIGH]) buffer_pages += z.managed - z.watermark[WMARK_HIGH];
    min_free_kbytes = std::clamp<uint64_t>(int_sqrt(buffer_pages * (PAGE_SIZE >> 10) * 16), 128, 262144);
    setup_wmarks();

    // khugepaged (THP "always"): keep enough free for fragmentation avoidance,
    // at most 5 % of nr_free_buffer_pages().
    uint64_t nr_zones = 0, free_buffer_pages = 0;
    for (const ZoneWmarks& z : zones) {
        if (!z.populated || !is_lowmem(z.type)) continue;
        ++nr_zones;
        if (z.managed > z.watermark[WMARK_HIGH]) free_buffer_pages += z.managed - z.watermark[WMARK_HIGH];
    }
    uint64_t recommended = pageblock_nr_pages * nr_zones * 2 + pageblock_nr_pages * nr_zones * 9;
    recommended = std::min(recommended, free_buffer_pages / 20);
    recommended <<= (PAGE_SHIFT - 10);
    if (recommended > min_free_kbytes) {
        min_free_kbytes = recommended;
        setup_wmarks();
    }
    // lowmem_reserve: what each zone keeps from requests that could use the higher
    // zones of its node (`zones` holds each node's zones together, in zone order).
    constexpr std::array<uint64_t, MAX_NR_ZONES> lowmem_reserve_ratio = {256, 256, 32, 0, 0};
    for (size_t n = 0; n + MAX_NR_ZONES <= zones.size(); n += MAX_NR_ZONES)
        for (size_t i = 0; i < MAX_NR_ZONES; ++i) {
            ZoneWmarks& z = zones[n + i];
            const bool clear = !lowmem_reserve_ratio[i] || !z.managed;
            uint64_t upper = 0;
            for (size_t j = 0; j < MAX_NR_ZONES; ++j) {
                if (j <= i) {
                    z.lowmem_reserve[j] = 0;
                    continue;
                }
                upper += zones[n + j].managed;
                z.lowmem_reserve[j] = clear ? 0 : upper / lowmem_reserve_ratio[i];
            }
        }
    return min_free_kbytes;
}

std::vector<PageAllocator::ZoneWmarks> PageAllocator::zone_wmarks() const
{
    std::vector<ZoneWmarks> out;
    for (const PgData& p : m_nodes)
        for (const Zone& z : p.node_zones) out.push_back({p.node_id, z.type, z.managed_pages.value(), z.populated_zone(), z.watermark, z.lowmem_reserve});
    return out;
}

// init_per_zone_wmark_min(): min_free_kbytes, watermarks, lowmem_reserve and
// khugepaged's recommended minimum, recomputed after every online and offline.
void PageAllocator::init_per_zone_wmark_min()
{
    std::vector<ZoneWmarks> wm = zone_wmarks();
    m_min_free_kbytes = setup_watermarks(wm);
    auto it = wm.begin();
    for (PgData& p : m_nodes)
        for (Zone& z : p.node_zones) {
            z.watermark = it->watermark;
            z.lowmem_reserve = (it++)->lowmem_reserve;
        }

    m_totalreserve_pages = PageCount();
    for (const PgData& p : m_nodes)
        for (const Zone& z : p.node_zones) {
            const uint64_t max_reserve = *std::max_element(z.lowmem_reserve.begin(), z.lowmem_reserve.end());
            const uint64_t r = std::min(max_reserve + z.watermark[WMARK_HIGH], z.managed_pages.value());
            m_totalreserve_pages += PageCount(r);
        }
    setup_zone_pagesets();
}

// zone_batchsize() / zone_highsize() and refresh_zone_stat_thresholds().
void PageAllocator::setup_zone_pagesets()
{
    for (PgData& p : m_nodes)
        for (Zone& z : p.node_zones) {
            uint64_t batch = std::min<uint64_t>(z.managed_pages.value() >> 10, (1 * MiB) / PAGE_SIZE) / 4;
            batch = std::max<uint64_t>(batch, 1);
            batch = std::max<uint64_t>(std::bit_floor(batch + batch / 2) - 1, 1);
            const size_t node_cpus = size_t(p.node_id) < m_node_cpus.size() ? m_node_cpus[p.node_id].size() : 0;
            const uint64_t split = node_cpus ? node_cpus : uint64_t(m_nr_cpus);
            const uint64_t high = std::max<uint64_t>(z.watermark[WMARK_LOW] / split, batch << 2);
            z.pcp_batch = z.populated_zone() ? batch : 0;
            z.pcp_high = z.populated_zone() ? high : 0;
            // calculate_normal_threshold()
            const int cpus_fls = std::bit_width(unsigned(m_nr_cpus));
            const int mem = std::bit_width(unsigned(z.managed_pages.value() >> (27 - PAGE_SHIFT)));
            z.stat_threshold = std::min(125, 2 * cpus_fls * (1 + mem));
        }
}

}  // namespace memplug::mm
