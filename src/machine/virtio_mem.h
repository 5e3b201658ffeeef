// virtio-mem: QEMU's device (hw/virtio/virtio-mem.c: a memory region plugged
// and unplugged in device blocks at the guest's request) and the guest's 6.1
// driver (drivers/virtio/virtio_mem.c): units (memory blocks in Sub Block Mode,
// big blocks in Big Block Mode) added as driver-managed memory in one dynamic
// memory group; in SBM subblocks are plugged within a unit and the unplugged
// ones kept logically offline.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mm/kernel.h"

namespace memplug::machine {

struct VirtioMem {
    std::string id;
    std::string memdev;
    uint64_t addr = 0;            // "memaddr"
    uint64_t region_size = 0;     // the memory backend's size ("max-size")
    uint64_t block_size = 2 * mm::MiB;
    uint64_t requested_size = 0;
    int node = 0;
    bool hotplugged = false;
    std::vector<bool> plugged;    // one bit per device block, as VirtIOMEM::bitmap
    uint64_t nr_plugged = 0;      // set bits in `plugged`

    uint64_t plugged_size() const { return nr_plugged * block_size; }
    // usable_region_size: the part of the region the guest may plug.
    uint64_t usable_region_size() const;
    // Plug or unplug [addr, addr + size) on the guest's request: false (NACK) if
    // the range is outside the usable region or not in the opposite state.
    bool plug_request(uint64_t addr, uint64_t size, bool plug);
};

// The guest's driver instance bound to one device.
class VirtioMemDriver {
public:
    // virtio_mem_probe: the parent resource "virtioN", the dynamic memory group,
    // then the first plug to the requested size.
    static std::optional<VirtioMemDriver> probe(mm::Kernel& k, VirtioMem& dev, int index);

    // virtio_mem_run_wq after a config change, or a retry once memory went
    // online: plug or unplug towards requested-size. A request that arrives
    // while it runs makes it go round once more, as the work queue does.
    void run(mm::Kernel& k, VirtioMem& dev);

    // Which parts of [start, start + n) stay logically offline when onlined.
    static std::vector<std::pair<mm::Pfn, mm::PageCount>> unplugged_ranges(const VirtioMem& dev, mm::Pfn start,
                                                                    mm::PageCount n);

private:
    enum class Class { OfflinePartial, Offline, MovablePartial, KernelPartial, Movable, Kernel };

    void plug(mm::Kernel& k, VirtioMem& dev, uint64_t nb_sb);
    void unplug(mm::Kernel& k, VirtioMem& dev, uint64_t nb_sb);
    uint64_t plugged_sbs(const VirtioMem& dev, uint64_t mb_addr) const;
    std::optional<Class> class_of(const mm::Kernel& k, const VirtioMem& dev, uint64_t mb_addr) const;

    std::string m_resource;     // "virtioN"
    int m_group = -1;
    uint64_t m_unit_size = 0;   // what is added and removed at a time: a memory block, or a big block
    uint64_t m_sb_size = 0;     // what is plugged at a time: max(device block, pageblock), or the big block
    uint64_t m_first_mb = 0;    // first unit address in the region
    uint64_t m_last_mb = 0;     // one past the last
    std::set<uint64_t> m_added;  // units added to Linux (addresses)
    bool m_running = false, m_again = false;
};

}  // namespace memplug::machine
