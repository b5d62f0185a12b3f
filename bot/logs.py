"""What the bot writes for people and machines: one timestamp format, short lines, json on demand.

Text (the default): ``2026-12-05T23:05:40.679Z INFO    arbot.exchange.paper: message``, each line
cut to :data:`MAX_LINE` characters unless the run is verbose (``arbot run -v``, or ``log_level =
"DEBUG"``); a traceback, when there is one, follows in full. Every control character in either (C0, DEL, C1, bidi
controls: :func:`escape_controls`) is shown as its escape, never sent to the terminal; json lines write the ones
JSON leaves raw (DEL, C1, bidi) as ``\\uXXXX``. Json (``[bot] log_format = "json"``):
one object per line with ``ts``, ``level``, ``logger``, ``msg``, the extras a caller passed with
``extra=``, and ``exc`` for a traceback, never cut. Timestamps are UTC, ISO 8601 with
milliseconds, on every stream (alerts on the console use :func:`format_ts` too).

Colour: only on a terminal, never when ``NO_COLOR`` is set to anything (https://no-color.org)
or ``--no-color`` is given (which sets ``NO_COLOR`` for the process).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
from typing import Any, TextIO

from .redact import RECORD_FIELDS, REDACTOR

MAX_LINE = 120
"""Longest text line on the console; the rest is shown with ``-v`` (or in json)."""
QUIET_LIBRARIES = ("apscheduler", "httpx", "httpcore", "telegram", "discord", "aiohttp.access", "websockets")
"""Libraries whose INFO lines (one per request, job run or poll) are noise to a trader: WARNING and above."""

_verbose = False
_json = False


def format_ts(ts_ns: int) -> str:
    """``2026-12-05T23:05:40.679Z``: the one timestamp format of every stream."""
    when = dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def json_lines() -> bool:
    """True when stderr carries JSON objects only (``log_format = "json"``): say everything through logging."""
    return _json


def verbose() -> bool:
    """True when details were asked for (``-v``, or DEBUG): console lines are not cut."""
    return _verbose


LINE_BREAKS = str.maketrans({"\r": "\\r", "\n": "\\n"})


def fit(line: str, width: int = MAX_LINE) -> str:
    """``line`` as one line, cut to ``width`` characters (ending in "…") unless the run is verbose.

    Line breaks in it (a venue's error body, a plugin's message) are shown as ``\\r``/``\\n``: one event stays one
    line, and nothing in a message can pass for a line of its own."""
    line = line.translate(LINE_BREAKS)
    if _verbose or len(line) <= width:
        return line
    return line[: width - 1] + "…"


BIDI_CONTROLS = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
"""The bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): text after one is shown reordered,
so a quoted stranger's text could make a line read otherwise than it is."""
CONTROLS = {code: repr(chr(code))[1:-1] for code in (*range(32), *range(127, 160), *BIDI_CONTROLS)}
"""Each C0 and C1 control character (ESC, BEL, CR, the CSI 0x9b, ...) and each bidi control as the escape that names
it: ``\\x1b``, ``\\u202e``."""
_JSON_RAW = {code: f"\\u{code:04x}" for code in (*range(127, 160), *BIDI_CONTROLS)}
"""What :func:`json.dumps` (with ``ensure_ascii=False``) writes raw, as the JSON escape that reads back the same."""
_CONTROLS_BUT_NEWLINE = {code: shown for code, shown in CONTROLS.items() if code != ord("\n")}


def escape_controls(text: str, *, lines: bool = False) -> str:
    """``text`` for a terminal: every control character (C0, DEL, C1, bidi: :data:`CONTROLS`) shown as the escape
    that names it (``\\x1b``, ``\\r``, ``\\u202e``), never sent, since a terminal obeys an escape sequence quoted
    from outside (a venue's error body); with ``lines``, newlines are kept."""
    return text.translate(_CONTROLS_BUT_NEWLINE if lines else CONTROLS)


FAILURE_MAX_CHARS = 200
"""Longest text a status surface quotes of a failure (:func:`describe_failure`); the log keeps the whole traceback."""
_LOCAL_PATH = re.compile(r"(?<![\w.~:/\\-])(?:~|[A-Za-z]:)?(?:[/\\]+[^\s/\\'\"<>|,;()\[\]`]+){2,}")
"""A path on this machine (``/home/user/project/x.py``, ``~/x/y``, ``C:\\Users\\x``): at least two parts, not
inside a URL (a venue's ``https://host/0/private/AddOrder`` is its own, not ours)."""


def describe_failure(exc: BaseException, max_chars: int = FAILURE_MAX_CHARS) -> str:
    """``exc`` as a status surface quotes it (a failed strategy's state in ``/status``, the stream, the web console,
    the fleet; a risk check's): ``TYPE: message`` on one line, every known secret masked, a traceback quoted in the
    message reduced to its error line, a local path to its file name (``…/mine.py``), every control character
    escaped, and cut to ``max_chars`` (ending in "…"). The host records this text where it records the failure; the
    log keeps the exception whole, with its traceback."""
    kind = type(exc).__name__
    try:
        text = str(exc)
    except Exception:
        return f"{kind} (its text could not be read)"
    lines: list[str] = []
    in_traceback = False
    for line in REDACTOR.redact(text).splitlines():
        if line.startswith(("Traceback (most recent call last)", "During handling of the above exception",
                            "The above exception was the direct cause")):
            in_traceback = True
        elif in_traceback and (not line or line[0].isspace()):
            continue  # a frame: its file, line and source
        else:
            in_traceback = False
            if line.strip():
                lines.append(line.strip())
    message = escape_controls(_LOCAL_PATH.sub(_file_name, " ".join(lines)))  # escapes hold a backslash: last
    text = f"{kind}: {message}" if message else kind
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _file_name(match: re.Match[str]) -> str:
    path = match.group(0)
    name = re.split(r"[/\\]", path)[-1]
    return f"…{path[-len(name) - 1]}{name}"


def colour_wanted(stream: TextIO, setting: str = "auto") -> bool:
    """Whether to colour ``stream``: ``NO_COLOR`` always wins, then ``always``/``never``, then "is a terminal"."""
    if os.environ.get("NO_COLOR"):
        return False
    if setting in ("always", "never"):
        return setting == "always"
    return stream.isatty()


class TextFormatter(logging.Formatter):
    """One short line per record (cut unless verbose); a traceback follows in full."""

    def format(self, record: logging.LogRecord) -> str:
        head = f"{format_ts(int(record.created * 1e9))} {record.levelname:<7} {record.name}: "
        text = fit(escape_controls(head + record.getMessage()))  # a quoted stranger's text never drives a terminal
        trace = _traceback(self, record)
        return f"{text}\n{escape_controls(trace, lines=True)}" if trace else text


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, the record's extras, and exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"ts": format_ts(int(record.created * 1e9)), "level": record.levelname,
                                 "logger": record.name, "msg": record.getMessage()}
        for key, value in record.__dict__.items():
            if key not in RECORD_FIELDS and key not in entry:
                entry[key] = value
        trace = _traceback(self, record)
        if trace:
            entry["exc"] = trace
        # JSON escapes C0 itself; DEL, C1 and the bidi controls it writes raw are escaped too (the same text when
        # read back), so that a log shown on a terminal (journalctl, tail) cannot drive it either.
        return json.dumps(entry, default=str, ensure_ascii=False).translate(_JSON_RAW)


def _traceback(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text or ""


def configure(*, level: str | int = logging.INFO, fmt: str = "text", details: bool = False,
              stream: TextIO | None = None) -> None:
    """(Re)configure the root logger: one stderr handler with the chosen format; quiet libraries."""
    global _verbose, _json
    _verbose = details or level in ("DEBUG", logging.DEBUG)
    _json = fmt == "json"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "arbot", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.arbot = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    from . import redact

    redact.install()
