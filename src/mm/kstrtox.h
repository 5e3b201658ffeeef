// The kernel's string-to-number parsers (lib/kstrtox.c), as sysfs stores and
// kernel parameters use them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "mm/result.h"

namespace memplug::mm {

// kstrtobool: the first character decides; "on"/"off" by the second.
std::optional<bool> kstrtobool(std::string_view s);

// kstrtoull with base 0 (0x, 0 prefixes), one trailing newline allowed:
// EINVAL for anything that is not a number, ERANGE for one that does not fit `max`.
KResult<uint64_t> kstrtoull(std::string_view s, unsigned base = 0, uint64_t max = UINT64_MAX);

// memparse (lib/cmdline.c): a number (base 0) with an optional K, M, G, T, P or E
// suffix in either case; nullopt when it is not one or does not fit.
std::optional<uint64_t> memparse(std::string_view s);

}  // namespace memplug::mm
