"""``/arb`` reads the latest executions, every finished execution's realized PnL and the ledger's figures on a
worker thread, never on the event loop: a store that is slow to answer (a PostgreSQL server that stopped) holds the
command that asked, not the bot (as ``/pnl`` and ``/status``: tests/test_builtins_off_loop.py)."""

from __future__ import annotations

from bot.api import Caller, ExecutionResult
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import config, extra
from tests.test_builtins_off_loop import OnLoop

VIEWER = Caller("test", "eye", "viewer")


async def test_the_arb_command_runs_no_statement_on_the_loop(make_bot):
    bot = await make_bot(config(), extra=extra())
    results: list[ExecutionResult] = []
    bot.bus.subscribe(ExecutionResult, results.append, owner="test")
    await wait_for(lambda: results, timeout_s=10, what="an execution")
    on_loop = OnLoop(bot.store.engine)
    on_loop.watching = True
    reply = await bot.commands.dispatch(VIEWER, "arb", [])
    on_loop.watching = False
    assert [s for s in on_loop.statements if not s.startswith("INSERT INTO audit_log")] == []
    assert reply.ok and "sol-arb total: realized" in reply.text, reply.text
    assert len(reply.rows) >= 2  # the header and the execution
