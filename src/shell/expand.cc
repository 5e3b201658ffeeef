// Word expansion as ash does it (expandarg): parameters, $( ), $(( )), then field
// splitting of unquoted expansion results on IFS, then pathname expansion of
// fields holding unquoted glob characters, then quote removal. Also the shell's
// variables, which expansion reads and writes.
#include <cerrno>
#include <utility>
#include <fnmatch.h>

#include <fmt/format.h>

#include "shell/arith.h"
#include "shell/internal.h"

namespace memplug::shell::sh {

// ---- variables ----

std::optional<std::string> Shell::get_var(std::string_view name) const
{
    auto it = m_vars.find(name);
    if (it == m_vars.end())
        return std::nullopt;
    return it->second.value;  // nullopt for `export B` of an unset B
}

void Shell::set_var(std::string_view name, std::string value, bool exported)
{
    auto it = m_vars.find(name);
    if (it == m_vars.end()) {
        m_vars.emplace(std::string(name), Var{std::move(value), exported, false});
        return;
    }
    if (it->second.readonly)
        throw Abort{2, fmt::format("{}: is read only", name)};
    it->second.value = std::move(value);
    it->second.exported |= exported;
}

void Shell::unset_var(std::string_view name)
{
    auto it = m_vars.find(name);
    if (it == m_vars.end())
        return;
    if (it->second.readonly)
        throw Abort{2, fmt::format("{}: is read only", name)};
    m_vars.erase(it);
}

bool Shell::is_readonly(std::string_view name) const
{
    auto it = m_vars.find(name);
    return it != m_vars.end() && it->second.readonly;
}

void Shell::set_readonly(std::string_view name)
{
    auto it = m_vars.find(name);
    if (it == m_vars.end())
        it = m_vars.emplace(std::string(name), Var{std::nullopt, false, false}).first;
    it->second.readonly = true;
}

std::vector<std::pair<std::string, std::string>> Shell::readonly_vars() const
{
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [name, var] : m_vars)
        if (var.readonly)
            out.emplace_back(name, var.value.value_or(""));
    return out;
}

bool Shell::make_local(std::string_view name, std::optional<std::string> value)
{
    if (m_local_frames.empty())
        return false;
    auto& frame = m_local_frames.back();
    if (frame.find(name) == frame.end()) {
        auto it = m_vars.find(name);
        frame.emplace(std::string(name), it == m_vars.end() ? std::nullopt : std::optional<Var>(it->second));
        if (!value) {
            unset_var(name);  // "local X" starts X unset
            return true;
        }
    }
    if (value)
        set_var(name, std::move(*value));
    return true;
}

void Shell::export_var(std::string_view name)
{
    auto it = m_vars.find(name);
    if (it == m_vars.end()) {
        // `export B` without a value: exported but unset, shown as "export B".
        m_vars.emplace(std::string(name), Var{std::nullopt, true});
        return;
    }
    it->second.exported = true;
}

std::vector<std::pair<std::string, std::optional<std::string>>> Shell::exported_vars() const
{
    std::vector<std::pair<std::string, std::optional<std::string>>> out;
    for (const auto& [name, var] : m_vars)
        if (var.exported)
            out.emplace_back(name, var.value);
    return out;
}

std::optional<std::string> Shell::param_value(std::string_view name) const
{
    if (name == "?")
        return std::to_string(m_status);
    if (name == "$")
        return "1";  // the console shell is the guest's init
    if (name == "#")
        return std::to_string(m_positional.size());
    if (name == "0")
        return m_arg0;
    if (name == "-")
        return m_interactive ? "i" : "";
    if (name == "!")
        return std::nullopt;
    if (name == "@" || name == "*") {
        if (m_positional.empty())
            return std::nullopt;
        std::string joined;
        for (size_t i = 0; i < m_positional.size(); ++i)
            joined += (i ? " " : "") + m_positional[i];
        return joined;
    }
    if (name[0] >= '0' && name[0] <= '9') {
        errno = 0;
        unsigned long n = std::strtoul(std::string(name).c_str(), nullptr, 10);
        if (errno || n == 0 || n > m_positional.size())
            return std::nullopt;
        return m_positional[n - 1];
    }
    return get_var(name);
}

// ---- fields ----

struct Shell::Field {
    std::string text;
    std::vector<bool> glob_ok;  // per character: unquoted, so * ? [ act as patterns
    bool exists = false;        // has text or a quoted part: "" is a field, nothing is not
};

class Shell::FieldBuilder {
public:
    enum class Mode { Fields, String, Pattern };

    FieldBuilder(Mode mode, std::string ifs) : m_mode(mode), m_ifs(std::move(ifs)) {}

    Mode mode() const { return m_mode; }

    // Text from the command line itself: never split.
    void literal(std::string_view s, bool quoted)
    {
        for (char c : s)
            put(c, !quoted);
        if (quoted)
            m_cur.exists = true;
    }

    // The result of an expansion: split on IFS when unquoted.
    void expansion(std::string_view s, bool quoted)
    {
        if (quoted || m_mode != Mode::Fields) {
            literal(s, quoted);
            return;
        }
        for (char c : s) {
            if (m_ifs.find(c) == std::string::npos) {
                put(c, true);
                continue;
            }
            if (c == ' ' || c == '\t' || c == '\n') {
                // IFS white space separates, and is dropped at either end.
                if (m_cur.exists) {
                    end_field();
                    m_after_white = true;
                }
            } else {
                // Other IFS characters delimit, one field each ("a::b" is 3).
                if (!m_after_white)
                    end_field();
                m_after_white = false;
            }
        }
    }

    void mark_exists() { m_cur.exists = true; }

    // Between the words of "$@".
    void field_break()
    {
        if (m_mode == Mode::Fields)
            end_field();
        else
            put(' ', false);
    }

    std::vector<Field> finish()
    {
        if (m_cur.exists)
            m_fields.push_back(std::move(m_cur));
        m_cur = Field{};
        return std::move(m_fields);
    }

    std::string finish_string()
    {
        std::string s = std::move(m_cur.text);
        m_cur = Field{};
        return s;
    }

private:
    void put(char c, bool glob_ok)
    {
        if (m_mode == Mode::Pattern && !glob_ok &&
            (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\'))
            m_cur.text += '\\';
        m_cur.text += c;
        m_cur.glob_ok.push_back(glob_ok);
        m_cur.exists = true;
        m_after_white = false;
    }

    void end_field()
    {
        m_cur.exists = true;
        m_fields.push_back(std::move(m_cur));
        m_cur = Field{};
    }

    Mode m_mode;
    std::string m_ifs;
    Field m_cur;
    std::vector<Field> m_fields;
    bool m_after_white = false;
};

namespace {

// An unquoted * or ?, or an unquoted [ with a ] after it ("[" alone is literal).
bool has_active_glob(const std::string& text, const std::vector<bool>& glob_ok)
{
    for (size_t i = 0; i < text.size(); ++i) {
        if (!glob_ok[i])
            continue;
        if (text[i] == '*' || text[i] == '?')
            return true;
        if (text[i] == '[' && text.find(']', i + 1) != std::string::npos)
            return true;
    }
    return false;
}

// The field as an fnmatch pattern: quoted characters escaped.
std::string to_pattern(const std::string& text, const std::vector<bool>& glob_ok)
{
    std::string p;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\\' || (!glob_ok[i] && (c == '*' || c == '?' || c == '[' || c == ']')))
            p += '\\';
        p += c;
    }
    return p;
}

// ${x#pat} and friends: the shortest or longest prefix or suffix matching.
std::string trim(const std::string& value, const std::string& pattern, ParamOp op)
{
    auto matches = [&](const std::string& s) { return ::fnmatch(pattern.c_str(), s.c_str(), 0) == 0; };
    size_t n = value.size();
    switch (op) {
    case ParamOp::TrimSmallLeft:
        for (size_t i = 0; i <= n; ++i)
            if (matches(value.substr(0, i)))
                return value.substr(i);
        break;
    case ParamOp::TrimLargeLeft:
        for (size_t i = n + 1; i-- > 0;)
            if (matches(value.substr(0, i)))
                return value.substr(i);
        break;
    case ParamOp::TrimSmallRight:
        for (size_t i = n + 1; i-- > 0;)
            if (matches(value.substr(i)))
                return value.substr(0, i);
        break;
    case ParamOp::TrimLargeRight:
        for (size_t i = 0; i <= n; ++i)
            if (matches(value.substr(i)))
                return value.substr(0, i);
        break;
    default:
        break;
    }
    return value;
}

// ${x/pat/rep}: the longest match at the leftmost position, once or everywhere.
std::string replace(const std::string& value, const std::string& spec, bool all)
{
    size_t slash = std::string::npos;
    for (size_t i = 0; i < spec.size(); ++i) {
        if (spec[i] == '\\') {
            ++i;
            continue;
        }
        if (spec[i] == '/') {
            slash = i;
            break;
        }
    }
    std::string pattern = spec.substr(0, slash);
    std::string rep;
    if (slash != std::string::npos)
        for (size_t i = slash + 1; i < spec.size(); ++i)
            rep += spec[i] == '\\' && i + 1 < spec.size() ? spec[++i] : spec[i];
    if (pattern.empty())
        return value;
    std::string out;
    size_t i = 0;
    bool done = false;
    while (i < value.size()) {
        size_t best = std::string::npos;
        if (!done)
            for (size_t j = value.size(); j > i; --j)
                if (::fnmatch(pattern.c_str(), value.substr(i, j - i).c_str(), 0) == 0) {
                    best = j;
                    break;
                }
        if (best == std::string::npos) {
            out += value[i++];
            continue;
        }
        out += rep;
        i = best;
        done = !all;
    }
    return out;
}

}  // namespace

std::vector<std::string> Shell::expand_fields(const Word& w, const Io& io)
{
    return expand_fields(std::span<const Word>(&w, 1), io);
}

std::vector<std::string> Shell::expand_fields(std::span<const Word> ws, const Io& io)
{
    std::string ifs = get_var("IFS").value_or(" \t\n");
    std::vector<std::string> out;
    for (const Word& w : ws) {
        FieldBuilder b(FieldBuilder::Mode::Fields, ifs);
        expand_parts(b, w.parts, false, io);
        for (Field& f : b.finish()) {
            if (has_active_glob(f.text, f.glob_ok)) {
                std::vector<std::string> matches = glob(to_pattern(f.text, f.glob_ok));
                if (!matches.empty()) {
                    out.insert(out.end(), std::make_move_iterator(matches.begin()),
                               std::make_move_iterator(matches.end()));
                    continue;
                }
            }
            out.push_back(std::move(f.text));
        }
    }
    return out;
}

std::string Shell::expand_string(const Word& w, const Io& io)
{
    FieldBuilder b(FieldBuilder::Mode::String, "");
    expand_parts(b, w.parts, false, io);
    return b.finish_string();
}

std::string Shell::expand_pattern(const Word& w, const Io& io)
{
    FieldBuilder b(FieldBuilder::Mode::Pattern, "");
    expand_parts(b, w.parts, false, io);
    return b.finish_string();
}

void Shell::expand_parts(FieldBuilder& b, const std::vector<WordPart>& parts, bool split_literals,
                         const Io& io)
{
    for (size_t i = 0; i < parts.size(); ++i) {
        const WordPart& p = parts[i];
        switch (p.kind) {
        case WordPart::Kind::Literal: {
            std::string_view text = p.text;
            // "~" and "~/..." at the start of a word: $HOME.
            if (i == 0 && !p.quoted && !text.empty() && text[0] == '~' &&
                (text.size() == 1 || text[1] == '/') && b.mode() != FieldBuilder::Mode::Pattern) {
                b.literal(get_var("HOME").value_or("/"), true);
                text.remove_prefix(1);
            }
            if (split_literals && !p.quoted)
                b.expansion(text, false);
            else
                b.literal(text, p.quoted);
            break;
        }
        case WordPart::Kind::Param:
            expand_param(b, p, io);
            break;
        case WordPart::Kind::CmdSubst:
            b.expansion(command_subst(p.cmd.get(), io), p.quoted);
            if (p.quoted)
                b.mark_exists();
            break;
        case WordPart::Kind::Arith: {
            FieldBuilder expr(FieldBuilder::Mode::String, "");
            expand_parts(expr, p.arg->parts, false, io);
            b.expansion(std::to_string(arith(expr.finish_string(), io)), p.quoted);
            break;
        }
        }
    }
}

void Shell::expand_param(FieldBuilder& b, const WordPart& p, const Io& io)
{
    const std::string& name = p.text;
    if (p.quoted && name == "@" && p.op == ParamOp::None) {
        // "$@": one field per parameter, none at all without parameters.
        for (size_t i = 0; i < m_positional.size(); ++i) {
            if (i)
                b.field_break();
            b.expansion(m_positional[i], true);
        }
        return;
    }
    if (p.quoted)
        b.mark_exists();
    std::optional<std::string> value = param_value(name);
    bool missing = !value || (p.colon && value->empty());
    auto operand_string = [&] {
        FieldBuilder ob(FieldBuilder::Mode::String, "");
        expand_parts(ob, p.arg->parts, false, io);
        return ob.finish_string();
    };
    switch (p.op) {
    case ParamOp::None:
        b.expansion(value.value_or(""), p.quoted);
        break;
    case ParamOp::Length:  // ${#@} is the length of "$@" joined, as ash has it
        b.expansion(std::to_string(value.value_or("").size()), p.quoted);
        break;
    case ParamOp::Default:
        if (missing)
            expand_parts(b, p.arg->parts, !p.quoted, io);
        else
            b.expansion(*value, p.quoted);
        break;
    case ParamOp::Assign:
        if (missing) {
            std::string v = operand_string();
            if (!is_name(name))
                raise_error(io, fmt::format("{}: bad variable name", name));
            set_var(name, v);
            b.expansion(v, p.quoted);
        } else {
            b.expansion(*value, p.quoted);
        }
        break;
    case ParamOp::Error:
        if (missing) {
            std::string msg = operand_string();
            if (msg.empty())
                msg = p.colon ? "parameter not set or null" : "parameter not set";
            raise_error(io, fmt::format("{}: {}", name, msg));
        }
        b.expansion(*value, p.quoted);
        break;
    case ParamOp::Alternative:
        if (!missing)
            expand_parts(b, p.arg->parts, !p.quoted, io);
        break;
    case ParamOp::TrimSmallLeft:
    case ParamOp::TrimLargeLeft:
    case ParamOp::TrimSmallRight:
    case ParamOp::TrimLargeRight: {
        FieldBuilder pb(FieldBuilder::Mode::Pattern, "");
        expand_parts(pb, p.arg->parts, false, io);
        b.expansion(trim(value.value_or(""), pb.finish_string(), p.op), p.quoted);
        break;
    }
    case ParamOp::Substring: {
        std::string spec = operand_string();
        std::string v = value.value_or("");
        size_t colon = spec.find(':');
        int64_t len64 = static_cast<int64_t>(v.size());
        int64_t off = arith(spec.substr(0, colon), io);
        if (off < 0)
            off = std::max<int64_t>(0, len64 + off);
        off = std::min(off, len64);
        int64_t count = len64 - off;
        if (colon != std::string::npos) {
            int64_t l = arith(spec.substr(colon + 1), io);
            count = l < 0 ? std::max<int64_t>(0, len64 + l - off) : std::min(l, count);
        }
        b.expansion(v.substr(static_cast<size_t>(off), static_cast<size_t>(count)), p.quoted);
        break;
    }
    case ParamOp::Replace:
    case ParamOp::ReplaceAll: {
        FieldBuilder pb(FieldBuilder::Mode::Pattern, "");
        expand_parts(pb, p.arg->parts, false, io);
        b.expansion(replace(value.value_or(""), pb.finish_string(), p.op == ParamOp::ReplaceAll),
                    p.quoted);
        break;
    }
    }
}

std::string Shell::command_subst(const Node* n, const Io& io)
{
    auto capture = std::make_shared<StringSink>();
    Io sub{io.in, capture, io.err};
    int saved_status = m_status;  // $? later in the same command is the one before it
    m_subst_status = in_subshell(sub, [&] { return exec(n, sub); });
    m_status = saved_status;
    if (capture->dropped())
        io.err->write(StringSink::limit_message("a command substitution"));
    std::string out = std::move(capture->data());
    while (!out.empty() && out.back() == '\n')
        out.pop_back();
    return out;
}

int64_t Shell::arith(const std::string& expr, const Io& io)
{
    ArithVars vars{
        [this](const std::string& name) { return get_var(name); },
        [this](const std::string& name, const std::string& value) { set_var(name, value); },
    };
    auto r = arith_eval(expr, vars);
    if (!r)
        raise_error(io, r.error());
    return *r;
}

}  // namespace memplug::shell::sh
