"""The IO500 suite's part of a run's summary (bench/report.py calls it): one table per rank
count with every phase and the score, gkfs beside tmpfs with ratio columns, and a plot of the
ratios.

A configuration's ratio is the median of its gkfs rounds over the median of the tmpfs rounds
run just before them (same run, same ranks); the tmpfs column is the median over all of that
rank count's baseline rounds.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Optional

import matplotlib.pyplot as plt

from report import Row, _save, fmt, m, pick, ratio, table


def _configs(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r["transport"], r["daemons"]))


def _keys(rows: list[Row]) -> list[str]:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r.get("phases", []) if k not in keys]
    return keys


def _label(r: Row) -> str:
    return f"{r['transport']}, {r['daemons']} daemon{'s' if r['daemons'] > 1 else ''}"


def _value(v: Optional[float], unit: str) -> str:
    return fmt(v, "gbs") if unit == "GiB/s" else (f"{v:.1f}" if v is not None else "–")


def io500_section(rows: list[Row]) -> str:
    found = pick(rows, "io500")
    if not found:
        return ""
    first = found[0]
    out = ["## IO500 (unmodified, through `gkfs-ctl run`) beside tmpfs\n",
           f"`io500 --mode={first.get('mode')}` with bench/io500.ini, `stonewall-time = "
           f"{first.get('stonewall')}` (a scaled run: INVALID for the list). Phases in GiB/s or "
           "kIOPS as IO500 prints them, median of the rounds; × = gkfs / tmpfs of the rounds run "
           "beside it; tmpfs = median of all the rank count's baseline rounds.\n"]
    for ranks in sorted({r["ranks"] for r in found}):
        sel = _configs([r for r in found if r["ranks"] == ranks])
        units: dict[str, str] = {}
        for r in sel:
            units.update(r.get("units", {}))
        header = ["phase", "unit", "tmpfs"]
        for r in sel:
            header += [f"gkfs {_label(r)}", "×"]
        lines = []
        for key in _keys(sel):
            unit = units.get(key, "")
            bases = [b for b in (m(r, key, True) for r in sel) if b is not None]
            line = [key, unit, _value(statistics.median(bases) if bases else None, unit)]
            for r in sel:
                line += [_value(m(r, key), unit), fmt(ratio(m(r, key), m(r, key, True)), "ratio")]
            lines.append(line)
        out.append(f"### {ranks} ranks\n\n" + table(header, lines))
    return "\n".join(out)


def plot_io500(rows: list[Row], path: Path) -> bool:
    found = pick(rows, "io500")
    if not found:
        return False
    rank_counts = sorted({r["ranks"] for r in found})
    fig, axes = plt.subplots(len(rank_counts), 1, figsize=(13, 4.2 * len(rank_counts)),
                             squeeze=False)
    for ax, ranks in zip((a[0] for a in axes), rank_counts):
        sel = _configs([r for r in found if r["ranks"] == ranks])
        keys = _keys(sel)
        width = 0.8 / max(len(sel), 1)
        for i, r in enumerate(sel):
            xs = [k + (i - (len(sel) - 1) / 2) * width for k in range(len(keys))]
            ys = [ratio(m(r, key), m(r, key, True)) or 0 for key in keys]
            ax.bar(xs, ys, width, label=f"gkfs {_label(r)}")
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="tmpfs (= 1)")
        ax.set_xticks(range(len(keys)), keys, rotation=40, ha="right", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("gkfs / tmpfs (log)")
        ax.set_title(f"IO500, {ranks} ranks: each phase and the score relative to tmpfs",
                     fontsize=10)
        ax.grid(True, axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8, ncol=5)
    _save(fig, path)
    return True


def targets(rows: list[Row]) -> list[tuple[str, Optional[float]]]:
    """Issue 11's IO500 measures at 1 daemon, 2 ranks: (what, gkfs / tmpfs)."""
    out = []
    for t, key, what in (("shm", "score", "IO500 score, shm"), ("tcp", "score", "IO500 score, tcp"),
                         ("shm", "ior-hard-read", "ior-hard-read, shm"),
                         ("shm", "mdtest-easy-write", "mdtest-easy-write, shm")):
        found = pick(rows, "io500", transport=t, daemons=1, ranks=2)
        if found:
            out.append((what, ratio(m(found[0], key), m(found[0], key, True))))
    return out
