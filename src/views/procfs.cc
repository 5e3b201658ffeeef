#include "views/procfs.h"

#include <array>
#include <functional>

#include <fmt/format.h>

#include "views/sysfs_attr.h"

namespace memplug::views {

namespace {

using mm::Kernel;
using mm::PageCount;

uint64_t kb(PageCount p) { return p.value() << (mm::PAGE_SHIFT - 10); }
uint64_t kb(uint64_t pages) { return pages << (mm::PAGE_SHIFT - 10); }

// What an idle busybox guest holds besides the page allocator's view: the
// counters the model does not track, as Debian's 6.1 shows them (pages).
struct IdleGuest {
    static constexpr uint64_t active_anon = 544, inactive_anon = 41, anon_pages = 28, mapped = 402;
    static constexpr uint64_t shmem = 561, slab_reclaimable = 2202, slab_unreclaimable = 1620;
    static constexpr uint64_t kernel_stack_kb = 752, page_tables = 14, percpu_kb = 260, vmalloc_used_kb = 7524;
    static constexpr uint64_t committed_as = 729;
};

// meminfo's and node meminfo's "%-16s%8lu kB" rows.
void row(std::string& out, std::string_view prefix, std::string_view label, uint64_t value_kb)
{
    out += fmt::format("{}{:<16}{:>8} kB\n", prefix, label, value_kb);
}

// tmpfs pages beyond the idle guest's own (the initramfs inode holds those).
uint64_t user_shmem_pages(const Kernel& k)
{
    return (k.shmem().nr_shmem_pages() - k.shmem().nr_pages(k.initramfs_inode()) - k.anon_pages()).value();
}

uint64_t hugetlb_kb(const Kernel& k)
{
    uint64_t kb = 0;
    for (auto h : {mm::Hugetlb::HSTATE_2M, mm::Hugetlb::HSTATE_1G})
        kb += k.hugetlb().hstate(h).nr_huge_pages * k.hugetlb().hstate(h).size_kb();
    return kb;
}

// mm/vmstat.c's names of the zone and node counters, in its order (vmstat_text).
constexpr std::array zone_stats = {
    "nr_free_pages", "nr_zone_inactive_anon", "nr_zone_active_anon", "nr_zone_inactive_file",
    "nr_zone_active_file", "nr_zone_unevictable", "nr_zone_write_pending", "nr_mlock", "nr_bounce",
    "nr_zspages", "nr_free_cma"};
constexpr std::array numa_stats = {"numa_hit", "numa_miss", "numa_foreign", "numa_interleave", "numa_local",
                                   "numa_other"};
constexpr std::array node_stats = {
    "nr_inactive_anon", "nr_active_anon", "nr_inactive_file", "nr_active_file", "nr_unevictable",
    "nr_slab_reclaimable", "nr_slab_unreclaimable", "nr_isolated_anon", "nr_isolated_file", "workingset_nodes",
    "workingset_refault_anon", "workingset_refault_file", "workingset_activate_anon", "workingset_activate_file",
    "workingset_restore_anon", "workingset_restore_file", "workingset_nodereclaim", "nr_anon_pages", "nr_mapped",
    "nr_file_pages", "nr_dirty", "nr_writeback", "nr_writeback_temp", "nr_shmem", "nr_shmem_hugepages",
    "nr_shmem_pmdmapped", "nr_file_hugepages", "nr_file_pmdmapped", "nr_anon_transparent_hugepages",
    "nr_vmscan_write", "nr_vmscan_immediate_reclaim", "nr_dirtied", "nr_written", "nr_throttled_written",
    "nr_kernel_misc_reclaimable", "nr_foll_pin_acquired", "nr_foll_pin_released", "nr_kernel_stack",
    "nr_page_table_pages", "nr_sec_page_table_pages", "nr_swapcached", "pgpromote_success",
    "pgpromote_candidate"};
// The vm events Debian's 6.1 config counts (CONFIG_VM_EVENT_COUNTERS with NUMA
// balancing, compaction, hugetlb, THP, balloon, swap, KSM, zswap, x86's direct map).
constexpr std::array vm_events = {
    "pgpgin", "pgpgout", "pswpin", "pswpout", "pgalloc_dma", "pgalloc_dma32", "pgalloc_normal",
    "pgalloc_movable", "pgalloc_device", "allocstall_dma", "allocstall_dma32", "allocstall_normal",
    "allocstall_movable", "allocstall_device", "pgskip_dma", "pgskip_dma32", "pgskip_normal", "pgskip_movable",
    "pgskip_device", "pgfree", "pgactivate", "pgdeactivate", "pglazyfree", "pgfault", "pgmajfault",
    "pglazyfreed", "pgrefill", "pgreuse", "pgsteal_kswapd", "pgsteal_direct", "pgdemote_kswapd",
    "pgdemote_direct", "pgscan_kswapd", "pgscan_direct", "pgscan_direct_throttle", "pgscan_anon",
    "pgscan_file", "pgsteal_anon", "pgsteal_file", "zone_reclaim_failed", "pginodesteal", "slabs_scanned",
    "kswapd_inodesteal", "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly", "pageoutrun",
    "pgrotated", "drop_pagecache", "drop_slab", "oom_kill", "numa_pte_updates", "numa_huge_pte_updates",
    "numa_hint_faults", "numa_hint_faults_local", "numa_pages_migrated", "pgmigrate_success", "pgmigrate_fail",
    "thp_migration_success", "thp_migration_fail", "thp_migration_split", "compact_migrate_scanned",
    "compact_free_scanned", "compact_isolated", "compact_stall", "compact_fail", "compact_success",
    "compact_daemon_wake", "compact_daemon_migrate_scanned", "compact_daemon_free_scanned",
    "htlb_buddy_alloc_success", "htlb_buddy_alloc_fail", "unevictable_pgs_culled", "unevictable_pgs_scanned",
    "unevictable_pgs_rescued", "unevictable_pgs_mlocked", "unevictable_pgs_munlocked",
    "unevictable_pgs_cleared", "unevictable_pgs_stranded", "thp_fault_alloc", "thp_fault_fallback",
    "thp_fault_fallback_charge", "thp_collapse_alloc", "thp_collapse_alloc_failed", "thp_file_alloc",
    "thp_file_fallback", "thp_file_fallback_charge", "thp_file_mapped", "thp_split_page",
    "thp_split_page_failed", "thp_deferred_split_page", "thp_split_pmd", "thp_scan_exceed_none_pte",
    "thp_scan_exceed_swap_pte", "thp_scan_exceed_share_pte", "thp_split_pud", "thp_zero_page_alloc",
    "thp_zero_page_alloc_failed", "thp_swpout", "thp_swpout_fallback", "balloon_inflate", "balloon_deflate",
    "balloon_migrate", "swap_ra", "swap_ra_hit", "ksm_swpin_copy", "cow_ksm", "zswpin", "zswpout",
    "direct_map_level2_splits", "direct_map_level3_splits"};

// A node counter as node 0 of the idle guest holds it, plus the tmpfs files the
// guest made; other nodes hold none of the idle guest's pages.
uint64_t node_stat(const Kernel& k, mm::NodeId nid, std::string_view name)
{
    if (nid != 0) return 0;
    using G = IdleGuest;
    const uint64_t user_shmem = user_shmem_pages(k);
    if (name == "nr_active_anon") return G::active_anon;
    if (name == "nr_slab_reclaimable") return G::slab_reclaimable;
    if (name == "nr_slab_unreclaimable") return G::slab_unreclaimable;
    if (name == "nr_anon_pages") return G::anon_pages;
    if (name == "nr_mapped") return G::mapped;
    if (name == "nr_file_pages" || name == "nr_shmem") return G::shmem + user_shmem;
    if (name == "nr_inactive_anon") return G::inactive_anon + user_shmem;
    if (name == "nr_kernel_stack") return G::kernel_stack_kb;
    if (name == "nr_page_table_pages") return G::page_tables;
    return 0;
}

}  // namespace

std::string meminfo_show(const Kernel& k)
{
    const uint64_t total = k.totalram_pages().value(), free = k.nr_free_pages().value();
    const uint64_t shmem = IdleGuest::shmem + user_shmem_pages(k);
    const uint64_t reserve = k.totalreserve_pages().value();
    const uint64_t available = free > reserve ? free - reserve + IdleGuest::slab_reclaimable / 2 : 0;
    using G = IdleGuest;
    std::string out;
    auto r = [&](std::string_view label, uint64_t v) { row(out, "", label, v); };
    r("MemTotal:", kb(total));
    r("MemFree:", kb(free));
    r("MemAvailable:", kb(available));
    r("Buffers:", 0);
    r("Cached:", kb(shmem));
    r("SwapCached:", 0);
    // tmpfs pages are swap-backed: they sit on the anon LRU, new ones inactive.
    r("Active:", kb(G::active_anon));
    r("Inactive:", kb(G::inactive_anon + user_shmem_pages(k)));
    r("Active(anon):", kb(G::active_anon));
    r("Inactive(anon):", kb(G::inactive_anon + user_shmem_pages(k)));
    r("Active(file):", 0);
    r("Inactive(file):", 0);
    r("Unevictable:", 0);
    r("Mlocked:", 0);
    r("SwapTotal:", 0);
    r("SwapFree:", 0);
    r("Zswap:", 0);
    r("Zswapped:", 0);
    r("Dirty:", 0);
    r("Writeback:", 0);
    r("AnonPages:", kb(G::anon_pages + k.anon_pages().value()));
    r("Mapped:", kb(G::mapped));
    r("Shmem:", kb(shmem));
    r("KReclaimable:", kb(G::slab_reclaimable));
    r("Slab:", kb(G::slab_reclaimable + G::slab_unreclaimable));
    r("SReclaimable:", kb(G::slab_reclaimable));
    r("SUnreclaim:", kb(G::slab_unreclaimable));
    r("KernelStack:", G::kernel_stack_kb);
    r("PageTables:", kb(G::page_tables));
    r("SecPageTables:", 0);
    r("NFS_Unstable:", 0);
    r("Bounce:", 0);
    r("WritebackTmp:", 0);
    r("CommitLimit:", kb(total / 2));
    r("Committed_AS:", kb(G::committed_as));
    r("VmallocTotal:", 13743895347199ULL);
    r("VmallocUsed:", G::vmalloc_used_kb);
    r("VmallocChunk:", 0);
    r("Percpu:", G::percpu_kb * uint64_t(k.nr_cpus()));
    r("HardwareCorrupted:", k.num_poisoned_pages().value() * 4);
    r("AnonHugePages:", 0);
    r("ShmemHugePages:", 0);
    r("ShmemPmdMapped:", 0);
    r("FileHugePages:", 0);
    r("FilePmdMapped:", 0);
    const mm::Hstate& h = k.hugetlb().hstate(mm::Hugetlb::HSTATE_2M);
    for (auto [l, v] : {std::pair{"HugePages_Total:", h.nr_huge_pages}, {"HugePages_Free:", h.free_huge_pages},
                        {"HugePages_Rsvd:", uint64_t{0}}, {"HugePages_Surp:", uint64_t{0}}})
        out += fmt::format("{:<16}{:>8}\n", l, v);
    r("Hugepagesize:", h.size_kb());
    r("Hugetlb:", hugetlb_kb(k));
    // The direct map: 4 KiB pages for the first 2 MiB and odd edges, 2 MiB pages elsewhere.
    uint64_t ram_kb = 0;
    for (const mm::PgData& p : k.nodes())
        for (const mm::Zone& z : p.node_zones) ram_kb += kb(z.spanned_pages);
    r("DirectMap4k:", 26492);
    r("DirectMap2M:", ram_kb > 26492 ? mm::align_up(ram_kb - 26492, 2048) : 0);
    r("DirectMap1G:", 0);
    return out;
}

std::string node_meminfo_show(const Kernel& k, mm::NodeId nid)
{
    uint64_t total = 0, free = 0;
    for (const mm::Zone& z : k.node_data(nid).node_zones) {
        total += z.managed_pages.value();
        free += z.nr_free_pages.value();
    }
    const std::string prefix = fmt::format("Node {} ", nid);
    std::string out;
    auto r = [&](std::string_view label, uint64_t v) { row(out, prefix, label, v); };
    const bool first = nid == 0;
    using G = IdleGuest;
    r("MemTotal:", kb(total));
    r("MemFree:", kb(free));
    r("MemUsed:", kb(total - free));
    r("SwapCached:", 0);
    r("Active:", first ? kb(G::active_anon) : 0);
    r("Inactive:", first ? kb(G::inactive_anon) : 0);
    r("Active(anon):", first ? kb(G::active_anon) : 0);
    r("Inactive(anon):", first ? kb(G::inactive_anon) : 0);
    r("Active(file):", 0);
    r("Inactive(file):", 0);
    r("Unevictable:", 0);
    r("Mlocked:", 0);
    r("Dirty:", 0);
    r("Writeback:", 0);
    // The node's tmpfs pages beyond the idle guest's own, anonymous memory apart.
    const uint64_t node_shmem = (k.shmem().nr_shmem_pages(k.page_alloc(), nid) - k.anon_pages(nid)).value();
    const uint64_t idle = k.shmem().inode_pages_on_node(k.page_alloc(), k.initramfs_inode(), nid).value();
    const uint64_t user_shmem = node_shmem - std::min(node_shmem, idle);
    r("FilePages:", kb((first ? G::shmem : 0) + user_shmem));
    r("Mapped:", first ? kb(G::mapped) : 0);
    r("AnonPages:", kb((first ? G::anon_pages : 0) + k.anon_pages(nid).value()));
    r("Shmem:", kb((first ? G::shmem : 0) + user_shmem));
    r("KernelStack:", first ? G::kernel_stack_kb : 0);
    r("PageTables:", first ? kb(G::page_tables) : 0);
    r("SecPageTables:", 0);
    r("NFS_Unstable:", 0);
    r("Bounce:", 0);
    r("WritebackTmp:", 0);
    r("KReclaimable:", first ? kb(G::slab_reclaimable) : 0);
    r("Slab:", first ? kb(G::slab_reclaimable + G::slab_unreclaimable) : 0);
    r("SReclaimable:", first ? kb(G::slab_reclaimable) : 0);
    r("SUnreclaim:", first ? kb(G::slab_unreclaimable) : 0);
    // drivers/base/node.c spells these rows out with their own spacing.
    for (std::string_view l : {"AnonHugePages:  ", "ShmemHugePages: ", "ShmemPmdMapped: ", "FileHugePages: ",
                               "FilePmdMapped: "})
        out += fmt::format("{}{}{:>8} kB\n", prefix, l, 0);
    const uint64_t node_huge = k.hugetlb().hstate(mm::Hugetlb::HSTATE_2M).nr_huge_pages_node.at(size_t(nid));
    for (auto [l, v] : {std::pair{"HugePages_Total: ", node_huge}, {"HugePages_Free:  ", node_huge},
                        {"HugePages_Surp:  ", uint64_t{0}}})
        out += fmt::format("{}{}{:>5}\n", prefix, l, v);
    return out;
}

std::string zoneinfo_show(const Kernel& k)
{
    std::string out;
    for (const mm::PgData& p : k.nodes()) {
        if (!k.node_online(p.node_id)) continue;
        bool node_stats_done = false;
        for (const mm::Zone& z : p.node_zones) {
            out += fmt::format("Node {}, zone {:>8}", p.node_id, mm::zone_name(z.type));
            if (z.populated_zone() && !node_stats_done) {
                node_stats_done = true;
                out += "\n  per-node stats";
                for (const char* name : node_stats)
                    out += fmt::format("\n      {:<12} {}", name, node_stat(k, p.node_id, name));
            }
            out += fmt::format("\n  pages free     {}", z.nr_free_pages.value());
            const std::array<std::pair<const char*, uint64_t>, 8> fields = {{
                {"boost", 0},
                {"min", z.watermark[mm::WMARK_MIN]},
                {"low", z.watermark[mm::WMARK_LOW]},
                {"high", z.watermark[mm::WMARK_HIGH]},
                {"spanned", z.spanned_pages.value()},
                {"present", z.present_pages.value()},
                {"managed", z.managed_pages.value()},
                {"cma", 0},
            }};
            for (const auto& [name, v] : fields) out += fmt::format("\n        {:<8} {}", name, v);
            out += "\n        protection: (";
            for (int i = 0; i < mm::MAX_NR_ZONES; ++i)
                out += fmt::format("{}{}", i ? ", " : "", z.lowmem_reserve[i]);
            out += ")";
            if (!z.populated_zone()) {
                out += "\n";
                continue;
            }
            for (const char* name : zone_stats)
                out += fmt::format("\n      {:<12} {}", name,
                                   std::string_view(name) == "nr_free_pages" ? z.nr_free_pages.value() : 0);
            for (const char* name : numa_stats) out += fmt::format("\n      {:<12} {}", name, 0);
            out += "\n  pagesets";
            for (int cpu = 0; cpu < k.nr_cpus(); ++cpu)
                out += fmt::format("\n    cpu: {}\n              count: {}\n              high:  {}\n"
                                   "              batch: {}\n  vm stats threshold: {}",
                                   cpu, 0, z.pcp_high, z.pcp_batch, z.stat_threshold);
            out += fmt::format("\n  node_unreclaimable:  {}\n  start_pfn:           {}\n", 0,
                               z.zone_start_pfn.value());
        }
    }
    return out;
}

// mm/vmstat.c: vmstat_show, the global counters. What the model keeps comes
// from it (free pages, the tmpfs files, hugetlb's and migration's events); the
// idle guest's LRU, slab and page-table pages as node_stat() has them; what only
// the guest's processes cause (faults, reclaim, compaction, THP) reads 0.
std::string vmstat_show(const Kernel& k)
{
    std::string out;
    auto line = [&out](std::string_view name, uint64_t v) { out += fmt::format("{} {}\n", name, v); };
    for (std::string_view name : zone_stats) {
        uint64_t v = 0;
        if (name == "nr_free_pages") v = k.nr_free_pages().value();
        // The zones' LRU counters add up to the nodes' ("nr_zone_active_anon": "nr_active_anon").
        if (name.starts_with("nr_zone_"))
            for (const mm::PgData& p : k.nodes()) v += node_stat(k, p.node_id, fmt::format("nr_{}", name.substr(8)));
        line(name, v);
    }
    for (std::string_view name : numa_stats) line(name, 0);
    for (std::string_view name : node_stats) {
        uint64_t v = 0;
        for (const mm::PgData& p : k.nodes()) v += node_stat(k, p.node_id, name);
        line(name, v);
    }
    // global_dirty_limits(): dirty_ratio 20 % and dirty_background_ratio 10 % of
    // the dirtyable memory (free pages above the reserves, plus file LRU pages:
    // none here), each ratio first rounded to 1/PAGE_SIZE.
    const uint64_t free = k.nr_free_pages().value();
    const uint64_t dirtyable = free - std::min(free, k.totalreserve_pages().value()) + 1;
    line("nr_dirty_threshold", 20 * mm::PAGE_SIZE / 100 * dirtyable / mm::PAGE_SIZE);
    line("nr_dirty_background_threshold", 10 * mm::PAGE_SIZE / 100 * dirtyable / mm::PAGE_SIZE);
    for (std::string_view name : vm_events) {
        uint64_t v = 0;
        if (name == "drop_pagecache") v = k.vm_events().drop_pagecache;
        if (name == "drop_slab") v = k.vm_events().drop_slab;
        if (name == "pgmigrate_success") v = k.work().pages_migrated;
        if (name == "htlb_buddy_alloc_success") v = k.hugetlb().buddy_alloc_success();
        if (name == "htlb_buddy_alloc_fail") v = k.hugetlb().buddy_alloc_fail();
        line(name, v);
    }
    line("nr_unstable", 0);  // a legacy name 6.1 still prints after the events
    return out;
}

std::string cmdline_show(const Kernel& k) { return k.saved_command_line() + "\n"; }

std::string buddyinfo_show(const Kernel& k)
{
    std::string out;
    for (const mm::PgData& p : k.nodes()) {
        if (!k.node_online(p.node_id)) continue;
        for (const mm::Zone& z : p.node_zones) {
            if (!z.populated_zone()) continue;
            const auto area = k.page_alloc().free_area(z);
            out += fmt::format("Node {}, zone {:>8} ", p.node_id, mm::zone_name(z.type));
            for (unsigned order = 0; order < mm::MAX_ORDER; ++order) {
                uint64_t n = 0;
                for (const auto& per_type : area) n += per_type[order];
                out += fmt::format("{:>6} ", n);
            }
            out += "\n";
        }
    }
    return out;
}

// mm/vmstat.c: pagetypeinfo_show, once per node with memory.
std::string pagetypeinfo_show(const Kernel& k)
{
    static constexpr std::array<std::string_view, mm::MIGRATE_TYPES> names = {"Unmovable", "Movable", "Reclaimable",
                                                                               "HighAtomic", "Isolate"};
    std::string out;
    for (const mm::PgData& p : k.nodes()) {
        if (!k.node_online(p.node_id) || !p.node_present_pages) continue;
        out += fmt::format("Page block order: {}\nPages per block:  {}\n\n", mm::pageblock_order,
                           mm::pageblock_nr_pages);
        out += fmt::format("{:<43} ", "Free pages count per migrate type at order");
        for (unsigned order = 0; order < mm::MAX_ORDER; ++order) out += fmt::format("{:>6} ", order);
        out += "\n";
        for (const mm::Zone& z : p.node_zones) {
            if (!z.populated_zone()) continue;
            const auto area = k.page_alloc().free_area(z);
            for (int t = 0; t < mm::MIGRATE_TYPES; ++t) {
                out += fmt::format("Node {:>4}, zone {:>8}, type {:>12} ", p.node_id, mm::zone_name(z.type), names[t]);
                // The kernel stops counting a list at 100000 entries.
                for (uint64_t n : area[t]) out += n > 100000 ? fmt::format(">{:>6} ", 100000) : fmt::format("{:>6} ", n);
                out += "\n";
            }
        }
        out += fmt::format("\n{:<23}", "Number of blocks type ");
        for (std::string_view n : names) out += fmt::format("{:>12} ", n);
        out += "\n";
        for (const mm::Zone& z : p.node_zones) {
            if (!z.populated_zone()) continue;
            out += fmt::format("Node {}, zone {:>8} ", p.node_id, mm::zone_name(z.type));
            for (uint64_t n : k.page_alloc().nr_pageblocks(z)) out += fmt::format("{:>12} ", n);
            out += "\n";
        }
    }
    return out;
}

std::string iomem_show(const Kernel& k)
{
    std::string out;
    std::function<void(const mm::Resource&, int)> walk = [&](const mm::Resource& r, int depth) {
        for (const auto& c : r.children) {
            out += fmt::format("{:{}}{:08x}-{:08x} : {}\n", "", depth * 2, c->start, c->end, c->name);
            walk(*c, depth + 1);
        }
    };
    walk(k.iomem().root(), 0);
    return out;
}

namespace {

// /proc/sys/vm: the hugetlb sysctls and drop_caches (proc_dointvec_minmax, 1..4; the events count).
std::optional<VNode> lookup_proc_sys_vm(Kernel& k, Path rest)
{
    if (rest.empty())
        return dir([] {
            return std::vector<std::string>{"drop_caches", "nr_hugepages", "nr_hugepages_mempolicy",
                                            "nr_overcommit_hugepages"};
        });
    if (rest.size() != 1) return std::nullopt;
    const std::string& f = rest[0];
    const mm::Hstate& h = k.hugetlb().hstate(mm::Hugetlb::HSTATE_2M);
    auto ulong = [](std::string_view b) -> KResult<uint64_t> {
        while (!b.empty() && (b.front() == ' ' || b.front() == '\t')) b.remove_prefix(1);
        return kstrtoull(b, 10, UINT64_MAX);
    };
    if (f == "nr_hugepages" || f == "nr_hugepages_mempolicy")
        return attr_rw([&h] { return fmt::format("{}\n", h.nr_huge_pages); },
                       [&k, ulong](std::string_view b) -> KResult<void> {
                           k.set_nr_hugepages(mm::Hugetlb::HSTATE_2M, MP_TRY(ulong(b)));
                           return {};
                       });
    if (f == "nr_overcommit_hugepages")
        return attr_rw([&h] { return fmt::format("{}\n", h.nr_overcommit_huge_pages); },
                       [&k, ulong](std::string_view b) -> KResult<void> {
                           k.set_nr_overcommit_hugepages(mm::Hugetlb::HSTATE_2M, MP_TRY(ulong(b)));
                           return {};
                       });
    if (f == "drop_caches")
        // Nothing the model keeps is clean page cache: tmpfs pages are not dropped.
        return attr_wo([&k, ulong](std::string_view b) -> KResult<void> {
            const uint64_t v = MP_TRY(ulong(b));
            if (v < 1 || v > 4) return kerr(EINVAL, "drop_caches takes 1 to 4");
            k.drop_caches(unsigned(v));
            return {};
        });
    return std::nullopt;
}

}  // namespace

std::optional<VNode> lookup_proc(Kernel& k, Path rest)
{
    if (rest.empty())
        return dir([] {
            return std::vector<std::string>{"buddyinfo", "cmdline", "iomem", "meminfo", "pagetypeinfo", "sys", "vmstat",
                                            "zoneinfo"};
        });
    const std::string& f = rest[0];
    if (f == "sys") {
        if (rest.size() == 1) return dir([] { return std::vector<std::string>{"vm"}; });
        if (rest[1] == "vm") return lookup_proc_sys_vm(k, rest.subspan(2));
        return std::nullopt;
    }
    if (rest.size() != 1) return std::nullopt;
    if (f == "meminfo") return attr_ro([&k] { return meminfo_show(k); });
    if (f == "zoneinfo") return attr_ro([&k] { return zoneinfo_show(k); });
    if (f == "buddyinfo") return attr_ro([&k] { return buddyinfo_show(k); });
    if (f == "pagetypeinfo") return with_mode(attr_ro([&k] { return pagetypeinfo_show(k); }), 0400);
    if (f == "iomem") return attr_ro([&k] { return iomem_show(k); });
    if (f == "vmstat") return attr_ro([&k] { return vmstat_show(k); });
    if (f == "cmdline") return attr_ro([&k] { return cmdline_show(k); });
    return std::nullopt;
}

}  // namespace memplug::views
