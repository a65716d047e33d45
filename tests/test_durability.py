"""Durability: fsync, fdatasync and friends on a gkfs file make its data and metadata durable
on the daemons' storage. strace (apt: strace) attached to the daemons shows the system calls
they make; the Health reply's sync counter shows the requests that reached them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from conftest import HANG_GUARD_S, require_program

CHUNK = 64 * 1024


def daemon_pids(fs) -> list[int]:
    state = json.loads(Path(fs.hosts_file + ".pids.json").read_text())
    return [d["pid"] for d in state["daemons"]]


@contextlib.contextmanager
def traced_syncs(fs, tmp_path: Path) -> Iterator[list[str]]:
    """strace -f -y on every daemon of fs for fsync and fdatasync; the list it yields is
    filled with strace's lines (each fd decoded to its path) once the block ends."""
    require_program("strace", "strace")
    out = tmp_path / f"strace-{time.monotonic_ns()}.txt"
    log = out.with_suffix(".log")
    pids = daemon_pids(fs)
    argv = ["strace", "-f", "-y", "-e", "trace=fsync,fdatasync", "-o", str(out)]
    for pid in pids:
        argv += ["-p", str(pid)]
    with open(log, "w") as err:
        tracer = subprocess.Popen(argv, stderr=err)
    lines: list[str] = []
    try:
        # Attached once strace says so for every daemon (all of its threads, with -f).
        deadline = time.monotonic() + HANG_GUARD_S / 6
        while not all(f"Process {pid} attached" in log.read_text() for pid in pids):
            assert tracer.poll() is None, f"strace exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"strace did not attach: {log.read_text()}"
            time.sleep(0.05)
        yield lines
    finally:
        tracer.send_signal(signal.SIGINT)
        try:
            tracer.wait(timeout=30)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait()
        if out.exists():
            lines.extend(out.read_text().splitlines())


def chunk_files(fs, file_id: int) -> list[str]:
    """Every chunk file of file_id on every daemon of fs."""
    name = f"{file_id:016x}"
    return sorted(str(p) for p in Path(fs.rootdir).glob(f"d*/chunks/{name}/*"))


def synced_paths(lines: list[str], call: str) -> set[str]:
    """The paths strace saw passed to `call` (fsync or fdatasync) that returned 0."""
    paths = set()
    for line in lines:
        start = line.find(f"{call}(")
        if start < 0 or not line.rstrip().endswith("= 0"):
            continue
        inner = line[start + len(call) + 1:]
        if "<" in inner and ">" in inner:
            paths.add(inner[inner.index("<") + 1:inner.index(">")])
    return paths


@pytest.mark.xfail(strict=True, reason="issue 10 bug 13: fsync returns 0 and the daemons sync nothing")
def test_dd_conv_fsync_makes_the_daemons_fsync_the_chunk_files(make_fs, tmp_path):
    fs = make_fs(daemons=2, chunk_size=CHUNK)
    target = f"{fs.mountdir}/written"
    with traced_syncs(fs, tmp_path) as lines:
        result = fs.run(["dd", "if=/dev/urandom", f"of={target}", f"bs={CHUNK}", "count=8",
                         "conv=fsync", "status=none"])
        assert result.returncode == 0, result.stderr
    with fs.client() as c:
        file_id = c.stat("/written").st_ino
    files = chunk_files(fs, file_id)
    assert len(files) == 8
    synced = synced_paths(lines, "fsync")
    assert set(files) <= synced, f"not synced: {sorted(set(files) - synced)}\n" + "\n".join(lines)
