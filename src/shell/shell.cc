// GuestShell: the public face of the guest shell (shell_*.cc hold the rest).
#include "shell/shell.h"

#include <algorithm>

#include "shell/internal.h"
#include "views/vfs.h"

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

void GuestShell::set_interrupt_flag(const std::atomic<bool>* flag)
{
    m_shell->set_interrupt_flag(flag);
}

std::vector<std::string> GuestShell::complete_path(std::string_view word) const
{
    const std::size_t slash = word.rfind('/');
    const std::string_view dir_part = slash == std::string_view::npos ? std::string_view() : word.substr(0, slash + 1);
    const std::string_view stem = word.substr(dir_part.size());
    const std::string dir = m_shell->resolve(dir_part.empty() ? "." : dir_part);
    auto names = m_shell->fs().list(dir);
    if (!names)
        return {};
    std::vector<std::string> candidates;
    for (const std::string& name : *names) {
        if (!name.starts_with(stem) || (stem.empty() && name.starts_with('.')))
            continue;
        std::string candidate = std::string(dir_part) + name;
        const std::string path = dir == "/" ? "/" + name : dir + "/" + name;
        auto kind = m_shell->fs().stat(path, true);
        if (kind && *kind == views::NodeKind::Dir)
            candidate += '/';
        candidates.push_back(std::move(candidate));
    }
    std::sort(candidates.begin(), candidates.end());
    return candidates;
}

bool needs_more_input(std::string_view text)
{
    return sh::needs_more_input(text);
}

}  // namespace memplug::shell
