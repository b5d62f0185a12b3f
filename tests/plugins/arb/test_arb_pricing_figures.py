"""The figures of an evaluation, made when read, by the shortcuts that make them for published opportunities.

A hopeless direction (no size can clear min_edge_bps) shows its smallest size priced: the pricer makes it
straight (:meth:`Pricer._smallest`), without the size search's machinery. On generated books, pools,
inventories and caps it must show exactly what the general path (the search told the direction is hopeless)
shows, read the same levels, and give up (None) exactly where a cap rules the smallest size out; made in the
unsettled evaluation itself, it shows what a new one shows, field for field. A swap's limits are made on integers:
the same as the Decimal formulas. The SOL fees' Decimals, kept per CEX mid, are those made fresh.
"""

from __future__ import annotations

from dataclasses import fields
from decimal import ROUND_CEILING, ROUND_FLOOR, localcontext

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.api import BPS, Side
from bot.api.kit import from_units
from plugins.arb.pricing import (
    _EXACT,
    _FIGURES,
    _UNIT,
    Direction,
    Evaluation,
    Inventory,
    _Fees,
    _limit_units,
    _Quote,
    _times,
    _unsettled,
)
from tests.plugins.arb.test_arb_pricing_kit import RICH, D, book, pool, pricer
from tests.plugins.arb.test_arb_pricing_memo import decision

CENT = D("0.01")


def every_field(e: Evaluation) -> tuple:
    """Every field of an evaluation (its reason as text, its swap as the object it is made from)."""
    return tuple(e.reason if f.name == "why" else getattr(e, f.name) for f in fields(Evaluation))


@st.composite
def scenes(draw):
    sol = draw(st.integers(1_000, 20_000))
    price = draw(st.integers(50, 250))
    the_pool = pool(sol, sol * price + draw(st.sampled_from((0, 1, 7, 333))), draw(st.integers(0, 40)))
    mid = the_pool.mid()
    dislocation = D(draw(st.integers(-150, 150))) / 10_000
    ask = max(CENT * 2, (mid * (1 - dislocation)).quantize(CENT))
    bid = ask - D(draw(st.integers(1, 30))) / 100
    gap = st.integers(1, 40)
    size = st.integers(1, 600)
    asks, bids, a, b = [], [], ask, bid
    for _ in range(draw(st.integers(1, 5))):
        asks.append((a, D(draw(size)) / 100))
        a += CENT * draw(gap)
    for _ in range(draw(st.integers(1, 5))):
        if b > CENT:
            bids.append((b, D(draw(size)) / 100))
        b = max(CENT, b - CENT * draw(gap))
    inventory = draw(st.sampled_from((
        RICH,
        Inventory(cex_base=D(3), cex_quote=D(400), dex_base=D(2), dex_quote=D(300)),
        Inventory(cex_base=D("0.5"), cex_quote=D(10), dex_base=D("0.5"), dex_quote=D(10)),
        Inventory(cex_base=D(40), cex_quote=D(5_000), dex_base=D(40), dex_quote=D(5_000)),
    )))
    caps = {
        "min_edge_bps": D(draw(st.integers(0, 80))),
        "max_cex_slippage_bps": D(draw(st.integers(0, 60))),
        "max_dex_impact_bps": D(draw(st.integers(1, 60))),
        "max_notional": D(draw(st.sampled_from((100, 1_000, 100_000)))),
        "min_size": D(draw(st.integers(1, 4))),
    }
    return the_pool, book(bids, asks), inventory, caps


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_the_smallest_size_priced_straight_shows_what_the_general_path_shows(scene):
    the_pool, tick, inventory, caps = scene
    p = pricer(the_pool, **caps)
    p.evaluate(tick, inventory)  # the gates and scales for this pool state and book
    sides = ((Direction.BUY_CEX_SELL_DEX, tick.ask_units), (Direction.BUY_DEX_SELL_CEX, tick.bid_units))
    for direction, units in sides:
        fees = _Fees((tick.best_bid_units, tick.best_ask_units), p._cost[direction])
        if not units:
            continue
        t = units[0][0]
        if not (t < p._ask_edge_below if direction is Direction.BUY_CEX_SELL_DEX else t > p._bid_edge_above):
            continue  # no edge at the touch: never priced
        span = [1, False, None]
        with localcontext(_EXACT):
            straight = p._smallest(direction, units, inventory, fees)
            general = p._direction_uncached(direction, units, inventory, fees, span, True, True)
        if straight is None:
            assert general.size == 0, general.reason  # a cap rules the smallest size out
        else:
            made, read = straight
            assert decision(made) == decision(general)
            assert made.dex == general.dex and made.notional == general.notional
            assert made.dex_limit_quote == general.dex_limit_quote
            assert list(read) == span
            assert not made.tradable
            # made in place (a published opportunity's figures): the same evaluation, field for field
            unsettled = _unsettled(direction, False, True, lambda ev: ev)  # made in place: not called
            with localcontext(_EXACT):
                in_place = p._smallest(direction, units, inventory, fees, unsettled)
            assert in_place is not None and in_place[0] is unsettled and in_place[1] == read
            assert every_field(unsettled) == every_field(made)


@given(st.integers(0, 10**15), st.integers(0, 10**6), st.integers(0, 4), st.booleans())
def test_the_swap_limit_on_integers_is_the_decimal_one(quote_units, tolerance, places, sell):
    """Minimum out / maximum in: the integer formula equals the Decimal product rounded, for any dex_slippage_bps."""
    bps = D(tolerance).scaleb(-places)
    with localcontext(_EXACT):
        factor = (BPS - bps) if sell else (BPS + bps)
        expected = int((quote_units * factor / BPS).to_integral_value(ROUND_FLOOR if sell else ROUND_CEILING))
    assert _limit_units(quote_units, bps.as_integer_ratio(), sell) == expected


@given(st.integers(-10**40, 10**40) | st.integers(-10**6, 10**6), st.integers(0, 45))
def test_an_integer_made_a_decimal_by_one_product_is_from_units_digit_for_digit(units, decimals):
    """The hot path's conversion (the integer times a kept power of ten, exactly) makes what ``from_units`` makes
    in the exact context it runs in: the same digits and exponent (a pool amount, a touch, a swap limit)."""
    with localcontext(_EXACT):
        assert _times(units, _UNIT[decimals]).as_tuple() == from_units(units, decimals).as_tuple()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(scenes(), min_size=2, max_size=6), st.sampled_from((0, 1, 2, 3)))
def test_a_pricer_through_pool_states_and_scales_decides_as_fresh_ones(steps, which):
    """What an inventory allows is kept across pool states while the pricing scale stands: a pricer taken
    through pools of other fees and mids (other scales) decides and shows what a fresh pricer shows on each."""
    inventory = (RICH, Inventory(cex_base=D(3), cex_quote=D(400), dex_base=D(2), dex_quote=D(300)),
                 Inventory(cex_base=D(40), cex_quote=D(5_000), dex_base=D(40), dex_quote=D(5_000)),
                 Inventory(cex_base=D("0.5"), cex_quote=D(10), dex_base=D("0.5"), dex_quote=D(10)))[which]
    lasting = pricer(steps[0][0])
    for the_pool, tick, _, _ in steps:
        lasting.set_pool(the_pool)
        got = [decision(e) for e in lasting.evaluate(tick, inventory)]
        assert got == [decision(e) for e in pricer(the_pool).evaluate(tick, inventory)]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**15), st.integers(1, 10**12), st.integers(0, 9), st.integers(0, 12), st.integers(0, 10**4),
       st.integers(0, 3), st.booleans())
def test_the_swap_limit_price_on_integers_is_the_quantized_decimal_quotient(quote_units, base_units, qd, bd, tolerance,
                                                                             places, sell):
    """The limit's average price: limit_quote / size quantized to the pool's price exponent, rounded down for a
    minimum out and up for a maximum in; the same digits and exponent."""
    p = pricer(pool(1_000, 150_000), dex_slippage_bps=D(tolerance).scaleb(-places))
    p._quote_decimals, p._base_decimals = qd, bd
    q = D(base_units).scaleb(-bd)
    quote = _Quote(D(0), D(0), D(0), base_units, quote_units, p._priced_pool, False)
    with localcontext(_EXACT):
        p._settle(quote, sell, q)
        limit_quote = D(_limit_units(quote_units, p._tolerance_ratio, sell)).scaleb(-qd)
        expected = (limit_quote / q).quantize(D(1).scaleb(-(qd + bd)), rounding=ROUND_FLOOR if sell else ROUND_CEILING)
    assert quote.limit is not None
    price, got_quote = quote.limit
    assert price.as_tuple() == expected.as_tuple() and got_quote.as_tuple() == limit_quote.as_tuple()


def test_settling_takes_every_figure_of_the_evaluation_made():
    """An unsettled evaluation made by another one takes each of its figures (and only those: the decision stays)."""
    values = iter(range(1, 100))
    made = Evaluation(**{f.name: D(next(values)) for f in fields(Evaluation) if f.init})
    ev = _unsettled(Direction.BUY_DEX_SELL_CEX, True, True, lambda _: made)
    assert ev.settled() is ev and ev._make is None
    for name in _FIGURES:
        assert getattr(ev, name) is getattr(made, name), name
    assert (ev.direction, ev.cex_side, ev.dex_side, ev.tradable, ev.edge) == (
        Direction.BUY_DEX_SELL_CEX, Side.SELL, Side.BUY, True, True)


@pytest.mark.parametrize("name", _FIGURES)
def test_reading_any_figure_settles_an_unsettled_evaluation_once(name):
    """Each figure of an unsettled evaluation, read first, settles it (once): it is then an ``Evaluation`` whose
    fields are plain slots, equal to the evaluation it was made from, and compares so before settling too."""
    values = iter(range(1, 100))
    made = Evaluation(**{f.name: D(next(values)) for f in fields(Evaluation) if f.init})
    made.direction, made.cex_side, made.dex_side, made.tradable, made.edge = (
        Direction.BUY_DEX_SELL_CEX, Side.SELL, Side.BUY, True, True)
    calls = []
    ev = _unsettled(made.direction, made.tradable, made.edge, lambda ev: calls.append(ev) or made)
    assert isinstance(ev, Evaluation) and type(ev) is not Evaluation and not calls
    assert getattr(ev, name) is getattr(made, name)
    assert calls == [ev] and type(ev) is Evaluation and ev._make is None
    assert ev == made and ev.settled() is ev and calls == [ev]
    twin = _unsettled(made.direction, made.tradable, made.edge, lambda _: made)
    assert made == twin and type(twin) is Evaluation  # compared as what it stands for (settled by the comparison)
    with pytest.raises(AttributeError):
        _unsettled(made.direction, False, False, lambda _: made).no_such_field  # noqa: B018


def test_the_sol_fees_kept_per_cex_mid_are_those_made_fresh():
    """The network and priority fees in quote at the CEX mid (SOL the base): kept per (bid + ask) and the book's price
    decimals, so a mid seen again, or the same integers at other decimals, show what a fresh pricer shows."""
    lasting = pricer(pool(1_000, 150_000))
    books = (book([("149.10", 5)], [("149.30", 5)]), book([("149.00", 5)], [("149.40", 5)]),
             book([("14.910", 5)], [("14.930", 5)]), book([("149.10", 5)], [("149.30", 5)]))
    for tick in books:
        lasting.evaluate(tick, RICH)
        fresh = pricer(pool(1_000, 150_000))
        fresh.evaluate(tick, RICH)
        touch = (tick.best_bid_units, tick.best_ask_units)
        for direction in Direction:
            with localcontext(_EXACT):
                got = lasting._fee_pair(_Fees(touch, lasting._cost[direction]))
                expected = fresh._fee_pair(_Fees(touch, fresh._cost[direction]))
                sol = (tick.best_bid + tick.best_ask) / 2
            assert [x.as_tuple() for x in got] == [x.as_tuple() for x in expected]
            cost = lasting._cost[direction]
            assert got == (cost.network_sol * sol, cost.priority_sol * sol, cost.rent_sol * sol)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_a_tradable_direction_searched_on_from_its_decision_shows_what_a_search_from_scratch_shows(scene):
    """A direction found tradable at its smallest size is searched when its figures are read, on from where its
    decision stopped (its walk, its smallest size priced) and into the evaluation handed out: field for field what
    the whole search run from scratch makes."""
    the_pool, tick, inventory, caps = scene
    p = pricer(the_pool, **caps)
    for direction, ev in zip(Direction, p.edges(tick, inventory), strict=True):
        if ev is None or not ev.tradable or ev._make is None:
            continue
        units = tick.ask_units if direction is Direction.BUY_CEX_SELL_DEX else tick.bid_units
        hint = dict(p._last_top)
        with localcontext(_EXACT):
            scratch = p._direction_uncached(direction, units, inventory, _Fees((tick.best_bid_units,
                                                                                 tick.best_ask_units),
                                                                                p._cost[direction]),
                                            [1, False, None], False, True)
        p._last_top = hint  # the search starts from the same hint
        assert ev.settled() is ev and ev._make is None
        assert every_field(ev) == every_field(scratch)
        assert ev.tradable and ev.size > 0
