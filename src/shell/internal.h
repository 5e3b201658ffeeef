// The guest shell's insides, shared by the parser (shell_parse.cc), the executor
// (shell_exec.cc), word expansion (shell_expand.cc, shell_path.cc) and the
// applets (shell_applets.cc, shell_printf.cc, shell_text.cc, shell_grep.cc,
// shell_ls.cc).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/ast.h"
#include "views/vfs.h"

namespace memplug::shell::sh {

// ---- file descriptors ----

// Where fd 1 or 2 of a command goes. Data is buffered until flush(), which is one
// write(2): the moment a sysfs store runs and may fail.
class Sink {
public:
    virtual ~Sink() = default;
    virtual void write(std::string_view data) = 0;
    virtual int flush() { return 0; }  // the write's errno, or 0
    virtual bool is_terminal() const { return false; }
    // Nothing more will be kept: an endless `seq` stops here.
    virtual bool full() const { return false; }
    virtual bool closed() const { return false; }  // `>&-`
};

// The console, a pipe, or a $( ) capture. Past k_limit bytes output is dropped
// (a runaway producer must not exhaust memory), and the shell says so.
class StringSink : public Sink {
public:
    explicit StringSink(bool terminal = false) : m_terminal(terminal) {}
    void write(std::string_view data) override;
    bool is_terminal() const override { return m_terminal; }
    bool full() const override { return m_data.size() >= k_limit; }
    std::string& data() { return m_data; }
    bool dropped() const { return m_dropped; }
    // The error that names the limit, for `what` ("a pipe").
    static std::string limit_message(std::string_view what);

    static constexpr size_t k_limit = size_t{256} << 20;

private:
    std::string m_data;
    bool m_dropped = false;
    bool m_terminal;
};

// A file opened by a redirection.
class FileSink : public Sink {
public:
    FileSink(views::Vfs& fs, std::string path) : m_fs(fs), m_path(std::move(path)) {}
    void write(std::string_view data) override;
    int flush() override;

private:
    static constexpr size_t k_chunk = size_t{1} << 20;
    int flush_pending();  // the first error sticks until flush() reports it

    views::Vfs& m_fs;
    std::string m_path;
    std::string m_pending;
    int m_error = 0;
};

// `>&-`: every write fails with EBADF.
class ClosedSink : public Sink {
public:
    void write(std::string_view data) override { m_failed |= !data.empty(); }
    int flush() override;
    bool closed() const override { return true; }

private:
    bool m_failed = false;
};

// What fd 0 reads: known whole (pipes run one stage after the other) and
// consumed as read, so that `while read l` walks a file's lines.
struct Input {
    std::string data;
    size_t pos = 0;
    int error = 0;  // a read error: EISDIR for `< dir`, EBADF for `<&-`

    std::string take();                    // the rest, all consumed
    // Up to '\n' (dropped); nullopt at EOF. `terminated`: a '\n' ended it.
    std::optional<std::string> read_line(bool* terminated = nullptr);
};

struct Io {
    std::shared_ptr<Input> in;
    std::shared_ptr<Sink> out;
    std::shared_ptr<Sink> err;
};

// ---- control flow (ash's longjmp exceptions) ----

struct Abort {  // an error that ends the command line (EXERROR), e.g. "divide by zero"
    explicit Abort(int st = 2, std::string msg = {}) : status(st), message(std::move(msg)) {}
    int status;
    std::string message;  // printed where caught ("sh: " + message), if the raiser could not
};
struct ExitRequest {
    int status = 0;
};
struct LoopControl {
    bool is_break = true;
    int levels = 1;
};
struct FunctionReturn {
    int status = 0;
};
struct RunawayCommand {  // the per-line command budget or nesting limit ran out
    bool depth = false;     // which: the nesting limit
};
struct Interrupted {};  // Ctrl-C: the command line stops before its next command

// ---- applets ----

class Shell;
struct AppletInfo;

// What an applet gets: its arguments, its fds, and the shell.
struct Ctx {
    Ctx(Shell& sh, const AppletInfo& a, std::vector<std::string> argv, const Io& fds)
        : shell(sh), applet(a), args(std::move(argv)), io(fds), in(*fds.in), out(*fds.out),
          err(*fds.err)
    {
    }

    Shell& shell;
    const AppletInfo& applet;
    std::vector<std::string> args;  // args[0] is the name typed
    const Io& io;
    Input& in;
    Sink& out;
    Sink& err;

    // Message prefix: "sh" for ash builtins, the applet's name otherwise.
    std::string_view prog() const;
    void error(std::string_view msg);                   // "prog: msg"
    void perror(std::string_view what, int errnum);     // "prog: what: strerror"
    int usage(int status = 1);                          // busybox's usage text on stderr
    // Pushes stdout's pending write; a failure is reported as this applet does.
    bool flush_out();

    // A file operand read whole ("-" is stdin). open_error: the open(2) failed;
    // read_error: open worked, reading did not (EISDIR).
    struct File {
        std::string data;
        int open_error = 0;
        int read_error = 0;
    };
    // At most `limit` bytes: what `head -c` reads of an endless /dev/zero.
    File read_file(std::string_view operand, std::optional<uint64_t> limit = std::nullopt);
};

using AppletFn = int (*)(Ctx&);

// ash's command kinds decide assignment scope and message prefixes.
enum class AppletKind { Special, Builtin, Applet };

// What a failed write of stdout looks like, applet by applet (observed on
// busybox 1.35 with stdout on /dev/full and closed).
enum class WriteFailure {
    Ignore,        // stdio's error goes unnoticed: grep, ls, seq, sort, ...
    WriteError,    // "NAME: write error: STRERROR", status 1: echo, cat, tr, tail
    StdoutError,   // "NAME: standard output: STRERROR", status unchanged: wc, uniq
    StdoutIoError, // "NAME: standard output: I/O error", status 1: head
    Silent,        // status 1, no message: printf, basename, pwd
};

struct AppletInfo {
    std::string_view name;
    AppletFn fn;
    AppletKind kind;
    WriteFailure on_write_failure;
};

const AppletInfo* find_applet(std::string_view name);
std::string_view usage_header();                       // "BusyBox v1.35.0 (...) multi-call binary.\n\n"
std::string_view applet_usage(std::string_view name);  // "" if none recorded
bool is_keyword(std::string_view word);

// getopt32 with GNU permutation: options anywhere before "--". `spec` lists option
// letters, ':' after one that takes an argument. On a bad option prints busybox's
// message and usage; nullopt then (status in *failed_status).
struct Options {
    std::string seen;                                // letters in order, repeats kept
    std::map<char, std::vector<std::string>> values; // arguments, in order
    std::vector<std::string> operands;

    bool has(char c) const { return seen.find(c) != std::string::npos; }
    const std::string* last(char c) const;
};
// A spec starting with '+' stops at the first operand (no permutation).
std::optional<Options> get_options(Ctx& ctx, std::string_view spec, int usage_status = 1);

// "\n", "\t", "\0NNN", "\xHH", ...: libbb's bb_process_escape_sequence(). `p` points
// after the backslash and is advanced past the sequence.
char process_escape(const char*& p);

// Lines without their '\n'; a last line without one still counts (xmalloc_fgetline).
std::vector<std::string_view> split_lines(std::string_view data);

// glibc's strerror text (busybox-static links glibc).
std::string errno_text(int err);

// Whether a Vfs read error is open(2)'s (ENOENT, EACCES, ...) rather than read(2)'s:
// opening a directory or a sysfs file whose show() fails works, reading does not.
bool is_open_error(int err);

// Applet implementations, one per file group.
int applet_cat(Ctx&);
int applet_grep(Ctx&);
int applet_ls(Ctx&);
int applet_wc(Ctx&);
int applet_head(Ctx&);
int applet_tail(Ctx&);
int applet_sort(Ctx&);
int applet_uniq(Ctx&);
int applet_cut(Ctx&);
int applet_tr(Ctx&);
int applet_tee(Ctx&);
int applet_dd(Ctx&);
int applet_md5sum(Ctx&);
int applet_cmp(Ctx&);
int applet_rm(Ctx&);
int applet_find(Ctx&);
int applet_xargs(Ctx&);
int applet_cp(Ctx&);
int applet_truncate(Ctx&);
int builtin_printf(Ctx&);
int builtin_test(Ctx&);

// ---- the shell ----

class Shell {
public:
    explicit Shell(views::Vfs& fs);

    std::string run_line(std::string_view line);
    int last_status() const { return m_status; }
    void set_interrupt_flag(const std::atomic<bool>* flag) { m_interrupt = flag; }

    // -- for applets --
    views::Vfs& fs() { return m_fs; }
    // An absolute, normalised path ("." and ".." folded) for the Vfs.
    std::string resolve(std::string_view path) const;
    const std::string& cwd() const { return m_cwd; }
    void set_cwd(std::string dir) { m_cwd = std::move(dir); }
    std::optional<std::string> get_var(std::string_view name) const;
    // Throws Abort ("X: is read only") for a readonly variable.
    void set_var(std::string_view name, std::string value, bool exported = false);
    void set_readonly(std::string_view name);
    bool is_readonly(std::string_view name) const;
    std::vector<std::pair<std::string, std::string>> readonly_vars() const;
    // `local NAME[=VALUE]`: restored when the function returns; false outside one.
    bool make_local(std::string_view name, std::optional<std::string> value);
    void unset_var(std::string_view name);
    void export_var(std::string_view name);
    std::vector<std::pair<std::string, std::optional<std::string>>> exported_vars() const;
    std::vector<std::string>& positional() { return m_positional; }
    bool interactive() const { return m_interactive; }
    // ash_msg(): "sh: [NAME: ][line N: ]msg" on `err`.
    void builtin_error(Sink& err, std::string_view name, std::string_view msg) const;
    // `sh -c TEXT` / `sh FILE`: a child shell sharing nothing but cwd and exports.
    int run_child(std::string_view script, const Io& io, std::string arg0, std::vector<std::string> params);
    // eval, `.`: text run in this shell.
    int eval_text(std::string_view text, const Io& io) { return run_text(text, io); }
    // `command NAME ARGS`: a command without function lookup.
    int run_args(std::vector<std::string> args, const Io& io) { return run_command(std::move(args), io, false); }
    int loop_depth() const { return m_loop_depth; }
    bool in_function() const { return m_function_depth > 0; }
    bool has_function(std::string_view name) const { return m_functions.find(name) != m_functions.end(); }
    int status() const { return m_status; }

    // The file operations every reader and redirection share: the operand is
    // resolved against cwd, and a trailing '/' means "a directory" as open(2) has it.
    KResult<std::string> read_path(std::string_view operand);
    // The resolved path; `append`: O_APPEND instead of O_TRUNC.
    KResult<std::string> open_write_path(std::string_view operand, bool append = false);

private:
    friend struct Ctx;

    struct Var {
        std::optional<std::string> value;  // nullopt: exported but never set
        bool exported = false;
        bool readonly = false;
    };
    // What a subshell ( (...), $(...), a pipeline stage) must not change.
    struct Saved {
        std::map<std::string, Var, std::less<>> vars;
        std::vector<std::string> positional;
        std::map<std::string, std::shared_ptr<const Node>, std::less<>> functions;
        std::string cwd;
        std::vector<std::map<std::string, std::optional<Var>, std::less<>>> local_frames;
    };

    // -- execution (shell_exec.cc) --
    int run_text(std::string_view text, const Io& io);
    int exec(const Node* n, const Io& io);
    int exec_node(const Node& n, const Io& io);
    int exec_simple(const SimpleCommand& c, const Io& io);
    int exec_pipeline(const Pipeline& p, const Io& io);
    int exec_for(const ForLoop& f, const Io& io);
    bool exec_loop_body(const Node* body, const Io& io, int& st);
    int exec_while(const WhileLoop& w, const Io& io);
    int exec_case(const CaseCommand& c, const Io& io);
    int exec_function(const Node& body, std::vector<std::string> args, const Io& io);
    int run_command(std::vector<std::string> args, const Io& io, bool use_functions = true);
    int run_applet(const AppletInfo& a, std::vector<std::string> args, const Io& io);
    std::optional<Io> redirect(const std::vector<Redir>& redirs, const Io& io);
    // Runs body on a copy of the state: ( ), $( ), pipeline stages.
    int in_subshell(const Io& io, const std::function<int()>& body);
    void report(const Abort& a, const Io& io) const;  // an Abort's message, if it has one
    Saved save() const;
    void restore(Saved s);
    void tick();  // counts a command against the line's budget
    [[noreturn]] void raise_error(const Io& io, std::string_view msg);

    // -- expansion (shell_expand.cc) --
    struct Field;
    class FieldBuilder;
    std::vector<std::string> expand_fields(const Word& w, const Io& io);
    std::vector<std::string> expand_fields(std::span<const Word> ws, const Io& io);
    std::string expand_string(const Word& w, const Io& io);
    std::string expand_pattern(const Word& w, const Io& io);  // quoted glob chars escaped
    void expand_parts(FieldBuilder& b, const std::vector<WordPart>& parts, bool split_literals,
                      const Io& io);
    void expand_param(FieldBuilder& b, const WordPart& p, const Io& io);
    std::optional<std::string> param_value(std::string_view name) const;
    std::string command_subst(const Node* n, const Io& io);
    int64_t arith(const std::string& expr, const Io& io);
    std::vector<std::string> glob(const std::string& pattern) const;

    views::Vfs& m_fs;
    std::map<std::string, Var, std::less<>> m_vars;
    std::vector<std::string> m_positional;
    std::string m_arg0 = "sh";
    std::map<std::string, std::shared_ptr<const Node>, std::less<>> m_functions;
    std::string m_cwd = "/";
    int m_status = 0;
    int m_subst_status = -1;  // status of the last $( ) in the current command, -1 if none
    bool m_interactive = true;
    int m_depth = 0;           // function/subshell nesting
    int m_loop_depth = 0;
    int m_function_depth = 0;
    // Per function call: what `local` hid (nullopt: the variable did not exist).
    std::vector<std::map<std::string, std::optional<Var>, std::less<>>> m_local_frames;
    uint64_t m_steps = 0;      // commands run for the current line: a runaway loop ends
    const std::atomic<bool>* m_interrupt = nullptr;  // Ctrl-C, checked with the step count
};

}  // namespace memplug::shell::sh
