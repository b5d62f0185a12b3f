"""The plan itself: targets from the strategies' settings, drift, amounts, caps, minimums."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D

from bot.api import TransferTerms
from plugins.rebalance.planner import Need, needs, plan
from plugins.rebalance.settings import RebalanceSettings

TERMS = TransferTerms("SOL", D("0.01"), D("0.1"), D("0"), "SOL", 60.0)
NEED = Need("arb", "SOL", ("cex", "dex"))


@dataclass
class ArbLike:
    cex: str = "cex"
    dex: str = "dex"
    symbol: str = "SOL/USDC"


@dataclass
class GridLike:
    exchange: str = "cex"
    symbol: str = "BTC/USD"


def test_a_two_venue_strategy_needs_both_assets_on_both_venues_and_a_grid_needs_nothing_moved():
    assert needs({"a": ArbLike(), "g": GridLike()}) == [Need("a", "SOL", ("cex", "dex")),
                                                        Need("a", "USDC", ("cex", "dex"))]


def test_within_the_threshold_nothing_is_proposed():
    assert plan(NEED, {"cex": D("70"), "dex": D("30")}, {"cex": TERMS, "dex": TERMS}, D("0.25"), None) is None


def test_past_the_threshold_the_poor_side_is_brought_back_to_half_at_the_richer_sides_terms():
    p = plan(NEED, {"cex": D("80"), "dex": D("20")}, {"cex": TERMS, "dex": None}, D("0.25"), None)
    assert (p.source, p.destination, p.amount, p.share, p.terms) == ("cex", "dex", D("30"), D("0.2"), TERMS)
    assert "withdrawal fee 0.01 SOL (minimum 0.1)" in p.describe() and "~60 s" in p.describe()


def test_caps_minimums_and_a_source_that_cannot_send():
    held = {"cex": D("80"), "dex": D("20")}
    assert plan(NEED, held, {"cex": TERMS}, D("0.25"), D("5")).amount == D("5")
    assert plan(NEED, held, {"cex": None, "dex": TERMS}, D("0.25"), None) is None
    tiny = {"cex": D("0.08"), "dex": D("0.01")}
    assert plan(NEED, tiny, {"cex": TERMS}, D("0.25"), None) is None  # below the venue's minimum


def test_the_amount_is_rounded_down_to_what_the_source_sends():
    held = {"cex": D("80.123456"), "dex": D("20")}
    stepped = TransferTerms("SOL", D("0.01"), D("0.1"), D("0"), "SOL", 60.0, step=D("0.0001"))
    assert plan(NEED, held, {"cex": stepped}, D("0.25"), None).amount == D("30.0617")
    assert plan(NEED, held, {"cex": TERMS}, D("0.25"), None).amount == D("30.061728")


def test_settings_check_caps_and_the_window():
    problems = RebalanceSettings(max_per_day={"SOL": "-1"}, window="25:00-26:00").validate()
    assert [key for key, _ in problems] == ["max_per_day.SOL", "window"]
    night = RebalanceSettings(window="22:00-06:00")
    assert night.in_window(23 * 60) and night.in_window(60) and not night.in_window(12 * 60)


def test_a_transfer_never_takes_what_open_orders_hold_at_the_source():
    """The arbitrage's resting orders hold most of the CEX's SOL (free 10 of 80): the transfer moves at most what is
    free, less the withdrawal fee and a network fee paid in the same asset, so no order loses its funds."""
    p = plan(NEED, {"cex": D("80"), "dex": D("20")}, {"cex": TERMS, "dex": None}, D("0.25"), None,
             free={"cex": D("10"), "dex": D("20")})
    assert p is not None and p.amount == D("9.99")
    wallet = TransferTerms("SOL", D("0"), D("0"), D("0.000005"), "SOL", 60.0)
    p = plan(NEED, {"cex": D("80"), "dex": D("20")}, {"cex": wallet, "dex": None}, D("0.25"), None,
             free={"cex": D("10")})
    assert p is not None and p.amount == D("9.999995")
    assert plan(NEED, {"cex": D("80"), "dex": D("20")}, {"cex": TERMS, "dex": None}, D("0.25"), None,
                free={"cex": D("0.05")}) is None  # nothing free to send
