"""A node that answers a wallet transfer's calls with 429 and ``Retry-After``: its send is not taken and goes again only
once that time has passed (the same bytes, bounded by the blockhash's validity, as a swap's sends), and its status
look-ups and fee read-back say how long the node asked to wait (``RateLimited.retry_after_s``), as a swap's requests
before signing do: none of them drops the node's wait."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

import pytest

from bot.api import RateLimited, TransferStatus

from .test_jupiter_transfers import KRAKEN_DEPOSIT, transfer


async def test_a_rate_limited_transfer_send_goes_again_after_the_nodes_retry_after(make_exchange, node, keypair):
    """The send of a transfer answered 429 (``Retry-After: 1``) was logged as "not confirmed" and the transfer taken
    for sent: nothing reached the chain until its blockhash expired and the tracking signed it anew, a minute on. The
    same bytes are sent again once the node's wait is over, and land, once."""
    node.lamports[str(keypair.pubkey())] = 10 * 10**9
    ex = await make_exchange()
    t = transfer("SOL", "1", "rb-wallet-429")
    node.calls.clear()
    node.faults["sendTransaction"] = ["429"]
    sending = asyncio.ensure_future(ex.withdraw(t))
    async with asyncio.timeout(5):
        while "sendTransaction" not in node.calls or node.faults["sendTransaction"]:
            await asyncio.sleep(0.002)
    limited = node.calls.index("sendTransaction")
    waited_s, asked = await node.next_call_after(limited, timeout_s=3.0)
    signature = await sending
    print(f"sent again {waited_s:.3f} s after a sendTransaction 429 with Retry-After: 1 ({asked[:3]})")
    assert asked[:1] == ["sendTransaction"] and waited_s >= 0.9, f"after {waited_s:.3f} s: {asked[:6]}"
    assert node.landed.keys() == {signature} and node.lamports[KRAKEN_DEPOSIT] == 10**9
    assert await ex.withdrawal(t) is TransferStatus.SENT


@pytest.mark.parametrize("method", ["getSignatureStatuses", "getBlockHeight"])
async def test_a_rate_limited_transfer_status_says_the_nodes_wait(make_exchange, node, keypair, method):
    """A status look-up (``withdrawal``) answered 429 raised a TransientError without the node's ``Retry-After``:
    its caller could not tell it from any failure, nor how long to leave the node alone. It is ``RateLimited`` with
    the node's wait (the pinned node's block height, asked while the transfer has not landed, too)."""
    node.lamports[str(keypair.pubkey())] = 10 * 10**9
    ex = await make_exchange()
    t = transfer("SOL", "1", f"rb-wallet-status-{method}")
    node.land = False
    await ex.withdraw(t)
    node.faults[method] = ["429"]
    with pytest.raises(RateLimited) as raised:
        await ex.withdrawal(t)
    assert raised.value.retry_after_s == 1.0, raised.value
    assert await ex.withdrawal(t) is TransferStatus.SENT  # pending, asked again after


async def test_a_rate_limited_fee_read_back_says_the_nodes_wait(make_exchange, node, keypair):
    """Reading what the landed transfer paid (``network_fee_paid``, ``getTransaction``) answered 429 raised a
    TransientError without the node's ``Retry-After``. It is ``RateLimited`` with the node's wait; read again, the
    fee is the transaction's."""
    node.lamports[str(keypair.pubkey())] = 10 * 10**9
    ex = await make_exchange()
    t = transfer("SOL", "1", "rb-wallet-fee-429")
    signature = await ex.withdraw(t)
    sent = replace(t, status=TransferStatus.SENT, venue_ref=signature)
    node.faults["getTransaction"] = ["429"]
    with pytest.raises(RateLimited) as raised:
        await ex.network_fee_paid(sent)
    assert raised.value.retry_after_s == 1.0, raised.value
    assert await ex.network_fee_paid(sent) == Decimal(node.transactions[signature].fee).scaleb(-9)
