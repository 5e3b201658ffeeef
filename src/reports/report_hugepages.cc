// report hugepages: how many more 2 MiB and 1 GiB pages each node and zone would give.
#include "reports/report_kinds.h"

#include <map>
#include <vector>

#include <fmt/format.h>

namespace memplug::fe::report_detail {

using nlohmann::ordered_json;
using mm::PageCount;
using mm::Pfn;

namespace {



}  // namespace

ordered_json hugepages_report(const machine::Machine& m)
{
    const mm::Kernel& k = m.kernel();
    ordered_json r;
    r["schema"] = k_report_schema;
    r["report"] = "hugepages";
    r["memmap_on_memory"] = k.params().memmap_on_memory;
    static constexpr std::array<std::string_view, mm::HugeZoneForecast::NR_CLASSES> class_names = {
        "free", "compactable", "other_zone", "not_online", "hugetlb", "unmovable", "reserved"};
    ordered_json sizes = ordered_json::array();
    for (auto h : {mm::Hugetlb::HSTATE_2M, mm::Hugetlb::HSTATE_1G}) {
        const mm::Hstate& hs = k.hugetlb().hstate(h);
        ordered_json s;
        s["size_kb"] = hs.size_kb();
        s["nr_hugepages"] = hs.nr_huge_pages;
        s["free_hugepages"] = hs.free_huge_pages;
        ordered_json nodes = ordered_json::array();
        uint64_t total = 0, total_free = 0;
        for (const mm::PgData& p : k.nodes()) {
            if (!p.online || !p.node_present_pages) continue;
            const mm::HugeForecast f = k.hugetlb().forecast(k.page_alloc(), h, p.node_id);
            ordered_json n;
            n["node"] = p.node_id;
            n["pool"] = hs.nr_huge_pages_node[size_t(p.node_id)];
            n["free"] = hs.free_list[size_t(p.node_id)].size();
            n["more"] = f.expected;
            n["more_without_compaction"] = f.without_compaction;
            ordered_json zones = ordered_json::array();
            for (const mm::HugeZoneForecast& z : f.zones) {
                ordered_json zj;
                zj["zone"] = mm::zone_name(z.zone);
                zj["more"] = z.expected;
                ordered_json ranges;
                for (size_t c = 0; c < class_names.size(); ++c) ranges[std::string(class_names[c])] = z.ranges[c];
                zj["ranges"] = std::move(ranges);
                zj["compaction_migrates_pages"] = z.to_migrate.value();
                zj["watermark_room"] = z.watermark_room == UINT64_MAX ? ordered_json(nullptr) : ordered_json(z.watermark_room);
                zones.push_back(std::move(zj));
            }
            n["zones"] = std::move(zones);
            total += f.expected;
            total_free += f.without_compaction;
            nodes.push_back(std::move(n));
        }
        s["more"] = total;
        s["more_without_compaction"] = total_free;
        s["nodes"] = std::move(nodes);
        sizes.push_back(std::move(s));
    }
    r["sizes"] = std::move(sizes);
    return r;
}


std::string hugepages_text(const ordered_json& r)
{
    std::string out = fmt::format("hugepages: how many more could be allocated now (memmap_on_memory {})\n",
                                  r["memmap_on_memory"] ? "on" : "off");
    for (const ordered_json& s : r["sizes"]) {
        out += fmt::format("{} pages: pool {} ({} free); {} more ({} without compaction)\n",
                           human_bytes(s["size_kb"].get<uint64_t>() * 1024), s["nr_hugepages"].get<uint64_t>(),
                           s["free_hugepages"].get<uint64_t>(), s["more"].get<uint64_t>(),
                           s["more_without_compaction"].get<uint64_t>());
        for (const ordered_json& n : s["nodes"])
            for (const ordered_json& z : n["zones"]) {
                const ordered_json& rg = z["ranges"];
                std::string blocked;
                for (const auto& [name, count] : rg.items()) {
                    if (name == "free" || name == "compactable" || !count.get<uint64_t>()) continue;
                    blocked += fmt::format("{}{} {}", blocked.empty() ? "" : ", ", count.get<uint64_t>(), name);
                }
                out += fmt::format("  node{} {:<8} {:>8} more: {} free, {} compactable ({} pages to migrate){}{}\n",
                                   n["node"].get<int>(), z["zone"].get<std::string>(), z["more"].get<uint64_t>(),
                                   rg["free"].get<uint64_t>(), rg["compactable"].get<uint64_t>(),
                                   z["compaction_migrates_pages"].get<uint64_t>(),
                                   z["watermark_room"].is_null()
                                       ? ""
                                       : fmt::format(", watermark lets {}", z["watermark_room"].get<uint64_t>()),
                                   blocked.empty() ? "" : "; blocked: " + blocked);
            }
    }
    return out;
}

}  // namespace memplug::fe::report_detail
