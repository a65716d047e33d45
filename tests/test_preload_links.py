"""Symbolic links in gkfs, compared with a local directory: the same script runs under the
preload library once in the mount and once in a local temporary directory, and must print
the same results (values, or errno names), with the base directory replaced by BASE.
Hard links are refused inside gkfs (EPERM): checked apart."""

from __future__ import annotations

import json
import sys
import textwrap

from test_preload import d, py  # noqa: F401  (d is a fixture)

SCRIPT = r"""
import ctypes, errno, json, os, stat, sys
base = sys.argv[1]
os.chdir("/")
out = {}

def show(value):
    if isinstance(value, os.stat_result):
        kind = stat.S_IFMT(value.st_mode)
        size = value.st_size if not stat.S_ISDIR(value.st_mode) else "-"
        return [stat.filemode(value.st_mode), size]
    if isinstance(value, str):
        return value.replace(base, "BASE")
    if isinstance(value, (list, tuple)):
        return [show(v) for v in value]
    return value

def rec(name, fn, *args, **kwargs):
    try:
        out[name] = show(fn(*args, **kwargs))
    except OSError as e:
        out[name] = errno.errorcode[e.errno]

def read(path, flags=os.O_RDONLY):
    fd = os.open(path, flags)
    try:
        return os.read(fd, 100).decode()
    finally:
        os.close(fd)

b = lambda p: os.path.join(base, p)
os.mkdir(b("d"))
os.mkdir(b("d/sub"))
open(b("d/inner"), "w").write("inner\n")
open(b("f"), "w").write("file\n")
links = {"lf": "f", "ld": "d", "lsub": "d/sub", "labs": b("f"), "lout": "/etc/hostname",
         "dang": "missing", "loop1": "loop2", "loop2": "loop1", "self": "self",
         "lrel": "d/../f", "d/up": "..", "lchain": "lf",
         "lfile_dir": "f/"}
for name, target in links.items():
    rec("symlink " + name, os.symlink, target, b(name))
for i in range(1, 42):  # c1 -> f, c2 -> c1, ..., c41 -> c40
    os.symlink("f" if i == 1 else f"c{i - 1}", b(f"c{i}"))

for name in list(links) + ["f", "d", "missing", "c40", "c41"]:
    rec("stat " + name, os.stat, b(name))
    rec("lstat " + name, os.lstat, b(name))
    if name == "labs":  # the size of an absolute link is its target's length
        rec("lstat labs", lambda: os.lstat(b(name)).st_size - len(base))
    rec("readlink " + name, os.readlink, b(name))
for path in ["lf", "labs", "lout", "lrel", "lchain", "ld/inner", "d/up/f", "c40", "c41",
             "loop1", "self", "dang", "lsub/../inner", "d/up/ld/inner", "lf/x", "dang/x"]:
    rec("read " + path, read, b(path))
rec("read nofollow", read, b("lf"), os.O_RDONLY | os.O_NOFOLLOW)
rec("open nofollow dir", read, b("ld"), os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY)
rec("stat trailing slash file link", os.stat, b("lf/"))
rec("lstat trailing slash dir link", os.lstat, b("ld/"))
rec("listdir ld", lambda: sorted(os.listdir(b("ld"))))
rec("listdir lsub/..", lambda: sorted(os.listdir(b("lsub/.."))))
for e in sorted(os.scandir(b("")), key=lambda e: e.name):
    if not e.name.startswith("c"):
        rec("scandir " + e.name, lambda: [e.is_symlink(), e.is_dir(), e.is_file()])
libc = ctypes.CDLL(None, use_errno=True)
libc.realpath.restype = ctypes.c_char_p
def c_realpath(p):
    r = libc.realpath(p.encode(), None)
    if r is None:
        raise OSError(ctypes.get_errno(), "realpath")
    return r.decode()
for path in ["ld/inner", "lsub/..", "lchain", "dang", "loop1", "d/up/lsub"]:
    rec("realpath " + path, c_realpath, b(path))
rec("python realpath", os.path.realpath, b("d/up/lsub/../inner"))

# Creating and removing through links.
rec("create through dangling", lambda: open(b("dang"), "w").write("made\n"))
rec("read made", read, b("missing"))
rec("excl on link", os.open, b("lf"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
rec("mkdir on link", os.mkdir, b("ld"))
rec("symlink on existing", os.symlink, "x", b("lf"))
rec("mkdir through link", os.mkdir, b("ld/new"))
rec("stat made dir", os.stat, b("d/new"))
rec("create under link", lambda: open(b("lsub/g"), "w").write("g\n"))
rec("read created", read, b("d/sub/g"))
rec("rmdir link", os.rmdir, b("ld"))
rec("rmdir link slash", os.rmdir, b("lsub/"))
rec("rename link", os.rename, b("lchain"), b("lchain2"))
rec("readlink renamed", os.readlink, b("lchain2"))
rec("read renamed", read, b("lchain2"))
rec("rename through link", os.rename, b("ld/inner"), b("ld/inner2"))
rec("listdir d", lambda: sorted(os.listdir(b("d"))))
rec("chmod through link", os.chmod, b("lf"), 0o600)
rec("mode of target", lambda: oct(os.stat(b("f")).st_mode & 0o777))
rec("mode of link", lambda: oct(os.lstat(b("lf")).st_mode & 0o777))
def lchmod(p, mode):  # fchmodat(AT_SYMLINK_NOFOLLOW): Python's os.chmod will not call it
    if libc.fchmodat(-100, p.encode(), mode, 0x100) != 0:
        raise OSError(ctypes.get_errno(), "fchmodat")
rec("chmod nofollow", lchmod, b("lf"), 0o644)
rec("utime nofollow", os.utime, b("lf"), (1, 2), follow_symlinks=False)
rec("link mtime", lambda: os.lstat(b("lf")).st_mtime)
rec("utime follow", os.utime, b("lf"), (3, 4))
rec("target mtime", lambda: os.stat(b("f")).st_mtime)
rec("truncate through link", os.truncate, b("lf"), 2)
rec("size of target", lambda: os.stat(b("f")).st_size)
rec("access through link", os.access, b("lf"), os.R_OK)
rec("access dangling", os.access, b("missing-link-target"), os.F_OK)
rec("unlink link", os.unlink, b("lf"))
rec("target remains", os.path.exists, b("f"))
rec("unlink dir link", os.unlink, b("ld"))
rec("dir remains", os.path.isdir, b("d"))

# *at() calls with a directory descriptor, and a working directory reached through a link.
dfd = os.open(b("d"), os.O_RDONLY | os.O_DIRECTORY)
rec("symlinkat", os.symlink, "inner2", "rel", dir_fd=dfd)
rec("readlinkat", os.readlink, "rel", dir_fd=dfd)
rec("fstatat follow", os.stat, "rel", dir_fd=dfd)
rec("fstatat nofollow", os.stat, "rel", dir_fd=dfd, follow_symlinks=False)
os.close(dfd)
os.chdir(b("lsub"))
rec("getcwd through link", os.getcwd)
rec("relative dotdot", read, "../inner2")
os.chdir("/")
rec("walk", lambda: sorted((r.replace(base, "BASE"), sorted(ds), sorted(fs))
                           for r, ds, fs in os.walk(b("d"))))
print(json.dumps(out, sort_keys=True))
"""


def run_both(fs, d, tmp_path):
    local = tmp_path / "local"
    local.mkdir()
    in_gkfs = py(fs, SCRIPT, d)
    in_local = py(fs, SCRIPT, str(local))
    return in_gkfs, in_local


def test_symlinks_behave_as_on_a_local_directory(fs, d, tmp_path):
    in_gkfs, in_local = run_both(fs, d, tmp_path)
    differing = {k: (in_gkfs.get(k), in_local.get(k))
                 for k in sorted(set(in_gkfs) | set(in_local)) if in_gkfs.get(k) != in_local.get(k)}
    assert not differing, "gkfs vs local:\n" + "\n".join(
        f"{k}: {json.dumps(v[0])} vs {json.dumps(v[1])}" for k, v in differing.items())
    # What the table shows (so a change on both sides cannot go unnoticed).
    assert in_gkfs["read c40"] == "file\n" and in_gkfs["read c41"] == "ELOOP"
    assert in_gkfs["read loop1"] == "ELOOP" and in_gkfs["read dang/x"] == "ENOENT"
    with open("/etc/hostname") as f:
        assert in_gkfs["read lout"] == f.read()
    assert in_gkfs["read lsub/../inner"] == "inner\n"  # ".." after a link is physical
    assert in_gkfs["read nofollow"] == "ELOOP" and in_gkfs["rmdir link"] == "ENOTDIR"
    assert in_gkfs["readlink labs"] == "BASE/f" and in_gkfs["readlink f"] == "EINVAL"


def test_hard_links_share_one_inode(fs, d):
    """link(2) and ln make names of one inode: same st_ino and st_dev, st_nlink counts the
    names, data written through one is read through the other, and the inode outlives all
    but its last name; st_ino stays the same across rename."""
    got = py(fs, """
        import json, os, subprocess, sys
        d = sys.argv[1]
        open(f"{d}/a", "w").write("a\\n")
        os.link(f"{d}/a", f"{d}/b")
        ln = subprocess.run(["ln", f"{d}/a", f"{d}/c"], capture_output=True, text=True)
        sa, sb, sc = (os.stat(f"{d}/{n}") for n in "abc")
        with open(f"{d}/b", "a") as f:
            f.write("more\\n")
        via_c = open(f"{d}/c").read()
        os.unlink(f"{d}/a")
        after_unlink = os.stat(f"{d}/b").st_nlink
        os.rename(f"{d}/b", f"{d}/renamed")
        print(json.dumps({
            "ln": ln.returncode, "same_ino": sa.st_ino == sb.st_ino == sc.st_ino,
            "same_dev": sa.st_dev == sb.st_dev == sc.st_dev, "nlink": sc.st_nlink,
            "via_c": via_c, "after_unlink": after_unlink,
            "ino_after_rename": os.stat(f"{d}/renamed").st_ino == sa.st_ino,
            "read_after": open(f"{d}/renamed").read(),
            "listing": sorted(os.listdir(d)),
        }))
    """, d)
    assert got == {"ln": 0, "same_ino": True, "same_dev": True, "nlink": 3,
                   "via_c": "a\nmore\n", "after_unlink": 2, "ino_after_rename": True,
                   "read_after": "a\nmore\n", "listing": ["c", "renamed"]}
