// Memory in use on small kernels: the page allocator's choices, tmpfs pages and
// their contents across migration, hugetlb pools, offline with rollback and
// notifier error injection. Invariants (a brute-force recount) after every test.
#include <gtest/gtest.h>

#include <numeric>

#include "mm/kernel.h"
#include "test_boot.h"

namespace memplug::mm {
namespace {

constexpr uint64_t BLOCK = 128 * MiB;
constexpr uint64_t DIMM_BASE = 4 * GiB;  // memory32

class MemoryInUse : public ::testing::Test {
protected:
    void TearDown() override
    {
        auto r = k.check_invariants();
        EXPECT_TRUE(r) << (r ? "" : r.error().reason);
    }
    void plug_dimm(uint64_t addr, uint64_t size, MmopType t)
    {
        ASSERT_TRUE(test::plug_dimm(k, addr, size));
        for (uint64_t b = addr / BLOCK; b < (addr + size) / BLOCK; ++b) {
            k.set_online_type(BlockId(b), t);
            ASSERT_TRUE(k.device_online(BlockId(b)));
        }
    }
    int offline(uint64_t block)
    {
        auto r = k.device_offline(BlockId(block));
        return r ? *r : -r.error().err;
    }
    // A file of `bytes` bytes whose every page differs from every other.
    InodeId write_pattern(uint64_t bytes)
    {
        const InodeId ino = k.shmem_create();
        std::string data(bytes, '\0');
        for (uint64_t i = 0; i < bytes; ++i) data[i] = char((i * 2654435761u) >> 13);
        auto r = k.shmem_write(ino, 0, data);
        EXPECT_TRUE(r);
        return ino;
    }
    std::string contents(InodeId ino) const { return k.shmem().read(ino, 0, k.shmem().size(ino)); }
    // tmpfs pages in a memory block.
    PageCount shmem_pages_in_block(uint64_t block) const
    {
        const Pfn b = Pfn::from_phys(block * BLOCK);
        return k.shmem().pages_in(b, b + PageCount::from_bytes(BLOCK));
    }
    const Zone& zone(ZoneType z) const { return k.node_data(0).zone(z); }

    Kernel k = test::boot(1 * GiB);
};

TEST_F(MemoryInUse, FilePagesAreMovableAndPreferZoneMovable)
{
    plug_dimm(DIMM_BASE, 256 * MiB, MmopType::OnlineMovable);
    const PageCount movable_free = zone(ZoneType::Movable).nr_free_pages;
    const InodeId ino = write_pattern(10 * MiB);
    EXPECT_EQ(k.shmem().nr_pages(ino), PageCount(2560));
    EXPECT_EQ(zone(ZoneType::Movable).nr_free_pages, movable_free - PageCount(2560))
        << "GFP_HIGHUSER_MOVABLE takes the highest zone first";
    EXPECT_EQ(shmem_pages_in_block(32), PageCount(2560)) << "the buddy hands out its lowest pages first";
}

TEST_F(MemoryInUse, OfflineMigratesFilePagesAndKeepsTheirContents)
{
    plug_dimm(DIMM_BASE, 256 * MiB, MmopType::OnlineMovable);
    const InodeId ino = write_pattern(50 * MiB);
    const std::string before = contents(ino);
    ASSERT_EQ(shmem_pages_in_block(32), PageCount(12800));
    const uint64_t migrated = k.work().pages_migrated;

    EXPECT_EQ(offline(32), 0);
    EXPECT_EQ(shmem_pages_in_block(32), PageCount(0));
    EXPECT_EQ(k.work().pages_migrated - migrated, 12800u);
    EXPECT_EQ(k.shmem().nr_pages(ino), PageCount(12800));
    EXPECT_EQ(contents(ino), before) << "every page's data moved with it";
    EXPECT_EQ(shmem_pages_in_block(33), PageCount(12800)) << "other Movable memory is the first target";
}

// A Movable block amid DMA32 (offlined, then onlined movable): DMA32's span
// holds it, but its free pages are on ZONE_MOVABLE's lists, not DMA32's. A
// request that spills from Movable into DMA32 passes over it to DMA32's own
// free pages above it.
TEST_F(MemoryInUse, AMovableBlockAmidDma32IsNotDma32sToHandOut)
{
    uint64_t amid = 1;
    while (amid < 7 && offline(amid) != 0) ++amid;
    ASSERT_LT(amid, 7u) << "no boot block offlines";
    k.set_online_type(BlockId(amid), MmopType::OnlineMovable);
    ASSERT_TRUE(k.device_online(BlockId(amid)));
    PageCount below;
    k.memmap().for_each_run(Pfn::from_phys(16 * MiB), Pfn::from_phys(amid * BLOCK), [&](Pfn, PageCount len, PageInfo i) {
        if (i.state == PageState::Free) below += len;
        return true;
    });
    // More than the Movable block and DMA32's free pages below it hold.
    const uint64_t bytes = (below + PageCount(8192)).value() * PAGE_SIZE + BLOCK;
    const InodeId ino = write_pattern(std::min<uint64_t>(bytes, 480 * MiB));
    ASSERT_EQ(k.shmem().nr_pages(ino), PageCount::from_bytes(std::min<uint64_t>(bytes, 480 * MiB)));
    const Pfn above = Pfn::from_phys((amid + 1) * BLOCK);
    EXPECT_GT(k.shmem().pages_in(above, Pfn::from_phys(1 * GiB)), PageCount(0))
        << "DMA32's pages above the Movable block serve the rest";
}

TEST_F(MemoryInUse, OfflineWithNowhereToMigrateChangesNothing)
{
    plug_dimm(DIMM_BASE, 128 * MiB, MmopType::OnlineMovable);
    // Files stop at half of RAM, so the huge page pool takes the rest of
    // memory, down to the watermarks, and leaves the file nowhere to go.
    const InodeId big = write_pattern(100 * MiB);
    k.set_nr_hugepages(Hugetlb::HSTATE_2M, 100000);
    const std::string before = contents(big);
    const PageCount free = k.nr_free_pages();
    auto r = k.device_offline(BlockId(32));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().err, EBUSY);
    EXPECT_EQ(k.find_memory_block(BlockId(32))->state, MemState::Online);
    EXPECT_EQ(k.nr_free_pages(), free);
    EXPECT_EQ(contents(big), before);
    EXPECT_EQ(k.memmap().pageblock_migratetype(Pfn::from_phys(DIMM_BASE)), MigrateType::Movable)
        << "isolation undone";
}

TEST_F(MemoryInUse, TmpfsStopsAtHalfOfRamWithEnospc)
{
    const PageCount limit = k.shmem().max_blocks();
    EXPECT_EQ(limit, PageCount(k.totalram_pages().value() / 2));
    const InodeId ino = k.shmem_create();
    std::string mib(MiB, '\0');
    int err = 0;
    for (;;) {
        auto r = k.shmem_write(ino, k.shmem().size(ino), mib);
        if (!r) {
            err = r.error().err;
            break;
        }
    }
    EXPECT_EQ(err, ENOSPC);
    EXPECT_EQ(k.shmem().nr_shmem_pages() - k.shmem().nr_pages(k.initramfs_inode()), limit -
              k.shmem().nr_pages(k.initramfs_inode()));
    const PageCount free = k.nr_free_pages();
    k.shmem_unlink(ino);
    EXPECT_GT(k.nr_free_pages(), free);
}

TEST_F(MemoryInUse, TruncateFreesWholePagesAndZeroesTheTail)
{
    const InodeId ino = write_pattern(3 * PAGE_SIZE);
    const PageCount free = k.nr_free_pages();
    k.shmem_truncate(ino, PAGE_SIZE + 10);
    EXPECT_EQ(k.shmem().nr_pages(ino), PageCount(2));
    EXPECT_EQ(k.nr_free_pages(), free + PageCount(1));
    k.shmem_truncate(ino, 3 * PAGE_SIZE);
    EXPECT_EQ(k.shmem().nr_pages(ino), PageCount(2)) << "growing leaves a hole";
    const std::string data = contents(ino);
    EXPECT_EQ(data.size(), 3 * PAGE_SIZE);
    EXPECT_TRUE(std::all_of(data.begin() + PAGE_SIZE + 10, data.end(), [](char c) { return c == 0; }));
}

TEST_F(MemoryInUse, KernelAllocationsStealWholePageblocks)
{
    plug_dimm(DIMM_BASE, 128 * MiB, MmopType::OnlineKernel);
    // A new file's inode and dentry need new slabs: they land in the new Normal
    // block, which then cannot be isolated.
    (void)k.shmem_create();
    const Pfn first = Pfn::from_phys(DIMM_BASE);
    EXPECT_EQ(k.memmap().pageblock_migratetype(first), MigrateType::Reclaimable) << "inode and dentry slabs";
    EXPECT_TRUE(k.page_alloc().has_unmovable_pages(first, first + PageCount::from_bytes(BLOCK)));
    EXPECT_EQ(offline(32), -EBUSY);
}

TEST_F(MemoryInUse, HugePagesComeLowestFirstAndOfflineDissolvesThem)
{
    plug_dimm(DIMM_BASE, 256 * MiB, MmopType::OnlineMovable);
    k.set_nr_hugepages(Hugetlb::HSTATE_2M, 100);
    const Hstate& h = k.hugetlb().hstate(Hugetlb::HSTATE_2M);
    EXPECT_EQ(h.nr_huge_pages, 100u);
    EXPECT_EQ(h.free_huge_pages, 100u);
    // 64 in memory32, 36 in memory33: Movable first, lowest first.
    EXPECT_EQ(offline(33), 0);
    EXPECT_EQ(h.nr_huge_pages, 64u);
    EXPECT_EQ(h.max_huge_pages, 64u) << "the pool shrinks for good";
    k.set_nr_hugepages(Hugetlb::HSTATE_2M, 0);
    EXPECT_EQ(h.nr_huge_pages, 0u);
}

TEST_F(MemoryInUse, GiganticPagesNeverComeFromMovableNorFromSelfHostedMemmaps)
{
    plug_dimm(DIMM_BASE, 1 * GiB, MmopType::OnlineMovable);
    k.set_nr_hugepages(Hugetlb::HSTATE_1G, 1);
    EXPECT_EQ(k.hugetlb().hstate(Hugetlb::HSTATE_1G).nr_huge_pages, 0u);
}

TEST_F(MemoryInUse, AGiganticPageFitsFreshNormalMemory)
{
    plug_dimm(DIMM_BASE, 1 * GiB, MmopType::OnlineKernel);
    k.set_nr_hugepages(Hugetlb::HSTATE_1G, 2);
    EXPECT_EQ(k.hugetlb().hstate(Hugetlb::HSTATE_1G).nr_huge_pages, 1u) << "partial success";
    EXPECT_EQ(k.hugetlb().hstate(Hugetlb::HSTATE_1G).nr_huge_pages_node[0], 1u);
}

TEST_F(MemoryInUse, InjectedNotifierErrorsFailOnlineAndOfflineAndChangeNothing)
{
    plug_dimm(DIMM_BASE, 128 * MiB, MmopType::OnlineMovable);
    const PageCount total = k.totalram_pages();
    k.notifier_error_inject().going_offline = -ENOMEM;
    auto r = k.device_offline(BlockId(32));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().err, ENOMEM);
    EXPECT_EQ(k.totalram_pages(), total);
    k.notifier_error_inject().going_offline = 0;
    ASSERT_EQ(offline(32), 0);

    k.notifier_error_inject().going_online = -EBUSY;
    k.set_online_type(BlockId(32), MmopType::OnlineMovable);
    r = k.device_online(BlockId(32));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().err, EBUSY);
    EXPECT_EQ(zone(ZoneType::Movable).spanned_pages, PageCount()) << "the zone move is undone";
    EXPECT_EQ(k.find_memory_block(BlockId(32))->state, MemState::Offline);
}

TEST_F(MemoryInUse, PagetypeCountsCoverTheZone)
{
    const Zone& z = zone(ZoneType::DMA32);
    const auto blocks = k.page_alloc().nr_pageblocks(z);
    const uint64_t n = std::accumulate(blocks.begin(), blocks.end(), uint64_t{0});
    EXPECT_EQ(n, (z.spanned_pages.value() + pageblock_nr_pages - 1) / pageblock_nr_pages);
    EXPECT_GT(blocks[int(MigrateType::Unmovable)], 0u) << "the idle kernel's allocations";
    const auto area = k.page_alloc().free_area(z);
    uint64_t free = 0;
    for (const auto& per_type : area)
        for (unsigned order = 0; order < MAX_ORDER; ++order) free += per_type[order] << order;
    EXPECT_EQ(free, z.nr_free_pages.value());
}

// hard_offline_page and soft_offline_page as hwpoison-dimm recorded them.
TEST_F(MemoryInUse, PoisonedPagesLeaveTheBuddyAndSurviveOfflineButNotRemoval)
{
    plug_dimm(DIMM_BASE, BLOCK, MmopType::OnlineMovable);
    const Pfn last = Pfn::from_phys(DIMM_BASE + BLOCK) - PageCount(1);
    const PageCount free_before = k.nr_free_pages(), total_before = k.totalram_pages();
    ASSERT_TRUE(k.memory_failure(last));
    EXPECT_EQ(k.nr_free_pages(), free_before - PageCount(1));
    EXPECT_EQ(k.totalram_pages(), total_before) << "a poisoned page stays managed";
    auto again = k.memory_failure(last);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().err, EHWPOISON);
    ASSERT_TRUE(k.soft_offline_page(last - PageCount(1)));
    EXPECT_TRUE(k.soft_offline_page(last - PageCount(1))) << "already poisoned: 0";
    EXPECT_EQ(k.num_poisoned_pages(), PageCount(2));
    EXPECT_EQ(k.memory_failure(Pfn::from_phys(64 * GiB)).error().err, ENXIO);

    ASSERT_EQ(offline(32), 0) << "poisoned pages do not keep a block online";
    EXPECT_EQ(k.soft_offline_page(last).error().err, EIO) << "an offline page";
    EXPECT_EQ(k.num_poisoned_pages(), PageCount(2));
    ASSERT_TRUE(k.remove_memory(DIMM_BASE, BLOCK));
    EXPECT_EQ(k.num_poisoned_pages(), PageCount(0)) << "clear_hwpoisoned_pages";
}

// Onlined again, the memmap is new: the pages are free, the count stays.
TEST_F(MemoryInUse, OnliningAgainFreesPoisonedPagesButKeepsTheCount)
{
    plug_dimm(DIMM_BASE, BLOCK, MmopType::OnlineMovable);
    const Pfn last = Pfn::from_phys(DIMM_BASE + BLOCK) - PageCount(1);
    ASSERT_TRUE(k.memory_failure(last));
    const PageCount free_before = k.nr_free_pages();
    ASSERT_EQ(offline(32), 0);
    k.set_online_type(BlockId(32), MmopType::OnlineMovable);
    ASSERT_TRUE(k.device_online(BlockId(32)));
    EXPECT_EQ(k.nr_free_pages(), free_before + PageCount(1));
    EXPECT_EQ(k.num_poisoned_pages(), PageCount(1));
    ASSERT_EQ(offline(32), 0);
    ASSERT_TRUE(k.remove_memory(DIMM_BASE, BLOCK));
    EXPECT_EQ(k.num_poisoned_pages(), PageCount(1)) << "no flag left to clear";
}

// Soft offline of a file page migrates it first: the contents survive.
TEST_F(MemoryInUse, SoftOfflineMigratesAFilePage)
{
    plug_dimm(DIMM_BASE, BLOCK, MmopType::OnlineMovable);
    const InodeId ino = write_pattern(64 * 4096);
    const std::string before = contents(ino);
    const Pfn first_file_page = Pfn::from_phys(DIMM_BASE);
    ASSERT_EQ(k.memmap().at(first_file_page).state, PageState::Movable) << "files prefer ZONE_MOVABLE";
    ASSERT_TRUE(k.soft_offline_page(first_file_page));
    EXPECT_EQ(k.memmap().at(first_file_page).state, PageState::HwPoison);
    EXPECT_EQ(contents(ino), before);
    EXPECT_EQ(k.memory_failure(first_file_page + PageCount(1)).error().err, EBUSY)
        << "memory_failure of a page in use is not modelled";
}

}  // namespace
}  // namespace memplug::mm
