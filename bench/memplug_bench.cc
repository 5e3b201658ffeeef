// Whole transcripts as users run them: each iteration is `memplug run FILE`
// without the process, i.e. a fresh GuestSession and run_transcript(). The
// time of each phase (boot, plug, the offline loop, ...) is a counter beside
// the total, so a phase can be compared with its budget in DESIGN.md; so are
// the model's work counts (mm::Kernel::work()) and the heap the guest holds.
//
// Transcripts are files (examples/, bench/transcripts/) or generated here
// (guests of a given size, N DIMMs, virtio-mem of N TiB, a tmpfs fill).
// `make bench` runs the default set; `make bench-long` adds --memplug_long
// (minutes); --memplug_huge registers the sizes that take much longer today
// (64 TiB of virtio-mem, 255 DIMMs: see docs/PERFORMANCE.md); --memplug_dump=NAME
// prints the transcript of benchmark NAME (e.g. dimm_plug/255) and exits.
#include <malloc.h>
#include <time.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "frontends/guest_session.h"
#include "frontends/runner.h"
#include "frontends/transcript.h"
#include "mm/kernel.h"

namespace fe = memplug::fe;

namespace {

// A phase starts at the first command containing `marker` and lasts until the
// next phase starts; commands before the first phase are not counted.
struct Phase {
    std::string counter;
    std::string marker;
};

struct Scenario {
    Scenario(std::string n, std::string t, std::vector<Phase> p)
        : name(std::move(n)), text(std::move(t)), phases(std::move(p))
    {
    }
    std::string name;
    std::string text;   // the transcript
    std::vector<Phase> phases;
    std::string expect;           // a substring the rendered output must hold (empty: none)
    bool work = false;            // report Kernel::work() counters
    uint64_t simulated_pages = 0; // for heap_B_per_page (0: none)
};

using Work = memplug::mm::WorkCounters;

Work operator-(const Work& a, const Work& b)
{
    return Work{a.contiguity_checks - b.contiguity_checks,
                a.contiguity_sections_scanned - b.contiguity_sections_scanned,
                a.pages_onlined - b.pages_onlined,
                a.pages_offlined - b.pages_offlined,
                a.pages_migrated - b.pages_migrated,
                a.huge_pages_dissolved - b.huge_pages_dissolved};
}

void add(Work& a, const Work& b)
{
    a.contiguity_checks += b.contiguity_checks;
    a.contiguity_sections_scanned += b.contiguity_sections_scanned;
    a.pages_onlined += b.pages_onlined;
    a.pages_offlined += b.pages_offlined;
    a.pages_migrated += b.pages_migrated;
    a.huge_pages_dissolved += b.huge_pages_dissolved;
}

// CPU time of this process: phases measured on a loaded machine stay comparable.
double process_cpu_seconds()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Forwards to the GuestSession `memplug run` uses and adds each command's wall
// time and model work to its phase.
class PhaseTimer final : public fe::Session {
public:
    PhaseTimer(fe::GuestSession& inner, const std::vector<Phase>& phases, std::vector<double>& seconds,
               std::vector<double>& cpu_seconds, std::vector<Work>& work)
        : m_inner(inner), m_phases(phases), m_seconds(seconds), m_cpu_seconds(cpu_seconds), m_work(work)
    {
    }

    tl::expected<std::string, std::string> run(fe::CommandKind kind, std::string_view command) override
    {
        for (size_t i = m_current + 1; i < m_phases.size(); ++i)
            if (command.find(m_phases[i].marker) != std::string_view::npos) {
                m_current = i;
                break;
            }
        if (kind == fe::CommandKind::Host) m_last = Work{};  // a new machine counts from zero
        const auto start = std::chrono::steady_clock::now();
        const double cpu_start = process_cpu_seconds();
        auto out = m_inner.run(kind, command);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double cpu = process_cpu_seconds() - cpu_start;
        const Work now = m_inner.machine() ? m_inner.machine()->kernel().work() : Work{};
        if (m_current < m_phases.size()) {
            m_seconds[m_current] += s;
            m_cpu_seconds[m_current] += cpu;
            add(m_work[m_current], now - m_last);
        }
        m_last = now;
        return out;
    }

private:
    fe::GuestSession& m_inner;
    const std::vector<Phase>& m_phases;
    std::vector<double>& m_seconds;
    std::vector<double>& m_cpu_seconds;
    std::vector<Work>& m_work;
    size_t m_current = size_t(-1);  // no phase yet
    Work m_last;
};

// Bytes malloc has handed out and not taken back (heap and mmapped chunks).
double heap_in_use()
{
    const struct mallinfo2 mi = mallinfo2();
    return double(mi.uordblks + mi.hblkhd);
}

void run_scenario(benchmark::State& state, const Scenario& s)
{
    auto t = fe::parse_transcript(s.text, s.name);
    if (!t) {
        state.SkipWithError(t.error().front().str().c_str());
        return;
    }
    std::vector<double> seconds(s.phases.size()), cpu_seconds(s.phases.size());
    std::vector<Work> work(s.phases.size());
    double heap = 0;
    for (auto _ : state) {
        const double heap_before = heap_in_use();
        fe::GuestSession session;
        PhaseTimer timer(session, s.phases, seconds, cpu_seconds, work);
        fe::RunResult r = fe::run_transcript(*t, timer);
        benchmark::DoNotOptimize(r.rendered.data());
        heap = heap_in_use() - heap_before;  // the session is still alive
        if (r.status != fe::k_status_ok) {
            state.SkipWithError(r.diagnostics.front().str().c_str());
            return;
        }
        if (!s.expect.empty() && r.rendered.find(s.expect) == std::string::npos) {
            state.SkipWithError(("output lacks '" + s.expect + "'").c_str());
            return;
        }
    }
    using benchmark::Counter;
    for (size_t i = 0; i < s.phases.size(); ++i) {
        const std::string& p = s.phases[i].counter;
        state.counters[p + "_s"] = Counter(seconds[i], Counter::kAvgIterations);
        state.counters[p + "_cpu_s"] = Counter(cpu_seconds[i], Counter::kAvgIterations);
        if (!s.work) continue;
        state.counters[p + "_checks"] = Counter(double(work[i].contiguity_checks), Counter::kAvgIterations);
        state.counters[p + "_scanned"] = Counter(double(work[i].contiguity_sections_scanned), Counter::kAvgIterations);
    }
    if (s.work) {
        Work total;
        for (const Work& w : work) add(total, w);
        state.counters["onlined"] = Counter(double(total.pages_onlined), Counter::kAvgIterations);
        state.counters["offlined"] = Counter(double(total.pages_offlined), Counter::kAvgIterations);
        state.counters["migrated"] = Counter(double(total.pages_migrated), Counter::kAvgIterations);
    }
    state.counters["heap_B"] = Counter(heap, Counter::kDefaults, Counter::OneK::kIs1024);
    if (s.simulated_pages) state.counters["heap_B_per_page"] = Counter(heap / double(s.simulated_pages));
}

std::string read_source(const std::string& file)
{
    std::ifstream in(std::string(MEMPLUG_SOURCE_DIR) + "/" + file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Scenario from_file(std::string name, const std::string& file, std::vector<Phase> phases)
{
    return Scenario{std::move(name), read_source(file), std::move(phases)};
}

// Appends `args` to the -append "..." of the first `$` line, or adds one.
std::string with_append(std::string text, const std::string& args)
{
    const size_t dollar = text.find("\n$ ") + 1;
    const size_t eol = text.find('\n', dollar);
    const size_t app = text.find("-append \"", dollar);
    if (app != std::string::npos && app < eol) {
        const size_t close = text.find('"', app + 9);
        text.insert(close, " " + args);
    } else {
        text.insert(eol, " -append \"" + args + "\"");
    }
    return text;
}

constexpr uint64_t k_tib_pages = (uint64_t{1} << 40) / 4096;

const std::string k_kvm = "$ qemu-system-x86_64 -accel kvm -cpu host,phys-bits=48";

// Seed 000's machine and plug/unplug, with the default counter or 6.1's rescan.
Scenario seed000(int gib, bool rescan)
{
    const std::string file = fmt::format("examples/seed-000-virtio-mem-{}g.txt", gib);
    std::string text = read_source(file);
    if (rescan) text = with_append(text, "memplug.zone_contiguous=rescan");
    Scenario s{fmt::format("seed000_{}g_{}", gib, rescan ? "rescan" : "counter"), text,
               {{"boot", "qemu-system"}, {"plug", "object_add"}, {"ls", "ls "},
                {"unplug", "requested-size 0G"}}};
    // All of it plugged (what an unplug to 0 leaves depends on kernel pages: a few MiB).
    s.expect = std::to_string(uint64_t(gib) << 30);
    s.work = true;
    return s;
}

// A KVM guest of `tib` TiB booted: the heap it holds per simulated page.
Scenario kvm_boot(int tib)
{
    Scenario s{fmt::format("kvm_boot_heap/{}T", tib),
               fmt::format("{} -m {}T -machine q35\n# grep MemTotal /proc/meminfo\n", k_kvm, tib),
               {{"boot", "qemu-system"}}};
    s.simulated_pages = uint64_t(tib) * k_tib_pages;
    return s;
}

// `tib` TiB of virtio-mem plugged into a 4 GiB KVM guest and auto-onlined.
Scenario virtio_mem_plug(int tib)
{
    std::string text = fmt::format(
        "{} -m 4G,slots=2,maxmem={}T -machine q35 -object memory-backend-ram,id=vm0,size={}T "
        "-device virtio-mem-pci,id=vmem0,memdev=vm0\n"
        "# echo online > /sys/devices/system/memory/auto_online_blocks\n"
        "(qemu) qom-set vmem0 requested-size {}T\n"
        "(qemu) qom-get vmem0 size\n",
        k_kvm, tib + 1, tib, tib);
    Scenario s{fmt::format("virtio_mem_plug/{}T", tib), text, {{"boot", "qemu-system"}, {"plug", "requested-size"}}};
    s.expect = std::to_string(uint64_t(tib) << 40);  // the device's size: all of it plugged
    s.work = true;
    return s;
}

// `n` DIMMs of 256 GiB hot-plugged into a 16 GiB KVM guest and auto-onlined
// (their memmap, 4 GiB each, comes from the kernel zones: 4 GiB of boot RAM
// cannot hold the first one's, so the guest boots with 16 GiB).
Scenario dimm_plug(int n)
{
    std::string text = fmt::format("{} -m 16G,slots=255,maxmem={}G -machine q35\n"
                                   "# echo online > /sys/devices/system/memory/auto_online_blocks\n",
                                   k_kvm, 16 + 256 * 255);
    for (int i = 0; i < n; ++i)
        text += fmt::format("(qemu) object_add memory-backend-ram,id=m{0},size=256G\n"
                            "(qemu) device_add pc-dimm,id=d{0},memdev=m{0}\n",
                            i);
    text += "# ls /sys/devices/system/memory | wc -l\n";
    Scenario s{fmt::format("dimm_plug/{}", n), text, {{"boot", "qemu-system"}, {"plug", "object_add"}}};
    // 16 GiB of boot RAM and n × 2048 blocks of 128 MiB, plus 6 other entries.
    s.expect = fmt::format("\n{}\n", 128 + 2048 * n + 6);
    s.work = true;
    return s;
}

// A 1 TiB KVM guest (512 blocks of 2 GiB): `fill_gib` GiB of tmpfs files
// (page cache, movable) written with dd in files of at most 100 GiB, then
// every block offlined and onlined through the shell. Blocks with file pages
// migrate them where there is room.
Scenario kvm_1t_fill_loop(int fill_gib)
{
    std::string text = fmt::format("{} -m 1T -machine q35\n", k_kvm);
    for (int done = 0, i = 0; done < fill_gib; ++i) {
        const int gib = std::min(100, fill_gib - done);
        text += fmt::format("# dd if=/dev/zero of=/fill{} bs=1M count={}\n", i, gib * 1024);
        done += gib;
    }
    text += "# grep -E 'MemFree|Shmem:' /proc/meminfo\n"
            "# for f in /sys/devices/system/memory/memory*/state; do echo offline > $f; done 2>&1 | sort | uniq -c\n"
            "# grep online /sys/devices/system/memory/memory*/state | wc -l\n"
            "# for f in /sys/devices/system/memory/memory*/state; do echo online > $f; done 2>&1 | sort | uniq -c\n"
            "# grep -E 'MemTotal|MemFree|Shmem:' /proc/meminfo\n";
    Scenario s{fmt::format("kvm_1t_fill_loop/{}G", fill_gib), text,
               {{"boot", "qemu-system"}, {"fill", "dd "}, {"offline", "echo offline"}, {"online", "echo online"}}};
    s.work = true;
    return s;
}

// Point 7's figures once a workload has filled half of a 1 TiB guest: 500 GiB of
// tmpfs files (the tmpfs limit is half of RAM), then seed 000's plug of 512 GiB of
// virtio-mem and its unplug to 0, then every block offlined and onlined.
Scenario kvm_1t_half_full()
{
    std::string text = fmt::format(
        "{} -m 1T,slots=10,maxmem=2T -machine q35 -device pcie-root-port,id=port1,bus=pcie.0,slot=1\n"
        "# echo online > /sys/devices/system/memory/auto_online_blocks\n",
        k_kvm);
    for (int i = 0; i < 5; ++i) text += fmt::format("# dd if=/dev/zero of=/fill{} bs=1M count=102400\n", i);
    text += "# grep -E 'MemFree|Shmem:' /proc/meminfo\n"
            "(qemu) object_add memory-backend-ram,id=hotmem0,size=512G\n"
            "(qemu) device_add virtio-mem-pci,id=vmem1,memdev=hotmem0,bus=port1\n"
            "(qemu) qom-set vmem1 requested-size 512G\n"
            "(qemu) qom-get vmem1 size\n"
            "(qemu) qom-set vmem1 requested-size 0G\n"
            "(qemu) qom-get vmem1 size\n"
            "# for f in /sys/devices/system/memory/memory*/state; do echo offline > $f; done 2>&1 | sort | uniq -c\n"
            "# for f in /sys/devices/system/memory/memory*/state; do echo online > $f; done 2>&1 | sort | uniq -c\n"
            "# grep -E 'MemTotal|MemFree|Shmem:' /proc/meminfo\n";
    Scenario s{"kvm_1t_half_full", text,
               {{"boot", "qemu-system"}, {"fill", "dd "}, {"plug", "object_add"}, {"unplug", "requested-size 0G"},
                {"offline", "do echo offline"}, {"online", "do echo online"}}};
    s.expect = "Shmem:          524290244 kB";  // all 500 GiB written
    s.work = true;
    s.simulated_pages = k_tib_pages;
    return s;
}

void register_scenario(Scenario s, int repetitions = 0)
{
    auto* b = benchmark::RegisterBenchmark(s.name.c_str(), [s](benchmark::State& st) { run_scenario(st, s); });
    b->Unit(benchmark::kMillisecond)->UseRealTime();
    // Runs of minutes: one iteration, and `repetitions` of them if given.
    if (repetitions) b->Iterations(1)->Repetitions(repetitions);
}

// Registers every scenario, or with `dump` prints the one named so (its transcript,
// for `memplug run` and profilers) instead.
void register_all(bool long_runs, bool huge_runs, const char* dump)
{
    auto reg = [&](Scenario s, int repetitions = 0) {
        if (!dump) register_scenario(std::move(s), repetitions);
        else if (s.name == dump) fmt::print("{}", s.text);
    };
    for (int gib : {256, 512})
        for (bool rescan : {false, true}) reg(seed000(gib, rescan));
    reg(from_file("kvm_64t_boot", "bench/transcripts/kvm-64t-boot.txt", {{"boot", "qemu-system"}}));
    reg(from_file("kvm_64t_offline_online_loop", "bench/transcripts/kvm-64t-offline-online.txt",
                                {{"boot", "qemu-system"}, {"offline", "echo offline"}, {"online", "echo online"}}));
    reg(from_file("kvm_64t_ls_glob", "bench/transcripts/kvm-64t-ls-glob.txt",
                                {{"boot", "qemu-system"}, {"ls", "ls "}, {"glob", "grep "}}));
    reg(from_file("kvm_64t_reports", "bench/transcripts/kvm-64t-reports.txt",
                  {{"boot", "qemu-system"}, {"dimm", "device_add"}, {"unplug", "report unplug"},
                   {"hugepages", "report hugepages"}, {"plug", "report plug"}, {"plug_step", "report plug dimm:"},
                   {"map", "report map"}, {"zones", "report zones"}, {"config", "report config"}}));
    reg(from_file("guest_4g", "bench/transcripts/guest-4g.txt",
                                {{"boot", "qemu-system"}, {"offline", "echo offline"}, {"online", "echo online"},
                                 {"ls", "ls "}, {"glob", "grep "}}));
    for (int tib : {1, 4, 16, 64}) reg(kvm_boot(tib));
    // Linearity: today plugging is quadratic (docs/PERFORMANCE.md), so the
    // default run stops where a doubling still takes seconds.
    for (int tib : {1, 2, 4}) reg(virtio_mem_plug(tib));
    for (int n : {4, 8, 16}) reg(dimm_plug(n));
    reg(kvm_1t_fill_loop(0));
    reg(kvm_1t_fill_loop(1));
    if (long_runs) {
        for (int tib : {8, 16}) reg(virtio_mem_plug(tib), 1);
        for (int n : {32, 64}) reg(dimm_plug(n), 1);
        for (int gib : {4, 8, 16}) reg(kvm_1t_fill_loop(gib), 1);
        reg(kvm_1t_half_full(), 1);
    }
    if (huge_runs) {
        for (int tib : {32, 64}) reg(virtio_mem_plug(tib), 1);
        for (int n : {128, 255}) reg(dimm_plug(n), 1);
    }
}

}  // namespace

int main(int argc, char** argv)
{
    bool long_runs = false, huge_runs = false;
    const char* dump = nullptr;
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--memplug_long")) long_runs = true;
        else if (!std::strcmp(argv[i], "--memplug_huge")) huge_runs = true;
        else if (!std::strncmp(argv[i], "--memplug_dump=", 15)) dump = argv[i] + 15;
        else args.push_back(argv[i]);
    }
    if (dump) {
        // e.g. --memplug_dump=dimm_plug/255 > /tmp/t.txt; build/memplug run /tmp/t.txt
        register_all(true, true, dump);
        return 0;
    }
    int n = int(args.size());
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
    register_all(long_runs, huge_runs, nullptr);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
