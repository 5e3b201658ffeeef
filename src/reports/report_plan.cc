// Plans of plug steps: parsed against the machine, judged by the plug report and
// performed for real on a fork (Machine::fork), so what a step does is what the
// model does, never a second account of it; the machine asked about is untouched.
#include "reports/report_kinds.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "machine/qemu_opts.h"

namespace memplug::fe::report_detail {

using nlohmann::ordered_json;

tl::expected<PlugStep, std::string> parse_plug_step(const machine::Machine& m, std::string_view text)
{
    PlugStep s;
    s.text = std::string(text);
    const auto colon = text.find(':');
    if (colon == std::string_view::npos)
        return tl::unexpected(fmt::format("'{}': a step is dimm:SIZE, dimm:SIZE@NODE or ID:SIZE", text));
    s.target = std::string(text.substr(0, colon));
    std::string_view size = text.substr(colon + 1);
    if (const auto at = size.find('@'); at != std::string_view::npos) {
        if (s.target != "dimm") return tl::unexpected(fmt::format("'{}': only a dimm step takes @NODE", text));
        // QEMU's pc-dimm takes node= below the -numa node count (node 0 without -numa).
        const std::string_view n = size.substr(at + 1);
        const int nodes = int(std::max<size_t>(m.config().numa.size(), 1));
        int node = -1;
        const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), node);
        if (n.empty() || ec != std::errc() || end != n.data() + n.size() || node < 0 || node >= nodes)
            return tl::unexpected(fmt::format("'{}': NODE is a NUMA node of the machine, 0 to {}", text, nodes - 1));
        s.node = node;
        size = size.substr(0, at);
    }
    const auto bytes = machine::parse_size(size);
    if (!bytes) return tl::unexpected(fmt::format("'{}': {}", text, bytes.error()));
    s.size = *bytes;
    if (s.target != "dimm" && std::none_of(m.memory_devices().begin(), m.memory_devices().end(), [&](const auto& d) {
            return d->id() == s.target && dynamic_cast<const machine::VirtioMem*>(d.get());
        }))
        return tl::unexpected(
            fmt::format("'{}': no virtio-mem-pci device '{}' (a step is dimm:SIZE or ID:SIZE)", text, s.target));
    return s;
}

tl::expected<std::vector<PlugStep>, std::string> parse_plan(const machine::Machine& m, std::string_view text)
{
    std::vector<PlugStep> steps;
    for (size_t b = 0;;) {
        const size_t e = std::min(text.find(',', b), text.size());
        if (e == b) return tl::unexpected(fmt::format("plan '{}': an empty step", text));
        steps.push_back(MP_TRY(parse_plug_step(m, text.substr(b, e - b))));
        if (e == text.size()) return steps;
        b = e + 1;
    }
}

namespace {

// What the guest kernel printed as warnings and errors while the step ran.
ordered_json guest_log_since(const mm::KernelLog& log, uint64_t seq)
{
    ordered_json out = ordered_json::array();
    for (const mm::LogRecord& r : log.since(seq))
        if (r.level <= mm::LogLevel::Warning) out.push_back(r.text);
    return out;
}

// An object id no existing object has: the plan's backends sit beside the user's.
std::string free_backend_id(const machine::Machine& m)
{
    const auto objects = m.qom_list("/objects");
    for (int n = 0;; ++n) {
        std::string id = fmt::format("memplug-plan{}", n);
        if (!objects || std::none_of(objects->begin(), objects->end(), [&](const auto& p) { return p.name == id; }))
            return id;
    }
}

}  // namespace

ordered_json perform_plug_step(machine::Machine& m, const PlugStep& s)
{
    mm::KernelLog& log = m.kernel().log();
    const uint64_t seq = log.next_seq();
    ordered_json o;
    if (s.target == "dimm") {
        // object-add memory-backend-ram, then device_add pc-dimm without an id (so it
        // cannot clash with the user's devices); the guest's ACPI driver adds it.
        const std::string memdev = free_backend_id(m);
        auto r = m.object_add({{"qom-type", "memory-backend-ram"}, {"id", memdev}, {"size", s.size}}, machine::Input::Json);
        machine::QObject dev = {{"driver", "pc-dimm"}, {"memdev", memdev}};
        if (s.node) dev["node"] = std::to_string(*s.node);
        const size_t before = m.memory_devices().size();
        if (r) r = m.device_add(dev);
        o["qemu_error"] = r ? ordered_json(nullptr) : ordered_json(r.error().desc);
        if (r && m.memory_devices().size() > before) {
            const uint64_t addr = m.memory_devices().back()->address();
            o["addr"] = addr;
            o["guest_adds"] = m.kernel().find_memory_block(mm::BlockId(addr / m.kernel().memory_block_size_bytes())) != nullptr;
        }
        o["ok"] = r && o.value("guest_adds", false);
    } else {
        auto r = m.qom_set(s.target, "requested-size", machine::QObject(s.size), machine::Input::Json);
        o["qemu_error"] = r ? ordered_json(nullptr) : ordered_json(r.error().desc);
        for (const auto& d : m.memory_devices())
            if (const auto* vm = dynamic_cast<const machine::VirtioMem*>(d.get()); vm && vm->id() == s.target)
                o["reached"] = vm->plugged_size();
        o["ok"] = r && o["reached"].get<uint64_t>() == s.size;
    }
    o["guest_log"] = guest_log_since(log, seq);
    return o;
}

tl::expected<ordered_json, std::string> plug_plan_json(const machine::Machine& m, std::string_view plan)
{
    const std::vector<PlugStep> steps = MP_TRY(parse_plan(m, plan));
    const std::unique_ptr<machine::Machine> fork = m.fork();
    ordered_json out;
    ordered_json js = ordered_json::array();
    ordered_json first = nullptr;
    for (size_t i = 0; i < steps.size(); ++i) {
        ordered_json j;
        j["step"] = steps[i].text;
        j["judged"] = plug_step_json(*fork, steps[i]);
        j["outcome"] = perform_plug_step(*fork, steps[i]);
        const mm::Kernel& k = fork->kernel();
        j["kernel_memory"] = {{"gfp_kernel_allocatable", k.page_alloc().allocatable_pages(0, mm::GFP_KERNEL).bytes()},
                              {"free_above_low", k.kernel_free_above(mm::WMARK_LOW).bytes()}};
        if (first.is_null() && !j["outcome"]["ok"].get<bool>()) first = i;
        js.push_back(std::move(j));
    }
    out["steps"] = std::move(js);
    out["first_failure"] = first;
    return out;
}

std::string plug_outcome_text(const ordered_json& o)
{
    std::string out;
    if (!o["qemu_error"].is_null()) {
        out = fmt::format("QEMU refused: \"{}\"", o["qemu_error"].get<std::string>());
    } else if (o.contains("reached")) {
        out = fmt::format("reached {}", human_bytes(o["reached"]));
    } else {
        out = fmt::format("placed at {:#x}, {}", o["addr"].get<uint64_t>(),
                          o["guest_adds"].get<bool>() ? "the guest added it" : "the guest did not add it");
    }
    for (const ordered_json& l : o["guest_log"]) out += fmt::format("; guest: \"{}\"", l.get<std::string>());
    return out;
}

}  // namespace memplug::fe::report_detail
