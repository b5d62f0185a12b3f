"""Recording and replay for Kraken: the ``recorder`` capability of :class:`KrakenExchange`.

``arbot record --exchange kraken`` and ``arbot replay --exchange kraken FILE`` are host commands
(:mod:`bot.recording`); this module supplies the venue's part. The ``instrument`` frames are
recorded too, so a file replays on its own through the very handler the live feed uses
(:class:`KrakenBooks`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from bot.api import BookUpdate, FeedState, FeedStatus
from bot.api.kit import BookViews, FrameSink, RecordOptions, record_to

from .book import KrakenBooks, SymbolBook
from .feed import KrakenFeed
from .settings import DEPTHS, WS_URL


class KrakenRecorder:
    """``Exchange.recorder`` for Kraken: records with :class:`KrakenFeed`, replays with :class:`KrakenBooks`."""

    async def record(self, options: RecordOptions, sink: FrameSink, stop: asyncio.Event) -> str:
        depth = _depth(options.depth) or 10
        books = await record_frames(options.ws_url or WS_URL, options.symbols, depth, sink, stop)
        return summary(books)

    def replay(self, frames: Iterable[str], options: RecordOptions) -> str:
        frames = list(frames)
        depth = _depth(options.depth) or recorded_depth(frames) or 10
        books = replay(frames, depth, options.symbols or None)
        missing = sorted(set(options.symbols) - set(books.books))
        if missing and frames:  # asked for a market the file does not hold: say which ones it does
            held = sorted(replay(frames, depth).books)
            raise ValueError(f"no book of {', '.join(missing)} in the recording: it holds "
                             f"{', '.join(held) or 'no book'}; replay those (--symbol), or record "
                             f"{', '.join(missing)} (arbot record --exchange kraken --symbol ...)")
        return summary(books, asked=options.symbols)

    def market_events(self, frames: Iterable[tuple[int, str]], options: RecordOptions,
                      levels: int) -> Iterator[BookUpdate | FeedStatus]:
        return market_events(frames, _depth(options.depth), options.symbols or None, levels)


def _depth(depth: int | None) -> int | None:
    if depth is not None and depth not in DEPTHS:
        raise ValueError(f"kraken book depth must be one of {', '.join(map(str, DEPTHS))}, got {depth}")
    return depth


# --- record ----------------------------------------------------------------------------------------


async def record_frames(url: str, symbols: list[str], depth: int, sink: FrameSink,
                        stop: asyncio.Event) -> KrakenBooks:
    """Run the live feed code, handing each frame to ``sink``, until ``stop`` is set."""
    books = KrakenBooks(depth, symbols=symbols)
    feed = KrakenFeed(url, symbols, depth, books, silence_timeout_s=5.0, reconnect_initial_s=0.25,
                      reconnect_max_s=30.0, on_state=lambda symbol, state, reason: None)
    feed.frame_sink = sink
    task = asyncio.ensure_future(feed.run())
    try:
        await stop.wait()
    finally:
        await feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return books


async def record(url: str, symbols: list[str], depth: int, out: TextIO, *, seconds: float | None = None,
                 messages: int | None = None, stop: asyncio.Event | None = None) -> KrakenBooks:
    """Record frames to ``out`` until ``seconds`` pass, ``messages`` frames arrived, or ``stop`` is set."""
    kept: list[KrakenBooks] = []

    class _Keep(KrakenRecorder):
        async def record(self, options: RecordOptions, sink: FrameSink, stop: asyncio.Event) -> str:
            kept.append(await record_frames(url, symbols, depth, sink, stop))
            return ""

    await record_to(_Keep(), RecordOptions(symbols), out, seconds=seconds, messages=messages, stop=stop)
    return kept[0]


# --- replay ----------------------------------------------------------------------------------------


def recorded_depth(frames: Iterable[str]) -> int | None:
    """The depth the recording subscribed with, from Kraken's answer to the book subscription."""
    for raw in frames:
        if '"method"' in raw and '"book"' in raw:
            try:
                message = json.loads(raw)
                result = message.get("result") or {}
                if result.get("channel") == "book" and "depth" in result:
                    return int(result["depth"])
            except (ValueError, AttributeError, TypeError):
                continue
    return None


def replay(frames: Iterable[str], depth: int, symbols: list[str] | None = None) -> KrakenBooks:
    """The books ``frames`` build (of ``symbols`` only; None: every recorded market)."""
    books = KrakenBooks(depth, symbols=symbols)
    for raw in frames:
        books.handle(raw)
    return books


def market_events(frames: Iterable[tuple[int, str]], depth: int | None, symbols: list[str] | None,
                  levels: int) -> Iterator[BookUpdate | FeedStatus]:
    """Recorded ``(ts_ns, raw)`` frames -> what :class:`KrakenExchange` would publish, lazily.

    The book depth must be the one the recording subscribed with (Kraken sends no delete for a
    level pushed out of view), so without ``depth`` the frames are read ahead to the book
    subscription's answer, or to the first book frame (then 10, the recorder's default).
    """
    frames = iter(frames)
    ahead: list[tuple[int, str]] = []
    if depth is None:
        for ts_ns, raw in frames:
            ahead.append((ts_ns, raw))
            depth = recorded_depth([raw])
            if depth is not None or '"channel":"book"' in raw.replace(" ", ""):
                break
        depth = depth or 10
    out: list[BookUpdate | FeedStatus] = []
    now = 0

    views = BookViews()  # the events of a frame are handed out after it: released before the next one
    viewed = views.pending
    of_book = BookUpdate.of_book

    def on_book(sb: SymbolBook) -> None:
        event = of_book("kraken", sb.symbol, sb.book, levels, now)
        viewed.append(event)  # views.add
        out.append(event)

    def on_resync(symbol: str, reason: str) -> None:
        out.append(FeedStatus("kraken", symbol, FeedState.RESYNCING, now, reason))

    books = KrakenBooks(depth, on_book=on_book, on_resync=on_resync, symbols=symbols)
    handle = books.handle
    for now, raw in itertools.chain(ahead, frames):  # noqa: B007 - on_book and on_resync read `now`
        if viewed:
            views.release()
        handle(raw)
        if out:
            if len(out) == 1:  # a frame's one event (the most common), without an iterator over the list
                yield out.pop()
            else:
                yield from out
                out.clear()


def summary(books: KrakenBooks, top: int = 5, asked: Iterable[str] = ()) -> str:
    """The counters, then the ``top`` levels of each book (and a line for each ``asked`` market with none)."""
    c = books.counters
    lines = [f"messages={c.messages} checksum_ok={c.checksum_ok} checksum_failed={c.checksum_failed} "
             f"resyncs={c.resyncs}"]
    lines += [f"{symbol}: no book in the recording" for symbol in sorted(set(asked) - set(books.books))]
    for symbol, sb in sorted(books.books.items()):
        bids, asks = sb.levels(top)
        lines.append(f"{symbol} (synced: {'yes' if sb.synced else 'no'})")
        lines.append(f"  {'bid qty':>20} {'bid':>14} | {'ask':<14} {'ask qty':<20}")
        for i in range(max(len(bids), len(asks))):
            bq, bp = (str(bids[i][1]), str(bids[i][0])) if i < len(bids) else ("", "")
            ap, aq = (str(asks[i][0]), str(asks[i][1])) if i < len(asks) else ("", "")
            lines.append(f"  {bq:>20} {bp:>14} | {ap:<14} {aq:<20}")
    return "\n".join(lines)
