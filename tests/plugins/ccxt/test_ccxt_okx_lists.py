"""OKX's finished orders, as ccxt reads them and as OKX keeps them.

ccxt's okx ``fetchClosedOrders`` reads ``GET /api/v5/trade/orders-history`` (OKX's "last 7 days") with
``state=filled``: no cancelled order, not even one filled in part, is in it; its ``fetchCanceledOrders`` reads the same
endpoint with ``state=canceled``. OKX documents that list as holding the orders of the last 7 days, and a cancelled
order that filled nothing for 2 hours only; ``orders-history-archive`` ("last 3 months", what ccxt's ``features``
table's 90 days describe) holds no cancelled order without fills at all, and ccxt reads it only when asked to.

Against the fake Gate as OKX (:func:`as_okx`): the plugin's tables read as OKX's (``settings.id``), ccxt's okx
``features`` entry, and the fake's finished-order list filtered by OKX's ``state`` and kept as OKX keeps it. Gate's
look-up by client id (its ``text``) finds resting orders only: these are the orders whose look-up by client id does
not find them, where the lists are all there is.
"""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal as D
from typing import Any

import pytest

from bot.api import OrderStatus

from .test_ccxt_order_history import DAY_S, HOUR_S, made_at, restart, stored
from .test_ccxt_orders import order

OKX_KEEPS_S = 7 * DAY_S
"""``orders-history``: the orders of the last 7 days."""
OKX_KEEPS_CANCELLED_S = 2 * HOUR_S
"""...and a cancelled order that filled nothing, 2 hours."""


def okx_features() -> dict[str, Any]:
    """ccxt's okx ``features`` entry of its finished-order list, as installed."""
    import ccxt

    return dict(ccxt.okx().features["spot"]["fetchClosedOrders"])


async def as_okx(gate_bot, fake_gate, monkeypatch, alerts: list):
    """A ccxt gate read as OKX against the fake Gate keeping its finished orders as OKX's ``orders-history`` does:
    (bot, gate). The finished list holds what was made in the last 7 days, filled orders only unless ``state`` asks
    for the cancelled ones (ccxt's gate sends none: its ``fetch_closed_orders`` stands for okx's, ``state=filled``),
    of which those that filled nothing are gone once made 2 hours ago; ``fetch_canceled_orders`` asks
    ``state=canceled`` of it, as ccxt's okx does."""
    bot, gate = await gate_bot(fill_poll_s=600)
    bot.subscribe_alerts(alerts.append, "test")
    monkeypatch.setattr(gate, "settings", dataclasses.replace(gate.settings, id="okx"))
    gate.api.features["spot"]["fetchClosedOrders"] = okx_features()
    api = gate.api

    async def fetch_canceled_orders(symbol=None, since=None, limit=None, params=None):
        return await api.fetch_closed_orders(symbol, since, limit, {**(params or {}), "state": "canceled"})

    monkeypatch.setattr(api, "fetch_canceled_orders", fetch_canceled_orders, raising=False)
    monkeypatch.setitem(api.has, "fetchCanceledOrders", True)
    listed = fake_gate._order_page

    def okx_page(query: dict) -> list[dict]:
        if query.get("status", "open") == "open":
            return listed(query)
        now = int(time.time())
        state = query.get("state", "filled")
        assert state in ("filled", "canceled"), query
        return [o for o in listed(query) if int(o["create_time"]) >= now - OKX_KEEPS_S
                and (o["status"] == "closed") == (state == "filled")
                and not (o["status"] == "cancelled" and D(o["filled_amount"]) == 0
                         and int(o["create_time"]) < now - OKX_KEEPS_CANCELLED_S)]

    monkeypatch.setattr(fake_gate, "_order_page", okx_page)
    return bot, gate


async def test_ccxts_okx_closed_list_asks_filled_orders_only_and_its_cancelled_list_the_rest():
    """The premise, read off the installed ccxt's requests: okx's closed list is ``orders-history`` with
    ``state=filled``, its cancelled list the same endpoint with ``state=canceled``."""
    import ccxt.async_support as ccxt_async

    api = ccxt_async.okx({"apiKey": "k", "secret": "s", "password": "p"})
    api.markets = {}
    asked: list[tuple[str, dict]] = []

    async def request(path, api_type="public", method="GET", params=None, headers=None, body=None, config=None):
        asked.append((path, dict(params or {})))
        return {"code": "0", "data": [], "msg": ""}

    api.request = request
    try:
        await api.fetch_closed_orders(None, 1_700_000_000_000, 100, {"until": 1_700_000_600_000})
        await api.fetch_canceled_orders(None, 1_700_000_000_000, 100, {"until": 1_700_000_600_000})
    finally:
        await api.close()
    assert [(path, params["state"]) for path, params in asked] == [
        ("trade/orders-history", "filled"), ("trade/orders-history", "canceled")], asked
    assert all(params["begin"] == 1_700_000_000_000 and params["end"] == 1_700_000_600_000 for _, params in asked)


async def test_an_okx_order_cancelled_after_a_partial_fill_is_found_not_never_received(
        gate_bot, fake_gate, monkeypatch):
    """An order sent an hour ago whose answer was lost (the bot down since) filled in part on OKX and was cancelled
    there. Its look-up by client id does not find it, and the lists were OKX's closed list only (``state=filled``):
    the look-up said OKX never saw it (None: the executor fails it as "never received", or sends it again, and its
    fill is never applied). OKX's cancelled orders are read too: it is found, cancelled, with its fill."""
    alerts: list = []
    bot, gate = await as_okx(gate_bot, fake_gate, monkeypatch, alerts)
    placed = await gate.place_order(order("okx-part-1"))
    fake_gate.fill(placed.exchange_order_id, D("0.004"))
    made_at(fake_gate, "okx-part-1", int(time.time()) - HOUR_S, status="cancelled")
    restart(gate)
    state = await gate.find_order(stored("okx-part-1", HOUR_S))
    assert state is not None and state.status is OrderStatus.CANCELLED, state
    assert state.filled_qty == D("0.004") and [f.qty for f in state.fills] == [D("0.004")]
    assert not [a for a in alerts if "okx-part-1" in a.message]
    assert await gate.find_order(stored("okx-never-1", HOUR_S)) is None  # never sent: still "never received"


async def test_an_okx_order_older_than_its_7_days_of_lists_is_unknown_saying_7_days(gate_bot, fake_gate, monkeypatch):
    """ccxt's ``features`` table gives OKX's finished orders 90 days: those of ``orders-history-archive``, which
    ccxt's fetchClosedOrders does not read. An order that filled 10 days ago, not found by client id: it is in no
    list ccxt reads, and its look-up said so as "cancelled orders for 2 hours" (or, for an older history, would have
    said OKX never saw it). It is UNKNOWN, saying the lists keep 7 days, and nothing is asked from before them."""
    alerts: list = []
    bot, gate = await as_okx(gate_bot, fake_gate, monkeypatch, alerts)
    placed = await gate.place_order(order("okx-old-1"))
    fake_gate.fill(placed.exchange_order_id, D("0.01"))
    made_at(fake_gate, "okx-old-1", int(time.time()) - 10 * DAY_S)
    restart(gate)
    fake_gate.order_list_queries.clear()
    state = await gate.find_order(stored("okx-old-1", 10 * DAY_S))
    assert state is not None and state.status is OrderStatus.UNKNOWN, state
    assert "finished orders for 7 days" in state.reason, state.reason
    said = [a for a in alerts if "okx-old-1" in a.message]
    assert [a.kind for a in said] == ["order-beyond-history"] and "7 days" in said[0].message
    froms = [int(q["from"]) for q in fake_gate.order_list_queries if q.get("status") == "finished" and "from" in q]
    assert froms and min(froms) >= int(time.time()) - OKX_KEEPS_S, froms


@pytest.mark.parametrize("how", ["restart", "poll"])
async def test_an_okx_cancelled_order_older_than_2_hours_is_unknown_with_one_alert_never_not_received(
        gate_bot, fake_gate, monkeypatch, how):
    """OKX keeps a cancelled order that filled nothing 2 hours. One made 3 hours ago and cancelled there since is in
    no list and no look-up: whether found by the restart's look-up (stored, its answer lost) or by the fill poll of
    the order tracked since it was placed, it ends UNKNOWN saying so, never "never received", with one
    ``order-beyond-history`` alert, however often reconciliation asks again. The poll knew no creation time: it
    alerted the order as one the venue no longer knows for no reason, and reconciliation alerted it a second time."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setattr(exchange, "NOT_FOUND_S", 0.0)
    alerts: list = []
    bot, gate = await as_okx(gate_bot, fake_gate, monkeypatch, alerts)
    created_ns = time.time_ns() - 3 * HOUR_S * 10**9
    sent = dataclasses.replace(order("okx-cx-2"), created_ns=created_ns)
    placed = await gate.place_order(sent)
    mine = made_at(fake_gate, "okx-cx-2", created_ns // 10**9, status="cancelled")
    del fake_gate.orders[mine["id"]]  # gone from OKX's look-ups too, its venue id's included
    if how == "restart":
        restart(gate)
        state = await gate.find_order(stored("okx-cx-2", 3 * HOUR_S))
        assert state is not None and state.status is OrderStatus.UNKNOWN, state
    else:
        assert "okx-cx-2" in gate._tracked
        for _ in range(exchange.NOT_FOUND_POLLS):
            await gate.poll_once()
        assert "okx-cx-2" not in gate._tracked
    again = await gate.find_order(dataclasses.replace(sent, status=OrderStatus.UNKNOWN,
                                                      exchange_order_id=placed.exchange_order_id))
    assert again is not None and again.status is OrderStatus.UNKNOWN and "2 hours" in again.reason, again
    said = [a for a in alerts if "okx-cx-2" in a.message]
    assert [a.kind for a in said] == ["order-beyond-history"], [(a.kind, a.message) for a in said]
    assert "2 hours" in said[0].message
