#!/usr/bin/env python3
"""memplug repl under a pseudo-terminal, as a user types at it.

usage: repl_test.py MEMPLUG

Each check types keys (Tab, Ctrl-C, Ctrl-D, arrows included) and waits for what
the terminal shows: the prompt, completions, output. Exits non-zero on the first
failure, with the screen so far."""

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

MEMPLUG = sys.argv[1]
MACHINE = "$ qemu-system-x86_64 -m 2G,slots=2,maxmem=8G -machine q35"
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\r|\x07")


class Repl:
    def __init__(self, state_home, args=()):
        env = dict(os.environ, XDG_STATE_HOME=state_home, TERM="xterm", INPUTRC="/dev/null")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(MEMPLUG, [MEMPLUG, "repl", *args], env)
        self.screen = b""

    def read_until(self, pattern, timeout=20):
        """The screen (escapes removed) once `pattern` shows, from where the last wait ended."""
        deadline = time.time() + timeout
        start = len(self.screen)
        while True:
            text = ANSI.sub(b"", self.screen[start:]).decode(errors="replace")
            if re.search(pattern, text):
                return text
            left = deadline - time.time()
            if left <= 0:
                fail(f"timed out waiting for {pattern!r}; the screen shows:\n{text}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    fail(f"memplug repl ended waiting for {pattern!r}; the screen shows:\n{text}")
                self.screen += chunk

    def type(self, keys):
        # Enter sends CR, as a terminal's does (in a search, readline ends on LF without accepting).
        os.write(self.fd, keys.replace("\n", "\r").encode())

    def wait(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                try:
                    while os.read(self.fd, 65536):
                        pass
                except OSError:
                    pass
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        fail("memplug repl did not end")


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def check(name, condition, detail=""):
    if not condition:
        fail(f"{name} {detail}")
    print(f"ok: {name}")


def main():
    state = tempfile.mkdtemp(prefix="memplug-repl-test-")
    try:
        session(state)
        history_persists(state)
        ends_at_ctrl_d(state)
        bad_machine(state)
    finally:
        shutil.rmtree(state)


def session(state):
    r = Repl(state)
    r.read_until(r"\$ $")
    r.type(MACHINE + "\n")
    r.read_until(r"# $")

    # Tab: the guest's tree, never the host's.
    r.type("cat /sys/devices/system/memory/block_s\t")
    r.read_until(r"block_size_bytes $")
    r.type("\n")
    check("Tab completes a guest path", "8000000" in r.read_until(r"8000000\n# $"))
    r.type("ls /sys/devices/system/memory/memory1\t\t")
    listing = [line for line in r.read_until(r"memory15/").split("\n") if "memory10/" in line]
    check("Tab Tab lists the guest's entries by name", listing and all("/sys/" not in line for line in listing),
          repr(listing))
    r.type("\x15")  # Ctrl-U: drop the line
    host_only = "/etc/passw"  # on the host, not in the guest
    r.type(f"cat {host_only}\t\n")
    out = r.read_until(r"No such file or directory\n# $")
    check("Tab leaves host paths alone", "/etc/passwd" not in out, out)

    # The monitor's commands after `(qemu) `.
    r.type("(qemu) device_a\t")
    r.read_until(r"device_add $")
    r.type("\x15(qemu) info memd\t\n")
    check("Tab completes monitor commands and info topics", "memory backend: pc.ram" in r.read_until(r"host nodes:.*\n\n# $"))

    # busybox's PS2 for `for ... do` and `if ... then`.
    r.type("for i in 1 2\n")
    r.read_until(r"\n> $")
    r.type("do echo x$i\n")
    r.read_until(r"\n> $")
    r.type("done\n")
    check("for ... do continues under PS2", "x1\nx2\n" in r.read_until(r"x2\n# $"))
    r.type("if true\nthen echo yes\nfi\n")
    check("if ... then continues under PS2", "yes" in r.read_until(r"yes\n# $"))

    # `//` is a comment.
    r.type("// a note to self\n")
    out = r.read_until(r"\n# $")
    check("// lines are comments", "not found" not in out and "error" not in out, out)

    # Ctrl-C at the prompt abandons the line, and an unfinished `for`.
    r.type("echo abandoned")
    r.read_until(r"echo abandoned$")
    r.type("\x03")
    r.read_until(r"\^C\n# $")
    r.type("for i in 1\n")
    r.read_until(r"\n> $")
    r.type("\x03")
    r.read_until(r"\^C\n# $")
    r.type("echo kept\n")
    r.read_until(r"kept\n# $")
    screen = ANSI.sub(b"", r.screen).decode(errors="replace")
    check("Ctrl-C abandons the line, never the session", "\nabandoned\n" not in screen, screen)

    # Ctrl-C during a command stops it; the model keeps what ran.
    r.type("while true; do :; done\n")
    time.sleep(1)
    r.type("\x03")
    r.read_until(r"# $", timeout=10)
    r.type("echo $?\n")
    check("Ctrl-C stops a running command (status 130)", "130" in r.read_until(r"\d+\n# $"))
    r.type("cat /sys/devices/system/memory/block_size_bytes\n")
    check("the session goes on after Ctrl-C", "8000000" in r.read_until(r"8000000\n# $"))

    r.type("exit\n")
    check("exit ends the session with status 0", r.wait() == 0)


def history_persists(state):
    history = os.path.join(state, "memplug", "history")
    check("history is saved in $XDG_STATE_HOME/memplug/history",
          os.path.exists(history) and "echo kept" in open(history).read())
    r = Repl(state)
    r.read_until(r"\$ $")
    r.type(MACHINE + "\n")
    r.read_until(r"# $")
    r.type("\x12echo kep")  # Ctrl-R: search the history backwards
    r.read_until(r"echo kept")
    r.type("\n")
    check("the history of the last session comes back", "kept" in r.read_until(r"kept\n# $"))
    r.type("exit\n")
    r.wait()


def ends_at_ctrl_d(state):
    r = Repl(state)
    r.read_until(r"\$ $")
    r.type("\x04")
    check("Ctrl-D ends the session with status 0", r.wait() == 0)


def bad_machine(state):
    r = Repl(state, ["--machine", "qemu-system-x86_64 -m 2G,slots=2,maxmem=1G"])
    out = r.read_until(r"started no machine")
    check("a bad --machine line exits non-zero", r.wait() == 2, out)
    piped = subprocess.run([MEMPLUG, "repl"], input=MACHINE + "\nfor i in a b\ndo echo $i\ndone\nexit\necho unreached\n",
                           capture_output=True, text=True, env=dict(os.environ, XDG_STATE_HOME=state))
    check("lines from a pipe run without prompts", piped.stdout == "a\nb\n" and piped.returncode == 0,
          repr(piped.stdout))


if __name__ == "__main__":
    main()
