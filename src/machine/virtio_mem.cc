#include "machine/virtio_mem.h"

#include <algorithm>

namespace memplug::machine {

using mm::MiB;
using mm::PageCount;
using mm::Pfn;

uint64_t VirtioMem::usable_region_size() const
{
    // QEMU grows it with requests (requested + 256 MiB, block-aligned), never past the region.
    if (!requested_size) return 0;
    return std::min(region_size, mm::align_up(requested_size + 256 * MiB, block_size));
}

bool VirtioMem::plug_request(uint64_t start, uint64_t size, bool plug)
{
    // virtio_mem_valid_range + virtio_mem_test_bitmap: aligned, inside, all in the other state.
    if (start < addr || start % block_size || size % block_size || !size) return false;
    if (start + size > addr + (plug ? usable_region_size() : region_size)) return false;
    const uint64_t first = (start - addr) / block_size, n = size / block_size;
    for (uint64_t i = first; i < first + n; ++i)
        if (plugged[i] == plug) return false;
    std::fill(plugged.begin() + long(first), plugged.begin() + long(first + n), plug);
    nr_plugged = plug ? nr_plugged + n : nr_plugged - n;
    return true;
}

// ---------------------------------------------------------------- the guest driver

std::optional<VirtioMemDriver> VirtioMemDriver::probe(mm::Kernel& k, VirtioMem& dev, int index)
{
    VirtioMemDriver d;
    // Sub Block Mode while a device block is smaller than a memory block; Big
    // Block Mode otherwise: whole big blocks (one or more memory blocks) at a time.
    const uint64_t mb_size = k.memory_block_size_bytes();
    const uint64_t sb_size = std::max<uint64_t>(dev.block_size, mm::pageblock_nr_pages << mm::PAGE_SHIFT);
    const bool bbm = sb_size >= mb_size || k.virtio_mem_params().force_bbm;
    d.m_unit_size = bbm ? std::max({dev.block_size, mb_size, k.virtio_mem_params().bbm_block_size}) : mb_size;
    d.m_sb_size = bbm ? d.m_unit_size : sb_size;
    d.m_first_mb = mm::align_up(dev.addr, d.m_unit_size);
    d.m_last_mb = mm::align_down(dev.addr + dev.region_size, d.m_unit_size);
    d.m_resource = "virtio" + std::to_string(index);
    if (!k.request_mem_region(dev.addr, dev.region_size, d.m_resource)) return std::nullopt;  // EBUSY: probe fails
    d.m_group = k.memory_group_register_dynamic(dev.node, PageCount::from_bytes(d.m_unit_size));
    // Memory still plugged from before (a guest reboot): unplug it all first.
    std::fill(dev.plugged.begin(), dev.plugged.end(), false);
    dev.nr_plugged = 0;
    d.run(k, dev);
    return d;
}

uint64_t VirtioMemDriver::plugged_sbs(const VirtioMem& dev, uint64_t mb_addr) const
{
    uint64_t n = 0;
    const uint64_t per_sb = m_sb_size / dev.block_size;
    for (uint64_t sb = mb_addr; sb < mb_addr + m_unit_size; sb += m_sb_size) {
        const uint64_t first = (sb - dev.addr) / dev.block_size;
        if (std::all_of(dev.plugged.begin() + long(first), dev.plugged.begin() + long(first + per_sb),
                        [](bool b) { return b; }))
            ++n;
    }
    return n;
}

std::optional<VirtioMemDriver::Class> VirtioMemDriver::class_of(const mm::Kernel& k, const VirtioMem& dev,
                                                                 uint64_t mb_addr) const
{
    const mm::MemoryBlock* mem = k.find_memory_block(mm::BlockId(mb_addr / k.memory_block_size_bytes()));
    if (!mem) return std::nullopt;
    const bool partial = plugged_sbs(dev, mb_addr) < m_unit_size / m_sb_size;
    if (mem->state == mm::MemState::Offline) return partial ? Class::OfflinePartial : Class::Offline;
    if (mem->zone == mm::ZoneType::Movable) return partial ? Class::MovablePartial : Class::Movable;
    return partial ? Class::KernelPartial : Class::Kernel;
}

std::vector<std::pair<Pfn, PageCount>> VirtioMemDriver::unplugged_ranges(const VirtioMem& dev, Pfn start,
                                                                          PageCount n)
{
    std::vector<std::pair<Pfn, PageCount>> out;
    const uint64_t begin = std::max(start.phys(), dev.addr), end = std::min((start + n).phys(), dev.addr + dev.region_size);
    for (uint64_t a = begin; a < end; a += dev.block_size)
        if (!dev.plugged[(a - dev.addr) / dev.block_size]) {
            if (!out.empty() && (out.back().first + out.back().second).phys() == a)
                out.back().second += PageCount::from_bytes(dev.block_size);
            else
                out.emplace_back(Pfn::from_phys(a), PageCount::from_bytes(dev.block_size));
        }
    return out;
}

void VirtioMemDriver::run(mm::Kernel& k, VirtioMem& dev)
{
    if (m_running) {
        m_again = true;
        return;
    }
    m_running = true;
    do {
        m_again = false;
        const uint64_t plugged = dev.plugged_size(), requested = dev.requested_size;
        if (requested > plugged) plug(k, dev, (requested - plugged) / m_sb_size);
        if (requested < plugged) unplug(k, dev, (plugged - requested + m_sb_size - 1) / m_sb_size);
    } while (m_again);
    m_running = false;
}

void VirtioMemDriver::plug(mm::Kernel& k, VirtioMem& dev, uint64_t nb_sb)
{
    const uint64_t mb_size = m_unit_size, sbs_per_mb = mb_size / m_sb_size;
    // Partly plugged blocks first, lowest subblocks first.
    for (uint64_t mb : m_added) {
        for (uint64_t sb = mb; sb < mb + mb_size && nb_sb; sb += m_sb_size) {
            if (dev.plugged[(sb - dev.addr) / dev.block_size]) continue;
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
        if (const auto c = class_of(k, dev, a); c == Class::Offline || c == Class::OfflinePartial) offline_bytes += mb_size;
    for (uint64_t mb = m_first_mb; mb < m_last_mb && nb_sb; mb += mb_size) {
        if (m_added.count(mb)) continue;
        if (offline_bytes >= offline_threshold) return;
        const uint64_t n = std::min(nb_sb, sbs_per_mb);
        if (!dev.plug_request(mb, n * m_sb_size, true)) return;
        auto r = k.add_memory(m_group, mb, mb_size, mm::MHP_MERGE_RESOURCE | mm::MHP_NID_IS_MGID,
                              "System RAM (virtio_mem)");
        if (!r) {
            // -ENOMEM and friends: give the memory back and retry later (never, here).
            dev.plug_request(mb, n * m_sb_size, false);
            return;
        }
        m_added.insert(mb);
        if (const auto c = class_of(k, dev, mb); c == Class::Offline || c == Class::OfflinePartial) offline_bytes += mb_size;
        nb_sb -= n;
    }
}

void VirtioMemDriver::unplug(mm::Kernel& k, VirtioMem& dev, uint64_t nb_sb)
{
    const uint64_t mb_size = m_unit_size;
    auto remove_block = [&](uint64_t mb, bool online) {
        if (online ? k.offline_and_remove_memory(mb, mb_size) : k.remove_memory(mb, mb_size))
            m_added.erase(mb);
    };
    // Offline memory first, then Movable before kernel memory; partly plugged
    // blocks before full ones; the highest block and subblock first.
    for (Class cls : {Class::OfflinePartial, Class::Offline, Class::MovablePartial, Class::KernelPartial,
                      Class::Movable, Class::Kernel}) {
        const std::vector<uint64_t> blocks(m_added.rbegin(), m_added.rend());
        for (uint64_t mb : blocks) {
            if (!nb_sb) return;
            if (class_of(k, dev, mb) != cls) continue;
            const bool online = cls != Class::Offline && cls != Class::OfflinePartial;
            if (online && !k.virtio_mem_params().unplug_online) return;
            const uint64_t plugged = plugged_sbs(dev, mb);
            // A whole block goes in one alloc_contig_range when the request covers it.
            if (online && nb_sb >= plugged &&
                k.fake_offline_pages(Pfn::from_phys(mb), PageCount::from_bytes(mb_size))) {
                for (uint64_t sb = mb; sb < mb + mb_size; sb += m_sb_size)
                    if (dev.plugged[(sb - dev.addr) / dev.block_size]) dev.plug_request(sb, m_sb_size, false);
                nb_sb -= plugged;
                remove_block(mb, true);
                continue;
            }
            for (uint64_t sb = mb + mb_size - m_sb_size;; sb -= m_sb_size) {
                if (dev.plugged[(sb - dev.addr) / dev.block_size] &&
                    k.fake_offline_pages(Pfn::from_phys(sb), PageCount::from_bytes(m_sb_size))) {
                    dev.plug_request(sb, m_sb_size, false);
                    --nb_sb;
                }
                if (!nb_sb || sb == mb) break;
            }
            if (!plugged_sbs(dev, mb)) remove_block(mb, online);
        }
    }
}

}  // namespace memplug::machine
