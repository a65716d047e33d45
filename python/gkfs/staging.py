"""Staging: copy trees between any directory (the PFS) and gkfs, as ``gkfs-ctl stage-in``
and ``stage-out`` do, the burst-buffer workflow of a job.

A stage copies like ``cp -rp SRC... DEST`` (DEST a directory, created if missing) with
threads, keeps modes and times, and skips a file whose destination has the same size and
modification time (with ``verify``, also the same SHA-256; every copied file is then checked
too). A file is written under a temporary name beside its destination and renamed into place
once complete, with its mode and times set, so an interrupted stage leaves no file that
looks finished: running it again completes it. Symbolic links are copied as links. Hard links
within what is staged stay links, as with ``cp -a`` or ``rsync -H``: the names of one file
(the same ``st_dev`` and ``st_ino``) are copied once, under the first name in path order, and
the others become links to that copy; a name whose other names lie outside the sources is
copied as a file of its own.

The gkfs side is a :class:`gkfs.Client`; its paths are absolute inside the file system, and a
path under the mount directory (e.g. ``/tmp/gkfs_mountdir/in``) is taken as the same file.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import os
import stat as _stat
import sys
import threading
import time
from typing import Any, Callable, Iterator, Optional, Sequence, TextIO

__all__ = ["GkfsTree", "LocalTree", "Progress", "StageReport", "human_size", "stage"]

COPY_BLOCK = 4 << 20
TEMP_SUFFIX = ".gkfs-stage-part"


class LocalTree:
    """A directory tree of the kernel's file systems (the PFS side)."""

    label = "local"

    def norm(self, path: str) -> str:
        return os.path.abspath(path)

    def lstat(self, path: str) -> Optional[os.stat_result]:
        try:
            return os.lstat(path)
        except FileNotFoundError:
            return None

    def walk(self, top: str) -> Iterator[tuple[str, list[str], list[str]]]:
        def fail(error: OSError) -> None:
            raise error
        return os.walk(top, onerror=fail)

    def open(self, path: str, mode: str) -> Any:
        return open(path, mode)

    makedirs = staticmethod(lambda path: os.makedirs(path, exist_ok=True))
    rename = staticmethod(os.replace)

    def discard(self, path: str) -> None:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    readlink = staticmethod(os.readlink)
    link = staticmethod(os.link)

    def symlink(self, target: str, path: str) -> None:
        if os.path.lexists(path):
            os.remove(path)
        os.symlink(target, path)

    def set_meta(self, path: str, st: os.stat_result) -> None:
        if not _stat.S_ISLNK(st.st_mode):
            os.chmod(path, _stat.S_IMODE(st.st_mode))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


class GkfsTree:
    """A directory tree in gkfs, through a Client."""

    label = "gkfs"

    def __init__(self, client: Any) -> None:
        self.client = client
        self.mountdir = client.config.mountdir.rstrip("/")

    def norm(self, path: str) -> str:
        if path.startswith("gkfs://"):
            path = path[len("gkfs://"):]
        if path == self.mountdir or path.startswith(self.mountdir + "/"):
            path = path[len(self.mountdir):]
        return "/" + path.strip("/")

    def lstat(self, path: str) -> Optional[os.stat_result]:
        try:
            return self.client.lstat(path)
        except FileNotFoundError:
            return None

    def walk(self, top: str) -> Iterator[tuple[str, list[str], list[str]]]:
        def fail(error: OSError) -> None:
            raise error
        return self.client.walk(top, onerror=fail)

    def open(self, path: str, mode: str) -> Any:
        return self.client.open(path, mode, buffering=0)

    def makedirs(self, path: str) -> None:
        self.client.makedirs(path, exist_ok=True)

    def rename(self, src: str, dst: str) -> None:
        self.client.rename(src, dst)

    def discard(self, path: str) -> None:
        try:
            self.client.remove(path)
        except FileNotFoundError:
            pass

    def readlink(self, path: str) -> str:
        return self.client.readlink(path)

    def link(self, src: str, dst: str) -> None:
        self.client.link(src, dst)

    def symlink(self, target: str, path: str) -> None:
        if self.lstat(path) is not None:
            self.client.remove(path)
        self.client.symlink(target, path)

    def set_meta(self, path: str, st: os.stat_result) -> None:
        if not _stat.S_ISLNK(st.st_mode):
            self.client.chmod(path, _stat.S_IMODE(st.st_mode))
            self.client.utime(path, (st.st_atime_ns, st.st_mtime_ns))


@dataclasses.dataclass
class StageReport:
    """What a stage did: files counts names (each name of a hard-linked file), linked the
    names made hard links to a copied file; errors lists (path, message)."""

    files: int = 0
    copied: int = 0
    linked: int = 0
    skipped: int = 0
    verified: int = 0
    bytes_total: int = 0
    bytes_copied: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def summary(self, name: str) -> str:
        rate = self.bytes_copied / self.seconds if self.seconds else 0.0
        text = (f"{name}: {self.files} files, {self.copied} copied "
                f"({human_size(self.bytes_copied)}), ")
        if self.linked:
            text += f"{self.linked} linked, "
        text += f"{self.skipped} already identical"
        if self.verified:
            text += f", {self.verified} verified by SHA-256"
        text += f", {self.seconds:.1f}s, {human_size(rate)}/s"
        if self.errors:
            text += f", {len(self.errors)} FAILED"
        return text


    def add(self, other: "StageReport") -> None:
        """Adds the counts of another task's report (seconds: the longest)."""
        for field in ("files", "copied", "linked", "skipped", "verified", "bytes_total",
                      "bytes_copied"):
            setattr(self, field, getattr(self, field) + getattr(other, field))
        self.seconds = max(self.seconds, other.seconds)
        self.errors += other.errors


def task_share(env: Optional[dict[str, str]] = None) -> tuple[int, int]:
    """(rank, size) of this process in a parallel job (srun, Open MPI, MPICH/Hydra)."""
    env = dict(os.environ) if env is None else env
    for rank, size in (("SLURM_PROCID", "SLURM_NTASKS"),
                       ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE")):
        if env.get(rank, "").isdigit() and env.get(size, "").isdigit():
            return int(env[rank]), int(env[size])
    return 0, 1


@dataclasses.dataclass
class _Item:
    src: str
    dst: str
    st: os.stat_result
    links: list["_Item"] = dataclasses.field(default_factory=list)  # its other names


def stage(src_tree: Any, dst_tree: Any, sources: Sequence[str], dest: str, threads: int = 8,
          verify: bool = False, progress: Optional["Progress"] = None,
          share: tuple[int, int] = (0, 1), directories: bool = True) -> StageReport:
    """Copies each of sources into the directory dest (created if missing). Raises
    FileNotFoundError naming a missing source; errors of single files are collected in the
    report (the others are still copied). share=(rank, size): only every size-th file of the
    plan from the rank-th on, with all its names (the tasks of a parallel stage split the
    plan so); size 0: no files.
    directories=False leaves the directories' modes and times to the caller."""
    start = time.monotonic()
    dest = dst_tree.norm(dest)
    files, dirs = _plan(src_tree, [src_tree.norm(s) for s in sources], dest)
    rank, size = share
    files = files[rank::size] if size else []
    report = StageReport(files=sum(1 + len(i.links) for i in files),
                         bytes_total=sum(i.st.st_size for i in files))
    if progress is not None:
        progress.begin(report.files, report.bytes_total)
    dst_tree.makedirs(dest)
    for item in dirs:
        dst_tree.makedirs(item.dst)
    lock = threading.Lock()

    def one(item: _Item) -> None:
        copied, verified, linked, failed = False, False, 0, []
        try:
            copied, verified = _stage_file(src_tree, dst_tree, item, verify)
        except OSError as error:
            failed.append((item.src, str(error)))
            failed += [(o.src, f"not linked: {item.src} was not copied") for o in item.links]
        for other in item.links if not failed else []:
            try:
                linked += _stage_link(dst_tree, item, other)
            except OSError as error:
                failed.append((other.src, str(error)))
        with lock:
            report.copied += copied
            report.linked += linked
            report.verified += verified
            report.bytes_copied += item.st.st_size if copied else 0
            report.errors += failed
        if progress is not None:
            progress.advance(item.st.st_size, 1 + len(item.links))

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(one, files))
    report.skipped = report.files - report.copied - report.linked - len(report.errors)
    # Directories last, deepest first: their times change while files land in them.
    for item in sorted(dirs, key=lambda i: i.dst.count("/"), reverse=True) if directories else []:
        try:
            dst_tree.set_meta(item.dst, item.st)
        except OSError as error:
            report.errors.append((item.src, str(error)))
    report.seconds = time.monotonic() - start
    if progress is not None:
        progress.end()
    return report


def _plan(tree: Any, sources: list[str], dest: str) -> tuple[list[_Item], list[_Item]]:
    """(files and links, directories) to copy: each source lands as dest/<its name>."""
    files: list[_Item] = []
    dirs: list[_Item] = []
    for src in sources:
        st = tree.lstat(src)
        if st is None:
            raise FileNotFoundError(2, f"no such source: {src}", src)
        target = f"{dest.rstrip('/')}/{os.path.basename(src.rstrip('/')) or 'root'}"
        if not _stat.S_ISDIR(st.st_mode):
            files.append(_Item(src, target, st))
            continue
        for path, dirnames, filenames in tree.walk(src):
            rel = path[len(src):].lstrip("/")
            out = f"{target}/{rel}".rstrip("/")
            dirs.append(_Item(path, out, tree.lstat(path)))
            for name in dirnames:  # a link to a directory: copied as a link, not entered
                st_link = tree.lstat(f"{path}/{name}")
                if _stat.S_ISLNK(st_link.st_mode):
                    files.append(_Item(f"{path}/{name}", f"{out}/{name}", st_link))
            dirnames[:] = [n for n in dirnames
                           if not _stat.S_ISLNK(tree.lstat(f"{path}/{n}").st_mode)]
            files.extend(_Item(f"{path}/{n}", f"{out}/{n}", tree.lstat(f"{path}/{n}"))
                         for n in filenames)
    return _group_hard_links(sorted(files, key=lambda i: i.dst)), dirs


def _group_hard_links(files: list[_Item]) -> list[_Item]:
    """files without the second and later names of a regular file (same st_dev and st_ino),
    which go to the first name's links. Sorted input keeps the plan the same in every task."""
    first: dict[tuple[int, int], _Item] = {}
    kept = []
    for item in files:
        st = item.st
        if _stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in first:
                first[key].links.append(item)
                continue
            first[key] = item
        kept.append(item)
    return kept


def _stage_file(src_tree: Any, dst_tree: Any, item: _Item, verify: bool) -> tuple[bool, bool]:
    """(copied, verified) for one file or link."""
    st = item.st
    if _stat.S_ISLNK(st.st_mode):
        target = src_tree.readlink(item.src)
        old = dst_tree.lstat(item.dst)
        if old is not None and _stat.S_ISLNK(old.st_mode) and dst_tree.readlink(item.dst) == target:
            return False, False
        dst_tree.symlink(target, item.dst)
        return True, False
    if not _stat.S_ISREG(st.st_mode):
        raise OSError(95, f"not a regular file, directory or link: {item.src}")
    old = dst_tree.lstat(item.dst)
    temp = _temp_name(item.dst)
    if (old is not None and _stat.S_ISREG(old.st_mode) and old.st_size == st.st_size
            and old.st_mtime_ns == st.st_mtime_ns):
        same = not verify or _sha256(src_tree, item.src) == _sha256(dst_tree, item.dst)
        if same:
            # A stage killed inside a rename between two daemons (the new entry is put
            # before the old one goes) left the file under its temporary name too.
            dst_tree.discard(temp)
            return False, verify
    digest = hashlib.sha256()
    with src_tree.open(item.src, "rb") as fin, dst_tree.open(temp, "wb") as fout:
        while True:
            block = fin.read(COPY_BLOCK)
            if not block:
                break
            digest.update(block)
            fout.write(block)
    if verify and _sha256(dst_tree, temp) != digest.hexdigest():
        raise OSError(5, f"checksum differs after copying {item.src} to {item.dst}")
    dst_tree.set_meta(temp, st)
    dst_tree.rename(temp, item.dst)
    return True, verify


def _stage_link(dst_tree: Any, first: _Item, item: _Item) -> bool:
    """Makes item.dst another name of first.dst (a hard link, put in place by a rename);
    False if it already is one."""
    target, old = dst_tree.lstat(first.dst), dst_tree.lstat(item.dst)
    if old is not None and (old.st_dev, old.st_ino) == (target.st_dev, target.st_ino):
        return False
    temp = _temp_name(item.dst)
    dst_tree.discard(temp)  # left by an interrupted stage
    dst_tree.link(first.dst, temp)
    dst_tree.rename(temp, item.dst)
    return True


def _temp_name(path: str) -> str:
    head, _, name = path.rpartition("/")
    return f"{head}/.{name}{TEMP_SUFFIX}"


def _sha256(tree: Any, path: str) -> str:
    digest = hashlib.sha256()
    with tree.open(path, "rb") as f:
        while True:
            block = f.read(COPY_BLOCK)
            if not block:
                return digest.hexdigest()
            digest.update(block)


class Progress:
    """Progress of a stage on `out`: a bar redrawn in place on a terminal (files, bytes,
    rate, ETA), else a plain line every `interval` seconds (for job logs). Thread-safe."""

    def __init__(self, name: str, out: TextIO = sys.stderr, interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.out = out
        self.tty = out.isatty()
        self.interval = 0.2 if self.tty else interval
        self.clock = clock
        self._lock = threading.Lock()
        self.files = self.total_files = self.bytes = self.total_bytes = 0
        self._start = self._last = 0.0

    def begin(self, files: int, total_bytes: int) -> None:
        self.total_files, self.total_bytes = files, total_bytes
        self._start = self._last = self.clock()

    def advance(self, nbytes: int, files: int = 1) -> None:
        with self._lock:
            self.files += files
            self.bytes += nbytes
            now = self.clock()
            if now - self._last >= self.interval:
                self._last = now
                self._show(now)

    def end(self) -> None:
        with self._lock:
            if self.tty:
                self._show(self.clock())
                self.out.write("\n")
                self.out.flush()

    def _show(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = self.bytes / elapsed
        left = self.total_bytes - self.bytes
        eta = f"{left / rate:.0f}s" if rate > 0 else "?"
        text = (f"{self.name}: {self.files}/{self.total_files} files, "
                f"{human_size(self.bytes)}/{human_size(self.total_bytes)}, "
                f"{human_size(rate)}/s, ETA {eta}")
        if self.tty:
            done = self.bytes / self.total_bytes if self.total_bytes else 1.0
            bar = "#" * int(done * 30)
            self.out.write(f"\r[{bar:<30}] {text}\x1b[K")
        else:
            self.out.write(text + "\n")
        self.out.flush()


def human_size(n: float) -> str:
    """1536 -> '1.5KiB' (binary units, as gkfs-ctl prints sizes)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{n}B"
