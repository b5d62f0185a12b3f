"""limits in a running bot: loss limits to the cent, the daily reset, drawdown, rate and notional caps, actions."""

from __future__ import annotations

import datetime as dt
import json
import logging
import zoneinfo
from dataclasses import replace
from decimal import Decimal

import pytest

from arbotlib.amm.constant_product import ConstantProductPool
from arbotlib.amm.model import ConstantProductModel
from bot.api import LimitUse
from bot.clock import ManualClock
from bot.domain import OrderStatus, PoolUpdate, Side
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.risk_kit import Alerts, book, fill, intent, risk_check, trips
from tests.helpers.risk_kit import plugin as kit_plugin
from tests.helpers.waiting import wait_for

PLUGINS = [("venue", venue_plugin), ("kit", kit_plugin)]
BASE = """
[executor]
backoff_initial_s = 0.01
request_timeout_s = 0.5
[exchanges.v]
type = "scripted"
[strategies.s]
type = "recorder"
[strategies.t]
type = "recorder"
[notifiers.rec]
type = "alerts"
"""


async def start(make_bot, limits: str, clock=None):
    Alerts.sent.clear()
    ScriptedVenue.instances.clear()
    return await make_bot(BASE + "[risk.limits]\n" + limits, extra=PLUGINS, clock=clock or ManualClock())


def round_trip(lim, strategy: str, buy: str, sell: str, fee: str = "0", qty: str = "1") -> None:
    now = lim.ctx.clock.time_ns()  # made now: today's
    lim.on_fill(strategy, fill("x", Side.BUY, qty, buy, ts_ns=now))
    lim.on_fill(strategy, fill("x", Side.SELL, qty, sell, fee=fee, ts_ns=now))


async def test_daily_loss_trips_one_cent_past_the_limit_not_at_it(make_bot):
    bot = await start(make_bot, 'max_daily_loss = "10.00"\n')
    lim = risk_check(bot, "limits")
    round_trip(lim, "s", "100", "90.00")  # a loss of exactly 10.00: at the limit
    assert not trips(bot) and not bot.strategies["s"].paused
    round_trip(lim, "s", "100", "100", fee="0.01")  # one cent more, as a fee
    [trip] = trips(bot)
    assert (trip.check_name, trip.action, trip.reason) == ("limits", "pause", "daily realized loss limit exceeded")
    figures = json.loads(trip.details)
    assert figures["loss"] == "10.01" and figures["limit"] == "10.00" and figures["quote"] == "USD"
    assert bot.strategies["s"].paused and bot.strategies["t"].paused
    assert bot.strategy_state("s") == "paused by risk limits"
    assert bot.strategies["s"].ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None  # paused: nothing placed
    round_trip(lim, "s", "100", "99")  # further losses the same day do not trip again
    assert len(trips(bot)) == 1
    await wait_for(lambda: any(a.kind == "risk" for a in Alerts.sent))
    alert = next(a for a in Alerts.sent if a.kind == "risk")
    assert alert.message == "limits: daily realized loss limit exceeded; action: pause"
    assert alert.fields["loss"] == "10.01"


async def test_the_gate_vetoes_an_order_that_could_lose_one_cent_past_the_limit(make_bot):
    bot = await start(make_bot, 'max_daily_loss = "10.00"\n')
    lim = risk_check(bot, "limits")
    lim.on_fill("s", fill("x", Side.BUY, "1", "100"))  # long 1 at 100
    ctx = bot.strategies["s"].ctx
    assert ctx.submit(intent("s", Side.SELL, "1", "90.00", "at-limit")) == "at-limit"
    await wait_for(lambda: bot.executor.order("at-limit").status is OrderStatus.OPEN)
    ctx.cancel("at-limit")
    await wait_for(lambda: bot.executor.order("at-limit").status is OrderStatus.CANCELLED)
    assert ctx.submit(intent("s", Side.SELL, "1", "89.99")) is None
    [veto] = bot.store.risk_events(1)
    assert veto.action == "veto" and "could reach 10.01 USD" in veto.reason


async def test_after_a_daily_loss_breach_an_order_that_only_reduces_the_position_still_goes(make_bot):
    """A breach paused every strategy and left the day's loss past its limit; a trader must still be able to close
    what is held: an order that only brings the position nearer to zero (not past it) passes the pause when marked
    reduce_only, and passes the loss limit whatever it is marked, at a gain or at a loss. One that opens or adds
    exposure stays vetoed."""
    bot = await start(make_bot, 'max_daily_loss = "10"\n')
    ctx = bot.strategies["s"].ctx
    for strategy, cid, side, fee in (("s", "b-1", Side.BUY, "0"), ("t", "b-2", Side.BUY, "0"),
                                     ("t", "s-2", Side.SELL, "11")):  # s holds 1 BTC; t's round trip lost 11
        assert bot.strategies[strategy].ctx.submit(intent(strategy, side, "1", "100", cid)) == cid
        await wait_for(lambda cid=cid: bot.executor.order(cid).status is OrderStatus.OPEN)
        bot.bus.publish(fill(cid, side, "1", "100", fee=fee))
        bot.strategies[strategy].ctx.cancel(cid)  # the venue's updates are not scripted: what stays open is cancelled
        # (filled whole by its fill, the order ends FILLED whatever the cancel's answer says: bot.execution)
        await wait_for(lambda cid=cid: bot.executor.order(cid).status.terminal)
    [trip] = trips(bot)
    assert trip.reason == "daily realized loss limit exceeded" and bot.strategies["s"].paused
    assert bot.portfolio.position("v", "BTC/USD") == 1
    # the gate alone (the pause aside): reducing passes at a gain or a loss, adding is vetoed
    assert bot.risk.check(intent("s", Side.SELL, "1", "110")) is None
    assert bot.risk.check(intent("s", Side.SELL, "0.5", "50")) is None
    veto = bot.risk.check(intent("s", Side.BUY, "0.5", "90"))
    assert veto is not None and "day's loss could reach" in veto.reason
    veto = bot.risk.check(intent("s", Side.SELL, "1.01", "110"))  # past zero: opens a short
    assert veto is not None and "day's loss could reach" in veto.reason
    # through the pause: only marked reduce_only, and only reducing
    assert ctx.submit(intent("s", Side.SELL, "1", "110")) is None  # not marked: the pause holds it
    assert ctx.submit(replace(intent("s", Side.BUY, "0.5", "90"), reduce_only=True)) is None
    assert ctx.submit(replace(intent("s", Side.SELL, "1.01", "110"), reduce_only=True)) is None
    close = replace(intent("s", Side.SELL, "1", "110", "close"), reduce_only=True)
    assert ctx.submit(close) == "close"  # a profitable close
    await wait_for(lambda: bot.executor.order("close").status is OrderStatus.OPEN)
    # the close in flight counts as filled: another sell would cross zero
    assert ctx.submit(replace(intent("s", Side.SELL, "0.5", "110"), reduce_only=True)) is None
    assert len(trips(bot)) == 1


async def test_a_sell_naming_its_buy_is_matched_to_that_lot_as_the_ledger_does(make_bot):
    bot = await start(make_bot, 'max_daily_loss = "20.00"\n')
    lim = risk_check(bot, "limits")
    lim.on_fill("s", fill("b1", Side.BUY, "1", "100"))
    lim.on_fill("s", fill("b2", Side.BUY, "1", "120"))
    sell = replace(intent("s", Side.SELL, "1", "110", "s2"), closes="b2")
    assert bot.strategies["s"].ctx.submit(sell) == "s2"
    lim.on_fill("s", fill("s2", Side.SELL, "1", "110"))
    assert lim.status()["daily loss USD"] == "10.00 / 20.00 USD"  # 110 - 120 on b2's lot; FIFO would gain 10
    # the same, as numbers, with the start of the day it counts
    assert lim.usage()["max_daily_loss.USD"] == LimitUse(Decimal("10"), Decimal("20"), "USD", lim._day_start_ns)
    assert bot.operator.risk()[0].usage["max_daily_loss.USD"].used == 10


async def test_a_resting_order_counts_against_the_loss_limit(make_bot):
    bot = await start(make_bot, 'max_daily_loss = "10"\n')
    risk_check(bot, "limits").on_fill("s", fill("x", Side.BUY, "2", "100"))
    ctx = bot.strategies["s"].ctx
    assert ctx.submit(intent("s", Side.SELL, "1", "95", "r-1")) == "r-1"  # could lose 5
    await wait_for(lambda: bot.executor.order("r-1").status is OrderStatus.OPEN)
    assert ctx.submit(intent("s", Side.SELL, "1", "95")) is not None  # 5 + 5: at the limit
    assert ctx.submit(intent("s", Side.SELL, "0.01", "94")) is None  # 10.06


async def test_the_day_resets_at_the_configured_time_in_the_bots_time_zone(make_bot):
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    just_before = dt.datetime(2026, 7, 1, 6, 29, 59, tzinfo=berlin)  # 04:29:59 UTC
    clock = ManualClock(int(just_before.timestamp()) * 1_000_000_000)
    Alerts.sent.clear()
    ScriptedVenue.instances.clear()
    bot = await make_bot(BASE + '[scheduler]\ntimezone = "Europe/Berlin"\n[risk.limits]\nmax_daily_loss = "10"\n'
                         'daily_reset_at = "06:30"\n', extra=PLUGINS, clock=clock)
    lim = risk_check(bot, "limits")
    round_trip(lim, "s", "100", "90")
    assert lim.status()["daily loss USD"] == "10.00 / 10.00 USD"
    assert bot.strategies["s"].ctx.submit(intent("s", Side.BUY, "1", "100")) is not None  # opening: no loss
    clock.advance(1)  # 06:30:00 in Berlin
    lim.on_fill("s", fill("x", Side.SELL, "1", "100", ts_ns=clock.time_ns()))  # at cost: the new day starts at 0
    assert lim.status()["daily loss USD"] == "0.00 / 10.00 USD"
    round_trip(lim, "s", "100", "90.01")
    assert not trips(bot)


async def test_the_day_is_the_bots_day_on_risk_and_pnl_day(make_bot):
    """With only ``[scheduler] timezone`` set, a loss at 23:30 in New York (04:30 UTC the next day) is in the
    same day on /risk as on /pnl day: the limits' day is the bot's, not a UTC one of its own."""
    new_york = zoneinfo.ZoneInfo("America/New_York")
    evening = dt.datetime(2026, 1, 15, 18, 0, tzinfo=new_york)  # 23:00 UTC
    clock = ManualClock(int(evening.timestamp()) * 1_000_000_000)
    Alerts.sent.clear()
    ScriptedVenue.instances.clear()
    bot = await make_bot(BASE + '[scheduler]\ntimezone = "America/New_York"\n[risk.limits]\nmax_daily_loss = "100"\n',
                         extra=PLUGINS, clock=clock)
    lim = risk_check(bot, "limits")

    def round_trip_stored(buy: str, sell: str) -> None:
        now = clock.time_ns()
        for f in (fill("x", Side.BUY, "1", buy, ts_ns=now), fill("x", Side.SELL, "1", sell, ts_ns=now)):
            bot.store.insert_fill(f, "s")
            lim.on_fill("s", f)

    round_trip_stored("100", "95")  # 18:00 New York, 23:00 UTC
    clock.advance(5.5 * 3600)  # 23:30 New York, 04:30 UTC on the 16th: the same day in New York
    round_trip_stored("100", "97")
    pnl_day = bot.operator.pnl(since_ns=bot.operator.period_start_ns("day"))["s"].net["USD"]
    assert pnl_day == Decimal("-8")
    assert lim.status()["daily loss USD"] == "8.00 / 100.00 USD"
    assert bot.operator.risk()[0].usage["max_daily_loss.USD"].used == -pnl_day
    clock.advance(3600)  # 00:30 New York: a new day on both
    round_trip_stored("100", "100")
    assert lim.status()["daily loss USD"] == "0.00 / 100.00 USD"
    assert bot.operator.pnl(since_ns=bot.operator.period_start_ns("day"))["s"].net["USD"] == 0


async def test_per_strategy_loss_limit_pauses_only_that_strategy(make_bot):
    bot = await start(make_bot, 'strategy_max_daily_loss = { s = "5" }\n')
    lim = risk_check(bot, "limits")
    round_trip(lim, "t", "100", "90")  # t has no limit of its own
    round_trip(lim, "s", "100", "95")
    assert not trips(bot)
    round_trip(lim, "s", "100", "99.99")
    [trip] = trips(bot)
    assert trip.strategy == "s" and trip.reason == "strategy daily realized loss limit exceeded"
    assert bot.strategies["s"].paused and not bot.strategies["t"].paused


async def test_drawdown_from_the_trailing_peak(make_bot):
    bot = await start(make_bot, 'max_drawdown = "5"\n')
    lim = risk_check(bot, "limits")
    lim.on_fill("s", fill("x", Side.BUY, "1", "100"))
    bot.bus.publish(book("110"))  # equity 10: the new peak
    bot.bus.publish(book("105"))  # 5 below the peak: at the limit
    assert not trips(bot)
    bot.bus.publish(book("104.99"))
    [trip] = trips(bot)
    figures = json.loads(trip.details)
    assert trip.reason == "drawdown from peak equity exceeded"
    assert (figures["peak"], figures["equity"], figures["drawdown"]) == ("10.00", "4.99", "5.01")
    bot.bus.publish(book("100"))  # the peak restarted at the trip: 4.99 below it, no new trip
    assert len(trips(bot)) == 1
    bot.bus.publish(book("99.98"))
    assert len(trips(bot)) == 2


async def test_orders_per_minute(make_bot):
    clock = ManualClock()
    bot = await start(make_bot, "max_orders_per_minute = 3\n", clock)
    ctx = bot.strategies["s"].ctx
    assert all(ctx.submit(intent("s", Side.BUY, "0.01", "100")) for _ in range(3))
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    assert "3 orders in the last minute" in bot.store.risk_events(1)[0].reason
    clock.advance(59.999)
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    clock.advance(0.001)
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is not None


async def test_orders_per_minute_count_survives_a_restart(make_bot):
    """A strategy in a crash loop must not get max_orders_per_minute fresh at every start: the orders of the last
    minute are counted from the store (the wall clock's minute, the monotonic clock starting afresh)."""
    clock = ManualClock()
    bot = await start(make_bot, "max_orders_per_minute = 3\n", clock)
    ctx = bot.strategies["s"].ctx
    assert all(ctx.submit(intent("s", Side.BUY, "0.01", "100")) for _ in range(2))
    clock.advance(30)
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100"))
    await bot.executor.settle(2)
    await bot.stop()

    clock = ManualClock(clock.time_ns() + 10_000_000_000)  # restarted 10 s later
    again = await start(make_bot, "max_orders_per_minute = 3\n", clock)
    ctx = again.strategies["s"].ctx
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    assert "3 orders in the last minute" in again.store.risk_events(1)[0].reason
    clock.advance(19.999)  # the first two are 59.999 s old
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None
    clock.advance(0.001)
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is not None
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is not None
    assert ctx.submit(intent("s", Side.BUY, "0.01", "100")) is None  # the third's minute is not over


async def test_position_notional_per_symbol_total_and_per_strategy(make_bot):
    bot = await start(make_bot, 'max_position_notional = "1000"\nmax_total_notional = "1500"\n'
                                'strategy_max_position_notional = { t = "300" }\n')
    bot.bus.publish(book("100"))
    bot.bus.publish(book("100", symbol="ETH/USD"))
    s, t = bot.strategies["s"].ctx, bot.strategies["t"].ctx
    assert s.submit(intent("s", Side.BUY, "10", "100")) is not None  # 1000: at the symbol limit
    assert s.submit(intent("s", Side.BUY, "0.01", "100")) is None
    assert "max_position_notional is 1000" in bot.store.risk_events(1)[0].reason
    assert s.submit(intent("s", Side.BUY, "5", "100", symbol="ETH/USD")) is not None  # 1500 in all
    assert s.submit(intent("s", Side.SELL, "0.01", "100", symbol="ETH/USD")) is not None  # reduces nothing
    assert t.submit(intent("t", Side.BUY, "0.01", "100", symbol="ETH/USD")) is None  # 1500.01 in all
    assert "max_total_notional is 1500" in bot.store.risk_events(1)[0].reason
    await wait_for(lambda: all(o.status is OrderStatus.OPEN for o in bot.executor.open_orders()))
    for cid in [o.client_order_id for o in bot.executor.open_orders()]:
        bot.executor.cancel(cid)
    await wait_for(lambda: not bot.executor.open_orders())
    assert t.submit(intent("t", Side.BUY, "3", "100")) is not None  # t's own cap: 300
    assert t.submit(intent("t", Side.BUY, "0.01", "100")) is None
    assert "strategy_max_position_notional.t is 300" in bot.store.risk_events(1)[0].reason


async def test_stop_cancels_resting_orders_and_pauses_everything(make_bot):
    bot = await start(make_bot, 'max_daily_loss = "1"\naction = "stop"\n', clock=None)
    ctx = bot.strategies["t"].ctx
    ctx.submit(intent("t", Side.BUY, "0.01", "50", "rest-1"))
    await wait_for(lambda: bot.executor.order("rest-1").status is OrderStatus.OPEN)
    round_trip(risk_check(bot, "limits"), "s", "100", "98.99")
    assert all(s.paused for s in bot.strategies.values())
    await wait_for(lambda: bot.executor.order("rest-1").status is OrderStatus.CANCELLED)
    assert trips(bot)[0].action == "stop"


async def test_flatten_closes_positions_within_the_price_limit(make_bot):
    bot = await start(make_bot, 'max_daily_loss = "1"\naction = "flatten"\nflatten_slippage_bps = "100"\n')
    ctx = bot.strategies["s"].ctx
    for cid, side, price in (("b-1", Side.BUY, "100"), ("s-1", Side.SELL, "100")):
        ctx.submit(intent("s", side, "1", price, cid))
        await wait_for(lambda cid=cid: bot.executor.order(cid).status is OrderStatus.OPEN)
    ctx.submit(intent("s", Side.BUY, "1", "100", "b-2"))
    await wait_for(lambda: bot.executor.order("b-2").status is OrderStatus.OPEN)
    bot.bus.publish(book("99"))
    bot.bus.publish(fill("b-1", Side.BUY, "1", "100"))
    bot.bus.publish(fill("b-2", Side.BUY, "1", "100"))
    bot.bus.publish(fill("s-1", Side.SELL, "1", "100", fee="2"))  # a 2 USD loss: flatten the 1 BTC left
    venue = bot.exchanges["v"]
    await wait_for(lambda: any(o.strategy == "flatten" for o in venue.received))
    close = next(o for o in venue.received if o.strategy == "flatten")
    assert (close.side, close.qty, close.price, close.tif.value) == (Side.SELL, Decimal("1"), Decimal("98.01"), "ioc")
    assert all(s.paused for s in bot.strategies.values())


async def test_the_days_loss_survives_a_restart(make_bot):
    Alerts.sent.clear()
    clock = ManualClock()
    bot = await make_bot(BASE + '[risk.limits]\nmax_daily_loss = "10"\n', extra=PLUGINS, clock=clock, start=False)
    bot.store.open()
    now = clock.time_ns()
    bot.store.insert_fill(fill("old", Side.BUY, "1", "100", ts_ns=now - 2 * 86_400 * 10**9), "s")
    bot.store.insert_fill(fill("old", Side.SELL, "1", "50", ts_ns=now - 2 * 86_400 * 10**9), "s")  # not today
    bot.store.insert_fill(fill("new", Side.BUY, "1", "100", ts_ns=now - 1), "s")
    bot.store.insert_fill(fill("new", Side.SELL, "1", "93", ts_ns=now), "s")
    await bot.start()
    try:
        lim = risk_check(bot, "limits")
        assert lim.status()["daily loss USD"] == "7.00 / 10.00 USD"
        assert bot.strategies["s"].ctx.submit(intent("s", Side.SELL, "1", "100")) is not None  # opens a short
        lim.on_fill("s", fill("x", Side.BUY, "1", "100"))
        lim.on_fill("s", fill("x", Side.SELL, "1", "96.99"))
        assert [t.reason for t in trips(bot)] == ["daily realized loss limit exceeded"]
        await bot.alerts.flush()
        assert len([a for a in Alerts.sent if a.kind == "risk"]) == 1  # stored and alerted once
    finally:
        await bot.stop()


async def place_and_fill(bot, strategy: str, cid: str, side: Side, price: str, fee: str = "0") -> None:
    """An order of ``strategy`` placed and filled (its fill stored as any fill is); what stays open is cancelled."""
    ctx = bot.strategies[strategy].ctx
    assert ctx.submit(intent(strategy, side, "1", price, cid)) == cid
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.OPEN)
    bot.bus.publish(fill(cid, side, "1", price, fee=fee))
    ctx.cancel(cid)  # the venue's updates are not scripted (filled whole, it ends FILLED whatever the cancel says)
    await wait_for(lambda: bot.executor.order(cid).status.terminal)


async def test_a_limit_breached_today_is_alerted_once_across_a_restart_and_its_vetoes_hold(make_bot):
    """The limits breached today are kept: a restart the same day neither trips them again (no second pause,
    record or alert) nor lets an order through; the next day a breach trips again."""
    clock = ManualClock()
    config = BASE + '[risk.limits]\nmax_daily_loss = "10"\nstrategy_max_daily_loss = { t = "5" }\n'
    Alerts.sent.clear()
    ScriptedVenue.instances.clear()
    first = await make_bot(config, extra=PLUGINS, clock=clock)
    await place_and_fill(first, "t", "b-1", Side.BUY, "100")
    await place_and_fill(first, "t", "s-1", Side.SELL, "89")  # t lost 11: both limits
    assert sorted(t.reason for t in trips(first)) == ["daily realized loss limit exceeded",
                                                      "strategy daily realized loss limit exceeded"]
    await first.alerts.flush()
    assert len([a for a in Alerts.sent if a.kind == "risk"]) == 2
    await first.stop()

    clock.advance(60)
    second = await make_bot(config, extra=PLUGINS, clock=clock)
    lim = risk_check(second, "limits")
    assert lim.status()["daily loss USD"] == "11.00 / 10.00 USD"
    veto = second.risk.check(intent("s", Side.BUY, "0.01", "100"))  # vetoed as before the restart
    assert veto is not None and "day's loss could reach" in veto.reason
    round_trip(lim, "t", "100", "99")  # a further loss the same day: neither limit trips again
    round_trip(lim, "s", "100", "99")
    assert len(trips(second)) == 2, [(t.reason, t.details) for t in trips(second)]
    await second.alerts.flush()
    assert len([a for a in Alerts.sent if a.kind == "risk"]) == 2
    await second.stop()

    clock.advance(86_400)  # the next day: a breach is a new one
    third = await make_bot(config, extra=PLUGINS, clock=clock)
    round_trip(risk_check(third, "limits"), "s", "100", "89")
    assert [t.reason for t in trips(third)][2:] == ["daily realized loss limit exceeded"]


async def test_breached_limits_that_cannot_be_read_are_logged_and_the_vetoes_hold(make_bot, caplog):
    clock = ManualClock()
    bot = await make_bot(BASE + '[risk.limits]\nmax_daily_loss = "10"\n', extra=PLUGINS, clock=clock, start=False)
    bot.store.open()
    bot.store.set_state("risk:limits", "{not json")
    now = clock.time_ns()
    bot.store.insert_fill(fill("a", Side.BUY, "1", "100", ts_ns=now - 1), "s")
    bot.store.insert_fill(fill("a", Side.SELL, "1", "89", ts_ns=now), "s")
    await bot.start()
    try:
        assert "the limits breached today cannot be read" in caplog.text and "{not json" in caplog.text
        veto = bot.risk.check(intent("s", Side.BUY, "0.01", "100"))
        assert veto is not None and "realized 11" in veto.reason
    finally:
        await bot.stop()


async def test_drawdown_peak_survives_a_restart(make_bot):
    first = await start(make_bot, 'max_drawdown = "5"\n')
    lim = risk_check(first, "limits")
    lim.on_fill("s", fill("x", Side.BUY, "1", "100"))
    first.bus.publish(book("110"))  # equity 10: the peak
    await first.stop()  # the peak is saved on stop

    second = await start(make_bot, 'max_drawdown = "5"\n')
    lim = risk_check(second, "limits")
    assert lim._peak["USD"] == Decimal("10.00")  # not reset to the equity at start
    lim.on_fill("s", fill("y", Side.BUY, "1", "100"))  # equity 0 here: 10 below the kept peak
    [trip] = trips(second)
    assert trip.reason == "drawdown from peak equity exceeded" and json.loads(trip.details)["peak"] == "10.00"


async def test_the_peak_a_trip_restarted_is_kept_across_a_restart(make_bot):
    """After a trip the trailing peak is the equity at the trip (saved at once). A restart keeps it: raising it
    back to the realized total would trip the same drawdown again on the next book."""
    clock = ManualClock()
    config = BASE + '[risk.limits]\nmax_drawdown = "50"\n'
    first = await make_bot(config, extra=PLUGINS, clock=clock, start=False)
    first.store.open()
    now = clock.time_ns()
    first.store.insert_fill(fill("a", Side.BUY, "1", "100", ts_ns=now - 3), "s")
    first.store.insert_fill(fill("a", Side.SELL, "1", "200", ts_ns=now - 2), "s")  # +100 realized
    first.store.insert_fill(fill("b", Side.BUY, "1", "200", ts_ns=now - 1), "s")  # a long lot at 200
    await first.start()
    assert risk_check(first, "limits")._peak["USD"] == 100  # no stored peak: the realized total
    first.bus.publish(book("130"))  # equity 100 - 70 = 30: 70 below the peak
    [trip] = trips(first)
    assert json.loads(trip.details)["equity"] == "30.00"
    assert risk_check(first, "limits")._peak["USD"] == Decimal("30.00")  # the trailing peak restarts here
    await first.stop()

    second = await make_bot(config, extra=PLUGINS, clock=clock)
    lim = risk_check(second, "limits")
    assert lim._peak["USD"] == Decimal("30.00")
    second.bus.publish(book("130"))  # the same market: equity 30, nothing fell since the trip
    assert len(trips(second)) == 1, [(t.reason, t.details) for t in trips(second)]


def sol_pool(sol: int, usdc: int) -> ConstantProductModel:
    """A constant-product SOL/USDC pool holding ``sol`` SOL and ``usdc`` USDC."""
    return ConstantProductModel(ConstantProductPool(sol * 10**9, usdc * 10**6, 30), "SOL", "USDC", 9, 6)


async def test_a_lot_held_on_a_pool_venue_is_marked_at_the_pool_not_at_its_first_fill(make_bot):
    """The drawdown's equity marks open lots at the last mid, as /pnl does. A DEX venue publishes PoolUpdates,
    never BookUpdates: a lot held there follows the pool's mid (it used to keep its first fill's price)."""
    bot = await start(make_bot, 'max_drawdown = "10"\n')
    lim = risk_check(bot, "limits")
    lim.on_fill("s", fill("d", Side.BUY, "1", "150", symbol="SOL/USDC", exchange="dex"))  # a long lot on the DEX
    pool = sol_pool(10_000, 1_000_000)  # 100 USDC per SOL
    bot.bus.publish(PoolUpdate("dex", "SOL/USDC", pool, 0))
    assert bot.portfolio.last_price("dex", "SOL/USDC") == pool.mid() == 100  # the host's mark
    assert lim.equity("USDC") == -50, lim.status()  # 1 SOL bought at 150, worth 100 now
    assert [t.reason for t in trips(bot)] == ["drawdown from peak equity exceeded"]


async def test_a_pool_update_that_moves_no_mid_leaves_equity_where_it_was(make_bot):
    bot = await start(make_bot, 'max_drawdown = "1000"\n')
    lim = risk_check(bot, "limits")
    lim.on_fill("s", fill("d", Side.BUY, "1", "150", symbol="SOL/USDC", exchange="dex"))
    checked = []
    lim._drawdown = checked.append  # the drawdown is checked (after a fill, or a moved mark)
    pool = sol_pool(10_000, 1_000_000)
    for moved in (pool, pool, sol_pool(10_000, 1_000_000)):  # the same pool again; a new one at the same mid
        bot.bus.publish(PoolUpdate("dex", "SOL/USDC", moved, 0))
    assert checked == ["USDC"]
    bot.bus.publish(PoolUpdate("dex", "SOL/USDC", sol_pool(10_000, 990_000), 0))  # 99 USDC per SOL
    assert checked == ["USDC", "USDC"] and lim.equity("USDC") == -51
    bot.bus.publish(PoolUpdate("dex", "ETH/USDC", pool, 0))  # a pool of a symbol nobody holds: marked, not checked
    assert checked == ["USDC", "USDC"]


async def test_risk_shows_the_new_days_loss_after_midnight_before_any_fill_or_order(make_bot):
    """/risk is /pnl day at every instant: a quiet night's first minutes show the new day's 0, not yesterday's loss."""
    utc = dt.UTC
    clock = ManualClock(int(dt.datetime(2026, 3, 2, 23, 0, tzinfo=utc).timestamp()) * 1_000_000_000)
    bot = await start(make_bot, 'max_daily_loss = "100"\nstrategy_max_daily_loss = { s = "50" }\n', clock=clock)
    lim = risk_check(bot, "limits")
    for f in (fill("x", Side.BUY, "1", "100", ts_ns=clock.time_ns()),
              fill("x", Side.SELL, "1", "92", ts_ns=clock.time_ns())):
        bot.store.insert_fill(f, "s")
        lim.on_fill("s", f)
    assert lim.status()["daily loss USD"] == "8.00 / 100.00 USD"
    clock.advance(3600)  # 00:00 UTC: nothing traded since
    pnl_day = bot.operator.pnl(since_ns=bot.operator.period_start_ns("day"))
    assert "s" not in pnl_day or pnl_day["s"].net.get("USD", 0) == 0
    assert lim.status()["daily loss USD"] == "0.00 / 100.00 USD"
    assert lim.status()["daily loss s"].split(" / ")[0].rstrip("0.") == ""
    uses = bot.operator.risk()[0].usage
    assert uses["max_daily_loss.USD"].used == 0
    assert "strategy_max_daily_loss.s.USD" not in uses or uses["strategy_max_daily_loss.s.USD"].used == 0


async def test_a_fill_stamped_after_midnight_counts_in_the_new_day_though_it_came_before_the_clock_got_there(
        make_bot):
    """The venue stamps a loss 00:00:00.3 while the bot's clock still reads 23:59:59.9 (clocks differ by
    milliseconds): the loss is the new day's on /pnl day, and must be on /risk and against the new day's limit,
    not wiped by the reset a moment later."""
    midnight = int(dt.datetime(2026, 3, 3, tzinfo=dt.UTC).timestamp()) * 1_000_000_000
    clock = ManualClock(midnight - 100_000_000)
    bot = await start(make_bot, 'max_daily_loss = "10"\n', clock=clock)
    lim = risk_check(bot, "limits")
    for f in (fill("x", Side.BUY, "1", "100", ts_ns=midnight + 200_000_000),
              fill("x", Side.SELL, "1", "92", ts_ns=midnight + 300_000_000)):
        bot.store.insert_fill(f, "s")
        lim.on_fill("s", f)
    clock.advance(1)  # 00:00:00.9 on the bot's clock
    pnl_day = bot.operator.pnl(since_ns=bot.operator.period_start_ns("day"))["s"].net["USD"]
    assert pnl_day == Decimal("-8")
    assert lim.status()["daily loss USD"] == "8.00 / 10.00 USD"
    round_trip(lim, "s", "100", "97")  # 3 more: 11 > 10 today
    assert [t.reason for t in trips(bot)] == ["daily realized loss limit exceeded"]


async def test_a_loss_limit_already_past_at_start_pauses_and_alerts_once(make_bot):
    """The trip's state could not be stored (nor the host's pause: one store failing): the restarted bot rebuilds
    the day's loss from the stored fills, finds the limits past, and pauses at once, not at the next fill; alerted
    once, and once only across a further restart the same day."""
    clock = ManualClock()
    config = BASE + '[risk.limits]\nmax_daily_loss = { USD = "10" }\nstrategy_max_daily_loss = { t = "5" }\n'
    Alerts.sent.clear()
    ScriptedVenue.instances.clear()
    bot = await make_bot(config, extra=PLUGINS, clock=clock, start=False)
    bot.store.open()
    now = clock.time_ns()
    bot.store.insert_fill(fill("a", Side.BUY, "1", "100", ts_ns=now - 2), "s")
    bot.store.insert_fill(fill("a", Side.SELL, "1", "94", ts_ns=now - 1), "s")  # s lost 6: under its limit (none)
    bot.store.insert_fill(fill("b", Side.BUY, "1", "100", ts_ns=now - 2), "t")
    bot.store.insert_fill(fill("b", Side.SELL, "1", "94", ts_ns=now - 1), "t")  # t lost 6 > 5; together 12 > 10
    await bot.start()
    try:
        assert bot.strategies["s"].paused and bot.strategies["t"].paused
        assert bot.strategy_state("t") == "paused by risk limits"
        assert sorted((t.reason, t.strategy) for t in trips(bot)) == [
            ("daily realized loss limit exceeded", ""), ("strategy daily realized loss limit exceeded", "t")]
        await bot.alerts.flush()
        assert len([a for a in Alerts.sent if a.kind == "risk"]) == 2
    finally:
        await bot.stop()

    clock.advance(60)
    again = await make_bot(config, extra=PLUGINS, clock=clock)  # kept as breached today: not acted on again
    assert again.strategies["s"].paused and again.strategies["t"].paused  # the host kept the pauses
    assert len(trips(again)) == 2
    await again.alerts.flush()
    assert len([a for a in Alerts.sent if a.kind == "risk"]) == 2


async def test_a_limit_past_at_start_only_for_one_strategy_pauses_only_it(make_bot):
    clock = ManualClock()
    config = BASE + '[risk.limits]\nstrategy_max_daily_loss = { t = "5" }\n'
    bot = await make_bot(config, extra=PLUGINS, clock=clock, start=False)
    bot.store.open()
    now = clock.time_ns()
    bot.store.insert_fill(fill("b", Side.BUY, "1", "100", ts_ns=now - 2), "t")
    bot.store.insert_fill(fill("b", Side.SELL, "1", "94", ts_ns=now - 1), "t")
    await bot.start()
    try:
        assert bot.strategies["t"].paused and not bot.strategies["s"].paused
        [trip] = trips(bot)
        assert json.loads(trip.details)["paused"] == "t"
    finally:
        await bot.stop()


class Crash(BaseException):
    """The process dying at that point: nothing after it runs (a BaseException: no handler takes it)."""


async def test_a_crash_before_a_trips_pause_is_acted_on_at_the_restart(make_bot, monkeypatch):
    """The breach is kept as acted on only after its action: a crash as the pause is taken leaves it not kept, so the
    restart pauses at start (kept first, the restart would take it as done and trade on unpaused)."""
    clock = ManualClock()
    config = BASE + '[risk.limits]\nmax_daily_loss = { USD = "10" }\n'
    ScriptedVenue.instances.clear()
    first = await make_bot(config, extra=PLUGINS, clock=clock)
    lim = risk_check(first, "limits")
    now = clock.time_ns()
    losing = [fill("a", Side.BUY, "1", "100", ts_ns=now), fill("a", Side.SELL, "1", "89", ts_ns=now)]
    for f in losing:
        first.store.insert_fill(f, "s")

    def crash(*args, **kwargs):
        raise Crash
    monkeypatch.setattr(first, "pause_for_risk", crash)
    lim.on_fill("s", losing[0])
    with pytest.raises(Crash):
        lim.on_fill("s", losing[1])  # 11 lost: the trip's pause
    monkeypatch.undo()
    await first.stop()

    clock.advance(60)
    second = await make_bot(config, extra=PLUGINS, clock=clock)
    assert second.strategies["s"].paused and second.strategies["t"].paused
    assert [t.reason for t in trips(second)] == ["daily realized loss limit exceeded"]


async def _flatten_at_start(make_bot, wait_s: str):
    """A bot whose stored fills put strategy ``t`` 6 USD past its 5 USD daily limit, long 1 BTC, on a limit whose
    action is ``flatten``: started with no book yet."""
    clock = ManualClock()
    config = (f"flatten_price_wait_s = {wait_s}\n" + BASE  # in make_bot's [bot] table
              + '[risk.limits]\nstrategy_max_daily_loss = { t = "5" }\naction = "flatten"\n'
              + 'flatten_slippage_bps = "100"\n')
    Alerts.sent.clear()
    ScriptedVenue.instances.clear()
    bot = await make_bot(config, extra=PLUGINS, clock=clock, start=False)
    bot.store.open()
    now = clock.time_ns()
    bot.store.insert_fill(fill("b", Side.BUY, "2", "100", ts_ns=now - 2), "t")
    bot.store.insert_fill(fill("b", Side.SELL, "1", "94", ts_ns=now - 1), "t")  # lost 6 > 5; long 1 BTC left
    await bot.start()
    return bot


def _flatten_alerts():
    return [a for a in Alerts.sent if a.kind == "risk" and a.message.startswith("flatten")]


async def test_a_flatten_asked_at_start_waits_for_the_first_price_then_closes(make_bot, caplog):
    caplog.set_level(logging.WARNING, logger="arbot")
    bot = await _flatten_at_start(make_bot, "30")
    try:
        assert bot.strategies["t"].paused
        venue = bot.exchanges["v"]
        await wait_for(lambda: "flatten: no price yet for v BTC/USD" in caplog.text, what="the flatten to wait")
        await bot.alerts.flush()
        assert not any(o.strategy == "flatten" for o in venue.received)  # no price yet: nothing sent, nothing given up
        assert not _flatten_alerts()
        bot.bus.publish(book("99"))
        await wait_for(lambda: any(o.strategy == "flatten" for o in venue.received), what="the closing order")
        close = next(o for o in venue.received if o.strategy == "flatten")
        assert (close.side, close.qty, close.price, close.tif.value) == (Side.SELL, Decimal("1"), Decimal("98.01"),
                                                                         "ioc")
        await bot.alerts.flush()
        assert not _flatten_alerts()  # closed: no "no price" alert
    finally:
        await bot.stop()


async def test_a_flatten_with_no_price_in_time_alerts_once_what_it_could_not_close(make_bot):
    bot = await _flatten_at_start(make_bot, "0.2")
    try:
        await wait_for(_flatten_alerts, timeout_s=5, what="the flatten's alert")
        [alert] = _flatten_alerts()
        assert alert.message == "flatten: 1 position not closed: no price within 0.2 s"
        assert alert.fields["v BTC/USD"] == "1 (no price within 0.2 s)"
        assert not any(o.strategy == "flatten" for o in bot.exchanges["v"].received)
    finally:
        await bot.stop()
