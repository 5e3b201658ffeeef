// The guest shell's parse tree: ash's node types (ncmd, npipe, nfor, ...) as C++
// values, and the parser that builds them from a command line.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace memplug::shell::sh {

struct Node;
using NodePtr = std::unique_ptr<Node>;
struct Word;

enum class ParamOp {
    None,
    Length,         // ${#x}
    Default,        // ${x-w}  ${x:-w}
    Assign,         // ${x=w}  ${x:=w}
    Error,          // ${x?w}  ${x:?w}
    Alternative,    // ${x+w}  ${x:+w}
    TrimSmallLeft,  // ${x#p}
    TrimLargeLeft,  // ${x##p}
    TrimSmallRight, // ${x%p}
    TrimLargeRight, // ${x%%p}
    Substring,      // ${x:off:len} (arg holds "off:len")
    Replace,        // ${x/p/r}     (arg holds "p/r")
    ReplaceAll,     // ${x//p/r}
};

// One piece of a word as the parser saw it.
struct WordPart {
    enum class Kind { Literal, Param, CmdSubst, Arith };
    Kind kind = Kind::Literal;
    // Inside "..." (Literal: also '...' or \x): never split, never a glob character.
    bool quoted = false;
    std::string text;            // Literal: the characters; Param: the name ("?", "1", "HOME")
    ParamOp op = ParamOp::None;  // Param only
    bool colon = false;          // ${x:-w} rather than ${x-w}: an empty value counts as unset
    std::unique_ptr<Word> arg;   // Param: the operand; Arith: the expression
    std::shared_ptr<const Node> cmd;  // CmdSubst (null for "$()")
};

struct Word {
    std::vector<WordPart> parts;
    bool has_quotes = false;  // ash's quoteflag: a quoted word is never a keyword

    // The text when the word is one unquoted literal ("" otherwise).
    std::string plain() const;
    bool is_plain() const;
};

enum class RedirOp { In, Out, Append, Clobber, ReadWrite, DupIn, DupOut, HereDoc };

struct Redir {
    int fd = 1;
    RedirOp op = RedirOp::Out;
    Word target;  // a file name, or for DupIn/DupOut an fd number or "-"
};

struct SimpleCommand {
    std::vector<Word> assigns;  // NAME=value words before the command name
    std::vector<Word> args;
    std::vector<Redir> redirs;
};
struct Pipeline {
    std::vector<NodePtr> stages;
    bool negate = false;
};
struct AndOr {
    NodePtr first;
    std::vector<std::pair<bool, NodePtr>> rest;  // (is_and, pipeline)
};
struct Sequence {
    std::vector<NodePtr> items;
};
struct ForLoop {
    std::string var;
    bool has_in = false;  // `for i; do` iterates over "$@"
    std::vector<Word> items;
    NodePtr body;
};
struct IfCommand {
    std::vector<std::pair<NodePtr, NodePtr>> branches;  // (condition, body)
    NodePtr else_body;
};
struct WhileLoop {
    NodePtr cond;
    NodePtr body;
    bool until = false;
};
struct CaseCommand {
    Word subject;
    std::vector<std::pair<std::vector<Word>, NodePtr>> arms;
};
struct Group {
    NodePtr body;
    bool subshell = false;  // ( ... ) rather than { ...; }
};
struct FunctionDef {
    std::string name;
    std::shared_ptr<const Node> body;
};

struct Node {
    std::variant<SimpleCommand, Pipeline, AndOr, Sequence, ForLoop, IfCommand, WhileLoop,
                 CaseCommand, Group, FunctionDef>
        v;
    std::vector<Redir> redirs;  // on compound commands: `for ...; done >file`
};

// ash's "syntax error: ..." (the text after that prefix).
struct SyntaxError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Reads commands from a text the way ash's cmdloop does: one newline-terminated
// list at a time, so that the lists before a syntax error have run.
class Parser {
public:
    explicit Parser(std::string_view src);
    ~Parser();
    Parser(const Parser&) = delete;
    Parser& operator=(const Parser&) = delete;

    // The next list (null for an empty line), or false at the end of the text.
    // Throws SyntaxError.
    bool next(std::shared_ptr<const Node>& out);

private:
    friend bool needs_more_input(std::string_view text);
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// ash's PS2 case: the text parses up to its end and wants more (an open `for`,
// `if`, quote, pipe, or a trailing backslash), rather than being complete or wrong.
bool needs_more_input(std::string_view text);

bool is_name(std::string_view s);  // ash's goodname(): [A-Za-z_][A-Za-z0-9_]*

}  // namespace memplug::shell::sh
