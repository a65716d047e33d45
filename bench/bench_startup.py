"""Client start-up cost of the preload library, as whole-process wall time:

* ``true``: /bin/true under LD_PRELOAD=libgkfs_intercept.so (never touches the file system:
  the library must start nothing) against /bin/true without it.
* ``cat``: cat of one 4 KiB file on gkfs through the preload (connect, fs_config, open,
  read, close) against cat of the same file on /dev/shm without the preload.

pytest-benchmark times each gkfs process (subprocess.run, median of the rounds); each round
first runs the baseline process, also timed. When hyperfine (Debian) is installed, both
commands are also measured with ``hyperfine -N`` (no shell) and its medians are kept beside.
cat's output is checked against the file's contents on every run.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from harness import HANG_GUARD_S, cases

CONTENT = bytes(range(256)) * 16  # 4 KiB
ROUNDS = 40


def _timed(argv: list[str], env: dict[str, str], expect: bytes) -> float:
    t0 = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, timeout=HANG_GUARD_S)
    ms = (time.perf_counter() - t0) * 1e3
    assert result.returncode == 0 and result.stdout == expect, \
        f"{argv} failed ({result.returncode}): {result.stderr.decode(errors='replace')}"
    return ms


def _hyperfine(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median milliseconds per command name, or {} without hyperfine."""
    if shutil.which("hyperfine") is None:
        return {}
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = ["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json",
                out.name, "--style", "none"]
        for name, cmd in commands.items():
            argv += ["-n", name, " ".join(cmd)]
        subprocess.run(argv, check=True, capture_output=True, timeout=HANG_GUARD_S)
        with open(out.name) as f:
            data = json.load(f)
    return {r["command"]: r["median"] * 1e3 for r in data["results"]}


@cases(full=[{"transport": t, "program": p} for t in ("shm", "tcp") for p in ("true", "cat")],
       quick=[{"transport": t, "program": p} for t in ("shm", "tcp") for p in ("true", "cat")])
def test_startup(case, fs_pool, shm_dir, quick, benchmark):
    fs = fs_pool.get(case["transport"], 1)
    plain = {k: v for k, v in fs.env.items() if not k.startswith(("LD_PRELOAD", "LIBGKFS_"))}
    if case["program"] == "true":
        base_argv = gkfs_argv = ["/bin/true"]
        expect = b""
    else:
        with fs.client() as client:
            client.write_bytes("/startup.bin", CONTENT)
        with open(os.path.join(shm_dir, "startup.bin"), "wb") as f:
            f.write(CONTENT)
        base_argv = ["cat", os.path.join(shm_dir, "startup.bin")]
        gkfs_argv = ["cat", os.path.join(fs.mountdir, "startup.bin")]
        expect = CONTENT
    rounds = 10 if quick else ROUNDS
    base_ms: list[float] = []
    try:
        benchmark.pedantic(lambda: _timed(gkfs_argv, fs.env, expect),
                           setup=lambda: base_ms.append(_timed(base_argv, plain, expect)),
                           rounds=rounds, warmup_rounds=2, iterations=1)
        env_args = [f"{k}={v}" for k, v in fs.env.items()
                    if k.startswith(("LD_PRELOAD", "LIBGKFS_", "UCX_"))]
        ucx_args = [a for a in env_args if a.startswith("UCX_")]
        hyper = _hyperfine({"baseline": ["env", *ucx_args, *base_argv],
                            "gkfs": ["env", *env_args, *gkfs_argv]}, rounds)
    finally:
        if case["program"] == "cat":
            with fs.client() as client:
                client.remove("/startup.bin")
            os.remove(os.path.join(shm_dir, "startup.bin"))
    gkfs_ms = benchmark.stats.stats.median * 1e3
    benchmark.extra_info.update({
        "suite": "startup", **case,
        "median": {"wall_ms": gkfs_ms}, "baseline": "no preload",
        "baseline_median": {"wall_ms": statistics.median(base_ms)},
        "hyperfine_ms": hyper})
    fs.assert_clean()
