#include "frontends/report.h"

#include <cstring>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "frontends/memory_map.h"
#include "frontends/report_kinds.h"

namespace memplug::fe {

using nlohmann::ordered_json;

namespace report_detail {

std::string errno_name(int err)
{
    const char* n = strerrorname_np(err);
    return n ? n : fmt::format("errno {}", err);
}

std::string human_bytes(uint64_t b)
{
    static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    double v = double(b);
    while (v >= 1024 && u < 5) {
        v /= 1024;
        ++u;
    }
    if (v == double(uint64_t(v))) return fmt::format("{} {}", uint64_t(v), units[u]);
    return fmt::format("{:.1f} {}", v, units[u]);
}


ordered_json err_json(int err, const std::string& reason)
{
    return {{"errno", err ? ordered_json(errno_name(err)) : ordered_json(nullptr)}, {"reason", reason}};
}

}  // namespace report_detail

using namespace report_detail;

tl::expected<ordered_json, std::string> build_report(const machine::Machine& m, std::string_view kind,
                                                     const AllocName& names, std::string_view step)
{
    if (!step.empty() && kind != "plug") return tl::unexpected(fmt::format("report {} takes no step", kind));
    if (kind == "unplug") return unplug_report(m, names);
    if (kind == "hugepages") return hugepages_report(m);
    if (kind == "plug") return plug_report(m, step);
    if (kind == "config") return config_report(m.args());
    return tl::unexpected(fmt::format("unknown report '{}': expected one of {}", kind, k_report_kinds));
}

tl::expected<ordered_json, std::string> build_config_report(const std::vector<std::string>& qemu_args)
{
    return config_report(qemu_args);
}

std::string render_report(const ordered_json& r, ReportFormat format)
{
    if (format == ReportFormat::Json) return r.dump(2) + "\n";
    if (r["report"] == "unplug") return unplug_text(r);
    if (r["report"] == "plug") return plug_text(r);
    if (r["report"] == "config") return config_text(r);
    return hugepages_text(r);
}

tl::expected<std::string, std::string> report_command(const machine::Machine& m, std::string_view args,
                                                      const AllocName& names)
{
    std::istringstream in{std::string(args)};
    std::vector<std::string> w;
    for (std::string t; in >> t;) w.push_back(t);
    ReportFormat format = ReportFormat::Text;
    std::string kind, step;
    const std::string usage = fmt::format("usage: report KIND [STEP] [--json] (KIND: {}; STEP, plug only: dimm:SIZE or ID:SIZE)", k_report_kinds);
    for (const std::string& a : w) {
        if (a == "--json")
            format = ReportFormat::Json;
        else if (kind.empty())
            kind = a;
        else if (step.empty())
            step = a;
        else
            return tl::unexpected(usage);
    }
    if (kind.empty()) return tl::unexpected(usage);
    // The map is a picture: SVG, which has no JSON form.
    if (kind == "map") {
        if (format == ReportFormat::Json) return tl::unexpected(std::string("report map draws SVG; it has no --json"));
        if (!step.empty()) return tl::unexpected(std::string("report map takes no step"));
        return memory_map_svg(m);
    }
    auto r = build_report(m, kind, names, step);
    if (!r) return tl::unexpected(r.error());
    return render_report(*r, format);
}

}  // namespace memplug::fe
