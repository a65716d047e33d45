"""GekkoFS drop-in: a GekkoFS job script's daemon command line (-P ofi+sockets, -s, -d,
GKFS_DAEMON_LOG_PATH/LEVEL), GekkoFS hosts files (#FS_INSTANCE_END, extra fields) and log
levels that mean the same for daemon and client."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import HANG_GUARD_S, eventually, gkfs_ctl, gkfs_daemon_argv, preload_library
from gkfs import settings

READY_LINE = "Startup successful. Daemon is ready."


def start_daemon(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        proc = subprocess.Popen(gkfs_daemon_argv() + argv, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    return proc


def stop_daemon(proc: subprocess.Popen) -> None:
    proc.terminate()
    assert proc.wait(timeout=HANG_GUARD_S) == 0


def test_a_gekkofs_job_scripts_daemon_line(tmp_path):
    hosts = tmp_path / "gkfs_hosts.txt"
    root, mnt = tmp_path / "root", tmp_path / "mnt"
    mnt.mkdir()
    daemon_log = tmp_path / "gkfs_daemon.log"
    env = dict(os.environ, GKFS_DAEMON_LOG_PATH=str(daemon_log), GKFS_DAEMON_LOG_LEVEL="5")
    env.pop("GKFS_LOG", None)
    env.pop("GKFS_LOG_OUTPUT", None)
    out = tmp_path / "stderr"
    proc = start_daemon(["-r", str(root), "-m", str(mnt), "-H", str(hosts), "-l", "127.0.0.1",
                         "-P", "ofi+sockets", "-s", "node7", "-d", "rocksdb"], env, out)
    try:
        assert eventually(lambda: READY_LINE in out.read_text()), out.read_text()
        text = out.read_text()
        assert "note: -P ofi+sockets is a Mercury transport of GekkoFS; gkfs uses UCX: " \
               "ucx+tcp" in text
        assert f"rootdir {root}/node7" in text
        host, uri, *_ = hosts.read_text().split()
        assert uri.startswith("ucx+tcp://127.0.0.1:")
        # GekkoFS's run script marks the end of the instance; a client still finds it.
        with open(hosts, "a") as f:
            f.write("#FS_INSTANCE_END\n")
        env_client = dict(os.environ, LD_PRELOAD=preload_library(),
                          LIBGKFS_HOSTS_FILE=str(hosts))
        run = subprocess.run(["sh", "-c", f"echo gekko > {mnt}/f && cat {mnt}/f"],
                             env=env_client, capture_output=True, text=True,
                             timeout=HANG_GUARD_S)
        assert run.returncode == 0 and run.stdout == "gekko\n", run.stderr
        assert (root / "node7" / "chunks").is_dir()
        # Level 5 is GekkoFS's debug (info lines included), into GKFS_DAEMON_LOG_PATH.
        assert f"[info] ready: {uri}, rootdir {root}/node7" in daemon_log.read_text()
    finally:
        stop_daemon(proc)


def test_hosts_file_extra_fields_and_instance_end(tmp_path, make_fs):
    fs = make_fs(2)
    lines = Path(fs.hosts_file).read_text().splitlines()
    # GekkoFS-style lines: no identity, one extra field; a second instance after the marker.
    gekko = tmp_path / "hosts_gekko.txt"
    gekko.write_text("".join(f"{line.split()[0]} {line.split()[1]} extra-field\n"
                             for line in lines)
                     + "#FS_INSTANCE_END\nghost ucx+tcp://127.0.0.1:1\n")
    secret = fs.hosts_file + ".secret"
    Path(str(gekko) + ".secret").write_text(Path(secret).read_text())
    os.chmod(str(gekko) + ".secret", 0o600)
    env = dict(fs.env, LIBGKFS_HOSTS_FILE=str(gekko), LIBGKFS_SECRET_FILE=secret)
    run = fs.run(f"echo x > {fs.mountdir}/g && cat {fs.mountdir}/g", env=env)
    assert run.returncode == 0 and run.stdout == "x\n", run.stderr
    status = gkfs_ctl("status", "-H", str(gekko))
    assert "2 of 2 daemons up" in status.stdout, status.stdout + status.stderr


def test_dbbackend_other_than_rocksdb_is_refused(tmp_path):
    result = subprocess.run(gkfs_daemon_argv() + ["-r", str(tmp_path), "-d", "parallaxdb"],
                            capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert result.returncode == 2
    assert "--dbbackend" in result.stderr and "'rocksdb'" in result.stderr
    result = subprocess.run(gkfs_daemon_argv() + ["-r", str(tmp_path), "-s", "a/b"],
                            capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert result.returncode == 2 and "must be one directory name" in result.stderr


@pytest.mark.parametrize("text,level", [
    ("none", "none"), ("0", "none"), ("off", "none"),
    ("errors", "errors"), ("1", "errors"), ("3", "errors"), ("warn", "errors"),
    ("4", "info"), ("info", "info"),
    ("5", "debug"), ("6", "debug"), ("debug", "debug"), ("all", "debug"),
    ("syscalls,errors", "debug"), ("errors,info", "info"),
])
def test_one_log_level_grammar(text, level):
    assert settings.parse_log_level(text) == level


def test_log_levels_mean_the_same_for_daemon_and_client(tmp_path, make_fs):
    """LIBGKFS_LOG=3 and GKFS_LOG=3 are both GekkoFS's 'warning': errors only, nothing at
    info; LIBGKFS_LOG=4 shows the preload's info lines."""
    with pytest.raises(settings.SettingsError, match="LIBGKFS_LOG='loud'"):
        settings.load(settings.ClientEnvironment, environ={"LIBGKFS_LOG": "loud"})
    assert settings.load(settings.DaemonSettings, environ={"GKFS_LOG": "3"}).log_level == \
        settings.load(settings.ClientEnvironment, environ={"LIBGKFS_LOG": "3"}).log_level == \
        "errors"
    fs = make_fs(1)
    outputs = {}
    for value in ("3", "4"):
        log = tmp_path / f"client{value}.log"
        env = dict(fs.env, LIBGKFS_LOG=value, LIBGKFS_LOG_OUTPUT=str(log))
        assert fs.run(["ls", fs.mountdir], env=env).returncode == 0
        outputs[value] = log.read_text() if log.exists() else ""
    assert "connected to 1 daemons" not in outputs["3"]
    assert "connected to 1 daemons" in outputs["4"], outputs
