"""The local launcher: N daemons as processes on this host (tests, one-node jobs)."""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Optional

from gkfs import settings as _settings
from gkfs.launchers.base import (DaemonRecord, Launch, Launcher, LaunchPlan, all_stopped,
                                 begin_log_run, daemon_command, daemon_environment, daemon_layout,
                                 log_tail, logged_uri, proc_start_time, process_alive,
                                 restart_settings, signal_process, stop_processes)
from gkfs.settings import DaemonSettings

__all__ = ["LocalLauncher"]


class LocalLauncher(Launcher):
    """Runs each daemon in its own session with its output appended to <rootdir>/d<i>.log
    (each run's section opens with base.RUN_MARKER). Only
    processes recorded with a matching start time are ever signalled."""

    name = "local"

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen] = {}  # reaped here while we are the parent

    def spawn(self, plan: LaunchPlan, launch: Launch) -> None:
        env = daemon_environment(plan.env)
        for i in range(plan.per_host):
            settings, log = daemon_layout(plan.base, i, i)
            launch.daemons.append(self._spawn_one(i, settings, log, env))

    def _spawn_one(self, index: int, settings: DaemonSettings, log: str,
                   env: dict[str, str]) -> DaemonRecord:
        os.makedirs(os.path.dirname(log), exist_ok=True)
        argv = daemon_command() + _settings.to_daemon_argv(settings)
        with open(log, "ab") as out:
            begin_log_run(out.fileno())
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True, close_fds=True)
        self._children[child.pid] = child
        return DaemonRecord(index=index, pid=child.pid,
                            start_time=proc_start_time(child.pid) or 0,
                            host=socket.gethostname(), rootdir=settings.rootdir, log=log)

    def alive(self, record: DaemonRecord) -> bool:
        child = self._children.get(record.pid)
        if child is not None and child.poll() is not None:
            return False
        return process_alive(record.pid, record.start_time)

    def _send(self, record: DaemonRecord, signum: int) -> bool:
        return self.alive(record) and signal_process(record.pid, record.start_time, signum)

    def startup_failure(self, launch: Launch) -> Optional[str]:
        for r in launch.daemons:
            if not self.alive(r):
                return (f"daemon {r.index} (pid {r.pid}) exited during start-up. Last lines "
                        f"of {r.log}:\n{log_tail(r.log)}")
        return None

    def complete(self, launch: Launch) -> None:
        for r in launch.daemons:
            r.uri = r.uri or logged_uri(r.log)

    def running(self, launch: Launch) -> list[str]:
        return [f"pid {r.pid}" for r in launch.daemons if self.alive(r)]

    def stop(self, launch: Launch, grace: float,
             only: Optional[set[int]] = None) -> tuple[list[str], bool]:
        records = [r for r in launch.daemons if only is None or r.index in only]
        outcomes = stop_processes(records, grace, self.alive, self._send)
        lines = [f"daemon {r.index} pid {r.pid} on {r.host}: {text}"
                 for r, text in zip(records, outcomes)]
        return lines, all_stopped(outcomes)

    def restart(self, record: DaemonRecord, plan: LaunchPlan) -> DaemonRecord:
        settings, log = restart_settings(plan, record, record.index)
        new = self._spawn_one(record.index, settings, log, daemon_environment(plan.env))
        new.uri = record.uri
        return new

