"""SJF: shortest job first over AGIOS's per-file queues."""

from __future__ import annotations

import heapq
from typing import Optional

from gkfs.forwarding.scheduling.aggregation import by_file, ids, unit_bytes
from gkfs.forwarding.scheduling.contract import READ, WRITE, Batch, Queues, Scheduler

__all__ = ["SJF"]


class SJF(Scheduler):
    """Each file has a read and a write queue in offset order, merged into units. The queue
    with the fewest pending bytes goes first (ties: lower queue id, reads before writes),
    one unit at a time from its lowest offset; as a served queue only shrinks, SJF drains it
    before moving on unless another queue becomes as short."""

    name = "SJF"
    needs_queue_ids = True

    def schedule(self, now: float, queues: Queues) -> tuple[Batch, Optional[float]]:
        heap = []
        for queue_id, (reads, writes) in by_file(queues, self.config.max_aggregation).items():
            for kind, units in ((READ, reads), (WRITE, writes)):
                if units:
                    size = sum(unit_bytes(u) for u in units)
                    heap.append((size, queue_id, kind, units))
        heapq.heapify(heap)
        batch: Batch = []
        while heap and queues.room(len(batch)):
            size, queue_id, kind, units = heapq.heappop(heap)
            unit = units.pop(0)
            batch.append(ids(unit))
            if units:
                heapq.heappush(heap, (size - unit_bytes(unit), queue_id, kind, units))
        return batch, None
