// What runs in the guest besides hotplug: processes, files in the tmpfs root
// and the hugetlb pools, as the kernel's allocations see them.
#include "mm/kernel.h"

namespace memplug::mm {

namespace {

// /proc/slabinfo of the recorder's guest (objects per slab, pages per slab) and
// whether the cache is SLAB_RECLAIM_ACCOUNT (its slabs are MIGRATE_RECLAIMABLE).
struct SlabGeometry {
    uint64_t objs_per_slab;
    uint64_t pages_per_slab;
    bool reclaimable;
};
constexpr std::array<SlabGeometry, 6> slab_geometry = {{
    {26, 4, true},   // inode_cache (kernfs inodes: sysfs)
    {24, 4, true},   // proc_inode_cache
    {21, 1, true},   // dentry
    {21, 4, true},   // shmem_inode_cache
    {28, 4, true},   // radix_tree_node (xarray nodes of the page cache)
    {32, 1, false},  // kernfs_node_cache (sysfs directories, attributes and links)
}};

}  // namespace

void Kernel::kmem_cache_alloc(SlabCache cache, uint64_t nr_objects)
{
    const SlabGeometry& g = slab_geometry[size_t(cache)];
    uint64_t& free = m_slab_free[size_t(cache)];
    while (nr_objects) {
        if (!free) {
            // allocate_slab(): GFP_KERNEL (| __GFP_RECLAIMABLE) on the local node.
            const Gfp gfp{ZoneType::Normal, g.reclaimable ? MigrateType::Reclaimable : MigrateType::Unmovable, false};
            if (!m_pa.alloc_pages(shell_node(), gfp, PageCount(g.pages_per_slab), PageState::Unmovable)) return;
            free = g.objs_per_slab;
        }
        const uint64_t n = std::min(free, nr_objects);
        free -= n;
        nr_objects -= n;
    }
}

PageCount Kernel::kmem_cache_pages(SlabCache cache, uint64_t nr_objects, uint64_t after) const
{
    const SlabGeometry& g = slab_geometry[size_t(cache)];
    const uint64_t free = m_slab_free[size_t(cache)];
    auto slabs_for = [&](uint64_t n) { return n <= free ? 0 : (n - free + g.objs_per_slab - 1) / g.objs_per_slab; };
    return PageCount((slabs_for(after + nr_objects) - slabs_for(after)) * g.pages_per_slab);
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

InodeId Kernel::shmem_create()
{
    kmem_cache_alloc(SlabCache::ShmemInodeCache);
    kmem_cache_alloc(SlabCache::Dentry);
    return m_shmem.create();
}

KResult<uint64_t> Kernel::shmem_write(InodeId ino, uint64_t offset, std::string_view data)
{
    // One xarray node per 64 pages of page cache.
    const uint64_t nodes_before = (m_shmem.nr_pages(ino).value() + 63) / 64;
    auto r = m_shmem.write(m_pa, shell_node(), ino, offset, data);
    const uint64_t nodes_after = (m_shmem.nr_pages(ino).value() + 63) / 64;
    if (nodes_after > nodes_before) kmem_cache_alloc(SlabCache::RadixTreeNode, nodes_after - nodes_before);
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
    m_shmem.adopt(ino, got, false);
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

PageCount Kernel::anon_pages(NodeId nid) const
{
    PageCount n;
    for (const auto& [id, ino] : m_anon) n += m_shmem.inode_pages_on_node(m_pa, ino, nid);
    return n;
}

PageCount Kernel::anon_pages() const
{
    PageCount n;
    for (const auto& [id, ino] : m_anon) n += m_shmem.nr_pages(ino);
    return n;
}

}  // namespace memplug::mm
