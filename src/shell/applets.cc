// The command table (ash builtins and busybox applets, one uniform signature),
// what every applet shares (options, messages, reading files), and the small
// commands: echo, cd, pwd, export, basename, readlink, seq, sh, ...
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "shell/internal.h"

namespace memplug::shell::sh {

std::string errno_text(int err)
{
    return std::strerror(err);
}

// ---- Ctx ----

std::string_view Ctx::prog() const
{
    return applet.kind == AppletKind::Applet ? applet.name : "sh";
}

void Ctx::error(std::string_view msg)
{
    // bb_error_msg() flushes stdout first: the order on the console is kept.
    out.flush();
    err.write(fmt::format("{}: {}\n", prog(), msg));
    err.flush();
}

void Ctx::perror(std::string_view what, int errnum)
{
    error(fmt::format("{}: {}", what, errno_text(errnum)));
}

int Ctx::usage(int status)
{
    err.write(usage_header());
    err.write(applet_usage(applet.name));
    err.flush();
    return status;
}

bool Ctx::flush_out()
{
    int e = out.flush();
    if (e == 0)
        return true;
    switch (applet.on_write_failure) {
    case WriteFailure::WriteError:
        error(fmt::format("write error: {}", errno_text(e)));
        break;
    case WriteFailure::StdoutError:
        error(fmt::format("standard output: {}", errno_text(e)));
        break;
    case WriteFailure::StdoutIoError:
        error("standard output: I/O error");
        break;
    case WriteFailure::Silent:
    case WriteFailure::Ignore:
        break;
    }
    return false;
}

Ctx::File Ctx::read_file(std::string_view operand, std::optional<uint64_t> limit)
{
    File f;
    if (operand == "-") {
        f.data = in.take();
        f.read_error = in.error;
        return f;
    }
    KResult<std::string> r = limit ? shell.fs().read_range(shell.resolve(operand), 0, *limit) : shell.read_path(operand);
    if (r) {
        f.data = std::move(*r);
        return f;
    }
    int e = r.error().err;
    (is_open_error(e) ? f.open_error : f.read_error) = e;
    return f;
}

// ---- options ----

const std::string* Options::last(char c) const
{
    auto it = values.find(c);
    return it == values.end() || it->second.empty() ? nullptr : &it->second.back();
}

std::optional<Options> get_options(Ctx& ctx, std::string_view spec, int usage_status)
{
    bool permute = true;
    if (!spec.empty() && spec[0] == '+') {
        permute = false;
        spec.remove_prefix(1);
    }
    Options o;
    bool operands_only = false;
    for (size_t i = 1; i < ctx.args.size(); ++i) {
        const std::string& a = ctx.args[i];
        if (operands_only || a.size() < 2 || a[0] != '-') {
            o.operands.push_back(a);
            if (!permute)
                operands_only = true;
            continue;
        }
        if (a == "--") {
            operands_only = true;
            continue;
        }
        if (a[1] == '-') {
            ctx.error(fmt::format("unrecognized option '{}'", a));
            ctx.usage(usage_status);
            return std::nullopt;
        }
        for (size_t j = 1; j < a.size(); ++j) {
            char c = a[j];
            size_t pos = c == ':' ? std::string_view::npos : spec.find(c);
            if (pos == std::string_view::npos) {
                ctx.error(fmt::format("invalid option -- '{}'", c));
                ctx.usage(usage_status);
                return std::nullopt;
            }
            o.seen += c;
            if (pos + 1 < spec.size() && spec[pos + 1] == ':') {
                if (j + 1 < a.size()) {
                    o.values[c].push_back(a.substr(j + 1));
                } else if (i + 1 < ctx.args.size()) {
                    o.values[c].push_back(ctx.args[++i]);
                } else {
                    ctx.error(fmt::format("option requires an argument -- '{}'", c));
                    ctx.usage(usage_status);
                    return std::nullopt;
                }
                break;
            }
        }
    }
    return o;
}

char process_escape(const char*& ptr)
{
    const char* q = ptr;
    unsigned num_digits = 0, n = 0, base = 8;
    if (*q == 'x') {
        ++q;
        base = 16;
        ++num_digits;
    }
    do {
        unsigned d = static_cast<unsigned>(static_cast<unsigned char>(*q)) - '0';
        if (d >= 10) {
            d = static_cast<unsigned>(static_cast<unsigned char>(*q | 0x20)) - 'a';
            if (static_cast<int>(d) >= 0)
                d += 10;
        }
        if (d >= base) {
            if (base == 16) {
                --num_digits;
                if (num_digits == 0)
                    return '\\';  // "\x" then a non-digit: a backslash, x read next
            }
            break;
        }
        unsigned r = n * base + d;
        if (r > 255)
            break;
        n = r;
        ++q;
    } while (++num_digits < 3);
    if (num_digits == 0) {
        static constexpr char k_from[] = {'a', 'b', 'e', 'f', 'n', 'r', 't', 'v', '\\'};
        static constexpr char k_to[] = {'\a', '\b', 27, '\f', '\n', '\r', '\t', '\v', '\\'};
        n = '\\';  // "\z": a backslash, z read next
        for (size_t i = 0; i < sizeof(k_from); ++i) {
            if (*q == k_from[i]) {
                ++q;
                n = static_cast<unsigned char>(k_to[i]);
                break;
            }
        }
    }
    ptr = q;
    return static_cast<char>(n);
}

namespace {

// ---- ash builtins ----

int builtin_true(Ctx&) { return 0; }
int builtin_false(Ctx&) { return 1; }

// coreutils/echo.c, as ash runs it: options only while every letter is n, e or E
// (and -E, as there, undoes nothing).
int builtin_echo(Ctx& ctx)
{
    bool newline = true, escapes = false;
    size_t i = 1;
    for (; i < ctx.args.size(); ++i) {
        const std::string& a = ctx.args[i];
        if (a.size() < 2 || a[0] != '-' ||
            a.find_first_not_of("neE", 1) != std::string::npos)
            break;
        for (char c : std::string_view(a).substr(1)) {
            if (c == 'n')
                newline = false;
            else if (c == 'e')
                escapes = true;
        }
    }
    std::string buf;
    for (size_t first = i; i < ctx.args.size(); ++i) {
        if (i > first)
            buf += ' ';
        const std::string& a = ctx.args[i];
        if (!escapes) {
            buf += a;
            continue;
        }
        const char* p = a.c_str();
        while (char c = *p++) {
            if (c == '\\') {
                if (*p == 'c') {  // "\c": no newline, nothing more
                    ctx.out.write(buf);
                    return 0;
                }
                if (*p == '0' && p[1] >= '0' && p[1] <= '7')
                    ++p;  // "\0NNN"
                c = process_escape(p);
            }
            buf += c;
        }
    }
    if (newline)
        buf += '\n';
    ctx.out.write(buf);
    return 0;
}

int builtin_cd(Ctx& ctx)
{
    Shell& sh = ctx.shell;
    std::string dest;
    bool print = false;
    size_t i = 1;
    while (i < ctx.args.size() && (ctx.args[i] == "-L" || ctx.args[i] == "-P"))
        ++i;
    if (i < ctx.args.size() && ctx.args[i] == "--")
        ++i;
    if (i >= ctx.args.size()) {
        dest = sh.get_var("HOME").value_or("");
        if (dest.empty())
            return 0;  // ash: no HOME, nothing to do
    } else if (ctx.args[i] == "-") {
        dest = sh.get_var("OLDPWD").value_or(sh.cwd());
        print = true;
    } else {
        dest = ctx.args[i];
        if (dest.empty())
            return 0;
    }
    std::string path = sh.resolve(dest);
    KResult<views::NodeKind> kind = sh.fs().stat(path, true);
    int e = !kind ? kind.error().err : *kind != views::NodeKind::Dir ? ENOTDIR : 0;
    if (e) {
        sh.builtin_error(ctx.err, "cd", fmt::format("can't cd to {}: {}", dest, errno_text(e)));
        return 2;
    }
    sh.set_var("OLDPWD", sh.cwd());
    sh.set_cwd(path);
    sh.set_var("PWD", path);
    if (print)
        ctx.out.write(path + "\n");
    return 0;
}

// The physical path: symlinks followed (pwd -P, readlink -f). nullopt if some
// component is missing.
std::optional<std::string> real_path(Shell& sh, std::string_view path)
{
    std::vector<std::string> todo;  // components still to walk, in reverse
    auto push_components = [&](std::string_view p) {
        std::vector<std::string> comps;
        size_t start = 0;
        while (start <= p.size()) {
            size_t slash = p.find('/', start);
            if (slash == std::string_view::npos)
                slash = p.size();
            if (slash > start)
                comps.emplace_back(p.substr(start, slash - start));
            start = slash + 1;
        }
        for (auto it = comps.rbegin(); it != comps.rend(); ++it)
            todo.push_back(*it);
    };
    std::string cur;  // "" is "/"
    // ".." is resolved after the links before it, not textually.
    push_components(!path.empty() && path[0] == '/' ? std::string(path) : sh.cwd() + "/" + std::string(path));
    int links = 0;
    while (!todo.empty()) {
        std::string comp = std::move(todo.back());
        todo.pop_back();
        if (comp == ".")
            continue;
        if (comp == "..") {
            cur.resize(cur.empty() ? 0 : cur.rfind('/'));
            continue;
        }
        std::string next = cur + "/" + comp;
        KResult<views::NodeKind> kind = sh.fs().stat(next, false);
        if (!kind)
            return std::nullopt;
        if (*kind == views::NodeKind::Symlink) {
            KResult<std::string> target = sh.fs().readlink(next);
            if (!target || ++links > 40)
                return std::nullopt;
            if (!target->empty() && (*target)[0] == '/')
                cur.clear();
            push_components(*target);
            continue;
        }
        cur = std::move(next);
    }
    return cur.empty() ? "/" : cur;
}

int builtin_pwd(Ctx& ctx)
{
    bool physical = std::find(ctx.args.begin() + 1, ctx.args.end(), "-P") != ctx.args.end();
    std::string dir = ctx.shell.cwd();
    if (physical)
        dir = real_path(ctx.shell, dir).value_or(dir);
    ctx.out.write(dir + "\n");
    return 0;
}

// ash's single-quoting for `export -p` and `set`.
std::string shell_quote(std::string_view v)
{
    std::string out = "'";
    for (char c : v) {
        if (c == '\'')
            out += "'\"'\"'";
        else
            out += c;
    }
    return out + "'";
}

int builtin_export(Ctx& ctx)
{
    Shell& sh = ctx.shell;
    size_t i = 1;
    if (i < ctx.args.size() && ctx.args[i] == "-p")
        ++i;
    if (i >= ctx.args.size()) {
        for (const auto& [name, value] : sh.exported_vars())
            ctx.out.write(value ? fmt::format("export {}={}\n", name, shell_quote(*value))
                                : fmt::format("export {}\n", name));
        return 0;
    }
    for (; i < ctx.args.size(); ++i) {
        const std::string& a = ctx.args[i];
        size_t eq = a.find('=');
        std::string name = a.substr(0, eq);
        if (!is_name(name)) {
            sh.builtin_error(ctx.err, "export", fmt::format("{}: bad variable name", name));
            return 2;
        }
        if (eq != std::string::npos)
            sh.set_var(name, a.substr(eq + 1), true);
        else
            sh.export_var(name);
    }
    return 0;
}

// `local NAME[=VALUE]...`, only inside a function.
int builtin_local(Ctx& ctx)
{
    for (size_t i = 1; i < ctx.args.size(); ++i) {
        const std::string& a = ctx.args[i];
        size_t eq = a.find('=');
        std::string name = a.substr(0, eq);
        if (!is_name(name)) {
            ctx.shell.builtin_error(ctx.err, "local", fmt::format("{}: bad variable name", name));
            throw Abort{2};
        }
        std::optional<std::string> value;
        if (eq != std::string::npos)
            value = a.substr(eq + 1);
        if (!ctx.shell.make_local(name, std::move(value))) {
            ctx.shell.builtin_error(ctx.err, "local", "not in a function");
            throw Abort{2};
        }
    }
    return 0;
}

int builtin_readonly(Ctx& ctx)
{
    Shell& sh = ctx.shell;
    size_t i = 1;
    if (i < ctx.args.size() && ctx.args[i] == "-p")
        ++i;
    if (i >= ctx.args.size()) {
        for (const auto& [name, value] : sh.readonly_vars())
            ctx.out.write(fmt::format("readonly {}={}\n", name, shell_quote(value)));
        return 0;
    }
    for (; i < ctx.args.size(); ++i) {
        const std::string& a = ctx.args[i];
        size_t eq = a.find('=');
        std::string name = a.substr(0, eq);
        if (eq != std::string::npos)
            sh.set_var(name, a.substr(eq + 1));
        sh.set_readonly(name);
    }
    return 0;
}

// trap: signals never reach the model's commands; accepted and ignored.
int builtin_trap(Ctx&) { return 0; }

int builtin_umask(Ctx& ctx)
{
    static unsigned mask = 022;  // the guest's init leaves root's default
    if (ctx.args.size() < 2) {
        ctx.out.write(fmt::format("{:04o}\n", mask));
        return 0;
    }
    char* end = nullptr;
    unsigned long v = std::strtoul(ctx.args[1].c_str(), &end, 8);
    if (*end || v > 0777) {
        ctx.shell.builtin_error(ctx.err, "umask", fmt::format("Illegal mode: {}", ctx.args[1]));
        throw Abort{2};
    }
    mask = static_cast<unsigned>(v);
    return 0;
}

int builtin_unset(Ctx& ctx)
{
    for (size_t i = 1; i < ctx.args.size(); ++i) {
        const std::string& name = ctx.args[i];
        if (name == "-v" || name == "-f")
            continue;
        if (ctx.shell.is_readonly(name)) {
            ctx.shell.builtin_error(ctx.err, "unset", fmt::format("{}: is read only", name));
            throw Abort{2};
        }
        ctx.shell.unset_var(name);
    }
    return 0;
}

// `set -- ARGS` sets the positional parameters; `set` alone is not modelled.
int builtin_set(Ctx& ctx)
{
    auto dashdash = std::find(ctx.args.begin() + 1, ctx.args.end(), "--");
    if (dashdash != ctx.args.end()) {
        ctx.shell.positional().assign(dashdash + 1, ctx.args.end());
    } else if (ctx.args.size() > 1 && ctx.args[1][0] != '-' && ctx.args[1][0] != '+') {
        ctx.shell.positional().assign(ctx.args.begin() + 1, ctx.args.end());
    }
    return 0;
}

int builtin_shift(Ctx& ctx)
{
    auto& params = ctx.shell.positional();
    size_t n = 1;
    if (ctx.args.size() > 1) {
        char* end = nullptr;
        n = std::strtoul(ctx.args[1].c_str(), &end, 10);
        if (*end || ctx.args[1].empty()) {
            ctx.shell.builtin_error(ctx.err, "shift", fmt::format("Illegal number: {}", ctx.args[1]));
            throw Abort{2};
        }
    }
    if (n > params.size())
        return 1;  // ash: quietly
    params.erase(params.begin(), params.begin() + static_cast<std::ptrdiff_t>(n));
    return 0;
}

int status_arg(Ctx& ctx, int fallback)
{
    if (ctx.args.size() < 2)
        return fallback;
    char* end = nullptr;
    long v = std::strtol(ctx.args[1].c_str(), &end, 10);
    if (*end || ctx.args[1].empty()) {
        ctx.shell.builtin_error(ctx.err, ctx.args[0], fmt::format("Illegal number: {}", ctx.args[1]));
        throw Abort{2};
    }
    return static_cast<int>(v & 0xff);
}

int builtin_exit(Ctx& ctx) { throw ExitRequest{status_arg(ctx, ctx.shell.status())}; }

int builtin_return(Ctx& ctx)
{
    int st = status_arg(ctx, ctx.shell.status());
    if (!ctx.shell.in_function())
        return st;
    throw FunctionReturn{st};
}

int loop_control(Ctx& ctx, bool is_break)
{
    int n = 1;
    if (ctx.args.size() > 1) {
        char* end = nullptr;
        long v = std::strtol(ctx.args[1].c_str(), &end, 10);
        if (*end || v <= 0) {
            ctx.shell.builtin_error(ctx.err, ctx.args[0], fmt::format("Illegal number: {}", ctx.args[1]));
            throw Abort{2};
        }
        n = static_cast<int>(std::min<long>(v, 1 << 20));
    }
    n = std::min(n, ctx.shell.loop_depth());
    if (n == 0)
        return 0;  // outside a loop: nothing
    throw LoopControl{is_break, n};
}
int builtin_break(Ctx& ctx) { return loop_control(ctx, true); }
int builtin_continue(Ctx& ctx) { return loop_control(ctx, false); }

std::string join_args(const std::vector<std::string>& args, size_t from)
{
    std::string text;
    for (size_t i = from; i < args.size(); ++i)
        text += (i > from ? " " : "") + args[i];
    return text;
}

int builtin_eval(Ctx& ctx)
{
    return ctx.shell.eval_text(join_args(ctx.args, 1) + "\n", ctx.io);
}

int builtin_dot(Ctx& ctx)
{
    if (ctx.args.size() < 2)
        return 0;
    KResult<std::string> text = ctx.shell.read_path(ctx.args[1]);
    if (!text) {
        ctx.shell.builtin_error(ctx.err, ctx.args[0],
                                fmt::format("can't open '{}': {}", ctx.args[1], errno_text(text.error().err)));
        throw Abort{2};
    }
    return ctx.shell.eval_text(*text, ctx.io);
}

// `exec CMD` runs CMD; the guest's console shell is not replaced in the model.
int builtin_exec(Ctx& ctx)
{
    if (ctx.args.size() < 2)
        return 0;
    return ctx.shell.run_args(std::vector<std::string>(ctx.args.begin() + 1, ctx.args.end()), ctx.io);
}

int builtin_command(Ctx& ctx)
{
    size_t i = 1;
    while (i < ctx.args.size() && ctx.args[i] == "-p")
        ++i;
    if (i >= ctx.args.size())
        return 0;
    return ctx.shell.run_args(std::vector<std::string>(ctx.args.begin() + static_cast<std::ptrdiff_t>(i), ctx.args.end()),
                              ctx.io);
}

int builtin_type(Ctx& ctx)
{
    int st = 0;
    for (size_t i = 1; i < ctx.args.size(); ++i) {
        const std::string& name = ctx.args[i];
        const AppletInfo* a = find_applet(name);
        if (is_keyword(name)) {
            ctx.out.write(fmt::format("{} is a shell keyword\n", name));
        } else if (a && a->kind == AppletKind::Special) {
            ctx.out.write(fmt::format("{} is a special shell builtin\n", name));
        } else if (ctx.shell.has_function(name)) {
            ctx.out.write(fmt::format("{} is a function\n", name));
        } else if (a && a->kind == AppletKind::Builtin) {
            ctx.out.write(fmt::format("{} is a shell builtin\n", name));
        } else if (a) {
            ctx.out.write(fmt::format("{} is {}\n", name, name));
        } else {
            ctx.out.write(fmt::format("{}: not found\n", name));
            st = 127;
        }
    }
    return st;
}

// `read [-r] VAR...`: one line of stdin split on IFS.
int builtin_read(Ctx& ctx)
{
    bool raw = false;
    std::vector<std::string> names;
    for (size_t i = 1; i < ctx.args.size(); ++i) {
        if (ctx.args[i] == "-r")
            raw = true;
        else
            names.push_back(ctx.args[i]);
    }
    if (names.empty())
        names.push_back("REPLY");
    bool terminated = false;
    std::optional<std::string> line = ctx.in.read_line(&terminated);
    std::string text = line.value_or("");
    if (!raw) {
        std::string unescaped;
        for (size_t i = 0; i < text.size(); ++i)
            unescaped += text[i] == '\\' && i + 1 < text.size() ? text[++i] : text[i];
        text = std::move(unescaped);
    }
    std::string ifs = ctx.shell.get_var("IFS").value_or(" \t\n");
    auto is_ifs = [&](char c) { return ifs.find(c) != std::string::npos; };
    size_t pos = 0;
    for (size_t n = 0; n < names.size(); ++n) {
        while (pos < text.size() && is_ifs(text[pos]) && std::isspace(static_cast<unsigned char>(text[pos])))
            ++pos;
        std::string value;
        if (n + 1 == names.size()) {
            value = text.substr(std::min(pos, text.size()));
            while (!value.empty() && is_ifs(value.back()) &&
                   std::isspace(static_cast<unsigned char>(value.back())))
                value.pop_back();
        } else {
            size_t end = pos;
            while (end < text.size() && !is_ifs(text[end]))
                ++end;
            value = text.substr(pos, end - pos);
            pos = end < text.size() ? end + 1 : end;
        }
        ctx.shell.set_var(names[n], value);
    }
    return terminated ? 0 : 1;  // EOF before a newline fails, what was read is kept
}

// ---- small applets ----

int applet_noop(Ctx&) { return 0; }

// sleep: checks its operands, does not wait (a model has no wall clock to spend).
int applet_sleep(Ctx& ctx)
{
    if (ctx.args.size() < 2)
        return ctx.usage();
    for (size_t i = 1; i < ctx.args.size(); ++i) {
        const std::string& a = ctx.args[i];
        char* end = nullptr;
        std::strtod(a.c_str(), &end);
        std::string_view suffix = end;
        if (a.empty() || end == a.c_str() || (suffix != "" && suffix != "s" && suffix != "m" &&
                                              suffix != "h" && suffix != "d")) {
            ctx.error(fmt::format("invalid number '{}'", a));
            return 1;
        }
    }
    return 0;
}

// bb_get_last_path_component_strip().
std::string last_component(std::string s)
{
    while (s.size() > 1 && s.back() == '/')
        s.pop_back();
    size_t slash = s.rfind('/');
    if (slash == std::string::npos || s == "/")
        return s;
    return s.substr(slash + 1);
}

int applet_basename(Ctx& ctx)
{
    auto opts = get_options(ctx, "+as:");
    if (!opts)
        return 1;
    if (opts->operands.empty())
        return ctx.usage();
    bool all = opts->has('a') || opts->has('s');
    const std::string* suffix = opts->last('s');
    const auto& ops = opts->operands;
    if (!all && ops.size() > 2)
        return ctx.usage();
    for (size_t i = 0; i < ops.size(); ++i) {
        std::string s = last_component(ops[i]);
        std::string suf = all ? (suffix ? *suffix : "") : (ops.size() == 2 ? ops[1] : "");
        if (s.size() > suf.size() && !suf.empty() && s.ends_with(suf))
            s.resize(s.size() - suf.size());
        ctx.out.write(s + "\n");
        if (!all)
            break;
    }
    return 0;
}

// glibc's dirname(3), "//" special case included.
std::string glibc_dirname(std::string path)
{
    size_t last = path.rfind('/');
    if (last != std::string::npos && last != 0 && last + 1 == path.size()) {
        size_t run = last;
        while (run > 0 && path[run - 1] == '/')
            --run;
        if (run != 0)
            last = path.rfind('/', run - 1);
    }
    if (last == std::string::npos)
        return ".";
    size_t run = last;
    while (run > 0 && path[run - 1] == '/')
        --run;
    if (run == 0)
        return last == 1 ? "//" : "/";
    return path.substr(0, run);
}

int applet_dirname(Ctx& ctx)
{
    auto opts = get_options(ctx, "");
    if (!opts)
        return 1;
    if (opts->operands.size() != 1)
        return ctx.usage();
    ctx.out.write(glibc_dirname(opts->operands[0]) + "\n");
    return 0;
}

int applet_readlink(Ctx& ctx)
{
    auto opts = get_options(ctx, "fnvsq");
    if (!opts)
        return 1;
    if (opts->operands.size() != 1)
        return ctx.usage();
    const std::string& name = opts->operands[0];
    std::optional<std::string> result;
    if (opts->has('f')) {
        result = real_path(ctx.shell, name);
        if (!result) {
            // coreutils compat: a missing last component under an existing directory.
            std::string full = name;
            while (full.size() > 1 && full.back() == '/')
                full.pop_back();
            size_t slash = full.rfind('/');
            if (slash == 0) {
                result = full;
            } else if (slash != std::string::npos) {
                std::optional<std::string> dir = real_path(ctx.shell, full.substr(0, slash));
                if (dir)
                    result = (*dir == "/" ? "" : *dir) + full.substr(slash);
            }
        }
    } else {
        KResult<std::string> target = ctx.shell.fs().readlink(ctx.shell.resolve(name));
        if (target)
            result = *target;
        else if (opts->has('v'))
            ctx.perror(name, target.error().err);
    }
    if (!result)
        return 1;
    ctx.out.write(opts->has('n') ? *result : *result + "\n");
    return 0;
}

int applet_seq(Ctx& ctx)
{
    auto opts = get_options(ctx, "+ws:");
    if (!opts)
        return 1;
    const auto& ops = opts->operands;
    if (ops.empty() || ops.size() > 3)
        return ctx.usage();
    auto parse = [](const std::string& s, double& v) {
        char* end = nullptr;
        v = std::strtod(s.c_str(), &end);
        return !s.empty() && *end == '\0';
    };
    double first = 1, increment = 1, last = 0;
    if (!parse(ops.back(), last) || (ops.size() >= 2 && !parse(ops[0], first)) ||
        (ops.size() == 3 && !parse(ops[1], increment)))
        return ctx.usage();
    // Width and decimals from the operands, as coreutils-6.10.
    unsigned width = 0, frac = 0;
    for (size_t i = 0; i < ops.size(); ++i) {
        size_t dot = ops[i].find('.');
        unsigned w = static_cast<unsigned>(dot == std::string::npos ? ops[i].size() : dot);
        unsigned f = dot == std::string::npos ? 0 : static_cast<unsigned>(ops[i].size() - dot);
        width = std::max(width, w);
        if (i + 1 < ops.size())
            frac = std::max(frac, f);
    }
    if (frac) {
        --frac;
        if (frac)
            width += frac + 1;
    }
    if (!opts->has('w'))
        width = 0;
    std::string sep = opts->last('s') ? *opts->last('s') : "\n";
    std::string out;
    double v = first;
    uint64_t n = 0;
    while (increment >= 0 ? v <= last : v >= last) {
        if (n)
            out += sep;
        out += fmt::format("{:0{}.{}f}", v, width, frac);
        ++n;
        v = first + static_cast<double>(n) * increment;
        if (out.size() > (size_t{1} << 20)) {
            ctx.out.write(out);
            out.clear();
            if (ctx.out.full())
                break;  // seq 1 0 1 never ends; the console keeps no more anyway
        }
    }
    if (n)
        out += '\n';
    ctx.out.write(out);
    return 0;
}

// `sh -c TEXT [ARG0 ARGS]` and `sh FILE [ARGS]`.
int applet_sh(Ctx& ctx)
{
    const auto& args = ctx.args;
    size_t i = 1;
    while (i < args.size() && (args[i] == "-i" || args[i] == "-l" || args[i] == "-s"))
        ++i;
    if (i < args.size() && args[i] == "-c") {
        if (i + 1 >= args.size()) {
            ctx.error("-c requires an argument");
            return 2;
        }
        std::vector<std::string> params;
        if (i + 3 <= args.size())
            params.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 3, args.end());
        std::string arg0 = i + 2 < args.size() ? args[i + 2] : "sh";
        return ctx.shell.run_child(args[i + 1] + "\n", ctx.io, std::move(arg0), std::move(params));
    }
    if (i >= args.size())
        return ctx.shell.run_child(ctx.in.take(), ctx.io, "sh", {});  // commands from stdin
    KResult<std::string> text = ctx.shell.read_path(args[i]);
    if (!text) {
        ctx.error(fmt::format("can't open '{}': {}", args[i], errno_text(text.error().err)));
        return 2;
    }
    return ctx.shell.run_child(*text, ctx.io, args[i],
                               std::vector<std::string>(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end()));
}

// dmesg (busybox 1.35, getopt "cs:+n:+r"): the kernel log through syslog(2), the
// "<level>" prefixes dropped unless -r; -c clears what it read, -n sets the
// console level and prints nothing. The buffer is -s SIZE or the log's size,
// kept within 16 KiB..16 MiB; the kernel fills it with the newest whole records.
int applet_dmesg(Ctx& ctx)
{
    auto opts = get_options(ctx, "cs:n:r");
    if (!opts) return 1;
    // "+": xatoi_positive, a decimal int.
    for (char c : {'s', 'n'})
        for (const std::string& v : opts->values[c])
            if (v.empty() || v.size() > 10 || v.find_first_not_of("0123456789") != std::string::npos ||
                std::stoull(v) > uint64_t(INT32_MAX)) {
                ctx.error(fmt::format("invalid number '{}'", v));
                return 1;
            }
    using Action = views::Vfs::SyslogAction;
    if (opts->has('n')) {
        const int level = int(std::stoull(*opts->last('n')));
        if (auto r = ctx.shell.fs().syslog(Action::ConsoleLevel, level); !r) {
            ctx.perror("klogctl", r.error().err);
            return 1;
        }
        return 0;
    }
    auto text = ctx.shell.fs().syslog(opts->has('c') ? Action::ReadClear : Action::ReadAll);
    if (!text) {
        ctx.perror("klogctl", text.error().err);
        return 1;
    }
    uint64_t len = 256 * 1024;  // SYSLOG_ACTION_SIZE_BUFFER: log_buf_len
    if (const std::string* size = opts->last('s')) len = std::strtoull(size->c_str(), nullptr, 10);
    len = std::clamp<uint64_t>(len, 16 * 1024, 16 * 1024 * 1024);
    std::string_view buf = *text;
    while (buf.size() > len) buf.remove_prefix(std::min(buf.size(), buf.find('\n') + 1));
    if (buf.empty()) return 0;
    std::string out;
    if (opts->has('r')) {
        out = buf;
    } else {
        for (std::string_view line : split_lines(buf)) {
            if (line.starts_with('<')) line.remove_prefix(std::min(line.size(), line.find('>') + 1));
            out.append(line);
            out += '\n';
        }
    }
    if (out.back() != '\n') out += '\n';
    ctx.out.write(out);
    return 0;
}

constexpr AppletInfo k_applets[] = {
    // ash special builtins
    {".", builtin_dot, AppletKind::Special, WriteFailure::Ignore},
    {":", builtin_true, AppletKind::Special, WriteFailure::Ignore},
    {"break", builtin_break, AppletKind::Special, WriteFailure::Ignore},
    {"continue", builtin_continue, AppletKind::Special, WriteFailure::Ignore},
    {"eval", builtin_eval, AppletKind::Special, WriteFailure::Ignore},
    {"exec", builtin_exec, AppletKind::Special, WriteFailure::Ignore},
    {"exit", builtin_exit, AppletKind::Special, WriteFailure::Ignore},
    {"export", builtin_export, AppletKind::Special, WriteFailure::Ignore},
    {"local", builtin_local, AppletKind::Special, WriteFailure::Ignore},
    {"readonly", builtin_readonly, AppletKind::Special, WriteFailure::Ignore},
    {"return", builtin_return, AppletKind::Special, WriteFailure::Ignore},
    {"set", builtin_set, AppletKind::Special, WriteFailure::Ignore},
    {"shift", builtin_shift, AppletKind::Special, WriteFailure::Ignore},
    {"source", builtin_dot, AppletKind::Special, WriteFailure::Ignore},
    {"trap", builtin_trap, AppletKind::Special, WriteFailure::Ignore},
    {"unset", builtin_unset, AppletKind::Special, WriteFailure::Ignore},
    // ash builtins
    {"[", builtin_test, AppletKind::Builtin, WriteFailure::Ignore},
    {"[[", builtin_test, AppletKind::Builtin, WriteFailure::Ignore},
    {"cd", builtin_cd, AppletKind::Builtin, WriteFailure::Ignore},
    {"command", builtin_command, AppletKind::Builtin, WriteFailure::Ignore},
    {"echo", builtin_echo, AppletKind::Builtin, WriteFailure::WriteError},
    {"false", builtin_false, AppletKind::Builtin, WriteFailure::Ignore},
    {"printf", builtin_printf, AppletKind::Builtin, WriteFailure::Silent},
    {"pwd", builtin_pwd, AppletKind::Builtin, WriteFailure::Silent},
    {"read", builtin_read, AppletKind::Builtin, WriteFailure::Ignore},
    {"test", builtin_test, AppletKind::Builtin, WriteFailure::Ignore},
    {"true", builtin_true, AppletKind::Builtin, WriteFailure::Ignore},
    {"type", builtin_type, AppletKind::Builtin, WriteFailure::Ignore},
    {"umask", builtin_umask, AppletKind::Builtin, WriteFailure::Ignore},
    // busybox applets
    {"basename", applet_basename, AppletKind::Applet, WriteFailure::Silent},
    {"cat", applet_cat, AppletKind::Applet, WriteFailure::WriteError},
    {"cmp", applet_cmp, AppletKind::Applet, WriteFailure::Ignore},
    {"cp", applet_cp, AppletKind::Applet, WriteFailure::Ignore},
    {"cut", applet_cut, AppletKind::Applet, WriteFailure::Ignore},
    {"dirname", applet_dirname, AppletKind::Applet, WriteFailure::Ignore},
    {"dd", applet_dd, AppletKind::Applet, WriteFailure::Ignore},
    {"dmesg", applet_dmesg, AppletKind::Applet, WriteFailure::Ignore},
    {"find", applet_find, AppletKind::Applet, WriteFailure::Ignore},
    {"grep", applet_grep, AppletKind::Applet, WriteFailure::Ignore},
    {"head", applet_head, AppletKind::Applet, WriteFailure::StdoutIoError},
    {"ls", applet_ls, AppletKind::Applet, WriteFailure::Ignore},
    {"md5sum", applet_md5sum, AppletKind::Applet, WriteFailure::Ignore},
    {"readlink", applet_readlink, AppletKind::Applet, WriteFailure::Ignore},
    {"rm", applet_rm, AppletKind::Applet, WriteFailure::Ignore},
    {"seq", applet_seq, AppletKind::Applet, WriteFailure::Ignore},
    {"sh", applet_sh, AppletKind::Applet, WriteFailure::Ignore},
    {"sleep", applet_sleep, AppletKind::Applet, WriteFailure::Ignore},
    {"sort", applet_sort, AppletKind::Applet, WriteFailure::Ignore},
    {"sync", applet_noop, AppletKind::Applet, WriteFailure::Ignore},
    {"tail", applet_tail, AppletKind::Applet, WriteFailure::WriteError},
    {"tee", applet_tee, AppletKind::Applet, WriteFailure::Ignore},
    {"tr", applet_tr, AppletKind::Applet, WriteFailure::WriteError},
    {"truncate", applet_truncate, AppletKind::Applet, WriteFailure::Ignore},
    {"uniq", applet_uniq, AppletKind::Applet, WriteFailure::StdoutError},
    {"wc", applet_wc, AppletKind::Applet, WriteFailure::StdoutError},
    {"xargs", applet_xargs, AppletKind::Applet, WriteFailure::Ignore},
};

constexpr std::string_view k_keywords[] = {
    "!", "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then",
    "until", "while", "{", "}",
};

}  // namespace

const AppletInfo* find_applet(std::string_view name)
{
    for (const AppletInfo& a : k_applets)
        if (a.name == name)
            return &a;
    return nullptr;
}

bool is_keyword(std::string_view word)
{
    return std::find(std::begin(k_keywords), std::end(k_keywords), word) != std::end(k_keywords);
}

}  // namespace memplug::shell::sh
