// The long randomized run: `invariants_long N [FIRST_SEED]` runs N operations
// over sessions of 2000 steps (seeds FIRST_SEED, FIRST_SEED + 1, ...; default 1),
// stops at the first violation and prints it. Several processes with disjoint
// seeds share a long run between cores (make invariants-long).
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "random_session.h"

int main(int argc, char** argv)
{
    if (argc != 2 && argc != 3) {
        std::fprintf(stderr, "usage: invariants_long OPERATIONS [FIRST_SEED]\n");
        return 2;
    }
    const uint64_t total = std::strtoull(argv[1], nullptr, 10);
    const uint32_t first_seed = argc == 3 ? uint32_t(std::strtoul(argv[2], nullptr, 10)) : 1;
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t done = 0;
    uint32_t sessions = 0;
    for (uint32_t seed = first_seed; done < total; ++seed, ++sessions) {
        const memplug::fe::test::Outcome o = memplug::fe::test::random_session(seed, std::min<uint64_t>(2000, total - done));
        if (!o.failure.empty()) {
            std::fprintf(stderr, "invariant violated after %llu operations:\n%s\n", static_cast<unsigned long long>(done),
                         o.failure.c_str());
            return 1;
        }
        done += o.steps;
        if (sessions % 50 == 49)
            std::fprintf(stderr, "invariants: %llu operations (seeds %u to %u)\n", static_cast<unsigned long long>(done),
                         first_seed, seed);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("invariants: %llu operations in %u sessions (seeds %u to %u), no violation (%.0f s)\n",
                static_cast<unsigned long long>(done), sessions, first_seed, first_seed + sessions - 1, s);
    return 0;
}
