"""The FUSE client (gkfs-fuse, issue 12): the mount directory as a real mount, reached by
every process of the host without the preload library: a statically linked program, a shell's
own redirections, writable shared mmap between processes, a program stored in gkfs run by the
kernel, df; mounts as root and as an unprivileged user (fusermount3), allow_other; the errors
of gkfs-ctl mount and umount, and a dead daemon (EIO/EHOSTDOWN, never a hang)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from gkfs.mounts import _mountinfo_entry, is_gkfs_mount, is_mounted

from conftest import (HANG_GUARD_S, compile_c, eventually, gkfs_ctl, require_fuse, start_fs,
                      stop_fs)

pytestmark = pytest.mark.fuse
NOBODY = 65534


@pytest.fixture(scope="module")
def fs():
    """2 daemons and their mount directory mounted with gkfs-ctl start --fuse --allow-other."""
    require_fuse()
    started = start_fs(2, args=["--fuse", "--allow-other"])
    os.chmod(Path(started.mountdir).parent, 0o755)  # other users reach the mount point
    yield started
    stop_fs(started)


def plain_env(fs) -> dict[str, str]:
    """The environment of a process that is not preloaded: it reaches gkfs through the kernel."""
    return {k: v for k, v in fs.env.items() if k != "LD_PRELOAD"}


def run_plain(fs, cmd, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("env", plain_env(fs))
    return fs.run(cmd, **kwargs)


def test_start_fuse_mounts_the_mount_directory(fs):
    assert is_gkfs_mount(fs.mountdir)
    entry = _mountinfo_entry(fs.mountdir)
    assert "nosuid" in entry[5].split(","), entry


def test_status_lists_the_fuse_mount_and_notices_it_gone():
    """gkfs-ctl status reports the mount start --fuse made (text and --json), and exits 1
    once it is gone, as for a daemon that is down; gkfs-ctl mount puts it back."""
    require_fuse()
    fs = start_fs(1, args=["--fuse"])
    try:
        mountdir = os.path.realpath(fs.mountdir)
        status = fs.ctl("status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert f"fuse {os.uname().nodename} {mountdir} mounted (this host)" in status.stdout
        assert "1 of 1 daemons up, 1 of 1 FUSE mounts in place" in status.stdout
        assert gkfs_ctl("umount", "--hosts-file", fs.hosts_file).returncode == 0
        gone = fs.ctl("status", "--json")
        assert gone.returncode == 1, gone.stdout + gone.stderr
        assert json.loads(gone.stdout)["fuse"] == [
            {"host": os.uname().nodename, "mountdir": mountdir, "mounted": False,
             "how": f"this host: no gkfs FUSE mount at {mountdir}"}]
        assert "NOT mounted" in fs.ctl("status").stdout
        assert gkfs_ctl("mount", "--hosts-file", fs.hosts_file).returncode == 0
        assert fs.ctl("status").returncode == 0
    finally:
        stop_fs(fs)


def fuse_server_pids(mountdir: str) -> list[int]:
    """The gkfs-fuse processes serving mountdir (by their command line)."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            argv = Path("/proc", entry, "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if argv[0].endswith(b"/gkfs-fuse") and os.fsencode(mountdir) in argv:
            pids.append(int(entry))
    return pids


def test_a_mount_whose_gkfs_fuse_died_is_reported_and_can_be_replaced():
    """gkfs-fuse killed: the mount directory answers ENOTCONN. status says the mount is gone
    (exit 1); mount names the cause and the fix instead of a Python error; umount clears it
    and a new mount works."""
    require_fuse()
    fs = start_fs(1, args=["--fuse"])
    try:
        (pid,) = fuse_server_pids(os.path.realpath(fs.mountdir))
        os.kill(pid, signal.SIGKILL)
        assert eventually(lambda: not fuse_server_pids(os.path.realpath(fs.mountdir)))
        status = fs.ctl("status")
        assert status.returncode == 1 and "NOT mounted" in status.stdout, \
            status.stdout + status.stderr
        again = gkfs_ctl("mount", "--hosts-file", fs.hosts_file)
        assert again.returncode == 1, again.stderr
        assert "no longer answers" in again.stderr, again.stderr
        assert "gkfs-ctl umount" in again.stderr, again.stderr
        assert gkfs_ctl("umount", "--hosts-file", fs.hosts_file).returncode == 0
        remounted = gkfs_ctl("mount", "--hosts-file", fs.hosts_file)
        assert remounted.returncode == 0, remounted.stderr
        assert fs.ctl("status").returncode == 0
    finally:
        stop_fs(fs)


def test_cache_mode_sees_another_hosts_change_after_a_reopen():
    """docs/fuse.md's promise for --cache: a file another host changed shows here once the
    cached attributes expired (1 s) and the file is opened again. The other host is a second
    mount of the same file system (gkfs-ctl mount -H HOSTS DIR, the login-node case), in the
    default mode; this host's reader had the file in its page cache."""
    require_fuse()
    fs = start_fs(1, args=["--fuse", "--cache"])
    # Not under tmp_path: pytest prunes old temporary directories, through a stale mount too.
    other = Path(tempfile.mkdtemp(prefix="gkfs-other-host-", dir="/tmp"))
    try:
        mounted_other = gkfs_ctl("mount", "--hosts-file", fs.hosts_file, str(other))
        assert mounted_other.returncode == 0, mounted_other.stderr
        here = Path(fs.mountdir, "checkpoint")
        here.write_text("step 1\n")
        assert (other / "checkpoint").read_text() == "step 1\n"  # written back at close
        assert here.read_text() == "step 1\n"                    # now in this host's cache
        (other / "checkpoint").write_text("step 2, longer\n")
        seen = eventually(lambda: here.read_text() == "step 2, longer\n", timeout=10)
        assert seen, f"this host still reads {here.read_text()!r}"
        assert here.stat().st_size == len("step 2, longer\n")
    finally:
        if is_mounted(str(other)):
            gkfs_ctl("umount", "--hosts-file", fs.hosts_file, str(other))
        if not is_mounted(str(other)):
            other.rmdir()
        stop_fs(fs)


def test_writeback_mode_writes_back_at_close():
    """--writeback (the kernel's writeback cache, --cache implied): small writes collected
    by the kernel are on the daemons once the file is closed, O_APPEND included."""
    require_fuse()
    fs = start_fs(1, args=["--fuse", "--writeback"])
    try:
        path = Path(fs.mountdir, "log")
        with open(path, "w") as f:
            for i in range(100):
                f.write(f"line {i}\n")
                f.flush()
        with open(path, "a") as f:
            f.write("appended\n")
        with fs.client() as c:
            assert c.read_bytes("/log").decode().splitlines()[-2:] == ["line 99", "appended"]
    finally:
        stop_fs(fs)


def test_static_program_writes_and_reads_a_file(fs, tmp_path):
    source = tmp_path / "static.c"
    source.write_text(textwrap.dedent(r"""
        #include <fcntl.h>
        #include <stdio.h>
        #include <string.h>
        #include <unistd.h>
        int main(int argc, char** argv) {
          const char msg[] = "written by a static program\n";
          int fd = open(argv[1], O_CREAT | O_TRUNC | O_WRONLY, 0644);
          if (fd < 0 || write(fd, msg, sizeof msg - 1) != sizeof msg - 1 || close(fd)) return 1;
          char buf[64] = {0};
          fd = open(argv[1], O_RDONLY);
          ssize_t n = read(fd, buf, sizeof buf);
          close(fd);
          printf("%zd %s", n, buf);
          return n == sizeof msg - 1 && memcmp(buf, msg, n) == 0 ? 0 : 2;
        }
    """))
    binary = compile_c(source, tmp_path / "static", "-static")
    result = run_plain(fs, [binary, f"{fs.mountdir}/static.txt"])
    assert result.returncode == 0, result.stderr
    with fs.client() as c:  # in gkfs, not on a local disk under the mount point
        assert c.read_bytes("/static.txt") == b"written by a static program\n"


def test_a_shells_own_redirections_land_in_gkfs(fs):
    """The commands come on the shell's standard input, as typed: the shell itself opens
    the files (no child process, no preload)."""
    script = textwrap.dedent(f"""
        cd {fs.mountdir}
        echo first > typed.txt
        echo second >> typed.txt
        read -r line < typed.txt
        echo "read: $line"
        exec 3> fd3.txt; echo via-fd3 >&3; exec 3>&-
    """)
    result = run_plain(fs, ["bash", "--norc", "-s"], input=script, shell=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "read: first\n"
    with fs.client() as c:
        assert c.read_bytes("/typed.txt") == b"first\nsecond\n"
        assert c.read_bytes("/fd3.txt") == b"via-fd3\n"


MMAP_PEER = textwrap.dedent(r"""
    import mmap, os, sys, time
    path, me, other = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    fd = os.open(path, os.O_RDWR)
    m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    m[me * 8:(me + 1) * 8] = b"peer%04d" % me
    m.flush()  # msync(MS_SYNC)
    deadline = time.monotonic() + 60
    while m[other * 8:(other + 1) * 8] != b"peer%04d" % other:
        if time.monotonic() > deadline:
            sys.exit("never saw the other's store")
        time.sleep(0.01)
    print(m[:16].decode())
""")


def test_shared_writable_mmap_between_two_processes(fs, tmp_path):
    path = f"{fs.mountdir}/shared.map"
    with open(path, "wb") as f:
        f.truncate(4096)
    peer = tmp_path / "peer.py"
    peer.write_text(MMAP_PEER)
    procs = [subprocess.Popen(["python3", str(peer), path, str(i), str(1 - i)],
                              env=plain_env(fs), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in (0, 1)]
    outs = [p.communicate(timeout=HANG_GUARD_S) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.strip() == "peer0000peer0001"
    with fs.client() as c:  # msync wrote the pages through to the daemons
        assert c.read_bytes("/shared.map")[:16] == b"peer0000peer0001"


def test_the_kernel_execs_a_program_stored_in_gkfs(fs, tmp_path):
    source = tmp_path / "hello.c"
    source.write_text('#include <stdio.h>\nint main(int c, char** v) '
                      '{ printf("hello from gkfs %d\\n", c); return 0; }\n')
    binary = compile_c(source, tmp_path / "hello")
    shutil.copy(binary, f"{fs.mountdir}/hello")
    os.chmod(f"{fs.mountdir}/hello", 0o755)
    result = run_plain(fs, [f"{fs.mountdir}/hello", "x"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from gkfs 2\n"


def test_exec_permission_is_the_callers(fs, tmp_path):
    """Exec by the caller's execute bit (owner, group, other), not by any execute bit: a
    program readable by nobody but not executable by it is refused, one executable but not
    readable by it runs (the kernel reads an ELF program for exec), one without any execute
    bit is refused even to root."""
    source = tmp_path / "hi.c"
    source.write_text('#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n')
    binary = compile_c(source, tmp_path / "hi")
    for name, mode in (("owner-only", 0o744), ("exec-only", 0o711), ("no-exec", 0o644)):
        shutil.copy(binary, f"{fs.mountdir}/{name}")
        os.chmod(f"{fs.mountdir}/{name}", mode)
    # Through env: setpriv still holds root's capabilities when it execs its argument.
    denied = run_plain(fs, [*AS_NOBODY, "env", f"{fs.mountdir}/owner-only"])
    assert denied.returncode != 0 and "Permission denied" in denied.stderr, denied
    ran = run_plain(fs, [*AS_NOBODY, "env", f"{fs.mountdir}/exec-only"])
    assert ran.returncode == 0 and ran.stdout == "hi\n", ran.stderr
    with pytest.raises(PermissionError):
        subprocess.run([f"{fs.mountdir}/no-exec"], env=plain_env(fs), check=False)


def test_set_user_id_bits_are_kept_but_ignored_at_exec(fs, tmp_path):
    """nosuid: a set-user-ID root program stored in gkfs keeps its mode bits, and runs with
    the caller's identity, not root's."""
    source = tmp_path / "whoami.c"
    source.write_text('#include <stdio.h>\n#include <unistd.h>\n'
                      'int main(void) { printf("%d\\n", (int)geteuid()); return 0; }\n')
    binary = compile_c(source, tmp_path / "whoami")
    stored = f"{fs.mountdir}/suid-whoami"
    shutil.copy(binary, stored)
    os.chown(stored, 0, 0)
    os.chmod(stored, 0o4755)
    assert os.stat(stored).st_mode & 0o7777 == 0o4755
    result = run_plain(fs, [*AS_NOBODY, stored])
    assert result.returncode == 0 and result.stdout == f"{NOBODY}\n", result.stderr


EXCHANGE = textwrap.dedent(r"""
    import ctypes, os, sys
    RENAME_EXCHANGE = 2
    libc = ctypes.CDLL(None, use_errno=True)
    base = sys.argv[1]
    for d in ("p", "q", "p/a", "p/a/deep", "q/b"):
        os.mkdir(os.path.join(base, d))
    for name, text in (("p/a/x", "in a"), ("p/a/deep/y", "deep in a"), ("q/b/z", "in b"),
                       ("p/f", "file f")):
        with open(os.path.join(base, name), "w") as f:
            f.write(text)
    def exchange(a, b):
        if libc.renameat2(-100, os.path.join(base, a).encode(), -100,
                          os.path.join(base, b).encode(), RENAME_EXCHANGE) != 0:
            sys.exit(f"renameat2 {a} {b}: {os.strerror(ctypes.get_errno())}")
    exchange("p/a", "q/b")               # two directories in two parents
    print(sorted(os.listdir(os.path.join(base, "p/a"))),
          sorted(os.listdir(os.path.join(base, "q/b"))))
    print(open(os.path.join(base, "q/b/deep/y")).read(), open(os.path.join(base, "p/a/z")).read())
    exchange("p/f", "q/b")               # a file and a directory: the parents' link counts move
    print(os.path.isdir(os.path.join(base, "p/f")), open(os.path.join(base, "q/b")).read())
    print(os.stat(os.path.join(base, "p")).st_nlink, os.stat(os.path.join(base, "q")).st_nlink)
    print(sorted(os.listdir(os.path.join(base, "p/f"))))
""")


@pytest.mark.parametrize("through", ["fuse", "preload"])
def test_rename_exchange_swaps_files_and_directories(fs, tmp_path, through):
    base = f"{fs.mountdir}/exchange-{through}"
    os.mkdir(base)
    script = tmp_path / "exchange.py"
    script.write_text(EXCHANGE)
    env = fs.env if through == "preload" else plain_env(fs)
    result = fs.run(["python3", str(script), base], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "['z'] ['deep', 'x']", "deep in a in b", "True file f", "4 2", "['deep', 'x']"]


def test_a_path_walk_asks_the_daemons_once_per_name():
    """With timeouts 0 the kernel sends a LOOKUP for each name a path walk passes, then
    stat's own GETATTR. gkfs-fuse checks permissions itself (no default_permissions: the
    kernel asks no GETATTR for its checks) and answers stat's GETATTR from the lookup's round
    trip (RecentAttrs), so stat of /d/f costs root 2 Stat requests (d, f; it cost 5, then 2-3)
    and an unprivileged caller 3 (the root directory's search check too); changes made
    through the mount still show at once."""
    require_fuse()
    from test_metrics import free_ports, scrape, value

    port = free_ports(1)
    fs = start_fs(1, args=["--fuse", "--allow-other", "--metrics-port", str(port)])
    try:
        os.chmod(Path(fs.mountdir).parent, 0o755)  # nobody reaches the mount point
        os.mkdir(f"{fs.mountdir}/d")
        names = [f"{fs.mountdir}/d/f{i}" for i in range(20)]
        for name in names:
            Path(name).write_text("x")
        stats = lambda: value(scrape(port), "gkfs_requests_total", verb="Stat", outcome="ok")
        before = stats()
        for name in names:
            assert os.stat(name).st_size == 1
        # + the odd GETATTR the kernel makes of its own
        assert stats() - before <= 2 * len(names) + 2
        before = stats()
        result = subprocess.run([*AS_NOBODY, "stat", "-c", "%s", *names], capture_output=True,
                                text=True, timeout=HANG_GUARD_S)
        assert result.returncode == 0 and result.stdout == "1\n" * len(names), result.stderr
        assert stats() - before <= 3 * len(names)
        os.chmod(names[0], 0o600)  # a change through the mount, seen by the next stat
        assert os.stat(names[0]).st_mode & 0o777 == 0o600
        links = os.stat(f"{fs.mountdir}/d").st_nlink
        os.mkdir(f"{fs.mountdir}/d/sub")
        assert os.stat(f"{fs.mountdir}/d").st_nlink == links + 1
    finally:
        stop_fs(fs)


def test_a_listing_asks_no_attributes_the_kernel_would_drop():
    """With timeouts 0 the kernel keeps nothing a READDIRPLUS reply carries (it looks each
    name up again before use), so the default mount lists with plain READDIR: a listing of
    N files costs no Stat per file. ls -l walks each DIR/NAME twice (statx, then the ACL
    lgetxattr), a LOOKUP of DIR and of NAME each: 4 Stats per file, where the READDIRPLUS
    listing added a fifth."""
    require_fuse()
    from test_metrics import free_ports, scrape, value

    port = free_ports(1)
    fs = start_fs(1, args=["--fuse", "--metrics-port", str(port)])
    try:
        files = 40
        with fs.client() as c:
            c.mkdir("/many")
            for i in range(files):
                c.write_bytes(f"/many/f{i:02d}", b"x")
        stats = lambda: value(scrape(port), "gkfs_requests_total", verb="Stat", outcome="ok")
        before = stats()
        assert len(os.listdir(f"{fs.mountdir}/many")) == files
        assert stats() - before <= 4  # the directory and its parent, not each file
        before = stats()
        result = subprocess.run(["ls", "-l", f"{fs.mountdir}/many"], capture_output=True, text=True,
                                timeout=HANG_GUARD_S)
        assert result.returncode == 0 and result.stdout.count(" f") == files, result.stderr
        assert stats() - before <= 4 * files + 10  # + the directory's own, a few
    finally:
        stop_fs(fs)


def test_df_on_the_mount(fs):
    result = run_plain(fs, ["df", "-P", "-B1", fs.mountdir])
    assert result.returncode == 0, result.stderr
    fields = result.stdout.splitlines()[1].split()
    assert fields[0] == "gkfs" and fields[-1] == os.path.realpath(fs.mountdir)
    with fs.client() as c:
        assert int(fields[1]) == c.statfs().total_bytes // 4096 * 4096 or int(fields[1]) > 0


# As nobody, by setpriv: a preexec_fn would run Python in the fork child of this threaded
# process (UCX threads of the tests' clients), where an at-fork handler once aborted.
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def test_allow_other_admits_other_users_with_permissions_applied(fs):
    Path(f"{fs.mountdir}/public.txt").write_text("everyone\n")
    os.chmod(f"{fs.mountdir}/public.txt", 0o644)
    Path(f"{fs.mountdir}/private.txt").write_text("root only\n")
    os.chmod(f"{fs.mountdir}/private.txt", 0o600)
    result = run_plain(fs, [*AS_NOBODY, "cat", f"{fs.mountdir}/public.txt"])
    assert result.returncode == 0 and result.stdout == "everyone\n", result.stderr
    result = run_plain(fs, [*AS_NOBODY, "cat", f"{fs.mountdir}/private.txt"])
    assert result.returncode == 1 and "Permission denied" in result.stderr


def test_unprivileged_mount_with_fusermount3(fs):
    """nobody mounts the file system with gkfs-fuse (what gkfs-ctl mount runs; fusermount3
    is set-user-ID root) and creates files that it owns; without --allow-other even root is
    kept out; nobody unmounts it again. Debian's /dev/fuse is mode 0666, a container's may be
    0600: the script runs in a private mount namespace with a 0666 node bound over it. A copy
    of gkfs-fuse sits in a directory nobody reaches."""
    from gkfs.mounts import fuse_binary

    home = Path(tempfile.mkdtemp(prefix="gkfs-nobody-", dir="/tmp"))
    mnt, dev, secret, binary = home / "mnt", home / "dev", home / "secret", home / "gkfs-fuse"
    mnt.mkdir()
    dev.mkdir()
    shutil.copy(fs.hosts_file + ".secret", secret)
    shutil.copy(fuse_binary(), binary)
    for p in (home, mnt, secret):
        os.chown(p, NOBODY, NOBODY)
    os.chmod(home, 0o755)
    os.chmod(Path(fs.hosts_file).parent, 0o755)
    nobody = f"setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups"
    script = textwrap.dedent(f"""
        mount -t tmpfs -o mode=755 none {dev} && mknod -m 666 {dev}/fuse c 10 229 &&
            mount --bind {dev}/fuse /dev/fuse || exit 10
        cd /
        {nobody} {binary} {mnt} || exit 11
        {nobody} sh -c 'echo mine > {mnt}/own/f && stat -c "owner %u" {mnt}/own/f'
        cat {mnt}/own/f 2>/dev/null || echo "root kept out"
        {nobody} fusermount3 -u {mnt} && echo unmounted
    """)
    env = dict(plain_env(fs), LIBGKFS_SECRET_FILE=str(secret))
    with fs.client() as c:  # the root directory is root's: nobody writes in its own
        c.mkdir("/own")
        c.chown("/own", NOBODY, NOBODY)
    try:
        result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"owner {NOBODY}\nroot kept out\nunmounted\n", result.stderr
        with fs.client() as c:
            assert c.stat("/own/f").st_uid == NOBODY
            assert c.read_bytes("/own/f") == b"mine\n"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_mount_errors_leave_nothing_mounted(fs, tmp_path):
    busy = gkfs_ctl("mount", "--hosts-file", fs.hosts_file, fs.mountdir)
    assert busy.returncode == 1 and "busy" in busy.stderr
    regular = tmp_path / "file"
    regular.write_text("x")
    notdir = gkfs_ctl("mount", "--hosts-file", fs.hosts_file, str(regular))
    assert notdir.returncode == 1 and "not a directory" in notdir.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    down = gkfs_ctl("mount", "--hosts-file", str(tmp_path / "no-hosts.txt"), str(empty))
    assert down.returncode == 1 and "no-hosts.txt" in down.stderr
    assert not is_mounted(str(empty)) and not is_mounted(str(regular))
    # No /dev/fuse: a private mount namespace whose /dev is an empty tmpfs.
    script = f"mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 && " \
             f"exec {gkfs_ctl_argv()} mount " \
             f"--hosts-file {fs.hosts_file} {empty}"
    nodev = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                           capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert nodev.returncode == 1 and "/dev/fuse" in nodev.stderr, nodev.stderr
    unmounted = gkfs_ctl("umount", "--hosts-file", fs.hosts_file, str(empty))
    assert unmounted.returncode == 1 and "nothing is mounted" in unmounted.stderr


def gkfs_ctl_argv() -> str:
    from conftest import entry_point

    return " ".join(entry_point("gkfs-ctl", "gkfs.cli"))


@pytest.mark.slow
def test_dead_daemons_give_errors_and_umount_still_works(tmp_path):
    require_fuse()
    fs = start_fs(2, args=["--fuse", "--timeout-ms", "2000"])
    try:
        Path(f"{fs.mountdir}/before.txt").write_text("x")
        state = json.loads(Path(fs.hosts_file + ".pids.json").read_text())
        for d in state["daemons"]:
            os.kill(d["pid"], signal.SIGKILL)
        result = run_plain(fs, ["cat", f"{fs.mountdir}/before.txt"])
        assert result.returncode == 1
        assert ("Host is down" in result.stderr or "Input/output error" in result.stderr), \
            result.stderr
        umount = gkfs_ctl("umount", "--hosts-file", fs.hosts_file)
        assert umount.returncode == 0, umount.stderr
        assert not is_mounted(fs.mountdir)
    finally:
        stop_fs(fs)
