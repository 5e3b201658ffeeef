#include "mm/resource.h"

#include <algorithm>
#include <functional>

#include "mm/types.h"

namespace memplug::mm {

Resource::Resource(const Resource& o) : start(o.start), end(o.end), name(o.name), flags(o.flags)
{
    children.reserve(o.children.size());
    for (const auto& c : o.children) children.push_back(std::make_unique<Resource>(*c));
}

Resource& Resource::operator=(const Resource& o)
{
    if (this != &o) *this = Resource(o);
    return *this;
}

ResourceTree::ResourceTree()
{
    m_root.start = 0;
    m_root.end = ~uint64_t{0};
    m_root.name = "PCI mem";
}

static bool overlaps(const Resource& r, uint64_t start, uint64_t end)
{
    return r.start <= end && start <= r.end;
}

KResult<Resource*> ResourceTree::request(Resource* parent, uint64_t start, uint64_t end, std::string name,
                                         unsigned flags)
{
    Resource& p = parent ? *parent : m_root;
    if (start > end || start < p.start || end > p.end) return kerr(EINVAL, "range outside parent");
    auto& kids = p.children;
    auto it = std::find_if(kids.begin(), kids.end(), [&](const auto& c) { return c->end >= start; });
    if (it != kids.end() && overlaps(**it, start, end)) return kerr(EBUSY, "conflicts with " + (*it)->name);
    auto res = std::make_unique<Resource>();
    res->start = start;
    res->end = end;
    res->name = std::move(name);
    res->flags = flags;
    Resource* raw = res.get();
    kids.insert(it, std::move(res));
    return raw;
}

KResult<Resource*> ResourceTree::request_region(uint64_t start, uint64_t end, std::string name, unsigned flags)
{
    Resource* parent = &m_root;
    for (;;) {
        auto it = std::find_if(parent->children.begin(), parent->children.end(),
                               [&](const auto& c) { return overlaps(*c, start, end); });
        if (it == parent->children.end()) return request(parent, start, end, std::move(name), flags);
        Resource& conflict = **it;
        if ((conflict.flags & IORESOURCE_BUSY) || conflict.start > start || conflict.end < end)
            return kerr(EBUSY, "conflicts with " + conflict.name);
        parent = &conflict;
    }
}

KResult<Resource*> ResourceTree::insert(uint64_t start, uint64_t end, std::string name, unsigned flags)
{
    // Descend to the deepest resource fully containing the range.
    Resource* parent = &m_root;
    for (bool descended = true; descended;) {
        descended = false;
        for (auto& c : parent->children) {
            if (c->start <= start && end <= c->end && !(c->start == start && c->end == end)) {
                parent = c.get();
                descended = true;
                break;
            }
        }
    }
    auto& kids = parent->children;
    std::vector<std::unique_ptr<Resource>> swallowed;
    for (auto& c : kids) {
        if (!overlaps(*c, start, end)) continue;
        if (c->start < start || c->end > end) return kerr(EBUSY, "partial overlap with " + c->name);
    }
    auto first = std::find_if(kids.begin(), kids.end(), [&](const auto& c) { return c->end >= start; });
    auto last = std::find_if(first, kids.end(), [&](const auto& c) { return c->start > end; });
    auto res = std::make_unique<Resource>();
    res->start = start;
    res->end = end;
    res->name = std::move(name);
    res->flags = flags;
    for (auto i = first; i != last; ++i) res->children.push_back(std::move(*i));
    Resource* raw = res.get();
    auto pos = kids.erase(first, last);
    kids.insert(pos, std::move(res));
    return raw;
}

static Resource* find_in(Resource& r, uint64_t start, uint64_t end, std::string_view name, Resource** parent)
{
    for (auto& c : r.children) {
        if (c->start == start && c->end == end && c->name == name) {
            *parent = &r;
            return c.get();
        }
        if (c->start <= start && end <= c->end)
            if (Resource* f = find_in(*c, start, end, name, parent)) return f;
    }
    return nullptr;
}

Resource* ResourceTree::find(uint64_t start, uint64_t end, std::string_view name)
{
    Resource* parent = nullptr;
    return find_in(m_root, start, end, name, &parent);
}

void ResourceTree::release(uint64_t start, uint64_t end, std::string_view name)
{
    Resource* parent = nullptr;
    Resource* res = find_in(m_root, start, end, name, &parent);
    if (!res) return;
    auto& kids = parent->children;
    auto it = std::find_if(kids.begin(), kids.end(), [&](const auto& c) { return c.get() == res; });
    std::vector<std::unique_ptr<Resource>> orphans = std::move((*it)->children);
    it = kids.erase(it);
    for (auto& o : orphans) it = std::next(kids.insert(it, std::move(o)));
}

void ResourceTree::merge_system_ram(Resource* res)
{
    const unsigned want = IORESOURCE_MEM | IORESOURCE_BUSY | IORESOURCE_SYSRAM | IORESOURCE_SYSRAM_MERGEABLE;
    Resource* parent = nullptr;
    if (!find_in(m_root, res->start, res->end, res->name, &parent)) return;
    auto& kids = parent->children;
    auto it = std::find_if(kids.begin(), kids.end(), [&](const auto& c) { return c.get() == res; });
    auto mergeable = [&](const Resource& a, const Resource& b) {
        return (a.flags & want) == want && (b.flags & want) == want && a.name == b.name && a.children.empty() &&
               b.children.empty();
    };
    // With the next sibling first, then the previous one, as the kernel does.
    if (std::next(it) != kids.end() && (*std::next(it))->start == res->end + 1 && mergeable(*res, **std::next(it))) {
        res->end = (*std::next(it))->end;
        kids.erase(std::next(it));
        it = std::find_if(kids.begin(), kids.end(), [&](const auto& c) { return c.get() == res; });
    }
    if (it != kids.begin() && (*std::prev(it))->end + 1 == res->start && mergeable(**std::prev(it), *res)) {
        (*std::prev(it))->end = res->end;
        kids.erase(it);
    }
}

uint64_t ResourceTree::count_system_ram_pages(uint64_t start_pfn, uint64_t nr_pages) const
{
    const uint64_t start = start_pfn << PAGE_SHIFT;
    const uint64_t end = ((start_pfn + nr_pages) << PAGE_SHIFT) - 1;
    uint64_t pages = 0;
    std::function<void(const Resource&)> walk = [&](const Resource& r) {
        for (const auto& c : r.children) {
            if (!overlaps(*c, start, end)) continue;
            if (c->is_system_ram()) {
                // The kernel rounds each System RAM range inward to whole pages.
                const uint64_t b = std::max(c->start, start), e = std::min(c->end, end);
                const uint64_t pb = (b + PAGE_SIZE - 1) >> PAGE_SHIFT, pe = (e + 1) >> PAGE_SHIFT;
                if (pe > pb) pages += pe - pb;
            } else {
                walk(*c);
            }
        }
    };
    walk(m_root);
    return pages;
}

}  // namespace memplug::mm
