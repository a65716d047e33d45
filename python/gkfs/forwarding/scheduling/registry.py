"""Finding a scheduler class by name: the built-ins (AGIOS names), `module:Class`, or an entry
point of group ``gkfs.schedulers`` (a package that ships its own scheduler)."""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Optional

from gkfs.forwarding.scheduling.contract import Scheduler

__all__ = ["ENTRY_POINT_GROUP", "builtin_names", "check_name", "create", "resolve"]

ENTRY_POINT_GROUP = "gkfs.schedulers"


def _builtins() -> dict[str, type[Scheduler]]:
    from gkfs.forwarding.scheduling.aioli import AIOLI
    from gkfs.forwarding.scheduling.mlf import MLF
    from gkfs.forwarding.scheduling.sjf import SJF
    from gkfs.forwarding.scheduling.timeorder import NOOP, TO, TOAgg
    from gkfs.forwarding.scheduling.wfq import WFQ
    from gkfs.forwarding.scheduling.windows import SW, TWINS

    return {cls.name: cls for cls in (NOOP, TO, TOAgg, SJF, MLF, AIOLI, SW, TWINS, WFQ)}


def builtin_names() -> list[str]:
    return list(_builtins())


def resolve(name: str) -> type[Scheduler]:
    """The scheduler class `name` stands for. Raises LookupError saying what was tried."""
    builtins = _builtins()
    if name in builtins:
        return builtins[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            obj = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as e:
            raise LookupError(f"cannot load scheduler {name!r}: {e}") from None
    else:
        found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            raise LookupError(f"unknown scheduler {name!r}: use one of "
                              f"{', '.join(builtins)}, a module:Class, or an entry point of "
                              f"group {ENTRY_POINT_GROUP}")
        obj = found[0].load()
    if not (isinstance(obj, type) and issubclass(obj, Scheduler)):
        raise LookupError(f"{name!r} is not a subclass of gkfs.forwarding.scheduling.Scheduler")
    return obj


def check_name(name: str) -> Optional[str]:
    """None if `name` resolves, else the problem (for configuration errors)."""
    try:
        resolve(name)
    except LookupError as e:
        return str(e)
    return None


def create(config) -> Scheduler:
    """A scheduler for `config` (a SchedulerConfig), initialised."""
    scheduler = resolve(config.default_algorithm)()
    scheduler.init(config)
    return scheduler
