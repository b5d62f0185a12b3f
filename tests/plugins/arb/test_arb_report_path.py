"""What a published opportunity's report reads of an evaluation is made the same however cheaply it is made: the
reason ranks its costs as ``(amount, name)`` pairs sorted in reverse (ties by name), an evaluation settled when
read is made in the exact context whatever context the reader is in, and the reader's context is its own again
afterwards, also when settling raises."""

from __future__ import annotations

from decimal import Context, Decimal, getcontext, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugins.arb.pricing import _DISPLAY, BPS, Direction, _exactly, _show_bps
from tests.plugins.arb.test_arb_pricing_kit import RICH, book, pool, pricer

NAMES = ("cex fee", "cex slippage", "dex fee", "dex impact", "network fee", "priority fee", "account rent",
         "latency haircut")
TENTH, HUNDREDTH = Decimal("0.1"), Decimal("0.01")
AMOUNTS = ("0", "0.0", "-0.001", "0.001", "0.0010", "0.5", "0.50", "1", "1.0", "2.25", "0.0149990",
           "0.0060003678497593220807812810920000")


def reference_reason(p, q: Decimal, gross_bps: Decimal, costs, net: Decimal, notional: Decimal) -> str:
    """The reason as it was written before this pass (the costs ranked as pairs sorted in reverse), kept here to
    compare the faster one with, character for character."""
    scale = _DISPLAY.divide(BPS, notional)
    ranked = [(amount, name) for name, amount in costs if amount > 0]
    ranked.sort(reverse=True)
    listing = ", ".join([f"{name} {_DISPLAY.quantize(bps := amount * scale, TENTH if bps >= 1 else HUNDREDTH)!s}"
                         for amount, name in ranked])
    at = f"at {q!s} {p.base}: "
    edge, floor = _show_bps(gross_bps), str(p.settings.min_edge_bps)
    if gross_bps <= p.settings.min_edge_bps:
        return f"{at}gross edge {edge} bps <= min {floor} bps before any cost (costs {listing} bps)"
    total = sum((amount for _, amount in costs), Decimal(0))
    text = (f"{at}gross edge {edge} bps less costs {_show_bps(total * scale)} bps ({listing} bps): "
            f"net {_show_bps(net * scale)} bps <= min {floor} bps")
    if ranked and (net + ranked[0][0]) * BPS > p.settings.min_edge_bps * notional:
        text += f"; the {ranked[0][1]} alone turns it"
    return text


@given(st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(AMOUNTS)), min_size=1, max_size=8,
                unique_by=lambda c: c[0]),
       st.sampled_from(("14.999", "15.0091962439830520195320273", "0.3")),
       st.sampled_from(("1", "10", "50")), st.sampled_from(("-0.01", "-1", "0.001")))
def test_the_reason_lists_the_costs_largest_first_and_a_tie_by_the_larger_name(pairs, notional, gross, net):
    p = pricer(pool(1_000, 150_000))
    costs = tuple((name, Decimal(amount)) for name, amount in pairs)
    args = (Decimal("0.1"), Decimal(gross), costs, Decimal(net), Decimal(notional))
    assert p._reason(*args) == reference_reason(p, *args)


def test_equal_amounts_are_listed_by_the_larger_name_first_whatever_their_order_or_exponent():
    p = pricer(pool(1_000, 150_000))
    costs = (("dex fee", Decimal("0.5")), ("cex fee", Decimal("0.50")), ("network fee", Decimal("0.5")),
             ("latency haircut", Decimal("0.1")))
    text = p._reason(Decimal("1"), Decimal(1), costs, Decimal("-1.6"), Decimal(10_000))
    assert "(costs network fee 0.50, dex fee 0.50, cex fee 0.50, latency haircut 0.10 bps)" in text


def hopeless_pair():
    """A pricer and a book on which buying on the CEX has an edge (ask 149.90 < mid 150) but no size can clear
    min_edge_bps: decided on the touch alone, its figures made when first read (on the smallest size)."""
    p = pricer(pool(1_000, 150_000))
    tick = book([("149.80", 50)], [("149.90", 50)])
    return p, tick


def figures(ev) -> tuple:
    return (ev.size, ev.gross_pnl, ev.net_pnl, ev.net_bps, ev.costs, ev.cex_limit_price, ev.cex_avg_price,
            ev.dex_limit_price, ev.dex_limit_quote, ev.notional, ev.reason)


def test_a_report_read_in_a_coarse_context_gets_the_exact_figures_and_keeps_its_context():
    p, tick = hopeless_pair()
    expected = pricer(pool(1_000, 150_000)).evaluate(tick, RICH)[0]
    assert not expected.tradable and expected.size > 0
    expected_figures = figures(expected)
    ev = p.edges(tick, RICH)[0]
    assert ev is not None and ev._make is not None  # unsettled: made when read
    with localcontext(Context(prec=3)) as coarse:
        ev.settled()
        assert getcontext() is coarse
    assert figures(ev) == expected_figures


def test_the_exact_context_is_left_when_what_runs_in_it_raises():
    outer = getcontext()

    def fails() -> None:
        assert getcontext().prec == 90
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        _exactly(fails)
    assert getcontext() is outer
    assert _exactly(lambda a, b: a * b, Decimal("1.000000000000000000000000001"), Decimal("3")) == Decimal(
        "3.000000000000000000000000003")  # 28 digits would round it


def test_a_tradable_direction_read_later_is_settled_exactly_in_the_readers_context_too():
    p = pricer(pool(1_000, 150_000))
    tick = book([("148.70", 50)], [("148.80", 50)])
    expected = figures(pricer(pool(1_000, 150_000)).evaluate(tick, RICH)[0])
    ev = p.edges(tick, RICH)[0]
    assert ev is not None and ev.tradable and ev.direction is Direction.BUY_CEX_SELL_DEX
    with localcontext(Context(prec=2)) as coarse:
        ev.settled()
        assert getcontext() is coarse
    assert figures(ev) == expected
