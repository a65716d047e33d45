"""NOOP, TO and TO-agg: AGIOS's schedulers over a single arrival-ordered timeline."""

from __future__ import annotations

from typing import Optional

from gkfs.forwarding.scheduling.aggregation import arrival_order, fifo_units, ids
from gkfs.forwarding.scheduling.contract import Batch, Queues, Scheduler

__all__ = ["NOOP", "TO", "TOAgg"]


class NOOP(Scheduler):
    """Everything goes at once, unmerged, in the order C++ listed it: the baseline that
    measures the cost of the plugin path itself."""

    name = "NOOP"

    def schedule(self, now: float, queues: Queues) -> tuple[Batch, Optional[float]]:
        batch: Batch = []
        for request in queues.requests():
            if not queues.room(len(batch)):
                break
            batch.append([request.id])
        return batch, None


class TO(Scheduler):
    """Time order: first come, first served (arrival, then id), one request per operation."""

    name = "TO"

    def schedule(self, now: float, queues: Queues) -> tuple[Batch, Optional[float]]:
        ordered = arrival_order(queues.requests())
        return [[r.id] for r in ordered[: queues.limit]], None


class TOAgg(Scheduler):
    """Time order with aggregation: a request that extends a queued one (same file, same
    kind, contiguous) joins it, up to max_aggregation requests; units go in the order of
    their first request."""

    name = "TO-agg"

    def schedule(self, now: float, queues: Queues) -> tuple[Batch, Optional[float]]:
        units = fifo_units(arrival_order(queues.requests()), self.config.max_aggregation)
        return [ids(u) for u in units[: queues.limit]], None
