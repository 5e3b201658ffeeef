// $(( )) as busybox's shell/math.c evaluates it: 64-bit wrapping integers, the
// same operator table and precedence, variables evaluated as expressions, and the
// same error texts ("divide by zero", "arithmetic syntax error", ...).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace memplug::shell::sh {

struct ArithVars {
    std::function<std::optional<std::string>(const std::string&)> get;  // nullopt: unset
    std::function<void(const std::string&, const std::string&)> set;
};

// The value, or the message ash prints after "sh: ".
tl::expected<int64_t, std::string> arith_eval(std::string_view expr, const ArithVars& vars);

}  // namespace memplug::shell::sh
