"""The L2 order book every CEX plugin uses: integer ticks and lot units inside, Decimal outside.

A price is held as an integer number of ``10**-price_decimals`` units and a size as an integer
number of ``10**-qty_decimals`` units, so the book never holds a float and never loses a digit
(``0.10000000`` and ``12345678.12345678`` both survive), and the hot path is plain ``int`` and
``dict`` work. Each side is a dict ``price -> qty`` plus a sorted list of its prices (bids are
kept as negated prices, so both lists are ascending from the best level): a level change is one
dict store and, for a new level, one ``bisect.insort`` into a list no longer than the depth.

Decimals cross the boundary in :meth:`OrderBook.snapshot`, :meth:`OrderBook.update`,
:meth:`OrderBook.levels` and :meth:`OrderBook.fill_price`; feed handlers that already hold integer
units (the Kraken plugin) use the ``*_units`` methods and skip Decimal entirely.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .domain import Side
from .exact import from_units, to_units


@dataclass(frozen=True, slots=True)
class FillEstimate:
    """What walking the book would give: volume-weighted price and what could not be filled.

    ``side`` is *our* side: a BUY walks the asks, a SELL walks the bids. ``filled_qty`` is base,
    ``cost`` quote (price x qty summed over the levels taken). For a size request,
    ``unfilled_qty`` is the base left over; for a notional request, ``unfilled_notional`` is the
    quote left over (a partial level is taken in whole lot units, so a notional request leaves a
    remainder below one lot's value even on a deep book).
    """

    side: Side
    filled_qty: Decimal
    cost: Decimal
    avg_price: Decimal | None
    unfilled_qty: Decimal
    unfilled_notional: Decimal
    levels_used: int

    @property
    def complete(self) -> bool:
        return self.unfilled_qty == 0 and self.unfilled_notional == 0


class OrderBook:
    """An L2 book of one market at fixed precisions, optionally truncated to ``depth`` levels a side."""

    __slots__ = ("price_decimals", "qty_decimals", "depth", "bids", "asks", "bid_keys", "ask_keys")

    def __init__(self, price_decimals: int, qty_decimals: int, depth: int | None = None):
        if not (0 <= price_decimals < 30 and 0 <= qty_decimals < 30):
            raise ValueError("decimals must be between 0 and 29")
        self.price_decimals = price_decimals
        self.qty_decimals = qty_decimals
        self.depth = depth
        self.bids: dict[int, int] = {}
        """price units -> qty units."""
        self.asks: dict[int, int] = {}
        self.bid_keys: list[int] = []
        """Negated bid prices, ascending: ``-bid_keys[0]`` is the best bid."""
        self.ask_keys: list[int] = []
        """Ask prices, ascending: ``ask_keys[0]`` is the best ask."""

    # --- integer interface (hot path) -------------------------------------------------------

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.bid_keys.clear()
        self.ask_keys.clear()

    def set_bid(self, price: int, qty: int) -> None:
        """Set one bid level in units; ``qty == 0`` removes it (absent levels are ignored)."""
        bids = self.bids
        if qty:
            if price not in bids:
                insort(self.bid_keys, -price)
            bids[price] = qty
        elif bids.pop(price, None) is not None:
            keys = self.bid_keys
            del keys[bisect_left(keys, -price)]

    def set_ask(self, price: int, qty: int) -> None:
        """Set one ask level in units; ``qty == 0`` removes it (absent levels are ignored)."""
        asks = self.asks
        if qty:
            if price not in asks:
                insort(self.ask_keys, price)
            asks[price] = qty
        elif asks.pop(price, None) is not None:
            keys = self.ask_keys
            del keys[bisect_left(keys, price)]

    def truncate(self) -> tuple[list[int], list[int]]:
        """Drop levels beyond ``depth`` on each side; returns the dropped (bid, ask) prices in units."""
        depth = self.depth
        dropped_bids: list[int] = []
        dropped_asks: list[int] = []
        if depth is None:
            return dropped_bids, dropped_asks
        if len(self.bid_keys) > depth:
            dropped_bids = [-k for k in self.bid_keys[depth:]]
            del self.bid_keys[depth:]
            for p in dropped_bids:
                del self.bids[p]
        if len(self.ask_keys) > depth:
            dropped_asks = self.ask_keys[depth:]
            del self.ask_keys[depth:]
            for p in dropped_asks:
                del self.asks[p]
        return dropped_bids, dropped_asks

    # --- Decimal interface ------------------------------------------------------------------

    def snapshot(self, bids: Iterable[tuple[Decimal, Decimal]], asks: Iterable[tuple[Decimal, Decimal]]) -> None:
        """Replace the whole book; zero sizes are skipped; then truncate to ``depth``."""
        self.clear()
        for price, qty in bids:
            self.update(Side.BUY, price, qty)
        for price, qty in asks:
            self.update(Side.SELL, price, qty)
        self.truncate()

    def update(self, side: Side, price: Decimal, qty: Decimal) -> None:
        """One level change (``side`` BUY = bids); size 0 deletes the level. Call :meth:`truncate` after a batch."""
        p = to_units(price, self.price_decimals)
        q = to_units(qty, self.qty_decimals)
        if p <= 0 or q < 0:
            raise ValueError(f"invalid level {price} x {qty}")
        if side is Side.BUY:
            self.set_bid(p, q)
        else:
            self.set_ask(p, q)

    def __len__(self) -> int:
        return len(self.bid_keys) + len(self.ask_keys)

    @property
    def best_bid(self) -> Decimal | None:
        return from_units(-self.bid_keys[0], self.price_decimals) if self.bid_keys else None

    @property
    def best_ask(self) -> Decimal | None:
        return from_units(self.ask_keys[0], self.price_decimals) if self.ask_keys else None

    @property
    def spread(self) -> Decimal | None:
        """Best ask minus best bid, or None while a side is empty."""
        if not self.bid_keys or not self.ask_keys:
            return None
        return from_units(self.ask_keys[0] + self.bid_keys[0], self.price_decimals)

    @property
    def mid(self) -> Decimal | None:
        if not self.bid_keys or not self.ask_keys:
            return None
        return from_units(self.ask_keys[0] - self.bid_keys[0], self.price_decimals) / 2

    def levels(self, side: Side, n: int | None = None) -> tuple[tuple[Decimal, Decimal], ...]:
        """The best ``n`` levels of one side (BUY = bids) as Decimals, best first."""
        pd, qd = self.price_decimals, self.qty_decimals
        if side is Side.BUY:
            keys = self.bid_keys if n is None else self.bid_keys[:n]
            bids = self.bids
            return tuple((from_units(-k, pd), from_units(bids[-k], qd)) for k in keys)
        keys = self.ask_keys if n is None else self.ask_keys[:n]
        asks = self.asks
        return tuple((from_units(k, pd), from_units(asks[k], qd)) for k in keys)

    def fill_price(self, side: Side, qty: Decimal | None = None, *, notional: Decimal | None = None) -> FillEstimate:
        """Walk the book as a taker of ``side`` for a base ``qty`` or a quote ``notional`` (exactly one).

        Returns the volume-weighted price of what the book holds and the remainder it cannot fill.
        Exact: integer units throughout, one division at the end.
        """
        if (qty is None) == (notional is None):
            raise ValueError("give exactly one of qty or notional")
        pd, qd = self.price_decimals, self.qty_decimals
        if side is Side.BUY:
            book = self.asks
            walk = ((k, book[k]) for k in self.ask_keys)
        else:
            book = self.bids
            walk = ((-k, book[-k]) for k in self.bid_keys)
        filled = 0
        cost = 0  # in units of 10**-(pd + qd)
        used = 0
        unfilled_qty = Decimal(0)
        unfilled_notional = Decimal(0)
        if qty is not None:
            if qty < 0:
                raise ValueError("qty must be >= 0")
            wanted = to_units(qty, qd)
            left = wanted
            for price, size in walk:
                if left <= 0:
                    break
                take = size if size < left else left
                filled += take
                cost += take * price
                left -= take
                used += 1
            unfilled_qty = from_units(left, qd)
        elif notional is not None:
            if notional < 0:
                raise ValueError("notional must be >= 0")
            budget = _to_units_floor(notional, pd + qd)
            left = budget
            for price, size in walk:
                if left <= 0:
                    break
                value = price * size
                if value <= left:
                    take = size
                else:
                    take = left // price
                    if take == 0:
                        break
                filled += take
                cost += take * price
                left -= take * price
                used += 1
            unfilled_notional = notional - from_units(cost, pd + qd)
        avg = None
        if filled:
            avg = from_units(cost, pd + qd) / from_units(filled, qd)
        return FillEstimate(side, from_units(filled, qd), from_units(cost, pd + qd), avg, unfilled_qty,
                            unfilled_notional, used)


def _to_units_floor(value: Decimal, decimals: int) -> int:
    """Like :func:`to_units` but rounding extra digits down instead of refusing them."""
    return int((value.scaleb(decimals)).to_integral_value(rounding="ROUND_FLOOR"))
