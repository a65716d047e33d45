"""The threads benchmark's driver (bench/drivers/threads_driver.c, `scripts/bench.sh --suite
threads`) runs through the preload library and on a local directory, and reports every
thread count with checked data. Correctness only, small counts (seconds); its figures belong
to bench/. IO500's correctness is tests/test_io500.py's, which also checks that the bench's
parser (bench/bench_io500.py) reads every phase of a real IO500 run."""

from __future__ import annotations

import json
import subprocess

from build_tree import built_binary

DRIVER = built_binary("gkfs_threads_driver")


def run_driver(run, directory: str) -> list[dict]:
    result = run([str(DRIVER), "-d", directory, "-t", "1,2,4", "-s", "300", "-r", "96",
                  "-f", "32", "-b", "131072"])
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["threads"] for o in lines] == [1, 2, 4], result.stdout
    for o in lines:
        assert o["ok"] is True and o["stat_ops"] > 0 and o["read_ops"] > 0, o
    return lines


def test_threads_driver_on_gkfs_and_local(make_fs, tmp_path):
    fs = make_fs(daemons=1)
    run_driver(fs.run, fs.mountdir)
    with fs.client() as client:
        assert client.listdir("/") == []  # the driver removes what it made
    run_driver(lambda argv: fs.run(argv, env=None), str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_threads_driver_rejects_bad_arguments(tmp_path):
    bad = subprocess.run([str(DRIVER), "-d", str(tmp_path), "-t", "0"], capture_output=True,
                         text=True, timeout=30)
    assert bad.returncode == 2 and "usage: threads_driver" in bad.stderr
