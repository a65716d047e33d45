"""gkfs.Client files and paths behave like Python's own (issue 14): buffered binary files,
os.PathLike paths everywhere, scandir entries and walk, against real daemons."""

from __future__ import annotations

import io
import pathlib
import stat
from typing import Any

import pytest

import gkfs


class CountingCore:
    """Passes every call through to the real client core, counting data requests."""

    def __init__(self, core: Any) -> None:
        self._core = core
        self.requests = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._core, name)
        if name not in ("read", "readinto", "write", "append"):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.requests += 1
            return attr(*args, **kwargs)
        return counted


def count_requests(f: Any) -> CountingCore:
    raw = getattr(f, "raw", f)
    raw._core = counter = CountingCore(raw._core)
    return counter


def test_binary_lines_take_a_handful_of_requests(client, client_dir):
    lines = [b"line %06d of a 200 KB file\n" % i for i in range(7500)]
    path = f"{client_dir}/lines.txt"
    client.write_bytes(path, b"".join(lines))
    with client.open(path, "rb") as f:
        counter = count_requests(f)
        assert list(f) == lines
    assert counter.requests <= 4, counter.requests


def test_binary_writes_are_buffered(client, client_dir):
    path = f"{client_dir}/small-writes"
    with client.open(path, "wb") as f:
        counter = count_requests(f)
        for i in range(1000):
            f.write(b"%04d\n" % i)
    assert counter.requests <= 2, counter.requests
    assert client.read_bytes(path) == b"".join(b"%04d\n" % i for i in range(1000))


def test_binary_modes_give_python_file_types(client, client_dir):
    path = f"{client_dir}/types"
    with client.open(path, "wb") as f:
        assert isinstance(f, io.BufferedWriter)
    with client.open(path, "rb") as f:
        assert isinstance(f, io.BufferedReader)
    with client.open(path, "r+b") as f:
        assert isinstance(f, io.BufferedRandom)
    with client.open(path, "rb", buffering=0) as f:
        assert isinstance(f, gkfs.client.GkfsFile)
    with pytest.raises(ValueError):
        client.open(path, "r", buffering=0)


def test_pathlike_paths_everywhere(client, client_dir):
    top = pathlib.PurePosixPath(client_dir)
    client.makedirs(top / "a" / "b", exist_ok=True)
    client.write_bytes(top / "a" / "f", b"data")
    with client.open(top / "a" / "f", "rb") as f:
        assert f.read() == b"data"
    assert client.read_bytes(top / "a" / "f") == b"data"
    assert client.exists(top / "a" / "f") and client.isdir(top / "a" / "b")
    assert client.stat(top / "a" / "f").st_size == 4
    assert client.listdir(top / "a") == ["b", "f"]
    client.rename(top / "a" / "f", top / "a" / "g")
    client.link(top / "a" / "g", top / "a" / "h")
    client.symlink(pathlib.PurePosixPath("g"), top / "a" / "s")
    assert client.readlink(top / "a" / "s") == "g"
    client.chmod(top / "a" / "g", 0o600)
    client.truncate(top / "a" / "g", 2)
    client.fsync(top / "a" / "g")
    assert client.read_bytes(str(top / "a" / "h").encode()) == b"da"
    for name in ("g", "h", "s"):
        client.remove(top / "a" / name)
    client.rmdir(top / "a" / "b")
    assert client.listdir(top / "a") == []


def test_scandir_yields_entries(client, client_dir):
    client.mkdir(f"{client_dir}/sub")
    client.write_bytes(f"{client_dir}/file", b"12345")
    client.symlink("file", f"{client_dir}/link")
    with client.scandir(pathlib.PurePosixPath(client_dir)) as entries:
        by_name = {e.name: e for e in entries}
    assert sorted(by_name) == ["file", "link", "sub"]
    sub, file, link = by_name["sub"], by_name["file"], by_name["link"]
    assert sub.path == f"{client_dir}/sub" and sub.is_dir() and not sub.is_file()
    assert file.is_file() and not file.is_dir() and not file.is_symlink()
    assert link.is_symlink() and link.is_file() and not link.is_file(follow_symlinks=False)
    assert file.stat().st_size == 5 and stat.S_ISREG(file.stat().st_mode)
    assert file.inode() == client.stat(f"{client_dir}/file").st_ino
    assert repr(file) == "<DirEntry 'file'>"


def test_walk_matches_os_walk(client, client_dir):
    for path in ("a/x", "a/y/z", "b"):
        client.makedirs(f"{client_dir}/{path}")
    for path in ("f0", "a/f1", "a/y/f2", "a/y/z/f3"):
        client.write_bytes(f"{client_dir}/{path}", b"")
    top_down = [(p, sorted(ds), sorted(fs)) for p, ds, fs in client.walk(client_dir)]
    assert top_down == [
        (client_dir, ["a", "b"], ["f0"]),
        (f"{client_dir}/a", ["x", "y"], ["f1"]),
        (f"{client_dir}/a/x", [], []),
        (f"{client_dir}/a/y", ["z"], ["f2"]),
        (f"{client_dir}/a/y/z", [], ["f3"]),
        (f"{client_dir}/b", [], []),
    ]
    bottom_up = [p for p, _, _ in client.walk(pathlib.PurePosixPath(client_dir), topdown=False)]
    assert bottom_up == [f"{client_dir}/a/x", f"{client_dir}/a/y/z", f"{client_dir}/a/y",
                         f"{client_dir}/a", f"{client_dir}/b", client_dir]
    pruned = []
    for path, dirs, _ in client.walk(client_dir):
        pruned.append(path)
        dirs[:] = [x for x in dirs if x != "a"]
    assert pruned == [client_dir, f"{client_dir}/b"]
    errors: list[OSError] = []
    assert list(client.walk(f"{client_dir}/missing", onerror=errors.append)) == []
    assert isinstance(errors[0], FileNotFoundError)


def test_text_modes_take_buffering_like_open(client, client_dir):
    path = f"{client_dir}/text"
    with client.open(path, "w", buffering=1) as f:
        assert f.line_buffering
        f.write("one\n")
        assert client.read_bytes(path) == b"one\n"  # a line reached the daemons at once
    with client.open(path, "r", 64) as f:
        assert f.buffer.raw.name == path and f.read() == "one\n"
