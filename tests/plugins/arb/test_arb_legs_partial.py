"""An IOC leg part filled against a leg filled in full: the hedge is the difference, on the side that closes it,
rounded down to the CEX lot (never past the exposure: it is reduce-only), and what it cannot close is alerted and
valued at the CEX mid in the execution's realized PnL."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import OrderStatus, Side
from tests.plugins.arb.test_arb_legs_late import BOOK, Harness

D = Decimal
MID = (D(150) + D("150.1")) / 2


def test_a_part_filled_cex_leg_is_hedged_for_the_difference_on_the_lot_and_the_rest_is_said():
    h = Harness()
    h.fill("o-1-cex", Side.BUY, "150", "0.37")
    h.update("o-1-cex", OrderStatus.CANCELLED, "0.37", "150")  # the IOC's rest found no liquidity
    swap = h.fill("o-1-dex", Side.SELL, "153", "0.6354", exchange="dex")  # the swap sold a size off the CEX's lot
    h.update("o-1-dex", OrderStatus.FILLED, "0.6354", "153", exchange="dex")
    h.arb.on_book(BOOK)
    [hedge] = h.submitted  # short 0.2654: buy back 0.26 (0.27 would leave a long)
    assert (hedge.side, hedge.qty, hedge.reduce_only) == (Side.BUY, D("0.26"), True)
    assert hedge.price == D("150.85")  # the ask 150.1 plus 50 bps at most (150.85050), rounded down to the tick
    h.fill("o-1-hedge", Side.BUY, "150.1", "0.26")
    h.update("o-1-hedge", OrderStatus.FILLED, "0.26", "150.1")
    # the account holds the swap's fee in SOL less too; the PnL counts that fee at its fill's price, once
    assert h.row.state == "done" and h.row.residual == D("-0.0054") - swap.fee == D("-0.005405")
    assert any("the hedge left -0.005405 SOL" in a for a in h.alerts)
    cash = -D(150) * D("0.37") + D(153) * D("0.6354") - D("150.1") * D("0.26") - swap.fee * swap.price
    [result] = h.results()
    assert result.realized_pnl == h.row.realized_pnl == cash + D("-0.0054") * MID


def test_a_difference_under_the_cex_minimum_is_held_and_said_not_sent():
    h = Harness()
    h.fill("o-1-cex", Side.BUY, "150", "1")
    h.update("o-1-cex", OrderStatus.FILLED, "1", "150")
    swap = h.fill("o-1-dex", Side.SELL, "153", "0.9951", exchange="dex")
    h.update("o-1-dex", OrderStatus.FILLED, "0.9951", "153", exchange="dex")
    h.arb.on_book(BOOK)
    assert h.submitted == []  # long 0.0049: under min_qty 0.01 (and off the lot), the venue would refuse it
    assert any("holding it (0.004895 SOL is below the CEX minimum" in a for a in h.alerts)
    assert h.row.state == "done" and h.row.residual == D("0.0049") - swap.fee and "residual held" in h.row.note
