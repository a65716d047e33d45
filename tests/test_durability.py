"""Durability: fsync, fdatasync and friends on a gkfs file make its data and metadata durable
on the daemons' storage. strace (apt: strace) attached to the daemons shows the system calls
they make; the Health reply's sync counter shows the requests that reached them."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from conftest import HANG_GUARD_S, compile_c, require_program, unavailable

CHUNK = 64 * 1024


def daemon_pids(fs) -> list[int]:
    state = json.loads(Path(fs.hosts_file + ".pids.json").read_text())
    return [d["pid"] for d in state["daemons"]]


@contextlib.contextmanager
def traced_syncs(fs, tmp_path: Path) -> Iterator[list[str]]:
    """strace -ff -y on every daemon of fs for fsync, fdatasync and syncfs; the list it yields
    is filled with strace's lines (each fd decoded to its path) once the block ends."""
    require_program("strace", "strace")
    out = tmp_path / f"strace-{time.monotonic_ns()}.txt"
    log = out.with_suffix(".log")
    pids = daemon_pids(fs)
    # -ff: one file per thread, so that no call is split into "unfinished" and "resumed".
    argv = ["strace", "-ff", "-y", "-e", "trace=fsync,fdatasync,syncfs", "-o", str(out)]
    for pid in pids:
        argv += ["-p", str(pid)]
    with open(log, "w") as err:
        tracer = subprocess.Popen(argv, stderr=err)
    lines: list[str] = []
    try:
        # Attached once strace says so for every daemon (all of its threads, with -f).
        deadline = time.monotonic() + HANG_GUARD_S / 6
        while not all(f"Process {pid} attached" in log.read_text() for pid in pids):
            if "Operation not permitted" in log.read_text():
                unavailable(f"strace may not attach to the daemons (ptrace): {log.read_text()}")
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
        for per_thread in sorted(tmp_path.glob(out.name + ".*")):
            lines.extend(per_thread.read_text().splitlines())


def chunk_files(fs, file_id: int) -> list[str]:
    """Every chunk file of file_id on every daemon of fs."""
    name = f"{file_id:016x}"
    return sorted(str(p) for p in Path(fs.rootdir).glob(f"d*/chunks/{name}/*"))


def chunk_dirs(fs, file_id: int) -> set[str]:
    """The chunk directories holding file_id's chunks, and the chunk stores above them."""
    dirs = {str(Path(f).parent) for f in chunk_files(fs, file_id)}
    return dirs | {str(Path(d).parent) for d in dirs}


def file_id_of(fs, path: str) -> int:
    with fs.client() as c:
        return c.stat(path).st_ino


def syncs_per_daemon(fs) -> list[int]:
    with fs.client() as c:
        return [d.syncs for d in c.daemons()]


def dd(fs, name: str, *args: str) -> None:
    """dd of CHUNK-sized blocks of random bytes into the file system's file `name`."""
    result = fs.run(["dd", "if=/dev/urandom", f"of={fs.mountdir}/{name}", f"bs={CHUNK}",
                     "status=none", *args])
    assert result.returncode == 0, result.stderr


def synced_paths(lines: list[str], call: str) -> set[str]:
    """The paths strace saw passed to `call` (fsync, fdatasync, syncfs) that returned 0."""
    paths = set()
    for line in lines:
        start = line.find(f"{call}(")
        if start < 0 or not line.rstrip().endswith("= 0"):
            continue
        inner = line[start + len(call) + 1:]
        if "<" in inner and ">" in inner:
            paths.add(inner[inner.index("<") + 1:inner.index(">")])
    return paths


def test_dd_conv_fsync_makes_the_daemons_fsync_the_chunk_files(make_fs, tmp_path):
    fs = make_fs(daemons=2, chunk_size=CHUNK)
    with traced_syncs(fs, tmp_path) as lines:
        dd(fs, "written", "count=8", "conv=fsync")
    file_id = file_id_of(fs, "/written")
    files = chunk_files(fs, file_id)
    assert len(files) == 8
    synced = synced_paths(lines, "fsync")
    # The chunk files, and the directories that got new names (the files, the file's directory).
    expected = set(files) | chunk_dirs(fs, file_id)
    assert expected <= synced, f"not synced: {sorted(expected - synced)}\n" + "\n".join(lines)
    assert syncs_per_daemon(fs) == [1, 1]  # one request per daemon, each counted


def test_dd_conv_fdatasync_uses_fdatasync_on_the_chunk_files(make_fs, tmp_path):
    fs = make_fs(daemons=2, chunk_size=CHUNK)
    with traced_syncs(fs, tmp_path) as lines:
        dd(fs, "written", "count=4", "conv=fdatasync")
    files = set(chunk_files(fs, file_id_of(fs, "/written")))
    assert len(files) == 4
    assert files <= synced_paths(lines, "fdatasync"), "\n".join(lines)
    assert not files & synced_paths(lines, "fsync")


def test_a_later_fsync_syncs_only_what_was_written_since(make_fs, tmp_path):
    fs = make_fs(daemons=2, chunk_size=CHUNK)
    dd(fs, "file", "count=6", "conv=fsync")
    file_id = file_id_of(fs, "/file")
    with traced_syncs(fs, tmp_path) as lines:
        dd(fs, "file", "count=1", "seek=2", "conv=notrunc,fsync")
    rewritten = [f for f in chunk_files(fs, file_id) if f.endswith("/2")]
    synced = synced_paths(lines, "fsync")
    assert set(rewritten) == synced & set(chunk_files(fs, file_id)), "\n".join(lines)
    assert not synced & chunk_dirs(fs, file_id), "no new names, no directory sync"


def test_sync_mode_none_answers_without_syncing(make_fs, tmp_path):
    fs = make_fs(daemons=2, chunk_size=CHUNK, args=["--sync-mode", "none"])
    with traced_syncs(fs, tmp_path) as lines:
        dd(fs, "scratch", "count=4", "conv=fsync")
    file_id = file_id_of(fs, "/scratch")
    paths = synced_paths(lines, "fsync") | synced_paths(lines, "fdatasync")
    assert not paths & (set(chunk_files(fs, file_id)) | chunk_dirs(fs, file_id))
    assert syncs_per_daemon(fs) == [1, 1]  # the requests still reach the daemons
    status = fs.ctl("status")
    assert status.returncode == 0 and status.stdout.count(" syncs=1 ") == 2, status.stdout


def test_stdio_fflush_then_fsync_of_fileno(make_fs, tmp_path):
    fs = make_fs(daemons=2, chunk_size=CHUNK)
    source = tmp_path / "stdio_fsync.c"
    source.write_text(r"""
#include <stdio.h>
#include <unistd.h>
int main(int argc, char** argv) {
  FILE* f = fopen(argv[1], "w");
  if (f == NULL) return 1;
  for (int i = 0; i < 20000; ++i) fprintf(f, "line %05d of a log\n", i);
  if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fdatasync(fileno(f)) != 0) return 2;
  return fclose(f) == 0 ? 0 : 3;
}
""")
    program = compile_c(source, tmp_path / "stdio_fsync")
    with traced_syncs(fs, tmp_path) as lines:
        result = fs.run([program, f"{fs.mountdir}/log.txt"])
        assert result.returncode == 0, result.stderr
    with fs.client() as c:
        assert c.stat("/log.txt").st_size == 20000 * len("line 00000 of a log\n")
    files = set(chunk_files(fs, file_id_of(fs, "/log.txt")))
    assert len(files) == 7
    assert files <= synced_paths(lines, "fsync"), "\n".join(lines)


def test_gkfs_client_fsync_of_paths_and_file_objects(make_fs):
    fs = make_fs(daemons=2, chunk_size=CHUNK)
    with fs.client() as c, fs.client() as other:
        c.mkdir("/d")
        with c.open("/d/notes.txt", "w") as f:
            f.write("buffered, not yet written\n")
            assert other.read_bytes("/d/notes.txt") == b""
            c.fsync(f)  # flushes Python's buffers first, then syncs
            assert other.read_bytes("/d/notes.txt") == b"buffered, not yet written\n"
            c.fdatasync(f)
        c.fsync("/d/notes.txt")
        c.fsync("/d")  # a directory: every daemon's metadata log
        c.sync()
        assert [d.syncs for d in c.daemons()] == [5, 5]
        with pytest.raises(ValueError):
            c.fsync(f)  # closed
        with pytest.raises(FileNotFoundError):
            c.fsync("/missing")
        with pytest.raises(TypeError):
            c.fsync(3)
    assert fs.ctl("status").stdout.count(" syncs=5 ") == 2


def test_coreutils_sync_of_a_file_and_of_the_file_system(make_fs, tmp_path):
    fs = make_fs(daemons=2, chunk_size=CHUNK)
    dd(fs, "f", "count=2")
    target = f"{fs.mountdir}/f"
    with traced_syncs(fs, tmp_path) as lines:
        for argv in (["sync", target], ["sync", "-f", target], ["sync"]):
            result = fs.run(argv)
            assert result.returncode == 0, f"{argv}: {result.stderr}"
    files = set(chunk_files(fs, file_id_of(fs, "/f")))
    assert files <= synced_paths(lines, "fsync"), "\n".join(lines)
    chunk_stores = {str(Path(fs.rootdir) / f"d{i}" / "chunks") for i in range(2)}
    # sync -f (syncfs of the file's file system) and sync (every file system) reach every daemon.
    assert sum(1 for line in lines if "syncfs(" in line and line.rstrip().endswith("= 0")) >= 4
    assert chunk_stores <= synced_paths(lines, "syncfs")
    assert syncs_per_daemon(fs) == [3, 3]


def test_a_daemon_down_fails_only_the_fsyncs_that_need_it(make_fs):
    import errno

    from gkfs import _core

    fs = make_fs(daemons=3, chunk_size=CHUNK)
    state = json.loads(Path(fs.hosts_file + ".pids.json").read_text())
    with fs.client() as c:
        uris = [d.uri for d in c.daemons()]  # placement order
        placement = _core.Placement(len(uris))

        def one_chunk_file(path: str) -> tuple[int, int]:
            """(metadata owner, chunk owner) of a new 100-byte file."""
            c.write_bytes(path, b"x" * 100)
            return placement.metadata_owner(path), placement.chunk_owner(c.stat(path).st_ino, 0)

        # A file on two daemons, the third (idle) holding nothing of it ...
        owners = [one_chunk_file(f"/small{n}") for n in range(64)]
        small = next(n for n, o in enumerate(owners) if o[0] != o[1])
        idle = ({0, 1, 2} - set(owners[small])).pop()
        # ... and a file whose chunk is on the idle daemon (its metadata elsewhere).
        on_idle = next(n for n, o in enumerate(owners) if o[1] == idle and o[0] != idle)
        record = next(d for d in state["daemons"] if d.get("uri") == uris[idle])
        stop = fs.ctl("stop", "--daemon", str(record["index"]))
        assert stop.returncode == 0, stop.stdout + stop.stderr
        c.fsync(f"/small{small}")
        with pytest.raises(OSError) as failed:
            c.fsync(f"/small{on_idle}")
        assert failed.value.errno in (errno.EHOSTDOWN, errno.EIO)
