#!/usr/bin/env python3
"""memplug's command line as a user meets it: options after the subcommand, '-'
for standard input, --version, the exit statuses --help documents, check's
summary line, the escape of output lines that begin like a command, what
conformance and check say about transcripts without a real-kernel recording, and
report's '-', options and exit statuses.

usage: cli_test.py MEMPLUG SOURCE_DIR"""

import os
import subprocess
import sys
import tempfile

MEMPLUG, SOURCE = sys.argv[1], sys.argv[2]
EXAMPLE = os.path.join(SOURCE, "examples", "dimm-online-offline.txt")
UNRECORDED = os.path.join(SOURCE, "examples", "seed-000-virtio-mem-256g.txt")
CASES = os.path.join(SOURCE, "tests", "conformance", "cases")
failures = 0


def memplug(*args, stdin=None):
    return subprocess.run([MEMPLUG, *args], input=stdin, capture_output=True, text=True)


def check(name, condition, result=None):
    global failures
    if condition:
        print(f"ok: {name}")
        return
    failures += 1
    print(f"FAIL: {name}", file=sys.stderr)
    if result is not None:
        print(f"  status {result.returncode}\n  stdout: {result.stdout[-2000:]}\n  stderr: {result.stderr[-2000:]}",
              file=sys.stderr)


def last_line(text):
    return text.rstrip("\n").split("\n")[-1]


def main():
    tmp = tempfile.mkdtemp(prefix="memplug-cli-test-")
    example = open(EXAMPLE).read()

    r = memplug("--version")
    check("--version", r.returncode == 0 and r.stdout.startswith("memplug "), r)
    r = memplug("--help")
    check("--help documents every exit status",
          r.returncode == 0 and all(f"\n  {n}  " in r.stdout for n in (0, 1, 2)), r)

    r = memplug("run", "--check", EXAMPLE)
    check("options after the subcommand (run --check FILE)",
          r.returncode == 0 and r.stdout.split("\n", 3)[:3] == example.split("\n", 3)[:3], r)
    r = memplug("check", EXAMPLE, "--check")
    check("options after the file (check FILE --check)", r.returncode == 0, r)
    r = memplug("run", "--no-such-option", EXAMPLE)
    check("an unknown option is status 2", r.returncode == 2, r)
    r = memplug("run", os.path.join(tmp, "missing.txt"))
    check("a missing file is status 2", r.returncode == 2, r)
    r = memplug()
    check("no subcommand is status 2", r.returncode == 2, r)

    r = memplug("check", "-", stdin=example)
    check("'-' reads standard input", r.returncode == 0 and last_line(r.stdout) == "<stdin>: 10 commands, all agree", r)
    r = memplug("run", "-", stdin=example)
    check("run - prints the transcript", r.returncode == 0 and r.stdout.split("\n", 3)[:3] == example.split("\n", 3)[:3], r)

    differing = example.replace("memory33/state:online", "memory33/state:offline", 1)
    r = memplug("check", "-", stdin=differing)
    check("a difference is status 1, a diff with coverage marks, then the summary",
          r.returncode == 1 and "\n-=/sys/devices/system/memory/memory33/state:offline\n" in r.stderr
          and last_line(r.stderr) == "<stdin>: 1 of 10 commands differ", r)
    r = memplug("check", "-", stdin="stray output\n# true\n")
    check("an unparsable transcript is status 2 with file:line",
          r.returncode == 2 and "<stdin>:1: error: output line before any command" in r.stderr
          and last_line(r.stderr) == "<stdin>: not run", r)
    r = memplug("check", "-", stdin="# cat /proc/meminfo\n")
    check("a command that cannot run is status 2, and the summary says where it stopped",
          r.returncode == 2 and last_line(r.stderr) == "<stdin>: stopped at line 1 (0 of 1 command ran)", r)

    # Output lines that begin like a command round-trip through run and check.
    lookalikes = ("$ qemu-system-x86_64\n"
                  "# printf '# root\\n$ host\\n(qemu) info\\n// note\\n\\\\back\\n#\\n' > /f\n"
                  "# cat /f\n")
    r = memplug("run", "-", stdin=lookalikes)
    escaped = "\\# root\n\\$ host\n\\(qemu) info\n\\// note\n\\\\back\n\\#\n"
    check("run escapes output lines that begin like a command", r.returncode == 0 and r.stdout.endswith(
        "# cat /f\n" + escaped), r)
    again = memplug("check", "-", stdin=r.stdout)
    check("check reads run's escaped output back: all agree",
          again.returncode == 0 and last_line(again.stdout) == "<stdin>: 3 commands, all agree", again)

    r = memplug("check", UNRECORDED)
    check("check runs an example without a real-kernel recording and says so",
          r.returncode == 0 and "no real-kernel recording" in last_line(r.stdout) and "nothing compared" in r.stdout, r)
    r = memplug("check", EXAMPLE, UNRECORDED)
    check("several files end with a total",
          r.returncode == 0 and last_line(r.stdout).startswith("2 files: 1 agree, 0 differ"), r)

    txt = os.path.join(CASES, "auto-online-sysfs.txt")
    r = memplug("conformance", txt)
    check("conformance given a transcript says it wants the recording",
          r.returncode == 2 and "auto-online-sysfs.out" in r.stderr and "recordings of the real kernel" in r.stderr, r)
    r = memplug("conformance", txt[:-4] + ".out")
    check("conformance given the recording scores it", r.returncode == 0 and "score:" in r.stdout, r)

    # report: '-', options after the file, JSON, and status 2 where no report can be given.
    r = memplug("report", "plug", "-", "--step", "dimm:1G", "--json", stdin=example)
    check("report plug - --step --json: schema 1 and the step",
          r.returncode == 0 and '"schema": 1' in r.stdout and '"target": "dimm"' in r.stdout, r)
    r = memplug("report", "unplug", "-", stdin=example)
    check("report unplug - prints text", r.returncode == 0 and r.stdout.startswith("unplug: "), r)
    r = memplug("report", "nosuchkind", EXAMPLE)
    check("an unknown report kind is status 2", r.returncode == 2 and "unknown report" in r.stderr, r)
    r = memplug("report", "plug", EXAMPLE, "--step", "nosuchdevice:1G")
    check("a step naming no virtio-mem device is status 2", r.returncode == 2 and "nosuchdevice" in r.stderr, r)
    r = memplug("report", "plug", "-", stdin="# true\n")
    check("report on a transcript that starts no machine is status 2", r.returncode == 2, r)
    r = memplug("report", "plug", "-", stdin="# cat /proc/meminfo\n")
    check("report on a transcript that stops early is status 2, and no report",
          r.returncode == 2 and r.stdout == "", r)
    # report zones: options after the file, bad values status 2, --emit-jobs needs a file, --merge its results.
    r = memplug("report", "zones", EXAMPLE, "--plan", "dimm:1G", "--policy", "contig-zones,auto-movable", "--json")
    check("report zones --plan --policy --json: two combinations",
          r.returncode == 0 and '"report": "zones"' in r.stdout and r.stdout.count('"online_policy"') == 2, r)
    r = memplug("report", "zones", EXAMPLE, "--policy", "simple")
    check("an unknown online policy is status 2, naming the kernel's",
          r.returncode == 2 and "contig-zones or auto-movable" in r.stderr and r.stdout == "", r)
    r = memplug("report", "zones", "-", "--emit-jobs", stdin=example)
    check("--emit-jobs from standard input is status 2", r.returncode == 2 and "standard input" in r.stderr, r)
    r = memplug("report", "plug", "--merge", EXAMPLE)
    check("--merge of another kind is status 2", r.returncode == 2 and "report zones" in r.stderr, r)
    r = memplug("report", "zones", "--merge", EXAMPLE)
    check("--merge of a transcript is status 2", r.returncode == 2 and "not the JSON of a zones report" in r.stderr, r)

    # report config: the first `$` line of a file (the rest not run), or the words after '--'.
    r = memplug("report", "config", "-", stdin="$ qemu-system-x86_64 -m 2G,slots=2,maxmem=4G\n# cat /nosuchfile\n")
    check("report config - judges the first $ line only",
          r.returncode == 0 and r.stdout.startswith("config: a pc machine") and "Total online memory" in r.stdout, r)
    r = memplug("report", "config", "--json", "--", "-m", "2G,slots=4")
    check("report config -- ARGS: QEMU's refusal in its words",
          r.returncode == 0 and '"qemu_error": "qemu-system-x86_64: slots specified but no max-size"' in r.stdout, r)
    r = memplug("report", "config", "-", stdin="# true\n")
    check("report config of a file without a $ line is status 2", r.returncode == 2 and "no '$ qemu" in r.stderr, r)
    r = memplug("report", "unplug", "--", "-m", "2G")
    check("only report config takes a command line after --", r.returncode == 2, r)

    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
