"""Forwarding mode through gkfs._core: I/O-node daemons over a real PFS directory, ordered by
the Python schedulers (gkfs.forwarding.scheduling) through the C++ I/O queue."""

import os
import socket
import threading

import pytest

from gkfs import _core
from gkfs.forwarding.scheduling import SchedulerHost
from gkfs.forwarding.scheduling.config import load_config

pytestmark = pytest.mark.skipif(not _core.HAVE_FORWARDING, reason="built with ENABLE_FORWARDING=OFF")


class IoNodes:
    """n forwarding daemons in this process (threads), sharing one PFS directory."""

    def __init__(self, root, n, algorithm):
        self.pfs = root / "pfs"
        self.pfs.mkdir()
        self.hosts = str(root / "hosts")
        self.map = str(root / "map")
        self.hosts_objs, self.daemons, self.threads = [], [], []
        for i in range(n):
            conf = root / f"agios{i}.conf"
            conf.write_text(f'default_algorithm = "{algorithm}";\nwaiting_time = 0;\n')
            host = SchedulerHost(str(conf))
            o = _core.DaemonOptions()
            o.rootdir = str(root / f"d{i}")
            o.hosts_file = self.hosts
            o.use_memory_backend = True
            o.enable_forwarding = True
            o.pfs_dir = str(self.pfs)
            o.io_threads = 1
            o.scheduler = _core.python_scheduler(host, host.config.max_aggregation)
            d = _core.Daemon.create(o)
            t = threading.Thread(target=d.run, daemon=True)
            t.start()
            self.hosts_objs.append(host)
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

    def client(self, host, app_id):
        return _core.Client(self.hosts, timeout_ms=30000, forwarding_map_file=self.map,
                            hostname=host, app_id=app_id)

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

