// Plans and the zones report: what a plan does on a fork is what performing
// its steps on the machine itself does, the machine asked about is left as it
// was, and a sweep over threads is each combination run alone.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "frontends/guest_session.h"
#include "reports/report.h"
#include "frontends/random_session.h"

namespace memplug::fe {
namespace {

using nlohmann::ordered_json;

ordered_json report_json(const machine::Machine& m, const std::string& args)
{
    auto out = report_command(m, args + " --json");
    RC_ASSERT(bool(out));
    return ordered_json::parse(*out);
}

// A random state: a random session, some kernel memory pinned.
void random_state(GuestSession& s, uint32_t seed, uint64_t ops)
{
    RC_ASSERT(test::random_session(seed, ops, s).failure == std::string());
    if (const uint64_t pin = *rc::gen::inRange<uint64_t>(0, 400))
        RC_ASSERT(bool(s.run(CommandKind::Memplug, fmt::format("pin k {}M", pin))));
}

// A plan of 1 to 3 steps: DIMMs of 1 to 12 blocks (past the slots and maxmem
// too), virtio-mem requests anywhere in the region and a little past it.
std::string random_plan(const machine::Machine& m)
{
    const uint64_t bs = m.kernel().memory_block_size_bytes();
    std::string plan;
    for (uint64_t i = 0, n = *rc::gen::inRange<uint64_t>(1, 4); i < n; ++i) {
        plan += plan.empty() ? "" : ",";
        if (*rc::gen::arbitrary<bool>())
            plan += fmt::format("dimm:{}", bs * *rc::gen::inRange<uint64_t>(1, 13));
        else
            plan += fmt::format("vmem0:{}M", 2 * *rc::gen::inRange<uint64_t>(0, 513));
    }
    return plan;
}

// What the machine shows now, for "untouched".
std::string snapshot(const machine::Machine& m)
{
    return report_json(m, "plug").dump() + report_json(m, "unplug").dump() + report_json(m, "hugepages").dump() +
           std::to_string(m.kernel().log().next_seq()) + std::to_string(m.query_memory_devices().size()) +
           std::to_string(m.query_memdev().size());
}

ordered_json guest_log_since(const mm::KernelLog& log, uint64_t seq)
{
    ordered_json out = ordered_json::array();
    for (const mm::LogRecord& r : log.since(seq))
        if (r.level <= mm::LogLevel::Warning) out.push_back(r.text);
    return out;
}

// The plan on a fork (zones with a random combination of parameters, and
// plug --plan), then the parameters written to their sysfs files and the same
// steps performed on the machine itself with monitor commands: each step's
// outcome and the zones after it are the same, and the plug report's judgement
// of each step holds.
void check_plan(GuestSession& s, const std::string& plan)
{
    machine::Machine& m = *s.machine();
    const std::string policy = *rc::gen::element<std::string>("contig-zones", "auto-movable");
    const unsigned ratio = *rc::gen::element<unsigned>(0, 100, 301, 5000);
    const std::string online = *rc::gen::element<std::string>("online", "online_kernel", "online_movable", "offline");
    RC_LOG() << plan << " " << policy << " " << ratio << " " << online << "\n";
    const std::pair<std::string, std::string> files[] = {
        {"/sys/module/memory_hotplug/parameters/online_policy", policy},
        {"/sys/module/memory_hotplug/parameters/auto_movable_ratio", std::to_string(ratio)},
        {"/sys/devices/system/memory/auto_online_blocks", online}};
    // Looked up first: a first lookup's dentries and inodes take slab pages.
    for (const auto& [file, value] : files) RC_ASSERT(bool(s.run(CommandKind::Guest, "cat " + file)));
    std::string before = snapshot(m);
    const ordered_json z =
        report_json(m, fmt::format("zones --plan {} --policy {} --ratio {} --online {}", plan, policy, ratio, online));
    RC_ASSERT(snapshot(m) == before);  // the machine asked about is untouched
    for (const auto& [file, value] : files)
        RC_ASSERT(s.run(CommandKind::Guest, fmt::format("echo {} > {}", value, file)) == std::string());
    before = snapshot(m);
    const ordered_json p = report_json(m, "plug --plan " + plan);
    RC_ASSERT(snapshot(m) == before);
    RC_ASSERT(z["combinations"].size() == 1u);
    const ordered_json& steps = z["combinations"][0]["steps"];
    const ordered_json& judged = p["plan"]["steps"];
    RC_ASSERT(steps.size() == judged.size() + 1);
    const auto state_of = [](ordered_json st) {
        st.erase("step");
        st.erase("outcome");
        return st.dump();
    };
    const auto zones_now = [&] { return state_of(report_json(m, "zones")["combinations"][0]["steps"][0]); };
    RC_ASSERT(state_of(steps[0]) == zones_now());
    int backends = 0;
    for (size_t i = 0; i < judged.size(); ++i) {
        const ordered_json& o = steps[i + 1]["outcome"];
        RC_ASSERT(judged[i]["outcome"].dump() == o.dump());  // both reports' forks did the same
        const ordered_json& j = judged[i]["judged"];
        const uint64_t seq = m.kernel().log().next_seq();
        std::string out;
        if (j["target"] == "dimm") {
            const std::string id = fmt::format("memplug-plan{}", backends);
            auto a = s.run(CommandKind::Monitor, fmt::format("object_add memory-backend-ram,id={},size={}", id, j["size"].get<uint64_t>()));
            RC_ASSERT(a && a->empty());
            ++backends;
            out = *s.run(CommandKind::Monitor, "device_add pc-dimm,memdev=" + id +
                                                   (j.contains("node") ? fmt::format(",node={}", j["node"].get<int>()) : ""));
            RC_ASSERT(j["qemu_error"].dump() == o["qemu_error"].dump());
            if (!o["qemu_error"].is_null()) {
                RC_ASSERT(out == "Error: " + o["qemu_error"].get<std::string>() + "\n");
            } else {
                RC_ASSERT(out.empty());
                const uint64_t addr = m.memory_devices().back()->address();
                RC_ASSERT(addr == o["addr"].get<uint64_t>());
                RC_ASSERT(j["addr"].dump() == o["addr"].dump());
                const bool added = m.kernel().find_memory_block(mm::BlockId(addr / m.kernel().memory_block_size_bytes()));
                RC_ASSERT(added == o["guest_adds"].get<bool>());
                RC_ASSERT(j["guest_adds"].dump() == o["guest_adds"].dump());
            }
        } else {
            out = *s.run(CommandKind::Monitor,
                         fmt::format("qom-set {} requested-size {}", j["target"].get<std::string>(), j["size"].get<uint64_t>()));
            RC_ASSERT(j["virtio_mem"]["qemu_error"].dump() == o["qemu_error"].dump());
            if (!o["qemu_error"].is_null()) RC_ASSERT(out == "Error: " + o["qemu_error"].get<std::string>() + "\n");
            for (const auto& d : m.memory_devices())
                if (const auto* vm = dynamic_cast<const machine::VirtioMem*>(d.get()); vm && vm->id() == j["target"])
                    RC_ASSERT(vm->plugged_size() == o["reached"].get<uint64_t>());
            if (o["qemu_error"].is_null()) RC_ASSERT(j["virtio_mem"]["reached"].dump() == o["reached"].dump());
        }
        RC_ASSERT(guest_log_since(m.kernel().log(), seq).dump() == o["guest_log"].dump());
        RC_ASSERT(state_of(steps[i + 1]) == zones_now());
    }
}

// On the random states.
RC_GTEST_PROP(Report, ZonesPlanIsWhatPerformingDoes, ())
{
    GuestSession s{GuestSession::CheckInvariants::Yes};
    random_state(s, *rc::gen::arbitrary<uint32_t>(), *rc::gen::inRange<uint64_t>(0, 40));
    check_plan(s, random_plan(*s.machine()));
}

// Where kernel memory runs out: a small guest with a large device-memory region,
// one NUMA node or two, memmap_on_memory or not, kernel memory pinned, steps of
// up to 128 GiB.
RC_GTEST_PROP(Report, ZonesPlanWhereKernelMemoryRunsOut, ())
{
    GuestSession s{GuestSession::CheckInvariants::Yes};
    const uint64_t boot_mib = *rc::gen::element<uint64_t>(1024, 2048, 3072, 6144);
    // Two NUMA nodes or none: DIMM steps may name a node (dimm:SIZE@NODE).
    const bool numa = *rc::gen::arbitrary<bool>();
    const std::string nodes = numa ? fmt::format(" -smp 2 -object memory-backend-ram,id=n0,size={0}M -object memory-backend-ram,"
                                                 "id=n1,size={0}M -numa node,nodeid=0,cpus=0,memdev=n0 -numa node,nodeid=1,"
                                                 "cpus=1,memdev=n1",
                                                 boot_mib / 2)
                                   : std::string();
    RC_ASSERT(bool(s.run(CommandKind::Host,
                         fmt::format("qemu-system-x86_64 -m {}M,slots=4,maxmem=600G -machine q35{} -device pcie-root-port,id=port1,"
                                     "bus=pcie.0,slot=1 -object memory-backend-ram,id=vm0,size=256G -device virtio-mem-pci,"
                                     "id=vmem0,memdev=vm0,bus=port1{}",
                                     boot_mib, nodes, *rc::gen::arbitrary<bool>() ? " -append memory_hotplug.memmap_on_memory=1" : ""))));
    if (const uint64_t pin = *rc::gen::inRange<uint64_t>(0, boot_mib / 2))
        RC_ASSERT(bool(s.run(CommandKind::Memplug, fmt::format("pin k {}M", pin))));
    std::string plan;
    for (uint64_t i = 0, n = *rc::gen::inRange<uint64_t>(1, 4); i < n; ++i)
        plan += (plan.empty() ? "" : ",") + (*rc::gen::arbitrary<bool>()
                                                 ? fmt::format("dimm:{}G{}", *rc::gen::inRange<uint64_t>(1, 129),
                                                               numa ? *rc::gen::element<std::string>("", "@0", "@1") : "")
                                                 : fmt::format("vmem0:{}G", *rc::gen::inRange<uint64_t>(0, 257)));
    check_plan(s, plan);
}

// Some online policies, ratios and default online types: the sweep on threads
// gives for each combination what the combination asked alone gives.
RC_GTEST_PROP(Report, ZonesSweepIsEachCombinationAlone, ())
{
    GuestSession s{GuestSession::CheckInvariants::No};
    random_state(s, *rc::gen::arbitrary<uint32_t>(), *rc::gen::inRange<uint64_t>(0, 30));
    const machine::Machine& m = *s.machine();
    const std::string plan = *rc::gen::arbitrary<bool>() ? random_plan(m) : std::string();
    const auto some = [](std::vector<std::string> all) {
        std::string out;
        for (const std::string& x : all)
            if (*rc::gen::arbitrary<bool>()) out += (out.empty() ? "" : ",") + x;
        return out.empty() ? all.front() : out;
    };
    const std::string policy = some({"contig-zones", "auto-movable"}), ratio = some({"0", "50", "301", "3000"}),
                      online = some({"online", "online_movable", "online_kernel", "offline"});
    const std::string opts = (plan.empty() ? "" : " --plan " + plan);
    const ordered_json sweep =
        report_json(m, fmt::format("zones{} --policy {} --ratio {} --online {} --jobs 3", opts, policy, ratio, online));
    RC_LOG() << policy << " " << ratio << " " << online << " " << plan << "\n";
    for (const ordered_json& c : sweep["combinations"]) {
        const ordered_json alone = report_json(
            m, fmt::format("zones{} --policy {} --ratio {} --online {} --jobs 1", opts, c["online_policy"].get<std::string>(),
                           c["auto_movable_ratio"].get<unsigned>(), c["online_type"].get<std::string>()));
        RC_ASSERT(alone["combinations"].size() == 1u);
        RC_ASSERT(alone["combinations"][0].dump() == c.dump());
    }
    RC_ASSERT(sweep["combinations"].size() ==
              size_t(std::count(policy.begin(), policy.end(), ',') + 1) * size_t(std::count(ratio.begin(), ratio.end(), ',') + 1) *
                  size_t(std::count(online.begin(), online.end(), ',') + 1));
}

// Bad options: a clear message naming what is wrong, nothing changed.
TEST(ReportZones, BadOptionsSayWhy)
{
    GuestSession s{GuestSession::CheckInvariants::Yes};
    ASSERT_TRUE(s.run(CommandKind::Host, "qemu-system-x86_64 -m 2G,slots=2,maxmem=8G -machine q35 -device pcie-root-port,id=p1,"
                                         "bus=pcie.0,slot=1 -object memory-backend-ram,id=vm0,size=1G -device "
                                         "virtio-mem-pci,id=vmem0,memdev=vm0,bus=p1"));
    const machine::Machine& m = *s.machine();
    const std::string before = report_command(m, "plug --json").value();
    const std::pair<std::string, std::string> cases[] = {
        {"zones --policy simple", "contig-zones or auto-movable"},
        {"zones --ratio 12x", "auto_movable_ratio is a number"},
        {"zones --ratio 4294967296", "auto_movable_ratio is a number"},
        {"zones --online online_normal", "auto_online_blocks is online"},
        {"zones --plan dimm:1G,,vmem0:1G", "an empty step"},
        {"zones --plan nosuch:1G", "no virtio-mem-pci device 'nosuch'"},
        {"zones --plan dimm:1G@1", "NODE is a NUMA node of the machine, 0 to 0"},
        {"zones --plan vmem0:1G@0", "only a dimm step takes @NODE"},
        {"zones --plan dimm:1Q", "dimm:1Q"},
        {"zones --jobs 0", "--jobs '0'"},
        {"zones --emit-jobs", "--emit-jobs is for the command line"},
        {"zones dimm:1G", "its steps are --plan's"},
        {"zones --plan", "--plan needs a value"},
        {"unplug --plan dimm:1G", "report unplug takes no --plan"},
        {"plug --ratio 5", "takes none of --policy"},
    };
    for (const auto& [args, words] : cases) {
        auto r = report_command(m, args);
        ASSERT_FALSE(r) << args;
        EXPECT_NE(r.error().find(words), std::string::npos) << args << ": " << r.error();
    }
    EXPECT_EQ(report_command(m, "plug --json").value(), before);
    // Merging what is not a zones report's JSON.
    auto r = merge_zones_results({"/nonexistent.json"}, ReportFormat::Json);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("cannot be read"), std::string::npos);
}

// The current parameters and no plan: one combination, the state now.
TEST(ReportZones, DefaultsAreTheStateNow)
{
    GuestSession s{GuestSession::CheckInvariants::Yes};
    ASSERT_TRUE(s.run(CommandKind::Host, "qemu-system-x86_64 -m 6G,slots=2,maxmem=16G -machine q35 -append "
                                         "\"memhp_default_state=online_movable memory_hotplug.online_policy=auto-movable\""));
    const ordered_json r = ordered_json::parse(report_command(*s.machine(), "zones --json").value());
    ASSERT_EQ(r["combinations"].size(), 1u);
    const ordered_json& c = r["combinations"][0];
    EXPECT_EQ(c["online_policy"], "auto-movable");
    EXPECT_EQ(c["auto_movable_ratio"], 301);
    EXPECT_EQ(c["online_type"], "online_movable");
    ASSERT_EQ(c["steps"].size(), 1u);
    const ordered_json& n = c["steps"][0]["nodes"][0];
    const mm::Zone& normal = s.machine()->kernel().node_data(0).zone(mm::ZoneType::Normal);
    EXPECT_EQ(n["zones"][2]["zone"], "Normal");
    EXPECT_EQ(n["zones"][2]["managed"], normal.managed_pages.bytes());
    EXPECT_EQ(n["zones"][2]["free"], normal.nr_free_pages.bytes());
    EXPECT_EQ(n["movable_ratio"], 0);
    EXPECT_TRUE(n["short"].empty());
    EXPECT_TRUE(c["first_short"].is_null());
}

}  // namespace
}  // namespace memplug::fe
