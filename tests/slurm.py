"""A real, private Slurm on this machine for the srun launcher's tests (root only).

:class:`LocalSlurm` starts munged (its own key and socket), slurmctld and slurmd from
Debian's slurm-wlm with a slurm.conf in a fresh directory under /tmp: one node, this host
with the CPUs and memory ``slurmd -C`` reports, ``proctrack/linuxproc``, ``task/none``,
``select/cons_tres``, state and spool directories in the same directory, ports chosen free.
Every Slurm command the tests run gets ``SLURM_CONF`` pointing at it (:meth:`env`), so the
machine's own Slurm configuration, if any, plays no part.

:meth:`close` always runs (fixture finalizer): it cancels the jobs of this cluster, waits
for them to end, stops slurmd, slurmctld and munged (the processes it started, by PID) and
removes the directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

_DAEMONS = ("munged", "slurmctld", "slurmd")
_CMD_TIMEOUT_S = 60


def can_run_slurm() -> Optional[str]:
    """None if this process can run a private Slurm, else why not."""
    if os.geteuid() != 0:
        return "a private Slurm (slurmd) needs root"
    missing = [d for d in _DAEMONS if shutil.which(d) is None and not
               os.path.exists(f"/usr/sbin/{d}")]
    if missing:
        return f"{', '.join(missing)} not installed (scripts/setup.sh installs slurm-wlm, munge)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _which(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


class LocalSlurm:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gkfs-slurm-", dir="/tmp"))
        self.dir.chmod(0o711)  # munged wants its socket's directory searchable by all
        self.conf = self.dir / "slurm.conf"
        self._procs: list[tuple[str, subprocess.Popen]] = []
        try:
            self._start_munge()
            self._write_conf()
            self._spawn("slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(self.conf)])
            self._spawn("slurmd", [_which("slurmd"), "-D", "-f", str(self.conf),
                                   "-N", self.node])
            self._wait_idle()
        except BaseException:
            self.close()
            raise

    def env(self, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        env["SLURM_CONF"] = str(self.conf)
        env.update(extra or {})
        return env

    def run(self, argv: Sequence[str], timeout: float = _CMD_TIMEOUT_S,
            **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("env", self.env())
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              **kwargs)

    # --- start -------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.dir / f"{name}.out", "wb")
        self._procs.append((name, subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                                   stderr=subprocess.STDOUT, env=self.env())))
        log.close()

    def _start_munge(self) -> None:
        key = self.dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        self.munge_socket = self.dir / "munge.socket"
        self._spawn("munged", [_which("munged"), "--foreground", "--force",
                               f"--key-file={key}", f"--socket={self.munge_socket}",
                               f"--pid-file={self.dir / 'munged.pid'}",
                               f"--seed-file={self.dir / 'munged.seed'}",
                               f"--log-file={self.dir / 'munged.log'}"])
        self._wait_for(lambda: self.munge_socket.exists(), "munged's socket")

    def _write_conf(self) -> None:
        node_line = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True,
                                   timeout=_CMD_TIMEOUT_S, check=True).stdout.splitlines()[0]
        self.node = node_line.split()[0].split("=", 1)[1]
        for sub in ("state", "spool"):
            (self.dir / sub).mkdir()
        d = self.dir
        self.conf.write_text(f"""\
ClusterName=gkfs{os.getpid()}
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
KillWait=5
PlugStackConfig=/dev/null
{node_line} NodeAddr=127.0.0.1
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")

    def _wait_for(self, ready, what: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if ready():
                return
            for name, proc in self._procs:
                if proc.poll() is not None:
                    out = (self.dir / f"{name}.out").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{name} exited ({proc.returncode}) while waiting for "
                                       f"{what}:\n{out}")
            time.sleep(0.1)
        raise RuntimeError(f"no {what} after {seconds}s (logs in {self.dir})")

    def _wait_idle(self) -> None:
        def idle() -> bool:
            result = self.run(["sinfo", "-h", "-N", "-o", "%T"])
            return result.returncode == 0 and result.stdout.strip() == "idle"
        self._wait_for(idle, f"node {self.node} idle")

    # --- stop --------------------------------------------------------------------------------

    def jobs(self) -> list[str]:
        result = self.run(["squeue", "-h", "-o", "%i"])
        return result.stdout.split() if result.returncode == 0 else []

    def close(self) -> None:
        if any(name == "slurmctld" and p.poll() is None for name, p in self._procs):
            for job in self.jobs():
                self.run(["scancel", job])
            deadline = time.monotonic() + 30
            while self.jobs() and time.monotonic() < deadline:
                time.sleep(0.2)
        for _, proc in reversed(self._procs):  # slurmd, slurmctld, munged
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)
