// Whole transcripts as users run them: each iteration is `memplug run FILE`
// without the process, i.e. a fresh GuestSession and run_transcript(). The
// time of each phase (boot, plug, the offline loop, ...) is a counter beside
// the total, so a phase can be compared with its budget in DESIGN.md.
#include <chrono>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "frontends/guest_session.h"
#include "frontends/runner.h"
#include "frontends/transcript.h"

namespace fe = memplug::fe;

namespace {

// A phase starts at the first command containing `marker` and lasts until the
// next phase starts; commands before the first phase are not counted.
struct Phase {
    std::string counter;
    std::string marker;
};

struct Scenario {
    std::string file;  // relative to the source tree
    std::vector<Phase> phases;
};

// Forwards to the GuestSession `memplug run` uses and adds each command's wall time to its phase.
class PhaseTimer final : public fe::Session {
public:
    PhaseTimer(fe::Session& inner, const std::vector<Phase>& phases, std::vector<double>& seconds)
        : m_inner(inner), m_phases(phases), m_seconds(seconds)
    {
    }

    tl::expected<std::string, std::string> run(fe::CommandKind kind, std::string_view command) override
    {
        for (size_t i = m_current + 1; i < m_phases.size(); ++i)
            if (command.find(m_phases[i].marker) != std::string_view::npos) {
                m_current = i;
                break;
            }
        const auto start = std::chrono::steady_clock::now();
        auto out = m_inner.run(kind, command);
        if (m_current < m_phases.size())
            m_seconds[m_current] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return out;
    }

private:
    fe::Session& m_inner;
    const std::vector<Phase>& m_phases;
    std::vector<double>& m_seconds;
    size_t m_current = size_t(-1);  // no phase yet
};

void run_scenario(benchmark::State& state, const Scenario& s)
{
    auto t = fe::load_transcript(std::string(MEMPLUG_SOURCE_DIR) + "/" + s.file);
    if (!t) {
        state.SkipWithError(t.error().front().str().c_str());
        return;
    }
    std::vector<double> seconds(s.phases.size());
    for (auto _ : state) {
        fe::GuestSession session;
        PhaseTimer timer(session, s.phases, seconds);
        fe::RunResult r = fe::run_transcript(*t, timer);
        benchmark::DoNotOptimize(r.rendered.data());
        if (r.status != fe::k_status_ok) {
            state.SkipWithError(r.diagnostics.front().str().c_str());
            return;
        }
    }
    for (size_t i = 0; i < s.phases.size(); ++i)
        state.counters[s.phases[i].counter + "_s"] = benchmark::Counter(seconds[i], benchmark::Counter::kAvgIterations);
}

const Scenario k_seed000{"examples/seed-000-virtio-mem-512g.txt",
                         {{"boot", "qemu-system"}, {"plug", "object_add"}, {"ls", "ls "}, {"unplug", "requested-size 0G"}}};
const Scenario k_64t_loop{"bench/transcripts/kvm-64t-offline-online.txt",
                          {{"boot", "qemu-system"}, {"offline", "echo offline"}, {"online", "echo online"}}};
const Scenario k_64t_ls_glob{"bench/transcripts/kvm-64t-ls-glob.txt",
                             {{"boot", "qemu-system"}, {"ls", "ls "}, {"glob", "grep "}}};
const Scenario k_64t_boot{"bench/transcripts/kvm-64t-boot.txt", {{"boot", "qemu-system"}}};
const Scenario k_4g{"bench/transcripts/guest-4g.txt",
                    {{"boot", "qemu-system"}, {"offline", "echo offline"}, {"online", "echo online"}, {"ls", "ls "},
                     {"glob", "grep "}}};

}  // namespace

BENCHMARK_CAPTURE(run_scenario, seed000_virtio_mem_512g, k_seed000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(run_scenario, kvm_64t_boot, k_64t_boot)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(run_scenario, kvm_64t_offline_online_loop, k_64t_loop)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(run_scenario, kvm_64t_ls_glob, k_64t_ls_glob)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(run_scenario, guest_4g, k_4g)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
