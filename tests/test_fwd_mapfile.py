"""The forwarding map file: parsing and its errors, atomic replacement, change detection."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from gkfs.forwarding.mapfile import DIRECT, MapError, MapWatcher, parse_map, read_map, write_map

GEKKOFWD_EXAMPLE = """\
# 4 compute hosts on 2 I/O nodes
compute-1 0
compute-2 0

compute-3 1   # trailing comment
\tcompute-4\t1
"""


def test_gekkofwd_example_is_read():
    forwarding_map = parse_map(GEKKOFWD_EXAMPLE, "map.txt")
    assert dict(forwarding_map.entries) == {"compute-1": 0, "compute-2": 0, "compute-3": 1,
                                            "compute-4": 1}
    assert forwarding_map.lines["compute-3"] == 5
    assert forwarding_map.io_node("compute-4") == 1 and forwarding_map.io_node("x") is None
    assert forwarding_map.io_nodes_used() == 2


@pytest.mark.parametrize("text,line,message", [
    ("cn1 0\ncn2\n", 2, "expected 'hostname io_node_index' or 'hostname direct', got 'cn2'"),
    ("cn1 0 extra\n", 1, "expected 'hostname io_node_index'"),
    ("\n\ncn1 one\n", 3, "I/O node index of cn1 must be an integer >= 0 or 'direct', got 'one'"),
    ("cn1 -1\n", 1, "must be an integer >= 0 or 'direct', got '-1'"),
    ("cn1 Direct\n", 1, "got 'Direct'"),
    ("cn1 direct 0\n", 1, "expected 'hostname io_node_index' or 'hostname direct'"),
    ("cn1 1.5\n", 1, "got '1.5'"),
    ("cn1 0\n# c\ncn1 1\n", 3, "cn1 is mapped twice (first at line 1)"),
])
def test_parse_errors_name_file_and_line(text, line, message):
    with pytest.raises(MapError) as info:
        parse_map(text, "/shared/map.txt")
    assert str(info.value).startswith(f"/shared/map.txt:{line}: ")
    assert message in str(info.value)


def test_direct_lines_need_no_io_node_and_round_trip(tmp_path):
    forwarding_map = parse_map("cn1 direct\ncn2 1  # on an I/O node\ncn3\tdirect\n", "map.txt")
    assert dict(forwarding_map.entries) == {"cn1": DIRECT, "cn2": 1, "cn3": DIRECT}
    assert forwarding_map.io_nodes_used() == 2
    forwarding_map.check_io_nodes(2)
    only_direct = parse_map("cn1 direct\n")
    assert only_direct.io_nodes_used() == 0
    only_direct.check_io_nodes(0)
    path = tmp_path / "map.txt"
    write_map(str(path), {"cn1": DIRECT, "cn2": 0})
    assert path.read_text() == "cn1 direct\ncn2 0\n"
    assert dict(read_map(str(path)).entries) == {"cn1": DIRECT, "cn2": 0}


def test_indices_are_checked_against_the_io_nodes():
    forwarding_map = parse_map("a 0\nb 3\n", "m")
    forwarding_map.check_io_nodes(4)
    with pytest.raises(MapError, match=r"^m:2: b uses I/O node 3, but there are only 3"):
        forwarding_map.check_io_nodes(3)


def test_write_then_read_back(tmp_path):
    path = str(tmp_path / "map.txt")
    write_map(path, {"cn2": 1, "cn1": 0}, comments=["made by a test"])
    assert Path(path).read_text() == "# made by a test\ncn2 1\ncn1 0\n"
    assert dict(read_map(path).entries) == {"cn2": 1, "cn1": 0}


def test_written_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_map(str(tmp_path / "m"), {"a": 0})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m").st_mode) == 0o640


def test_replace_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "map.txt"
    write_map(str(path), {f"cn{i}": 0 for i in range(1000)})
    old_inode = os.stat(path).st_ino
    with open(path) as reader:                         # a client that opened the old map
        write_map(str(path), {f"cn{i}": 1 for i in range(1000)})
        assert reader.read().count(" 0\n") == 1000     # still the whole old file
    assert os.stat(path).st_ino != old_inode
    assert set(read_map(str(path)).entries.values()) == {1}
    assert os.listdir(tmp_path) == ["map.txt"]


def test_concurrent_readers_see_a_whole_map(tmp_path):
    path = str(tmp_path / "map.txt")
    write_map(path, {f"cn{i}": 0 for i in range(500)})
    stop, seen, errors = threading.Event(), set(), []

    def read_loop():
        while not stop.is_set():
            try:
                entries = read_map(path).entries
                values = set(entries.values())
                if len(entries) != 500 or len(values) != 1:
                    errors.append(values)
                seen.update(values)
            except FileNotFoundError as e:
                errors.append(e)

    reader = threading.Thread(target=read_loop)
    reader.start()
    n = 0
    while len(seen) < 5 and n < 5000:    # until the reader caught several versions
        n += 1
        write_map(path, {f"cn{i}": n for i in range(500)})
    stop.set()
    reader.join()
    assert not errors and len(seen) >= 5


def test_a_failed_write_keeps_the_old_map(tmp_path):
    path = str(tmp_path / "map.txt")
    write_map(path, {"cn1": 0})
    with pytest.raises(MapError, match="cannot be written"):
        write_map(path, {"cn1": 1, "bad host": 0})
    assert dict(read_map(path).entries) == {"cn1": 0}
    assert os.listdir(tmp_path) == ["map.txt"]


def test_watcher_notices_replacement_and_rewrite(tmp_path):
    path = str(tmp_path / "map.txt")
    watcher = MapWatcher(path)
    assert watcher.poll() is None and not watcher.changed()      # not there yet
    write_map(path, {"cn1": 0})
    assert watcher.changed()
    assert dict(watcher.poll().entries) == {"cn1": 0}
    assert watcher.poll() is None and not watcher.changed()
    write_map(path, {"cn1": 1})                                   # same second: new inode
    assert dict(watcher.poll().entries) == {"cn1": 1}
    with open(path, "a") as f:                                    # rewritten in place
        f.write("cn2 0\n")
    assert dict(watcher.poll().entries) == {"cn1": 1, "cn2": 0}


def test_watcher_keeps_the_last_good_map_when_a_new_one_is_malformed(tmp_path):
    path = str(tmp_path / "map.txt")
    write_map(path, {"cn1": 0})
    watcher = MapWatcher(path)
    watcher.poll()
    Path(path + ".new").write_text("cn1 0\ncn1 1\n")
    os.replace(path + ".new", path)
    with pytest.raises(MapError, match="mapped twice"):
        watcher.poll()
    assert dict(watcher.current.entries) == {"cn1": 0}
    assert watcher.poll() is None                                 # not re-read until changed
