#include "frontends/guest_session.h"

#include <stdexcept>

#include <fmt/format.h>

namespace memplug::fe {

tl::expected<std::vector<std::string>, std::string> split_host_command(std::string_view line)
{
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    char quote = 0;
    for (size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quote) {
            if (c == quote) {
                quote = 0;
            } else if (c == '\\' && quote == '"' && i + 1 < line.size() &&
                       (line[i + 1] == '"' || line[i + 1] == '\\' || line[i + 1] == '$')) {
                cur += line[++i];
            } else {
                cur += c;
            }
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == '\\' && i + 1 < line.size()) {
            cur += line[++i];
            in_word = true;
        } else if (c == ' ' || c == '\t') {
            if (in_word) words.push_back(std::move(cur));
            cur.clear();
            in_word = false;
        } else {
            cur += c;
            in_word = true;
        }
    }
    if (quote) return tl::unexpected(std::string("unterminated quote in the qemu command line"));
    if (in_word) words.push_back(std::move(cur));
    return words;
}

tl::expected<std::string, std::string> GuestSession::start_machine(std::string_view command)
{
    auto words = split_host_command(command);
    if (!words) return tl::unexpected(words.error());
    if (words->empty() || !(words->front() == "qemu-system-x86_64" || words->front().ends_with("/qemu-system-x86_64")))
        return tl::unexpected(fmt::format("'$' lines start a machine with qemu-system-x86_64, not '{}'",
                                          words->empty() ? "" : words->front()));
    words->erase(words->begin());
    if (auto started = start(*words); !started) {
        // QEMU's refusal is what the user sees; a guest the model cannot run is a transcript error.
        if (started.error().kind == machine::StartError::Kind::Qemu) return started.error().text + "\n";
        return tl::unexpected(started.error().text);
    }
    return m_machine->startup_output();
}

tl::expected<void, machine::StartError> GuestSession::start(const std::vector<std::string>& qemu_args)
{
    m_shell.reset();
    m_fs.reset();
    m_machine.reset();
    m_memplug_lines = MemplugLines();
    auto m = machine::Machine::create(qemu_args);
    if (!m) return tl::unexpected(m.error());
    m_machine = std::move(*m);
    m_fs = std::make_unique<views::GuestFs>(m_machine->kernel(), m_machine->virtio_mem_params());
    m_shell = std::make_unique<shell::GuestShell>(*m_fs);
    m_shell->set_interrupt_flag(m_interrupt);
    return {};
}

void GuestSession::set_interrupt_flag(const std::atomic<bool>* flag)
{
    m_interrupt = flag;
    if (m_shell) m_shell->set_interrupt_flag(flag);
}

tl::expected<std::string, std::string> GuestSession::run(CommandKind kind, std::string_view command)
{
    // A bug in the model must not take the transcript's other outputs with it.
    try {
        return run_command(kind, command);
    } catch (const std::length_error& e) {
        return tl::unexpected(fmt::format("a limit of memplug: {}", e.what()));  // documented in the README
    } catch (const std::exception& e) {
        return tl::unexpected(fmt::format("memplug failed on this command ({}); please report it", e.what()));
    }
}

namespace {

// What the kernel printed since `seq` that says why: warnings and worse, and
// pr_debug() reasons; struct page's raw words say nothing to a reader.
std::vector<std::string> explanation(const mm::KernelLog& log, uint64_t seq)
{
    std::vector<std::string> out;
    for (const mm::LogRecord& r : log.since(seq))
        if ((r.level <= mm::LogLevel::Warning || r.level == mm::LogLevel::Debug) && !r.text.starts_with("raw: "))
            out.push_back(r.text);
    return out;
}

// What a command costs the model's clock (a shell command on the recorder's
// guest takes a few milliseconds).
constexpr uint64_t k_command_nsec = 10'000'000;

}  // namespace

tl::expected<std::string, std::string> GuestSession::run_command(CommandKind kind, std::string_view command)
{
    m_explain.clear();
    const uint64_t seq = m_machine ? m_machine->kernel().log().next_seq() : 0;
    if (m_machine) m_machine->kernel().log().advance(k_command_nsec);
    tl::expected<std::string, std::string> out;
    if (kind == CommandKind::Host) {
        out = start_machine(command);
    } else if (!m_machine) {
        return tl::unexpected(std::string("no machine is running: start one with '$ qemu-system-x86_64 ...'"));
    } else if (kind == CommandKind::Monitor) {
        out = machine::hmp(*m_machine, command);
        if (m_machine->quit_requested()) {
            // QEMU exits: nothing of the machine stays.
            m_shell.reset();
            m_fs.reset();
            m_machine.reset();
            return out;
        }
    } else if (kind == CommandKind::Memplug) {
        out = m_memplug_lines.run(*m_machine, command);
    } else {
        out = m_shell->run(command);
    }
    // A `$` line starts a new kernel (and log): nothing of the old one explains it.
    if (m_machine && kind != CommandKind::Host) m_explain = explanation(m_machine->kernel().log(), seq);
    if (out && m_check == CheckInvariants::Yes && m_machine) {
        if (auto inv = m_machine->kernel().check_invariants(); !inv)
            return tl::unexpected(fmt::format("model invariant violated: {}", inv.error().reason));
    }
    return out;
}

}  // namespace memplug::fe
