"""The residual of an execution is what the accounts' base changed by: each fill's :attr:`Fill.base_change`, fees
charged in the base asset included (a CEX's buy fee in SOL, a swap's network fee in SOL on SOL/USDC). It is hedged
once it reaches the CEX's ``min_qty`` (rounded down to the lot: never past it) and held, alerted, below it.

Driven by hand on fakes of the context, as ``test_arb_legs_late`` does."""

from __future__ import annotations

import contextlib
import logging
from decimal import Decimal
from types import SimpleNamespace

from bot.clock import ManualClock
from bot.domain import Fill, Liquidity, MarketInfo, OrderStatus, OrderUpdate, Side
from plugins.arb.execution import ArbExecutions, Execution
from plugins.arb.records import new_execution
from tests.plugins.arb.test_arb_pricing_kit import book, settings

D = Decimal
BOOK = book(bids=[("150", "100")], asks=[("150.1", "100")])
SWAP_FEE = D("0.000005")  # SOL, the swap's network fee: this market's base


class Harness:
    """One execution of ``size`` SOL: the CEX buys (its fee 0.001 SOL per SOL bought), the DEX sells."""

    def __init__(self, size: str) -> None:
        self.size = D(size)
        self.submitted: list = []
        self.alerts: list[str] = []
        self.published: list = []
        self.fills: list[Fill] = []
        self.ctx = SimpleNamespace(
            clock=ManualClock(), log=logging.getLogger("test"), intent=contextlib.nullcontext,
            submit=lambda intent: self.submitted.append(intent) or intent, order=lambda cid: None,
            held_order=lambda cid: None, stored_fills=lambda client_order_id: [],
            alert=lambda level, kind, message, **fields: self.alerts.append(message), alerts_heard=False,
            bus=SimpleNamespace(publish=self.published.append), store=SimpleNamespace(records_inline=True))
        market = MarketInfo("SOL/USDC", "SOL", "USDC", D("0.01"), D("0.01"), min_qty=D("0.01"))
        self.arb = ArbExecutions("arb", settings(hedge="ioc"), self.ctx, market, lambda: BOOK, lambda ex: None)
        self.arb._save = lambda ex, columns=None: ex.sync_row()
        self.row = new_execution(
            opportunity_id="o-1", strategy="arb", state="open", symbol="SOL/USDC", direction="buy_cex_sell_dex",
            created_ns=1, size=self.size, predicted_pnl=D(2), sol_price=D(150),
            cex_exchange="cex", cex_side="buy", cex_qty=self.size, cex_price=D(150), cex_cid="o-1-cex",
            cex_submitted_ns=1, dex_exchange="dex", dex_side="sell", dex_qty=self.size, dex_price=D(152),
            dex_cid="o-1-dex", dex_submitted_ns=1)
        self.ex = self.arb._track(Execution(self.row))
        self.trade_ids = iter(range(1, 1000))

    def leg(self, cid: str, exchange: str, side: Side, price: str, qty: D, fee: D) -> None:
        f = Fill(exchange, "SOL/USDC", cid, f"t{next(self.trade_ids)}", side, D(price), qty, fee, "SOL",
                 Liquidity.TAKER, 2)
        self.fills.append(f)
        self.arb.on_fill(f)
        self.arb.on_order_update(OrderUpdate(exchange, "SOL/USDC", cid, "arb", OrderStatus.FILLED, qty, D(price), 3))

    def legs_fill(self, dex_qty: str | None = None) -> None:
        self.leg("o-1-cex", "cex", Side.BUY, "150", self.size, self.size * D("0.001"))
        self.leg("o-1-dex", "dex", Side.SELL, "153", D(dex_qty) if dex_qty else self.size, SWAP_FEE)
        self.arb.on_book(BOOK)  # (a fresh CEX book: a hedge goes on one)

    def position(self) -> D:
        """What the accounts' base changed by over every fill of the execution (the ledger's figure)."""
        return sum((f.base_change for f in self.fills), D(0))


def test_a_residual_of_fees_in_the_base_below_min_qty_is_held_and_noted_not_alerted():
    h = Harness("1")
    h.legs_fill()
    # the CEX credited 0.999 SOL, the swap took 1.000005: the account holds 0.001005 SOL less than before
    assert h.row.state == "done"
    assert h.row.residual == h.position() == D("-0.001005")
    assert h.submitted == []  # under the CEX's min_qty (0.01): nothing the venue would take
    # the legs bought and sold the same 1 SOL: what is left is fees, on every SOL/USDC execution: noted, not alerted
    assert h.alerts == []
    assert "fees in SOL held: 0.001005 SOL is below the CEX minimum" in h.row.note


def test_a_residual_of_legs_that_disagree_below_min_qty_is_held_and_said():
    h = Harness("1")
    h.legs_fill(dex_qty="0.995")  # the swap sold 0.995 of the 1 SOL the CEX bought: 0.004 long after the fees
    assert h.row.state == "done" and h.submitted == []
    [held] = h.alerts  # one alert says it, not "hedging it" then "cannot hedge"
    assert "long" in held and "holding it" in held and "below the CEX minimum" in held
    assert "residual held" in h.row.note


def test_a_residual_of_fees_in_the_base_at_min_qty_is_hedged_down_to_the_lot():
    h = Harness("10")
    h.legs_fill()  # 9.99 SOL in, 10.000005 out: 0.010005 short
    assert h.ex.residual() == D("-0.010005")
    [hedge] = h.submitted
    assert (hedge.client_order_id, hedge.side, hedge.qty) == ("o-1-hedge", Side.BUY, D("0.01"))  # lot 0.01, down
    h.leg("o-1-hedge", "cex", Side.BUY, "150.1", D("0.01"), D("0.00001"))
    # what is left (0.000015 SOL, under min_qty) is held and said, and the row is what the accounts did, exactly
    assert h.row.state == "done" and [i.client_order_id for i in h.submitted] == ["o-1-hedge"]
    assert h.row.residual == h.position() == D("-0.000015")
    assert [a for a in h.alerts if "-0.000015 SOL" in a]


def test_the_realized_pnl_still_counts_each_base_fee_once_at_its_fill_price():
    h = Harness("1")
    h.legs_fill()
    [result] = [e for e in h.published if type(e).__name__ == "ExecutionResult"]
    # the fees are in the PnL at their fills' prices (as the ledger counts them), not again in the residual's value
    assert result.realized_pnl == h.row.realized_pnl == D(153) - D(150) - D("0.001") * 150 - SWAP_FEE * 153


def test_a_base_fee_whose_trade_comes_after_the_orders_answer_decides_once_on_the_trade():
    """The CEX answers "10 SOL filled" before its trade, and the trade charges 0.01 SOL of fee in the base: decided on
    the answer, the residual was the swap's 0.000005 SOL, held; decided on the trade, 0.010005 SOL short is hedged.
    The decision waits for the trade, and is taken once."""
    h = Harness("10")
    h.arb.on_order_update(OrderUpdate("cex", "SOL/USDC", "o-1-cex", "arb", OrderStatus.FILLED, D(10), D(150), 3))
    h.leg("o-1-dex", "dex", Side.SELL, "153", D(10), SWAP_FEE)
    h.arb.on_book(BOOK)
    assert h.submitted == [] and h.row.state == "open"  # waiting for the CEX trade, nothing decided yet
    trade = Fill("cex", "SOL/USDC", "o-1-cex", "t-late", Side.BUY, D(150), D(10), D("0.01"), "SOL", Liquidity.TAKER, 4)
    h.fills.append(trade)
    h.arb.on_fill(trade)
    h.arb.on_book(BOOK)
    [hedge] = h.submitted
    assert (hedge.client_order_id, hedge.side, hedge.qty) == ("o-1-hedge", Side.BUY, D("0.01"))
    h.leg("o-1-hedge", "cex", Side.BUY, "150.1", D("0.01"), D("0.00001"))
    assert h.row.state == "done" and h.row.residual == h.position() == D("-0.000015")
    assert "held" not in h.row.note and len(h.submitted) == 1
