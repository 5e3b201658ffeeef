"""The host's util-linux lsmem and chmem against the mount: lsmem through
--sysroot and through a private namespace (the same output both ways), chmem
in the namespace. What lsmem prints is compared with real-guest recordings
elsewhere (the conformance cases); here: every option runs, the JSON parses and
counts the model's blocks, and chmem changes the blocks it says it changed."""

import json
import re

import mountlib
from mountlib import Mount, in_namespace

COLUMNS = "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"
LSMEM_ARGS = [[], ["-a"], ["-o", COLUMNS], ["-a", "-o", COLUMNS], ["--json"], ["-a", "--json", "-o", COLUMNS],
              ["-P"], ["-a", "-P", "-o", COLUMNS], ["--summary"], ["--summary=only"], ["-b"], ["-n", "-r"]]


def run(args, **kw):
    return mountlib.subprocess.run(args, capture_output=True, text=True, **kw)


class Lsmem(mountlib.unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        mountlib.require_tool("lsmem", "util-linux")
        cls.m = Mount()

    @classmethod
    def tearDownClass(cls):
        status, err = cls.m.stop()
        assert status == 0, f"memplug mount exited with {status}: {err}"

    def lsmem(self, args):
        r = run(["lsmem", "--sysroot", self.m.dir, *args])
        self.assertEqual((r.returncode, r.stderr), (0, ""), f"lsmem {' '.join(args)}")
        return r.stdout

    def test_every_option_runs(self):
        for args in LSMEM_ARGS:
            with self.subTest(args=args):
                self.assertTrue(self.lsmem(args))

    def test_json_counts_the_models_blocks(self):
        blocks = json.loads(self.lsmem(["-a", "--json", "-o", COLUMNS]))["memory"]
        self.assertEqual([int(b["block"]) for b in blocks], self.m.blocks())
        states = self.m.states()
        self.assertEqual({int(b["block"]): b["state"] for b in blocks}, states)

    def test_pairs_parse(self):
        for line in self.lsmem(["-a", "-P", "-o", COLUMNS]).splitlines():
            self.assertRegex(line, r'^(\w+="[^"]*" ?)+$')

    def test_namespace_agrees_with_sysroot(self):
        script = "".join(f"echo '=== {' '.join(a)}'; lsmem {' '.join(a)}\n" for a in LSMEM_ARGS)
        r = in_namespace(self.m, script)
        self.assertEqual(r.stderr, "")
        expected = "".join(f"=== {' '.join(a)}\n" + self.lsmem(a) for a in LSMEM_ARGS)
        self.assertEqual(r.stdout, expected)


class Chmem(mountlib.unittest.TestCase):
    def setUp(self):
        mountlib.require_tool("chmem", "util-linux")
        self.m = Mount()

    def tearDown(self):
        status, err = self.m.stop()
        self.assertEqual(status, 0, err)

    def chmem(self, *args):
        r = in_namespace(self.m, "chmem -v " + " ".join(args))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def online(self):
        return {b for b, s in self.m.states().items() if s == "online"}

    def test_size(self):
        before = self.online()
        out = self.chmem("-e", "256M")
        self.assertEqual(self.online() - before, {32, 33})
        self.assertRegex(out, r"Memory Block 32 \(0x0000000100000000-0x0000000107ffffff\) enabled")
        self.chmem("-d", "256M")
        self.assertEqual(len(before - self.online()), 0)
        self.assertEqual(len(self.online()), len(before))

    def test_range_and_blocks(self):
        self.chmem("-e", "0x0000000100000000-0x000000010fffffff")
        self.assertEqual(self.online() & {32, 33, 34, 35}, {32, 33})
        self.chmem("-b", "-e", "34-35")
        self.assertTrue({32, 33, 34, 35} <= self.online())
        self.chmem("-b", "-d", "33")
        self.assertEqual(self.online() & {32, 33, 34, 35}, {32, 34, 35})

    def test_zone(self):
        self.chmem("-b", "-e", "-z", "Movable", "32-33")
        for b in (32, 33):
            self.assertEqual(self.m.read(f"sys/devices/system/memory/memory{b}/valid_zones"), "Movable\n")
        self.chmem("-b", "-e", "-z", "Normal", "34")
        self.assertEqual(self.m.read("sys/devices/system/memory/memory34/valid_zones"), "Normal\n")

    def test_refusal_is_reported(self):
        # Boot memory with the kernel's own allocations: the write's EBUSY reaches chmem.
        r = in_namespace(self.m, "chmem -v -b -d 0")
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stdout + r.stderr, re.compile(r"Memory Block 0 .* disable failed"))
        self.assertEqual(self.m.states()[0], "online")


if __name__ == "__main__":
    mountlib.main()
