"""The fleet heartbeat reads the store (the day's PnL, the transfer costs, the transfers on their way) on the store
writer's thread, never on the event loop: every 5 s a read of every fill on the loop (1-3 ms on SQLite), and a
PostgreSQL server that stops answering held the whole bot at the next beat. The status is the same as before (the
ledger's figures: ``tests/test_surfaces_agree.py``). No NATS server is needed: an unconnected link still refreshes
its status at each beat."""

from __future__ import annotations

import asyncio

from bot.api import Context
from bot.domain import TransferStatus
from plugins.fleet.link import NatsFleet
from plugins.fleet.settings import FleetSettings
from tests.helpers.pg_stop import stopped_server
from tests.test_builtins_off_loop import OnLoop
from tests.test_store_off_loop import LagMeter
from tests.test_surfaces_agree import CONFIG, PLUGINS, moved

STOPPED_S = 1.5
MAX_LAG_S = 0.25


def unconnected_link(bot) -> NatsFleet:
    """A fleet link of ``bot`` (its real context), never connected: its heartbeat refreshes the status only."""
    return NatsFleet(FleetSettings(), Context(bot, "service", "fleet"))


async def test_a_heartbeat_runs_no_statement_on_the_loop_and_carries_the_same_figures(make_bot):
    bot = await make_bot(CONFIG, extra=PLUGINS)  # the real clock: the store writer has its thread
    moved(bot, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, bot.clock.time_ns())
    link = unconnected_link(bot)
    on_loop = OnLoop(bot.store.engine)
    on_loop.watching = True
    await link._heartbeat()
    on_loop.watching = False
    assert on_loop.statements == []
    beat = link._status
    assert beat is not None
    assert beat["pnl_today"]["transfer_costs"] == {"USD": "0.5"}
    assert [t["id"] for t in beat["transfers"]] == ["t-cex"] and beat["transfers_total"] == 1
    assert beat["pnl_today"] == link.status()["pnl_today"]  # the figures a read on the calling thread gives


async def test_a_heartbeat_while_the_server_is_stopped_holds_no_loop(make_bot, postgresql):
    bot = await make_bot(CONFIG, extra=PLUGINS)
    moved(bot, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, bot.clock.time_ns())
    link = unconnected_link(bot)
    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)
        beating = asyncio.ensure_future(link._heartbeat())
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        server.resume()
    await asyncio.wait_for(beating, 10)
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert link._status is not None and link._status["pnl_today"]["transfer_costs"] == {"USD": "0.5"}
