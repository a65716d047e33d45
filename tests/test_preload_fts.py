"""fts(3) over gkfs: glibc's fts bypasses interposition, so the preload library walks handles
that name gkfs paths itself (core/preload/fts_walk.cpp). tests/fts_walk.c walks a tree with
fts_open options and fts_set/fts_children actions and prints every entry (path, accpath,
name, fts_info, level, errno, parent, cycle, stat type and size, cwd, fts_number); it runs
under the preload library on a gkfs tree and without it on the same tree in a local
directory, and both must print the same: in the same order when a compar function is given,
else as the same set, in an order that keeps each directory's entries between its pre- and
post-order visits. Built with -D_FILE_OFFSET_BITS=64 it calls fts64_*."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import pytest

from conftest import compile_c, module_fs

FTS_COMFOLLOW, FTS_LOGICAL, FTS_NOCHDIR, FTS_NOSTAT = 0x1, 0x2, 0x4, 0x8
FTS_PHYSICAL, FTS_SEEDOT, FTS_XDEV = 0x10, 0x20, 0x40
FTS_D, FTS_DC, FTS_DNR, FTS_DP, FTS_ERR = 1, 2, 4, 6, 7
P, L, NC = FTS_PHYSICAL, FTS_LOGICAL, FTS_NOCHDIR

SOURCE = Path(__file__).resolve().parent / "fts_walk.c"

# The tree at argv[1]/tree: files, an empty directory, a directory only its owner (root)
# may read, links to a file, to a directory, to nowhere, to a directory on another file
# system (argv[2], /dev/shm) and one closing a cycle.
MKTREE = r"""
import os, sys
base, ext = sys.argv[1] + "/tree", sys.argv[2]
for d in ("a/b/deep", "c", "skip/inner", "closed"):
    os.makedirs(f"{base}/{d}")
for p in ("a/f", "a/b/g", "skip/inner/h", "top", "closed/x"):
    open(f"{base}/{p}", "w").write(p * 3)
os.chmod(base + "/closed", 0o300)
os.symlink("../..", base + "/a/b/up")
os.symlink("top", base + "/lt")
os.symlink("a", base + "/ld")
os.symlink("nowhere", base + "/dang")
os.symlink(ext, base + "/ext")
"""

LINKS = ["tree/ld", "tree/lt", "tree/dang", "tree/missing", "tree"]
# (options, actions, paths); "EXT" stands for the directory on the other file system.
CASES = [
    (P, "", ["tree"]), (P | NC, "", ["tree"]), (L, "", ["tree"]), (0, "", ["tree"]),
    (L | FTS_XDEV, "", ["tree"]), (P | FTS_XDEV, "f", ["tree"]),
    (P, "f", ["tree"]), (P | NC, "fsa", ["tree"]), (P, "sa", ["tree"]), (L, "sa", ["tree"]),
    (P | FTS_NOSTAT, "", ["tree"]), (P | FTS_NOSTAT | NC, "", ["tree"]),
    (L | FTS_NOSTAT, "", ["tree"]),
    (P | FTS_SEEDOT, "", ["tree"]), (L | FTS_SEEDOT | NC, "", ["tree"]),
    (P, "", LINKS), (P | FTS_COMFOLLOW, "", LINKS), (P | FTS_COMFOLLOW | NC, "", LINKS),
    (L, "", LINKS),
    (P, "o", ["tree", "tree/top", "tree/c"]), (P | NC, "r", ["tree/c", "tree", "tree/top"]),
    (L, "o", ["tree"]), (P, "r", ["tree"]),
    (P, "ic", ["tree"]), (P, "in", ["tree"]), (P | NC, "c", ["tree/a", "tree/c"]),
    (P, "oc", ["tree"]), (L, "on", ["tree"]),
    (P, "", ["tree/"]), (P, "", ["."]), (P | NC, "", ["./tree/a/"]), (P, "", ["tree/a/b/.."]),
    (P, "", ["tree", "/dev/null", "EXT"]), (P | NC, "o", ["EXT", "/dev/null", "tree/top"]),
    (0x100, "", ["tree"]), (P, "", ["tree", ""]),
    (P, "u", ["tree"]), (L | NC, "u", ["tree"]),  # as nobody: "closed" is FTS_DNR
]


fs = module_fs(2)


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    """fts_walk built twice: calling fts_* and (large-file interface) fts64_*."""
    out = tmp_path_factory.mktemp("fts")
    built = {}
    for name, flags in (("fts", []), ("fts64", ["-D_FILE_OFFSET_BITS=64"])):
        built[name] = compile_c(SOURCE, out / name, *flags)
    return built


def walk(fs, program, options, actions, paths, in_gkfs):
    """Makes the tree in a fresh directory and walks it; returns the printed records."""
    parent = (f"{fs.mountdir}/fts-{uuid.uuid4().hex[:8]}" if in_gkfs
              else tempfile.mkdtemp(prefix="gkfs-fts-"))
    ext_parent = tempfile.mkdtemp(prefix="gkfs-fts-ext-", dir="/dev/shm")
    ext = f"{ext_parent}/ext"  # the same name as a root in both walks
    Path(ext).mkdir()
    Path(ext, "e").write_text("e")
    os.chmod(ext_parent, 0o755)  # nobody must reach it (action "u")
    if not in_gkfs:
        os.chmod(parent, 0o755)
    env = fs.env if in_gkfs else {k: v for k, v in fs.env.items() if k != "LD_PRELOAD"}
    try:
        subprocess.run([sys.executable, "-c", textwrap.dedent(MKTREE), parent, ext], env=env,
                       check=True, timeout=120)
        argv = [program, parent, ext, str(options), actions or "-"]
        argv += [ext if p == "EXT" else p for p in paths]
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]
    finally:
        shutil.rmtree(ext_parent, ignore_errors=True)
        if not in_gkfs:
            shutil.rmtree(parent, ignore_errors=True)


def comparable(records, ordered):
    """The records with each fts_children list sorted; all of them sorted unless ordered."""
    out = []
    for r in records:
        if r[0] == "children" and not ordered:
            r = [r[0], r[1], sorted(r[2]), r[3]]
        out.append(json.dumps(r))
    return out if ordered else sorted(out)


def check_nesting(records):
    """Each entry below a directory comes between its pre-order and post-order visits, at a
    level one more than the directory's."""
    open_dirs = []
    for r in (r for r in records if r[0] == "read"):
        path, info, level = r[1], r[4], r[5]
        if open_dirs and open_dirs[-1] == path and info in (FTS_DP, FTS_DNR, FTS_ERR):
            open_dirs.pop()
            continue
        assert level == len(open_dirs), r
        if open_dirs:
            assert path.startswith(open_dirs[-1].rstrip("/") + "/"), r
        if info == FTS_D:
            open_dirs.append(path)
    assert not open_dirs


def case_id(case):
    options, actions, paths = case
    return f"{options:#x}-{actions or 'none'}-{'+'.join(paths)}"


@pytest.mark.parametrize("options,actions,paths", CASES, ids=[case_id(c) for c in CASES])
def test_walk_matches_glibc(fs, programs, options, actions, paths):
    ordered = "o" in actions or "r" in actions
    for name in (("fts", "fts64") if actions in ("", "o") else ("fts",)):
        gkfs = walk(fs, programs[name], options, actions, paths, in_gkfs=True)
        local = walk(fs, programs[name], options, actions, paths, in_gkfs=False)
        assert comparable(gkfs, ordered) == comparable(local, ordered)
        if gkfs[0][0] != "open":
            check_nesting(gkfs)
            assert gkfs[-2] == ["end", 0]


def test_cycle_and_other_device(fs, programs):
    """What the matrix relies on: a logical walk finds the cycle and enters the other file
    system, FTS_XDEV stops at it."""
    records = walk(fs, programs["fts"], L, "", ["tree"], in_gkfs=True)
    infos = {(r[1], r[4]) for r in records if r[0] == "read"}
    assert ("tree/a/b/up", FTS_DC) in infos and ("tree/ld/b/up", FTS_DC) in infos
    assert ("tree/ext/e", 8) in infos
    records = walk(fs, programs["fts"], L | FTS_XDEV, "", ["tree"], in_gkfs=True)
    assert not any(r[0] == "read" and r[1] == "tree/ext/e" for r in records)
