"""A simulated market for one symbol: a seeded random walk with a realistic-looking book and tape.

Everything inside is integers: prices are *ticks* (multiples of ``tick_size``) and sizes are
*lots* (multiples of ``lot_size``). A book leaves the module as integer units
(:meth:`bot.api.BookUpdate.of_ladder`: the touch, the level step and the sizes; the level tuples and
their Decimals are made only if a subscriber reads them), and sizes come from a fixed set of
profiles. One :meth:`SimulatedMarket.step` therefore costs about a microsecond.

One step:

1. The best bid moves by a normally distributed number of ticks whose standard deviation is
   ``volatility_bps`` of the current price; the best ask stays ``spread_ticks`` above it.
2. Each side of the book gets ``depth_levels`` levels, ``level_step_ticks`` apart, whose sizes
   are one of a fixed set of seeded profiles (deeper levels are larger on average).
3. A public trade usually prints: when the price rose a buyer took the (new) best ask, when it
   fell a seller hit the (new) best bid; when it did not move, a trade prints half the time, on
   a random side. Its size comes from a seeded, roughly exponential set of sizes.

The walk is reproducible: the random stream of symbol ``S`` is reseeded from ``(seed, S, block)``
every 4096 steps and each step draws once, so the same seed gives the same prices, and a market
resumed at step ``n`` at the price it had then (see :meth:`SimulatedMarket.resume`) carries on
exactly as if it had never stopped. The market knows nothing of our orders: they never move it
(no market impact).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from bot.api import BookUpdate, Side, Trade
from bot.api.kit import to_units

from .events import new_trade

_PROFILES = 256
"""Number of precomputed level-size profiles and trade sizes; indexed by 8 random bits."""
_NORMALS = 4096
"""Size of the table of standard normal draws the walk samples from; indexed by 12 random bits."""
_BLOCK_BITS = 12
"""The random stream is reseeded every ``2 ** _BLOCK_BITS`` steps, which makes resuming exact."""
_BLOCK_MASK = (1 << _BLOCK_BITS) - 1
_BUY, _SELL = Side.BUY, Side.SELL


def _decimals(step: Decimal) -> tuple[int, int]:
    """A tick or lot size -> (decimals of its units, the size in those units): ``0.05`` -> ``(2, 5)``."""
    decimals = max(0, -int(step.as_tuple().exponent))
    return decimals, to_units(step, decimals)


@dataclass(frozen=True)
class MarketParams:
    """Shape of one simulated market (prices in quote units, sizes in base units)."""

    tick_size: Decimal
    lot_size: Decimal
    start_price: Decimal
    spread_ticks: int
    level_step_ticks: int
    depth_levels: int
    level_qty: Decimal
    volatility_bps: Decimal
    seed: int


class SimulatedMarket:
    """The book and tape of one symbol; :meth:`step` moves it once and returns the events.

    The integer state is public for the matching engine: ``bid_ticks``/``ask_ticks`` (best
    prices), ``bid_lots``/``ask_lots`` (level sizes, best first, ``level_step_ticks`` apart) and
    ``trade_ticks``/``trade_lots``/``trade_taker_buy`` for this step's public trade
    (``trade_lots == 0`` when none printed).
    """

    def __init__(self, exchange: str, symbol: str, params: MarketParams):
        self.exchange = exchange
        self.symbol = symbol
        self.params = params
        self.tick_size = params.tick_size
        self.lot_size = params.lot_size
        self.spread_ticks = params.spread_ticks
        self.level_step_ticks = params.level_step_ticks
        self.depth_levels = params.depth_levels
        self._span = params.depth_levels * params.level_step_ticks
        # Keeps the deepest bid level above zero.
        self._floor_ticks = 1 + self._span
        # The walk's standard deviation as a fraction of the price: a float is fine here, it only
        # shapes randomness; every published price is an exact multiple of the tick.
        self._sigma = float(params.volatility_bps) / 10_000.0

        shapes = random.Random(f"{params.seed}:{symbol}:shapes")
        self._normals = tuple(shapes.gauss(0.0, 1.0) for _ in range(_NORMALS))
        mean_lots = max(1, int(params.level_qty / params.lot_size))
        self._profiles_lots = tuple(
            tuple(
                max(1, round(mean_lots * (0.4 + 1.2 * shapes.random()) * (1.0 + 0.15 * level)))
                for level in range(params.depth_levels)
            )
            for _ in range(_PROFILES)
        )
        self._trade_lots = tuple(
            max(1, min(4 * mean_lots, round(mean_lots * 0.2 * shapes.expovariate(1.0)))) for _ in range(_PROFILES)
        )
        self._profiles_qty = tuple(tuple(map(self.qty, lots)) for lots in self._profiles_lots)
        # the same books in integer units, for strategies that read units (BookUpdate.bid_units)
        self._pd, self._tick_units = _decimals(self.tick_size)
        self._step_units = self.level_step_ticks * self._tick_units
        self._ladder = BookUpdate.of_ladder  # bound once: a book a step
        self._qd, lot_units = _decimals(self.lot_size)
        self._profiles_units = tuple(tuple([n * lot_units for n in lots]) for lots in self._profiles_lots)
        self._trade_qty = tuple(map(self.qty, self._trade_lots))
        # Units read back as the Decimals ``ticks * tick_size`` and ``lots * lot_size`` are written (the
        # same digits) when neither size has an exponent above zero ("0.01", "5"; not "1E+1"): then a
        # book's Decimals are left to whoever reads them, else they are made with each book.
        self._eager_decimals = int(self.tick_size.as_tuple().exponent) > 0 or int(self.lot_size.as_tuple().exponent) > 0
        self.resume(0, None)

    # --- state ------------------------------------------------------------------------------

    def resume(self, step_count: int, bid_ticks: int | None) -> None:
        """Continue from step ``step_count`` at best bid ``bid_ticks`` (None: the start price)."""
        if bid_ticks is None:
            mid_ticks = int((self.params.start_price / self.tick_size).to_integral_value())
            bid_ticks = mid_ticks - self.spread_ticks // 2
        self.step_count = step_count
        self.bid_ticks = max(self._floor_ticks, bid_ticks)
        self.ask_ticks = self.bid_ticks + self.spread_ticks
        self._draw = 1 << 20
        """The last step's random bits, which pick the level-size profiles (before any step: 0 and 1) and the trade
        size."""
        if step_count:
            # The draws of the steps already taken are skipped; the last one is drawn again, so the book shows the
            # sizes it had when the market stopped (an order sent right after a restart meets that book).
            last = step_count - 1
            self._rng = self._stream(last >> _BLOCK_BITS)
            for _ in range(last & _BLOCK_MASK):
                self._rng.getrandbits(40)
            self._draw = self._rng.getrandbits(40)  # a step that starts a block reseeds in move()
        else:
            self._rng = self._stream(0)
        self.bid_lots: tuple[int, ...] = self._profiles_lots[(self._draw >> 12) & 0xFF]
        self.ask_lots: tuple[int, ...] = self._profiles_lots[(self._draw >> 20) & 0xFF]
        self.trade_ticks = 0
        self.trade_lots = 0
        self.trade_taker_buy = False

    def _stream(self, block: int) -> random.Random:
        return random.Random(f"{self.params.seed}:{self.symbol}:{block}")

    # --- conversions ------------------------------------------------------------------------

    def price(self, ticks: int) -> Decimal:
        """The Decimal price of ``ticks``."""
        return ticks * self.tick_size

    def qty(self, lots: int) -> Decimal:
        """The Decimal size of ``lots``."""
        return lots * self.lot_size

    def ask_level(self, i: int) -> int:
        """Price in ticks of the ``i``-th ask level (0 = best)."""
        return self.ask_ticks + i * self.level_step_ticks

    def consume(self, from_asks: bool, lots: int) -> None:
        """Nothing to remember: each step draws the book afresh (our orders never move this market)."""

    def bid_level(self, i: int) -> int:
        """Price in ticks of the ``i``-th bid level (0 = best)."""
        return self.bid_ticks - i * self.level_step_ticks

    # --- moving -----------------------------------------------------------------------------

    def step(self, ts_ns: int) -> tuple[BookUpdate, Trade | None]:
        """Move the market once; return the new top of book and the public trade, if one printed."""
        printed = self.move()
        return self.book(ts_ns), self.trade(ts_ns) if printed else None

    def move(self) -> bool:
        """Move the market once (the integer state only); True when a public trade printed. :meth:`book` and
        :meth:`trade` then make the events, for a venue that has someone to publish them to."""
        n = self.step_count
        if n & _BLOCK_MASK == 0:
            self._rng = self._stream(n >> _BLOCK_BITS)
        self.step_count = n + 1
        # 40 random bits: 0-11 the move, 12-19 and 20-27 the bid and ask size profiles,
        # 28-35 the trade size, 36 "no trade" and 37 the taker side when the price stood still.
        r = self._rng.getrandbits(40)
        bid = self.bid_ticks
        move = round(self._normals[r & 0xFFF] * bid * self._sigma)
        if move:
            bid += move
            if bid < self._floor_ticks:
                bid = self._floor_ticks
            self.bid_ticks = bid
            self.ask_ticks = bid + self.spread_ticks
        self._draw = r  # the sizes in units and Decimals are looked up from it when a book or trade is made
        profiles = self._profiles_lots
        self.bid_lots = profiles[(r >> 12) & 0xFF]
        self.ask_lots = profiles[(r >> 20) & 0xFF]

        if move == 0 and (r >> 36) & 1:
            self.trade_lots = 0
            return False
        taker_buy = move > 0 or (move == 0 and bool((r >> 37) & 1))
        self.trade_ticks = self.ask_ticks if taker_buy else bid
        self.trade_lots = self._trade_lots[(r >> 28) & 0xFF]
        self.trade_taker_buy = taker_buy
        return True

    def trade(self, ts_ns: int) -> Trade:
        """The public trade of the last :meth:`move` that printed one."""
        return new_trade(self.exchange, self.symbol, self.trade_ticks * self.tick_size,
                         self._trade_qty[(self._draw >> 28) & 0xFF], _BUY if self.trade_taker_buy else _SELL, ts_ns)

    def book(self, ts_ns: int) -> BookUpdate:
        """The current top of book, without moving the market."""
        tu = self._tick_units
        r = self._draw
        units = self._profiles_units
        bid_units, ask_units = units[(r >> 12) & 0xFF], units[(r >> 20) & 0xFF]
        if not self._eager_decimals:  # evenly spaced levels: made only if a subscriber reads past the touch
            return self._ladder(self.exchange, self.symbol, self.bid_ticks * tu, self.ask_ticks * tu, self._step_units,
                                bid_units, ask_units, self._pd, self._qd, ts_ns)
        span = self._span
        step = self.level_step_ticks
        bid_u, ask_u = self.bid_ticks * tu, self.ask_ticks * tu
        price = self.price
        qty = self._profiles_qty
        decimals = (tuple(zip(map(price, range(self.bid_ticks, self.bid_ticks - span, -step)), qty[(r >> 12) & 0xFF],
                              strict=True)),
                    tuple(zip(map(price, range(self.ask_ticks, self.ask_ticks + span, step)), qty[(r >> 20) & 0xFF],
                              strict=True)))
        return BookUpdate.of_units(
            self.exchange,
            self.symbol,
            tuple(zip(range(bid_u, bid_u - span * tu, -step * tu), bid_units, strict=True)),
            tuple(zip(range(ask_u, ask_u + span * tu, step * tu), ask_units, strict=True)),
            self._pd,
            self._qd,
            ts_ns,
            decimals,
        )
