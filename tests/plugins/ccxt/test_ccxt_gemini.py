"""Gemini through ccxt: ids are sent with orders, but an order that has left the book cannot be found by one."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest

from bot.api import Fill, OrderStatus
from bot.settings import ConfigError
from plugins.ccxt.features import refusals

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
    assert "or before a restart, is never found again" in text
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
