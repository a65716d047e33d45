"""The launch agent: what a launcher runs on a daemon's host (``python -m gkfs.launchers.agent``).

It keeps the remote side of every launcher to one small, tested program, so the ssh
launcher never sends shell snippets and srun/mpirun tasks lay themselves out alike:

* ``spawn --log FILE [--env K=V ...] [--timeout S] -- DAEMON_FLAGS``: starts gkfs-daemon
  detached (own session, output appended to FILE after a run marker), waits until it is ready (listed in the hosts
  file) or failed, prints one JSON line ``{"ok", "pid", "start_time", "host", "uri", "log"}``
  (or ``{"ok": false, "error"}``) and exits; the daemon keeps running. Used over ssh.
* ``exec [--env K=V ...] -- BASE_DAEMON_FLAGS``: an srun or mpirun task. Takes its daemon
  index from the launcher's rank variables (SLURM_PROCID, OMPI_COMM_WORLD_RANK, PMIX_RANK,
  PMI_RANK) and the per-host index from SLURM_LOCALID, OMPI_COMM_WORLD_LOCAL_RANK or
  MPI_LOCALRANKID, prints ``gkfs-agent: daemon I host H pid P log L [step J.S]`` (the
  launcher relays it to its log), appends its output to <rootdir>/d<I>.log (after a run
  marker) and becomes gkfs-daemon (same PID) with the flags of daemon I (see daemon_layout).
* ``stop --grace S PID:START ...``: SIGTERM, grace, SIGKILL for recorded processes on
  this host; prints a JSON list of outcomes.
* ``alive PID:START ...``: prints a JSON list of booleans.

Exit status: 0 on success, 1 when spawn failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from typing import Optional, Sequence

from gkfs import settings as _settings
from gkfs.launchers.base import (READY_LINE, begin_log_run, daemon_command,
                                 daemon_environment, daemon_layout, log_tail, logged_uri, parse_daemon_argv,
                                 proc_start_time, process_alive, signal_process,
                                 stop_processes)

__all__ = ["main", "rank_from_environment"]

_RANK_VARIABLES = ("SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK")
_LOCAL_RANK_VARIABLES = ("SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID")


def rank_from_environment(environ: Optional[dict[str, str]] = None) -> tuple[int, int]:
    """(rank, local rank) of this task as srun or mpirun set them; local rank 0 if unknown.
    Raises ValueError if no rank variable is set."""
    environ = dict(os.environ if environ is None else environ)
    rank = next((environ[v] for v in _RANK_VARIABLES if v in environ), None)
    if rank is None:
        raise ValueError(f"not started by srun or mpirun: none of {', '.join(_RANK_VARIABLES)} "
                         f"is set")
    local = next((environ[v] for v in _LOCAL_RANK_VARIABLES if v in environ), "0")
    return int(rank), int(local)


def _parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"gkfs-agent: --env expects KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def _procs(specs: Sequence[str]) -> list[tuple[int, int]]:
    procs = []
    for spec in specs:
        pid, _, start = spec.partition(":")
        procs.append((int(pid), int(start or 0)))
    return procs


def _spawn(args: argparse.Namespace) -> int:
    env = daemon_environment(_parse_env(args.env))
    os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
    with open(args.log, "ab") as out:
        begin_log_run(out.fileno())
        offset = out.tell()
        child = subprocess.Popen(daemon_command() + list(args.flags), stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True, close_fds=True)
    start_time = proc_start_time(child.pid) or 0
    deadline = time.monotonic() + args.timeout
    while True:
        with open(args.log, encoding="utf-8", errors="replace") as f:
            f.seek(offset)
            text = f.read()
        if READY_LINE in text:
            break
        if child.poll() is not None or time.monotonic() >= deadline:
            if child.poll() is None:
                child.kill()
                child.wait()
                what = f"was not ready after {args.timeout:g}s (killed)"
            else:
                what = f"exited during start-up (status {child.returncode})"
            print(json.dumps({"ok": False, "host": socket.gethostname(),
                              "error": f"{what}. Last lines of {args.log}:\n"
                                       f"{log_tail(args.log)}"}), flush=True)
            return 1
        time.sleep(0.05)
    print(json.dumps({"ok": True, "pid": child.pid, "start_time": start_time,
                      "host": socket.gethostname(), "uri": logged_uri(args.log),
                      "log": os.path.abspath(args.log)}), flush=True)
    return 0


def _exec(args: argparse.Namespace) -> int:
    try:
        rank, local = rank_from_environment()
    except ValueError as e:
        print(f"gkfs-agent: {e}", file=sys.stderr)
        return 2
    settings, log = daemon_layout(parse_daemon_argv(args.flags), rank, local)
    os.makedirs(os.path.dirname(log), exist_ok=True)
    step = ""
    if "SLURM_JOB_ID" in os.environ and "SLURM_STEP_ID" in os.environ:
        step = f" step {os.environ['SLURM_JOB_ID']}.{os.environ['SLURM_STEP_ID']}"
    print(f"gkfs-agent: daemon {rank} host {socket.gethostname()} pid {os.getpid()} "
          f"start {proc_start_time(os.getpid()) or 0} log {log}{step}", flush=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    begin_log_run(fd)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    argv = daemon_command() + _settings.to_daemon_argv(settings)
    os.execve(argv[0], argv, daemon_environment(_parse_env(args.env)))
    return 127  # not reached


def _stop(args: argparse.Namespace) -> int:
    procs = _procs(args.procs)
    outcomes = stop_processes(procs, args.grace, lambda p: process_alive(*p),
                              lambda p, signum: signal_process(p[0], p[1], signum))
    print(json.dumps(outcomes), flush=True)
    return 0


def _alive(args: argparse.Namespace) -> int:
    print(json.dumps([process_alive(pid, start) for pid, start in _procs(args.procs)]),
          flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gkfs.launchers.agent",
                                     description="gkfs launch agent (run by launchers)")
    sub = parser.add_subparsers(dest="command", required=True)
    spawn = sub.add_parser("spawn", help="start one daemon detached, wait until ready")
    spawn.add_argument("--log", required=True)
    spawn.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    spawn.add_argument("--timeout", type=float, default=60.0)
    spawn.add_argument("flags", nargs=argparse.REMAINDER)
    run = sub.add_parser("exec", help="become daemon <rank> (srun/mpirun task)")
    run.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    run.add_argument("flags", nargs=argparse.REMAINDER)
    stop = sub.add_parser("stop", help="stop recorded processes")
    stop.add_argument("--grace", type=float, default=10.0)
    stop.add_argument("procs", nargs="+", metavar="PID:START")
    alive = sub.add_parser("alive", help="which recorded processes run")
    alive.add_argument("procs", nargs="+", metavar="PID:START")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "flags") and args.flags and args.flags[0] == "--":
        args.flags = args.flags[1:]
    return {"spawn": _spawn, "exec": _exec, "stop": _stop, "alive": _alive}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
