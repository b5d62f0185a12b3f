"""Swaps end to end against the fakes: sign, verify, rebroadcast, expiry, restart."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from solders.transaction import VersionedTransaction

from bot.domain import Order, OrderReport, OrderStatus, OrderType, Side
from bot.store import Store
from plugins.jupiter.records import EXPIRED, IN_FLIGHT, LANDED, in_flight_swaps, load_swap
from tests.helpers.waiting import wait_for


def _order(cid="swap-1", side=Side.SELL, qty="0.5", price=None) -> Order:
    return Order(client_order_id=cid, strategy="s", exchange="jupiter", symbol="SOL/USDC", side=side,
                 qty=Decimal(qty), price=None if price is None else Decimal(price), order_type=OrderType.MARKET)


async def _settle(exchange, cid, timeout=5.0):
    async with asyncio.timeout(timeout):
        while cid in exchange._confirming:
            await asyncio.sleep(0.01)


async def test_swap_signed_verified_and_filled(make_exchange, node, jupiter_api, keypair):
    exchange = await make_exchange()
    node.lamports[str(keypair.pubkey())] = 1_000_000_000
    state = await exchange.place_order(_order())
    assert state.status is OrderStatus.FILLED and state.filled_qty == Decimal("0.5")
    assert state.avg_fill_price == Decimal(150)  # fake: 0.15 micro-USDC per lamport = 150 USDC per SOL
    assert len(node.sent) == 1 and node.rejected == []
    tx = VersionedTransaction.from_bytes(node.sent[0].raw)
    assert all(tx.verify_with_results()) and tx.message.account_keys[0] == keypair.pubkey()
    assert state.exchange_order_id == node.sent[0].signature
    quote = jupiter_api.quotes[0]
    assert quote["swapMode"] == "ExactIn" and quote["amount"] == "500000000"
    assert quote["slippageBps"] == "50" and quote["onlyDirectRoutes"] == "false"
    assert quote["restrictIntermediateTokens"] == "true"
    # one fee and one swap: 0.5 SOL out of the wallet, 75 USDC in; the fee is one signature and the priority fee of
    # the compute budget Jupiter wrote in (the 75th percentile of recent fees, 2,000 micro-lamports, on 58,800 units)
    assert node.transactions[state.exchange_order_id].fee == 5_000 + 118
    # the wallet had no USDC account: the swap created it, depositing its rent (2,039,280 lamports), which the fill's
    # fee shows with the network fee
    assert node.lamports[str(keypair.pubkey())] == 1_000_000_000 - 5_118 - 2_039_280 - 500_000_000
    assert state.fills[0].fee == Decimal(5_118 + 2_039_280).scaleb(-9)
    usdc = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    assert node.token_accounts[str(keypair.pubkey())] == [(usdc, 75_000_000, 6)]
    # the same intent again: the stored answer, nothing new signed or sent
    again = await exchange.place_order(_order())
    assert again.status is OrderStatus.FILLED and len(node.sent) == 1 and exchange.signatures_made == 1


async def test_buy_is_exact_out(make_exchange, node, jupiter_api):
    exchange = await make_exchange(only_direct_routes=True, slippage_bps=10)
    state = await exchange.place_order(_order(side=Side.BUY, qty="2"))
    assert state.status is OrderStatus.FILLED
    quote = jupiter_api.quotes[0]
    assert quote["swapMode"] == "ExactOut" and quote["amount"] == "2000000000"
    assert quote["onlyDirectRoutes"] == "true" and quote["slippageBps"] == "10"


async def test_rebroadcast_same_bytes_while_valid(make_exchange, node):
    node.land = False
    exchange = await make_exchange()
    exchange.place_wait_s = 0.3
    state = await exchange.place_order(_order())
    assert state.status is OrderStatus.OPEN
    await asyncio.sleep(0.3)
    sends = list(node.sent)
    assert len(sends) >= 3
    assert len({s.signature for s in sends}) == 1 and len({s.raw for s in sends}) == 1
    assert exchange.signatures_made == 1
    node.land = True  # the next rebroadcast lands
    await _settle(exchange, "swap-1")
    assert load_swap(exchange.ctx.store, "jupiter", "swap-1").status == LANDED
    reports = [e for e in exchange.published if isinstance(e, OrderReport)]
    assert reports and reports[-1].state.status is OrderStatus.FILLED
    assert len(node.landed) == 1


@pytest.mark.parametrize("fault", ["unhealthy", "internal"])
async def test_an_error_object_of_a_look_up_does_not_end_the_confirmation(make_exchange, node, fault):
    """A lagging node answers any method with its -32005 NodeUnhealthy error object, and any node may fail a request
    with -32603: the status and height look-ups fail for a while, and the swap must still be confirmed and reported
    (not left IN_FLIGHT with no task watching it)."""
    node.land = False
    exchange = await make_exchange()
    exchange.place_wait_s = 0.2
    state = await exchange.place_order(_order())
    assert state.status is OrderStatus.OPEN
    node.faults["getSignatureStatuses"] = [fault] * 3
    node.faults["getBlockHeight"] = [fault] * 3
    await asyncio.sleep(0.2)
    node.land = True  # the next rebroadcast lands
    await _settle(exchange, "swap-1")
    assert load_swap(exchange.ctx.store, "jupiter", "swap-1").status == LANDED
    reports = [e for e in exchange.published if isinstance(e, OrderReport)]
    assert reports and reports[-1].state.status is OrderStatus.FILLED
    assert not node.faults["getSignatureStatuses"]  # the unhealthy answers were met


async def test_an_unhealthy_node_is_left_for_the_next_url(make_exchange, node):
    """-32005 is the node's state, not an answer about the request: the call goes on to the next URL, as a 5xx does."""
    exchange = await make_exchange(rpc_urls=[node.url, node.url])
    node.faults["getBalance"] = ["unhealthy"]
    balances = await exchange.balances()
    assert "SOL" in balances and node.calls.count("getBalance") == 2


async def test_no_resign_until_expiry_is_proven(make_exchange, node):
    node.land = False
    exchange = await make_exchange(max_sign_attempts=2)
    exchange.place_wait_s = 0.05
    await exchange.place_order(_order())
    first = load_swap(exchange.ctx.store, "jupiter", "swap-1")
    # height exactly at lastValidBlockHeight: still valid, no new signature
    node.advance(first.last_valid_block_height - node.block_height)
    await asyncio.sleep(0.3)
    assert exchange.signatures_made == 1 and {s.signature for s in node.sent} == {first.signature}
    # past it, but the signature is known to the node: not expired, never re-signed
    node.statuses[first.signature] = {"slot": 1, "confirmations": 1, "err": None, "confirmationStatus": "processed"}
    node.advance(1)
    await asyncio.sleep(0.3)
    assert exchange.signatures_made == 1
    # past it and unknown: provably expired, a fresh quote and one new signature
    del node.statuses[first.signature]
    node.land = True
    await _settle(exchange, "swap-1")
    second = load_swap(exchange.ctx.store, "jupiter", "swap-1")
    assert exchange.signatures_made == 2 and second.attempt == 2 and second.signature != first.signature
    assert second.status == LANDED and list(node.landed) == [second.signature]


async def test_expired_with_attempts_used_is_blockhash_expired(make_exchange, node):
    node.land = False
    exchange = await make_exchange(max_sign_attempts=1)
    exchange.place_wait_s = 10.0  # the outcome is answered when known: this only bounds a loaded machine's wait
    task = asyncio.create_task(exchange.place_order(_order()))
    # expired once sent (expired any earlier, the swap would be quoted with the next, fresh blockhash)
    await wait_for(lambda: node.sent, what="the swap sent")
    node.expire_all()
    from plugins.jupiter.errors import BlockhashExpired

    with pytest.raises(BlockhashExpired):
        await task
    assert load_swap(exchange.ctx.store, "jupiter", "swap-1").status == EXPIRED
    assert exchange.signatures_made == 1 and node.landed == {}
    state = await exchange.place_order(_order())  # the executor's retry: nothing new signed
    assert state.status is OrderStatus.REJECTED and exchange.signatures_made == 1


async def test_restart_mid_confirmation_resumes_without_resigning(make_exchange, node):
    node.land = False
    first = await make_exchange()
    first.place_wait_s = 0.05
    assert first.ctx.store.insert_order(_order())  # the executor stores the order before it places it
    await first.place_order(_order())
    row = load_swap(first.ctx.store, "jupiter", "swap-1")
    assert row.status == IN_FLIGHT
    await first.stop()  # the process dies while confirming
    sends_before = len(node.sent)
    node.land = True
    second = await make_exchange()  # start() resumes the stored transaction
    await _settle(second, "swap-1")
    assert second.signatures_made == 0
    assert len(node.sent) > sends_before and {s.signature for s in node.sent} == {row.signature}
    state = await second.fetch_order("SOL/USDC", "swap-1")
    assert state.status is OrderStatus.FILLED and state.exchange_order_id == row.signature
    reports = [e for e in second.published if isinstance(e, OrderReport)]
    assert reports[-1].state.status is OrderStatus.FILLED


async def test_a_restart_resumes_only_its_own_bots_swaps_on_a_shared_database(make_exchange, node, db_url):
    """Two bots of one database, both with an exchange named "jupiter": each resumes only its own swaps (the
    client order ids its orders carry), never the other bot's."""
    node.land = False
    alpha_store, beta_store = Store(db_url, bot="alpha").open(), Store(db_url, bot="beta").open()
    try:
        alpha = await make_exchange(bot_store=alpha_store)
        alpha.place_wait_s = 0.05
        assert alpha_store.insert_order(_order("alpha-1"))
        await alpha.place_order(_order("alpha-1"))
        await alpha.stop()
        assert load_swap(alpha_store, "jupiter", "alpha-1").status == IN_FLIGHT
        beta = await make_exchange(bot_store=beta_store)  # restarts: alpha's swap is in flight in the table
        assert "alpha-1" not in beta._confirming and await beta.open_orders() == []
        assert in_flight_swaps(beta_store, "jupiter") == []
        again = await make_exchange(bot_store=alpha_store)
        assert [s.client_order_id for s in await again.open_orders()] == ["alpha-1"]
        node.land = True
        await _settle(again, "alpha-1")
        assert (await again.fetch_order("SOL/USDC", "alpha-1")).status is OrderStatus.FILLED
        assert again.signatures_made == 0 and beta.signatures_made == 0
        await again.stop()
        await beta.stop()
    finally:
        alpha_store.close()
        beta_store.close()


async def test_send_that_times_out_but_lands_is_not_resigned(make_exchange, node):
    node.faults["sendTransaction"] = ["timeout_lands"]
    node.slow_s = 1.5
    exchange = await make_exchange(request_timeout_s=1.0)  # the send's answer comes too late
    state = await exchange.place_order(_order())
    await _settle(exchange, "swap-1")
    state = await exchange.fetch_order("SOL/USDC", "swap-1")
    assert state.status is OrderStatus.FILLED and exchange.signatures_made == 1 and len(node.landed) == 1


async def test_rpc_fallback_during_swap(make_exchange, node):
    exchange = await make_exchange(rpc_urls=["http://127.0.0.1:9/", node.url])
    state = await exchange.place_order(_order())
    assert state.status is OrderStatus.FILLED


async def test_fetch_unknown_and_cancel(make_exchange):
    from bot.api import PermanentError

    exchange = await make_exchange()
    assert await exchange.fetch_order("SOL/USDC", "nope") is None
    with pytest.raises(PermanentError, match="cannot be cancelled"):
        await exchange.cancel_order("SOL/USDC", "nope")


async def test_hundred_intents_with_lost_sends_land_once_each(make_exchange, node, keypair):
    """Sends that time out but land, time out, fail (500) or are rate limited: one signature and one debit
    per intent."""
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10**12
    node.slow_s = 4.5  # longer than the request timeout: "timeout" faults really time out
    node.faults["sendTransaction"] = ["timeout_lands", "500", "429", "timeout"] * 25
    # 100 concurrent quotes and fee look-ups (unfaulted) must not time out on a loaded 2-core machine running the
    # whole suite: 1 s was not always enough for the fee look-up
    exchange = await make_exchange(request_timeout_s=3.0)
    exchange.place_wait_s = 10.0
    orders = [_order(f"intent-{n}") for n in range(100)]
    states = await asyncio.gather(*(exchange.place_order(o) for o in orders))
    for o in orders:
        await _settle(exchange, o.client_order_id)
    states = [await exchange.fetch_order("SOL/USDC", o.client_order_id) for o in orders]
    assert all(s.status is OrderStatus.FILLED for s in states)
    assert exchange.signatures_made == 100 and len(node.landed) == 100
    assert len({s.exchange_order_id for s in states}) == 100
    # one fee and one 0.5 SOL swap per intent, however often each was sent, and the rent of the USDC account the
    # first of them to land created
    assert node.lamports[owner] == (10**12 - sum(t.fee for t in node.transactions.values()) - 100 * 500_000_000
                                    - 2_039_280)
    assert sum(sum(t.created.values()) for t in node.transactions.values()) == 2_039_280
