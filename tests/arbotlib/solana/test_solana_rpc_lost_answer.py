"""A refusal that follows a lost answer in the same call says so: the first node may have taken the request."""

from __future__ import annotations

import pytest

from arbotlib.solana.rpc import RpcResponseError, SolanaRpc
from tests.fakes.solana_rpc import FakeSolanaRpc, RpcFault

REFUSED = {"code": -32002, "message": "Transaction simulation failed: Error processing Instruction 2",
           "data": {"err": {"InstructionError": [2, {"Custom": 6001}]}, "logs": []}}


@pytest.fixture
async def node():
    fake = await FakeSolanaRpc().start()
    yield fake
    await fake.close()


@pytest.mark.parametrize(("fault", "lost"), [("timeout", True), ("drop", True), ("500", True), ("429", False),
                                             ("unhealthy", False), (None, False)])
async def test_a_refusal_after_a_lost_answer_says_so(node, fault, lost):
    node.preflight_err = REFUSED
    node.slow_s = 0.5
    node.faults["getBalance"] = [fault] if fault else []  # getBalance stands for any call: it is refused below too

    def refuse(*_):
        raise RpcFault(**REFUSED)

    node._getBalance = refuse
    async with SolanaRpc([node.url, node.url], timeout_s=0.2) as rpc:
        with pytest.raises(RpcResponseError) as info:
            await rpc.get_balance_lamports("4Nd1mYf1QnUjYfQhYBqCnGG2Kx6Y8XrKPGwDvtn9r7Hc")
    assert info.value.after_lost_answer is lost


async def test_a_refusal_after_a_refused_connection_is_final(node):
    node.preflight_err = REFUSED
    async with SolanaRpc(["http://127.0.0.1:9/", node.url], timeout_s=0.5) as rpc:
        with pytest.raises(RpcResponseError) as info:
            await rpc.send_transaction(b"\x00")  # refused as undecodable: the node's own answer
    assert info.value.after_lost_answer is False
