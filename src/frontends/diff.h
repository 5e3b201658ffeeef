// Line diffs: Myers' O(ND) algorithm in linear space, and unified-diff text with
// the line numbers of both sides, so a transcript's diff speaks the file's numbers.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace memplug::fe {

enum class EditKind { Keep, Remove, Insert };

// One step of turning `a` into `b`. `a` and `b` are the positions in both sides at
// this step (for an Insert, `a` is where in `a` it goes; for a Remove, `b` likewise).
struct Edit {
    EditKind kind;
    std::size_t a;
    std::size_t b;

    bool operator==(const Edit&) const = default;
};

// A shortest edit script (fewest Remove + Insert) from `a` to `b`; removals come
// before insertions within a change.
std::vector<Edit> diff_lines(std::span<const std::string> a, std::span<const std::string> b);

// A second gutter column: one character per line of each side, printed after the
// ` `/`-`/`+` column. Both empty: no second column.
struct DiffGutter {
    std::vector<char> a;
    std::vector<char> b;
};

// `diff -u` text: `--- a_label`, `+++ b_label`, then hunks `@@ -s,n +s,n @@` with
// `context` lines around each change (1-based line numbers, `s` the line before an
// empty range). Empty when `a` equals `b`.
std::string unified_diff(std::span<const std::string> a, std::span<const std::string> b,
                         std::string_view a_label, std::string_view b_label, std::size_t context = 3,
                         const DiffGutter& gutter = {});

}  // namespace memplug::fe
