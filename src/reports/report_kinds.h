// Inside the reports: each kind's builder and text renderer (one file per kind:
// report_unplug.cc, report_plug.cc, report_hugepages.cc, report_zones.cc, report_config.cc;
// plans of plug steps in report_plan.cc) and what they share.
// report.cc dispatches; nothing outside the reports includes this.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "reports/report.h"
#include "machine/machine.h"

namespace memplug::fe::report_detail {

// "EBUSY" (strerrorname_np), or "errno N" for a number it does not know.
std::string errno_name(int err);
// "1.5 GiB", "128 MiB", "4 KiB": sizes as a person reads them.
std::string human_bytes(uint64_t b);
// {"errno": NAME or null for 0, "reason": ...}
nlohmann::ordered_json err_json(int err, const std::string& reason);

nlohmann::ordered_json unplug_report(const machine::Machine& m, const AllocName& names);
std::string unplug_text(const nlohmann::ordered_json& r);
// What a requested-size shrink of `dev` can give back (the unplug report's `shrink`).
nlohmann::ordered_json shrink_json(const machine::Machine& m, const machine::VirtioMem& dev, const AllocName& names);

nlohmann::ordered_json hugepages_report(const machine::Machine& m);
std::string hugepages_text(const nlohmann::ordered_json& r);

// A plug step: `dimm:SIZE[@NODE]` a new pc-dimm (on node NODE), `ID:SIZE` that
// virtio-mem-pci's requested-size.
struct PlugStep {
    std::string text;    // as written
    std::string target;  // "dimm" or the device's id
    uint64_t size = 0;
    std::optional<int> node;
};
tl::expected<PlugStep, std::string> parse_plug_step(const machine::Machine& m, std::string_view text);
// A plan: steps separated by commas.
tl::expected<std::vector<PlugStep>, std::string> parse_plan(const machine::Machine& m, std::string_view text);
// The plug report's judgement of one step on the state as it is (its `step` object).
nlohmann::ordered_json plug_step_json(const machine::Machine& m, const PlugStep& s);
// The step performed on `m` (a fork) through QEMU's verbs, as a user's object-add,
// device_add or qom-set would: what QEMU refused in its words, what the guest did.
// `ok`: QEMU took it and the guest added all of it (or reached the requested size).
nlohmann::ordered_json perform_plug_step(machine::Machine& m, const PlugStep& s);

// The plan judged (plug_step_json) and performed step by step on a fork of `m`:
// {steps: [{step, judged, outcome, kernel_memory}], first_failure}.
tl::expected<nlohmann::ordered_json, std::string> plug_plan_json(const machine::Machine& m, std::string_view plan);
// "QEMU refuses: ...", "added at 0x...": an outcome as a line of text.
std::string plug_outcome_text(const nlohmann::ordered_json& outcome);

// `plan`: steps to judge and perform one after the other on a fork of `m`.
tl::expected<nlohmann::ordered_json, std::string> plug_report(const machine::Machine& m, std::string_view step,
                                                              std::string_view plan = {});
std::string plug_text(const nlohmann::ordered_json& r);
// The largest pc-dimm QEMU places now that is a multiple of the memory block (0: none).
uint64_t dimm_qemu_max(const machine::Machine& m);

// The command line judged without running QEMU: Machine::create's refusal, or the
// layout, the limits and what the guest shows with all of maxmem plugged.
tl::expected<nlohmann::ordered_json, std::string> config_report(const std::vector<std::string>& qemu_args);
std::string config_text(const nlohmann::ordered_json& r);

// report zones: its options as given (comma-separated lists; empty: the current value).
tl::expected<nlohmann::ordered_json, std::string> zones_report(const machine::Machine& m, const ReportRequest& req);
// One self-contained command line per combination, each printing its JSON
// (`memplug report zones FILE ... --json`), for GNU parallel or a Slurm array.
tl::expected<std::string, std::string> zones_emit_jobs(const machine::Machine& m, const ReportRequest& req,
                                                       const ReportOrigin& origin);
// The per-job reports (files of their JSON) as one report, as the sweep in one process gives it.
tl::expected<nlohmann::ordered_json, std::string> zones_merge(const std::vector<std::string>& files);
std::string zones_text(const nlohmann::ordered_json& r);

}  // namespace memplug::fe::report_detail
