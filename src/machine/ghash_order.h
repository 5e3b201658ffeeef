// The iteration order of a GLib 2.74 GHashTable keyed by strings (g_str_hash),
// as QEMU's QOM keeps an object's children: /objects lists its backends in
// this order (info memdev, qom-list), which depends only on the names and on
// the history of insertions and removals.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace memplug::machine {

class GHashOrder {
public:
    GHashOrder();
    void insert(const std::string& key);
    void remove(const std::string& key);
    // Keys in g_hash_table_iter order.
    std::vector<std::string> keys() const;

private:
    struct Slot {
        uint32_t hash = 0;  // 0 unused, 1 tombstone, else the key's hash
        std::string key;
    };
    void set_shift(unsigned shift);
    uint32_t bucket(uint32_t hash) const;
    size_t lookup(const std::string& key, uint32_t hash) const;
    void maybe_resize();
    void resize();

    std::vector<Slot> m_slots;
    uint32_t m_mod = 0, m_mask = 0;
    size_t m_nodes = 0, m_occupied = 0;
};

}  // namespace memplug::machine
