// QEMU's memory-region tree (softmmu/memory.c's MemoryRegion and AddressSpace)
// as HMP's `info mtree` walks it: regions with their place in the parent,
// aliases into other regions, and the address spaces rooted in them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace memplug::machine {

// What `info mtree` calls a region: "i/o" (MMIO or a container), "ram", "rom".
// An alias shows its target's type.
enum class RegionType { Io, Ram, Rom };

struct MemoryRegion {
    std::string name;
    uint64_t addr = 0;  // in its parent (a root's own address otherwise)
    uint64_t last = 0;  // size - 1; 0 for an empty region (QEMU's MR_SIZE)
    int priority = 0;
    RegionType type = RegionType::Io;
    // A disabled region is not listed, its subregions are (one level deeper).
    bool enabled = true;
    std::optional<std::size_t> alias;  // the region it shows, an index into MemoryMap::regions
    uint64_t alias_offset = 0;
    // Indices into MemoryMap::regions. Listed by address, higher priority first;
    // subregions with equal address and priority keep this order.
    std::vector<std::size_t> subregions;
};

struct AddressSpace {
    std::string name;
    std::size_t root;  // an index into MemoryMap::regions
};

struct MemoryMap {
    std::vector<MemoryRegion> regions;
    // Those sharing a root are listed together, in this order.
    std::vector<AddressSpace> address_spaces;
};

}  // namespace memplug::machine
