// Random long sessions keep every invariant and every file (see random_session.h).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "random_session.h"

namespace memplug::fe {
namespace {

RC_GTEST_PROP(Invariants, RandomSessionsKeepEveryInvariantAndEveryFile, ())
{
    const auto seed = *rc::gen::arbitrary<uint32_t>();
    const test::Outcome o = test::random_session(seed, 60);
    RC_ASSERT(o.failure == std::string());
}

}  // namespace
}  // namespace memplug::fe
