"""An order first sent long after its intent (its lane held it: a store outage), then more than the look-up's pages of
newer orders on its product: after a restart the look-up by client order id still finds it, in the orders created
in the hour before its stored last change (which came after its send), not only in the hour after its intent."""

from __future__ import annotations

import time
from dataclasses import replace
from decimal import Decimal

import pytest

import plugins.coinbase.exchange as coinbase_exchange
from bot.api import UnknownOutcome
from bot.domain import Order, OrderStatus, Side
from plugins.coinbase.exchange import rfc3339_ns

SYMBOL = "BTC/USD"
HOUR_NS = 3600 * 10**9


def _stored(cid: str, created_ns: int, status: OrderStatus, updated_ns: int) -> Order:
    return Order(client_order_id=cid, strategy="test", exchange="coinbase", symbol=SYMBOL, side=Side.BUY,
                 qty=Decimal("0.01"), price=Decimal("29000"), status=status, created_ns=created_ns,
                 updated_ns=updated_ns)


def _newer_orders(fake_rest) -> None:
    """More newer orders on the product than the look-up reads pages of, a day after now."""
    later = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() + 86_400))
    fake_rest.add_history(coinbase_exchange.LOOKUP_PAGES_MAX * coinbase_exchange.LOOKUP_PAGE + 10, "BTC-USD", later)


async def test_an_order_sent_hours_after_its_intent_is_found_after_a_restart(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    intent_ns = time.time_ns() - 2 * HOUR_NS  # the intent; its first send is now
    sent = _stored("sent-late-1", intent_ns, OrderStatus.PENDING, intent_ns)
    placed = await coinbase.place_order(sent)
    coinbase._order_ids.clear()  # a restart: Coinbase's order id is not known here any more
    _newer_orders(fake_rest)
    fake_rest.list_queries.clear()
    # stored UNKNOWN after its send (the answer lost), its last change a moment after the send
    stored = replace(sent, status=OrderStatus.UNKNOWN, updated_ns=time.time_ns() + 10**9)
    state = await coinbase.find_order(stored)
    assert state is not None and state.status is OrderStatus.OPEN  # before: UnknownOutcome, for good
    assert state.exchange_order_id == placed.exchange_order_id
    # bounded: the hour after the intent, then the hour before its last change, which held it
    assert len(fake_rest.list_queries) == 2
    window = fake_rest.list_queries[-1]
    assert rfc3339_ns(window["start_date"][0]) <= time.time_ns() <= rfc3339_ns(window["end_date"][0])
    assert rfc3339_ns(window["end_date"][0]) - rfc3339_ns(window["start_date"][0]) <= (
        (coinbase_exchange.LOOKUP_WINDOW_S + 2 * coinbase_exchange.LOOKUP_SKEW_S) * 10**9)


async def test_an_order_never_changed_since_its_intent_is_still_bounded(coinbase_bot, fake_ws, fake_rest):
    """A PENDING order (stored before its send, nothing since) tells no send time: the hour after the intent, then
    at most the look-up's pages of the orders since; not found there is an unknown outcome, never "never placed"."""
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    intent_ns = time.time_ns() - 2 * HOUR_NS
    await coinbase.place_order(_stored("sent-late-2", intent_ns, OrderStatus.PENDING, intent_ns))
    coinbase._order_ids.clear()
    _newer_orders(fake_rest)
    fake_rest.list_queries.clear()
    with pytest.raises(UnknownOutcome, match="pages"):
        await coinbase.find_order(_stored("sent-late-2", intent_ns, OrderStatus.PENDING, intent_ns))
    assert len(fake_rest.list_queries) == 1 + coinbase_exchange.LOOKUP_PAGES_MAX
