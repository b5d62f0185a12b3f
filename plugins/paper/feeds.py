"""Books from outside for the paper venue: a recording played back, or another exchange mirrored.

:class:`BookFeed` turns a source's events (``BookUpdate`` and ``FeedStatus`` of the source's
symbols) into the paper venue's own: each book becomes the :class:`~.book_market.BookMarket` of
the mapped symbol, is published under the venue's name and matched against our resting orders;
a source that is not LIVE makes the venue's book not LIVE too, and empties it (nothing fills at
prices nobody quotes any more) until the source's next book.

:class:`RecordingPlayer` reads a recording lazily through the recorded venue's own book code
(``Recorder.market_events``) and hands out one event at a time with its playback time, looping
over the file when asked to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from bot.api import BookUpdate, FeedState, FeedStatus
from bot.api.kit import ReadStats, Recorder, RecordOptions, read_recording
from bot.api.ledger import counted

from .book_market import BookMarket

LOOP_GAP_NS = 1_000_000_000
"""Recorded time between the last frame of a pass and the first of the next, when looping."""

MarketEvent = BookUpdate | FeedStatus
_LIVE = FeedState.LIVE


class BookFeed:
    """Applies a source's books and feed states to the venue's markets and publishes the result.

    ``symbol_of`` maps the source's symbols to ours; events of other symbols are ignored.
    ``on_book(market, now_ns)`` runs after each book is published (the venue matches and commits).
    ``publish`` publishes any event; ``book_topic(symbol)``, when given, returns what publishes our
    ``BookUpdate`` events of ``symbol`` the same way (a bus :class:`~bot.bus.Topic`'s ``publish``,
    which skips the look-up by type, exchange and symbol a book would cost on every change).
    """

    def __init__(self, exchange: str, markets: dict[str, BookMarket], symbol_of: dict[str, str], *,
                 describe: str, publish: Callable[[object], None], time_ns: Callable[[], int],
                 on_book: Callable[[BookMarket, int], None],
                 book_topic: Callable[[str], Callable[[BookUpdate], None]] | None = None):  # fmt: skip
        self.exchange = exchange
        self.markets = markets
        self.symbol_of = symbol_of
        self.describe = describe
        """Where the books come from, for the reasons of FeedStatus events ("kraken", "recording x.jsonl")."""
        self._publish = publish
        self._time_ns = time_ns
        self._on_book = on_book
        self._publish_book = {symbol: book_topic(symbol) if book_topic is not None else publish for symbol in markets}
        self.states: dict[str, FeedState] = {}
        """Feed state of each of our symbols, as last published (absent: no book yet)."""

    def on_event(self, event: MarketEvent) -> None:
        """A source event of either kind."""
        if type(event) is BookUpdate:
            self.on_book(event)
        elif type(event) is FeedStatus:
            self.on_status(event)

    def on_book(self, event: BookUpdate) -> None:
        """A new book of one source symbol: ours follows, is published, and our orders match against it."""
        symbol = self.symbol_of.get(event.symbol)
        if symbol is None:
            return
        market = self.markets[symbol]
        now = self._time_ns()
        if self.states.get(symbol) is not _LIVE:
            self._set_state(symbol, _LIVE, f"book from {self.describe}", now)
        self._publish_book[symbol](market.update_event(event, now))
        self._on_book(market, now)

    def on_status(self, event: FeedStatus) -> None:
        """The source's feed changed state: LIVE waits for its next book; anything else empties ours."""
        symbol = self.symbol_of.get(event.symbol)
        if symbol is None or event.state is FeedState.LIVE:
            return
        self.markets[symbol].clear()
        reason = f"{self.describe}: {event.reason}" if event.reason else self.describe
        self._set_state(symbol, event.state, reason, self._time_ns())

    def stale_all(self, reason: str) -> None:
        """Every book goes stale (the recording ended, the venue stops following its source)."""
        now = self._time_ns()
        for symbol, market in self.markets.items():
            market.clear()
            self._set_state(symbol, FeedState.STALE, reason, now)

    def _set_state(self, symbol: str, state: FeedState, reason: str, now: int) -> None:
        if self.states.get(symbol) is state:
            return
        self.states[symbol] = state
        self._publish(FeedStatus(self.exchange, symbol, state, now, reason))


class PlaysRecording:
    """What a paper venue playing a recording tells the backtest driver (``_player`` set when it plays one)."""

    _player: RecordingPlayer | None = None

    def next_event_ns(self) -> int | None:
        """Recording: playback time of the event the next ``step`` plays, in ns since the recording's first
        event (growing across loops); None when it is over, or the venue does not play a recording."""
        item = self._player.peek() if self._player is not None else None
        return None if item is None else item[0]

    def recording_start_ns(self) -> int | None:
        """Recording: the recorded receive time of its first event (None otherwise)."""
        if self._player is None:
            return None
        self._player.peek()
        return self._player.start_ts_ns

    def recording_stats(self) -> ReadStats | None:
        """Recording: what reading it found so far, and where playback stopped early (None otherwise)."""
        return self._player.stats if self._player is not None else None


class RecordingPlayer:
    """One recording's market events, in order, each with its playback time.

    :meth:`next` returns ``(offset_ns, event)``: ``offset_ns`` is the event's recorded time since
    the first recorded frame, growing across passes when looping (each pass starts
    :data:`LOOP_GAP_NS` after the previous one's last frame); None once the recording is over
    (never, when looping, unless a whole pass held no event of our symbols).
    """

    def __init__(self, path: Path, recorder: Recorder, symbols: list[str], levels: int, *, loop: bool,
                 report: Callable[[str], None] = lambda summary: None,
                 failed: Callable[[Exception], None] = lambda exc: None):
        self.path = path
        self.failed = failed
        """Called once with the exception when playback cannot go on (:attr:`error`), as soon as it is met
        (a backtest meets it looking ahead for the next event's time, and steps the venue no more)."""
        self.report = report
        """Called with the read summary at the end of the first pass when it skipped malformed lines or
        stopped early (a broken book that nothing later in the file restored)."""
        self.stats = ReadStats(path)
        """Lines, frames and malformed lines skipped of the current pass, and where its playback stopped early."""
        self.recorder = recorder
        self.options = RecordOptions(symbols=symbols)
        self.levels = levels
        self.loop = loop
        self.passes = 0
        """Passes started over the file (1 during the first)."""
        self.recorded_ts_ns = 0
        """Recorded receive time of the last event handed out."""
        self.start_ts_ns: int | None = None
        """Recorded receive time of the recording's first event (None until it is read)."""
        self._first_ts: int | None = None
        self._last_ts = 0
        self._base_ns = 0
        self._pass_events = 0
        self._events: Iterator[MarketEvent] = iter(())
        self._broken: dict[str, tuple[int, int, str]] = {}
        """Symbol -> (line, frames read, why) where its market last broke (a FeedStatus not LIVE), until an
        event restores it: what is still there at the end of a pass, with frames after it, stopped early."""
        self._ahead: tuple[int, MarketEvent] | None = None
        self._done = False
        self.error: Exception | None = None
        """Why playback stopped before the end of the recording, if it did."""
        self._open()

    def _open(self) -> None:
        self.passes += 1
        self._pass_events = 0
        self._broken = {}
        self.stats = ReadStats(self.path, symbols=tuple(self.options.symbols))
        self._frames = read_recording(self.path, self.stats)
        self._events = iter(self.recorder.market_events(self._frames, self.options, self.levels))

    def peek(self) -> tuple[int, MarketEvent] | None:
        """The next event without taking it. Read here, not in a method of its own: a backtest peeks once per
        recorded event, and a call is a good share of what the rest of the reading costs."""
        item = self._ahead
        if item is not None or self._done:
            return item
        try:
            while (event := next(self._events, None)) is None:
                if not self._next_pass():
                    self._done = True
                    return None
            ts = event.ts_ns
            first = self._first_ts
            if first is None:
                first = self._first_ts = ts
                if self.start_ts_ns is None:
                    self.start_ts_ns = ts
            self._last_ts = ts
            self._pass_events += 1
            if type(event) is FeedStatus:
                self._broke(event, ts - first)
            elif self._broken:
                self._broken.pop(event.symbol, None)
            item = self._ahead = (self._base_ns + ts - first, event)
        except Exception as exc:  # an unreadable file, or the recorded venue's book code failing
            self.error = exc
            self.stats.stop(self.stats.lines, f"{type(exc).__name__}: {exc}")
            self._done = True
            self._frames.close()  # the file now, not whenever the failed generators are collected
            self.failed(exc)
        return item

    def next(self) -> tuple[int, MarketEvent] | None:
        """Take the next event (None: the recording is over)."""
        item = self._ahead
        if item is None:
            item = self.peek()
            if item is None:
                return None
        self._ahead = None
        self.recorded_ts_ns = item[1].ts_ns
        return item

    @property
    def done(self) -> bool:
        return self._done

    def _next_pass(self) -> bool:
        """The pass ended: report it, and start the next one when looping (False: playback is over)."""
        self._stopped_early()
        if self._pass_events == 0 and self.stats.frames and self.stats.stopped_at is None:
            self.stats.found = self._symbols_held()
        if self.passes == 1 and self.stats.troubled:
            self.report(self.stats.summary())
        first = self._first_ts  # None exactly when this pass had no event
        if not self.loop or self._pass_events == 0 or first is None:
            return False
        self._base_ns += self._last_ts - first + LOOP_GAP_NS
        self._first_ts = None
        self._open()
        return True

    def _symbols_held(self, most: int = 5) -> tuple[str, ...]:
        """The symbols of the recording's market events (the first ``most``): read again, of every symbol, only when
        none was of ours, so that the error can say what the file holds."""
        found: list[str] = []
        frames = read_recording(self.path, ReadStats(self.path))
        try:
            for event in self.recorder.market_events(frames, RecordOptions(symbols=[]), 1):
                if event.symbol not in found:
                    found.append(event.symbol)
                    if len(found) >= most:
                        break
        except (OSError, ValueError):  # what it holds is only a hint: the error stands without it
            pass
        finally:
            frames.close()
        return tuple(found)

    def _broke(self, status: FeedStatus, offset_ns: int) -> None:
        """A symbol's market broke (not LIVE) at the line just read, or came back (LIVE)."""
        if status.state is _LIVE:
            self._broken.pop(status.symbol, None)
        elif status.symbol not in self._broken:
            why = (f"{status.symbol} {status.state.value} ({status.reason}) {offset_ns / 1e9:.1f} s into the "
                   "recording, and no later line restored it")
            self._broken[status.symbol] = (self.stats.lines, self.stats.frames, why)

    def _stopped_early(self) -> None:
        """At the end of a pass: the first break that frames followed and nothing restored is where it stopped."""
        for line, frames, why in sorted(self._broken.values()):
            if self.stats.frames > frames:
                self.stats.stop(line, f"{why} (no market in the {counted(self.stats.frames - frames, 'frame')} "
                                      "after it)")
                return
