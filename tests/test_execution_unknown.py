"""Orders whose outcome is unknown: "never received" (FAILED) only for an order the venue never acknowledged, and an
order whose look-ups keep failing heard once, not at every reconciliation.

An order with a venue id, or with a fill, WAS received: it may have filled. A venue that answers "not found" for it
(a ccxt venue without fetchOrder whose lists no longer hold it, a history that dropped it) cannot say it never got
it: the order stays UNKNOWN (alerted once, looked up again at a slower pace), never FAILED, never sent again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

import pytest

from bot import execution
from bot.clock import Clock
from bot.commands import Caller
from bot.domain import Fill, Liquidity, OrderIntent, OrderReport, OrderState, OrderStatus, Side
from tests.fakes.venue import KeptVenue, ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.waiting import wait_for

CONFIG = """
[executor]
backoff_initial_s = 0.01
backoff_max_s = 0.02
request_timeout_s = 0.2
max_retries = 2
[exchanges.v]
type = "scripted"
"""
ADMIN = Caller("test", "root", "admin")
UNPACED = CONFIG.replace("max_retries = 2", "max_retries = 2\norders_per_s = 1000\nburst = 1000")
"""Hours of reconciliation passes run back to back on a :class:`ShiftedClock`: the lanes' token buckets run on the
loop's own clock, which the test does not move, so at the default 25 requests a second they spaced the look-ups
40 ms apart (9.4 of the 9.8 s two hours took), a wait for nothing the test looks at."""


class ShiftedClock(Clock):
    """The real clock, moved ahead by :meth:`advance` (an hour passes in a test)."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def time_ns(self) -> int:  # type: ignore[override]
        return time.time_ns() + int(self.offset_s * 1e9)

    def monotonic(self) -> float:  # type: ignore[override]
        return time.monotonic() + self.offset_s

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds


async def started(make_bot, config: str = CONFIG):
    ScriptedVenue.instances.clear()
    bot = await make_bot(config, extra=[("venue", venue_plugin)])
    bot.test_alerts = []
    bot.alerts.subscribe(bot.test_alerts.append, "test")
    return bot


@pytest.fixture
async def bot(make_bot):
    return await started(make_bot)


def submit(bot, cid: str) -> str:
    return bot.executor.submit(OrderIntent("manual", "v", "BTC/USD", Side.BUY, Decimal("0.1"), Decimal(100),
                                           client_order_id=cid))


def alerts_naming(bot, cid: str) -> list[str]:
    return [a.message for a in bot.test_alerts if cid in a.message]


async def test_an_acknowledged_order_the_venue_no_longer_finds_stays_unknown_not_failed(bot):
    """The venue took the order (venue id X1), then reported it UNKNOWN (a ccxt venue's fill poll no longer finds
    it), and its look-ups answer "not found" (no fetchOrder: its lists no longer hold it). Reconciliation, twice the
    request timeout later, ended it FAILED, "the venue never received it": it may have filled."""
    venue = bot.exchanges["v"]
    cid = submit(bot, "ack-1")
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.OPEN, what="the order open")
    assert bot.executor.order(cid).exchange_order_id == "X1"
    bot.bus.publish(OrderReport("v", "BTC/USD", OrderState(cid, OrderStatus.UNKNOWN, "X1",
                                                           reason="the venue no longer knows it"), 1))
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.UNKNOWN, what="reported unknown")
    del venue.orders[cid]  # its look-up answers None from now on
    await asyncio.sleep(0.5)  # past twice request_timeout_s
    await bot.executor.reconcile()
    order = bot.executor.order(cid)
    print("after reconcile:", order.status.value, "-", order.reason)
    assert order.status is OrderStatus.UNKNOWN, order.reason
    assert "never received" not in order.reason
    assert "X1" in order.reason and "cannot tell" in order.reason
    assert [o.client_order_id for o in bot.executor.unknown_orders()] == [cid]
    assert venue.submissions[cid] == 1
    # reported UNKNOWN by its venue, whose plugin alerts it (ccxt's order-unknown-to-venue): not alerted again here
    assert alerts_naming(bot, cid) == []
    for _ in range(3):
        bot.executor._pace.pop(cid, None)  # (asked at once, whatever the pace)
        await bot.executor.reconcile()
    assert bot.executor.order(cid).status is OrderStatus.UNKNOWN
    assert alerts_naming(bot, cid) == []
    venue.orders[cid] = OrderState(cid, OrderStatus.FILLED, "X1", Decimal("0.1"), Decimal(100), (Fill(
        "v", "BTC/USD", cid, "T1", Side.BUY, Decimal(100), Decimal("0.1"), Decimal(0), "USD", Liquidity.MAKER, 2),))
    bot.executor._pace.pop(cid, None)
    await bot.executor.reconcile()  # the venue finds it again: adopted with its fill
    assert bot.executor.order(cid).status is OrderStatus.FILLED
    assert bot.portfolio.position("v", "BTC/USD") == Decimal("0.1")


async def test_an_acknowledged_order_the_venue_no_longer_finds_after_a_restart_stays_unknown(make_bot):
    """Stored OPEN with its venue id X1; after a restart its venue answers "not found": it was FAILED, "the venue
    never received it (found after a restart)"."""
    config = 'on_shutdown = "keep"\n[exchanges.v]\ntype = "kept"\n'
    KeptVenue.ORDERS, KeptVenue.on_list, KeptVenue.stored = {}, None, False
    first = await make_bot(config, extra=[("venue", venue_plugin)])
    cid = submit(first, "ack-2")
    await wait_for(lambda: first.executor.order(cid).status is OrderStatus.OPEN, what="the order open")
    await first.stop()
    KeptVenue.ORDERS.clear()  # its lists no longer hold it

    second = await make_bot(config, extra=[("venue", venue_plugin)], start=False)
    alerts: list = []
    second.alerts.subscribe(alerts.append, "test")
    await second.start()
    order = second.store.get_order(cid)
    print("after restart:", order.status.value, "-", order.reason)
    assert order.status is OrderStatus.UNKNOWN, order.reason
    assert "never received" not in order.reason and "X1" in order.reason
    assert [o.client_order_id for o in second.executor.unknown_orders()] == [cid]
    said = [a for a in alerts if cid in a.message]
    assert len(said) == 1 and said[0].kind == "order-unknown", said
    assert "check it on the venue" in said[0].message.lower(), said
    for _ in range(3):  # each later pass: "not found" again, no second alert, no FAILED
        second.executor._pace.pop(cid, None)  # (asked at once, whatever the pace)
        await second.executor.reconcile()
    assert second.executor.order(cid).status is OrderStatus.UNKNOWN
    assert len([a for a in alerts if cid in a.message]) == 1


async def test_a_never_acknowledged_order_the_venue_does_not_know_still_fails(bot):
    """The rule's other half: no venue id, no fill, the venue answers "not found": never received (FAILED)."""
    venue = bot.exchanges["v"]
    venue.faults = ["hang"]
    venue.lookup_faults = 100
    cid = submit(bot, "nack-1")
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.UNKNOWN, timeout_s=5, what="unknown")
    venue.lookup_faults = 0
    del venue.orders[cid]  # it never got there after all
    await asyncio.sleep(0.5)
    await bot.executor.reconcile()
    order = bot.executor.order(cid)
    assert order.status is OrderStatus.FAILED and "never received" in order.reason


async def test_an_order_with_a_fill_whose_look_up_finds_nothing_is_never_sent_again(bot):
    """Its answer lost, a fill of it heard on the venue's feed, and its look-up "not found" (the venue's lists lag):
    the executor sent it again (the venue received it twice) and, after max_retries, ended it FAILED with a fill."""
    venue = bot.exchanges["v"]
    venue.faults = ["hang"]
    cid = submit(bot, "fill-1")
    await wait_for(lambda: venue.submissions[cid] == 1, what="the order sent")
    del venue.orders[cid]  # the look-up will not find it
    bot.bus.publish(Fill("v", "BTC/USD", cid, "T1", Side.BUY, Decimal(100), Decimal("0.04"), Decimal(0), "USD",
                         Liquidity.MAKER, 1))
    assert await bot.executor.settle(5)
    order = bot.executor.order(cid)
    print("submissions:", venue.submissions[cid], "status:", order.status.value, "-", order.reason)
    assert venue.submissions[cid] == 1
    assert order.status is OrderStatus.UNKNOWN and "never received" not in order.reason
    assert bot.portfolio.position("v", "BTC/USD") == Decimal("0.04")


async def test_an_order_whose_look_ups_keep_failing_is_logged_once_then_counted_hourly(make_bot, caplog):
    """Reconciliation (every 30 s, max_retries + 1 attempts) logged "look-up of X failed" at every attempt: 3 lines
    a pass, 360 an hour, for ever. Now: the first failure, then a count per order once an hour; the order is asked
    once a pass; one alert for it."""
    bot = await started(make_bot, UNPACED)
    clock = ShiftedClock()
    bot.executor.clock = clock
    venue = bot.exchanges["v"]
    venue.faults = ["hang"]
    venue.lookup_faults = 10**6
    cid = submit(bot, "ghost-1")
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.UNKNOWN, timeout_s=5, what="unknown")
    alerted = len(alerts_naming(bot, cid))
    assert alerted == 1
    caplog.clear()
    asked = venue.lookup_faults
    with caplog.at_level(logging.INFO, logger="arbot.executor"):
        for _ in range(245):  # two hours of passes, 30 s apart (and a little more)
            await bot.executor.reconcile()
            clock.advance(30)
    lines = [r.getMessage() for r in caplog.records if cid in r.getMessage() and r.levelno >= logging.WARNING]
    looked_up = asked - venue.lookup_faults
    print(f"two hours of reconciliation: {len(lines)} warnings, {looked_up} look-ups")
    for line in lines:
        print("  ", line)
    # its first failure was logged when it became UNKNOWN; then a count an hour
    assert len(lines) == 2 and all("look-up(s) failed in the last" in line for line in lines), lines
    # one attempt a pass, not 3 (720): a venue not answering is asked at every pass, so that the order is settled as
    # soon as it is back (a venue that answers and cannot tell is asked at a slower pace: the ghost tests above)
    assert looked_up <= 250, looked_up
    assert len(alerts_naming(bot, cid)) == alerted  # no alert per pass
    assert bot.executor.order(cid).status is OrderStatus.UNKNOWN
    venue.lookup_faults = 0  # the venue answers again: found, adopted
    clock.advance(execution.UNKNOWN_LOOKUP_MAX_S)
    await bot.executor.reconcile()
    assert bot.executor.order(cid).status is OrderStatus.OPEN


async def test_status_shows_each_unknown_order_and_for_how_long(bot):
    """/status's "unknown orders" listed their ids only: not how long each had been unknown, nor where."""
    venue = bot.exchanges["v"]
    venue.faults = ["hang"]
    venue.lookup_faults = 10**6
    cid = submit(bot, "ghost-2")
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.UNKNOWN, timeout_s=5, what="unknown")
    since = bot.executor.unknown_since_ns(cid)
    assert since is not None and since <= time.time_ns()
    await asyncio.sleep(0.3)
    rows = dict((await bot.commands.dispatch(ADMIN, "status", [])).rows)
    assert rows["unknown orders"] == cid
    print("status rows:", {k: v for k, v in rows.items() if "unknown" in k})
    row = rows[f"unknown {cid}"]
    assert row.startswith("for ") and "on v BTC/USD" in row, row
