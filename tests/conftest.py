"""Shared fixtures: real gkfs file systems started through the real ``gkfs-ctl`` entry point.

``make_fs(daemons=N, args=[...])`` starts a file system of N local daemons in a subprocess
(``gkfs-ctl start``), with its hosts file, root directory and a short mount directory in a
fresh directory under /tmp, and always stops it (``gkfs-ctl stop``) afterwards, even when
the test fails. (Not under pytest's tmp_path: a concurrent pytest session prunes old
basetemp directories, which would delete the state file of running daemons.) ``fs`` is a
module-scoped file system parametrised over 2 and 4 daemons; ``fs_small_chunks`` uses 4 KiB
chunks so small writes cross many chunks. ``client`` is a module-scoped gkfs.Client of
``fs``, ``client_dir`` a fresh directory made through it.

Daemons and clients get UCX_TLS=tcp and UCX_NET_DEVICES=lo unless the caller set them.

Several hosts (root only, else skipped; in CI, where CI is set, a failure instead): ``vcluster`` is a module-scoped VirtualCluster
(tests/netns.py: 4 daemon hosts with sshd and 2 client hosts as network namespaces) and
``make_net_fs(hosts=None, args=[...], launcher="ssh")`` starts a file system on its hosts
(gkfs-ctl on a client host) and always stops it. ``local_slurm`` is a module-scoped private
Slurm (tests/slurm.py).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import pytest

# UCX reads its environment once per process: set the loopback defaults before any test
# creates a gkfs client in this process.
os.environ.setdefault("UCX_TLS", "tcp")
os.environ.setdefault("UCX_NET_DEVICES", "lo")

# A bound on every subprocess a test runs: a hang fails the test instead of the whole run.
HANG_GUARD_S = 180


def entry_point(name: str, module: str) -> list[str]:
    """The installed console script beside this interpreter, else `python -m module`."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", module]


def gkfs_ctl(*args: str, env: Optional[dict[str, str]] = None,
             timeout: float = HANG_GUARD_S) -> subprocess.CompletedProcess:
    return subprocess.run(entry_point("gkfs-ctl", "gkfs.cli") + list(args), env=env,
                          capture_output=True, text=True, timeout=timeout)


def gkfs_daemon_argv() -> list[str]:
    return entry_point("gkfs-daemon", "gkfs.daemon")


def preload_library() -> str:
    from gkfs.cli import preload_library as locate

    return locate()


@dataclasses.dataclass
class FileSystem:
    """A running test file system. run() executes a command under the preload library."""

    hosts_file: str
    mountdir: str
    rootdir: str
    daemons: int
    chunk_size: Optional[int]
    env: dict[str, str]
    state: str  # the state file gkfs-ctl start wrote

    def run(self, cmd: Sequence[str] | str, **kwargs: Any) -> subprocess.CompletedProcess:
        kwargs.setdefault("env", self.env)
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", HANG_GUARD_S)
        kwargs.setdefault("shell", isinstance(cmd, str))
        return subprocess.run(cmd, **kwargs)

    def ctl(self, command: str, *args: str) -> subprocess.CompletedProcess:
        return gkfs_ctl(command, "--hosts-file", self.hosts_file, *args)

    def client(self, timeout_ms: int = 10000) -> Any:
        import gkfs

        return gkfs.Client(self.hosts_file, timeout_ms=timeout_ms)

    def stop(self) -> subprocess.CompletedProcess:
        return self.ctl("stop")


def start_fs(daemons: int = 2, args: Sequence[str] = (),
             chunk_size: Optional[int] = None) -> FileSystem:
    """Starts a file system in a fresh /tmp directory; raises AssertionError with gkfs-ctl's
    output."""
    base = Path(tempfile.mkdtemp(prefix="gkfs-test-", dir="/tmp"))
    mountdir = str(base / "mnt")
    hosts_file = str(base / "hosts.txt")
    rootdir = str(base / "root")
    argv = ["start", "--daemons", str(daemons), "--hosts-file", hosts_file,
            "--rootdir", rootdir, "--mountdir", mountdir, *args]
    if chunk_size:
        argv += ["--chunk-size", str(chunk_size)]
    result = gkfs_ctl(*argv)
    if result.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise AssertionError(f"gkfs-ctl start failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    env = dict(os.environ)
    env.update(LD_PRELOAD=preload_library(), LIBGKFS_HOSTS_FILE=hosts_file,
               LIBGKFS_MOUNTDIR=mountdir)
    return FileSystem(hosts_file=hosts_file, mountdir=mountdir, rootdir=rootdir,
                      daemons=daemons, chunk_size=chunk_size, env=env,
                      state=Path(hosts_file + ".pids.json").read_text())


def stop_fs(fs: FileSystem) -> None:
    """Stops fs (a no-op for daemons the test already stopped) and removes its directory.
    If the test removed the state file, the copy taken at start still names the daemons."""
    state_file = Path(fs.hosts_file + ".pids.json")
    if not state_file.exists():
        state_file.write_text(fs.state)
    result = fs.stop()
    if result.returncode == 0:
        shutil.rmtree(Path(fs.hosts_file).parent, ignore_errors=True)
    else:
        raise AssertionError(f"gkfs-ctl stop failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")


def unavailable(why: str) -> None:
    """A real component a test needs cannot run here: skipped on a developer's machine, a
    failure in CI (CI set), which must run every real-component and multi-host test."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test, but: {why}")
    pytest.skip(why)


def require_program(name: str, package: str) -> None:
    """The test runs `name` (Debian package `package`, which scripts/setup.sh installs)."""
    if shutil.which(name) is None:
        unavailable(f"needs {name} (apt: {package})")


def require_fuse() -> None:
    """The test mounts with FUSE: it needs /dev/fuse and fusermount3 (apt: fuse3)."""
    if not os.path.exists("/dev/fuse"):
        unavailable("needs /dev/fuse")
    require_program("fusermount3", "fuse3")


def virtual_cluster(hosts: int, clients: int) -> Iterator[Any]:
    """A fixture body: `hosts` daemon hosts with sshd and `clients` client hosts as network
    namespaces (tests/netns.py), always torn down, also when a test fails."""
    from netns import VirtualCluster, can_make_namespaces

    why_not = can_make_namespaces()
    if why_not:
        unavailable(why_not)
    cluster = VirtualCluster(hosts=hosts, clients=clients)
    try:
        yield cluster
    finally:
        cluster.close()


def module_fs(daemons: int) -> Callable[..., Any]:
    """A module-scoped ``fs`` fixture of its own file system of `daemons` daemons, for
    modules that need one file system, not one per parameter: ``fs = module_fs(3)``."""
    @pytest.fixture(scope="module")
    def fs() -> Iterator[FileSystem]:
        started = start_fs(daemons)
        yield started
        stop_fs(started)
    return fs


def eventually(probe: Callable[[], Any], timeout: float = 15.0, interval: float = 0.2) -> Any:
    """probe() once it returns something true, polling for at most timeout seconds (for
    figures a daemon refreshes in the background, e.g. the bytes in its chunk files); the
    last value otherwise, for the caller's assert to show."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def requests_by_verb(core: Any, daemons: Iterable[int]) -> dict[str, float]:
    """{verb: requests answered, ok or not}, summed over the daemons numbered in daemons:
    their gkfs_requests_total, read with the Metrics verb through core (a gkfs._core.Client,
    e.g. gkfs.Client._core). A daemon counts a request before its reply leaves, so a call
    that returned is counted at once. The Metrics requests themselves are left out."""
    from gkfs.metrics import parse_exposition

    counts: dict[str, float] = {}
    for daemon in daemons:
        for name, labels, value in parse_exposition(core.metrics(daemon)):
            if name == "gkfs_requests_total" and labels["verb"] != "Metrics":
                counts[labels["verb"]] = counts.get(labels["verb"], 0) + value
    return counts


def requests_during(core: Any, daemons: Iterable[int], op: Callable[[], Any]) -> dict[str, float]:
    """{verb: requests} the daemons numbered in daemons answered while op() ran (verbs that
    got none left out): a round-trip guard counts an operation's requests with it. Session
    lease renewals are left out too: a client holding files renews every third of a lease,
    whatever op() does, and one may land inside the window."""
    daemons = list(daemons)
    before = requests_by_verb(core, daemons)
    op()
    after = requests_by_verb(core, daemons)
    return {verb: n - before.get(verb, 0) for verb, n in after.items()
            if n != before.get(verb, 0) and verb != "Renew"}


def pattern(n: int, seed: int = 1) -> bytes:
    """Deterministic bytes in which every 4 KiB chunk differs."""
    return bytes((i * 31 + seed + i // 4096) % 251 for i in range(n))


def file_sha256(path: Path) -> str:
    """The SHA-256 of a local file (hex), read in 1 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_digest(root: Path) -> dict[str, tuple]:
    """Every name under root (a local directory) by relative path: a file's SHA-256, mode
    and mtime, a link's target, a directory's mode; what a copy that keeps them (staging)
    must give back."""
    out: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_file():
            out[rel] = ("file", file_sha256(path), st.st_mode & 0o7777, st.st_mtime_ns)
        else:
            out[rel] = ("dir", st.st_mode & 0o7777)
    return out


def compile_c(source: Path, out: Path, *flags: str) -> str:
    """Builds a test's C program with the system compiler (scripts/setup.sh installs one);
    a missing compiler fails the test rather than skipping it. Returns the binary's path."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc is not None, "no C compiler (cc or gcc): scripts/setup.sh installs g++/gcc"
    subprocess.run([cc, "-O1", "-Wall", *flags, "-o", str(out), str(source)], check=True)
    return str(out)


def stop_all(started: Sequence[Any], stop: Callable[[Any], None]) -> None:
    """stop(fs) for every file system a factory fixture started, even after one fails; the
    failures together."""
    errors = []
    for fs in started:
        try:
            stop(fs)
        except Exception as e:  # noqa: BLE001 - stop the others whatever one raised
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture
def make_fs() -> Iterator[Callable[..., FileSystem]]:
    """Factory of function-scoped file systems: make_fs(daemons=N, args=[...])."""
    started: list[FileSystem] = []

    def make(daemons: int = 2, args: Sequence[str] = (),
             chunk_size: Optional[int] = None) -> FileSystem:
        fs = start_fs(daemons, args, chunk_size)
        started.append(fs)
        return fs

    yield make
    stop_all(started, stop_fs)


@pytest.fixture(scope="module", params=[2, 4], ids=lambda n: f"{n}daemons")
def fs(request: pytest.FixtureRequest) -> Iterator[FileSystem]:
    """A file system shared by the tests of one module, with 2 and then 4 daemons."""
    started = start_fs(request.param)
    yield started
    stop_fs(started)


@pytest.fixture(scope="module")
def fs_small_chunks() -> Iterator[FileSystem]:
    """4 daemons with 4 KiB chunks: a few KiB of data already spans every daemon."""
    started = start_fs(4, chunk_size=4096)
    yield started
    stop_fs(started)


@pytest.fixture
def unique_dir() -> str:
    """A fresh directory name for one test inside a shared file system ("/t-<hex>")."""
    return f"/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def client(fs: FileSystem) -> Iterator[Any]:
    """A gkfs.Client of the module's ``fs``, shared by its tests."""
    with fs.client() as c:
        yield c


@pytest.fixture
def client_dir(client: Any, unique_dir: str) -> str:
    """A fresh directory made through ``client`` (its path in the file system)."""
    client.mkdir(unique_dir)
    return unique_dir


# --- several hosts: network namespaces (tests/netns.py) --------------------------------------


@pytest.fixture(scope="module")
def vcluster() -> Iterator[Any]:
    """4 daemon hosts and 2 client hosts as network namespaces with sshd (root only; the
    module's tests are skipped otherwise, and fail in CI). Always torn down."""
    yield from virtual_cluster(4, 2)


@dataclasses.dataclass
class NetFileSystem:
    """A file system whose daemons run on the hosts of a VirtualCluster; gkfs-ctl and the
    applications run on a client host."""

    vc: Any
    hosts_file: str
    mountdir: str
    rootdir: str
    launcher: str

    def ctl(self, command: str, *args: str, host: Any = None,
            timeout: float = HANG_GUARD_S) -> subprocess.CompletedProcess:
        return self.vc.run(host or self.vc.client,
                           entry_point("gkfs-ctl", "gkfs.cli")
                           + [command, "--hosts-file", self.hosts_file, *args], timeout=timeout)

    def run(self, argv: Sequence[str], host: Any = None,
            timeout: float = HANG_GUARD_S) -> subprocess.CompletedProcess:
        """argv on a client host under the preload library (gkfs-ctl run)."""
        return self.ctl("run", "--", *argv, host=host, timeout=timeout)

    def python(self, code: str, *args: str, host: Any = None,
               timeout: float = HANG_GUARD_S) -> subprocess.CompletedProcess:
        """Python code (using gkfs.Client) on a client host, without the preload library."""
        return self.vc.run(host or self.vc.client, [sys.executable, "-c", code, *args],
                           timeout=timeout)

    def state(self) -> dict[str, Any]:
        import json

        return json.loads(Path(self.hosts_file + ".pids.json").read_text())

    def stop(self) -> subprocess.CompletedProcess:
        return self.ctl("stop")


def launcher_args(vc: Any, launcher: str) -> str:
    """--launcher-args for our sshds: ssh options, or for mpirun Open MPI's ssh agent."""
    import shlex

    ssh = shlex.join(["ssh", *vc.ssh_args()])
    if launcher == "mpirun":
        return shlex.join(["--allow-run-as-root", "--mca", "plm_rsh_agent", ssh,
                           "--mca", "plm_rsh_no_tree_spawn", "1"])
    return shlex.join(vc.ssh_args())


def start_net_fs(vc: Any, hosts: Any = None, args: Sequence[str] = (),
                 launcher: str = "ssh") -> NetFileSystem:
    base = Path(tempfile.mkdtemp(prefix="gkfs-net-", dir=str(vc.workdir)))
    fs = NetFileSystem(vc=vc, hosts_file=str(base / "hosts.txt"), mountdir=str(base / "mnt"),
                       rootdir=str(base / "root"), launcher=launcher)
    result = vc.run(vc.client, entry_point("gkfs-ctl", "gkfs.cli") + [
        "start", "--launcher", launcher, "--host-list", vc.host_list(hosts),
        f"--launcher-args={launcher_args(vc, launcher)}", "--listen", "gk0",
        "--hosts-file", fs.hosts_file, "--rootdir", fs.rootdir, "--mountdir", fs.mountdir,
        *args], timeout=HANG_GUARD_S)
    if result.returncode != 0:
        raise AssertionError(f"gkfs-ctl start --launcher {launcher} failed "
                             f"({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return fs


def stop_net_fs(fs: NetFileSystem) -> None:
    if not Path(fs.hosts_file + ".pids.json").exists():
        return
    result = fs.stop()
    if result.returncode != 0:
        raise AssertionError(f"gkfs-ctl stop failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")


@pytest.fixture
def make_net_fs(vcluster: Any) -> Iterator[Callable[..., NetFileSystem]]:
    """Factory of file systems on the virtual hosts: make_net_fs(hosts=None, args=[...],
    launcher='ssh'); each is stopped after the test."""
    started: list[NetFileSystem] = []

    def make(hosts: Any = None, args: Sequence[str] = (), launcher: str = "ssh") -> NetFileSystem:
        fs = start_net_fs(vcluster, hosts, args, launcher)
        started.append(fs)
        return fs

    yield make
    stop_all(started, stop_net_fs)


# --- a private Slurm (tests/slurm.py) -----------------------------------------------------------


@pytest.fixture(scope="module")
def local_slurm() -> Iterator[Any]:
    """slurmctld + slurmd + munged of our own on this machine (root only: skipped otherwise,
    failed in CI). Always torn down, also when a test fails."""
    from slurm import LocalSlurm, can_run_slurm

    why_not = can_run_slurm()
    if why_not:
        unavailable(why_not)
    cluster = LocalSlurm()
    try:
        yield cluster
    finally:
        cluster.close()
