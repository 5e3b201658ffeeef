#include "mm/memmap.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace memplug::mm {
namespace {

PageInfo info(PageState s, ZoneType z = ZoneType::Normal, int8_t nid = 0) { return PageInfo{s, z, nid}; }

std::vector<std::tuple<uint64_t, uint64_t, PageState>> runs(const Memmap& m, Pfn b, Pfn e)
{
    std::vector<std::tuple<uint64_t, uint64_t, PageState>> out;
    m.for_each_run(b, e, [&](Pfn s, PageCount n, PageInfo i) {
        out.emplace_back(s.value(), n.value(), i.state);
        return true;
    });
    return out;
}

TEST(Memmap, NewSectionIsOneRun)
{
    Memmap m;
    m.add_section(SectionNr(2), info(PageState::NotOnline), false);
    EXPECT_TRUE(m.present_section(SectionNr(2)));
    EXPECT_FALSE(m.present_section(SectionNr(1)));
    EXPECT_FALSE(m.online_section(SectionNr(2)));
    const Pfn base = section_nr_to_pfn(SectionNr(2));
    EXPECT_EQ(runs(m, base, base + PageCount(PAGES_PER_SECTION)),
              (std::vector<std::tuple<uint64_t, uint64_t, PageState>>{{base.value(), PAGES_PER_SECTION, PageState::NotOnline}}));
}

TEST(Memmap, AssignSplitsAndMergesBack)
{
    Memmap m;
    m.add_section(SectionNr(0), info(PageState::Free), true);
    std::vector<std::pair<uint64_t, PageState>> replaced;
    m.assign(Pfn(100), PageCount(50), info(PageState::Reserved), [&](Pfn p, PageCount n, PageInfo old) {
        replaced.emplace_back(p.value(), old.state);
        EXPECT_EQ(n.value(), 50u);
    });
    ASSERT_EQ(replaced.size(), 1u);
    EXPECT_EQ(m.at(Pfn(99)).state, PageState::Free);
    EXPECT_EQ(m.at(Pfn(100)).state, PageState::Reserved);
    EXPECT_EQ(m.at(Pfn(149)).state, PageState::Reserved);
    EXPECT_EQ(m.at(Pfn(150)).state, PageState::Free);
    EXPECT_EQ(runs(m, Pfn(0), Pfn(PAGES_PER_SECTION)).size(), 3u);
    m.assign(Pfn(100), PageCount(50), info(PageState::Free), [](Pfn, PageCount, PageInfo) {});
    EXPECT_EQ(runs(m, Pfn(0), Pfn(PAGES_PER_SECTION)).size(), 1u) << "equal neighbours coalesce";
}

TEST(Memmap, RunsAcrossSectionsAndClipping)
{
    Memmap m;
    m.add_section(SectionNr(0), info(PageState::Free), true);
    m.add_section(SectionNr(1), info(PageState::Free), true);
    m.assign(Pfn(PAGES_PER_SECTION - 10), PageCount(20), info(PageState::Unmovable), [](Pfn, PageCount, PageInfo) {});
    auto r = runs(m, Pfn(PAGES_PER_SECTION - 15), Pfn(PAGES_PER_SECTION + 15));
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(r[0], std::make_tuple(PAGES_PER_SECTION - 15, uint64_t{5}, PageState::Free));
    EXPECT_EQ(r[1], std::make_tuple(PAGES_PER_SECTION - 10, uint64_t{10}, PageState::Unmovable));
    EXPECT_EQ(r[2], std::make_tuple(PAGES_PER_SECTION, uint64_t{10}, PageState::Unmovable));
    EXPECT_EQ(r[3], std::make_tuple(PAGES_PER_SECTION + 10, uint64_t{5}, PageState::Free));
    std::vector<uint64_t> starts;
    m.for_each_run_reverse(Pfn(0), Pfn(2 * PAGES_PER_SECTION), [&](Pfn s, PageCount, PageInfo) {
        starts.push_back(s.value());
        return true;
    });
    EXPECT_TRUE(std::is_sorted(starts.rbegin(), starts.rend()));
    EXPECT_EQ(starts.front(), PAGES_PER_SECTION + 10);
}

TEST(Memmap, HolesBetweenSectionsAreSkipped)
{
    Memmap m;
    m.add_section(SectionNr(0), info(PageState::Free), true);
    m.add_section(SectionNr(5), info(PageState::Free), false);
    auto r = runs(m, Pfn(0), Pfn(6 * PAGES_PER_SECTION));
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(std::get<0>(r[1]), 5 * PAGES_PER_SECTION);
    m.remove_section(SectionNr(5));
    EXPECT_EQ(runs(m, Pfn(0), Pfn(6 * PAGES_PER_SECTION)).size(), 1u);
}

// The run list agrees with a plain per-page array under any sequence of assignments.
RC_GTEST_PROP(Memmap, MatchesPerPageModel, ())
{
    constexpr uint64_t pages = 2 * PAGES_PER_SECTION;
    Memmap m;
    m.add_section(SectionNr(0), info(PageState::Free), true);
    m.add_section(SectionNr(1), info(PageState::Free), true);
    std::vector<PageState> naive(pages, PageState::Free);
    const auto ops = *rc::gen::container<std::vector<std::tuple<uint64_t, uint64_t, int>>>(
        rc::gen::tuple(rc::gen::inRange<uint64_t>(0, pages - 1), rc::gen::inRange<uint64_t>(1, 40000),
                       rc::gen::inRange(0, NR_PAGE_STATES)));
    for (auto [start, len, s] : ops) {
        len = std::min(len, pages - start);
        const auto st = static_cast<PageState>(s);
        m.assign(Pfn(start), PageCount(len), info(st), [](Pfn, PageCount, PageInfo) {});
        std::fill(naive.begin() + long(start), naive.begin() + long(start + len), st);
    }
    uint64_t covered = 0;
    m.for_each_run(Pfn(0), Pfn(pages), [&](Pfn s, PageCount n, PageInfo i) {
        RC_ASSERT(s.value() == covered);
        for (uint64_t p = s.value(); p < s.value() + n.value(); ++p) RC_ASSERT(naive[p] == i.state);
        covered += n.value();
        return true;
    });
    RC_ASSERT(covered == pages);
}

}  // namespace
}  // namespace memplug::mm
