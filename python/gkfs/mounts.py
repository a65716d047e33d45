"""FUSE mounts of a gkfs file system: ``gkfs-fuse`` started at a mount directory on this host
or on another one (over ssh), and unmounted again.

``gkfs-fuse`` gets the client settings as the preload library does (the LIBGKFS_* variables
of :meth:`gkfs.cluster.Cluster.client_environment`) and returns once the mount is in place or
has failed, so a failed mount leaves nothing mounted.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Optional, Sequence

from gkfs.launchers.base import ClusterError, quote

__all__ = ["SERVING_LINE", "ctl_command", "fuse_binary", "is_gkfs_mount", "is_mounted",
           "mount_check_command", "mount_here", "mount_problem", "remote_command", "run_command",
           "serve_here", "server_gone", "ssh_command", "unmount_here"]

FUSE_NAME = "gkfs-fuse"
_MOUNT_TIMEOUT_S = 120.0   # gkfs-fuse itself gives up after the client timeout
_UNMOUNT_WAIT_S = 10.0


def fuse_binary() -> str:
    """Path of gkfs-fuse, shipped in the package directory (beside gkfs._core in editable
    installs)."""
    import gkfs

    candidate = os.path.join(os.path.dirname(os.path.abspath(gkfs.__file__)), FUSE_NAME)
    if os.path.exists(candidate):
        return candidate
    from gkfs import _core
    return os.path.join(os.path.dirname(os.path.abspath(_core.__file__)), FUSE_NAME)


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n") \
        .replace("\\134", "\\")


def _mountinfo_entry(path: str) -> Optional[list[str]]:
    """The fields of the /proc/self/mountinfo line of the mount at path (this process's
    mount namespace; the topmost of stacked mounts), mount point unescaped; None if nothing
    is mounted there. Fields: ID PARENT DEV ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE
    SUPER."""
    real = os.path.realpath(path)
    entry = None
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and _unescape(fields[4]) == real:
                entry = fields[:4] + [real] + fields[5:]
    return entry


def is_mounted(path: str) -> bool:
    """Whether something is mounted at path (this process's mount namespace)."""
    return _mountinfo_entry(path) is not None


def is_gkfs_mount(path: str) -> bool:
    """Whether a gkfs-fuse mount (file system type fuse.gkfs) is at path (this process's
    mount namespace)."""
    entry = _mountinfo_entry(path)
    if entry is None or "-" not in entry:
        return False
    after = entry[entry.index("-") + 1:]
    return bool(after) and after[0] == "fuse.gkfs"


def server_gone(path: str) -> bool:
    """Whether the mount at path has lost its FUSE server (gkfs-fuse ended without an
    unmount: every access gives ENOTCONN). An error of the daemons behind a live gkfs-fuse
    is not that."""
    try:
        os.stat(path)
    except OSError as e:
        return e.errno == errno.ENOTCONN
    return False


def mount_problem(mountdir: str) -> Optional[str]:
    """Why no gkfs-fuse mount serves mountdir on this host; None if one does."""
    if not is_gkfs_mount(mountdir):
        return f"no gkfs FUSE mount at {mountdir}"
    if server_gone(mountdir):
        return f"the FUSE mount at {mountdir} no longer answers (its gkfs-fuse ended)"
    return None


def mount_check_command(mountdir: str) -> list[str]:
    """A command that exits 0 if a gkfs-fuse mount serves mountdir on the host it runs on,
    else 1 with the problem (gkfs is installed at the same place on every host)."""
    code = ("import sys; from gkfs.mounts import mount_problem; "
            "sys.exit(mount_problem(sys.argv[1]))")
    return [sys.executable, "-c", code, mountdir]


def _fuse_argv(mountdir: str, env: dict[str, str], options: Sequence[str],
               foreground: bool) -> tuple[list[str], dict[str, str]]:
    """gkfs-fuse's command line and environment (this process's, without LD_PRELOAD)."""
    argv = [fuse_binary(), *options] + (["--foreground"] if foreground else [])
    full_env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    full_env.update({k: v for k, v in env.items() if k != "LD_PRELOAD"})
    return argv + [mountdir], full_env


def mount_here(mountdir: str, env: dict[str, str], options: Sequence[str] = ()) -> None:
    """Mounts the file system env names at mountdir on this host, with gkfs-fuse's options
    (--cache, --writeback, --allow-other). ClusterError with gkfs-fuse's message (busy, not
    a directory, no /dev/fuse, daemons down; a mount whose gkfs-fuse ended: busy, with the
    fix) on failure."""
    argv, full_env = _fuse_argv(mountdir, env, options, foreground=False)
    try:
        proc = subprocess.run(argv, env=full_env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              timeout=_MOUNT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"gkfs-fuse did not mount {mountdir} within "
                           f"{_MOUNT_TIMEOUT_S:g}s") from None
    if proc.returncode != 0:
        raise ClusterError(proc.stderr.strip() or f"gkfs-fuse failed at {mountdir} "
                                                   f"(exit {proc.returncode})")


# What serve_here() prints once its mount is in place (the srun launcher's mount step).
SERVING_LINE = "gkfs-ctl: serving"


def serve_here(mountdir: str, env: dict[str, str], options: Sequence[str] = ()) -> int:
    """Mounts like mount_here() but keeps gkfs-fuse in the foreground as this process's
    child, for a launcher that runs it as a job task (srun's mount step): prints
    ``SERVING_LINE host H mountdir M step S`` once the mount is in place, then waits until
    gkfs-fuse ends (unmounted: ``gkfs-ctl umount``) and returns its exit status. SIGTERM
    (scancel of the step) unmounts. ClusterError if the mount fails."""
    if is_mounted(mountdir):
        # Waiting for the mount below could not tell it from the one already there; gkfs-fuse
        # refuses the directory at once with the cause and the fix (busy, or its server ended).
        mount_here(mountdir, env, options)
        raise ClusterError(f"{mountdir} is already a mount point")
    argv, full_env = _fuse_argv(mountdir, env, options, foreground=True)
    proc = subprocess.Popen(argv, env=full_env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def on_term(signum: int, frame: object) -> None:
        if is_mounted(mountdir):
            try:
                unmount_here(mountdir)  # lazily if busy: gkfs-fuse's own unmount would fail
            except ClusterError:
                pass
        if proc.poll() is None:
            proc.terminate()

    signal.signal(signal.SIGTERM, on_term)
    deadline = time.monotonic() + _MOUNT_TIMEOUT_S
    while not is_mounted(mountdir):
        if proc.poll() is not None:  # failed, or SIGTERM before the mount was in place
            raise ClusterError(proc.stderr.read().strip() or f"gkfs-fuse failed at {mountdir} "
                                                              f"(exit {proc.returncode})")
        if time.monotonic() >= deadline:
            proc.kill()
            proc.wait()
            raise ClusterError(f"gkfs-fuse did not mount {mountdir} within "
                               f"{_MOUNT_TIMEOUT_S:g}s")
        time.sleep(0.05)
    step = ".".join(os.environ[k] for k in ("SLURM_JOB_ID", "SLURM_STEP_ID") if k in os.environ)
    print(f"{SERVING_LINE} host {socket.gethostname()} mountdir {mountdir} step {step or '-'}",
          flush=True)
    stderr = proc.stderr.read()  # until gkfs-fuse ends (its stderr closes)
    status = proc.wait()
    if status != 0 and stderr.strip():
        print(stderr.strip(), file=sys.stderr, flush=True)
    return status


def unmount_here(mountdir: str) -> str:
    """Unmounts the FUSE mount at mountdir; works while the daemons are down. A mount still
    in use is detached lazily (it goes once its last user leaves). Returns what it did."""
    if not is_mounted(mountdir):  # no stat: it fails on a mount whose daemons are down
        raise ClusterError(f"nothing is mounted at {mountdir}")
    tool = shutil.which("fusermount3")
    plain = [tool, "-u", mountdir] if tool else ["umount", mountdir]
    lazy = [tool, "-u", "-z", mountdir] if tool else ["umount", "-l", mountdir]
    done = "unmounted"
    proc = subprocess.run(plain, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        proc = subprocess.run(lazy, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        done = "detached (busy: it goes when its last user leaves)"
    if proc.returncode != 0:
        raise ClusterError(f"cannot unmount {mountdir}: {proc.stderr.strip()}")
    deadline = time.monotonic() + _UNMOUNT_WAIT_S
    while is_mounted(mountdir) and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"{mountdir}: {done}"


def ctl_command(ctl_args: Sequence[str]) -> list[str]:
    """``gkfs-ctl ctl_args`` with this interpreter's path (gkfs is installed at the same
    place on every host, as the launchers require)."""
    return [sys.executable, "-m", "gkfs.cli", *ctl_args]


def ssh_command(target: str, ssh_args: Sequence[str], argv: Sequence[str]) -> list[str]:
    """argv run on target over ssh (no password prompt)."""
    return ["ssh", "-o", "BatchMode=yes", *ssh_args, target, quote(list(argv))]


def remote_command(target: str, ssh_args: Sequence[str], ctl_args: Sequence[str],
                   timeout: Optional[float] = _MOUNT_TIMEOUT_S) -> None:
    """Runs ``gkfs-ctl ctl_args`` on target over ssh."""
    run_command(ssh_command(target, ssh_args, ctl_command(ctl_args)), f"on {target}", timeout)


def run_command(argv: Sequence[str], where: str,
                timeout: Optional[float] = _MOUNT_TIMEOUT_S) -> None:
    """Runs argv (ssh, or a launcher's command that runs a task on every host); ClusterError
    naming where, with the command's message, if it fails."""
    try:
        proc = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"{where}: no answer within {timeout:g}s") from None
    if proc.returncode != 0:
        raise ClusterError(f"{where}: {proc.stderr.strip() or proc.stdout.strip()}")
