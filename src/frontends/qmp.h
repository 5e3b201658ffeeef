// QMP (QEMU's machine protocol) over memplug's machine, as QEMU 7.2 speaks it:
// the greeting, capabilities negotiation, commands and their argument checks,
// events, and QEMU's answers to malformed input. Commands only parse and
// format: the machine's typed API does the work and the checks.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <tl/expected.hpp>

#include "frontends/qmp_json.h"
#include "machine/machine.h"

namespace memplug::fe {

// One client's conversation. Input bytes in, QEMU's messages out (each
// "JSON\r\n"), through `write`. Every command runs under `lock`, followed
// (still under it) by `after_command` if given; events from the machine (any
// front end's doing) are queued and written after the reply.
class QmpSession {
public:
    using Write = std::function<void(const std::string&)>;
    QmpSession(machine::Machine& m, std::mutex& lock, Write write, std::function<void()> after_command = {});
    ~QmpSession();
    QmpSession(const QmpSession&) = delete;
    QmpSession& operator=(const QmpSession&) = delete;

    void greet();
    void feed(std::string_view bytes);
    // Writes the events that happened since the last call.
    void flush_events();

    // memplug's greeting names the QEMU it models: 7.2, micro 0, package "memplug".
    static machine::QObject greeting();

private:
    void handle(tl::expected<machine::QObject, std::string> request);
    machine::QResult<machine::QObject> dispatch(const std::string& command, const machine::QObject& args);
    void send(const machine::QObject& msg);

    machine::Machine& m_machine;
    std::mutex& m_lock;
    Write m_write;
    std::function<void()> m_after_command;
    QmpJsonStream m_stream;
    bool m_negotiated = false, m_oob = false;
    int m_sink = -1;
    std::mutex m_events_lock;  // the machine may emit from another front end's thread
    std::deque<machine::QObject> m_events;
};

// `-qmp unix:PATH,server=on,wait=off`: one client at a time (a second one's
// connection waits, ungreeted, until the first hangs up), on a socket of mode 0600.
class QmpServer {
public:
    QmpServer(machine::Machine& m, std::mutex& lock, std::string socket_path, std::function<void()> after_command = {});
    ~QmpServer();
    QmpServer(const QmpServer&) = delete;
    QmpServer& operator=(const QmpServer&) = delete;

    // Creates the socket and starts serving in a thread of its own.
    tl::expected<void, std::string> start();
    // Disconnects the client, stops the thread and removes the socket.
    void stop();

private:
    void serve();
    void serve_client(int fd);

    machine::Machine& m_machine;
    std::mutex& m_lock;
    std::string m_path;
    std::function<void()> m_after_command;
    int m_listen = -1;
    int m_stop_pipe[2] = {-1, -1};
    std::thread m_thread;
};

}  // namespace memplug::fe
