// find and xargs as findutils/find.c and findutils/xargs.c in busybox 1.35:
// the tree in the order readdir returns it (the Vfs keeps the kernel's order),
// each directory before its contents unless -depth, expressions of -a, -o, !
// and ( ), and programs run as busybox spawns them (an applet, never an ash
// builtin).
#include <fnmatch.h>

#include <climits>
#include <memory>

#include <fmt/format.h>

#include "shell/internal.h"

namespace memplug::shell::sh {

namespace {

// Every `what` in `word` replaced by `with` (xmalloc_substitute_string).
std::string replace_all(const std::string& word, std::string_view what, const std::string& with)
{
    if (what.empty()) return word;
    std::string out;
    size_t from = 0;
    for (size_t p; (p = word.find(what, from)) != std::string::npos; from = p + what.size())
        out += word.substr(from, p - from) + with;
    return out + word.substr(from);
}

// spawn_and_wait(): a program, not a shell builtin (busybox's own applets stand
// in for /bin). nullopt: nothing to exec (execvp's ENOENT).
std::optional<int> spawn(Ctx& ctx, std::vector<std::string> argv)
{
    const std::string base = argv[0].substr(argv[0].rfind('/') + 1);
    const AppletInfo* a = find_applet(base);
    static constexpr std::string_view shell_only[] = {"cd", "command", "read", "type", "umask", "[["};
    const bool builtin_only = a && (a->kind == AppletKind::Special ||
                                    std::find(std::begin(shell_only), std::end(shell_only), base) != std::end(shell_only));
    if (!a || builtin_only) return std::nullopt;
    if (!ctx.flush_out()) return 1;
    return ctx.shell.run_args(std::move(argv), ctx.io);
}

struct Expr {
    enum class Kind { True, Name, Path, Type, Print, Print0, Exec, ExecPlus, Prune, Quit, Not, And, Or };
    Kind kind = Kind::True;
    std::string pattern;
    bool casefold = false;
    std::optional<views::NodeKind> type;  // -type: nullopt for b, c, p, s (none in this guest's tree)
    std::vector<std::string> argv;  // -exec: with "{}" in place
    std::unique_ptr<Expr> lhs, rhs;
    std::vector<std::string> plus_names;  // -exec ... {} +: names gathered so far
};

// -quit ends find at once (exit(0): no pending -exec +); a full console stops the walk.
struct Quit {
    bool console_full = false;
};

class Find {
public:
    explicit Find(Ctx& ctx) : m_ctx(ctx) {}
    int run();

private:
    // Parsing: false after a message (the applet's status is 1).
    bool parse(size_t first);
    std::unique_ptr<Expr> parse_or();
    std::unique_ptr<Expr> parse_and();
    std::unique_ptr<Expr> parse_unary();
    std::unique_ptr<Expr> parse_primary();
    const std::string* next_arg(const std::string& option);
    [[noreturn]] void die(std::string msg);

    bool eval(Expr& e, const std::string& name, views::NodeKind kind);
    void run_exec_plus(Expr& e);
    bool walk(const std::string& name, int depth);
    // fileAction(): false to not descend.
    bool act(const std::string& name, views::NodeKind kind, int depth);

    Ctx& m_ctx;
    std::vector<std::string> m_args;
    size_t m_pos = 0;
    std::unique_ptr<Expr> m_expr;
    std::vector<Expr*> m_plus;
    bool m_need_print = true;
    bool m_follow = false, m_follow_top = false, m_depth_first = false;
    int m_mindepth = 0, m_maxdepth = INT_MAX;
    bool m_prune = false;
    int m_status = 0;
};

struct ParseError {
    std::string message;
    bool usage = false;
};

void Find::die(std::string msg) { throw ParseError{std::move(msg)}; }

const std::string* Find::next_arg(const std::string& option)
{
    if (m_pos >= m_args.size()) die(fmt::format("{} requires an argument", option));
    return &m_args[m_pos++];
}

std::unique_ptr<Expr> Find::parse_or()
{
    auto lhs = parse_and();
    while (m_pos < m_args.size() && (m_args[m_pos] == "-o" || m_args[m_pos] == "-or")) {
        ++m_pos;
        auto e = std::make_unique<Expr>();
        e->kind = Expr::Kind::Or;
        e->lhs = std::move(lhs);
        e->rhs = parse_and();
        lhs = std::move(e);
    }
    return lhs;
}

// An empty group holds: busybox's `find -o` prints everything.
std::unique_ptr<Expr> Find::parse_and()
{
    auto lhs = std::make_unique<Expr>();
    while (m_pos < m_args.size()) {
        const std::string& a = m_args[m_pos];
        if (a == "-o" || a == "-or" || a == ")") break;
        if (a == "-a" || a == "-and") {
            ++m_pos;
            continue;
        }
        auto e = std::make_unique<Expr>();
        e->kind = Expr::Kind::And;
        e->lhs = std::move(lhs);
        e->rhs = parse_unary();
        lhs = std::move(e);
    }
    return lhs;
}

std::unique_ptr<Expr> Find::parse_unary()
{
    const std::string& a = m_args[m_pos];
    if (a == "!" || a == "-not") {
        ++m_pos;
        auto e = std::make_unique<Expr>();
        e->kind = Expr::Kind::Not;
        e->lhs = m_pos < m_args.size() ? parse_unary() : std::make_unique<Expr>();
        return e;
    }
    if (a == "(") {
        ++m_pos;
        auto inner = parse_or();
        if (m_pos >= m_args.size() || m_args[m_pos] != ")") die("unpaired '('");
        ++m_pos;
        return inner;
    }
    return parse_primary();
}

std::unique_ptr<Expr> Find::parse_primary()
{
    const std::string arg = m_args[m_pos++];
    auto e = std::make_unique<Expr>();
    using K = Expr::Kind;
    auto depth_value = [&](const std::string& v) {
        char* end = nullptr;
        errno = 0;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end || n < 0 || n > INT_MAX || errno || !std::isdigit(static_cast<unsigned char>(v[0])))
            die(fmt::format("invalid number '{}'", v));
        return int(n);
    };
    if (arg == "-follow" || arg == "-L") {
        m_follow = true;
    } else if (arg == "-depth") {
        m_depth_first = true;
    } else if (arg == "-maxdepth") {
        m_maxdepth = depth_value(*next_arg(arg));
    } else if (arg == "-mindepth") {
        m_mindepth = depth_value(*next_arg(arg));
    } else if (arg == "-name" || arg == "-iname" || arg == "-path" || arg == "-ipath" || arg == "-wholename") {
        e->kind = arg.ends_with("name") && arg != "-wholename" ? K::Name : K::Path;
        e->casefold = arg[1] == 'i';
        e->pattern = *next_arg(arg);
    } else if (arg == "-type") {
        const std::string& t = *next_arg(arg);
        e->kind = K::Type;
        if (t == "f") e->type = views::NodeKind::File;
        else if (t == "d") e->type = views::NodeKind::Dir;
        else if (t == "l") e->type = views::NodeKind::Symlink;
        else if (t != "b" && t != "c" && t != "p" && t != "s") die(fmt::format("invalid argument '{}' to '-type'", t));
    } else if (arg == "-print" || arg == "-print0") {
        e->kind = arg == "-print" ? K::Print : K::Print0;
        m_need_print = false;
    } else if (arg == "-prune") {
        e->kind = K::Prune;
    } else if (arg == "-quit") {
        e->kind = K::Quit;
    } else if (arg == "-exec") {
        m_need_print = false;
        e->kind = K::Exec;
        for (;;) {
            if (m_pos >= m_args.size()) die("-exec requires an argument");
            const std::string& w = m_args[m_pos++];
            if (w == ";") break;
            if (w == "+" && !e->argv.empty() && e->argv.back() == "{}") {
                e->kind = K::ExecPlus;
                break;
            }
            e->argv.push_back(w);
        }
        if (e->argv.empty()) die("-exec requires an argument");
        if (e->kind == K::ExecPlus) {
            size_t braces = 0;
            for (const std::string& w : e->argv)
                for (size_t p = w.find("{}"); p != std::string::npos; p = w.find("{}", p + 2)) ++braces;
            if (braces > 1) die("only one '{}' allowed for -exec +");
            m_plus.push_back(e.get());
        }
    } else {
        throw ParseError{fmt::format("unrecognized: {}", arg), true};
    }
    return e;
}

bool Find::parse(size_t first)
{
    m_pos = first;
    try {
        m_expr = parse_or();
        if (m_pos < m_args.size()) die(fmt::format("unrecognized: {}", m_args[m_pos]));
    } catch (const ParseError& e) {
        m_ctx.error(e.message);
        if (e.usage) m_ctx.usage();
        return false;
    }
    return true;
}


bool Find::eval(Expr& e, const std::string& name, views::NodeKind kind)
{
    using K = Expr::Kind;
    switch (e.kind) {
    case K::True: return true;
    case K::Not: return !eval(*e.lhs, name, kind);
    case K::And: return eval(*e.lhs, name, kind) && eval(*e.rhs, name, kind);
    case K::Or: return eval(*e.lhs, name, kind) || eval(*e.rhs, name, kind);
    case K::Name: {
        // "find DIR/ -name DIR" matches: trailing slashes are not part of the name.
        std::string_view base = name;
        while (base.size() > 1 && base.ends_with('/')) base.remove_suffix(1);
        if (base.size() > 1) base = base.substr(base.rfind('/') + 1);
        return ::fnmatch(e.pattern.c_str(), std::string(base).c_str(), e.casefold ? FNM_CASEFOLD : 0) == 0;
    }
    case K::Path: return ::fnmatch(e.pattern.c_str(), name.c_str(), e.casefold ? FNM_CASEFOLD : 0) == 0;
    case K::Type: return e.type && kind == *e.type;
    case K::Print: m_ctx.out.write(name + "\n"); return true;
    case K::Print0: m_ctx.out.write(name + std::string(1, '\0')); return true;
    case K::Prune: m_prune = true; return true;
    case K::Quit: throw Quit{};
    case K::Exec: {
        std::vector<std::string> argv;
        for (const std::string& w : e.argv) argv.push_back(replace_all(w, "{}", name));
        const std::optional<int> st = spawn(m_ctx, argv);
        if (!st) m_ctx.perror(argv[0], ENOENT);
        return st && *st == 0;
    }
    case K::ExecPlus:
        e.plus_names.push_back(name);
        return true;
    }
    return false;
}

// The gathered names in place of "{}" (its own word), one run at the end.
void Find::run_exec_plus(Expr& e)
{
    if (e.plus_names.empty()) return;
    std::vector<std::string> argv;
    for (const std::string& w : e.argv) {
        if (w == "{}")
            argv.insert(argv.end(), e.plus_names.begin(), e.plus_names.end());
        else
            argv.push_back(w);
    }
    e.plus_names.clear();
    const std::optional<int> st = spawn(m_ctx, argv);
    if (!st) m_ctx.perror(argv[0], ENOENT);
    if (!st || *st) m_status = 1;
}

bool Find::act(const std::string& name, views::NodeKind kind, int depth)
{
    if (depth < m_mindepth) return true;
    if (depth > m_maxdepth) return false;
    m_prune = false;
    if (eval(*m_expr, name, kind) && m_need_print) m_ctx.out.write(name + "\n");
    if (kind == views::NodeKind::Dir && depth == m_maxdepth) return false;
    return !m_prune;
}

// recursive_action(): false after an error (reported here).
bool Find::walk(const std::string& name, int depth)
{
    if (m_ctx.out.full()) throw Quit{true};  // `find -L` in sysfs can go on for ever
    Shell& sh = m_ctx.shell;
    const std::string path = sh.resolve(name);
    const bool follow = m_follow || (depth == 0 && m_follow_top);
    auto kind = sh.fs().stat(path, follow);
    // -L: a dangling link is a link.
    if (!kind && follow && kind.error().err == ENOENT) kind = sh.fs().stat(path, false);
    if (!kind) {
        m_ctx.perror(name, kind.error().err);
        return false;
    }
    if (*kind != views::NodeKind::Dir) {
        act(name, *kind, depth);
        return true;
    }
    if (!m_depth_first && !act(name, *kind, depth)) return true;
    auto names = sh.fs().list(path);
    if (!names) {
        m_ctx.perror(name, names.error().err);
        return false;
    }
    bool ok = true;
    for (const std::string& n : *names) {
        if (n == "." || n == "..") continue;
        ok &= walk(name.ends_with('/') ? name + n : name + "/" + n, depth + 1);
    }
    if (m_depth_first) act(name, *kind, depth);
    return ok;
}

int Find::run()
{
    m_args.assign(m_ctx.args.begin() + 1, m_ctx.args.end());
    size_t i = 0;
    // -H and -L before the paths.
    for (; i < m_args.size() && (m_args[i] == "-L" || m_args[i] == "-H"); ++i) (m_args[i] == "-L" ? m_follow : m_follow_top) = true;
    std::vector<std::string> paths;
    for (; i < m_args.size() && m_args[i][0] != '-' && m_args[i] != "!" && m_args[i] != "("; ++i) paths.push_back(m_args[i]);
    if (paths.empty()) paths.push_back(".");
    if (!parse(i)) return 1;
    try {
        for (const std::string& p : paths)
            if (!walk(p, 0)) m_status = 1;
    } catch (const Quit& q) {
        if (!q.console_full) return 0;
    }
    for (Expr* e : m_plus) run_exec_plus(*e);
    return m_status;
}

}  // namespace

int applet_find(Ctx& ctx)
{
    Find find(ctx);
    return find.run();
}

// xargs: words of stdin (blanks separate, quotes and backslashes as busybox's
// FEATURE_XARGS_SUPPORT_QUOTES has them; -0: NUL-terminated), appended to the
// command (echo by default), -n at a time. 123 when a run fails, 127 when the
// program is missing.
int applet_xargs(Ctx& ctx)
{
    // -x, -s and -P change nothing for the short lists a guest shell passes.
    auto opts = get_options(ctx, "+0rtxn:s:P:I:");
    if (!opts) return 1;
    std::vector<std::string> cmd = opts->operands;
    if (cmd.empty()) cmd.push_back("echo");
    size_t per_run = SIZE_MAX;
    if (const std::string* n = opts->last('n')) {
        char* end = nullptr;
        const long v = std::strtol(n->c_str(), &end, 10);
        if (n->empty() || *end || v <= 0) {
            ctx.error(fmt::format("invalid number '{}'", *n));
            return 1;
        }
        per_run = size_t(v);
    }
    const std::string input = ctx.in.take();
    std::vector<std::string> words;
    const std::string* repl = opts->last('I');
    if (repl) {
        // -I STR: a run per input line, STR replaced in every argument (blanks kept).
        for (std::string_view line : split_lines(input)) {
            while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
            if (!line.empty()) words.emplace_back(line);
        }
        per_run = 1;
    } else if (opts->has('0')) {
        for (size_t from = 0; from < input.size();) {
            size_t end = input.find('\0', from);
            if (end == std::string::npos) end = input.size();
            words.push_back(input.substr(from, end - from));
            from = end + 1;
        }
    } else {
        std::string word;
        bool in_word = false;
        char quote = 0;
        for (size_t p = 0; p < input.size(); ++p) {
            const char c = input[p];
            if (quote) {
                if (c == quote) quote = 0;
                else if (c == '\n') {
                    ctx.error(fmt::format("unmatched {} quote", quote == '"' ? "double" : "single"));
                    return 1;
                } else word += c;
            } else if (c == '\'' || c == '"') {
                quote = c;
                in_word = true;
            } else if (c == '\\' && p + 1 < input.size()) {
                word += input[++p];
                in_word = true;
            } else if (c == ' ' || c == '\t' || c == '\n') {
                if (in_word) words.push_back(std::move(word));
                word.clear();
                in_word = false;
            } else {
                word += c;
                in_word = true;
            }
        }
        if (quote) {
            ctx.error(fmt::format("unmatched {} quote", quote == '"' ? "double" : "single"));
            return 1;
        }
        if (in_word) words.push_back(std::move(word));
    }
    if (words.empty() && opts->has('r')) return 0;
    int status = 0;
    size_t next = 0;
    do {
        std::vector<std::string> argv = cmd;
        const size_t take = std::min(per_run, words.size() - next);
        if (repl && take) {
            for (std::string& a : argv) a = replace_all(a, *repl, words[next]);
        } else {
            argv.insert(argv.end(), words.begin() + long(next), words.begin() + long(next + take));
        }
        next += take;
        if (opts->has('t')) {
            std::string line;
            for (const std::string& a : argv) line += a + " ";
            line.back() = '\n';
            ctx.err.write(line);
        }
        const std::optional<int> st = spawn(ctx, argv);
        if (!st) {
            ctx.perror(argv[0], ENOENT);
            return 127;
        }
        if (*st == 255) {
            ctx.error(fmt::format("{}: exited with status 255; aborting", argv[0]));
            return 124;
        }
        if (*st) status = 123;
    } while (next < words.size());
    return status;
}

}  // namespace memplug::shell::sh
