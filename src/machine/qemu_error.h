// QEMU's errors as values: an ErrorClass (qapi/error.json) and the message
// QEMU prints. HMP shows "Error: " + desc; QMP sends {"class", "desc"}.
#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace memplug::machine {

enum class ErrorClass { GenericError, CommandNotFound, DeviceNotActive, DeviceNotFound, KVMMissingCap };

std::string_view error_class_name(ErrorClass c);

struct QemuError {
    ErrorClass cls = ErrorClass::GenericError;
    std::string desc;
    std::string hint = {};  // error_append_hint: lines HMP and stderr show after desc, QMP does not
};

// As HMP prints it: "Error: DESC\n" and the hint.
std::string format_hmp_error(const QemuError& e);

template <class T>
using QResult = tl::expected<T, QemuError>;

inline tl::unexpected<QemuError> qerr(std::string desc, ErrorClass cls = ErrorClass::GenericError)
{
    return tl::unexpected(QemuError{cls, std::move(desc)});
}

// QERR_INVALID_PARAMETER_VALUE for an id, with id_wellformed's hint.
tl::unexpected<QemuError> qerr_bad_id();

}  // namespace memplug::machine
