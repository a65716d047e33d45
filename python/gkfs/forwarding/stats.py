"""Per-I/O-node and per-application metrics of a forwarding file system (``gkfs-ctl stats``),
in the shape an arbiter consumes: one report per sample, cumulative counters since each I/O
node started, and the wall-clock time of the sample, so the difference of two samples gives
each application's request rate and bandwidth over that interval.

Report (``gkfs-ctl stats --json`` prints exactly this)::

    {"time": 1732212345.25,              # time.time() when the sample was taken
     "hosts_file": "/abs/hosts.txt",
     "io_nodes": [                       # every daemon, by its map index (host name, uri)
        {"index": 0, "host": "io1", "uri": "ucx+tcp://...", "up": true, "error": "",
         "pending": 0, "in_service": 0, "scheduler_errors": 0,
         <counters>,                     # summed over the node's applications
         "apps": [{"app_id": 5, <counters>}, ...]},
        ...],
     "apps": [                           # every application, summed over its I/O nodes
        {"app_id": 5, "io_nodes": [0, 1], <counters>}, ...]}

Counters: requests, bytes (requested), reads, writes, units (PFS operations), merged
(requests - units: requests that rode in another's operation), mean_size (bytes/requests),
queue_wait_s (arrival to dispatch, summed over requests), service_s (PFS time; a unit's time
is split evenly over its requests), mean_queue_wait_s and mean_service_s (per request).
A daemon that is down or not an I/O node has ``up`` false and the reason in ``error``.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

__all__ = ["COUNTERS", "collect", "format_text"]

#: The summable counters of an application on an I/O node (gkfs._core io_node_statistics).
COUNTERS = ("requests", "bytes", "reads", "writes", "units", "merged", "queue_wait_s",
            "service_s")


def _derived(entry: dict[str, Any]) -> dict[str, Any]:
    requests = entry["requests"]
    entry["mean_size"] = entry["bytes"] / requests if requests else 0.0
    entry["mean_queue_wait_s"] = entry["queue_wait_s"] / requests if requests else 0.0
    entry["mean_service_s"] = entry["service_s"] / requests if requests else 0.0
    return entry


def _sum(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {key: 0 for key in COUNTERS}
    for entry in entries:
        for key in COUNTERS:
            total[key] += entry[key]
    return _derived(total)


def collect(client: Any, hosts_file: str = "") -> dict[str, Any]:
    """One sample of every daemon of `client` (a gkfs._core.Client or gkfs.Client); never
    raises for a daemon that is down or not an I/O node (see the module docstring)."""
    sample_time = time.time()
    nodes = []
    # The map's I/O-node index orders daemons by (host name, uri), as GekkoFS does; the
    # client (not necessarily in forwarding mode) may list them in placement order.
    daemons = sorted(enumerate(client.daemons()), key=lambda d: (d[1].host, d[1].uri))
    for index, (position, info) in enumerate(daemons):
        node: dict[str, Any] = {"index": index, "host": info.host, "uri": info.uri,
                                "up": info.up, "error": info.error or ""}
        raw: dict[str, Any] = {}
        if info.up:
            try:
                raw = client.io_node_statistics(position)
            except OSError as e:
                node.update(up=False, error=f"not an I/O node or no answer: {e}")
        apps = [_derived({"app_id": a["app_id"], **{k: a[k] for k in COUNTERS}})
                for a in raw.get("apps", [])]
        apps.sort(key=lambda a: a["app_id"])
        node.update(pending=raw.get("pending", 0), in_service=raw.get("in_service", 0),
                    scheduler_errors=raw.get("scheduler_errors", 0))
        node.update(_sum(apps))
        node["apps"] = apps
        nodes.append(node)
    by_app: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for node in nodes:
        for app in node["apps"]:
            by_app.setdefault(app["app_id"], []).append((node["index"], app))
    apps = [{"app_id": app_id, "io_nodes": [i for i, _ in entries],
             **_sum(a for _, a in entries)} for app_id, entries in sorted(by_app.items())]
    return {"time": sample_time, "hosts_file": hosts_file, "io_nodes": nodes, "apps": apps}


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}GiB"


def _row(label: str, e: dict[str, Any]) -> str:
    return (f"  {label:<12} {e['requests']:>9} {_size(e['bytes']):>10} {_size(e['mean_size']):>9} "
            f"{e['units']:>8} {e['merged']:>8} {e['mean_queue_wait_s'] * 1e3:>10.3f} "
            f"{e['mean_service_s'] * 1e3:>10.3f}")


_HEADER = (f"  {'app':<12} {'requests':>9} {'bytes':>10} {'mean size':>9} {'pfs ops':>8} "
           f"{'merged':>8} {'wait ms':>10} {'service ms':>10}")


def format_text(report: dict[str, Any]) -> str:
    """The report as a table per I/O node and one over all of them (wait and service are
    means per request, in milliseconds)."""
    lines = []
    for node in report["io_nodes"]:
        head = f"io node {node['index']} {node['host']} {node['uri']}"
        if not node["up"]:
            lines.append(f"{head} down ({node['error'] or 'no answer'})")
            continue
        lines.append(f"{head}: pending {node['pending']}, in service {node['in_service']}, "
                     f"scheduler errors {node['scheduler_errors']}")
        lines.append(_HEADER)
        lines += [_row(str(a["app_id"]), a) for a in node["apps"]]
        lines.append(_row("total", node))
    lines.append("all I/O nodes:")
    lines.append(_HEADER + "  io nodes")
    for app in report["apps"]:
        lines.append(_row(str(app["app_id"]), app) + "  "
                     + ",".join(str(i) for i in app["io_nodes"]))
    return "\n".join(lines)
