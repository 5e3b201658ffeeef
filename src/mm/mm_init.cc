// Boot: from the firmware memory map to nodes, zones, sections, memory blocks
// and the memblock reservations that never reach the buddy allocator
// (mm/page_alloc.c: free_area_init, drivers/base/memory.c: memory_dev_init).
#include <algorithm>
#include <bit>

#include "mm/kernel.h"

namespace memplug::mm {

namespace {

// [start, end) pfn ranges of usable RAM after the kernel's own trimming.
struct PfnRange {
    Pfn start, end;
    NodeId nid = 0;
};

// e820__memblock_setup + trim_bios_range: page 0 and the legacy BIOS area
// [0xa0000, 0x100000) are never RAM; partial pages are dropped.
std::vector<PfnRange> usable_ram(const std::vector<E820Entry>& e820)
{
    std::vector<PfnRange> out;
    for (const E820Entry& e : e820) {
        if (e.type != E820Type::Ram) continue;
        uint64_t b = align_up(e.addr, PAGE_SIZE), end = align_down(e.addr + e.size, PAGE_SIZE);
        if (b < PAGE_SIZE) b = PAGE_SIZE;
        if (b < 0x100000 && end > 0xa0000) {
            if (b < 0xa0000) out.push_back({Pfn::from_phys(b), Pfn::from_phys(0xa0000)});
            b = 0x100000;
        }
        if (end > b) out.push_back({Pfn::from_phys(b), Pfn::from_phys(end)});
    }
    std::sort(out.begin(), out.end(), [](const PfnRange& a, const PfnRange& b) { return a.start < b.start; });
    return out;
}

// Splits RAM ranges at NUMA boundaries and labels each piece with its node.
std::vector<PfnRange> assign_nodes(std::vector<PfnRange> ram, const std::vector<NumaMemblk>& numa)
{
    if (numa.empty()) return ram;
    std::vector<PfnRange> out;
    for (const PfnRange& r : ram) {
        for (const NumaMemblk& m : numa) {
            const Pfn b = std::max(r.start, Pfn::from_phys(m.start));
            const Pfn e = std::min(r.end, Pfn::from_phys(m.end));
            if (b < e) out.push_back({b, e, m.nid});
        }
    }
    std::sort(out.begin(), out.end(), [](const PfnRange& a, const PfnRange& b) { return a.start < b.start; });
    return out;
}

// arch_zone_{lowest,highest}_possible_pfn for x86_64.
std::pair<Pfn, Pfn> arch_zone_limits(ZoneType z, Pfn max_pfn)
{
    switch (z) {
    case ZoneType::DMA: return {Pfn(0), MAX_DMA_PFN};
    case ZoneType::DMA32: return {MAX_DMA_PFN, MAX_DMA32_PFN};
    case ZoneType::Normal: return {MAX_DMA32_PFN, std::max(max_pfn, MAX_DMA32_PFN)};
    default: return {Pfn(0), Pfn(0)};
    }
}

ZoneType boot_zone_of(Pfn pfn)
{
    if (pfn < MAX_DMA_PFN) return ZoneType::DMA;
    if (pfn < MAX_DMA32_PFN) return ZoneType::DMA32;
    return ZoneType::Normal;
}

// find_zone_movable_pfns_for_nodes: where ZONE_MOVABLE starts on each node for
// kernelcore=/movablecore= (0: none). Kernel memory is spread evenly over the
// nodes; pages below the zone Movable is carved from count as kernel memory.
std::vector<Pfn> find_zone_movable_pfns_for_nodes(const std::vector<PfnRange>& ram, int nr_nodes, Pfn max_pfn,
                                                  uint64_t kernelcore_pages, uint64_t movablecore_pages)
{
    constexpr uint64_t MAX_ORDER_NR_PAGES = uint64_t{1} << (MAX_ORDER - 1);
    std::vector<Pfn> zone_movable_pfn(size_t(nr_nodes), Pfn(0));
    uint64_t totalpages = 0;
    for (const PfnRange& r : ram) totalpages += (r.end - r.start).value();
    uint64_t required_kernelcore = kernelcore_pages;
    if (movablecore_pages) {
        const uint64_t movable = std::min(totalpages, align_up(movablecore_pages, MAX_ORDER_NR_PAGES));
        required_kernelcore = std::max(required_kernelcore, totalpages - movable);
    }
    if (!required_kernelcore || required_kernelcore >= totalpages) return zone_movable_pfn;
    // The zone Movable is carved from: the highest one with pages.
    const Pfn usable_startpfn = max_pfn > MAX_DMA32_PFN ? MAX_DMA32_PFN : MAX_DMA_PFN;
    std::vector<int> nodes;
    for (const PfnRange& r : ram)
        if (std::find(nodes.begin(), nodes.end(), r.nid) == nodes.end()) nodes.push_back(r.nid);
    uint64_t usable_nodes = nodes.size();
    do {
        uint64_t kernelcore_node = required_kernelcore / usable_nodes;
        for (int nid : nodes) {
            if (required_kernelcore < kernelcore_node) kernelcore_node = required_kernelcore / usable_nodes;
            uint64_t kernelcore_remaining = kernelcore_node;
            for (const PfnRange& r : ram) {
                if (r.nid != nid) continue;
                Pfn start = std::max(r.start, zone_movable_pfn[size_t(nid)]);
                const Pfn end = r.end;
                if (start >= end) continue;
                if (start < usable_startpfn) {
                    const uint64_t kernel_pages = (std::min(end, usable_startpfn) - start).value();
                    kernelcore_remaining -= std::min(kernel_pages, kernelcore_remaining);
                    required_kernelcore -= std::min(kernel_pages, required_kernelcore);
                    if (end <= usable_startpfn) {
                        zone_movable_pfn[size_t(nid)] = end;
                        continue;
                    }
                    start = usable_startpfn;
                }
                const uint64_t size_pages = std::min((end - start).value(), kernelcore_remaining);
                zone_movable_pfn[size_t(nid)] = start + PageCount(size_pages);
                required_kernelcore -= std::min(required_kernelcore, size_pages);
                kernelcore_remaining -= size_pages;
                if (!kernelcore_remaining) break;
            }
        }
        --usable_nodes;
    } while (usable_nodes && required_kernelcore > usable_nodes);
    for (int nid : nodes) {
        Pfn& z = zone_movable_pfn[size_t(nid)];
        z = Pfn(align_up(z.value(), MAX_ORDER_NR_PAGES));
        Pfn node_end(0);
        for (const PfnRange& r : ram)
            if (r.nid == nid) node_end = std::max(node_end, r.end);
        if (z >= node_end) z = Pfn(0);
    }
    return zone_movable_pfn;
}

// CONFIG_PHYSICAL_START: where the kernel runs when KASLR is off (the recorder boots with nokaslr).
constexpr uint64_t kernel_image_start = 16 * MiB;

// probe_memory_block_size() for a guest (X86_FEATURE_HYPERVISOR set).
uint64_t probe_memory_block_size(Pfn max_pfn)
{
    constexpr uint64_t MIN_MEMORY_BLOCK_SIZE = 128 * MiB, MAX_BLOCK_SIZE = 2 * GiB;
    const uint64_t boot_mem_end = max_pfn.phys();
    if (boot_mem_end < 64 * GiB) return MIN_MEMORY_BLOCK_SIZE;
    uint64_t bz = MAX_BLOCK_SIZE;
    for (; bz > MIN_MEMORY_BLOCK_SIZE; bz >>= 1)
        if (boot_mem_end % bz == 0) break;
    return bz;
}

}  // namespace

Kernel Kernel::fork() const
{
    Kernel k(*this);
    k.m_online_page_callback = {};
    k.m_memory_notifiers.clear();
    return k;
}

KResult<Kernel> Kernel::boot(const BootConfig& cfg)
{
    Kernel k;
    k.m_params = cfg.params;
    k.m_command_line = cfg.command_line;
    k.free_area_init(cfg);
    if (!k.m_max_pfn.value()) return kerr(EINVAL, "no usable RAM in the memory map");
    k.reserve_boot_memory(cfg);
    k.create_boot_memory_blocks();
    // The root tmpfs (no root= given) is sized when mounted: half of RAM.
    k.m_shmem.set_max_blocks(PageCount(k.m_pa.totalram_pages().value() / 2));
    k.m_pa.setup_zone_pagesets();
    k.m_pa.init_per_zone_wmark_min();
    for (PgData& pgdat : k.m_pa.nodes())
        for (Zone& z : pgdat.node_zones) {
            k.set_zone_contiguous(z);
            if (z.populated_zone() && z.type != ZoneType::Movable) k.m_policy_zone = std::max(k.m_policy_zone, z.type);
        }
    k.m_hugetlb.report_hugepages(k.m_log);
    return k;
}

void Kernel::free_area_init(const BootConfig& cfg)
{
    const std::vector<PfnRange> ram = assign_nodes(usable_ram(cfg.e820), cfg.numa);
    int nr_nodes = std::max(1, cfg.nr_node_ids);
    for (const PfnRange& r : ram) nr_nodes = std::max(nr_nodes, r.nid + 1);
    m_pa.init_nodes(nr_nodes, cfg.node_cpus, cfg.nr_cpus);
    m_hugetlb.init(nr_nodes);
    for (const PfnRange& r : ram) m_max_pfn = std::max(m_max_pfn, r.end);
    m_block_size = probe_memory_block_size(m_max_pfn);

    // Resources: e820 entries as the kernel names them (e820__reserve_resources),
    // then what the platform describes.
    // e820__memory_setup: the kernel marks page 0 reserved before anything else.
    std::vector<E820Entry> e820 = cfg.e820;
    if (!e820.empty() && e820.front().addr == 0 && e820.front().type == E820Type::Ram && e820.front().size > PAGE_SIZE) {
        e820.front().addr = PAGE_SIZE;
        e820.front().size -= PAGE_SIZE;
        e820.insert(e820.begin(), E820Entry{0, PAGE_SIZE, E820Type::Reserved});
    }
    for (const E820Entry& e : e820) {
        const bool ram_entry = e.type == E820Type::Ram;
        std::string name = ram_entry ? "System RAM" : e.type == E820Type::Acpi ? "ACPI Tables"
                                                  : e.type == E820Type::Nvs  ? "ACPI Non-volatile Storage"
                                                  : e.type == E820Type::Unusable ? "Unusable memory"
                                                                                 : "Reserved";
        unsigned flags = IORESOURCE_MEM | (ram_entry ? IORESOURCE_SYSRAM | IORESOURCE_BUSY : 0);
        (void)m_iomem.insert(e.addr, e.addr + e.size - 1, std::move(name), flags);
    }
    // The kernel image as it sits in RAM with KASLR off.
    constexpr uint64_t image = kernel_image_start;
    for (auto [start, end, name] : {std::tuple{image, image + 0xe01d31, "Kernel code"},
                                    std::tuple{image + 0x1000000, image + 0x18eafff, "Kernel rodata"},
                                    std::tuple{image + 0x1a00000, image + 0x1c4897f, "Kernel data"},
                                    std::tuple{image + 0x2310000, image + 0x33fffff, "Kernel bss"}})
        (void)m_iomem.insert(start, end, name, IORESOURCE_MEM | IORESOURCE_BUSY);
    for (const PlatformResource& r : cfg.platform_resources) {
        if (r.insert)
            (void)m_iomem.insert(r.start, r.end, r.name, IORESOURCE_MEM);
        else
            (void)m_iomem.request_region(r.start, r.end, r.name, IORESOURCE_MEM);
    }

    const std::vector<Pfn> zone_movable_pfn = find_zone_movable_pfns_for_nodes(
        ram, nr_nodes, m_max_pfn, cfg.kernelcore_bytes >> PAGE_SHIFT, cfg.movablecore_bytes >> PAGE_SHIFT);
    for (PgData& pgdat : m_pa.nodes()) {
        Pfn node_start{~uint64_t{0}}, node_end{0};
        for (const PfnRange& r : ram) {
            if (r.nid != pgdat.node_id) continue;
            node_start = std::min(node_start, r.start);
            node_end = std::max(node_end, r.end);
        }
        if (node_end.value() == 0) continue;  // a memory-less node stays offline
        pgdat.online = true;
        pgdat.node_start_pfn = node_start;
        PageCount total_span, total_present;
        const Pfn movable_start = zone_movable_pfn[size_t(pgdat.node_id)];
        for (ZoneType zt : {ZoneType::DMA, ZoneType::DMA32, ZoneType::Normal, ZoneType::Movable}) {
            auto [lo, hi] = arch_zone_limits(zt, m_max_pfn);
            Pfn b = std::clamp(node_start, lo, hi), e = std::clamp(node_end, lo, hi);
            // adjust_zone_range_for_zone_movable
            if (movable_start.value()) {
                if (zt == ZoneType::Movable) {
                    b = movable_start;
                    e = node_end;
                } else if (b < movable_start && e > movable_start) {
                    e = movable_start;
                } else if (b >= movable_start) {
                    b = e;
                }
            }
            Zone& z = pgdat.zone(zt);
            if (b >= e) continue;
            z.zone_start_pfn = b;
            z.spanned_pages = e - b;
            for (const PfnRange& r : ram) {
                if (r.nid != pgdat.node_id) continue;
                const Pfn rb = std::max(r.start, b), re = std::min(r.end, e);
                if (rb < re) z.present_pages += re - rb;
            }
            z.present_early_pages = z.present_pages;
            total_span += z.spanned_pages;
            total_present += z.present_pages;
        }
        pgdat.node_spanned_pages = total_span;
        pgdat.node_present_pages = total_present;
    }

    // sparse_init + memmap_init: every section with RAM gets a memmap; holes
    // inside it are initialised too, linked to the zone whose range they are in.
    for (const PfnRange& r : ram) {
        for (uint64_t nr = r.start.value() / PAGES_PER_SECTION; nr * PAGES_PER_SECTION < r.end.value(); ++nr) {
            const SectionNr sec(nr);
            if (m_pa.memmap().present_section(sec)) continue;
            const Pfn base = section_nr_to_pfn(sec);
            m_pa.add_section(sec, PageInfo{PageState::Hole, boot_zone_of(base), static_cast<int8_t>(r.nid)},
                                 true);
            m_pa.set_section_online(sec, true);
            // Zone links follow the zone ranges across the section.
            for (ZoneType zt : {ZoneType::DMA32, ZoneType::Normal}) {
                const Pfn lo = arch_zone_limits(zt, m_max_pfn).first;
                if (lo > base && lo < base + PageCount(PAGES_PER_SECTION))
                    m_pa.set_page_state(lo, (base + PageCount(PAGES_PER_SECTION)) - lo,
                                   PageInfo{PageState::Hole, zt, static_cast<int8_t>(r.nid)});
            }
        }
    }
    for (const PfnRange& r : ram)
        m_pa.set_page_state(r.start, r.end - r.start, PageInfo{PageState::Free, boot_zone_of(r.start), int8_t(r.nid)});
    // A RAM range may cross a zone limit: fix the zone links of its tail.
    for (const PfnRange& r : ram) {
        for (ZoneType zt : {ZoneType::DMA32, ZoneType::Normal}) {
            const Pfn lo = arch_zone_limits(zt, m_max_pfn).first;
            if (lo > r.start && lo < r.end)
                m_pa.set_page_state(lo, r.end - lo, PageInfo{PageState::Free, zt, int8_t(r.nid)});
        }
    }
    // Pages from where ZONE_MOVABLE starts belong to it, holes in its span too
    // (memmap_init links every pfn of a zone's span, and the rest of the last
    // section, to the zone).
    for (const PfnRange& r : ram) {
        const Pfn movable_start = zone_movable_pfn[size_t(r.nid)];
        if (!movable_start.value() || r.end <= movable_start) continue;
        const Pfn b = std::max(r.start, movable_start);
        m_pa.set_page_state(b, r.end - b, PageInfo{PageState::Free, ZoneType::Movable, int8_t(r.nid)});
    }
    for (const PgData& pgdat : m_pa.nodes()) {
        const Zone& movable = pgdat.zone(ZoneType::Movable);
        if (movable.zone_is_empty()) continue;
        PageRanges holes;
        // The tail of the last section too: memmap_init ends with the zone it was in.
        const Pfn end(align_up(movable.zone_end_pfn().value(), PAGES_PER_SECTION));
        m_pa.memmap().for_each_run(movable.zone_start_pfn, end, [&](Pfn b, PageCount len, PageInfo info) {
            if (info.state == PageState::Hole && info.nid == pgdat.node_id) holes.emplace_back(b, len);
            return true;
        });
        for (const auto& [b, len] : holes)
            m_pa.set_page_state(b, len, PageInfo{PageState::Hole, ZoneType::Movable, int8_t(pgdat.node_id)});
    }
}

void Kernel::create_boot_memory_blocks()
{
    const uint64_t sections_per_block = m_block_size / (PAGES_PER_SECTION << PAGE_SHIFT);
    for (uint64_t nr = 0; nr < m_pa.memmap().nr_section_slots(); nr += sections_per_block) {
        std::optional<NodeId> nid;
        bool multi_node = false;
        for (uint64_t s = nr; s < nr + sections_per_block; ++s) {
            if (!m_pa.memmap().present_section(SectionNr(s))) continue;
            m_pa.memmap().for_each_run(section_nr_to_pfn(SectionNr(s)), section_nr_to_pfn(SectionNr(s + 1)),
                                  [&](Pfn, PageCount, PageInfo info) {
                                      if (info.state == PageState::Hole) return true;
                                      if (nid && *nid != info.nid) multi_node = true;
                                      nid = info.nid;
                                      return true;
                                  });
        }
        if (!nid) continue;
        MemoryBlock mem;
        mem.id = BlockId(nr / sections_per_block);
        mem.start_section_nr = SectionNr(nr);
        mem.state = MemState::Online;
        mem.nid = *nid;
        mem.early = true;
        // early_node_zone_for_memory_block: the one populated zone meeting the block.
        const Pfn start = section_nr_to_pfn(SectionNr(nr));
        int matches = 0;
        for (const Zone& z : m_pa.nodes()[*nid].node_zones) {
            if (!z.populated_zone() || !z.zone_intersects(start, pages_per_block())) continue;
            ++matches;
            mem.zone = z.type;
        }
        if (matches != 1 || multi_node) mem.zone.reset();
        m_blocks.emplace(mem.id, mem);
    }
}

// The memblock reservations that outlive boot, placed where x86 puts them:
// the first MiB, the kernel image at 16 MiB (the recorder boots with nokaslr),
// each node's memmap and node data on that node, swiotlb below 4 GiB, and the
// rest top-down from the end of memory. Sizes are fitted to Debian's 6.1 under
// QEMU for 512 MiB..6 GiB guests with one and two nodes (docs/MODEL.md).
void Kernel::reserve_boot_memory(const BootConfig& cfg)
{
    constexpr uint64_t kernel_image_pages = 11318;  // text, rodata, data, bss after init sections are freed
    constexpr uint64_t first_node_pages = 110;      // pglist_data, usemaps, ... of node 0
    constexpr uint64_t other_node_pages = 106;      // the same for every further node
    constexpr uint64_t global_early_pages = 517;    // page tables, percpu, ACPI and e820 copies, ...
    constexpr uint64_t high_ram_page_table_pages = 2;
    constexpr uint64_t swiotlb_pages = (64 * MiB) >> PAGE_SHIFT;
    constexpr uint64_t swiotlb_slot_pages = 192;    // io_tlb_mem slots for 64 MiB
    constexpr uint64_t HASH_ENTRY_BYTES = 8;

    m_pa.take_free_pages(Pfn(0), Pfn::from_phys(1 * MiB), PageCount::from_bytes(1 * MiB), PageState::Reserved,
                    PageAllocator::AllocFrom::Bottom);
    const Pfn image = Pfn::from_phys(kernel_image_start);
    m_pa.take_free_pages(image, image + PageCount(kernel_image_pages), PageCount(kernel_image_pages), PageState::Reserved,
                    PageAllocator::AllocFrom::Bottom);

    // Each node's memmap sits at its end; node 0's own data too, a later node's
    // data at its start (which is why blocks on both sides of a node boundary
    // never offline).
    int nodes_with_memory = 0;
    for (PgData& pgdat : m_pa.nodes()) {
        if (!pgdat.online) continue;
        uint64_t sections = 0;
        for (uint64_t nr = 0; nr < m_pa.memmap().nr_section_slots(); ++nr) {
            const SectionNr sec(nr);
            if (m_pa.memmap().present_section(sec) && m_pa.memmap().at(section_nr_to_pfn(sec)).nid == pgdat.node_id)
                ++sections;
        }
        const PageAllocator::PageFilter on_node{std::nullopt, pgdat.node_id};
        const PageCount memmap(sections * PAGES_PER_SECTION * STRUCT_PAGE_SIZE / PAGE_SIZE);
        const bool first = nodes_with_memory++ == 0;
        m_pa.take_free_pages(pgdat.node_start_pfn, pgdat.pgdat_end_pfn(), memmap + PageCount(first ? first_node_pages : 0),
                        PageState::Reserved, PageAllocator::AllocFrom::Top, on_node);
        if (!first)
            m_pa.take_free_pages(pgdat.node_start_pfn, pgdat.pgdat_end_pfn(), PageCount(other_node_pages),
                            PageState::Reserved, PageAllocator::AllocFrom::Bottom, on_node);
    }
    // Direct-map page tables for RAM above 4 GiB.
    PageCount global(global_early_pages + (m_max_pfn > MAX_DMA32_PFN ? high_ram_page_table_pages : 0));

    // swiotlb exists when memory can lie above 4 GiB, hot-pluggable memory included.
    const bool swiotlb = m_max_pfn > MAX_DMA32_PFN || cfg.hotplug_region_end > MAX_DMA32_PFN.phys();
    if (swiotlb)
        m_pa.take_free_pages(Pfn(0), MAX_DMA32_PFN, PageCount(swiotlb_pages), PageState::Reserved, PageAllocator::AllocFrom::Top);

    // The dentry and inode hash tables come from memblock only with one memory
    // node (otherwise hashdist spreads them over vmalloc): one bucket per 8 KiB
    // and 16 KiB of nr_kernel_pages, rounded up to a power of two.
    uint64_t hash_pages = 0;
    if (nodes_with_memory == 1) {
        uint64_t nr_kernel_pages = 0;
        for (const PgData& pgdat : m_pa.nodes())
            for (const Zone& z : pgdat.node_zones) {
                if (z.type == ZoneType::Movable || !z.present_pages) continue;
                const uint64_t present = z.present_pages.value(), spanned = z.spanned_pages.value();
                const uint64_t span = spanned > present + (present >> 4) ? present : spanned;
                nr_kernel_pages += present - align_up(span * STRUCT_PAGE_SIZE, PAGE_SIZE) / PAGE_SIZE;
            }
        nr_kernel_pages = align_up(nr_kernel_pages, MiB / PAGE_SIZE);
        hash_pages = (std::bit_ceil(nr_kernel_pages >> 1) + std::bit_ceil(nr_kernel_pages >> 2)) * HASH_ENTRY_BYTES /
                     PAGE_SIZE;
    }
    global += PageCount(hash_pages + (swiotlb ? swiotlb_slot_pages : 0));
    m_pa.take_free_pages(Pfn(0), m_max_pfn, global, PageState::Reserved, PageAllocator::AllocFrom::Top);

    // What the idle guest has allocated by the time a shell runs: slab, stacks,
    // page tables, vmalloc (unmovable) and tmpfs/anon pages (movable), shared by
    // the nodes that have CPUs, from the lowest pages of each node's preferred
    // zone. With RAM above 4 GiB that is the first Normal block, which is why it
    // never offlines on the real guest.
    constexpr uint64_t idle_unmovable_pages = 8600, idle_movable_pages = 600;
    std::vector<NodeId> busy_nodes;
    for (const PgData& p : m_pa.nodes())
        if (p.online && (size_t(p.node_id) >= m_pa.nr_node_cpu_lists() || !m_pa.node_cpus(p.node_id).empty()))
            busy_nodes.push_back(p.node_id);
    if (busy_nodes.empty()) busy_nodes.push_back(0);
    m_initramfs = m_shmem.create();
    for (NodeId nid : busy_nodes) {
        (void)m_pa.alloc_pages(nid, GFP_KERNEL, PageCount(idle_unmovable_pages / busy_nodes.size()),
                               PageState::Unmovable);
        // The unpacked initramfs and the shell's memory: tmpfs pages.
        PageRanges initramfs;
        (void)m_pa.alloc_pages(nid, Gfp{ZoneType::Normal, MigrateType::Movable, false},
                               PageCount(idle_movable_pages / busy_nodes.size()), PageState::Movable, &initramfs);
        m_shmem.adopt(m_initramfs, initramfs, true);
    }
}

}  // namespace memplug::mm
