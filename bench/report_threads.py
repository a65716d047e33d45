"""The threads suite's part of a run's summary (bench/report.py calls it): stat and 4 KiB read
calls per second of 1, 2 and 4 threads of one process, gkfs beside tmpfs (×), and how each
scales with threads (÷1 = N threads / 1 thread, both from the same driver run)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import matplotlib.pyplot as plt

from report import Row, _save, fmt, m, pick, ratio, table

THREADS = (1, 2, 4)
STYLE = {"shm": "-", "tcp": ":"}
COLOR = {1: "tab:blue", 2: "tab:orange", 4: "tab:green"}


def threads_section(rows: list[Row]) -> str:
    found = pick(rows, "threads")
    if not found:
        return ""
    header = ["transport", "daemons", "threads"]
    for what in ("stat", "4 KiB read"):
        header += [f"{what} /s", "tmpfs", "×", "gkfs ÷1", "tmpfs ÷1"]
    lines = []
    for r in found:
        for t in THREADS:
            line = [r["transport"], str(r["daemons"]), str(t)]
            for metric in ("stat_ops", "read_ops"):
                key, one = f"{metric}_t{t}", f"{metric}_t1"
                g, b = m(r, key), m(r, key, True)
                line += [fmt(g), fmt(b), fmt(ratio(g, b), "ratio"),
                         fmt(ratio(g, m(r, one)), "ratio"), fmt(ratio(b, m(r, one, True)), "ratio")]
            lines.append(line)
    first = found[0]
    return ("## Threads of one process (gkfs_threads_driver) beside tmpfs\n\n"
            f"Each thread makes {first['stats']} stat calls (over 256 files) and "
            f"{first['reads']} sequential 4 KiB reads of its own 4 MiB file; calls/s over all "
            "threads, median of the rounds. × = gkfs / tmpfs; ÷1 = N threads / 1 thread in the "
            "same driver run.\n\n" + table(header, lines))


def plot_threads(rows: list[Row], path: Path) -> bool:
    found = pick(rows, "threads")
    if not found:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, metric, title in ((axes[0], "stat_ops", "stat"), (axes[1], "read_ops", "4 KiB reads")):
        for r in found:
            ax.plot(THREADS, [m(r, f"{metric}_t{t}") for t in THREADS], STYLE[r["transport"]],
                    marker="o", color=COLOR.get(r["daemons"], "tab:red"),
                    label=f"gkfs {r['transport']}, {r['daemons']} daemon{'s' if r['daemons'] > 1 else ''}")
        base = found[0]
        ax.plot(THREADS, [m(base, f"{metric}_t{t}", True) for t in THREADS], "--", color="black",
                marker="s", label="tmpfs (/dev/shm)")
        ax.set_title(f"{title}, threads of one process", fontsize=10)
        ax.set_xlabel("threads")
        ax.set_ylabel("calls/s (log)")
        ax.set_xticks(list(THREADS))
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    _save(fig, path)
    return True


def targets(rows: list[Row]) -> list[tuple[str, Optional[float]]]:
    """Issue 11's measures from this suite (shm, 1 daemon): 4 KiB sequential reads of one
    thread against tmpfs, and 4 threads / 1 thread of stat."""
    found = pick(rows, "threads", transport="shm", daemons=1)
    if not found:
        return []
    r = found[0]
    return [("4 KiB sequential reads, one process, shm", ratio(m(r, "read_ops_t1"), m(r, "read_ops_t1", True))),
            ("4 threads / 1 thread, stat, shm", ratio(m(r, "stat_ops_t4"), m(r, "stat_ops_t1")))]
