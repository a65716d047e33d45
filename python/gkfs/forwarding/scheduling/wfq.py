"""WFQ: byte-weighted fair sharing between applications by deficit round robin."""

from __future__ import annotations

from typing import Optional

from gkfs.forwarding.scheduling.aggregation import Unit, arrival_order, fifo_units, ids, unit_bytes
from gkfs.forwarding.scheduling.contract import Batch, Queues, Request, Scheduler

__all__ = ["WFQ"]


class WFQ(Scheduler):
    """One FIFO queue per application (merged as TO-agg only with sw_twins_wfq_merge; AGIOS's
    WFQ does not merge). Queues are numbered 0, 1, ... in the order their applications first
    reach the I/O node. Applications with pending requests take turns in queue order (with
    wfq_weights_by = "app": ascending app id); a turn adds the application's weight (bytes,
    from the wfq_conf file by queue position as AGIOS, or by app id; else wfq_default_weight)
    to its deficit and serves units while the head fits in the deficit. What is left carries over to its next turn, and is dropped when its
    queue empties (Shreedhar and Varghese's DRR, as AGIOS's WFQ). While backlogged, two
    applications' served bytes divided by their weights differ by at most one round plus one
    unit over the smaller weight. A batch cut short by the limit resumes the same turn."""

    name = "WFQ"

    def init(self, config) -> None:
        super().init(config)
        self.deficit: dict[int, int] = {}
        self.turn: Optional[int] = None   # app whose turn is in progress
        self.last: Optional[int] = None   # app whose turn ended last
        self.queue_of: dict[int, int] = {}  # app -> queue position, by first arrival

    def schedule(self, now: float, queues: Queues) -> tuple[Batch, Optional[float]]:
        by_app: dict[int, list[Request]] = {}
        for r in arrival_order(queues.requests()):
            by_app.setdefault(r.app_id, []).append(r)
            self.queue_of.setdefault(r.app_id, len(self.queue_of))
        cap = self.config.window_cap
        units = {app: fifo_units(arrival_order(rs), cap) for app, rs in by_app.items()}
        self.deficit = {app: d for app, d in self.deficit.items() if app in units}
        batch: Batch = []
        idle_turns = 0
        while units and queues.room(len(batch)):
            if self.turn not in units:
                if idle_turns >= len(units):
                    self._skip_idle_rounds(units)
                    idle_turns = 0
                self._start_turn(units)
            app = self.turn
            queue, served = units[app], False
            while queue and unit_bytes(queue[0]) <= self.deficit[app] and \
                    queues.room(len(batch)):
                unit = queue.pop(0)
                self.deficit[app] -= unit_bytes(unit)
                batch.append(ids(unit))
                served = True
            if queue and unit_bytes(queue[0]) <= self.deficit[app]:
                break  # the batch is full: this turn resumes at the next call
            if not queue:
                del units[app]
                self.deficit.pop(app, None)
            self.last, self.turn = app, None
            idle_turns = 0 if served else idle_turns + 1
        return batch, None

    def _key(self, app: int) -> int:
        """The app's place in the round and in the weights file."""
        return app if self.config.wfq_weights_by == "app" else self.queue_of[app]

    def _weight(self, app: int) -> int:
        return self.config.wfq_weight(self._key(app))

    def _start_turn(self, units: dict[int, list[Unit]]) -> None:
        order = sorted(units, key=self._key)
        later = [a for a in order if self.last is None or self._key(a) > self._key(self.last)]
        app = later[0] if later else order[0]
        self.turn = app
        self.deficit[app] = self.deficit.get(app, 0) + self._weight(app)

    def _skip_idle_rounds(self, units: dict[int, list[Unit]]) -> None:
        """A whole round served nothing (weights below the heads' sizes): add at once the
        rounds in which still nobody could be served. Same result as running them, faster."""
        rounds = min(-(-(unit_bytes(q[0]) - self.deficit.get(a, 0)) // self._weight(a))
                     for a, q in units.items())
        for app in units:
            self.deficit[app] = self.deficit.get(app, 0) + (rounds - 1) * self._weight(app)
