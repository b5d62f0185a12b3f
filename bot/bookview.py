"""What a strategy receives for an order book change: a read-only view that costs nothing until read.

A :class:`BookUpdate` holds integer units inside (prices in ``10**-price_decimals``, sizes in
``10**-qty_decimals``) and makes Decimals only for what is read:

* ``best_bid_units`` / ``best_ask_units`` (ints) and ``bid_units`` / ``ask_units`` (tuples of
  ``(price_units, qty_units)``, best first) cost a few list and dict reads;
* ``best_bid``, ``best_ask`` are Decimals from a table (each price is made once, then looked up);
  ``mid`` adds them; ``bids`` / ``asks`` make the Decimal levels of one side (kept for the event).

Ways to make and publish one:

* :class:`BookPublisher` over a live :class:`bot.book.OrderBook` (the Kraken and Coinbase plugins):
  after each change it hands its subscribers a view of the book, copying nothing; the same view
  object serves change after change while no subscriber keeps it, and nothing is made when nobody
  subscribes. A subscriber that keeps the event (a strategy's "latest book", a deferred report)
  gets it with its levels copied as integers before the book can change, and a new view serves the
  next change. So a view always shows the book as it was when it was published, and a strategy
  that only reads the touch in its callback pays for the touch. The Kraken C fast path does the
  publisher's work in C (``plugins/kraken/_fastbook.c``; :meth:`BookPublisher.publish` is the reference).
* :meth:`BookUpdate.of_book` then :meth:`BookUpdate.release`: one view per change, released right
  after ``bus.publish(event)``; where events are handed out in batches (a replay's generator),
  :class:`BookViews` does the same before the book changes.
* :meth:`BookUpdate.of_units` from integer levels; :meth:`BookUpdate.of_ladder` from a touch, a
  price step and the sizes (the paper venues' synthetic books, whose levels are evenly spaced), and
  :meth:`BookUpdate.of_columns` from a column of prices and one of sizes a side (the paper venue's
  copy of a recorded or mirrored book, read off the source with :meth:`BookUpdate.unit_columns`): the
  level tuples are made only if a subscriber reads more than the touch.
* ``BookUpdate(exchange, symbol, bids, asks, ts_ns)`` from Decimal levels, as before this view
  existed (tests, simple plugins); units are derived from the Decimals when asked for.

Holding is told by CPython's reference count. Events are read-only by contract, compare equal when
exchange, symbol, Decimal levels and time are equal, and hash accordingly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from operator import itemgetter, neg
from sys import getrefcount
from typing import TYPE_CHECKING, Any, Protocol

from .exact import from_units, to_units

if TYPE_CHECKING:
    from .bus import EventBus


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
Ladder = tuple[int, int, int, tuple[int, ...], tuple[int, ...]]
Columns = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]

_HELD = 3
"""References to a view while :meth:`BookUpdate.release`, :meth:`BookViews.release` or
:meth:`BookPublisher.publish` looks at it when nobody else holds it: the caller's variable (or the
pending list, or the publisher's slot), ``self`` (or the loop variable, or the local) and
``getrefcount``'s own argument."""


class BookUpdate:
    """Top levels of one order book after a change, best first on each side (see the module doc)."""

    __slots__ = ("exchange", "symbol", "ts_ns", "owns_levels", "_pd", "_qd", "_book", "_bk", "_ak", "_n", "_bu", "_au",
                 "_bd", "_ad", "_cached", "_lad", "_col")

    exchange: str
    symbol: str
    ts_ns: int
    owns_levels: bool
    """True when the event holds its own levels (made from units, a ladder, columns or Decimals, or a view already
    detached): it never changes and keeping it costs nothing, so a subscriber may keep it and read its touch later.
    False for a view of a live book, which copies its levels if kept. (An attribute, not a property: the portfolio
    reads it at every book change.)"""

    def __init__(self, exchange: str, symbol: str, bids: Sequence[tuple[Decimal, Decimal]],
                 asks: Sequence[tuple[Decimal, Decimal]], ts_ns: int):
        self.exchange = exchange
        self.symbol = symbol
        self.ts_ns = ts_ns
        self.owns_levels = True
        self._bd: Levels | None = tuple(bids)
        self._ad: Levels | None = tuple(asks)
        self._book: OrderBook | None = None
        self._bk: list[int] | None = None
        """The live book's ``bid_keys`` and ``ask_keys`` (a view of a live book), for the touch."""
        self._ak: list[int] | None = None
        self._n = 0
        self._bu: UnitLevels | None = None
        self._au: UnitLevels | None = None
        self._pd: int | None = None
        self._qd: int | None = None
        self._cached = False
        """A level cache was filled while the view looked at a live book (a reused view forgets it)."""
        self._lad: Ladder | None = None
        """(best bid, best ask, price step, bid sizes, ask sizes) in units (:meth:`of_ladder`): levels made if read."""
        self._col: Columns | None = None
        """(bid prices, bid sizes, ask prices, ask sizes) in units (:meth:`of_columns`): levels made if read."""

    @classmethod
    def of_units(cls, exchange: str, symbol: str, bids: UnitLevels, asks: UnitLevels, price_decimals: int,
                 qty_decimals: int, ts_ns: int, decimals: tuple[Levels, Levels] | None = None) -> BookUpdate:
        """From integer levels ``(price_units, qty_units)``, best first; ``decimals``: the same levels as
        Decimals when the venue has them at hand (else they are made when read)."""
        ev = _new(cls)
        ev.exchange, ev.symbol, ev.ts_ns = exchange, symbol, ts_ns
        ev.owns_levels = True
        ev._bu, ev._au, ev._pd, ev._qd = bids, asks, price_decimals, qty_decimals
        ev._book = ev._bk = ev._ak = None
        ev._bd, ev._ad = decimals if decimals is not None else (None, None)
        ev._n = 0
        ev._cached = False
        ev._lad = ev._col = None
        return ev

    @classmethod
    def of_ladder(cls, exchange: str, symbol: str, best_bid: int, best_ask: int, step: int,
                  bid_sizes: tuple[int, ...], ask_sizes: tuple[int, ...], price_decimals: int, qty_decimals: int,
                  ts_ns: int) -> BookUpdate:
        """Evenly spaced levels: bids at ``best_bid``, ``best_bid - step``... with sizes ``bid_sizes`` (best
        first), asks at ``best_ask``, ``best_ask + step``... with ``ask_sizes`` (all in units); the same
        event as :meth:`of_units` with those levels, whose tuples are made only when read (a subscriber
        that reads the touch reads two integers)."""
        ev = _new(cls)
        ev.exchange, ev.symbol, ev.ts_ns = exchange, symbol, ts_ns
        ev.owns_levels = True
        ev._lad = (best_bid, best_ask, step, bid_sizes, ask_sizes)
        ev._pd, ev._qd = price_decimals, qty_decimals
        ev._book = ev._bk = ev._ak = ev._bu = ev._au = ev._bd = ev._ad = ev._col = None
        ev._n = 0
        ev._cached = False
        return ev

    @classmethod
    def of_columns(cls, exchange: str, symbol: str, bid_prices: tuple[int, ...], bid_sizes: tuple[int, ...],
                   ask_prices: tuple[int, ...], ask_sizes: tuple[int, ...], price_decimals: int, qty_decimals: int,
                   ts_ns: int) -> BookUpdate:
        """The event of :meth:`of_units` whose levels are ``zip(bid_prices, bid_sizes)`` and ``zip(ask_prices,
        ask_sizes)`` (units, best first, each pair of columns of one length), the level tuples made only when read:
        a venue that holds its book as columns (the paper venue's :class:`~plugins.paper.book_market.BookMarket`)
        publishes it without a tuple per level."""
        ev = _new(cls)
        ev.exchange, ev.symbol, ev.ts_ns = exchange, symbol, ts_ns
        ev.owns_levels = True
        ev._col = (bid_prices, bid_sizes, ask_prices, ask_sizes)
        ev._pd, ev._qd = price_decimals, qty_decimals
        ev._book = ev._bk = ev._ak = ev._bu = ev._au = ev._bd = ev._ad = ev._lad = None
        ev._n = 0
        ev._cached = False
        return ev

    @classmethod
    def of_book(cls, exchange: str, symbol: str, book: OrderBook, levels: int, ts_ns: int) -> BookUpdate:
        """A view of the best ``levels`` of each side of a live book: see :class:`BookPublisher`, :class:`BookViews`."""
        ev = _new(cls)
        ev.exchange, ev.symbol, ev.ts_ns = exchange, symbol, ts_ns
        ev.owns_levels = False
        ev._book, ev._n = book, levels
        ev._bk, ev._ak = book.bid_keys, book.ask_keys
        ev._pd, ev._qd = book.price_decimals, book.qty_decimals
        ev._bu = ev._au = ev._bd = ev._ad = ev._lad = ev._col = None
        ev._cached = False
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
        levels = self._bu
        if levels:  # made already (an event of levels, or levels read)
            return levels[0][0]
        keys = self._bk
        if keys is not None:
            return -keys[0] if keys else None
        lad = self._lad
        if lad is not None:
            return lad[0] if lad[3] else None
        col = self._col
        if col is not None:
            return col[0][0] if col[0] else None
        levels = self.bid_units
        return levels[0][0] if levels else None

    @property
    def best_ask_units(self) -> int | None:
        levels = self._au
        if levels:  # made already (an event of levels, or levels read)
            return levels[0][0]
        keys = self._ak
        if keys is not None:
            return keys[0] if keys else None
        lad = self._lad
        if lad is not None:
            return lad[1] if lad[4] else None
        col = self._col
        if col is not None:
            return col[2][0] if col[2] else None
        levels = self.ask_units
        return levels[0][0] if levels else None

    def touch_units(self) -> tuple[int | None, int | None, int]:
        """``(best_bid_units, best_ask_units, price_decimals)`` in one call (None: that side is empty): what a
        subscriber that follows the touch reads at every change, without three properties' calls."""
        if self._bu is None and self._au is None and (pd := self._pd) is not None:  # no level made yet: the source's
            if (lad := self._lad) is not None:
                return lad[0] if lad[3] else None, lad[1] if lad[4] else None, pd
            if (col := self._col) is not None:
                return col[0][0] if col[0] else None, col[2][0] if col[2] else None, pd
            if (bk := self._bk) is not None and (ak := self._ak) is not None:
                return -bk[0] if bk else None, ak[0] if ak else None, pd
        return self.best_bid_units, self.best_ask_units, self.price_decimals

    @property
    def bid_units(self) -> UnitLevels:
        """Bid levels as ``(price_units, qty_units)``, best first."""
        levels = self._bu
        if levels is None:
            book = self._book
            if book is not None:
                qty = book.bids
                levels = tuple([(-k, qty[-k]) for k in book.bid_keys[:self._n]])
                self._cached = True
            elif (col := self._col) is not None:
                levels = tuple(zip(col[0], col[1], strict=True))
            elif (lad := self._lad) is not None:
                best, step, sizes = lad[0], lad[2], lad[3]
                levels = tuple(zip(range(best, best - len(sizes) * step, -step), sizes, strict=True))
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
                self._cached = True
            elif (col := self._col) is not None:
                levels = tuple(zip(col[2], col[3], strict=True))
            elif (lad := self._lad) is not None:
                best, step, sizes = lad[1], lad[2], lad[4]
                levels = tuple(zip(range(best, best + len(sizes) * step, step), sizes, strict=True))
            else:
                levels = self._units(self._ad or ())
            self._au = levels
        return levels

    def unit_columns(self, levels: int) -> Columns:
        """``(bid prices, bid sizes, ask prices, ask sizes)``: the best ``levels`` of each side of :attr:`bid_units`
        and :attr:`ask_units` as columns of units, best first. A view of a live book reads them off its key lists
        and dicts (C-level ``map``, no tuple per level, nothing kept in the view): what a venue that keeps its
        own copy of a source's book (the paper venue's ``BookMarket``) copies at each change."""
        book = self._book
        if book is not None:
            n = min(levels, self._n)
            bid_prices = tuple(map(neg, book.bid_keys[:n]))
            ask_prices = tuple(book.ask_keys[:n])
            return bid_prices, _values(book.bids, bid_prices), ask_prices, _values(book.asks, ask_prices)
        col = self._col
        if col is not None and len(col[0]) <= levels and len(col[2]) <= levels:
            return col
        bids, asks = self.bid_units[:levels], self.ask_units[:levels]
        bid_prices, bid_sizes = zip(*bids, strict=True) if bids else ((), ())
        ask_prices, ask_sizes = zip(*asks, strict=True) if asks else ((), ())
        return bid_prices, bid_sizes, ask_prices, ask_sizes

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
        levels = self._bd
        if levels is not None:
            return levels[0][0] if levels else None
        keys = self._bk
        if keys is not None:
            if not keys:
                return None
            p = -keys[0]
        elif (lad := self._lad) is not None:
            if not lad[3]:
                return None
            p = lad[0]
        elif (col := self._col) is not None:
            if not col[0]:
                return None
            p = col[0][0]
        else:
            units = self.bid_units
            if not units:
                return None
            p = units[0][0]
        return _touch_decimal(p, self._pd or 0)

    @property
    def best_ask(self) -> Decimal | None:
        levels = self._ad
        if levels is not None:
            return levels[0][0] if levels else None
        keys = self._ak
        if keys is not None:
            if not keys:
                return None
            p = keys[0]
        elif (lad := self._lad) is not None:
            if not lad[4]:
                return None
            p = lad[1]
        elif (col := self._col) is not None:
            if not col[2]:
                return None
            p = col[2][0]
        else:
            units = self.ask_units
            if not units:
                return None
            p = units[0][0]
        return _touch_decimal(p, self._pd or 0)

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
            self._book = self._bk = self._ak = None
            self.owns_levels = True

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


def _values(qty: dict[int, int], prices: tuple[int, ...]) -> tuple[int, ...]:
    """``tuple(qty[p] for p in prices)``: one ``itemgetter`` call makes the tuple in C (about half the cost of
    ``map`` over ``qty.__getitem__`` for 10 levels); it returns the value itself for one key, and needs one."""
    if len(prices) > 1:
        return itemgetter(*prices)(qty)  # type: ignore[no-any-return]
    return (qty[prices[0]],) if prices else ()

_DECIMALS: dict[int, dict[int, Decimal]] = {}
"""decimals -> units -> Decimal: prices and sizes repeat from one book to the next, and a Decimal is
immutable, so each is made once (a table is emptied when it reaches :data:`_DECIMALS_KEPT`)."""
_DECIMALS_KEPT = 4_096
"""Most Decimals a table keeps (about 0.75 MB): when a Decimal is to be added to a full table, the table is emptied
first. What repeats is the prices near the touch and a market's usual sizes, a few hundred to a few thousand: a
walking price fills the table at a few new prices a second (about 1,200 a minute in the demo), so it is emptied
every few minutes and refilled by the next few books. At 100,000 (before) a long run held about 19 MB of them."""


def _table(decimals: int) -> dict[int, Decimal]:
    """The table of ``decimals``, emptied if full: one call adds at most one book's levels before the next check."""
    table = _DECIMALS.get(decimals)
    if table is None:
        table = _DECIMALS[decimals] = {}
    elif len(table) >= _DECIMALS_KEPT:
        table.clear()
    return table


def _touch_decimal(units: int, decimals: int) -> Decimal:
    """:func:`_decimal` for a touch, read far more often than made: the table looked up first, inline."""
    table = _DECIMALS.get(decimals)
    d = table.get(units) if table is not None else None
    return d if d is not None else _decimal(units, decimals)


def _decimal(units: int, decimals: int) -> Decimal:
    """``from_units(units, decimals)`` kept in the table (the touch repeats from one event to the next)."""
    table = _table(decimals)
    d = table.get(units)
    if d is None:
        d = table[units] = from_units(units, decimals)
    return d


def _decimal_levels(levels: UnitLevels, pd: int, qd: int) -> Levels:
    prices = _table(pd)
    sizes = _table(qd) if qd != pd else prices
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


class BookPublisher:
    """Publishes views of one live book on a bus: the venue calls :meth:`publish` after every change.

    ``BookPublisher(bus, exchange, symbol, book, levels, time_ns)`` publishes ``BookUpdate`` views of
    the best ``levels`` of each side of ``book``, timed by ``time_ns()``, to the bus's subscribers
    for ``(BookUpdate, exchange, symbol)`` (a :class:`bot.bus.Topic`). What a change costs:

    * nobody subscribed: nothing is made and the clock is not read;
    * otherwise one view per book serves change after change while no subscriber keeps it: a
      publish sets its time and hands it to the subscribers; after they return, CPython's reference
      count tells whether one kept it. If one did, that view copies its levels as integers
      (:meth:`BookUpdate.detach`) and a new view serves the next change, so **a kept event always
      shows the book as it was when published**; if none did, the view forgets any levels a
      subscriber read (made again from the book when read after the next change).

    A subscriber therefore sees every change as an event it may read in its callback or keep, as
    with :meth:`BookUpdate.of_book` and :meth:`BookUpdate.release`, without an object made per change.
    """

    __slots__ = ("exchange", "symbol", "book", "levels", "_topic", "_time_ns", "_view")

    def __init__(self, bus: EventBus, exchange: str, symbol: str, book: OrderBook, levels: int,
                 time_ns: Callable[[], int]):
        self.exchange = exchange
        self.symbol = symbol
        self.book = book
        self.levels = levels
        self._topic = bus.topic(BookUpdate, exchange, symbol)
        self._time_ns = time_ns
        self._view = BookUpdate.of_book(exchange, symbol, book, levels, 0)

    def publish(self) -> None:
        """Publish the book as it is now (call it after each change, before the next one)."""
        topic = self._topic
        if not topic.route:
            return
        view = self._view
        view.ts_ns = self._time_ns()
        topic.publish(view)
        if getrefcount(view) > _HELD:  # a subscriber kept it: it keeps its levels, a new view serves next
            self._renew()
        elif view._cached:
            self._forget()

    def _renew(self) -> None:
        """The published view was kept: it copies its levels, a new view serves the next change."""
        self._view.detach()
        self._view = BookUpdate.of_book(self.exchange, self.symbol, self.book, self.levels, 0)

    def _forget(self) -> None:
        """Nobody kept the view but a subscriber read levels: they are made again after the next change."""
        view = self._view
        view._bu = view._au = view._bd = view._ad = None
        view._cached = False


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
