"""The I/O-node half of forwarding mode inside ``gkfs-daemon --enable-forwarding``: the
request scheduler the C++ I/O queue asks, built from the ``--sched-config`` file."""

from __future__ import annotations

from typing import Any

from gkfs.settings import SettingsError

__all__ = ["scheduler_for"]

_WHERE = "--sched-config (GKFS_SCHED_CONFIG)"


def scheduler_for(sched_config: str) -> Any:
    """A gkfs._core.IoScheduler that hands every batch decision to a SchedulerHost over the
    configuration in `sched_config` (agios.conf keys; '' = every key's default) and merges at
    most its max_aggregation requests into one PFS operation. The environment plays no part:
    the settings model already resolved GKFS_SCHED_CONFIG.

    Raises SettingsError: a bad file ('file:line: key: problem'), an unknown scheduler, or a
    plug-in scheduler whose init() failed."""
    from gkfs import _core
    from gkfs.forwarding.scheduling import (ConfigError, SchedulerConfig, SchedulerHost,
                                            load_config)

    try:
        config = load_config(sched_config, environ={}) if sched_config else SchedulerConfig()
    except ConfigError as e:
        raise SettingsError(f"{_WHERE}: {e}") from None
    try:
        host = SchedulerHost(config)
    except LookupError as e:
        raise SettingsError(f"{_WHERE} {sched_config or '(defaults)'}: {e}") from None
    except Exception as e:  # a plug-in's init() may raise anything: fail at start, say why
        raise SettingsError(f"{_WHERE} {sched_config or '(defaults)'}: scheduler "
                            f"{config.default_algorithm!r} failed to start: {e}") from None
    return _core.python_scheduler(host, host.config.max_aggregation)
