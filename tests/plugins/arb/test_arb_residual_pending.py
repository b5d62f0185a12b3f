"""The pair's pending residual: what the executions left unhedged, summed across them.

Every SOL/USDC execution leaves the fees charged in SOL (here a CEX buy fee of 0.001 SOL per SOL bought and the
swap's 0.000005 SOL): 0.001005 SOL short for 1 SOL, under the CEX's ``min_qty`` (0.01), so no execution can hedge it
by itself. Their sum is hedged once it reaches ``min_qty``, by the hedge of the execution that brings it there, and
the sum is read back from the stored rows at a restart (neither forgotten nor counted twice).

Driven by hand on fakes of the context (as ``test_arb_inventory_residual``), on a real store (the ``db_url``
fixture's: SQLite, or PostgreSQL with ``ARBOT_TEST_DB_URL``), whose rows a restart reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal
from types import SimpleNamespace

import pytest

from bot.clock import ManualClock
from bot.domain import Fill, Liquidity, MarketInfo, Order, OrderStatus, OrderUpdate, Side
from bot.ledger import Position
from bot.store import Store
from plugins.arb.execution import ArbExecutions, Execution
from plugins.arb.records import executions, insert_execution, new_execution, save_execution
from tests.plugins.arb.test_arb_pricing_kit import book, settings

D = Decimal
BOOK = book(bids=[("150", "100")], asks=[("150.1", "100")])
CEX_FEE = D("0.001")  # of the base bought, in the base (SOL)
SWAP_FEE = D("0.000005")  # SOL, the swap's network fee: this market's base
EACH = -(CEX_FEE + SWAP_FEE)  # what one execution of 1 SOL leaves: -0.001005 SOL
MARKET = MarketInfo("SOL/USDC", "SOL", "USDC", D("0.01"), D("0.01"), min_qty=D("0.01"))


@pytest.fixture
def store(db_url):
    opened = Store(db_url).open()
    yield opened
    opened.close()


class Run:
    """One run of the bot's arb executions: a fresh :class:`ArbExecutions` on the store, which holds the orders and
    fills as the executor stores them (a restart makes another on the same store). ``submitted``: every order the
    executions sent, across runs."""

    def __init__(self, store: Store, submitted: list, *, hedge: str = "ioc") -> None:
        self.store, self.submitted = store, submitted
        self.alerts: list[str] = []
        self.published: list = []

        async def read_later(fn, *args):  # (the store writer's thread, here the test's)
            return fn(*args)

        self.ctx = SimpleNamespace(
            clock=ManualClock(), log=logging.getLogger("test"), intent=contextlib.nullcontext,
            submit=self._submit, order=store.get_order, held_order=lambda cid: None,
            stored_fills=lambda client_order_id: [f for _, f in store.fills(client_order_id=client_order_id)],
            read_later=read_later, alert=lambda level, kind, message, **fields: self.alerts.append(message),
            alerts_heard=False, bus=SimpleNamespace(publish=self.published.append), store=store)
        self.arb = ArbExecutions("arb", settings(hedge=hedge), self.ctx, MARKET, lambda: BOOK, lambda ex: None)
        self.arb._save = self._save  # every change written at once, on the test's thread (either store)
        asyncio.run(self.arb.recover())

    def _save(self, ex: Execution, columns=None) -> None:
        ex.saves += 1
        ex.sync_row()
        save_execution(self.store, ex.row, ex.saved, columns)

    def _submit(self, intent):
        self.submitted.append(intent)
        assert self.store.insert_order(Order(intent.client_order_id, "arb", intent.exchange, intent.symbol,
                                             intent.side, intent.qty, intent.price, status=OrderStatus.OPEN))
        return intent

    def fill(self, cid: str, exchange: str, side: Side, price: str, qty: D, fee: D, fee_asset: str = "SOL") -> None:
        """``cid`` filled ``qty`` in one trade, stored as the executor stores it: its fill, then its order's end."""
        order = self.store.get_order(cid)
        if order is None:
            order = Order(cid, "arb", exchange, "SOL/USDC", side, qty, D(price), status=OrderStatus.OPEN)
            assert self.store.insert_order(order)
        f = Fill(exchange, "SOL/USDC", cid, f"{cid}-t", side, D(price), qty, fee, fee_asset, Liquidity.TAKER, 2)
        order.status, order.filled_qty, order.avg_fill_price = OrderStatus.FILLED, qty, D(price)
        self.store.write_batch([order], [("arb", f)])
        self.arb.on_fill(f)
        self.arb.on_order_update(OrderUpdate(exchange, "SOL/USDC", cid, "arb", OrderStatus.FILLED, qty, D(price), 3))

    def execution(self, n: int, *, fill_hedges: bool = True, cex: str = "1", dex: str = "1") -> Execution:
        """Execution ``o-N`` of 1 SOL: the CEX buys ``cex`` (its fee in SOL), the swap sells ``dex``; a hedge it sends
        is filled."""
        oid = f"o-{n}"
        row = new_execution(
            opportunity_id=oid, strategy="arb", state="open", symbol="SOL/USDC", direction="buy_cex_sell_dex",
            created_ns=n, size=D(1), predicted_pnl=D(2), sol_price=D(150),
            cex_exchange="cex", cex_side="buy", cex_qty=D(1), cex_price=D(150), cex_cid=f"{oid}-cex",
            cex_submitted_ns=n, dex_exchange="dex", dex_side="sell", dex_qty=D(1), dex_price=D(152),
            dex_cid=f"{oid}-dex", dex_submitted_ns=n)
        assert insert_execution(self.store, row)
        ex = self.arb._track(Execution(row))
        self.fill(f"{oid}-cex", "cex", Side.BUY, "150", D(cex), D(cex) * CEX_FEE)
        self.fill(f"{oid}-dex", "dex", Side.SELL, "153", D(dex), SWAP_FEE)
        self.arb.on_book(BOOK)  # (a fresh CEX book: a hedge goes on one)
        if fill_hedges and ex.hedge is not None and not ex.hedge.final:
            self.fill_hedge(ex)
        return ex

    def fill_hedge(self, ex: Execution) -> None:
        hedge = ex.hedge
        assert hedge is not None
        self.fill(hedge.cid, "cex", hedge.side, "150.1", hedge.qty, D("0.015"), "USDC")  # (a fee in quote)

    def hedges(self) -> list[tuple[str, Side, D]]:
        return [(i.client_order_id, i.side, i.qty) for i in self.submitted]

    def fills(self) -> list[Fill]:
        return [f for _, f in self.store.fills(strategy="arb")]

    def position(self) -> D:
        """What the account's base changed by over every fill (the portfolio's and the ledger's figure)."""
        return sum((f.base_change for f in self.fills()), D(0))

    def stored_residuals(self) -> D:
        """The residuals of the executions done, as stored (``arbot report``'s residual column sums them)."""
        return sum((r.residual for r in executions(self.store, "arb", limit=1000) if r.state == "done"), D(0))


def test_residuals_each_under_min_qty_are_hedged_once_their_sum_reaches_it(store):
    submitted: list = []
    run = Run(store, submitted)
    for n in range(1, 10):
        run.execution(n)
    assert run.hedges() == []  # 9 x 0.001005 = 0.009045 SOL short: under the CEX's min_qty, nothing to send yet
    assert run.position() == 9 * EACH
    run.execution(10)  # 0.01005 short: one hedge buys 0.01 back (the lot, rounded down), under this one's id
    assert run.hedges() == [("o-10-hedge", Side.BUY, D("0.01"))], f"the account drifted {run.position()} SOL"
    for n in range(11, 13):
        run.execution(n)
    assert run.hedges() == [("o-10-hedge", Side.BUY, D("0.01"))]  # one hedge, sent once
    assert run.arb.pending_residual == 12 * EACH + D("0.01")
    # what the account drifted by is what is pending, under min_qty; the rows, the ledger and the account agree
    ledger = Position()
    for f in run.fills():
        ledger.apply_fill(f)
    assert run.position() == 12 * EACH + D("0.01") == D("-0.00206")
    assert run.arb.pending_residual == run.position() == run.stored_residuals() == ledger.qty
    assert abs(run.position()) < MARKET.min_qty
    [carrier] = [r for r in executions(store, "arb", limit=100) if r.opportunity_id == "o-10"]
    assert carrier.hedge_cid == "o-10-hedge" and "pending" in carrier.note
    assert not [a for a in run.alerts if "hedg" in a]  # fees in the base: noted and logged, not alerted


def test_a_restart_reads_the_pending_residual_back_from_the_rows_without_counting_it_twice(store, caplog):
    submitted: list = []
    first = Run(store, submitted)
    for n in range(1, 8):
        first.execution(n)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="test"):
        second = Run(store, submitted)  # a restart: the sum is the rows', not zero
    assert second.arb.pending_residual == 7 * EACH == second.position()
    said = [r.getMessage() for r in caplog.records if "left unhedged by earlier executions" in r.getMessage()]
    assert len(said) == 1 and f"{7 * EACH} SOL" in said[0] and 'hedge = "hold"' in said[0], said  # before it trades
    for n in range(8, 11):
        second.execution(n)
    assert second.hedges() == [("o-10-hedge", Side.BUY, D("0.01"))]
    third = Run(store, submitted)  # after the hedge: what is left, once
    assert third.arb.pending_residual == second.arb.pending_residual == third.position() == 10 * EACH + D("0.01")
    third.execution(11)
    assert third.hedges() == [("o-10-hedge", Side.BUY, D("0.01"))]
    assert third.arb.pending_residual == third.position() == third.stored_residuals()


def test_a_restart_while_the_hedge_of_the_pending_residual_is_in_flight_finishes_it_once(store):
    submitted: list = []
    first = Run(store, submitted)
    for n in range(1, 10):
        first.execution(n)
    carrier = first.execution(10, fill_hedges=False)  # the hedge is sent; the bot stops before it ends
    assert carrier.hedge is not None and carrier.row.state == "hedging"
    second = Run(store, submitted)
    assert second.arb.pending_residual == 9 * EACH  # the done rows'; the execution in flight is followed
    [ex] = second.arb.current.values()
    second.fill_hedge(ex)
    # the hedge closed what the ten executions left (the pending and its own): nothing more is sent
    assert second.hedges() == [("o-10-hedge", Side.BUY, D("0.01"))] and not second.arb.busy
    assert second.arb.pending_residual == second.position() == second.stored_residuals() == 10 * EACH + D("0.01")


def test_with_hedge_hold_the_pending_residual_is_kept_and_summed(store):
    """``hedge = "hold"`` never hedges: the sum is kept, and known (the strategy's ``/status`` shows it)."""
    submitted: list = []
    run = Run(store, submitted, hedge="hold")
    for n in range(1, 13):
        run.execution(n)
    assert run.hedges() == []
    assert run.arb.pending_residual == run.position() == run.stored_residuals() == 12 * EACH


def test_legs_that_disagree_are_hedged_with_the_pending_residual_and_never_past_it(store):
    """A residual of legs that disagree, under min_qty alone, is hedged when the pending residual takes the sum to
    min_qty; one over min_qty alone that the pending takes back under it is held: its hedge would go past what the
    account holds."""
    submitted: list = []
    run = Run(store, submitted)
    for n in range(1, 10):
        run.execution(n)
    run.execution(10, cex="0.994")  # 0.006999 short of its own: 0.016044 with the pending
    assert run.hedges() == [("o-10-hedge", Side.BUY, D("0.01"))]
    assert run.arb.pending_residual == run.position() == 9 * EACH + D("0.994") * (1 - CEX_FEE) - 1 - SWAP_FEE + D(
        "0.01") == D("-0.006044")
    run.execution(11, dex="0.982")  # 0.016995 long of its own: 0.010951 with the pending, hedged down to the lot
    assert run.hedges()[1:] == [("o-11-hedge", Side.SELL, D("0.01"))]
    assert run.arb.pending_residual == run.position() == D("0.000951")
    run.execution(12, dex="1.0095")  # 0.010505 short alone: its hedge would buy 0.01, past the 0.009554 short the
    assert run.hedges()[2:] == []  # account holds with the pending: it is held (a hedge never goes past it)
    assert run.arb.pending_residual == run.position() == D("-0.009554")
    run.execution(13)  # the fees of one more: 0.010559 short, hedged
    assert run.hedges()[2:] == [("o-13-hedge", Side.BUY, D("0.01"))]
    assert run.arb.pending_residual == run.position() == run.stored_residuals() == D("-0.000559")
