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
