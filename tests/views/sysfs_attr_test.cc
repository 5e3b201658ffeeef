// The name parsers sysfs lookups use to find one object without listing its directory.
#include "views/sysfs_attr.h"

#include <gtest/gtest.h>

namespace memplug::views {
namespace {

TEST(ParseBlockName, TakesTheNamesTheKernelPrints)
{
    EXPECT_EQ(parse_block_name("memory0"), mm::BlockId(0));
    EXPECT_EQ(parse_block_name("memory32"), mm::BlockId(32));
    EXPECT_EQ(parse_block_name("memory32767"), mm::BlockId(32767));
    EXPECT_EQ(parse_block_name("memory9999999999999999999"), mm::BlockId(9999999999999999999u));
}

TEST(ParseBlockName, RefusesEverythingElse)
{
    for (const char* name : {"memory", "memory00", "memory032", "memory32x", "memory-1", "memory 1", "Memory1",
                             "node0", "memory99999999999999999999", "memory+1"})
        EXPECT_EQ(parse_block_name(name), std::nullopt) << name;
}

}  // namespace
}  // namespace memplug::views
