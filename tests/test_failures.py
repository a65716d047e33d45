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
from typing import Any, Optional

import pytest

from conftest import HANG_GUARD_S, eventually
from gkfs.launchers.base import proc_start_time

HERE = Path(__file__).resolve().parent
DOWN_ERRNOS = {"EIO", "EHOSTDOWN"}


class Probe:
    """fs_probe.py running on a client host (vc None: on this host): one gkfs.Client that
    lives across failures. options: more gkfs.Client options (milliseconds). command and
    env replace fs_probe.py by another program that answers JSON lines alike."""

    def __init__(self, vc: Any, hosts_file: str, timeout_ms: int, host: Any = None,
                 options: Optional[dict[str, int]] = None,
                 command: Optional[list[str]] = None,
                 env: Optional[dict[str, str]] = None) -> None:
        argv = command or [sys.executable, str(HERE / "fs_probe.py"), hosts_file,
                           str(timeout_ms),
                           *(f"{key}={value}" for key, value in (options or {}).items())]
        pipes: dict[str, Any] = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        if env is not None:
            pipes["env"] = env
        self.proc = subprocess.Popen(argv, **pipes) if vc is None else \
            vc.popen(host or vc.client, argv, **pipes)
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
    """The link is back (the daemon thawed): reads fail at once while the client keeps the
    daemon marked down, until its recheck (default every 5 s) finds it answering."""
    for _ in range(60):
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


# --- one host: restarted and frozen daemons ---------------------------------------------------

# A program under the preload library that answers JSON lines as fs_probe.py does (stat,
# create, repeat), in one process: its client lives across restarts and freezes.
PRELOADED_PROBE = r"""
import errno, json, os, sys, time

def perform(request):
    try:
        if request["op"] == "stat":
            os.stat(request["path"])
        else:
            os.close(os.open(request["path"], os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        return {"ok": True}
    except OSError as e:
        return {"ok": False, "errno": errno.errorcode[e.errno], "error": str(e)}

for line in sys.stdin:
    request = json.loads(line)
    if request["op"] != "repeat":
        print(json.dumps(perform(request)), flush=True)
        continue
    outcomes, done, deadline = {}, 0, time.monotonic() + request["within_s"]
    while done < request["count"] and time.monotonic() < deadline:
        reply = perform(request["request"])
        outcome = "ok" if reply["ok"] else reply["errno"]
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        done += 1
    print(json.dumps({"done": done, "outcomes": outcomes}), flush=True)
"""


def local_record(fs: Any, index: int) -> dict:
    state = json.loads(Path(fs.hosts_file + ".pids.json").read_text())
    return next(d for d in state["daemons"] if d["index"] == index)


def freeze(pid: int) -> None:
    """SIGSTOP pid and wait until every thread of it has stopped. The stop is asynchronous:
    the kernel hands it to one thread, which stops the others when it next runs; meanwhile a
    progress thread polling shared memory (no system call to interrupt it) still answers."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 30
    while True:
        states = task_states(pid)
        if all(state in "tT" for state in states):
            return
        assert time.monotonic() < deadline, f"daemon {pid} did not stop: {states}"
        time.sleep(0.001)


def task_states(pid: int) -> list[str]:
    """The scheduler state (R, S, t, ...) of each thread of pid."""
    states = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
        except OSError:
            continue  # the thread ended
    return states


def owned_paths(fs: Any, uri: str, prefix: str, count: int) -> list[str]:
    """count paths "/<prefix>N" whose metadata daemon is uri (in the client's order of the
    daemons, as fs_probe.py's owners request computes it)."""
    from fs_probe import sorted_uris
    from gkfs import _core

    uris = sorted_uris(fs.hosts_file)
    placement = _core.Placement(len(uris))
    paths = (f"/{prefix}{i}" for i in range(100000))
    owned = [p for p in paths if uris[placement.metadata_owner(p)] == uri]
    return owned[:count]


def kill_and_restart(fs: Any, index: int) -> None:
    pid = local_record(fs, index)["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + HANG_GUARD_S
    while proc_start_time(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    restarted = fs.ctl("restart-daemon", "--daemon", str(index))
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr


def test_first_call_after_restart_daemon_succeeds(make_fs, probes):
    fs = make_fs(daemons=2)
    uri = local_record(fs, 1)["uri"]
    client = probes(None, fs.hosts_file, 5000)
    preloaded = probes(None, fs.hosts_file, 0, command=[sys.executable, "-c", PRELOADED_PROBE],
                       env=fs.env)
    old, *fresh = owned_paths(fs, uri, "r", 5)
    written = client.ask(op="write", path=old, size=200 * 1024, seed=3)
    assert written["ok"], written
    assert preloaded.ask(op="stat", path=fs.mountdir + old)["ok"]  # both have an endpoint

    kill_and_restart(fs, 1)  # the first calls: not safe to repeat (an exclusive create)
    for probe, path in ((client, fresh[0]), (preloaded, fs.mountdir + fresh[1])):
        reply = probe.ask(op="create", path=path)
        assert reply["ok"], reply
    assert client.ask(op="create", path=fresh[0])["errno"] == "EEXIST"  # it was made once

    kill_and_restart(fs, 1)  # the first calls: reads
    reply = client.ask(op="read", path=old)
    assert reply.get("sha") == written["sha"], reply
    reply = preloaded.ask(op="stat", path=fs.mountdir + fresh[1])
    assert reply["ok"], reply


def test_kill9_right_after_acknowledged_creates_loses_none(make_fs):
    """The daemon writes its metadata log out once per turn of its network thread, for all the
    requests of that turn, before their replies (group commit): whatever a client got a reply
    for is in the log when the daemon is killed, here while 4 clients are still creating
    (the reply order itself is core/tests/test_reply_barrier.cpp's)."""
    import gkfs

    fs = make_fs(daemons=1)
    clients, kill_after = 4, 300
    acked: list[list[str]] = [[] for _ in range(clients)]
    stop = threading.Event()
    with gkfs.Client(fs.hosts_file) as setup:
        setup.mkdir("/d")

    def create(k: int) -> None:  # several clients at once: several requests per turn
        with gkfs.Client(fs.hosts_file, timeout_ms=2000) as client:
            for i in range(100_000):
                if stop.is_set():
                    return
                path = f"/d/c{k}-{i}"
                try:
                    if i % 10 == 0:
                        client.write_bytes(path, b"x" * (i + 1))  # a size update (merge) too
                    else:
                        client.mknod(path)
                except OSError:
                    return  # the daemon is gone
                acked[k].append(path)

    threads = [threading.Thread(target=create, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    assert eventually(lambda: sum(map(len, acked)) >= kill_after, timeout=HANG_GUARD_S)
    kill_and_restart(fs, 0)  # in the middle of the clients' creates
    stop.set()  # (creates the restarted daemon acknowledged count as well)
    for t in threads:
        t.join(HANG_GUARD_S)
        assert not t.is_alive(), "a client hung on the killed daemon"

    made = {path for paths in acked for path in paths}
    assert len(made) >= kill_after
    with gkfs.Client(fs.hosts_file) as client:
        listed = {f"/d/{name}" for name in client.listdir("/d")}
        assert made <= listed, f"lost: {sorted(made - listed)[:10]}"
        for path in sorted(made):
            i = int(path.rsplit("-", 1)[1])
            if i % 10 == 0:
                assert client.stat(path).st_size == i + 1, path


def test_frozen_daemon_fails_fast_after_one_timeout_and_is_used_after_sigcont(make_fs, probes):
    timeout_ms = 1000
    fs = make_fs(daemons=2)
    victim = local_record(fs, 1)
    frozen_path = owned_paths(fs, victim["uri"], "f", 1)[0]
    healthy_path = owned_paths(fs, local_record(fs, 0)["uri"], "h", 1)[0]
    probe = probes(None, fs.hosts_file, timeout_ms,
                   options={"down_recheck_ms": 2000, "recheck_timeout_ms": 300})
    preloaded = probes(None, fs.hosts_file, 0, command=[sys.executable, "-c", PRELOADED_PROBE],
                       env=dict(fs.env, LIBGKFS_TIMEOUT_MS=str(timeout_ms),
                                LIBGKFS_DOWN_RECHECK_MS="2000", LIBGKFS_RECHECK_TIMEOUT_MS="300"))
    sums = {}
    for path in (frozen_path, healthy_path):  # metadata on one daemon, chunks on both
        sums[path] = probe.ask(op="write", path=path, size=2 << 20, seed=5)["sha"]
    for path in (frozen_path, healthy_path):
        assert preloaded.ask(op="stat", path=fs.mountdir + path)["ok"]
    # 20 calls within 5 timeouts: only possible if all but the first fail at once.
    burst = {"op": "repeat", "count": 20, "within_s": 5 * timeout_ms / 1000}

    freeze(victim["pid"])
    try:
        first = probe.ask(op="stat", path=frozen_path)
        assert first["errno"] == "EHOSTDOWN" and "did not answer" in first["error"], first
        down = probe.ask(**burst, request={"op": "stat", "path": frozen_path})
        assert down["outcomes"] == {"EHOSTDOWN": 20}, down
        healthy = probe.ask(**burst, request={"op": "stat", "path": healthy_path})
        assert healthy["outcomes"] == {"ok": 20}, healthy

        first = preloaded.ask(op="stat", path=fs.mountdir + frozen_path)
        assert not first["ok"] and first["errno"] in DOWN_ERRNOS, first
        down = preloaded.ask(**burst, request={"op": "stat", "path": fs.mountdir + frozen_path})
        assert down["done"] == 20 and set(down["outcomes"]) <= DOWN_ERRNOS, down
        healthy = preloaded.ask(**burst, request={"op": "stat",
                                                  "path": fs.mountdir + healthy_path})
        assert healthy["outcomes"] == {"ok": 20}, healthy
    finally:
        os.kill(victim["pid"], signal.SIGCONT)

    back = wait_until_ok(probe, frozen_path)
    assert back["sha"] == sums[frozen_path]
    assert probe.ask(op="read", path=healthy_path)["sha"] == sums[healthy_path]
    for _ in range(40):  # the preloaded program too, once its recheck is due
        reply = preloaded.ask(op="stat", path=fs.mountdir + frozen_path)
        if reply["ok"]:
            break
        time.sleep(0.25)
    assert reply["ok"], reply


# Threads of one process: thread A stats a path of a frozen daemon (and waits, its timeout
# far away), then the main thread stats a healthy daemon's path `count` times and says
# whether A was still waiting when they were done. SIGCONT follows; A then succeeds.
THREADED_PROBE = r"""
import json, os, sys, threading, time
frozen, healthy, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
stat = os.stat
if os.environ.get("PROBE_CLIENT"):
    import gkfs
    client = gkfs.Client(os.environ["PROBE_CLIENT"], timeout_ms=20000)
    stat = client.stat
outcome = {}
def wait_on_frozen():
    try:
        stat(frozen)
        outcome["a"] = "ok"
    except OSError as e:
        outcome["a"] = str(e)
stat(healthy)  # connected (the preload connects on its first call) before the freeze
print("ready", flush=True)
sys.stdin.readline()  # the daemon is frozen now
a = threading.Thread(target=wait_on_frozen)
a.start()
time.sleep(0.3)  # let A's call go out first
for _ in range(count):
    stat(healthy)
print(json.dumps({"healthy_done": count, "a_still_waiting": a.is_alive()}), flush=True)
sys.stdin.readline()  # the daemon runs again
a.join()
print(json.dumps(outcome), flush=True)
"""


@pytest.mark.parametrize("via", ["client", "preload"])
def test_a_thread_waiting_on_a_frozen_daemon_does_not_hold_up_the_others(make_fs, via):
    """Issue 11, observation 3: one mutex serialised every call of a process, so a stat to a
    healthy daemon waited while another thread waited on a stopped one."""
    fs = make_fs(daemons=2)
    victim = local_record(fs, 1)
    frozen = owned_paths(fs, victim["uri"], "f", 1)[0]
    healthy = owned_paths(fs, local_record(fs, 0)["uri"], "h", 1)[0]
    import gkfs
    with gkfs.Client(fs.hosts_file) as setup:
        for path in (frozen, healthy):
            setup.write_bytes(path, b"x")
    if via == "client":
        env = dict(os.environ, PROBE_CLIENT=fs.hosts_file)
        args = [frozen, healthy]
    else:
        env = dict(fs.env, LIBGKFS_TIMEOUT_MS="20000")
        args = [fs.mountdir + frozen, fs.mountdir + healthy]
    proc = subprocess.Popen([sys.executable, "-c", THREADED_PROBE, *args, "20"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        freeze(victim["pid"])
        try:
            proc.stdin.write("go\n")
            proc.stdin.flush()
            during = json.loads(proc.stdout.readline())
        finally:
            os.kill(victim["pid"], signal.SIGCONT)
        proc.stdin.write("continue\n")
        proc.stdin.flush()
        after = json.loads(proc.stdout.readline())
    finally:
        proc.stdin.close()
        proc.wait(timeout=HANG_GUARD_S)
        proc.stdout.close()
    assert during == {"healthy_done": 20, "a_still_waiting": True}, after
    assert after == {"a": "ok"}


def test_a_new_client_connects_while_the_first_daemon_is_frozen(make_fs, probes):
    """A client asks the daemons for the file system's configuration when it connects. The
    first daemon it asks is frozen and its timeout is far away: gkfs.Client and the preload
    must still connect, through the other daemon, and answer their first call while it is
    frozen (the daemon the answer came from is the only one running)."""
    from fs_probe import sorted_uris

    fs = make_fs(daemons=2)
    first_uri, other_uri = sorted_uris(fs.hosts_file)
    victim = next(d for d in (local_record(fs, 0), local_record(fs, 1)) if d["uri"] == first_uri)
    healthy_path = owned_paths(fs, other_uri, "h", 1)[0]
    import gkfs
    with gkfs.Client(fs.hosts_file) as setup:
        setup.write_bytes(healthy_path, b"x")
    far = 10 * HANG_GUARD_S * 1000  # a client that waited out the frozen daemon hangs here
    freeze(victim["pid"])
    try:
        probe = probes(None, fs.hosts_file, far)
        reply = probe.ask(op="stat", path=healthy_path)
        assert reply["ok"], reply
        preloaded = probes(None, fs.hosts_file, 0, command=[sys.executable, "-c", PRELOADED_PROBE],
                           env=dict(fs.env, LIBGKFS_TIMEOUT_MS=str(far)))
        reply = preloaded.ask(op="stat", path=fs.mountdir + healthy_path)
        assert reply["ok"], reply
        assert all(state in "tT" for state in task_states(victim["pid"]))  # still frozen
    finally:
        os.kill(victim["pid"], signal.SIGCONT)
