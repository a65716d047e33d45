"""Merging contiguous requests into dispatch units, and grouping the pending requests.

A unit is a list of Requests of one queue_id and kind, in offset order, each starting where
the previous one ends; C++ issues it as one PFS operation (pwritev/preadv). The two ways of
merging follow AGIOS: ``runs`` for its per-file queues kept in offset order (SJF, MLF, aIOLi,
SW), ``fifo_units`` for its single arrival-ordered timeline (TO-agg, TWINS, WFQ).
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

from gkfs.forwarding.scheduling.contract import READ, WRITE, Queues, Request

__all__ = [
    "Unit",
    "arrival_order",
    "by_file",
    "fifo_units",
    "ids",
    "offset_order",
    "runs",
    "unit_arrival",
    "unit_bytes",
]

Unit = list[Request]


def ids(unit: Unit) -> list[int]:
    return [r.id for r in unit]


def unit_bytes(unit: Unit) -> int:
    return unit[-1].end - unit[0].offset


def unit_arrival(unit: Unit) -> tuple[float, int]:
    """The unit's place in FIFO order: its oldest request (arrival, then id)."""
    return min((r.arrival, r.id) for r in unit)


def arrival_order(requests: Iterable[Request]) -> list[Request]:
    return sorted(requests, key=lambda r: (r.arrival, r.id))


def offset_order(requests: Iterable[Request]) -> list[Request]:
    return sorted(requests, key=lambda r: (r.offset, r.arrival, r.id))


def _joins(a: Request, b: Request) -> bool:
    """b can follow a in one unit."""
    return a.queue_id == b.queue_id and a.kind == b.kind and a.end == b.offset


def runs(ordered: Sequence[Request], cap: int) -> list[Unit]:
    """Requests of one queue and kind in offset order -> units: maximal contiguous runs, cut
    every `cap` requests (greedy from the lowest offset)."""
    units: list[Unit] = []
    for r in ordered:
        if units and len(units[-1]) < cap and _joins(units[-1][-1], r):
            units[-1].append(r)
        else:
            units.append([r])
    return units


def fifo_units(ordered: Sequence[Request], cap: int) -> list[Unit]:
    """Requests in arrival order -> units in FIFO order (AGIOS TO-agg insertion). Each request
    joins the earliest unit it extends at either end (same queue and kind, fewer than `cap`
    requests); otherwise it opens a unit at the end. A unit keeps the place of its first
    request; two units are not joined when a request fills the gap between them."""
    units: list[Unit] = []
    by_end: dict[tuple[int, int, int], list[int]] = {}    # (queue, kind, end) -> unit indices
    by_start: dict[tuple[int, int, int], list[int]] = {}  # (queue, kind, offset) -> indices
    for r in ordered:
        q, k = r.queue_id, r.kind
        back = _earliest_open(units, by_end.get((q, k, r.offset)), cap)
        front = _earliest_open(units, by_start.get((q, k, r.end)), cap)
        if back is None and front is None:
            units.append([r])
            if cap > 1:
                by_end.setdefault((q, k, r.end), []).append(len(units) - 1)
                by_start.setdefault((q, k, r.offset), []).append(len(units) - 1)
        elif front is None or (back is not None and back < front):
            unit = units[back]
            _forget(by_end, (q, k, r.offset), back)
            unit.append(r)
            if len(unit) < cap:
                by_end.setdefault((q, k, r.end), []).append(back)
            else:
                _forget(by_start, (q, k, unit[0].offset), back)
        else:
            unit = units[front]
            _forget(by_start, (q, k, r.end), front)
            unit.insert(0, r)
            if len(unit) < cap:
                by_start.setdefault((q, k, r.offset), []).append(front)
            else:
                _forget(by_end, (q, k, unit[-1].end), front)
    return units


def _earliest_open(units: list[Unit], candidates: Optional[list[int]], cap: int) -> Optional[int]:
    if not candidates:
        return None
    open_ = [i for i in candidates if len(units[i]) < cap]
    return min(open_) if open_ else None


def _forget(index: dict, key: tuple, value: int) -> None:
    values = index.get(key)
    if values and value in values:
        values.remove(value)
        if not values:
            del index[key]


def by_file(queues: Queues, cap: int) -> dict[int, tuple[list[Unit], list[Unit]]]:
    """AGIOS's per-file queues: queue id -> (read units, write units), each in offset order
    and merged into runs. Relies on the view being keyed by queue id (needs_queue_ids)."""
    files: dict[int, tuple[list[Unit], list[Unit]]] = {}
    for queue_id, requests in queues.items():
        if not requests:
            continue
        reads = offset_order(r for r in requests if r.kind == READ)
        writes = offset_order(r for r in requests if r.kind == WRITE)
        files[queue_id] = (runs(reads, cap), runs(writes, cap))
    return files
