"""A restart while a leg is part filled and still open: its fills stored before the restart count in the execution's
realized PnL exactly as the ledger counts them (each fill's price and fee), not from its order's average price and a
fee as read at the restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal, localcontext
from types import SimpleNamespace

import pytest

from bot.clock import ManualClock
from bot.domain import Fill, Liquidity, MarketInfo, Order, OrderStatus, OrderUpdate, Side
from bot.ledger import EXACT_DIGITS, fee_in_quote
from plugins.arb import execution
from plugins.arb.execution import ArbExecutions
from plugins.arb.records import StoredLegs, new_execution
from tests.plugins.arb.test_arb_pricing_kit import book, settings

D = Decimal
BOOK = book(bids=[("150", "10")], asks=[("150.1", "10")])


def cex_fill(trade_id: str, price: str, qty: str) -> Fill:
    fee = (D(price) * D(qty) * D("0.001")).quantize(D("0.00000001"))  # 10 bps, in USDC
    return Fill("cex", "SOL/USDC", "o-1-cex", trade_id, Side.BUY, D(price), D(qty), fee, "USDC", Liquidity.TAKER, 2)


@pytest.mark.parametrize("inline", [True, False], ids=["sqlite", "postgresql"])
def test_a_leg_part_filled_before_a_restart_realizes_from_every_fill(monkeypatch, inline):
    # the CEX leg (IOC buy of 0.3) had filled 0.1 when the bot stopped, its answer not yet in (unknown)
    before = cex_fill("c1", "150.01", "0.1")
    after = cex_fill("c2", "150.02", "0.2")
    swap = Fill("dex", "SOL/USDC", "o-1-dex", "d1", Side.SELL, D("153.123"), D("0.3"), D("0.000005"), "SOL",
                Liquidity.TAKER, 2)
    row = new_execution(
        opportunity_id="o-1", strategy="arb", state="open", symbol="SOL/USDC", direction="buy_cex_sell_dex",
        created_ns=1, size=D("0.3"), predicted_pnl=D(1), sol_price=D(150),
        cex_exchange="cex", cex_side="buy", cex_qty=D("0.3"), cex_price=D("150.1"), cex_cid="o-1-cex",
        cex_submitted_ns=1, dex_exchange="dex", dex_side="sell", dex_qty=D("0.3"), dex_price=D(152),
        dex_cid="o-1-dex", dex_submitted_ns=1)
    at_restart = {
        "o-1-cex": Order("o-1-cex", "arb", "cex", "SOL/USDC", Side.BUY, D("0.3"), D("150.1"),
                         status=OrderStatus.UNKNOWN, filled_qty=D("0.1"), avg_fill_price=D("150.01"),
                         fee=before.fee),
        "o-1-dex": Order("o-1-dex", "arb", "dex", "SOL/USDC", Side.SELL, D("0.3"), D(152),
                         status=OrderStatus.OPEN)}
    stored = {"o-1-cex": [before], "o-1-dex": []}
    held: dict[str, Order] = {}

    async def read_later(fn, *args):
        return [row], StoredLegs(dict(at_restart), {cid: list(f) for cid, f in stored.items()}), D(0)

    published: list = []
    ctx = SimpleNamespace(
        clock=ManualClock(), log=logging.getLogger("test"), intent=contextlib.nullcontext,
        submit=lambda intent: intent, order=at_restart.get, held_order=held.get,
        stored_fills=lambda client_order_id: stored[client_order_id], read_later=read_later,
        alert=lambda level, kind, message, **fields: None, alerts_heard=False,
        bus=SimpleNamespace(publish=published.append), store=SimpleNamespace(records_inline=inline))
    monkeypatch.setattr(execution, "open_executions", lambda store, strategy: [row])
    monkeypatch.setattr(execution, "unhedged_residual", lambda store, strategy: D(0))  # (no other execution)
    market = MarketInfo("SOL/USDC", "SOL", "USDC", D("0.01"), D("0.01"), min_qty=D("0.01"))
    arb = ArbExecutions("arb", settings(hedge="ioc"), ctx, market, lambda: BOOK, lambda ex: None)
    arb._save = lambda ex, columns=None: ex.sync_row()
    [ex] = asyncio.run(arb.recover())
    assert ex.cex.filled == D("0.1") and not ex.cex.final
    # the CEX leg's answer comes: 0.2 more, cancelled (IOC); its average price is a rounded quotient
    arb.on_fill(after)
    avg = (before.price * before.qty + after.price * after.qty) / D("0.3")
    arb.on_order_update(OrderUpdate("cex", "SOL/USDC", "o-1-cex", "arb", OrderStatus.FILLED, D("0.3"), avg, 3))
    # the swap lands later; by then the CEX order was written (the executor holds it no more)
    arb.on_fill(swap)
    arb.on_order_update(OrderUpdate("dex", "SOL/USDC", "o-1-dex", "arb", OrderStatus.FILLED, D("0.3"),
                                    swap.price, 4))
    with localcontext(prec=EXACT_DIGITS):  # what the ledger counts for these fills: price x qty, each fee in quote
        ledger = sum((f.price * f.qty if f.side is Side.SELL else -f.price * f.qty) - fee_in_quote(f, "SOL", "USDC")
                     for f in (before, after, swap))
    [result] = [e for e in published if type(e).__name__ == "ExecutionResult"]
    assert row.state == "done" and row.residual == sum(f.base_change for f in (before, after, swap)) == -swap.fee
    assert result.realized_pnl == row.realized_pnl == ledger
