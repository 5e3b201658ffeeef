// The guest shell's evaluator: ash's evaltree() over the parse tree, with fds as
// sinks. Pipelines run one stage after the other (each in a subshell copy of the
// state), which orders a stage's errors before the next stage's output.
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fnmatch.h>
#include <utility>

#include <fmt/format.h>

#include "shell/internal.h"

namespace memplug::shell::sh {

namespace {

// memplug's limits (busybox has none): each stops the command line with an
// error naming it, never silently.
constexpr uint64_t k_max_steps = 100'000'000;  // commands run by one line (a loop that never ends)
constexpr int k_max_depth = 1000;              // functions and subshells nested (endless recursion)

// ash's errmsg(): ENOENT/ENOTDIR read as the action's own words.
std::string errmsg(int err, std::string_view em)
{
    if (err == ENOENT || err == ENOTDIR)
        return std::string(em);
    return errno_text(err);
}

// Runs a cleanup however the scope is left (ash unwinds its state on longjmp).
template <typename F>
class ScopeExit {
public:
    explicit ScopeExit(F f) : m_f(std::move(f)) {}
    ~ScopeExit() { m_f(); }
    ScopeExit(const ScopeExit&) = delete;
    ScopeExit& operator=(const ScopeExit&) = delete;

private:
    F m_f;
};

std::shared_ptr<Input> make_input(std::string data, int error = 0)
{
    auto in = std::make_shared<Input>();
    in->data = std::move(data);
    in->error = error;
    return in;
}

}  // namespace

bool is_open_error(int err)
{
    return err == ENOENT || err == ENOTDIR || err == EACCES || err == EPERM || err == ELOOP ||
           err == ENAMETOOLONG;
}

// ---- fds ----

std::string Input::take()
{
    std::string rest = pos < data.size() ? data.substr(pos) : std::string();
    pos = data.size();
    return rest;
}

std::optional<std::string> Input::read_line(bool* terminated)
{
    if (terminated)
        *terminated = false;
    if (pos >= data.size())
        return std::nullopt;
    size_t nl = data.find('\n', pos);
    if (terminated)
        *terminated = nl != std::string::npos;
    size_t end = nl == std::string::npos ? data.size() : nl;
    std::string line = data.substr(pos, end - pos);
    pos = nl == std::string::npos ? data.size() : nl + 1;
    return line;
}

void StringSink::write(std::string_view data)
{
    size_t room = m_data.size() < k_limit ? k_limit - m_data.size() : 0;
    m_dropped |= data.size() > room;
    m_data.append(data.substr(0, room));
}

std::string StringSink::limit_message(std::string_view what)
{
    return fmt::format("sh: a limit of memplug: {} holds at most {} MiB; the output beyond was dropped\n", what,
                       k_limit >> 20);
}

void FileSink::write(std::string_view data)
{
    m_pending.append(data);
    // Big outputs (a file copied into tmpfs) go out in pieces, as stdio's do;
    // a sysfs store is never this large.
    if (m_pending.size() >= k_chunk)
        (void)flush_pending();
}

int FileSink::flush_pending()
{
    if (m_pending.empty() || m_error)
        return m_error;
    KResult<void> r = m_fs.write(m_path, m_pending);
    m_pending.clear();
    if (!r)
        m_error = r.error().err;
    return m_error;
}

int FileSink::flush()
{
    const int err = flush_pending();
    m_pending.clear();
    m_error = 0;
    return err;
}

int ClosedSink::flush()
{
    bool failed = m_failed;
    m_failed = false;
    return failed ? EBADF : 0;
}

// ---- the shell ----

Shell::Shell(views::Vfs& fs)
    : m_fs(fs)
{
    set_var("HOME", "/", true);
    set_var("PATH", "/sbin:/usr/sbin:/bin:/usr/bin", true);
    set_var("TERM", "linux", true);
    set_var("PWD", "/", true);
    set_var("IFS", " \t\n");
    set_var("PS1", "~ # ");
    set_var("PS2", "> ");
    set_var("PS4", "+ ");
    set_var("OPTIND", "1");
}

std::string Shell::run_line(std::string_view line)
{
    std::string text(line);
    // A typed line ends with the newline the user pressed: "echo a >" is then
    // "unexpected newline", as on the console.
    if (text.empty() || text.back() != '\n')
        text += '\n';
    auto console = std::make_shared<StringSink>(true);
    Io io{make_input(""), console, console};
    m_steps = 0;
    try {
        run_text(text, io);
    } catch (const RunawayCommand& r) {
        console->write(r.depth ? fmt::format("sh: a limit of memplug: more than {} functions and subshells nested; "
                                             "the command line was stopped\n",
                                             k_max_depth)
                               : fmt::format("sh: a limit of memplug: more than {} commands run by one line; "
                                             "the command line was stopped\n",
                                             k_max_steps));
        m_status = 2;
    } catch (const Interrupted&) {
        m_status = 128 + SIGINT;
    } catch (const ExitRequest& e) {
        // The console shell would end here (and init with it); the model keeps
        // its state and reads the next line.
        m_status = e.status;
    }
    std::string out = std::move(console->data());
    if (!out.empty() && out.back() != '\n')
        out += '\n';
    if (console->dropped())
        out += StringSink::limit_message("the console");
    return out;
}

int Shell::run_text(std::string_view text, const Io& io)
{
    Parser parser(text);
    for (;;) {
        std::shared_ptr<const Node> node;
        try {
            if (!parser.next(node))
                break;
        } catch (const SyntaxError& e) {
            io.err->write(fmt::format("sh: syntax error: {}\n", e.what()));
            io.err->flush();
            m_status = 2;
            break;
        }
        if (!node)
            continue;  // an empty line leaves $? alone
        try {
            exec(node.get(), io);
        } catch (const Abort& a) {
            report(a, io);
            m_status = a.status;  // the rest of this list is dropped, the next line runs
        } catch (const LoopControl&) {
        } catch (const FunctionReturn& r) {
            m_status = r.status;
        }
    }
    return m_status;
}

int Shell::run_child(std::string_view script, const Io& io, std::string arg0, std::vector<std::string> params)
{
    Saved saved = save();
    bool saved_interactive = m_interactive;
    std::string saved_arg0 = std::exchange(m_arg0, std::move(arg0));
    // A new process sees only exported variables.
    std::erase_if(m_vars, [](const auto& kv) { return !kv.second.exported; });
    set_var("IFS", " \t\n");
    m_functions.clear();
    m_positional = std::move(params);
    m_interactive = false;
    ScopeExit undo([&] {
        m_interactive = saved_interactive;
        m_arg0 = std::move(saved_arg0);
        restore(std::move(saved));
    });
    return in_subshell(io, [&] { return run_text(script, io); });
}

void Shell::tick()
{
    if (++m_steps > k_max_steps)
        throw RunawayCommand{false};
    if (m_interrupt && m_interrupt->load(std::memory_order_relaxed))
        throw Interrupted{};
}

void Shell::raise_error(const Io& io, std::string_view msg)
{
    io.err->write(fmt::format("sh: {}\n", msg));
    io.err->flush();
    throw Abort{2};
}

void Shell::report(const Abort& a, const Io& io) const
{
    if (a.message.empty())
        return;
    io.err->write(fmt::format("sh: {}\n", a.message));
    io.err->flush();
}

void Shell::builtin_error(Sink& err, std::string_view name, std::string_view msg) const
{
    // ash_vmsg(): a non-interactive shell names the line; `sh -c` is line 0.
    std::string line = m_interactive ? "" : "line 0: ";
    err.write(fmt::format("sh: {}: {}{}\n", name, line, msg));
    err.flush();
}

Shell::Saved Shell::save() const
{
    return Saved{m_vars, m_positional, m_functions, m_cwd, m_local_frames};
}

void Shell::restore(Saved s)
{
    m_vars = std::move(s.vars);
    m_positional = std::move(s.positional);
    m_functions = std::move(s.functions);
    m_cwd = std::move(s.cwd);
    m_local_frames = std::move(s.local_frames);
}

int Shell::in_subshell(const Io& io, const std::function<int()>& body)
{
    if (m_depth >= k_max_depth)
        throw RunawayCommand{true};
    Saved saved = save();
    int saved_loops = std::exchange(m_loop_depth, 0);  // break/continue do not leave a subshell
    int saved_functions = std::exchange(m_function_depth, 0);
    ++m_depth;
    ScopeExit undo([&] {
        --m_depth;
        m_loop_depth = saved_loops;
        m_function_depth = saved_functions;
        restore(std::move(saved));
    });
    // What ends a subshell process ends here.
    try {
        return body();
    } catch (const Abort& a) {
        report(a, io);
        return a.status;
    } catch (const ExitRequest& e) {
        return e.status;
    } catch (const LoopControl&) {
        return 0;
    } catch (const FunctionReturn& r) {
        return r.status;
    }
}

int Shell::exec(const Node* n, const Io& io)
{
    if (!n)
        return m_status = 0;
    tick();
    if (n->redirs.empty())
        return m_status = exec_node(*n, io);
    std::optional<Io> rio = redirect(n->redirs, io);
    if (!rio)
        return m_status = 1;
    int st = exec_node(*n, *rio);
    rio->out->flush();
    rio->err->flush();
    return m_status = st;
}

int Shell::exec_node(const Node& n, const Io& io)
{
    if (const auto* c = std::get_if<SimpleCommand>(&n.v))
        return exec_simple(*c, io);
    if (const auto* p = std::get_if<Pipeline>(&n.v))
        return exec_pipeline(*p, io);
    if (const auto* ao = std::get_if<AndOr>(&n.v)) {
        int st = exec(ao->first.get(), io);
        for (const auto& [is_and, next] : ao->rest)
            if (is_and == (st == 0))
                st = exec(next.get(), io);
        return st;
    }
    if (const auto* s = std::get_if<Sequence>(&n.v)) {
        int st = 0;
        for (const NodePtr& item : s->items)
            st = exec(item.get(), io);
        return st;
    }
    if (const auto* f = std::get_if<ForLoop>(&n.v))
        return exec_for(*f, io);
    if (const auto* w = std::get_if<WhileLoop>(&n.v))
        return exec_while(*w, io);
    if (const auto* i = std::get_if<IfCommand>(&n.v)) {
        for (const auto& [cond, body] : i->branches)
            if (exec(cond.get(), io) == 0)
                return exec(body.get(), io);
        return i->else_body ? exec(i->else_body.get(), io) : 0;
    }
    if (const auto* c = std::get_if<CaseCommand>(&n.v))
        return exec_case(*c, io);
    if (const auto* g = std::get_if<Group>(&n.v)) {
        if (g->subshell)
            return in_subshell(io, [&] { return exec(g->body.get(), io); });
        return exec(g->body.get(), io);
    }
    if (const auto* f = std::get_if<FunctionDef>(&n.v)) {
        m_functions[f->name] = f->body;
        return 0;
    }
    return 0;
}

int Shell::exec_pipeline(const Pipeline& p, const Io& io)
{
    int st;
    if (p.stages.size() == 1) {
        st = exec(p.stages[0].get(), io);
    } else {
        std::shared_ptr<Input> in = io.in;
        st = 0;
        for (size_t i = 0; i < p.stages.size(); ++i) {
            bool last = i + 1 == p.stages.size();
            auto pipe = std::make_shared<StringSink>();
            Io stage_io{in, last ? io.out : std::shared_ptr<Sink>(pipe), io.err};
            st = in_subshell(stage_io, [&] { return exec(p.stages[i].get(), stage_io); });
            if (!last && pipe->dropped())
                io.err->write(StringSink::limit_message("a pipe"));
            if (!last)
                in = make_input(std::move(pipe->data()));
        }
    }
    return p.negate ? !st : st;
}

int Shell::exec_for(const ForLoop& f, const Io& io)
{
    std::vector<std::string> items = f.has_in ? expand_fields(f.items, io) : m_positional;
    int st = 0;
    ++m_loop_depth;
    ScopeExit leave([&] { --m_loop_depth; });
    for (std::string& item : items) {
        set_var(f.var, std::move(item));
        if (!exec_loop_body(f.body.get(), io, st))
            break;
    }
    return st;
}

// One pass of a loop body; false when `break` ends the loop (`continue` and
// `break N` for an outer loop propagate as LoopControl).
bool Shell::exec_loop_body(const Node* body, const Io& io, int& st)
{
    try {
        st = exec(body, io);
    } catch (LoopControl& lc) {
        if (--lc.levels > 0)
            throw;
        if (lc.is_break)
            return false;
    }
    return true;
}

int Shell::exec_while(const WhileLoop& w, const Io& io)
{
    int st = 0;
    ++m_loop_depth;
    ScopeExit leave([&] { --m_loop_depth; });
    for (;;) {
        int c = exec(w.cond.get(), io);
        if (w.until ? c == 0 : c != 0)
            break;
        if (!exec_loop_body(w.body.get(), io, st))
            break;
    }
    return st;
}

int Shell::exec_case(const CaseCommand& c, const Io& io)
{
    std::string subject = expand_string(c.subject, io);
    for (const auto& [patterns, body] : c.arms)
        for (const Word& pw : patterns)
            if (::fnmatch(expand_pattern(pw, io).c_str(), subject.c_str(), 0) == 0)
                return exec(body.get(), io);
    return 0;
}

int Shell::exec_simple(const SimpleCommand& c, const Io& io)
{
    m_subst_status = -1;
    std::vector<std::string> args = expand_fields(c.args, io);
    auto expand_assigns = [&] {
        std::vector<std::pair<std::string, std::string>> out;
        for (const Word& w : c.assigns) {
            std::string text = expand_string(w, io);
            size_t eq = text.find('=');
            out.emplace_back(text.substr(0, eq), text.substr(eq + 1));
        }
        return out;
    };

    if (args.empty()) {
        // Assignments and redirections alone; $? is the last $( )'s.
        std::optional<Io> rio = redirect(c.redirs, io);
        if (!rio)
            return 1;
        for (auto& [name, value] : expand_assigns())
            set_var(name, std::move(value));
        rio->out->flush();
        rio->err->flush();
        return m_subst_status >= 0 ? m_subst_status : 0;
    }

    auto assigns = expand_assigns();
    const AppletInfo* applet = find_applet(args[0]);
    bool special = applet && applet->kind == AppletKind::Special;
    // Before a special builtin assignments stay; before anything else they would
    // only be the command's environment, which no modelled command reads.
    if (special)
        for (auto& [name, value] : assigns)
            set_var(name, std::move(value));

    std::optional<Io> rio = redirect(c.redirs, io);
    if (!rio)
        return 1;
    int st = run_command(std::move(args), *rio);
    rio->out->flush();
    rio->err->flush();
    return st;
}

int Shell::run_command(std::vector<std::string> args, const Io& io, bool use_functions)
{
    const std::string& name = args[0];
    const AppletInfo* applet = find_applet(name);
    if (applet && applet->kind == AppletKind::Special)
        return run_applet(*applet, std::move(args), io);
    if (use_functions) {
        auto fn = m_functions.find(name);
        if (fn != m_functions.end())
            return exec_function(*fn->second, std::move(args), io);
    }
    if (applet)
        return run_applet(*applet, std::move(args), io);
    // /bin/NAME and the like are busybox's links: exec'd in a child process.
    if (const size_t slash = name.rfind('/'); slash != std::string::npos) {
        const std::string dir = resolve(name.substr(0, slash + 1));
        const AppletInfo* linked = find_applet(name.substr(slash + 1));
        if (linked && (dir == "/bin" || dir == "/sbin" || dir == "/usr/bin" || dir == "/usr/sbin"))
            return run_applet(*linked, std::move(args), io);
    }
    // A path names a program file; the guest has none in /sys or /proc.
    if (name.find('/') != std::string::npos && m_fs.stat(resolve(name), true)) {
        io.err->write(fmt::format("sh: {}: Permission denied\n", name));
        io.err->flush();
        return 126;
    }
    io.err->write(fmt::format("sh: {}: not found\n", name));
    io.err->flush();
    return 127;
}

int Shell::run_applet(const AppletInfo& a, std::vector<std::string> args, const Io& io)
{
    Ctx ctx(*this, a, std::move(args), io);
    int st = a.fn(ctx);
    if (!ctx.flush_out()) {
        switch (a.on_write_failure) {
        case WriteFailure::WriteError:
        case WriteFailure::StdoutIoError:
        case WriteFailure::Silent:
            st = 1;
            break;
        case WriteFailure::Ignore:
        case WriteFailure::StdoutError:
            break;
        }
    }
    io.err->flush();
    return st;
}

int Shell::exec_function(const Node& body, std::vector<std::string> args, const Io& io)
{
    if (m_depth >= k_max_depth)
        throw RunawayCommand{true};
    std::vector<std::string> saved = std::move(m_positional);
    m_positional.assign(std::make_move_iterator(args.begin() + 1),
                        std::make_move_iterator(args.end()));
    ++m_depth;
    ++m_function_depth;
    int saved_loops = std::exchange(m_loop_depth, 0);
    m_local_frames.emplace_back();
    ScopeExit leave([&] {
        --m_depth;
        --m_function_depth;
        m_loop_depth = saved_loops;
        m_positional = std::move(saved);
        for (auto& [name, var] : m_local_frames.back()) {
            if (var)
                m_vars.insert_or_assign(name, std::move(*var));
            else
                m_vars.erase(name);
        }
        m_local_frames.pop_back();
    });
    try {
        return exec(&body, io);
    } catch (const FunctionReturn& r) {
        return r.status;
    }
}

KResult<std::string> Shell::read_path(std::string_view operand)
{
    std::string path = resolve(operand);
    if (operand.size() > 1 && operand.back() == '/') {
        KResult<views::NodeKind> kind = m_fs.stat(path, true);
        if (!kind)
            return tl::unexpected(kind.error());
        if (*kind != views::NodeKind::Dir)
            return kerr(ENOTDIR);
    }
    return m_fs.read(path);
}

KResult<std::string> Shell::open_write_path(std::string_view operand, bool append)
{
    std::string path = resolve(operand);
    if (operand.size() > 1 && operand.back() == '/')
        return kerr(EISDIR);  // open(O_CREAT) of "name/"
    KResult<void> r = append ? m_fs.open_append(path) : m_fs.open_write(path);
    if (!r)
        return tl::unexpected(r.error());
    return path;
}

std::optional<Io> Shell::redirect(const std::vector<Redir>& redirs, const Io& io)
{
    Io r = io;
    auto fail = [&](std::string msg) {
        io.err->write(fmt::format("sh: {}\n", msg));
        io.err->flush();
        return std::nullopt;
    };
    auto set_out = [&](int fd, std::shared_ptr<Sink> sink) {
        if (fd == 1)
            r.out = std::move(sink);
        else if (fd == 2)
            r.err = std::move(sink);
        else if (fd == 0)
            r.in = make_input("", EBADF);  // stdin now write-only
    };
    for (const Redir& redir : redirs) {
        if (redir.op == RedirOp::HereDoc) {
            if (redir.fd == 0)
                r.in = make_input("");
            continue;
        }
        std::string target = expand_string(redir.target, io);
        switch (redir.op) {
        case RedirOp::In:
        case RedirOp::ReadWrite: {
            KResult<std::string> data = read_path(target);
            std::shared_ptr<Input> in;
            if (data)
                in = make_input(std::move(*data));
            else if (is_open_error(data.error().err))
                return fail(fmt::format("can't open {}: {}", target,
                                        errmsg(data.error().err, "no such file")));
            else
                in = make_input("", data.error().err);
            if (redir.fd == 0)
                r.in = std::move(in);
            else if (redir.fd == 1 || redir.fd == 2)
                set_out(redir.fd, std::make_shared<ClosedSink>());  // read-only fd
            break;
        }
        case RedirOp::Out:
        case RedirOp::Clobber:
        case RedirOp::Append: {
            KResult<std::string> path = open_write_path(target, redir.op == RedirOp::Append);
            if (!path)
                return fail(fmt::format("can't create {}: {}", target,
                                        errmsg(path.error().err, "nonexistent directory")));
            set_out(redir.fd, std::make_shared<FileSink>(m_fs, *path));
            break;
        }
        case RedirOp::DupOut:
        case RedirOp::DupIn: {
            if (target == "-") {
                if (redir.fd == 0)
                    r.in = make_input("", EBADF);
                else
                    set_out(redir.fd, std::make_shared<ClosedSink>());
                break;
            }
            bool numeric = !target.empty() && target.size() <= 9 &&
                           std::all_of(target.begin(), target.end(),
                                       [](char ch) { return ch >= '0' && ch <= '9'; });
            if (!numeric) {
                if (redir.op == RedirOp::DupIn)
                    return fail(fmt::format("{}: bad fd number", target));
                // bash's ">&FILE": stdout and stderr to FILE.
                KResult<std::string> path = open_write_path(target);
                if (!path)
                    return fail(fmt::format("can't create {}: {}", target,
                                            errmsg(path.error().err, "nonexistent directory")));
                auto sink = std::make_shared<FileSink>(m_fs, *path);
                r.out = sink;
                r.err = sink;
                break;
            }
            int from = std::stoi(target);
            if (from > 2)
                return fail(fmt::format("{}: Bad file descriptor", from));
            if (redir.fd == 0) {
                if (from != 0)
                    r.in = make_input("");
            } else if (from == 1) {
                set_out(redir.fd, r.out);
            } else if (from == 2) {
                set_out(redir.fd, r.err);
            } else {
                set_out(redir.fd, std::make_shared<ClosedSink>());  // fd 0 is read-only
            }
            break;
        }
        case RedirOp::HereDoc:
            break;
        }
    }
    return r;
}

}  // namespace memplug::shell::sh
