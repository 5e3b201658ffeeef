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

}  // namespace memplug::mm::test
