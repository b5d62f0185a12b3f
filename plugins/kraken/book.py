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

Three paths, one behaviour (``tests/plugins/kraken/test_kraken_book_paths.py`` feeds them the same
frames, odd ones included, and compares books, counters and callbacks after each):

* the C fast path (``_fastbook.c``, built by ``pip install`` when a compiler is there): a book
  update in exactly the shape Kraken sends, for a book in sync, parsed, applied to the same lists
  and dicts and verified in one call; anything else is refused untouched and goes on to
* the Python fast path: a decoder that accepts only a book update (any field order), then
* the general path: an envelope decoder routes the frame by channel.

The Python code is the reference; without the C build the plugin behaves the same, slower.

On a checksum mismatch the symbol's book is dropped, ``on_resync(symbol, reason)`` is called once
(the connection resubscribes; a replay just counts), and book messages for that symbol are
ignored until the next snapshot. Malformed and unexpected messages are counted and logged, never
raised. A ``book`` frame that cannot be decoded is resynced too: the checksum covers only the top
10 levels, so a change it carried deeper would stay lost in a book still verified. The books it
names are resynced, or every subscribed book when its symbols cannot be read (not JSON).
The same code serves the live feed, ``arbot replay`` and ``benchmarks/book.py``.
"""

from __future__ import annotations

import logging
import re
import zlib
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import msgspec

from bot.api import Side
from bot.api.kit import REDACTOR, BookPublisher, OrderBook

PublisherFactory = Callable[[str, OrderBook], BookPublisher]
_FastUpdate = Callable[[bytes | str, dict[bytes, list[Any]]], "tuple[SymbolBook, int | None] | None"]
_FAST_VERSION = 2
"""The ``_fastbook`` this code drives (2: it publishes through the book's publisher); an older build is not used."""


def _accelerator(module: Any) -> _FastUpdate | None:
    """The C fast path's ``update`` if ``module`` is the build this code drives, else None (the Python paths)."""
    if getattr(module, "VERSION", 1) != _FAST_VERSION:
        log.warning("plugins/kraken/_fastbook is an older build: not used (rebuild it: pip install -e .)")
        return None
    update: _FastUpdate = module.update
    return update


log = logging.getLogger("arbot.kraken.book")
_fast_update: _FastUpdate | None = None
try:  # optional C build of the update fast path (plugins/kraken/_fastbook.c); the Python code is the reference
    from . import _fastbook
    _fast_update = _accelerator(_fastbook)
except ImportError:  # pragma: no cover - depends on the build
    pass

CHECKSUM_LEVELS = 10
_PRICE_CACHE_MAX = 100_000
_POW10 = [10**i for i in range(40)]


# --- wire types: numbers stay raw JSON text --------------------------------------------------------

_NULL = msgspec.Raw(b"null")


class _Level(msgspec.Struct, gc=False):
    price: msgspec.Raw
    qty: msgspec.Raw


class _BookData(msgspec.Struct, gc=False):
    symbol: str
    bids: list[_Level] = []
    asks: list[_Level] = []
    checksum: int | None = None
    timestamp: str = ""


class _Update(msgspec.Struct, gc=False):
    """The fast path's type: a book update and nothing else (anything else fails to decode)."""

    channel: Literal["book"]
    type: Literal["update"]
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
    symbol: Any = None
    """The symbol a refused subscription names (any JSON: only a string is used, nothing else is refused for it)."""


class _EntrySymbol(msgspec.Struct):
    symbol: str | None = None


class _BookSymbols(msgspec.Struct):
    """What a book frame that failed to decode may still say: the symbol of each entry."""

    data: list[_EntrySymbol] = []


_decode_update = msgspec.json.Decoder(_Update).decode
_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_book_data = msgspec.json.Decoder(list[_BookData]).decode
_decode_instrument = msgspec.json.Decoder(_InstrumentData).decode
_decode_book_symbols = msgspec.json.Decoder(_BookSymbols).decode
_BOOK_CHANNEL = re.compile(rb'"channel"\s*:\s*"book"')


class Malformed(ValueError):
    """A frame that cannot be understood; counted and logged, never raised out of :meth:`KrakenBooks.handle`."""


def units(raw: msgspec.Raw | bytes, decimals: int) -> int:
    """JSON number text -> integer units of ``10**-decimals``, digit for digit; Malformed if digits would be lost."""
    text = raw if isinstance(raw, bytes) else bytes(raw)
    dot = text.find(b".")
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


def _price_entry(text: bytes, decimals: int, sign: int) -> tuple[int, int, bytes]:
    """A price's units, its sort key on its side (``sign * units``) and its checksum text."""
    p = units(text, decimals)
    if p <= 0:
        raise Malformed(f"price must be > 0, got {text!r}")
    return p, sign * p, str(p).encode()


def _units_slow(text: bytes, decimals: int) -> int:
    """Exponent forms (``1e-05``) and anything else ``int`` refused."""
    try:
        d = Decimal(text.decode())
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


MAX_REASON_CHARS = 80
"""A reason is counted under its first this many characters (masked first): a venue's error text can be long."""
MAX_REASONS = 64
"""Distinct reasons kept in :attr:`Counters.by_reason`; a new one beyond is counted as ``KIND: (other reasons)``."""
OTHER_REASONS = "(other reasons)"


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
        """One more ``kind`` (an attribute), and one more ``reason`` under it in :attr:`by_reason`.

        ``reason`` may be the venue's text (an error, a channel's name): it is masked, then cut to
        :data:`MAX_REASON_CHARS`, and past :data:`MAX_REASONS` names a new one is counted as ``KIND: (other
        reasons)``, so a stream of ever new texts neither shows a known secret nor grows the names without end."""
        setattr(self, kind, getattr(self, kind) + 1)
        by_reason = self.by_reason
        key = f"{kind}: {REDACTOR.cut(reason, MAX_REASON_CHARS)}"
        if key not in by_reason and len(by_reason) >= MAX_REASONS:
            key = f"{kind}: {OTHER_REASONS}"
        by_reason[key] = by_reason.get(key, 0) + 1


class _Side:
    """One side of a symbol's book as the hot path sees it.

    ``keys`` and ``qty`` are the :class:`bot.book.OrderBook`'s own sorted key list and ``price ->
    qty`` dict for that side (bids keyed by the negated price, so both lists ascend from the best
    level); ``frags[i]`` is the checksum text of the level at ``keys[i]``, so the side's part of
    the checksum is ``b"".join(frags[:10])``: a slice, no look-up per level. ``prices`` caches
    each price text as received -> ``(units, key, checksum text)``: prices repeat, so most are
    parsed once.
    """

    __slots__ = ("keys", "qty", "frags", "prices", "sign", "pd", "qd", "qdot", "depth", "dirty")

    def __init__(self, keys: list[int], qty: dict[int, int], sign: int, pd: int, qd: int, depth: int):
        self.keys = keys
        self.qty = qty
        self.frags: list[bytes] = []
        self.prices: dict[bytes, tuple[int, int, bytes]] = {}
        self.sign = sign
        self.pd = pd
        self.qd = qd
        self.qdot = -qd - 1
        """Where the ``.`` of a quantity with exactly ``qd`` decimals is (from the end)."""
        self.depth = depth
        self.dirty = True
        """A change reached the top 10 since the checksum text was last built."""

    def clear(self) -> None:
        self.keys.clear()
        self.qty.clear()
        self.frags.clear()
        self.dirty = True

    def apply(self, levels: list[_Level]) -> None:
        """Apply one message's level changes to this side, then truncate it to the depth.

        A quantity with exactly the pair's decimals (what Kraken sends) is its digits without the
        dot (``int`` keeps every digit; the same digits without leading zeros are its checksum
        text). Anything else -- fewer decimals, an exponent, a string -- goes through
        :func:`units`, which accepts what is exact and raises :class:`Malformed` for the rest.
        """
        keys = self.keys
        book = self.qty
        frags = self.frags
        prices = self.prices
        qdot = self.qdot
        for level in levels:
            t = bytes(level.price)
            hit = prices.get(t)
            if hit is None:
                if len(prices) >= _PRICE_CACHE_MAX:
                    prices.clear()
                hit = prices[t] = _price_entry(t, self.pd, self.sign)
            p, k, ptext = hit
            t = bytes(level.qty)
            try:
                if t[qdot] != 46:  # b"."
                    raise IndexError
                qtext = t.replace(b".", b"").lstrip(b"0")
                q = int(qtext) if qtext else 0
            except (IndexError, ValueError):
                q = units(t, self.qd)
                qtext = str(q).encode()
            if q > 0:
                i = bisect_left(keys, k)
                if p in book:
                    frags[i] = ptext + qtext
                else:
                    keys.insert(i, k)
                    frags.insert(i, ptext + qtext)
                book[p] = q
                if i < CHECKSUM_LEVELS:
                    self.dirty = True
            elif q:
                raise Malformed(f"negative qty {t!r}")
            elif p in book:
                del book[p]
                i = bisect_left(keys, k)
                del keys[i]
                del frags[i]
                if i < CHECKSUM_LEVELS:
                    self.dirty = True
        depth = self.depth
        if len(keys) > depth:  # never reaches the top 10: Kraken's depths are all >= 10
            sign = self.sign
            for k in keys[depth:]:
                del book[sign * k]
            del keys[depth:]
            del frags[depth:]

    def text(self) -> bytes:
        """This side's part of the checksum text (its top 10 levels)."""
        return b"".join(self.frags[:CHECKSUM_LEVELS])


class SymbolBook:
    """One symbol's :class:`bot.book.OrderBook` plus what verifying Kraken's checksum needs."""

    __slots__ = ("symbol", "key", "book", "bids", "asks", "synced", "checksum", "publisher", "_bid_text", "_ask_crc")

    def __init__(self, symbol: str, info: PairInfo, depth: int, publisher: PublisherFactory | None = None):
        self.symbol = symbol
        self.key = symbol.encode()
        """The symbol as it appears in a frame (the C fast path looks books up by it)."""
        self.book = book = OrderBook(info.price_precision, info.qty_precision, depth)
        pd, qd = info.price_precision, info.qty_precision
        self.bids = _Side(book.bid_keys, book.bids, -1, pd, qd, depth)
        self.asks = _Side(book.ask_keys, book.asks, 1, pd, qd, depth)
        self.synced = False
        """True from a verified snapshot until a mismatch or a disconnect."""
        self.checksum: int | None = None
        """The last verified checksum."""
        self.publisher: BookPublisher | None = publisher(symbol, book) if publisher is not None else None
        """Publishes a view of the book after each verified change (:class:`KrakenBooks` ``publisher``)."""
        self._bid_text = b""
        self._ask_crc = 0

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()

    def fast_state(self) -> list:
        """What the C fast path works on: this book's lists and dicts (see ``_fastbook.c``)."""
        b, a = self.bids, self.asks
        return [self, b, a, b.keys, b.qty, b.frags, b.prices, a.keys, a.qty, a.frags, a.prices,
                b.pd, b.qd, b.depth, _price_entry, self.publisher]

    def compute_checksum(self) -> int:
        """Kraken's CRC32 of the top 10 asks then the top 10 bids.

        CRC32 continues across the two halves (``crc32(bids, crc32(asks))``), so a side whose top
        10 did not change reuses its part from the previous message.
        """
        asks = self.asks
        if asks.dirty:
            self._ask_crc = zlib.crc32(asks.text())
            asks.dirty = False
        bids = self.bids
        if bids.dirty:
            self._bid_text = bids.text()
            bids.dirty = False
        return zlib.crc32(self._bid_text, self._ask_crc)

    def levels(self, n: int) -> tuple[tuple[tuple[Decimal, Decimal], ...], tuple[tuple[Decimal, Decimal], ...]]:
        """The best ``n`` levels of each side as Decimals at the pair's precision (trailing zeros kept)."""
        return self.book.levels(Side.BUY, n), self.book.levels(Side.SELL, n)


BookCallback = Callable[[SymbolBook], None]
ResyncCallback = Callable[[str, str], None]
LiveCallback = Callable[[str], None]


class KrakenBooks:
    """Feed every received frame to :meth:`handle`; books, counters and callbacks follow.

    After each verified change the symbol's book is published through its
    :class:`~bot.api.kit.BookPublisher` (``publisher(symbol, order_book)`` makes one per book; the C
    fast path does the publisher's work itself), then ``on_book(symbol_book)`` runs. ``on_live(symbol)``
    runs when a symbol's book becomes trustworthy (a verified snapshot), before that snapshot is
    published; ``on_resync(symbol, reason)`` when a symbol needs a fresh snapshot (checksum
    mismatch, a book frame that cannot be decoded, precision change, book before instrument).
    ``verify=False`` skips the checksum (benchmarks compare; the live feed always verifies).
    ``fast=False`` sends every frame down the general path, ``accelerate=False`` keeps the fast
    path in Python even when the C build is there (tests compare the three).
    """

    def __init__(self, depth: int, on_book: BookCallback | None = None, on_resync: ResyncCallback | None = None,
                 verify: bool = True, symbols: list[str] | None = None, fast: bool = True,
                 accelerate: bool = True, publisher: PublisherFactory | None = None,
                 on_live: LiveCallback | None = None):
        self.depth = depth
        self.on_book = on_book
        self.on_resync = on_resync
        self.on_refused: ResyncCallback | None = None
        """``on_refused(symbol, error)``: Kraken refused the subscription of a symbol whose book is not in sync (the
        feed asks again later: on a connection that stays up nothing else would)."""
        self.publisher = publisher
        self.on_live = on_live
        self.verify = verify
        self.fast = fast and verify
        self._accel = _fast_update if (accelerate and self.fast) else None
        self._live: dict[bytes, list] = {}
        """Books in sync, by symbol bytes -> :meth:`SymbolBook.fast_state` (only these take the C path)."""
        self.symbols = set(symbols) if symbols is not None else None
        """Symbols we subscribed to; book data for any other is unexpected (None: accept all)."""
        self.pairs: dict[str, PairInfo] = {}
        self.books: dict[str, SymbolBook] = {}
        self.counters = Counters()
        self.last_error: str = ""


    # --- entry point ------------------------------------------------------------------------

    def handle(self, frame: str | bytes) -> None:
        """Process one frame. Never raises for bad input: it is counted in :attr:`counters`.

        The fast path is the frame Kraken sends most: a ``book`` ``update`` with one symbol's
        entry, for a book that is in sync. It is decoded by a type that accepts nothing else
        (any other frame fails to decode and takes the general path, :meth:`_route`), and applies
        and verifies the levels with the same :class:`_Side` code as the general path.
        """
        counters = self.counters
        counters.messages += 1
        try:
            if self._accel is not None:
                done = self._accel(frame, self._live)
                if done is not None:
                    fast_sb, fast_crc = done
                    counters.book_messages += 1
                    if fast_crc is None:
                        self._mismatch(fast_sb, "checksum mismatch", "update")
                        return
                    counters.checksum_ok += 1
                    fast_sb.checksum = fast_crc  # the C path has published the change already
                    if self.on_book is not None:
                        self.on_book(fast_sb)
                    return
            if self.fast:
                try:
                    message = _decode_update(frame)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    self._route(frame)
                    return
                data = message.data
                if len(data) == 1:
                    entry = data[0]
                    sb = self.books.get(entry.symbol)
                    crc = entry.checksum
                    if sb is not None and sb.synced and crc is not None:
                        counters.book_messages += 1
                        try:
                            if entry.bids:
                                sb.bids.apply(entry.bids)
                            if entry.asks:
                                sb.asks.apply(entry.asks)
                        except Exception:
                            self._untrusted(sb)
                            raise
                        asks = sb.asks
                        if asks.dirty:
                            sb._ask_crc = zlib.crc32(b"".join(asks.frags[:CHECKSUM_LEVELS]))
                            asks.dirty = False
                        bids = sb.bids
                        if bids.dirty:
                            sb._bid_text = b"".join(bids.frags[:CHECKSUM_LEVELS])
                            bids.dirty = False
                        if zlib.crc32(sb._bid_text, sb._ask_crc) != crc:
                            self._mismatch(sb, "checksum mismatch", "update")
                            return
                        counters.checksum_ok += 1
                        sb.checksum = crc
                        if sb.publisher is not None:
                            sb.publisher.publish()
                        if self.on_book is not None:
                            self.on_book(sb)
                        return
                self._on_book("update", data)
            else:
                self._route(frame)
        except Malformed as exc:
            self._malformed(str(exc), frame)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._malformed(f"{type(exc).__name__}: {exc}", frame)
            self._lost_book_frame(frame)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
            self._malformed(f"{type(exc).__name__}: {exc}", frame)

    def reset(self, reason: str = "disconnected") -> None:
        """Forget every book (the connection dropped): each symbol waits for a new snapshot."""
        for sb in self.books.values():
            self._set_synced(sb, False)
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
                symbol = env.symbol
                if (env.method == "subscribe" and isinstance(symbol, str) and self.on_refused is not None
                        and (self.symbols is None or symbol in self.symbols)
                        and not ((sb := self.books.get(symbol)) is not None and sb.synced)):
                    self.on_refused(symbol, str(env.error))
            elif env.method == "pong":
                pass
        elif env.error:
            self.counters.count("errors", str(env.error))
            log.warning("kraken error: %s", env.error)
        else:
            # masked before its repr: a quote or backslash in a secret is escaped there, unlike the redactor's forms
            shown = channel if channel is None else REDACTOR.cut(channel, MAX_REASON_CHARS)
            self.counters.count("unexpected", f"channel {shown!r}")
            if log.isEnabledFor(logging.DEBUG):
                log.debug("unexpected kraken message: %s", REDACTOR.cut(frame, 200))

    def _malformed(self, reason: str, frame: str | bytes) -> None:
        self.counters.count("malformed", reason.split(":")[0])
        log.warning("malformed kraken message (%s): %r", reason, REDACTOR.cut(frame, 200))

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
                self._set_synced(sb, False)
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
                sb = self.books[symbol] = SymbolBook(symbol, info, self.depth, self.publisher)
            if snapshot:
                sb.clear()
            elif not sb.synced:
                counters.count("ignored", "update while waiting for a snapshot")
                continue
            try:
                if entry.bids:
                    sb.bids.apply(entry.bids)
                if entry.asks:
                    sb.asks.apply(entry.asks)
            except Exception:
                self._untrusted(sb)
                raise
            if self.verify:
                if entry.checksum is None:
                    self._mismatch(sb, "checksum missing", kind)
                    continue
                if sb.compute_checksum() != entry.checksum:
                    self._mismatch(sb, "checksum mismatch", kind)
                    continue
                counters.checksum_ok += 1
            if not sb.synced:
                self._set_synced(sb, True)
                if self.on_live is not None:
                    self.on_live(symbol)
            sb.checksum = entry.checksum
            if sb.publisher is not None:
                sb.publisher.publish()
            if self.on_book is not None:
                self.on_book(sb)

    def _untrusted(self, sb: SymbolBook) -> None:
        """A message failed half-way through: the book can no longer be trusted."""
        self._set_synced(sb, False)
        sb.clear()
        self._resync(sb.symbol, "malformed book message")

    def _lost_book_frame(self, frame: str | bytes) -> None:
        """A frame that failed to decode: if it was a ``book`` frame, resync the books it may concern.

        The C path refuses such a frame untouched and both Python paths end here, so all three agree.
        """
        text = frame.encode(errors="replace") if isinstance(frame, str) else frame
        if _BOOK_CHANNEL.search(text) is None:
            return
        try:
            named = {entry.symbol for entry in _decode_book_symbols(text).data}
        except msgspec.DecodeError:  # cut short, or data of the wrong shape: the books it concerned are unknown
            named = {None}
        if None in named:
            symbols = set(self.symbols if self.symbols is not None else self.books)
        else:
            symbols = {s for s in named if s is not None and (self.symbols is None or s in self.symbols)}
        for symbol in sorted(symbols):
            sb = self.books.get(symbol)
            if sb is not None:
                self._untrusted(sb)
            else:  # its snapshot may be what was lost
                self._resync(symbol, "malformed book message")

    def _mismatch(self, sb: SymbolBook, reason: str, kind: str) -> None:
        self.counters.checksum_failed += 1
        self._set_synced(sb, False)
        sb.clear()
        log.warning("kraken %s book %s (%s): resubscribing", sb.symbol, reason, kind)
        self._resync(sb.symbol, reason)

    def _set_synced(self, sb: SymbolBook, synced: bool) -> None:
        sb.synced = synced
        if synced:
            self._live[sb.key] = sb.fast_state()
        else:
            self._live.pop(sb.key, None)

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

