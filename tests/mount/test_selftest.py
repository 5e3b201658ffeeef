"""The kernel's own memory hotplug selftest, tools/testing/selftests/memory-hotplug/
mem-on-off-test.sh from Debian's linux-source-6.1, unmodified, against the
mount in a private namespace: both halves, the notifier error injection
included. The script is taken from the tarball at test time, never kept here.

In the namespace the mount's trees cover /sys/devices/system/{memory,node}
and a debugfs mounted at /sys/kernel/debug (the script finds sysfs and debugfs
with `mount -t TYPE`). The script's `modprobe memory-notifier-error-inject`
has nothing to load: the model's injection directory is always there. Where
the host has /sbin/modprobe, /bin/true covers it in the namespace, so that the
test never asks the host's kernel to load the real module."""

import os
import subprocess
import tempfile

import mountlib
from mountlib import Mount, in_namespace

TARBALL = "/usr/src/linux-source-6.1.tar.xz"
MEMBER = "linux-source-6.1/tools/testing/selftests/memory-hotplug/mem-on-off-test.sh"


class Selftest(mountlib.unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        mountlib.require(os.path.exists(TARBALL), f"{TARBALL} (apt-get install linux-source-6.1)")
        for tool, package in [("bc", "bc"), ("awk", "mawk"), ("tar", "tar"), ("xz", "xz-utils")]:
            mountlib.require_tool(tool, package)
        cls.tmp = tempfile.TemporaryDirectory(prefix="memplug-selftest-")
        subprocess.run(["tar", "-xJf", TARBALL, "-C", cls.tmp.name, MEMBER], check=True)
        cls.script = os.path.join(cls.tmp.name, MEMBER)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_selftest(self, args=""):
        with Mount() as m:
            stub = "[ -e /sbin/modprobe ] && mount --bind /bin/true /sbin/modprobe\n"
            r = in_namespace(m, f"{stub}bash {self.script} {args}", debugfs=True)
            out = r.stdout + r.stderr
            self.assertEqual(r.returncode, 0, out)
            self.assertNotIn("skip", out)
            self.assertIn("Test with memory notifier error injection", out)
            self.assertNotIn("unexpected", out)
            self.assertNotIn("FAILED", out)
            # The script onlines everything again before it exits.
            self.assertEqual({b: s for b, s in m.states().items() if s != "online"}, {})
            return out

    def test_default(self):
        out = self.run_selftest()
        self.assertIn("offline->online memory32", out)

    def test_half_the_blocks(self):
        # -r 50: the injected errors meet many blocks, not 2% of them.
        out = self.run_selftest("-r 50")
        self.assertIn("trying to offline 10 out of 20 memory block(s)", out)


if __name__ == "__main__":
    mountlib.main()
