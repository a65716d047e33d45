"""The srun launcher against a real Slurm (tests/slurm.py starts slurmctld, slurmd and
munged of our own): inside ``salloc``, ``gkfs-ctl start --launcher srun``, an application
job step on the file system beside the daemons' step, checksums, status, and stop as if from
another node of the allocation (through Slurm, not srun's PID); stage-in and stage-out with
``--launcher srun``; docs/operations.md's job script submitted with ``sbatch``."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from conftest import (HANG_GUARD_S, entry_point, eventually, file_sha256, require_fuse,
                      tree_digest)

from gkfs.launchers.base import proc_start_time

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parent.parent


def test_srun_launcher_inside_an_allocation(local_slurm, tmp_path):
    source = tmp_path / "src"
    shutil.copytree(REPO / "core" / "common", source)  # a snapshot of a source tree
    base = Path(local_slurm.dir) / "fs"
    hosts, mnt, out = base / "hosts.txt", base / "mnt", tmp_path / "out"
    out.mkdir()
    ctl = shlex.join(entry_point("gkfs-ctl", "gkfs.cli"))
    common = f"--hosts-file {hosts}"
    # gkfs-ctl stop as if from another node of the allocation: it cannot see srun's PID and
    # must go through Slurm (squeue, scancel).
    move_job_elsewhere = shlex.join([
        sys.executable, "-c", "import json, sys; p = sys.argv[1]; s = json.load(open(p)); "
        "s['job']['host'] = 'another-node'; json.dump(s, open(p, 'w'))"])
    script = f"""
set -eu
{ctl} start --launcher srun {common} --rootdir {base}/root --mountdir {mnt} --chunk-size 64K
cp {hosts}.pids.json {out}/state.json
{ctl} status {common}
echo "== application step"
srun --nodes=1 --ntasks=1 {ctl} run {common} -- cp -r {source} {mnt}/src
{ctl} run {common} -- sh -c 'cd {mnt}/src && find . -type f | LC_ALL=C sort | xargs sha256sum' \
    > {out}/sums
squeue -h -s -j "$SLURM_JOB_ID" -o '%i %j' > {out}/steps
{move_job_elsewhere} {hosts}.pids.json
{ctl} stop {common}
"""
    result = local_slurm.run(["salloc", "--nodes=1", "--time=10", "--job-name=gkfs-test",
                              "bash", "-c", script], timeout=HANG_GUARD_S)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr

    state = json.loads((out / "state.json").read_text())
    assert state["launcher"] == "srun" and state["launcher_state"]["nodes"] == [local_slurm.node]
    assert re.fullmatch(r"\d+\.\d+", state["job"]["step"])
    assert "1 of 1 daemons up" in result.stdout
    assert "gkfs-daemons" in (out / "steps").read_text()  # the daemons' job step

    expected = {f"./{p.relative_to(source)}": file_sha256(p)
                for p in source.rglob("*") if p.is_file()}
    actual = {line.split()[1]: line.split()[0]
              for line in (out / "sums").read_text().splitlines()}
    assert actual == expected

    assert re.search(r"srun pid \d+ on another-node, job step \d+\.\d+ \(1 daemon\): "
                     r"stopped \(SIGTERM\)", result.stdout)
    assert proc_start_time(state["daemons"][0]["pid"]) is None
    assert not hosts.exists() and not Path(f"{hosts}.secret").exists()
    # slurmctld ends the allocation shortly after salloc returns: wait for it (bounded).
    assert eventually(lambda: local_slurm.jobs() == []), local_slurm.jobs()


@pytest.mark.fuse
def test_srun_start_fuse_mounts_and_stop_unmounts(local_slurm):
    """gkfs-ctl start --launcher srun --fuse: the mount directory of the allocation's node is a
    FUSE mount served by a job step of its own (gkfs-fuse, recorded in the state file; a
    short srun step would take its gkfs-fuse with it); a plain shell (no preload) writes, cat
    reads, the preload sees the same file; status reports the mount and its step; stop
    unmounts through Slurm, which ends the mount step, before it ends the daemons' step."""
    require_fuse()
    base = Path(local_slurm.dir) / "fuse"
    hosts, mnt = base / "hosts.txt", base / "mnt"
    ctl = shlex.join(entry_point("gkfs-ctl", "gkfs.cli"))
    common = f"--hosts-file {hosts}"
    fuse_step = shlex.join([sys.executable, "-c", "import json, sys; "
                            "print(json.load(open(sys.argv[1]))['fuse_job']['step'])"])
    script = f"""
set -eu
{ctl} start --launcher srun --fuse {common} --rootdir {base}/root --mountdir {mnt}
echo "mounts: $(grep -c ' {mnt} .*fuse.gkfs' /proc/self/mountinfo)"
step=$({fuse_step} {hosts}.pids.json)
echo "mount step: $(squeue -h -s -j "$SLURM_JOB_ID" -o '%i %j' | grep -c "^$step gkfs-fuse$")"
echo "scontrol: $(scontrol show step "$step" | grep -o 'Name=gkfs-fuse')"
echo "in the step: $(scontrol listpids "$step" | awk 'NR > 1 {{print $1}}' \
    | xargs -I{{}} cat /proc/{{}}/comm 2>/dev/null | grep -c '^gkfs-fuse$' || true)"
env -u LD_PRELOAD sh -c 'echo through-the-kernel > {mnt}/note'
echo "plain: $(env -u LD_PRELOAD cat {mnt}/note)"
echo "srun step: $(srun --nodes=1 --ntasks=1 cat {mnt}/note)"
echo "preload: $({ctl} run {common} -- cat {mnt}/note)"
fuse_line="^fuse .* {mnt} mounted (checked through srun, served by .*job step $step)$"
echo "status: $({ctl} status {common} | grep -c "$fuse_line")"
{ctl} stop {common}
echo "after stop: $(grep -c ' {mnt} ' /proc/self/mountinfo || true)"
for i in $(seq 100); do  # squeue may list a step for a moment after its srun exits
    squeue -h -s -j "$SLURM_JOB_ID" -o '%j' | grep -q '^gkfs-fuse$' || break; sleep 0.1
done
echo "mount steps after stop: $(squeue -h -s -j "$SLURM_JOB_ID" -o '%j' | grep -c '^gkfs-fuse$' || true)"
"""
    result = local_slurm.run(["salloc", "--nodes=1", "--time=10", "--job-name=gkfs-fuse-test",
                              "bash", "-c", script], timeout=HANG_GUARD_S)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in ("mounts: 1", "mount step: 1", "scontrol: Name=gkfs-fuse", "in the step: 1",
                 "plain: through-the-kernel", "srun step: through-the-kernel",
                 "preload: through-the-kernel", "status: 1", "after stop: 0",
                 "mount steps after stop: 0"):
        assert line in result.stdout.splitlines(), result.stdout + result.stderr
    assert re.search(rf"{re.escape(str(mnt))}: unmounted", result.stdout), result.stdout
    assert eventually(lambda: local_slurm.jobs() == []), local_slurm.jobs()


@pytest.mark.fuse
def test_srun_start_fuse_failed_mount_names_the_node_and_leaves_nothing(local_slurm):
    """A mount that fails in the srun mount step (something else is mounted at the mount
    directory) ends the step; start --fuse names the node and the cause, stops the daemons, and no step stays."""
    require_fuse()
    base = Path(local_slurm.dir) / "badfuse"
    base.mkdir()
    hosts, mnt = base / "hosts.txt", base / "mnt"
    mnt.mkdir()
    ctl = shlex.join(entry_point("gkfs-ctl", "gkfs.cli"))
    script = f"""
set -u
mount -t tmpfs gkfs-test-busy {mnt}
{ctl} start --launcher srun --fuse --hosts-file {hosts} --rootdir {base}/root --mountdir {mnt}
echo "start: $?"
umount {mnt}
echo "steps left: $(squeue -h -s -j "$SLURM_JOB_ID" -o '%j' | grep -c '^gkfs' || true)"
echo "state left: $(ls {hosts}.pids.json 2>/dev/null | wc -l)"
"""
    result = local_slurm.run(["salloc", "--nodes=1", "--time=10", "--job-name=gkfs-fuse-bad",
                              "bash", "-c", script], timeout=HANG_GUARD_S)
    print(result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    for line in ("start: 1", "steps left: 0", "state left: 0"):
        assert line in lines, result.stdout + result.stderr
    assert re.search(rf"error: .*mount job .*exited.*\n.*{local_slurm.node}: .*{re.escape(str(mnt))}",
                     result.stderr), result.stderr


def test_stage_in_and_out_through_srun(local_slurm, tmp_path):
    """gkfs-ctl stage-in/stage-out --launcher srun inside the allocation: tasks of a job step
    on the file system's hosts share the files (a hard link stays one), a re-run copies
    nothing."""
    source = tmp_path / "src"
    shutil.copytree(REPO / "core" / "common", source)
    (source / "link").symlink_to("placement.h")
    os.link(source / "placement.h", source / "placement-hard-link.h")
    base = Path(local_slurm.dir) / "fs"
    hosts, mnt, out = base / "hosts.txt", base / "mnt", tmp_path / "out"
    out.mkdir()
    ctl = shlex.join(entry_point("gkfs-ctl", "gkfs.cli"))
    common = f"--hosts-file {hosts}"
    srun = "--launcher srun --tasks-per-host 2"
    script = f"""
set -eu
{ctl} start --launcher srun {common} --rootdir {base}/root --mountdir {mnt} --chunk-size 64K
trap '{ctl} stop {common}' EXIT
{ctl} stage-in {common} {srun} {source} /in > {out}/in.1
{ctl} stage-in {common} {srun} {source} {mnt}/in > {out}/in.2
{ctl} stage-out {common} {srun} --verify /in/src {out}/results > {out}/out.1
{ctl} stage-out {common} {srun} /in/src {out}/results > {out}/out.2
"""
    result = local_slurm.run(["salloc", "--nodes=1", "--time=10", "--job-name=gkfs-stage-test",
                              "bash", "-c", script], timeout=HANG_GUARD_S)
    logs = {name: (out / name).read_text() if (out / name).exists() else ""
            for name in ("in.1", "in.2", "out.1", "out.2")}
    assert result.returncode == 0, result.stdout + result.stderr + str(logs)
    files = len([p for p in source.rglob("*") if p.is_file() or p.is_symlink()])
    # The first runs copy every file but the second name of the hard link, which is linked.
    for name, copied in (("in.1", files - 1), ("in.2", 0), ("out.1", files - 1), ("out.2", 0)):
        assert "2 tasks on 1 hosts (srun)" in logs[name], logs[name]
        match = re.search(r"(\d+) files, (\d+) copied .*, (\d+) already identical",
                          logs[name].splitlines()[-1])
        assert match and (int(match[1]), int(match[2])) == (files, copied), logs[name]
    assert "1 linked" in logs["in.1"] and "1 linked" in logs["out.1"]
    assert f"{files - 2} verified by SHA-256" in logs["out.1"]  # not the two links
    assert tree_digest(out / "results" / "src") == tree_digest(source)
    staged = out / "results" / "src"
    assert (staged / "placement.h").stat().st_ino == \
        (staged / "placement-hard-link.h").stat().st_ino
    assert eventually(lambda: local_slurm.jobs() == []), local_slurm.jobs()


JOB_SCRIPT_HEADING = "A Slurm job that stages in, runs and stages out"
#: What the documented job script names that this machine has otherwise: each must occur.
JOB_SCRIPT_SITE = {"#SBATCH -N 16": "#SBATCH -N 1", "srun -N 16 -n 512": "srun -N 1 -n 2",
                   "-l ib0": "-l lo", "/local/gkfs": "{tmp}/local/gkfs",
                   "/lustre/": "{tmp}/lustre/"}
#: The application of the script: each task writes the checksums of the input it reads.
APP = """#!/bin/sh
set -e
mkdir -p "$2"
cd "$1/input" && find . -type f | LC_ALL=C sort | xargs sha256sum > "$2/sums.$SLURM_PROCID"
"""


def documented_job_script() -> str:
    text = (REPO / "docs" / "operations.md").read_text()
    after = text[text.index(JOB_SCRIPT_HEADING):]
    return after[after.index("```sh\n") + 6:after.index("\n```", after.index("```sh\n"))] + "\n"


def test_the_documented_job_script_runs(local_slurm, tmp_path):
    """docs/operations.md's job script (stage in, run, stage out), submitted with sbatch as
    written but for the site's names (nodes, interface, PFS and local paths)."""
    script = documented_job_script()
    for site, here in JOB_SCRIPT_SITE.items():
        assert site in script, f"the job script no longer has {site!r}"
        script = script.replace(site, here.format(tmp=tmp_path))
    (tmp_path / "job.sh").write_text(script)
    app = tmp_path / "my_mpi_app"
    app.write_text(APP)
    app.chmod(0o755)
    user = "gkfs-test"
    source = tmp_path / "lustre" / user / "input"
    shutil.copytree(REPO / "core" / "rpc", source)
    env = local_slurm.env({"HOME": str(tmp_path / "home"), "USER": user,
                           "PATH": f"{Path(sys.executable).parent}:{local_slurm.env()['PATH']}"})
    result = local_slurm.run(["sbatch", "--wait", "--exclusive", "-o", "job.out",
                              "-D", str(tmp_path), str(tmp_path / "job.sh")],
                             env=env, timeout=HANG_GUARD_S)
    log = (tmp_path / "job.out").read_text() if (tmp_path / "job.out").exists() else ""
    assert result.returncode == 0, result.stdout + result.stderr + log
    job = re.search(r"Submitted batch job (\d+)", result.stdout)[1]
    out = tmp_path / "lustre" / user / "results" / job / "out"
    expected = "".join(f"{file_sha256(p)}  ./{p.relative_to(source)}\n"
                       for p in sorted(source.rglob("*"), key=lambda p: str(p.relative_to(source)))
                       if p.is_file())
    assert sorted(os.listdir(out)) == ["sums.0", "sums.1"], log
    assert (out / "sums.0").read_text() == (out / "sums.1").read_text() == expected
    assert "stage-out:" in log and "verified by SHA-256" in log, log
    assert "stopped" in log, log  # the trap stopped the file system
    assert eventually(lambda: local_slurm.jobs() == []), local_slurm.jobs()
