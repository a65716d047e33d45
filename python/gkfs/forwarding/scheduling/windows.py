"""Time-window schedulers: SW (Song et al., ICS 2013, as in AGIOS) and TWINS (Bez et al.,
IPDPSW 2017)."""

from __future__ import annotations

import math
from typing import Optional

from gkfs.forwarding.scheduling.aggregation import (Unit, arrival_order, fifo_units, ids,
                                                    offset_order, runs, unit_arrival)
from gkfs.forwarding.scheduling.contract import Batch, Queues, Request, Scheduler

__all__ = ["SW", "TWINS"]


class SW(Scheduler):
    """Static time windows: time is cut into windows of SW_window and every request belongs
    to the window it arrived in. Requests are served window by window, and inside a window
    application by application (ascending app id), so an application's requests of a window
    wait until the applications before it are done with that window and then go together.
    Inside an (window, application) group, each file's requests go in offset order
    (merged only with sw_twins_wfq_merge); files in the order of their oldest request.
    Work-conserving, as AGIOS's SW (which orders by window and app id and does not merge). Windows are counted from 0 on the
    clock of `now`: I/O nodes sharing a clock serve the same application at the same time."""

    name = "SW"

    def schedule(self, now: float, queues: Queues) -> tuple[Batch, Optional[float]]:
        width = self.config.sw_window_s
        groups: dict[tuple[int, int], list[Request]] = {}
        for r in queues.requests():
            groups.setdefault((math.floor(r.arrival / width), r.app_id), []).append(r)
        batch: Batch = []
        for key in sorted(groups):
            for unit in self._group_units(groups[key]):
                if not queues.room(len(batch)):
                    return batch, None
                batch.append(ids(unit))
        return batch, None

    def _group_units(self, requests: list[Request]) -> list[Unit]:
        files: dict[tuple[int, int], list[Request]] = {}
        for r in requests:
            files.setdefault((r.queue_id, r.kind), []).append(r)
        per_file = [runs(offset_order(rs), self.config.window_cap) for rs in files.values()]
        per_file.sort(key=lambda units: min(unit_arrival(u) for u in units))
        return [u for units in per_file for u in units]


class TWINS(Scheduler):
    """Exclusive time windows per PFS target, round robin: during a window of twins_window
    only requests to the window's target are dispatched (FIFO; merged as TO-agg only with
    sw_twins_wfq_merge, AGIOS's does not merge). With
    twins_targets = N the rotation is over targets 0..N-1 (others fold in modulo N) and a
    window whose target has no requests is idled through, as in AGIOS; with 0 it goes to the
    next target (ascending, cyclic) that has pending requests. The first window starts at
    the first call with pending requests; a window that ended while nobody called is
    followed by one starting at that call. Never work-conserving: while requests wait for
    other targets it asks to be called again when the window ends."""

    name = "TWINS"
    work_conserving = False
    needs_targets = True

    def init(self, config) -> None:
        super().init(config)
        self.current_target: Optional[int] = None
        self.window_start = 0.0

    def schedule(self, now: float, queues: Queues) -> tuple[Batch, Optional[float]]:
        pending: dict[int, list[Request]] = {}
        for r in queues.requests():
            pending.setdefault(self._target(r), []).append(r)
        if not pending:
            return [], None
        width = self.config.twins_window_s
        if self.current_target is None:
            self._open(self._first(pending), now)
        elif now >= self.window_start + width:
            self._open(self._next(pending), now)
        units = fifo_units(arrival_order(pending.get(self.current_target, ())),
                           self.config.window_cap)
        batch = [ids(u) for u in units[: queues.limit]]
        left = sum(len(rs) for rs in pending.values()) - sum(len(u) for u in batch)
        return batch, (self.window_start + width - now) if left else None

    def _target(self, r: Request) -> int:
        n = self.config.twins_targets
        return r.target % n if n else r.target

    def _open(self, target: int, now: float) -> None:
        self.current_target, self.window_start = target, now

    def _first(self, pending: dict[int, list[Request]]) -> int:
        return 0 if self.config.twins_targets else min(pending)

    def _next(self, pending: dict[int, list[Request]]) -> int:
        current = self.current_target
        if self.config.twins_targets:
            return (current + 1) % self.config.twins_targets
        later = [t for t in pending if t > current]
        return min(later) if later else min(pending)
