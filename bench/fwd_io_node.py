"""One I/O-node daemon (forwarding mode) for bench_forwarding.py, with the scheduler the
benchmark compares, until SIGTERM:

    python bench/fwd_io_node.py --scheduler py:TO-agg|py:NOOP|...|cxx:16|cxx:1 \
        --hosts-file F --rootdir D --pfs-dir P [--io-threads N]

``py:NAME`` is a built-in Python scheduler called through SchedulerHost and the
``_core.python_scheduler`` adapter, exactly as ``gkfs-daemon --enable-forwarding`` does
(``waiting_time = 0``), ``py:NAME+KEY=VALUE+...`` the same with more agios.conf keys; ``cxx:N`` is the C++ FIFO of the core (``_core.fifo_scheduler``,
merging at most N requests: ``cxx:1`` is AGIOS's TO without any Python, the baseline)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from gkfs import _core
from gkfs.forwarding.scheduling import SchedulerHost, parse_config


def scheduler(spec: str) -> object:
    engine, _, name = spec.partition(":")
    if engine == "cxx":
        return _core.fifo_scheduler(int(name))
    if engine == "py":
        name, *keys = name.split("+")
        text = "".join(f"{key};\n" for key in [f'default_algorithm = "{name}"',
                                                "waiting_time = 0", *keys])
        host = SchedulerHost(parse_config(text, "<bench>"))
        return _core.python_scheduler(host, host.config.max_aggregation)
    raise SystemExit(f"fwd_io_node: unknown scheduler {spec!r} "
                     f"(py:NAME[+KEY=VALUE...] or cxx:N)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", required=True)
    parser.add_argument("--hosts-file", required=True)
    parser.add_argument("--rootdir", required=True)
    parser.add_argument("--pfs-dir", required=True)
    parser.add_argument("--io-threads", type=int, default=2)
    parser.add_argument("--pfs-direct-io", action="store_true")
    args = parser.parse_args()
    options = _core.DaemonOptions()
    options.rootdir = args.rootdir
    options.hosts_file = args.hosts_file
    options.use_memory_backend = True
    options.enable_forwarding = True
    options.pfs_dir = args.pfs_dir
    options.io_threads = args.io_threads
    options.pfs_direct_io = args.pfs_direct_io
    options.scheduler = scheduler(args.scheduler)
    daemon = _core.Daemon.create(options)
    signal.signal(signal.SIGTERM, lambda *_: daemon.shutdown())
    thread = threading.Thread(target=daemon.run)
    thread.start()
    while thread.is_alive():
        thread.join(0.2)  # the main thread stays free for the signal handler
    return 0


if __name__ == "__main__":
    sys.exit(main())
