"""Metadata benchmarks (mdtest-like): create, stat and remove of many empty files, in one
directory (flat) and in a tree, through the preload library (C driver gkfs_md_driver, no
Python measured) and through gkfs.Client (bench/py_md_driver.py).

Baseline: each round first runs the same driver on a fresh /dev/shm directory (tmpfs) with
the same processes and files, so gkfs and tmpfs are measured side by side under the same
machine load. The drivers check their own work (listing, stat results); afterwards the gkfs
root and the baseline directory must be empty.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness import cases, driver, record, run_json

FILES = 1000          # per process, md_driver
PY_FILES = 500        # per process, py_md_driver
MD_KEYS = ("mkdir_ops", "create_ops", "stat_ops", "remove_ops", "rmdir_ops", "create_s",
           "stat_s", "remove_s")
PY_DRIVER = str(Path(__file__).with_name("py_md_driver.py"))


def _grid(modes: tuple[str, ...]) -> list[dict]:
    return [{"transport": t, "daemons": d, "procs": p, "mode": m}
            for t in ("shm", "tcp") for d in (1, 2, 4) for p in (1, 2, 4) for m in modes]


# "default": a plain `gkfs-ctl start`, beside the two transports it could be (issue 11, obs. 5).
TARGETS = [{"transport": t, "daemons": 1, "procs": 2, "mode": "flat"}
           for t in ("shm", "tcp", "default")]


@cases(full=_grid(("flat", "tree")), quick=TARGETS)
def test_md_preload(case, fs_pool, shm_dir, rounds, benchmark):
    fs = fs_pool.get(case["transport"], case["daemons"])
    md = driver("gkfs_md_driver")
    args = [str(FILES), str(case["procs"]), case["mode"]]
    gkfs_rows, base_rows = [], []

    def baseline() -> None:
        base_rows.extend(run_json([md, shm_dir, *args]))

    def measured() -> None:
        gkfs_rows.extend(run_json([md, fs.mountdir, *args], env=fs.env))

    benchmark.pedantic(measured, setup=baseline, rounds=rounds, iterations=1)
    fs.assert_clean()
    record(benchmark, "md_preload", case, gkfs_rows, base_rows, MD_KEYS)


@cases(full=_grid(("flat",)), quick=TARGETS)
def test_md_client(case, fs_pool, shm_dir, rounds, benchmark):
    fs = fs_pool.get(case["transport"], case["daemons"])
    args = ["--files", str(PY_FILES), "--procs", str(case["procs"])]
    gkfs_rows, base_rows = [], []

    def baseline() -> None:
        base_rows.extend(run_json([sys.executable, PY_DRIVER, "--dir", shm_dir, *args]))

    def measured() -> None:
        gkfs_rows.extend(run_json([sys.executable, PY_DRIVER, "--gkfs", fs.hosts_file, *args],
                                  env=fs.env_without_preload()))

    benchmark.pedantic(measured, setup=baseline, rounds=rounds, iterations=1)
    fs.assert_clean()
    record(benchmark, "md_client", case, gkfs_rows, base_rows, MD_KEYS)
