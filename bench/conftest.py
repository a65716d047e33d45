"""Fixtures and options of the benchmark suites (run by scripts/bench.sh, not by scripts/test.sh).

* ``--quick``: only the configurations of issue 6's targets (1 daemon, 2 processes, 1 MiB)
  plus the transport and start-up measurements, one round each.
* ``--rounds N``: rounds per benchmark (default 3); summaries use the median round.
* ``--disk-dir DIR``: a directory on a disk-backed local file system (default /var/tmp), where
  the durability benchmark puts its daemons' root directories and its baseline.
* ``--results-dir DIR``: the run's results directory, for files a suite keeps (IO500's).
* ``--io500 DIR`` and ``--io500-*``: the IO500 suite's build and matrix (bench_io500.py).
* ``--fwd-io-threads N``: the I/O node's --io-threads in bench_forwarding.py's comparison with
  direct access (default 8).

A benchmark declares its parameter sets with :func:`harness.cases`; the ``case`` fixture is one of
them (a dict). ``fs_pool`` hands out gkfs file systems, reusing the running one while
consecutive cases ask for the same (transport, daemons); ``shm_dir`` is a fresh baseline
directory on /dev/shm that must be empty again when the benchmark ends.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from harness import FileSystemPool

# UCX reads these when a client starts: loopback only (the VM's eth0 is not ours).
os.environ["UCX_NET_DEVICES"] = "lo"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gkfs benchmarks")
    group.addoption("--quick", action="store_true",
                    help="only the issue-6 target configurations, one round each")
    group.addoption("--rounds", type=int, default=None,
                    help="rounds per benchmark (default 3, --quick 1)")
    group.addoption("--disk-dir", default="/var/tmp",
                    help="directory on a disk-backed file system for the write+fsync benchmark "
                         "(default /var/tmp)")
    group.addoption("--results-dir", default=None,
                    help="the run's results directory (scripts/bench.sh passes it): where "
                         "suites keep files of their own, e.g. IO500's result files")
    group.addoption("--fwd-io-threads", type=int, default=8,
                    help="the I/O node's --io-threads in bench_forwarding.py's comparison with "
                         "direct access (default 8)")
    io500 = parser.getgroup("gkfs IO500 suite (bench_io500.py)")
    io500.addoption("--io500", default=None,
                    help="an IO500 build: the directory holding the io500 executable "
                         "(default $GKFS_IO500; scripts/bench.sh builds one from sources)")
    io500.addoption("--io500-ranks", default="2,4", help="MPI ranks, comma-separated (default 2,4)")
    io500.addoption("--io500-daemons", default="1,2",
                    help="gkfs daemons, comma-separated (default 1,2)")
    io500.addoption("--io500-transports", default="shm,tcp",
                    help="shm and/or tcp, comma-separated (default shm,tcp)")
    io500.addoption("--io500-mode", default="extended", choices=("standard", "extended"),
                    help="IO500's --mode (default extended: every phase)")
    io500.addoption("--io500-stonewall", type=int, default=1,
                    help="[debug] stonewall-time in seconds (default 1; 300 for a valid run)")


def pytest_configure(config: pytest.Config) -> None:
    config._gkfs_load = {"start": os.getloadavg()[0], "started": time.time()}


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list,
                                 output_json: dict) -> None:
    """The machine's 1-minute load average at the start and end of the run, and the run's
    options: the summary prints them, since other work on a 2-core machine moves every
    number."""
    load = dict(config._gkfs_load, end=os.getloadavg()[0],
                minutes=round((time.time() - config._gkfs_load["started"]) / 60, 1))
    load.pop("started")
    output_json["gkfs"] = {"loadavg_1min": load, "quick": bool(config.getoption("--quick")),
                           "rounds": config.getoption("--rounds")}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" not in metafunc.fixturenames:
        return
    full, quick = metafunc.function._gkfs_cases
    chosen = quick if metafunc.config.getoption("--quick") else full
    ids = ["-".join(str(v) for v in c.values()) for c in chosen]
    metafunc.parametrize("case", chosen, ids=ids)


@pytest.fixture(scope="session")
def rounds(request: pytest.FixtureRequest) -> int:
    explicit = request.config.getoption("--rounds")
    if explicit:
        return explicit
    return 1 if request.config.getoption("--quick") else 3


@pytest.fixture(scope="session")
def quick(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--quick"))


@pytest.fixture(scope="session")
def disk_dir(request: pytest.FixtureRequest) -> str:
    return os.path.abspath(request.config.getoption("--disk-dir"))


@pytest.fixture(scope="session")
def fs_pool() -> Iterator[FileSystemPool]:
    pool = FileSystemPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def shm_base() -> Iterator[Path]:
    base = Path("/dev/shm") / f"gkfs-bench-baseline-{os.getpid()}"
    base.mkdir()
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def shm_dir(shm_base: Path) -> Iterator[str]:
    path = shm_base / uuid.uuid4().hex[:8]
    path.mkdir()
    yield str(path)
    left = os.listdir(path)
    shutil.rmtree(path, ignore_errors=True)
    assert left == [], f"the baseline run left files behind: {left[:10]}"
