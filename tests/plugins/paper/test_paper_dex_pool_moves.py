"""The paper DEX's concentrated pool moves (dex_pool.move_to) exactly as the step-by-step swap would move it."""

from __future__ import annotations

import dataclasses
from decimal import ROUND_CEILING, Decimal, localcontext
from fractions import Fraction
from math import isqrt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbotlib.amm.whirlpool.math import TICK_ARRAY_SIZE, U64_MAX, reaches_limit_in_range, sqrt_price_at_tick
from arbotlib.amm.whirlpool.model import WhirlpoolModel
from plugins.paper import dex_pool

D = Decimal


def _step_by_step(model: WhirlpoolModel, price: Decimal) -> WhirlpoolModel:
    """move_to's reference: the swap of swap_quote, step by step, always."""
    target = dex_pool._target(model, price)
    return model if target == model.sqrt_price else dex_pool._swap_to(model, target)


def _outcome(move, model: WhirlpoolModel, price: Decimal):
    """The state a move leaves (its fields, its tick read), or the error it raises."""
    try:
        after = move(model, price)
    except Exception as exc:  # noqa: BLE001 - the error itself is compared
        return type(exc), str(exc)
    return after, after.tick


def whirlpool(price: Decimal, tvl: str, tick_spacing: int) -> WhirlpoolModel:
    return dex_pool.concentrated(base="SOL", quote="USDC", base_decimals=9, quote_decimals=6, price=price,
                                 tvl=D(tvl), fee_bps=4, tick_spacing=tick_spacing,
                                 widths_bps=[50, 100, 250, 500, 1000, 2500, 5000])


@settings(max_examples=300, deadline=None)
@given(start=st.integers(-2000, 2000),
       moves=st.lists(st.one_of(st.integers(-300, 300), st.integers(-3000, 3000), st.integers(-500_000, 500_000)),
                      min_size=1, max_size=8),
       spacing=st.sampled_from([1, 4, 64]), tvl=st.sampled_from(["1000", "2000000", "1000000000000"]))
def test_moves_land_where_the_step_by_step_swap_does(start, moves, spacing, tvl):
    """Moves inside the current range are known without the swap's amounts; every move must leave the
    pool exactly where swap_quote's would: moves of millionths of the price (most inside the range), of
    up to 0.3 % and up to 50 % (across ticks, out of the positions), from anywhere."""
    pool = got = whirlpool(D(150) * (1 + D(start) / 10_000), tvl, spacing)
    for move in moves:
        price = got.mid() * (1 + D(move) / 1_000_000)
        got, expected = dex_pool.move_to(got, price), _step_by_step(got, price)
        assert got == expected and got.tick == expected.tick
    assert got.ticks is pool.ticks


def test_small_moves_of_the_paper_pool_are_known_inside_the_range():
    pool = whirlpool(D(150), "2000000", 4)
    for move in (-300, 250, -120, 60, 1, -1, 299):  # millionths of the price: inside the range around 150
        price = pool.mid() * (1 + D(move) / 1_000_000)
        target = dex_pool._target(pool, price)
        assert reaches_limit_in_range(amount=U64_MAX, a_to_b=target < pool.sqrt_price, sqrt_price=pool.sqrt_price,
                                      tick=pool.tick, liquidity=pool.liquidity, fee_rate=pool.fee_rate,
                                      ticks=pool.ticks, sqrt_price_limit=target, tick_spacing=pool.tick_spacing)
        pool, expected = dex_pool.move_to(pool, price), _step_by_step(pool, price)
        assert pool == expected and pool.tick == expected.tick


@settings(max_examples=300, deadline=None)
@given(start=st.integers(-2000, 2000), spacing=st.sampled_from([1, 2, 4]),
       moves=st.lists(st.one_of(st.integers(-60, 60), st.integers(-1500, 1500), st.integers(-40_000, 40_000)),
                      min_size=1, max_size=30),
       tvl=st.sampled_from(["1000", "2000000"]))
def test_long_walks_across_ranges_and_tick_arrays_land_where_the_step_by_step_swap_does(start, spacing, moves, tvl):
    """Walks of up to 30 moves with tick arrays of 88 to 352 ticks: the facts a moved state takes from the
    state before it (while the stops stand) must decide as the state's own would, at every step."""
    got = whirlpool(D(150) * (1 + D(start) / 10_000), tvl, spacing)
    for move in moves:
        price = got.mid() * (1 + D(move) / 1_000_000)
        expected, moved = _outcome(_step_by_step, got, price), _outcome(dex_pool.move_to, got, price)
        assert moved == expected
        got = moved[0]  # with what the move hands on


@pytest.mark.parametrize("price", [D(0), D("-1"), D("NaN"), D("Infinity"), D("1E-40"), D("1E+40"), D("-0")])
def test_moves_to_prices_no_pool_has_end_as_the_step_by_step_swap_does(price):
    for model in (whirlpool(D(150), "2000000", 4),
                  WhirlpoolModel(1 << 64, 0, 10**12, 400, 4, (), "SOL", "USDC", 9, 6)):  # no ticks: no clamp
        assert _outcome(dex_pool.move_to, model, price) == _outcome(_step_by_step, model, price)


def _decimals():
    digits = st.integers(0, 10**30)
    return st.one_of(
        st.builds(lambda m, e: Decimal(m).scaleb(e), digits, st.integers(-40, 20)),
        st.builds(lambda m, e: Decimal(f"{m}E{e}"), digits, st.integers(-40, 40)),
        st.decimals(min_value=0, max_value=10**12, allow_nan=False, allow_infinity=False),
        st.builds(lambda m, e: Decimal(m) * (1 + Decimal(e) / 10**8), st.integers(1, 10**6),
                  st.integers(-10**6, 10**6)))


@settings(max_examples=1000, deadline=None)
@given(price=_decimals(), base_decimals=st.integers(0, 18), quote_decimals=st.integers(0, 18))
def test_the_sqrt_price_of_a_price_is_the_exact_floor_whatever_its_notation(price, base_decimals, quote_decimals):
    raw = Fraction(price) * Fraction(10) ** (quote_decimals - base_decimals)
    expected = isqrt(raw.numerator * (1 << 128) // raw.denominator)
    assert dex_pool._sqrt_price_x64(price, base_decimals, quote_decimals) == expected


@settings(max_examples=400, deadline=None)
@given(tick=st.integers(-30_000, 30_000), spacing=st.sampled_from([1, 4, 64]),
       liquidity=st.one_of(st.integers(1, 10**12), st.integers(10**20, 10**30), st.integers(10**30, (1 << 128) - 1)),
       offsets=st.lists(st.integers(-30, 30), min_size=1, max_size=6, unique=True),
       fee_rate=st.sampled_from([0, 400, 3000, 999_999]),
       moves=st.lists(st.one_of(st.integers(-300, 300), st.integers(-30_000, 30_000)), min_size=1, max_size=12))
def test_walks_of_pools_of_any_depth_land_where_the_step_by_step_swap_does(tick, spacing, liquidity, offsets,
                                                                           fee_rate, moves):
    """Pools deep enough that a move inside the range needs more than a u64 (the swap then stops short):
    the facts that tell a move fits must hold for every state that takes them."""
    indexes = sorted({(tick // spacing + offset) * spacing for offset in offsets})
    ticks = tuple((index, liquidity if index <= tick else -liquidity) for index in indexes)
    sqrt_price = sqrt_price_at_tick(tick) + 1
    got = WhirlpoolModel(sqrt_price, tick, liquidity, fee_rate, spacing, ticks, "A", "B", 0, 0)
    for move in moves:
        price = got.mid() * (1 + D(move) / 1_000_000)
        expected, moved = _outcome(_step_by_step, got, price), _outcome(dex_pool.move_to, got, price)
        assert moved == expected
        got = moved[0]  # with what the move hands on


def _price_of(sqrt_price: int) -> Decimal:
    """A price whose sqrt price (decimals 0) is ``sqrt_price``: its square over 2**128, 60 digits rounded up."""
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 60, ROUND_CEILING
        return Decimal(sqrt_price * sqrt_price) / Decimal(1 << 128)


@settings(max_examples=200, deadline=None)
@given(up_ticks=st.integers(1, 99), above_end=st.integers(1, 10**6), share=st.floats(0, 1),
       fee_rate=st.sampled_from([0, 3000]))
def test_a_move_that_fits_from_one_state_and_not_from_the_next_is_the_step_by_step_one(up_ticks, above_end, share,
                                                                                      fee_rate):
    """Liquidity between what lets a move down to the range's end fit from the start and from a state moved up
    before it (which takes the start's facts): each move must be the swap's, the second one stopping short."""
    # Inside one tick array (-22528 to -16897): initialized ticks the only stops; a price low enough that
    # the output of a move down fits a u64 whenever its input does.
    ticks_at, spacing = (-20100, -19900), 64
    start, moved = sqrt_price_at_tick(-20000) + 1, sqrt_price_at_tick(-20000 + up_ticks)
    end = sqrt_price_at_tick(ticks_at[0])
    limit = end + above_end
    budget = U64_MAX * (1_000_000 - fee_rate) // 1_000_000

    def most(sqrt_price: int, to: int) -> int:  # the liquidity whose move from sqrt_price down to ``to`` just fits
        return budget * sqrt_price * to // ((sqrt_price - to) << 64)

    low, high = most(moved, limit) + 1, most(start, end + 1)
    liquidity = low + int((high - low) * share)
    pool = WhirlpoolModel(start, -20000, liquidity, fee_rate, spacing,
                          ((ticks_at[0], liquidity), (ticks_at[1], -liquidity)), "A", "B", 0, 0)
    for price in (_price_of(moved), _price_of(limit)):
        expected, got = _outcome(_step_by_step, pool, price), _outcome(dex_pool.move_to, pool, price)
        assert got == expected
        pool = got[0]
    assert pool.sqrt_price != limit  # the second move stopped short


def test_a_price_decimal_cannot_multiply_exactly_is_taken_as_a_fraction():
    """Past _EXACT's digits (or at the smallest sqrt prices) the price is read as a fraction: the same floor."""
    long_price = Decimal("150." + "123456789" * 15)  # 138 digits
    tiny = Decimal("1E-45")
    for price in (long_price, tiny, Decimal("0"), Decimal("1E+30")):
        raw = Fraction(price) * Fraction(10) ** -3
        assert dex_pool._sqrt_price_x64(price, 9, 6) == isqrt(raw.numerator * (1 << 128) // raw.denominator)
    for bad in (Decimal("-1.5"), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises((ValueError, OverflowError)):
            dex_pool._sqrt_price_x64(bad, 9, 6)


def _own_facts(model: WhirlpoolModel):
    """The move facts made from the state's own ticks (a copy of it: nothing cached, nothing handed on)."""
    return dex_pool._new_move_facts(dataclasses.replace(model))


@settings(max_examples=200, deadline=None)
@given(start=st.integers(-2000, 2000), spacing=st.sampled_from([1, 4]),
       moves=st.lists(st.one_of(st.integers(-60, 60), st.integers(-3000, 3000), st.integers(-40_000, 40_000),
                                st.sampled_from(["down to a stop", "up to a stop"])), min_size=1, max_size=40),
       tvl=st.sampled_from(["1000", "2000000"]))
def test_the_facts_a_state_finds_among_those_met_before_are_its_own(start, spacing, moves, tvl):
    """A state without facts (after a step-by-step swap, or moved out of the range of those it had) finds those
    of a range met before when its tick and its sqrt price are in it: they must be the facts its own ticks make,
    also for a swap that ends exactly on a stop going down (its tick the one below the price's)."""
    got = whirlpool(D(150) * (1 + D(start) / 10_000), tvl, spacing)
    for move in moves:
        if isinstance(move, str):  # a step-by-step swap landing exactly on the next stop: a tick, an array's edge
            down, span = move.startswith("down"), TICK_ARRAY_SIZE * spacing
            edge = got.tick // span * span if down else (got.tick // span + 1) * span
            stops = sorted({t for t, _ in got.ticks} | {edge, edge - span if down else edge + span})
            ends = [t for t in stops if (sqrt_price_at_tick(t) < got.sqrt_price if down
                                         else sqrt_price_at_tick(t) > got.sqrt_price)]
            if not ends:
                continue
            got = dex_pool._swap_to(got, sqrt_price_at_tick(ends[-1] if down else ends[0]))
        else:
            got = dex_pool.move_to(got, got.mid() * (1 + D(move) / 1_000_000))
        facts = got.__dict__.get("_move_facts") or dex_pool._move_facts(got)
        assert facts == _own_facts(got), (got.sqrt_price, got.tick)
