"""``arbot record`` and ``arbot replay``: one pair of host commands for every venue that can record.

An exchange class opts in with a ``recorder`` class attribute (see :class:`Recorder`): the host
owns the command line, the file format and the stopping rules, the recorder owns the venue's
connection and its book code. A recording is JSON lines, one per frame as received:
``{"ts_ns": <receive time, integer ns>, "raw": "<the frame text exactly as received>"}``. The receive time is
the wall clock at the recording's start plus the monotonic time since (:func:`receive_clock`): a wall-clock
step while recording moves no frame back.

A recorder can also turn a recording back into market events (:meth:`Recorder.market_events`):
that is how the paper exchange trades against a recorded market (``market = "recording"``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from .errors import UserError
from .folding import Folding
from .jsonlimits import MAX_JSON_DEPTH, TooDeep, json_depth, loads_limited
from .recording_stats import ReadStats
from .units import counted

if TYPE_CHECKING:
    from .domain import BookUpdate, FeedStatus

FrameSink = Callable[[str | bytes], None]


@dataclass(frozen=True)
class RecordOptions:
    """What ``arbot record``/``replay`` was asked for; a recorder ignores what it has no use for."""

    symbols: list[str]
    ws_url: str | None = None
    """None: the venue's default endpoint."""
    depth: int | None = None
    """None: the recorder's default (or, on replay, what the recording says)."""
    settings: Any = None
    """The venue's own settings (its ``Settings`` class) from ``arbot record --config``'s first
    ``[exchanges.NAME]`` table of that type; None: the recorder's defaults."""


class Recorder(Protocol):
    """The optional recording capability of an exchange class (``Exchange.recorder``)."""

    async def record(self, options: RecordOptions, sink: FrameSink, stop: asyncio.Event) -> str:
        """Connect and subscribe as the live plugin does; hand each frame, as received, to ``sink``
        until ``stop`` is set; return a summary (same form as :meth:`replay`'s)."""
        ...

    def replay(self, frames: Iterable[str], options: RecordOptions) -> str:
        """Run recorded frames through the plugin's own message handler; return the summary: one
        line of counters (``messages=N ...``) followed by the top levels of each final book.
        Raise ValueError for options it cannot honour, or for a frame it cannot replay (raised while
        that frame is the last one taken from ``frames``: the host names its line in the file)."""
        ...

    def market_events(self, frames: Iterable[tuple[int, str]], options: RecordOptions,
                      levels: int) -> Iterator[BookUpdate | FeedStatus]:
        """Run ``(ts_ns, raw)`` frames through the plugin's own book code, lazily, and yield what the
        live plugin would publish: a ``BookUpdate`` (best ``levels`` per side) after each verified
        change, and a ``FeedStatus`` (not LIVE) when a book broke and awaits a fresh snapshot. Each
        event's ``ts_ns`` is the receive time of the frame that caused it and its ``exchange`` is the
        venue type (``"kraken"``); ``options.symbols`` (the venue's names) limits the symbols, empty
        means all. Raise ValueError for options it cannot honour."""
        ...


def frame_line(frame: str | bytes, ts_ns: int) -> str:
    """One JSONL line of a recording."""
    text = frame if isinstance(frame, str) else frame.decode("utf-8", errors="replace")
    return json.dumps({"ts_ns": ts_ns, "raw": text}) + "\n"


MAX_LINE_BYTES = 64 * 1024 * 1024
"""Longest recording line read; a longer one (a corrupt file without newlines) is skipped."""


_line: tuple[Callable[[bytes], Any], type[Exception]] | None = None
"""msgspec's decoder of a line as :func:`frame_line` writes it, and the error it raises (see :func:`_frame`)."""


def _line_decoder() -> tuple[Callable[[bytes], Any], type[Exception]]:
    """:data:`_line`, made when a recording is first read: the commands that read none never import msgspec."""
    global _line
    if _line is None:
        import msgspec

        class Line(msgspec.Struct, forbid_unknown_fields=True):
            """These two keys and nothing else."""

            ts_ns: int
            raw: str

        _line = msgspec.json.Decoder(Line).decode, msgspec.DecodeError
    return _line


def _frame(line: bytes) -> tuple[int, str] | str:
    """``(ts_ns, raw)`` of one recording line, or why it is not one.

    A line that is a JSON object of an integer ``ts_ns`` and a string ``raw`` only (what
    :func:`frame_line` writes) is decoded by msgspec in one call. msgspec refuses every such line that
    Python's json would read differently (a string with a lone surrogate, a control character or a bad
    escape; an integer longer than Python's limit), and any other line; those are read by :func:`_entry`
    (``json.loads`` and the checks), so both ways give the same frame or the same reason.

    msgspec reads the line's bytes as they are, without a ``str`` of the whole line made first: it decodes
    its strings as UTF-8 strictly (raising UnicodeDecodeError otherwise) and accepts nothing but JSON's ASCII
    outside them, so a line it reads is UTF-8, and one it refuses is decoded for :func:`_entry` or is "not
    UTF-8", as before."""
    decode, refused = _line or _line_decoder()
    try:
        entry = decode(line)
    except (refused, UnicodeDecodeError):
        return _general(line)
    ts_ns, raw = entry.ts_ns, entry.raw
    if ts_ns >= 0 and raw.count("[") + raw.count("{") <= MAX_JSON_DEPTH:  # cannot be nested too deep
        return ts_ns, raw
    return _general(line)


def _general(line: bytes) -> tuple[int, str] | str:
    """:func:`_entry` of a line's text, or "not UTF-8"."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    return _entry(text)


def _entry(text: str) -> tuple[int, str] | str:
    """:func:`_frame` of any line decoded from UTF-8: parsed as JSON (depth-limited), then checked."""
    try:
        entry = loads_limited(text)
    except TooDeep:
        return "nested too deep"
    except ValueError:
        return "not JSON"
    if not isinstance(entry, dict):
        return f"a JSON {_json_kind(entry)}, not an object"
    if "raw" not in entry:
        return "no raw"
    raw, ts_ns = entry["raw"], entry.get("ts_ns")
    if not isinstance(raw, str):
        return "raw not a string"
    if not isinstance(ts_ns, int) or isinstance(ts_ns, bool) or ts_ns < 0:
        return "ts_ns not an integer"
    if "[" in raw or "{" in raw:
        if raw.count("[") + raw.count("{") > MAX_JSON_DEPTH and json_depth(raw) > MAX_JSON_DEPTH:
            return "raw nested too deep"
    return ts_ns, raw


def _json_kind(value: object) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def read_recording(path: Path, stats: ReadStats | None = None) -> Generator[tuple[int, str], None, None]:
    """The ``(ts_ns, raw)`` frames of a recording, in order, read lazily.

    Receive times never go back: a frame stamped earlier than the one before it (a recording made before
    :func:`receive_clock`, or appended to after the wall clock stepped back) is read at the time of the one
    before, and the frames after it keep their spacing (the step back is taken as no time passing); each such
    step is counted in ``stats``. A malformed line (not UTF-8, not JSON, not an object with an integer ``ts_ns``
    and a string ``raw``, nested too deep, too long) is skipped and counted in ``stats``; a reader reports
    ``stats.summary()``. OSError if the file cannot be read.
    """
    stats = stats if stats is not None else ReadStats(path)
    number = 0
    last_ns = 0  # the receive time of the frame before, as read
    shift_ns = 0  # what the steps back so far took as no time passing
    with open(path, "rb") as f:
        readline = f.readline
        while line := readline(MAX_LINE_BYTES + 1):
            number += 1
            stats.lines = number
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):  # the rest of it is skipped
                while (rest := readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                stats.skip(number, "line too long")
                continue
            frame = _frame(line)
            if isinstance(frame, str):
                if line.strip():  # a blank line is no frame, and not malformed either
                    stats.skip(number, frame)
                continue
            stats.frames += 1
            ts_ns = frame[0]
            if ts_ns < last_ns or shift_ns:  # after a step back (rare): shifted, and perhaps another step back
                ts_ns += shift_ns
                if ts_ns < last_ns:  # the recorder's wall clock stepped back: no time passes, the spacing is kept
                    stats.step_back(number, last_ns - ts_ns)
                    shift_ns += last_ns - ts_ns
                    ts_ns = last_ns
                frame = ts_ns, frame[1]
            last_ns = ts_ns
            yield frame


def receive_clock() -> Callable[[], int]:
    """The clock a recording stamps its frames with: the wall clock read once, at the start, plus the monotonic
    time elapsed since. A step of the wall clock while recording (NTP correcting it, an operator setting it)
    moves no stamp back, nor forward: stamps keep the order and the spacing in which the frames came."""
    monotonic_ns = time.monotonic_ns
    anchor_ns = time.time_ns() - monotonic_ns()
    return lambda: anchor_ns + monotonic_ns()


async def record_to(recorder: Recorder, options: RecordOptions, out: TextIO, *, seconds: float | None = None,
                    messages: int | None = None, stop: asyncio.Event | None = None) -> str:
    """Record until ``seconds`` pass, ``messages`` frames arrived, or ``stop`` is set; returns the summary."""
    stop = stop or asyncio.Event()
    count = 0
    received_ns = receive_clock()

    def sink(frame: str | bytes) -> None:
        nonlocal count
        out.write(frame_line(frame, received_ns()))
        count += 1
        if messages is not None and count >= messages:
            stop.set()

    timer = asyncio.get_running_loop().call_later(seconds, stop.set) if seconds is not None else None
    try:
        return await recorder.record(options, sink, stop)
    finally:
        if timer is not None:
            timer.cancel()
        out.flush()


# --- the commands ----------------------------------------------------------------------------------


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``record`` and ``replay`` to the ``arbot`` parser."""
    from .clock import parse_duration  # `--for` as `arbot run` takes it ("600", "10m")

    record = sub.add_parser("record", help="record an exchange's raw market data frames to a JSONL file")
    record.add_argument("--exchange", required=True, help="exchange type that can record (kraken, coinbase, ...)")
    record.add_argument("--symbol", required=True, action="append", help='market, e.g. "BTC/USD" (repeatable)')
    record.add_argument("--out", required=True, help="JSONL file to append to")
    record.add_argument("--depth", type=int, help="book depth to subscribe, where the venue has one")
    record.add_argument("--ws-url", help="WebSocket endpoint (default: the venue's)")
    record.add_argument("--for", dest="seconds", type=parse_duration, metavar="DURATION",
                        help='stop after this long: seconds, or "90s", "10m", "1h"')
    record.add_argument("--messages", type=int, help="stop after this many frames")
    record.add_argument("--config", "-c", help="take the venue's settings (endpoints, pools, ...) from the first "
                                               "[exchanges.NAME] table of this type in this config file")
    record.set_defaults(func=cmd_record)

    replay = sub.add_parser("replay", help="run a recording through the exchange plugin's book code",
                            description="Prints the final books; on stderr, a summary of the lines read (the "
                                        "venue's warnings: the first 3, then a count). Exit status 0: every line "
                                        "was a frame; 2: malformed lines were skipped (counted by reason in the "
                                        "summary), there was no frame, or no book was built from frames of another "
                                        "venue (named: replay with its --exchange) or that this venue found "
                                        "malformed one and all.")
    replay.add_argument("--exchange", required=True, help="exchange type the file was recorded from")
    replay.add_argument("file", help="JSONL recording")
    replay.add_argument("--depth", type=int, help="book depth (default: from the recording, else the venue's)")
    replay.add_argument("--symbol", action="append", default=[], help="markets to rebuild (default: all recorded)")
    replay.add_argument("--config", "-c", help="mask every secret this config resolves here in what replay prints "
                                               "(a recording holds frames as sent, and a venue's error text can "
                                               "quote a key); without it no secret is known to mask")
    replay.set_defaults(func=cmd_replay)


def recorder_in(classes: Mapping[str, type], exchange: str) -> Recorder:
    """The recorder of the exchange type registered as ``exchange`` among ``classes`` (type -> class);
    ValueError naming the types that can record if it has none.

    Only ``exchange``'s class is loaded (a registry imports a class when it is looked up); every
    other venue is imported only to name the ones that can record, when this one cannot."""
    from .plugins import ComponentLoadError

    def recorder(name: str) -> Recorder | None:
        try:
            found: Recorder | None = getattr(classes[name], "recorder", None)
        except ComponentLoadError:
            return None
        return found

    found = recorder(exchange) if exchange in classes else None
    if found is None:
        able = sorted(name for name in classes if recorder(name) is not None)
        raise ValueError(f'exchange type "{exchange}" cannot record; these can: {", ".join(able) or "none"}')
    return found


def _exchange_classes() -> Mapping[str, type]:
    """Every installed exchange type's class, by type (each imported when looked up)."""
    from .plugins import collect, load_plugins

    return collect(load_plugins(report=lambda info, message: None)).classes("exchange")


def recorder_for(exchange: str) -> Recorder:
    """The recorder of the installed exchange type ``exchange`` (the commands); UserError if there is none.

    A running bot looks recorders up in its own registry instead (``Context.recorder``), which holds
    only the plugins its config enables."""
    classes = _exchange_classes()
    try:
        return recorder_in(classes, exchange)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def venue_settings(path: Path, exchange: str) -> Any:
    """The settings of the first ``[exchanges.NAME]`` table of type ``exchange`` in the config at ``path``
    (its class's ``Settings``, validated); UserError when there is none, ConfigError naming a bad key."""
    from .config import read_toml
    from .plugins import collect, load_plugins
    from .settings import ConfigError, ConfigIssue, parse_settings

    raw = read_toml(path)
    exchanges = raw.get("exchanges")
    tables: dict[str, Any] = exchanges if isinstance(exchanges, dict) else {}
    found = [(name, table) for name, table in tables.items() if isinstance(table, dict)
             and table.get("type", name) == exchange]
    if not found:
        raise UserError(f'{path}: no [exchanges.NAME] table with type = "{exchange}"')
    name, table = found[0]
    cls = collect(load_plugins(report=lambda info, message: None)).classes("exchange")[exchange]
    issues: list[ConfigIssue] = []
    settings = parse_settings(cls.Settings, table, f"exchanges.{name}", issues, ignore={"type"})
    if issues:
        raise ConfigError(issues, str(path))
    return settings


def cmd_record(args: argparse.Namespace) -> int:

    recorder = recorder_for(args.exchange)
    settings = venue_settings(Path(args.config), args.exchange) if args.config else None
    options = RecordOptions(symbols=args.symbol, ws_url=args.ws_url, depth=args.depth, settings=settings)

    async def main() -> str:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        with open(args.out, "a", encoding="utf-8", buffering=1) as out:  # line by line: a crash loses no frame
            return await record_to(recorder, options, out, seconds=args.seconds, messages=args.messages, stop=stop)

    try:
        print(asyncio.run(main()), file=sys.stderr)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return 0


def learn_secrets_of(path: Path) -> None:
    """Make every secret of the config at ``path`` that resolves here known to the redactor (``arbot replay
    --config``); one that does not resolve is skipped, as ``arbot report`` skips it: replay uses none."""
    from .config import build_config, learn_secrets, plugins_disabled, read_toml
    from .plugins import collect, load_plugins

    raw = read_toml(path)
    registry = collect(load_plugins(disabled=plugins_disabled(raw), report=lambda info, message: None))
    learn_secrets(build_config(raw, registry, str(path)))


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a recording; exit 0 when every line was a frame, 2 when malformed lines were skipped (the
    summary on stderr counts them by reason), the file holds no frame at all, a frame could not be
    replayed (the message names its line), the recorder cannot honour the options (a ``--symbol`` the file
    does not hold: the message names the file), or no book was built and the frames are another venue's (one line
    naming it: ``--exchange kraken``) or drew a warning each (a malformed message). The venue's warnings are folded:
    the first few, then a count. With ``--config``, every secret that config resolves here is masked in
    all it prints (the summary, log lines, an error)."""
    from .redact import REDACTOR

    if args.config:
        learn_secrets_of(Path(args.config))
    recorder = recorder_for(args.exchange)
    path = Path(args.file)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    stats = ReadStats(path)
    read_all = False

    def frames() -> Iterator[str]:
        nonlocal read_all
        for _, raw in read_recording(path, stats):
            yield raw
        read_all = True

    try:
        with folded_warnings() as folded:
            text = recorder.replay(frames(), RecordOptions(symbols=args.symbol, depth=args.depth))
    except ValueError as exc:
        if stats.frames and not read_all:  # raised while replaying the frame read last: name its line
            raise UserError(REDACTOR.redact(f"{path}: cannot replay line {stats.lines}: {exc}")) from None
        raise UserError(REDACTOR.redact(f"{path}: {exc}" if read_all else str(exc))) from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    finally:
        if folded.hidden:
            print(f"arbot replay: {counted(folded.hidden, 'more warning')} like these not shown "
                  f"({folded.shown + folded.hidden} in all)", file=sys.stderr)
    counters, *books = text.splitlines()
    if stats.frames and not books:  # nothing to show: another venue's recording, or nothing this venue can read?
        other = recorded_by(path, args.exchange)
        if other or folded.shown + folded.hidden >= stats.frames:  # a warning (a malformed message) per frame
            fix = (f"it looks like a {other} recording: replay it with --exchange {other}" if other else
                   "was it recorded from another exchange? Replay it with the --exchange it was recorded from"
                   + (f" ({', '.join(others)} can replay)" if (others := replayers(args.exchange)) else ""))
            print(stats.summary(), file=sys.stderr)
            raise UserError(REDACTOR.redact(f"{path}: no book: none of its {counted(stats.frames, 'frame')} built a "
                                            f"{args.exchange} book ({counters}); {fix}"))
    print(REDACTOR.redact(text))
    print(stats.summary(), file=sys.stderr)
    return 2 if stats.malformed or not stats.frames else 0


SNIFF_FRAMES = 500
"""How many frames from the start of a recording :func:`recorded_by` plays through each other venue's code."""


def replayers(but: str = "") -> list[str]:
    """The installed exchange types (other than ``but``) whose recorder can play a recording, sorted."""
    classes = _exchange_classes()
    found = []
    for name in sorted(classes):
        try:
            recorder = getattr(classes[name], "recorder", None)
        except Exception:  # noqa: S112 - a plugin that fails to import replays nothing
            continue
        if name != but and recorder is not None and hasattr(recorder, "market_events"):
            found.append(name)
    return found


def recorded_by(path: Path, not_exchange: str) -> str | None:
    """The other installed venue that reads the recording at ``path``: its first :data:`SNIFF_FRAMES` frames yield a
    market event through that venue's own book code (its warnings dropped); None when no other venue does."""
    from itertools import islice

    from .domain import FeedStatus

    classes = _exchange_classes()
    for name in replayers(not_exchange):
        try:
            with folded_warnings(shown=0):
                head = islice(read_recording(path), SNIFF_FRAMES)
                events = classes[name].recorder.market_events(head, RecordOptions(symbols=[]), 1)  # type: ignore[attr-defined]
                if any(not isinstance(event, FeedStatus) for event in events):
                    return name
        except Exception:  # noqa: S112 - another venue's code refusing these frames is the answer "not this one"
            continue
    return None


WARNINGS = "warnings"
"""The one key of a replay's warnings (:class:`_Folded`): they are folded all together."""


class _Folded(logging.Filter):
    """Lets the first ``shown`` warnings through, counts the rest (:func:`folded_warnings`), by the host's one rule
    (:class:`~bot.folding.Folding`, one window as long as the replay)."""

    def __init__(self, shown: int):
        super().__init__()
        self._fold: Folding[str] = Folding(None, shown=shown)

    @property
    def shown(self) -> int:
        """Warnings let through."""
        window = self._fold.get(WARNINGS)
        return 0 if window is None else window.said

    @property
    def hidden(self) -> int:
        """Warnings counted and dropped."""
        window = self._fold.get(WARNINGS)
        return 0 if window is None else window.count

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        decided = record.__dict__.get("arbot_folded_shown")
        if decided is None:  # decided once per record, whichever handler sees it first
            decided = record.__dict__["arbot_folded_shown"] = self._fold.first(WARNINGS)
        return bool(decided)


@contextmanager
def folded_warnings(shown: int = 3) -> Iterator[_Folded]:
    """While inside: the first ``shown`` warnings (and errors) logged reach the log's handlers, the rest are counted
    (``.hidden``) and dropped. A venue's code logs each malformed frame: a recording of another venue would
    otherwise print a line per frame."""
    folded = _Folded(shown)
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(folded)
    try:
        yield folded
    finally:
        for handler in handlers:
            handler.removeFilter(folded)
