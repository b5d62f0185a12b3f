"""Kraken WebSocket v2 public messages -> verified order books. Pure and synchronous: no I/O.

:class:`KrakenBooks` takes each frame as received (text or bytes) and keeps one
:class:`bot.book.OrderBook` per symbol, verifying Kraken's CRC32 checksum on every book message:

* the checksum covers the top 10 asks (low to high) then the top 10 bids (high to low); each level
  is its price then its quantity, each rendered at the pair's precision (from the ``instrument``
  channel), with the ``.`` removed and leading zeros stripped. For an integer held in units of
  ``10**-precision`` that rendering is simply ``str(units)``, so each level's text is made once
  when the level changes and kept in a list parallel to the sorted price keys; a side's part of
  the checksum is then ``b"".join(frags[:10])``, rebuilt only when a change reached its top 10;
* numbers are decoded by msgspec as raw JSON text (``msgspec.Raw``), never through a float, and
  turned into integer units digit for digit; a number with more decimals than the pair's
  precision is a malformed message, not a rounding;
* the book is truncated to the subscribed depth after every message, as Kraken documents.

On a checksum mismatch the symbol's book is dropped, ``on_resync(symbol, reason)`` is called once
(the connection resubscribes; a replay just counts), and book messages for that symbol are
ignored until the next snapshot. Malformed and unexpected messages are counted and logged, never
raised. The same code serves the live feed, ``arbot replay`` and ``benchmarks/book.py``.
"""

from __future__ import annotations

import logging
import zlib
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from bot.book import OrderBook, from_units

log = logging.getLogger("arbot.kraken.book")

CHECKSUM_LEVELS = 10
_PRICE_CACHE_MAX = 100_000
_POW10 = [10**i for i in range(40)]


# --- wire types: numbers stay raw JSON text --------------------------------------------------------

_NULL = msgspec.Raw(b"null")


class _Level(msgspec.Struct):
    price: msgspec.Raw
    qty: msgspec.Raw


class _BookData(msgspec.Struct):
    symbol: str
    bids: list[_Level] = []
    asks: list[_Level] = []
    checksum: int | None = None
    timestamp: str = ""


class _BookMessage(msgspec.Struct):
    channel: str
    type: str
    data: list[_BookData]


class _Pair(msgspec.Struct):
    symbol: str
    price_precision: int
    qty_precision: int
    price_increment: msgspec.Raw = _NULL
    qty_increment: msgspec.Raw = _NULL
    qty_min: msgspec.Raw = _NULL
    cost_min: msgspec.Raw = _NULL
    base: str = ""
    quote: str = ""
    status: str = ""


class _InstrumentData(msgspec.Struct):
    pairs: list[_Pair] = []


class _Envelope(msgspec.Struct):
    """Any frame: enough to route it. ``data`` is decoded again by its channel's type."""

    channel: str | None = None
    type: str | None = None
    data: msgspec.Raw = _NULL
    method: str | None = None
    success: bool | None = None
    error: str | None = None


_decode_book = msgspec.json.Decoder(_BookMessage).decode
_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_book_data = msgspec.json.Decoder(list[_BookData]).decode
_decode_instrument = msgspec.json.Decoder(_InstrumentData).decode
_BOOK_PREFIXES = (b'{"channel":"book","type":', '{"channel":"book","type":')


class Malformed(ValueError):
    """A frame that cannot be understood; counted and logged, never raised out of :meth:`KrakenBooks.handle`."""


def units(raw: msgspec.Raw | bytes | str, decimals: int) -> int:
    """JSON number text -> integer units of ``10**-decimals``, digit for digit; Malformed if digits would be lost."""
    text = bytes(raw) if not isinstance(raw, (bytes, str)) else raw
    dot = text.find(b"." if isinstance(text, bytes) else ".")
    try:
        if dot < 0:
            n = int(text) * _POW10[decimals]
        else:
            frac = len(text) - dot - 1
            n = int(text[:dot] + text[dot + 1:])
            if frac < decimals:
                n *= _POW10[decimals - frac]
            elif frac > decimals:
                n, rest = divmod(n, _POW10[frac - decimals])
                if rest:
                    raise Malformed(f"{text!r} has more than {decimals} decimals")
    except ValueError as exc:
        if isinstance(exc, Malformed):
            raise
        n = _units_slow(text, decimals)
    if n < 0:
        raise Malformed(f"negative number {text!r}")
    return n


def _price_entry(text: bytes, decimals: int) -> tuple[int, bytes]:
    """A price's units and its checksum text (digits without the dot and leading zeros)."""
    p = units(text, decimals)
    if p <= 0:
        raise Malformed(f"price must be > 0, got {text!r}")
    return p, str(p).encode()


def _units_slow(text: bytes | str, decimals: int) -> int:
    """Exponent forms (``1e-05``) and anything else ``int`` refused."""
    try:
        d = Decimal(text.decode() if isinstance(text, bytes) else text)
    except Exception as exc:
        raise Malformed(f"not a number: {text!r}") from exc
    if not d.is_finite():
        raise Malformed(f"not a finite number: {text!r}")
    scaled = d.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise Malformed(f"{text!r} has more than {decimals} decimals")
    return int(scaled)


@dataclass
class PairInfo:
    """What the ``instrument`` channel says about one pair."""

    symbol: str
    price_precision: int
    qty_precision: int
    price_increment: Decimal | None = None
    qty_increment: Decimal | None = None
    qty_min: Decimal | None = None
    cost_min: Decimal | None = None


@dataclass
class Counters:
    """What the handler saw; ``arbot replay`` prints some of these."""

    messages: int = 0
    book_messages: int = 0
    checksum_ok: int = 0
    checksum_failed: int = 0
    resyncs: int = 0
    malformed: int = 0
    unexpected: int = 0
    ignored: int = 0
    """Book messages dropped while waiting for a snapshot (after a mismatch, or before the instrument)."""
    errors: int = 0
    """Error answers from the venue (a refused subscription, ...)."""
    by_reason: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, reason: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        key = f"{kind}: {reason}"
        self.by_reason[key] = self.by_reason.get(key, 0) + 1


class SymbolBook:
    """One symbol's book plus the checksum text of each level, kept in price order beside the keys.

    ``bid_frags[i]`` is the checksum text of the level at ``book.bid_keys[i]`` (likewise asks), so
    a side's part of the checksum is ``b"".join(frags[:10])``: a slice, no look-up per level.
    """

    __slots__ = ("symbol", "book", "bid_frags", "ask_frags", "synced", "checksum", "bids_dirty", "asks_dirty",
                 "_bid_bytes", "_ask_crc", "prices")

    def __init__(self, symbol: str, info: PairInfo, depth: int):
        self.symbol = symbol
        self.book = OrderBook(info.price_precision, info.qty_precision, depth)
        self.bid_frags: list[bytes] = []
        """Checksum text (price digits + qty digits) of each bid level, best first."""
        self.ask_frags: list[bytes] = []
        self.prices: dict[bytes, tuple[int, bytes]] = {}
        """Price text as received -> (units, checksum text): prices repeat, so most are parsed once."""
        self.synced = False
        """True from a verified snapshot until a mismatch or a disconnect."""
        self.checksum: int | None = None
        self.bids_dirty = self.asks_dirty = True
        """A change reached a side's top 10: its part of the checksum must be rebuilt."""
        self._bid_bytes = b""
        self._ask_crc = 0

    def clear(self) -> None:
        self.book.clear()
        self.bid_frags.clear()
        self.ask_frags.clear()
        self.bids_dirty = self.asks_dirty = True

    def compute_checksum(self) -> int:
        """Kraken's CRC32 of the top 10 asks then the top 10 bids.

        CRC32 continues across the two halves (``crc32(bids, crc32(asks))``), so a side whose top
        10 did not change reuses its part from the previous message.
        """
        if self.asks_dirty:
            self._ask_crc = zlib.crc32(b"".join(self.ask_frags[:CHECKSUM_LEVELS]))
            self.asks_dirty = False
        if self.bids_dirty:
            self._bid_bytes = b"".join(self.bid_frags[:CHECKSUM_LEVELS])
            self.bids_dirty = False
        return zlib.crc32(self._bid_bytes, self._ask_crc)

    def levels(self, n: int) -> tuple[tuple[tuple[Decimal, Decimal], ...], tuple[tuple[Decimal, Decimal], ...]]:
        """The best ``n`` levels of each side as Decimals at the pair's precision."""
        book = self.book
        pd, qd = book.price_decimals, book.qty_decimals
        bids = tuple((from_units(-k, pd), from_units(book.bids[-k], qd)) for k in book.bid_keys[:n])
        asks = tuple((from_units(k, pd), from_units(book.asks[k], qd)) for k in book.ask_keys[:n])
        return bids, asks


BookCallback = Callable[[SymbolBook], None]
ResyncCallback = Callable[[str, str], None]


class KrakenBooks:
    """Feed every received frame to :meth:`handle`; books, counters and callbacks follow.

    ``on_book(symbol_book)`` runs after each verified change; ``on_resync(symbol, reason)`` when a
    symbol needs a fresh snapshot (checksum mismatch, precision change, book before instrument).
    ``verify=False`` skips the checksum (benchmarks compare; the live feed always verifies).
    """

    def __init__(self, depth: int, on_book: BookCallback | None = None, on_resync: ResyncCallback | None = None,
                 verify: bool = True, symbols: list[str] | None = None):
        self.depth = depth
        self.on_book = on_book
        self.on_resync = on_resync
        self.verify = verify
        self.symbols = set(symbols) if symbols is not None else None
        """Symbols we subscribed to; book data for any other is unexpected (None: accept all)."""
        self.pairs: dict[str, PairInfo] = {}
        self.books: dict[str, SymbolBook] = {}
        self.counters = Counters()
        self.last_error: str = ""

    # --- entry point ------------------------------------------------------------------------

    def handle(self, frame: str | bytes) -> None:
        """Process one frame. Never raises for bad input: it is counted in :attr:`counters`."""
        self.counters.messages += 1
        try:
            if frame.startswith(_BOOK_PREFIXES[0] if isinstance(frame, bytes) else _BOOK_PREFIXES[1]):
                try:
                    message = _decode_book(frame)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    self._route(frame)  # fields in another order, or not a book message after all
                    return
                self._on_book(message.type, message.data)
            else:
                self._route(frame)
        except Malformed as exc:
            self._malformed(str(exc), frame)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._malformed(f"{type(exc).__name__}: {exc}", frame)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
            self._malformed(f"{type(exc).__name__}: {exc}", frame)

    def reset(self, reason: str = "disconnected") -> None:
        """Forget every book (the connection dropped): each symbol waits for a new snapshot."""
        for sb in self.books.values():
            sb.synced = False
            sb.clear()

    # --- routing ----------------------------------------------------------------------------

    def _route(self, frame: str | bytes) -> None:
        env = _decode_envelope(frame)
        channel = env.channel
        if channel == "book":
            if env.type not in ("snapshot", "update"):
                raise Malformed(f"book message of type {env.type!r}")
            self._on_book(env.type, _decode_book_data(env.data))
        elif channel == "instrument":
            if env.type not in ("snapshot", "update"):
                raise Malformed(f"instrument message of type {env.type!r}")
            self._on_instrument(_decode_instrument(env.data))
        elif channel in ("heartbeat", "status"):
            pass
        elif env.method is not None:
            if env.success is False or env.error:
                self.counters.count("errors", f"{env.method}: {env.error}")
                self.last_error = f"{env.method}: {env.error}"
                log.warning("kraken answered %s with an error: %s", env.method, env.error)
            elif env.method == "pong":
                pass
        elif env.error:
            self.counters.count("errors", str(env.error))
            log.warning("kraken error: %s", env.error)
        else:
            self.counters.count("unexpected", f"channel {channel!r}")
            log.debug("unexpected kraken message: %.200s", frame)

    def _malformed(self, reason: str, frame: str | bytes) -> None:
        self.counters.count("malformed", reason.split(":")[0])
        log.warning("malformed kraken message (%s): %.200r", reason, frame)

    # --- instrument -------------------------------------------------------------------------

    def _on_instrument(self, data: _InstrumentData) -> None:
        for pair in data.pairs:
            if self.symbols is not None and pair.symbol not in self.symbols:
                continue
            if not (0 <= pair.price_precision < 30 and 0 <= pair.qty_precision < 30):
                raise Malformed(f"precision out of range for {pair.symbol}")
            info = PairInfo(pair.symbol, pair.price_precision, pair.qty_precision,
                            _decimal(pair.price_increment), _decimal(pair.qty_increment),
                            _decimal(pair.qty_min), _decimal(pair.cost_min))
            old = self.pairs.get(pair.symbol)
            self.pairs[pair.symbol] = info
            sb = self.books.get(pair.symbol)
            if sb is not None and (old is None or old.price_precision != info.price_precision
                                   or old.qty_precision != info.qty_precision):
                del self.books[pair.symbol]  # precision changed: the book must be rebuilt from a snapshot
                self._resync(pair.symbol, "instrument precision changed")

    # --- book -------------------------------------------------------------------------------

    def _on_book(self, kind: str, entries: list[_BookData]) -> None:
        counters = self.counters
        counters.book_messages += 1
        snapshot = kind == "snapshot"
        if not snapshot and kind != "update":
            raise Malformed(f"book message of type {kind!r}")
        for entry in entries:
            symbol = entry.symbol
            sb = self.books.get(symbol)
            if sb is None:
                if self.symbols is not None and symbol not in self.symbols:
                    counters.count("unexpected", "book for a symbol not subscribed")
                    continue
                info = self.pairs.get(symbol)
                if info is None:
                    counters.count("ignored", "book before instrument")
                    if snapshot:
                        self._resync(symbol, "book snapshot arrived before the pair's precision")
                    continue
                sb = self.books[symbol] = SymbolBook(symbol, info, self.depth)
            if snapshot:
                sb.clear()
            elif not sb.synced:
                counters.count("ignored", "update while waiting for a snapshot")
                continue
            try:
                self._apply(sb, entry)
            except Malformed:
                sb.synced = False  # half-applied: the book can no longer be trusted
                self._resync(symbol, "malformed book message")
                raise
            if self.verify:
                if entry.checksum is None or sb.compute_checksum() != entry.checksum:
                    counters.checksum_failed += 1
                    sb.synced = False
                    sb.clear()
                    reason = "checksum missing" if entry.checksum is None else "checksum mismatch"
                    log.warning("kraken %s book %s (%s): resubscribing", symbol, reason, kind)
                    self._resync(symbol, reason)
                    continue
                counters.checksum_ok += 1
            sb.synced = True
            sb.checksum = entry.checksum
            if self.on_book is not None:
                self.on_book(sb)

    def _apply(self, sb: SymbolBook, entry: _BookData) -> None:
        # Inlined fast path of units(): a JSON number with exactly the pair's decimals (what Kraken
        # sends) is its digits without the dot; anything else goes through units(). Keys, dict and
        # checksum text are updated together (the OrderBook's set_bid/set_ask plus the text).
        book = sb.book
        pd = book.price_decimals
        qd = book.qty_decimals
        prices = sb.prices
        if len(prices) > _PRICE_CACHE_MAX:
            prices.clear()
        if entry.bids:
            bids = book.bids
            bid_keys = book.bid_keys
            bid_frags = sb.bid_frags
            for level in entry.bids:
                t = bytes(level.price)
                hit = prices.get(t)
                if hit is None:
                    hit = prices[t] = _price_entry(t, pd)
                p, ptext = hit
                t = bytes(level.qty)
                d = t.find(b".")
                if d > 0 and len(t) - d - 1 == qd:
                    qtext = t.replace(b".", b"").lstrip(b"0")
                    q = int(qtext) if qtext else 0
                else:
                    q = units(t, qd)
                    qtext = str(q).encode() if q else b""
                if q < 0:
                    raise Malformed("negative qty")
                if q:
                    i = bisect_left(bid_keys, -p)
                    if p in bids:
                        bid_frags[i] = ptext + qtext
                    else:
                        bid_keys.insert(i, -p)
                        bid_frags.insert(i, ptext + qtext)
                    bids[p] = q
                    if i < CHECKSUM_LEVELS:
                        sb.bids_dirty = True
                elif bids.pop(p, None) is not None:
                    i = bisect_left(bid_keys, -p)
                    del bid_keys[i]
                    del bid_frags[i]
                    if i < CHECKSUM_LEVELS:
                        sb.bids_dirty = True
        if entry.asks:
            asks = book.asks
            ask_keys = book.ask_keys
            ask_frags = sb.ask_frags
            for level in entry.asks:
                t = bytes(level.price)
                hit = prices.get(t)
                if hit is None:
                    hit = prices[t] = _price_entry(t, pd)
                p, ptext = hit
                t = bytes(level.qty)
                d = t.find(b".")
                if d > 0 and len(t) - d - 1 == qd:
                    qtext = t.replace(b".", b"").lstrip(b"0")
                    q = int(qtext) if qtext else 0
                else:
                    q = units(t, qd)
                    qtext = str(q).encode() if q else b""
                if q < 0:
                    raise Malformed("negative qty")
                if q:
                    i = bisect_left(ask_keys, p)
                    if p in asks:
                        ask_frags[i] = ptext + qtext
                    else:
                        ask_keys.insert(i, p)
                        ask_frags.insert(i, ptext + qtext)
                    asks[p] = q
                    if i < CHECKSUM_LEVELS:
                        sb.asks_dirty = True
                elif asks.pop(p, None) is not None:
                    i = bisect_left(ask_keys, p)
                    del ask_keys[i]
                    del ask_frags[i]
                    if i < CHECKSUM_LEVELS:
                        sb.asks_dirty = True
        depth = book.depth
        if len(book.bid_keys) > depth or len(book.ask_keys) > depth:
            del sb.bid_frags[depth:]
            del sb.ask_frags[depth:]
            book.truncate()

    def _resync(self, symbol: str, reason: str) -> None:
        self.counters.count("resyncs", reason)
        if self.on_resync is not None:
            self.on_resync(symbol, reason)


def _decimal(raw: msgspec.Raw) -> Decimal | None:
    if bytes(raw) == b"null":
        return None
    try:
        d = Decimal(bytes(raw).decode())
    except Exception as exc:
        raise Malformed(f"not a number: {bytes(raw)!r}") from exc
    if not d.is_finite() or d < 0:
        raise Malformed(f"not a non-negative number: {d}")
    return d

