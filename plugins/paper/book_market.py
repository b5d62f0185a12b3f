"""What the matching engine needs from a market, and a market made of someone else's book.

The engine (:mod:`.engine`) matches against integers: prices in *ticks* (multiples of the paper
venue's ``tick_size``) and sizes in *lots* (multiples of ``lot_size``). :class:`Market` is that
interface; :class:`~plugins.paper.market.SimulatedMarket` has it natively, and :class:`BookMarket`
builds it from Decimal levels — a recorded book (``market = "recording"``) or another exchange's
``BookUpdate`` on the bus (``market = "mirror"``).

Converting a Decimal level to the paper grid:

* **price** must be a whole number of ticks. A level priced off the grid is *skipped* (it cannot
  be traded at a price the venue refuses) and counted in :attr:`BookMarket.skipped_prices`; the
  first such level of a symbol logs a warning naming ``tick_size`` and the fix (set it to the
  source's price increment or a divisor of it).
* **size** is rounded *down* to whole lots: the venue cannot trade a fraction of a lot, and rounding
  down never invents liquidity. A level smaller than one lot is skipped. Both are counted in
  :attr:`BookMarket.rounded_sizes`; the first one of a symbol logs a warning naming ``lot_size``.

**Our fills consume the levels they take** (:meth:`BookMarket.consume`): what we took from a level
is remembered while the source keeps that level at the size it had, so one recorded or mirrored
level cannot fill us twice. When the source changes the level's size (or removes it) the memory
of it goes: the source's new size is new information. The simulated market, drawn afresh each
step, has no such memory.

The published book (the paper venue's own ``BookUpdate``) holds exactly the levels kept, with
their sizes after rounding and after what we took, so strategies see the liquidity the venue
will fill against.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from fractions import Fraction
from typing import Literal, Protocol

from bot.api import BookUpdate
from bot.api.kit import from_units

log = logging.getLogger("arbot.exchange.paper")

NO_BID = -1
"""``bid_ticks`` of a market whose bid side is empty: no sell can cross it."""
NO_ASK = 1 << 62
"""``ask_ticks`` of a market whose ask side is empty: no buy can cross it."""
_CACHE_MAX = 100_000
"""Prices and sizes repeat from book to book; their conversions are cached up to this many each,
then the cache starts over."""

_SAME_GRID = (1, 1, 1)
"""The grid (see :meth:`BookMarket._grid`) of a source whose price and size units are our tick and lot."""

Levels = tuple[tuple[Decimal, Decimal], ...]


def _left_untaken(taken: dict[int, tuple[int, int]], still_taken: dict[int, tuple[int, int]], ticks: int,
                  lots: int) -> int:
    """The lots of a source level at ``ticks`` that our orders did not take: less what they took while the
    source still shows the level at the size we left it (kept in ``still_taken``), else all of them."""
    memory = taken.get(ticks)
    if memory is not None and memory[0] == lots:  # the same level as we left it
        still_taken[ticks] = memory
        return lots - memory[1]
    return lots
UnitLevels = tuple[tuple[int, int], ...]


class Market(Protocol):
    """One symbol's book as integers, as the matching engine reads it after each change.

    ``bid_lots``/``ask_lots`` are the level sizes, best first; ``bid_level(i)``/``ask_level(i)``
    the price in ticks of level ``i``. ``bid_ticks``/``ask_ticks`` are the best prices
    (:data:`NO_BID`/:data:`NO_ASK` when a side is empty). ``trade_lots > 0`` when a public trade
    printed in the last change, at ``trade_ticks``, by a buying taker if ``trade_taker_buy``.
    """

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    bid_ticks: int
    ask_ticks: int
    bid_lots: tuple[int, ...]
    ask_lots: tuple[int, ...]
    trade_ticks: int
    trade_lots: int
    trade_taker_buy: bool

    def bid_level(self, i: int) -> int: ...

    def ask_level(self, i: int) -> int: ...

    def price(self, ticks: int) -> Decimal: ...

    def qty(self, lots: int) -> Decimal: ...

    def consume(self, from_asks: bool, lots: int) -> None:
        """Our orders took ``lots`` from the best levels of one side, best first."""


class BookMarket:
    """A :class:`Market` whose levels come from outside: call :meth:`update` with each new book."""

    def __init__(self, exchange: str, symbol: str, tick_size: Decimal, lot_size: Decimal, depth_levels: int):
        self.exchange = exchange
        self.symbol = symbol
        self.tick_size = tick_size
        self.lot_size = lot_size
        self.depth_levels = depth_levels
        self.skipped_prices = 0
        """Levels dropped because their price is not a multiple of ``tick_size``."""
        self.rounded_sizes = 0
        """Levels whose size was rounded down to whole lots (or dropped: under one lot)."""
        self.updates = 0
        """Books applied since the start."""
        self._ticks_of: dict[Decimal, int | None] = {}
        self._lots_of: dict[Decimal, tuple[int, Decimal, bool]] = {}
        """Size -> (whole lots, their Decimal size, whether that was rounded down)."""
        self._grids: dict[tuple[int, int], tuple[int, int, int] | Literal[False]] = {}
        """(price decimals, size decimals) of a source -> how its units map to ticks and lots (see :meth:`_grid`)."""
        self._grid_pd = self._grid_qd = -1
        self._grid_now: tuple[int, int, int] | Literal[False] = False
        """The grid of the source's last (price decimals, size decimals): a source rarely changes them."""
        self.clear()

    def clear(self) -> None:
        """Forget the book (the source is not live): nothing can fill until the next :meth:`update`."""
        self.bid_ticks = NO_BID
        self.ask_ticks = NO_ASK
        self.bid_lots: tuple[int, ...] = ()
        self.ask_lots: tuple[int, ...] = ()
        self._bid_levels: tuple[int, ...] = ()
        self._ask_levels: tuple[int, ...] = ()
        self._taken: tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]] = ({}, {})
        """Bids, asks: price in ticks -> (the source's size in lots, lots we took from it)."""
        self.trade_ticks = 0
        self.trade_lots = 0
        self.trade_taker_buy = False

    # --- the Market interface ---------------------------------------------------------------

    def bid_level(self, i: int) -> int:
        """Price in ticks of the ``i``-th bid level (0 = best)."""
        return self._bid_levels[i]

    def ask_level(self, i: int) -> int:
        """Price in ticks of the ``i``-th ask level (0 = best)."""
        return self._ask_levels[i]

    def price(self, ticks: int) -> Decimal:
        """The Decimal price of ``ticks``."""
        return ticks * self.tick_size

    def qty(self, lots: int) -> Decimal:
        """The Decimal size of ``lots``."""
        return lots * self.lot_size

    # --- feeding it -------------------------------------------------------------------------

    def update(self, bids: Levels, asks: Levels, ts_ns: int) -> BookUpdate:
        """Take a new book (Decimal levels, best first); return it as this venue publishes it."""
        bid_levels, bid_lots, bids_out = self._convert(bids[: self.depth_levels], self._taken[0])
        ask_levels, ask_lots, asks_out = self._convert(asks[: self.depth_levels], self._taken[1])
        self._bid_levels, self.bid_lots = bid_levels, bid_lots
        self._ask_levels, self.ask_lots = ask_levels, ask_lots
        self.bid_ticks = bid_levels[0] if bid_levels else NO_BID
        self.ask_ticks = ask_levels[0] if ask_levels else NO_ASK
        self.updates += 1
        return BookUpdate(self.exchange, self.symbol, bids_out, asks_out, ts_ns)

    def update_event(self, event: BookUpdate, ts_ns: int) -> BookUpdate:
        """Take a source's book event; return it as this venue publishes it (what :meth:`update` returns).

        In integer units when the venue's grid is expressed in the source's units (the tick a whole
        number of price units or a whole fraction of one, the lot a whole number of size units): the
        source's Decimals are never made, and the published event makes only the ones a subscriber reads,
        equal to (and written as) those :meth:`update` would publish. Otherwise through :meth:`update`.

        When the grid is the source's own (a tick is one price unit, a lot one size unit), nothing of ours
        is remembered on the levels and every level is priced and sized above zero, the source's levels
        are kept as they are: the common case of a recording at its venue's precision. They are then copied
        as columns (:meth:`BookUpdate.unit_columns`: off a live book's keys and dicts in C-level ``map``s,
        with no tuple per level) and published as such (:meth:`BookUpdate.of_columns`, the level tuples made
        only if a subscriber reads them): the same event, without the per-level Python code of building
        each side's level tuples, taking them apart into ticks and lots again, and comparing them with the
        last book's (about 2.7 -> 1.5 us a book of 10 levels a side)."""
        pd, qd = event.price_decimals, event.qty_decimals
        if pd != self._grid_pd or qd != self._grid_qd:
            grid = self._grids.get((pd, qd))
            if grid is None:
                grid = self._grids[(pd, qd)] = self._grid(pd, qd)
            self._grid_pd, self._grid_qd, self._grid_now = pd, qd, grid
        grid = self._grid_now
        if grid is False:
            return self.update(event.bids, event.asks, ts_ns)
        depth = self.depth_levels
        taken_bids, taken_asks = self._taken
        if grid is _SAME_GRID and not taken_bids and not taken_asks:
            bid_levels, bid_lots, ask_levels, ask_lots = event.unit_columns(depth)
            # every price above zero: a live book's view (not owning its levels) has them in the book's order,
            # best first, so its lowest bid is the last and its lowest ask the first; other events are not
            # trusted to be sorted
            if (bid_levels and ask_levels and min(bid_lots) > 0 and min(ask_lots) > 0
                    and (bid_levels[-1] > 0 and ask_levels[0] > 0 if not event.owns_levels
                         else min(bid_levels) > 0 and min(ask_levels) > 0)):
                self._bid_levels, self.bid_lots, self.bid_ticks = bid_levels, bid_lots, bid_levels[0]
                self._ask_levels, self.ask_lots, self.ask_ticks = ask_levels, ask_lots, ask_levels[0]
                self.updates += 1
                return BookUpdate.of_columns(self.exchange, self.symbol, bid_levels, bid_lots, ask_levels, ask_lots,
                                             pd, qd, ts_ns)
        bids, asks = event.bid_units[:depth], event.ask_units[:depth]
        bid_levels, bid_lots, bids = self._convert_units(bids, taken_bids, pd, qd, grid)
        ask_levels, ask_lots, asks = self._convert_units(asks, taken_asks, pd, qd, grid)
        self._bid_levels, self.bid_lots = bid_levels, bid_lots
        self._ask_levels, self.ask_lots = ask_levels, ask_lots
        self.bid_ticks = bid_levels[0] if bid_levels else NO_BID
        self.ask_ticks = ask_levels[0] if ask_levels else NO_ASK
        self.updates += 1
        return BookUpdate.of_units(self.exchange, self.symbol, bids, asks, pd, qd, ts_ns)

    def _grid(self, pd: int, qd: int) -> tuple[int, int, int] | Literal[False]:
        """(ticks per price unit as numerator/denominator, size units per lot) of a source in ``10**-pd`` /
        ``10**-qd`` units, or False when the integer path would not publish exactly what :meth:`update` does
        (a lot written with other decimals than the source's sizes: a rounded size would read differently)."""
        if int(self.lot_size.as_tuple().exponent) != -qd or self.lot_size <= 0 or self.tick_size <= 0:
            return False
        lot_units = int(self.lot_size.scaleb(qd))
        tick = Fraction(self.tick_size) * 10**pd  # one tick, in price units
        grid = tick.denominator, tick.numerator, lot_units
        return _SAME_GRID if grid == _SAME_GRID else grid

    def _convert_units(self, levels: UnitLevels, taken: dict[int, tuple[int, int]], pd: int, qd: int,
                       grid: tuple[int, int, int]) -> tuple[tuple[int, ...], tuple[int, ...], UnitLevels]:
        """:meth:`_convert` on integer levels: ticks = units * num / den when whole, lots = units // lot."""
        num, den, lot_units = grid
        if num == den == lot_units == 1 and not taken:  # the source's grid is ours, nothing of ours to remember
            if not levels:
                return (), (), ()
            prices_, sizes_ = zip(*levels, strict=True)
            if min(prices_) > 0 and min(sizes_) > 0:  # every level kept as it is
                return prices_, sizes_, levels
        prices: list[int] = []
        sizes: list[int] = []
        out: list[tuple[int, int]] = []
        still_taken: dict[int, tuple[int, int]] = {}
        for units, qty in levels:
            if den == 1:
                ticks = units * num
            else:
                ticks, off = divmod(units * num, den)
                if off:
                    self._skip_price(from_units(units, pd))
                    continue
            if units <= 0:
                self._skip_price(from_units(units, pd))
                continue
            lots, rest = divmod(qty, lot_units) if qty > 0 else (0, 0)
            if rest:
                qty = lots * lot_units
                self._round_size(lots * self.lot_size)
            if lots <= 0:
                continue
            if taken:
                left = _left_untaken(taken, still_taken, ticks, lots)
                if left != lots:
                    if left <= 0:
                        continue
                    lots, qty = left, left * lot_units
            prices.append(ticks)
            sizes.append(lots)
            out.append((units, qty))
        if taken:
            taken.clear()
            taken.update(still_taken)
        return tuple(prices), tuple(sizes), tuple(out)

    def consume(self, from_asks: bool, lots: int) -> None:
        """Our orders took ``lots`` from the best levels of one side: they stay taken while the source
        keeps each level at its size (see the module docstring)."""
        taken = self._taken[from_asks]
        levels = self._ask_levels if from_asks else self._bid_levels
        sizes = list(self.ask_lots if from_asks else self.bid_lots)
        i = 0
        while lots > 0 and i < len(sizes):
            take = min(lots, sizes[i])
            source_lots, before = taken.get(levels[i], (sizes[i], 0))
            taken[levels[i]] = (source_lots, before + take)
            sizes[i] -= take
            lots -= take
            i += 1
        kept = [(t, n) for t, n in zip(levels, sizes, strict=True) if n > 0]  # one size per level
        new_levels = tuple(t for t, _ in kept)
        new_sizes = tuple(n for _, n in kept)
        if from_asks:
            self._ask_levels, self.ask_lots = new_levels, new_sizes
            self.ask_ticks = new_levels[0] if new_levels else NO_ASK
        else:
            self._bid_levels, self.bid_lots = new_levels, new_sizes
            self.bid_ticks = new_levels[0] if new_levels else NO_BID

    def _convert(self, levels: Levels,
                 taken: dict[int, tuple[int, int]]) -> tuple[tuple[int, ...], tuple[int, ...], Levels]:  # fmt: skip
        ticks_of = self._ticks_of
        lots_of = self._lots_of
        lot = self.lot_size
        prices: list[int] = []
        sizes: list[int] = []
        out: list[tuple[Decimal, Decimal]] = []
        still_taken: dict[int, tuple[int, int]] = {}
        for price, qty in levels:
            ticks = ticks_of.get(price, -1)
            if ticks == -1:
                ticks = self._ticks(price)
            if ticks is None:
                self._skip_price(price)
                continue
            cached = lots_of.get(qty)
            if cached is None:
                cached = self._lots(qty)
            lots, qty, rounded = cached
            if rounded:
                self._round_size(qty)
            if lots <= 0:
                continue
            if taken:
                left = _left_untaken(taken, still_taken, ticks, lots)
                if left != lots:
                    if left <= 0:
                        continue
                    lots, qty = left, left * lot
            prices.append(ticks)
            sizes.append(lots)
            out.append((price, qty))
        if taken:
            taken.clear()
            taken.update(still_taken)
        return tuple(prices), tuple(sizes), tuple(out)

    def _lots(self, qty: Decimal) -> tuple[int, Decimal, bool]:
        lots_of = self._lots_of
        if len(lots_of) >= _CACHE_MAX:
            lots_of.clear()
        lots = int(qty // self.lot_size) if qty > 0 else 0
        exact = lots * self.lot_size
        lots_of[qty] = entry = (lots, exact if exact != qty else qty, exact != qty)
        return entry

    def _ticks(self, price: Decimal) -> int | None:
        ticks_of = self._ticks_of
        if len(ticks_of) >= _CACHE_MAX:
            ticks_of.clear()
        steps = price / self.tick_size
        ticks = int(steps) if price > 0 and steps == steps.to_integral_value() else None
        ticks_of[price] = ticks
        return ticks

    def _skip_price(self, price: Decimal) -> None:
        if not self.skipped_prices:
            log.warning(
                "paper exchange %s: %s price %s is not a multiple of tick_size %s; such levels are skipped "
                "(set tick_size to the source's price increment, or a divisor of it)",
                self.exchange, self.symbol, price, self.tick_size,
            )  # fmt: skip
        self.skipped_prices += 1

    def _round_size(self, rounded: Decimal) -> None:
        if not self.rounded_sizes:
            log.warning(
                "paper exchange %s: %s sizes are not all multiples of lot_size %s (one became %s); sizes are "
                "rounded down to whole lots (set lot_size to the source's size increment to keep them exact)",
                self.exchange, self.symbol, self.lot_size, rounded,
            )  # fmt: skip
        self.rounded_sizes += 1
