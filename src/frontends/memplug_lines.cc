#include "frontends/memplug_lines.h"

#include <cstring>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "reports/report.h"
#include "mm/kstrtox.h"

namespace memplug::fe {


std::string MemplugLines::name_of(mm::Kernel::AllocId id) const
{
    for (const auto& [name, a] : m_names)
        if (a == id) return name;
    return std::to_string(id);
}

tl::expected<std::string, std::string> MemplugLines::run(machine::Machine& m, std::string_view command)
{
    mm::Kernel& k = m.kernel();
    std::istringstream in{std::string(command)};
    std::vector<std::string> w;
    for (std::string t; in >> t;) w.push_back(t);
    if (w.empty()) return tl::unexpected(std::string("an empty (memplug) line: expected pin, anon, free or report"));
    const std::string& verb = w[0];
    if (verb == "report")
        return report_command(m, command.substr(command.find("report") + 6),
                              [this](mm::Kernel::AllocId id) { return name_of(id); });
    if (verb == "free") {
        if (w.size() != 2) return tl::unexpected(std::string("usage: (memplug) free NAME"));
        auto it = m_names.find(w[1]);
        if (it == m_names.end()) return tl::unexpected(fmt::format("(memplug) free: nothing is called '{}'", w[1]));
        k.free_workload(it->second);
        m_names.erase(it);
        return std::string();
    }
    if (verb != "pin" && verb != "anon")
        return tl::unexpected(fmt::format("unknown (memplug) command '{}': expected pin, anon, free or report", verb));
    if (w.size() < 3 || w.size() > 4)
        return tl::unexpected(fmt::format("usage: (memplug) {} NAME SIZE [node=N]", verb));
    if (m_names.count(w[1])) return tl::unexpected(fmt::format("(memplug) {}: '{}' exists already", verb, w[1]));
    const auto size = mm::memparse(w[2]);
    if (!size || !*size) return tl::unexpected(fmt::format("(memplug) {}: bad size '{}'", verb, w[2]));
    mm::NodeId nid = k.shell_node();
    if (w.size() == 4) {
        const auto n = w[3].starts_with("node=") ? mm::kstrtoull(std::string_view(w[3]).substr(5), 10, 63)
                                                : KResult<uint64_t>(kerr(EINVAL));
        if (!n || !k.node_online(mm::NodeId(*n)))
            return tl::unexpected(fmt::format("(memplug) {}: '{}' is not node=N of an online node", verb, w[3]));
        nid = mm::NodeId(*n);
    }
    const mm::PageCount pages(*size / mm::PAGE_SIZE + (*size % mm::PAGE_SIZE != 0));
    auto id = verb == "pin" ? k.pin_kernel_memory(nid, pages) : k.alloc_anon_memory(nid, pages);
    if (!id) return fmt::format("memplug: {}: {}\n", w[1], std::strerror(id.error().err));
    m_names.emplace(w[1], *id);
    return std::string();
}

}  // namespace memplug::fe
