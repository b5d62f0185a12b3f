"""JSON from outside (a client frame, a recording line) with its nesting depth checked before parsing.

``json.loads`` recurses once per nesting level: ``[[[[...]]]]`` a hundred thousand deep raises
RecursionError (or worse, in a thread with a small stack). :func:`loads_limited` counts the depth
first, with a scan that runs in C for ordinary input, and refuses deeper text with a ValueError.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 64
"""Deepest nesting accepted from outside: venue frames and client messages use fewer than 10 levels."""

_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_BTOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class TooDeep(ValueError):
    """JSON nested deeper than the limit (a ValueError, as json.JSONDecodeError is)."""


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of arrays and objects in ``text`` (brackets inside strings do not count)."""
    tokens = _BTOKENS if isinstance(text, bytes) else _TOKENS
    depth = deepest = 0
    for match in tokens.finditer(text):  # type: ignore[arg-type]
        char = match.group()[:1]
        if char in ("[", "{", b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif char in ("]", "}", b"]", b"}"):
            depth -= 1
    return deepest


def _openers(text: str | bytes) -> int:
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{")
    return text.count("[") + text.count("{")


def loads_limited(text: str | bytes, max_depth: int = MAX_JSON_DEPTH, **options: Any) -> Any:
    """``json.loads(text, **options)``, refusing text nested deeper than ``max_depth`` (:class:`TooDeep`)
    before parsing."""
    if _openers(text) > max_depth and json_depth(text) > max_depth:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text, **options)
