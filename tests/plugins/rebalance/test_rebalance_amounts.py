"""A proposal shows its amounts as the host shows money (trailing zeros trimmed, cents for a stablecoin), and exactly:
what an admin confirms is what is sent."""

from __future__ import annotations

from decimal import Decimal as D

from bot.api import TransferTerms
from plugins.rebalance.planner import Need, plan

TERMS = TransferTerms("SOL", D("0.010"), D("0.10"), D("0"), "SOL", 60.0)


def test_a_proposal_shows_its_amount_trimmed_not_at_six_places():
    p = plan(Need("arb", "SOL", ("cex", "dex")), {"cex": D("12.04"), "dex": D("1.98")}, {"cex": TERMS}, D("0.25"), None)
    assert p is not None and p.amount == D("5.03") and str(p.amount) == "5.030000"  # rounded down to 6 places
    text = p.describe()
    assert "move 5.03 SOL cex -> dex" in text, text
    assert "of 14.02 SOL" in text and "withdrawal fee 0.01 SOL (minimum 0.1)" in text, text


def test_an_amount_money_would_round_is_shown_to_its_last_digit():
    held = {"cex": D("80.123456"), "dex": D("20")}
    p = plan(Need("arb", "SOL", ("cex", "dex")), held, {"cex": TERMS}, D("0.25"), None)
    assert p is not None and p.amount == D("30.061728")
    assert "move 30.061728 SOL cex -> dex" in p.describe()  # bot.units.money: 30.0617 SOL, not what is sent


def test_a_stablecoin_amount_is_shown_in_cents_when_that_is_exact():
    usdc = TransferTerms("USDC", D("1"), D("10"), D("0"), "USDC", 60.0)
    p = plan(Need("arb", "USDC", ("cex", "dex")), {"cex": D("9000"), "dex": D("1000")}, {"cex": usdc}, D("0.25"),
             None)
    assert p is not None and "move 4000.00 USDC cex -> dex" in p.describe()
    odd = plan(Need("arb", "USDC", ("cex", "dex")), {"cex": D("9000.000002"), "dex": D("1000")}, {"cex": usdc},
               D("0.25"), None)
    assert odd is not None and "move 4000.000001 USDC cex -> dex" in odd.describe()
