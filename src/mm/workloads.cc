// What runs in the guest besides hotplug: processes, files in the tmpfs root
// and the hugetlb pools, as the kernel's allocations see them.
#include "mm/kernel.h"

namespace memplug::mm {

void Kernel::process_exited()
{
    // Calibrated on 6.1: a block onlined into an empty Normal zone offlines right
    // away and after one forked command, but no longer after ten.
    const NodeId nid = 0;
    ZoneType preferred = ZoneType::DMA;
    for (ZoneType z : {ZoneType::DMA32, ZoneType::Normal})
        if (node_data(nid).zone(z).populated_zone()) preferred = z;
    if (preferred != m_preferred_kernel_zone) {
        m_preferred_kernel_zone = preferred;
        m_processes = 0;
    }
    if (++m_processes % processes_per_kernel_page) return;
    (void)m_pa.alloc_pages(nid, GFP_KERNEL, PageCount(1), PageState::Unmovable);
}

NodeId Kernel::shell_node() const
{
    for (const PgData& p : m_pa.nodes())
        if (size_t(p.node_id) < m_pa.nr_node_cpu_lists()) {
            const std::vector<int>& cpus = m_pa.node_cpus(p.node_id);
            if (std::find(cpus.begin(), cpus.end(), 0) != cpus.end()) return p.node_id;
        }
    return 0;
}

KResult<uint64_t> Kernel::shmem_write(InodeId ino, uint64_t offset, std::string_view data)
{
    auto r = m_shmem.write(m_pa, shell_node(), ino, offset, data);
    m_pa.init_per_zone_wmark_min();
    return r;
}

void Kernel::shmem_truncate(InodeId ino, uint64_t size)
{
    m_shmem.truncate(m_pa, ino, size);
}

void Kernel::shmem_unlink(InodeId ino)
{
    m_shmem.unlink(m_pa, ino);
}

void Kernel::set_nr_hugepages(Hugetlb::HstateIdx h, uint64_t count, std::optional<NodeId> node)
{
    m_hugetlb.set_max_huge_pages(m_pa, m_shmem, h, count, node);
}

KResult<Kernel::AllocId> Kernel::pin_kernel_memory(NodeId nid, PageCount n)
{
    PageRanges got;
    MP_TRY(m_pa.alloc_pages(nid, GFP_KERNEL, n, PageState::Unmovable, &got));
    m_pa.init_per_zone_wmark_min();
    m_pinned.emplace(m_next_alloc, std::move(got));
    return m_next_alloc++;
}

KResult<Kernel::AllocId> Kernel::alloc_anon_memory(NodeId nid, PageCount n)
{
    if (m_pa.allocatable_pages(nid, GFP_HIGHUSER_MOVABLE) < n) return kerr(ENOMEM, "page allocation failure");
    // Anonymous memory is swap-backed and migrates like tmpfs: an unnamed inode
    // outside the mount's size limit.
    const InodeId ino = m_shmem.create();
    PageRanges got;
    (void)m_pa.alloc_pages(nid, GFP_HIGHUSER_MOVABLE, n, PageState::Movable, &got);
    m_shmem.adopt(ino, got);
    m_pa.init_per_zone_wmark_min();
    m_anon.emplace(m_next_alloc, ino);
    return m_next_alloc++;
}

void Kernel::free_workload(AllocId id)
{
    if (auto it = m_pinned.find(id); it != m_pinned.end()) {
        for (const auto& [b, len] : it->second) m_pa.free_pages(b, len);
        m_pinned.erase(it);
    } else if (auto a = m_anon.find(id); a != m_anon.end()) {
        m_shmem.unlink(m_pa, a->second);
        m_anon.erase(a);
    }
    m_pa.init_per_zone_wmark_min();
}

PageCount Kernel::anon_pages() const
{
    PageCount n;
    for (const auto& [id, ino] : m_anon) n += m_shmem.nr_pages(ino);
    return n;
}

}  // namespace memplug::mm
