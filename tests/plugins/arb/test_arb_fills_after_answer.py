"""A CEX that answers an order "filled" before its trade comes (Kraken's REST answer ahead of its private stream): the
trade, with the fee it charged in the base asset, is what decides whether the residual is held or hedged. The
decision waits for it, and is taken once, on the final fills.

A paper CEX (``LaggingCex``) answers each order with its state and no fill; every trade comes on the bus
``LAG_S`` later, its fee charged in SOL (60 bps of what it bought: 0.0114 SOL of a 1.9 SOL buy, over the CEX's
``min_qty`` of 0.01). The swap's 0.000007 SOL alone is under it: decided at the answer, the residual is held.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

import pytest

from bot import hookimpl
from bot.domain import BPS, ExecutionResult, Fill, OrderState, OrderStatus, Side
from plugins.arb.records import executions
from plugins.paper.exchange import PaperExchange
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import Alerts, config, extra

LAG_S = 0.3
FEE_BPS = Decimal(60)


class LaggingCex(PaperExchange):
    """The paper venue, answering "filled" at once; each trade comes ``LAG_S`` later, its fee in the base asset."""

    def _publish_fills(self, changes, now: int) -> dict[str, OrderState]:
        reported = {}
        for cid, fills in changes.fills.items():
            reported[cid] = replace(changes.orders[cid].state(), fills=())  # the answer: filled, its trades to come
            for fill in fills:
                self.ctx.create_task(self._trade_later(fill), f"trade {fill.trade_id}")
        return reported

    async def _trade_later(self, fill: Fill) -> None:
        await asyncio.sleep(LAG_S)
        base = fill.symbol.split("/")[0]
        self.ctx.bus.publish(replace(fill, fee=fill.qty * FEE_BPS / BPS, fee_asset=base))


class lagging_plugin:
    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("lagging-cex", LaggingCex)


@pytest.fixture(autouse=True)
def _clear_alerts():
    Alerts.sent.clear()
    yield
    Alerts.sent.clear()


def _settled(bot, trades: list[Fill]) -> bool:
    """The execution is over and every trade of its CEX orders came (each order's filled quantity is in trades)."""
    rows = executions(bot.store, "sol-arb")
    if not rows or rows[0].state != "done" or bot.strategies["sol-arb"].executions.busy:
        return False
    row = rows[0]
    for cid in (row.cex_cid, row.hedge_cid):
        order = bot.executor.order(cid) if cid else None
        came = sum((t.qty for t in trades if t.client_order_id == cid), Decimal(0))
        if order is not None and came < order.filled_qty:
            return False
    return True


async def test_the_base_fee_that_comes_after_filled_decides_the_hedge_once(make_bot):
    bot = await make_bot(config(cex='type = "lagging-cex"'), extra=[*extra(), ("lagging", lagging_plugin)])
    results: list[ExecutionResult] = []
    bot.bus.subscribe(ExecutionResult, results.append, owner="test")
    trades: list[Fill] = []
    bot.bus.subscribe(Fill, trades.append, owner="test", exchange="paper")
    await wait_for(lambda: _settled(bot, trades), timeout_s=15, what="the execution to end with every trade in")
    await bot.executor.flush()
    [row] = executions(bot.store, "sol-arb")
    cex = bot.executor.order(row.cex_cid)
    assert cex.status is OrderStatus.FILLED and cex.filled_qty == Decimal("1.9")
    fills = [f for _, f in bot.store.fills(strategy="sol-arb")]
    base_fee = Decimal("1.9") * FEE_BPS / BPS  # 0.0114 SOL: with the swap's fee, 0.011407 SOL short
    assert [f.fee for f in fills if f.client_order_id == row.cex_cid] == [base_fee]
    # decided on the final fills: the short is hedged (0.01, the lot), once; not held on the answer's figures
    hedge = bot.executor.order(f"{row.opportunity_id}-hedge")
    assert hedge is not None, f"no hedge: {row.note!r}, residual {row.residual}"
    assert (hedge.side, hedge.qty, hedge.status) == (Side.BUY, Decimal("0.01"), OrderStatus.FILLED)
    assert bot.executor.order(f"{row.opportunity_id}-hedge2") is None and "held" not in row.note
    position = sum((f.base_change for f in fills), Decimal(0))
    strategy = bot.strategies["sol-arb"]
    assert row.residual == position == strategy.executions.pending_residual
    # one result, with the final figures: nothing was told before the trade came, nor corrected after
    [result] = results
    assert not result.corrects and result.realized_pnl == row.realized_pnl
    assert strategy.status()["pending residual"].startswith(f"{position} SOL")
