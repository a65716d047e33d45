"""What the srun and mpirun launchers share: one parallel job owns every daemon.

gkfs-ctl start runs the launcher command (srun or mpirun) in the background, in its own
session, with its output appended to <rootdir>/<launcher>.log (each run's section opens with
base.RUN_MARKER). Each task is the launch agent (``agent exec``): it reports ``gkfs-agent: daemon I host H pid P ...`` on its stdout, which
the launcher copies into that log, and becomes daemon I. The daemons stop together, by
signalling the job (the launcher forwards the signal); single-daemon stop and restart are
not available.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from typing import Any, Optional

from gkfs import settings as _settings
from gkfs.launchers.base import (KILL_WAIT_S, ClusterError, DaemonRecord, JobRecord, Launch,
                                 Launcher, LaunchPlan, agent_command, begin_log_run,
                                 current_run, daemon_layout, log_tail, logged_uri,
                                 proc_start_time, process_alive, signal_process, wait_gone)

__all__ = ["JobLauncher"]

_AGENT_LINE = re.compile(r"^gkfs-agent: daemon (\d+) host (\S+) pid (\d+) start (\d+) "
                         r"log (\S+)(?: step (\S+))?\s*$", re.MULTILINE)
_REPORT_WAIT_S = 10.0  # for the launcher to copy the agents' lines into its log


class JobLauncher(Launcher):
    """Base of SrunLauncher and MpirunLauncher."""

    name = "job"

    def __init__(self, launcher_args: Any = (), agent: Optional[list[str]] = None) -> None:
        self.launcher_args = list(launcher_args)
        self.agent = list(agent or agent_command())
        self._child: Optional[subprocess.Popen] = None

    # Subclasses: the command line, the number of hosts, how to signal the job.

    def command(self, plan: LaunchPlan, task: list[str]) -> list[str]:
        raise NotImplementedError

    def host_count(self) -> int:
        raise NotImplementedError

    def terminate(self, job: JobRecord) -> bool:
        """Asks every daemon to stop (SIGTERM); False if the job is gone already."""
        return self._signal(job, signal.SIGTERM)

    def kill(self, job: JobRecord) -> None:
        self._signal(job, signal.SIGKILL)

    # Shared behaviour.

    def task(self, plan: LaunchPlan) -> list[str]:
        task = self.agent + ["exec"]
        for key, value in sorted(plan.env.items()):
            task += ["--env", f"{key}={value}"]
        return task + ["--"] + _settings.to_daemon_argv(plan.base)

    def spawn(self, plan: LaunchPlan, launch: Launch) -> None:
        argv = self.command(plan, self.task(plan))
        log = os.path.join(plan.base.rootdir, f"{self.name}.log")
        self._child, launch.job = self.start_job(argv, log)
        for i in range(self.host_count() * plan.per_host):
            settings, daemon_log = daemon_layout(plan.base, i, i % plan.per_host)
            launch.daemons.append(DaemonRecord(index=i, pid=0, start_time=0, host="",
                                               rootdir=settings.rootdir, log=daemon_log))

    def start_job(self, argv: list[str], log: str) -> tuple[subprocess.Popen, JobRecord]:
        """Runs the launcher command argv in the background, in its own session, its output
        appended to log (a new run's section)."""
        os.makedirs(os.path.dirname(log), exist_ok=True)
        with open(log, "ab") as out:
            begin_log_run(out.fileno())
            out.write(f"gkfs-ctl: {' '.join(argv)}\n".encode())
            out.flush()
            try:
                child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         close_fds=True)
            except FileNotFoundError:
                raise ClusterError(f"{argv[0]} not found: the {self.name} launcher needs it "
                                   f"on PATH") from None
        return child, JobRecord(pid=child.pid, start_time=proc_start_time(child.pid) or 0,
                                host=socket.gethostname(), log=log)

    def job_alive(self, job: JobRecord) -> bool:
        if self._child is not None and self._child.pid == job.pid:
            return self._child.poll() is None
        if job.host != socket.gethostname():
            raise ClusterError(f"the {self.name} job (pid {job.pid}) runs on {job.host}: run "
                               f"gkfs-ctl there")
        return process_alive(job.pid, job.start_time)

    def _signal(self, job: JobRecord, signum: int) -> bool:
        """Signals the launcher process; only ever on the host that recorded it."""
        if job.host != socket.gethostname():
            return False
        return self.job_alive(job) and signal_process(job.pid, job.start_time, signum)

    def startup_failure(self, launch: Launch) -> Optional[str]:
        job = launch.job
        if job is None or self.job_alive(job):
            return None
        status = self._child.returncode if self._child is not None else "?"
        first = launch.daemons[0].log if launch.daemons else ""
        daemon_tail = f"\nLast lines of {first}:\n{log_tail(first)}" \
            if first and os.path.exists(first) else ""
        return (f"{self.name} (pid {job.pid}) exited during start-up (status {status}). Last "
                f"lines of {job.log}:\n{log_tail(job.log)}{daemon_tail}")

    def complete(self, launch: Launch) -> None:
        """Reads the agents' reports from the job log into the daemon records."""
        if launch.job is None:
            return
        deadline = time.monotonic() + _REPORT_WAIT_S
        while True:
            try:
                with open(launch.job.log, encoding="utf-8", errors="replace") as f:
                    reports = _AGENT_LINE.findall(current_run(f.read()))
            except OSError:
                reports = []
            by_index = {int(r[0]): r for r in reports}
            if len(by_index) >= len(launch.daemons) or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        for record in launch.daemons:
            report = by_index.get(record.index)
            if report is None:
                continue
            _, record.host, pid, start, record.log, step = report
            record.pid, record.start_time = int(pid), int(start)
            record.uri = record.uri or logged_uri(record.log)  # if its host's disk is ours
            launch.job.step = launch.job.step or step

    def describe(self, launch: Launch) -> str:
        job = launch.job
        step = f", job step {job.step}" if job and job.step else ""
        return f"{self.name} pid {job.pid if job else '?'} on {job.host if job else '?'}{step}"

    def running(self, launch: Launch) -> list[str]:
        if launch.job is None or not self.job_alive(launch.job):
            return []
        return [self.describe(launch)]

    def stop(self, launch: Launch, grace: float,
             only: Optional[set[int]] = None) -> tuple[list[str], bool]:
        if only is not None:
            raise ClusterError(f"the {self.name} launcher runs all daemons as one job: it "
                               f"stops them together (omit --daemon)")
        job = launch.job
        count = len(launch.daemons)
        what = f"{self.describe(launch)} ({count} daemon{'s' if count != 1 else ''})"
        if job is None or not self.terminate(job):
            return [f"{what}: was not running"], True
        outcome = "stopped (SIGTERM)"
        if wait_gone(self.job_alive, [job], grace):
            self.kill(job)
            outcome = f"killed (SIGKILL after {grace:g}s grace)"
            if wait_gone(self.job_alive, [job], KILL_WAIT_S):
                return [f"{what}: STILL RUNNING after SIGKILL"], False
        return [f"{what}: {outcome}"], True
