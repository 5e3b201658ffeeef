// The long randomized run: `invariants_long N` runs N operations over sessions
// of 2000 steps (seeds 1, 2, ...), stops at the first violation and prints it.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "random_session.h"

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: invariants_long OPERATIONS\n");
        return 2;
    }
    const uint64_t total = std::strtoull(argv[1], nullptr, 10);
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t done = 0;
    uint32_t sessions = 0;
    for (uint32_t seed = 1; done < total; ++seed, ++sessions) {
        const memplug::fe::test::Outcome o = memplug::fe::test::random_session(seed, std::min<uint64_t>(2000, total - done));
        if (!o.failure.empty()) {
            std::fprintf(stderr, "invariant violated after %llu operations:\n%s\n", static_cast<unsigned long long>(done),
                         o.failure.c_str());
            return 1;
        }
        done += o.steps;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("invariants: %llu operations in %u sessions, no violation (%.0f s)\n",
                static_cast<unsigned long long>(done), sessions, s);
    return 0;
}
