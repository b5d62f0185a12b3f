"""A failure seen only at ``processed`` is not the swap's outcome: that block may be dropped (a minority fork), and
the same bytes may still land, and succeed, while the blockhash lives. The outcome is taken at the configured
commitment, a failure as a success."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.api import OrderReport
from bot.domain import Order, OrderStatus, OrderType, Side
from plugins.jupiter.records import FAILED, IN_FLIGHT, LANDED, load_swap

SLIPPAGE_ON_CHAIN = {"InstructionError": [3, {"Custom": 6001}]}


def _order() -> Order:
    return Order(client_order_id="processed-1", strategy="s", exchange="jupiter", symbol="SOL/USDC", side=Side.SELL,
                 qty=Decimal("0.5"), price=None, order_type=OrderType.MARKET)


async def test_a_failure_seen_at_processed_only_is_not_final(make_exchange, node):
    node.land = False
    exchange = await make_exchange(fill_lookup_s=0.1)  # commitment "confirmed"
    exchange.place_wait_s = 0.05
    assert (await exchange.place_order(_order())).status is OrderStatus.OPEN
    row = load_swap(exchange.ctx.store, "jupiter", "processed-1")
    node.statuses[row.signature] = {"slot": 5, "confirmations": 0, "err": SLIPPAGE_ON_CHAIN,
                                    "status": {"Err": SLIPPAGE_ON_CHAIN}, "confirmationStatus": "processed"}
    await asyncio.sleep(0.3)  # polled several times
    row = load_swap(exchange.ctx.store, "jupiter", "processed-1")
    assert row.status == IN_FLIGHT, f"ended as {row.status} on a processed-only failure: {row.error}"
    del node.statuses[row.signature]  # that fork was dropped; the bytes land on the cluster's
    node.land = True
    async with asyncio.timeout(5):
        while "processed-1" in exchange._confirming:
            await asyncio.sleep(0.01)
    assert load_swap(exchange.ctx.store, "jupiter", "processed-1").status == LANDED
    (report,) = [e for e in exchange.published if isinstance(e, OrderReport)]
    assert report.state.status is OrderStatus.FILLED


async def test_a_failure_at_the_commitment_is_final(make_exchange, node):
    node.land = False
    exchange = await make_exchange(fill_lookup_s=0.1)
    exchange.place_wait_s = 0.05
    await exchange.place_order(_order())
    row = load_swap(exchange.ctx.store, "jupiter", "processed-1")
    node.statuses[row.signature] = {"slot": 5, "confirmations": 3, "err": SLIPPAGE_ON_CHAIN,
                                    "status": {"Err": SLIPPAGE_ON_CHAIN}, "confirmationStatus": "confirmed"}
    async with asyncio.timeout(5):
        while "processed-1" in exchange._confirming:
            await asyncio.sleep(0.01)
    row = load_swap(exchange.ctx.store, "jupiter", "processed-1")
    assert row.status == FAILED and row.error.startswith("SlippageExceeded")
