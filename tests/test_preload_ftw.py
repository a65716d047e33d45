"""nftw/ftw over gkfs: glibc's walk bypasses interposition, so the preload library walks gkfs
trees itself (core/preload/hooks_ftw.cpp). The same tree is walked with libc's nftw/ftw
(through ctypes) under the preload in gkfs and without it in a local directory, for every
flag; the visits must be the same set of (path, typeflag, level, basename at base, cwd) and
keep the order POSIX fixes (a directory before its entries, or after them with FTW_DEPTH).
glibc's fts is walked by the library too: tests/test_preload_fts.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid

import pytest

from conftest import module_fs

FTW_PHYS, FTW_MOUNT, FTW_CHDIR, FTW_DEPTH, FTW_ACTIONRETVAL = 1, 2, 4, 8, 16

# Makes the tree at argv[1] (ext: a directory on another file system, /dev/shm), then walks it
# as argv[3:] say and prints the visits as JSON. Links to directories inside the tree would
# make the visited set depend on readdir order (the first name of a directory is walked), so
# the only such link closes a cycle. glibc's FTW_CHDIR does not come back correctly from a
# followed link to another directory, so FTW_CHDIR is tested with FTW_PHYS or FTW_MOUNT.
WALK = r"""
import ctypes, json, os, sys
base, ext, call, flags = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.makedirs(base + "/a/b/deep")
os.makedirs(base + "/c")
os.makedirs(base + "/skip/inner")
os.makedirs(base + "/only")
for p in ("a/f", "a/b/g", "skip/inner/h", "only/x", "top"):
    open(f"{base}/{p}", "w").write(p)
os.symlink("../..", base + "/a/b/up")  # a cycle: never followed twice
os.symlink("top", base + "/lt")
os.symlink("nowhere", base + "/dang")
os.symlink(ext, base + "/ext")

class FTW(ctypes.Structure):
    _fields_ = [("base", ctypes.c_int), ("level", ctypes.c_int)]

libc = ctypes.CDLL(None, use_errno=True)
visits = []

def rel(path):
    path = path.decode()
    if path == os.path.dirname(base):
        return ".."
    return "." + path[len(base):] if path.startswith(base) else path

def visit(path, typeflag, level, base_offset):
    name = path.decode()[base_offset:] if base_offset is not None else None
    cwd = os.getcwd() if flags & 4 else None
    visits.append([rel(path), typeflag, level, name, cwd and rel(cwd.encode())])
    n = os.path.basename(path.decode())
    if flags & 16 and n == "skip":
        return 2  # FTW_SKIP_SUBTREE
    if flags & 16 and n == "x":
        return 3  # FTW_SKIP_SIBLINGS (x is alone in "only")
    return 0

NFTW = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int,
                        ctypes.POINTER(FTW))
FTWFN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int)
nftw_cb = NFTW(lambda p, st, t, f: visit(p, t, f.contents.level, f.contents.base))
ftw_cb = FTWFN(lambda p, st, t: visit(p, t, None, None))
start = (base + sys.argv[5] if len(sys.argv) > 5 else base).encode()
if call.startswith("nftw"):
    ret = getattr(libc, call)(start, nftw_cb, 4, flags)
else:
    ret = getattr(libc, call)(start, ftw_cb, 4)
print(json.dumps({"ret": ret, "errno": ctypes.get_errno() if ret else 0, "visits": visits}))
"""

CASES = [("nftw", 0), ("nftw", FTW_PHYS), ("nftw", FTW_MOUNT), ("nftw", FTW_DEPTH),
         ("nftw", FTW_CHDIR | FTW_PHYS), ("nftw", FTW_CHDIR | FTW_MOUNT),
         ("nftw", FTW_CHDIR | FTW_DEPTH | FTW_PHYS),
         ("nftw", FTW_ACTIONRETVAL), ("nftw", FTW_ACTIONRETVAL | FTW_DEPTH | FTW_PHYS),
         ("nftw64", FTW_PHYS | FTW_MOUNT), ("ftw", 0), ("ftw64", 0)]


fs = module_fs(2)


def walk(fs, call, flags, in_gkfs, start_suffix=""):
    """Makes the tree (at <fresh directory>/tree) and walks it; returns the JSON."""
    parent = (f"{fs.mountdir}/w-{uuid.uuid4().hex[:8]}" if in_gkfs
              else tempfile.mkdtemp(prefix="gkfs-ftw-"))
    ext = tempfile.mkdtemp(prefix="gkfs-ftw-ext-", dir="/dev/shm")
    open(f"{ext}/e", "w").close()
    env = fs.env if in_gkfs else {k: v for k, v in fs.env.items() if k != "LD_PRELOAD"}
    try:
        argv = [sys.executable, "-c", textwrap.dedent(WALK), f"{parent}/tree", ext, call,
                str(flags)]
        result = subprocess.run(argv + ([start_suffix] if start_suffix else []), env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.replace(ext, "EXT"))
    finally:
        shutil.rmtree(ext, ignore_errors=True)
        if not in_gkfs:
            shutil.rmtree(parent, ignore_errors=True)


def check_order(visits, depth_first):
    """A directory comes before everything below it (after it with FTW_DEPTH)."""
    index = {v[0]: i for i, v in enumerate(visits)}
    for path, i in index.items():
        for other, j in index.items():
            if other.startswith(path + "/"):
                assert (j < i) if depth_first else (j > i), (path, other)


@pytest.mark.parametrize("call,flags", CASES, ids=[f"{c}-{f}" for c, f in CASES])
def test_walk_matches_local(fs, call, flags):
    gkfs = walk(fs, call, flags, in_gkfs=True)
    local = walk(fs, call, flags, in_gkfs=False)
    assert (gkfs["ret"], gkfs["errno"]) == (local["ret"], local["errno"]) == (0, 0)
    assert sorted(gkfs["visits"]) == sorted(local["visits"])
    check_order(gkfs["visits"], bool(flags & FTW_DEPTH))
    assert len(gkfs["visits"]) > 5


@pytest.mark.parametrize("suffix", ["/top", "/missing", "/dang", "/a/"])
def test_start_paths(fs, suffix):
    for call in ("nftw", "ftw"):
        gkfs = walk(fs, call, 0, in_gkfs=True, start_suffix=suffix)
        local = walk(fs, call, 0, in_gkfs=False, start_suffix=suffix)
        assert (gkfs["ret"], gkfs["errno"]) == (local["ret"], local["errno"])
        assert sorted(gkfs["visits"]) == sorted(local["visits"])
