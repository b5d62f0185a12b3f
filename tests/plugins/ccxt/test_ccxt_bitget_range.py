"""Bitget's trade list takes at most 90 days between ``startTime`` and ``endTime`` (``GET /api/v2/spot/trade/fills``:
"The interval between startTime and endTime must not exceed 90 days"; ccxt's ``features`` table gives its
fetchMyTrades ``untilDays`` 90) and "only supports to get the data within 90days" (a ``startTime`` further back is
refused: 43111 "param error time range illegal", ccxt issue #21502), against the fake Gate refusing such ranges and
serving its fills as Bitget does (the last 90 days; the newest of the range first, older ones through
``idLessThan``)."""

from __future__ import annotations

import time
from decimal import Decimal as D

from bot.api import OrderStatus

from .conftest import SYMBOL
from .test_ccxt_orders import order

DAY_S = 86_400


async def bitget_like_gate(gate_bot, fake_gate, monkeypatch, cid: str, qty: str, days_old: int,
                           alerts: list | None = None):
    """The ccxt gate reading trades as ccxt's bitget does (no fetchOrderTrades, the ``orderId`` filter, the
    ``idLessThan`` cursor, fetchMyTrades ``untilDays`` 90, fills listed for 90 days), the fake refusing a range over
    90 days or from further back, and an order of ``cid`` made ``days_old`` days ago: (gate, the venue's order, its
    creation time in s). ``alerts`` gets the bot's alerts."""
    import plugins.ccxt.exchange as exchange
    import plugins.ccxt.history as history

    monkeypatch.setattr(exchange, "TRADE_ORDER_PARAMS", {"gate": "order_id"})  # Bitget's orderId
    monkeypatch.setattr(exchange, "TRADE_OLDER_CURSOR", {"gate": "id_less_than"})  # Bitget's idLessThan
    monkeypatch.setitem(history.HISTORY_DAYS, ("gate", "fetchMyTrades"), 90)  # Bitget's fills: 90 days
    fake_gate.trade_list_order = "bitget"
    fake_gate.my_trades_max_range_s = 90 * DAY_S
    fake_gate.my_trades_history_s = 90 * DAY_S
    bot, gate = await gate_bot(fill_poll_s=600)
    if alerts is not None:
        bot.subscribe_alerts(alerts.append, "test")
    gate.api.has["fetchOrderTrades"] = False
    gate.api.features["spot"]["fetchMyTrades"]["untilDays"] = 90  # ccxt's bitget table
    await gate.place_order(order(cid, qty=qty))
    [mine] = fake_gate.orders.values()
    start = int(time.time()) - days_old * DAY_S
    mine.update(create_time=str(start), create_time_ms=start * 1000)
    return gate, mine, start


def fill_at(fake_gate, order_id: str, qty: D, second: int) -> None:
    trade = fake_gate.fill(order_id, qty)
    trade.update(create_time=str(second), create_time_ms=f"{second * 1000}.000")


async def test_an_order_older_than_90_days_has_its_fills_read_in_ranges_bitget_accepts(
        gate_bot, fake_gate, monkeypatch):
    """An order made 100 days ago (found again after a restart), filled in 150 trades 89 days ago and once more 5 days
    ago. ccxt7 read its fills in ranges of at most 90 days from its creation, but Bitget lists nothing older than 90
    days and refuses a range that starts before then ("param error time range illegal"): the look-up failed, at every
    poll. Its fills are read from where Bitget's history begins, each range's older pages through idLessThan: all
    151, in 2 requests, none refused."""
    gate, mine, start = await bitget_like_gate(gate_bot, fake_gate, monkeypatch, "bg-old-1", "0.0151", 100)
    now = int(time.time())
    for i in range(150):
        fill_at(fake_gate, mine["id"], D("0.0001"), now - 89 * DAY_S + i)
    fill_at(fake_gate, mine["id"], D("0.0001"), now - 5 * DAY_S)
    fake_gate.my_trades_queries.clear()
    state = await gate.fetch_order(SYMBOL, "bg-old-1")
    assert state.status is OrderStatus.FILLED and state.filled_qty == D("0.0151")
    assert len(state.fills) == len({f.trade_id for f in state.fills}) == 151
    queries = fake_gate.my_trades_queries
    assert queries and all(int(q["from"]) >= now - 90 * DAY_S for q in queries), queries
    assert all(int(q.get("to", time.time())) - int(q["from"]) <= 90 * DAY_S for q in queries), queries
    assert len(queries) == 2  # the newest 100 fills, then the 51 before them


async def test_an_order_within_90_days_is_read_in_one_range_as_before(gate_bot, fake_gate, monkeypatch):
    """An order made 10 days ago: one request from its creation on, no end time, as before."""
    gate, mine, start = await bitget_like_gate(gate_bot, fake_gate, monkeypatch, "bg-new-1", "0.0100", 10)
    fill_at(fake_gate, mine["id"], D("0.01"), start + DAY_S)
    fake_gate.my_trades_queries.clear()
    state = await gate.fetch_order(SYMBOL, "bg-new-1")
    assert [f.qty for f in state.fills] == [D("0.01")]
    assert len(fake_gate.my_trades_queries) == 1 and "to" not in fake_gate.my_trades_queries[0]


async def test_fills_older_than_bitgets_90_days_are_an_alert_naming_the_limit(gate_bot, fake_gate, monkeypatch):
    """Bitget lists no fill older than 90 days ("It only supports to get the data within 90days", its Get Fills). An
    order made 100 days ago, filled 0.0150 an hour after and 0.0001 five days ago (found again after a restart):
    its state said filled 0.0151 (the order's own figure) with one fill of 0.0001, the position short by 0.0150 and
    nothing said why (after 30 polls, an error blaming a lagging trade list). Now an alert names the order, the
    shortfall and Bitget's 90-day limit, once per order."""
    alerts: list = []
    gate, mine, start = await bitget_like_gate(gate_bot, fake_gate, monkeypatch, "bg-aged-1", "0.0151", 100, alerts)
    fake_gate.my_trades_history_s = 90 * DAY_S
    fill_at(fake_gate, mine["id"], D("0.0150"), start + 3600)
    fill_at(fake_gate, mine["id"], D("0.0001"), int(time.time()) - 5 * DAY_S)
    state = await gate.fetch_order(SYMBOL, "bg-aged-1")
    assert state.filled_qty == D("0.0151") and [f.qty for f in state.fills] == [D("0.0001")]
    said = [a for a in alerts if "bg-aged-1" in a.message]
    assert len(said) == 1, [a.message for a in alerts]
    assert "90 days" in said[0].message and "0.0150" in said[0].message
    await gate.fetch_order(SYMBOL, "bg-aged-1")
    assert len([a for a in alerts if "bg-aged-1" in a.message]) == 1  # once per order
