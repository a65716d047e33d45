"""The jobs file of `gkfs-ctl fwd-map --jobs`: each job's hosts and its bandwidth curve.

TOML, one [[job]] table per job::

    [[job]]
    name = "climate"                 # optional; default job<N>
    hosts = "cn[01-08]"              # a host list (see hostlist.py) or an array of names
    bandwidth = { 0 = 1.5, 1 = 2.1, 2 = 3.9, 4 = 6.0 }   # declared: I/O nodes -> bandwidth
    # or: bandwidth_file = "climate.csv"        # measured: lines 'io_nodes,bandwidth'
    app_id = 4242                    # optional: its requests' application id (the Slurm
                                     # job id), so gkfs-ctl fwd-arbiter can measure it

A curve gives, for some numbers of I/O nodes, the aggregate bandwidth the job reaches with
them (any unit, the same for every job). The point ``0`` is the job's bandwidth going
**direct** to the PFS with no I/O node: the I/O nodes cannot measure it, so it is only ever
declared; `gkfs-ctl fwd-arbiter` may then map the job's hosts ``direct``. A measured file may hold several samples per count
(their mean is used), a header line and '#' comments; relative paths are relative to the
jobs file. Errors name the file, the job and the key.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Mapping, Optional

from gkfs.forwarding import hostlist

__all__ = ["Job", "JobsError", "read_bandwidth_file", "read_jobs"]

_KEYS = {"name", "hosts", "bandwidth", "bandwidth_file", "app_id"}


class JobsError(ValueError):
    """A jobs or bandwidth file is malformed; the message names file, job and key/line."""


@dataclasses.dataclass(frozen=True)
class Job:
    name: str
    hosts: tuple[str, ...]
    curve: Mapping[int, float]   # I/O nodes -> bandwidth (empty: not declared)
    app_id: Optional[int] = None  # the application id its requests carry, if known


def read_jobs(path: str) -> list[Job]:
    """The jobs of TOML file `path`. Raises OSError or JobsError."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        raise JobsError(f"{path}: reading a jobs file needs Python >= 3.11 (tomllib)") from None
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise JobsError(f"{path}: {e}") from None
    extra = set(data) - {"job"}
    if extra:
        raise JobsError(f"{path}: unknown top-level key(s) {sorted(extra)}; jobs are [[job]] "
                        f"tables")
    tables = data.get("job", [])
    if not isinstance(tables, list) or not tables:
        raise JobsError(f"{path}: no [[job]] tables")
    jobs = [_job(t, i, path) for i, t in enumerate(tables, 1)]
    names = [j.name for j in jobs]
    for name in names:
        if names.count(name) > 1:
            raise JobsError(f"{path}: job name {name!r} is used twice")
    return jobs


def _job(table: Mapping[str, Any], number: int, path: str) -> Job:
    name = table.get("name", f"job{number}")
    where = f"{path}: job {name!r} (#{number})"
    unknown = set(table) - _KEYS
    if unknown:
        raise JobsError(f"{where}: unknown key(s) {sorted(unknown)}")
    hosts = table.get("hosts")
    try:
        if isinstance(hosts, str):
            host_list = hostlist.expand(hosts)
        elif isinstance(hosts, list) and all(isinstance(h, str) for h in hosts):
            host_list = [h for item in hosts for h in hostlist.expand(item)]
        else:
            raise JobsError(f"{where}: hosts must be a host list string or an array of names")
    except hostlist.HostlistError as e:
        raise JobsError(f"{where}: hosts: {e}") from None
    if not host_list:
        raise JobsError(f"{where}: hosts is empty")
    if "bandwidth" in table and "bandwidth_file" in table:
        raise JobsError(f"{where}: give bandwidth or bandwidth_file, not both")
    curve: dict[int, float] = {}
    if "bandwidth" in table:
        if not isinstance(table["bandwidth"], dict):
            raise JobsError(f"{where}: bandwidth must be a table {{ 1 = 2.0, 2 = 3.5 }}")
        for key, value in table["bandwidth"].items():
            curve[_io_nodes(key, f"{where}: bandwidth")] = _bandwidth(value, f"{where}: "
                                                                      f"bandwidth.{key}")
    elif "bandwidth_file" in table:
        file = os.path.join(os.path.dirname(os.path.abspath(path)), table["bandwidth_file"])
        try:
            curve = read_bandwidth_file(file)
        except OSError as e:
            raise JobsError(f"{where}: bandwidth_file: cannot read {file}: {e.strerror}") \
                from None
    app_id = table.get("app_id")
    if app_id is not None and (isinstance(app_id, bool) or not isinstance(app_id, int) or
                               not 0 <= app_id < 1 << 32):
        raise JobsError(f"{where}: app_id must be an integer in 0..{(1 << 32) - 1}, got "
                        f"{app_id!r}")
    return Job(str(name), tuple(host_list), curve, app_id)


def _io_nodes(text: Any, where: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if value < 0 or (value == 0 and str(text).strip() != "0"):
        raise JobsError(f"{where}: {text!r} is not a number of I/O nodes (an integer >= 0; "
                        f"0: direct)")
    return value


def _bandwidth(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or value < 0:
        raise JobsError(f"{where}: bandwidth must be a number >= 0, got {value!r}")
    return float(value)


def read_bandwidth_file(path: str) -> dict[int, float]:
    """Measured curve: CSV lines 'io_nodes,bandwidth' (mean of repeated counts); a first line
    that is not numeric is a header. Raises OSError or JobsError naming the line."""
    samples: dict[int, list[float]] = {}
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            fields = [x.strip() for x in line.split(",")]
            if number == 1 and not fields[0].isdigit():
                continue
            if len(fields) != 2:
                raise JobsError(f"{path}:{number}: expected 'io_nodes,bandwidth', got {line!r}")
            try:
                bandwidth = float(fields[1])
            except ValueError:
                bandwidth = math.nan
            k = _io_nodes(fields[0], f"{path}:{number}")
            samples.setdefault(k, []).append(_bandwidth(bandwidth, f"{path}:{number}"))
    if not samples:
        raise JobsError(f"{path}: no measurements")
    return {k: sum(v) / len(v) for k, v in sorted(samples.items())}
