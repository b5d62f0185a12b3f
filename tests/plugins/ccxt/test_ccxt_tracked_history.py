"""A tracked order carries the creation time of its stored order, so that its fill poll tells an order older than the
venue's lists keep (MEXC's 7 days) from one the venue no longer knows for no known reason: the former ends UNKNOWN
saying so, with the one ``order-beyond-history`` alert, as the restart look-up ends it. Against the fake Gate keeping
its finished orders only so long, as in :mod:`.test_ccxt_order_history`."""

from __future__ import annotations

import dataclasses
import time

from bot.api import OrderReport, OrderStatus
from bot.api.testing import wait_for

from .test_ccxt_order_history import DAY_S, history_gate, keep_orders, made_at, restart, stored
from .test_ccxt_orders import order


async def test_a_tracked_order_older_than_the_lists_keep_ends_unknown_with_the_one_beyond_history_alert(
        gate_bot, fake_gate, monkeypatch):
    """MEXC's lists hold 7 days. An order resting since 10 days ago is found open by the restart look-up and polled;
    then it is cancelled there, and made before the 7 days it is in no list and no look-up any more. Its poll knew
    no creation time: after ``NOT_FOUND_POLLS`` "not found" it said the venue no longer knows it "for no known
    reason" (``order-unknown-to-venue``), and reconciliation's look-up alerted it a second time, as beyond the
    history. The restart look-up gives the tracked order its stored creation time: the poll ends it UNKNOWN saying
    the lists keep 7 days, with the one ``order-beyond-history`` alert, and reconciliation adds none."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setattr(exchange, "NOT_FOUND_S", 0.0)
    alerts: list = []
    bot, gate = await history_gate(gate_bot, alerts, days_back=7, until_days=7)
    reports: list[OrderReport] = []
    bot.bus.subscribe(OrderReport, reports.append, owner="test")
    placed = await gate.place_order(order("mx-rest-1"))
    mine = made_at(fake_gate, "mx-rest-1", int(time.time()) - 10 * DAY_S)
    keep_orders(fake_gate, monkeypatch, 7 * DAY_S)
    restart(gate)
    resting = dataclasses.replace(stored("mx-rest-1", 10 * DAY_S), status=OrderStatus.OPEN,
                                  exchange_order_id=placed.exchange_order_id)
    found = await gate.find_order(resting)
    assert found is not None and found.status is OrderStatus.OPEN and "mx-rest-1" in gate._tracked
    del fake_gate.orders[mine["id"]]  # cancelled there, and older than anything it keeps
    for _ in range(exchange.NOT_FOUND_POLLS):
        await gate.poll_once()
    assert "mx-rest-1" not in gate._tracked
    [ended] = [r.state for r in reports if r.state.client_order_id == "mx-rest-1"]
    assert ended.status is OrderStatus.UNKNOWN and "7 days" in ended.reason, ended
    again = await gate.find_order(resting)  # reconciliation asks again
    assert again is not None and again.status is OrderStatus.UNKNOWN
    said = [a for a in alerts if "mx-rest-1" in a.message]
    assert [a.kind for a in said] == ["order-beyond-history"], [(a.kind, a.message) for a in said]
    assert "7 days" in said[0].message


async def test_a_tracked_order_within_the_lists_history_still_ends_as_one_the_venue_no_longer_knows(
        gate_bot, fake_gate, monkeypatch):
    """The same with an order made a day ago, within MEXC's 7 days: the lists, read from its creation on, would hold
    it, so the venue no longer knowing it is not its history's doing: ``order-unknown-to-venue``, as before, and the
    poll read those lists from its creation on (never from before the 7 days)."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setattr(exchange, "NOT_FOUND_S", 0.0)
    alerts: list = []
    bot, gate = await history_gate(gate_bot, alerts, days_back=7, until_days=7)
    created_ns = time.time_ns() - DAY_S * 10**9
    await gate.place_order(dataclasses.replace(order("mx-day-1"), created_ns=created_ns))
    mine = made_at(fake_gate, "mx-day-1", created_ns // 10**9)
    keep_orders(fake_gate, monkeypatch, 7 * DAY_S)
    del fake_gate.orders[mine["id"]]  # deleted: no history explains it
    fake_gate.order_list_queries.clear()
    for _ in range(exchange.NOT_FOUND_POLLS):
        await gate.poll_once()
    assert "mx-day-1" not in gate._tracked
    said = [a for a in alerts if "mx-day-1" in a.message]
    assert [a.kind for a in said] == ["order-unknown-to-venue"], [(a.kind, a.message) for a in said]
    froms = [int(q["from"]) for q in fake_gate.order_list_queries if q.get("status") == "finished" and "from" in q]
    assert froms and min(froms) >= created_ns // 10**9 - 61, (froms, created_ns // 10**9)


async def test_through_the_executor_an_order_beyond_the_lists_is_alerted_once_and_stays_unknown(
        make_bot, fake_gate, monkeypatch):
    """The executor's own order, tracked from its placing with its row's creation time, on a venue whose lists keep a
    minute (``daysBack`` 1/1440: the order is older than that by the time it is looked for): the venue forgets it,
    the poll ends it UNKNOWN with the one ``order-beyond-history`` alert, and reconciliation, asking again, neither
    alerts it again nor takes it for never received."""
    import plugins.ccxt.exchange as exchange

    from .test_ccxt_fill_polls import ghost_order

    bot, gate, alerts, _ = await ghost_order(make_bot, fake_gate, monkeypatch, "minute-1", not_found_s=0.0)
    gate.api.features["spot"]["fetchClosedOrders"].update(daysBack=1 / 1440, untilDays=None)
    assert gate._created["minute-1"] == bot.executor.order("minute-1").created_ns
    for _ in range(exchange.NOT_FOUND_POLLS):
        await gate.poll_once()
    assert "minute-1" not in gate._tracked and "minute-1" not in gate._created
    await wait_for(lambda: bot.executor.order("minute-1").status is OrderStatus.UNKNOWN, timeout_s=5,
                   what="the order reported unknown")
    assert "1 minute" in bot.executor.order("minute-1").reason
    await bot.executor.reconcile()
    assert bot.executor.order("minute-1").status is OrderStatus.UNKNOWN
    said = [a for a in alerts if "minute-1" in a.message]
    assert [a.kind for a in said] == ["order-beyond-history"], [(a.kind, a.message) for a in said]
