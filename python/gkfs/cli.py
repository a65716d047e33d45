"""``gkfs-ctl``: start, inspect and stop a gkfs file system, and run programs on it.

Each subcommand parses its flags (and ``--config gkfs.toml``) into the settings model
(gkfs.settings) and calls :class:`gkfs.cluster.Cluster`, which holds the behaviour. Exit
status: 0 on success, 1 when the request failed (message on stderr), 2 on bad flags;
``status`` exits 1 if a daemon is down or a FUSE mount that start --fuse made is gone;
``run`` exits with the command's status, 127 if it is not found and 126 if it cannot be
executed (as a shell does).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import types
from typing import Any, Optional, Sequence

from gkfs import settings as _settings
from gkfs.cluster import Cluster, ClusterError
from gkfs.staging import human_size as _size
from gkfs.settings import (ClientEnvironment, ClusterSettings, DaemonSettings,
                           ForwardingArbiterSettings, ForwardingMapSettings)

__all__ = ["main", "build_parser", "preload_library"]

PROG = "gkfs-ctl"
PRELOAD_NAME = "libgkfs_intercept.so"
#: ClientEnvironment settings that gkfs-ctl run and env take as flags and pass on.
PASSED_ON_CLIENT = ["forwarding_map_file", "hostname", "app_id", "read_ahead"]
#: The client time limits that run and env take as flags and pass to the program.
CLIENT_TIMEOUTS = ["timeout_ms", "down_recheck_ms", "recheck_timeout_ms"]
#: How gkfs-ctl mount (and start --fuse) mounts.
FUSE_OPTIONS = ["cache", "writeback", "allow_other"]


def preload_library() -> str:
    """Path of the preload library shipped in the package directory. Editable installs keep
    compiled files beside gkfs._core, so that directory is tried second."""
    import gkfs

    candidate = os.path.join(os.path.dirname(os.path.abspath(gkfs.__file__)), PRELOAD_NAME)
    if os.path.exists(candidate):
        return candidate
    try:
        from gkfs import _core
    except ImportError:
        return candidate
    beside_core = os.path.join(os.path.dirname(os.path.abspath(_core.__file__)), PRELOAD_NAME)
    return beside_core if os.path.exists(beside_core) else candidate


def _version() -> str:
    import gkfs

    return gkfs.__version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Control a gkfs file system (launchers: local, ssh, srun, "
                               "mpirun). Settings: flags > GKFS_* variables > gkfs.toml "
                               "(--config) > defaults.")
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    start = sub.add_parser("start", help="start daemons and wait until all answer")
    _settings.add_config_argument(start)
    _settings.add_arguments(start, ClusterSettings)
    _settings.add_arguments(start, DaemonSettings)

    stop = sub.add_parser("stop", help="stop the daemons recorded by start")
    _settings.add_config_argument(stop)
    _settings.add_arguments(stop, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(stop, ClusterSettings, only=["stop_grace"])
    stop.add_argument("--daemon", type=int, action="append", metavar="I",
                      help="stop only daemon I (repeatable); the hosts file stays for the "
                           "others (local and ssh launchers)")

    restart = sub.add_parser("restart-daemon",
                             help="start a stopped or crashed daemon again on its host, root "
                                  "directory and address")
    _settings.add_config_argument(restart)
    _settings.add_arguments(restart, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(restart, ClusterSettings, only=["start_timeout", "timeout_ms"])
    restart.add_argument("--daemon", type=int, required=True, metavar="I",
                         help="index of the daemon, as gkfs-ctl start printed it")

    status = sub.add_parser("status", help="one line per daemon: health, address, version, "
                                           "files, capacity used and free, syncs served; one "
                                           "per FUSE mount start --fuse made")
    _settings.add_config_argument(status)
    _settings.add_arguments(status, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(status, ClusterSettings, only=["timeout_ms"])
    status.add_argument("--json", action="store_true",
                        help="print {daemons: [{index, host, uri, up, error, version, files, "
                             "chunk_bytes, total_bytes, free_bytes, orphans, syncs}], up, "
                             "total, fuse: [{host, mountdir, mounted, how}]} as JSON")

    stats = sub.add_parser("stats", help="per-daemon metrics (requests by verb, bytes, "
                                         "latency, store sizes, clients; the numbers of "
                                         "/metrics); forwarding mode: per I/O node and "
                                         "application too (merges, wait, service)")
    _settings.add_config_argument(stats)
    _settings.add_arguments(stats, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(stats, ClusterSettings, only=["timeout_ms"])
    stats.add_argument("--json", action="store_true",
                       help="print the report as JSON (the shape docs/operations.md "
                            "describes)")
    stats.add_argument("--no-verbs", action="store_true",
                       help="leave out each daemon's per-verb lines")

    env = sub.add_parser(
        "env", help="print 'export' lines for programs a shell starts: eval \"$(gkfs-ctl env)\"",
        description="Prints 'export' lines (LD_PRELOAD, LIBGKFS_*) for eval in a shell. They "
                    "affect the child processes the shell starts afterwards, not the shell "
                    "itself: its builtins (cd, test, echo >) and the running shell do not "
                    "see gkfs. Fails if no file system runs with the hosts file.")
    _settings.add_config_argument(env)
    _settings.add_arguments(env, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(env, ClusterSettings, only=CLIENT_TIMEOUTS)
    _settings.add_arguments(env, ClientEnvironment, only=PASSED_ON_CLIENT)

    run = sub.add_parser("run", help="run a command with the preload library: run -- CMD ...")
    _settings.add_config_argument(run)
    _settings.add_arguments(run, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(run, ClusterSettings, only=CLIENT_TIMEOUTS)
    _settings.add_arguments(run, ClientEnvironment, only=PASSED_ON_CLIENT)
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ...",
                     help="the command and its arguments")

    mount = sub.add_parser("mount", help="mount the file system at MOUNTDIR on this host with "
                                         "the FUSE client (gkfs-fuse): every process sees it")
    _settings.add_config_argument(mount)
    _settings.add_arguments(mount, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(mount, ClusterSettings, only=CLIENT_TIMEOUTS + FUSE_OPTIONS)
    mount.add_argument("mount_at", nargs="?", metavar="MOUNTDIR",
                       help="where to mount (default: the file system's mount directory)")
    mount.add_argument("--foreground", action="store_true",
                       help="stay until the mount is unmounted, with gkfs-fuse as a child "
                            "(start --fuse runs this in the srun launcher's job step)")

    umount = sub.add_parser("umount", help="unmount the FUSE mount at MOUNTDIR on this host "
                                           "(also while the daemons are down)")
    _settings.add_config_argument(umount)
    _settings.add_arguments(umount, DaemonSettings, only=["hosts_file"])
    umount.add_argument("mount_at", nargs="?", metavar="MOUNTDIR",
                        help="the mount (default: the file system's mount directory)")

    for name, direction in (("stage-in", "from any directory (e.g. the PFS) into gkfs"),
                            ("stage-out", "from gkfs to any directory (e.g. the PFS)")):
        stage = sub.add_parser(name, help=f"copy trees {direction}: {name} SRC... DEST")
        _settings.add_config_argument(stage)
        _settings.add_arguments(stage, DaemonSettings, only=["hosts_file"])
        _settings.add_arguments(stage, ClusterSettings, only=["timeout_ms"])
        stage.add_argument("paths", nargs="+", metavar="SRC... DEST",
                           help="sources and the destination directory (created if missing); "
                                "gkfs paths are absolute in the file system or under its "
                                "mount directory")
        stage.add_argument("--threads", type=int, default=8, metavar="N",
                           help="files copied at once (default 8)")
        stage.add_argument("--verify", action="store_true",
                           help="compare SHA-256 of every file with its copy (also of files "
                                "skipped as identical by size and time)")
        stage.add_argument("--progress-interval", type=float, default=10.0, metavar="S",
                           help="seconds between progress lines when not on a terminal "
                                "(default 10; on a terminal a bar is redrawn)")
        stage.add_argument("--launcher", choices=["local", "srun", "mpirun"], default="local",
                           help="local (default): threads of this process; srun, mpirun: "
                                "tasks on the hosts of the file system share the files")
        stage.add_argument("--tasks-per-host", type=int, default=1, metavar="N",
                           help="with srun or mpirun: tasks per host of the file system")
        stage.add_argument("--launcher-args", default="", metavar="ARGS",
                           help="extra arguments for srun or mpirun (one string)")
        stage.add_argument("--task", action="store_true", help=argparse.SUPPRESS)

    fwd_map = sub.add_parser("fwd-map", help="write the forwarding map file (compute host -> "
                                             "I/O node) with an allocation policy")
    _settings.add_arguments(fwd_map, ForwardingMapSettings)

    arbiter = sub.add_parser("fwd-arbiter", help="forwarding mode: re-allocate I/O nodes to the "
                                                 "running jobs from measured bandwidth, rewriting "
                                                 "the map every interval")
    _settings.add_config_argument(arbiter)
    _settings.add_arguments(arbiter, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(arbiter, ClusterSettings, only=["timeout_ms"])
    _settings.add_arguments(arbiter, ForwardingArbiterSettings)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "fwd-map":
        return _fwd_map(args, parser)
    try:
        config = _settings.load(ClusterSettings, args)
    except _settings.SettingsError as e:
        parser.error(str(e))
    cluster = Cluster(config)
    try:
        return _COMMANDS[args.command](cluster, args, parser)
    except (ClusterError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _mount(cluster: Cluster, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.foreground:
        return cluster.serve(args.mount_at)
    cluster.mount(args.mount_at)
    return 0


def _umount(cluster: Cluster, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    cluster.umount(args.mount_at)
    return 0


def _start(cluster: Cluster, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    cluster.start()
    return 0


def _stop(cluster: Cluster, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    return 0 if cluster.stop(only=args.daemon) else 1


def _restart(cluster: Cluster, args: argparse.Namespace,
             parser: argparse.ArgumentParser) -> int:
    cluster.restart_daemon(args.daemon)
    return 0


def _status(cluster: Cluster, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    infos = cluster.status()
    indices = cluster.recorded_indices()  # the numbers gkfs-ctl start printed, where known
    mounts = cluster.fuse_status()
    up = sum(1 for d in infos if d.up)
    healthy = bool(infos) and up == len(infos) and all(m["mounted"] for m in mounts)
    if args.json:
        daemons = [dict({key: getattr(d, key) for key in _STATUS_FIELDS},
                        index=indices.get(d.uri, position)) for position, d in enumerate(infos)]
        print(json.dumps({"daemons": daemons, "up": up, "total": len(infos), "fuse": mounts},
                         indent=2))
        return 0 if healthy else 1
    for position, d in enumerate(infos):
        i = indices.get(d.uri, position)
        if d.up:
            print(f"d{i} {d.host} {d.uri} up files={d.files} used={_size(d.chunk_bytes)} "
                  f"free={_size(d.free_bytes)} orphans={d.orphans} syncs={d.syncs} "
                  f"version={d.version}")
        else:
            print(f"d{i} {d.host} {d.uri} down ({d.error or 'no answer'})")
    for m in mounts:
        print(f"fuse {m['host']} {m['mountdir']} {'mounted' if m['mounted'] else 'NOT mounted'} "
              f"({m['how']})")
    print(f"{up} of {len(infos)} daemons up"
          + (f", {sum(m['mounted'] for m in mounts)} of {len(mounts)} FUSE mounts in place"
             if mounts else ""))
    return 0 if healthy else 1


def _stats(cluster: Cluster, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from gkfs import metrics

    report = cluster.statistics()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(metrics.format_text(report, verbs=not args.no_verbs))
    return 0 if report["daemons"] and all(d["up"] for d in report["daemons"]) else 1


def _client_env(cluster: Cluster, args: argparse.Namespace) -> dict[str, str]:
    env = cluster.client_environment(preload_library())
    if os.environ.get("LD_PRELOAD"):
        env["LD_PRELOAD"] = f"{env['LD_PRELOAD']}:{os.environ['LD_PRELOAD']}"
    env.update(passed_on_environment(args))
    return env


def passed_on_environment(args: argparse.Namespace) -> dict[str, str]:
    """LIBGKFS_FORWARDING_MAP_FILE, LIBGKFS_HOSTNAME, LIBGKFS_APP_ID and LIBGKFS_READ_AHEAD
    from the flags of run and env, else passed on from this environment; the map file made
    absolute."""
    try:
        config = _settings.load(ClientEnvironment, args)
    except _settings.SettingsError as e:
        raise ClusterError(str(e)) from None
    env = {}
    for field, spec in _settings.specs(ClientEnvironment):
        if field.name not in PASSED_ON_CLIENT or not (
                hasattr(args, field.name) or os.environ.get(spec.env or "")):
            continue
        value = getattr(config, field.name)
        if field.name == "forwarding_map_file" and value:
            value = os.path.abspath(value)
        env[spec.env] = str(value)
    return env


def _env(cluster: Cluster, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _require_running(cluster)
    env = _client_env(cluster, args)
    if not os.path.exists(preload_library()):
        print(f"{PROG}: warning: preload library {preload_library()} does not exist",
              file=sys.stderr)
    print("# for the programs this shell starts from now on, not for the shell itself")
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def _require_running(cluster: Cluster) -> None:
    """ClusterError unless the hosts file lists a daemon (what a running file system has)."""
    from gkfs.cluster import read_hosts_file

    try:
        daemons = read_hosts_file(cluster.hosts_file)
    except OSError:
        daemons = []
    if not daemons:
        raise ClusterError(f"no gkfs file system runs with hosts file {cluster.hosts_file} "
                           f"(start one with gkfs-ctl start, or name its hosts file with -H)")


def _run(cluster: Cluster, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    command = list(args.argv)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        parser.error("run: no command given (usage: gkfs-ctl run -- CMD [ARG ...])")
    if not os.path.exists(preload_library()):
        raise ClusterError(f"preload library {preload_library()} does not exist "
                           f"(is gkfs installed with its C++ part?)")
    env = dict(os.environ)
    env.update(_client_env(cluster, args))
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except OSError as e:
        # The shell's convention: 127 for a command not found, 126 for one that cannot run.
        print(f"{PROG}: run: cannot run {command[0]}: {e.strerror}", file=sys.stderr)
        return 127 if isinstance(e, FileNotFoundError) else 126
    return 127  # not reached


def _fwd_map(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from gkfs.forwarding import fwdmap

    try:
        config = _settings.load(ForwardingMapSettings, args)
    except _settings.SettingsError as e:
        parser.error(str(e))
    try:
        summary = fwdmap.write(config)
    except (fwdmap.FwdMapError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    print(summary)
    return 0


def _fwd_arbiter(cluster: Cluster, args: argparse.Namespace,
                 parser: argparse.ArgumentParser) -> int:
    from gkfs.forwarding import arbiter, jobs, policies

    try:
        config = _settings.load(ForwardingArbiterSettings, args)
    except _settings.SettingsError as e:
        parser.error(str(e))
    loop = arbiter.Arbiter(config.jobs, config.out, config.io_nodes, cluster.statistics)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    done = 0
    while not stop.is_set():
        try:
            allocation = loop.step()
        except (jobs.JobsError, policies.PolicyError, ClusterError, OSError) as e:
            print(f"{PROG}: fwd-arbiter: {e}; the map stays as it is", file=sys.stderr, flush=True)
        else:
            if allocation is not None:
                print(f"{PROG}: fwd-arbiter: wrote {config.out}: {allocation.describe()}",
                      flush=True)
        done += 1
        if config.iterations and done >= config.iterations:
            break
        stop.wait(config.interval)
    return 0


def _stage(cluster: Cluster, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from gkfs import staging

    if len(args.paths) < 2:
        parser.error(f"{args.command}: give at least one SRC and the DEST directory")
    if args.threads < 1:
        parser.error(f"{args.command}: --threads must be at least 1")
    try:
        client = cluster.client()
    except OSError as e:
        raise ClusterError(f"cannot reach the file system: {e}") from None
    with client:
        gkfs_tree, local_tree = staging.GkfsTree(client), staging.LocalTree()
        src, dst = ((local_tree, gkfs_tree) if args.command == "stage-in"
                    else (gkfs_tree, local_tree))
        progress = staging.Progress(args.command, sys.stderr, args.progress_interval)
        if args.task:  # one task of a parallel stage: its share of the files, then report
            report = staging.stage(src, dst, args.paths[:-1], args.paths[-1], args.threads,
                                   args.verify, progress, share=staging.task_share(),
                                   directories=False)
            # One write(2) of the whole line: the launcher forwards every task's output through
            # one stream, and a line written in pieces can be split by another task's output.
            sys.stdout.flush()
            line = f"\n{STAGE_REPORT} {json.dumps(dataclasses.asdict(report))}\n".encode()
            os.write(sys.stdout.fileno(), line)
            return 0
        if args.launcher == "local":
            report = staging.stage(src, dst, args.paths[:-1], args.paths[-1], args.threads,
                                   args.verify, progress)
        else:
            report = _stage_in_tasks(cluster, args)
            # The directories' modes and times once every task is done.
            report.errors += staging.stage(src, dst, args.paths[:-1], args.paths[-1],
                                           share=(0, 0)).errors
    for path, message in report.errors:
        print(f"{PROG}: {args.command}: {path}: {message}", file=sys.stderr)
    print(report.summary(args.command))
    return 1 if report.errors else 0


STAGE_REPORT = "gkfs-stage-task-report"


def _stage_in_tasks(cluster: Cluster, args: argparse.Namespace) -> Any:
    """Runs the stage as tasks of srun or mpirun on the hosts of the file system (each
    copies its share of the files) and adds up their reports. The srun step overlaps the
    daemons' and may run more tasks than the allocation has CPUs (--overcommit): the tasks
    wait on I/O."""
    from gkfs import staging
    from gkfs.cluster import read_hosts_file
    from gkfs.launchers.mpirun import MpirunLauncher
    from gkfs.launchers.srun import SrunLauncher

    hosts = list(dict.fromkeys(host for host, _ in read_hosts_file(cluster.hosts_file)))
    state = cluster.read_state()
    if args.launcher == "srun" and state and state["launcher"] == "srun":
        hosts = state["launcher_state"]["nodes"]  # Slurm's names (gethostname may be longer)
    if not hosts:
        raise ClusterError(f"no daemons in hosts file {cluster.hosts_file}")
    task = [sys.executable, "-m", "gkfs.cli", args.command, "--task", "-H", cluster.hosts_file,
            "--timeout-ms", str(cluster.config.timeout_ms), "--threads", str(args.threads),
            "--progress-interval", str(args.progress_interval), *(["--verify"] * args.verify),
            "--", *args.paths]
    extra = shlex.split(args.launcher_args)
    n = max(1, args.tasks_per_host)
    if args.launcher == "srun":
        srun = SrunLauncher.from_state({"nodes": hosts, "launcher_args": extra})
        argv = srun.stage_command(n, task)
    else:
        argv = MpirunLauncher(hosts, extra).command(types.SimpleNamespace(per_host=n), task)
    result = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    report, tasks = staging.StageReport(), 0
    decoder = json.JSONDecoder()
    for line in result.stdout.splitlines():
        # A report starts a line of its own (it is written with a newline before it); what
        # follows its JSON on the same line is another task's output.
        if not line.startswith(STAGE_REPORT + " "):
            if line:
                print(line)
            continue
        fields, end = decoder.raw_decode(line, len(STAGE_REPORT) + 1)
        fields["errors"] = [tuple(e) for e in fields["errors"]]
        report.add(staging.StageReport(**fields))
        tasks += 1
        if line[end:].strip():
            print(line[end:])
    if result.returncode != 0 or tasks != len(hosts) * n:
        raise ClusterError(f"{args.launcher} ran {tasks} of {len(hosts) * n} stage tasks "
                           f"(exit status {result.returncode}): run the same command again "
                           f"to complete the stage")
    print(f"{args.command}: {tasks} tasks on {len(hosts)} hosts ({args.launcher})")
    return report


#: The DaemonInfo fields status --json prints.
_STATUS_FIELDS = ("host", "uri", "up", "error", "version", "files", "chunk_bytes", "total_bytes",
                  "free_bytes", "orphans", "syncs", "shared_memory")

_COMMANDS = {"start": _start, "stop": _stop, "restart-daemon": _restart, "status": _status,
             "stats": _stats, "env": _env, "run": _run, "fwd-arbiter": _fwd_arbiter,
             "stage-in": _stage, "stage-out": _stage, "mount": _mount, "umount": _umount}


if __name__ == "__main__":
    sys.exit(main())
