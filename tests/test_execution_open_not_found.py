"""An OPEN order its venue no longer finds, and a partly filled one: UNKNOWN, "cannot tell", never a guess.

Reconciliation acted on "not found" for UNKNOWN orders only: an OPEN order the venue had forgotten (a history that
dropped it, a ccxt venue without fetchOrder whose lists no longer hold it) stayed OPEN for ever, looked up at every
pass, flagged nowhere. After "not found" persists (:data:`bot.execution.NOT_FOUND_ANSWERS` answers in a row over at
least :data:`bot.execution.NOT_FOUND_S`) it becomes UNKNOWN, "cannot tell" (it was acknowledged: it may have
filled), alerted once, asked at the slower pace, never sent again. One partly filled ends the same way with its
fills: "not found" never proves that the rest did not fill.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot import execution
from bot.domain import Fill, Liquidity, OrderIntent, OrderReport, OrderState, OrderStatus, Side
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.waiting import wait_for
from tests.test_execution_unknown import CONFIG, ShiftedClock


@pytest.fixture
async def bot(make_bot):
    ScriptedVenue.instances.clear()
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin)])
    bot.test_alerts = []
    bot.alerts.subscribe(bot.test_alerts.append, "test")
    bot.executor.clock = bot.test_clock = ShiftedClock()
    return bot


def alerts_naming(bot, cid: str) -> list:
    return [a for a in bot.test_alerts if cid in a.message]


async def open_order(bot, cid: str) -> str:
    bot.executor.submit(OrderIntent("manual", "v", "BTC/USD", Side.BUY, Decimal(1), Decimal(100), client_order_id=cid))
    await wait_for(lambda: bot.executor.order(cid).status is OrderStatus.OPEN, what="the order open")
    return cid


def counting(venue: ScriptedVenue) -> list[int]:
    """Count ``venue``'s look-ups (one element a look-up)."""
    asked: list[int] = []
    fetch = venue.fetch_order

    async def counted(symbol, client_order_id):
        asked.append(1)
        return await fetch(symbol, client_order_id)
    venue.fetch_order = counted  # type: ignore[method-assign]
    return asked


async def passes(bot, seconds: float, every_s: float = 30.0) -> None:
    """Reconciliation passes ``every_s`` apart for ``seconds``."""
    for _ in range(int(seconds / every_s)):
        await bot.executor.reconcile()
        bot.test_clock.advance(every_s)


async def test_an_open_order_the_venue_no_longer_finds_becomes_unknown_alerted_once(bot):
    """Acknowledged (venue id X1), OPEN, then "not found" at every look-up: it stayed OPEN for ever (120 look-ups an
    hour, no word); /orders showed it open and its strategy waited on it."""
    venue = bot.exchanges["v"]
    cid = await open_order(bot, "open-1")
    del venue.orders[cid]  # the venue no longer lists it
    asked = counting(venue)
    await passes(bot, 3600)
    order = bot.executor.order(cid)
    said = alerts_naming(bot, cid)
    print(f"an hour of passes: {order.status.value}, {len(asked)} look-ups, {len(said)} alert(s) - {order.reason}")
    assert order.status is OrderStatus.UNKNOWN, order.reason
    assert "cannot tell" in order.reason and "X1" in order.reason and "never received" not in order.reason
    assert [o.client_order_id for o in bot.executor.unknown_orders()] == [cid]
    assert len(said) == 1 and said[0].kind == "order-unknown", said
    assert venue.submissions[cid] == 1  # never sent again
    # three answers to become UNKNOWN, then asked at the slower pace (60 s doubling up to 15 min), not 120 an hour
    assert len(asked) <= 12, len(asked)
    await passes(bot, 3600)
    assert len(alerts_naming(bot, cid)) == 1 and venue.submissions[cid] == 1
    # the venue finds it again, filled: adopted with its fill
    venue.orders[cid] = OrderState(cid, OrderStatus.FILLED, "X1", Decimal(1), Decimal(100), (Fill(
        "v", "BTC/USD", cid, "T1", Side.BUY, Decimal(100), Decimal(1), Decimal(0), "USD", Liquidity.MAKER, 2),))
    bot.test_clock.advance(execution.UNKNOWN_LOOKUP_MAX_S)
    await bot.executor.reconcile()
    assert bot.executor.order(cid).status is OrderStatus.FILLED
    assert bot.portfolio.position("v", "BTC/USD") == Decimal(1)


async def test_an_open_order_missed_briefly_stays_open(bot):
    """The bound is answers in a row AND time: a venue whose lists lag (not found, then found) leaves it OPEN, and
    many quick "not found" answers under NOT_FOUND_S do not end it either."""
    venue = bot.exchanges["v"]
    cid = await open_order(bot, "open-2")
    state = venue.orders.pop(cid)
    for _ in range(execution.NOT_FOUND_ANSWERS - 1):
        await bot.executor.reconcile()
        bot.test_clock.advance(30)
    venue.orders[cid] = state  # found again: the count starts over
    await bot.executor.reconcile()
    assert bot.executor.order(cid).status is OrderStatus.OPEN
    del venue.orders[cid]
    for _ in range(execution.NOT_FOUND_ANSWERS * 3):  # quick passes, all within NOT_FOUND_S of the first
        await bot.executor.reconcile()
    assert bot.executor.order(cid).status is OrderStatus.OPEN
    assert alerts_naming(bot, cid) == []
    bot.test_clock.advance(execution.NOT_FOUND_S)
    await bot.executor.reconcile()
    assert bot.executor.order(cid).status is OrderStatus.UNKNOWN


async def test_a_partly_filled_open_order_the_venue_no_longer_finds_is_unknown_with_its_fills(bot):
    """0.4 of 1 filled, then the venue no longer finds it: the rest may have filled as well. It is UNKNOWN with its
    fill (the position 0.4, what is known), alerted once, never CANCELLED ("the rest ended": a guess)."""
    venue = bot.exchanges["v"]
    cid = await open_order(bot, "part-1")
    bot.bus.publish(Fill("v", "BTC/USD", cid, "T1", Side.BUY, Decimal(100), Decimal("0.4"), Decimal(0), "USD",
                         Liquidity.MAKER, 1))
    bot.bus.publish(OrderReport("v", "BTC/USD", OrderState(cid, OrderStatus.OPEN, "X1", Decimal("0.4"),
                                                           Decimal(100)), 1))
    await wait_for(lambda: bot.executor.order(cid).filled_qty == Decimal("0.4"), what="the fill applied")
    del venue.orders[cid]
    await passes(bot, 600)
    order = bot.executor.order(cid)
    print("partly filled, not found:", order.status.value, order.filled_qty, "-", order.reason)
    assert (order.status, order.filled_qty) == (OrderStatus.UNKNOWN, Decimal("0.4")), order.reason
    assert "0.4 of 1 filled" in order.reason and "cannot tell" in order.reason
    assert bot.portfolio.position("v", "BTC/USD") == Decimal("0.4")
    said = alerts_naming(bot, cid)
    assert len(said) == 1 and said[0].kind == "order-unknown", said
    assert venue.submissions[cid] == 1
