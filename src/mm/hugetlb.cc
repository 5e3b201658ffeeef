#include "mm/hugetlb.h"

#include <algorithm>

#include <fmt/format.h>

#include "mm/shmem.h"

namespace memplug::mm {

void Hugetlb::init(int nr_nodes)
{
    m_hstates[HSTATE_2M].order = pageblock_order;
    m_hstates[HSTATE_1G].order = 18;
    for (Hstate& h : m_hstates) {
        h.nr_huge_pages_node.assign(size_t(nr_nodes), 0);
        h.free_list.assign(size_t(nr_nodes), {});
    }
}

void Hugetlb::report_hugepages(KernelLog& log) const
{
    constexpr uint64_t struct_page_size = 64;
    for (HstateIdx idx : {HSTATE_1G, HSTATE_2M}) {
        const Hstate& h = m_hstates[idx];
        const std::string size = h.size_kb() >= 1024 * 1024 ? fmt::format("{:.2f} GiB", h.size_kb() / (1024.0 * 1024))
                                                            : fmt::format("{:.2f} MiB", h.size_kb() / 1024.0);
        log.pr_info(fmt::format("HugeTLB: registered {} page size, pre-allocated {} pages", size, h.free_huge_pages));
        // hugetlb_vmemmap_optimizable_size: all memmap pages of a huge page but the first.
        const uint64_t memmap_pages = h.pages_per_huge_page().value() * struct_page_size / PAGE_SIZE;
        log.pr_info(fmt::format("HugeTLB: {} KiB vmemmap can be freed for a {} page", (memmap_pages - 1) * PAGE_SIZE / 1024,
                                size));
    }
}

std::vector<NodeId> Hugetlb::nodes_with_memory(const PageAllocator& pa) const
{
    std::vector<NodeId> out;
    for (const PgData& p : pa.nodes())
        if (p.online && p.node_present_pages) out.push_back(p.node_id);
    return out;
}

void Hugetlb::enqueue(Hstate& h, NodeId nid, Pfn head)
{
    h.free_list[size_t(nid)].emplace(h.seq++, head);
    ++h.nr_huge_pages;
    ++h.free_huge_pages;
    ++h.nr_huge_pages_node[size_t(nid)];
}

namespace {

// A free or migratable range for alloc_contig_range(): every page online, in
// the zone and not reserved (pfn_range_valid_contig), nothing unmovable for
// isolation, no huge page already there.
bool contig_range_usable(const PageAllocator& pa, const Zone& zone, Pfn start, Pfn end)
{
    bool ok = true;
    PageCount covered;
    pa.memmap().for_each_run(start, end, [&](Pfn, PageCount len, PageInfo info) {
        covered += len;
        ok = info.zone == zone.type && info.nid == zone.nid &&
             (info.state == PageState::Free || info.state == PageState::Movable);
        return ok;
    });
    if (!ok || covered != end - start) return false;
    for (Pfn s = start; s < end; s += PageCount(PAGES_PER_SECTION))
        if (!pa.memmap().online_section(pfn_to_section_nr(s))) return false;
    return true;
}

}  // namespace

// alloc_fresh_huge_page() with __GFP_THISNODE: a 2 MiB page from the buddy
// (Movable down to DMA: GFP_HIGHUSER_MOVABLE), compaction making one out of
// movable pages when no pageblock is wholly free; a gigantic page through
// alloc_contig_pages() from Normal down, never Movable.
bool Hugetlb::alloc_fresh_huge_page(PageAllocator& pa, ShmemFs& shmem, Hstate& h, NodeId nid, Exclude exclude)
{
    const PageCount n = h.pages_per_huge_page();
    const ZoneType highest = h.gigantic() ? ZoneType::Normal : ZoneType::Movable;
    PgData& pgdat = pa.nodes().at(size_t(nid));
    // alloc_contig_pages has no watermark; the buddy's fast path keeps the low
    // one in every zone before the slow path takes a zone down to min.
    for (WatermarkIdx mark : {WMARK_LOW, WMARK_MIN}) {
        for (int zi = zone_idx(highest); zi >= 0; --zi) {
            Zone& zone = pgdat.node_zones[zi];
            if (!zone.populated_zone()) continue;
            if (!h.gigantic()) {
                // __zone_watermark_ok for an order-9 request.
                const uint64_t reserve = zone.watermark[mark] + zone.lowmem_reserve[zone_idx(highest)];
                if (zone.nr_free_pages.value() < n.value() + reserve) continue;
            }
            if (alloc_in_zone(pa, shmem, h, zone, nid, exclude)) {
                if (!h.gigantic()) ++m_buddy_alloc_success;
                return true;
            }
        }
        if (h.gigantic()) break;
    }
    if (!h.gigantic()) ++m_buddy_alloc_fail;
    return false;
}

bool Hugetlb::alloc_in_zone(PageAllocator& pa, ShmemFs& shmem, Hstate& h, Zone& zone, NodeId nid, Exclude exclude)
{
    const PageCount n = h.pages_per_huge_page();
    const Pfn first(align_up(zone.zone_start_pfn.value(), n.value()));
    // Wholly free candidates first, then ones compaction can empty.
    for (int pass = 0; pass < 2; ++pass) {
        Pfn begin = first;
        if (pass == 0 && !h.gigantic()) {
            // The lowest wholly free pageblock is where the buddy's order-9 list starts.
            if (zone.whole_free_hint.value() == ~uint64_t{0}) continue;
            begin = std::max(first, Pfn(align_up(zone.whole_free_hint.value(), n.value())));
        }
        for (Pfn p = begin; p + n <= zone.zone_end_pfn(); p += n) {
            if (!pa.memmap().pfn_valid(p)) continue;
            if (exclude && p + n > exclude->first && p < exclude->second) continue;
            if (!h.gigantic() && pass == 0 && pa.memmap().pageblock_nr_free(p) != pageblock_nr_pages) continue;
            if (!contig_range_usable(pa, zone, p, p + n)) continue;
            if (pass == 1 && shmem.pages_in(p, p + n)) {
                if (!shmem.migrate_range(pa, p, p + n, nid, !h.gigantic())) continue;
            }
            PageRanges got;
            if (pa.take_free_pages(p, p + n, n, PageState::Hugetlb, PageAllocator::AllocFrom::Bottom, {}, &got) != n) {
                for (const auto& [b, len] : got) pa.free_pages(b, len);
                continue;
            }
            // Nothing below is wholly free any more: the next search starts here
            // (unless it passed over the excluded range).
            if (!h.gigantic() && pass == 0 && (!exclude || p < exclude->first)) zone.whole_free_hint = p + n;
            enqueue(h, nid, p);
            return true;
        }
    }
    return false;
}

void Hugetlb::set_max_huge_pages(PageAllocator& pa, ShmemFs& shmem, HstateIdx idx, uint64_t count,
                                 std::optional<NodeId> node)
{
    Hstate& h = m_hstates[idx];
    std::vector<NodeId> allowed = node ? std::vector<NodeId>{*node} : nodes_with_memory(pa);
    // __nr_hugepages_store_common: the other nodes' pages stay; a count that
    // overflows means "as many as there can be".
    if (node) {
        const uint64_t others = h.nr_huge_pages - h.nr_huge_pages_node[size_t(*node)];
        count = count > UINT64_MAX - others ? UINT64_MAX : count + others;
    }
    h.max_huge_pages = count;
    auto next_in = [&](NodeId& next) {
        // get_valid_node_allowed + next_node_allowed: the node at or after `next`, then step past it.
        auto it = std::lower_bound(allowed.begin(), allowed.end(), next);
        if (it == allowed.end()) it = allowed.begin();
        const NodeId nid = *it;
        ++it;
        next = it == allowed.end() ? allowed.front() : *it;
        return nid;
    };
    if (allowed.empty()) return;
    while (count > h.nr_huge_pages) {
        bool got = false;
        for (size_t tries = 0; tries < allowed.size() && !got; ++tries) {
            const NodeId nid = next_in(h.next_nid_to_alloc);
            got = alloc_fresh_huge_page(pa, shmem, h, nid);
        }
        if (!got) break;
    }
    while (count < h.nr_huge_pages) {
        bool freed = false;
        for (size_t tries = 0; tries < allowed.size() && !freed; ++tries) {
            const NodeId nid = next_in(h.next_nid_to_free);
            auto& list = h.free_list[size_t(nid)];
            if (list.empty()) continue;
            const Pfn head = std::prev(list.end())->second;
            list.erase(std::prev(list.end()));
            --h.nr_huge_pages;
            --h.free_huge_pages;
            --h.nr_huge_pages_node[size_t(nid)];
            pa.free_pages(head, h.pages_per_huge_page());
            freed = true;
        }
        if (!freed) break;
    }
    pa.init_per_zone_wmark_min();
}

void Hugetlb::demote(HstateIdx idx, uint64_t n, std::optional<NodeId> node)
{
    if (idx != HSTATE_1G) return;  // 2 MiB is the smallest size: nothing to demote to
    Hstate& h = m_hstates[HSTATE_1G];
    Hstate& target = m_hstates[HSTATE_2M];
    const uint64_t per = uint64_t{1} << (h.order - target.order);
    for (; n; --n) {
        // The next node with a free page, from next_nid_to_free.
        std::optional<size_t> from;
        for (size_t i = 0; i < h.free_list.size() && !from; ++i) {
            const size_t nid = (size_t(h.next_nid_to_free) + i) % h.free_list.size();
            if ((!node || NodeId(nid) == *node) && !h.free_list[nid].empty()) from = nid;
        }
        if (!from) return;
        h.next_nid_to_free = NodeId((*from + 1) % h.free_list.size());
        auto& list = h.free_list[*from];
        const Pfn head = std::prev(list.end())->second;
        list.erase(std::prev(list.end()));
        --h.nr_huge_pages;
        --h.free_huge_pages;
        --h.nr_huge_pages_node[*from];
        if (h.max_huge_pages) --h.max_huge_pages;
        for (uint64_t i = 0; i < per; ++i) enqueue(target, NodeId(*from), head + PageCount(i << target.order));
        target.max_huge_pages += per;
    }
}

namespace {
bool overlaps(const Hstate& h, Pfn head, Pfn start, Pfn end) { return head + h.pages_per_huge_page() > start && head < end; }
}  // namespace

void Hugetlb::dissolve_free_huge_pages(PageAllocator& pa, Pfn start, Pfn end)
{
    for (Hstate& h : m_hstates)
        for (size_t nid = 0; nid < h.free_list.size(); ++nid) {
            auto& list = h.free_list[nid];
            for (auto it = list.begin(); it != list.end();) {
                const Pfn head = it->second;
                if (!overlaps(h, head, start, end)) {
                    ++it;
                    continue;
                }
                it = list.erase(it);
                --h.nr_huge_pages;
                --h.free_huge_pages;
                --h.nr_huge_pages_node[nid];
                if (h.max_huge_pages) --h.max_huge_pages;
                pa.free_pages(head, h.pages_per_huge_page());
            }
        }
}

KResult<void> Hugetlb::replace_free_huge_pages(PageAllocator& pa, ShmemFs& shmem, Pfn start, Pfn end)
{
    for (HstateIdx idx : {HSTATE_2M, HSTATE_1G}) {
        Hstate& h = m_hstates[idx];
        // In pfn order, as isolate_migratepages_range meets them.
        std::map<Pfn, std::pair<size_t, uint64_t>> in_range;  // head -> (node, free-list sequence)
        for (size_t nid = 0; nid < h.free_list.size(); ++nid)
            for (const auto& [seq, head] : h.free_list[nid])
                if (overlaps(h, head, start, end)) in_range.emplace(head, std::pair{nid, seq});
        for (const auto& [head, where] : in_range) {
            if (h.gigantic()) return kerr(ENOMEM, "alloc_contig_range: a free gigantic page cannot be replaced");
            const auto [nid, seq] = where;
            if (!alloc_fresh_huge_page(pa, shmem, h, NodeId(nid), std::pair{start, end}))
                return kerr(ENOMEM, "alloc_contig_range: no fresh huge page to replace a free one");
            // The fresh page is in the pool; the old one leaves it for the buddy.
            h.free_list[nid].erase(seq);
            --h.nr_huge_pages;
            --h.free_huge_pages;
            --h.nr_huge_pages_node[nid];
            pa.free_pages(head, h.pages_per_huge_page());
        }
    }
    return {};
}

std::array<uint64_t, Hugetlb::HUGE_MAX_HSTATE> Hugetlb::free_huge_pages_in(Pfn start, Pfn end) const
{
    std::array<uint64_t, HUGE_MAX_HSTATE> n{};
    for (HstateIdx idx : {HSTATE_2M, HSTATE_1G})
        for (const auto& list : m_hstates[idx].free_list)
            for (const auto& [seq, head] : list) n[idx] += overlaps(m_hstates[idx], head, start, end);
    return n;
}

bool Hugetlb::has_huge_pages(const PageAllocator& pa, Pfn start, Pfn end) const
{
    bool found = false;
    pa.memmap().for_each_run(start, end, [&](Pfn, PageCount, PageInfo info) {
        found = info.state == PageState::Hugetlb;
        return !found;
    });
    return found;
}

namespace {

HugeZoneForecast::Class page_class(const Zone& zone, PageInfo info)
{
    using C = HugeZoneForecast;
    const bool here = info.zone == zone.type && info.nid == zone.nid;
    switch (info.state) {
    case PageState::Free: return here ? C::Free : C::OtherZone;
    case PageState::Movable: return here ? C::Compactable : C::OtherZone;
    case PageState::Hole:
    case PageState::NotOnline:
    case PageState::Offline: return C::NotOnline;
    case PageState::Hugetlb: return C::HugeTlb;
    case PageState::Unmovable: return C::Unmovable;
    case PageState::Reserved:
    case PageState::Vmemmap:
    case PageState::HwPoison: return C::Reserved;
    }
    return C::Reserved;
}

// Every aligned range of n pages in the zone, by its worst page: one pass over
// the memmap's runs, ranges inside one run counted in bulk (64 TiB stays fast).
void classify_ranges(const Memmap& memmap, const Zone& zone, uint64_t n, HugeZoneForecast& z)
{
    const uint64_t first = align_up(zone.zone_start_pfn.value(), n), last = align_down(zone.zone_end_pfn().value(), n);
    if (first >= last) return;
    bool active = false;
    uint64_t idx = 0, covered = 0, mig = 0;
    auto cls = HugeZoneForecast::Free;
    auto count = [&](HugeZoneForecast::Class c, uint64_t k, uint64_t movable) {
        z.ranges[c] += k;
        if (c == HugeZoneForecast::Compactable) z.to_migrate += PageCount(movable);
    };
    auto finish = [&] {
        if (!active) return;
        // Pages without a memmap (a section never added) are a hole.
        count(covered < n ? std::max(cls, HugeZoneForecast::NotOnline) : cls, 1, mig);
        active = false;
    };
    memmap.for_each_run(Pfn(first), Pfn(last), [&](Pfn b, PageCount len, PageInfo info) {
        const auto c = page_class(zone, info);
        uint64_t pos = b.value();
        const uint64_t end = pos + len.value();
        while (pos < end) {
            if (active && pos / n != idx) finish();
            if (!active && pos % n == 0 && end - pos >= n) {
                const uint64_t k = (end - pos) / n;
                count(c, k, c == HugeZoneForecast::Compactable ? k * n : 0);
                pos += k * n;
                continue;
            }
            if (!active) {
                active = true;
                idx = pos / n;
                covered = mig = 0;
                cls = HugeZoneForecast::Free;
            }
            const uint64_t take = std::min(end, (idx + 1) * n) - pos;
            cls = std::max(cls, c);
            covered += take;
            if (c == HugeZoneForecast::Compactable) mig += take;
            pos += take;
        }
        return true;
    });
    finish();
    uint64_t seen = 0;
    for (uint64_t k : z.ranges) seen += k;
    z.ranges[HugeZoneForecast::NotOnline] += (last - first) / n - seen;
}

}  // namespace

HugeForecast Hugetlb::forecast(const PageAllocator& pa, HstateIdx idx, NodeId nid) const
{
    const Hstate& h = m_hstates[idx];
    HugeForecast f;
    f.order = h.order;
    f.nid = nid;
    const uint64_t n = h.pages_per_huge_page().value();
    const ZoneType highest = h.gigantic() ? ZoneType::Normal : ZoneType::Movable;
    // Migration targets: this node only for 2 MiB pages (__GFP_THISNODE), any for gigantic ones.
    const Gfp migrate_gfp{ZoneType::Movable, MigrateType::Movable, !h.gigantic()};
    uint64_t migrate_room = pa.allocatable_pages(nid, migrate_gfp).value();
    const PgData& pgdat = pa.nodes().at(size_t(nid));
    for (int zi = zone_idx(highest); zi >= 0; --zi) {
        const Zone& zone = pgdat.node_zones[size_t(zi)];
        if (!zone.populated_zone()) continue;
        HugeZoneForecast z;
        z.zone = zone.type;
        classify_ranges(pa.memmap(), zone, n, z);
        // __zone_watermark_ok for an order-9 request: nr_free >= 512 + min + lowmem_reserve;
        // alloc_contig_pages checks none.
        const uint64_t reserve = zone.watermark[WMARK_MIN] + zone.lowmem_reserve[size_t(zone_idx(highest))];
        const uint64_t free = zone.nr_free_pages.value();
        z.watermark_room = h.gigantic() ? UINT64_MAX : free > reserve ? (free - reserve) / n : 0;
        const uint64_t from_free = std::min(z.ranges[HugeZoneForecast::Free], z.watermark_room);
        uint64_t compacted = std::min(z.ranges[HugeZoneForecast::Compactable], z.watermark_room - from_free);
        // Each huge page takes n free pages of the node; what compaction moves needs room besides.
        migrate_room -= std::min(migrate_room, from_free * n);
        if (compacted && z.to_migrate.value()) {
            const uint64_t per = std::max<uint64_t>(1, z.to_migrate.value() / z.ranges[HugeZoneForecast::Compactable]);
            compacted = std::min(compacted, migrate_room / (per + (h.gigantic() ? 0 : n)));
            migrate_room -= std::min(migrate_room, compacted * (per + (h.gigantic() ? 0 : n)));
        }
        z.expected = from_free + compacted;
        f.expected += z.expected;
        f.without_compaction += from_free;
        f.zones.push_back(z);
    }
    return f;
}

KResult<void> Hugetlb::check(const PageAllocator& pa) const
{
    uint64_t pool_pages = 0;
    for (const Hstate& h : m_hstates) {
        uint64_t listed = 0, per_node = 0;
        for (size_t nid = 0; nid < h.free_list.size(); ++nid) {
            listed += h.free_list[nid].size();
            per_node += h.nr_huge_pages_node[nid];
            for (const auto& [seq, head] : h.free_list[nid]) {
                bool ok = true;
                pa.memmap().for_each_run(head, head + h.pages_per_huge_page(), [&](Pfn, PageCount, PageInfo info) {
                    ok = info.state == PageState::Hugetlb && info.nid == NodeId(nid);
                    return ok;
                });
                if (!ok) return kerr(EFAULT, "a free huge page is not Hugetlb in the memmap");
            }
        }
        if (listed != h.free_huge_pages || h.free_huge_pages != h.nr_huge_pages || per_node != h.nr_huge_pages)
            return kerr(EFAULT, "hugetlb pool counts out of step");
        pool_pages += h.nr_huge_pages << h.order;
    }
    uint64_t in_memmap = 0;
    for (uint64_t nr = 0; nr < pa.memmap().nr_section_slots(); ++nr) {
        const Pfn b = section_nr_to_pfn(SectionNr(nr));
        pa.memmap().for_each_run(b, b + PageCount(PAGES_PER_SECTION), [&](Pfn, PageCount len, PageInfo info) {
            if (info.state == PageState::Hugetlb) in_memmap += len.value();
            return true;
        });
    }
    if (in_memmap != pool_pages) return kerr(EFAULT, "Hugetlb pages in the memmap and the pools disagree");
    return {};
}

}  // namespace memplug::mm
