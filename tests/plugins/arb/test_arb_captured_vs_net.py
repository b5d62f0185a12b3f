"""An arbitrage's two PnL figures on hand-built fills with a fee-residual hedge: the ledger's net PnL (the strategy's
figure on every surface) and the executions' own PnL summed (captured). They are different quantities, each shown
under its own name, and they differ by exactly what the executions value at the CEX mid.

Ten executions of 1 SOL each pay 0.001 SOL of CEX buy fee (at 150) and a 0.000005 SOL swap fee (at 153); the tenth's
hedge buys 0.01 SOL back at 150.1 (``test_arb_residual_pending``'s run, driven on the real executions and store).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.ledger import Ledger, steps
from bot.store import Store
from bot.units import amount
from plugins.arb.records import CAPTURED, executions, summary
from tests.plugins.arb.test_arb_residual_pending import BOOK, Run

D = Decimal
MID = (BOOK.best_bid + BOOK.best_ask) / 2  # 150.05: the CEX mid each execution finishes at


@pytest.fixture
def store(db_url):
    opened = Store(db_url).open()
    yield opened
    opened.close()


def test_the_ledger_holds_what_the_account_holds_after_a_hedge_buys_the_fees_base_back(store):
    run = Run(store, [])
    for n in range(1, 13):
        run.execution(n)
    assert [(cid, qty) for cid, _, qty in run.hedges()] == [("o-10-hedge", D("0.01"))]
    positions: dict = {}
    list(steps([("arb", f) for f in run.fills()], positions))
    book = positions[("arb", "SOL/USDC")]
    # the account is short the fees' SOL not bought back, and the ledger holds that and nothing else: before, the
    # 0.01 SOL bought back was a lot of its own, next to the 0.01005 SOL paid away, both marked
    assert book.qty == run.position() == D("-0.00206") and not book.lots
    fig = Ledger(store, lambda exchange, symbol: MID).strategy("arb")
    cash = sum((f.qty * f.price * (1 if f.side.value == "sell" else -1) - (f.fee if f.fee_asset == "USDC" else 0)
                for f in run.fills()), D(0))
    assert fig.net["USDC"] + fig.unrealized["USDC"] == cash + run.position() * MID  # what the account is worth


def test_the_executions_own_pnl_is_shown_as_captured_apart_from_the_ledgers_net(store):
    run = Run(store, [])
    for n in range(1, 13):
        run.execution(n)
    net = Ledger(store).strategy("arb").net["USDC"]
    captured = sum((r.realized_pnl for r in executions(store, "arb", limit=100)), D(0))
    # the tenth execution values the 0.01 SOL its hedge bought back at the mid it finished at (it "holds" it), the
    # ledger at 150, what the CEX fees that took it were expensed at: the only difference
    assert captured - net == D("0.01") * (MID - D("150")) == D("0.0005")
    # arbot report's arbitrage table names the executions' sum apart from the ledger's columns (realized PnL before
    # fees, net PnL): before, a "realized" column showed it next to the ledger's realized PnL
    header, row = summary(store)
    cells = dict(zip(header, row, strict=True))
    assert "realized" not in header and cells["captured"] == amount(captured, "USDC")
    assert "not the ledger's net" in CAPTURED and "mid" in CAPTURED  # the one wording of it, on every surface
