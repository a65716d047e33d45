"""gkfs.Client (no preload library) against real daemons."""

from __future__ import annotations

import errno
import io
import os
import stat
import threading

import pytest

import gkfs
from conftest import eventually, pattern, requests_by_verb, requests_during


@pytest.fixture(scope="module")
def small(fs_small_chunks):
    with fs_small_chunks.client() as c:
        yield c


def test_client_sees_all_daemons(fs, client):
    infos = client.daemons()
    assert len(infos) == fs.daemons
    assert all(d.up for d in infos), [d.error for d in infos]
    assert client.config.num_daemons == fs.daemons
    assert client.config.chunk_size == 512 * 1024
    assert client.config.mountdir == fs.mountdir


def test_ping_carries_payload_both_ways(fs, client):
    for daemon in range(len(client.daemons())):
        assert client.ping(daemon, 1 << 20, 3 << 20) == 3 << 20
        assert client.ping(daemon) == 0
    with pytest.raises(OSError):
        client.ping(len(client.daemons()))


def test_write_and_read_back(client, client_dir):
    data = pattern(3 * 512 * 1024 + 777)
    assert client.write_bytes(f"{client_dir}/f", data) == len(data)
    assert client.read_bytes(f"{client_dir}/f") == data
    assert client.stat(f"{client_dir}/f").st_size == len(data)


@pytest.mark.parametrize("offset", [0, 1, 4095, 4096, 10_000])
def test_many_chunks_unaligned(small, unique_dir, offset):
    small.makedirs(unique_dir, exist_ok=True)
    path = f"{unique_dir}/f{offset}"
    data = pattern(64 * 4096 + 123, seed=offset)
    with small.open(path, "wb") as f:
        f.seek(offset)
        assert f.write(data) == len(data)
    with small.open(path, "rb") as f:
        assert f.read(offset) == b"\0" * offset
        assert f.read() == data
    with small.open(path, "rb") as f:  # a read that starts and ends inside chunks
        f.seek(offset + 4000)
        assert f.read(9000) == data[4000:13000]


def test_more_pieces_than_one_request_carries(small, unique_dir):
    # 4 KiB chunks over 4 daemons: 6 144 pieces, ~1 536 per daemon, more than the 1 024 one
    # chunk request carries, so each daemon gets two requests per write and per read.
    small.makedirs(unique_dir, exist_ok=True)
    path = f"{unique_dir}/pieces"
    data = pattern(6144 * 4096 - 100, seed=7)
    with small.open(path, "wb") as f:
        f.seek(50)
        assert f.write(data) == len(data)
    with small.open(path, "rb") as f:
        f.seek(50)
        assert f.read() == data


def test_chunks_spread_over_daemons(small, unique_dir):
    # Daemons count their chunk bytes in the background (at most ~2 s old): wait for it.
    before = [d.chunk_bytes for d in small.daemons()]
    small.makedirs(unique_dir, exist_ok=True)
    small.write_bytes(f"{unique_dir}/spread", pattern(256 * 4096))
    grew = eventually(lambda: all(a.chunk_bytes > b for a, b in zip(small.daemons(), before)))
    assert grew, (before, [d.chunk_bytes for d in small.daemons()])


def test_holes_read_as_zeros(client, client_dir):
    path = f"{client_dir}/sparse"
    with client.open(path, "wb") as f:
        f.seek(2 * 512 * 1024 + 100)
        f.write(b"tail")
    data = client.read_bytes(path)
    assert len(data) == 2 * 512 * 1024 + 104
    assert data[:-4] == b"\0" * (len(data) - 4)
    assert data[-4:] == b"tail"


def test_read_past_end_is_short(client, client_dir):
    client.write_bytes(f"{client_dir}/short", b"0123456789")
    with client.open(f"{client_dir}/short", "rb") as f:
        f.seek(6)
        assert f.read(100) == b"6789"
        assert f.read(100) == b""
        f.seek(1000)
        assert f.read(10) == b""


def test_append(client, client_dir):
    path = f"{client_dir}/log"
    with client.open(path, "ab") as f:
        f.write(b"one\n")
    with client.open(path, "ab") as f:
        f.write(b"two\n")
        assert f.tell() == 8
    with client.open(path, "a+b") as f:
        f.write(b"three\n")
        f.seek(0)
        assert f.read() == b"one\ntwo\nthree\n"


def test_concurrent_appends_do_not_overlap(client, client_dir):
    path = f"{client_dir}/shared-log"
    client.write_bytes(path, b"")
    records = [bytes([65 + t]) * 100 for t in range(4)]

    def writer(record: bytes) -> None:
        with client.open(path, "ab") as f:
            for _ in range(25):
                f.write(record)

    threads = [threading.Thread(target=writer, args=(r,)) for r in records]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = client.read_bytes(path)
    assert len(data) == 4 * 25 * 100
    blocks = {data[i:i + 100] for i in range(0, len(data), 100)}
    assert blocks == set(records)


def test_truncate(client, client_dir):
    path = f"{client_dir}/trunc"
    data = pattern(2 * 512 * 1024 + 5)
    client.write_bytes(path, data)
    client.truncate(path, 512 * 1024 + 3)
    assert client.read_bytes(path) == data[:512 * 1024 + 3]
    client.truncate(path, 600 * 1024)  # growing exposes zeros, not the old bytes
    grown = client.read_bytes(path)
    assert len(grown) == 600 * 1024
    assert grown[512 * 1024 + 3:] == b"\0" * (600 * 1024 - 512 * 1024 - 3)
    with client.open(path, "r+b") as f:
        f.seek(10)
        f.truncate()
    assert client.read_bytes(path) == data[:10]


def test_open_modes(client, client_dir):
    path = f"{client_dir}/modes"
    with pytest.raises(FileNotFoundError):
        client.open(path, "rb")
    with client.open(path, "xb") as f:
        f.write(b"hello world")
    with pytest.raises(FileExistsError):
        client.open(path, "xb")
    with client.open(path, "r+b") as f:
        f.seek(6)
        f.write(b"gkfs!")
        f.seek(0)
        assert f.read() == b"hello gkfs!"
    with client.open(path, "w+b") as f:  # truncates
        assert f.read() == b""
        f.write(b"new")
        assert f.seek(0, io.SEEK_END) == 3
    with client.open(path, "rb") as f:
        with pytest.raises(io.UnsupportedOperation):
            f.write(b"x")
    with client.open(path, "wb") as f:
        with pytest.raises(io.UnsupportedOperation):
            f.read()
    with pytest.raises(ValueError):
        client.open(path, "rw")
    for mode in ("rb", "wb", "ab"):
        with pytest.raises(IsADirectoryError):
            client.open(client_dir, mode)


def test_text_mode(client, client_dir):
    path = f"{client_dir}/text.txt"
    with client.open(path, "w") as f:
        f.write("zeile 1 — ü\nline 2\n")
    with client.open(path) as f:
        assert f.readlines() == ["zeile 1 — ü\n", "line 2\n"]


def test_stat(client, client_dir):
    path = f"{client_dir}/st"
    client.write_bytes(path, b"x" * 1234)
    st = client.stat(path)
    assert stat.S_ISREG(st.st_mode)
    assert st.st_size == 1234
    assert st.st_ino != 0
    assert st.st_mtime_ns > 0
    assert stat.S_ISDIR(client.stat(client_dir).st_mode)
    with pytest.raises(FileNotFoundError):
        client.stat(f"{client_dir}/missing")
    assert client.exists(path) and not client.exists(f"{client_dir}/missing")


def test_listdir_merges_all_daemons(client, client_dir):
    names = [f"file{i:03d}" for i in range(60)] + ["sub"]
    for name in names[:-1]:
        client.write_bytes(f"{client_dir}/{name}", b"")
    client.mkdir(f"{client_dir}/sub")
    assert client.listdir(client_dir) == sorted(names)
    entries = {entry.name: entry for entry in client.scandir(client_dir)}
    assert entries["sub"].is_dir() and not entries["sub"].is_file()
    assert entries["file000"].is_file() and not entries["file000"].is_dir()


def test_listdir_larger_than_a_page(client, client_dir):
    names = {f"n{i:05d}" for i in range(3000)}
    for name in names:
        client.open(f"{client_dir}/{name}", "wb").close()
    assert client.listdir(client_dir) == sorted(names)
    assert [e.name for e in client.scandir(client_dir, page_size=256)] == sorted(names)


def test_mkdir_rmdir(client, client_dir):
    client.makedirs(f"{client_dir}/a/b/c")
    with pytest.raises(FileExistsError):
        client.mkdir(f"{client_dir}/a")
    client.makedirs(f"{client_dir}/a/b", exist_ok=True)
    with pytest.raises(OSError) as info:
        client.rmdir(f"{client_dir}/a")
    assert info.value.errno == errno.ENOTEMPTY
    client.rmdir(f"{client_dir}/a/b/c")
    client.rmdir(f"{client_dir}/a/b")
    client.rmdir(f"{client_dir}/a")
    assert not client.exists(f"{client_dir}/a")
    with pytest.raises(FileNotFoundError):
        client.rmdir(f"{client_dir}/a")
    client.write_bytes(f"{client_dir}/plain", b"")
    with pytest.raises(NotADirectoryError):
        client.rmdir(f"{client_dir}/plain")


def test_remove(client, client_dir):
    path = f"{client_dir}/gone"
    client.write_bytes(path, pattern(700 * 1024))
    client.remove(path)
    with pytest.raises(FileNotFoundError):
        client.stat(path)
    with pytest.raises(FileNotFoundError):
        client.remove(path)
    with pytest.raises(IsADirectoryError):
        client.remove(client_dir)
    client.write_bytes(path, b"again")  # a new file of the same name has no old chunks
    assert client.read_bytes(path) == b"again"


def test_rename(client, client_dir):
    data = pattern(600 * 1024)
    client.write_bytes(f"{client_dir}/old", data)
    client.rename(f"{client_dir}/old", f"{client_dir}/new")
    assert not client.exists(f"{client_dir}/old")
    assert client.read_bytes(f"{client_dir}/new") == data
    client.write_bytes(f"{client_dir}/other", b"replaced soon")
    client.rename(f"{client_dir}/new", f"{client_dir}/other")
    assert client.read_bytes(f"{client_dir}/other") == data
    with pytest.raises(FileNotFoundError):
        client.rename(f"{client_dir}/old", f"{client_dir}/x")


def test_chown(client, client_dir):
    path = f"{client_dir}/owned"
    client.write_bytes(path, b"")
    client.chmod(path, 0o6755)
    before = client.stat(path)
    client.chown(path, 1234, -1)
    st = client.stat(path)
    assert (st.st_uid, st.st_gid) == (1234, before.st_gid)
    assert stat.S_IMODE(st.st_mode) == 0o6755  # stored as given: chown(2)'s rules are the preload's
    assert st.st_ctime_ns >= before.st_ctime_ns
    client.chown(path, -1, 4321)
    assert (client.stat(path).st_uid, client.stat(path).st_gid) == (1234, 4321)
    with pytest.raises(FileNotFoundError):
        client.chown(f"{client_dir}/missing", 0, 0)


def test_directory_times_follow_its_entries(client, client_dir):
    def times(path):
        st = client.stat(path)
        return st.st_mtime_ns, st.st_ctime_ns

    t0 = times(client_dir)
    client.write_bytes(f"{client_dir}/new", b"")
    t1 = times(client_dir)
    assert t1[0] > t0[0] and t1[1] > t0[1]
    # an existing file: the directory does not change
    client.open(f"{client_dir}/new", "ab").close()
    client.write_bytes(f"{client_dir}/new", b"rewritten")
    with pytest.raises(FileExistsError):
        client.mkdir(f"{client_dir}/new")
    with pytest.raises(FileNotFoundError):
        client.remove(f"{client_dir}/missing")
    assert times(client_dir) == t1
    sub = f"{client_dir}/sub"
    for change, changed in [(lambda: client.mkdir(sub), [client_dir]),
                            (lambda: client.rename(f"{client_dir}/new", f"{sub}/moved"),
                             [client_dir, sub]),
                            (lambda: client.remove(f"{sub}/moved"), [sub]),
                            (lambda: client.rmdir(sub), [client_dir])]:
        before = [times(p) for p in changed]
        change()
        assert all(times(p)[0] > t[0] for p, t in zip(changed, before))


def test_reads_update_atime_as_relatime(client, client_dir):
    path = f"{client_dir}/read-me"
    client.write_bytes(path, b"data")
    client.utime(path, (10**9, 2 * 10**9))  # atime before mtime: the next read sets it
    client.read_bytes(path)
    first = client.stat(path).st_atime_ns
    assert first > 2 * 10**9
    client.read_bytes(path)  # atime is after mtime and ctime, and recent: unchanged
    assert client.stat(path).st_atime_ns == first


def test_statfs(client, client_dir):
    client.write_bytes(f"{client_dir}/counted", b"1")
    stats = client.statfs()
    assert stats.block_size > 0
    assert stats.total_bytes >= stats.free_bytes > 0
    assert stats.files >= 2


def test_name_too_long(client, client_dir):
    with pytest.raises(OSError) as info:
        client.open(f"{client_dir}/{'n' * 256}", "wb")
    assert info.value.errno == errno.ENAMETOOLONG
    with pytest.raises(OSError) as info:
        client.mkdir(f"{client_dir}/{'n' * 256}")
    assert info.value.errno == errno.ENAMETOOLONG
    deep = client_dir + ("/" + "p" * 200) * 21  # > PATH_MAX (4096) with every name <= NAME_MAX
    with pytest.raises(OSError) as info:
        client.stat(deep)
    assert info.value.errno == errno.ENAMETOOLONG
    client.write_bytes(f"{client_dir}/{'n' * 255}", b"ok")  # NAME_MAX itself is fine


def test_errors_carry_the_path(client, client_dir):
    with pytest.raises(FileNotFoundError) as info:
        client.stat(f"{client_dir}/nope")
    assert info.value.filename == f"{client_dir}/nope"
    assert info.value.errno == errno.ENOENT


def test_relative_path_is_rejected(client):
    with pytest.raises(OSError) as info:
        client.stat("relative/path")
    assert info.value.errno == errno.EINVAL


def test_threads_share_a_client(client, client_dir):
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            data = pattern(200 * 1024, seed=t)
            client.write_bytes(f"{client_dir}/thread{t}", data)
            assert client.read_bytes(f"{client_dir}/thread{t}") == data
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_closed_client_refuses_calls(fs):
    c = fs.client()
    c.close()
    with pytest.raises(ValueError):
        c.stat("/")


def test_buffers_of_any_kind(client, client_dir):
    path = f"{client_dir}/buffers"
    with client.open(path, "wb") as f:
        f.write(bytearray(b"ab"))
        f.write(memoryview(b"xxcdxx")[2:4])
    buf = bytearray(4)
    with client.open(path, "rb") as f:
        assert f.readinto(buf) == 4
    assert bytes(buf) == b"abcd"
    assert os.fsencode("abcd") == client.read_bytes(path)


def test_a_new_client_asks_each_daemon_for_the_configuration_once(make_fs):
    """Connecting asks a few daemons at once (the first good answer wins) and takes the
    others' answers, when they are already in, as their introductions (--auto-sm): a client that
    reaches every daemon asks each once (3 at connect, the 4th on its first call), plus at most
    one more for each of the two connect answers that came in after the first."""
    fs = make_fs(4)
    with fs.client() as observer:
        before = requests_by_verb(observer._core, range(4)).get("FsConfig", 0)
        with fs.client() as c:
            for i in range(64):  # paths of every daemon
                with pytest.raises(FileNotFoundError):
                    c.stat(f"/absent{i}")
        asked = requests_by_verb(observer._core, range(4)).get("FsConfig", 0) - before
        assert 4 <= asked <= 6, asked


def test_small_read_is_one_request_when_one_daemon_holds_chunk_and_inode(make_fs):
    fs = make_fs(1)
    with fs.client() as c:
        data = pattern(64 * 1024)
        c.write_bytes("/r", data)
        got = bytearray()

        def read_in_blocks() -> None:
            with c.open("/r", "rb", buffering=0) as f:
                for _ in range(16):
                    got.extend(f.read(4096))

        grew = requests_during(c._core, [0], read_in_blocks)
        assert bytes(got) == data
        assert {verb: grew.get(verb, 0) for verb in ("ReadChunks", "StatForRead")} == \
            {"ReadChunks": 16, "StatForRead": 0}
