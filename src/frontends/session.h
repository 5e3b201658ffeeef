// What runs a transcript's commands: memplug's own machine, or (for conformance)
// a recording of the real kernel. The runner only sees text in, text out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace memplug::fe {

// Which prompt a transcript line carries: `$ ` (host), `(qemu) ` (monitor), `# ` (guest).
// Memplug: memplug's own lines, for what a busybox guest cannot express
// (pinned kernel memory, a process's anonymous memory); the recorder skips them.
enum class CommandKind { Host, Monitor, Guest, Memplug };

class Session {
public:
    virtual ~Session() = default;

    // Runs one command; `command` is the line without its prompt (for Host the whole
    // `qemu-system-x86_64 ARGS`, a later Host command restarts the machine). Returns
    // what it printed, each line '\n'-terminated ("" for nothing), or an error string
    // for a transcript-level problem (e.g. a monitor or guest command before any
    // machine was started). QEMU's "Error: ..." or busybox's error lines are output.
    virtual tl::expected<std::string, std::string> run(CommandKind kind, std::string_view command) = 0;

    // Why the last command was refused or did only part of its work, as far as
    // the session knows: for memplug, the guest kernel's messages of level
    // warning and worse and its pr_debug() reasons, printed while it ran.
    virtual std::vector<std::string> explain_last() const { return {}; }
};

}  // namespace memplug::fe
