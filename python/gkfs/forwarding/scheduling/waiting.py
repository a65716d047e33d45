"""aIOLi's and MLF's waiting times (AGIOS): hold a file back briefly when a better access is
about to arrive, so that it can be merged or served in offset order.

Two signs, tracked per file and kind from what was dispatched:

* shift phenomenon: a unit was dispatched below the previous start (a delayed process); the
  end of that unit is the offset predicted next. If the next head starts beyond it, the
  request in between is probably on its way: wait.
* better aggregation: the head starts beyond the end of the last dispatched unit while the
  last unit merged more requests than the head does: wait for the gap to fill.

Each sign causes one wait and is then cleared (no starvation). A waiting file is skipped
until its deadline passes; other files go on.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Optional

from gkfs.forwarding.scheduling.aggregation import Unit

__all__ = ["WaitTracker"]

#: Files whose history is kept (least recently dispatched forgotten first).
HISTORY_FILES = 65536


@dataclasses.dataclass
class _History:
    last_start: int = 0
    last_end: int = 0
    predicted: Optional[int] = None
    last_aggregation: int = 0


class WaitTracker:
    """Per-file deadlines and per-(file, kind) history. waiting_s == 0 disables waiting."""

    def __init__(self, waiting_s: float) -> None:
        self.waiting_s = waiting_s
        self._until: dict[int, float] = {}
        self._history: collections.OrderedDict[tuple[int, int], _History] = \
            collections.OrderedDict()

    def remaining(self, queue_id: int, now: float) -> float:
        """Seconds the file still waits (0: not waiting)."""
        until = self._until.get(queue_id)
        if until is None:
            return 0.0
        if now >= until:
            del self._until[queue_id]
            return 0.0
        return until - now

    def should_wait(self, queue_id: int, kind: int, head: Unit, now: float) -> bool:
        """AGIOS's check_selection for the unit about to be dispatched; starts the file's
        wait and returns True if it should be held back."""
        if not self.waiting_s:
            return False
        history = self._history.get((queue_id, kind))
        if history is None:
            return False
        wait = False
        if history.predicted is not None:
            wait = head[0].offset > history.predicted
            history.predicted = None
        elif head[0].offset > history.last_end and history.last_aggregation > len(head):
            wait = True
            history.last_aggregation = 0
        if wait:
            self._until[queue_id] = now + self.waiting_s
        return wait

    def dispatched(self, queue_id: int, kind: int, unit: Unit) -> None:
        """Records a dispatched unit (AGIOS's waiting_algorithms_postprocess)."""
        if not self.waiting_s:
            return
        key = (queue_id, kind)
        history = self._history.pop(key, None) or _History()
        self._history[key] = history
        if len(self._history) > HISTORY_FILES:
            self._history.popitem(last=False)
        history.last_end = unit[-1].end
        if unit[0].offset < history.last_start and history.predicted is None:
            history.predicted = history.last_end
        history.last_start = unit[0].offset
        history.last_aggregation = len(unit)
