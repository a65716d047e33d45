"""Requests per operation of IO500's metadata phases under the preload library (issue 11),
counted by the daemon's own request counters: a guard that no operation sends a request it
does not need. The per-file call sequences are IOR's POSIX backend's (md_phases.c says which
phase does what), run by one process so that its start-up and exit stay outside the counts.

With one daemon every entry, inode and chunk is on it, so each count is exact: a create is
one CreateInDir (the parent's touch rides along), a small write one WriteChunks (the size
update rides along), an open one lookup, a small read one ReadChunks (the size rides in its
reply), a close nothing (releases are batched), and an unlink one RemoveInDir, whose daemon
also removes the chunks it holds and applies the releases this process still owed it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from conftest import FileSystem, HANG_GUARD_S, compile_c, module_fs, requests_during

fs = module_fs(1)
FILES = 8  # per phase; the preload batches 64 releases, so a phase alone never sends a batch


class Phases:
    """md_phases.c under the preload, one phase at a time, with the requests each cost."""

    def __init__(self, fs: FileSystem, program: str, core) -> None:
        self.fs, self.core = fs, core
        self.proc = subprocess.Popen([program], env=fs.env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def run(self, phase: str, directory: str, first: int = 0, count: int = FILES) -> None:
        """Runs the phase over `count` files; fails if a call failed."""
        self.proc.stdin.write(f"{phase} {self.fs.mountdir}{directory} {first} {count}\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == "done 0\n", f"a call of phase {phase} failed"

    def cost(self, phase: str, directory: str, first: int = 0,
             count: int = FILES) -> dict[str, float]:
        """{verb: requests} the phase sent to daemon 0, over `count` files."""
        return requests_during(self.core, [0], lambda: self.run(phase, directory, first, count))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(HANG_GUARD_S)
        self.proc.stdout.close()


@pytest.fixture
def phases(fs: FileSystem, tmp_path: Path) -> Iterator[Phases]:
    program = compile_c(Path(__file__).with_name("md_phases.c"), tmp_path / "md_phases")
    with fs.client() as observer:
        p = Phases(fs, program, observer._core)
        try:
            yield p
        finally:
            p.close()


def test_each_phase_costs_one_request_per_call_it_needs(fs, phases, unique_dir):
    with fs.client() as c:
        c.mkdir(unique_dir, 0o755)
    d = unique_dir
    phases.cost("connect", d, 0, 1)
    n = FILES
    assert phases.cost("create", d, 100) == {"CreateInDir": n}              # mdtest-easy-write
    assert phases.cost("write", d) == {"CreateInDir": n, "WriteChunks": n}  # mdtest-hard-write
    assert phases.cost("read", d) == {"Stat": n, "ReadChunks": n}           # mdtest-hard-read
    assert phases.cost("stat", d) == {"Stat": n}                            # mdtest-*-stat


def test_unlink_is_one_request_with_or_without_data(fs, phases, unique_dir):
    """mdtest-easy-delete (empty files), mdtest-hard-delete and mdworkbench-delete (3901
    bytes each): the files were made and closed by the same process, their releases still
    queued."""
    with fs.client() as c:
        c.mkdir(unique_dir, 0o755)
    phases.cost("connect", unique_dir, 0, 1)
    phases.cost("create", unique_dir, 100)
    phases.cost("write", unique_dir)
    assert phases.cost("unlink", unique_dir, 100) == {"RemoveInDir": FILES}
    assert phases.cost("unlink", unique_dir) == {"RemoveInDir": FILES}
    with fs.client() as c:
        assert c.listdir(unique_dir) == []
        assert c.daemons()[0].orphans == 0, "no file lingers as an orphan"


def test_mdworkbench_iteration_sends_no_release_and_no_chunk_removal(fs, phases, unique_dir):
    """mdworkbench-bench: stat, open + read + close, unlink of that file, then a new file
    written: six requests (stat and open each look the name up; nothing is cached)."""
    with fs.client() as c:
        c.mkdir(unique_dir, 0o755)
    phases.cost("connect", unique_dir, 0, 1)
    phases.cost("write", unique_dir)
    n = FILES
    assert phases.cost("bench", unique_dir) == {
        "Stat": 2 * n, "ReadChunks": n, "RemoveInDir": n, "CreateInDir": n, "WriteChunks": n}
    with fs.client() as c:
        assert sorted(c.listdir(unique_dir)) == sorted(f"n{i}" for i in range(n))
        assert c.daemons()[0].orphans == 0, "the read files went at their unlink"


def test_unlinks_leave_no_chunks_and_no_orphans_on_any_daemon(fs_small_chunks, tmp_path,
                                                              unique_dir):
    """4 daemons, 4 KiB chunks: a file's chunks live at its inode's home and elsewhere, and a
    name's daemon owns its parent or not (RemoveInDir carrying the releases, or Remove with a
    Release and the parent's touch beside it). Whatever the form, a file this process read and
    then removed goes at once, with its chunks on every daemon."""
    fs = fs_small_chunks
    with fs.client() as c:
        c.mkdir(unique_dir, 0o755)
        for i in range(2 * FILES):
            c.write_bytes(f"{unique_dir}/f{i}", os.urandom(16 * 4096 + 100))
    program = compile_c(Path(__file__).with_name("md_phases.c"), tmp_path / "md_phases")
    p = Phases(fs, program, None)
    try:
        p.run("read", unique_dir, 0, 2 * FILES)    # closed: their releases are queued
        p.run("bench", unique_dir, 0, FILES)       # f0-f7 read again, removed; n0-n7 written
        p.run("unlink", unique_dir, FILES, FILES)  # f8-f15
        with fs.client() as c:
            assert sum(info.orphans for info in c.daemons()) == 0
            assert sorted(c.listdir(unique_dir)) == sorted(f"n{i}" for i in range(FILES))
            kept = {f"{c.stat(f'{unique_dir}/n{i}').st_ino:016x}" for i in range(FILES)}
    finally:
        p.close()
    with_chunks = {d.name for d in Path(fs.rootdir).glob("**/chunks/*")
                   if d.is_dir() and any(d.iterdir())}
    assert with_chunks <= kept, "chunks of removed files stayed behind"
