"""gkfs.Client.stat of a plain path, a missing name and a symbolic link: the daemons' Stat
requests per call (exact) and the median time per call, for two or more copies of the
installed package, alternated in one run on one file system.

    python bench/stat_lookups.py PKG_DIR [PKG_DIR ...] [-n 2000] [--rounds 3] [--out DIR]

Each PKG_DIR holds a copy of the installed package (a directory ``gkfs``, e.g. copied from
.venv's site-packages before and after a change). The file system (2 local daemons, tcp on
loopback) is started with this environment's ``gkfs-ctl``; each round runs every package in a
process of its own, in alternating order. Prints a table and, with --out, writes summary.json there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# Runs in a process whose sys.path starts with one PKG_DIR: prints one JSON line.
_MEASURE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import gkfs
from gkfs.metrics import parse_exposition

hosts, n = sys.argv[2], int(sys.argv[3])
with gkfs.Client(hosts) as c:
    daemons = range(c.config.num_daemons)

    def stat_requests():
        return sum(v for d in daemons for name, labels, v in parse_exposition(c._core.metrics(d))
                   if name == "gkfs_requests_total" and labels["verb"] == "Stat")

    def missing():
        try:
            c.stat("/d/absent")
        except FileNotFoundError:
            pass

    cases = {"plain": lambda: c.stat("/d/f"), "missing": missing, "link": lambda: c.stat("/d/link")}
    out = {}
    for name, call in cases.items():
        call()  # connections made, FsConfig asked
        before = stat_requests()
        call()
        requests = stat_requests() - before
        times = []
        for _ in range(n):
            t = time.perf_counter_ns()
            call()
            times.append(time.perf_counter_ns() - t)
        times.sort()
        out[name] = {"stat_requests": requests, "median_us": times[n // 2] / 1000}
    print(json.dumps({"package": gkfs.__file__, "cases": out}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="+")
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    env = dict(os.environ, UCX_TLS=os.environ.get("UCX_TLS", "tcp"),
               UCX_NET_DEVICES=os.environ.get("UCX_NET_DEVICES", "lo"))
    base = Path(tempfile.mkdtemp(prefix="gkfs-stat-lookups-"))
    hosts = str(base / "hosts.txt")
    ctl = [sys.executable, "-m", "gkfs.cli"]
    subprocess.run([*ctl, "start", "--daemons", "2", "--hosts-file", hosts, "--rootdir",
                    str(base / "root"), "--mountdir", str(base / "mnt")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    try:
        import gkfs

        with gkfs.Client(hosts) as c:
            c.mkdir("/d")
            c.write_bytes("/d/f", b"x")
            c.symlink("f", "/d/link")
        runs: dict[str, list] = {p: [] for p in args.packages}
        for round_ in range(args.rounds):  # the order alternates: no package always first
            order = args.packages if round_ % 2 == 0 else args.packages[::-1]
            for package in order:
                result = subprocess.run([sys.executable, "-c", _MEASURE, os.path.abspath(package),
                                         hosts, str(args.n)], env=env, check=True,
                                        capture_output=True, text=True)
                runs[package].append(json.loads(result.stdout.splitlines()[-1])["cases"])
    finally:
        subprocess.run([*ctl, "stop", "--hosts-file", hosts], env=env, stdout=subprocess.DEVNULL)
    summary = {"load_average": os.getloadavg(), "n": args.n, "rounds": args.rounds, "packages": {}}
    print(f"{'package':<24} {'case':<8} {'Stat requests':>13} {'median us (per round)':>30}")
    for package, rounds in runs.items():
        cases = {}
        for case in rounds[0]:
            medians = [r[case]["median_us"] for r in rounds]
            cases[case] = {"stat_requests": rounds[0][case]["stat_requests"],
                           "median_us": statistics.median(medians), "rounds_us": medians}
            print(f"{package:<24} {case:<8} {cases[case]['stat_requests']:>13.0f} "
                  f"{' '.join(f'{m:.1f}' for m in medians):>30}")
        summary["packages"][package] = cases
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        Path(args.out, "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
