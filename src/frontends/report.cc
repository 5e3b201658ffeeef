#include "frontends/report.h"

#include <cstring>
#include <map>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "frontends/memory_map.h"
#include "machine/qemu_opts.h"
#include "views/sysfs_attr.h"

namespace memplug::fe {

using nlohmann::ordered_json;
using mm::PageCount;
using mm::Pfn;

namespace {

std::string errno_name(int err)
{
    const char* n = strerrorname_np(err);
    return n ? n : fmt::format("errno {}", err);
}

constexpr std::string_view page_state_name(mm::PageState s)
{
    constexpr std::array<std::string_view, mm::NR_PAGE_STATES> names = {
        "hole", "reserved", "vmemmap", "not-online", "offline", "free", "unmovable", "movable", "hugetlb", "hwpoison"};
    return names[size_t(s)];
}

std::string mem_state_name(mm::MemState s)
{
    return s == mm::MemState::Online ? "online" : s == mm::MemState::Offline ? "offline" : "going-offline";
}

// "1.5 GiB", "128 MiB", "4 KiB": sizes as a person reads them.
std::string human_bytes(uint64_t b)
{
    static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    double v = double(b);
    while (v >= 1024 && u < 5) {
        v /= 1024;
        ++u;
    }
    if (v == double(uint64_t(v))) return fmt::format("{} {}", uint64_t(v), units[u]);
    return fmt::format("{:.1f} {}", v, units[u]);
}

ordered_json owner_json(const mm::Kernel& k, Pfn pfn, const AllocName& names)
{
    using K = mm::PageOwner::Kind;
    const mm::PageOwner o = k.page_owner(pfn);
    ordered_json j;
    switch (o.kind) {
    case K::None: j["kind"] = "none"; break;
    case K::BootReserved: j["kind"] = "boot-reserved"; break;
    case K::Memmap:
        j["kind"] = "memmap";
        j["section"] = o.id;
        break;
    case K::SelfHostedMemmap: j["kind"] = "vmemmap"; break;
    case K::Pinned:
        j["kind"] = "pinned";
        j["name"] = names ? names(o.id) : std::to_string(o.id);
        break;
    case K::Kernel: j["kind"] = "kernel"; break;
    case K::Shmem:
        j["kind"] = "shmem";
        j["inode"] = o.id;
        break;
    case K::HugeTlb: j["kind"] = "hugetlb"; break;
    case K::HwPoison: j["kind"] = "hwpoison"; break;
    }
    return j;
}

ordered_json spread_json(const std::vector<mm::PageAllocator::ZoneShare>& spread)
{
    ordered_json a = ordered_json::array();
    for (const auto& s : spread)
        a.push_back({{"node", s.nid}, {"zone", mm::zone_name(s.zone)}, {"pages", s.pages.value()}});
    return a;
}

// One operation's verdict: "ok", or the errno and the kernel's reason, and what it would move.
ordered_json test_json(const mm::Kernel& k, const mm::OfflineTest& t, const AllocName& names)
{
    ordered_json j;
    j["ok"] = t.err == 0;
    j["errno"] = t.err ? ordered_json(errno_name(t.err)) : ordered_json(nullptr);
    j["reason"] = t.why();
    if (t.culprit)
        j["culprit"] = {{"pfn", t.culprit->value()},
                        {"page", page_state_name(t.culprit_page.state)},
                        {"zone", mm::zone_name(t.culprit_page.zone)},
                        {"owner", owner_json(k, *t.culprit, names)}};
    else
        j["culprit"] = nullptr;
    j["migrate_pages"] = t.migrate_pages.value();
    j["migrate_to"] = spread_json(t.destination);
    j["dissolve_huge_pages_bytes"] = t.dissolved.bytes();
    return j;
}

struct BlockVerdict {
    const mm::MemoryBlock* mem;
    mm::OfflineTest test;
};

std::vector<BlockVerdict> verdicts(const mm::Kernel& k, uint64_t addr, uint64_t size)
{
    std::vector<BlockVerdict> out;
    const uint64_t bs = k.memory_block_size_bytes();
    auto it = k.memory_blocks().lower_bound(mm::BlockId(addr / bs));
    for (; it != k.memory_blocks().end() && it->first.value() * bs < addr + size; ++it)
        out.push_back({&it->second, k.test_offline_block(it->first)});
    return out;
}

ordered_json blocks_json(const mm::Kernel& k, const std::vector<BlockVerdict>& vs, const AllocName& names)
{
    ordered_json a = ordered_json::array();
    for (const BlockVerdict& v : vs) {
        const mm::MemoryBlock& mem = *v.mem;
        ordered_json j;
        j["block"] = mem.id.value();
        j["state"] = mem_state_name(mem.state);
        j["zone"] = mem.zone ? ordered_json(mm::zone_name(*mem.zone)) : ordered_json(nullptr);
        j["node"] = mem.nid;
        j["vmemmap_pages"] = mem.nr_vmemmap_pages.value();
        j["offline"] = test_json(k, v.test, names);
        a.push_back(std::move(j));
    }
    return a;
}

ordered_json verdict(bool possible, std::optional<int> err, std::string reason, std::optional<uint64_t> block = {})
{
    return {{"possible", possible},
            {"errno", err ? ordered_json(errno_name(*err)) : ordered_json(nullptr)},
            {"reason", std::move(reason)},
            {"block", block ? ordered_json(*block) : ordered_json(nullptr)}};
}

// acpi_scan_hot_remove: every block offline (the first refusal is the answer),
// the DIMM's movable pages all fitting outside it, then remove_memory.
ordered_json eject_json(const machine::Machine& m, const machine::PcDimm& dimm, const std::vector<BlockVerdict>& vs)
{
    const mm::Kernel& k = m.kernel();
    if (m.config().stopped)
        return verdict(false, std::nullopt, "the guest's CPUs never started (-S): nothing answers the eject request");
    PageCount movable;
    const mm::OfflineTest* first_online = nullptr;
    for (const BlockVerdict& v : vs) {
        if (v.mem->state == mm::MemState::Offline) continue;
        if (v.test.err) return verdict(false, v.test.err, v.test.why(), v.mem->id.value());
        if (!first_online) first_online = &v.test;
        movable += v.test.migrate_pages;
    }
    ordered_json j = verdict(true, std::nullopt, "");
    // One block's pages may move into the next block of the same DIMM, which
    // then moves them again: all that is movable in the DIMM must fit outside it.
    std::vector<mm::PageAllocator::ZoneShare> spread;
    if (movable) {
        const mm::Gfp gfp{mm::ZoneType::Movable, mm::MigrateType::Movable, false, first_online->not_node};
        const Pfn start = Pfn::from_phys(dimm.addr());
        spread = k.page_alloc().allocation_spread(first_online->target, gfp, movable,
                                                  std::pair{start, start + PageCount::from_bytes(dimm.size())});
        if (spread.empty())
            return verdict(false, EBUSY, "migration failure: the DIMM's movable pages do not fit outside it");
    }
    j["migrate_pages"] = movable.value();
    j["migrate_to"] = spread_json(spread);
    return j;
}

// The driver's unplug (virtio_mem_sbm_unplug_request): offline units first, then
// online ones subblock by subblock through alloc_contig_range. What it can give
// back is every plugged subblock of an offline unit, and of an online one each
// that test_fake_offline_pages passes, while what they migrate fits outside the
// device.
ordered_json shrink_json(const machine::Machine& m, const machine::VirtioMem& dev, const AllocName& names)
{
    const mm::Kernel& k = m.kernel();
    ordered_json j;
    j["requested_size"] = dev.requested_size();
    j["plugged_size"] = dev.plugged_size();
    const drivers::VirtioMemDriver* drv = m.virtio_mem().driver_of(dev);
    if (!drv || m.config().stopped) {
        j["driver"] = false;
        j["can_give_back"] = 0;
        j["smallest_request_served"] = dev.plugged_size();
        j["kept"] = ordered_json::array();
        return j;
    }
    j["driver"] = true;
    const uint64_t sb = drv->subblock_size(), unit = drv->unit_size(), bs = dev.block_size();
    j["subblock_size"] = sb;
    const bool unplug_online = m.virtio_mem().params().unplug_online;
    const mm::Gfp gfp{mm::ZoneType::Movable, mm::MigrateType::Movable, false};
    const Pfn dev_start = Pfn::from_phys(dev.addr());
    const PageCount room = k.page_alloc().allocatable_pages(
        dev.node() < int(k.nodes().size()) ? dev.node() : 0, gfp,
        std::pair{dev_start, dev_start + PageCount::from_bytes(dev.region_size())});
    PageCount migrating;
    uint64_t give = 0;
    struct Kept {
        std::string why;
        uint64_t bytes = 0;
        ordered_json example;
    };
    std::map<std::string, Kept> kept;  // by reason and owner
    uint64_t kept_bytes = 0;
    auto keep = [&](const std::string& why, ordered_json example) {
        Kept& kp = kept[why + (example.is_null() ? "" : example["owner"]["kind"].dump())];
        if (!kp.bytes) kp.example = std::move(example);
        kp.why = why;
        kp.bytes += sb;
        kept_bytes += sb;
    };
    // Removing a unit frees the memmap of its sections, which lives in kernel
    // memory, maybe in a unit the driver visits later (its unplug_order): that
    // unit then finds those subblocks free.
    std::vector<std::pair<Pfn, PageCount>> freed;
    auto only_freed_memmap_blocks = [&](uint64_t a) {
        bool ok = true;
        k.memmap().for_each_run(Pfn::from_phys(a), Pfn::from_phys(a + sb), [&](Pfn b, PageCount len, mm::PageInfo info) {
            if (info.state == mm::PageState::Free || info.state == mm::PageState::Movable) return true;
            ok = info.state == mm::PageState::Unmovable &&
                 std::any_of(freed.begin(), freed.end(), [&](const auto& f) { return f.first <= b && b + len <= f.first + f.second; });
            return ok;
        });
        return ok;
    };
    for (uint64_t u : drv->unplug_order(k)) {
        const mm::MemoryBlock* mem = k.find_memory_block(mm::BlockId(u / k.memory_block_size_bytes()));
        const bool online = mem && mem->state != mm::MemState::Offline;
        const uint64_t kept_before = kept_bytes;
        for (uint64_t a = u; a < u + unit; a += sb) {
            bool plugged = true;
            for (uint64_t b = a; b < a + sb && plugged; b += bs) plugged = dev.block_plugged(b);
            if (!plugged) continue;
            if (!online) {
                give += sb;
                continue;
            }
            if (!unplug_online) {
                keep("online memory stays (virtio_mem.unplug_online=0)", nullptr);
                continue;
            }
            const mm::OfflineTest t = k.test_fake_offline_pages(Pfn::from_phys(a), PageCount::from_bytes(sb));
            if (t.err && !(t.culprit && only_freed_memmap_blocks(a))) {
                keep(t.why(), test_json(k, t, names)["culprit"]);
                continue;
            }
            if (migrating + t.migrate_pages > room) {
                keep("alloc_contig_range: no memory to migrate to", nullptr);
                continue;
            }
            migrating += t.migrate_pages;
            give += sb;
        }
        if (kept_bytes != kept_before) continue;
        for (uint64_t a = u; a < u + unit; a += mm::PAGES_PER_SECTION << mm::PAGE_SHIFT)
            if (const mm::PageRanges* r = k.section_memmap(mm::pfn_to_section_nr(Pfn::from_phys(a))))
                freed.insert(freed.end(), r->begin(), r->end());
    }
    j["can_give_back"] = give;
    j["smallest_request_served"] = dev.plugged_size() - give;
    j["migrate_pages"] = migrating.value();
    ordered_json ka = ordered_json::array();
    for (auto& [key, kp] : kept) ka.push_back({{"reason", kp.why}, {"bytes", kp.bytes}, {"culprit", kp.example}});
    j["kept"] = std::move(ka);
    return j;
}

ordered_json unplug_report(const machine::Machine& m, const AllocName& names)
{
    const mm::Kernel& k = m.kernel();
    ordered_json r;
    r["schema"] = k_report_schema;
    r["report"] = "unplug";
    r["memory_block_size"] = k.memory_block_size_bytes();
    ordered_json devs = ordered_json::array();
    std::vector<std::pair<uint64_t, uint64_t>> device_ranges;
    for (const auto& d : m.memory_devices()) {
        ordered_json j;
        j["id"] = d->id();
        j["type"] = d->qom_type();
        j["addr"] = d->address();
        j["size"] = d->region_size();
        j["node"] = d->numa_node();
        const auto vs = verdicts(k, d->address(), d->region_size());
        device_ranges.emplace_back(d->address(), d->region_size());
        if (const auto* dimm = dynamic_cast<const machine::PcDimm*>(d.get()))
            j["eject"] = eject_json(m, *dimm, vs);
        else if (const auto* vm = dynamic_cast<const machine::VirtioMem*>(d.get()))
            j["shrink"] = shrink_json(m, *vm, names);
        j["blocks"] = blocks_json(k, vs, names);
        devs.push_back(std::move(j));
    }
    r["devices"] = std::move(devs);
    // Blocks of no device: boot memory.
    std::vector<BlockVerdict> boot;
    for (const auto& [id, mem] : k.memory_blocks()) {
        const uint64_t a = id.value() * k.memory_block_size_bytes();
        bool in_device = false;
        for (const auto& [b, sz] : device_ranges) in_device |= a >= b && a < b + sz;
        if (!in_device) boot.push_back({&mem, k.test_offline_block(id)});
    }
    r["boot_blocks"] = blocks_json(k, boot, names);
    return r;
}

ordered_json hugepages_report(const machine::Machine& m)
{
    const mm::Kernel& k = m.kernel();
    ordered_json r;
    r["schema"] = k_report_schema;
    r["report"] = "hugepages";
    r["memmap_on_memory"] = k.params().memmap_on_memory;
    static constexpr std::array<std::string_view, mm::HugeZoneForecast::NR_CLASSES> class_names = {
        "free", "compactable", "other_zone", "not_online", "hugetlb", "unmovable", "reserved"};
    ordered_json sizes = ordered_json::array();
    for (auto h : {mm::Hugetlb::HSTATE_2M, mm::Hugetlb::HSTATE_1G}) {
        const mm::Hstate& hs = k.hugetlb().hstate(h);
        ordered_json s;
        s["size_kb"] = hs.size_kb();
        s["nr_hugepages"] = hs.nr_huge_pages;
        s["free_hugepages"] = hs.free_huge_pages;
        ordered_json nodes = ordered_json::array();
        uint64_t total = 0, total_free = 0;
        for (const mm::PgData& p : k.nodes()) {
            if (!p.online || !p.node_present_pages) continue;
            const mm::HugeForecast f = k.hugetlb().forecast(k.page_alloc(), h, p.node_id);
            ordered_json n;
            n["node"] = p.node_id;
            n["pool"] = hs.nr_huge_pages_node[size_t(p.node_id)];
            n["free"] = hs.free_list[size_t(p.node_id)].size();
            n["more"] = f.expected;
            n["more_without_compaction"] = f.without_compaction;
            ordered_json zones = ordered_json::array();
            for (const mm::HugeZoneForecast& z : f.zones) {
                ordered_json zj;
                zj["zone"] = mm::zone_name(z.zone);
                zj["more"] = z.expected;
                ordered_json ranges;
                for (size_t c = 0; c < class_names.size(); ++c) ranges[std::string(class_names[c])] = z.ranges[c];
                zj["ranges"] = std::move(ranges);
                zj["compaction_migrates_pages"] = z.to_migrate.value();
                zj["watermark_room"] = z.watermark_room == UINT64_MAX ? ordered_json(nullptr) : ordered_json(z.watermark_room);
                zones.push_back(std::move(zj));
            }
            n["zones"] = std::move(zones);
            total += f.expected;
            total_free += f.without_compaction;
            nodes.push_back(std::move(n));
        }
        s["more"] = total;
        s["more_without_compaction"] = total_free;
        s["nodes"] = std::move(nodes);
        sizes.push_back(std::move(s));
    }
    r["sizes"] = std::move(sizes);
    return r;
}

// ------------------------------------------------------------------ plug

// A pc-dimm of `size` plugged now: QEMU's pre-plug checks (slot, space, placement),
// then the guest's acpi_memory_enable_device -> add_memory checks at the address
// QEMU picks. `qemu_error` set: QEMU refuses; `guest` an error: the DIMM stays in
// QEMU and the guest does not use it.
struct DimmVerdict {
    std::optional<std::string> qemu_error;
    uint64_t addr = 0;
    KResult<mm::PageCount> guest = mm::PageCount();
};

unsigned dimm_mhp_flags(const mm::Kernel& k, uint64_t size)
{
    return k.mhp_supports_memmap_on_memory(size) ? unsigned(mm::MHP_MEMMAP_ON_MEMORY) : 0u;
}

// The DIMM device_add would make without node=: on node 0.
DimmVerdict dimm_verdict(const machine::Machine& m, uint64_t size)
{
    DimmVerdict v;
    if (auto slot = m.pc_dimm_free_slot(); !slot) {
        v.qemu_error = slot.error().desc;
        return v;
    }
    auto addr = m.memory_device_pre_plug(size, machine::Machine::k_dimm_align, std::nullopt);
    if (!addr) {
        v.qemu_error = addr.error().desc;
        return v;
    }
    v.addr = *addr;
    const mm::Kernel& k = m.kernel();
    v.guest = k.test_add_memory(0, *addr, size, dimm_mhp_flags(k, size));
    return v;
}

// The largest n in [0, hi] with ok(n), for ok true up to some n and false after.
template <typename F>
uint64_t largest_where(uint64_t hi, F&& ok)
{
    uint64_t lo = 0;
    while (lo < hi) {
        const uint64_t mid = lo + (hi - lo + 1) / 2;
        if (ok(mid)) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

ordered_json err_json(int err, const std::string& reason)
{
    return {{"errno", err ? ordered_json(errno_name(err)) : ordered_json(nullptr)}, {"reason", reason}};
}

ordered_json dimm_json(const machine::Machine& m)
{
    const mm::Kernel& k = m.kernel();
    const uint64_t bs = k.memory_block_size_bytes();
    ordered_json j;
    auto slot = m.pc_dimm_free_slot();
    j["slot"] = slot ? ordered_json(*slot) : ordered_json(nullptr);
    // QEMU: the largest block multiple it places (placement is first fit, so a
    // size that fits means every smaller one does).
    const uint64_t space_blocks = m.config().maxram_size > m.config().ram_size
                                      ? (m.config().maxram_size - m.config().ram_size) / bs : 0;
    const uint64_t qemu_blocks = largest_where(space_blocks, [&](uint64_t n) { return !dimm_verdict(m, n * bs).qemu_error; });
    j["qemu_max"] = qemu_blocks * bs;
    const DimmVerdict above = dimm_verdict(m, (qemu_blocks + 1) * bs);
    j["qemu_refuses_above"] = above.qemu_error ? ordered_json(*above.qemu_error) : ordered_json(nullptr);
    // The guest: add_memory at QEMU's address, its memmap from kernel memory
    // (memmap_on_memory only for a DIMM of exactly one block, as Linux 6.1's ACPI driver adds it whole).
    const uint64_t guest_blocks = largest_where(qemu_blocks, [&](uint64_t n) {
        const DimmVerdict v = dimm_verdict(m, n * bs);
        return !v.qemu_error && v.guest.has_value();
    });
    j["memmap_on_memory_size"] = k.mhp_supports_memmap_on_memory(bs) ? ordered_json(bs) : ordered_json(nullptr);
    j["largest"] = guest_blocks * bs;
    if (guest_blocks < qemu_blocks) {
        const DimmVerdict v = dimm_verdict(m, (guest_blocks + 1) * bs);
        j["limit"] = {{"by", "guest"}, {"errno", errno_name(v.guest.error().err)}, {"reason", v.guest.error().reason}};
    } else {
        j["limit"] = {{"by", "qemu"}, {"errno", nullptr}, {"reason", j["qemu_refuses_above"]}};
    }
    const DimmVerdict at = dimm_verdict(m, guest_blocks * bs);
    const mm::PageCount memmap = guest_blocks && at.guest ? *at.guest : mm::PageCount();
    j["memmap_bytes"] = memmap.bytes();
    const mm::PageCount free_min = k.page_alloc().allocatable_pages(0, mm::GFP_KERNEL),
                        free_low = k.kernel_free_above(mm::WMARK_LOW);
    j["kernel_free_after"] = (free_min - std::min(free_min, memmap)).bytes();
    // Were QEMU to take any size: where the memmap alone pushes kernel memory
    // under the low watermark (kswapd, direct reclaim), and where add_memory refuses it.
    const uint64_t per_block = mm::Kernel::memmap_pages(bs).value();
    j["reclaim_from"] = (free_low.value() / per_block + 1) * bs;
    j["enomem_from"] = (free_min.value() / per_block + 1) * bs;
    return j;
}

ordered_json virtio_mem_plug_json(const machine::Machine& m, const machine::VirtioMem& dev, uint64_t requested)
{
    ordered_json j;
    j["requested_size"] = requested;
    if (auto q = dev.check_requested_size(requested); !q) {
        j["qemu_error"] = q.error().desc;
        return j;
    }
    j["qemu_error"] = nullptr;
    const drivers::VirtioMemDriver* drv = m.virtio_mem().driver_of(dev);
    if (!drv || m.config().stopped) {
        j["reached"] = dev.plugged_size();
        j["stop"] = err_json(0, "no guest driver acts on it");
        return j;
    }
    if (requested < dev.plugged_size()) {
        // A shrink: as far as the unplug report says it can go.
        const uint64_t smallest = shrink_json(m, dev, {})["smallest_request_served"];
        j["reached"] = std::max(requested, smallest);
        j["stop"] = smallest > requested ? err_json(0, "a shrink: what stays plugged, see report unplug") : ordered_json(nullptr);
        return j;
    }
    const auto f = drv->plug_forecast(m.kernel(), requested);
    j["reached"] = f.reached;
    j["stop"] = f.reached < requested ? err_json(f.err, f.reason) : ordered_json(nullptr);
    j["units_added"] = f.units_added;
    j["memmap_bytes"] = f.memmap_pages.bytes();
    j["kernel_free_after"] = f.kernel_free.bytes();
    return j;
}

tl::expected<ordered_json, std::string> plug_report(const machine::Machine& m, std::string_view step)
{
    const mm::Kernel& k = m.kernel();
    ordered_json r;
    r["schema"] = k_report_schema;
    r["report"] = "plug";
    const uint64_t bs = k.memory_block_size_bytes();
    r["memory_block_size"] = bs;
    r["memmap_on_memory"] = k.params().memmap_on_memory;
    r["online_type"] = views::online_type_to_str(k.params().mhp_default_online_type);
    r["kernel_memory"] = {{"gfp_kernel_allocatable", k.page_alloc().allocatable_pages(0, mm::GFP_KERNEL).bytes()},
                          {"free_above_low", k.kernel_free_above(mm::WMARK_LOW).bytes()},
                          {"memmap_per_block", mm::Kernel::memmap_pages(bs).bytes()}};
    r["dimm"] = m.config().ram_slots && m.device_memory_size() ? dimm_json(m) : ordered_json(nullptr);
    ordered_json devs = ordered_json::array();
    for (const auto& d : m.memory_devices()) {
        const auto* vm = dynamic_cast<const machine::VirtioMem*>(d.get());
        if (!vm) continue;
        ordered_json j;
        j["id"] = vm->id();
        j["node"] = vm->numa_node();
        j["plugged_size"] = vm->plugged_size();
        j["region_size"] = vm->region_size();
        if (const drivers::VirtioMemDriver* drv = m.virtio_mem().driver_of(*vm)) {
            j["unit_size"] = drv->unit_size();
            j["subblock_size"] = drv->subblock_size();
        }
        // The largest request QEMU takes is the whole region; how far the guest gets towards it.
        j["full"] = virtio_mem_plug_json(m, *vm, vm->region_size());
        j["largest_served"] = j["full"]["reached"];
        devs.push_back(std::move(j));
    }
    r["virtio_mem"] = std::move(devs);
    if (!step.empty()) {
        ordered_json s;
        const auto colon = step.find(':');
        if (colon == std::string_view::npos) return tl::unexpected(fmt::format("'{}': a step is dimm:SIZE or ID:SIZE", step));
        const std::string target(step.substr(0, colon));
        const auto size = machine::parse_size(step.substr(colon + 1));
        if (!size) return tl::unexpected(fmt::format("'{}': {}", step, size.error()));
        if (target != "dimm" && std::none_of(m.memory_devices().begin(), m.memory_devices().end(), [&](const auto& d) {
                return d->id() == target && dynamic_cast<const machine::VirtioMem*>(d.get());
            }))
            return tl::unexpected(fmt::format("'{}': no virtio-mem-pci device '{}' (a step is dimm:SIZE or ID:SIZE)", step, target));
        s["target"] = target;
        s["size"] = *size;
        if (target == "dimm") {
            const DimmVerdict v = dimm_verdict(m, *size);
            s["qemu_error"] = v.qemu_error ? ordered_json(*v.qemu_error) : ordered_json(nullptr);
            if (!v.qemu_error) {
                s["addr"] = v.addr;
                s["guest_adds"] = v.guest.has_value();
                s["guest_error"] = v.guest ? ordered_json(nullptr) : err_json(v.guest.error().err, v.guest.error().reason);
                s["memmap_bytes"] = v.guest ? v.guest->bytes() : 0;
            }
        } else {
            for (const auto& d : m.memory_devices())
                if (const auto* vm = dynamic_cast<const machine::VirtioMem*>(d.get()); vm && vm->id() == target)
                    s["virtio_mem"] = virtio_mem_plug_json(m, *vm, *size);
        }
        r["step"] = std::move(s);
    }
    return r;
}

// ------------------------------------------------------------------ text

std::string block_range(uint64_t first, uint64_t last)
{
    return first == last ? fmt::format("memory{}", first) : fmt::format("memory{}-{}", first, last);
}

std::string owner_text(const ordered_json& o)
{
    const std::string kind = o["kind"];
    if (kind == "pinned") return fmt::format("pinned allocation '{}'", o["name"].get<std::string>());
    if (kind == "memmap") return fmt::format("memmap of section {}", o["section"].get<uint64_t>());
    if (kind == "shmem") return fmt::format("tmpfs inode {}", o["inode"].get<uint64_t>());
    if (kind == "boot-reserved") return "boot memory (memblock)";
    if (kind == "vmemmap") return "the block's own memmap (memmap_on_memory)";
    if (kind == "kernel") return "kernel allocation";
    return kind;
}

std::string culprit_text(const ordered_json& c)
{
    if (c.is_null()) return "";
    return fmt::format(": pfn {:#x} {} in {} ({})", c["pfn"].get<uint64_t>(), c["page"].get<std::string>(),
                       c["zone"].get<std::string>(), owner_text(c["owner"]));
}

std::string spread_text(const ordered_json& to)
{
    std::string s;
    for (const ordered_json& t : to)
        s += fmt::format("{}node{} {} {}", s.empty() ? "" : ", ", t["node"].get<int>(), t["zone"].get<std::string>(),
                         t["pages"].get<uint64_t>());
    return s;
}

std::string offline_text(const ordered_json& v, uint64_t migrate_pages)
{
    if (v["ok"]) {
        std::string s = "offline ok";
        if (migrate_pages) s += fmt::format(", migrates {} pages ({})", migrate_pages, human_bytes(migrate_pages * mm::PAGE_SIZE));
        if (v["migrate_to"].size() && migrate_pages == v["migrate_pages"].get<uint64_t>())
            s += " to " + spread_text(v["migrate_to"]);
        if (uint64_t h = v["dissolve_huge_pages_bytes"]) s += fmt::format(", dissolves {} of free huge pages", human_bytes(h));
        return s;
    }
    return fmt::format("offline refused: {} {}{}", v["errno"].get<std::string>(), v["reason"].get<std::string>(),
                       culprit_text(v["culprit"]));
}

// Consecutive blocks with the same answer share a line (a 64 TiB guest fits a screen).
void blocks_text(std::string& out, const ordered_json& blocks)
{
    size_t i = 0;
    while (i < blocks.size()) {
        const ordered_json& b = blocks[i];
        const ordered_json& v = b["offline"];
        auto key = [](const ordered_json& x) {
            const ordered_json& o = x["offline"];
            return fmt::format("{}|{}|{}|{}|{}|{}|{}", x["state"].dump(), x["zone"].dump(), x["node"].dump(),
                               o["errno"].dump(), o["reason"].dump(),
                               o["culprit"].is_null() ? "" : o["culprit"]["owner"].dump(), o["ok"].dump());
        };
        const std::string k = key(b);
        size_t e = i + 1;
        uint64_t migrate = v["migrate_pages"];
        while (e < blocks.size() && blocks[e]["block"].get<uint64_t>() == blocks[e - 1]["block"].get<uint64_t>() + 1 &&
               key(blocks[e]) == k) {
            migrate += blocks[e]["offline"]["migrate_pages"].get<uint64_t>();
            ++e;
        }
        const std::string what = b["state"] == "offline"
                                     ? "offline already"
                                     : offline_text(v, migrate) + (e - i > 1 && migrate ? " (all together)" : "");
        out += fmt::format("  {:<18} {:<8} {:<8} node{}  {}\n", block_range(b["block"], blocks[e - 1]["block"]),
                           b["state"].get<std::string>(), b["zone"].is_null() ? "-" : b["zone"].get<std::string>(),
                           b["node"].get<int>(), what);
        i = e;
    }
}

std::string unplug_text(const ordered_json& r)
{
    std::string out = fmt::format("unplug: what offlining and unplugging would do now (memory block {})\n",
                                  human_bytes(r["memory_block_size"]));
    for (const ordered_json& d : r["devices"]) {
        out += fmt::format("{} {}: {} at {:#x}, node {}\n", d["type"].get<std::string>(), d["id"].get<std::string>(),
                           human_bytes(d["size"]), d["addr"].get<uint64_t>(), d["node"].get<int>());
        if (d.contains("eject")) {
            const ordered_json& e = d["eject"];
            if (e["possible"]) {
                out += "  device_del: the guest would offline and eject it";
                if (uint64_t p = e["migrate_pages"])
                    out += fmt::format(", migrating {} pages ({}) to {}", p, human_bytes(p * mm::PAGE_SIZE),
                                       spread_text(e["migrate_to"]));
                out += "\n";
            } else {
                out += fmt::format("  device_del: the guest would refuse the eject (_OST busy): {}{}{}\n",
                                   e["errno"].is_null() ? "" : e["errno"].get<std::string>() + " ",
                                   e["reason"].get<std::string>(),
                                   e["block"].is_null() ? "" : fmt::format(" (memory{})", e["block"].get<uint64_t>()));
            }
        }
        if (d.contains("shrink")) {
            const ordered_json& s = d["shrink"];
            out += fmt::format("  requested-size {}, plugged {}", human_bytes(s["requested_size"]),
                               human_bytes(s["plugged_size"]));
            if (!s["driver"]) {
                out += "; no guest driver acts on it: a shrink gives nothing back\n";
            } else {
                out += fmt::format("; a shrink could give back {}: requested-size >= {} is fully served\n",
                                   human_bytes(s["can_give_back"]), human_bytes(s["smallest_request_served"]));
                for (const ordered_json& kp : s["kept"])
                    out += fmt::format("    kept {}: {}{}\n", human_bytes(kp["bytes"]), kp["reason"].get<std::string>(),
                                       kp["culprit"].is_null() ? "" : culprit_text(kp["culprit"]));
            }
        }
        blocks_text(out, d["blocks"]);
    }
    if (!r["boot_blocks"].empty()) {
        out += "boot memory:\n";
        blocks_text(out, r["boot_blocks"]);
    }
    return out;
}

std::string hugepages_text(const ordered_json& r)
{
    std::string out = fmt::format("hugepages: how many more could be allocated now (memmap_on_memory {})\n",
                                  r["memmap_on_memory"] ? "on" : "off");
    for (const ordered_json& s : r["sizes"]) {
        out += fmt::format("{} pages: pool {} ({} free); {} more ({} without compaction)\n",
                           human_bytes(s["size_kb"].get<uint64_t>() * 1024), s["nr_hugepages"].get<uint64_t>(),
                           s["free_hugepages"].get<uint64_t>(), s["more"].get<uint64_t>(),
                           s["more_without_compaction"].get<uint64_t>());
        for (const ordered_json& n : s["nodes"])
            for (const ordered_json& z : n["zones"]) {
                const ordered_json& rg = z["ranges"];
                std::string blocked;
                for (const auto& [name, count] : rg.items()) {
                    if (name == "free" || name == "compactable" || !count.get<uint64_t>()) continue;
                    blocked += fmt::format("{}{} {}", blocked.empty() ? "" : ", ", count.get<uint64_t>(), name);
                }
                out += fmt::format("  node{} {:<8} {:>8} more: {} free, {} compactable ({} pages to migrate){}{}\n",
                                   n["node"].get<int>(), z["zone"].get<std::string>(), z["more"].get<uint64_t>(),
                                   rg["free"].get<uint64_t>(), rg["compactable"].get<uint64_t>(),
                                   z["compaction_migrates_pages"].get<uint64_t>(),
                                   z["watermark_room"].is_null()
                                       ? ""
                                       : fmt::format(", watermark lets {}", z["watermark_room"].get<uint64_t>()),
                                   blocked.empty() ? "" : "; blocked: " + blocked);
            }
    }
    return out;
}

std::string plug_stop_text(const ordered_json& v)
{
    if (!v["qemu_error"].is_null()) return fmt::format("QEMU refuses: \"{}\"", v["qemu_error"].get<std::string>());
    const uint64_t reached = v["reached"];
    std::string out = reached == v["requested_size"].get<uint64_t>() ? fmt::format("fully served")
                                                                     : fmt::format("stops at {}", human_bytes(reached));
    if (!v["stop"].is_null())
        out += fmt::format(" ({}{})", v["stop"]["errno"].is_null() ? "" : v["stop"]["errno"].get<std::string>() + ": ",
                           v["stop"]["reason"].get<std::string>());
    if (v.contains("memmap_bytes") && v["memmap_bytes"].get<uint64_t>())
        out += fmt::format("; memmap {} from kernel memory, {} left for GFP_KERNEL", human_bytes(v["memmap_bytes"]),
                           human_bytes(v["kernel_free_after"]));
    return out;
}

std::string plug_text(const ordered_json& r)
{
    const ordered_json& km = r["kernel_memory"];
    std::string out = fmt::format("plug: what plugging memory would do now (memory block {}, memmap_on_memory {}, "
                                  "new blocks {})\n",
                                  human_bytes(r["memory_block_size"]), r["memmap_on_memory"] ? "on" : "off",
                                  r["online_type"].get<std::string>());
    out += fmt::format("kernel memory: {} for GFP_KERNEL allocations (the memmap's too), {} free above the low "
                       "watermarks; the memmap of each block takes {}\n",
                       human_bytes(km["gfp_kernel_allocatable"]), human_bytes(km["free_above_low"]),
                       human_bytes(km["memmap_per_block"]));
    if (r["dimm"].is_null()) {
        out += "pc-dimm: none can be plugged (no slots or maxmem on the command line)\n";
    } else {
        const ordered_json& d = r["dimm"];
        out += fmt::format("pc-dimm{}: QEMU places up to {}", d["slot"].is_null() ? "" : fmt::format(" (slot {})", d["slot"].get<int>()),
                           human_bytes(d["qemu_max"]));
        if (!d["qemu_refuses_above"].is_null()) out += fmt::format("; above: \"{}\"", d["qemu_refuses_above"].get<std::string>());
        out += "\n";
        out += fmt::format("  largest the guest adds now: {}", human_bytes(d["largest"]));
        if (uint64_t mm = d["memmap_bytes"]) out += fmt::format(", its memmap {} from kernel memory, {} left for GFP_KERNEL",
                                                                human_bytes(mm), human_bytes(d["kernel_free_after"]));
        if (!d["memmap_on_memory_size"].is_null())
            out += fmt::format(" (memmap_on_memory for a {} DIMM only)", human_bytes(d["memmap_on_memory_size"]));
        out += "\n";
        if (d["limit"]["by"] == "guest")
            out += fmt::format("  larger: add_memory fails, {} {}; the DIMM stays in QEMU, unused by the guest\n",
                               d["limit"]["errno"].get<std::string>(), d["limit"]["reason"].get<std::string>());
        out += fmt::format("  memmap alone: from {} kernel memory falls under the low watermark (reclaim on every "
                           "allocation), from {} add_memory fails with ENOMEM\n",
                           human_bytes(d["reclaim_from"]), human_bytes(d["enomem_from"]));
    }
    for (const ordered_json& v : r["virtio_mem"]) {
        out += fmt::format("virtio-mem-pci {}: plugged {} of {}, node {}", v["id"].get<std::string>(),
                           human_bytes(v["plugged_size"]), human_bytes(v["region_size"]), v["node"].get<int>());
        if (v.contains("unit_size"))
            out += fmt::format(" ({} units, {} subblocks)", human_bytes(v["unit_size"]), human_bytes(v["subblock_size"]));
        out += fmt::format("\n  requested-size {}: {}\n", human_bytes(v["full"]["requested_size"]), plug_stop_text(v["full"]));
    }
    if (r.contains("step")) {
        const ordered_json& s = r["step"];
        out += fmt::format("step {}:{}: ", s["target"].get<std::string>(), human_bytes(s["size"]));
        if (s.contains("virtio_mem")) {
            out += plug_stop_text(s["virtio_mem"]) + "\n";
        } else if (!s["qemu_error"].is_null()) {
            out += fmt::format("QEMU refuses: \"{}\"\n", s["qemu_error"].get<std::string>());
        } else if (s["guest_adds"]) {
            out += fmt::format("QEMU places it at {:#x}, the guest adds it (memmap {})\n", s["addr"].get<uint64_t>(),
                               human_bytes(s["memmap_bytes"]));
        } else {
            out += fmt::format("QEMU places it at {:#x}; add_memory fails, {} {}: unused by the guest\n",
                               s["addr"].get<uint64_t>(), s["guest_error"]["errno"].get<std::string>(),
                               s["guest_error"]["reason"].get<std::string>());
        }
    }
    return out;
}

}  // namespace

tl::expected<ordered_json, std::string> build_report(const machine::Machine& m, std::string_view kind,
                                                     const AllocName& names, std::string_view step)
{
    if (!step.empty() && kind != "plug") return tl::unexpected(fmt::format("report {} takes no step", kind));
    if (kind == "unplug") return unplug_report(m, names);
    if (kind == "hugepages") return hugepages_report(m);
    if (kind == "plug") return plug_report(m, step);
    return tl::unexpected(fmt::format("unknown report '{}': expected one of {}", kind, k_report_kinds));
}

std::string render_report(const ordered_json& r, ReportFormat format)
{
    if (format == ReportFormat::Json) return r.dump(2) + "\n";
    if (r["report"] == "unplug") return unplug_text(r);
    if (r["report"] == "plug") return plug_text(r);
    return hugepages_text(r);
}

tl::expected<std::string, std::string> report_command(const machine::Machine& m, std::string_view args,
                                                      const AllocName& names)
{
    std::istringstream in{std::string(args)};
    std::vector<std::string> w;
    for (std::string t; in >> t;) w.push_back(t);
    ReportFormat format = ReportFormat::Text;
    std::string kind, step;
    const std::string usage = fmt::format("usage: report KIND [STEP] [--json] (KIND: {}; STEP, plug only: dimm:SIZE or ID:SIZE)", k_report_kinds);
    for (const std::string& a : w) {
        if (a == "--json")
            format = ReportFormat::Json;
        else if (kind.empty())
            kind = a;
        else if (step.empty())
            step = a;
        else
            return tl::unexpected(usage);
    }
    if (kind.empty()) return tl::unexpected(usage);
    // The map is a picture: SVG, which has no JSON form.
    if (kind == "map") {
        if (format == ReportFormat::Json) return tl::unexpected(std::string("report map draws SVG; it has no --json"));
        if (!step.empty()) return tl::unexpected(std::string("report map takes no step"));
        return memory_map_svg(m);
    }
    auto r = build_report(m, kind, names, step);
    if (!r) return tl::unexpected(r.error());
    return render_report(*r, format);
}

}  // namespace memplug::fe
