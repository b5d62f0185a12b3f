"""Gemini through ccxt: ids are sent with orders, but an order that has left the book cannot be found by one."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError
from plugins.ccxt.features import refusals

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
