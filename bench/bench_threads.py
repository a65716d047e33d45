"""Threads of one process (issue 11): 1, 2 and 4 pthreads of one process doing stat calls and
4 KiB sequential reads through the preload library (C driver gkfs_threads_driver), beside the
same driver on tmpfs, in the same run. What it shows: whether a client's calls overlap when
several threads issue them (× N threads / 1 thread), and how far each is from tmpfs.

One driver run measures every thread count in turn (the counts' ratios come from the same
minute); each round runs it on a fresh /dev/shm directory first (the baseline), then on gkfs.
The driver checks every stat (regular file, size 0) and every page read (a stamp of its file
and offset): wrong data fails the run.
"""

from __future__ import annotations

from harness import cases, driver, record, run_json

THREADS = (1, 2, 4)
METRICS = ("stat_ops", "read_ops", "read_gbs")


def _case(transport: str, daemons: int, stats: int, reads: int) -> dict:
    return {"transport": transport, "daemons": daemons, "stats": stats, "reads": reads}


def flatten(objects: list[dict]) -> dict[str, float]:
    """The driver's lines (one per thread count) as one round: {stat_ops_t1: ..., ...}."""
    return {f"{k}_t{o['threads']}": o[k] for o in objects for k in METRICS}


@cases(full=[_case(t, d, 20000, 8192) for t in ("shm", "tcp") for d in (1, 2)],
       quick=[_case("shm", 1, 5000, 2048)])
def test_threads(case, fs_pool, shm_dir, rounds, benchmark):
    fs = fs_pool.get(case["transport"], case["daemons"])
    exe = driver("gkfs_threads_driver")
    args = ["-t", ",".join(str(t) for t in THREADS), "-s", str(case["stats"]),
            "-r", str(case["reads"])]
    gkfs_rows, base_rows = [], []

    def baseline() -> None:
        base_rows.append(flatten(run_json([exe, "-d", shm_dir, *args])))

    def measured() -> None:
        gkfs_rows.append(flatten(run_json([exe, "-d", fs.mountdir, *args], env=fs.env)))

    benchmark.pedantic(measured, setup=baseline, rounds=rounds, iterations=1)
    fs.assert_clean()
    record(benchmark, "threads", case, gkfs_rows, base_rows, list(gkfs_rows[0]))
