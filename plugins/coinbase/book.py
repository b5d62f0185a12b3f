"""Coinbase Advanced Trade WebSocket messages -> order books. Pure and synchronous: no I/O.

:class:`CoinbaseBooks` takes each frame as received and keeps one :class:`bot.book.OrderBook` per
product from the ``level2`` channel (messages arrive with ``"channel": "l2_data"``): an event of
type ``snapshot`` replaces the book, an ``update`` sets each level's ``new_quantity`` (the new
size, not a delta; ``"0"`` removes the level). Sides are ``bid`` and ``offer``.

Every message on a connection carries ``sequence_num``, one counter for the whole connection
(heartbeats, ticker and subscription answers included), so a number that is not the previous
one + 1 means a message was lost or reordered and no book on this connection can be trusted: the
books are dropped, ``on_resync(symbols, reason)`` is called once (the connection resubscribes
``level2`` for a fresh snapshot; a replay just counts), and updates are ignored until the new
snapshot. A gap while that snapshot is awaited asks again, since the lost message may be it.

Numbers are strings on this venue; they are turned into integer units digit for digit at the
product's precision (never through a float). A number with more decimals than the precision is a
malformed message, not a rounding. Malformed and unexpected messages are counted by reason and
logged, never raised. A malformed level2 message has still used up its sequence number, so no gap
will follow and, the venue having no checksum, nothing would catch the lost change: the books it
names (all of them if it names none readably) are resynced like after a gap.
The same code serves the live feed and ``arbot replay``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from bot.api import Side
from bot.api.kit import REDACTOR, OrderBook

log = logging.getLogger("arbot.coinbase.book")

DEFAULT_DECIMALS = 10
"""Precision used when a product's increments are unknown (replay): exact for every Coinbase product."""
_POW10 = [10**i for i in range(40)]
_NULL = msgspec.Raw(b"null")


# --- wire types -----------------------------------------------------------------------------------


class _Level(msgspec.Struct):
    side: str
    price_level: str
    new_quantity: str
    event_time: str = ""


class _L2Event(msgspec.Struct):
    type: str
    product_id: str
    updates: list[_Level] = []


class _Ticker(msgspec.Struct):
    product_id: str
    price: str = ""
    best_bid: str = ""
    best_ask: str = ""
    type: str = ""


class _TickerEvent(msgspec.Struct):
    type: str = ""
    tickers: list[_Ticker] = []


class _Envelope(msgspec.Struct):
    """Any frame: enough to route it and check its sequence number; ``events`` is decoded per channel."""

    channel: str | None = None
    sequence_num: int | None = None
    events: msgspec.Raw = _NULL
    type: str | None = None
    message: str | None = None
    timestamp: str = ""
    client_id: str = ""


class _EventProduct(msgspec.Struct):
    """Only the product of a level2 event: what a message that failed to decode may still say."""

    product_id: str | None = None


_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_l2 = msgspec.json.Decoder(list[_L2Event]).decode
_decode_l2_products = msgspec.json.Decoder(list[_EventProduct]).decode
_decode_ticker = msgspec.json.Decoder(list[_TickerEvent]).decode


class Malformed(ValueError):
    """A frame that cannot be understood; counted and logged, never raised out of :meth:`CoinbaseBooks.handle`."""


def units(text: str, decimals: int) -> int:
    """``"1.50"`` at 8 decimals -> ``150000000``; Malformed if digits would be lost or it is not a plain number."""
    whole, dot, frac = text.partition(".")
    if not whole or not (whole.isdigit() and (not dot or frac.isdigit())) or not whole.isascii():
        raise Malformed(f"not a plain non-negative decimal: {text!r}")
    if not frac.isascii():
        raise Malformed(f"not a plain non-negative decimal: {text!r}")
    if len(frac) > decimals:
        extra = frac[decimals:]
        if extra.strip("0"):
            raise Malformed(f"{text!r} has more than {decimals} decimals")
        frac = frac[:decimals]
    return int(whole + frac) * _POW10[decimals - len(frac)]


MAX_REASON_CHARS = 80
"""A reason is counted under its first this many characters (masked first): a venue's error text can be long."""
MAX_REASONS = 64
"""Distinct reasons kept in :attr:`Counters.by_reason`; a new one beyond is counted as ``KIND: (other reasons)``."""
OTHER_REASONS = "(other reasons)"


@dataclass
class Counters:
    """What the handler saw; ``arbot replay`` prints some of these."""

    messages: int = 0
    l2_messages: int = 0
    snapshots: int = 0
    updates: int = 0
    heartbeats: int = 0
    tickers: int = 0
    sequence_gaps: int = 0
    resyncs: int = 0
    malformed: int = 0
    unexpected: int = 0
    ignored: int = 0
    """Book updates dropped while waiting for a snapshot."""
    errors: int = 0
    """Error messages from the venue (a refused subscription, ...)."""
    by_reason: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, reason: str) -> None:
        """One more ``kind`` (an attribute), and one more ``reason`` under it in :attr:`by_reason`.

        ``reason`` may quote the venue (an error message, a channel's name): it is masked, then cut to
        :data:`MAX_REASON_CHARS`, and past :data:`MAX_REASONS` names a new one is counted as ``KIND: (other
        reasons)``, so a stream of ever new texts neither shows a known secret nor grows the names without end."""
        setattr(self, kind, getattr(self, kind) + 1)
        by_reason = self.by_reason
        key = f"{kind}: {REDACTOR.cut(reason, MAX_REASON_CHARS)}"
        if key not in by_reason and len(by_reason) >= MAX_REASONS:
            key = f"{kind}: {OTHER_REASONS}"
        by_reason[key] = by_reason.get(key, 0) + 1


@dataclass(frozen=True)
class Ticker:
    """The latest ``ticker`` event of one product (strings as received: exact)."""

    symbol: str
    price: str
    best_bid: str
    best_ask: str


class ProductBook:
    """One product's book and whether it can be trusted."""

    __slots__ = ("symbol", "book", "synced")

    def __init__(self, symbol: str, price_decimals: int, qty_decimals: int, depth: int | None):
        self.symbol = symbol
        self.book = OrderBook(price_decimals, qty_decimals, depth)
        self.synced = False
        """True from a snapshot until a sequence gap, a malformed update or a disconnect."""

    def levels(self, n: int) -> tuple[tuple[tuple[Decimal, Decimal], ...], tuple[tuple[Decimal, Decimal], ...]]:
        """The best ``n`` levels of each side as Decimals at the product's precision."""
        return self.book.levels(Side.BUY, n), self.book.levels(Side.SELL, n)


BookCallback = Callable[[ProductBook], None]
ResyncCallback = Callable[[list[str], str], None]
TickerCallback = Callable[[Ticker], None]


class CoinbaseBooks:
    """Feed every received frame to :meth:`handle`; books, counters and callbacks follow.

    ``symbols`` are ours (``BTC/USD``); ``precisions`` gives each symbol's (price, size) decimals
    from the product's increments (a missing one uses :data:`DEFAULT_DECIMALS`). ``on_book`` runs
    after each applied change, ``on_resync`` when books need a fresh snapshot, ``on_ticker`` on
    each ticker. Leave ``depth`` None for the live feed: level2 never re-sends a level that comes
    back into view, so a truncated book grows holes after deletions.
    """

    def __init__(self, symbols: list[str], precisions: dict[str, tuple[int, int]] | None = None,
                 depth: int | None = None, on_book: BookCallback | None = None,
                 on_resync: ResyncCallback | None = None, on_ticker: TickerCallback | None = None):
        self.symbols = list(symbols)
        self.by_product = {s.replace("/", "-"): s for s in symbols}
        self.precisions = dict(precisions or {})
        self.depth = depth
        self.on_book = on_book
        self.on_resync = on_resync
        self.on_refused: ResyncCallback | None = None
        """``on_refused(symbols, message)``: an ``error`` message while these books wait for their snapshot (the feed
        asks again later: on a connection that stays up nothing else would)."""
        self.on_ticker = on_ticker
        self.books: dict[str, ProductBook] = {}
        self.tickers: dict[str, Ticker] = {}
        self.counters = Counters()
        self.last_sequence: int | None = None
        self.awaiting_snapshot: set[str] = set()
        """Symbols whose book was dropped and whose fresh snapshot is awaited (resync asked once)."""


    # --- entry point ------------------------------------------------------------------------

    def handle(self, frame: str | bytes) -> None:
        """Process one frame. Never raises for bad input: it is counted in :attr:`counters`."""
        self.counters.messages += 1
        try:
            self._handle(frame)
        except Malformed as exc:
            self._malformed("bad value", str(exc), frame)
        except msgspec.ValidationError as exc:
            self._malformed("wrong shape", str(exc), frame)
        except msgspec.DecodeError as exc:
            self._malformed("not JSON", str(exc), frame)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
            self._malformed(type(exc).__name__, str(exc), frame)

    def reset(self) -> None:
        """A new connection: sequence numbers start again and every book waits for its snapshot."""
        self.last_sequence = None
        self.awaiting_snapshot.clear()
        for pb in self.books.values():
            pb.synced = False
            pb.book.clear()

    def expect_snapshots(self, symbols: list[str]) -> None:
        """The connection (re)subscribed ``level2`` for these: their next snapshot is awaited."""
        self.awaiting_snapshot.update(symbols)

    # --- routing ----------------------------------------------------------------------------

    def _handle(self, frame: str | bytes) -> None:
        env = _decode_envelope(frame)
        if env.type == "error":
            self.counters.count("errors", REDACTOR.cut(str(env.message), 60))
            log.warning("coinbase error message: %s", env.message)
            if self.awaiting_snapshot and self.on_refused is not None:
                # it names no product: it may be the refusal of the subscription these books wait for
                self.on_refused(sorted(self.awaiting_snapshot), str(env.message))
            return
        channel = env.channel
        if channel is None or env.sequence_num is None:
            raise Malformed("message without channel or sequence_num")
        if env.sequence_num < 0:
            raise Malformed("negative sequence_num")
        self._check_sequence(env.sequence_num)
        if channel == "l2_data":
            try:
                events = _decode_l2(env.events)
            except msgspec.DecodeError:
                # its sequence number was taken, so no gap will show this update was lost, and
                # there is no checksum on this venue to catch it later: resync now
                self._resync(self._l2_symbols(env.events), "malformed update")
                raise
            self._on_l2(events)
        elif channel == "heartbeats":
            self.counters.heartbeats += 1
        elif channel == "ticker":
            self._on_ticker(_decode_ticker(env.events))
        elif channel == "subscriptions":
            pass
        else:
            self.counters.count("unexpected", f"channel {REDACTOR.cut(channel, 30)!r}")
            if log.isEnabledFor(logging.DEBUG):
                log.debug("unexpected coinbase message: %r", REDACTOR.cut(frame, 200))

    def _check_sequence(self, seq: int) -> None:
        last = self.last_sequence
        self.last_sequence = seq
        if last is None or seq == last + 1:
            return
        self.counters.sequence_gaps += 1
        reason = f"sequence gap: {last} then {seq}"
        log.warning("coinbase %s: dropping the books and resubscribing", reason)
        # symbols already awaiting a snapshot are asked again: the lost message may be that snapshot
        self._resync(list(self.symbols), reason)

    def _resync(self, symbols: list[str], reason: str) -> None:
        for symbol in symbols:
            pb = self.books.get(symbol)
            if pb is not None:
                pb.synced = False
                pb.book.clear()
        if not symbols:
            return
        self.awaiting_snapshot.update(symbols)
        self.counters.count("resyncs", reason.split(":")[0])
        if self.on_resync is not None:
            self.on_resync(symbols, reason)

    def _l2_symbols(self, events: msgspec.Raw) -> list[str]:
        """The subscribed symbols a level2 message that failed to decode may concern; all if it names none readably."""
        try:
            products = {e.product_id for e in _decode_l2_products(events)}
        except msgspec.DecodeError:
            return list(self.symbols)
        if None in products:
            return list(self.symbols)
        return [symbol for product, symbol in self.by_product.items() if product in products]

    def _malformed(self, kind: str, detail: str, frame: str | bytes) -> None:
        self.counters.count("malformed", kind)
        log.warning("malformed coinbase message (%s: %s): %r", kind, detail, REDACTOR.cut(frame, 200))

    # --- ticker -----------------------------------------------------------------------------

    def _on_ticker(self, events: list[_TickerEvent]) -> None:
        for event in events:
            for t in event.tickers:
                symbol = self.by_product.get(t.product_id)
                if symbol is None:
                    self.counters.count("unexpected", "ticker for a product not subscribed")
                    continue
                ticker = Ticker(symbol, t.price, t.best_bid, t.best_ask)
                self.tickers[symbol] = ticker
                self.counters.tickers += 1
                if self.on_ticker is not None:
                    self.on_ticker(ticker)

    # --- level2 -----------------------------------------------------------------------------

    def _book(self, symbol: str) -> ProductBook:
        pb = self.books.get(symbol)
        if pb is None:
            pd, qd = self.precisions.get(symbol, (DEFAULT_DECIMALS, DEFAULT_DECIMALS))
            pb = self.books[symbol] = ProductBook(symbol, pd, qd, self.depth)
        return pb

    def _on_l2(self, events: list[_L2Event]) -> None:
        counters = self.counters
        counters.l2_messages += 1
        for event in events:
            symbol = self.by_product.get(event.product_id)
            if symbol is None:
                counters.count("unexpected", "level2 for a product not subscribed")
                continue
            if event.type == "snapshot":
                pb = self._book(symbol)
                pb.book.clear()
                pb.synced = False
                try:
                    self._apply(pb, event.updates)
                except Malformed:
                    pb.book.clear()
                    self._resync([symbol], "malformed snapshot")
                    raise
                counters.snapshots += 1
                self.awaiting_snapshot.discard(symbol)
            elif event.type == "update":
                known = self.books.get(symbol)
                if known is None or not known.synced:
                    counters.count("ignored", "update while waiting for a snapshot")
                    continue
                pb = known
                try:
                    self._apply(pb, event.updates)
                except Malformed:
                    pb.synced = False  # half-applied: the book can no longer be trusted
                    pb.book.clear()
                    self._resync([symbol], "malformed update")
                    raise
                counters.updates += 1
            else:
                counters.count("unexpected", f"level2 event type {REDACTOR.cut(event.type, 20)!r}")
                continue
            pb.synced = True
            if self.on_book is not None:
                self.on_book(pb)

    def _apply(self, pb: ProductBook, updates: list[_Level]) -> None:
        book = pb.book
        pd, qd = book.price_decimals, book.qty_decimals
        set_bid, set_ask = book.set_bid, book.set_ask
        for level in updates:
            p = units(level.price_level, pd)
            if p <= 0:
                raise Malformed(f"price must be > 0, got {level.price_level!r}")
            q = units(level.new_quantity, qd)
            side = level.side
            if side == "bid":
                set_bid(p, q)
            elif side == "offer":
                set_ask(p, q)
            else:
                raise Malformed(f"side {REDACTOR.cut(side, 10)!r}")  # masked first: a cut secret is no longer known
        if book.depth is not None:
            book.truncate()
