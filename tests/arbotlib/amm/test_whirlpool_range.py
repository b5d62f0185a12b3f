"""The in-range closed form (range_quoter) and the model's fast quotes, against swap_quote step by step.

``swap_quote`` is the reference (itself checked against Orca's values in test_whirlpool_math): the
closed form must give the same numbers to the unit whenever it answers, answer every swap that
ends inside its first range, and leave everything else (crossings, a range's end, the program's
errors) to the reference. The model's quotes, and the states they leave, must be those of the
reference path whichever way they are made.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from decimal import ROUND_FLOOR, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbotlib.amm.whirlpool.math import (
    FEE_RATE_DENOMINATOR,
    MAX_SQRT_PRICE,
    MAX_TICK,
    MIN_SQRT_PRICE,
    MIN_TICK,
    Q64,
    U64_MAX,
    U128_MAX,
    OrcaMathError,
    SwapQuote,
    limit_fits,
    range_ends,
    range_quoter,
    range_quoter_within,
    reaches_limit_in_range,
    sorted_tick_indexes,
    sqrt_price_at_tick,
    swap_quote,
    tick_at_sqrt_price,
)
from arbotlib.amm.whirlpool.model import WhirlpoolModel
from arbotlib.amm.whirlpool.pool import price_from_sqrt_price
from bot.api.kit import jsonable
from bot.pool import PoolLiquidityError


@st.composite
def pool_states(draw) -> dict:
    """A pool state as swap_quote takes it: any tick (the extremes too), a sqrt price anywhere in it
    (on its edges often), liquidity from tiny to the u128 limit, initialized ticks around it."""
    spacing = draw(st.sampled_from([None, 1, 2, 4, 8, 64, 128]))
    tick = draw(st.one_of(st.integers(-40_000, 40_000), st.integers(MIN_TICK, MIN_TICK + 600),
                          st.integers(MAX_TICK - 600, MAX_TICK - 1)))
    low, high = sqrt_price_at_tick(tick), sqrt_price_at_tick(tick + 1) - 1
    sqrt_price = draw(st.one_of(st.just(low), st.just(high), st.integers(low, high)))
    liquidity = draw(st.one_of(st.integers(0, 10**6), st.integers(10**6, 10**22), st.integers(10**22, U128_MAX)))
    step = spacing or 1
    offsets = draw(st.lists(st.integers(-40, 40), max_size=6, unique=True))
    indexes = sorted({min(max((tick // step + offset) * step, MIN_TICK), MAX_TICK) for offset in offsets})
    nets = [draw(st.integers(-liquidity, liquidity)) for _ in indexes]
    # tick_current_index as a pool account has it: the tick of the price, or one below it when the
    # price sits on a tick crossed going down; now and then off by one either way.
    tick_index = tick + draw(st.sampled_from([0, 0, 0, 0, 0, -1, 1]))
    fee_rate = draw(st.one_of(st.integers(0, 65_535), st.sampled_from([0, 100, 400, 3000, FEE_RATE_DENOMINATOR - 1])))
    return {"sqrt_price": sqrt_price, "tick": tick_index, "liquidity": liquidity, "fee_rate": fee_rate,
            "ticks": list(zip(indexes, nets, strict=True)), "tick_spacing": spacing}


def _range_end(quoter) -> int:
    """The sqrt price where the quoter's range ends (its quote is a partial of the state's facts)."""
    return quoter.args[2]


def _reach(quoter) -> int:
    """The fixed token's amount that takes the price to the range's end."""
    return quoter.args[3]


def _amounts(quoter, is_input: bool, fee_rate: int):
    """Sizes of every kind, and those right around the one that reaches the range's end."""
    kinds = [st.integers(1, 2**20), st.integers(1, U64_MAX), st.sampled_from([0, -1, U64_MAX, U64_MAX + 1])]
    if quoter is not None:
        reach = _reach(quoter)
        if is_input:  # what pays it, fee included
            reach = -(-reach * FEE_RATE_DENOMINATOR // (FEE_RATE_DENOMINATOR - fee_rate))
        kinds.append(st.integers(-3, 3).map(lambda d: reach + d))
        kinds.append(st.integers(1, reach + 1))
    return st.lists(st.one_of(*kinds), min_size=1, max_size=8)


def _reference(amount: int, is_input: bool, a_to_b: bool, pool: dict) -> SwapQuote | OrcaMathError:
    try:
        return swap_quote(amount=amount, amount_specified_is_input=is_input, a_to_b=a_to_b, **pool)
    except OrcaMathError as exc:
        return exc


@settings(max_examples=1500, deadline=None)
@given(pool=pool_states(), a_to_b=st.booleans(), is_input=st.booleans(), data=st.data())
def test_the_closed_form_is_swap_quote_whenever_it_answers_and_answers_every_in_range_swap(pool, a_to_b, is_input,
                                                                                            data):
    quoter = range_quoter(amount_specified_is_input=is_input, a_to_b=a_to_b, **pool)
    for amount in data.draw(_amounts(quoter, is_input, pool["fee_rate"])):
        expected = _reference(amount, is_input, a_to_b, pool)
        got = quoter(amount) if quoter is not None else None
        if got is not None:
            assert isinstance(expected, SwapQuote), (amount, expected)
            amount_in, amount_out, fee, sqrt_price = got
            assert (amount_in, amount_out, fee, sqrt_price) == (
                expected.amount_in, expected.amount_out, expected.fee_amount, expected.sqrt_price)
            tick = tick_at_sqrt_price(sqrt_price) if sqrt_price != pool["sqrt_price"] else pool["tick"]
            assert (expected.tick, expected.liquidity, expected.ticks_crossed, expected.amount_unfilled) == (
                tick, pool["liquidity"], 0, 0)
        elif quoter is not None and isinstance(expected, SwapQuote):
            # Not answered: the swap must have reached the range's end (or crossed, or not filled).
            target = _range_end(quoter)
            assert (expected.ticks_crossed or expected.amount_unfilled
                    or (expected.sqrt_price <= target if a_to_b else expected.sqrt_price >= target)), (amount, expected)


def test_a_state_with_nothing_to_swap_in_a_direction_has_no_quoter():
    at_min = {"sqrt_price": MIN_SQRT_PRICE, "tick": MIN_TICK, "liquidity": 10**6, "fee_rate": 3000, "ticks": []}
    assert range_quoter(amount_specified_is_input=True, a_to_b=True, **at_min) is None
    assert range_quoter(amount_specified_is_input=True, a_to_b=False, **at_min) is not None
    at_max = {**at_min, "sqrt_price": MAX_SQRT_PRICE, "tick": MAX_TICK}
    assert range_quoter(amount_specified_is_input=False, a_to_b=False, **at_max) is None
    unsorted = {**at_min, "sqrt_price": Q64, "tick": 0, "ticks": [(10, -1), (-10, 1)]}
    assert range_quoter(amount_specified_is_input=True, a_to_b=True, **unsorted) is None
    no_liquidity = {**at_min, "sqrt_price": Q64, "tick": 0, "liquidity": 0}
    assert range_quoter(amount_specified_is_input=True, a_to_b=True, **no_liquidity) is None



@settings(max_examples=1000, deadline=None)
@given(pool=pool_states(), a_to_b=st.booleans(), data=st.data())
def test_a_swap_to_a_price_inside_the_range_is_known_without_its_amounts(pool, a_to_b, data):
    """reaches_limit_in_range: True exactly when swap_quote goes to the limit in its first step, inside the range."""
    quoter = range_quoter(amount_specified_is_input=True, a_to_b=a_to_b, **pool)
    sqrt_price = pool["sqrt_price"]
    near = st.integers(-8, 8).map(lambda d: sqrt_price_at_tick(min(max(pool["tick"] + d, MIN_TICK), MAX_TICK)))
    limits = [st.integers(MIN_SQRT_PRICE, MAX_SQRT_PRICE), st.integers(-3, 3).map(lambda d: sqrt_price + d), near]
    if quoter is not None:  # around the range's end
        limits.append(st.integers(-3, 3).map(lambda d: _range_end(quoter) + d))
        limits.append(st.integers(min(sqrt_price, _range_end(quoter)), max(sqrt_price, _range_end(quoter))))
    limit = min(max(data.draw(st.one_of(*limits)), MIN_SQRT_PRICE), MAX_SQRT_PRICE)
    amount = data.draw(st.one_of(st.just(U64_MAX), st.integers(1, U64_MAX), st.integers(1, 2**40)))
    reaches = reaches_limit_in_range(amount=amount, a_to_b=a_to_b, sqrt_price_limit=limit, **pool)
    try:
        expected = swap_quote(amount=amount, amount_specified_is_input=True, a_to_b=a_to_b, sqrt_price_limit=limit,
                              **pool)
    except OrcaMathError:
        assert not reaches
        return
    if reaches:
        assert (expected.sqrt_price, expected.tick, expected.liquidity, expected.ticks_crossed) == (
            limit, tick_at_sqrt_price(limit), pool["liquidity"], 0)
    elif quoter is not None and expected.sqrt_price == limit != sqrt_price and not expected.ticks_crossed:
        # Not known: the limit must be the range's end or beyond it.
        assert limit <= _range_end(quoter) if a_to_b else limit >= _range_end(quoter)

# --- the model -----------------------------------------------------------------------------------


def _reference_units(model: WhirlpoolModel, units: int, sell: bool):
    """What the model answered before the closed form: swap_quote step by step (``_swap``), an eager state."""
    try:
        q, after = model._swap(units, sell, a_to_b=model.base_is_a == sell)
    except PoolLiquidityError as exc:
        return str(exc)
    return (q.amount_out if sell else q.amount_in), q.fee_amount, after


def _units(model: WhirlpoolModel, units: int, sell: bool):
    try:
        return model.sell_units(units) if sell else model.buy_units(units)
    except PoolLiquidityError as exc:
        return str(exc)


def _model(pool: dict, base_is_a: bool) -> WhirlpoolModel:
    return WhirlpoolModel(pool["sqrt_price"], pool["tick"], pool["liquidity"], pool["fee_rate"],
                          pool["tick_spacing"] or 1, tuple(pool["ticks"]), "SOL", "USDC", 9, 6, base_is_a)


def _same_state(got: WhirlpoolModel, expected: WhirlpoolModel) -> None:
    assert got == expected and hash(got) == hash(expected) and repr(got) == repr(expected)
    assert (got.tick, got.liquidity, got.tick_indexes) == (expected.tick, expected.liquidity, expected.tick_indexes)
    assert got.mid() == expected.mid()


@settings(max_examples=400, deadline=None)
@given(pool=pool_states(), base_is_a=st.booleans(), data=st.data())
def test_model_quotes_and_the_states_they_leave_are_the_reference_ones(pool, base_is_a, data):
    model = _model(pool, base_is_a)
    sell_quoter, buy_quoter = model._range_quoter(True), model._range_quoter(False)
    sizes = st.one_of(_amounts(sell_quoter, True, model.fee_rate), _amounts(buy_quoter, False, model.fee_rate))
    for units in data.draw(sizes):
        for sell in (True, False):
            got, expected = _units(model, units, sell), _reference_units(model, units, sell)
            if isinstance(expected, str):  # the same error, word for word
                assert got == expected
                continue
            assert got[:2] == expected[:2]
            _same_state(got[2], expected[2])
            # and the state left behind quotes as the reference state does, in both directions
            again = data.draw(st.integers(1, max(units, 1)))
            for sell_again in (True, False):
                chained, reference = _units(got[2], again, sell_again), _units(expected[2], again, sell_again)
                if isinstance(reference, str):
                    assert chained == reference
                else:
                    assert chained[:2] == reference[:2]
                    _same_state(chained[2], reference[2])


PAPER_TICKS = ((-23028, 2009562179511), (-21204, 3493179826578), (-19928, 7902926201126), (-19464, 15241265048789),
               (-19220, 29932712140625), (-19072, 73959381717003), (-19024, 142059124291983),
               (-18920, -142059124291983), (-18872, -73959381717003), (-18724, -29932712140625),
               (-18484, -15241265048789), (-18016, -7902926201126), (-16740, -3493179826578),
               (-14916, -2009562179511))


def _paper_pool() -> WhirlpoolModel:
    """The paper DEX's default concentrated pool (the arb backtests'): SOL/USDC at 150, 2M tvl, 4 bps, spacing 4."""
    return WhirlpoolModel(7144393258922745604, -18973, 274598151405615, 400, 4, PAPER_TICKS, "SOL", "USDC", 9, 6)


def test_the_arb_sizes_on_the_paper_pool_take_the_closed_form():
    model = _paper_pool()
    for units in range(10**8, 10**10 + 1, 10**8):  # 0.1 .. 10 SOL
        for sell, quoter in ((True, model._range_quoter(True)), (False, model._range_quoter(False))):
            assert quoter is not None and quoter(units) is not None
            got, expected = _units(model, units, sell), _reference_units(model, units, sell)
            assert got[:2] == expected[:2]
            _same_state(got[2], expected[2])


def test_a_state_after_an_in_range_quote_reads_copies_and_pickles_as_a_built_one():
    model = _paper_pool()
    units = 10**11  # 100 SOL: a few ticks down, still inside the range
    _, _, after = model.sell_units(units)
    assert model._range_quoter(True)(units) is not None and tick_at_sqrt_price(after.sqrt_price) < model.tick
    built = WhirlpoolModel(after.sqrt_price, tick_at_sqrt_price(after.sqrt_price), model.liquidity, model.fee_rate,
                           model.tick_spacing, model.ticks, "SOL", "USDC", 9, 6)
    # each state fresh: the comparisons read its fields one by one
    for state in (after, copy.copy(model.sell_units(units)[2]), pickle.loads(pickle.dumps(model.sell_units(units)[2]))):
        _same_state(state, built)
    assert after.ticks is model.ticks
    # a chain of in-range quotes keeps reading from the state first quoted, not from each other
    chained = after.buy_units(10**8)[2].sell_units(10**8)[2]
    assert chained.__dict__["_quoted"] is model
    with pytest.raises(AttributeError, match="no_such_field"):
        _ = after.no_such_field  # type: ignore[attr-defined]


def test_every_state_a_model_makes_is_a_frozen_whirlpool_model():
    """States are built by writing their slots on a private writable twin, then made WhirlpoolModels."""
    model = _paper_pool()
    states = (model.sell_units(10**9)[2], model.buy_units(10**9)[2],  # in-range quotes
              model.sell_units(5 * 10**12)[2],  # a swap across ticks (step by step)
              model.at_in_range(model.sqrt_price + 1000), model.at(model.sqrt_price - 10**12, -19000, 10**14))
    for state in states:
        assert type(state) is WhirlpoolModel
        with pytest.raises(dataclasses.FrozenInstanceError):
            state.sqrt_price = 1  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            del state.base  # type: ignore[misc]
        assert state.ticks is model.ticks and state == copy.copy(state)
    assert states[2].tick < model.tick and states[2].liquidity != model.liquidity


def test_a_state_moved_in_its_range_or_to_a_tick_keeps_every_other_field():
    """at_in_range and at write the fields a moved state keeps one by one: every one of them, none left at a
    default (a mirrored pool's known ticks, arrays per swap, transfer fees and token order too)."""
    from arbotlib.amm.whirlpool.transfer_fee import TransferFee

    model = dataclasses.replace(_paper_pool(), base_is_a=False, known_ticks=(-22528, -14080), arrays_per_swap=3,
                                base_transfer_fees=(TransferFee(1, 10**6, 25),),
                                quote_transfer_fees=(TransferFee(2, 10**5, 7),))
    sqrt_price = model.sqrt_price + 1000
    for moved, tick, liquidity in ((model.at_in_range(sqrt_price), tick_at_sqrt_price(sqrt_price), model.liquidity),
                                   (model.at(sqrt_price, -19000, 10**14), -19000, 10**14)):
        expected = dataclasses.replace(model, sqrt_price=sqrt_price, tick=tick, liquidity=liquidity)
        assert {f.name: getattr(moved, f.name) for f in dataclasses.fields(moved)} == {
            f.name: getattr(expected, f.name) for f in dataclasses.fields(expected)}


def test_what_a_state_keeps_for_its_quotes_is_no_field_and_hides_no_method():
    model = _paper_pool()
    _, _, after = model.sell_units(10**9)
    after.buy_units(10**9)
    model.mid(), after.mid()
    names = [f.name for f in dataclasses.fields(WhirlpoolModel)]
    assert names == ["sqrt_price", "tick", "liquidity", "fee_rate", "tick_spacing", "ticks", "base", "quote",
                     "base_decimals", "quote_decimals", "base_is_a", "tick_indexes", "known_ticks",
                     "base_transfer_fees", "quote_transfer_fees", "arrays_per_swap"]
    built = WhirlpoolModel(after.sqrt_price, tick_at_sqrt_price(after.sqrt_price), model.liquidity, model.fee_rate,
                           model.tick_spacing, model.ticks, "SOL", "USDC", 9, 6)
    assert json.dumps(jsonable(after)) == json.dumps(jsonable(built))  # the wires' encoder sees the fields only
    assert dataclasses.replace(after, base="X") == dataclasses.replace(built, base="X")
    sale = model.sell(Decimal(1))  # the Decimal edge still works on a state that has quoted
    assert (sale.quote_units, sale.pool_after) == model.sell_units(10**9)[::2]
    assert model.buy(Decimal(1)).quote_units == model.buy_units(10**9)[0]


def test_mid_is_computed_once_per_state_and_is_the_price_of_the_sqrt_price():
    model = _paper_pool()
    assert model.mid() is model.mid()
    assert model.mid() == price_from_sqrt_price(model.sqrt_price, 9, 6)
    inverse = WhirlpoolModel(model.sqrt_price, model.tick, model.liquidity, model.fee_rate, model.tick_spacing,
                             model.ticks, "USDC", "SOL", 6, 9, base_is_a=False)
    expected = 1 / price_from_sqrt_price(model.sqrt_price, 9, 6)  # in the default context: 28 digits
    with localcontext() as ctx:
        ctx.prec = 50  # the first reader's context does not matter
        assert inverse.mid() == expected
    assert inverse.mid() == expected


@settings(max_examples=500, deadline=None)
@given(odd=st.integers(1, 2**60).map(lambda n: n | 1), power=st.integers(15, 70), decimals_a=st.integers(0, 18),
       decimals_b=st.integers(0, 18))
def test_the_price_of_a_sqrt_price_with_many_factors_of_two_is_the_decimal_one_to_the_exponent(
        odd, power, decimals_a, decimals_b):
    """Sqrt prices around the multiples of 2**22 (the quotient by 2**128 may be exact, in fewer than 60 digits:
    the division's result drops its trailing zeros, the product's would not)."""
    sqrt_price = odd << power
    if not MIN_SQRT_PRICE <= sqrt_price <= MAX_SQRT_PRICE:
        return
    with localcontext() as ctx:
        ctx.prec = 60
        reference = +(Decimal(sqrt_price * sqrt_price) / Decimal(1 << 128)).scaleb(decimals_a - decimals_b)
    got = price_from_sqrt_price(sqrt_price, decimals_a, decimals_b)
    assert got == reference and str(got) == str(reference)


@settings(max_examples=500, deadline=None)
@given(sqrt_price=st.integers(MIN_SQRT_PRICE, MAX_SQRT_PRICE), decimals_a=st.integers(0, 18),
       decimals_b=st.integers(0, 18))
def test_the_price_of_a_sqrt_price_is_the_60_digit_decimal_one_in_any_context(sqrt_price, decimals_a, decimals_b):
    with localcontext() as ctx:
        ctx.prec = 60
        reference = +(Decimal(sqrt_price * sqrt_price) / Decimal(1 << 128)).scaleb(decimals_a - decimals_b)
    got = price_from_sqrt_price(sqrt_price, decimals_a, decimals_b)
    assert got == reference and str(got) == str(reference)
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 5, ROUND_FLOOR
        assert str(price_from_sqrt_price(sqrt_price, decimals_a, decimals_b)) == str(reference)


@settings(max_examples=1000, deadline=None)
@given(pool=pool_states(), a_to_b=st.booleans(), data=st.data())
def test_range_ends_and_limit_fits_are_reaches_limit_in_range_taken_apart(pool, a_to_b, data):
    """The paper pool's move checks a limit against range_ends (made once per state) and limit_fits: the
    same answer as reaches_limit_in_range for every limit; and a state at any sqrt price of [low, high)
    whose tick is that price's has the same ends."""
    indexes = sorted_tick_indexes(pool["ticks"])
    down, up, low, high = range_ends(pool["tick"], pool["ticks"], pool["tick_spacing"], indexes)
    sqrt_price, tick = pool["sqrt_price"], pool["tick"]
    near = st.integers(-100, 100).map(lambda d: sqrt_price_at_tick(min(max(tick + d, MIN_TICK), MAX_TICK)))
    edges = [e for e in (down, up, low, high) if isinstance(e, int) and MIN_SQRT_PRICE <= e <= MAX_SQRT_PRICE]
    limits = [st.integers(MIN_SQRT_PRICE, MAX_SQRT_PRICE), st.integers(-3, 3).map(lambda d: sqrt_price + d), near]
    if edges:
        limits.append(st.sampled_from(edges).flatmap(lambda e: st.integers(-2, 2).map(lambda d: e + d)))
    for limit in data.draw(st.lists(st.one_of(*limits), min_size=1, max_size=6)):
        limit = min(max(limit, MIN_SQRT_PRICE), MAX_SQRT_PRICE)
        amount = data.draw(st.one_of(st.just(U64_MAX), st.integers(1, 2**40)))
        expected = reaches_limit_in_range(amount=amount, a_to_b=a_to_b, sqrt_price_limit=limit, **pool)
        got = (0 <= pool["fee_rate"] < FEE_RATE_DENOMINATOR and (limit < sqrt_price if a_to_b else limit > sqrt_price)
               and (limit > down if a_to_b else limit < up)
               and limit_fits(amount, a_to_b, sqrt_price, pool["liquidity"], pool["fee_rate"], limit))
        assert got == expected, limit
        if low <= limit < high:
            assert range_ends(tick_at_sqrt_price(limit), pool["ticks"], pool["tick_spacing"], indexes)[:2] == (down, up)
    if low < high:  # its first and last prices
        for end in (low, min(high - 1, MAX_SQRT_PRICE)):
            assert range_ends(tick_at_sqrt_price(end), pool["ticks"], pool["tick_spacing"], indexes)[:2] == (down, up)


@settings(max_examples=1000, deadline=None)
@given(pool=pool_states(), a_to_b=st.booleans(), is_input=st.booleans(), data=st.data())
def test_a_quoter_made_from_range_ends_is_range_quoters_for_every_state_they_serve(pool, a_to_b, is_input, data):
    """range_quoter_within on the ends made for the state, or for a state whose [low, high) holds its sqrt price
    (its tick that price's, as at_in_range makes it): the same quoter (same facts) as range_quoter, or None too."""
    indexes = sorted_tick_indexes(pool["ticks"])
    ends = range_ends(pool["tick"], pool["ticks"], pool["tick_spacing"], indexes)
    states = [pool]
    low, high = ends[2], ends[3]
    if low < high:
        inside = st.one_of(st.just(low), st.just(min(high - 1, MAX_SQRT_PRICE)),
                           st.integers(low, min(high - 1, MAX_SQRT_PRICE)))
        for sqrt_price in data.draw(st.lists(inside, min_size=1, max_size=4)):
            if MIN_SQRT_PRICE <= sqrt_price <= MAX_SQRT_PRICE:
                states.append({**pool, "sqrt_price": sqrt_price, "tick": tick_at_sqrt_price(sqrt_price)})
    for state in states:
        expected = range_quoter(amount_specified_is_input=is_input, a_to_b=a_to_b, **state)
        got = range_quoter_within(amount_specified_is_input=is_input, a_to_b=a_to_b, sqrt_price=state["sqrt_price"],
                                  liquidity=state["liquidity"], fee_rate=state["fee_rate"], ends=ends)
        if expected is None:
            assert got is None
        else:
            assert got is not None and (got.func, got.args) == (expected.func, expected.args)


def test_a_state_moved_inside_its_range_takes_the_ends_along_and_quotes_as_a_built_one():
    model = _paper_pool()
    down, up, low, high = model.range_ends()
    assert model.range_ends() is model.range_ends()
    inside, outside = model.at_in_range(model.sqrt_price + 10**12), model.at_in_range(high)
    assert inside.__dict__["_ends"] is model.range_ends() and "_ends" not in outside.__dict__
    for state in (inside, inside.at_in_range(low), outside):
        built = WhirlpoolModel(state.sqrt_price, tick_at_sqrt_price(state.sqrt_price), model.liquidity, model.fee_rate,
                               model.tick_spacing, model.ticks, "SOL", "USDC", 9, 6)
        for units in (10**8, 10**10, 10**13):
            assert _units(state, units, True)[:2] == _units(built, units, True)[:2]
            assert _units(state, units, False)[:2] == _units(built, units, False)[:2]
    fresh = model.at_in_range(model.sqrt_price - 10**12)
    fresh.sell_units(10**8), fresh.buy_units(10**8)
    with pytest.raises(AttributeError):  # its quoters were made without working out its tick
        WhirlpoolModel.__dict__["tick"].__get__(fresh)


def test_the_fee_in_bps_is_the_fee_rate_over_100_in_any_context():
    model = _paper_pool()
    with localcontext() as ctx:
        ctx.prec = 1  # the first reader's context does not matter
        assert model.fee_bps == Decimal(4) and str(model.fee_bps) == "4"
    for fee_rate in (0, 1, 300, 400, 3000, 65535):
        state = dataclasses.replace(model, fee_rate=fee_rate)
        assert state.fee_bps == Decimal(fee_rate) / 100 and str(state.fee_bps) == str(Decimal(fee_rate) / 100)
    assert model.sell_units(10**9)[2].fee_bps is model.fee_bps
