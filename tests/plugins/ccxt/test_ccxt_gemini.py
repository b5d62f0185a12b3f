"""Gemini through ccxt: ids are sent with orders, but an order that has left the book cannot be found by one."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal as D

import pytest

from bot.api import Fill, OrderIntent, OrderStatus, Side, UnknownOutcome
from bot.api.testing import wait_for
from bot.settings import ConfigError
from plugins.ccxt.features import refusals

from .conftest import SYMBOL, gate_table
from .test_ccxt_orders import order
from .test_ccxt_transfers import build


def test_the_client_ids_refusal_says_why_and_what_a_trader_can_do():
    """The refusal said only "lacks client_ids (client ids found again after a lost answer)", though Gemini takes
    our ids: it names what is missing (ccxt's gemini looks orders up by Gemini's order id only, and lists no finished
    orders) and what to do."""
    with pytest.raises(ConfigError) as info:
        build('[exchanges.gm]\ntype = "ccxt"\nid = "gemini"\nsymbols = ["BTC/USD"]\n')
    assert "exchanges.gm.require: gemini through ccxt sends our client ids but cannot find an order by one" in " ".join(
        str(info.value).split())
    [(key, text)] = refusals("gemini", ["order_book", "client_ids"])  # the whole message (the error shortens it)
    assert key == "require"
    assert "fetch_order takes the venue's order id only" in text
    assert "no list of finished orders (fetchClosedOrders, fetchOrders)" in text
    assert "while its answer was lost is never found again: its look-up cannot tell" in text
    assert "stays unknown (never sent again)" in text
    assert "run the strategies that need client_ids on another venue" in text
    assert 'drop "client_ids" from require' in text


@pytest.fixture
def as_gemini(monkeypatch):
    """The ccxt gate looked up as ccxt's gemini is: its fetch_order takes the venue's order id only, and it has open
    orders but no list of finished ones (no fetchClosedOrders, no fetchOrders)."""
    import plugins.ccxt.orders as orders

    monkeypatch.setitem(orders.CLIENT_IDS, "gate", dataclasses.replace(orders.CLIENT_IDS["gate"], fetch_by_id=False))

    def apply(gate) -> None:
        gate.api.has.update(fetchClosedOrders=False, fetchOrders=False)

    return apply


async def test_a_resting_order_that_fills_is_seen_filled_by_the_fill_polls(gate_bot, fake_gate, as_gemini):
    """A Gemini order (``require = ["order_book"]``) rested, then filled: the polls looked for it by client id in the
    open orders only, found nothing, and skipped it for ever: its fill was never reported, its state stayed open.
    A tracked order's venue id is known: it is asked for by that id (Gemini's order status takes ``order_id``)."""
    bot, gate = await gate_bot(fill_poll_s=600)
    as_gemini(gate)
    state = await gate.place_order(order("gm-rest-1"))
    assert state.status is OrderStatus.OPEN and "gm-rest-1" in gate._tracked
    seen: list = []
    bot.bus.subscribe(Fill, seen.append, owner="test")
    fake_gate.fill(state.exchange_order_id, D("0.01"))
    await gate.poll_once()
    assert [f.qty for f in seen] == [D("0.01")]
    assert "gm-rest-1" not in gate._tracked  # final, its trades read: no longer polled


async def test_an_order_filled_and_not_tracked_this_run_is_cannot_tell_never_not_found(gate_bot, fake_gate, as_gemini):
    """A Gemini order that filled while this run did not track it (before a restart, or while its answer was lost):
    the look-up missed the open orders and answered None, "never reached the venue" (the host's contract for None),
    though ccxt's gemini has no list of finished orders that could show it: the executor would send it again. A venue
    that cannot list finished orders answers "cannot tell" (UnknownOutcome) for an order it does not see."""
    bot, gate = await gate_bot(fill_poll_s=600)
    as_gemini(gate)
    state = await gate.place_order(order("gm-gone-1"))
    fake_gate.fill(state.exchange_order_id, D("0.01"))
    gate._tracked.clear()  # not tracked this run (a restart)
    with pytest.raises(UnknownOutcome, match="gm-gone-1.*cannot list finished orders"):
        await gate.fetch_order(SYMBOL, "gm-gone-1")
    with pytest.raises(UnknownOutcome):
        await gate.fetch_order(SYMBOL, "gm-never-sent")  # not on the venue either: it cannot tell which


async def test_a_restart_finds_a_stored_order_by_the_venue_id_it_was_given(gate_bot, fake_gate, as_gemini):
    """After a restart the stored order carries the venue id its answer gave: the look-up asks Gemini for it by that id
    (its order status takes ``order_id``) and adopts it with its fill, rather than answering "cannot tell"."""
    bot, gate = await gate_bot(fill_poll_s=600)
    as_gemini(gate)
    state = await gate.place_order(order("gm-stored-1"))
    fake_gate.fill(state.exchange_order_id, D("0.01"))
    gate._tracked.clear()
    stored = dataclasses.replace(order("gm-stored-1"), exchange_order_id=state.exchange_order_id,
                                 created_ns=time.time_ns() - 60 * 10**9)
    found = await gate.find_order(stored)
    assert found is not None and found.status is OrderStatus.FILLED and found.filled_qty == D("0.01")
    assert [f.qty for f in found.fills] == [D("0.01")]


async def test_a_lost_answer_of_an_order_filled_at_once_is_never_sent_again(make_bot, fake_gate, as_gemini):
    """The create answer is lost and the order filled at once (it never rests): the executor's look-up missed the open
    orders, got None ("the venue has no such order") and sent the order again: two orders, twice the position. Now
    the look-up cannot tell, the order is UNKNOWN (reconciliation keeps asking), and one order was sent."""
    bot = await make_bot(gate_table(fake_gate, fill_poll_s=600)
                         + "[executor]\nbackoff_initial_s = 0.01\nbackoff_max_s = 0.02\nmax_retries = 2\n")
    gate = bot.exchanges["gate"]
    as_gemini(gate)
    fake_gate.fill_on_create = D("1")
    fake_gate.lose_create_order = 1
    cid = bot.executor.submit(OrderIntent(strategy="manual", exchange="gate", symbol=SYMBOL, side=Side.BUY,
                                          qty=D("0.01"), price=D("29000"), client_order_id="gm-lost-1"))
    await wait_for(lambda: (o := bot.executor.order(cid)) is not None and o.status is not OrderStatus.PENDING,
                   timeout_s=20, what="the look-ups done")
    assert [p for m, p, _ in fake_gate.rest_log if m == "POST"].count("/spot/orders") == 1
    assert bot.executor.order(cid).status is OrderStatus.UNKNOWN


async def test_one_orders_failing_look_up_does_not_stop_the_poll_of_the_others(gate_bot, fake_gate, as_gemini):
    """A poll read the tracked orders one after another and the first error ended it: an order the venue refused to
    look up (here a venue id it does not know) kept every order tracked after it from being read, poll after poll.
    Each order's error is logged and counted; the others are polled."""
    bot, gate = await gate_bot(fill_poll_s=600)
    as_gemini(gate)
    ghost = await gate.place_order(order("gm-ghost-1"))
    state = await gate.place_order(order("gm-real-1"))
    del fake_gate.orders[ghost.exchange_order_id]  # the venue no longer knows it: its look-up fails
    seen: list = []
    bot.bus.subscribe(Fill, seen.append, owner="test")
    fake_gate.fill(state.exchange_order_id, D("0.01"))
    assert list(gate._tracked)[0] == "gm-ghost-1"
    await gate.poll_once()
    assert [f.qty for f in seen] == [D("0.01")]
    assert "gm-real-1" not in gate._tracked and "gm-ghost-1" in gate._tracked
    assert gate.counters.poll_errors == 1


async def test_failed_order_polls_are_on_status(gate_bot, fake_gate, as_gemini):
    """``counters.poll_errors`` counted each failed look-up of a tracked order, but no operator could see it: /status
    showed the feed's counters only. /status now says how many order polls failed (0 as well, as the feed's)."""
    from bot.api import Caller

    bot, gate = await gate_bot(fill_poll_s=600)
    as_gemini(gate)
    viewer = Caller("test", "eye", "viewer")
    rows = dict((await bot.commands.dispatch(viewer, "status", [])).rows)
    assert rows["gate order polls"] == "0 failed"
    ghost = await gate.place_order(order("gm-ghost-2"))
    del fake_gate.orders[ghost.exchange_order_id]  # the venue no longer knows it: its look-up fails
    await gate.poll_once()
    await gate.poll_once()
    rows = dict((await bot.commands.dispatch(viewer, "status", [])).rows)
    assert rows["gate order polls"] == "2 failed (each logged; the order is asked again next poll)"
