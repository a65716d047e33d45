"""Data benchmarks (IOR-like, POSIX lseek + read/write through the preload library, C driver
gkfs_io_driver): sequential write then read of a file per process (fpp) and of one shared
file, transfer sizes 4 KiB to 16 MiB; random 4 KiB writes and reads; 1, 2 and 4 processes
and daemons. Daemons keep their chunks on /dev/shm, so this compares two RAM-backed file
systems: gkfs (through UCX and the daemons) against tmpfs (the kernel, same /dev/shm).

Baseline: each round first runs the same driver on a fresh /dev/shm directory. The driver
stamps every 4 KiB page and checks every page on read-back (and every byte in an untimed
verify pass): a run that returns wrong data fails.
"""

from __future__ import annotations

from harness import cases, driver, record, run_json

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
