// QEMU's QObject values (QDict, QList, QString, QNum, QBool, QNull) as
// nlohmann::ordered_json, and QEMU's JSON writer: members in QDict's own
// order (its hash buckets), strings escaped as qobject/json-writer.c does.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace memplug::machine {

using QObject = nlohmann::ordered_json;

// How a value reaches a property: as text the property parses (HMP, -device,
// and QMP's device_add, which QEMU 7.2 turns into QemuOpts) or as JSON the
// strict QObject input visitor takes (QMP's object-add and qom-set).
enum class Input { Text, Json };

// The text QEMU writes for `v` on QMP and for HMP's qom-get:
// {"a": 1, "b": [true, null]}, non-ASCII as \uXXXX.
std::string to_qemu_json(const QObject& v);

}  // namespace memplug::machine
