// When does an output "agree"? DESIGN.md, "Fidelity": one comparator for
// `memplug check` and for the conformance suite that compares memplug with
// recordings from the real kernel.
//
// - keyed files (/proc/zoneinfo, /proc/meminfo): lines pair up 1:1 and their shapes
//   (numbers replaced by a placeholder, blanks collapsed) match; each number is then
//   compared by its field's rule (Exact, Ignored, Tolerant);
// - commands that run `ls`: the same multiset of names, whatever the column layout;
// - /proc/cmdline: line for line once the recorder's own words are off the expected lines;
// - commands that run `dmesg`: line for line once the parts no model can know (the
//   timestamps, hashed pointers, a dumped page's raw words) are masked; until the
//   boot's log was cleared (`dmesg -c`) only the boot messages of the subsystems
//   memplug models;
// - `info mtree`: the same multiset of blank-line separated sections;
// - everything else: line for line.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <regex>
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
        // The names and their order; of the values, the events a transcript causes
        // one by one (the other counters follow the idle guest's processes).
        {"/proc/vmstat",
         "",
         {{"htlb_buddy_alloc_success", FieldRule::Exact},
          {"htlb_buddy_alloc_fail", FieldRule::Exact},
          {"drop_pagecache", FieldRule::Exact},
          {"drop_slab", FieldRule::Exact}},
         FieldRule::Ignored},
    };
    // The words tests/conformance/record puts before a transcript's -append: a
    // recorded /proc/cmdline starts with them, memplug shows the -append alone
    // (what QEMU's -kernel boot passes), so they come off the recorded lines.
    std::string recorder_cmdline = "console=ttyS0 quiet panic=-1 nokaslr";
    // Guest commands any of whose pipeline stages starts with one of these print
    // names whose layout (columns) is not compared.
    std::vector<std::string> name_listing_commands = {"ls"};

    // Guest commands that print the kernel log (a pipeline stage starts with one).
    std::vector<std::string> log_commands = {"dmesg"};
    // Parts of a log line that are not compared: each match (ECMAScript regex) is
    // replaced by its format on both sides before the lines are compared.
    struct LogMask {
        std::string pattern;
        std::string format;
    };
    std::vector<LogMask> log_masks = {
        // "[    S.UUUUUU] " (after dmesg -r's "<level>"): when, on a clock of its own.
        {R"(^(<[0-7]>)?\[ *[0-9]+\.[0-9]{6}\] )", "$1"},
        // dump_page: %p is a hashed pointer, different every boot; refcount,
        // mapcount, mapping and index, the page flags' names and the raw struct
        // page words say which kernel object holds the page, which the model does
        // not know; which page of the block it is varies from boot to boot (pfn
        // 0x100000, 0x100006, 0x10000a in three recordings). Node and zone remain.
        {R"(^page:[0-9a-f]+ refcount:-?[0-9]+ mapcount:-?[0-9]+ mapping:[0-9a-f]+ index:0x[0-9a-f]+ pfn:0x[0-9a-f]+$)",
         "page:"},
        {R"(^flags: 0x[0-9a-f]+\((?:[a-z_0-9]+\|)*node=)", "flags: (node="},
        {R"(^raw:(?: [0-9a-f]{16})+$)", "raw:"},
    };
    // Until `dmesg -c` cleared it, the log holds the boot's messages, of which memplug
    // models only these subsystems' (lines starting so, once masked): other boot
    // lines are left out on both sides.
    std::vector<std::string> boot_log_subjects = {"HugeTLB: "};
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

    // Per line of one side's output of `command`: what compare() looks at (ask
    // before compare() of the same command, which moves on to the next).
    std::vector<Coverage> coverage(CommandKind kind, std::string_view command,
                                   std::span<const std::string> lines) const;

    const FidelityRules& rules() const { return m_rules; }

private:
    // The keyed file `command` reads, if any (guest commands only).
    const KeyedFileRules* keyed_file(CommandKind kind, std::string_view command) const;
    bool lists_names(CommandKind kind, std::string_view command) const;
    bool prints_log(CommandKind kind, std::string_view command) const;
    // A log line as compared: masked, or nullopt when it is not compared at all.
    std::optional<std::string> log_line(std::string_view line) const;
    Verdict compare_log(std::span<const std::string> expected, std::span<const std::string> actual) const;
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
    // Whether this boot's log was cleared by a command compared before.
    bool m_log_cleared = false;
    std::vector<std::regex> m_log_masks;  // rules().log_masks, compiled
};

}  // namespace memplug::fe
