// The guest's ACPI memory hotplug driver (Linux 6.1 drivers/acpi/acpi_memhotplug.c
// and the eject path of drivers/acpi/scan.c): one static memory group and one
// add_memory per DIMM; an eject offlines every block in two passes and puts
// them back online with the default type if one refuses. It sees a DIMM only
// as the ACPI memory device's _CRS (address, size), _PXM (node), _EJ0 and _OST.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "mm/kernel.h"

namespace memplug::drivers {

class AcpiMemoryDevice {
public:
    virtual uint64_t addr() const = 0;
    virtual uint64_t size() const = 0;
    virtual int node() const = 0;
    // _OST: the OS reports how it handled a notification.
    virtual void ost(uint32_t source_event, uint32_t status) = 0;
    // _EJ0: the platform removes the device.
    virtual void eject() = 0;

protected:
    ~AcpiMemoryDevice() = default;
};

// ACPI notification types and _OST status codes (ACPI 6.4, 6.3.5).
constexpr uint32_t ACPI_NOTIFY_DEVICE_CHECK = 1;
constexpr uint32_t ACPI_NOTIFY_EJECT_REQUEST = 3;
constexpr uint32_t ACPI_OST_SC_SUCCESS = 0;
constexpr uint32_t ACPI_OST_SC_DEVICE_BUSY = 0x82;
constexpr uint32_t ACPI_OST_SC_EJECT_IN_PROGRESS = 0x84;

class AcpiMemoryHotplug {
public:
    explicit AcpiMemoryHotplug(mm::Kernel& k) : m_kernel(k) {}
    // The same driver state over a forked kernel `k`, each device replaced by its
    // copy (`copy_of`: null for one the fork does not have).
    std::unique_ptr<AcpiMemoryHotplug> fork(
        mm::Kernel& k, const std::function<AcpiMemoryDevice*(const AcpiMemoryDevice&)>& copy_of) const;

    // The boot-time scan (no _OST) and Notify(DEVICE_CHECK) for a hot-added DIMM.
    void device_check(AcpiMemoryDevice& dev, bool notified);
    // Notify(EJECT_REQUEST): offline and remove the memory, then _EJ0; _OST either way.
    void eject_request(AcpiMemoryDevice& dev);

private:
    struct State {
        int group = -1;     // the static memory group, once added
        int instance = -1;  // N of PNP0C80:N
    };
    bool remove(AcpiMemoryDevice& dev, const State& s);

    mm::Kernel& m_kernel;
    std::map<const AcpiMemoryDevice*, State> m_devices;
};

}  // namespace memplug::drivers
