"""What the preload library costs a process: libgkfs_intercept.so loads no UCX and no shared
libstdc++; the client library (libgkfs_client.so, with UCX) is loaded on the first access
under the mount directory, with UCX's memory events off unless the program uses UCX itself.
Timings are measured (core/preload/README.md), never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from test_preload import d, py  # noqa: F401  (d is a fixture)

# Python under the preload: the libraries mapped into it (names without ".so..."), and UCM's
# enable_events flag (the second int of ucm_global_config_t) once libucm is loaded.
PROBE = """
    import ctypes, json, os, sys
    def libraries():
        with open("/proc/self/maps") as f:
            return sorted({os.path.basename(line.split()[-1]).split(".so")[0] for line in f
                           if ".so" in line.split()[-1]})
    def memory_events():
        try:
            ucm = ctypes.CDLL("libucm.so.0", mode=os.RTLD_NOLOAD)
        except OSError:
            return None
        opts = ctypes.c_int.in_dll(ucm, "ucm_global_opts")  # log_level, enable_events, ...
        return (ctypes.c_int * 2).from_address(ctypes.addressof(opts))[1]
    out = {"before": libraries()}
    if sys.argv[2] == "app-ucx":
        ctypes.CDLL("libucp.so.0")  # the application's own UCX, loaded first
    if sys.argv[1] != "-":
        os.listdir(sys.argv[1])
    out["after"] = libraries()
    out["events"] = memory_events()
    print(json.dumps(out))
"""


def test_untouched_process_loads_no_client(fs, tmp_path):
    got = py(fs, PROBE, "-", "plain")
    assert "libgkfs_intercept" in got["after"]
    for lib in ("libgkfs_client", "libucp", "libucs", "libstdc++"):
        assert lib not in got["after"], got["after"]
    assert got["events"] is None


def test_untouched_process_keeps_no_descriptor(fs, tmp_path):
    """The instance secret is read at start-up (a program may give up root before its first
    gkfs call) into memory: the program finds only its own descriptors."""
    fds = {}
    for name, env in (("without", {k: v for k, v in fs.env.items() if k != "LD_PRELOAD"}),
                      ("with", fs.env)):
        result = fs.run(["ls", "-l", "/proc/self/fd/"], env=env)
        assert result.returncode == 0, result.stderr
        fds[name] = sorted(line.split()[-3] for line in result.stdout.splitlines()[1:])
    assert fds["with"] == fds["without"]


def test_first_access_loads_the_client_with_memory_events_off(fs, d):
    got = py(fs, PROBE, d, "plain")
    assert "libgkfs_client" not in got["before"]
    assert {"libgkfs_client", "libucp"} <= set(got["after"])
    assert got["events"] == 0


def run_probe(fs, *args, **env):
    """PROBE's result (its last line) and all it printed."""
    result = fs.run([sys.executable, "-c", textwrap.dedent(PROBE), *args],
                    env=dict(fs.env, **env))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1]), result.stdout


def test_memory_events_stay_on_for_a_program_using_ucx(fs, d):
    assert run_probe(fs, d, "app-ucx")[0]["events"] == 1
    assert run_probe(fs, d, "plain", UCX_MEM_EVENTS="yes")[0]["events"] == 1  # the user's


def test_client_adds_nothing_to_the_output_of_a_program_using_ucx(fs, d):
    got, stdout = run_probe(fs, d, "app-ucx")
    assert stdout == json.dumps(got) + "\n"


def test_client_adds_nothing_to_the_output_of_a_program(fs, d):
    got, stdout = run_probe(fs, d, "plain")
    assert stdout == json.dumps(got) + "\n"


def test_shared_libraries_link_no_ucx_into_the_intercept_library(fs):
    library = fs.env["LD_PRELOAD"]
    needed = subprocess.run(["ldd", library], capture_output=True, text=True, check=True).stdout
    assert "libuc" not in needed and "libstdc++" not in needed, needed
    client = os.path.join(os.path.dirname(library), "libgkfs_client.so")
    assert os.path.exists(client)
