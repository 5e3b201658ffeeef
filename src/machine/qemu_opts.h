// QEMU's option syntax: sizes (qemu_strtosz) and "key=value,..." lists
// (QemuOpts/keyval), with ",," for a literal comma and an implied first key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "machine/qemu_error.h"
#include "machine/qobject.h"

namespace memplug::machine {

// qemu_strtosz: "512M", "2G", "1.5G", "4096" (bytes unless default_suffix says
// otherwise, as -m takes MiB). Returns an error message without prefix.
tl::expected<uint64_t, std::string> parse_size(std::string_view text, char default_suffix = 'B');

class OptList {
public:
    // Parses "first,k=v,k2=v2"; a first element without '=' is the value of implied_key.
    static tl::expected<OptList, std::string> parse(std::string_view text, std::string_view implied_key);

    std::optional<std::string> get(std::string_view key) const;
    bool has(std::string_view key) const { return get(key).has_value(); }
    const std::vector<std::pair<std::string, std::string>>& items() const { return m_items; }
    // As the QDict of strings QEMU makes of it (the last value of a key wins).
    QObject to_qdict() const;

private:
    std::vector<std::pair<std::string, std::string>> m_items;
};

// qemu_strtou64 as property setters use it: decimal, 0x hex or 0 octal, the
// whole string, at most `max`.
std::optional<uint64_t> parse_uint(std::string_view text, uint64_t max = UINT64_MAX);

// id_wellformed: a letter, then letters, digits, '-', '.' and '_'.
bool id_wellformed(std::string_view id);

// QAPI's bool parsing for properties: on/off/yes/no/true/false.
std::optional<bool> parse_qapi_bool(std::string_view v);

// A property value as QEMU's visitors take it: text (the keyval and string
// visitors parse it) or JSON (the strict QObject visitor), with their errors.
QResult<uint64_t> visit_size(const QObject& v, std::string_view name, Input in);
QResult<bool> visit_bool(const QObject& v, std::string_view name, Input in);
QResult<std::string> visit_str(const QObject& v, std::string_view name);

}  // namespace memplug::machine
