"""gkfs-ctl and gkfs-daemon as users run them: real entry points in subprocesses."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import HANG_GUARD_S, gkfs_ctl, gkfs_daemon_argv, preload_library

READY_LINE = "Startup successful. Daemon is ready."


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("daemons", [1, 2, 4])
def test_start_status_stop(make_fs, daemons):
    fs = make_fs(daemons=daemons)
    state_file = fs.hosts_file + ".pids.json"
    with open(fs.hosts_file) as f:
        lines = [line.split() for line in f if line.strip()]
    assert len(lines) == daemons
    assert all(len(fields) == 3 and fields[1].startswith("ucx+tcp://127.0.0.1:")
               for fields in lines)
    state = json.loads(Path(state_file).read_text())
    assert [d["index"] for d in state["daemons"]] == list(range(daemons))
    for d in state["daemons"]:
        assert d["rootdir"] == os.path.join(fs.rootdir, f"d{d['index']}")
        assert READY_LINE in Path(d["log"]).read_text()

    status = fs.ctl("status")
    assert status.returncode == 0, status.stderr
    up_lines = [line for line in status.stdout.splitlines() if " up files=" in line]
    assert len(up_lines) == daemons
    assert f"{daemons} of {daemons} daemons up" in status.stdout

    stop = fs.ctl("stop")
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert len(re.findall(r"daemon \d+ pid \d+ on \S+: stopped \(SIGTERM\)", stop.stdout)) \
        == daemons
    assert not os.path.exists(fs.hosts_file)
    assert not os.path.exists(state_file)
    for d in state["daemons"]:
        assert not os.path.exists(f"/proc/{d['pid']}") or \
            Path(f"/proc/{d['pid']}/stat").read_text().split(")")[1].split()[0] == "Z"

    again = fs.ctl("stop")  # the fixture's own stop finds nothing: clear error, exit 1
    assert again.returncode == 1
    assert "no state file" in again.stderr


def test_start_refuses_while_running(make_fs):
    fs = make_fs(daemons=1)
    result = gkfs_ctl("start", "--hosts-file", fs.hosts_file, "--rootdir", fs.rootdir)
    assert result.returncode == 1
    assert "already running" in result.stderr
    assert fs.ctl("status").returncode == 0


def test_preload_library_ships_with_the_package():
    assert os.path.isfile(preload_library()), preload_library()


def test_run_without_preload_library_is_a_clear_error(make_fs, tmp_path):
    fs = make_fs(daemons=1)
    # A copy of the package whose directory lacks the library (and has no _core beside it).
    import gkfs

    package = tmp_path / "pkg" / "gkfs"
    package.mkdir(parents=True)
    for name in ("__init__.py", "cli.py", "cluster.py", "mounts.py", "settings.py", "staging.py"):
        (package / name).write_bytes((Path(gkfs.__file__).parent / name).read_bytes())
    shutil.copytree(Path(gkfs.__file__).parent / "launchers", package / "launchers")
    env = dict(os.environ, PYTHONPATH=str(package.parent))
    result = subprocess.run([sys.executable, "-m", "gkfs.cli", "run", "--hosts-file",
                             fs.hosts_file, "--", "true"], capture_output=True, text=True,
                            env=env, timeout=HANG_GUARD_S, cwd=tmp_path)
    assert result.returncode == 1
    assert "preload library" in result.stderr and "does not exist" in result.stderr


def test_env_prints_client_variables(make_fs):
    fs = make_fs(daemons=2)
    result = fs.ctl("env")
    assert result.returncode == 0, result.stderr
    exports = dict(re.findall(r"^export (\w+)=(.*)$", result.stdout, re.MULTILINE))
    assert exports["LIBGKFS_HOSTS_FILE"] == fs.hosts_file
    assert exports["LIBGKFS_MOUNTDIR"] == fs.mountdir
    assert exports["LD_PRELOAD"].split(":")[0] == preload_library()
    assert exports["LD_PRELOAD"].split(":")[0].endswith("/libgkfs_intercept.so")


def test_run_executes_command_with_client_environment(make_fs):
    fs = make_fs(daemons=2)
    show = [sys.executable, "-c",
            "import os; print(os.environ['LIBGKFS_HOSTS_FILE']); "
            "print(os.environ['LIBGKFS_MOUNTDIR']); print(os.environ['LD_PRELOAD'])"]
    result = fs.ctl("run", "--", *show)
    assert result.returncode == 0, result.stderr
    hosts, mountdir, preload = result.stdout.splitlines()[:3]
    assert (hosts, mountdir) == (fs.hosts_file, fs.mountdir)
    assert preload.split(":")[0] == preload_library()


def test_run_puts_an_unmodified_program_on_the_file_system(make_fs, tmp_path):
    fs = make_fs(daemons=2)
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(300_000))
    result = fs.ctl("run", "--", "cp", str(source), f"{fs.mountdir}/copied.bin")
    assert result.returncode == 0, result.stderr
    with fs.client() as client:
        assert client.read_bytes("/copied.bin") == source.read_bytes()


def test_run_passes_the_exit_status(make_fs):
    fs = make_fs(daemons=1)
    assert fs.ctl("run", "--", "sh", "-c", "exit 7").returncode == 7


def test_run_without_command_is_a_usage_error():
    result = gkfs_ctl("run", "--")
    assert result.returncode == 2
    assert "no command" in result.stderr


@pytest.mark.parametrize("tool", ["gkfs-ctl start", "gkfs-daemon"])
def test_unknown_flag_exits_2_naming_it(tool):
    if tool == "gkfs-daemon":
        result = subprocess.run(gkfs_daemon_argv() + ["--no-such-flag"], capture_output=True,
                                text=True, timeout=HANG_GUARD_S)
    else:
        result = gkfs_ctl("start", "--no-such-flag")
    assert result.returncode == 2
    assert "--no-such-flag" in result.stderr


@pytest.mark.parametrize("tool", ["gkfs-ctl start", "gkfs-daemon"])
@pytest.mark.parametrize("value", ["5000", "2048", "3M"])
def test_chunk_size_must_be_power_of_two(tool, value, tmp_path):
    args = ["--chunk-size", value, "--rootdir", str(tmp_path / "r"),
            "--hosts-file", str(tmp_path / "h")]
    if tool == "gkfs-daemon":
        result = subprocess.run(gkfs_daemon_argv() + args, capture_output=True, text=True,
                                timeout=HANG_GUARD_S)
    else:
        result = gkfs_ctl("start", *args)
    assert result.returncode == 2
    assert "--chunk-size" in result.stderr
    assert "power of two" in result.stderr
    assert not (tmp_path / "h").exists()


def test_chunk_size_from_environment_names_the_variable(tmp_path):
    env = dict(os.environ, GKFS_CHUNK_SIZE="12345")
    result = gkfs_ctl("start", "--rootdir", str(tmp_path / "r"), env=env)
    assert result.returncode == 2
    assert "GKFS_CHUNK_SIZE" in result.stderr


def test_not_a_size_is_rejected_by_the_parser():
    result = gkfs_ctl("start", "--chunk-size", "lots")
    assert result.returncode == 2
    assert "--chunk-size" in result.stderr and "not a size" in result.stderr


@pytest.mark.parametrize("content", [None, "", "\n\n# only a comment\n"])
def test_status_without_usable_hosts_file_is_a_clear_error(tmp_path, content):
    hosts = tmp_path / "hosts.txt"
    if content is not None:
        hosts.write_text(content)
    result = gkfs_ctl("status", "--hosts-file", str(hosts))
    assert result.returncode == 1
    assert str(hosts) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("content", [None, ""])
def test_client_without_usable_hosts_file_raises_oserror(tmp_path, content):
    import gkfs

    hosts = tmp_path / "hosts.txt"
    if content is not None:
        hosts.write_text(content)
    with pytest.raises(OSError) as info:
        gkfs.Client(str(hosts))
    assert info.value.errno in (errno.ENOENT, errno.EINVAL)
    assert str(hosts) in str(info.value)


def test_unreachable_daemon_fails_within_timeout(tmp_path):
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(f"nohost ucx+tcp://127.0.0.1:{closed_port()}\n")
    # In a subprocess, so a hang is caught by the guard instead of blocking the run.
    probe = ("import gkfs._core as c, sys\n"
             "try:\n"
             f"    c.Client({str(hosts)!r}, 2000).stat('/')\n"
             "except OSError as e:\n"
             "    print(e.errno); sys.exit(0)\n"
             "print('no error'); sys.exit(1)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=HANG_GUARD_S)
    assert result.returncode == 0, result.stdout + result.stderr
    assert int(result.stdout.split()[0]) in (errno.EHOSTDOWN, errno.EIO)

    status = gkfs_ctl("status", "--hosts-file", str(hosts), "--timeout-ms", "2000")
    assert status.returncode == 1
    assert "Traceback" not in status.stderr
    assert " down " in status.stdout or "cannot reach" in status.stderr


def test_stop_without_state_file_is_a_clear_error(tmp_path):
    result = gkfs_ctl("stop", "--hosts-file", str(tmp_path / "hosts.txt"))
    assert result.returncode == 1
    assert "no state file" in result.stderr


def test_failed_start_reports_the_daemon_log_and_cleans_up(tmp_path):
    hosts = tmp_path / "hosts.txt"
    result = gkfs_ctl("start", "--daemons", "2", "--hosts-file", str(hosts),
                      "--rootdir", str(tmp_path / "root"), "--listen", "no-such-interface0",
                      "--start-timeout", "60")
    assert result.returncode == 1
    assert "exited during start-up" in result.stderr
    assert "no-such-interface0" in result.stderr  # from the daemon's log tail
    assert not hosts.exists()
    assert not Path(str(hosts) + ".pids.json").exists()


class TestDaemonProcess:
    """gkfs-daemon started directly, as a GekkoFS job script would."""

    def start(self, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
        hosts = tmp_path / "hosts.txt"
        argv = gkfs_daemon_argv() + ["-r", str(tmp_path / "root"), "-m", str(tmp_path / "mnt"),
                                     "-H", str(hosts), "-l", "127.0.0.1", *extra]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        return proc, hosts

    def wait_for_line(self, proc: subprocess.Popen, hosts: Path) -> str:
        deadline = time.monotonic() + HANG_GUARD_S
        while time.monotonic() < deadline and proc.poll() is None:
            if hosts.exists() and hosts.read_text().endswith("\n"):
                return hosts.read_text()
            time.sleep(0.05)
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"daemon never listed itself (rc {proc.returncode}):\n{err}")

    @pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
    def test_writes_hosts_line_logs_ready_and_stops_on_signal(self, tmp_path, sig):
        proc, hosts = self.start(tmp_path, "--clean-rootdir", "-P", "ucx+tcp", "--auto-sm")
        try:
            text = self.wait_for_line(proc, hosts)
            host, uri, identity = text.split()
            assert host == socket.gethostname()
            assert re.fullmatch(r"ucx\+tcp://127\.0\.0\.1:\d+", uri)
            # The daemon's persistent identity, kept in its root directory (placement order).
            assert identity == (tmp_path / "root" / "identity").read_text().strip()
        finally:
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=HANG_GUARD_S)
        assert READY_LINE in err
        assert proc.returncode == 0, err

    def test_clean_rootdir_finish_removes_rootdir(self, tmp_path):
        proc, hosts = self.start(tmp_path, "-c")
        try:
            self.wait_for_line(proc, hosts)
            assert (tmp_path / "root").is_dir()
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=HANG_GUARD_S)
        assert proc.returncode == 0, err
        assert not (tmp_path / "root").exists()

    def test_startup_error_exits_nonzero_with_message(self, tmp_path):
        proc, hosts = self.start(tmp_path, "--listen", "no-such-interface0")
        _, err = proc.communicate(timeout=HANG_GUARD_S)
        assert proc.returncode == 1
        assert "cannot start" in err and "no-such-interface0" in err
        assert "Traceback" not in err
        assert not hosts.exists()

    def test_rootdir_that_is_a_file_is_rejected(self, tmp_path):
        (tmp_path / "root").write_text("not a directory")
        proc, _ = self.start(tmp_path)
        _, err = proc.communicate(timeout=HANG_GUARD_S)
        assert proc.returncode == 2
        assert "--rootdir" in err and "not a directory" in err


def _proc_start_time(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2:].split()[19])


def _write_state(hosts: Path, procs: list[tuple[int, int]]) -> None:
    hosts.write_text("")
    daemons = [{"index": i, "pid": pid, "start_time": start, "host": socket.gethostname(),
                "rootdir": str(hosts.parent / f"d{i}"), "log": str(hosts.parent / f"d{i}.log")}
               for i, (pid, start) in enumerate(procs)]
    Path(str(hosts) + ".pids.json").write_text(json.dumps(
        {"version": 1, "launcher": "local", "hosts_file": str(hosts), "mountdir": "/tmp/m",
         "rpc_protocol": "ucx+tcp", "listen": "127.0.0.1", "daemons": daemons}))


def test_stop_kills_a_daemon_that_ignores_sigterm(tmp_path):
    stubborn = subprocess.Popen(
        ["sh", "-c", "trap '' TERM; echo trapped; while :; do sleep 0.1; done"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert stubborn.stdout.readline() == "trapped\n"  # SIGTERM is ignored from here on
        hosts = tmp_path / "hosts.txt"
        _write_state(hosts, [(stubborn.pid, _proc_start_time(stubborn.pid))])
        result = gkfs_ctl("stop", "--hosts-file", str(hosts), "--stop-grace", "0.5")
        assert result.returncode == 0, result.stderr
        assert "killed (SIGKILL after 0.5s grace)" in result.stdout
        assert stubborn.wait(timeout=HANG_GUARD_S) == -signal.SIGKILL
        assert not hosts.exists() and not Path(str(hosts) + ".pids.json").exists()
    finally:
        stubborn.kill()
        stubborn.wait()
        stubborn.stdout.close()


def test_stop_leaves_a_reused_pid_alone(tmp_path):
    """A recorded PID whose start time differs belongs to another process now."""
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        hosts = tmp_path / "hosts.txt"
        _write_state(hosts, [(bystander.pid, _proc_start_time(bystander.pid) + 1)])
        result = gkfs_ctl("stop", "--hosts-file", str(hosts))
        assert result.returncode == 0, result.stderr
        assert "was not running" in result.stdout
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_version_has_one_source():
    import importlib.metadata

    import gkfs
    from gkfs import _core

    result = gkfs_ctl("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"gkfs-ctl {gkfs.__version__}"
    assert importlib.metadata.version("gkfs") == gkfs.__version__ == _core.version()


def test_run_exits_127_and_126_like_a_shell(make_fs, tmp_path):
    fs = make_fs(daemons=1)
    result = fs.ctl("run", "--", str(tmp_path / "no-such-program"))
    assert result.returncode == 127, result.stderr
    assert "no-such-program" in result.stderr and "Traceback" not in result.stderr
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\ntrue\n")
    script.chmod(0o644)
    result = fs.ctl("run", "--", str(script))
    assert result.returncode == 126, result.stderr
    assert "Permission denied" in result.stderr


def test_env_fails_clearly_without_a_file_system(tmp_path):
    hosts = tmp_path / "hosts.txt"
    result = gkfs_ctl("env", "--hosts-file", str(hosts))
    assert result.returncode == 1 and result.stdout == ""
    assert "no gkfs file system runs" in result.stderr and str(hosts) in result.stderr
    assert "not the shell itself" in " ".join(gkfs_ctl("env", "--help").stdout.split())


def test_help_group_titles_read_as_words():
    text = gkfs_ctl("run", "--help").stdout
    assert "client options:" in text and "daemon options:" in text
    assert "clientenvironment" not in text
    assert "forwarding map options:" in gkfs_ctl("fwd-map", "--help").stdout


def run_daemon(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(gkfs_daemon_argv() + ["-H", str(tmp_path / "hosts.txt"), *args],
                          capture_output=True, text=True, timeout=HANG_GUARD_S, cwd=tmp_path)


def test_daemon_errors_name_the_option_to_fix(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    result = run_daemon(tmp_path, "-m", str(a_file), "-r", str(tmp_path / "root"))
    assert result.returncode == 1
    assert f"-m/--mountdir {a_file} is not a directory" in result.stderr
    result = run_daemon(tmp_path, "-m", str(tmp_path / "mnt"), "-r", str(a_file / "root"))
    assert result.returncode == 1
    assert f"-r/--rootdir {a_file / 'root'} cannot be created: Not a directory" in result.stderr
    # 198.51.100.0/24 is for documentation (TEST-NET-2): not an address of this host.
    result = run_daemon(tmp_path, "-m", str(tmp_path / "mnt"), "-r", str(tmp_path / "root"),
                        "-l", "198.51.100.254")
    assert result.returncode == 1
    assert "-l/--listen: cannot listen on 198.51.100.254" in result.stderr
    assert "Cannot assign requested address" in result.stderr
    assert "Address already in use" not in result.stderr


def test_start_errors_name_the_option_to_fix(tmp_path):
    """As the daemon's (above), through gkfs-ctl start, which makes the directories first."""
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    common = ["--hosts-file", str(tmp_path / "hosts.txt"), "--start-timeout", "60"]
    result = gkfs_ctl("start", *common, "-m", str(a_file), "-r", str(tmp_path / "root"))
    assert result.returncode == 1
    assert f"-m/--mountdir {a_file} is not a directory" in result.stderr, result.stderr
    result = gkfs_ctl("start", *common, "-m", str(tmp_path / "mnt"), "-r", str(a_file / "r"))
    assert result.returncode == 1
    assert f"-r/--rootdir {a_file / 'r'} cannot be created: Not a directory" in result.stderr
    result = gkfs_ctl("start", "--hosts-file", str(a_file / "hosts.txt"),
                      "-m", str(tmp_path / "mnt"), "-r", str(tmp_path / "root"))
    assert result.returncode == 1
    assert f"-H/--hosts-file {a_file / 'hosts.txt'}: its directory cannot be created: " \
           f"Not a directory" in result.stderr, result.stderr
    result = run_daemon(tmp_path, "-m", str(tmp_path / "mnt"), "-r", str(tmp_path / "root"),
                        "-l", "no-such-interface0")
    assert result.returncode == 1
    assert "-l/--listen 'no-such-interface0' is neither an IPv4 address nor an interface " \
           "with one\n" in result.stderr, result.stderr
    assert "[Errno" not in result.stderr
