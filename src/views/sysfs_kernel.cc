// /sys/kernel/mm/hugepages (mm/hugetlb.c: hstate_attrs), the per-node hugepages
// directories (node_hstate_attrs), and debugfs's memory notifier error
// injection (lib/notifier-error-inject.c, lib/memory-notifier-error-inject.c).
#include <algorithm>

#include <fmt/format.h>

#include "views/sysfs_attr.h"

namespace memplug::views {

namespace {

using mm::Hugetlb;
using mm::Kernel;

constexpr std::array<Hugetlb::HstateIdx, 2> hstates_by_name = {Hugetlb::HSTATE_1G, Hugetlb::HSTATE_2M};

std::string hstate_dir_name(const mm::Hstate& h) { return fmt::format("hugepages-{}kB", h.size_kb()); }

std::optional<Hugetlb::HstateIdx> hstate_from_name(const Kernel& k, std::string_view name)
{
    for (Hugetlb::HstateIdx i : hstates_by_name)
        if (name == hstate_dir_name(k.hugetlb().hstate(i))) return i;
    return std::nullopt;
}

std::vector<std::string> hstate_dirs(const Kernel& k)
{
    std::vector<std::string> out;
    for (Hugetlb::HstateIdx i : hstates_by_name) out.push_back(hstate_dir_name(k.hugetlb().hstate(i)));
    return out;
}

std::string number(uint64_t v) { return fmt::format("{}\n", v); }

// __nr_hugepages_store_common: kstrtoul(buf, 10).
KResult<void> store_nr_hugepages(Kernel& k, Hugetlb::HstateIdx h, std::optional<mm::NodeId> nid, std::string_view buf)
{
    const uint64_t count = MP_TRY(kstrtoull(buf, 10, UINT64_MAX));
    k.set_nr_hugepages(h, count, nid);
    return {};
}

// hugepages-NkB/ under /sys/kernel/mm/hugepages, or under a node (fewer files).
std::optional<VNode> lookup_hstate(Kernel& k, Hugetlb::HstateIdx h, std::optional<mm::NodeId> nid, Path rest)
{
    const mm::Hstate& hs = k.hugetlb().hstate(h);
    // Gigantic pages can be demoted to the next smaller size (hugetlb_demote_attrs).
    const bool demotable = hs.gigantic();
    if (rest.empty()) {
        return dir([nid, demotable] {
            std::vector<std::string> names =
                nid ? std::vector<std::string>{"free_hugepages", "nr_hugepages", "surplus_hugepages"}
                    : std::vector<std::string>{"free_hugepages",          "nr_hugepages",   "nr_hugepages_mempolicy",
                                               "nr_overcommit_hugepages", "resv_hugepages", "surplus_hugepages"};
            if (demotable) names.insert(names.begin(), {"demote", "demote_size"});
            return names;
        });
    }
    if (rest.size() != 1) return std::nullopt;
    const std::string& f = rest[0];
    if (demotable && f == "demote")
        return attr_wo([&k, h, nid](std::string_view b) -> KResult<void> {
            k.demote_hugepages(h, MP_TRY(kstrtoull(b, 10, UINT64_MAX)), nid);
            return {};
        });
    if (demotable && f == "demote_size")
        return attr_rw([] { return std::string("2048kB\n"); },
                       [](std::string_view b) -> KResult<void> {
                           // demote_size_store: memparse, then a smaller hstate of that size
                           // (on x86 only 2 MiB is smaller than 1 GiB).
                           std::string_view v = b;
                           if (v.ends_with('\n')) v.remove_suffix(1);
                           if (mm::memparse(v) != uint64_t{2} << 20) return kerr(EINVAL, "no such huge page size");
                           return {};
                       });
    // Every pool page is free (nothing maps them), so per node free == total.
    auto count = [&hs, nid](uint64_t all) { return nid ? hs.nr_huge_pages_node.at(size_t(*nid)) : all; };
    if (f == "nr_hugepages" || (!nid && f == "nr_hugepages_mempolicy"))
        return attr_rw([&hs, count] { return number(count(hs.nr_huge_pages)); },
                       [&k, h, nid](std::string_view b) { return store_nr_hugepages(k, h, nid, b); });
    if (f == "free_hugepages") return attr_ro([&hs, count] { return number(count(hs.free_huge_pages)); });
    if (f == "surplus_hugepages") return attr_ro([] { return number(0); });
    if (nid) return std::nullopt;
    if (f == "resv_hugepages") return attr_ro([] { return number(0); });
    if (f == "nr_overcommit_hugepages")
        return attr_rw([&hs] { return number(hs.nr_overcommit_huge_pages); },
                       [&k, h, &hs](std::string_view b) -> KResult<void> {
                           if (hs.gigantic()) return kerr(EINVAL, "no overcommit of gigantic pages");
                           k.set_nr_overcommit_hugepages(h, MP_TRY(kstrtoull(b, 10, UINT64_MAX)));
                           return {};
                       });
    return std::nullopt;
}

// debugfs_create_errno: a negative errno, clamped to [-MAX_ERRNO, 0]; root's alone (0600).
VNode errno_attr(int& value)
{
    return with_mode(attr_rw([&value] { return fmt::format("{}\n", value); },
                   [&value](std::string_view b) -> KResult<void> {
                       std::string_view s = b;
                       const bool negative = s.starts_with('-');
                       if (negative) s.remove_prefix(1);
                       const uint64_t v = std::min<uint64_t>(MP_TRY(kstrtoull(s, 0, UINT64_MAX)), 1u << 30);
                       constexpr int64_t MAX_ERRNO = 4095;
                       value = int(std::clamp<int64_t>(negative ? -int64_t(v) : int64_t(v), -MAX_ERRNO, 0));
                       return {};
                   }),
                     0600);
}

std::optional<VNode> lookup_debug(Kernel& k, Path rest)
{
    if (rest.empty()) return dir([] { return std::vector<std::string>{"notifier-error-inject"}; });
    if (rest[0] != "notifier-error-inject") return std::nullopt;
    if (rest.size() == 1) return dir([] { return std::vector<std::string>{"memory"}; });
    if (rest[1] != "memory") return std::nullopt;
    if (rest.size() == 2) return dir([] { return std::vector<std::string>{"actions", "priority"}; });
    if (rest[2] == "priority" && rest.size() == 3) return attr_ro([] { return std::string("0\n"); });
    if (rest[2] != "actions") return std::nullopt;
    if (rest.size() == 3) return dir([] { return std::vector<std::string>{"MEM_GOING_OFFLINE", "MEM_GOING_ONLINE"}; });
    mm::MemoryNotifierErrorInject& inj = k.notifier_error_inject();
    int* value = rest[3] == "MEM_GOING_ONLINE" ? &inj.going_online : rest[3] == "MEM_GOING_OFFLINE" ? &inj.going_offline : nullptr;
    if (!value) return std::nullopt;
    if (rest.size() == 4) return dir([] { return std::vector<std::string>{"error"}; });
    if (rest.size() == 5 && rest[4] == "error") return errno_attr(*value);
    return std::nullopt;
}

}  // namespace

std::optional<VNode> lookup_sys_kernel(Kernel& k, Path rest)
{
    if (rest.empty()) return dir([] { return std::vector<std::string>{"debug", "mm"}; });
    if (rest[0] == "debug") return lookup_debug(k, rest.subspan(1));
    if (rest[0] != "mm") return std::nullopt;
    if (rest.size() == 1) return dir([] { return std::vector<std::string>{"hugepages"}; });
    if (rest[1] != "hugepages") return std::nullopt;
    if (rest.size() == 2) return dir([&k] { return hstate_dirs(k); });
    const auto h = hstate_from_name(k, rest[2]);
    if (!h) return std::nullopt;
    return lookup_hstate(k, *h, std::nullopt, rest.subspan(3));
}

std::optional<VNode> lookup_node_hugepages(Kernel& k, mm::NodeId nid, Path rest)
{
    if (rest.empty()) return dir([&k] { return hstate_dirs(k); });
    const auto h = hstate_from_name(k, rest[0]);
    if (!h) return std::nullopt;
    return lookup_hstate(k, *h, nid, rest.subspan(1));
}

}  // namespace memplug::views
