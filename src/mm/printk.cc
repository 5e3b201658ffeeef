#include "mm/printk.h"

#include <algorithm>

namespace memplug::mm {

void KernelLog::add(LogLevel level, std::string_view line, bool debug)
{
    m_now_nsec += k_printk_nsec;
    LogRecord r{m_next_seq++, m_now_nsec, level, std::string(line)};
    if (debug) {
        m_debug.push_back(std::move(r));
        if (m_debug.size() > k_debug_kept) m_debug.pop_front();
        return;
    }
    m_bytes += r.text.size() + k_record_overhead;
    m_records.push_back(std::move(r));
    while (m_bytes > k_log_buf_len && m_records.size() > 1) {
        m_bytes -= m_records.front().text.size() + k_record_overhead;
        m_records.pop_front();
    }
}

void KernelLog::printk(LogLevel level, std::string_view text)
{
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    size_t i = 0;
    while (true) {
        const size_t j = text.find('\n', i);
        add(level, text.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i), false);
        if (j == std::string_view::npos) break;
        i = j + 1;
    }
}

void KernelLog::pr_debug(std::string_view text)
{
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    add(LogLevel::Debug, text, true);
}

std::vector<LogRecord> KernelLog::since(uint64_t seq) const
{
    std::vector<LogRecord> out;
    auto by_seq = [](const LogRecord& r, uint64_t s) { return r.seq < s; };
    for (const auto* list : {&m_records, &m_debug})
        for (auto it = std::lower_bound(list->begin(), list->end(), seq, by_seq); it != list->end(); ++it)
            out.push_back(*it);
    std::sort(out.begin(), out.end(), [](const LogRecord& a, const LogRecord& b) { return a.seq < b.seq; });
    return out;
}

}  // namespace memplug::mm
