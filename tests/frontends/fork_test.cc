// Machine::fork: a fork starts in the machine's state (every procfs view, every
// block, every device, the kernel log) and from then on goes its own way: what
// is done to it leaves the original as it was, and the same commands on the
// original and on a fork print the same and end in the same state.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <random>

#include <fmt/format.h>

#include "frontends/guest_session.h"
#include "machine/monitor.h"
#include "random_session.h"
#include "views/procfs.h"

namespace memplug::fe {
namespace {

// Everything the kernel model and QEMU hold, as text, without a lookup (a GuestFs
// would instantiate dentries and take slab pages as it reads).
std::string snapshot(const machine::Machine& m)
{
    const mm::Kernel& k = m.kernel();
    std::string s = views::meminfo_show(k) + views::zoneinfo_show(k) + views::buddyinfo_show(k) +
                    views::pagetypeinfo_show(k) + views::iomem_show(k) + views::vmstat_show(k);
    for (const auto& [id, b] : k.memory_blocks())
        s += fmt::format("block {} state {} zone {} node {} vmemmap {} group {} fw {}\n", id.value(), int(b.state),
                         b.zone ? int(*b.zone) : -1, b.nid, b.nr_vmemmap_pages.value(), b.group.value_or(-1),
                         b.firmware_node);
    for (const auto& d : m.memory_devices())
        s += fmt::format("device {} {} at {:#x} size {:#x} plugged {:#x} node {}\n", d->id(), d->qom_type(),
                         d->address(), d->region_size(), d->plugged_memory(), d->numa_node());
    for (const mm::LogRecord& r : k.log().records()) s += fmt::format("log {} {}\n", r.seq, r.text);
    return s;
}

// Monitor commands a platform engineer would try on a fork: plug, resize, unplug.
std::vector<std::string> random_commands(uint32_t seed)
{
    std::mt19937 rng(seed);
    auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
    std::vector<std::string> c;
    for (int i = 0; i < 6; ++i) switch (pick(3)) {
        case 0:
            c.push_back(fmt::format("object_add memory-backend-ram,id=fm{},size={}M", i, 128 * (1 + pick(4))));
            c.push_back(fmt::format("device_add pc-dimm,id=fd{},memdev=fm{}", i, i));
            break;
        case 1: c.push_back(fmt::format("qom-set vmem0 requested-size {}M", 2 * pick(513))); break;
        case 2: c.push_back(fmt::format("device_del {}", pick(2) ? "d0" : "d1")); break;
        }
    return c;
}

RC_GTEST_PROP(Fork, StartsInTheStateAndGoesItsOwnWay, ())
{
    const auto seed = *rc::gen::arbitrary<uint32_t>();
    GuestSession s(GuestSession::CheckInvariants::Yes);
    const test::Outcome o = test::random_session(seed, 30, s);
    RC_ASSERT(o.failure == std::string());
    machine::Machine& m = *s.machine();
    const std::string before = snapshot(m);

    std::unique_ptr<machine::Machine> f = m.fork();
    RC_ASSERT(snapshot(*f) == before);
    RC_ASSERT(f->kernel().check_invariants().has_value());

    const std::vector<std::string> commands = random_commands(seed);
    std::vector<std::string> on_fork;
    for (const std::string& c : commands) {
        on_fork.push_back(machine::hmp(*f, c));
        auto inv = f->kernel().check_invariants();
        RC_ASSERT(inv.has_value());
    }
    RC_ASSERT(snapshot(m) == before);

    // The original, given the same commands, answers and ends as the fork did.
    for (size_t i = 0; i < commands.size(); ++i) RC_ASSERT(machine::hmp(m, commands[i]) == on_fork[i]);
    RC_ASSERT(snapshot(m) == snapshot(*f));
}

// A fork of a fork, and a fork outliving its original.
TEST(Fork, OutlivesItsOriginal)
{
    std::unique_ptr<machine::Machine> f;
    std::string before;
    {
        GuestSession s;
        ASSERT_TRUE(s.run(CommandKind::Host, "qemu-system-x86_64 -m 2G,slots=2,maxmem=8G -machine q35 -device "
                                             "pcie-root-port,id=p1,bus=pcie.0,slot=1 -object memory-backend-ram,id=vm0,"
                                             "size=1G -device virtio-mem-pci,id=vmem0,memdev=vm0,bus=p1,requested-size=256M"));
        f = s.machine()->fork()->fork();
        before = snapshot(*s.machine());
    }
    EXPECT_EQ(snapshot(*f), before);
    EXPECT_EQ(machine::hmp(*f, "qom-set vmem0 requested-size 512M"), "");
    EXPECT_EQ(std::get<machine::VirtioMemDeviceInfo>(f->query_memory_devices().at(0)).size, 512 * mm::MiB);
    EXPECT_TRUE(f->kernel().check_invariants().has_value());
}

}  // namespace
}  // namespace memplug::fe
