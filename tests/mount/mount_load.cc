// Load on `memplug mount`: THREADS clients at once, OPS operations each, on the
// memory blocks' state and online files and /proc/zoneinfo. Writes online and
// offline blocks (a refusal with the kernel's errno is fine, EIO or a missing
// file is not); reads come in small pieces, so a rendering that changed between
// two pieces would show as a torn file. Prints operations per second.
//
//   mount_load DIR [THREADS [OPS]]     (8 and 10000 by default)
//
// Exit 0 if every read was a whole, well-formed file and every error expected.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::mutex g_report_lock;
std::vector<std::string> g_failures;

void fail(std::string what)
{
    std::lock_guard lock(g_report_lock);
    if (g_failures.size() < 20) g_failures.push_back(std::move(what));
}

// read(2) in pieces of `piece` bytes to EOF; nullopt and errno on failure.
bool read_in_pieces(const std::string& path, size_t piece, std::string& out)
{
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return false;
    out.clear();
    std::vector<char> buf(piece);
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), piece);
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            errno = e;
            return false;
        }
        if (n == 0) break;
        out.append(buf.data(), size_t(n));
    }
    ::close(fd);
    return true;
}

int write_once(const std::string& path, std::string_view data)
{
    const int fd = ::open(path.c_str(), O_WRONLY);
    if (fd < 0) return errno;
    const ssize_t n = ::write(fd, data.data(), data.size());
    const int e = n < 0 ? errno : 0;
    ::close(fd);
    if (e == 0 && size_t(n) != data.size()) return -1;
    return e;
}

struct Zone {
    std::string header;
    long pages_free = -1, nr_free_pages = -1, spanned = -1, present = -1, managed = -1;
};

// A whole zoneinfo: every section's own numbers agree with each other, the zones
// are those of the first reading, and the file ends with the last zone's start_pfn.
std::string zoneinfo_problem(const std::string& text, const std::vector<std::string>& headers)
{
    if (text.empty() || text.back() != '\n') return "does not end with a newline";
    std::vector<Zone> zones;
    std::istringstream in(text);
    std::string line, last;
    static const std::regex field(R"(^\s+(pages free|nr_free_pages|spanned|present|managed)\s+(\d+)$)");
    while (std::getline(in, line)) {
        last = line;
        if (line.starts_with("Node ")) {
            zones.push_back({line});
            continue;
        }
        std::smatch m;
        if (zones.empty() || !std::regex_match(line, m, field)) continue;
        const long v = std::stol(m[2]);
        Zone& z = zones.back();
        const std::string key = m[1];
        (key == "pages free" ? z.pages_free : key == "nr_free_pages" ? z.nr_free_pages : key == "spanned" ? z.spanned
                                                                       : key == "present"                  ? z.present
                                                                                                           : z.managed) = v;
    }
    std::vector<std::string> seen;
    for (const Zone& z : zones) seen.push_back(z.header);
    if (!headers.empty() && seen != headers) return "its zones differ from the first reading's";
    // A populated zone ends with its start_pfn, an empty one with its protection.
    if (!last.starts_with("  start_pfn:") && !last.starts_with("        protection:")) return "ends inside a zone";
    for (const Zone& z : zones) {
        if (z.pages_free >= 0 && z.nr_free_pages >= 0 && z.pages_free != z.nr_free_pages)
            return z.header + ": pages free and nr_free_pages disagree";
        if (z.spanned >= 0 && !(z.spanned >= z.present && z.present >= z.managed))
            return z.header + ": not spanned >= present >= managed";
    }
    return {};
}

std::vector<std::string> zone_headers(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("Node ")) out.push_back(line);
    return out;
}

bool refusal(int e) { return e == EINVAL || e == EBUSY || e == ENOMEM || e == EAGAIN; }

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: mount_load DIR [THREADS [OPS]]\n");
        return 2;
    }
    const std::string dir = argv[1];
    const int threads = argc > 2 ? std::atoi(argv[2]) : 8;
    const long ops = argc > 3 ? std::atol(argv[3]) : 10000;
    const std::string mem = dir + "/sys/devices/system/memory";
    const std::string zoneinfo_path = dir + "/proc/zoneinfo";

    std::vector<std::string> blocks;
    for (const auto& e : std::filesystem::directory_iterator(mem)) {
        const std::string name = e.path().filename();
        if (name.starts_with("memory") && name != "memory0" && name.size() > 6 && std::isdigit(name[6]))
            blocks.push_back(e.path());
    }
    std::string first;
    if (blocks.empty() || !read_in_pieces(zoneinfo_path, 1 << 16, first)) {
        std::fprintf(stderr, "mount_load: %s has no memory blocks or no zoneinfo\n", dir.c_str());
        return 2;
    }
    const std::vector<std::string> headers = zone_headers(first);
    if (auto p = zoneinfo_problem(first, {}); !p.empty()) fail("first zoneinfo reading: " + p);

    std::vector<long> refused(size_t(threads), 0);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            std::mt19937 rng(unsigned(t) * 7919u + 1u);
            std::string text;
            for (long i = 0; i < ops; ++i) {
                const std::string& block = blocks[rng() % blocks.size()];
                switch (rng() % 5) {
                case 0: {
                    static const char* const states[] = {"online", "offline", "online_movable", "online_kernel"};
                    const int e = write_once(block + "/state", states[rng() % 4]);
                    if (e && !refusal(e)) fail(block + "/state: write: " + std::strerror(e));
                    refused[size_t(t)] += e != 0;
                    break;
                }
                case 1: {
                    const int e = write_once(block + "/online", rng() % 2 ? "1" : "0");
                    if (e && !refusal(e)) fail(block + "/online: write: " + std::strerror(e));
                    refused[size_t(t)] += e != 0;
                    break;
                }
                case 2:
                    if (!read_in_pieces(block + "/state", 3, text))
                        fail(block + "/state: read: " + std::strerror(errno));
                    else if (text != "online\n" && text != "offline\n" && text != "going-offline\n")
                        fail(block + "/state: read '" + text + "'");
                    break;
                case 3:
                    if (!read_in_pieces(block + "/online", 1, text))
                        fail(block + "/online: read: " + std::strerror(errno));
                    else if (text != "0\n" && text != "1\n")
                        fail(block + "/online: read '" + text + "'");
                    break;
                default:
                    if (!read_in_pieces(zoneinfo_path, 512, text))
                        fail(std::string("zoneinfo: read: ") + std::strerror(errno));
                    else if (auto p = zoneinfo_problem(text, headers); !p.empty())
                        fail("zoneinfo: " + p);
                    break;
                }
            }
        });
    }
    for (std::thread& th : pool) th.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    long total_refused = 0;
    for (long r : refused) total_refused += r;
    const double total = double(threads) * double(ops);
    std::printf("%d clients x %ld operations: %.0f operations in %.2f s, %.0f ops/s (%ld writes refused with an errno)\n",
                threads, ops, total, seconds, total / seconds, total_refused);
    for (const std::string& f : g_failures) std::fprintf(stderr, "mount_load: %s\n", f.c_str());
    return g_failures.empty() ? 0 : 1;
}
