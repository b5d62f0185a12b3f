"""The arb pricer on a concentrated-liquidity pool (WhirlpoolModel): the same decisions as pricing
every ladder size from scratch through the pool's public Decimal quotes, across tick crossings."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from arbotlib.amm.whirlpool.math import Q64
from arbotlib.amm.whirlpool.model import WhirlpoolModel
from bot.domain import MarketInfo
from bot.pool import PoolError
from plugins.arb.pricing import Inventory, Pricer
from tests.plugins.arb.test_arb_pricing_kit import D, adds_up, book, settings

# price 1 (sqrt price 2^64 at tick 0), both tokens 6 decimals, 30 bps fee; a narrow position
# (ticks -100..100, about +-1 %) over a wide one (-3000..3000): the ladder crosses the narrow edges
L_NARROW, L_WIDE = 2 * 10**11, 10**10
POOL = WhirlpoolModel(sqrt_price=Q64, tick=0, liquidity=L_NARROW + L_WIDE, fee_rate=3000, tick_spacing=4,
                      ticks=((-3000, L_WIDE), (-100, L_NARROW), (100, -L_NARROW), (3000, -L_WIDE)),
                      base="SOL", quote="USDC", base_decimals=6, quote_decimals=6)
MARKET = MarketInfo("SOL/USDC", "SOL", "USDC", D("0.0001"), D("0.01"))
RICH = Inventory(*(D(10**7),) * 4)
SCENE = {"size_step": D(50), "min_size": D(50), "max_notional": D(40_000), "max_cex_slippage_bps": D(300),
         "max_dex_impact_bps": D(5_000), "min_edge_bps": D(5)}


def reference(levels, buy_cex: bool, s, fixed: Decimal):
    """Best (size, net) clearing min_edge_bps, from a fresh pool quote and book walk per ladder size."""
    with localcontext() as ctx:
        ctx.prec = 28
        mid, touch = +POOL.mid(), levels[0][0]  # the pricer's mid: 28 significant digits
        ctx.prec = 90
        ref = touch if buy_cex else mid
        fee, haircut = s.cex_taker_fee_bps / 10_000, s.latency_haircut_bps / 10_000
        limit = touch * (1 + s.max_cex_slippage_bps / 10_000) if buy_cex \
            else touch * (1 - s.max_cex_slippage_bps / 10_000)
        best, k = None, 1
        while (q := s.size_step * k) * ref <= s.max_notional:
            value, left = D(0), q
            for price, qty in levels:
                if (price > limit) if buy_cex else (price < limit):
                    break
                take = min(left, qty)
                value, left = value + take * price, left - take
            if left:
                break
            try:
                est = POOL.sell(q) if buy_cex else POOL.buy(q)
            except PoolError:
                break
            if buy_cex:
                net = est.quote_qty - value * (1 + fee) - haircut * q * ref - fixed
            else:
                net = value * (1 - fee) - est.quote_qty - haircut * q * ref - fixed
            if net * 10_000 > s.min_edge_bps * q * ref and (best is None or net > best[1]):
                best = (q, net)
            k += 1
        return best


@pytest.mark.parametrize("offset_bps", [-150, -80, -45, -20, 0, 20, 45, 80, 150])
def test_decisions_match_pricing_every_size_afresh(offset_bps):
    # the CEX touch offset_bps away from the pool's price 1, three levels a side
    touch = (1 + D(offset_bps) / 10_000).quantize(D("0.0001"))
    asks = [(str(touch + D(i) / 1_000), "4000") for i in range(3)]
    bids = [(str(touch - D(1 + i) / 1_000), "4000") for i in range(3)]
    tick = book(bids, asks)
    s = settings(symbol="SOL/USDC", **SCENE)
    p = Pricer(s, MARKET, "SOL", "USDC")
    p.set_pool(POOL)
    fixed = D(7_000) / 10**9 * tick.mid  # SOL fees at the CEX mid
    for e, levels, buy_cex in zip(p.evaluate(tick, RICH), (tick.asks, tick.bids), (True, False), strict=True):
        assert adds_up(e)
        expected = reference(levels, buy_cex, s, fixed)
        if expected is None:
            assert not e.tradable
        else:
            assert e.tradable and (e.size, e.net_pnl) == expected
            assert e.dex.quote_qty == (POOL.sell(e.size) if buy_cex else POOL.buy(e.size)).quote_qty


def test_some_of_these_books_trade():
    # the parametrized test above must not pass by trading nothing
    tick = book([("1.0079", "4000")], [("1.008", "4000")])
    p = Pricer(settings(**SCENE), MARKET, "SOL", "USDC")
    p.set_pool(POOL)
    _, buy_dex = p.evaluate(tick, RICH)
    assert buy_dex.tradable and buy_dex.size > 50


@settings_(max_examples=150, deadline=None)
@given(offset_bps=st.integers(-200, 200), step=st.sampled_from([D(10), D(25), D(50), D(100)]),
       depth=st.lists(st.integers(100, 20_000), min_size=1, max_size=3), min_edge=st.integers(0, 60),
       gap=st.integers(1, 30), fee_bps=st.integers(0, 30), haircut=st.integers(0, 10))
def test_random_books_match_pricing_every_size_afresh(offset_bps, step, depth, min_edge, gap, fee_bps, haircut):
    touch = (1 + D(offset_bps) / 10_000).quantize(D("0.0001"))
    asks = [(str(touch + D(gap * i) / 10_000), str(qty)) for i, qty in enumerate(depth)]
    bids = [(str(touch - D(gap * (i + 1)) / 10_000), str(qty)) for i, qty in enumerate(depth)]
    tick = book(bids, asks)
    s = settings(**{**SCENE, "size_step": step, "min_size": step, "min_edge_bps": D(min_edge) / 2,
                    "cex_taker_fee_bps": D(fee_bps), "latency_haircut_bps": D(haircut) / 2})
    p = Pricer(s, MARKET, "SOL", "USDC")
    p.set_pool(POOL)
    fixed = D(7_000) / 10**9 * tick.mid
    for e, levels, buy_cex in zip(p.evaluate(tick, RICH), (tick.asks, tick.bids), (True, False), strict=True):
        assert adds_up(e)
        expected = reference(levels, buy_cex, s, fixed)
        assert (e.tradable, (e.size, e.net_pnl) if e.tradable else None) == (expected is not None, expected)
