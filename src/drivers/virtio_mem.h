// The guest's virtio-mem driver (Linux 6.1 drivers/virtio/virtio_mem.c): units
// (memory blocks in Sub Block Mode, big blocks in Big Block Mode) added as
// driver-managed memory in one dynamic memory group; in SBM subblocks are
// plugged within a unit and the unplugged ones kept logically offline. It
// sees the device only through its config space and plug/unplug requests.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mm/kernel.h"

namespace memplug::drivers {

// What the driver reads from and asks of the device.
class VirtioMemDevice {
public:
    virtual uint64_t addr() const = 0;
    virtual uint64_t region_size() const = 0;
    virtual uint64_t block_size() const = 0;
    virtual uint64_t requested_size() const = 0;
    virtual uint64_t plugged_size() const = 0;
    virtual int node() const = 0;
    // VIRTIO_MEM_REQ_STATE for the device block at `addr`.
    virtual bool block_plugged(uint64_t addr) const = 0;
    // VIRTIO_MEM_REQ_PLUG / _UNPLUG: false when the device NACKs.
    virtual bool plug_request(uint64_t addr, uint64_t size, bool plug) = 0;
    // Reset on probe (a rebooted guest finds memory still plugged: VIRTIO_MEM_REQ_UNPLUG_ALL).
    virtual void unplug_all() = 0;

protected:
    ~VirtioMemDevice() = default;
};

// /sys/module/virtio_mem/parameters.
struct VirtioMemParams {
    bool unplug_online = true;     // 0644
    bool force_bbm = false;        // 0444
    uint64_t bbm_block_size = 0;   // 0444
    bool bbm_safe_unplug = true;   // 0444
};

// The driver instance bound to one device.
class VirtioMemDriver {
public:
    // virtio_mem_probe: the parent resource "virtioN" and the dynamic memory
    // group; the module then runs the first plug to the requested size.
    static std::optional<VirtioMemDriver> probe(mm::Kernel& k, const VirtioMemParams& p, VirtioMemDevice& dev,
                                                int index);

    // virtio_mem_run_wq after a config change, or a retry once memory went
    // online: plug or unplug towards requested-size. A request that arrives
    // while it runs makes it go round once more, as the work queue does.
    void run(mm::Kernel& k, const VirtioMemParams& p);

    // Which parts of [start, start + n) stay logically offline when onlined.
    std::vector<std::pair<mm::Pfn, mm::PageCount>> unplugged_ranges(mm::Pfn start, mm::PageCount n) const;

    VirtioMemDevice& device() const { return *m_dev; }
    int index() const { return m_index; }
    // What it adds and removes at a time, what it plugs at a time, and the units it added.
    uint64_t unit_size() const { return m_unit_size; }
    uint64_t subblock_size() const { return m_sb_size; }
    const std::set<uint64_t>& added_units() const { return m_added; }
    // The device's name in the kernel log: "virtio_mem virtioN".
    std::string dev_name() const { return "virtio_mem virtio" + std::to_string(m_index); }
    // virtio_mem_refresh_config: what a config change (and the probe) logs.
    void refresh_config(mm::Kernel& k) const;
    // The units in the order an unplug visits them: offline before online, Movable
    // before kernel memory, partly plugged before full, highest first. A unit's
    // class only changes while it is visited, and then to one already passed.
    std::vector<uint64_t> unplug_order(const mm::Kernel& k) const;

    // What run() would plug towards `requested` now, as plug() goes: partly plugged
    // units first, then new units ascending, each added with its memmap from
    // kernel memory and onlined per the kernel's default. `reached` is the size
    // plugged when it stops; `err`/`reason` say why it stops short (0: served).
    struct PlugForecast {
        uint64_t reached = 0;
        int err = 0;
        std::string reason;
        uint64_t units_added = 0;
        mm::PageCount memmap_pages;   // taken from kernel memory on the way
        mm::PageCount kernel_free;    // what GFP_KERNEL allocations could get afterwards
    };
    PlugForecast plug_forecast(const mm::Kernel& k, uint64_t requested) const;

private:
    friend class VirtioMemModule;  // fork() binds a copy to the device's copy
    enum class Class { OfflinePartial, Offline, MovablePartial, KernelPartial, Movable, Kernel };

    void plug(mm::Kernel& k, uint64_t nb_sb);
    void unplug(mm::Kernel& k, const VirtioMemParams& p, uint64_t nb_sb);
    uint64_t plugged_sbs(uint64_t mb_addr) const;
    std::optional<Class> class_of(const mm::Kernel& k, uint64_t mb_addr) const;

    VirtioMemDevice* m_dev = nullptr;
    int m_index = -1;           // N of virtioN
    int m_group = -1;
    uint64_t m_unit_size = 0;   // what is added and removed at a time: a memory block, or a big block
    uint64_t m_sb_size = 0;     // what is plugged at a time: max(device block, pageblock), or the big block
    uint64_t m_first_mb = 0;    // first unit address in the region
    uint64_t m_last_mb = 0;     // one past the last
    std::set<uint64_t> m_added;  // units added to Linux (addresses)
    bool m_running = false, m_again = false;
};

// The module: its parameters, its bound devices, and the callbacks it hooks
// into the kernel (the online-page callback keeps unplugged subblocks
// offline; the memory notifier retries a stalled plug once memory went online).
class VirtioMemModule {
public:
    explicit VirtioMemModule(mm::Kernel& k);
    VirtioMemModule(const VirtioMemModule&) = delete;
    VirtioMemModule& operator=(const VirtioMemModule&) = delete;
    // The same module over a forked kernel `k` (its callbacks hooked in there),
    // each driver bound to its device's copy.
    std::unique_ptr<VirtioMemModule> fork(mm::Kernel& k,
                                          const std::function<VirtioMemDevice&(const VirtioMemDevice&)>& copy_of) const;

    VirtioMemParams& params() { return m_params; }
    const VirtioMemParams& params() const { return m_params; }
    const VirtioMemDriver* driver_of(const VirtioMemDevice& dev) const;
    // The device appeared (boot or hot-plug): bind a driver if probe succeeds.
    void probe(VirtioMemDevice& dev);
    // The config-change interrupt.
    void config_changed(VirtioMemDevice& dev);

private:
    VirtioMemDriver* driver_of(const VirtioMemDevice& dev);

    mm::Kernel& m_kernel;
    VirtioMemParams m_params;
    std::deque<VirtioMemDriver> m_drivers;  // stable addresses
};

}  // namespace memplug::drivers
