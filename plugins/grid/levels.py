"""Grid price levels: pure Decimal arithmetic, no I/O.

A grid of ``count`` levels p0 < p1 < ... < p(count-1) spans ``lower``..``upper``. Slot i buys at
p(i) and sells at p(i+1), each rounded to the market's tick in the trader's favour (buys down,
sells up).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from bot.api import MarketInfo, Side

Spacing = Literal["arithmetic", "geometric"]


def level_prices(lower: Decimal, upper: Decimal, count: int, spacing: Spacing) -> list[Decimal]:
    """The ``count`` unrounded levels from ``lower`` to ``upper`` (both included).

    Arithmetic levels are equally far apart; geometric levels are an equal *ratio* apart, so
    each step earns the same percentage.
    """
    if count < 2:
        raise ValueError(f"a grid needs at least 2 levels (got {count})")
    if not 0 < lower < upper:
        raise ValueError(f"a grid needs 0 < lower < upper (got lower {lower}, upper {upper})")
    steps = count - 1
    if spacing == "arithmetic":
        step = (upper - lower) / steps
        inner = [lower + step * i for i in range(1, steps)]
    elif spacing == "geometric":
        ratio = upper / lower
        inner = [lower * ratio ** (Decimal(i) / steps) for i in range(1, steps)]
    else:
        raise ValueError(f'spacing must be "arithmetic" or "geometric" (got {spacing!r})')
    return [lower, *inner, upper]


def slot_prices(levels: list[Decimal], market: MarketInfo) -> list[tuple[Decimal, Decimal]]:
    """(buy price, sell price) of each slot, on the market's tick grid.

    Raises ValueError when the tick is too coarse for the grid: a buy price of zero, or two
    neighbouring levels that round onto the same tick (two buys, or two sells, at one price).
    """
    buys = [market.round_price(p, Side.BUY) for p in levels[:-1]]
    sells = [market.round_price(p, Side.SELL) for p in levels[1:]]
    if buys[0] <= 0:
        raise ValueError(f"the lowest level {levels[0]} rounds down to {buys[0]} at tick size {market.tick_size}: "
                         f"set lower to at least {market.tick_size}")
    for i in range(1, len(buys)):
        if buys[i] <= buys[i - 1]:
            raise ValueError(
                f"levels {i - 1} and {i} ({levels[i - 1]} and {levels[i]}) both round to {buys[i]} at tick size "
                f"{market.tick_size}: use fewer levels or a wider range"
            )
    for i in range(1, len(sells)):
        if sells[i] <= sells[i - 1]:  # buys that differ can still share a sell: 8.6, 9.3, 10 at a tick of 1
            raise ValueError(
                f"levels {i} and {i + 1} ({levels[i]} and {levels[i + 1]}) both round up to {sells[i]} at tick size "
                f"{market.tick_size}: use fewer levels or a wider range"
            )
    # Each sell is above its buy without a check: sell(i) >= p(i+1) > p(i) >= buy(i).
    return list(zip(buys, sells, strict=True))


def recentre(lower: Decimal, upper: Decimal, spacing: Spacing, price: Decimal) -> tuple[Decimal, Decimal]:
    """A new (lower, upper) centred on ``price`` with the same width.

    Width is the difference ``upper - lower`` for arithmetic grids and the ratio ``upper / lower``
    for geometric ones, so every step keeps its size. Raises ValueError when an arithmetic grid
    would reach zero or below.
    """
    if spacing == "geometric":
        half = (upper / lower).sqrt()
        return price / half, price * half
    half = (upper - lower) / 2
    new_lower = price - half
    if new_lower <= 0:
        raise ValueError(
            f"a grid {upper - lower} wide cannot be centred on {price}: its lower end would be {new_lower}")
    return new_lower, price + half
