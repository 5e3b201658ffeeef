// QMP events the machine emits, with QEMU 7.2's data fields (qapi/*.json).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>

namespace memplug::machine {

// DEVICE_DELETED: a device is gone (for a DIMM: once the guest ejected it).
struct DeviceDeleted {
    std::optional<std::string> device;  // its id
    std::string path;                   // its QOM path
};

// MEMORY_DEVICE_SIZE_CHANGE: a virtio-mem device's plugged size changed.
struct MemoryDeviceSizeChange {
    std::optional<std::string> id;
    uint64_t size = 0;
    std::string qom_path;
};

// ACPI_DEVICE_OST: the guest's _OST for a DIMM slot (ACPIOSTInfo).
struct AcpiDeviceOst {
    std::optional<std::string> device;
    std::string slot;
    std::string slot_type = "DIMM";
    uint32_t source = 0;
    uint32_t status = 0;
};

using Event = std::variant<DeviceDeleted, MemoryDeviceSizeChange, AcpiDeviceOst>;
using EventSink = std::function<void(const Event&)>;

}  // namespace memplug::machine
