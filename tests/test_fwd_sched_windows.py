"""SW, TWINS and WFQ: window order and exclusivity, target rotation, byte fairness."""

from __future__ import annotations

import math
import random

import pytest

from gkfs.forwarding.scheduling import SchedulerConfig, SchedulerHost
from gkfs.forwarding.scheduling.simulate import linear_service, make_request as req, simulate

K = 4096


def host(name: str, **config) -> SchedulerHost:
    return SchedulerHost(SchedulerConfig(default_algorithm=name, **config), strict=True)


# --- SW ----------------------------------------------------------------------------------------

def test_sw_serves_window_by_window_then_application_by_application():
    trace = [
        req(1, app=2, file=1, offset=K, at=0.1),
        req(2, app=1, file=2, offset=0, at=0.2),
        req(3, app=2, file=1, offset=0, at=0.3),     # app 2's file in offset order, merged
        req(4, app=1, file=2, offset=K, at=0.9),     # merged with 2
        req(5, app=2, file=3, offset=0, at=1.2),     # window 1
        req(6, app=1, file=4, offset=0, at=1.5),     # window 1, app 1 first despite arriving later
        req(7, app=1, file=5, offset=0, at=0.25),    # app 1, window 0, another file: after file 2
    ]
    batch, sleep = host("SW", SW_window=1000, sw_twins_wfq_merge=True).schedule(2.0, {0: trace})
    assert batch == [[2, 4], [7], [3, 1], [6], [5]] and sleep is None


def sw_key(r, width):
    return (math.floor(r.arrival / width), r.app_id)


@pytest.mark.parametrize("seed", range(5))
def test_sw_never_serves_a_group_while_an_earlier_one_waits(seed):
    """At every dispatch, no pending request belongs to an earlier (window, application)
    group: an application's requests wait for its turn in the window."""
    rng = random.Random(seed)
    width = 0.010
    trace = [req(i, app=rng.randrange(3), file=rng.randrange(4), offset=rng.randrange(64) * K,
                 at=rng.uniform(0, 0.05)) for i in range(300)]
    result = simulate(host("SW", SW_window=10), trace, slots=2,
                      service=linear_service(latency=3e-4))
    dispatched_at = {r.id: (d.time, n) for n, d in enumerate(result.dispatches) for r in d.unit}
    for n, d in enumerate(result.dispatches):
        key = min(sw_key(r, width) for r in d.unit)
        waiting = [r for r in trace if r.arrival <= d.time and dispatched_at[r.id] > (d.time, n)]
        assert all(sw_key(r, width) >= key for r in waiting), (n, d)
    assert sorted(result.flat()) == list(range(300))


# --- TWINS -------------------------------------------------------------------------------------

class WindowLog:
    """Wraps a TWINS scheduler: records (start, target) of every window it opens."""

    def __init__(self, h: SchedulerHost) -> None:
        self.windows: list[tuple[float, int]] = []
        inner = h.scheduler.schedule

        def schedule(now, queues):
            result = inner(now, queues)
            window = (h.scheduler.window_start, h.scheduler.current_target)
            if not self.windows or self.windows[-1] != window:
                self.windows.append(window)
            return result
        h.scheduler.schedule = schedule


@pytest.mark.parametrize("targets", [0, 3])
def test_twins_windows_are_exclusive_per_target(targets):
    rng = random.Random(7)
    trace = [req(i, target=rng.randrange(3), file=rng.randrange(6),
                 offset=rng.randrange(256) * K, at=i * 5e-5) for i in range(400)]
    h = host("TWINS", twins_window=1000, twins_targets=targets)   # 1 ms windows
    log = WindowLog(h)
    result = simulate(h, trace, slots=2, service=linear_service(latency=2e-4))
    assert sorted(result.flat()) == list(range(400))
    width = 1e-3
    for d in result.dispatches:
        start, target = max(w for w in log.windows if w[0] <= d.time)
        assert all(r.target == target for r in d.unit)
        assert d.time < start + width
    starts = [s for s, _ in log.windows]
    assert all(b - a >= width for a, b in zip(starts, starts[1:]))
    rotation = [t for _, t in log.windows]
    if targets:
        assert rotation == [i % 3 for i in range(len(rotation))]


def test_twins_static_rotation_idles_through_a_targets_window():
    h = host("TWINS", twins_window=1000, twins_targets=3)
    queues = {0: [req(1, target=0), req(2, target=2, at=0.0)]}
    assert h.schedule(0.0, queues) == ([[1]], pytest.approx(1e-3))
    queues = {0: [req(2, target=2)]}
    assert h.schedule(0.0011, queues) == ([], pytest.approx(1e-3))      # target 1: idle
    assert h.schedule(0.0022, queues) == ([[2]], None)                 # target 2


def test_twins_dynamic_rotation_skips_targets_without_requests():
    h = host("TWINS", twins_window=1000)
    assert h.schedule(0.0, {0: [req(1, target=5), req(2, target=9)]}) == \
        ([[1]], pytest.approx(1e-3))
    assert h.schedule(0.001, {0: [req(2, target=9)]}) == ([[2]], None)


# --- WFQ ---------------------------------------------------------------------------------------

def test_wfq_deficit_round_robin_order():
    """Weights 8 KiB and 16 KiB, 4 KiB requests: two of app 1, four of app 2, per round."""
    trace = [req(i, app=1, file=1, offset=2 * i * K) for i in range(6)] + \
            [req(100 + i, app=2, file=2, offset=2 * i * K) for i in range(10)]
    h = host("WFQ", wfq_weights={1: 2 * K, 2: 4 * K}, wfq_weights_by="app")
    batch, sleep = h.schedule(0.0, {0: trace})
    assert batch == [[0], [1], [100], [101], [102], [103], [2], [3], [104], [105], [106],
                     [107], [4], [5], [108], [109]]


def drr_reference(trace, weights):
    """Textbook deficit round robin over apps, one request at a time, no merging."""
    queues = {}
    for r in sorted(trace, key=lambda r: (r.arrival, r.id)):
        queues.setdefault(r.app_id, []).append(r)
    deficit, order = {a: 0 for a in queues}, []
    while any(queues.values()):
        for app in sorted(queues):
            if not queues[app]:
                continue
            deficit[app] += weights[app]
            while queues[app] and queues[app][0].length <= deficit[app]:
                r = queues[app].pop(0)
                deficit[app] -= r.length
                order.append(r.id)
            if not queues[app]:
                deficit[app] = 0
    return order


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("limit", [None, 1, 3])
def test_wfq_matches_textbook_drr_even_with_tiny_weights(seed, limit):
    rng = random.Random(seed)
    weights = {1: rng.choice([100, 4096, 70000]), 2: rng.choice([1, 300, 9000]),
               3: rng.choice([50, 5000])}
    trace = [req(i, app=rng.choice([1, 2, 3]), file=i, length=rng.randrange(1, 65) * 512)
             for i in range(120)]
    h = host("WFQ", wfq_weights=weights, wfq_weights_by="app")
    left, got = list(trace), []
    while left:
        batch, _ = h.schedule(0.0, {0: left}, limit)
        got += [u[0] for u in batch]
        done = {u[0] for u in batch}
        left = [r for r in left if r.id not in done]
    assert got == drr_reference(trace, weights)


def test_wfq_bytes_are_shared_in_proportion_to_weights():
    """Two backlogged applications, weights 1:3, random sizes, merging on: along the whole
    run, bytes/weight of the two differ by at most one round plus one unit/smaller weight."""
    rng = random.Random(3)
    w1, w2 = 256 * K // 4, 3 * 256 * K // 4
    trace = []
    for app, file in ((1, 1), (2, 2)):
        offset = 0
        for i in range(400):
            length = rng.randrange(1, 17) * K
            if rng.random() < 0.3:
                offset += K                          # a gap now and then
            trace.append(req(len(trace), app=app, file=file, offset=offset, length=length,
                             at=i * 1e-6))
            offset += length
    h = host("WFQ", wfq_weights={1: w1, 2: w2}, wfq_weights_by="app", sw_twins_wfq_merge=True)
    result = simulate(h, trace, slots=1)
    served = {1: 0, 2: 0}
    total = {1: sum(r.length for r in trace if r.app_id == 1),
             2: sum(r.length for r in trace if r.app_id == 2)}
    biggest = max(d.bytes for d in result.dispatches)
    for d in result.dispatches:
        served[d.unit[0].app_id] += d.bytes
        if served[1] == total[1] or served[2] == total[2]:
            break                                   # one of them is no longer backlogged
        gap = abs(served[1] / w1 - served[2] / w2)
        assert gap <= 1 + biggest / min(w1, w2)
    assert served[2] == total[2] and 2.8 < served[2] / served[1] < 3.2


# --- AGIOS semantics by default (issue 13) -------------------------------------------------

def contiguous(n, app=1, at=0.0):
    return [req(i, app=app, file=1, offset=i * K, at=at + i * 1e-6) for i in range(n)]


@pytest.mark.parametrize("name", ["SW", "TWINS", "WFQ"])
def test_sw_twins_wfq_do_not_merge_unless_configured(name):
    assert host(name).schedule(0.0, {0: contiguous(4)})[0] == [[0], [1], [2], [3]]
    merging = host(name, sw_twins_wfq_merge=True)
    assert merging.schedule(0.0, {0: contiguous(4)})[0] == [[0, 1, 2, 3]]


def test_wfq_weights_are_by_queue_position_by_default():
    """AGIOS: the i-th weight is the i-th queue's; queues are numbered as their application
    first reaches the I/O node (here app 900, then app 100), and take turns in that order."""
    trace = [req(i, app=900, file=1, offset=2 * i * K, at=0.1) for i in range(6)] + \
            [req(100 + i, app=100, file=2, offset=2 * i * K, at=0.2) for i in range(10)]
    h = host("WFQ", wfq_weights={0: 2 * K, 1: 4 * K})
    batch, _ = h.schedule(0.0, {0: trace})
    assert batch == [[0], [1], [100], [101], [102], [103], [2], [3], [104], [105], [106],
                     [107], [4], [5], [108], [109]]
    by_app = host("WFQ", wfq_weights={900: 2 * K, 100: 4 * K}, wfq_weights_by="app")
    assert by_app.schedule(0.0, {0: trace})[0][:6] == [[100], [101], [102], [103], [0], [1]]
