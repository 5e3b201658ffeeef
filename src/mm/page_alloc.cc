// Page state changes, the allocator's choice of pages, watermarks and pagesets
// (mm/page_alloc.c). Counters change only in set_page_state(), so nothing that
// reads them (MemTotal, MemFree, zoneinfo) ever scans.
#include <algorithm>
#include <bit>
#include <cmath>

#include "mm/kernel.h"

namespace memplug::mm {

void Kernel::set_page_state(Pfn start, PageCount n, PageInfo info)
{
    auto account = [&](PageInfo pi, PageCount len, bool online, bool add) {
        if (pi.nid < 0 || pi.nid >= int(m_nodes.size())) return;
        Zone& z = zone_of(pi.nid, pi.zone);
        auto apply = [&](PageCount& c) { add ? c += len : c -= len; };
        if (page_state_managed(pi.state)) apply(z.managed_pages);
        if (pi.state == PageState::Free) apply(z.nr_free_pages);
        if (online) apply(z.pages_with_online_memmap);
    };
    m_memmap.assign(start, n, info, [&](Pfn b, PageCount len, PageInfo old) {
        account(old, len, m_memmap.online_section(pfn_to_section_nr(b)), false);
    });
    for (Pfn p = start; p < start + n;) {
        const Pfn section_end = section_nr_to_pfn(SectionNr(pfn_to_section_nr(p).value() + 1));
        const Pfn e = std::min(section_end, start + n);
        account(info, e - p, m_memmap.online_section(pfn_to_section_nr(p)), true);
        p = e;
    }
}

void Kernel::set_section_online(SectionNr nr, bool online)
{
    if (m_memmap.online_section(nr) == online) return;
    m_memmap.for_each_run(section_nr_to_pfn(nr), section_nr_to_pfn(SectionNr(nr.value() + 1)),
                          [&](Pfn, PageCount len, PageInfo info) {
                              PageCount& c = zone_of(info.nid, info.zone).pages_with_online_memmap;
                              online ? c += len : c -= len;
                              return true;
                          });
    m_memmap.set_section_online(nr, online);
}

PageCount Kernel::take_free_pages(Pfn start, Pfn end, PageCount n, PageState as, AllocFrom from, PageFilter filter,
                                  PageRanges* taken)
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

KResult<void> Kernel::alloc_pages(NodeId nid, std::initializer_list<ZoneType> zonelist, PageCount n, PageState as,
                                  PageRanges* taken)
{
    // Check first, so a failed request takes nothing.
    std::vector<NodeId> order{nid};
    for (const PgData& p : m_nodes)
        if (p.node_id != nid && p.online) order.push_back(p.node_id);
    PageCount available;
    for (NodeId node : order)
        for (ZoneType z : zonelist) {
            const Zone& zone = m_nodes[node].zone(z);
            // Allocations keep the min watermark free, as the allocator does for GFP_KERNEL.
            const uint64_t reserve = zone.watermark[WMARK_MIN];
            if (zone.nr_free_pages.value() > reserve) available += PageCount(zone.nr_free_pages.value() - reserve);
        }
    if (available < n) return kerr(ENOMEM, "page allocation failure");
    PageCount want = n;
    for (NodeId node : order)
        for (ZoneType z : zonelist) {
            if (!want) return {};
            Zone& zone = m_nodes[node].zone(z);
            const uint64_t reserve = zone.watermark[WMARK_MIN];
            if (zone.nr_free_pages.value() <= reserve) continue;
            PageCount can = std::min(want, PageCount(zone.nr_free_pages.value() - reserve));
            const PageFilter here{z, node};
            PageRanges got;
            if (as == PageState::Unmovable && zone.unmovable_pageblock) {
                const Pfn pb = *zone.unmovable_pageblock;
                can -= take_free_pages(pb, pb + PageCount(pageblock_nr_pages), can, as, AllocFrom::Bottom, here, &got);
            }
            // The buddy hands out its lowest pages first: boot and onlining free
            // pages to the tail of the free lists in ascending order.
            const size_t before = got.size();
            take_free_pages(zone.zone_start_pfn, zone.zone_end_pfn(), can, as, AllocFrom::Bottom, here, &got);
            for (const auto& [b, len] : got) want -= len;
            if (as == PageState::Unmovable && got.size() > before)
                zone.unmovable_pageblock = Pfn(align_down((got.back().first + got.back().second).value() - 1,
                                                          pageblock_nr_pages));
            if (taken) taken->insert(taken->end(), got.begin(), got.end());
        }
    return {};
}

void Kernel::process_exited()
{
    // Calibrated on 6.1: a block onlined into an empty Normal zone offlines right
    // away and after one forked command, but no longer after ten.
    const NodeId nid = 0;
    ZoneType preferred = ZoneType::DMA;
    for (ZoneType z : {ZoneType::DMA32, ZoneType::Normal})
        if (m_nodes.at(nid).zone(z).populated_zone()) preferred = z;
    if (preferred != m_preferred_kernel_zone) {
        m_preferred_kernel_zone = preferred;
        m_processes = 0;
    }
    if (++m_processes % processes_per_kernel_page) return;
    (void)alloc_pages(nid, {ZoneType::Normal, ZoneType::DMA32, ZoneType::DMA}, PageCount(1), PageState::Unmovable);
}

PageCount Kernel::totalram_pages() const
{
    PageCount total;
    for (const PgData& p : m_nodes)
        for (const Zone& z : p.node_zones) total += z.managed_pages;
    return total;
}

PageCount Kernel::nr_free_pages() const
{
    PageCount total;
    for (const PgData& p : m_nodes)
        for (const Zone& z : p.node_zones) total += z.nr_free_pages;
    return total;
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

// init_per_zone_wmark_min(): min_free_kbytes, watermarks, lowmem_reserve and
// khugepaged's recommended minimum, recomputed after every online and offline.
void Kernel::init_per_zone_wmark_min()
{
    constexpr std::array<uint64_t, MAX_NR_ZONES> lowmem_reserve_ratio = {256, 256, 32, 0, 0};
    constexpr uint64_t watermark_scale_factor = 10;

    auto setup_wmarks = [&] {
        const uint64_t pages_min = m_min_free_kbytes >> (PAGE_SHIFT - 10);
        uint64_t lowmem_pages = 0;
        for (const PgData& p : m_nodes)
            for (const Zone& z : p.node_zones) lowmem_pages += z.managed_pages.value();
        for (PgData& p : m_nodes)
            for (Zone& z : p.node_zones) {
                const uint64_t managed = z.managed_pages.value();
                const uint64_t tmp = lowmem_pages ? pages_min * managed / lowmem_pages : 0;
                z.watermark[WMARK_MIN] = tmp;
                const uint64_t step = std::max(tmp >> 2, managed * watermark_scale_factor / 10000);
                z.watermark[WMARK_LOW] = tmp + step;
                z.watermark[WMARK_HIGH] = tmp + 2 * step;
            }
    };

    // nr_free_buffer_pages(): managed minus high watermark over the kernel zones.
    uint64_t buffer_pages = 0;
    for (const PgData& p : m_nodes)
        for (const Zone& z : p.node_zones)
            if (is_lowmem(z.type) && z.managed_pages.value() > z.watermark[WMARK_HIGH])
                buffer_pages += z.managed_pages.value() - z.watermark[WMARK_HIGH];
    m_min_free_kbytes = std::clamp<uint64_t>(int_sqrt(buffer_pages * (PAGE_SIZE >> 10) * 16), 128, 262144);
    setup_wmarks();

    for (PgData& p : m_nodes)
        for (int i = 0; i < MAX_NR_ZONES; ++i) {
            Zone& z = p.node_zones[i];
            const bool clear = !lowmem_reserve_ratio[i] || !z.managed_pages;
            uint64_t upper = 0;
            for (int j = 0; j < MAX_NR_ZONES; ++j) {
                if (j <= i) {
                    z.lowmem_reserve[j] = 0;
                    continue;
                }
                upper += p.node_zones[j].managed_pages.value();
                z.lowmem_reserve[j] = clear ? 0 : upper / lowmem_reserve_ratio[i];
            }
        }

    // khugepaged (THP "always"): keep enough free for fragmentation avoidance,
    // at most 5 % of nr_free_buffer_pages().
    int nr_zones = 0;
    uint64_t free_buffer_pages = 0;
    for (const PgData& p : m_nodes)
        for (const Zone& z : p.node_zones) {
            if (!z.populated_zone() || !is_lowmem(z.type)) continue;
            ++nr_zones;
            if (z.managed_pages.value() > z.watermark[WMARK_HIGH])
                free_buffer_pages += z.managed_pages.value() - z.watermark[WMARK_HIGH];
        }
    uint64_t recommended = pageblock_nr_pages * nr_zones * 2 + pageblock_nr_pages * nr_zones * 9;
    recommended = std::min(recommended, free_buffer_pages / 20);
    recommended <<= (PAGE_SHIFT - 10);
    if (recommended > m_min_free_kbytes) {
        m_min_free_kbytes = recommended;
        setup_wmarks();
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
void Kernel::setup_zone_pagesets()
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
