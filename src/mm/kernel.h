// The guest kernel's memory-management state and the operations of
// mm/memory_hotplug.c, drivers/base/memory.c and mm/page_alloc.c on it.
// No text and no QEMU here: front ends and views call these with values.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "mm/hugetlb.h"
#include "mm/memmap.h"
#include "mm/memory_block.h"
#include "mm/mmzone.h"
#include "mm/page_alloc.h"
#include "mm/printk.h"
#include "mm/resource.h"
#include "mm/result.h"
#include "mm/shmem.h"
#include "mm/types.h"

namespace memplug::mm {

// Boot-time and runtime policy: memhp_default_state=, memory_hotplug.*, movable_node.
struct HotplugParams {
    MmopType mhp_default_online_type = MmopType::Offline;  // Debian: MEMORY_HOTPLUG_DEFAULT_ONLINE unset
    OnlinePolicy online_policy = OnlinePolicy::ContigZones;
    unsigned auto_movable_ratio = 301;
    bool auto_movable_numa_aware = true;
    bool memmap_on_memory = false;  // read-only after boot
    bool movable_node = false;
    // How zone->contiguous is kept (memplug.zone_contiguous=): 6.1's rescan of
    // every pageblock, or the 2026 LKML series' count of pages with an online
    // memmap in the span (seed 000). Neither is visible in /proc; the work is.
    enum class ZoneContiguity { Counter, Rescan };
    ZoneContiguity zone_contiguous = ZoneContiguity::Counter;
};

// The firmware memory map the kernel boots from (e820 on x86).
enum class E820Type : uint8_t { Ram = 1, Reserved = 2, Acpi = 3, Nvs = 4, Unusable = 5 };
struct E820Entry {
    uint64_t addr = 0;
    uint64_t size = 0;
    E820Type type = E820Type::Ram;
};

// A NUMA memory affinity range (SRAT): [start, end) belongs to nid.
struct NumaMemblk {
    uint64_t start = 0;
    uint64_t end = 0;
    NodeId nid = 0;
};

// A resource the firmware and drivers claim besides e820 (PCI windows, ROMs,
// BARs), in claim order. `insert` ones (insert_resource) adopt what they cover;
// the others (__request_region) nest into the non-busy resources they fall in.
struct PlatformResource {
    uint64_t start = 0;
    uint64_t end = 0;  // inclusive
    std::string name;
    bool insert = false;
};

struct BootConfig {
    std::vector<E820Entry> e820;
    std::vector<NumaMemblk> numa;      // empty: everything on node 0
    int nr_node_ids = 1;               // nodes the firmware declares, memory or not
    std::vector<std::vector<int>> node_cpus;  // cpus per node (for pagesets)
    int nr_cpus = 1;
    HotplugParams params;
    uint64_t kernelcore_bytes = 0;     // kernelcore= (0: unset)
    uint64_t movablecore_bytes = 0;    // movablecore=
    std::vector<PlatformResource> platform_resources;
    uint64_t hotplug_region_end = 0;   // end of the device-memory region (max_possible_pfn)
    std::string command_line;          // what the boot loader passed (QEMU's -append)
};

// Work the model does that the kernel would do too, for the seed-000 numbers.
// Event counters of /proc/vmstat that the model's operations raise; the others
// (page faults, reclaim, compaction) count what a guest's processes do.
struct VmEvents {
    uint64_t drop_pagecache = 0;  // DROP_PAGECACHE: writes of 1 or 3 to drop_caches
    uint64_t drop_slab = 0;       // DROP_SLAB: writes of 2 or 3
};

struct WorkCounters {
    uint64_t contiguity_checks = 0;
    uint64_t contiguity_sections_scanned = 0;
    uint64_t pages_onlined = 0;
    uint64_t pages_offlined = 0;
    uint64_t pages_migrated = 0;
    uint64_t huge_pages_dissolved = 0;
};

// lib/notifier-error-inject.c with mm's memory notifier (the module
// memory-notifier-error-inject): a negative errno a memory notifier returns for
// MEM_GOING_ONLINE or MEM_GOING_OFFLINE, 0 for none.
struct MemoryNotifierErrorInject {
    int going_online = 0;
    int going_offline = 0;
};

// Add-memory flags (include/linux/memory_hotplug.h: mhp_t).
// Who holds a page that keeps a range from going offline (the reports' "why").
struct PageOwner {
    enum class Kind : uint8_t {
        None,          // a free, offline or hole page
        BootReserved,  // memblock at boot (the kernel image, early allocations)
        Memmap,        // the memmap of hot-added section `id` (kernel memory)
        SelfHostedMemmap,  // memmap_on_memory: the block's own memmap (vmemmap)
        Pinned,        // a (memplug) pin allocation, `id`
        Kernel,        // other kernel allocations (slab, page tables)
        Shmem,         // tmpfs or anonymous pages of inode `id` (movable)
        HugeTlb,       // a page of a free huge page in a pool
        HwPoison,      // poisoned by memory_failure or soft_offline_page
    };
    Kind kind = Kind::None;
    uint64_t id = 0;
};

// What offlining [start, start + nr) of one zone would do now, without doing
// it: the checks of offline_pages() in their order. offline_pages() runs this
// first and acts only when it passes, so a prediction cannot disagree with the
// operation on a check.
struct OfflineTest {
    int err = 0;  // 0: it would succeed; otherwise the errno the kernel returns
    std::string reason;            // offline_pages()'s reason string, the kernel's words
    std::string note;              // memplug's addition to them, or empty
    bool misaligned = false;       // refused before failed_removal (a WARN, no reason logged)
    bool isolation_failed = false; // has_unmovable_pages refused `culprit` (and dumps it)
    std::optional<Pfn> culprit;    // the first page that refuses
    PageInfo culprit_page;
    PageCount migrate_pages;       // movable pages do_migrate_range would move
    NodeId target = NUMA_NO_NODE;  // the node migration allocates from first
    NodeId not_node = NUMA_NO_NODE;
    std::vector<PageAllocator::ZoneShare> destination;  // where the moved pages would land
    PageCount dissolved;           // pages of free huge pages that would be dissolved
    uint64_t replaced_huge_pages = 0;  // alloc_contig_range: free 2 MiB pages a fresh one replaces
    // The reason with memplug's note, as offline_pages() returns it.
    std::string why() const { return note.empty() ? reason : reason + " (" + note + ")"; }
};

enum MhpFlags : unsigned {
    MHP_NONE = 0,
    MHP_MERGE_RESOURCE = 1u << 0,
    MHP_MEMMAP_ON_MEMORY = 1u << 1,
    MHP_NID_IS_MGID = 1u << 2,
};

class Kernel {
public:
    static KResult<Kernel> boot(const BootConfig& cfg);
    // A plain copy would share the drivers' callbacks (online page callback,
    // notifiers); fork() copies the state without them, for the drivers of a
    // forked machine to hook in again.
    Kernel fork() const;
    Kernel& operator=(const Kernel&) = delete;
    Kernel(Kernel&&) = default;
    Kernel& operator=(Kernel&&) = default;

    // --- queries ---
    uint64_t memory_block_size_bytes() const { return m_block_size; }
    PageCount pages_per_block() const { return PageCount::from_bytes(m_block_size); }
    const std::map<BlockId, MemoryBlock>& memory_blocks() const { return m_blocks; }
    const MemoryBlock* find_memory_block(BlockId id) const;
    const MemoryGroup* memory_group(int id) const;
    const std::vector<PgData>& nodes() const { return m_pa.nodes(); }
    const PgData& node_data(NodeId nid) const { return m_pa.nodes().at(nid); }
    bool node_online(NodeId nid) const
    {
        return nid >= 0 && nid < int(m_pa.nodes().size()) && m_pa.nodes()[nid].online;
    }
    int nr_cpus() const { return m_pa.nr_cpus(); }
    const std::vector<int>& node_cpus(NodeId nid) const { return m_pa.node_cpus(nid); }
    const PageAllocator& page_alloc() const { return m_pa; }
    const ShmemFs& shmem() const { return m_shmem; }
    const Hugetlb& hugetlb() const { return m_hugetlb; }
    // The idle guest's own tmpfs pages (the unpacked initramfs), not a file the guest made.
    InodeId initramfs_inode() const { return m_initramfs; }
    const HotplugParams& params() const { return m_params; }
    HotplugParams& params() { return m_params; }
    const ResourceTree& iomem() const { return m_iomem; }
    const Memmap& memmap() const { return m_pa.memmap(); }
    PageCount totalram_pages() const { return m_pa.totalram_pages(); }
    PageCount nr_free_pages() const { return m_pa.nr_free_pages(); }
    PageCount totalreserve_pages() const { return m_pa.totalreserve_pages(); }
    uint64_t min_free_kbytes() const { return m_pa.min_free_kbytes(); }
    const WorkCounters& work() const { return m_work; }
    // saved_command_line (init/main.c): /proc/cmdline.
    const std::string& saved_command_line() const { return m_command_line; }
    // The vm events the model can count (include/linux/vm_event_item.h).
    const VmEvents& vm_events() const { return m_events; }
    // The kernel log: what printk() keeps, and pr_debug() for --explain.
    const KernelLog& log() const { return m_log; }
    KernelLog& log() { return m_log; }

    // page_zone(pfn_to_page(pfn)) for an online pfn.
    std::optional<ZoneType> pfn_to_online_zone(Pfn pfn) const;
    // zone_for_pfn_range(): where an online of this range would go.
    // `pending`: memory a forecast has onlined before this range (same node and
    // group), which auto-movable's ratio counts as present.
    struct PendingOnline {
        PageCount movable, kernel;
    };
    ZoneType zone_for_pfn_range(MmopType online_type, NodeId nid, std::optional<int> group, Pfn start_pfn,
                                PageCount nr_pages, PendingOnline pending = {}) const;

    // --- drivers/base/memory.c ---
    // device_online()/device_offline(): 1 when the block already is in that state.
    KResult<int> device_online(BlockId id);
    KResult<int> device_offline(BlockId id);
    void set_online_type(BlockId id, MmopType type);
    // The slab caches that only grow in an idle guest (inodes, dentries, the page
    // cache's tree nodes): an object needs a new slab, pages from the preferred
    // kernel zone of the shell's node, once the cache's last slab is full. This
    // is how kernel pages find their way into memory hot-added to a Normal zone
    // that was empty (calibration and validation: docs/MODEL.md).
    enum class SlabCache { InodeCache, ProcInodeCache, Dentry, ShmemInodeCache, RadixTreeNode, KernfsNodeCache };
    void kmem_cache_alloc(SlabCache cache, uint64_t nr_objects = 1);
    // The pages kmem_cache_alloc(cache, nr_objects) would take, after `after` objects already taken.
    PageCount kmem_cache_pages(SlabCache cache, uint64_t nr_objects, uint64_t after = 0) const;
    // kernfs nodes per memory block device and per ACPI binding of a DIMM's block
    // (/proc/slabinfo of the recorder's guest: +192 for a DIMM of 8 blocks, of which
    // 2 per block are the bind's links; docs/MODEL.md).
    static constexpr uint64_t k_kernfs_nodes_per_memory_block = 22;
    static constexpr uint64_t k_kernfs_nodes_per_acpi_binding = 2;

    // --- workloads: the guest's tmpfs root and hugetlb pools ---
    // Files live on the node the shell's CPU is on (node of cpu 0).
    NodeId shell_node() const;
    InodeId shmem_create();
    KResult<uint64_t> shmem_write(InodeId ino, uint64_t offset, std::string_view data);
    void shmem_truncate(InodeId ino, uint64_t size);
    void shmem_unlink(InodeId ino);
    // /proc/sys/vm/nr_hugepages, hugepages-*/nr_hugepages, nodeN/hugepages/...
    void set_nr_hugepages(Hugetlb::HstateIdx h, uint64_t count, std::optional<NodeId> node = std::nullopt);
    void set_nr_overcommit_hugepages(Hugetlb::HstateIdx h, uint64_t count) { m_hugetlb.set_nr_overcommit(h, count); }
    // drop_caches_sysctl_handler(): the model keeps no clean page cache or
    // reclaimable slab to drop (tmpfs pages stay), so only the events count.
    void drop_caches(unsigned mode)
    {
        if (mode & 1) ++m_events.drop_pagecache;
        if (mode & 2) ++m_events.drop_slab;
    }
    void demote_hugepages(Hugetlb::HstateIdx h, uint64_t count, std::optional<NodeId> node = std::nullopt)
    {
        m_hugetlb.demote(h, count, node);
    }
    // What transcripts' (memplug) lines hold: pinned kernel memory (unmovable,
    // GFP_KERNEL) and a process's anonymous memory (movable, migrates as tmpfs
    // pages do). ENOMEM takes nothing.
    using AllocId = uint64_t;
    KResult<AllocId> pin_kernel_memory(NodeId nid, PageCount n);
    KResult<AllocId> alloc_anon_memory(NodeId nid, PageCount n);
    void free_workload(AllocId id);
    PageCount anon_pages() const;
    PageCount anon_pages(NodeId nid) const;
    MemoryNotifierErrorInject& notifier_error_inject() { return m_inject; }
    const MemoryNotifierErrorInject& notifier_error_inject() const { return m_inject; }

    // acpi_bind_one: the firmware node a driver associates with a block.
    void set_firmware_node(BlockId id, std::string path);

    // --- mm/memory_hotplug.c ---
    int memory_group_register_static(NodeId nid, PageCount max_pages);
    int memory_group_register_dynamic(NodeId nid, PageCount unit_pages);
    void memory_group_unregister(int id);
    // add_memory()/__add_memory(): `nid_or_mgid` is a group id with MHP_NID_IS_MGID.
    KResult<void> add_memory(int nid_or_mgid, uint64_t start, uint64_t size, unsigned mhp_flags,
                             std::string resource_name = "System RAM");
    // add_memory's checks that change nothing, in its order after the resource:
    // the range's alignment, the node, memmap_on_memory support, room for the
    // memmap. The value: the pages the memmap takes from kernel memory (none
    // when it lives on the range itself).
    KResult<PageCount> test_add_memory(NodeId nid, uint64_t start, uint64_t size, unsigned mhp_flags) const;
    // The kernel zones' free pages above a watermark, all nodes together.
    PageCount kernel_free_above(WatermarkIdx mark) const;
    // The memmap of `size` bytes of sections in kernel memory: 64 bytes a page.
    static PageCount memmap_pages(uint64_t size);
    KResult<void> remove_memory(uint64_t start, uint64_t size);
    // offline_and_remove_memory(): offline every block (putting them back online
    // in their old zones if one refuses), then remove the range.
    KResult<void> offline_and_remove_memory(uint64_t start, uint64_t size);

    // --- what drivers of logically offline memory (virtio-mem) use ---
    // set_online_page_callback(): while onlining [start, start + n), the callback
    // names the subranges that stay logically offline (PageOffline, not managed).
    using OnlinePageCallback = std::function<std::vector<std::pair<Pfn, PageCount>>(Pfn start, PageCount n)>;
    void set_online_page_callback(OnlinePageCallback cb) { m_online_page_callback = std::move(cb); }
    // memory_notify(MEM_ONLINE / MEM_OFFLINE) after a block changed state.
    enum class MemoryEvent { Online, Offline };
    using MemoryNotifier = std::function<void(MemoryEvent, BlockId)>;
    void register_memory_notifier(MemoryNotifier n) { m_memory_notifiers.push_back(std::move(n)); }
    // A range whose memory went away: alloc_contig_range() where it is online
    // (movable pages migrate, EBUSY if any page cannot), then PageOffline.
    KResult<void> fake_offline_pages(Pfn start, PageCount n);
    // A range that came back: to the buddy where it is online.
    void fake_online_pages(Pfn start, PageCount n);
    // __request_region / __release_region on iomem (a driver's parent resource).
    KResult<void> request_mem_region(uint64_t start, uint64_t size, std::string name);
    void release_mem_region(uint64_t start, uint64_t size, std::string_view name);

    // mm/memory-failure.c, as the sysfs files hard_offline_page and
    // soft_offline_page reach it: a free page is taken off the buddy and marked
    // poisoned; soft offline first migrates a page in use (tmpfs, anonymous).
    // ENXIO outside online memory (soft: EIO for a valid page that is offline),
    // EHWPOISON for a second hard poison; what memplug does not model of pages
    // in use (kernel pages, huge pages, hard poison of a file page) is EBUSY.
    KResult<void> memory_failure(Pfn pfn);
    KResult<void> soft_offline_page(Pfn pfn);
    // num_poisoned_pages (meminfo's HardwareCorrupted): it stays when a block is
    // onlined again (its memmap is initialised afresh) and goes with the section.
    PageCount num_poisoned_pages() const { return m_num_poisoned_pages; }

    // --- what-if queries (reports): const, nothing changes ---
    // memory_block_offline() of block `id` asked now; err EINVAL with reason
    // "already offline" for a block that is (state_store's answer).
    OfflineTest test_offline_block(BlockId id) const;
    OfflineTest test_offline_pages(Pfn start_pfn, PageCount nr_pages, ZoneType zone) const;
    // fake_offline_pages() (virtio-mem unplugging a subblock) asked now.
    OfflineTest test_fake_offline_pages(Pfn start, PageCount n) const;
    PageOwner page_owner(Pfn pfn) const;
    // Where a hot-added section's memmap lives (freed when the section is removed).
    const PageRanges* section_memmap(SectionNr nr) const
    {
        auto it = m_section_memmap.find(nr);
        return it == m_section_memmap.end() ? nullptr : &it->second;
    }

    // mhp_supports_memmap_on_memory(): 6.1 applies it only to single blocks.
    bool mhp_supports_memmap_on_memory(uint64_t size) const;

    // Brute-force recomputation of every counter the operations keep in step.
    // Returns the first violated invariant.
    KResult<void> check_invariants() const;

private:
    Kernel() = default;
    Kernel(const Kernel&) = default;

    // mm_init.cc
    void free_area_init(const BootConfig& cfg);
    void reserve_boot_memory(const BootConfig& cfg);
    void create_boot_memory_blocks();

    // Movable pages of [start, end) elsewhere and free huge pages dissolved, as
    // offline_pages and alloc_contig_range need; nothing changes on failure.
    KResult<void> migrate_and_dissolve(Pfn start, Pfn end, NodeId target, NodeId not_node);

    // memory_hotplug.cc
    Zone& zone_of(NodeId nid, ZoneType z) { return m_pa.zone(nid, z); }
    ZoneType default_kernel_zone_for_pfn(NodeId nid, Pfn start_pfn, PageCount nr_pages) const;
    ZoneType default_zone_for_pfn(NodeId nid, Pfn start_pfn, PageCount nr_pages) const;
    ZoneType auto_movable_zone_for_pfn(NodeId nid, std::optional<int> group, Pfn pfn, PageCount nr_pages,
                                       PendingOnline pending) const;
    bool auto_movable_can_online_movable(NodeId nid, const MemoryGroup* group, PageCount nr_pages,
                                         PendingOnline pending, NodeId pending_nid) const;
    void move_pfn_range_to_zone(Zone& zone, Pfn start_pfn, PageCount nr_pages);
    void remove_pfn_range_from_zone(Zone& zone, Pfn start_pfn, PageCount nr_pages);
    void shrink_zone_span(Zone& zone, Pfn start_pfn, Pfn end_pfn);
    void update_pgdat_span(PgData& pgdat);
    // `pending`: pages whose memmap was just initialised for the zone, before
    // their sections are marked online (move_pfn_range_to_zone).
    void set_zone_contiguous(Zone& zone, PageCount pending = PageCount());
    void adjust_present_page_count(Pfn pfn, std::optional<int> group, int64_t nr_pages);
    KResult<void> online_pages(Pfn pfn, PageCount nr_pages, ZoneType zone, std::optional<int> group);
    KResult<void> offline_pages(Pfn start_pfn, PageCount nr_pages, ZoneType zone, std::optional<int> group);
    KResult<void> memory_block_online(MemoryBlock& mem);
    KResult<void> memory_block_offline(MemoryBlock& mem);
    void try_offline_node(NodeId nid);
    // build_all_zonelists() after a zone became populated or empty: the
    // zonelists' text in the log, and policy_zone.
    void build_all_zonelists();
    // dump_page(): the struct page of `pfn` as mm/debug.c prints it.
    void dump_page(Pfn pfn, std::string_view reason);

    uint64_t m_block_size = 128 * MiB;
    HotplugParams m_params;
    PageAllocator m_pa;
    ShmemFs m_shmem;
    PageCount m_num_poisoned_pages;
    std::set<Pfn> m_hwpoison;  // pfns whose memmap carries PG_hwpoison
    Hugetlb m_hugetlb;
    MemoryNotifierErrorInject m_inject;
    InodeId m_initramfs = 0;  // the idle guest's own tmpfs pages
    std::map<AllocId, PageRanges> m_pinned;
    std::map<AllocId, InodeId> m_anon;
    AllocId m_next_alloc = 1;
    std::map<BlockId, MemoryBlock> m_blocks;
    std::map<int, MemoryGroup> m_groups;
    int m_next_group_id = 0;
    ResourceTree m_iomem;
    Pfn m_max_pfn;
    std::map<SectionNr, PageRanges> m_section_memmap;  // where each hot-added section's memmap lives
    WorkCounters m_work;
    VmEvents m_events;
    std::string m_command_line;
    KernelLog m_log;
    ZoneType m_policy_zone = ZoneType::DMA;  // only grows, as check_highest_zone() has it
    bool m_vmemmap_warned = false;           // vmemmap_alloc_block warns once per boot
    OnlinePageCallback m_online_page_callback;
    std::vector<MemoryNotifier> m_memory_notifiers;
    // Free objects in each cache's newest slab (0 when the shell starts: packed).
    std::array<uint64_t, 6> m_slab_free{};
};

}  // namespace memplug::mm
