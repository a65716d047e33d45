"""The ssh launcher: N daemons on every host of a host list, started over ssh.

Every remote action is one ``ssh HOST python -m gkfs.launchers.agent ...`` (see agent.py),
run for all hosts at once: start-up costs one ssh round per daemon, stop one per host.
ssh runs with BatchMode=yes (never a password prompt) plus the --launcher-args.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any, Optional, Sequence

from gkfs import settings as _settings
from gkfs.launchers.base import (ClusterError, DaemonRecord, Launch, Launcher, LaunchPlan,
                                 agent_command, all_stopped, daemon_layout, quote,
                                 restart_settings)
from gkfs.settings import DaemonSettings

__all__ = ["SshLauncher"]

_SSH_SLACK_S = 30.0  # on top of the daemon's start timeout: ssh connection set-up


class SshLauncher(Launcher):
    name = "ssh"

    def __init__(self, hosts: Sequence[str], ssh_args: Sequence[str] = (),
                 agent: Optional[Sequence[str]] = None) -> None:
        self.hosts = list(hosts)
        self.ssh_args = list(ssh_args)
        self.agent = list(agent or agent_command())

    def to_state(self) -> dict[str, Any]:
        return {"hosts": self.hosts, "ssh_args": self.ssh_args, "agent": self.agent}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> "SshLauncher":
        return cls(data.get("hosts", []), data.get("ssh_args", []), data.get("agent"))

    def _ssh(self, target: str, agent_args: Sequence[str]) -> list[str]:
        # ssh hands the remote side one command line for its shell: quote every word.
        return ["ssh", "-o", "BatchMode=yes", *self.ssh_args, target,
                quote(self.agent + list(agent_args))]

    def _run_all(self, commands: list[list[str]], timeout: float) -> list[tuple[int, str, str]]:
        """Runs the commands concurrently; (status, stdout, stderr) of each."""
        procs = [subprocess.Popen(c, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for c in commands]
        results = []
        for proc in procs:
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                err += f"\n(ssh did not finish within {timeout:g}s)"
            results.append((proc.returncode, out, err))
        return results

    @staticmethod
    def _last_json(out: str) -> Optional[Any]:
        for line in reversed(out.splitlines()):
            if line.startswith("{") or line.startswith("["):
                try:
                    return json.loads(line)
                except ValueError:
                    return None
        return None

    # --- start -------------------------------------------------------------------------------

    def _spawn_args(self, settings: DaemonSettings, log: str, plan: LaunchPlan) -> list[str]:
        args = ["spawn", "--log", log, "--timeout", f"{plan.start_timeout:g}"]
        for key, value in sorted(plan.env.items()):
            args += ["--env", f"{key}={value}"]
        return args + ["--"] + _settings.to_daemon_argv(settings)

    def spawn(self, plan: LaunchPlan, launch: Launch) -> None:
        wanted = []  # (index, target, settings, log)
        for h, target in enumerate(self.hosts):
            for k in range(plan.per_host):
                index = h * plan.per_host + k
                settings, log = daemon_layout(plan.base, index, k)
                wanted.append((index, target, settings, log))
        commands = [self._ssh(target, self._spawn_args(settings, log, plan))
                    for _, target, settings, log in wanted]
        results = self._run_all(commands, plan.start_timeout + _SSH_SLACK_S)
        failures = []
        for (index, target, settings, log), (status, out, err) in zip(wanted, results):
            reply = self._last_json(out)
            if status == 0 and isinstance(reply, dict) and reply.get("ok"):
                launch.daemons.append(self._record(index, target, settings, reply))
            elif isinstance(reply, dict) and "error" in reply:
                failures.append(f"daemon {index} on {target}: {reply['error']}")
            else:
                failures.append(f"daemon {index} on {target}: ssh failed (status {status}): "
                                f"{(err or out).strip()[-2000:]}")
        if failures:
            raise ClusterError("\n".join(failures))

    @staticmethod
    def _record(index: int, target: str, settings: DaemonSettings,
                reply: dict[str, Any]) -> DaemonRecord:
        return DaemonRecord(index=index, pid=reply["pid"], start_time=reply["start_time"],
                            host=reply["host"], rootdir=settings.rootdir, log=reply["log"],
                            uri=reply.get("uri", ""), target=target)

    # --- inspect and stop --------------------------------------------------------------------

    def _by_target(self, records: list[DaemonRecord]) -> dict[str, list[DaemonRecord]]:
        groups: dict[str, list[DaemonRecord]] = {}
        for r in records:
            groups.setdefault(r.target, []).append(r)
        return groups

    @staticmethod
    def _proc_args(records: list[DaemonRecord]) -> list[str]:
        return [f"{r.pid}:{r.start_time}" for r in records]

    def running(self, launch: Launch) -> list[str]:
        groups = self._by_target([r for r in launch.daemons if r.pid])
        commands = [self._ssh(t, ["alive", *self._proc_args(rs)]) for t, rs in groups.items()]
        running = []
        for (target, records), (status, out, err) in zip(groups.items(),
                                                         self._run_all(commands, 60.0)):
            alive = self._last_json(out)
            if status != 0 or not isinstance(alive, list):
                running += [f"pid {r.pid} on {target} (unknown: ssh failed)" for r in records]
                continue
            running += [f"pid {r.pid} on {target}" for r, up in zip(records, alive) if up]
        return running

    def stop(self, launch: Launch, grace: float,
             only: Optional[set[int]] = None) -> tuple[list[str], bool]:
        records = [r for r in launch.daemons if r.pid and (only is None or r.index in only)]
        groups = self._by_target(records)
        commands = [self._ssh(t, ["stop", "--grace", f"{grace:g}", *self._proc_args(rs)])
                    for t, rs in groups.items()]
        outcome: dict[int, str] = {}
        for records_of_host, (status, out, err) in zip(groups.values(),
                                                       self._run_all(commands, grace + 60.0)):
            texts = self._last_json(out)
            if status != 0 or not isinstance(texts, list):
                texts = [f"STILL RUNNING? ssh failed (status {status}): {err.strip()[-300:]}"] \
                    * len(records_of_host)
            for r, text in zip(records_of_host, texts):
                outcome[r.index] = text
        lines = [f"daemon {r.index} pid {r.pid} on {r.host} ({r.target}): {outcome[r.index]}"
                 for r in records]
        return lines, all_stopped(list(outcome.values()))

    def restart(self, record: DaemonRecord, plan: LaunchPlan) -> DaemonRecord:
        local_index = record.index % plan.per_host
        settings, log = restart_settings(plan, record, local_index)
        (status, out, err), = self._run_all(
            [self._ssh(record.target, self._spawn_args(settings, log, plan))],
            plan.start_timeout + _SSH_SLACK_S)
        reply = self._last_json(out)
        if status != 0 or not isinstance(reply, dict) or not reply.get("ok"):
            detail = reply.get("error") if isinstance(reply, dict) else (err or out).strip()
            raise ClusterError(f"daemon {record.index} on {record.target}: {detail}")
        return self._record(record.index, record.target, settings, reply)
