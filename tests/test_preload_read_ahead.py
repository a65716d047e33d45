"""The preload library's opt-in read-ahead (LIBGKFS_READ_AHEAD) and the coherence of reads
with it off (the default): what a process reads after another client's write completed, what
it reads after its own writes, and how many chunk requests sequential 4 KiB reads cost."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid

import pytest

from conftest import FileSystem, module_fs, pattern, requests_by_verb

WINDOW = 256 * 1024

# Reads lines "OFFSET LENGTH" from stdin and answers each with the pread's bytes (hex) on
# stdout; "reopen" opens the file again. One process, so its read-ahead window survives
# between requests.
READER = textwrap.dedent("""
    import os, sys
    path = sys.argv[1]
    fd = os.open(path, os.O_RDONLY)
    for line in sys.stdin:
        if line.strip() == "reopen":
            os.close(fd)
            fd = os.open(path, os.O_RDONLY)
            print("ok", flush=True)
            continue
        offset, length = map(int, line.split())
        print(os.pread(fd, length, offset).hex(), flush=True)
""")


fs = module_fs(2)


def env(fs: FileSystem, read_ahead: int) -> dict[str, str]:
    return dict(fs.env, LIBGKFS_READ_AHEAD=str(read_ahead))


class Reader:
    """A process under the preload library that preads one file on request."""

    def __init__(self, fs: FileSystem, path: str, read_ahead: int):
        self.proc = subprocess.Popen([sys.executable, "-c", READER, fs.mountdir + path],
                                     env=env(fs, read_ahead), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def ask(self, line: str) -> str:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def pread(self, offset: int, length: int) -> bytes:
        return bytes.fromhex(self.ask(f"{offset} {length}"))

    def close(self) -> None:
        self.proc.stdin.close()
        code = self.proc.wait(timeout=60)
        self.proc.stdout.close()
        assert code == 0


SEQUENTIAL = textwrap.dedent("""
    import hashlib, json, os, sys
    fd = os.open(sys.argv[1], os.O_RDONLY)
    h = hashlib.sha256()
    while block := os.read(fd, 4096):
        h.update(block)
    os.close(fd)
    print(json.dumps({"sha": h.hexdigest()}))
""")


@pytest.mark.parametrize("read_ahead", [0, WINDOW], ids=["off", "on"])
def test_sequential_4k_reads_return_the_file_and_count_chunk_requests(fs, read_ahead):
    import hashlib

    path = f"/ra-seq-{uuid.uuid4().hex}"
    data = pattern(1024 * 1024 + 1000)
    with fs.client() as c:
        c.write_bytes(path, data)
        before = requests_by_verb(c._core, range(2)).get("ReadChunks", 0)
        run = fs.run([sys.executable, "-c", SEQUENTIAL, fs.mountdir + path],
                     env=env(fs, read_ahead))
        assert run.returncode == 0, run.stderr
        reads = requests_by_verb(c._core, range(2)).get("ReadChunks", 0) - before
    assert json.loads(run.stdout)["sha"] == hashlib.sha256(data).hexdigest()
    blocks = -(-len(data) // 4096)
    if read_ahead == 0:
        assert reads >= blocks + 1  # every read() asks, the last one too (end of file)
    else:
        # A window per 256 KiB (one chunk request, or two across a chunk boundary) and the
        # read at the end of file, which always asks.
        assert reads <= 2 * (len(data) // WINDOW + 1) + 1


@pytest.mark.parametrize("read_ahead", [0, WINDOW], ids=["off", "on"])
def test_own_writes_and_truncation_are_seen_through_another_descriptor(fs, read_ahead):
    path = f"/ra-own-{uuid.uuid4().hex}"
    data = pattern(64 * 1024)
    code = textwrap.dedent("""
        import json, os, sys
        path = sys.argv[1]
        reader = os.open(path, os.O_RDONLY)
        writer = os.open(path, os.O_WRONLY)
        out = {"first": os.read(reader, 4096).hex()}
        os.pwrite(writer, b"N" * 4096, 8192)
        out["after_write"] = os.pread(reader, 4096, 8192).hex()
        os.ftruncate(writer, 10000)
        out["after_truncate"] = len(os.pread(reader, 4096, 8192))
        os.close(writer)
        print(json.dumps(out))
    """)
    with fs.client() as c:
        c.write_bytes(path, data)
    run = fs.run([sys.executable, "-c", code, fs.mountdir + path], env=env(fs, read_ahead))
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert bytes.fromhex(out["first"]) == data[:4096]
    assert bytes.fromhex(out["after_write"]) == b"N" * 4096
    assert out["after_truncate"] == 10000 - 8192


def test_without_read_ahead_a_read_sees_another_clients_completed_write(fs):
    path = f"/ra-off-{uuid.uuid4().hex}"
    data = pattern(64 * 1024)
    with fs.client() as c:
        c.write_bytes(path, data)
        reader = Reader(fs, path, 0)
        try:
            assert reader.pread(0, 4096) == data[:4096]
            with c.open(path, "r+b", buffering=0) as f:
                f.seek(4096)
                f.write(b"W" * 4096)
            assert reader.pread(4096, 4096) == b"W" * 4096
        finally:
            reader.close()


def test_with_read_ahead_another_clients_write_is_seen_past_the_window_or_after_reopen(fs):
    path = f"/ra-on-{uuid.uuid4().hex}"
    data = pattern(2 * WINDOW)
    with fs.client() as c:
        c.write_bytes(path, data)
        reader = Reader(fs, path, WINDOW)
        try:
            assert reader.pread(0, 4096) == data[:4096]  # fetches [0, WINDOW)
            with c.open(path, "r+b", buffering=0) as f:
                f.seek(4096)
                f.write(b"W" * 4096)
                f.seek(WINDOW)
                f.write(b"X" * 4096)
            # The documented trade: inside the window, the bytes as they were when fetched.
            assert reader.pread(4096, 4096) == data[4096:8192]
            # A read past the window asks the daemons.
            assert reader.pread(WINDOW, 4096) == b"X" * 4096
            assert reader.ask("reopen") == "ok"
            assert reader.pread(4096, 4096) == b"W" * 4096
        finally:
            reader.close()


def test_read_ahead_follows_a_growing_file(fs):
    path = f"/ra-grow-{uuid.uuid4().hex}"
    with fs.client() as c:
        c.write_bytes(path, b"a" * 5000)
        reader = Reader(fs, path, WINDOW)
        try:
            assert reader.pread(0, 4096) == b"a" * 4096
            assert reader.pread(4096, 4096) == b"a" * 904  # the end of file the window saw
            with c.open(path, "ab", buffering=0) as f:
                f.write(b"b" * 3000)
            assert reader.pread(5000, 4096) == b"b" * 3000  # at the old end: asks again
        finally:
            reader.close()


def test_gkfs_ctl_run_and_env_pass_the_option_on(fs):
    exported = fs.ctl("env", "--read-ahead", "256K")
    assert exported.returncode == 0, exported.stderr
    assert f"export LIBGKFS_READ_AHEAD={WINDOW}" in exported.stdout.splitlines()
    shown = fs.ctl("run", "--read-ahead", "1M", "--", "sh", "-c", "echo $LIBGKFS_READ_AHEAD")
    assert shown.stdout.split() == [str(1 << 20)]
    bad = fs.ctl("env", "--read-ahead", "65M")
    assert bad.returncode != 0 and "--read-ahead (LIBGKFS_READ_AHEAD) must be 0..64M" in bad.stderr


STRIDED = textwrap.dedent("""
    import json, os, sys
    fd = os.open(sys.argv[1], os.O_RDONLY)
    block, count = int(sys.argv[2]), int(sys.argv[3])
    order = range(0, count, 2) if sys.argv[4] == "forward" else range(count - 1, -1, -2)
    ok = all(os.pread(fd, block, i * block) == bytes([i % 251]) * block for i in order)
    print(json.dumps({"ok": ok}))
""")


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_read_ahead_serves_strided_forward_reads_and_leaves_backward_reads_alone(fs, direction):
    path = f"/ra-stride-{uuid.uuid4().hex}"
    block, count = 47008, 40  # ior-hard's transfer; every other block, as one of 2 ranks
    data = b"".join(bytes([i % 251]) * block for i in range(count))
    with fs.client() as c:
        c.write_bytes(path, data)
        before = requests_by_verb(c._core, range(2)).get("ReadChunks", 0)
        run = fs.run([sys.executable, "-c", STRIDED, fs.mountdir + path, str(block),
                      str(count), direction], env=env(fs, WINDOW))
        assert run.returncode == 0, run.stderr
        reads = requests_by_verb(c._core, range(2)).get("ReadChunks", 0) - before
    assert json.loads(run.stdout)["ok"]
    if direction == "forward":
        assert reads <= 2 * (len(data) // WINDOW + 1)  # a window (1-2 chunk requests) each
    else:
        assert reads >= count // 2  # each read asks


THREADS = textwrap.dedent("""
    import json, os, sys, threading
    fd = os.open(sys.argv[1], os.O_RDONLY)
    with open(sys.argv[2], "rb") as f:  # a local file, outside the mount directory
        expected = f.read()
    bad = []
    def reader(k):
        for i in range(k, len(expected) // 4096, 4):  # each thread every 4th block, forward
            if os.pread(fd, 4096, i * 4096) != expected[i * 4096:(i + 1) * 4096]:
                bad.append(i)
    threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps({"bad": bad}))
""")


def test_threads_sharing_a_descriptor_read_the_right_bytes(fs, tmp_path):
    path = f"/ra-threads-{uuid.uuid4().hex}"
    data = pattern(2 * 1024 * 1024)
    with fs.client() as c:
        c.write_bytes(path, data)
    expected = tmp_path / "expected"
    expected.write_bytes(data)
    run = fs.run([sys.executable, "-c", THREADS, fs.mountdir + path, str(expected)],
                 env=env(fs, WINDOW))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"bad": []}
