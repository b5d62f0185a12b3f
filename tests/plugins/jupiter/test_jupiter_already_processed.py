"""A rebroadcast the node refuses as already processed is a swap that may have landed: the look-ups decide."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.domain import Order, OrderType, Side
from plugins.jupiter.records import LANDED, load_swap


def _order() -> Order:
    return Order(client_order_id="swap-1", strategy="s", exchange="jupiter", symbol="SOL/USDC", side=Side.SELL,
                 qty=Decimal("0.5"), price=None, order_type=OrderType.MARKET)


async def _confirmed(exchange, cid: str) -> None:
    async with asyncio.timeout(5):
        while cid in exchange._confirming:
            await asyncio.sleep(0.01)


async def test_a_rebroadcast_refused_as_already_processed_leaves_the_landed_swap_to_the_status_look_ups(
        make_exchange, node, monkeypatch):
    exchange = await make_exchange()
    exchange.place_wait_s = 0.5
    real_send = node._sendTransaction

    def send(encoded, opts=None):
        signature = real_send(encoded, opts)  # the first send lands; a rebroadcast is refused: AlreadyProcessed
        if signature not in node.statuses:
            node.statuses[signature] = None  # the status look-up lags the chain for a moment
        return signature

    monkeypatch.setattr(node, "_sendTransaction", send)
    try:
        outcome = await exchange.place_order(_order())
    except Exception as exc:  # noqa: BLE001 - shown in the assertion
        outcome = exc
    assert node.rejected, "the rebroadcast was not refused: the fake did not answer as a node does"
    node.statuses.clear()  # the node caught up: the swap landed
    await _confirmed(exchange, "swap-1")
    row = load_swap(exchange.ctx.store, "jupiter", "swap-1")
    assert len(node.transactions) == 1 and exchange.signatures_made == 1
    assert row.status == LANDED, f"landed swap recorded as {row.status}: {row.error} (place_order: {outcome!r})"


async def test_the_fake_node_refuses_a_preflight_resend_of_landed_bytes_as_a_node_does(make_exchange, node):
    """The answer the exchange is written against: ``-32002`` with ``data.err == "AlreadyProcessed"``."""
    from arbotlib.solana.rpc import RpcResponseError, SolanaRpc

    exchange = await make_exchange()
    await exchange.place_order(_order())
    raw = node.sent[-1].raw
    async with SolanaRpc([node.url]) as rpc:
        try:
            await rpc.send_transaction(raw)
        except RpcResponseError as exc:
            assert exc.code == -32002 and exc.data["err"] == "AlreadyProcessed"
            assert "already been processed" in exc.rpc_message
        else:
            raise AssertionError("a preflight resend of landed bytes was accepted")
        assert await rpc.send_transaction(raw, skip_preflight=True) == node.sent[-1].signature
    assert len(node.transactions) == 1
