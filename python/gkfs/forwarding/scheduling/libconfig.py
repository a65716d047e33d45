r"""A reader for the subset of libconfig syntax that agios.conf files use.

Grammar (libconfig's, minus @include and lists)::

    file     = { setting }
    setting  = name ( "=" | ":" ) value [ ";" | "," ]
    value    = scalar | "{" { setting } "}" | "[" [ scalar { "," scalar } ] "]"
    scalar   = boolean | integer | float | string { string }
    name     = [A-Za-z*][-A-Za-z0-9_*]*
    boolean  = true | false                      (any case)
    integer  = [+-]digits | 0x hexdigits         (optional L / LL suffix)
    string   = '"' chars with \\ \" \n \r \t \f \xNN escapes '"'

Comments run from '#' or '//' to the end of the line, or between '/*' and '*/'.
:func:`parse` returns the settings with the line each one is on, so callers can name the
file, line and key in their errors.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Union

__all__ = ["ConfigSyntaxError", "Setting", "parse"]


class ConfigSyntaxError(ValueError):
    """The text is not valid libconfig; the message is 'file:line: ...'."""


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    value: Any          # bool, int, float, str, list of scalars, or list of Setting (a group)
    line: int


_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f\v]+)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*|//[^\n]*)
  | (?P<block>/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<float>[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])|[-+]?\d+[eE][-+]?\d+(?![\w.]))
  | (?P<hex>0[xX][0-9A-Fa-f]+(?:LL|L)?(?![\w.]))
  | (?P<int>[-+]?\d+(?:LL|L)?(?![\w.]))
  | (?P<name>[A-Za-z*][-A-Za-z0-9_*]*)
  | (?P<punct>[=:;,{}\[\]()])
""", re.VERBOSE | re.DOTALL)

_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t", "f": "\f"}


def _tokens(text: str, path: str) -> list[tuple[str, Any, int]]:
    tokens, line, pos = [], 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            if text.startswith("@include", pos):
                raise ConfigSyntaxError(f"{path}:{line}: @include is not supported")
            snippet = text[pos:pos + 20].split("\n")[0]
            raise ConfigSyntaxError(f"{path}:{line}: syntax error at {snippet!r}")
        kind, raw = match.lastgroup, match.group()
        if kind == "string":
            tokens.append(("scalar", _unescape(raw[1:-1], path, line), line))
        elif kind == "float":
            tokens.append(("scalar", float(raw), line))
        elif kind in ("hex", "int"):
            tokens.append(("scalar", int(raw.rstrip("L"), 0 if kind == "hex" else 10), line))
        elif kind == "name":
            lowered = raw.lower()
            if lowered in ("true", "false"):
                tokens.append(("scalar", lowered == "true", line))
            else:
                tokens.append(("name", raw, line))
        elif kind == "punct":
            tokens.append((raw, raw, line))
        line += raw.count("\n")
        pos = match.end()
    return tokens


def _unescape(body: str, path: str, line: int) -> str:
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", body[i + 2:i + 4]):
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        else:
            raise ConfigSyntaxError(f"{path}:{line}: bad escape '\\{nxt}' in a string")
    return "".join(out)


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any, int]], path: str) -> None:
        self.tokens, self.path, self.pos = tokens, path, 0

    def peek(self) -> tuple[str, Any, int]:
        if self.pos < len(self.tokens):
            return self.tokens[self.pos]
        last = self.tokens[-1][2] if self.tokens else 1
        return ("end", None, last)

    def take(self) -> tuple[str, Any, int]:
        token = self.peek()
        self.pos += 1
        return token

    def fail(self, expected: str) -> ConfigSyntaxError:
        kind, value, line = self.peek()
        found = "end of file" if kind == "end" else repr(value)
        return ConfigSyntaxError(f"{self.path}:{line}: syntax error: expected {expected}, "
                                 f"found {found}")

    def settings(self, closing: str) -> list[Setting]:
        result: list[Setting] = []
        while self.peek()[0] != closing:
            kind, name, line = self.take()
            if kind != "name":
                self.pos -= 1
                raise self.fail("a setting name" + (" or '}'" if closing == "}" else ""))
            if self.peek()[0] not in ("=", ":"):
                raise self.fail(f"'=' or ':' after {name!r}")
            self.take()
            result.append(Setting(name, self.value(), line))
            if self.peek()[0] in (";", ","):
                self.take()
        return result

    def value(self) -> Union[Any, list]:
        kind, value, _ = self.peek()
        if kind == "scalar":
            return self.scalar()
        if kind == "{":
            self.take()
            group = self.settings("}")
            self.take()
            return group
        if kind == "[":
            self.take()
            items = []
            while self.peek()[0] != "]":
                if items:
                    if self.peek()[0] != ",":
                        raise self.fail("',' or ']'")
                    self.take()
                if self.peek()[0] != "scalar":
                    raise self.fail("a value in the array")
                items.append(self.scalar())
            self.take()
            return items
        if kind == "(":
            raise ConfigSyntaxError(f"{self.path}:{self.peek()[2]}: lists '( ... )' are not "
                                    f"supported")
        raise self.fail("a value (strings need double quotes)" if kind == "name" else "a value")

    def scalar(self) -> Any:
        _, value, _ = self.take()
        if isinstance(value, str):  # adjacent strings concatenate
            while self.peek()[0] == "scalar" and isinstance(self.peek()[1], str):
                value += self.take()[1]
        return value


def parse(text: str, path: str = "<string>") -> list[Setting]:
    """The top-level settings of a libconfig text. Raises ConfigSyntaxError."""
    parser = _Parser(_tokens(text, path), path)
    result = parser.settings("end")
    return result
