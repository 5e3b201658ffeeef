// QEMU 7.2's HMP command tables: names and help texts, as `help` prints them.
#pragma once

#include <span>

namespace memplug::machine {

struct HmpCommand {
    const char* name;  // "quit|q": the name and its aliases
    const char* text;  // " params -- help", what `help` prints after the name
};

// Top-level commands and `info` subcommands, sorted by name as QEMU sorts them.
std::span<const HmpCommand> hmp_command_table();
std::span<const HmpCommand> hmp_info_table();

}  // namespace memplug::machine
