// Memory hot(un)plug: adding and removing memory, onlining and offlining
// blocks, and the zone choice (mm/memory_hotplug.c, drivers/base/memory.c).
#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "mm/kernel.h"

namespace memplug::mm {


const MemoryBlock* Kernel::find_memory_block(BlockId id) const
{
    auto it = m_blocks.find(id);
    return it == m_blocks.end() ? nullptr : &it->second;
}

const MemoryGroup* Kernel::memory_group(int id) const
{
    auto it = m_groups.find(id);
    return it == m_groups.end() ? nullptr : &it->second;
}

std::optional<ZoneType> Kernel::pfn_to_online_zone(Pfn pfn) const
{
    if (!m_pa.memmap().online_section(pfn_to_section_nr(pfn))) return std::nullopt;
    return m_pa.memmap().at(pfn).zone;
}

// ---------------------------------------------------------------- zone choice

ZoneType Kernel::default_kernel_zone_for_pfn(NodeId nid, Pfn start_pfn, PageCount nr_pages) const
{
    const PgData& pgdat = m_pa.nodes().at(nid);
    for (ZoneType z : {ZoneType::DMA, ZoneType::DMA32})
        if (pgdat.zone(z).zone_intersects(start_pfn, nr_pages)) return z;
    return ZoneType::Normal;
}

ZoneType Kernel::default_zone_for_pfn(NodeId nid, Pfn start_pfn, PageCount nr_pages) const
{
    const ZoneType kernel_zone = default_kernel_zone_for_pfn(nid, start_pfn, nr_pages);
    const PgData& pgdat = m_pa.nodes().at(nid);
    const bool in_kernel = pgdat.zone(kernel_zone).zone_intersects(start_pfn, nr_pages);
    const bool in_movable = pgdat.zone(ZoneType::Movable).zone_intersects(start_pfn, nr_pages);
    // Inherit the zone where exactly one of them already spans the range.
    if (in_kernel != in_movable) return in_kernel ? kernel_zone : ZoneType::Movable;
    return m_params.movable_node ? ZoneType::Movable : kernel_zone;
}

bool Kernel::auto_movable_can_online_movable(NodeId nid, const MemoryGroup* group, PageCount nr_pages,
                                             PendingOnline pending, NodeId pending_nid) const
{
    uint64_t kernel_early_pages = 0, movable_pages = 0;
    for (const PgData& pgdat : m_pa.nodes()) {
        if (nid != NUMA_NO_NODE && pgdat.node_id != nid) continue;
        for (const Zone& z : pgdat.node_zones) {
            if (!z.populated_zone()) continue;
            if (z.type == ZoneType::Movable)
                movable_pages += z.present_pages.value();
            else
                kernel_early_pages += z.present_early_pages.value();
        }
    }
    // Other dynamic groups may keep their own kernel memory out of the ratio.
    uint64_t req_kernel_early_pages = 0, group_movable_pages = 0;
    const unsigned ratio = m_params.auto_movable_ratio;
    for (const auto& [id, g] : m_groups) {
        if (!g.is_dynamic || (group && g.id == group->id)) continue;
        if (nid != NUMA_NO_NODE && g.nid != nid) continue;
        if (!ratio) continue;
        const int64_t pages = int64_t(g.present_movable_pages.value() * 100 / ratio) -
                              int64_t(g.present_kernel_pages.value());
        if (pages > 0) req_kernel_early_pages += uint64_t(pages);
        group_movable_pages += g.present_movable_pages.value();
    }
    if (nid == NUMA_NO_NODE || nid == pending_nid) movable_pages += pending.movable.value();
    if (kernel_early_pages <= req_kernel_early_pages) return false;
    kernel_early_pages -= req_kernel_early_pages;
    movable_pages -= group_movable_pages;
    if (group && group->is_dynamic) kernel_early_pages += (group->present_kernel_pages + pending.kernel).value();
    movable_pages += nr_pages.value();
    return movable_pages <= uint64_t(ratio) * kernel_early_pages / 100;
}

ZoneType Kernel::auto_movable_zone_for_pfn(NodeId nid, std::optional<int> group_id, Pfn pfn, PageCount nr_pages,
                                           PendingOnline pending) const
{
    const MemoryGroup* group = group_id ? memory_group(*group_id) : nullptr;
    const auto kernel_zone = [&] { return default_kernel_zone_for_pfn(nid, pfn, nr_pages); };
    if (!m_params.auto_movable_ratio) return kernel_zone();

    PageCount online_pages, max_pages;
    if (group && !group->is_dynamic) {
        max_pages = group->max_pages;
        online_pages = group->present_movable_pages + pending.movable;
        // Once anything of the device is in a kernel zone, the rest follows.
        if (group->present_kernel_pages || pending.kernel) return kernel_zone();
    } else if (!group || group->unit_pages == nr_pages) {
        max_pages = nr_pages;
    } else {
        max_pages = group->unit_pages;
        const Pfn unit_start(align_down(pfn.value(), group->unit_pages.value()));
        for (Pfn p = unit_start; p < unit_start + group->unit_pages; p += PageCount(PAGES_PER_SECTION)) {
            const auto z = pfn_to_online_zone(p);
            if (!z) continue;
            if (*z != ZoneType::Movable) return kernel_zone();
            online_pages += PageCount(PAGES_PER_SECTION);
        }
    }
    const PageCount remaining = max_pages - online_pages;
    if (!auto_movable_can_online_movable(NUMA_NO_NODE, group, remaining, pending, nid)) return kernel_zone();
    if (m_params.auto_movable_numa_aware && !auto_movable_can_online_movable(nid, group, remaining, pending, nid))
        return kernel_zone();
    return ZoneType::Movable;
}

ZoneType Kernel::zone_for_pfn_range(MmopType online_type, NodeId nid, std::optional<int> group, Pfn start_pfn,
                                    PageCount nr_pages, PendingOnline pending) const
{
    if (online_type == MmopType::OnlineKernel) return default_kernel_zone_for_pfn(nid, start_pfn, nr_pages);
    if (online_type == MmopType::OnlineMovable) return ZoneType::Movable;
    if (m_params.online_policy == OnlinePolicy::AutoMovable)
        return auto_movable_zone_for_pfn(nid, group, start_pfn, nr_pages, pending);
    return default_zone_for_pfn(nid, start_pfn, nr_pages);
}

// ---------------------------------------------------------------- zone spans

void Kernel::set_zone_contiguous(Zone& zone, PageCount pending)
{
    zone.contiguous = false;
    if (zone.zone_is_empty()) return;
    if (m_params.zone_contiguous == HotplugParams::ZoneContiguity::Counter) {
        // The seed-000 series: one comparison, counting the range whose memmap
        // was just initialised.
        // The count is of pages linked to the zone; those in the span's edge
        // sections but outside the span (DMA's pfn 0) are not the span's.
        ++m_work.contiguity_checks;
        PageCount outside;
        const Pfn first_section(align_down(zone.zone_start_pfn.value(), PAGES_PER_SECTION));
        const Pfn last_section_end(align_up(zone.zone_end_pfn().value(), PAGES_PER_SECTION));
        auto count_linked = [&](Pfn b, Pfn e) {
            if (b >= e || !m_pa.memmap().online_section(pfn_to_section_nr(b))) return;
            m_pa.memmap().for_each_run(b, e, [&](Pfn, PageCount len, PageInfo info) {
                if (info.zone == zone.type && info.nid == zone.nid) outside += len;
                return true;
            });
        };
        count_linked(first_section, zone.zone_start_pfn);
        count_linked(zone.zone_end_pfn(), last_section_end);
        zone.contiguous = zone.pages_with_online_memmap + pending == zone.spanned_pages + outside;
        return;
    }
    // 6.1's rescan: every pageblock's first and last pfn online and in the zone.
    // Done per section, which is exact because online state is per section and
    // the memmap's zone links are per run. It runs before the new sections are
    // marked online, so a zone that just grew stays non-contiguous.
    ++m_work.contiguity_checks;
    const Pfn end = zone.zone_end_pfn();
    for (Pfn p(align_down(zone.zone_start_pfn.value(), PAGES_PER_SECTION)); p < end; p += PageCount(PAGES_PER_SECTION)) {
        ++m_work.contiguity_sections_scanned;
        if (!m_pa.memmap().online_section(pfn_to_section_nr(p))) return;
        const Pfn b = std::max(p, zone.zone_start_pfn), e = std::min(p + PageCount(PAGES_PER_SECTION), end);
        bool ok = true;
        m_pa.memmap().for_each_run(b, e, [&](Pfn, PageCount, PageInfo info) {
            ok = info.zone == zone.type && info.nid == zone.nid;
            return ok;
        });
        if (!ok) return;
    }
    zone.contiguous = true;
}

void Kernel::move_pfn_range_to_zone(Zone& zone, Pfn start_pfn, PageCount nr_pages)
{
    // memmap_init_range: fresh struct pages, PG_hwpoison gone (the count stays).
    m_hwpoison.erase(m_hwpoison.lower_bound(start_pfn), m_hwpoison.lower_bound(start_pfn + nr_pages));
    PgData& pgdat = m_pa.nodes().at(zone.nid);
    zone.contiguous = false;
    // resize_zone_range / resize_pgdat_range
    const Pfn old_end = zone.zone_end_pfn();
    if (zone.zone_is_empty() || start_pfn < zone.zone_start_pfn) zone.zone_start_pfn = start_pfn;
    zone.spanned_pages = std::max(start_pfn + nr_pages, old_end) - zone.zone_start_pfn;
    const Pfn old_node_end = pgdat.pgdat_end_pfn();
    if (!pgdat.node_spanned_pages || start_pfn < pgdat.node_start_pfn) pgdat.node_start_pfn = start_pfn;
    pgdat.node_spanned_pages = std::max(start_pfn + nr_pages, old_node_end) - pgdat.node_start_pfn;
    // memmap_init_range: the pages now link to the zone (still not online).
    m_pa.relabel_pages(start_pfn, nr_pages, PageInfo{PageState::NotOnline, zone.type, int8_t(zone.nid)});
    set_zone_contiguous(zone, nr_pages);
}

// The pfn of the first (or last) online subsection of this zone and node in [start, end).
static std::optional<Pfn> find_section_pfn(const Memmap& memmap, NodeId nid, ZoneType zone, Pfn start, Pfn end,
                                           bool from_top)
{
    std::optional<Pfn> found;
    auto visit = [&](Pfn b, PageCount len, PageInfo info) {
        if (!memmap.online_section(pfn_to_section_nr(b)) || info.nid != nid || info.zone != zone) return true;
        // The kernel probes in subsection steps: the first (last) probe pfn inside this run.
        if (from_top) {
            const uint64_t last = (b + len).value() - 1;
            const uint64_t step_end = end.value() - 1;
            const uint64_t k = (step_end - last + PAGES_PER_SUBSECTION - 1) / PAGES_PER_SUBSECTION;
            const uint64_t probe = step_end - k * PAGES_PER_SUBSECTION;
            if (probe >= b.value() && probe <= last) found = Pfn(probe);
        } else {
            const uint64_t k = (b.value() - start.value() + PAGES_PER_SUBSECTION - 1) / PAGES_PER_SUBSECTION;
            const uint64_t probe = start.value() + k * PAGES_PER_SUBSECTION;
            if (probe < (b + len).value()) found = Pfn(probe);
        }
        return !found;
    };
    if (from_top)
        memmap.for_each_run_reverse(start, end, visit);
    else
        memmap.for_each_run(start, end, visit);
    return found;
}

void Kernel::shrink_zone_span(Zone& zone, Pfn start_pfn, Pfn end_pfn)
{
    if (zone.zone_start_pfn == start_pfn) {
        const auto pfn = find_section_pfn(m_pa.memmap(), zone.nid, zone.type, end_pfn, zone.zone_end_pfn(), false);
        if (pfn) {
            zone.spanned_pages = zone.zone_end_pfn() - *pfn;
            zone.zone_start_pfn = *pfn;
        } else {
            zone.zone_start_pfn = Pfn(0);
            zone.spanned_pages = PageCount(0);
        }
    } else if (zone.zone_end_pfn() == end_pfn) {
        const auto pfn = find_section_pfn(m_pa.memmap(), zone.nid, zone.type, zone.zone_start_pfn, start_pfn, true);
        if (pfn) {
            zone.spanned_pages = (*pfn - zone.zone_start_pfn) + PageCount(1);
        } else {
            zone.zone_start_pfn = Pfn(0);
            zone.spanned_pages = PageCount(0);
        }
    }
}

void Kernel::update_pgdat_span(PgData& pgdat)
{
    Pfn node_start(0), node_end(0);
    for (const Zone& z : pgdat.node_zones) {
        if (!z.spanned_pages) continue;
        if (!node_end.value()) {
            node_start = z.zone_start_pfn;
            node_end = z.zone_end_pfn();
            continue;
        }
        node_end = std::max(node_end, z.zone_end_pfn());
        node_start = std::min(node_start, z.zone_start_pfn);
    }
    pgdat.node_start_pfn = node_start;
    pgdat.node_spanned_pages = node_end - node_start;
}

void Kernel::remove_pfn_range_from_zone(Zone& zone, Pfn start_pfn, PageCount nr_pages)
{
    // The memmap goes back to "poisoned": the pages belong to no zone any more.
    m_pa.relabel_pages(start_pfn, nr_pages, PageInfo{PageState::NotOnline, zone.type, int8_t(zone.nid)});
    zone.contiguous = false;
    shrink_zone_span(zone, start_pfn, start_pfn + nr_pages);
    update_pgdat_span(m_pa.nodes().at(zone.nid));
    set_zone_contiguous(zone);
}

void Kernel::adjust_present_page_count(Pfn pfn, std::optional<int> group, int64_t nr_pages)
{
    const PageInfo info = m_pa.memmap().at(pfn);
    Zone& zone = zone_of(info.nid, info.zone);
    const auto add = [&](PageCount& c) { c = PageCount(uint64_t(int64_t(c.value()) + nr_pages)); };
    if (m_pa.memmap().early_section(pfn_to_section_nr(pfn))) add(zone.present_early_pages);
    add(zone.present_pages);
    add(m_pa.nodes().at(info.nid).node_present_pages);
    if (group) {
        MemoryGroup& g = m_groups.at(*group);
        add(zone.type == ZoneType::Movable ? g.present_movable_pages : g.present_kernel_pages);
    }
}

// ---------------------------------------------------------------- online / offline

KResult<void> Kernel::online_pages(Pfn pfn, PageCount nr_pages, ZoneType zone_type, std::optional<int> group)
{
    if (!nr_pages || !pageblock_aligned(pfn) || (pfn + nr_pages).value() % PAGES_PER_SECTION)
        return kerr(EINVAL, "misaligned range");
    const NodeId nid = m_pa.memmap().at(pfn).nid;
    Zone& zone = zone_of(nid, zone_type);
    move_pfn_range_to_zone(zone, pfn, nr_pages);
    // memory_notify(MEM_GOING_ONLINE): a notifier's refusal undoes the zone move.
    if (m_inject.going_online) {
        remove_pfn_range_from_zone(zone, pfn, nr_pages);
        m_log.pr_debug(fmt::format("online_pages [mem {:#010x}-{:#010x}] failed", pfn.phys(),
                                   (pfn + nr_pages).phys() - 1));
        return kerr(-m_inject.going_online, "notifier failure (MEM_GOING_ONLINE)");
    }
    // A zone that was empty is in no zonelist yet: rebuild them once it has pages.
    const bool need_zonelists_rebuild = !zone.populated_zone();
    // online_pages_range: to the buddy, and the sections go online; pages a driver
    // keeps logically offline (virtio-mem's unplugged subblocks) stay out of it.
    m_pa.relabel_pages(pfn, nr_pages, PageInfo{PageState::Free, zone_type, int8_t(nid)});
    m_pa.set_pageblock_migratetype(pfn, nr_pages, MigrateType::Movable);
    if (m_online_page_callback)
        for (const auto& [b, len] : m_online_page_callback(pfn, nr_pages))
            m_pa.set_page_state(b, len, PageInfo{PageState::Offline, zone_type, int8_t(nid)});
    for (Pfn p(align_down(pfn.value(), PAGES_PER_SECTION)); p < pfn + nr_pages; p += PageCount(PAGES_PER_SECTION))
        m_pa.set_section_online(pfn_to_section_nr(p), true);
    adjust_present_page_count(pfn, group, int64_t(nr_pages.value()));
    m_pa.nodes().at(nid).online = true;
    if (need_zonelists_rebuild) build_all_zonelists();
    m_work.pages_onlined += nr_pages.value();
    m_pa.init_per_zone_wmark_min();
    return {};
}

KResult<void> Kernel::migrate_and_dissolve(Pfn start, Pfn end, NodeId target, NodeId not_node)
{
    if (m_shmem.pages_in(start, end)) {
        auto moved = m_shmem.migrate_range(m_pa, start, end, target, false, not_node);
        if (!moved) return tl::unexpected(moved.error());
        m_work.pages_migrated += moved->value();
    }
    const uint64_t before = m_hugetlb.hstate(Hugetlb::HSTATE_2M).nr_huge_pages +
                            m_hugetlb.hstate(Hugetlb::HSTATE_1G).nr_huge_pages;
    m_hugetlb.dissolve_free_huge_pages(m_pa, start, end);
    m_work.huge_pages_dissolved += before - m_hugetlb.hstate(Hugetlb::HSTATE_2M).nr_huge_pages -
                                   m_hugetlb.hstate(Hugetlb::HSTATE_1G).nr_huge_pages;
    return {};
}

OfflineTest Kernel::test_offline_pages(Pfn start_pfn, PageCount nr_pages, ZoneType zone_type) const
{
    OfflineTest t;
    auto refuse = [&](int err, std::string reason, std::optional<Pfn> culprit = std::nullopt, std::string note = {}) {
        t.err = err;
        t.reason = std::move(reason);
        t.note = std::move(note);
        t.culprit = culprit;
        if (culprit) t.culprit_page = m_pa.memmap().at(*culprit);
        return t;
    };
    const Pfn end_pfn = start_pfn + nr_pages;
    if (!nr_pages || !pageblock_aligned(start_pfn) || end_pfn.value() % PAGES_PER_SECTION) {
        t.misaligned = true;
        return refuse(EINVAL, "misaligned range");
    }
    // Blocks with holes never offline (and so can never be onlined again).
    if (m_iomem.count_system_ram_pages(start_pfn.value(), nr_pages.value()) != nr_pages.value())
        return refuse(EINVAL, "memory holes");
    const PageInfo first = m_pa.memmap().at(start_pfn), last = m_pa.memmap().at(end_pfn - PageCount(1));
    if (first.zone != zone_type || last.zone != zone_type) return refuse(EINVAL, "multizone range");
    const NodeId nid = first.nid;

    // start_isolate_page_range: every pageblock must pass has_unmovable_pages.
    // (Inside ZONE_MOVABLE only PageReserved fails it; an unmovable page there
    // makes 6.1's migration retry forever, which the model answers with EBUSY.)
    if (auto pfn = m_pa.has_unmovable_pages(start_pfn, end_pfn)) {
        t.isolation_failed = true;
        return refuse(EBUSY, "failure to isolate range", pfn);
    }
    // memory_notify(MEM_GOING_OFFLINE).
    if (m_inject.going_offline) return refuse(-m_inject.going_offline, "notifier failure", {}, "MEM_GOING_OFFLINE");
    // Inside ZONE_MOVABLE isolation trusts the zone; migration would not.
    std::optional<Pfn> unmovable;
    m_pa.memmap().for_each_run(start_pfn, end_pfn, [&](Pfn b, PageCount, PageInfo info) {
        if (info.state == PageState::Unmovable || info.state == PageState::Vmemmap) unmovable = b;
        return !unmovable;
    });
    if (unmovable) return refuse(EBUSY, "unmovable page", unmovable, "6.1 would retry migration forever");
    // do_migrate_range: the target nodemask leaves the source node out unless it
    // is the only node with memory; then dissolve_free_huge_pages.
    t.target = nid;
    for (const PgData& p : m_pa.nodes())
        if (p.node_id != nid && p.node_present_pages) {
            t.target = p.node_id;
            break;
        }
    t.not_node = t.target == nid ? NUMA_NO_NODE : nid;
    t.migrate_pages = m_shmem.pages_in(start_pfn, end_pfn);
    if (t.migrate_pages) {
        const Gfp gfp{ZoneType::Movable, MigrateType::Movable, false, t.not_node};
        t.destination = m_pa.allocation_spread(t.target, gfp, t.migrate_pages, std::pair{start_pfn, end_pfn});
        if (t.destination.empty())
            return refuse(EBUSY, "migration failure", {}, "no memory to migrate to: 6.1 would retry forever");
    }
    m_pa.memmap().for_each_run(start_pfn, end_pfn, [&](Pfn, PageCount len, PageInfo info) {
        if (info.state == PageState::Hugetlb) t.dissolved += len;
        return true;
    });
    return t;
}

OfflineTest Kernel::test_offline_block(BlockId id) const
{
    const MemoryBlock* mem = find_memory_block(id);
    OfflineTest t;
    if (!mem) {
        t.err = ENODEV;
        t.reason = "no such memory block";
        return t;
    }
    if (mem->state == MemState::Offline) {
        t.err = EINVAL;
        t.reason = "already offline";
        return t;
    }
    if (!mem->zone) {
        t.err = EINVAL;
        t.reason = "block spans several zones or nodes";
        return t;
    }
    const Pfn start_pfn = section_nr_to_pfn(mem->start_section_nr);
    return test_offline_pages(start_pfn + mem->nr_vmemmap_pages, pages_per_block() - mem->nr_vmemmap_pages, *mem->zone);
}

PageOwner Kernel::page_owner(Pfn pfn) const
{
    using K = PageOwner::Kind;
    if (!m_pa.memmap().pfn_valid(pfn)) return {};
    switch (m_pa.memmap().at(pfn).state) {
    case PageState::Reserved: return {K::BootReserved, 0};
    case PageState::Vmemmap: return {K::SelfHostedMemmap, 0};
    case PageState::Hugetlb: return {K::HugeTlb, 0};
    case PageState::HwPoison: return {K::HwPoison, 0};
    case PageState::Movable: return {K::Shmem, m_shmem.owner(pfn)};
    case PageState::Unmovable: break;
    default: return {};
    }
    for (const auto& [id, ranges] : m_pinned)
        for (const auto& [b, len] : ranges)
            if (b <= pfn && pfn < b + len) return {K::Pinned, id};
    for (const auto& [sec, ranges] : m_section_memmap)
        for (const auto& [b, len] : ranges)
            if (b <= pfn && pfn < b + len) return {K::Memmap, sec.value()};
    return {K::Kernel, 0};
}

KResult<void> Kernel::offline_pages(Pfn start_pfn, PageCount nr_pages, ZoneType zone_type, std::optional<int> group)
{
    const Pfn end_pfn = start_pfn + nr_pages;
    // failed_removal: the reason is a pr_debug, not in the ring; has_unmovable_pages
    // dumps the page that fails isolation (REPORT_FAILURE).
    auto failed = [&](int err, std::string_view reason, std::string_view note) {
        m_log.pr_debug(fmt::format("memory offlining [mem {:#010x}-{:#010x}] failed due to {}", start_pfn.phys(),
                                   end_pfn.phys() - 1, reason));
        if (!note.empty()) m_log.pr_debug(fmt::format("memplug: {}", note));
        return kerr(err, note.empty() ? std::string(reason) : fmt::format("{} ({})", reason, note));
    };
    const OfflineTest t = test_offline_pages(start_pfn, nr_pages, zone_type);
    if (t.misaligned) return kerr(t.err, t.reason);
    if (t.isolation_failed) dump_page(*t.culprit, "unmovable page");
    if (t.err) return failed(t.err, t.reason, t.note);
    const NodeId nid = m_pa.memmap().at(start_pfn).nid;
    std::vector<MigrateType> saved;
    for (Pfn pb = start_pfn; pb < end_pfn; pb += PageCount(pageblock_nr_pages))
        saved.push_back(m_pa.memmap().pageblock_migratetype(pb));
    m_pa.set_pageblock_migratetype(start_pfn, nr_pages, MigrateType::Isolate);
    auto undo_isolation = [&] {
        size_t i = 0;
        for (Pfn pb = start_pfn; pb < end_pfn; pb += PageCount(pageblock_nr_pages))
            m_pa.set_pageblock_migratetype(pb, PageCount(pageblock_nr_pages), saved[i++]);
    };
    if (auto r = migrate_and_dissolve(start_pfn, end_pfn, t.target, t.not_node); !r) {
        undo_isolation();
        return failed(EBUSY, "unmovable page", r.error().reason + ": 6.1 would retry forever");
    }

    // __offline_isolated_pages: the free pages leave the buddy, sections go offline.
    m_pa.relabel_pages(start_pfn, nr_pages, PageInfo{PageState::NotOnline, zone_type, int8_t(nid)});
    for (Pfn p(align_down(start_pfn.value(), PAGES_PER_SECTION)); p < end_pfn; p += PageCount(PAGES_PER_SECTION))
        m_pa.set_section_online(pfn_to_section_nr(p), false);
    adjust_present_page_count(start_pfn, group, -int64_t(nr_pages.value()));
    m_work.pages_offlined += nr_pages.value();
    m_pa.init_per_zone_wmark_min();
    if (!zone_of(nid, zone_type).populated_zone()) build_all_zonelists();
    remove_pfn_range_from_zone(zone_of(nid, zone_type), start_pfn, nr_pages);
    return {};
}

KResult<void> Kernel::memory_block_online(MemoryBlock& mem)
{
    const Pfn start_pfn = section_nr_to_pfn(mem.start_section_nr);
    const PageCount nr_pages = pages_per_block();
    const PageCount nr_vmemmap_pages = mem.nr_vmemmap_pages;
    const ZoneType zone = zone_for_pfn_range(mem.online_type, mem.nid, mem.group, start_pfn, nr_pages);
    if (nr_vmemmap_pages) {
        // mhp_init_memmap_on_memory: the block's own memmap joins the zone, never the buddy.
        move_pfn_range_to_zone(zone_of(mem.nid, zone), start_pfn, nr_vmemmap_pages);
        m_pa.set_page_state(start_pfn, nr_vmemmap_pages, PageInfo{PageState::Vmemmap, zone, int8_t(mem.nid)});
    }
    if (auto r = online_pages(start_pfn + nr_vmemmap_pages, nr_pages - nr_vmemmap_pages, zone, mem.group); !r) {
        if (nr_vmemmap_pages) {
            remove_pfn_range_from_zone(zone_of(mem.nid, zone), start_pfn, nr_vmemmap_pages);
            m_pa.set_page_state(start_pfn, nr_vmemmap_pages, PageInfo{PageState::Vmemmap, zone, int8_t(mem.nid)});
        }
        return r;
    }
    if (nr_vmemmap_pages) {
        adjust_present_page_count(start_pfn, mem.group, int64_t(nr_vmemmap_pages.value()));
        // The counter sees the self-hosted memmap online only now.
        if (m_params.zone_contiguous == HotplugParams::ZoneContiguity::Counter) set_zone_contiguous(zone_of(mem.nid, zone));
    }
    mem.zone = zone;
    return {};
}

KResult<void> Kernel::memory_block_offline(MemoryBlock& mem)
{
    if (!mem.zone) return kerr(EINVAL, "block spans several zones or nodes");
    const Pfn start_pfn = section_nr_to_pfn(mem.start_section_nr);
    const PageCount nr_pages = pages_per_block();
    const PageCount nr_vmemmap_pages = mem.nr_vmemmap_pages;
    if (nr_vmemmap_pages) adjust_present_page_count(start_pfn, mem.group, -int64_t(nr_vmemmap_pages.value()));
    if (auto r = offline_pages(start_pfn + nr_vmemmap_pages, nr_pages - nr_vmemmap_pages, *mem.zone, mem.group); !r) {
        if (nr_vmemmap_pages) adjust_present_page_count(start_pfn, mem.group, int64_t(nr_vmemmap_pages.value()));
        return r;
    }
    if (nr_vmemmap_pages) {
        remove_pfn_range_from_zone(zone_of(mem.nid, *mem.zone), start_pfn, nr_vmemmap_pages);
        m_pa.set_page_state(start_pfn, nr_vmemmap_pages, PageInfo{PageState::Vmemmap, *mem.zone, int8_t(mem.nid)});
    }
    mem.zone.reset();
    return {};
}

void Kernel::set_online_type(BlockId id, MmopType type)
{
    if (auto it = m_blocks.find(id); it != m_blocks.end()) it->second.online_type = type;
}

void Kernel::set_firmware_node(BlockId id, std::string path)
{
    auto it = m_blocks.find(id);
    if (it == m_blocks.end()) return;
    it->second.firmware_node = std::move(path);
    // acpi_bind_one: the block's firmware_node link and the ACPI device's
    // physical_nodeN link, made after the block was (auto-)onlined.
    kmem_cache_alloc(SlabCache::KernfsNodeCache, k_kernfs_nodes_per_acpi_binding);
}

KResult<int> Kernel::device_online(BlockId id)
{
    auto it = m_blocks.find(id);
    if (it == m_blocks.end()) return kerr(ENODEV, "no such memory block");
    MemoryBlock& mem = it->second;
    if (mem.state != MemState::Offline) return 1;
    // memory_subsys_online: an untyped online means MMOP_ONLINE.
    if (mem.online_type == MmopType::Offline) mem.online_type = MmopType::Online;
    auto r = memory_block_online(mem);
    mem.online_type = MmopType::Offline;
    if (!r) return tl::unexpected(r.error());
    mem.state = MemState::Online;
    for (const MemoryNotifier& n : m_memory_notifiers) n(MemoryEvent::Online, id);
    return 0;
}

KResult<int> Kernel::device_offline(BlockId id)
{
    auto it = m_blocks.find(id);
    if (it == m_blocks.end()) return kerr(ENODEV, "no such memory block");
    MemoryBlock& mem = it->second;
    if (mem.state == MemState::Offline) return 1;
    mem.state = MemState::GoingOffline;
    auto r = memory_block_offline(mem);
    mem.state = r ? MemState::Offline : MemState::Online;
    if (!r) return tl::unexpected(r.error());
    for (const MemoryNotifier& n : m_memory_notifiers) n(MemoryEvent::Offline, id);
    return 0;
}

// ---------------------------------------------------------------- add / remove

int Kernel::memory_group_register_static(NodeId nid, PageCount max_pages)
{
    const int id = m_next_group_id++;
    m_groups.emplace(id, MemoryGroup{id, nid, false, max_pages, PageCount(), PageCount(), PageCount()});
    return id;
}

int Kernel::memory_group_register_dynamic(NodeId nid, PageCount unit_pages)
{
    const int id = m_next_group_id++;
    m_groups.emplace(id, MemoryGroup{id, nid, true, PageCount(), unit_pages, PageCount(), PageCount()});
    return id;
}

void Kernel::memory_group_unregister(int id) { m_groups.erase(id); }

bool Kernel::mhp_supports_memmap_on_memory(uint64_t size) const
{
    const uint64_t nr_vmemmap_pages = size / PAGE_SIZE;
    const uint64_t vmemmap_size = nr_vmemmap_pages * STRUCT_PAGE_SIZE;
    const uint64_t remaining_size = size - vmemmap_size;
    constexpr uint64_t PMD_SIZE = 2 * MiB;
    return m_params.memmap_on_memory && size == m_block_size && vmemmap_size % PMD_SIZE == 0 &&
           remaining_size % (pageblock_nr_pages << PAGE_SHIFT) == 0;
}

PageCount Kernel::memmap_pages(uint64_t size)
{
    return PageCount::from_bytes(size / PAGE_SIZE * STRUCT_PAGE_SIZE);
}

PageCount Kernel::kernel_free_above(WatermarkIdx mark) const
{
    PageCount free;
    for (ZoneType z : {ZoneType::Normal, ZoneType::DMA32, ZoneType::DMA})
        for (const PgData& p : m_pa.nodes()) {
            const Zone& zone = p.zone(z);
            if (zone.nr_free_pages.value() > zone.watermark[mark])
                free += PageCount(zone.nr_free_pages.value() - zone.watermark[mark]);
        }
    return free;
}

namespace {

// mhp_range_allowed: up to MAX_PHYSMEM_BITS (46).
constexpr uint64_t k_max_phys = (uint64_t{1} << 46) - 1;
bool mhp_range_allowed(uint64_t start, uint64_t size)
{
    return size && start + size - 1 >= start && start + size - 1 <= k_max_phys;
}

}  // namespace

KResult<PageCount> Kernel::test_add_memory(NodeId nid, uint64_t start, uint64_t size, unsigned mhp_flags) const
{
    // register_memory_resource's check comes first (add_memory logs it).
    if (!mhp_range_allowed(start, size)) return kerr(E2BIG, "out of range");
    // check_hotplug_memory_range
    if (start % m_block_size || size % m_block_size) return kerr(EINVAL, "unaligned hotplug range");
    if (nid < 0 || nid >= int(m_pa.nodes().size())) return kerr(EINVAL, "node not possible");
    if (mhp_flags & MHP_MEMMAP_ON_MEMORY) {
        if (!mhp_supports_memmap_on_memory(size)) return kerr(EINVAL, "memmap_on_memory not supported for this range");
        return PageCount();
    }
    // arch_add_memory allocates a memmap per section as GFP_KERNEL from the node's
    // zonelist (vmemmap_alloc_block: down to the min watermark, lowmem_reserve
    // kept); checked first, so a failure part way takes nothing.
    const PageCount need = memmap_pages(size);
    if (m_pa.allocatable_pages(nid, GFP_KERNEL) < need) return kerr(ENOMEM, "no memory for the memmap");
    return need;
}

KResult<void> Kernel::add_memory(int nid_or_mgid, uint64_t start, uint64_t size, unsigned mhp_flags,
                                 std::string resource_name)
{
    // register_memory_resource
    unsigned res_flags = IORESOURCE_MEM | IORESOURCE_SYSRAM | IORESOURCE_BUSY;
    if (resource_name != "System RAM") res_flags |= IORESOURCE_SYSRAM_DRIVER_MANAGED;
    if (mhp_flags & MHP_MERGE_RESOURCE) res_flags |= IORESOURCE_SYSRAM_MERGEABLE;
    if (!mhp_range_allowed(start, size)) {
        m_log.pr_warn(fmt::format("Hotplug memory [{:#x}-{:#x}] exceeds maximum addressable range [{:#x}-{:#x}]", start,
                                  start + size, 0, k_max_phys));
        return kerr(E2BIG, "out of range");
    }
    // __request_region: inside a driver's parent resource (virtioN) is fine,
    // overlapping memory that is already there is not.
    auto res = m_iomem.request_region(start, start + size - 1, resource_name, res_flags);
    if (!res) {
        m_log.pr_debug(fmt::format("Unable to reserve System RAM region: {:016x}->{:016x}", start, start + size - 1));
        return kerr(EEXIST, "resource conflict");
    }
    for (uint64_t s = start / (PAGES_PER_SECTION << PAGE_SHIFT); s < (start + size) / (PAGES_PER_SECTION << PAGE_SHIFT); ++s)
        if (m_pa.memmap().present_section(SectionNr(s))) {
            m_iomem.release(start, start + size - 1, resource_name);
            return kerr(EEXIST, "section already present");
        }
    auto release = [&] { m_iomem.release(start, start + size - 1, resource_name); };

    std::optional<int> group;
    NodeId nid = nid_or_mgid;
    if (mhp_flags & MHP_NID_IS_MGID) {
        const MemoryGroup* g = memory_group(nid_or_mgid);
        if (!g) {
            release();
            return kerr(EINVAL, "unknown memory group");
        }
        group = g->id;
        nid = g->nid;
    }
    // vmemmap_alloc_block warns once per boot, at its first failure.
    auto warn_vmemmap_alloc_failure = [&](unsigned order) {
        if (m_vmemmap_warned) return;
        m_vmemmap_warned = true;
        m_log.pr_warn(fmt::format("kworker/u2:1: vmemmap alloc failure: order:{}, mode:0x4cc0(GFP_KERNEL|"
                                  "__GFP_RETRY_MAYFAIL), nodemask=(null),cpuset=/,mems_allowed=0",
                                  order));
    };
    const auto tested = test_add_memory(nid, start, size, mhp_flags);
    if (!tested) {
        release();
        if (tested.error().reason == "unaligned hotplug range")
            m_log.pr_err(fmt::format("Block size [{:#x}] unaligned hotplug range: start {:#x}, size {:#x}", m_block_size,
                                     start, size));
        if (tested.error().err == ENOMEM) {
            warn_vmemmap_alloc_failure(pageblock_order);
            m_log.pr_debug(fmt::format("memplug: the memmap of [mem {:#010x}-{:#010x}] needs {} pages, {} are left for "
                                       "GFP_KERNEL allocations: refused whole (6.1 takes free memory until it runs "
                                       "out, and may panic out of memory)",
                                       start, start + size - 1, memmap_pages(size).value(),
                                       m_pa.allocatable_pages(nid, GFP_KERNEL).value()));
        }
        return tl::unexpected(tested.error());
    }
    const PageCount nr_vmemmap_pages =
        mhp_flags & MHP_MEMMAP_ON_MEMORY ? PageCount::from_bytes(size / PAGE_SIZE * STRUCT_PAGE_SIZE) : PageCount();

    // arch_add_memory: a memmap per section (2 MiB), from the range itself
    // (altmap) or from the node's kernel zones.
    const Pfn start_pfn = Pfn::from_phys(start);
    const PageCount nr_pages = PageCount::from_bytes(size);
    const uint64_t nr_sections = nr_pages.value() / PAGES_PER_SECTION;
    if (!nr_vmemmap_pages) {
        const PageCount per_section = memmap_pages(PAGES_PER_SECTION << PAGE_SHIFT);
        for (uint64_t i = 0; i < nr_sections; ++i) {
            const SectionNr sec(start_pfn.value() / PAGES_PER_SECTION + i);
            // vmemmap_populate maps each 2 MiB of memmap with one order-9 page,
            // or with base pages when there is none (vmemmap_populate_basepages).
            if (!m_pa.alloc_pages(nid, GFP_KERNEL, per_section, PageState::Unmovable, &m_section_memmap[sec],
                                  std::nullopt, pageblock_order)) {
                warn_vmemmap_alloc_failure(pageblock_order);
                (void)m_pa.alloc_pages(nid, GFP_KERNEL, per_section, PageState::Unmovable, &m_section_memmap[sec]);
            }
        }
    }
    for (uint64_t i = 0; i < nr_sections; ++i) {
        const SectionNr sec(start_pfn.value() / PAGES_PER_SECTION + i);
        m_pa.add_section(sec, PageInfo{PageState::NotOnline, ZoneType::Normal, int8_t(nid)}, false);
    }
    if (nr_vmemmap_pages)
        m_pa.set_page_state(start_pfn, nr_vmemmap_pages, PageInfo{PageState::Vmemmap, ZoneType::Normal, int8_t(nid)});
    m_max_pfn = std::max(m_max_pfn, start_pfn + nr_pages);

    // create_memory_block_devices
    const uint64_t first = start / m_block_size, count = size / m_block_size;
    for (uint64_t b = first; b < first + count; ++b) {
        MemoryBlock mem;
        mem.id = BlockId(b);
        mem.start_section_nr = SectionNr(b * (m_block_size / (PAGES_PER_SECTION << PAGE_SHIFT)));
        mem.state = MemState::Offline;
        mem.nid = nid;
        mem.nr_vmemmap_pages = nr_vmemmap_pages;
        mem.group = group;
        m_blocks.emplace(mem.id, mem);
        // The block's sysfs directory: its attributes, power/ group and links.
        kmem_cache_alloc(SlabCache::KernfsNodeCache, k_kernfs_nodes_per_memory_block);
    }
    m_pa.nodes().at(nid).online = true;  // __try_online_node
    if (mhp_flags & MHP_MERGE_RESOURCE) m_iomem.merge_system_ram(*res);

    // Auto-online: errors stop the walk but the add has succeeded.
    if (m_params.mhp_default_online_type != MmopType::Offline) {
        for (uint64_t b = first; b < first + count; ++b) {
            set_online_type(BlockId(b), m_params.mhp_default_online_type);
            if (!device_online(BlockId(b))) break;
        }
    }
    return {};
}

KResult<void> Kernel::remove_memory(uint64_t start, uint64_t size)
{
    if (start % m_block_size || size % m_block_size || !size) return kerr(EINVAL, "unaligned range");
    const uint64_t first = start / m_block_size, count = size / m_block_size;
    std::optional<NodeId> nid;
    for (uint64_t b = first; b < first + count; ++b) {
        const MemoryBlock* mem = find_memory_block(BlockId(b));
        if (!mem) continue;
        if (mem->state != MemState::Offline) {
            const uint64_t begin = section_nr_to_pfn(mem->start_section_nr).phys();
            m_log.pr_warn(fmt::format("removing memory fails, because memory [{:#018x}-{:#018x}] is onlined", begin,
                                      begin + m_block_size - 1));
            return kerr(EBUSY, "memory is onlined");
        }
        // A self-hosted memmap was added block by block and goes the same way.
        if (mem->nr_vmemmap_pages && count != 1) return kerr(EINVAL, "wrong granularity");
        nid = mem->nid;
    }
    if (!nid) return kerr(EINVAL, "no memory blocks in range");
    for (uint64_t b = first; b < first + count; ++b) m_blocks.erase(BlockId(b));

    // arch_remove_memory: the memmap goes, freeing kernel memory unless it was self-hosted.
    const Pfn start_pfn = Pfn::from_phys(start);
    for (uint64_t s = start_pfn.value() / PAGES_PER_SECTION; s < (start + size) / (PAGES_PER_SECTION << PAGE_SHIFT);
         ++s) {
        const SectionNr sec(s);
        if (!m_pa.memmap().present_section(sec)) continue;
        // clear_hwpoisoned_pages: the section's poisoned pages leave the count.
        const auto first_poisoned = m_hwpoison.lower_bound(section_nr_to_pfn(sec));
        const auto end_poisoned = m_hwpoison.lower_bound(section_nr_to_pfn(SectionNr(s + 1)));
        m_num_poisoned_pages -= PageCount(uint64_t(std::distance(first_poisoned, end_poisoned)));
        m_hwpoison.erase(first_poisoned, end_poisoned);
        m_pa.remove_section(sec);
        // vmemmap_free: exactly the pages this section's memmap took.
        if (auto it = m_section_memmap.find(sec); it != m_section_memmap.end()) {
            for (const auto& [b, len] : it->second) {
                const PageInfo info = m_pa.memmap().at(b);
                m_pa.set_page_state(b, len, PageInfo{PageState::Free, info.zone, info.nid});
            }
            m_section_memmap.erase(it);
        }
    }
    // release_mem_region_adjustable: drop whichever System RAM resource covers the range.
    std::vector<std::tuple<uint64_t, uint64_t, std::string>> victims;
    std::function<void(const Resource&)> walk = [&](const Resource& r) {
        for (const auto& c : r.children) {
            if (c->end < start || c->start > start + size - 1) continue;
            if (c->is_system_ram())
                victims.emplace_back(c->start, c->end, c->name);
            else
                walk(*c);
        }
    };
    walk(m_iomem.root());
    for (auto& [b, e, name] : victims) {
        m_iomem.release(b, e, name);
        // A merged resource that extends beyond the removed range keeps its remainder.
        const unsigned flags = IORESOURCE_MEM | IORESOURCE_SYSRAM | IORESOURCE_BUSY |
                               (name != "System RAM" ? IORESOURCE_SYSRAM_DRIVER_MANAGED | IORESOURCE_SYSRAM_MERGEABLE : 0);
        if (b < start) (void)m_iomem.insert(b, start - 1, name, flags);
        if (e > start + size - 1) (void)m_iomem.insert(start + size, e, name, flags);
    }
    try_offline_node(*nid);
    m_pa.init_per_zone_wmark_min();
    return {};
}

KResult<void> Kernel::offline_and_remove_memory(uint64_t start, uint64_t size)
{
    if (start % m_block_size || size % m_block_size || !size) return kerr(EINVAL, "unaligned range");
    std::vector<std::pair<BlockId, ZoneType>> offlined;
    for (uint64_t a = start; a < start + size; a += m_block_size) {
        const BlockId id(a / m_block_size);
        const MemoryBlock* mem = find_memory_block(id);
        if (!mem) continue;
        const std::optional<ZoneType> zone = mem->zone;
        auto r = device_offline(id);
        if (!r) {
            // try_reonline_memory_block: back to the zone each block came from.
            for (const auto& [b, z] : offlined) {
                set_online_type(b, z == ZoneType::Movable ? MmopType::OnlineMovable : MmopType::OnlineKernel);
                (void)device_online(b);
            }
            return tl::unexpected(r.error());
        }
        if (*r == 0 && zone) offlined.emplace_back(id, *zone);
    }
    return remove_memory(start, size);
}

OfflineTest Kernel::test_fake_offline_pages(Pfn start, PageCount n) const
{
    OfflineTest t;
    m_pa.memmap().for_each_run(start, start + n, [&](Pfn b, PageCount, PageInfo info) {
        if (info.state == PageState::Unmovable || info.state == PageState::Reserved ||
            info.state == PageState::Vmemmap || info.state == PageState::HwPoison) {
            t.err = EBUSY;
            t.reason = "alloc_contig_range: unmovable pages";
            t.culprit = b;
            t.culprit_page = info;
        }
        return !t.err;
    });
    if (t.err) return t;
    t.target = m_pa.memmap().at(start).nid;
    // Free huge pages give way to fresh ones elsewhere on the node (replace_free_huge_pages).
    const auto huge = m_hugetlb.free_huge_pages_in(start, start + n);
    if (huge[Hugetlb::HSTATE_1G]) {
        t.err = ENOMEM;
        t.reason = "alloc_contig_range: a free gigantic page cannot be replaced";
        return t;
    }
    if (huge[Hugetlb::HSTATE_2M] &&
        m_hugetlb.forecast(m_pa, Hugetlb::HSTATE_2M, t.target).expected < huge[Hugetlb::HSTATE_2M]) {
        t.err = ENOMEM;
        t.reason = "alloc_contig_range: no fresh huge page to replace a free one";
        return t;
    }
    t.replaced_huge_pages = huge[Hugetlb::HSTATE_2M];
    t.migrate_pages = m_shmem.pages_in(start, start + n);
    if (t.migrate_pages) {
        const Gfp gfp{ZoneType::Movable, MigrateType::Movable, false};
        t.destination = m_pa.allocation_spread(t.target, gfp, t.migrate_pages, std::pair{start, start + n});
        if (t.destination.empty()) {
            t.err = ENOMEM;
            t.reason = "alloc_contig_range: no memory to migrate to";
        }
    }
    return t;
}

KResult<void> Kernel::fake_offline_pages(Pfn start, PageCount n)
{
    const OfflineTest t = test_fake_offline_pages(start, n);
    if (t.err) return kerr(t.err, t.reason);
    const PageInfo first = m_pa.memmap().at(start);
    // start_isolate_page_range: nothing is allocated in the range meanwhile (fresh
    // huge pages and their compaction's targets, migration targets).
    std::vector<MigrateType> saved;
    for (Pfn pb = start; pb < start + n; pb += PageCount(pageblock_nr_pages))
        saved.push_back(m_pa.memmap().pageblock_migratetype(pb));
    m_pa.set_pageblock_migratetype(start, n, MigrateType::Isolate);
    auto undo_isolation = [&] {
        size_t i = 0;
        for (Pfn pb = start; pb < start + n; pb += PageCount(pageblock_nr_pages))
            m_pa.set_pageblock_migratetype(pb, PageCount(pageblock_nr_pages), saved[i++]);
    };
    if (t.replaced_huge_pages)
        if (auto r = m_hugetlb.replace_free_huge_pages(m_pa, m_shmem, start, start + n); !r) {
            undo_isolation();
            return kerr(ENOMEM, r.error().reason);
        }
    if (m_shmem.pages_in(start, start + n)) {
        auto moved = m_shmem.migrate_range(m_pa, start, start + n, first.nid);
        if (!moved) {
            undo_isolation();
            return kerr(ENOMEM, "alloc_contig_range: no memory to migrate to");
        }
        m_work.pages_migrated += moved->value();
    }
    undo_isolation();
    m_pa.set_page_state(start, n, PageInfo{PageState::Offline, first.zone, first.nid});
    m_pa.init_per_zone_wmark_min();
    return {};
}

void Kernel::fake_online_pages(Pfn start, PageCount n)
{
    const PageInfo first = m_pa.memmap().at(start);
    const bool online = m_pa.memmap().online_section(pfn_to_section_nr(start));
    m_pa.set_page_state(start, n, PageInfo{online ? PageState::Free : PageState::NotOnline, first.zone, first.nid});
    if (online) m_pa.init_per_zone_wmark_min();
}

KResult<void> Kernel::request_mem_region(uint64_t start, uint64_t size, std::string name)
{
    auto r = m_iomem.request_region(start, start + size - 1, std::move(name), IORESOURCE_MEM);
    if (!r) return tl::unexpected(r.error());
    return {};
}

void Kernel::release_mem_region(uint64_t start, uint64_t size, std::string_view name)
{
    m_iomem.release(start, start + size - 1, name);
}

void Kernel::try_offline_node(NodeId nid)
{
    PgData& pgdat = m_pa.nodes().at(nid);
    if (pgdat.node_present_pages) return;
    for (const auto& [id, mem] : m_blocks)
        if (mem.nid == nid) return;
    if (size_t(nid) < m_pa.nr_node_cpu_lists() && !m_pa.node_cpus(nid).empty()) return;
    pgdat.online = false;
}

// ---------------------------------------------------------------- the log's views of mm

void Kernel::build_all_zonelists()
{
    // build_zonelists() for every possible node: find_next_best_node's order
    // over the nodes with memory (QEMU's distances: 10 local, 20 remote), the
    // local node first; equal distances prefer higher nodes, nodes without
    // CPUs and the nodes used least so far.
    constexpr int MAX_NUMNODES = 1 << 10, PENALTY_FOR_NODE_WITH_CPUS = 1;
    const auto& nodes = m_pa.nodes();
    std::vector<int> node_load(nodes.size());
    for (const PgData& local : nodes) {
        const int node = local.node_id;
        std::vector<bool> used(nodes.size());
        std::string order;
        int prev = node;
        for (int next = node; next >= 0;) {
            if (next != node && 10 + 10 * (next != node) != 10 + 10 * (prev != node)) ++node_load[next];
            order += fmt::format("{} ", next);
            used[next] = true;
            prev = next;
            next = -1;
            int min_val = INT32_MAX;
            for (const PgData& n : nodes) {
                if (used[n.node_id] || !n.node_present_pages) continue;
                int val = (n.node_id == node ? 10 : 20) + (n.node_id < node);
                if (size_t(n.node_id) < m_pa.nr_node_cpu_lists() && !m_pa.node_cpus(n.node_id).empty())
                    val += PENALTY_FOR_NODE_WITH_CPUS;
                val = val * MAX_NUMNODES + node_load[n.node_id];
                if (val < min_val) {
                    min_val = val;
                    next = n.node_id;
                }
            }
        }
        m_log.pr_info(fmt::format("Fallback order for Node {}: {}", node, order));
    }
    // nr_free_zone_pages(gfp_zone(GFP_HIGHUSER_MOVABLE)): every zone the
    // zonelist holds, managed pages above the high watermark.
    uint64_t vm_total_pages = 0;
    int nr_online_nodes = 0;
    for (const PgData& p : nodes) {
        nr_online_nodes += p.online;
        for (const Zone& z : p.node_zones) {
            if (z.type == ZoneType::Device || !z.populated_zone()) continue;
            if (z.type != ZoneType::Movable) m_policy_zone = std::max(m_policy_zone, z.type);
            if (z.managed_pages.value() > z.watermark[WMARK_HIGH])
                vm_total_pages += z.managed_pages.value() - z.watermark[WMARK_HIGH];
        }
    }
    constexpr uint64_t MIGRATE_TYPES = 6;  // with CMA and MIGRATE_ISOLATE
    const bool mobility = vm_total_pages >= pageblock_nr_pages * MIGRATE_TYPES;
    m_log.pr_info(fmt::format("Built {} zonelists, mobility grouping {}.  Total pages: {}", nr_online_nodes,
                              mobility ? "on" : "off", vm_total_pages));
    m_log.pr_info(fmt::format("Policy zone: {}", zone_name(m_policy_zone)));
}

void Kernel::dump_page(Pfn pfn, std::string_view reason)
{
    // __dump_page. The model knows a page's state, not which kernel object it
    // holds: an unmovable page reads as an anonymous kernel allocation, a
    // reserved one as PG_reserved. %p prints a hashed pointer: here a hash of the pfn.
    const PageInfo info = m_pa.memmap().at(pfn);
    constexpr uint64_t PG_reserved = 1u << 12;
    constexpr unsigned NODES_PGSHIFT = 54, ZONES_PGSHIFT = 51, LAST_CPUPID_PGSHIFT = 30;
    constexpr uint64_t LAST_CPUPID_MASK = 0x1fffff;
    const bool reserved = info.state == PageState::Reserved || info.state == PageState::Hole;
    const uint64_t flags = uint64_t(info.nid) << NODES_PGSHIFT | uint64_t(zone_idx(info.zone)) << ZONES_PGSHIFT |
                           LAST_CPUPID_MASK << LAST_CPUPID_PGSHIFT | (reserved ? PG_reserved : 0);
    uint64_t h = pfn.value() + 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
    m_log.pr_warn(fmt::format("page:{:016x} refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:{:#x}",
                              h & 0xffffffffu, pfn.value()));
    m_log.pr_warn(fmt::format("flags: {:#x}({}node={}|zone={}|lastcpupid={:#x})", flags, reserved ? "reserved|" : "",
                              info.nid, zone_idx(info.zone), LAST_CPUPID_MASK));
    m_log.pr_warn(fmt::format("raw: {:016x} 0000000000000000 dead000000000122 0000000000000000", flags));
    m_log.pr_warn("raw: 0000000000000000 0000000000000000 00000001ffffffff 0000000000000000");
    m_log.pr_warn(fmt::format("page dumped because: {}", reason));
}

// ---------------------------------------------------------------- invariants

KResult<void> Kernel::check_invariants() const
{
    std::vector<std::array<uint64_t, 2>> counted(m_pa.nodes().size() * MAX_NR_ZONES);  // managed, free
    std::vector<uint64_t> online_present(m_pa.nodes().size() * MAX_NR_ZONES);
    std::vector<uint64_t> online_linked(m_pa.nodes().size() * MAX_NR_ZONES);
    for (uint64_t nr = 0; nr < m_pa.memmap().nr_section_slots(); ++nr) {
        const SectionNr sec(nr);
        if (!m_pa.memmap().present_section(sec)) continue;
        const bool online = m_pa.memmap().online_section(sec);
        m_pa.memmap().for_each_run(section_nr_to_pfn(sec), section_nr_to_pfn(SectionNr(nr + 1)),
                              [&](Pfn, PageCount len, PageInfo info) {
                                  const size_t i = size_t(info.nid) * MAX_NR_ZONES + zone_idx(info.zone);
                                  if (page_state_managed(info.state)) counted[i][0] += len.value();
                                  if (info.state == PageState::Free) counted[i][1] += len.value();
                                  if (online && info.state != PageState::Hole && info.state != PageState::NotOnline)
                                      online_present[i] += len.value();
                                  if (online) online_linked[i] += len.value();
                                  return true;
                              });
    }
    for (const PgData& p : m_pa.nodes()) {
        PageCount node_present;
        for (const Zone& z : p.node_zones) {
            const size_t i = size_t(p.node_id) * MAX_NR_ZONES + zone_idx(z.type);
            const std::string where = "node " + std::to_string(p.node_id) + " zone " + std::string(zone_name(z.type));
            if (z.managed_pages.value() != counted[i][0]) return kerr(EFAULT, where + ": managed pages out of step");
            if (z.nr_free_pages.value() != counted[i][1]) return kerr(EFAULT, where + ": free pages out of step");
            if (z.present_pages.value() != online_present[i]) return kerr(EFAULT, where + ": present pages out of step");
            if (z.present_pages > z.spanned_pages) return kerr(EFAULT, where + ": present exceeds spanned");
            if (z.pages_with_online_memmap.value() != online_linked[i])
                return kerr(EFAULT, where + ": pages with an online memmap out of step");
            if (z.managed_pages > z.present_pages) return kerr(EFAULT, where + ": managed exceeds present");
            node_present += z.present_pages;
        }
        if (node_present != p.node_present_pages) return kerr(EFAULT, "node present pages out of step");
    }
    // zone->contiguous (the counter the default keeps) against a walk of the span:
    // every page of every section online and linked to this zone and node.
    if (m_params.zone_contiguous == HotplugParams::ZoneContiguity::Counter)
        for (const PgData& p : m_pa.nodes())
            for (const Zone& z : p.node_zones) {
                bool contiguous = !z.zone_is_empty();
                for (Pfn s(align_down(z.zone_start_pfn.value(), PAGES_PER_SECTION)); contiguous && s < z.zone_end_pfn();
                     s += PageCount(PAGES_PER_SECTION)) {
                    if (!m_pa.memmap().online_section(pfn_to_section_nr(s))) {
                        contiguous = false;
                        break;
                    }
                    m_pa.memmap().for_each_run(std::max(s, z.zone_start_pfn),
                                               std::min(s + PageCount(PAGES_PER_SECTION), z.zone_end_pfn()),
                                               [&](Pfn, PageCount, PageInfo info) {
                                                   contiguous = info.zone == z.type && info.nid == z.nid;
                                                   return contiguous;
                                               });
                }
                if (contiguous != z.contiguous)
                    return kerr(EFAULT, "node " + std::to_string(p.node_id) + " zone " + std::string(zone_name(z.type)) +
                                            ": contiguous differs from a walk of the span");
            }
    // A self-hosted memmap is never handed to the buddy.
    for (const auto& [id, mem] : m_blocks) {
        if (!mem.nr_vmemmap_pages) continue;
        const Pfn start = section_nr_to_pfn(mem.start_section_nr);
        bool ok = true;
        m_pa.memmap().for_each_run(start, start + mem.nr_vmemmap_pages, [&](Pfn, PageCount, PageInfo info) {
            ok = info.state == PageState::Vmemmap;
            return ok;
        });
        if (!ok) return kerr(EFAULT, "memory" + std::to_string(id.value()) + ": vmemmap pages left their state");
    }
    MP_TRY(m_shmem.check(m_pa));
    MP_TRY(m_hugetlb.check(m_pa));
    for (const auto& [id, mem] : m_blocks) {
        const bool sections_online = m_pa.memmap().online_section(mem.start_section_nr);
        if ((mem.state == MemState::Online) != sections_online && !mem.early)
            return kerr(EFAULT, "memory" + std::to_string(id.value()) + ": state and sections disagree");
    }
    return {};
}

}  // namespace memplug::mm
