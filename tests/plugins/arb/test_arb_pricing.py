"""The arb pricer with hand-computed figures: thresholds, cost breakdowns, reasons, both directions.

Pool: 10,000 SOL against 1,610,000 USDC (mid 161) unless said otherwise, fee 30 bps taken from the
input. Default settings (test_arb_pricing_kit.settings): size step 1 SOL, CEX taker fee 10 bps,
latency haircut 2 bps, network fee 5,000 lamports, priority fee 10,000 micro-lamports x 200,000 CU
= 2,000 lamports; 7,000 lamports in all, valued at the CEX mid (SOL is the base).
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from arbotlib.amm.constant_product import ConstantProductPool
from arbotlib.amm.model import ConstantProductModel
from bot.domain import Side
from bot.pool import Pool
from bot.settings import parse_settings
from plugins.arb.pricing import Direction, Inventory, Pricer
from plugins.arb.settings import ArbSettings
from tests.plugins.arb.test_arb_pricing_kit import (
    MARKET,
    RICH,
    SOL_UNITS,
    USDC_UNITS,
    D,
    adds_up,
    book,
    buy_in_units,
    pool,
    pricer,
    sell_out_units,
    settings,
)

R_SOL, R_USDC = 10_000 * SOL_UNITS, 1_610_000 * USDC_UNITS
OUT_1 = sell_out_units(R_SOL, R_USDC, 30, SOL_UNITS)
# floor(1e9 * 9970 * 1.61e12 / (1e13 * 1e4 + 1e9 * 9970)) = 160,500,998 units = 160.500998 USDC for 1 SOL
assert OUT_1 == 160_500_998


def exact(value) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 90
        return +value


def check_adds_up(e):
    assert adds_up(e)


# --- buy on the CEX, sell into the pool --------------------------------------------------------

# At ask 160.00 (bid 159.90, CEX mid 159.95), 1 SOL:
#   DEX out 160.500998; CEX cost 160.00; CEX fee 0.1% = 0.16; haircut 2 bps x 160 = 0.032;
#   SOL fees 7,000 lamports x 159.95 / 1e9 = 0.00111965
#   net = 160.500998 - 160 - 0.16 - 0.032 - 0.00111965 = 0.30787835
#   net bps = 0.30787835 x 10,000 / 160 = 19.242396875
THRESHOLD_BUY_CEX = D("19.242396875")


def test_edge_exactly_at_the_threshold_does_not_trade():
    # max_notional 160 leaves one ladder size (1 SOL at 160): the edge is exactly min_edge_bps
    p = pricer(pool(10_000, 1_610_000), min_edge_bps=THRESHOLD_BUY_CEX, max_notional=D(160))
    e, _ = p.evaluate(book([("159.90", 50)], [("160.00", 5)]), RICH)
    assert e.direction is Direction.BUY_CEX_SELL_DEX
    assert e.size == 1
    assert e.net_pnl == D("0.30787835")
    assert e.net_bps == THRESHOLD_BUY_CEX
    assert not e.tradable
    assert "<= min 19.242396875 bps" in e.reason
    check_adds_up(e)


def test_one_tick_better_trades_with_the_expected_size_and_pnl():
    # ask 159.99 (CEX mid 159.945), 1 SOL: net = 160.500998 - 159.99 - 0.15999 - 0.031998 - 0.001119615
    #                                          = 0.317890385 (19.87 bps > 19.242396875)
    # 2 SOL (no max_notional now): out = 320.969998, cost 319.98, fee 0.31998, haircut 0.063996,
    #   net = 320.969998 - 319.98 - 0.31998 - 0.063996 - 0.001119615 = 0.604902385: 18.90 bps, below
    #   the threshold; larger sizes lose more to impact, so 1 SOL is the size
    assert sell_out_units(R_SOL, R_USDC, 30, 2 * SOL_UNITS) == 320_969_998
    p = pricer(pool(10_000, 1_610_000), min_edge_bps=THRESHOLD_BUY_CEX)
    e, _ = p.evaluate(book([("159.90", 50)], [("159.99", 5)]), RICH)
    assert e.tradable and e.reason == ""
    assert e.size == 1
    assert e.net_pnl == D("0.317890385")
    assert e.limited_by == "min edge"
    assert e.cex_side is Side.BUY and e.dex_side is Side.SELL
    assert e.cex_limit_price == D("159.99") and e.cex_avg_price == D("159.99")
    assert e.gross_pnl == D("161") - D("159.99")
    assert dict(e.costs) == {
        "cex fee": D("0.15999"), "cex slippage": D(0), "dex fee": D("0.483"),  # 0.003 SOL x 161
        "dex impact": D(161) - D("160.500998") - D("0.483"),
        "network fee": D("0.000799725"),  # 5,000 lamports x 159.945
        "priority fee": D("0.00031989"),  # 2,000 lamports x 159.945
        "latency haircut": D("0.031998"),
    }
    check_adds_up(e)
    # the DEX leg: minimum out = floor(160,500,998 x (1 - 10 bps)) units, written as an average price
    assert e.dex_limit_quote == D("160.340497")  # floor(160500998 * 9990 / 10000) = 160340497
    assert e.dex_limit_price * e.size <= e.dex_limit_quote
    assert e.dex.quote_qty == D("160.500998") and e.dex.side is Side.SELL


# --- buy out of the pool, sell on the CEX ------------------------------------------------------

# Pool 10,000 SOL / 1,600,000 USDC (mid 160). Buying 1 SOL costs
#   ceil(1.6e12 x 1e9 x 1e4 / ((1e13 - 1e9) x 9970)) = 160,497,495 units = 160.497495 USDC.
# At bid 161.20 (ask 161.30, CEX mid 161.25): proceeds 161.20, CEX fee 0.1612, haircut 2 bps of the
#   buy leg 1 x 160 = 0.032, SOL fees 7,000 x 161.25 / 1e9 = 0.00112875
#   net = 161.20 - 0.1612 - 160.497495 - 0.032 - 0.00112875 = 0.50817625
#   net bps = 0.50817625 x 10,000 / 160 = 31.761015625
THRESHOLD_BUY_DEX = D("31.761015625")


def test_buy_on_the_dex_at_the_threshold_and_one_tick_above():
    assert buy_in_units(10_000 * SOL_UNITS, 1_600_000 * USDC_UNITS, 30, SOL_UNITS) == 160_497_495
    p = pricer(pool(10_000, 1_600_000), min_edge_bps=THRESHOLD_BUY_DEX, max_notional=D(160))
    _, at = p.evaluate(book([("161.20", 5)], [("161.30", 5)]), RICH)
    assert at.direction is Direction.BUY_DEX_SELL_CEX and at.cex_side is Side.SELL and at.dex_side is Side.BUY
    assert at.size == 1 and at.net_pnl == D("0.50817625") and at.net_bps == THRESHOLD_BUY_DEX
    assert not at.tradable
    check_adds_up(at)
    # bid 161.21 (CEX mid 161.255): net = 161.21 - 0.16121 - 160.497495 - 0.032 - 0.001128785 = 0.518166215
    _, above = p.evaluate(book([("161.21", 5)], [("161.30", 5)]), RICH)
    assert above.tradable and above.size == 1 and above.net_pnl == D("0.518166215")
    assert above.limited_by == "max notional"
    assert above.gross_pnl == D("1.21")  # 161.21 - 160
    assert above.cost("dex fee") == D("0.481493")  # ceil(160,497,495 x 30 / 10,000) = 481,493 units
    # the DEX leg: maximum in = ceil(160,497,495 x (1 + 10 bps)) = 160,657,993 units (rounded up)
    assert above.dex_limit_quote == D("160.657993")
    assert above.dex_limit_price * above.size >= above.dex_limit_quote
    check_adds_up(above)


# --- costs that kill an edge --------------------------------------------------------------------


def test_fees_turn_a_positive_gross_edge_negative():
    # ask 160.80 against mid 161: gross 0.20 per SOL (12.4 bps). 1 SOL (bid 160.70, CEX mid 160.75):
    #   net = 160.500998 - 160.80 - CEX fee 0.1608 - haircut 0.03216 - SOL fees 7,000 x 160.75e-9 (0.00112525)
    #       = -0.49308725
    # the pool pays at most 161 x 0.997 = 160.517 per SOL, below 160.80 x 1.001: no size can do better
    p = pricer(pool(10_000, 1_610_000))
    e, _ = p.evaluate(book([("160.70", 5)], [("160.80", 5)]), RICH)
    assert e.gross_pnl == D("0.20") and e.gross_pnl > 0
    assert e.net_pnl == D("-0.49308725")
    assert not e.tradable and e.size == 1
    # dex fee (0.483 = 30.0 bps) and cex fee (0.1608 = 10.0 bps) are named first, largest first
    assert e.reason.startswith("at 1 SOL: gross edge 12.4 bps less costs 43.1 bps (dex fee 30.0, cex fee 10.0")
    assert "net -30.7 bps <= min 10 bps" in e.reason
    check_adds_up(e)


def test_the_priority_fee_alone_turns_an_edge_negative():
    # no CEX fee, a 1 bps pool, no haircut; ask 160.60 vs mid 161 is a 0.40 per SOL edge. A priority
    # fee of 200,000,000 micro-lamports x 200,000 CU = 40,000,000 lamports = 0.04 SOL, at the CEX mid
    # 160.55 (bid 160.50): 6.422 USDC, more than any size nets before it. The best size is 12 SOL
    # (impact grows ~0.016 per SOL per SOL): 6.422 / (12 x 160.60) = 33.3 bps of the buy leg
    p = pricer(pool(10_000, 1_610_000, fee_bps=1), cex_taker_fee_bps=D(0), latency_haircut_bps=D(0),
               min_edge_bps=D(0), compute_unit_price_micro_lamports=200_000_000)
    e, _ = p.evaluate(book([("160.50", 50)], [("160.60", 50)]), RICH)
    assert e.cost("priority fee") == D("0.04") * D("160.55") == D("6.422")
    assert e.gross_pnl > 0 and e.net_pnl < 0 and not e.tradable
    assert e.size == 12  # the size nearest to paying for the fixed fee: the one netting the most
    assert "less costs 46.3 bps (priority fee 33.3, dex impact 12.0, dex fee 1.0" in e.reason  # largest first
    assert e.reason.endswith("the priority fee alone turns it")
    assert e.net_pnl + e.cost("priority fee") > 0
    check_adds_up(e)


# --- sizing -----------------------------------------------------------------------------------


def test_size_maximises_net_pnl_across_book_levels():
    # asks 2 @ 160.00, 2 @ 160.20, 50 @ 160.40 (all within 50 bps of the touch); bid 159.90 (mid 159.95)
    # SOL fees 0.00111965 at every size; haircut 2 bps of size x 160.00
    #   k  DEX out     CEX cost                  net = out - cost x 1.001 - k x 0.032 - 0.00111965
    #   3  481.407011  320 + 160.20 = 480.20     481.407011 - 480.6802 - 0.096 - 0.00111965 = 0.62969135
    #   4  641.812045  640.40                    641.812045 - 641.0404 - 0.128 - 0.00111965 = 0.64252535
    #   5  802.185110  640.40 + 160.40 = 800.80  802.185110 - 801.6008 - 0.160 - 0.00111965 = 0.42319035
    # net is concave in the size: 4 SOL is the most, and clears 5 bps (10.04 bps)
    assert [sell_out_units(R_SOL, R_USDC, 30, k * SOL_UNITS) for k in (3, 4, 5)] == [
        481_407_011, 641_812_045, 802_185_110]
    p = pricer(pool(10_000, 1_610_000), max_cex_slippage_bps=D(50), min_edge_bps=D(5))
    e, other = p.evaluate(book([("159.90", 50)], [("160.00", 2), ("160.20", 2), ("160.40", 50)]), RICH)
    assert e.tradable and e.size == 4 and e.net_pnl == D("0.64252535") and e.limited_by == ""
    assert e.cex_limit_price == D("160.20")  # the worst level walked: the IOC limit
    assert e.cex_avg_price == D("160.1")     # 640.40 / 4
    assert e.cost("cex slippage") == D("0.40")  # 640.40 - 4 x 160
    assert e.notional == D("640.00")
    # min-out: floor(641,812,045 x 0.999) = 641,170,232 units; / 4 SOL = 160.292558
    assert e.dex_limit_quote == D("641.170232") and e.dex_limit_price == D("160.292558")
    check_adds_up(e)
    assert not other.tradable and other.size == 0 and other.reason.startswith("no edge: CEX bid 159.9 <= pool mid")
    assert p.best(book([("159.90", 50)], [("160.00", 2), ("160.20", 2), ("160.40", 50)]), RICH) == e


# --- what the pricer refuses ----------------------------------------------------------------------


def test_a_size_step_off_the_lot_grid_names_the_setting():
    with pytest.raises(ValueError, match=r"size_step: 0\.015 SOL is not a multiple of the lot size 0\.01"):
        Pricer(settings(size_step=D("0.015")), MARKET, "SOL", "USDC")


def test_a_size_step_finer_than_the_token_names_the_setting():
    fine_market = MARKET.__class__("SOL/USDC", "SOL", "USDC", D("0.01"), D("1E-12"))
    p = Pricer(settings(size_step=D("1E-10")), fine_market, "SOL", "USDC")
    with pytest.raises(ValueError, match="size_step: .* finer than the token's 9 decimals"):
        p.set_pool(pool(10_000, 1_610_000))


def test_a_pair_without_sol_needs_a_sol_price():
    s = settings(symbol="ETH/USDC")
    assert s.validate() == [("sol_price", ("is required for ETH/USDC: network fees are paid in SOL and neither ETH "
                                          "nor USDC is SOL; set sol_price = <USDC per SOL>"))]
    with pytest.raises(ValueError, match="sol_price: required"):
        Pricer(s, MARKET, "ETH", "USDC")


def test_sol_fees_use_the_configured_sol_price_when_sol_is_not_in_the_pair():
    eth = ConstantProductModel(ConstantProductPool(1_000 * 10**8, 3_000_000 * USDC_UNITS, 30), "ETH", "USDC", 8, 6)
    p = Pricer(settings(symbol="ETH/USDC", sol_price=D(100)), MARKET, "ETH", "USDC")
    p.set_pool(eth)
    e, _ = p.evaluate(book([("2900", 5)], [("2950", 5)]), RICH)
    assert e.cost("network fee") == D("0.0005")   # 5,000 lamports x 100 USDC per SOL
    assert e.cost("priority fee") == D("0.0002")  # 2,000 lamports x 100
    check_adds_up(e)
    with pytest.raises(ValueError, match="the pool is SOL/USDC, the strategy trades ETH/USDC"):
        p.set_pool(pool(10_000, 1_610_000))


def test_without_a_pool_or_a_book_side_nothing_is_priced():
    p = Pricer(settings(), MARKET, "SOL", "USDC")
    a, b = p.evaluate(book([("160", 1)], [("161", 1)]), RICH)
    assert a.size == b.size == 0 and a.reason == b.reason == "no pool state yet"
    p.set_pool(pool(10_000, 1_610_000))
    a, b = p.evaluate(book(bids=[("160", 1)]), RICH)
    assert a.reason == "the cex book has no asks" and not a.tradable
    assert b.reason.startswith("no edge")


def test_a_cap_leaving_no_size_says_which():
    p = pricer(pool(10_000, 1_610_000))
    poor = Inventory(cex_base=D(0), cex_quote=D(10_000), dex_base=D("0.5"), dex_quote=D(0))
    e, _ = p.evaluate(book([("159.90", 50)], [("160.00", 5)]), poor)
    assert e.size == 0 and not e.tradable and e.limited_by == "inventory"
    assert e.reason == ("gross edge 62.5 bps, but the DEX wallet has 0.5 SOL free; the smallest size is 1 "
                        "plus 0.000007 SOL of fees")


# --- the hot path: pool quotes are made once per size and pool state -------------------------------


class CountingPool(Pool):
    """Delegates to a model and counts the quotes asked of it."""

    def __init__(self, inner: Pool):
        self.inner, self.calls = inner, 0
        self.base, self.quote = inner.base, inner.quote
        self.base_decimals, self.quote_decimals = inner.base_decimals, inner.quote_decimals

    def mid(self):
        return self.inner.mid()

    @property
    def fee_bps(self):
        return self.inner.fee_bps

    def sell_units(self, base_units):
        self.calls += 1
        return self.inner.sell_units(base_units)

    def buy_units(self, base_units):
        self.calls += 1
        return self.inner.buy_units(base_units)


def test_pool_quotes_are_cached_per_pool_state():
    counting = CountingPool(pool(10_000, 1_610_000))
    p = pricer(counting, max_cex_slippage_bps=D(50), min_edge_bps=D(5))
    tick = book([("159.90", 50)], [("160.00", 2), ("160.20", 2), ("160.40", 50)])
    first = p.evaluate(tick, RICH)[0]
    # the smallest size (1 SOL) clears min_edge_bps: tradable, decided on one quote; the best size is searched
    # when the figures are read
    assert first.tradable and counting.calls == 1
    assert first.size == 4
    made = counting.calls
    # bisection on the slope over sizes 1..625 (max_notional): 313, 157 and 79 SOL are deeper than the
    # 54 SOL within the slippage cap (no quote); 40 SOL moves the pool 40 bps > 30 (quoted, too much);
    # then slopes at 20/19, 10/9, 5/4 (down), 3/2 and 4/3 (up): 4 SOL, and 5 is known. 10 quotes, not 54
    assert made == 10
    assert p.evaluate(tick, RICH)[0] == first and counting.calls == made  # unchanged pool: no quote
    # a new state is quoted afresh, from the last best size (4 SOL): the smallest size (1), then the
    # slopes at 4/3 (up) and 5/4 (down) settle it: 4 quotes
    p.set_pool(CountingPool(pool(10_000, 1_610_000)))
    assert p.evaluate(tick, RICH)[0].net_pnl == first.net_pnl and p.pool.calls == 4


def test_a_tick_without_a_marginal_edge_quotes_one_size_when_read():
    # ask 160.80: 161 x 0.997 < 160.80 x 1.001 at the touch already, so only the smallest size is priced, and
    # only when the evaluation's figures are read: the decision (not tradable, an edge) needs no quote
    counting = CountingPool(pool(10_000, 1_610_000))
    p = pricer(counting)
    e, _ = p.evaluate(book([("160.70", 5)], [("160.80", 5)]), RICH)
    assert not e.tradable and e.edge and counting.calls == 0
    assert e.size == 1 and counting.calls == 1


def test_sol_for_the_fees_is_checked_on_the_dex_wallet():
    # buying SOL out of the pool still pays the swap's 7,000 lamports from SOL already in the wallet
    p = pricer(pool(10_000, 1_600_000))
    no_sol = Inventory(cex_base=D(10), cex_quote=D(0), dex_base=D("0.000006"), dex_quote=D(10_000))
    _, e = p.evaluate(book([("161.20", 5)], [("161.30", 5)]), no_sol)
    assert e.size == 0 and e.limited_by == "inventory"
    assert e.reason == ("gross edge 75.0 bps, but the DEX wallet has 0.000006 SOL free; the network and priority "
                        "fees need 0.000007")


def test_the_settings_table_reports_bad_keys_by_name():
    issues = []
    table = {"cex": "kraken", "dex": "kraken", "symbol": "ETH/USDC", "max_notional": "100", "size_step": "0.1",
             "min_edge_bps": "-1"}
    assert parse_settings(ArbSettings, table, "strategies.arb", issues) is None
    assert [i.path for i in issues] == ["strategies.arb.min_edge_bps"]
    issues.clear()
    del table["min_edge_bps"]
    assert parse_settings(ArbSettings, table, "strategies.arb", issues) is None
    assert [(i.path, i.problem.split(":")[0]) for i in issues] == [
        ("strategies.arb.sol_price", "is required for ETH/USDC"),
        ("strategies.arb.dex", "is the same exchange as cex ('kraken'); arbitrage needs two venues")]
    issues.clear()
    table.update(dex="jupiter", sol_price="150")
    s = parse_settings(ArbSettings, table, "strategies.arb", issues)
    assert issues == [] and s.sol_price == D(150) and s.min_edge_bps == D(10)


def test_an_empty_pool_prices_nothing():
    p = Pricer(settings(), MARKET, "SOL", "USDC")
    empty = ConstantProductModel(ConstantProductPool(0, 0, 30), "SOL", "USDC", 9, 6)
    p.set_pool(empty)
    a, b = p.evaluate(book([("160", 1)], [("161", 1)]), RICH)
    assert a.size == b.size == 0 and not a.tradable and not b.tradable
    assert a.reason == "the pool cannot be priced: the SOL/USDC pool is empty"
    p.set_pool(pool(10_000, 1_610_000))  # the next state prices again
    assert p.mid == 161 and p.evaluate(book([("160", 1)], [("161", 1)]), RICH)[1].reason.startswith("no edge")
