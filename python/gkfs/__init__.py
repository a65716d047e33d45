"""gkfs: a user-level distributed burst-buffer file system for HPC jobs (GekkoFS family).

* :class:`Client` uses a running file system from Python (no preload library needed).
* :class:`Cluster` starts, checks and stops the daemons (what ``gkfs-ctl`` runs).
* :mod:`gkfs.settings` is the one model of every option, flag and environment variable.
"""

import importlib

# The one version source: pyproject.toml and CMakeLists.txt read this line.
__version__ = "0.1.0"

__all__ = [
    "Client",
    "ClientEnvironment",
    "Cluster",
    "ClusterError",
    "ClusterSettings",
    "DaemonSettings",
    "SettingsError",
    "__version__",
]

# Attributes load their module on first use: Client and Cluster need the compiled
# extension, and `python -m gkfs.settings` must run before anything imported it.
_LAZY = {
    "Client": "gkfs.client",
    "Cluster": "gkfs.cluster",
    "ClusterError": "gkfs.cluster",
    "ClientEnvironment": "gkfs.settings",
    "ClusterSettings": "gkfs.settings",
    "DaemonSettings": "gkfs.settings",
    "SettingsError": "gkfs.settings",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gkfs' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
