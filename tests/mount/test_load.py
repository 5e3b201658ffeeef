"""Eight clients at once, 10^4 operations each, on the state and online files
and /proc/zoneinfo (tests/mount/mount_load.cc): no request fails but with the
kernel's errno, no read is torn, and memplug, run with --check, finds the
model's invariants intact after every write and at the end."""

import os

import mountlib
from mountlib import Mount


class Load(mountlib.unittest.TestCase):
    def test_eight_clients(self):
        load = mountlib.LOAD
        mountlib.require(load and os.access(load, os.X_OK), "the mount_load binary (tests/mount/mount_load.cc)")
        m = Mount(os.path.join(mountlib.HERE, "guest-load.txt"), options=["--check"])
        try:
            r = mountlib.subprocess.run([load, m.dir, "8", "10000"], capture_output=True, text=True, timeout=1200)
            print(r.stdout, end="")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "")
        finally:
            status, err = m.stop()
        self.assertEqual(status, 0, err)
        self.assertNotIn("invariant", err)


if __name__ == "__main__":
    mountlib.main()
