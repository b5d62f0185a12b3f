"""A simulated market for one symbol: a seeded random walk with a realistic-looking book and tape.

Everything inside is integers: prices are *ticks* (multiples of ``tick_size``) and sizes are
*lots* (multiples of ``lot_size``). Decimals appear only in the events that leave the module,
and those are cached, so one :meth:`SimulatedMarket.step` costs a few microseconds.

One step:

1. The best bid moves by a normally distributed number of ticks whose standard deviation is
   ``volatility_bps`` of the current price; the best ask stays ``spread_ticks`` above it.
2. Each side of the book gets ``depth_levels`` levels, ``level_step_ticks`` apart, whose sizes
   are drawn from a fixed set of seeded profiles (deeper levels are larger on average).
3. A public trade usually prints: when the price rose a buyer took the (new) best ask, when it
   fell a seller hit the (new) best bid; when it did not move, a trade prints half the time on a
   random side. Its size is drawn from a seeded, roughly exponential set of sizes.

The walk is reproducible: the random stream of symbol ``S`` after ``n`` steps is seeded from
``(seed, S, n)``, so the same seed gives the same prices, and a market resumed at step ``n``
(see :meth:`SimulatedMarket.resume`) continues deterministically.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from bot.domain import BookUpdate, Side, Trade

_PROFILES = 256
"""Number of precomputed level-size profiles (and trade sizes); indexed by 8 random bits."""
_NORMALS = 4096
"""Size of the table of standard normal draws the walk samples from (12 random bits)."""
_CACHE_LIMIT = 200_000
"""Price tuples cached per side before the cache is dropped (bounds memory on long runs)."""


@dataclass(frozen=True)
class MarketParams:
    """Shape of one simulated market (all prices in quote units, sizes in base units)."""

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
    """The book and tape of one symbol; :meth:`step` moves it once and returns the events."""

    def __init__(self, exchange: str, symbol: str, params: MarketParams):
        self.exchange = exchange
        self.symbol = symbol
        self.params = params
        self.tick_size = params.tick_size
        self.lot_size = params.lot_size
        self.spread_ticks = params.spread_ticks
        self.level_step_ticks = params.level_step_ticks
        self.depth_levels = params.depth_levels
        # The walk's standard deviation as a fraction of the price: a float is fine here, it only
        # shapes randomness; every published price is an exact multiple of the tick.
        self._sigma = float(params.volatility_bps) / 10_000.0
        # Keep the deepest bid level above zero.
        self._floor_ticks = 1 + params.depth_levels * params.level_step_ticks

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
        self._qty_cache: dict[int, Decimal] = {}
        self._profiles_qty = tuple(tuple(map(self.qty, lots)) for lots in self._profiles_lots)
        self._trade_qty = tuple(map(self.qty, self._trade_lots))
        self._px_cache: dict[int, Decimal] = {}
        self._bid_px: dict[int, tuple[Decimal, ...]] = {}
        self._ask_px: dict[int, tuple[Decimal, ...]] = {}

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
        self._rng = random.Random(f"{self.params.seed}:{self.symbol}:{step_count}")
        self.bid_lots: tuple[int, ...] = self._profiles_lots[0]
        self.ask_lots: tuple[int, ...] = self._profiles_lots[1]
        self._bid_qty = self._profiles_qty[0]
        self._ask_qty = self._profiles_qty[1]
        self.trade_ticks = 0
        """Price of this step's public trade in ticks; 0 when no trade printed."""
        self.trade_lots = 0
        self.trade_taker_buy = False

    # --- conversions ------------------------------------------------------------------------

    def price(self, ticks: int) -> Decimal:
        """The Decimal price of ``ticks`` (cached)."""
        px = self._px_cache.get(ticks)
        if px is None:
            if len(self._px_cache) > _CACHE_LIMIT:
                self._px_cache.clear()
            px = self._px_cache[ticks] = ticks * self.tick_size
        return px

    def qty(self, lots: int) -> Decimal:
        """The Decimal size of ``lots`` (cached)."""
        q = self._qty_cache.get(lots)
        if q is None:
            if len(self._qty_cache) > _CACHE_LIMIT:
                self._qty_cache.clear()
            q = self._qty_cache[lots] = lots * self.lot_size
        return q

    def ask_level(self, i: int) -> int:
        """Price in ticks of the ``i``-th ask level (0 = best)."""
        return self.ask_ticks + i * self.level_step_ticks

    def bid_level(self, i: int) -> int:
        """Price in ticks of the ``i``-th bid level (0 = best)."""
        return self.bid_ticks - i * self.level_step_ticks

    # --- moving -----------------------------------------------------------------------------

    def step(self, ts_ns: int) -> tuple[BookUpdate, Trade | None]:
        """Move the market once; return the new top of book and the public trade, if one printed."""
        self.step_count += 1
        r = self._rng.getrandbits(40)
        bid = self.bid_ticks
        move = round(self._normals[r & 0xFFF] * bid * self._sigma)
        if move:
            bid += move
            if bid < self._floor_ticks:
                bid = self._floor_ticks
            self.bid_ticks = bid
            self.ask_ticks = bid + self.spread_ticks
        ask = self.ask_ticks
        self.bid_lots = self._profiles_lots[(r >> 12) & 0xFF]
        self.ask_lots = self._profiles_lots[(r >> 20) & 0xFF]
        self._bid_qty = self._profiles_qty[(r >> 12) & 0xFF]
        self._ask_qty = self._profiles_qty[(r >> 20) & 0xFF]

        book = BookUpdate(
            self.exchange,
            self.symbol,
            tuple(zip(self._bid_prices(bid), self._bid_qty)),
            tuple(zip(self._ask_prices(ask), self._ask_qty)),
            ts_ns,
        )

        if move == 0 and (r >> 36) & 1:
            self.trade_ticks = 0
            self.trade_lots = 0
            return book, None
        taker_buy = move > 0 or (move == 0 and bool((r >> 37) & 1))
        size = (r >> 28) & 0xFF
        self.trade_ticks = ask if taker_buy else bid
        self.trade_lots = self._trade_lots[size]
        self.trade_taker_buy = taker_buy
        trade = Trade(
            self.exchange,
            self.symbol,
            self.price(self.trade_ticks),
            self._trade_qty[size],
            Side.BUY if taker_buy else Side.SELL,
            ts_ns,
        )
        return book, trade

    def book(self, ts_ns: int) -> BookUpdate:
        """The current top of book, without moving the market."""
        return BookUpdate(
            self.exchange,
            self.symbol,
            tuple(zip(self._bid_prices(self.bid_ticks), self._bid_qty)),
            tuple(zip(self._ask_prices(self.ask_ticks), self._ask_qty)),
            ts_ns,
        )

    def _bid_prices(self, bid: int) -> tuple[Decimal, ...]:
        prices = self._bid_px.get(bid)
        if prices is None:
            if len(self._bid_px) > _CACHE_LIMIT:
                self._bid_px.clear()
            tick = self.tick_size
            step = self.level_step_ticks
            prices = self._bid_px[bid] = tuple([t * tick for t in range(bid, bid - self.depth_levels * step, -step)])
        return prices

    def _ask_prices(self, ask: int) -> tuple[Decimal, ...]:
        prices = self._ask_px.get(ask)
        if prices is None:
            if len(self._ask_px) > _CACHE_LIMIT:
                self._ask_px.clear()
            tick = self.tick_size
            step = self.level_step_ticks
            prices = self._ask_px[ask] = tuple([t * tick for t in range(ask, ask + self.depth_levels * step, step)])
        return prices
