// The guest's shell: the subset of busybox 1.35 `ash` (interactive, on a serial
// console) and its applets that people paste into memory-hotplug bug reports.
// Output and error texts are busybox's own, byte for byte; the files it reads and
// writes are the guest's /sys, /proc and /dev/null behind views::Vfs.
#pragma once

#include <memory>
#include <string>
#include <string_view>

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

private:
    std::unique_ptr<sh::Shell> m_shell;
};

}  // namespace memplug::shell
