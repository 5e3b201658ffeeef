// `memplug repl`: a transcript typed one line at a time, with GNU readline on a
// terminal (line editing, history in $XDG_STATE_HOME/memplug/history, Tab over
// the guest's tree and the monitor's commands, busybox's PS2 for `for ... do`,
// Ctrl-C for the line or the running command). Lines read from a pipe run the
// same way, without prompts or history.
#pragma once

#include <string>

namespace memplug::fe {

struct ReplOptions {
    bool check_invariants = false;
    std::string machine;  // a qemu-system-x86_64 command line to start with, or ""
};

// Returns the exit status: k_status_ok at `exit` or end of input, k_status_error
// when the --machine line starts no machine.
int run_repl(const ReplOptions& options);

}  // namespace memplug::fe
