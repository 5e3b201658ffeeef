// When does an output "agree"? DESIGN.md, "Fidelity": one comparator for
// `memplug check` and for the conformance suite that compares memplug with
// recordings from the real kernel.
//
// - keyed files (/proc/zoneinfo, /proc/meminfo): lines pair up 1:1 and their shapes
//   (numbers replaced by a placeholder, blanks collapsed) match; each number is then
//   compared by its field's rule (Exact, Ignored, Tolerant);
// - commands that run `ls`: the same multiset of names, whatever the column layout;
// - `info mtree`: the same multiset of blank-line separated sections;
// - everything else: line for line.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frontends/session.h"

namespace memplug::fe {

// The words of a line, split at white space (no quoting).
std::vector<std::string_view> words_of(std::string_view text);

enum class FieldRule {
    Exact,     // the numbers are equal
    Ignored,   // not compared (counters that depend on timing, boot-time noise)
    Tolerant,  // within FidelityRules::tolerance of the expected value, and its change
               // since the previous reading of the same field in this transcript exact
};

// A `key value` text file read by guest commands that mention `path`.
struct KeyedFileRules {
    std::string path;
    // Lines starting with this (e.g. "Node " in zoneinfo) name the group the next
    // fields belong to; they are compared exactly. Empty: no groups.
    std::string group_header;
    std::map<std::string, FieldRule, std::less<>> fields;  // by key, e.g. "managed"
    FieldRule other_fields = FieldRule::Ignored;
    // A further text the command must mention (node meminfo: the node directory).
    std::string mentions = {};
    // Lines lead with a number that is no field ("Node 0 MemTotal: ..."): the key
    // is what follows it.
    bool key_after_first_number = false;
};

// All the data the comparison depends on, in one place. Defaults: DESIGN.md.
struct FidelityRules {
    double tolerance = 0.01;  // relative, of the expected value
    std::vector<KeyedFileRules> keyed_files = {
        {"/proc/zoneinfo",
         "Node ",
         {{"spanned", FieldRule::Exact},
          {"present", FieldRule::Exact},
          {"start_pfn", FieldRule::Exact},
          {"managed", FieldRule::Tolerant}},
         FieldRule::Ignored},
        {"/proc/meminfo", "", {{"MemTotal", FieldRule::Tolerant}}, FieldRule::Ignored},
        {"meminfo", "", {{"MemTotal", FieldRule::Tolerant}}, FieldRule::Ignored, "/sys/devices/system/node/", true},
        // Free pages per order depend on every allocation the guest ever made.
        {"/proc/buddyinfo", "", {}, FieldRule::Ignored},
    };
    // Guest commands any of whose pipeline stages starts with one of these print
    // names whose layout (columns) is not compared.
    std::vector<std::string> name_listing_commands = {"ls"};
    // Monitor commands whose output is sections (runs of lines between blank
    // lines) in an order the real program does not keep from run to run: the
    // same multiset of sections, each line for line. `info mtree` walks address
    // spaces grouped in a hash table keyed by pointers.
    std::vector<std::string> unordered_section_commands = {"info mtree"};
};

// One disagreement; indices are into the expected and actual lines (nullopt when the
// difference is about the whole output, e.g. a different line count).
struct LineDifference {
    std::optional<std::size_t> expected_index;
    std::optional<std::size_t> actual_index;
    std::string message;  // e.g. "managed: expected 225014, got 226100 (0.48 % off, allowed 1 %)"
};

struct Verdict {
    std::vector<LineDifference> differences;

    bool agrees() const { return differences.empty(); }
    // The messages, one per line.
    std::string explain() const;
};

// How much of one output line a comparison looks at.
enum class Coverage {
    Whole,  // the line, or its numbers by their field's rule (Exact, Tolerant)
    Part,   // its words but not its numbers (Ignored fields), or only its names (ls)
};

// Lives for one transcript: Tolerant fields compare changes between readings, so it
// remembers the last reading of each; a Host command (a new boot) forgets them.
class FidelityComparator {
public:
    explicit FidelityComparator(FidelityRules rules = {});

    Verdict compare(CommandKind kind, std::string_view command, std::span<const std::string> expected,
                    std::span<const std::string> actual);

    // Per line of one side's output of `command`: what compare() looks at.
    std::vector<Coverage> coverage(CommandKind kind, std::string_view command,
                                   std::span<const std::string> lines) const;

    const FidelityRules& rules() const { return m_rules; }

private:
    // The keyed file `command` reads, if any (guest commands only).
    const KeyedFileRules* keyed_file(CommandKind kind, std::string_view command) const;
    bool lists_names(CommandKind kind, std::string_view command) const;
    bool unordered_sections(CommandKind kind, std::string_view command) const;

    struct Reading {
        long long expected;
        long long actual;
    };

    Verdict compare_keyed(const KeyedFileRules& file, std::span<const std::string> expected,
                          std::span<const std::string> actual);
    std::vector<std::string> compare_number(FieldRule rule, std::string_view field, const std::string& reading_key,
                                            std::string_view expected, std::string_view actual);

    FidelityRules m_rules;
    std::map<std::string, Reading> m_last_readings;  // by file, group, field and occurrence
};

}  // namespace memplug::fe
