"""SchedulerHost: the one object the I/O node's C++ dispatcher talks to.

It turns C++'s plain tuples into Requests, calls the scheduler, checks what comes back
against the contract and hands C++ plain lists. A scheduler that raises or breaks the
contract is logged (logger ``gkfs.forwarding``) and that call falls back to time order, so a
broken plug-in never stalls I/O; ``strict=True`` (tests, the simulator) raises instead.
"""

from __future__ import annotations

import logging
import math
from typing import Mapping, Optional, Sequence, Union

from gkfs.forwarding.scheduling import registry
from gkfs.forwarding.scheduling.config import SchedulerConfig, load_config
from gkfs.forwarding.scheduling.contract import (Batch, Completion, ContractError, Queues,
                                                 Request, Scheduler)

__all__ = ["SchedulerHost", "check_batch"]

log = logging.getLogger("gkfs.forwarding")

#: A hold ending within this many seconds has ended: now + sleep may round to just below
#: the deadline, and a sleep too short to move the clock would be a spin.
_CLOCK_SLACK = 1e-7


class SchedulerHost:
    """One scheduler of one I/O node. Not thread-safe: C++ calls it from one thread at a time."""

    def __init__(self, config: Union[SchedulerConfig, str, None] = None,
                 scheduler: Optional[Scheduler] = None, strict: bool = False,
                 validate: bool = True) -> None:
        """config: a SchedulerConfig, a path, or None ($GKFS_SCHED_CONFIG, else defaults).
        scheduler: an instance to use instead of config.default_algorithm (init is called).
        Raises ConfigError or LookupError: a bad configuration fails the daemon at start."""
        if not isinstance(config, SchedulerConfig):
            config = load_config(config)
        self.config = config
        if scheduler is None:
            scheduler = registry.create(config)
        else:
            scheduler.init(config)
        self.scheduler = scheduler
        self.strict, self.validate = strict, validate
        self.errors = 0  # calls that fell back to time order
        # target_concurrency: units in service per PFS target, and the target of each unit
        # in service by its first request id (Completion.ids[0])
        self._busy: dict[int, int] = {}
        self._unit_target: dict[int, int] = {}

    @property
    def work_conserving(self) -> bool:
        return bool(self.scheduler.work_conserving)

    @property
    def needs_queue_ids(self) -> bool:
        return bool(self.scheduler.needs_queue_ids)

    @property
    def needs_targets(self) -> bool:
        return bool(getattr(self.scheduler, "needs_targets", False))

    def schedule(self, now: float, queues: Mapping[int, Sequence[tuple]],
                 limit: Optional[int] = None) -> tuple[list[list[int]], Optional[float]]:
        """queues: queue id -> requests in arrival order, as Requests or plain tuples in
        Request's field order. limit: free dispatch slots (None: unlimited). Returns the batch
        (units of request ids) and the sleep in seconds (or None)."""
        view = Queues(self._free_targets(
            {q: [r if type(r) is Request else Request._make(r) for r in rs]
             for q, rs in queues.items()}), limit)
        try:
            batch, sleep = self.scheduler.schedule(now, view)
            batch = [list(u) for u in batch]
            if sleep is not None:
                sleep = float(sleep)
            if self.validate:
                check_batch(batch, sleep, view, self.config.max_aggregation,
                            self.scheduler.work_conserving)
            batch, sleep = self._hold_small(now, batch, sleep, view)
            return self._admit(batch, view), sleep
        except Exception as e:  # a plug-in may raise anything; I/O must go on
            if self.strict:
                raise
            self.errors += 1
            log.error("scheduler %s failed (%s); this call falls back to time order",
                      self.scheduler.name or type(self.scheduler).__name__, e,
                      exc_info=not isinstance(e, ContractError))
            ordered = sorted(view.requests(), key=lambda r: (r.arrival, r.id))
            return [[r.id] for r in ordered[:limit]], None

    def _free_targets(self, queues: dict[int, list[Request]]) -> dict[int, list[Request]]:
        """The requests whose PFS target has fewer than target_concurrency units in service
        (all of them without a limit)."""
        cap = self.config.target_concurrency
        if not cap or not self._busy:
            return queues
        free = {q: [r for r in rs if self._busy.get(r.target, 0) < cap]
                for q, rs in queues.items()}
        return {q: rs for q, rs in free.items() if rs}

    def _hold_small(self, now: float, batch: list[list[int]], sleep: Optional[float],
                    view: Queues) -> tuple[list[list[int]], Optional[float]]:
        """batch without the units below aggregation_size bytes whose oldest request has
        waited less than aggregation_wait (they are offered again, grown by what arrived
        meanwhile), and the sleep until the first of them is due."""
        size, wait = self.config.aggregation_size, self.config.aggregation_wait / 1e6
        if not size:
            return batch, sleep
        by_id = {r.id: r for r in view.requests()}
        kept = []
        for unit in batch:
            requests = [by_id[i] for i in unit]
            held_for = wait - (now - min(r.arrival for r in requests))
            if sum(r.length for r in requests) < size and held_for > _CLOCK_SLACK:
                sleep = held_for if sleep is None else min(sleep, held_for)
            else:
                kept.append(unit)
        return kept, sleep

    def _admit(self, batch: list[list[int]], view: Queues) -> list[list[int]]:
        """The units of batch that keep every target within target_concurrency, in order,
        recorded as in service; the others stay pending (they are offered again)."""
        cap = self.config.target_concurrency
        if not cap:
            return batch
        target_of = {r.id: r.target for r in view.requests()}
        admitted = []
        for unit in batch:
            target = target_of[unit[0]]
            if self._busy.get(target, 0) < cap:
                self._busy[target] = self._busy.get(target, 0) + 1
                self._unit_target[unit[0]] = target
                admitted.append(unit)
        return admitted

    def on_complete(self, stats: Sequence[tuple]) -> None:
        """stats: Completions or plain tuples in Completion's field order."""
        completions = [s if type(s) is Completion else Completion._make(s) for s in stats]
        for done in completions:
            target = self._unit_target.pop(done.ids[0], None) if done.ids else None
            if target is not None:
                self._busy[target] -= 1
                if not self._busy[target]:
                    del self._busy[target]
        try:
            self.scheduler.on_complete(completions)
        except Exception:
            if self.strict:
                raise
            self.errors += 1
            log.exception("scheduler %s failed in on_complete", self.scheduler.name)


def check_batch(batch: Batch, sleep: Optional[float], queues: Queues, cap: int,
                work_conserving: bool) -> None:
    """Raises ContractError unless (batch, sleep) is a valid answer to `queues`."""
    if queues.limit is not None and len(batch) > queues.limit:
        raise ContractError(f"{len(batch)} units returned, limit is {queues.limit}")
    if sleep is not None and not (math.isfinite(sleep) and sleep >= 0):
        raise ContractError(f"sleep must be None or a finite number >= 0, not {sleep!r}")
    pending = {r.id: r for r in queues.requests()}
    seen: set[int] = set()
    for unit in batch:
        if not 1 <= len(unit) <= cap:
            raise ContractError(f"unit {unit} must hold 1..{cap} requests")
        previous = None
        for request_id in unit:
            request = pending.get(request_id)
            if request is None:
                raise ContractError(f"request {request_id} is not pending")
            if request_id in seen:
                raise ContractError(f"request {request_id} dispatched twice")
            seen.add(request_id)
            if previous is not None and not (
                    request.queue_id == previous.queue_id and request.kind == previous.kind
                    and request.offset == previous.end):
                raise ContractError(f"unit {unit}: request {request_id} does not continue "
                                    f"request {previous.id} (same file, kind, contiguous)")
            previous = request
    if work_conserving and not batch and pending and queues.limit != 0:
        raise ContractError("a work-conserving scheduler returned nothing while requests wait")
