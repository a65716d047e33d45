"""RPC-layer benchmarks: round-trip latency and bandwidth of our transport (the Ping verb:
no file-system work on the daemon) beside ucx_perftest (Debian's ucx-utils) on the same
loopback, over tcp and over shared memory, in the same run.

* ours, from C++ (gkfs_rpc_driver, no Python in the loop): ``ping:8:0`` (8 bytes out,
  nothing back), ``stat`` (a real metadata round trip), ``create`` (Create plus the parent
  check, as open(O_CREAT) does) and ``remove``, each call timed alone; bandwidth
  as ``ping:SIZE:0`` (send) and ``ping:0:SIZE`` (receive), one call in flight at a time.
* ours, from Python: ``Client.ping(0, 8, 0)`` timed by pytest-benchmark itself (median
  over 50 rounds of the mean of 100 calls).
* ucx_perftest: ``ucp_am_lat``/``tag_lat`` (it reports one-way latency, half a round trip:
  the summary doubles it) and ``ucp_am_bw``/``tag_bw`` (a stream with many sends in flight;
  it reports MiB/s, the summary converts to GB/s). UCX_TLS=tcp or sm, UCX_NET_DEVICES=lo.

Transport "shm" for gkfs means daemons started with ``-P ucx+shm --auto-sm`` (the default):
same-host clients connect by worker address and UCX picks shared memory. "tcp" means
``--no-auto-sm``: a client connects by ip:port (sockaddr) and ends on tcp whatever UCX_TLS
allows.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from harness import HANG_GUARD_S, cases, driver, record, run_json, ucx_env

SIZES = ("64K", "1M", "16M")
LAT_ITERS = 20000


def _bytes(size: str) -> int:
    return int(size[:-1]) << {"K": 10, "M": 20}[size[-1]] if size[-1] in "KM" else int(size)


def _iters(size: str) -> int:
    """Enough calls for ~256 MiB, at least 20 and at most 2000."""
    return max(20, min(2000, (256 << 20) // _bytes(size)))


def _specs() -> list[str]:
    return (["ping:8:0", "stat", "create", "remove"] + [f"ping:{s}:0" for s in SIZES] +
            [f"ping:0:{s}" for s in SIZES])


def _rounds(rounds: int, quick: bool, latency: bool) -> int:
    """Latency runs are short and the machine's load comes in bursts: at least 5 rounds."""
    return rounds if quick or not latency else max(rounds, 5)


@cases(full=[{"transport": t, "spec": s} for t in ("shm", "tcp") for s in _specs()],
       quick=[{"transport": t, "spec": s} for t in ("shm", "tcp")
              for s in ("ping:8:0", "stat", "create", "ping:1M:0", "ping:0:1M")])
def test_rpc_gkfs(case, fs_pool, rounds, quick, benchmark):
    fs = fs_pool.get(case["transport"], 1)
    spec = case["spec"]
    bulk = [s for s in spec.split(":")[1:] if s in SIZES]
    iters = _iters(bulk[0]) if bulk else LAT_ITERS
    rounds = _rounds(rounds, quick, latency=not bulk)
    # remove needs the files a create made first; only its own line is kept.
    specs = ["create", "remove"] if spec == "remove" else [spec]
    argv = [driver("gkfs_rpc_driver"), fs.hosts_file, "-n", str(iters), "-w", "100", *specs]
    rows: list[dict] = []
    benchmark.pedantic(lambda: rows.extend(run_json(argv, env=fs.env_without_preload())[-1:]),
                       rounds=rounds, iterations=1)
    fs.assert_clean()
    record(benchmark, "rpc_gkfs", case, rows,
           keys=("rtt_us_median", "rtt_us_p10", "rtt_us_p90", "rtt_us_p99", "calls_per_s", "gbs"))


@cases(full=[{"transport": t} for t in ("shm", "tcp")], quick=[{"transport": t} for t in ("shm", "tcp")])
def test_rpc_python_ping(case, fs_pool, benchmark):
    fs = fs_pool.get(case["transport"], 1)
    with fs.client() as client:
        ping = getattr(client, "ping", None) or client._core.ping
        if not hasattr(client._core, "ping"):
            pytest.fail("gkfs._core.Client.ping is missing (bindings/register_client.cpp)")
        assert ping(0, 8, 0) == 0 and ping(0, 0, 4096) == 4096
        # Rounds of 100 calls: per-call medians would store 5000 samples in the JSON.
        benchmark.pedantic(ping, args=(0, 8, 0), rounds=50, warmup_rounds=5, iterations=100)
    stats = benchmark.stats.stats
    benchmark.extra_info.update({"suite": "rpc_python", **case,
                                 "median": {"rtt_us_median": stats.median * 1e6}})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _perftest(tls: str, test: str, size: str, iters: int) -> dict:
    """Runs one ucx_perftest server/client pair on loopback; returns the client's final line."""
    env = ucx_env("tcp")
    env["UCX_TLS"] = tls
    port = str(_free_port())
    server = subprocess.Popen(["ucx_perftest", "-p", port], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)  # the server opens its port for the address exchange
        for _ in range(20):
            client = subprocess.run(
                ["ucx_perftest", "127.0.0.1", "-p", port, "-t", test, "-s", str(_bytes(size)),
                 "-n", str(iters), "-w", str(max(10, iters // 20)), "-f", "-v"],
                env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
            if "Connection refused" not in client.stderr:
                break
            time.sleep(0.2)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    lines = [ln.strip() for ln in client.stdout.splitlines() if ln.strip()[:1].isdigit()]
    assert client.returncode == 0 and lines, f"ucx_perftest {test} failed:\n{client.stdout}\n{client.stderr}"
    fields = [float(v) for v in lines[-1].split(",")]
    assert int(fields[0]) == iters, f"ucx_perftest ran {fields[0]} iterations, want {iters}"
    one_way = fields[1]
    mib_s = fields[5]
    return {"iters": iters, "one_way_us_median": one_way, "rtt_us_median": 2 * one_way,
            "gbs": mib_s * (1 << 20) / 1e9, "ok": True}


def _perftest_cases(sizes: tuple[str, ...]) -> list[dict]:
    out = []
    for tls in ("sm", "tcp"):
        out += [{"tls": tls, "test": t, "size": "8"} for t in ("ucp_am_lat", "tag_lat")]
        out += [{"tls": tls, "test": t, "size": s} for t in ("ucp_am_bw", "tag_bw") for s in sizes]
    return out


@cases(full=_perftest_cases(SIZES), quick=_perftest_cases(("1M",)))
def test_rpc_perftest(case, rounds, quick, benchmark):
    if shutil.which("ucx_perftest") is None:
        pytest.skip("ucx_perftest not installed (Debian ucx-utils; scripts/setup.sh installs it)")
    iters = LAT_ITERS if case["size"] == "8" else _iters(case["size"])
    rounds = _rounds(rounds, quick, latency=case["size"] == "8")
    rows: list[dict] = []
    benchmark.pedantic(lambda: rows.append(_perftest(case["tls"], case["test"], case["size"], iters)),
                       rounds=rounds, iterations=1)
    record(benchmark, "rpc_perftest", case, rows, keys=("one_way_us_median", "rtt_us_median", "gbs"))
