"""Data benchmarks (IOR-like, POSIX lseek + read/write through the preload library, C driver
gkfs_io_driver): sequential write then read of a file per process (fpp) and of one shared
file, transfer sizes 4 KiB to 16 MiB; random 4 KiB writes and reads; 1, 2 and 4 processes
and daemons. Daemons keep their chunks on /dev/shm, so this compares two RAM-backed file
systems: gkfs (through UCX and the daemons) against tmpfs (the kernel, same /dev/shm).

Baseline: each round first runs the same driver on a fresh /dev/shm directory. The driver
stamps every 4 KiB page and checks every page on read-back (and every byte in an untimed
verify pass): a run that returns wrong data fails.

Durability (test_io_fsync): write + fsync of one file (io_driver -e, IOR -e) through gkfs
whose daemons keep their data on a disk (--disk-dir), with --sync-mode full and with
--sync-mode none, against the same driver on that disk's file system itself, in one run.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from harness import FileSystem, cases, driver, fs_type, medians, record, run_json

IO_KEYS = ("write_gbs", "read_gbs", "write_ops", "read_ops", "write_s", "read_s")
BLOCK = {"4K": "8M", "64K": "64M", "1M": "64M", "16M": "128M"}  # per process


def _case(transport: str, daemons: int, procs: int, layout: str, xfer: str,
          access: str = "seq") -> dict:
    block = "4M" if access == "random" else BLOCK[xfer]
    return {"transport": transport, "daemons": daemons, "procs": procs, "layout": layout,
            "xfer": xfer, "block": block, "access": access}


def _full() -> list[dict]:
    out = []
    for t in ("shm", "tcp"):
        for d in (1, 2, 4):
            for p in (1, 2, 4):
                for layout in ("fpp", "shared"):
                    out.append(_case(t, d, p, layout, "1M"))
            if d == 1:
                for layout in ("fpp", "shared"):
                    out += [_case(t, 1, 2, layout, x) for x in ("4K", "64K", "16M")]
            if d in (1, 4):
                out += [_case(t, d, p, "fpp", "4K", "random") for p in (1, 2, 4)]
            if d == 1:
                out.append(_case(t, 1, 2, "shared", "4K", "random"))
    return out


QUICK = [_case(t, 1, 2, layout, "1M") for t in ("shm", "tcp") for layout in ("fpp", "shared")] + \
        [_case(t, 1, 2, "fpp", "4K", "random") for t in ("shm", "tcp")]


@cases(full=_full(), quick=QUICK)
def test_io(case, fs_pool, shm_dir, rounds, benchmark):
    fs = fs_pool.get(case["transport"], case["daemons"])
    io = driver("gkfs_io_driver")
    args = ["-n", str(case["procs"]), "-l", case["layout"], "-t", case["xfer"],
            "-b", case["block"]] + (["-r"] if case["access"] == "random" else [])
    gkfs_rows, base_rows = [], []

    def baseline() -> None:
        base_rows.extend(run_json([io, "-d", shm_dir, *args]))

    def measured() -> None:
        gkfs_rows.extend(run_json([io, "-d", fs.mountdir, *args], env=fs.env))

    benchmark.pedantic(measured, setup=baseline, rounds=rounds, iterations=1)
    fs.assert_clean()
    record(benchmark, "io", case, gkfs_rows, base_rows, IO_KEYS)


FSYNC_KEYS = ("write_gbs", "write_s")


def _fsync_case(daemons: int, block: str) -> dict:
    return {"transport": "shm", "daemons": daemons, "procs": 1, "xfer": "1M", "block": block}


@cases(full=[_fsync_case(d, b) for d in (1, 2) for b in ("64M", "512M")],
       quick=[_fsync_case(1, "128M")])
def test_io_fsync(case, fs_pool, disk_dir, rounds, benchmark):
    kind = fs_type(disk_dir)
    if kind in ("tmpfs", "ramfs"):
        pytest.skip(f"--disk-dir {disk_dir} is on {kind}: fsync costs nothing there")
    fs_pool.close()  # only these daemons run
    io = driver("gkfs_io_driver")
    args = ["-n", str(case["procs"]), "-l", "fpp", "-t", case["xfer"], "-b", case["block"], "-e"]
    local = tempfile.mkdtemp(prefix="gkfs-bench-local-", dir=disk_dir)
    systems = {mode: FileSystem(case["transport"], case["daemons"], disk_dir, ["--sync-mode", mode])
               for mode in ("full", "none")}
    rows: dict[str, list] = {"full": [], "none": [], "local": []}

    def run(where: str, env=None) -> list:
        os.sync()  # each run starts with nothing dirty left by the one before
        return run_json([io, "-d", where, *args], env=env)

    def setup() -> None:
        rows["local"].extend(run(local))
        rows["none"].extend(run(systems["none"].mountdir, systems["none"].env))
        os.sync()

    def measured() -> None:
        rows["full"].extend(run_json([io, "-d", systems["full"].mountdir, *args],
                                     env=systems["full"].env))

    try:
        for fs in systems.values():
            fs.start()
        # One untimed round first: the first large write + fsync on the disk after start-up
        # takes several times what the next ones do (1.2-5.5 s against 0.1-0.2 s for 128 MiB
        # here), and the disk ran first in each round, so with one round (--quick) a cold
        # disk was compared with a warm gkfs (docs/performance.md, "Durability").
        setup()
        measured()
        for kept in rows.values():
            kept.clear()
        benchmark.pedantic(measured, setup=setup, rounds=rounds, iterations=1)
        for fs in systems.values():
            fs.assert_clean()
    finally:
        for fs in systems.values():
            fs.stop()
        shutil.rmtree(local, ignore_errors=True)
    record(benchmark, "io_fsync", dict(case, disk=kind), rows["full"], rows["local"], FSYNC_KEYS,
           baseline_name=f"{kind} (the daemons' file system)")
    benchmark.extra_info["none_median"] = medians(rows["none"], FSYNC_KEYS)
    benchmark.extra_info["none_rounds"] = [{k: r[k] for k in FSYNC_KEYS} for r in rows["none"]]

