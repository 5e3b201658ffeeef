// The human monitor (HMP): parses a command line, calls the machine's typed
// API and prints what QEMU 7.2 prints ("Error: ..." for a refusal).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace memplug::machine {

class Machine;

std::string hmp(Machine& m, std::string_view command_line);

// The commands hmp() runs, and the topics of its `info`: what Tab offers after `(qemu) `.
std::span<const std::string_view> hmp_commands();
std::span<const std::string_view> hmp_info_topics();

}  // namespace memplug::machine
