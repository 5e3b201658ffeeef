#include "reports/memory_map.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "machine/machine.h"
#include "mm/kernel.h"

namespace memplug::fe {

namespace {

using mm::PageState;
using mm::ZoneType;

// What a cell's bytes are; the fill is the class with the most of them.
enum class CellClass : uint8_t { Hole, DeviceFree, Unplugged, Offline, DMA, DMA32, Normal, Movable, Count };
constexpr size_t k_classes = static_cast<size_t>(CellClass::Count);

struct ClassStyle {
    std::string_view fill, label;
};
// The legend's order; docs/REPORTS.md names the same colours.
constexpr std::array<ClassStyle, k_classes> k_styles = {{
    {"#e0e0e0", "hole (no RAM)"},
    {"#ffffff", "device memory, nothing plugged"},
    {"#f4e3c1", "memory device, not plugged"},
    {"#7f7f7f", "offline block"},
    {"#1f3b73", "online, DMA"},
    {"#3a6fd8", "online, DMA32"},
    {"#2ca02c", "online, Normal"},
    {"#ff7f0e", "online, Movable"},
}};
constexpr std::string_view k_vmemmap = "#9467bd", k_unmovable = "#d62728", k_huge = "#ffd700";
// Outlines of the memory devices, in plug order.
constexpr std::array<std::string_view, 6> k_device_strokes = {"#8c564b", "#e377c2", "#17becf", "#bcbd22", "#000000",
                                                              "#7b4173"};

constexpr unsigned k_cell = 12, k_pitch = 14, k_left = 150, k_top = 64;

struct Cell {
    std::array<uint64_t, k_classes> pages{};
    uint64_t vmemmap = 0, unmovable = 0, hugetlb = 0, poisoned = 0;
    int device = -1;  // index into memory_devices(), of the device holding the cell's start
    int nid = -1;
    uint64_t first_block = 0, nr_blocks = 0;
};

CellClass online_class(ZoneType z)
{
    switch (z) {
    case ZoneType::DMA: return CellClass::DMA;
    case ZoneType::DMA32: return CellClass::DMA32;
    case ZoneType::Normal: return CellClass::Normal;
    default: return CellClass::Movable;
    }
}

// "pc-dimm dimm1"; a device added without an id says so.
std::string device_name(const machine::MemoryDevice& d)
{
    return fmt::format("{} {}", d.qom_type(), d.id().empty() ? "(no id)" : d.id());
}

std::string size_text(uint64_t bytes)
{
    constexpr std::array<std::string_view, 5> units = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    while (u + 1 < units.size() && bytes >= 1024 && bytes % 1024 == 0) bytes /= 1024, ++u;
    return fmt::format("{} {}", bytes, units[u]);
}

CellClass fill_of(const Cell& c)
{
    return static_cast<CellClass>(std::max_element(c.pages.begin(), c.pages.end()) - c.pages.begin());
}

}  // namespace

std::string memory_map_svg(const machine::Machine& m)
{
    const mm::Kernel& k = m.kernel();
    const uint64_t block = k.memory_block_size_bytes();
    const uint64_t ram_top = m.above_4g_mem_size() ? (uint64_t{4} << 30) + m.above_4g_mem_size() : m.below_4g_mem_size();
    const uint64_t top = std::max(ram_top, m.device_memory_base() + m.device_memory_size());
    const uint64_t nr_blocks = (top + block - 1) / block;
    uint64_t per_cell = 1;  // blocks per cell: a power of two
    while ((nr_blocks + per_cell - 1) / per_cell > k_map_max_cells) per_cell *= 2;
    const uint64_t cell_bytes = block * per_cell;
    std::vector<Cell> cells((nr_blocks + per_cell - 1) / per_cell);

    // Bytes no memmap covers: a memory device's (not plugged), the rest of the
    // device-memory region's (no device there), or a hole.
    const auto& devices = m.memory_devices();
    auto overlap = [](uint64_t a, uint64_t b, uint64_t lo, uint64_t hi) {
        return std::max(a, lo) < std::min(b, hi) ? std::min(b, hi) - std::max(a, lo) : 0;
    };
    auto add_unbacked = [&](Cell& c, uint64_t from, uint64_t to) {
        uint64_t in_devices = 0;
        for (const auto& d : devices) in_devices += overlap(from, to, d->address(), d->address() + d->region_size());
        const uint64_t in_region =
            overlap(from, to, m.device_memory_base(), m.device_memory_base() + m.device_memory_size());
        c.pages[size_t(CellClass::Unplugged)] += in_devices / mm::PAGE_SIZE;
        c.pages[size_t(CellClass::DeviceFree)] += (in_region - in_devices) / mm::PAGE_SIZE;
        c.pages[size_t(CellClass::Hole)] += (to - from - in_region) / mm::PAGE_SIZE;
    };

    const mm::Memmap& memmap = k.memmap();
    for (size_t i = 0; i < cells.size(); ++i) {
        Cell& c = cells[i];
        const uint64_t from = i * cell_bytes, to = std::min(top, from + cell_bytes);
        c.first_block = i * per_cell;
        c.nr_blocks = (to - from + block - 1) / block;
        for (size_t d = 0; d < devices.size(); ++d)
            if (from >= devices[d]->address() && from < devices[d]->address() + devices[d]->region_size()) c.device = int(d);
        uint64_t gap_from = from;
        memmap.for_each_run(mm::Pfn::from_phys(from), mm::Pfn::from_phys(to), [&](mm::Pfn s, mm::PageCount n, mm::PageInfo info) {
            if (s.phys() > gap_from) add_unbacked(c, gap_from, s.phys());
            gap_from = (s + n).phys();
            const uint64_t pages = n.value();
            switch (info.state) {
            case PageState::Hole: c.pages[size_t(CellClass::Hole)] += pages; break;
            case PageState::NotOnline: c.pages[size_t(CellClass::Offline)] += pages; break;
            case PageState::Offline: c.pages[size_t(CellClass::Unplugged)] += pages; break;
            default: c.pages[size_t(online_class(info.zone))] += pages; break;
            }
            if (info.state == PageState::Vmemmap) c.vmemmap += pages;
            if (info.state == PageState::Unmovable || info.state == PageState::Reserved) c.unmovable += pages;
            if (info.state == PageState::Hugetlb) c.hugetlb += pages;
            if (info.state == PageState::HwPoison) c.poisoned += pages;
            if (info.state != PageState::Hole && c.nid < 0) c.nid = info.nid;
            return true;
        });
        if (to > gap_from) add_unbacked(c, gap_from, to);
    }

    const unsigned rows = unsigned((cells.size() + k_map_columns - 1) / k_map_columns);
    const unsigned grid_bottom = k_top + rows * k_pitch;
    const unsigned legend_top = grid_bottom + 24;
    const unsigned devices_top = legend_top + unsigned(k_styles.size() + 3) * 18 + 12;
    const unsigned width = k_left + k_map_columns * k_pitch + 20;
    const unsigned height = devices_top + unsigned(devices.size() + 1) * 18 + 16;

    std::string svg = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
        "font-family=\"monospace\" font-size=\"12\">\n"
        "<rect width=\"100%\" height=\"100%\" fill=\"#fafafa\"/>\n"
        "<text x=\"10\" y=\"20\" font-size=\"15\">Guest physical memory, 0x0-0x{2:x} ({3})</text>\n"
        "<text x=\"10\" y=\"40\">memory block {4}; one cell = {5} block{6} ({7}); {8} online, {9} blocks</text>\n",
        width, height, top - 1, size_text(top), size_text(block), per_cell, per_cell == 1 ? "" : "s",
        size_text(cell_bytes), size_text(k.totalram_pages().bytes()), k.memory_blocks().size());
    svg += fmt::format("<g id=\"grid\" data-blocks-per-cell=\"{}\" data-columns=\"{}\">\n", per_cell, k_map_columns);
    for (unsigned r = 0; r < rows; ++r)
        svg += fmt::format("<text x=\"10\" y=\"{}\">0x{:016x}</text>\n", k_top + r * k_pitch + k_cell - 2,
                           uint64_t(r) * k_map_columns * cell_bytes);
    for (size_t i = 0; i < cells.size(); ++i) {
        const Cell& c = cells[i];
        const unsigned x = k_left + unsigned(i % k_map_columns) * k_pitch, y = k_top + unsigned(i / k_map_columns) * k_pitch;
        const CellClass cls = fill_of(c);
        const std::string stroke =
            c.device >= 0 ? fmt::format(" stroke=\"{}\" stroke-width=\"2\"", k_device_strokes[size_t(c.device) % k_device_strokes.size()])
                          : std::string(cls == CellClass::DeviceFree ? " stroke=\"#bbbbbb\" stroke-width=\"1\"" : "");
        const uint64_t from = i * cell_bytes;
        std::string title = fmt::format("0x{:x}-0x{:x}: memory{}{}, {}", from, std::min(top, from + cell_bytes) - 1,
                                        c.first_block,
                                        c.nr_blocks > 1 ? fmt::format("-{}", c.first_block + c.nr_blocks - 1) : "",
                                        k_styles[size_t(cls)].label);
        if (c.nid >= 0) title += fmt::format(", node {}", c.nid);
        if (c.device >= 0) title += ", " + device_name(*devices[size_t(c.device)]);
        if (c.vmemmap) title += fmt::format(", {} memmap pages", c.vmemmap);
        if (c.unmovable) title += fmt::format(", {} unmovable pages", c.unmovable);
        if (c.hugetlb) title += fmt::format(", {} huge-page pages", c.hugetlb);
        if (c.poisoned) title += fmt::format(", {} poisoned pages", c.poisoned);
        svg += fmt::format("<g id=\"cell-{}\"><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}/>",
                           i, title, x, y, k_cell, k_cell, k_styles[size_t(cls)].fill, stroke);
        const uint64_t cell_pages = std::max<uint64_t>(1, (std::min(top, from + cell_bytes) - from) / mm::PAGE_SIZE);
        // Marks: the memmap strip along the top, unmovable pages a dot in the
        // corner, huge pages a bar along the bottom as long as their share.
        if (c.vmemmap) svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"3\" fill=\"{}\"/>", x, y, k_cell, k_vmemmap);
        if (c.unmovable)
            svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"4\" height=\"4\" fill=\"{}\"/>", x + k_cell - 4, y + 4, k_unmovable);
        if (c.hugetlb)
            svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"3\" fill=\"{}\"/>", x, y + k_cell - 3,
                               std::max<uint64_t>(1, k_cell * c.hugetlb / cell_pages), k_huge);
        svg += "</g>\n";
    }
    svg += "</g>\n<g id=\"legend\">\n";
    unsigned y = legend_top;
    auto legend_row = [&](std::string_view fill, std::string_view label, std::string_view extra = "") {
        svg += fmt::format("<rect x=\"10\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}/><text x=\"30\" y=\"{}\">{}</text>\n",
                           y, k_cell, k_cell, fill, extra, y + k_cell - 2, label);
        y += 18;
    };
    for (const ClassStyle& s : k_styles)
        legend_row(s.fill, s.label, s.fill == k_styles[size_t(CellClass::DeviceFree)].fill ? " stroke=\"#bbbbbb\"" : "");
    legend_row(k_vmemmap, "strip at the top: the block's own memmap (memmap_on_memory)");
    legend_row(k_unmovable, "dot: unmovable or reserved pages (offline fails with EBUSY outside ZONE_MOVABLE)");
    legend_row(k_huge, "bar at the bottom: huge pages, as long as their share of the cell");
    svg += "</g>\n<g id=\"devices\">\n";
    y = devices_top;
    svg += fmt::format("<text x=\"10\" y=\"{}\">memory devices (outlined cells):{}</text>\n", y + k_cell - 2,
                       devices.empty() ? " none" : "");
    y += 18;
    for (size_t d = 0; d < devices.size(); ++d) {
        const auto& dev = devices[d];
        legend_row("none",
                   fmt::format("{} 0x{:x}-0x{:x} {}, {} plugged, node {}", device_name(*dev), dev->address(),
                               dev->address() + dev->region_size() - 1, size_text(dev->region_size()),
                               size_text(dev->plugged_memory()), dev->numa_node()),
                   fmt::format(" stroke=\"{}\" stroke-width=\"2\"", k_device_strokes[d % k_device_strokes.size()]));
    }
    svg += "</g>\n</svg>\n";
    return svg;
}

}  // namespace memplug::fe
