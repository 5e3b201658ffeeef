#include "frontends/qmp_json.h"

#include <cerrno>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>

namespace memplug::fe {

using machine::QObject;

namespace {

constexpr size_t MAX_TOKEN_SIZE = size_t(64) << 20;
constexpr size_t MAX_TOKEN_COUNT = size_t(2) << 20;
constexpr long MAX_NESTING = 1 << 10;

using Tok = QmpJsonStream::Tok;
using Token = QmpJsonStream::Token;

// The recursive-descent parser over one message's tokens; the first error wins.
class Parser {
public:
    explicit Parser(std::vector<Token>& t) : m_t(t) {}

    tl::expected<QObject, std::string> parse()
    {
        auto v = value();
        if (m_err) return tl::unexpected("JSON parse error, " + *m_err);
        return std::move(*v);
    }

private:
    const Token* peek() const { return m_pos < m_t.size() ? &m_t[m_pos] : nullptr; }
    const Token* pop() { return m_pos < m_t.size() ? &m_t[m_pos++] : nullptr; }
    std::nullopt_t error(std::string msg)
    {
        if (!m_err) m_err = std::move(msg);
        return std::nullopt;
    }

    std::optional<QObject> value()
    {
        const Token* t = peek();
        if (!t) return error("premature EOI");
        switch (t->type) {
        case Tok::LCurly: return object();
        case Tok::LSquare: return array();
        case Tok::Integer: case Tok::Float: case Tok::String: return literal();
        case Tok::Keyword: {
            pop();
            if (t->text == "true") return QObject(true);
            if (t->text == "false") return QObject(false);
            if (t->text == "null") return QObject(nullptr);
            return error(fmt::format("invalid keyword '{}'", t->text));
        }
        default: return error("expecting value");
        }
    }

    std::optional<QObject> object()
    {
        pop();
        QObject d = QObject::object();
        const Token* t = peek();
        if (!t) return error("premature EOI");
        if (t->type == Tok::RCurly) {
            pop();
            return d;
        }
        if (!pair(d)) return std::nullopt;
        for (t = pop();; t = pop()) {
            if (!t) return error("premature EOI");
            if (t->type == Tok::RCurly) return d;
            if (t->type != Tok::Comma) return error("expected separator in dict");
            if (!pair(d)) return std::nullopt;
        }
    }

    bool pair(QObject& d)
    {
        if (!peek()) return error("premature EOI"), false;
        auto key = value();
        if (!key || !key->is_string()) return error("key is not a string in object"), false;
        const Token* t = pop();
        if (!t) return error("premature EOI"), false;
        if (t->type != Tok::Colon) return error("missing : in object pair"), false;
        auto v = value();
        if (!v) return error("Missing value in dict"), false;
        if (d.contains(key->get<std::string>())) return error("duplicate key"), false;
        d[key->get<std::string>()] = std::move(*v);
        return true;
    }

    std::optional<QObject> array()
    {
        pop();
        QObject l = QObject::array();
        const Token* t = peek();
        if (!t) return error("premature EOI");
        if (t->type == Tok::RSquare) {
            pop();
            return l;
        }
        for (;;) {
            auto v = value();
            if (!v) return error("expecting value");
            l.push_back(std::move(*v));
            t = pop();
            if (!t) return error("premature EOI");
            if (t->type == Tok::RSquare) return l;
            if (t->type != Tok::Comma) return error("expected separator in list");
        }
    }

    std::optional<QObject> literal()
    {
        const Token* t = pop();
        if (t->type == Tok::String) return string(t->text);
        if (t->type == Tok::Integer) {
            errno = 0;
            char* end = nullptr;
            const long long v = std::strtoll(t->text.c_str(), &end, 10);
            if (!errno) return QObject(int64_t(v));
            if (t->text[0] != '-') {
                errno = 0;
                const unsigned long long u = std::strtoull(t->text.c_str(), &end, 10);
                if (!errno) return QObject(uint64_t(u));
            }
        }
        return QObject(std::strtod(t->text.c_str(), nullptr));
    }

    static int hex4(std::string_view s, size_t at)
    {
        int cp = 0;
        for (size_t k = at; k < at + 4; ++k) {
            if (k >= s.size()) return -1;
            const char c = s[k];
            const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) return -1;
            cp = cp << 4 | d;
        }
        return cp;
    }

    // Modified UTF-8: NUL as C0 80, so that it survives C strings (and QEMU's writer prints \u0000).
    static bool encode(std::string& out, int cp)
    {
        if (cp < 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        if (cp == 0) out += "\xC0\x80";
        else if (cp < 0x80) out += char(cp);
        else if (cp < 0x800) out += {char(0xC0 | cp >> 6), char(0x80 | (cp & 0x3F))};
        else if (cp < 0x10000) out += {char(0xE0 | cp >> 12), char(0x80 | (cp >> 6 & 0x3F)), char(0x80 | (cp & 0x3F))};
        else out += {char(0xF0 | cp >> 18), char(0x80 | (cp >> 12 & 0x3F)), char(0x80 | (cp >> 6 & 0x3F)), char(0x80 | (cp & 0x3F))};
        return true;
    }

    std::optional<QObject> string(std::string_view tok)
    {
        const char quote = tok[0];
        std::string out;
        size_t i = 1;
        while (i < tok.size() && tok[i] != quote) {
            if (tok[i] != '\\') {
                const int cp = machine::decode_mod_utf8(tok, i);
                if (cp < 0) return error("invalid UTF-8 sequence in string");
                encode(out, cp);
                continue;
            }
            const size_t beg = i;
            const char e = tok[i + 1];
            i += 2;
            switch (e) {
            case '"': out += '"'; break;
            case '\'': out += '\''; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                int cp = hex4(tok, i);
                i += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < tok.size() && tok[i] == '\\' && tok[i + 1] == 'u') {
                    const int low = hex4(tok, i + 2);
                    if (low >= 0xDC00 && low <= 0xDFFF) {
                        cp = 0x10000 + ((cp & 0x3FF) << 10 | (low & 0x3FF));
                        i += 6;
                    } else {
                        cp = -1;
                    }
                }
                if (!encode(out, cp))
                    return error(fmt::format("{} is not a valid Unicode character", tok.substr(beg, std::min(i, tok.size()) - beg)));
                break;
            }
            default: return error("invalid escape sequence in string");
            }
        }
        return QObject(std::move(out));
    }

    std::vector<Token>& m_t;
    size_t m_pos = 0;
    std::optional<std::string> m_err;
};

bool digit(unsigned char c) { return c >= '0' && c <= '9'; }

}  // namespace

void QmpJsonStream::feed(std::string_view bytes)
{
    for (char c : bytes) feed_char(static_cast<unsigned char>(c));
}

void QmpJsonStream::reset()
{
    m_braces = m_brackets = 0;
    m_tokens.clear();
    m_token_size = 0;
}

void QmpJsonStream::token(Tok t)
{
    if (t == Tok::Error) {
        // The token is printed as a C string: it ends at a NUL byte.
        const std::string text = m_text.substr(0, m_text.find('\0'));
        reset();
        m_emit(tl::unexpected(fmt::format("JSON parse error, stray '{}'", text)));
        return;
    }
    m_braces += t == Tok::LCurly ? 1 : t == Tok::RCurly ? -1 : 0;
    m_brackets += t == Tok::LSquare ? 1 : t == Tok::RSquare ? -1 : 0;
    const char* limit = m_token_size + m_text.size() + 1 > MAX_TOKEN_SIZE ? "JSON token size limit exceeded"
                      : m_tokens.size() + 1 > MAX_TOKEN_COUNT       ? "JSON token count limit exceeded"
                      : m_braces + m_brackets > MAX_NESTING         ? "JSON nesting depth limit exceeded"
                                                                     : nullptr;
    if (limit) {
        reset();
        m_emit(tl::unexpected(std::string(limit)));
        return;
    }
    m_tokens.push_back({t, m_text});
    m_token_size += m_text.size();
    if ((m_braces > 0 || m_brackets > 0) && m_braces >= 0 && m_brackets >= 0) return;
    std::vector<Token> tokens = std::move(m_tokens);
    reset();
    m_emit(Parser(tokens).parse());
}

void QmpJsonStream::feed_char(unsigned char c)
{
    for (;;) {
        // Each state either takes c (consumed), or ends a token before c and looks at it again.
        std::optional<State> next;
        std::optional<Tok> done;
        bool consumed = true;
        const bool str_char = c >= 0x20 && c <= 0xFD;
        auto terminal = [&](Tok t) { done = t, consumed = false; };
        switch (m_state) {
        case State::Start:
            if (c == '"') next = State::DqString;
            else if (c == '\'') next = State::SqString;
            else if (c == '0') next = State::Zero;
            else if (c >= '1' && c <= '9') next = State::Digits;
            else if (c == '-') next = State::Sign;
            else if (c == '{') done = Tok::LCurly;
            else if (c == '}') done = Tok::RCurly;
            else if (c == '[') done = Tok::LSquare;
            else if (c == ']') done = Tok::RSquare;
            else if (c == ',') done = Tok::Comma;
            else if (c == ':') done = Tok::Colon;
            else if (c >= 'a' && c <= 'z') next = State::Keyword;
            else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                m_text.clear();
                return;
            } else done = Tok::Error;
            break;
        case State::Recovery:
            // Skip to a structural character, a control character other than tab, or 0xFE/0xFF.
            if ((c < 0x20 && c != '\t') || c >= 0xFE || c == '[' || c == ']' || c == '{' || c == '}' || c == ':' ||
                c == ',') {
                m_state = State::Start;
                continue;
            }
            return;
        case State::DqString:
        case State::SqString: {
            const char quote = m_state == State::DqString ? '"' : '\'';
            if (c == quote) done = Tok::String;
            else if (c == '\\') next = m_state == State::DqString ? State::DqEscape : State::SqEscape;
            else if (str_char) next = m_state;
            else done = Tok::Error;
            break;
        }
        case State::DqEscape:
        case State::SqEscape:
            if (str_char) next = m_state == State::DqEscape ? State::DqString : State::SqString;
            else done = Tok::Error;
            break;
        case State::Zero:
            if (digit(c)) done = Tok::Error;
            else if (c == '.') next = State::Mantissa;
            else terminal(Tok::Integer);
            break;
        case State::Sign:
            if (c == '0') next = State::Zero;
            else if (c >= '1' && c <= '9') next = State::Digits;
            else done = Tok::Error;
            break;
        case State::Digits:
            if (digit(c)) next = State::Digits;
            else if (c == 'e' || c == 'E') next = State::ExpE;
            else if (c == '.') next = State::Mantissa;
            else terminal(Tok::Integer);
            break;
        case State::Mantissa:
            if (digit(c)) next = State::MantissaDigits;
            else done = Tok::Error;
            break;
        case State::MantissaDigits:
            if (digit(c)) next = State::MantissaDigits;
            else if (c == 'e' || c == 'E') next = State::ExpE;
            else terminal(Tok::Float);
            break;
        case State::ExpE:
            if (c == '-' || c == '+') next = State::ExpSign;
            else if (digit(c)) next = State::ExpDigits;
            else done = Tok::Error;
            break;
        case State::ExpSign:
            if (digit(c)) next = State::ExpDigits;
            else done = Tok::Error;
            break;
        case State::ExpDigits:
            if (digit(c)) next = State::ExpDigits;
            else terminal(Tok::Float);
            break;
        case State::Keyword:
            if (c >= 'a' && c <= 'z') next = State::Keyword;
            else terminal(Tok::Keyword);
            break;
        }
        if (consumed) m_text += char(c);
        if (done) {
            token(*done);
            m_text.clear();
            m_state = *done == Tok::Error ? State::Recovery : State::Start;
        } else {
            m_state = *next;
        }
        if (m_text.size() > MAX_TOKEN_SIZE) {
            // One token may not grow without bound: what there is goes to the streamer as an error.
            token(Tok::Error);
            m_text.clear();
            m_state = State::Start;
        }
        if (consumed) return;
    }
}

}  // namespace memplug::fe
