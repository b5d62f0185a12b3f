"""Each cap on the size binds on its own, with hand-computed sizes and PnLs.

The scene (test_arb_pricing.test_size_maximises_net_pnl_across_book_levels): pool 10,000 SOL /
1,610,000 USDC (mid 161, fee 30 bps), asks 2 @ 160.00, 2 @ 160.20, 50 @ 160.40, bid 159.90;
uncapped, 4 SOL nets the most. Per size (SOL fees 0.00111965, haircut 2 bps of size x 160):

    k  DEX out     CEX cost  net          net bps of k x 160
    1  160.500998  160.00    0.30787835   19.24
    2  320.969998  320.00    0.58487835   18.28
    3  481.407011  480.20    0.62969135   13.12
    4  641.812045  640.40    0.64252535   10.04
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from bot.domain import MarketInfo
from plugins.arb.pricing import Direction
from tests.plugins.arb.test_arb_pricing_kit import RICH, D, adds_up, book, pool, pricer

TICK = book([("159.90", 50)], [("160.00", 2), ("160.20", 2), ("160.40", 50)])
SCENE = {"max_cex_slippage_bps": D(50), "min_edge_bps": D(5)}
NET = {1: D("0.30787835"), 2: D("0.58487835"), 3: D("0.62969135"), 4: D("0.64252535")}


def evaluate(inventory=RICH, **overrides):
    e = pricer(pool(10_000, 1_610_000), **{**SCENE, **overrides}).evaluate(TICK, inventory)[0]
    assert e.direction is Direction.BUY_CEX_SELL_DEX
    assert adds_up(e)
    return e


def test_uncapped():
    e = evaluate()
    assert (e.size, e.net_pnl, e.limited_by, e.tradable) == (4, NET[4], "", True)


def test_cex_depth_within_the_slippage_cap():
    # 10 bps above 160.00 is 160.16: only the first level (2 SOL) may be walked
    e = evaluate(max_cex_slippage_bps=D(10))
    assert (e.size, e.net_pnl, e.limited_by, e.tradable) == (2, NET[2], "cex depth", True)
    assert e.cex_limit_price == D("160.00")


def test_dex_impact_cap():
    # impact = k x 161 - out - fee (0.003 k SOL x 161), in bps of k x 161:
    #   3 SOL: 483 - 481.407011 - 1.449 = 0.143989 -> 2.98 bps; 4 SOL: 644 - 641.812045 - 1.932 = 0.255955 -> 3.97
    e = evaluate(max_dex_impact_bps=D("3.5"))
    assert (e.size, e.net_pnl, e.limited_by, e.tradable) == (3, NET[3], "dex impact", True)
    assert e.cost("dex impact") == D("0.143989")


def test_inventory_of_base_on_the_selling_venue():
    # the DEX wallet sells the SOL and pays 0.000007 SOL of fees: 2.5 SOL leave room for 2
    e = evaluate(replace(RICH, dex_base=D("2.5")))
    assert (e.size, e.net_pnl, e.limited_by, e.tradable) == (2, NET[2], "inventory", True)


def test_inventory_of_quote_on_the_buying_venue():
    # The venue holds what a limit buy may cost: its limit (the highest ask walked) x size, with the taker fee.
    # 3 SOL walk to 160.20: 480.60 x 1.001 = 481.0806 USDC (they cost 480.6802); 4 SOL 641.4408 > 500
    e = evaluate(replace(RICH, cex_quote=D(500)))
    assert (e.size, e.net_pnl, e.limited_by, e.tradable) == (3, NET[3], "inventory", True)
    # with exactly 481.0806 the 3 SOL fit; a millionth less and only 2 do, though 3 would cost less than that
    assert evaluate(replace(RICH, cex_quote=D("481.0806"))).size == 3
    assert evaluate(replace(RICH, cex_quote=D("481.080599"))).size == 2
    # 4 SOL cost 641.0404 but hold 641.4408: with 641.2 the venue would refuse them
    assert evaluate(replace(RICH, cex_quote=D("641.2"))).size == 3


def test_max_notional():
    # 480 USDC at the touch 160.00 is 3 SOL
    e = evaluate(max_notional=D(480))
    assert (e.size, e.net_pnl, e.limited_by, e.tradable) == (3, NET[3], "max notional", True)


def test_min_edge_keeps_the_size_where_the_edge_clears_it():
    # 4 SOL net 10.04 bps: above 10, below 11; then 3 SOL (13.12 bps) is the best size that clears
    assert evaluate(min_edge_bps=D(10)).size == 4
    e = evaluate(min_edge_bps=D(11))
    assert (e.size, e.net_pnl, e.limited_by, e.tradable) == (3, NET[3], "min edge", True)


def test_min_size_starts_the_ladder():
    # from 5 SOL up nothing clears 5 bps (5 SOL: 0.42319035 = 5.29 bps > 5; 6 SOL: 1.79 bps)
    e = evaluate(min_size=D(5))
    assert (e.size, e.net_pnl, e.tradable) == (5, D("0.42319035"), True)
    assert not evaluate(min_size=D(6)).tradable


def test_a_cap_below_the_smallest_size_prices_nothing():
    e = evaluate(max_notional=D(100))
    assert e.size == 0 and e.limited_by == "max notional" and not e.tradable
    assert e.reason == "gross edge 62.5 bps, but max_notional 100 USDC buys less than the smallest size 1 SOL at 160"
    e = evaluate(max_cex_slippage_bps=D(0), min_size=D(3))
    assert e.size == 0 and e.limited_by == "cex depth"
    assert e.reason == "gross edge 62.5 bps, but the CEX book has only 2 SOL within 0 bps of the touch, less than 3"


def test_the_cex_fee_comes_from_the_exchange_unless_set():
    import dataclasses

    from plugins.arb.pricing import Pricer
    from plugins.arb.settings import ArbSettings

    base = dict(cex="cex", dex="dex", symbol="SOL/USDC", max_notional=Decimal(1000), size_step=Decimal("0.1"),
                min_size=Decimal("0.1"))
    market = MarketInfo(symbol="SOL/USDC", base="SOL", quote="USDC", tick_size=Decimal("0.01"),
                        lot_size=Decimal("0.001"), taker_fee_bps=Decimal(26))
    assert Pricer(ArbSettings(**base), market, "SOL", "USDC").cex_fee_bps == 26
    assert Pricer(ArbSettings(**base, cex_taker_fee_bps=Decimal(7)), market, "SOL", "USDC").cex_fee_bps == 7
    unknown = dataclasses.replace(market, taker_fee_bps=None)
    with pytest.raises(ValueError, match="set cex_taker_fee_bps"):
        Pricer(ArbSettings(**base), unknown, "SOL", "USDC")


def test_a_cex_sell_is_never_sized_below_the_minimum_order_value_at_its_limit_price():
    """Selling on the CEX, the IOC's limit is the lowest bid walked, and the venue checks min_notional on limit x
    size: 1.0 SOL clears 150 USDC at the 150 touch, but walks to 149.90, where it is worth 149.90. The smallest size
    is the one worth min_notional at the lowest price the walk may reach (touch x (1 - max_cex_slippage_bps))."""
    from plugins.arb.pricing import Pricer
    from tests.plugins.arb.test_arb_pricing_kit import MARKET, settings

    market = replace(MARKET, min_notional=D(150))
    tick = book([("150", "0.1"), ("149.9", "10")], [("150.1", "10")])
    for max_notional in (D("147.5"), D(1000)):
        p = Pricer(settings(size_step=D("0.1"), min_size=D("0.1"), max_notional=max_notional), market, "SOL", "USDC")
        p.set_pool(pool(1000, 147_000))
        e = p.evaluate(tick, RICH)[1]
        assert e.direction is Direction.BUY_DEX_SELL_CEX and adds_up(e)
        assert e.size == 0 or e.size * e.cex_limit_price >= market.min_notional, (e.size, e.cex_limit_price)
    # 20 bps under the 150 touch is 149.70: 150 / 149.70 = 1.002 SOL, so 1.1 SOL at the least (1,000 USDC: the best)
    assert e.tradable and e.size >= D("1.1")
