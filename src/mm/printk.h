// The kernel log (kernel/printk/printk.c): the records printk() keeps in its
// ring buffer, each with a level and a timestamp, and what dynamic debug would
// print for pr_debug(), which 6.1 compiles in but does not keep. The texts are
// the kernel's own format strings, filled in where the kernel prints them; how
// the ring reads as text (syslog(2), dmesg) is the views' business.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace memplug::mm {

// include/linux/kern_levels.h
enum class LogLevel : uint8_t { Emerg, Alert, Crit, Err, Warning, Notice, Info, Debug };

struct LogRecord {
    uint64_t seq = 0;      // printk's sequence number, one per record
    uint64_t ts_nsec = 0;  // local_clock() when it was printed, from boot
    LogLevel level = LogLevel::Info;
    std::string text;      // one line, without its '\n'
};

class KernelLog {
public:
    // printk(): one record per line of `text` (a trailing '\n' ends the last).
    void printk(LogLevel level, std::string_view text);
    void pr_err(std::string_view text) { printk(LogLevel::Err, text); }
    void pr_warn(std::string_view text) { printk(LogLevel::Warning, text); }
    void pr_info(std::string_view text) { printk(LogLevel::Info, text); }
    // pr_debug()/dev_dbg(): not in the ring (dynamic debug is off by default);
    // kept for `memplug run --explain`, which shows why a command was refused.
    void pr_debug(std::string_view text);

    // The ring, oldest first, since the last clear (SYSLOG_ACTION_CLEAR).
    const std::deque<LogRecord>& records() const { return m_records; }
    // After a clear the whole ring is there for the records that follow.
    void clear()
    {
        m_records.clear();
        m_bytes = 0;
    }
    // Every record and debug message with seq >= `since`, in order (level Debug for pr_debug).
    std::vector<LogRecord> since(uint64_t seq) const;
    uint64_t next_seq() const { return m_next_seq; }

    // The model's clock: it starts when the guest's shell does and moves on by
    // a fixed step per message and by what front ends add (a command's time).
    void advance(uint64_t nsec) { m_now_nsec += nsec; }

    // log_buf_len: Debian's CONFIG_LOG_BUF_SHIFT=18; the oldest records go first.
    static constexpr size_t k_log_buf_len = size_t{1} << 18;
    // A record's header in the ring (struct printk_info and the descriptor).
    static constexpr size_t k_record_overhead = 88;
    // Debug messages kept for --explain: the newest ones.
    static constexpr size_t k_debug_kept = 4096;

private:
    void add(LogLevel level, std::string_view line, bool debug);

    std::deque<LogRecord> m_records;
    size_t m_bytes = 0;
    std::deque<LogRecord> m_debug;
    uint64_t m_next_seq = 0;
    uint64_t m_now_nsec = k_boot_nsec;

    // Where the recorder's guest is, in its own clock, when its shell starts.
    static constexpr uint64_t k_boot_nsec = 4'000'000'000;
    // What one message costs the model's clock.
    static constexpr uint64_t k_printk_nsec = 20'000;
};

}  // namespace memplug::mm
