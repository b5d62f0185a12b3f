"""Recording and replay for Coinbase: the ``recorder`` capability of :class:`CoinbaseExchange`.

``arbot record --exchange coinbase`` runs the live feed code (heartbeats, level2, ticker
subscriptions) and stores each frame as received; ``arbot replay --exchange coinbase FILE`` runs
the frames through :class:`CoinbaseBooks` and reports sequence gaps (this venue has no checksum).
A recording holds no product precisions, so replay keeps every book at
:data:`~plugins.coinbase.book.DEFAULT_DECIMALS` (exact for every product) and prints the numbers
without trailing zeros.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from decimal import Decimal

import msgspec

from bot.api import BookUpdate, FeedState, FeedStatus
from bot.api.kit import BookViews, FrameSink, RecordOptions

from .book import CoinbaseBooks, ProductBook
from .feed import CoinbaseFeed
from .settings import WS_URL


class CoinbaseRecorder:
    """``Exchange.recorder`` for Coinbase: records with :class:`CoinbaseFeed`, replays with :class:`CoinbaseBooks`."""

    async def record(self, options: RecordOptions, sink: FrameSink, stop: asyncio.Event) -> str:
        books = await record_frames(options.ws_url or WS_URL, options.symbols, sink, stop)
        return summary(books)

    def replay(self, frames: Iterable[str], options: RecordOptions) -> str:
        frames = list(frames)
        held = sorted({p.replace("-", "/") for p in _snapshot_products(frames)})
        missing = sorted(set(options.symbols) - set(held))
        if missing and frames:  # asked for a product the file does not hold: say which ones it does
            raise ValueError(f"no book of {', '.join(missing)} in the recording: it holds "
                             f"{', '.join(held) or 'no book'}; replay those (--symbol), or record {', '.join(missing)} "
                             "(arbot record --exchange coinbase --symbol ...)")
        return summary(replay(frames, options.symbols or None))  # level2 has no depth: options.depth unused

    def market_events(self, frames: Iterable[tuple[int, str]], options: RecordOptions,
                      levels: int) -> Iterator[BookUpdate | FeedStatus]:
        return market_events(frames, options.symbols or None, levels)


async def record_frames(url: str, symbols: list[str], sink: FrameSink, stop: asyncio.Event) -> CoinbaseBooks:
    """Run the live feed code, handing each frame to ``sink``, until ``stop`` is set."""
    books = CoinbaseBooks(symbols)
    feed = CoinbaseFeed(url, books, silence_timeout_s=5.0, reconnect_initial_s=0.25, reconnect_max_s=30.0,
                        on_state=lambda symbol, state, reason: None)
    feed.frame_sink = sink
    task = asyncio.ensure_future(feed.run())
    try:
        await stop.wait()
    finally:
        await feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return books


def replay(frames: Iterable[str], symbols: list[str] | None = None) -> CoinbaseBooks:
    """Every frame through one :class:`CoinbaseBooks`; without ``symbols``, each product in a snapshot."""
    frames = list(frames)
    if not symbols:
        symbols = sorted({p.replace("-", "/") for p in _snapshot_products(frames)})
    books = CoinbaseBooks(symbols)
    for raw in frames:
        books.handle(raw)
    return books


def market_events(frames: Iterable[tuple[int, str]], symbols: list[str] | None,
                  levels: int) -> Iterator[BookUpdate | FeedStatus]:
    """Recorded ``(ts_ns, raw)`` frames -> what :class:`CoinbaseExchange` would publish, lazily
    (without ``symbols`` the whole recording is read first, to find the products it holds)."""
    if not symbols:
        frames = list(frames)
        symbols = sorted({p.replace("-", "/") for p in _snapshot_products([raw for _, raw in frames])})
    out: list[BookUpdate | FeedStatus] = []
    now = 0

    views = BookViews()  # the events of a frame are handed out after it: released before the next one

    def on_book(pb: ProductBook) -> None:
        out.append(views.add(BookUpdate.of_book("coinbase", pb.symbol, pb.book, levels, now)))

    def on_resync(dropped: list[str], reason: str) -> None:
        out.extend(FeedStatus("coinbase", symbol, FeedState.RESYNCING, now, reason) for symbol in dropped)

    books = CoinbaseBooks(symbols, on_book=on_book, on_resync=on_resync)
    for now, raw in frames:  # noqa: B007 - on_book and on_resync read `now`
        views.release()
        books.handle(raw)
        if out:
            yield from out
            out.clear()


class _Event(msgspec.Struct):
    type: str = ""
    product_id: str = ""


class _Message(msgspec.Struct):
    channel: str = ""
    events: list[_Event] = []


_decode_products = msgspec.json.Decoder(_Message).decode


def _snapshot_products(frames: list[str]) -> set[str]:
    found: set[str] = set()
    for raw in frames:
        if "l2_data" not in raw or "snapshot" not in raw:
            continue
        try:
            message = _decode_products(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        found.update(e.product_id for e in message.events if e.type == "snapshot" and "-" in e.product_id)
    return found


def _plain(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def summary(books: CoinbaseBooks, top: int = 5) -> str:
    c = books.counters
    lines = [f"messages={c.messages} sequence_gaps={c.sequence_gaps} resyncs={c.resyncs} "
             f"malformed={c.malformed}"]
    for symbol, pb in sorted(books.books.items()):
        bids, asks = pb.levels(top)
        lines.append(f"{symbol} (synced: {'yes' if pb.synced else 'no'})")
        lines.append(f"  {'bid qty':>20} {'bid':>14} | {'ask':<14} {'ask qty':<20}")
        for i in range(max(len(bids), len(asks))):
            bq, bp = (_plain(bids[i][1]), _plain(bids[i][0])) if i < len(bids) else ("", "")
            ap, aq = (_plain(asks[i][0]), _plain(asks[i][1])) if i < len(asks) else ("", "")
            lines.append(f"  {bq:>20} {bp:>14} | {ap:<14} {aq:<20}")
    return "\n".join(lines)
