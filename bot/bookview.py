"""What a strategy receives for an order book change: a read-only view that costs nothing until read.

A :class:`BookUpdate` holds integer units inside (prices in ``10**-price_decimals``, sizes in
``10**-qty_decimals``) and makes Decimals only for what is read, once per event:

* ``best_bid_units`` / ``best_ask_units`` (ints) and ``bid_units`` / ``ask_units`` (tuples of
  ``(price_units, qty_units)``, best first) cost a few list and dict reads;
* ``best_bid``, ``best_ask``, ``mid`` make one or two Decimals; ``bids`` / ``asks`` make the
  Decimal levels of one side (cached on the event).

Three ways to make one:

* :meth:`BookUpdate.of_book` over a live :class:`bot.book.OrderBook` (the Kraken and Coinbase
  plugins): nothing is copied when the event is published. Right after ``bus.publish(event)`` the
  venue calls :meth:`BookUpdate.release`: an event that a subscriber kept (a strategy's "latest
  book", a deferred report) copies its levels as integers then, before the book can change; one
  that nobody kept is simply dropped. So a view always shows the book as it was when it was
  published, and a strategy that only reads the touch in its callback pays for the touch. Where
  events are handed out in batches (a replay's generator), :class:`BookViews` does the same
  before the book changes.
* :meth:`BookUpdate.of_units` from integer levels (the paper venues, which hold ticks and lots).
* ``BookUpdate(exchange, symbol, bids, asks, ts_ns)`` from Decimal levels, as before this view
  existed (tests, simple plugins); units are derived from the Decimals when asked for.

Events are read-only by contract, compare equal when exchange, symbol, Decimal levels and time are
equal, and hash accordingly.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from sys import getrefcount
from typing import Any, Protocol

from .exact import from_units, to_units


class OrderBook(Protocol):
    """What a view reads of :class:`bot.book.OrderBook` (named here: the book module imports the domain)."""

    price_decimals: int
    qty_decimals: int
    bids: dict[int, int]
    asks: dict[int, int]
    bid_keys: list[int]
    ask_keys: list[int]

Levels = tuple[tuple[Decimal, Decimal], ...]
UnitLevels = tuple[tuple[int, int], ...]

_HELD = 3
"""References to a view while :meth:`BookUpdate.release` or :meth:`BookViews.release` looks at it when
nobody else holds it: the caller's variable (or the pending list), ``self`` (or the loop variable) and
``getrefcount``'s own argument."""


class BookUpdate:
    """Top levels of one order book after a change, best first on each side (see the module doc)."""

    __slots__ = ("exchange", "symbol", "ts_ns", "_pd", "_qd", "_book", "_n", "_bu", "_au", "_bd", "_ad", "_bb", "_ba")

    exchange: str
    symbol: str
    ts_ns: int

    def __init__(self, exchange: str, symbol: str, bids: Sequence[tuple[Decimal, Decimal]],
                 asks: Sequence[tuple[Decimal, Decimal]], ts_ns: int):
        self.exchange = exchange
        self.symbol = symbol
        self.ts_ns = ts_ns
        self._bd: Levels | None = tuple(bids)
        self._ad: Levels | None = tuple(asks)
        self._book: OrderBook | None = None
        self._n = 0
        self._bu: UnitLevels | None = None
        self._au: UnitLevels | None = None
        self._pd: int | None = None
        self._qd: int | None = None
        self._bb: Decimal | None = None
        """The best bid and ask as Decimals, once read (several subscribers read the touch)."""
        self._ba: Decimal | None = None

    @classmethod
    def of_units(cls, exchange: str, symbol: str, bids: UnitLevels, asks: UnitLevels, price_decimals: int,
                 qty_decimals: int, ts_ns: int, decimals: tuple[Levels, Levels] | None = None) -> BookUpdate:
        """From integer levels ``(price_units, qty_units)``, best first; ``decimals``: the same levels as
        Decimals when the venue has them at hand (else they are made when read)."""
        ev = _new(cls)
        ev.exchange, ev.symbol, ev.ts_ns = exchange, symbol, ts_ns
        ev._bu, ev._au, ev._pd, ev._qd = bids, asks, price_decimals, qty_decimals
        ev._book = ev._bb = ev._ba = None
        ev._bd, ev._ad = decimals if decimals is not None else (None, None)
        ev._n = 0
        return ev

    @classmethod
    def of_book(cls, exchange: str, symbol: str, book: OrderBook, levels: int, ts_ns: int) -> BookUpdate:
        """A view of the best ``levels`` of each side of a live book: see :class:`BookViews`."""
        ev = _new(cls)
        ev.exchange, ev.symbol, ev.ts_ns = exchange, symbol, ts_ns
        ev._book, ev._n = book, levels
        ev._pd, ev._qd = book.price_decimals, book.qty_decimals
        ev._bu = ev._au = ev._bd = ev._ad = ev._bb = ev._ba = None
        return ev

    # --- integers -------------------------------------------------------------------------------

    @property
    def price_decimals(self) -> int:
        """Prices are in units of ``10**-price_decimals``."""
        if self._pd is None:
            self._infer_decimals()
        return self._pd  # type: ignore[return-value]

    @property
    def qty_decimals(self) -> int:
        """Sizes are in units of ``10**-qty_decimals``."""
        if self._qd is None:
            self._infer_decimals()
        return self._qd  # type: ignore[return-value]

    @property
    def best_bid_units(self) -> int | None:
        book = self._book
        if book is not None:
            keys = book.bid_keys
            return -keys[0] if keys else None
        levels = self.bid_units
        return levels[0][0] if levels else None

    @property
    def best_ask_units(self) -> int | None:
        book = self._book
        if book is not None:
            keys = book.ask_keys
            return keys[0] if keys else None
        levels = self.ask_units
        return levels[0][0] if levels else None

    @property
    def bid_units(self) -> UnitLevels:
        """Bid levels as ``(price_units, qty_units)``, best first."""
        levels = self._bu
        if levels is None:
            book = self._book
            if book is not None:
                qty = book.bids
                levels = tuple([(-k, qty[-k]) for k in book.bid_keys[:self._n]])
            else:
                levels = self._units(self._bd or ())
            self._bu = levels
        return levels

    @property
    def ask_units(self) -> UnitLevels:
        """Ask levels as ``(price_units, qty_units)``, best first."""
        levels = self._au
        if levels is None:
            book = self._book
            if book is not None:
                qty = book.asks
                levels = tuple([(k, qty[k]) for k in book.ask_keys[:self._n]])
            else:
                levels = self._units(self._ad or ())
            self._au = levels
        return levels

    # --- Decimals (made when read) --------------------------------------------------------------

    @property
    def bids(self) -> Levels:
        levels = self._bd
        if levels is None:
            levels = self._bd = _decimal_levels(self.bid_units, self._pd or 0, self._qd or 0)
        return levels

    @property
    def asks(self) -> Levels:
        levels = self._ad
        if levels is None:
            levels = self._ad = _decimal_levels(self.ask_units, self._pd or 0, self._qd or 0)
        return levels

    @property
    def best_bid(self) -> Decimal | None:
        price = self._bb
        if price is None:
            if self._bd is not None:
                return self._bd[0][0] if self._bd else None
            p = self.best_bid_units
            if p is None:
                return None
            price = self._bb = from_units(p, self._pd or 0)
        return price

    @property
    def best_ask(self) -> Decimal | None:
        price = self._ba
        if price is None:
            if self._ad is not None:
                return self._ad[0][0] if self._ad else None
            p = self.best_ask_units
            if p is None:
                return None
            price = self._ba = from_units(p, self._pd or 0)
        return price

    @property
    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2

    # --- keeping it -----------------------------------------------------------------------------

    def detach(self) -> None:
        """Copy the viewed levels (as integers) so that the live book may change; idempotent."""
        if self._book is not None:
            self.bid_units  # noqa: B018 - materialises the levels
            self.ask_units  # noqa: B018
            self._book = None

    def release(self) -> None:
        """The venue calls this right after publishing a view: if a subscriber kept the event (a strategy's
        "latest book", a deferred report), its levels are copied now, before the book can change; an event
        nobody kept costs nothing more. Holding is told by the reference count (CPython): the caller's
        variable, this method's ``self`` and ``getrefcount``'s argument are the only references then."""
        if self._book is not None and getrefcount(self) > _HELD:
            self.detach()

    # --- value semantics ------------------------------------------------------------------------

    def _key(self) -> tuple[Any, ...]:
        return (self.exchange, self.symbol, self.bids, self.asks, self.ts_ns)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BookUpdate):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"BookUpdate(exchange={self.exchange!r}, symbol={self.symbol!r}, bids={self.bids!r}, "
                f"asks={self.asks!r}, ts_ns={self.ts_ns!r})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (BookUpdate, (self.exchange, self.symbol, self.bids, self.asks, self.ts_ns))

    # --- Decimal-made events --------------------------------------------------------------------

    def _infer_decimals(self) -> None:
        """The fewest decimals that hold every Decimal level exactly."""
        pd = qd = 0
        for side in (self._bd or (), self._ad or ()):
            for price, qty in side:
                pd = max(pd, -int(price.as_tuple().exponent))
                qd = max(qd, -int(qty.as_tuple().exponent))
        if self._pd is None:
            self._pd = pd
        if self._qd is None:
            self._qd = qd

    def _units(self, levels: Levels) -> UnitLevels:
        pd, qd = self.price_decimals, self.qty_decimals
        return tuple([(to_units(p, pd), to_units(q, qd)) for p, q in levels])


_new = object.__new__

_DECIMALS: dict[int, dict[int, Decimal]] = {}
"""decimals -> units -> Decimal: prices and sizes repeat from one book to the next, and a Decimal is
immutable, so each is made once (each table is emptied when it reaches :data:`_DECIMALS_KEPT`)."""
_DECIMALS_KEPT = 100_000


def _decimal_levels(levels: UnitLevels, pd: int, qd: int) -> Levels:
    prices = _DECIMALS.get(pd)
    if prices is None or len(prices) >= _DECIMALS_KEPT:
        prices = _DECIMALS[pd] = {}
    sizes = _DECIMALS.get(qd) if qd != pd else prices
    if sizes is None or len(sizes) >= _DECIMALS_KEPT:
        sizes = _DECIMALS[qd] = {}
    out = []
    for p, q in levels:
        price = prices.get(p)
        if price is None:
            price = prices[p] = from_units(p, pd)
        size = sizes.get(q)
        if size is None:
            size = sizes[q] = from_units(q, qd)
        out.append((price, size))
    return tuple(out)


class BookViews:
    """Views handed out in a batch (a replay yields the events of a frame after the frame), released
    before the books change again.

    Call :meth:`add` with each :meth:`BookUpdate.of_book` event handed out, and :meth:`release`
    before changing any of those books: an event still held elsewhere copies its levels, the
    others are dropped. Holding is told by the event's reference count (CPython), so an event
    that nobody kept costs no copy.
    """

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending: list[BookUpdate] = []

    def add(self, event: BookUpdate) -> BookUpdate:
        self.pending.append(event)
        return event

    def release(self) -> None:
        pending = self.pending
        for ev in pending:
            if getrefcount(ev) > _HELD:
                ev.detach()
        pending.clear()
