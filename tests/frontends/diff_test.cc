#include "frontends/diff.h"

#include <algorithm>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace memplug::fe {
namespace {

using Lines = std::vector<std::string>;

std::string diff(const Lines& a, const Lines& b, std::size_t context = 3)
{
    return unified_diff(a, b, "a", "b", context);
}

Lines numbered(int from, int to)
{
    Lines lines;
    for (int i = from; i <= to; ++i)
        lines.push_back(std::to_string(i));
    return lines;
}

// A minimal `patch`: applies a unified diff to `a`, checking every context and
// removed line against `a` at the position the hunk header names.
std::optional<Lines> apply_patch(const std::string& patch, const Lines& a)
{
    std::istringstream in(patch);
    std::string line;
    Lines out;
    std::size_t next = 0;  // first line of `a` not yet copied
    while (std::getline(in, line)) {
        if (line.starts_with("---") || line.starts_with("+++"))
            continue;
        if (line.starts_with("@@")) {
            std::size_t start = 0, count = 0, b_start = 0, b_count = 0;
            if (std::sscanf(line.c_str(), "@@ -%zu,%zu +%zu,%zu @@", &start, &count, &b_start, &b_count) != 4)
                return std::nullopt;
            const std::size_t begin = count == 0 ? start : start - 1;
            if (begin < next || begin > a.size())
                return std::nullopt;
            out.insert(out.end(), a.begin() + static_cast<long>(next), a.begin() + static_cast<long>(begin));
            next = begin;
            continue;
        }
        const char tag = line.empty() ? '?' : line[0];
        const std::string text = line.substr(1);
        if (tag == '+') {
            out.push_back(text);
        } else if (tag == ' ' || tag == '-') {
            if (next >= a.size() || a[next] != text)
                return std::nullopt;
            if (tag == ' ')
                out.push_back(text);
            ++next;
        } else {
            return std::nullopt;
        }
    }
    out.insert(out.end(), a.begin() + static_cast<long>(next), a.end());
    return out;
}

std::size_t lcs_length(const Lines& a, const Lines& b)
{
    std::vector<std::vector<std::size_t>> table(a.size() + 1, std::vector<std::size_t>(b.size() + 1, 0));
    for (std::size_t i = a.size(); i-- > 0;) {
        for (std::size_t j = b.size(); j-- > 0;)
            table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : std::max(table[i + 1][j], table[i][j + 1]);
    }
    return table[0][0];
}

TEST(Diff, EqualInputsGiveNoDiff)
{
    EXPECT_EQ(diff({"x", "y"}, {"x", "y"}), "");
    EXPECT_EQ(diff({}, {}), "");
}

TEST(Diff, OneChangedLineWithThreeLinesOfContext)
{
    Lines a = numbered(1, 10);
    Lines b = a;
    b[4] = "five";
    EXPECT_EQ(diff(a, b), "--- a\n"
                          "+++ b\n"
                          "@@ -2,7 +2,7 @@\n"
                          " 2\n 3\n 4\n"
                          "-5\n"
                          "+five\n"
                          " 6\n 7\n 8\n");
}

TEST(Diff, ChangesCloseTogetherShareAHunkOthersDoNot)
{
    Lines a = numbered(1, 20);
    Lines close = a;
    close[2] = "x";
    close[8] = "y";  // 5 equal lines between: within 2 * 3
    const std::string merged = diff(a, close);
    EXPECT_THAT(merged, ::testing::StartsWith("--- a\n+++ b\n@@ -1,12 +1,12 @@\n"));
    EXPECT_EQ(std::count(merged.begin(), merged.end(), '@'), 4);

    Lines far = a;
    far[2] = "x";
    far[12] = "y";  // 9 equal lines between
    const std::string text = diff(a, far);
    EXPECT_THAT(text, ::testing::HasSubstr("@@ -1,6 +1,6 @@\n"));
    EXPECT_THAT(text, ::testing::HasSubstr("@@ -10,7 +10,7 @@\n"));
}

TEST(Diff, InsertionsAndDeletionsAtTheEdges)
{
    EXPECT_EQ(diff({}, {"a", "b"}), "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+a\n+b\n");
    EXPECT_EQ(diff({"a", "b"}, {}), "--- a\n+++ b\n@@ -1,2 +0,0 @@\n-a\n-b\n");
    // An empty range names the line before it.
    EXPECT_EQ(diff({"1", "2", "3", "4", "5"}, {"1", "2", "3", "4", "5", "6"}, 1),
              "--- a\n+++ b\n@@ -5,1 +5,2 @@\n 5\n+6\n");
    EXPECT_EQ(diff({"1", "2", "3"}, {"1", "new", "2", "3"}, 0), "--- a\n+++ b\n@@ -1,0 +2,1 @@\n+new\n");
}

TEST(Diff, RemovalsComeBeforeInsertions)
{
    const auto edits = diff_lines(Lines{"a", "old", "c"}, Lines{"a", "new", "c"});
    EXPECT_THAT(edits, ::testing::ElementsAre(Edit{EditKind::Keep, 0, 0}, Edit{EditKind::Remove, 1, 1},
                                              Edit{EditKind::Insert, 2, 1}, Edit{EditKind::Keep, 2, 2}));
}

TEST(Diff, ShortestScriptOnAClassicExample)
{
    // Myers' paper: ABCABBA -> CBABAC has edit distance 5.
    Lines a{"A", "B", "C", "A", "B", "B", "A"};
    Lines b{"C", "B", "A", "B", "A", "C"};
    const auto edits = diff_lines(a, b);
    EXPECT_EQ(std::count_if(edits.begin(), edits.end(), [](const Edit& e) { return e.kind != EditKind::Keep; }), 5);
}

Lines small_lines()
{
    return *rc::gen::container<Lines>(rc::gen::element<std::string>("a", "b", "c", "d", ""));
}

RC_GTEST_PROP(DiffProperty, PatchingAWithTheDiffGivesB, ())
{
    const Lines a = small_lines();
    const Lines b = small_lines();
    const std::size_t context = *rc::gen::inRange<std::size_t>(0, 4);
    const auto patched = apply_patch(unified_diff(a, b, "a", "b", context), a);
    RC_ASSERT(patched.has_value());
    RC_ASSERT(*patched == b);
}

RC_GTEST_PROP(DiffProperty, TheScriptIsShortestAndConsistent, ())
{
    const Lines a = small_lines();
    const Lines b = small_lines();
    const auto edits = diff_lines(a, b);
    std::size_t kept = 0, i = 0, j = 0;
    for (const Edit& edit : edits) {
        RC_ASSERT(edit.a == i);
        RC_ASSERT(edit.b == j);
        if (edit.kind == EditKind::Keep) {
            RC_ASSERT(a[i] == b[j]);
            ++kept;
        }
        i += edit.kind != EditKind::Insert;
        j += edit.kind != EditKind::Remove;
    }
    RC_ASSERT(i == a.size());
    RC_ASSERT(j == b.size());
    RC_ASSERT(kept == lcs_length(a, b));
}

}  // namespace
}  // namespace memplug::fe
