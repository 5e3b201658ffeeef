// A guest that lives as long as a process serves it: the model behind
// `memplug mount` (and its QMP socket). Every front end that reaches the model
// holds lock() for the whole operation, as the kernel serialises hotplug under
// device_hotplug_lock: a sysfs write, a monitor command and a reader's render
// never interleave, so no reader sees half of a change.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "frontends/guest_session.h"

namespace memplug::fe {

class LiveGuest {
public:
    enum class CheckInvariants { AtExit, AfterEveryWrite };

    // From qemu-system-x86_64's arguments; the program name may lead or not.
    static tl::expected<std::unique_ptr<LiveGuest>, std::string> boot(std::vector<std::string> qemu_args,
                                                                       CheckInvariants check);
    // Replays a transcript first (its `$` line starts the machine): the guest is
    // then as the transcript leaves it. Its expected outputs are not compared.
    static tl::expected<std::unique_ptr<LiveGuest>, std::string> replay(const std::string& transcript_file,
                                                                        CheckInvariants check);

    std::mutex& lock() { return m_lock; }
    // The caller holds lock().
    machine::Machine& machine() { return *m_session.machine(); }
    views::GuestFs& fs() { return *m_session.fs(); }
    // After a front end changed the model (a sysfs write, a QMP command); the
    // caller holds lock(). With AfterEveryWrite, the invariants are checked now
    // and a broken one is reported on stderr.
    void after_change();
    // Checks once more (the caller holds lock()): false if an invariant broke at
    // this or any earlier check.
    bool invariants_held();

    explicit LiveGuest(CheckInvariants check) : m_check(check) {}

private:
    GuestSession m_session;
    std::mutex m_lock;
    CheckInvariants m_check;
    bool m_broken = false;
};

}  // namespace memplug::fe
