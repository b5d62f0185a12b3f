"""The charts' values and pictures from hand-made fills and prices: no bot, no transport."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import BookUpdate, Fill, Liquidity, Side
from bot.ledger import steps
from plugins.charts.history import PriceHistory
from plugins.charts.render import Size, pnl_png, price_png
from plugins.charts.series import market_fills, pnl_curves
from tests.fakes.telegram_api import png_size

D = Decimal
S = 1_000_000_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fill(n: int, side: Side, price: str, qty: str = "1", fee: str = "0", fee_asset: str = "USD",
         symbol: str = "BTC/USD", ts_s: int | None = None) -> Fill:
    return Fill("paper", symbol, f"o{n}", f"t{n}", side, D(price), D(qty), D(fee), fee_asset, Liquidity.MAKER,
                (ts_s if ts_s is not None else n) * S)


def curves(fills, since_ns=None):
    return pnl_curves((s for s in steps(fills) if since_ns is None or s.fill.ts_ns >= since_ns), since_ns)


def test_the_curve_is_the_ledgers_fifo_pnl_net_of_fees():
    fills = [("g", fill(1, Side.BUY, "100", fee="1")),
             ("g", fill(2, Side.BUY, "120", fee="1")),
             ("g", fill(3, Side.SELL, "130", fee="1")),     # closes the lot bought at 100: +30
             ("g", fill(4, Side.SELL, "100", fee="1"))]     # closes the lot bought at 120: -20
    [curve] = curves(fills)
    assert curve.asset == "USD" and curve.fills == 4
    assert curve.points == [(1 * S, D(-1)), (2 * S, D(-2)), (3 * S, D(27)), (4 * S, D(6))]
    assert curve.total == D(6)


def test_fills_before_the_period_only_open_lots():
    fills = [("g", fill(1, Side.BUY, "100")), ("g", fill(2, Side.BUY, "200")),
             ("g", fill(3, Side.SELL, "160")), ("h", fill(4, Side.SELL, "50", qty="2", symbol="ETH/EUR"))]
    got = curves(fills, since_ns=3 * S)
    usd = next(c for c in got if c.asset == "USD")
    assert usd.points == [(3 * S, D(0)), (3 * S, D(60))]  # sold at 160 the lot bought at 100
    eur = next(c for c in got if c.asset == "EUR")  # a short opened: nothing realized yet
    assert eur.points == [(3 * S, D(0))] and eur.total == 0 and eur.fills == 1
    assert curves(fills, since_ns=10 * S) == []


def test_a_base_asset_fee_counts_at_the_fill_price():
    [curve] = curves([("g", fill(1, Side.BUY, "100", fee="0.001", fee_asset="BTC")),
                      ("g", fill(2, Side.SELL, "101", fee="0.001", fee_asset="BTC"))])
    assert curve.points == [(1 * S, D("-0.1")), (2 * S, D("0.799"))]


def test_market_fills_pick_one_symbol_from_a_time_on():
    fills = [("g", fill(1, Side.BUY, "100")), ("g", fill(2, Side.BUY, "9", symbol="ETH/USD")),
             ("g", fill(3, Side.SELL, "110"))]
    assert [f.trade_id for f in market_fills(fills, "BTC/USD")] == ["t1", "t3"]
    assert [f.trade_id for f in market_fills(fills, "BTC/USD", since_ns=2 * S)] == ["t3"]


def book(ts_s: float, bid: str, ask: str, symbol: str = "BTC/USD") -> BookUpdate:
    return BookUpdate("paper", symbol, ((D(bid), D(1)),), ((D(ask), D(1)),), int(ts_s * S))


def test_price_history_samples_mid_prices_and_forgets_the_oldest():
    history = PriceHistory(sample_every_s=1.0, keep_points=3)
    for ts, bid in [(0, "99"), (0.5, "1"), (1.0, "101"), (2.5, "103"), (3.0, "1"), (3.5, "105")]:
        history.on_book(book(ts, bid, str(D(bid) + 2)))
    history.on_book(BookUpdate("paper", "BTC/USD", (), ((D(1), D(1)),), 9 * S))  # one-sided: no mid
    assert history.prices("paper", "BTC/USD") == [(1 * S, D(102)), (int(2.5 * S), D(104)), (int(3.5 * S), D(106))]
    assert history.markets() == [("paper", "BTC/USD")] and history.prices("paper", "ETH/USD") == []


def assert_real_png(png: bytes, size: Size) -> None:
    assert png[:8] == PNG_SIGNATURE
    assert png_size(png) == (size.width_px, size.height_px)
    assert len(png) > 10_000  # axes, a curve, labels: not a blank canvas


def test_pnl_and_price_charts_are_pngs_of_the_configured_size():
    size = Size(800, 500)
    fills = [("g", fill(n, Side.BUY if n % 2 else Side.SELL, str(100 + n), ts_s=1_700_000_000 + 60 * n))
             for n in range(1, 20)]
    assert_real_png(pnl_png(curves(fills), "Realized PnL", size), size)
    prices = {"paper": [(1_700_000_000 * S + 60 * n * S, D(100 + n % 7)) for n in range(30)]}
    png = price_png(prices, [D(100), D(103), D(106)], [f for _, f in fills[:5]], "BTC/USD", size)
    assert_real_png(png, size)


def test_a_fee_only_entry_is_a_cost_on_the_curve_and_not_one_of_its_fills():
    """A swap that landed failed (a fill of no quantity, its network fee): /pnl counts it apart from the fills, so the
    curve's legend ("USD (2 fills)") and the price chart's fill markers do too; its fee is on the curve."""
    from bot.ledger import strategy_figures

    fills = [("g", fill(1, Side.BUY, "100", fee="1")),
             ("g", fill(2, Side.SELL, "100", qty="0", fee="0.5")),  # the fee alone
             ("g", fill(3, Side.SELL, "110", fee="1"))]
    figures = strategy_figures(fills)["g"]
    [curve] = curves(fills)
    assert (curve.fills, figures.fills, figures.fee_only) == (2, 2, 1)
    assert curve.total == figures.net["USD"] == D("7.5")
    assert [f.trade_id for f in market_fills(fills, "BTC/USD")] == ["t1", "t3"]
