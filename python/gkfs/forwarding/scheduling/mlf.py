"""MLF: AGIOS's multilevel feedback scheduler (aIOLi without synchronous turns)."""

from __future__ import annotations

import math
from typing import Optional

from gkfs.forwarding.scheduling.aggregation import Unit, by_file, ids, unit_bytes
from gkfs.forwarding.scheduling.contract import READ, WRITE, Batch, Queues, Scheduler
from gkfs.forwarding.scheduling.waiting import WaitTracker

__all__ = ["MLF"]


class MLF(Scheduler):
    """Per-file read and write queues in offset order, merged into units. Scheduling goes in
    rounds over the files (ascending queue id). In a round, each request of the file's read
    queue (if it has one) is demoted one level (a new request enters level 0); the first unit
    whose quantum covers its size is dispatched. A request at level k has a quantum of
    mlf_quantum * 2^k bytes and a unit's quantum is the sum of its requests'. If no read
    unit fits, the write queue is examined the same way. One unit per file per round, rounds
    until the batch is full or nothing is pending. Small requests thus go first; a large one
    waits log2(size / mlf_quantum) rounds. Waiting times as in waiting.py."""

    name = "MLF"
    work_conserving = False
    needs_queue_ids = True

    def init(self, config) -> None:
        super().init(config)
        self.level: dict[int, int] = {}   # request id -> level, once examined
        self.waits = WaitTracker(config.waiting_s)
        self.work_conserving = config.waiting_time == 0

    def schedule(self, now: float, queues: Queues) -> tuple[Batch, Optional[float]]:
        files = by_file(queues, self.config.max_aggregation)
        self._forget_gone(queues)
        batch: Batch = []
        while files and queues.room(len(batch)):
            progressed, shortest_wait = False, math.inf
            for queue_id in sorted(files):
                wait = self.waits.remaining(queue_id, now)
                if wait:
                    shortest_wait = min(shortest_wait, wait)
                    continue
                reads, writes = files[queue_id]
                picked = self._select(reads, READ) or self._select(writes, WRITE)
                if picked is None:
                    continue
                units, kind, index = picked
                if self.waits.should_wait(queue_id, kind, units[index], now):
                    shortest_wait = min(shortest_wait, self.waits.waiting_s)
                    continue
                unit = units.pop(index)
                batch.append(ids(unit))
                self.waits.dispatched(queue_id, kind, unit)
                progressed = True
                if not (reads or writes):
                    del files[queue_id]
                if not queues.room(len(batch)):
                    break
            if not progressed and shortest_wait < math.inf and self._all_waiting(files, now):
                return batch, shortest_wait
        return batch, None

    def _select(self, units: list[Unit], kind: int) -> Optional[tuple[list[Unit], int, int]]:
        """Demotes every request of the queue one level; the first unit that now fits."""
        if not units:
            return None
        found = None
        for index, unit in enumerate(units):
            quantum = 0
            for r in unit:
                level = self.level.get(r.id, -1) + 1
                self.level[r.id] = level
                quantum += self.config.mlf_quantum << level
            if found is None and unit_bytes(unit) <= quantum:
                found = (units, kind, index)
        return found

    def _all_waiting(self, files: dict, now: float) -> bool:
        return all(self.waits.remaining(q, now) for q in files)

    def _forget_gone(self, queues: Queues) -> None:
        if len(self.level) > 2 * queues.count():
            pending = {r.id for r in queues.requests()}
            self.level = {i: lv for i, lv in self.level.items() if i in pending}
