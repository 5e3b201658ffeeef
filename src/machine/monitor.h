// The human monitor (HMP): parses a command line, calls the machine's typed
// API and prints what QEMU 7.2 prints ("Error: ..." for a refusal).
#pragma once

#include <string>
#include <string_view>

namespace memplug::machine {

class Machine;

std::string hmp(Machine& m, std::string_view command_line);

}  // namespace memplug::machine
