"""/positions, /pnl, /opportunities, /observe and the dead-man alerts (loop stall, market silence)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import replace
from decimal import Decimal

import pytest

from bot.api import Caller
from bot.clock import ManualClock
from bot.domain import Opportunity, OrderStatus, Side
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.risk_kit import book, fill, intent
from tests.helpers.risk_kit import plugin as kit_plugin
from tests.helpers.store_kit import audit_lines
from tests.helpers.waiting import wait_for

ADMIN = Caller("test", "root", "admin")
OTHER_ADMIN = Caller("test", "deputy", "admin")
VIEWER = Caller("test", "eye", "viewer")
PLUGINS = [("venue", venue_plugin), ("kit", kit_plugin)]

TWO_VENUES = """
[scheduler]
timezone = "Europe/Berlin"
[exchanges.v]
type = "scripted"
[exchanges.w]
type = "scripted"
[strategies.s]
type = "recorder"
[strategies.s2]
type = "recorder"
"""


def utc_ns(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp()) * 1_000_000_000


NOW = utc_ns(2026, 11, 18, 12, 0)  # a Wednesday; 13:00 in Berlin


def alerts_of(bot) -> list:
    """Every alert the bot queues from now on, in order (a synchronous listener)."""
    seen: list = []
    bot.alerts.subscribe(seen.append, "test")
    return seen


async def trade(bot, strategy: str, cid: str, side: Side, qty: str, price: str, fee: str, ts_ns: int,
                symbol: str = "BTC/USD", exchange: str = "v") -> None:
    """Place an order on the scripted venue and have it filled at ``ts_ns``, through the executor."""
    ctx = bot.strategies[strategy].ctx
    assert ctx.submit(intent(strategy, side, qty, price, cid, symbol=symbol, exchange=exchange)) == cid
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.OPEN, what=f"{cid} open")
    bot.bus.publish(fill(cid, side, qty, price, fee, ts_ns, symbol=symbol, exchange=exchange))


@pytest.fixture
async def traded(make_bot):
    """Two strategies' fills spread over October and November 2026 (hand-computed below)."""
    bot = await make_bot(TWO_VENUES, extra=PLUGINS, clock=ManualClock(NOW))
    # s, BTC/USD on v, FIFO: B closes half of A's lot, (110-100)*0.5 = 5; C the other half, (120-100)*0.5 = 10.
    await trade(bot, "s", "A", Side.BUY, "1", "100", "1", utc_ns(2026, 10, 30, 12))
    await trade(bot, "s", "X", Side.SELL, "2", "2000", "0", utc_ns(2026, 10, 30, 13), "ETH/USD", "w")
    await trade(bot, "s", "E", Side.BUY, "1", "104", "0.5", utc_ns(2026, 11, 3, 12))
    await trade(bot, "s", "B", Side.SELL, "0.5", "110", "0.5", utc_ns(2026, 11, 16, 12))
    await trade(bot, "s", "C", Side.SELL, "0.5", "120", "0.25", utc_ns(2026, 11, 17, 23, 30))  # 00:30 in Berlin
    await trade(bot, "s", "D", Side.BUY, "0.2", "90", "0.1", utc_ns(2026, 11, 18, 10))
    # s2 today: 0.1 bought at 100 and sold at 101 -> realized 0.1, fees 0.02.
    await trade(bot, "s2", "F", Side.BUY, "0.1", "100", "0.01", utc_ns(2026, 11, 18, 11))
    await trade(bot, "s2", "G", Side.SELL, "0.1", "101", "0.01", utc_ns(2026, 11, 18, 11, 30))
    await bot.executor.flush()
    return bot


async def test_pnl_per_strategy_over_day_week_and_month(traded):
    day = await traded.commands.dispatch(VIEWER, "pnl", [])
    assert day.title == "PnL this day (since Wed 2026-11-18 00:00 Europe/Berlin)"
    # C closes 0.5 at 120 against the rest of October's lot bought at 100: the lots come from older fills.
    assert day.rows == [("strategy", "fills", "realized", "fees", "net", "unrealized now"),
                        ("s", "2", "10.00 USD", "0.35 USD", "9.65 USD", "0.00 USD"),
                        ("s2", "2", "0.10 USD", "0.02 USD", "0.08 USD", "0.00 USD")]
    assert day.text.splitlines()[0] == "total net: 9.73 USD; unrealized now: 0.00 USD"
    # the exact ledger totals behind it, for a fleet front to add up (/pnl all)
    assert day.data["totals"]["net"] == {"USD": "9.73"} and day.data["totals"]["fees"] == {"USD": "0.37"}
    week = await traded.commands.dispatch(VIEWER, "pnl", ["week"])
    assert week.title.startswith("PnL this week (since Mon 2026-11-16 00:00")
    assert week.rows[1] == ("s", "3", "15.00 USD", "0.85 USD", "14.15 USD", "0.00 USD")
    month = await traded.commands.dispatch(VIEWER, "pnl", ["Month"])
    assert month.rows[1] == ("s", "4", "15.00 USD", "1.35 USD", "13.65 USD", "0.00 USD")
    assert month.text.splitlines()[0] == "total net: 13.73 USD; unrealized now: 0.00 USD"
    traded.bus.publish(book("100", exchange="v"))  # open lots: 1 @104 and 0.2 @90 marked to 100
    marked = await traded.commands.dispatch(VIEWER, "pnl", [])
    assert marked.rows[1][-1] == "-2.00 USD"
    bad = await traded.commands.dispatch(VIEWER, "pnl", ["year"])
    assert not bad.ok and bad.title == "Usage: /pnl [day|week|month]"


async def test_the_daily_summary_gives_the_ledgers_last_whole_day(traded):
    from bot.builtins import daily_summary

    seen = alerts_of(traded)
    await daily_summary(traded.operator)
    [alert] = [a for a in seen if a.kind == "summary"]
    assert alert.message == "daily summary: Tue 2026-11-17 (since 00:00 Europe/Berlin): 0 fills"  # C is the 18th's
    traded.clock.advance(86_400)  # the next day: the summary is of the 18th, what /pnl day showed at its end
    await daily_summary(traded.operator)
    [_, alert] = [a for a in seen if a.kind == "summary"]
    # the 18th in Berlin: C (00:30) and D for s (as /pnl's day), F and G for s2
    assert alert.message == "daily summary: Wed 2026-11-18 (since 00:00 Europe/Berlin): 4 fills"
    assert alert.fields == {"s": "realized 10.00 USD, fees 0.35 USD, net 9.65 USD",
                            "s2": "realized 0.10 USD, fees 0.02 USD, net 0.08 USD"}


async def test_pnl_without_fills_in_the_period(make_bot):
    bot = await make_bot(TWO_VENUES, extra=PLUGINS, clock=ManualClock(NOW))
    reply = await bot.commands.dispatch(VIEWER, "pnl", ["week"])
    assert reply.rows == [] and reply.text == "No fills this week."


async def test_positions_with_last_price_and_notional(traded):
    traded.bus.publish(book("100", exchange="v"))  # bid 99.99, ask 100.01: mid 100
    reply = await traded.commands.dispatch(VIEWER, "positions", [])
    # BTC: 1 + 1 - 0.5 - 0.5 + 0.2 (s) + 0.1 - 0.1 (s2) = 1.2; ETH: -2, no price seen yet.
    assert reply.title == "Positions: 2"
    assert reply.rows == [("exchange", "symbol", "position", "last price", "notional"),
                          ("v", "BTC/USD", "1.200 BTC", "100.00 USD", "120.00 USD"),  # the venue's lot and tick
                          ("w", "ETH/USD", "-2.000 ETH", "-", "-")]
    # s's open lots: BTC 1 @104 and 0.2 @90 marked to 100 (-2); ETH short 2 @2000, no mid yet (0)
    assert reply.text == "net notional: 120.00 USD\nunrealized PnL (open lots marked to mid): s -2.00 USD"
    traded.bus.publish(book("2500", exchange="w", symbol="ETH/USD"))
    reply = await traded.commands.dispatch(VIEWER, "positions", [])
    assert reply.rows[2] == ("w", "ETH/USD", "-2.000 ETH", "2500.00 USD", "-5000.00 USD")
    assert reply.text == "net notional: -4880.00 USD\nunrealized PnL (open lots marked to mid): s -1002.00 USD"
    assert "Decimal" not in reply.render_text()


async def test_positions_when_flat(make_bot):
    bot = await make_bot(TWO_VENUES, extra=PLUGINS)
    assert (await bot.commands.dispatch(VIEWER, "positions", [])).title == "No open positions."


def opportunity(strategy, buy_ex, sell_ex, buy, sell, qty, edge, ts_ns, acted=False, symbol="SOL/USDC"):
    return Opportunity(strategy=strategy, symbol=symbol, buy_exchange=buy_ex, sell_exchange=sell_ex,
                       buy_price=Decimal(buy), sell_price=Decimal(sell), qty=Decimal(qty), edge_bps=Decimal(edge),
                       ts_ns=ts_ns, acted=acted)


async def test_opportunities_newest_first_with_the_cost_breakdown(make_bot):
    clock = ManualClock(NOW)
    bot = await make_bot(TWO_VENUES, extra=PLUGINS, clock=clock)
    empty = await bot.commands.dispatch(VIEWER, "opportunities", [])
    assert empty.title == "Opportunities: none yet." and empty.rows == []
    # gross (101-100)/100 = 100 bps, net 60 -> costs 40, 60 bps of 2 x 100 = 1.2 USDC
    bot.bus.publish(opportunity("arb", "orca", "kraken", "100", "101", "2", "60", NOW - 30 * 10**9))
    # gross 0.1/50 = 20 bps, net 8 -> costs 12, 8 bps of 10 x 50 = 0.4 USDC
    bot.bus.publish(opportunity("arb", "kraken", "orca", "50", "50.1", "10", "8", NOW - 5 * 10**9, acted=True))
    reply = await bot.commands.dispatch(VIEWER, "opportunities", [])
    assert reply.title == "Opportunities: latest 2 of 2 kept (strategy arb)"
    assert reply.rows == [
        ("age", "market", "buy", "sell", "qty", "gross", "costs", "net", "net profit", "acted"),
        ("5.0s", "SOL/USDC", "kraken 50 USDC", "orca 50.1 USDC", "10 SOL", "20 bps", "12 bps", "8 bps", "0.40 USDC",
         "yes"),
        ("30.0s", "SOL/USDC", "orca 100 USDC", "kraken 101 USDC", "2 SOL", "100 bps", "40 bps", "60 bps",
         "1.20 USDC", "no"),
    ]
    for n in range(60):  # a bounded buffer: only the newest are kept
        bot.bus.publish(opportunity("tri", "a", "b", "1", "1.01", "1", "50", NOW + n, symbol="ETH/USD"))
    reply = await bot.commands.dispatch(VIEWER, "opportunities", [])
    assert reply.title == "Opportunities: latest 10 of 50 kept (strategy tri)" and len(reply.rows) == 11
    assert reply.rows[1][0] == "0.0s"


async def test_observe_on_records_orders_and_off_needs_the_same_admins_confirmation(make_bot):
    ScriptedVenue.instances.clear()
    bot = await make_bot(TWO_VENUES, extra=PLUGINS)
    venue, ctx, alerts = bot.exchanges["v"], bot.strategies["s"].ctx, alerts_of(bot)

    refused = await bot.commands.dispatch(VIEWER, "observe", ["on"])
    assert not refused.ok and refused.title == "/observe needs the admin role; you are viewer."
    assert bot.mode == "paper"

    on = await bot.commands.dispatch(ADMIN, "observe", ["on"])
    assert on.ok and on.confirm_token is None and on.title.startswith("Observe mode on")
    assert bot.mode == ctx.mode == "observe" and bot.config.mode == "paper"
    assert ctx.submit(intent("s", Side.BUY, "1", "100", "obs-1")) == "obs-1"
    assert bot.executor.order("obs-1").status is OrderStatus.OBSERVED
    status = await bot.commands.dispatch(VIEWER, "status", [])
    assert status.rows[0] == ("mode", "observe (switched at run time; configured paper)")

    question = await bot.commands.dispatch(ADMIN, "observe", ["off"])
    assert question.confirm_token and question.title == "Leave observe mode and send orders again (paper mode)?"
    assert bot.mode == "observe"  # nothing happens before the confirmation
    foreign = await bot.commands.confirm(OTHER_ADMIN, question.confirm_token)
    assert not foreign.ok and bot.mode == "observe"
    done = await bot.commands.confirm(ADMIN, question.confirm_token)
    assert done.ok and done.title == "Observe mode off: new orders are sent again (paper mode)."
    assert bot.mode == ctx.mode == "paper"
    replay = await bot.commands.confirm(ADMIN, question.confirm_token)
    assert not replay.ok

    assert ctx.submit(intent("s", Side.BUY, "1", "100", "live-1")) == "live-1"
    await wait_for(lambda: bot.executor.order("live-1").status is OrderStatus.OPEN)
    assert [o.client_order_id for o in venue.received] == ["live-1"]  # obs-1 went nowhere
    assert venue.submissions["obs-1"] == 0

    messages = [(a.kind, a.message, a.fields.get("by")) for a in alerts]
    assert ("bot", "observe mode on: new orders are recorded, not sent", "test:root") in messages
    assert ("bot", "observe mode off: orders are sent again (paper mode)", "test:root") in messages
    outcomes = [(r.user_id, r.command, r.args, r.outcome) for r in reversed(audit_lines(bot))]
    assert outcomes == [
        ("eye", "observe", "on", "refused: needs admin"),
        ("root", "observe", "on", "ok"),
        ("eye", "status", "", "ok"),
        ("root", "observe", "off", "awaiting confirmation"),
        ("deputy", "observe", "off", "refused: confirmation of another user"),
        ("root", "observe", "off", "confirmed: ok"),
        ("root", "observe", "off", "refused: confirmation already used"),
    ]


async def test_observe_off_is_refused_when_the_config_says_observe(make_bot):
    bot = await make_bot(TWO_VENUES, extra=PLUGINS, start=False)
    bot.config = replace(bot.config, mode="observe")  # make_bot's [bot] table comes first: no top-level keys
    bot.mode = "observe"
    await bot.start()
    try:
        await _observe_off_refused(bot)
    finally:
        await bot.stop()


async def _observe_off_refused(bot):
    reply = await bot.commands.dispatch(ADMIN, "observe", ["off"])
    assert not reply.ok and reply.confirm_token is None and reply.title.startswith('The config says mode = "observe"')
    assert bot.mode == "observe"
    usage = await bot.commands.dispatch(ADMIN, "observe", ["maybe"])
    assert not usage.ok and usage.title == "Usage: /observe on|off (mode is observe now)."


async def test_help_lists_the_new_commands_with_usage(make_bot):
    bot = await make_bot(TWO_VENUES, extra=PLUGINS)
    rows = dict((await bot.commands.dispatch(ADMIN, "help", [])).rows)
    assert {"/positions", "/pnl [day|week|month]", "/opportunities", "/observe on|off"} <= set(rows)
    viewer_rows = dict((await bot.commands.dispatch(VIEWER, "help", [])).rows)
    assert "/observe on|off" not in viewer_rows and "/pnl [day|week|month]" in viewer_rows


# --- the dead-man alerts ----------------------------------------------------------------------


async def test_a_stall_alerts_once_and_later_stalls_coalesce(make_bot):
    clock = ManualClock(NOW)
    bot = await make_bot(TWO_VENUES + "[alerts]\nstall_after_s = 0.5\nsilent_after_s = 0\ncoalesce_s = 60\n",
                         extra=PLUGINS, clock=clock)
    alerts = alerts_of(bot)

    def stalls():
        return [a.message for a in alerts if a.kind == "watchdog"]

    assert not bot.watchdog.check_stall(0.4)
    assert bot.watchdog.check_stall(2.04)
    assert stalls() == ["event loop stalled for 2.0 s"]
    assert bot.watchdog.check_stall(3.0) and bot.watchdog.check_stall(0.7)
    assert stalls() == ["event loop stalled for 2.0 s"]  # counted, not sent
    clock.advance(61)
    assert not bot.watchdog.check_stall(0.0)
    assert stalls() == ["event loop stalled for 2.0 s", "event loop stalled 2 more time(s) in 60 s, longest 3.0 s"]
    assert bot.watchdog.check_stall(1.0)  # a new window: alerted again
    assert stalls()[-1] == "event loop stalled for 1.0 s"


async def test_the_watchdog_task_sees_a_blocked_loop(make_bot):
    bot = await make_bot(TWO_VENUES + "[alerts]\nstall_after_s = 0.05\n", extra=PLUGINS)
    alerts = alerts_of(bot)
    await wait_for(lambda: bot.watchdog.ticks > 0, what="the watchdog's first tick")  # its timer is set
    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:  # a CPU-bound synchronous stretch: nothing else runs meanwhile
        pass
    await wait_for(lambda: any(a.kind == "watchdog" for a in alerts), what="the stall alert")
    [stall] = [a for a in alerts if a.kind == "watchdog"]
    seconds = float(stall.fields["stall_s"])
    assert 0.1 < seconds < 2.0 and stall.message.startswith("event loop stalled for ")


async def test_silence_alerts_once_while_strategies_run(make_bot):
    clock = ManualClock(NOW)
    bot = await make_bot(TWO_VENUES + "[alerts]\nsilent_after_s = 30\n", extra=PLUGINS, clock=clock)
    alerts = alerts_of(bot)
    watchdog = bot.watchdog

    def silences():
        return [a for a in alerts if a.kind == "watchdog"]

    clock.advance(29)
    assert not watchdog.check_silence()
    clock.advance(2)
    assert watchdog.check_silence()
    clock.advance(100)
    assert watchdog.check_silence()
    [silent] = silences()  # once per spell, however long it lasts
    assert silent.message == "no market data from any exchange for 31 s while strategies run"
    assert silent.fields["strategies"] == "s, s2" and silent.fields["exchanges"] == "v, w"

    bot.bus.publish(book("100", exchange="v"))
    assert not watchdog.check_silence()
    assert silences()[-1].message == "market data flowing again"

    bot.pause(["s", "s2"], by="test")  # nothing runs: silence is expected
    clock.advance(100)
    assert not watchdog.check_silence()
    bot.resume(["s"], by="test")
    clock.advance(20)
    assert not watchdog.check_silence()  # the silence clock restarted when a strategy ran again
    clock.advance(11)
    assert watchdog.check_silence()
    assert silences()[-1].message == "no market data from any exchange for 31 s while strategies run"
    assert silences()[-1].fields["strategies"] == "s"
    assert len(silences()) == 3


@pytest.mark.parametrize("silent_after_s", [30, 0])
async def test_the_watchdog_listens_to_market_events_only_when_silence_is_watched(make_bot, silent_after_s):
    """Its silence check is the only reader of the last market time: unwatched (a backtest), no per-tick call."""
    from bot.domain import BookUpdate, Trade

    bot = await make_bot(TWO_VENUES + f"[alerts]\nsilent_after_s = {silent_after_s}\n", extra=PLUGINS)
    for event_type in (BookUpdate, Trade):
        owners = [owner for owner, _ in bot.bus.topic(event_type, "v", "BTC/USD").route]
        assert ("watchdog" in owners) is bool(silent_after_s)
        assert "portfolio" in owners or event_type is Trade  # the route is the real one


async def test_observe_on_outlives_a_restart(make_bot):
    ScriptedVenue.instances.clear()
    first = await make_bot(TWO_VENUES, extra=PLUGINS)
    await first.commands.dispatch(ADMIN, "observe", ["on"])
    await first.stop()

    second = await make_bot(TWO_VENUES, extra=PLUGINS, start=False)
    alerts = alerts_of(second)
    await second.start()
    try:
        assert second.mode == "observe" and second.config.mode == "paper"  # no surprise trading after a crash
        ctx = second.strategies["s"].ctx
        assert ctx.submit(intent("s", Side.BUY, "1", "100", "after-1")) == "after-1"
        assert second.executor.order("after-1").status is OrderStatus.OBSERVED
        assert any("observe mode kept from before the restart" in a.message for a in alerts)
    finally:
        await second.stop()


async def test_stranger_windows_close_oldest_first_and_the_open_ones_stay():
    """A stranger's message closes the refusal windows that are over (their "N more in this chat" audit rows) and
    only those: the windows are kept in the order they opened, so it stops at the first still open."""
    from bot.commands import RATE_WINDOW_S, CommandTable
    from bot.config import CommandSettings

    clock = ManualClock()
    rows: list[dict] = []
    table = CommandTable({}, operator=None, audit=lambda **row: rows.append(row), clock=clock,
                         settings=CommandSettings())
    for i in range(3):  # a window opens every 10 s, in chat -i; a second stranger there is counted, not answered
        await table.dispatch(Caller("telegram", f"u{i}", None, f"-{i}"), "status", [])
        await table.dispatch(Caller("telegram", f"v{i}", None, f"-{i}"), "status", [])
        clock.advance(10)
    clock.advance(RATE_WINDOW_S - 25)  # the window opened at 0 s is over, those at 10 and 20 s are not
    await table.dispatch(Caller("telegram", "w", None, "-9"), "status", [])
    assert list(table._refusals) == [("telegram", "-1"), ("telegram", "-2"), ("telegram", "-9")]
    assert [r["chat_id"] for r in rows if "more in this chat" in r["outcome"]] == ["-0"]
    table.flush_refusals(force=True)
    assert not table._refusals
    assert [r["chat_id"] for r in rows if "more in this chat" in r["outcome"]] == ["-0", "-1", "-2"]


async def test_strangers_confirm_presses_are_within_the_global_stranger_reply_budget():
    """A stranger pressing a Confirm button (forged, or another user's) is refused like a stranger's command: at
    most [commands] stranger_replies_per_min refusals a minute are answered, all chats and both kinds together."""
    from bot.commands import CommandTable
    from bot.config import CommandSettings

    rows: list[dict] = []
    table = CommandTable({}, operator=None, audit=lambda **row: rows.append(row), clock=ManualClock(),
                         settings=CommandSettings(stranger_replies_per_min=1))
    first = await table.dispatch(Caller("telegram", "u1", None, "-1"), "status", [])
    assert not first.silent  # the minute's one answered refusal
    second = await table.dispatch(Caller("telegram", "u2", None, "-2"), "status", [])
    assert second.silent  # over the budget: counted, not answered
    presses = [await table.confirm(Caller("telegram", f"u{i}", None, f"-{i}"), "forged-token") for i in range(3, 8)]
    assert all(p.silent and p.title == "Not authorized." for p in presses)  # five more chats: none answered
    assert [r["outcome"] for r in rows] == ["refused: no role"] * 7  # each audited, the first of its chat


async def test_a_chats_refusal_count_is_audited_once_its_window_is_over_with_no_stranger_after(monkeypatch):
    """The "N more in this chat" row does not wait for the next stranger: a timer audits the windows once the
    oldest is over, and again for the ones still open then."""
    from bot import commands
    from bot.clock import Clock
    from bot.config import CommandSettings

    monkeypatch.setattr(commands, "RATE_WINDOW_S", 0.2)
    rows: list[dict] = []
    table = commands.CommandTable({}, operator=None, audit=lambda **row: rows.append(row), clock=Clock(),
                                  settings=CommandSettings())
    for user in ("u", "v", "w"):
        await table.dispatch(Caller("telegram", user, None, "-1"), "status", [])
    await asyncio.sleep(0.1)
    await table.dispatch(Caller("telegram", "x", None, "-2"), "status", [])
    await table.dispatch(Caller("telegram", "y", None, "-2"), "status", [])

    def counted() -> list[tuple[str, str]]:
        return [(r["chat_id"], r["outcome"]) for r in rows if "more in this chat" in r["outcome"]]

    await wait_for(lambda: len(counted()) == 2, timeout_s=3, what="both chats' counts audited")
    assert counted() == [("-1", "refused: no role, 2 more in this chat, not answered"),
                         ("-2", "refused: no role, 1 more in this chat, not answered")]
    assert not table._refusals and table._refusals_due is None  # nothing left: no timer armed


async def test_a_fee_only_entry_is_not_counted_among_the_fills_on_any_surface(traded):
    """A swap that landed failed: a fill of quantity 0 carrying its network fee. /pnl, `arbot report`, the daily
    summary and the web API show the ledger's one count of trades, the fee-only entry apart, its fee in the costs."""
    from bot.builtins import daily_summary
    from bot.ledger import totals
    from bot.report import fills_text, report_reply
    from plugins.web.api import _figures

    ctx = traded.strategies["s2"].ctx
    assert ctx.submit(intent("s2", Side.BUY, "0.1", "100", "H")) == "H"
    await wait_for(lambda: traded.executor.order("H").status is OrderStatus.OPEN, what="H open")
    traded.bus.publish(fill("H", Side.BUY, "0", "100", "0.05", utc_ns(2026, 11, 18, 11, 45)))
    await traded.executor.flush()
    day = await traded.commands.dispatch(VIEWER, "pnl", [])
    assert day.rows[2] == ("s2", "2 (+1 fee only)", "0.10 USD", "0.07 USD", "0.03 USD", "0.00 USD")
    # /pnl all's table of the bots: this bot's fills cell as its fills column, and `arbot report --all`'s row, show it
    assert day.data["summary"]["fills"] == fills_text(totals(traded.operator.pnl(
        since_ns=traded.operator.period_start_ns("day")).values())) == "4 (+1 fee only)"
    report = {row[0]: row for row in report_reply(traded.store).rows[1:]}
    assert report["s2"][3] == "2 (+1 fee only)" and report["s2"][6] == "0.07 USD"
    web = _figures(traded.operator.pnl(since_ns=traded.operator.period_start_ns("day"))["s2"])
    assert (web["fills"], web["fee_only"]) == (2, 1)
    seen = alerts_of(traded)
    traded.clock.advance(86_400)  # the summary of the day that ended
    await daily_summary(traded.operator)
    [alert] = [a for a in seen if a.kind == "summary"]
    assert alert.message == "daily summary: Wed 2026-11-18 (since 00:00 Europe/Berlin): 4 fills (and 1 fee-only entry)"


def test_pnl_totals_for_the_fleet_carry_every_fee_the_bots_row_shows():
    """A fee paid in a third asset (a DEX's SOL network fee on a JUP/USDC swap) is in the exact totals /pnl hands
    to the fleet front, and `/pnl all`'s fleet total shows it as the bot's fees column does."""
    from types import SimpleNamespace

    from bot.builtins import pnl
    from bot.commands import _totals_text
    from bot.domain import Fill, Liquidity
    from bot.ledger import fleet_totals, strategy_figures
    from bot.report import fees_text
    from bot.store.reads import StoreReads

    jup = Fill("jup", "JUP/USDC", "d-1", "t-1", Side.BUY, Decimal("0.75"), Decimal("100"), Decimal("0.000005"),
               "SOL", Liquidity.TAKER, 1)
    figures = strategy_figures([("dex", jup)])
    op = SimpleNamespace(timezone="UTC", period_start_ns=lambda period: 0, pnl=lambda since_ns=None: figures,
                         ledger=lambda: SimpleNamespace(transfer_costs=lambda since_ns=None: {}),
                         store=SimpleNamespace(read_off_loop=StoreReads("stand-in", RuntimeError).read))
    reply = asyncio.run(pnl(op, None, []))
    assert reply.rows[1][3] == fees_text(figures["dex"]) == "0.00 USDC + 0.000005 SOL"  # the bot's own row
    fleet = fleet_totals([reply.data["totals"]])  # what `/pnl all` adds up for the fleet total
    assert fleet["fees"].get("SOL") == Decimal("0.000005"), fleet["fees"]
    assert fleet["net"] == {"USDC": Decimal("0")}  # a fee in another asset stays out of net, as in the bot's row
    twice = fleet_totals([reply.data["totals"], reply.data["totals"]])
    assert _totals_text(twice)["fees"] == "0.00 USDC + 0.00001 SOL" and "other_fees" not in _totals_text(twice)


async def test_balance_answers_every_venue_that_answers_and_names_the_one_that_does_not(make_bot, monkeypatch):
    """One venue down (an error, or no answer at all) must not hide the others' balances: /balance shows them and
    names the venue it could not read, as the console's balances page does."""
    from bot.api import TransientError

    bot = await make_bot(TWO_VENUES, extra=PLUGINS)

    async def down():
        raise TransientError("503 service unavailable")

    monkeypatch.setattr(bot.exchanges["w"], "balances", down)
    reply = await bot.commands.dispatch(VIEWER, "balance", [])
    assert reply.ok, reply.render_text()
    assert reply.rows == [("exchange", "asset", "free", "total"), ("v", "USD", "1000.00", "1000.00")]
    assert reply.text == "w: not read (TransientError: 503 service unavailable)"

    async def hangs():
        await asyncio.sleep(3600)

    monkeypatch.setattr(bot.exchanges["w"], "balances", hangs)
    monkeypatch.setattr("bot.api._core.BALANCES_TIMEOUT_S", 0.2)
    async with asyncio.timeout(5):
        reply = await bot.commands.dispatch(VIEWER, "balance", [])
    assert reply.rows[1:] == [("v", "USD", "1000.00", "1000.00")]
    assert reply.text == "w: not read (no answer within 0.2 s)"


async def test_kill_says_how_many_strategies_it_paused_as_the_console_does(make_bot):
    """One strategy paused already: the kill pauses the other. /kill says so, with the figure the kill switch
    returns (the one the console's POST /api/v1/kill answers as ``paused``), not the number of strategies."""
    bot = await make_bot(TWO_VENUES, extra=PLUGINS)
    bot.operator.pause(["s2"], ADMIN)
    asked = await bot.commands.dispatch(ADMIN, "kill", ["drill"])
    reply = await bot.commands.confirm(ADMIN, asked.confirm_token)
    assert reply.ok and reply.title.startswith("Kill switch: 1 strategy paused (1 already was),"), reply.title
    assert bot.killed("s") and bot.killed("s2")


async def test_plugins_command_shows_each_error_of_the_running_bot(make_bot):
    """A plugin error raised while the bot runs (ArbotPluginError) is known only to the running bot: `arbot plugins`
    in another process loads the plugins afresh. `/plugins` (`arbot ctl plugins`) shows its message, masked."""
    bot = await make_bot("")
    before = (await bot.commands.dispatch(VIEWER, "plugins", [])).render_text()
    assert "error" not in before
    bot.plugin_failed("grid", "the venue answered 500")
    text = (await bot.commands.dispatch(VIEWER, "plugins", [])).render_text()
    assert 'plugin "grid"' in text and "the venue answered 500" in text, text


async def test_a_name_with_control_characters_is_quoted_escaped_in_the_reply_and_the_audit(make_bot):
    """A chat's ``/pause`` of a name holding a line break or a terminal escape: the refusal and the audit line show each
    as its escape (one line each, nothing a terminal obeys), as the web console's audit does."""
    bot = await make_bot(TWO_VENUES, extra=PLUGINS)
    name = "x\n== s: paused\x1b[2J\u202e"
    reply = await bot.commands.dispatch(ADMIN, "pause", [name])
    assert not reply.ok
    text = reply.render_text()
    assert "x\\n== s: paused\\x1b[2J\\u202e" in text and "\x1b" not in text and "\u202e" not in text
    line = next(entry for entry in audit_lines(bot) if entry.command == "pause")
    assert line.args == "x\\n== s: paused\\x1b[2J\\u202e", line.args
