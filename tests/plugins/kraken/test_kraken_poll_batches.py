"""Polling asks Kraken for tracked orders and their trades in batches Kraken takes.

Kraken documents at most 50 txids per ``QueryOrders`` and 20 per ``QueryTrades``, and refuses more with
``EGeneral:Invalid arguments`` (the fake does the same). A grid of more than 50 resting orders must
still find its fills by polling, the fallback while the private stream is down.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.api import PermanentError
from bot.domain import Fill, Order, Side

SYMBOL = "BTC/USD"


def order(cid: str, qty: str = "0.001") -> Order:
    return Order(client_order_id=cid, strategy="s", exchange="kraken", symbol=SYMBOL, side=Side.BUY,
                 qty=Decimal(qty), price=Decimal("29000"))


def txid_counts(fake_rest, method: str) -> list[int]:
    return [len(params["txid"].split(",")) for _, called, params in fake_rest.log if called == method]


async def test_more_than_50_tracked_orders_are_polled_in_batches_of_50(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fill_poll_s=60.0, rest_per_s=1000, rest_burst=1000)
    fills: list[Fill] = []
    bot.bus.subscribe(Fill, fills.append, owner="test")
    states = [await kraken.place_order(order(f"grid-{i}")) for i in range(120)]
    for i in (0, 50, 119):  # one fill in each batch
        fake_rest.fill(states[i].exchange_order_id, Decimal("0.001"), Decimal("29000"))
    await kraken.poll_once()
    assert txid_counts(fake_rest, "QueryOrders") == [50, 50, 20]
    assert sorted(f.client_order_id for f in fills) == ["grid-0", "grid-119", "grid-50"]


async def test_an_order_with_more_than_20_new_trades_reads_them_in_batches_of_20(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, fill_poll_s=60.0, rest_per_s=1000, rest_burst=1000)
    fills: list[Fill] = []
    bot.bus.subscribe(Fill, fills.append, owner="test")
    state = await kraken.place_order(order("many-trades", qty="0.025"))
    for _ in range(25):
        fake_rest.fill(state.exchange_order_id, Decimal("0.001"), Decimal("29000"))
    await kraken.poll_once()
    assert txid_counts(fake_rest, "QueryTrades") == [20, 5]
    assert len(fills) == 25 and sum(f.qty for f in fills) == Decimal("0.025")


@pytest.mark.parametrize(("method", "most"), [("QueryOrders", 50), ("QueryTrades", 20)])
async def test_the_fake_refuses_more_txids_than_kraken_takes(kraken_bot, fake_ws, fake_rest, method, most):
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    await kraken._api().private(method, {"txid": ",".join(f"O{i}" for i in range(most))})
    with pytest.raises(PermanentError, match="EGeneral:Invalid arguments"):
        await kraken._api().private(method, {"txid": ",".join(f"O{i}" for i in range(most + 1))})
