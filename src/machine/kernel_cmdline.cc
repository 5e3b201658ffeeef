#include "machine/kernel_cmdline.h"

#include <charconv>
#include <string>
#include <vector>

#include "machine/qemu_opts.h"

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

// lib/kstrtox.c: kstrtobool decides on the first character (and "on"/"off").
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
            unsigned v = 0;
            auto [ptr, ec] = std::from_chars(val.data(), val.data() + val.size(), v);
            if (ec == std::errc() && ptr == val.data() + val.size()) p.auto_movable_ratio = v;
        } else if (key == "memory_hotplug.auto_movable_numa_aware") {
            if (auto b = kstrtobool(val.empty() ? "1" : val)) p.auto_movable_numa_aware = *b;
        } else if (key == "memory_hotplug.memmap_on_memory") {
            if (auto b = kstrtobool(val.empty() ? "1" : val)) p.memmap_on_memory = *b;
        } else if (key == "kernelcore") {
            if (auto v = memparse(val)) out.kernelcore_bytes = *v;
        } else if (key == "movablecore") {
            if (auto v = memparse(val)) out.movablecore_bytes = *v;
        }
    }
    return out;
}

}  // namespace memplug::machine
