"""gkfs across real network stacks: daemons on 4 hosts (network namespaces with their own
sshd, started by ``gkfs-ctl start --launcher ssh``), applications on client hosts.

Run as root (CI does); without root the module is skipped. ``pytest -s`` shows the
workload transcript.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from conftest import (entry_point, eventually, file_sha256, require_fuse, start_net_fs,
                      stop_net_fs, unavailable)

pytestmark = pytest.mark.multihost

REPO = Path(__file__).resolve().parent.parent
SOURCE_TREE = REPO / "core"


def tree_checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): file_sha256(p)
            for p in sorted(root.rglob("*")) if p.is_file()}


# Prints {relative path: sha256} of every file below sys.argv[1] in gkfs, read with
# gkfs.Client (no preload library): a second client path checks what the first wrote.
CLIENT_CHECKSUMS = r"""
import hashlib, json, sys, gkfs

def files(fs, top):
    for entry in fs.scandir(top):
        path = entry.path
        if entry.is_dir():
            yield from files(fs, path)
        else:
            yield path

with gkfs.Client(sys.argv[2]) as fs:
    sums = {path[len(sys.argv[1]) + 1:]: hashlib.sha256(fs.read_bytes(path)).hexdigest()
            for path in files(fs, sys.argv[1])}
print(json.dumps(sums))
"""


@pytest.fixture(scope="module")
def fs4(vcluster):
    """4 daemons on 4 hosts with 64 KiB chunks, shared by this module's workload tests."""
    fs = start_net_fs(vcluster, args=["--chunk-size", "64K"])
    yield fs
    stop_net_fs(fs)


def step(title: str, result) -> str:
    """Prints one step of the transcript; fails the test on a non-zero status."""
    print(f"\n== {title}\n{result.stdout.rstrip()}")
    assert result.returncode == 0, f"{title}: status {result.returncode}\n{result.stderr}"
    return result.stdout


def test_foundation_workloads_on_four_hosts(fs4, vcluster, tmp_path):
    mnt = fs4.mountdir
    source = tmp_path / "core"  # a snapshot: others may edit the repository meanwhile
    shutil.copytree(SOURCE_TREE, source)
    expected = tree_checksums(source)
    step("gkfs-ctl status", fs4.ctl("status"))

    step(f"cp -r core/ -> gkfs ({len(expected)} files)",
         fs4.run(["cp", "-r", str(source), f"{mnt}/core"]))
    out = step("sha256sum of every file in gkfs",
               fs4.run(["sh", "-c", f"cd {mnt}/core && find . -type f | LC_ALL=C sort | "
                        f"xargs -d '\\n' sha256sum | tail -n 3; "
                        f"find . -type f | LC_ALL=C sort | xargs -d '\\n' sha256sum "
                        f"> {tmp_path}/sums"]))
    assert out
    actual = {line.split(None, 1)[1].strip()[2:]: line.split()[0]
              for line in (tmp_path / "sums").read_text().splitlines()}
    assert actual == expected

    step("cp -r gkfs -> local disk, diff -r against the original",
         fs4.run(["cp", "-r", f"{mnt}/core", str(tmp_path / "copied-out")]))
    assert tree_checksums(tmp_path / "copied-out") == expected

    blob = tmp_path / "random.bin"
    blob.write_bytes(os.urandom(24 * 1024 * 1024 + 12345))
    step("dd 24 MiB in (bs=1M)", fs4.run(["dd", f"if={blob}", f"of={mnt}/random.bin",
                                          "bs=1M", "status=none"]))
    step("dd out again (bs=100000, across chunk boundaries)",
         fs4.run(["dd", f"if={mnt}/random.bin", f"of={tmp_path}/random.back", "bs=100000",
                  "status=none"]))
    assert file_sha256(tmp_path / "random.back") == file_sha256(blob)
    sums = step("sha256sum random.bin (in gkfs, and the original)",
                fs4.run(["sha256sum", f"{mnt}/random.bin", str(blob)]))
    assert len({line.split()[0] for line in sums.splitlines()}) == 1

    step("python shutil.copytree core/ -> gkfs",
         fs4.run([sys.executable, "-c", "import shutil, sys; shutil.copytree(*sys.argv[1:])",
                  str(source), f"{mnt}/pycopy"]))
    read_back = fs4.python(CLIENT_CHECKSUMS, "/pycopy", fs4.hosts_file,
                           host=vcluster.clients[1])
    assert read_back.returncode == 0, read_back.stderr
    assert json.loads(read_back.stdout) == expected
    print(f"\n== gkfs.Client on the second client host: {len(expected)} checksums match")

    step("ls -l (the top of the file system)", fs4.run(["ls", "-l", mnt]))
    step("gkfs-ctl status", fs4.ctl("status"))


WRITE_SPREAD = r"""
import sys, gkfs
with gkfs.Client(sys.argv[1]) as fs:
    fs.makedirs("/spread", exist_ok=True)
    for i in range(64):
        fs.write_bytes(f"/spread/f{i:03d}", bytes([i]) * (200 * 1024))
"""


def test_metadata_and_chunks_spread_over_all_hosts(fs4, vcluster):
    result = fs4.python(WRITE_SPREAD, fs4.hosts_file)
    assert result.returncode == 0, result.stderr

    # Daemons count their chunk bytes in the background (at most ~2 s old): ask until no
    # daemon says "used=0B" (or the wait ends, and the asserts below show the last answer).
    def status_with_chunks():
        result = fs4.ctl("status")
        return result if result.returncode == 0 and "used=0B" not in result.stdout else None
    status = eventually(status_with_chunks) or fs4.ctl("status")
    assert status.returncode == 0, status.stderr
    print(status.stdout)
    lines = [line for line in status.stdout.splitlines() if " up files=" in line]
    assert len(lines) == 4
    addresses = set()
    for line in lines:
        files = int(re.search(r"files=(\d+)", line).group(1))
        used = re.search(r"used=(\S+)", line).group(1)
        assert files > 0 and used != "0B", line  # metadata and chunks on every daemon
        addresses.add(re.search(r"ucx\+tcp://([\d.]+):", line).group(1))
    assert addresses == {h.address for h in vcluster.hosts}

    for d in fs4.state()["daemons"]:  # chunk files in every daemon's root directory
        chunks = list(Path(d["rootdir"], "chunks").glob("*/*"))
        assert chunks, f"daemon {d['index']} holds no chunk"


def test_clients_on_two_hosts_share_one_namespace(fs4, vcluster):
    first, second = vcluster.clients
    wrote = fs4.run(["sh", "-c", f"mkdir -p {fs4.mountdir}/shared && "
                     f"echo written-on-{first.name} > {fs4.mountdir}/shared/note"], host=first)
    assert wrote.returncode == 0, wrote.stderr
    read = fs4.run(["cat", f"{fs4.mountdir}/shared/note"], host=second)
    assert read.returncode == 0, read.stderr
    assert read.stdout == f"written-on-{first.name}\n"


def test_daemons_listen_only_on_the_given_interface(fs4, vcluster):
    by_address = {h.address: h for h in vcluster.hosts}
    for d in fs4.state()["daemons"]:
        address = re.search(r"://([\d.]+):(\d+)", d["uri"])
        host = by_address[address.group(1)]
        sockets = vcluster.run(host, ["ss", "-Hltnp"]).stdout
        mine = [line for line in sockets.splitlines() if f"pid={d['pid']}," in line]
        assert mine, sockets
        for line in mine:
            local = line.split()[3]
            assert local.startswith(f"{host.address}:"), line  # never 0.0.0.0 or *


def test_two_instances_side_by_side(make_net_fs, vcluster, tmp_path):
    a = make_net_fs()
    b = make_net_fs(args=["--port", "41000"])
    assert all(re.search(r":4100\d$", d["uri"]) for d in b.state()["daemons"])

    for fs, name in ((a, "only-in-a"), (b, "only-in-b")):
        made = fs.run(["sh", "-c", f"echo {name} > {fs.mountdir}/{name}"])
        assert made.returncode == 0, made.stderr
    for fs, name in ((a, "only-in-a"), (b, "only-in-b")):
        listing = fs.run(["ls", fs.mountdir])
        assert listing.stdout.split() == [name]

    # A's daemons with B's secret: refused, with a message naming the secret.
    borrowed = tmp_path / "a-hosts.txt"
    shutil.copy(a.hosts_file, borrowed)
    shutil.copy(b.hosts_file + ".secret", str(borrowed) + ".secret")
    probe = a.python("import sys, gkfs\n"
                     "try:\n"
                     "    gkfs.Client(sys.argv[1]).stat('/')\n"
                     "except PermissionError as e:\n"
                     "    print('refused:', e)\n", str(borrowed))
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith("refused:") and "secret" in probe.stdout

    stopped = a.stop()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not Path(a.hosts_file).exists() and not Path(a.hosts_file + ".secret").exists()
    assert Path(b.hosts_file).exists() and Path(b.hosts_file + ".secret").exists()
    still = b.run(["cat", f"{b.mountdir}/only-in-b"])
    assert still.stdout == "only-in-b\n"
    assert "4 of 4 daemons up" in b.ctl("status").stdout


@pytest.mark.fuse
@pytest.mark.parametrize("launcher", ["ssh", "mpirun"])
def test_start_fuse_mounts_on_every_daemon_host(make_net_fs, vcluster, launcher, tmp_path):
    """gkfs-ctl start --fuse --launcher ssh|mpirun: the mount directory is a FUSE mount on
    each daemon host (its own mount namespace, as sshd's); a plain shell on one host writes, a
    plain cat on another reads, a tree copied in with cp on one host has the same checksums
    on the other, gkfs.Client on a client host sees it; gkfs-ctl mount -H on a host without
    daemons (a login node) mounts and umount unmounts; status reports the mounts; stop
    unmounts."""
    require_fuse()
    if launcher == "mpirun" and shutil.which("mpirun") is None:
        unavailable("needs mpirun (apt: openmpi-bin)")
    fs = make_net_fs(hosts=vcluster.hosts[:2], args=["--fuse"], launcher=launcher)
    first, second = vcluster.hosts[:2]

    def on(host, script):
        return vcluster.run(vcluster.client, ["ssh", *vcluster.ssh_args(), host.address, script])

    wrote = on(first, f"echo from-{first.name} > {fs.mountdir}/note && "
                      f"grep -c ' {fs.mountdir} .*fuse.gkfs' /proc/self/mountinfo")
    assert wrote.returncode == 0 and wrote.stdout == "1\n", wrote.stderr
    read = on(second, f"cat {fs.mountdir}/note")
    assert read.returncode == 0 and read.stdout == f"from-{first.name}\n", read.stderr
    # A tree copied in by plain cp on one host, checksummed by plain tools on the other.
    source = tmp_path / "common"
    shutil.copytree(SOURCE_TREE / "common", source)
    copied = on(first, f"cp -r {source} {fs.mountdir}/tree")
    assert copied.returncode == 0, copied.stderr
    sums = on(second, f"cd {fs.mountdir}/tree && find . -type f | LC_ALL=C sort | xargs sha256sum")
    assert sums.returncode == 0, sums.stderr
    assert {line.split()[1][2:]: line.split()[0] for line in sums.stdout.splitlines()} == \
        tree_checksums(source)
    client = fs.python("import gkfs, sys\nwith gkfs.Client(sys.argv[1]) as c: "
                       "print(c.read_bytes('/note').decode(), end='')", fs.hosts_file)
    assert client.stdout == f"from-{first.name}\n", client.stderr
    # A login node (a host without daemons): gkfs-ctl mount -H HOSTS there, then umount.
    ctl = shlex.join(entry_point("gkfs-ctl", "gkfs.cli"))
    login = vcluster.clients[0]
    script = (f"{ctl} mount -H {fs.hosts_file} && cat {fs.mountdir}/note && "
              f"{ctl} umount -H {fs.hosts_file} && "
              f"grep -c ' {fs.mountdir} ' /proc/self/mountinfo || true")
    there = vcluster.run(login, ["sh", "-c", script])  # one mount namespace for the script
    assert there.returncode == 0 and f"from-{first.name}\n" in there.stdout, there.stderr
    assert there.stdout.endswith("unmounted\n0\n"), there.stdout
    status = fs.ctl("status")  # each mount looked at where it is (ssh, or through mpirun)
    mounts = [line for line in status.stdout.splitlines() if line.startswith("fuse ")]
    assert status.returncode == 0 and len(mounts) == (2 if launcher == "ssh" else 1), status.stdout
    assert all(f" {fs.mountdir} mounted (checked " in line for line in mounts), status.stdout
    stopped = fs.stop()
    assert stopped.returncode == 0 and "unmounted" in stopped.stdout, stopped.stderr
    gone = on(first, f"grep -c ' {fs.mountdir} ' /proc/self/mountinfo")
    assert gone.stdout == "0\n"
