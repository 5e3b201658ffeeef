// A firmware memory map like QEMU q35 + SeaBIOS gives a guest with all RAM
// below 4 GiB, for kernel-model tests that do not go through the machine layer.
#pragma once

#include "mm/kernel.h"

namespace memplug::mm::test {

inline BootConfig q35_low_ram(uint64_t ram_bytes, HotplugParams params = {})
{
    BootConfig cfg;
    cfg.e820 = {{0, 0x9fc00, E820Type::Ram},
                {0x9fc00, 0x400, E820Type::Reserved},
                {0xf0000, 0x10000, E820Type::Reserved},
                {0x100000, ram_bytes - 0x21000 - 0x100000, E820Type::Ram},
                {ram_bytes - 0x21000, 0x21000, E820Type::Reserved}};
    cfg.node_cpus = {{0}};
    cfg.params = params;
    cfg.hotplug_region_end = 32 * GiB;
    return cfg;
}

inline Kernel boot(uint64_t ram_bytes, HotplugParams params = {})
{
    auto k = Kernel::boot(q35_low_ram(ram_bytes, params));
    if (!k) throw std::runtime_error(k.error().reason);
    return std::move(*k);
}

// ACPI's path for a DIMM: one static memory group, one add_memory.
inline KResult<void> plug_dimm(Kernel& k, uint64_t addr, uint64_t size)
{
    const int g = k.memory_group_register_static(0, PageCount::from_bytes(size));
    return k.add_memory(g, addr, size, MHP_NID_IS_MGID);
}

}  // namespace memplug::mm::test
