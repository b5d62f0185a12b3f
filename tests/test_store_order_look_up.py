"""The executor's record of one order (``ctx.order``, ``ctx.look_up_order``) without a store read on the loop: the
orders this run wrote final are answered from memory, and an older one is read on the store writer's thread by the
async look-up, so a PostgreSQL server stopped with SIGSTOP (ARBOT_TEST_DB_URL) holds neither /kill nor the loop. The
arbitrage's restart reads its unfinished executions and their legs the same way."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

from bot.api import Caller
from bot.domain import Order, OrderStatus, OrderType, Side, TimeInForce
from tests.fakes.venue import ScriptedVenue
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.pg_stop import stopped_server
from tests.helpers.waiting import wait_for
from tests.test_store_off_loop import CONFIG, MAX_LAG_S, LagMeter, Stalls, intent, quiet_plugin

STOPPED_S = 2.0
KILL_WITHIN_S = 0.25


def earlier_order(cid: str) -> Order:
    """An order a previous run placed and finished: the store's only."""
    return Order(client_order_id=cid, strategy="s", exchange="v", symbol="BTC/USD", side=Side.BUY,
                 order_type=OrderType.LIMIT, tif=TimeInForce.GTC, price=Decimal("100"), qty=Decimal("0.1"),
                 status=OrderStatus.FILLED, filled_qty=Decimal("0.1"), avg_fill_price=Decimal("100"),
                 created_ns=1_000, updated_ns=2_000)


async def test_an_order_this_run_finished_is_answered_without_a_store_read(make_bot):
    """``ctx.order`` of an order final and written read its row on the loop's thread each time (the grid's slots,
    the limits check and the arb's figures ask so): a round trip on PostgreSQL. The latest orders written final are
    answered from memory now, as written; an order of a previous run is still read (SQLite: on the loop, in
    microseconds; ``look_up_order``: on the writer's thread where reads are round trips)."""
    ScriptedVenue.instances.clear()
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)])
    ctx, executor = bot.strategies["s"].ctx, bot.executor
    assert ctx.submit(intent("done-1")) == "done-1"
    await wait_for(lambda: executor.order("done-1").status is OrderStatus.OPEN)
    ctx.cancel("done-1")
    await wait_for(lambda: executor.order("done-1").status is OrderStatus.CANCELLED)
    assert await executor.flush()
    assert ctx.held_order("done-1") is None  # written: no longer held
    stalls = Stalls(bot.store.engine, threading.current_thread())
    order = ctx.order("done-1")
    looked_up = await ctx.look_up_order("done-1")
    stalls.watching = False
    assert stalls.on_loop == [], stalls.on_loop
    assert order is not None and order.status is OrderStatus.CANCELLED and looked_up == order
    assert bot.store.get_order("done-1") == order  # what was written

    bot.store.insert_order(earlier_order("old-1"))
    assert await ctx.look_up_order("old-1") == earlier_order("old-1") == ctx.order("old-1")
    assert await ctx.look_up_order("nowhere") is None


async def test_an_order_look_up_waits_for_a_stopped_server_off_the_loop(make_bot, postgresql):
    """``await ctx.look_up_order`` of an order only the store holds, while the server is stopped: the loop goes on
    (a /kill runs within 0.25 s), and the look-up answers once the server does."""
    ScriptedVenue.instances.clear()
    bot = await make_bot(CONFIG, extra=[("venue", venue_plugin), ("quiet", quiet_plugin)])
    ctx = bot.strategies["s"].ctx
    bot.store.insert_order(earlier_order("old-1"))
    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)  # the meter runs
        looking = asyncio.ensure_future(ctx.look_up_order("old-1"))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        reply = await bot.commands.dispatch(Caller("chat", "bob", "admin"), "kill", [])
        kill_s = time.monotonic() - started
        for _ in range(round(STOPPED_S / 0.05)):  # the server stays stopped meanwhile; the meter measures
            await asyncio.sleep(0.05)
        assert not looking.done()  # it waits for the store
        server.resume()
    assert await asyncio.wait_for(looking, 10) == earlier_order("old-1")
    assert reply.ok, reply
    assert kill_s < KILL_WITHIN_S, f"/kill took {kill_s:.2f} s"
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"


async def test_the_arbs_restart_reads_its_unfinished_executions_off_the_loop(make_bot, postgresql):
    """The arb's ``recover()`` at start read the executions left unfinished, and each leg's order, on the loop: a
    server stopped then held the loop for as long. It reads them, with the legs' fills, on the store writer's thread
    and settles them once they are back: a leg that was never sent, too old to send now, is dropped as before."""
    from plugins.arb.records import executions, insert_execution
    from tests.plugins.arb.arb_kit import config, extra
    from tests.plugins.arb.test_arb_execution import _stored_execution

    bot = await make_bot(config(), extra=extra())
    strategy = bot.strategies["sol-arb"]
    bot.mode = "observe"  # no new execution meanwhile
    await wait_for(lambda: not strategy.executions.busy, timeout_s=20, what="every execution over")
    await bot.writer.drained()
    assert insert_execution(bot.store, _stored_execution("left-1", bot.clock.time_ns() - 10**12))  # the previous run's
    stalls = Stalls(bot.store.engine, threading.current_thread())
    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)  # the meter runs
        recovering = asyncio.ensure_future(strategy.executions.recover())
        for _ in range(round(STOPPED_S / 0.05)):  # the server stays stopped meanwhile; the meter measures
            await asyncio.sleep(0.05)
        assert not recovering.done()  # it waits for the store
        server.resume()
        [ex] = await asyncio.wait_for(recovering, 10)
    stalls.watching = False
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert ex.id == "left-1"
    await bot.writer.drained()
    row = executions(bot.store, "sol-arb")[0]
    assert (row.opportunity_id, row.state, row.cex_status, row.dex_status) == ("left-1", "refused", "not sent",
                                                                                "not sent")
