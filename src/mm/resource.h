// The physical resource tree behind /proc/iomem (kernel/resource.c). Ranges are
// inclusive [start, end] as struct resource keeps them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mm/result.h"

namespace memplug::mm {

enum ResourceFlags : unsigned {
    IORESOURCE_MEM = 1u << 0,
    IORESOURCE_BUSY = 1u << 1,
    IORESOURCE_SYSRAM = 1u << 2,
    IORESOURCE_SYSRAM_DRIVER_MANAGED = 1u << 3,
    IORESOURCE_SYSRAM_MERGEABLE = 1u << 4,
};

struct Resource {
    uint64_t start = 0;
    uint64_t end = 0;  // inclusive
    std::string name;
    unsigned flags = IORESOURCE_MEM;
    std::vector<std::unique_ptr<Resource>> children;  // sorted, non-overlapping

    Resource() = default;
    // Deep, children and all: a forked kernel's /proc/iomem.
    Resource(const Resource& o);
    Resource& operator=(const Resource& o);
    Resource(Resource&&) = default;
    Resource& operator=(Resource&&) = default;

    uint64_t size() const { return end - start + 1; }
    bool is_system_ram() const
    {
        return (flags & (IORESOURCE_SYSRAM | IORESOURCE_BUSY)) == (IORESOURCE_SYSRAM | IORESOURCE_BUSY);
    }
};

class ResourceTree {
public:
    ResourceTree();
    const Resource& root() const { return m_root; }

    // request_resource under `parent` (the root when null): EBUSY on a conflict.
    KResult<Resource*> request(Resource* parent, uint64_t start, uint64_t end, std::string name, unsigned flags);
    // insert_resource: the new one may swallow existing siblings it fully covers.
    KResult<Resource*> insert(uint64_t start, uint64_t end, std::string name, unsigned flags);
    // __request_region: descends into conflicting resources that are not busy.
    KResult<Resource*> request_region(uint64_t start, uint64_t end, std::string name, unsigned flags);
    // release_resource: children move up to the parent (as remove_resource does).
    void release(uint64_t start, uint64_t end, std::string_view name);
    Resource* find(uint64_t start, uint64_t end, std::string_view name);
    // merge_system_ram_resource: a mergeable range joins an adjacent mergeable sibling.
    void merge_system_ram(Resource* res);

    // walk_system_ram_range: pages of [start_pfn, start_pfn + nr) covered by busy System RAM.
    uint64_t count_system_ram_pages(uint64_t start_pfn, uint64_t nr_pages) const;

private:
    Resource m_root;
};

}  // namespace memplug::mm
