#include "drivers/virtio_mem.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace memplug::drivers {

using mm::GiB;
using mm::MiB;
using mm::PageCount;
using mm::Pfn;


std::optional<VirtioMemDriver> VirtioMemDriver::probe(mm::Kernel& k, const VirtioMemParams& p, VirtioMemDevice& dev,
                                                       int index)
{
    VirtioMemDriver d;
    d.m_dev = &dev;
    d.m_index = index;
    // Sub Block Mode while a device block is smaller than a memory block; Big
    // Block Mode otherwise: whole big blocks (one or more memory blocks) at a time.
    const uint64_t mb_size = k.memory_block_size_bytes();
    const uint64_t sb_size = std::max<uint64_t>(dev.block_size(), mm::pageblock_nr_pages << mm::PAGE_SHIFT);
    const bool bbm = sb_size >= mb_size || p.force_bbm;
    d.m_unit_size = bbm ? std::max({dev.block_size(), mb_size, p.bbm_block_size}) : mb_size;
    d.m_sb_size = bbm ? d.m_unit_size : sb_size;
    d.m_first_mb = mm::align_up(dev.addr(), d.m_unit_size);
    d.m_last_mb = mm::align_down(dev.addr() + dev.region_size(), d.m_unit_size);
    // virtio_mem_init and virtio_mem_init_hotplug say what they found.
    const std::string name = d.dev_name();
    k.log().pr_info(fmt::format("{}: start address: {:#x}", name, dev.addr()));
    k.log().pr_info(fmt::format("{}: region size: {:#x}", name, dev.region_size()));
    k.log().pr_info(fmt::format("{}: device block size: {:#x}", name, dev.block_size()));
    k.log().pr_info(fmt::format("{}: nid: {}", name, dev.node()));
    k.log().pr_info(fmt::format("{}: memory block size: {:#x}", name, mb_size));
    k.log().pr_info(fmt::format("{}: {} size: {:#x}", name, bbm ? "big block" : "subblock", d.m_sb_size));
    if (!k.request_mem_region(dev.addr(), dev.region_size(), "virtio" + std::to_string(index))) {
        k.log().pr_warn(name + ": could not reserve device region");
        k.log().pr_info(name + ": reloading the driver is not supported");
        return std::nullopt;  // EBUSY: probe fails
    }
    d.m_group = k.memory_group_register_dynamic(dev.node(), PageCount::from_bytes(d.m_unit_size));
    // Memory still plugged from before (a guest reboot): unplug it all first.
    if (dev.plugged_size()) k.log().pr_info(name + ": unplugging all memory is required");
    dev.unplug_all();
    return d;
}

void VirtioMemDriver::refresh_config(mm::Kernel& k) const
{
    k.log().pr_info(fmt::format("{}: plugged size: {:#x}", dev_name(), m_dev->plugged_size()));
    k.log().pr_info(fmt::format("{}: requested size: {:#x}", dev_name(), m_dev->requested_size()));
}

uint64_t VirtioMemDriver::plugged_sbs(uint64_t mb_addr) const
{
    uint64_t n = 0;
    const uint64_t bs = m_dev->block_size();
    for (uint64_t sb = mb_addr; sb < mb_addr + m_unit_size; sb += m_sb_size) {
        bool all = true;
        for (uint64_t a = sb; a < sb + m_sb_size && all; a += bs) all = m_dev->block_plugged(a);
        n += all;
    }
    return n;
}

std::optional<VirtioMemDriver::Class> VirtioMemDriver::class_of(const mm::Kernel& k, uint64_t mb_addr) const
{
    const mm::MemoryBlock* mem = k.find_memory_block(mm::BlockId(mb_addr / k.memory_block_size_bytes()));
    if (!mem) return std::nullopt;
    const bool partial = plugged_sbs(mb_addr) < m_unit_size / m_sb_size;
    if (mem->state == mm::MemState::Offline) return partial ? Class::OfflinePartial : Class::Offline;
    if (mem->zone == mm::ZoneType::Movable) return partial ? Class::MovablePartial : Class::Movable;
    return partial ? Class::KernelPartial : Class::Kernel;
}

std::vector<std::pair<Pfn, PageCount>> VirtioMemDriver::unplugged_ranges(Pfn start, PageCount n) const
{
    std::vector<std::pair<Pfn, PageCount>> out;
    const VirtioMemDevice& dev = *m_dev;
    const uint64_t bs = dev.block_size();
    const uint64_t begin = std::max(start.phys(), dev.addr()), end = std::min((start + n).phys(), dev.addr() + dev.region_size());
    for (uint64_t a = begin; a < end; a += bs)
        if (!dev.block_plugged(a)) {
            if (!out.empty() && (out.back().first + out.back().second).phys() == a)
                out.back().second += PageCount::from_bytes(bs);
            else
                out.emplace_back(Pfn::from_phys(a), PageCount::from_bytes(bs));
        }
    return out;
}

void VirtioMemDriver::run(mm::Kernel& k, const VirtioMemParams& p)
{
    if (m_running) {
        m_again = true;
        return;
    }
    m_running = true;
    do {
        m_again = false;
        const uint64_t plugged = m_dev->plugged_size(), requested = m_dev->requested_size();
        if (requested > plugged) plug(k, (requested - plugged) / m_sb_size);
        if (requested < plugged) unplug(k, p, (plugged - requested + m_sb_size - 1) / m_sb_size);
    } while (m_again);
    m_running = false;
}

void VirtioMemDriver::plug(mm::Kernel& k, uint64_t nb_sb)
{
    VirtioMemDevice& dev = *m_dev;
    const uint64_t mb_size = m_unit_size, sbs_per_mb = mb_size / m_sb_size;
    // Partly plugged blocks first, lowest subblocks first.
    for (uint64_t mb : m_added) {
        for (uint64_t sb = mb; sb < mb + mb_size && nb_sb; sb += m_sb_size) {
            if (dev.block_plugged(sb)) continue;
            if (!dev.plug_request(sb, m_sb_size, true)) return;
            k.fake_online_pages(Pfn::from_phys(sb), PageCount::from_bytes(m_sb_size));
            --nb_sb;
        }
    }
    // Then new blocks, ascending. With onlining left to user space the driver
    // stops once max(2 blocks, 1 GiB) sit offline (ENOSPC until they go online).
    const uint64_t offline_threshold = std::max(2 * k.memory_block_size_bytes(), uint64_t(1024) * MiB);
    uint64_t offline_bytes = 0;
    for (uint64_t a : m_added)
        if (const auto c = class_of(k, a); c == Class::Offline || c == Class::OfflinePartial) offline_bytes += mb_size;
    for (uint64_t mb = m_first_mb; mb < m_last_mb && nb_sb; mb += mb_size) {
        if (m_added.count(mb)) continue;
        if (offline_bytes >= offline_threshold) return;
        const uint64_t n = std::min(nb_sb, sbs_per_mb);
        if (!dev.plug_request(mb, n * m_sb_size, true)) return;
        auto r = k.add_memory(m_group, mb, mb_size, mm::MHP_MERGE_RESOURCE | mm::MHP_NID_IS_MGID,
                              "System RAM (virtio_mem)");
        if (!r) {
            k.log().pr_warn(fmt::format("{}: adding memory failed: {}", dev_name(), -r.error().err));
            // -ENOMEM and friends: give the memory back and retry later (never, here).
            dev.plug_request(mb, n * m_sb_size, false);
            return;
        }
        m_added.insert(mb);
        if (const auto c = class_of(k, mb); c == Class::Offline || c == Class::OfflinePartial) offline_bytes += mb_size;
        nb_sb -= n;
    }
}

// Offline memory first, then Movable before kernel memory; partly plugged
// blocks before full ones; the highest block first.
std::vector<uint64_t> VirtioMemDriver::unplug_order(const mm::Kernel& k) const
{
    std::vector<uint64_t> order;
    for (Class cls : {Class::OfflinePartial, Class::Offline, Class::MovablePartial, Class::KernelPartial,
                      Class::Movable, Class::Kernel})
        for (auto it = m_added.rbegin(); it != m_added.rend(); ++it)
            if (class_of(k, *it) == cls) order.push_back(*it);
    return order;
}

namespace {

// Kernel memory as a forecast spends it: each zone's free pages and the
// watermarks init_per_zone_wmark_min() recomputes after every online.
class KernelMemoryForecast {
public:
    explicit KernelMemoryForecast(const mm::Kernel& k) : m_zones(k.page_alloc().zone_wmarks())
    {
        for (const auto& z : m_zones) m_free.push_back(k.nodes()[size_t(z.nid)].zone(z.type).nr_free_pages.value());
    }
    // What a GFP_KERNEL allocation could get (allocatable_pages), as add_memory's memmap check reads it.
    mm::PageCount room() const
    {
        uint64_t r = 0;
        for (size_t i = 0; i < m_zones.size(); ++i) r += zone_room(i);
        return mm::PageCount(r);
    }
    // A GFP_KERNEL allocation on `nid`: its node's kernel zones from Normal down, then the other nodes'.
    void take(mm::NodeId nid, mm::PageCount n)
    {
        uint64_t left = n.value();
        for (int pass = 0; pass < 2 && left; ++pass)
            for (size_t i = m_zones.size(); i-- > 0 && left;) {
                if (!kernel_zone(i) || (m_zones[i].nid == nid) != (pass == 0)) continue;
                const uint64_t got = std::min(left, zone_room(i));
                m_free[i] -= got;
                left -= got;
            }
    }
    void online(mm::NodeId nid, mm::ZoneType zone, mm::PageCount n)
    {
        for (size_t i = 0; i < m_zones.size(); ++i)
            if (m_zones[i].nid == nid && m_zones[i].type == zone) {
                m_zones[i].managed += n.value();
                m_zones[i].populated = true;
                if (kernel_zone(i)) m_free[i] += n.value();
            }
        mm::PageAllocator::setup_watermarks(m_zones);
    }

private:
    // zone_room for GFP_KERNEL: free pages above the min watermark and the lowmem_reserve against Normal.
    uint64_t zone_room(size_t i) const
    {
        const auto& z = m_zones[i];
        const uint64_t reserve = z.watermark[mm::WMARK_MIN] + z.lowmem_reserve[size_t(mm::zone_idx(mm::ZoneType::Normal))];
        return kernel_zone(i) && z.populated && m_free[i] > reserve ? m_free[i] - reserve : 0;
    }
    bool kernel_zone(size_t i) const
    {
        const mm::ZoneType t = m_zones[i].type;
        return t == mm::ZoneType::Normal || t == mm::ZoneType::DMA32 || t == mm::ZoneType::DMA;
    }
    std::vector<mm::PageAllocator::ZoneWmarks> m_zones;
    std::vector<uint64_t> m_free;
};

}  // namespace

VirtioMemDriver::PlugForecast VirtioMemDriver::plug_forecast(const mm::Kernel& k, uint64_t requested) const
{
    const VirtioMemDevice& dev = *m_dev;
    PlugForecast f;
    KernelMemoryForecast mem(k);
    f.reached = dev.plugged_size();
    f.kernel_free = mem.room();
    if (requested <= f.reached) {
        f.reached = requested;
        return f;
    }
    uint64_t nb_sb = (requested - f.reached) / m_sb_size;
    for (uint64_t mb : m_added)
        for (uint64_t sb = mb; sb < mb + m_unit_size && nb_sb; sb += m_sb_size)
            if (!dev.block_plugged(sb)) {
                f.reached += m_sb_size;
                --nb_sb;
            }
    const uint64_t offline_threshold = std::max(2 * k.memory_block_size_bytes(), uint64_t(1024) * MiB);
    uint64_t offline_bytes = 0;
    for (uint64_t a : m_added)
        if (const auto c = class_of(k, a); c == Class::Offline || c == Class::OfflinePartial) offline_bytes += m_unit_size;
    const mm::MemoryGroup* g = k.memory_group(m_group);
    const mm::NodeId nid = g ? g->nid : 0;
    const mm::MmopType online_type = k.params().mhp_default_online_type;
    uint64_t kernfs_objs = 0;
    mm::Kernel::PendingOnline pending;
    for (uint64_t mb = m_first_mb; mb < m_last_mb && nb_sb; mb += m_unit_size) {
        if (m_added.count(mb)) continue;
        if (offline_bytes >= offline_threshold) {
            f.err = ENOSPC;
            f.reason = fmt::format("{} MiB of added memory is offline: the driver waits for it to be onlined",
                                   offline_bytes / MiB);
            break;
        }
        // add_memory's own checks; its memmap check against the room this forecast has left.
        auto t = k.test_add_memory(nid, mb, m_unit_size, mm::MHP_NID_IS_MGID);
        if (!t && t.error().err != ENOMEM) {
            f.err = t.error().err;
            f.reason = t.error().reason;
            break;
        }
        const mm::PageCount need = mm::Kernel::memmap_pages(m_unit_size);
        if (mem.room() < need) {
            f.err = ENOMEM;
            f.reason = "add_memory: no memory for the memmap";
            break;
        }
        mem.take(nid, need);
        f.memmap_pages += need;
        // Each block's sysfs directory (kernfs nodes) comes from slab.
        const uint64_t objs = mm::Kernel::k_kernfs_nodes_per_memory_block * (m_unit_size / k.memory_block_size_bytes());
        mem.take(nid, k.kmem_cache_pages(mm::Kernel::SlabCache::KernfsNodeCache, objs, kernfs_objs));
        kernfs_objs += objs;
        const uint64_t n = std::min(nb_sb, m_unit_size / m_sb_size);
        if (online_type == mm::MmopType::Offline) {
            offline_bytes += m_unit_size;
        } else {
            const mm::ZoneType zone = k.zone_for_pfn_range(online_type, nid, m_group, mm::Pfn::from_phys(mb),
                                                           mm::PageCount::from_bytes(m_unit_size), pending);
            const mm::PageCount onlined = mm::PageCount::from_bytes(n * m_sb_size);
            (zone == mm::ZoneType::Movable ? pending.movable : pending.kernel) += onlined;
            mem.online(nid, zone, onlined);
        }
        f.reached += n * m_sb_size;
        ++f.units_added;
        nb_sb -= n;
    }
    if (nb_sb && !f.err) {
        f.err = ENOSPC;
        f.reason = "the device's region is fully plugged";
    }
    f.kernel_free = mem.room();
    return f;
}

void VirtioMemDriver::unplug(mm::Kernel& k, const VirtioMemParams& p, uint64_t nb_sb)
{
    VirtioMemDevice& dev = *m_dev;
    const uint64_t mb_size = m_unit_size;
    auto remove_block = [&](uint64_t mb, bool online) {
        if (online ? k.offline_and_remove_memory(mb, mb_size) : k.remove_memory(mb, mb_size))
            m_added.erase(mb);
    };
    for (uint64_t mb : unplug_order(k)) {
        if (!nb_sb) return;
        const Class cls = *class_of(k, mb);
        const bool online = cls != Class::Offline && cls != Class::OfflinePartial;
        if (online && !p.unplug_online) return;
        const uint64_t plugged = plugged_sbs(mb);
        // virtio_mem_fake_offline: ENOMEM (alloc_contig_range found no memory to
        // migrate to, or no fresh huge page) ends the whole request; EBUSY only
        // skips this range.
        auto fake_offline = [&](uint64_t addr, uint64_t size) -> std::optional<bool> {
            auto r = k.fake_offline_pages(Pfn::from_phys(addr), PageCount::from_bytes(size));
            if (!r && r.error().err == ENOMEM) return std::nullopt;
            return r.has_value();
        };
        // A whole block goes in one alloc_contig_range when the request covers it.
        std::optional<bool> whole = false;
        if (online && nb_sb >= plugged) whole = fake_offline(mb, mb_size);
        if (!whole) return;
        if (*whole) {
            if (plugged == mb_size / m_sb_size) {
                dev.plug_request(mb, mb_size, false);  // one request for the whole block
            } else {
                for (uint64_t sb = mb; sb < mb + mb_size; sb += m_sb_size)
                    if (dev.block_plugged(sb)) dev.plug_request(sb, m_sb_size, false);
            }
            nb_sb -= plugged;
            remove_block(mb, true);
            continue;
        }
        for (uint64_t sb = mb + mb_size - m_sb_size;; sb -= m_sb_size) {
            if (dev.block_plugged(sb)) {
                const std::optional<bool> done = fake_offline(sb, m_sb_size);
                if (!done) return;
                if (*done) {
                    dev.plug_request(sb, m_sb_size, false);
                    --nb_sb;
                }
            }
            if (!nb_sb || sb == mb) break;
        }
        if (!plugged_sbs(mb)) remove_block(mb, online);
    }
}

VirtioMemModule::VirtioMemModule(mm::Kernel& k) : m_kernel(k)
{
    // The online-page callback: unplugged subblocks stay logically offline. The
    // device's own bitmap decides, also while a driver is still probing (a
    // cold-plugged device plugs and onlines its first blocks from probe).
    k.set_online_page_callback([this](Pfn start, PageCount n) {
        std::vector<std::pair<Pfn, PageCount>> out;
        for (const VirtioMemDriver& d : m_drivers) {
            auto r = d.unplugged_ranges(start, n);
            out.insert(out.end(), r.begin(), r.end());
        }
        return out;
    });
    // virtio_mem_memory_notifier_cb: memory that went online may let a stalled plug go on.
    k.register_memory_notifier([this](mm::Kernel::MemoryEvent e, mm::BlockId) {
        if (e != mm::Kernel::MemoryEvent::Online) return;
        for (VirtioMemDriver& d : m_drivers)
            if (d.device().plugged_size() != d.device().requested_size()) d.run(m_kernel, m_params);
    });
}

std::unique_ptr<VirtioMemModule> VirtioMemModule::fork(
    mm::Kernel& k, const std::function<VirtioMemDevice&(const VirtioMemDevice&)>& copy_of) const
{
    auto f = std::make_unique<VirtioMemModule>(k);
    f->m_params = m_params;
    for (const VirtioMemDriver& d : m_drivers) {
        f->m_drivers.push_back(d);
        f->m_drivers.back().m_dev = &copy_of(*d.m_dev);
    }
    return f;
}

const VirtioMemDriver* VirtioMemModule::driver_of(const VirtioMemDevice& dev) const
{
    auto it = std::find_if(m_drivers.begin(), m_drivers.end(), [&](const VirtioMemDriver& d) { return &d.device() == &dev; });
    return it == m_drivers.end() ? nullptr : &*it;
}

VirtioMemDriver* VirtioMemModule::driver_of(const VirtioMemDevice& dev)
{
    return const_cast<VirtioMemDriver*>(std::as_const(*this).driver_of(dev));
}

void VirtioMemModule::probe(VirtioMemDevice& dev)
{
    // virtio device indexes: the lowest free, over the bound drivers.
    int index = 0;
    while (std::any_of(m_drivers.begin(), m_drivers.end(), [&](const VirtioMemDriver& d) { return d.index() == index; }))
        ++index;
    auto d = VirtioMemDriver::probe(m_kernel, m_params, dev, index);
    if (!d) return;
    // Bound before the first plug, so that the online-page callback sees it.
    m_drivers.push_back(std::move(*d));
    m_drivers.back().refresh_config(m_kernel);
    m_drivers.back().run(m_kernel, m_params);
}

void VirtioMemModule::config_changed(VirtioMemDevice& dev)
{
    if (VirtioMemDriver* d = driver_of(dev)) {
        d->refresh_config(m_kernel);
        d->run(m_kernel, m_params);
    }
}

}  // namespace memplug::drivers
