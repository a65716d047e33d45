"""libgkfs_intercept.so call by call: descriptors, offsets, attributes, directories, the
working directory and failure modes, driven from Python (os, ctypes) under LD_PRELOAD."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from test_preload import d, py, sh  # noqa: F401  (d is a fixture)


def test_descriptor_calls(fs, d):
    umask = os.umask(0)
    os.umask(umask)  # the subprocess inherits it
    got = py(fs, """
        import fcntl, json, os, sys
        d = sys.argv[1]
        path = f"{d}/f"
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o640)
        os.writev(fd, [b"abc", b"def", b"ghi"])
        out = {"pos": os.lseek(fd, 0, os.SEEK_CUR), "end": os.lseek(fd, 0, os.SEEK_END)}
        os.pwrite(fd, b"XY", 1)
        out["pread"] = os.pread(fd, 4, 0).decode()
        os.lseek(fd, 0, os.SEEK_SET)
        a, b = bytearray(2), bytearray(3)
        out["readv"] = os.readv(fd, [a, b])
        out["readv_data"] = (a + b).decode()
        out["preadv"] = os.preadv(fd, [bytearray(4)], 5)
        # A duplicate shares the offset, the original's flags and its file.
        dup = os.dup(fd)
        os.lseek(dup, 2, os.SEEK_SET)
        out["shared_pos"] = os.lseek(fd, 0, os.SEEK_CUR)
        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 100)
        out["dupfd_min"] = high >= 100
        os.dup2(fd, 50)
        os.write(50, b"Z")
        out["after_dup2"] = os.pread(fd, 9, 0).decode()
        out["getfl_rdwr"] = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDWR
        fcntl.fcntl(fd, fcntl.F_SETFL, os.O_APPEND)
        out["append_flag_shared"] = bool(fcntl.fcntl(dup, fcntl.F_GETFL) & os.O_APPEND)
        os.write(dup, b"!")
        out["appended"] = os.pread(fd, 20, 0).decode()
        out["cloexec"] = fcntl.fcntl(high, fcntl.F_GETFD)  # F_DUPFD clears FD_CLOEXEC
        fcntl.lockf(fd, fcntl.LOCK_EX)  # no locks in gkfs: always granted
        os.ftruncate(fd, 4)
        out["fstat_size"] = os.fstat(fd).st_size
        os.posix_fallocate(fd, 0, 100)
        out["fallocated"] = os.fstat(fd).st_size
        out["seek_data"] = os.lseek(fd, 10, os.SEEK_DATA)
        out["seek_hole"] = os.lseek(fd, 10, os.SEEK_HOLE)
        os.fsync(fd)
        os.fdatasync(fd)
        for x in (fd, dup, high, 50):
            os.close(x)
        out["mode"] = oct(os.stat(path).st_mode & 0o777)
        print(json.dumps(out))
    """, d)
    assert got == {
        "pos": 9, "end": 9, "pread": "aXYd", "readv": 5, "readv_data": "aXYde", "preadv": 4,
        "shared_pos": 2, "dupfd_min": True, "after_dup2": "aXZdefghi", "getfl_rdwr": True,
        "append_flag_shared": True, "appended": "aXZdefghi!", "cloexec": 0,
        "fstat_size": 4, "fallocated": 100, "seek_data": 10, "seek_hole": 100,
        "mode": oct(0o640 & ~umask),
    }


def test_copy_calls_across_the_mount_boundary(fs, d, tmp_path):
    local = tmp_path / "local"
    local.write_bytes(os.urandom(3 << 20))
    got = py(fs, """
        import json, os, sys
        d, local = sys.argv[1], sys.argv[2]
        src = os.open(local, os.O_RDONLY)
        dst = os.open(f"{d}/copy", os.O_CREAT | os.O_WRONLY)
        sent = 0
        while (n := os.sendfile(dst, src, sent, 1 << 20)) > 0:
            sent += n
        os.close(dst)
        a = os.open(f"{d}/copy", os.O_RDONLY)
        b = os.open(f"{d}/copy2", os.O_CREAT | os.O_WRONLY)
        copied = 0
        while (n := os.copy_file_range(a, b, 1 << 22)) > 0:
            copied += n
        print(json.dumps({"sent": sent, "copied": copied,
                          "same": open(local, "rb").read() == open(f"{d}/copy2", "rb").read()}))
    """, d, str(local))
    assert got == {"sent": 3 << 20, "copied": 3 << 20, "same": True}


def test_mmap_maps_a_copy(fs, d):
    got = py(fs, """
        import errno, json, mmap, sys
        path = sys.argv[1] + "/m"
        open(path, "wb").write(b"x" * 5000 + b"END")
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            shared = [len(m), m[:2].decode(), m[-3:].decode()]
        with open(path, "r+b") as f:
            with mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE) as m:
                m[0:1] = b"Y"
                private = m[:2].decode()
            try:
                mmap.mmap(f.fileno(), 0)  # shared and writable
                writable_shared = "ok"
            except OSError as e:
                writable_shared = errno.errorcode[e.errno]
        print(json.dumps({"shared": shared, "private": private, "unchanged": open(path).read(2),
                          "writable_shared": writable_shared}))
    """, d)
    assert got == {"shared": [5003, "xx", "END"], "private": "Yx", "unchanged": "xx",
                   "writable_shared": "ENODEV"}


def test_attributes(fs, d):
    got = py(fs, """
        import json, os, sys
        d = sys.argv[1]
        path = f"{d}/a"
        open(path, "w").close()
        os.chmod(path, 0o600)
        os.utime(path, ns=(1_000_000_000_123, 2_000_000_000_456))
        st = os.stat(path)
        fd = os.open(path, os.O_RDONLY)
        os.fchmod(fd, 0o644)
        same_owner = os.chown(path, st.st_uid, -1) is None
        vfs = os.statvfs(d)
        print(json.dumps({
            "mode": oct(st.st_mode & 0o777), "atime_ns": st.st_atime_ns,
            "mtime_ns": st.st_mtime_ns, "fchmod": oct(os.fstat(fd).st_mode & 0o777),
            "same_owner": same_owner, "ino_matches": os.fstat(fd).st_ino == st.st_ino,
            "dev_matches": os.stat(d).st_dev == st.st_dev,
            "access_r": os.access(path, os.R_OK), "access_missing": os.access(f"{d}/x", os.F_OK),
            "listxattr": os.listxattr(path), "namemax": vfs.f_namemax, "bsize": vfs.f_bsize > 0,
        }))
    """, d)
    assert got == {"mode": "0o600", "atime_ns": 1_000_000_000_123,
                   "mtime_ns": 2_000_000_000_456, "fchmod": "0o644", "same_owner": True,
                   "ino_matches": True, "dev_matches": True, "access_r": True,
                   "access_missing": False, "listxattr": [], "namemax": 255, "bsize": True}


def test_directories(fs, d):
    got = py(fs, """
        import ctypes, json, os, sys
        d = sys.argv[1]
        os.makedirs(f"{d}/big")
        for i in range(3000):
            open(f"{d}/big/f{i:05d}", "w").close()
        os.mkdir(f"{d}/big/sub")
        with os.scandir(f"{d}/big") as it:
            kinds = {e.name: e.is_dir() for e in it}
        # getdents64 on an O_DIRECTORY descriptor, as find and rm do.
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"{d}/big", os.O_RDONLY | os.O_DIRECTORY)
        buf = ctypes.create_string_buffer(8192)
        names = []
        while (n := libc.getdents64(fd, buf, len(buf))) > 0:
            off = 0
            while off < n:
                reclen = int.from_bytes(buf.raw[off + 16:off + 18], "little")
                names.append(buf.raw[off + 19:off + reclen].split(b"\\0")[0].decode())
                off += reclen
        os.close(fd)
        print(json.dumps({
            "listdir": len(os.listdir(f"{d}/big")), "scandir_files": sum(not v for v in kinds.values()),
            "sub_is_dir": kinds["sub"], "getdents": len(names), "dots": names[:2],
            "sorted": names[2:] == sorted(names[2:]),
        }))
    """, d)
    assert got == {"listdir": 3001, "scandir_files": 3000, "sub_is_dir": True,
                   "getdents": 3003, "dots": [".", ".."], "sorted": True}
    assert sh(fs, f"ls {d}/big | wc -l; find {d}/big -type f | wc -l").stdout.split() \
        == ["3001", "3000"]


def test_hard_links_fifos_and_cross_mount_rename(fs, d, tmp_path):
    got = py(fs, """
        import errno, json, os, sys
        d, local = sys.argv[1], sys.argv[2]
        open(f"{d}/a", "w").close()
        open(f"{d}/b", "w").write("bee")
        def err(fn, *args):
            try:
                fn(*args)
            except OSError as e:
                return errno.errorcode[e.errno]
            return "ok"
        print(json.dumps({
            "symlink": err(os.symlink, "a", f"{d}/s"),
            "link": err(os.link, f"{d}/a", f"{d}/l"),
            "rename_out": err(os.rename, f"{d}/a", local),
            "rename_onto_dir": err(os.rename, f"{d}/a", d),
            "replace": err(os.replace, f"{d}/b", f"{d}/a"),
            "replaced": open(f"{d}/a").read(),
            "readlink": err(os.readlink, f"{d}/a"),
            "mkfifo": err(os.mkfifo, f"{d}/fifo"),
            "realpath": os.path.realpath(f"{d}/./a") == f"{d}/a",
        }))
    """, d, str(tmp_path / "x"))
    assert got == {"symlink": "ok", "link": "ok", "rename_out": "EXDEV",
                   "rename_onto_dir": "EISDIR", "replace": "ok", "replaced": "bee",
                   "readlink": "EINVAL", "mkfifo": "ok", "realpath": True}


def test_subprocesses_keep_cwd_and_redirected_stdout(fs, d):
    """Python's subprocess forks with vfork: its dup2/chdir must not touch the parent's state."""
    out = sh(fs, f"""
        mkdir {d}/w
        {sys.executable} -c '
import os, subprocess
print("before", flush=True)
subprocess.run(["true"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print("after", flush=True)
os.chdir("{d}/w")
subprocess.run(["touch", "from_cwd"])
print(subprocess.run(["pwd"], capture_output=True, text=True).stdout.strip(), flush=True)
os.chdir("/")
print(subprocess.run(["pwd"], cwd="{d}", capture_output=True, text=True).stdout.strip())
print(os.getcwd())
os.system("cd {d}/w && ls")
' > {d}/log
        cat {d}/log
    """).stdout.split()
    assert out == ["before", "after", f"{d}/w", d, "/", "from_cwd"]


def test_bad_pointers_give_efault(fs, d):
    got = py(fs, """
        import ctypes, errno, json, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(sys.argv[1] + "/e", os.O_CREAT | os.O_RDWR)
        os.write(fd, b"data")
        def call(fn, *args):
            r = fn(*args)
            return errno.errorcode.get(ctypes.get_errno(), "ok") if r == -1 else r
        print(json.dumps({
            "open_null": call(libc.open, None, 0),
            "read_unmapped": call(libc.pread, fd, ctypes.c_void_p(8), 4, ctypes.c_long(0)),
            "write_unmapped": call(libc.write, fd, ctypes.c_void_p(8), 4),
        }))
    """, d)
    assert got == {"open_null": "EFAULT", "read_unmapped": "EFAULT", "write_unmapped": "EFAULT"}


def test_paths_below_the_mount_of_up_to_path_max_bytes(fs, d):
    """Linux limits the path a caller passes (< PATH_MAX), not the absolute path it names
    from a deep working directory or directory descriptor; gkfs holds paths of up to
    PATH_MAX bytes below the mount directory (the daemons' limit), ENAMETOOLONG past it."""
    got = py(fs, """
        import errno, json, os, sys
        mount, d = sys.argv[1], sys.argv[2]
        os.chdir(d)
        below = len(d) - len(mount)  # bytes of the cwd below the mount directory
        while 4096 - below - 1 > 254:  # until a name of at most 254 bytes fills it up
            os.mkdir("c" * 200)
            os.chdir("c" * 200)
            below += 201
        name = "f" * (4096 - below - 1)  # below + "/" + name: exactly 4096 bytes
        out = {}
        def outcome(fn, *args, **kwargs):
            try:
                fn(*args, **kwargs)
                return "ok"
            except OSError as e:
                return errno.errorcode[e.errno]
        out["create"] = outcome(lambda: os.close(os.open(name, os.O_CREAT | os.O_WRONLY)))
        out["stat"] = outcome(os.stat, name)
        out["listed"] = name in os.listdir(".")
        here = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
        out["stat_dirfd"] = outcome(os.stat, name, dir_fd=here)
        out["create_longer"] = outcome(os.open, name + "g", os.O_CREAT | os.O_WRONLY)
        out["mkdir_longer_dirfd"] = outcome(os.mkdir, name + "g", dir_fd=here)
        out["getcwd_buffer"] = outcome(os.getcwd)
        out["unlink"] = outcome(os.unlink, name)
        print(json.dumps(out))
    """, fs.mountdir, d)
    assert got == {"create": "ok", "stat": "ok", "listed": True, "stat_dirfd": "ok",
                   "create_longer": "ENAMETOOLONG", "mkdir_longer_dirfd": "ENAMETOOLONG",
                   "getcwd_buffer": "ok", "unlink": "ok"}


def test_programs_that_never_touch_the_mount_need_no_daemon(fs, tmp_path):
    env = dict(fs.env, LIBGKFS_HOSTS_FILE=str(tmp_path / "missing_hosts"))
    result = fs.run(["bash", "-c", f"ls / > /dev/null && echo ok > {tmp_path}/out && cat {tmp_path}/out"],
                    env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


def test_stopped_file_system_fails_fast_with_a_clear_error(make_fs, tmp_path):
    fs = make_fs(daemons=2)
    hosts = tmp_path / "hosts_of_stopped_fs"  # stop removes the hosts file
    hosts.write_text(Path(fs.hosts_file).read_text())
    assert fs.stop().returncode == 0
    env = dict(fs.env, LIBGKFS_HOSTS_FILE=str(hosts), LIBGKFS_TIMEOUT_MS="1000")
    result = fs.run(["ls", fs.mountdir], env=env, timeout=60)
    assert result.returncode != 0
    assert "cannot connect to gkfs" in result.stderr
    assert "Host is down" in result.stderr


def test_log_output_file(fs, d, tmp_path):
    log = tmp_path / "preload.log"
    env = dict(fs.env, LIBGKFS_LOG="debug", LIBGKFS_LOG_OUTPUT=str(log))
    result = fs.run(["cat", f"{d}/missing"], env=env)
    assert result.returncode != 0 and "No such file" in result.stderr
    text = log.read_text()
    assert "connected to" in text and "No such file or directory" in text
