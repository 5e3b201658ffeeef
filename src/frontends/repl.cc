#include "frontends/repl.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <span>
#include <string_view>
#include <vector>

#include <sys/select.h>
#include <unistd.h>

#include <fmt/format.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "frontends/fidelity.h"
#include "frontends/guest_session.h"
#include "frontends/runner.h"
#include "frontends/transcript.h"
#include "machine/monitor.h"
#include "shell/shell.h"

namespace memplug::fe {

namespace {

constexpr std::string_view k_qemu = "qemu-system-x86_64";
constexpr int k_history_lines = 1000;

// Ctrl-C: set by the SIGINT handler, read by the prompt loop and by the guest shell.
std::atomic<bool> g_interrupt{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void on_sigint(int)
{
    g_interrupt.store(true);
}

std::vector<std::string> starting_with(std::span<const std::string_view> names, std::string_view word)
{
    std::vector<std::string> result;
    for (std::string_view name : names)
        if (name.starts_with(word)) result.emplace_back(name);
    return result;
}

// XDG Base Directory: $XDG_STATE_HOME (absolute, else ignored) or ~/.local/state.
std::filesystem::path history_path()
{
    std::filesystem::path base;
    if (const char* state = std::getenv("XDG_STATE_HOME"); state && state[0] == '/')
        base = state;
    else if (const char* home = std::getenv("HOME"); home && home[0] != '\0')
        base = std::filesystem::path(home) / ".local" / "state";
    else
        return {};
    return base / "memplug" / "history";
}

class Repl {
public:
    explicit Repl(bool check_invariants)
        : m_session(check_invariants ? GuestSession::CheckInvariants::Yes : GuestSession::CheckInvariants::No)
    {
        m_session.set_interrupt_flag(&g_interrupt);
    }

    bool has_machine() { return m_session.machine() != nullptr; }

    // One line as typed; false when it ends the session.
    bool take_line(std::string_view line)
    {
        if (!m_pending.empty()) {
            m_pending.append(line).push_back('\n');
            if (!shell::needs_more_input(m_pending)) run_guest();
            return true;
        }
        if (is_comment(line)) return true;  // as in a transcript
        // A transcript's prompts; without one, a QEMU command line or the guest's shell.
        const auto prompted = parse_command(line);
        const CommandKind kind = prompted ? prompted->first : line.starts_with(k_qemu) ? CommandKind::Host : CommandKind::Guest;
        const std::string_view command = prompted ? prompted->second : line;
        const auto words = words_of(command);
        if (words.empty()) return true;
        if (kind == CommandKind::Guest && words.size() == 1 && words[0] == "exit") return false;
        if (kind != CommandKind::Guest) {
            execute(kind, command);
            return true;
        }
        m_pending.append(command).push_back('\n');
        if (!has_machine() || !shell::needs_more_input(m_pending)) run_guest();
        return true;
    }

    // Ctrl-C at the prompt: the line, and the lines of an unfinished command, go.
    void abandon_input() { m_pending.clear(); }

    // busybox's PS1 with a machine, a host shell's without, PS2 inside a command.
    const char* prompt() { return !m_pending.empty() ? "> " : has_machine() ? "# " : "$ "; }

    // What Tab offers for `word`, which begins at `start` of `line`.
    std::vector<std::string> completions(std::string_view line, std::size_t start, std::string_view word)
    {
        if (m_pending.empty()) {
            const std::string_view before = line.substr(0, start);
            const auto prompted = parse_command(before);
            const CommandKind kind = prompted ? prompted->first : before.starts_with(k_qemu) ? CommandKind::Host : CommandKind::Guest;
            const auto words = words_of(prompted ? prompted->second : before);
            if (kind == CommandKind::Monitor) {
                if (words.empty()) return starting_with(machine::hmp_commands(), word);
                if (words.size() == 1 && words[0] == "info") return starting_with(machine::hmp_info_topics(), word);
                return {};
            }
            if (kind == CommandKind::Memplug) return {};
            if (kind == CommandKind::Host) {
                const std::string_view qemu[] = {k_qemu};
                return prompted && words.empty() ? starting_with(qemu, word) : std::vector<std::string>();
            }
        }
        const shell::GuestShell* guest = m_session.shell();
        return guest ? guest->complete_path(word) : std::vector<std::string>();
    }

    // A --machine line: false (with the reason printed) when no machine runs after it.
    bool start(std::string_view machine)
    {
        const std::string line = machine.starts_with(k_qemu) ? std::string(machine) : fmt::format("{} {}", k_qemu, machine);
        execute(CommandKind::Host, line);
        return has_machine();
    }

private:
    void run_guest()
    {
        std::string text = std::move(m_pending);
        m_pending.clear();
        execute(CommandKind::Guest, text);
    }

    void execute(CommandKind kind, std::string_view command)
    {
        g_interrupt.store(false);
        auto out = m_session.run(kind, command);
        if (out)
            std::cout << *out << std::flush;
        else
            std::cerr << "memplug: " << out.error() << "\n";
        // It stopped this command, not the next line; the terminal showed "^C" alone.
        if (g_interrupt.exchange(false)) std::cout << "\n" << std::flush;
    }

    GuestSession m_session;
    std::string m_pending;  // guest lines typed so far of a command that wants more
};

Repl* g_repl = nullptr;  // for readline's callbacks
bool g_done = false;
int g_new_history = 0;

// readline's match list: [0] what replaces the word (the common prefix), then the
// matches, then null; all malloc'ed, readline frees them.
char** to_matches(const std::vector<std::string>& candidates)
{
    auto** matches = static_cast<char**>(std::calloc(candidates.size() + 2, sizeof(char*)));
    std::string common = candidates.front();
    for (const std::string& c : candidates)
        common.erase(static_cast<std::size_t>(std::mismatch(common.begin(), common.end(), c.begin(), c.end()).first -
                                              common.begin()));
    matches[0] = strdup(candidates.size() == 1 ? candidates.front().c_str() : common.c_str());
    if (candidates.size() > 1)
        for (std::size_t i = 0; i < candidates.size(); ++i) matches[i + 1] = strdup(candidates[i].c_str());
    return matches;
}

extern "C" char** complete(const char* text, int start, int)
{
    rl_attempted_completion_over = 1;  // never readline's own completion of the host's file names
    const auto candidates = g_repl->completions(rl_line_buffer, static_cast<std::size_t>(start), text);
    if (candidates.empty()) return nullptr;
    if (candidates.size() == 1 && candidates.front().ends_with('/')) rl_completion_suppress_append = 1;
    return to_matches(candidates);
}

// Lists paths by their last component, as bash lists file names.
extern "C" void display_matches(char** matches, int count, int)
{
    std::vector<std::string> shown;
    for (int i = 1; i <= count; ++i) {
        std::string_view m = matches[i];
        const std::size_t slash = m.substr(0, m.size() - (m.ends_with('/') ? 1 : 0)).rfind('/');
        shown.emplace_back(slash == std::string_view::npos ? m : m.substr(slash + 1));
    }
    std::vector<char*> list{matches[0]};
    int longest = 0;
    for (std::string& s : shown) {
        list.push_back(s.data());
        longest = std::max(longest, static_cast<int>(s.size()));
    }
    list.push_back(nullptr);
    rl_display_match_list(list.data(), count, longest);
    rl_forced_update_display();
}

extern "C" void on_line(char* raw)
{
    if (raw == nullptr) {  // Ctrl-D
        std::fputs("\n", rl_outstream);
        g_done = true;
        rl_callback_handler_remove();
        return;
    }
    std::string line(raw);
    std::free(raw);
    if (!line.empty()) {
        add_history(line.c_str());
        ++g_new_history;
    }
    if (!g_repl->take_line(line)) {
        g_done = true;
        rl_callback_handler_remove();
        return;
    }
    rl_set_prompt(g_repl->prompt());
}

// Ctrl-C at the prompt: a fresh, empty line; the session goes on.
void abandon_line()
{
    rl_free_line_state();
    rl_callback_sigcleanup();
    rl_replace_line("", 0);
    std::fputs("^C", rl_outstream);
    rl_crlf();
    g_repl->abandon_input();
    rl_set_prompt(g_repl->prompt());
    rl_on_new_line();
    rl_redisplay();
}

void load_history(const std::filesystem::path& path)
{
    using_history();
    stifle_history(k_history_lines);
    if (path.empty()) return;
    std::error_code ignored;
    std::filesystem::create_directories(path.parent_path(), ignored);
    read_history(path.c_str());  // none yet is fine
}

void save_history(const std::filesystem::path& path)
{
    if (path.empty() || g_new_history == 0) return;
    const int err = std::filesystem::exists(path) ? append_history(g_new_history, path.c_str())
                                                  : write_history(path.c_str());
    if (err != 0) {
        std::cerr << "memplug: cannot save the history in " << path.string() << ": " << std::strerror(err) << "\n";
        return;
    }
    history_truncate_file(path.c_str(), k_history_lines);
}

// Readline's callback interface, so that SIGINT stays ours: at the prompt it
// abandons the line, during a command it stops the guest shell.
void read_terminal(Repl& repl)
{
    std::cerr << "memplug repl: '$ qemu-system-x86_64 ...' starts a machine, '(qemu) CMD' talks to the monitor,\n"
                 "anything else (or '# CMD') runs in the guest shell; Tab completes the guest's paths.\n"
                 "Ctrl-C abandons the line or stops the command; 'exit' or Ctrl-D quits.\n";
    g_repl = &repl;
    const std::filesystem::path history = history_path();
    load_history(history);
    rl_readline_name = "memplug";
    rl_catch_signals = 0;
    rl_attempted_completion_function = complete;
    rl_completion_display_matches_hook = display_matches;

    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);  // no SA_RESTART: the wait below returns on Ctrl-C
    struct sigaction saved {};
    sigaction(SIGINT, &sa, &saved);
    sigset_t sigint, unblocked;
    sigemptyset(&sigint);
    sigaddset(&sigint, SIGINT);
    sigprocmask(SIG_BLOCK, &sigint, &unblocked);

    rl_callback_handler_install(repl.prompt(), on_line);
    while (!g_done) {
        if (g_interrupt.exchange(false)) abandon_line();
        fd_set in;
        FD_ZERO(&in);
        FD_SET(fileno(rl_instream), &in);
        // SIGINT is blocked but while waiting: none slips in between the check and the wait.
        const int ready = pselect(fileno(rl_instream) + 1, &in, nullptr, nullptr, nullptr, &unblocked);
        if (ready < 0) {
            if (errno == EINTR) continue;
            break;
        }
        sigprocmask(SIG_SETMASK, &unblocked, nullptr);  // a command that runs can be interrupted
        rl_callback_read_char();
        sigprocmask(SIG_BLOCK, &sigint, nullptr);
    }
    if (!g_done) rl_callback_handler_remove();
    sigprocmask(SIG_SETMASK, &unblocked, nullptr);
    sigaction(SIGINT, &saved, nullptr);
    save_history(history);
}

void read_pipe(Repl& repl)
{
    for (std::string line; std::getline(std::cin, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!repl.take_line(line)) return;
    }
}

}  // namespace

int run_repl(const ReplOptions& options)
{
    Repl repl(options.check_invariants);
    if (!options.machine.empty() && !repl.start(options.machine)) {
        std::cerr << "memplug repl: --machine started no machine\n";
        return k_status_error;
    }
    if (isatty(STDIN_FILENO))
        read_terminal(repl);
    else
        read_pipe(repl);
    return k_status_ok;
}

}  // namespace memplug::fe
