"""The figures of an evaluation, made when read, by the shortcuts that make them for published opportunities.

A hopeless direction (no size can clear min_edge_bps) shows its smallest size priced: the pricer makes it
straight (:meth:`Pricer._smallest`), without the size search's machinery. On generated books, pools,
inventories and caps it must show exactly what the general path (the search told the direction is hopeless)
shows, read the same levels, and give up (None) exactly where a cap rules the smallest size out. A swap's
limits are made on integers: the same as the Decimal formula.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, localcontext

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.api import BPS
from plugins.arb.pricing import _EXACT, Direction, Inventory, _Fees, _limit_units
from tests.plugins.arb.test_arb_pricing_kit import RICH, D, book, pool, pricer
from tests.plugins.arb.test_arb_pricing_memo import decision

CENT = D("0.01")


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
    fees = _Fees((tick.best_bid_units, tick.best_ask_units))
    sides = ((Direction.BUY_CEX_SELL_DEX, tick.ask_units), (Direction.BUY_DEX_SELL_CEX, tick.bid_units))
    for direction, units in sides:
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


@given(st.integers(0, 10**15), st.integers(0, 10**6), st.integers(0, 4), st.booleans())
def test_the_swap_limit_on_integers_is_the_decimal_one(quote_units, tolerance, places, sell):
    """Minimum out / maximum in: the integer formula equals the Decimal product rounded, for any dex_slippage_bps."""
    bps = D(tolerance).scaleb(-places)
    with localcontext(_EXACT):
        factor = (BPS - bps) if sell else (BPS + bps)
        expected = int((quote_units * factor / BPS).to_integral_value(ROUND_FLOOR if sell else ROUND_CEILING))
    assert _limit_units(quote_units, bps.as_integer_ratio(), sell) == expected


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
