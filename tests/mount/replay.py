"""Replays a transcript recorded on the real guest against `memplug mount`: the
guest's shell lines run in a private mount namespace whose /sys and /proc are
the mount's, wholly (a write the model lacks must not reach this host's
kernel), under busybox's sh and applets (the recorder guest's) with this host's
util-linux lsmem and chmem, and no user names (the guest has no /etc/passwd);
each output must agree line for line.

    replay.py MEMPLUG CASE.out [--only lsmem,chmem]
    replay.py MEMPLUG TRANSCRIPT --against-builtin

With --against-builtin, the expected outputs are those memplug's built-in shell
prints (`memplug run TRANSCRIPT`), not the file's: the differential check of
that shell against busybox's over the same model.

Each `$` line starts a machine (a mount of its own): the `$` line with the
`(qemu)` and `(memplug)` lines before its first `#` line (`memplug mount --from`); a `(qemu)` line after that
goes through the mount's QMP socket (`human-monitor-command`), as a QMP script
drives QEMU; with --qmp-commands, as QMP's own commands (object-add, device_add,
device_del waiting for DEVICE_DELETED, qom-set). A `(memplug)` line after it cannot be replayed (exit 2). With
--only, just the guest commands that start with one of those words decide (the
others still run, for the state they leave). A command that runs dmesg is not
run at all: busybox's dmesg reads (and with -c clears) the log of this host's
kernel through syslog(2), which no mount redirects; its output counts as the
expected one. Exit 0 if all agree, 1 with a diff per differing command, 2 if the
case cannot be replayed."""

import argparse
import difflib
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import termios
import time

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


def host_root_shell(mount, bindir):
    """For the real tools (lsmem needs this host's libraries): this host's root
    with the mount bound over /sys and /proc. /proc comes last and mount(8) is
    told not to read it back (-n): a lookup in the model's /proc before the
    first command would instantiate its dentries earlier than the guest did."""
    binds = ["mount -n --bind /dev/null /etc/passwd", "mount -n --bind /dev/null /etc/group",
             f"mount -n --bind {mount.path('sys')} /sys", f"mount -n --bind {mount.path('proc')} /proc"]
    return ("set -e\n" + "\n".join(binds) + f"\nexport PATH={bindir}:/usr/bin:/usr/sbin:/bin:/sbin\ncd /\n"
            "exec busybox sh")


def guest_root_shell(mount, bindir):
    """For the built-in shell's differential: the guest's whole tree, its tmpfs
    root included (a file dd writes is the model's page cache), as the root of a
    chroot; busybox's applets bound over its /bin, and this host's memory
    devices over the mount's /dev nodes (a FUSE mount opens no device nodes)."""
    binds = [f"mount -n --bind {bindir} {mount.path('bin')}"]
    binds += [f"mount -n --bind /dev/{d} {mount.path('dev/' + d)}" for d in ("null", "zero", "urandom")]
    # Started as the guest's init starts it: its errors then begin "sh: ".
    return ("set -e\n" + "\n".join(binds) + "\nexport PATH=/bin:/sbin:/usr/bin:/usr/sbin\n"
            f"exec chroot {mount.dir} sh")


def busybox_bin():
    """A directory of busybox applets, as the recorder's initramfs has them: the
    static binary and relative links to it, so that they work in a chroot too."""
    mountlib.require_tool("busybox", "busybox-static")
    d = tempfile.mkdtemp(prefix="memplug-busybox-")
    busybox = shutil.which("busybox")
    shutil.copy(busybox, os.path.join(d, "busybox"))
    for applet in subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split():
        if applet != "busybox":
            os.symlink("busybox", os.path.join(d, applet))
    return d


class Console:
    """busybox's sh on a terminal, as the recorder's guest runs it on the serial
    console: one shell for the whole machine (so `$?`, variables and the current
    directory carry over, as there), no echo (busybox then reads plain lines),
    no prompts, stdout and stderr on the one terminal, "\n" as written. Each
    command is followed by the recorder's marker line, which keeps `$?`."""

    def __init__(self, script):
        self.master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.ONLCR
        attrs[3] &= ~(termios.ECHO | termios.ECHONL)
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        env = {"PS1": "", "PS2": "", "HOME": "/", "TERM": "dumb"}
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                     stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.pending = b""
        self.seq = 0
        self.run("__r() { return $1; }")

    def run(self, command, timeout=300):
        """The command's output lines."""
        self.seq += 1
        tag = f"memplug-replay:{self.seq}:".encode()
        os.write(self.master, command.encode() + b'\n__s=$?; echo "' + tag + b'"; __r $__s\n')
        deadline = time.monotonic() + timeout
        while tag + b"\n" not in self.pending:
            if time.monotonic() > deadline:
                raise SystemExit(f"replay: '{command}' did not finish in {timeout} s")
            ready, _, _ = select.select([self.master], [], [], 1)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # EIO: the shell has gone
                    data = b""
                if not data:
                    raise SystemExit(f"replay: the shell ended during '{command}' ({self.pending[-500:]!r})")
                self.pending += data
        out, self.pending = self.pending.split(tag + b"\n", 1)
        return out.decode(errors="replace").splitlines()

    def close(self):
        try:
            os.write(self.master, b"exit\n")
            self.proc.wait(timeout=30)
        finally:
            os.close(self.master)


def builtin_outputs(case):
    """The transcript's commands with the outputs of memplug's built-in shell."""
    r = subprocess.run([mountlib.MEMPLUG, "run", case], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{case}: memplug run failed ({r.returncode}): {r.stderr.strip()}")
    with tempfile.NamedTemporaryFile("w", suffix=".out") as f:
        f.write(r.stdout)
        f.flush()
        return parse(f.name)


def hmp_lines(qmp, command_line):
    """A monitor line through human-monitor-command: the lines HMP prints."""
    return qmp.hmp(command_line).splitlines()


def size_bytes(text):
    """QEMU's size suffixes (qemu_strtosz): K, M, G, T as powers of 1024."""
    unit = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(text[-1:].upper())
    return int(text[:-1]) * unit if unit else int(text)


SIZE_PROPERTIES = {"size", "requested-size", "block-size", "addr"}
INTEGER_PROPERTIES = {"node", "slot"}


def qmp_arguments(options):
    """HMP's `key=value,...` as a QMP client writes them: sizes and numbers as
    integers (QMP takes no size suffixes), the rest as strings."""
    args = {}
    for option in options.split(","):
        key, _, value = option.partition("=")
        args[key] = size_bytes(value) if key in SIZE_PROPERTIES else int(value) if key in INTEGER_PROPERTIES else value
    return args


def qmp_native(qmp, command_line):
    """A monitor line sent as a QMP script sends it: object-add, device_add,
    device_del (then waiting, as a client must, for DEVICE_DELETED) and qom-set
    as QMP's own commands; `info` through human-monitor-command. The lines HMP
    would print: nothing, or "Error: " and QMP's description."""
    verb, _, rest = command_line.partition(" ")
    if verb == "object_add":
        qom_type, _, options = rest.partition(",")
        reply = qmp.execute("object-add", **{"qom-type": qom_type}, **qmp_arguments(options))
    elif verb == "device_add":
        driver, _, options = rest.partition(",")
        reply = qmp.execute("device_add", driver=driver, **qmp_arguments(options))
    elif verb == "device_del":
        reply = qmp.execute("device_del", id=rest)
        if "return" in reply:
            qmp.wait_event("DEVICE_DELETED", device=rest)
    elif verb == "qom-set":
        path, prop, value = rest.split()
        value = size_bytes(value) if prop in SIZE_PROPERTIES else value
        reply = qmp.execute("qom-set", path=path, property=prop, value=value)
    elif verb == "info":
        return hmp_lines(qmp, command_line)
    else:
        raise NotReplayable(f"'(qemu) {command_line}': no QMP command for it in this replay")
    return [f"Error: {reply['error']['desc']}"] if "error" in reply else []


class NotReplayable(Exception):
    pass


# A guest command with a pipeline stage that runs dmesg (syslog(2), not the tree).
SYSLOG_COMMAND = re.compile(r"(^|[|;&]|\b(do|then|else))\s*(busybox\s+)?dmesg(\s|$)")


def replay(case, only, monitor=None):
    """Each `$` line starts a machine of its own: the segments replay in turn.
    Exit status 0 if every deciding output is the recorded one, 1 if not."""
    differing = 0
    for kind, command, expected, actual in replay_segments(case, parse(case), monitor=monitor):
        decides = not only or (kind == "#" and command.split()[0] in only)
        if actual != expected and decides:
            differing += 1
            print(f"{case}: output of '{kind} {command}' differs", file=sys.stderr)
            sys.stderr.writelines(difflib.unified_diff([l + "\n" for l in expected], [l + "\n" for l in actual],
                                                       "real guest", "memplug mount"))
    return 1 if differing else 0


def against_builtin(case):
    """The differential check: busybox's outputs over the mount, written as a
    transcript, checked by `memplug check` (the built-in shell's outputs, under
    the fidelity rules that decide against the real kernel). A `$` line QEMU
    refuses starts no machine; its segment is memplug's alone."""
    entries = builtin_outputs(case)
    with tempfile.NamedTemporaryFile("w", suffix=".out") as out:
        for kind, command, _, actual in replay_segments(case, entries, differential=True):
            out.write(f"{kind} {command}\n" + "".join(l + "\n" for l in actual))
        out.flush()
        r = subprocess.run([mountlib.MEMPLUG, "check", out.name], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{case}: busybox over the mount and memplug's shell differ", file=sys.stderr)
            sys.stderr.write((r.stdout + r.stderr).replace(out.name, case + " (busybox over the mount)"))
        return 1 if r.returncode else 0


def replay_segments(case, entries, differential=False, monitor=None):
    """(kind, command, expected, actual) of every entry, a mount per `$` segment."""
    starts = [i for i, e in enumerate(entries) if e[0] == "$"]
    if not starts or starts[0] != 0:
        raise NotReplayable(f"{case}: a replay needs one '$' line first")
    for b, e in zip(starts, starts[1:] + [len(entries)]):
        yield from replay_machine(case, entries[b:e], differential, monitor or hmp_lines)


def replay_machine(case, entries, differential, monitor):
    first_guest = next((i for i, e in enumerate(entries) if e[0] == "#"), len(entries))
    if any(e[0] == "$" for e in entries[1:first_guest]):
        raise NotReplayable(f"{case}: a replay needs one '$' line first")
    later = [e for e in entries[first_guest:] if e[0] not in ("#", "(qemu)")]
    if later:
        raise NotReplayable(f"{case}: '{later[0][0]} {later[0][1]}' after the first guest command cannot be "
                            "replayed against a mount")
    # The machine's own lines are memplug mount's input, not replayed.
    prefix_entries = [(k, c, out, out) for k, c, out in entries[:first_guest]]
    mountlib.require_namespace()
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as prefix:
        prefix.write("".join(f"{k} {c}\n" for k, c, _ in entries[:first_guest]))
        prefix.flush()
        try:
            # --check: the model's invariants after every write and every QMP command.
            m = Mount(prefix.name, options=["--check"], qmp=True)
        except AssertionError as e:
            if differential and "leaves no machine running" in str(e) and first_guest == len(entries):
                yield from prefix_entries
                return
            raise
        yield from prefix_entries
        bindir = busybox_bin()
        try:
            with m:
                console = Console((guest_root_shell if differential else host_root_shell)(m, bindir))
                qmp = mountlib.Qmp(m.qmp_socket)
                for kind, command, expected in entries[first_guest:]:
                    if kind == "#" and SYSLOG_COMMAND.search(command):
                        yield kind, command, expected, expected
                        continue
                    actual = monitor(qmp, command) if kind == "(qemu)" else console.run(command)
                    while actual and actual[-1] == "":
                        actual.pop()
                    yield kind, command, expected, actual
                qmp.close()
                console.close()
        finally:
            shutil.rmtree(bindir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("memplug")
    parser.add_argument("case")
    parser.add_argument("--only", default="", help="comma-separated command names that decide")
    parser.add_argument("--qmp-commands", action="store_true",
                        help="send (qemu) lines as QMP's own commands, not through human-monitor-command")
    parser.add_argument("--against-builtin", action="store_true",
                        help="expect what memplug's built-in shell prints, not the file's outputs")
    args = parser.parse_args()
    mountlib.MEMPLUG = os.path.abspath(args.memplug)
    try:
        status = against_builtin(args.case) if args.against_builtin else \
            replay(args.case, set(filter(None, args.only.split(","))), qmp_native if args.qmp_commands else None)
    except NotReplayable as e:
        print(e, file=sys.stderr)
        sys.exit(2)
    if status == 0:
        print(f"{args.case}: every command agrees")
    sys.exit(status)


if __name__ == "__main__":
    main()
