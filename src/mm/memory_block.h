// Memory blocks and memory groups (include/linux/memory.h): the unit user space
// onlines and offlines, and the unit a driver adds memory in.
#pragma once

#include <optional>
#include <string>

#include "mm/mmzone.h"
#include "mm/types.h"

namespace memplug::mm {

// MMOP_*: what user space (or auto-onlining) asks for.
enum class MmopType : uint8_t { Offline, Online, OnlineKernel, OnlineMovable };

// MEM_*: a block's state as memory_block.state keeps it.
enum class MemState : uint8_t { Online, GoingOffline, Offline };

enum class OnlinePolicy : uint8_t { ContigZones, AutoMovable };

struct MemoryGroup {
    int id = 0;
    NodeId nid = 0;
    bool is_dynamic = false;
    PageCount max_pages;   // static groups (a DIMM): everything the device provides
    PageCount unit_pages;  // dynamic groups (virtio-mem): the unit added and removed
    PageCount present_kernel_pages;
    PageCount present_movable_pages;
};

struct MemoryBlock {
    BlockId id;
    SectionNr start_section_nr;
    MemState state = MemState::Offline;
    // Set by state_store before device_online; reset only by a real online (quirk kept).
    MmopType online_type = MmopType::Offline;
    NodeId nid = 0;
    std::optional<ZoneType> zone;  // mem->zone: NULL while offline or when spanning zones
    PageCount nr_vmemmap_pages;
    std::optional<int> group;      // memory group id
    bool early = false;            // a boot block (add_boot_memory_block)
    // dev->fwnode as sysfs shows it (firmware_node), set by the driver that bound
    // the block (ACPI for DIMMs); empty when there is none.
    std::string firmware_node;
};

}  // namespace memplug::mm
