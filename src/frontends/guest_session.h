// memplug's own Session: a QEMU machine from the `$` line, its monitor for
// `(qemu)` lines, and the guest shell over the kernel model for `#` lines.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "frontends/memplug_lines.h"
#include "frontends/session.h"
#include "shell/shell.h"
#include "machine/machine.h"
#include "machine/monitor.h"
#include "views/guest_fs.h"

namespace memplug::fe {

// Shell-style word splitting of the `$` line (quotes and backslashes).
tl::expected<std::vector<std::string>, std::string> split_host_command(std::string_view line);

class GuestSession final : public Session {
public:
    enum class CheckInvariants { No, Yes };
    explicit GuestSession(CheckInvariants check = CheckInvariants::No) : m_check(check) {}

    tl::expected<std::string, std::string> run(CommandKind kind, std::string_view command) override;
    std::vector<std::string> explain_last() const override { return m_explain; }

    // Starts (or restarts) the machine from qemu-system-x86_64's arguments, without
    // the program name: what a `$` line does, for front ends that have the words already.
    tl::expected<void, machine::StartError> start(const std::vector<std::string>& qemu_args);

    machine::Machine* machine() { return m_machine.get(); }
    views::GuestFs* fs() { return m_fs.get(); }
    const shell::GuestShell* shell() const { return m_shell.get(); }

    // Ctrl-C for the guest shell of this and every later machine (see
    // GuestShell::set_interrupt_flag).
    void set_interrupt_flag(const std::atomic<bool>* flag);
    const MemplugLines& memplug_lines() const { return m_memplug_lines; }

private:
    tl::expected<std::string, std::string> run_command(CommandKind kind, std::string_view command);
    tl::expected<std::string, std::string> start_machine(std::string_view command);

    CheckInvariants m_check;
    std::unique_ptr<machine::Machine> m_machine;
    std::unique_ptr<views::GuestFs> m_fs;
    std::unique_ptr<shell::GuestShell> m_shell;
    MemplugLines m_memplug_lines;
    const std::atomic<bool>* m_interrupt = nullptr;
    std::vector<std::string> m_explain;
};

}  // namespace memplug::fe
