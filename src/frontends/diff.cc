#include "frontends/diff.h"

#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

namespace memplug::fe {

namespace {

// Myers, "An O(ND) Difference Algorithm and Its Variations" (1986), section 4b:
// find the middle snake of the shortest edit path by searching from both ends,
// split there, recurse. Marks changed lines as GNU diff does; the script is read
// off the marks afterwards. Lines are compared as interned ids.
class Myers {
public:
    Myers(std::span<const int> a, std::span<const int> b)
        : m_a(a)
        , m_b(b)
        , m_removed(a.size(), false)
        , m_inserted(b.size(), false)
        , m_offset(static_cast<long>(a.size() + b.size()) + 1)
        , m_forward(2 * static_cast<std::size_t>(m_offset) + 1)
        , m_backward(2 * static_cast<std::size_t>(m_offset) + 1)
    {
        compare(0, static_cast<long>(a.size()), 0, static_cast<long>(b.size()));
    }

    std::vector<Edit> script() const
    {
        std::vector<Edit> edits;
        std::size_t i = 0;
        std::size_t j = 0;
        while (i < m_a.size() || j < m_b.size()) {
            if (i < m_a.size() && m_removed[i])
                edits.push_back({EditKind::Remove, i++, j});
            else if (j < m_b.size() && m_inserted[j])
                edits.push_back({EditKind::Insert, i, j++});
            else
                edits.push_back({EditKind::Keep, i++, j++});
        }
        return edits;
    }

private:
    struct Snake {
        long x, y, u, v;  // the snake runs from (x, y) to (u, v)
    };

    long& forward(long k) { return m_forward[static_cast<std::size_t>(k + m_offset)]; }
    long& backward(long k) { return m_backward[static_cast<std::size_t>(k + m_offset)]; }
    bool equal(long x, long y) const { return m_a[static_cast<std::size_t>(x)] == m_b[static_cast<std::size_t>(y)]; }

    void compare(long a_lo, long a_hi, long b_lo, long b_hi)
    {
        // Common prefix and suffix are not part of any change; trimming them also
        // guarantees each recursion works on a strictly smaller edit distance.
        while (a_lo < a_hi && b_lo < b_hi && equal(a_lo, b_lo)) {
            ++a_lo;
            ++b_lo;
        }
        while (a_lo < a_hi && b_lo < b_hi && equal(a_hi - 1, b_hi - 1)) {
            --a_hi;
            --b_hi;
        }
        if (a_lo == a_hi) {
            for (long j = b_lo; j < b_hi; ++j)
                m_inserted[static_cast<std::size_t>(j)] = true;
            return;
        }
        if (b_lo == b_hi) {
            for (long i = a_lo; i < a_hi; ++i)
                m_removed[static_cast<std::size_t>(i)] = true;
            return;
        }
        Snake snake = middle_snake(a_lo, a_hi, b_lo, b_hi);
        compare(a_lo, snake.x, b_lo, snake.y);
        compare(snake.u, a_hi, snake.v, b_hi);
    }

    // Coordinates inside the call are relative to (a_lo, b_lo); the backward search
    // counts x and y from the far end, on diagonal delta - k of the forward one.
    Snake middle_snake(long a_lo, long a_hi, long b_lo, long b_hi)
    {
        const long n = a_hi - a_lo;
        const long m = b_hi - b_lo;
        const long delta = n - m;
        const bool odd = (delta % 2) != 0;
        const long max_d = (n + m + 1) / 2;
        forward(1) = 0;
        backward(1) = 0;
        for (long d = 0; d <= max_d; ++d) {
            for (long k = -d; k <= d; k += 2) {
                long x = (k == -d || (k != d && forward(k - 1) < forward(k + 1))) ? forward(k + 1)
                                                                                : forward(k - 1) + 1;
                long y = x - k;
                const long x0 = x;
                const long y0 = y;
                while (x < n && y < m && equal(a_lo + x, b_lo + y)) {
                    ++x;
                    ++y;
                }
                forward(k) = x;
                const long c = delta - k;
                if (odd && c >= -(d - 1) && c <= d - 1 && forward(k) + backward(c) >= n)
                    return {a_lo + x0, b_lo + y0, a_lo + x, b_lo + y};
            }
            for (long k = -d; k <= d; k += 2) {
                long x = (k == -d || (k != d && backward(k - 1) < backward(k + 1))) ? backward(k + 1)
                                                                                  : backward(k - 1) + 1;
                long y = x - k;
                const long x0 = x;
                const long y0 = y;
                while (x < n && y < m && equal(a_hi - x - 1, b_hi - y - 1)) {
                    ++x;
                    ++y;
                }
                backward(k) = x;
                const long c = delta - k;
                if (!odd && c >= -d && c <= d && backward(k) + forward(c) >= n)
                    return {a_hi - x, b_hi - y, a_hi - x0, b_hi - y0};
            }
        }
        // Unreachable: the searches meet by d = max_d.
        return {a_lo, b_lo, a_hi, b_hi};
    }

    std::span<const int> m_a;
    std::span<const int> m_b;
    std::vector<bool> m_removed;
    std::vector<bool> m_inserted;
    long m_offset;
    std::vector<long> m_forward;
    std::vector<long> m_backward;
};

// Line text -> small integer, equal lines equal ids.
std::pair<std::vector<int>, std::vector<int>> intern(std::span<const std::string> a, std::span<const std::string> b)
{
    std::unordered_map<std::string_view, int> ids;
    auto ids_of = [&](std::span<const std::string> lines) {
        std::vector<int> result;
        result.reserve(lines.size());
        for (const std::string& line : lines)
            result.push_back(ids.try_emplace(line, static_cast<int>(ids.size())).first->second);
        return result;
    };
    auto a_ids = ids_of(a);
    auto b_ids = ids_of(b);
    return {std::move(a_ids), std::move(b_ids)};
}

// GNU's convention: an empty range names the line before it.
std::string hunk_range(std::size_t begin, std::size_t count)
{
    return fmt::format("{},{}", count == 0 ? begin : begin + 1, count);
}

}  // namespace

std::vector<Edit> diff_lines(std::span<const std::string> a, std::span<const std::string> b)
{
    auto [a_ids, b_ids] = intern(a, b);
    return Myers(a_ids, b_ids).script();
}

std::string unified_diff(std::span<const std::string> a, std::span<const std::string> b,
                         std::string_view a_label, std::string_view b_label, std::size_t context,
                         const DiffGutter& gutter)
{
    const bool marked = !gutter.a.empty() || !gutter.b.empty();
    auto line = [&](char op, const std::vector<char>& marks, std::size_t i, const std::string& text) {
        if (!marked)
            return fmt::format("{}{}\n", op, text);
        return fmt::format("{}{}{}\n", op, i < marks.size() ? marks[i] : ' ', text);
    };
    const std::vector<Edit> edits = diff_lines(a, b);
    std::string out;
    std::size_t next = 0;  // first edit not yet in a hunk
    while (true) {
        std::size_t first_change = next;
        while (first_change < edits.size() && edits[first_change].kind == EditKind::Keep)
            ++first_change;
        if (first_change == edits.size())
            break;
        // Extend the hunk while the next change is within 2 * context kept lines.
        std::size_t last_change = first_change;
        for (std::size_t i = first_change + 1; i < edits.size(); ++i) {
            if (edits[i].kind == EditKind::Keep)
                continue;
            if (i - last_change - 1 > 2 * context)
                break;
            last_change = i;
        }
        const std::size_t begin = first_change - std::min(context, first_change - next);
        const std::size_t end = std::min(edits.size(), last_change + 1 + context);

        std::size_t a_count = 0;
        std::size_t b_count = 0;
        std::string body;
        for (std::size_t i = begin; i < end; ++i) {
            const Edit& edit = edits[i];
            switch (edit.kind) {
            case EditKind::Keep:
                ++a_count;
                ++b_count;
                body += line(' ', gutter.a, edit.a, a[edit.a]);
                break;
            case EditKind::Remove:
                ++a_count;
                body += line('-', gutter.a, edit.a, a[edit.a]);
                break;
            case EditKind::Insert:
                ++b_count;
                body += line('+', gutter.b, edit.b, b[edit.b]);
                break;
            }
        }
        if (out.empty())
            out = fmt::format("--- {}\n+++ {}\n", a_label, b_label);
        out += fmt::format("@@ -{} +{} @@\n", hunk_range(edits[begin].a, a_count), hunk_range(edits[begin].b, b_count));
        out += body;
        next = end;
    }
    return out;
}

}  // namespace memplug::fe
