"""aIOLi (Lebre et al., Cluster 2006) as AGIOS implements it, with its quanta kept in bytes."""

from __future__ import annotations

import math
from typing import Optional

from gkfs.forwarding.scheduling.aggregation import Unit, by_file, ids, unit_arrival, unit_bytes
from gkfs.forwarding.scheduling.contract import READ, WRITE, Batch, Queues, Scheduler
from gkfs.forwarding.scheduling.waiting import WaitTracker

__all__ = ["AIOLI", "adjust_quantum"]


def adjust_quantum(used: int, quantum: int, base: int, cap: int) -> int:
    """The next turn's quantum of a file queue from how much of this one it used (bytes):
    x2 if it used >= 175%, x1.5 if >= 125%, unchanged if >= 75%, halved below, then kept
    within [base, cap] bytes. (AGIOS bounds it by MAX_AGGREG_SIZE, a request count, mixing
    units; here cap = max_aggregation * aioli_quantum bytes.)"""
    rate = used * 100 // quantum
    if rate >= 175:
        wanted = quantum * 2
    elif rate >= 125:
        wanted = quantum * 15 // 10
    elif rate >= 75:
        wanted = quantum
    else:
        wanted = quantum // 2
    return max(base, min(cap, wanted))


class AIOLI(Scheduler):
    """Per-file read and write queues in offset order, merged into units.

    * Every request has a quantum in bytes: 0 on arrival, then aioli_quantum the first time
      its queue is examined and doubled at every later examination. A unit's quantum is the
      sum of its requests'; a queue's head unit is selectable once its quantum covers its size.
      A file's read queue is examined first, its write queue only if no read head is selectable.
    * Among selectable heads the oldest (arrival of its oldest request) goes: FIFO between
      files. That file queue then gets a turn worth `next_quantum` bytes: its head is always
      served, further units while they fit in what is left of the turn.
    * After the turn, next_quantum is adjusted from the bytes used (:func:`adjust_quantum`).
      A queue's first turn has quantum 0 (one unit), its second aioli_quantum.
    * Waiting times as in waiting.py.
    """

    name = "aIOLi"
    work_conserving = False
    needs_queue_ids = True

    def init(self, config) -> None:
        super().init(config)
        self.quantum: dict[int, int] = {}                  # request id -> bytes
        self.next_quantum: dict[tuple[int, int], int] = {}  # (queue id, kind) -> bytes
        self.waits = WaitTracker(config.waiting_s)
        self.work_conserving = config.waiting_time == 0

    def schedule(self, now: float, queues: Queues) -> tuple[Batch, Optional[float]]:
        files = by_file(queues, self.config.max_aggregation)
        self._forget_gone(queues, files)
        batch: Batch = []
        while files and queues.room(len(batch)):
            head, shortest_wait = self._select(files, now)
            if head is None:
                if shortest_wait < math.inf:
                    return batch, shortest_wait
                continue  # nothing selectable yet: the next pass grows every quantum
            queue_id, kind = head
            units = files[queue_id][kind]
            if self.waits.should_wait(queue_id, kind, units[0], now):
                continue
            self._turn(queue_id, kind, units, batch, queues)
            if not any(files[queue_id]):
                del files[queue_id]
        return batch, None

    def _select(self, files: dict, now: float) -> tuple[Optional[tuple[int, int]], float]:
        """One pass: grows quanta, returns the oldest selectable head (queue id, kind), or
        None and the shortest remaining wait if every file with requests waits."""
        best, best_key, shortest_wait, waiting = None, None, math.inf, 0
        for queue_id in sorted(files):
            wait = self.waits.remaining(queue_id, now)
            if wait:
                shortest_wait, waiting = min(shortest_wait, wait), waiting + 1
                continue
            for kind in (READ, WRITE):
                units = files[queue_id][kind]
                if units and self._grow(units):
                    key = unit_arrival(units[0])
                    if best_key is None or key < best_key:
                        best, best_key = (queue_id, kind), key
                    break
        if best is None and waiting == len(files):
            return None, shortest_wait
        return best, math.inf

    def _grow(self, units: list[Unit]) -> bool:
        """Grows the quantum of every request in the queue; True if the head now fits."""
        base = self.config.aioli_quantum
        for unit in units:
            for r in unit:
                q = self.quantum.get(r.id, 0)
                self.quantum[r.id] = base if q == 0 else q * 2
        head = units[0]
        return unit_bytes(head) <= sum(self.quantum[r.id] for r in head)

    def _turn(self, queue_id: int, kind: int, units: list[Unit], batch: Batch,
              queues: Queues) -> None:
        key = (queue_id, kind)
        quantum = self.next_quantum.get(key, 0)
        used, first, stopped_by_limit = 0, True, False
        while units:
            if not first and unit_bytes(units[0]) > quantum - used:
                break  # the head is always served; later units must fit what is left
            first = False
            unit = units.pop(0)
            batch.append(ids(unit))
            used += unit_bytes(unit)
            self.waits.dispatched(queue_id, kind, unit)
            if used >= quantum:
                break
            if not queues.room(len(batch)):
                stopped_by_limit = bool(units)
                break
        if stopped_by_limit:
            return  # as AGIOS: a turn cut short from outside does not change the quantum
        base = self.config.aioli_quantum
        if quantum == 0:
            self.next_quantum[key] = base
        else:
            self.next_quantum[key] = adjust_quantum(
                used, quantum, base, self.config.max_aggregation * base)

    def _forget_gone(self, queues: Queues, files: dict) -> None:
        if len(self.quantum) > 2 * queues.count():
            pending = {r.id for r in queues.requests()}
            self.quantum = {i: q for i, q in self.quantum.items() if i in pending}
        if len(self.next_quantum) > 2 * len(files) + 1024:
            self.next_quantum = {k: q for k, q in self.next_quantum.items() if k[0] in files}
