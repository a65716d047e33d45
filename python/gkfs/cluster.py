"""Starting, checking and stopping a gkfs file system (all behaviour behind ``gkfs-ctl``).

A :class:`Cluster` is named by its hosts file. ``start`` spawns the daemons through a
launcher, records them in a state file beside the hosts file (``<hosts_file>.pids.json``) and
returns only when every daemon is listed in the hosts file and answers a health RPC.
``stop`` acts on the recorded processes only (SIGTERM to all, a grace period, then SIGKILL),
never on process names. Only the local launcher (N daemons on this host) exists today; a
launcher is a small object with spawn/is_running/send_signal, so ssh, srun and mpirun
launchers can be added beside it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Callable, Optional, TextIO

from gkfs import settings as _settings
from gkfs.settings import ClusterSettings

__all__ = [
    "Cluster",
    "ClusterError",
    "DaemonRecord",
    "LocalLauncher",
    "read_hosts_file",
    "state_file_for",
    "ucx_defaults",
]

STATE_VERSION = 1
_POLL_S = 0.1
_LOG_TAIL_LINES = 20


class ClusterError(RuntimeError):
    """A start, stop or status request failed; the message says what to fix."""


def state_file_for(hosts_file: str) -> str:
    return os.path.abspath(hosts_file) + ".pids.json"


def read_hosts_file(path: str, complete_only: bool = False) -> list[tuple[str, str]]:
    """(host, uri) per line of a GekkoFS hosts file. complete_only skips a last line that has
    no newline yet (a daemon may be writing it). Raises OSError if the file is unreadable."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    if complete_only or not lines[-1].strip():
        lines = lines[:-1]
    entries = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and not fields[0].startswith("#"):
            entries.append((fields[0], fields[1]))
    return entries


def _uri_address(uri: str) -> Optional[str]:
    match = re.search(r"://\[?([^\]/]+?)\]?:\d+", uri)
    return match.group(1) if match else None


def _is_loopback(address: str) -> bool:
    return address in ("lo", "localhost", "::1") or address.startswith("127.")


def ucx_defaults(listen_addresses: list[str], protocol: str,
                 environ: Optional[dict[str, str]] = None) -> dict[str, str]:
    """UCX variables for daemons and clients of a file system on this host's loopback:
    UCX_TLS=tcp for ucx+tcp and UCX_NET_DEVICES=lo (else UCX also tries eth0). Variables
    the user set are kept as they are; nothing is added for other set-ups."""
    environ = dict(os.environ if environ is None else environ)
    if listen_addresses and all(_is_loopback(a) for a in listen_addresses):
        environ.setdefault("UCX_NET_DEVICES", "lo")
        if protocol == "ucx+tcp":
            environ.setdefault("UCX_TLS", "tcp")
    return environ


@dataclasses.dataclass
class DaemonRecord:
    """One daemon a launcher started, as kept in the state file."""

    index: int
    pid: int
    start_time: int        # /proc/<pid>/stat starttime: tells our process from a reused PID
    host: str
    rootdir: str
    log: str


def _proc_start_time(pid: int) -> Optional[int]:
    """Start time of a live (non-zombie) process, None if there is none with this PID."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    if fields[0] in ("Z", "X"):  # exited, not yet reaped by its parent
        return None
    return int(fields[19])


class LocalLauncher:
    """Runs daemons as processes on this host, each in its own session with its output in
    a log file. Only processes recorded with a matching start time are ever signalled."""

    name = "local"

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen] = {}

    def spawn(self, index: int, argv: list[str], env: dict[str, str], log: str,
              rootdir: str) -> DaemonRecord:
        with open(log, "ab") as out:
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True, close_fds=True)
        self._children[child.pid] = child
        start_time = _proc_start_time(child.pid) or 0
        return DaemonRecord(index=index, pid=child.pid, start_time=start_time,
                            host=socket.gethostname(), rootdir=rootdir, log=log)

    def is_running(self, record: DaemonRecord) -> bool:
        child = self._children.get(record.pid)
        if child is not None and child.poll() is not None:
            return False
        start_time = _proc_start_time(record.pid)
        return start_time is not None and (record.start_time in (0, start_time))

    def send_signal(self, record: DaemonRecord, signum: int) -> bool:
        """Signals the recorded process; False if it is no longer running."""
        if not self.is_running(record):
            return False
        try:
            os.kill(record.pid, signum)
        except ProcessLookupError:
            return False
        return True


LAUNCHERS: dict[str, Callable[[], Any]] = {"local": LocalLauncher}


def daemon_command() -> list[str]:
    """How to run gkfs-daemon with this interpreter: the console script beside it, or -m."""
    script = os.path.join(os.path.dirname(sys.executable), "gkfs-daemon")
    if os.access(script, os.X_OK):
        return [script]
    return [sys.executable, "-m", "gkfs.daemon"]


def _log_tail(path: str, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            tail = f.read().splitlines()[-lines:]
    except OSError as e:
        return f"    (no log: {e})"
    return "\n".join("    " + line for line in tail) or "    (log is empty)"


class Cluster:
    """The daemons of one file system, named by its hosts file.

    Not thread-safe: one Cluster object per controlling thread. Messages for the user go to
    ``out`` (stdout by default)."""

    def __init__(self, config: Optional[ClusterSettings] = None, launcher: Any = None,
                 out: Optional[TextIO] = None) -> None:
        self.config = config or _settings.load(ClusterSettings)
        self.launcher = launcher or LocalLauncher()
        self.out = out or sys.stdout

    # --- names ---------------------------------------------------------------------------

    @property
    def hosts_file(self) -> str:
        return os.path.abspath(self.config.daemon.hosts_file)

    @property
    def state_file(self) -> str:
        return state_file_for(self.hosts_file)

    def _say(self, message: str) -> None:
        print(message, file=self.out, flush=True)

    # --- state file ----------------------------------------------------------------------

    def read_state(self) -> Optional[dict[str, Any]]:
        """The recorded start of this file system, or None if there is none."""
        try:
            with open(self.state_file, encoding="utf-8") as f:
                state = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise ClusterError(f"cannot read state file {self.state_file}: {e}") from None
        if state.get("version") != STATE_VERSION:
            raise ClusterError(f"state file {self.state_file} has an unknown version")
        return state

    def _write_state(self, records: list[DaemonRecord]) -> None:
        daemon = self.config.daemon
        state = {
            "version": STATE_VERSION,
            "launcher": self.launcher.name,
            "hosts_file": self.hosts_file,
            "mountdir": daemon.mountdir,
            "rpc_protocol": daemon.rpc_protocol,
            "listen": daemon.listen,
            "daemons": [dataclasses.asdict(r) for r in records],
        }
        tmp = self.state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=2)
            f.write("\n")
        os.replace(tmp, self.state_file)

    @staticmethod
    def _records(state: dict[str, Any]) -> list[DaemonRecord]:
        return [DaemonRecord(**d) for d in state.get("daemons", [])]

    # --- start ---------------------------------------------------------------------------

    def start(self) -> None:
        """Spawns config.daemons daemons and waits until all answer a health RPC.
        On failure stops what it started and raises ClusterError with the failing
        daemon's log tail."""
        self._refuse_if_running()
        daemon = self.config.daemon
        os.makedirs(daemon.rootdir, exist_ok=True)
        os.makedirs(daemon.mountdir, exist_ok=True)
        os.makedirs(os.path.dirname(self.hosts_file), exist_ok=True)
        for stale in (self.hosts_file, self.state_file):
            if os.path.exists(stale):
                os.remove(stale)

        env = self._daemon_environment()
        records: list[DaemonRecord] = []
        try:
            for i in range(self.config.daemons):
                records.append(self._spawn(i, env))
                self._write_state(records)
            self._wait_until_ready(records)
        except BaseException as e:
            self._say(f"gkfs-ctl: start failed, stopping the {len(records)} daemon(s) started")
            self._stop_records(records, quiet=True)
            for path in (self.hosts_file, self.state_file):
                if os.path.exists(path):
                    os.remove(path)
            if isinstance(e, ClusterError):
                raise
            if isinstance(e, OSError):
                raise ClusterError(f"cannot start daemons: {e}") from e
            raise
        for r in records:
            self._say(f"daemon {r.index} pid {r.pid}: {_logged_uri(r.log)} (log {r.log})")
        self._say(f"gkfs: {len(records)} daemon(s) ready; hosts file {self.hosts_file}, "
                  f"mountdir {daemon.mountdir}")

    def _refuse_if_running(self) -> None:
        state = self.read_state()
        if state is None:
            return
        launcher = self._launcher_for(state)
        running = [r for r in self._records(state) if launcher.is_running(r)]
        if running:
            pids = ", ".join(str(r.pid) for r in running)
            raise ClusterError(
                f"a file system with hosts file {self.hosts_file} is already running "
                f"(pids {pids}); stop it first: gkfs-ctl stop --hosts-file {self.hosts_file}")

    def _daemon_environment(self) -> dict[str, str]:
        # The argv carries every setting, so GKFS_* variables must not change a daemon's mind.
        names = set(_settings.settings_environment_names())
        env = {k: v for k, v in os.environ.items() if k not in names}
        return ucx_defaults([self.config.daemon.listen], self.config.daemon.rpc_protocol, env)

    def _spawn(self, index: int, env: dict[str, str]) -> DaemonRecord:
        base = self.config.daemon
        rootdir = os.path.join(base.rootdir, f"d{index}")
        per_daemon = dataclasses.replace(
            base, rootdir=rootdir,
            metadir=os.path.join(base.metadir, f"d{index}") if base.metadir else "",
            port=base.port + index if base.port else 0)
        log = os.path.join(base.rootdir, f"d{index}.log")
        argv = daemon_command() + _settings.to_daemon_argv(per_daemon)
        return self.launcher.spawn(index, argv, env, log, rootdir)

    def _wait_until_ready(self, records: list[DaemonRecord]) -> None:
        deadline = time.monotonic() + self.config.start_timeout
        want = len(records)
        listed: list[tuple[str, str]] = []
        down: list[Any] = []
        while time.monotonic() < deadline:
            for r in records:
                if not self.launcher.is_running(r):
                    raise ClusterError(self._failure(r, "exited during start-up"))
            try:
                listed = read_hosts_file(self.hosts_file, complete_only=True)
            except FileNotFoundError:
                listed = []
            if len(listed) >= want:
                down = self._unhealthy(deadline)
                if not down:
                    return
            time.sleep(_POLL_S)
        if len(listed) < want:
            missing = self._not_listed(records, listed)
            raise ClusterError(self._failure(
                missing[0] if missing else records[0],
                f"not listed in {self.hosts_file} after {self.config.start_timeout:g}s "
                f"({len(listed)} of {want} daemons listed)"))
        uris = {d.uri for d in down}
        culprit = next((r for r in records if _logged_uri(r.log) in uris), records[0])
        reasons = "; ".join(f"{d.uri}: {d.error or 'down'}" for d in down)
        raise ClusterError(self._failure(
            culprit, f"did not answer a health RPC within {self.config.start_timeout:g}s "
                     f"({reasons})"))

    def _unhealthy(self, deadline: float) -> list[Any]:
        """Daemons that do not answer yet (all of them if none does)."""
        remaining_ms = int(max(deadline - time.monotonic(), _POLL_S) * 1000)
        timeout_ms = min(self.config.timeout_ms, remaining_ms)
        try:
            client = self._connect(timeout_ms)
        except OSError:
            return [_Down(uri, "no answer") for _, uri in read_hosts_file(self.hosts_file)]
        try:
            return [d for d in client.daemons() if not d.up]
        finally:
            client.close()

    @staticmethod
    def _not_listed(records: list[DaemonRecord],
                    listed: list[tuple[str, str]]) -> list[DaemonRecord]:
        uris = {uri for _, uri in listed}
        return [r for r in records if _logged_uri(r.log) not in uris]

    @staticmethod
    def _failure(record: DaemonRecord, what: str) -> str:
        return (f"daemon {record.index} (pid {record.pid}) {what}. Last lines of "
                f"{record.log}:\n{_log_tail(record.log)}")

    # --- stop ----------------------------------------------------------------------------

    def stop(self) -> bool:
        """Stops the recorded daemons; prints one line per daemon. Removes the hosts and
        state files only if all stopped. Returns whether all stopped."""
        state = self.read_state()
        if state is None:
            raise ClusterError(
                f"no state file {self.state_file}: no file system was started with hosts "
                f"file {self.hosts_file} (pass the --hosts-file given to gkfs-ctl start)")
        self.launcher = self._launcher_for(state)
        all_stopped = self._stop_records(self._records(state), quiet=False)
        if all_stopped:
            for path in (self.hosts_file, self.state_file):
                if os.path.exists(path):
                    os.remove(path)
        else:
            self._say(f"gkfs-ctl: some daemons are still running; kept {self.state_file}")
        return all_stopped

    def _stop_records(self, records: list[DaemonRecord], quiet: bool) -> bool:
        """SIGTERM to every daemon (in start order), one shared grace period, then SIGKILL
        to the rest."""
        grace = self.config.stop_grace
        outcome = {}
        for r in records:
            outcome[r.index] = "stopped (SIGTERM)" if self.launcher.send_signal(
                r, signal.SIGTERM) else "was not running"
        pending = [r for r in records if outcome[r.index] != "was not running"]
        pending = self._wait_exit(pending, grace)
        for r in pending:
            if self.launcher.send_signal(r, signal.SIGKILL):
                outcome[r.index] = f"killed (SIGKILL after {grace:g}s grace)"
        pending = self._wait_exit(pending, 5.0)
        for r in pending:
            outcome[r.index] = "STILL RUNNING after SIGKILL"
        if not quiet:
            for r in records:
                self._say(f"daemon {r.index} pid {r.pid} on {r.host}: {outcome[r.index]}")
        return not pending

    def _wait_exit(self, records: list[DaemonRecord], seconds: float) -> list[DaemonRecord]:
        deadline = time.monotonic() + seconds
        pending = list(records)
        while pending:
            pending = [r for r in pending if self.launcher.is_running(r)]
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(_POLL_S)
        return pending

    def _launcher_for(self, state: dict[str, Any]) -> Any:
        name = state.get("launcher", "local")
        if name == getattr(self.launcher, "name", None):
            return self.launcher
        if name not in LAUNCHERS:
            raise ClusterError(f"state file {self.state_file} names unknown launcher {name!r}")
        return LAUNCHERS[name]()

    # --- status and clients ---------------------------------------------------------------

    def status(self) -> list[Any]:
        """DaemonInfo of every daemon in the hosts file. Raises ClusterError if the hosts
        file is missing, empty or no daemon answers."""
        try:
            client = self._connect(self.config.timeout_ms)
        except OSError as e:
            raise ClusterError(f"cannot reach the file system: {e}") from None
        try:
            return client.daemons()
        finally:
            client.close()

    def _connect(self, timeout_ms: int) -> Any:
        """A gkfs._core.Client for this process, with the UCX defaults of a loopback file
        system applied to this process's environment first (UCX reads it once)."""
        from gkfs import _core

        protocol = (self.read_state() or {}).get("rpc_protocol", self.config.daemon.rpc_protocol)
        try:
            addresses = [_uri_address(uri) or "" for _, uri in read_hosts_file(self.hosts_file)]
        except OSError:
            addresses = []
        for key, value in ucx_defaults(addresses, protocol).items():
            os.environ.setdefault(key, value)
        return _core.Client(self.hosts_file, timeout_ms)

    def client_environment(self, preload: str) -> dict[str, str]:
        """Variables that make a program use this file system through the preload library
        (only the additions, not the whole environment)."""
        state = self.read_state() or {}
        mountdir = state.get("mountdir", self.config.daemon.mountdir)
        protocol = state.get("rpc_protocol", self.config.daemon.rpc_protocol)
        try:
            addresses = [_uri_address(uri) or "" for _, uri in read_hosts_file(self.hosts_file)]
        except OSError:
            addresses = []
        env = {
            "LD_PRELOAD": preload,
            "LIBGKFS_HOSTS_FILE": self.hosts_file,
            "LIBGKFS_MOUNTDIR": mountdir,
        }
        current = dict(os.environ)
        for key, value in ucx_defaults(addresses, protocol, current).items():
            if current.get(key) != value:
                env[key] = value
        return env


@dataclasses.dataclass
class _Down:
    uri: str
    error: str
    up: bool = False


def _logged_uri(log: str) -> Optional[str]:
    """The URI a daemon printed at start ('gkfs-daemon: listening on URI ...')."""
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            match = re.search(r"listening on (\S+)", f.read())
    except OSError:
        return None
    return match.group(1) if match else None
