"""The arb strategy's opportunity log never holds the loop on a store whose commits are round trips (PostgreSQL with
ARBOT_TEST_DB_URL; on file-backed SQLite the rows go on the loop's record connection, never waiting for a lock): a
database that stops answering delays the rows, not the ticks."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import event

from bot.domain import Fill, Liquidity, Opportunity, Side
from plugins.arb.records import executions, opportunities
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import Alerts, config, extra
from tests.test_store_off_loop import MAX_LAG_S, LagMeter, Stalls


async def test_opportunities_are_written_off_the_loop_while_the_store_stalls(make_bot):
    bot = await make_bot(config(), extra=extra(), start=False)
    bot.mode = "observe"  # opportunities recorded, nothing sent
    seen: list[Opportunity] = []
    bot.bus.subscribe(Opportunity, seen.append, owner="test")
    await bot.start()
    try:
        stalls = Stalls(bot.store.engine, threading.current_thread())
        with LagMeter() as lag:
            await asyncio.sleep(0.05)  # the meter runs
            stalls.blocked = True
            strategy = bot.strategies["sol-arb"]
            await wait_for(lambda: seen, timeout_s=10, what="an opportunity")
            ticks = strategy.counts["evaluations"]
            for _ in range(10):  # past the writer's first write (every 0.2 s)
                await asyncio.sleep(0.1)
            assert strategy.counts["evaluations"] > ticks + 20  # the books kept ticking
            stalls.blocked = False
            stalls.watching = False  # what the test reads from here on runs on the loop
        assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
        assert stalls.on_loop == [], stalls.on_loop
        await wait_for(lambda: opportunities(bot.store, "sol-arb"), timeout_s=20, what="the rows stored")
        assert {r.opportunity_id for r in opportunities(bot.store, "sol-arb")} <= {o.opportunity_id for o in seen}
    finally:
        await bot.stop()


async def test_an_execution_is_stored_off_the_loop_and_its_legs_leave_after_its_row(make_bot, monkeypatch):
    """The execution's row (written before its legs leave), its legs' ends and its finish go to the store writer's
    thread on a store whose commits are round trips: a server that stops answering delays the legs, never the loop,
    and no leg reaches a venue before the row that names it is committed."""
    # the row waits out a stalled statement: the opportunity's prices must still stand when it is committed
    bot = await make_bot(config(arb="max_input_age_ms = 20000"), extra=extra(), start=False)
    configured, bot.mode = bot.mode, "observe"  # nothing executed until the store stalls
    committed: list[float] = []
    placed: list[tuple[str, float]] = []

    def after(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO ARB_EXECUTIONS"):
            committed.append(time.monotonic())

    event.listen(bot.store.engine, "after_cursor_execute", after)
    await bot.start()
    try:
        for name in ("paper", "dex"):
            venue = bot.exchanges[name]
            monkeypatch.setattr(venue, "place_order", _noting(venue.place_order, name, placed))
        stalls = Stalls(bot.store.engine, threading.current_thread())
        strategy = bot.strategies["sol-arb"]
        with LagMeter() as lag:
            await asyncio.sleep(0.05)  # the meter runs
            stalls.blocked = True
            bot.mode = configured
            # (on SQLite its legs may fill and finish it between two looks)
            await wait_for(lambda: strategy.executions.busy or strategy.executions.done_count, timeout_s=10,
                           what="an execution decided")
            for _ in range(10):
                await asyncio.sleep(0.1)
            stalls.blocked = False
            await wait_for(lambda: not strategy.executions.busy, timeout_s=20, what="the execution over")
            stalls.watching = False  # what the test reads from here on runs on the loop
        assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
        assert stalls.on_loop == [], stalls.on_loop
        await bot.writer.drained()
        [row] = executions(bot.store, "sol-arb")
        assert row.state == "done", row
        assert strategy.counts["executed"] == 1
        assert {name for name, _ in placed} == {"paper", "dex"}
        if not bot.store.records_inline:  # (SQLite commits the row on the loop's record connection)
            assert committed and all(committed[0] < at for _, at in placed), (committed, placed)
    finally:
        await bot.stop()


def _noting(place, name, placed):
    async def noted(order):
        placed.append((name, time.monotonic()))
        return await place(order)
    return noted


async def test_legs_whose_row_is_stored_past_max_input_age_are_not_sent(make_bot, monkeypatch):
    """A row committed after the decision's prices stopped standing (``max_input_age_ms``): its legs never leave, the
    execution is refused and its opportunity not acted on."""
    bot = await make_bot(config(arb="max_input_age_ms = 300"), extra=extra(), start=False)
    if bot.store.records_inline:
        pytest.skip("file-backed SQLite commits the row on the loop's record connection, before the legs")
    configured, bot.mode = bot.mode, "observe"
    placed: list[tuple[str, float]] = []
    await bot.start()
    try:
        for name in ("paper", "dex"):
            venue = bot.exchanges[name]
            monkeypatch.setattr(venue, "place_order", _noting(venue.place_order, name, placed))
        stalls = Stalls(bot.store.engine, threading.current_thread())
        strategy = bot.strategies["sol-arb"]
        stalls.blocked = True
        bot.mode = configured
        await wait_for(lambda: strategy.executions.busy, timeout_s=10, what="an execution decided")
        for _ in range(10):  # its row's insert waits on the writer thread (behind whatever was handed over first)
            await asyncio.sleep(0.05)
        stalls.blocked = False
        await wait_for(lambda: not strategy.executions.busy, timeout_s=20, what="the execution over")
        await bot.writer.drained()
        [row] = executions(bot.store, "sol-arb")
        assert (row.state, row.cex_status, row.dex_status) == ("refused", "not sent", "not sent")
        assert "past max_input_age_ms" in row.note
        assert placed == [] and strategy.counts["executed"] == 0

        def its_opportunity():
            return [o for o in opportunities(bot.store, "sol-arb") if o.opportunity_id == row.opportunity_id]

        await wait_for(its_opportunity, timeout_s=5, what="its opportunity row")
        [stored] = its_opportunity()
        assert not stored.acted and "stored too late" in stored.reason
    finally:
        await bot.stop()


async def test_a_late_fill_is_matched_to_its_finished_execution_off_the_loop(make_bot, monkeypatch):
    """A fill of a leg whose execution finished long ago (only the store knows it): the execution, its legs' orders
    and fills are read back on the store writer's thread, and the execution reopens once they are back."""
    import tests.test_store_off_loop as off_loop

    Alerts.sent.clear()
    bot = await make_bot(config(), extra=extra())
    if bot.store.records_inline:
        pytest.skip("file-backed SQLite reads it on the loop in microseconds, never waiting for a lock")
    strategy = bot.strategies["sol-arb"]
    await wait_for(lambda: strategy.executions.done_count, timeout_s=10, what="an execution done")
    assert await bot.executor.flush()
    await bot.writer.drained()
    [row] = executions(bot.store, "sol-arb")
    strategy.executions._finished.clear()  # finished too long ago to be remembered: the store's
    # the executor holds the late leg's order when it hands the fill over (it has just applied it)
    own = bot.executor.order(row.dex_cid)
    order = strategy.ctx.order
    monkeypatch.setattr(strategy.ctx, "order", lambda cid: own if cid == row.dex_cid else order(cid))
    late = Fill("dex", "SOL/USDC", row.dex_cid, "late-1", Side(row.dex_side), row.dex_price, Decimal("0.1"),
                Decimal(0), "USDC", Liquidity.TAKER, bot.clock.time_ns())
    monkeypatch.setattr(off_loop, "BLOCK_S", 0.3)  # one execution, three orders, their fills: each read stalls
    stalls = Stalls(bot.store.engine, threading.current_thread())
    with LagMeter() as lag:
        await asyncio.sleep(0.05)  # the meter runs
        stalls.blocked = True
        strategy.on_fill(late)
        for _ in range(10):
            await asyncio.sleep(0.05)
        stalls.blocked = False
        # (reopened, it may be hedged and over again between two looks)
        await wait_for(lambda: any("landed late" in a.message for a in Alerts.sent if a.kind == "arb"), timeout_s=20,
                       what="the execution reopened")
        stalls.watching = False
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert stalls.on_loop == [], stalls.on_loop
