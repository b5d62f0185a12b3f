"""A node that answers ``sendTransaction`` or ``getTransaction`` with 429 and ``Retry-After`` is asked nothing more
by the swap's confirmation until then (no look-up, no rebroadcast, no read-back), the wait bounded by the blockhash's
expiry (a rebroadcast) or by ``fill_lookup_s`` (reading the landed transaction). The swap is then confirmed as usual."""

from __future__ import annotations

import asyncio
import base64
import time
from decimal import Decimal

from solders.transaction import VersionedTransaction

from bot.domain import Order, OrderStatus, OrderType, Side
from plugins.jupiter.errors import SLOT_S
from plugins.jupiter.records import LANDED, load_swap
from tests.helpers.waiting import wait_for


def _signature(encoded: str) -> str:
    return str(VersionedTransaction.from_bytes(base64.b64decode(encoded)).signatures[0])


def _order(cid: str) -> Order:
    return Order(client_order_id=cid, strategy="s", exchange="jupiter", symbol="SOL/USDC", side=Side.SELL,
                 qty=Decimal("0.5"), price=None, order_type=OrderType.MARKET)


async def _limited(node, method: str) -> int:
    """Answer the next ``method`` call 429 (``Retry-After: 1``, the fake's); the index of that call."""
    node.calls.clear()
    node.faults[method] = ["429"]
    while method not in node.calls or node.faults[method]:
        await asyncio.sleep(0.002)
    return node.calls.index(method)


async def _settle(exchange, cid: str) -> None:
    async with asyncio.timeout(5):
        while cid in exchange._confirming:
            await asyncio.sleep(0.01)


async def test_a_rate_limited_rebroadcast_waits_for_the_nodes_retry_after(make_exchange, node):
    node.land = False
    exchange = await make_exchange()  # poll_s 0.02, rebroadcast_s 0.05
    exchange.place_wait_s = 0.05
    assert (await exchange.place_order(_order("send-429"))).status is OrderStatus.OPEN
    limited = await _limited(node, "sendTransaction")
    waited_s, asked = await node.next_call_after(limited, timeout_s=3.0)
    print(f"asked again {waited_s:.3f} s after a sendTransaction 429 with Retry-After: 1 ({asked[:3]})")
    assert waited_s >= 0.9, f"asked again after {waited_s:.3f} s: {asked[:6]}"
    node.land = True
    await _settle(exchange, "send-429")
    row = load_swap(exchange.ctx.store, "jupiter", "send-429")
    assert row is not None and row.status == LANDED and len(node.landed) == 1


async def test_a_rate_limited_rebroadcast_waits_no_longer_than_the_blockhash_has_left(make_exchange, node):
    node.land = False
    exchange = await make_exchange()
    exchange.place_wait_s = 0.05
    assert (await exchange.place_order(_order("send-429-late"))).status is OrderStatus.OPEN
    node.calls.clear()
    node.advance(node.validity - 1)  # one block left: about SLOT_S, less than the node's Retry-After of 1 s
    # the confirmation has seen that height: it asked something after its height look-up (one call at a time)
    await wait_for(lambda: "getBlockHeight" in node.calls[:-1], what="the confirmation reading the height")
    limited = await _limited(node, "sendTransaction")
    waited_s, _ = await node.next_call_after(limited, timeout_s=3.0)
    print(f"asked again {waited_s:.3f} s after a sendTransaction 429, one block ({SLOT_S} s) before expiry")
    assert SLOT_S - 0.1 <= waited_s < 0.8


async def test_a_rate_limited_first_send_waits_for_the_nodes_retry_after(make_exchange, node):
    exchange = await make_exchange()
    exchange.place_wait_s = 0.05
    node.calls.clear()
    node.faults["sendTransaction"] = ["429"]
    assert (await exchange.place_order(_order("first-429"))).status is OrderStatus.OPEN
    limited = node.calls.index("sendTransaction")
    waited_s, asked = await node.next_call_after(limited, timeout_s=3.0)
    print(f"asked again {waited_s:.3f} s after the first send's 429 with Retry-After: 1 ({asked[:3]})")
    assert waited_s >= 0.9, f"asked again after {waited_s:.3f} s: {asked[:6]}"
    await _settle(exchange, "first-429")
    row = load_swap(exchange.ctx.store, "jupiter", "first-429")
    assert row is not None and row.status == LANDED and len(node.landed) == 1


async def test_a_rate_limited_read_back_is_asked_again_only_after_retry_after(make_exchange, node):
    exchange = await make_exchange()
    exchange.place_wait_s = 0.05
    node.calls.clear()
    node.faults["getTransaction"] = ["429"]
    began = time.monotonic()
    asyncio.ensure_future(exchange.place_order(_order("read-429-t")))
    while "getTransaction" not in node.calls or node.faults["getTransaction"]:
        await asyncio.sleep(0.002)
    limited = node.calls.index("getTransaction")
    waited_s, asked = await node.next_call_after(limited, timeout_s=3.0)
    print(f"read again {waited_s:.3f} s after a getTransaction 429 with Retry-After: 1 ({asked[:3]}, "
          f"{time.monotonic() - began:.3f} s after placing)")
    assert waited_s >= 0.9, f"asked again after {waited_s:.3f} s: {asked[:6]}"
    await _settle(exchange, "read-429-t")
    row = load_swap(exchange.ctx.store, "jupiter", "read-429-t")
    assert row is not None and row.status == LANDED and row.filled_base_units is not None


async def test_a_rate_limited_send_of_a_re_signed_swap_waits_for_the_nodes_retry_after(make_exchange, node):
    node.land = False
    exchange = await make_exchange()
    exchange.place_wait_s = 0.05
    assert (await exchange.place_order(_order("resign-429"))).status is OrderStatus.OPEN
    first = node.sent[0].signature
    node.calls.clear()
    # the confirmation proves it expired and signs the next attempt: that send (not a rebroadcast of the first
    # signature still under way) is answered 429
    node.fault_if["sendTransaction"] = lambda params: _signature(params[0]) != first
    node.faults["sendTransaction"] = ["429"]
    node.expire_all()
    while node.faults["sendTransaction"]:
        await asyncio.sleep(0.002)
    limited = node.faulted[-1]
    assert exchange.signatures_made == 2
    waited_s, asked = await node.next_call_after(limited, timeout_s=3.0)
    print(f"asked again {waited_s:.3f} s after a re-signed swap's send got 429 with Retry-After: 1 ({asked[:3]})")
    assert waited_s >= 0.9, f"asked again after {waited_s:.3f} s: {asked[:6]}"
    node.land = True
    await _settle(exchange, "resign-429")
    row = load_swap(exchange.ctx.store, "jupiter", "resign-429")
    assert row is not None and row.status == LANDED and row.attempt == 2 and len(node.landed) == 1
