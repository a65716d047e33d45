"""A reference dispatcher on a virtual clock: the executable specification of what the I/O
node's C++ side does around a scheduler, and the driver of the scheduler tests.

The dispatcher's rules:

1. Requests are pending from their arrival until a batch names them. Pending requests are
   handed over per queue id in arrival order (as one queue if the scheduler does not need
   queue ids).
2. At any instant, first every request that arrived and every unit that completed by then is
   taken in; completions go to on_complete() (one call per instant), then schedule(now,
   queues, limit) is called if requests are pending and a slot is free, with limit = the
   free slots. The units of the batch start at once, in batch order, one slot each.
3. schedule() is called again at the next arrival, completion, or `now + sleep`, whichever
   comes first; each call replaces the previous sleep. With no slot free nothing is called
   until a unit completes.
4. Requests left pending with nothing to come (no arrival, no running unit, no sleep) are a
   stall: the scheduler broke its contract.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from typing import Callable, Optional, Sequence

from gkfs.forwarding.scheduling.contract import WRITE, Completion, Request
from gkfs.forwarding.scheduling.host import SchedulerHost

__all__ = ["Dispatch", "SimulationError", "SimResult", "linear_service", "make_request",
           "simulate"]

#: schedule() calls allowed at one instant (a scheduler returning nothing with sleep 0).
MAX_CALLS_PER_INSTANT = 10000


class SimulationError(RuntimeError):
    """The scheduler stalled or spun."""


@dataclasses.dataclass(frozen=True)
class Dispatch:
    time: float
    done: float
    unit: tuple[Request, ...]

    @property
    def ids(self) -> list[int]:
        return [r.id for r in self.unit]

    @property
    def bytes(self) -> int:
        return self.unit[-1].end - self.unit[0].offset


@dataclasses.dataclass
class SimResult:
    dispatches: list[Dispatch]   # in dispatch order
    calls: int                   # schedule() calls

    def order(self) -> list[list[int]]:
        return [d.ids for d in self.dispatches]

    def flat(self) -> list[int]:
        return [i for d in self.dispatches for i in d.ids]


def make_request(id: int, *, app: int = 0, file: int = 0, target: int = 0, kind: int = WRITE,
                 offset: int = 0, length: int = 4096, at: float = 0.0) -> Request:
    """A Request with keyword arguments, for traces."""
    return Request(id, app, file, target, kind, offset, length, at)


def linear_service(latency: float = 1e-4, bandwidth: float = 1e9) -> Callable:
    """Service time of a unit: latency + bytes / bandwidth (one PFS operation)."""
    return lambda unit: latency + (unit[-1].end - unit[0].offset) / bandwidth


def simulate(host: SchedulerHost, trace: Sequence[Request], slots: int = 1,
             service: Optional[Callable[[Sequence[Request]], float]] = None) -> SimResult:
    """Runs `trace` (requests with their arrival times) through host's scheduler with
    `slots` concurrent PFS operations. Raises SimulationError on a stall or a spin."""
    service = service or linear_service()
    arrivals = sorted(trace, key=lambda r: (r.arrival, r.id))
    pending: dict[int, Request] = {}        # id -> request, in arrival order
    running: list = []                      # heap of (done, seq, Dispatch)
    seq = itertools.count()
    dispatches: list[Dispatch] = []
    next_arrival, free, wake, calls = 0, slots, None, 0
    now, calls_now = None, 0
    while True:
        times = [t for t in (arrivals[next_arrival].arrival if next_arrival < len(arrivals)
                             else None, running[0][0] if running else None, wake)
                 if t is not None]
        if not times:
            break
        t = min(times)
        calls_now = calls_now + 1 if t == now else 0
        if calls_now > MAX_CALLS_PER_INSTANT:
            raise SimulationError(f"schedule() called {calls_now} times at t={t}")
        now = t
        while next_arrival < len(arrivals) and arrivals[next_arrival].arrival <= now:
            request = arrivals[next_arrival]
            pending[request.id] = request
            next_arrival += 1
        finished = []
        while running and running[0][0] <= now:
            _, _, d = heapq.heappop(running)
            free += 1
            wait = sum(d.time - r.arrival for r in d.unit) / len(d.unit)
            finished.append(Completion(tuple(d.ids), d.bytes, wait, d.done - d.time))
        if finished:
            host.on_complete(finished)
        if wake is not None and wake <= now:
            wake = None
        if pending and free:
            calls += 1
            batch, sleep = host.schedule(now, _view(pending, host.needs_queue_ids), free)
            for unit_ids in batch:
                unit = tuple(pending.pop(i) for i in unit_ids)
                d = Dispatch(now, now + service(unit), unit)
                dispatches.append(d)
                heapq.heappush(running, (d.done, next(seq), d))
            free -= len(batch)
            wake = None if sleep is None else now + sleep
        if pending and not running and wake is None and next_arrival == len(arrivals):
            raise SimulationError(f"{len(pending)} requests left pending with nothing to "
                                  f"wake the scheduler (t={now})")
    return SimResult(dispatches, calls)


def _view(pending: dict[int, Request], by_queue: bool) -> dict[int, list[Request]]:
    if not by_queue:
        return {0: list(pending.values())}
    view: dict[int, list[Request]] = {}
    for r in pending.values():
        view.setdefault(r.queue_id, []).append(r)
    return view
