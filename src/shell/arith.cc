// A port of busybox's shell/math.c (itself from dash): an operator-precedence
// evaluator with an operand stack and an operator stack. Kept structurally close
// to the original, since its quirks are what the guest prints: both sides of &&,
// || and ?: are always evaluated, "08" is a syntax error, an overflowing literal
// is 0, shifts use the count modulo 64 as x86 does.
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include "shell/arith.h"

namespace memplug::shell::sh {

namespace {

using Op = unsigned char;

// An operator's id: low 5 bits precedence, high 3 bits a unique id.
constexpr Op tok(unsigned prec, unsigned id) { return static_cast<Op>((id << 5) | prec); }
constexpr unsigned prec_of(Op op) { return op & 0x1F; }

constexpr Op k_lparen = tok(0, 0);
constexpr Op k_comma = tok(1, 0);
constexpr Op k_assign = tok(2, 0);
constexpr Op k_and_assign = tok(2, 1);
constexpr Op k_or_assign = tok(2, 2);
constexpr Op k_xor_assign = tok(2, 3);
constexpr Op k_plus_assign = tok(2, 4);
constexpr Op k_minus_assign = tok(2, 5);
constexpr Op k_lshift_assign = tok(2, 6);
constexpr Op k_rshift_assign = tok(2, 7);
constexpr Op k_mul_assign = tok(3, 0);
constexpr Op k_div_assign = tok(3, 1);
constexpr Op k_rem_assign = tok(3, 2);
constexpr Op k_conditional = tok(4, 0);
constexpr Op k_conditional_sep = tok(4, 1);
constexpr Op k_or = tok(5, 0);
constexpr Op k_and = tok(6, 0);
constexpr Op k_bor = tok(7, 0);
constexpr Op k_bxor = tok(8, 0);
constexpr Op k_band = tok(9, 0);
constexpr Op k_eq = tok(10, 0);
constexpr Op k_ne = tok(10, 1);
constexpr Op k_lt = tok(11, 0);
constexpr Op k_gt = tok(11, 1);
constexpr Op k_ge = tok(11, 2);
constexpr Op k_le = tok(11, 3);
constexpr Op k_lshift = tok(12, 0);
constexpr Op k_rshift = tok(12, 1);
constexpr Op k_add = tok(13, 0);
constexpr Op k_sub = tok(13, 1);
constexpr Op k_mul = tok(14, 0);
constexpr Op k_div = tok(14, 1);
constexpr Op k_rem = tok(14, 2);
constexpr Op k_exponent = tok(15, 1);
constexpr unsigned k_unary_prec = 16;
constexpr Op k_bnot = tok(k_unary_prec, 0);
constexpr Op k_not = tok(k_unary_prec, 1);
constexpr Op k_uminus = tok(k_unary_prec + 1, 0);
constexpr Op k_uplus = tok(k_unary_prec + 1, 1);
constexpr unsigned k_prec_pre = k_unary_prec + 2;
constexpr Op k_pre_inc = tok(k_prec_pre, 0);
constexpr Op k_pre_dec = tok(k_prec_pre, 1);
constexpr unsigned k_prec_post = k_unary_prec + 3;
constexpr Op k_post_inc = tok(k_prec_post, 0);
constexpr Op k_post_dec = tok(k_prec_post, 1);
constexpr unsigned k_spec_prec = k_unary_prec + 4;
constexpr Op k_num = tok(k_spec_prec, 0);
constexpr Op k_rparen = tok(k_spec_prec, 1);

unsigned fix_assignment_prec(unsigned prec) { return prec == 3 ? 2 : prec; }

bool is_assign_op(Op op)
{
    unsigned prec = fix_assignment_prec(prec_of(op));
    return prec == prec_of(k_assign) || prec == k_prec_pre || prec == k_prec_post;
}

bool is_right_associative(unsigned prec)
{
    return prec == prec_of(k_assign) || prec == prec_of(k_exponent) ||
           prec == prec_of(k_conditional);
}

// Longest first, as the original table.
struct OpToken {
    const char* text;
    Op op;
};
constexpr OpToken k_op_tokens[] = {
    {"<<=", k_lshift_assign}, {">>=", k_rshift_assign}, {"<<", k_lshift}, {">>", k_rshift},
    {"||", k_or}, {"&&", k_and}, {"!=", k_ne}, {"<=", k_le}, {">=", k_ge}, {"==", k_eq},
    {"|=", k_or_assign}, {"&=", k_and_assign}, {"*=", k_mul_assign}, {"/=", k_div_assign},
    {"%=", k_rem_assign}, {"+=", k_plus_assign}, {"-=", k_minus_assign}, {"--", k_post_dec},
    {"^=", k_xor_assign}, {"++", k_post_inc}, {"**", k_exponent}, {"!", k_not}, {"<", k_lt},
    {">", k_gt}, {"=", k_assign}, {"|", k_bor}, {"&", k_band}, {"*", k_mul}, {"/", k_div},
    {"%", k_rem}, {"+", k_add}, {"-", k_sub}, {"^", k_bxor}, {"~", k_bnot}, {",", k_comma},
    {"?", k_conditional}, {":", k_conditional_sep}, {")", k_rparen}, {"(", k_lparen},
};

constexpr const char* k_syntax_error = "arithmetic syntax error";

// Wrapping arithmetic (the C original relies on two's complement overflow).
int64_t wrap(uint64_t v) { return static_cast<int64_t>(v); }
int64_t add(int64_t a, int64_t b) { return wrap(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); }
int64_t sub(int64_t a, int64_t b) { return wrap(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)); }
int64_t mul(int64_t a, int64_t b) { return wrap(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)); }
int64_t shl(int64_t a, int64_t n) { return wrap(static_cast<uint64_t>(a) << (n & 63)); }
int64_t shr(int64_t a, int64_t n) { return a >> (n & 63); }  // arithmetic, as x86 sar

struct Operand {
    int64_t val = 0;
    int64_t second_val = 0;  // the ":" half of "?:"
    bool second_val_present = false;
    bool has_var = false;
    std::string var;
};

const char* skip_whitespace(const char* s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
        ++s;
    return s;
}

bool is_name_start(char c) { return c == '_' || std::isalpha(static_cast<unsigned char>(c)); }
bool is_name_char(char c) { return c == '_' || std::isalnum(static_cast<unsigned char>(c)); }

// strtoull(base 0), then busybox's "BASE#digits" extension.
uint64_t strto_arith(const char* nptr, const char** endptr)
{
    char* end = nullptr;
    uint64_t n = std::strtoull(nptr, &end, 0);
    *endptr = end;
    if (**endptr != '#' || *nptr < '1' || *nptr > '9' || n < 2 || n > 64)
        return n;
    unsigned base = static_cast<unsigned>(n);
    n = 0;
    const char* p = *endptr + 1;
    for (;;) {
        unsigned digit = static_cast<unsigned>(static_cast<unsigned char>(*p)) - '0';
        if (digit >= 10 && digit <= static_cast<unsigned>('z' - '0')) {
            digit = static_cast<unsigned>(static_cast<unsigned char>(*p) | 0x20) - ('a' - 10);
            if (base > 36 && *p <= '_') {
                if (*p == '_')
                    digit = 63;
                else if (*p == '@')
                    digit = 62;
                else if (digit < 36)
                    digit += 36 - 10;
                else
                    break;
            }
        }
        if (digit >= base)
            break;
        n = n * base + digit;
        ++p;
    }
    *endptr = p;
    return n;
}

class Evaluator {
public:
    explicit Evaluator(const ArithVars& vars) : m_vars(vars) {}

    int64_t evaluate(const std::string& text);
    const char* error() const { return m_errmsg; }

private:
    const char* lookup(Operand& t);
    const char* apply(Op op, std::vector<Operand>& nums);

    const ArithVars& m_vars;
    std::vector<std::string> m_recursing;  // variables being evaluated: a=b b=a loops
    const char* m_errmsg = nullptr;
};

const char* Evaluator::lookup(Operand& t)
{
    if (!t.has_var)
        return nullptr;
    std::optional<std::string> value = m_vars.get ? m_vars.get(t.var) : std::nullopt;
    if (!value) {
        t.val = 0;  // an unset variable is 0
        return nullptr;
    }
    // A chain of distinct names is bounded too: its depth is the C stack's.
    if (m_recursing.size() >= 1000)
        return "expression recursion loop detected";
    for (const std::string& name : m_recursing)
        if (name == t.var)
            return "expression recursion loop detected";
    m_recursing.push_back(t.var);
    t.val = evaluate(*value);
    m_recursing.pop_back();
    return m_errmsg;
}

const char* Evaluator::apply(Op op, std::vector<Operand>& nums)
{
    if (nums.empty())
        return k_syntax_error;
    if (const char* err = lookup(nums.back()))
        return err;
    int64_t rez = nums.back().val;
    if (op == k_uminus) {
        rez = sub(0, rez);
    } else if (op == k_not) {
        rez = !rez;
    } else if (op == k_bnot) {
        rez = ~rez;
    } else if (op == k_post_inc || op == k_pre_inc) {
        rez = add(rez, 1);
    } else if (op == k_post_dec || op == k_pre_dec) {
        rez = sub(rez, 1);
    } else if (op != k_uplus) {
        if (nums.size() < 2)
            return k_syntax_error;
        Operand right = std::move(nums.back());
        nums.pop_back();
        bool bad_second_val = right.second_val_present;
        if (op == k_conditional)
            bad_second_val = !bad_second_val;  // "a ? b" without ": c"
        if (bad_second_val)
            return "malformed ?: operator";
        Operand& left = nums.back();
        if (op != k_assign)
            if (const char* err = lookup(left))
                return err;
        int64_t rv = rez;
        rez = left.val;
        if (op == k_conditional) {
            rez = rez ? rv : right.second_val;
        } else if (op == k_conditional_sep) {
            if (nums.size() == 1)
                return "malformed ?: operator";
            left.second_val_present = true;
            left.second_val = rv;
        } else if (op == k_bor || op == k_or_assign) {
            rez |= rv;
        } else if (op == k_or) {
            rez = rv || rez;
        } else if (op == k_band || op == k_and_assign) {
            rez &= rv;
        } else if (op == k_bxor || op == k_xor_assign) {
            rez ^= rv;
        } else if (op == k_and) {
            rez = rez && rv;
        } else if (op == k_eq) {
            rez = rez == rv;
        } else if (op == k_ne) {
            rez = rez != rv;
        } else if (op == k_ge) {
            rez = rez >= rv;
        } else if (op == k_rshift || op == k_rshift_assign) {
            rez = shr(rez, rv);
        } else if (op == k_lshift || op == k_lshift_assign) {
            rez = shl(rez, rv);
        } else if (op == k_gt) {
            rez = rez > rv;
        } else if (op == k_lt) {
            rez = rez < rv;
        } else if (op == k_le) {
            rez = rez <= rv;
        } else if (op == k_mul || op == k_mul_assign) {
            rez = mul(rez, rv);
        } else if (op == k_add || op == k_plus_assign) {
            rez = add(rez, rv);
        } else if (op == k_sub || op == k_minus_assign) {
            rez = sub(rez, rv);
        } else if (op == k_assign || op == k_comma) {
            rez = rv;
        } else if (op == k_exponent) {
            if (rv < 0)
                return "exponent less than 0";
            // The original multiplies rv times; squaring gives the same wrapped value.
            uint64_t base = static_cast<uint64_t>(rez), result = 1;
            for (uint64_t e = static_cast<uint64_t>(rv); e; e >>= 1) {
                if (e & 1)
                    result *= base;
                base *= base;
            }
            rez = wrap(result);
        } else if (rv == 0) {
            return "divide by zero";
        } else if (op == k_div || op == k_div_assign || op == k_rem || op == k_rem_assign) {
            // INT64_MIN / -1 traps on x86; busybox divides by 1 instead.
            if (rv == -1 && (static_cast<uint64_t>(rez) << 1) == 0)
                rv = 1;
            if (op == k_div || op == k_div_assign)
                rez /= rv;
            else
                rez %= rv;
        }
    }
    Operand& target = nums.back();
    if (is_assign_op(op)) {
        if (!target.has_var)
            return k_syntax_error;  // "1=2"
        if (m_vars.set)
            m_vars.set(target.var, fmt::format("{}", rez));
        if (op == k_post_inc)
            rez = sub(rez, 1);
        if (op == k_post_dec)
            rez = add(rez, 1);
    }
    target.val = rez;
    target.has_var = false;
    target.var.clear();
    return nullptr;
}

int64_t Evaluator::evaluate(const std::string& text)
{
    const char* expr = skip_whitespace(text.c_str());
    const char* const start_expr = expr;
    std::vector<Operand> nums;
    std::vector<Op> stack{k_lparen};
    Op lasttok = k_lparen;
    const char* errmsg = nullptr;
    bool closing = false;  // the implicit ")" that ends the expression was processed

    auto result = [&](int64_t v) {
        m_errmsg = errmsg;
        return v;
    };

    for (;;) {
        expr = skip_whitespace(expr);
        Op op = 0;
        if (*expr == '\0') {
            if (expr == start_expr)
                return result(0);  // a null expression is 0
            if (closing) {
                if (nums.size() != 1) {
                    errmsg = k_syntax_error;
                    return result(-1);
                }
                return result(nums[0].val);
            }
            closing = true;
            op = k_rparen;
        } else if (is_name_start(*expr)) {
            const char* p = expr;
            while (is_name_char(*p))
                ++p;
            Operand t;
            t.has_var = true;
            t.var.assign(expr, p);
            nums.push_back(std::move(t));
            expr = p;
            lasttok = k_num;
            continue;
        } else if (std::isdigit(static_cast<unsigned char>(*expr))) {
            Operand t;
            errno = 0;
            t.val = wrap(strto_arith(expr, &expr));
            if (errno)
                t.val = 0;  // bash compat: an overflowing literal is 0
            nums.push_back(std::move(t));
            lasttok = k_num;
            continue;
        } else {
            bool found = false;
            // "a+++v" is a++ + v; "7+++v" is 7 + ++v; "--7" is - - 7.
            if ((expr[0] == '+' || expr[0] == '-') && expr[1] == expr[0]) {
                if (nums.empty() || !nums.back().has_var) {
                    char next = *skip_whitespace(expr + 2);
                    if (!is_name_start(next)) {
                        op = expr[0] == '+' ? k_add : k_sub;
                        ++expr;
                        found = true;
                    }
                }
            }
            if (!found) {
                for (const OpToken& t : k_op_tokens) {
                    size_t len = std::char_traits<char>::length(t.text);
                    if (std::string_view(expr).substr(0, len) == t.text) {
                        op = t.op;
                        expr += len;
                        found = true;
                        break;
                    }
                }
            }
            if (!found) {
                errmsg = k_syntax_error;
                return result(-1);
            }
        }

        if (lasttok == k_post_inc || lasttok == k_post_dec)
            lasttok = k_num;
        // + and - are binary only after a number or a ")".
        if (lasttok != k_num) {
            if (op == k_add)
                op = k_uplus;
            else if (op == k_sub)
                op = k_uminus;
            else if (op == k_post_inc)
                op = k_pre_inc;
            else if (op == k_post_dec)
                op = k_pre_dec;
        }
        unsigned prec = prec_of(op);
        bool reduced_paren = false;
        if ((prec > 0 && prec < k_unary_prec) || prec == k_spec_prec) {
            if (lasttok != k_num) {
                errmsg = k_syntax_error;
                return result(-1);
            }
            while (!stack.empty()) {
                Op prev_op = stack.back();
                stack.pop_back();
                if (op == k_rparen) {
                    if (prev_op == k_lparen) {
                        if (!nums.empty() && nums.back().has_var) {
                            // "(var)" is looked up now and is just a number after.
                            if (const char* err = lookup(nums.back())) {
                                errmsg = err;
                                return result(-1);
                            }
                            nums.back().has_var = false;
                            nums.back().var.clear();
                        }
                        lasttok = k_num;
                        reduced_paren = true;
                        break;
                    }
                } else {
                    unsigned prev_prec = fix_assignment_prec(prec_of(prev_op));
                    unsigned cur_prec = fix_assignment_prec(prec);
                    if (prev_prec < cur_prec ||
                        (prev_prec == cur_prec && is_right_associative(cur_prec))) {
                        stack.push_back(prev_op);
                        break;
                    }
                }
                if (const char* err = apply(prev_op, nums)) {
                    errmsg = err;
                    return result(-1);
                }
            }
            if (reduced_paren)
                continue;
            if (op == k_rparen) {
                errmsg = k_syntax_error;
                return result(-1);
            }
        }
        stack.push_back(op);
        lasttok = op;
    }
}

}  // namespace

tl::expected<int64_t, std::string> arith_eval(std::string_view expr, const ArithVars& vars)
{
    Evaluator ev(vars);
    int64_t v = ev.evaluate(std::string(expr));
    if (ev.error())
        return tl::unexpected(std::string(ev.error()));
    return v;
}

}  // namespace memplug::shell::sh
