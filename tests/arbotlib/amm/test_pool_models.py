"""The Pool contract (bot.pool) on both first-party models, with hand-computed figures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arbotlib.amm.constant_product import ConstantProductPool
from arbotlib.amm.model import ConstantProductModel
from arbotlib.amm.whirlpool.math import Q64, sqrt_price_at_tick
from arbotlib.amm.whirlpool.model import WhirlpoolModel
from bot.domain import Side
from bot.pool import PoolError, PoolLiquidityError

D = Decimal


def cp(reserve_base: int = 1_000_000_000_000, reserve_quote: int = 150_000_000_000, fee_bps: int = 30,
       base_is_a: bool = True) -> ConstantProductModel:
    # 1000 SOL (9 decimals) against 150,000 USDC (6 decimals): mid 150 USDC per SOL
    pool = (ConstantProductPool(reserve_base, reserve_quote, fee_bps) if base_is_a
            else ConstantProductPool(reserve_quote, reserve_base, fee_bps))
    return ConstantProductModel(pool, "SOL", "USDC", 9, 6, base_is_a)


@pytest.mark.parametrize("base_is_a", [True, False])
def test_constant_product_sell_hand_computed(base_is_a):
    model = cp(base_is_a=base_is_a)
    assert model.mid() == D(150)
    est = model.sell(D("1"))
    # in after fee = 1e9 * 9970; out = in_after_fee * 150e9 // (1e12 * 1e4 + in_after_fee)
    in_after_fee = 10**9 * 9970
    out = in_after_fee * 150_000_000_000 // (10**12 * 10_000 + in_after_fee)
    assert est.quote_units == out == 149_401_047
    assert est.quote_qty == D("149.401047")
    assert est.side is Side.SELL and est.base_units == 10**9
    assert est.fee == D("0.003") * 150  # 0.3 % of 1 SOL, valued at the mid
    assert est.impact == D(150) - est.quote_qty - est.fee
    assert est.impact > 0
    assert est.pool_after.mid() < model.mid()


@pytest.mark.parametrize("base_is_a", [True, False])
def test_constant_product_buy_hand_computed(base_is_a):
    model = cp(base_is_a=base_is_a)
    est = model.buy(D("1"))
    # in = ceil(150e9 * 1e9 * 1e4 / ((1e12 - 1e9) * 9970))
    num, den = 150_000_000_000 * 10**9 * 10_000, (10**12 - 10**9) * 9970
    assert est.quote_units == -(-num // den) == 150_601_957
    assert est.quote_qty == D("150.601957")
    assert est.impact == est.quote_qty - est.fee - D(150)
    assert est.pool_after.mid() > model.mid()


def test_size_finer_than_the_token_is_an_error():
    with pytest.raises(PoolError, match="decimals"):
        cp().sell(D("0.0000000001"))
    with pytest.raises(PoolError, match="positive"):
        cp().buy(D("0"))
    with pytest.raises(PoolLiquidityError):
        cp().buy(D("1000"))


def whirlpool(ticks=((-1000, 10**12), (1000, -10**12)), base_is_a=True) -> WhirlpoolModel:
    return WhirlpoolModel(sqrt_price=Q64, tick=0, liquidity=10**12, fee_rate=3000, tick_spacing=64,
                          ticks=tuple(ticks), base="A", quote="B", base_decimals=6, quote_decimals=6,
                          base_is_a=base_is_a)


def test_whirlpool_at_price_one():
    model = whirlpool()
    assert model.mid() == 1
    assert model.fee_bps == 30
    sell = model.sell(D("1"))
    assert sell.fee == D("0.003")  # 3000 hundredths of a bp of 1,000,000 units
    assert 0 <= sell.impact < D("0.00001")
    buy = model.buy(D("1"))
    assert buy.quote_qty > 1 + buy.fee - D("0.000001")
    assert model.estimate(Side.SELL, D("1")) == sell


def test_whirlpool_base_is_b_inverts_the_price():
    model = WhirlpoolModel(sqrt_price=sqrt_price_at_tick(6932), tick=6932, liquidity=10**12, fee_rate=3000,
                           tick_spacing=64, ticks=(), base="B", quote="A", base_decimals=6, quote_decimals=6,
                           base_is_a=False)
    # price of A in B is 1.0001 ** 6932 ~ 2; the base B costs ~0.5 A
    assert abs(model.mid() - D("0.5")) < D("0.0001")
    assert model.sell(D("1")).quote_qty < model.mid()


def test_whirlpool_runs_out_of_liquidity():
    model = whirlpool(ticks=((-64, 10**6), (64, -10**6)))
    model = WhirlpoolModel(Q64, 0, 10**6, 3000, 64, ((-64, 10**6), (64, -10**6)), "A", "B", 6, 6)
    with pytest.raises(PoolLiquidityError):
        model.buy(D("1000"))
