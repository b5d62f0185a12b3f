"""Finding an order in the venue's closed-order list (venues whose ccxt ``fetch_order`` cannot look up by client id:
Bybit, Crypto.com), against the fake Gate's list, which gives at most ``limit`` orders (100 by default), the newest
first, as the venues do: an order behind a page of newer ones is not in the first page."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal as D

import pytest

from bot.api import OrderStatus, UnknownOutcome

from .conftest import SYMBOL
from .test_ccxt_orders import order


@pytest.fixture
def by_list(monkeypatch):
    """The ccxt gate looked up as Bybit and Crypto.com are: from the open and closed order lists."""
    import plugins.ccxt.orders as orders

    monkeypatch.setitem(orders.CLIENT_IDS, "gate", dataclasses.replace(orders.CLIENT_IDS["gate"], fetch_by_id=False))


def newer_closed_orders(fake_gate, n: int, after_s: int) -> None:
    """``n`` closed orders of the account made from ``after_s`` seconds from now on (a busy grid's)."""
    template = next(iter(fake_gate.orders.values()))
    now = int(time.time())
    for i in range(n):
        oid = str(900_000_000 + i)
        fake_gate.orders[oid] = {**template, "id": oid, "text": f"t-other{i}", "status": "closed",
                                 "create_time": str(now + after_s + i), "create_time_ms": (now + after_s + i) * 1000}


async def test_a_restart_finds_an_order_behind_a_full_page_of_newer_closed_orders(gate_bot, fake_gate, by_list):
    """An order of the last run that filled, then 150 newer orders closed on the account: the closed list's first
    page (the newest 100) does not hold it, and the look-up said the venue never saw it (None: a filled order
    failed, its fill never applied). The look-up reads the list from the stored order's creation on."""
    bot, gate = await gate_bot(fill_poll_s=600)
    created_ns = time.time_ns()
    await gate.place_order(order("lost-1"))
    [mine] = fake_gate.orders.values()
    fake_gate.fill(mine["id"], D("0.01"))
    newer_closed_orders(fake_gate, 150, after_s=5)
    stored = dataclasses.replace(order("lost-1"), status=OrderStatus.OPEN, created_ns=created_ns,
                                 updated_ns=created_ns)
    gate.memory.ids.clear()  # a restart: nothing of the last run known
    state = await gate.find_order(stored)
    assert state is not None and state.status is OrderStatus.FILLED
    assert [f.qty for f in state.fills] == [D("0.01")]


async def test_an_order_not_in_a_full_page_of_closed_orders_is_an_unknown_outcome_not_a_never_seen(
        gate_bot, fake_gate, by_list):
    """Without the order's creation time, a closed list that came back full (the venue's page limit) does not say
    the venue never saw the order: the look-up says it cannot tell, and nothing is sent again on its word."""
    bot, gate = await gate_bot(fill_poll_s=600)
    await gate.place_order(order("some-1"))
    newer_closed_orders(fake_gate, 150, after_s=5)
    with pytest.raises(UnknownOutcome):
        await gate.fetch_order(SYMBOL, "never-sent-1")


async def test_an_order_the_venue_never_saw_is_none_once_the_list_since_its_creation_is_read_whole(
        gate_bot, fake_gate, by_list):
    """150 closed orders since the order's intent, more than a page: the range from its creation on is read in
    parts each under a page, and, the order in none of them, the venue never saw it (None: it may be sent)."""
    bot, gate = await gate_bot(fill_poll_s=600)
    created_ns = time.time_ns() - 300 * 10**9  # its intent, 5 minutes ago (its lane held it)
    await gate.place_order(order("some-2"))
    newer_closed_orders(fake_gate, 150, after_s=-200)
    fake_gate.order_list_queries.clear()
    stored = dataclasses.replace(order("never-sent-2"), status=OrderStatus.PENDING, created_ns=created_ns)
    assert await gate.find_order(stored) is None
    closed = [q for q in fake_gate.order_list_queries if q.get("status") == "finished"]
    assert 2 <= len(closed) <= 10, closed


async def test_a_cancelled_order_is_found_where_ccxt_emulates_the_closed_list(gate_bot, fake_gate, by_list,
                                                                            monkeypatch):
    """Crypto.com through ccxt: ``fetchClosedOrders`` is ccxt's emulation, its ``fetchOrders`` (the venue's order
    history, filled and cancelled) filtered to status "closed". An order filled in part and then cancelled was in
    neither list: its look-up said the venue never saw it, and its fill was never applied. The look-up reads
    ``fetchOrders`` there."""
    bot, gate = await gate_bot(fill_poll_s=600)
    state = await gate.place_order(order("part-1"))
    fake_gate.fill(state.exchange_order_id, D("0.004"))
    fake_gate.orders[state.exchange_order_id].update(status="cancelled", finish_as="cancelled")
    api, history = gate.api, gate.api.fetch_closed_orders  # Gate's finished list: filled and cancelled

    async def emulated_closed(symbol=None, since=None, limit=None, params={}):  # noqa: B006 - ccxt's signature
        return [o for o in await history(symbol, since, limit, params) if o["status"] == "closed"]

    monkeypatch.setattr(api, "fetch_orders", history)
    monkeypatch.setattr(api, "fetch_closed_orders", emulated_closed)
    api.has.update(fetchOrders=True, fetchClosedOrders="emulated")
    found = await gate.fetch_order(SYMBOL, "part-1")
    assert found is not None and found.status is OrderStatus.CANCELLED
    assert [f.qty for f in found.fills] == [D("0.004")]


async def test_the_list_is_read_in_ranges_no_longer_than_the_venue_takes(gate_bot, fake_gate, by_list, monkeypatch):
    """Binance's order list refuses a range over 24 hours (ccxt's table says 10,000 days): a stored order of three
    days ago is looked for in ranges of at most a day (here the fake Gate's, at most an hour, for 3 hours)."""
    import plugins.ccxt.exchange as exchange

    monkeypatch.setitem(exchange.LOOKUP_RANGE_MS, "gate", 3_600_000)
    bot, gate = await gate_bot(fill_poll_s=600)
    fake_gate.order_list_queries.clear()
    stored = dataclasses.replace(order("never-sent-3"), created_ns=time.time_ns() - 3 * 3600 * 10**9)
    assert await gate.find_order(stored) is None
    closed = [q for q in fake_gate.order_list_queries if q.get("status") == "finished"]
    assert len(closed) == 4 and all(int(q["to"]) - int(q["from"]) <= 3600 for q in closed), closed
