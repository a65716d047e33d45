"""MLF and aIOLi: level demotion, quantum growth and its byte bound, FIFO between files, and
the waiting times for a shift phenomenon or a better aggregation."""

from __future__ import annotations

import pytest

from gkfs.forwarding.scheduling import READ, WRITE, SchedulerConfig, SchedulerHost
from gkfs.forwarding.scheduling.aioli import adjust_quantum
from gkfs.forwarding.scheduling.simulate import make_request as req, simulate

K = 4096


def host(name: str, **config) -> SchedulerHost:
    config.setdefault("waiting_time", 0)
    return SchedulerHost(SchedulerConfig(default_algorithm=name, **config), strict=True)


def grouped(requests) -> dict[int, list]:
    view: dict[int, list] = {}
    for r in sorted(requests, key=lambda r: (r.arrival, r.id)):
        view.setdefault(r.queue_id, []).append(r)
    return view


def pending(trace, batches) -> list:
    done = {i for b in batches for u in b for i in u}
    return [r for r in trace if r.id not in done]


# --- MLF ---------------------------------------------------------------------------------------

def mlf_trace():
    """File 1: one 64 KiB write. File 2: five separate 4 KiB writes."""
    return [req(0, file=1, length=16 * K)] + \
        [req(i, file=2, offset=(i - 1) * 2 * K) for i in range(1, 6)]


def test_mlf_small_requests_first_large_one_after_its_demotions():
    h = host("MLF", mlf_quantum=2 * K)
    batch, sleep = h.schedule(0.0, grouped(mlf_trace()))
    # rounds: 1: f2 [1] (f1 at level 0: 8K < 64K) 2: [2] 3: [3] 4: f1 fits (8K*2^3) [0], [4]
    assert batch == [[1], [2], [3], [0], [4], [5]] and sleep is None


def test_mlf_level_demotion_one_round_at_a_time():
    h = host("MLF", mlf_quantum=2 * K)
    trace, levels, batches = mlf_trace(), [], []
    while pending(trace, batches):
        batches.append(h.schedule(0.0, grouped(pending(trace, batches)), 1)[0])
        levels.append(h.scheduler.level.get(0))
    assert batches == [[[1]], [[2]], [[3]], [[0]], [[4]], [[5]]]
    assert levels[:4] == [0, 1, 2, 3]        # demoted once per round until 8K << 3 >= 64K


def test_mlf_a_units_quantum_is_the_sum_of_its_requests():
    """Four contiguous 8 KiB requests merge into 32 KiB; 4 x 8K covers it in round one."""
    trace = [req(i, file=1, offset=i * 2 * K, length=2 * K) for i in range(4)]
    trace.append(req(9, file=2, length=8 * K))   # alone: needs a second round
    batch, _ = host("MLF", mlf_quantum=2 * K).schedule(0.0, grouped(trace))
    assert batch == [[0, 1, 2, 3], [9]]


def test_mlf_reads_before_writes_and_writes_wait_unexamined():
    trace = [req(1, file=1, kind=WRITE, length=2 * K), req(2, file=1, kind=READ, offset=8 * K),
             req(3, file=1, kind=READ, offset=0, length=4 * K)]
    h = host("MLF", mlf_quantum=K)
    assert h.schedule(0.0, grouped(trace))[0] == [[2], [3], [1]]
    # rounds: 1 read 2; 2 no read fits, write 1 examined (level 0, 4K < 8K); 3 read 3 (16K);
    # 4 write 1 at level 1. It was not demoted in rounds 1 and 3, when a read went.
    assert h.scheduler.level[1] == 1


# --- aIOLi -------------------------------------------------------------------------------------

@pytest.mark.parametrize("used,quantum,expected", [
    (175, 100, 200), (400, 100, 200), (125, 100, 150), (174, 100, 150), (75, 100, 100),
    (124, 100, 100), (74, 100, 50), (0, 100, 50),
])
def test_adjust_quantum_steps(used, quantum, expected):
    assert adjust_quantum(used, quantum, base=1, cap=10**9) == expected


def test_adjust_quantum_is_bounded_in_bytes():
    assert adjust_quantum(10 * 8192, 3 * 8192, base=8192, cap=4 * 8192) == 4 * 8192
    assert adjust_quantum(0, 8192, base=8192, cap=4 * 8192) == 8192


def turns(h, trace):
    """Calls with limit 1 until done: the batches and next_quantum after each."""
    batches, quanta = [], []
    while pending(trace, batches):
        batches.append(h.schedule(0.0, grouped(pending(trace, batches)), 1)[0])
        quanta.append(h.scheduler.next_quantum.get((1, WRITE)))
    return batches, quanta


def test_aioli_quantum_grows_with_what_a_turn_serves():
    """16 contiguous 8 KiB writes, merged by 4 into 32 KiB units, aioli_quantum 8 KiB."""
    trace = [req(i, file=1, offset=i * 2 * K, length=2 * K, at=i * 1e-6) for i in range(16)]
    h = host("aIOLi", aioli_quantum=2 * K, max_aggregation=4)
    batches, quanta = turns(h, trace)
    assert batches == [[[0, 1, 2, 3]], [[4, 5, 6, 7]], [[8, 9, 10, 11]], [[12, 13, 14, 15]]]
    # first turn: quantum 0, one unit, then aioli_quantum; 32K of 8K: x2; 32K of 16K: x2;
    # 32K of 32K: kept. 32K = max_aggregation * aioli_quantum, the bound.
    assert quanta == [8 * K // 4, 16 * K // 4, 32 * K // 4, 32 * K // 4]


def test_aioli_quantum_bound_is_bytes_not_a_request_count():
    """64 KiB writes, quantum 8 KiB, max_aggregation 2: the bound is 16 KiB (AGIOS would
    clamp the byte quantum to 2)."""
    trace = [req(i, file=1, offset=i * 32 * K, length=16 * K) for i in range(4)]
    _, quanta = turns(host("aIOLi", aioli_quantum=2 * K, max_aggregation=2), trace)
    assert quanta == [8192, 16384, 16384, 16384]


def test_aioli_turn_serves_several_units_within_its_quantum():
    """Once file 1's quantum is 32 KiB, a turn takes four separate 8 KiB writes."""
    h = host("aIOLi", aioli_quantum=2 * K, max_aggregation=4)
    h.scheduler.next_quantum[(1, WRITE)] = 8 * K
    trace = [req(i, file=1, offset=i * 4 * K, length=2 * K, at=float(i)) for i in range(6)]
    trace.append(req(9, file=2, length=2 * K, at=1.5))
    batch, _ = h.schedule(10.0, grouped(trace))
    assert batch == [[0], [1], [2], [3], [9], [4], [5]]
    # file 1's turn used 32K of 32K (kept), file 2's first turn gave it aioli_quantum, file 1's
    # second turn used 16K of 32K (halved)
    assert h.scheduler.next_quantum == {(1, WRITE): 4 * K, (2, WRITE): 2 * K}


def test_aioli_is_fifo_between_files_and_reads_first_within_a_file():
    trace = [req(1, file=1, kind=WRITE, at=0.0), req(2, file=1, kind=READ, offset=K, at=1.0),
             req(3, file=2, kind=WRITE, at=0.5)]
    assert host("aIOLi").schedule(2.0, grouped(trace))[0] == [[3], [2], [1]]


def test_aioli_head_needs_a_quantum_that_covers_it():
    """A 256 KiB head needs its quantum doubled twice (64K, 128K, 256K): meanwhile the small
    head of another file, newer, goes first."""
    trace = [req(1, file=1, length=64 * K, at=0.0), req(2, file=2, length=K, at=1.0)]
    assert host("aIOLi").schedule(2.0, grouped(trace))[0] == [[2], [1]]


# --- waiting times (both) ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["MLF", "aIOLi"])
def test_wait_for_a_better_aggregation(name):
    h = host(name, waiting_time=900_000, aioli_quantum=2 * K, mlf_quantum=2 * K)
    first = [req(i, file=1, offset=i * 2 * K, length=2 * K) for i in range(4)]
    assert h.schedule(0.0, grouped(first)) == ([[0, 1, 2, 3]], None)   # 4 merged, 0..32K
    late = req(4, file=1, offset=10 * K, length=2 * K)    # at 40K: a gap after 32K
    batch, sleep = h.schedule(1.0, grouped([late]))
    assert batch == [] and sleep == pytest.approx(900e-6)
    batch, sleep = h.schedule(1.0005, grouped([late]))
    assert batch == [] and sleep == pytest.approx(400e-6)
    gap = req(5, file=1, offset=8 * K, length=2 * K, at=1.0008)
    assert h.schedule(1.001, grouped([late, gap])) == ([[5, 4]], None)


@pytest.mark.parametrize("name", ["MLF", "aIOLi"])
def test_wait_after_a_shift_phenomenon(name):
    h = host(name, waiting_time=900_000)
    assert h.schedule(0.0, grouped([req(0, file=1, offset=64 * K)]))[0] == [[0]]
    assert h.schedule(0.1, grouped([req(1, file=1, offset=0)]))[0] == [[1]]  # below: shift
    ahead = req(2, file=1, offset=16 * K)    # beyond the predicted 4K: wait once
    other = req(3, file=2, offset=0)         # another file is not held back
    batch, sleep = h.schedule(0.2, grouped([ahead, other]))
    assert batch == [[3]] and sleep == pytest.approx(900e-6)
    assert h.schedule(0.2011, grouped([ahead]))[0] == [[2]]    # waited once, then goes


@pytest.mark.parametrize("name", ["MLF", "aIOLi"])
def test_waiting_never_stalls_a_simulated_run(name):
    trace = [req(i, file=i % 3, offset=(i // 3) * K * (1 + i % 2), at=i * 1e-4)
             for i in range(60)]
    result = simulate(host(name, waiting_time=900_000), trace, slots=2)
    assert sorted(result.flat()) == list(range(60))
