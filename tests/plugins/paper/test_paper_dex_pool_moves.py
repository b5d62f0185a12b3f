"""The paper DEX's concentrated pool moves (dex_pool.move_to) exactly as the step-by-step swap would move it."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from arbotlib.amm.whirlpool.math import U64_MAX, OrcaMathError, sqrt_price_at_tick, swap_quote
from arbotlib.amm.whirlpool.model import WhirlpoolModel
from plugins.paper import dex_pool

D = Decimal


def whirlpool(price: Decimal, tvl: str, tick_spacing: int) -> WhirlpoolModel:
    return dex_pool.concentrated(base="SOL", quote="USDC", base_decimals=9, quote_decimals=6, price=price,
                                 tvl=D(tvl), fee_bps=4, tick_spacing=tick_spacing,
                                 widths_bps=[50, 100, 250, 500, 1000, 2500, 5000])


def _moved_by_swap_quote(model: WhirlpoolModel, price: Decimal) -> WhirlpoolModel:
    """move_to's reference: the swap of swap_quote, step by step, always."""
    target = dex_pool._sqrt_price_x64(price, model.base_decimals, model.quote_decimals)
    if model.ticks:
        target = min(max(target, sqrt_price_at_tick(model.ticks[0][0])), sqrt_price_at_tick(model.ticks[-1][0]))
    if target == model.sqrt_price:
        return model
    try:
        q = swap_quote(amount=U64_MAX, amount_specified_is_input=True, a_to_b=target < model.sqrt_price,
                       sqrt_price=model.sqrt_price, tick=model.tick, liquidity=model.liquidity, fee_rate=model.fee_rate,
                       ticks=model.ticks, tick_spacing=model.tick_spacing, sqrt_price_limit=target)
    except OrcaMathError:
        return model
    return model.at(q.sqrt_price, q.tick, q.liquidity)


@settings(max_examples=300, deadline=None)
@given(start=st.integers(-2000, 2000), moves=st.lists(st.integers(-3000, 3000), min_size=1, max_size=6),
       spacing=st.sampled_from([1, 4, 64]), tvl=st.sampled_from(["1000", "2000000", "1000000000000"]))
def test_moves_land_where_the_step_by_step_swap_does(start, moves, spacing, tvl):
    """Moves inside the current range are known without the swap's amounts; every move must leave the
    pool exactly where swap_quote's would (bps of price, from anywhere, in and out of the positions)."""
    pool = got = whirlpool(D(150) * (1 + D(start) / 10_000), tvl, spacing)
    for move in moves:
        price = got.mid() * (1 + D(move) / 10_000 / (1 if abs(move) < 500 else 3))
        got, expected = dex_pool.move_to(got, price), _moved_by_swap_quote(got, price)
        assert got == expected and got.tick == expected.tick
    assert got.ticks is pool.ticks
