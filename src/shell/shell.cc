// GuestShell: the public face of the guest shell (shell_*.cc hold the rest).
#include "shell/shell.h"

#include "shell/internal.h"

namespace memplug::shell {

GuestShell::GuestShell(views::Vfs& fs)
    : m_shell(std::make_unique<sh::Shell>(fs))
{
}
GuestShell::~GuestShell() = default;
GuestShell::GuestShell(GuestShell&&) noexcept = default;
GuestShell& GuestShell::operator=(GuestShell&&) noexcept = default;

std::string GuestShell::run(std::string_view line)
{
    return m_shell->run_line(line);
}

int GuestShell::last_status() const
{
    return m_shell->last_status();
}

}  // namespace memplug::shell
