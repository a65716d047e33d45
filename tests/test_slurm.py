"""The srun launcher against a real Slurm (tests/slurm.py starts slurmctld, slurmd and
munged of our own): inside ``salloc``, ``gkfs-ctl start --launcher srun``, an application
job step on the file system beside the daemons' step, checksums, status, and stop as if from
another node of the allocation (through Slurm, not srun's PID)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from conftest import HANG_GUARD_S, entry_point, eventually, unavailable

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

    expected = {f"./{p.relative_to(source)}": hashlib.sha256(p.read_bytes()).hexdigest()
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
    FUSE mount; a plain shell (no preload) writes, cat reads, the preload sees the same file;
    stop unmounts before it ends the daemons' step."""
    if not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None:
        unavailable("needs /dev/fuse and fusermount3 (apt: fuse3)")
    base = Path(local_slurm.dir) / "fuse"
    hosts, mnt = base / "hosts.txt", base / "mnt"
    ctl = shlex.join(entry_point("gkfs-ctl", "gkfs.cli"))
    common = f"--hosts-file {hosts}"
    script = f"""
set -eu
{ctl} start --launcher srun --fuse {common} --rootdir {base}/root --mountdir {mnt}
echo "mounts: $(grep -c ' {mnt} .*fuse.gkfs' /proc/self/mountinfo)"
env -u LD_PRELOAD sh -c 'echo through-the-kernel > {mnt}/note'
echo "plain: $(env -u LD_PRELOAD cat {mnt}/note)"
echo "srun step: $(srun --nodes=1 --ntasks=1 cat {mnt}/note)"
echo "preload: $({ctl} run {common} -- cat {mnt}/note)"
{ctl} stop {common}
echo "after stop: $(grep -c ' {mnt} ' /proc/self/mountinfo || true)"
"""
    result = local_slurm.run(["salloc", "--nodes=1", "--time=10", "--job-name=gkfs-fuse-test",
                              "bash", "-c", script], timeout=HANG_GUARD_S)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in ("mounts: 1", "plain: through-the-kernel", "srun step: through-the-kernel",
                 "preload: through-the-kernel", "after stop: 0"):
        assert line in result.stdout.splitlines(), result.stdout + result.stderr
    assert re.search(rf"{re.escape(str(mnt))}: unmounted", result.stdout), result.stdout
    assert eventually(lambda: local_slurm.jobs() == []), local_slurm.jobs()
