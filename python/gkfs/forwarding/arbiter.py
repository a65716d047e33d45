"""`gkfs-ctl fwd-arbiter`: GekkoFWD's arbitration as a loop over running jobs.

Every interval the arbiter re-reads the jobs file (jobs start and stop by being listed or
not), takes a `gkfs-ctl stats` sample, and turns the bytes each job's application moved since
the previous sample into one measured point of that job's bandwidth curve: the bandwidth it
got with the number of I/O nodes it had. It then re-runs the allocation (the exact
multiple-choice knapsack of policies.knapsack) over the curves, measured points overriding
declared ones, unknown counts estimated from the nearest known one with diminishing returns
(in proportion to the square root of the count; with no point at all, the square root of the
count itself, so unknown jobs are spread over the I/O nodes). A job may get no I/O node of its
own: if its curve declares a point 0 (its bandwidth going direct to the PFS, which the I/O
nodes cannot measure) that point is the value of no I/O node and its hosts are mapped
``direct``; otherwise it shares the I/O node serving the fewest hosts, which is how jobs that
outnumber the I/O nodes are all served. The map is rewritten atomically, and only when it
changes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping, Optional, Sequence

from gkfs.forwarding import jobs as jobs_file
from gkfs.forwarding import mapfile, policies

__all__ = ["Allocation", "Arbiter", "allocate_shared"]


@dataclasses.dataclass(frozen=True)
class Allocation:
    mapping: dict[str, int]          # host -> I/O node index, or mapfile.DIRECT
    counts: dict[str, int]           # job name -> dedicated I/O nodes (0: direct or shares one)
    values: dict[str, float]         # job name -> the bandwidth the allocation expects
    direct: frozenset[str] = frozenset()   # jobs given 0 I/O nodes that go direct

    def describe(self) -> str:
        """'climate 2, ml direct, post shared': what each job got."""
        return ", ".join(f"{name} {k or ('direct' if name in self.direct else 'shared')}"
                         for name, k in self.counts.items())


def _estimate(curve: Mapping[int, float], k: int) -> float:
    """Bandwidth with k I/O nodes: the curve's, else diminishing returns (square root of the
    count) from the nearest known point, or from 1 with no point at all."""
    if k in curve:
        return curve[k]
    if not curve:
        return math.sqrt(k)
    nearest = min(curve, key=lambda known: (abs(known - k), known))
    return curve[nearest] * math.sqrt(k / nearest)


def allocate_shared(job_list: Sequence[jobs_file.Job], curves: Mapping[str, Mapping[int, float]],
                    io_nodes: int) -> Allocation:
    """Dedicated I/O nodes by knapsack over the curves (0..min(hosts, io_nodes) each), in job
    order on consecutive indices. A job given none goes direct if its curve has a point 0 (worth
    that point), else it shares the I/O node that serves the fewest hosts at that point (worth
    nothing). Raises policies.PolicyError."""
    options = [{k: (_estimate(curves.get(job.name, {}), k) if k else
                    curves.get(job.name, {}).get(0, 0.0))
                for k in range(0, min(len(job.hosts), io_nodes) + 1)} for job in job_list]
    _, counts = policies.knapsack(options, io_nodes)
    mapping: dict[str, int] = {}
    load = [0] * io_nodes
    first = 0
    for job, k in zip(job_list, counts):
        if k:
            for host, index in policies.blocks(job.hosts, first, k).items():
                mapping[host] = index
                load[index] += 1
            first += k
    direct = frozenset(job.name for job, k in zip(job_list, counts)
                       if not k and 0 in curves.get(job.name, {}))
    for job, k in zip(job_list, counts):
        if job.name in direct:
            mapping.update({host: mapfile.DIRECT for host in job.hosts})
        elif not k:
            index = min(range(io_nodes), key=lambda i: (load[i], i))
            for host in job.hosts:
                mapping[host] = index
            load[index] += len(job.hosts)
    return Allocation(mapping, {job.name: k for job, k in zip(job_list, counts)},
                      {job.name: options[i][k] for i, (job, k) in enumerate(zip(job_list, counts))},
                      direct)


class Arbiter:
    """The loop's state: the last sample, the measured curves, the map it last wrote.
    step() is one iteration; the caller sleeps between them. Not thread-safe."""

    def __init__(self, jobs_path: str, map_path: str, io_nodes: int,
                 sample: Callable[[], dict[str, Any]]) -> None:
        self.jobs_path, self.map_path, self.io_nodes = jobs_path, map_path, io_nodes
        self.sample = sample
        self.measured: dict[str, dict[int, float]] = {}   # job -> {I/O nodes: bandwidth}
        self.mapping: Optional[dict[str, int]] = None
        self.counts: dict[str, int] = {}
        self._last: Optional[dict[str, Any]] = None

    def step(self) -> Optional[Allocation]:
        """One iteration: the new allocation if the map was rewritten, else None. Raises
        OSError, jobs.JobsError or policies.PolicyError (the map is then left as it is)."""
        job_list = jobs_file.read_jobs(self.jobs_path)
        report = self.sample()
        self._measure(job_list, report)
        names = {job.name for job in job_list}
        self.measured = {n: c for n, c in self.measured.items() if n in names}
        curves = {job.name: {**job.curve, **self.measured.get(job.name, {})} for job in job_list}
        allocation = allocate_shared(job_list, curves, self.io_nodes)
        self.counts = allocation.counts
        if allocation.mapping == self.mapping:
            return None
        comments = ["gkfs-ctl fwd-arbiter: " + allocation.describe()]
        mapfile.write_map(self.map_path, allocation.mapping, comments)
        self.mapping = allocation.mapping
        return allocation

    def _measure(self, job_list: Sequence[jobs_file.Job], report: dict[str, Any]) -> None:
        last, self._last = self._last, report
        if last is None or report["time"] <= last["time"]:
            return
        before = {a["app_id"]: a["bytes"] for a in last.get("apps", [])}
        span = report["time"] - last["time"]
        for app in report.get("apps", []):
            moved = app["bytes"] - before.get(app["app_id"], 0)
            for job in job_list:
                if job.app_id == app["app_id"] and moved > 0 and job.name in self.counts:
                    k = self.counts[job.name]
                    if k:  # a shared I/O node's bandwidth says nothing about a count
                        self.measured.setdefault(job.name, {})[k] = moved / span
