"""A leg's fill that lands after its order ended (a swap the executor gave up on, confirmed later) while its execution
is still open: the residual the hedge was decided on is no longer the exposure. It is hedged once, for what is left,
never twice and never left unhedged.

The execution is driven by hand on fakes of its context (as ``test_arb_execution``'s unit tests do): the CEX leg
bought 1 SOL, the swap that was to sell it was given up on (``failed``), so a hedge sells 1 SOL on the CEX.
"""

from __future__ import annotations

import contextlib
import logging
from decimal import Decimal
from types import SimpleNamespace

import pytest

from bot.clock import ManualClock
from bot.domain import Fill, Liquidity, MarketInfo, OrderStatus, OrderUpdate, Side
from plugins.arb.execution import ArbExecutions, Execution
from plugins.arb.records import new_execution
from tests.plugins.arb.test_arb_pricing_kit import book, settings

D = Decimal
BOOK = book(bids=[("150", "10")], asks=[("150.1", "10")])


class Harness:
    """One execution of 1 SOL (CEX buy filled at 150, DEX sell given up on), its submits, alerts and results."""

    def __init__(self) -> None:
        self.submitted: list = []
        self.alerts: list[str] = []
        self.published: list = []
        self.ctx = SimpleNamespace(
            clock=ManualClock(), log=logging.getLogger("test"), intent=contextlib.nullcontext,
            submit=lambda intent: self.submitted.append(intent) or intent, order=lambda cid: None,
            held_order=lambda cid: None, stored_fills=lambda client_order_id: [],
            alert=lambda level, kind, message, **fields: self.alerts.append(message), alerts_heard=False,
            bus=SimpleNamespace(publish=self.published.append), store=SimpleNamespace(records_inline=True))
        market = MarketInfo("SOL/USDC", "SOL", "USDC", D("0.01"), D("0.01"), min_qty=D("0.01"))
        self.arb = ArbExecutions("arb", settings(hedge="ioc"), self.ctx, market, lambda: BOOK, lambda ex: None)
        self.arb._save = lambda ex, columns=None: ex.sync_row()  # (the row is what the store would hold)
        self.row = new_execution(
            opportunity_id="o-1", strategy="arb", state="open", symbol="SOL/USDC", direction="buy_cex_sell_dex",
            created_ns=1, size=D(1), predicted_pnl=D(2), sol_price=D(150),
            cex_exchange="cex", cex_side="buy", cex_qty=D(1), cex_price=D(150), cex_cid="o-1-cex",
            cex_submitted_ns=1, dex_exchange="dex", dex_side="sell", dex_qty=D(1), dex_price=D(152),
            dex_cid="o-1-dex", dex_submitted_ns=1)
        self.ex = self.arb._track(Execution(self.row))
        self.trade_ids = iter(range(1, 1000))

    def fill(self, cid: str, side: Side, price: str, qty: str, exchange: str = "cex") -> Fill:
        fee_asset = "USDC" if exchange == "cex" else "SOL"
        fee = D(0) if exchange == "cex" else D("0.000005")
        f = Fill(exchange, "SOL/USDC", cid, f"t{next(self.trade_ids)}", side, D(price), D(qty), fee, fee_asset,
                 Liquidity.TAKER, 2)
        self.arb.on_fill(f)
        return f

    def update(self, cid: str, status: OrderStatus, filled: str, avg: str | None,
               exchange: str = "cex") -> None:
        self.arb.on_order_update(OrderUpdate(exchange, "SOL/USDC", cid, "arb", status, D(filled),
                                             D(avg) if avg is not None else None, 3))

    def legs_end(self, *, book_comes: bool = True) -> None:
        """The CEX leg bought 1 SOL at 150; the swap was given up on (failed, nothing filled known)."""
        self.fill("o-1-cex", Side.BUY, "150", "1")
        self.update("o-1-cex", OrderStatus.FILLED, "1", "150")
        self.update("o-1-dex", OrderStatus.FAILED, "0", None, exchange="dex")
        if book_comes:  # (a fresh CEX book: the hedge of the residual goes on one)
            self.arb.on_book(BOOK)

    def swap_lands(self, how: str) -> Fill:
        """The swap given up on lands after all: its fill, the executor's update of its order, or both."""
        late = None
        if how == "update first":
            self.update("o-1-dex", OrderStatus.FILLED, "1", "153", exchange="dex")
        if how != "update only":
            late = self.fill("o-1-dex", Side.SELL, "153", "1", exchange="dex")
        if how in ("fill then update", "update only"):
            self.update("o-1-dex", OrderStatus.FILLED, "1", "153", exchange="dex")
        return late

    def results(self) -> list:
        return [e for e in self.published if type(e).__name__ == "ExecutionResult"]


HOW = ["fill then update", "update first", "fill only"]


@pytest.mark.parametrize("how", HOW)
def test_a_swap_landing_while_the_hedge_is_in_flight_is_hedged_back_once_it_ends(how):
    h = Harness()
    h.legs_end()
    [hedge] = h.submitted  # sell back what the CEX bought: +1 SOL
    assert (hedge.client_order_id, hedge.side, hedge.qty) == ("o-1-hedge", Side.SELL, D(1))
    h.swap_lands(how)  # the swap sold 1 SOL too: with the hedge's sale, 1 SOL short
    h.fill("o-1-hedge", Side.SELL, "149.9", "1")
    h.update("o-1-hedge", OrderStatus.FILLED, "1", "149.9")
    assert h.ex.hedge_wanted and h.row.hedge_cid == "o-1-hedge2"  # (decided in the row before it goes)
    h.arb.on_book(BOOK)
    # the short the late swap left is bought back on the CEX under the next hedge id, once
    assert [i.client_order_id for i in h.submitted] == ["o-1-hedge", "o-1-hedge2"]
    hedge2 = h.submitted[1]
    assert (hedge2.side, hedge2.qty) == (Side.BUY, D(1))
    assert h.row.state == "hedging" and h.results() == []
    h.fill("o-1-hedge2", Side.BUY, "150.1", "1")
    h.update("o-1-hedge2", OrderStatus.FILLED, "1", "150.1")
    [result] = h.results()
    fee = D("0.000005") * D(153)  # the swap's SOL fee (SOL is this market's base: at its fill's price)
    # (the swap's network fee, 0.000005 SOL, is SOL/USDC's base: the account holds that much less)
    assert h.row.state == "done" and h.row.residual == -D("0.000005")
    assert result.realized_pnl == h.row.realized_pnl == D(-150) + D(153) + D("149.9") - D("150.1") - fee
    assert len([i for i in h.submitted if i.side is Side.SELL]) == 1  # never hedged twice


@pytest.mark.parametrize("how", HOW)
def test_a_swap_landing_before_the_hedge_goes_leaves_nothing_to_hedge(how):
    """The hedge waits for a fresh CEX book; meanwhile the swap lands and the legs agree after all: no hedge, no
    "cannot hedge 0 SOL" alert (only the swap's fee in SOL is held, and said), the execution is done with both legs'
    fills."""
    h = Harness()
    h.legs_end(book_comes=False)  # the hedge waits for a fresh book
    assert h.ex.hedge_wanted and h.submitted == []
    h.swap_lands(how)
    h.arb.on_book(BOOK)
    assert h.submitted == []
    assert [a for a in h.alerts if "cannot hedge" in a] == [
        "arbitrage o-1: cannot hedge -0.000005 SOL (0.000005 SOL is below the CEX minimum (0.01 SOL)); holding it"]
    fee = D("0.000005") * D(153)
    [result] = h.results()
    assert h.row.state == "done" and h.row.residual == -fee / 153 and h.row.note.count("residual held") == 1
    assert result.realized_pnl == D(-150) + D(153) - fee


def test_a_restart_after_the_swap_landed_under_a_hedge_in_flight_hedges_what_is_left(monkeypatch):
    """The run that saw the swap land stopped before its hedge ended: the restart finds the hedge filled and the swap
    filled too (1 SOL short on the hedge's own side, which no hedge of the residual it was decided on can leave). It
    is hedged under ``-hedge2``, not finished with the short left."""
    import asyncio

    from bot.domain import Order
    from plugins.arb import execution

    h = Harness()
    h.legs_end()
    h.row.state = "hedging"
    h.ex.sync_row()  # the row as the stopped run left it: the hedge sent, not yet ended
    orders = {
        "o-1-cex": Order("o-1-cex", "arb", "cex", "SOL/USDC", Side.BUY, D(1), D(150), status=OrderStatus.FILLED,
                         filled_qty=D(1), avg_fill_price=D(150)),
        "o-1-dex": Order("o-1-dex", "arb", "dex", "SOL/USDC", Side.SELL, D(1), D(152), status=OrderStatus.FILLED,
                         filled_qty=D(1), avg_fill_price=D(153), fee=D("0.000005") * D(153)),
        "o-1-hedge": Order("o-1-hedge", "arb", "cex", "SOL/USDC", Side.SELL, D(1), D("149.25"),
                           status=OrderStatus.FILLED, filled_qty=D(1), avg_fill_price=D("149.9"))}
    h.ctx.order = orders.get
    h.submitted.clear()
    monkeypatch.setattr(execution, "open_executions", lambda store, strategy: [h.row])
    monkeypatch.setattr(execution, "unhedged_residual", lambda store, strategy: D(0))  # (no other execution)
    second = ArbExecutions("arb", settings(hedge="ioc"), h.ctx, h.arb.market, lambda: BOOK, lambda ex: None)
    second._save = lambda ex, columns=None: ex.sync_row()
    [ex] = asyncio.run(second.recover())
    second.on_book(BOOK)
    assert [(i.client_order_id, i.side, i.qty) for i in h.submitted] == [("o-1-hedge2", Side.BUY, D(1))]
    assert ex.residual() == -1 and h.row.state == "hedging" and h.results() == []


def test_the_trade_that_comes_after_its_orders_answer_is_waited_for():
    """A CEX answers the IOC leg "1 SOL filled" before its trade comes on the private stream (Kraken, ccxt): what the
    legs left is decided on the trade, with its fee, once it comes; one result, its figures exact, nothing to
    correct."""
    h = Harness()
    h.update("o-1-cex", OrderStatus.FILLED, "1", "150")  # the answer, before its fill
    swap = h.fill("o-1-dex", Side.SELL, "153", "1", exchange="dex")
    h.update("o-1-dex", OrderStatus.FILLED, "1", "153", exchange="dex")
    h.arb.on_book(BOOK)
    assert h.results() == [] and h.row.state == "open" and h.ex.awaiting_fills and h.arb.busy
    trade = Fill("cex", "SOL/USDC", "o-1-cex", "c-1", Side.BUY, D(150), D(1), D("0.15"), "USDC", Liquidity.TAKER, 4)
    h.arb.on_fill(trade)
    [result] = h.results()
    assert h.row.state == "done" and h.row.residual == -swap.fee and not h.arb.busy and h.submitted == []
    assert result.realized_pnl == h.row.realized_pnl == D(153) - D(150) - D("0.15") - swap.fee * swap.price
    assert not result.corrects and h.alerts == []


@pytest.mark.parametrize("restarted", [False, True], ids=["this run", "after a restart"])
def test_a_fill_that_comes_after_its_orders_answer_is_no_late_fill(monkeypatch, restarted):
    """The trade of an answer's "1 SOL filled" has not come after ``FILLS_WAIT_MS``: the execution finishes on the
    order's figures. The trade, when it comes, is the fill the order counted, not 1 SOL more: nothing is hedged,
    nothing alerted as landed late; the execution's figures are made again from it (its fee now counted) and the
    result corrected."""
    from bot.domain import Order
    from plugins.arb import execution

    h = Harness()
    h.ctx.alerts_heard = True
    ends: list = []
    h.arb._on_done = ends.append
    h.update("o-1-cex", OrderStatus.FILLED, "1", "150")  # the answer, before its fill
    swap = h.fill("o-1-dex", Side.SELL, "153", "1", exchange="dex")
    h.update("o-1-dex", OrderStatus.FILLED, "1", "153", exchange="dex")
    h.ctx.clock.advance(execution.FILLS_WAIT_MS / 1000 - 0.001)
    h.arb.on_book(BOOK)
    assert h.results() == [] and h.ex.awaiting_fills  # (still waiting for it)
    h.ctx.clock.advance(0.001)
    h.arb.on_book(BOOK)  # the wait is over: decided on the order's figures
    [first] = h.results()
    assert h.row.state == "done" and h.row.residual == -swap.fee
    trade = Fill("cex", "SOL/USDC", "o-1-cex", "c-1", Side.BUY, D(150), D(1), D("0.15"), "USDC", Liquidity.TAKER, 4)
    arb = h.arb
    if restarted:  # the fill comes in the next run: the execution is read back from the store
        orders = {"o-1-cex": Order("o-1-cex", "arb", "cex", "SOL/USDC", Side.BUY, D(1), D(150),
                                   status=OrderStatus.FILLED, filled_qty=D(1), avg_fill_price=D(150)),
                  "o-1-dex": Order("o-1-dex", "arb", "dex", "SOL/USDC", Side.SELL, D(1), D(152),
                                   status=OrderStatus.FILLED, filled_qty=D(1), avg_fill_price=D(153),
                                   fee=swap.fee * swap.price)}
        stored = {"o-1-cex": [trade], "o-1-dex": [swap]}  # the executor stored the trade as it applied it
        h.ctx.order, h.ctx.stored_fills = orders.get, lambda client_order_id: stored.get(client_order_id, [])
        monkeypatch.setattr(execution, "execution_of", lambda store, strategy, oid: h.row if oid == "o-1" else None)
        arb = ArbExecutions("arb", settings(hedge="ioc"), h.ctx, h.arb.market, lambda: BOOK, ends.append)
        arb._save = lambda ex, columns=None: ex.sync_row()
    arb.on_fill(trade)
    arb.on_book(BOOK)
    assert h.submitted == [] and not [a for a in h.alerts if "late" in a]
    assert h.row.state == "done" and h.row.residual == -swap.fee and h.row.cex_filled == 1 and not arb.busy
    exact = D(153) - D(150) - D("0.15") - swap.fee * swap.price
    assert h.row.realized_pnl == exact != first.realized_pnl
    # told once, when it finished; the strategy's cooldown runs from that end, not from the trade
    assert len([a for a in h.alerts if " done: " in a]) == 1 and len(ends) == 1
    if not restarted:
        [_, correction] = h.results()
        assert correction.corrects and correction.realized_pnl == exact
