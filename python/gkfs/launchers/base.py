"""What every launcher shares: the records kept in the state file, where daemon i keeps its
data and log, how a remote host runs the launch agent, and signalling a recorded process
without ever hitting a reused PID.

A launcher is a small object with the methods of :class:`Launcher`; :class:`gkfs.cluster.Cluster`
holds everything launcher-independent (state file, instance secret, readiness, status).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import signal
import socket
import sys
import time
from typing import Any, Callable, Optional, Sequence

from gkfs import settings as _settings
from gkfs.settings import DaemonSettings

__all__ = [
    "ClusterError",
    "DaemonRecord",
    "JobRecord",
    "Launch",
    "LaunchPlan",
    "Launcher",
    "READY_LINE",
    "RUN_MARKER",
    "agent_command",
    "begin_log_run",
    "current_run",
    "daemon_command",
    "daemon_layout",
    "log_tail",
    "parse_daemon_argv",
    "proc_start_time",
    "read_host_list",
    "stop_processes",
]

READY_LINE = "Startup successful. Daemon is ready."
LOG_TAIL_LINES = 20
POLL_S = 0.1
KILL_WAIT_S = 5.0


class ClusterError(RuntimeError):
    """A start, stop or status request failed; the message says what to fix."""


@dataclasses.dataclass
class DaemonRecord:
    """One daemon of a file system, as kept in the state file."""

    index: int
    pid: int               # 0 while unknown (srun/mpirun report it after start-up)
    start_time: int        # /proc/<pid>/stat starttime on its host: tells it from a reused PID
    host: str              # the host's own name (gethostname there)
    rootdir: str
    log: str               # on the daemon's host
    uri: str = ""
    target: str = ""       # how the launcher reaches the host (ssh destination); "" = here


@dataclasses.dataclass
class JobRecord:
    """The single process that owns every daemon of an srun or mpirun launch."""

    pid: int
    start_time: int
    host: str
    log: str
    step: str = ""         # Slurm job step 'JOBID.STEPID' (srun), once known


@dataclasses.dataclass
class LaunchPlan:
    """What to start: the daemon settings all daemons share (daemon_layout() derives each
    one's directories and port), how many per host, and the environment they need beyond
    their host's own (UCX_* variables; remote launchers pass them through the agent)."""

    base: DaemonSettings
    per_host: int
    env: dict[str, str]
    start_timeout: float

    def to_state(self) -> dict[str, Any]:
        return {"argv": _settings.to_daemon_argv(self.base), "per_host": self.per_host,
                "env": self.env, "start_timeout": self.start_timeout}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> "LaunchPlan":
        return cls(base=parse_daemon_argv(data["argv"]), per_host=data["per_host"],
                   env=dict(data.get("env", {})), start_timeout=data.get("start_timeout", 60.0))


@dataclasses.dataclass
class Launch:
    """What a launcher started so far; filled in while it spawns, so a failed start can
    still stop everything that did start."""

    daemons: list[DaemonRecord] = dataclasses.field(default_factory=list)
    job: Optional[JobRecord] = None


class Launcher:
    """Interface of a launcher. Methods raise ClusterError with a message for the user."""

    name = "abstract"

    def spawn(self, plan: LaunchPlan, launch: Launch) -> None:
        """Starts every daemon of plan, adding what it started to launch as it goes."""
        raise NotImplementedError

    def startup_failure(self, launch: Launch) -> Optional[str]:
        """While start waits for readiness: a description (with log tail) if a daemon or
        the launching job already exited, else None. Must be cheap: called every 0.1 s."""
        return None

    def complete(self, launch: Launch) -> None:
        """After every daemon answered: fill in what is only known now (uris, pids)."""

    def running(self, launch: Launch) -> list[str]:
        """Descriptions of the recorded processes that are still running."""
        raise NotImplementedError

    def stop(self, launch: Launch, grace: float,
             only: Optional[set[int]] = None) -> tuple[list[str], bool]:
        """SIGTERM, the grace period, then SIGKILL, for every daemon (or the daemon indices
        in only). Returns one line per daemon (or job) and whether all of them are gone."""
        raise NotImplementedError

    def restart(self, record: DaemonRecord, plan: LaunchPlan) -> DaemonRecord:
        """Starts daemon record.index again on its host, root directory and uri."""
        raise ClusterError(f"the {self.name} launcher cannot restart a single daemon; "
                           f"see docs/operations.md for the gkfs-daemon command line")

    def per_host_command(self, argv: list[str]) -> Optional[list[str]]:
        """A command that runs argv once on every host of the daemons, through this
        launcher (start --fuse mounts that way); None when the hosts are reached otherwise
        (here, or over ssh to the hosts the daemons report)."""
        return None

    def serve_command(self, argv: list[str]) -> Optional[list[str]]:
        """A command that runs argv once on every host of the daemons as a job of the
        launcher's own that lasts as long as argv does (srun: a job step, so that Slurm keeps
        the FUSE clients of start --fuse); None when the launcher has none."""
        return None

    def to_state(self) -> dict[str, Any]:
        """What stop/status/restart in a later gkfs-ctl process need to rebuild this launcher."""
        return {}


# --- layout of daemon i ----------------------------------------------------------------------


def daemon_layout(base: DaemonSettings, index: int,
                  local_index: int) -> tuple[DaemonSettings, str]:
    """Settings and log file of daemon `index` (the `local_index`-th on its host): root
    directory <rootdir>/d<index>, metadata <metadir>/d<index>, log <rootdir>/d<index>.log,
    with a fixed --port, port+local_index, and with --metrics-port, metrics-port+index."""
    settings = dataclasses.replace(
        base, rootdir=os.path.join(base.rootdir, f"d{index}"),
        metadir=os.path.join(base.metadir, f"d{index}") if base.metadir else "",
        port=base.port + local_index if base.port else 0,
        metrics_port=base.metrics_port + index if base.metrics_port else 0)
    return settings, os.path.join(base.rootdir, f"d{index}.log")


def parse_daemon_argv(argv: Sequence[str]) -> DaemonSettings:
    """The DaemonSettings that to_daemon_argv() wrote (the environment plays no part)."""
    from gkfs.daemon import build_parser

    return _settings.load(DaemonSettings, build_parser().parse_args(list(argv)), environ={})


def daemon_command() -> list[str]:
    """How to run gkfs-daemon with this interpreter: the console script beside it, or -m."""
    script = os.path.join(os.path.dirname(sys.executable), "gkfs-daemon")
    if os.access(script, os.X_OK):
        return [script]
    return [sys.executable, "-m", "gkfs.daemon"]


def agent_command() -> list[str]:
    """The launch agent (gkfs.launchers.agent) run by this interpreter. Remote hosts run the
    same path: gkfs must be installed at the same place on every host (shared file system
    or identical images), as for any MPI or Slurm job."""
    return [sys.executable, "-m", "gkfs.launchers.agent"]


def read_host_list(path: str) -> list[str]:
    """Hosts of a host list file: the first word of each line; '#' starts a comment, so MPI
    hostfiles ('node01 slots=4') work. Raises ClusterError naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ClusterError(f"cannot read host list {path}: {e.strerror}") from None
    hosts = []
    for line in lines:
        words = line.split("#", 1)[0].split()
        if words:
            hosts.append(words[0])
    if not hosts:
        raise ClusterError(f"host list {path} names no host")
    duplicates = sorted({h for h in hosts if hosts.count(h) > 1})
    if duplicates:
        raise ClusterError(f"host list {path} names {', '.join(duplicates)} more than once "
                           f"(use --daemons N for N daemons per host)")
    return hosts


def log_tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            tail = f.read().splitlines()[-lines:]
    except OSError as e:
        return f"    (no log: {e})"
    return "\n".join("    " + line for line in tail) or "    (log is empty)"


def quote(argv: Sequence[str]) -> str:
    return shlex.join(list(argv))


# --- processes ---------------------------------------------------------------------------------


def proc_start_time(pid: int) -> Optional[int]:
    """Start time of a live (non-zombie) process on this host, None if there is none."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    if fields[0] in ("Z", "X"):  # exited, not yet reaped by its parent
        return None
    return int(fields[19])


def process_alive(pid: int, start_time: int) -> bool:
    """Whether the recorded process still runs (start_time 0: not recorded, PID only)."""
    if pid <= 0:
        return False
    now = proc_start_time(pid)
    return now is not None and start_time in (0, now)


def signal_process(pid: int, start_time: int, signum: int) -> bool:
    """Signals the recorded process; False if it is no longer running."""
    if not process_alive(pid, start_time):
        return False
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def wait_gone(alive: Callable[[Any], bool], items: list[Any], seconds: float) -> list[Any]:
    """Waits until every item is no longer alive or seconds pass; returns the ones left."""
    deadline = time.monotonic() + seconds
    pending = list(items)
    while pending:
        pending = [item for item in pending if alive(item)]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    return pending


def stop_processes(procs: Sequence[Any], grace: float,
                   alive: Callable[[Any], bool],
                   send: Callable[[Any, int], bool]) -> list[str]:
    """SIGTERM to every process (in order), one shared grace period, SIGKILL to the rest.
    Returns each one's outcome: 'stopped (SIGTERM)', 'was not running',
    'killed (SIGKILL after Gs grace)' or 'STILL RUNNING after SIGKILL'."""
    outcome = ["stopped (SIGTERM)" if send(p, signal.SIGTERM) else "was not running"
               for p in procs]
    pending = [i for i, text in enumerate(outcome) if text != "was not running"]
    pending = wait_gone(lambda i: alive(procs[i]), pending, grace)
    for i in pending:
        if send(procs[i], signal.SIGKILL):
            outcome[i] = f"killed (SIGKILL after {grace:g}s grace)"
    for i in wait_gone(lambda i: alive(procs[i]), pending, KILL_WAIT_S):
        outcome[i] = "STILL RUNNING after SIGKILL"
    return outcome


def all_stopped(outcomes: Sequence[str]) -> bool:
    return not any(text.startswith("STILL RUNNING") for text in outcomes)


# --- daemon logs and uris ----------------------------------------------------------------------


# Daemon and job logs are appended to, run after run, so that an operator still finds the
# log of a run that failed before. Each run's section opens with one marker line, and what
# gkfs-ctl reads from a log (the uri, the agents' reports) comes from the last section only.
RUN_MARKER = "==== gkfs-ctl: run started"


def begin_log_run(fd: int) -> None:
    """Writes the marker that opens a new run's section to a log opened for appending."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %z")
    os.write(fd, f"{RUN_MARKER} {stamp} on {socket.gethostname()} ====\n".encode())


def current_run(text: str) -> str:
    """The section of a log's text written by its last run (all of it without a marker)."""
    start = text.rfind(RUN_MARKER)
    return text if start < 0 else text[start:]


def logged_uri(log: str) -> str:
    """The uri gkfs-daemon printed at the start of the log's last run ('gkfs-daemon:
    listening on URI ...'), or '' if that run has not printed it (yet)."""
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            uris = re.findall(r"listening on (\S+)", current_run(f.read()))
    except OSError:
        return ""
    return uris[-1] if uris else ""


def uri_port(uri: str) -> int:
    match = re.search(r":(\d+)/?$", uri)
    if not match:
        raise ClusterError(f"no port in uri {uri!r}")
    return int(match.group(1))


def restart_settings(plan: LaunchPlan, record: DaemonRecord,
                     local_index: int) -> tuple[DaemonSettings, str]:
    """Daemon record.index as it was, on the port it had: same root directory, never wiped."""
    if not record.uri:
        raise ClusterError(f"daemon {record.index} has no recorded uri: cannot restart it on "
                           f"its address")
    settings, log = daemon_layout(plan.base, record.index, local_index)
    return dataclasses.replace(settings, port=uri_port(record.uri), clean_rootdir=False), log


def daemon_environment(extra: dict[str, str],
                       environ: Optional[dict[str, str]] = None) -> dict[str, str]:
    """A daemon's environment: this process's without GKFS_* settings (the argv carries every
    setting, so no variable may change a daemon's mind), plus extra."""
    names = set(_settings.settings_environment_names())
    env = {k: v for k, v in (os.environ if environ is None else environ).items()
           if k not in names}
    env.update(extra)
    return env
