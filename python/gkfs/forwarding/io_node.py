"""The I/O-node half of forwarding mode inside ``gkfs-daemon --enable-forwarding``: the
request scheduler the C++ I/O queue asks, built from the ``--sched-config`` file."""

from __future__ import annotations

import logging
from typing import Any

from gkfs.settings import SettingsError

log = logging.getLogger("gkfs.forwarding")

__all__ = ["scheduler_for"]

_WHERE = "--sched-config (GKFS_SCHED_CONFIG)"


def scheduler_for(sched_config: str) -> Any:
    """A gkfs._core.IoScheduler that hands every batch decision to a SchedulerHost over the
    configuration in `sched_config` (agios.conf keys; '': GekkoFWD's /tmp/agios.conf if it
    exists, else every key's default) and merges at most its max_aggregation requests into
    one PFS operation. The environment plays no part: the settings model already resolved
    GKFS_SCHED_CONFIG. Keys the file sets that gkfs does not know are logged, in one line.

    Raises SettingsError: a bad file ('file:line: key: problem'), an unknown scheduler, or a
    plug-in scheduler whose init() failed."""
    from gkfs import _core
    from gkfs.forwarding.scheduling import ConfigError, SchedulerHost, load_config

    try:
        config = load_config(sched_config, environ={})
    except ConfigError as e:
        raise SettingsError(f"{_WHERE}: {e}") from None
    if config.ignored:
        log.warning("%s: ignoring keys gkfs does not use: %s", config.source,
                    ", ".join(_name_and_line(entry) for entry in config.ignored))
    sched_config = config.source
    try:
        host = SchedulerHost(config)
    except LookupError as e:
        raise SettingsError(f"{_WHERE} {sched_config or '(defaults)'}: {e}") from None
    except Exception as e:  # a plug-in's init() may raise anything: fail at start, say why
        raise SettingsError(f"{_WHERE} {sched_config or '(defaults)'}: scheduler "
                            f"{config.default_algorithm!r} failed to start: {e}") from None
    return _core.python_scheduler(host, host.config.max_aggregation)


def _name_and_line(entry: str) -> str:
    """'file:7: key' -> 'key (line 7)'."""
    where, name = entry.rsplit(": ", 1)
    return f"{name} (line {where.rsplit(':', 1)[1]})"
