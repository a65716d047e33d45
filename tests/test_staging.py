"""gkfs-ctl stage-in / stage-out (issue 14) through the real entry point, against a running
file system: trees copied both ways with modes, times and checksums kept, a re-run copies
nothing, an interrupted stage completes when run again."""

from __future__ import annotations

import hashlib
import io
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import HANG_GUARD_S, entry_point, gkfs_ctl, module_fs, require_program, tree_digest
from gkfs.staging import Progress

fs = module_fs(2)


def make_tree(root: Path, files: int = 12) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    for i in range(files):
        where = root if i % 3 == 0 else root / "sub" if i % 3 == 1 else root / "sub" / "deeper"
        data = hashlib.sha256(str(i).encode()).digest() * (i * 997 + 1)
        path = where / f"f{i:03d}.bin"
        path.write_bytes(data)
        path.chmod(0o640 if i % 2 else 0o755)
        os.utime(path, ns=(1_600_000_000_123_456_789 + i, 1_600_000_000_987_654_321 + i))
    (root / "big.bin").write_bytes(os.urandom(1_300_000))  # spans 3 chunks
    (root / "link").symlink_to("sub/f001.bin")


def gkfs_tree(client, top: str) -> dict[str, tuple]:
    """tree_digest of directory top in gkfs, read through client."""
    out = {}
    for path, dirs, files in client.walk(top):
        for name in dirs + files:
            full = f"{path}/{name}"
            rel = full[len(top) + 1:]
            st = client.lstat(full)
            if st.st_mode & 0o170000 == 0o120000:
                out[rel] = ("link", client.readlink(full))
            elif name in files:
                out[rel] = ("file", hashlib.sha256(client.read_bytes(full)).hexdigest(),
                            st.st_mode & 0o7777, st.st_mtime_ns)
            else:
                out[rel] = ("dir", st.st_mode & 0o7777)
    return out


def summary(result) -> dict[str, int]:
    assert result.returncode == 0, result.stdout + result.stderr
    line = result.stdout.strip().splitlines()[-1]
    match = re.search(r"(\d+) files, (\d+) copied .*?, (\d+) already identical", line)
    assert match, line
    return dict(zip(("files", "copied", "skipped"), map(int, match.groups())))


def test_stage_in_and_out_keep_contents_modes_and_times(fs, tmp_path, unique_dir):
    src = tmp_path / "input"
    make_tree(src)
    first = summary(fs.ctl("stage-in", str(src), fs.mountdir + unique_dir))
    assert first["copied"] == first["files"] == 14
    with fs.client() as c:
        assert gkfs_tree(c, f"{unique_dir}/input") == tree_digest(src)
    again = summary(fs.ctl("stage-in", str(src), unique_dir, "--verify"))
    assert again["copied"] == 0 and again["skipped"] == 14
    # every regular file (13): the link is compared by its target
    assert "13 verified by SHA-256" in fs.ctl("stage-in", str(src), unique_dir,
                                             "--verify").stdout
    out = tmp_path / "results"
    result = fs.ctl("stage-out", f"{unique_dir}/input", str(out), "--verify")
    assert summary(result)["copied"] == 14
    assert tree_digest(out / "input") == tree_digest(src)
    assert summary(fs.ctl("stage-out", f"{unique_dir}/input", str(out)))["copied"] == 0


def test_a_changed_file_is_copied_again(fs, tmp_path, unique_dir):
    src = tmp_path / "input"
    make_tree(src, files=3)
    summary(fs.ctl("stage-in", str(src), unique_dir))
    (src / "sub" / "f001.bin").write_bytes(b"changed")
    result = summary(fs.ctl("stage-in", str(src), unique_dir))
    assert result["copied"] == 1
    with fs.client() as c:
        assert c.read_bytes(f"{unique_dir}/input/sub/f001.bin") == b"changed"


def test_an_interrupted_stage_completes_when_run_again(fs, tmp_path, unique_dir):
    src = tmp_path / "input"
    src.mkdir()
    for i in range(300):
        (src / f"part{i:03d}").write_bytes(os.urandom(40_000 + i))
    argv = entry_point("gkfs-ctl", "gkfs.cli") + [
        "stage-in", "-H", fs.hosts_file, "--threads", "1", str(src), unique_dir]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with fs.client() as c:
        deadline = time.monotonic() + HANG_GUARD_S
        while time.monotonic() < deadline and proc.poll() is None:
            if c.exists(f"{unique_dir}/input") and len(c.listdir(f"{unique_dir}/input")) >= 5:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=HANG_GUARD_S)
        assert proc.returncode == -signal.SIGKILL, "the stage ended before it was interrupted"
        landed = set(c.listdir(f"{unique_dir}/input"))
    again = summary(fs.ctl("stage-in", str(src), unique_dir))
    assert again["files"] == 300
    assert again["skipped"] >= len([n for n in landed if n.startswith("part")]) - 1
    with fs.client() as c:
        assert sorted(c.listdir(f"{unique_dir}/input")) == sorted(os.listdir(src))
        for name in os.listdir(src):
            assert c.read_bytes(f"{unique_dir}/input/{name}") == (src / name).read_bytes()


def test_a_rerun_removes_the_temporary_name_an_interrupted_rename_left(fs, tmp_path, unique_dir):
    """A rename between two daemons puts the new entry, then removes the old one: a stage
    killed in between leaves the file under both its name and its temporary name (seen with
    shared memory, where the kill of the test above landed later). The re-run skips the file
    as identical and must remove the temporary name."""
    src = tmp_path / "input"
    make_tree(src, files=3)
    summary(fs.ctl("stage-in", str(src), unique_dir))
    leftover = f"{unique_dir}/input/.f000.bin.gkfs-stage-part"
    with fs.client() as c:
        c.write_bytes(leftover, (src / "f000.bin").read_bytes())
    again = summary(fs.ctl("stage-in", str(src), unique_dir))
    assert again["copied"] == 0
    with fs.client() as c:
        assert not c.exists(leftover)
        assert sorted(c.listdir(f"{unique_dir}/input")) == sorted(os.listdir(src))


def test_bad_input_is_named(fs, tmp_path, unique_dir):
    result = fs.ctl("stage-in", str(tmp_path / "missing"), unique_dir)
    assert result.returncode == 1 and "missing" in result.stderr
    assert fs.ctl("stage-in", str(tmp_path)).returncode == 2
    result = gkfs_ctl("stage-out", "-H", str(tmp_path / "nohosts.txt"), "/x", str(tmp_path))
    assert result.returncode == 1 and "nohosts.txt" in result.stderr


def test_progress_plain_lines_and_terminal_bar():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    now = [0.0]
    plain = io.StringIO()
    progress = Progress("stage-in", plain, interval=1.0, clock=lambda: now[0])
    progress.begin(4, 4096)
    for _ in range(4):
        now[0] += 1.0
        progress.advance(1024)
    progress.end()
    lines = plain.getvalue().splitlines()
    assert lines[0] == "stage-in: 1/4 files, 1.0KiB/4.0KiB, 1.0KiB/s, ETA 3s"
    assert lines[-1].startswith("stage-in: 4/4 files") and len(lines) == 4
    bar = Terminal()
    progress = Progress("stage-out", bar, clock=lambda: now[0])
    progress.begin(2, 2048)
    now[0] += 1.0
    progress.advance(1024)
    progress.end()
    assert bar.getvalue().startswith("\r[###############               ] stage-out: 1/2 files")
    assert bar.getvalue().endswith("\n")


def test_help_lists_the_stage_commands():
    result = gkfs_ctl("--help")
    assert "stage-in" in result.stdout and "stage-out" in result.stdout
    assert "--verify" in gkfs_ctl("stage-in", "--help").stdout


def test_tasks_of_mpirun_share_a_stage(fs, tmp_path, unique_dir):
    require_program("mpirun", "openmpi-bin")
    src = tmp_path / "input"
    make_tree(src)
    args = ["--launcher", "mpirun", "--tasks-per-host", "2",
            "--launcher-args=--allow-run-as-root --oversubscribe"]
    result = fs.ctl("stage-in", *args, str(src), unique_dir)
    assert "2 tasks on 1 hosts (mpirun)" in result.stdout, result.stdout + result.stderr
    assert summary(result)["copied"] == 14
    with fs.client() as c:
        assert gkfs_tree(c, f"{unique_dir}/input") == tree_digest(src)
    assert summary(fs.ctl("stage-in", *args, str(src), unique_dir))["copied"] == 0


def link_groups(names_and_stats) -> list[list[str]]:
    """Names that share an inode (by st_dev, st_ino), as sorted groups of two or more."""
    groups: dict[tuple[int, int], list[str]] = {}
    for name, st in names_and_stats:
        groups.setdefault((st.st_dev, st.st_ino), []).append(name)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def make_linked_tree(root: Path, outside: Path) -> None:
    """Three names of one file in two directories, two of another, and one name of a file
    whose other name lies outside the tree (copied as a file of its own, as cp -a does)."""
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "a" / "three").write_bytes(os.urandom(700_000))
    os.link(root / "a" / "three", root / "b" / "three-again")
    os.link(root / "a" / "three", root / "three-top")
    (root / "b" / "two").write_bytes(b"two names")
    os.chmod(root / "b" / "two", 0o600)
    os.link(root / "b" / "two", root / "a" / "two-again")
    (outside / "shared").write_bytes(b"one name inside")
    os.link(outside / "shared", root / "a" / "single")
    (root / "plain").write_bytes(b"plain")


EXPECTED_GROUPS = [["a/three", "b/three-again", "three-top"], ["a/two-again", "b/two"]]


def gkfs_link_groups(client, top: str) -> list[list[str]]:
    return link_groups((f"{path}/{name}"[len(top) + 1:], client.stat(f"{path}/{name}"))
                       for path, _, files in client.walk(top) for name in files)


def local_link_groups(root: Path) -> list[list[str]]:
    return link_groups((str(p.relative_to(root)), p.lstat())
                       for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("launcher", ["local", "mpirun"])
def test_hard_links_within_the_tree_stay_links(fs, tmp_path, unique_dir, launcher):
    args = []
    if launcher == "mpirun":
        require_program("mpirun", "openmpi-bin")
        args = ["--launcher", "mpirun", "--tasks-per-host", "3",
                "--launcher-args=--allow-run-as-root --oversubscribe"]
    src, outside = tmp_path / "input", tmp_path / "outside"
    outside.mkdir()
    make_linked_tree(src, outside)
    assert local_link_groups(src) == EXPECTED_GROUPS
    first = summary(fs.ctl("stage-in", *args, str(src), unique_dir))
    assert first["files"] == 7 and first["skipped"] == 0
    with fs.client() as c:
        top = f"{unique_dir}/input"
        assert gkfs_tree(c, top) == tree_digest(src)
        assert gkfs_link_groups(c, top) == EXPECTED_GROUPS
        assert c.stat(f"{top}/a/three").st_nlink == 3
        assert c.stat(f"{top}/a/single").st_nlink == 1
    assert summary(fs.ctl("stage-in", *args, str(src), unique_dir))["skipped"] == 7
    out = tmp_path / "results"
    assert summary(fs.ctl("stage-out", *args, f"{unique_dir}/input", str(out)))["files"] == 7
    assert tree_digest(out / "input") == tree_digest(src)
    assert local_link_groups(out / "input") == EXPECTED_GROUPS
    assert summary(fs.ctl("stage-out", *args, f"{unique_dir}/input", str(out)))["skipped"] == 7
    # A name that became a file of its own in the destination is linked again.
    (out / "input" / "b" / "two").unlink()
    (out / "input" / "b" / "two").write_bytes(b"two names")
    again = fs.ctl("stage-out", *args, f"{unique_dir}/input", str(out))
    assert summary(again)["skipped"] == 6 and "1 linked" in again.stdout
    assert local_link_groups(out / "input") == EXPECTED_GROUPS
