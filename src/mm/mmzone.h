// Nodes and zones (include/linux/mmzone.h). Spans and counters are the fields the
// kernel keeps; everything /proc/zoneinfo shows is derived from them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string_view>

#include "mm/types.h"

namespace memplug::mm {

enum class ZoneType : uint8_t { DMA, DMA32, Normal, Movable, Device };
inline constexpr int MAX_NR_ZONES = 5;
inline constexpr std::array<ZoneType, MAX_NR_ZONES> all_zone_types = {
    ZoneType::DMA, ZoneType::DMA32, ZoneType::Normal, ZoneType::Movable, ZoneType::Device};

constexpr int zone_idx(ZoneType z) { return static_cast<int>(z); }

// zone->name: the kernel's own strings, shown by valid_zones and zoneinfo.
constexpr std::string_view zone_name(ZoneType z)
{
    constexpr std::array<std::string_view, MAX_NR_ZONES> names = {"DMA", "DMA32", "Normal", "Movable", "Device"};
    return names[zone_idx(z)];
}

// Boot-time zone limits on x86_64 (arch/x86/mm/init.c: zone_sizes_init).
inline constexpr Pfn MAX_DMA_PFN{(16 * MiB) >> PAGE_SHIFT};
inline constexpr Pfn MAX_DMA32_PFN{(4 * GiB) >> PAGE_SHIFT};

enum WatermarkIdx { WMARK_MIN, WMARK_LOW, WMARK_HIGH, NR_WMARK };

struct Zone {
    NodeId nid = 0;
    ZoneType type = ZoneType::DMA;

    Pfn zone_start_pfn;
    PageCount spanned_pages;
    PageCount present_pages;
    PageCount present_early_pages;  // present pages from boot memory (auto-movable)
    PageCount managed_pages;        // pages handed to the buddy allocator
    PageCount nr_free_pages;
    bool contiguous = false;
    // Pages of online sections whose memmap links to this zone (holes included).
    PageCount pages_with_online_memmap;
    // Where the allocator looks first (lower bounds, kept by the page allocator):
    // the lowest pageblock that may hold a free page, the lowest MIGRATE_MOVABLE
    // one that may (where movable requests look first), and the lowest that may be
    // wholly free (what __rmqueue_fallback steals first). Kernel pageblocks
    // (MIGRATE_UNMOVABLE, RECLAIMABLE) with free pages are few: kept exactly.
    Pfn free_hint{~uint64_t{0}};
    Pfn movable_free_hint{~uint64_t{0}};
    Pfn whole_free_hint{~uint64_t{0}};
    std::array<std::set<Pfn>, 2> kernel_pageblocks_with_free;  // [0] Unmovable, [1] Reclaimable

    std::array<uint64_t, NR_WMARK> watermark{};
    std::array<uint64_t, MAX_NR_ZONES> lowmem_reserve{};
    uint64_t pcp_high = 0, pcp_batch = 0;  // zone_set_pageset_high_and_batch
    int stat_threshold = 0;

    Pfn zone_end_pfn() const { return zone_start_pfn + spanned_pages; }
    bool zone_is_empty() const { return !spanned_pages; }
    bool populated_zone() const { return bool(present_pages); }
    bool zone_spans_pfn(Pfn pfn) const { return zone_start_pfn <= pfn && pfn < zone_end_pfn(); }
    bool zone_intersects(Pfn start_pfn, PageCount nr_pages) const
    {
        if (zone_is_empty()) return false;
        return start_pfn < zone_end_pfn() && zone_start_pfn < start_pfn + nr_pages;
    }
};

struct PgData {
    NodeId node_id = 0;
    bool online = false;
    Pfn node_start_pfn;
    PageCount node_spanned_pages;
    PageCount node_present_pages;
    std::array<Zone, MAX_NR_ZONES> node_zones{};

    Zone& zone(ZoneType z) { return node_zones[zone_idx(z)]; }
    const Zone& zone(ZoneType z) const { return node_zones[zone_idx(z)]; }
    Pfn pgdat_end_pfn() const { return node_start_pfn + node_spanned_pages; }
};

}  // namespace memplug::mm
