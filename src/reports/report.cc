#include "reports/report.h"

#include <cstring>
#include <map>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "reports/memory_map.h"
#include "reports/report_kinds.h"

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

tl::expected<ordered_json, std::string> build_report(const machine::Machine& m, const ReportRequest& req,
                                                     const AllocName& names)
{
    const std::string& kind = req.kind;
    if (kind != "unplug" && kind != "hugepages" && kind != "plug" && kind != "config" && kind != "zones")
        return tl::unexpected(fmt::format("unknown report '{}': expected one of {}", kind, k_report_kinds));
    if (!req.step.empty() && kind != "plug")
        return tl::unexpected(kind == "zones" ? std::string("report zones takes no step: its steps are --plan's")
                                              : fmt::format("report {} takes no step", kind));
    if (kind != "zones" && !(req.policy.empty() && req.ratio.empty() && req.online.empty() && req.jobs.empty()))
        return tl::unexpected(fmt::format("report {} takes none of --policy, --ratio, --online, --jobs", kind));
    if (kind != "zones" && kind != "plug" && !req.plan.empty())
        return tl::unexpected(fmt::format("report {} takes no --plan", kind));
    if (kind == "unplug") return unplug_report(m, names);
    if (kind == "hugepages") return hugepages_report(m);
    if (kind == "plug") return plug_report(m, req.step, req.plan);
    if (kind == "config") return config_report(m.args());
    return zones_report(m, req);
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
    if (r["report"] == "zones") return zones_text(r);
    return hugepages_text(r);
}

tl::expected<std::string, std::string> report_command(const machine::Machine& m, std::string_view args,
                                                      const AllocName& names, const ReportOrigin* origin)
{
    std::istringstream in{std::string(args)};
    std::vector<std::string> w;
    for (std::string t; in >> t;) w.push_back(t);
    ReportFormat format = ReportFormat::Text;
    ReportRequest req;
    bool emit_jobs = false;
    const std::map<std::string_view, std::string*> valued = {{"--plan", &req.plan},   {"--policy", &req.policy},
                                                             {"--ratio", &req.ratio}, {"--online", &req.online},
                                                             {"--jobs", &req.jobs}};
    const std::string usage = fmt::format("usage: report KIND [STEP] [--plan STEPS] [--json] (KIND: {}; STEP, plug only: "
                                          "dimm:SIZE or ID:SIZE; zones also takes --policy, --ratio, --online, --jobs, "
                                          "--emit-jobs)", k_report_kinds);
    for (size_t i = 0; i < w.size(); ++i) {
        const std::string& a = w[i];
        if (a == "--json") {
            format = ReportFormat::Json;
        } else if (a == "--emit-jobs") {
            emit_jobs = true;
        } else if (auto v = valued.find(a); v != valued.end()) {
            if (i + 1 == w.size()) return tl::unexpected(fmt::format("{} needs a value; {}", a, usage));
            *v->second = w[++i];
        } else if (req.kind.empty()) {
            req.kind = a;
        } else if (req.step.empty()) {
            req.step = a;
        } else {
            return tl::unexpected(usage);
        }
    }
    if (req.kind.empty()) return tl::unexpected(usage);
    if (emit_jobs && req.kind != "zones") return tl::unexpected(fmt::format("report {} takes no --emit-jobs", req.kind));
    // The map is a picture: SVG, which has no JSON form.
    if (req.kind == "map") {
        if (format == ReportFormat::Json) return tl::unexpected(std::string("report map draws SVG; it has no --json"));
        if (!req.step.empty() || !req.plan.empty()) return tl::unexpected(std::string("report map takes no step"));
        return memory_map_svg(m);
    }
    if (emit_jobs) {
        if (!req.step.empty()) return tl::unexpected(std::string("report zones takes no step: its steps are --plan's"));
        if (!origin) return tl::unexpected(std::string("--emit-jobs is for the command line: memplug report zones FILE --emit-jobs"));
        return zones_emit_jobs(m, req, *origin);
    }
    return render_report(MP_TRY(build_report(m, req, names)), format);
}

tl::expected<std::string, std::string> merge_zones_results(const std::vector<std::string>& files, ReportFormat format)
{
    // The files are anyone's JSON: a member of the wrong type or missing is a
    // refusal, not a crash.
    try {
        return render_report(MP_TRY(zones_merge(files)), format);
    } catch (const nlohmann::json::exception& e) {
        return tl::unexpected(fmt::format("the results are not the JSON of zones reports of schema {} ({})",
                                          k_report_schema, e.what()));
    }
}

}  // namespace memplug::fe
