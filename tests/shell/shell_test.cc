// The guest shell against busybox 1.35 (Debian 1:1.35.0-4+deb12u1+b1, the
// guest's busybox-static). The recorded tables below are busybox's own output:
// each line was typed into an interactive `sh` (stdin a pipe, stdout and stderr
// one pty with no window size, like the guest's serial console), chrooted into a
// directory tree that add_guest_tree() mirrors file for file; the expected text
// is what came back, with a final '\n' added where the console would show the
// next prompt. Sysfs-only behaviour (a store's EINVAL/EBUSY, kernfs refusing to
// create) cannot be recorded on a disk: those tests are written from the
// messages busybox prints for the same errnos (verified with /dev/full, closed
// fds and an unprivileged user) and from the real guest (sh: write error: ...).
#include <atomic>
#include <cerrno>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "fake_vfs.h"
#include "shell/shell.h"
#include "shell/arith.h"

namespace memplug::shell {
namespace {

using testing::FakeVfs;

constexpr std::string_view k_meminfo =
    "MemTotal:        2024644 kB\n"
    "MemFree:         1860380 kB\n"
    "MemAvailable:    1870000 kB\n"
    "Buffers:               0 kB\n";

constexpr std::string_view k_zoneinfo =
    "Node 0, zone      DMA\n"
    "  per-node stats\n"
    "      nr_inactive_anon 0\n"
    "  pages free     3840\n"
    "        min      12\n"
    "        spanned  4095\n"
    "        present  3998\n"
    "        managed  3840\n"
    "Node 0, zone    DMA32\n"
    "  pages free     400000\n"
    "        min      1000\n"
    "        spanned  1044480\n"
    "        present  520000\n"
    "        managed  500000\n"
    "Node 0, zone   Normal\n"
    "  pages free     0\n"
    "        min      0\n"
    "        spanned  0\n"
    "        present  0\n"
    "        managed  0\n"
    "Node 0, zone  Movable\n"
    "  pages free     0\n"
    "        min      0\n"
    "        spanned  0\n"
    "        present  0\n"
    "        managed  0\n"
    "Node 0, zone   Device\n"
    "  pages free     0\n";

// The tree the recorded cases ran in.
void add_guest_tree(FakeVfs& fs)
{
    const std::string mem = "/sys/devices/system/memory";
    for (int n : {0, 1, 2, 32, 33, 34, 35, 36, 37, 38, 39, 100}) {
        std::string block = fmt::format("{}/memory{}", mem, n);
        fs.add_file(block + "/state", "online\n");
        fs.add_file(block + "/valid_zones", "Normal Movable\n");
        fs.add_file(block + "/phys_index", fmt::format("{:08x}\n", n));
        fs.add_file(block + "/removable", "1\n");
    }
    fs.add_file(mem + "/block_size_bytes", "8000000\n", FakeVfs::Access::ReadOnly);
    fs.add_file(mem + "/auto_online_blocks", "offline\n");
    fs.add_symlink(mem + "/memory32/node0", "../../node/node0");
    fs.add_symlink("/sys/devices/system/node/node0/memory32", "../../memory/memory32");
    fs.add_dir("/sys/devices/system/node/node1");
    fs.add_file("/sys/lines", "b 2\na 10\nc 1\na 10\n");
    fs.add_file("/sys/nonl", "no newline");
    fs.add_file("/sys/empty", "");
    fs.add_dir("/sys/empty_dir");
    // A directory as big as a 2 GiB guest's memory/, for the column layout.
    for (const char* f : {"auto_online_blocks", "block_size_bytes", "hard_offline_page",
                          "soft_offline_page", "uevent"})
        fs.add_file(fmt::format("/sys/bigmem/{}", f), "x\n");
    fs.add_dir("/sys/bigmem/power");
    for (int n = 0; n < 48; ++n)
        if (n < 16 || n >= 32)
            fs.add_dir(fmt::format("/sys/bigmem/memory{}", n));
    fs.add_file("/proc/meminfo", std::string(k_meminfo));
    fs.add_file("/proc/zoneinfo", std::string(k_zoneinfo));
    fs.add_file("/dev/full", "");
    fs.set_write_hook("/dev/full", [](std::string_view) { return kerr(ENOSPC); });
}

struct Case {
    std::string_view line;
    std::string_view output;
    int status;
};

// Runs the cases in order in one shell, as they were typed.
void run_cases(std::span<const Case> cases)
{
    FakeVfs fs;
    add_guest_tree(fs);
    GuestShell sh(fs);
    for (const Case& c : cases) {
        SCOPED_TRACE(c.line);
        EXPECT_EQ(sh.run(c.line), c.output);
        EXPECT_EQ(sh.last_status(), c.status);
    }
}

// ---- recorded from busybox 1.35 ----

// Syntax errors: ash parses the whole line first, so nothing runs.
constexpr Case k_syntax_cases[] = {
    {R"sh(echo ${a b})sh",
     R"sh(sh: syntax error: bad substitution
)sh",
     2},
    {R"sh(| echo)sh",
     R"sh(sh: syntax error: unexpected "|"
)sh",
     2},
    {R"sh(&& echo)sh",
     R"sh(sh: syntax error: unexpected "&&"
)sh",
     2},
    {R"sh(; echo)sh",
     R"sh(sh: syntax error: unexpected ";"
)sh",
     2},
    {R"sh(echo a;;)sh",
     R"sh(sh: syntax error: unexpected ";;"
)sh",
     2},
    {R"sh(for i in 1 2; do echo $i; done; done)sh",
     R"sh(sh: syntax error: unexpected "done"
)sh",
     2},
    {R"sh(for; do)sh",
     R"sh(sh: syntax error: bad for loop variable
)sh",
     2},
    {R"sh(for i in 1; echo)sh",
     R"sh(sh: syntax error: unexpected word (expecting "do")
)sh",
     2},
    {R"sh(do)sh",
     R"sh(sh: syntax error: unexpected "do"
)sh",
     2},
    {R"sh(then)sh",
     R"sh(sh: syntax error: unexpected "then"
)sh",
     2},
    {R"sh(fi)sh",
     R"sh(sh: syntax error: unexpected "fi"
)sh",
     2},
    {R"sh(echo a >)sh",
     R"sh(sh: syntax error: unexpected newline
)sh",
     2},
    {R"sh(echo a 2>)sh",
     R"sh(sh: syntax error: unexpected newline
)sh",
     2},
    {R"sh(echo ))sh",
     R"sh(sh: syntax error: unexpected ")"
)sh",
     2},
    {R"sh(echo ()sh",
     R"sh(sh: syntax error: unexpected newline (expecting ")")
)sh",
     2},
    {R"sh(echo a; done)sh",
     R"sh(sh: syntax error: unexpected "done"
)sh",
     2},
    {R"sh(echo a; echo b ))sh",
     R"sh(sh: syntax error: unexpected ")"
)sh",
     2},
    {R"sh(echo a | done)sh",
     R"sh(sh: syntax error: unexpected "done"
)sh",
     2},
    {R"sh(echo $((1/0)); echo x; done)sh",
     R"sh(sh: syntax error: unexpected "done"
)sh",
     2},
    {R"sh(for i in 1 2; do done)sh",
     R"sh(sh: syntax error: unexpected "done"
)sh",
     2},
    {R"sh(if true; then fi)sh",
     R"sh(sh: syntax error: unexpected "fi"
)sh",
     2},
    {R"sh({ })sh",
     R"sh(sh: syntax error: unexpected "}"
)sh",
     2},
    {R"sh(( ))sh",
     R"sh(sh: syntax error: unexpected ")"
)sh",
     2},
    {R"sh(echo a > /dev/null; })sh",
     R"sh(sh: syntax error: unexpected "}"
)sh",
     2},
};

// Quoting, parameters, $(( )), $( ), IFS splitting, globs, control flow.
constexpr Case k_expansion_cases[] = {
    {R"sh(echo a b  "c  d")sh",
     R"sh(a b c  d
)sh",
     0},
    {R"sh(echo -n foo)sh",
     R"sh(foo
)sh",
     0},
    {R"sh(echo "a\"b" 'c\d' a\ b "\$x" "a\\b" "a\b")sh",
     R"sh(a"b c\d a b $x a\b a\b
)sh",
     0},
    {R"sh(echo 'it''s' "q"'u'ote)sh",
     R"sh(its quote
)sh",
     0},
    {R"sh(echo a#b #c)sh",
     R"sh(a#b
)sh",
     0},
    {R"sh(echo "*" '*' \*)sh",
     R"sh(* * *
)sh",
     0},
    {R"sh(echo ~ ~/x)sh",
     R"sh(/ //x
)sh",
     0},
    {R"sh(A=b; echo ${A}c ${A:-d} ${Z:-d} ${Z:=e} $Z ${#A})sh",
     R"sh(bc b d e e 1
)sh",
     0},
    {R"sh(echo ${A}b $Ab "$A" '$A')sh",
     R"sh(bb b $A
)sh",
     0},
    {R"sh(X="a   b"; echo $X "$X")sh",
     R"sh(a b a   b
)sh",
     0},
    {R"sh(echo ${X#a} ${X%b} ${X##* } ${X:0:1} ${X/a/b})sh",
     R"sh(b a b a b b
)sh",
     0},
    {R"sh(y=; echo ${y-unset} ${y:-empty} ${y:+alt} ${X:+alt})sh",
     R"sh(empty alt
)sh",
     0},
    {R"sh(echo ${x:-"a b"} "${y:-c d}")sh",
     R"sh(a b c d
)sh",
     0},
    {R"sh(echo ${u?})sh",
     R"sh(sh: u: parameter not set
)sh",
     2},
    {R"sh(echo ${u:?custom message})sh",
     R"sh(sh: u: custom message
)sh",
     2},
    {R"sh(echo $((0x100000000+3*(128<<20))))sh",
     R"sh(4697620480
)sh",
     0},
    {R"sh(BLOCK_NR=36; echo $((0x100000000+$BLOCK_NR*(128<<20))))sh",
     R"sh(9126805504
)sh",
     0},
    {R"sh(echo $((5 > 3)) $((2**10)) $((~0)) $((!0)) $((1?2:3)) $((7/2)) $((-7%3)) $((1<<4|1)) $((6&3)))sh",
     R"sh(1 1024 -1 1 2 3 -1 17 2
)sh",
     0},
    {R"sh(echo $(( 1 << 63 )) $((9223372036854775807+1)) $((-1 >> 1)) $((1 << 64)))sh",
     R"sh(-9223372036854775808 -9223372036854775808 -1 1
)sh",
     0},
    {R"sh(echo $((99999999999999999999)) $((18446744073709551615)) $((16#ff)) $((010)) $((-0x10)))sh",
     R"sh(0 -1 255 8 -16
)sh",
     0},
    {R"sh(a=5; echo $((a*2)) $(($a*2)) $((a+=1)) $a $((a++)) $a)sh",
     R"sh(10 10 6 6 6 7
)sh",
     0},
    {R"sh(x=0x10; echo $((x+1)); x=abc; echo $((x)))sh",
     R"sh(17
0
)sh",
     0},
    {R"sh(echo $((1/0)))sh",
     R"sh(sh: divide by zero
)sh",
     2},
    {R"sh(echo $((1%0)); echo not reached)sh",
     R"sh(sh: divide by zero
)sh",
     2},
    {R"sh(echo $((1+)))sh",
     R"sh(sh: arithmetic syntax error
)sh",
     2},
    {R"sh(echo $((08)))sh",
     R"sh(sh: arithmetic syntax error
)sh",
     2},
    {R"sh(echo $((2**-1)))sh",
     R"sh(sh: exponent less than 0
)sh",
     2},
    {R"sh(echo $((1?2)))sh",
     R"sh(sh: malformed ?: operator
)sh",
     2},
    {R"sh(a=b; b=a; echo $((a)))sh",
     R"sh(sh: expression recursion loop detected
)sh",
     2},
    {R"sh(echo $((  )))sh",
     R"sh(0
)sh",
     0},
    {R"sh(echo $[1+2])sh",
     R"sh($[1+2]
)sh",
     0},
    {R"sh(echo "$(echo a; echo b)")sh",
     R"sh(a
b
)sh",
     0},
    {R"sh(echo $(echo a; echo b))sh",
     R"sh(a b
)sh",
     0},
    {R"sh(echo `echo hi` `echo \`echo nested\``)sh",
     R"sh(hi nested
)sh",
     0},
    {R"sh(echo "a$(echo ' b ')c" $(echo '  x  y  '))sh",
     R"sh(a b c x y
)sh",
     0},
    {R"sh(echo "$(printf 'a\n\n\n')|")sh",
     R"sh(a|
)sh",
     0},
    {R"sh(false; echo $(true) $?)sh",
     R"sh(1
)sh",
     0},
    {R"sh(X=$(false); echo $?)sh",
     R"sh(1
)sh",
     0},
    {R"sh(X=$(false) true; echo $?)sh",
     R"sh(0
)sh",
     0},
    {R"sh(IFS=:; X=a:b::c; echo $X; for i in $X; do echo "[$i]"; done; IFS=' ')sh",
     R"sh(a b  c
[a]
[b]
[]
[c]
)sh",
     0},
    {R"sh(set -- "a b" c; for i in "$@"; do echo $i; done; for i in $@; do echo $i; done; echo "$*" $# ${#})sh",
     R"sh(a b
c
a
b
c
a b c 2 2
)sh",
     0},
    {R"sh(for i; do echo "<$i>"; done)sh",
     R"sh(<a b>
<c>
)sh",
     0},
    {R"sh(for i in $(seq 3); do echo -n "$i "; done; echo)sh",
     R"sh(1
2
3 
)sh",
     0},
    {R"sh(for f in /sys/devices/system/memory/memory3[2-4]; do echo $f; done)sh",
     R"sh(/sys/devices/system/memory/memory32
/sys/devices/system/memory/memory33
/sys/devices/system/memory/memory34
)sh",
     0},
    {R"sh(for f in /sys/devices/system/memory/nomatch*; do echo $f; done)sh",
     R"sh(/sys/devices/system/memory/nomatch*
)sh",
     0},
    {R"sh(echo /sys/devices/system/memory/memory?)sh",
     R"sh(/sys/devices/system/memory/memory0 /sys/devices/system/memory/memory1 /sys/devices/system/memory/memory2
)sh",
     0},
    {R"sh(echo /sys/devices/system/memory/memory[!3]*)sh",
     R"sh(/sys/devices/system/memory/memory0 /sys/devices/system/memory/memory1 /sys/devices/system/memory/memory100 /sys/devices/system/memory/memory2
)sh",
     0},
    {R"sh(echo /sys/devices/system/memory/memory[^3]*)sh",
     R"sh(/sys/devices/system/memory/memory0 /sys/devices/system/memory/memory1 /sys/devices/system/memory/memory100 /sys/devices/system/memory/memory2
)sh",
     0},
    {R"sh(echo /sys/devices/system/memory/memory?0)sh",
     R"sh(/sys/devices/system/memory/memory?0
)sh",
     0},
    {R"sh(echo /sys/*/system /sys/devices/system/memory/*/node0)sh",
     R"sh(/sys/devices/system /sys/devices/system/memory/memory32/node0
)sh",
     0},
    {R"sh(echo [ab /sys/devices/system/memory/memory[ /sys/devices/system/memory/*/)sh",
     R"sh([ab /sys/devices/system/memory/memory[ /sys/devices/system/memory/memory0/ /sys/devices/system/memory/memory1/ /sys/devices/system/memory/memory100/ /sys/devices/system/memory/memory2/ /sys/devices/system/memory/memory32/ /sys/devices/system/memory/memory33/ /sys/devices/system/memory/memory34/ /sys/devices/system/memory/memory35/ /sys/devices/system/memory/memory36/ /sys/devices/system/memory/memory37/ /sys/devices/system/memory/memory38/ /sys/devices/system/memory/memory39/
)sh",
     0},
    {R"sh(cd /sys/devices/system/memory; echo memory3*/state; x='memory3[89]'; echo $x "$x"; cd /)sh",
     R"sh(memory32/state memory33/state memory34/state memory35/state memory36/state memory37/state memory38/state memory39/state
memory38 memory39 memory3[89]
)sh",
     0},
    {R"sh(x='*'; echo "$x")sh",
     R"sh(*
)sh",
     0},
    {R"sh(true; echo $?; false; echo $?; ! true; echo $?)sh",
     R"sh(0
1
1
)sh",
     0},
    {R"sh(case abc in a*) echo A;; *) echo B;; esac)sh",
     R"sh(A
)sh",
     0},
    {R"sh(case x in a|b) echo ab;; esac; echo $?)sh",
     R"sh(0
)sh",
     0},
    {R"sh(i=0; while [ $i -lt 3 ]; do echo $i; i=$((i+1)); done)sh",
     R"sh(0
1
2
)sh",
     0},
    {R"sh(until true; do echo; done; echo $?)sh",
     R"sh(0
)sh",
     0},
    {R"sh(for i in 1 2 3; do if [ $i = 2 ]; then continue; fi; echo $i; done)sh",
     R"sh(1
3
)sh",
     0},
    {R"sh(for i in 1 2 3; do for j in a b; do [ $j = b ] && break 2; echo $i$j; done; done)sh",
     R"sh(1a
)sh",
     0},
    {R"sh(if false; then echo 1; elif true; then echo 2; else echo 3; fi)sh",
     R"sh(2
)sh",
     0},
    {R"sh(f() { echo "f:$1:$#"; return 3; }; f x y; echo $?)sh",
     R"sh(f:x:2
3
)sh",
     0},
    {R"sh(g() echo gg; g)sh",
     R"sh(gg
)sh",
     0},
    {R"sh((cd /sys; pwd); pwd)sh",
     R"sh(/sys
/
)sh",
     0},
    {R"sh({ echo a; echo b; } | wc -l)sh",
     R"sh(2
)sh",
     0},
    {R"sh(echo a && echo b || echo c)sh",
     R"sh(a
b
)sh",
     0},
    {R"sh(false || echo c && echo d)sh",
     R"sh(c
d
)sh",
     0},
    {R"sh(echo 1 2>/dev/null 3)sh",
     R"sh(1 3
)sh",
     0},
    {R"sh(X=1 >/dev/null; echo $X)sh",
     R"sh(1
)sh",
     0},
    {R"sh(eval 'echo $((1+1))'; echo $?)sh",
     R"sh(2
0
)sh",
     0},
};

// Redirections, open/create errors, write errors (/dev/full), exit statuses.
constexpr Case k_redirection_cases[] = {
    {R"sh(echo hi > /dev/null)sh",
     R"sh()sh",
     0},
    {R"sh(echo hi 2>&1 >/dev/null)sh",
     R"sh()sh",
     0},
    {R"sh(echo x>/dev/null y)sh",
     R"sh()sh",
     0},
    {R"sh(cat /x 2>&1 | cat)sh",
     R"sh(cat: can't open '/x': No such file or directory
)sh",
     0},
    {R"sh(cat /x 2>/dev/null)sh",
     R"sh()sh",
     1},
    {R"sh(cat /x 2>&1 >/dev/null)sh",
     R"sh(cat: can't open '/x': No such file or directory
)sh",
     1},
    {R"sh(foo)sh",
     R"sh(sh: foo: not found
)sh",
     127},
    {R"sh(foo bar 2>/dev/null)sh",
     R"sh()sh",
     127},
    {R"sh(/x/y)sh",
     R"sh(sh: /x/y: not found
)sh",
     127},
    {R"sh(foo > /nonexist/x)sh",
     R"sh(sh: can't create /nonexist/x: nonexistent directory
)sh",
     1},
    {R"sh(echo hi > /sys/devices/system/memory)sh",
     R"sh(sh: can't create /sys/devices/system/memory: Is a directory
)sh",
     1},
    {R"sh(echo hi > /sys/devices/system/memory/memory32/state/x)sh",
     R"sh(sh: can't create /sys/devices/system/memory/memory32/state/x: nonexistent directory
)sh",
     1},
    {R"sh(echo a > /sys/devices/system/memory/memory32/state/)sh",
     R"sh(sh: can't create /sys/devices/system/memory/memory32/state/: Is a directory
)sh",
     1},
    {R"sh(echo x > /nonexist/f; echo after $?)sh",
     R"sh(sh: can't create /nonexist/f: nonexistent directory
after 1
)sh",
     0},
    {R"sh(cat /x > /nonexist/f; echo after $?)sh",
     R"sh(sh: can't create /nonexist/f: nonexistent directory
after 1
)sh",
     0},
    {R"sh(for i in 1 2; do echo $i > /nonexist/f; echo in $i; done; echo after)sh",
     R"sh(sh: can't create /nonexist/f: nonexistent directory
in 1
sh: can't create /nonexist/f: nonexistent directory
in 2
after
)sh",
     0},
    {R"sh({ echo a; } > /nonexist/x; echo $?)sh",
     R"sh(sh: can't create /nonexist/x: nonexistent directory
1
)sh",
     0},
    {R"sh(X=$(echo a; false) > /nonexist/x; echo $? $X)sh",
     R"sh(sh: can't create /nonexist/x: nonexistent directory
1
)sh",
     0},
    {R"sh(cat < /nonexist)sh",
     R"sh(sh: can't open /nonexist: no such file
)sh",
     1},
    {R"sh(cat < /sys/devices/system/memory)sh",
     R"sh(cat: read error: Is a directory
)sh",
     1},
    {R"sh(wc -l < /sys/devices/system/memory)sh",
     R"sh(wc: standard input: Is a directory
0
)sh",
     1},
    {R"sh(grep x < /sys/devices/system/memory)sh",
     R"sh()sh",
     1},
    {R"sh(echo a >&5; echo $?)sh",
     R"sh(sh: 5: Bad file descriptor
1
)sh",
     0},
    {R"sh(echo a 3>/dev/null)sh",
     R"sh(a
)sh",
     0},
    {R"sh(echo a 1</dev/null)sh",
     R"sh(sh: write error: Bad file descriptor
)sh",
     1},
    {R"sh(cat 0>/dev/null)sh",
     R"sh(cat: read error: Bad file descriptor
)sh",
     1},
    {R"sh(echo x >&-)sh",
     R"sh(sh: write error: Bad file descriptor
)sh",
     1},
    {R"sh(cat /sys/lines >&-)sh",
     R"sh(cat: write error: Bad file descriptor
)sh",
     1},
    {R"sh(echo x > /dev/full)sh",
     R"sh(sh: write error: No space left on device
)sh",
     1},
    {R"sh(echo -n "" > /dev/full)sh",
     R"sh()sh",
     0},
    {R"sh(for i in 1 2; do echo $i > /dev/full; done)sh",
     R"sh(sh: write error: No space left on device
sh: write error: No space left on device
)sh",
     1},
    {R"sh(echo x | cat > /dev/full)sh",
     R"sh(cat: write error: No space left on device
)sh",
     1},
    {R"sh(printf "x\n" > /dev/full)sh",
     R"sh()sh",
     1},
    {R"sh(cat /sys/lines > /dev/full)sh",
     R"sh(cat: write error: No space left on device
)sh",
     1},
    {R"sh(grep . /sys/lines > /dev/full)sh",
     R"sh()sh",
     0},
    {R"sh(wc -l /sys/lines > /dev/full)sh",
     R"sh(wc: standard output: No space left on device
)sh",
     0},
    {R"sh(head -n1 /sys/lines > /dev/full)sh",
     R"sh(head: standard output: I/O error
)sh",
     1},
    {R"sh(tail -n1 /sys/lines > /dev/full)sh",
     R"sh(tail: write error: No space left on device
)sh",
     1},
    {R"sh(uniq /sys/lines > /dev/full)sh",
     R"sh(uniq: standard output: No space left on device
)sh",
     0},
    {R"sh(tr a b < /sys/lines > /dev/full)sh",
     R"sh(tr: write error: No space left on device
)sh",
     1},
    {R"sh(pwd > /dev/full)sh",
     R"sh()sh",
     1},
    {R"sh(basename /a > /dev/full)sh",
     R"sh()sh",
     1},
    {R"sh(echo x | tee /dev/full)sh",
     R"sh(x
tee: /dev/full: I/O error
)sh",
     1},
    {R"sh(echo ${a?unset}; echo after)sh",
     R"sh(sh: a: unset
)sh",
     2},
    {R"sh(echo $(foo) after)sh",
     R"sh(sh: foo: not found
after
)sh",
     0},
    {R"sh(echo $(cd /x) after $?)sh",
     R"sh(sh: cd: can't cd to /x: No such file or directory
after 0
)sh",
     0},
    {R"sh(X=$(cat /x); echo "[$X]" $?)sh",
     R"sh(cat: can't open '/x': No such file or directory
[] 1
)sh",
     0},
    {R"sh(echo a | cat /x)sh",
     R"sh(cat: can't open '/x': No such file or directory
)sh",
     1},
    {R"sh(sh -c 'foo')sh",
     R"sh(sh: foo: not found
)sh",
     127},
    {R"sh(sh -c 'echo $((1/0)); echo x')sh",
     R"sh(sh: divide by zero
)sh",
     2},
    {R"sh(sh -c 'cd /x')sh",
     R"sh(sh: cd: line 0: can't cd to /x: No such file or directory
)sh",
     2},
    {R"sh(sh -c 'echo "')sh",
     R"sh(sh: syntax error: unterminated quoted string
)sh",
     2},
    {R"sh(sh -c 'exit 3')sh",
     R"sh()sh",
     3},
    {R"sh(sh 0)sh",
     R"sh(sh: can't open '0': No such file or directory
)sh",
     2},
    {R"sh(for i in $(seq 3); do sh $i; done)sh",
     R"sh(sh: can't open '1': No such file or directory
sh: can't open '2': No such file or directory
sh: can't open '3': No such file or directory
)sh",
     2},
    {R"sh(echo x | sh -c 'cat')sh",
     R"sh(x
)sh",
     0},
    {R"sh(sh -c 'echo $0 $1' a b)sh",
     R"sh(a b
)sh",
     0},
};

// grep: GNU regex syntaxes, context separators, -c/-l/-L/-q/-o/-w/-x, errors.
constexpr Case k_grep_cases[] = {
    {R"sh(grep -A6 "Movable\|Normal" /proc/zoneinfo)sh",
     R"sh(Node 0, zone   Normal
  pages free     0
        min      0
        spanned  0
        present  0
        managed  0
Node 0, zone  Movable
  pages free     0
        min      0
        spanned  0
        present  0
        managed  0
Node 0, zone   Device
)sh",
     0},
    {R"sh(grep -A2 -E "Movable|DMA" /proc/zoneinfo)sh",
     R"sh(Node 0, zone      DMA
  per-node stats
      nr_inactive_anon 0
--
Node 0, zone    DMA32
  pages free     400000
        min      1000
--
Node 0, zone  Movable
  pages free     0
        min      0
)sh",
     0},
    {R"sh(grep -B2 spanned /proc/zoneinfo)sh",
     R"sh(  pages free     3840
        min      12
        spanned  4095
--
  pages free     400000
        min      1000
        spanned  1044480
--
  pages free     0
        min      0
        spanned  0
--
  pages free     0
        min      0
        spanned  0
)sh",
     0},
    {R"sh(grep -A1 -B1 -n spanned /proc/zoneinfo)sh",
     R"sh(5-        min      12
6:        spanned  4095
7-        present  3998
--
11-        min      1000
12:        spanned  1044480
13-        present  520000
--
17-        min      0
18:        spanned  0
19-        present  0
--
23-        min      0
24:        spanned  0
25-        present  0
)sh",
     0},
    {R"sh(grep -c spanned /proc/zoneinfo /proc/meminfo)sh",
     R"sh(/proc/zoneinfo:4
/proc/meminfo:0
)sh",
     0},
    {R"sh(grep -h Mem /proc/meminfo /proc/meminfo)sh",
     R"sh(MemTotal:        2024644 kB
MemFree:         1860380 kB
MemAvailable:    1870000 kB
MemTotal:        2024644 kB
MemFree:         1860380 kB
MemAvailable:    1870000 kB
)sh",
     0},
    {R"sh(grep -H MemTotal /proc/meminfo)sh",
     R"sh(/proc/meminfo:MemTotal:        2024644 kB
)sh",
     0},
    {R"sh(grep -l Mem /proc/meminfo /proc/zoneinfo)sh",
     R"sh(/proc/meminfo
)sh",
     0},
    {R"sh(grep -L Mem /proc/meminfo /proc/zoneinfo)sh",
     R"sh(/proc/zoneinfo
)sh",
     0},
    {R"sh(grep -v zone /proc/zoneinfo)sh",
     R"sh(  per-node stats
      nr_inactive_anon 0
  pages free     3840
        min      12
        spanned  4095
        present  3998
        managed  3840
  pages free     400000
        min      1000
        spanned  1044480
        present  520000
        managed  500000
  pages free     0
        min      0
        spanned  0
        present  0
        managed  0
  pages free     0
        min      0
        spanned  0
        present  0
        managed  0
  pages free     0
)sh",
     0},
    {R"sh(grep -i memtotal /proc/meminfo)sh",
     R"sh(MemTotal:        2024644 kB
)sh",
     0},
    {R"sh(grep -q MemTotal /proc/meminfo; echo $?)sh",
     R"sh(0
)sh",
     0},
    {R"sh(grep -w Node /proc/zoneinfo)sh",
     R"sh(Node 0, zone      DMA
Node 0, zone    DMA32
Node 0, zone   Normal
Node 0, zone  Movable
Node 0, zone   Device
)sh",
     0},
    {R"sh(grep -x "  pages free     0" /proc/zoneinfo)sh",
     R"sh(  pages free     0
  pages free     0
  pages free     0
)sh",
     0},
    {R"sh(grep -e DMA -e Movable /proc/zoneinfo)sh",
     R"sh(Node 0, zone      DMA
Node 0, zone    DMA32
Node 0, zone  Movable
)sh",
     0},
    {R"sh(grep -o "zone *[A-Z][a-z]*" /proc/zoneinfo)sh",
     R"sh(zone      D
zone    D
zone   Normal
zone  Movable
zone   Device
)sh",
     0},
    {R"sh(grep)sh",
     R"sh(BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.

Usage: grep [-HhnlLoqvsrRiwFEz] [-m N] [-A|B|C N] { PATTERN | -e PATTERN... | -f FILE... } [FILE]...

Search for PATTERN in FILEs (or stdin)

	-H	Add 'filename:' prefix
	-h	Do not add 'filename:' prefix
	-n	Add 'line_no:' prefix
	-l	Show only names of files that match
	-L	Show only names of files that don't match
	-c	Show only count of matching lines
	-o	Show only the matching part of line
	-q	Quiet. Return 0 if PATTERN is found, 1 otherwise
	-v	Select non-matching lines
	-s	Suppress open and read errors
	-r	Recurse
	-R	Recurse and dereference symlinks
	-i	Ignore case
	-w	Match whole words only
	-x	Match whole lines only
	-F	PATTERN is a literal (not regexp)
	-E	PATTERN is an extended regexp
	-z	NUL terminated input
	-m N	Match up to N times per file
	-A N	Print N lines of trailing context
	-B N	Print N lines of leading context
	-C N	Same as '-A N -B N'
	-e PTRN	Pattern to match
	-f FILE	Read pattern from file
)sh",
     2},
    {R"sh(grep -Z x)sh",
     R"sh(grep: invalid option -- 'Z'
BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.

Usage: grep [-HhnlLoqvsrRiwFEz] [-m N] [-A|B|C N] { PATTERN | -e PATTERN... | -f FILE... } [FILE]...

Search for PATTERN in FILEs (or stdin)

	-H	Add 'filename:' prefix
	-h	Do not add 'filename:' prefix
	-n	Add 'line_no:' prefix
	-l	Show only names of files that match
	-L	Show only names of files that don't match
	-c	Show only count of matching lines
	-o	Show only the matching part of line
	-q	Quiet. Return 0 if PATTERN is found, 1 otherwise
	-v	Select non-matching lines
	-s	Suppress open and read errors
	-r	Recurse
	-R	Recurse and dereference symlinks
	-i	Ignore case
	-w	Match whole words only
	-x	Match whole lines only
	-F	PATTERN is a literal (not regexp)
	-E	PATTERN is an extended regexp
	-z	NUL terminated input
	-m N	Match up to N times per file
	-A N	Print N lines of trailing context
	-B N	Print N lines of leading context
	-C N	Same as '-A N -B N'
	-e PTRN	Pattern to match
	-f FILE	Read pattern from file
)sh",
     2},
    {R"sh(grep -A x y /proc/meminfo)sh",
     R"sh(grep: invalid number 'x'
)sh",
     2},
    {R"sh(grep "[" /proc/meminfo)sh",
     R"sh(grep: bad regex '['
)sh",
     2},
    {R"sh(grep -E "(" /proc/meminfo)sh",
     R"sh(grep: bad regex '('
)sh",
     2},
    {R"sh(grep -E "a{1" /proc/meminfo)sh",
     R"sh()sh",
     1},
    {R"sh(grep "\(" /proc/meminfo)sh",
     R"sh(grep: bad regex '\('
)sh",
     2},
    {R"sh(grep -n -A1 DMA32 /proc/zoneinfo)sh",
     R"sh(9:Node 0, zone    DMA32
10-  pages free     400000
)sh",
     0},
    {R"sh(grep -A1 -c DMA /proc/zoneinfo)sh",
     R"sh(2
)sh",
     0},
    {R"sh(grep -m1 zone /proc/zoneinfo)sh",
     R"sh(Node 0, zone      DMA
)sh",
     0},
    {R"sh(grep -A1 zone /proc/zoneinfo)sh",
     R"sh(Node 0, zone      DMA
  per-node stats
--
Node 0, zone    DMA32
  pages free     400000
--
Node 0, zone   Normal
  pages free     0
--
Node 0, zone  Movable
  pages free     0
--
Node 0, zone   Device
  pages free     0
)sh",
     0},
    {R"sh(grep "" /proc/meminfo)sh",
     R"sh(MemTotal:        2024644 kB
MemFree:         1860380 kB
MemAvailable:    1870000 kB
Buffers:               0 kB
)sh",
     0},
    {R"sh(grep -s x /nonexist; echo $?)sh",
     R"sh(2
)sh",
     0},
    {R"sh(grep -F "[" /proc/meminfo; echo $?)sh",
     R"sh(1
)sh",
     0},
    {R"sh(grep "[" /nonexist)sh",
     R"sh(grep: /nonexist: No such file or directory
)sh",
     2},
    {R"sh(grep -e Mem -e "[" /proc/meminfo)sh",
     R"sh(grep: bad regex '['
)sh",
     2},
    {R"sh(grep -on 'e[a-z]' /proc/meminfo)sh",
     R"sh(1:em
2:em
2:ee
3:em
4:er
)sh",
     0},
    {R"sh(grep -ow 'kB' /proc/meminfo)sh",
     R"sh(kB
kB
kB
kB
)sh",
     0},
    {R"sh(grep -C1 Normal /proc/zoneinfo)sh",
     R"sh(        managed  500000
Node 0, zone   Normal
  pages free     0
)sh",
     0},
    {R"sh(grep -B1 -A1 -m2 spanned /proc/zoneinfo)sh",
     R"sh(        min      12
        spanned  4095
        present  3998
--
        min      1000
        spanned  1044480
        present  520000
)sh",
     0},
    {R"sh(grep -hc Mem /proc/meminfo /proc/zoneinfo)sh",
     R"sh(3
0
)sh",
     0},
    {R"sh(grep -iw 'node' /proc/zoneinfo)sh",
     R"sh(Node 0, zone      DMA
  per-node stats
Node 0, zone    DMA32
Node 0, zone   Normal
Node 0, zone  Movable
Node 0, zone   Device
)sh",
     0},
    {R"sh(grep -Fx 'MemTotal:        2024644 kB' /proc/meminfo)sh",
     R"sh(MemTotal:        2024644 kB
)sh",
     0},
    {R"sh(grep -Fw Mem /proc/meminfo; echo $?)sh",
     R"sh(1
)sh",
     0},
    {R"sh(grep -E '^(Mem|Buf)' /proc/meminfo)sh",
     R"sh(MemTotal:        2024644 kB
MemFree:         1860380 kB
MemAvailable:    1870000 kB
Buffers:               0 kB
)sh",
     0},
    {R"sh(grep '^Mem[A-Z]' /proc/meminfo)sh",
     R"sh(MemTotal:        2024644 kB
MemFree:         1860380 kB
MemAvailable:    1870000 kB
)sh",
     0},
    {R"sh(grep 'a\|b' /proc/meminfo)sh",
     R"sh(MemTotal:        2024644 kB
MemAvailable:    1870000 kB
)sh",
     0},
    {R"sh(grep -v -c Mem /proc/meminfo)sh",
     R"sh(1
)sh",
     0},
    {R"sh(grep -A1 -B1 free /proc/zoneinfo /proc/meminfo)sh",
     R"sh(/proc/zoneinfo-      nr_inactive_anon 0
/proc/zoneinfo:  pages free     3840
/proc/zoneinfo-        min      12
--
/proc/zoneinfo-Node 0, zone    DMA32
/proc/zoneinfo:  pages free     400000
/proc/zoneinfo-        min      1000
--
/proc/zoneinfo-Node 0, zone   Normal
/proc/zoneinfo:  pages free     0
/proc/zoneinfo-        min      0
--
/proc/zoneinfo-Node 0, zone  Movable
/proc/zoneinfo:  pages free     0
/proc/zoneinfo-        min      0
--
/proc/zoneinfo-Node 0, zone   Device
/proc/zoneinfo:  pages free     0
)sh",
     0},
    {R"sh(cat /proc/meminfo | grep Mem)sh",
     R"sh(MemTotal:        2024644 kB
MemFree:         1860380 kB
MemAvailable:    1870000 kB
)sh",
     0},
    {R"sh(cat /proc/meminfo | grep -H Mem)sh",
     R"sh((standard input):MemTotal:        2024644 kB
(standard input):MemFree:         1860380 kB
(standard input):MemAvailable:    1870000 kB
)sh",
     0},
    {R"sh(grep -r spanned /proc)sh",
     R"sh(/proc/zoneinfo:        spanned  4095
/proc/zoneinfo:        spanned  1044480
/proc/zoneinfo:        spanned  0
/proc/zoneinfo:        spanned  0
)sh",
     0},
    {R"sh(grep -rh spanned /proc)sh",
     R"sh(        spanned  4095
        spanned  1044480
        spanned  0
        spanned  0
)sh",
     0},
    {R"sh(grep . /sys/lines /sys/nonl /sys/empty)sh",
     R"sh(/sys/lines:b 2
/sys/lines:a 10
/sys/lines:c 1
/sys/lines:a 10
/sys/nonl:no newline
)sh",
     0},
    {R"sh(grep -c . /sys/nonl /sys/empty)sh",
     R"sh(/sys/nonl:1
/sys/empty:0
)sh",
     0},
    {R"sh(grep -w '' /sys/lines)sh",
     R"sh()sh",
     1},
    {R"sh(grep -x '' /sys/lines; echo $?)sh",
     R"sh(1
)sh",
     0},
    {R"sh(grep -e '' -v /sys/lines; echo $?)sh",
     R"sh(1
)sh",
     0},
};

// ls: error order, files then directories, 79-column layout on the console.
constexpr Case k_ls_cases[] = {
    {R"sh(ls /sys/devices/system/memory/memory32/node0)sh",
     R"sh(memory32
)sh",
     0},
    {R"sh(ls -d /sys/devices/system/memory/memory32/node0)sh",
     R"sh(/sys/devices/system/memory/memory32/node0
)sh",
     0},
    {R"sh(ls /sys/devices/system/memory/memory32/state /sys/devices/system/memory/memory33/state)sh",
     R"sh(/sys/devices/system/memory/memory32/state
/sys/devices/system/memory/memory33/state
)sh",
     0},
    {R"sh(ls /sys/devices/system/node /sys/devices/system/memory/memory32)sh",
     R"sh(/sys/devices/system/memory/memory32:
node0        phys_index   removable    state        valid_zones

/sys/devices/system/node:
node0  node1
)sh",
     0},
    {R"sh(ls -1 /sys/devices/system/node /sys/devices/system/memory/memory32)sh",
     R"sh(/sys/devices/system/memory/memory32:
node0
phys_index
removable
state
valid_zones

/sys/devices/system/node:
node0
node1
)sh",
     0},
    {R"sh(ls -a /sys/devices/system/node)sh",
     R"sh(.      ..     node0  node1
)sh",
     0},
    {R"sh(ls /sys/empty_dir_x /sys/devices/system/node)sh",
     R"sh(ls: /sys/empty_dir_x: No such file or directory
/sys/devices/system/node:
node0  node1
)sh",
     1},
    {R"sh(ls /sys/devices/system/node | cat)sh",
     R"sh(node0
node1
)sh",
     0},
    {R"sh(ls -x /sys/devices/system/memory)sh",
     R"sh(auto_online_blocks  block_size_bytes    memory0
memory1             memory100           memory2
memory32            memory33            memory34
memory35            memory36            memory37
memory38            memory39
)sh",
     0},
    {R"sh(ls -C /sys/devices/system/memory | cat)sh",
     R"sh(auto_online_blocks  memory2             memory36
block_size_bytes    memory32            memory37
memory0             memory33            memory38
memory1             memory34            memory39
memory100           memory35
)sh",
     0},
    {R"sh(ls /sys/devices/system/memory/memory3?/state)sh",
     R"sh(/sys/devices/system/memory/memory32/state
/sys/devices/system/memory/memory33/state
/sys/devices/system/memory/memory34/state
/sys/devices/system/memory/memory35/state
/sys/devices/system/memory/memory36/state
/sys/devices/system/memory/memory37/state
/sys/devices/system/memory/memory38/state
/sys/devices/system/memory/memory39/state
)sh",
     0},
    {R"sh(ls /sys/devices/system/memory/memory3*)sh",
     R"sh(/sys/devices/system/memory/memory32:
node0        phys_index   removable    state        valid_zones

/sys/devices/system/memory/memory33:
phys_index   removable    state        valid_zones

/sys/devices/system/memory/memory34:
phys_index   removable    state        valid_zones

/sys/devices/system/memory/memory35:
phys_index   removable    state        valid_zones

/sys/devices/system/memory/memory36:
phys_index   removable    state        valid_zones

/sys/devices/system/memory/memory37:
phys_index   removable    state        valid_zones

/sys/devices/system/memory/memory38:
phys_index   removable    state        valid_zones

/sys/devices/system/memory/memory39:
phys_index   removable    state        valid_zones
)sh",
     0},
    {R"sh(ls -r /sys/devices/system/memory)sh",
     R"sh(memory39            memory34            memory1
memory38            memory33            memory0
memory37            memory32            block_size_bytes
memory36            memory2             auto_online_blocks
memory35            memory100
)sh",
     0},
    {R"sh(ls -F /sys/devices/system/memory/memory32)sh",
     R"sh(node0@       phys_index   removable    state        valid_zones
)sh",
     0},
    {R"sh(ls -p /sys/devices/system)sh",
     R"sh(memory/ node/
)sh",
     0},
    {R"sh(ls -A /sys)sh",
     R"sh(bigmem     devices    empty      empty_dir  lines      nonl
)sh",
     0},
    {R"sh(ls /sys/empty_dir)sh",
     R"sh()sh",
     0},
    {R"sh(ls /sys/empty_dir /sys/lines)sh",
     R"sh(/sys/lines

/sys/empty_dir:
)sh",
     0},
    {R"sh(ls -R /sys/devices/system/node)sh",
     R"sh(/sys/devices/system/node:
node0  node1

/sys/devices/system/node/node0:
memory32

/sys/devices/system/node/node1:
)sh",
     0},
    {R"sh(ls -d /sys /x /sys/lines)sh",
     R"sh(ls: /x: No such file or directory
/sys        /sys/lines
)sh",
     1},
    {R"sh(ls -1 /sys/devices/system/memory)sh",
     R"sh(auto_online_blocks
block_size_bytes
memory0
memory1
memory100
memory2
memory32
memory33
memory34
memory35
memory36
memory37
memory38
memory39
)sh",
     0},
    {R"sh(ls -w 40 /sys/devices/system/memory)sh",
     R"sh(auto_online_blocks  memory33
block_size_bytes    memory34
memory0             memory35
memory1             memory36
memory100           memory37
memory2             memory38
memory32            memory39
)sh",
     0},
    {R"sh(ls /proc)sh",
     R"sh(meminfo   zoneinfo
)sh",
     0},
    {R"sh(ls -Z /sys)sh",
     R"sh(ls: invalid option -- 'Z'
BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.

Usage: ls [-1AaCxdLHRFplinshrSXvctu] [-w WIDTH] [FILE]...

List directory contents

	-1	One column output
	-a	Include names starting with .
	-A	Like -a, but exclude . and ..
	-x	List by lines
	-d	List directory names, not contents
	-L	Follow symlinks
	-H	Follow symlinks on command line
	-R	Recurse
	-p	Append / to directory names
	-F	Append indicator (one of */=@|) to names
	-l	Long format
	-i	List inode numbers
	-n	List numeric UIDs and GIDs instead of names
	-s	List allocated blocks
	-lc	List ctime
	-lu	List atime
	--full-time	List full date/time
	-h	Human readable sizes (1K 243M 2G)
	--group-directories-first
	-S	Sort by size
	-X	Sort by extension
	-v	Sort by version
	-t	Sort by mtime
	-tc	Sort by ctime
	-tu	Sort by atime
	-r	Reverse sort order
	-w N	Format N columns wide
	--color[={always,never,auto}]
)sh",
     1},
    {R"sh(ls /sys/devices/system/memory/memory3*/node0)sh",
     R"sh(memory32
)sh",
     0},
    {R"sh(cd /sys/devices/system/memory; ls memory32 ..; cd /)sh",
     R"sh(..:
memory  node

memory32:
node0        phys_index   removable    state        valid_zones
)sh",
     0},
    {R"sh(ls /sys/bigmem)sh",
     R"sh(auto_online_blocks  memory32            memory44
block_size_bytes    memory33            memory45
hard_offline_page   memory34            memory46
memory0             memory35            memory47
memory1             memory36            memory5
memory10            memory37            memory6
memory11            memory38            memory7
memory12            memory39            memory8
memory13            memory4             memory9
memory14            memory40            power
memory15            memory41            soft_offline_page
memory2             memory42            uevent
memory3             memory43
)sh",
     0},
    {R"sh(ls -x /sys/bigmem)sh",
     R"sh(auto_online_blocks  block_size_bytes    hard_offline_page
memory0             memory1             memory10
memory11            memory12            memory13
memory14            memory15            memory2
memory3             memory32            memory33
memory34            memory35            memory36
memory37            memory38            memory39
memory4             memory40            memory41
memory42            memory43            memory44
memory45            memory46            memory47
memory5             memory6             memory7
memory8             memory9             power
soft_offline_page   uevent
)sh",
     0},
    {R"sh(ls -d /sys/bigmem/memory1*)sh",
     R"sh(/sys/bigmem/memory1   /sys/bigmem/memory12  /sys/bigmem/memory15
/sys/bigmem/memory10  /sys/bigmem/memory13
/sys/bigmem/memory11  /sys/bigmem/memory14
)sh",
     0},
    {R"sh(ls /sys/bigmem/memory4? /sys/empty_dir)sh",
     R"sh(/sys/bigmem/memory40:

/sys/bigmem/memory41:

/sys/bigmem/memory42:

/sys/bigmem/memory43:

/sys/bigmem/memory44:

/sys/bigmem/memory45:

/sys/bigmem/memory46:

/sys/bigmem/memory47:

/sys/empty_dir:
)sh",
     0},
    {R"sh(ls /sys/bigmem | head -3)sh",
     R"sh(auto_online_blocks
block_size_bytes
hard_offline_page
)sh",
     0},
    {R"sh(ls -C /sys/bigmem/memory4*)sh",
     R"sh(/sys/bigmem/memory4:

/sys/bigmem/memory40:

/sys/bigmem/memory41:

/sys/bigmem/memory42:

/sys/bigmem/memory43:

/sys/bigmem/memory44:

/sys/bigmem/memory45:

/sys/bigmem/memory46:

/sys/bigmem/memory47:
)sh",
     0},
};

// cat, wc, head, tail, sort, uniq, seq, cut, tr, readlink, basename, dirname, tee.
constexpr Case k_text_cases[] = {
    {R"sh(cat /sys/devices/system/memory/block_size_bytes /x /sys/devices/system/memory/memory32/state)sh",
     R"sh(8000000
cat: can't open '/x': No such file or directory
online
)sh",
     1},
    {R"sh(cat /sys/devices/system/memory)sh",
     R"sh(cat: read error: Is a directory
)sh",
     1},
    {R"sh(cat /sys/lines/)sh",
     R"sh(cat: can't open '/sys/lines/': Not a directory
)sh",
     1},
    {R"sh(cat /sys/devices/system/memory/../memory/memory33/valid_zones)sh",
     R"sh(Normal Movable
)sh",
     0},
    {R"sh(cat -n /sys/lines)sh",
     R"sh(     1	b 2
     2	a 10
     3	c 1
     4	a 10
)sh",
     0},
    {R"sh(cat /sys/nonl /sys/lines)sh",
     R"sh(no newlineb 2
a 10
c 1
a 10
)sh",
     0},
    {R"sh(echo x | cat - /sys/nonl)sh",
     R"sh(x
no newline
)sh",
     0},
    {R"sh(wc /sys/lines)sh",
     R"sh(        4         8        18 /sys/lines
)sh",
     0},
    {R"sh(wc -l /sys/lines)sh",
     R"sh(4 /sys/lines
)sh",
     0},
    {R"sh(wc -l < /sys/lines)sh",
     R"sh(4
)sh",
     0},
    {R"sh(wc -c -l /sys/lines /sys/nonl)sh",
     R"sh(        4        18 /sys/lines
        0        10 /sys/nonl
        4        28 total
)sh",
     0},
    {R"sh(wc /sys/lines /sys/nonl /x)sh",
     R"sh(        4         8        18 /sys/lines
        0         2        10 /sys/nonl
wc: /x: No such file or directory
        4        10        28 total
)sh",
     1},
    {R"sh(wc -w /sys/nonl)sh",
     R"sh(2 /sys/nonl
)sh",
     0},
    {R"sh(wc -L /sys/lines)sh",
     R"sh(4 /sys/lines
)sh",
     0},
    {R"sh(wc /sys/devices)sh",
     R"sh(wc: /sys/devices: Is a directory
        0         0         0 /sys/devices
)sh",
     1},
    {R"sh(head -n 2 /sys/lines)sh",
     R"sh(b 2
a 10
)sh",
     0},
    {R"sh(head -2 /sys/lines)sh",
     R"sh(b 2
a 10
)sh",
     0},
    {R"sh(head -n2 /sys/lines /sys/nonl)sh",
     R"sh(==> /sys/lines <==
b 2
a 10

==> /sys/nonl <==
no newline
)sh",
     0},
    {R"sh(head -c 3 /sys/lines)sh",
     R"sh(b 2
)sh",
     0},
    {R"sh(head -n -1 /sys/lines)sh",
     R"sh(b 2
a 10
c 1
)sh",
     0},
    {R"sh(head /x /sys/lines)sh",
     R"sh(head: /x: No such file or directory

==> /sys/lines <==
b 2
a 10
c 1
a 10
)sh",
     1},
    {R"sh(head -n x /sys/lines)sh",
     R"sh(head: invalid number 'x'
)sh",
     1},
    {R"sh(head /sys/devices)sh",
     R"sh(head: /sys/devices: Input/output error
)sh",
     1},
    {R"sh(tail -n 1 /sys/lines)sh",
     R"sh(a 10
)sh",
     0},
    {R"sh(tail -1 /sys/lines)sh",
     R"sh(a 10
)sh",
     0},
    {R"sh(tail -n +2 /sys/lines)sh",
     R"sh(a 10
c 1
a 10
)sh",
     0},
    {R"sh(tail /sys/lines /sys/nonl)sh",
     R"sh(==> /sys/lines <==
b 2
a 10
c 1
a 10

==> /sys/nonl <==
no newline
)sh",
     0},
    {R"sh(tail -c 4 /sys/lines)sh",
     R"sh( 10
)sh",
     0},
    {R"sh(tail /x)sh",
     R"sh(tail: can't open '/x': No such file or directory
tail: no files
)sh",
     1},
    {R"sh(tail /x /sys/lines)sh",
     R"sh(tail: can't open '/x': No such file or directory
b 2
a 10
c 1
a 10
)sh",
     1},
    {R"sh(tail -n 0 /sys/lines)sh",
     R"sh()sh",
     0},
    {R"sh(sort /sys/lines)sh",
     R"sh(a 10
a 10
b 2
c 1
)sh",
     0},
    {R"sh(sort -n /sys/lines)sh",
     R"sh(a 10
a 10
b 2
c 1
)sh",
     0},
    {R"sh(sort -k2 -n /sys/lines)sh",
     R"sh(c 1
b 2
a 10
a 10
)sh",
     0},
    {R"sh(sort -r /sys/lines)sh",
     R"sh(c 1
b 2
a 10
a 10
)sh",
     0},
    {R"sh(sort -u /sys/lines)sh",
     R"sh(a 10
b 2
c 1
)sh",
     0},
    {R"sh(sort -t ' ' -k 2,2n /sys/lines)sh",
     R"sh(c 1
b 2
a 10
a 10
)sh",
     0},
    {R"sh(sort /x /sys/lines)sh",
     R"sh(sort: /x: No such file or directory
)sh",
     2},
    {R"sh(sort /sys/lines | uniq -c)sh",
     R"sh(      2 a 10
      1 b 2
      1 c 1
)sh",
     0},
    {R"sh(sort /sys/lines | uniq -d)sh",
     R"sh(a 10
)sh",
     0},
    {R"sh(sort /sys/lines | uniq -u)sh",
     R"sh(b 2
c 1
)sh",
     0},
    {R"sh(uniq /x)sh",
     R"sh(uniq: can't open '/x': No such file or directory
)sh",
     1},
    {R"sh(seq 3)sh",
     R"sh(1
2
3
)sh",
     0},
    {R"sh(seq 2 4)sh",
     R"sh(2
3
4
)sh",
     0},
    {R"sh(seq 1 2 7)sh",
     R"sh(1
3
5
7
)sh",
     0},
    {R"sh(seq 5 1)sh",
     R"sh()sh",
     0},
    {R"sh(seq -s , 3)sh",
     R"sh(1,2,3
)sh",
     0},
    {R"sh(seq x)sh",
     R"sh(BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.

Usage: seq [-w] [-s SEP] [FIRST [INC]] LAST

Print numbers from FIRST to LAST, in steps of INC.
FIRST, INC default to 1.

	-w	Pad to last with leading zeros
	-s SEP	String separator
)sh",
     1},
    {R"sh(seq 0.5 2)sh",
     R"sh(0.5
1.5
)sh",
     0},
    {R"sh(seq -w 8 10)sh",
     R"sh(08
09
10
)sh",
     0},
    {R"sh(seq 3 -1 1)sh",
     R"sh(3
2
1
)sh",
     0},
    {R"sh(cut -d ' ' -f 2 /sys/lines)sh",
     R"sh(2
10
1
10
)sh",
     0},
    {R"sh(cut -c 1-3 /sys/lines)sh",
     R"sh(b 2
a 1
c 1
a 1
)sh",
     0},
    {R"sh(cut /sys/lines)sh",
     R"sh(cut: expected a list of bytes, characters, or fields
)sh",
     1},
    {R"sh(cut -d' ' -f2- /sys/lines)sh",
     R"sh(2
10
1
10
)sh",
     0},
    {R"sh(cut -d ' ' -s -f1 /sys/nonl)sh",
     R"sh(no
)sh",
     0},
    {R"sh(echo abc | tr a-c A-C)sh",
     R"sh(ABC
)sh",
     0},
    {R"sh(echo abc | tr -d b)sh",
     R"sh(ac
)sh",
     0},
    {R"sh(echo 'a  b' | tr -s ' ')sh",
     R"sh(a b
)sh",
     0},
    {R"sh(echo abc | tr)sh",
     R"sh(BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.

Usage: tr [-cds] STRING1 [STRING2]

Translate, squeeze, or delete characters from stdin, writing to stdout

	-c	Take complement of STRING1
	-d	Delete input characters coded STRING1
	-s	Squeeze multiple output characters of STRING2 into one character
)sh",
     1},
    {R"sh(echo hello | tr '[:lower:]' '[:upper:]')sh",
     R"sh(HELLO
)sh",
     0},
    {R"sh(readlink /sys/devices/system/memory/memory32/node0)sh",
     R"sh(../../node/node0
)sh",
     0},
    {R"sh(readlink -f /sys/devices/system/memory/memory32/node0)sh",
     R"sh(/sys/devices/system/node/node0
)sh",
     0},
    {R"sh(readlink -f /sys/devices/system/node/node0/memory32/../state)sh",
     R"sh(/sys/devices/system/memory/state
)sh",
     0},
    {R"sh(readlink /sys/lines)sh",
     R"sh()sh",
     1},
    {R"sh(readlink)sh",
     R"sh(BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.

Usage: readlink [-fnv] FILE

Display the value of a symlink

	-f	Canonicalize by following all symlinks
	-n	Don't add newline
	-v	Verbose
)sh",
     1},
    {R"sh(basename /sys/devices/system/memory/memory32)sh",
     R"sh(memory32
)sh",
     0},
    {R"sh(basename /a/b.txt .txt)sh",
     R"sh(b
)sh",
     0},
    {R"sh(basename)sh",
     R"sh(BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.

Usage: basename FILE [SUFFIX] | -a FILE... | -s SUFFIX FILE...

Strip directory path and SUFFIX from FILE

	-a		All arguments are FILEs
	-s SUFFIX	Remove SUFFIX (implies -a)
)sh",
     1},
    {R"sh(dirname /sys/devices/system/memory/memory32)sh",
     R"sh(/sys/devices/system/memory
)sh",
     0},
    {R"sh(dirname memory32)sh",
     R"sh(.
)sh",
     0},
    {R"sh(dirname //a)sh",
     R"sh(//
)sh",
     0},
    {R"sh(echo online | tee /dev/null)sh",
     R"sh(online
)sh",
     0},
    {R"sh(echo x | tee /x/y)sh",
     R"sh(tee: /x/y: No such file or directory
x
)sh",
     1},
    {R"sh(sleep 0)sh",
     R"sh()sh",
     0},
    {R"sh(sleep x)sh",
     R"sh(sleep: invalid number 'x'
)sh",
     1},
    {R"sh(sync)sh",
     R"sh()sh",
     0},
};

// printf, echo, test/[, cd, pwd, export, set, shift, type.
constexpr Case k_builtin_cases[] = {
    {R"sh(printf "%s-%d-%x-%lx-%5s|%-5s|%05d\n" a 42 255 4294967296 r l 7)sh",
     R"sh(a-42-ff-100000000-    r|l    |00007
)sh",
     0},
    {R"sh(printf "%s\n" a b c)sh",
     R"sh(a
b
c
)sh",
     0},
    {R"sh(printf "%d\n" abc)sh",
     R"sh(sh: invalid number 'abc'
0
)sh",
     1},
    {R"sh(printf "%d %d\n" 1)sh",
     R"sh(1 sh: invalid number ''
0
)sh",
     1},
    {R"sh(printf "%x %u\n" -1 -1)sh",
     R"sh(ffffffffffffffff 18446744073709551615
)sh",
     0},
    {R"sh(printf "%ld\n" 99999999999999999999)sh",
     R"sh(sh: invalid number '99999999999999999999'
0
)sh",
     1},
    {R"sh(printf "%c%c|%%|%b\n" abc d 'a\tb')sh",
     R"sh(ad|%|a	b
)sh",
     0},
    {R"sh(printf '%q\n' x)sh",
     R"sh(sh: %q\n: invalid format
)sh",
     1},
    {R"sh(printf 'a\101\x41\n')sh",
     R"sh(aAA
)sh",
     0},
    {R"sh(printf 'x')sh",
     R"sh(x
)sh",
     0},
    {R"sh(printf)sh",
     R"sh(sh: usage: printf FORMAT [ARGUMENT...]
)sh",
     2},
    {R"sh(printf "%.3s|%10.2f|%e|%#x|%#o\n" abcdef 3.14159 2 255 8)sh",
     R"sh(abc|      3.14|2.000000e+00|0xff|010
)sh",
     0},
    {R"sh(printf "%*d|%-*s|\n" 5 42 4 ab)sh",
     R"sh(   42|ab  |
)sh",
     0},
    {R"sh(printf "%d\n" "'A")sh",
     R"sh(65
)sh",
     0},
    {R"sh(printf "a\cb\n")sh",
     R"sh(a
)sh",
     0},
    {R"sh(printf "%x\n" 4697620480)sh",
     R"sh(118000000
)sh",
     0},
    {R"sh(echo -e 'a\tb\nc\\d\x41\0101\c zzz')sh",
     R"sh(a	b
c\dAA
)sh",
     0},
    {R"sh(echo -n -e 'x\n')sh",
     R"sh(x
)sh",
     0},
    {R"sh(echo -- -n)sh",
     R"sh(-- -n
)sh",
     0},
    {R"sh(echo -nx foo)sh",
     R"sh(-nx foo
)sh",
     0},
    {R"sh(echo -E 'a\tb')sh",
     R"sh(a\tb
)sh",
     0},
    {R"sh(echo 'a\tb')sh",
     R"sh(a\tb
)sh",
     0},
    {R"sh(echo -e '\xZZ a\qb')sh",
     R"sh(\xZZ a\qb
)sh",
     0},
    {R"sh(test 1 -eq 1; echo $?)sh",
     R"sh(0
)sh",
     0},
    {R"sh(test 1 -eq x; echo $?)sh",
     R"sh(sh: x: bad number
2
)sh",
     0},
    {R"sh([ 1 -lt 2; echo $?)sh",
     R"sh(sh: missing ]
2
)sh",
     0},
    {R"sh([ -f /sys/lines ] && echo file)sh",
     R"sh(file
)sh",
     0},
    {R"sh([ -d /sys ] && echo dir)sh",
     R"sh(dir
)sh",
     0},
    {R"sh([ -e /nope ] || echo missing)sh",
     R"sh(missing
)sh",
     0},
    {R"sh([ -L /sys/devices/system/memory/memory32/node0 ] && echo link)sh",
     R"sh(link
)sh",
     0},
    {R"sh([ abc = abc -a x != y ] && echo eq)sh",
     R"sh(eq
)sh",
     0},
    {R"sh([ -z "" -o -n "" ] && echo z)sh",
     R"sh(z
)sh",
     0},
    {R"sh([ ] || echo empty)sh",
     R"sh(empty
)sh",
     0},
    {R"sh([ ! -e /nope ] && echo notexist)sh",
     R"sh(notexist
)sh",
     0},
    {R"sh([ 1 = ])sh",
     R"sh(sh: =: argument expected
)sh",
     2},
    {R"sh([ 01 -eq 1 ] && echo numeq)sh",
     R"sh(numeq
)sh",
     0},
    {R"sh(test 99999999999999999999 -gt 1)sh",
     R"sh(sh: 99999999999999999999: out of range
)sh",
     2},
    {R"sh(test 3 -lt 5 6)sh",
     R"sh(sh: 6: unknown operand
)sh",
     2},
    {R"sh(test '(' -e /sys ')')sh",
     R"sh(sh: closing paren expected
)sh",
     2},
    {R"sh([[ abc == a* ]] && echo glob)sh",
     R"sh(glob
)sh",
     0},
    {R"sh(cd /sys/devices/system/memory/memory32/node0; pwd)sh",
     R"sh(/sys/devices/system/memory/memory32/node0
)sh",
     0},
    {R"sh(cd ..; pwd)sh",
     R"sh(/sys/devices/system/memory/memory32
)sh",
     0},
    {R"sh(pwd -P)sh",
     R"sh(/sys/devices/system/memory/memory32
)sh",
     0},
    {R"sh(cd; pwd)sh",
     R"sh(/
)sh",
     0},
    {R"sh(cd /sys/devices/system/memory; ls -d memory3?; cd ../node; pwd)sh",
     R"sh(memory32  memory34  memory36  memory38
memory33  memory35  memory37  memory39
/sys/devices/system/node
)sh",
     0},
    {R"sh(cd -)sh",
     R"sh(/sys/devices/system/memory
)sh",
     0},
    {R"sh(cd /sys/devices//system/./memory/; pwd)sh",
     R"sh(/sys/devices/system/memory
)sh",
     0},
    {R"sh(cd /sys/lines)sh",
     R"sh(sh: cd: can't cd to /sys/lines: Not a directory
)sh",
     2},
    {R"sh(cd /x)sh",
     R"sh(sh: cd: can't cd to /x: No such file or directory
)sh",
     2},
    {R"sh(cd /)sh",
     R"sh()sh",
     0},
    {R"sh(export A=1 B; echo $A)sh",
     R"sh(1
)sh",
     0},
    {R"sh(unset A; echo "[$A]")sh",
     R"sh([]
)sh",
     0},
    {R"sh(set -- a b; echo $1 $# "$@"; shift; echo $1 $#)sh",
     R"sh(a 2 a b
b 1
)sh",
     0},
    {R"sh(echo $0)sh",
     R"sh(sh
)sh",
     0},
    {R"sh(type cd echo cat foo)sh",
     R"sh(cd is a shell builtin
echo is a shell builtin
cat is cat
foo: not found
)sh",
     127},
};

// read, local, readonly, subshell exits, loops, eval, command.
constexpr Case k_shell_misc_cases[] = {
    {R"sh(while read a b; do echo "[$a|$b]"; done < /sys/lines)sh",
     R"sh([b|2]
[a|10]
[c|1]
[a|10]
)sh",
     0},
    {R"sh(cat /sys/lines | while read l; do echo "<$l>"; done)sh",
     R"sh(<b 2>
<a 10>
<c 1>
<a 10>
)sh",
     0},
    {R"sh(read x < /sys/nonl; echo "$x $?")sh",
     R"sh(no newline 1
)sh",
     0},
    {R"sh(read x < /sys/empty; echo "[$x] $?")sh",
     R"sh([] 1
)sh",
     0},
    {R"sh(echo 'a\b c' | { read -r x y; echo "$x|$y"; })sh",
     R"sh(a\b|c
)sh",
     0},
    {R"sh(echo 'a\b c' | { read x y; echo "$x|$y"; })sh",
     R"sh(ab|c
)sh",
     0},
    {R"sh(read < /sys/lines; echo $REPLY)sh",
     R"sh(b 2
)sh",
     0},
    {R"sh(X=1; export X; export -p | grep X=)sh",
     R"sh(export X='1'
)sh",
     0},
    {R"sh(export Q="it's"; export -p | grep Q=)sh",
     R"sh(export Q='it'"'"'s'
)sh",
     0},
    {R"sh((exit 4); echo $?)sh",
     R"sh(4
)sh",
     0},
    {R"sh(echo $(exit 5) $?)sh",
     R"sh(0
)sh",
     0},
    {R"sh(sh -c 'exit 6'; echo $?)sh",
     R"sh(6
)sh",
     0},
    {R"sh(f() { shift; echo $#; }; f a b c)sh",
     R"sh(2
)sh",
     0},
    {R"sh(set -- x y z; shift 2; echo $1)sh",
     R"sh(z
)sh",
     0},
    {R"sh(shift 5)sh",
     R"sh()sh",
     1},
    {R"sh(set -- a; shift 2; echo after)sh",
     R"sh(after
)sh",
     0},
    {R"sh(echo ${#X} ${#@})sh",
     R"sh(1 1
)sh",
     0},
    {R"sh(unset X; echo ${X-unset})sh",
     R"sh(unset
)sh",
     0},
    {R"sh(for i in 1 2 3; do echo $i; break; done)sh",
     R"sh(1
)sh",
     0},
    {R"sh(break 0)sh",
     R"sh(sh: break: Illegal number: 0
)sh",
     2},
    {R"sh(echo "a" | tee /dev/null /dev/null)sh",
     R"sh(a
)sh",
     0},
    {R"sh(command echo hi)sh",
     R"sh(hi
)sh",
     0},
    {R"sh(command foo)sh",
     R"sh(sh: foo: not found
)sh",
     127},
    {R"sh(type while)sh",
     R"sh(while is a shell keyword
)sh",
     0},
    {R"sh(. /sys/empty; echo $?)sh",
     R"sh(0
)sh",
     0},
    {R"sh(eval echo \$HOME)sh",
     R"sh(/
)sh",
     0},
    {R"sh(type while)sh",
     R"sh(while is a shell keyword
)sh",
     0},
    {R"sh(. /sys/empty; echo $?)sh",
     R"sh(0
)sh",
     0},
    {R"sh(eval echo \$HOME)sh",
     R"sh(/
)sh",
     0},
    {R"sh(break 0)sh",
     R"sh(sh: break: Illegal number: 0
)sh",
     2},
    {R"sh(local x=1)sh",
     R"sh(sh: local: not in a function
)sh",
     2},
    {R"sh(f() { local x=2; echo $x; }; f)sh",
     R"sh(2
)sh",
     0},
    {R"sh(readonly Y=1; Y=2)sh",
     R"sh(sh: Y: is read only
)sh",
     2},
    {R"sh(trap "" INT)sh",
     R"sh()sh",
     0},
    {R"sh(umask)sh",
     R"sh(0022
)sh",
     0},
    {R"sh(echo ${#@} ${#*})sh",
     R"sh(1 1
)sh",
     0},
    {R"sh(set -- a b; echo ${#@})sh",
     R"sh(3
)sh",
     0},
    {R"sh(echo -e -E 'a\tb')sh",
     R"sh(a	b
)sh",
     0},
    {R"sh(echo -eE 'a\tb')sh",
     R"sh(a	b
)sh",
     0},
    {R"sh(echo -Ee 'a\tb')sh",
     R"sh(a	b
)sh",
     0},
    {R"sh(x=0; f() { local x=1; echo $x; local x; echo "[$x]"; }; f; echo $x)sh",
     R"sh(1
[1]
0
)sh",
     0},
    {R"sh(g() { local y=5; }; g; echo "[${y-unset}]")sh",
     R"sh([unset]
)sh",
     0},
    {R"sh(readonly R=1; unset R; echo $R)sh",
     R"sh(sh: unset: R: is read only
)sh",
     2},
    {R"sh(readonly | grep R=)sh",
     R"sh(readonly R='1'
)sh",
     0},
};

TEST(ShellRecorded, SyntaxErrors) { run_cases(k_syntax_cases); }
TEST(ShellRecorded, Expansion) { run_cases(k_expansion_cases); }
TEST(ShellRecorded, Redirection) { run_cases(k_redirection_cases); }
TEST(ShellRecorded, Grep) { run_cases(k_grep_cases); }
TEST(ShellRecorded, Ls) { run_cases(k_ls_cases); }
TEST(ShellRecorded, TextApplets) { run_cases(k_text_cases); }
TEST(ShellRecorded, Builtins) { run_cases(k_builtin_cases); }
TEST(ShellRecorded, ShellMisc) { run_cases(k_shell_misc_cases); }

// ---- sysfs behaviour ----

class ShellSysfs : public ::testing::Test {
protected:
    void SetUp() override
    {
        add_guest_tree(m_fs);
        m_fs.add_file(m_mem + "/soft_offline_page", "", FakeVfs::Access::WriteOnly);
        // state_store(): "online_movable" on an online block is -EINVAL; the
        // first "offline" works, memory39 is busy.
        m_fs.set_write_hook(m_mem + "/memory34/state", [this](std::string_view data) -> KResult<void> {
            std::string& state = m_state34;
            std::string want(data.substr(0, data.find('\n')));
            if (want == "offline" && state == "online") {
                state = "offline";
                m_fs.set_content(m_mem + "/memory34/state", "offline\n");
                return {};
            }
            if ((want == "online" || want == "online_movable") && state == "offline") {
                state = "online";
                m_fs.set_content(m_mem + "/memory34/state", "online\n");
                return {};
            }
            return kerr(EINVAL);
        });
        m_fs.set_write_hook(m_mem + "/memory39/state",
                            [](std::string_view) -> KResult<void> { return kerr(EBUSY, "unmovable page"); });
    }

    std::string run(std::string_view line) { return m_sh.run(line); }
    int status() const { return m_sh.last_status(); }

    const std::string m_mem = "/sys/devices/system/memory";
    FakeVfs m_fs;
    GuestShell m_sh{m_fs};
    std::string m_state34 = "online";
};

TEST_F(ShellSysfs, RefusedStoreIsAWriteErrorOfTheEchoBuiltin)
{
    EXPECT_EQ(run("echo online_movable > /sys/devices/system/memory/memory34/state"),
              "sh: write error: Invalid argument\n");
    EXPECT_EQ(status(), 1);
    EXPECT_EQ(run("echo offline > /sys/devices/system/memory/memory39/state"),
              "sh: write error: Device or resource busy\n");
    EXPECT_EQ(status(), 1);
    EXPECT_EQ(run("echo offline > /sys/devices/system/memory/memory34/state"), "");
    EXPECT_EQ(status(), 0);
    EXPECT_EQ(run("cat /sys/devices/system/memory/memory34/state"), "offline\n");
    EXPECT_EQ(run("echo offline > /sys/devices/system/memory/memory34/state; echo $?"),
              "sh: write error: Invalid argument\n1\n");
}

TEST_F(ShellSysfs, EachAppletReportsAFailedStoreItsOwnWay)
{
    const std::string state = m_mem + "/memory39/state";
    EXPECT_EQ(run("printf offline > " + state), "");  // printf: status only
    EXPECT_EQ(status(), 1);
    EXPECT_EQ(run("echo offline | cat > " + state), "cat: write error: Device or resource busy\n");
    EXPECT_EQ(status(), 1);
    EXPECT_EQ(run("echo offline | tee " + state), "offline\ntee: " + state + ": I/O error\n");
    EXPECT_EQ(status(), 1);
    EXPECT_EQ(run("echo offline | tr a a > " + state), "tr: write error: Device or resource busy\n");
    EXPECT_EQ(run("grep . /sys/nonl > " + state), "");  // stdio's error goes unnoticed
    EXPECT_EQ(status(), 0);
}

TEST_F(ShellSysfs, KernfsCannotCreate)
{
    // No CONFIG_ARCH_MEMORY_PROBE: the seed's probe write meets EACCES.
    EXPECT_EQ(run("BLOCK_NR=36; echo $((0x100000000+$BLOCK_NR*(128<<20))) > /sys/devices/system/memory/probe"),
              "sh: can't create /sys/devices/system/memory/probe: Permission denied\n");
    EXPECT_EQ(status(), 1);
    EXPECT_EQ(run("echo 1 > /sys/devices/system/memory/block_size_bytes"),
              "sh: can't create /sys/devices/system/memory/block_size_bytes: Permission denied\n");
    EXPECT_EQ(run("echo 1 > /sys/devices/system/memory/memory99/state"),
              "sh: can't create /sys/devices/system/memory/memory99/state: nonexistent directory\n");
    EXPECT_TRUE(m_fs.writes().empty());
}

TEST_F(ShellSysfs, WriteOnlyAttributes)
{
    // Texts as busybox prints them for EACCES (recorded as an unprivileged user).
    const std::string f = m_mem + "/soft_offline_page";
    EXPECT_EQ(run("cat " + f), "cat: can't open '" + f + "': Permission denied\n");
    EXPECT_EQ(status(), 1);
    EXPECT_EQ(run("grep . " + f + " /sys/nonl"), "grep: " + f + ": Permission denied\n/sys/nonl:no newline\n");
    EXPECT_EQ(status(), 2);
    EXPECT_EQ(run("cat < " + f), "sh: can't open " + f + ": Permission denied\n");
    EXPECT_EQ(run("wc " + f), "wc: " + f + ": Permission denied\n");
    EXPECT_EQ(run("head " + f), "head: " + f + ": Permission denied\n");
    EXPECT_EQ(run("tail " + f), "tail: can't open '" + f + "': Permission denied\ntail: no files\n");
    EXPECT_EQ(run("sort " + f), "sort: " + f + ": Permission denied\n");
    EXPECT_EQ(status(), 2);
    EXPECT_EQ(run("ls " + f), f + "\n");
}

TEST_F(ShellSysfs, OneWritePerCommand)
{
    const std::string state = m_mem + "/memory33/state";
    run("echo online_movable > " + state);
    run("echo -n '' > " + state);  // opened (and truncated), never written
    run("printf 'a\\nb\\n' > " + state);
    run("for i in 1 2; do echo $i; done > " + state);
    run("cat /sys/nonl /sys/lines > " + state);
    run("echo gone > /dev/null");
    std::vector<std::pair<std::string, std::string>> expected = {
        {state, "online_movable\n"}, {state, "a\nb\n"}, {state, "1\n"},      {state, "2\n"},
        {state, "no newline"},       {state, "b 2\na 10\nc 1\na 10\n"},
    };
    EXPECT_EQ(m_fs.writes(), expected);
    EXPECT_EQ(m_fs.open_writes(), 6);  // one open per redirection, the loop's too
}

TEST_F(ShellSysfs, SeedTranscript)
{
    EXPECT_EQ(run("grep . /sys/devices/system/memory/memory3[2-5]/valid_zones 2>/dev/null"),
              "/sys/devices/system/memory/memory32/valid_zones:Normal Movable\n"
              "/sys/devices/system/memory/memory33/valid_zones:Normal Movable\n"
              "/sys/devices/system/memory/memory34/valid_zones:Normal Movable\n"
              "/sys/devices/system/memory/memory35/valid_zones:Normal Movable\n");
    EXPECT_EQ(run("echo offline > /sys/devices/system/memory/memory34/state"), "");
    EXPECT_EQ(run("grep -h . /sys/devices/system/memory/memory3?/state | sort | uniq -c"),
              "      1 offline\n      7 online\n");
    EXPECT_EQ(run("for i in $(seq 2); do sh $i; done"),
              "sh: can't open '1': No such file or directory\n"
              "sh: can't open '2': No such file or directory\n");
    EXPECT_EQ(run("grep MemTotal /proc/meminfo"), "MemTotal:        2024644 kB\n");
    EXPECT_EQ(run("grep -A6 \"Movable\\|Normal\" /proc/zoneinfo | grep -c spanned"), "2\n");
}

// ---- what one line cannot show busybox ----

TEST(ShellInput, UnterminatedConstructsReadAsEndOfInput)
{
    // Interactive ash would prompt "> " for more; a one-line command has no more.
    FakeVfs fs;
    GuestShell sh(fs);
    EXPECT_EQ(sh.run("echo \"abc"), "sh: syntax error: unterminated quoted string\n");
    EXPECT_EQ(sh.last_status(), 2);
    EXPECT_EQ(sh.run("echo 'abc"), "sh: syntax error: unterminated quoted string\n");
    EXPECT_EQ(sh.run("echo `abc"), "sh: syntax error: EOF in backquote substitution\n");
    EXPECT_EQ(sh.run("echo $((1+"), "sh: syntax error: missing '))'\n");
    EXPECT_EQ(sh.run("echo $(echo a"), "sh: syntax error: unexpected end of file (expecting \")\")\n");
    EXPECT_EQ(sh.run("echo ${a"), "sh: syntax error: missing '}'\n");
    EXPECT_EQ(sh.run("for i in 1 2; do echo $i"),
              "sh: syntax error: unexpected end of file (expecting \"done\")\n");
    EXPECT_EQ(sh.run("if true; then echo y"), "sh: syntax error: unexpected end of file (expecting \"fi\")\n");
    EXPECT_EQ(sh.run("echo a |"), "sh: syntax error: unexpected end of file\n");
    EXPECT_EQ(sh.run("echo a &&"), "sh: syntax error: unexpected end of file\n");
}

TEST(ShellInput, NeedsMoreInputWhereAshShowsPs2)
{
    for (std::string_view text : {"for i in 1 2\n", "for i in 1 2; do\n", "for i in 1 2\ndo echo $i\n",
                                  "if true; then\n", "if true\nthen echo y\nelse\n", "while true\n",
                                  "echo \"abc\n", "echo 'abc\n", "echo a |\n", "echo a &&\n", "echo a \\\n",
                                  "f() {\n", "case x in\n", "echo `abc\n", "echo $(echo a\n"})
        EXPECT_TRUE(needs_more_input(text)) << text;
    for (std::string_view text : {"echo a\n", "for i in 1 2\ndo echo $i\ndone\n", "if true; then echo y; fi\n",
                                  "echo a >\n", "done\n", "fi\n", "echo 'a\nb'\n", "echo a \\\\\n", "\n",
                                  "echo )\n"})
        EXPECT_FALSE(needs_more_input(text)) << text;
}

TEST(ShellInput, CompletesPathsOfTheGuestTree)
{
    FakeVfs fs;
    add_guest_tree(fs);
    GuestShell sh(fs);
    EXPECT_EQ(sh.complete_path("/sys/devices/system/memory/block_s"),
              std::vector<std::string>{"/sys/devices/system/memory/block_size_bytes"});
    EXPECT_EQ(sh.complete_path("/sys/devices/system/memory/memory3"),
              (std::vector<std::string>{"/sys/devices/system/memory/memory32/", "/sys/devices/system/memory/memory33/",
                                        "/sys/devices/system/memory/memory34/", "/sys/devices/system/memory/memory35/",
                                        "/sys/devices/system/memory/memory36/", "/sys/devices/system/memory/memory37/",
                                        "/sys/devices/system/memory/memory38/", "/sys/devices/system/memory/memory39/"}));
    EXPECT_TRUE(sh.complete_path("/etc/pass").empty()) << "the host's files are not the guest's";
    EXPECT_TRUE(sh.complete_path("/nope/x").empty());
    sh.run("cd /sys/devices/system");
    EXPECT_EQ(sh.complete_path("memory/memory10"), std::vector<std::string>{"memory/memory100/"});
    EXPECT_EQ(sh.complete_path("../../de"), std::vector<std::string>{"../../devices/"});
    EXPECT_EQ(sh.complete_path("../../../de"), std::vector<std::string>{"../../../dev/"});
}

TEST(ShellInput, AnInterruptStopsTheLineBeforeItsNextCommand)
{
    FakeVfs fs;
    GuestShell sh(fs);
    std::atomic<bool> interrupt{true};
    sh.set_interrupt_flag(&interrupt);
    EXPECT_EQ(sh.run("while true; do echo x; done; echo after"), "");
    EXPECT_EQ(sh.last_status(), 130);
    interrupt = false;
    EXPECT_EQ(sh.run("echo still here"), "still here\n");
    sh.set_interrupt_flag(nullptr);
}

TEST(ShellInput, EmptyAndBlankLines)
{
    FakeVfs fs;
    GuestShell sh(fs);
    sh.run("false");
    EXPECT_EQ(sh.run(""), "");
    EXPECT_EQ(sh.last_status(), 1);  // an empty line leaves $? alone
    EXPECT_EQ(sh.run("   # a comment"), "");
    EXPECT_EQ(sh.run("echo a; echo b\necho c"), "a\nb\nc\n");
}

TEST(ShellInput, RunawayLoopsStop)
{
    FakeVfs fs;
    GuestShell sh(fs);
    EXPECT_EQ(sh.run("f() { f; }; f"),
              "sh: a limit of memplug: more than 1000 functions and subshells nested; the command line was stopped\n");
    EXPECT_EQ(sh.run("echo still here"), "still here\n");
    EXPECT_EQ(sh.run("g() { [ $1 -lt 900 ] && g $(($1 + 1)) || echo $1; }; g 0"), "900\n") << "deep, but under the limit";
}

// Loops and pipes a user writes run to their end; what has a limit says so.
TEST(ShellInput, LongLoopsAndBigPipesRunToTheirEnd)
{
    FakeVfs fs;
    GuestShell sh(fs);
    EXPECT_EQ(sh.run("i=0; while [ $i -lt 510000 ]; do i=$((i+1)); done; echo $i"), "510000\n")
        << "1.02 million commands: over the old limit of one million";
    EXPECT_EQ(sh.run("seq 3000000 | tail -1"), "3000000\n") << "21 MB through a pipe";
    EXPECT_EQ(sh.run("seq 3000000 | wc -c"), "22888896\n");
}

TEST(ShellInput, StateCarriesOver)
{
    FakeVfs fs;
    add_guest_tree(fs);
    GuestShell sh(fs);
    sh.run("cd /sys/devices/system/memory");
    sh.run("BLOCK=memory34");
    EXPECT_EQ(sh.run("cat $BLOCK/phys_index"), "00000022\n");
    sh.run("cat /nope");
    EXPECT_EQ(sh.last_status(), 1);
    EXPECT_EQ(sh.run("echo $?"), "1\n");
    EXPECT_EQ(sh.run("pwd"), "/sys/devices/system/memory\n");
}

TEST(ShellArith, BusyboxMathC)
{
    sh::ArithVars none;
    auto eval = [&](std::string_view e) { return sh::arith_eval(e, none); };
    EXPECT_EQ(eval("0x100000000+36*(128<<20)"), 0x100000000 + 36 * (int64_t{128} << 20));
    EXPECT_EQ(eval("1 ? 2 : 3"), 2);
    EXPECT_EQ(eval("-9223372036854775807 - 1"), INT64_MIN);
    EXPECT_EQ(eval("(-9223372036854775807-1) / -1"), INT64_MIN);  // no SIGFPE
    EXPECT_EQ(eval("2**62*4"), 0);
    EXPECT_EQ(eval("3**99999999999"), eval("3**99999999999"));  // no 1e11-step loop
    EXPECT_EQ(eval("1/0").error(), "divide by zero");
    EXPECT_EQ(eval("5 5").error(), "arithmetic syntax error");
    EXPECT_EQ(eval("(").error(), "arithmetic syntax error");
}

// ---- properties ----

// Lines built from the characters and words that stress the parser and the
// expander never crash the shell and always come back '\n'-terminated.
RC_GTEST_PROP(ShellProperty, AnyLineReturns, ())
{
    static const std::vector<std::string> k_pieces = {
        " ", "  ", "'", "\"", "\\", "$", "${", "}", "$(", "$((", "))", ")", "(", "`", "|", "||",
        "&&", "&", ";", ";;", "<", ">", ">>", "2>", "2>&1", ">&-", "#", "*", "?", "[", "]", "!",
        "~", "=", "-", "0x", "9", "99999999999999999999", "/", "..", "echo", "cat", "grep", "ls",
        "for", "in", "do", "done", "if", "then", "fi", "while", "case", "esac", "{", "}", "x",
        "X=1", "$X", "$?", "$@", "${X:-a}", "${#X}", "$((1/0))", "/sys", "/proc/meminfo",
        "/sys/devices/system/memory/memory3?", "/dev/null", "printf", "%d", "%s", "test",
        "-eq", "seq", "wc", "head", "-n", "sort", "tr", "cut", "-f", "sh", "-c", "\n", "\t",
        "-A", "-e", "-E", "a*", "[!0]", "read", "break", "f()", "exit",
    };
    std::vector<size_t> picks = *rc::gen::container<std::vector<size_t>>(
        rc::gen::inRange<size_t>(0, k_pieces.size()));
    std::string line;
    for (size_t i : picks)
        line += k_pieces[i];
    FakeVfs fs;
    add_guest_tree(fs);
    GuestShell sh(fs);
    std::string out = sh.run(line);
    RC_ASSERT(out.empty() || out.back() == '\n');
    RC_ASSERT(sh.last_status() >= 0);
    RC_ASSERT(sh.last_status() <= 255);
    // and the shell is still usable
    RC_ASSERT(sh.run("echo ok") == "ok\n");
}

}  // namespace
}  // namespace memplug::shell
