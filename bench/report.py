"""Turns one run's pytest-benchmark JSON into a markdown summary with ratio columns and PNG
plots, in the run's directory, and refreshes bench/results/latest.md.

    python bench/report.py RESULTS_DIR          # reads RESULTS_DIR/benchmark.json

Every number is the median over the rounds of one benchmark (the drivers' own timings, see
docs/performance.md); a ratio is gkfs / baseline of the same configuration measured in the
same run (tmpfs on /dev/shm, or ucx_perftest for the transport).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

Row = dict[str, Any]

# Issue 6's targets: (what, suite, configuration, metric, baseline kind, goal, "min"/"max").
TARGETS = [
    ("creates, 1 daemon, 2 procs, shm", "md_preload",
     {"transport": "shm", "daemons": 1, "procs": 2, "mode": "flat"}, "create_ops", "tmpfs", 0.30, "min"),
    ("stats, 1 daemon, 2 procs, shm", "md_preload",
     {"transport": "shm", "daemons": 1, "procs": 2, "mode": "flat"}, "stat_ops", "tmpfs", 0.25, "min"),
    ("seq. 1 MiB writes, 1 daemon, 2 procs (fpp), shm", "io",
     {"transport": "shm", "daemons": 1, "procs": 2, "layout": "fpp", "xfer": "1M", "access": "seq"},
     "write_gbs", "tmpfs", 0.50, "min"),
    ("seq. 1 MiB reads, 1 daemon, 2 procs (fpp), shm", "io",
     {"transport": "shm", "daemons": 1, "procs": 2, "layout": "fpp", "xfer": "1M", "access": "seq"},
     "read_gbs", "tmpfs", 0.50, "min"),
    ("seq. 1 MiB writes, 1 daemon, 2 procs (shared file), shm", "io",
     {"transport": "shm", "daemons": 1, "procs": 2, "layout": "shared", "xfer": "1M", "access": "seq"},
     "write_gbs", "tmpfs", 0.50, "min"),
    ("seq. 1 MiB reads, 1 daemon, 2 procs (shared file), shm", "io",
     {"transport": "shm", "daemons": 1, "procs": 2, "layout": "shared", "xfer": "1M", "access": "seq"},
     "read_gbs", "tmpfs", 0.50, "min"),
]


def load(results: Path) -> tuple[list[Row], dict[str, Any]]:
    data = json.loads((results / "benchmark.json").read_text())
    rows = [dict(b["extra_info"], name=b["name"]) for b in data["benchmarks"] if b.get("extra_info")]
    return rows, data


def pick(rows: list[Row], suite: str, **match: Any) -> list[Row]:
    return [r for r in rows if r.get("suite") == suite and all(r.get(k) == v for k, v in match.items())]


def one(rows: list[Row], suite: str, **match: Any) -> Optional[Row]:
    found = pick(rows, suite, **match)
    return found[0] if found else None


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def fmt(v: Optional[float], kind: str = "num") -> str:
    if v is None:
        return "–"
    if kind == "ratio":
        return f"{v:.2f}"
    if kind == "gbs":
        return f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"
    if kind == "s":
        return f"{v:.2f}" if v >= 1 else f"{v:.3f}"
    if kind == "us":
        return f"{v:.1f}" if v < 100 else f"{v:.0f}"
    return f"{v:,.0f}"


def table(header: list[str], lines: Iterable[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return "\n".join(out) + "\n"


def m(row: Optional[Row], key: str, baseline: bool = False) -> Optional[float]:
    if row is None:
        return None
    return row.get("baseline_median" if baseline else "median", {}).get(key)


# --- the targets ---------------------------------------------------------------------------

def best(row: Optional[Row], key: str) -> Optional[float]:
    """The lowest value of key over the rounds (a latency in the quietest round)."""
    values = [r[key] for r in (row or {}).get("rounds", []) if key in r]
    return min(values) if values else None


def rpc_target(rows: list[Row]) -> list[str]:
    ours = one(rows, "rpc_gkfs", transport="shm", spec="ping:8:0")
    perf = one(rows, "rpc_perftest", tls="sm", test="ucp_am_lat")
    o, p = m(ours, "rtt_us_median"), m(perf, "rtt_us_median")
    ob, pb = best(ours, "rtt_us_median"), best(perf, "rtt_us_median")
    r = ratio(o, p)
    met = "–" if r is None else ("yes" if r <= 1.5 else "**no**")
    quiet = f"; best round {fmt(ob, 'us')} / {fmt(pb, 'us')} µs = {fmt(ratio(ob, pb), 'ratio')}×" if ob else ""
    return ["RPC round trip (8 B), shm", f"{fmt(o, 'us')} µs", f"{fmt(p, 'us')} µs (ucp_am_lat × 2)",
            fmt(r, "ratio") + quiet, "≤ 1.5×", met]


def tcp_create_target(rows: list[Row]) -> list[str]:
    row = one(rows, "md_preload", transport="tcp", daemons=1, procs=2, mode="flat")
    v = m(row, "create_ops")
    best = max(((m(r, "create_ops") or 0, r) for r in pick(rows, "md_preload", transport="tcp")),
               default=(None, None), key=lambda x: x[0])
    met = "–" if v is None else ("yes" if v >= 40000 else "**no**")
    extra = ""
    if best[1] is not None:
        b = best[1]
        extra = f" (best tcp: {fmt(best[0])} at {b['daemons']} daemons, {b['procs']} procs, {b['mode']})"
    return ["creates over tcp, 1 daemon, 2 procs", f"{fmt(v)} /s{extra}", "–", "–", "≥ 40 000/s", met]


def targets_section(rows: list[Row]) -> str:
    lines = []
    for what, suite, match, key, _, goal, _ in TARGETS:
        row = one(rows, suite, **match)
        g, b = m(row, key), m(row, key, baseline=True)
        r = ratio(g, b)
        kind = "gbs" if key.endswith("gbs") else "num"
        unit = " GB/s" if kind == "gbs" else " /s"
        met = "–" if r is None else ("yes" if r >= goal else "**no**")
        lines.append([what, fmt(g, kind) + unit, fmt(b, kind) + unit + " (tmpfs)", fmt(r, "ratio"),
                      f"≥ {goal:.2f}", met])
    lines.append(rpc_target(rows))
    lines.append(tcp_create_target(rows))
    return ("## Where we stand against issue 6's targets\n\n" +
            table(["target", "gkfs", "baseline", "ratio", "goal", "met"], lines))


# --- tables per suite --------------------------------------------------------------------

def md_section(rows: list[Row], suite: str, title: str) -> str:
    found = pick(rows, suite)
    if not found:
        return ""
    header = ["transport", "daemons", "procs", "mode"]
    keys = ["create_ops", "stat_ops", "remove_ops"]
    if any(r.get("mode") == "tree" for r in found):
        keys += ["mkdir_ops", "rmdir_ops"]
    for k in keys:
        name = k.replace("_ops", "")
        header += [f"{name} /s", "tmpfs", "×"]
    lines = []
    for r in found:
        line = [r["transport"], str(r["daemons"]), str(r["procs"]), r.get("mode", "flat")]
        for k in keys:
            g, b = m(r, k), m(r, k, True)
            line += [fmt(g), fmt(b), fmt(ratio(g, b), "ratio")]
        lines.append(line)
    return f"## {title}\n\n" + table(header, lines)


def io_section(rows: list[Row]) -> str:
    found = pick(rows, "io")
    if not found:
        return ""
    header = ["transport", "daemons", "procs", "layout", "xfer", "access", "write GB/s", "tmpfs", "×",
              "read GB/s", "tmpfs", "×", "write ops/s", "read ops/s"]
    lines = []
    for r in found:
        line = [r["transport"], str(r["daemons"]), str(r["procs"]), r["layout"], r["xfer"], r["access"]]
        for k in ("write_gbs", "read_gbs"):
            g, b = m(r, k), m(r, k, True)
            line += [fmt(g, "gbs"), fmt(b, "gbs"), fmt(ratio(g, b), "ratio")]
        line += [fmt(m(r, "write_ops")), fmt(m(r, "read_ops"))]
        lines.append(line)
    return "## Data through the preload (gkfs_io_driver, IOR-like)\n\n" + table(header, lines)


def io_fsync_section(rows: list[Row]) -> str:
    found = pick(rows, "io_fsync")
    if not found:
        return ""
    header = ["daemons", "file", "disk", "write+fsync s", "gkfs full s", "× disk", "gkfs none s",
              "× disk", "gkfs full GB/s", "disk GB/s", "gkfs none GB/s"]
    lines = []
    for r in found:
        disk, full = m(r, "write_s", True), m(r, "write_s")
        none = r.get("none_median", {}).get("write_s")
        lines.append([str(r["daemons"]), r["block"], r.get("disk", "?"), fmt(disk, "s"),
                      fmt(full, "s"), fmt(ratio(full, disk), "ratio"), fmt(none, "s"),
                      fmt(ratio(none, disk), "ratio"), fmt(m(r, "write_gbs"), "gbs"),
                      fmt(m(r, "write_gbs", True), "gbs"),
                      fmt(r.get("none_median", {}).get("write_gbs"), "gbs")])
    return ("## Write + fsync through the preload (gkfs_io_driver -e; daemons' data on a disk)\n\n"
            "One process writes the file in 1 MiB transfers and fsyncs it before close; the time "
            "is the write phase with open, fsync and close. × disk = time / the same on the "
            "daemons' file system itself: with --sync-mode full gkfs's time includes writing the "
            "data to that disk (× about 1 or more, up to the disk's own noise), with none it "
            "returns before the data is durable.\n\n" + table(header, lines))


def startup_section(rows: list[Row]) -> str:
    found = pick(rows, "startup")
    if not found:
        return ""
    lines = []
    for r in found:
        g, b = m(r, "wall_ms"), m(r, "wall_ms", True)
        h = r.get("hyperfine_ms") or {}
        lines.append([r["transport"], r["program"], f"{g:.2f}", f"{b:.2f}", f"{g - b:+.2f}",
                      fmt(ratio(g, b), "ratio"),
                      f"{h['gkfs']:.2f} / {h['baseline']:.2f}" if h else "–"])
    return ("## Client start-up (whole process, ms)\n\n" +
            table(["transport", "program", "preload", "no preload", "difference", "×",
                   "hyperfine preload / none"], lines))


def rpc_section(rows: list[Row]) -> str:
    if not pick(rows, "rpc_gkfs") and not pick(rows, "rpc_perftest"):
        return ""
    lat = []
    for t, tls in (("shm", "sm"), ("tcp", "tcp")):
        ping = one(rows, "rpc_gkfs", transport=t, spec="ping:8:0")
        stat = one(rows, "rpc_gkfs", transport=t, spec="stat")
        create = one(rows, "rpc_gkfs", transport=t, spec="create")
        remove = one(rows, "rpc_gkfs", transport=t, spec="remove")
        py = one(rows, "rpc_python", transport=t)
        am = one(rows, "rpc_perftest", tls=tls, test="ucp_am_lat")
        tag = one(rows, "rpc_perftest", tls=tls, test="tag_lat")
        p = m(ping, "rtt_us_median")
        spread = (f" ({fmt(m(ping, 'rtt_us_p10'), 'us')}–{fmt(m(ping, 'rtt_us_p90'), 'us')})"
                  if ping else "")
        lat.append([t, fmt(p, "us") + spread, fmt(best(ping, "rtt_us_median"), "us"),
                    fmt(m(stat, "rtt_us_median"), "us"),
                    fmt(m(create, "rtt_us_median"), "us"), fmt(m(remove, "rtt_us_median"), "us"),
                    fmt(m(py, "rtt_us_median"), "us"), fmt(m(am, "rtt_us_median"), "us"),
                    fmt(best(am, "rtt_us_median"), "us"),
                    fmt(m(tag, "rtt_us_median"), "us"), fmt(ratio(p, m(am, "rtt_us_median")), "ratio")])
    bw = []
    sizes = sorted({max(r["spec"].split(":")[1:], key=_size_bytes)
                    for r in pick(rows, "rpc_gkfs") if r["spec"].startswith("ping:") and r["spec"] != "ping:8:0"},
                   key=_size_bytes)
    for t, tls in (("shm", "sm"), ("tcp", "tcp")):
        for s in sizes:
            send = m(one(rows, "rpc_gkfs", transport=t, spec=f"ping:{s}:0"), "gbs")
            recv = m(one(rows, "rpc_gkfs", transport=t, spec=f"ping:0:{s}"), "gbs")
            am = m(one(rows, "rpc_perftest", tls=tls, test="ucp_am_bw", size=s), "gbs")
            tag = m(one(rows, "rpc_perftest", tls=tls, test="tag_bw", size=s), "gbs")
            bw.append([t, s, fmt(send, "gbs"), fmt(recv, "gbs"), fmt(am, "gbs"), fmt(tag, "gbs"),
                       fmt(ratio(send, am), "ratio")])
    return ("## RPC layer (1 daemon; ucx_perftest on the same loopback)\n\n"
            "Round trips in µs: median of the rounds' medians (p10–p90 for ours), and the best "
            "round's median (the quietest moment of the machine). ucx_perftest prints one-way "
            "latency (half a round trip); the columns below show it doubled.\n\n" +
            table(["transport", "gkfs ping 8 B", "best round", "gkfs stat", "gkfs create",
                   "gkfs remove", "Python Client.ping", "ucp_am_lat RTT", "best round",
                   "tag_lat RTT", "× ping/am"], lat) +
            "\nBandwidth in GB/s: ours is one call in flight (ping SIZE out, or SIZE back); "
            "ucx_perftest streams many messages.\n\n" +
            table(["transport", "size", "gkfs send", "gkfs receive", "ucp_am_bw", "tag_bw", "× send/am_bw"], bw))


def _size_bytes(s: str) -> int:
    return int(s[:-1]) << {"K": 10, "M": 20}[s[-1]] if s[-1] in "KM" else int(s)


# --- plots --------------------------------------------------------------------------------

STYLE = {"shm": "-", "tcp": ":"}
COLOR = {1: "tab:blue", 2: "tab:orange", 4: "tab:green"}


def _baseline_by(rows: list[Row], key: str, by: Callable[[Row], Any]) -> dict[Any, float]:
    groups: dict[Any, list[float]] = defaultdict(list)
    for r in rows:
        v = m(r, key, True)
        if v is not None:
            groups[by(r)].append(v)
    return {k: statistics.median(v) for k, v in groups.items()}


def _procs_plot(ax: Any, rows: list[Row], key: str, title: str, ylabel: str) -> None:
    for t in ("shm", "tcp"):
        for d in (1, 2, 4):
            sel = sorted((r for r in rows if r["transport"] == t and r["daemons"] == d),
                         key=lambda r: r["procs"])
            if sel:
                ax.plot([r["procs"] for r in sel], [m(r, key) for r in sel], STYLE[t], marker="o",
                        color=COLOR[d], label=f"gkfs {t}, {d} daemon{'s' if d > 1 else ''}")
    base = _baseline_by(rows, key, lambda r: r["procs"])
    if base:
        xs = sorted(base)
        ax.plot(xs, [base[x] for x in xs], "--", color="black", marker="s", label="tmpfs (/dev/shm)")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("client processes")
    ax.set_ylabel(ylabel)
    ax.set_xticks([1, 2, 4])
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)


def _save(fig: Any, path: Path, tight: bool = True) -> None:
    """Saves a small PNG: 72 dpi, quantised to a 64-colour palette."""
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)
    from PIL import Image

    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=64)
    small.save(path, optimize=True)


def plot_md(rows: list[Row], suite: str, title: str, path: Path) -> bool:
    found = pick(rows, suite)
    if not found:
        return False
    modes = [md for md in ("flat", "tree") if any(r.get("mode") == md for r in found)]
    fig, axes = plt.subplots(len(modes), 3, figsize=(13, 3.6 * len(modes) + 0.6), squeeze=False)
    for i, mode in enumerate(modes):
        sel = [r for r in found if r.get("mode") == mode]
        for j, key in enumerate(("create_ops", "stat_ops", "remove_ops")):
            _procs_plot(axes[i][j], sel, key, f"{key[:-4]} ({mode})", "operations/s (log)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.1 if len(modes) > 1 else 0.16, 1, 1))
    _save(fig, path, tight=False)
    return True


def plot_io(rows: list[Row], path: Path) -> bool:
    found = [r for r in pick(rows, "io", xfer="1M", access="seq")]
    if not found:
        return False
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), squeeze=False)
    for i, layout in enumerate(("fpp", "shared")):
        sel = [r for r in found if r["layout"] == layout]
        for j, key in enumerate(("write_gbs", "read_gbs")):
            _procs_plot(axes[i][j], sel, key, f"{key[:-4]}, 1 MiB transfers, {layout}", "GB/s (log)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.suptitle("Sequential I/O through the preload (gkfs_io_driver) vs tmpfs", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    _save(fig, path, tight=False)
    return True


def plot_xfer(rows: list[Row], path: Path) -> bool:
    found = pick(rows, "io", daemons=1, procs=2, access="seq")
    if len({r["xfer"] for r in found}) < 2:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {"fpp": "tab:blue", "shared": "tab:red"}
    for ax, key in zip(axes, ("write_gbs", "read_gbs")):
        for layout in ("fpp", "shared"):
            for t in ("shm", "tcp"):
                sel = sorted((r for r in found if r["layout"] == layout and r["transport"] == t),
                             key=lambda r: _size_bytes(r["xfer"]))
                if sel:
                    ax.plot([_size_bytes(r["xfer"]) for r in sel], [m(r, key) for r in sel], STYLE[t],
                            marker="o", color=colors[layout], label=f"gkfs {t}, {layout}")
            base = _baseline_by([r for r in found if r["layout"] == layout], key,
                                lambda r: _size_bytes(r["xfer"]))
            xs = sorted(base)
            ax.plot(xs, [base[x] for x in xs], "--", color=colors[layout], alpha=0.5, marker="s",
                    label=f"tmpfs, {layout}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks([4096, 65536, 1 << 20, 16 << 20], ["4K", "64K", "1M", "16M"])
        ax.set_xlabel("transfer size")
        ax.set_ylabel("GB/s (log)")
        ax.set_title(f"{key[:-4]}, 1 daemon, 2 processes", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    _save(fig, path)
    return True


def plot_rpc(rows: list[Row], path: Path) -> bool:
    if not pick(rows, "rpc_gkfs"):
        return False
    fig, (lat_ax, bw_ax) = plt.subplots(1, 2, figsize=(12, 4.4))
    labels, values, bests, colors = [], [], [], []
    for t, tls in (("shm", "sm"), ("tcp", "tcp")):
        for name, row, color in (
                ("gkfs ping", one(rows, "rpc_gkfs", transport=t, spec="ping:8:0"), "tab:blue"),
                ("gkfs stat", one(rows, "rpc_gkfs", transport=t, spec="stat"), "tab:cyan"),
                ("Python ping", one(rows, "rpc_python", transport=t), "tab:purple"),
                ("perftest am", one(rows, "rpc_perftest", tls=tls, test="ucp_am_lat"), "grey"),
                ("perftest tag", one(rows, "rpc_perftest", tls=tls, test="tag_lat"), "silver")):
            if m(row, "rtt_us_median") is not None:
                labels.append(f"{name} ({t})")
                values.append(m(row, "rtt_us_median"))
                bests.append(best(row, "rtt_us_median"))
                colors.append(color)
    lat_ax.bar(range(len(values)), values, color=colors, label="median of rounds")
    pts = [(x, b) for x, b in enumerate(bests) if b is not None]
    if pts:
        lat_ax.plot([x for x, _ in pts], [b for _, b in pts], "k_", markersize=14, mew=2,
                    label="best round")
        lat_ax.legend(fontsize=7, loc="upper center")
    lat_ax.set_xticks(range(len(values)), labels, fontsize=7, rotation=45, ha="right")
    lat_ax.set_yscale("log")
    lat_ax.set_ylabel("round trip, µs (median, log)")
    lat_ax.set_title("8-byte round trip", fontsize=10)
    for x, v in enumerate(values):
        lat_ax.text(x, v, f"{v:.1f}", ha="center", va="bottom", fontsize=7)
    for t, tls, color in (("shm", "sm", "tab:blue"), ("tcp", "tcp", "tab:red")):
        for kind, spec_of, style in (("gkfs send", lambda s: f"ping:{s}:0", "-"),
                                     ("gkfs receive", lambda s: f"ping:0:{s}", "-.")):
            pts = [(s, m(one(rows, "rpc_gkfs", transport=t, spec=spec_of(s)), "gbs"))
                   for s in ("64K", "1M", "16M")]
            pts = [(s, v) for s, v in pts if v is not None]
            if pts:
                bw_ax.plot([_size_bytes(s) for s, _ in pts], [v for _, v in pts], style, marker="o",
                           color=color, label=f"{kind}, {t}")
        for test, style in (("ucp_am_bw", "--"), ("tag_bw", ":")):
            pts = [(r["size"], m(r, "gbs")) for r in pick(rows, "rpc_perftest", tls=tls, test=test)]
            pts = sorted(pts, key=lambda p: _size_bytes(p[0]))
            if pts:
                bw_ax.plot([_size_bytes(s) for s, _ in pts], [v for _, v in pts], style, marker="s",
                           color=color, alpha=0.6, label=f"{test}, {tls}")
    bw_ax.set_xscale("log", base=2)
    bw_ax.set_xticks([65536, 1 << 20, 16 << 20], ["64K", "1M", "16M"])
    bw_ax.set_xlabel("message size")
    bw_ax.set_ylabel("GB/s")
    bw_ax.set_title("bandwidth", fontsize=10)
    bw_ax.grid(True, alpha=0.3)
    bw_ax.legend(fontsize=7)
    _save(fig, path)
    return True


# --- the document -------------------------------------------------------------------------

def machine(data: dict[str, Any]) -> str:
    mi = data.get("machine_info", {})
    ci = data.get("commit_info", {})
    cpu = mi.get("cpu", {})
    run = data.get("gkfs", {})
    load = run.get("loadavg_1min", {})
    mode = "--quick, " if run.get("quick") else ""
    rounds = run.get("rounds") or (1 if run.get("quick") else 3)
    return (f"Run {data.get('datetime', '?')} on {mi.get('node', '?')}: "
            f"{cpu.get('brand_raw', '?')}, {cpu.get('count', '?')} cores, "
            f"Python {mi.get('python_version', '?')}; commit {str(ci.get('id', '?'))[:10]}"
            f"{' (dirty tree)' if ci.get('dirty') else ''}; {mode}{rounds} round(s) per "
            f"benchmark, {load.get('minutes', '?')} min; 1-minute load average "
            f"{load.get('start', 0):.1f} at the start, {load.get('end', 0):.1f} at the end "
            f"(other work on the machine).")


def only_issue11_suites(rows: list[Row]) -> bool:
    """A run of the io500 and threads suites only: issue 6's targets would all be '–'."""
    return all(r.get("suite") in ("io500", "threads") for r in rows)


def compact(results: Path, data: dict[str, Any]) -> None:
    """pytest-benchmark indents its JSON; the stored copy is written without whitespace."""
    (results / "benchmark.json").write_text(json.dumps(data, separators=(",", ":")))


# Issue 11's targets: (what, goal) in the order of the issue; the measures come from the
# io500 and threads suites (report_io500.targets, report_threads.targets).
TARGETS_11 = {"IO500 score, shm": 0.40, "IO500 score, tcp": 0.20, "ior-hard-read, shm": 0.30,
              "4 KiB sequential reads, one process, shm": 0.25, "mdtest-easy-write, shm": 0.35, "4 threads / 1 thread, stat, shm": 1.8}


def targets_11_section(rows: list[Row]) -> str:
    from report_io500 import targets as io500_targets
    from report_threads import targets as threads_targets

    found = dict(io500_targets(rows) + threads_targets(rows))
    if not found:
        return ""
    lines = [[what, fmt(found.get(what), "ratio"), f"≥ {goal:.2f}",
              "–" if found.get(what) is None else ("yes" if found[what] >= goal else "**no**")]
             for what, goal in TARGETS_11.items() if what in found]
    return ("## Issue 11's targets (1 daemon, 2 ranks; ratios gkfs / tmpfs, or N / 1 thread)\n\n" +
            table(["measure", "now", "target", "met"], lines))


def write(results: Path) -> Path:
    from report_io500 import io500_section, plot_io500
    from report_threads import plot_threads, threads_section

    rows, data = load(results)
    compact(results, data)
    plots = []
    if plot_md(rows, "md_preload", "Metadata through the preload (gkfs_md_driver) vs tmpfs",
               results / "md_preload.png"):
        plots.append(("Metadata, preload", "md_preload.png"))
    if plot_md(rows, "md_client", "Metadata through gkfs.Client vs the os module on tmpfs",
               results / "md_client.png"):
        plots.append(("Metadata, gkfs.Client", "md_client.png"))
    if plot_io(rows, results / "io_procs.png"):
        plots.append(("Sequential 1 MiB I/O by processes and daemons", "io_procs.png"))
    if plot_xfer(rows, results / "io_xfer.png"):
        plots.append(("I/O by transfer size", "io_xfer.png"))
    if plot_rpc(rows, results / "rpc.png"):
        plots.append(("RPC layer", "rpc.png"))
    if plot_io500(rows, results / "io500.png"):
        plots.append(("IO500 phases relative to tmpfs", "io500.png"))
    if plot_threads(rows, results / "threads.png"):
        plots.append(("Threads of one process", "threads.png"))
    doc = [f"# gkfs benchmarks: {results.name}\n",
           machine(data) + " Every number is the median of the benchmark's rounds; × is gkfs / "
           "baseline, both measured in this run (tmpfs on /dev/shm with the same driver, or "
           "ucx_perftest). gkfs daemons keep chunks and RocksDB on /dev/shm. "
           "Transport shm = `-P ucx+shm --auto-sm`, tcp = `-P ucx+tcp --no-auto-sm`. The machine is shared "
           "and has 2 cores: expect ±20 % between runs.\n",
           targets_section(rows) if not only_issue11_suites(rows) else "",
           targets_11_section(rows),
           md_section(rows, "md_preload", "Metadata through the preload (gkfs_md_driver, mdtest-like)"),
           md_section(rows, "md_client", "Metadata through gkfs.Client (py_md_driver; baseline: os module on tmpfs)"),
           io_section(rows), io_fsync_section(rows), startup_section(rows), rpc_section(rows),
           io500_section(rows), threads_section(rows)]
    doc += [f"## {title}\n\n![{title}]({name})\n" for title, name in plots]
    text = "\n".join(d for d in doc if d)
    (results / "summary.md").write_text(text)
    latest = results.parent / "latest.md"
    prefix = results.name + "/"
    latest_text = text
    for _, name in plots:
        latest_text = latest_text.replace(f"]({name})", f"]({prefix}{name})")
    latest.write_text(latest_text)
    return results / "summary.md"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python bench/report.py RESULTS_DIR")
    print(write(Path(sys.argv[1])))
