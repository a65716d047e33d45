"""Several hosts on one machine: Linux network namespaces on a private bridge (root only).

A :class:`VirtualCluster` makes, per test run, uniquely named namespaces:

* ``<id>-br`` holds a bridge; every host's veth pair has one end there (``v<i>``) and the
  other inside the host, always named ``gk0`` (so ``-l gk0`` and ``UCX_NET_DEVICES=gk0``
  work on every host, like ``ib0`` on a cluster);
* ``<id>-h<i>`` are the daemon hosts (addresses 10.77.X.11, .12, ...), each running its own
  sshd on its address (host key, authorised key and config in the cluster's work directory),
  so gkfs-ctl's ssh and mpirun launchers reach them as they would real hosts;
* ``<id>-c<i>`` are client hosts (10.77.X.101, ...), where gkfs-ctl and the applications run.

X is random among the /24s under 10.77.0.0/16 that overlap nothing this machine routes, and
no namespace has a route out, so all traffic stays inside. UCX must use tcp there
(:meth:`env` sets UCX_TLS=tcp): its shared-memory transports would silently cross namespaces.
The file system (/tmp) is shared, as a cluster's parallel file system would be.

:meth:`close` always runs (fixture finalizer): it stops the sshds it started, kills what is
left inside its own namespaces (``ip netns pids``: only processes our tests started live
there), deletes the namespaces and the work directory.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Optional, Sequence

IFACE = "gk0"
SSHD = "/usr/sbin/sshd"
_CMD_TIMEOUT_S = 60


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], capture_output=True, text=True,
                            timeout=_CMD_TIMEOUT_S)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def can_make_namespaces() -> Optional[str]:
    """None if this process may create network namespaces, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    return None


def _used_networks() -> list[ipaddress.IPv4Network]:
    networks = []
    for args in (["-4", "-o", "addr", "show"], ["-4", "route", "show", "table", "all"]):
        for line in _ip(*args).stdout.splitlines():
            for word in line.split():
                try:
                    if "/" in word or word.count(".") == 3:
                        networks.append(ipaddress.ip_network(word, strict=False))
                except ValueError:
                    continue
    return [n for n in networks if n.version == 4 and n.prefixlen > 0]


def free_subnet() -> ipaddress.IPv4Network:
    """A random 10.77.X.0/24 that overlaps no address or route of this machine."""
    used = _used_networks()
    candidates = list(range(256))
    random.shuffle(candidates)
    for x in candidates:
        net = ipaddress.ip_network(f"10.77.{x}.0/24")
        if not any(net.overlaps(u) for u in used):
            return net
    raise RuntimeError("no free /24 in 10.77.0.0/16")


@dataclasses.dataclass
class Host:
    name: str          # the namespace
    address: str
    veth: str          # the bridge end of its cable, in the bridge namespace


class VirtualCluster:
    """Daemon hosts and client hosts as network namespaces; see the module docstring."""

    def __init__(self, hosts: int = 4, clients: int = 2, sshd: bool = True) -> None:
        self.id = "gk" + uuid.uuid4().hex[:8]
        self.subnet = free_subnet()
        base = str(self.subnet.network_address).rsplit(".", 1)[0]
        self.bridge = f"{self.id}-br"
        self.hosts = [Host(f"{self.id}-h{i}", f"{base}.{11 + i}", f"v{i}") for i in range(hosts)]
        self.clients = [Host(f"{self.id}-c{i}", f"{base}.{101 + i}", f"vc{i}")
                        for i in range(clients)]
        self.workdir = Path(tempfile.mkdtemp(prefix=f"gkfs-{self.id}-", dir="/tmp"))
        self._namespaces: list[str] = []
        self._sshd: list[subprocess.Popen] = []
        try:
            self._build()
            if sshd:
                self._start_sshd()
        except BaseException:
            self.close()
            raise

    # --- building and tearing down ----------------------------------------------------------

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self._namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def _build(self) -> None:
        self._add_namespace(self.bridge)
        _ip("-n", self.bridge, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.bridge, "link", "set", "br0", "up")
        for host in self.hosts + self.clients:
            self._add_namespace(host.name)
            _ip("-n", self.bridge, "link", "add", host.veth, "type", "veth",
                "peer", "name", IFACE, "netns", host.name)
            _ip("-n", self.bridge, "link", "set", host.veth, "master", "br0", "up")
            _ip("-n", host.name, "addr", "add", f"{host.address}/{self.subnet.prefixlen}",
                "dev", IFACE)
            _ip("-n", host.name, "link", "set", IFACE, "up")

    def _start_sshd(self) -> None:
        if not os.path.exists(SSHD):
            raise RuntimeError(f"{SSHD} is missing: run scripts/setup.sh (openssh-server)")
        ssh = self.workdir / "ssh"
        ssh.mkdir(mode=0o700)
        for key in ("host_key", "user_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh / key)],
                           check=True, timeout=_CMD_TIMEOUT_S)
        shutil.copy(ssh / "user_key.pub", ssh / "authorized_keys")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        for host in self.hosts:
            config = ssh / f"sshd_config.{host.name}"
            config.write_text(
                f"ListenAddress {host.address}\nPort 22\nHostKey {ssh / 'host_key'}\n"
                f"AuthorizedKeysFile {ssh / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                "StrictModes no\nPidFile none\nMaxStartups 100\nMaxSessions 100\n")
            log = open(ssh / f"sshd.{host.name}.log", "wb")
            self._sshd.append(subprocess.Popen(
                ["ip", "netns", "exec", host.name, SSHD, "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))
            log.close()
        for host in self.hosts:
            self._wait_for_sshd(host)

    def _wait_for_sshd(self, host: Host) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            probe = self.run(self.clients[0] if self.clients else host,
                             ["ssh", *self.ssh_args(), host.address, "true"], timeout=30)
            if probe.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"sshd on {host.name} ({host.address}) does not answer: "
                           f"{probe.stderr.strip()}")

    def close(self) -> None:
        for proc in self._sshd:
            proc.terminate()
        for proc in self._sshd:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._kill_leftovers()
        for name in reversed(self._namespaces):
            _ip("netns", "del", name, check=False)
        self._namespaces.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _kill_leftovers(self) -> None:
        """SIGKILL whatever still runs inside our namespaces (daemons of a failed test)."""
        for _ in range(50):
            pids = set()
            for name in self._namespaces:
                pids.update(int(p) for p in _ip("netns", "pids", name, check=False)
                            .stdout.split())
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)

    # --- using it ---------------------------------------------------------------------------

    @property
    def client(self) -> Host:
        return self.clients[0]

    def ssh_args(self) -> list[str]:
        """ssh options that reach our sshds (no user configuration, no known_hosts)."""
        return ["-F", "/dev/null", "-i", str(self.workdir / "ssh" / "user_key"),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]

    def host_list(self, hosts: Optional[Sequence[Host]] = None) -> str:
        """A host list file (addresses) for --host-list."""
        path = self.workdir / f"hosts-{uuid.uuid4().hex[:6]}.list"
        path.write_text("".join(f"{h.address}\n" for h in (hosts or self.hosts)))
        return str(path)

    def env(self, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
        """This process's environment with UCX on tcp over gk0 (every namespace has one)."""
        env = dict(os.environ, UCX_TLS="tcp", UCX_NET_DEVICES=IFACE)
        env.update(extra or {})
        return env

    def argv(self, host: Host, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", host.name, *argv]

    def run(self, host: Host, argv: Sequence[str], timeout: float = 180,
            **kwargs: Any) -> subprocess.CompletedProcess:
        kwargs.setdefault("env", self.env())
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(self.argv(host, argv), timeout=timeout, **kwargs)

    def popen(self, host: Host, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
        kwargs.setdefault("env", self.env())
        return subprocess.Popen(self.argv(host, argv), **kwargs)

    def set_link(self, host: Host, up: bool) -> None:
        """Pulls (or plugs back) the host's cable: its bridge-side veth end goes down."""
        _ip("-n", self.bridge, "link", "set", host.veth, "up" if up else "down")
