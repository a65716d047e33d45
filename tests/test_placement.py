"""Placement hashes: _core against the PyPI xxhash package over the byte spec in
docs/formats.md, and against the test vectors published there."""

from __future__ import annotations

import errno
import re
import struct
from pathlib import Path

import pytest
import xxhash

from gkfs import _core

FORMATS = Path(__file__).resolve().parent.parent / "docs" / "formats.md"

PATHS = ["/", "/a", "/a/b", "/dir/file.txt", "/" + "x" * 255, "/ünïcödé/名前", "",
         "/with space/and\ttab"]
U64_MAX = 2**64 - 1
CHUNKS = [(0, 0), (1, 0), (0, 1), (1, 1), (42, 7), (0x0123456789ABCDEF, 3),
          (U64_MAX, 0), (0, U64_MAX), (U64_MAX, U64_MAX)]


@pytest.mark.parametrize("path", PATHS)
def test_hash_path_is_xxh3_of_the_path_bytes(path):
    assert _core.hash_path(path) == xxhash.xxh3_64_intdigest(path.encode("utf-8"))


def test_hash_path_accepts_raw_bytes():
    raw = b"/latin1-\xe9"
    assert _core.hash_path(raw) == xxhash.xxh3_64_intdigest(raw)


@pytest.mark.parametrize("file_id,index", CHUNKS)
def test_hash_chunk_is_xxh3_of_le_file_id_and_index(file_id, index):
    spec = struct.pack("<QQ", file_id, index)
    assert _core.hash_chunk(file_id, index) == xxhash.xxh3_64_intdigest(spec)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 64])
def test_owners_are_hash_mod_n(n):
    placement = _core.Placement(n)
    assert placement.num_daemons == n
    for path in PATHS:
        assert placement.metadata_owner(path) == _core.hash_path(path) % n
    for file_id, index in CHUNKS:
        assert placement.chunk_owner(file_id, index) == _core.hash_chunk(file_id, index) % n


def test_placement_spreads_chunks():
    placement = _core.Placement(4)
    owners = [placement.chunk_owner(12345, i) for i in range(400)]
    assert {owners.count(k) for k in range(4)} and min(owners.count(k) for k in range(4)) > 50


def test_placement_needs_a_daemon():
    with pytest.raises(ValueError):
        _core.Placement(0)


def _number(text: str) -> int:
    """'7', '0x1f' or '2^32'."""
    base, _, power = text.partition("^")
    return int(base, 0) ** int(power) if power else int(base, 0)


def _documented_vectors() -> tuple[list[tuple[bytes, int]], list[tuple[int, int, int]]]:
    """The rows of the test-vector table in docs/formats.md:
    | path `/a/b` | `0x...` |   and   | chunk file_id=F, index=I | `0x...` |"""
    text = FORMATS.read_text(encoding="utf-8")
    num = r"(0x[0-9a-fA-F]+|\d+(?:\^\d+)?)"
    paths = [(m.group(1).encode("utf-8"), _number(m.group(2))) for m in re.finditer(
        r"^\|\s*path `([^`]*)`[^|]*\|\s*`?" + num + r"`?\s*\|", text, re.MULTILINE)]
    chunks = [(_number(m.group(1)), _number(m.group(2)), _number(m.group(3)))
              for m in re.finditer(r"^\|\s*chunk file_id=" + num + r",\s*index=" + num +
                                   r"\s*\|\s*`?" + num + r"`?\s*\|", text, re.MULTILINE)]
    return paths, chunks


@pytest.mark.skipif(not FORMATS.exists(), reason="docs/formats.md not written yet")
def test_vectors_in_formats_md():
    paths, chunks = _documented_vectors()
    assert len(paths) >= 3 and len(chunks) >= 3, f"hash vectors not recognised in {FORMATS}"
    for raw, expected in paths:
        assert _core.hash_path(raw) == expected == xxhash.xxh3_64_intdigest(raw), raw
    for file_id, index, expected in chunks:
        assert _core.hash_chunk(file_id, index) == expected, (file_id, index)
        assert xxhash.xxh3_64_intdigest(struct.pack("<QQ", file_id, index)) == expected


@pytest.mark.parametrize("raw,normal", [
    ("/", "/"), ("//a//b/", "/a/b"), ("/a/./b/.", "/a/b"), ("/a/b/../c", "/a/c"),
    ("/..", "/"), ("/a/../..", "/"),
])
def test_normalize_path(raw, normal):
    assert _core.normalize_path(raw) == normal


@pytest.mark.parametrize("raw,code", [
    ("relative", errno.EINVAL), ("", errno.EINVAL),
    ("/" + "n" * 256, errno.ENAMETOOLONG), (("/" + "d" * 200) * 21, errno.ENAMETOOLONG),
])
def test_normalize_path_errors(raw, code):
    with pytest.raises(OSError) as info:
        _core.normalize_path(raw)
    assert info.value.errno == code


def test_version():
    import gkfs

    assert _core.version() == gkfs.__version__
