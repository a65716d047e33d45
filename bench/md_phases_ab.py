"""A/B of IO500's metadata call sequences between two copies of the gkfs package, rounds
interleaved so that both see the same machine load: ``python bench/md_phases_ab.py
BASE_DIR NEW_DIR [--files N] [--ranks R] [--rounds K] [--json OUT]``, where each DIR holds
an installed ``gkfs`` package (``cp -a .venv/lib/python3*/site-packages/gkfs DIR/``) and is
put first on PYTHONPATH for its half. Each round starts a 1-daemon file system (rootdir on
/dev/shm, the default transports) per copy and runs `ranks` processes of
``tests/md_phases.c`` at once in one shared directory (as mdtest-hard): write (creat +
3901 B + close), stat, read, unlink, and md-workbench's iteration (stat, read, unlink,
write; "bench").
Prints the median operations/s per phase of each copy and NEW/BASE, and the CPU time the
daemon and the client processes spent per operation (less sensitive to the machine's load
than the rates); docs/performance.md
("Round trips per metadata operation") quotes it."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# In this order; "bench" runs on files the second "write" made (its rate is not kept).
PHASES = ["write", "stat", "read", "unlink", "write", "bench"]

PROBE = r"""
import json, os, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from conftest import compile_c, start_fs, stop_fs
from pathlib import Path
program, files, ranks = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
import shutil, tempfile
shm = tempfile.mkdtemp(prefix="gkfs-ab-", dir="/dev/shm")
fs = start_fs(1, ["--rootdir", shm])  # the later --rootdir wins
try:
    with fs.client() as c:
        c.mkdir("/d", 0o755)
    procs = [subprocess.Popen([program], env=fs.env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(ranks)]
    daemon = json.loads(fs.state)["daemons"][0]["pid"]
    def cpu_s(pid):  # utime + stime of a process, in seconds (fields 14 and 15)
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    def phase(name, first_of):
        start = time.perf_counter()
        d0, c0 = cpu_s(daemon), sum(cpu_s(p.pid) for p in procs)
        for rank, p in enumerate(procs):
            p.stdin.write(f"{name} {fs.mountdir}/d {first_of(rank)} {files}\n")
            p.stdin.flush()
        bad = [p.stdout.readline() for p in procs]
        elapsed = time.perf_counter() - start
        ops = ranks * files
        d_us = (cpu_s(daemon) - d0) * 1e6 / ops
        c_us = (sum(cpu_s(p.pid) for p in procs) - c0) * 1e6 / ops
        assert all(b == "done 0\n" for b in bad), (name, bad)
        return ops / elapsed, d_us, c_us
    phase("connect", lambda rank: 0)
    rates = {}
    for name in %s:
        rate, d_us, c_us = phase(name, lambda rank: rank * files)
        if name not in rates:
            rates[name], rates[name + ":daemon_us"], rates[name + ":client_us"] = rate, d_us, c_us
    for p in procs:
        p.stdin.close()
        p.wait()
        p.stdout.close()
    print(json.dumps(rates))
finally:
    stop_fs(fs)
    shutil.rmtree(shm, ignore_errors=True)
""" % (PHASES,)


def one_round(package_dir: str, program: str, files: int, ranks: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=package_dir)
    out = subprocess.run([sys.executable, "-c", PROBE, str(REPO / "tests"), program, str(files),
                          str(ranks)],
                         env=env, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base")
    ap.add_argument("new")
    ap.add_argument("--files", type=int, default=2000, help="files per process and phase")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", help="write every round's rates here")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gkfs-ab-"))
    program = str(work / "md_phases")
    cc = shutil.which("cc") or "gcc"
    subprocess.run([cc, "-O1", "-o", program, str(REPO / "tests" / "md_phases.c")], check=True)
    runs: dict[str, list[dict[str, float]]] = {"base": [], "new": []}
    for r in range(args.rounds):
        order = ["base", "new"] if r % 2 == 0 else ["new", "base"]
        for which in order:
            runs[which].append(one_round(getattr(args, which), program, args.files, args.ranks))
    shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"{args.rounds} rounds, {args.ranks} processes x {args.files} files per phase, "
          f"1-minute load {load:.1f} at the end")
    print("| phase | ops/s base | new | new / base | daemon CPU µs/op base | new "
          "| client CPU µs/op base | new |")
    print("|---|---|---|---|---|---|---|---|")
    med = lambda which, key: statistics.median(x[key] for x in runs[which])
    for name in dict.fromkeys(PHASES):
        b, n = med("base", name), med("new", name)
        print(f"| {name} | {b:,.0f} | {n:,.0f} | {n / b:.2f} | "
              f"{med('base', name + ':daemon_us'):.0f} | "
              f"{med('new', name + ':daemon_us'):.0f} | {med('base', name + ':client_us'):.0f} | "
              f"{med('new', name + ':client_us'):.0f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "load": load, "runs": runs},
                                              indent=1))


if __name__ == "__main__":
    main()
