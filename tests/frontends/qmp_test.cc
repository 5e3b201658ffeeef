// QMP: the goldens recorded from QEMU 7.2 (tests/qmp/*.out, tests/qmp/record)
// replayed against memplug's QmpSession, the socket (mode, clients in turn),
// and malformed input.

#include <filesystem>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include "frontends/guest_session.h"
#include "frontends/qmp.h"
#include "reports/report.h"

namespace memplug::fe {
namespace {

namespace fs = std::filesystem;

// A Python bytes literal as the recorder's "raw: b'...'" lines hold them.
std::string python_bytes(std::string_view lit)
{
    std::string out;
    for (size_t i = 2; i + 1 < lit.size(); ++i) {
        if (lit[i] != '\\') {
            out += lit[i];
            continue;
        }
        const char e = lit[++i];
        if (e == 'x') {
            out += char(std::stoi(std::string(lit.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
        }
    }
    return out;
}

// What is not compared: the event's time, the greeting's micro version and package.
std::string normalise(std::string line)
{
    static const std::regex ts(R"("timestamp": \{"seconds": \d+, "microseconds": \d+\})");
    static const std::regex version(R"("micro": \d+, "minor": 2, "major": 7\}, "package": "[^"]*")");
    line = std::regex_replace(line, ts, R"("timestamp": T)");
    return std::regex_replace(line, version, R"("micro": M, "minor": 2, "major": 7}, "package": P)");
}

bool is_event(const std::string& l) { return l.find("\"event\": ") != std::string::npos; }

struct Golden {
    std::string machine;
    bool booted = false;
    std::vector<std::string> greeting;
    std::vector<std::pair<std::string, std::vector<std::string>>> exchanges;  // sent, replies
};

Golden load(const fs::path& p)
{
    Golden g;
    std::ifstream in(p);
    std::string l;
    while (std::getline(in, l)) {
        if (l.starts_with("$ ")) {
            g.machine = l.substr(2);
            if (g.machine.starts_with("boot ")) {
                g.booted = true;
                g.machine = g.machine.substr(5);
            }
        } else if (l.starts_with("-> ")) {
            g.exchanges.push_back({l.substr(3), {}});
        } else if (l.starts_with("<- ")) {
            (g.exchanges.empty() ? g.greeting : g.exchanges.back().second).push_back(normalise(l.substr(3)));
        }
    }
    return g;
}

std::vector<std::string> lines_of(std::string& buf)
{
    std::vector<std::string> out;
    for (size_t nl; (nl = buf.find("\r\n")) != std::string::npos; buf.erase(0, nl + 2)) out.push_back(normalise(buf.substr(0, nl)));
    return out;
}

std::unique_ptr<machine::Machine> boot(const std::string& command)
{
    auto words = split_host_command(command).value();
    words.erase(words.begin());
    auto m = machine::Machine::create(words);
    if (!m) throw std::runtime_error(m.error().text);
    return std::move(*m);
}

class QmpGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(QmpGolden, RepliesAsQemu)
{
    const Golden g = load(GetParam());
    ASSERT_FALSE(g.machine.empty()) << GetParam() << ": no machine line";
    // The recorder runs QEMU with -S unless the session boots a guest.
    auto m = boot(g.booted ? g.machine : g.machine + " -S");
    std::mutex lock;
    std::string buf;
    QmpSession s(*m, lock, [&](const std::string& out) { buf += out; });
    s.greet();
    EXPECT_EQ(lines_of(buf), g.greeting);
    // A booted guest acts when it gets to it, memplug at once: there only the
    // order of the replies and the order of the events are compared.
    std::vector<std::string> want_events, got_events;
    for (const auto& [sent, replies] : g.exchanges) {
        s.feed(sent.starts_with("raw: ") ? python_bytes(sent.substr(5)) : sent + "\n");
        std::vector<std::string> got = lines_of(buf), want = replies;
        if (g.booted) {
            for (auto* v : {&got, &want})
                for (auto it = v->begin(); it != v->end();)
                    if (is_event(*it)) {
                        (v == &got ? got_events : want_events).push_back(*it);
                        it = v->erase(it);
                    } else {
                        ++it;
                    }
        }
        EXPECT_EQ(got, want) << "after sending: " << sent;
    }
    EXPECT_EQ(got_events, want_events);
}

std::vector<std::string> goldens()
{
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(MEMPLUG_QMP_GOLDENS))
        if (e.path().extension() == ".out") out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

INSTANTIATE_TEST_SUITE_P(Recorded, QmpGolden, ::testing::ValuesIn(goldens()), [](const auto& info) {
    std::string n = fs::path(info.param).stem().string();
    std::replace(n.begin(), n.end(), '-', '_');
    return n;
});

TEST(QmpGoldens, ArePresent) { EXPECT_GE(goldens().size(), 6u) << "tests/qmp/*.out missing: run tests/qmp/record"; }

// ------------------------------------------------------------------ the socket

int connect_to(const std::string& path)
{
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
        close(fd);
        return -1;
    }
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

// One message (up to CRLF), or "" on timeout or EOF.
std::string read_line(int fd, int timeout_ms = 5000)
{
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string line;
    char c;
    while (read(fd, &c, 1) == 1) {
        line += c;
        if (line.ends_with("\r\n")) return line.substr(0, line.size() - 2);
    }
    return {};
}

void send_str(int fd, const std::string& s) { ASSERT_EQ(write(fd, s.data(), s.size()), ssize_t(s.size())); }

class QmpSocket : public ::testing::Test {
protected:
    void SetUp() override
    {
        dir = fs::temp_directory_path() / ("memplug-qmp-" + std::to_string(getpid()));
        fs::create_directories(dir);
        path = (dir / "qmp.sock").string();
        m = boot("qemu-system-x86_64 -m 1G,slots=2,maxmem=4G -machine q35");
        server = std::make_unique<QmpServer>(*m, lock, path);
        ASSERT_TRUE(server->start());
    }
    void TearDown() override
    {
        server.reset();
        fs::remove_all(dir);
    }
    fs::path dir;
    std::string path;
    std::mutex lock;
    std::unique_ptr<machine::Machine> m;
    std::unique_ptr<QmpServer> server;
};

TEST_F(QmpSocket, IsOnlyForItsOwner)
{
    struct stat st{};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(QmpSocket, ClientsInTurnEachGreetedWhenTheirTurnComes)
{
    const std::string greeting = machine::to_qemu_json(QmpSession::greeting());
    const int a = connect_to(path);
    ASSERT_GE(a, 0);
    EXPECT_EQ(read_line(a), greeting);
    const int b = connect_to(path);  // accepted by the kernel's backlog, as QEMU's is
    ASSERT_GE(b, 0);
    EXPECT_EQ(read_line(b, 300), "") << "no greeting while the first client is connected";
    send_str(a, "{\"execute\": \"qmp_capabilities\"}\n{\"execute\": \"object-add\", \"arguments\": "
                "{\"qom-type\": \"memory-backend-ram\", \"id\": \"m0\", \"size\": 134217728}}\n");
    EXPECT_EQ(read_line(a), "{\"return\": {}}");
    EXPECT_EQ(read_line(a), "{\"return\": {}}");
    close(a);
    EXPECT_EQ(read_line(b), greeting);
    send_str(b, "{\"execute\": \"query-memory-devices\"}\n");
    EXPECT_EQ(read_line(b), "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Expecting capabilities "
                            "negotiation with 'qmp_capabilities'\"}}")
        << "a new client starts unnegotiated";
    send_str(b, "{\"execute\": \"qmp_capabilities\"}\n{\"execute\": \"device_add\", \"arguments\": "
                "{\"driver\": \"pc-dimm\", \"id\": \"d0\", \"memdev\": \"m0\"}}\n");
    EXPECT_EQ(read_line(b), "{\"return\": {}}");
    EXPECT_EQ(read_line(b), "{\"return\": {}}") << "the machine outlives the first client";
    const std::string ost = read_line(b);
    EXPECT_NE(ost.find("\"event\": \"ACPI_DEVICE_OST\""), std::string::npos) << ost;
    close(b);
}

TEST_F(QmpSocket, StopsWithAClientConnected)
{
    const int a = connect_to(path);
    ASSERT_GE(a, 0);
    EXPECT_FALSE(read_line(a).empty());
    server->stop();
    EXPECT_EQ(read_line(a), "") << "the client sees EOF";
    EXPECT_FALSE(fs::exists(path));
    close(a);
}

// ------------------------------------------------------------------ the typed API's events

TEST(MachineEvents, DimmPlugAndEjectAsTheGuestReportsThem)
{
    auto m = boot("qemu-system-x86_64 -m 2G,slots=4,maxmem=16G -machine q35 -append memhp_default_state=online_movable");
    std::vector<machine::Event> events;
    m->subscribe([&](const machine::Event& e) { events.push_back(e); });
    ASSERT_TRUE(m->object_add({{"qom-type", "memory-backend-ram"}, {"id", "mem1"}, {"size", 268435456}}, machine::Input::Json));
    ASSERT_TRUE(m->device_add({{"driver", "pc-dimm"}, {"id", "dimm1"}, {"memdev", "mem1"}}));
    ASSERT_EQ(events.size(), 1u);
    const auto& plug = std::get<machine::AcpiDeviceOst>(events[0]);
    EXPECT_EQ(plug.device, "dimm1");
    EXPECT_EQ(plug.slot, "0");
    EXPECT_EQ(plug.source, 1u);
    EXPECT_EQ(plug.status, 0u);
    ASSERT_TRUE(m->device_del("dimm1"));
    ASSERT_EQ(events.size(), 4u);
    EXPECT_EQ(std::get<machine::AcpiDeviceOst>(events[1]).status, 0x84u) << "eject in progress";
    EXPECT_EQ(std::get<machine::DeviceDeleted>(events[2]).path, "/machine/peripheral/dimm1");
    EXPECT_FALSE(std::get<machine::AcpiDeviceOst>(events[3]).device) << "the slot is empty by then";
    EXPECT_TRUE(m->query_memory_devices().empty());
    auto e = m->device_del("dimm1");
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().cls, machine::ErrorClass::DeviceNotFound);
}

TEST(MachineEvents, RefusedCommandsChangeNothingAndEmitNothing)
{
    auto m = boot("qemu-system-x86_64 -m 1G,slots=1,maxmem=4G -machine q35");
    int n = 0;
    m->subscribe([&](const machine::Event&) { ++n; });
    auto r = m->device_add({{"driver", "pc-dimm"}, {"id", "d0"}, {"memdev", "nosuch"}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().desc, "Device 'nosuch' not found");
    EXPECT_EQ(r.error().cls, machine::ErrorClass::DeviceNotFound);
    EXPECT_EQ(n, 0);
    EXPECT_TRUE(m->query_memory_devices().empty());
    EXPECT_EQ(m->query_memory_size_summary().plugged_memory, 0u);
}

// memplug --check: the mount's QMP socket checks the model after every command,
// under the model's lock, the refused ones included.
TEST(QmpSessionHook, RunsAfterEveryCommandUnderTheLock)
{
    auto m = boot("qemu-system-x86_64 -m 1G,slots=2,maxmem=4G -machine q35");
    std::mutex lock;
    std::string out;
    int after = 0;
    bool locked_during_hook = false;
    QmpSession s(*m, lock, [&](const std::string& o) { out += o; },
                 [&] {
                     ++after;
                     locked_during_hook = !lock.try_lock();
                     if (!locked_during_hook) lock.unlock();
                 });
    s.feed("{\"execute\": \"qmp_capabilities\"}\n"
           "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": \"memory-backend-ram\", \"id\": \"m1\", "
           "\"size\": 134217728}}\n"
           "{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"pc-dimm\", \"id\": \"d1\", \"memdev\": \"nosuch\"}}\n");
    EXPECT_EQ(after, 3);
    EXPECT_TRUE(locked_during_hook);
    EXPECT_NE(out.find("\"error\""), std::string::npos);
}

// x-memplug-report: the report --json prints, on the machine as QMP left it;
// QEMU's argument checks and words for what is wrong.
TEST(QmpReport, AnswersWhatTheReportSaysOnTheStateNow)
{
    auto m = boot("qemu-system-x86_64 -m 1G,slots=2,maxmem=4G -machine q35");
    std::mutex lock;
    std::string out;
    QmpSession s(*m, lock, [&](const std::string& o) { out += o; });
    auto reply = [&](const std::string& request) {
        out.clear();
        s.feed(request + "\n");
        // QMP writes members in QDict's order: compare as unordered JSON.
        return nlohmann::json::parse(out.substr(0, out.find("\r\n")));
    };
    reply(R"({"execute": "qmp_capabilities"})");
    reply(R"({"execute": "object-add", "arguments": {"qom-type": "memory-backend-ram", "id": "m1", "size": 268435456}})");
    reply(R"({"execute": "device_add", "arguments": {"driver": "pc-dimm", "id": "d1", "memdev": "m1"}})");

    for (const char* kind : {"unplug", "plug", "hugepages"})
        EXPECT_EQ(reply(fmt::format(R"({{"execute": "x-memplug-report", "arguments": {{"kind": "{}"}}}})", kind))["return"],
                  nlohmann::json(*build_report(*m, kind)))
            << kind;
    const auto step = reply(R"({"execute": "x-memplug-report", "arguments": {"kind": "plug", "step": "dimm:512M"}})");
    EXPECT_EQ(step["return"]["step"]["size"], 512 * mm::MiB);
    EXPECT_EQ(step["return"]["step"]["guest_adds"], true);
    ReportRequest zones;
    zones.kind = "zones";
    zones.plan = "dimm:512M";
    zones.policy = "contig-zones,auto-movable";
    EXPECT_EQ(reply(R"({"execute": "x-memplug-report", "arguments": {"kind": "zones", "plan": "dimm:512M",
                        "policy": "contig-zones,auto-movable"}})")["return"],
              nlohmann::json(*build_report(*m, zones)));
    EXPECT_EQ(reply(R"({"execute": "x-memplug-report", "arguments": {"kind": "unplug", "plan": "dimm:1G"}})")["error"]["desc"],
              "report unplug takes no --plan");
    EXPECT_TRUE(reply(R"({"execute": "x-memplug-report", "arguments": {"kind": "map"}})")["return"]
                    .get<std::string>()
                    .starts_with("<svg"));

    EXPECT_EQ(reply(R"({"execute": "x-memplug-report", "arguments": {"kind": "nosuch"}})")["error"]["desc"],
              build_report(*m, "nosuch").error());
    EXPECT_EQ(reply(R"({"execute": "x-memplug-report"})")["error"]["desc"], "Parameter 'kind' is missing");
    EXPECT_EQ(reply(R"({"execute": "x-memplug-report", "arguments": {"kind": "plug", "step": 1}})")["error"]["desc"],
              "Invalid parameter type for 'step', expected: string");
    EXPECT_EQ(reply(R"({"execute": "x-memplug-report", "arguments": {"kind": "plug", "x": 1}})")["error"]["desc"],
              "Parameter 'x' is unexpected");
}

// ------------------------------------------------------------------ malformed input

RC_GTEST_PROP(QmpMalformed, RandomBytesGetAnswersNeverACrash, (const std::vector<uint8_t>& bytes))
{
    static auto m = boot("qemu-system-x86_64 -m 1G,slots=2,maxmem=4G -machine q35");
    std::mutex lock;
    std::string out;
    QmpSession s(*m, lock, [&](const std::string& o) { out += o; });
    s.feed("{\"execute\": \"qmp_capabilities\"}\n");
    s.feed(std::string(bytes.begin(), bytes.end()));
    // Whatever came before, a newline-separated ']' and '}' and a command get through.
    out.clear();
    s.feed("\n]]]]}}}}\n{\"execute\": \"query-memory-size-summary\", \"id\": \"probe\"}\n");
    RC_ASSERT(out.find("\"id\": \"probe\"") != std::string::npos);
    RC_ASSERT(out.ends_with("\r\n"));
}

TEST(QmpMalformed, DeepNestingHitsQemusLimit)
{
    auto m = boot("qemu-system-x86_64 -m 1G");
    std::mutex lock;
    std::string out;
    QmpSession s(*m, lock, [&](const std::string& o) { out += o; });
    s.feed(std::string(1025, '['));
    EXPECT_EQ(out, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON nesting depth limit exceeded\"}}\r\n");
}

}  // namespace
}  // namespace memplug::fe
