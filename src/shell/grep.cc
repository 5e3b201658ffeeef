// grep as busybox 1.35 with EXTRA_COMPAT builds it (Debian's config): GNU regex
// through re_compile_pattern()/re_search() with RE_SYNTAX_GREP, or for -E
// RE_SYNTAX_EGREP plus intervals, compiled lazily at the first line a pattern
// meets (so "grep '[' /missing" reports only the file). Follows findutils/grep.c.
#include <cctype>
#include <climits>
#include <cstring>
#include <regex.h>

#include <fmt/format.h>

#include "shell/internal.h"

namespace memplug::shell::sh {

namespace {

// A compiled GNU regex, freed on scope exit.
class GnuRegex {
public:
    GnuRegex() { std::memset(&m_buf, 0, sizeof(m_buf)); }
    ~GnuRegex()
    {
        if (m_compiled) {
            m_buf.translate = nullptr;  // static table, not regfree()'s to free
            ::regfree(&m_buf);
        }
        std::free(m_regs.start);
        std::free(m_regs.end);
    }
    GnuRegex(const GnuRegex&) = delete;
    GnuRegex& operator=(const GnuRegex&) = delete;

    bool compiled() const { return m_compiled; }

    // false: a bad pattern.
    bool compile(const std::string& pattern, reg_syntax_t syntax, bool icase)
    {
        static unsigned char fold[256];
        static bool fold_ready = false;
        if (!fold_ready) {
            for (int i = 0; i < 256; ++i)
                fold[i] = static_cast<unsigned char>(i);
            for (int i = 'a'; i <= 'z'; ++i)
                fold[i] = static_cast<unsigned char>(i - ('a' - 'A'));
            fold_ready = true;
        }
        m_buf.translate = icase ? fold : nullptr;
        re_syntax_options = syntax;
        const char* err = ::re_compile_pattern(pattern.data(), pattern.size(), &m_buf);
        m_compiled = err == nullptr;
        if (!m_compiled)
            m_buf.translate = nullptr;
        return m_compiled;
    }

    // The leftmost match at or after `start`: [so, eo), or false.
    bool search(std::string_view line, size_t start, size_t& so, size_t& eo)
    {
        regoff_t len = static_cast<regoff_t>(line.size());
        regoff_t r = ::re_search(&m_buf, line.data(), len, static_cast<regoff_t>(start), len, &m_regs);
        if (r < 0)
            return false;
        so = static_cast<size_t>(m_regs.start[0]);
        eo = static_cast<size_t>(m_regs.end[0]);
        return true;
    }

private:
    re_pattern_buffer m_buf;
    re_registers m_regs{};
    bool m_compiled = false;
};

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

struct Pattern {
    std::string text;
    std::unique_ptr<GnuRegex> regex;  // compiled at first use
};

class Grep {
public:
    Grep(Ctx& ctx, const Options& opts) : m_ctx(ctx), m_opts(opts) {}

    int run();

private:
    bool has(char c) const { return m_opts.has(c); }
    bool grep_file(std::string_view data, const std::string& name);  // true: matched
    bool match_line(std::string_view line, Pattern*& matched, size_t& so, size_t& eo);
    void print_line(std::string_view text, int linenum, char decoration);
    bool grep_dir(const std::string& dir, bool follow);

    Ctx& m_ctx;
    const Options& m_opts;
    std::vector<Pattern> m_patterns;
    bool m_invert = false;
    bool m_print_filename = false;
    bool m_open_errors = false;
    unsigned long m_max_matches = 0;
    long m_lines_before = 0;
    long m_lines_after = 0;
    bool m_did_print_line = false;
    int m_last_line_printed = 0;
    std::string m_cur_file;
};

// The pattern list: -e and -f entries, else the first operand; "\n" splits one.
// busybox prepends each to a linked list, so they are tried last one first.
void add_patterns(std::vector<Pattern>& list, std::string_view text)
{
    size_t start = 0;
    for (;;) {
        size_t nl = text.find('\n', start);
        list.insert(list.begin(), Pattern{std::string(text.substr(start, nl - start)), nullptr});
        if (nl == std::string_view::npos)
            break;
        start = nl + 1;
    }
}

struct QuietMatch {};  // -q: exit(0) at the first match
struct BadRegex {
    std::string pattern;
};

bool Grep::match_line(std::string_view line, Pattern*& matched, size_t& so, size_t& eo)
{
    for (Pattern& pat : m_patterns) {
        bool found = false;
        if (has('F')) {
            // strstr/strcasestr, -w retried after each hit.
            auto find = [&](size_t from) -> size_t {
                if (!has('i'))
                    return line.find(pat.text, from);
                for (size_t i = from; i + pat.text.size() <= line.size(); ++i)
                    if (::strncasecmp(line.data() + i, pat.text.data(), pat.text.size()) == 0)
                        return i;
                return std::string_view::npos;
            };
            size_t from = 0;
            for (;;) {
                size_t at = find(from);
                if (at == std::string_view::npos)
                    break;
                if (has('x')) {
                    found = at == 0 && pat.text.size() == line.size();
                    break;
                }
                if (!has('w')) {
                    found = true;
                    break;
                }
                char before = at ? line[at - 1] : ' ';
                size_t end = at + pat.text.size();
                char after = end < line.size() ? line[end] : '\0';
                if (!is_word_char(before) && (after == '\0' || !is_word_char(after))) {
                    found = true;
                    break;
                }
                from = at + 1;
            }
            so = 0;
            eo = 0;
        } else {
            if (!pat.regex) {
                pat.regex = std::make_unique<GnuRegex>();
                reg_syntax_t syntax = has('E') ? (RE_SYNTAX_EGREP | RE_INTERVALS | RE_NO_BK_BRACES)
                                               : RE_SYNTAX_GREP;
                if (!pat.regex->compile(pat.text, syntax, has('i')))
                    throw BadRegex{pat.text};
            }
            size_t start = 0;
            while (pat.regex->search(line, start, so, eo)) {
                if (has('x')) {
                    found = so == 0 && eo == line.size();
                    break;
                }
                if (!has('w')) {
                    found = true;
                    break;
                }
                char c = so ? line[so - 1] : ' ';
                if (!is_word_char(c))
                    c = eo < line.size() ? line[eo] : '\0';
                if (!is_word_char(c)) {
                    found = true;
                    break;
                }
                // A zero-length match makes -w give up: "grep -w ^" matches nothing.
                if (eo <= start)
                    break;
                start = eo;
            }
        }
        if (found) {
            matched = &pat;
            return true;
        }
    }
    return false;
}

void Grep::print_line(std::string_view text, int linenum, char decoration)
{
    if (linenum < 1)
        return;
    if ((m_lines_before || m_lines_after) && m_did_print_line && m_last_line_printed != linenum - 1)
        m_ctx.out.write("--\n");
    m_did_print_line = true;
    m_last_line_printed = linenum;
    if (m_print_filename)
        m_ctx.out.write(fmt::format("{}{}", m_cur_file, decoration));
    if (has('n'))
        m_ctx.out.write(fmt::format("{}{}", linenum, decoration));
    if (!(has('v') && has('o'))) {  // GNU's odd -ov prints no text
        m_ctx.out.write(text);
        m_ctx.out.write("\n");
    }
}

bool Grep::grep_file(std::string_view data, const std::string& name)
{
    m_cur_file = name;
    int linenum = 0, nmatches = 0;
    long print_n_lines_after = 0;
    std::vector<std::pair<std::string_view, int>> before;  // the -B window
    bool has_m = has('m');
    size_t pos = 0;
    while (pos < data.size()) {
        size_t nl = data.find('\n', pos);
        std::string_view line = data.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? data.size() : nl + 1;
        ++linenum;
        Pattern* pat = nullptr;
        size_t so = 0, eo = 0;
        bool found = match_line(line, pat, so, eo);
        if (found != m_invert) {
            ++nmatches;
            if (has('q') || has('l') || has('L')) {
                if (has('q'))
                    throw QuietMatch{};
                if (has('l')) {
                    m_ctx.out.write(name + "\n");
                    return true;
                }
                return false;  // -L: a match means the name is not printed
            }
            if (has_m && static_cast<unsigned long>(nmatches) > m_max_matches)
                break;
            if (!has('c')) {
                for (const auto& [text, num] : before)
                    print_line(text, num, '-');
                before.clear();
                print_n_lines_after = m_lines_after;
                if (has('o')) {
                    if (has('F')) {
                        if (found)
                            print_line(pat->text, linenum, ':');
                    } else if (found) {
                        // Every match on the line; an empty one is not printed.
                        for (;;) {
                            if (eo > so)
                                print_line(line.substr(so, eo - so), linenum, ':');
                            if (eo >= line.size())
                                break;
                            size_t next = eo == so ? eo + 1 : eo;
                            if (!pat->regex->search(line, next, so, eo))
                                break;
                        }
                    } else {
                        print_line(line, linenum, ':');
                    }
                } else {
                    print_line(line, linenum, ':');
                }
            }
        } else if (print_n_lines_after) {
            print_line(line, linenum, '-');
            --print_n_lines_after;
        } else if (m_lines_before) {
            before.emplace_back(line, linenum);
            if (static_cast<long>(before.size()) > m_lines_before)
                before.erase(before.begin());
        }
        if (has_m && !print_n_lines_after && static_cast<unsigned long>(nmatches) == m_max_matches)
            break;
    }
    if (has('c')) {
        if (m_print_filename)
            m_ctx.out.write(name + ":");
        m_ctx.out.write(fmt::format("{}\n", nmatches));
    }
    if (has('L')) {
        m_ctx.out.write(name + "\n");
        return true;
    }
    return nmatches != 0;
}

// -r: depth first, symlinks followed only on the command line (or all with -R).
bool Grep::grep_dir(const std::string& dir, bool follow)
{
    Shell& sh = m_ctx.shell;
    auto names = sh.fs().list(sh.resolve(dir));
    if (!names)
        return false;
    std::vector<std::string> sorted = *names;
    std::sort(sorted.begin(), sorted.end());
    bool matched = false;
    for (const std::string& n : sorted) {
        std::string path = dir.ends_with('/') ? dir + n : dir + "/" + n;
        auto kind = sh.fs().stat(sh.resolve(path), false);
        if (!kind)
            continue;
        if (*kind == views::NodeKind::Symlink) {
            auto target = sh.fs().stat(sh.resolve(path), true);
            if (!target) {
                if (!has('s'))
                    m_ctx.perror(path, target.error().err);
                continue;
            }
            if (*target == views::NodeKind::Dir) {
                if (follow)
                    matched |= grep_dir(path, follow);
                continue;
            }
        } else if (*kind == views::NodeKind::Dir) {
            matched |= grep_dir(path, follow);
            continue;
        }
        Ctx::File f = m_ctx.read_file(path);
        if (f.open_error) {
            if (!has('s'))
                m_ctx.perror(path, f.open_error);
            m_open_errors = true;
            continue;
        }
        matched |= grep_file(f.data, path);
    }
    return matched;
}

int Grep::run()
{
    auto number = [&](char c, long& out) {
        const std::string* v = m_opts.last(c);
        if (!v)
            return true;
        char* end = nullptr;
        errno = 0;
        long n = std::strtol(v->c_str(), &end, 10);
        if (v->empty() || *end || errno || n < 0 || n > INT_MAX) {
            m_ctx.error(fmt::format("invalid number '{}'", *v));
            return false;
        }
        out = n;
        return true;
    };
    long copt = 0, max_matches = 0;
    if (!number('A', m_lines_after) || !number('B', m_lines_before) || !number('C', copt) ||
        !number('m', max_matches))
        return 2;
    m_max_matches = static_cast<unsigned long>(max_matches);
    // -C sets both, unless -A or -B are given too.
    if (has('C')) {
        if (!has('A'))
            m_lines_after = copt;
        if (!has('B'))
            m_lines_before = copt;
    }
    if (has('c') || has('q') || has('l') || has('L')) {
        m_lines_before = 0;
        m_lines_after = 0;
    }
    m_invert = has('v');

    std::vector<std::string> operands = m_opts.operands;
    if (m_opts.values.count('e'))
        for (const std::string& e : m_opts.values.at('e'))
            add_patterns(m_patterns, e);
    if (m_opts.values.count('f')) {
        for (const std::string& file : m_opts.values.at('f')) {
            Ctx::File f = m_ctx.read_file(file);
            if (f.open_error) {
                m_ctx.error(fmt::format("can't open '{}': {}", file, errno_text(f.open_error)));
                return 2;
            }
            std::string_view d = f.data;
            if (!d.empty() && d.back() == '\n')
                d.remove_suffix(1);
            if (!f.data.empty())
                add_patterns(m_patterns, d);
        }
        if (m_patterns.empty()) {
            // An empty -f file matches nothing (GNU), except with -x.
            m_patterns.push_back(Pattern{has('x') ? ".*" : "", nullptr});
            m_invert = !m_invert;
        }
    }
    if (m_patterns.empty()) {
        if (operands.empty())
            return m_ctx.usage(2);
        add_patterns(m_patterns, operands.front());
        operands.erase(operands.begin());
    }

    m_print_filename = operands.size() > 1;
    // -H and -h: the later one wins (getopt32 "H-h").
    size_t last_H = m_opts.seen.rfind('H'), last_h = m_opts.seen.rfind('h');
    if (last_H != std::string::npos && (last_h == std::string::npos || last_H > last_h))
        m_print_filename = true;
    else if (last_h != std::string::npos)
        m_print_filename = false;

    if (operands.empty())
        operands.push_back("-");
    bool matched = false;
    for (const std::string& operand : operands) {
        std::string name = operand == "-" ? "(standard input)" : operand;
        if (operand != "-" && (has('r') || has('R'))) {
            auto kind = m_ctx.shell.fs().stat(m_ctx.shell.resolve(operand), true);
            if (kind && *kind == views::NodeKind::Dir) {
                if (!has('h'))
                    m_print_filename = true;
                matched |= grep_dir(operand, has('R'));
                continue;
            }
        }
        Ctx::File f = m_ctx.read_file(operand);
        if (f.open_error) {
            if (!has('s'))
                m_ctx.perror(operand, f.open_error);
            m_open_errors = true;
            continue;
        }
        // A read error (a directory) reads as end of file.
        matched |= grep_file(f.data, name);
    }
    if (m_open_errors)
        return 2;
    return matched ? 0 : 1;
}

}  // namespace

int applet_grep(Ctx& ctx)
{
    auto opts = get_options(ctx, "lnqvscFiHhe:f:LorRm:wxA:B:C:EzaI", 2);
    if (!opts)
        return 2;
    Grep grep(ctx, *opts);
    try {
        return grep.run();
    } catch (const QuietMatch&) {
        return 0;
    } catch (const BadRegex& e) {
        ctx.error(fmt::format("bad regex '{}'", e.pattern));
        return 2;
    }
}

}  // namespace memplug::shell::sh
