#include "frontends/runner.h"

#include <optional>

#include <fmt/format.h>

#include "frontends/diff.h"

namespace memplug::fe {

namespace {

// The actual output of each command, up to the first session error.
struct Execution {
    std::vector<std::vector<std::string>> outputs;
    std::optional<Diagnostic> error;  // then outputs.size() is the failing command's index
};

Execution execute(const Transcript& transcript, Session& session)
{
    Execution execution;
    for (const Command& command : transcript.commands) {
        auto printed = session.run(command.kind, command.text);
        if (!printed) {
            execution.error = Diagnostic{transcript.file, command.line, Severity::Error, std::move(printed.error())};
            break;
        }
        execution.outputs.push_back(split_output(*printed));
    }
    return execution;
}

}  // namespace

RunResult run_transcript(const Transcript& transcript, Session& session)
{
    Execution execution = execute(transcript, session);
    RunResult result;
    std::optional<std::size_t> stop_before;
    if (execution.error) {
        stop_before = execution.outputs.size();
        result.diagnostics.push_back(std::move(*execution.error));
        result.status = k_status_error;
    }
    OutputOverrides overrides(execution.outputs.begin(), execution.outputs.end());
    result.rendered = join_lines(render_lines(transcript, overrides, stop_before));
    return result;
}

CheckResult check_transcript(const Transcript& transcript, Session& session, const FidelityRules& rules)
{
    Execution execution = execute(transcript, session);
    CheckResult result;
    result.commands_run = execution.outputs.size();
    if (execution.error) {
        result.diagnostics.push_back(std::move(*execution.error));
        result.status = k_status_error;
        return result;
    }

    FidelityComparator comparator(rules);
    OutputOverrides overrides(transcript.commands.size());
    for (std::size_t i = 0; i < transcript.commands.size(); ++i) {
        const Command& command = transcript.commands[i];
        const Verdict verdict =
            comparator.compare(command.kind, command.text, transcript.expected_lines(i), execution.outputs[i]);
        if (verdict.agrees())
            continue;
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
        const std::size_t n = transcript.commands.size();
        result.summary = fmt::format("{}: {} command{}, all agree", transcript.file, n, n == 1 ? "" : "s");
        return result;
    }
    result.status = k_status_differs;
    result.diff = unified_diff(render_lines(transcript, {}), render_lines(transcript, overrides),
                               fmt::format("{} (expected)", transcript.file),
                               fmt::format("{} (memplug)", transcript.file));
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
