"""One set of fills, every surface: /pnl, /status, /risk's daily loss, `arbot report`, the web console's API, the
metrics, /chart pnl, the fleet heartbeat and the backtest report show the ledger's figures, the same number
wherever one is shown twice.

The fills hold what made surfaces disagree before: a fee in a third asset (a DEX's SOL network fee on JUP/USDC), a
fee-only entry (a swap that landed failed), a partial fill, and a fill made before midnight that is reported after
it (after a later fill of the same market).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, localcontext
from types import SimpleNamespace

import pytest

from bot.api import Caller
from bot.clock import ManualClock
from bot.domain import OrderStatus, Side
from bot.ledger import EXACT_DIGITS, StrategyFigures, totals
from bot.report import fees_text, fills_text, report_reply
from bot.units import moneys
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.risk_kit import fill, intent, risk_check
from tests.helpers.risk_kit import plugin as kit_plugin
from tests.helpers.waiting import wait_for

VIEWER = Caller("test", "eye", "viewer")
PLUGINS = [("venue", venue_plugin), ("kit", kit_plugin)]
CONFIG = """
[scheduler]
timezone = "Europe/Berlin"
[exchanges.v]
type = "scripted"
[exchanges.w]
type = "scripted"
[strategies.grid]
type = "recorder"
[strategies.arb]
type = "recorder"
[risk.limits]
max_daily_loss = { USD = "1000", USDC = "1000" }
"""


def utc_ns(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp()) * 1_000_000_000


NOW = utc_ns(2026, 11, 18, 12, 0)  # 13:00 in Berlin; the day began at 23:00 UTC on the 17th
BEFORE_MIDNIGHT = utc_ns(2026, 11, 17, 22, 50)  # 23:50 in Berlin: yesterday's


async def order(bot, strategy: str, cid: str, side: Side, qty: str, price: str, symbol: str, exchange: str) -> None:
    ctx = bot.strategies[strategy].ctx
    assert ctx.submit(intent(strategy, side, qty, price, cid, symbol=symbol, exchange=exchange)) == cid
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.OPEN, what=f"{cid} open")


@pytest.fixture
async def bot(make_bot):
    bot = await make_bot(CONFIG, extra=PLUGINS, clock=ManualClock(NOW))
    # grid, BTC/USD on v: A bought 1 at 100 at 23:50 yesterday (Berlin), reported only after B's first part today.
    await order(bot, "grid", "A", Side.BUY, "1", "100", "BTC/USD", "v")
    await order(bot, "grid", "B", Side.SELL, "1", "99", "BTC/USD", "v")
    bot.bus.publish(fill("B", Side.SELL, "0.4", "99", "0.03", NOW - 3_600_000_000_000))  # a partial fill of B
    await bot.executor.flush()
    bot.bus.publish(fill("A", Side.BUY, "1", "100", "0.10", BEFORE_MIDNIGHT))  # the trade before midnight, late
    await bot.executor.flush()
    # arb, JUP/USDC on w: a buy whose fee is SOL (a third asset), a sell, and a swap that landed failed (fee only)
    await order(bot, "arb", "D", Side.BUY, "100", "0.75", "JUP/USDC", "w")
    await order(bot, "arb", "E", Side.SELL, "100", "0.74", "JUP/USDC", "w")
    await order(bot, "arb", "F", Side.SELL, "100", "0.74", "JUP/USDC", "w")
    bot.bus.publish(fill("D", Side.BUY, "100", "0.75", "0.000005", NOW - 600_000_000_000, "JUP/USDC", "w", "SOL"))
    bot.bus.publish(fill("E", Side.SELL, "100", "0.74", "0.02", NOW - 300_000_000_000, "JUP/USDC", "w"))
    bot.bus.publish(fill("F", Side.SELL, "0", "0.74", "0.000005", NOW - 200_000_000_000, "JUP/USDC", "w", "SOL"))
    await bot.executor.flush()
    return bot


def exact(amounts: dict[str, Decimal]) -> dict[str, str]:
    return {asset: str(value) for asset, value in sorted(amounts.items())}


async def test_today_every_surface_shows_the_ledgers_figures(bot):
    from bot.builtins import status as status_command
    from plugins.web.api import Endpoints, _figures
    from tests.helpers.fleet_kit import link_heartbeat

    op = bot.operator
    today = op.pnl(since_ns=op.period_start_ns("day"))
    grid, arb = today["grid"], today["arb"]
    # the ledger, by hand: B's 0.4 closes 0.4 of A's lot (made yesterday, matched first): (99 - 100) x 0.4 = -0.40
    assert (grid.fills, grid.realized, grid.fees, grid.net) == (1, {"USD": Decimal("-0.4")}, {"USD": Decimal("0.03")},
                                                                {"USD": Decimal("-0.43")})
    assert [m.position for m in grid.markets] == [Decimal("0.6")]
    assert (arb.fills, arb.fee_only, arb.realized, arb.fees, arb.other_fees) == (
        2, 1, {"USDC": Decimal("-1.00")}, {"USDC": Decimal("0.02")}, {"SOL": Decimal("0.00001")})
    total = totals(today.values())

    pnl = await bot.commands.dispatch(VIEWER, "pnl", [])
    rows = {row[0]: row[1:] for row in pnl.rows[1:]}
    for name, fig in today.items():
        assert rows[name] == (fills_text(fig), moneys(fig.realized, fig.quotes), fees_text(fig),
                              moneys(fig.net, fig.quotes), moneys(fig.unrealized, fig.quotes))
    assert rows["arb"][0] == "2 (+1 fee only)" and rows["arb"][2] == "0.02 USDC + 0.00001 SOL"
    assert pnl.data["totals"]["net"] == exact(total.net)
    assert pnl.data["totals"]["fees"] == exact(total.fees_paid) == {"SOL": "0.000010", "USD": "0.03", "USDC": "0.02"}

    status = await status_command(op, VIEWER, [])
    [(_, today_text)] = [row for row in status.rows if row[0] == "PnL today"]
    assert "grid realized -0.40 USD, fees 0.03 USD, net -0.43 USD" in today_text
    assert "arb realized -1.00 USDC, fees 0.02 USDC + 0.00001 SOL, net -1.02 USDC" in today_text
    assert status.data["totals"]["net today"] == exact(total.net)
    assert status.data["totals"]["net after transfer costs today"] == exact(total.net)
    assert status.data["summary"]["PnL today"] == moneys(total.net)
    assert "transfer costs today" not in dict(status.rows)

    # /risk: the limits' daily loss is the ledger's day net, to the last digit
    usage = risk_check(bot, "limits").usage()
    assert usage["max_daily_loss.USD"].used == -total.net["USD"]
    assert usage["max_daily_loss.USDC"].used == -total.net["USDC"]
    risk = await bot.commands.dispatch(VIEWER, "risk", [])
    facts = {row[1]: row[2] for row in risk.rows[1:]}
    assert facts["daily loss USD"].startswith("0.43 / ") and facts["daily loss USDC"].startswith("1.02 / ")

    # the web console
    assert _figures(grid)["net"] == exact(grid.net) and _figures(arb)["fee_only"] == 1
    web = Endpoints._summary(SimpleNamespace(op=op))
    assert web["pnl_today"]["net"] == web["pnl_today"]["net_after_transfer_costs"] == exact(total.net)

    # /chart pnl day: each curve ends at the day's net, its legend counts the day's fills
    from plugins.charts.command import pnl_title
    from plugins.charts.series import pnl_curves

    since = op.period_start_ns("day")
    curves = pnl_curves(op.ledger().steps(since_ns=since), since_ns=since)
    assert {c.asset: (c.total, c.fills) for c in curves} == {"USD": (total.net["USD"], grid.fills),
                                                             "USDC": (total.net["USDC"], arb.fills)}
    assert pnl_title("today", curves).endswith(f": {moneys(total.net)}")

    # the fleet heartbeat
    beat = link_heartbeat(op, "b")
    assert beat["pnl_today"]["net"] == exact(total.net) and beat["pnl_today"]["realized"] == exact(total.realized)
    assert beat["pnl_today"]["strategies"]["arb"] == {"realized": exact(arb.realized), "net": exact(arb.net)}


async def test_all_time_every_surface_shows_the_ledgers_figures(bot):
    from bot.backtest.report import host_figures
    from plugins.metrics.exporter import MetricsExporter

    op = bot.operator
    figures = op.pnl()
    grid, arb = figures["grid"], figures["arb"]
    # all time, A's fee is in too
    assert (grid.fills, grid.fees, grid.net) == (2, {"USD": Decimal("0.13")}, {"USD": Decimal("-0.53")})

    report = {row[0]: row[1:] for row in report_reply(bot.store).rows[1:]}
    for name, fig in figures.items():
        assert report[name][2:] == (fills_text(fig), str(fig.round_trips), moneys(fig.realized, fig.quotes),
                                    fees_text(fig), moneys(fig.net, fig.quotes))

    exporter = SimpleNamespace(operator=op)
    MetricsExporter.refresh_from_store(exporter)
    assert exporter.realized == {(s, a): float(v) for s, fig in figures.items() for a, v in fig.realized.items()}
    assert exporter.fees == {(s, a): float(v) for s, fig in figures.items() for a, v in fig.fees_paid.items()}

    host = host_figures(bot.store, bot.store.fills(), op.last_price, {"grid": "recorder", "arb": "recorder"}, {})
    by_name = {s.name: s for s in host.strategies}
    for name, fig in figures.items():
        result = by_name[name]
        assert (result.fills, result.fee_only, result.round_trips, result.realized, result.fees, result.other_fees,
                result.net) == (fig.fills, fig.fee_only, fig.round_trips, fig.realized, fig.fees, fig.other_fees,
                                fig.net)
    assert host.fills == totals(figures.values()).fills == 4
    assert sum(d.fills for d in host.days) == host.fills
    assert isinstance(grid, StrategyFigures) and arb.fee_only == 1
    with localcontext(prec=EXACT_DIGITS):
        assert host.fees == {"SOL": arb.other_fees["SOL"], "USD": grid.fees["USD"], "USDC": arb.fees["USDC"]}


def moved(bot, tid: str, asset: str, fee: str, network_fee: str, network_fee_asset: str | None, status, ts_ns: int):
    from bot.domain import Transfer

    bot.store.save_transfer(Transfer(tid, asset, Decimal(5), "w", "v", "addr", Decimal(fee), Decimal(network_fee),
                                     status, ts_ns, ts_ns, network_fee_asset=network_fee_asset))


async def test_what_moving_funds_cost_is_in_the_bots_net_on_every_surface_and_in_no_strategys(bot):
    from bot.domain import TransferStatus
    from bot.ledger import net_after_transfer_costs
    from plugins.web.api import Endpoints

    # a wallet's USDC transfer paid its network fee in SOL; a CEX's withdrawal fee is in the asset moved; a refused
    # withdrawal and one not sent yet cost nothing; one sent yesterday counts all time, not today
    moved(bot, "t-wallet", "USDC", "0", "0.00204428", "SOL", TransferStatus.CREDITED, NOW - 100_000_000_000)
    moved(bot, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, NOW - 50_000_000_000)
    moved(bot, "t-refused", "USD", "9", "0", "USD", TransferStatus.FAILED, NOW - 40_000_000_000)
    moved(bot, "t-intent", "USD", "7", "0", "USD", TransferStatus.PLANNED, NOW - 30_000_000_000)
    moved(bot, "t-yesterday", "USDC", "1", "0", None, TransferStatus.CREDITED, BEFORE_MIDNIGHT)
    op = bot.operator
    day = op.period_start_ns("day")
    costs_all = op.ledger().transfer_costs()
    assert costs_all == {"SOL": Decimal("0.00204428"), "USD": Decimal("0.5"), "USDC": Decimal(1)}
    assert op.ledger().transfer_costs(since_ns=day) == {"SOL": Decimal("0.00204428"), "USD": Decimal("0.5")}
    figures = op.pnl()
    total = totals(figures.values())
    net_all = net_after_transfer_costs(total.net, costs_all)
    assert net_all == {"SOL": Decimal("-0.00204428"), "USD": total.net["USD"] - Decimal("0.5"),
                       "USDC": total.net["USDC"] - 1}
    # the strategies' own figures are what their fills made: no transfer is attributed to a strategy
    assert figures["grid"].net == {"USD": Decimal("-0.53")} and figures["arb"].net == {"USDC": Decimal("-1.02")}

    report = report_reply(bot.store)
    assert (f"Transfer costs (the bot's, no strategy's): {moneys(costs_all)}; bot net after transfer costs: "
            f"{moneys(net_all)}") in report.text

    # /pnl month (yesterday is in it), /pnl and /pnl all (today; a fleet front sums each bot's totals)
    month = await bot.commands.dispatch(VIEWER, "pnl", ["month"])
    assert op.period_start_ns("month") < BEFORE_MIDNIGHT
    assert month.data["totals"]["transfer_costs"] == exact(costs_all)
    assert month.data["totals"]["net_after_transfer_costs"] == exact(net_all)
    assert f"transfer costs: {moneys(costs_all)}; net after transfer costs: {moneys(net_all)}" in month.text
    day_costs = {"SOL": Decimal("0.00204428"), "USD": Decimal("0.5")}
    day_net = net_after_transfer_costs(totals(op.pnl(since_ns=day).values()).net, day_costs)
    for args in ([], ["all"]):
        today = await bot.commands.dispatch(VIEWER, "pnl", args)
        assert today.data["totals"]["transfer_costs"] == exact(day_costs)
        assert today.data["totals"]["net_after_transfer_costs"] == exact(day_net)
        assert f"net after transfer costs: {moneys(day_net)}" in today.text

    async def shared(key, func, **kwargs):
        return func(**kwargs)

    endpoints = SimpleNamespace(op=op, _shared=shared, _curve=lambda since_ns: {})
    web = await Endpoints.pnl(endpoints, SimpleNamespace(query={"period": "all"}))
    assert web["transfer_costs"] == exact(costs_all) and web["net_after_transfer_costs"] == exact(net_all)
    assert web["total"]["net"] == exact(total.net)  # the strategies' net, as before

    # the day's bot-level net is the same figure on /status, /status all, the web overview and the fleet heartbeat:
    # the strategies' net is labelled as theirs, next to the bot's net after transfer costs
    from bot.builtins import status as status_command
    from tests.helpers.fleet_kit import link_heartbeat

    day_total = totals(op.pnl(since_ns=day).values())
    status = await status_command(op, VIEWER, [])
    assert status.data["summary"]["PnL today"] == moneys(day_net)
    assert status.data["totals"] == {"net today": exact(day_total.net), "transfer costs today": exact(day_costs),
                                     "net after transfer costs today": exact(day_net)}
    rows = dict(status.rows)
    assert rows["transfer costs today"] == (f"{moneys(day_costs)}; bot net after transfer costs: {moneys(day_net)} "
                                            "(transfers are the bot's, no strategy's)")
    overview = Endpoints._summary(SimpleNamespace(op=op))["pnl_today"]
    beat = link_heartbeat(op, "b")["pnl_today"]
    for pnl_today in (overview, beat):
        assert pnl_today["net"] == exact(day_total.net)
        assert pnl_today["transfer_costs"] == exact(day_costs)
        assert pnl_today["net_after_transfer_costs"] == exact(day_net)
