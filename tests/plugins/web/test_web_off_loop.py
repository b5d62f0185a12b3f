"""The web console's handlers never wait on the database on the event loop: ``GET fleet``'s summary of this bot (the
day's PnL and transfer costs) and the history pages (orders, fills, executions, the audit log) read the store on a
worker thread, so a PostgreSQL server that stops answering (SIGSTOP) holds the request that asked, never the bot.
The figures are the ledger's as before (``tests/test_surfaces_agree.py``)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from bot.api import Context
from bot.domain import TransferStatus
from plugins.fleet.link import NatsFleet
from plugins.fleet.settings import FleetSettings
from plugins.web.api import Endpoints
from plugins.web.settings import WebSettings
from tests.helpers.pg_stop import stopped_server
from tests.test_builtins_off_loop import OnLoop
from tests.test_store_off_loop import LagMeter
from tests.test_surfaces_agree import CONFIG, NOW, PLUGINS, VIEWER, bot, moved  # noqa: F401  (bot: the fixture)

STOPPED_S = 1.5
"""How long the server stays stopped (a loop a store read holds stalls this long)."""
MAX_LAG_S = 0.25
"""Another task keeps running within this while a request's store read waits."""
QUERY = {"strategy": None, "exchange": None, "state": None, "since": None, "until": None, "limit": 100, "offset": 0}


def endpoints(bot) -> Endpoints:  # noqa: F811
    """The console's endpoints on ``bot``'s operator, without an HTTP server (the handlers are what is looked at)."""
    server = SimpleNamespace(operator=bot.operator, settings=WebSettings(),
                             ctx=SimpleNamespace(subscribe_alerts=lambda callback: None))
    return Endpoints(server)  # type: ignore[arg-type]


def summary_on_this_thread(bot) -> dict:  # noqa: F811
    """What ``GET fleet`` shows for this bot, read on the calling thread (the figures it must keep)."""
    return Endpoints._summary(SimpleNamespace(op=bot.operator))  # type: ignore[arg-type]


async def test_the_fleet_summary_runs_no_statement_on_the_loop(bot):  # noqa: F811
    moved(bot, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, NOW - 50_000_000_000)
    api = endpoints(bot)
    on_loop = OnLoop(bot.store.engine)
    on_loop.watching = True
    answer = await api.fleet(None)
    on_loop.watching = False
    assert on_loop.statements == []
    [me] = answer["members"]
    assert me["self"] and not answer["linked"]
    assert me["status"] == summary_on_this_thread(bot)  # the same figures
    assert me["status"]["pnl_today"]["transfer_costs"] == {"USD": "0.5"}
    assert me["status"]["pnl_today"]["net"] == {"USD": "-0.43", "USDC": "-1.02"}


async def test_the_fleet_summary_before_the_links_first_heartbeat_runs_no_statement_on_the_loop(bot):  # noqa: F811
    moved(bot, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, NOW - 50_000_000_000)
    link = NatsFleet(FleetSettings(), Context(bot, "service", "fleet"))  # never connected, no heartbeat yet
    bot.commands.attach_fleet(link)
    api = endpoints(bot)
    on_loop = OnLoop(bot.store.engine)
    on_loop.watching = True
    answer = await api.fleet(None)
    on_loop.watching = False
    assert on_loop.statements == []
    [me] = answer["members"]
    assert answer["linked"] and me["name"] == bot.operator.bot_name
    assert me["status"]["pnl_today"] == summary_on_this_thread(bot)["pnl_today"]


async def test_history_pages_run_no_statement_on_the_loop(bot):  # noqa: F811
    api = endpoints(bot)
    await bot.commands.dispatch(VIEWER, "status", [])
    on_loop = OnLoop(bot.store.engine)
    on_loop.watching = True
    pages = [await handler(SimpleNamespace(query=QUERY, csv=csv))
             for csv in (False, True) for handler in (api.orders, api.fills, api.executions)]
    audit = await api.audit(SimpleNamespace(query=QUERY, csv=False))
    on_loop.watching = False
    assert on_loop.statements == []
    assert '"client_order_id":"B"' in pages[0].text and "JUP/USDC" in pages[4].text  # the orders' page, the fills' CSV
    assert audit["items"] and audit["items"][0]["command"] == "status"


async def test_the_fleet_summary_while_the_server_is_stopped_holds_no_loop(make_bot, postgresql):
    live = await make_bot(CONFIG, extra=PLUGINS)  # the real clock
    moved(live, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, live.clock.time_ns())
    api = endpoints(live)
    with LagMeter() as lag, stopped_server(live.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)  # the meter runs
        asking = asyncio.ensure_future(api.fleet(None))
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        answered_while_stopped = asking.done()
        server.resume()
    answer = await asyncio.wait_for(asking, 10)
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert not answered_while_stopped  # it waited for the database; the loop did not
    assert answer["members"][0]["status"]["pnl_today"]["transfer_costs"] == {"USD": "0.5"}
