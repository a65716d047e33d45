"""The ``gkfs://`` protocol of fsspec, over :class:`gkfs.Client`.

Registered through the ``fsspec.specs`` entry point, so once gkfs is installed with its
``fsspec`` extra, ``fsspec.open("gkfs:///dir/f.csv", "w")``, ``pandas.read_csv("gkfs:///f.csv")``
and ``df.to_parquet("gkfs:///out.parquet")`` reach a running file system. A URL names a path
inside the file system (``gkfs:///dir/f`` and ``gkfs://dir/f`` are both ``/dir/f``); the file
system is named by its hosts file: ``storage_options={"hosts_file": ...}``, else
LIBGKFS_HOSTS_FILE, else GKFS_HOSTS_FILE, else ./gkfs_hosts.txt. Other storage options go to
:class:`gkfs.Client` (timeout_ms, secret_file, uid, gid, groups, ...).
"""

from __future__ import annotations

import datetime
import errno
import os
import stat as _stat
from typing import Any, Optional

from fsspec.spec import AbstractFileSystem

from gkfs.client import Client

__all__ = ["GkfsFileSystem"]


class GkfsFileSystem(AbstractFileSystem):
    """An fsspec file system over one gkfs file system; instances are cached by fsspec per
    set of storage options and share one Client (which threads may share)."""

    protocol = "gkfs"
    root_marker = "/"

    def __init__(self, hosts_file: Optional[str] = None, **client_options: Any) -> None:
        fsspec_options = {key: client_options.pop(key) for key in list(client_options)
                          if key in ("use_listings_cache", "listings_expiry_time",
                                     "max_paths", "skip_instance_cache", "asynchronous",
                                     "loop")}
        super().__init__(**fsspec_options)
        self.client = Client(hosts_file, **client_options)

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]  # type: ignore[return-value]
        path = os.fsdecode(os.fspath(path))
        if path.startswith("gkfs://"):
            path = path[len("gkfs://"):]
        path = "/" + path.lstrip("/")
        return path.rstrip("/") or "/"

    def unstrip_protocol(self, name: str) -> str:
        return "gkfs://" + self._strip_protocol(name)

    # --- listing and metadata ---------------------------------------------------------------

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        lstat = self.client.lstat(path)
        if not _stat.S_ISLNK(lstat.st_mode):
            return _info(path, lstat, islink=False)
        try:
            return _info(path, self.client.stat(path), islink=True)
        except OSError:
            return _info(path, lstat, islink=True)  # dangling: the link itself

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        if not self.client.isdir(path):
            info = self.info(path)  # FileNotFoundError for a missing path
            return [info] if detail else [info["name"]]
        with self.client.scandir(path) as entries:
            if not detail:
                return [entry.path for entry in entries]
            return [self._entry_info(entry) for entry in entries]

    def _entry_info(self, entry: Any) -> dict[str, Any]:
        if entry.is_symlink():
            return self.info(entry.path)
        return _info(entry.path, entry.stat(follow_symlinks=False), islink=False)

    def exists(self, path: str, **kwargs: Any) -> bool:
        return self.client.exists(self._strip_protocol(path))

    def isdir(self, path: str) -> bool:
        try:
            return self.info(path)["type"] == "directory"
        except OSError:
            return False

    def created(self, path: str) -> datetime.datetime:
        """gkfs keeps no birth time: the inode's change time."""
        return _time(self.client.stat(self._strip_protocol(path)).st_ctime_ns)

    def modified(self, path: str) -> datetime.datetime:
        return _time(self.client.stat(self._strip_protocol(path)).st_mtime_ns)

    def ukey(self, path: str) -> str:
        st = self.client.stat(self._strip_protocol(path))
        return f"{st.st_ino}-{st.st_size}-{st.st_mtime_ns}"

    # --- changes ------------------------------------------------------------------------------

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        if create_parents:
            self.client.makedirs(path, exist_ok=False)
        else:
            self.client.mkdir(path)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        self.client.makedirs(self._strip_protocol(path), exist_ok=exist_ok)

    def rmdir(self, path: str) -> None:
        self.client.rmdir(self._strip_protocol(path))

    def rm_file(self, path: str) -> None:
        """Removes a file, or an empty directory: fsspec's rm(recursive=True) passes both,
        deepest first."""
        path = self._strip_protocol(path)
        if self.client.isdir(path):
            self.client.rmdir(path)
        else:
            self.client.remove(path)

    _rm = rm_file

    def mv(self, path1: Any, path2: Any, recursive: bool = False, maxdepth: Optional[int] = None,
           **kwargs: Any) -> None:
        """A rename (one metadata operation, any size, directories whole) for one path;
        lists and globs as fsspec's copy-and-delete."""
        if isinstance(path1, str) and not any(c in path1 for c in "*?["):
            src, dst = self._strip_protocol(path1), self._strip_protocol(path2)
            if self.isdir(dst):
                dst = f"{dst.rstrip('/')}/{src.rsplit('/', 1)[1]}"
            self.client.rename(src, dst)
            self.invalidate_cache()
            return
        super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        src, dst = self._strip_protocol(path1), self._strip_protocol(path2)
        if self.client.isdir(src):
            self.client.makedirs(dst, exist_ok=True)
            return
        block = self.client.config.chunk_size
        with self.client.open(src, "rb", buffering=0) as fin, \
                self.client.open(dst, "wb", buffering=0) as fout:
            while True:
                data = fin.read(block)
                if not data:
                    break
                fout.write(data)

    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        if truncate or not self.client.exists(path):
            self.client.open(path, "wb").close()
        else:
            now = datetime.datetime.now().timestamp()
            self.client.utime(path, (int(now * 1e9), int(now * 1e9)))

    def _open(self, path: str, mode: str = "rb", block_size: Optional[int] = None,
              autocommit: bool = True, cache_options: Optional[dict[str, Any]] = None,
              **kwargs: Any) -> Any:
        """A buffered binary file of gkfs.Client (fsspec wraps it for text modes)."""
        if not autocommit:
            raise OSError(errno.EOPNOTSUPP, "gkfs files are written in place "
                          "(autocommit=False is not supported)", path)
        path = self._strip_protocol(path)
        return self.client.open(path, mode, buffering=block_size or -1)


def _info(path: str, st: os.stat_result, islink: bool) -> dict[str, Any]:
    if _stat.S_ISDIR(st.st_mode):
        kind = "directory"
    elif _stat.S_ISREG(st.st_mode):
        kind = "file"
    else:
        kind = "other"
    return {"name": path, "size": st.st_size if kind == "file" else 0, "type": kind,
            "islink": islink, "mode": st.st_mode, "uid": st.st_uid, "gid": st.st_gid,
            "nlink": st.st_nlink, "ino": st.st_ino, "mtime": st.st_mtime,
            "created": st.st_ctime}


def _time(ns: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.timezone.utc)
