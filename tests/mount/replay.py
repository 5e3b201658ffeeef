"""Replays a transcript recorded on the real guest against `memplug mount`: the
guest's shell lines run in a private mount namespace whose /sys and /proc are
the mount's, wholly (a write the model lacks must not reach this host's
kernel), under busybox's sh and applets (the recorder guest's) with this host's
util-linux lsmem and chmem, and no user names (the guest has no /etc/passwd);
each output must agree line for line.

    replay.py MEMPLUG CASE.out [--only lsmem,chmem]

Each `$` line starts a machine (a mount of its own): the `$` line with the
`(qemu)` and `(memplug)` lines before its first `#` line (`memplug mount --from`); a `(qemu)` line after that
goes through the mount's QMP socket (`human-monitor-command`), as a QMP script
drives QEMU. A `(memplug)` line after it cannot be replayed (exit 2). With
--only, just the guest commands that start with one of those words decide (the
others still run, for the state they leave). Exit 0 if all agree, 1 with a diff
per differing command, 2 if the case cannot be replayed."""

import argparse
import difflib
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import termios

import mountlib
from mountlib import Mount



def parse(path):
    """[(kind, command, [expected lines])], kind one of '$', '(qemu)', '(memplug)', '#'."""
    entries = []
    for line in open(path).read().splitlines():
        if line.startswith("//"):
            continue
        for kind in ("$", "(qemu)", "(memplug)", "#"):
            if line.startswith(kind + " "):
                entries.append((kind, line[len(kind) + 1:], []))
                break
        else:
            if entries:
                # An output line that begins like a command carries a '\' escape.
                entries[-1][2].append(line[1:] if line.startswith("\\") else line)
    for _, _, out in entries:
        while out and out[-1] == "":
            out.pop()
    return entries


def namespace_prelude(mount, bindir):
    binds = [f"mount --bind {mount.path('sys')} /sys", f"mount --bind {mount.path('proc')} /proc",
             "mount --bind /dev/null /etc/passwd", "mount --bind /dev/null /etc/group"]
    return "set -e\n" + "\n".join(binds) + f"\nexport PATH={bindir}:/usr/bin:/usr/sbin:/bin:/sbin\ncd /\n"


def busybox_bin():
    """A directory of busybox applets, as the recorder's initramfs has them."""
    mountlib.require_tool("busybox", "busybox-static")
    d = tempfile.mkdtemp(prefix="memplug-busybox-")
    busybox = shutil.which("busybox")
    for applet in subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split():
        os.symlink(busybox, os.path.join(d, applet))
    return d


def run_on_console(argv):
    """The command's output as on the guest's serial console: a terminal (stdout
    line-buffered, so a tool's stdout and stderr interleave as it writes them)
    of 0 x 0 characters, as a serial line reports."""
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR  # "\n" as written
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    proc.wait(timeout=300)
    return b"".join(chunks).decode(errors="replace").splitlines()


def replay(case, only):
    """Each `$` line starts a machine of its own: the segments replay in turn."""
    entries = parse(case)
    starts = [i for i, e in enumerate(entries) if e[0] == "$"]
    if not starts or starts[0] != 0:
        print(f"{case}: a replay needs one '$' line first", file=sys.stderr)
        return 2
    statuses = [replay_machine(case, entries[b:e], only) for b, e in zip(starts, starts[1:] + [len(entries)])]
    return max(statuses)


def replay_machine(case, entries, only):
    first_guest = next((i for i, e in enumerate(entries) if e[0] == "#"), len(entries))
    if not entries or entries[0][0] != "$" or any(e[0] == "$" for e in entries[1:first_guest]):
        print(f"{case}: a replay needs one '$' line first", file=sys.stderr)
        return 2
    later = [e for e in entries[first_guest:] if e[0] not in ("#", "(qemu)")]
    if later:
        print(f"{case}: '{later[0][0]} {later[0][1]}' after the first guest command cannot be replayed against "
              "a mount", file=sys.stderr)
        return 2
    mountlib.require_namespace()
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as prefix:
        prefix.write("".join(f"{k} {c}\n" for k, c, _ in entries[:first_guest]))
        prefix.flush()
        bindir = busybox_bin()
        differing = 0
        try:
            with Mount(prefix.name, qmp=True) as m:
                prelude = namespace_prelude(m, bindir)
                qmp = mountlib.Qmp(m.qmp_socket)
                for kind, command, expected in entries[first_guest:]:
                    if kind == "(qemu)":
                        actual = qmp.hmp(command).splitlines()
                    else:
                        actual = run_on_console(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                                 prelude + 'exec busybox sh -c "$0" 2>&1', command])
                    while actual and actual[-1] == "":
                        actual.pop()
                    decides = not only or (kind == "#" and command.split()[0] in only)
                    if actual != expected and decides:
                        differing += 1
                        print(f"{case}: output of '{kind} {command}' differs", file=sys.stderr)
                        sys.stderr.writelines(difflib.unified_diff([l + "\n" for l in expected], [l + "\n" for l in actual],
                                                                   "real guest", "memplug mount"))
                qmp.close()
        finally:
            shutil.rmtree(bindir)
    return 1 if differing else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("memplug")
    parser.add_argument("case")
    parser.add_argument("--only", default="", help="comma-separated command names that decide")
    args = parser.parse_args()
    mountlib.MEMPLUG = os.path.abspath(args.memplug)
    status = replay(args.case, set(filter(None, args.only.split(","))))
    if status == 0:
        print(f"{args.case}: every command agrees")
    sys.exit(status)


if __name__ == "__main__":
    main()
