"""The one typed model of gkfs's configuration.

Every field of the dataclasses below carries its help text, command-line flags and
environment variable. From that single source come the ``gkfs-daemon`` and ``gkfs-ctl``
flags (:func:`add_arguments`), the environment lookup (:func:`load`), the C++
``DaemonOptions`` (:func:`to_core_options`), the argv of a daemon that ``gkfs-ctl start``
spawns (:func:`to_daemon_argv`) and the tables in ``docs/configuration.md`` (:func:`markdown`;
``python -m gkfs.settings --check docs/configuration.md`` verifies they are in sync).

Precedence: built-in default < ``gkfs.toml`` (``--config`` or ``GKFS_CONFIG``) < environment
variable < command-line flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar

__all__ = [
    "ClientEnvironment",
    "ClusterSettings",
    "DaemonSettings",
    "LAUNCHERS",
    "ForwardingArbiterSettings",
    "ForwardingMapSettings",
    "SettingsError",
    "PROTOCOLS",
    "GEKKOFS_PROTOCOLS",
    "parse_log_level",
    "add_arguments",
    "add_config_argument",
    "load",
    "read_config",
    "markdown",
    "parse_size",
    "to_core_options",
    "to_daemon_argv",
]

#: The -P/--rpc-protocol values (GekkoFS names); each maps to UCX transports in the core.
PROTOCOLS = ("ucx+tcp", "ucx+shm", "ucx+all", "ucx+rc", "ucx+ud", "ucx+dc")

#: GekkoFS's -P values (Mercury plug-ins) and the UCX transport each means here.
GEKKOFS_PROTOCOLS = {"ofi+sockets": "ucx+tcp", "ofi+tcp": "ucx+tcp", "bmi+tcp": "ucx+tcp",
                     "ofi+verbs": "ucx+rc", "ofi+psm2": "ucx+ud", "na+sm": "ucx+shm"}

#: Log levels of daemon and preload library (GKFS_LOG, LIBGKFS_LOG), least verbose first.
LOG_LEVELS = ("none", "errors", "info", "debug")

#: GekkoFS's level names and what they mean here (the grammar of core/common/log_level.h).
_LOG_NAMES = {"none": 0, "off": 0, "errors": 1, "error": 1, "err": 1, "critical": 1,
              "warnings": 1, "warning": 1, "warn": 1, "info": 2, "mercury": 2, "debug": 3,
              "trace": 3, "most": 3, "all": 3, "syscalls": 3, "syscalls_at_entry": 3,
              "trace_reads": 3}

#: Metadata backends GekkoFS knows (-d/--dbbackend); gkfs has RocksDB.
DB_BACKENDS = ("rocksdb",)

#: What a client's fsync costs a daemon (--sync-mode).
SYNC_MODES = ("full", "none")

#: How gkfs-ctl start runs the daemons (gkfs.launchers).
LAUNCHERS = ("local", "ssh", "srun", "mpirun")

#: The variable naming the gkfs.toml file (the --config flag wins over it).
CONFIG_ENV = "GKFS_CONFIG"

MIN_CHUNK_SIZE = 4096


class SettingsError(ValueError):
    """A setting has a bad value; the message names the flag and environment variable."""


@dataclasses.dataclass(frozen=True)
class Spec:
    """How one setting is spelled outside Python."""

    help: str
    flags: tuple[str, ...] = ()          # long flag last; empty: environment only
    env: Optional[str] = None
    parse: Callable[[str], Any] = str    # text (flag or environment) -> value
    check: Optional[Callable[[Any], Optional[str]]] = None  # value -> problem or None
    choices: Optional[tuple[str, ...]] = None
    metavar: Optional[str] = None
    env_aliases: tuple[str, ...] = ()    # read when env is unset (GekkoFS's names)


def _setting(default: Any, help: str, *flags: str, env: Optional[str] = None,
             parse: Callable[[str], Any] = str,
             check: Optional[Callable[[Any], Optional[str]]] = None,
             choices: Optional[tuple[str, ...]] = None, metavar: Optional[str] = None,
             env_aliases: tuple[str, ...] = ()) -> Any:
    spec = Spec(help=help, flags=flags, env=env, parse=parse, check=check, choices=choices,
                metavar=metavar, env_aliases=env_aliases)
    return dataclasses.field(default=default, metadata={"gkfs": spec})


# --- value parsers and checks --------------------------------------------------------------

_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """'4096', '512K', '512KiB', '1M', '2g' -> bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r} (use bytes or a K/M/G suffix, e.g. 512K)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r} (use 1/0, true/false, yes/no, on/off)")


def parse_log_level(text: str) -> str:
    """A log level as daemon and preload library read it (core/common/log_level.h): a name
    (none, errors, info, debug, or GekkoFS's: off, err, warn, critical, trace, all, most,
    syscalls, ...), a GekkoFS daemon number (0 off, 1-3 errors, 4 info, 5+ debug) or a
    comma list of those (the most verbose wins) -> none | errors | info | debug."""
    levels = []
    for item in text.strip().lower().split(","):
        item = item.strip()
        if item.isdigit():
            number = int(item)
            levels.append(0 if number == 0 else 1 if number <= 3 else 2 if number == 4 else 3)
        elif item in _LOG_NAMES:
            levels.append(_LOG_NAMES[item])
        else:
            raise ValueError(f"not a log level: {text!r} (use none, errors, info, debug, "
                             f"GekkoFS's names or numbers 0-5)")
    return LOG_LEVELS[max(levels)]


def parse_protocol(text: str) -> str:
    """-P value: gkfs's ucx+* names, or GekkoFS's Mercury names mapped to UCX (see
    GEKKOFS_PROTOCOLS); anything else comes back unchanged for the choices check."""
    return GEKKOFS_PROTOCOLS.get(text.strip(), text.strip())


def parse_int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise ValueError(f"not an integer: {text!r}") from None


def parse_seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"not a number of seconds: {text!r}") from None


def _check_chunk_size(value: int) -> Optional[str]:
    if value < MIN_CHUNK_SIZE or value & (value - 1):
        return f"must be a power of two >= {MIN_CHUNK_SIZE} (got {value})"
    return None


def _check_port(value: int) -> Optional[str]:
    return None if 0 <= value <= 65535 else f"must be in 0..65535 (got {value})"


def _check_positive(value: float) -> Optional[str]:
    return None if value > 0 else f"must be > 0 (got {value})"


def _check_lease(value: float) -> Optional[str]:
    return None if 1 <= value <= 86400 else f"must be between 1 and 86400 seconds (got {value})"


def _check_not_negative(value: int) -> Optional[str]:
    return None if value >= 0 else f"must be >= 0 (got {value})"


def _check_path(value: str) -> Optional[str]:
    return "must not be empty" if not value else None


def _check_dir(value: str) -> Optional[str]:
    if not value:
        return "must not be empty"
    if os.path.exists(value) and not os.path.isdir(value):
        return f"{value!r} exists and is not a directory"
    return None


def _check_optional_dir(value: str) -> Optional[str]:
    return _check_dir(value) if value else None


def _check_suffix(value: str) -> Optional[str]:
    if value in (".", "..") or "/" in value:
        return f"must be one directory name, without '/' (got {value!r})"
    return None


def _check_gateway(value: str) -> Optional[str]:
    if not value:
        return None
    host, _, port = value.removeprefix("http://").rstrip("/").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return f"must be HOST:PORT, e.g. 127.0.0.1:9091 (got {value!r})"
    return None


def _check_app_id(value: int) -> Optional[str]:
    return None if 0 <= value < 1 << 32 else f"must be in 0..{(1 << 32) - 1} (got {value})"


def _check_read_ahead(value: int) -> Optional[str]:
    return None if 0 <= value <= 64 << 20 else f"must be 0..64M (got {value})"


def _check_sched_config(value: str) -> Optional[str]:
    if not value:
        return None
    from gkfs.forwarding.scheduling.config import ConfigError, load_config

    try:
        load_config(value)
    except ConfigError as e:
        return f"is not usable: {e}"
    return None


# --- the model ------------------------------------------------------------------------------


@dataclasses.dataclass
class DaemonSettings:
    """Options of one gkfs daemon: the flags of ``gkfs-daemon`` (GekkoFS-compatible) and of
    ``gkfs-ctl start``, which passes them on to each daemon it spawns."""

    mountdir: str = _setting(
        "/tmp/gkfs_mountdir",
        "Mount directory: applications see the file system under this path (the preload "
        "library routes paths below it to gkfs). Daemons advertise it to clients.",
        "-m", "--mountdir", env="GKFS_MOUNTDIR", check=_check_path, metavar="DIR")
    rootdir: str = _setting(
        "/tmp/gkfs_rootdir",
        "Node-local directory holding the daemon's chunk files (and its metadata unless "
        "--metadir is given). gkfs-ctl start gives daemon i the directory <rootdir>/d<i>.",
        "-r", "--rootdir", env="GKFS_ROOTDIR", check=_check_dir, metavar="DIR")
    metadir: str = _setting(
        "",
        "Directory of the metadata database (RocksDB); empty: <rootdir>/metadata. "
        "gkfs-ctl start gives daemon i the directory <metadir>/d<i>.",
        "-i", "--metadir", env="GKFS_METADIR", check=_check_optional_dir, metavar="DIR")
    rootdir_suffix: str = _setting(
        "",
        "GekkoFS's -s: the daemon keeps its data in <rootdir>/<suffix> (several daemons "
        "sharing one root directory on a node); empty: in <rootdir> itself.",
        "-s", "--rootdir-suffix", env="GKFS_ROOTDIR_SUFFIX", check=_check_suffix,
        metavar="NAME")
    dbbackend: str = _setting(
        "rocksdb",
        "GekkoFS's -d: the metadata database. gkfs stores metadata in RocksDB only "
        "(--memory-backend for tests); GekkoFS's parallaxdb is refused.",
        "-d", "--dbbackend", env="GKFS_DBBACKEND", choices=DB_BACKENDS, metavar="NAME")
    listen: str = _setting(
        "127.0.0.1",
        "Address or network interface name (e.g. ib0) the daemon listens on, and only "
        "there: UCX uses that interface alone.",
        "-l", "--listen", env="GKFS_LISTEN", check=_check_path, metavar="ADDR|IFACE")
    port: int = _setting(
        0,
        "Port to listen on; 0 picks a free port. gkfs-ctl start gives the k-th daemon of "
        "a host port+k.",
        "--port", env="GKFS_PORT", parse=parse_int, check=_check_port, metavar="PORT")
    hosts_file: str = _setting(
        "./gkfs_hosts.txt",
        "Shared hosts file (GekkoFS format, one 'host uri' line per daemon). A daemon "
        "appends its line once it is ready; clients read it to find the daemons.",
        "-H", "--hosts-file", env="GKFS_HOSTS_FILE", check=_check_path, metavar="FILE")
    rpc_protocol: str = _setting(
        "ucx+tcp",
        "Transport: ucx+tcp, ucx+shm (same node only), ucx+all (UCX picks), ucx+rc / "
        "ucx+ud / ucx+dc (InfiniBand and Omni-Path verbs). GekkoFS's Mercury names map to "
        "UCX: ofi+sockets, ofi+tcp, bmi+tcp -> ucx+tcp; ofi+verbs -> ucx+rc; ofi+psm2 -> "
        "ucx+ud (Omni-Path's hfi1 verbs); na+sm -> ucx+shm.",
        "-P", "--rpc-protocol", env="GKFS_RPC_PROTOCOL", parse=parse_protocol,
        choices=PROTOCOLS, metavar="PROTO")
    auto_sm: bool = _setting(
        True,
        "Offer shared memory to clients on this daemon's host (on by default; --no-auto-sm "
        "turns it off). A client with the same host name, boot and network namespace and "
        "effective uid connects by the daemon's UCX worker address (shared memory) and "
        "keeps the network endpoint as its liveness check; clients on other hosts, or of "
        "other users, use the network (-P).",
        "--auto-sm", env="GKFS_AUTO_SM", parse=parse_bool)
    chunk_size: int = _setting(
        512 * 1024,
        "Chunk size in bytes (K/M suffixes allowed); a power of two >= 4096. Fixed for the "
        "lifetime of the file system: every daemon must use the same value.",
        "--chunk-size", env="GKFS_CHUNK_SIZE", parse=parse_size, check=_check_chunk_size,
        metavar="BYTES")
    clean_rootdir: bool = _setting(
        False, "Wipe the root directory (and metadata directory) before starting.",
        "--clean-rootdir", env="GKFS_CLEAN_ROOTDIR", parse=parse_bool)
    clean_rootdir_finish: bool = _setting(
        False, "Wipe the root directory (and metadata directory) after a clean shutdown.",
        "-c", "--clean-rootdir-finish", env="GKFS_CLEAN_ROOTDIR_FINISH", parse=parse_bool)
    memory_backend: bool = _setting(
        False,
        "Keep metadata in memory instead of RocksDB (tests; lost when the daemon stops).",
        "--memory-backend", env="GKFS_MEMORY_BACKEND", parse=parse_bool)
    sync_mode: str = _setting(
        "full",
        "What fsync, fdatasync, sync_file_range and syncfs of a client do: full makes the "
        "file's data durable on this daemon's storage (the chunk files written since their "
        "last sync are fsynced) and its metadata too (RocksDB's WAL synced); none answers at "
        "once, for scratch data: a crash of the node or a power loss can then lose whatever "
        "the page cache held, fsynced or not (a crash of the daemon alone loses nothing).",
        "--sync-mode", env="GKFS_SYNC_MODE", choices=SYNC_MODES, metavar="MODE")
    session_lease: float = _setting(
        30.0,
        "Seconds a client process's open files outlive its last sign of life. Clients renew "
        "their session every third of this while they hold files open; a client killed "
        "outright stops, and once its lease ran out the daemon drops its opens: files it "
        "alone held after their last unlink (orphans) are reclaimed with their chunks, "
        "between one and 1.25 leases after the client's last renewal. Orphans a previous run "
        "left go one lease after the start. A client cut off for a whole lease loses its "
        "unlinked files the same way.",
        "--session-lease", env="GKFS_SESSION_LEASE", parse=parse_seconds,
        check=_check_lease, metavar="SECONDS")
    log_level: str = _setting(
        "errors",
        "What the daemon logs to stderr (or --log-output): none, errors, info or debug; "
        "GekkoFS's names and numbers too (0 off, 1-3 errors, 4 info, 5 debug), the same "
        "for the preload library's LIBGKFS_LOG. GekkoFS's GKFS_DAEMON_LOG_LEVEL is read "
        "when GKFS_LOG is not set.",
        "--log-level", env="GKFS_LOG", env_aliases=("GKFS_DAEMON_LOG_LEVEL",),
        parse=parse_log_level, choices=LOG_LEVELS, metavar="LEVEL")
    log_output: str = _setting(
        "", "File the daemon log goes to; empty: stderr. GekkoFS's GKFS_DAEMON_LOG_PATH is "
        "read when GKFS_LOG_OUTPUT is not set.",
        "--log-output", env="GKFS_LOG_OUTPUT", env_aliases=("GKFS_DAEMON_LOG_PATH",),
        metavar="FILE")
    secret_file: str = _setting(
        "",
        "File holding the instance secret (32 hex digits); the daemon refuses requests that "
        "do not carry it (EACCES). gkfs-ctl start creates <hosts_file>.secret (mode 0600) "
        "and passes it to every daemon; empty: no secret, anyone who reaches the daemon may "
        "use it.",
        "--secret-file", env="GKFS_SECRET_FILE", metavar="FILE")
    enable_forwarding: bool = _setting(
        False,
        "Forwarding mode (GekkoFWD): the daemon is an I/O node that executes its clients' "
        "operations on ordinary files under --pfs-dir, every read and write ordered by the "
        "scheduler of --sched-config. Fails at start in a build without forwarding.",
        "--enable-forwarding", env="GKFS_ENABLE_FORWARDING", parse=parse_bool)
    pfs_dir: str = _setting(
        "",
        "Forwarding mode: the directory on the parallel file system that holds the files "
        "(same names as the applications use, no chunks); required with --enable-forwarding. "
        "Every I/O node of a file system gets the same directory.",
        "--pfs-dir", env="GKFS_PFS_DIR", check=_check_optional_dir, metavar="DIR")
    pfs_direct_io: bool = _setting(
        False,
        "Forwarding mode: write each PFS operation whose offset and length are multiples of "
        "4 KiB with O_DIRECT (from an aligned copy, bypassing the I/O node's page cache); "
        "others, and file systems that refuse O_DIRECT, go through the page cache.",
        "--pfs-direct-io", env="GKFS_PFS_DIRECT_IO", parse=parse_bool)
    io_threads: int = _setting(
        2,
        "I/O threads: chunk reads and writes of 128 KiB or more run on this many threads "
        "beside the network thread. Forwarding mode: PFS operations in flight at once (the "
        "scheduler dispatches into these slots).",
        "--io-threads", env="GKFS_IO_THREADS", parse=parse_int, check=_check_positive,
        metavar="N")
    metrics_port: int = _setting(
        0,
        "Serve Prometheus metrics (GET /metrics, text format) on this port of the listen "
        "address; 0: no metrics server. gkfs-ctl start gives daemon i the port "
        "metrics-port+i and prints them.",
        "--metrics-port", env="GKFS_METRICS_PORT", parse=parse_int, check=_check_port,
        metavar="PORT")
    enable_prometheus: bool = _setting(
        False,
        "Push the metrics to a Prometheus Pushgateway (GekkoFS's flag): the one of "
        "--prometheus-gateway, default 127.0.0.1:9091.",
        "--enable-prometheus", env="GKFS_ENABLE_PROMETHEUS", parse=parse_bool)
    prometheus_gateway: str = _setting(
        "",
        "Pushgateway (HOST:PORT) the daemon pushes its metrics to every "
        "--prometheus-push-interval seconds and once when it stops (job gkfs, instance the "
        "daemon's address); implies --enable-prometheus. Empty: 127.0.0.1:9091 with "
        "--enable-prometheus, else no push.",
        "--prometheus-gateway", env="GKFS_PROMETHEUS_GATEWAY", check=_check_gateway,
        metavar="HOST:PORT")
    prometheus_push_interval: float = _setting(
        5.0, "Seconds between two pushes to the Pushgateway.",
        "--prometheus-push-interval", env="GKFS_PROMETHEUS_PUSH_INTERVAL",
        parse=parse_seconds, check=_check_positive, metavar="SECONDS")
    sched_config: str = _setting(
        "",
        "Forwarding mode: the I/O node's request scheduler configuration (agios.conf keys "
        "and syntax, see docs/forwarding.md); empty: /tmp/agios.conf if it exists (GekkoFWD's "
        "default), else the defaults (SJF). Checked at start.",
        "--sched-config", env="GKFS_SCHED_CONFIG", check=_check_sched_config, metavar="FILE")


@dataclasses.dataclass
class ClusterSettings:
    """Options of ``gkfs-ctl``: how many daemons to start and how long to wait for them.
    The daemon options ride along in ``daemon``."""

    daemons: int = _setting(
        1, "Daemons per host: the local launcher runs N on this host, ssh, srun and mpirun "
        "N on every host. Daemon i keeps its data in <rootdir>/d<i>.",
        "-n", "--daemons", env="GKFS_DAEMONS", parse=parse_int, check=_check_positive,
        metavar="N")
    launcher: str = _setting(
        "local",
        "How gkfs-ctl start runs the daemons: local (on this host), ssh (on every host of "
        "--host-list), srun (on every node of the Slurm allocation or --nodelist, as one job "
        "step) or mpirun (on every host of --host-list, as one MPI job).",
        "--launcher", env="GKFS_LAUNCHER", choices=LAUNCHERS, metavar="NAME")
    host_list: str = _setting(
        "",
        "Host list file of the ssh and mpirun launchers: one host name or address per line "
        "('#' starts a comment; MPI hostfile fields such as slots=4 are ignored).",
        "--host-list", env="GKFS_HOST_LIST", metavar="FILE")
    nodelist: str = _setting(
        "",
        "Nodes of the srun launcher, a Slurm host list such as node[01-04]; empty: every "
        "node of the allocation (SLURM_JOB_NODELIST).",
        "--nodelist", env="GKFS_NODELIST", metavar="NODES")
    launcher_args: str = _setting(
        "",
        "Extra arguments for ssh, srun or mpirun: one string, split like a shell line (write "
        "--launcher-args='-i KEY' when it starts with a dash).",
        "--launcher-args", env="GKFS_LAUNCHER_ARGS", metavar="ARGS")
    start_timeout: float = _setting(
        60.0,
        "Seconds gkfs-ctl start waits for every daemon to be listed and to answer a health "
        "RPC before it stops them and fails.",
        "--start-timeout", env="GKFS_START_TIMEOUT", parse=parse_seconds,
        check=_check_positive, metavar="SECONDS")
    stop_grace: float = _setting(
        10.0, "Seconds gkfs-ctl stop waits after SIGTERM before it sends SIGKILL.",
        "--stop-grace", env="GKFS_STOP_GRACE", parse=parse_seconds, check=_check_positive,
        metavar="SECONDS")
    timeout_ms: int = _setting(
        5000,
        "Client timeout in milliseconds: a request that makes no network progress this long "
        "fails with EHOSTDOWN (a silent host: link down, frozen node); a daemon whose process "
        "died fails at once (connection reset). Used by gkfs-ctl's health checks and passed "
        "to programs by gkfs-ctl run and env (LIBGKFS_TIMEOUT_MS).",
        "--timeout-ms", env="GKFS_TIMEOUT_MS", parse=parse_int, check=_check_positive,
        metavar="MS")
    down_recheck_ms: int = _setting(
        5000,
        "Milliseconds a client keeps a daemon marked down after a call to it timed out: "
        "meanwhile calls that need it fail at once with EHOSTDOWN; then the next such call "
        "rechecks it (a ping, see --recheck-timeout-ms) and uses it again if it answers. "
        "Passed to programs by gkfs-ctl run and env (LIBGKFS_DOWN_RECHECK_MS).",
        "--down-recheck-ms", env="GKFS_DOWN_RECHECK_MS", parse=parse_int,
        check=_check_positive, metavar="MS")
    recheck_timeout_ms: int = _setting(
        1000,
        "Milliseconds the recheck of a daemon marked down waits for an answer (at most "
        "--timeout-ms); without one the daemon stays down for another --down-recheck-ms. "
        "Passed to programs by gkfs-ctl run and env (LIBGKFS_RECHECK_TIMEOUT_MS).",
        "--recheck-timeout-ms", env="GKFS_RECHECK_TIMEOUT_MS", parse=parse_int,
        check=_check_positive, metavar="MS")
    fuse: bool = _setting(
        False,
        "gkfs-ctl start also mounts the file system at the mount directory with the FUSE "
        "client (gkfs-fuse) on every host the daemons run on, so every process there (static "
        "programs, your shell) reaches it; gkfs-ctl stop unmounts first.",
        "--fuse", env="GKFS_FUSE", parse=parse_bool)
    cache: bool = _setting(
        False,
        "FUSE mounts for one writer per file: the kernel keeps attributes and names 1 s and "
        "file pages across opens (dropped once refreshed attributes show the file changed). "
        "Default: every stat and lookup asks the daemons and pages are dropped at open "
        "(close-to-open consistency for several writers).",
        "--cache", env="GKFS_CACHE", parse=parse_bool)
    writeback: bool = _setting(
        False,
        "Implies --cache; the kernel also collects writes and sends them at close, fsync or "
        "under memory pressure (writeback cache): fast small writes, but the kernel then trusts its "
        "own size of a file it keeps, so a change made on another host does not show on this "
        "one until the file leaves its cache: only for files no other host changes.",
        "--writeback", env="GKFS_WRITEBACK", parse=parse_bool)
    allow_other: bool = _setting(
        False,
        "FUSE mounts admit other users than the one who mounted (permissions still apply; "
        "unprivileged mounts need user_allow_other in /etc/fuse.conf).",
        "--allow-other", env="GKFS_ALLOW_OTHER", parse=parse_bool)
    daemon: DaemonSettings = dataclasses.field(default_factory=DaemonSettings)


@dataclasses.dataclass
class ClientEnvironment:
    """Environment of an application under the preload library (``libgkfs_intercept.so``);
    GekkoFS's names. ``gkfs-ctl run`` and ``gkfs-ctl env`` set the first two and pass the
    forwarding ones on (their flags, or the variables already set)."""

    hosts_file: str = _setting(
        "./gkfs_hosts.txt", "Hosts file of the file system to use.",
        env="LIBGKFS_HOSTS_FILE")
    mountdir: str = _setting(
        "/tmp/gkfs_mountdir",
        "Mount directory whose paths go to gkfs (default: the one the daemons advertise).",
        env="LIBGKFS_MOUNTDIR")
    timeout_ms: int = _setting(
        5000,
        "Client timeout in milliseconds: a request without network progress this long fails "
        "with EIO/EHOSTDOWN. gkfs-ctl run and env set it to gkfs-ctl's --timeout-ms.",
        env="LIBGKFS_TIMEOUT_MS")
    down_recheck_ms: int = _setting(
        5000,
        "Milliseconds a daemon that let a call time out stays marked down (calls needing it "
        "fail at once with EHOSTDOWN) before the next call rechecks it. gkfs-ctl run and env "
        "set it to gkfs-ctl's --down-recheck-ms.",
        env="LIBGKFS_DOWN_RECHECK_MS")
    recheck_timeout_ms: int = _setting(
        1000,
        "Milliseconds the recheck of a daemon marked down waits for an answer. gkfs-ctl run "
        "and env set it to gkfs-ctl's --recheck-timeout-ms.",
        env="LIBGKFS_RECHECK_TIMEOUT_MS")
    secret_file: str = _setting(
        "",
        "Instance secret presented to the daemons; empty: <hosts file>.secret if it exists "
        "(gkfs-ctl start creates it).", env="LIBGKFS_SECRET_FILE")
    forwarding_map_file: str = _setting(
        "",
        "Forwarding mode: the map file (GekkoFWD's 'hostname io_node_index' lines) that names "
        "this host's I/O node; empty: no forwarding. Re-read while programs run: a new "
        "mapping moves their next requests. gkfs-ctl run and env pass it on (absolute).",
        "--forwarding-map", env="LIBGKFS_FORWARDING_MAP_FILE", metavar="FILE")
    hostname: str = _setting(
        "",
        "Forwarding mode: this host's name in the map; empty: the host name (gethostname). "
        "For hosts that share one name (network namespaces, containers).",
        "--client-hostname", env="LIBGKFS_HOSTNAME", metavar="NAME")
    app_id: int = _setting(
        0,
        "Application id sent with every request (I/O-node scheduling and per-application "
        "metrics); unset: SLURM_JOB_ID, else 0.",
        "--app-id", env="LIBGKFS_APP_ID", parse=parse_int, check=_check_app_id, metavar="N")
    read_ahead: int = _setting(
        0,
        "Opt-in read-ahead of the preload library, in bytes (K and M suffixes; at most 64M; "
        "0: off). A sequential read shorter than this fetches this many bytes once and the "
        "reads that follow are served from them. Writes and truncations of the same process "
        "are always seen; another client's writes only once a read leaves the window or "
        "after the file is opened again (see docs/performance.md). Random reads are not "
        "affected. gkfs-ctl run and env pass it on.",
        "--read-ahead", env="LIBGKFS_READ_AHEAD", parse=parse_size, check=_check_read_ahead,
        metavar="BYTES")
    log_level: str = _setting(
        "errors",
        "What the preload library logs: the levels of --log-level (none, errors, info, "
        "debug, GekkoFS's names such as syscalls,errors and numbers 0-5), read by the same "
        "parser as the daemon's.", env="LIBGKFS_LOG", parse=parse_log_level,
        choices=LOG_LEVELS)
    log_output: str = _setting(
        "", "File the client log goes to; empty: stderr.", env="LIBGKFS_LOG_OUTPUT")


def _io_nodes_setting() -> Any:
    return _setting(
        0, "Number of I/O nodes; the map uses indices 0..N-1 into the sorted daemon list.",
        "--io-nodes", env="GKFS_FWD_IO_NODES", parse=parse_int, check=_check_positive,
        metavar="N")


def _map_out_setting(help: str) -> Any:
    return _setting("", help, "-o", "--out", env="GKFS_FWD_MAP_FILE", check=_check_path,
                    metavar="FILE")


@dataclasses.dataclass
class ForwardingMapSettings:
    """Options of ``gkfs-ctl fwd-map``, which writes the forwarding map file (which compute
    host sends its I/O to which I/O node)."""

    policy: str = _setting(
        "static",
        "Allocation policy: static (contiguous blocks), round-robin, arbitration (needs "
        "--jobs), a plug-in module:Class, or an entry point of group "
        "gkfs.forwarding.policies.",
        "--policy", env="GKFS_FWD_POLICY", check=_check_path, metavar="NAME")
    hosts: str = _setting(
        "",
        "Compute hosts: names separated by commas, Slurm ranges (cn[01-08]) or @FILE; "
        "empty: the hosts of the jobs file.",
        "--hosts", env="GKFS_FWD_HOSTS", metavar="HOSTS")
    io_nodes: int = _io_nodes_setting()
    out: str = _map_out_setting(
        "Map file to write; replaced atomically, so running clients never see half a map.")
    jobs: str = _setting(
        "", "Jobs file (TOML): each job's hosts and bandwidth curve (arbitration policy).",
        "--jobs", env="GKFS_FWD_JOBS", metavar="FILE")


@dataclasses.dataclass
class ForwardingArbiterSettings:
    """Options of ``gkfs-ctl fwd-arbiter``, which re-allocates I/O nodes to the running jobs
    from their measured bandwidth and rewrites the map while they run."""

    jobs: str = _setting(
        "", "Jobs file (TOML), re-read every interval: the running jobs, their hosts, app_id "
        "(to measure them) and optionally declared bandwidth curves.",
        "--jobs", env="GKFS_FWD_JOBS", check=_check_path, metavar="FILE")
    io_nodes: int = _io_nodes_setting()
    out: str = _map_out_setting(
        "Map file to rewrite (atomically, only when the allocation changes).")
    interval: float = _setting(
        10.0, "Seconds between two iterations (a stats sample and a re-allocation).",
        "--interval", env="GKFS_FWD_INTERVAL", parse=float, check=_check_positive,
        metavar="SECONDS")
    iterations: int = _setting(
        0, "Stop after this many iterations; 0: run until interrupted (SIGINT, SIGTERM).",
        "--iterations", env="GKFS_FWD_ITERATIONS", parse=parse_int, check=_check_not_negative,
        metavar="N")


# --- generic machinery over the model --------------------------------------------------------

T = TypeVar("T")


def specs(cls: type) -> list[tuple[dataclasses.Field, Spec]]:
    """The (field, spec) pairs of a settings class, in declaration order."""
    return [(f, f.metadata["gkfs"]) for f in dataclasses.fields(cls) if "gkfs" in f.metadata]


def _name(spec: Spec, field: dataclasses.Field) -> str:
    """How error messages name a setting: '--chunk-size (GKFS_CHUNK_SIZE)'."""
    parts = [spec.flags[-1]] if spec.flags else []
    if spec.env:
        parts.append(f"({spec.env})" if parts else spec.env)
    return " ".join(parts) or field.name


#: The --help group title of each settings model's flags.
GROUP_TITLES = {"DaemonSettings": "daemon options", "ClusterSettings": "cluster options",
                "ClientEnvironment": "client options",
                "ForwardingMapSettings": "forwarding map options"}


def add_arguments(parser: argparse.ArgumentParser, cls: type,
                  only: Optional[Sequence[str]] = None) -> None:
    """Adds one flag per setting of cls (or only the named ones). Unset flags leave no
    attribute (SUPPRESS), so :func:`load` can tell them from values given on the command line."""
    group = parser.add_argument_group(GROUP_TITLES.get(cls.__name__, f"{cls.__name__} options"))
    for field, spec in specs(cls):
        if not spec.flags or (only is not None and field.name not in only):
            continue
        kwargs: dict[str, Any] = dict(dest=field.name, default=argparse.SUPPRESS,
                                      help=_help_with_default(field, spec))
        if spec.parse is parse_bool:
            # A setting on by default can be turned off on the command line: --no-<flag>.
            kwargs["action"] = argparse.BooleanOptionalAction if field.default is True else "store_true"
        else:
            kwargs["type"] = _argparse_type(spec)
            kwargs["metavar"] = spec.metavar
            if spec.choices:
                kwargs["choices"] = spec.choices
        group.add_argument(*spec.flags, **kwargs)


def _help_with_default(field: dataclasses.Field, spec: Spec) -> str:
    env = f" [env {spec.env}]" if spec.env else ""
    if spec.parse is parse_bool:
        text = spec.help + env
    else:
        default = field.default if field.default != "" else "(empty)"
        text = f"{spec.help} Default: {default}.{env}"
    return text.replace("%", "%%")


def _argparse_type(spec: Spec) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return spec.parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = spec.metavar or "value"
    return convert


def load(cls: type[T], args: Optional[argparse.Namespace] = None,
         environ: Optional[Mapping[str, str]] = None,
         config: Optional[Mapping[str, Mapping[str, Any]]] = None, **overrides: Any) -> T:
    """Builds a validated cls from defaults, the config file (config, else the file named by
    args.config or GKFS_CONFIG, see read_config), environment, flags (args) and keyword
    overrides, in increasing precedence. Nested settings (ClusterSettings.daemon) load the
    same way. Directory and file paths come back absolute. Raises SettingsError."""
    environ = os.environ if environ is None else environ
    if config is None:
        path = getattr(args, "config", None) or environ.get(CONFIG_ENV, "")
        config = read_config(path) if path else {}
    section = config.get(_CONFIG_SECTIONS.get(cls, ""), {})
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if "gkfs" not in field.metadata:  # a nested settings object
            nested = overrides.pop(field.name, None)
            values[field.name] = nested or load(field.default_factory, args, environ, config)
            continue
        spec: Spec = field.metadata["gkfs"]
        value = section.get(field.name, field.default)
        env = next((name for name in (spec.env, *spec.env_aliases)
                    if name and name in environ), None)
        if env:
            try:
                value = spec.parse(environ[env])
            except ValueError as e:
                raise SettingsError(f"{env}={environ[env]!r}: {e}") from None
        if args is not None and hasattr(args, field.name):
            value = getattr(args, field.name)
        if field.name in overrides:
            value = overrides.pop(field.name)
        values[field.name] = value
    if overrides:
        raise TypeError(f"unknown settings for {cls.__name__}: {sorted(overrides)}")
    settings = cls(**values)
    validate(settings)
    return _absolute_paths(settings)


def validate(settings: Any) -> None:
    """Raises SettingsError naming the flag and variable of the first bad value."""
    for field, spec in specs(type(settings)):
        value = getattr(settings, field.name)
        problem = spec.check(value) if spec.check else None
        if problem is None and spec.choices and value not in spec.choices:
            problem = f"must be one of {', '.join(spec.choices)} (got {value!r})"
        if problem:
            raise SettingsError(f"{_name(spec, field)} {problem}")


def _absolute_paths(settings: T) -> T:
    if not isinstance(settings, DaemonSettings):
        return settings
    changes = {name: os.path.abspath(getattr(settings, name))
               for name in ("mountdir", "rootdir", "metadir", "hosts_file", "log_output",
                            "secret_file",
                            "sched_config", "pfs_dir")
               if getattr(settings, name)}
    return dataclasses.replace(settings, **changes)


def to_core_options(settings: DaemonSettings) -> Any:
    """The C++ gkfs::DaemonOptions for these settings. Logging is not an option of the C++
    daemon: see :func:`daemon_log_environment`. In forwarding mode this builds the I/O
    node's scheduler; raises SettingsError without --pfs-dir or if --sched-config names no
    usable scheduler."""
    from gkfs import _core

    options = _core.DaemonOptions()
    options.mountdir = settings.mountdir
    options.rootdir = (os.path.join(settings.rootdir, settings.rootdir_suffix)
                       if settings.rootdir_suffix else settings.rootdir)
    options.metadir = settings.metadir
    options.listen = settings.listen
    options.port = settings.port
    options.hosts_file = settings.hosts_file
    options.protocol = settings.rpc_protocol
    options.chunk_size = settings.chunk_size
    options.clean_rootdir = settings.clean_rootdir
    options.clean_rootdir_finish = settings.clean_rootdir_finish
    options.use_memory_backend = settings.memory_backend
    options.secret_file = settings.secret_file
    options.auto_sm = settings.auto_sm
    options.enable_forwarding = settings.enable_forwarding
    options.pfs_dir = settings.pfs_dir
    options.pfs_direct_io = settings.pfs_direct_io
    options.io_threads = settings.io_threads
    options.sync_mode = settings.sync_mode
    options.session_lease_s = settings.session_lease
    options.metrics_port = settings.metrics_port
    options.prometheus_gateway = prometheus_gateway(settings)
    options.push_interval_s = settings.prometheus_push_interval
    if settings.enable_forwarding and _core.HAVE_FORWARDING:  # else Daemon.create refuses
        from gkfs.forwarding.io_node import scheduler_for

        if not settings.pfs_dir:
            raise SettingsError("--pfs-dir (GKFS_PFS_DIR) is required with --enable-forwarding")
        options.scheduler = scheduler_for(settings.sched_config)
    return options


#: Where --enable-prometheus pushes without --prometheus-gateway (GekkoFS's default).
DEFAULT_PUSHGATEWAY = "127.0.0.1:9091"


def prometheus_gateway(settings: DaemonSettings) -> str:
    """The Pushgateway the daemon pushes to ('' = none)."""
    if settings.prometheus_gateway:
        return settings.prometheus_gateway
    return DEFAULT_PUSHGATEWAY if settings.enable_prometheus else ""


def daemon_log_environment(settings: DaemonSettings) -> dict[str, str]:
    """The variables the C++ daemon reads its logging from (at Daemon.create)."""
    env = {"GKFS_LOG": settings.log_level}
    if settings.log_output:
        env["GKFS_LOG_OUTPUT"] = settings.log_output
    return env


def to_daemon_argv(settings: DaemonSettings) -> list[str]:
    """gkfs-daemon flags that reproduce settings exactly (whatever the environment says)."""
    argv: list[str] = []
    for field, spec in specs(DaemonSettings):
        value = getattr(settings, field.name)
        if spec.parse is parse_bool:
            if value:
                argv.append(spec.flags[-1])
            elif field.default is True:
                argv.append("--no-" + spec.flags[-1][2:])
        else:
            argv.append(f"{spec.flags[-1]}={value}")
    return argv


def settings_environment_names() -> list[str]:
    """Every GKFS_* variable the model reads (a spawned daemon gets them only as flags)."""
    return [name for cls in (DaemonSettings, ClusterSettings) for _, spec in specs(cls)
            for name in (spec.env, *spec.env_aliases) if name] + [CONFIG_ENV]


# --- the config file (gkfs.toml) -------------------------------------------------------------

#: gkfs.toml tables and the settings each holds.
_CONFIG_SECTIONS: dict[type, str] = {DaemonSettings: "daemon", ClusterSettings: "cluster"}


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """The --config FILE flag (a gkfs.toml file; see read_config)."""
    parser.add_argument(
        "--config", metavar="FILE", default=argparse.SUPPRESS,
        help=f"gkfs.toml file with settings in [daemon] and [cluster] tables; environment "
             f"variables and flags override it. [env {CONFIG_ENV}]")


def _config_line(text: str, key: str) -> str:
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*(\w+\.)?{re.escape(key)}\s*=", line) or \
                re.match(rf"\s*\[{re.escape(key)}\]", line):
            return f" line {number}"
    return ""


def read_config(path: str) -> dict[str, dict[str, Any]]:
    """Reads a gkfs.toml file into {table: {field name: value}}. Tables are [daemon] and
    [cluster]; keys are the long flags without their dashes ('chunk-size' or
    'chunk_size'); values are TOML strings, integers, floats or booleans and go through the
    same parsers as flags ('512K' works). Raises SettingsError naming the file and line."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise SettingsError(f"{path}: reading gkfs.toml needs Python >= 3.11 or the "
                                f"tomli package") from None
    try:
        with open(path, "rb") as f:
            raw = f.read()
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as e:
        raise SettingsError(f"cannot read config file {path}: {e.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SettingsError(f"{path}: {e}") from None
    text = raw.decode("utf-8")
    tables = {name: cls for cls, name in _CONFIG_SECTIONS.items()}
    config: dict[str, dict[str, Any]] = {}
    for table, entries in data.items():
        if table not in tables or not isinstance(entries, dict):
            raise SettingsError(f"{path}{_config_line(text, table)}: unknown table {table!r} "
                                f"(known: {', '.join('[' + t + ']' for t in tables)})")
        fields = {f.name: (f, spec) for f, spec in specs(tables[table])}
        values: dict[str, Any] = {}
        for key, value in entries.items():
            name = key.replace("-", "_")
            where = f"{path}{_config_line(text, key)}"
            if name not in fields:
                raise SettingsError(f"{where}: unknown key {key!r} in [{table}] (known: "
                                    f"{', '.join(n.replace('_', '-') for n in fields)})")
            field, spec = fields[name]
            values[name] = _config_value(where, key, value, field, spec)
        config[table] = values
    return config


def _config_value(where: str, key: str, value: Any, field: dataclasses.Field,
                  spec: Spec) -> Any:
    if spec.parse is parse_bool and isinstance(value, bool):
        return value
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise SettingsError(f"{where}: {key}: expected a {type(field.default).__name__}, got "
                            f"{value!r}")
    try:
        value = spec.parse(str(value))
    except ValueError as e:
        raise SettingsError(f"{where}: {key}: {e}") from None
    problem = spec.check(value) if spec.check else None
    if problem is None and spec.choices and value not in spec.choices:
        problem = f"must be one of {', '.join(spec.choices)} (got {value!r})"
    if problem:
        raise SettingsError(f"{where}: {key} {problem}")
    return value


# --- documentation ---------------------------------------------------------------------------

DOC_BEGIN = "<!-- BEGIN GENERATED by `python -m gkfs.settings --write` -->"
DOC_END = "<!-- END GENERATED -->"

_DOC_SECTIONS = (
    ("Daemon (`gkfs-daemon`, `gkfs-ctl start`)", DaemonSettings),
    ("Cluster (`gkfs-ctl`)", ClusterSettings),
    ("Client (preload library)", ClientEnvironment),
    ("Forwarding map (`gkfs-ctl fwd-map`)", ForwardingMapSettings),
    ("Forwarding arbiter (`gkfs-ctl fwd-arbiter`)", ForwardingArbiterSettings),
)


def markdown() -> str:
    """The generated tables of docs/configuration.md."""
    lines: list[str] = []
    for title, cls in _DOC_SECTIONS:
        table = _CONFIG_SECTIONS.get(cls)
        toml_head, toml_rule = ("`gkfs.toml` | ", "---|") if table else ("", "")
        lines += [f"### {title}", "",
                  f"| Flags | Environment | {toml_head}Default | Meaning |",
                  f"|---|---|{toml_rule}---|---|"]
        for field, spec in specs(cls):
            flags = ", ".join(f"`{f}`" for f in spec.flags) or "—"
            env = ", ".join(f"`{name}`" for name in (spec.env, *spec.env_aliases)
                            if name) or "—"
            toml = f"`[{table}]` `{field.name.replace('_', '-')}` | " if table else ""
            default = f"`{field.default}`" if field.default not in ("", None) else "(empty)"
            lines.append(f"| {flags} | {env} | {toml}{default} | {spec.help} |")
        lines.append("")
    return "\n".join(lines)


def _render_doc(current: str) -> str:
    begin, end = current.find(DOC_BEGIN), current.find(DOC_END)
    if begin < 0 or end < begin:
        raise SettingsError(f"markers {DOC_BEGIN!r} ... {DOC_END!r} not found")
    return current[: begin + len(DOC_BEGIN)] + "\n\n" + markdown() + "\n" + current[end:]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gkfs.settings",
        description="Print, write or check the generated settings tables.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="FILE", help="rewrite the tables inside FILE")
    group.add_argument("--check", metavar="FILE", help="exit 1 if FILE's tables are stale")
    args = parser.parse_args(argv)
    if not (args.write or args.check):
        print(markdown())
        return 0
    path = args.write or args.check
    with open(path, encoding="utf-8") as f:
        current = f.read()
    rendered = _render_doc(current)
    if args.check:
        if rendered != current:
            print(f"{path} is out of date: run python -m gkfs.settings --write {path}",
                  file=sys.stderr)
            return 1
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
