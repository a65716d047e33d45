"""gkfs.Client: use a gkfs file system from Python without the preload library.

Paths are absolute inside the file system ("/a/b"), independent of the mount directory.
Errors are OSError subclasses with the errno a local file system would give
(FileNotFoundError, FileExistsError, IsADirectoryError, ...); an unreachable daemon raises
OSError(EHOSTDOWN) or OSError(EIO) after the client's timeout.

A Client may be shared by threads (calls release the GIL); a file object returned by
:meth:`Client.open` belongs to one thread at a time, like io's file objects.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import stat as _stat
from typing import Any, Callable, Iterator, Optional, Sequence, Union

from gkfs import _core

__all__ = ["Client", "DirEntry", "GkfsFile", "ScandirIterator", "default_hosts_file",
           "forwarding_options"]

Buffer = Union[bytes, bytearray, memoryview]
# A path as os functions take it: str, bytes or os.PathLike (pathlib).
PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

_MODES = {
    # mode: (readable, writable, create, truncate, exclusive, append, must_exist)
    "r": (True, False, False, False, False, False, True),
    "r+": (True, True, False, False, False, False, True),
    "w": (False, True, True, True, False, False, False),
    "w+": (True, True, True, True, False, False, False),
    "x": (False, True, True, False, True, False, False),
    "x+": (True, True, True, False, True, False, False),
    "a": (False, True, True, False, False, True, False),
    "a+": (True, True, True, False, False, True, False),
}


def default_hosts_file() -> str:
    """LIBGKFS_HOSTS_FILE, else GKFS_HOSTS_FILE, else ./gkfs_hosts.txt (GekkoFS default)."""
    return (os.environ.get("LIBGKFS_HOSTS_FILE") or os.environ.get("GKFS_HOSTS_FILE")
            or "./gkfs_hosts.txt")


def forwarding_options(forwarding_map_file: Optional[str] = None,
                       hostname: Optional[str] = None,
                       app_id: Optional[int] = None) -> tuple[str, str, int]:
    """(map file, hostname, app id) as the preload library picks them: the arguments, else
    LIBGKFS_FORWARDING_MAP_FILE, LIBGKFS_HOSTNAME, LIBGKFS_APP_ID (else SLURM_JOB_ID, else
    0). The map file comes back absolute ('' = no forwarding)."""
    env = os.environ
    if forwarding_map_file is None:
        forwarding_map_file = env.get("LIBGKFS_FORWARDING_MAP_FILE", "")
    if hostname is None:
        hostname = env.get("LIBGKFS_HOSTNAME", "")
    if app_id is None:
        app_id = _app_id(env.get("LIBGKFS_APP_ID") or env.get("SLURM_JOB_ID", ""))
    path = os.path.abspath(forwarding_map_file) if forwarding_map_file else ""
    return path, hostname, app_id


def _app_id(text: str) -> int:
    """A decimal id, 0 for anything else (what the preload library does)."""
    return int(text) if text.isascii() and text.isdigit() and int(text) < 1 << 32 else 0


def _normalize(path: PathArg) -> str:
    """An absolute gkfs path from any path os functions accept (TypeError otherwise)."""
    return _core.normalize_path(os.fsdecode(os.fspath(path)))


def _split_mode(mode: str) -> tuple[str, bool]:
    """'rb' -> ('r', True); 'w+' -> ('w+', False). Raises ValueError like open()."""
    binary = "b" in mode
    text = "t" in mode
    base = mode.replace("b", "").replace("t", "")
    if (binary and text) or mode.count("b") > 1 or mode.count("t") > 1:
        raise ValueError(f"invalid mode: {mode!r}")
    if base not in _MODES and base[::-1] in _MODES:  # '+r' style
        base = base[::-1]
    if base not in _MODES:
        raise ValueError(f"invalid mode: {mode!r}")
    return base, binary


class GkfsFile(io.RawIOBase):
    """An open gkfs file: unbuffered binary I/O with its own offset.

    read/write go straight to the daemons (no client cache, as in GekkoFS). In append mode
    every write lands atomically at the current end of file."""

    def __init__(self, core: Any, path: str, mode: str, md: Any, readable: bool,
                 writable: bool, append: bool, opener: int = 0) -> None:
        super().__init__()
        self._core = core
        self._path = path
        self._file_id = md.file_id
        self._opener = opener  # the Client's session that counted this open (0: none)
        self._readable = readable
        self._writable = writable
        self._append = append
        self._pos = 0
        self.mode = mode
        self.name = path

    def __repr__(self) -> str:
        return f"<gkfs.GkfsFile name={self._path!r} mode={self.mode!r} closed={self.closed}>"

    def readable(self) -> bool:
        self._check_closed()
        return self._readable

    def writable(self) -> bool:
        self._check_closed()
        return self._writable

    def seekable(self) -> bool:
        self._check_closed()
        return True

    def fileno(self) -> int:
        raise io.UnsupportedOperation("gkfs files have no kernel file descriptor")

    def readinto(self, buffer: Any) -> int:
        self._check_open_for("reading")
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        n = self._core.readinto(self._path, self._file_id, self._pos, view)
        self._pos += n
        return n

    def readall(self) -> bytes:
        self._check_open_for("reading")
        size = self._core.stat_file(self._path, self._file_id).size
        data = self._core.read(self._path, self._file_id, self._pos,
                               max(size - self._pos, 0))
        self._pos += len(data)
        # Another client may have grown the file since the stat: keep reading to EOF.
        chunks = [data]
        while True:
            more = self._core.read(self._path, self._file_id, self._pos, 1 << 20)
            if not more:
                break
            chunks.append(more)
            self._pos += len(more)
        return b"".join(chunks)

    def write(self, data: Any) -> int:
        self._check_open_for("writing")
        view = memoryview(data).cast("B")
        if not len(view):
            return 0
        if self._append:
            offset = self._core.append(self._path, self._file_id, view)
            self._pos = offset + len(view)
        else:
            self._core.write(self._path, self._file_id, self._pos, view)
            self._pos += len(view)
        return len(view)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_closed()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self._core.stat_file(self._path, self._file_id).size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if target < 0:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), self._path)
        self._pos = target
        return self._pos

    def tell(self) -> int:
        self._check_closed()
        return self._pos

    def truncate(self, size: Optional[int] = None) -> int:
        self._check_open_for("writing")
        size = self._pos if size is None else size
        self._core.truncate_file(self._path, self._file_id, size)
        return size

    def close(self) -> None:
        """Closes the file; a file unlinked while open goes with its last close."""
        if not self.closed and self._opener:
            opener, self._opener = self._opener, 0
            try:
                self._core.release(opener, [self._file_id])
            except (OSError, ValueError):
                pass  # the client is closed or the daemon gone: nothing to keep
        super().close()

    def _check_closed(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _check_open_for(self, use: str) -> None:
        """ValueError when closed, io.UnsupportedOperation unless open for use ('reading'
        or 'writing'), as io's files."""
        self._check_closed()
        if not (self._readable if use == "reading" else self._writable):
            raise io.UnsupportedOperation(f"file not open for {use}")


class DirEntry:
    """One entry of :meth:`Client.scandir`, like os.DirEntry: name, path (absolute in the
    file system), inode(), is_dir(), is_file(), is_symlink() from the listing itself, and
    stat(), fetched once and cached. A symbolic link is followed (is_dir, is_file, stat)
    within the file system; a target outside it counts as missing."""

    __slots__ = ("name", "path", "_client", "_kind", "_lstat", "_stat")

    def __init__(self, client: "Client", directory: str, name: str, kind: int) -> None:
        self.name = name
        self.path = f"{directory.rstrip('/')}/{name}"
        self._client = client
        self._kind = kind
        self._lstat: Optional[os.stat_result] = None
        self._stat: Optional[os.stat_result] = None

    def __repr__(self) -> str:
        return f"<DirEntry {self.name!r}>"

    def __fspath__(self) -> str:
        return self.path

    def inode(self) -> int:
        return self.stat(follow_symlinks=False).st_ino

    def is_symlink(self) -> bool:
        return self._kind == _core.DT_LNK

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return self._is(_stat.S_ISDIR, _core.DT_DIR, follow_symlinks)

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        return self._is(_stat.S_ISREG, _core.DT_REG, follow_symlinks)

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        if self._lstat is None:
            self._lstat = self._client.lstat(self.path)
        if not follow_symlinks or not self.is_symlink():
            return self._lstat
        if self._stat is None:
            self._stat = self._client.stat(self.path)
        return self._stat

    def _is(self, test: Callable[[int], bool], kind: int, follow_symlinks: bool) -> bool:
        if not (follow_symlinks and self.is_symlink()):
            return self._kind == kind
        try:
            return test(self.stat().st_mode)
        except OSError:
            return False  # a dangling link, as os.DirEntry says


class ScandirIterator:
    """The iterator :meth:`Client.scandir` returns: DirEntry objects page by page; a
    context manager like os.scandir's (close() ends it early)."""

    def __init__(self, client: "Client", path: str, page_size: int) -> None:
        self._entries = self._pages(client, path, page_size)

    @staticmethod
    def _pages(client: "Client", path: str, page_size: int) -> Iterator[DirEntry]:
        start_after = ""
        while True:
            entries, end = client._core.readdir_page(path, start_after, page_size)
            yield from (DirEntry(client, path, name, kind) for name, kind, _ in entries)
            if end or not entries:
                return
            start_after = entries[-1][0]

    def __iter__(self) -> "ScandirIterator":
        return self

    def __next__(self) -> DirEntry:
        return next(self._entries)

    def __enter__(self) -> "ScandirIterator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._entries.close()


class Client:
    """A connection to the daemons of one gkfs file system.

    ``Client(hosts_file)`` reads the hosts file and fetches the file system's configuration
    from a daemon; a missing or empty hosts file raises OSError naming it. Use as a context
    manager or call :meth:`close` to release the transport early.

    Forwarding mode: with a map file (``forwarding_map_file``, else
    ``LIBGKFS_FORWARDING_MAP_FILE``) every operation goes to the I/O node the map names for
    ``hostname`` (else ``LIBGKFS_HOSTNAME``, else the host name); a bad map raises OSError
    naming the file and line. ``app_id`` (else ``LIBGKFS_APP_ID``, else ``SLURM_JOB_ID``,
    else 0) rides in every request, for the I/O nodes' schedulers and metrics.

    Failures: a call without network progress for ``timeout_ms`` raises EHOSTDOWN and marks
    its daemon down; calls that need a down daemon raise EHOSTDOWN at once, until the first
    one after ``down_recheck_ms`` finds it answering a ping within ``recheck_timeout_ms``
    (defaults 5000 and 1000 ms; docs/operations.md, "Failures")."""

    def __init__(self, hosts_file: Optional[str] = None, timeout_ms: int = 5000,
                 forwarding_map_file: Optional[str] = None, hostname: Optional[str] = None,
                 app_id: Optional[int] = None, secret_file: Optional[str] = None,
                 down_recheck_ms: Optional[int] = None,
                 recheck_timeout_ms: Optional[int] = None, uid: Optional[int] = None,
                 gid: Optional[int] = None, groups: Sequence[int] = ()) -> None:
        self.hosts_file = os.path.abspath(hosts_file or default_hosts_file())
        self.forwarding_map_file, self.hostname, self.app_id = forwarding_options(
            forwarding_map_file, hostname, app_id)
        # The instance secret: given, else LIBGKFS_SECRET_FILE, else <hosts_file>.secret.
        secret = secret_file or os.environ.get("LIBGKFS_SECRET_FILE", "")
        # None: the core's default (the ClientEnvironment settings document both).
        liveness = {name: value for name, value in (("down_recheck_ms", down_recheck_ms),
                                                    ("recheck_timeout_ms", recheck_timeout_ms))
                    if value is not None}
        # An identity (uid; gid defaults to uid): calls are checked as that user, by the
        # rules the preload library applies to a process (the core's); none: no checks.
        identity = {} if uid is None else {"uid": uid, "gid": uid if gid is None else gid,
                                           "groups": list(groups)}
        self._core = _core.Client(self.hosts_file, timeout_ms, secret, self.forwarding_map_file,
                                  self.hostname, self.app_id, **liveness, **identity)
        # This client's session: its files' opens are counted under it, so a file unlinked
        # while one of them is open keeps its data until that file is closed.
        self._session = secrets.randbits(64) or 1

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<gkfs.Client hosts_file={self.hosts_file!r}>"

    def close(self) -> None:
        self._core.close()

    @property
    def config(self) -> Any:
        """FsConfig: chunk_size, mountdir, rootdir, protocol_version, num_daemons."""
        return self._core.config

    # --- files ---------------------------------------------------------------------------

    def open(self, path: PathArg, mode: str = "r", buffering: int = -1,
             encoding: Optional[str] = None, errors: Optional[str] = None,
             newline: Optional[str] = None, perm: int = 0o644) -> Any:
        """Opens a file like built-in open(): modes r, w, x, a with optional + and b, and
        the same file types: binary modes give io.BufferedReader, BufferedWriter or
        BufferedRandom over a :class:`GkfsFile` (buffering=0: the GkfsFile itself, every
        call one request), text modes an io.TextIOWrapper over those. The buffer is the
        file system's chunk size unless buffering > 1 gives one, as open() uses st_blksize
        (buffering=1: line-buffered text). Buffered writes reach the daemons at flush(),
        close() or Client.fsync()."""
        base, binary = _split_mode(mode)
        if buffering == 0 and not binary:
            raise ValueError("can't have unbuffered text I/O")
        readable, writable, create, truncate, exclusive, append, must_exist = _MODES[base]
        path = _normalize(path)
        md, created = self._open_file(path, not must_exist, perm, exclusive)
        opener = self._session if md.is_regular() else 0
        try:
            if md.is_dir():
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            wanted = (os.R_OK if readable else 0) | (os.W_OK if writable or truncate else 0)
            if not created and not self._core.may_access(md, wanted):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
            if truncate and md.size:
                self._core.truncate_file(path, md.file_id, 0)
        except BaseException:
            if opener:
                self._core.release(opener, [md.file_id])
            raise
        raw = GkfsFile(self._core, path, mode, md, readable, writable, append, opener)
        if append:
            raw.seek(0, io.SEEK_END)  # like open(): 'a+' reads start at the end
        if buffering == 0:
            return raw
        size = buffering if buffering > 1 else self._core.config.chunk_size
        buffered: io.BufferedIOBase
        if readable and writable:
            buffered = io.BufferedRandom(raw, size)
        elif readable:
            buffered = io.BufferedReader(raw, size)
        else:
            buffered = io.BufferedWriter(raw, size)
        if binary:
            return buffered
        return io.TextIOWrapper(buffered, encoding=encoding or "utf-8", errors=errors,
                                newline=newline, line_buffering=buffering == 1)

    def _open_file(self, path: str, create: bool, perm: int, exclusive: bool) -> tuple[Any, bool]:
        """open(2)'s lookup with symbolic links followed as Linux does: a path through a
        link fails first (one stat then resolves it), a link found is followed; creating
        through a dangling link creates its target. Returns (metadata, created)."""
        def open_at(at: str) -> tuple[Any, bool]:
            return self._core.open_file(at, create, perm, exclusive, self._session)

        md, created = self._retry_resolved(open_at, path, follow_last=True)
        if not _stat.S_ISLNK(md.mode):
            return md, created
        if exclusive:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
        return open_at(self._core.resolve(path, True)[0])

    def _follow(self, path: PathArg, follow_symlinks: bool = True) -> str:
        """The normalised path with the links among its ancestors followed, and its last
        component's when follow_symlinks (one stat when no link is involved)."""
        return self._core.resolve(_normalize(path), follow_symlinks)[0]

    def _retry_resolved(self, op: Callable[..., Any], *paths: PathArg,
                        follow_last: bool = False) -> Any:
        """op(*paths) normalised; when it fails with ENOENT or ENOTDIR, once more with the
        links among the paths' ancestors followed (and their last components' when
        follow_last), if there are any. Calls that do not follow their last component
        (remove, mkdir, rename, ...) leave follow_last False."""
        normalized = tuple(_normalize(path) for path in paths)
        try:
            return op(*normalized)
        except (FileNotFoundError, NotADirectoryError):
            resolved = tuple(self._core.resolve(path, follow_last)[0] for path in normalized)
            if resolved == normalized:
                raise
            return op(*resolved)

    def read_bytes(self, path: PathArg) -> bytes:
        with self.open(path, "rb", buffering=0) as f:
            return f.readall()

    def write_bytes(self, path: PathArg, data: Buffer) -> int:
        """Replaces the file's contents with data (creating it); returns len(data)."""
        with self.open(path, "wb", buffering=0) as f:
            return f.write(data)

    def truncate(self, path: PathArg, size: int) -> None:
        self._core.truncate(self._follow(path), size)

    def remove(self, path: PathArg) -> None:
        self._retry_resolved(self._core.remove, path)

    unlink = remove

    def rename(self, src: PathArg, dst: PathArg) -> None:
        """As os.rename: links among either path's ancestors are followed, neither path's
        last component."""
        self._retry_resolved(self._core.rename, src, dst)

    def link(self, src: PathArg, dst: PathArg, *, follow_symlinks: bool = False) -> None:
        """dst becomes another name of src's inode (a hard link), as os.link: of the link
        itself when src is a symbolic link, as Linux's link(2), unless follow_symlinks."""
        src = self._follow(src) if follow_symlinks else src
        self._retry_resolved(self._core.link, src, dst)

    def symlink(self, target: PathArg, path: PathArg) -> None:
        """path becomes a symbolic link to target (stored as given), as os.symlink. An
        absolute target is read as the mount directory's users see it."""
        self._retry_resolved(lambda p: self._core.symlink(p, os.fsdecode(os.fspath(target))), path)

    def readlink(self, path: PathArg) -> str:
        md = self._retry_resolved(self._core.stat, path)
        if not _stat.S_ISLNK(md.mode):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
        return md.link_target

    def mknod(self, path: PathArg, mode: int = 0o600 | _stat.S_IFREG, device: int = 0) -> None:
        """A regular file, FIFO, socket or device node (device: os.makedev), as os.mknod."""
        self._retry_resolved(lambda p: self._core.mknod(p, mode, device), path)

    def chmod(self, path: PathArg, mode: int) -> None:
        """As os.chmod (a symbolic link is followed); with an identity, as chmod(2) for that
        user (PermissionError EPERM unless owner or root; set-group-ID dropped for a caller
        outside the group)."""
        path = self._follow(path)
        bits = _stat.S_IMODE(mode)
        if self._core.checks_permissions:
            bits = self._core.chmod_bits(self._core.stat(path), bits)
        self._core.set_attr(path, mode=bits)

    def chown(self, path: PathArg, uid: int, gid: int, *, follow_symlinks: bool = True) -> None:
        """Sets the owner and group (-1 keeps one), of the link itself with
        follow_symlinks=False (lchown). Without an identity what is given is stored; with
        one, as chown(2) for that user: PermissionError (EPERM) as Linux, and the set-id
        bits Linux drops are dropped."""
        path = self._follow(path, follow_symlinks)
        mode = -1
        if self._core.checks_permissions:
            mode = self._core.chown_mode(self._core.stat(path), uid, gid)
        self._core.chown(path, uid=uid, gid=gid, mode=mode)

    def utime(self, path: PathArg, ns: tuple[int, int], *, follow_symlinks: bool = True) -> None:
        """Sets (atime_ns, mtime_ns), of the link itself with follow_symlinks=False; with an
        identity only its owner or root may (PermissionError EPERM), as utimensat(2) with
        explicit times."""
        path = self._follow(path, follow_symlinks)
        if self._core.checks_permissions and not self._core.owns(self._core.stat(path)):
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), path)
        self._core.set_attr(path, atime_ns=ns[0], mtime_ns=ns[1])

    # --- metadata and directories ----------------------------------------------------------

    def stat(self, path: PathArg, *, follow_symlinks: bool = True) -> os.stat_result:
        """os.stat_result of what path names, symbolic links followed as os.stat does (the
        link itself with follow_symlinks=False, as os.lstat): st_ino is the inode id and
        st_dev the file system's, as the preload library and FUSE report. A path without
        links costs one lookup, else one per name on the way (a miss: the name and the
        directories above it)."""
        path = _normalize(path)
        md = self._core.resolve(path, follow_symlinks)[1]
        if md is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        return _stat_result(md, self._core.config)

    def lstat(self, path: PathArg) -> os.stat_result:
        """os.lstat: the symbolic link itself, not what it points to."""
        return self.stat(path, follow_symlinks=False)

    def exists(self, path: PathArg) -> bool:
        try:
            self.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    def isdir(self, path: PathArg) -> bool:
        try:
            return _stat.S_ISDIR(self.stat(path).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False

    def mkdir(self, path: PathArg, mode: int = 0o755) -> None:
        self._retry_resolved(lambda p: self._core.mkdir(p, mode), path)

    def makedirs(self, path: PathArg, mode: int = 0o755, exist_ok: bool = False) -> None:
        """Creates path and any missing parents, like os.makedirs."""
        path = _normalize(path)
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts) + 1):
            current = "/" + "/".join(parts[:i])
            try:
                self._core.mkdir(current, mode)
            except FileExistsError:
                if not self._core.stat(current).is_dir():
                    raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR),
                                             current) from None
                if i == len(parts) and not exist_ok:
                    raise

    def rmdir(self, path: PathArg) -> None:
        self._retry_resolved(self._core.rmdir, path)

    def listdir(self, path: PathArg = "/") -> list[str]:
        """Names in the directory (merged from every daemon, sorted); a symbolic link to a
        directory lists the directory."""
        path = self._follow(path)
        self._check_readable_dir(path)
        return [entry[0] for entry in self._core.readdir(path)]

    def _check_readable_dir(self, path: str) -> None:
        """With an identity: PermissionError (EACCES) unless it may read the directory."""
        if self._core.checks_permissions and not self._core.may_access(self._core.stat(path), os.R_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    def scandir(self, path: PathArg = "/", page_size: int = 1024) -> "ScandirIterator":
        """The directory's entries as :class:`DirEntry` objects, like os.scandir (usable
        as a context manager), fetched page by page: suits directories of millions of
        entries. Entries come in name order; '.' and '..' are not included."""
        path = self._follow(path)
        self._check_readable_dir(path)
        return ScandirIterator(self, path, page_size)

    def walk(self, top: PathArg = "/", topdown: bool = True,
             onerror: Optional[Callable[[OSError], Any]] = None,
             followlinks: bool = False) -> Iterator[tuple[str, list[str], list[str]]]:
        """Yields (dirpath, dirnames, filenames) for top and every directory below it, as
        os.walk does: top-down the caller may prune dirnames in place; errors go to
        onerror (else are ignored); symbolic links to directories are listed in dirnames
        but entered only with followlinks=True."""
        stack: list[Any] = [_normalize(top)]
        while stack:
            item = stack.pop()
            if isinstance(item, tuple):  # bottom-up: a directory whose subtree is done
                yield item
                continue
            dirs: list[str] = []
            files: list[str] = []
            links: set[str] = set()
            try:
                with self.scandir(item) as entries:
                    for entry in entries:
                        is_dir = entry.is_dir()
                        (dirs if is_dir else files).append(entry.name)
                        if is_dir and entry.is_symlink():
                            links.add(entry.name)
            except OSError as error:
                if onerror is not None:
                    onerror(error)
                continue
            base = item.rstrip("/")
            if topdown:
                yield item, dirs, files
            else:
                stack.append((item, dirs, files))
            below = [f"{base}/{name}" for name in dirs if followlinks or name not in links]
            stack.extend(reversed(below))

    # --- durability --------------------------------------------------------------------------

    def fsync(self, file: Any) -> None:
        """Makes a file's data and metadata durable on the daemons' storage, like os.fsync.
        `file` is a path or a file object from :meth:`open`, whose buffered writes are
        flushed first (os.fsync leaves that to you); a directory's path makes its entries
        durable. Written data otherwise sits in the daemons' page cache until their kernel
        writes it back. Returns at once when the daemons run with --sync-mode none."""
        self._sync(file, datasync=False)

    def fdatasync(self, file: Any) -> None:
        """Like :meth:`fsync`, as os.fdatasync: the daemons use fdatasync on chunk files."""
        self._sync(file, datasync=True)

    def sync(self) -> None:
        """Makes everything in the file system durable (syncfs(2) on every daemon)."""
        self._core.syncfs()

    def _sync(self, file: Any, datasync: bool) -> None:
        raw = _gkfs_file(file)
        if raw is None:
            path = _normalize(file)
            md = self._core.stat(path)
            file_id = 0 if md.is_dir() else md.file_id
        else:
            path, file_id = raw._path, raw._file_id
        self._core.fsync(path, file_id, datasync)

    # --- file system -----------------------------------------------------------------------

    def statfs(self) -> Any:
        """FsStats summed over daemons: block_size, total_bytes, free_bytes, files."""
        return self._core.statfs()

    def daemons(self) -> list[Any]:
        """DaemonInfo per daemon in the hosts file (up, error, files, chunk_bytes, ...)."""
        return self._core.daemons()

    def ping(self, daemon: int, payload_bytes: int = 0, reply_bytes: int = 0) -> int:
        """One round trip to daemon index `daemon` carrying payload_bytes out and
        reply_bytes back: the transport's cost alone. Returns reply_bytes."""
        return self._core.ping(daemon, payload_bytes, reply_bytes)

    def io_node_statistics(self, daemon: int) -> dict[str, Any]:
        """Forwarding mode: I/O node `daemon`'s queue (pending, in_service, scheduler_errors)
        and per-application counters (apps: app_id, requests, bytes, reads, writes, units,
        merged, mean_size, queue_wait_s and service_s summed over requests). OSError
        (EOPNOTSUPP) from a daemon that is not an I/O node."""
        return self._core.io_node_statistics(daemon)


def _gkfs_file(file: Any) -> Optional[GkfsFile]:
    """The GkfsFile under a file object of Client.open (flushed on the way down), or None
    for a path. TypeError for other objects, ValueError for a closed file."""
    if isinstance(file, (str, bytes, os.PathLike)):
        return None
    layer = file
    while not isinstance(layer, GkfsFile):
        if not hasattr(layer, "flush"):
            raise TypeError(f"expected a path or a gkfs file object, not {type(file).__name__}")
        layer.flush()
        layer = getattr(layer, "buffer", None) or getattr(layer, "raw", None)
    if layer.closed:
        raise ValueError("I/O operation on closed file")
    return layer


def _stat_result(md: Any, config: Any) -> os.stat_result:
    seconds = (md.atime_ns // 10**9, md.mtime_ns // 10**9, md.ctime_ns // 10**9)
    size = len(md.link_target) if _stat.S_ISLNK(md.mode) else md.size
    fields = (md.mode, md.file_id, config.device_id, md.nlink, md.uid, md.gid, size) + seconds
    block_size = config.chunk_size
    extra = {
        "st_rdev": md.rdev,
        "st_atime": md.atime_ns / 1e9, "st_mtime": md.mtime_ns / 1e9,
        "st_ctime": md.ctime_ns / 1e9, "st_atime_ns": md.atime_ns,
        "st_mtime_ns": md.mtime_ns, "st_ctime_ns": md.ctime_ns,
        "st_blksize": block_size, "st_blocks": (md.size + 511) // 512,
    }
    return os.stat_result(fields, extra)
