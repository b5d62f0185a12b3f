"""The stated rule of shared balances (``plugins.arb.inventory``'s module doc): each strategy may spend its weight's
share of what the account holds *now*, not a fixed allocation: one pair's spending lowers every sharer's share at
once, and together they never plan to spend more than there is."""

from __future__ import annotations

from decimal import Decimal

from bot.api import Balance, Fill, Liquidity, Side
from plugins.arb.inventory import InventoryBook, SharedBalances

D = Decimal


def test_one_pairs_spending_lowers_every_sharers_share_of_what_is_left():
    shared = SharedBalances()
    sol = InventoryBook("cex", "sol-pool", "SOL", "USDC", shared=shared, strategy="sol-arb")
    jup = InventoryBook("cex", "jup-pool", "JUP", "USDC", shared=shared, strategy="jup-arb")
    sol.snapshot("cex", {"USDC": Balance("USDC", D(1000), D(1000)), "SOL": Balance("SOL", D(5), D(5)),
                         "JUP": Balance("JUP", D(1000), D(1000))}, 1)
    assert sol.available("cex", "USDC") == jup.available("cex", "USDC") == D(500)
    # a SOL/USDC execution buys 1 SOL on the CEX for 150.15 USDC
    sol.on_fill(Fill("cex", "SOL/USDC", "o-cex", "t1", Side.BUY, D("150.15"), D(1), D(0), "USDC", Liquidity.TAKER, 2))
    # JUP/USDC's share of the CEX's USDC is half of what is left, not the 500 it had: 500 -> 424.925
    assert jup.available("cex", "USDC") == sol.available("cex", "USDC") == (D(1000) - D("150.15")) / 2 == D("424.925")
    assert jup.amounts()[1] == D("424.925")
    assert sol.amounts()[1] + jup.amounts()[1] == sol.balance("cex", "USDC")  # never more than there is
