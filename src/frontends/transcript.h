// Transcripts: text files that read like an LKML report and run like a lit test.
//
//   $ qemu-system-x86_64 ARGS     host command: (re)start a machine
//   (qemu) CMD                    QEMU monitor command
//   (memplug) CMD                 memplug's own workload line (pin, anon, free)
//   # CMD                         guest shell command
//   // text                       comment
//   \LINE                         the output line LINE, which could not be written as
//                                 it is (it begins like a command, a comment or '\')
//   anything else                 expected output of the command above
//
// `// no real-kernel recording: REASON` marks a transcript whose commands carry no
// expected output on purpose (a size the real kernel cannot be booted at here).
//
// Blank lines that are followed only by blank lines and then a command, a comment
// or the end of the file separate blocks; other blank lines are output. Every line
// keeps its number, so diagnostics and diffs speak the file's own line numbers.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "frontends/session.h"

namespace memplug::fe {

enum class Severity { Error, Note };

// A transcript line's prompt (`$`, `(qemu)`, `(memplug)`, `#`) alone or with a
// space: its kind and the command after it; nullopt for any other line.
std::optional<std::pair<CommandKind, std::string_view>> parse_command(std::string_view line);
bool is_comment(std::string_view line);  // `//`

// One message in LLVM's style: `file:line: error: message` (no line when 0).
struct Diagnostic {
    std::string file;
    int line = 0;
    Severity severity = Severity::Error;
    std::string message;

    std::string str() const;
};

enum class LineKind { Command, Output, Comment, Separator };

// One line of the file as written (a trailing '\r' removed).
struct TranscriptLine {
    LineKind kind = LineKind::Output;
    int number = 0;               // 1-based line number in the file
    std::string text;             // the whole line, prompt included
    std::size_t command = 0;      // for Command and Output lines: index into Transcript::commands
};

struct OutputLine {
    int number = 0;
    std::string text;
};

struct Command {
    CommandKind kind = CommandKind::Guest;
    std::string text;                  // without the prompt
    int line = 0;                      // line number of the command
    std::vector<OutputLine> expected;  // its expected output, in file order
};

struct Transcript {
    std::string file;                   // name used in diagnostics
    std::vector<TranscriptLine> lines;  // every line of the file, in order
    std::vector<Command> commands;
    // The reason given by a `// no real-kernel recording: REASON` line, if any.
    std::optional<std::string> unrecorded;

    // The expected output of command `index` as plain lines.
    std::vector<std::string> expected_lines(std::size_t index) const;
};

// Parses `text`; never throws. On failure, errors naming file:line.
tl::expected<Transcript, std::vector<Diagnostic>> parse_transcript(std::string_view text, std::string file);

// Reads and parses a file ("-": standard input, named "<stdin>"); an unreadable
// file is a diagnostic too.
tl::expected<Transcript, std::vector<Diagnostic>> load_transcript(const std::filesystem::path& path);

// An output line as a transcript holds it: with a '\' in front when the line as
// it is would read as a command or a comment, or begins with '\' itself.
std::string escape_output(std::string_view line);

// The comment that marks a transcript without real-kernel output.
inline constexpr std::string_view k_unrecorded_marker = "// no real-kernel recording:";

// Per command: the output to show instead of the expected one (nullopt keeps the
// expected lines where they were).
using OutputOverrides = std::vector<std::optional<std::vector<std::string>>>;

// Where a rendered line came from: the output of command `command`, line `index`
// of it (escapes removed), or (no command) a command, comment or separator line.
struct LineOrigin {
    std::optional<std::size_t> command;
    std::size_t index = 0;
};

// Renders the transcript in its own format. Command, comment and separator lines are
// copied verbatim; an overridden command gets its new output (escaped) directly
// under it. Rendering stops before command `stop_before` when given. With no
// overrides the result is the file's lines. `origins`, when given, gets one entry
// per rendered line. `notes`, when given, holds per command comment lines (without
// "// ") to put directly under its new output.
std::vector<std::string> render_lines(const Transcript& transcript, const OutputOverrides& overrides,
                                      std::optional<std::size_t> stop_before = std::nullopt,
                                      std::vector<LineOrigin>* origins = nullptr,
                                      const std::vector<std::vector<std::string>>* notes = nullptr);

// The lines joined, each '\n'-terminated.
std::string join_lines(std::span<const std::string> lines);

// Splits a command's printed text into output lines. Trailing blank lines are dropped:
// the format reads them as separators, so a transcript cannot expect them.
std::vector<std::string> split_output(std::string_view printed);

}  // namespace memplug::fe
