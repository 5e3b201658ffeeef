#include "machine/qobject.h"

#include <algorithm>
#include <vector>

#include <cstdio>

#include <fmt/format.h>

namespace memplug::machine {

namespace {

// qdict.c: 512 buckets, tdb_hash of the key; a new entry goes to the head of
// its bucket, and iteration walks the buckets in order.
constexpr unsigned QDICT_BUCKET_MAX = 512;

unsigned qdict_bucket(std::string_view key)
{
    uint32_t value = 0x238F13AFu * uint32_t(key.size());
    for (size_t i = 0; i < key.size(); ++i) value += uint32_t(static_cast<unsigned char>(key[i])) << (i * 5 % 24);
    return (1103515243u * value + 12345u) % QDICT_BUCKET_MAX;
}

}  // namespace

int decode_mod_utf8(std::string_view s, size_t& i)
{
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || i + size_t(len) > s.size()) {
        ++i;
        return -1;
    }
    int cp = len == 1 ? c : c & (0x3F >> len);
    for (int k = 1; k < len; ++k) {
        if ((b(i + size_t(k)) & 0xC0) != 0x80) {
            ++i;
            return -1;
        }
        cp = (cp << 6) | (b(i + size_t(k)) & 0x3F);
    }
    static constexpr int min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    i += size_t(len);
    // Overlong forms are invalid, except C0 80, modified UTF-8's NUL.
    if ((cp < min_for_len[len] && !(len == 2 && cp == 0)) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    return cp;
}

namespace {

void write_string(std::string& out, std::string_view s)
{
    out += '"';
    for (size_t i = 0; i < s.size();) {
        int cp = decode_mod_utf8(s, i);
        switch (cp) {
        case '"': out += "\\\""; continue;
        case '\\': out += "\\\\"; continue;
        case '\b': out += "\\b"; continue;
        case '\f': out += "\\f"; continue;
        case '\n': out += "\\n"; continue;
        case '\r': out += "\\r"; continue;
        case '\t': out += "\\t"; continue;
        default: break;
        }
        if (cp < 0) cp = 0xFFFD;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            out += fmt::format("\\u{:04X}\\u{:04X}", 0xD800 | (cp >> 10), 0xDC00 | (cp & 0x3FF));
        } else if (cp < 0x20 || cp >= 0x7F) {
            out += fmt::format("\\u{:04X}", cp);
        } else {
            out += char(cp);
        }
    }
    out += '"';
}

void write(std::string& out, const QObject& v)
{
    switch (v.type()) {
    case QObject::value_t::object: {
        out += '{';
        bool first = true;
        for (const std::string& k : qdict_keys(v)) {
            if (!first) out += ", ";
            first = false;
            write_string(out, k);
            out += ": ";
            write(out, v.at(k));
        }
        out += '}';
        return;
    }
    case QObject::value_t::array:
        out += '[';
        for (size_t k = 0; k < v.size(); ++k) {
            if (k) out += ", ";
            write(out, v[k]);
        }
        out += ']';
        return;
    case QObject::value_t::string: write_string(out, v.get_ref<const std::string&>()); return;
    case QObject::value_t::boolean: out += v.get<bool>() ? "true" : "false"; return;
    case QObject::value_t::number_integer: out += std::to_string(v.get<int64_t>()); return;
    case QObject::value_t::number_unsigned: out += std::to_string(v.get<uint64_t>()); return;
    case QObject::value_t::number_float: {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", v.get<double>());
        out += buf;
        return;
    }
    default: out += "null"; return;
    }
}

}  // namespace

std::vector<std::string> qdict_keys(const QObject& dict)
{
    std::vector<std::pair<unsigned, size_t>> order;  // (bucket, insertion index)
    std::vector<std::string> keys;
    for (auto it = dict.begin(); it != dict.end(); ++it) {
        order.emplace_back(qdict_bucket(it.key()), keys.size());
        keys.push_back(it.key());
    }
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first < b.first : a.second > b.second;
    });
    std::vector<std::string> out;
    for (const auto& o : order) out.push_back(keys[o.second]);
    return out;
}

std::string to_qemu_json(const QObject& v)
{
    std::string out;
    write(out, v);
    return out;
}

}  // namespace memplug::machine
