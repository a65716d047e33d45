"""gkfs.Client follows symbolic links in paths as Linux does (issue 10, "One POSIX layer"):
stat, open, listdir, chmod, utime and truncate follow them, lstat, readlink, remove, rename,
link and chown(follow_symlinks=False) do not; links in the middle of a path are followed by
every call. The walk is the core's (common/link_walk.h), the one the preload uses. Each case
runs on gkfs.Client and on a local directory with os, and must come out the same."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from typing import Any, Callable

import pytest

from conftest import requests_during


class Local:
    """The calls the cases make, on a local directory through os (the reference)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def abs(self, path: str) -> str:  # an absolute link target naming path in the tree
        return self.root + path

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(path: str, *args: Any, **kwargs: Any) -> Any:
            return getattr(os, name)(self.root + path, *args, **kwargs)
        return call

    def read(self, path: str) -> bytes:
        with open(self.root + path, "rb") as f:
            return f.read()

    def write(self, path: str, data: bytes) -> None:
        with open(self.root + path, "wb") as f:
            f.write(data)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(self.root + path))

    def rename(self, src: str, dst: str) -> None:
        os.rename(self.root + src, self.root + dst)

    def link(self, src: str, dst: str) -> None:
        os.link(self.root + src, self.root + dst, follow_symlinks=False)

    def symlink(self, target: str, path: str) -> None:
        os.symlink(target, self.root + path)


class Gkfs:
    """The same calls on gkfs.Client, under a directory of its own."""

    def __init__(self, client: Any, root: str) -> None:
        self.c, self.root = client, root

    def abs(self, path: str) -> str:
        return self.c.config.mountdir.rstrip("/") + self.root + path

    def stat(self, path: str) -> os.stat_result:
        return self.c.stat(self.root + path)

    def lstat(self, path: str) -> os.stat_result:
        return self.c.lstat(self.root + path)

    def readlink(self, path: str) -> str:
        return self.c.readlink(self.root + path)

    def read(self, path: str) -> bytes:
        return self.c.read_bytes(self.root + path)

    def write(self, path: str, data: bytes) -> None:
        self.c.write_bytes(self.root + path, data)

    def listdir(self, path: str) -> list[str]:
        return self.c.listdir(self.root + path)

    def mkdir(self, path: str) -> None:
        self.c.mkdir(self.root + path)

    def remove(self, path: str) -> None:
        self.c.remove(self.root + path)

    def rmdir(self, path: str) -> None:
        self.c.rmdir(self.root + path)

    def rename(self, src: str, dst: str) -> None:
        self.c.rename(self.root + src, self.root + dst)

    def link(self, src: str, dst: str) -> None:
        self.c.link(self.root + src, self.root + dst)

    def symlink(self, target: str, path: str) -> None:
        self.c.symlink(target, self.root + path)

    def chmod(self, path: str, mode: int) -> None:
        self.c.chmod(self.root + path, mode)

    def truncate(self, path: str, size: int) -> None:
        self.c.truncate(self.root + path, size)

    def utime(self, path: str, ns: tuple[int, int]) -> None:
        self.c.utime(self.root + path, ns)


def build(t: Any) -> None:
    """dir/file, and links: relative and absolute, to files and directories, chained,
    dangling, a loop, and a link in the middle of a path."""
    t.mkdir("/dir")
    t.mkdir("/dir/sub")
    t.write("/dir/file", b"content")
    t.write("/dir/sub/deep", b"deep")
    t.symlink("file", "/dir/rel")               # relative, same directory
    t.symlink("../dir/file", "/up")             # relative, through ..
    t.symlink(t.abs("/dir/file"), "/abs")       # absolute
    t.symlink("dir", "/dlink")                  # a link to a directory
    t.symlink(t.abs("/dir/sub"), "/dabs")       # absolute, to a directory
    t.symlink("dlink", "/chain")                # a link to a link
    t.symlink("missing", "/dangling")
    t.symlink("loop2", "/loop1")
    t.symlink("loop1", "/loop2")
    t.symlink("self", "/self")


def comparable(value: Any) -> Any:
    """What a local directory and gkfs must agree on: type, permissions and the size of
    a regular file of a stat result (a link's is its target's length, which differs for
    absolute targets)."""
    if isinstance(value, os.stat_result):
        return (stat.S_IFMT(value.st_mode), stat.S_IMODE(value.st_mode),
                value.st_size if stat.S_ISREG(value.st_mode) else None)
    if isinstance(value, tuple):
        return tuple(comparable(v) for v in value)
    return value


def outcome(fn: Callable[[], Any]) -> Any:
    try:
        return comparable(fn())
    except OSError as e:
        return errno.errorcode[e.errno]


CASES: list[tuple[str, Callable[[Any], Any]]] = [
    ("stat follows a relative link", lambda t: t.stat("/dir/rel")),
    ("stat follows a link through ..", lambda t: t.stat("/up")),
    ("stat follows an absolute link", lambda t: t.stat("/abs")),
    ("stat follows a chain", lambda t: t.stat("/chain/sub/deep")),
    ("a link in the middle of a path", lambda t: t.stat("/dlink/sub/deep")),
    ("an absolute link to a directory in the middle", lambda t: t.stat("/dabs/deep")),
    ("lstat does not follow", lambda t: t.lstat("/abs")),
    ("lstat follows the ancestors", lambda t: t.lstat("/dlink/rel")),
    ("readlink through a linked directory", lambda t: t.readlink("/dlink/rel")),
    ("readlink of no link", lambda t: t.readlink("/dir/file")),
    ("dangling: ENOENT", lambda t: t.stat("/dangling")),
    ("dangling, lstat", lambda t: t.lstat("/dangling")),
    ("a loop: ELOOP", lambda t: t.stat("/loop1")),
    ("a link to itself: ELOOP", lambda t: t.stat("/self")),
    ("a loop in the middle: ELOOP", lambda t: t.stat("/loop1/x")),
    ("a file as a directory through a link", lambda t: t.stat("/abs/x")),
    ("read through links", lambda t: t.read("/dlink/rel")),
    ("read a dangling link", lambda t: t.read("/dangling")),
    ("listdir of a link to a directory", lambda t: t.listdir("/chain")),
    ("write creates a dangling link's target",
     lambda t: (t.write("/dangling", b"new"), t.read("/dir/../missing"), t.lstat("/dangling"))),
    ("mkdir under a linked directory", lambda t: (t.mkdir("/dlink/made"), t.stat("/dir/made"))),
    ("remove a link removes the link only",
     lambda t: (t.remove("/abs"), t.stat("/dir/file"), outcome(lambda: t.lstat("/abs")))),
    ("remove through a linked directory",
     lambda t: (t.remove("/dlink/sub/deep"), t.listdir("/dir/sub"))),
    ("rename through linked directories",
     lambda t: (t.rename("/dlink/file", "/dabs/moved"), t.listdir("/dir/sub"))),
    ("rename a link renames the link",
     lambda t: (t.rename("/up", "/up2"), t.lstat("/up2"), t.readlink("/up2"))),
    ("link of a symbolic link links the link", lambda t: (t.link("/up", "/hard"), t.lstat("/hard"))),
    ("chmod follows", lambda t: (t.chmod("/dir/rel", 0o600), t.lstat("/dir/file"))),
    ("truncate follows", lambda t: (t.truncate("/abs", 3), t.read("/dir/file"))),
    ("utime follows", lambda t: (t.utime("/up", (10**9, 2 * 10**9)),
                                 t.stat("/dir/file").st_mtime_ns)),
]


@pytest.mark.parametrize("name, case", CASES, ids=[c[0] for c in CASES])
def test_links_as_linux(client, unique_dir, name, case):
    old_umask = os.umask(0o022)  # gkfs.Client applies none: modes compare as given
    try:
        with tempfile.TemporaryDirectory(prefix="gkfs-links-") as local_root:
            local = Local(local_root)
            client.mkdir(unique_dir)
            ours = Gkfs(client, unique_dir)
            build(local)
            build(ours)
            expected = outcome(lambda: case(local))
            got = outcome(lambda: case(ours))
    finally:
        os.umask(old_umask)
    assert got == expected


def test_a_link_out_of_the_file_system_is_enoent(client, unique_dir):
    client.mkdir(unique_dir)
    client.symlink("/etc", f"{unique_dir}/out")
    with pytest.raises(FileNotFoundError):
        client.stat(f"{unique_dir}/out/passwd")
    assert stat.S_ISLNK(client.lstat(f"{unique_dir}/out").st_mode)


def test_stat_asks_each_name_once(client, unique_dir):
    """Following links costs nothing until one is met, and then each name on the way is
    looked up once (the daemons' Stat requests per call, counted by their metrics): a miss
    also asks whether the parent is a link, a link followed asks for its parent and target."""
    client.mkdir(unique_dir)
    client.write_bytes(f"{unique_dir}/f", b"x")
    client.symlink("f", f"{unique_dir}/link")
    daemons = range(client.config.num_daemons)

    def stats(call: Callable[[], Any]) -> float:
        # Stat alone: a client's first request to a daemon also brings an FsConfig.
        return requests_during(client._core, daemons, call).get("Stat", 0)

    def missing(path: str) -> Callable[[], None]:
        def call() -> None:
            with pytest.raises(FileNotFoundError):
                client.stat(path)
        return call

    assert stats(lambda: client.stat(f"{unique_dir}/f")) == 1
    assert stats(lambda: client.lstat(f"{unique_dir}/link")) == 1
    assert stats(missing(f"{unique_dir}/absent")) == 2
    assert stats(lambda: client.stat(f"{unique_dir}/link")) == 3
    assert stats(missing("/absent")) == 1


def test_open_of_a_path_without_links_is_one_lookup(client, unique_dir):
    client.mkdir(unique_dir)
    client.write_bytes(f"{unique_dir}/f", b"x")
    daemons = range(client.config.num_daemons)

    def open_and_close() -> None:
        with client.open(f"{unique_dir}/f", "rb"):
            pass

    grew = requests_during(client._core, daemons, open_and_close)
    assert grew.get("Stat", 0) == 1, grew
