// The hot(un)plug operations on small kernels, with counters checked after each
// step and the model's invariants after every test.
#include <gtest/gtest.h>

#include "mm/kernel.h"
#include "test_boot.h"

namespace memplug::mm {
namespace {

constexpr uint64_t BLOCK = 128 * MiB;
constexpr uint64_t DIMM_BASE = 4 * GiB;  // memory32

class Hotplug : public ::testing::Test {
protected:
    void TearDown() override
    {
        auto r = k.check_invariants();
        EXPECT_TRUE(r) << (r ? "" : r.error().reason);
    }
    void plug_dimm(uint64_t addr, uint64_t size) { ASSERT_TRUE(test::plug_dimm(k, addr, size)); }
    int online(uint64_t block, MmopType t)
    {
        k.set_online_type(BlockId(block), t);
        auto r = k.device_online(BlockId(block));
        return r ? *r : -r.error().err;
    }
    int offline(uint64_t block)
    {
        auto r = k.device_offline(BlockId(block));
        return r ? *r : -r.error().err;
    }
    const Zone& zone(ZoneType z) const { return k.node_data(0).zone(z); }

    Kernel k = test::boot(1 * GiB);
};

TEST_F(Hotplug, BootLayoutOfAOneGiBGuest)
{
    EXPECT_EQ(k.memory_block_size_bytes(), BLOCK);
    EXPECT_EQ(k.memory_blocks().size(), 8u);
    EXPECT_EQ(zone(ZoneType::DMA).zone_start_pfn, Pfn(1));
    EXPECT_EQ(zone(ZoneType::DMA).spanned_pages, PageCount(4095));
    EXPECT_EQ(zone(ZoneType::DMA).present_pages, PageCount(3998));
    EXPECT_EQ(zone(ZoneType::DMA).managed_pages, PageCount(3840));
    EXPECT_EQ(zone(ZoneType::DMA32).zone_start_pfn, Pfn(4096));
    EXPECT_EQ(zone(ZoneType::DMA32).spanned_pages, PageCount(258015));
    EXPECT_EQ(zone(ZoneType::DMA32).managed_pages, PageCount(225014)) << "calibrated against the real guest";
    EXPECT_FALSE(k.find_memory_block(BlockId(0))->zone) << "memory0 spans DMA and DMA32";
    EXPECT_EQ(k.find_memory_block(BlockId(1))->zone, ZoneType::DMA32);
}

TEST_F(Hotplug, AddedMemoryStartsOfflineAndCostsItsMemmap)
{
    const PageCount free_before = k.nr_free_pages(), total_before = k.totalram_pages();
    plug_dimm(DIMM_BASE, 512 * MiB);
    for (uint64_t b = 32; b < 36; ++b) EXPECT_EQ(k.find_memory_block(BlockId(b))->state, MemState::Offline);
    EXPECT_EQ(k.totalram_pages(), total_before);
    // 4 blocks of 22 kernfs nodes need 3 new slabs of 32 (the caches are packed).
    EXPECT_EQ(k.nr_free_pages(), free_before - PageCount(4 * 512) - PageCount(3))
        << "2 MiB of memmap per section, and the blocks' sysfs nodes";
}

TEST_F(Hotplug, OnlineMovableThenKernelInterleaves)
{
    plug_dimm(DIMM_BASE, 512 * MiB);
    EXPECT_EQ(k.zone_for_pfn_range(MmopType::Online, 0, std::nullopt, Pfn::from_phys(DIMM_BASE + BLOCK),
                                   PageCount::from_bytes(BLOCK)),
              ZoneType::Normal);
    EXPECT_EQ(online(33, MmopType::OnlineMovable), 0);
    EXPECT_EQ(zone(ZoneType::Movable).zone_start_pfn, Pfn::from_phys(DIMM_BASE + BLOCK));
    EXPECT_EQ(zone(ZoneType::Movable).spanned_pages, PageCount(32768));
    EXPECT_EQ(zone(ZoneType::Movable).managed_pages, PageCount(32768));
    // Neither span meets block 34 yet, so a plain online goes to the kernel zone.
    EXPECT_EQ(k.zone_for_pfn_range(MmopType::Online, 0, std::nullopt, Pfn::from_phys(DIMM_BASE + 2 * BLOCK),
                                   PageCount::from_bytes(BLOCK)),
              ZoneType::Normal);
    EXPECT_EQ(online(35, MmopType::OnlineMovable), 0);
    EXPECT_EQ(zone(ZoneType::Movable).spanned_pages, PageCount(3 * 32768));
    EXPECT_EQ(zone(ZoneType::Movable).present_pages, PageCount(2 * 32768));
    EXPECT_EQ(k.zone_for_pfn_range(MmopType::Online, 0, std::nullopt, Pfn::from_phys(DIMM_BASE + 2 * BLOCK),
                                   PageCount::from_bytes(BLOCK)),
              ZoneType::Movable)
        << "inside the Movable span only";
    EXPECT_EQ(online(32, MmopType::OnlineKernel), 0);
    EXPECT_EQ(zone(ZoneType::Normal).zone_start_pfn, Pfn::from_phys(DIMM_BASE));
    EXPECT_EQ(online(34, MmopType::OnlineKernel), 0);
    EXPECT_EQ(zone(ZoneType::Normal).spanned_pages, PageCount(3 * 32768)) << "zones interleave";
}

TEST_F(Hotplug, AlreadyInThatStateReturnsOne)
{
    plug_dimm(DIMM_BASE, 128 * MiB);
    EXPECT_EQ(offline(32), 1);
    EXPECT_EQ(online(32, MmopType::Online), 0);
    EXPECT_EQ(online(32, MmopType::OnlineMovable), 1);
    EXPECT_EQ(k.find_memory_block(BlockId(32))->zone, ZoneType::Normal);
}

TEST_F(Hotplug, BootBlocksThatCannotGoOffline)
{
    EXPECT_EQ(offline(0), -EINVAL) << "spans two zones";
    EXPECT_EQ(offline(7), -EINVAL) << "SeaBIOS's reserved tail is a hole";
    EXPECT_EQ(offline(3), 0);
    EXPECT_EQ(k.find_memory_block(BlockId(3))->state, MemState::Offline);
    EXPECT_EQ(zone(ZoneType::DMA32).spanned_pages, PageCount(258015)) << "a middle block leaves a hole";
    EXPECT_EQ(zone(ZoneType::DMA32).present_pages, PageCount(258015 - 32768));
}

TEST_F(Hotplug, OfflineShrinksTheSpanOnlyAtItsEdges)
{
    plug_dimm(DIMM_BASE, 512 * MiB);
    for (uint64_t b = 32; b < 36; ++b) ASSERT_EQ(online(b, MmopType::OnlineMovable), 0);
    ASSERT_EQ(offline(33), 0);
    EXPECT_EQ(zone(ZoneType::Movable).spanned_pages, PageCount(4 * 32768));
    ASSERT_EQ(offline(32), 0);
    EXPECT_EQ(zone(ZoneType::Movable).zone_start_pfn, Pfn::from_phys(DIMM_BASE + 2 * BLOCK));
    EXPECT_EQ(zone(ZoneType::Movable).spanned_pages, PageCount(2 * 32768));
    ASSERT_EQ(offline(35), 0);
    ASSERT_EQ(offline(34), 0);
    EXPECT_EQ(zone(ZoneType::Movable).spanned_pages, PageCount(0));
    EXPECT_EQ(zone(ZoneType::Movable).zone_start_pfn, Pfn(0));
}

TEST_F(Hotplug, RemoveRefusesOnlineMemoryAndFreesTheMemmap)
{
    const PageCount free_before = k.nr_free_pages();
    const PageCount dma32_free_before = zone(ZoneType::DMA32).nr_free_pages;
    plug_dimm(DIMM_BASE, 256 * MiB);
    ASSERT_EQ(online(32, MmopType::OnlineMovable), 0);
    auto r = k.remove_memory(DIMM_BASE, 256 * MiB);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().err, EBUSY);
    EXPECT_EQ(k.memory_blocks().count(BlockId(32)), 1u);
    ASSERT_EQ(offline(32), 0);
    ASSERT_TRUE(k.remove_memory(DIMM_BASE, 256 * MiB));
    EXPECT_EQ(k.memory_blocks().count(BlockId(32)), 0u);
    // The two blocks' kernfs nodes took 2 slab pages, which stay (slabs are kept).
    EXPECT_EQ(k.nr_free_pages(), free_before - PageCount(2));
    EXPECT_EQ(zone(ZoneType::DMA32).nr_free_pages, dma32_free_before - PageCount(2))
        << "exactly the memmap's pages come back";
}

TEST_F(Hotplug, TheMemmapOfLaterMemoryLivesInEarlierKernelMemoryAndIsFreedExactly)
{
    plug_dimm(DIMM_BASE, 128 * MiB);
    ASSERT_EQ(online(32, MmopType::OnlineKernel), 0);
    const PageCount normal_free = zone(ZoneType::Normal).nr_free_pages;
    plug_dimm(DIMM_BASE + BLOCK, 128 * MiB);
    EXPECT_EQ(zone(ZoneType::Normal).nr_free_pages, normal_free - PageCount(512) - PageCount(1))
        << "2 MiB of memmap and a kernfs slab for the new block's sysfs nodes, from Normal";
    ASSERT_TRUE(k.remove_memory(DIMM_BASE + BLOCK, 128 * MiB));
    EXPECT_EQ(zone(ZoneType::Normal).nr_free_pages, normal_free - PageCount(1)) << "the memmap comes back, the slab stays";
    EXPECT_EQ(offline(32), -EBUSY) << "the slab page pins the block (as on the real guest: virtio-mem-kernel-zone)";
}

TEST_F(Hotplug, KernelPagesFindTheirWayIntoANewNormalZone)
{
    plug_dimm(DIMM_BASE, 256 * MiB);
    ASSERT_EQ(online(33, MmopType::OnlineKernel), 0);
    ASSERT_EQ(online(32, MmopType::OnlineKernel), 0);
    EXPECT_EQ(offline(32), 0) << "no kernel allocation yet";
    ASSERT_EQ(online(32, MmopType::OnlineKernel), 0);
    // Slab growth now comes from the Normal zone, lowest pages first: a new tmpfs
    // file's inode needs a slab (the caches are packed when the shell starts).
    (void)k.shmem_create();
    EXPECT_EQ(offline(33), 0);
    EXPECT_EQ(offline(32), -EBUSY);
    EXPECT_EQ(k.find_memory_block(BlockId(32))->state, MemState::Online) << "a refused offline changes nothing";
}

TEST_F(Hotplug, ZoneContiguityRescanStaysStuckTheCounterDoesNot)
{
    // 6.1 rescans before the new sections are marked online: a grown zone stays
    // non-contiguous. Seed 000's counter sees the freshly initialised memmap.
    plug_dimm(DIMM_BASE, 256 * MiB);
    ASSERT_EQ(online(32, MmopType::OnlineMovable), 0);
    ASSERT_EQ(online(33, MmopType::OnlineMovable), 0);
    EXPECT_TRUE(zone(ZoneType::Movable).contiguous) << "counter (the default)";
    const uint64_t checks = k.work().contiguity_checks;

    Kernel rescan = test::boot(1 * GiB);
    rescan.params().zone_contiguous = HotplugParams::ZoneContiguity::Rescan;
    const int g = rescan.memory_group_register_static(0, PageCount::from_bytes(256 * MiB));
    ASSERT_TRUE(rescan.add_memory(g, DIMM_BASE, 256 * MiB, MHP_NID_IS_MGID));
    for (uint64_t b : {32, 33}) {
        rescan.set_online_type(BlockId(b), MmopType::OnlineMovable);
        ASSERT_EQ(rescan.device_online(BlockId(b)).value(), 0);
    }
    EXPECT_FALSE(rescan.node_data(0).zone(ZoneType::Movable).contiguous) << "6.1's stuck false";
    EXPECT_GT(rescan.work().contiguity_sections_scanned, 0u);
    EXPECT_GT(checks, 0u);
    EXPECT_TRUE(rescan.check_invariants());
}

TEST_F(Hotplug, AutoOnlineFollowsTheDefaultType)
{
    k.params().mhp_default_online_type = MmopType::OnlineMovable;
    plug_dimm(DIMM_BASE, 256 * MiB);
    EXPECT_EQ(k.find_memory_block(BlockId(32))->zone, ZoneType::Movable);
    EXPECT_EQ(k.find_memory_block(BlockId(33))->zone, ZoneType::Movable);
    EXPECT_EQ(k.find_memory_block(BlockId(33))->online_type, MmopType::Offline) << "reset after onlining";
}

TEST_F(Hotplug, UnalignedRangeIsRefused)
{
    const int g = k.memory_group_register_static(0, PageCount::from_bytes(130 * MiB));
    auto r = k.add_memory(g, DIMM_BASE, 130 * MiB, MHP_NID_IS_MGID);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().err, EINVAL);
    EXPECT_TRUE(k.memory_blocks().size() == 8u);
}

TEST_F(Hotplug, AutoMovableKeepsTheRatio)
{
    // A 1 GiB guest has less than 1 GiB of early kernel memory: at ratio 100 a 1 GiB DIMM goes to Normal.
    k.params().online_policy = OnlinePolicy::AutoMovable;
    k.params().auto_movable_ratio = 100;
    const int g = k.memory_group_register_static(0, PageCount::from_bytes(1 * GiB));
    ASSERT_TRUE(k.add_memory(g, DIMM_BASE, 1 * GiB, MHP_NID_IS_MGID));
    EXPECT_EQ(k.zone_for_pfn_range(MmopType::Online, 0, g, Pfn::from_phys(DIMM_BASE), PageCount::from_bytes(BLOCK)),
              ZoneType::Normal);
    k.params().auto_movable_ratio = 301;
    EXPECT_EQ(k.zone_for_pfn_range(MmopType::Online, 0, g, Pfn::from_phys(DIMM_BASE), PageCount::from_bytes(BLOCK)),
              ZoneType::Movable);
}

TEST_F(Hotplug, MemmapOnMemoryKeepsItsPagesOutOfTheBuddy)
{
    k.params().memmap_on_memory = true;
    const PageCount free_before = k.nr_free_pages();
    const int g = k.memory_group_register_static(0, PageCount::from_bytes(BLOCK));
    ASSERT_TRUE(k.mhp_supports_memmap_on_memory(BLOCK));
    EXPECT_FALSE(k.mhp_supports_memmap_on_memory(2 * BLOCK)) << "6.1: single blocks only";
    ASSERT_TRUE(k.add_memory(g, DIMM_BASE, BLOCK, MHP_NID_IS_MGID | MHP_MEMMAP_ON_MEMORY));
    EXPECT_EQ(k.nr_free_pages(), free_before - PageCount(1)) << "no kernel memory spent on the memmap, one kernfs slab";
    ASSERT_EQ(online(32, MmopType::OnlineMovable), 0);
    EXPECT_EQ(zone(ZoneType::Movable).present_pages, PageCount(32768));
    EXPECT_EQ(zone(ZoneType::Movable).managed_pages, PageCount(32768 - 512));
    ASSERT_EQ(offline(32), 0);
    EXPECT_EQ(zone(ZoneType::Movable).present_pages, PageCount(0));
}

}  // namespace
}  // namespace memplug::mm
