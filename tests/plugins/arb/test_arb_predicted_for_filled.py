"""``/arb``'s "captured this run (predicted ...)" judges an execution that filled in part against its prediction for
what filled (``bot.api.ledger.predicted_for_filled``), as ``arbot report``, the web console, the backtest report and
the ``prediction`` check do: not against the prediction for the full size."""

from __future__ import annotations

from decimal import Decimal

from bot.api import Caller
from bot.domain import ExecutionResult
from bot.ledger import predicted_for_filled
from bot.units import signed_money
from plugins.arb.execution import Execution
from plugins.arb.records import executions
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import config, extra

VIEWER = Caller("test", "eye", "viewer")


async def test_a_partial_execution_is_judged_against_its_prediction_for_what_filled(make_bot, monkeypatch):
    # the run executes half of each decided size (as a leg that filled half would): what the prediction is scaled to
    monkeypatch.setattr(Execution, "executed", lambda self: self.row.size / 2)
    bot = await make_bot(config(), extra=extra())
    results: list[ExecutionResult] = []
    bot.bus.subscribe(ExecutionResult, results.append, owner="test")
    await wait_for(lambda: results, timeout_s=10, what="the execution")
    [row] = executions(bot.store, "sol-arb")
    [result] = results
    assert (result.size, result.filled) == (row.size, row.size / 2)
    predicted, _ = predicted_for_filled(result)
    assert predicted == row.predicted_pnl / 2 != row.predicted_pnl
    fact = bot.strategies["sol-arb"].status()["captured this run"]
    assert fact == (f"{signed_money(result.realized_pnl, 'USDC')} over the executions "
                    f"(predicted {signed_money(predicted, 'USDC')})")
    reply = await bot.commands.dispatch(VIEWER, "arb", [])
    assert f"predicted {signed_money(predicted, 'USDC')}" in reply.text
    assert Decimal(0) < predicted
