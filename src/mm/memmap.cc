#include "mm/memmap.h"

#include <algorithm>
#include <cassert>

namespace memplug::mm {

void Memmap::add_section(SectionNr nr, PageInfo initial, bool early)
{
    if (nr.value() >= m_sections.size()) m_sections.resize(nr.value() + 1);
    Section& s = m_sections[nr.value()];
    s.present = true;
    s.early = early;
    s.online = false;
    s.runs.assign(1, Run{0, initial});
    s.migratetype.fill(MigrateType::Movable);
    s.nr_free.fill(initial.state == PageState::Free ? pageblock_nr_pages : 0);
}

MigrateType Memmap::pageblock_migratetype(Pfn pfn) const
{
    const uint64_t nr = pfn.value() / PAGES_PER_SECTION;
    return m_sections.at(nr).migratetype[(pfn.value() % PAGES_PER_SECTION) / pageblock_nr_pages];
}

void Memmap::set_pageblock_migratetype(Pfn pfn, MigrateType mt)
{
    const uint64_t nr = pfn.value() / PAGES_PER_SECTION;
    m_sections.at(nr).migratetype[(pfn.value() % PAGES_PER_SECTION) / pageblock_nr_pages] = mt;
}

uint64_t Memmap::pageblock_nr_free(Pfn pfn) const
{
    const uint64_t nr = pfn.value() / PAGES_PER_SECTION;
    if (!present_section(SectionNr(nr))) return 0;
    return m_sections[nr].nr_free[(pfn.value() % PAGES_PER_SECTION) / pageblock_nr_pages];
}

void Memmap::adjust_free(Pfn start, PageCount n, bool add)
{
    for (uint64_t pfn = start.value(), end = (start + n).value(); pfn < end;) {
        const uint64_t pb_end = std::min(end, align_down(pfn, pageblock_nr_pages) + pageblock_nr_pages);
        uint16_t& c = m_sections[pfn / PAGES_PER_SECTION].nr_free[(pfn % PAGES_PER_SECTION) / pageblock_nr_pages];
        c = static_cast<uint16_t>(add ? c + (pb_end - pfn) : c - (pb_end - pfn));
        pfn = pb_end;
    }
}

void Memmap::remove_section(SectionNr nr)
{
    Section& s = m_sections.at(nr.value());
    s = Section{};
}

bool Memmap::present_section(SectionNr nr) const
{
    return nr.value() < m_sections.size() && m_sections[nr.value()].present;
}

bool Memmap::early_section(SectionNr nr) const
{
    return present_section(nr) && m_sections[nr.value()].early;
}

bool Memmap::online_section(SectionNr nr) const
{
    return present_section(nr) && m_sections[nr.value()].online;
}

void Memmap::set_section_online(SectionNr nr, bool online)
{
    m_sections.at(nr.value()).online = online;
}

PageInfo Memmap::at(Pfn pfn) const
{
    const uint64_t nr = pfn.value() / PAGES_PER_SECTION;
    assert(present_section(SectionNr(nr)));
    const Section& s = m_sections[nr];
    const auto off = static_cast<uint16_t>(pfn.value() % PAGES_PER_SECTION);
    auto it = std::upper_bound(s.runs.begin(), s.runs.end(), off,
                               [](uint16_t o, const Run& r) { return o < r.start; });
    return std::prev(it)->info;
}

// Replaces [begin, end) of one section with a single run and merges equal neighbours.
void Memmap::assign_in_section(Section& s, uint64_t begin, uint64_t end, PageInfo info)
{
    assert(s.present && begin < end && end <= PAGES_PER_SECTION);
    std::vector<Run> out;
    out.reserve(s.runs.size() + 2);
    auto push = [&](uint64_t start, PageInfo i) {
        if (!out.empty() && out.back().info == i) return;
        out.push_back(Run{static_cast<uint16_t>(start), i});
    };
    bool placed = false;
    for (size_t i = 0; i < s.runs.size(); ++i) {
        const uint64_t rb = s.runs[i].start, re = run_end(s, i);
        if (re <= begin || rb >= end) {  // untouched run
            push(rb, s.runs[i].info);
            continue;
        }
        // Runs tile the section, so the first run meeting [begin, end) holds `begin`.
        if (rb < begin) push(rb, s.runs[i].info);
        if (!placed) {
            push(begin, info);
            placed = true;
        }
        if (re > end) push(end, s.runs[i].info);
    }
    s.runs = std::move(out);
}

}  // namespace memplug::mm
