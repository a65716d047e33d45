"""IO500, unmodified, on gkfs and on tmpfs in the same run (issue 11).

Each configuration (MPI ranks, gkfs daemons, transport) runs `mpirun -np RANKS io500 INI`
through `gkfs-ctl run` on a gkfs file system whose daemons keep their data on /dev/shm; each
round is preceded by the same command without gkfs, its data directory on /dev/shm (the
baseline, with the same environment, so MPI costs the same). The configuration is
bench/io500.ini (every key explained there), filled in per run. The matrix comes from
--io500-ranks, --io500-daemons and --io500-transports (--quick: 2 ranks, 1 daemon, shm);
--io500-mode standard|extended (default extended: also find-easy/hard, mdworkbench and
ior-rnd4K-easy-read) and --io500-stonewall SECONDS (default 1).

Every number is IO500's own (its [RESULT] and [SCORE] lines: GiB/s or kIOPS per phase).
Correctness: io500 must exit 0, report every phase of its mode, and print no ERROR other than
"ERROR INVALID" (a scaled run is invalid for the list by design); ior verifies its reads and
mdtest-hard-read its data. IO500's own result files are kept under
<results>/io500/<configuration>/{gkfs,tmpfs}-r<round>/.
"""

from __future__ import annotations

import os
import re
import shutil
import string
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import pytest

from harness import HANG_GUARD_S, FileSystem, record, ucx_env

INI = Path(__file__).resolve().parent / "io500.ini"
STANDARD = ["ior-easy-write", "mdtest-easy-write", "ior-hard-write", "mdtest-hard-write", "find",
            "ior-easy-read", "mdtest-easy-stat", "ior-hard-read", "mdtest-hard-stat",
            "mdtest-easy-delete", "mdtest-hard-read", "mdtest-hard-delete"]
EXTENDED = ["mdworkbench-create", "find-easy", "find-hard", "mdworkbench-bench",
            "mdworkbench-delete", "ior-rnd4K-easy-read"]
# "[RESULT]  ior-easy-write  1.650 GiB/s : time 2.03 seconds [INVALID]"; extended-only phases
# print "[      ]" instead of "[RESULT]".
PHASE_LINE = re.compile(r"^\[(?:RESULT|\s+)\]\s+(\S+)\s+([0-9.]+) (GiB/s|kIOPS) : time ([0-9.]+) seconds",
                        re.M)
# "[SCORE ] Bandwidth 0.33 GiB/s : IOPS 73.1 kiops : TOTAL 4.94 [INVALID]"; SCOREX: extended.
SCORE_LINE = re.compile(r"^\[(SCORE |SCOREX)\] Bandwidth ([0-9.]+) GiB/s : IOPS ([0-9.]+) kiops : "
                        r"TOTAL ([0-9.]+)", re.M)


def parse(output: str) -> tuple[dict[str, float], dict[str, str]]:
    """IO500's stdout → ({phase or score key: value}, {key: unit}). Score keys: score_bw
    (GiB/s), score_iops (kIOPS), score (total), and scorex_* for the extended mode's score."""
    values: dict[str, float] = {}
    units: dict[str, str] = {}
    for phase, value, unit, _ in PHASE_LINE.findall(output):
        if phase != "timestamp":
            values[phase], units[phase] = float(value), unit
    for kind, bw, iops, total in SCORE_LINE.findall(output):
        prefix = "score" if kind == "SCORE " else "scorex"
        values.update({f"{prefix}_bw": float(bw), f"{prefix}_iops": float(iops), prefix: float(total)})
        units.update({f"{prefix}_bw": "GiB/s", f"{prefix}_iops": "kIOPS", prefix: "score"})
    return values, units


def check(output: str, returncode: int, mode: str, where: str) -> dict[str, float]:
    """The parsed figures of a run that completed every phase of its mode without error."""
    tail = output[-4000:]
    assert returncode == 0, f"io500 on {where} exited {returncode}:\n{tail}"
    values, _ = parse(output)
    expected = STANDARD + (EXTENDED if mode == "extended" else [])
    missing = [p for p in expected if p not in values]
    assert not missing, f"io500 on {where}: phases without a result {missing}:\n{tail}"
    assert "score" in values, f"io500 on {where}: no score:\n{tail}"
    errors = [line for line in output.splitlines() if "ERROR" in line and "ERROR INVALID" not in line]
    assert not errors, f"io500 on {where} reported errors:\n" + "\n".join(errors[:20])
    return values


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "io500_case" not in metafunc.fixturenames:
        return
    opt = metafunc.config.getoption
    if opt("--quick"):
        ranks, daemons, transports = [2], [1], ["shm"]
    else:
        ranks = [int(x) for x in opt("--io500-ranks").split(",")]
        daemons = [int(x) for x in opt("--io500-daemons").split(",")]
        transports = opt("--io500-transports").split(",")
    unknown = set(transports) - {"shm", "tcp"}
    if unknown:
        raise pytest.UsageError(f"--io500-transports: unknown {sorted(unknown)} (shm, tcp)")
    chosen = [{"transport": t, "daemons": d, "ranks": r, "mode": opt("--io500-mode")}
              for t in transports for d in daemons for r in ranks]
    metafunc.parametrize("io500_case", chosen, ids=[f"{c['transport']}-{c['daemons']}d-{c['ranks']}r"
                                                    for c in chosen])


@pytest.fixture(scope="session")
def io500_build(request: pytest.FixtureRequest) -> Path:
    given = request.config.getoption("--io500") or os.environ.get("GKFS_IO500")
    if not given:
        pytest.fail("no IO500 build: pass --io500 DIR (or set GKFS_IO500); scripts/bench.sh "
                    "builds one from sources (see its --help)")
    build = Path(given).resolve()
    if not os.access(build / "io500", os.X_OK):
        pytest.fail(f"{build}/io500 is not an executable IO500 build (--io500 / GKFS_IO500)")
    if shutil.which("mpirun") is None:
        pytest.fail("mpirun is missing (apt: openmpi-bin; scripts/setup.sh installs it)")
    return build


@pytest.fixture(scope="session")
def results_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = request.config.getoption("--results-dir")
    return Path(given).resolve() if given else tmp_path_factory.mktemp("results")


def run_io500(build: Path, case: dict[str, Any], stonewall: int, datadir: str, resultdir: Path,
              env: dict[str, str], fs: Optional[FileSystem]) -> dict[str, float]:
    """One io500 run (through `gkfs-ctl run` when fs is given); its parsed figures."""
    resultdir.mkdir(parents=True)
    ini = resultdir / "bench-io500.ini"
    ini.write_text(string.Template(INI.read_text()).substitute(
        datadir=datadir, resultdir=resultdir, stonewall=stonewall, ranks=case["ranks"]))
    env = dict(env, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    forward = [arg for key in ("UCX_TLS", "UCX_NET_DEVICES") if key in env for arg in ("-x", key)]
    wrapper: list[str] = []
    if fs is not None:
        ctl = Path(sys.executable).parent / "gkfs-ctl"
        wrapper = [str(ctl), "run", "--hosts-file", fs.hosts_file, "--"]
    argv = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(case["ranks"]), *forward,
            *wrapper, str(build / "io500"), str(ini), f"--mode={case['mode']}"]
    result = subprocess.run(argv, env=env, cwd=build, capture_output=True, text=True,
                            timeout=HANG_GUARD_S * 3)
    output = result.stdout + result.stderr
    (resultdir / "stdout.txt").write_text(output)
    ini.unlink()  # IO500 keeps it as config-orig.ini
    figures = check(output, result.returncode, case["mode"], "gkfs" if fs else "tmpfs")
    anonymise(resultdir, {str(resultdir): "<resultdir>", datadir: "<datadir>", str(build): "<io500>"})
    return figures


def anonymise(directory: Path, names: dict[str, str]) -> None:
    """Replaces this machine's paths in the kept result files by what they stand for, so
    that results can be committed (longest first: the data directory may lie inside
    another)."""
    for path in (p for p in directory.iterdir() if p.is_file()):
        text = path.read_text(errors="replace")
        for old in sorted(names, key=len, reverse=True):
            text = text.replace(old, names[old])
        path.write_text(text)


def remove_datadir(datadir: str, fs: Optional[FileSystem]) -> None:
    """io500 removes its data directory at the end; anything it left goes, and a gkfs file
    system must then be empty."""
    if fs is None:
        shutil.rmtree(datadir, ignore_errors=True)
        return
    removed = subprocess.run(["rm", "-rf", datadir], env=fs.env, capture_output=True, text=True,
                             timeout=HANG_GUARD_S)
    assert removed.returncode == 0, f"rm -rf {datadir} on gkfs: {removed.stderr}"
    fs.assert_clean()


def test_io500(io500_case, io500_build, results_dir, fs_pool, shm_base, rounds, benchmark,
               request):
    case = io500_case
    stonewall = request.config.getoption("--io500-stonewall")
    fs = fs_pool.get(case["transport"], case["daemons"])
    env = ucx_env(case["transport"])
    where = results_dir / "io500" / f"{case['transport']}-{case['daemons']}d-{case['ranks']}r"
    gkfs_rows: list[dict] = []
    base_rows: list[dict] = []

    def baseline() -> None:
        datadir = tempfile.mkdtemp(prefix="io500-", dir=shm_base)
        r = len(base_rows) + 1
        base_rows.append(run_io500(io500_build, case, stonewall, datadir, where / f"tmpfs-r{r}",
                                   env, None))
        remove_datadir(datadir, None)

    def measured() -> None:
        datadir = os.path.join(fs.mountdir, "io500-data")
        r = len(gkfs_rows) + 1
        gkfs_rows.append(run_io500(io500_build, case, stonewall, datadir, where / f"gkfs-r{r}",
                                   env, fs))
        remove_datadir(datadir, fs)

    benchmark.pedantic(measured, setup=baseline, rounds=rounds, iterations=1)
    keys = list(gkfs_rows[0])
    record(benchmark, "io500", dict(case, stonewall=stonewall), gkfs_rows, base_rows, keys)
    benchmark.extra_info["units"] = parse((where / "gkfs-r1" / "stdout.txt").read_text())[1]
    benchmark.extra_info["phases"] = keys
