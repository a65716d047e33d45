"""What the benchmark suites share: the installed drivers, gkfs file systems started through
the real ``gkfs-ctl``, running a driver and parsing its JSON, and recording results.

A file system is one (transport, daemons) pair:

* ``tcp``: ``-P ucx+tcp --no-auto-sm``, ``UCX_TLS=tcp``: every client talks tcp over loopback.
* ``shm``: ``-P ucx+shm --auto-sm``: a client on the daemon's host also connects by the
  daemon's worker address, so UCX picks shared memory (tcp stays open as the liveness check).
* ``default``: a plain ``gkfs-ctl start`` (``-P ucx+tcp``, ``--auto-sm`` on since issue 11):
  the md suite's check that the default setup is the shared-memory one.

Daemons keep their data and RocksDB on /dev/shm (a burst buffer on RAM, like the tmpfs
baseline) unless a benchmark gives them another parent directory (the durability benchmark
puts them on a disk); the hosts file and the (empty, kernel-side) mount directory live under
/tmp.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import gkfs

# A bound on every driver run: a hang fails the benchmark instead of the whole run.
HANG_GUARD_S = 300
TRANSPORTS = {
    # tcp even on the daemon's host: shared memory is the daemons' default (--auto-sm).
    "tcp": {"args": ["--rpc-protocol", "ucx+tcp", "--no-auto-sm"], "env": {"UCX_TLS": "tcp"}},
    "shm": {"args": ["--rpc-protocol", "ucx+shm", "--auto-sm"], "env": {"UCX_TLS": None}},
    # What a user gets from a plain `gkfs-ctl start` (issue 11, observation 5: shared memory
    # for clients on the daemon's host since --auto-sm became the default).
    "default": {"args": [], "env": {"UCX_TLS": None}},
}


def cases(full: Sequence[dict[str, Any]], quick: Sequence[dict[str, Any]]) -> Callable:
    """Parametrises a benchmark's ``case`` fixture (see conftest.py): `full` normally,
    `quick` with --quick. Each case is a dict; its test id joins the values in order."""
    def mark(fn: Callable) -> Callable:
        fn._gkfs_cases = (list(full), list(quick))
        return fn
    return mark


def driver(name: str) -> str:
    """Path of a benchmark driver, in the build tree (tests/build_tree.py finds it)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    try:
        from build_tree import built_binary
    finally:
        sys.path.pop(0)
    return built_binary(name)


def gkfs_ctl(*args: str, env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "gkfs-ctl"
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "gkfs.cli"]
    return subprocess.run(argv + list(args), env=env, capture_output=True, text=True,
                          timeout=HANG_GUARD_S)


def ucx_env(transport: str, base: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The environment for daemons and clients of a file system on this host's loopback."""
    env = dict(os.environ if base is None else base)
    env["UCX_NET_DEVICES"] = "lo"
    for key, value in TRANSPORTS[transport]["env"].items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class FileSystem:
    """A gkfs file system of `daemons` local daemons started with gkfs-ctl for benchmarks.
    ``env`` runs a program on it through the preload library; ``stop()`` stops exactly the
    daemons it started and removes its directories."""

    def __init__(self, transport: str, daemons: int, rootdir_parent: str = "/dev/shm",
                 daemon_args: Sequence[str] = ()) -> None:
        self.transport = transport
        self.daemons = daemons
        self.daemon_args = list(daemon_args)
        tag = f"gkfs-bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.base = Path(tempfile.mkdtemp(prefix=tag + "-", dir="/tmp"))
        self.rootdir = Path(rootdir_parent) / tag
        self.hosts_file = str(self.base / "hosts.txt")
        self.mountdir = str(self.base / "mnt")
        self.env: dict[str, str] = {}
        self.started = False

    def start(self) -> "FileSystem":
        env = ucx_env(self.transport)
        argv = ["start", "--daemons", str(self.daemons), "--hosts-file", self.hosts_file,
                "--rootdir", str(self.rootdir), "--mountdir", self.mountdir,
                *TRANSPORTS[self.transport]["args"], *self.daemon_args]
        result = gkfs_ctl(*argv, env=env)
        if result.returncode != 0 and "No module named" in result.stderr:
            # Someone reinstalled the shared .venv under us (scripts/setup.sh): once more.
            time.sleep(10)
            result = gkfs_ctl(*argv, env=env)
        if result.returncode != 0:
            self._remove_dirs()
            raise RuntimeError(f"gkfs-ctl start failed ({result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}")
        self.started = True
        from gkfs.cli import preload_library

        self.env = dict(env, LD_PRELOAD=preload_library(), LIBGKFS_HOSTS_FILE=self.hosts_file,
                        LIBGKFS_MOUNTDIR=self.mountdir)
        try:
            self.check_preload_routes_here()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stops the daemons; keeps the directories (and so the state file that names the
        daemons) when gkfs-ctl stop failed, so that a second try can still stop them."""
        if self.started:
            result = gkfs_ctl("stop", "--hosts-file", self.hosts_file)
            if result.returncode != 0 and "No module named" in result.stderr:
                time.sleep(10)  # the shared .venv was being reinstalled: once more
                result = gkfs_ctl("stop", "--hosts-file", self.hosts_file)
            if result.returncode != 0:
                raise RuntimeError(f"gkfs-ctl stop --hosts-file {self.hosts_file} failed: "
                                   f"{result.stdout}{result.stderr}")
            self.started = False
        self._remove_dirs()

    def _remove_dirs(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)
        shutil.rmtree(self.rootdir, ignore_errors=True)

    def env_without_preload(self) -> dict[str, str]:
        """The UCX environment of this file system, for programs that use gkfs.Client."""
        return {k: v for k, v in self.env.items() if k != "LD_PRELOAD"}

    def client(self) -> Any:
        """A gkfs.Client in this process (the caller closes it)."""
        os.environ.update({k: v for k, v in ucx_env(self.transport).items()
                           if k.startswith("UCX_")})
        for key, value in TRANSPORTS[self.transport]["env"].items():
            if value is None:
                os.environ.pop(key, None)
        return gkfs.Client(self.hosts_file)

    def check_preload_routes_here(self) -> None:
        """A file made through gkfs.Client must be visible to a preloaded program and absent
        from the kernel's mount directory: proof that the drivers measure gkfs."""
        with self.client() as fs:
            fs.write_bytes("/.bench-sentinel", b"gkfs")
        probe = subprocess.run(["cat", os.path.join(self.mountdir, ".bench-sentinel")],
                               env=dict(self.env, LIBGKFS_LOG="info"), capture_output=True,
                               timeout=60)
        with self.client() as fs:
            fs.remove("/.bench-sentinel")
        if probe.stdout != b"gkfs":
            raise RuntimeError(f"the preload library does not route {self.mountdir} to gkfs "
                               f"(cat exit {probe.returncode}, output {probe.stdout[:40]!r}): "
                               f"{probe.stderr.decode(errors='replace')}")
        self.assert_clean()

    def assert_clean(self) -> None:
        """Nothing left behind: the file system's root is empty and the kernel-side mount
        directory was never written to."""
        with self.client() as fs:
            left = fs.listdir("/")
        assert left == [], f"gkfs root not empty after a benchmark: {left[:10]}"
        local = os.listdir(self.mountdir)
        assert local == [], f"files reached the kernel mount directory: {local[:10]}"


class FileSystemPool:
    """Keeps at most one benchmark file system running and reuses it while consecutive
    benchmarks ask for the same (transport, daemons)."""

    def __init__(self) -> None:
        self.current: Optional[FileSystem] = None

    def get(self, transport: str, daemons: int) -> FileSystem:
        cur = self.current
        if cur is not None and (cur.transport, cur.daemons) == (transport, daemons):
            return cur
        self.close()
        self.current = FileSystem(transport, daemons).start()
        return self.current

    def close(self) -> None:
        current, self.current = self.current, None
        if current is not None:
            current.stop()


def fs_type(path: str) -> str:
    """The type of the file system holding path (ext4, xfs, tmpfs, ...), from mountinfo."""
    real = os.path.realpath(path)
    best, kind = "", "unknown"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mount_point = fields[4]
            fstype = fields[fields.index("-") + 1]
            inside = real == mount_point or real.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, kind = mount_point, fstype
    return kind


def run_json(argv: Sequence[str], env: Optional[dict[str, str]] = None,
             timeout: float = HANG_GUARD_S) -> list[dict[str, Any]]:
    """Runs a driver and returns the JSON objects it printed (one per line). Raises
    AssertionError with its stderr if it failed or reported ok=false."""
    result = subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=timeout)
    objects = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not objects or not all(o.get("ok") for o in objects):
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return objects


def medians(rows: Iterable[dict[str, Any]], keys: Iterable[str]) -> dict[str, float]:
    """Median of each numeric key over the rows (the rounds of one benchmark)."""
    rows = list(rows)
    return {k: statistics.median(r[k] for r in rows) for k in keys if rows and k in rows[0]}


def _trim(rows: list[dict], keys: Sequence[str]) -> list[dict]:
    """The rounds as kept in the JSON: only the recorded keys (keeps results small)."""
    return [{k: r[k] for k in keys if k in r} for r in rows]


def record(benchmark: Any, suite: str, params: dict[str, Any], gkfs_rows: list[dict],
           baseline_rows: Optional[list[dict]] = None, keys: Sequence[str] = (),
           baseline_name: str = "tmpfs") -> dict[str, float]:
    """Stores a benchmark's parameters, per-round driver output and medians in the
    pytest-benchmark JSON (extra_info), where bench/report.py finds them."""
    measured = medians(gkfs_rows, keys)
    info: dict[str, Any] = {"suite": suite, **params, "median": measured,
                            "rounds": _trim(gkfs_rows, keys),
                            "loadavg_1min": round(os.getloadavg()[0], 2)}
    if baseline_rows:
        info["baseline"] = baseline_name
        info["baseline_median"] = medians(baseline_rows, keys)
        info["baseline_rounds"] = _trim(baseline_rows, keys)
    benchmark.extra_info.update(info)
    return measured
