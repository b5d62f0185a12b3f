"""The RPC client against the fake node: fallback, balances, errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arbotlib.solana.rpc import (
    MalformedReply,
    RpcRateLimited,
    RpcResponseError,
    RpcUnavailable,
    SolanaRpc,
)
from tests.fakes.solana_rpc import FakeSolanaRpc

OWNER = "4Nd1mYf1QnUjYfQhYBqCnGG2Kx6Y8XrKPGwDvtn9r7Hc"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


@pytest.fixture
async def node():
    fake = await FakeSolanaRpc().start()
    yield fake
    await fake.close()


@pytest.fixture
async def node2():
    fake = await FakeSolanaRpc().start()
    yield fake
    await fake.close()


async def test_balances(node):
    node.lamports[OWNER] = 1_500_000_000
    node.token_accounts[OWNER] = [(USDC, 12_345_678, 6), (USDC, 2, 6)]
    async with SolanaRpc([node.url]) as rpc:
        assert await rpc.get_balance_lamports(OWNER) == 1_500_000_000
        tokens = await rpc.get_token_balances(OWNER)
    assert tokens[USDC].amount == 12_345_680 and tokens[USDC].ui_amount == Decimal("12.34568")


@pytest.mark.parametrize("fault", ["500", "drop", "429"])
async def test_fallback_to_the_second_url(node, node2, fault):
    node.faults["getBlockHeight"] = [fault]
    node2.block_height = 4242
    async with SolanaRpc([node.url, node2.url]) as rpc:
        assert await rpc.get_block_height() == 4242
        assert rpc.current_url == node2.url
        assert await rpc.get_block_height() == 4242  # stays on the URL that worked


async def test_unreachable_first_url_falls_back(node):
    async with SolanaRpc(["http://127.0.0.1:9/", node.url], timeout_s=1) as rpc:
        assert await rpc.get_block_height() == node.block_height


async def test_timeout_falls_back_then_fails(node, node2):
    node.slow_s = node2.slow_s = 1.0
    node.faults["getBlockHeight"] = ["timeout"]
    node2.faults["getBlockHeight"] = ["timeout"]
    async with SolanaRpc([node.url, node2.url], timeout_s=0.2) as rpc:
        with pytest.raises(RpcUnavailable, match="timed out"):
            await rpc.get_block_height()


async def test_all_rate_limited(node, node2):
    node.faults["getBalance"] = ["429"]
    node2.faults["getBalance"] = ["429"]
    async with SolanaRpc([node.url, node2.url]) as rpc:
        with pytest.raises(RpcRateLimited) as info:
            await rpc.get_balance_lamports(OWNER)
    assert info.value.retry_after_s == 1.0


async def test_rpc_error_object_is_not_retried_elsewhere(node, node2):
    async with SolanaRpc([node.url, node2.url]) as rpc:
        with pytest.raises(RpcResponseError) as info:
            await rpc.call("noSuchMethod")
    assert info.value.code == -32601 and node2.calls == []


async def test_malformed_reply(node):
    async with SolanaRpc([node.url]) as rpc:
        node._getBlockHeight = lambda *_: "tall"  # type: ignore[method-assign]
        with pytest.raises(MalformedReply):
            await rpc.get_block_height()


async def test_blockhash_and_fees(node):
    async with SolanaRpc([node.url]) as rpc:
        blockhash = await rpc.get_latest_blockhash()
        assert blockhash.last_valid_block_height == node.block_height + node.validity
        assert await rpc.get_recent_prioritization_fees() == node.prioritization_fees


async def test_a_pinned_view_asks_one_node_and_never_falls_back(node, node2):
    node.block_height, node2.block_height = 2_000, 1_000
    async with SolanaRpc([node.url, node2.url]) as rpc:
        pinned = rpc.pinned()
        assert pinned.urls == [node.url] and await pinned.get_block_height() == 2_000
        node.faults["getSignatureStatuses"] = ["500"]
        with pytest.raises(RpcUnavailable):  # the node that saw the height failed: no answer from another one
            await pinned.get_signature_statuses(["x"])
        assert "getSignatureStatuses" not in node2.calls
        assert await rpc.get_block_height() == 2_000  # the view closed nothing of the client's
        node.faults["getBlockHeight"] = ["500"]
        assert await rpc.get_block_height() == 1_000 and rpc.current_url == node2.url
        assert rpc.pinned().urls == [node2.url]  # a view made now pins the URL that last answered


async def test_balances_of_token_2022_mints_are_read_with_its_program_id(node):
    """A Token-2022 token's accounts are listed only for the Token-2022 program id; a wrong id is refused by the node,
    so every balance read would fail."""
    t22 = "At2dkP1DWYW9guf36obLt3ijxkWEmDhnNsHJ1cBS3gPV"
    node.add_mint(t22)
    node.token_accounts[OWNER] = [(USDC, 5, 6), (t22, 7_000_000, 6)]
    async with SolanaRpc([node.url]) as rpc:
        tokens = await rpc.get_token_balances(OWNER)
    assert (tokens[USDC].amount, tokens[t22].amount, tokens[t22].ui_amount) == (5, 7_000_000, Decimal(7))


async def test_the_current_epoch(node):
    node.epoch = 812
    async with SolanaRpc([node.url]) as rpc:
        assert await rpc.get_epoch() == 812
        node._getEpochInfo = lambda *_: {"slotIndex": 3}  # type: ignore[method-assign]
        with pytest.raises(MalformedReply, match="getEpochInfo"):
            await rpc.get_epoch()
