// The sysfs/procfs ABI over the model: paths, permissions, store() errnos, and
// the texts the real 6.1 guest shows (recorded in /work/scratch/probe refuse_guest).
#include "views/guest_fs.h"

#include <algorithm>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "machine/machine.h"
#include "machine/monitor.h"
#include "views/procfs.h"

namespace memplug::views {
namespace {

class GuestFsTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        auto m = machine::Machine::create({"-m", "2G,slots=4,maxmem=16G", "-machine", "q35"});
        ASSERT_TRUE(m);
        machine = std::move(*m);
        fs = std::make_unique<GuestFs>(machine->kernel(), machine->virtio_mem_params());
        ASSERT_EQ(hmp(*machine, "object_add memory-backend-ram,id=mem1,size=512M"), "");
        ASSERT_EQ(hmp(*machine, "device_add pc-dimm,id=dimm1,memdev=mem1"), "");
    }
    void TearDown() override
    {
        auto r = machine->kernel().check_invariants();
        EXPECT_TRUE(r) << (r ? "" : r.error().reason);
    }
    std::string read(const std::string& p) const
    {
        auto r = fs->read(p);
        return r ? *r : "errno " + std::to_string(r.error().err);
    }
    int write(const std::string& p, const std::string& data)
    {
        auto r = fs->write(p, data);
        return r ? 0 : r.error().err;
    }
    static std::string mem(int block, const std::string& f)
    {
        return "/sys/devices/system/memory/memory" + std::to_string(block) + "/" + f;
    }

    std::unique_ptr<machine::Machine> machine;
    std::unique_ptr<GuestFs> fs;
};

TEST_F(GuestFsTest, BlockAttributes)
{
    EXPECT_EQ(read("/sys/devices/system/memory/block_size_bytes"), "8000000\n");
    EXPECT_EQ(read(mem(32, "phys_index")), "00000020\n");
    EXPECT_EQ(read(mem(32, "phys_device")), "0\n");
    EXPECT_EQ(read(mem(32, "removable")), "1\n");
    EXPECT_EQ(read(mem(32, "state")), "offline\n");
    EXPECT_EQ(read(mem(32, "online")), "0\n");
    EXPECT_EQ(read(mem(32, "valid_zones")), "Normal Movable\n");
    EXPECT_EQ(read(mem(0, "valid_zones")), "none\n");
    EXPECT_EQ(read(mem(3, "valid_zones")), "DMA32\n");
    EXPECT_EQ(read(mem(32, "uevent")), "");
    EXPECT_EQ(fs->readlink(mem(32, "node0")).value(), "../../node/node0");
    EXPECT_EQ(fs->readlink(mem(32, "firmware_node")).value(), "../../../LNXSYSTM:00/LNXSYBUS:00/PNP0A06:04/PNP0C80:00");
    EXPECT_EQ(read(mem(32, "node0/has_cpu")), "errno " + std::to_string(ENOENT));
}

TEST_F(GuestFsTest, StateStoreErrnos)
{
    EXPECT_EQ(write(mem(33, "state"), "foo\n"), EINVAL);
    EXPECT_EQ(write(mem(33, "state"), "offline\n"), EINVAL) << "already offline";
    EXPECT_EQ(write(mem(33, "state"), " online_movable \n"), EINVAL);
    EXPECT_EQ(write(mem(33, "state"), "ONLINE\n"), EINVAL);
    EXPECT_EQ(write(mem(32, "state"), "online_movable"), 0) << "no newline is fine";
    EXPECT_EQ(write(mem(32, "state"), "online_movable\n"), EINVAL) << "already online";
    EXPECT_EQ(write(mem(32, "state"), "online_kernel\n"), EINVAL);
    EXPECT_EQ(read(mem(32, "valid_zones")), "Movable\n");
    EXPECT_EQ(write(mem(0, "state"), "offline\n"), EINVAL) << "memory0 spans two zones";
}

TEST_F(GuestFsTest, OnlineFileTreatsAlreadySoAsSuccess)
{
    EXPECT_EQ(write(mem(33, "online"), "2\n"), EINVAL);
    EXPECT_EQ(write(mem(33, "online"), "0\n"), 0);
    EXPECT_EQ(write(mem(33, "online"), "yes\n"), 0);
    EXPECT_EQ(read(mem(33, "online")), "1\n");
    EXPECT_EQ(write(mem(33, "online"), "1\n"), 0);
    EXPECT_EQ(write(mem(33, "online"), "no\n"), 0);
    EXPECT_EQ(read(mem(33, "state")), "offline\n");
}

TEST_F(GuestFsTest, PermissionsAndMissingFiles)
{
    EXPECT_EQ(write(mem(32, "phys_index"), "5\n"), EACCES);
    EXPECT_EQ(write(mem(33, "valid_zones"), "Normal\n"), EACCES);
    EXPECT_EQ(write("/sys/devices/system/memory/block_size_bytes", "1\n"), EACCES);
    EXPECT_EQ(read("/sys/devices/system/memory/soft_offline_page"), "errno " + std::to_string(EACCES));
    EXPECT_EQ(write("/sys/devices/system/memory/soft_offline_page", "x\n"), EINVAL);
    EXPECT_EQ(write("/sys/devices/system/memory/probe", "x\n"), EACCES) << "sysfs cannot create files";
    EXPECT_EQ(read("/sys/devices/system/memory/probe"), "errno " + std::to_string(ENOENT));
    EXPECT_EQ(write(mem(999, "state"), "online\n"), ENOENT);
    EXPECT_EQ(read("/sys/devices/system/memory"), "errno " + std::to_string(EISDIR));
    EXPECT_EQ(write("/sys/module/memory_hotplug/parameters/memmap_on_memory", "Y\n"), EACCES);
    EXPECT_EQ(write(mem(32, "power/control"), "bogus\n"), EINVAL) << "drivers/base/power/sysfs.c: auto or on";
    EXPECT_EQ(write(mem(32, "power/control"), "on\n"), 0);
    EXPECT_EQ(write("/sys/devices/system/memory/soft_offline_page", "0x500000000\n"), ENXIO)
        << "no memmap there (hwpoison-dimm: 0x900000000 on the real guest)";
}

TEST_F(GuestFsTest, AutoOnlineBlocksAndModuleParameters)
{
    const std::string aob = "/sys/devices/system/memory/auto_online_blocks";
    EXPECT_EQ(read(aob), "offline\n");
    EXPECT_EQ(write(aob, "bogus\n"), EINVAL);
    EXPECT_EQ(write(aob, " offline\n"), EINVAL);
    EXPECT_EQ(write(aob, "online_kernel\n"), 0);
    EXPECT_EQ(read(aob), "online_kernel\n");
    const std::string p = "/sys/module/memory_hotplug/parameters/";
    EXPECT_EQ(write(p + "online_policy", "bogus\n"), EINVAL);
    EXPECT_EQ(write(p + "online_policy", "auto-movable\n"), 0);
    EXPECT_EQ(read(p + "online_policy"), "auto-movable\n");
    EXPECT_EQ(write(p + "auto_movable_ratio", "0x20\n"), 0);
    EXPECT_EQ(read(p + "auto_movable_ratio"), "32\n");
    EXPECT_EQ(write(p + "auto_movable_ratio", "abc\n"), EINVAL);
    EXPECT_EQ(write(p + "auto_movable_ratio", "-1\n"), EINVAL);
    EXPECT_EQ(write(p + "auto_movable_ratio", "99999999999\n"), ERANGE);
    EXPECT_EQ(read(p + "auto_movable_ratio"), "32\n");
    EXPECT_EQ(write(p + "auto_movable_numa_aware", "off\n"), 0);
    EXPECT_EQ(read(p + "auto_movable_numa_aware"), "N\n");
    EXPECT_EQ(write(p + "auto_movable_numa_aware", "maybe\n"), EINVAL);
}

TEST_F(GuestFsTest, ListingsAndLinks)
{
    auto names = fs->list("/sys/devices/system/memory/memory32").value();
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"firmware_node", "node0", "online", "phys_device", "phys_index", "power",
                                               "removable", "state", "subsystem", "uevent", "valid_zones"}));
    EXPECT_EQ(fs->stat("/sys/devices/system/memory/memory32/node0", false).value(), NodeKind::Symlink);
    EXPECT_EQ(fs->stat("/sys/devices/system/memory/memory32/node0", true).value(), NodeKind::Dir);
    EXPECT_EQ(read("/sys/devices/system/memory/memory32/node0/memory32/phys_index"), "00000020\n");
    EXPECT_EQ(read("/sys/devices/system/node/has_memory"), "0\n");
    EXPECT_EQ(read("/sys/devices/system/node/online"), "0\n");
}

// readdir order: kernfs keeps a directory's children by the hash of their name,
// tmpfs newest first (recorded: tests/conformance/cases/shell-find-sysfs.out, shell-rm.out).
TEST_F(GuestFsTest, ListingsComeInReaddirOrder)
{
    EXPECT_EQ(fs->list("/sys/devices/system/memory/memory0").value(),
              (std::vector<std::string>{"uevent", "node0", "power", "online", "phys_device", "phys_index",
                                        "valid_zones", "subsystem", "state", "removable"}));
    EXPECT_EQ(fs->list("/sys/devices/system/node/node0/power").value(),
              (std::vector<std::string>{"runtime_active_time", "runtime_active_kids", "runtime_usage", "runtime_status",
                                        "autosuspend_delay_ms", "async", "runtime_suspended_time", "runtime_enabled",
                                        "control"}));
    auto names = fs->list("/sys/devices/system/memory").value();
    const auto pos = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
    // As the real guest lists them: memory32 memory3 uevent hard_offline_page memory1 ...
    EXPECT_LT(pos("memory32"), pos("memory3"));
    EXPECT_LT(pos("memory3"), pos("uevent"));
    EXPECT_LT(pos("uevent"), pos("hard_offline_page"));
    EXPECT_LT(pos("hard_offline_page"), pos("memory1"));
    ASSERT_TRUE(fs->open_write("/tmp/a"));
    ASSERT_TRUE(fs->open_write("/tmp/b"));
    EXPECT_EQ(fs->list("/tmp").value(), (std::vector<std::string>{"b", "a"}));
}

TEST_F(GuestFsTest, CmdlineVmstatAndUnlinkErrnos)
{
    EXPECT_EQ(read("/proc/cmdline"), "\n");
    const std::string vmstat = read("/proc/vmstat");
    EXPECT_EQ(std::count(vmstat.begin(), vmstat.end(), '\n'), 173);
    EXPECT_TRUE(vmstat.starts_with(fmt::format("nr_free_pages {}\n", machine->kernel().nr_free_pages().value())));
    EXPECT_TRUE(vmstat.ends_with("direct_map_level3_splits 0\nnr_unstable 0\n"));
    EXPECT_NE(vmstat.find("\nhtlb_buddy_alloc_success 0\n"), std::string::npos);
    ASSERT_EQ(write("/proc/sys/vm/nr_hugepages", "4"), 0);
    ASSERT_EQ(write("/proc/sys/vm/drop_caches", "3"), 0);
    const std::string after = read("/proc/vmstat");
    EXPECT_NE(after.find("\nhtlb_buddy_alloc_success 4\nhtlb_buddy_alloc_fail 0\n"), std::string::npos);
    EXPECT_NE(after.find("\ndrop_pagecache 1\ndrop_slab 1\n"), std::string::npos);
    EXPECT_EQ(fs->unlink("/proc/meminfo").error().err, EPERM);
    EXPECT_EQ(fs->unlink("/proc/sys/vm/nr_hugepages").error().err, EACCES);
    EXPECT_EQ(fs->unlink("/sys/devices/system/memory/memory0/node0").error().err, EPERM);
}

// /sys/bus/*/devices/NAME is found by its name, not by listing the directory.
TEST_F(GuestFsTest, BusDeviceLinks)
{
    EXPECT_EQ(fs->readlink("/sys/bus/memory/devices/memory32").value(), "../../../devices/system/memory/memory32");
    EXPECT_EQ(read("/sys/bus/memory/devices/memory32/phys_index"), "00000020\n");
    EXPECT_EQ(fs->readlink("/sys/bus/node/devices/node0").value(), "../../../devices/system/node/node0");
    for (const char* name : {"memory032", "memory16", "memory", "memory32x", "block_size_bytes", "power", "node0"})
        EXPECT_EQ(fs->stat(std::string("/sys/bus/memory/devices/") + name, false).error().err, ENOENT) << name;
    for (const char* name : {"node1", "node00", "has_memory", "memory32"})
        EXPECT_EQ(fs->stat(std::string("/sys/bus/node/devices/") + name, false).error().err, ENOENT) << name;
    EXPECT_EQ(fs->stat("/sys/bus/memory/devices/memory32/state", false).value(), NodeKind::File);
    EXPECT_EQ(fs->stat("/sys/bus/memory/devices/memory32/nothing", false).error().err, ENOENT);

    auto names = fs->list("/sys/bus/memory/devices").value();
    std::vector<std::string> blocks;
    for (const auto& [id, mem] : machine->kernel().memory_blocks()) blocks.push_back("memory" + std::to_string(id.value()));
    std::sort(names.begin(), names.end());
    std::sort(blocks.begin(), blocks.end());
    EXPECT_EQ(names, blocks);
    EXPECT_EQ(fs->list("/sys/bus/node/devices").value(), std::vector<std::string>{"node0"});
}

// A node's memoryN links: the block must exist and belong to that node.
TEST(GuestFsNodes, MemoryLinksPerNode)
{
    auto m = machine::Machine::create({"-m", "2G,slots=4,maxmem=16G", "-machine", "q35", "-smp", "2", "-object",
                                       "memory-backend-ram,id=m0,size=1G", "-object", "memory-backend-ram,id=m1,size=1G",
                                       "-numa", "node,nodeid=0,cpus=0,memdev=m0", "-numa", "node,nodeid=1,cpus=1,memdev=m1"});
    ASSERT_TRUE(m);
    GuestFs fs((*m)->kernel(), (*m)->virtio_mem_params());
    EXPECT_EQ(fs.readlink("/sys/devices/system/node/node0/memory7").value(), "../../memory/memory7");
    EXPECT_EQ(fs.readlink("/sys/devices/system/node/node1/memory8").value(), "../../memory/memory8");
    EXPECT_EQ(fs.read("/sys/devices/system/node/node1/memory8/phys_index").value(), "00000008\n");
    for (const char* path : {"node0/memory8", "node1/memory7", "node1/memory08", "node1/memory", "node1/memory16",
                             "node1/memory8x", "node1/memory99999999999999999999"})
        EXPECT_EQ(fs.stat(std::string("/sys/devices/system/node/") + path, false).error().err, ENOENT) << path;
}

// The ACPI devices of DIMMs exist while a block links to them, and go with the DIMM.
TEST_F(GuestFsTest, FirmwareNodesFollowTheDimms)
{
    const std::string container = "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/PNP0A06:04";
    auto sorted_list = [this](const std::string& p) {
        auto names = fs->list(p).value();
        std::sort(names.begin(), names.end());
        return names;
    };
    EXPECT_EQ(sorted_list("/sys/devices"), (std::vector<std::string>{"LNXSYSTM:00", "system"}));
    EXPECT_EQ(fs->stat(mem(32, "firmware_node"), true).value(), NodeKind::Dir);
    EXPECT_EQ(fs->stat(container + "/PNP0C80:01", false).error().err, ENOENT);

    ASSERT_EQ(hmp(*machine, "object_add memory-backend-ram,id=mem2,size=512M"), "");
    ASSERT_EQ(hmp(*machine, "device_add pc-dimm,id=dimm2,memdev=mem2"), "");
    EXPECT_EQ(fs->readlink(mem(36, "firmware_node")).value(), "../../../LNXSYSTM:00/LNXSYBUS:00/PNP0A06:04/PNP0C80:01");
    EXPECT_EQ(fs->stat(container + "/PNP0C80:01", false).value(), NodeKind::Dir);
    EXPECT_EQ(sorted_list(container), (std::vector<std::string>{"PNP0C80:00", "PNP0C80:01"}));
    EXPECT_EQ(fs->list(container + "/PNP0C80:01").value(), std::vector<std::string>{});
    EXPECT_EQ(fs->stat(container + "/PNP0C80:01/x", false).error().err, ENOENT);

    // Both go; one larger DIMM takes the first name and the blocks of both.
    ASSERT_EQ(hmp(*machine, "device_del dimm1"), "");
    ASSERT_EQ(hmp(*machine, "device_del dimm2"), "");
    EXPECT_EQ(sorted_list("/sys/devices"), std::vector<std::string>{"system"});
    EXPECT_EQ(fs->stat(container, false).error().err, ENOENT);
    ASSERT_EQ(hmp(*machine, "object_add memory-backend-ram,id=mem3,size=1G"), "");
    ASSERT_EQ(hmp(*machine, "device_add pc-dimm,id=dimm3,memdev=mem3"), "");
    EXPECT_EQ(fs->readlink(mem(36, "firmware_node")).value(), "../../../LNXSYSTM:00/LNXSYBUS:00/PNP0A06:04/PNP0C80:00");
    EXPECT_EQ(fs->stat(container + "/PNP0C80:01", false).error().err, ENOENT);
    EXPECT_EQ(fs->stat(container + "/PNP0C80:00", false).value(), NodeKind::Dir);
    EXPECT_EQ(sorted_list(container), std::vector<std::string>{"PNP0C80:00"});
}

TEST_F(GuestFsTest, ZoneinfoAndMeminfoFollowOnlining)
{
    const std::string before = read("/proc/meminfo");
    ASSERT_EQ(write(mem(32, "state"), "online_movable\n"), 0);
    const std::string zi = read("/proc/zoneinfo");
    EXPECT_NE(zi.find("Node 0, zone  Movable\n  pages free"), std::string::npos);
    EXPECT_NE(zi.find("        spanned  32768\n        present  32768\n        managed  32768\n"), std::string::npos);
    EXPECT_NE(zi.find("  start_pfn:           1048576\n"), std::string::npos);
    auto memtotal = [](const std::string& m) { return std::stoull(m.substr(m.find(':') + 1)); };
    EXPECT_EQ(memtotal(read("/proc/meminfo")) - memtotal(before), 131072u);
    EXPECT_EQ(read("/proc/meminfo").substr(0, 9), "MemTotal:");
}

// The kernel creates these root-only: proc_create_seq("pagetypeinfo", 0400, ...) in
// mm/vmstat.c, and S_IRUSR | S_IWUSR for each action's error file in lib/notifier-error-inject.c.
TEST_F(GuestFsTest, RootOnlyFilesKeepTheKernelsModes)
{
    EXPECT_EQ(fs->permissions("/proc/pagetypeinfo"), 0400u);
    EXPECT_EQ(fs->permissions("/sys/kernel/debug/notifier-error-inject/memory/actions/MEM_GOING_ONLINE/error"), 0600u);
    EXPECT_EQ(fs->permissions("/proc/zoneinfo"), 0444u);
}

// kernfs's link count of a directory is 2 + its subdirectories: memory0 holds power/
// (3 on a real guest's `stat`), the memory directory power/ and one per block.
TEST_F(GuestFsTest, SubdirectoryCountForLinkCounts)
{
    EXPECT_EQ(fs->subdirectory_count("/sys/devices/system/memory/memory0"), 1u);
    auto blocks = fs->list("/sys/devices/system/memory");
    ASSERT_TRUE(blocks);
    const auto n = std::count_if(blocks->begin(), blocks->end(), [](const std::string& s) { return s.starts_with("memory"); });
    EXPECT_EQ(fs->subdirectory_count("/sys/devices/system/memory"), unsigned(n) + 1);
    EXPECT_EQ(fs->subdirectory_count("/sys/devices/system/memory/memory0/state").error().err, ENOTDIR);
}

}  // namespace
}  // namespace memplug::views
