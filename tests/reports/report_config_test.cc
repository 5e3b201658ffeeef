// The config report against what happens when the machine is started and
// filled: random command lines started in a session (QEMU's refusal, the block
// size the guest's sysfs shows, the device-memory region), the report's fill
// steps performed through the monitor and the totals read back from sysfs; and
// against the real recordings: every `$` line of tests/conformance, its output
// (QEMU's refusal or none) and the block size the recorded guest read.
#include <algorithm>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "frontends/guest_session.h"
#include "reports/report.h"
#include "frontends/transcript.h"

namespace memplug::fe {
namespace {

using nlohmann::ordered_json;

// A random command line from `seed` (rapidcheck's own ranges lean towards small
// values at small sizes; an even spread gives the refusals their share only).
std::string random_command_line(uint32_t seed)
{
    std::mt19937 rng(seed);
    auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
    auto one_of = [&](std::initializer_list<uint64_t> l) { return *(l.begin() + pick(l.size())); };
    const uint64_t MiB = 1024 * 1024;
    const bool q35 = pick(2);
    // Mostly small guests; some past 64 GiB, where the block size depends on where RAM ends.
    const uint64_t ram = 128 * MiB * (pick(5) ? 1 + pick(48) : 512 + pick(129));
    const uint64_t slots = pick(5);
    const uint64_t extra = one_of({0, 2 * MiB, 128 * MiB, 1024 * MiB, 6144 * MiB, 64 * 1024 * MiB, 300 * 1024 * MiB});
    const bool maxmem = slots || pick(2);
    std::string cl = fmt::format("qemu-system-x86_64 -m {}M", ram / MiB);
    // Sometimes what QEMU refuses: slots without maxmem, maxmem below -m.
    const uint64_t shape = pick(12);
    if (shape == 0) cl += fmt::format(",slots={}", std::max<uint64_t>(slots, 1));
    else if (shape == 1) cl += fmt::format(",slots={},maxmem={}M", slots, (ram - 128 * MiB) / MiB);
    else if (maxmem) cl += fmt::format(",slots={},maxmem={}M", slots, (ram + extra) / MiB);
    if (q35) cl += " -machine q35";
    if (pick(3) == 0) {
        // Two nodes from backends, the first with a random share of RAM.
        const uint64_t first = 128 * MiB * (1 + pick(ram / (128 * MiB)));
        cl += fmt::format(" -object memory-backend-ram,id=n0,size={}M -numa node,nodeid=0,memdev=n0", first / MiB);
        if (ram > first)
            cl += fmt::format(" -object memory-backend-ram,id=n1,size={}M -numa node,nodeid=1,memdev=n1", (ram - first) / MiB);
    }
    if (maxmem && extra >= 1024 * MiB && pick(2)) {
        const uint64_t vm = one_of({128 * MiB, 512 * MiB, 1024 * MiB});
        const uint64_t block = one_of({2 * MiB, 128 * MiB, 256 * MiB});
        const std::string bus = q35 ? " -device pcie-root-port,id=port1,bus=pcie.0,slot=1" : "";
        cl += fmt::format("{} -object memory-backend-ram,id=vm0,size={}M -device virtio-mem-pci,id=vmem0,memdev=vm0,"
                          "block-size={}M,requested-size={}M{}",
                          bus, vm / MiB, block / MiB, (pick(2) ? vm : 0) / MiB, q35 ? ",bus=port1" : "");
    }
    std::string append;
    if (pick(2)) append += " memory_hotplug.memmap_on_memory=1";
    if (pick(2)) append += std::string(" memhp_default_state=") + (pick(3) == 0 ? "online" : pick(2) ? "online_movable" : "offline");
    if (!append.empty()) cl += " -append \"" + append.substr(1) + "\"";
    return cl;
}

// The words of a `$` line, without the program name.
std::vector<std::string> qemu_args(const std::string& line)
{
    auto w = split_host_command(line);
    RC_ASSERT(w.has_value());
    w->erase(w->begin());
    return *w;
}

uint64_t count_lines(const std::string& out, std::string_view word)
{
    uint64_t n = 0;
    for (const std::string& l : split_output(out)) n += l == word;
    return n;
}

RC_GTEST_PROP(ReportConfig, PredictsWhatStartingAndFillingDoes, ())
{
    const std::string line = random_command_line(*rc::gen::arbitrary<uint32_t>());
    RC_LOG() << line << "\n";
    auto r = build_config_report(qemu_args(line));
    RC_ASSERT(r.has_value());
    RC_LOG() << r->dump() << "\n";
    GuestSession s(GuestSession::CheckInvariants::No);
    auto started = s.run(CommandKind::Host, line);
    RC_ASSERT(started.has_value());
    RC_CLASSIFY(!(*r)["qemu_error"].is_null(), (*r)["qemu_error"].is_null() ? std::string() : (*r)["qemu_error"].get<std::string>().substr(0, 60));
    RC_CLASSIFY((*r)["qemu_error"].is_null() && !(*r)["device_memory"].is_null(), "filled");
    RC_CLASSIFY(!(*r)["virtio_mem"].empty(), "virtio-mem");
    RC_CLASSIFY((*r)["qemu_error"].is_null() && (*r)["block_size"]["size"] != 128 * 1024 * 1024, "large blocks");
    if (!(*r)["qemu_error"].is_null()) {
        RC_ASSERT(*started == (*r)["qemu_error"].get<std::string>() + "\n");
        RC_ASSERT(s.machine() == nullptr);
        return;
    }
    RC_ASSERT(s.machine() != nullptr);
    const uint64_t bs = (*r)["block_size"]["size"];
    RC_ASSERT(*s.run(CommandKind::Guest, "cat /sys/devices/system/memory/block_size_bytes") == fmt::format("{:x}\n", bs));
    if ((*r)["device_memory"].is_null()) {
        RC_ASSERT(s.machine()->device_memory_size() == 0u);
        RC_ASSERT((*r)["full"].is_null());
        return;
    }
    RC_ASSERT(s.machine()->device_memory_base() == (*r)["device_memory"]["base"].get<uint64_t>());
    RC_ASSERT(s.machine()->device_memory_size() == (*r)["device_memory"]["size"].get<uint64_t>());
    // The fill as a user would type it, then what the guest's sysfs shows.
    const ordered_json& full = (*r)["full"];
    for (const ordered_json& step : full["steps"]) {
        std::string cmd = step["command"];
        std::string out;
        for (size_t p = 0; p <= cmd.size();) {
            const size_t q = std::min(cmd.find("; ", p), cmd.size());
            out = *s.run(CommandKind::Monitor, cmd.substr(p, q - p));
            p = q + 2;
        }
        if (!step["qemu_error"].is_null()) {
            RC_ASSERT(out == "Error: " + step["qemu_error"].get<std::string>() + "\n");
            continue;
        }
        RC_ASSERT(out.empty());
        if (step.contains("plugged_size")) {
            const std::string id = cmd.substr(8, cmd.find(' ', 8) - 8);
            RC_ASSERT(*s.run(CommandKind::Monitor, "qom-get " + id + " size") ==
                      fmt::format("{}\n", step["plugged_size"].get<uint64_t>()));
        } else {
            const std::string state = fmt::format("/sys/devices/system/memory/memory{}/state", step["addr"].get<uint64_t>() / bs);
            RC_ASSERT(s.run(CommandKind::Guest, "cat " + state)->starts_with("cat:") == !step["guest_adds"].get<bool>());
        }
    }
    uint64_t used = 0;
    for (const auto& d : s.machine()->memory_devices()) used += d->region_size();
    const machine::MachineConfig& c = s.machine()->config();
    RC_ASSERT(used + full["maxmem_left"].get<uint64_t>() == c.maxram_size - c.ram_size);
    const std::string states = *s.run(CommandKind::Guest, "cat /sys/devices/system/memory/memory*/state");
    RC_ASSERT(count_lines(states, "online") * bs == full["total_online"].get<uint64_t>());
    RC_ASSERT(count_lines(states, "offline") * bs == full["total_offline"].get<uint64_t>());
    RC_ASSERT(full["total_online"].get<uint64_t>() + full["total_offline"].get<uint64_t>() ==
              (count_lines(states, "online") + count_lines(states, "offline")) * bs);
}

// Every `$` line of the real recordings: the report's refusal (or none) is the
// line's recorded output, and its block size what the recorded guest read.
TEST(ReportConfig, MatchesTheRecordings)
{
    const std::filesystem::path dir = MEMPLUG_CONFORMANCE_DIR;
    std::vector<std::filesystem::path> files;
    for (const char* sub : {"cases", "qemu"})
        for (const auto& e : std::filesystem::directory_iterator(dir / sub))
            if (e.path().extension() == ".out") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    ASSERT_FALSE(files.empty());
    std::size_t lines = 0, refusals = 0, block_sizes = 0, model_differs = 0;
    std::string differences;
    for (const auto& path : files) {
        auto t = load_transcript(path);
        ASSERT_TRUE(t.has_value()) << path;
        std::optional<ordered_json> report;
        for (const Command& c : t->commands) {
            const std::string where = fmt::format("{}:{}", path.filename().string(), c.line);
            std::string recorded;
            for (const OutputLine& o : c.expected) recorded += o.text + "\n";
            if (c.kind == CommandKind::Host) {
                auto w = split_host_command(c.text);
                ASSERT_TRUE(w && !w->empty()) << where;
                w->erase(w->begin());
                auto r = build_config_report(*w);
                report.reset();
                if (!r) continue;  // a guest memplug does not model (the conformance run says so too)
                ++lines;
                // What the model's QEMU prints for this line, the report's source.
                GuestSession s;
                const std::string model = s.run(CommandKind::Host, c.text).value_or("");
                const std::string said = (*r)["qemu_error"].is_null() ? (*r)["warnings"].get<std::string>()
                                                                      : (*r)["qemu_error"].get<std::string>() + "\n";
                EXPECT_EQ(said, model) << where;
                if (said != recorded) {
                    ++model_differs;
                    differences += fmt::format("  {}: recorded {:?}, the report {:?}\n", where, recorded, said);
                } else {
                    refusals += !(*r)["qemu_error"].is_null();
                }
                if ((*r)["qemu_error"].is_null()) report = std::move(*r);
            } else if (report && c.text == "cat /sys/devices/system/memory/block_size_bytes" && !c.expected.empty()) {
                EXPECT_EQ(fmt::format("{:x}\n", (*report)["block_size"]["size"].get<uint64_t>()), recorded) << where;
                ++block_sizes;
            }
        }
    }
    std::cout << fmt::format("{} `$` lines, {} refusals in QEMU's words, {} block sizes read; {} where the model's QEMU "
                             "differs from the real one:\n{}",
                             lines, refusals, block_sizes, model_differs, differences);
    // Every recorded `$` line's output is what the report says (the QEMU set has no known difference).
    EXPECT_EQ(model_differs, 0u);
    EXPECT_GT(refusals, 10u);
    EXPECT_GT(block_sizes, 0u);
}

}  // namespace
}  // namespace memplug::fe
