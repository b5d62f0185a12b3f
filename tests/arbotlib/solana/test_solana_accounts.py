"""Account reads (getAccountInfo, getMultipleAccounts) and accountSubscribe against the fake node."""

from __future__ import annotations

import asyncio

import pytest

from arbotlib.solana.rpc import MalformedReply, SolanaRpc
from arbotlib.solana.ws import AccountSubscriber
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.helpers.waiting import wait_for

KEYS = ["HJPjoWUrhoZzkNfRpHuieeFk9WcZWjwy6PBjZ81ngndJ", "Czfq3xZZDmsdGdUyrNLtRhGc47cXcZtLG4crryfu44zE",
        "7Js7VAc35sPesYKChFRJPzzDoa2LVthL6Ek4UDX2jnXs"]


@pytest.fixture
async def node():
    fake = await FakeSolanaRpc().start()
    yield fake
    await fake.close()


async def test_account_reads_decode_base64_with_the_context_slot(node):
    slot = node.put_account(KEYS[0], b"\x00\x01pool", owner="whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc",
                            lamports=7)
    async with SolanaRpc([node.url]) as rpc:
        at, info = await rpc.get_account_info(KEYS[0])
        assert at == slot and info is not None
        whirlpool_program = "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc"
        assert (info.data, info.owner, info.lamports) == (b"\x00\x01pool", whirlpool_program, 7)
        assert await rpc.get_account_info(KEYS[1]) == (slot, None)
        # 250 keys: three requests of at most 100 (the node refuses more), answers in the order asked
        keys = [KEYS[n % 3] for n in range(250)]
        at, infos = await rpc.get_multiple_accounts(keys)
        assert at == slot and len(infos) == 250
        assert [i is None for i in infos[:3]] == [False, True, True]
        assert node.calls.count("getMultipleAccounts") == 3


async def test_a_malformed_account_reply_is_a_clear_error(node):
    node._getAccountInfo = lambda *a: {"context": {"slot": 1}, "value": {"data": ["%%%", "base64"], "owner": "x",
                                                                         "lamports": 1}}
    node._getMultipleAccounts = lambda *a: {"context": {"slot": 1}, "value": []}
    async with SolanaRpc([node.url]) as rpc:
        with pytest.raises(MalformedReply, match="getAccountInfo: account is not base64-encoded"):
            await rpc.get_account_info(KEYS[0])
        with pytest.raises(MalformedReply, match="value does not match the accounts asked"):
            await rpc.get_multiple_accounts(KEYS)


async def test_subscribe_watch_unwatch_and_prompt_stop(node):
    seen: list[tuple[str, bytes, int]] = []
    connected: list[int] = []
    sub = AccountSubscriber([node.ws_url], [KEYS[0]], lambda a, d, s: seen.append((a, d, s)),
                            on_connected=lambda: connected.append(1))
    await sub.start()
    try:
        await wait_for(lambda: sub.connected.is_set(), 10, "subscribed")
        slot = await node.set_account(KEYS[0], b"state 1")
        await wait_for(lambda: seen, 10, "a notification")
        assert seen == [(KEYS[0], b"state 1", slot)]
        await sub.watch([KEYS[1]])
        await wait_for(lambda: node.subscribed() == {KEYS[0], KEYS[1]}, 10, "the second account subscribed")
        await sub.unwatch([KEYS[0]])
        await wait_for(lambda: node.subscribed() == {KEYS[1]}, 10, "the first account unsubscribed")
        await node.set_account(KEYS[0], b"not watched any more")
        slot = await node.set_account(KEYS[1], b"state 2")
        await wait_for(lambda: len(seen) == 2, 10, "the second notification")
        assert seen[-1] == (KEYS[1], b"state 2", slot) and connected == [1]
        # the documented subscribe request: base64 encoding and the commitment
        method, params = node.ws_calls[0]
        assert method == "accountSubscribe" and params == [KEYS[0], {"encoding": "base64", "commitment": "confirmed"}]
    finally:
        # stop while idle in recv() is prompt (a swallowed cancellation would wait out the silence timeout)
        async with asyncio.timeout(5):
            await sub.stop()


async def test_malformed_notifications_are_counted_and_the_connection_kept(node):
    seen: list = []
    reasons: list[str] = []
    sub = AccountSubscriber([node.ws_url], [KEYS[0]], lambda *a: seen.append(a), on_malformed=reasons.append)
    await sub.start()
    try:
        await wait_for(lambda: sub.connected.is_set(), 10, "subscribed")
        for kind in ("json", "shape", "base64"):
            await node.send_malformed(kind)
        await wait_for(lambda: sub.malformed == 3, 10, "three malformed messages counted")
        assert reasons[0] == "not JSON" and "KeyError" in reasons[1] and "Error" in reasons[2]
        await node.set_account(KEYS[0], b"fine")
        await wait_for(lambda: seen, 10, "a good notification after bad ones")
        assert seen[0][1] == b"fine" and sub.connections == 1 and node.ws_connects == 1
    finally:
        await sub.stop()
