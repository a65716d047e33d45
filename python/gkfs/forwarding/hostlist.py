"""Host lists as HPC users write them: 'cn1,cn2', Slurm ranges 'cn[01-04,07]', or '@FILE'."""

from __future__ import annotations

import itertools
import re

__all__ = ["HostlistError", "expand"]


class HostlistError(ValueError):
    """A host list is malformed; the message quotes it."""


def expand(text: str) -> list[str]:
    """The hosts of `text`, in order. Items are separated by commas or whitespace; an item
    may hold bracketed ranges ('n[1-3]', 'r[1-2]n[01-02]', zero padding kept); '@FILE' reads
    the file (one or more items per line, '#' comments). Raises HostlistError or OSError."""
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as f:
            return [h for line in f for h in expand(line.split("#", 1)[0])]
    hosts: list[str] = []
    for item in _split(text):
        hosts.extend(_expand_item(item, text))
    return hosts


def _split(text: str) -> list[str]:
    items, depth, current = [], 0, []
    for c in text:
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth < 0:
                raise HostlistError(f"unbalanced ']' in host list {text!r}")
        if depth == 0 and (c == "," or c.isspace()):
            if current:
                items.append("".join(current))
            current = []
        else:
            current.append(c)
    if depth:
        raise HostlistError(f"unbalanced '[' in host list {text!r}")
    if current:
        items.append("".join(current))
    return items


_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


def _expand_item(item: str, text: str) -> list[str]:
    parts = re.split(r"\[([^\]]*)\]", item)   # literal, ranges, literal, ranges, ...
    choices: list[list[str]] = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            if "[" in part or "]" in part:
                raise HostlistError(f"nested brackets in host list {text!r}")
            choices.append([part])
            continue
        values: list[str] = []
        for piece in part.split(","):
            match = _RANGE.fullmatch(piece.strip())
            if not match:
                raise HostlistError(f"bad range {piece!r} in host list {text!r}")
            first, last = match.group(1), match.group(2) or match.group(1)
            if int(last) < int(first):
                raise HostlistError(f"range {piece!r} runs backwards in host list {text!r}")
            width = len(first) if first.startswith("0") else 0
            values.extend(str(n).zfill(width) for n in range(int(first), int(last) + 1))
        choices.append(values)
    return ["".join(combo) for combo in itertools.product(*choices)]
