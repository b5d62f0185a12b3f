"""How far back a venue keeps what it lists, from ccxt's ``features`` table (``daysBack``; ``daysBackCanceled`` for
cancelled orders): MEXC's order lists hold the last 7 days (fetchClosedOrders and fetchOrders ``daysBack`` 7) and its
trades 30 (fetchMyTrades ``daysBack`` 30), OKX keeps cancelled orders 2 hours (fetchClosedOrders ``daysBackCanceled``
1/12). A list asked from further back is refused or answered without them. Against the fake Gate keeping its finished
orders (and trades) only so long, with the ccxt gate's table giving those limits."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal as D

import pytest

from bot.api import OrderStatus
from tests.fakes.gate import _GateError

from .conftest import SYMBOL
from .test_ccxt_orders import order

DAY_S = 86_400
HOUR_S = 3_600


def keep_orders(fake_gate, monkeypatch, kept_s: int, cancelled_kept_s: int | None = None,
                refuse: bool = True) -> None:
    """The fake Gate's finished-order list as MEXC's or OKX's: an order made more than ``kept_s`` ago is not listed
    (nor, with ``cancelled_kept_s``, one cancelled with nothing filled made more than that ago), and with ``refuse`` a
    list asked ``from`` further back is refused (400, as a range a venue does not take)."""
    listed = fake_gate._order_page

    def kept_page(query: dict) -> list[dict]:
        now = int(time.time())
        if query.get("status", "open") == "open":
            return listed(query)
        if refuse and "from" in query and int(query["from"]) < now - kept_s:
            raise _GateError(400, "INVALID_PARAM_VALUE", f"startTime {query['from']} is before {now - kept_s}")
        return [o for o in listed(query) if int(o["create_time"]) >= now - kept_s and not (
            cancelled_kept_s is not None and o["status"] == "cancelled" and D(o["filled_amount"]) == 0
            and int(o["create_time"]) < now - cancelled_kept_s)]

    monkeypatch.setattr(fake_gate, "_order_page", kept_page)


async def history_gate(gate_bot, alerts: list, days_back, days_back_canceled=None, until_days=None):
    """A ccxt gate whose ccxt ``features`` table gives its finished-order list these limits (as ccxt's mexc's or
    okx's) and which looks orders up in its lists (Gate's look-up by client id finds resting orders only):
    (bot, gate). ``alerts`` gets the bot's alerts."""
    bot, gate = await gate_bot(fill_poll_s=600)
    bot.subscribe_alerts(alerts.append, "test")
    gate.api.features["spot"]["fetchClosedOrders"].update(
        daysBack=days_back, daysBackCanceled=days_back_canceled, untilDays=until_days)
    return bot, gate


def made_at(fake_gate, cid: str, seconds: int, status: str | None = None) -> dict:
    """The venue's order of ``cid``, as made at ``seconds`` (epoch), with ``status`` if given."""
    [mine] = fake_gate.orders_with_text(f"t-{cid}")
    mine.update(create_time=str(seconds), create_time_ms=seconds * 1000)
    if status is not None:
        mine.update(status=status, finish_as=status)
    return mine


def stored(cid: str, age_s: int) -> dict:
    """What the executor holds of an order whose intent was ``age_s`` ago and whose answer never came (no venue id):
    the bot was down since (a restart)."""
    return dataclasses.replace(order(cid), status=OrderStatus.PENDING, created_ns=time.time_ns() - age_s * 10**9)


def restart(gate) -> None:
    """What a restart forgets: the venue client ids known and the orders tracked (their venue ids, their creation
    times)."""
    gate.memory.ids.clear()
    gate._tracked.clear()
    gate._created.clear()


def queries_from(fake_gate) -> list[int]:
    return [int(q["from"]) for q in fake_gate.order_list_queries if q.get("status") == "finished" and "from" in q]


@pytest.mark.parametrize("refuse", [True, False], ids=["refused", "answered-empty"])
async def test_an_order_older_than_mexcs_7_days_is_unknown_said_so_not_gone(gate_bot, fake_gate, monkeypatch,
                                                                           refuse):
    """MEXC's order lists hold 7 days (ccxt's mexc: fetchClosedOrders ``daysBack`` 7). An order sent 10 days ago whose
    answer was lost (the bot down since), filled on the venue: its look-up after the restart read the lists from 10
    days ago on. Where MEXC refuses that range, the look-up failed at every pass for ever; where it answers without
    the order, the look-up said the venue never saw it (None: the executor fails it as "never received", or sends it
    again). The lists are read from where MEXC's 7 days begin, and an order made before that is not in them
    is UNKNOWN with the reason (never sent again, not "never received"), alerted once."""
    alerts: list = []
    bot, gate = await history_gate(gate_bot, alerts, days_back=7, until_days=7)
    await gate.place_order(order("mx-old-1"))
    mine = made_at(fake_gate, "mx-old-1", int(time.time()) - 10 * DAY_S)
    fake_gate.fill(mine["id"], D("0.01"))
    keep_orders(fake_gate, monkeypatch, 7 * DAY_S, refuse=refuse)
    restart(gate)
    fake_gate.order_list_queries.clear()
    state = await gate.find_order(stored("mx-old-1", 10 * DAY_S))
    assert state is not None and state.status is OrderStatus.UNKNOWN, state
    assert "7 days" in state.reason and "cannot be told" in state.reason, state.reason
    assert all(f >= int(time.time()) - 7 * DAY_S for f in queries_from(fake_gate)), fake_gate.order_list_queries
    await gate.find_order(stored("mx-old-1", 10 * DAY_S))  # reconciliation asks again
    said = [a for a in alerts if "mx-old-1" in a.message]
    assert len(said) == 1 and said[0].kind == "order-beyond-history", [a.message for a in alerts]
    assert "7 days" in said[0].message


async def test_an_order_that_reached_mexc_late_is_found_by_lists_asked_within_its_7_days(gate_bot, fake_gate,
                                                                                         monkeypatch):
    """The order's intent 10 days ago, but the venue made it 2 days ago (it waited in its lane) and it filled: the
    look-up's first range, from 10 days ago, was refused and the look-up failed at every pass. Asked within MEXC's
    7 days, it is found, filled, with its fill, and nothing is asked from further back."""
    alerts: list = []
    bot, gate = await history_gate(gate_bot, alerts, days_back=7, until_days=7)
    await gate.place_order(order("mx-late-1"))
    mine = made_at(fake_gate, "mx-late-1", int(time.time()) - 2 * DAY_S)
    fake_gate.fill(mine["id"], D("0.01"))
    keep_orders(fake_gate, monkeypatch, 7 * DAY_S)
    restart(gate)
    fake_gate.order_list_queries.clear()
    state = await gate.find_order(stored("mx-late-1", 10 * DAY_S))
    assert state is not None and state.status is OrderStatus.FILLED and [f.qty for f in state.fills] == [D("0.01")]
    assert all(f >= int(time.time()) - 7 * DAY_S for f in queries_from(fake_gate)), fake_gate.order_list_queries
    assert not [a for a in alerts if "mx-late-1" in a.message]


async def test_an_order_older_than_okxs_2_hours_for_cancelled_ones_is_unknown_not_never_received(
        gate_bot, fake_gate, monkeypatch):
    """OKX keeps a cancelled order that filled nothing 2 hours (ccxt's okx: fetchClosedOrders ``daysBackCanceled``
    1/12), its other finished orders 90 days. An order sent 3 hours ago whose answer was lost, cancelled on the venue
    since: its look-up found nothing and said the venue never saw it (None). It may have been one of those dropped:
    UNKNOWN with the reason, alerted once. An order sent an hour ago that never reached the venue is still None:
    everything since then is listed."""
    alerts: list = []
    bot, gate = await history_gate(gate_bot, alerts, days_back=90, days_back_canceled=1 / 12)
    await gate.place_order(order("okx-cx-1"))
    made_at(fake_gate, "okx-cx-1", int(time.time()) - 3 * HOUR_S, status="cancelled")
    keep_orders(fake_gate, monkeypatch, 90 * DAY_S, cancelled_kept_s=2 * HOUR_S)
    restart(gate)
    state = await gate.find_order(stored("okx-cx-1", 3 * HOUR_S))
    assert state is not None and state.status is OrderStatus.UNKNOWN, state
    assert "2 hours" in state.reason, state.reason
    said = [a for a in alerts if "okx-cx-1" in a.message]
    assert len(said) == 1 and "2 hours" in said[0].message
    assert await gate.find_order(stored("okx-never-1", HOUR_S)) is None


async def test_trades_are_read_within_mexcs_30_days(gate_bot, fake_gate, monkeypatch):
    """MEXC lists an account's trades of the last 30 days (ccxt's mexc: fetchMyTrades ``daysBack`` 30), as Bitget
    its 90 (``HISTORY_DAYS``, where ccxt's table has no ``daysBack``). An order made 40 days ago, filled 20 days ago:
    its trades were asked from its creation on, refused, and its look-up failed at every poll. They are read from
    where MEXC's 30 days begin: its fill is found."""
    bot, gate = await gate_bot(fill_poll_s=600)
    gate.api.has["fetchOrderTrades"] = False
    gate.api.features["spot"]["fetchMyTrades"].update(daysBack=30, untilDays=None)
    await gate.place_order(order("mx-trades-1"))
    mine = made_at(fake_gate, "mx-trades-1", int(time.time()) - 40 * DAY_S)
    trade = fake_gate.fill(mine["id"], D("0.01"))
    at = int(time.time()) - 20 * DAY_S
    trade.update(create_time=str(at), create_time_ms=f"{at * 1000}.000")
    fake_gate.my_trades_history_s = 30 * DAY_S
    fake_gate.my_trades_queries.clear()
    state = await gate.fetch_order(SYMBOL, "mx-trades-1")
    assert state is not None and [f.qty for f in state.fills] == [D("0.01")]
    assert all(int(q["from"]) >= int(time.time()) - 30 * DAY_S for q in fake_gate.my_trades_queries)
