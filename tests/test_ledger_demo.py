"""Acceptance: after the embedded default demo, every surface shows the same PnL for btc-grid and sol-arb.

The demo runs on simulated time (the backtest's clock and loop, the venues stepped at their configured
pace), then `arbot report`, `/pnl`, `/arb` and the `/chart pnl` title are asked while the bot still runs.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal, localcontext
from pathlib import Path

from bot.api import Caller
from bot.app import Bot
from bot.backtest.clock import BacktestClock, run_simulated
from bot.backtest.driver import SETTLE_S, START_NS, Progress, backtest_config, drive, stepped_venues
from bot.domain import Side
from bot.ledger import EXACT_DIGITS, Ledger
from bot.report import report_reply
from bot.units import money, signed_money
from tests.plugins.arb.arb_kit import arb_plugins

VIEWER = Caller("test", "viewer", "viewer")
STEPS = 3000  # BTC/USD and SOL/USDC every 100 ms, the pool every 200 ms: two minutes of market


async def demo(tmp_path: Path, clock: BacktestClock) -> dict:
    plugin_set, registry, config, plans = backtest_config(None, tmp_path, tmp_path / "demo.db",
                                                          extra_plugins=arb_plugins())
    bot = Bot(config, plugin_set, registry, clock=clock)
    await bot.start()
    bot.scheduler.stop()
    await asyncio.sleep(0)
    try:
        await drive(stepped_venues(bot, plans), clock, STEPS, Progress(STEPS, enabled=False))
        await asyncio.sleep(SETTLE_S)
        await bot.executor.settle(SETTLE_S)
        await bot.executor.flush()
        return {
            "report": report_reply(bot.store),  # what `arbot report` prints
            "pnl": await bot.commands.dispatch(VIEWER, "pnl", ["month"]),
            "arb": await bot.commands.dispatch(VIEWER, "arb", []),
            "chart": (await bot.commands.dispatch(VIEWER, "chart", ["pnl"])).title,
            "grid": bot.strategies["btc-grid"].status(),
            "grid orders": bot.store.orders(strategy="btc-grid"),
            "grid fills": [f for _, f in bot.store.fills(strategy="btc-grid")],
            "ledger": Ledger(bot.store).strategies(),
            "surfaces": read_surfaces(bot),
        }
    finally:
        await bot.stop()


def read_surfaces(bot: Bot) -> dict:
    """The figures the web console's API, the metrics, the fleet heartbeat and the backtest report give of the
    demo's fills (each read as its surface reads it, without its transport)."""
    from types import SimpleNamespace

    from bot.backtest.report import host_figures
    from plugins.metrics.exporter import MetricsExporter
    from plugins.web.api import _figures
    from tests.helpers.fleet_kit import link_heartbeat

    op = bot.operator
    exporter = SimpleNamespace(operator=op)
    MetricsExporter.refresh_from_store(exporter)
    host = host_figures(bot.store, bot.store.fills(), op.last_price, {}, {})
    return {"web": {name: _figures(fig) for name, fig in op.pnl().items()}, "metrics": exporter,
            "heartbeat": link_heartbeat(op, "demo"),
            "today": op.pnl(since_ns=op.period_start_ns("day")),
            "backtest": {s.name: s for s in host.strategies}}


def test_the_demo_shows_one_pnl_per_strategy_on_every_surface(tmp_path):
    clock = BacktestClock(START_NS)
    got = run_simulated(demo(tmp_path, clock), clock)
    ledger = got["ledger"]
    grid, arb = ledger["btc-grid"], ledger["sol-arb"]
    assert grid.round_trips >= 1 and arb.fills >= 2, "the demo traded too little to compare anything"
    figures = {"btc-grid": ("USD", grid), "sol-arb": ("USDC", arb)}
    report = {row[0]: row for row in got["report"].rows[1:]}
    pnl = {row[0]: row for row in got["pnl"].rows[1:]}
    for name, (quote, fig) in figures.items():
        realized, fees, net = (money(fig.realized[quote], quote), money(fig.fees[quote], quote),
                               money(fig.net[quote], quote))
        assert report[name][5:8] == (realized, fees, net), name
        assert pnl[name][2:5] == (realized, fees, net), name
        assert f"{money(fig.net[quote], quote)}" in got["chart"], name
    assert got["chart"] == ("Realized PnL since the first fill, after fees: "
                            f"{money(grid.net['USD'], 'USD')}, {money(arb.net['USDC'], 'USDC')}")
    total = got["arb"].text.splitlines()[0]
    assert total.startswith(f"sol-arb total: realized {money(arb.realized['USDC'], 'USDC')} - fees "
                            f"{money(arb.fees['USDC'], 'USDC')} = {signed_money(arb.net['USDC'], 'USDC')} after fees")
    assert "difference" not in total  # every execution hedged: the executions' own sum is the ledger's
    assert (got["grid"]["realized"], got["grid"]["fees"]) == (money(grid.realized["USD"], "USD"),
                                                              money(grid.fees["USD"], "USD"))
    # each of the grid's sells names its slot's buy (OrderIntent.closes): the grid's realized PnL is exactly
    # the sum of its round trips' steps, before fees, however many levels it holds at once
    orders = {o.client_order_id: o for o in got["grid orders"]}
    sells = [f for f in got["grid fills"] if f.side is Side.SELL]
    assert sells and all(orders[f.client_order_id].closes is not None for f in sells)
    steps = []
    for f in sells:
        buy = orders[orders[f.client_order_id].closes]
        assert buy.side is Side.BUY and buy.filled_qty >= f.qty and f.price > buy.avg_fill_price
        steps.append((f.price - buy.avg_fill_price) * f.qty)
    with localcontext(prec=EXACT_DIGITS):
        assert grid.realized["USD"] == sum(steps, Decimal(0)) > 0
    # the web console's API, the metrics, the fleet heartbeat and the backtest report: the same figures, exact
    seen = got["surfaces"]
    for name, (quote, fig) in figures.items():
        web, result = seen["web"][name], seen["backtest"][name]
        assert (web["fills"], web["realized"][quote], web["fees"][quote], web["net"][quote]) == (
            fig.fills, str(fig.realized[quote]), str(fig.fees[quote]), str(fig.net[quote])), name
        assert (result.fills, result.realized, result.fees, result.net) == (fig.fills, fig.realized, fig.fees,
                                                                            fig.net), name
        assert seen["metrics"].realized[(name, quote)] == float(fig.realized[quote]), name
        assert seen["metrics"].fees[(name, quote)] == float(fig.fees_paid[quote]), name
        today = seen["today"][name]
        assert seen["heartbeat"]["pnl_today"]["strategies"][name] == {
            "realized": {quote: str(today.realized[quote])}, "net": {quote: str(today.net[quote])}}, name
