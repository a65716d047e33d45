"""``gkfs-ctl``: start, inspect and stop a gkfs file system, and run programs on it.

Each subcommand parses its flags (and ``--config gkfs.toml``) into the settings model
(gkfs.settings) and calls :class:`gkfs.cluster.Cluster`, which holds the behaviour. Exit
status: 0 on success, 1 when the request failed (message on stderr), 2 on bad flags;
``status`` exits 1 if a daemon is down; ``run`` exits with the command's status.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from typing import Optional, Sequence

from gkfs import settings as _settings
from gkfs.cluster import Cluster, ClusterError
from gkfs.settings import (ClientEnvironment, ClusterSettings, DaemonSettings,
                           ForwardingMapSettings)

__all__ = ["main", "build_parser", "preload_library"]

PROG = "gkfs-ctl"
PRELOAD_NAME = "libgkfs_intercept.so"
#: The client settings of forwarding mode that run and env take as flags or pass through.
FORWARDING_CLIENT = ["forwarding_map_file", "hostname", "app_id"]
#: The client time limits that run and env take as flags and pass to the program.
CLIENT_TIMEOUTS = ["timeout_ms", "down_recheck_ms", "recheck_timeout_ms"]
#: How gkfs-ctl mount (and start --fuse) mounts.
FUSE_OPTIONS = ["cache", "allow_other"]


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Control a gkfs file system (launchers: local, ssh, srun, "
                               "mpirun). Settings: flags > GKFS_* variables > gkfs.toml "
                               "(--config) > defaults.")
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
                                           "files, capacity used and free, syncs served")
    _settings.add_config_argument(status)
    _settings.add_arguments(status, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(status, ClusterSettings, only=["timeout_ms"])

    stats = sub.add_parser("stats", help="forwarding mode: per-I/O-node and per-application "
                                         "metrics (requests, bytes, merges, wait, service)")
    _settings.add_config_argument(stats)
    _settings.add_arguments(stats, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(stats, ClusterSettings, only=["timeout_ms"])
    stats.add_argument("--json", action="store_true",
                       help="print the report as JSON (the shape docs/forwarding.md describes)")

    env = sub.add_parser("env", help="print 'export' lines that put a shell on the file system")
    _settings.add_config_argument(env)
    _settings.add_arguments(env, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(env, ClusterSettings, only=CLIENT_TIMEOUTS)
    _settings.add_arguments(env, ClientEnvironment, only=FORWARDING_CLIENT)

    run = sub.add_parser("run", help="run a command with the preload library: run -- CMD ...")
    _settings.add_config_argument(run)
    _settings.add_arguments(run, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(run, ClusterSettings, only=CLIENT_TIMEOUTS)
    _settings.add_arguments(run, ClientEnvironment, only=FORWARDING_CLIENT)
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ...",
                     help="the command and its arguments")

    mount = sub.add_parser("mount", help="mount the file system at MOUNTDIR on this host with "
                                         "the FUSE client (gkfs-fuse): every process sees it")
    _settings.add_config_argument(mount)
    _settings.add_arguments(mount, DaemonSettings, only=["hosts_file"])
    _settings.add_arguments(mount, ClusterSettings, only=CLIENT_TIMEOUTS + FUSE_OPTIONS)
    mount.add_argument("mount_at", nargs="?", metavar="MOUNTDIR",
                       help="where to mount (default: the file system's mount directory)")

    umount = sub.add_parser("umount", help="unmount the FUSE mount at MOUNTDIR on this host "
                                           "(also while the daemons are down)")
    _settings.add_config_argument(umount)
    _settings.add_arguments(umount, DaemonSettings, only=["hosts_file"])
    umount.add_argument("mount_at", nargs="?", metavar="MOUNTDIR",
                        help="the mount (default: the file system's mount directory)")

    fwd_map = sub.add_parser("fwd-map", help="write the forwarding map file (compute host -> "
                                             "I/O node) with an allocation policy")
    _settings.add_arguments(fwd_map, ForwardingMapSettings)
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
    for position, d in enumerate(infos):
        i = indices.get(d.uri, position)
        if d.up:
            print(f"d{i} {d.host} {d.uri} up files={d.files} used={_size(d.chunk_bytes)} "
                  f"free={_size(d.free_bytes)} orphans={d.orphans} syncs={d.syncs} "
                  f"version={d.version}")
        else:
            print(f"d{i} {d.host} {d.uri} down ({d.error or 'no answer'})")
    up = sum(1 for d in infos if d.up)
    print(f"{up} of {len(infos)} daemons up")
    return 0 if infos and up == len(infos) else 1


def _stats(cluster: Cluster, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from gkfs.forwarding import stats

    report = cluster.io_node_statistics()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(stats.format_text(report))
    return 0 if report["io_nodes"] and all(n["up"] for n in report["io_nodes"]) else 1


def _client_env(cluster: Cluster, args: argparse.Namespace) -> dict[str, str]:
    env = cluster.client_environment(preload_library())
    if os.environ.get("LD_PRELOAD"):
        env["LD_PRELOAD"] = f"{env['LD_PRELOAD']}:{os.environ['LD_PRELOAD']}"
    env.update(forwarding_environment(args))
    return env


def forwarding_environment(args: argparse.Namespace) -> dict[str, str]:
    """LIBGKFS_FORWARDING_MAP_FILE, LIBGKFS_HOSTNAME and LIBGKFS_APP_ID from the flags of run
    and env, else passed on from this environment; the map file made absolute."""
    try:
        config = _settings.load(ClientEnvironment, args)
    except _settings.SettingsError as e:
        raise ClusterError(str(e)) from None
    env = {}
    for field, spec in _settings.specs(ClientEnvironment):
        if field.name not in FORWARDING_CLIENT or not (
                hasattr(args, field.name) or os.environ.get(spec.env or "")):
            continue
        value = getattr(config, field.name)
        if field.name == "forwarding_map_file" and value:
            value = os.path.abspath(value)
        env[spec.env] = str(value)
    return env


def _env(cluster: Cluster, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    env = _client_env(cluster, args)
    if not os.path.exists(preload_library()):
        print(f"{PROG}: warning: preload library {preload_library()} does not exist",
              file=sys.stderr)
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


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
        raise ClusterError(f"cannot run {command[0]}: {e.strerror}") from None
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


_COMMANDS = {"start": _start, "stop": _stop, "restart-daemon": _restart, "status": _status,
             "stats": _stats, "env": _env, "run": _run,
             "mount": _mount, "umount": _umount}


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{n}B"


if __name__ == "__main__":
    sys.exit(main())
