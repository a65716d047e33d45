"""Daemon failures: a killed daemon, a daemon restarted on its root directory, a pulled
network cable, one daemon stopped while the others serve.

Operations that need a dead daemon must fail with EIO or EHOSTDOWN and never hang (every
client call here runs under a hang guard); operations served by the other daemons go on.
The tests print the measured detection times (``pytest -s``); they assert behaviour only.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import HANG_GUARD_S
from gkfs.launchers.base import proc_start_time

HERE = Path(__file__).resolve().parent
DOWN_ERRNOS = {"EIO", "EHOSTDOWN"}


class Probe:
    """fs_probe.py running on a client host: one gkfs.Client that lives across failures."""

    def __init__(self, vc: Any, hosts_file: str, timeout_ms: int, host: Any = None) -> None:
        self.proc = vc.popen(host or vc.client,
                             [sys.executable, str(HERE / "fs_probe.py"), hosts_file,
                              str(timeout_ms)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.lines: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def next(self) -> dict:
        try:
            line = self.lines.get(timeout=HANG_GUARD_S)
        except queue.Empty:
            raise AssertionError(f"fs_probe gave no answer within {HANG_GUARD_S}s: a hang")
        if not line:
            raise AssertionError(f"fs_probe exited: {self.proc.stderr.read()}")
        return json.loads(line)

    def ask(self, **request: Any) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self.next()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def probes():
    made: list[Probe] = []

    def make(*args: Any, **kwargs: Any) -> Probe:
        made.append(Probe(*args, **kwargs))
        return made[-1]

    yield make
    for probe in made:
        probe.close()


def write_files(probe: Probe, prefix: str, count: int, size: int) -> dict[str, str]:
    sums = {}
    for i in range(count):
        reply = probe.ask(op="write", path=f"{prefix}{i:02d}", size=size, seed=i)
        assert reply["ok"], reply
        sums[f"{prefix}{i:02d}"] = reply["sha"]
    return sums


def record_of(fs: Any, index: int) -> dict:
    return next(d for d in fs.state()["daemons"] if d["index"] == index)


def status_of(fs: Any, uri: str, *args: str) -> tuple[int, str]:
    result = fs.ctl("status", *args)
    line = next((line for line in result.stdout.splitlines() if f" {uri} " in line), "")
    return result.returncode, line


@pytest.mark.multihost
def test_killed_daemon_fails_fast_others_go_on_restart_serves_all(make_net_fs, vcluster, probes):
    fs = make_net_fs(args=["--chunk-size", "64K"])
    probe = probes(vcluster, fs.hosts_file, 5000)
    sums = write_files(probe, "/k", 24, 150 * 1024)
    owners = {path: probe.ask(op="owners", path=path) for path in sums}

    victim = record_of(fs, 1)
    os.kill(victim["pid"], signal.SIGKILL)
    needs_victim = {p for p, o in owners.items()
                    if victim["uri"] in [o["meta"], *o["chunks"]]}
    assert needs_victim and needs_victim != set(sums)

    detection = []
    for path, sha in sums.items():
        reply = probe.ask(op="read", path=path)
        if path in needs_victim:
            assert not reply["ok"] and reply["errno"] in DOWN_ERRNOS, (path, reply)
            detection.append(reply["seconds"])
        else:
            assert reply == {"ok": True, "sha": sha, "seconds": reply["seconds"]}, path
    created = probe.ask(op="write", path="/after-kill", size=1000, seed=1)
    assert created["ok"] or created["errno"] in DOWN_ERRNOS
    print(f"\nkill -9: {len(detection)} reads needing the dead daemon failed "
          f"({reply_errnos(probe, needs_victim)}) after {min(detection) * 1000:.1f}.."
          f"{max(detection) * 1000:.1f} ms (timeout 5000 ms); "
          f"{len(sums) - len(needs_victim)} reads served by the others succeeded")

    code, line = status_of(fs, victim["uri"])
    assert code == 1 and " down " in line, line

    restarted = fs.ctl("restart-daemon", "--daemon", "1")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert record_of(fs, 1)["uri"] == victim["uri"]
    assert "4 of 4 daemons up" in fs.ctl("status").stdout
    for path, sha in sums.items():  # the same client, reconnected
        assert probe.ask(op="read", path=path)["sha"] == sha, path


@pytest.mark.multihost
def test_reading_to_the_end_needs_only_the_files_own_daemons(make_net_fs, vcluster, probes):
    fs = make_net_fs(args=["--chunk-size", "64K"])
    probe = probes(vcluster, fs.hosts_file, 5000)
    sums = write_files(probe, "/e", 16, 100 * 1024)
    owners = {path: probe.ask(op="owners", path=path) for path in sums}
    victim = record_of(fs, 1)
    served = [p for p, o in owners.items() if victim["uri"] not in [o["meta"], *o["chunks"]]]
    assert served
    os.kill(victim["pid"], signal.SIGKILL)
    for path in served:  # cat reads until read() returns 0, as every program does
        result = fs.run(["sh", "-c", 'cat "$1" > /dev/null', "sh", fs.mountdir + path])
        assert result.returncode == 0, f"{path}: {result.stderr.strip()}"


def reply_errnos(probe: Probe, paths: set[str]) -> str:
    return "/".join(sorted({probe.ask(op="read", path=p).get("errno", "ok") for p in paths}))


@pytest.mark.multihost
def test_kill9_during_writes_keeps_every_acknowledged_write(make_net_fs, vcluster, probes):
    fs = make_net_fs(args=["--chunk-size", "64K"])
    writer = probes(vcluster, fs.hosts_file, 5000)
    victim = record_of(fs, 2)
    writer.proc.stdin.write(json.dumps({"op": "writes", "prefix": "/w", "count": 300}) + "\n")
    writer.proc.stdin.flush()

    acked: dict[str, str] = {}
    failed = 0
    while True:
        line = writer.next()
        if "ack" in line:
            acked[line["ack"]] = line["sha"]
            if len(acked) == 60:
                os.kill(victim["pid"], signal.SIGKILL)  # in the middle of the workload
        elif "err" in line:
            assert line["errno"] in DOWN_ERRNOS, line
            failed += 1
        else:
            assert line.get("done"), line
            break
    print(f"\nwrites: {len(acked)} acknowledged, {failed} failed after the kill")
    assert failed > 0 and len(acked) > 60

    restarted = fs.ctl("restart-daemon", "--daemon", "2")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    reader = probes(vcluster, fs.hosts_file, 5000, host=vcluster.clients[1])
    lost = {path for path, sha in acked.items()
            if reader.ask(op="read", path=path).get("sha") != sha}
    assert not lost, f"acknowledged writes lost or damaged: {sorted(lost)[:10]}"


@pytest.mark.multihost
def test_link_down_is_a_dead_daemon_until_it_comes_back(make_net_fs, vcluster, probes):
    timeout_ms = 2000
    fs = make_net_fs(args=["--chunk-size", "64K"])
    probe = probes(vcluster, fs.hosts_file, timeout_ms)
    sums = write_files(probe, "/l", 12, 100 * 1024)
    owners = {path: probe.ask(op="owners", path=path) for path in sums}
    host = vcluster.hosts[3]
    uri = next(d["uri"] for d in fs.state()["daemons"] if f"//{host.address}:" in d["uri"])
    needs = sorted(p for p, o in owners.items() if uri in [o["meta"], *o["chunks"]])
    served = sorted(p for p in sums if p not in needs)
    assert needs and served

    vcluster.set_link(host, up=False)
    try:
        down = probe.ask(op="read", path=needs[0])
        assert not down["ok"] and down["errno"] in DOWN_ERRNOS, down
        other = probe.ask(op="read", path=served[0])
        assert other["ok"] and other["sha"] == sums[served[0]], other
        code, line = status_of(fs, uri, "--timeout-ms", str(timeout_ms))
        assert code == 1 and " down " in line, line
        print(f"\nlink down: read failed with {down['errno']} after "
              f"{down['seconds'] * 1000:.0f} ms (timeout {timeout_ms} ms); a read served "
              f"by another host took {other['seconds'] * 1000:.1f} ms")
    finally:
        vcluster.set_link(host, up=True)

    back = wait_until_ok(probe, needs[0])
    assert back["sha"] == sums[needs[0]]
    for path, sha in sums.items():  # the same client, no restart of anything
        assert probe.ask(op="read", path=path)["sha"] == sha, path
    assert "4 of 4 daemons up" in fs.ctl("status").stdout
    print(f"link up: the same client reads again ({back['seconds'] * 1000:.1f} ms)")


def wait_until_ok(probe: Probe, path: str) -> dict:
    """The link is back: the first reads may still see the old endpoint fail."""
    for _ in range(20):
        reply = probe.ask(op="read", path=path)
        if reply["ok"]:
            return reply
        assert reply["errno"] in DOWN_ERRNOS, reply
        time.sleep(0.25)
    raise AssertionError(f"{path} still unreadable after the link came back: {reply}")


def test_stopping_one_daemon_keeps_the_hosts_file(make_fs):
    fs = make_fs(daemons=3)
    secret = Path(fs.hosts_file + ".secret")
    stopped = fs.ctl("stop", "--daemon", "1")
    assert stopped.returncode == 0, stopped.stderr
    assert re.search(r"daemon 1 pid \d+ on \S+: stopped \(SIGTERM\)", stopped.stdout)
    assert Path(fs.hosts_file).exists() and secret.exists()
    assert len(Path(fs.hosts_file).read_text().splitlines()) == 3

    pid = json.loads(Path(fs.hosts_file + ".pids.json").read_text())["daemons"][2]["pid"]
    os.kill(pid, signal.SIGTERM)  # as a job script would
    deadline = time.monotonic() + HANG_GUARD_S
    while proc_start_time(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Path(fs.hosts_file).exists()
    status = fs.ctl("status")
    assert status.returncode == 1 and "1 of 3 daemons up" in status.stdout

    restarted = fs.ctl("restart-daemon", "--daemon", "2")
    assert restarted.returncode == 0, restarted.stderr
    assert "2 of 3 daemons up" in fs.ctl("status").stdout

    full = fs.ctl("stop")
    assert full.returncode == 0, full.stderr
    assert not Path(fs.hosts_file).exists() and not secret.exists()


def test_restart_refuses_a_running_daemon(make_fs):
    fs = make_fs(daemons=1)
    result = fs.ctl("restart-daemon", "--daemon", "0")
    assert result.returncode == 1
    assert "still running" in result.stderr and "--daemon 0" in result.stderr
