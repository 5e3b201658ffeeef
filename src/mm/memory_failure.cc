// mm/memory-failure.c as hard_offline_page and soft_offline_page reach it
// (MF_SW_SIMULATED), for the pages the model can tell apart.
#include "mm/kernel.h"

namespace memplug::mm {

namespace {

// A free page leaves the buddy for good (take_page_off_buddy + SetPageHWPoison).
void poison(PageAllocator& pa, Pfn pfn, std::set<Pfn>& poisoned, PageCount& count)
{
    const PageInfo pi = pa.memmap().at(pfn);
    pa.set_page_state(pfn, PageCount(1), PageInfo{PageState::HwPoison, pi.zone, pi.nid});
    poisoned.insert(pfn);
    count += PageCount(1);
}

}  // namespace

KResult<void> Kernel::memory_failure(Pfn pfn)
{
    if (!pfn_to_online_zone(pfn)) return kerr(ENXIO, "memory outside kernel control");
    if (m_hwpoison.count(pfn)) return kerr(EHWPOISON, "already hardware poisoned");
    if (m_pa.memmap().at(pfn).state != PageState::Free)
        return kerr(EBUSY, "memplug does not model memory_failure of a page in use");
    // "recovery action for free buddy page: Recovered"
    poison(m_pa, pfn, m_hwpoison, m_num_poisoned_pages);
    m_pa.init_per_zone_wmark_min();
    return {};
}

KResult<void> Kernel::soft_offline_page(Pfn pfn)
{
    if (!m_pa.memmap().pfn_valid(pfn)) return kerr(ENXIO, "no memmap at this pfn");
    if (!pfn_to_online_zone(pfn)) return kerr(EIO, "not an online page");
    if (m_hwpoison.count(pfn)) return {};  // "page already poisoned"
    const PageInfo pi = m_pa.memmap().at(pfn);
    if (pi.state == PageState::Movable) {
        // soft_offline_in_use_page: the contents move first (to the page's node).
        auto moved = m_shmem.migrate_range(m_pa, pfn, pfn + PageCount(1), pi.nid);
        if (!moved) return kerr(EBUSY, "migration failed");
        m_work.pages_migrated += moved->value();
    } else if (pi.state != PageState::Free) {
        return kerr(EBUSY, "memplug does not model soft offline of this page (kernel or huge page)");
    }
    poison(m_pa, pfn, m_hwpoison, m_num_poisoned_pages);
    m_pa.init_per_zone_wmark_min();
    return {};
}

}  // namespace memplug::mm
