#include "frontends/transcript.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace memplug::fe {
namespace {

using ::testing::ElementsAre;

Transcript parse_ok(std::string_view text)
{
    auto parsed = parse_transcript(text, "t.txt");
    EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error().front().str());
    return parsed ? *parsed : Transcript{};
}

std::vector<int> numbers_of(const Command& command)
{
    std::vector<int> numbers;
    for (const OutputLine& line : command.expected)
        numbers.push_back(line.number);
    return numbers;
}

TEST(Transcript, ParsesThePromptsAndKeepsLineNumbers)
{
    Transcript t = parse_ok("// Show that onlining works\n"
                            "$ qemu-system-x86_64 -m 2G\n"
                            "(qemu) info memory-devices\n"
                            "# cat /sys/devices/system/memory/memory32/state\n"
                            "offline\n");
    ASSERT_EQ(t.commands.size(), 3u);
    EXPECT_EQ(t.commands[0].kind, CommandKind::Host);
    EXPECT_EQ(t.commands[0].text, "qemu-system-x86_64 -m 2G");
    EXPECT_EQ(t.commands[0].line, 2);
    EXPECT_EQ(t.commands[1].kind, CommandKind::Monitor);
    EXPECT_EQ(t.commands[1].text, "info memory-devices");
    EXPECT_EQ(t.commands[2].kind, CommandKind::Guest);
    EXPECT_EQ(t.commands[2].text, "cat /sys/devices/system/memory/memory32/state");
    EXPECT_EQ(t.commands[2].line, 4);
    EXPECT_THAT(t.expected_lines(2), ElementsAre("offline"));
    EXPECT_THAT(numbers_of(t.commands[2]), ElementsAre(5));
    EXPECT_EQ(t.lines[0].kind, LineKind::Comment);
}

TEST(Transcript, TrailingBlankLinesSeparateAndInnerBlankLinesAreOutput)
{
    Transcript t = parse_ok("$ qemu-system-x86_64\n"
                            "# ls /a /b\n"
                            "/a:\n"
                            "\n"
                            "x\n"
                            "\n"
                            "\n"
                            "# true\n"
                            "\n");
    ASSERT_EQ(t.commands.size(), 3u);
    EXPECT_THAT(t.expected_lines(1), ElementsAre("/a:", "", "x"));
    EXPECT_TRUE(t.commands[2].expected.empty());
    EXPECT_THAT(numbers_of(t.commands[1]), ElementsAre(3, 4, 5));
    EXPECT_TRUE(t.commands[0].expected.empty());
    EXPECT_EQ(t.lines[5].kind, LineKind::Separator);
    EXPECT_EQ(t.lines[6].kind, LineKind::Separator);
    EXPECT_EQ(t.lines[8].kind, LineKind::Separator);  // blank at end of file
}

TEST(Transcript, BlankLinesBeforeACommentAreSeparators)
{
    Transcript t = parse_ok("# a\n1\n  \n// next\n# b\n");
    EXPECT_THAT(t.expected_lines(0), ElementsAre("1"));
    EXPECT_EQ(t.lines[2].kind, LineKind::Separator);
}

TEST(Transcript, CommentsBetweenCommandAndOutputDoNotEndTheOutput)
{
    Transcript t = parse_ok("# cat state\n"
                            "// the kernel says:\n"
                            "\n"
                            "online\n");
    EXPECT_THAT(t.expected_lines(0), ElementsAre("", "online"));
    EXPECT_THAT(numbers_of(t.commands[0]), ElementsAre(3, 4));
}

TEST(Transcript, OutputBeforeAnyCommandIsAnErrorNamingTheLine)
{
    auto parsed = parse_transcript("// comment\n\noops\nmore\n# true\n", "t.txt");
    ASSERT_FALSE(parsed.has_value());
    ASSERT_EQ(parsed.error().size(), 1u);
    EXPECT_EQ(parsed.error()[0].str(), "t.txt:3: error: output line before any command");
}

TEST(Transcript, PromptsNeedTheirSpaceButMayStandAlone)
{
    Transcript t = parse_ok("#\n#!/bin/sh\n$\n(qemu)info\n  # not a command\n");
    ASSERT_EQ(t.commands.size(), 2u);
    EXPECT_EQ(t.commands[0].text, "");
    EXPECT_THAT(t.expected_lines(0), ElementsAre("#!/bin/sh"));
    EXPECT_EQ(t.commands[1].kind, CommandKind::Host);
    EXPECT_THAT(t.expected_lines(1), ElementsAre("(qemu)info", "  # not a command"));
}

TEST(Transcript, CarriageReturnsAndAMissingFinalNewline)
{
    Transcript t = parse_ok("# cat f\r\nonline\r\n# cat g\r\noffline");
    EXPECT_EQ(t.commands[0].text, "cat f");
    EXPECT_THAT(t.expected_lines(0), ElementsAre("online"));
    EXPECT_THAT(t.expected_lines(1), ElementsAre("offline"));
}

TEST(Transcript, EmptyFileHasNoCommands)
{
    Transcript t = parse_ok("");
    EXPECT_TRUE(t.commands.empty());
    EXPECT_TRUE(t.lines.empty());
}

TEST(Transcript, RenderWithoutOverridesGivesTheFileBack)
{
    const std::string text = "// c\n\n# a\n// mid\nx\n\ny\n\n\n(qemu) b\n";
    Transcript t = parse_ok(text);
    EXPECT_EQ(join_lines(render_lines(t, {})), text);
}

TEST(Transcript, OverriddenOutputGoesDirectlyUnderItsCommand)
{
    Transcript t = parse_ok("# a\n// mid\nold1\nold2\n\n# b\nkept\n");
    OutputOverrides overrides(2);
    overrides[0] = std::vector<std::string>{"new"};
    EXPECT_THAT(render_lines(t, overrides), ElementsAre("# a", "new", "// mid", "", "# b", "kept"));
    EXPECT_THAT(render_lines(t, overrides, 1), ElementsAre("# a", "new", "// mid", ""));
}

TEST(Transcript, SplitOutputDropsOnlyTrailingBlankLines)
{
    EXPECT_THAT(split_output(""), ElementsAre());
    EXPECT_THAT(split_output("a\n"), ElementsAre("a"));
    EXPECT_THAT(split_output("a"), ElementsAre("a"));
    EXPECT_THAT(split_output("\na\n\nb\n\n \n"), ElementsAre("", "a", "", "b"));
}

TEST(Transcript, DiagnosticWithoutALine)
{
    EXPECT_EQ((Diagnostic{"f", 0, Severity::Error, "cannot read file"}).str(), "f: error: cannot read file");
    EXPECT_EQ((Diagnostic{"f", 7, Severity::Note, "why"}).str(), "f:7: note: why");
}

TEST(Transcript, LoadReportsAnUnreadableFile)
{
    auto loaded = load_transcript("/nonexistent/t.txt");
    ASSERT_FALSE(loaded.has_value());
    EXPECT_EQ(loaded.error()[0].str(), "/nonexistent/t.txt: error: cannot read file: No such file or directory");
}

TEST(Transcript, LoadReadsAFile)
{
    const auto path = std::filesystem::temp_directory_path() / "memplug_transcript_test.txt";
    std::ofstream(path) << "# cat f\nonline\n";
    auto loaded = load_transcript(path);
    std::filesystem::remove(path);
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->file, path.string());
    EXPECT_THAT(loaded->expected_lines(0), ElementsAre("online"));
}

// Any file that parses renders back to itself.
RC_GTEST_PROP(TranscriptProperty, RenderingWithoutOverridesIsTheIdentity, ())
{
    const auto pieces = *rc::gen::container<std::vector<std::string>>(
        rc::gen::element<std::string>("# cmd", "(qemu) info", "$ qemu-system-x86_64", "// note", "", "  ", "out", "#", "  x 1"));
    std::string text = "# first\n";
    for (const std::string& piece : pieces)
        text += piece + '\n';
    auto parsed = parse_transcript(text, "p");
    RC_ASSERT(parsed.has_value());
    RC_ASSERT(join_lines(render_lines(*parsed, {})) == text);
}

TEST(Transcript, ABackslashEscapesAnOutputLine)
{
    const Transcript t = parse_ok("# cat /f\n\\# a\n\\\\b\n\\c\n// comment\n");
    ASSERT_EQ(t.commands.size(), 1u);
    EXPECT_THAT(t.expected_lines(0), ElementsAre("# a", "\\b", "c"));
    EXPECT_EQ(join_lines(render_lines(t, {})), "# cat /f\n\\# a\n\\\\b\n\\c\n// comment\n");
}

TEST(Transcript, EscapesOnlyWhatWouldNotReadAsOutput)
{
    for (std::string_view line : {"# x", "#", "$ x", "$", "(qemu) x", "(qemu)", "(memplug) pin", "//", "// c", "//c", "\\"})
        EXPECT_EQ(escape_output(line), "\\" + std::string(line)) << line;
    for (std::string_view line : {"#x", "$x", "(qemu)x", "/sys", " # x", "online", ""})
        EXPECT_EQ(escape_output(line), line) << line;
}

TEST(Transcript, RenderEscapesOverriddenOutput)
{
    const Transcript t = parse_ok("# a\nold\n");
    OutputOverrides overrides{std::vector<std::string>{"# new", "plain"}};
    std::vector<LineOrigin> origins;
    EXPECT_THAT(render_lines(t, overrides, std::nullopt, &origins), ElementsAre("# a", "\\# new", "plain"));
    ASSERT_EQ(origins.size(), 3u);
    EXPECT_FALSE(origins[0].command);
    EXPECT_EQ(origins[2].command, 0u);
    EXPECT_EQ(origins[2].index, 1u);
}

TEST(Transcript, ReadsTheUnrecordedMarker)
{
    EXPECT_EQ(parse_ok("// no real-kernel recording: 2 TiB under TCG\n$ qemu-system-x86_64\n").unrecorded,
              "2 TiB under TCG");
    EXPECT_FALSE(parse_ok("// recorded\n$ qemu-system-x86_64\n").unrecorded);
}

}  // namespace
}  // namespace memplug::fe
