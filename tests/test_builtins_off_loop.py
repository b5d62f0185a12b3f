"""The host's own commands and jobs never wait on the database on the event loop: ``/pnl``, ``/status`` and the daily
summary read the store (the fills, what orders close, the transfers) on a worker thread, so a store that is slow to
answer, or does not answer (a PostgreSQL server stopped with SIGSTOP), holds the command that asked, never the bot.
Their figures are the ledger's as before (``tests/test_surfaces_agree.py``)."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import event

from bot.domain import TransferStatus
from tests.helpers.pg_stop import stopped_server
from tests.test_store_off_loop import LagMeter
from tests.test_surfaces_agree import NOW, VIEWER, bot, moved  # noqa: F401  (bot: the fixture)

STOPPED_S = 1.5
"""How long the server stays stopped (a loop a store read holds stalls this long)."""
MAX_LAG_S = 0.25
"""Another task keeps running within this while a command's store read waits."""


class OnLoop:
    """The statements run through the store's engine on the loop's thread while ``watching``."""

    def __init__(self, engine) -> None:
        self.loop_thread = threading.current_thread()
        self.watching = False
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.watching and threading.current_thread() is self.loop_thread:
            self.statements.append(statement.split("\n")[0][:80])


async def test_pnl_status_and_the_daily_summary_run_no_statement_on_the_loop(bot):  # noqa: F811
    from bot.builtins import daily_summary

    moved(bot, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, NOW - 50_000_000_000)
    on_loop = OnLoop(bot.store.engine)
    on_loop.watching = True
    pnl = await bot.commands.dispatch(VIEWER, "pnl", [])
    status = await bot.commands.dispatch(VIEWER, "status", [])
    await daily_summary(bot.operator)
    on_loop.watching = False
    # (the commands' audit lines are the dispatcher's: on simulated time its store writer writes them inline)
    assert [s for s in on_loop.statements if not s.startswith("INSERT INTO audit_log")] == []
    # the same figures as before: the day's fills, and the transfer's cost in the bot's net
    assert pnl.ok and "transfer costs: 0.50 USD" in pnl.text and pnl.data["totals"]["transfer_costs"] == {"USD": "0.5"}
    rows = dict(status.rows)
    assert rows["transfer costs today"].startswith("0.50 USD; bot net after transfer costs: ")
    assert "transfer t-cex" in rows and "grid realized -0.40 USD" in rows["PnL today"]


async def test_report_positions_and_risk_run_no_statement_on_the_loop(bot):  # noqa: F811
    on_loop = OnLoop(bot.store.engine)
    on_loop.watching = True
    report = await bot.commands.dispatch(VIEWER, "report", [])
    positions = await bot.commands.dispatch(VIEWER, "positions", [])
    risk = await bot.commands.dispatch(VIEWER, "risk", [])
    on_loop.watching = False
    assert [s for s in on_loop.statements if not s.startswith("INSERT INTO audit_log")] == []
    assert report.ok and {row[0] for row in report.rows[1:]} >= {"grid", "arb"}
    assert "unrealized PnL (open lots marked to mid): " in positions.text
    assert risk.ok and "recent trips:" in risk.text


async def test_pnl_and_status_while_the_server_is_stopped_hold_no_loop(make_bot, postgresql):
    from tests.test_surfaces_agree import CONFIG, PLUGINS

    live = await make_bot(CONFIG, extra=PLUGINS)  # the real clock
    moved(live, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, live.clock.time_ns())
    with LagMeter() as lag, stopped_server(live.store.engine, max_s=STOPPED_S + 2) as server:
        await asyncio.sleep(0.05)  # the meter runs
        asking = asyncio.ensure_future(asyncio.gather(live.commands.dispatch(VIEWER, "pnl", []),
                                                      live.commands.dispatch(VIEWER, "status", [])))
        for _ in range(round(STOPPED_S / 0.05)):
            await asyncio.sleep(0.05)
        answered_while_stopped = asking.done()
        server.resume()
    pnl, status = await asyncio.wait_for(asking, 10)
    assert lag.worst_s < MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
    assert not answered_while_stopped  # they waited for the database; the loop did not
    assert pnl.data["totals"]["transfer_costs"] == {"USD": "0.5"}
    assert status.data["totals"]["transfer costs today"] == {"USD": "0.5"}
