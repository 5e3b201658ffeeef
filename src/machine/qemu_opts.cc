#include "machine/qemu_opts.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "machine/qemu_error.h"

namespace memplug::machine {

tl::expected<uint64_t, std::string> parse_size(std::string_view text, char default_suffix)
{
    const std::string s(text);
    if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.'))
        return tl::unexpected(std::string("invalid size"));
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(s.c_str(), &end);
    if (errno || end == s.c_str()) return tl::unexpected(std::string("invalid size"));
    std::string_view rest(end);
    char suffix = default_suffix;
    if (!rest.empty()) {
        suffix = static_cast<char>(std::toupper(static_cast<unsigned char>(rest[0])));
        rest.remove_prefix(1);
        if (!rest.empty()) return tl::unexpected(std::string("invalid size"));
    }
    int shift = 0;
    switch (suffix) {
    case 'B': shift = 0; break;
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    case 'P': shift = 50; break;
    case 'E': shift = 60; break;
    default: return tl::unexpected(std::string("invalid size"));
    }
    const long double bytes = static_cast<long double>(value) * std::ldexp(1.0L, shift);
    // A fraction is only allowed where it yields whole bytes, as qemu_strtosz requires.
    if (bytes >= 18446744073709551615.0L || bytes != std::floor(bytes))
        return tl::unexpected(std::string("invalid size"));
    return static_cast<uint64_t>(bytes);
}

tl::expected<OptList, std::string> OptList::parse(std::string_view text, std::string_view implied_key)
{
    OptList out;
    std::vector<std::string> parts{std::string()};
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == ',') {
            if (i + 1 < text.size() && text[i + 1] == ',') {
                parts.back() += ',';
                ++i;
                continue;
            }
            parts.emplace_back();
            continue;
        }
        parts.back() += text[i];
    }
    for (size_t i = 0; i < parts.size(); ++i) {
        const std::string& p = parts[i];
        const auto eq = p.find('=');
        if (eq == std::string::npos) {
            if (i == 0 && !implied_key.empty()) {
                out.m_items.emplace_back(std::string(implied_key), p);
                continue;
            }
            if (p.empty()) continue;
            // A bare key is a boolean switch ("prealloc" = "prealloc=on").
            out.m_items.emplace_back(p, "on");
            continue;
        }
        out.m_items.emplace_back(p.substr(0, eq), p.substr(eq + 1));
    }
    return out;
}

std::optional<std::string> OptList::get(std::string_view key) const
{
    std::optional<std::string> found;
    for (const auto& [k, v] : m_items)
        if (k == key) found = v;  // the last one wins, as with QemuOpts
    return found;
}

QObject OptList::to_qdict() const
{
    QObject d = QObject::object();
    for (const auto& [k, v] : m_items) d[k] = v;
    return d;
}

std::optional<uint64_t> parse_uint(std::string_view text, uint64_t max)
{
    unsigned base = 10;
    if (text.size() > 1 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text.remove_prefix(2);
    } else if (text.size() > 1 && text[0] == '0') {
        base = 8;
        text.remove_prefix(1);
    }
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, int(base));
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v > max) return std::nullopt;
    return v;
}

bool id_wellformed(std::string_view id)
{
    if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0]))) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
}

std::optional<bool> parse_qapi_bool(std::string_view v)
{
    if (v == "on" || v == "yes" || v == "true" || v == "y") return true;
    if (v == "off" || v == "no" || v == "false" || v == "n") return false;
    return std::nullopt;
}

// The QObject input visitor (strict, QMP) or keyval's strings (HMP, -object).
QResult<uint64_t> visit_size(const QObject& v, std::string_view name, Input in)
{
    if (in != Input::Json) {
        auto s = v.is_string() ? parse_size(v.get_ref<const std::string&>(), 'B') : tl::unexpected(std::string());
        if (!s) return qerr(fmt::format("Parameter '{}' expects {}", name, in == Input::Opts ? "a size value" : "size"));
        return *s;
    }
    // Negative numbers wrap, as qobject_input_type_uint64 lets them.
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    if (v.is_number_integer()) return uint64_t(v.get<int64_t>());
    return qerr(fmt::format("Parameter '{}' expects uint64", name));
}

QResult<bool> visit_bool(const QObject& v, std::string_view name, Input in)
{
    if (in != Input::Json) {
        auto b = v.is_string() ? parse_qapi_bool(v.get_ref<const std::string&>()) : std::nullopt;
        if (!b) return qerr(fmt::format("Parameter '{}' expects 'on' or 'off'", name));
        return *b;
    }
    if (!v.is_boolean()) return qerr(fmt::format("Invalid parameter type for '{}', expected: boolean", name));
    return v.get<bool>();
}

QResult<std::string> visit_str(const QObject& v, std::string_view name)
{
    if (!v.is_string()) return qerr(fmt::format("Invalid parameter type for '{}', expected: string", name));
    return v.get<std::string>();
}

}  // namespace memplug::machine
