#include "frontends/transcript.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>

namespace memplug::fe {

namespace {

bool is_blank(std::string_view line)
{
    return line.find_first_not_of(" \t") == std::string_view::npos;
}

struct Prompt {
    std::string_view prefix;  // without the space that follows it
    CommandKind kind;
};

constexpr Prompt k_prompts[] = {
    {"$", CommandKind::Host},
    {"(qemu)", CommandKind::Monitor},
    {"(memplug)", CommandKind::Memplug},
    {"#", CommandKind::Guest},
};

constexpr char k_escape = '\\';

// An output line written as it is, with its escape removed.
std::string_view unescape_output(std::string_view line)
{
    if (line.starts_with(k_escape))
        line.remove_prefix(1);
    return line;
}

// Splits on '\n'; a final '\n' does not start another line.
std::vector<std::string_view> split_lines(std::string_view text)
{
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        if (end == std::string_view::npos) {
            lines.push_back(text);
            break;
        }
        lines.push_back(text.substr(0, end));
        text.remove_prefix(end + 1);
    }
    return lines;
}

const char* severity_name(Severity severity)
{
    return severity == Severity::Error ? "error" : "note";
}

}  // namespace

// A prompt alone (an empty command, as when Enter was pressed) or a prompt and a space.
std::optional<std::pair<CommandKind, std::string_view>> parse_command(std::string_view line)
{
    for (const Prompt& prompt : k_prompts) {
        if (!line.starts_with(prompt.prefix))
            continue;
        std::string_view rest = line.substr(prompt.prefix.size());
        if (rest.empty())
            return std::pair{prompt.kind, rest};
        if (rest.front() == ' ')
            return std::pair{prompt.kind, rest.substr(1)};
    }
    return std::nullopt;
}

bool is_comment(std::string_view line)
{
    return line.starts_with("//");
}

std::string Diagnostic::str() const
{
    if (line > 0)
        return fmt::format("{}:{}: {}: {}", file, line, severity_name(severity), message);
    return fmt::format("{}: {}: {}", file, severity_name(severity), message);
}

std::vector<std::string> Transcript::expected_lines(std::size_t index) const
{
    std::vector<std::string> result;
    for (const OutputLine& output : commands.at(index).expected)
        result.push_back(output.text);
    return result;
}

tl::expected<Transcript, std::vector<Diagnostic>> parse_transcript(std::string_view text, std::string file)
{
    Transcript transcript;
    transcript.file = std::move(file);
    std::vector<Diagnostic> errors;
    // Blank lines wait here until the next non-blank line tells what they are.
    std::vector<TranscriptLine> pending_blanks;

    auto settle_blanks = [&](LineKind kind) {
        for (TranscriptLine& blank : pending_blanks) {
            blank.kind = kind;
            if (kind == LineKind::Output) {
                blank.command = transcript.commands.size() - 1;
                transcript.commands.back().expected.push_back({blank.number, blank.text});
            }
            transcript.lines.push_back(std::move(blank));
        }
        pending_blanks.clear();
    };

    int number = 0;
    for (std::string_view raw : split_lines(text)) {
        ++number;
        std::string_view line = raw;
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        TranscriptLine entry{LineKind::Output, number, std::string(line), 0};

        if (is_blank(line)) {
            pending_blanks.push_back(std::move(entry));
            continue;
        }
        if (auto command = parse_command(line)) {
            settle_blanks(LineKind::Separator);
            entry.kind = LineKind::Command;
            entry.command = transcript.commands.size();
            transcript.commands.push_back({command->first, std::string(command->second), number, {}});
        } else if (is_comment(line)) {
            settle_blanks(LineKind::Separator);
            entry.kind = LineKind::Comment;
            if (line.starts_with(k_unrecorded_marker) && !transcript.unrecorded) {
                std::string_view reason = line.substr(k_unrecorded_marker.size());
                reason.remove_prefix(std::min(reason.find_first_not_of(' '), reason.size()));
                transcript.unrecorded = std::string(reason);
            }
        } else if (transcript.commands.empty()) {
            // Everything before the first command is one region: report it once.
            if (errors.empty())
                errors.push_back({transcript.file, number, Severity::Error, "output line before any command"});
            settle_blanks(LineKind::Separator);
        } else {
            settle_blanks(LineKind::Output);
            entry.command = transcript.commands.size() - 1;
            transcript.commands.back().expected.push_back({number, std::string(unescape_output(line))});
        }
        transcript.lines.push_back(std::move(entry));
    }
    settle_blanks(LineKind::Separator);

    if (!errors.empty())
        return tl::unexpected(std::move(errors));
    return transcript;
}

tl::expected<Transcript, std::vector<Diagnostic>> load_transcript(const std::filesystem::path& path)
{
    std::ostringstream contents;
    if (path == "-") {
        contents << std::cin.rdbuf();
        return parse_transcript(contents.str(), "<stdin>");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int err = errno;
        return tl::unexpected(std::vector<Diagnostic>{
            {path.string(), 0, Severity::Error, fmt::format("cannot read file: {}", std::strerror(err))}});
    }
    contents << in.rdbuf();
    return parse_transcript(contents.str(), path.string());
}

std::string escape_output(std::string_view line)
{
    if (parse_command(line) || is_comment(line) || line.starts_with(k_escape))
        return k_escape + std::string(line);
    return std::string(line);
}

std::vector<std::string> render_lines(const Transcript& transcript, const OutputOverrides& overrides,
                                      std::optional<std::size_t> stop_before, std::vector<LineOrigin>* origins,
                                      const std::vector<std::vector<std::string>>* notes)
{
    auto override_of = [&](std::size_t command) -> const std::optional<std::vector<std::string>>* {
        if (command < overrides.size() && overrides[command])
            return &overrides[command];
        return nullptr;
    };

    std::vector<std::string> rendered;
    std::vector<std::size_t> seen(transcript.commands.size());  // expected lines so far, per command
    auto add = [&](std::string text, std::optional<std::size_t> command, std::size_t index) {
        rendered.push_back(std::move(text));
        if (origins)
            origins->push_back({command, index});
    };
    for (const TranscriptLine& line : transcript.lines) {
        if (line.kind == LineKind::Command && stop_before && line.command == *stop_before)
            break;
        if (line.kind != LineKind::Output) {
            add(line.text, std::nullopt, 0);
        } else if (!override_of(line.command)) {  // else replaced: the new output went under the command
            add(line.text, line.command, seen[line.command]++);
        }
        if (line.kind == LineKind::Command) {
            if (const auto* output = override_of(line.command)) {
                for (std::size_t i = 0; i < (*output)->size(); ++i)
                    add(escape_output((**output)[i]), line.command, i);
            }
            if (notes && line.command < notes->size())
                for (const std::string& note : (*notes)[line.command])
                    add("// " + note, std::nullopt, 0);
        }
    }
    return rendered;
}

std::string join_lines(std::span<const std::string> lines)
{
    std::string text;
    for (const std::string& line : lines) {
        text += line;
        text += '\n';
    }
    return text;
}

std::vector<std::string> split_output(std::string_view printed)
{
    std::vector<std::string> lines;
    for (std::string_view line : split_lines(printed))
        lines.emplace_back(line);
    while (!lines.empty() && is_blank(lines.back()))
        lines.pop_back();
    return lines;
}

}  // namespace memplug::fe
