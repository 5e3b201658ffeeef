// The guest's shell: the subset of busybox 1.35 `ash` (interactive, on a serial
// console) and its applets that people paste into memory-hotplug bug reports.
// Output and error texts are busybox's own, byte for byte; the files it reads and
// writes are the guest's /sys, /proc and /dev/null behind views::Vfs.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace memplug::views {
class Vfs;
}

namespace memplug::shell {

namespace sh {
class Shell;
}

class GuestShell {
public:
    explicit GuestShell(views::Vfs& fs);
    ~GuestShell();
    GuestShell(GuestShell&&) noexcept;
    GuestShell& operator=(GuestShell&&) noexcept;

    // Runs one command line as typed at the prompt; returns everything printed
    // (stdout and stderr interleaved in the order busybox writes them), each line
    // ending in '\n' (output that does not end a line gets one, where the real
    // console would show the next prompt). Shell state (variables, cwd, last $?)
    // persists between calls. A syntax error runs nothing, as ash parses the whole
    // line first; an unterminated construct is reported as at end of input.
    std::string run(std::string_view line);

    // $? after the last run().
    int last_status() const;

    // Ctrl-C at the console: while `*flag` is set, the running command line stops
    // before its next command (status 130, as ash's on SIGINT); each command before
    // it has had its whole effect. The flag may be set from a signal handler.
    void set_interrupt_flag(const std::atomic<bool>* flag);

    // What Tab offers for `word`, a path as typed (relative to the shell's working
    // directory): the entries of its directory that begin with its last component,
    // each as `word` completed, directories with a '/' after them; sorted.
    std::vector<std::string> complete_path(std::string_view word) const;

private:
    std::unique_ptr<sh::Shell> m_shell;
};

// Is `text` (lines typed so far, each ending in '\n') the start of a longer command,
// such as `for ... do` or an open quote, so that ash would show PS2 ("> ") and read
// another line? A complete command and a syntax error both say no.
bool needs_more_input(std::string_view text);

}  // namespace memplug::shell
