"""An execution finished before a restart and reopened by a late fill corrects this run's totals, realized and
predicted alike: each moves by what the execution's figure changed, the prediction for what it executed
(``bot.api.ledger.predicted_for_filled``) as the realized PnL."""

from __future__ import annotations

import contextlib
import logging
from decimal import Decimal
from types import SimpleNamespace

from bot.api.ledger import predicted_for_filled
from bot.clock import ManualClock
from bot.domain import ExecutionResult, Fill, Liquidity, MarketInfo, Order, OrderStatus, Side
from plugins.arb import execution
from plugins.arb.execution import ArbExecutions
from tests.plugins.arb.test_arb_pricing_kit import book, settings

D = Decimal


def test_a_late_fill_after_a_restart_corrects_the_runs_predicted_total_as_its_realized_one(monkeypatch):
    row = SimpleNamespace(  # done before the restart: the DEX leg failed, the CEX leg's 1 SOL sold back by the hedge
        opportunity_id="o-1", strategy="arb", legs="concurrent", sol_price=D(150), created_ns=1, note="", state="done",
        predicted_pnl=D(2), size=D(1), realized_pnl=D(-1), residual=D(0), finished_ns=4,
        hedge_cid="o-1-hedge", hedge_side="sell", hedge_qty=D(1), hedge_price=D(149), hedge_status="filled",
        hedge_filled=D(1),
        cex_exchange="cex", cex_side="buy", cex_qty=D(1), cex_price=D(150), cex_cid="o-1-cex",
        cex_submitted_ns=1, cex_final_ns=2, cex_status="filled", cex_filled=D(1), cex_avg_price=D(150),
        dex_exchange="dex", dex_side="sell", dex_qty=D(1), dex_price=D(152), dex_cid="o-1-dex",
        dex_submitted_ns=1, dex_final_ns=3, dex_status="failed", dex_filled=D(0), dex_avg_price=None)

    def fill(cid, exchange, side, price):
        return Fill(exchange, "SOL/USDC", cid, f"t-{cid}", side, D(price), D(1), D(0), "USDC", Liquidity.TAKER, 2)

    late = fill("o-1-dex", "dex", Side.SELL, 153)
    fills = {"o-1-cex": [fill("o-1-cex", "cex", Side.BUY, 150)], "o-1-dex": [late],
             "o-1-hedge": [fill("o-1-hedge", "cex", Side.SELL, 149)]}
    orders = {cid: Order(cid, "arb", f[0].exchange, "SOL/USDC", f[0].side, D(1), f[0].price,
                         status=OrderStatus.FAILED if cid == "o-1-dex" else OrderStatus.FILLED,
                         filled_qty=D(0) if cid == "o-1-dex" else D(1), avg_fill_price=f[0].price)
              for cid, f in fills.items()}
    published: list[object] = []
    ctx = SimpleNamespace(clock=ManualClock(), log=logging.getLogger("test"), intent=contextlib.nullcontext,
                          submit=lambda intent: intent, order=orders.get, held_order=lambda cid: None,
                          stored_fills=lambda client_order_id: fills.get(client_order_id, []),
                          alert=lambda level, kind, message, **fields: None, alerts_heard=False,
                          bus=SimpleNamespace(publish=published.append),
                          store=SimpleNamespace(records_inline=True))  # (read inline: execution_of below)
    monkeypatch.setattr(execution, "execution_values", lambda row: {})  # (a row of the columns read here only)
    monkeypatch.setattr(execution, "execution_of", lambda store, strategy, oid: row if oid == "o-1" else None)
    the_book = book(bids=[("150", "10")], asks=[("150.1", "10")])
    # hedge = hold: the late swap's short is held, so the execution finishes again at once
    arb = ArbExecutions("arb", settings(hedge="hold"), ctx, MarketInfo("SOL/USDC", "SOL", "USDC", D("0.01"), D("0.01")),
                        lambda: the_book, lambda ex: None)
    arb._save = lambda ex, columns=None: ex.sync_row()  # (the row is what the store would hold)
    arb.on_fill(late)  # this run has finished nothing: the execution is the store's
    [correction] = published
    assert isinstance(correction, ExecutionResult) and correction.corrects
    assert not arb.busy and row.state == "done" and arb.done_count == 0
    # before the restart it executed 1 SOL (predicted 2 USDC for it); the late swap makes it 2 SOL sold, 1 bought
    first = ExecutionResult("arb", D(2), D(-1), "USDC", 4, "o-1", D(1), D(1))
    assert correction.filled == 2
    assert arb.realized_total == correction.realized_pnl - D(-1) != 0
    assert arb.predicted_total == predicted_for_filled(correction)[0] - predicted_for_filled(first)[0] == D(2)
