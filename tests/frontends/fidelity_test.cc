#include "frontends/fidelity.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace memplug::fe {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using Lines = std::vector<std::string>;

std::vector<std::string> messages(const Verdict& verdict)
{
    std::vector<std::string> result;
    for (const LineDifference& difference : verdict.differences)
        result.push_back(difference.message);
    return result;
}

Verdict guest(FidelityComparator& comparator, std::string_view command, const Lines& expected, const Lines& actual)
{
    return comparator.compare(CommandKind::Guest, command, expected, actual);
}

// A two-zone excerpt of /proc/zoneinfo with the numbers a test varies.
struct Zones {
    long dma_free = 3840;
    long dma32_free = 220000;
    long dma32_spanned = 258015;
    long dma32_managed = 225014;
    long normal_managed = 32768;
    int width = 8;  // the kernel pads names and numbers; layouts may differ
};

Lines zoneinfo(const Zones& z)
{
    return {
        "Node 0, zone      DMA",
        "  per-node stats",
        "      nr_inactive_anon 0",
        fmt::format("  pages free     {:<{}}", z.dma_free, z.width),
        "        min      33",
        "        spanned  4095",
        "        present  3998",
        "        managed  3840",
        "        protection: (0, 876, 876, 876, 876)",
        "  pagesets",
        "    cpu: 0",
        "              count: 12",
        "  start_pfn:           1",
        "Node 0, zone    DMA32",
        fmt::format("  pages free     {}", z.dma32_free),
        fmt::format("        spanned  {}", z.dma32_spanned),
        "        present  258015",
        fmt::format("        managed{:>{}}", z.dma32_managed, z.width),
        "  start_pfn:           4096",
        "Node 0, zone   Normal",
        "        present  32768",
        fmt::format("        managed  {}", z.normal_managed),
    };
}

constexpr std::string_view k_cat_zoneinfo = "cat /proc/zoneinfo";

TEST(Fidelity, OtherCommandsCompareLineForLine)
{
    FidelityComparator comparator;
    EXPECT_TRUE(guest(comparator, "cat /sys/devices/system/memory/memory32/valid_zones", {"Normal Movable"},
                      {"Normal Movable"})
                    .agrees());
    Verdict verdict = guest(comparator, "cat /sys/devices/system/memory/memory32/state", {"online"}, {"offline"});
    EXPECT_THAT(messages(verdict), ElementsAre("expected 'online', got 'offline'"));
    EXPECT_THAT(verdict.differences, ElementsAre(Field(&LineDifference::expected_index, 0u)));
    EXPECT_THAT(messages(guest(comparator, "echo 1 > x", {"sh: write error: Invalid argument"}, {})),
                ElementsAre("expected 1 lines, got 0"));
    // Monitor output too, spaces included.
    EXPECT_FALSE(comparator.compare(CommandKind::Monitor, "info numa", Lines{"1 nodes"}, Lines{"1  nodes"}).agrees());
}

// The recorder boots with its own words before the transcript's -append.
TEST(Fidelity, CmdlineWithoutTheRecordersWords)
{
    FidelityComparator comparator;
    EXPECT_TRUE(guest(comparator, "cat /proc/cmdline", {"console=ttyS0 quiet panic=-1 nokaslr movable_node"},
                      {"movable_node"})
                    .agrees());
    EXPECT_TRUE(guest(comparator, "cat /proc/cmdline", {"console=ttyS0 quiet panic=-1 nokaslr"}, {}).agrees());
    EXPECT_FALSE(guest(comparator, "cat /proc/cmdline", {"console=ttyS0 quiet panic=-1 nokaslr movable_node"},
                       {"console=ttyS0 quiet panic=-1 nokaslr movable_node"})
                     .agrees());
    EXPECT_FALSE(guest(comparator, "cat /proc/cmdline", {"console=ttyS0 quiet panic=-1 nokaslr a"}, {"b"}).agrees());
}

TEST(Fidelity, VmstatNamesAndTheTranscriptsEvents)
{
    FidelityComparator comparator;
    EXPECT_TRUE(guest(comparator, "cat /proc/vmstat", {"nr_free_pages 218797", "pgfault 1186", "htlb_buddy_alloc_success 64"},
                      {"nr_free_pages 219649", "pgfault 0", "htlb_buddy_alloc_success 64"})
                    .agrees());
    EXPECT_FALSE(guest(comparator, "cat /proc/vmstat", {"htlb_buddy_alloc_success 64"}, {"htlb_buddy_alloc_success 63"})
                     .agrees());
    EXPECT_FALSE(guest(comparator, "cat /proc/vmstat", {"pgfault 1", "pgmajfault 0"}, {"pgmajfault 0", "pgfault 1"})
                     .agrees());
}

TEST(Fidelity, LsComparesNamesNotColumns)
{
    FidelityComparator comparator;
    const Lines columns{"auto_online_blocks  memory0   memory1", "block_size_bytes    memory10  power"};
    const Lines one_per_line{"auto_online_blocks", "block_size_bytes", "memory0", "memory1", "memory10", "power"};
    EXPECT_TRUE(guest(comparator, "ls /sys/devices/system/memory", columns, one_per_line).agrees());
    EXPECT_TRUE(guest(comparator, "cd /sys/devices/system/memory && ls", columns, one_per_line).agrees());
    EXPECT_TRUE(guest(comparator, "for d in /a /b; do ls $d; done", columns, one_per_line).agrees());
    EXPECT_TRUE(guest(comparator, "busybox ls | sort", columns, one_per_line).agrees());

    const Lines changed{"auto_online_blocks", "block_size_bytes", "memory0", "memory2", "memory3", "power"};
    EXPECT_THAT(messages(guest(comparator, "ls /sys/devices/system/memory", columns, changed)),
                ElementsAre("missing names: memory1 memory10", "unexpected names: memory2 memory3"));
    // A name listed twice is not the same as once.
    EXPECT_FALSE(guest(comparator, "ls -d /a /a", {"/a /a"}, {"/a"}).agrees());
    // Not ls: layout counts.
    EXPECT_FALSE(guest(comparator, "cat /sys/devices/system/memory/lsfile", columns, one_per_line).agrees());
    EXPECT_FALSE(guest(comparator, "echo ls", {"a b"}, {"a", "b"}).agrees());
}

TEST(Fidelity, MtreeComparesSectionsInAnyOrder)
{
    FidelityComparator comparator;
    const Lines recorded{"address-space: I/O", "  io", "", "address-space: cpu-memory-0", "address-space: memory",
                         "  system", "    pci", ""};
    const Lines reordered{"address-space: cpu-memory-0", "address-space: memory", "  system", "    pci", "",
                          "address-space: I/O", "  io", ""};
    EXPECT_TRUE(comparator.compare(CommandKind::Monitor, "info mtree", recorded, reordered).agrees());
    // Within a section, order and text count.
    const Lines inner{"address-space: I/O", "  io", "", "address-space: memory", "address-space: cpu-memory-0",
                      "  system", "    pci", ""};
    EXPECT_THAT(messages(comparator.compare(CommandKind::Monitor, "info mtree", recorded, inner)),
                ElementsAre("missing or different section 'address-space: cpu-memory-0'",
                            "unexpected or different section 'address-space: memory'"));
    // A section twice is not the same as once.
    EXPECT_FALSE(comparator.compare(CommandKind::Monitor, "info  mtree", Lines{"a", "", "a"}, Lines{"a"}).agrees());
    // Other monitor commands and guest commands: line for line.
    EXPECT_FALSE(
        comparator.compare(CommandKind::Monitor, "info numa", Lines{"a", "", "b"}, Lines{"b", "", "a"}).agrees());
    EXPECT_FALSE(guest(comparator, "echo info mtree", Lines{"a", "", "b"}, Lines{"b", "", "a"}).agrees());
}

TEST(Fidelity, ZoneinfoIgnoresCountersAndLayout)
{
    FidelityComparator comparator;
    Zones actual;
    actual.dma_free = 3000;
    actual.dma32_free = 123;
    actual.width = 12;
    EXPECT_TRUE(guest(comparator, k_cat_zoneinfo, zoneinfo({}), zoneinfo(actual)).agrees());
}

TEST(Fidelity, ZoneinfoSpannedAndPresentAreExact)
{
    FidelityComparator comparator;
    Zones actual;
    actual.dma32_spanned = 258016;
    const Verdict verdict = guest(comparator, k_cat_zoneinfo, zoneinfo({}), zoneinfo(actual));
    EXPECT_THAT(messages(verdict), ElementsAre("spanned: expected 258015, got 258016"));
    EXPECT_EQ(verdict.differences[0].expected_index, 15u);
}

TEST(Fidelity, ZoneinfoLinesMustPairUpWithTheSameShape)
{
    FidelityComparator comparator;
    Lines fewer = zoneinfo({});
    fewer.pop_back();
    EXPECT_THAT(messages(guest(comparator, k_cat_zoneinfo, zoneinfo({}), fewer)), ElementsAre("expected 22 lines, got 21"));

    Lines renamed = zoneinfo({});
    renamed[19] = "Node 0, zone  Movable";
    EXPECT_THAT(messages(guest(comparator, k_cat_zoneinfo, zoneinfo({}), renamed)),
                ElementsAre("expected 'Node 0, zone   Normal', got 'Node 0, zone  Movable'"));

    Lines other_node = zoneinfo({});
    other_node[19] = "Node 1, zone   Normal";
    EXPECT_FALSE(guest(comparator, k_cat_zoneinfo, zoneinfo({}), other_node).agrees());

    Lines other_key = zoneinfo({});
    other_key[4] = "        low      33";
    EXPECT_FALSE(guest(comparator, k_cat_zoneinfo, zoneinfo({}), other_key).agrees());
}

TEST(Fidelity, ManagedWithinOnePercentOfTheExpectedValue)
{
    FidelityComparator comparator;
    Zones close;
    close.dma32_managed = 226100;
    EXPECT_TRUE(guest(comparator, k_cat_zoneinfo, zoneinfo({}), zoneinfo(close)).agrees());

    FidelityComparator fresh;
    Zones far;
    far.dma32_managed = 228000;
    EXPECT_THAT(messages(guest(fresh, k_cat_zoneinfo, zoneinfo({}), zoneinfo(far))),
                ElementsAre("managed: expected 225014, got 228000 (1.33 % off, allowed 1 %)"));
}

TEST(Fidelity, ManagedChangesBetweenReadingsMustBeExact)
{
    FidelityComparator comparator;
    Zones boot_expected;
    Zones boot_actual;
    boot_actual.dma32_managed = 226100;  // boot-time reservations differ a little
    ASSERT_TRUE(guest(comparator, k_cat_zoneinfo, zoneinfo(boot_expected), zoneinfo(boot_actual)).agrees());

    // 128 MiB onlined into Normal: +32768 pages on both sides.
    Zones plugged_expected = boot_expected;
    Zones plugged_actual = boot_actual;
    plugged_expected.normal_managed += 32768;
    plugged_actual.normal_managed += 32768;
    EXPECT_TRUE(guest(comparator, k_cat_zoneinfo, zoneinfo(plugged_expected), zoneinfo(plugged_actual)).agrees());

    // memmap_on_memory on one side only: +32256, within 1 % of the value but not the same change.
    Zones again_expected = plugged_expected;
    Zones again_actual = plugged_actual;
    again_expected.normal_managed += 32768;
    again_actual.normal_managed += 32256;
    const Verdict verdict = guest(comparator, k_cat_zoneinfo, zoneinfo(again_expected), zoneinfo(again_actual));
    EXPECT_THAT(messages(verdict),
                ElementsAre("managed: expected a change of +32768 since the previous reading, got +32256"));
    EXPECT_EQ(verdict.differences[0].expected_index, 21u);

    // The next change is measured from the reading just made.
    again_expected.normal_managed -= 32768;
    again_actual.normal_managed -= 32768;
    EXPECT_TRUE(guest(comparator, k_cat_zoneinfo, zoneinfo(again_expected), zoneinfo(again_actual)).agrees());
}

TEST(Fidelity, ManagedReadingsAreKeptPerZone)
{
    FidelityComparator comparator;
    ASSERT_TRUE(guest(comparator, k_cat_zoneinfo, zoneinfo({}), zoneinfo({})).agrees());
    // Only DMA32 is read now, with no Normal header: it must compare with DMA32's last reading.
    const Lines expected{"Node 0, zone    DMA32", "        managed  225014"};
    EXPECT_TRUE(guest(comparator, "grep -E 'zone|managed' /proc/zoneinfo", expected, expected).agrees());
    const Lines actual{"Node 0, zone    DMA32", "        managed  225015"};
    EXPECT_THAT(messages(guest(comparator, "grep -E 'zone|managed' /proc/zoneinfo", expected, actual)),
                ElementsAre("managed: expected a change of +0 since the previous reading, got +1"));
}

TEST(Fidelity, ZoneinfoWithoutHeadersKeysManagedByOccurrence)
{
    FidelityComparator comparator;
    const std::string command = "grep managed /proc/zoneinfo";
    ASSERT_TRUE(guest(comparator, command, {"        managed  3840", "        managed  225014"},
                      {"        managed  3840", "        managed  226000"})
                    .agrees());
    EXPECT_TRUE(guest(comparator, command, {"        managed  3840", "        managed  257782"},
                      {"        managed  3840", "        managed  258768"})
                    .agrees());
    EXPECT_THAT(messages(guest(comparator, command, {"        managed  3840", "        managed  225014"},
                               {"        managed  3841", "        managed  226000"})),
                ElementsAre("managed: expected a change of +0 since the previous reading, got +1"));
}

TEST(Fidelity, ZoneinfoGrepPrefixesAndCounts)
{
    FidelityComparator comparator;
    const std::string command = "grep -H -E 'spanned|free' /proc/zoneinfo /proc/zoneinfo";
    EXPECT_TRUE(guest(comparator, command, {"/proc/zoneinfo:  pages free     3840", "/proc/zoneinfo:        spanned  4095"},
                      {"/proc/zoneinfo:  pages free     1", "/proc/zoneinfo:        spanned  4095"})
                    .agrees());
    EXPECT_THAT(messages(guest(comparator, command, {"/proc/zoneinfo:        spanned  4095"},
                               {"/proc/zoneinfo:        spanned  4096"})),
                ElementsAre("spanned: expected 4095, got 4096"));
    EXPECT_FALSE(guest(comparator, "grep -n spanned /proc/zoneinfo", {"6:        spanned  4095"},
                       {"7:        spanned  4095"})
                     .agrees());
    EXPECT_TRUE(guest(comparator, "grep -A1 spanned /proc/zoneinfo",
                      {"        spanned  4095", "        present  3998", "--"},
                      {"        spanned  4095", "        present  3998", "--"})
                    .agrees());
    // A bare number is no field: exact.
    EXPECT_THAT(messages(guest(comparator, "grep -c zone /proc/zoneinfo", {"5"}, {"4"})),
                ElementsAre("value: expected 5, got 4"));
}

Lines meminfo(long total, long free)
{
    return {fmt::format("MemTotal:       {:>8} kB", total), fmt::format("MemFree:        {:>8} kB", free),
            "Hugepagesize:       2048 kB", "DirectMap4k:      100000 kB"};
}

TEST(Fidelity, MemTotalBootValueWithinOnePercentAndChangesExact)
{
    FidelityComparator comparator;
    EXPECT_TRUE(guest(comparator, "cat /proc/meminfo", meminfo(2014756, 1900000), meminfo(2020000, 12)).agrees());
    // +128 MiB on both sides, read with grep this time.
    EXPECT_TRUE(guest(comparator, "grep MemTotal /proc/meminfo", {"MemTotal:        2145828 kB"},
                      {"MemTotal:        2151072 kB"})
                    .agrees());
    EXPECT_THAT(messages(guest(comparator, "grep MemTotal /proc/meminfo", {"MemTotal:        2276900 kB"},
                               {"MemTotal:        2280096 kB"})),
                ElementsAre("MemTotal: expected a change of +131072 since the previous reading, got +129024"));

    FidelityComparator fresh;
    EXPECT_THAT(messages(guest(fresh, "cat /proc/meminfo", meminfo(2014756, 1), meminfo(1900000, 1))),
                ElementsAre("MemTotal: expected 2014756, got 1900000 (5.70 % off, allowed 1 %)"));
    EXPECT_THAT(messages(guest(fresh, "cat /proc/meminfo", {"MemTotal: 1 kB"}, {"MemTotl: 1 kB"})),
                ElementsAre("expected 'MemTotal: 1 kB', got 'MemTotl: 1 kB'"));
}

TEST(Fidelity, ANewBootForgetsEarlierReadings)
{
    FidelityComparator comparator;
    const std::string command = "grep MemTotal /proc/meminfo";
    ASSERT_TRUE(guest(comparator, command, {"MemTotal: 2000000 kB"}, {"MemTotal: 2000000 kB"}).agrees());
    ASSERT_TRUE(comparator.compare(CommandKind::Host, "qemu-system-x86_64 -m 4G", {}, {}).agrees());
    // The boot value of the new machine differs by 0.5 %: only the tolerance applies.
    EXPECT_TRUE(guest(comparator, command, {"MemTotal: 4000000 kB"}, {"MemTotal: 4020000 kB"}).agrees());
}

TEST(Fidelity, RulesAreData)
{
    FidelityRules rules;
    rules.tolerance = 0.02;
    rules.keyed_files[0].fields["min"] = FieldRule::Exact;
    rules.keyed_files[0].fields["managed"] = FieldRule::Ignored;
    FidelityComparator comparator(rules);
    Zones far;
    far.dma32_managed = 300000;
    EXPECT_TRUE(guest(comparator, k_cat_zoneinfo, zoneinfo({}), zoneinfo(far)).agrees());
    Lines min_changed = zoneinfo({});
    min_changed[4] = "        min      34";
    EXPECT_THAT(messages(guest(comparator, k_cat_zoneinfo, zoneinfo({}), min_changed)),
                ElementsAre("min: expected 33, got 34"));
    EXPECT_THAT(messages(guest(comparator, "grep MemTotal /proc/meminfo", {"MemTotal: 100 kB"}, {"MemTotal: 103 kB"})),
                ElementsAre("MemTotal: expected 100, got 103 (3.00 % off, allowed 2 %)"));
}

TEST(Fidelity, ExplainListsTheMessages)
{
    Verdict verdict{{{0, 0, "spanned: expected 1, got 2"}, {std::nullopt, std::nullopt, "expected 3 lines, got 2"}}};
    EXPECT_EQ(verdict.explain(), "spanned: expected 1, got 2\nexpected 3 lines, got 2\n");
}

// The kernel log: recorded lines (dmesg-dimm-unplug-refused) against memplug's.
TEST(FidelityLog, TimestampsAreNotCompared)
{
    FidelityComparator comparator;
    EXPECT_TRUE(guest(comparator, "dmesg -c > /dev/null", {}, {}).agrees());
    EXPECT_TRUE(guest(comparator, "dmesg -c", {"[    5.922070] Fallback order for Node 0: 0 "},
                      {"[    4.030020] Fallback order for Node 0: 0 "})
                    .agrees());
    EXPECT_THAT(messages(guest(comparator, "dmesg", {"[    5.922309] Policy zone: Normal"},
                               {"[    4.030060] Policy zone: DMA32"})),
                ElementsAre("expected '[    5.922309] Policy zone: Normal', got '[    4.030060] Policy zone: DMA32'"));
    // dmesg -r keeps the level, which is compared.
    EXPECT_FALSE(guest(comparator, "dmesg -r", {"<6>[    5.922070] x"}, {"<4>[    4.030020] x"}).agrees());
    EXPECT_TRUE(guest(comparator, "dmesg -r", {"<6>[    5.922070] x"}, {"<6>[    4.030020] x"}).agrees());
}

TEST(FidelityLog, DumpPageComparesNodeZoneAndReason)
{
    FidelityComparator comparator;
    (void)guest(comparator, "dmesg -c >/dev/null", {}, {});
    const Lines real = {
        "[    8.365596] page:0000000007b96552 refcount:1 mapcount:-512 mapping:0000000000000000 index:0x0 pfn:0x100006",
        "[    8.365968] flags: 0x17ffffc0000200(slab|node=0|zone=2|lastcpupid=0x1fffff)",
        "[    8.366340] raw: 0017ffffc0000200 0000000000000000 dead000000000122 ff110000049ab400",
        "[    8.366413] page dumped because: unmovable page",
    };
    Lines model = {
        "[    4.100080] page:00000000002a1c2d refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x100000",
        "[    4.100100] flags: 0x17ffffc0000000(node=0|zone=2|lastcpupid=0x1fffff)",
        "[    4.100120] raw: 0017ffffc0000000 0000000000000000 dead000000000122 0000000000000000",
        "[    4.100160] page dumped because: unmovable page",
    };
    EXPECT_TRUE(guest(comparator, "dmesg", real, model).agrees());
    model[1] = "[    4.100100] flags: 0x17ffffc0000000(node=0|zone=3|lastcpupid=0x1fffff)";
    EXPECT_THAT(comparator.compare(CommandKind::Guest, "dmesg", real, model).differences,
                ElementsAre(Field(&LineDifference::expected_index, 1u)));
    EXPECT_THAT(comparator.coverage(CommandKind::Guest, "dmesg", real),
                ElementsAre(Coverage::Part, Coverage::Part, Coverage::Part, Coverage::Part));
}

TEST(FidelityLog, BeforeAClearOnlyTheModelledBootMessages)
{
    FidelityComparator comparator;
    const Lines real = {"[    0.000000] Linux version 6.1.0-57-amd64", "[    0.753747] HugeTLB: registered 1.00 GiB page size, pre-allocated 0 pages"};
    const Lines model = {"[    4.000020] HugeTLB: registered 1.00 GiB page size, pre-allocated 0 pages"};
    EXPECT_TRUE(guest(comparator, "dmesg | grep -i huge", real, model).agrees());
    EXPECT_FALSE(guest(comparator, "dmesg", real, {}).agrees());
    // -c inside a cluster or after -s's value counts; it takes effect from the next command.
    EXPECT_TRUE(guest(comparator, "dmesg -s 100 -rc", real, model).agrees());
    EXPECT_FALSE(guest(comparator, "dmesg", real, model).agrees());
    // A new boot has its boot log again.
    (void)comparator.compare(CommandKind::Host, "qemu-system-x86_64 -m 2G", {}, {});
    EXPECT_TRUE(guest(comparator, "dmesg", real, model).agrees());
    // `-s c` is a value, not -c.
    EXPECT_TRUE(guest(comparator, "dmesg -s c", real, model).agrees());
    EXPECT_TRUE(guest(comparator, "dmesg", real, model).agrees());
}

}  // namespace
}  // namespace memplug::fe
