"""The scheduler plug-in contract: SchedulerHost's checks and fallback, plug-in loading, and
the reference dispatcher's rules (simulate.py)."""

from __future__ import annotations

import logging

import pytest

from gkfs.forwarding.scheduling import (READ, WRITE, Completion, ContractError, Request,
                                        Scheduler, SchedulerConfig, SchedulerHost)
from gkfs.forwarding.scheduling.simulate import SimulationError, make_request as req, simulate


class Scripted(Scheduler):
    """Returns whatever the test put in `answer`; records what it was given."""

    name = "scripted"

    def init(self, config) -> None:
        super().init(config)
        self.answer = ([], None)
        self.seen = []
        self.completed = []

    def schedule(self, now, queues):
        self.seen.append((now, {q: list(rs) for q, rs in queues.items()}, queues.limit))
        return self.answer

    def on_complete(self, stats):
        self.completed.extend(stats)


class LargestFirst(Scheduler):
    """The plug-in example of docs/forwarding.md."""

    name = "largest-first"

    def schedule(self, now, queues):
        ordered = sorted(queues.requests(), key=lambda r: -r.length)
        return [[r.id] for r in ordered[:queues.limit]], None


def scripted_host(**kwargs) -> SchedulerHost:
    return SchedulerHost(SchedulerConfig(max_aggregation=4), scheduler=Scripted(), **kwargs)


def four_writes() -> dict[int, list[tuple]]:
    """Plain tuples as C++ hands them over: file 7, 4 KiB writes at 0, 4K, 8K; a read."""
    return {7: [(1, 0, 7, 0, WRITE, 0, 4096, 0.0), (2, 0, 7, 0, WRITE, 4096, 4096, 0.1),
                (3, 0, 7, 0, WRITE, 8192, 4096, 0.2), (4, 0, 7, 0, READ, 12288, 4096, 0.3)]}


def test_plain_tuples_become_requests_and_batches_come_back_as_lists():
    host = scripted_host(strict=True)
    host.scheduler.answer = ([(1, 2, 3)], 0.5)
    batch, sleep = host.schedule(10.0, four_writes(), 4)
    assert batch == [[1, 2, 3]] and sleep == 0.5
    now, seen, limit = host.scheduler.seen[0]
    assert (now, limit) == (10.0, 4)
    assert seen[7][1] == Request(2, 0, 7, 0, WRITE, 4096, 4096, 0.1)
    assert seen[7][1].end == 8192


@pytest.mark.parametrize("answer,message", [
    (([[9]], None), "request 9 is not pending"),
    (([[1], [1]], None), "dispatched twice"),
    (([[1, 3]], None), "does not continue"),          # a gap
    (([[2, 1]], None), "does not continue"),          # not in offset order
    (([[3, 4]], None), "does not continue"),          # a write and a read
    (([[]], None), "must hold 1..4"),
    (([[1], [2], [3]], None), "limit is 2"),
    (([[1]], -1.0), "sleep must be"),
    (([[1]], float("nan")), "sleep must be"),
    (([], None), "work-conserving"),
])
def test_contract_violations_are_named(answer, message):
    host = scripted_host(strict=True)
    host.scheduler.answer = answer
    with pytest.raises(ContractError, match=message):
        host.schedule(1.0, four_writes(), 2)


def test_merging_is_capped_by_max_aggregation():
    host = scripted_host(strict=True)
    queue = {1: [req(i, file=1, offset=4096 * i) for i in range(5)]}
    host.scheduler.answer = ([[0, 1, 2, 3, 4]], None)
    with pytest.raises(ContractError, match="1..4 requests"):
        host.schedule(0.0, queue)


def test_a_broken_plugin_falls_back_to_time_order_and_is_logged(caplog):
    host = scripted_host()
    host.scheduler.answer = ([[1, 3]], None)
    with caplog.at_level(logging.ERROR, logger="gkfs.forwarding"):
        batch, sleep = host.schedule(1.0, four_writes(), 3)
    assert batch == [[1], [2], [3]] and sleep is None
    assert host.errors == 1
    assert "falls back to time order" in caplog.text

    def explode(now, queues):
        raise RuntimeError("boom")
    host.scheduler.schedule = explode
    assert host.schedule(1.0, four_writes())[0] == [[1], [2], [3], [4]]
    assert host.errors == 2


def test_flags_are_read_from_the_instance():
    assert SchedulerHost(SchedulerConfig(default_algorithm="TO")).work_conserving
    aioli = SchedulerHost(SchedulerConfig(default_algorithm="aIOLi"))
    assert not aioli.work_conserving and aioli.needs_queue_ids and not aioli.needs_targets
    no_wait = SchedulerHost(SchedulerConfig(default_algorithm="aIOLi", waiting_time=0))
    assert no_wait.work_conserving
    assert SchedulerHost(SchedulerConfig(default_algorithm="TWINS")).needs_targets


def test_plugin_by_module_and_class_name():
    host = SchedulerHost(SchedulerConfig(default_algorithm="test_fwd_contract:LargestFirst"),
                         strict=True)
    queue = {0: [req(1, length=10), req(2, length=30), req(3, length=20)]}
    assert host.schedule(0.0, queue)[0] == [[2], [3], [1]]


@pytest.mark.parametrize("name", ["NoSuch", "no_such_module:X", "test_fwd_contract:Scripted2",
                                  "logging:Logger"])
def test_unknown_or_unsuitable_scheduler_is_refused(name):
    with pytest.raises(LookupError):
        SchedulerHost(SchedulerConfig(default_algorithm=name))


def test_simulator_calls_with_free_slots_and_reports_completions():
    host = scripted_host(strict=True)
    sched = host.scheduler
    trace = [req(i, file=i, at=0.0) for i in range(3)]
    answers = iter([([[0], [1]], None), ([[2]], None)])

    def schedule(now, queues):
        Scripted.schedule(sched, now, queues)
        return next(answers)
    sched.schedule = schedule
    result = simulate(host, trace, slots=2, service=lambda unit: 1.0)
    assert [(d.time, d.ids) for d in result.dispatches] == [(0.0, [0]), (0.0, [1]), (1.0, [2])]
    assert [s[2] for s in sched.seen] == [2, 2]            # limit = free slots
    assert [[r.id for rs in s[1].values() for r in rs] for s in sched.seen] == [[0, 1, 2], [2]]
    assert sorted(c.ids for c in sched.completed) == [(0,), (1,), (2,)]
    done = {c.ids: c for c in sched.completed}
    assert done[(2,)] == Completion((2,), 4096, 1.0, 1.0, 0)


def test_simulator_detects_a_stall():
    host = SchedulerHost(SchedulerConfig(), scheduler=Scripted())
    host.scheduler.work_conserving = False
    with pytest.raises(SimulationError, match="left pending"):
        simulate(host, [req(1)])


def test_simulator_detects_a_spin():
    host = SchedulerHost(SchedulerConfig(), scheduler=Scripted())
    host.scheduler.work_conserving = False
    host.scheduler.answer = ([], 0.0)
    with pytest.raises(SimulationError, match="called"):
        simulate(host, [req(1)])


def test_simulator_wakes_the_scheduler_after_sleep():
    host = SchedulerHost(SchedulerConfig(), scheduler=Scripted(), strict=True)
    sched = host.scheduler
    sched.work_conserving = False
    answers = iter([([], 0.25), ([[1]], None)])

    def schedule(now, queues):
        Scripted.schedule(sched, now, queues)
        return next(answers)
    sched.schedule = schedule
    result = simulate(host, [req(1, at=1.0)])
    assert [d.time for d in result.dispatches] == [1.25]
    assert [s[0] for s in sched.seen] == [1.0, 1.25]


def test_target_concurrency_holds_a_busy_targets_requests_back_so_they_merge():
    h = SchedulerHost(SchedulerConfig(default_algorithm="TO-agg", target_concurrency=1),
                      strict=True)
    assert h.schedule(0.0, {1: [req(1, file=1, target=5, offset=0)]}, 8) == ([[1]], None)
    later = {1: [req(2, file=1, target=5, offset=4096, at=0.1),
                 req(3, file=1, target=5, offset=8192, at=0.2)],
             2: [req(4, file=2, target=6, offset=0, at=0.3)]}
    assert h.schedule(0.4, later, 7) == ([[4]], None)  # target 5 is busy: 2 and 3 wait
    h.on_complete([Completion((1,), 4096, 0.0, 1e-3, 0)])
    assert h.schedule(0.5, {1: later[1]}, 7) == ([[2, 3]], None)  # merged once 5 is free


@pytest.mark.parametrize("cap", [0, 1])
def test_target_concurrency_bounds_the_units_in_service_per_target(cap):
    """16 contiguous writes to one target, 8 I/O slots, 1 ms per PFS operation: without a
    limit they leave in small units side by side; with 1, one unit at a time, larger."""
    trace = [req(i, file=1, target=3, offset=i * 4096, at=i * 1e-4) for i in range(16)]
    h = SchedulerHost(SchedulerConfig(default_algorithm="TO-agg", target_concurrency=cap),
                      strict=True)
    result = simulate(h, trace, slots=8, service=lambda unit: 1e-3)
    assert sorted(result.flat()) == list(range(16))
    spans = [(d.time, d.time + 1e-3) for d in result.dispatches]
    overlapping = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    if cap:
        assert overlapping == 1 and len(result.dispatches) <= 3
    else:
        assert overlapping > 1 and len(result.dispatches) > 3


def test_aggregation_size_holds_a_small_unit_until_it_grows_or_has_waited():
    """aggregation_size = 16 KiB, aggregation_wait = 1 ms: a 4 KiB unit is held (sleep: the
    rest of its wait) while contiguous requests may join it; it goes once it has 16 KiB, or
    smaller once its oldest request has waited 1 ms."""
    h = SchedulerHost(SchedulerConfig(default_algorithm="TO-agg", aggregation_size=16384,
                                      aggregation_wait=1000), strict=True)
    first = [req(1, file=1, offset=0, at=0.0)]
    batch, sleep = h.schedule(0.0002, {1: first}, 8)
    assert batch == [] and sleep == pytest.approx(0.0008)
    grown = first + [req(i, file=1, offset=(i - 1) * 4096, at=0.0003) for i in (2, 3, 4)]
    assert h.schedule(0.0004, {1: grown}, 8) == ([[1, 2, 3, 4]], None)
    late = [req(5, file=2, offset=0, at=0.001)]
    assert h.schedule(0.0021, {2: late}, 8) == ([[5]], None)  # waited its 1 ms: goes alone


@pytest.mark.parametrize("size", [0, 16384])
def test_aggregation_size_forms_larger_units_from_spread_arrivals(size):
    """16 contiguous 4 KiB writes arriving 100 µs apart, 8 slots, 1 ms per PFS operation:
    without holding the first goes alone; holding up to 16 KiB (1 ms at most) forms units of
    at least 16 KiB except perhaps the last, and every request is dispatched once."""
    trace = [req(i, file=1, offset=i * 4096, at=i * 1e-4) for i in range(16)]
    h = SchedulerHost(SchedulerConfig(default_algorithm="TO-agg", aggregation_size=size,
                                      aggregation_wait=1000), strict=True)
    result = simulate(h, trace, slots=8, service=lambda unit: 1e-3)
    assert sorted(result.flat()) == list(range(16))
    sizes = [len(d.unit) for d in result.dispatches]
    if size:
        assert all(n >= 4 for n in sizes[:-1])
    else:
        assert sizes[0] == 1


@pytest.mark.parametrize("cap", [0, 1])
@pytest.mark.parametrize("algorithm", ["NOOP", "TO", "TO-agg", "SJF", "MLF", "aIOLi", "SW",
                                       "TWINS", "WFQ"])
def test_holding_dispatches_every_request_once_with_every_scheduler(algorithm, cap):
    """aggregation_size with each built-in scheduler, with and without target_concurrency:
    every request goes exactly once, and the end of a hold neither stalls nor spins (a
    sleep that rounds to just below the deadline once made it spin)."""
    h = SchedulerHost(SchedulerConfig(default_algorithm=algorithm, aggregation_size=16384,
                                      aggregation_wait=500, waiting_time=0,
                                      target_concurrency=cap), strict=True)
    trace = [req(i, app=i % 2, file=i % 3, target=i % 2, offset=(i // 3) * 4096, at=i * 1e-4)
             for i in range(30)]
    result = simulate(h, trace, slots=4, service=lambda unit: 1e-3)
    assert sorted(result.flat()) == list(range(30))
