// The reports against the real kernel: every recording in tests/conformance/cases
// is replayed in the model, and before each offline write, device_add and device_del
// of a DIMM, virtio-mem requested-size change and nr_hugepages write the report is asked on
// the model's state at that point. Its prediction must be what the recording
// shows the real kernel then did (errno, state afterwards, eject, size reached,
// pool size). A prediction may differ from the recording only in a case listed in
// known-differences.txt, and only where the model itself did what the report
// said (the model disagrees with the kernel there, not the report with the model).
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "frontends/conformance.h"
#include "frontends/guest_session.h"
#include "reports/report.h"
#include "machine/qemu_opts.h"

namespace memplug::fe {
namespace {

using nlohmann::ordered_json;
using Outputs = std::vector<std::vector<std::string>>;  // per command, its output lines

// An outcome as the recording and the model's run can both show it.
struct Prediction {
    std::size_t command = 0;
    std::string what;      // "errno", "state", "ejected", "size", "pool", "node pool"
    std::string expected;  // the report's answer
    // Reads the outcome from one run's outputs; nullopt when that run shows none.
    std::function<std::optional<std::string>(const Transcript&, const Outputs&)> outcome;
};

// The errno a shell write shows: busybox's "sh: write error: MESSAGE", none for success.
std::optional<std::string> write_errno(const std::vector<std::string>& out)
{
    for (const std::string& l : out)
        if (l.starts_with("sh: write error: ")) {
            const std::string msg = l.substr(17);
            for (int e = 1; e < 200; ++e)
                if (msg == strerror(e)) return strerrorname_np(e);
            return msg;
        }
    return std::string("none");
}

// Later commands of the same machine that only read (cat, grep, ls, info, qom-get):
// the first one showing the outcome tells it.
template <typename F>
std::optional<std::string> scan_reads(const Transcript& t, const Outputs& out, std::size_t after, F&& f)
{
    for (std::size_t i = after + 1; i < t.commands.size() && i < out.size(); ++i) {
        const Command& c = t.commands[i];
        const bool read = c.text.starts_with("cat ") || c.text.starts_with("grep ") || c.text.starts_with("ls ") ||
                          c.text.starts_with("info ") || c.text.starts_with("qom-get ");
        if (!read || c.kind == CommandKind::Host || c.kind == CommandKind::Memplug) return std::nullopt;
        if (auto r = f(c, out[i])) return r;
    }
    return std::nullopt;
}

std::vector<ordered_json> all_blocks(const ordered_json& r)
{
    std::vector<ordered_json> out(r["boot_blocks"].begin(), r["boot_blocks"].end());
    for (const ordered_json& d : r["devices"]) out.insert(out.end(), d["blocks"].begin(), d["blocks"].end());
    return out;
}

const ordered_json* find_device(const ordered_json& r, const std::string& id)
{
    for (const ordered_json& d : r["devices"])
        if (d["id"] == id) return &d;
    return nullptr;
}

// `info memory-devices` lines of device ID: its value of FIELD.
std::optional<std::string> device_field(const std::vector<std::string>& out, const std::string& id,
                                        const std::string& field)
{
    bool in = false;
    for (const std::string& l : out) {
        if (l.starts_with("Memory device ")) in = l.ends_with("\"" + id + "\"");
        else if (in && l.starts_with("  " + field + ": ")) return l.substr(field.size() + 4);
    }
    return std::nullopt;
}

std::vector<Prediction> predict(const Transcript& t, std::size_t i, machine::Machine& m)
{
    static const std::regex offline_re(
        R"(echo (offline|0) > /sys/devices/system/memory/memory(\d+)/(state|online)(; echo \$\?)?)");
    static const std::regex del_re(R"(device_del (\S+))");
    static const std::regex shrink_re(R"(qom-set (\S+) requested-size (\S+))");
    static const std::regex dimm_add_re(R"(device_add pc-dimm,id=(\w+),memdev=(\w+))");
    static const std::regex huge_re(
        R"(echo (\d+) > (/proc/sys/vm/nr_hugepages|/sys/kernel/mm/hugepages/hugepages-(\d+)kB/nr_hugepages|/sys/devices/system/node/node(\d+)/hugepages/hugepages-(\d+)kB/nr_hugepages)(; echo \$\?)?)");
    const Command& c = t.commands[i];
    std::smatch g;
    std::vector<Prediction> p;
    if (c.kind == CommandKind::Guest && std::regex_match(c.text, g, offline_re)) {
        if ((g[1] == "offline") != (g[3] == "state")) return p;
        const uint64_t block = std::stoull(g[2]);
        const bool state_file = g[3] == "state";
        const ordered_json r = *build_report(m, "unplug");
        for (const ordered_json& b : all_blocks(r)) {
            if (b["block"] != block) continue;
            const ordered_json& v = b["offline"];
            // online_store takes an offline device's "already offline" as success, state_store as EINVAL.
            const bool already = b["state"] == "offline";
            const std::string err = v["ok"] || (already && !state_file) ? "none" : v["errno"].get<std::string>();
            p.push_back({i, "errno", err, [i](const Transcript&, const Outputs& o) { return write_errno(o[i]); }});
            const std::string state = err == "none" || already ? "offline" : b["state"].get<std::string>();
            const std::string file = fmt::format("/sys/devices/system/memory/memory{}/state", block);
            p.push_back({i, "state", state, [i, file](const Transcript& tr, const Outputs& o) {
                             return scan_reads(tr, o, i, [&](const Command& rc, const std::vector<std::string>& lines)
                                                             -> std::optional<std::string> {
                                 if (rc.text == "cat " + file && lines.size() == 1) return lines[0];
                                 for (const std::string& l : lines)
                                     if (l.starts_with(file + ":")) return l.substr(file.size() + 1);
                                 return std::nullopt;
                             });
                         }});
        }
    } else if (c.kind == CommandKind::Monitor && std::regex_match(c.text, g, del_re)) {
        const std::string id = g[1];
        const ordered_json r = *build_report(m, "unplug");
        const ordered_json* d = find_device(r, id);
        if (!d || !d->contains("eject")) return p;
        const std::string first_block =
            fmt::format("memory{}", (*d)["addr"].get<uint64_t>() / r["memory_block_size"].get<uint64_t>());
        p.push_back({i, "ejected", (*d)["eject"]["possible"] ? "yes" : "no",
                     [i, id, first_block](const Transcript& tr, const Outputs& o) {
                         return scan_reads(tr, o, i, [&](const Command& rc, const std::vector<std::string>& lines)
                                                         -> std::optional<std::string> {
                             if (rc.text == "info memory-devices")
                                 return device_field(lines, id, "addr") ? "no" : "yes";
                             if (rc.text == "ls /sys/devices/system/memory") {
                                 for (const std::string& l : lines) {
                                     std::istringstream words(l);
                                     for (std::string w; words >> w;)
                                         if (w == first_block) return std::string("no");
                                 }
                                 return std::string("yes");
                             }
                             return std::nullopt;
                         });
                     }});
    } else if (c.kind == CommandKind::Monitor && std::regex_match(c.text, g, shrink_re)) {
        const std::string id = g[1];
        const auto req = machine::parse_size(g[2].str());
        const ordered_json r = *build_report(m, "unplug");
        const ordered_json* d = find_device(r, id);
        if (!req || !d || !d->contains("shrink")) return p;
        const ordered_json& s = (*d)["shrink"];
        if (*req > s["plugged_size"].get<uint64_t>()) {
            // A grow: the size the plug report says the driver reaches.
            auto plug = build_report(m, "plug", {}, fmt::format("{}:{}", id, *req));
            const ordered_json& v = (*plug)["step"]["virtio_mem"];
            if (!v["qemu_error"].is_null()) return p;
            p.push_back({i, "plug size", std::to_string(v["reached"].get<uint64_t>()), [i, id](const Transcript& tr, const Outputs& o) {
                             return scan_reads(tr, o, i, [&](const Command& rc, const std::vector<std::string>& lines)
                                                             -> std::optional<std::string> {
                                 if (rc.text == "qom-get " + id + " size" && lines.size() == 1) return lines[0];
                                 if (rc.text == "info memory-devices") return device_field(lines, id, "size");
                                 return std::nullopt;
                             });
                         }});
            return p;
        }
        const auto* dev = dynamic_cast<const machine::VirtioMem*>(
            std::find_if(m.memory_devices().begin(), m.memory_devices().end(),
                         [&](const auto& x) { return x->id() == id; })->get());
        // A shrink only: a request QEMU accepts (block-size multiple, within the device) below what is plugged.
        if (*req >= s["plugged_size"].get<uint64_t>() || *req % dev->block_size() || *req > (*d)["size"].get<uint64_t>())
            return p;
        const uint64_t reached = std::max(*req, s["smallest_request_served"].get<uint64_t>());
        p.push_back({i, "size", std::to_string(reached), [i, id](const Transcript& tr, const Outputs& o) {
                         return scan_reads(tr, o, i, [&](const Command& rc, const std::vector<std::string>& lines)
                                                         -> std::optional<std::string> {
                             if (rc.text == "qom-get " + id + " size" && lines.size() == 1) return lines[0];
                             if (rc.text == "info memory-devices") return device_field(lines, id, "size");
                             return std::nullopt;
                         });
                     }});
    } else if (c.kind == CommandKind::Monitor && std::regex_match(c.text, g, dimm_add_re)) {
        // A new pc-dimm: QEMU's refusal (the command's own output), or whether the
        // guest adds its memory (its first block in the next ls of /sys/devices/system/memory).
        const auto memdevs = m.query_memdev();
        const auto be = std::find_if(memdevs.begin(), memdevs.end(), [&](const auto& x) { return x.id == g[2].str(); });
        if (be == memdevs.end()) return p;
        // The step is a new DIMM on a free backend: a taken id or memdev is device_add's own matter.
        for (const auto& d : m.memory_devices())
            if (d->id() == g[1].str() || d->memdev() == g[2].str()) return p;
        const ordered_json r = *build_report(m, "plug", {}, fmt::format("dimm:{}", be->size));
        const ordered_json& s = r["step"];
        p.push_back({i, "device_add", s["qemu_error"].is_null() ? "" : "Error: " + s["qemu_error"].get<std::string>(),
                     [i](const Transcript&, const Outputs& o) {
                         return std::optional<std::string>(o[i].empty() ? "" : o[i][0]);
                     }});
        if (!s["qemu_error"].is_null()) return p;
        const std::string first_block =
            fmt::format("memory{}", s["addr"].get<uint64_t>() / r["memory_block_size"].get<uint64_t>());
        p.push_back({i, "guest adds", s["guest_adds"] ? "yes" : "no", [i, first_block](const Transcript& tr, const Outputs& o) {
                         return scan_reads(tr, o, i, [&](const Command& rc, const std::vector<std::string>& lines)
                                                         -> std::optional<std::string> {
                             if (rc.text != "ls /sys/devices/system/memory") return std::nullopt;
                             for (const std::string& l : lines) {
                                 std::istringstream words(l);
                                 for (std::string w; words >> w;)
                                     if (w == first_block) return std::string("yes");
                             }
                             return std::string("no");
                         });
                     }});
    } else if (c.kind == CommandKind::Guest && std::regex_match(c.text, g, huge_re)) {
        const uint64_t want = std::stoull(g[1]);
        const uint64_t kb = g[3].matched ? std::stoull(g[3]) : g[5].matched ? std::stoull(g[5]) : 2048;
        const int node_id = g[4].matched ? std::stoi(g[4]) : -1;
        const ordered_json r = *build_report(m, "hugepages");
        for (const ordered_json& sz : r["sizes"]) {
            if (sz["size_kb"] != kb) continue;
            // Growing takes what the report says it can get; shrinking frees free pages down to the request.
            auto after = [want](uint64_t pool, uint64_t free, uint64_t more) {
                return want >= pool ? pool + std::min(want - pool, more) : std::max(want, pool - free);
            };
            const uint64_t nr = sz["nr_hugepages"];
            uint64_t total = after(nr, sz["free_hugepages"], sz["more"]);
            std::string node_file;
            std::optional<uint64_t> node_pool;
            if (node_id >= 0) {
                for (const ordered_json& n : sz["nodes"])
                    if (n["node"] == node_id) node_pool = after(n["pool"], n["free"], n["more"]);
                if (!node_pool) return p;
                uint64_t before = 0;
                for (const ordered_json& n : sz["nodes"])
                    if (n["node"] == node_id) before = n["pool"];
                total = nr - before + *node_pool;
                node_file =
                    fmt::format("/sys/devices/system/node/node{}/hugepages/hugepages-{}kB/nr_hugepages", node_id, kb);
            }
            const std::string global = fmt::format("/sys/kernel/mm/hugepages/hugepages-{}kB/nr_hugepages", kb);
            p.push_back({i, "pool", std::to_string(total), [i, kb, global](const Transcript& tr, const Outputs& o) {
                             return scan_reads(tr, o, i, [&](const Command& rc, const std::vector<std::string>& lines)
                                                             -> std::optional<std::string> {
                                 if (lines.size() == 1 &&
                                     (rc.text == "cat " + global || (kb == 2048 && rc.text == "cat /proc/sys/vm/nr_hugepages")))
                                     return lines[0];
                                 for (const std::string& l : lines) {
                                     if (l.starts_with(global + ":")) return l.substr(global.size() + 1);
                                     if (kb == 2048 && l.starts_with("HugePages_Total:"))
                                         return l.substr(l.find_first_not_of(' ', 16));
                                 }
                                 return std::nullopt;
                             });
                         }});
            if (node_id >= 0)
                p.push_back({i, "node pool", std::to_string(*node_pool),
                             [i, node_file](const Transcript& tr, const Outputs& o) {
                                 return scan_reads(tr, o, i, [&](const Command&, const std::vector<std::string>& lines)
                                                                 -> std::optional<std::string> {
                                     for (const std::string& l : lines)
                                         if (l.starts_with(node_file + ":")) return l.substr(node_file.size() + 1);
                                     return std::nullopt;
                                 });
                             }});
        }
    }
    return p;
}

TEST(ReportConformance, PredictsWhatTheRealKernelDid)
{
    const std::filesystem::path dir = MEMPLUG_CONFORMANCE_DIR;
    auto known = KnownDifferences::load((dir / "known-differences.txt").string());
    ASSERT_TRUE(known.has_value()) << known.error();
    std::vector<std::filesystem::path> cases;
    for (const auto& e : std::filesystem::directory_iterator(dir / "cases"))
        if (e.path().extension() == ".out") cases.push_back(e.path());
    std::sort(cases.begin(), cases.end());
    ASSERT_FALSE(cases.empty());

    std::size_t checked = 0, unseen = 0;
    std::map<std::string, std::size_t> by_kind;
    std::map<std::string, std::string> excluded;  // case -> its excluded predictions
    for (const auto& path : cases) {
        auto t = load_transcript(path);
        ASSERT_TRUE(t.has_value()) << path;
        GuestSession session(GuestSession::CheckInvariants::Yes);
        Outputs model, recorded;
        std::vector<Prediction> predictions;
        for (std::size_t i = 0; i < t->commands.size(); ++i) {
            const Command& c = t->commands[i];
            if (session.machine()) {
                auto p = predict(*t, i, *session.machine());
                predictions.insert(predictions.end(), p.begin(), p.end());
            }
            auto out = session.run(c.kind, c.text);
            ASSERT_TRUE(out.has_value()) << path << ":" << c.line << ": " << out.error();
            model.push_back(split_output(*out));
            recorded.push_back(t->expected_lines(i));
        }
        const std::string name = path.stem().string();
        for (const Prediction& p : predictions) {
            const Command& c = t->commands[p.command];
            const std::string where = fmt::format("{}:{}: '{}' {}", path.filename().string(), c.line, c.text, p.what);
            const auto real = p.outcome(*t, recorded);
            const auto own = p.outcome(*t, model);
            // The report answers for the model: where the model shows the outcome it must agree.
            if (own) {
                EXPECT_EQ(p.expected, *own) << where << ": the report's prediction is not what the model did";
            }
            if (!real) {
                ++unseen;
                continue;
            }
            if (*real != p.expected && own && *own == p.expected && known->reasons.count(name)) {
                excluded[name] += fmt::format("    {}: predicted {}, the real kernel {}\n", where, p.expected, *real);
                continue;
            }
            EXPECT_EQ(p.expected, *real) << where << ": the report's prediction is not what the real kernel did";
            ++checked;
            ++by_kind[p.what];
        }
    }
    std::string kinds;
    for (const auto& [k, n] : by_kind) kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", n, k);
    std::printf("report predictions checked against the real kernel: %zu (%s); %zu with no outcome recorded\n",
                checked, kinds.c_str(), unseen);
    for (const auto& [name, lines] : excluded)
        std::printf("excluded, %s is a known model difference (%s):\n%s", name.c_str(), known->reasons.at(name).c_str(),
                    lines.c_str());
    RecordProperty("predictions_checked", int(checked));
    EXPECT_GT(checked, 100u);
}

}  // namespace
}  // namespace memplug::fe
