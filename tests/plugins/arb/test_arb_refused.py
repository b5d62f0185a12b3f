"""An execution whose legs the risk gate refuses: nothing reaches a venue alone, and it is not an execution.

With concurrent legs, a dex leg refused after the cex leg was submitted takes the cex leg back before its request
is made (a cex leg alone is a round trip on the CEX that can only lose its fees and the spread, again after every
cooldown). An execution with no leg sent is ``refused``: no ExecutionResult, not counted done in ``arbot report``
nor by the strategy, and its opportunity is recorded as not acted on, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot import hookimpl
from bot.api import RiskCheck
from bot.domain import ExecutionResult, OrderStatus
from plugins.arb.execution import NO_LEG_SENT, REFUSED
from plugins.arb.records import executions, opportunities, summary
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import Alerts, config, extra


@dataclass(frozen=True)
class _NoSettings:
    pass


class DexClosed(RiskCheck):
    """Stands for any check that refuses every order to the DEX venue now (its breaker open, its pool stale)."""

    Settings = _NoSettings

    def check(self, intent, view):
        return "circuit for dex is open" if intent.exchange == "dex" else None


class veto_plugin:
    @staticmethod
    @hookimpl
    def register_risk_checks(register):
        register("dexveto", DexClosed)


@pytest.fixture(autouse=True)
def _clear_alerts():
    Alerts.sent.clear()
    yield
    Alerts.sent.clear()


async def refused_execution(bot):
    # (on PostgreSQL the row's changes after its insert land on the store writer's thread a moment later)
    await wait_for(lambda: [r for r in executions(bot.store, "sol-arb") if r.state != "open"], timeout_s=10,
                   what="an execution over")
    [row] = executions(bot.store, "sol-arb")[-1:]
    assert row.state == "refused" and row.realized_pnl is None and NO_LEG_SENT in row.note
    return row


async def test_a_dex_leg_refused_takes_the_cex_leg_back_before_it_leaves(make_bot):
    bot = await make_bot(config() + "\n[risk.dexveto]\n", extra=[*extra(), ("dexveto", veto_plugin)])
    results: list[ExecutionResult] = []
    bot.bus.subscribe(ExecutionResult, results.append, owner="test")
    row = await refused_execution(bot)
    await bot.executor.settle(5)
    assert await bot.executor.flush()
    assert (row.cex_status, row.dex_status) == ("not sent", "refused")
    # its row, when the intent stored it (a file-backed SQLite store: the immediate path), ends before it left; a
    # lane drops it unstored (other stores)
    cex = [o for o in bot.store.orders() if o.exchange == "paper"]
    assert [(o.client_order_id, o.status, o.filled_qty, o.reason) for o in cex] in ([], [
        (row.cex_cid, OrderStatus.CANCELLED, 0, "cancelled before it was sent")])
    assert bot.executor.order(row.cex_cid) is None or bot.executor.order(row.cex_cid).status is OrderStatus.CANCELLED
    assert bot.store.fills() == []
    assert bot.portfolio.position("paper", "SOL/USDC") == 0  # nothing traded, no hedge
    assert results == [] and bot.strategies["sol-arb"].executions.done_count == 0


async def test_a_refused_execution_is_neither_done_nor_acted_on(make_bot):
    bot = await make_bot(config() + '\n[risk.limits]\nmax_order_notional = "10"\n', extra=extra())
    row = await refused_execution(bot)
    assert (row.cex_status, row.dex_status) == ("refused", "not sent")
    strategy = bot.strategies["sol-arb"]
    assert strategy.executions.done_count == 0 and strategy.executions.predicted_total == 0
    header, line = summary(bot.store)
    report = dict(zip(header, line, strict=True))
    assert (report["done"], report["refused"], report["captured"], report["mean |error|"]) == ("0", "1", "0", "-")
    await wait_for(lambda: [o for o in opportunities(bot.store, "sol-arb") if o.opportunity_id == row.opportunity_id],
                   timeout_s=5, what="its opportunity row")
    [stored] = [o for o in opportunities(bot.store, "sol-arb") if o.opportunity_id == row.opportunity_id]
    assert (stored.acted, stored.reason) == (False, REFUSED)
