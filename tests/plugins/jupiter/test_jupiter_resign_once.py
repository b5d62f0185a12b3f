"""An expired swap is signed again by one signer only: its confirmation task, or the executor's retry, never both."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.domain import Order, OrderStatus, OrderType, Side
from plugins.jupiter.errors import BlockhashExpired
from plugins.jupiter.records import EXPIRED, LANDED, load_swap
from tests.helpers.waiting import wait_for


def _order() -> Order:
    return Order(client_order_id="swap-1", strategy="s", exchange="jupiter", symbol="SOL/USDC", side=Side.SELL,
                 qty=Decimal("0.5"), price=None, order_type=OrderType.MARKET)


async def _slow_quote(exchange, call: int) -> asyncio.Event:
    """The ``call``-th quote from now (its priority-fee look-up) waits for the event."""
    gate = asyncio.Event()
    real_price = exchange.compute_unit_price
    calls = 0

    async def compute_unit_price():
        nonlocal calls
        calls += 1
        if calls == call:
            await gate.wait()
        return await real_price()

    exchange.compute_unit_price = compute_unit_price
    return gate


async def test_a_retry_while_the_confirmation_task_re_signs_joins_it_and_one_swap_lands(make_exchange, node):
    exchange = await make_exchange(max_sign_attempts=3)
    exchange.place_wait_s = 0.5
    gate = await _slow_quote(exchange, call=2)  # the confirmation task's re-quote after the expiry
    node.land = False
    placing = asyncio.create_task(exchange.place_order(_order()))
    # attempt 1 never lands and expires once sent (expired any earlier, it would be quoted with a fresh blockhash)
    await wait_for(lambda: node.sent, what="attempt 1 sent")
    node.expire_all()
    try:  # while the re-quote hangs, the swap is still being worked on: OPEN, or a transient error to retry
        first = await placing
        assert first.status is OrderStatus.OPEN
    except BlockhashExpired:
        pass
    # the confirmation task sees the expiry (within place_wait_s on a quiet machine; later under load), and attempt 2
    # is not signed while its re-quote hangs
    await wait_for(lambda: load_swap(exchange.ctx.store, "jupiter", "swap-1").status == EXPIRED, timeout_s=10,
                   what="attempt 1 expired")
    assert exchange.signatures_made == 1
    assert (await exchange.fetch_order("SOL/USDC", "swap-1")).status is OrderStatus.OPEN  # not "never placed"
    node.land = True
    retry = await exchange.place_order(_order())  # the executor's retry joins the confirmation task
    assert retry.status is OrderStatus.OPEN and exchange.signatures_made == 1
    gate.set()  # the confirmation task's quote comes back: it signs attempt 2
    async with asyncio.timeout(5):
        while "swap-1" in exchange._confirming:
            await asyncio.sleep(0.01)
    row = load_swap(exchange.ctx.store, "jupiter", "swap-1")
    assert len(node.transactions) == 1, f"{len(node.transactions)} swaps landed for one intent"
    assert exchange.signatures_made == 2 and row.attempt == 2 and row.status == LANDED
    assert row.signature in node.transactions


async def test_two_signers_of_one_expired_intent_sign_the_next_attempt_once(make_exchange, node):
    """A place_order that finds the row EXPIRED (a crash came between the expiry and the re-sign) and the
    confirmation task's own re-sign of that attempt race on the intent's lock: the second finds attempt 2 signed
    and confirms it; it never signs a third."""
    exchange = await make_exchange(max_sign_attempts=3)
    exchange.place_wait_s = 0.05
    node.land = False
    await exchange.place_order(_order())
    task = exchange._confirming["swap-1"]
    task.cancel()  # no confirmation running: as after a crash
    await asyncio.gather(task, return_exceptions=True)
    node.expire_all()
    confirming = load_swap(exchange.ctx.store, "jupiter", "swap-1")  # attempt 1, as a confirmation task holds it
    await exchange._finish(load_swap(exchange.ctx.store, "jupiter", "swap-1"), EXPIRED, "expired")
    gate = await _slow_quote(exchange, call=1)
    node.land = True
    placing = asyncio.create_task(exchange.place_order(_order()))  # signs attempt 2; its quote hangs
    await asyncio.sleep(0.05)
    resigning = asyncio.create_task(exchange._expired(confirming))
    await asyncio.sleep(0.05)
    gate.set()
    again = await resigning
    await placing
    row = load_swap(exchange.ctx.store, "jupiter", "swap-1")
    assert exchange.signatures_made == 2, f"{exchange.signatures_made} signatures for attempts 1 and 2"
    assert again.attempt == 2 and again.signature == row.signature and row.attempt == 2
    async with asyncio.timeout(5):
        while "swap-1" in exchange._confirming:
            await asyncio.sleep(0.01)
    assert len(node.transactions) == 1 and load_swap(exchange.ctx.store, "jupiter", "swap-1").status == LANDED
