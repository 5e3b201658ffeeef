#include "mm/printk.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace memplug::mm {
namespace {

std::vector<std::string> texts(const KernelLog& log)
{
    std::vector<std::string> out;
    for (const LogRecord& r : log.records()) out.push_back(r.text);
    return out;
}

TEST(KernelLog, OneRecordPerLineWithRisingTimestamps)
{
    KernelLog log;
    log.pr_info("first\nsecond\n");
    log.pr_warn("third");
    EXPECT_THAT(texts(log), ::testing::ElementsAre("first", "second", "third"));
    EXPECT_LT(log.records()[0].ts_nsec, log.records()[1].ts_nsec);
    EXPECT_EQ(log.records()[2].level, LogLevel::Warning);
}

// dmesg -c moves the start of what is read; the records after it have the whole
// ring, however often it was cleared before.
TEST(KernelLog, EachClearLeavesTheWholeRingForWhatFollows)
{
    KernelLog log;
    const std::string line(1000, 'x');
    for (int round = 0; round < 1000; ++round) {
        log.pr_info(line);
        log.clear();
    }
    for (int i = 0; i < 100; ++i) log.pr_info(line);
    EXPECT_EQ(log.records().size(), 100u);
}

TEST(KernelLog, DebugMessagesStayOutOfTheRingButNotOutOfSince)
{
    KernelLog log;
    log.pr_info("before");
    const uint64_t seq = log.next_seq();
    log.pr_debug("why\n");
    log.pr_err("what");
    EXPECT_THAT(texts(log), ::testing::ElementsAre("before", "what"));
    const std::vector<LogRecord> since = log.since(seq);
    ASSERT_EQ(since.size(), 2u);
    EXPECT_EQ(since[0].text, "why");
    EXPECT_EQ(since[0].level, LogLevel::Debug);
    EXPECT_EQ(since[1].text, "what");
    log.clear();
    EXPECT_TRUE(log.records().empty());
    EXPECT_EQ(log.since(seq).size(), 1u);  // the debug messages are not the ring's
}

TEST(KernelLog, TheRingKeepsTheNewestRecordsWithinItsSize)
{
    KernelLog log;
    const std::string line(1000, 'x');
    const size_t n = 2 * KernelLog::k_log_buf_len / (line.size() + KernelLog::k_record_overhead);
    for (size_t i = 0; i < n; ++i) log.pr_info(line + std::to_string(i));
    EXPECT_LE(log.records().size() * (line.size() + 3 + KernelLog::k_record_overhead), KernelLog::k_log_buf_len + 2000);
    EXPECT_EQ(log.records().back().text, line + std::to_string(n - 1));
    EXPECT_EQ(log.records().front().seq, n - log.records().size());
}

}  // namespace
}  // namespace memplug::mm
