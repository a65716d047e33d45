"""Forwarding mode: what scheduling in Python costs and what aggregation gains, as ratios
measured in one run. One I/O node (bench/fwd_io_node.py) over a PFS directory on local disk;
writers are C processes (bench/fwd_driver.c) under the preload library, forwarding to it.

* Scheduler overhead: 4 writers, a file each, 4 KiB pwrite calls; requests per second with
  each scheduler against the C++ FIFO of the core (``cxx:1``, AGIOS's TO with no Python on
  the path). ``py:TO`` takes the same decisions as ``cxx:1``, so their ratio is the price of
  the Python plug-in path alone.
* Aggregation: 8 writers interleave 4 KiB blocks of one shared file (IOR segmented, -t 4k
  -b 4k), one I/O thread; bytes per second into the PFS directory with merging (``py:TO-agg``,
  at most 16 requests per pwritev) against without (``py:NOOP``), and the same pair in C++
  (``cxx:16`` against ``cxx:1``). The merged fraction comes from ``gkfs-ctl stats``. Twice:
  with the PFS directory on local disk (a PFS operation costs ~10 µs in the page cache, far
  less than a request's trip through the network stack, so merging saves little), and on a
  stand-in with a parallel file system's per-operation cost (ext4 on a loop device mounted
  ``-o sync``: about a millisecond per operation, whatever its size; root only), the regime
  aggregation is for. The table gives the measured time per PFS operation.
* Forwarding against direct access: on the same sync-mounted stand-in, 8 and then 16 writers
  interleave 4, 16 or 64 KiB blocks of one shared file, either through one I/O node (``py:TO``,
  GekkoFWD's shipped algorithm; ``py:TO-agg``; ``cxx:16``) or writing the PFS directory
  themselves without gkfs (``direct``: the same driver, no preload library), in the same run.
  Issue 13's targets: best scheduler >= 1.5x direct, TO >= 0.8x direct (never asserted).
  The same comparison runs again on a second stand-in (bench/pfs_standin.c, FUSE; root
  only) whose cost is per operation and serialised per PFS server, as small writes to one
  stripe are on a PFS server.
* Holding small units: on the FUSE stand-in, 16 writers, 4 and 16 KiB blocks, ``py:TO-agg``
  without and with ``target_concurrency = 1``, each against itself with
  ``aggregation_size = 65536`` (a unit below 64 KiB is held up to ``aggregation_wait``, 1 ms,
  for more contiguous requests to join it).
* O_DIRECT: on the sync-mounted stand-in, 8 writers, 16 and 64 KiB blocks, ``cxx:16`` and
  ``py:TO-agg`` with ``target_concurrency = 1``, each with ``--pfs-direct-io`` (aligned
  units written with O_DIRECT) against without.
* A host mapped ``direct`` (``mapped-direct``: 4 writers through the preload library, whose
  client works on the PFS directory itself; the I/O node must see none of their requests)
  against the same writers without gkfs (``direct``), on local disk, 4 KiB writes: the cost
  of the direct route per write.

Each round checks every byte the writers left in the PFS directory. The run's numbers and
ratios go to ``forwarding.md`` and ``forwarding.json`` in the run's results directory (that
of ``--benchmark-json``, else ``bench/results/<UTC timestamp>/``), and into the
pytest-benchmark JSON as extra_info (suite ``forwarding``).

    python -m pytest -c bench/pytest.ini bench/bench_forwarding.py [--quick] [--rounds N]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from gkfs import _core
from gkfs.cli import preload_library

pytestmark = pytest.mark.skipif(not _core.HAVE_FORWARDING,
                                reason="built with ENABLE_FORWARDING=OFF")

HERE = Path(__file__).resolve().parent
HANG_GUARD_S = 300
XFER = 4096         # bytes per write, except in the direct-access comparison (DIRECT_XFERS)
DIRECT_XFERS = [4096, 16384, 65536]
# count: requests per writer in full runs and with --quick.
OVERHEAD = {"writers": 4, "layout": "fpp", "io_threads": 2, "pfs": "disk",
            "count": {False: 2000, True: 400},
            "schedulers": ["cxx:1", "py:NOOP", "py:TO", "py:TO-agg", "py:SJF"]}
AGGREGATION = {"writers": 8, "layout": "shared", "io_threads": 1, "pfs": "disk",
               "count": {False: 1000, True: 200},
               "schedulers": ["py:NOOP", "py:TO-agg", "cxx:1", "cxx:16"]}
AGGREGATION_SYNC = dict(AGGREGATION, pfs="sync", count={False: 100, True: 30})
DIRECT = {"layout": "shared", "pfs": "sync",
          "count": {False: 100, True: 30},
          "schedulers": ["direct", "py:TO", "cxx:1", "py:TO-agg", "cxx:16",
                         "py:TO+target_concurrency=1", "py:TO-agg+target_concurrency=1"]}
# Holding small units (aggregation_size, at most aggregation_wait) against not holding, on the
# latency stand-in, without and with target_concurrency = 1.
HOLD = {"layout": "shared", "pfs": "latency", "writers": 16, "io_threads": 8,
        "count": {False: 100, True: 30}, "xfers": [4096, 16384], "size": 65536,
        "schedulers": ["py:TO-agg", "py:TO-agg+target_concurrency=1"]}
# Aligned units written with O_DIRECT (--pfs-direct-io) against through the page cache, on the
# sync-mounted stand-in (whose writes are synchronous either way).
O_DIRECT_CASE = {"layout": "shared", "pfs": "sync", "writers": 8, "io_threads": 8,
                 "count": {False: 100, True: 30}, "xfers": [16384, 65536],
                 "schedulers": ["cxx:16", "py:TO-agg+target_concurrency=1"]}
# A host mapped `direct` (no I/O node: the preload's client works on the PFS directory itself)
# against the same writers without gkfs: what the direct route costs per write.
MAPPED_DIRECT = {"writers": 4, "layout": "fpp", "io_threads": 1, "pfs": "disk",
                 "count": {False: 2000, True: 400},
                 "schedulers": ["direct", "mapped-direct", "cxx:1"]}
PFS_KINDS = {"disk": "local disk (ext4, page cache: ~10 µs per PFS operation)",
             "sync": "ext4 on a loop device mounted -o sync (milliseconds per PFS operation, "
                     "whatever its size, like a parallel file system's small-write round trip; "
                     "concurrent operations are served in parallel, journal commits grouped)",
             "latency": "bench/pfs_standin.c (FUSE): 1 ms + 1 µs/KB per data operation on the "
                        "server of its first byte, 4 servers, 1 MiB stripes, one operation at "
                        "a time per server; 1 ms per namespace operation"}

RESULTS: dict[tuple[str, str], dict[str, Any]] = {}


def env() -> dict[str, str]:
    """Loopback tcp for the I/O node and the writers (a daemon on another host is reached by
    tcp or verbs, never by shared memory)."""
    return dict(os.environ, UCX_TLS="tcp", UCX_NET_DEVICES="lo")


class IoNode:
    """One I/O-node daemon process with a given scheduler, over a fresh PFS directory below
    pfs_base."""

    def __init__(self, base: Path, pfs_base: Path, scheduler: str, io_threads: int,
                 direct: bool = False, pfs_direct_io: bool = False) -> None:
        tag = f"{scheduler.replace(':', '-')}-{uuid.uuid4().hex[:6]}"
        self.direct = direct  # the writers' host is mapped direct: they never send to it
        self.dir = base / tag
        self.dir.mkdir()
        self.pfs = pfs_base / f"pfs-{tag}"
        self.pfs.mkdir()
        self.hosts_file = self.dir / "hosts.txt"
        self.map = self.dir / "map"
        self.map.write_text("bench-host direct\n" if direct else "bench-host 0\n")
        self.log = open(self.dir / "io_node.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "fwd_io_node.py"), "--scheduler", scheduler,
             "--hosts-file", str(self.hosts_file), "--rootdir", str(self.dir / "root"),
             "--pfs-dir", str(self.pfs), "--io-threads", str(io_threads)]
            + (["--pfs-direct-io"] if pfs_direct_io else []),
            env=env(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not (self.hosts_file.exists() and self.hosts_file.read_text().endswith("\n")):
            assert self.proc.poll() is None, (self.dir / "io_node.log").read_text()
            assert time.monotonic() < deadline, "the I/O node did not start"
            time.sleep(0.05)

    def stats(self) -> dict[str, Any]:
        """This node's totals from gkfs-ctl stats --json."""
        ctl = Path(sys.executable).parent / "gkfs-ctl"
        argv = [str(ctl)] if ctl.exists() else [sys.executable, "-m", "gkfs.cli"]
        result = subprocess.run(argv + ["stats", "--json", "--hosts-file", str(self.hosts_file)],
                                env=env(), capture_output=True, text=True, timeout=HANG_GUARD_S)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["io_nodes"][0]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.pfs, ignore_errors=True)


class DirectPfs:
    """No I/O node: the writers open files in the PFS directory themselves (no preload)."""

    def __init__(self, base: Path, pfs_base: Path) -> None:
        self.dir = base / f"direct-{uuid.uuid4().hex[:6]}"
        self.dir.mkdir()
        self.pfs = pfs_base / f"pfs-{self.dir.name}"
        self.pfs.mkdir()

    def stats(self) -> dict[str, Any]:
        return {key: 0 for key in ("requests", "merged", "queue_wait_s", "service_s", "units")}

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.pfs, ignore_errors=True)


def expected_blocks(count: int, xfer: int) -> bytes:
    return b"".join(bytes([i % 251]) * xfer for i in range(count))


def check_files(node: IoNode | DirectPfs, name: str, writers: int, count: int, layout: str,
                xfer: int) -> None:
    if layout == "shared":
        data = (node.pfs / f"{name}.shared").read_bytes()
        assert data == expected_blocks(writers * count, xfer), "shared file has wrong bytes"
    else:
        for rank in range(writers):
            data = (node.pfs / f"{name}.{rank}").read_bytes()
            assert data == expected_blocks(count, xfer), f"file of rank {rank} has wrong bytes"


def one_round(node: IoNode | DirectPfs, driver: str, writers: int, count: int,
              layout: str, xfer: int) -> dict[str, Any]:
    """Writers start together (after connecting); returns their combined rate and, from the
    I/O node's counters, how many requests were merged away."""
    name = f"r{uuid.uuid4().hex[:6]}"
    sync = node.dir / f"sync-{name}"
    sync.mkdir()
    mountdir = node.dir / "mnt"
    if isinstance(node, DirectPfs):
        client_env, mountdir = env(), node.pfs
    else:
        client_env = dict(env(), LD_PRELOAD=preload_library(),
                          LIBGKFS_HOSTS_FILE=str(node.hosts_file),
                          LIBGKFS_MOUNTDIR=str(mountdir),
                          LIBGKFS_FORWARDING_MAP_FILE=str(node.map),
                          LIBGKFS_HOSTNAME="bench-host", LIBGKFS_APP_ID="1")
    before = node.stats()
    procs = [subprocess.Popen([driver, f"{mountdir}/{name}", str(rank), str(writers), str(xfer),
                               str(count), layout, str(sync)], env=client_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for rank in range(writers)]
    deadline = time.monotonic() + HANG_GUARD_S
    while len(list(sync.glob("ready.*"))) < writers:
        assert all(p.poll() is None for p in procs), "a writer ended before the start"
        assert time.monotonic() < deadline, "the writers never got ready"
        time.sleep(0.01)
    (sync / "go").touch()
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=HANG_GUARD_S)
        assert p.returncode == 0, f"writer failed: {err}"
        reports.append(json.loads(out))
    after = node.stats()
    check_files(node, name, writers, count, layout, xfer)
    for path in node.pfs.glob(f"{name}.*"):
        path.unlink()
    seconds = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    requests = sum(r["requests"] for r in reports)
    merged = after["merged"] - before["merged"]
    if not isinstance(node, DirectPfs):
        assert after["requests"] - before["requests"] == (0 if node.direct else requests)
    return {"seconds": seconds, "requests_per_s": requests / seconds,
            "bytes_per_s": sum(r["bytes"] for r in reports) / seconds,
            "merged_fraction": merged / requests,
            "mean_queue_wait_us": 1e6 * (after["queue_wait_s"] - before["queue_wait_s"])
            / requests,
            "pfs_op_us": 1e6 * (after["service_s"] - before["service_s"])
            / max(after["units"] - before["units"], 1)}


@pytest.fixture(scope="module")
def driver() -> Iterator[str]:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("needs a C compiler")
    out = Path(tempfile.mkdtemp(prefix="gkfs-fwd-bench-"))
    subprocess.run([cc, "-O2", "-o", str(out / "fwd_driver"), str(HERE / "fwd_driver.c")],
                   check=True)
    yield str(out / "fwd_driver")
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="gkfs-fwd-bench-pfs-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def sync_pfs(base: Path) -> Iterator[Path]:
    """A PFS stand-in whose every operation costs milliseconds: ext4 in a file, on a loop
    device, mounted with -o sync (root only; the cases that need it are skipped otherwise)."""
    image, mountpoint = base / "sync-pfs.img", base / "sync-pfs"
    mountpoint.mkdir()
    # 1 GiB: 3 rounds of 16 writers x 100 x 64 KiB, with room to spare
    with open(image, "wb") as f:
        f.truncate(1 << 30)
    steps = [["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0",
              str(image)],
             ["mount", "-o", "loop,sync", str(image), str(mountpoint)]]
    for argv in steps:
        if os.geteuid() != 0 or shutil.which(argv[0]) is None:
            pytest.skip("a sync-mounted PFS stand-in needs root, mkfs.ext4 and mount")
        result = subprocess.run(argv, capture_output=True, text=True, timeout=HANG_GUARD_S)
        if result.returncode != 0:
            pytest.skip(f"cannot make the sync-mounted PFS stand-in: {result.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=HANG_GUARD_S)
        image.unlink()


STANDIN = {"latency_us": 1000, "servers": 4, "stripe": 1 << 20, "mb_per_s": 1000}


@pytest.fixture(scope="module")
def latency_pfs(base: Path) -> Iterator[Path]:
    """A PFS stand-in with a fixed cost per operation on the server holding its first byte,
    one operation at a time per server (bench/pfs_standin.c, FUSE; root only)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fuse3"], capture_output=True,
                           text=True)
    if os.geteuid() != 0 or cc is None or flags.returncode != 0 or not Path("/dev/fuse").exists():
        pytest.skip("the FUSE PFS stand-in needs root, a C compiler, libfuse3 and /dev/fuse")
    binary, backing, mountpoint = base / "pfs_standin", base / "standin-data", base / "standin"
    backing.mkdir()
    mountpoint.mkdir()
    subprocess.run([cc, "-O2", "-o", str(binary), str(HERE / "pfs_standin.c"),
                    *flags.stdout.split(), "-lpthread"], check=True)
    options = ",".join(f"{k}={v}" for k, v in STANDIN.items())
    subprocess.run([str(binary), str(mountpoint), "-o", f"backing={backing},{options}",
                    "-o", "max_threads=64"], check=True, timeout=HANG_GUARD_S)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=HANG_GUARD_S)


@pytest.fixture(scope="module")
def settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    quick = bool(request.config.getoption("--quick", False))
    rounds = request.config.getoption("--rounds", None) or (1 if quick else 3)
    return {"quick": quick, "rounds": rounds}


def measure(benchmark: Any, base: Path, pfs_base: Path, driver: str, settings: dict[str, Any],
            kind: str, config: dict[str, Any], scheduler: str) -> None:
    if scheduler == "direct":
        node: IoNode | DirectPfs = DirectPfs(base, pfs_base)
    elif scheduler == "mapped-direct":
        node = IoNode(base, pfs_base, "py:NOOP", config["io_threads"], direct=True)
    else:
        node = IoNode(base, pfs_base, scheduler.removesuffix("+O_DIRECT"), config["io_threads"],
                      pfs_direct_io=scheduler.endswith("+O_DIRECT"))
    count = config["count"][settings["quick"]]
    xfer = config.get("xfer", XFER)
    rounds: list[dict[str, Any]] = []
    try:
        benchmark.pedantic(lambda: rounds.append(one_round(
            node, driver, config["writers"], count, config["layout"], xfer)),
            rounds=settings["rounds"], iterations=1)
    finally:
        node.close()
    result = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    result.update(writers=config["writers"], layout=config["layout"], xfer=xfer,
                  io_threads=config["io_threads"], requests_per_writer=count,
                  pfs=config["pfs"], rounds=len(rounds))
    RESULTS[(kind, scheduler)] = result
    benchmark.extra_info.update(suite="forwarding", kind=kind, scheduler=scheduler, **result)


@pytest.mark.parametrize("scheduler", OVERHEAD["schedulers"])
def test_scheduler_overhead(benchmark, base, driver, settings, scheduler):
    measure(benchmark, base, base, driver, settings, "overhead", OVERHEAD, scheduler)


@pytest.mark.parametrize("scheduler", AGGREGATION["schedulers"])
def test_aggregation_gain(benchmark, base, driver, settings, scheduler):
    measure(benchmark, base, base, driver, settings, "aggregation", AGGREGATION, scheduler)


@pytest.mark.parametrize("scheduler", AGGREGATION_SYNC["schedulers"])
def test_aggregation_gain_on_a_slow_pfs(benchmark, base, sync_pfs, driver, settings, scheduler):
    measure(benchmark, base, sync_pfs, driver, settings, "aggregation-sync", AGGREGATION_SYNC,
            scheduler)


@pytest.mark.parametrize("scheduler", DIRECT["schedulers"])
@pytest.mark.parametrize("writers", [8, 16])
@pytest.mark.parametrize("xfer", DIRECT_XFERS, ids=lambda x: f"{x // 1024}k")
@pytest.mark.parametrize("pfs", ["sync", "latency"])
def test_forwarding_against_direct_access(request, benchmark, base, driver, settings, pfs, xfer,
                                          writers, scheduler):
    pfs_dir = request.getfixturevalue(f"{pfs}_pfs")
    measure(benchmark, base, pfs_dir, driver, settings, direct_kind(pfs, writers, xfer),
            dict(DIRECT, writers=writers, xfer=xfer, pfs=pfs,
                 io_threads=request.config.getoption("--fwd-io-threads")), scheduler)


@pytest.mark.parametrize("hold", [False, True], ids=["no-hold", "hold"])
@pytest.mark.parametrize("scheduler", HOLD["schedulers"])
@pytest.mark.parametrize("xfer", HOLD["xfers"], ids=lambda x: f"{x // 1024}k")
def test_holding_small_units(request, benchmark, base, driver, settings, xfer, scheduler, hold):
    name = f"{scheduler}+aggregation_size={HOLD['size']}" if hold else scheduler
    measure(benchmark, base, request.getfixturevalue("latency_pfs"), driver, settings,
            variant_kind("hold", HOLD, xfer), dict(HOLD, xfer=xfer), name)


@pytest.mark.parametrize("o_direct", [False, True], ids=["page-cache", "o-direct"])
@pytest.mark.parametrize("scheduler", O_DIRECT_CASE["schedulers"])
@pytest.mark.parametrize("xfer", O_DIRECT_CASE["xfers"], ids=lambda x: f"{x // 1024}k")
def test_o_direct_units(request, benchmark, base, driver, settings, xfer, scheduler, o_direct):
    measure(benchmark, base, request.getfixturevalue("sync_pfs"), driver, settings,
            variant_kind("odirect", O_DIRECT_CASE, xfer), dict(O_DIRECT_CASE, xfer=xfer),
            scheduler + ("+O_DIRECT" if o_direct else ""))


@pytest.mark.parametrize("scheduler", MAPPED_DIRECT["schedulers"])
def test_mapped_direct_against_direct_access(benchmark, base, driver, settings, scheduler):
    measure(benchmark, base, base, driver, settings, "mapped-direct", MAPPED_DIRECT, scheduler)


def variant_kind(name: str, case: dict[str, Any], xfer: int) -> str:
    """The kind of a with/without comparison (HOLD, O_DIRECT_CASE) at one block size."""
    return f"{name}-{case['pfs']}-{case['writers']}-{xfer // 1024}k"


def direct_kind(pfs: str, writers: int, xfer: int) -> str:
    return f"direct-{pfs}-{writers}-{xfer // 1024}k"


# --- the run's ratios -------------------------------------------------------------------------


def ratios() -> list[dict[str, Any]]:
    rows = []

    def add(what: str, kind: str, metric: str, a: str, b: str) -> None:
        if (kind, a) in RESULTS and (kind, b) in RESULTS:
            rows.append({"what": what, "metric": metric, "of": a, "against": b,
                         "ratio": RESULTS[(kind, a)][metric] / RESULTS[(kind, b)][metric]})

    for scheduler in OVERHEAD["schedulers"][1:]:
        add("scheduler overhead: requests/s", "overhead", "requests_per_s", scheduler, "cxx:1")
    for kind, pfs in (("aggregation", "disk"), ("aggregation-sync", "sync PFS")):
        add(f"aggregation gain ({pfs}): bytes/s, merged / not merged, Python", kind,
            "bytes_per_s", "py:TO-agg", "py:NOOP")
        add(f"aggregation gain ({pfs}): bytes/s, merged / not merged, C++", kind,
            "bytes_per_s", "cxx:16", "cxx:1")
        add(f"merging through Python / through C++ ({pfs}): bytes/s", kind, "bytes_per_s",
            "py:TO-agg", "cxx:16")
    add("host mapped direct (preload, direct route) / writers without gkfs: requests/s",
        "mapped-direct", "requests_per_s", "mapped-direct", "direct")
    add("host mapped direct / the same host through an I/O node (cxx:1): requests/s",
        "mapped-direct", "requests_per_s", "mapped-direct", "cxx:1")
    for case, name, what, suffix in (
            (O_DIRECT_CASE, "odirect", "O_DIRECT / page cache", "+O_DIRECT"),
            (HOLD, "hold", f"holding units to {HOLD['size'] // 1024} KiB / not holding",
             f"+aggregation_size={HOLD['size']}")):
        for xfer in case["xfers"]:
            for scheduler in case["schedulers"]:
                add(f"{what} ({case['pfs']} PFS, {case['writers']} writers, {xfer // 1024} "
                    f"KiB): bytes/s", variant_kind(name, case, xfer), "bytes_per_s",
                    scheduler + suffix, scheduler)
    for pfs in ("sync", "latency"):
        for xfer in DIRECT_XFERS:
            for writers in (8, 16):
                for scheduler in DIRECT["schedulers"][1:]:
                    add(f"forwarding / direct access ({pfs} PFS, {writers} writers, "
                        f"{xfer // 1024} KiB): bytes/s", direct_kind(pfs, writers, xfer),
                        "bytes_per_s", scheduler, "direct")
    return rows


def markdown(rows: list[dict[str, Any]], settings: dict[str, Any]) -> str:
    lines = ["# Forwarding mode: scheduler overhead and aggregation gain", "",
             f"One run, {settings['rounds']} round(s) per scheduler (medians), {XFER}-byte "
             f"writes (the direct-access comparison: 4, 16 and 64 KiB), loopback tcp, 1-minute load average {os.getloadavg()[0]:.2f} at the "
             f"end (2-core machine: other work moves every number). `py:X` is Python "
             f"scheduler X through the plug-in path; `cxx:N` the core's C++ FIFO merging at "
             f"most N requests (`cxx:1` = TO without Python).", ""]
    lines += [f"* PFS `{key}`: {text}" for key, text in PFS_KINDS.items()]
    lines += ["", "| Ratio | Of | Against | Value |", "|---|---|---|---|"]
    lines += [f"| {r['what']} | `{r['of']}` | `{r['against']}` | {r['ratio']:.2f} |" for r in rows]
    lines += ["", "| Kind | Scheduler | PFS | Writers | Layout | Block | I/O threads | "
                  "requests/s | MiB/s | merged | mean queue wait (µs) | µs per PFS op |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (kind, scheduler), r in RESULTS.items():
        lines.append(f"| {kind} | `{scheduler}` | {r['pfs']} | {r['writers']} | {r['layout']} | "
                     f"{r['xfer'] // 1024} KiB | {r['io_threads']} | {r['requests_per_s']:.0f} | "
                     f"{r['bytes_per_s'] / 2**20:.1f} | {100 * r['merged_fraction']:.0f}% | "
                     f"{r['mean_queue_wait_us']:.0f} | {r['pfs_op_us']:.0f} |")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest, settings: dict[str, Any]) -> Iterator[None]:
    yield
    if not RESULTS:
        return
    target = request.config.getoption("benchmark_json", None)
    out = Path(target).parent if target else (
        HERE / "results" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    out.mkdir(parents=True, exist_ok=True)
    rows = ratios()
    (out / "forwarding.json").write_text(json.dumps(
        {"settings": settings, "ratios": rows,
         "results": [dict(kind=k, scheduler=s, **r) for (k, s), r in RESULTS.items()]},
        indent=2) + "\n")
    text = markdown(rows, settings)
    (out / "forwarding.md").write_text(text)
    print(f"\n{text}\n(written to {out}/forwarding.md and forwarding.json)")
