"""The mpirun launcher: N daemons on every host of a host list, as one MPI job.

The daemons do not use MPI; mpirun is only the process starter clusters already trust.
Open MPI (``--host h1:N,... --map-by ppr:N:node --bind-to none``) and MPICH/Hydra
(``-hosts h1,... -ppn N``) are recognised from ``mpirun --version``. Stop sends SIGTERM to
mpirun, which forwards it to every daemon.
"""

from __future__ import annotations

import subprocess
from typing import Any, Optional, Sequence

from gkfs.launchers.base import ClusterError, LaunchPlan
from gkfs.launchers.job import JobLauncher

__all__ = ["MpirunLauncher", "mpi_flavour"]


def mpi_flavour(mpirun: str = "mpirun") -> str:
    """'openmpi' or 'hydra' (MPICH, Intel MPI), from `mpirun --version`."""
    try:
        result = subprocess.run([mpirun, "--version"], capture_output=True, text=True,
                                timeout=60)
    except FileNotFoundError:
        raise ClusterError(f"{mpirun} not found: the mpirun launcher needs it on PATH") from None
    text = result.stdout + result.stderr
    if "Open MPI" in text or "OpenRTE" in text:
        return "openmpi"
    if "HYDRA" in text or "Intel(R) MPI" in text:
        return "hydra"
    raise ClusterError(f"{mpirun} --version names neither Open MPI nor MPICH/Hydra:\n"
                       f"{text.strip()[:500]}")


class MpirunLauncher(JobLauncher):
    name = "mpirun"

    def __init__(self, hosts: Sequence[str], launcher_args: Any = (),
                 agent: Optional[list[str]] = None) -> None:
        super().__init__(launcher_args, agent)
        self.hosts = list(hosts)

    def to_state(self) -> dict[str, Any]:
        return {"hosts": self.hosts, "launcher_args": self.launcher_args, "agent": self.agent}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> "MpirunLauncher":
        return cls(data.get("hosts", []), data.get("launcher_args", []), data.get("agent"))

    def host_count(self) -> int:
        return len(self.hosts)

    def command(self, plan: LaunchPlan, task: list[str]) -> list[str]:
        return self._mpirun(plan.per_host, task)

    def per_host_command(self, argv: list[str]) -> list[str]:
        """One task per host of the host list (the daemon hosts reached as mpirun reaches
        them: their names need not differ, as on virtual hosts)."""
        return self._mpirun(1, argv)

    def _mpirun(self, n: int, task: list[str]) -> list[str]:
        total = len(self.hosts) * n
        if mpi_flavour() == "openmpi":
            return ["mpirun", "-np", str(total), "--host", ",".join(f"{h}:{n}" for h in self.hosts),
                    "--map-by", f"ppr:{n}:node", "--bind-to", "none", *self.launcher_args, *task]
        return ["mpirun", "-n", str(total), "-ppn", str(n), "-hosts", ",".join(self.hosts),
                *self.launcher_args, *task]
