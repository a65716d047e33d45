"""gkfs-ctl's launchers and what they share: the instance secret, gkfs.toml, host lists, the
launch agent, side-by-side instances; the mpirun launcher and ssh start-up failures on the
virtual hosts of tests/netns.py (the ssh launcher's workloads are in test_multihost.py, the
srun launcher's in test_slurm.py); status of srun-served FUSE mounts with a stand-in step.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import socket
import stat
from pathlib import Path

import pytest

from conftest import gkfs_ctl, start_net_fs

import gkfs
from gkfs import settings
from gkfs.cluster import STATE_VERSION, Cluster, create_secret_file
from gkfs.launchers.agent import rank_from_environment
from gkfs.launchers.base import (RUN_MARKER, ClusterError, DaemonRecord, JobRecord, Launch,
                                 LaunchPlan, begin_log_run, daemon_layout, logged_uri,
                                 proc_start_time, read_host_list)
from gkfs.launchers.job import JobLauncher
from gkfs.settings import ClusterSettings, DaemonSettings, SettingsError


# --- the instance secret ------------------------------------------------------------------------


def test_start_creates_a_private_secret_and_stop_removes_it(make_fs):
    fs = make_fs(daemons=2)
    secret = Path(fs.hosts_file + ".secret")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert re.fullmatch(r"[0-9a-f]{32}\n", secret.read_text())
    state = fs.ctl("env").stdout
    assert f"LIBGKFS_SECRET_FILE={secret}" in state
    assert fs.ctl("stop").returncode == 0
    assert not secret.exists()


def test_secret_file_is_never_readable_by_others(tmp_path):
    old = os.umask(0)  # even a permissive umask cannot widen it
    try:
        create_secret_file(str(tmp_path / "s"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "s").stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):  # O_EXCL: never reuses or follows an existing file
        create_secret_file(str(tmp_path / "s"))


def test_client_without_the_secret_is_refused(make_fs, tmp_path):
    from gkfs import _core

    fs = make_fs(daemons=2)
    copy = tmp_path / "hosts.txt"  # the daemons' addresses, but no secret beside them
    shutil.copy(fs.hosts_file, copy)
    with pytest.raises(PermissionError) as info:
        gkfs.Client(str(copy)).stat("/")
    assert "secret" in str(info.value)
    with_secret = _core.Client(str(copy), 2000, fs.hosts_file + ".secret")
    assert with_secret.stat("/").is_dir()
    with_secret.close()


# --- settings: gkfs.toml, host lists, timeouts ----------------------------------------------------


def write_config(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_config_file_sits_below_environment_and_flags(tmp_path):
    config = write_config(tmp_path / "gkfs.toml", """
[daemon]
chunk-size = "64K"
rootdir = "/scratch/gkfs"
auto_sm = true

[cluster]
daemons = 3
timeout-ms = 1234
launcher = "ssh"
""")
    loaded = settings.load(ClusterSettings, environ={"GKFS_CONFIG": config})
    assert (loaded.daemons, loaded.timeout_ms, loaded.launcher) == (3, 1234, "ssh")
    assert (loaded.daemon.chunk_size, loaded.daemon.rootdir, loaded.daemon.auto_sm) == \
        (65536, "/scratch/gkfs", True)
    env = {"GKFS_CONFIG": config, "GKFS_TIMEOUT_MS": "999", "GKFS_CHUNK_SIZE": "8K"}
    assert settings.load(ClusterSettings, environ=env).timeout_ms == 999
    from gkfs.cli import build_parser

    args = build_parser().parse_args(["start", "--config", config, "--timeout-ms", "77"])
    loaded = settings.load(ClusterSettings, args, environ=env)
    assert (loaded.timeout_ms, loaded.daemon.chunk_size, loaded.daemons) == (77, 8192, 3)


@pytest.mark.parametrize("text,message", [
    ("[daemon]\nrootdir = '/r'\nchunksize = '64K'\n", r"line 3: unknown key 'chunksize'"),
    ("[daemon]\n\nchunk-size = '5000'\n", r"line 3: chunk-size must be a power of two"),
    ("[cluster]\ndaemons = 'many'\n", r"line 2: daemons: not an integer"),
    ("[deamon]\nport = 1\n", r"line 1: unknown table 'deamon'"),
    ("[daemon]\nport = \n", r"line 2"),
    ("[cluster]\nlauncher = 'pbs'\n", r"line 2: launcher must be one of local, ssh"),
])
def test_config_errors_name_the_file_and_line(tmp_path, text, message):
    config = write_config(tmp_path / "gkfs.toml", text)
    with pytest.raises(SettingsError, match=message) as info:
        settings.load(ClusterSettings, environ={"GKFS_CONFIG": config})
    assert config in str(info.value)


def test_gkfs_ctl_start_reads_the_config_file(tmp_path):
    base = tmp_path
    config = write_config(base / "gkfs.toml", f"""
[daemon]
hosts-file = "{base}/hosts.txt"
rootdir = "{base}/root"
mountdir = "{base}/mnt"
chunk-size = "16K"

[cluster]
daemons = 2
""")
    started = gkfs_ctl("start", "--config", config)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "2 daemon(s) ready" in started.stdout
        with gkfs.Client(str(base / "hosts.txt")) as client:
            assert client.config.chunk_size == 16384
    finally:
        stopped = gkfs_ctl("stop", "--config", config)
    assert stopped.returncode == 0, stopped.stderr
    bad = write_config(base / "bad.toml", "[daemon]\nchunk-size = '3M'\n")
    result = gkfs_ctl("start", "--config", bad)
    assert result.returncode == 2 and "bad.toml line 2" in result.stderr


def test_env_and_run_pass_the_client_time_limits(make_fs):
    fs = make_fs(daemons=1)
    defaults = fs.ctl("env").stdout
    for line in ("LIBGKFS_TIMEOUT_MS=5000", "LIBGKFS_DOWN_RECHECK_MS=5000",
                 "LIBGKFS_RECHECK_TIMEOUT_MS=1000"):
        assert f"export {line}" in defaults
    assert "export LIBGKFS_TIMEOUT_MS=1500" in fs.ctl("env", "--timeout-ms", "1500").stdout
    shown = fs.ctl("run", "--timeout-ms", "2500", "--down-recheck-ms", "700",
                   "--recheck-timeout-ms", "300", "--", "sh", "-c",
                   "echo $LIBGKFS_TIMEOUT_MS $LIBGKFS_DOWN_RECHECK_MS $LIBGKFS_RECHECK_TIMEOUT_MS")
    assert shown.stdout == "2500 700 300\n"


def test_status_shows_health_address_capacity_syncs_and_version(make_fs):
    fs = make_fs(daemons=2)
    status = fs.ctl("status")
    lines = [line for line in status.stdout.splitlines() if " up " in line]
    assert len(lines) == 2
    for line in lines:
        assert re.match(r"d[01] \S+ ucx\+tcp://127\.0\.0\.1:\d+ up files=\d+ used=\S+ "
                        r"free=\S+ orphans=\d+ syncs=0 version=" + re.escape(gkfs.__version__) + "$",
                        line), line


def test_host_list_files(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("# compute nodes\nnode01 slots=4\n\n  node02   # spare\n10.0.0.7\n")
    assert read_host_list(str(hosts)) == ["node01", "node02", "10.0.0.7"]
    hosts.write_text("# nothing\n")
    with pytest.raises(ClusterError, match="names no host"):
        read_host_list(str(hosts))
    hosts.write_text("a\nb\na\n")
    with pytest.raises(ClusterError, match="more than once"):
        read_host_list(str(hosts))


@pytest.mark.parametrize("launcher,message", [
    ("ssh", "needs a host list: pass --host-list"),
    ("mpirun", "needs a host list: pass --host-list"),
    ("srun", "inside a Slurm allocation"),
])
def test_launcher_inputs_missing_is_a_clear_error(tmp_path, launcher, message):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    result = gkfs_ctl("start", "--launcher", launcher, "--hosts-file", str(tmp_path / "h"),
                      "--rootdir", str(tmp_path / "r"), env=env)
    assert result.returncode == 1
    assert message in result.stderr
    assert not (tmp_path / "h").exists() and not (tmp_path / "h.secret").exists()


# --- the launch agent and the per-daemon layout -----------------------------------------------------


@pytest.mark.parametrize("environ,expected", [
    ({"SLURM_PROCID": "5", "SLURM_LOCALID": "1"}, (5, 1)),
    ({"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_LOCAL_RANK": "0"}, (3, 0)),
    ({"PMI_RANK": "2", "MPI_LOCALRANKID": "2"}, (2, 2)),
    ({"PMIX_RANK": "7"}, (7, 0)),
])
def test_agent_takes_its_rank_from_the_launcher(environ, expected):
    assert rank_from_environment(environ) == expected


def test_agent_outside_a_parallel_job_is_an_error():
    with pytest.raises(ValueError, match="not started by srun or mpirun"):
        rank_from_environment({})


def test_daemon_layout():
    base = settings.load(DaemonSettings, environ={}, rootdir="/r", metadir="/m", port=4000)
    d5, log = daemon_layout(base, 5, 1)
    assert (d5.rootdir, d5.metadir, d5.port, log) == ("/r/d5", "/m/d5", 4001, "/r/d5.log")
    free = settings.load(DaemonSettings, environ={}, rootdir="/r")
    assert daemon_layout(free, 2, 2)[0].port == 0 and daemon_layout(free, 2, 2)[0].metadir == ""


# --- side by side ------------------------------------------------------------------------------------


def free_port_block(count: int) -> int:
    """A base port with count free ports above it (probed, then released)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count > 65535:
            continue
        try:
            probes = []
            for p in range(base, base + count):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return base
    raise RuntimeError("no free port block")


def test_two_instances_side_by_side_do_not_interfere(make_fs):
    a = make_fs(daemons=2, args=["--port", str(free_port_block(2))])
    b = make_fs(daemons=2, args=["--port", str(free_port_block(2))])
    with a.client() as ca, b.client() as cb:
        ca.write_bytes("/only-in-a", b"a")
        cb.write_bytes("/only-in-b", b"b")
        assert ca.listdir("/") == ["only-in-a"] and cb.listdir("/") == ["only-in-b"]
    assert Path(a.hosts_file + ".secret").read_text() != Path(b.hosts_file + ".secret").read_text()
    assert a.ctl("stop").returncode == 0
    assert not Path(a.hosts_file).exists()
    with b.client() as cb:
        assert cb.read_bytes("/only-in-b") == b"b"
    assert "2 of 2 daemons up" in b.ctl("status").stdout


# --- mpirun and ssh on the virtual hosts --------------------------------------------------------------


def recorded_uris(hosts_file: str) -> dict[int, str]:
    state = json.loads(Path(hosts_file + ".pids.json").read_text())
    return {d["index"]: d["uri"] for d in state["daemons"]}


def listed_uris(hosts_file: str) -> list[str]:
    return [line.split()[1] for line in Path(hosts_file).read_text().splitlines()
            if len(line.split()) >= 2]


def test_start_on_a_used_rootdir_records_this_runs_addresses(make_fs):
    fs = make_fs(daemons=2)
    first = recorded_uris(fs.hosts_file)
    assert fs.ctl("stop").returncode == 0
    used = {int(uri.rsplit(":", 1)[1]) for uri in first.values()}
    port = next(p for p in iter(lambda: free_port_block(2), None) if not {p, p + 1} & used)
    again = gkfs_ctl("start", "--daemons", "2", "--hosts-file", fs.hosts_file,
                     "--rootdir", fs.rootdir, "--mountdir", fs.mountdir, "--port", str(port))
    assert again.returncode == 0, again.stdout + again.stderr
    want = {i: f"ucx+tcp://127.0.0.1:{port + i}" for i in (0, 1)}
    assert recorded_uris(fs.hosts_file) == want
    assert sorted(listed_uris(fs.hosts_file)) == sorted(want.values())
    for i in (0, 1):  # the old run's lines stay in the log, after them this run's
        log = Path(fs.rootdir, f"d{i}.log").read_text()
        assert log.index(f"listening on {first[i]} ") < log.index(f"listening on {want[i]} ")

    status = fs.ctl("status")
    assert status.returncode == 0, status.stdout + status.stderr
    for i, uri in want.items():
        assert re.search(rf"^d{i} \S+ {re.escape(uri)} up ", status.stdout, re.MULTILINE), \
            status.stdout

    assert fs.ctl("stop", "--daemon", "1").returncode == 0
    restarted = fs.ctl("restart-daemon", "--daemon", "1")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert sorted(set(listed_uris(fs.hosts_file))) == sorted(want.values())  # no third daemon
    assert recorded_uris(fs.hosts_file) == want
    assert "2 of 2 daemons up" in fs.ctl("status").stdout


def test_restart_refuses_an_address_the_hosts_file_lacks(make_fs):
    fs = make_fs(daemons=2)
    assert fs.ctl("stop", "--daemon", "1").returncode == 0
    state_file = Path(fs.hosts_file + ".pids.json")
    state = json.loads(state_file.read_text())
    state["daemons"][1]["uri"] = "ucx+tcp://127.0.0.1:1"  # a state file gone stale
    state_file.write_text(json.dumps(state))
    listed = Path(fs.hosts_file).read_text()
    result = fs.ctl("restart-daemon", "--daemon", "1")
    assert result.returncode == 1 and "would add a daemon" in result.stderr, result.stderr
    assert Path(fs.hosts_file).read_text() == listed


def test_logs_are_appended_and_read_from_their_last_run(tmp_path):
    job_log, daemon_log = tmp_path / "srun.log", tmp_path / "d0.log"
    for run, port in ((1, 40000), (2, 41000)):
        with open(job_log, "ab") as f:
            begin_log_run(f.fileno())
            f.write(f"gkfs-agent: daemon 0 host h{run} pid {run}00 start 7 log {daemon_log}\n"
                    .encode())
        with open(daemon_log, "ab") as f:
            begin_log_run(f.fileno())
            f.write(f"gkfs-daemon: listening on ucx+tcp://10.0.0.1:{port} (rootdir r)\n".encode())
    record = DaemonRecord(index=0, pid=0, start_time=0, host="", rootdir="r", log=str(daemon_log))
    launch = Launch(daemons=[record], job=JobRecord(pid=1, start_time=0, host="", log=str(job_log)))
    JobLauncher().complete(launch)
    assert (record.host, record.pid, record.uri) == ("h2", 200, "ucx+tcp://10.0.0.1:41000")
    assert daemon_log.read_text().count(RUN_MARKER) == 2  # the first run's lines are kept
    with open(daemon_log, "ab") as f:
        begin_log_run(f.fileno())
    assert logged_uri(str(daemon_log)) == ""  # a run that has not printed its uri yet


class ServingStepLauncher(JobLauncher):
    """srun's FUSE mount step as status sees it: the step still runs, and the per-host check
    runs here (this host is the one node)."""

    name = "srun"

    def job_alive(self, job: JobRecord) -> bool:
        return True

    def per_host_command(self, argv: list[str]) -> list[str]:
        return argv


def test_status_of_a_step_served_mount_checks_each_node(tmp_path):
    """A node's gkfs-fuse that ended cleanly (unmounted by hand) leaves srun's mount step
    running on the other nodes: status checks the mount on every node, not only the step."""
    mountdir = tmp_path / "mnt"
    mountdir.mkdir()
    config = settings.load(ClusterSettings, environ={
        "GKFS_HOSTS_FILE": str(tmp_path / "hosts"), "GKFS_ROOTDIR": str(tmp_path / "root"),
        "GKFS_MOUNTDIR": str(mountdir)})
    job = JobRecord(pid=os.getpid(), start_time=0, host=socket.gethostname(), log="", step="7.1")
    state = {"version": STATE_VERSION, "launcher": "srun", "mountdir": str(mountdir),
             "fuse_mounts": [Cluster._IN_A_JOB],
             "fuse_job": dataclasses.asdict(job),
             "plan": LaunchPlan(base=config.daemon, per_host=1, env={},
                                start_timeout=1.0).to_state()}
    Path(tmp_path / "hosts.pids.json").write_text(json.dumps(state))
    (mount,) = Cluster(config, launcher=ServingStepLauncher()).fuse_status()
    assert not mount["mounted"], mount
    assert f"no gkfs FUSE mount at {mountdir}" in mount["how"], mount


@pytest.mark.multihost
def test_mpirun_launcher_two_daemons_per_host(make_net_fs, vcluster, tmp_path):
    fs = make_net_fs(launcher="mpirun", args=["--daemons", "2"])
    state = fs.state()
    assert state["launcher"] == "mpirun" and state["job"]["pid"] > 0
    assert sorted(d["index"] for d in state["daemons"]) == list(range(8))
    assert all(d["pid"] > 0 for d in state["daemons"])  # reported by the agents
    status = fs.ctl("status")
    assert "8 of 8 daemons up" in status.stdout, status.stdout + status.stderr
    ports = {}
    for line in status.stdout.splitlines():
        match = re.search(r"ucx\+tcp://([\d.]+):\d+ up", line)
        if match:
            ports[match.group(1)] = ports.get(match.group(1), 0) + 1
    assert ports == {h.address: 2 for h in vcluster.hosts}

    blob = tmp_path / "blob"
    blob.write_bytes(os.urandom(3 << 20))
    copied = fs.run(["sh", "-c", f"cp {blob} {fs.mountdir}/blob && cmp {blob} {fs.mountdir}/blob"])
    assert copied.returncode == 0, copied.stderr

    stopped = fs.stop()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert re.search(r"mpirun pid \d+ on \S+ \(8 daemons\): stopped \(SIGTERM\)", stopped.stdout)
    assert all(proc_start_time(d["pid"]) is None for d in state["daemons"])
    assert not Path(fs.hosts_file).exists()


@pytest.mark.multihost
def test_ssh_start_failure_shows_the_remote_log_and_leaves_nothing(vcluster):
    with pytest.raises(AssertionError) as info:
        start_net_fs(vcluster, args=["--listen", "no-such-if0"])
    message = str(info.value)
    assert "exited during start-up" in message and "no-such-if0" in message
    leftovers = list(vcluster.workdir.glob("gkfs-net-*/hosts.txt*"))
    assert not leftovers, leftovers


@pytest.mark.multihost
def test_ssh_stop_one_daemon_restart_it_and_refuse_a_second_start(make_net_fs, vcluster):
    fs = make_net_fs()
    again = fs.ctl("start", "--launcher", "ssh", "--host-list", vcluster.host_list(),
                   "--rootdir", fs.rootdir)
    assert again.returncode == 1 and "already running" in again.stderr

    stopped = fs.ctl("stop", "--daemon", "3")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert re.search(r"daemon 3 pid \d+ on \S+ \([\d.]+\): stopped \(SIGTERM\)", stopped.stdout)
    assert Path(fs.hosts_file).exists() and Path(fs.hosts_file + ".secret").exists()
    assert "3 of 4 daemons up" in fs.ctl("status").stdout

    restarted = fs.ctl("restart-daemon", "--daemon", "3")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "4 of 4 daemons up" in fs.ctl("status").stdout


@pytest.mark.parametrize("flags,shared", [
    pytest.param((), True, id="default"),
    pytest.param(("--auto-sm",), True, id="auto-sm"),
    pytest.param(("--no-auto-sm",), False, id="no-auto-sm")])
def test_same_host_clients_use_shared_memory_by_default(make_fs, flags, shared):
    """Issue 11, observation 5: same-host clients used tcp unless the daemons were started
    with --auto-sm. Shared memory is the default (DaemonInfo tells); --no-auto-sm turns it
    off."""
    fs = make_fs(daemons=2, args=flags)
    with gkfs.Client(fs.hosts_file) as client:
        client.write_bytes("/f", b"x" * 100)
        assert client.read_bytes("/f") == b"x" * 100
        assert [d.shared_memory for d in client.daemons()] == [shared, shared]


def test_a_client_that_changes_its_user_goes_on_over_the_network(make_fs):
    """A process connected as the daemons' user and then became nobody (as programs that
    drop privileges do): it can no longer map the daemons' segments (UCX: open of
    /proc/<daemon>/fd/N, Permission denied; the calls failed with EHOSTDOWN), so from then on
    its calls take the network, and back to shared memory when it returns to the user."""
    import subprocess
    import sys
    fs = make_fs(daemons=2)
    script = f"""
import os, gkfs
with gkfs.Client({fs.hosts_file!r}) as c:
    c.write_bytes("/before", b"x" * 200000)
    print([d.shared_memory for d in c.daemons()])
    os.setresuid(65534, 65534, 0)
    for i in range(40):
        c.write_bytes(f"/as-nobody-{{i}}", bytes(200000))
        assert c.read_bytes(f"/as-nobody-{{i}}") == bytes(200000)
    print([d.shared_memory for d in c.daemons()])
    os.setresuid(0, 0, 0)
    assert c.read_bytes("/before") == b"x" * 200000
    print([d.shared_memory for d in c.daemons()])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[True, True]", "[False, False]", "[True, True]"]


def test_a_client_of_another_user_reaches_auto_sm_daemons_over_the_network(make_fs):
    """Shared memory maps the other end's segments through /proc/<pid>/fd, which ptrace
    rules keep from another user: a client whose uid differs from the daemons' (nobody,
    daemons as root) used to get EHOSTDOWN on every call; it takes the network instead."""
    import subprocess
    import sys
    fs = make_fs(daemons=2, args=("--auto-sm",))
    with gkfs.Client(fs.hosts_file) as client:
        client.write_bytes("/shared", b"for everyone")
    for path in (os.path.dirname(fs.hosts_file), fs.hosts_file, fs.hosts_file + ".secret"):
        os.chmod(path, 0o755)  # nobody may connect (the test's choice)
    script = f"print(open({fs.mountdir + '/shared'!r}).read())"
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           sys.executable, "-c", script], env=fs.env, capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "for everyone\n"), done.stderr
