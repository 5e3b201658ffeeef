// The ash builtins printf and test/[ (busybox coreutils/printf.c and test.c,
// which ash runs in-process, so their messages start "sh: ").
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fnmatch.h>
#include <regex.h>

#include <fmt/format.h>
#include <fmt/printf.h>

#include "shell/internal.h"

namespace memplug::shell::sh {

namespace {

// ---- printf ----

// libbb's bb_strtoll/bb_strtoull: digits only after an optional sign, base 0.
bool parse_integer(const std::string& s, bool is_unsigned, int64_t& out)
{
    const char* p = s.c_str();
    if (*p == '+')
        ++p;
    if (!(std::isdigit(static_cast<unsigned char>(*p)) || ((*p == '-') && !is_unsigned)))
        return false;
    char* end = nullptr;
    errno = 0;
    if (is_unsigned) {
        if (*p == '-')
            return false;
        out = static_cast<int64_t>(std::strtoull(p, &end, 0));
    } else {
        if (*p == '-' && !std::isdigit(static_cast<unsigned char>(p[1])))
            return false;
        out = std::strtoll(p, &end, 0);
    }
    return errno == 0 && *end == '\0';
}

class Printf {
public:
    explicit Printf(Ctx& ctx) : m_ctx(ctx) {}

    // One pass over the format; false when it ended early (\c or a bad directive).
    bool pass(const std::string& format, size_t& argi, bool& bad_format);
    bool conv_error() const { return m_conv_error; }

private:
    std::string next_arg(size_t& argi)
    {
        return argi < m_ctx.args.size() ? m_ctx.args[argi++] : std::string();
    }
    int64_t to_integer(std::string arg, bool is_unsigned);
    double to_double(const std::string& arg);
    bool print_esc_string(const std::string& s);

    Ctx& m_ctx;
    bool m_conv_error = false;
};

int64_t Printf::to_integer(std::string arg, bool is_unsigned)
{
    size_t ws = 0;
    while (ws < arg.size() && std::isspace(static_cast<unsigned char>(arg[ws])))
        ++ws;
    arg.erase(0, ws);
    if (!arg.empty() && (arg[0] == '"' || arg[0] == '\''))
        return arg.size() > 1 ? static_cast<unsigned char>(arg[1]) : 0;  // 'A is 65
    int64_t v = 0;
    // %x of a negative number: coreutils and bash print it as unsigned.
    if (parse_integer(arg, is_unsigned, v) || (is_unsigned && parse_integer(arg, false, v)))
        return v;
    m_ctx.error(fmt::format("invalid number '{}'", arg));
    m_conv_error = true;
    return 0;
}

double Printf::to_double(const std::string& arg)
{
    if (!arg.empty() && (arg[0] == '"' || arg[0] == '\''))
        return arg.size() > 1 ? static_cast<unsigned char>(arg[1]) : 0;
    char* end = nullptr;
    double v = std::strtod(arg.c_str(), &end);
    if (*end) {
        m_ctx.error(fmt::format("invalid number '{}'", arg));
        m_conv_error = true;
        return 0;
    }
    return v;
}

// %b: escapes in the argument; true if \c ended everything.
bool Printf::print_esc_string(const std::string& s)
{
    std::string out;
    const char* p = s.c_str();
    while (char c = *p++) {
        if (c == '\\') {
            if (*p == '0') {
                if (p[1] >= '0' && p[1] <= '7')
                    ++p;
            } else if (*p == 'c') {
                m_ctx.out.write(out);
                return true;
            }
            c = process_escape(p);
        }
        out += c;
    }
    m_ctx.out.write(out);
    return false;
}

bool Printf::pass(const std::string& format, size_t& argi, bool& bad_format)
{
    const char* f = format.c_str();
    std::string out;
    auto emit = [&] {
        m_ctx.out.write(out);
        out.clear();
    };
    for (; *f; ++f) {
        if (*f == '\\') {
            ++f;
            if (*f == 'c') {
                emit();
                return false;
            }
            out += process_escape(f);
            --f;
            continue;
        }
        if (*f != '%') {
            out += *f;
            continue;
        }
        const char* start = f++;
        if (*f == '%') {
            out += '%';
            continue;
        }
        if (*f == 'b') {
            if (argi < m_ctx.args.size()) {
                emit();
                if (print_esc_string(m_ctx.args[argi++]))
                    return false;
            }
            continue;
        }
        std::string spec = "%";
        while (*f && std::strchr("-+ #0", *f))
            spec += *f++;
        if (*f == '*') {
            ++f;
            if (argi < m_ctx.args.size()) {
                std::string w = m_ctx.args[argi++];
                char* end = nullptr;
                errno = 0;
                long v = std::strtol(w.c_str(), &end, 10);
                if (errno || *end || w.empty() || v > INT_MAX || v < INT_MIN) {
                    emit();
                    m_ctx.error(fmt::format("invalid number '{}'", w));
                    v = 0;
                }
                spec += std::to_string(v);
            }
        } else {
            while (std::isdigit(static_cast<unsigned char>(*f)))
                spec += *f++;
        }
        if (*f == '.') {
            spec += *f++;
            if (*f == '*') {
                ++f;
                if (argi < m_ctx.args.size()) {
                    std::string pr = m_ctx.args[argi++];
                    long v = std::strtol(pr.c_str(), nullptr, 10);
                    spec += std::to_string(std::max(0L, std::min(v, 1L << 20)));
                }
            } else {
                while (std::isdigit(static_cast<unsigned char>(*f)))
                    spec += *f++;
            }
        }
        while ((*f | 0x20) == 'l' || *f == 'h' || *f == 'z')
            ++f;  // size modifiers are dropped; integers are 64-bit
        char conv = *f;
        if (conv == '\0' || !std::strchr("diouxXfeEgGcs", conv)) {
            emit();
            m_ctx.error(fmt::format("{}: invalid format", start));
            bad_format = true;
            return false;
        }
        spec += conv;
        std::string arg = next_arg(argi);
        // Widths beyond reason would only allocate: glibc's printf caps them too.
        switch (conv) {
        case 'c':
            out += fmt::sprintf(spec, arg.empty() ? '\0' : arg[0]);
            break;
        case 's':
            out += fmt::sprintf(spec, arg);
            break;
        case 'd':
        case 'i': {
            emit();
            int64_t v = to_integer(arg, false);
            out += fmt::sprintf(spec, static_cast<long long>(v));
            break;
        }
        case 'o':
        case 'u':
        case 'x':
        case 'X': {
            emit();
            int64_t v = to_integer(arg, true);
            out += fmt::sprintf(spec, static_cast<unsigned long long>(v));
            break;
        }
        default: {
            emit();
            double v = to_double(arg);
            out += fmt::sprintf(spec, v);
            break;
        }
        }
    }
    emit();
    return true;
}

}  // namespace

int builtin_printf(Ctx& ctx)
{
    // fcntl(1, F_GETFL) first: with stdout closed, status 1 and nothing else.
    if (ctx.out.closed())
        return 1;
    size_t first = 1;
    if (ctx.args.size() > 1 && ctx.args[1] == "--")
        first = 2;
    if (ctx.args.size() <= first) {
        ctx.error("usage: printf FORMAT [ARGUMENT...]");
        return 2;
    }
    const std::string format = ctx.args[first];
    Printf p(ctx);
    size_t argi = first + 1;
    bool bad_format = false;
    // The format is reused while arguments remain and it consumed some.
    for (;;) {
        size_t before = argi;
        if (!p.pass(format, argi, bad_format))
            break;
        if (argi == before || argi >= ctx.args.size())
            break;
        if (ctx.out.full())
            break;
    }
    return bad_format || p.conv_error() ? 1 : 0;
}

namespace {

// ---- test ----

enum class TestOp {
    None, FilRd, FilWr, FilEx, FilExist, FilReg, FilDir, FilCdev, FilBdev, FilFifo, FilSuid,
    FilSgid, FilStck, FilGz, FilTt, StrEz, StrNz, FilSym, FilUid, FilGid, FilSock, StrEq, StrNe,
    StrLt, StrGt, Regex, IntEq, IntNe, IntGe, IntGt, IntLe, IntLt, FilNt, FilOt, FilEq, UNot,
    BAnd, BOr, LParen, RParen,
};
enum class OpType { Unop, Binop, Bunop, Bbinop, Paren, None };

struct TestOperator {
    std::string_view text;
    TestOp op;
    OpType type;
};

constexpr TestOperator k_test_ops[] = {
    {"-r", TestOp::FilRd, OpType::Unop}, {"-w", TestOp::FilWr, OpType::Unop},
    {"-x", TestOp::FilEx, OpType::Unop}, {"-e", TestOp::FilExist, OpType::Unop},
    {"-f", TestOp::FilReg, OpType::Unop}, {"-d", TestOp::FilDir, OpType::Unop},
    {"-c", TestOp::FilCdev, OpType::Unop}, {"-b", TestOp::FilBdev, OpType::Unop},
    {"-p", TestOp::FilFifo, OpType::Unop}, {"-u", TestOp::FilSuid, OpType::Unop},
    {"-g", TestOp::FilSgid, OpType::Unop}, {"-k", TestOp::FilStck, OpType::Unop},
    {"-s", TestOp::FilGz, OpType::Unop}, {"-t", TestOp::FilTt, OpType::Unop},
    {"-z", TestOp::StrEz, OpType::Unop}, {"-n", TestOp::StrNz, OpType::Unop},
    {"-h", TestOp::FilSym, OpType::Unop}, {"-O", TestOp::FilUid, OpType::Unop},
    {"-G", TestOp::FilGid, OpType::Unop}, {"-L", TestOp::FilSym, OpType::Unop},
    {"-S", TestOp::FilSock, OpType::Unop}, {"=", TestOp::StrEq, OpType::Binop},
    {"==", TestOp::StrEq, OpType::Binop}, {"!=", TestOp::StrNe, OpType::Binop},
    {"<", TestOp::StrLt, OpType::Binop}, {">", TestOp::StrGt, OpType::Binop},
    {"=~", TestOp::Regex, OpType::Binop}, {"-eq", TestOp::IntEq, OpType::Binop},
    {"-ne", TestOp::IntNe, OpType::Binop}, {"-ge", TestOp::IntGe, OpType::Binop},
    {"-gt", TestOp::IntGt, OpType::Binop}, {"-le", TestOp::IntLe, OpType::Binop},
    {"-lt", TestOp::IntLt, OpType::Binop}, {"-nt", TestOp::FilNt, OpType::Binop},
    {"-ot", TestOp::FilOt, OpType::Binop}, {"-ef", TestOp::FilEq, OpType::Binop},
    {"!", TestOp::UNot, OpType::Bunop}, {"-a", TestOp::BAnd, OpType::Bbinop},
    {"-o", TestOp::BOr, OpType::Bbinop}, {"&&", TestOp::BAnd, OpType::Bbinop},
    {"||", TestOp::BOr, OpType::Bbinop}, {"(", TestOp::LParen, OpType::Paren},
    {")", TestOp::RParen, OpType::Paren},
};

struct TestSyntax {};  // longjmp(leaving, 2)

enum class Tok { Eoi, Operand, Op };

// coreutils/test.c: a recursive descent over argv, index based.
class Test {
public:
    Test(Ctx& ctx, std::vector<std::string> argv, bool bash_test2)
        : m_ctx(ctx), m_argv(std::move(argv)), m_bash_test2(bash_test2)
    {
    }

    int run();

private:
    const std::string* arg(long i) const
    {
        return i >= 0 && static_cast<size_t>(i) < m_argv.size() ? &m_argv[static_cast<size_t>(i)] : nullptr;
    }
    // Sets m_last; returns what args[i] is.
    TestOp check_operator(long i);
    [[noreturn]] void syntax(const std::string* op, std::string_view msg);
    int64_t getn(const std::string& s);
    bool binop();
    bool filstat(const std::string& name, TestOp mode);
    int64_t primary(TestOp n);
    int64_t nexpr(TestOp n);
    int64_t aexpr(TestOp n);
    int64_t oexpr(TestOp n);

    Ctx& m_ctx;
    std::vector<std::string> m_argv;
    bool m_bash_test2;
    long m_args = 0;  // the "args" cursor
    const TestOperator* m_last = nullptr;
    bool m_eoi = false;  // the last check_operator() saw the end
};

TestOp Test::check_operator(long i)
{
    m_last = nullptr;
    const std::string* s = arg(i);
    m_eoi = s == nullptr;
    if (!s)
        return TestOp::None;
    for (const TestOperator& o : k_test_ops) {
        if (o.text != *s)
            continue;
        if (o.op == TestOp::Regex && !m_bash_test2)
            return TestOp::None;
        // [ ] takes -a/-o, [[ ]] takes &&/||.
        if ((o.op == TestOp::BAnd || o.op == TestOp::BOr) && m_bash_test2 == ((*s)[0] == '-'))
            return TestOp::None;
        m_last = &o;
        return o.op;
    }
    return TestOp::None;
}

void Test::syntax(const std::string* op, std::string_view msg)
{
    if (op && !op->empty())
        m_ctx.error(fmt::format("{}: {}", *op, msg));
    else
        m_ctx.error(msg);
    throw TestSyntax{};
}

int64_t Test::getn(const std::string& s)
{
    char* end = nullptr;
    errno = 0;
    long long r = std::strtoll(s.c_str(), &end, 10);
    if (errno)
        syntax(&s, "out of range");
    while (*end && std::isspace(static_cast<unsigned char>(*end)))
        ++end;
    if (end == s.c_str() || *end)
        syntax(&s, "bad number");
    return r;
}

bool Test::filstat(const std::string& name, TestOp mode)
{
    Shell& sh = m_ctx.shell;
    std::string path = sh.resolve(name);
    if (name.empty())
        return false;
    if (mode == TestOp::FilSym) {
        auto k = sh.fs().stat(path, false);
        return k && *k == views::NodeKind::Symlink;
    }
    auto k = sh.fs().stat(path, true);
    if (!k)
        return false;
    // The guest's /dev holds character devices (/dev/null), not regular files.
    bool device = *k == views::NodeKind::File && path.starts_with("/dev/");
    switch (mode) {
    case TestOp::FilCdev:
        return device;
    case TestOp::FilExist:
    case TestOp::FilRd:   // root reads and writes anything
    case TestOp::FilWr:
    case TestOp::FilUid:  // everything belongs to root, the only user
    case TestOp::FilGid:
        return true;
    case TestOp::FilEx:  // sysfs and procfs files have no x bit; directories do
    case TestOp::FilDir:
        return *k == views::NodeKind::Dir;
    case TestOp::FilReg:
        return *k == views::NodeKind::File && !device;
    case TestOp::FilGz:
        // sysfs attributes claim a page; directories and procfs files are empty.
        return *k == views::NodeKind::File && path.starts_with("/sys/");
    default:
        return false;
    }
}

bool Test::binop()
{
    const std::string* opnd1 = arg(m_args);
    check_operator(++m_args);
    const TestOperator* op = m_last;
    const std::string* opnd2 = arg(++m_args);
    if (!opnd2)
        syntax(arg(m_args - 1), "argument expected");
    switch (op->op) {
    case TestOp::IntEq: return getn(*opnd1) == getn(*opnd2);
    case TestOp::IntNe: return getn(*opnd1) != getn(*opnd2);
    case TestOp::IntGe: return getn(*opnd1) >= getn(*opnd2);
    case TestOp::IntGt: return getn(*opnd1) > getn(*opnd2);
    case TestOp::IntLe: return getn(*opnd1) <= getn(*opnd2);
    case TestOp::IntLt: return getn(*opnd1) < getn(*opnd2);
    default: break;
    }
    if (m_bash_test2 && (op->op == TestOp::StrEq || op->op == TestOp::StrNe)) {
        bool eq = ::fnmatch(opnd2->c_str(), opnd1->c_str(), 0) == 0;
        return op->op == TestOp::StrEq ? eq : !eq;
    }
    if (op->op == TestOp::Regex) {
        regex_t re;
        if (::regcomp(&re, opnd2->c_str(), REG_EXTENDED) != 0)
            throw TestSyntax{};  // [[ a =~ * ]]: status 2, no message
        bool m = ::regexec(&re, opnd1->c_str(), 0, nullptr, 0) == 0;
        ::regfree(&re);
        return m;
    }
    int c = std::strcmp(opnd1->c_str(), opnd2->c_str());
    switch (op->op) {
    case TestOp::StrEq: return c == 0;
    case TestOp::StrNe: return c != 0;
    case TestOp::StrLt: return c < 0;
    case TestOp::StrGt: return c > 0;
    default: break;
    }
    // -nt, -ot: no times in the model; -ef: the same resolved node.
    if (op->op == TestOp::FilEq) {
        Shell& sh = m_ctx.shell;
        return sh.fs().stat(sh.resolve(*opnd1), true) && sh.fs().stat(sh.resolve(*opnd2), true) &&
               sh.resolve(*opnd1) == sh.resolve(*opnd2);
    }
    return false;
}

int64_t Test::primary(TestOp n)
{
    if (m_eoi && n == TestOp::None)
        syntax(nullptr, "argument expected");
    if (n == TestOp::LParen) {
        int64_t res = oexpr(check_operator(++m_args));
        if (check_operator(++m_args) != TestOp::RParen)
            syntax(nullptr, "closing paren expected");
        return res;
    }
    const TestOperator* args0_op = m_last;
    check_operator(m_args + 1);
    if (!m_eoi && arg(m_args + 2) && m_last && m_last->type == OpType::Binop)
        return binop();
    if (args0_op && args0_op->type == OpType::Unop) {
        if (!arg(m_args + 1))
            return !arg(m_args)->empty();
        ++m_args;
        const std::string& a = *arg(m_args);
        if (n == TestOp::StrEz)
            return a.empty();
        if (n == TestOp::StrNz)
            return !a.empty();
        if (n == TestOp::FilTt) {
            int64_t fd = getn(a);
            return (fd == 0) || (fd == 1 && m_ctx.out.is_terminal()) ||
                   (fd == 2 && m_ctx.err.is_terminal());
        }
        return filstat(a, n);
    }
    check_operator(m_args + 1);
    if (m_last && m_last->type == OpType::Binop)
        return binop();
    return !arg(m_args)->empty();
}

int64_t Test::nexpr(TestOp n)
{
    if (n == TestOp::UNot) {
        TestOp next = check_operator(++m_args);
        if (m_eoi) {
            --m_args;  // "[ ! ]" is true
            return 1;
        }
        return !nexpr(next);
    }
    return primary(n);
}

int64_t Test::aexpr(TestOp n)
{
    int64_t res = nexpr(n);
    if (check_operator(++m_args) == TestOp::BAnd) {
        int64_t rhs = aexpr(check_operator(++m_args));
        return rhs && res;
    }
    --m_args;
    return res;
}

int64_t Test::oexpr(TestOp n)
{
    int64_t res = aexpr(n);
    if (check_operator(++m_args) == TestOp::BOr) {
        int64_t rhs = oexpr(check_operator(++m_args));
        return rhs || res;
    }
    --m_args;
    return res;
}

int Test::run()
{
    try {
        // POSIX's special cases for 1 to 4 arguments; "!" before them negates.
        size_t base = 0;
        bool negate = false;
        for (;;) {
            size_t count = m_argv.size() - base;
            if (count == 0)
                return negate ? 0 : 1;
            if (count == 1)
                return m_argv[base].empty() ^ negate;
            if (count == 3) {
                check_operator(static_cast<long>(base) + 1);
                if (m_last && m_last->type == OpType::Binop) {
                    m_args = static_cast<long>(base);
                    return (binop() == 0) ^ negate;
                }
            } else if (count == 4 && m_argv[base] == "(" && m_argv[base + 3] == ")") {
                // "( x y )": the ")" goes, the "(" stays for the parser below,
                // as busybox does (it then misses its ")").
                m_argv.resize(base + 3);
                ++base;
            }
            if (base < m_argv.size() && m_argv[base] == "!") {
                ++base;
                negate = !negate;
                continue;
            }
            break;
        }
        // The general parser starts over at the first argument.
        m_args = 0;
        int res = !oexpr(check_operator(0));
        if (arg(m_args) && arg(++m_args)) {
            m_ctx.error(fmt::format("{}: unknown operand", *arg(m_args)));
            return 2;
        }
        return res;
    } catch (const TestSyntax&) {
        return 2;
    }
}

}  // namespace

int builtin_test(Ctx& ctx)
{
    std::vector<std::string> argv(ctx.args.begin() + 1, ctx.args.end());
    const std::string& name = ctx.args[0];
    bool bash_test2 = name == "[[";
    if (name == "[" || bash_test2) {
        std::string_view close = bash_test2 ? "]]" : "]";
        if (argv.empty() || argv.back() != close) {
            ctx.error(bash_test2 ? "missing ]]" : "missing ]");
            return 2;
        }
        argv.pop_back();
    }
    Test t(ctx, std::move(argv), bash_test2);
    return t.run();
}

}  // namespace memplug::shell::sh
