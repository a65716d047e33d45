"""Files are inodes, names are directory entries (issue "Inodes, not paths").

Each observed bug of the issue has a reproducer here; those not fixed yet are strict
expected failures naming what is missing."""

from __future__ import annotations

import errno
import json
import os
import signal
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import eventually, start_fs, stop_fs
from test_preload import d, py  # noqa: F401  (d is a fixture)


def test_write_through_a_descriptor_after_rename(fs, d):
    """Observed: a process writes 10 bytes, another renames the file, the first writes 10
    more through its descriptor: success, yet the new name stayed 10 bytes long."""
    got = py(fs, """
        import json, os, sys
        d = sys.argv[1]
        fd = os.open(f"{d}/a", os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"0123456789")
        os.rename(f"{d}/a", f"{d}/b")
        os.write(fd, b"abcdefghij")
        size_fd = os.fstat(fd).st_size
        os.ftruncate(fd, 15)
        os.close(fd)
        print(json.dumps({"content": open(f"{d}/b").read(), "fstat": size_fd}))
    """, d)
    assert got == {"content": "0123456789abcde", "fstat": 20}


def test_client_file_writes_after_rename(fs):
    import gkfs

    with gkfs.Client(fs.hosts_file) as c:
        c.makedirs("/renamed-client", exist_ok=True)
        with c.open("/renamed-client/a", "wb") as f:
            f.write(b"first")
            c.rename("/renamed-client/a", "/renamed-client/b")
            f.write(b"+second")
        with c.open("/renamed-client/b", "rb") as f:
            assert f.read() == b"first+second"


def test_client_file_keeps_its_data_after_unlink(fs):
    """gkfs.Client files hold their inode like descriptors: readable and writable after
    their name is removed; the data goes when the file is closed."""
    import gkfs

    with gkfs.Client(fs.hosts_file) as c:
        c.makedirs("/client-unlink", exist_ok=True)
        with c.open("/client-unlink/f", "w+b") as f:
            f.write(b"kept")
            c.remove("/client-unlink/f")
            f.write(b"+more")
            f.seek(0)
            assert f.read() == b"kept+more"
            assert c.listdir("/client-unlink") == []
        assert sum(info.orphans for info in c.daemons()) == 0


def test_inode_numbers_are_stable_and_shared(fs, d):
    """st_ino is the inode id: the same across rename and from the preload and gkfs.Client;
    st_dev is one value per file system; directories count 2 + subdirectories."""
    got = py(fs, """
        import json, os, sys
        d = sys.argv[1]
        os.makedirs(f"{d}/top/s1")
        os.mkdir(f"{d}/top/s2")
        open(f"{d}/top/f", "w").close()
        before = os.stat(f"{d}/top/f").st_ino
        os.rename(f"{d}/top/f", f"{d}/g")
        links = [os.stat(f"{d}/top").st_nlink]
        os.rename(f"{d}/top/s2", f"{d}/s2")
        links.append(os.stat(f"{d}/top").st_nlink)
        os.rmdir(f"{d}/top/s1")
        links.append(os.stat(f"{d}/top").st_nlink)
        names = {e.name: e.inode() for e in os.scandir(d)}
        print(json.dumps({"same": before == os.stat(f"{d}/g").st_ino, "links": links,
                          "g": os.stat(f"{d}/g").st_ino, "top": os.stat(f"{d}/top").st_ino,
                          "d_ino_g": names["g"], "dev": os.stat(f"{d}/g").st_dev,
                          "file_links": os.stat(f"{d}/g").st_nlink}))
    """, d)
    assert got["same"] and got["links"] == [4, 3, 2] and got["file_links"] == 1
    assert got["d_ino_g"] == got["g"]
    import gkfs

    internal = d[len(fs.mountdir):]
    with gkfs.Client(fs.hosts_file) as c:
        sg, stop = c.stat(f"{internal}/g"), c.stat(f"{internal}/top")
    assert (sg.st_ino, sg.st_dev) == (got["g"], got["dev"])
    assert stop.st_ino == got["top"] and stop.st_ino != 0 and stop.st_dev == got["dev"]
    assert stop.st_nlink == 2


def test_failed_write_does_not_grow_the_file(make_fs):
    """Observed: the size update travelled beside the chunk writes, so a write that failed
    (its chunk daemon down) still grew the file, padded with zeros."""
    import gkfs
    from gkfs import _core

    fs = make_fs(daemons=2)
    with gkfs.Client(fs.hosts_file, timeout_ms=1500) as c:
        md = c._core.create("/f", 0o644, False)
        c._core.write("/f", md.file_id, 0, b"0123456789")
        home = md.file_id >> 48
        chunk = c._core.config.chunk_size
        placement = _core.Placement(2)
        index = next(i for i in range(1, 64) if placement.chunk_owner(md.file_id, i) != home)
        daemons = json.loads(Path(fs.hosts_file + ".pids.json").read_text())["daemons"]
        order = [uri for _, uri, _ in _core.daemon_order(fs.hosts_file)]
        victim = order[placement.chunk_owner(md.file_id, index)]
        pid = next(r["pid"] for r in daemons if r["uri"] == victim)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(OSError):
            c._core.write("/f", md.file_id, index * chunk, b"lost")
        assert c._core.stat("/f").size == 10


def test_special_files_are_records(fs, d):
    got = py(fs, """
        import json, os, stat, sys
        d = sys.argv[1]
        os.mkfifo(f"{d}/fifo", 0o640)
        os.mknod(f"{d}/sock", 0o600 | stat.S_IFSOCK)
        os.mknod(f"{d}/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        st = {n: os.lstat(f"{d}/{n}") for n in ("fifo", "sock", "null")}
        print(json.dumps({"fifo": stat.S_ISFIFO(st["fifo"].st_mode),
                          "perm": stat.S_IMODE(st["fifo"].st_mode),
                          "sock": stat.S_ISSOCK(st["sock"].st_mode),
                          "chr": stat.S_ISCHR(st["null"].st_mode),
                          "rdev": [os.major(st["null"].st_rdev), os.minor(st["null"].st_rdev)],
                          "ls": sorted(os.listdir(d))}))
    """, d)
    assert got == {"fifo": True, "perm": 0o640,
                   "sock": True, "chr": True, "rdev": [1, 3], "ls": ["fifo", "null", "sock"]}


def test_descriptor_keeps_an_unlinked_file(fs, d):
    """A descriptor keeps its file after the last name goes (in this process or another),
    and after a rename replaced it; the data goes with the last close."""
    got = py(fs, """
        import json, os, subprocess, sys
        d = sys.argv[1]
        fd = os.open(f"{d}/tmp", os.O_CREAT | os.O_RDWR, 0o600)
        os.write(fd, b"x" * 100000)
        os.unlink(f"{d}/tmp")
        os.write(fd, b"tail")
        os.lseek(fd, 0, 0)
        alone = {"nlink": os.fstat(fd).st_nlink, "size": os.fstat(fd).st_size,
                 "read": len(os.read(fd, 200000))}
        os.close(fd)
        # Another process removes the name; a rename replaces another.
        open(f"{d}/a", "w").write("aaa")
        open(f"{d}/b", "w").write("bbb")
        fa, fb = open(f"{d}/a"), open(f"{d}/b")
        subprocess.run(["rm", f"{d}/a"], check=True)
        os.rename(f"{d}/b", f"{d}/c")
        open(f"{d}/d", "w").write("ddd")
        fd2 = open(f"{d}/d")
        os.replace(f"{d}/c", f"{d}/d")
        print(json.dumps({"alone": alone, "a": fa.read(), "b": fb.read(), "d": fd2.read(),
                          "names": sorted(os.listdir(d))}))
    """, d)
    assert got == {"alone": {"nlink": 0, "size": 100004, "read": 100004},
                   "a": "aaa", "b": "bbb", "d": "ddd", "names": ["d"]}


def test_unlinked_open_file_is_reclaimed_at_last_close(make_fs):
    import gkfs

    fs = make_fs(daemons=2)
    d = fs.mountdir
    got = py(fs, """
        import json, os, sys
        d = sys.argv[1]
        import gkfs
        fd = os.open(f"{d}/big", os.O_CREAT | os.O_RDWR, 0o600)
        os.write(fd, b"y" * (3 << 20))
        os.unlink(f"{d}/big")
        with gkfs.Client(os.environ["LIBGKFS_HOSTS_FILE"]) as c:
            orphans = sum(info.orphans for info in c.daemons())
        print(json.dumps([sorted(os.listdir(d)), orphans]))
        os.close(fd)
    """, d)
    assert got == [[], 1]
    with gkfs.Client(fs.hosts_file) as c:
        # Chunk bytes are counted in the background (at most ~2 s old): wait for the count.
        assert eventually(lambda: sum(info.chunk_bytes for info in c.daemons()) == 0)
        assert sum(info.orphans for info in c.daemons()) == 0


def test_status_counts_files_without_scanning(make_fs):
    """Health's file count is a counter kept by every operation that adds or removes a
    name (creates, links, renames onto new names, removals), not a scan of the store."""
    import gkfs

    fs = make_fs(daemons=2)
    with gkfs.Client(fs.hosts_file) as c:
        c.mkdir("/count")
        for i in range(20):
            c.write_bytes(f"/count/f{i}", b"x")
        c.link("/count/f0", "/count/l0")
        c.rename("/count/f1", "/count/r1")
        c.rename("/count/f2", "/count/f3")  # replaces a name: one fewer
        for i in range(10, 15):
            c.remove(f"/count/f{i}")
        assert sum(d.files for d in c.daemons()) == 1 + 20 + 1 - 1 - 5


def test_fifo_between_two_processes(fs, d):
    # The reader opens first and blocks until the writer comes; nothing is stored.
    result = fs.run(textwrap.dedent(f"""
        mkfifo {d}/p
        cat {d}/p > {d}/out &
        sleep 0.5
        echo hello > {d}/p
        wait
        cat {d}/out; stat -c %s {d}/p
    """), timeout=20)
    assert result.stdout == "hello\n0\n"


def test_full_restart_with_new_ports_keeps_every_file():
    """Observed: after gkfs-ctl stop and start on the same root directories the daemons got
    new ports, placement (the daemons sorted by address) changed, and stat/cat gave ENOENT.
    Daemons are now ordered by the identity kept in their root directories."""
    fs = start_fs(daemons=3)
    try:
        names = [f"/f{i}" for i in range(40)]
        with fs.client() as c:
            for i, name in enumerate(names):
                with c.open(name, "wb") as f:
                    f.write(name.encode() * (i + 1))
        from conftest import gkfs_ctl

        for _ in range(3):  # new ports each time: three new daemon orders
            assert fs.stop().returncode == 0
            restarted = gkfs_ctl("start", "--daemons", "3", "--hosts-file", fs.hosts_file,
                                 "--rootdir", fs.rootdir, "--mountdir", fs.mountdir)
            assert restarted.returncode == 0, restarted.stderr
            with fs.client() as c:
                for i, name in enumerate(names):
                    with c.open(name, "rb") as f:
                        assert f.read() == name.encode() * (i + 1)
    finally:
        stop_fs(fs)


def test_unix_socket_server_and_client_at_a_gkfs_path(fs, d):
    """A Python AF_UNIX server binds at a gkfs path (relative to a cwd inside gkfs), a client
    in another process connects by that path; the name is a socket in listings."""
    got = py(fs, """
        import errno, json, os, socket, stat, subprocess, sys
        d = sys.argv[1]
        os.chdir(d)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind("srv.sock")
        server.listen(1)
        client = subprocess.Popen(
            [sys.executable, "-c",
             "import socket, sys; c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); "
             "c.sendall(b'ping'); print(c.recv(16).decode())", f"{d}/srv.sock"],
            stdout=subprocess.PIPE, text=True)
        conn, _ = server.accept()
        conn.sendall(conn.recv(16).upper())
        out, _ = client.communicate(timeout=30)
        def err(fn, *args):
            try:
                fn(*args)
            except OSError as e:
                return errno.errorcode[e.errno]
            return "ok"
        open(f"{d}/plain", "w").close()
        print(json.dumps({
            "reply": out.strip(), "sock": stat.S_ISSOCK(os.lstat(f"{d}/srv.sock").st_mode),
            "rebind": err(socket.socket(socket.AF_UNIX).bind, f"{d}/srv.sock"),
            "plain": err(socket.socket(socket.AF_UNIX).connect, f"{d}/plain"),
            "missing": err(socket.socket(socket.AF_UNIX).connect, f"{d}/missing"),
            "open": err(os.open, f"{d}/srv.sock", os.O_RDONLY)}))
    """, d)
    assert got == {"reply": "PING", "sock": True, "rebind": "EADDRINUSE",
                   "plain": "ECONNREFUSED", "missing": "ENOENT", "open": "ENXIO"}


def test_device_node_opens_as_an_absent_device(fs, d):
    got = py(fs, """
        import errno, json, os, stat, sys
        d = sys.argv[1]
        os.mknod(f"{d}/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        try:
            os.open(f"{d}/null", os.O_RDONLY)
            res = "ok"
        except OSError as e:
            res = errno.errorcode[e.errno]
        print(json.dumps(res))
    """, d)
    assert got == "ENXIO"


SETID_SCRIPT = r"""
import json, os, stat, sys
d = sys.argv[1]
os.stat(d)  # connects while still root (the hosts file is root's)
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
def mode(name):
    return oct(stat.S_IMODE(os.stat(f"{d}/{name}").st_mode))
out = {}
fd = os.open(f"{d}/mine", os.O_WRONLY)            # nobody's own 06755 file
os.write(fd, b"x"); os.close(fd); out["own-write"] = mode("mine")
fd = os.open(f"{d}/roots", os.O_WRONLY)           # root's 04777 file
os.write(fd, b"x"); os.close(fd); out["suid-write"] = mode("roots")
fd = os.open(f"{d}/grp", os.O_WRONLY)             # root's 02777 file, group execution on
os.ftruncate(fd, 0); os.close(fd); out["sgid-truncate"] = mode("grp")
fd = os.open(f"{d}/grp-noexec", os.O_WRONLY)      # 02766: set-group-ID without group execution
os.write(fd, b"x"); os.close(fd); out["sgid-noexec-write"] = mode("grp-noexec")
os.chmod(f"{d}/other-group", 0o2755)               # nobody's file in root's group
out["chmod-outside-group"] = mode("other-group")
print(json.dumps(out))
"""


def test_set_id_bits_dropped_as_linux(fs):
    """Observed: S_ISUID/S_ISGID stayed set after a write by a non-owner and after a chmod by
    an owner outside the file's group. Compared with a local directory, as nobody."""
    import shutil
    import subprocess
    import sys
    import tempfile

    local = tempfile.mkdtemp(prefix="gkfs-setid-", dir="/tmp")  # nobody must reach it
    os.chmod(local, 0o755)
    results = {}
    for where, base in (("local", Path(local) / "d"), ("gkfs", Path(fs.mountdir) / f"setid-{os.getpid()}")):
        env = dict(fs.env) if where == "gkfs" else {k: v for k, v in fs.env.items() if k != "LD_PRELOAD"}
        setup = textwrap.dedent(f"""
            set -e
            mkdir -p {base} && chmod 0777 {base}
            for f in mine roots grp grp-noexec other-group; do : > {base}/$f; done
            chown 65534:65534 {base}/mine && chmod 06755 {base}/mine
            chmod 04777 {base}/roots && chmod 02777 {base}/grp && chmod 02766 {base}/grp-noexec
            chown 65534:0 {base}/other-group
        """)
        subprocess.run(["bash", "-c", setup], env=env, check=True, timeout=60)
        run = subprocess.run([sys.executable, "-c", SETID_SCRIPT, str(base)],
                             env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        results[where] = json.loads(run.stdout)
    shutil.rmtree(local)
    assert results["gkfs"] == results["local"]
    assert results["local"]["suid-write"] == "0o777"  # what Linux does, shown


def test_path_relative_to_a_kernel_directory_enters_the_mount(fs, d):
    """openat/fstatat with a kernel directory descriptor and a relative path through the mount
    directory's name reach gkfs, as the kernel would through a real mount."""
    got = py(fs, """
        import json, os, sys
        d = sys.argv[1]
        open(f"{d}/f", "w").write("x")
        mount = os.environ["LIBGKFS_MOUNTDIR"]
        parent = os.open(os.path.dirname(mount), os.O_RDONLY | os.O_DIRECTORY)
        rel = os.path.basename(mount) + d[len(mount):] + "/f"
        st = os.stat(rel, dir_fd=parent, follow_symlinks=False)
        fd = os.open(rel, os.O_RDONLY, dir_fd=parent)
        print(json.dumps([st.st_size, os.read(fd, 10).decode(), st.st_ino == os.stat(f"{d}/f").st_ino]))
    """, d)
    assert got == [1, "x", True]


def test_rename_changes_the_moved_inode_ctime(fs, d):
    """Observed: rename did not update the renamed object's ctime (Linux does, for files and
    directories alike); mtime stays."""
    got = py(fs, """
        import json, os, sys, time
        d = sys.argv[1]
        open(f"{d}/f", "w").close()
        os.mkdir(f"{d}/sub")
        before = {n: os.stat(f"{d}/{n}") for n in ("f", "sub")}
        time.sleep(0.01)
        os.rename(f"{d}/f", f"{d}/g")
        os.rename(f"{d}/sub", f"{d}/sub2")
        after = {"f": os.stat(f"{d}/g"), "sub": os.stat(f"{d}/sub2")}
        print(json.dumps({n: [after[n].st_ctime_ns > before[n].st_ctime_ns,
                              after[n].st_mtime_ns == before[n].st_mtime_ns] for n in before}))
    """, d)
    assert got == {"f": [True, True], "sub": [True, True]}


def test_client_with_an_identity_is_checked_as_the_preload(fs):
    """gkfs.Client given an identity applies the core's rules, as the preload applies them to
    a process: open, listing, chmod, chown, utime and the directory checks of creates and
    removals."""
    import gkfs

    with gkfs.Client(fs.hosts_file) as root:
        root.makedirs("/ident/locked", exist_ok=True)
        root.chmod("/ident/locked", 0o700)
        root.chmod("/ident", 0o755)
        root.write_bytes("/ident/rootfile", b"secret")
        root.chmod("/ident/rootfile", 0o600)
    with gkfs.Client(fs.hosts_file, uid=65534, gid=65534) as nobody:
        for attempt in (lambda: nobody.open("/ident/rootfile", "rb"),
                        lambda: nobody.listdir("/ident/locked"),
                        lambda: nobody.open("/ident/new", "wb"),
                        lambda: nobody.remove("/ident/rootfile")):
            with pytest.raises(PermissionError):
                attempt()
        for attempt in (lambda: nobody.chmod("/ident/rootfile", 0o777),
                        lambda: nobody.chown("/ident/rootfile", 65534, 65534),
                        lambda: nobody.utime("/ident/rootfile", (0, 0))):
            with pytest.raises(PermissionError) as e:
                attempt()
            assert e.value.errno == errno.EPERM
        assert nobody.listdir("/ident") == ["locked", "rootfile"]
    with gkfs.Client(fs.hosts_file) as root:  # no identity: nothing is checked
        assert root.read_bytes("/ident/rootfile") == b"secret"


# --- findings of the review of the inode model (each failed before its fix) ---------------

def _names(n: int, prefix: str, keep: Any) -> str:
    """The first name prefix<i> for which keep(name) holds (placement-dependent cases)."""
    return next(f"{prefix}{i}" for i in range(1000) if keep(f"{prefix}{i}"))


def test_append_after_truncation_starts_at_the_new_end(fs, d):
    got = py(fs, """
        import json, os, sys
        d = sys.argv[1]
        for _ in range(3):
            with open(f"{d}/log", "a") as f:
                f.write("line;")
        open(f"{d}/log", "w").close()               # truncate, as `: > log` does
        with open(f"{d}/log", "a") as f:
            f.write("fresh;")
        print(json.dumps(open(f"{d}/log").read()))
    """, d)
    assert got == "fresh;"


def test_open_of_a_renamed_file_keeps_it_when_replaced(make_fs):
    """An open whose name's entry lives elsewhere than the inode (after a rename) is counted
    at the inode's home: the file survives a rename that replaces its name."""
    import gkfs
    from gkfs import _core

    fs = make_fs(daemons=4)
    placement = _core.Placement(4)
    with gkfs.Client(fs.hosts_file) as c:
        c.write_bytes("/orig", b"kept")
        home = c._core.stat("/orig").file_id >> 48
        name = _names(4, "/renamed", lambda p: placement.metadata_owner(p) != home)
        c.rename("/orig", name)
        with c.open(name, "ab", buffering=0) as f:  # counted at the home, via the second hop
            c.write_bytes("/other", b"new")
            c.rename("/other", name)           # replaces the open file's name
            f.write(b"+more")
            assert c._core.read(name, f._file_id, 0, 100) == b"kept+more"
        assert c.read_bytes(name) == b"new"
        assert eventually(lambda: sum(i.orphans for i in c.daemons()) == 0)


def test_failed_create_leaves_no_orphan(make_fs):
    import gkfs
    from gkfs import _core

    fs = make_fs(daemons=4)
    placement = _core.Placement(4)
    with gkfs.Client(fs.hosts_file) as c:
        name = _names(4, "/missing-parent/f", lambda p: placement.metadata_owner(p)
                      != placement.metadata_owner("/missing-parent"))
        with pytest.raises(FileNotFoundError):
            c.open(name, "wb")
        assert sum(i.orphans for i in c.daemons()) == 0
        assert c.listdir("/") == []


def test_a_program_writing_to_a_redirected_stdout_releases_it(make_fs):
    """A shell's child opens "cmd > f" and exec's cmd: cmd releases that open at exit, so
    removing f afterwards frees it (before: an orphan for good)."""
    import gkfs

    fs = make_fs(daemons=2)
    d = fs.mountdir
    result = fs.run(f"/bin/echo hello > {d}/out && /bin/cat {d}/out && rm {d}/out")
    assert result.returncode == 0 and result.stdout == "hello\n", result.stderr
    with gkfs.Client(fs.hosts_file) as c:
        assert sum(i.orphans for i in c.daemons()) == 0


def test_directory_link_counts_through_renamed_parents(make_fs):
    """A parent whose inode lives elsewhere (a renamed directory) still gains and loses its
    subdirectories' links on rename; a directory replacing an empty one in the same parent
    leaves one link fewer."""
    import gkfs
    from gkfs import _core

    fs = make_fs(daemons=4)
    placement = _core.Placement(4)
    with gkfs.Client(fs.hosts_file) as c:
        c.mkdir("/p")
        home = c._core.stat("/p").file_id >> 48
        moved = _names(4, "/q", lambda p: placement.metadata_owner(p) != home)
        c.rename("/p", moved)                  # its entry now lives elsewhere than its inode
        c.makedirs("/src/sub")
        c.rename("/src/sub", f"{moved}/sub")    # arrives in the renamed parent
        assert c.stat(moved).st_nlink == 3
        c.mkdir(f"{moved}/x")
        assert c.stat(moved).st_nlink == 4
        c.rename(f"{moved}/x", f"{moved}/sub")  # replaces an empty directory, same parent
        assert c.stat(moved).st_nlink == 3
        assert c.stat("/src").st_nlink == 2


def test_an_open_file_ends_with_the_last_descriptor_of_its_description(make_fs):
    """dup'ed descriptors share one open: the file outlives its name until the last of them
    closes, then goes (counted per descriptor number, not by references in flight)."""
    import gkfs

    fs = make_fs(daemons=2)
    got = py(fs, """
        import json, os, subprocess, sys
        d = sys.argv[1]
        fd = os.open(f"{d}/f", os.O_CREAT | os.O_RDWR, 0o600)
        os.write(fd, b"shared")
        other = os.dup(fd)
        os.close(fd)
        subprocess.run(["rm", f"{d}/f"], check=True)
        os.lseek(other, 0, 0)
        data = os.read(other, 100).decode()
        os.close(other)
        print(json.dumps(data))
    """, fs.mountdir)
    assert got == "shared"
    with gkfs.Client(fs.hosts_file) as c:
        assert sum(i.orphans for i in c.daemons()) == 0


# Orphans of dead clients: each client session renews a lease at the homes of the files it
# holds open; a daemon drops the opens of a session it has not heard of for a lease and
# reclaims the orphans no live session holds (docs/operations.md, "Files unlinked while
# open"). These tests use a 1 s lease: a dead holder's orphan goes within 1.25 s of its last
# renewal (the reaper wakes every quarter lease), so a live holder whose file is still there
# OUTLIVE_S after its open or last known renewal has renewed. The waits for a reclaim allow a
# loaded machine several times that.
LEASE_S = 1.0
OUTLIVE_S = 2 * LEASE_S
REAP_WAIT_S = 10 * LEASE_S

_HOLDER = """
import os, sys
path, size = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
os.write(fd, b"z" * size)
os.unlink(path)
print(os.fstat(fd).st_ino, flush=True)
sys.stdin.readline()                       # until the test says so
print(len(os.pread(fd, size + 1, 0)), flush=True)
os.close(fd)
"""


def _hold_unlinked(fs, path: str, size: int):
    """A preloaded process holding path open after unlinking it: (process, inode id)."""
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", _HOLDER, path, str(size)], env=fs.env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.strip().isdigit(), f"holder failed: {line!r}"
    return p, int(line)


def _chunk_dirs(fs) -> set[str]:
    """The file ids (hex) with chunk files on any daemon."""
    return {p.name for p in Path(fs.rootdir).glob("**/chunks/*") if p.is_dir() and any(p.iterdir())}


def _orphans(fs) -> int:
    with fs.client() as c:
        return sum(info.orphans for info in c.daemons())


def test_orphans_of_a_killed_client_are_reclaimed_after_its_lease(make_fs):
    """Observed: a process killed outright (SIGKILL) while it held an unlinked file left the
    inode and its chunks on the daemons for good. A live holder keeps its file past many
    leases, and a clean close still reclaims at once."""
    fs = make_fs(daemons=2, args=["--session-lease", str(LEASE_S)])
    killed, killed_ino = _hold_unlinked(fs, f"{fs.mountdir}/killed", 3 << 20)
    live, live_ino = _hold_unlinked(fs, f"{fs.mountdir}/live", 1 << 20)
    assert _orphans(fs) == 2
    assert {f"{killed_ino:016x}", f"{live_ino:016x}"} <= _chunk_dirs(fs)

    killed.kill()
    killed.communicate()
    assert eventually(lambda: _orphans(fs) == 1, timeout=REAP_WAIT_S)
    assert eventually(lambda: f"{killed_ino:016x}" not in _chunk_dirs(fs), timeout=REAP_WAIT_S)

    import time
    time.sleep(OUTLIVE_S)  # the live holder renews: its file stays
    assert _orphans(fs) == 1 and f"{live_ino:016x}" in _chunk_dirs(fs)
    out, _ = live.communicate("go\n", timeout=30)
    assert out.split() == [str(1 << 20)]
    assert _orphans(fs) == 0
    assert eventually(lambda: f"{live_ino:016x}" not in _chunk_dirs(fs))


def test_orphans_a_previous_run_left_are_reclaimed_a_lease_after_start():
    """Orphans whose holder died while the file system was down (or whose daemon was
    restarted) go one lease after the daemons start, unless a live holder claims them."""
    from conftest import gkfs_ctl

    fs = start_fs(daemons=2, args=["--session-lease", "600"])
    try:
        holder, ino = _hold_unlinked(fs, f"{fs.mountdir}/left", 2 << 20)
        holder.kill()
        holder.communicate()
        assert _orphans(fs) == 1
        assert fs.stop().returncode == 0
        restarted = gkfs_ctl("start", "--daemons", "2", "--hosts-file", fs.hosts_file,
                             "--rootdir", fs.rootdir, "--mountdir", fs.mountdir,
                             "--session-lease", str(LEASE_S))
        assert restarted.returncode == 0, restarted.stderr
        assert eventually(lambda: _orphans(fs) == 0, timeout=REAP_WAIT_S)
        assert eventually(lambda: f"{ino:016x}" not in _chunk_dirs(fs), timeout=REAP_WAIT_S)
    finally:
        stop_fs(fs)


def test_a_live_holder_keeps_its_file_across_a_daemon_restart(make_fs):
    """A daemon restarted while a client holds an unlinked file forgets the open; the
    client's next renewal counts it again, so the file outlives the restart's lease."""
    import gkfs

    fs = make_fs(daemons=1, args=["--session-lease", str(LEASE_S)])
    holder, ino = _hold_unlinked(fs, f"{fs.mountdir}/kept", 1 << 20)
    pid = json.loads(Path(fs.hosts_file + ".pids.json").read_text())["daemons"][0]["pid"]
    os.kill(pid, signal.SIGKILL)
    restarted = fs.ctl("restart-daemon", "--daemon", "0")
    assert restarted.returncode == 0, restarted.stderr
    import time
    time.sleep(OUTLIVE_S)
    assert _orphans(fs) == 1 and f"{ino:016x}" in _chunk_dirs(fs)
    out, _ = holder.communicate("go\n", timeout=30)
    assert out.split() == [str(1 << 20)]
    with gkfs.Client(fs.hosts_file) as c:
        assert eventually(lambda: sum(i.orphans for i in c.daemons()) == 0)


def test_a_gkfs_client_holding_an_unlinked_file_renews_its_lease(make_fs):
    """gkfs.Client's files are counted opens too: the client core renews their session, so
    a file removed while open stays readable past many leases, then goes at close."""
    import time

    fs = make_fs(daemons=2, args=["--session-lease", str(LEASE_S)])
    with fs.client() as c:
        with c.open("/held", "w+b") as f:
            f.write(b"k" * 100_000)
            f.flush()
            c.remove("/held")
            time.sleep(OUTLIVE_S)
            assert sum(i.orphans for i in c.daemons()) == 1
            f.seek(0)
            assert f.read() == b"k" * 100_000
        assert eventually(lambda: sum(i.orphans for i in c.daemons()) == 0)
