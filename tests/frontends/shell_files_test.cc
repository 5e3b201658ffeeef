// The file applets over the guest's tmpfs root, through a whole guest session.
// Expected texts are what Debian's busybox-static 1.35 prints for the same
// commands (run on the host against a tmpfs; see each test).
#include <gtest/gtest.h>

#include "frontends/guest_session.h"

namespace memplug::fe {
namespace {

class ShellFiles : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(s.run(CommandKind::Host, "qemu-system-x86_64 -m 1G -machine q35")); }
    std::string sh(std::string_view line)
    {
        auto r = s.run(CommandKind::Guest, line);
        EXPECT_TRUE(r) << (r ? "" : r.error());
        return r ? *r : std::string();
    }
    GuestSession s{GuestSession::CheckInvariants::Yes};
};

TEST_F(ShellFiles, DdFromDevZeroWritesRecordsAndSize)
{
    EXPECT_EQ(sh("dd if=/dev/zero of=/z bs=1M count=3"), "3+0 records in\n3+0 records out\n");
    EXPECT_EQ(sh("wc -c /z"), "3145728 /z\n");
    EXPECT_EQ(sh("dd if=/dev/zero of=/z bs=1k count=3 status=none; echo $?"), "0\n");
    EXPECT_EQ(sh("printf 'hello\\n' > /a; dd if=/a of=/b"), "0+1 records in\n0+1 records out\n");
    EXPECT_EQ(sh("dd if=/a of=/c bs=2 count=2 skip=1; cat /c; echo"), "2+0 records in\n2+0 records out\nllo\n\n");
}

// An endless producer into a pipe stops at memplug's pipe limit, and says so.
TEST_F(ShellFiles, APipePastItsLimitSaysSo)
{
    EXPECT_EQ(sh("head -c 300000000 /dev/zero | wc -c"),
              "sh: a limit of memplug: a pipe holds at most 256 MiB; the output beyond was dropped\n268435456\n");
    EXPECT_EQ(sh("head -c 3000000 /dev/zero | wc -c"), "3000000\n");
    // Read whole, an endless device is a transcript error that names the limit.
    auto whole = s.run(CommandKind::Guest, "cat /dev/zero | head -c 10");
    ASSERT_FALSE(whole);
    EXPECT_NE(whole.error().find("memplug reads /dev/zero and /dev/urandom only in pieces"), std::string::npos)
        << whole.error();
}

TEST_F(ShellFiles, DdRefusesWhatBusyboxRefuses)
{
    EXPECT_EQ(sh("dd if=/nope of=/z; echo $?"), "dd: can't open '/nope': No such file or directory\n1\n");
    EXPECT_EQ(sh("dd bs=1Q; echo $?"), "dd: invalid number '1Q'\n1\n");
    EXPECT_EQ(sh("dd if=/dev/zero of=/x bs=0; echo $?"), "dd: number 0 is not in 1..9223372036854775807 range\n1\n");
}

TEST_F(ShellFiles, Md5sumAndCheckMode)
{
    sh("printf 'hello\\n' > /a");
    EXPECT_EQ(sh("md5sum /a"), "b1946ac92492d2347c6235b4d2611184  /a\n");
    EXPECT_EQ(sh("md5sum < /a"), "b1946ac92492d2347c6235b4d2611184  -\n");
    EXPECT_EQ(sh("md5sum /nope; echo $?"), "md5sum: can't open '/nope': No such file or directory\n1\n");
    sh("printf 'x\\n' > /f1; printf 'y\\n' > /f2; md5sum /f1 /f2 > /sums");
    EXPECT_EQ(sh("md5sum -c /sums; echo $?"), "/f1: OK\n/f2: OK\n0\n");
    sh("printf 'z\\n' > /f2");
    EXPECT_EQ(sh("md5sum -c /sums; echo $?"),
              "/f1: OK\n/f2: FAILED\nmd5sum: WARNING: 1 of 2 computed checksums did NOT match\n1\n");
    // An empty file, like busybox's d41d8... for no input.
    EXPECT_EQ(sh("truncate -s 0 /e; md5sum /e"), "d41d8cd98f00b204e9800998ecf8427e  /e\n");
}

TEST_F(ShellFiles, CmpReportsTheFirstDifferenceOrTheShorterFile)
{
    sh("printf 'hello\\n' > /a; printf 'hellp\\nx\\n' > /b; printf 'hello\\nmore\\n' > /c");
    EXPECT_EQ(sh("cmp /a /b; echo $?"), "/a /b differ: char 5, line 1\n1\n");
    EXPECT_EQ(sh("cmp /a /c; echo $?"), "cmp: EOF on /a\n1\n");
    EXPECT_EQ(sh("cmp /a /nope; echo $?"), "cmp: /nope: No such file or directory\n2\n");
    EXPECT_EQ(sh("cmp /a /a; echo $?"), "0\n");
    EXPECT_EQ(sh("cmp -s /a /b; echo $?"), "1\n");
    EXPECT_EQ(sh("cmp -l /a /b"), "5 157 160\ncmp: EOF on /a\n");
}

TEST_F(ShellFiles, RmCpAndTruncate)
{
    sh("printf 'hello\\n' > /a");
    EXPECT_EQ(sh("rm /nope; echo $?"), "rm: can't remove '/nope': No such file or directory\n1\n");
    EXPECT_EQ(sh("rm -f /nope; echo $?"), "0\n");
    EXPECT_EQ(sh("rm /tmp"), "rm: '/tmp' is a directory\n");
    EXPECT_EQ(sh("rm /sys/devices/system/memory/block_size_bytes"),
              "rm: can't remove '/sys/devices/system/memory/block_size_bytes': Operation not permitted\n");
    EXPECT_EQ(sh("cp /nope /x; echo $?"), "cp: can't stat '/nope': No such file or directory\n1\n");
    EXPECT_EQ(sh("cp /a /tmp; cat /tmp/a"), "hello\n");
    EXPECT_EQ(sh("cp /a /a"), "cp: '/a' and '/a' are the same file\n");
    EXPECT_EQ(sh("cp /a /sys/nope"), "cp: can't create '/sys/nope': Permission denied\n");
    EXPECT_EQ(sh("cp /sys/devices/system/memory/block_size_bytes /bsz; cat /bsz"), "8000000\n");
    EXPECT_EQ(sh("truncate -s 1M /t; wc -c /t"), "1048576 /t\n");
    EXPECT_EQ(sh("truncate -s 3k /t; wc -c /t"), "3072 /t\n");
    EXPECT_EQ(sh("truncate -s 1m /t"), "truncate: invalid number '1m'\n");
    EXPECT_EQ(sh("truncate -c -s 0 /nope; echo $?; ls /nope"), "0\nls: /nope: No such file or directory\n");
    EXPECT_EQ(sh("truncate -s 0 /sys/devices/system/memory/block_size_bytes; echo $?"),
              "truncate: /sys/devices/system/memory/block_size_bytes: open: Permission denied\n1\n");
    EXPECT_EQ(sh("rm /a /t /bsz /tmp/a; ls /a /tmp/a"),
              "ls: /a: No such file or directory\nls: /tmp/a: No such file or directory\n");
}

TEST_F(ShellFiles, AppendKeepsAndRedirectTruncates)
{
    sh("echo one > /f; echo two >> /f");
    EXPECT_EQ(sh("cat /f"), "one\ntwo\n");
    sh("echo three > /f");
    EXPECT_EQ(sh("cat /f"), "three\n");
    EXPECT_EQ(sh("head -c 5 /dev/zero | wc -c"), "5\n");
    EXPECT_EQ(sh("echo x > /nodir/f"), "sh: can't create /nodir/f: nonexistent directory\n");
}

TEST_F(ShellFiles, BigFilesGoThroughInPieces)
{
    // 40 MiB passes a redirection in 1 MiB writes and md5sum reads it in pieces.
    sh("dd if=/dev/zero of=/big bs=1M count=40 2>/dev/null");
    EXPECT_EQ(sh("cat /big > /copy; wc -c /copy"), "41943040 /copy\n");
    EXPECT_EQ(sh("cmp /big /copy; echo $?"), "0\n");
    EXPECT_EQ(sh("md5sum /copy"), "ec8bb3b24d5b0f1b5bdf8c8f0f541ee6  /copy\n");
}

// find over tmpfs: newest entry first, as dcache_readdir lists a directory.
// Expected texts: busybox 1.35 on the host, in a tmpfs with the same files.
TEST_F(ShellFiles, FindWalksTmpfsNewestFirst)
{
    sh("echo a > /tmp/a; echo b > /tmp/b; echo cc > /tmp/c");
    EXPECT_EQ(sh("find tmp"), "tmp\ntmp/c\ntmp/b\ntmp/a\n");
    EXPECT_EQ(sh("find tmp -type f -name '[ab]' -o -name c -print"), "tmp/c\n");
    EXPECT_EQ(sh("find tmp ! -name b -type f"), "tmp/c\ntmp/a\n");
    EXPECT_EQ(sh("find tmp -path '*/c' -o -path tmp -prune"), "tmp\n");
    EXPECT_EQ(sh("find tmp -depth"), "tmp/c\ntmp/b\ntmp/a\ntmp\n");
    EXPECT_EQ(sh("find tmp -mindepth 1 -maxdepth 1 -exec cat {} \\;"), "cc\nb\na\n");
    EXPECT_EQ(sh("find tmp -type f -exec echo x{}x \\;"), "xtmp/cx\nxtmp/bx\nxtmp/ax\n");
    EXPECT_EQ(sh("find tmp -type f -exec echo {} +"), "tmp/c tmp/b tmp/a\n");
    EXPECT_EQ(sh("find tmp -print -quit"), "tmp\n");
    EXPECT_EQ(sh("find tmp/ -name tmp"), "tmp/\n");
    EXPECT_EQ(sh("find tmp \\( -name a -o -name b \\) -print0 | tr '\\0' ,; echo"), "tmp/b,tmp/a,\n");
    sh("rm /tmp/b; echo b > /tmp/b");
    EXPECT_EQ(sh("find /tmp -type f"), "/tmp/b\n/tmp/c\n/tmp/a\n");
}

TEST_F(ShellFiles, FindRefusesWhatBusyboxRefuses)
{
    sh("echo a > /tmp/a");
    EXPECT_EQ(sh("find tmp/nope tmp/a; echo $?"), "find: tmp/nope: No such file or directory\ntmp/a\n1\n");
    EXPECT_EQ(sh("find tmp -type q; echo $?"), "find: invalid argument 'q' to '-type'\n1\n");
    EXPECT_EQ(sh("find tmp -maxdepth x; echo $?"), "find: invalid number 'x'\n1\n");
    EXPECT_EQ(sh("find tmp -exec echo; echo $?"), "find: -exec requires an argument\n1\n");
    EXPECT_EQ(sh("find tmp -name; echo $?"), "find: -name requires an argument\n1\n");
    EXPECT_EQ(sh("find tmp -exec echo {} {} +; echo $?"), "find: only one '{}' allowed for -exec +\n1\n");
    EXPECT_EQ(sh("find tmp -type f -exec nosuch {} \\;; echo $?"), "find: nosuch: No such file or directory\n0\n");
    EXPECT_EQ(sh("find tmp \\( -name a; echo $?"), "find: unpaired '('\n1\n");
    const std::string bogus = sh("find tmp -bogus; echo $?");
    EXPECT_TRUE(bogus.starts_with("find: unrecognized: -bogus\nBusyBox v1.35.0")) << bogus;
    EXPECT_TRUE(bogus.ends_with("\n1\n")) << bogus;
}

TEST_F(ShellFiles, XargsRunsAProgramOnTheWordsOfStdin)
{
    sh("echo a > /tmp/a; echo b > /tmp/b; echo cc > /tmp/c");
    EXPECT_EQ(sh("find tmp -name '[ab]' | xargs cat"), "b\na\n");
    EXPECT_EQ(sh("find tmp -type f | xargs -n 1 echo arg"), "arg tmp/c\narg tmp/b\narg tmp/a\n");
    EXPECT_EQ(sh("echo \"a 'b c' d\\ e\" | xargs -n 1"), "a\nb c\nd e\n");
    EXPECT_EQ(sh("printf 'x y\\nz\\n' | xargs -I @ echo [@]"), "[x y]\n[z]\n");
    EXPECT_EQ(sh("echo a | xargs nosuch; echo $?"), "xargs: nosuch: No such file or directory\n127\n");
    EXPECT_EQ(sh("echo a | xargs false; echo $?"), "123\n");
    EXPECT_EQ(sh("printf '' | xargs -r echo hi; printf '' | xargs echo hi"), "hi\n");
    EXPECT_EQ(sh("find tmp -type f | xargs -t ls -1"), "ls -1 tmp/c tmp/b tmp/a\ntmp/a\ntmp/b\ntmp/c\n");
}

}  // namespace
}  // namespace memplug::fe
