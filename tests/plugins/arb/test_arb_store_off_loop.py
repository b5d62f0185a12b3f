"""The arb strategy's opportunity log never holds the loop on a store whose commits are round trips (PostgreSQL with
ARBOT_TEST_DB_URL; on file-backed SQLite the rows go on the loop's record connection, never waiting for a lock): a
database that stops answering delays the rows, not the ticks."""

from __future__ import annotations

import asyncio
import threading

from bot.domain import Opportunity
from plugins.arb.records import opportunities
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import config, extra
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
