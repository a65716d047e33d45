"""Forwarding mode through the real entry points on this host: ``gkfs-daemon
--enable-forwarding --pfs-dir --io-threads --sched-config``, ``gkfs-ctl start`` passing those
flags on, ``gkfs-ctl run``/``env`` passing the client's map, host name and application id,
``gkfs-ctl stats``, and ``gkfs.Client`` in forwarding mode. (tests/test_fwd_cluster.py runs
the same across network namespaces.)"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import HANG_GUARD_S, entry_point, gkfs_daemon_argv
from gkfs import _core, settings
from gkfs.forwarding.mapfile import write_map

GKFS_CTL = entry_point("gkfs-ctl", "gkfs.cli")
needs_forwarding = pytest.mark.skipif(not _core.HAVE_FORWARDING,
                                      reason="built with ENABLE_FORWARDING=OFF")


def daemon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(gkfs_daemon_argv() + list(args), capture_output=True, text=True,
                          timeout=HANG_GUARD_S, env=env)


@pytest.fixture
def pfs(tmp_path: Path) -> Path:
    path = tmp_path / "pfs"
    path.mkdir()
    return path


@pytest.fixture
def fwd_fs(make_fs, pfs: Path, tmp_path: Path):
    """2 local I/O-node daemons over one PFS directory, TO-agg from a scheduler config."""
    conf = tmp_path / "agios.conf"
    conf.write_text('default_algorithm = "TO-agg";\n')
    fs = make_fs(2, args=["--enable-forwarding", "--pfs-dir", str(pfs), "--io-threads", "3",
                          "--sched-config", str(conf)])
    fs.pfs = pfs
    fs.map = tmp_path / "map"
    write_map(str(fs.map), {"cn1": 0, "cn2": 1})
    return fs


@needs_forwarding
def test_start_passes_the_forwarding_flags_to_every_daemon(fwd_fs):
    state = json.loads(Path(fwd_fs.hosts_file + ".pids.json").read_text())
    argv = state["plan"]["argv"]
    assert "--enable-forwarding" in argv and f"--pfs-dir={fwd_fs.pfs}" in argv
    assert "--io-threads=3" in argv
    for i in range(2):
        log = Path(fwd_fs.rootdir, f"d{i}.log").read_text()
        assert f"I/O node: files under {fwd_fs.pfs}, 3 I/O threads" in log


@needs_forwarding
def test_run_forwards_to_the_mapped_io_node_and_stats_show_it(fwd_fs):
    mnt = fwd_fs.mountdir
    result = fwd_fs.ctl("run", "--forwarding-map", str(fwd_fs.map), "--client-hostname", "cn2",
                        "--app-id", "42", "--", "sh", "-c",
                        f"mkdir {mnt}/out && printf hello > {mnt}/out/a && "
                        f"dd if=/dev/zero of={mnt}/out/z bs=4096 count=8 status=none && "
                        f"cat {mnt}/out/a")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello"
    assert (fwd_fs.pfs / "out" / "a").read_bytes() == b"hello"  # an ordinary file on the PFS
    assert (fwd_fs.pfs / "out" / "z").read_bytes() == bytes(8 * 4096)

    stats = fwd_fs.ctl("stats", "--json")
    assert stats.returncode == 0, stats.stderr
    report = json.loads(stats.stdout)
    assert set(report) == {"time", "hosts_file", "daemons", "io_nodes", "apps"}
    assert [d["mode"] for d in report["daemons"]] == ["forwarding", "forwarding"]
    assert report["daemons"][1]["written_bytes"] == 5 + 8 * 4096
    node0, node1 = report["io_nodes"]
    assert node0["apps"] == [] and node0["requests"] == 0
    (app,) = node1["apps"]
    assert app["app_id"] == 42 and app["writes"] == 9 and app["reads"] >= 1
    assert app["requests"] == app["reads"] + app["writes"] == app["units"] + app["merged"]
    assert app["mean_size"] == pytest.approx(app["bytes"] / app["requests"])
    assert report["apps"] == [dict(app, io_nodes=[1])]
    assert node1["scheduler_errors"] == 0 and node1["pending"] == 0

    # The I/O node's Prometheus text carries the same queue counters, per application.
    from gkfs.metrics import parse_exposition

    client = _core.Client(fwd_fs.hosts_file, 10000, fwd_fs.hosts_file + ".secret")
    try:
        samples = {(name, tuple(labels.items())): value
                   for name, labels, value in parse_exposition(client.metrics(1))}
    finally:
        client.close()
    app_label = (("app", "42"),)
    assert samples[("gkfs_fwd_requests_total", app_label)] == app["requests"]
    assert samples[("gkfs_fwd_merged_requests_total", app_label)] == app["merged"]
    assert samples[("gkfs_fwd_queue_wait_seconds_total", app_label)] == \
        pytest.approx(app["queue_wait_s"], rel=1e-6)
    assert samples[("gkfs_fwd_pending_requests", ())] == 0

    text = fwd_fs.ctl("stats")
    assert text.returncode == 0, text.stderr
    assert "io node 0" in text.stdout and "io node 1" in text.stdout
    assert any(line.split()[:2] == ["42", str(app["requests"])]
               for line in text.stdout.splitlines())


@needs_forwarding
def test_run_on_a_host_mapped_direct_works_on_the_pfs_without_the_io_nodes(fwd_fs):
    """Unmodified programs through the preload library on a host the map sends `direct`: the
    files are the PFS's, and the I/O nodes see none of the requests."""
    write_map(str(fwd_fs.map), {"cn1": 0, "cn2": 1, "cn3": -1})  # -1: mapfile.DIRECT
    assert "cn3 direct" in fwd_fs.map.read_text()
    mnt = fwd_fs.mountdir
    result = fwd_fs.ctl("run", "--forwarding-map", str(fwd_fs.map), "--client-hostname", "cn3",
                        "--app-id", "43", "--", "sh", "-c",
                        f"mkdir {mnt}/d && printf direct > {mnt}/d/a && "
                        f"dd if=/dev/zero of={mnt}/d/z bs=4096 count=8 status=none && "
                        f"mv {mnt}/d/a {mnt}/d/b && cat {mnt}/d/b && ls {mnt}/d && "
                        f"rm {mnt}/d/z && sync")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "directb\nz\n"
    assert (fwd_fs.pfs / "d" / "b").read_bytes() == b"direct"
    assert sorted(p.name for p in (fwd_fs.pfs / "d").iterdir()) == ["b"]
    report = json.loads(fwd_fs.ctl("stats", "--json").stdout)
    assert [node["requests"] for node in report["io_nodes"]] == [0, 0]


@needs_forwarding
def test_app_id_falls_back_to_the_slurm_job_id(fwd_fs):
    env = dict(os.environ, SLURM_JOB_ID="7001", LIBGKFS_HOSTNAME="cn1",
               LIBGKFS_FORWARDING_MAP_FILE=str(fwd_fs.map))
    env.pop("LIBGKFS_APP_ID", None)
    result = subprocess.run(GKFS_CTL + ["run", "--hosts-file", fwd_fs.hosts_file, "--",
                                        "sh", "-c", f"echo x > {fwd_fs.mountdir}/slurm"],
                            env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert result.returncode == 0, result.stderr
    report = json.loads(fwd_fs.ctl("stats", "--json").stdout)
    assert [a["app_id"] for a in report["io_nodes"][0]["apps"]] == [7001]


def test_env_and_run_pass_the_forwarding_variables_on(make_fs, tmp_path):
    fs = make_fs(1)
    flags = fs.ctl("env", "--forwarding-map", "rel.map", "--client-hostname", "cn9",
                   "--app-id", "12")
    assert flags.returncode == 0, flags.stderr
    assert "export LIBGKFS_APP_ID=12" in flags.stdout.splitlines()
    assert "export LIBGKFS_HOSTNAME=cn9" in flags.stdout.splitlines()
    assert f"export LIBGKFS_FORWARDING_MAP_FILE={Path.cwd() / 'rel.map'}" in flags.stdout

    env = dict(os.environ, LIBGKFS_APP_ID="13", LIBGKFS_HOSTNAME="cn8")
    passed = subprocess.run(GKFS_CTL + ["env", "--hosts-file", fs.hosts_file], env=env,
                            capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert "export LIBGKFS_APP_ID=13" in passed.stdout.splitlines()
    assert "export LIBGKFS_HOSTNAME=cn8" in passed.stdout.splitlines()
    assert "LIBGKFS_FORWARDING_MAP_FILE" not in passed.stdout

    bad = fs.ctl("env", "--app-id", "-1")
    assert bad.returncode == 1
    assert "--app-id (LIBGKFS_APP_ID) must be in 0..4294967295" in bad.stderr


@needs_forwarding
def test_python_client_forwards_by_its_arguments_or_the_environment(fwd_fs, monkeypatch):
    import gkfs

    with gkfs.Client(fwd_fs.hosts_file, forwarding_map_file=str(fwd_fs.map), hostname="cn1",
                     app_id=5) as fs:
        fs.write_bytes("/py.bin", b"p" * 1000)
        assert fs.read_bytes("/py.bin") == b"p" * 1000
        assert [a["app_id"] for a in fs.io_node_statistics(0)["apps"]] == [5]
    assert (fwd_fs.pfs / "py.bin").read_bytes() == b"p" * 1000

    monkeypatch.setenv("LIBGKFS_FORWARDING_MAP_FILE", str(fwd_fs.map))
    monkeypatch.setenv("LIBGKFS_HOSTNAME", "cn2")
    monkeypatch.delenv("LIBGKFS_APP_ID", raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "99")
    with gkfs.Client(fwd_fs.hosts_file) as fs:
        assert (fs.forwarding_map_file, fs.hostname, fs.app_id) == (str(fwd_fs.map), "cn2", 99)
        fs.write_bytes("/env.bin", b"e")
        assert [a["app_id"] for a in fs.io_node_statistics(1)["apps"]] == [99]

    monkeypatch.setenv("LIBGKFS_HOSTNAME", "not-in-the-map")
    with pytest.raises(OSError, match="no line for host 'not-in-the-map'"):
        gkfs.Client(fwd_fs.hosts_file)


@needs_forwarding
def test_clients_read_the_gekkofwd_example_with_comments(fwd_fs):
    import gkfs

    fwd_fs.map.write_text("# 4 compute hosts on 2 I/O nodes\nnode-1 0\nnode-2 0\n\n"
                          "node-3 1   # a trailing comment\n\tnode-4\t1\n")
    with gkfs.Client(fwd_fs.hosts_file, forwarding_map_file=str(fwd_fs.map),
                     hostname="node-3", app_id=3) as fs:
        fs.write_bytes("/n3", b"3")
        assert [a["app_id"] for a in fs.io_node_statistics(1)["apps"]] == [3]


@needs_forwarding
def test_forwarding_without_pfs_dir_fails_at_start(tmp_path):
    result = daemon("--enable-forwarding", "-r", str(tmp_path / "r"),
                    "-H", str(tmp_path / "hosts"))
    assert result.returncode == 1
    assert "--pfs-dir (GKFS_PFS_DIR) is required with --enable-forwarding" in result.stderr


@needs_forwarding
def test_a_bad_scheduler_config_fails_at_start_naming_file_line_and_key(tmp_path, pfs):
    conf = tmp_path / "sched.conf"
    conf.write_text('default_algorithm = "aIOLi";\n\naioli_quantum = 0;\n')
    result = daemon("--enable-forwarding", "--pfs-dir", str(pfs), "--sched-config", str(conf),
                    "-r", str(tmp_path / "r"), "-H", str(tmp_path / "hosts"))
    assert result.returncode != 0
    assert f"{conf}:3: aioli_quantum: must be >= 1" in result.stderr
    assert not (tmp_path / "hosts").exists()


PLUGIN = '''
from gkfs.forwarding.scheduling import Scheduler

class Broken(Scheduler):
    name = "broken"
    def init(self, config):
        raise RuntimeError("needs plugin_options.rate")
    def schedule(self, now, queues):
        return [], None
'''


@needs_forwarding
def test_a_plugin_scheduler_that_cannot_start_fails_the_daemon(tmp_path, pfs):
    (tmp_path / "site_sched.py").write_text(PLUGIN)
    conf = tmp_path / "sched.conf"
    conf.write_text('default_algorithm = "site_sched:Broken";\n')
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = daemon("--enable-forwarding", "--pfs-dir", str(pfs), "--sched-config", str(conf),
                    "-r", str(tmp_path / "r"), "-H", str(tmp_path / "hosts"), env=env)
    assert result.returncode == 1
    assert "'site_sched:Broken' failed to start: needs plugin_options.rate" in result.stderr


def test_a_build_without_forwarding_builds_no_scheduler(monkeypatch, pfs):
    # In an ENABLE_FORWARDING=OFF build the C++ daemon refuses at Daemon.create with "this
    # build of gkfs lacks forwarding" (scripts/test.sh runs that build's [forwarding] tests);
    # the Python side must not fail first on the scheduler.
    monkeypatch.setattr(_core, "HAVE_FORWARDING", False)
    config = settings.load(settings.DaemonSettings, environ={}, enable_forwarding=True,
                           pfs_dir=str(pfs))
    options = settings.to_core_options(config)
    assert options.enable_forwarding and options.pfs_dir == str(pfs)
    assert options.scheduler is None


@needs_forwarding
def test_fwd_arbiter_rewrites_the_map_for_the_running_jobs(fwd_fs, tmp_path):
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[job]]\nname = "a"\nhosts = "cn1"\napp_id = 1\n'
                    '[[job]]\nname = "b"\nhosts = "cn[2-3]"\napp_id = 2\n')
    out = tmp_path / "arbiter.map"
    result = fwd_fs.ctl("fwd-arbiter", "--jobs", str(jobs), "--io-nodes", "2", "-o", str(out),
                        "--interval", "0.05", "--iterations", "2")
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: a 1, b 1" in result.stdout  # once: the second pass changed nothing
    assert result.stdout.count("wrote") == 1
    assert out.read_text().splitlines()[1:] == ["cn1 0", "cn2 1", "cn3 1"]
    jobs.write_text("[[job]]\nhosts = \"cn1\"\napp_id = 1\n")  # b stopped, a renamed
    result = fwd_fs.ctl("fwd-arbiter", "--jobs", str(jobs), "--io-nodes", "2", "-o", str(out),
                        "--iterations", "1")
    assert result.returncode == 0, result.stderr
    assert out.read_text().splitlines()[1:] == ["cn1 0"]
    broken = fwd_fs.ctl("fwd-arbiter", "--jobs", str(tmp_path / "none.toml"), "--io-nodes", "2",
                        "-o", str(out), "--iterations", "1")
    assert "none.toml" in broken.stderr and "the map stays as it is" in broken.stderr
    assert out.read_text().splitlines()[1:] == ["cn1 0"]
