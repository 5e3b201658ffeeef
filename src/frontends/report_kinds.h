// Inside the reports: each kind's builder and text renderer (one file per kind:
// report_unplug.cc, report_plug.cc, report_hugepages.cc, report_config.cc) and what they share.
// report.cc dispatches; nothing outside the reports includes this.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "frontends/report.h"
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

tl::expected<nlohmann::ordered_json, std::string> plug_report(const machine::Machine& m, std::string_view step);
std::string plug_text(const nlohmann::ordered_json& r);
// The largest pc-dimm QEMU places now that is a multiple of the memory block (0: none).
uint64_t dimm_qemu_max(const machine::Machine& m);

// The command line judged without running QEMU: Machine::create's refusal, or the
// layout, the limits and what the guest shows with all of maxmem plugged.
tl::expected<nlohmann::ordered_json, std::string> config_report(const std::vector<std::string>& qemu_args);
std::string config_text(const nlohmann::ordered_json& r);

}  // namespace memplug::fe::report_detail
