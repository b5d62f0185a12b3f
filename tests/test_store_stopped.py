"""A real PostgreSQL server stopped with SIGSTOP (ARBOT_TEST_DB_URL; :mod:`tests.helpers.pg_stop`) holds no read on the
event loop: a late fill of an order no longer held in memory, and the scheduling of a daily job at start, read the
store on the store writer's thread."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.api import Job
from bot.config import SchedulerSettings
from bot.domain import Fill, Liquidity, OrderStatus, Side
from bot.scheduler import Scheduler
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.pg_stop import stopped_server
from tests.helpers.waiting import wait_for
from tests.test_store_off_loop import CONFIG, MAX_LAG_S, LagMeter, intent, quiet_plugin

STOPPED_S = 2.0
"""How long the server stays stopped (a loop a read holds stalls this long)."""


def late_fill(cid: str, trade_id: str) -> Fill:
    return Fill("v", "BTC/USD", cid, trade_id, Side.BUY, Decimal("100"), Decimal("0.04"), Decimal("0.01"), "USD",
                Liquidity.MAKER, 1_000)


async def test_a_late_fill_of_an_order_no_longer_held_is_looked_up_off_the_loop(make_bot, postgresql):
    ScriptedVenue.instances.clear()
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)])
    ctx, executor = bot.strategies["s"].ctx, bot.executor
    assert ctx.submit(intent("gone-1")) == "gone-1"
    await wait_for(lambda: executor.order("gone-1").status is OrderStatus.OPEN)
    ctx.cancel("gone-1")
    await wait_for(lambda: executor.order("gone-1").status is OrderStatus.CANCELLED)
    assert await executor.flush()
    assert "gone-1" not in executor.open_orders() and not executor._in_memory("gone-1")  # the store's only
    fills: list[Fill] = []
    bot.bus.subscribe(Fill, fills.append, owner="test")

    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)  # the meter runs
        executor.apply_fill(late_fill("gone-1", "late-1"))  # the cancel raced a fill: it comes afterwards
        executor.apply_fill(late_fill("gone-1", "late-1"))  # and again (a stream's replay)
        for _ in range(round(STOPPED_S / 0.05)):  # the server stays stopped meanwhile; the meter measures
            await asyncio.sleep(0.05)
        server.resume()
    await wait_for(lambda: [f for _, f in bot.store.fills(client_order_id="gone-1")], timeout_s=10,
                   what="the late fill stored")
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    executor.apply_fill(late_fill("gone-1", "late-1"))  # once more, after it was written
    assert await executor.flush()
    assert [f.trade_id for _, f in bot.store.fills(client_order_id="gone-1")] == ["late-1"]
    assert bot.portfolio.position("v", "BTC/USD") == Decimal("0.04")  # applied once
    assert bot.store.get_order("gone-1").fee == Decimal("0.01")


async def test_a_daily_job_is_scheduled_without_a_read_on_the_loop(make_bot, postgresql):
    """Scheduling a daily job at start reads its record (and stores it the first time): on the store writer's
    thread, so a server that stopped answering delays the start, not the loop's feeds and orders."""
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)])
    scheduler = Scheduler(SchedulerSettings(), clock=bot.clock, state=bot.store, off_loop=bot.writer.call)
    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)  # the meter runs
        scheduling = asyncio.ensure_future(scheduler.schedule(Job("report", report, at="23:59"), "mine", bot.operator,
                                                              lambda *_: None))
        for _ in range(round(STOPPED_S / 0.05)):  # the server stays stopped meanwhile; the meter measures
            await asyncio.sleep(0.05)
        assert not scheduling.done()  # it waits for the store
        server.resume()
    await asyncio.wait_for(scheduling, 10)
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert scheduler._scheduler.get_job("report") is not None
    assert bot.store.get_state("daily_job:report") is not None  # its record, stored the first time


async def report(operator) -> None:
    """A daily job's body: the test looks at its scheduling, not its runs."""


async def test_the_arbs_reconcile_reads_its_legs_orders_off_the_loop(make_bot, postgresql):
    """A leg whose end the arb missed is settled by ``reconcile`` from the executor's record of its order; an order
    the executor no longer holds (final and written) is the store's: read, with its fills, on the store writer's
    thread, so a server that stopped answering delays the reconcile, not the loop."""
    from plugins.arb.execution import Execution
    from plugins.arb.records import executions
    from tests.plugins.arb.arb_kit import config, extra

    bot = await make_bot(config(), extra=extra())
    strategy = bot.strategies["sol-arb"]
    await wait_for(lambda: strategy.executions.done_count, timeout_s=20, what="an execution done")
    bot.mode = "observe"  # no other
    await wait_for(lambda: not strategy.executions.busy, timeout_s=20, what="every execution over")
    assert await bot.executor.flush()
    await bot.writer.drained()
    row = executions(bot.store, "sol-arb")[-1]
    missed = Execution(row)  # as if the ends of its legs had not been heard of
    missed.reported = row.realized_pnl
    for leg in missed.legs():
        leg.submitted_ns, leg.final_ns = row.created_ns, 0
        assert not bot.executor._in_memory(leg.cid)  # the store's only
    strategy.executions._track(missed)

    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)  # the meter runs
        reconciling = asyncio.ensure_future(strategy.reconcile())
        for _ in range(round(STOPPED_S / 0.05)):  # the server stays stopped meanwhile; the meter measures
            await asyncio.sleep(0.05)
        server.resume()
    await asyncio.wait_for(reconciling, 10)
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert all(leg.final for leg in missed.legs()), [(leg.name, leg.status) for leg in missed.legs()]
