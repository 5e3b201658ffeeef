// QEMU's QObject values (QDict, QList, QString, QNum, QBool, QNull) as
// nlohmann::ordered_json, and QEMU's JSON writer: members in QDict's own
// order (its hash buckets), strings escaped as qobject/json-writer.c does.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace memplug::machine {

using QObject = nlohmann::ordered_json;

// How a value reaches a property: as text the property parses (HMP, -device,
// and QMP's device_add, which QEMU 7.2 turns into QemuOpts) or as JSON the
// strict QObject input visitor takes (QMP's object-add and qom-set).
// Opts: -object on the command line, QemuOpts read by the opts visitor.
enum class Input { Text, Json, Opts };

// The text QEMU writes for `v` on QMP and for HMP's qom-get:
// {"a": 1, "b": [true, null]}, non-ASCII as \uXXXX.
std::string to_qemu_json(const QObject& v);

// A QDict's keys in QEMU's iteration order.
std::vector<std::string> qdict_keys(const QObject& dict);

// One code point of modified UTF-8 at s[i] (C0 80 is NUL), advancing i; -1 for
// an invalid sequence (then i moved past its first byte).
int decode_mod_utf8(std::string_view s, size_t& i);

}  // namespace memplug::machine
