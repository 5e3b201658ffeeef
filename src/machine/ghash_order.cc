#include "machine/ghash_order.h"

#include <algorithm>
#include <optional>

namespace memplug::machine {

namespace {

constexpr unsigned MIN_SHIFT = 3;  // 8 buckets
// The largest prime below each power of two: the first bucket is hash * 11 mod it.
constexpr uint32_t prime_mod[] = {1,     2,     3,     7,      13,     31,     61,      127,     251,     509,    1021,
                                  2039,  4093,  8191,  16381,  32749,  65521,  131071,  262139,  524287,  1048573,
                                  2097143, 4194301, 8388593, 16777213, 33554393, 67108859, 134217689, 268435399,
                                  536870909, 1073741789, 2147483647};

uint32_t str_hash(const std::string& s)
{
    uint32_t h = 5381;
    for (char c : s) h = h * 33 + uint32_t(int32_t(static_cast<signed char>(c)));
    return h < 2 ? 2 : h;  // 0 and 1 mark unused and removed slots
}

bool real(uint32_t hash) { return hash >= 2; }

}  // namespace

GHashOrder::GHashOrder()
{
    set_shift(MIN_SHIFT);
    m_slots.resize(m_mask + 1);
}

void GHashOrder::set_shift(unsigned shift)
{
    m_mod = prime_mod[shift];
    m_mask = (uint32_t{1} << shift) - 1;
}

uint32_t GHashOrder::bucket(uint32_t hash) const { return uint32_t((uint64_t(hash) * 11) % m_mod); }

// Quadratic probing from the key's bucket: its slot, else the first tombstone
// or unused slot on the way.
size_t GHashOrder::lookup(const std::string& key, uint32_t hash) const
{
    size_t i = bucket(hash), step = 0;
    std::optional<size_t> tombstone;
    while (m_slots[i].hash != 0) {
        if (m_slots[i].hash == hash && m_slots[i].key == key) return i;
        if (m_slots[i].hash == 1 && !tombstone) tombstone = i;
        i = (i + ++step) & m_mask;
    }
    return tombstone.value_or(i);
}

void GHashOrder::insert(const std::string& key)
{
    const uint32_t hash = str_hash(key);
    const size_t i = lookup(key, hash);
    if (real(m_slots[i].hash)) return;
    const bool was_unused = m_slots[i].hash == 0;
    m_slots[i] = {hash, key};
    ++m_nodes;
    if (was_unused) {
        ++m_occupied;
        maybe_resize();
    }
}

void GHashOrder::remove(const std::string& key)
{
    const size_t i = lookup(key, str_hash(key));
    if (!real(m_slots[i].hash)) return;
    m_slots[i] = {1, {}};
    --m_nodes;
    maybe_resize();
}

void GHashOrder::maybe_resize()
{
    const size_t size = m_slots.size();
    if ((size > m_nodes * 4 && size > (size_t{1} << MIN_SHIFT)) || size <= m_occupied + m_occupied / 16) resize();
}

// g_hash_table_resize: a new size for 1.333 times the entries, then an in-place
// rehash in slot order, each entry evicting what sits in its new slot.
void GHashOrder::resize()
{
    const size_t old_size = m_slots.size();
    unsigned shift = 0;
    for (auto n = int(double(m_nodes) * 1.333); n; n >>= 1) ++shift;
    set_shift(std::max(shift, MIN_SHIFT));
    const size_t new_size = size_t(m_mask) + 1;
    if (new_size > old_size) m_slots.resize(new_size);
    std::vector<bool> moved(std::max(new_size, old_size), false);
    for (size_t i = 0; i < old_size; ++i) {
        if (!real(m_slots[i].hash)) {
            m_slots[i] = {};
            continue;
        }
        if (moved[i]) continue;
        Slot carried = std::move(m_slots[i]);
        m_slots[i] = {};
        while (true) {
            size_t j = bucket(carried.hash), step = 0;
            while (moved[j]) j = (j + ++step) & m_mask;
            moved[j] = true;
            std::swap(carried, m_slots[j]);
            if (!real(carried.hash)) break;
        }
    }
    if (new_size < old_size) m_slots.resize(new_size);
    m_occupied = m_nodes;
}

std::vector<std::string> GHashOrder::keys() const
{
    std::vector<std::string> out;
    for (const Slot& s : m_slots)
        if (real(s.hash)) out.push_back(s.key);
    return out;
}

}  // namespace memplug::machine
