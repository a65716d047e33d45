"""Allocation policies: which I/O node each compute host forwards to (what `gkfs-ctl fwd-map`
writes into the map file).

A policy is a small class with ``allocate(request) -> {host: io_node_index}``; built-ins are
``static`` (contiguous blocks), ``round-robin`` and ``arbitration`` (GekkoFWD's arbitration:
I/O nodes go to the jobs that gain most bandwidth from them, an exact multiple-choice
knapsack over the jobs' curves). A user policy is named `module:Class` or is an entry point
of group ``gkfs.forwarding.policies``; :func:`allocate` checks whatever it returns.
"""

from __future__ import annotations

import dataclasses
import importlib
from importlib import metadata
from typing import ClassVar, Mapping, Sequence

from gkfs.forwarding.jobs import Job
from gkfs.forwarding.mapfile import DIRECT

__all__ = [
    "ENTRY_POINT_GROUP",
    "AllocationRequest",
    "Arbitration",
    "Policy",
    "PolicyError",
    "RoundRobin",
    "StaticBlocks",
    "allocate",
    "blocks",
    "knapsack",
    "load_policy",
    "request_from",
]

ENTRY_POINT_GROUP = "gkfs.forwarding.policies"


class PolicyError(ValueError):
    """A policy cannot produce a valid map for this request; the message says why."""


@dataclasses.dataclass(frozen=True)
class AllocationRequest:
    hosts: tuple[str, ...]    # compute hosts, in the order given (each once)
    io_nodes: int             # I/O nodes available: indices 0..io_nodes-1
    jobs: tuple[Job, ...] = ()


class Policy:
    """Base of allocation policies. allocate() maps every host of the request to an index in
    0..io_nodes-1; comments() may add '#' lines to the map file."""

    name: ClassVar[str] = ""
    needs_jobs: ClassVar[bool] = False

    def allocate(self, request: AllocationRequest) -> Mapping[str, int]:
        raise NotImplementedError

    def comments(self, request: AllocationRequest, mapping: Mapping[str, int]) -> list[str]:
        return []


def blocks(hosts: Sequence[str], first: int, count: int) -> dict[str, int]:
    """hosts split into `count` contiguous blocks of near-equal size on first..first+count-1
    (the first len(hosts) % count blocks get one host more)."""
    size, larger = divmod(len(hosts), count)
    split = larger * (size + 1)   # hosts in the larger blocks
    return {h: first + (i // (size + 1) if i < split else larger + (i - split) // size)
            for i, h in enumerate(hosts)}


class StaticBlocks(Policy):
    """Contiguous blocks: with 8 hosts and 2 I/O nodes, hosts 0-3 -> 0, 4-7 -> 1."""

    name = "static"

    def allocate(self, request: AllocationRequest) -> Mapping[str, int]:
        return blocks(request.hosts, 0, min(request.io_nodes, len(request.hosts)))


class RoundRobin(Policy):
    """Host i -> I/O node i mod N."""

    name = "round-robin"

    def allocate(self, request: AllocationRequest) -> Mapping[str, int]:
        return {h: i % request.io_nodes for i, h in enumerate(request.hosts)}


def knapsack(options: Sequence[Mapping[int, float]], capacity: int) -> tuple[float, list[int]]:
    """Multiple-choice knapsack, exact (dynamic programming, O(jobs * capacity * options)):
    pick one count k from each options[j] (k -> value) with sum(k) <= capacity, maximising
    the sum of values. Among optimal choices the one using the fewest I/O nodes wins, then
    the one giving earlier jobs more. Returns (value, [k per job]); raises PolicyError if no
    choice fits."""
    best: dict[int, tuple[float, list[int]]] = {0: (0.0, [])}  # nodes used -> best so far
    for j, choices in enumerate(options):
        if not choices:
            raise PolicyError(f"job #{j + 1} has no options")
        step: dict[int, tuple[float, list[int]]] = {}
        for used, (value, picked) in best.items():
            for k in sorted(choices, reverse=True):
                total = used + k
                if total > capacity:
                    continue
                candidate = (value + choices[k], picked + [k])
                current = step.get(total)
                if current is None or candidate > current:
                    step[total] = candidate
        if not step:
            need = sum(min(c) for c in options)
            raise PolicyError(f"the jobs need at least {need} I/O nodes, only {capacity} exist")
        best = step
    used = min(best, key=lambda u: (-best[u][0], u))
    return best[used]


class Arbitration(Policy):
    """I/O nodes to the jobs that gain most (Bez et al., GekkoFWD arbitration): every job
    gets one of the I/O-node counts its curve names (at most its host count; 0, going direct
    to the PFS, only where the curve declares it), the counts chosen to maximise the sum of
    the jobs' bandwidths (:func:`knapsack`). Jobs get consecutive I/O nodes in file order; a
    job's hosts are split into blocks over its nodes, or all mapped ``direct`` for 0."""

    name = "arbitration"
    needs_jobs = True

    def choose(self, request: AllocationRequest) -> tuple[float, list[int]]:
        options = []
        for job in request.jobs:
            usable = {k: v for k, v in job.curve.items() if 0 <= k <= len(job.hosts)}
            if not usable:
                raise PolicyError(f"job {job.name!r}: its bandwidth curve names no I/O-node "
                                  f"count between 0 and its {len(job.hosts)} hosts")
            options.append(usable)
        return knapsack(options, request.io_nodes)

    def allocate(self, request: AllocationRequest) -> Mapping[str, int]:
        _, counts = self.choose(request)
        mapping: dict[str, int] = {}
        first = 0
        for job, k in zip(request.jobs, counts):
            mapping.update(blocks(job.hosts, first, k) if k else dict.fromkeys(job.hosts, DIRECT))
            first += k
        return mapping

    def comments(self, request: AllocationRequest, mapping: Mapping[str, int]) -> list[str]:
        total, counts = self.choose(request)
        lines = [f"job {job.name}: {f'{k} I/O node(s)' if k else 'direct'}, bandwidth "
                 f"{job.curve[k]:g}"
                 for job, k in zip(request.jobs, counts)]
        return lines + [f"total bandwidth {total:g} on {sum(counts)} of {request.io_nodes} "
                        f"I/O nodes"]


BUILTIN = {cls.name: cls for cls in (StaticBlocks, RoundRobin, Arbitration)}


def load_policy(name: str) -> Policy:
    """A policy instance: a built-in name, `module:Class`, or an entry point of group
    gkfs.forwarding.policies. Raises PolicyError saying what was tried."""
    if name in BUILTIN:
        return BUILTIN[name]()
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as e:
            raise PolicyError(f"cannot load policy {name!r}: {e}") from None
    else:
        found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            raise PolicyError(f"unknown policy {name!r}: use {', '.join(BUILTIN)}, a "
                              f"module:Class, or an entry point of group {ENTRY_POINT_GROUP}")
        cls = found[0].load()
    if not (isinstance(cls, type) and hasattr(cls, "allocate")):
        raise PolicyError(f"policy {name!r} is not a class with an allocate() method")
    return cls()


def allocate(policy: Policy, request: AllocationRequest) -> dict[str, int]:
    """policy's mapping for request, checked: every host mapped once, to 0..io_nodes-1 or
    DIRECT. Returned in the order of request.hosts. Raises PolicyError."""
    if request.io_nodes < 1:
        raise PolicyError(f"need at least one I/O node, got {request.io_nodes}")
    if not request.hosts:
        raise PolicyError("no compute hosts given")
    if getattr(policy, "needs_jobs", False) and not request.jobs:
        raise PolicyError(f"policy {policy.name or type(policy).__name__} needs a jobs file "
                          f"(--jobs)")
    mapping = dict(policy.allocate(request))
    missing = [h for h in request.hosts if h not in mapping]
    extra = sorted(set(mapping) - set(request.hosts))
    if missing or extra:
        raise PolicyError(f"policy mapped the wrong hosts: missing {missing[:5]}, "
                          f"unknown {extra[:5]}")
    for host, index in mapping.items():
        if isinstance(index, bool) or not isinstance(index, int) or \
                not (0 <= index < request.io_nodes or index == DIRECT):
            raise PolicyError(f"policy sent {host} to I/O node {index!r}; valid: 0.."
                              f"{request.io_nodes - 1} or mapfile.DIRECT")
    return {h: mapping[h] for h in request.hosts}


def request_from(hosts: Sequence[str], io_nodes: int, jobs: Sequence[Job] = ()) \
        -> AllocationRequest:
    """An AllocationRequest; hosts default to the jobs' hosts. Raises PolicyError if a host
    is listed twice, or if hosts and jobs disagree."""
    job_hosts = [h for job in jobs for h in job.hosts]
    _no_duplicates(job_hosts, "in the jobs file")
    if not hosts:
        hosts = job_hosts
    _no_duplicates(hosts, "in --hosts")
    if jobs and set(hosts) != set(job_hosts):
        missing = sorted(set(hosts) - set(job_hosts))[:5]
        extra = sorted(set(job_hosts) - set(hosts))[:5]
        raise PolicyError(f"--hosts and the jobs file disagree: in no job {missing}, "
                          f"not in --hosts {extra}")
    return AllocationRequest(tuple(hosts), io_nodes, tuple(jobs))


def _no_duplicates(hosts: Sequence[str], where: str) -> None:
    seen: set[str] = set()
    for h in hosts:
        if h in seen:
            raise PolicyError(f"host {h} is listed twice {where}")
        seen.add(h)
