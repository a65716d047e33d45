"""The srun launcher: N daemons on every node of a Slurm allocation, as one job step.

Runs inside salloc/sbatch. Nodes: --nodelist (a Slurm host list) or the whole allocation
(SLURM_JOB_NODELIST). The step is started with ``--overlap`` so the application's own job
steps can use the same CPUs and memory while the daemons run, and ``--kill-on-bad-exit=1``
so a daemon that fails to start ends the step at once. Stop sends SIGTERM to the step's
tasks (``scancel --signal=TERM JOB.STEP``), then ends the step (``scancel JOB.STEP``); it
works from any node of the allocation (Slurm is asked whether the step still runs).
"""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Any, Optional, Sequence

from gkfs.launchers.base import ClusterError, JobRecord, LaunchPlan
from gkfs.launchers.job import JobLauncher

__all__ = ["SrunLauncher", "expand_nodelist"]


def expand_nodelist(nodelist: str) -> list[str]:
    """Host names of a Slurm host list ('node[01-03],gpu7'), via `scontrol show hostnames`."""
    try:
        result = subprocess.run(["scontrol", "show", "hostnames", nodelist],
                                capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise ClusterError("scontrol not found: the srun launcher needs Slurm's commands on "
                           "PATH") from None
    if result.returncode != 0:
        raise ClusterError(f"scontrol show hostnames {nodelist!r} failed: "
                           f"{result.stderr.strip()}")
    return result.stdout.split()


class SrunLauncher(JobLauncher):
    name = "srun"

    def __init__(self, nodelist: str = "", launcher_args: Any = (),
                 agent: Optional[list[str]] = None) -> None:
        super().__init__(launcher_args, agent)
        self.nodelist = nodelist
        self._nodes: Optional[list[str]] = None

    def to_state(self) -> dict[str, Any]:
        return {"nodes": self.nodes(), "launcher_args": self.launcher_args, "agent": self.agent}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> "SrunLauncher":
        launcher = cls(",".join(data.get("nodes", [])), data.get("launcher_args", []),
                       data.get("agent"))
        launcher._nodes = list(data.get("nodes", []))
        return launcher

    def nodes(self) -> list[str]:
        if self._nodes is None:
            if "SLURM_JOB_ID" not in os.environ:
                raise ClusterError("the srun launcher runs inside a Slurm allocation (salloc or "
                                   "sbatch): SLURM_JOB_ID is not set")
            nodelist = self.nodelist or os.environ.get("SLURM_JOB_NODELIST", "")
            if not nodelist:
                raise ClusterError("no nodes: pass --nodelist or run inside an allocation "
                                   "(SLURM_JOB_NODELIST)")
            self._nodes = expand_nodelist(nodelist)
        return self._nodes

    def host_count(self) -> int:
        return len(self.nodes())

    def command(self, plan: LaunchPlan, task: list[str]) -> list[str]:
        return self._srun(plan.per_host, "gkfs-daemons", task)

    def serve_command(self, argv: list[str]) -> list[str]:
        """A job step 'gkfs-fuse' with one task per node, beside the daemons' step."""
        return self._srun(1, "gkfs-fuse", argv)

    def per_host_command(self, argv: list[str]) -> list[str]:
        """A short job step with one task per node (gkfs-ctl umount at stop)."""
        return self._srun(1, "gkfs-ctl", argv)

    def stage_command(self, per_node: int, task: list[str]) -> list[str]:
        """A job step 'gkfs-stage' of per_node tasks per node (gkfs-ctl stage-in/out): they
        wait on I/O, so they may outnumber the CPUs (--overcommit), and a task that fails
        leaves the others their share (no --kill-on-bad-exit)."""
        return self._srun(per_node, "gkfs-stage", task, step_options=("--overcommit",))

    def _srun(self, per_node: int, job_name: str, task: list[str],
              step_options: Sequence[str] = ("--kill-on-bad-exit=1",)) -> list[str]:
        nodes = self.nodes()
        return ["srun", f"--nodes={len(nodes)}", f"--ntasks={len(nodes) * per_node}",
                f"--ntasks-per-node={per_node}", f"--nodelist={','.join(nodes)}",
                "--overlap", *step_options, f"--job-name={job_name}",
                *self.launcher_args, *task]

    def job_alive(self, job: JobRecord) -> bool:
        """The srun process on the host that started it; elsewhere (gkfs-ctl stop from
        another node of the allocation) Slurm's view of the step."""
        if job.host == socket.gethostname() or not job.step:
            return super().job_alive(job)
        try:
            result = subprocess.run(["squeue", "-h", f"--steps={job.step}", "-o", "%i"],
                                    capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            raise ClusterError("squeue not found: the srun launcher needs Slurm's commands on "
                               "PATH") from None
        return result.returncode == 0 and job.step in result.stdout.split()

    def _scancel(self, job: JobRecord, *args: str) -> bool:
        try:
            result = subprocess.run(["scancel", *args, job.step], capture_output=True,
                                    text=True, timeout=60)
        except FileNotFoundError:
            return False
        return result.returncode == 0

    def terminate(self, job: JobRecord) -> bool:
        if not self.job_alive(job):
            return False
        if job.step and self._scancel(job, "--signal=TERM"):
            return True
        return super().terminate(job)  # srun ends the step on SIGTERM (SIGKILL to tasks)

    def kill(self, job: JobRecord) -> None:
        if job.step:
            self._scancel(job)
        super().kill(job)
