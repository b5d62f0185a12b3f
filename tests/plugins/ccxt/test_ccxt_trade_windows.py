"""An order's trades read from the account's trade list in windows no longer than the venue takes (Crypto.com: one
day), against the fake Gate refusing a longer range as Crypto.com does."""

from __future__ import annotations

import time
from decimal import Decimal as D

from bot.api import OrderStatus

from .conftest import SYMBOL
from .test_ccxt_orders import order

DAY_S = 86_400


async def test_an_old_orders_trades_are_read_in_day_windows_where_the_venue_refuses_longer_ranges(
        gate_bot, fake_gate, monkeypatch):
    """After a restart, an order made three days ago whose fills came an hour and two days after it: one
    fetchMyTrades from its creation to now spans three days, which Crypto.com refuses. The trade list is read one
    day window after another, from the order's creation, until its trades add up to what it filled."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setitem(exchange.TRADE_WINDOW_MS, "gate", DAY_S * 1000)
    fake_gate.my_trades_max_range_s = DAY_S
    bot, gate = await gate_bot()
    gate.api.has["fetchOrderTrades"] = False
    await gate.place_order(order("old-1"))
    [mine] = fake_gate.orders.values()
    start = int(time.time()) - 3 * DAY_S
    mine.update(create_time=str(start), create_time_ms=start * 1000)

    def at(trade: dict, second: int) -> None:
        trade.update(create_time=str(start + second), create_time_ms=f"{(start + second) * 1000}.000")

    at(fake_gate.fill(mine["id"], D("0.004")), 3600)
    at(fake_gate.fill(mine["id"], D("0.006")), 2 * DAY_S + 60)
    fake_gate.my_trades_queries.clear()
    state = await gate.fetch_order(SYMBOL, "old-1")
    assert state.status is OrderStatus.FILLED and state.filled_qty == D("0.01")
    assert sorted(f.qty for f in state.fills) == [D("0.004"), D("0.006")]
    spans = [int(q.get("to", time.time())) - int(q["from"]) for q in fake_gate.my_trades_queries]
    assert spans and max(spans) <= DAY_S, fake_gate.my_trades_queries
    assert len(fake_gate.my_trades_queries) == 3  # day 1 (first fill), day 2 (none), day 3 (the rest): done


async def test_a_venue_without_a_range_limit_reads_from_the_creation_to_now_in_one_call(gate_bot, fake_gate):
    """Gate takes any range: one call from the order's creation on, as before."""
    bot, gate = await gate_bot()
    gate.api.has["fetchOrderTrades"] = False
    await gate.place_order(order("old-2"))
    [mine] = fake_gate.orders.values()
    start = int(time.time()) - 3 * DAY_S
    mine.update(create_time=str(start), create_time_ms=start * 1000)
    trade = fake_gate.fill(mine["id"], D("0.01"))
    trade.update(create_time=str(start + 2 * DAY_S), create_time_ms=f"{(start + 2 * DAY_S) * 1000}.000")
    fake_gate.my_trades_queries.clear()
    state = await gate.fetch_order(SYMBOL, "old-2")
    assert [f.qty for f in state.fills] == [D("0.01")]
    assert len(fake_gate.my_trades_queries) == 1 and "to" not in fake_gate.my_trades_queries[0]


async def crypto_com_like_gate(gate_bot, fake_gate, monkeypatch, cid: str, days_old: int):
    """A gate that reads trades as on Crypto.com (one-day windows, longer ranges refused, no trades by order), and
    an order of ``cid`` on it made ``days_old`` days ago: (gate, the venue's order, its creation time in s)."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setitem(exchange.TRADE_WINDOW_MS, "gate", DAY_S * 1000)
    fake_gate.my_trades_max_range_s = DAY_S
    bot, gate = await gate_bot(fill_poll_s=600)  # the test's looks only: the requests each makes are counted
    gate.api.has["fetchOrderTrades"] = False
    await gate.place_order(order(cid))
    [mine] = fake_gate.orders.values()
    start = int(time.time()) - days_old * DAY_S
    mine.update(create_time=str(start), create_time_ms=start * 1000)
    return gate, mine, start


def fill_at(fake_gate, order_id: str, qty: D, second: int) -> None:
    trade = fake_gate.fill(order_id, qty)
    trade.update(create_time=str(second), create_time_ms=f"{second * 1000}.000")


async def test_fills_twelve_days_apart_are_all_read_through_the_empty_days_between(gate_bot, fake_gate, monkeypatch):
    """An order made 13 days ago, filled an hour after and again 12 days after: the ten empty one-day windows
    between its fills no longer use up the page cap (they counted toward it, so the second fill was never read and
    the lagging polls reported the order short). Every window is read whole, none longer than a day."""
    gate, mine, start = await crypto_com_like_gate(gate_bot, fake_gate, monkeypatch, "apart-1", 13)
    fill_at(fake_gate, mine["id"], D("0.004"), start + 3600)
    fill_at(fake_gate, mine["id"], D("0.006"), start + 12 * DAY_S + 60)
    fake_gate.my_trades_queries.clear()
    state = await gate.fetch_order(SYMBOL, "apart-1")
    assert state.status is OrderStatus.FILLED and state.filled_qty == D("0.01")
    assert sorted(f.qty for f in state.fills) == [D("0.004"), D("0.006")]
    spans = [int(q.get("to", time.time())) - int(q["from"]) for q in fake_gate.my_trades_queries]
    assert max(spans) <= DAY_S, fake_gate.my_trades_queries
    assert len(fake_gate.my_trades_queries) == 13  # days 1 to 13, the last up to now
    assert not gate._trade_windows  # settled: nothing kept to go on from


async def test_a_later_look_at_an_order_goes_on_from_the_windows_already_read(gate_bot, fake_gate, monkeypatch):
    """An order resting 13 days, filled in part an hour after it was made and again on day 12: each poll read the
    account's trades from its creation on again (a request a day, at Crypto.com's one a second). Windows that ended
    in the past and were read whole are not read again: the next poll starts where the last one left off."""
    gate, mine, start = await crypto_com_like_gate(gate_bot, fake_gate, monkeypatch, "rest-1", 13)
    fill_at(fake_gate, mine["id"], D("0.002"), start + 3600)
    fill_at(fake_gate, mine["id"], D("0.003"), start + 12 * DAY_S + 60)
    state = await gate.fetch_order(SYMBOL, "rest-1")
    assert state.status is OrderStatus.OPEN and sorted(f.qty for f in state.fills) == [D("0.002"), D("0.003")]
    fill_at(fake_gate, mine["id"], D("0.001"), int(time.time()))
    fake_gate.my_trades_queries.clear()
    state = await gate.fetch_order(SYMBOL, "rest-1")
    assert sorted(f.qty for f in state.fills) == [D("0.001"), D("0.002"), D("0.003")]
    assert len(fake_gate.my_trades_queries) <= 2, fake_gate.my_trades_queries
    assert min(int(q["from"]) for q in fake_gate.my_trades_queries) >= start + 11 * DAY_S


async def test_one_look_reads_at_most_trade_windows_windows_and_the_next_goes_on(gate_bot, fake_gate, monkeypatch):
    """The range read at one look is bounded (TRADE_WINDOWS, here 5 one-day windows): an order whose fill came 12
    days after it is read short at first, and the following looks go on from there until its trade is found."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setattr(exchange, "TRADE_WINDOWS", 5)
    gate, mine, start = await crypto_com_like_gate(gate_bot, fake_gate, monkeypatch, "far-1", 13)
    fill_at(fake_gate, mine["id"], D("0.01"), start + 12 * DAY_S + 60)
    looks = []
    for _ in range(3):
        fake_gate.my_trades_queries.clear()
        state = await gate.fetch_order(SYMBOL, "far-1")
        looks.append(([int(q["from"]) for q in fake_gate.my_trades_queries], [f.qty for f in state.fills]))
    assert [len(froms) for froms, _ in looks[:2]] == [5, 5]
    assert looks[1][0][0] > looks[0][0][-1]  # the second look begins after the first one's windows
    assert looks[0][1] == looks[1][1] == [] and looks[2][1] == [D("0.01")]
