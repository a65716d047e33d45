"""The daemons' metrics as ``gkfs-ctl stats`` reports them: the same numbers each daemon's
``/metrics`` serves (Prometheus text format), fetched over the file system's own RPC (the
Metrics verb), so no metrics port is needed.

Report (``gkfs-ctl stats --json``)::

    {"time": 1732212345.25, "hosts_file": "/abs/hosts.txt",
     "daemons": [
        {"index": 0, "host": "n1", "uri": "ucx+tcp://...", "up": true, "error": "",
         "mode": "normal",                # or "forwarding"
         "requests": 120, "errors": 3,    # replies, all verbs
         "written_bytes": 8192, "read_bytes": 8192, "connected_clients": 1,
         "metadata_entries": 4, "metadata_store_bytes": 5120, "chunk_store_bytes": 8192,
         "verbs": {"WriteChunks": {"ok": 2, "error": 0, "mean_latency_s": 2.1e-05}, ...}},
        ...],
     "io_nodes": [...], "apps": [...]}   # forwarding mode only (gkfs.forwarding.stats)

Counters are cumulative since each daemon started; a daemon that is down has ``up`` false
and the reason in ``error``.
"""

from __future__ import annotations

import re
import time
from typing import Any

from gkfs.forwarding.stats import _size  # one size format for both reports

__all__ = ["collect", "format_text", "parse_exposition"]

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

#: Report fields taken from a gauge or counter without labels.
_PLAIN = {"gkfs_written_bytes_total": "written_bytes", "gkfs_read_bytes_total": "read_bytes",
          "gkfs_connected_clients": "connected_clients",
          "gkfs_metadata_entries": "metadata_entries",
          "gkfs_metadata_store_bytes": "metadata_store_bytes",
          "gkfs_chunk_store_bytes": "chunk_store_bytes"}


def parse_exposition(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample of a Prometheus text exposition (comments and
    blank lines skipped). Raises ValueError naming the first line it cannot read."""
    samples = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise ValueError(f"metrics line {number} is not a sample: {line!r}")
        labels = {k: v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
                  for k, v in _LABEL.findall(match.group(2) or "")}
        samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def summarize(text: str) -> dict[str, Any]:
    """The report fields of one daemon from its exposition."""
    entry: dict[str, Any] = {field: 0 for field in _PLAIN.values()}
    verbs: dict[str, dict[str, float]] = {}
    latency: dict[str, float] = {}
    entry["mode"] = "normal"
    for name, labels, value in parse_exposition(text):
        if name in _PLAIN and not labels:
            entry[_PLAIN[name]] = int(value)
        elif name == "gkfs_info":
            entry["mode"] = labels.get("mode", "normal")
        elif name == "gkfs_requests_total":
            verb = verbs.setdefault(labels["verb"], {"ok": 0, "error": 0})
            verb[labels["outcome"]] = int(value)
        elif name == "gkfs_request_duration_seconds_sum":
            latency[labels["verb"]] = value
    for verb, counts in verbs.items():
        replies = counts["ok"] + counts["error"]
        counts["mean_latency_s"] = latency.get(verb, 0.0) / replies if replies else 0.0
    entry["requests"] = sum(v["ok"] + v["error"] for v in verbs.values())
    entry["errors"] = sum(v["error"] for v in verbs.values())
    entry["verbs"] = verbs
    return entry


def collect(client: Any, hosts_file: str = "") -> dict[str, Any]:
    """One sample of every daemon of `client` (a gkfs._core.Client); in forwarding mode with
    the I/O-node report of gkfs.forwarding.stats. Never raises for a daemon that is down."""
    sample_time = time.time()
    daemons = []
    for index, info in enumerate(client.daemons()):
        entry: dict[str, Any] = {"index": index, "host": info.host, "uri": info.uri,
                                 "up": info.up, "error": info.error or ""}
        if info.up:
            try:
                entry.update(summarize(client.metrics(index)))
            except (OSError, ValueError) as e:
                entry.update(up=False, error=f"no metrics: {e}")
        daemons.append(entry)
    report: dict[str, Any] = {"time": sample_time, "hosts_file": hosts_file, "daemons": daemons}
    if any(d.get("mode") == "forwarding" for d in daemons):
        from gkfs.forwarding import stats

        forwarding = stats.collect(client, hosts_file)
        report.update(io_nodes=forwarding["io_nodes"], apps=forwarding["apps"])
    return report


def _counts(d: dict[str, Any]) -> str:
    return (f"requests={d['requests']} errors={d['errors']} written={_size(d['written_bytes'])} "
            f"read={_size(d['read_bytes'])}")


def format_text(report: dict[str, Any], verbs: bool = True) -> str:
    """One line per daemon and one over all of them; with verbs, each daemon's requests by
    verb (replies ok and failed, mean latency). Forwarding mode adds the I/O-node tables."""
    lines = []
    for d in report["daemons"]:
        head = f"d{d['index']} {d['host']} {d['uri']}"
        if not d["up"]:
            lines.append(f"{head} down ({d['error'] or 'no answer'})")
            continue
        lines.append(f"{head} {d['mode']} {_counts(d)} clients={d['connected_clients']} "
                     f"entries={d['metadata_entries']} "
                     f"metadata={_size(d['metadata_store_bytes'])} "
                     f"chunks={_size(d['chunk_store_bytes'])}")
        if verbs:
            for name, v in sorted(d["verbs"].items()):
                lines.append(f"  {name:<16} ok={v['ok']:<9} error={v['error']:<7} "
                             f"mean={v['mean_latency_s'] * 1e6:.1f}us")
    up = [d for d in report["daemons"] if d["up"]]
    if up:
        total = {key: sum(d[key] for d in up)
                 for key in ("requests", "errors", "written_bytes", "read_bytes")}
        lines.append(f"all daemons: {_counts(total)} ({len(up)} of "
                     f"{len(report['daemons'])} up)")
    if "io_nodes" in report:
        from gkfs.forwarding import stats

        lines.append(stats.format_text(report))
    return "\n".join(lines)
