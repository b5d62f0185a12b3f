"""``NatsFleet.members()`` (the web console's ``GET fleet``, every fleet-routed command's bot list) never reads the
store: before this bot's first heartbeat (the first ``heartbeat_s`` of a link that cannot reach NATS, or after every
status read failed) it read the status on the loop, at each call (a PostgreSQL server that stopped answering held the
bot). Until a heartbeat has read it off the loop, this bot's status is empty (not known yet); the console then shows
its own summary, read on a worker thread (``tests/plugins/web/test_web_off_loop.py``). No NATS server is needed."""

from __future__ import annotations

import asyncio

from bot.domain import TransferStatus
from tests.helpers.pg_stop import stopped_server
from tests.plugins.fleet.test_fleet_heartbeat_off_loop import unconnected_link
from tests.test_builtins_off_loop import OnLoop
from tests.test_store_off_loop import LagMeter
from tests.test_surfaces_agree import CONFIG, PLUGINS, moved

STOPPED_S = 1.5
MAX_LAG_S = 0.25


async def test_members_before_the_first_heartbeat_run_no_statement_on_the_loop(make_bot):
    bot = await make_bot(CONFIG, extra=PLUGINS)
    moved(bot, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, bot.clock.time_ns())
    link = unconnected_link(bot)
    on_loop = OnLoop(bot.store.engine)
    on_loop.watching = True
    [me] = link.members()
    on_loop.watching = False
    assert on_loop.statements == []
    assert me.name == link.name and me.alive and me.status == {}  # not read yet: not known
    await link._heartbeat()  # read off the loop: known from then on, as of that beat
    on_loop.watching = True
    [me] = link.members()
    on_loop.watching = False
    assert on_loop.statements == []
    assert me.status["pnl_today"]["transfer_costs"] == {"USD": "0.5"} and me.status["link"] == link.stats()


async def test_members_while_the_server_is_stopped_hold_no_loop(make_bot, postgresql):
    bot = await make_bot(CONFIG, extra=PLUGINS)
    link = unconnected_link(bot)
    with LagMeter() as lag, stopped_server(bot.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)
        names = [m.name for m in link.members()]
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        server.resume()
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert names == [link.name]
