// `memplug run` and `memplug check`: execute a transcript's commands in order
// through a Session, then render the real outputs (run) or compare them with the
// expected ones under the fidelity rules (check), as lit and FileCheck would.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "frontends/fidelity.h"
#include "frontends/session.h"
#include "frontends/transcript.h"

namespace memplug::fe {

// Exit statuses, FileCheck's: all agree, some output differs, the transcript (or
// the command line) could not run. `memplug --help` and the README list them.
inline constexpr int k_status_ok = 0;
inline constexpr int k_status_differs = 1;
inline constexpr int k_status_error = 2;

struct RunResult {
    std::string rendered;                 // the transcript with the actual outputs (stdout)
    std::vector<Diagnostic> diagnostics;  // a session error, if one stopped the run (stderr)
    int status = k_status_ok;
};

struct RunOptions {
    // Under each command, what the session says about why it was refused or
    // partial (Session::explain_last), as `// explain: TEXT` comment lines;
    // such lines already in the file are dropped first.
    bool explain = false;
};
// Such a comment is "// " k_explain_note TEXT.
inline constexpr std::string_view k_explain_note = "explain: ";

// Runs every command and renders the transcript in its own format, each command's
// actual output directly under it. Running the result again gives the same text.
// A session error stops the run: `rendered` then ends before that command.
RunResult run_transcript(const Transcript& transcript, Session& session, const RunOptions& options = {});

struct CheckResult {
    // Per differing command `FILE:LINE: error: output of 'CMD' differs`, followed by
    // notes saying how; or the one session error that stopped the check.
    std::vector<Diagnostic> diagnostics;
    // `--- FILE (expected)` / `+++ FILE (memplug)`: the file against itself with the
    // actual output of each differing command (agreeing commands keep their expected
    // lines, so layout-only differences such as ls columns stay out). Empty if none.
    // A second gutter column marks output lines by what the fidelity rules compare:
    // `=` the line, `~` part of it (ls: the names; ignored counters: not the numbers).
    std::string diff;
    // One line, always: `FILE: N commands, all agree`, `FILE: K of N commands differ`,
    // `FILE: stopped at line L ...`, or `FILE: no real-kernel recording (REASON) ...`.
    std::string summary;
    int status = k_status_ok;
    std::size_t commands_run = 0;
    std::size_t commands_differing = 0;
    bool unrecorded = false;  // marked as carrying no real-kernel output: nothing compared

    // What `memplug check` prints: the diagnostics, the diff, then the summary.
    std::string report() const;
};

// A transcript marked `// no real-kernel recording: REASON` runs every command and
// compares nothing (it must carry no output lines); the others compare each command.

CheckResult check_transcript(const Transcript& transcript, Session& session, const FidelityRules& rules = {});

}  // namespace memplug::fe
