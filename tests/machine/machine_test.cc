// The QEMU layer: command line, layout, and the monitor's answers. Expected
// texts are QEMU 7.2's, as recorded from the real binary.
#include "machine/machine.h"
#include "machine/monitor.h"

#include <gtest/gtest.h>

#include "machine/qemu_opts.h"

namespace memplug::machine {
namespace {

using mm::GiB;
using mm::MiB;

std::unique_ptr<Machine> start(std::vector<std::string> args)
{
    auto m = Machine::create(args);
    if (!m) throw std::runtime_error(m.error().text);
    return std::move(*m);
}

std::string start_error(std::vector<std::string> args)
{
    auto m = Machine::create(args);
    return m ? std::string("(started)") : m.error().text;
}

TEST(QemuOpts, Sizes)
{
    EXPECT_EQ(parse_size("512M").value(), 512 * MiB);
    EXPECT_EQ(parse_size("2052472M").value(), 2052472 * MiB);
    EXPECT_EQ(parse_size("1.5G").value(), 3 * GiB / 2);
    EXPECT_EQ(parse_size("4096").value(), 4096u);
    EXPECT_EQ(parse_size("2", 'M').value(), 2 * MiB) << "-m takes MiB by default";
    EXPECT_FALSE(parse_size("12Q"));
    EXPECT_FALSE(parse_size(""));
    EXPECT_FALSE(parse_size("G"));
}

TEST(QemuOpts, ImpliedKeyAndEscapedCommas)
{
    auto o = OptList::parse("pc-dimm,id=d1,memdev=a,,b", "driver").value();
    EXPECT_EQ(o.get("driver"), "pc-dimm");
    EXPECT_EQ(o.get("memdev"), "a,b");
    EXPECT_FALSE(o.has("slot"));
}

TEST(Machine, Q35LayoutSplitsRamAt2GiBAbove2816MiB)
{
    auto small = start({"-m", "2G", "-machine", "q35"});
    EXPECT_EQ(small->below_4g_mem_size(), 2 * GiB);
    EXPECT_EQ(small->above_4g_mem_size(), 0u);
    auto big = start({"-m", "3G,slots=4,maxmem=32G", "-machine", "q35"});
    EXPECT_EQ(big->below_4g_mem_size(), 2 * GiB);
    EXPECT_EQ(big->above_4g_mem_size(), 1 * GiB);
    EXPECT_EQ(big->device_memory_base(), 5 * GiB);
    EXPECT_EQ(big->device_memory_size(), 29 * GiB + 4 * GiB);
}

TEST(Machine, PcKeeps3GiBLow)
{
    auto m = start({"-m", "4G"});
    EXPECT_EQ(m->below_4g_mem_size(), 3 * GiB);
    EXPECT_EQ(m->above_4g_mem_size(), 1 * GiB);
}

TEST(Machine, CommandLineErrorsAsQemuPrintsThem)
{
    EXPECT_EQ(start_error({"-m", "1G,slots=4"}), "qemu-system-x86_64: slots specified but no max-size");
    EXPECT_EQ(start_error({"-m", "1G,slots=300,maxmem=4G"}), "qemu-system-x86_64: unsupported amount of memory slots: 300");
    EXPECT_EQ(start_error({"-m", "1G,slots=4,maxmem=512M"}),
              "qemu-system-x86_64: invalid value of maxmem: maximum memory size (0x20000000) must be at least the "
              "initial memory size (0x40000000)");
}

TEST(Machine, KvmHostsHaveNoHyperTransportHoleAndMoreAddressBits)
{
    EXPECT_EQ(start_error({"-m", "64T", "-machine", "q35"}),
              "qemu-system-x86_64: Address space limit 0xffffffffff < 0x41077fffffff phys-bits too low (40)")
        << "RAM above 4 GiB moved past the HyperTransport hole to 1 TiB, then 32 GiB of PCI window";
    auto m = start({"-accel", "kvm", "-cpu", "host,phys-bits=48", "-m", "2G,slots=4,maxmem=2052472M", "-machine", "q35"});
    EXPECT_EQ(m->device_memory_base(), 4 * GiB) << "no relocation above 1 TiB on an Intel host";
    EXPECT_EQ(m->kernel().memory_block_size_bytes(), 128 * MiB);
}

TEST(Machine, OutOfRangeNumbersAreRefusedNotTrusted)
{
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"-m", "1G", "-object", "memory-backend-ram,id=r0,size=1G", "-numa", "node,nodeid=-1,memdev=r0"},
             {"-m", "1G", "-object", "memory-backend-ram,id=r0,size=1G", "-numa", "node,nodeid=130,memdev=r0"},
             {"-m", "1G", "-object", "memory-backend-ram,id=r0,size=1G", "-numa", "node,cpus=0-2147483647,memdev=r0"},
             {"-m", "1G", "-smp", "1000000000"},
             {"-m", "1G", "-accel", "kvm", "-cpu", "host,phys-bits=64"},
             {"-m", "1G,slots=2,maxmem=18446744073709547520"}}) {
        auto m = Machine::create(args);
        ASSERT_FALSE(m) << args.back();
        EXPECT_EQ(m.error().kind, StartError::Kind::Qemu) << m.error().text;
    }
    auto m = start({"-m", "1G,slots=2,maxmem=8G"});
    EXPECT_EQ(hmp(*m, "object_add memory-backend-ram,id=b,size=18446744073707454464"), "");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=d,memdev=b"),
              "Error: not enough space, currently 0x0 in use of total space for memory devices 0x1c0000000\n")
        << "no wrap-around in the space check";
    EXPECT_EQ(hmp(*m, "object_add memory-backend-ram,id=c,size=128M"), "");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=d2,memdev=c,addr=0xffffffffffe00000"),
              "Error: can't add memory device [0xffffffffffe00000:0x8000000], usable range for memory devices "
              "[0x100000000:0x240000000]\n");
    EXPECT_TRUE(m->memory_devices().empty());
}

TEST(Machine, TooLittleRamIsTheModelsRefusalNotQemus)
{
    auto m = Machine::create({"-m", "64M"});
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().kind, StartError::Kind::Model);
}

TEST(Monitor, DimmRefusalsLeaveNothingBehind)
{
    auto m = start({"-m", "2G,slots=4,maxmem=16G", "-machine", "q35"});
    EXPECT_EQ(hmp(*m, "object_add memory-backend-ram,id=mem1,size=512M"), "");
    EXPECT_EQ(hmp(*m, "object_add memory-backend-ram,id=mem1,size=512M"),
              "Error: attempt to add duplicate property 'mem1' to object (type 'container')\n");
    EXPECT_EQ(hmp(*m, "object_add memory-backend-ram,id=mem2,size=256M"), "");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=dimm2"), "Error: 'memdev' property must be set\n");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=dimm2,memdev=nonexist"), "Error: Device 'nonexist' not found\n");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=dimm1,memdev=mem1"), "");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=dimm1,memdev=mem2"), "Error: Duplicate device ID 'dimm1'\n");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=dimm2,memdev=mem1"), "Error: can't use already busy memdev: mem1\n");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=dimm2,memdev=mem2,slot=9"),
              "Error: invalid slot number 9, valid range is [0-3]\n");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=dimm2,memdev=mem2,slot=0"), "Error: slot 0 is busy\n");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=dimm2,memdev=mem2,node=3"),
              "Error: 'DIMM property node has value 3' which exceeds the number of numa nodes: 1\n");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=dimm2,memdev=mem2,addr=0x140100000"),
              "Error: address must be aligned to 0x200000 bytes\n");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=dimm2,memdev=mem2,addr=0x100000000"),
              "Error: address range conflicts with memory device id='dimm1'\n");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=dimm2,memdev=mem2,addr=0x580000000"),
              "Error: can't add memory device [0x580000000:0x10000000], usable range for memory devices "
              "[0x100000000:0x480000000]\n");
    ASSERT_EQ(m->memory_devices().size(), 1u);
    EXPECT_EQ(hmp(*m, "object_del mem1"), "Error: object 'mem1' is in use, can not be deleted\n");
    EXPECT_EQ(hmp(*m, "device_del nonexist"), "Error: Device 'nonexist' not found\n");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=dimm2,memdev=mem2,addr=0x0"), "");
    EXPECT_EQ(hmp(*m, "info memory-devices"),
              "Memory device [dimm]: \"dimm1\"\n  addr: 0x100000000\n  slot: 0\n  node: 0\n  size: 536870912\n"
              "  memdev: /objects/mem1\n  hotplugged: true\n  hotpluggable: true\n"
              "Memory device [dimm]: \"dimm2\"\n  addr: 0x120000000\n  slot: 1\n  node: 0\n  size: 268435456\n"
              "  memdev: /objects/mem2\n  hotplugged: true\n  hotpluggable: true\n");
    EXPECT_EQ(hmp(*m, "qom-get dimm1 addr"), "4294967296\n");
    EXPECT_EQ(hmp(*m, "qom-get dimm1 memdev"), "\"/objects/mem1\"\n");
    EXPECT_EQ(hmp(*m, "qom-set dimm1 size 1"), "Error: Property 'pc-dimm.size' is not writable\n");
    EXPECT_TRUE(m->kernel().check_invariants());
}

TEST(Monitor, InfoMtreeSaysWhatItDoesNotModel)
{
    const std::string prefix = "memplug: info mtree does not model ";
    EXPECT_EQ(hmp(*start({"-m", "1G"}), "info mtree"),
              prefix + "the machine's default devices (start it with -nodefaults)\n");
    EXPECT_EQ(hmp(*start({"-m", "1G", "-nodefaults"}), "info mtree"),
              prefix + "a machine whose firmware ran (start it with -S)\n");
    EXPECT_EQ(hmp(*start({"-m", "1G", "-nodefaults", "-S", "-device", "virtio-net-pci"}), "info mtree"),
              prefix + "the regions of virtio-net-pci\n");
    EXPECT_EQ(hmp(*start({"-m", "1G", "-nodefaults", "-S"}), "info mtree -f"),
              "memplug: info mtree's options (-f, -d, -o, -D) are not modelled\n");
    // What it shows is compared with QEMU's own: tests/conformance/qemu/monitor-mtree*.out.
}

TEST(Monitor, NoSlotsNoDimm)
{
    auto m = start({"-m", "1G,maxmem=4G", "-machine", "q35"});
    EXPECT_EQ(hmp(*m, "object_add memory-backend-ram,id=m1,size=128M"), "");
    EXPECT_EQ(hmp(*m, "device_add pc-dimm,id=d1,memdev=m1"),
              "Error: no slots where allocated, please specify the 'slots' option\n");
    EXPECT_EQ(hmp(*m, "info memory-devices"), "");
}

TEST(Monitor, DeviceDelOfADimmTheKernelUsesIsRefusedByTheGuest)
{
    auto m = start({"-m", "2G,slots=4,maxmem=16G", "-machine", "q35", "-append", "memhp_default_state=online_movable"});
    hmp(*m, "object_add memory-backend-ram,id=mem1,size=256M");
    hmp(*m, "device_add pc-dimm,id=dimm1,memdev=mem1");
    mm::Kernel& k = m->kernel();
    ASSERT_EQ(k.find_memory_block(mm::BlockId(32))->zone, mm::ZoneType::Movable);
    ASSERT_EQ(k.find_memory_block(mm::BlockId(32))->firmware_node,
              "../../../LNXSYSTM:00/LNXSYBUS:00/PNP0A06:04/PNP0C80:00");
    // Make block 33 a kernel block the kernel allocates from, as the real guest does.
    ASSERT_TRUE(k.device_offline(mm::BlockId(33)));
    k.set_online_type(mm::BlockId(33), mm::MmopType::OnlineKernel);
    ASSERT_TRUE(k.device_online(mm::BlockId(33)));
    (void)k.shmem_create();  // a new file's inode takes a slab from the new Normal block
    EXPECT_EQ(hmp(*m, "device_del dimm1"), "") << "QEMU only asks the guest";
    ASSERT_EQ(m->memory_devices().size(), 1u) << "the guest could not offline block 33";
    // Block 32 was offlined by the attempt and came back with the default type:
    // the Movable zone was empty by then, so it went to Normal.
    EXPECT_EQ(k.find_memory_block(mm::BlockId(32))->zone, mm::ZoneType::Normal);
    EXPECT_EQ(hmp(*m, "object_del mem1"), "Error: object 'mem1' is in use, can not be deleted\n");
    EXPECT_TRUE(k.check_invariants());
}

TEST(Monitor, DeviceDelOfMovableMemoryEjectsTheDimm)
{
    auto m = start({"-m", "2G,slots=4,maxmem=16G", "-machine", "q35", "-append", "memhp_default_state=online_movable"});
    hmp(*m, "object_add memory-backend-ram,id=mem1,size=256M");
    hmp(*m, "device_add pc-dimm,id=dimm1,memdev=mem1");
    EXPECT_EQ(hmp(*m, "device_del dimm1"), "");
    EXPECT_TRUE(m->memory_devices().empty());
    EXPECT_EQ(m->kernel().find_memory_block(mm::BlockId(32)), nullptr);
    EXPECT_EQ(hmp(*m, "object_del mem1"), "");
    EXPECT_EQ(hmp(*m, "info memory-devices"), "");
    EXPECT_TRUE(m->kernel().check_invariants());
}

}  // namespace
}  // namespace memplug::machine

namespace memplug::machine {
namespace {

class VirtioMemTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        m = start({"-m", "2G,maxmem=8G", "-machine", "q35", "-device", "pcie-root-port,id=port1,bus=pcie.0,slot=1",
                   "-append", "memhp_default_state=online_movable"});
        ASSERT_EQ(hmp(*m, "object_add memory-backend-ram,id=vm0,size=1G"), "");
        ASSERT_EQ(hmp(*m, "device_add virtio-mem-pci,id=vmem0,memdev=vm0,bus=port1"), "");
    }
    void TearDown() override
    {
        auto r = m->kernel().check_invariants();
        EXPECT_TRUE(r) << (r ? "" : r.error().reason);
    }
    const mm::Zone& movable() const { return m->kernel().node_data(0).zone(mm::ZoneType::Movable); }
    std::unique_ptr<Machine> m;
};

TEST_F(VirtioMemTest, PlugsWholeBlocksThenSubblocks)
{
    EXPECT_EQ(hmp(*m, "qom-set vmem0 requested-size 200M"), "");
    EXPECT_EQ(hmp(*m, "qom-get vmem0 size"), "209715200\n");
    // 200 MiB: block 32 whole, 36 subblocks of block 33; the rest of 33 stays logically offline.
    EXPECT_EQ(movable().present_pages, mm::PageCount(2 * 32768));
    EXPECT_EQ(movable().managed_pages, mm::PageCount::from_bytes(200 * MiB));
    EXPECT_EQ(hmp(*m, "qom-set vmem0 requested-size 300M"), "");
    EXPECT_EQ(movable().present_pages, mm::PageCount(3 * 32768)) << "block 33 filled up first, then block 34 added";
    EXPECT_EQ(movable().managed_pages, mm::PageCount::from_bytes(300 * MiB));
}

TEST_F(VirtioMemTest, UnplugTakesTheHighestBlocksFirst)
{
    ASSERT_EQ(hmp(*m, "qom-set vmem0 requested-size 512M"), "");
    ASSERT_EQ(hmp(*m, "qom-set vmem0 requested-size 256M"), "");
    mm::Kernel& k = m->kernel();
    EXPECT_NE(k.find_memory_block(mm::BlockId(33)), nullptr);
    EXPECT_EQ(k.find_memory_block(mm::BlockId(34)), nullptr);
    EXPECT_EQ(k.find_memory_block(mm::BlockId(35)), nullptr);
    ASSERT_EQ(hmp(*m, "qom-set vmem0 requested-size 0"), "");
    EXPECT_EQ(hmp(*m, "qom-get vmem0 size"), "0\n");
    EXPECT_EQ(k.find_memory_block(mm::BlockId(32)), nullptr);
    EXPECT_EQ(movable().present_pages, mm::PageCount(0));
}

TEST_F(VirtioMemTest, QemuRefusalsInItsWords)
{
    EXPECT_EQ(hmp(*m, "qom-set vmem0 requested-size 2G"),
              "Error: 'requested-size' cannot exceed the memory backend size(0x40000000)\n");
    EXPECT_EQ(hmp(*m, "qom-set vmem0 requested-size 3M"),
              "Error: 'requested-size' has to be multiples of 'block-size' (0x200000)\n");
    EXPECT_EQ(hmp(*m, "device_del vmem0"), "Error: virtio based memory devices cannot be unplugged.\n");
    EXPECT_EQ(hmp(*m, "object_del vm0"), "Error: object 'vm0' is in use, can not be deleted\n");
    EXPECT_EQ(hmp(*m, "object_add memory-backend-ram,id=vm1,size=1G"), "");
    EXPECT_EQ(hmp(*m, "device_add virtio-mem-pci,id=vmem1,memdev=vm1"), "Error: Bus 'pcie.0' does not support hotplugging\n");
    EXPECT_EQ(hmp(*m, "device_add virtio-mem-pci,id=vmem1,memdev=vm0,bus=port1"),
              "Error: 'memdev' property specifies a busy memdev: vm0\n");
}

}  // namespace
}  // namespace memplug::machine
