"""Starting, checking and stopping a gkfs file system (all behaviour behind ``gkfs-ctl``).

A :class:`Cluster` is named by its hosts file. ``start`` creates the instance secret
(``<hosts_file>.secret``, mode 0600), has a launcher (gkfs.launchers: local, ssh, srun,
mpirun) spawn the daemons, records them in a state file beside the hosts file
(``<hosts_file>.pids.json``) and returns only when every daemon is listed in the hosts file
and answers a health RPC. ``stop`` acts on the recorded processes only (SIGTERM, a grace
period, then SIGKILL), never on process names, and removes the hosts file, state file and
secret only once every daemon is down. ``restart_daemon`` starts one recorded daemon again
on its host, root directory and address.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from typing import Any, Optional, Sequence, TextIO

from gkfs import settings as _settings
from gkfs.launchers import launcher_for, launcher_from_state
from gkfs.launchers.base import (POLL_S, ClusterError, DaemonRecord, JobRecord, Launch,
                                 Launcher, LaunchPlan, current_run, log_tail, wait_gone)
from gkfs.launchers.job import JobLauncher
from gkfs.mounts import (SERVING_LINE, ctl_command, is_mounted, mount_check_command,
                         mount_here, mount_problem, remote_command, run_command, serve_here,
                         ssh_command, unmount_here)
from gkfs.settings import ClusterSettings

# start --fuse in a job step: how long beyond --start-timeout the step may take to mount.
_FUSE_MOUNT_SLACK_S = 60.0
# status: how long beyond --timeout-ms a FUSE check on other hosts may take to start (ssh,
# mpirun or srun bring up a task before gkfs-ctl looks at the mount).
_FUSE_CHECK_SLACK_S = 10.0

__all__ = [
    "Cluster",
    "ClusterError",
    "DaemonRecord",
    "create_secret_file",
    "read_hosts_file",
    "secret_file_for",
    "state_file_for",
    "ucx_defaults",
]

STATE_VERSION = 1


def state_file_for(hosts_file: str) -> str:
    return os.path.abspath(hosts_file) + ".pids.json"


def secret_file_for(hosts_file: str) -> str:
    """Where gkfs-ctl start puts the instance secret; clients look there by default."""
    return os.path.abspath(hosts_file) + ".secret"


def create_secret_file(path: str) -> None:
    """Writes 16 random bytes as 32 hex digits to a new file that only its owner can read,
    from the first byte on (O_EXCL, mode 0600 at creation). Raises FileExistsError."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(16) + "\n")


#: GekkoFS's marker line after the daemons of one file system instance (core/common/hosts_file.h).
INSTANCE_END = "#FS_INSTANCE_END"


def read_hosts_file(path: str, complete_only: bool = False) -> list[tuple[str, str]]:
    """(host, uri) per daemon of a GekkoFS hosts file, in file order, one entry per uri (a
    restarted daemon appends its line again), up to a #FS_INSTANCE_END line; fields after the
    uri are ignored. complete_only skips a last line that has no
    newline yet (a daemon may be writing it). Raises OSError if the file is unreadable."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    if complete_only or not lines[-1].strip():
        lines = lines[:-1]
    entries, seen = [], set()
    for line in lines:
        fields = line.split()
        if fields and fields[0] == INSTANCE_END:
            break
        if len(fields) >= 2 and not fields[0].startswith("#") and fields[1] not in seen:
            seen.add(fields[1])
            entries.append((fields[0], fields[1]))
    return entries


def _ssh_args(state: dict[str, Any]) -> list[str]:
    """The ssh options the recorded launcher reaches the daemon hosts with."""
    return state.get("launcher_state", {}).get("ssh_args", [])


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
class _Down:
    uri: str
    error: str
    up: bool = False


class Cluster:
    """The daemons of one file system, named by its hosts file.

    Not thread-safe: one Cluster object per controlling thread. Messages for the user go to
    ``out`` (stdout by default). ``launcher`` overrides the one config names (tests)."""

    def __init__(self, config: Optional[ClusterSettings] = None,
                 launcher: Optional[Launcher] = None, out: Optional[TextIO] = None) -> None:
        self.config = config or _settings.load(ClusterSettings)
        self.launcher = launcher
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
        except (FileNotFoundError, NotADirectoryError):  # no file, or no directory for one
            return None
        except (OSError, ValueError) as e:
            raise ClusterError(f"cannot read state file {self.state_file}: {e}") from None
        if state.get("version") != STATE_VERSION:
            raise ClusterError(f"state file {self.state_file} has an unknown version")
        return state

    def _require_state(self) -> dict[str, Any]:
        state = self.read_state()
        if state is None:
            raise ClusterError(
                f"no state file {self.state_file}: no file system was started with hosts "
                f"file {self.hosts_file} (pass the --hosts-file given to gkfs-ctl start)")
        return state

    def _write_state(self, launcher: Launcher, plan: LaunchPlan, launch: Launch,
                     secret_file: str, created_secret: bool) -> None:
        daemon = self.config.daemon
        state = {
            "version": STATE_VERSION,
            "launcher": launcher.name,
            "launcher_state": launcher.to_state(),
            "hosts_file": self.hosts_file,
            "mountdir": daemon.mountdir,
            "rpc_protocol": daemon.rpc_protocol,
            "listen": daemon.listen,
            "timeout_ms": self.config.timeout_ms,
            "secret_file": secret_file,
            "created_secret": created_secret,
            "plan": plan.to_state(),
            "daemons": [dataclasses.asdict(r) for r in launch.daemons],
            "job": dataclasses.asdict(launch.job) if launch.job else None,
        }
        tmp = self.state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=2)
            f.write("\n")
        os.replace(tmp, self.state_file)

    def _rewrite_state(self, state: dict[str, Any], launch: Launch) -> None:
        state = dict(state, daemons=[dataclasses.asdict(r) for r in launch.daemons])
        tmp = self.state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=2)
            f.write("\n")
        os.replace(tmp, self.state_file)

    @staticmethod
    def _launch(state: dict[str, Any]) -> Launch:
        job = state.get("job")
        return Launch(daemons=[DaemonRecord(**d) for d in state.get("daemons", [])],
                      job=JobRecord(**job) if job else None)

    def _recorded_launcher(self, state: dict[str, Any]) -> Launcher:
        name = state.get("launcher", "local")
        if self.launcher is not None and self.launcher.name == name:
            return self.launcher
        return launcher_from_state(name, state.get("launcher_state", {}))

    def _remove_files(self, paths: Sequence[str]) -> None:
        for path in paths:
            if path and os.path.exists(path):
                os.remove(path)

    # --- start ---------------------------------------------------------------------------

    def start(self) -> None:
        """Spawns the daemons and waits until all answer a health RPC. On failure stops
        what it started, removes the files it made and raises ClusterError with the failing
        daemon's log tail."""
        launcher = self.launcher or launcher_for(self.config)
        self._refuse_if_running()
        daemon = self.config.daemon
        self._make_directories(launcher)
        secret_file = daemon.secret_file or secret_file_for(self.hosts_file)
        created_secret = not daemon.secret_file
        self._remove_files([self.hosts_file, self.state_file]
                           + ([secret_file] if created_secret else []))
        if created_secret:
            create_secret_file(secret_file)
        if launcher.name != "local" and _is_loopback(daemon.listen):
            self._say(f"gkfs-ctl: warning: daemons listen on {daemon.listen}: clients on other "
                      f"hosts cannot reach them (pass -l/--listen with an interface, e.g. ib0)")
        plan = LaunchPlan(base=dataclasses.replace(daemon, secret_file=secret_file),
                          per_host=self.config.daemons, env=self._daemon_environment(),
                          start_timeout=self.config.start_timeout)
        launch = Launch()
        try:
            launcher.spawn(plan, launch)
            self._write_state(launcher, plan, launch, secret_file, created_secret)
            self._wait_until_ready(launcher, launch)
            launcher.complete(launch)
            self._write_state(launcher, plan, launch, secret_file, created_secret)
        except BaseException as e:
            self._say(f"gkfs-ctl: start failed, stopping the daemons started "
                      f"({len(launch.daemons)} recorded)")
            try:
                launcher.stop(launch, self.config.stop_grace)
            except ClusterError as stop_error:
                self._say(f"gkfs-ctl: {stop_error}")
            self._remove_files([self.hosts_file, self.state_file]
                               + ([secret_file] if created_secret else []))
            if isinstance(e, ClusterError):
                raise
            if isinstance(e, OSError):
                raise ClusterError(f"cannot start daemons: {e}") from e
            raise
        for r in launch.daemons:
            self._say(f"daemon {r.index} pid {r.pid} on {r.host}: {r.uri} (log {r.log})"
                      + self._metrics_note(r))
        self._say(f"gkfs: {len(launch.daemons)} daemon(s) ready ({launcher.name} launcher); "
                  f"hosts file {self.hosts_file}, mountdir {daemon.mountdir}")
        if self.config.fuse:
            try:
                self._mount_everywhere()
            except ClusterError:
                self._say("gkfs-ctl: start --fuse failed, stopping the daemons")
                self.stop()
                raise

    def _metrics_note(self, record: DaemonRecord) -> str:
        """', metrics http://ADDR:PORT/metrics' for a daemon started with --metrics-port."""
        base = self.config.daemon.metrics_port
        if not base:
            return ""
        return f", metrics http://{_uri_address(record.uri)}:{base + record.index}/metrics"

    def _make_directories(self, launcher: Launcher) -> None:
        """The root directory, the hosts file's directory and (local launcher) the mount
        directory; ClusterError naming the flag of one that cannot be made."""
        from gkfs.daemon import directory_problem

        daemon = self.config.daemon
        problem = directory_problem(daemon)  # makes the root directory
        if problem:
            raise ClusterError(problem)
        made = [(f"-H/--hosts-file {self.hosts_file}: its directory",
                 os.path.dirname(self.hosts_file))]
        if launcher.name == "local":
            made.append((f"-m/--mountdir {daemon.mountdir}", daemon.mountdir))
        for what, directory in made:
            try:
                os.makedirs(directory, exist_ok=True)
            except OSError as e:  # EEXIST: a file holds the name
                reason = os.strerror(errno.ENOTDIR if e.errno == errno.EEXIST else e.errno)
                raise ClusterError(f"{what} cannot be created: {reason}") from None

    def _refuse_if_running(self) -> None:
        state = self.read_state()
        if state is None:
            return
        running = self._recorded_launcher(state).running(self._launch(state))
        if running:
            raise ClusterError(
                f"a file system with hosts file {self.hosts_file} is already running "
                f"({', '.join(running)}); stop it first: gkfs-ctl stop --hosts-file "
                f"{self.hosts_file}")

    def _daemon_environment(self) -> dict[str, str]:
        """Variables the daemons get on top of their host's environment: this process's
        UCX_* settings and the loopback defaults."""
        daemon = self.config.daemon
        env = {k: v for k, v in os.environ.items() if k.startswith("UCX_")}
        for key, value in ucx_defaults([daemon.listen], daemon.rpc_protocol, env).items():
            env.setdefault(key, value)
        return env

    def _wait_until_ready(self, launcher: Launcher, launch: Launch) -> None:
        deadline = time.monotonic() + self.config.start_timeout
        want = len(launch.daemons)
        listed: list[tuple[str, str]] = []
        down: list[Any] = []
        while time.monotonic() < deadline:
            failure = launcher.startup_failure(launch)
            if failure:
                raise ClusterError(failure)
            try:
                listed = read_hosts_file(self.hosts_file, complete_only=True)
            except FileNotFoundError:
                listed = []
            if len(listed) >= want:
                down = self._unhealthy(deadline)
                if not down:
                    return
            time.sleep(POLL_S)
        if len(listed) < want:
            uris = {uri for _, uri in listed}
            missing = [r for r in launch.daemons if not r.uri or r.uri not in uris]
            raise ClusterError(self._failure(
                missing[0] if missing else launch.daemons[0],
                f"not listed in {self.hosts_file} after {self.config.start_timeout:g}s "
                f"({len(listed)} of {want} daemons listed)"))
        uris = {d.uri for d in down}
        culprit = next((r for r in launch.daemons if r.uri in uris), launch.daemons[0])
        reasons = "; ".join(f"{d.uri}: {d.error or 'down'}" for d in down)
        raise ClusterError(self._failure(
            culprit, f"did not answer a health RPC within {self.config.start_timeout:g}s "
                     f"({reasons})"))

    def _unhealthy(self, deadline: float) -> list[Any]:
        """Daemons that do not answer yet (all of them if none does)."""
        remaining_ms = int(max(deadline - time.monotonic(), POLL_S) * 1000)
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
    def _failure(record: DaemonRecord, what: str) -> str:
        where = f" on {record.host or record.target}" if record.target else ""
        return (f"daemon {record.index} (pid {record.pid}{where}) {what}. Last lines of "
                f"{record.log}:\n{log_tail(record.log)}")

    # --- stop and restart -----------------------------------------------------------------

    def stop(self, only: Optional[Sequence[int]] = None) -> bool:
        """Stops the recorded daemons (or only the given indices); prints one line per
        daemon. Removes the hosts file, state file and secret only when all daemons were
        asked to stop and all did; stopping some never removes the hosts file from under the
        others. Returns whether the daemons asked to stop are down."""
        state = self._require_state()
        if only is None:
            self._unmount_everywhere(state)
        launcher = self._recorded_launcher(state)
        launch = self._launch(state)
        if only is not None:
            known = {r.index for r in launch.daemons}
            unknown = sorted(set(only) - known)
            if unknown:
                raise ClusterError(f"no daemon {unknown[0]} in {self.state_file} (daemons "
                                   f"{min(known)}..{max(known)})")
        lines, stopped = launcher.stop(launch, self.config.stop_grace,
                                       set(only) if only is not None else None)
        for line in lines:
            self._say(line)
        if only is not None:
            self._say(f"gkfs-ctl: kept {self.hosts_file}: the other daemons still serve")
        elif stopped:
            self._remove_files([self.hosts_file, self.state_file]
                               + ([state.get("secret_file", "")]
                                  if state.get("created_secret") else []))
        else:
            self._say(f"gkfs-ctl: some daemons are still running; kept {self.state_file}")
        return stopped

    # --- FUSE mounts (gkfs-fuse) ------------------------------------------------------------

    def _mount_point(self, mountdir: Optional[str]) -> str:
        state = self.read_state() or {}
        if mountdir is None:  # the file system's own mount directory is made if missing
            mountdir = state.get("mountdir", self.config.daemon.mountdir)
            if not is_mounted(mountdir):  # a mount whose gkfs-fuse ended fails any stat
                os.makedirs(mountdir, exist_ok=True)
        return os.path.abspath(mountdir)

    def serve(self, mountdir: Optional[str] = None) -> int:
        """gkfs-ctl mount --foreground: mounts like mount() and stays until unmounted."""
        mountdir = self._mount_point(mountdir)
        try:
            return serve_here(mountdir, self.client_environment(""), self._fuse_options())
        except ClusterError as e:  # one task of a job among many: name the host
            raise ClusterError(f"{socket.gethostname()}: {e}") from None

    def mount(self, mountdir: Optional[str] = None) -> str:
        """Mounts this file system at mountdir (default: its mount directory) on this host
        with gkfs-fuse. ClusterError naming the cause; nothing stays mounted on failure."""
        mountdir = self._mount_point(mountdir)
        mount_here(mountdir, self.client_environment(""), self._fuse_options())
        self._say(f"gkfs: {self.hosts_file} mounted at {mountdir} (FUSE)")
        return mountdir

    def umount(self, mountdir: Optional[str] = None) -> None:
        """Unmounts the FUSE mount at mountdir (default: the mount directory) on this host,
        whether or not the daemons still run."""
        state = self.read_state() or {}
        mountdir = os.path.abspath(mountdir or state.get("mountdir", self.config.daemon.mountdir))
        self._say(f"gkfs: {unmount_here(mountdir)}")

    def _mount_targets(self, state: dict[str, Any]) -> list[str]:
        """Where the daemons run, as ssh destinations; "" for this host."""
        here = socket.gethostname()
        targets: list[str] = []
        for record in self._launch(state).daemons:
            target = record.target or ("" if record.host == here else record.host)
            if target not in targets:
                targets.append(target)
        return targets

    def _mount_flags(self) -> list[str]:
        """gkfs-ctl mount on another host: its mount directory comes from the state file
        beside the hosts file (which every host reads)."""
        return ["-H", self.hosts_file, "--timeout-ms", str(self.config.timeout_ms),
                *self._fuse_options()]

    def _fuse_options(self) -> list[str]:
        """The mount's options, as both gkfs-ctl mount and gkfs-fuse spell them."""
        chosen = {"--cache": self.config.cache, "--writeback": self.config.writeback,
                  "--allow-other": self.config.allow_other}
        return [flag for flag, on in chosen.items() if on]

    # fuse_mounts entries: mounted on every daemon host through the launcher itself, by a
    # short job (mpirun), or by a job that serves the mounts until stop (srun's job step).
    _THROUGH_LAUNCHER = "through the launcher"
    _IN_A_JOB = "in a job of the launcher"

    def _mount_everywhere(self) -> None:
        """start --fuse: the mount directory becomes a FUSE mount on every daemon host: in a
        job of the launcher that keeps gkfs-fuse running (srun), through the launcher where it
        runs tasks per host (mpirun), else here and over ssh. If one fails, the others made
        are unmounted and ClusterError names the host and cause."""
        state = self._require_state()
        mountdir = state["mountdir"]
        ssh_args = _ssh_args(state)
        launcher = self._recorded_launcher(state)
        serve = launcher.serve_command(ctl_command(["mount", "--foreground",
                                                    *self._mount_flags()]))
        if serve is not None:
            self._mount_in_a_job(state, launcher, serve)
            return
        per_host = launcher.per_host_command(ctl_command(["mount", *self._mount_flags()]))
        made: list[str] = []
        try:
            if per_host is not None:
                made.append(self._THROUGH_LAUNCHER)  # some hosts may mount before one fails
                run_command(per_host, f"gkfs-ctl mount through {launcher.name}")
                self._say(f"gkfs: mounted at {mountdir} on every daemon host "
                          f"({launcher.name}, FUSE)")
                return
            for target in self._mount_targets(state):
                if target:
                    remote_command(target, ssh_args, ["mount", *self._mount_flags()])
                    self._say(f"gkfs: mounted at {mountdir} on {target} (FUSE)")
                else:
                    self.mount()
                made.append(target)
        finally:
            state["fuse_mounts"] = made
            self._rewrite_state(state, self._launch(state))

    def _mount_in_a_job(self, state: dict[str, Any], launcher: Launcher,
                        serve: list[str]) -> None:
        """Starts the job that mounts and serves on every daemon host (gkfs-ctl mount
        --foreground, one task per host), records it in the state file and waits until every
        task reports its mount. A task that fails ends the job (--kill-on-bad-exit), and the
        others unmount on its SIGTERM; ClusterError with the failed hosts' messages."""
        assert isinstance(launcher, JobLauncher)
        mountdir = state["mountdir"]
        log = self._mount_job_log(state, launcher)
        child, job = launcher.start_job(serve, log)
        state["fuse_mounts"] = [self._IN_A_JOB]
        state["fuse_job"] = dataclasses.asdict(job)
        self._rewrite_state(state, self._launch(state))
        hosts = launcher.host_count()
        deadline = time.monotonic() + self.config.start_timeout + _FUSE_MOUNT_SLACK_S
        while True:
            serving = self._serving(log)
            if len(serving) >= hosts:
                break
            if child.poll() is not None or time.monotonic() >= deadline:
                what = (f"exited (status {child.returncode})" if child.returncode is not None
                        else f"did not mount on every host within "
                             f"{self.config.start_timeout + _FUSE_MOUNT_SLACK_S:g}s")
                if child.poll() is None:
                    launcher.stop(Launch(job=job), self.config.stop_grace)
                errors = [line.strip() for line in self._job_run(log).splitlines()
                          if "error:" in line]
                state["fuse_mounts"] = []
                self._rewrite_state(state, self._launch(state))
                raise ClusterError(f"the mount job ({launcher.describe(Launch(job=job))}) "
                                   f"{what} ({len(serving)} of {hosts} hosts had mounted; "
                                   f"they unmount as the step ends):\n"
                                   + ("\n".join(f"    {e}" for e in errors)
                                      or log_tail(log)))
            time.sleep(POLL_S)
        step = next(iter(serving.values()), "-")
        job.step = "" if step == "-" else step
        state["fuse_job"] = dataclasses.asdict(job)
        self._rewrite_state(state, self._launch(state))
        self._say(f"gkfs: mounted at {mountdir} on {', '.join(sorted(serving))} (FUSE, "
                  f"{launcher.describe(Launch(job=job))}, log {log})")

    @staticmethod
    def _mount_job_log(state: dict[str, Any], launcher: Launcher) -> str:
        """Where the mount job of start --fuse writes (beside the daemons' logs)."""
        return os.path.join(LaunchPlan.from_state(state["plan"]).base.rootdir,
                            f"{launcher.name}-fuse.log")

    @staticmethod
    def _job_run(log: str) -> str:
        try:
            with open(log, encoding="utf-8", errors="replace") as f:
                return current_run(f.read())
        except OSError:
            return ""

    def _serving(self, log: str) -> dict[str, str]:
        """Host -> job step of the tasks that reported their mount in the log's last run."""
        pattern = re.escape(SERVING_LINE) + r" host (\S+) mountdir \S+ step (\S+)"
        return dict(re.findall(pattern, self._job_run(log)))

    def _unmount_job(self, state: dict[str, Any], mountdir: str) -> None:
        """stop after start --fuse with srun: gkfs-ctl umount in a short job step on every
        host ends the foreground gkfs-fuse of each, and so the mount step; a step still
        running after the grace period is signalled (its tasks unmount on SIGTERM)."""
        launcher = self._recorded_launcher(state)
        job = JobRecord(**state["fuse_job"])
        problem = ""
        if launcher.job_alive(job):
            try:
                self._umount_through(launcher, mountdir)
            except ClusterError as e:
                problem = f" (umount: {e})"
        what = launcher.describe(Launch(job=job))
        if wait_gone(launcher.job_alive, [job], self.config.stop_grace):
            lines, _ = launcher.stop(Launch(job=job), self.config.stop_grace)
            problem += f" ({'; '.join(lines)})"
        self._say(f"gkfs: {mountdir}: unmounted on every daemon host, {what} ended{problem}")

    def _umount_through(self, launcher: Launcher, mountdir: str) -> None:
        """gkfs-ctl umount on every daemon host, as one task per host of the launcher."""
        umount = ctl_command(["umount", "-H", self.hosts_file, mountdir])
        run_command(launcher.per_host_command(umount) or umount,
                    f"gkfs-ctl umount through {launcher.name}")

    def _unmount_everywhere(self, state: dict[str, Any]) -> None:
        """stop: the FUSE mounts start --fuse made go first; a failure is reported, not
        fatal (the daemons are stopped anyway)."""
        mountdir = state.get("mountdir", self.config.daemon.mountdir)
        ssh_args = _ssh_args(state)
        for target in state.get("fuse_mounts", []):
            try:
                if target == self._IN_A_JOB:
                    self._unmount_job(state, mountdir)
                elif target == self._THROUGH_LAUNCHER:
                    self._umount_through(self._recorded_launcher(state), mountdir)
                    self._say(f"gkfs: {mountdir} on every daemon host: unmounted")
                elif target:
                    remote_command(target, ssh_args, ["umount", "-H", self.hosts_file, mountdir])
                    self._say(f"gkfs: {mountdir} on {target}: unmounted")
                else:
                    self._say(f"gkfs: {unmount_here(mountdir)}")
            except (ClusterError, OSError, subprocess.SubprocessError) as e:
                self._say(f"gkfs-ctl: warning: cannot unmount {mountdir} on "
                          f"{target or 'this host'}: {e}")

    def fuse_status(self) -> list[dict[str, Any]]:
        """The FUSE mounts start --fuse made (none without --fuse), each looked at where it
        is: here, over ssh, through the launcher (mpirun: one check per host), or the srun
        mount step's liveness, the hosts it reported and a check per host through srun. One
        dict per mount, or per group the launcher checks at once: {host, mountdir, mounted,
        how}. A check on other hosts gets --timeout-ms and a few seconds to start."""
        state = self.read_state() or {}
        mountdir = state.get("mountdir", self.config.daemon.mountdir)
        ssh_args = _ssh_args(state)
        report: list[dict[str, Any]] = []
        for target in state.get("fuse_mounts", []):
            # A check that cannot run (no squeue, ssh refused) reports its mount as not
            # mounted, with the reason, and the others are still looked at.
            try:
                report += self._fuse_target_status(state, target, mountdir, ssh_args)
            except (ClusterError, OSError, KeyError, subprocess.SubprocessError) as e:
                report.append({"host": target or socket.gethostname(), "mountdir": mountdir,
                               "mounted": False, "how": f"cannot check: {e}"})
        return report

    def _fuse_target_status(self, state: dict[str, Any], target: str, mountdir: str,
                            ssh_args: list[str]) -> list[dict[str, Any]]:
        """fuse_status's entries of one recorded mount target."""
        if target == self._IN_A_JOB:
            return self._job_mounts(state, mountdir)
        if target == self._THROUGH_LAUNCHER:
            launcher = self._recorded_launcher(state)
            host, how = "every daemon host", f"checked through {launcher.name}"
            check = launcher.per_host_command(mount_check_command(mountdir))
        elif target:
            host, how = target, "checked over ssh"
            check = ssh_command(target, ssh_args, mount_check_command(mountdir))
        else:
            problem = mount_problem(mountdir)
            return [{"host": socket.gethostname(), "mountdir": mountdir,
                     "mounted": problem is None,
                     "how": f"this host: {problem}" if problem else "this host"}]
        mounted, how = self._check_mounts(check or [], how)
        return [{"host": host, "mountdir": mountdir, "mounted": mounted, "how": how}]

    def _check_mounts(self, check: list[str], how: str) -> tuple[bool, str]:
        """Runs a mount check command on other hosts: (mounted, how), how naming the
        problem if not."""
        try:
            run_command(check, how, timeout=self.config.timeout_ms / 1000 + _FUSE_CHECK_SLACK_S)
        except (ClusterError, OSError) as e:
            return False, str(e)  # run_command's message names `how` already
        return True, how

    def _job_mounts(self, state: dict[str, Any], mountdir: str) -> list[dict[str, Any]]:
        """fuse_status of the mounts served by a job of the launcher (srun's mount step):
        mounted on the hosts whose task reported its mount, while the step runs and the
        check through the launcher finds a mount on every host (a task whose gkfs-fuse
        ended cleanly, unmounted by hand, leaves the step running)."""
        if "fuse_job" not in state:
            return []
        launcher = self._recorded_launcher(state)
        job = JobRecord(**state["fuse_job"])
        alive = launcher.job_alive(job)
        what = launcher.describe(Launch(job=job))
        how = f"served by {what}" if alive else f"{what} ended"
        check = launcher.per_host_command(mount_check_command(mountdir))
        if alive and check is not None:
            alive, how = self._check_mounts(check, f"checked through {launcher.name}, {how}")
        hosts = (sorted(self._serving(self._mount_job_log(state, launcher)))
                 or ["every daemon host"])
        return [{"host": h, "mountdir": mountdir, "mounted": alive, "how": how} for h in hosts]

    def restart_daemon(self, index: int) -> DaemonRecord:
        """Starts recorded daemon `index` again on the same host, root directory, address
        and port (it appends its hosts line again; readers keep one entry per uri), and
        waits until it answers. It must be down (killed, crashed or stopped with
        stop(only=[index]))."""
        state = self._require_state()
        launcher = self._recorded_launcher(state)
        launch = self._launch(state)
        record = next((r for r in launch.daemons if r.index == index), None)
        if record is None:
            raise ClusterError(f"no daemon {index} in {self.state_file}")
        if launcher.running(Launch(daemons=[record])):
            raise ClusterError(f"daemon {index} (pid {record.pid} on {record.host}) is still "
                               f"running; stop it first: gkfs-ctl stop --hosts-file "
                               f"{self.hosts_file} --daemon {index}")
        self._refuse_unlisted(record)
        plan = LaunchPlan.from_state(state["plan"])
        new = launcher.restart(record, plan)
        launch.daemons = [new if r.index == index else r for r in launch.daemons]
        self._rewrite_state(state, launch)
        self._wait_until_answers(new)
        self._say(f"daemon {new.index} pid {new.pid} on {new.host}: {new.uri} restarted "
                  f"(log {new.log})")
        return new

    def _refuse_unlisted(self, record: DaemonRecord) -> None:
        """A daemon restarted on an address the hosts file lacks would join as one daemon
        more and move the placement of every file: refuse (a state file gone stale)."""
        try:
            listed = [uri for _, uri in read_hosts_file(self.hosts_file)]
        except OSError:
            return  # nothing listed to contradict; the restarted daemon lists itself
        if record.uri and record.uri not in listed:
            raise ClusterError(
                f"daemon {record.index}'s recorded address {record.uri} is not in "
                f"{self.hosts_file} ({', '.join(listed) or 'empty'}): restarting it there "
                f"would add a daemon to the file system; {self.state_file} is stale")

    def _wait_until_answers(self, record: DaemonRecord) -> None:
        deadline = time.monotonic() + self.config.start_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                client = self._connect(self.config.timeout_ms)
            except OSError as e:
                last = str(e)
            else:
                try:
                    info = [d for d in client.daemons() if d.uri == record.uri]
                finally:
                    client.close()
                if info and info[0].up:
                    return
                last = info[0].error if info else f"{record.uri} not in {self.hosts_file}"
            time.sleep(POLL_S)
        raise ClusterError(self._failure(record, f"did not answer after restart ({last})"))

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

    def statistics(self) -> dict[str, Any]:
        """One metrics sample of every daemon (the report of gkfs.metrics: what each
        daemon's /metrics serves), in forwarding mode also per I/O node and per application
        (gkfs.forwarding.stats). Raises ClusterError if the file system cannot be reached."""
        from gkfs import metrics

        try:
            client = self._connect(self.config.timeout_ms)
        except OSError as e:
            raise ClusterError(f"cannot reach the file system: {e}") from None
        try:
            return metrics.collect(client, self.hosts_file)
        finally:
            client.close()

    def recorded_indices(self) -> dict[str, int]:
        """{uri: daemon index} of the recorded daemons whose uri is known."""
        try:
            state = self.read_state() or {}
        except ClusterError:
            return {}
        return {d["uri"]: d["index"] for d in state.get("daemons", []) if d.get("uri")}

    def _secret_file(self) -> str:
        """The secret this file system's daemons require ('' = the client's default,
        <hosts_file>.secret if it exists)."""
        state = self.read_state() or {}
        return state.get("secret_file", "") or self.config.daemon.secret_file

    def client(self) -> Any:
        """A gkfs.Client of this file system for this process (the UCX defaults applied
        as for every connection of the Cluster); raises OSError as Client does."""
        from gkfs.client import Client

        self._apply_ucx_defaults()
        return Client(self.hosts_file, self.config.timeout_ms, secret_file=self._secret_file())

    def _connect(self, timeout_ms: int) -> Any:
        """A gkfs._core.Client for this process, with the UCX defaults of a loopback file
        system applied to this process's environment first (UCX reads it once)."""
        from gkfs import _core

        self._apply_ucx_defaults()
        return _core.Client(self.hosts_file, timeout_ms, self._secret_file())

    def _apply_ucx_defaults(self) -> None:
        protocol = (self.read_state() or {}).get("rpc_protocol", self.config.daemon.rpc_protocol)
        try:
            addresses = [_uri_address(uri) or "" for _, uri in read_hosts_file(self.hosts_file)]
        except OSError:
            addresses = []
        for key, value in ucx_defaults(addresses, protocol).items():
            os.environ.setdefault(key, value)

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
            "LIBGKFS_TIMEOUT_MS": str(self.config.timeout_ms),
            "LIBGKFS_DOWN_RECHECK_MS": str(self.config.down_recheck_ms),
            "LIBGKFS_RECHECK_TIMEOUT_MS": str(self.config.recheck_timeout_ms),
        }
        secret = self._secret_file()
        if secret:
            env["LIBGKFS_SECRET_FILE"] = secret
        current = dict(os.environ)
        for key, value in ucx_defaults(addresses, protocol, current).items():
            if current.get(key) != value:
                env[key] = value
        return env
