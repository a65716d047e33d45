"""NOOP, TO, TO-agg and SJF on deterministic traces: exact dispatch order and merges, and the
aggregation cap."""

from __future__ import annotations

import pytest

from gkfs.forwarding.scheduling import READ, WRITE, SchedulerConfig, SchedulerHost
from gkfs.forwarding.scheduling.simulate import make_request as req, simulate

K = 4096


def host(name: str, **config) -> SchedulerHost:
    return SchedulerHost(SchedulerConfig(default_algorithm=name, **config), strict=True)


def grouped(requests) -> dict[int, list]:
    """The Queues view C++ builds for needs_queue_ids: per file, in arrival order."""
    view: dict[int, list] = {}
    for r in sorted(requests, key=lambda r: (r.arrival, r.id)):
        view.setdefault(r.queue_id, []).append(r)
    return view


def test_noop_keeps_the_order_it_was_given_and_merges_nothing():
    queues = {2: [req(5, file=2), req(6, file=2, offset=K)], 1: [req(7, file=1)]}
    assert host("NOOP").schedule(0.0, queues) == ([[5], [6], [7]], None)
    assert host("NOOP").schedule(0.0, queues, 2) == ([[5], [6]], None)


def test_to_is_first_come_first_served_by_arrival_then_id():
    trace = [req(1, at=3.0), req(2, at=1.0, offset=K), req(3, at=2.0), req(4, at=1.0)]
    assert host("TO").schedule(5.0, {0: trace}) == ([[2], [4], [3], [1]], None)
    result = simulate(host("TO"), trace, slots=1)
    assert result.order() == [[2], [4], [3], [1]]


def test_to_agg_joins_contiguous_requests_in_fifo_order():
    trace = [
        req(0, file=1, offset=0, at=0),
        req(1, file=2, offset=0, at=1),
        req(2, file=1, offset=K, at=2),             # extends unit of 0 at its end
        req(3, file=1, offset=2 * K, kind=READ, at=3),   # a read: its own unit
        req(4, file=1, offset=2 * K, at=4),         # extends 0+2 again
        req(5, file=2, offset=2 * K, at=5),         # gap after 1: own unit
        req(6, file=2, offset=K, at=6),             # fits after 1 and before 5: joins 1 only
        req(7, file=3, offset=K, at=7),
        req(8, file=3, offset=0, at=8),             # extends 7 at its front
    ]
    batch, sleep = host("TO-agg").schedule(9.0, {0: trace})
    assert batch == [[0, 2, 4], [1, 6], [3], [5], [8, 7]] and sleep is None


@pytest.mark.parametrize("name", ["TO-agg", "SJF", "MLF", "aIOLi", "SW", "TWINS", "WFQ"])
@pytest.mark.parametrize("cap,sizes", [(16, [16, 16, 8]), (4, [4] * 10), (1, [1] * 40)])
def test_aggregation_cap(name, cap, sizes):
    trace = [req(i, file=1, offset=i * K, at=i * 1e-6) for i in range(40)]
    merge = {"sw_twins_wfq_merge": True} if name in ("SW", "TWINS", "WFQ") else {}
    h = host(name, max_aggregation=cap, waiting_time=0, **merge)
    batch, _ = h.schedule(1.0, grouped(trace))
    assert [len(u) for u in batch] == sizes
    assert [i for u in batch for i in u] == list(range(40))


@pytest.mark.parametrize("name", ["NOOP", "TO"])
def test_noop_and_to_never_merge(name):
    trace = [req(i, file=1, offset=i * K) for i in range(4)]
    assert host(name).schedule(1.0, grouped(trace))[0] == [[0], [1], [2], [3]]


def sjf_trace():
    return [
        req(0, file=1, offset=0, length=16 * K, at=0),       # file 1 writes: 64K in total
        req(10, file=1, offset=32 * K, length=48 * K, at=0),
        req(1, file=2, offset=0, at=1),                       # file 2 writes: 8K, 2 units
        req(2, file=2, offset=2 * K, at=2),
        req(4, file=3, kind=READ, offset=0, length=4 * K, at=3),   # file 3 reads: 16K
        req(6, file=3, kind=READ, offset=4 * K, length=12 * K, at=3),
        req(5, file=3, offset=0, length=1024, at=4),         # file 3 writes: 2K
        req(7, file=3, offset=1024, length=1024, at=5),
    ]


def test_sjf_serves_the_queue_with_fewest_pending_bytes_first_and_drains_it():
    batch, sleep = host("SJF").schedule(6.0, grouped(sjf_trace()))
    assert batch == [[5, 7], [1], [2], [4, 6], [0], [10]] and sleep is None


def test_sjf_ties_go_to_the_lower_queue_id_then_to_reads():
    trace = [req(1, file=6, kind=WRITE), req(2, file=5, kind=WRITE, offset=K),
             req(3, file=5, kind=READ, offset=0)]
    assert host("SJF").schedule(0.0, grouped(trace))[0] == [[3], [2], [1]]


def test_sjf_limit_and_a_shorter_newcomer():
    """One slot: the long queue has started, a short request arrives and goes next."""
    trace = [req(i, file=1, offset=i * 128 * K, length=64 * K, at=0.0) for i in range(4)]
    trace.append(req(9, file=2, length=K, at=1e-5))
    result = simulate(host("SJF"), trace, slots=1)
    assert result.order() == [[0], [9], [1], [2], [3]]
    assert result.calls == 5
