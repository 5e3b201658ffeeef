#include "frontends/runner.h"

#include <optional>

#include <fmt/format.h>

#include "frontends/diff.h"

namespace memplug::fe {

namespace {

// The actual output of each command, up to the first session error.
struct Execution {
    std::vector<std::vector<std::string>> outputs;
    std::vector<std::vector<std::string>> explanations;  // per command, when asked for
    std::optional<Diagnostic> error;  // then outputs.size() is the failing command's index
};

Execution execute(const Transcript& transcript, Session& session, bool explain = false)
{
    Execution execution;
    for (const Command& command : transcript.commands) {
        auto printed = session.run(command.kind, command.text);
        if (!printed) {
            execution.error = Diagnostic{transcript.file, command.line, Severity::Error, std::move(printed.error())};
            break;
        }
        execution.outputs.push_back(split_output(*printed));
        if (explain) execution.explanations.push_back(session.explain_last());
    }
    return execution;
}

}  // namespace

RunResult run_transcript(const Transcript& input, Session& session, const RunOptions& options)
{
    // An earlier --explain's comments give way to this run's.
    Transcript transcript = input;
    if (options.explain)
        std::erase_if(transcript.lines, [](const TranscriptLine& l) {
            return l.kind == LineKind::Comment && l.text.starts_with("// ") && l.text.substr(3).starts_with(k_explain_note);
        });
    Execution execution = execute(transcript, session, options.explain);
    std::vector<std::vector<std::string>> notes(execution.explanations.size());
    for (std::size_t i = 0; i < execution.explanations.size(); ++i)
        for (const std::string& why : execution.explanations[i])
            notes[i].push_back(std::string(k_explain_note) + why);
    RunResult result;
    std::optional<std::size_t> stop_before;
    if (execution.error) {
        stop_before = execution.outputs.size();
        result.diagnostics.push_back(std::move(*execution.error));
        result.status = k_status_error;
    }
    OutputOverrides overrides(execution.outputs.begin(), execution.outputs.end());
    result.rendered = join_lines(render_lines(transcript, overrides, stop_before, nullptr, &notes));
    return result;
}

namespace {

std::string plural(std::size_t n, std::string_view word)
{
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

// Counts what ran; a command that could not run ends the check there, said so.
bool stopped(const Transcript& transcript, Execution& execution, CheckResult& result)
{
    result.commands_run = execution.outputs.size();
    if (!execution.error) return false;
    result.summary = fmt::format("{}: stopped at line {} ({} of {} ran)", transcript.file, execution.error->line,
                                 result.commands_run, plural(transcript.commands.size(), "command"));
    result.diagnostics.push_back(std::move(*execution.error));
    result.status = k_status_error;
    return true;
}

// Runs a transcript that says it has no real-kernel output: nothing to compare, but
// every command must run (and keep the invariants when those are checked).
CheckResult check_unrecorded(const Transcript& transcript, Session& session)
{
    CheckResult result;
    result.unrecorded = true;
    for (const Command& command : transcript.commands) {
        if (!command.expected.empty()) {
            result.diagnostics.push_back({transcript.file, command.expected.front().number, Severity::Error,
                                          fmt::format("output line in a transcript marked '{} {}'",
                                                      k_unrecorded_marker, *transcript.unrecorded)});
            result.status = k_status_error;
            result.summary = fmt::format("{}: not run", transcript.file);
            return result;
        }
    }
    Execution execution = execute(transcript, session);
    if (stopped(transcript, execution, result)) return result;
    result.summary = fmt::format("{}: no real-kernel recording ({}): {} ran, nothing compared", transcript.file,
                                 *transcript.unrecorded, plural(result.commands_run, "command"));
    return result;
}

char coverage_mark(Coverage coverage)
{
    return coverage == Coverage::Whole ? '=' : '~';
}

// The diff's second column: per rendered line, what the rules compare of it.
std::vector<char> coverage_marks(const std::vector<LineOrigin>& origins,
                                 const std::vector<std::vector<Coverage>>& coverage)
{
    std::vector<char> marks;
    marks.reserve(origins.size());
    for (const LineOrigin& origin : origins) {
        if (!origin.command || origin.index >= coverage[*origin.command].size())
            marks.push_back(' ');
        else
            marks.push_back(coverage_mark(coverage[*origin.command][origin.index]));
    }
    return marks;
}

}  // namespace

CheckResult check_transcript(const Transcript& transcript, Session& session, const FidelityRules& rules)
{
    if (transcript.unrecorded)
        return check_unrecorded(transcript, session);
    Execution execution = execute(transcript, session);
    CheckResult result;
    if (stopped(transcript, execution, result)) return result;
    const std::size_t n = transcript.commands.size();

    FidelityComparator comparator(rules);
    OutputOverrides overrides(n);
    std::vector<std::vector<Coverage>> expected_coverage(n);
    std::vector<std::vector<Coverage>> actual_coverage(n);
    for (std::size_t i = 0; i < n; ++i) {
        const Command& command = transcript.commands[i];
        const std::vector<std::string> expected = transcript.expected_lines(i);
        // Coverage first: compare() moves the comparator on to the next command.
        expected_coverage[i] = comparator.coverage(command.kind, command.text, expected);
        actual_coverage[i] = comparator.coverage(command.kind, command.text, execution.outputs[i]);
        const Verdict verdict = comparator.compare(command.kind, command.text, expected, execution.outputs[i]);
        if (verdict.agrees()) {
            actual_coverage[i] = expected_coverage[i];
            continue;
        }
        ++result.commands_differing;
        overrides[i] = execution.outputs[i];
        result.diagnostics.push_back({transcript.file, command.line, Severity::Error,
                                      fmt::format("output of '{}' differs", command.text)});
        for (const LineDifference& difference : verdict.differences) {
            const int line = difference.expected_index ? command.expected[*difference.expected_index].number
                                                       : command.line;
            result.diagnostics.push_back({transcript.file, line, Severity::Note, difference.message});
        }
    }

    if (result.commands_differing == 0) {
        result.summary = fmt::format("{}: {}, all agree", transcript.file, plural(n, "command"));
        return result;
    }
    result.status = k_status_differs;
    result.summary =
        fmt::format("{}: {} of {} differ", transcript.file, result.commands_differing, plural(n, "command"));
    std::vector<LineOrigin> expected_origins;
    std::vector<LineOrigin> actual_origins;
    const std::vector<std::string> expected_lines = render_lines(transcript, {}, std::nullopt, &expected_origins);
    const std::vector<std::string> actual_lines = render_lines(transcript, overrides, std::nullopt, &actual_origins);
    const DiffGutter gutter{coverage_marks(expected_origins, expected_coverage),
                            coverage_marks(actual_origins, actual_coverage)};
    result.diff = "(diff column 2: '=' a line the fidelity rules compare, '~' one they compare in part: "
                  "ls by its names, an ignored counter by all but its numbers)\n";
    result.diff += unified_diff(expected_lines, actual_lines, fmt::format("{} (expected)", transcript.file),
                                fmt::format("{} (memplug)", transcript.file), 3, gutter);
    return result;
}

std::string CheckResult::report() const
{
    std::string text;
    for (const Diagnostic& diagnostic : diagnostics)
        text += diagnostic.str() + '\n';
    text += diff;
    if (!summary.empty())
        text += summary + '\n';
    return text;
}

}  // namespace memplug::fe
