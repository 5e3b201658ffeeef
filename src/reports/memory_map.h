// `memplug report map`: an SVG picture of the guest's physical memory. Each cell
// is one memory block (or, on large guests, a power-of-two run of blocks, so that
// no picture has more than k_max_cells), filled by what most of its bytes are
// (a hole, device memory nothing is plugged in, an offline block, an online
// block's zone) and marked where it holds a self-hosted memmap, unmovable pages
// or huge pages. Cells inside a memory device are outlined in the device's colour.
#pragma once

#include <cstdint>
#include <string>

namespace memplug::machine {
class Machine;
}

namespace memplug::fe {

inline constexpr uint64_t k_map_max_cells = 4096;
inline constexpr unsigned k_map_columns = 64;

std::string memory_map_svg(const machine::Machine& m);

}  // namespace memplug::fe
