"""Scheduler configuration: agios.conf's key names and syntax, read into a SchedulerConfig.

The file is found from an explicit path, else ``$GKFS_SCHED_CONFIG``, else GekkoFWD's default
``/tmp/agios.conf`` if it exists; with none, every key has its default. Keys may sit at top
level or inside AGIOS's ``library_options`` group; a ``plugin_options`` group is handed to a
plug-in scheduler as a dict. So that GekkoFWD's and AGIOS's own files work unchanged, a key
(or group, such as ``user_info``) gkfs does not know is ignored and listed in
``SchedulerConfig.ignored`` (the daemon logs them once); a bad value of a key gkfs uses, or a
duplicate, is an error 'file:line: key: problem'. Units are AGIOS's (ns, ms, us, bytes). KEYS below is the one list of keys; the table in docs/forwarding.md is generated from
it (``python -m gkfs.forwarding.scheduling --write docs/forwarding.md``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Any, Callable, Mapping, Optional, Sequence

from gkfs.forwarding.scheduling import libconfig

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_FILE",
    "KEYS",
    "ConfigError",
    "Key",
    "SchedulerConfig",
    "load_config",
    "parse_config",
    "read_wfq_weights",
    "resolve_path",
]

CONFIG_ENV = "GKFS_SCHED_CONFIG"
DEFAULT_FILE = "/tmp/agios.conf"  # GekkoFWD's daemon reads this file when given none
_GROUP = "library_options"
_PLUGIN_GROUP = "plugin_options"


class ConfigError(ValueError):
    """A configuration file is malformed; the message is 'file:line: key: problem'."""


@dataclasses.dataclass(frozen=True)
class Key:
    type: type
    default: Any
    unit: str
    help: str
    check: Optional[Callable[[Any], Optional[str]]] = None
    used: bool = True   # False: an AGIOS key accepted (and type-checked) for compatibility


def _at_least(low: int) -> Callable[[Any], Optional[str]]:
    return lambda v: None if v >= low else f"must be >= {low} (got {v})"


def _algorithm(name: str) -> Optional[str]:
    from gkfs.forwarding.scheduling import registry

    return registry.check_name(name)


KEYS: dict[str, Key] = {
    "default_algorithm": Key(
        str, "SJF", "",
        "Scheduler: NOOP, TO, TO-agg, SJF, MLF, aIOLi, SW, TWINS, WFQ (case-sensitive, as in "
        "AGIOS), a plug-in `module:Class`, or an entry point of group `gkfs.schedulers`.",
        _algorithm),
    "waiting_time": Key(
        int, 900000, "ns",
        "aIOLi and MLF: how long a file is held back when a shift phenomenon or a better "
        "aggregation is expected. 0 disables waiting (both become work-conserving).",
        _at_least(0)),
    "aioli_quantum": Key(
        int, 65536, "bytes",
        "aIOLi: a request's first quantum, and the smallest quantum a file's turn gets. A "
        "turn's quantum stays within [aioli_quantum, max_aggregation * aioli_quantum].",
        _at_least(1)),
    "mlf_quantum": Key(
        int, 8192, "bytes", "MLF: the quantum of level 0; level k has mlf_quantum * 2^k.",
        _at_least(1)),
    "SW_window": Key(
        int, 1000, "ms",
        "SW: width of the arrival-time windows (Song et al. suggest 1000 for disks, 250 for "
        "SSDs).", _at_least(1)),
    "twins_window": Key(
        int, 2000, "us", "TWINS: how long each PFS target's exclusive window lasts.",
        _at_least(1)),
    "wfq_conf": Key(
        str, "", "path",
        "WFQ: weights file (relative paths are relative to this file), read only when "
        "default_algorithm is WFQ. Empty: every application gets wfq_default_weight.", None),
    "max_aggregation": Key(
        int, 16, "requests",
        "gkfs: the most requests merged into one PFS operation (AGIOS's compile-time "
        "MAX_AGGREG_SIZE). 1 disables merging.", _at_least(1)),
    "sw_twins_wfq_merge": Key(
        bool, False, "",
        "gkfs: SW, TWINS and WFQ merge contiguous requests (up to max_aggregation) into one "
        "PFS operation. false: one request per operation, as AGIOS's versions of them."),
    "wfq_weights_by": Key(
        str, "queue", "",
        "WFQ: what the weights file's numbers index. `queue` (AGIOS): the i-th weight is the "
        "i-th queue's, queues numbered 0, 1, ... as applications first reach the I/O node, "
        "turns in that order. `app`: application ids (LIBGKFS_APP_ID, the Slurm job id), "
        "turns in ascending id.", lambda v: None if v in ("queue", "app") else
        f"must be \"queue\" or \"app\" (got {v!r})"),
    "twins_targets": Key(
        int, 0, "targets",
        "gkfs: TWINS rotates over targets 0..N-1, idling through the windows of targets "
        "without requests (AGIOS). 0: rotate over the targets that have pending requests.",
        _at_least(0)),
    "target_concurrency": Key(
        int, 0, "units",
        "gkfs: the most units in service at once per PFS target (server), for every "
        "scheduler; requests of a target at the limit wait, and merge, until one of its units "
        "completes. For a PFS whose servers take one operation at a time (small writes to one "
        "stripe). 0: no limit (--io-threads bounds the units in service).", _at_least(0)),
    "aggregation_size": Key(
        int, 0, "bytes",
        "gkfs: hold a unit smaller than this (e.g. the PFS stripe size) until it grows to it "
        "or its oldest request has waited aggregation_wait, for every scheduler, so later "
        "contiguous requests join it and it goes as one larger operation. 0: never hold.",
        _at_least(0)),
    "aggregation_wait": Key(
        int, 1000, "us",
        "gkfs: the longest a request is held back by aggregation_size.", _at_least(0)),
    "wfq_default_weight": Key(
        int, 1 << 20, "bytes",
        "gkfs: WFQ weight (bytes per round) of a queue (or application) the weights file does "
        "not list.",
        _at_least(1)),
    "trace": Key(bool, False, "", "AGIOS tracing; accepted, ignored.", used=False),
    "trace_file_prefix": Key(str, "", "", "AGIOS tracing; accepted, ignored.", used=False),
    "trace_file_sufix": Key(str, "", "", "AGIOS tracing; accepted, ignored.", used=False),
    "max_trace_buffer_size": Key(int, 32768, "KiB", "AGIOS tracing; accepted, ignored.",
                                 used=False),
    "performance_values": Key(int, 5, "", "AGIOS dynamic selection; accepted, ignored.",
                              used=False),
    "select_algorithm_period": Key(int, -1, "ms", "AGIOS dynamic selection; accepted, "
                                   "ignored.", used=False),
    "select_algorithm_min_reqnumber": Key(int, 1, "", "AGIOS dynamic selection; accepted, "
                                          "ignored.", used=False),
    "enable_SW": Key(bool, False, "", "AGIOS dynamic selection; accepted, ignored.",
                     used=False),
    "starting_algorithm": Key(str, "SJF", "", "AGIOS dynamic selection; accepted, ignored.",
                              used=False),
}


@dataclasses.dataclass(frozen=True)
class SchedulerConfig:
    """What init(config) receives. Field names are the agios.conf keys (AGIOS units);
    the *_s properties give the times in seconds."""

    default_algorithm: str = KEYS["default_algorithm"].default
    waiting_time: int = KEYS["waiting_time"].default
    aioli_quantum: int = KEYS["aioli_quantum"].default
    mlf_quantum: int = KEYS["mlf_quantum"].default
    SW_window: int = KEYS["SW_window"].default
    twins_window: int = KEYS["twins_window"].default
    wfq_conf: str = KEYS["wfq_conf"].default
    max_aggregation: int = KEYS["max_aggregation"].default
    sw_twins_wfq_merge: bool = KEYS["sw_twins_wfq_merge"].default
    wfq_weights_by: str = KEYS["wfq_weights_by"].default
    twins_targets: int = KEYS["twins_targets"].default
    target_concurrency: int = KEYS["target_concurrency"].default
    aggregation_size: int = KEYS["aggregation_size"].default
    aggregation_wait: int = KEYS["aggregation_wait"].default
    wfq_default_weight: int = KEYS["wfq_default_weight"].default
    wfq_weights: Mapping[int, int] = dataclasses.field(default_factory=dict)  # queue/app -> bytes
    plugin_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    source: str = ""  # the file read, or "" for built-in defaults
    ignored: tuple[str, ...] = ()  # 'file:line: name' of each unknown key or group, ignored

    @property
    def waiting_s(self) -> float:
        return self.waiting_time * 1e-9

    @property
    def sw_window_s(self) -> float:
        return self.SW_window * 1e-3

    @property
    def twins_window_s(self) -> float:
        return self.twins_window * 1e-6

    def wfq_weight(self, key: int) -> int:
        """The weight of a queue position or application id (see wfq_weights_by)."""
        return self.wfq_weights.get(key, self.wfq_default_weight)

    @property
    def window_cap(self) -> int:
        """Requests per PFS operation in SW, TWINS and WFQ."""
        return self.max_aggregation if self.sw_twins_wfq_merge else 1


def parse_config(text: str, path: str = "<string>") -> SchedulerConfig:
    """The configuration in `text` (read from `path`, named in errors). Raises ConfigError."""
    try:
        top = libconfig.parse(text, path)
    except libconfig.ConfigSyntaxError as e:
        raise ConfigError(str(e)) from None
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    plugin: dict[str, Any] = {}
    ignored: list[str] = []
    for setting in top:
        if setting.name == _GROUP and isinstance(setting.value, list) and _is_group(setting):
            for inner in setting.value:
                _take(inner, path, values, lines, plugin, ignored)
        else:
            _take(setting, path, values, lines, plugin, ignored)
    used = {k: v for k, v in values.items() if KEYS[k].used}
    config = SchedulerConfig(**used, plugin_options=plugin, source=path, ignored=tuple(ignored))
    if config.wfq_conf and config.default_algorithm == "WFQ":
        wfq_path = os.path.join(os.path.dirname(os.path.abspath(path)), config.wfq_conf)
        try:
            weights = read_wfq_weights(wfq_path)
        except OSError as e:
            raise ConfigError(f"{path}:{lines['wfq_conf']}: wfq_conf: cannot read "
                              f"{wfq_path}: {e.strerror}") from None
        config = dataclasses.replace(config, wfq_conf=wfq_path, wfq_weights=weights)
    return config


def _is_group(setting: libconfig.Setting) -> bool:
    return all(isinstance(v, libconfig.Setting) for v in setting.value)


def _take(setting: libconfig.Setting, path: str, values: dict, lines: dict,
          plugin: dict, ignored: list) -> None:
    where = f"{path}:{setting.line}: {setting.name}"
    if setting.name == _PLUGIN_GROUP:
        if not (isinstance(setting.value, list) and _is_group(setting)):
            raise ConfigError(f"{where}: must be a group {{ ... }}")
        for inner in setting.value:
            plugin[inner.name] = inner.value
        return
    key = KEYS.get(setting.name)
    if key is None:
        ignored.append(where)
        return
    if setting.name in values:
        raise ConfigError(f"{where}: set twice (first at line {lines[setting.name]})")
    value = setting.value
    if not key.used:  # AGIOS's, ignored: whatever value AGIOS would accept
        values[setting.name], lines[setting.name] = value, setting.line
        return
    if key.type is int and isinstance(value, bool) or not isinstance(value, key.type):
        raise ConfigError(f"{where}: must be {_type_name(key.type)} (got {value!r})")
    problem = key.check(value) if key.check else None
    if problem:
        raise ConfigError(f"{where}: {problem}")
    values[setting.name] = value
    lines[setting.name] = setting.line


def _type_name(t: type) -> str:
    return {int: "an integer", str: "a string in double quotes", bool: "true or false"}[t]


def read_wfq_weights(path: str) -> dict[int, int]:
    """WFQ weights (bytes per round) by queue position (or application id, see
    wfq_weights_by). Lines hold AGIOS's whitespace-separated weights (the i-th number is the
    i-th's) and/or 'N = WEIGHT' entries; '#' starts a comment. Raises OSError, or ConfigError
    naming the file and line."""
    weights: dict[int, int] = {}
    position = 0
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if "=" in line:
                app, _, weight = line.partition("=")
                pairs = [(app.strip(), weight.strip())]
            else:
                pairs = []
                for word in line.split():
                    pairs.append((str(position), word))
                    position += 1
            for app, weight in pairs:
                weights[_wfq_int(app, "application id", path, number, 0)] = \
                    _wfq_int(weight, "weight", path, number, 1)
    return weights


def _wfq_int(text: str, what: str, path: str, line: int, low: int) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        value = None
    if value is None or value < low:
        raise ConfigError(f"{path}:{line}: {what} must be an integer >= {low} (got {text!r})")
    return value


def resolve_path(path: Optional[str] = None, environ: Optional[Mapping[str, str]] = None,
                 default_file: Optional[str] = None) -> str:
    """The file load_config reads: `path`, else $GKFS_SCHED_CONFIG, else `default_file`
    (DEFAULT_FILE) if it exists, else '' (every key's default)."""
    environ = os.environ if environ is None else environ
    default_file = DEFAULT_FILE if default_file is None else default_file
    path = path or environ.get(CONFIG_ENV, "")
    if not path and os.path.isfile(default_file):
        path = default_file
    return path


def load_config(path: Optional[str] = None, environ: Optional[Mapping[str, str]] = None,
                default_file: Optional[str] = None) -> SchedulerConfig:
    """The configuration from the file resolve_path() names, or the defaults.
    Raises ConfigError (also for an unreadable file)."""
    path = resolve_path(path, environ, default_file)
    if not path:
        return SchedulerConfig()
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read scheduler configuration: {e.strerror}") \
            from None
    return parse_config(text, path)


# --- documentation ---------------------------------------------------------------------------

DOC_BEGIN = "<!-- BEGIN GENERATED by `python -m gkfs.forwarding.scheduling --write` -->"
DOC_END = "<!-- END GENERATED -->"


def markdown() -> str:
    """The key table of docs/forwarding.md."""
    lines = ["| Key | Default | Unit | Meaning |", "|---|---|---|---|"]
    for name, key in KEYS.items():
        default = f'`"{key.default}"`' if key.type is str else f"`{str(key.default).lower()}`" \
            if key.type is bool else f"`{key.default}`"
        lines.append(f"| `{name}` | {default} | {key.unit} | {key.help} |")
    return "\n".join(lines) + "\n"


def render_doc(current: str) -> str:
    begin, end = current.find(DOC_BEGIN), current.find(DOC_END, current.find(DOC_BEGIN))
    if begin < 0 or end < begin:
        raise ValueError(f"markers {DOC_BEGIN!r} ... {DOC_END!r} not found")
    return current[: begin + len(DOC_BEGIN)] + "\n\n" + markdown() + "\n" + current[end:]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gkfs.forwarding.scheduling",
        description="Check a scheduler configuration file, or print/write/check the key table.")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="DOC", help="rewrite the key table inside DOC")
    group.add_argument("--check-doc", metavar="DOC", help="exit 1 if DOC's table is stale")
    group.add_argument("--print", action="store_true", help="print the key table")
    group.add_argument("--validate", metavar="CONF", help="parse CONF; print the result")
    args = parser.parse_args(argv)
    if args.print:
        print(markdown(), end="")
        return 0
    if args.validate:
        try:
            print(load_config(args.validate))
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    path = args.write or args.check_doc
    with open(path, encoding="utf-8") as f:
        current = f.read()
    rendered = render_doc(current)
    if args.check_doc:
        if rendered != current:
            print(f"{path} is out of date: run python -m gkfs.forwarding.scheduling "
                  f"--write {path}", file=sys.stderr)
            return 1
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(rendered)
    return 0
