// procfs text (fs/proc/meminfo.c, mm/vmstat.c, kernel/resource.c, fs/proc/cmdline.c) and the
// per-node meminfo of drivers/base/node.c, rendered from the kernel model.
#pragma once

#include <string>

#include "mm/kernel.h"

namespace memplug::views {

std::string meminfo_show(const mm::Kernel& k);
std::string node_meminfo_show(const mm::Kernel& k, mm::NodeId nid);
std::string zoneinfo_show(const mm::Kernel& k);
std::string buddyinfo_show(const mm::Kernel& k);
std::string pagetypeinfo_show(const mm::Kernel& k);
std::string iomem_show(const mm::Kernel& k);
std::string vmstat_show(const mm::Kernel& k);
std::string cmdline_show(const mm::Kernel& k);

}  // namespace memplug::views
