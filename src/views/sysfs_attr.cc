#include "views/sysfs_attr.h"

#include <array>
#include <cctype>

namespace memplug::views {

bool sysfs_streq(std::string_view a, std::string_view b)
{
    if (a.ends_with('\n')) a.remove_suffix(1);
    if (b.ends_with('\n')) b.remove_suffix(1);
    return a == b;
}

namespace {
constexpr std::array<std::string_view, 4> online_type_names = {"offline", "online", "online_kernel", "online_movable"};
}

std::optional<mm::MmopType> mhp_online_type_from_str(std::string_view s)
{
    for (size_t i = 0; i < online_type_names.size(); ++i)
        if (sysfs_streq(s, online_type_names[i])) return static_cast<mm::MmopType>(i);
    return std::nullopt;
}

std::string_view online_type_to_str(mm::MmopType t) { return online_type_names[static_cast<size_t>(t)]; }

std::optional<mm::BlockId> parse_block_name(std::string_view name)
{
    if (!name.starts_with("memory") || name.size() == 6) return std::nullopt;
    name.remove_prefix(6);
    if ((name.size() > 1 && name[0] == '0') || name.size() > 19) return std::nullopt;  // no leading zeros, no overflow
    uint64_t v = 0;
    for (char c : name) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + uint64_t(c - '0');
    }
    return mm::BlockId(v);
}

}  // namespace memplug::views
