// The memory map's cells say what the model holds: each block's cell is filled by
// its zone or state, device memory and holes by their own classes, and a 64 TiB
// guest's picture stays within k_map_max_cells.
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "frontends/guest_session.h"
#include "reports/memory_map.h"
#include "machine/machine.h"
#include "mm/kernel.h"

namespace memplug::fe {
namespace {

std::unique_ptr<machine::Machine> boot(const std::string& args)
{
    auto words = split_host_command("qemu-system-x86_64 " + args).value();
    words.erase(words.begin());
    auto m = machine::Machine::create(words);
    if (!m) throw std::runtime_error(m.error().text);
    return std::move(*m);
}

// The tooltip of cell N: "0x...-0x...: memoryB..., CLASS[, ...]".
std::string cell_title(const std::string& svg, size_t n)
{
    std::smatch match;
    const std::regex re("<g id=\"cell-" + std::to_string(n) + "\"><title>([^<]*)</title>");
    return std::regex_search(svg, match, re) ? match[1].str() : "";
}

TEST(MemoryMap, CellsFollowTheBlocksZonesAndDevices)
{
    auto m = boot("-m 2G,slots=4,maxmem=8G -machine q35");
    ASSERT_TRUE(m->object_add({{"qom-type", "memory-backend-ram"}, {"id", "mem1"}, {"size", 268435456}}, machine::Input::Json));
    ASSERT_TRUE(m->device_add({{"driver", "pc-dimm"}, {"id", "dimm1"}, {"memdev", "mem1"}}));
    mm::Kernel& k = m->kernel();
    k.set_online_type(mm::BlockId(32), mm::MmopType::OnlineMovable);
    ASSERT_TRUE(k.device_online(mm::BlockId(32)));
    const std::string svg = memory_map_svg(*m);
    EXPECT_NE(svg.find("data-blocks-per-cell=\"1\""), std::string::npos);
    EXPECT_NE(cell_title(svg, 1).find("memory1, online, DMA32, node 0"), std::string::npos) << cell_title(svg, 1);
    EXPECT_NE(cell_title(svg, 0).find("unmovable pages"), std::string::npos) << "the boot block holds the kernel's pages";
    EXPECT_NE(cell_title(svg, 20).find("hole (no RAM)"), std::string::npos) << "q35's PCI hole below 4 GiB";
    EXPECT_NE(cell_title(svg, 32).find("memory32, online, Movable, node 0, pc-dimm dimm1"), std::string::npos) << cell_title(svg, 32);
    EXPECT_EQ(cell_title(svg, 32).find("unmovable"), std::string::npos);
    EXPECT_NE(cell_title(svg, 33).find("memory33, offline block, node 0, pc-dimm dimm1"), std::string::npos) << cell_title(svg, 33);
    EXPECT_NE(cell_title(svg, 34).find("device memory, nothing plugged"), std::string::npos) << cell_title(svg, 34);
}

size_t cells_drawn(const std::string& svg)
{
    size_t n = 0;
    for (size_t at = 0; (at = svg.find("<g id=\"cell-", at)) != std::string::npos; ++at) ++n;
    return n;
}

TEST(MemoryMap, SixtyFourTebibytesAggregateIntoAtMostTheCellLimit)
{
    auto m = boot("-accel kvm -cpu host,phys-bits=48 -m 64T -machine q35");
    const std::string svg = memory_map_svg(*m);
    EXPECT_LE(cells_drawn(svg), k_map_max_cells);
    EXPECT_GT(cells_drawn(svg), k_map_max_cells / 4) << "no coarser than it needs to be";
    EXPECT_NE(cell_title(svg, 1000).find("online, Normal"), std::string::npos) << cell_title(svg, 1000);
}

// 8193 blocks of 128 MiB, one more than twice the limit: four blocks a cell
// (2049 cells), not two (4097 cells, one over the limit).
TEST(MemoryMap, OneBlockOverTwiceTheLimitTakesFourBlocksACell)
{
    auto m = boot("-accel kvm -cpu host,phys-bits=48 -m 2G,slots=1,maxmem=1045632M -machine q35");
    const std::string svg = memory_map_svg(*m);
    EXPECT_LE(cells_drawn(svg), k_map_max_cells);
    EXPECT_NE(svg.find("data-blocks-per-cell=\"4\""), std::string::npos);
    EXPECT_EQ(cells_drawn(svg), 2049u);
}

}  // namespace
}  // namespace memplug::fe
