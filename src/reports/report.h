// What-if reports (docs/REPORTS.md): questions a platform engineer asks of a
// guest ("can I unplug this DIMM?", "how many 1 GiB pages could I still get?"),
// answered from the model's own const queries (mm's test_offline_pages,
// test_fake_offline_pages, Hugetlb::forecast) on the state as it is. Each
// answer is built once as JSON (schema 1) and the text is rendered from it, so
// the two never disagree.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "machine/machine.h"

namespace memplug::fe {

inline constexpr int k_report_schema = 1;

enum class ReportFormat { Text, Json };

// The names transcripts gave to (memplug) pin/anon allocations, for owners of pages.
using AllocName = std::function<std::string(mm::Kernel::AllocId)>;

// The report kinds this build answers, for usage messages.
inline constexpr std::string_view k_report_kinds = "unplug, plug, hugepages, zones, config, map";

// What to ask, as `report KIND [STEP] [OPTIONS]` and QMP's x-memplug-report spell it.
struct ReportRequest {
    std::string kind;
    std::string step;  // plug: one plug to judge, dimm:SIZE (a new pc-dimm) or ID:SIZE (its requested-size)
    std::string plan;  // plug, zones: STEP,STEP,... performed in turn on a copy of the machine
    std::string policy, ratio, online;  // zones: the values to sweep, comma-separated
    std::string jobs;                   // zones: threads; empty: one per core
};
tl::expected<nlohmann::ordered_json, std::string> build_report(const machine::Machine& m, const ReportRequest& req,
                                                               const AllocName& names = {});
inline tl::expected<nlohmann::ordered_json, std::string> build_report(const machine::Machine& m, std::string_view kind,
                                                                      const AllocName& names = {},
                                                                      std::string_view step = {})
{
    ReportRequest req;
    req.kind = kind;
    req.step = step;
    return build_report(m, req, names);
}
std::string render_report(const nlohmann::ordered_json& report, ReportFormat format);
// `report config` of a command line no machine runs: qemu-system-x86_64's arguments.
tl::expected<nlohmann::ordered_json, std::string> build_config_report(const std::vector<std::string>& qemu_args);

// Where the machine's state came from: what `report zones --emit-jobs` writes
// into the command lines it prints, so that each reruns it on its own.
struct ReportOrigin {
    std::string exe;   // the memplug binary
    std::string file;  // the transcript
};

// `report KIND [STEP] [OPTIONS] [--json]` as transcripts' (memplug) lines and the CLI
// spell it (OPTIONS: --plan, and zones' --policy, --ratio, --online, --jobs, --emit-jobs).
tl::expected<std::string, std::string> report_command(const machine::Machine& m, std::string_view args,
                                                      const AllocName& names = {}, const ReportOrigin* origin = nullptr);
// `report zones --merge RESULT.json...`: the jobs' results as one report.
tl::expected<std::string, std::string> merge_zones_results(const std::vector<std::string>& files, ReportFormat format);

}  // namespace memplug::fe
