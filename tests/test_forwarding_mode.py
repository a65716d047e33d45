"""Forwarding mode through gkfs._core: I/O-node daemons over a real PFS directory, ordered by
the Python schedulers (gkfs.forwarding.scheduling) through the C++ I/O queue."""

import errno
import os
import socket
import threading
from pathlib import Path

import pytest

from conftest import requests_by_verb
from gkfs import _core
from gkfs.forwarding.mapfile import DIRECT
from gkfs.forwarding.scheduling import SchedulerHost
from gkfs.forwarding.scheduling.config import load_config

pytestmark = pytest.mark.skipif(not _core.HAVE_FORWARDING, reason="built with ENABLE_FORWARDING=OFF")


class IoNodes:
    """n forwarding daemons in this process (threads), sharing one PFS directory; with
    algorithm None, n daemons in normal mode instead (what forwarding mode is compared to)."""

    def __init__(self, root, n, algorithm):
        root.mkdir(exist_ok=True)
        self.pfs = root / "pfs"
        self.pfs.mkdir()
        self.hosts = str(root / "hosts")
        self.map = str(root / "map") if algorithm else ""
        self.hosts_objs, self.daemons, self.threads = [], [], []
        for i in range(n):
            o = _core.DaemonOptions()
            o.rootdir = str(root / f"d{i}")
            o.hosts_file = self.hosts
            o.use_memory_backend = True
            o.io_threads = 1
            if algorithm:
                conf = root / f"agios{i}.conf"
                conf.write_text(f'default_algorithm = "{algorithm}";\nwaiting_time = 0;\n')
                host = SchedulerHost(str(conf))
                o.enable_forwarding = True
                o.pfs_dir = str(self.pfs)
                o.scheduler = _core.python_scheduler(host, host.config.max_aggregation)
                self.hosts_objs.append(host)
            d = _core.Daemon.create(o)
            t = threading.Thread(target=d.run, daemon=True)
            t.start()
            self.daemons.append(d)
            self.threads.append(t)
        hosts = root / "hosts"
        while not hosts.exists() or hosts.read_text().count("\n") < n:
            threading.Event().wait(0.01)

    def remap(self, text):
        tmp = self.map + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.map)

    def client(self, host, app_id, **identity):
        return _core.Client(self.hosts, timeout_ms=30000, forwarding_map_file=self.map,
                            hostname=host, app_id=app_id, **identity)

    def stop(self):
        for d in self.daemons:
            d.shutdown()
        for t in self.threads:
            t.join(30)


@pytest.fixture
def io_nodes(tmp_path, request):
    nodes = IoNodes(tmp_path, 2, request.param)
    yield nodes
    nodes.stop()


@pytest.mark.parametrize("io_nodes", ["TO-agg", "SJF", "aIOLi", "MLF", "WFQ", "NOOP"], indirect=True)
def test_concurrent_writers_through_python_scheduler(io_nodes):
    io_nodes.remap("cn1 0\ncn2 0\ncn3 1\n")
    writers = {f"cn{i}": io_nodes.client(f"cn{i}", app_id=i) for i in (1, 2, 3)}
    for host, c in writers.items():
        c.create(f"/{host}.dat", 0o644)
    block = 8192

    def write_all(host, c):
        md = c.stat(f"/{host}.dat")
        for i in range(64):
            c.write(f"/{host}.dat", md.file_id, i * block, bytes([i]) * block)

    threads = [threading.Thread(target=write_all, args=kv) for kv in writers.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for host in writers:
        data = (io_nodes.pfs / f"{host}.dat").read_bytes()  # an ordinary file on the PFS
        assert data == b"".join(bytes([i]) * block for i in range(64))
    node0 = writers["cn1"].io_node_statistics(0)
    node1 = writers["cn1"].io_node_statistics(1)
    assert sorted(a["app_id"] for a in node0["apps"]) == [1, 2]
    assert [a["app_id"] for a in node1["apps"]] == [3]
    assert all(a["writes"] == 64 and a["bytes"] == 64 * block for a in node0["apps"] + node1["apps"])
    assert node0["scheduler_errors"] == 0 and node1["scheduler_errors"] == 0


@pytest.mark.parametrize("io_nodes", ["TO-agg"], indirect=True)
def test_live_remap_moves_new_requests(io_nodes):
    io_nodes.remap("cn1 0\n")
    c = io_nodes.client("cn1", app_id=5)
    c.create("/f", 0o644)
    md = c.stat("/f")
    c.write("/f", md.file_id, 0, b"a" * 100)
    io_nodes.remap("cn1 1\n")
    threading.Event().wait(0.3)  # past the client's map poll interval
    c.write("/f", md.file_id, 100, b"b" * 100)
    assert (io_nodes.pfs / "f").read_bytes() == b"a" * 100 + b"b" * 100
    assert c.io_node_statistics(0)["apps"][0]["writes"] == 1
    assert c.io_node_statistics(1)["apps"][0]["writes"] == 1
    assert c.read("/f", md.file_id, 0, 1000) == b"a" * 100 + b"b" * 100


@pytest.mark.parametrize("io_nodes", ["TO-agg"], indirect=True)
def test_map_errors_name_file_and_line(io_nodes):
    io_nodes.remap("cn1 0\ncn1 1\n")
    with pytest.raises(OSError) as err:
        io_nodes.client("cn1", app_id=1)
    assert "line 2" in str(err.value) and io_nodes.map in str(err.value)
    io_nodes.remap(f"{socket.gethostname()}x 0\n")
    with pytest.raises(OSError, match="no line for host 'cn1'"):
        io_nodes.client("cn1", app_id=1)


@pytest.mark.parametrize("io_nodes", ["NOOP"], indirect=True)
def test_fsync_syncs_the_pfs_file_on_the_io_node(io_nodes):
    io_nodes.remap("cn1 1\n")
    c = io_nodes.client("cn1", app_id=1)
    c.create("/f", 0o644)
    md = c.stat("/f")
    c.write("/f", md.file_id, 0, b"durable" * 100)
    c.fsync("/f", md.file_id)
    c.fsync("/f", md.file_id, datasync=True)
    c.fsync("/", 0)  # the PFS directory itself
    assert [d.syncs for d in c.daemons()] == [0, 3]  # all on this host's I/O node
    c.syncfs()  # every I/O node
    assert [d.syncs for d in c.daemons()] == [1, 4]
    with pytest.raises(FileNotFoundError):
        c.fsync("/missing", 1)



def _writes_by_app(client, index):
    return {a["app_id"]: a["writes"] for a in client.io_node_statistics(index)["apps"]}


@pytest.mark.parametrize("io_nodes", ["NOOP"], indirect=True)
def test_map_lookup_tries_the_short_host_name_then_the_full_one(io_nodes):
    io_nodes.remap("vm 1\nother.cluster.local 0\n")
    short = io_nodes.client("vm.cluster.local", app_id=7)  # GekkoFWD looks up 'vm'
    full = io_nodes.client("other.cluster.local", app_id=8)  # no 'other' line: the full name
    for c, name in ((short, "/s"), (full, "/f")):
        c.create(name, 0o644)
        c.write(name, c.stat(name).file_id, 0, b"x")
    assert _writes_by_app(short, 1) == {7: 1} and _writes_by_app(short, 0) == {8: 1}
    io_nodes.remap("vm 0\nvm.cluster.local 1\n")
    both = io_nodes.client("vm.cluster.local", app_id=9)
    both.write("/s", both.stat("/s").file_id, 1, b"y")
    assert _writes_by_app(both, 0) == {8: 1, 9: 1}


@pytest.mark.parametrize("io_nodes", ["NOOP"], indirect=True)
def test_io_node_index_orders_daemons_by_host_name_then_uri(io_nodes, tmp_path):
    lines = sorted((line.split() for line in Path(io_nodes.hosts).read_text().splitlines() if line),
                   key=lambda words: words[1])
    low_uri, high_uri = lines[0][1], lines[1][1]
    renamed = tmp_path / "renamed-hosts"  # the higher uri gets the lower host name
    renamed.write_text(f"io-b {' '.join(lines[0][1:])}\nio-a {' '.join(lines[1][1:])}\n")
    io_nodes.remap("cn1 0\ncn2 0\n")
    c = _core.Client(str(renamed), timeout_ms=30000, forwarding_map_file=io_nodes.map,
                     hostname="cn1", app_id=11)
    assert [(d.host, d.uri) for d in c.daemons()] == [("io-a", high_uri), ("io-b", low_uri)]
    c.create("/f", 0o644)
    c.write("/f", c.stat("/f").file_id, 0, b"y")
    by_uri = io_nodes.client("cn2", app_id=12)  # one host name for both: uri order
    assert [d.uri for d in by_uri.daemons()] == [low_uri, high_uri]
    assert _writes_by_app(by_uri, 1) == {11: 1} and _writes_by_app(by_uri, 0) == {}


@pytest.mark.parametrize("io_nodes", ["NOOP"], indirect=True)
def test_a_bad_map_is_logged_once_per_change(io_nodes, capfd):
    io_nodes.remap("cn1 0\n")
    c = io_nodes.client("cn1", app_id=1)
    c.create("/f", 0o644)
    file_id = c.stat("/f").file_id

    def keep_writing():
        for i in range(5):  # over four map polls
            threading.Event().wait(0.25)
            c.write("/f", file_id, i, b"z")

    capfd.readouterr()
    io_nodes.remap("cn1 0\ncn1 1\n")
    keep_writing()
    assert capfd.readouterr().err.count("keeping the previous forwarding mapping") == 1
    io_nodes.remap("cn1 zero\n")
    keep_writing()
    assert capfd.readouterr().err.count("keeping the previous forwarding mapping") == 1
    assert _writes_by_app(c, 0) == {1: 10} and _writes_by_app(c, 1) == {}


def _open_pfs_files(pfs):
    """The PFS files this process (whose threads are the I/O nodes) holds open."""
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(pfs) + "/"):
            names.append(target[len(str(pfs)):])
    return sorted(names)


@pytest.mark.parametrize("io_nodes", ["NOOP"], indirect=True)
def test_pfs_descriptors_stay_open_in_a_bounded_cache(io_nodes):
    io_nodes.remap("cn1 0\n")
    c = io_nodes.client("cn1", app_id=1)
    c.create("/kept", 0o644)
    file_id = c.stat("/kept").file_id
    for i in range(8):
        c.write("/kept", file_id, i * 10, b"k" * 10)
    assert c.read("/kept", file_id, 0, 100) == b"k" * 80
    c.fsync("/kept", file_id)
    assert _open_pfs_files(io_nodes.pfs) == ["/kept"]  # one descriptor served them all
    for i in range(_core.PFS_OPEN_FILES + 10):
        c.create(f"/many{i}", 0o644)
        c.write(f"/many{i}", c.stat(f"/many{i}").file_id, 0, b"m")
    assert len(_open_pfs_files(io_nodes.pfs)) == _core.PFS_OPEN_FILES
    c.remove(f"/many{_core.PFS_OPEN_FILES + 9}")
    assert len(_open_pfs_files(io_nodes.pfs)) == _core.PFS_OPEN_FILES - 1


@pytest.mark.parametrize("io_nodes", ["NOOP"], indirect=True)
def test_names_replaced_through_another_io_node_get_the_new_file(io_nodes):
    io_nodes.remap("cn1 0\ncn2 1\n")
    a, b = io_nodes.client("cn1", app_id=1), io_nodes.client("cn2", app_id=2)
    for name in ("/unlinked", "/renamed-over", "/moved"):
        a.create(name, 0o644)
        a.write(name, a.stat(name).file_id, 0, b"old")  # I/O node 0 has the file open
    b.remove("/unlinked")  # I/O node 1 replaces each name
    b.create("/unlinked", 0o644)
    b.create("/tmp-new", 0o644)
    b.rename("/tmp-new", "/renamed-over")
    b.rename("/moved", "/moved-away")
    b.create("/moved", 0o644)
    for name in ("/unlinked", "/renamed-over", "/moved"):
        a.write(name, a.stat(name).file_id, 0, b"new")
        assert (io_nodes.pfs / name[1:]).read_bytes() == b"new", name
    assert (io_nodes.pfs / "moved-away").read_bytes() == b"old"
    a.rename("/moved", "/moved-again")  # through the node that holds it open
    a.create("/moved", 0o644)
    a.write("/moved", a.stat("/moved").file_id, 0, b"third")
    assert (io_nodes.pfs / "moved").read_bytes() == b"third"
    assert (io_nodes.pfs / "moved-again").read_bytes() == b"new"


def outcome(call):
    """'ok', or the errno's name a call failed with."""
    try:
        call()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]


def test_both_modes_give_the_same_answers_in_the_same_order(tmp_path):
    """The one client over the one handler table: the same calls by an unprivileged caller
    get the same errno from a daemon in normal mode as from an I/O node over a PFS."""
    answers = {}
    for mode, algorithm in (("normal", None), ("forwarding", "NOOP"), ("direct", "NOOP")):
        nodes = IoNodes(tmp_path / mode, 1, algorithm)
        try:
            root, c = permission_tree(nodes, direct=mode == "direct")
            root.mkdir("/sticky", 0o1777)
            root.create("/sticky/roots", 0o666)
            root.mkdir("/open/a", 0o777)
            root.create("/open/a/f", 0o666)
            root.create("/open/mine", 0o666)
            calls = [
                ("create in a locked dir", lambda: c.create("/locked/new", 0o644)),
                ("create under a missing dir", lambda: c.create("/missing/x", 0o644)),
                ("create under a file", lambda: c.create("/locked/file/x", 0o644)),
                ("mkdir", lambda: c.mkdir("/open/d", 0o755)),
                ("mkdir again", lambda: c.mkdir("/open/d", 0o755)),
                ("rmdir of a non-empty dir", lambda: c.rmdir("/open/a")),
                ("rmdir of a file", lambda: c.rmdir("/open/mine")),
                ("rmdir in a locked dir", lambda: c.rmdir("/locked/sub")),
                ("remove of a dir", lambda: c.remove("/open/a")),
                ("remove in a locked dir", lambda: c.remove("/locked/file")),
                ("remove of a missing file", lambda: c.remove("/open/none")),
                ("stat of a missing file", lambda: c.stat("/open/none")),
                ("readdir of a file", lambda: c.readdir("/open/mine")),
                ("truncate of a dir", lambda: c.truncate("/open/a", 0)),
                ("symlink in a locked dir", lambda: c.symlink("/locked/l", "/open")),
                ("rename out of a locked dir", lambda: c.rename("/locked/file", "/open/x")),
                ("rename into a locked dir", lambda: c.rename("/open/mine", "/locked/x")),
                ("rename of root's file in a sticky dir", lambda: c.rename("/sticky/roots", "/open/y")),
                ("rename of a dir into itself", lambda: c.rename("/open/a", "/open/a/b")),
                ("rename of a dir over a file", lambda: c.rename("/open/a", "/open/mine")),
                ("rename of a file over a dir", lambda: c.rename("/open/mine", "/open/a")),
                ("rename onto itself", lambda: c.rename("/open/mine", "/open/mine")),
                ("link into a locked dir", lambda: c.link("/open/mine", "/locked/hard")),
                ("link of a dir", lambda: c.link("/open/a", "/open/dl")),
                ("link of a missing file", lambda: c.link("/open/none", "/open/h")),
                ("link", lambda: c.link("/open/mine", "/open/hard")),
                ("link over a name", lambda: c.link("/open/mine", "/open/hard")),
                ("rename of one name over another of the same file",
                 lambda: c.rename("/open/hard", "/open/mine")),
                ("rename", lambda: c.rename("/open/hard", "/open/moved")),
            ]
            answers[mode] = [(name, outcome(call)) for name, call in calls]
        finally:
            nodes.stop()
    assert answers["forwarding"] == answers["normal"]
    assert answers["direct"] == answers["normal"]
    assert [answer for _, answer in answers["normal"]] == [
        "EACCES", "ENOENT", "ENOTDIR", "ok", "EEXIST", "ENOTEMPTY", "ENOTDIR", "EACCES", "EISDIR",
        "EACCES", "ENOENT", "ENOENT", "ENOTDIR", "EISDIR", "EACCES", "EACCES", "EACCES", "EPERM",
        "EINVAL", "ENOTDIR", "EISDIR", "ok", "EACCES", "EPERM", "ENOENT", "ok", "EEXIST", "ok",
        "ok"], "Linux's answers"


@pytest.mark.parametrize("io_nodes", ["NOOP"], indirect=True)
def test_each_operation_costs_the_round_trips_it_did_before_the_client_was_one(io_nodes):
    """A guard on the hot path, counted by the I/O node's own request counters: one request
    per operation, as the forwarding client was before it became the one client (a create
    or removal now carries its parent's record in the same request: CreateInDir,
    RemoveInDir); a rename first stats both names, in one round trip, for normal mode's
    checks."""
    io_nodes.remap("cn1 0\n")
    c = io_nodes.client("cn1", app_id=1)

    def cost(op):
        before = requests_by_verb(c, [0])
        op()
        after = requests_by_verb(c, [0])
        grown = {v: after[v] - before.get(v, 0) for v in after if after[v] != before.get(v, 0)}
        grown.pop("Metrics", None)
        return grown

    md = c.create("/f", 0o644)
    assert cost(lambda: c.create("/g", 0o644)) == {"CreateInDir": 1}
    assert cost(lambda: c.write("/f", md.file_id, 0, b"x" * 8192)) == {"FwdWrite": 1}
    assert cost(lambda: c.read("/f", md.file_id, 0, 8192)) == {"FwdRead": 1}
    assert cost(lambda: c.stat("/f")) == {"Stat": 1}
    assert cost(lambda: c.remove("/g")) == {"RemoveInDir": 1}
    assert cost(lambda: c.rename("/f", "/h")) == {"Stat": 2, "FwdRename": 1}


def permission_tree(io_nodes, direct=False):
    """/locked (root's, 0755, holding file and sub/) and /open (0777) on I/O node 0 (direct:
    on the PFS, through the client's direct route); the clients of root (no checks) and of
    nobody (checked as uid and gid 65534)."""
    if io_nodes.map:
        io_nodes.remap("cn1 direct\n" if direct else "cn1 0\n")
    root = io_nodes.client("cn1", app_id=1)
    root.mkdir("/locked", 0o755)
    root.mkdir("/locked/sub", 0o755)
    root.create("/locked/file", 0o644)
    root.mkdir("/open", 0o777)
    return root, io_nodes.client("cn1", app_id=2, uid=65534, gid=65534)


@pytest.mark.parametrize("io_nodes", ["NOOP"], indirect=True)
def test_directory_permissions_are_checked_as_in_normal_mode(io_nodes):
    root, nobody = permission_tree(io_nodes)
    attempts = {
        "create": lambda: nobody.create("/locked/new", 0o644),
        "mkdir": lambda: nobody.mkdir("/locked/newdir", 0o755),
        "remove": lambda: nobody.remove("/locked/file"),
        "rmdir": lambda: nobody.rmdir("/locked/sub"),
        "symlink": lambda: nobody.symlink("/locked/link", "/open"),
    }
    for name, attempt in attempts.items():
        with pytest.raises(PermissionError):
            attempt()
    assert sorted(os.listdir(io_nodes.pfs / "locked")) == ["file", "sub"], "nothing changed"
    nobody.create("/open/mine", 0o644)  # where it may write, it can
    nobody.mkdir("/open/d", 0o755)
    nobody.rmdir("/open/d")
    nobody.remove("/open/mine")
    assert os.listdir(io_nodes.pfs / "open") == []


@pytest.mark.parametrize("io_nodes", ["NOOP"], indirect=True)
def test_rename_and_link_are_checked_as_in_normal_mode(io_nodes):
    root, nobody = permission_tree(io_nodes)
    root.mkdir("/sticky", 0o1777)
    root.create("/sticky/roots", 0o666)
    nobody.create("/open/mine", 0o644)
    denied = {  # Linux's answers, as the same calls give in normal mode
        "rename out of a locked directory": (lambda: nobody.rename("/locked/file", "/open/x"), PermissionError),
        "rename into a locked directory": (lambda: nobody.rename("/open/mine", "/locked/x"), PermissionError),
        "rename of another's file in a sticky one": (lambda: nobody.rename("/sticky/roots", "/open/y"),
                                                     PermissionError),
        "link into a locked directory": (lambda: nobody.link("/open/mine", "/locked/hard"), PermissionError),
    }
    for name, (attempt, error) in denied.items():
        with pytest.raises(error):
            attempt()
    assert sorted(os.listdir(io_nodes.pfs / "locked")) == ["file", "sub"], "nothing changed"
    assert sorted(os.listdir(io_nodes.pfs / "sticky")) == ["roots"]
    # where it may write, it can: a hard link is a second name of the same PFS file
    nobody.link("/open/mine", "/open/hard")
    assert os.stat(io_nodes.pfs / "open" / "hard").st_ino == os.stat(io_nodes.pfs / "open" / "mine").st_ino
    assert nobody.stat("/open/hard").nlink == 2
    with pytest.raises(FileExistsError):
        nobody.link("/open/mine", "/open/hard")
    with pytest.raises(PermissionError):  # link(2) of a directory: EPERM, before the PFS is asked
        nobody.link("/open", "/open/dirlink")
    nobody.rename("/open/hard", "/open/renamed")
    assert sorted(os.listdir(io_nodes.pfs / "open")) == ["mine", "renamed"]


@pytest.mark.parametrize("io_nodes", ["TO-agg"], indirect=True)
def test_the_arbiter_moves_a_job_while_it_writes_and_no_byte_is_lost(io_nodes, tmp_path):
    from gkfs.forwarding import stats
    from gkfs.forwarding.arbiter import Arbiter

    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[job]]\nname = "a"\nhosts = "cn1"\napp_id = 1\n'
                    '[[job]]\nname = "b"\nhosts = "cn2"\napp_id = 2\n')
    observer = _core.Client(io_nodes.hosts, timeout_ms=30000)
    arbiter = Arbiter(str(jobs), io_nodes.map, 2, lambda: stats.collect(observer))
    assert arbiter.step().mapping == {"cn1": 0, "cn2": 1}
    writer = io_nodes.client("cn2", app_id=2)
    writer.create("/moving", 0o644)
    file_id = writer.stat("/moving").file_id
    block, blocks = 4096, 200
    started = threading.Event()

    def write_all():
        for i in range(blocks):
            writer.write("/moving", file_id, i * block, i.to_bytes(4, "little") * (block // 4))
            if i == 20:
                started.set()
            threading.Event().wait(0.005)

    thread = threading.Thread(target=write_all)
    thread.start()
    assert started.wait(60)
    jobs.write_text('[[job]]\nname = "b"\nhosts = "cn2"\napp_id = 2\n')  # a stops
    assert arbiter.step().mapping == {"cn2": 0}  # b moves to I/O node 0 while it writes
    thread.join(120)
    expected = b"".join(i.to_bytes(4, "little") * (block // 4) for i in range(blocks))
    assert (io_nodes.pfs / "moving").read_bytes() == expected  # every byte, on the PFS
    on = [sum(a["writes"] for a in observer.io_node_statistics(n)["apps"] if a["app_id"] == 2)
          for n in (0, 1)]
    assert on[0] > 0 and on[1] > 0 and sum(on) == blocks


@pytest.mark.parametrize("io_nodes", ["NOOP"], indirect=True)
def test_a_host_mapped_direct_works_on_the_pfs_in_the_client(io_nodes):
    """`host direct`: the client runs every operation on the I/O nodes' PFS directory itself
    (learnt from their fs_config reply); the I/O nodes answer none of them."""
    io_nodes.remap("cn1 direct\ncn2 0\n")
    c = io_nodes.client("cn1", app_id=1)
    assert c.config.pfs_dir == str(io_nodes.pfs)
    before = [requests_by_verb(c, [n]) for n in (0, 1)]
    c.mkdir("/d", 0o755)
    md = c.create("/d/f", 0o644)
    c.write("/d/f", md.file_id, 0, b"direct" * 1000)
    c.write("/d/f", md.file_id, 6000, b"!")
    assert c.read("/d/f", md.file_id, 0, 10000) == b"direct" * 1000 + b"!"
    assert c.stat("/d/f").size == 6001
    c.fsync("/d/f", md.file_id)
    c.rename("/d/f", "/d/g")
    assert [name for name, *_ in c.readdir("/d")] == ["g"]
    assert (io_nodes.pfs / "d" / "g").read_bytes() == b"direct" * 1000 + b"!"
    with pytest.raises(FileNotFoundError):
        c.stat("/d/f")
    c.remove("/d/g")
    c.rmdir("/d")
    assert list(io_nodes.pfs.iterdir()) == []
    after = [requests_by_verb(c, [n]) for n in (0, 1)]
    for b, a in zip(before, after):
        a.pop("Metrics", None), b.pop("Metrics", None)
        assert a == b, "a direct host sent requests to an I/O node"
    # a host on an I/O node is served by it as before, and sees what the direct host wrote
    other = io_nodes.client("cn2", app_id=2)
    shared = c.create("/shared", 0o644)
    c.write("/shared", shared.file_id, 0, b"from direct")
    assert other.read("/shared", other.stat("/shared").file_id, 0, 100) == b"from direct"
    assert requests_by_verb(other, [0]).get("FwdRead", 0) == 1


@pytest.mark.parametrize("io_nodes", ["NOOP"], indirect=True)
def test_a_malformed_direct_line_names_file_and_line(io_nodes):
    io_nodes.remap("cn2 0\ncn1 Direct\n")
    with pytest.raises(OSError) as err:
        io_nodes.client("cn1", app_id=1)
    assert io_nodes.map in str(err.value) and "line 2" in str(err.value)
    assert "expected 'hostname io_node_index' or 'hostname direct'" in str(err.value)
    io_nodes.remap("cn1 direct extra\n")
    with pytest.raises(OSError, match="line 1"):
        io_nodes.client("cn1", app_id=1)


@pytest.mark.parametrize("io_nodes", ["TO-agg"], indirect=True)
def test_the_arbiter_moves_a_job_to_direct_while_it_writes_and_no_byte_is_lost(io_nodes, tmp_path):
    """Job b writes through I/O node 0; job a starts and, worth more on the one I/O node,
    takes it: b's declared direct bandwidth (point 0) makes the arbiter map it direct while it
    writes. Writes the I/O node acknowledged are on the PFS before the direct route reads."""
    from gkfs.forwarding import stats
    from gkfs.forwarding.arbiter import Arbiter

    jobs = tmp_path / "jobs.toml"
    # Declared in bytes/s, as the arbiter measures: a gains more from the I/O node than b,
    # whatever b is measured at, and b declares its direct bandwidth.
    b_job = '[[job]]\nname = "b"\nhosts = "cn2"\napp_id = 2\nbandwidth = { 0 = 1e11, 1 = 2e11 }\n'
    jobs.write_text(b_job)
    observer = _core.Client(io_nodes.hosts, timeout_ms=30000)
    arbiter = Arbiter(str(jobs), io_nodes.map, 1, lambda: stats.collect(observer))
    assert arbiter.step().mapping == {"cn2": 0}
    writer = io_nodes.client("cn2", app_id=2)
    writer.create("/moving", 0o644)
    file_id = writer.stat("/moving").file_id
    block, blocks = 4096, 200
    started = threading.Event()
    mismatches = []

    def write_all():
        for i in range(blocks):
            data = i.to_bytes(4, "little") * (block // 4)
            writer.write("/moving", file_id, i * block, data)
            if writer.read("/moving", file_id, i * block, block) != data:  # over either route
                mismatches.append(i)
            if i == 20:
                started.set()
            threading.Event().wait(0.005)

    thread = threading.Thread(target=write_all)
    thread.start()
    assert started.wait(60)
    jobs.write_text('[[job]]\nname = "a"\nhosts = "cn1"\napp_id = 1\nbandwidth = { 1 = 1e12 }\n'
                    + b_job)  # a starts
    moved = arbiter.step()
    assert moved.describe() == "a 1, b direct" and moved.mapping == {"cn1": 0, "cn2": DIRECT}
    thread.join(120)
    expected = b"".join(i.to_bytes(4, "little") * (block // 4) for i in range(blocks))
    assert (io_nodes.pfs / "moving").read_bytes() == expected  # every byte, on the PFS
    assert writer.read("/moving", file_id, 0, len(expected)) == expected  # read direct
    assert mismatches == []
    through_io_node = sum(a["writes"] for a in observer.io_node_statistics(0)["apps"]
                          if a["app_id"] == 2)
    assert 20 < through_io_node < blocks  # the rest went direct
