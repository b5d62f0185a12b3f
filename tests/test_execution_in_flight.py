"""What the executor is writing is still what it answers with: a batch of order changes and fills on its way to the
store (the writer's ``flush`` awaiting the database) is in neither the writer's queue nor the store for that while."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest

from bot.domain import Fill, Liquidity, OrderReport, OrderState, OrderStatus
from tests.helpers.waiting import wait_for
from tests.test_execution import CONFIG, PLUGINS, intent


def gate_writes(bot, monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold every batch the executor writes until ``release`` is set (``entered``: one is held now), as a database
    that takes its time to commit holds it."""
    entered, release = asyncio.Event(), asyncio.Event()
    write_batch = bot.executor._write_batch

    async def held(orders, fills):
        entered.set()
        await release.wait()
        await write_batch(orders, fills)

    monkeypatch.setattr(bot.executor, "_write_batch", held)
    return entered, release


def fill(cid: str, trade_id: str, qty: str) -> Fill:
    return Fill("v", "BTC/USD", cid, trade_id, intent(cid).side, Decimal("100"), Decimal(qty), Decimal("0"), "USD",
                Liquidity.TAKER, 1)


async def test_a_state_read_while_its_fill_is_being_written_keeps_the_fill(make_bot, monkeypatch):
    """A venue that publishes a fill before its answer "open, nothing filled": the executor counts its applied fills
    (the queue's, then the store's). Read while the writer's batch held that fill, the answer found it in neither and
    left the order at 0 filled until its next state; it is at the fill's 0.04 now."""
    bot = await make_bot(CONFIG, extra=PLUGINS)
    assert bot.strategies["s"].ctx.submit(intent("f-1")) == "f-1"
    await wait_for(lambda: bot.executor.order("f-1").status is OrderStatus.OPEN, what="f-1 open")
    assert await bot.executor.flush()
    entered, release = gate_writes(bot, monkeypatch)
    assert bot.executor.apply_fill(fill("f-1", "t-1", "0.04"))
    await asyncio.wait_for(entered.wait(), 5)  # the writer took the fill: being written now
    try:
        bot.executor.handle_report(OrderReport("v", "BTC/USD", OrderState("f-1", OrderStatus.OPEN, "x-1"), 2))
        order = bot.executor.order("f-1")
        assert order.filled_qty == Decimal("0.04")
        assert order.status is OrderStatus.OPEN
    finally:
        release.set()
    assert await bot.executor.flush()
    await wait_for(lambda: bot.store.get_order("f-1").filled_qty == Decimal("0.04"), what="stored at 0.04")


async def test_a_final_order_being_written_is_still_the_executors(make_bot, monkeypatch):
    """An order that just ended is no longer active; while its final row is being written, ``ctx.order`` read the
    store's row, still OPEN, and ``held_order`` said None. Both give the order as it ended until the row is written."""
    bot = await make_bot(CONFIG, extra=PLUGINS)
    ctx = bot.strategies["s"].ctx
    assert ctx.submit(intent("c-1")) == "c-1"
    await wait_for(lambda: bot.executor.order("c-1").status is OrderStatus.OPEN, what="c-1 open")
    assert await bot.executor.flush()
    entered, release = gate_writes(bot, monkeypatch)
    ctx.cancel("c-1")
    await asyncio.wait_for(entered.wait(), 5)
    try:
        assert ctx.order("c-1").status is OrderStatus.CANCELLED
        held = ctx.held_order("c-1")
        assert held is not None and held.status is OrderStatus.CANCELLED
    finally:
        release.set()
    assert await bot.executor.flush()
    assert ctx.held_order("c-1") is None  # written: the store's now
    assert ctx.order("c-1").status is OrderStatus.CANCELLED


async def test_a_state_after_its_fill_was_written_reads_no_store_on_the_loop(make_bot):
    """A state leaving out a fill already written ("open, nothing filled" after it): the executor read the order's
    fills back from the store on the loop to count them, a round trip on PostgreSQL (a stopped server held the
    loop). It keeps each held order's applied total in memory now: no statement on the loop, and 0.04 filled."""
    from tests.test_store_off_loop import Stalls

    bot = await make_bot(CONFIG, extra=PLUGINS)
    assert bot.strategies["s"].ctx.submit(intent("w-1")) == "w-1"
    await wait_for(lambda: bot.executor.order("w-1").status is OrderStatus.OPEN, what="w-1 open")
    assert bot.executor.apply_fill(fill("w-1", "t-1", "0.04"))
    assert bot.executor.apply_fill(fill("w-1", "t-2", "0.02"))
    assert await bot.executor.flush()
    stalls = Stalls(bot.store.engine, threading.current_thread())
    bot.executor.handle_report(OrderReport("v", "BTC/USD", OrderState("w-1", OrderStatus.OPEN, "x-1"), 2))
    stalls.watching = False
    assert stalls.on_loop == [], stalls.on_loop
    order = bot.executor.order("w-1")
    assert order.filled_qty == Decimal("0.06") and order.status is OrderStatus.OPEN
    assert order.avg_fill_price == Decimal("100")
