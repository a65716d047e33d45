"""Instructions the daemon's request metrics cost, counted by callgrind (load-independent).

    python bench/callgrind_metrics.py WITH_DIR WITHOUT_DIR [-n 4000] [--out DIR] [SPEC ...]

WITH_DIR and WITHOUT_DIR each hold a copy of the installed package (a directory ``gkfs``);
WITHOUT_DIR's ``_core`` is built from a server.cpp without the two metrics statements of
``Server::Dispatch`` (``token.dispatched_ns = SteadyNs();``) and ``Server::SendReply``
(``metrics_.Record(...)``); docs/performance.md says how. For each SPEC of ``gkfs_rpc_driver``
(default ``ping:8:0`` and ``stat``) and each package, one daemon runs under
``valgrind --tool=callgrind`` over tcp on loopback, the driver sends N requests (and 50 to
warm up), and the daemon stops. Printed per request: the instructions of ``Server::Dispatch``
without the handler it calls (the request path's own work: metrics, secret check, reply),
the difference between the packages (what the metrics cost), and that difference as a share
of the server thread's instructions per request (``Server::Run``, which also holds the
timing-dependent polling, so it is quoted to a few tenths of a percent).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from build_tree import built_binary  # noqa: E402

DISPATCH = r"server\.cpp:gkfs::transport::Server::Dispatch\("


def _num(text: str) -> int:
    return int(text.replace(",", ""))


def run_daemon(package: str, spec: str, n: int, out: Path) -> Path:
    """One daemon of `package` under callgrind serving n requests of spec; its callgrind file."""
    name = f"{Path(package).name}.{spec.replace(':', '-')}.{n}"
    result = out / f"callgrind.{name}"
    env = dict(os.environ, PYTHONPATH=package, UCX_TLS="tcp", UCX_NET_DEVICES="lo")
    with tempfile.TemporaryDirectory(prefix="gkfs-cg-") as d:
        hosts = Path(d) / "hosts.txt"
        log = open(Path(d) / "daemon.log", "w+")  # not kept: it names this machine's paths
        daemon = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={result}", sys.executable,
             "-m", "gkfs.daemon", "-r", f"{d}/root", "-m", f"{d}/mnt", "-H", str(hosts),
             "-l", "lo", "-P", "ucx+tcp", "--no-auto-sm"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 300
            while not (hosts.exists() and hosts.read_text().endswith("\n")):
                if daemon.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the daemon did not start:\n{log.read()[-3000:]}")
                time.sleep(0.5)
            subprocess.run([built_binary("gkfs_rpc_driver"), str(hosts), "-n", str(n),
                            "-w", "50", spec], check=True, env=env, timeout=600,
                           stdout=open(out / f"driver.{name}.jsonl", "w"))
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=300)
            log.close()
    return result


def per_request(callgrind_file: Path, keep: bool) -> dict[str, float]:
    """Instructions per request: Dispatch without its handler, and the server thread.
    Removes the callgrind file unless keep."""
    def annotate(*args: str) -> str:
        return subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                               *args, str(callgrind_file)], capture_output=True, text=True,
                              check=True).stdout
    flat, tree = annotate(), annotate("--tree=caller")
    if not keep:
        callgrind_file.unlink()
    dispatch = _num(re.search(r"^\s*([\d,]+) \(.*?\)\s+\S*" + DISPATCH + r".*\[", flat, re.M)[1])
    run = _num(re.search(r"^\s*([\d,]+) \(.*?\)\s+\S*server\.cpp:gkfs::transport::Server::"
                         r"Run\(\) \[", flat, re.M)[1])
    calls = _num(re.search(r"=> \S*" + DISPATCH + r".*?\(([\d,]+)x\)", tree)[1])
    # The handler is called through std::function (ping is answered by the server itself).
    handler = re.search(r"^\s*([\d,]+) \(.*?\)\s+< \S*std_function\.h:gkfs::transport::"
                        r"Server::Dispatch\(", tree, re.M)
    own = dispatch - (_num(handler[1]) if handler else 0)
    return {"calls": calls, "dispatch_own": own / calls, "server_thread": run / calls}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("with_dir")
    parser.add_argument("without_dir")
    parser.add_argument("specs", nargs="*", default=["ping:8:0", "stat"])
    parser.add_argument("-n", type=int, default=4000)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" /
                                             time.strftime("callgrind-metrics-%Y%m%dT%H%M%SZ",
                                                           time.gmtime())))
    parser.add_argument("--keep", action="store_true",
                        help="keep the callgrind files (several MB each)")
    args = parser.parse_intermixed_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for spec in args.specs:
        with_, without = (per_request(run_daemon(p, spec, args.n, out), args.keep)
                          for p in (args.with_dir, args.without_dir))
        cost = with_["dispatch_own"] - without["dispatch_own"]
        lines.append(f"{spec}: {with_['calls']} requests; Dispatch without the handler "
                     f"{with_['dispatch_own']:.1f} Ir with metrics, {without['dispatch_own']:.1f} "
                     f"without: metrics {cost:.1f} Ir per request, "
                     f"{100 * cost / with_['server_thread']:.2f}% of the server thread's "
                     f"{with_['server_thread']:.0f} Ir per request "
                     f"({without['server_thread']:.0f} without)")
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
