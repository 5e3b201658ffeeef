// Text applets, each following its busybox 1.35 source (coreutils/*.c): cat, wc,
// head, tail, sort, uniq, cut, tr, tee.
#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <utility>

#include <fmt/format.h>

#include "shell/internal.h"

namespace memplug::shell::sh {

// Lines without their '\n'; a last line without one still counts (xmalloc_fgetline).
std::vector<std::string_view> split_lines(std::string_view data)
{
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start < data.size()) {
        size_t nl = data.find('\n', start);
        if (nl == std::string_view::npos) {
            lines.push_back(data.substr(start));
            break;
        }
        lines.push_back(data.substr(start, nl - start));
        start = nl + 1;
    }
    return lines;
}

namespace {


// libbb's xatoul_sfx(p, bkm_suffixes) for head/tail counts.
std::optional<unsigned long> parse_count(std::string_view s)
{
    if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0])))
        return std::nullopt;
    std::string str(s);
    char* end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(str.c_str(), &end, 10);
    if (errno)
        return std::nullopt;
    std::string_view suffix = end;
    unsigned long mult = 1;
    if (suffix == "b")
        mult = 512;
    else if (suffix == "k")
        mult = 1024;
    else if (suffix == "m")
        mult = 1024 * 1024;
    else if (!suffix.empty())
        return std::nullopt;
    if (v > ULONG_MAX / mult)
        return std::nullopt;
    return v * mult;
}

// Opens every operand the way fopen_or_warn_stdin() does: a missing file is
// reported ("NAME: strerror") and skipped.
std::optional<Ctx::File> open_or_warn(Ctx& ctx, std::string_view name, std::optional<uint64_t> limit = std::nullopt)
{
    Ctx::File f = ctx.read_file(name, limit);
    if (f.open_error) {
        ctx.perror(name, f.open_error);
        return std::nullopt;
    }
    return f;
}

std::string display_name(std::string_view operand)
{
    return operand == "-" ? "standard input" : std::string(operand);
}

}  // namespace

// bb_cat(): each file copied with one write, errors as bb_copyfd_eof reports them.
int applet_cat(Ctx& ctx)
{
    auto opts = get_options(ctx, "nbvteA");
    if (!opts)
        return 1;
    std::vector<std::string> files = opts->operands;
    if (files.empty())
        files.push_back("-");
    bool number = opts->has('n') || opts->has('b');
    unsigned lineno = 1;
    int st = 0;
    for (const std::string& name : files) {
        Ctx::File f = ctx.read_file(name);
        if (f.open_error) {
            ctx.error(fmt::format("can't open '{}': {}", name, errno_text(f.open_error)));
            st = 1;
            continue;
        }
        if (f.read_error) {
            ctx.error(fmt::format("read error: {}", errno_text(f.read_error)));
            st = 1;
            continue;
        }
        if (number) {
            // "%6u\t" before each line (-b: only non-empty ones).
            std::string out;
            for (std::string_view line : split_lines(f.data)) {
                if (opts->has('b') && line.empty())
                    out += "\n";
                else
                    out += fmt::format("{:6}\t{}\n", lineno++, line);
            }
            if (!f.data.empty() && f.data.back() != '\n')
                out.pop_back();
            f.data = std::move(out);
        }
        ctx.out.write(f.data);
        if (!ctx.flush_out())
            st = 1;
    }
    return st;
}

int applet_wc(Ctx& ctx)
{
    auto opts = get_options(ctx, "lwmcL");
    if (!opts)
        return 1;
    // Column order is busybox's: lines, words, chars, bytes, longest line.
    constexpr const char* k_order = "lwmcL";
    std::string types;
    for (const char* c = k_order; *c; ++c)
        if (opts->has(*c))
            types += *c;
    if (types.empty())
        types = "lwc";
    std::vector<std::string> files = opts->operands;
    bool from_stdin = files.empty();
    if (from_stdin)
        files.push_back("-");
    bool bare = files.size() == 1 && types.size() == 1;  // "%u" alone, no padding
    std::map<char, uint64_t> totals;
    int st = 0;
    auto print = [&](const std::map<char, uint64_t>& counts, std::string_view name) {
        std::string line;
        for (char t : types) {
            uint64_t v = counts.count(t) ? counts.at(t) : 0;
            if (bare)
                line += fmt::format("{}", v);
            else
                line += fmt::format("{}{:9}", line.empty() ? "" : " ", v);
        }
        line += from_stdin ? "\n" : fmt::format(" {}\n", name);
        ctx.out.write(line);
    };
    for (const std::string& name : files) {
        Ctx::File f = ctx.read_file(name);
        if (f.open_error) {
            ctx.perror(name, f.open_error);
            st = 1;
            continue;
        }
        if (f.read_error) {
            ctx.perror(display_name(name), f.read_error);
            st = 1;
        }
        uint64_t lines = 0, words = 0, bytes = 0, longest = 0, linepos = 0;
        bool in_word = false;
        auto end_line = [&](int c) {
            longest = std::max(longest, linepos);
            if (c == '\n')
                ++lines;
            if (c != '\v')
                linepos = 0;
        };
        for (unsigned char c : f.data) {
            ++bytes;
            if (c >= 0x20 && c <= 0x7e) {
                ++linepos;
                if (!std::isspace(c)) {
                    in_word = true;
                    continue;
                }
            } else if (c >= 9 && c <= 13) {
                if (c == '\t')
                    linepos = (linepos | 7) + 1;
                else
                    end_line(c);
            } else {
                continue;  // other control bytes neither count nor end words
            }
            words += in_word;
            in_word = false;
        }
        end_line(-1);
        words += in_word;
        std::map<char, uint64_t> counts{{'l', lines}, {'w', words}, {'m', bytes}, {'c', bytes}, {'L', longest}};
        totals['l'] += lines;
        totals['w'] += words;
        totals['m'] += bytes;
        totals['c'] += bytes;
        totals['L'] = std::max(totals['L'], longest);
        print(counts, name);
    }
    if (files.size() > 1)
        print(totals, "total");
    return st;
}

int applet_head(Ctx& ctx)
{
    // "head -5" is "head -n 5", but only as the first argument.
    if (ctx.args.size() > 1 && ctx.args[1].size() > 1 && ctx.args[1][0] == '-' &&
        std::isdigit(static_cast<unsigned char>(ctx.args[1][1])))
        ctx.args[1] = "-n" + ctx.args[1].substr(1);
    auto opts = get_options(ctx, "n:c:qv");
    if (!opts)
        return 1;
    unsigned long count = 10;
    bool bytes = false, all_but = false;
    for (char c : opts->seen) {
        if (c != 'n' && c != 'c')
            continue;
        bytes = c == 'c';
        std::string_view v = *opts->last(c);
        all_but = !v.empty() && v[0] == '-';
        if (all_but)
            v.remove_prefix(1);
        std::optional<unsigned long> n = parse_count(v);
        if (!n) {
            ctx.error(fmt::format("invalid number '{}'", *opts->last(c)));
            return 1;
        }
        count = *n;
    }
    std::vector<std::string> files = opts->operands;
    if (files.empty())
        files.push_back("-");
    bool headers = opts->has('v') || (files.size() > 1 && !opts->has('q'));
    bool first = true;
    int st = 0;
    for (const std::string& name : files) {
        // head -c N reads no more than N bytes: /dev/zero has no end.
        std::optional<Ctx::File> f =
            open_or_warn(ctx, name, bytes && !all_but ? std::optional<uint64_t>(count) : std::nullopt);
        bool was_first = std::exchange(first, false);  // a failed file counts too
        if (!f) {
            st = 1;
            continue;
        }
        if (headers)
            ctx.out.write(fmt::format("{}==> {} <==\n", was_first ? "" : "\n", display_name(name)));
        std::string_view data = f->data;
        size_t end = data.size();
        if (bytes) {
            end = all_but ? (count < end ? end - count : 0) : std::min<size_t>(count, end);
        } else if (!all_but) {
            size_t pos = 0;
            for (unsigned long i = 0; i < count && pos < data.size(); ++i) {
                size_t nl = data.find('\n', pos);
                pos = nl == std::string_view::npos ? data.size() : nl + 1;
            }
            end = pos;
        } else {
            std::vector<std::string_view> lines = split_lines(data);
            size_t keep = count < lines.size() ? lines.size() - count : 0;
            end = 0;
            for (size_t i = 0; i < keep; ++i)
                end += lines[i].size() + 1;
            end = std::min(end, data.size());
        }
        ctx.out.write(data.substr(0, end));
        if (f->read_error) {
            // fclose() of a stream that saw a read error: glibc says EIO.
            ctx.perror(name, EIO);
            st = 1;
        }
    }
    return st;
}

int applet_tail(Ctx& ctx)
{
    bool from_top = false;
    auto eat_num = [&](std::string_view s) -> std::optional<unsigned long> {
        if (!s.empty() && s[0] == '-') {
            s.remove_prefix(1);
        } else if (!s.empty() && s[0] == '+') {
            s.remove_prefix(1);
            from_top = true;
        }
        return parse_count(s);
    };
    unsigned long count = 10;
    auto bad_number = [&](std::string_view s) {
        ctx.error(fmt::format("invalid number '{}'", s));
        return 1;
    };
    if (ctx.args.size() > 1 && ctx.args[1].size() > 1 &&
        (ctx.args[1][0] == '-' || ctx.args[1][0] == '+') &&
        std::isdigit(static_cast<unsigned char>(ctx.args[1][1]))) {
        std::string legacy = ctx.args[1];
        ctx.args.erase(ctx.args.begin() + 1);
        std::optional<unsigned long> n = eat_num(legacy);
        if (!n)
            return bad_number(legacy);
        count = *n;
    }
    auto opts = get_options(ctx, "fc:n:qs:vF");
    if (!opts)
        return 1;
    bool bytes = opts->has('c');
    if (const std::string* c = opts->last('c')) {
        auto n = eat_num(*c);
        if (!n)
            return bad_number(*c);
        count = *n;
    }
    if (const std::string* n_opt = opts->last('n')) {
        auto n = eat_num(*n_opt);
        if (!n)
            return bad_number(*n_opt);
        count = *n;
    }
    std::vector<std::string> files = opts->operands;
    if (files.empty())
        files.push_back("-");
    // All files are opened first: their errors come before any output; a read
    // error shows under the file's header.
    struct Opened {
        std::string name;
        std::string data;
        int read_error;
    };
    std::vector<Opened> opened;
    int st = 0;
    for (const std::string& name : files) {
        Ctx::File f = ctx.read_file(name);
        if (f.open_error) {
            ctx.error(fmt::format("can't open '{}': {}", name, errno_text(f.open_error)));
            st = 1;
            continue;
        }
        opened.push_back({display_name(name), std::move(f.data), f.read_error});
    }
    if (opened.empty()) {
        ctx.error("no files");
        return 1;
    }
    size_t threshold = opts->has('q') ? SIZE_MAX : opts->has('v') ? 0 : 1;
    bool first = true;
    for (const auto& [name, data, read_error] : opened) {
        if (opened.size() > threshold)
            ctx.out.write(fmt::format("{}==> {} <==\n", first ? "" : "\n", name));
        first = false;
        if (read_error) {
            ctx.error(fmt::format("read error: {}", errno_text(read_error)));
            st = 1;
            continue;
        }
        std::string_view d = data;
        size_t start = 0;
        if (bytes) {
            if (from_top)
                start = count ? std::min<size_t>(count - 1, d.size()) : 0;
            else
                start = count < d.size() ? d.size() - count : 0;
        } else if (from_top) {
            for (unsigned long i = 1; i < count && start < d.size(); ++i) {
                size_t nl = d.find('\n', start);
                start = nl == std::string_view::npos ? d.size() : nl + 1;
            }
        } else if (count == 0) {
            start = d.size();
        } else {
            // The last `count` lines; an unterminated last line counts as one.
            std::vector<size_t> line_starts;
            for (size_t i = 0; i < d.size(); ++i)
                if (i == 0 || d[i - 1] == '\n')
                    line_starts.push_back(i);
            start = count >= line_starts.size() ? 0 : line_starts[line_starts.size() - count];
        }
        ctx.out.write(d.substr(start));
    }
    return st;
}

namespace {

struct SortKey {
    unsigned range[4] = {0, 0, 0, 0};  // start field, start char, end field, end char
    unsigned flags = 0;
};

enum SortFlag : unsigned {
    k_sort_n = 1, k_sort_r = 2, k_sort_f = 4, k_sort_b = 8, k_sort_bb = 16, k_sort_d = 32,
    k_sort_i = 64, k_sort_g = 128,
};

// coreutils/sort.c get_key().
std::string get_key(std::string_view str, const SortKey& key, unsigned flags, char separator)
{
    int len = static_cast<int>(str.size());
    int start = 0, end = len;
    auto at = [&](int i) { return i < len ? str[static_cast<size_t>(i)] : '\0'; };
    for (int j = 0; j < 2; ++j) {
        if (!key.range[2 * j]) {
            end = len;
        } else {
            char ch = 0;
            end = 0;
            for (unsigned i = 1; i < key.range[2 * j] + static_cast<unsigned>(j); ++i) {
                if (separator) {
                    while ((ch = at(end)) != '\0') {
                        ++end;
                        if (ch == separator)
                            break;
                    }
                } else {
                    while (std::isspace(static_cast<unsigned char>(at(end))))
                        ++end;
                    while (at(end) != '\0' && !std::isspace(static_cast<unsigned char>(at(end))))
                        ++end;
                }
            }
            if (j && ch)
                --end;
        }
        if (!j)
            start = end;
    }
    if (flags & k_sort_b)
        while (std::isspace(static_cast<unsigned char>(at(start))))
            ++start;
    if (flags & k_sort_bb)
        while (end > start && std::isspace(static_cast<unsigned char>(at(end - 1))))
            --end;
    if (key.range[3])
        end = std::min(static_cast<int>(key.range[3]), len);
    if (key.range[1])
        start = std::min(start + static_cast<int>(key.range[1]) - 1, len);
    if (end < start)
        end = start;
    std::string s(str.substr(static_cast<size_t>(start), static_cast<size_t>(end - start)));
    if (flags & k_sort_d)
        std::erase_if(s, [](char c) { return !std::isspace(static_cast<unsigned char>(c)) && !std::isalnum(static_cast<unsigned char>(c)); });
    if (flags & k_sort_i)
        std::erase_if(s, [](char c) { return c < 0x20 || c > 0x7e; });
    if (flags & k_sort_f)
        for (char& c : s)
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

int applet_sort(Ctx& ctx)
{
    auto opts = get_options(ctx, "nrugMcszbdfiok:t:");
    if (!opts)
        return 1;
    unsigned global = 0;
    for (char c : opts->seen) {
        switch (c) {
        case 'n': global |= k_sort_n; break;
        case 'g': global |= k_sort_g; break;
        case 'r': global |= k_sort_r; break;
        case 'f': global |= k_sort_f; break;
        case 'b': global |= k_sort_b | k_sort_bb; break;
        case 'd': global |= k_sort_d; break;
        case 'i': global |= k_sort_i; break;
        default: break;
        }
    }
    char separator = 0;
    if (const std::string* t = opts->last('t')) {
        if (t->size() != 1) {
            ctx.error("bad -t parameter");
            return 1;
        }
        separator = (*t)[0];
    }
    std::vector<SortKey> keys;
    auto bad_field = [&] {
        ctx.error("bad field specification");
        return 1;
    };
    if (opts->values.count('k')) {
        for (const std::string& spec : opts->values.at('k')) {
            SortKey key;
            const char* p = spec.c_str();
            for (int i = 0; *p;) {
                auto num = [&](unsigned& out) {
                    if (!std::isdigit(static_cast<unsigned char>(*p)))
                        return false;
                    char* e = nullptr;
                    unsigned long v = std::strtoul(p, &e, 10);
                    p = e;
                    out = static_cast<unsigned>(v);
                    return v != 0 && v <= INT_MAX;
                };
                if (!num(key.range[2 * i]))
                    return bad_field();
                if (*p == '.') {
                    ++p;
                    if (!num(key.range[2 * i + 1]))
                        return bad_field();
                }
                while (*p) {
                    if (*p == ',' && !i++) {
                        ++p;
                        break;
                    }
                    const char* k_key_flags = "nrbdfig";
                    if (!std::strchr(k_key_flags, *p) || *p == '\0') {
                        ctx.error("unknown key option");
                        return 1;
                    }
                    switch (*p) {
                    case 'n': key.flags |= k_sort_n; break;
                    case 'g': key.flags |= k_sort_g; break;
                    case 'r': key.flags |= k_sort_r; break;
                    case 'b': key.flags |= i ? k_sort_bb : k_sort_b; break;
                    case 'd': key.flags |= k_sort_d; break;
                    case 'f': key.flags |= k_sort_f; break;
                    case 'i': key.flags |= k_sort_i; break;
                    default: break;
                    }
                    ++p;
                }
            }
            keys.push_back(key);
        }
    }
    if (keys.empty())
        keys.push_back(SortKey{{1, 0, 0, 0}, 0});

    std::vector<std::string> files = opts->operands;
    if (files.empty())
        files.push_back("-");
    std::vector<std::string> lines;
    for (const std::string& name : files) {
        Ctx::File f = ctx.read_file(name);
        if (f.open_error) {
            // coreutils 6.9 compat: the first open error ends sort (status 2).
            ctx.perror(name, f.open_error);
            return 2;
        }
        for (std::string_view line : split_lines(f.data))
            lines.emplace_back(line);
    }
    bool tie_break = true;
    auto compare = [&](const std::string& x, const std::string& y) {
        int retval = 0;
        unsigned flags = global;
        for (const SortKey& key : keys) {
            flags = key.flags ? key.flags : global;
            std::string a = get_key(x, key, flags, separator);
            std::string b = get_key(y, key, flags, separator);
            if (flags & (k_sort_n | k_sort_g)) {
                double dx = std::atof(a.c_str()), dy = std::atof(b.c_str());
                retval = dx > dy ? 1 : dx < dy ? -1 : 0;
            } else {
                retval = a.compare(b) < 0 ? -1 : a.compare(b) > 0 ? 1 : 0;
            }
            if (retval)
                break;
        }
        if (retval == 0 && tie_break && !opts->has('s')) {
            flags = global;
            retval = x.compare(y) < 0 ? -1 : x.compare(y) > 0 ? 1 : 0;
        }
        return (flags & k_sort_r) ? -retval : retval;
    };
    std::stable_sort(lines.begin(), lines.end(),
                     [&](const std::string& x, const std::string& y) { return compare(x, y) < 0; });
    if (opts->has('u')) {
        tie_break = false;  // coreutils 6.3: lines with equal keys are duplicates
        std::vector<std::string> unique;
        for (std::string& l : lines)
            if (unique.empty() || compare(unique.back(), l) != 0)
                unique.push_back(std::move(l));
        lines = std::move(unique);
    }
    std::string out;
    for (const std::string& l : lines)
        out += l + "\n";
    ctx.out.write(out);
    return 0;
}

int applet_uniq(Ctx& ctx)
{
    auto opts = get_options(ctx, "cduizf:s:w:");
    if (!opts)
        return 1;
    auto number = [&](char c, unsigned long fallback) -> std::optional<unsigned long> {
        const std::string* v = opts->last(c);
        if (!v)
            return fallback;
        std::optional<unsigned long> n = parse_count(*v);
        if (!n || v->find_first_not_of("0123456789") != std::string::npos) {
            ctx.error(fmt::format("invalid number '{}'", *v));
            return std::nullopt;
        }
        return n;
    };
    auto skip_fields = number('f', 0), skip_chars = number('s', 0), max_chars = number('w', ULONG_MAX);
    if (!skip_fields || !skip_chars || !max_chars)
        return 1;
    const auto& ops = opts->operands;
    if (ops.size() > 2)
        return ctx.usage();
    std::string input_name = ops.empty() ? "-" : ops[0];
    Ctx::File f = ctx.read_file(input_name);
    if (f.open_error) {
        ctx.error(fmt::format("can't open '{}': {}", input_name, errno_text(f.open_error)));
        return 1;
    }
    if (f.read_error) {
        // die_if_ferror(stdin, name): ferror() keeps no errno.
        ctx.error(fmt::format("{}: I/O error", display_name(input_name)));
        return 1;
    }
    auto key = [&](std::string_view line) {
        size_t p = 0;
        for (unsigned long i = 0; i < *skip_fields; ++i) {
            while (p < line.size() && std::isspace(static_cast<unsigned char>(line[p])))
                ++p;
            while (p < line.size() && !std::isspace(static_cast<unsigned char>(line[p])))
                ++p;
        }
        p = std::min<size_t>(line.size(), p + *skip_chars);
        std::string k(line.substr(p, *max_chars));
        if (opts->has('i'))
            for (char& c : k)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return k;
    };
    std::vector<std::string_view> lines = split_lines(f.data);
    std::string out;
    for (size_t i = 0; i < lines.size();) {
        size_t j = i + 1;
        std::string k = key(lines[i]);
        while (j < lines.size() && key(lines[j]) == k)
            ++j;
        size_t dups = j - i - 1;
        bool print = dups ? !opts->has('u') : !opts->has('d');
        if (print) {
            if (opts->has('c'))
                out += fmt::format("{:7} ", dups + 1);
            out += std::string(lines[i]) + "\n";
        }
        i = j;
    }
    if (ops.size() == 2 && ops[1] != "-") {
        KResult<std::string> path = ctx.shell.open_write_path(ops[1]);
        if (!path) {
            ctx.error(fmt::format("can't open '{}': {}", ops[1], errno_text(path.error().err)));
            return 1;
        }
        ctx.shell.fs().write(*path, out);
        return 0;
    }
    ctx.out.write(out);
    return 0;
}

int applet_cut(Ctx& ctx)
{
    auto opts = get_options(ctx, "b:c:f:d:snF:O:");
    if (!opts)
        return 1;
    const std::string* list = nullptr;
    char mode = 0;
    for (char c : std::string_view("bcf"))
        if (const std::string* l = opts->last(c)) {
            if (mode) {
                ctx.error("only one list may be specified");
                return 1;
            }
            list = l;
            mode = c;
        }
    if (!mode) {
        ctx.error("expected a list of bytes, characters, or fields");
        return 1;
    }
    std::string delim = opts->last('d') ? *opts->last('d') : "\t";
    if (mode == 'f' && delim.size() > 1) {
        ctx.error("the delimiter must be a single character");
        return 1;
    }
    if (mode != 'f' && (opts->has('d') || opts->has('s'))) {
        ctx.error("suppressing non-delimited lines makes sense only with -f");
        return 1;
    }
    // The list: "N", "N-M", "N-", "-M", comma separated, 1-based.
    std::vector<std::pair<unsigned long, unsigned long>> ranges;
    size_t pos = 0;
    while (pos <= list->size()) {
        size_t comma = list->find(',', pos);
        std::string item = list->substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        pos = comma == std::string::npos ? list->size() + 1 : comma + 1;
        size_t dash = item.find('-');
        auto num = [&](const std::string& s, unsigned long fallback) -> std::optional<unsigned long> {
            if (s.empty())
                return fallback;
            if (s.find_first_not_of("0123456789") != std::string::npos)
                return std::nullopt;
            return std::strtoul(s.c_str(), nullptr, 10);
        };
        std::optional<unsigned long> lo, hi;
        if (dash == std::string::npos) {
            lo = hi = num(item, 0);
        } else {
            lo = num(item.substr(0, dash), 1);
            hi = num(item.substr(dash + 1), ULONG_MAX);
        }
        if (!lo || !hi || *lo == 0) {
            ctx.error(item.empty() || (lo && *lo == 0) ? "missing list of positions"
                                                       : fmt::format("invalid number '{}'", item));
            return 1;
        }
        if (*hi < *lo) {
            ctx.error(fmt::format("{}<{}", *hi - 1, *lo - 1));
            return 1;
        }
        ranges.emplace_back(*lo, *hi);
    }
    auto selected = [&](unsigned long n) {
        return std::any_of(ranges.begin(), ranges.end(),
                           [&](const auto& r) { return n >= r.first && n <= r.second; });
    };
    std::vector<std::string> files = opts->operands;
    if (files.empty())
        files.push_back("-");
    int st = 0;
    std::string out;
    for (const std::string& name : files) {
        std::optional<Ctx::File> f = open_or_warn(ctx, name);
        if (!f) {
            st = 1;
            continue;
        }
        for (std::string_view line : split_lines(f->data)) {
            if (mode != 'f') {
                for (size_t i = 0; i < line.size(); ++i)
                    if (selected(i + 1))
                        out += line[i];
                out += '\n';
                continue;
            }
            if (line.find(delim[0]) == std::string_view::npos) {
                if (!opts->has('s'))
                    out += std::string(line) + "\n";
                continue;
            }
            std::string fields;
            bool any = false;
            size_t start = 0;
            for (unsigned long n = 1;; ++n) {
                size_t d = line.find(delim[0], start);
                std::string_view field = line.substr(start, d == std::string_view::npos ? std::string_view::npos : d - start);
                if (selected(n)) {
                    if (any)
                        fields += delim;
                    fields += field;
                    any = true;
                }
                if (d == std::string_view::npos)
                    break;
                start = d + 1;
            }
            out += fields + "\n";
        }
    }
    ctx.out.write(out);
    return st;
}

namespace {

// One character of a tr SET at s[i], a backslash escape decoded; i advances.
char set_char(std::string_view s, size_t& i)
{
    char c = s[i++];
    if (c != '\\' || i >= s.size())
        return c;
    std::string rest(s.substr(i));  // process_escape() wants a NUL-terminated string
    const char* q = rest.c_str();
    c = process_escape(q);
    i += static_cast<size_t>(q - rest.c_str());
    return c;
}

int (*char_class(std::string_view name))(int)
{
    static const std::pair<std::string_view, int (*)(int)> k_classes[] = {
        {"alpha", [](int c) { return std::isalpha(c); }},  {"digit", [](int c) { return std::isdigit(c); }},
        {"alnum", [](int c) { return std::isalnum(c); }},  {"upper", [](int c) { return std::isupper(c); }},
        {"lower", [](int c) { return std::islower(c); }},  {"space", [](int c) { return std::isspace(c); }},
        {"blank", [](int c) { return c == ' ' || c == '\t' ? 1 : 0; }},
        {"punct", [](int c) { return std::ispunct(c); }},  {"print", [](int c) { return std::isprint(c); }},
        {"graph", [](int c) { return std::isgraph(c); }},  {"cntrl", [](int c) { return std::iscntrl(c); }},
        {"xdigit", [](int c) { return std::isxdigit(c); }},
    };
    for (const auto& [n, pred] : k_classes)
        if (n == name)
            return pred;
    return nullptr;
}

// tr's SET syntax: escapes, ranges a-z, [:class:].
std::string expand_set(std::string_view s)
{
    std::string out;
    for (size_t i = 0; i < s.size();) {
        if (s.substr(i, 2) == "[:") {
            size_t close = s.find(":]", i + 2);
            if (close != std::string_view::npos) {
                if (auto pred = char_class(s.substr(i + 2, close - i - 2))) {
                    for (int c = 0; c < 256; ++c)
                        if (pred(c))
                            out += static_cast<char>(c);
                    i = close + 2;
                    continue;
                }
            }
        }
        char lo = set_char(s, i);
        if (i + 1 < s.size() && s[i] == '-') {
            ++i;
            char hi = set_char(s, i);
            for (int x = static_cast<unsigned char>(lo); x <= static_cast<unsigned char>(hi); ++x)
                out += static_cast<char>(x);
            continue;
        }
        out += lo;
    }
    return out;
}

}  // namespace

int applet_tr(Ctx& ctx)
{
    auto opts = get_options(ctx, "+Ccds");
    if (!opts)
        return 1;
    const auto& ops = opts->operands;
    bool del = opts->has('d'), squeeze = opts->has('s');
    bool complement = opts->has('c') || opts->has('C');
    if (ops.empty() || (!del && !squeeze && ops.size() < 2) || ops.size() > 2)
        return ctx.usage();
    std::string set1 = expand_set(ops[0]);
    std::string set2 = ops.size() > 1 ? expand_set(ops[1]) : "";
    bool in_set1[256] = {};
    for (unsigned char c : set1)
        in_set1[c] = true;
    if (complement)
        for (bool& b : in_set1)
            b = !b;
    char map[256];
    for (int c = 0; c < 256; ++c)
        map[c] = static_cast<char>(c);
    if (!del && !set2.empty()) {
        if (complement) {
            for (int c = 0; c < 256; ++c)
                if (in_set1[c])
                    map[c] = set2.back();
        } else {
            for (size_t i = 0; i < set1.size(); ++i)
                map[static_cast<unsigned char>(set1[i])] = set2[std::min(i, set2.size() - 1)];
        }
    }
    bool in_squeeze[256] = {};
    const std::string& squeeze_set = (del || set2.empty()) ? (del ? set2 : set1) : set2;
    for (unsigned char c : squeeze_set)
        in_squeeze[c] = true;
    if (squeeze && !del && set2.empty() && complement)
        for (int c = 0; c < 256; ++c)
            in_squeeze[c] = in_set1[c];
    std::string data = ctx.in.take();
    std::string out;
    int last = -1;
    for (unsigned char c : data) {
        if (del && in_set1[c])
            continue;
        unsigned char m = static_cast<unsigned char>(map[c]);
        if (squeeze && in_squeeze[m] && last == m)
            continue;
        out += static_cast<char>(m);
        last = m;
    }
    ctx.out.write(out);
    if (ctx.in.error) {
        ctx.error(fmt::format("read error: {}", errno_text(ctx.in.error)));
        return 1;
    }
    return 0;
}

// tee: unbuffered, so each file gets one write of what was read.
int applet_tee(Ctx& ctx)
{
    auto opts = get_options(ctx, "ia");
    if (!opts)
        return 1;
    struct Target {
        std::string name;
        std::string path;
    };
    std::vector<Target> targets;
    int st = 0;
    for (const std::string& name : opts->operands) {
        if (name == "-") {
            targets.push_back({name, ""});
            continue;
        }
        KResult<std::string> path = ctx.shell.open_write_path(name);
        if (!path) {
            ctx.perror(name, path.error().err);
            st = 1;
            continue;
        }
        targets.push_back({name, *path});
    }
    std::string data = ctx.in.take();
    ctx.out.write(data);
    ctx.out.flush();
    std::vector<std::string> failed;
    for (const Target& t : targets) {
        if (t.path.empty()) {
            ctx.out.write(data);
            ctx.out.flush();
        } else if (!data.empty() && !ctx.shell.fs().write(t.path, data)) {
            failed.push_back(t.name);
        }
    }
    if (ctx.in.error) {
        ctx.error("standard input: I/O error");
        return 1;
    }
    if (!failed.empty()) {
        ctx.error(fmt::format("{}: I/O error", failed.front()));
        return 1;
    }
    return st;
}

}  // namespace memplug::shell::sh
