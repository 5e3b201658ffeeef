#include <gtest/gtest.h>

#include "frontends/shell.h"
#include "fake_vfs.h"

namespace memplug::fe {
namespace {

TEST(ShellSmoke, Echo)
{
    testing::FakeVfs fs;
    GuestShell sh(fs);
    EXPECT_EQ(sh.run("echo hi"), "hi\n");
}

}  // namespace
}  // namespace memplug::fe
