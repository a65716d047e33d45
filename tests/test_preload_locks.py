"""Advisory locks between processes of one node (fcntl record locks, OFD locks, flock, lockf):
a Python script holds locks on a gkfs file while other processes, started fresh, try theirs;
it runs once under the preload library in gkfs and once in a local directory without it, and
must print the same."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid

# A separate process (started fresh, not forked) trying one lock on the file: argv is the
# path, then the attempt (lockf KIND LEN START | flock KIND | getlk | ofd); prints the outcome.
OTHER = r"""
import errno, fcntl, os, struct, sys
path, what, *args = sys.argv[1:]
fd = os.open(path, os.O_RDWR)
kinds = {"ex": fcntl.LOCK_EX | fcntl.LOCK_NB, "sh": fcntl.LOCK_SH | fcntl.LOCK_NB}
try:
    if what == "lockf":
        fcntl.lockf(fd, kinds[args[0]], int(args[1]), int(args[2]))
    elif what == "flock":
        fcntl.flock(fd, kinds[args[0]])
    elif what == "getlk":
        lk = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        t, w, s, l, pid = struct.unpack("hhqqi", fcntl.fcntl(fd, fcntl.F_GETLK, lk))
        print(t == fcntl.F_WRLCK, s, l, pid == os.getppid())
        sys.exit(0)
    elif what == "ofd":
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 5, 0))
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
"""

SCRIPT = r"""
import errno, fcntl, os, struct, subprocess, sys
path = os.path.join(os.environ["W"], "locked")
with open(path, "w") as f:
    f.write("x" * 100)

def other(*attempt):
    r = subprocess.run([sys.executable, "-c", os.environ["OTHER"], path, *attempt],
                       capture_output=True, text=True)
    return (r.stdout + r.stderr).strip()

fd = os.open(path, os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
print("parent holds 0-9")
print("other 0-9:", other("lockf", "ex", "10", "0"))
print("other 10-19:", other("lockf", "ex", "10", "10"))
print("other 5-14 shared:", other("lockf", "sh", "10", "5"))
print("other F_GETLK:", other("getlk"))
print("flock is separate:", other("flock", "ex"))
fcntl.flock(fd, fcntl.LOCK_SH)
print("other flock sh:", other("flock", "sh"))
print("other flock ex:", other("flock", "ex"))
dup = os.dup(fd)
fcntl.flock(dup, fcntl.LOCK_UN)  # the description's lock: dup shares it
print("after unlock via dup:", other("flock", "ex"))
os.close(dup)
# A lock from the end of the file; then closing another descriptor of the same file drops
# all of this process's record locks (POSIX).
os.lseek(fd, 0, os.SEEK_END)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 0, os.SEEK_END)
print("other at end:", other("lockf", "ex", "1", "150"))
os.close(os.open(path, os.O_RDONLY))
print("after closing another fd:", other("lockf", "ex", "10", "0"))
# OFD locks belong to the open file description.
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 5, 0))
print("other ofd:", other("ofd"))
rd = os.open(path, os.O_RDONLY)
try:
    fcntl.lockf(rd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError as e:
    print("write lock on a read-only fd:", errno.errorcode[e.errno])
os.close(rd)
os.close(fd)
print("all released:", other("lockf", "ex", "0", "0"))
"""


def test_locks_between_processes_match_a_local_directory(fs, tmp_path):
    work = f"{fs.mountdir}/locks-{uuid.uuid4().hex[:8]}"
    assert fs.run(["mkdir", work]).returncode == 0
    code = textwrap.dedent(SCRIPT)
    in_gkfs = fs.run([sys.executable, "-c", code], env=dict(fs.env, W=work, OTHER=OTHER))
    plain = {k: v for k, v in fs.env.items() if k != "LD_PRELOAD"}
    in_local = subprocess.run([sys.executable, "-c", code],
                              env=dict(plain, W=str(tmp_path), OTHER=OTHER),
                              capture_output=True, text=True, timeout=120)
    assert in_local.returncode == 0, in_local.stderr
    assert (in_gkfs.returncode, in_gkfs.stderr) == (0, ""), in_gkfs.stderr
    assert in_gkfs.stdout == in_local.stdout, f"gkfs:\n{in_gkfs.stdout}\nlocal:\n{in_local.stdout}"
    assert "other 0-9: EAGAIN" in in_gkfs.stdout
    assert "after closing another fd: ok" in in_gkfs.stdout
