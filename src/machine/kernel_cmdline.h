// The guest kernel command line (-append): the memory-hotplug parameters.
#pragma once

#include <string_view>

#include "mm/kernel.h"

namespace memplug::machine {

struct KernelCmdline {
    mm::HotplugParams params;
    uint64_t kernelcore_bytes = 0;
    uint64_t movablecore_bytes = 0;
};

// Unknown words are ignored, as the kernel passes them on to init; values the
// kernel would reject keep the default, as it does.
KernelCmdline parse_kernel_cmdline(std::string_view append);

}  // namespace memplug::machine
