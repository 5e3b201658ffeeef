#include "frontends/runner.h"

#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace memplug::fe {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// Prints scripted text per command; monitor and guest commands need a machine.
class FakeSession : public Session {
public:
    explicit FakeSession(std::map<std::string, std::string, std::less<>> outputs)
        : m_outputs(std::move(outputs))
    {
    }

    tl::expected<std::string, std::string> run(CommandKind kind, std::string_view command) override
    {
        m_calls.emplace_back(kind, std::string(command));
        if (kind == CommandKind::Host)
            m_started = true;
        else if (!m_started)
            return tl::unexpected(std::string("no machine is running"));
        auto it = m_outputs.find(command);
        return it != m_outputs.end() ? it->second : std::string();
    }

    const std::vector<std::pair<CommandKind, std::string>>& calls() const { return m_calls; }

private:
    std::map<std::string, std::string, std::less<>> m_outputs;
    std::vector<std::pair<CommandKind, std::string>> m_calls;
    bool m_started = false;
};

Transcript parse(std::string_view text)
{
    auto parsed = parse_transcript(text, "t.txt");
    EXPECT_TRUE(parsed.has_value());
    return parsed ? *parsed : Transcript{};
}

const std::map<std::string, std::string, std::less<>> k_outputs = {
    {"cat /sys/devices/system/memory/memory32/state", "online\n"},
    {"info numa", "1 nodes\nnode 0 cpus: 0\nnode 0 size: 2048 MB\n"},
    {"ls /sys/devices/system/memory", "auto_online_blocks\nblock_size_bytes\nmemory0\nmemory1\n"},
    {"grep -E 'zone|managed|free' /proc/zoneinfo",
     "Node 0, zone    DMA32\n  pages free     100\n        managed  226000\n"},
    {"echo offline > /sys/devices/system/memory/memory0/state", "sh: write error: Device or resource busy\n"},
};

constexpr std::string_view k_transcript = "// Show that memory32 comes up online\n"
                                          "$ qemu-system-x86_64 -m 2G\n"
                                          "(qemu) info numa\n"
                                          "1 nodes\n"
                                          "\n"
                                          "# cat /sys/devices/system/memory/memory32/state\n"
                                          "// a comment between command and output\n"
                                          "offline\n"
                                          "\n"
                                          "# echo online > /sys/devices/system/memory/memory33/state\n";

TEST(Runner, RunSendsEachCommandInOrder)
{
    FakeSession session(k_outputs);
    run_transcript(parse(k_transcript), session);
    EXPECT_THAT(session.calls(),
                ElementsAre(Pair(CommandKind::Host, "qemu-system-x86_64 -m 2G"), Pair(CommandKind::Monitor, "info numa"),
                            Pair(CommandKind::Guest, "cat /sys/devices/system/memory/memory32/state"),
                            Pair(CommandKind::Guest, "echo online > /sys/devices/system/memory/memory33/state")));
}

TEST(Runner, RunPutsTheActualOutputUnderEachCommand)
{
    FakeSession session(k_outputs);
    const RunResult result = run_transcript(parse(k_transcript), session);
    EXPECT_EQ(result.status, k_status_ok);
    EXPECT_TRUE(result.diagnostics.empty());
    EXPECT_EQ(result.rendered, "// Show that memory32 comes up online\n"
                               "$ qemu-system-x86_64 -m 2G\n"
                               "(qemu) info numa\n"
                               "1 nodes\n"
                               "node 0 cpus: 0\n"
                               "node 0 size: 2048 MB\n"
                               "\n"
                               "# cat /sys/devices/system/memory/memory32/state\n"
                               "online\n"
                               "// a comment between command and output\n"
                               "\n"
                               "# echo online > /sys/devices/system/memory/memory33/state\n");
}

TEST(Runner, RunIsAFixedPoint)
{
    FakeSession first(k_outputs);
    const std::string once = run_transcript(parse(k_transcript), first).rendered;
    FakeSession second(k_outputs);
    EXPECT_EQ(run_transcript(parse(once), second).rendered, once);
}

// Says why after every guest command that writes to a file.
class ExplainingSession : public FakeSession {
public:
    using FakeSession::FakeSession;
    tl::expected<std::string, std::string> run(CommandKind kind, std::string_view command) override
    {
        m_last = std::string(command);
        return FakeSession::run(kind, command);
    }
    std::vector<std::string> explain_last() const override
    {
        if (m_last.find('>') == std::string::npos) return {};
        return {"memory offlining [mem 0x00000000-0x07ffffff] failed due to failure to isolate range"};
    }

private:
    std::string m_last;
};

TEST(Runner, ExplainPutsCommentsUnderTheOutputAndReplacesEarlierOnes)
{
    const std::string text = "$ qemu-system-x86_64 -m 2G\n"
                             "# echo offline > /sys/devices/system/memory/memory0/state\n"
                             "// explain: an old reason\n"
                             "# cat /sys/devices/system/memory/memory32/state\n";
    ExplainingSession session(k_outputs);
    const RunResult result = run_transcript(parse(text), session, RunOptions{.explain = true});
    const std::string expected = "$ qemu-system-x86_64 -m 2G\n"
                                 "# echo offline > /sys/devices/system/memory/memory0/state\n"
                                 "sh: write error: Device or resource busy\n"
                                 "// explain: memory offlining [mem 0x00000000-0x07ffffff] failed due to failure to "
                                 "isolate range\n"
                                 "# cat /sys/devices/system/memory/memory32/state\n"
                                 "online\n";
    EXPECT_EQ(result.rendered, expected);
    ExplainingSession again(k_outputs);
    EXPECT_EQ(run_transcript(parse(result.rendered), again, RunOptions{.explain = true}).rendered, expected);
    // Without --explain the comments stay as they are.
    FakeSession plain(k_outputs);
    EXPECT_EQ(run_transcript(parse(result.rendered), plain).rendered, expected);
}

TEST(Runner, RunStopsAtASessionError)
{
    FakeSession session(k_outputs);
    const RunResult result = run_transcript(parse("// no machine\n(qemu) info numa\n1 nodes\n# true\n"), session);
    EXPECT_EQ(result.status, k_status_error);
    EXPECT_EQ(result.rendered, "// no machine\n");
    ASSERT_EQ(result.diagnostics.size(), 1u);
    EXPECT_EQ(result.diagnostics[0].str(), "t.txt:2: error: no machine is running");
    EXPECT_EQ(session.calls().size(), 1u);
}

TEST(Runner, CheckPassesWithASummary)
{
    FakeSession session(k_outputs);
    const CheckResult result = check_transcript(parse("$ qemu-system-x86_64\n"
                                                      "# cat /sys/devices/system/memory/memory32/state\n"
                                                      "online\n"
                                                      "// ls columns and zoneinfo counters are not compared\n"
                                                      "# ls /sys/devices/system/memory\n"
                                                      "auto_online_blocks  block_size_bytes  memory0  memory1\n"
                                                      "# grep -E 'zone|managed|free' /proc/zoneinfo\n"
                                                      "Node 0, zone    DMA32\n"
                                                      "  pages free     4242\n"
                                                      "        managed  225014\n"),
                                                session);
    EXPECT_EQ(result.status, k_status_ok);
    EXPECT_TRUE(result.diagnostics.empty());
    EXPECT_EQ(result.diff, "");
    EXPECT_EQ(result.report(), "t.txt: 4 commands, all agree\n");
}

TEST(Runner, CheckFailsWithADiagnosticPerCommandAndADiff)
{
    FakeSession session(k_outputs);
    const CheckResult result = check_transcript(parse(k_transcript), session);
    EXPECT_EQ(result.status, k_status_differs);
    EXPECT_EQ(result.commands_differing, 2u);
    EXPECT_EQ(result.report(),
              "t.txt:3: error: output of 'info numa' differs\n"
              "t.txt:3: note: expected 1 lines, got 3\n"
              "t.txt:6: error: output of 'cat /sys/devices/system/memory/memory32/state' differs\n"
              "t.txt:8: note: expected 'offline', got 'online'\n"
              "(diff column 2: '=' a line the fidelity rules compare, '~' one they compare in part: ls by its names, an ignored counter by all but its numbers)\n"
              "--- t.txt (expected)\n"
              "+++ t.txt (memplug)\n"
              "@@ -2,9 +2,11 @@\n"
              "  $ qemu-system-x86_64 -m 2G\n"
              "  (qemu) info numa\n"
              " =1 nodes\n"
              "+=node 0 cpus: 0\n"
              "+=node 0 size: 2048 MB\n"
              "  \n"
              "  # cat /sys/devices/system/memory/memory32/state\n"
              "+=online\n"
              "  // a comment between command and output\n"
              "-=offline\n"
              "  \n"
              "  # echo online > /sys/devices/system/memory/memory33/state\n"
              "t.txt: 2 of 4 commands differ\n");
}

TEST(Runner, CheckDiffLeavesAgreeingCommandsAlone)
{
    // The ls output differs in layout only; the state differs for real, 20 lines on.
    std::string text = "$ qemu-system-x86_64\n"
                       "# ls /sys/devices/system/memory\n"
                       "auto_online_blocks  block_size_bytes  memory0  memory1\n";
    for (int i = 0; i < 20; ++i)
        text += "// filler\n";
    text += "# cat /sys/devices/system/memory/memory32/state\n"
            "offline\n";
    FakeSession session(k_outputs);
    const CheckResult result = check_transcript(parse(text), session);
    EXPECT_EQ(result.status, k_status_differs);
    EXPECT_EQ(result.diff, "(diff column 2: '=' a line the fidelity rules compare, '~' one they compare in part: ls by its names, an ignored counter by all but its numbers)\n"
                           "--- t.txt (expected)\n"
                           "+++ t.txt (memplug)\n"
                           "@@ -22,4 +22,4 @@\n"
                           "  // filler\n"
                           "  // filler\n"
                           "  # cat /sys/devices/system/memory/memory32/state\n"
                           "-=offline\n"
                           "+=online\n");
}

TEST(Runner, CheckCarriesHistoryAcrossCommands)
{
    // managed changes by +32768 in the transcript but by 0 in the session.
    FakeSession session(k_outputs);
    const CheckResult result = check_transcript(parse("$ qemu-system-x86_64\n"
                                                      "# grep -E 'zone|managed|free' /proc/zoneinfo\n"
                                                      "Node 0, zone    DMA32\n"
                                                      "  pages free     1\n"
                                                      "        managed  225014\n"
                                                      "# grep -E 'zone|managed|free' /proc/zoneinfo\n"
                                                      "Node 0, zone    DMA32\n"
                                                      "  pages free     1\n"
                                                      "        managed  257782\n"),
                                                session);
    EXPECT_EQ(result.status, k_status_differs);
    ASSERT_EQ(result.diagnostics.size(), 3u);
    EXPECT_EQ(result.diagnostics[0].str(), "t.txt:6: error: output of 'grep -E 'zone|managed|free' /proc/zoneinfo' differs");
    EXPECT_EQ(result.diagnostics[1].str(),
              "t.txt:9: note: managed: expected 257782, got 226000 (12.33 % off, allowed 1 %)");
    EXPECT_EQ(result.diagnostics[2].str(),
              "t.txt:9: note: managed: expected a change of +32768 since the previous reading, got +0");
}

TEST(Runner, CheckStopsAtASessionError)
{
    FakeSession session(k_outputs);
    const CheckResult result = check_transcript(parse("# cat /sys/devices/system/memory/memory32/state\nonline\n"), session);
    EXPECT_EQ(result.status, k_status_error);
    EXPECT_EQ(result.report(), "t.txt:1: error: no machine is running\n"
                               "t.txt: stopped at line 1 (0 of 1 command ran)\n");
}

// A session whose output depends only on the command, with inner and trailing blank lines.
class EchoSession : public Session {
public:
    tl::expected<std::string, std::string> run(CommandKind, std::string_view command) override
    {
        // Some outputs begin like a command, a comment or the escape: run escapes them.
        static const std::string k_outputs[] = {"",       "a\n",         "a\n\nb\n",          "x\n\n\n",
                                                "  y  \n", "\n\nz",       "# not a command\n", "$\n(qemu) x\n",
                                                "//c\n",   "\\back\\\n"};
        return k_outputs[std::hash<std::string_view>{}(command) % std::size(k_outputs)];
    }
};

RC_GTEST_PROP(RunnerProperty, RunIsAFixedPointAndChecksClean, ())
{
    const auto pieces = *rc::gen::container<std::vector<std::string>>(rc::gen::oneOf(
        rc::gen::map(rc::gen::inRange(0, 30), [](int n) { return "# cmd" + std::to_string(n); }),
        rc::gen::element<std::string>("(qemu) info numa", "$ qemu-system-x86_64", "// note", "", "old output", "  ")));
    std::string text = "$ qemu-system-x86_64\n";
    for (const std::string& piece : pieces)
        text += piece + '\n';

    EchoSession session;
    const RunResult once = run_transcript(parse(text), session);
    RC_ASSERT(once.status == k_status_ok);
    const RunResult twice = run_transcript(parse(once.rendered), session);
    RC_ASSERT(twice.rendered == once.rendered);
    const CheckResult check = check_transcript(parse(once.rendered), session);
    RC_ASSERT(check.status == k_status_ok);
}

TEST(Runner, RunEscapesOutputThatLooksLikeACommandAndCheckReadsItBack)
{
    FakeSession session(std::map<std::string, std::string, std::less<>>{{"cat /prompts", "# root prompt\n$ host prompt\n(qemu) info\n// slashes\n\\backslash\nplain\n"}});
    const RunResult run = run_transcript(parse("$ qemu-system-x86_64\n# cat /prompts\n"), session);
    EXPECT_EQ(run.rendered, "$ qemu-system-x86_64\n# cat /prompts\n\\# root prompt\n\\$ host prompt\n"
                            "\\(qemu) info\n\\// slashes\n\\\\backslash\nplain\n");
    const Transcript again = parse(run.rendered);
    ASSERT_EQ(again.commands.size(), 2u);
    EXPECT_THAT(again.expected_lines(1),
                ElementsAre("# root prompt", "$ host prompt", "(qemu) info", "// slashes", "\\backslash", "plain"));
    const CheckResult check = check_transcript(again, session);
    EXPECT_EQ(check.status, k_status_ok) << check.report();
}

TEST(Runner, CheckRunsAnUnrecordedTranscriptAndComparesNothing)
{
    FakeSession session(k_outputs);
    const CheckResult result = check_transcript(parse("// no real-kernel recording: too big for TCG\n"
                                                      "$ qemu-system-x86_64\n"
                                                      "# cat /sys/devices/system/memory/memory32/state\n"),
                                                session);
    EXPECT_EQ(result.status, k_status_ok);
    EXPECT_TRUE(result.unrecorded);
    EXPECT_EQ(session.calls().size(), 2u);
    EXPECT_EQ(result.report(), "t.txt: no real-kernel recording (too big for TCG): 2 commands ran, nothing compared\n");
}

TEST(Runner, CheckRefusesOutputInAnUnrecordedTranscript)
{
    FakeSession session(k_outputs);
    const CheckResult result = check_transcript(parse("// no real-kernel recording: too big\n"
                                                      "$ qemu-system-x86_64\n"
                                                      "# cat /sys/devices/system/memory/memory32/state\n"
                                                      "online\n"),
                                                session);
    EXPECT_EQ(result.status, k_status_error);
    EXPECT_TRUE(session.calls().empty());
    EXPECT_EQ(result.report(),
              "t.txt:4: error: output line in a transcript marked '// no real-kernel recording: too big'\n"
              "t.txt: not run\n");
}

TEST(Runner, CheckMarksWhatTheRulesCompareInTheDiff)
{
    FakeSession session(k_outputs);
    const CheckResult result = check_transcript(parse("$ qemu-system-x86_64\n"
                                                      "# grep -E 'zone|managed|free' /proc/zoneinfo\n"
                                                      "Node 0, zone   Normal\n"
                                                      "  pages free     1\n"
                                                      "        managed  226000\n"),
                                                session);
    EXPECT_EQ(result.status, k_status_differs);
    EXPECT_THAT(result.diff, ::testing::HasSubstr("  # grep -E 'zone|managed|free' /proc/zoneinfo\n"
                                                  "-=Node 0, zone   Normal\n"
                                                  "-~  pages free     1\n"
                                                  "+=Node 0, zone    DMA32\n"
                                                  "+~  pages free     100\n"
                                                  " =        managed  226000\n"));
    EXPECT_EQ(result.summary, "t.txt: 1 of 2 commands differ");
}

}  // namespace
}  // namespace memplug::fe
