// Random long sessions: DIMM plug and unplug, virtio-mem resizes, onlining and
// offlining blocks, tmpfs files written and removed, hugepage requests. After
// every step the model's invariants hold (GuestSession's brute-force recount:
// counters, page states, vmemmap, zone->contiguous, the page cache's reverse
// map, hugetlb pools), and every file still has the checksum it was written with.
//
// A short run is a CTest test (invariants_test.cc); `make invariants-long`
// runs invariants_long, which takes the number of operations.
#pragma once

#include <map>
#include <optional>
#include <random>

#include <fmt/format.h>

#include "frontends/guest_session.h"

namespace memplug::fe::test {

struct Outcome {
    uint64_t steps = 0;
    std::string failure;  // empty: every step kept the invariants
};

// One session of `ops` random steps from `seed` in `s` (a fresh session);
// stops at the first failure. The session is left in its last state.
inline Outcome random_session(uint32_t seed, uint64_t ops, GuestSession& s)
{
    std::mt19937 rng(seed);
    auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
    Outcome out;
    std::string log;
    auto run = [&](CommandKind kind, const std::string& cmd) -> std::optional<std::string> {
        log += (kind == CommandKind::Guest ? "# " : kind == CommandKind::Monitor ? "(qemu) " : "$ ") + cmd + "\n";
        auto r = s.run(kind, cmd);
        if (!r) {
            out.failure = fmt::format("seed {} step {}: {}\n{}", seed, out.steps, r.error(), log);
            return std::nullopt;
        }
        return *r;
    };
    const bool movable_default = pick(2);
    const std::string append = fmt::format("memhp_default_state={}{}", movable_default ? "online_movable" : "online",
                                           pick(3) == 0 ? " memory_hotplug.memmap_on_memory=1" : "");
    if (!run(CommandKind::Host,
             "qemu-system-x86_64 -m 2G,slots=4,maxmem=8G -machine q35 -device pcie-root-port,id=port1,bus=pcie.0,slot=1"
             " -object memory-backend-ram,id=vm0,size=1G -device virtio-mem-pci,id=vmem0,memdev=vm0,bus=port1"
             " -append \"" + append + "\""))
        return out;
    std::map<std::string, std::string> sums;  // file -> md5sum line
    int dimm_seq = 0;
    std::vector<std::string> dimms;
    for (; out.steps < ops; ++out.steps) {
        std::optional<std::string> r;
        switch (pick(9)) {
        case 0: {  // plug a DIMM
            if (dimms.size() >= 3) continue;
            const int id = dimm_seq++;
            const uint64_t size_mib = 128 * (1 + pick(4));
            if (!run(CommandKind::Monitor, fmt::format("object_add memory-backend-ram,id=m{},size={}M", id, size_mib)))
                return out;
            if (!(r = run(CommandKind::Monitor, fmt::format("device_add pc-dimm,id=d{},memdev=m{}", id, id)))) return out;
            dimms.push_back(fmt::format("d{}", id));
            break;
        }
        case 1:  // unplug one (refused or not)
            if (dimms.empty()) continue;
            if (!run(CommandKind::Monitor, "device_del " + dimms[pick(dimms.size())])) return out;
            break;
        case 2:  // resize virtio-mem
            if (!run(CommandKind::Monitor, fmt::format("qom-set vmem0 requested-size {}M", 2 * pick(513)))) return out;
            break;
        case 3:
        case 4: {  // a state write on some block
            static const char* states[] = {"offline", "online", "online_movable", "online_kernel"};
            const uint64_t block = pick(2) ? 32 + pick(24) : pick(16);
            if (!run(CommandKind::Guest, fmt::format("echo {} > /sys/devices/system/memory/memory{}/state 2>/dev/null",
                                                     states[pick(4)], block)))
                return out;
            break;
        }
        case 5: {  // write a file (zeros or data)
            const std::string f = fmt::format("/f{}", pick(6));
            const char* src = pick(2) ? "/dev/zero" : "/dev/urandom";
            if (!run(CommandKind::Guest, fmt::format("dd if={} of={} bs=16k count={} 2>/dev/null", src, f, 1 + pick(64))))
                return out;
            if (!(r = run(CommandKind::Guest, "md5sum " + f))) return out;
            sums[f] = *r;
            break;
        }
        case 6: {  // remove one
            if (sums.empty()) continue;
            auto it = std::next(sums.begin(), long(pick(sums.size())));
            if (!run(CommandKind::Guest, "rm " + it->first)) return out;
            sums.erase(it);
            break;
        }
        case 7: {  // hugepages
            const bool gigantic = pick(4) == 0;
            const std::string file = gigantic ? "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
                                              : "/proc/sys/vm/nr_hugepages";
            if (!run(CommandKind::Guest, fmt::format("echo {} > {}", gigantic ? pick(3) : pick(300), file))) return out;
            break;
        }
        case 8:  // a forked command: the kernel keeps some of what it allocated
            if (!run(CommandKind::Guest, "cat /proc/meminfo > /dev/null")) return out;
            break;
        }
        // Every file still reads back what was written, wherever its pages went.
        for (const auto& [f, sum] : sums) {
            auto now = run(CommandKind::Guest, "md5sum " + f);
            if (!now) return out;
            if (*now != sum) {
                out.failure = fmt::format("seed {} step {}: {} changed: {} -> {}\n{}", seed, out.steps, f, sum, *now, log);
                return out;
            }
        }
    }
    return out;
}

inline Outcome random_session(uint32_t seed, uint64_t ops)
{
    GuestSession s(GuestSession::CheckInvariants::Yes);
    return random_session(seed, ops, s);
}

}  // namespace memplug::fe::test
