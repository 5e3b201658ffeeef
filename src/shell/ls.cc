// ls as coreutils/ls.c in busybox 1.35: operands that fail are reported first,
// then files, then directories (each under "NAME:" when there are several
// operands). On the console the names go in columns, down then across, for a
// width of 80 - 1 (a serial console reports no size, busybox assumes 80 and
// keeps one column free); elsewhere one per line. -l is approximate: modes come
// from the Vfs, but it has no owners, sizes or times, so those columns are
// plausible constants (root, a page for sysfs attributes, Jan 1).
#include <algorithm>

#include <fmt/format.h>

#include "shell/internal.h"

namespace memplug::shell::sh {

namespace {

struct Entry {
    std::string name;      // as printed
    std::string fullname;  // for the Vfs (relative paths keep the operand's form)
    views::NodeKind kind;  // lstat(), or stat() where links are followed
    views::NodeKind target_kind;  // stat(): what a link points to
};

class Ls {
public:
    Ls(Ctx& ctx, const Options& opts, unsigned width) : m_ctx(ctx), m_opts(opts), m_width(width) {}

    int run();

private:
    bool has(char c) const { return m_opts.has(c); }
    std::optional<Entry> stat_entry(const std::string& name, const std::string& fullname, bool follow);
    void sort(std::vector<Entry>& entries) const;
    void display_files(const std::vector<Entry>& entries);
    unsigned display_single(const Entry& e);
    void list_dirs(const std::vector<Entry>& dirs, bool first);
    char append_char(views::NodeKind kind) const;

    Ctx& m_ctx;
    const Options& m_opts;
    unsigned m_width;
    bool m_show_dirname = false;
    bool m_long = false;
    int m_exit = 0;
    std::string m_out;
};

// printable_string2(): control characters show as '?'.
std::string printable(std::string_view name)
{
    std::string out(name);
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = '?';
    return out;
}

std::optional<Entry> Ls::stat_entry(const std::string& name, const std::string& fullname, bool follow)
{
    Shell& sh = m_ctx.shell;
    std::string path = sh.resolve(fullname);
    bool follow_all = has('L');
    KResult<views::NodeKind> kind = sh.fs().stat(path, follow || follow_all);
    if (!kind) {
        m_ctx.out.write(m_out);  // what came before goes out first
        m_out.clear();
        m_ctx.perror(fullname, kind.error().err);
        m_exit = 1;
        return std::nullopt;
    }
    Entry e{name, fullname, *kind, *kind};
    if (*kind == views::NodeKind::Symlink) {
        KResult<views::NodeKind> target = sh.fs().stat(path, true);
        if (target)
            e.target_kind = *target;
    }
    return e;
}

void Ls::sort(std::vector<Entry>& entries) const
{
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.name < b.name; });
    if (has('r'))
        std::reverse(entries.begin(), entries.end());
}

char Ls::append_char(views::NodeKind kind) const
{
    if (!has('F') && !has('p'))
        return '\0';
    if (kind == views::NodeKind::Dir)
        return '/';
    if (!has('F'))
        return '\0';
    return kind == views::NodeKind::Symlink ? '@' : '\0';
}

unsigned Ls::display_single(const Entry& e)
{
    unsigned column = 0;
    std::string link_target;
    if (m_long && e.kind == views::NodeKind::Symlink) {
        auto t = m_ctx.shell.fs().readlink(m_ctx.shell.resolve(e.fullname));
        if (t)
            link_target = *t;
    }
    if (m_long) {
        std::string path = m_ctx.shell.resolve(e.fullname);
        // bb_mode_string(): the type letter, then rwx for owner, group, others.
        unsigned perm = m_ctx.shell.fs().permissions(path).value_or(0644);
        std::string mode(1, e.kind == views::NodeKind::Dir       ? 'd'
                            : e.kind == views::NodeKind::Symlink ? 'l'
                                                                 : '-');
        for (int bit = 8; bit >= 0; --bit)
            mode += (perm >> bit) & 1 ? "xwr"[bit % 3] : '-';
        // sysfs attributes claim a page, a tmpfs file its length; directories,
        // procfs files and the links of sysfs and procfs (the guest's only ones) 0.
        unsigned long size = 0;
        if (e.kind == views::NodeKind::File)
            size = path.starts_with("/sys/") ? 4096 : m_ctx.shell.fs().regular_file_size(path).value_or(0);
        std::string prefix = fmt::format("{:<10} {:4} {:<8.8} {:<8.8} {:9} Jan  1 00:00 ", mode,
                                         e.kind == views::NodeKind::Dir ? 2 : 1, "0", "0", size);
        m_out += prefix;
        column += static_cast<unsigned>(prefix.size());
    }
    std::string name = printable(e.name);
    m_out += name;
    column += static_cast<unsigned>(name.size());
    char append = append_char(e.kind);
    if (!link_target.empty()) {
        m_out += " -> ";
        m_out += printable(link_target);
        column += static_cast<unsigned>(link_target.size()) + 4;
        append = append_char(e.target_kind);
    }
    if (append) {
        m_out += append;
        ++column;
    }
    return column;
}

// display_files(): columns filled down then across (-x: across then down).
void Ls::display_files(const std::vector<Entry>& entries)
{
    size_t nfiles = entries.size();
    unsigned ncols = 1, column_width = 0;
    if (!m_long && !has('1')) {
        for (const Entry& e : entries)
            column_width = std::max(column_width, static_cast<unsigned>(printable(e.name).size()));
        column_width += 2;
        ncols = m_width / column_width;
    }
    size_t nrows;
    if (ncols > 1) {
        nrows = nfiles / ncols;
        if (nrows * ncols < nfiles)
            ++nrows;
    } else {
        nrows = nfiles;
        ncols = 1;
    }
    for (size_t row = 0; row < nrows; ++row) {
        unsigned column = 0, nexttab = 0;
        for (size_t nc = 0; nc < ncols; ++nc) {
            size_t i = has('x') ? row * ncols + nc : nc * nrows + row;
            if (i >= nfiles)
                continue;
            if (column > 0) {
                nexttab -= column;
                m_out.append(nexttab, ' ');
                column += nexttab;
            }
            nexttab = column + column_width;
            column += display_single(entries[i]);
        }
        m_out += '\n';
    }
}

void Ls::list_dirs(const std::vector<Entry>& dirs, bool first)
{
    Shell& sh = m_ctx.shell;
    for (const Entry& dir : dirs) {
        if (m_show_dirname || has('R')) {
            if (!first)
                m_out += '\n';
            first = false;
            m_out += dir.fullname + ":\n";
        }
        auto names = sh.fs().list(sh.resolve(dir.fullname));
        std::vector<Entry> entries;
        if (!names) {
            m_ctx.out.write(m_out);
            m_out.clear();
            m_ctx.perror(dir.fullname, names.error().err);
            m_exit = 1;
            continue;
        }
        std::vector<std::string> all = *names;
        if (has('a')) {
            all.push_back(".");
            all.push_back("..");
        }
        for (const std::string& n : all) {
            if (n.empty())
                continue;
            if (n[0] == '.' && !has('a') && !has('A'))
                continue;
            std::string full = dir.fullname.ends_with('/') ? dir.fullname + n : dir.fullname + "/" + n;
            if (auto e = stat_entry(n, full, false))
                entries.push_back(std::move(*e));
        }
        if (m_long)
            m_out += "total 0\n";
        if (entries.empty())
            continue;
        sort(entries);
        display_files(entries);
        if (has('R')) {
            std::vector<Entry> subdirs;
            for (const Entry& e : entries)
                if (e.kind == views::NodeKind::Dir && e.name != "." && e.name != "..")
                    subdirs.push_back(e);
            list_dirs(subdirs, false);
        }
    }
}

int Ls::run()
{
    m_long = has('l') || has('n');
    std::vector<std::string> operands = m_opts.operands;
    if (operands.empty())
        operands.push_back(".");
    m_show_dirname = operands.size() > 1;
    // Links on the command line are followed unless -l, -F (or -H/-L say so).
    bool follow = !(m_long || has('F') || has('i') || has('s')) || has('H');
    std::vector<Entry> entries;
    for (const std::string& op : operands)
        if (auto e = stat_entry(op, op, follow))
            entries.push_back(std::move(*e));
    if (has('d')) {
        sort(entries);
        display_files(entries);
    } else {
        std::vector<Entry> files, dirs;
        for (Entry& e : entries)
            (e.kind == views::NodeKind::Dir ? dirs : files).push_back(std::move(e));
        if (!files.empty()) {
            sort(files);
            display_files(files);
        }
        if (!dirs.empty()) {
            sort(dirs);
            list_dirs(dirs, files.empty());
        }
    }
    m_ctx.out.write(m_out);
    return m_exit;
}

}  // namespace

int applet_ls(Ctx& ctx)
{
    auto opts = get_options(ctx, "1AaCxdLHRFplinshrSXvctuw:");
    if (!opts)
        return 1;
    // The last of -1, -C, -x, -l decides the format; none: -C on a terminal.
    Options o = *opts;
    char format = 0;
    for (char c : o.seen)
        if (c == '1' || c == 'C' || c == 'x' || c == 'l')
            format = c;
    if (!format)
        format = ctx.out.is_terminal() ? 'C' : '1';
    std::erase_if(o.seen, [](char c) { return c == '1' || c == 'C' || c == 'x' || c == 'l'; });
    o.seen += format == 'C' ? '\0' : format;
    unsigned width = 79;  // get_terminal_width() is 80, ls keeps one column free
    if (const std::string* w = o.last('w')) {
        char* end = nullptr;
        long v = std::strtol(w->c_str(), &end, 10);
        if (w->empty() || *end || v < 0) {
            ctx.error(fmt::format("invalid number '{}'", *w));
            return 1;
        }
        width = static_cast<unsigned>(v);
    }
    Ls ls(ctx, o, width);
    return ls.run();
}

}  // namespace memplug::shell::sh
