// The guest shell's parser: a port of ash's recursive-descent parser (list, andor,
// pipeline, parse_command, simplecmd) and of its tokenizer (readtoken1), so that
// syntax errors read as ash prints them ("unexpected "done"", "missing '}'").
#include <algorithm>
#include <cctype>
#include <utility>

#include "shell/ast.h"

namespace memplug::shell::sh {

bool is_name(std::string_view s)
{
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_'))
        return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
            return false;
    return true;
}

bool Word::is_plain() const
{
    return !has_quotes && parts.size() == 1 && parts[0].kind == WordPart::Kind::Literal;
}

std::string Word::plain() const
{
    return is_plain() ? parts[0].text : std::string();
}

namespace {

// ash's token numbers, in tokname_array order (the messages index it).
enum class T : unsigned {
    Eof, Newline, Redir, Word, Semi, Amp, AndIf, OrIf, Pipe, LParen, RParen, DSemi, EndBquote,
    Not, Case, Do, Done, Elif, Else, Esac, Fi, For, If, In, Then, Until, While, Begin, End,
};

constexpr const char* k_token_names[] = {
    "end of file", "newline", "redirection", "word", ";", "&", "&&", "||", "|", "(", ")",
    ";;", "`", "!", "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in",
    "then", "until", "while", "{", "}",
};

std::string token_name(T t)
{
    const char* name = k_token_names[static_cast<unsigned>(t)];
    if (t < T::Semi)
        return name;
    return std::string("\"") + name + "\"";
}

T keyword(std::string_view w)
{
    for (unsigned i = static_cast<unsigned>(T::Not); i <= static_cast<unsigned>(T::End); ++i)
        if (w == k_token_names[i])
            return static_cast<T>(i);
    return T::Word;
}

// tokendlist: the tokens that end a list.
bool ends_list(T t)
{
    switch (t) {
    case T::Eof: case T::RParen: case T::DSemi: case T::EndBquote: case T::Do: case T::Done:
    case T::Elif: case T::Else: case T::Esac: case T::Fi: case T::Then: case T::End:
        return true;
    default:
        return false;
    }
}

constexpr unsigned k_chk_nl = 1;   // skip newlines before the token
constexpr unsigned k_chk_kwd = 2;  // recognise reserved words
constexpr int k_max_depth = 200;   // nesting deeper than this is refused, not a stack overflow

bool is_meta(int c)
{
    switch (c) {
    case -1: case ' ': case '\t': case '\n': case ';': case '&': case '|': case '<': case '>':
    case '(': case ')':
        return true;
    default:
        return false;
    }
}

NodePtr make_node(auto&& value)
{
    auto n = std::make_unique<Node>();
    n->v = std::forward<decltype(value)>(value);
    return n;
}

}  // namespace

struct Parser::Impl {
    struct Token {
        T kind = T::Eof;
        Word word;
        Redir redir;
    };

    std::string m_src;
    size_t m_pos = 0;
    Token m_tok;
    bool m_pushback = false;
    int m_depth = 0;

    explicit Impl(std::string_view src) : m_src(src) {}

    struct DepthGuard {
        Impl& p;
        explicit DepthGuard(Impl& parser) : p(parser)
        {
            if (++p.m_depth > k_max_depth)
                throw SyntaxError("nesting too deep");
        }
        ~DepthGuard() { --p.m_depth; }
    };

    int peek(size_t ahead = 0) const
    {
        return m_pos + ahead < m_src.size() ? static_cast<unsigned char>(m_src[m_pos + ahead]) : -1;
    }
    int get()
    {
        int c = peek();
        if (c != -1)
            ++m_pos;
        return c;
    }

    [[noreturn]] void unexpected(T expecting, bool has_expecting)
    {
        std::string msg = "unexpected " + token_name(m_tok.kind);
        if (has_expecting)
            msg += " (expecting " + token_name(expecting) + ")";
        throw SyntaxError(msg);
    }
    [[noreturn]] void unexpected() { unexpected(T::Eof, false); }
    [[noreturn]] void unexpected(T expecting) { unexpected(expecting, true); }

    // ---- tokenizer ----

    static void add_literal(Word& w, char c, bool quoted)
    {
        if (!w.parts.empty() && w.parts.back().kind == WordPart::Kind::Literal &&
            w.parts.back().quoted == quoted) {
            w.parts.back().text += c;
            return;
        }
        WordPart p;
        p.quoted = quoted;
        p.text = std::string(1, c);
        w.parts.push_back(std::move(p));
    }
    static void add_empty_quoted(Word& w)
    {
        WordPart p;
        p.quoted = true;
        w.parts.push_back(std::move(p));
    }

    enum class Mode { Normal, DQuote, Brace, Arith };

    void lex()
    {
        m_tok = Token{};
        for (;;) {
            int c = peek();
            if (c == ' ' || c == '\t') {
                ++m_pos;
            } else if (c == '\\' && peek(1) == '\n') {
                m_pos += 2;
            } else if (c == '#') {
                while (peek() != -1 && peek() != '\n')
                    ++m_pos;
            } else {
                break;
            }
        }
        switch (peek()) {
        case -1: m_tok.kind = T::Eof; return;
        case '\n': ++m_pos; m_tok.kind = T::Newline; return;
        case ';':
            ++m_pos;
            m_tok.kind = T::Semi;
            if (peek() == ';') { ++m_pos; m_tok.kind = T::DSemi; }
            return;
        case '&':
            ++m_pos;
            m_tok.kind = T::Amp;
            if (peek() == '&') { ++m_pos; m_tok.kind = T::AndIf; }
            return;
        case '|':
            ++m_pos;
            m_tok.kind = T::Pipe;
            if (peek() == '|') { ++m_pos; m_tok.kind = T::OrIf; }
            return;
        case '(': ++m_pos; m_tok.kind = T::LParen; return;
        case ')': ++m_pos; m_tok.kind = T::RParen; return;
        case '<': case '>': lex_redir(-1); return;
        default: break;
        }
        Word w;
        read_word(w, Mode::Normal, false);
        // "2>" : a word of digits right before a redirection is its fd.
        if ((peek() == '<' || peek() == '>') && w.is_plain() && w.parts[0].text.size() <= 4 &&
            std::all_of(w.parts[0].text.begin(), w.parts[0].text.end(),
                        [](char ch) { return ch >= '0' && ch <= '9'; })) {
            lex_redir(std::stoi(w.parts[0].text));
            return;
        }
        m_tok.kind = T::Word;
        m_tok.word = std::move(w);
    }

    void lex_redir(int fd)
    {
        m_tok.kind = T::Redir;
        Redir& r = m_tok.redir;
        if (get() == '>') {
            r.fd = fd < 0 ? 1 : fd;
            switch (peek()) {
            case '>': ++m_pos; r.op = RedirOp::Append; break;
            case '|': ++m_pos; r.op = RedirOp::Clobber; break;
            case '&': ++m_pos; r.op = RedirOp::DupOut; break;
            default: r.op = RedirOp::Out; break;
            }
        } else {
            r.fd = fd < 0 ? 0 : fd;
            switch (peek()) {
            // A here-document's body would follow on later lines, which a
            // one-line command never has: it reads as empty input.
            case '<':
                ++m_pos;
                if (peek() == '-')
                    ++m_pos;
                r.op = RedirOp::HereDoc;
                break;
            case '>': ++m_pos; r.op = RedirOp::ReadWrite; break;
            case '&': ++m_pos; r.op = RedirOp::DupIn; break;
            default: r.op = RedirOp::In; break;
            }
        }
    }

    // Reads word text up to the end that `mode` defines, appending to `w`.
    void read_word(Word& w, Mode mode, bool quoted)
    {
        DepthGuard guard(*this);
        int paren_depth = 0;  // Arith: '(' seen inside $(( ))
        for (;;) {
            int c = peek();
            switch (mode) {
            case Mode::Normal:
                if (is_meta(c))
                    return;
                break;
            case Mode::DQuote:
                if (c == -1)
                    throw SyntaxError("unterminated quoted string");
                if (c == '"') {
                    ++m_pos;
                    return;
                }
                break;
            case Mode::Brace:
                if (c == -1)
                    throw SyntaxError("missing '}'");
                if (c == '}') {
                    ++m_pos;
                    return;
                }
                break;
            case Mode::Arith:
                if (c == -1)
                    throw SyntaxError("missing '))'");
                if (c == '(') {
                    ++paren_depth;
                } else if (c == ')') {
                    if (paren_depth == 0 && peek(1) == ')') {
                        m_pos += 2;
                        return;
                    }
                    if (paren_depth > 0)
                        --paren_depth;
                }
                break;
            }
            ++m_pos;
            if (c == '\\') {
                read_backslash(w, quoted || mode == Mode::Arith, mode);
            } else if (c == '\'' && !quoted && mode != Mode::Arith) {
                read_single_quoted(w);
            } else if (c == '"' && mode != Mode::DQuote) {
                w.has_quotes = true;
                size_t before = w.parts.size();
                read_word(w, Mode::DQuote, true);
                if (w.parts.size() == before)
                    add_empty_quoted(w);
            } else if (c == '$') {
                read_dollar(w, quoted || mode == Mode::Arith);
            } else if (c == '`') {
                read_backquote(w, quoted || mode == Mode::Arith);
            } else {
                add_literal(w, static_cast<char>(c), quoted);
            }
        }
    }

    void read_backslash(Word& w, bool quoted, Mode mode)
    {
        int c = peek();
        if (c == '\n') {  // line continuation
            ++m_pos;
            return;
        }
        if (c == -1) {
            add_literal(w, '\\', quoted);
            return;
        }
        if (quoted) {
            // Inside "...", a backslash quotes only these.
            bool special = c == '$' || c == '`' || c == '"' || c == '\\' ||
                           (mode == Mode::Brace && c == '}');
            if (!special) {
                add_literal(w, '\\', true);
                return;  // c is read normally next
            }
        }
        ++m_pos;
        w.has_quotes = true;
        add_literal(w, static_cast<char>(c), true);
    }

    void read_single_quoted(Word& w)
    {
        w.has_quotes = true;
        size_t before = w.parts.size();
        for (;;) {
            int c = get();
            if (c == -1)
                throw SyntaxError("unterminated quoted string");
            if (c == '\'')
                break;
            add_literal(w, static_cast<char>(c), true);
        }
        if (w.parts.size() == before)
            add_empty_quoted(w);
    }

    static bool is_special_param(int c)
    {
        return c == '@' || c == '*' || c == '#' || c == '?' || c == '$' || c == '!' || c == '-';
    }
    static bool is_name_start(int c) { return c != -1 && (std::isalpha(c) || c == '_'); }
    static bool is_name_char(int c) { return c != -1 && (std::isalnum(c) || c == '_'); }

    void read_dollar(Word& w, bool quoted)
    {
        int c = peek();
        WordPart p;
        p.quoted = quoted;
        if (c == '{') {
            ++m_pos;
            read_braced(p, quoted);
        } else if (c == '(' && peek(1) == '(') {
            m_pos += 2;
            p.kind = WordPart::Kind::Arith;
            p.arg = std::make_unique<Word>();
            read_word(*p.arg, Mode::Arith, true);
        } else if (c == '(') {
            ++m_pos;
            p.kind = WordPart::Kind::CmdSubst;
            p.cmd = parse_subcommand();
        } else if (is_name_start(c)) {
            p.kind = WordPart::Kind::Param;
            while (is_name_char(peek()))
                p.text += static_cast<char>(get());
        } else if ((c >= '0' && c <= '9') || is_special_param(c)) {
            p.kind = WordPart::Kind::Param;
            p.text = std::string(1, static_cast<char>(get()));
        } else {
            add_literal(w, '$', quoted);
            return;
        }
        w.parts.push_back(std::move(p));
    }

    void read_braced(WordPart& p, bool quoted)
    {
        p.kind = WordPart::Kind::Param;
        auto read_name = [&] {
            int c = peek();
            if (c == -1)
                throw SyntaxError("missing '}'");
            if (is_name_start(c)) {
                while (is_name_char(peek()))
                    p.text += static_cast<char>(get());
            } else if (c >= '0' && c <= '9') {
                while (peek() >= '0' && peek() <= '9')
                    p.text += static_cast<char>(get());
            } else if (is_special_param(c)) {
                p.text = std::string(1, static_cast<char>(get()));
            } else {
                throw SyntaxError("bad substitution");
            }
        };
        if (peek() == '#' && peek(1) != '}' && peek(1) != -1 &&
            (is_name_start(peek(1)) || (peek(1) >= '0' && peek(1) <= '9') ||
             is_special_param(peek(1)))) {
            ++m_pos;
            p.op = ParamOp::Length;
        }
        read_name();
        int c = get();
        if (c == '}')
            return;
        // At a newline interactive ash prompts for more; a single line ends there.
        if (c == -1 || c == '\n')
            throw SyntaxError("missing '}'");
        if (p.op == ParamOp::Length)
            throw SyntaxError("bad substitution");
        auto simple_op = [](int ch) {
            switch (ch) {
            case '-': return ParamOp::Default;
            case '=': return ParamOp::Assign;
            case '?': return ParamOp::Error;
            case '+': return ParamOp::Alternative;
            default: return ParamOp::None;
            }
        };
        if (c == ':') {
            ParamOp op = simple_op(peek());
            if (op != ParamOp::None) {
                ++m_pos;
                p.op = op;
                p.colon = true;
            } else {
                p.op = ParamOp::Substring;
            }
        } else if (simple_op(c) != ParamOp::None) {
            p.op = simple_op(c);
        } else if (c == '#') {
            p.op = ParamOp::TrimSmallLeft;
            if (peek() == '#') { ++m_pos; p.op = ParamOp::TrimLargeLeft; }
        } else if (c == '%') {
            p.op = ParamOp::TrimSmallRight;
            if (peek() == '%') { ++m_pos; p.op = ParamOp::TrimLargeRight; }
        } else if (c == '/') {
            p.op = ParamOp::Replace;
            if (peek() == '/') { ++m_pos; p.op = ParamOp::ReplaceAll; }
        } else {
            throw SyntaxError("bad substitution");
        }
        p.arg = std::make_unique<Word>();
        read_word(*p.arg, Mode::Brace, quoted);
    }

    // $( ... ): the inner list is parsed from the same text, as ash's parsebackq.
    std::shared_ptr<const Node> parse_subcommand()
    {
        DepthGuard guard(*this);
        Token saved = std::move(m_tok);
        bool saved_pushback = m_pushback;
        m_pushback = false;
        NodePtr n = list(2);
        if (read(0).kind != T::RParen)
            unexpected(T::RParen);
        m_tok = std::move(saved);
        m_pushback = saved_pushback;
        return std::shared_ptr<const Node>(std::move(n));
    }

    void read_backquote(Word& w, bool quoted)
    {
        std::string inner;
        for (;;) {
            int c = get();
            if (c == -1)
                throw SyntaxError("EOF in backquote substitution");
            if (c == '`')
                break;
            if (c == '\\') {
                int c2 = get();
                if (c2 == -1)
                    throw SyntaxError("EOF in backquote substitution");
                if (c2 == '$' || c2 == '`' || c2 == '\\' || (quoted && c2 == '"')) {
                    inner += static_cast<char>(c2);
                } else if (c2 != '\n') {
                    inner += '\\';
                    inner += static_cast<char>(c2);
                }
                continue;
            }
            inner += static_cast<char>(c);
        }
        Impl sub(inner);
        sub.m_depth = m_depth + 1;
        NodePtr n = sub.list(0);
        if (sub.read(0).kind != T::Eof)
            sub.unexpected();
        WordPart p;
        p.kind = WordPart::Kind::CmdSubst;
        p.quoted = quoted;
        p.cmd = std::shared_ptr<const Node>(std::move(n));
        w.parts.push_back(std::move(p));
    }

    // ---- parser ----

    const Token& read(unsigned flags)
    {
        if (m_pushback)
            m_pushback = false;
        else
            lex();
        if (flags & k_chk_nl)
            while (m_tok.kind == T::Newline)
                lex();
        if (m_tok.kind == T::Word && (flags & k_chk_kwd) && m_tok.word.is_plain())
            m_tok.kind = keyword(m_tok.word.parts[0].text);
        return m_tok;
    }

    static NodePtr make_sequence(std::vector<NodePtr> items)
    {
        if (items.empty())
            return nullptr;
        if (items.size() == 1)
            return std::move(items[0]);
        return make_node(Sequence{std::move(items)});
    }

    // nlflag: 1 = top level (a newline ends the list), 0 = compound body,
    // 2 = a body that may be empty ($( ), case arm).
    NodePtr list(int nlflag)
    {
        DepthGuard guard(*this);
        unsigned chknl = (nlflag & 1) ? 0 : k_chk_nl;
        std::vector<NodePtr> items;
        for (;;) {
            T tok = read(chknl | k_chk_kwd).kind;
            if (tok == T::Newline)
                return make_sequence(std::move(items));
            if (tok == T::Eof) {
                m_pushback = true;
                return make_sequence(std::move(items));
            }
            m_pushback = true;
            if (nlflag == 2 && ends_list(tok))
                return make_sequence(std::move(items));
            nlflag |= 2;
            items.push_back(andor());
            // `&` runs in the foreground: a model has nothing to do concurrently.
            switch (read(0).kind) {
            case T::Eof:
                m_pushback = true;
                return make_sequence(std::move(items));
            case T::Newline:
                m_pushback = true;
                break;
            case T::Amp:
            case T::Semi:
                break;
            default:
                if (!chknl)
                    unexpected();
                m_pushback = true;
                return make_sequence(std::move(items));
            }
        }
    }

    NodePtr andor()
    {
        NodePtr first = pipeline(0);
        AndOr ao;
        for (;;) {
            T t = read(0).kind;
            if (t != T::AndIf && t != T::OrIf) {
                m_pushback = true;
                break;
            }
            ao.rest.emplace_back(t == T::AndIf, pipeline(k_chk_nl | k_chk_kwd));
        }
        if (ao.rest.empty())
            return first;
        ao.first = std::move(first);
        return make_node(std::move(ao));
    }

    NodePtr pipeline(unsigned flags)
    {
        Pipeline p;
        unsigned cmd_flags = 0;
        if (read(flags).kind == T::Not) {
            p.negate = true;
            cmd_flags = k_chk_kwd;
        } else {
            m_pushback = true;
        }
        p.stages.push_back(parse_command(cmd_flags));
        while (read(0).kind == T::Pipe)
            p.stages.push_back(parse_command(k_chk_nl | k_chk_kwd));
        m_pushback = true;
        if (p.stages.size() == 1 && !p.negate)
            return std::move(p.stages[0]);
        return make_node(std::move(p));
    }

    void parse_fname(Redir& r)
    {
        if (read(0).kind != T::Word)
            unexpected();
        r.target = std::move(m_tok.word);
    }

    NodePtr parse_command(unsigned flags)
    {
        DepthGuard guard(*this);
        NodePtr node;
        T end = T::Eof;
        switch (read(flags).kind) {
        case T::If: {
            IfCommand c;
            NodePtr cond = list(0);
            if (read(0).kind != T::Then)
                unexpected(T::Then);
            c.branches.emplace_back(std::move(cond), list(0));
            while (read(0).kind == T::Elif) {
                NodePtr elif_cond = list(0);
                if (read(0).kind != T::Then)
                    unexpected(T::Then);
                c.branches.emplace_back(std::move(elif_cond), list(0));
            }
            if (m_tok.kind == T::Else)
                c.else_body = list(0);
            else
                m_pushback = true;
            node = make_node(std::move(c));
            end = T::Fi;
            break;
        }
        case T::While:
        case T::Until: {
            WhileLoop c;
            c.until = m_tok.kind == T::Until;
            c.cond = list(0);
            if (read(0).kind != T::Do)
                unexpected(T::Do);
            c.body = list(0);
            node = make_node(std::move(c));
            end = T::Done;
            break;
        }
        case T::For: {
            ForLoop c;
            if (read(0).kind != T::Word || m_tok.word.has_quotes || !is_name(m_tok.word.plain()))
                throw SyntaxError("bad for loop variable");
            c.var = m_tok.word.plain();
            if (read(k_chk_nl | k_chk_kwd).kind == T::In) {
                c.has_in = true;
                while (read(0).kind == T::Word)
                    c.items.push_back(std::move(m_tok.word));
                if (m_tok.kind != T::Newline && m_tok.kind != T::Semi)
                    unexpected();
            } else if (m_tok.kind != T::Semi) {
                m_pushback = true;
            }
            if (read(k_chk_nl | k_chk_kwd).kind != T::Do)
                unexpected(T::Do);
            c.body = list(0);
            node = make_node(std::move(c));
            end = T::Done;
            break;
        }
        case T::Case: {
            CaseCommand c;
            if (read(0).kind != T::Word)
                unexpected(T::Word);
            c.subject = std::move(m_tok.word);
            if (read(k_chk_nl | k_chk_kwd).kind != T::In)
                unexpected(T::In);
            T t = read(k_chk_nl | k_chk_kwd).kind;
            while (t != T::Esac) {
                if (t == T::LParen)
                    read(0);
                std::vector<Word> patterns;
                for (;;) {
                    patterns.push_back(std::move(m_tok.word));
                    if (read(0).kind != T::Pipe)
                        break;
                    read(0);
                }
                if (m_tok.kind != T::RParen)
                    unexpected(T::RParen);
                c.arms.emplace_back(std::move(patterns), list(2));
                t = read(k_chk_nl | k_chk_kwd).kind;
                if (t != T::Esac) {
                    if (t != T::DSemi)
                        unexpected(T::DSemi);
                    t = read(k_chk_nl | k_chk_kwd).kind;
                }
            }
            node = make_node(std::move(c));
            break;
        }
        case T::LParen:
            node = make_node(Group{list(0), true});
            end = T::RParen;
            break;
        case T::Begin:
            node = make_node(Group{list(0), false});
            end = T::End;
            break;
        case T::Word:
        case T::Redir:
            m_pushback = true;
            return simple_command();
        default:
            unexpected();
        }
        if (end != T::Eof && read(0).kind != end)
            unexpected(end);
        while (read(k_chk_kwd).kind == T::Redir) {
            Redir r = std::move(m_tok.redir);
            parse_fname(r);
            node->redirs.push_back(std::move(r));
        }
        m_pushback = true;
        return node;
    }

    static bool is_assignment(const Word& w)
    {
        if (w.parts.empty() || w.parts[0].kind != WordPart::Kind::Literal || w.parts[0].quoted)
            return false;
        const std::string& t = w.parts[0].text;
        size_t eq = t.find('=');
        return eq != std::string::npos && is_name(std::string_view(t).substr(0, eq));
    }

    NodePtr simple_command()
    {
        SimpleCommand sc;
        bool assign_ok = true;
        for (;;) {
            const Token& t = read(0);
            if (t.kind == T::Word) {
                if (assign_ok && is_assignment(m_tok.word)) {
                    sc.assigns.push_back(std::move(m_tok.word));
                } else {
                    sc.args.push_back(std::move(m_tok.word));
                    assign_ok = false;
                }
            } else if (t.kind == T::Redir) {
                Redir r = std::move(m_tok.redir);
                parse_fname(r);
                sc.redirs.push_back(std::move(r));
            } else if (t.kind == T::LParen && sc.args.size() == 1 && sc.assigns.empty() &&
                       sc.redirs.empty()) {
                if (read(0).kind != T::RParen)
                    unexpected(T::RParen);
                std::string name = sc.args[0].plain();
                if (!is_name(name))
                    throw SyntaxError("bad function name");
                NodePtr body = parse_command(k_chk_nl | k_chk_kwd);
                return make_node(FunctionDef{name, std::shared_ptr<const Node>(std::move(body))});
            } else {
                m_pushback = true;
                break;
            }
        }
        return make_node(std::move(sc));
    }
};

Parser::Parser(std::string_view src) : m_impl(std::make_unique<Impl>(src)) {}
Parser::~Parser() = default;

bool Parser::next(std::shared_ptr<const Node>& out)
{
    Impl& p = *m_impl;
    if (p.read(0).kind == T::Eof)
        return false;
    p.m_pushback = true;
    out = std::shared_ptr<const Node>(p.list(1));
    return true;
}

bool needs_more_input(std::string_view text)
{
    // A backslash before the last newline joins the next line to this one.
    std::string_view body = text.ends_with('\n') ? text.substr(0, text.size() - 1) : text;
    const std::size_t last = body.find_last_not_of('\\');
    const std::size_t backslashes = body.size() - (last == std::string_view::npos ? 0 : last + 1);
    if (backslashes % 2 == 1)
        return true;
    Parser parser(text);
    std::shared_ptr<const Node> node;
    try {
        while (parser.next(node)) {
        }
    } catch (const SyntaxError&) {
        // An error while reading the end of the text (not a newline token) is one
        // more line away from being a command.
        const Parser::Impl& p = *parser.m_impl;
        return p.m_pos >= p.m_src.size() && p.m_tok.kind != T::Newline;
    }
    return false;
}

}  // namespace memplug::shell::sh
