"""A node that answers a status look-up with 429 and ``Retry-After`` is asked nothing more by the confirmation until
that time has passed (no look-up, no rebroadcast), bounded by the blockhash's expiry: a wait that would outlast the
blockhash is cut to the time its remaining blocks take at the chain's target (``SLOT_S`` each), so the expiry is
still seen, and the swap re-signed, in time. The swap is then confirmed as usual."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.domain import Order, OrderStatus, OrderType, Side
from plugins.jupiter.errors import SLOT_S
from plugins.jupiter.records import LANDED, load_swap
from tests.helpers.waiting import wait_for


def _order(cid: str = "limited-1") -> Order:
    return Order(client_order_id=cid, strategy="s", exchange="jupiter", symbol="SOL/USDC", side=Side.SELL,
                 qty=Decimal("0.5"), price=None, order_type=OrderType.MARKET)


async def _rate_limited_lookup(node) -> int:
    """Answer the next status look-up 429 (``Retry-After: 1``, the fake's); the index of that call."""
    node.calls.clear()
    node.faults["getSignatureStatuses"] = ["429"]
    while "getSignatureStatuses" not in node.calls or node.faults["getSignatureStatuses"]:
        await asyncio.sleep(0.002)
    return node.calls.index("getSignatureStatuses")


async def test_a_rate_limited_status_look_up_waits_for_the_nodes_retry_after(make_exchange, node):
    node.land = False
    exchange = await make_exchange()  # poll_s 0.02, rebroadcast_s 0.05
    exchange.place_wait_s = 0.05
    assert (await exchange.place_order(_order())).status is OrderStatus.OPEN
    limited = await _rate_limited_lookup(node)
    waited_s, asked = await node.next_call_after(limited, timeout_s=3.0)
    print(f"asked again {waited_s:.3f} s after a 429 with Retry-After: 1 ({len(asked)} calls by then)")
    assert waited_s >= 0.9, f"asked again after {waited_s:.3f} s: {asked[:6]}"
    node.land = True
    async with asyncio.timeout(5):
        while "limited-1" in exchange._confirming:
            await asyncio.sleep(0.01)
    row = load_swap(exchange.ctx.store, "jupiter", "limited-1")
    assert row is not None and row.status == LANDED and len(node.landed) == 1


async def test_the_wait_is_bounded_by_the_blockhash_expiry(make_exchange, node):
    node.land = False
    exchange = await make_exchange()
    exchange.place_wait_s = 0.05
    assert (await exchange.place_order(_order())).status is OrderStatus.OPEN
    node.calls.clear()
    node.advance(node.validity - 1)  # one block left: about SLOT_S, less than the node's Retry-After of 1 s
    # the confirmation has seen that height: it asked something after its height look-up (one call at a time)
    await wait_for(lambda: "getBlockHeight" in node.calls[:-1], what="the confirmation reading the height")
    limited = await _rate_limited_lookup(node)
    waited_s, _ = await node.next_call_after(limited, timeout_s=3.0)
    print(f"asked again {waited_s:.3f} s after a 429 with Retry-After: 1, one block ({SLOT_S} s) before expiry")
    assert SLOT_S - 0.1 <= waited_s < 0.8
