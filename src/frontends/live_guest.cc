#include "frontends/live_guest.h"

#include <iostream>

#include <fmt/format.h>

#include "frontends/runner.h"
#include "frontends/transcript.h"

namespace memplug::fe {

namespace {

std::string join(const std::vector<Diagnostic>& diagnostics)
{
    std::string msg;
    for (const Diagnostic& d : diagnostics) msg += (msg.empty() ? "" : "\n") + d.str();
    return msg;
}

}  // namespace

tl::expected<std::unique_ptr<LiveGuest>, std::string> LiveGuest::boot(std::vector<std::string> qemu_args,
                                                                       CheckInvariants check)
{
    if (!qemu_args.empty() && (qemu_args.front() == "qemu-system-x86_64" || qemu_args.front().ends_with("/qemu-system-x86_64")))
        qemu_args.erase(qemu_args.begin());
    auto guest = std::make_unique<LiveGuest>(check);
    if (auto started = guest->m_session.start(qemu_args); !started) return tl::unexpected(started.error().text);
    return guest;
}

tl::expected<std::unique_ptr<LiveGuest>, std::string> LiveGuest::replay(const std::string& transcript_file,
                                                                        CheckInvariants check)
{
    auto t = load_transcript(transcript_file);
    if (!t) return tl::unexpected(join(t.error()));
    auto guest = std::make_unique<LiveGuest>(check);
    const RunResult r = run_transcript(*t, guest->m_session);
    if (r.status == k_status_error) return tl::unexpected(join(r.diagnostics));
    if (!guest->m_session.machine())
        return tl::unexpected(fmt::format("{}: the transcript leaves no machine running (did QEMU refuse its '$' line?)",
                                          transcript_file));
    return guest;
}

void LiveGuest::after_change()
{
    if (m_check == CheckInvariants::AfterEveryWrite) invariants_held();
}

bool LiveGuest::invariants_held()
{
    if (auto inv = machine().kernel().check_invariants(); !inv) {
        std::cerr << "memplug: model invariant violated: " << inv.error().reason << "\n";
        m_broken = true;
    }
    return !m_broken;
}

}  // namespace memplug::fe
