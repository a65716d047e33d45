"""FUSE benchmarks (issue 12): the same C drivers (gkfs_io_driver, gkfs_md_driver) run three
ways in each round, under the same machine load: on tmpfs (/dev/shm), on gkfs through the
preload library, and on gkfs through the FUSE mount of the same file system (not preloaded).
One daemon (shared memory to the local daemon), one process; the default FUSE mount (no
kernel caching), a --cache mount and a --writeback mount.

Recorded as suite ``fuse_io`` / ``fuse_md``: the median is FUSE's, the baseline the
preload's (FUSE/preload is the ratio of the targets: 1 MiB sequential >= 0.5, metadata >=
0.25), with tmpfs's medians in ``tmpfs_median``. The drivers check their own data.
"""

from __future__ import annotations

import pytest

from harness import FileSystem, cases, driver, medians, record, run_json

IO_KEYS = ("write_gbs", "read_gbs", "write_ops", "read_ops")
MD_KEYS = ("create_ops", "stat_ops", "remove_ops")
MD_FILES = 1000

MOUNTS = ("default", "cache", "writeback")
IO_CASES = [{"mount": m, "xfer": "1M", "block": "64M", "access": "seq"} for m in MOUNTS] + \
           [{"mount": m, "xfer": "4K", "block": "4M", "access": "random"} for m in MOUNTS]
MD_CASES = [{"mount": m} for m in MOUNTS]


@pytest.fixture(scope="module")
def fuse_fs():
    """One file system per mount mode, started on first use and kept for the module."""
    started: dict[str, FileSystem] = {}

    def get(mount: str) -> FileSystem:
        if mount not in started:
            args = ["--fuse"] + ([f"--{mount}"] if mount != "default" else [])
            started[mount] = FileSystem("shm", 1, daemon_args=args).start()
        return started[mount]

    yield get
    for fs in started.values():
        fs.stop()


def three_ways(benchmark, rounds, fs, shm_dir, argv_for, keys, suite, case):
    tmpfs_rows, preload_rows, fuse_rows = [], [], []
    plain = fs.env_without_preload()

    def baselines() -> None:
        tmpfs_rows.extend(run_json(argv_for(shm_dir)))
        preload_rows.extend(run_json(argv_for(fs.mountdir), env=fs.env))

    def measured() -> None:
        fuse_rows.extend(run_json(argv_for(fs.mountdir), env=plain))

    benchmark.pedantic(measured, setup=baselines, rounds=rounds, iterations=1)
    fs.assert_clean()
    record(benchmark, suite, case, fuse_rows, preload_rows, keys, baseline_name="preload")
    benchmark.extra_info["tmpfs_median"] = medians(tmpfs_rows, keys)


@cases(full=IO_CASES, quick=IO_CASES)
def test_fuse_io(case, fuse_fs, shm_dir, rounds, benchmark):
    io = driver("gkfs_io_driver")
    args = ["-n", "1", "-l", "fpp", "-t", case["xfer"], "-b", case["block"]]
    args += ["-r"] if case["access"] == "random" else []
    three_ways(benchmark, rounds, fuse_fs(case["mount"]), shm_dir,
               lambda d: [io, "-d", d, *args], IO_KEYS, "fuse_io", case)


@cases(full=MD_CASES, quick=MD_CASES)
def test_fuse_md(case, fuse_fs, shm_dir, rounds, benchmark):
    md = driver("gkfs_md_driver")
    three_ways(benchmark, rounds, fuse_fs(case["mount"]), shm_dir,
               lambda d: [md, d, str(MD_FILES), "1", "flat"], MD_KEYS, "fuse_md", case)
