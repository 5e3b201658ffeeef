#include "mm/kstrtox.h"

#include <cctype>

namespace memplug::mm {

std::optional<bool> kstrtobool(std::string_view s)
{
    if (s.empty()) return std::nullopt;
    switch (s[0]) {
    case 'y': case 'Y': case 't': case 'T': case '1': return true;
    case 'n': case 'N': case 'f': case 'F': case '0': return false;
    case 'o': case 'O':
        if (s.size() > 1 && (s[1] == 'n' || s[1] == 'N')) return true;
        if (s.size() > 1 && (s[1] == 'f' || s[1] == 'F')) return false;
        return std::nullopt;
    default: return std::nullopt;
    }
}

KResult<uint64_t> kstrtoull(std::string_view s, unsigned base, uint64_t max)
{
    if (s.ends_with('\n')) s.remove_suffix(1);
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    if (base == 0) {
        if (s.size() > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            base = 16;
            s.remove_prefix(2);
        } else if (s.size() > 1 && s[0] == '0') {
            base = 8;
            s.remove_prefix(1);
        } else {
            base = 10;
        }
    }
    if (s.empty()) return kerr(EINVAL, "not a number");
    uint64_t v = 0;
    bool overflow = false;
    for (char c : s) {
        unsigned d;
        if (std::isdigit(static_cast<unsigned char>(c))) d = unsigned(c - '0');
        else if (std::isalpha(static_cast<unsigned char>(c))) d = unsigned(std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
        else return kerr(EINVAL, "not a number");
        if (d >= base) return kerr(EINVAL, "not a number");
        if (v > (UINT64_MAX - d) / base) overflow = true;
        v = v * base + d;
    }
    if (overflow || v > max) return kerr(ERANGE, "out of range");
    return v;
}

std::optional<uint64_t> memparse(std::string_view s)
{
    unsigned shift = 0;
    if (!s.empty()) {
        switch (std::tolower(static_cast<unsigned char>(s.back()))) {
        case 'e': shift += 10; [[fallthrough]];
        case 'p': shift += 10; [[fallthrough]];
        case 't': shift += 10; [[fallthrough]];
        case 'g': shift += 10; [[fallthrough]];
        case 'm': shift += 10; [[fallthrough]];
        case 'k': shift += 10; break;
        default: break;
        }
        if (shift) s.remove_suffix(1);
    }
    auto v = kstrtoull(s, 0);
    if (!v || *v > (UINT64_MAX >> shift)) return std::nullopt;
    return *v << shift;
}

}  // namespace memplug::mm
