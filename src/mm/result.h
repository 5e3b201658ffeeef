// Errors as values: the kernel's errno plus a short reason, as offline_pages()
// keeps one for its log. sysfs shows the errno; tests and --explain the reason.
#pragma once

#include <cerrno>
#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace memplug {

struct KError {
    int err = 0;          // positive errno (EINVAL, EBUSY, ...)
    std::string reason;   // what the kernel would log, for humans; may be empty
};

template <typename T = void>
using KResult = tl::expected<T, KError>;

inline tl::unexpected<KError> kerr(int err, std::string reason = {})
{
    return tl::unexpected<KError>(KError{err, std::move(reason)});
}

namespace detail {
template <typename T, typename E>
T unwrap(tl::expected<T, E>&& r) { return std::move(*r); }
template <typename E>
void unwrap(tl::expected<void, E>&&) {}
}  // namespace detail

}  // namespace memplug

// Early return on error (GCC statement expression, as SerenityOS's TRY).
#define MP_TRY(expr)                                              \
    ({                                                            \
        auto _mp_r = (expr);                                      \
        if (!_mp_r) return tl::unexpected(std::move(_mp_r.error())); \
        ::memplug::detail::unwrap(std::move(_mp_r));                \
    })
