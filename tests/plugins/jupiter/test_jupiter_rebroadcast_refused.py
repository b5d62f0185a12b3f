"""A rebroadcast refused by the node's simulation does not end a swap whose first copy is already out.

The first send was accepted (forwarded to the leaders); a later rebroadcast of the *same bytes* can be refused by
the node's preflight (the pool moved: the simulation now fails the slippage check, or the wallet's balance changed)
while the copy already out still lands. Only the signature's status or its blockhash's expiry tells the outcome:
the refusal is the swap's error only once the signature provably never landed.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.api import Fill, OrderReport
from bot.domain import Order, OrderStatus, OrderType, Side
from plugins.jupiter.errors import SlippageExceeded
from plugins.jupiter.records import FAILED, LANDED, load_swap

SIMULATED_SLIPPAGE = {"code": -32002, "message": "Transaction simulation failed: Error processing Instruction 2",
                      "data": {"err": {"InstructionError": [2, {"Custom": 6001}]},
                               "logs": ["Program log: Error: SlippageToleranceExceeded"]}}


def _order() -> Order:
    return Order(client_order_id="rebroadcast-1", strategy="s", exchange="jupiter", symbol="SOL/USDC",
                 side=Side.SELL, qty=Decimal("0.5"), price=None, order_type=OrderType.MARKET)


async def _sent_then_refused(make_exchange, node):
    node.land = False  # the first copy is out (accepted, not in a block yet)
    exchange = await make_exchange()
    exchange.place_wait_s = 0.05
    assert (await exchange.place_order(_order())).status is OrderStatus.OPEN
    node.preflight_err = SIMULATED_SLIPPAGE  # the pool moved: the node's simulation of a rebroadcast fails
    async with asyncio.timeout(5):
        while not node.rejected:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # a few more polls and rebroadcasts
    return exchange


async def test_a_refused_rebroadcast_of_a_swap_that_then_lands_is_reported_filled(make_exchange, node):
    exchange = await _sent_then_refused(make_exchange, node)
    row = load_swap(exchange.ctx.store, "jupiter", "rebroadcast-1")
    assert row.status != FAILED, f"failed on a rebroadcast's refusal while its first copy was out: {row.error}"
    node.preflight_err, node.land = None, True  # the copy already out lands
    async with asyncio.timeout(5):
        while "rebroadcast-1" in exchange._confirming:
            await asyncio.sleep(0.01)
    row = load_swap(exchange.ctx.store, "jupiter", "rebroadcast-1")
    assert row.status == LANDED and len(node.transactions) == 1 and exchange.signatures_made == 1
    (report,) = [e for e in exchange.published if isinstance(e, OrderReport)]
    assert report.state.status is OrderStatus.FILLED and report.state.filled_qty == Decimal("0.5")
    state = await exchange.place_order(_order())  # the executor asking again: the landed swap, nothing new
    assert state.status is OrderStatus.FILLED and exchange.signatures_made == 1 and len(node.transactions) == 1


async def test_a_refused_rebroadcast_whose_swap_expires_unlanded_fails_with_the_refusal(make_exchange, node):
    exchange = await _sent_then_refused(make_exchange, node)
    node.expire_all()  # the blockhash expires: the signature can never land
    async with asyncio.timeout(5):
        while "rebroadcast-1" in exchange._confirming:
            await asyncio.sleep(0.01)
    row = load_swap(exchange.ctx.store, "jupiter", "rebroadcast-1")
    assert row.status == FAILED and row.error.startswith("SlippageExceeded"), row.error
    assert exchange.signatures_made == 1 and node.transactions == {}  # refused for good: not re-signed, no fee paid
    (report,) = [e for e in exchange.published if isinstance(e, OrderReport)]
    assert report.state.status is OrderStatus.REJECTED and report.state.fills == ()
    assert not [e for e in exchange.published if isinstance(e, Fill)]
    try:
        await exchange.place_order(_order())
    except SlippageExceeded:
        raise AssertionError("a stored outcome is answered, not raised again") from None


async def test_a_first_send_refused_by_the_fallback_node_after_a_lost_answer_is_confirmed_not_failed(make_exchange,
                                                                                                   node):
    """The first URL took the send and its answer was lost (timed out); the next URL's simulation refuses the same
    bytes: the copy the first node took may land, so the swap is confirmed, not failed."""
    node.land = False  # the first node forwards the copy; it is not in a block yet
    node.faults["sendTransaction"] = ["timeout_lands"]  # processed, answered too late
    node.slow_s = 1.5
    accept = node._sendTransaction

    def accept_then_refuse(*args):
        signature = accept(*args)
        node.preflight_err = SIMULATED_SLIPPAGE  # the pool moved: the next simulation fails
        return signature

    node._sendTransaction = accept_then_refuse
    exchange = await make_exchange(rpc_urls=[node.url, node.url], request_timeout_s=1.0)  # the first answer: lost
    exchange.place_wait_s = 0.05
    try:
        state = await exchange.place_order(_order())
    except SlippageExceeded as exc:
        raise AssertionError(f"failed while the first node's copy was out: {exc}") from None
    assert state.status is OrderStatus.OPEN
    node._sendTransaction = accept
    node.preflight_err, node.land = None, True  # the copy out lands
    async with asyncio.timeout(5):
        while "rebroadcast-1" in exchange._confirming:
            await asyncio.sleep(0.01)
    row = load_swap(exchange.ctx.store, "jupiter", "rebroadcast-1")
    assert row.status == LANDED and len(node.transactions) == 1 and exchange.signatures_made == 1
    (report,) = [e for e in exchange.published if isinstance(e, OrderReport)]
    assert report.state.status is OrderStatus.FILLED
