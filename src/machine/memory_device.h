// Memory devices behind one interface (QEMU's MemoryDeviceClass plus the QOM
// properties front ends read and write): pc-dimm and virtio-mem-pci.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "drivers/acpi_memhotplug.h"
#include "drivers/virtio_mem.h"
#include "machine/qemu_error.h"
#include "machine/qobject.h"

namespace memplug::machine {

class Machine;

// query-memory-devices: PCDIMMDeviceInfo and VirtioMEMDeviceInfo.
struct PcDimmDeviceInfo {
    std::string id, memdev;
    uint64_t addr = 0, size = 0;
    int slot = 0, node = 0;
    bool hotplugged = false, hotpluggable = true;
};
struct VirtioMemDeviceInfo {
    std::string id, memdev;
    uint64_t memaddr = 0, requested_size = 0, size = 0, max_size = 0, block_size = 0;
    int node = 0;
};
using MemoryDeviceInfo = std::variant<PcDimmDeviceInfo, VirtioMemDeviceInfo>;

// qom-list: ObjectPropertyInfo.
struct ObjectPropertyInfo {
    std::string name, type;
};

class MemoryDevice {
public:
    virtual ~MemoryDevice() = default;
    const std::string& id() const { return m_id; }
    const std::string& memdev() const { return m_memdev; }
    bool hotplugged() const { return m_hotplugged; }
    virtual std::string_view qom_type() const = 0;
    // The range it takes in the device-memory region, and what of it counts as plugged.
    virtual uint64_t address() const = 0;
    virtual uint64_t region_size() const = 0;
    virtual uint64_t plugged_memory() const = 0;
    virtual int numa_node() const = 0;
    virtual MemoryDeviceInfo info() const = 0;
    virtual QResult<QObject> qom_get(std::string_view prop) const = 0;
    virtual QResult<void> qom_set(std::string_view prop, const QObject& value, Input in) = 0;
    virtual std::vector<ObjectPropertyInfo> qom_list() const = 0;
    // device_del: QEMU asks the guest and returns; the guest may eject later (or never).
    virtual QResult<void> unplug_request() = 0;
    // The same device in machine `m` (a fork).
    virtual std::unique_ptr<MemoryDevice> clone(Machine& m) const = 0;

protected:
    MemoryDevice(Machine& m, std::string id, std::string memdev, bool hotplugged)
        : m_machine(m), m_id(std::move(id)), m_memdev(std::move(memdev)), m_hotplugged(hotplugged)
    {
    }
    Machine& m_machine;

private:
    std::string m_id, m_memdev;
    bool m_hotplugged;
};

// -device pc-dimm: an ACPI memory device in a slot.
class PcDimm final : public MemoryDevice, public drivers::AcpiMemoryDevice {
public:
    PcDimm(Machine& m, std::string id, std::string memdev, bool hotplugged, uint64_t addr, uint64_t size, int slot,
           int node)
        : MemoryDevice(m, std::move(id), std::move(memdev), hotplugged), m_addr(addr), m_size(size), m_slot(slot),
          m_node(node)
    {
    }
    int slot() const { return m_slot; }

    std::string_view qom_type() const override { return "pc-dimm"; }
    uint64_t address() const override { return m_addr; }
    uint64_t region_size() const override { return m_size; }
    uint64_t plugged_memory() const override { return m_size; }
    int numa_node() const override { return m_node; }
    MemoryDeviceInfo info() const override;
    QResult<QObject> qom_get(std::string_view prop) const override;
    QResult<void> qom_set(std::string_view prop, const QObject& value, Input in) override;
    std::vector<ObjectPropertyInfo> qom_list() const override;
    QResult<void> unplug_request() override;
    std::unique_ptr<MemoryDevice> clone(Machine& m) const override
    {
        return std::make_unique<PcDimm>(m, id(), memdev(), hotplugged(), m_addr, m_size, m_slot, m_node);
    }

    // drivers::AcpiMemoryDevice: what the guest's ACPI driver sees.
    uint64_t addr() const override { return m_addr; }
    uint64_t size() const override { return m_size; }
    int node() const override { return m_node; }
    void ost(uint32_t source_event, uint32_t status) override;
    void eject() override;

private:
    uint64_t m_addr, m_size;
    int m_slot, m_node;
};

// -device virtio-mem-pci: a region plugged and unplugged in device blocks at the guest's request.
class VirtioMem final : public MemoryDevice, public drivers::VirtioMemDevice {
public:
    struct Config {
        uint64_t addr = 0, region_size = 0, block_size = 2 * 1024 * 1024, requested_size = 0;
        int node = 0;
    };
    VirtioMem(Machine& m, std::string id, std::string memdev, bool hotplugged, const Config& c)
        : MemoryDevice(m, std::move(id), std::move(memdev), hotplugged), m_config(c),
          m_plugged(c.region_size / c.block_size, false)
    {
    }

    std::string_view qom_type() const override { return "virtio-mem-pci"; }
    uint64_t address() const override { return m_config.addr; }
    uint64_t region_size() const override { return m_config.region_size; }
    uint64_t plugged_memory() const override { return plugged_size(); }
    int numa_node() const override { return m_config.node; }
    MemoryDeviceInfo info() const override;
    QResult<QObject> qom_get(std::string_view prop) const override;
    QResult<void> qom_set(std::string_view prop, const QObject& value, Input in) override;
    // set_requested_size's checks: what `qom-set ID requested-size SIZE` would refuse, in QEMU's words.
    QResult<void> check_requested_size(uint64_t size) const;
    std::vector<ObjectPropertyInfo> qom_list() const override;
    QResult<void> unplug_request() override;
    std::unique_ptr<MemoryDevice> clone(Machine& m) const override
    {
        auto c = std::make_unique<VirtioMem>(m, id(), memdev(), hotplugged(), m_config);
        c->m_plugged = m_plugged;
        c->m_nr_plugged = m_nr_plugged;
        return c;
    }

    // drivers::VirtioMemDevice: config space and requests.
    uint64_t addr() const override { return m_config.addr; }
    uint64_t block_size() const override { return m_config.block_size; }
    uint64_t requested_size() const override { return m_config.requested_size; }
    uint64_t plugged_size() const override { return m_nr_plugged * m_config.block_size; }
    int node() const override { return m_config.node; }
    bool block_plugged(uint64_t addr) const override { return m_plugged[(addr - m_config.addr) / m_config.block_size]; }
    bool plug_request(uint64_t addr, uint64_t size, bool plug) override;
    void unplug_all() override;

private:
    // usable_region_size: the part of the region the guest may plug.
    uint64_t usable_region_size() const;

    Config m_config;
    std::vector<bool> m_plugged;  // one bit per device block, as VirtIOMEM::bitmap
    uint64_t m_nr_plugged = 0;
};

}  // namespace memplug::machine
