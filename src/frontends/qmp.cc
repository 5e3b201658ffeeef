#include "frontends/qmp.h"

#include <chrono>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include "reports/memory_map.h"
#include "reports/report.h"
#include "machine/monitor.h"
#include "mm/result.h"

namespace memplug::fe {

using machine::ErrorClass;
using machine::QObject;
using machine::QResult;
using machine::qerr;

namespace {

// A command's arguments as QAPI visits them: members in schema order, then
// "unexpected" for the first one left over (in QDict order).
class Args {
public:
    explicit Args(const QObject& a) : m_args(a) {}
    QResult<std::string> str(const char* name)
    {
        auto v = MP_TRY(get(name));
        if (!v->is_string()) return qerr(fmt::format("Invalid parameter type for '{}', expected: string", name));
        return v->get<std::string>();
    }
    QResult<const QObject*> any(const char* name) { return get(name); }
    const QObject* optional(const char* name)
    {
        m_seen.push_back(name);
        auto it = m_args.find(name);
        return it == m_args.end() ? nullptr : &*it;
    }
    QResult<void> done() const
    {
        for (const std::string& k : machine::qdict_keys(m_args))
            if (std::find(m_seen.begin(), m_seen.end(), k) == m_seen.end())
                return qerr(fmt::format("Parameter '{}' is unexpected", k));
        return {};
    }

private:
    QResult<const QObject*> get(const char* name)
    {
        const QObject* v = optional(name);
        if (!v) return qerr(fmt::format("Parameter '{}' is missing", name));
        return v;
    }
    const QObject& m_args;
    std::vector<std::string> m_seen;
};

QObject event_message(const machine::Event& e)
{
    QObject data = QObject::object();
    std::string name;
    std::visit(
        [&](const auto& ev) {
            using T = std::decay_t<decltype(ev)>;
            if constexpr (std::is_same_v<T, machine::DeviceDeleted>) {
                name = "DEVICE_DELETED";
                if (ev.device) data["device"] = *ev.device;
                data["path"] = ev.path;
            } else if constexpr (std::is_same_v<T, machine::MemoryDeviceSizeChange>) {
                name = "MEMORY_DEVICE_SIZE_CHANGE";
                if (ev.id) data["id"] = *ev.id;
                data["size"] = ev.size;
                data["qom-path"] = ev.qom_path;
            } else {
                name = "ACPI_DEVICE_OST";
                QObject info = QObject::object();
                if (ev.device) info["device"] = *ev.device;
                info["slot"] = ev.slot;
                info["slot-type"] = ev.slot_type;
                info["source"] = ev.source;
                info["status"] = ev.status;
                data["info"] = info;
            }
        },
        e);
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
    QObject msg = QObject::object();
    msg["event"] = name;
    msg["data"] = data;
    msg["timestamp"] = {{"seconds", us / 1000000}, {"microseconds", us % 1000000}};
    return msg;
}

QObject memory_device_info(const machine::MemoryDeviceInfo& info)
{
    QObject data = QObject::object();
    QObject out = QObject::object();
    if (const auto* d = std::get_if<machine::PcDimmDeviceInfo>(&info)) {
        if (!d->id.empty()) data["id"] = d->id;
        data["addr"] = d->addr;
        data["size"] = d->size;
        data["slot"] = d->slot;
        data["node"] = d->node;
        data["memdev"] = d->memdev;
        data["hotplugged"] = d->hotplugged;
        data["hotpluggable"] = d->hotpluggable;
        out["type"] = "dimm";
    } else {
        const auto& v = std::get<machine::VirtioMemDeviceInfo>(info);
        if (!v.id.empty()) data["id"] = v.id;
        data["memaddr"] = v.memaddr;
        data["requested-size"] = v.requested_size;
        data["size"] = v.size;
        data["max-size"] = v.max_size;
        data["block-size"] = v.block_size;
        data["node"] = v.node;
        data["memdev"] = v.memdev;
        out["type"] = "virtio-mem";
    }
    out["data"] = data;
    return out;
}

// memplug's own command (the x- prefix: not QEMU's, and no QEMU has it): the
// what-if report on the machine as it is now, the same JSON `--json` prints;
// the map, a picture, as its SVG text. Its optional arguments are the
// command line's options: step, plan, policy, ratio, online, jobs (strings).
QResult<QObject> memplug_report(const machine::Machine& m, Args& a)
{
    ReportRequest req;
    req.kind = MP_TRY(a.str("kind"));
    for (auto [name, field] : {std::pair{"step", &req.step}, {"plan", &req.plan}, {"policy", &req.policy},
                               {"ratio", &req.ratio}, {"online", &req.online}, {"jobs", &req.jobs}})
        if (const QObject* v = a.optional(name)) {
            if (!v->is_string()) return qerr(fmt::format("Invalid parameter type for '{}', expected: string", name));
            *field = v->get<std::string>();
        }
    MP_TRY(a.done());
    if (req.kind == "map") {
        if (!req.step.empty() || !req.plan.empty()) return qerr("report map takes no step");
        return QObject(memory_map_svg(m));
    }
    auto r = build_report(m, req);
    if (!r) return qerr(r.error());
    return *r;
}

}  // namespace

QmpSession::QmpSession(machine::Machine& m, std::mutex& lock, Write write, std::function<void()> after_command)
    : m_machine(m), m_lock(lock), m_write(std::move(write)), m_after_command(std::move(after_command)),
      m_stream([this](tl::expected<QObject, std::string> v) { handle(std::move(v)); })
{
    std::lock_guard g(m_lock);
    m_sink = m_machine.subscribe([this](const machine::Event& e) {
        std::lock_guard q(m_events_lock);
        m_events.push_back(event_message(e));
    });
}

QmpSession::~QmpSession()
{
    std::lock_guard g(m_lock);
    m_machine.unsubscribe(m_sink);
}

QObject QmpSession::greeting()
{
    QObject version = QObject::object();
    version["qemu"] = {{"major", 7}, {"minor", 2}, {"micro", 0}};
    version["package"] = "memplug";
    QObject qmp = QObject::object();
    qmp["version"] = version;
    qmp["capabilities"] = QObject::array({"oob"});
    return {{"QMP", qmp}};
}

void QmpSession::greet() { send(greeting()); }

void QmpSession::send(const QObject& msg) { m_write(machine::to_qemu_json(msg) + "\r\n"); }

void QmpSession::feed(std::string_view bytes)
{
    m_stream.feed(bytes);
    flush_events();
}

void QmpSession::flush_events()
{
    std::deque<QObject> events;
    {
        std::lock_guard q(m_events_lock);
        events.swap(m_events);
    }
    for (const QObject& e : events) send(e);
}

void QmpSession::handle(tl::expected<QObject, std::string> request)
{
    auto error_reply = [&](const machine::QemuError& e, const QObject* id) {
        QObject reply = QObject::object();
        if (id) reply["id"] = *id;
        reply["error"] = {{"class", std::string(machine::error_class_name(e.cls))}, {"desc", e.desc}};
        send(reply);
    };
    if (!request) return error_reply({ErrorClass::GenericError, request.error()}, nullptr);
    const QObject& req = *request;
    if (!req.is_object()) return error_reply({ErrorClass::GenericError, "QMP input must be a JSON object"}, nullptr);
    const QObject* id = req.contains("id") ? &req["id"] : nullptr;
    // qmp_dispatch_check_obj: the members in QDict order.
    std::optional<std::string> exec_key;
    for (const std::string& k : machine::qdict_keys(req)) {
        const QObject& v = req.at(k);
        if (k == "execute" || (k == "exec-oob" && m_oob)) {
            if (!v.is_string())
                return error_reply({ErrorClass::GenericError, fmt::format("QMP input member '{}' must be a string", k)}, id);
            if (exec_key)
                return error_reply({ErrorClass::GenericError,
                                    fmt::format("QMP input member '{}' clashes with '{}'", k, *exec_key)},
                                   id);
            exec_key = k;
        } else if (k == "arguments" || (k == "control" && m_oob)) {
            if (!v.is_object())
                return error_reply({ErrorClass::GenericError, fmt::format("QMP input member '{}' must be an object", k)}, id);
        } else if (k != "id") {
            return error_reply({ErrorClass::GenericError, fmt::format("QMP input member '{}' is unexpected", k)}, id);
        }
    }
    if (!exec_key) return error_reply({ErrorClass::GenericError, "QMP input lacks member 'execute'"}, id);
    const std::string command = req[*exec_key].get<std::string>();
    if (*exec_key == "exec-oob")
        return error_reply({ErrorClass::GenericError, fmt::format("The command {} does not support OOB", command)}, id);
    const QObject args = req.contains("arguments") ? req["arguments"] : QObject::object();
    QResult<QObject> r = [&]() -> QResult<QObject> {
        std::lock_guard g(m_lock);
        QResult<QObject> result = dispatch(command, args);
        if (m_after_command) m_after_command();
        return result;
    }();
    if (!r) return error_reply(r.error(), id);
    QObject reply = QObject::object();
    reply["return"] = *r;
    if (id) reply["id"] = *id;
    send(reply);
}

QResult<QObject> QmpSession::dispatch(const std::string& command, const QObject& arguments)
{
    Args a(arguments);
    const QObject empty = QObject::object();
    if (!m_negotiated) {
        // Before negotiation only qmp_capabilities exists.
        if (command != "qmp_capabilities")
            return qerr("Expecting capabilities negotiation with 'qmp_capabilities'", ErrorClass::CommandNotFound);
        if (const QObject* enable = a.optional("enable")) {
            if (!enable->is_array()) return qerr("Invalid parameter type for 'enable', expected: array");
            for (const QObject& c : *enable) {
                if (!c.is_string()) return qerr("Invalid parameter type for 'null', expected: string");
                if (c != "oob") return qerr(fmt::format("Parameter 'null' does not accept value '{}'", c.get<std::string>()));
            }
            m_oob = !enable->empty();
        }
        MP_TRY(a.done());
        m_negotiated = true;
        return empty;
    }
    if (command == "qmp_capabilities")
        return qerr("Capabilities negotiation is already complete, command ignored", ErrorClass::CommandNotFound);
    machine::Machine& m = m_machine;
    if (command == "query-memory-devices" || command == "query-memory-size-summary" || command == "query-memdev") {
        MP_TRY(a.done());
        QObject out = QObject::array();
        if (command == "query-memory-devices")
            for (const auto& d : m.query_memory_devices()) out.push_back(memory_device_info(d));
        if (command == "query-memdev")
            for (const machine::MemdevInfo& b : m.query_memdev()) {
                QObject i = QObject::object();
                i["id"] = b.id;
                i["size"] = b.size;
                i["merge"] = b.merge;
                i["dump"] = b.dump;
                i["prealloc"] = b.prealloc;
                i["share"] = b.share;
                i["reserve"] = b.reserve;
                i["host-nodes"] = QObject::array();
                i["policy"] = "default";
                out.push_back(i);
            }
        if (command == "query-memory-size-summary") {
            const auto s = m.query_memory_size_summary();
            return QObject{{"base-memory", s.base_memory}, {"plugged-memory", s.plugged_memory}};
        }
        return out;
    }
    if (command == "object-add") {
        MP_TRY(m.object_add(arguments, machine::Input::Json));
        return empty;
    }
    if (command == "device_add") {
        MP_TRY(m.device_add(arguments));
        return empty;
    }
    if (command == "object-del" || command == "device_del") {
        const std::string id = MP_TRY(a.str("id"));
        MP_TRY(a.done());
        MP_TRY(command == "object-del" ? m.object_del(id) : m.device_del(id));
        return empty;
    }
    if (command == "qom-get" || command == "qom-set") {
        const std::string path = MP_TRY(a.str("path"));
        const std::string prop = MP_TRY(a.str("property"));
        if (command == "qom-get") {
            MP_TRY(a.done());
            return m.qom_get(path, prop);
        }
        const QObject* value = MP_TRY(a.any("value"));
        MP_TRY(a.done());
        MP_TRY(m.qom_set(path, prop, *value, machine::Input::Json));
        return empty;
    }
    if (command == "qom-list") {
        const std::string path = MP_TRY(a.str("path"));
        MP_TRY(a.done());
        QObject out = QObject::array();
        for (const auto& p : MP_TRY(m.qom_list(path))) out.push_back({{"name", p.name}, {"type", p.type}});
        return out;
    }
    if (command == "human-monitor-command") {
        const std::string line = MP_TRY(a.str("command-line"));
        if (const QObject* cpu = a.optional("cpu-index"); cpu && !cpu->is_number_integer() && !cpu->is_number_unsigned())
            return qerr("Invalid parameter type for 'cpu-index', expected: integer");
        MP_TRY(a.done());
        // The monitor's output device turns each "\n" into "\r\n".
        std::string out;
        for (char c : machine::hmp(m, line)) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
        return QObject(out);
    }
    if (command == "x-memplug-report") return memplug_report(m, a);
    return qerr(fmt::format("The command {} has not been found", command), ErrorClass::CommandNotFound);
}


// ------------------------------------------------------------------ the socket

QmpServer::QmpServer(machine::Machine& m, std::mutex& lock, std::string socket_path,
                     std::function<void()> after_command)
    : m_machine(m), m_lock(lock), m_path(std::move(socket_path)), m_after_command(std::move(after_command))
{
}

QmpServer::~QmpServer() { stop(); }

tl::expected<void, std::string> QmpServer::start()
{
    sockaddr_un addr{};
    if (m_path.size() >= sizeof addr.sun_path) return tl::unexpected(fmt::format("{}: socket path too long", m_path));
    std::memcpy(addr.sun_path, m_path.c_str(), m_path.size() + 1);
    addr.sun_family = AF_UNIX;
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return tl::unexpected(fmt::format("socket: {}", std::strerror(errno)));
    // The socket file takes the socket inode's mode at bind: 0600 from the start, no window.
    (void)unlink(m_path.c_str());
    if (fchmod(fd, 0600) < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
        chmod(m_path.c_str(), 0600) < 0 || listen(fd, 1) < 0 || pipe2(m_stop_pipe, O_CLOEXEC) < 0) {
        const std::string err = fmt::format("{}: {}", m_path, std::strerror(errno));
        close(fd);
        return tl::unexpected(err);
    }
    m_listen = fd;
    m_thread = std::thread([this] { serve(); });
    return {};
}

void QmpServer::stop()
{
    if (!m_thread.joinable()) return;
    const char c = 0;
    (void)!write(m_stop_pipe[1], &c, 1);
    m_thread.join();
    close(m_listen);
    close(m_stop_pipe[0]);
    close(m_stop_pipe[1]);
    m_listen = m_stop_pipe[0] = m_stop_pipe[1] = -1;
    (void)unlink(m_path.c_str());
}

void QmpServer::serve()
{
    for (;;) {
        pollfd p[2] = {{m_listen, POLLIN, 0}, {m_stop_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) return;
        if (p[1].revents) return;
        if (!(p[0].revents & POLLIN)) continue;
        const int fd = accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        serve_client(fd);
        close(fd);
    }
}

void QmpServer::serve_client(int fd)
{
    bool alive = true;
    QmpSession session(m_machine, m_lock, [&](const std::string& s) {
        for (size_t off = 0; alive && off < s.size();) {
            const ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n <= 0) alive = false;
            else off += size_t(n);
        }
    }, m_after_command);
    session.greet();
    char buf[65536];
    while (alive) {
        pollfd p[2] = {{fd, POLLIN, 0}, {m_stop_pipe[0], POLLIN, 0}};
        // Wake up now and then for events other front ends caused.
        if (poll(p, 2, 100) < 0 && errno != EINTR) return;
        if (p[1].revents) return;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            const ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) return;
            session.feed(std::string_view(buf, size_t(n)));
        }
        session.flush_events();
    }
}

}  // namespace memplug::fe
