// `memplug run` and `memplug check`: execute a transcript's commands in order
// through a Session, then render the real outputs (run) or compare them with the
// expected ones under the fidelity rules (check), as lit and FileCheck would.
#pragma once

#include <string>
#include <vector>

#include "frontends/fidelity.h"
#include "frontends/session.h"
#include "frontends/transcript.h"

namespace memplug::fe {

// Exit statuses, FileCheck's: all agree, some output differs, the transcript could not run.
inline constexpr int k_status_ok = 0;
inline constexpr int k_status_differs = 1;
inline constexpr int k_status_error = 2;

struct RunResult {
    std::string rendered;                 // the transcript with the actual outputs (stdout)
    std::vector<Diagnostic> diagnostics;  // a session error, if one stopped the run (stderr)
    int status = k_status_ok;
};

// Runs every command and renders the transcript in its own format, each command's
// actual output directly under it. Running the result again gives the same text.
// A session error stops the run: `rendered` then ends before that command.
RunResult run_transcript(const Transcript& transcript, Session& session);

struct CheckResult {
    // Per differing command `FILE:LINE: error: output of 'CMD' differs`, followed by
    // notes saying how; or the one session error that stopped the check.
    std::vector<Diagnostic> diagnostics;
    // `--- FILE (expected)` / `+++ FILE (memplug)`: the file against itself with the
    // actual output of each differing command (agreeing commands keep their expected
    // lines, so layout-only differences such as ls columns stay out). Empty if none.
    std::string diff;
    std::string summary;  // `FILE: N commands, all agree` when status is k_status_ok
    int status = k_status_ok;
    std::size_t commands_run = 0;
    std::size_t commands_differing = 0;

    // What `memplug check` prints: the diagnostics, then the diff, or the summary.
    std::string report() const;
};

CheckResult check_transcript(const Transcript& transcript, Session& session, const FidelityRules& rules = {});

}  // namespace memplug::fe
