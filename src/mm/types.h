// Strong value types for the quantities the kernel keeps apart only by naming
// (start_pfn, nr_pages, section_nr). Operations are opt-in: Pfn + PageCount is a
// Pfn, Pfn - Pfn is a PageCount, Pfn + Pfn does not compile.
#pragma once

#include <compare>
#include <cstdint>

namespace memplug::mm {

inline constexpr unsigned PAGE_SHIFT = 12;
inline constexpr uint64_t PAGE_SIZE = uint64_t{1} << PAGE_SHIFT;
inline constexpr unsigned SECTION_SIZE_BITS = 27;  // 128 MiB sections on x86_64
inline constexpr uint64_t PAGES_PER_SECTION = uint64_t{1} << (SECTION_SIZE_BITS - PAGE_SHIFT);
inline constexpr uint64_t PAGES_PER_SUBSECTION = 512;  // 2 MiB
inline constexpr unsigned pageblock_order = 9;
inline constexpr uint64_t pageblock_nr_pages = uint64_t{1} << pageblock_order;
inline constexpr unsigned MAX_ORDER = 11;  // orders 0..10, as 6.1 counts them
inline constexpr uint64_t STRUCT_PAGE_SIZE = 64;

class PageCount {
public:
    constexpr PageCount() = default;
    constexpr explicit PageCount(uint64_t n) : m_value(n) {}
    constexpr uint64_t value() const { return m_value; }
    constexpr uint64_t bytes() const { return m_value << PAGE_SHIFT; }
    static constexpr PageCount from_bytes(uint64_t bytes) { return PageCount(bytes >> PAGE_SHIFT); }

    constexpr auto operator<=>(const PageCount&) const = default;
    constexpr PageCount operator+(PageCount o) const { return PageCount(m_value + o.m_value); }
    constexpr PageCount operator-(PageCount o) const { return PageCount(m_value - o.m_value); }
    constexpr PageCount& operator+=(PageCount o) { m_value += o.m_value; return *this; }
    constexpr PageCount& operator-=(PageCount o) { m_value -= o.m_value; return *this; }
    constexpr PageCount operator*(uint64_t k) const { return PageCount(m_value * k); }
    constexpr uint64_t operator/(PageCount o) const { return m_value / o.m_value; }
    constexpr explicit operator bool() const { return m_value != 0; }

private:
    uint64_t m_value = 0;
};

class Pfn {
public:
    constexpr Pfn() = default;
    constexpr explicit Pfn(uint64_t v) : m_value(v) {}
    constexpr uint64_t value() const { return m_value; }
    constexpr uint64_t phys() const { return m_value << PAGE_SHIFT; }
    static constexpr Pfn from_phys(uint64_t addr) { return Pfn(addr >> PAGE_SHIFT); }

    constexpr auto operator<=>(const Pfn&) const = default;
    constexpr Pfn operator+(PageCount n) const { return Pfn(m_value + n.value()); }
    constexpr Pfn operator-(PageCount n) const { return Pfn(m_value - n.value()); }
    constexpr PageCount operator-(Pfn o) const { return PageCount(m_value - o.m_value); }
    constexpr Pfn& operator+=(PageCount n) { m_value += n.value(); return *this; }

private:
    uint64_t m_value = 0;
};

class SectionNr {
public:
    constexpr SectionNr() = default;
    constexpr explicit SectionNr(uint64_t v) : m_value(v) {}
    constexpr uint64_t value() const { return m_value; }
    constexpr auto operator<=>(const SectionNr&) const = default;

private:
    uint64_t m_value = 0;
};

// A memory block's id, the N of /sys/devices/system/memory/memoryN.
class BlockId {
public:
    constexpr BlockId() = default;
    constexpr explicit BlockId(uint64_t v) : m_value(v) {}
    constexpr uint64_t value() const { return m_value; }
    constexpr auto operator<=>(const BlockId&) const = default;

private:
    uint64_t m_value = 0;
};

using NodeId = int;
inline constexpr NodeId NUMA_NO_NODE = -1;
inline constexpr int MAX_NUMNODES = 64;

constexpr SectionNr pfn_to_section_nr(Pfn pfn) { return SectionNr(pfn.value() / PAGES_PER_SECTION); }
constexpr Pfn section_nr_to_pfn(SectionNr nr) { return Pfn(nr.value() * PAGES_PER_SECTION); }
constexpr bool pageblock_aligned(Pfn pfn) { return pfn.value() % pageblock_nr_pages == 0; }
constexpr uint64_t align_down(uint64_t v, uint64_t a) { return v / a * a; }
constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

inline constexpr uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024, TiB = GiB * 1024;

}  // namespace memplug::mm
