"""The forwarding map file (GekkoFWD's format): which I/O node each compute host uses.

Grammar (UTF-8 text)::

    file    = { line }
    line    = [ entry ] [ comment ] "\\n"
    entry   = hostname blanks ( index | "direct" )   (blanks: spaces or tabs)
    comment = "#" { any character }
    index   = decimal integer >= 0            (position in the sorted I/O-node daemon list)

``direct`` (gkfs's extension; GekkoFWD has no such line) sends the host to no I/O node: its
client works on the PFS directory itself. In a :class:`ForwardingMap` it is :data:`DIRECT`.

A host appears at most once. Readers get a :class:`ForwardingMap`; every error names the
file and line. Writers replace the file atomically (temporary file in the same directory,
fsync, rename), so a reader sees the old map or the new one, never a mix. :class:`MapWatcher`
notices a replaced or rewritten file from its inode, size and mtime.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Iterable, Mapping, Optional

__all__ = ["DIRECT", "ForwardingMap", "MapError", "MapWatcher", "parse_map", "read_map", "write_map"]


DIRECT = -1
"""The index of a host mapped ``direct`` (no I/O node; the client goes to the PFS itself)."""


class MapError(ValueError):
    """A map file is malformed or does not fit the I/O nodes; 'file:line: problem'."""


@dataclasses.dataclass(frozen=True)
class ForwardingMap:
    """host -> I/O node index, with the line each entry came from (0 if not from a file)."""

    entries: Mapping[str, int]
    lines: Mapping[str, int] = dataclasses.field(default_factory=dict)
    path: str = "<map>"

    def io_node(self, host: str) -> Optional[int]:
        return self.entries.get(host)

    def io_nodes_used(self) -> int:
        """How many I/O nodes the map needs (largest index + 1; direct hosts need none)."""
        return max(self.entries.values(), default=-1) + 1

    def check_io_nodes(self, count: int) -> None:
        """Raises MapError naming the first entry whose index is not below `count`."""
        for host, index in self.entries.items():
            if index != DIRECT and index >= count:
                raise MapError(f"{self.path}:{self.lines.get(host, 0)}: {host} uses I/O node "
                               f"{index}, but there are only {count} (indices 0..{count - 1})")


def parse_map(text: str, path: str = "<map>") -> ForwardingMap:
    """The map in `text`. Raises MapError."""
    entries: dict[str, int] = {}
    lines: dict[str, int] = {}
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if len(words) != 2:
            raise MapError(f"{path}:{number}: expected 'hostname io_node_index' or "
                           f"'hostname direct', got {line!r}")
        host, index_text = words
        if index_text != "direct" and not (index_text.isascii() and index_text.isdigit()):
            raise MapError(f"{path}:{number}: I/O node index of {host} must be an integer "
                           f">= 0 or 'direct', got {index_text!r}")
        if host in entries:
            raise MapError(f"{path}:{number}: {host} is mapped twice (first at line "
                           f"{lines[host]})")
        index = DIRECT if index_text == "direct" else int(index_text)
        entries[host], lines[host] = index, number
    return ForwardingMap(entries, lines, path)


def read_map(path: str) -> ForwardingMap:
    """The map in file `path`. Raises OSError or MapError."""
    with open(path, encoding="utf-8") as f:
        return parse_map(f.read(), path)


def format_map(entries: Mapping[str, int], comments: Iterable[str] = ()) -> str:
    out = [f"# {c}" if c else "#" for c in comments]
    for host, index in entries.items():
        if not host or any(c.isspace() or c == "#" for c in host):
            raise MapError(f"host name {host!r} cannot be written to a map file")
        if index < 0 and index != DIRECT:
            raise MapError(f"{host}: I/O node index must be >= 0 or DIRECT, not {index}")
        out.append(f"{host} {'direct' if index == DIRECT else index}")
    return "\n".join(out) + "\n"


def write_map(path: str, entries: Mapping[str, int], comments: Iterable[str] = ()) -> None:
    """Replaces `path` atomically with `entries` (in their order), preceded by `comments`
    as '#' lines. The new file gets mode 0666 minus the umask. Raises OSError or MapError."""
    text = format_map(entries, comments)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                     dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MapWatcher:
    """Re-reads a map file when it changed: a rename (new inode), a rewrite in place (size,
    mtime) or its appearance. poll() is cheap (one stat); call it on a timer."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._seen: Optional[tuple[int, int, int, int]] = None
        self.current: Optional[ForwardingMap] = None

    def _signature(self) -> Optional[tuple[int, int, int, int]]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def changed(self) -> bool:
        """True if the file differs from the one last read (or was never read)."""
        signature = self._signature()
        return signature is not None and signature != self._seen

    def poll(self) -> Optional[ForwardingMap]:
        """The new map if the file changed since the last poll, else None. A malformed new
        file raises MapError and is not taken (the previous map stays current); it is read
        again only once it changes again."""
        signature = self._signature()
        if signature is None or signature == self._seen:
            return None
        self._seen = signature
        new = read_map(self.path)
        self.current = new
        return new
