"""Forwarding mode across real network stacks: 2 I/O nodes and 4 compute hosts as network
namespaces (tests/netns.py, UCX over tcp). ``gkfs-ctl start --launcher ssh --enable-forwarding``
starts the I/O nodes over a shared PFS directory; IOR-like and mdtest-like workloads
(tests/fwd_workload.c) run on the compute hosts through the preload library with the map of
the GekkoFWD documentation. The files they leave in the PFS directory must be identical to
those of the same workloads run directly on a local directory, the per-application metrics
of ``gkfs-ctl stats`` must show each host's traffic on its I/O node, and a live remap in the
middle of a run must move the traffic with no error and no lost data.

The namespaces share one UTS host name, so each compute host names itself with
``--client-hostname`` (LIBGKFS_HOSTNAME). Run as root (CI does); otherwise skipped.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest

from conftest import (HANG_GUARD_S, compile_c, entry_point, start_net_fs, stop_net_fs,
                      virtual_cluster)
from gkfs import _core
from gkfs.forwarding.mapfile import write_map

pytestmark = [pytest.mark.multihost,
              pytest.mark.skipif(not _core.HAVE_FORWARDING,
                                 reason="built with ENABLE_FORWARDING=OFF")]

WORKLOAD_SOURCE = Path(__file__).resolve().parent / "fwd_workload.c"

# The example of GekkoFWD's documentation: four compute nodes on two I/O nodes.
DOC_MAP = {"node-1": 0, "node-2": 0, "node-3": 1, "node-4": 1}
SWAPPED_MAP = {"node-1": 1, "node-2": 1, "node-3": 0, "node-4": 0}

RANKS_PER_HOST = 2
XFER, BLOCK, SEGMENTS = 16384, 65536, 8  # IOR -t 16k -b 64k -s 8
MD_FILES = 120
# Requests per application (host) of one IOR-like run: 2 files (shared, per process) per
# transfer, one request per write() or read() call.
IOR_CALLS = RANKS_PER_HOST * SEGMENTS * (BLOCK // XFER) * 2

SCHED_CONFIG = 'library_options: { default_algorithm = "aIOLi"; max_aggregation = 16; };\n'


@pytest.fixture(scope="module")
def fwd_cluster() -> Iterator[Any]:
    """2 I/O-node hosts (with sshd) and 4 compute hosts as network namespaces."""
    yield from virtual_cluster(2, 4)


@pytest.fixture(scope="module")
def io_nodes(fwd_cluster):
    """A forwarding file system: one I/O-node daemon on each of the 2 hosts, one PFS dir."""
    base = fwd_cluster.workdir / "fwd"
    (base / "pfs").mkdir(parents=True)
    (base / "sched.conf").write_text(SCHED_CONFIG)
    fs = start_net_fs(fwd_cluster, args=["--enable-forwarding", "--pfs-dir", str(base / "pfs"),
                                         "--sched-config", str(base / "sched.conf"),
                                         "--io-threads", "2"])
    fs.pfs = base / "pfs"
    fs.map = base / "gkfwd.map"
    fs.local = base / "local"  # the direct runs' "PFS"
    fs.local.mkdir()
    yield fs
    stop_net_fs(fs)


@pytest.fixture(scope="module")
def workload(fwd_cluster) -> str:
    return compile_c(WORKLOAD_SOURCE, fwd_cluster.workdir / "fwd_workload")


def compute_host(vc: Any, i: int) -> Any:
    return vc.clients[i]


def host_name(i: int) -> str:
    return f"node-{i + 1}"


def through_gkfs(fs: Any, i: int, app_id: int, argv: Sequence[str]) -> list[str]:
    """argv on compute host i under the preload library, forwarding by fs.map."""
    return entry_point("gkfs-ctl", "gkfs.cli") + [
        "run", "--hosts-file", fs.hosts_file, "--forwarding-map", str(fs.map),
        "--client-hostname", host_name(i), "--app-id", str(app_id), "--", *argv]


def ranks(binary: str, directory: str, i: int, extra: Sequence[str] = ()) -> list[str]:
    """The IOR-like ranks of compute host i, as one shell line (IOR under mpirun)."""
    nranks = 4 * RANKS_PER_HOST
    start = [f"{binary} ior {directory} {i * RANKS_PER_HOST + r} {nranks} {XFER} {BLOCK} "
             f"{SEGMENTS} {' '.join(extra)} & p{r}=$!;" for r in range(RANKS_PER_HOST)]
    wait = [f"wait $p{r} || exit 1;" for r in range(RANKS_PER_HOST)]  # every rank must succeed
    return ["sh", "-c", " ".join(start + wait)]


def run_all(vc: Any, jobs: Sequence[tuple[int, list[str]]], title: str) -> list[str]:
    """Runs every (compute host, argv) at once; fails unless all exit 0. Returns stdouts."""
    procs = [vc.popen(compute_host(vc, i), argv, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, text=True) for i, argv in jobs]
    return finish(procs, title)


def finish(procs: Sequence[subprocess.Popen], title: str) -> list[str]:
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=HANG_GUARD_S)
        assert p.returncode == 0, f"{title}: {p.args} exited {p.returncode}\n{out}\n{err}"
        outputs.append(out)
    print(f"\n== {title}: {len(procs)} processes ok")
    return outputs


def stats(fs: Any) -> dict[str, Any]:
    result = fs.ctl("stats", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def app_on(report: dict[str, Any], node: int, app_id: int) -> dict[str, Any]:
    """The counters of app_id on I/O node `node` (zeros if it sent nothing there)."""
    for app in report["io_nodes"][node]["apps"]:
        if app["app_id"] == app_id:
            return app
    return {"app_id": app_id, "requests": 0, "reads": 0, "writes": 0, "bytes": 0}


def tree(root: Path) -> dict[str, Any]:
    """relative path -> file bytes, or 'dir'."""
    return {str(p.relative_to(root)): "dir" if p.is_dir() else p.read_bytes()
            for p in sorted(root.rglob("*"))}


def assert_same_tree(pfs: Path, local: Path) -> None:
    got, want = tree(pfs), tree(local)
    assert sorted(got) == sorted(want), "different paths in the PFS directory"
    different = [path for path in want if got[path] != want[path]]
    assert not different, f"files differ from the direct run: {different[:5]}"
    size = sum(len(v) for v in want.values() if v != "dir")
    print(f"== PFS directory == direct run: {len(want)} entries, {size} bytes")


def test_ior_and_mdtest_like_workloads_match_a_direct_run(fwd_cluster, io_nodes, workload):
    vc, fs = fwd_cluster, io_nodes
    write_map(str(fs.map), DOC_MAP, ["4 compute nodes on 2 I/O nodes (GekkoFWD's example)"])
    mnt = fs.mountdir
    result = vc.run(compute_host(vc, 0), through_gkfs(fs, 0, 1, ["mkdir", f"{mnt}/w"]))
    assert result.returncode == 0, result.stderr
    (fs.local / "w").mkdir()

    jobs = []
    for i in range(4):
        jobs.append((i, through_gkfs(fs, i, 100 + i, ranks(workload, f"{mnt}/w", i))))
        jobs.append((i, through_gkfs(fs, i, 110 + i,
                                     [workload, "mdtest", f"{mnt}/w", str(i), str(MD_FILES)])))
    run_all(vc, jobs, "IOR-like and mdtest-like on 4 compute hosts through 2 I/O nodes")
    direct = []
    for i in range(4):
        direct.append((i, ranks(workload, str(fs.local / "w"), i)))
        direct.append((i, [workload, "mdtest", str(fs.local / "w"), str(i), str(MD_FILES)]))
    run_all(vc, direct, "the same workloads directly on a local directory")
    assert_same_tree(fs.pfs / "w", fs.local / "w")

    report = stats(fs)
    print(fs.ctl("stats").stdout)
    assert [n["up"] for n in report["io_nodes"]] == [True, True]
    for i in range(4):
        node, other = DOC_MAP[host_name(i)], 1 - DOC_MAP[host_name(i)]
        ior, md = app_on(report, node, 100 + i), app_on(report, node, 110 + i)
        assert (ior["writes"], ior["reads"], ior["bytes"]) == (IOR_CALLS, IOR_CALLS,
                                                               2 * IOR_CALLS * XFER)
        assert (md["writes"], md["reads"]) == (MD_FILES, MD_FILES)
        assert app_on(report, other, 100 + i)["requests"] == 0
        assert app_on(report, other, 110 + i)["requests"] == 0
    assert all(n["scheduler_errors"] == 0 for n in report["io_nodes"])


def test_live_remap_moves_the_traffic_without_loss(fwd_cluster, io_nodes, workload, tmp_path):
    vc, fs = fwd_cluster, io_nodes
    write_map(str(fs.map), DOC_MAP)
    mnt = fs.mountdir
    result = vc.run(compute_host(vc, 0), through_gkfs(fs, 0, 1, ["mkdir", f"{mnt}/remap"]))
    assert result.returncode == 0, result.stderr
    sync = fs.local.parent / "sync"
    sync.mkdir()

    procs = [vc.popen(compute_host(vc, i),
                      through_gkfs(fs, i, 200 + i, ranks(workload, f"{mnt}/remap", i, [str(sync)])),
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    deadline = time.monotonic() + HANG_GUARD_S
    while len(list(sync.glob("ready.*"))) < 4 * RANKS_PER_HOST:
        assert all(p.poll() is None for p in procs), "a workload ended before the remap"
        assert time.monotonic() < deadline, "the workloads never reached the remap"
        time.sleep(0.05)
    half = stats(fs)  # every rank has written half its segments and waits
    print("\n== half-way, before the remap\n" + fs.ctl("stats").stdout)

    write_map(str(fs.map), SWAPPED_MAP, ["remapped in the middle of the run"])
    # Clients re-check the map on a relative poll of 200 ms (core/common/forwarding_map.cpp):
    # once that much has passed, the next request of every rank sees the new map.
    time.sleep(0.5)
    (sync / "go").touch()
    finish(procs, "IOR-like run that was remapped half-way")
    after = stats(fs)
    print("== after the run\n" + fs.ctl("stats").stdout)

    half_calls = IOR_CALLS // 2
    for i in range(4):
        old, new = DOC_MAP[host_name(i)], SWAPPED_MAP[host_name(i)]
        assert app_on(half, old, 200 + i)["writes"] == half_calls
        assert app_on(half, new, 200 + i)["requests"] == 0
        assert (app_on(after, old, 200 + i)["writes"], app_on(after, old, 200 + i)["reads"]) == (
            half_calls, 0), "requests after the remap went to the old I/O node"
        assert (app_on(after, new, 200 + i)["writes"], app_on(after, new, 200 + i)["reads"]) == (
            half_calls, IOR_CALLS), "the remap did not move the traffic"

    (fs.local / "remap").mkdir()
    run_all(vc, [(i, ranks(workload, str(fs.local / "remap"), i)) for i in range(4)],
            "the same run directly on a local directory")
    assert_same_tree(fs.pfs / "remap", fs.local / "remap")


def test_the_arbiter_moves_a_job_between_io_nodes_while_it_writes(fwd_cluster, io_nodes,
                                                                   workload):
    """`gkfs-ctl fwd-arbiter` runs on a compute host with two jobs listed: a on node-1, b on
    node-2, one I/O node each. b writes IOR-like; half-way, a stops (it leaves the jobs
    file) while b goes on writing, and the arbiter gives b I/O node 0. Every byte b wrote
    must be in the PFS directory, equal to the same run made directly."""
    vc, fs = fwd_cluster, io_nodes
    base = fs.local.parent
    jobs, sync = base / "arbiter-jobs.toml", base / "arbiter-sync"
    sync.mkdir()
    job_b = '[[job]]\nname = "b"\nhosts = "node-2"\napp_id = 402\n'
    jobs.write_text('[[job]]\nname = "a"\nhosts = "node-1"\napp_id = 401\n' + job_b)
    fs.map.unlink(missing_ok=True)
    arbiter = vc.popen(vc.client, entry_point("gkfs-ctl", "gkfs.cli") + [
        "fwd-arbiter", "--hosts-file", fs.hosts_file, "--jobs", str(jobs), "--io-nodes", "2",
        "-o", str(fs.map), "--interval", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        wait_for_map(fs.map, {"node-1": 0, "node-2": 1}, arbiter)
        mnt = fs.mountdir
        result = vc.run(compute_host(vc, 1), through_gkfs(fs, 1, 402, ["mkdir", f"{mnt}/arb"]))
        assert result.returncode == 0, result.stderr
        writer = vc.popen(compute_host(vc, 1),
                          through_gkfs(fs, 1, 402, moving_job(workload, f"{mnt}/arb", sync)),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + HANG_GUARD_S
        while len(list(sync.glob("ready.*"))) < 2:
            assert writer.poll() is None, f"the writer ended early: {writer.communicate()}"
            assert time.monotonic() < deadline, "the writer never reached half-way"
            time.sleep(0.05)
        (sync / "go").touch()  # b writes its second half ...
        jobs.write_text(job_b)  # ... while a stops
        wait_for_map(fs.map, {"node-2": 0}, arbiter)
        finish([writer], "IOR-like job moved by the arbiter while it wrote")
    finally:
        arbiter.terminate()
        out, err = arbiter.communicate(timeout=HANG_GUARD_S)
    assert arbiter.returncode == 0, err
    assert "wrote" in out and "b 1" in out, out
    report = stats(fs)
    calls = 2 * ARB_SEGMENTS * (16384 // 4096) * 2  # per rank: 2 files, 4 transfers a block
    old, new = app_on(report, 1, 402), app_on(report, 0, 402)
    print(f"== job b's writes: {old['writes']} on I/O node 1, {new['writes']} on I/O node 0")
    assert old["writes"] >= calls // 2, "the first half did not go to I/O node 1"
    assert new["writes"] > 0, "the move came after the last write: nothing moved while writing"
    assert old["writes"] + new["writes"] == calls and old["reads"] + new["reads"] == calls
    (fs.local / "arb").mkdir()
    run_all(vc, [(1, moving_job(workload, f"{fs.local}/arb"))],
            "the same job directly on a local directory")
    assert_same_tree(fs.pfs / "arb", fs.local / "arb")


ARB_SEGMENTS = 600


def moving_job(binary: str, directory: str, *sync: Path) -> list[str]:
    """Job b: 2 ranks, 4 KiB writes of 16 KiB blocks to a shared and a per-rank file; long
    enough that its second half is still being written when the new map reaches it."""
    return ["sh", "-c", " ".join(
        f"{binary} ior {directory} {r} 2 4096 16384 {ARB_SEGMENTS} {' '.join(map(str, sync))} "
        f"& p{r}=$!;" for r in range(2)) + " wait $p0 || exit 1; wait $p1 || exit 1"]


def wait_for_map(path: Path, entries: dict[str, int], arbiter: subprocess.Popen) -> None:
    """Until the arbiter has written `entries` into the map at path."""
    from gkfs.forwarding.mapfile import MapError, read_map

    deadline = time.monotonic() + 60
    while True:
        try:
            if read_map(str(path)).entries == entries:
                return
        except (OSError, MapError):
            pass
        assert arbiter.poll() is None, f"fwd-arbiter ended: {arbiter.communicate()}"
        assert time.monotonic() < deadline, f"the arbiter never wrote {entries}"
        time.sleep(0.05)
