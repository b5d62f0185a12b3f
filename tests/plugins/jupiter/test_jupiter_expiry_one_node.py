"""Expiry is proven on one node: the height past lastValidBlockHeight and the status look-up after it.

With two RPC URLs, a status look-up that fails on the node that saw the height must not fall back to a node
that is behind (it has not seen the block the transaction landed in): its "unknown signature" proves nothing.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from solders.transaction import VersionedTransaction

from bot.api import Transfer, TransferStatus, TransientError
from bot.domain import Order, OrderType, Side
from plugins.jupiter.records import LANDED, load_swap
from tests.fakes.solana_rpc import FakeSolanaRpc

DESTINATION = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


@pytest.fixture
async def lagging():
    """The fallback URL: a node some blocks behind the preferred one, that has not seen the swap land."""
    fake = await FakeSolanaRpc().start()
    yield fake
    await fake.close()


def _land_last(node: FakeSolanaRpc) -> str:
    """The last transaction sent lands in the last block it is valid for, and the node's height moves past it."""
    sent = node.sent[-1]
    node._land(sent.signature, VersionedTransaction.from_bytes(sent.raw), sent.raw)
    node.expire_all()
    return sent.signature


def _transfer() -> Transfer:
    now = time.time_ns()
    return Transfer("rb-wallet-1", "SOL", Decimal(1), "jupiter", "kraken", DESTINATION, Decimal(0),
                    Decimal("0.000005"), TransferStatus.PLANNED, now, now)


async def test_a_lagging_fallback_node_cannot_prove_a_landed_swap_expired(make_exchange, node, lagging):
    node.land = False  # the first sends do not land at once
    real_height = node._getBlockHeight
    landed: list[str] = []

    def height(*args):
        if not landed and node.sent:
            landed.append(_land_last(node))
            node.faults["getSignatureStatuses"] = ["500"]  # the look-up after the height fails on this node
        return real_height(*args)

    node._getBlockHeight = height
    exchange = await make_exchange(rpc_urls=[node.url, lagging.url])
    exchange.place_wait_s = 0.3
    order = Order(client_order_id="swap-1", strategy="s", exchange="jupiter", symbol="SOL/USDC", side=Side.SELL,
                  qty=Decimal("0.5"), price=None, order_type=OrderType.MARKET)
    try:
        await exchange.place_order(order)
    except Exception:  # noqa: BLE001 - the row and the signatures say what happened
        pass
    for _ in range(300):  # until confirmed (or 3 s)
        if "swap-1" not in exchange._confirming:
            break
        await asyncio.sleep(0.01)
    row = load_swap(exchange.ctx.store, "jupiter", "swap-1")
    assert landed and landed[0] in node.transactions  # the swap landed on chain
    assert exchange.signatures_made == 1, f"re-signed a swap that landed ({exchange.signatures_made} signatures)"
    assert row.status == LANDED and row.signature == landed[0]


async def test_a_lagging_fallback_node_cannot_prove_a_landed_transfer_never_left(make_exchange, node, keypair,
                                                                                lagging):
    node.lamports[str(keypair.pubkey())] = 10 * 10**9
    exchange = await make_exchange(rpc_urls=[node.url, lagging.url])
    node.land = False
    signature = await exchange.withdraw(_transfer())
    assert _land_last(node) == signature and node.lamports[DESTINATION] == 10**9
    node.faults["getSignatureStatuses"] = ["500"]  # the look-up falls over to the lagging node
    status = await exchange.withdrawal(_transfer())
    assert status is not None, "a transfer that landed is reported as never sent (the service sends it again)"


async def test_a_transfer_is_not_concluded_expired_when_the_node_that_saw_the_height_fails(make_exchange, node,
                                                                                         keypair, lagging):
    node.lamports[str(keypair.pubkey())] = 10 * 10**9
    exchange = await make_exchange(rpc_urls=[node.url, lagging.url])
    node.land = False
    await exchange.withdraw(_transfer())
    node.expire_all()  # past its height on the preferred node, not landed there (yet: it cannot tell us now)
    lagging.expire_all()
    node.faults["getSignatureStatuses"] = ["ok", "500"]  # the look-up after the height fails
    with pytest.raises(TransientError):
        await exchange.withdrawal(_transfer())
    assert "getSignatureStatuses" not in lagging.calls  # never asked the other node to prove it
    assert await exchange.withdrawal(_transfer()) is None  # the node answers again: provably expired unlanded
