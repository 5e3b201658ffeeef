// report unplug: would offlining each block, ejecting each DIMM and shrinking each
// virtio-mem device succeed now, and why not.
#include "reports/report_kinds.h"

#include <cstring>
#include <map>
#include <vector>

#include <fmt/format.h>

namespace memplug::fe::report_detail {

using nlohmann::ordered_json;
using mm::PageCount;
using mm::Pfn;

namespace {

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

}  // namespace

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
    bool replacing = false;  // some subblock's free huge pages would be replaced
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
    // virtio_mem_fake_offline's ENOMEM ends the request: the rest stays plugged.
    std::string stopped;
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
            if (!stopped.empty()) {
                keep("the unplug request ended at an earlier subblock: " + stopped + " (ENOMEM)", nullptr);
                continue;
            }
            const mm::OfflineTest t = k.test_fake_offline_pages(Pfn::from_phys(a), PageCount::from_bytes(sb));
            if (t.err == ENOMEM) {
                stopped = t.reason;
                keep(t.why() + " (ENOMEM: the request ends here)", nullptr);
                continue;
            }
            if (t.err && !(t.culprit && only_freed_memmap_blocks(a))) {
                keep(t.why(), test_json(k, t, names)["culprit"]);
                continue;
            }
            // A free huge page replaced takes a fresh one's worth of free memory.
            const PageCount moves = t.migrate_pages + PageCount(t.replaced_huge_pages << mm::pageblock_order);
            if (migrating + moves > room) {
                stopped = t.replaced_huge_pages ? "alloc_contig_range: no fresh huge page to replace a free one"
                                                : "alloc_contig_range: no memory to migrate to";
                keep(stopped + " (ENOMEM: the request ends here)", nullptr);
                continue;
            }
            migrating += moves;
            replacing |= t.replaced_huge_pages != 0;
            give += sb;
        }
        if (kept_bytes != kept_before) continue;
        for (uint64_t a = u; a < u + unit; a += mm::PAGES_PER_SECTION << mm::PAGE_SHIFT)
            if (const mm::PageRanges* r = k.section_memmap(mm::pfn_to_section_nr(Pfn::from_phys(a))))
                freed.insert(freed.end(), r->begin(), r->end());
    }
    // Free huge pages the shrink replaces go where the fresh ones find room, which
    // may be parts of the device visited later: too tangled to add up, so the
    // driver's unplug runs on a fork and says how far it gets.
    if (replacing) {
        auto f = m.fork();
        if (f->qom_set(dev.id(), "requested-size", machine::QObject(uint64_t{0}), machine::Input::Json)) {
            const auto& fd = *std::find_if(f->memory_devices().begin(), f->memory_devices().end(),
                                           [&](const auto& d) { return d->id() == dev.id(); });
            give = dev.plugged_size() - fd->plugged_memory();
            j["simulated"] = true;
            // The subblocks' reasons no longer add up: what the copy kept, as one entry.
            kept.clear();
            if (fd->plugged_memory())
                kept["simulated"] = {"kept by the driver's unplug on a copy (free huge pages replaced on the way)",
                                     fd->plugged_memory(), nullptr};
        }
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
                out += fmt::format("; a shrink could give back {}: requested-size >= {} is fully served{}\n",
                                   human_bytes(s["can_give_back"]), human_bytes(s["smallest_request_served"]),
                                   s.contains("simulated") ? " (free huge pages replaced: the driver's unplug run on a copy)"
                                                           : "");
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

}  // namespace memplug::fe::report_detail
