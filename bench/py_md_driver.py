"""py_md_driver: md_driver's flat mode through Python: gkfs.Client, or the os module on a
local directory (the baseline), so both sides pay the same interpreter overhead.

    python py_md_driver.py (--gkfs HOSTS_FILE | --dir DIR) --files N --procs P

P worker processes (fresh interpreters, each with its own gkfs.Client) each create N empty
files in /p<k>/ (open(..., "xb").close()), list the directory and check it holds exactly
those names (untimed), stat each (regular, size 0), then remove each. The parent times each
phase from the first "go" to the last "done" and prints one JSON object like md_driver.
Exit status 1 if any worker failed (its traceback is on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
import time
import traceback
from typing import Any, Callable

PHASES = ("create", "verify", "stat", "remove")


class LocalFs:
    """The os-module twin of the gkfs.Client calls the worker makes."""

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, p: str) -> str:
        return self.root + p

    def mkdir(self, p: str) -> None:
        os.mkdir(self.path(p))

    def rmdir(self, p: str) -> None:
        os.rmdir(self.path(p))

    def create(self, p: str) -> None:
        open(self.path(p), "xb").close()

    def listdir(self, p: str) -> list[str]:
        return os.listdir(self.path(p))

    def stat(self, p: str) -> os.stat_result:
        return os.stat(self.path(p))

    def remove(self, p: str) -> None:
        os.remove(self.path(p))


class GkfsFs:
    def __init__(self, hosts_file: str) -> None:
        import gkfs

        self.client = gkfs.Client(hosts_file)
        self.mkdir = self.client.mkdir
        self.rmdir = self.client.rmdir
        self.listdir = self.client.listdir
        self.stat = self.client.stat
        self.remove = self.client.remove

    def create(self, p: str) -> None:
        self.client.open(p, "xb").close()


def worker(args: argparse.Namespace) -> int:
    fs: Any = GkfsFs(args.gkfs) if args.gkfs else LocalFs(args.dir)
    top = f"/p{args.worker}"
    names = [f"f{i}" for i in range(args.files)]
    paths = [f"{top}/{n}" for n in names]

    def verify() -> None:
        listed = sorted(fs.listdir(top))
        if listed != sorted(names):
            raise AssertionError(f"{top} lists {len(listed)} entries, want {len(names)}")

    def stat_all() -> None:
        for p in paths:
            st = fs.stat(p)
            if not stat.S_ISREG(st.st_mode) or st.st_size != 0:
                raise AssertionError(f"{p}: mode {st.st_mode:o} size {st.st_size}")

    def create_all() -> None:
        for p in paths:
            fs.create(p)

    def remove_all() -> None:
        for p in paths:
            fs.remove(p)

    phases: dict[str, Callable[[], None]] = {
        "create": create_all, "verify": verify, "stat": stat_all, "remove": remove_all}
    ok = True
    try:
        fs.mkdir(top)
    except Exception:
        traceback.print_exc()
        ok = False
    print("ready", flush=True)
    for name in PHASES:
        sys.stdin.readline()
        if ok:
            try:
                phases[name]()
            except Exception:
                traceback.print_exc()
                ok = False
        print("done" if ok else "fail", flush=True)
    if ok:
        fs.rmdir(top)
    return 0 if ok else 1


def parent(args: argparse.Namespace) -> int:
    target = ["--gkfs", args.gkfs] if args.gkfs else ["--dir", args.dir]
    workers = [subprocess.Popen([sys.executable, __file__, *target, "--files", str(args.files),
                                 "--worker", str(k)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for k in range(args.procs)]
    ok = all(w.stdout.readline().strip() == "ready" for w in workers)
    seconds = {}
    for name in PHASES:
        t0 = time.perf_counter()
        for w in workers:
            w.stdin.write("go\n")
            w.stdin.flush()
        for w in workers:
            ok &= w.stdout.readline().strip() == "done"
        seconds[name] = time.perf_counter() - t0
    for w in workers:
        ok &= w.wait() == 0
    out: dict[str, Any] = {"mode": "flat", "files_per_proc": args.files, "procs": args.procs}
    for name in PHASES:
        out[f"{name}_s"] = round(seconds[name], 6)
        if name != "verify":
            out[f"{name}_ops"] = round(args.files * args.procs / seconds[name], 1)
    out["ok"] = ok
    print(json.dumps(out))
    return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--gkfs", metavar="HOSTS_FILE")
    where.add_argument("--dir")
    p.add_argument("--files", type=int, required=True)
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    return worker(args) if args.worker is not None else parent(args)


if __name__ == "__main__":
    sys.exit(main())
