#include "drivers/acpi_memhotplug.h"

#include <algorithm>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace memplug::drivers {

// acpi_memory_enable_device: one static group and one __add_memory per DIMM;
// the kernel onlines per auto_online_blocks. The guest answers a hot-add
// notification with _OST(DEVICE_CHECK, success) even when add_memory failed,
// as acpi_memory_device_add returns 0 then too.
void AcpiMemoryHotplug::device_check(AcpiMemoryDevice& dev, bool notified)
{
    mm::Kernel& k = m_kernel;
    State s;
    // The ACPI scan names the device PNP0C80:N with the lowest free instance number.
    for (s.instance = 0;; ++s.instance)
        if (std::none_of(m_devices.begin(), m_devices.end(), [&](const auto& d) { return d.second.instance == s.instance; }))
            break;
    const int nid = dev.node() < int(k.nodes().size()) ? dev.node() : 0;
    s.group = k.memory_group_register_static(nid, mm::PageCount::from_bytes(dev.size()));
    unsigned flags = mm::MHP_NID_IS_MGID;
    if (k.mhp_supports_memmap_on_memory(dev.size())) flags |= mm::MHP_MEMMAP_ON_MEMORY;
    if (auto r = k.add_memory(s.group, dev.addr(), dev.size(), flags); !r) {
        // The DIMM stays in QEMU, the guest ignores it (acpi_memory_device_add fails).
        const std::string acpi_dev = fmt::format("acpi PNP0C80:{:02x}", s.instance);
        k.log().pr_err(acpi_dev + ": add_memory failed");
        k.log().pr_err(acpi_dev + ": acpi_memory_enable_device() error");
        k.memory_group_unregister(s.group);
        s.group = -1;
    } else {
        // The memory hotplug container is the fifth PNP0A06 device on both machines.
        const std::string fwnode = fmt::format("../../../LNXSYSTM:00/LNXSYBUS:00/PNP0A06:04/PNP0C80:{:02x}", s.instance);
        for (uint64_t a = dev.addr(); a < dev.addr() + dev.size(); a += k.memory_block_size_bytes())
            k.set_firmware_node(mm::BlockId(a / k.memory_block_size_bytes()), fwnode);
    }
    m_devices[&dev] = s;
    if (notified) dev.ost(ACPI_NOTIFY_DEVICE_CHECK, ACPI_OST_SC_SUCCESS);
}

// acpi_scan_hot_remove: offline every block (two passes), undo on failure,
// otherwise remove the memory.
bool AcpiMemoryHotplug::remove(AcpiMemoryDevice& dev, const State& s)
{
    mm::Kernel& k = m_kernel;
    if (s.group < 0) return true;  // the guest never used it
    const uint64_t bs = k.memory_block_size_bytes();
    std::vector<mm::BlockId> blocks;
    for (uint64_t a = dev.addr(); a < dev.addr() + dev.size(); a += bs) blocks.emplace_back(a / bs);
    std::vector<mm::BlockId> offlined_now;
    std::optional<mm::BlockId> errdev;
    for (int pass = 0; pass < 2; ++pass) {
        errdev.reset();
        for (mm::BlockId id : blocks) {
            auto r = k.device_offline(id);
            if (r && *r == 0) offlined_now.push_back(id);
            if (!r) {
                errdev = id;
                if (pass == 1) break;
            }
        }
        if (!errdev) break;
    }
    if (errdev) {
        k.log().pr_warn(fmt::format("memory memory{}: Offline failed.", errdev->value()));
        // acpi_bus_online: what this attempt offlined comes back with the default type.
        for (mm::BlockId id : offlined_now) (void)k.device_online(id);
        return false;
    }
    if (auto r = k.remove_memory(dev.addr(), dev.size()); !r) return false;
    k.memory_group_unregister(s.group);
    return true;
}

void AcpiMemoryHotplug::eject_request(AcpiMemoryDevice& dev)
{
    auto it = m_devices.find(&dev);
    if (it == m_devices.end()) return;  // not enumerated by this guest
    dev.ost(ACPI_NOTIFY_EJECT_REQUEST, ACPI_OST_SC_EJECT_IN_PROGRESS);
    if (!remove(dev, it->second)) {
        dev.ost(ACPI_NOTIFY_EJECT_REQUEST, ACPI_OST_SC_DEVICE_BUSY);
        return;
    }
    m_devices.erase(it);
    dev.eject();  // _EJ0: the device is gone; the final _OST names no device any more
}

std::unique_ptr<AcpiMemoryHotplug> AcpiMemoryHotplug::fork(
    mm::Kernel& k, const std::function<AcpiMemoryDevice*(const AcpiMemoryDevice&)>& copy_of) const
{
    auto f = std::make_unique<AcpiMemoryHotplug>(k);
    for (const auto& [dev, state] : m_devices)
        if (AcpiMemoryDevice* c = copy_of(*dev)) f->m_devices.emplace(c, state);
    return f;
}

}  // namespace memplug::drivers
