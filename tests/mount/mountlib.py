"""What the mount tests share: a `memplug mount` of a transcript's guest in a
temporary directory, and commands run in a private mount namespace where the
mount's trees are bound over the host's /sys (so chmem and the kernel's
selftest, which have no --sysroot, see the model and nothing else).

A missing prerequisite (FUSE, unshare, a tool) fails the test with what to
install: a skipped test would count as passed."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
MEMPLUG = os.environ.get("MEMPLUG", "")
# The guest of most tests: q35, 2 GiB of boot memory, a 512 MiB DIMM (blocks 32-35, offline).
GUEST = os.path.join(HERE, "guest-dimm.txt")


def require(condition, what):
    if not condition:
        raise AssertionError("missing prerequisite: " + what)


def require_tool(name, package):
    require(shutil.which(name), f"{name} (apt-get install {package})")


def require_mount_prerequisites():
    require(MEMPLUG and os.access(MEMPLUG, os.X_OK), "the memplug binary (set MEMPLUG)")
    require(os.path.exists("/dev/fuse"), "/dev/fuse (FUSE: modprobe fuse; in a container --device /dev/fuse)")
    require(os.geteuid() == 0, "root (the tests bind mounts in a private namespace)")


def require_namespace():
    require_tool("unshare", "util-linux")
    r = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    require(r.returncode == 0, f"unshare -m (a private mount namespace): {r.stderr.strip()}")


class Mount:
    """`memplug mount DIR --from TRANSCRIPT`, ready when block_size_bytes exists."""

    def __init__(self, transcript=GUEST, options=(), qmp=False):
        require_mount_prerequisites()
        self.dir = tempfile.mkdtemp(prefix="memplug-mount-")
        # With qmp, the socket is DIR's sibling DIR.qmp; ready when it exists too.
        self.qmp_socket = self.dir + ".qmp" if qmp else None
        qmp_args = ["--qmp", self.qmp_socket] if qmp else []
        self.proc = subprocess.Popen([MEMPLUG, *options, "mount", self.dir, "--from", transcript, *qmp_args],
                                     stderr=subprocess.PIPE, text=True)
        ready = os.path.join(self.dir, "sys/devices/system/memory/block_size_bytes")
        deadline = time.monotonic() + 60
        while not os.path.exists(ready) or (qmp and not os.path.exists(self.qmp_socket)):
            if self.proc.poll() is not None:
                err = self.proc.stderr.read()
                os.rmdir(self.dir)
                raise AssertionError(f"memplug mount exited with {self.proc.returncode}: {err}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError("memplug mount: not ready after 60 s")
            time.sleep(0.05)

    def path(self, rel):
        return os.path.join(self.dir, rel.lstrip("/"))

    def read(self, rel):
        with open(self.path(rel)) as f:
            return f.read()

    def blocks(self):
        """The memory blocks' numbers, as the mount lists them."""
        names = os.listdir(self.path("sys/devices/system/memory"))
        return sorted(int(n[6:]) for n in names if re.fullmatch(r"memory\d+", n))

    def states(self):
        return {b: self.read(f"sys/devices/system/memory/memory{b}/state").strip() for b in self.blocks()}

    def stop(self):
        """SIGTERM, as a user's Ctrl-C: the mount must go away and memplug exit 0
        (non-zero if the model's invariants broke). Returns (status, stderr)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        mounted = os.path.ismount(self.dir)
        if mounted:
            subprocess.run(["fusermount3", "-u", self.dir])
        else:
            os.rmdir(self.dir)
        assert not mounted, "memplug left its mount behind after SIGTERM"
        return self.proc.returncode, err

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        status, err = self.stop()
        if exc_type is None:
            assert status == 0, f"memplug mount exited with {status}: {err}"


def in_namespace(mount, script, debugfs=False, timeout=600):
    """Runs a bash script in a private mount namespace in which the mount's
    memory and node trees cover /sys/devices/system/{memory,node} (and, with
    debugfs, its debugfs tree covers a debugfs mounted at /sys/kernel/debug, so
    that `mount -t debugfs` still names it). Returns the CompletedProcess."""
    require_namespace()
    binds = [f"mount --bind {mount.path('sys/devices/system/' + d)} /sys/devices/system/{d}" for d in ("memory", "node")]
    if debugfs:
        binds += ["{ mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug; }",
                  f"mount --bind {mount.path('sys/kernel/debug')} /sys/kernel/debug"]
    prelude = "set -e\n" + "\n".join(binds) + "\nset +e\n"
    return subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", prelude + script],
                          capture_output=True, text=True, timeout=timeout)


# The binaries CTest passes: memplug, then the load program.
LOAD = ""


def main():
    global MEMPLUG, LOAD
    binaries = []
    while len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        binaries.append(os.path.abspath(sys.argv.pop(1)))
    if binaries:
        MEMPLUG = binaries[0]
    if len(binaries) > 1:
        LOAD = binaries[1]
    unittest.main(verbosity=2)


class Qmp:
    """A QMP client (QEMU's protocol): the greeting, qmp_capabilities, then
    commands; events that arrive are kept in `events`."""

    def __init__(self, path):
        import json
        import socket
        self._json = json
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        # Bytes, one message a line ("\r\n" as QEMU ends them).
        self.file = self.sock.makefile("rwb")
        self.events = []
        self.greeting = self._receive()
        assert "QMP" in self.greeting, self.greeting
        assert self.execute("qmp_capabilities") == {"return": {}}

    def execute(self, command, **arguments):
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.file.write((self._json.dumps(msg) + "\n").encode())
        self.file.flush()
        while True:
            reply = self._receive()
            if "event" in reply:
                self.events.append(reply)
                continue
            return reply

    def wait_event(self, name, timeout=10, **data):
        """The first event NAME whose data has these values, kept or still to come."""
        def matches(e):
            return e["event"] == name and all(e.get("data", {}).get(k) == v for k, v in data.items())
        self.sock.settimeout(timeout)
        try:
            while not any(matches(e) for e in self.events):
                self.events.append(self._receive())
        except TimeoutError:
            raise AssertionError(f"QMP: no {name} {data} within {timeout} s (events: {self.events})")
        finally:
            self.sock.settimeout(None)
        return next(e for e in self.events if matches(e))

    def _receive(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("QMP: the server closed the connection")
        return self._json.loads(line)

    def hmp(self, command_line):
        """human-monitor-command: the text HMP prints."""
        reply = self.execute("human-monitor-command", **{"command-line": command_line})
        assert "return" in reply, reply
        return reply["return"]

    def close(self):
        self.file.close()
        self.sock.close()
