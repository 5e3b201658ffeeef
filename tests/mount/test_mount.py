"""memplug mount: the tree looks as this machine's real sysfs and procfs do,
writes fail with the kernel's errno in write(2), the mount is private, and
SIGTERM unmounts it."""

import errno
import os
import stat
import subprocess

import mountlib
from mountlib import Mount


def shape(path):
    """What `ls -l` and stat(1) show of an entry, apart from names, owners and times."""
    st = os.lstat(path)
    out = {"type": stat.S_IFMT(st.st_mode), "mode": stat.S_IMODE(st.st_mode), "nlink_file": None,
           "size": st.st_size if not stat.S_ISDIR(st.st_mode) else None, "blksize": st.st_blksize}
    if not stat.S_ISDIR(st.st_mode):
        out["nlink_file"] = st.st_nlink
    if stat.S_ISLNK(st.st_mode):
        out["link"] = os.readlink(path)
    return out


class Tree(mountlib.unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = Mount()

    @classmethod
    def tearDownClass(cls):
        status, err = cls.m.stop()
        assert status == 0, f"memplug mount exited with {status}: {err}"

    def test_layout(self):
        for d in ["sys/devices/system/memory", "sys/devices/system/node", "sys/module/memory_hotplug/parameters",
                  "sys/module/virtio_mem/parameters", "sys/kernel/mm/hugepages",
                  "sys/kernel/debug/notifier-error-inject/memory"]:
            self.assertTrue(os.path.isdir(self.m.path(d)), d)
        for f in ["zoneinfo", "meminfo", "buddyinfo", "pagetypeinfo", "iomem"]:
            self.assertTrue(self.m.read("proc/" + f), f)
        # The initramfs's tmpfs root, as the recorder's guest has it.
        self.assertEqual(sorted(os.listdir(self.m.dir)),
                         ["bin", "dev", "etc", "lib", "proc", "root", "sbin", "sys", "tmp", "usr"])
        self.assertEqual(self.m.blocks(), list(range(16)) + list(range(32, 36)))

    def test_tmpfs_root_is_the_models_page_cache(self):
        def shmem_kib():
            line = next(l for l in self.m.read("proc/meminfo").splitlines() if l.startswith("Shmem:"))
            return int(line.split()[1])
        before = shmem_kib()
        path = self.m.path("tmp/file")
        with open(path, "wb") as f:
            f.write(b"x" * (1 << 20))
        with open(path, "ab") as f:  # O_APPEND writes at the end
            f.write(b"tail")
        self.assertEqual(os.stat(path).st_size, (1 << 20) + 4)
        with open(path, "rb") as f:
            f.seek(1 << 20)
            self.assertEqual(f.read(), b"tail")
        self.assertEqual(shmem_kib() - before, 1028)  # 257 pages of page cache
        os.truncate(path, 4096)
        self.assertEqual(shmem_kib() - before, 4)
        os.unlink(path)
        self.assertEqual(shmem_kib(), before)
        self.assertFalse(os.path.exists(path))
        st = os.stat(self.m.path("dev/null"))
        self.assertTrue(stat.S_ISCHR(st.st_mode))
        self.assertEqual((os.major(st.st_rdev), os.minor(st.st_rdev)), (1, 3))

    def compare_with_host(self, host_dir, mount_dir):
        """Every entry both have must look the same (type, mode, size, link text)."""
        self.assertTrue(os.path.isdir(host_dir), f"this host has no {host_dir} to compare the mount with")
        common = sorted(set(os.listdir(host_dir)) & set(os.listdir(mount_dir)))
        self.assertGreater(len(common), 3)
        for name in common:
            with self.subTest(name=name):
                self.assertEqual(shape(os.path.join(mount_dir, name)), shape(os.path.join(host_dir, name)))
        return common

    def test_looks_like_this_hosts_sysfs(self):
        mem = "/sys/devices/system/memory"
        self.compare_with_host(mem, self.m.path(mem))
        host_block = sorted(n for n in os.listdir(mem) if n.startswith("memory") and n[6:].isdigit())[0]
        common = self.compare_with_host(f"{mem}/{host_block}", self.m.path(f"{mem}/memory0"))
        self.assertIn("state", common)
        self.assertIn("subsystem", common)
        self.compare_with_host("/sys/devices/system/node/node0", self.m.path("sys/devices/system/node/node0"))
        self.compare_with_host("/sys/kernel/mm/hugepages/hugepages-2048kB",
                               self.m.path("sys/kernel/mm/hugepages/hugepages-2048kB"))

    def test_looks_like_this_hosts_procfs(self):
        # But for the size: the mount reports the text's length where procfs says 0
        # (docs/MOUNT.md), so that sendfile(2), which busybox's cat uses, reads it all.
        for f in ["zoneinfo", "meminfo", "buddyinfo", "pagetypeinfo", "iomem"]:
            with self.subTest(f=f):
                mine, host = shape(self.m.path("proc/" + f)), shape("/proc/" + f)
                self.assertEqual(host["size"], 0)
                self.assertEqual(mine.pop("size"), len(self.m.read("proc/" + f)))
                host.pop("size")
                self.assertEqual(mine, host)

    def test_sendfile_reads_a_proc_file_whole(self):
        mountlib.require_tool("busybox", "busybox-static")
        path = self.m.path("proc/zoneinfo")
        text = self.m.read("proc/zoneinfo")
        self.assertTrue(text)
        r = subprocess.run(["busybox", "cat", path], capture_output=True, text=True, check=True)
        self.assertEqual(r.stdout, text)

    def test_directory_link_counts_as_kernfs(self):
        # kernfs: 2 + subdirectories (memory0 has power/).
        mem = self.m.path("sys/devices/system/memory")
        subdirs = [n for n in os.listdir(mem) if os.path.isdir(os.path.join(mem, n)) and not os.path.islink(os.path.join(mem, n))]
        self.assertEqual(os.stat(mem).st_nlink, 2 + len(subdirs))
        self.assertEqual(os.stat(os.path.join(mem, "memory0")).st_nlink, 3)

    def test_symlinks_resolve_inside_the_mount(self):
        block = self.m.path("sys/devices/system/memory/memory32")
        self.assertEqual(os.readlink(block + "/node0"), "../../node/node0")
        self.assertTrue(os.path.isdir(block + "/node0"))
        self.assertTrue(os.path.isdir(block + "/subsystem/devices"))
        self.assertTrue(os.path.isdir(block + "/firmware_node"))
        self.assertIn("memory32", os.listdir(self.m.path("sys/devices/system/node/node0")))

    def write(self, rel, data):
        fd = os.open(self.m.path(rel), os.O_WRONLY | os.O_TRUNC)
        try:
            return os.write(fd, data)
        finally:
            os.close(fd)

    def test_write_errno_comes_from_write(self):
        state = "sys/devices/system/memory/memory33/state"
        with self.assertRaises(OSError) as e:
            self.write(state, b"bogus\n")
        self.assertEqual(e.exception.errno, errno.EINVAL)
        self.assertEqual(self.m.read(state), "offline\n")
        with self.assertRaises(OSError) as e:
            self.write(state, b"offline\n")  # already offline: state_store's EINVAL
        self.assertEqual(e.exception.errno, errno.EINVAL)
        self.assertEqual(self.write(state, b"online_movable\n"), 15)
        self.assertEqual(self.m.read(state), "online\n")
        self.assertEqual(self.m.read("sys/devices/system/memory/memory33/valid_zones"), "Movable\n")
        self.assertEqual(self.write("sys/devices/system/memory/memory33/online", b"0"), 1)
        self.assertEqual(self.m.read(state), "offline\n")

    def test_open_refusals(self):
        mem = self.m.path("sys/devices/system/memory")
        cases = [(lambda: os.open(mem + "/block_size_bytes", os.O_WRONLY), errno.EACCES),
                 (lambda: os.open(mem + "/soft_offline_page", os.O_RDONLY), errno.EACCES),
                 (lambda: os.open(mem + "/no_such_file", os.O_WRONLY | os.O_CREAT), errno.EACCES),
                 (lambda: os.mkdir(mem + "/memory99"), errno.EPERM),
                 (lambda: os.unlink(mem + "/uevent"), errno.EPERM),
                 (lambda: os.unlink(self.m.path("proc/meminfo")), errno.EPERM),
                 # The sysctl directories are 0555: may_delete refuses before procfs is asked.
                 (lambda: os.unlink(self.m.path("proc/sys/vm/nr_hugepages")), errno.EACCES),
                 (lambda: os.stat(mem + "/memory16"), errno.ENOENT)]
        for call, err in cases:
            with self.assertRaises(OSError) as e:
                call()
            self.assertEqual(e.exception.errno, err)
        # sysfs ignores a size change of an attribute, as `echo x > f` truncates first.
        os.truncate(mem + "/uevent", 0)

    def test_private(self):
        # Without allow_other only the mounting user gets in, root of another uid space included.
        with open("/proc/self/mounts") as f:
            opts = [l.split()[3] for l in f if l.split()[1] == self.m.dir][0]
        self.assertNotIn("allow_other", opts)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "stat", self.m.dir + "/sys"],
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Permission denied", r.stderr)


class Lifecycle(mountlib.unittest.TestCase):
    def test_sigint_unmounts(self):
        m = Mount()
        m.proc.send_signal(mountlib.signal.SIGINT)
        m.proc.communicate(timeout=60)
        self.assertEqual(m.proc.returncode, 0)
        self.assertFalse(os.path.ismount(m.dir))
        os.rmdir(m.dir)

    def test_errors_say_what_to_do(self):
        mountlib.require_mount_prerequisites()
        r = subprocess.run([mountlib.MEMPLUG, "mount", "/nonexistent/memplug", "--from", mountlib.GUEST],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("mkdir -p /nonexistent/memplug", r.stderr)
        r = subprocess.run([mountlib.MEMPLUG, "mount", "/tmp", "--", "-m", "banana"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("memplug mount:", r.stderr)


if __name__ == "__main__":
    mountlib.main()
