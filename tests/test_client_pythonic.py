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


def test_binary_lines_take_a_handful_of_requests(client, d):
    lines = [b"line %06d of a 200 KB file\n" % i for i in range(7500)]
    path = f"{d}/lines.txt"
    client.write_bytes(path, b"".join(lines))
    with client.open(path, "rb") as f:
        counter = count_requests(f)
        assert list(f) == lines
    assert counter.requests <= 4, counter.requests


def test_binary_writes_are_buffered(client, d):
    path = f"{d}/small-writes"
    with client.open(path, "wb") as f:
        counter = count_requests(f)
        for i in range(1000):
            f.write(b"%04d\n" % i)
    assert counter.requests <= 2, counter.requests
    assert client.read_bytes(path) == b"".join(b"%04d\n" % i for i in range(1000))


def test_binary_modes_give_python_file_types(client, d):
    path = f"{d}/types"
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


def test_pathlike_paths_everywhere(client, d):
    top = pathlib.PurePosixPath(d)
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


def test_scandir_yields_entries(client, d):
    client.mkdir(f"{d}/sub")
    client.write_bytes(f"{d}/file", b"12345")
    client.symlink("file", f"{d}/link")
    with client.scandir(pathlib.PurePosixPath(d)) as entries:
        by_name = {e.name: e for e in entries}
    assert sorted(by_name) == ["file", "link", "sub"]
    sub, file, link = by_name["sub"], by_name["file"], by_name["link"]
    assert sub.path == f"{d}/sub" and sub.is_dir() and not sub.is_file()
    assert file.is_file() and not file.is_dir() and not file.is_symlink()
    assert link.is_symlink() and link.is_file() and not link.is_file(follow_symlinks=False)
    assert file.stat().st_size == 5 and stat.S_ISREG(file.stat().st_mode)
    assert file.inode() == client.stat(f"{d}/file").st_ino
    assert repr(file) == "<DirEntry 'file'>"


def test_walk_matches_os_walk(client, d):
    for path in ("a/x", "a/y/z", "b"):
        client.makedirs(f"{d}/{path}")
    for path in ("f0", "a/f1", "a/y/f2", "a/y/z/f3"):
        client.write_bytes(f"{d}/{path}", b"")
    top_down = [(p, sorted(ds), sorted(fs)) for p, ds, fs in client.walk(d)]
    assert top_down == [
        (d, ["a", "b"], ["f0"]),
        (f"{d}/a", ["x", "y"], ["f1"]),
        (f"{d}/a/x", [], []),
        (f"{d}/a/y", ["z"], ["f2"]),
        (f"{d}/a/y/z", [], ["f3"]),
        (f"{d}/b", [], []),
    ]
    bottom_up = [p for p, _, _ in client.walk(pathlib.PurePosixPath(d), topdown=False)]
    assert bottom_up == [f"{d}/a/x", f"{d}/a/y/z", f"{d}/a/y", f"{d}/a", f"{d}/b", d]
    pruned = []
    for path, dirs, _ in client.walk(d):
        pruned.append(path)
        dirs[:] = [x for x in dirs if x != "a"]
    assert pruned == [d, f"{d}/b"]
    errors: list[OSError] = []
    assert list(client.walk(f"{d}/missing", onerror=errors.append)) == []
    assert isinstance(errors[0], FileNotFoundError)


def test_text_modes_take_buffering_like_open(client, d):
    path = f"{d}/text"
    with client.open(path, "w", buffering=1) as f:
        assert f.line_buffering
        f.write("one\n")
        assert client.read_bytes(path) == b"one\n"  # a line reached the daemons at once
    with client.open(path, "r", 64) as f:
        assert f.buffer.raw.name == path and f.read() == "one\n"
