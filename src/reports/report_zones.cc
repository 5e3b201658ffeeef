// report zones: kernel and movable memory per node, now and after each step of
// a plan, for each online policy, auto_movable_ratio and default online type
// asked; each combination on its own fork of the machine, on all cores, or
// emitted as independent jobs whose JSON results merge into the same report.
#include "reports/report_kinds.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "mm/kstrtox.h"
#include "views/sysfs_attr.h"

namespace memplug::fe::report_detail {

using nlohmann::ordered_json;
using mm::PageCount;
using mm::ZoneType;

namespace {

// memory_hotplug.online_policy's words, in the enum's order.
constexpr std::array<std::string_view, 2> k_policy_names = {"contig-zones", "auto-movable"};

struct Combination {
    mm::OnlinePolicy policy;
    unsigned ratio;
    mm::MmopType online;
    auto key() const { return std::tuple(int(policy), ratio, int(online)); }
};

std::vector<std::string_view> split_commas(std::string_view s)
{
    std::vector<std::string_view> out;
    for (size_t b = 0;;) {
        const size_t e = std::min(s.find(',', b), s.size());
        out.push_back(s.substr(b, e - b));
        if (e == s.size()) return out;
        b = e + 1;
    }
}

tl::expected<mm::OnlinePolicy, std::string> parse_policy(std::string_view s)
{
    for (size_t i = 0; i < k_policy_names.size(); ++i)
        if (s == k_policy_names[i]) return mm::OnlinePolicy(i);
    return tl::unexpected(fmt::format("--policy '{}': memory_hotplug.online_policy is contig-zones or auto-movable", s));
}

tl::expected<unsigned, std::string> parse_ratio(std::string_view s)
{
    // As the sysfs file takes it (kstrtouint), without its trailing newline.
    auto v = s.empty() || s.back() == '\n' ? KResult<uint64_t>(kerr(EINVAL)) : mm::kstrtoull(s, 0, UINT32_MAX);
    if (!v) return tl::unexpected(fmt::format("--ratio '{}': auto_movable_ratio is a number from 0 to {}", s, UINT32_MAX));
    return unsigned(*v);
}

tl::expected<mm::MmopType, std::string> parse_online(std::string_view s)
{
    const auto t = views::mhp_online_type_from_str(s);
    if (!t || s.ends_with('\n'))
        return tl::unexpected(fmt::format("--online '{}': auto_online_blocks is online, online_kernel, online_movable or offline", s));
    return *t;
}

// Each value of each list asked (the current value where none is), every
// combination once, in the order of the kernel's enums and ascending ratios.
tl::expected<std::vector<Combination>, std::string> combinations(const mm::HotplugParams& p, const ReportRequest& req)
{
    std::vector<mm::OnlinePolicy> policies{p.online_policy};
    std::vector<unsigned> ratios{p.auto_movable_ratio};
    std::vector<mm::MmopType> onlines{p.mhp_default_online_type};
    if (!req.policy.empty()) {
        policies.clear();
        for (std::string_view s : split_commas(req.policy)) policies.push_back(MP_TRY(parse_policy(s)));
    }
    if (!req.ratio.empty()) {
        ratios.clear();
        for (std::string_view s : split_commas(req.ratio)) ratios.push_back(MP_TRY(parse_ratio(s)));
    }
    if (!req.online.empty()) {
        onlines.clear();
        for (std::string_view s : split_commas(req.online)) onlines.push_back(MP_TRY(parse_online(s)));
    }
    std::vector<Combination> out;
    for (auto pol : policies)
        for (unsigned r : ratios)
            for (auto o : onlines) out.push_back({pol, r, o});
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key() < b.key(); });
    out.erase(std::unique(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key() == b.key(); }), out.end());
    return out;
}

tl::expected<unsigned, std::string> parse_jobs(std::string_view s)
{
    if (s.empty()) return std::max(1u, std::thread::hardware_concurrency());
    auto v = s.back() == '\n' ? KResult<uint64_t>(kerr(EINVAL)) : mm::kstrtoull(s, 10, 4096);
    if (!v || !*v) return tl::unexpected(fmt::format("--jobs '{}': a number of threads from 1 to 4096", s));
    return unsigned(*v);
}

// The rule for "ZONE_NORMAL short" on a node (docs/REPORTS.md). The kernel zones
// are the ones GFP_KERNEL allocates from: Normal, then DMA32 and DMA below it.
//  - low_watermark: no populated kernel zone of the node has more free pages than
//    its low watermark plus its lowmem_reserve for a Normal request, the check
//    get_page_from_freelist's fast path makes: every kernel allocation that
//    prefers this node wakes kswapd and takes the slow path (or another node).
//  - memmap: GFP_KERNEL cannot get the memmap of one more memory block (the
//    check add_memory makes: it fails with ENOMEM), where the block cannot
//    carry its own memmap (memmap_on_memory).
ordered_json node_short(const mm::Kernel& k, const mm::PgData& node)
{
    ordered_json why = ordered_json::array();
    bool kernel_zones = false, above_low = false;
    for (ZoneType z : {ZoneType::DMA, ZoneType::DMA32, ZoneType::Normal}) {
        const mm::Zone& zone = node.zone(z);
        if (!zone.populated_zone()) continue;
        kernel_zones = true;
        above_low |= zone.nr_free_pages.value() > zone.watermark[mm::WMARK_LOW] +
                                                      zone.lowmem_reserve[mm::zone_idx(ZoneType::Normal)];
    }
    if (kernel_zones && !above_low) why.push_back("low_watermark");
    const uint64_t bs = k.memory_block_size_bytes();
    if (!k.mhp_supports_memmap_on_memory(bs) &&
        k.page_alloc().allocatable_pages(node.node_id, mm::GFP_KERNEL) < mm::Kernel::memmap_pages(bs))
        why.push_back("memmap");
    return why;
}

// The state per online node: each zone, what GFP_KERNEL could still get from
// the node's own zones, and movable pages per 100 boot kernel pages as
// auto-movable counts them (present Movable pages against the kernel zones'
// present early pages).
ordered_json zones_state(const mm::Kernel& k)
{
    ordered_json s;
    s["gfp_kernel_allocatable"] = k.page_alloc().allocatable_pages(0, mm::GFP_KERNEL).bytes();
    s["free_above_low"] = k.kernel_free_above(mm::WMARK_LOW).bytes();
    ordered_json nodes = ordered_json::array();
    bool any_short = false;
    for (const mm::PgData& node : k.nodes()) {
        if (!node.online) continue;
        ordered_json n;
        n["node"] = node.node_id;
        ordered_json zones = ordered_json::array();
        uint64_t kernel_early = 0;
        for (ZoneType z : {ZoneType::DMA, ZoneType::DMA32, ZoneType::Normal, ZoneType::Movable}) {
            const mm::Zone& zone = node.zone(z);
            zones.push_back({{"zone", mm::zone_name(z)},
                             {"present", zone.present_pages.bytes()},
                             {"managed", zone.managed_pages.bytes()},
                             {"free", zone.nr_free_pages.bytes()},
                             {"low", PageCount(zone.watermark[mm::WMARK_LOW]).bytes()}});
            if (z != ZoneType::Movable && zone.populated_zone()) kernel_early += zone.present_early_pages.value();
        }
        n["zones"] = std::move(zones);
        mm::Gfp this_node = mm::GFP_KERNEL;
        this_node.thisnode = true;
        n["gfp_kernel_room"] = k.page_alloc().allocatable_pages(node.node_id, this_node).bytes();
        const uint64_t movable = node.zone(ZoneType::Movable).present_pages.value();
        n["movable_ratio"] = kernel_early ? ordered_json(movable * 100 / kernel_early) : ordered_json(nullptr);
        n["short"] = node_short(k, node);
        any_short |= !n["short"].empty();
        nodes.push_back(std::move(n));
    }
    s["nodes"] = std::move(nodes);
    s["short"] = any_short;
    return s;
}

ordered_json combination_json(const Combination& c)
{
    return {{"online_policy", k_policy_names[size_t(c.policy)]},
            {"auto_movable_ratio", c.ratio},
            {"online_type", views::online_type_to_str(c.online)}};
}

// A fork with the combination's parameters written as their sysfs files write
// them, then each step performed; the state before the plan and after each step.
ordered_json run_combination(const machine::Machine& m, const std::vector<PlugStep>& plan, const Combination& c)
{
    const std::unique_ptr<machine::Machine> fork = m.fork();
    mm::HotplugParams& p = fork->kernel().params();
    p.online_policy = c.policy;
    p.auto_movable_ratio = c.ratio;
    p.mhp_default_online_type = c.online;
    ordered_json j = combination_json(c);
    ordered_json steps = ordered_json::array();
    ordered_json first = nullptr;
    for (size_t i = 0; i <= plan.size(); ++i) {
        ordered_json outcome = i ? perform_plug_step(*fork, plan[i - 1]) : ordered_json(nullptr);
        ordered_json s;
        s["step"] = i ? ordered_json(plan[i - 1].text) : ordered_json(nullptr);
        s["outcome"] = std::move(outcome);
        s.update(zones_state(fork->kernel()));
        if (first.is_null() && s["short"].get<bool>()) {
            for (const ordered_json& n : s["nodes"])
                if (!n["short"].empty()) {
                    first = {{"step", i}, {"node", n["node"]}, {"why", n["short"]}};
                    break;
                }
        }
        steps.push_back(std::move(s));
    }
    j["steps"] = std::move(steps);
    j["first_short"] = std::move(first);
    return j;
}

ordered_json report_head(const mm::Kernel& k, const std::vector<PlugStep>& plan)
{
    ordered_json r;
    r["schema"] = k_report_schema;
    r["report"] = "zones";
    r["memory_block_size"] = k.memory_block_size_bytes();
    r["memmap_on_memory"] = k.params().memmap_on_memory;
    ordered_json p = ordered_json::array();
    for (const PlugStep& s : plan) p.push_back(s.text);
    r["plan"] = std::move(p);
    return r;
}

// A word for the shell: single-quoted where it needs to be.
std::string shell_quote(std::string_view s)
{
    if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=/.,:@%") ==
                          std::string_view::npos)
        return std::string(s);
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

tl::expected<Combination, std::string> combination_of(const ordered_json& c)
{
    try {
        return Combination{MP_TRY(parse_policy(c.at("online_policy").get<std::string>())),
                           MP_TRY(parse_ratio(std::to_string(c.at("auto_movable_ratio").get<uint64_t>()))),
                           MP_TRY(parse_online(c.at("online_type").get<std::string>()))};
    } catch (const nlohmann::json::exception& e) {
        return tl::unexpected(std::string(e.what()));
    }
}

}  // namespace

tl::expected<ordered_json, std::string> zones_report(const machine::Machine& m, const ReportRequest& req)
{
    const std::vector<PlugStep> plan = req.plan.empty() ? std::vector<PlugStep>() : MP_TRY(parse_plan(m, req.plan));
    const std::vector<Combination> combos = MP_TRY(combinations(m.kernel().params(), req));
    const unsigned jobs = MP_TRY(parse_jobs(req.jobs));
    // One fork per combination, on `jobs` threads; forks share nothing mutable
    // (the model has no mutable statics) and the machine is only read.
    std::vector<ordered_json> results(combos.size());
    std::vector<std::string> errors(combos.size());
    std::atomic<size_t> next{0};
    auto worker = [&] {
        for (size_t i; (i = next++) < combos.size();) {
            try {
                results[i] = run_combination(m, plan, combos[i]);
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        }
    };
    std::vector<std::thread> pool;
    try {
        for (size_t t = 1; t < std::min<size_t>(jobs, combos.size()); ++t) pool.emplace_back(worker);
    } catch (const std::system_error&) {
        // No more threads to be had (--jobs beyond the system's limit): the ones started share the work.
    }
    worker();
    for (std::thread& t : pool) t.join();
    ordered_json r = report_head(m.kernel(), plan);
    ordered_json cs = ordered_json::array();
    for (size_t i = 0; i < combos.size(); ++i) {
        if (!errors[i].empty())
            return tl::unexpected(fmt::format("memplug failed on the combination {} ({}); please report it",
                                              combination_json(combos[i]).dump(), errors[i]));
        cs.push_back(std::move(results[i]));
    }
    r["combinations"] = std::move(cs);
    return r;
}

tl::expected<std::string, std::string> zones_emit_jobs(const machine::Machine& m, const ReportRequest& req,
                                                       const ReportOrigin& origin)
{
    if (origin.file.empty() || origin.file == "-")
        return tl::unexpected(std::string("--emit-jobs: the jobs rerun the transcript, so it must be a file, not standard input"));
    if (!req.plan.empty()) MP_TRY(parse_plan(m, req.plan));
    const std::vector<Combination> combos = MP_TRY(combinations(m.kernel().params(), req));
    if (!req.jobs.empty()) MP_TRY(parse_jobs(req.jobs));
    std::string out;
    for (const Combination& c : combos) {
        out += fmt::format("{} report zones {}", shell_quote(origin.exe), shell_quote(origin.file));
        if (!req.plan.empty()) out += " --plan " + shell_quote(req.plan);
        out += fmt::format(" --policy {} --ratio {} --online {} --jobs 1 --json\n", k_policy_names[size_t(c.policy)],
                           c.ratio, views::online_type_to_str(c.online));
    }
    return out;
}

namespace {

// What zones_text reads of a result, each member of its type (a job's file may be anything).
bool well_formed(const ordered_json& r)
{
    auto obj = [](const ordered_json& j, std::initializer_list<const char*> keys) {
        return j.is_object() && std::all_of(keys.begin(), keys.end(), [&](const char* k) { return j.contains(k); });
    };
    if (!obj(r, {"memory_block_size", "memmap_on_memory", "plan"}) || !r["memory_block_size"].is_number_unsigned() ||
        !r["memmap_on_memory"].is_boolean() || !r["plan"].is_array())
        return false;
    for (const ordered_json& c : r["combinations"]) {
        if (!obj(c, {"steps", "first_short"}) || !c["steps"].is_array()) return false;
        for (const ordered_json& st : c["steps"]) {
            if (!obj(st, {"step", "outcome", "nodes"}) || !st["nodes"].is_array()) return false;
            for (const ordered_json& n : st["nodes"]) {
                if (!obj(n, {"node", "zones", "gfp_kernel_room", "movable_ratio", "short"}) || !n["zones"].is_array() ||
                    !n["short"].is_array() || !n["gfp_kernel_room"].is_number_unsigned())
                    return false;
                for (const ordered_json& z : n["zones"])
                    if (!obj(z, {"zone", "free", "managed"}) || !z["zone"].is_string() || !z["free"].is_number_unsigned() ||
                        !z["managed"].is_number_unsigned())
                        return false;
            }
        }
    }
    return true;
}

}  // namespace

tl::expected<ordered_json, std::string> zones_merge(const std::vector<std::string>& files)
{
    ordered_json merged;
    std::vector<std::pair<Combination, ordered_json>> combos;
    for (const std::string& f : files) {
        std::ifstream in(f);
        if (!in) return tl::unexpected(fmt::format("{}: cannot be read", f));
        std::stringstream text;
        text << in.rdbuf();
        ordered_json r = ordered_json::parse(text.str(), nullptr, false);
        if (r.is_discarded() || !r.is_object() || r.value("schema", 0) != k_report_schema || r.value("report", "") != "zones" ||
            !r.contains("combinations") || !r["combinations"].is_array() || !well_formed(r))
            return tl::unexpected(fmt::format("{}: not the JSON of a zones report of schema {}", f, k_report_schema));
        ordered_json head = r;
        head.erase("combinations");
        if (merged.is_null()) merged = head;
        else if (head != merged)
            return tl::unexpected(fmt::format("{}: another plan, memory block size or memmap_on_memory than {}'s", f, files.front()));
        for (ordered_json& c : r["combinations"]) {
            const Combination k = MP_TRY(combination_of(c).map_error([&](std::string e) { return f + ": " + e; }));
            if (std::any_of(combos.begin(), combos.end(), [&](const auto& x) { return x.first.key() == k.key(); }))
                return tl::unexpected(fmt::format("{}: the combination {} is in an earlier file too", f,
                                                  combination_json(k).dump()));
            combos.emplace_back(k, std::move(c));
        }
    }
    if (merged.is_null()) return tl::unexpected(std::string("--merge: no result files"));
    std::sort(combos.begin(), combos.end(), [](const auto& a, const auto& b) { return a.first.key() < b.first.key(); });
    ordered_json cs = ordered_json::array();
    for (auto& [k, c] : combos) cs.push_back(std::move(c));
    merged["combinations"] = std::move(cs);
    return merged;
}

namespace {

std::string free_of(const ordered_json& zones, std::initializer_list<std::string_view> names)
{
    uint64_t free = 0, managed = 0;
    for (const ordered_json& z : zones)
        if (std::find(names.begin(), names.end(), z["zone"].get<std::string>()) != names.end()) {
            free += z["free"].get<uint64_t>();
            managed += z["managed"].get<uint64_t>();
        }
    return fmt::format("{} / {}", human_bytes(free), human_bytes(managed));
}

std::string why_text(const ordered_json& why)
{
    std::string out;
    for (const ordered_json& w : why) {
        if (!out.empty()) out += "; ";
        out += w == "low_watermark" ? "its kernel zones are at or under their low watermarks (kswapd wakes for every kernel allocation)"
                                    : "the next memory block's memmap does not fit in kernel memory (add_memory: ENOMEM)";
    }
    return out;
}

}  // namespace

std::string zones_text(const ordered_json& r)
{
    std::string out = fmt::format("zones: kernel and movable memory per node, now and after each step (memory block {}, "
                                  "memmap_on_memory {})\n",
                                  human_bytes(r["memory_block_size"]), r["memmap_on_memory"] ? "on" : "off");
    std::string plan;
    for (const ordered_json& s : r["plan"]) plan += (plan.empty() ? "" : ", ") + s.get<std::string>();
    out += plan.empty() ? std::string("no plan: the state now\n") : "plan: " + plan + "\n";
    for (const ordered_json& c : r["combinations"]) {
        out += fmt::format("\nonline_policy {}, auto_movable_ratio {}, auto_online_blocks {}\n",
                           c["online_policy"].get<std::string>(), c["auto_movable_ratio"].get<unsigned>(),
                           c["online_type"].get<std::string>());
        out += fmt::format("  {:<20} {:>4}  {:<22}  {:<22}  {:<22}  {:>10}  {:>5}  {}\n", "step", "node",
                           "DMA+DMA32 free/managed", "Normal free/managed", "Movable free/managed", "GFP_KERNEL", "ratio",
                           "short");
        const ordered_json& steps = c["steps"];
        for (size_t i = 0; i < steps.size(); ++i) {
            const ordered_json& s = steps[i];
            const std::string name = s["step"].is_null() ? std::string("now") : fmt::format("{}. {}", i, s["step"].get<std::string>());
            for (const ordered_json& n : s["nodes"]) {
                std::string sh;
                for (const ordered_json& w : n["short"]) sh += (sh.empty() ? "" : "+") + std::string(w == "low_watermark" ? "low" : "memmap");
                out += fmt::format("  {:<20} {:>4}  {:<22}  {:<22}  {:<22}  {:>10}  {:>5}  {}\n", name, n["node"].get<int>(),
                                   free_of(n["zones"], {"DMA", "DMA32"}), free_of(n["zones"], {"Normal"}),
                                   free_of(n["zones"], {"Movable"}), human_bytes(n["gfp_kernel_room"]),
                                   n["movable_ratio"].is_null() ? std::string("-") : fmt::format("{}%", n["movable_ratio"].get<uint64_t>()),
                                   sh.empty() ? "-" : sh);
            }
        }
        for (size_t i = 1; i < steps.size(); ++i)
            out += fmt::format("  {}. {}: {}\n", i, steps[i]["step"].get<std::string>(), plug_outcome_text(steps[i]["outcome"]));
        const ordered_json& f = c["first_short"];
        if (f.is_null()) {
            out += "  ZONE_NORMAL never short\n";
        } else {
            const size_t i = f["step"];
            out += fmt::format("  ZONE_NORMAL first short {}, node {}: {}\n",
                               i ? fmt::format("after step {} ({})", i, steps[i]["step"].get<std::string>()) : std::string("now"),
                               f["node"].get<int>(), why_text(f["why"]));
        }
    }
    return out;
}

}  // namespace memplug::fe::report_detail
