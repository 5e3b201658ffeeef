// The memmap: what every page is, without paying 64 bytes of struct page for it.
// Each present section keeps a coalescing run list (as LLVM's IntervalMap does):
// a section whose pages are all alike is one run; detail appears only where
// pages differ. Zone and node links live in the runs too, as page_zone() and
// page_to_nid() read them from page->flags.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "mm/mmzone.h"
#include "mm/types.h"

namespace memplug::mm {

enum class PageState : uint8_t {
    Hole,        // no RAM behind the pfn (its memmap exists, the page is never present)
    Reserved,    // PageReserved: memblock allocations at boot
    Vmemmap,     // memmap_on_memory: the memmap of this block, carved from its start
    NotOnline,   // part of an added memory block that is offline
    Offline,     // PageOffline inside an online section (virtio-mem unplugged subblocks)
    Free,        // in the buddy allocator
    Unmovable,   // allocated by the kernel, not migratable
    Movable,     // allocated and migratable: tmpfs (shmem) pages, owned by a ShmemFs inode
    Hugetlb,     // part of a huge page in a hugetlb pool (taken from the buddy, migratable)
    HwPoison,    // PageHWPoison: taken off the buddy by memory_failure or soft_offline_page
};
inline constexpr int NR_PAGE_STATES = 10;

// Pages handed to the buddy allocator count as managed (adjust_managed_page_count).
constexpr bool page_state_managed(PageState s)
{
    return s == PageState::Free || s == PageState::Unmovable || s == PageState::Movable || s == PageState::Hugetlb ||
           s == PageState::HwPoison;
}

// include/linux/mmzone.h: the migrate types of 6.1 in their order (no CMA in
// Debian's config). Every pageblock carries one (pageblock_flags).
enum class MigrateType : uint8_t { Unmovable, Movable, Reclaimable, HighAtomic, Isolate };
inline constexpr int MIGRATE_TYPES = 5;
inline constexpr uint64_t PAGEBLOCKS_PER_SECTION = PAGES_PER_SECTION / pageblock_nr_pages;

struct PageInfo {
    PageState state = PageState::Hole;
    ZoneType zone = ZoneType::DMA;
    int8_t nid = 0;
    bool operator==(const PageInfo&) const = default;
};

class Memmap {
public:
    struct Run {
        uint16_t start;  // offset within the section; the run ends where the next begins
        PageInfo info;
    };
    static_assert(PAGES_PER_SECTION <= 65536, "run offsets are 16-bit");

    // sparse_add_section / sparse_remove_section: the section gains or loses its memmap.
    void add_section(SectionNr nr, PageInfo initial, bool early);
    void remove_section(SectionNr nr);
    bool present_section(SectionNr nr) const;
    bool early_section(SectionNr nr) const;
    bool online_section(SectionNr nr) const;
    void set_section_online(SectionNr nr, bool online);
    // Highest section number that ever had a memmap + 1 (bounds for scans).
    uint64_t nr_section_slots() const { return m_sections.size(); }

    // pfn_valid(): the pfn has a memmap.
    bool pfn_valid(Pfn pfn) const { return present_section(pfn_to_section_nr(pfn)); }
    PageInfo at(Pfn pfn) const;

    // get_pageblock_migratetype / set_pageblock_migratetype. memmap_init marks
    // every pageblock MIGRATE_MOVABLE.
    MigrateType pageblock_migratetype(Pfn pfn) const;
    void set_pageblock_migratetype(Pfn pfn, MigrateType mt);
    // Free pages in the pageblock holding pfn, kept by assign().
    uint64_t pageblock_nr_free(Pfn pfn) const;

    // Sets [start, start + n) to `info`; `on_old(start, n, old_info)` sees each
    // replaced run first, so callers can keep counters in step (one path for all
    // state changes). All sections touched must be present.
    template <typename F>
    void assign(Pfn start, PageCount n, PageInfo info, F&& on_old);

    // Calls f(run_start, run_len, info) for each run intersecting [start, end),
    // clipped to it, in ascending pfn order; holes between sections are skipped.
    // f returns false to stop early.
    template <typename F>
    void for_each_run(Pfn start, Pfn end, F&& f) const;
    template <typename F>
    void for_each_run_reverse(Pfn start, Pfn end, F&& f) const;

private:
    struct Section {
        bool present = false;
        bool early = false;
        bool online = false;
        std::vector<Run> runs;
        std::array<MigrateType, PAGEBLOCKS_PER_SECTION> migratetype{};
        std::array<uint16_t, PAGEBLOCKS_PER_SECTION> nr_free{};
    };
    // 8 bytes of runs' header, 64 + 128 bytes of pageblock data per 32768 pages:
    // far below DESIGN.md's half a byte per page.
    static_assert(sizeof(Section) <= 232);
    void adjust_free(Pfn start, PageCount n, bool add);
    void assign_in_section(Section& s, uint64_t begin, uint64_t end, PageInfo info);
    static uint64_t run_end(const Section& s, size_t i)
    {
        return i + 1 < s.runs.size() ? s.runs[i + 1].start : PAGES_PER_SECTION;
    }

    std::vector<Section> m_sections;
};

template <typename F>
void Memmap::for_each_run(Pfn start, Pfn end, F&& f) const
{
    for (uint64_t nr = start.value() / PAGES_PER_SECTION; nr < m_sections.size(); ++nr) {
        const uint64_t base = nr * PAGES_PER_SECTION;
        if (base >= end.value()) return;
        const Section& s = m_sections[nr];
        if (!s.present) continue;
        for (size_t i = 0; i < s.runs.size(); ++i) {
            const uint64_t b = std::max(base + s.runs[i].start, start.value());
            const uint64_t e = std::min(base + run_end(s, i), end.value());
            if (b >= e) continue;
            if (!f(Pfn(b), PageCount(e - b), s.runs[i].info)) return;
        }
    }
}

template <typename F>
void Memmap::for_each_run_reverse(Pfn start, Pfn end, F&& f) const
{
    if (end <= start || m_sections.empty()) return;
    uint64_t nr = std::min<uint64_t>((end.value() - 1) / PAGES_PER_SECTION, m_sections.size() - 1);
    for (;; --nr) {
        const uint64_t base = nr * PAGES_PER_SECTION;
        if (base + PAGES_PER_SECTION <= start.value()) return;
        const Section& s = m_sections[nr];
        if (s.present) {
            for (size_t i = s.runs.size(); i-- > 0;) {
                const uint64_t b = std::max(base + s.runs[i].start, start.value());
                const uint64_t e = std::min(base + run_end(s, i), end.value());
                if (b >= e) continue;
                if (!f(Pfn(b), PageCount(e - b), s.runs[i].info)) return;
            }
        }
        if (nr == 0) return;
    }
}

template <typename F>
void Memmap::assign(Pfn start, PageCount n, PageInfo info, F&& on_old)
{
    const Pfn end = start + n;
    std::vector<std::pair<Pfn, PageCount>> was_free;
    for_each_run(start, end, [&](Pfn b, PageCount len, PageInfo old) {
        on_old(b, len, old);
        if (old.state == PageState::Free) was_free.emplace_back(b, len);
        return true;
    });
    for (const auto& [b, len] : was_free) adjust_free(b, len, false);
    if (info.state == PageState::Free) adjust_free(start, n, true);
    for (uint64_t pfn = start.value(); pfn < end.value();) {
        const uint64_t nr = pfn / PAGES_PER_SECTION;
        const uint64_t base = nr * PAGES_PER_SECTION;
        const uint64_t e = std::min(end.value(), base + PAGES_PER_SECTION);
        assign_in_section(m_sections.at(nr), pfn - base, e - base, info);
        pfn = e;
    }
}

}  // namespace memplug::mm
