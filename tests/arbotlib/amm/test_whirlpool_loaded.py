"""Quotes never reach past the tick arrays loaded: beyond them the ticks (and so the liquidity) are unknown."""

from __future__ import annotations

import pytest

from arbotlib.amm.whirlpool.accounts import Tick, TickArray, Whirlpool
from arbotlib.amm.whirlpool.math import (
    TICK_ARRAY_SIZE,
    InsufficientLiquidity,
    sqrt_price_at_tick,
    swap_quote,
    tick_at_sqrt_price,
)
from arbotlib.amm.whirlpool.model import WhirlpoolModel
from arbotlib.amm.whirlpool.pool import quote_exact_in, quote_exact_out
from bot.pool import PoolLiquidityError

SPACING = 64
SPAN = TICK_ARRAY_SIZE * SPACING
LIQUIDITY = 10**12
EMPTY = tuple(Tick() for _ in range(TICK_ARRAY_SIZE))


def pool(tick: int = 100) -> Whirlpool:
    return Whirlpool(tick_spacing=SPACING, fee_rate=3000, liquidity=LIQUIDITY,
                     sqrt_price=sqrt_price_at_tick(tick) + 7, tick_current_index=tick)


def arrays(*starts: int) -> list[TickArray]:
    """Tick arrays without an initialized tick: the liquidity is proven constant across them, no further."""
    return [TickArray(start, EMPTY) for start in starts]


LOADED = arrays(-SPAN, 0, SPAN)  # ticks [-SPAN, 2 * SPAN) are known


@pytest.mark.parametrize("a_to_b, edge", [(True, -SPAN), (False, 2 * SPAN)])
def test_an_exact_input_swap_stops_at_the_edge_of_the_loaded_arrays(a_to_b, edge):
    # enough input to take the price several arrays past the loaded ones, were the liquidity constant there
    q = quote_exact_in(pool(), LOADED, 10**12, a_to_b=a_to_b)
    assert q.sqrt_price == sqrt_price_at_tick(edge)
    assert q.amount_unfilled > 0
    whole = quote_exact_in(pool(), LOADED, 10**12 - q.amount_unfilled, a_to_b=a_to_b)
    assert (whole.amount_out, whole.amount_unfilled) == (q.amount_out, 0)


@pytest.mark.parametrize("a_to_b", [True, False])
def test_an_exact_output_swap_past_the_loaded_arrays_is_refused(a_to_b):
    with pytest.raises(InsufficientLiquidity, match="loaded tick arrays"):
        quote_exact_out(pool(), LOADED, 10**12 if a_to_b else 10**13, a_to_b=a_to_b)


def test_inside_the_loaded_arrays_nothing_changes():
    """A swap that stays inside the arrays quotes exactly as with no bound at all."""
    p = pool()
    for a_to_b in (True, False):
        bounded = quote_exact_in(p, LOADED, 10**9, a_to_b=a_to_b)
        free = swap_quote(amount=10**9, amount_specified_is_input=True, a_to_b=a_to_b, sqrt_price=p.sqrt_price,
                          tick=p.tick_current_index, liquidity=p.liquidity, fee_rate=p.fee_rate, ticks=[],
                          tick_spacing=SPACING)
        assert bounded == free


def test_only_the_run_of_arrays_around_the_current_tick_counts():
    """An array beyond a missing one proves nothing about the gap: the quote stops at the gap."""
    q = quote_exact_in(pool(), arrays(0, 2 * SPAN), 10**12, a_to_b=False)
    assert q.sqrt_price == sqrt_price_at_tick(SPAN) and q.amount_unfilled > 0


def model(tick: int = 100) -> WhirlpoolModel:
    return WhirlpoolModel.of(pool(tick), LOADED, base="SOL", quote="USDC", base_decimals=9, quote_decimals=6)


def test_the_model_refuses_a_sale_or_purchase_past_the_loaded_arrays():
    m = model()
    with pytest.raises(PoolLiquidityError, match=r"can take only \d+ of the 1000000000000 units within the tick "
                                                 r"arrays loaded \(ticks -5632 to 11264\)"):
        m.sell_units(10**12)
    with pytest.raises(PoolLiquidityError):
        m.buy_units(10**12)
    # what fits is quoted, and the state after keeps the bound
    out, _, after = m.sell_units(10**10)
    assert out > 0 and after.known_ticks == m.known_ticks == (-SPAN, 2 * SPAN)


def test_a_state_moved_to_the_edge_quotes_nothing_further_that_way():
    """The in-range closed form must respect the bound too: from the edge of the last loaded array it cannot
    reach into the next one."""
    m = model(2 * SPAN - SPACING)  # in the last array, at its last tick: 64 ticks, about 1.8e9 units, to its end
    m.buy_units(10**9)
    with pytest.raises(PoolLiquidityError):
        m.buy_units(10**10)  # price up: into the array above, not loaded
    m.sell_units(10**10)  # down is known
    price = sqrt_price_at_tick(2 * SPAN) - 1
    near = m.at_in_range(price)
    assert tick_at_sqrt_price(price) == 2 * SPAN - 1
    with pytest.raises(PoolLiquidityError):
        near.buy_units(10**9)
