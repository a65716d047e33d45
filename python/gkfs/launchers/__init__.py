"""Launchers: how ``gkfs-ctl start`` runs daemons (local, ssh, srun, mpirun).

``base.py`` holds the records, the per-daemon layout and safe process signalling;
``agent.py`` is the small program launchers run on a daemon's host; ``local.py``,
``ssh.py``, ``srun.py`` and ``mpirun.py`` (over ``job.py``) are the launchers.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from gkfs.launchers.base import ClusterError, Launcher, read_host_list
from gkfs.launchers.local import LocalLauncher
from gkfs.launchers.mpirun import MpirunLauncher
from gkfs.launchers.srun import SrunLauncher
from gkfs.launchers.ssh import SshLauncher
from gkfs.settings import ClusterSettings

__all__ = ["ClusterError", "Launcher", "launcher_for", "launcher_from_state"]


def _host_list(config: ClusterSettings) -> list[str]:
    if not config.host_list:
        raise ClusterError(f"the {config.launcher} launcher needs a host list: pass "
                           f"--host-list FILE (GKFS_HOST_LIST)")
    return read_host_list(os.path.abspath(config.host_list))


def _launcher_args(config: ClusterSettings) -> list[str]:
    try:
        return shlex.split(config.launcher_args)
    except ValueError as e:
        raise ClusterError(f"--launcher-args {config.launcher_args!r}: {e}") from None


def launcher_for(config: ClusterSettings) -> Launcher:
    """The launcher config asks for. Raises ClusterError if its inputs are missing."""
    if config.launcher == "ssh":
        return SshLauncher(_host_list(config), _launcher_args(config))
    if config.launcher == "mpirun":
        return MpirunLauncher(_host_list(config), _launcher_args(config))
    if config.launcher == "srun":
        return SrunLauncher(config.nodelist, _launcher_args(config))
    return LocalLauncher()


def launcher_from_state(name: str, data: dict[str, Any]) -> Launcher:
    """The launcher that started a recorded file system (for stop, status, restart)."""
    if name == "local":
        return LocalLauncher()
    classes = {"ssh": SshLauncher, "srun": SrunLauncher, "mpirun": MpirunLauncher}
    if name not in classes:
        raise ClusterError(f"unknown launcher {name!r} in the state file")
    return classes[name].from_state(data)
