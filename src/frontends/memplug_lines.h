// memplug's own transcript lines, `(memplug) CMD`, for the workloads a busybox
// guest cannot express; the recorder skips them, so a transcript that uses them
// has no real-kernel golden past that point.
//
//   (memplug) pin NAME SIZE [node=N]    kernel memory that never moves (GFP_KERNEL)
//   (memplug) anon NAME SIZE [node=N]   a process's anonymous memory (movable)
//   (memplug) free NAME                 gives either back
//   (memplug) report KIND [--json]      a what-if report on the state here (docs/REPORTS.md)
//
// SIZE takes the kernel's memparse suffixes (K, M, G, T). A request the guest
// cannot satisfy prints "memplug: NAME: <strerror>" and allocates nothing.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "machine/machine.h"

namespace memplug::fe {

class MemplugLines {
public:
    // The command without its prompt; output text, or an error naming what was wrong.
    tl::expected<std::string, std::string> run(machine::Machine& m, std::string_view command);
    // The NAME a pin or anon line gave an allocation (reports name owners by it).
    std::string name_of(mm::Kernel::AllocId id) const;

private:
    std::map<std::string, mm::Kernel::AllocId, std::less<>> m_names;
};

}  // namespace memplug::fe
