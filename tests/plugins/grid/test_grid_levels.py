from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import MarketInfo
from plugins.grid.levels import level_prices, recentre, slot_prices

D = Decimal


def market(tick: str) -> MarketInfo:
    return MarketInfo(symbol="BTC/USD", base="BTC", quote="USD", tick_size=D(tick), lot_size=D("0.001"))


def test_arithmetic_levels_are_equally_far_apart():
    assert level_prices(D(100), D(150), 6, "arithmetic") == [D(100), D(110), D(120), D(130), D(140), D(150)]


def test_geometric_levels_are_an_equal_ratio_apart():
    levels = level_prices(D(100), D(1600), 5, "geometric")
    assert levels == [D(100), D(200), D(400), D(800), D(1600)]
    assert levels[0] == D(100) and levels[-1] == D(1600)  # the ends are exact, not computed


def test_two_levels_are_just_the_ends():
    assert level_prices(D("0.5"), D("0.7"), 2, "geometric") == [D("0.5"), D("0.7")]


@pytest.mark.parametrize(
    ("lower", "upper", "count", "match"),
    [(D(100), D(150), 1, "at least 2 levels"), (D(150), D(100), 3, "0 < lower < upper"),
     (D(0), D(100), 3, "0 < lower < upper")],
)
def test_impossible_grids_are_refused(lower, upper, count, match):
    with pytest.raises(ValueError, match=match):
        level_prices(lower, upper, count, "arithmetic")


def test_slot_prices_round_buys_down_and_sells_up_to_the_tick():
    levels = [D(100), D("100.555"), D("101.111")]
    assert slot_prices(levels, market("0.01")) == [(D("100.00"), D("100.56")), (D("100.55"), D("101.12"))]


def test_slot_i_buys_at_level_i_and_sells_at_level_i_plus_1():
    levels = level_prices(D(100), D(130), 4, "arithmetic")
    assert slot_prices(levels, market("0.01")) == [(D(100), D(110)), (D(110), D(120)), (D(120), D(130))]


def test_levels_closer_than_a_tick_are_refused():
    levels = level_prices(D(100), D(101), 4, "arithmetic")  # 100, 100.33, 100.67, 101
    with pytest.raises(ValueError, match=r"levels 0 and 1 .* both round to 100 at tick size 1: use fewer levels"):
        slot_prices(levels, market("1"))


def test_top_levels_closer_than_a_tick_are_refused_though_their_buys_differ():
    # 8.6, 9.3, 10 on a tick of 1: the buys (8, 9) differ, but levels 1 and 2 both round up to 10, so both slots
    # would sell at 10 (slot 0 two ticks up, slot 1 one): the grid is finer than the tick
    levels = level_prices(D("8.6"), D(10), 3, "arithmetic")
    with pytest.raises(ValueError, match=r"levels 1 and 2 \(9.3 and 10\) both round up to 10 at tick size 1: use"):
        slot_prices(levels, market("1"))


def test_a_lowest_level_below_one_tick_is_refused():
    with pytest.raises(ValueError, match="rounds down to 0"):
        slot_prices([D("0.5"), D(2), D(3)], market("1"))


def test_recentre_keeps_an_arithmetic_width():
    assert recentre(D(100), D(150), "arithmetic", D(200)) == (D(175), D(225))


def test_recentre_keeps_a_geometric_ratio():
    assert recentre(D(100), D(400), "geometric", D(1000)) == (D(500), D(2000))


def test_recentre_refuses_a_grid_reaching_zero():
    with pytest.raises(ValueError, match="lower end would be -25"):
        recentre(D(100), D(200), "arithmetic", D(25))


@given(
    lower=st.decimals(min_value=D("0.01"), max_value=D(10_000), places=4),
    width=st.decimals(min_value=D("0.5"), max_value=D(10_000), places=4),
    count=st.integers(min_value=2, max_value=40),
    spacing=st.sampled_from(["arithmetic", "geometric"]),
    tick=st.sampled_from(["0.0001", "0.01", "0.5"]),
)
def test_rounded_slots_always_buy_below_their_level_and_sell_above_the_next(lower, width, count, spacing, tick):
    upper = lower + width
    levels = level_prices(lower, upper, count, spacing)
    assert levels == sorted(levels) and len(set(levels)) == count
    try:
        slots = slot_prices(levels, market(tick))
    except ValueError:
        return  # tick too coarse for this grid: refused, which is the point
    for i, (buy, sell) in enumerate(slots):
        assert buy <= levels[i] < levels[i + 1] <= sell
        assert buy % D(tick) == 0 and sell % D(tick) == 0
        assert buy > 0
        if i:
            assert buy > slots[i - 1][0] and sell > slots[i - 1][1]
