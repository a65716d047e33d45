"""``gkfs-daemon``: runs one gkfs daemon in this process.

Accepts GekkoFS's daemon flags (``-m -r -i -s -d -l -H -P --auto-sm --clean-rootdir -c
--enable-prometheus --prometheus-gateway``, -P's Mercury names mapped to UCX) so
GekkoFS job scripts keep working, plus gkfs's own (see ``gkfs-daemon --help`` and
docs/configuration.md), among them ``--secret-file`` (the instance secret every request must
carry) and ``--config gkfs.toml``. The C++ daemon serves in a background thread with the GIL
released; the main thread only waits, so SIGTERM/SIGINT handlers run promptly and ask the
daemon to shut down. Exit status: 0 after a clean stop, 1 on a start-up or run error, 2 on
bad flags.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import signal
import socket
import sys
import threading
from typing import Any, Optional, Sequence

from gkfs import settings as _settings

__all__ = ["main", "build_parser"]

PROG = "gkfs-daemon"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run one gkfs daemon. It appends 'host uri' to the hosts file once it "
                    "is ready and serves until SIGTERM or SIGINT.")
    parser.add_argument("--version", action="version", version=_version())
    _settings.add_config_argument(parser)
    _settings.add_arguments(parser, _settings.DaemonSettings)
    return parser


def _version() -> str:
    from gkfs import __version__
    return f"{PROG} {__version__}"


def _gekkofs_protocols(argv: Sequence[str]) -> list[str]:
    """GekkoFS -P names given on the command line or in GKFS_RPC_PROTOCOL."""
    given = [arg.split("=", 1)[-1] for arg in argv] + [os.environ.get("GKFS_RPC_PROTOCOL", "")]
    return sorted({name for name in given if name in _settings.GEKKOFS_PROTOCOLS})


class _Runner:
    """Owns the C++ daemon and the thread inside Daemon.run(); stop() is signal-safe."""

    def __init__(self) -> None:
        self.daemon: Any = None
        self.stop_requested = False
        self.error: Optional[BaseException] = None

    def stop(self, signum: int = 0, frame: Any = None) -> None:
        self.stop_requested = True
        if self.daemon is not None:
            self.daemon.shutdown()

    def serve(self) -> None:
        try:
            self.daemon.run()
        except BaseException as e:  # reported by the main thread
            self.error = e


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = _settings.load(_settings.DaemonSettings, args)
    except _settings.SettingsError as e:
        parser.error(str(e))

    from gkfs import _core

    for name in _gekkofs_protocols(sys.argv[1:] if argv is None else argv):
        print(f"{PROG}: note: -P {name} is a Mercury transport of GekkoFS; gkfs uses UCX: "
              f"{_settings.GEKKOFS_PROTOCOLS[name]}", file=sys.stderr, flush=True)
    os.environ.update(_settings.daemon_log_environment(config))

    problem = directory_problem(config)
    if problem:
        print(f"{PROG}: error: cannot start: {problem}", file=sys.stderr)
        return 1
    runner = _Runner()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, runner.stop)
    try:
        runner.daemon = _core.Daemon.create(_settings.to_core_options(config))
    except (OSError, _settings.SettingsError) as e:
        print(f"{PROG}: error: cannot start: {_listen_problem(config, e) or _reason(e)}",
              file=sys.stderr)
        return 1
    if runner.stop_requested:  # a signal arrived while the daemon was being created
        print(f"{PROG}: stopped before serving", file=sys.stderr)
        return 0
    rootdir = os.path.join(config.rootdir, config.rootdir_suffix) if config.rootdir_suffix \
        else config.rootdir
    print(f"{PROG}: listening on {runner.daemon.uri} (rootdir {rootdir}, "
          f"hosts file {config.hosts_file})", file=sys.stderr, flush=True)
    if config.enable_forwarding:
        from gkfs.forwarding.scheduling.config import resolve_path

        print(f"{PROG}: I/O node: files under {config.pfs_dir}, {config.io_threads} I/O "
              f"threads, scheduler {resolve_path(config.sched_config, {}) or '(defaults)'}",
              file=sys.stderr, flush=True)

    thread = threading.Thread(target=runner.serve, name="gkfs-daemon-run")
    thread.start()
    while thread.is_alive():
        thread.join(0.2)  # wake up regularly so signal handlers run in the main thread
    runner.daemon = None
    if runner.error is not None:
        print(f"{PROG}: error: {runner.error}", file=sys.stderr)
        return 1
    print(f"{PROG}: stopped", file=sys.stderr)
    return 0


def directory_problem(config: Any) -> str:
    """What is wrong with the directory options, naming the flag to fix ('' if nothing):
    a mount directory that exists but is not a directory, a root (or metadata) directory
    that cannot be created. Makes the root and metadata directories."""
    mountdir = config.mountdir
    if os.path.exists(mountdir) and not os.path.isdir(mountdir):
        return (f"-m/--mountdir {mountdir} is not a directory: name a directory (it need not "
                f"exist) that no file occupies")
    for flag, path in (("-r/--rootdir", config.rootdir), ("-i/--metadir", config.metadir)):
        if not path:
            continue
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            return f"{flag} {path} cannot be created: {e.strerror} ({e.filename or path})"
    return ""


def _reason(error: BaseException) -> str:
    """The core's message ('strerror: what, naming the flag or path') without Python's
    '[Errno N]' and the root directory the bindings attach; the directory only when the
    core gave no message."""
    if isinstance(error, OSError) and error.strerror:
        if ": " in error.strerror or not error.filename:
            return error.strerror
        return f"{error.strerror}: {error.filename}"
    return str(error)


def _listen_problem(config: Any, error: BaseException) -> str:
    """For a listener that failed, why, naming the flag to fix ('' if it is not that): an
    address that is not this host's (-l/--listen) is not 'Address already in use'."""
    match = re.search(r"cannot listen on \[?([^\]\s]*?)\]?:(\d+)", str(error))
    if not match or "--metrics-port" in str(error):  # that one names its flag already
        return ""
    host, port = match.group(1), int(match.group(2))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as e:
            flag = ("-l/--listen" if e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)
                    else "--port")
            return (f"{flag}: cannot listen on {host}:{port}: {e.strerror} "
                    f"(-l/--listen {config.listen or '(default)'}, --port {config.port})")
    return ""


if __name__ == "__main__":
    sys.exit(main())
