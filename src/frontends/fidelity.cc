#include "frontends/fidelity.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>

#include <fmt/format.h>

namespace memplug::fe {

namespace {

bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool is_word_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// One line of a keyed file, taken apart.
struct KeyedLine {
    std::string prefix;                // grep's "FILE:" / "FILE-" / "N:", compared exactly
    std::string text;                  // the rest, blanks collapsed: what columns do not change
    std::string shape;                 // `text` with each number replaced by '#'
    std::string key;                   // the words before the first number, ':' dropped
    std::vector<std::string> numbers;   // in order of appearance
};

// `grep -H`, `grep -n` and `grep -A` context lines prefix "FILE:", "FILE-", "N:".
// Keyed files never start a line with a digit or their own path, so this is unambiguous.
std::string_view take_grep_prefix(std::string_view& line)
{
    // "FILE:" (grep -H) or "FILE-" (grep -A context): a path with no blank in it.
    std::size_t length = 0;
    if (line.starts_with('/')) {
        const std::size_t blank = std::min(line.find_first_of(" \t"), line.size());
        const std::size_t last_slash = line.find_last_of('/', blank);
        const std::size_t sep = line.find_first_of(":-", last_slash);
        if (sep != std::string_view::npos && sep < blank) length = sep + 1;
    }
    std::size_t digits = length;
    while (digits < line.size() && is_digit(line[digits]))
        ++digits;
    if (digits > length && digits < line.size() && (line[digits] == ':' || line[digits] == '-'))
        length = digits + 1;
    std::string_view prefix = line.substr(0, length);
    line.remove_prefix(length);
    return prefix;
}

KeyedLine analyse(std::string_view line, bool key_after_first_number)
{
    KeyedLine result;
    result.prefix = std::string(take_grep_prefix(line));

    // Collapse blanks: %8lu-style padding depends on the width of the numbers.
    for (std::size_t i = 0; i < line.size();) {
        if (is_space(line[i])) {
            while (i < line.size() && is_space(line[i]))
                ++i;
            if (!result.text.empty() && i < line.size())
                result.text += ' ';
        } else {
            result.text += line[i++];
        }
    }

    // A number is a digit run not glued to a word: "DMA32" and "DirectMap4k" are names.
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    const std::string& text = result.text;
    for (std::size_t i = 0; i < text.size();) {
        if (!is_digit(text[i]) || (i > 0 && is_word_char(text[i - 1]))) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < text.size() && is_digit(text[end]))
            ++end;
        if (end == text.size() || !is_word_char(text[end]))
            spans.emplace_back(i, end);
        i = end;
        while (i < text.size() && is_word_char(text[i]))
            ++i;
    }

    std::size_t copied = 0;
    for (auto [begin, end] : spans) {
        result.shape.append(text, copied, begin - copied);
        result.shape += '#';
        result.numbers.push_back(text.substr(begin, end - begin));
        copied = end;
    }
    result.shape.append(text, copied);

    // The key is the text before the first number, or for "Node 0 MemTotal: 915416 kB"
    // the text between the first and second number.
    std::string_view key = std::string_view(text).substr(0, spans.empty() ? text.size() : spans.front().first);
    if (key_after_first_number && spans.size() > 1)
        key = std::string_view(text).substr(spans[0].second, spans[1].first - spans[0].second);
    while (!key.empty() && is_space(key.front()))
        key.remove_prefix(1);
    while (!key.empty() && (is_space(key.back()) || key.back() == ':' || key.back() == '('))
        key.remove_suffix(1);
    result.key = std::string(key);
    return result;
}

std::optional<long long> to_number(std::string_view text)
{
    long long value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

// The pipeline stages of `command` that start with one of `programs`, as their
// words from the program's name on. Stages are split at | ; & (so && and || too);
// shell keywords and wrappers before the program name are skipped ("for d in ...;
// do ls $d; done", "busybox ls").
std::vector<std::vector<std::string_view>> stages_running(std::string_view command,
                                                          const std::vector<std::string>& programs)
{
    static constexpr std::string_view k_skipped[] = {"do", "then", "else", "busybox", "command", "time", "!", "{"};
    std::vector<std::vector<std::string_view>> stages;
    std::size_t begin = 0;
    while (begin <= command.size()) {
        std::size_t end = command.find_first_of("|;&", begin);
        if (end == std::string_view::npos)
            end = command.size();
        std::vector<std::string_view> words = words_of(command.substr(begin, end - begin));
        for (std::size_t i = 0; i < words.size(); ++i) {
            if (std::find(std::begin(k_skipped), std::end(k_skipped), words[i]) != std::end(k_skipped))
                continue;
            if (std::find(programs.begin(), programs.end(), words[i]) != programs.end())
                stages.emplace_back(words.begin() + static_cast<std::ptrdiff_t>(i), words.end());
            break;
        }
        begin = end + 1;
    }
    return stages;
}

bool runs_any(std::string_view command, const std::vector<std::string>& programs)
{
    return !stages_running(command, programs).empty();
}

// busybox dmesg's -c (getopt "cs:+n:+r"): in any option cluster, before an -s or
// -n that takes the rest of the cluster or the next word as its value.
bool clears_log(const std::vector<std::string_view>& dmesg)
{
    for (std::size_t i = 1; i < dmesg.size(); ++i) {
        std::string_view word = dmesg[i];
        if (word == "--")
            break;
        if (word.size() < 2 || word[0] != '-')
            continue;
        for (std::size_t j = 1; j < word.size(); ++j) {
            if (word[j] == 'c')
                return true;
            if (word[j] == 's' || word[j] == 'n') {
                if (j + 1 == word.size())
                    ++i;  // the value is the next word
                break;
            }
        }
    }
    return false;
}

std::string list_names(const std::vector<std::string_view>& names)
{
    constexpr std::size_t k_shown = 10;
    std::string text;
    for (std::size_t i = 0; i < names.size() && i < k_shown; ++i)
        text += fmt::format("{}{}", i ? " " : "", names[i]);
    if (names.size() > k_shown)
        text += fmt::format(" (and {} more)", names.size() - k_shown);
    return text;
}

Verdict compare_names(std::span<const std::string> expected, std::span<const std::string> actual)
{
    // `ls -l` rows keep the mode and the name (and a link's target); link counts,
    // owners, sizes and times say nothing about the kernel.
    auto is_mode = [](std::string_view w) {
        return w.size() == 10 && std::string_view("-dlcbps").find(w[0]) != std::string_view::npos &&
               w.substr(1).find_first_not_of("-rwxsStT") == std::string_view::npos;
    };
    auto names_of = [&](std::span<const std::string> lines) {
        std::vector<std::string_view> names;
        for (const std::string& line : lines) {
            auto words = words_of(line);
            if (words.size() >= 9 && is_mode(words[0])) {
                names.push_back(words[0]);
                names.insert(names.end(), words.begin() + 8, words.end());
                continue;
            }
            names.insert(names.end(), words.begin(), words.end());
        }
        std::sort(names.begin(), names.end());
        return names;
    };
    const auto expected_names = names_of(expected);
    const auto actual_names = names_of(actual);
    std::vector<std::string_view> missing;
    std::vector<std::string_view> unexpected;
    std::set_difference(expected_names.begin(), expected_names.end(), actual_names.begin(), actual_names.end(),
                        std::back_inserter(missing));
    std::set_difference(actual_names.begin(), actual_names.end(), expected_names.begin(), expected_names.end(),
                        std::back_inserter(unexpected));
    Verdict verdict;
    if (!missing.empty())
        verdict.differences.push_back({std::nullopt, std::nullopt, fmt::format("missing names: {}", list_names(missing))});
    if (!unexpected.empty())
        verdict.differences.push_back(
            {std::nullopt, std::nullopt, fmt::format("unexpected names: {}", list_names(unexpected))});
    return verdict;
}

// Lines are compared pairwise only when their counts agree: shifted lines would make
// every later line differ, and the unified diff shows those better.
std::optional<LineDifference> count_difference(std::span<const std::string> expected,
                                               std::span<const std::string> actual)
{
    if (expected.size() == actual.size())
        return std::nullopt;
    return LineDifference{std::nullopt, std::nullopt,
                          fmt::format("expected {} lines, got {}", expected.size(), actual.size())};
}

LineDifference line_difference(std::size_t index, std::string_view expected, std::string_view actual)
{
    return {index, index, fmt::format("expected '{}', got '{}'", expected, actual)};
}

Verdict compare_lines(std::span<const std::string> expected, std::span<const std::string> actual)
{
    if (auto difference = count_difference(expected, actual))
        return Verdict{{std::move(*difference)}};
    Verdict verdict;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        if (expected[i] != actual[i])
            verdict.differences.push_back(line_difference(i, expected[i], actual[i]));
    }
    return verdict;
}

// The runs of non-blank lines, each joined with newlines, sorted.
std::vector<std::string> sections_of(std::span<const std::string> lines)
{
    std::vector<std::string> sections;
    bool open = false;
    for (const std::string& line : lines) {
        if (line.empty()) {
            open = false;
            continue;
        }
        if (open)
            sections.back() += '\n' + line;
        else
            sections.push_back(line);
        open = true;
    }
    std::sort(sections.begin(), sections.end());
    return sections;
}

Verdict compare_sections(std::span<const std::string> expected, std::span<const std::string> actual)
{
    const auto expected_sections = sections_of(expected);
    const auto actual_sections = sections_of(actual);
    std::vector<std::string> missing;
    std::vector<std::string> unexpected;
    std::set_difference(expected_sections.begin(), expected_sections.end(), actual_sections.begin(),
                        actual_sections.end(), std::back_inserter(missing));
    std::set_difference(actual_sections.begin(), actual_sections.end(), expected_sections.begin(),
                        expected_sections.end(), std::back_inserter(unexpected));
    // A section is named by its first line (e.g. "address-space: I/O").
    auto first_line = [](const std::string& section) { return section.substr(0, section.find('\n')); };
    Verdict verdict;
    for (const std::string& section : missing)
        verdict.differences.push_back(
            {std::nullopt, std::nullopt, fmt::format("missing or different section '{}'", first_line(section))});
    for (const std::string& section : unexpected)
        verdict.differences.push_back(
            {std::nullopt, std::nullopt, fmt::format("unexpected or different section '{}'", first_line(section))});
    return verdict;
}

}  // namespace

std::vector<std::string_view> words_of(std::string_view text)
{
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
            ++i;
        std::size_t end = i;
        while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])))
            ++end;
        if (end > i)
            words.push_back(text.substr(i, end - i));
        i = end;
    }
    return words;
}

std::string Verdict::explain() const
{
    std::string text;
    for (const LineDifference& difference : differences)
        text += difference.message + '\n';
    return text;
}

FidelityComparator::FidelityComparator(FidelityRules rules)
    : m_rules(std::move(rules))
{
    for (const FidelityRules::LogMask& mask : m_rules.log_masks)
        m_log_masks.emplace_back(mask.pattern, std::regex::ECMAScript | std::regex::optimize);
}

Verdict FidelityComparator::compare(CommandKind kind, std::string_view command, std::span<const std::string> expected,
                                    std::span<const std::string> actual)
{
    if (kind == CommandKind::Host) {
        m_last_readings.clear();  // a new boot: readings start over, the log too
        m_log_cleared = false;
    }
    if (prints_log(kind, command)) {
        Verdict verdict = compare_log(expected, actual);
        for (const auto& dmesg : stages_running(command, m_rules.log_commands))
            m_log_cleared = m_log_cleared || clears_log(dmesg);
        return verdict;
    }
    if (const KeyedFileRules* file = keyed_file(kind, command))
        return compare_keyed(*file, expected, actual);
    if (lists_names(kind, command))
        return compare_names(expected, actual);
    if (kind == CommandKind::Guest && command.find("/proc/cmdline") != std::string_view::npos) {
        // Without an -append the line is empty: in a transcript, the same as no output.
        std::vector<std::string> without;
        const std::string& words = m_rules.recorder_cmdline;
        for (const std::string& line : expected) {
            if (line != words) without.push_back(line.starts_with(words + " ") ? line.substr(words.size() + 1) : line);
        }
        std::vector<std::string> got(actual.begin(), actual.end());
        std::erase(got, std::string());
        return compare_lines(without, got);
    }
    if (unordered_sections(kind, command))
        return compare_sections(expected, actual);
    return compare_lines(expected, actual);
}

const KeyedFileRules* FidelityComparator::keyed_file(CommandKind kind, std::string_view command) const
{
    if (kind != CommandKind::Guest)
        return nullptr;
    for (const KeyedFileRules& file : m_rules.keyed_files) {
        if (command.find(file.path) != std::string_view::npos && command.find(file.mentions) != std::string_view::npos)
            return &file;
    }
    return nullptr;
}

bool FidelityComparator::lists_names(CommandKind kind, std::string_view command) const
{
    return kind == CommandKind::Guest && runs_any(command, m_rules.name_listing_commands);
}

bool FidelityComparator::prints_log(CommandKind kind, std::string_view command) const
{
    return kind == CommandKind::Guest && runs_any(command, m_rules.log_commands);
}

std::optional<std::string> FidelityComparator::log_line(std::string_view line) const
{
    std::string masked(line);
    for (std::size_t i = 0; i < m_log_masks.size(); ++i)
        masked = std::regex_replace(masked, m_log_masks[i], m_rules.log_masks[i].format,
                                    std::regex_constants::format_first_only);
    if (!m_log_cleared && std::none_of(m_rules.boot_log_subjects.begin(), m_rules.boot_log_subjects.end(),
                                       [&](const std::string& s) { return masked.starts_with(s); }))
        return std::nullopt;
    return masked;
}

Verdict FidelityComparator::compare_log(std::span<const std::string> expected, std::span<const std::string> actual) const
{
    // Line numbers stay those of the whole outputs.
    auto compared = [&](std::span<const std::string> lines) {
        std::vector<std::pair<std::size_t, std::string>> kept;
        for (std::size_t i = 0; i < lines.size(); ++i)
            if (auto line = log_line(lines[i]))
                kept.emplace_back(i, std::move(*line));
        return kept;
    };
    const auto want = compared(expected);
    const auto got = compared(actual);
    if (want.size() != got.size())
        return Verdict{{{std::nullopt, std::nullopt,
                         fmt::format("expected {} compared log lines, got {}", want.size(), got.size())}}};
    Verdict verdict;
    for (std::size_t i = 0; i < want.size(); ++i)
        if (want[i].second != got[i].second)
            verdict.differences.push_back({want[i].first, got[i].first,
                                           fmt::format("expected '{}', got '{}'", expected[want[i].first],
                                                       actual[got[i].first])});
    return verdict;
}

bool FidelityComparator::unordered_sections(CommandKind kind, std::string_view command) const
{
    if (kind != CommandKind::Monitor)
        return false;
    const auto words = words_of(command);
    for (const std::string& c : m_rules.unordered_section_commands) {
        const auto want = words_of(c);
        if (words.size() >= want.size() && std::equal(want.begin(), want.end(), words.begin()))
            return true;
    }
    return false;
}

std::vector<Coverage> FidelityComparator::coverage(CommandKind kind, std::string_view command,
                                                   std::span<const std::string> lines) const
{
    std::vector<Coverage> result(lines.size(), Coverage::Whole);
    if (const KeyedFileRules* file = keyed_file(kind, command)) {
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const KeyedLine line = analyse(lines[i], file->key_after_first_number);
            if (line.numbers.empty() || line.key.empty() ||
                (!file->group_header.empty() && line.text.starts_with(file->group_header)))
                continue;
            auto it = file->fields.find(line.key);
            if ((it != file->fields.end() ? it->second : file->other_fields) == FieldRule::Ignored)
                result[i] = Coverage::Part;
        }
    } else if (lists_names(kind, command)) {
        std::fill(result.begin(), result.end(), Coverage::Part);
    } else if (prints_log(kind, command)) {
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const auto line = log_line(lines[i]);
            if (!line || *line != lines[i])
                result[i] = Coverage::Part;
        }
    }
    return result;
}

Verdict FidelityComparator::compare_keyed(const KeyedFileRules& file, std::span<const std::string> expected,
                                          std::span<const std::string> actual)
{
    if (auto difference = count_difference(expected, actual))
        return Verdict{{std::move(*difference)}};
    Verdict verdict;

    std::string group;                             // the last header's text
    std::map<std::string, int, std::less<>> seen;  // occurrences of each key since that header
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const KeyedLine want = analyse(expected[i], file.key_after_first_number);
        const KeyedLine got = analyse(actual[i], file.key_after_first_number);
        if (want.prefix != got.prefix || want.shape != got.shape) {
            verdict.differences.push_back(line_difference(i, expected[i], actual[i]));
            continue;
        }
        if (!file.group_header.empty() && want.text.starts_with(file.group_header)) {
            if (want.text != got.text)
                verdict.differences.push_back(line_difference(i, expected[i], actual[i]));
            group = want.text;
            seen.clear();
            continue;
        }
        // A bare number (grep -c) is no field: compare it exactly.
        FieldRule rule = FieldRule::Exact;
        if (!want.key.empty()) {
            auto it = file.fields.find(want.key);
            rule = it != file.fields.end() ? it->second : file.other_fields;
        }
        const int occurrence = seen[want.key]++;
        const std::string_view field = want.key.empty() ? std::string_view("value") : std::string_view(want.key);
        for (std::size_t n = 0; n < want.numbers.size(); ++n) {
            const std::string reading_key = fmt::format("{}|{}|{}|{}|{}", file.path, group, want.key, occurrence, n);
            for (std::string& message : compare_number(rule, field, reading_key, want.numbers[n], got.numbers[n]))
                verdict.differences.push_back({i, i, std::move(message)});
        }
    }
    return verdict;
}

std::vector<std::string> FidelityComparator::compare_number(FieldRule rule, std::string_view field,
                                                            const std::string& reading_key, std::string_view expected,
                                                            std::string_view actual)
{
    std::vector<std::string> messages;
    if (rule == FieldRule::Ignored)
        return messages;
    const auto want = to_number(expected);
    const auto got = to_number(actual);
    if (rule == FieldRule::Exact || !want || !got) {
        if (expected != actual)
            messages.push_back(fmt::format("{}: expected {}, got {}", field, expected, actual));
        return messages;
    }

    // Tolerant: the value itself within the tolerance...
    const double off = *want == 0 ? (*got == 0 ? 0.0 : std::numeric_limits<double>::infinity())
                                  : std::fabs(static_cast<double>(*got - *want)) / std::fabs(static_cast<double>(*want));
    if (off > m_rules.tolerance) {
        messages.push_back(fmt::format("{}: expected {}, got {} ({:.2f} % off, allowed {:g} %)", field, *want, *got,
                                       off * 100, m_rules.tolerance * 100));
    }
    // ...and every change exact: hot(un)plug adds and removes known amounts.
    auto [last, first_reading] = m_last_readings.try_emplace(reading_key, Reading{*want, *got});
    if (!first_reading) {
        const long long want_change = *want - last->second.expected;
        const long long got_change = *got - last->second.actual;
        if (want_change != got_change) {
            messages.push_back(fmt::format("{}: expected a change of {:+} since the previous reading, got {:+}", field,
                                           want_change, got_change));
        }
        last->second = Reading{*want, *got};
    }
    return messages;
}

}  // namespace memplug::fe
