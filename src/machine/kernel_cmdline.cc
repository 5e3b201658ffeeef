#include "machine/kernel_cmdline.h"

#include <string>
#include <vector>

#include "machine/qemu_opts.h"
#include "mm/kstrtox.h"

namespace memplug::machine {

namespace {

std::vector<std::string> split_words(std::string_view s)
{
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    for (char c : s) {
        if (c == '"') {
            quoted = !quoted;
            continue;
        }
        if (!quoted && (c == ' ' || c == '\t' || c == '\n')) {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
            continue;
        }
        cur += c;
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

// memparse(): a number with an optional K/M/G/T/P/E suffix.
std::optional<uint64_t> memparse(std::string_view s)
{
    auto v = parse_size(s, 'B');
    if (!v) return std::nullopt;
    return *v;
}

}  // namespace

KernelCmdline parse_kernel_cmdline(std::string_view append)
{
    KernelCmdline out;
    mm::HotplugParams& p = out.params;
    for (const std::string& word : split_words(append)) {
        const auto eq = word.find('=');
        const std::string key = word.substr(0, eq);
        const std::string val = eq == std::string::npos ? std::string() : word.substr(eq + 1);
        if (key == "memhp_default_state") {
            // setup_memhp_default_state: unknown strings are ignored silently.
            if (val == "online") p.mhp_default_online_type = mm::MmopType::Online;
            else if (val == "online_kernel") p.mhp_default_online_type = mm::MmopType::OnlineKernel;
            else if (val == "online_movable") p.mhp_default_online_type = mm::MmopType::OnlineMovable;
            else if (val == "offline") p.mhp_default_online_type = mm::MmopType::Offline;
        } else if (key == "movable_node") {
            p.movable_node = true;
        } else if (key == "memory_hotplug.online_policy") {
            if (val == "contig-zones") p.online_policy = mm::OnlinePolicy::ContigZones;
            else if (val == "auto-movable") p.online_policy = mm::OnlinePolicy::AutoMovable;
        } else if (key == "memory_hotplug.auto_movable_ratio") {
            if (auto v = mm::kstrtoull(val, 0, UINT32_MAX)) p.auto_movable_ratio = unsigned(*v);
        } else if (key == "memory_hotplug.auto_movable_numa_aware") {
            if (auto b = mm::kstrtobool(val.empty() ? "1" : val)) p.auto_movable_numa_aware = *b;
        } else if (key == "memory_hotplug.memmap_on_memory") {
            if (auto b = mm::kstrtobool(val.empty() ? "1" : val)) p.memmap_on_memory = *b;
        } else if (key == "memplug.zone_contiguous") {
            if (val == "rescan") p.zone_contiguous = mm::HotplugParams::ZoneContiguity::Rescan;
            else if (val == "counter") p.zone_contiguous = mm::HotplugParams::ZoneContiguity::Counter;
        } else if (key == "kernelcore") {
            if (auto v = memparse(val)) out.kernelcore_bytes = *v;
        } else if (key == "movablecore") {
            if (auto v = memparse(val)) out.movablecore_bytes = *v;
        }
    }
    return out;
}

}  // namespace memplug::machine
