"""The settings model: one source for flags, environment variables, daemon options, docs."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from gkfs import settings
from gkfs.settings import ClientEnvironment, ClusterSettings, DaemonSettings, SettingsError

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def daemon_parser() -> argparse.ArgumentParser:
    from gkfs.daemon import build_parser

    return build_parser()


def test_configuration_doc_is_in_sync():
    assert settings.main(["--check", str(DOC)]) == 0, \
        "run: python -m gkfs.settings --write docs/configuration.md"


@pytest.mark.parametrize("cls", [DaemonSettings, ClusterSettings, ClientEnvironment])
def test_every_setting_is_documented_and_named(cls):
    prefix = "LIBGKFS_" if cls is ClientEnvironment else "GKFS_"
    for field, spec in settings.specs(cls):
        assert spec.help.strip(), field.name
        assert spec.env and spec.env.startswith(prefix), field.name
        if cls is not ClientEnvironment:
            assert spec.flags[-1] == "--" + field.name.replace("_", "-"), field.name
            assert spec.env == "GKFS_" + field.name.upper() or field.name.startswith("log_")


def test_flags_and_variables_are_unique():
    flags = [f for cls in (DaemonSettings, ClusterSettings)
             for _, spec in settings.specs(cls) for f in spec.flags]
    names = [spec.env for cls in (DaemonSettings, ClusterSettings, ClientEnvironment)
             for _, spec in settings.specs(cls)]
    assert len(flags) == len(set(flags))
    assert len(names) == len(set(names))


@pytest.mark.parametrize("argv,field,value", [
    (["-m", "/mnt/x"], "mountdir", "/mnt/x"),
    (["-r", "/r"], "rootdir", "/r"),
    (["-i", "/meta"], "metadir", "/meta"),
    (["-l", "ib0"], "listen", "ib0"),
    (["-H", "/h.txt"], "hosts_file", "/h.txt"),
    (["-P", "ucx+rc"], "rpc_protocol", "ucx+rc"),
    (["--auto-sm"], "auto_sm", True),
    ([], "auto_sm", True),
    (["--no-auto-sm"], "auto_sm", False),
    (["--clean-rootdir"], "clean_rootdir", True),
    (["-c"], "clean_rootdir_finish", True),
    (["--chunk-size", "64K"], "chunk_size", 65536),
    (["--port", "4433"], "port", 4433),
    (["--memory-backend"], "memory_backend", True),
])
def test_gekkofs_daemon_flags(argv, field, value):
    args = daemon_parser().parse_args(argv)
    assert getattr(settings.load(DaemonSettings, args, environ={}), field) == value


def test_precedence_default_environment_flag():
    env = {"GKFS_CHUNK_SIZE": "1M", "GKFS_PORT": "5000"}
    args = daemon_parser().parse_args(["--port", "6000"])
    loaded = settings.load(DaemonSettings, args, environ=env)
    assert (loaded.chunk_size, loaded.port, loaded.listen) == (1 << 20, 6000, "127.0.0.1")


def test_paths_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loaded = settings.load(DaemonSettings, environ={})
    assert loaded.hosts_file == str(tmp_path / "gkfs_hosts.txt")


@pytest.mark.parametrize("size", [4096, 8192, 512 * 1024, 1 << 30])
def test_chunk_size_accepts_powers_of_two(size):
    assert settings.load(DaemonSettings, environ={}, chunk_size=size).chunk_size == size


@pytest.mark.parametrize("size", [0, 1, 2048, 4095, 5000, 3 << 20])
def test_chunk_size_rejects_others_naming_flag_and_variable(size):
    with pytest.raises(SettingsError) as info:
        settings.load(DaemonSettings, environ={}, chunk_size=size)
    assert "--chunk-size (GKFS_CHUNK_SIZE)" in str(info.value)
    assert "power of two" in str(info.value)


@pytest.mark.parametrize("text,value", [("4096", 4096), ("512K", 512 << 10), ("512KiB", 512 << 10),
                                        ("1m", 1 << 20), ("2G", 2 << 30)])
def test_parse_size(text, value):
    assert settings.parse_size(text) == value


def test_bad_environment_value_names_the_variable():
    with pytest.raises(SettingsError, match="GKFS_PORT"):
        settings.load(DaemonSettings, environ={"GKFS_PORT": "eighty"})
    with pytest.raises(SettingsError, match="GKFS_CLEAN_ROOTDIR"):
        settings.load(DaemonSettings, environ={"GKFS_CLEAN_ROOTDIR": "maybe"})


@pytest.mark.parametrize("override,message", [
    ({"port": 70000}, "--port"), ({"rpc_protocol": "tcp"}, "--rpc-protocol"),
    ({"mountdir": ""}, "--mountdir"), ({"sync_mode": "fast"}, "--sync-mode"),
])
def test_validation_names_the_flag(override, message):
    with pytest.raises(SettingsError, match=message):
        settings.load(DaemonSettings, environ={}, **override)


def test_rootdir_that_is_a_file_is_rejected(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(SettingsError, match="--rootdir .* not a directory"):
        settings.load(DaemonSettings, environ={}, rootdir=str(tmp_path / "f"))


def test_cluster_settings_nest_daemon_settings():
    loaded = settings.load(ClusterSettings, environ={"GKFS_DAEMONS": "4",
                                                     "GKFS_CHUNK_SIZE": "8K"})
    assert loaded.daemons == 4 and loaded.daemon.chunk_size == 8192
    with pytest.raises(SettingsError, match="--daemons"):
        settings.load(ClusterSettings, environ={"GKFS_DAEMONS": "0"})


def test_daemon_argv_round_trips():
    original = settings.load(DaemonSettings, environ={}, chunk_size=8192, port=1234,
                             clean_rootdir_finish=True, rpc_protocol="ucx+shm",
                             metadir="/meta", sync_mode="none")
    args = daemon_parser().parse_args(settings.to_daemon_argv(original))
    # The environment must not matter: the argv carries every setting.
    hostile = {spec.env: "junk" for _, spec in settings.specs(DaemonSettings)}
    hostile.update(GKFS_CHUNK_SIZE="4096", GKFS_PORT="1", GKFS_CLEAN_ROOTDIR="0",
                   GKFS_LOG="debug", GKFS_LOG_OUTPUT="/tmp/elsewhere",
                   GKFS_AUTO_SM="0", GKFS_MEMORY_BACKEND="0", GKFS_CLEAN_ROOTDIR_FINISH="1",
                   GKFS_RPC_PROTOCOL="ucx+tcp", GKFS_ROOTDIR="/tmp/x", GKFS_METADIR="",
                   GKFS_ENABLE_FORWARDING="0", GKFS_IO_THREADS="7", GKFS_METRICS_PORT="9",
                   GKFS_ENABLE_PROMETHEUS="0", GKFS_PROMETHEUS_GATEWAY="h:1",
                   GKFS_PROMETHEUS_PUSH_INTERVAL="9", GKFS_DBBACKEND="rocksdb",
                   GKFS_ROOTDIR_SUFFIX="", GKFS_SESSION_LEASE="9", GKFS_PFS_DIRECT_IO="0")
    assert settings.load(DaemonSettings, args, environ=hostile) == original


def test_core_options_carry_every_field():
    _core = pytest.importorskip("gkfs._core")
    loaded = settings.load(DaemonSettings, environ={}, chunk_size=8192, port=99,
                           clean_rootdir=True, memory_backend=True, metadir="/m")
    options = settings.to_core_options(loaded)
    core_fields = {name for name in dir(_core.DaemonOptions()) if not name.startswith("_")}
    renamed = {"rpc_protocol": "protocol", "memory_backend": "use_memory_backend",
               "sched_config": "scheduler",  # forwarding mode builds it from the file
               "prometheus_push_interval": "push_interval_s", "session_lease": "session_lease_s"}
    # The daemon process's environment; --enable-prometheus folds into prometheus_gateway.
    # GekkoFS's -s joins rootdir (empty here); -d has one value.
    not_options = {"log_level", "log_output", "enable_prometheus", "rootdir_suffix",
                   "dbbackend"}
    mapped = {renamed.get(f.name, f.name) for f in dataclasses.fields(DaemonSettings)
              if f.name not in not_options}
    assert core_fields == mapped
    for f in dataclasses.fields(DaemonSettings):
        if f.name not in not_options and f.name != "sched_config":
            assert getattr(options, renamed.get(f.name, f.name)) == getattr(loaded, f.name)
    assert options.scheduler is None  # only an I/O node (--enable-forwarding) has one
