"""Prometheus metrics through the real entry points: ``gkfs-ctl start --metrics-port BASE``
(daemon i serves GET /metrics on BASE+i), scrapes parsed with prometheus_client's text
parser, counters that grow with the work done, and ``--enable-prometheus
--prometheus-gateway`` pushing to a real Pushgateway (Debian's prometheus-pushgateway)."""

from __future__ import annotations

import http.client
import json
import random
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import eventually

MiB = 1 << 20


def free_ports(n: int) -> int:
    """A base port B with B..B+n-1 free on the loopback now (bound, then released)."""
    for _ in range(100):
        base = random.randrange(20000, 60000 - n)
        sockets = []
        try:
            for port in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise AssertionError("no free range of loopback ports")


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of an exposition, through prometheus_client."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(r.read().decode())


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(scrapes: list[dict], name: str, **labels: str) -> float:
    return sum(value(s, name, **labels) for s in scrapes)


@pytest.fixture
def metrics_fs(make_fs):
    base = free_ports(2)
    fs = make_fs(2, args=["--metrics-port", str(base)])
    fs.metrics_ports = [base, base + 1]
    return fs


def test_start_prints_each_daemons_metrics_port(metrics_fs):
    state = Path(metrics_fs.hosts_file + ".pids.json").read_text()
    assert "--metrics-port=" in state  # recorded with the plan, like every daemon flag
    for i, port in enumerate(metrics_fs.metrics_ports):
        daemon_log = Path(f"{metrics_fs.rootdir}/d{i}.log").read_text()
        assert f"metrics at http://127.0.0.1:{port}/metrics" in daemon_log


def test_scrape_counters_grow_with_the_work_done(metrics_fs):
    ports = metrics_fs.metrics_ports
    before = [scrape(p) for p in ports]
    for s in before:
        assert value(s, "gkfs_info", version=_version(), mode="normal",
                     uri=_uri_of(s)) == 1
    with metrics_fs.client() as fs:
        data = bytes(range(256)) * (MiB // 256)
        with fs.open("/m.bin", "wb", buffering=0) as f:  # four writes, four requests or more
            for i in range(4):
                f.write(data[i * MiB // 4:(i + 1) * MiB // 4])
        assert fs.read_bytes("/m.bin") == data
        with pytest.raises(FileNotFoundError):
            fs.stat("/missing")
        during = [scrape(p) for p in ports]
        assert total(during, "gkfs_connected_clients") >= 2  # this client, on each daemon
    after = [scrape(p) for p in ports]

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("gkfs_written_bytes_total") == MiB
    assert grew("gkfs_read_bytes_total") == MiB
    assert grew("gkfs_request_payload_bytes_total", verb="WriteChunks") == MiB
    assert grew("gkfs_requests_total", verb="CreateInDir", outcome="ok") == 1
    assert grew("gkfs_requests_total", verb="WriteChunks", outcome="ok") >= 4
    assert grew("gkfs_requests_total", verb="Stat", outcome="error") >= 1
    # Histograms: one observation per reply, cumulative buckets ending in +Inf.
    for s in after:
        verbs = {dict(labels)["verb"] for (name, labels) in s if name == "gkfs_requests_total"}
        for verb in verbs:
            replies = value(s, "gkfs_requests_total", verb=verb, outcome="ok") + \
                value(s, "gkfs_requests_total", verb=verb, outcome="error")
            assert value(s, "gkfs_request_duration_seconds_count", verb=verb) == replies
            assert value(s, "gkfs_request_duration_seconds_bucket", verb=verb, le="+Inf") == replies
            buckets = sorted((float(dict(labels)["le"]), v) for (name, labels), v in s.items()
                             if name == "gkfs_request_duration_seconds_bucket"
                             and dict(labels)["verb"] == verb)
            assert [v for _, v in buckets] == sorted(v for _, v in buckets)
            assert value(s, "gkfs_request_duration_seconds_sum", verb=verb) > 0
    assert total(after, "gkfs_metadata_entries") >= 1
    assert total(after, "gkfs_metadata_store_bytes") > 0
    assert all(value(s, "gkfs_storage_total_bytes") > 0 for s in after)
    # The chunk store's size is recounted in the background: wait for the MiB to show.
    assert eventually(lambda: total([scrape(p) for p in ports], "gkfs_chunk_store_bytes") >= MiB)


def test_bad_requests_and_a_taken_port(metrics_fs, make_fs):
    port = metrics_fs.metrics_ports[0]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/elsewhere")
    assert conn.getresponse().status == 404
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/metrics", body=b"x")
    assert conn.getresponse().status == 405
    # A client that connects and says nothing delays the next scrape, never blocks it.
    with socket.create_connection(("127.0.0.1", port)):
        assert scrape(port)
    with pytest.raises(AssertionError) as failed:
        make_fs(1, args=["--metrics-port", str(port)])
    assert f"--metrics-port {port}: cannot listen on 127.0.0.1:{port}" in str(failed.value)


def test_metrics_flags_are_checked(tmp_path):
    from conftest import gkfs_ctl

    result = gkfs_ctl("start", "-H", str(tmp_path / "h"), "-r", str(tmp_path / "r"),
                      "--prometheus-gateway", "nohostport")
    assert result.returncode == 2
    assert "--prometheus-gateway (GKFS_PROMETHEUS_GATEWAY) must be HOST:PORT" in result.stderr
    result = gkfs_ctl("start", "-H", str(tmp_path / "h"), "--metrics-port", "70000")
    assert result.returncode == 2 and "--metrics-port" in result.stderr


@pytest.fixture
def pushgateway(tmp_path):
    binary = shutil.which("prometheus-pushgateway")
    assert binary, "prometheus-pushgateway is missing: scripts/setup.sh installs it"
    port = free_ports(1)
    log = open(tmp_path / "pgw.log", "w")
    # Debian's build persists to a system file by default: keep this one's state private.
    proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}",
                             f"--persistence.file={tmp_path / 'pgw.data'}"],
                            stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    try:
        assert eventually(lambda: _answers(port)), (tmp_path / "pgw.log").read_text()
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def test_daemons_push_to_a_pushgateway(make_fs, pushgateway):
    fs = make_fs(2, args=["--enable-prometheus", "--prometheus-gateway",
                          f"127.0.0.1:{pushgateway}", "--prometheus-push-interval", "0.3"])
    with fs.client() as c:
        c.write_bytes("/pushed", b"p" * 4096)

    def pushed() -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{pushgateway}/metrics", timeout=10) as r:
            return parse(r.read().decode())

    def written() -> dict[str, float]:
        found: dict[str, float] = {}
        for (name, labels), v in pushed().items():
            labels = dict(labels)
            if name == "gkfs_written_bytes_total" and labels.get("job") == "gkfs":
                found[labels["instance"]] = v
        return found

    uris = [line.split()[1] for line in Path(fs.hosts_file).read_text().splitlines() if line]
    instances = {re.sub(r"^.*://", "", uri) for uri in uris}
    assert eventually(lambda: set(written()) == instances and sum(written().values()) == 4096), \
        written()
    fs.stop()
    # The last push, at shutdown, carries the final counts.
    assert sum(written().values()) == 4096


def _version() -> str:
    import gkfs

    return gkfs.__version__


def _uri_of(samples: dict) -> str:
    return next(dict(labels)["uri"] for (name, labels) in samples if name == "gkfs_info")


def test_stats_reports_the_metrics_of_a_normal_file_system(make_fs):
    fs = make_fs(2)
    with fs.client() as c:
        c.write_bytes("/s", b"s" * 8192)
        assert c.read_bytes("/s") == b"s" * 8192
    result = fs.ctl("stats", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    daemons = report["daemons"]
    assert [d["up"] for d in daemons] == [True, True]
    assert sum(d["written_bytes"] for d in daemons) == 8192
    assert sum(d["read_bytes"] for d in daemons) == 8192
    assert all(d["mode"] == "normal" for d in daemons)
    text = fs.ctl("stats")
    assert text.returncode == 0, text.stderr
    assert "down" not in text.stdout
    assert "all daemons:" in text.stdout and "written=8.0KiB read=8.0KiB" in text.stdout


def test_status_json(make_fs):
    fs = make_fs(2)
    result = fs.ctl("status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert sorted(d["index"] for d in report["daemons"]) == [0, 1]  # start's numbers
    assert all(d["up"] and d["version"] and d["free_bytes"] > 0 for d in report["daemons"])
    assert report["up"] == report["total"] == 2
