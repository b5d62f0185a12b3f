"""The day's net after transfer costs is one figure on /pnl, /risk's daily loss, /chart pnl and the daily summary, and
every surface with a day says when its day began.

The fills and transfers are those of :mod:`tests.test_surfaces_agree`: a grid's USD day net of -0.43, an arb's
USDC day net of -1.02 (a SOL fee apart), and transfers: a USD withdrawal fee, a SOL network fee, one of yesterday.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from bot.domain import TransferStatus
from bot.ledger import EXACT_DIGITS, net_after_transfer_costs, totals
from bot.units import moneys
from tests.helpers.risk_kit import book, risk_check
from tests.test_surfaces_agree import BEFORE_MIDNIGHT, NOW, VIEWER, bot, moved  # noqa: F401 (bot: the fixture)

SOL_FEE = Decimal("0.00204428")
DAY_NS = 86_400 * 1_000_000_000


def _transfers(bot) -> None:  # noqa: F811 (the fixture's value)
    moved(bot, "t-wallet", "USDC", "0", str(SOL_FEE), "SOL", TransferStatus.CREDITED, NOW - 100_000_000_000)
    moved(bot, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, NOW - 50_000_000_000)
    moved(bot, "t-yesterday", "USDC", "1", "0", None, TransferStatus.CREDITED, BEFORE_MIDNIGHT)


def _day_net(bot) -> dict[str, Decimal]:  # noqa: F811
    op = bot.operator
    day = op.period_start_ns("day")
    return net_after_transfer_costs(totals(op.pnl(since_ns=day).values()).net, op.ledger().transfer_costs(since_ns=day))


async def test_risk_counts_the_days_transfer_costs_in_its_quote_and_names_what_it_cannot_price(bot):  # noqa: F811
    _transfers(bot)
    bot.bus.publish(book("150", exchange="w", symbol="SOL/USDC"))  # a SOL/USDC mid; none for SOL/USD
    day_net = _day_net(bot)
    assert day_net == {"SOL": -SOL_FEE, "USD": Decimal("-0.93"), "USDC": Decimal("-1.02")}
    limits = risk_check(bot, "limits")
    facts = limits.status()
    usage = limits.usage()
    # USD: the day's net after the USD withdrawal fee, as /pnl's net after transfer costs
    assert usage["max_daily_loss.USD"].used == -day_net["USD"] == Decimal("0.93")
    # USDC: the SOL network fee at the SOL/USDC mid the portfolio holds (150)
    with localcontext(prec=EXACT_DIGITS):
        assert usage["max_daily_loss.USDC"].used == Decimal("1.02") + SOL_FEE * 150
    assert facts["daily loss USDC"].startswith("1.33 / 1000.00 USDC")
    assert "transfer costs 0.31 USDC (0.00204428 SOL at 150.00 USDC)" in facts["daily loss USDC"]
    # no SOL/USD price: named, never silently dropped
    assert facts["daily loss USD"].startswith("0.93 / 1000.00 USD")
    assert "0.00204428 SOL not counted (no SOL/USD price)" in facts["daily loss USD"]
    # the day it counts: midnight in the bot's zone, as /pnl day
    assert facts["daily loss day"] == "since Wed 2026-11-18 00:00 Europe/Berlin"


async def test_chart_pnl_shows_the_net_after_transfer_costs_of_pnl(bot):  # noqa: F811
    from plugins.charts.command import chart_pnl
    from plugins.charts.settings import ChartsSettings

    _transfers(bot)
    pnl = await bot.commands.dispatch(VIEWER, "pnl", [])
    day_net = _day_net(bot)
    assert f"net after transfer costs: {moneys(day_net)}" in pnl.text
    chart = await chart_pnl(bot.operator, ChartsSettings(), ["day"])
    assert chart.image_png and f"net after transfer costs: {moneys(day_net)}" in chart.title
    assert "transfer costs: 0.00204428 SOL, 0.50 USD" in chart.title


async def test_the_daily_summary_gives_the_days_net_after_transfer_costs_as_pnl_day_showed_it(bot):  # noqa: F811
    from bot.builtins import daily_summary
    from tests.test_commands_more import alerts_of

    _transfers(bot)
    op = bot.operator
    day = op.period_start_ns("day")
    figures = op.pnl(since_ns=day)
    day_net = _day_net(bot)
    bot.clock.advance(DAY_NS / 1e9)  # the next day, at 13:00 Berlin: the summary is of the day that ended
    seen = alerts_of(bot)
    await daily_summary(op)
    [alert] = [a for a in seen if a.kind == "summary"]
    assert alert.message == "daily summary: Wed 2026-11-18 (since 00:00 Europe/Berlin): 3 fills (and 1 fee-only " \
                            "entry)"
    assert alert.fields["grid"] == f"realized -0.40 USD, fees 0.03 USD, net {moneys(figures['grid'].net)}"
    assert alert.fields["transfer costs"] == "0.00204428 SOL, 0.50 USD"
    assert alert.fields["net after transfer costs"] == moneys(day_net)


async def test_a_transfer_cost_alone_can_trip_the_daily_loss_and_counts_in_what_open_orders_may_lose(make_bot,
                                                                                                      monkeypatch):
    import plugins.limits.check as check
    from bot.clock import ManualClock
    from bot.domain import OrderStatus, Side
    from tests.helpers.risk_kit import intent, trips
    from tests.helpers.waiting import wait_for
    from tests.test_surfaces_agree import CONFIG, PLUGINS

    monkeypatch.setattr(check, "TRANSFER_COSTS_EVERY_S", 0.01)
    limited = await make_bot(CONFIG.replace('USD = "1000", USDC = "1000"', 'USD = "2", USDC = "1000"'), extra=PLUGINS,
                             clock=ManualClock(NOW))
    moved(limited, "t-cex", "USD", "1.5", "0", "USD", TransferStatus.SENT, NOW - 50_000_000_000)
    await wait_for(lambda: risk_check(limited, "limits").usage()["max_daily_loss.USD"].used == Decimal("1.5"),
                   what="the transfer cost read")
    # grid rests a buy of 1 at 100: with a sell of 1 at 99 the two could lose 2 USD (each bounded against the other),
    # 3.5 with the day's transfer cost: vetoed (without the cost, 2 is not past the limit of 2)
    ctx = limited.strategies["grid"].ctx
    assert ctx.submit(intent("grid", Side.BUY, "1", "100", "L1", symbol="BTC/USD", exchange="v")) == "L1"
    await wait_for(lambda: limited.executor.order("L1").status is OrderStatus.OPEN, what="L1 open")
    assert ctx.submit(intent("grid", Side.SELL, "1", "99", "L2", symbol="BTC/USD", exchange="v")) is None
    [veto] = [v for v in limited.store.risk_events(10) if v.action == "veto"]
    assert "could reach 3.5 USD (realized and transfer costs 1.5, open orders and this one up to 2)" in veto.reason
    moved(limited, "t-cex2", "USD", "1", "0", "USD", TransferStatus.SENT, NOW - 40_000_000_000)  # 2.5 USD today: past 2
    await wait_for(lambda: [t for t in trips(limited, "limits") if "daily" in t.reason], what="the daily loss trip")
    [trip] = [t for t in trips(limited, "limits") if "daily" in t.reason]
    assert "transfer_costs" in (trip.details or "") and "2.5" in (trip.details or "")


async def test_risk_and_pnl_day_each_say_when_their_day_began_with_a_reset_at_0800(make_bot):
    """With ``daily_reset_at = "08:00"`` the limits' day is not /pnl day's: a loss made at 06:00 is on /pnl day and
    not in /risk's daily loss, and each surface says when its day began."""
    from bot.clock import ManualClock
    from bot.domain import Side
    from tests.helpers.risk_kit import fill
    from tests.test_surfaces_agree import CONFIG, PLUGINS, order

    config = CONFIG.replace("[risk.limits]\n", '[risk.limits]\ndaily_reset_at = "08:00"\n')
    reset = await make_bot(config, extra=PLUGINS, clock=ManualClock(NOW))
    await order(reset, "grid", "A", Side.BUY, "1", "100", "BTC/USD", "v")
    await order(reset, "grid", "B", Side.SELL, "1", "99", "BTC/USD", "v")
    reset.bus.publish(fill("A", Side.BUY, "1", "100", "0", BEFORE_MIDNIGHT))
    reset.bus.publish(fill("B", Side.SELL, "1", "99", "0", NOW - 7 * 3600 * 1_000_000_000))  # 06:00 in Berlin
    await reset.executor.flush()
    pnl = await reset.commands.dispatch(VIEWER, "pnl", [])
    assert pnl.title == "PnL this day (since Wed 2026-11-18 00:00 Europe/Berlin)"
    assert pnl.text.startswith("total net: -1.00 USD")
    risk = await reset.commands.dispatch(VIEWER, "risk", [])
    facts = {row[1]: row[2] for row in risk.rows[1:]}
    assert facts["daily loss day"] == "since Wed 2026-11-18 08:00 Europe/Berlin"
    assert facts["daily loss USD"] == "0.00 / 1000.00 USD"
