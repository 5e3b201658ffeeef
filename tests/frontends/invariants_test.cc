// Random long sessions keep every invariant and every file (see random_session.h).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "frontends/guest_session.h"
#include "random_session.h"

namespace memplug::fe {
namespace {

RC_GTEST_PROP(Invariants, RandomSessionsKeepEveryInvariantAndEveryFile, ())
{
    const auto seed = *rc::gen::arbitrary<uint32_t>();
    const test::Outcome o = test::random_session(seed, 60);
    RC_ASSERT(o.failure == std::string());
}

// The reproducer of issue 10: a kernelcore= guest whose hot-added block goes to
// ZONE_MOVABLE and back out (offline, then the DIMM unplugged) once broke "zone
// Movable: present exceeds spanned". Every command checks the invariants.
TEST(Invariants, KernelcoreGuestWithAMovableDimmOfflinedAndUnplugged)
{
    for (const char* append : {"kernelcore=1G", "movablecore=1G"}) {
        GuestSession s{GuestSession::CheckInvariants::Yes};
        for (const auto& [kind, line] : std::vector<std::pair<CommandKind, std::string>>{
                 {CommandKind::Host, std::string("qemu-system-x86_64 -m 2G,slots=2,maxmem=4G -machine q35 -append \"") +
                                         append + "\""},
                 {CommandKind::Monitor, "object_add memory-backend-ram,id=m0,size=128M"},
                 {CommandKind::Monitor, "device_add pc-dimm,id=d0,memdev=m0"},
                 {CommandKind::Guest, "echo online_movable > /sys/devices/system/memory/memory32/state"},
                 {CommandKind::Guest, "echo offline > /sys/devices/system/memory/memory32/state"},
                 {CommandKind::Guest, "echo online_movable > /sys/devices/system/memory/memory32/state"},
                 {CommandKind::Monitor, "device_del d0"},
                 {CommandKind::Guest, "grep -c . /proc/zoneinfo"}}) {
            auto r = s.run(kind, line);
            ASSERT_TRUE(r) << append << ": " << line << ": " << r.error();
        }
    }
}

}  // namespace
}  // namespace memplug::fe
