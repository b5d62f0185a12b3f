"""Orca Whirlpool concentrated-liquidity maths, in integers, matching the on-chain program.

Everything here is a pure function of integers, so a strategy can quote a pool locally and get
the same answer, to the last unit, as the Whirlpool program would on chain.

Units and conventions (those of Orca's program):

* **sqrt price** is ``sqrt(price_b_per_a)`` as an unsigned Q64.64 fixed-point integer, i.e. the
  real square root of the price of one smallest unit of token A in smallest units of token B,
  multiplied by ``2**64``. ``Q64 = 2**64`` is exactly a price of 1.
* **tick** ``i`` has price ``1.0001 ** i``, so sqrt price ``1.0001 ** (i / 2)``; ticks run from
  :data:`MIN_TICK` to :data:`MAX_TICK`.
* **liquidity** ``L`` is a u128; amounts of token are u64 (smallest units: lamports, ...).
* **fee rate** is in hundredths of a basis point: ``3000`` is 0.3 %, the fee is
  ``amount * fee_rate / 1_000_000``.
* **a_to_b** means token A in, token B out; the price (B per A) goes down.
* Rounding always favours the pool: amounts the trader pays round up, amounts paid out round
  down.

Amounts of token are clamped to u64 and liquidity to u128 the way the program does; where the
program would fail, these functions raise an :class:`OrcaMathError` subclass naming the cause.
The multi-tick quote is :func:`swap_quote`, step by step as the program swaps: the reference.
:func:`range_quoter` gives the same numbers in closed form for the swaps that end inside the range
they start in (most small quotes), from facts made once per pool state, and
:func:`reaches_limit_in_range` tells when a swap to a price stays in that range (taken apart for
callers that move one pool many times: :func:`range_ends` once per state, :func:`limit_fits` per move);
everything else is left to :func:`swap_quote`. The account decoding and pool quoting built on it live in
:mod:`arbotlib.amm.whirlpool.accounts`, :mod:`arbotlib.amm.whirlpool.pool` and
:mod:`arbotlib.amm.whirlpool.model`.
"""

from __future__ import annotations

import bisect
import functools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Q64 = 1 << 64
U64_MAX = (1 << 64) - 1
U128_MAX = (1 << 128) - 1

MIN_TICK = -443636
MAX_TICK = 443636
MIN_SQRT_PRICE = 4295048016
"""``sqrt_price_at_tick(MIN_TICK)``."""
MAX_SQRT_PRICE = 79226673515401279992447579055
"""``sqrt_price_at_tick(MAX_TICK)``."""

FEE_RATE_DENOMINATOR = 1_000_000
"""Fee rates are in hundredths of a basis point: ``fee = amount * fee_rate / 1_000_000``."""
TICK_ARRAY_SIZE = 88
"""Ticks per TickArray account; a swap also stops at every array's edge."""


class OrcaMathError(ValueError):
    """A Whirlpool computation the program would refuse."""


class TickOutOfRange(OrcaMathError):
    """A tick index outside ``[MIN_TICK, MAX_TICK]``."""


class SqrtPriceOutOfRange(OrcaMathError):
    """A sqrt price outside ``[MIN_SQRT_PRICE, MAX_SQRT_PRICE]``, or a move that would leave it."""


class AmountOverflow(OrcaMathError):
    """An amount that does not fit the program's integer types (u64 tokens, u128 liquidity)."""


class InsufficientLiquidity(OrcaMathError):
    """The pool cannot deliver the requested exact output before the price limit."""


# sqrt(1.0001) ** (2 ** k) for k = 0..18, one table per sign of the tick, in the fixed-point
# formats the program multiplies them in: Q32.96 for positive ticks (the result is shifted down
# by 32 at the end) and Q64.64 (reciprocals) for negative ticks. These constants are what makes
# the result bit-exact with the program, which rounds down after every multiplication.
_POSITIVE_TICK_FACTORS_X96 = (
    79232123823359799118286999567,
    79236085330515764027303304731,
    79244008939048815603706035061,
    79259858533276714757314932305,
    79291567232598584799939703904,
    79355022692464371645785046466,
    79482085999252804386437311141,
    79736823300114093921829183326,
    80248749790819932309965073892,
    81282483887344747381513967011,
    83390072131320151908154831281,
    87770609709833776024991924138,
    97234110755111693312479820773,
    119332217159966728226237229890,
    179736315981702064433883588727,
    407748233172238350107850275304,
    2098478828474011932436660412517,
    55581415166113811149459800483533,
    38992368544603139932233054999993551,
)
_NEGATIVE_TICK_FACTORS_X64 = (
    18445821805675392311,
    18444899583751176498,
    18443055278223354162,
    18439367220385604838,
    18431993317065449817,
    18417254355718160513,
    18387811781193591352,
    18329067761203520168,
    18212142134806087854,
    17980523815641551639,
    17526086738831147013,
    16651378430235024244,
    15030750278693429944,
    12247334978882834399,
    8131365268884726200,
    3584323654723342297,
    696457651847595233,
    26294789957452057,
    37481735321082,
)
_LN_SQRT_1_0001 = math.log(1.0001) / 2
_LN_Q64 = 64 * math.log(2)


@functools.lru_cache(maxsize=1 << 16)
def _ladder(tick: int) -> int:
    """The program's multiplication ladder, without the range check (used for array edges).

    Cached: quotes keep asking for the same few ticks.
    """
    magnitude = abs(tick)
    if tick >= 0:
        ratio = _POSITIVE_TICK_FACTORS_X96[0] if magnitude & 1 else 1 << 96
        for bit in range(1, 19):
            if magnitude >> bit & 1:
                ratio = ratio * _POSITIVE_TICK_FACTORS_X96[bit] >> 96
        return ratio >> 32
    ratio = _NEGATIVE_TICK_FACTORS_X64[0] if magnitude & 1 else Q64
    for bit in range(1, 19):
        if magnitude >> bit & 1:
            ratio = ratio * _NEGATIVE_TICK_FACTORS_X64[bit] >> 64
    return ratio


def sqrt_price_at_tick(tick: int) -> int:
    """The Q64.64 sqrt price of ``tick``, bit-exact with the Whirlpool program.

    Raises :class:`TickOutOfRange` outside ``[MIN_TICK, MAX_TICK]``.
    """
    if not MIN_TICK <= tick <= MAX_TICK:
        raise TickOutOfRange(f"tick {tick} is outside [{MIN_TICK}, {MAX_TICK}]")
    return _ladder(tick)


def tick_at_sqrt_price(sqrt_price: int) -> int:
    """The greatest tick whose sqrt price is ``<= sqrt_price`` (a Q64.64 integer).

    Raises :class:`SqrtPriceOutOfRange` outside ``[MIN_SQRT_PRICE, MAX_SQRT_PRICE]``.
    """
    if not MIN_SQRT_PRICE <= sqrt_price <= MAX_SQRT_PRICE:
        raise SqrtPriceOutOfRange(
            f"sqrt price {sqrt_price} is outside [{MIN_SQRT_PRICE}, {MAX_SQRT_PRICE}]"
        )
    # A float logarithm lands within a tick or two; the exact ladder settles it.
    estimate = math.floor((math.log(sqrt_price) - _LN_Q64) / _LN_SQRT_1_0001)
    tick = estimate if MIN_TICK <= estimate <= MAX_TICK else min(max(estimate, MIN_TICK), MAX_TICK)
    while tick < MAX_TICK and _ladder(tick + 1) <= sqrt_price:
        tick += 1
    while _ladder(tick) > sqrt_price:
        tick -= 1
    return tick


def _div_ceil(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _check_u64(name: str, value: int) -> None:
    if not 0 <= value <= U64_MAX:
        raise AmountOverflow(f"{name} {value} does not fit a u64")


# --- amount deltas ------------------------------------------------------------------------------


def _amount_delta_a_or_none(sqrt_price_0: int, sqrt_price_1: int, liquidity: int, round_up: bool) -> int | None:
    lower, upper = (sqrt_price_0, sqrt_price_1) if sqrt_price_0 <= sqrt_price_1 else (sqrt_price_1, sqrt_price_0)
    product = liquidity * (upper - lower)
    if product >> 192:  # the program's u256 numerator (product << 64) would overflow
        return None
    numerator = product << 64
    denominator = upper * lower
    result = _div_ceil(numerator, denominator) if round_up else numerator // denominator
    return result if result <= U64_MAX else None


def _amount_delta_b_or_none(sqrt_price_0: int, sqrt_price_1: int, liquidity: int, round_up: bool) -> int | None:
    lower, upper = (sqrt_price_0, sqrt_price_1) if sqrt_price_0 <= sqrt_price_1 else (sqrt_price_1, sqrt_price_0)
    product = liquidity * (upper - lower)
    if product > U128_MAX:
        return None
    result = _div_ceil(product, Q64) if round_up else product >> 64
    return result if result <= U64_MAX else None


def amount_delta_a(sqrt_price_0: int, sqrt_price_1: int, liquidity: int, round_up: bool) -> int:
    """Token A moved when the price goes between two sqrt prices: ``L * (1/sqrt_lo - 1/sqrt_hi)``.

    Raises :class:`AmountOverflow` when the result (or the program's intermediate) overflows.
    """
    result = _amount_delta_a_or_none(sqrt_price_0, sqrt_price_1, liquidity, round_up)
    if result is None:
        raise AmountOverflow(f"token A delta for liquidity {liquidity} overflows a u64")
    return result


def amount_delta_b(sqrt_price_0: int, sqrt_price_1: int, liquidity: int, round_up: bool) -> int:
    """Token B moved when the price goes between two sqrt prices: ``L * (sqrt_hi - sqrt_lo)``.

    Raises :class:`AmountOverflow` when the result (or the program's intermediate) overflows.
    """
    result = _amount_delta_b_or_none(sqrt_price_0, sqrt_price_1, liquidity, round_up)
    if result is None:
        raise AmountOverflow(f"token B delta for liquidity {liquidity} overflows a u64")
    return result


# --- next sqrt price ----------------------------------------------------------------------------


def next_sqrt_price_from_a(sqrt_price: int, liquidity: int, amount: int, amount_is_input: bool) -> int:
    """Sqrt price after adding (input) or removing (output) ``amount`` of token A; rounds up.

    ``L * sqrt_p / (L +- amount * sqrt_p)``, rounded up so the trader never gets the better side.
    """
    if amount == 0:
        return sqrt_price
    numerator = liquidity * sqrt_price << 64
    if numerator >> 256:
        raise AmountOverflow(f"liquidity {liquidity} times sqrt price overflows the program's u256")
    product = sqrt_price * amount
    liquidity_x64 = liquidity << 64
    if amount_is_input:
        denominator = liquidity_x64 + product
    else:
        if liquidity_x64 <= product:
            raise InsufficientLiquidity(f"liquidity {liquidity} cannot pay out {amount} of token A")
        denominator = liquidity_x64 - product
    price = _div_ceil(numerator, denominator)
    if price < MIN_SQRT_PRICE or price > MAX_SQRT_PRICE:
        raise SqrtPriceOutOfRange(f"moving {amount} of token A takes the sqrt price to {price}, out of range")
    return price


def next_sqrt_price_from_b(sqrt_price: int, liquidity: int, amount: int, amount_is_input: bool) -> int:
    """Sqrt price after adding (input) or removing (output) ``amount`` of token B; rounds down."""
    if liquidity == 0:
        raise InsufficientLiquidity("no liquidity to move the price with token B")
    amount_x64 = amount << 64
    if amount_is_input:
        price = sqrt_price + amount_x64 // liquidity
        if price > U128_MAX:
            raise SqrtPriceOutOfRange(f"adding {amount} of token B overflows the sqrt price")
        return price
    price = sqrt_price - _div_ceil(amount_x64, liquidity)
    if price < 0:
        raise SqrtPriceOutOfRange(f"removing {amount} of token B takes the sqrt price below zero")
    return price


def next_sqrt_price(sqrt_price: int, liquidity: int, amount: int, amount_is_input: bool, a_to_b: bool) -> int:
    """Sqrt price after a swap of ``amount`` (input or output) within one liquidity range."""
    if amount_is_input == a_to_b:
        return next_sqrt_price_from_a(sqrt_price, liquidity, amount, amount_is_input)
    return next_sqrt_price_from_b(sqrt_price, liquidity, amount, amount_is_input)


# --- one swap step ------------------------------------------------------------------------------


def compute_swap_step(
    amount_remaining: int,
    fee_rate: int,
    liquidity: int,
    sqrt_price_current: int,
    sqrt_price_target: int,
    amount_specified_is_input: bool,
    a_to_b: bool,
) -> tuple[int, int, int, int]:
    """One step of a swap within a constant-liquidity range, as the program computes it.

    Moves from ``sqrt_price_current`` towards ``sqrt_price_target`` spending (exact input) or
    buying (exact output) at most ``amount_remaining``. Returns ``(amount_in, amount_out,
    next_sqrt_price, fee_amount)``: ``amount_in`` excludes the fee, the trader pays
    ``amount_in + fee_amount``. ``fee_rate`` is in hundredths of a basis point.
    """
    if not 0 <= amount_remaining <= U64_MAX:
        _check_u64("amount_remaining", amount_remaining)
    if not 0 <= fee_rate < FEE_RATE_DENOMINATOR:
        raise OrcaMathError(f"fee rate {fee_rate} is outside [0, {FEE_RATE_DENOMINATOR})")
    fixed_is_a = a_to_b == amount_specified_is_input
    fixed_delta = (_amount_delta_a_or_none if fixed_is_a else _amount_delta_b_or_none)(
        sqrt_price_current, sqrt_price_target, liquidity, amount_specified_is_input
    )
    amount_calc = amount_remaining
    if amount_specified_is_input:
        amount_calc = amount_remaining * (FEE_RATE_DENOMINATOR - fee_rate) // FEE_RATE_DENOMINATOR

    if fixed_delta is not None and amount_calc >= fixed_delta:
        next_price = sqrt_price_target
    else:
        # next_sqrt_price(), dispatched here: the fixed token is the one it moves the price with
        next_price = (next_sqrt_price_from_a if fixed_is_a else next_sqrt_price_from_b)(
            sqrt_price_current, liquidity, amount_calc, amount_specified_is_input
        )
    is_max_swap = next_price == sqrt_price_target

    # amount_delta_b / amount_delta_a, called only to raise when the delta overflows
    amount_unfixed = (_amount_delta_b_or_none if fixed_is_a else _amount_delta_a_or_none)(
        sqrt_price_current, next_price, liquidity, not amount_specified_is_input
    )
    if amount_unfixed is None:  # the checked version raises the error that explains it
        amount_unfixed = (amount_delta_b if fixed_is_a else amount_delta_a)(
            sqrt_price_current, next_price, liquidity, not amount_specified_is_input)
    if is_max_swap and fixed_delta is not None:
        amount_fixed = fixed_delta
    else:
        delta = (_amount_delta_a_or_none if fixed_is_a else _amount_delta_b_or_none)(
            sqrt_price_current, next_price, liquidity, amount_specified_is_input
        )
        if delta is None:  # the checked version raises the error that explains it
            delta = (amount_delta_a if fixed_is_a else amount_delta_b)(
                sqrt_price_current, next_price, liquidity, amount_specified_is_input)
        amount_fixed = delta

    if amount_specified_is_input:
        amount_in, amount_out = amount_fixed, amount_unfixed
    else:
        amount_in, amount_out = amount_unfixed, min(amount_fixed, amount_remaining)

    if amount_specified_is_input and not is_max_swap:
        fee_amount = amount_remaining - amount_in
    else:
        fee_amount = -(-amount_in * fee_rate // (FEE_RATE_DENOMINATOR - fee_rate))
        if not 0 <= fee_amount <= U64_MAX:
            _check_u64("fee amount", fee_amount)
    return amount_in, amount_out, next_price, fee_amount


# --- a whole swap across initialized ticks ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SwapQuote:
    """The outcome of :func:`swap_quote`; amounts in smallest token units."""

    amount_in: int
    """Paid by the trader, fee included."""
    amount_out: int
    """Received by the trader."""
    fee_amount: int
    """Part of ``amount_in`` kept as fee (LP and protocol)."""
    sqrt_price: int
    """Pool sqrt price after the swap."""
    tick: int
    """Pool ``tick_current_index`` after the swap."""
    liquidity: int
    """Pool liquidity after the swap."""
    ticks_crossed: int
    """Initialized ticks crossed."""
    amount_unfilled: int
    """Part of the specified amount the pool could not take before the price limit (0 when filled)."""


_new = object.__new__
(_set_amount_in, _set_amount_out, _set_fee_amount, _set_sqrt_price, _set_tick, _set_liquidity, _set_ticks_crossed,
 _set_amount_unfilled) = (SwapQuote.__dict__[name].__set__ for name in (
    "amount_in", "amount_out", "fee_amount", "sqrt_price", "tick", "liquidity", "ticks_crossed", "amount_unfilled"))


def _swap_quote_of(amount_in: int, amount_out: int, fee_amount: int, sqrt_price: int, tick: int, liquidity: int,
                   ticks_crossed: int, amount_unfilled: int) -> SwapQuote:
    """``SwapQuote(...)``, writing its slots directly: a frozen dataclass's ``__init__`` pays one
    ``object.__setattr__`` per field, a good part of a one-step quote."""
    q = _new(SwapQuote)
    _set_amount_in(q, amount_in)
    _set_amount_out(q, amount_out)
    _set_fee_amount(q, fee_amount)
    _set_sqrt_price(q, sqrt_price)
    _set_tick(q, tick)
    _set_liquidity(q, liquidity)
    _set_ticks_crossed(q, ticks_crossed)
    _set_amount_unfilled(q, amount_unfilled)
    return q


def sorted_tick_indexes(ticks: Sequence[tuple[int, int]]) -> tuple[int, ...] | None:
    """The tick indexes of ``ticks``, in order; None unless strictly increasing (what a quote needs)."""
    indexes = tuple(map(operator.itemgetter(0), ticks))
    return indexes if all(map(operator.lt, indexes, indexes[1:])) else None


def _next_stop(
    tick: int, a_to_b: bool, ticks: Sequence[tuple[int, int]], indexes: Sequence[int], tick_spacing: int | None
) -> tuple[int | None, int | None]:
    """The next tick a swap step stops at, and its liquidity_net if it is an initialized tick.

    Steps stop at initialized ticks and, given a tick spacing, at the edges of tick arrays.
    """
    if a_to_b:
        at = bisect.bisect_right(indexes, tick) - 1  # inclusive of the current tick
        initialized = ticks[at] if at >= 0 else None
        if tick_spacing is None:
            return initialized if initialized is not None else (None, None)
        span = TICK_ARRAY_SIZE * tick_spacing
        edge = max(tick // span * span, MIN_TICK)
    else:
        at = bisect.bisect_right(indexes, tick)
        initialized = ticks[at] if at < len(ticks) else None
        if tick_spacing is None:
            return initialized if initialized is not None else (None, None)
        span = TICK_ARRAY_SIZE * tick_spacing
        edge = min((tick + tick_spacing) // span * span + (TICK_ARRAY_SIZE - 1) * tick_spacing, MAX_TICK)
    if initialized is None or (initialized[0] < edge if a_to_b else initialized[0] > edge):
        return edge, None
    return initialized


def known_sqrt_prices(known_ticks: tuple[int, int]) -> tuple[int, int]:
    """The sqrt prices a swap may reach inside the known ticks ``[first, end)``: ``(floor, ceiling)``.

    Down to the sqrt price of ``first`` (its liquidity_net known, what lies below not), up to that of ``end``
    (liquidity is constant from the last known tick to there); clamped to the program's range.
    """
    first, end = known_ticks
    floor = MIN_SQRT_PRICE if first <= MIN_TICK else MAX_SQRT_PRICE if first > MAX_TICK else _ladder(first)
    ceiling = MAX_SQRT_PRICE if end > MAX_TICK else MIN_SQRT_PRICE if end < MIN_TICK else _ladder(end)
    return floor, ceiling


MAX_SWAP_TICK_ARRAYS = 3
"""Tick arrays one swap instruction crosses at most: the program builds its sequence of three from the current
tick, whatever supplemental arrays the instruction is given (they only stand by in case the price has moved)."""


def swap_known_ticks(known_ticks: tuple[int, int] | None, tick: int, tick_spacing: int, a_to_b: bool,
                     arrays: int = MAX_SWAP_TICK_ARRAYS) -> tuple[tuple[int, int], bool]:
    """``known_ticks`` for :func:`swap_quote` narrowed to what one swap from ``tick`` can cross:
    ``((first, end), narrowed)``, ``narrowed`` True when the swap's reach, not ``known_ticks``, ends it.

    The program's sequence (``get_start_tick_indexes``): going down, the array holding ``tick`` and the
    ``arrays - 1`` below it, so the price can reach the start tick of the lowest; going up, ``arrays`` arrays from
    the one holding ``tick + tick_spacing`` (the next one when ``tick`` is its array's last), to the last tick of
    the highest. ``known_ticks`` None: every tick known."""
    first, end = known_ticks if known_ticks is not None else (MIN_TICK, MAX_TICK + 1)
    span = TICK_ARRAY_SIZE * tick_spacing
    if a_to_b:
        reach = tick // span * span - (arrays - 1) * span
        return (max(first, reach), end), reach > first
    reach = (tick + tick_spacing) // span * span + arrays * span - tick_spacing
    return (first, min(end, reach)), reach < end


def swap_quote(
    *,
    amount: int,
    amount_specified_is_input: bool,
    a_to_b: bool,
    sqrt_price: int,
    tick: int,
    liquidity: int,
    fee_rate: int,
    ticks: Sequence[tuple[int, int]],
    tick_spacing: int | None = None,
    sqrt_price_limit: int | None = None,
    tick_indexes: Sequence[int] | None = None,
    known_ticks: tuple[int, int] | None = None,
) -> SwapQuote:
    """Quote a swap across initialized ticks, step by step as the Whirlpool program swaps.

    ``sqrt_price``, ``tick`` and ``liquidity`` are the pool's current state
    (``tick_current_index`` for ``tick``); ``ticks`` is the sorted ``(tick_index,
    liquidity_net)`` of the initialized ticks (what TickArray accounts decode to). Crossing a tick
    adds its ``liquidity_net`` going up (b to a) and subtracts it going down (a to b).

    With ``tick_spacing``, steps also stop at every tick array's edge as the program's do, which
    makes the result bit-exact with the program; without it, the quote may differ by rounding.
    ``sqrt_price_limit`` defaults to the extreme sqrt price in the direction of the swap. An
    exact-output swap that cannot be filled before the default limit raises
    :class:`InsufficientLiquidity` (the program's partial-fill error); otherwise what could not
    be filled is reported in ``amount_unfilled``.

    ``tick_indexes``: the tick indexes of ``ticks``, in order, already checked strictly increasing
    (a caller quoting one pool state many times makes them once: see
    :class:`arbotlib.amm.whirlpool.model.WhirlpoolModel`); without it they are made and checked here.

    ``known_ticks``: ``(first, end)``, the ticks ``[first, end)`` whose initialized ticks ``ticks`` holds
    (the tick arrays loaded). Outside them the liquidity is unknown, so the swap goes no further than
    the sqrt prices of ``first`` (down) and ``end`` (up) (:func:`known_sqrt_prices`): what it could not fill
    before is ``amount_unfilled``, and an exact-output swap it leaves unfilled raises
    :class:`InsufficientLiquidity` naming the loaded tick arrays. None: every initialized tick is in ``ticks``.
    """
    if amount <= 0:
        raise OrcaMathError(f"amount must be positive, not {amount}")
    _check_u64("amount", amount)
    limit = sqrt_price_limit
    if limit is None:
        limit = MIN_SQRT_PRICE if a_to_b else MAX_SQRT_PRICE
    if not MIN_SQRT_PRICE <= limit <= MAX_SQRT_PRICE:
        raise SqrtPriceOutOfRange(f"sqrt price limit {limit} is out of range")
    if (a_to_b and limit > sqrt_price) or (not a_to_b and limit < sqrt_price):
        raise OrcaMathError("the sqrt price limit is on the wrong side of the current price")
    bounded = False
    if known_ticks is not None:
        floor, ceiling = known_sqrt_prices(known_ticks)
        # never past what the loaded arrays prove; a state already outside them can go no further that way
        edge = min(max(floor, limit), sqrt_price) if a_to_b else max(min(ceiling, limit), sqrt_price)
        bounded, limit = edge != limit, edge
    indexes = tick_indexes if tick_indexes is not None else sorted_tick_indexes(ticks)
    if indexes is None:
        raise OrcaMathError("ticks must be sorted by tick index without duplicates")

    remaining, calculated, fees, crossed = amount, 0, 0, 0
    while remaining > 0 and sqrt_price != limit:
        stop, net = _next_stop(tick, a_to_b, ticks, indexes, tick_spacing)
        stop_price = _ladder(stop) if stop is not None else None
        if stop_price is None:
            target = limit
        else:
            target = max(limit, stop_price) if a_to_b else min(limit, stop_price)
        amount_in, amount_out, next_price, fee = compute_swap_step(
            remaining, fee_rate, liquidity, sqrt_price, target, amount_specified_is_input, a_to_b
        )
        if amount_specified_is_input:
            remaining -= amount_in + fee
            calculated += amount_out
        else:
            remaining -= amount_out
            calculated += amount_in + fee
        fees += fee
        if stop is not None and next_price == stop_price:
            if net is not None:
                liquidity = liquidity - net if a_to_b else liquidity + net
                if not 0 <= liquidity <= U128_MAX:
                    raise OrcaMathError(f"crossing tick {stop} leaves liquidity {liquidity}")
                crossed += 1
            tick = stop - 1 if a_to_b else stop
        elif next_price != sqrt_price:
            tick = tick_at_sqrt_price(next_price)
        elif amount_in == amount_out == fee == 0:
            break  # no progress possible (the program would spin here too)
        sqrt_price = next_price

    if remaining > 0 and not amount_specified_is_input and bounded and known_ticks is not None:
        raise InsufficientLiquidity(
            f"the loaded tick arrays (ticks {known_ticks[0]} to {known_ticks[1]}) prove liquidity for only "
            f"{amount - remaining} of the {amount} requested; load more tick arrays"
        )
    if remaining > 0 and not amount_specified_is_input and sqrt_price_limit is None:
        raise InsufficientLiquidity(
            f"the pool can pay out only {amount - remaining} of the {amount} requested"
        )
    filled = amount - remaining
    amount_in, amount_out = (filled, calculated) if amount_specified_is_input else (calculated, filled)
    _check_u64("quoted amount", calculated)
    return _swap_quote_of(amount_in, amount_out, fees, sqrt_price, tick, liquidity, crossed, remaining)


# --- the same quote in closed form, while a swap stays inside its starting range ----------------

RangeQuote = Callable[[int], "tuple[int, int, int, int] | None"]
"""``quote(amount) -> (amount_in, amount_out, fee_amount, sqrt_price)`` or None: see :func:`range_quoter`."""


def range_quoter(
    *,
    amount_specified_is_input: bool,
    a_to_b: bool,
    sqrt_price: int,
    tick: int,
    liquidity: int,
    fee_rate: int,
    ticks: Sequence[tuple[int, int]],
    tick_spacing: int | None = None,
    tick_indexes: Sequence[int] | None = None,
) -> RangeQuote | None:
    """:func:`swap_quote` (default price limit) for the swaps that end inside the range they start in.

    Made once per pool state, direction and kind of amount: the range's end (the first stop of
    :func:`swap_quote`: an initialized tick or a tick array's edge), the amount that reaches it and
    the state's products are computed here, so a quote is one swap step in closed form with the
    program's rounding, a few big-integer operations. ``quote(amount)`` returns ``(amount_in,
    amount_out, fee_amount, sqrt_price)``, equal to those of ``swap_quote(amount=amount, ...)`` whose
    other fields are then: ``tick`` = ``tick_at_sqrt_price(sqrt_price)`` if the price moved, else the
    state's ``tick``; the state's liquidity; nothing crossed or unfilled. It returns None for every
    other swap (one that reaches the range's end, leaves part unfilled, or that the program refuses):
    ask :func:`swap_quote`, which answers it or raises its error.

    Returns None when no swap of this state qualifies (the price already at the range's end or out
    of range, ticks not sorted, a fee rate or a product the program refuses).
    """
    indexes = tick_indexes if tick_indexes is not None else sorted_tick_indexes(ticks)
    if indexes is None:
        return None
    if not (MIN_SQRT_PRICE <= sqrt_price <= MAX_SQRT_PRICE and 0 <= fee_rate < FEE_RATE_DENOMINATOR):
        return None
    stop, _ = _next_stop(tick, a_to_b, ticks, indexes, tick_spacing)
    limit = MIN_SQRT_PRICE if a_to_b else MAX_SQRT_PRICE
    if stop is None:
        target = limit
    else:
        stop_price = _ladder(stop)
        target = max(limit, stop_price) if a_to_b else min(limit, stop_price)
    if not (target < sqrt_price if a_to_b else target > sqrt_price):
        return None
    return _range_quoter_to(amount_specified_is_input, a_to_b, sqrt_price, liquidity, fee_rate, target)


def range_quoter_within(
    *,
    amount_specified_is_input: bool,
    a_to_b: bool,
    sqrt_price: int,
    liquidity: int,
    fee_rate: int,
    ends: RangeEnds,
) -> RangeQuote | None:
    """:func:`range_quoter` of a state whose :func:`range_ends` are ``ends``: made for its tick, or for another
    state's whose ``[low, high)`` holds its sqrt price (the same stops either way), so neither its tick nor its
    next stop is worked out. The same quoter, or None, as :func:`range_quoter` with the state's fields."""
    if not (MIN_SQRT_PRICE <= sqrt_price <= MAX_SQRT_PRICE and 0 <= fee_rate < FEE_RATE_DENOMINATOR):
        return None
    # range_ends' down (up) is the next stop's sqrt price that way, -inf (inf) without one, inf (-inf) for unsorted
    # ticks, which range_quoter turns down (the end is then on the wrong side of any price)
    end = max(MIN_SQRT_PRICE, ends[0]) if a_to_b else min(MAX_SQRT_PRICE, ends[1])
    if not (end < sqrt_price if a_to_b else end > sqrt_price):
        return None
    return _range_quoter_to(amount_specified_is_input, a_to_b, sqrt_price, liquidity, fee_rate, int(end))


def _range_quoter_to(amount_specified_is_input: bool, a_to_b: bool, sqrt_price: int, liquidity: int, fee_rate: int,
                     target: int) -> RangeQuote | None:
    """The rest of :func:`range_quoter`: the quoter of a range that ends at ``target`` (a sqrt price past
    ``sqrt_price`` in the swap's direction)."""
    fixed_is_a = a_to_b == amount_specified_is_input
    # The fixed token's amount that takes the price to the range's end, as compute_swap_step rounds it.
    reach = (_amount_delta_a_or_none if fixed_is_a else _amount_delta_b_or_none)(
        sqrt_price, target, liquidity, amount_specified_is_input)
    if not reach:
        return None
    keep = FEE_RATE_DENOMINATOR - fee_rate
    if not fixed_is_a:
        return functools.partial(_b_in if amount_specified_is_input else _b_out,
                                 sqrt_price, liquidity, target, reach, fee_rate, keep)
    numerator = liquidity * sqrt_price << 64
    if numerator >> 256:  # next_sqrt_price_from_a would refuse it
        return None
    return functools.partial(_a_in if amount_specified_is_input else _a_out,
                             sqrt_price, liquidity, target, reach, fee_rate, keep, numerator, liquidity << 64)


def reaches_limit_in_range(
    *,
    amount: int,
    a_to_b: bool,
    sqrt_price: int,
    tick: int,
    liquidity: int,
    fee_rate: int,
    ticks: Sequence[tuple[int, int]],
    sqrt_price_limit: int,
    tick_spacing: int | None = None,
    tick_indexes: Sequence[int] | None = None,
) -> bool:
    """Whether an exact-input :func:`swap_quote` of ``amount`` takes the price to ``sqrt_price_limit``
    in its first step, strictly inside the current range, without failing.

    True: that quote leaves the pool at ``sqrt_price_limit``, ``tick_at_sqrt_price(sqrt_price_limit)``
    and the same liquidity (a swap that moves a pool to a price: the paper DEX's other traders), known
    here without the quote's amounts. False: anything else; ask :func:`swap_quote`.
    """
    limit = sqrt_price_limit
    if not (0 < amount <= U64_MAX and MIN_SQRT_PRICE <= limit <= MAX_SQRT_PRICE
            and 0 <= fee_rate < FEE_RATE_DENOMINATOR and (limit < sqrt_price if a_to_b else limit > sqrt_price)):
        return False
    indexes = tick_indexes if tick_indexes is not None else sorted_tick_indexes(ticks)
    if indexes is None:
        return False
    stop, _ = _next_stop(tick, a_to_b, ticks, indexes, tick_spacing)
    if stop is not None and not (limit > _ladder(stop) if a_to_b else limit < _ladder(stop)):
        return False
    return limit_fits(amount, a_to_b, sqrt_price, liquidity, fee_rate, limit)


def limit_fits(amount: int, a_to_b: bool, sqrt_price: int, liquidity: int, fee_rate: int, limit: int) -> bool:
    """Whether the first step of an exact-input swap of ``amount`` (``0 < amount <= U64_MAX``, a fee rate
    below the denominator) can reach ``limit`` (a sqrt price the other side of ``sqrt_price`` in the
    swap's direction, inside the current range): the rest of :func:`reaches_limit_in_range`.

    compute_swap_step towards the limit: the input reaching it (rounded up) must be affordable, the output
    (rounded down) and the fee on the input must fit the program's integers (the amount deltas' limits,
    written out: a u256 numerator ``product << 64`` for token A, a u128 ``product`` for token B, u64 amounts).
    """
    keep = FEE_RATE_DENOMINATOR - fee_rate
    if a_to_b:  # A in, B out
        product = liquidity * (sqrt_price - limit)
        if product >> 192 or product > U128_MAX:
            return False
        amount_in = -(-(product << 64) // (sqrt_price * limit))
    else:  # B in, A out
        product = liquidity * (limit - sqrt_price)
        if product > U128_MAX or product >> 192 or (product << 64) // (limit * sqrt_price) > U64_MAX:
            return False
        amount_in = -(-product >> 64)
    return (amount_in <= U64_MAX and amount_in <= amount * keep // FEE_RATE_DENOMINATOR
            and -(-amount_in * fee_rate // keep) <= U64_MAX)


Stop = int | float
"""A sqrt price (Q64.64, an integer) where a swap stops, or ``math.inf``/``-math.inf`` for none that way: integers and
infinities only, never a fractional float (a compiler that took the annotation ``float`` for a C double would round
the sqrt prices)."""
RangeEnds = tuple[Stop, Stop, int, int]
""":func:`range_ends`: ``(down, up, low, high)``."""


def range_ends(tick: int, ticks: Sequence[tuple[int, int]], tick_spacing: int | None,
               tick_indexes: Sequence[int] | None) -> RangeEnds:
    """What :func:`reaches_limit_in_range` asks of a pool state's ticks, made once: ``(down, up, low, high)``.

    A swap from ``tick`` to a limit stays in the current range when the limit is above ``down`` going
    down (``a_to_b``), below ``up`` going up (``-inf``/``inf``: no stop that way; ``inf``/``-inf``: never,
    unsorted ticks). ``[low, high)`` are the sqrt prices whose ticks have the same two stops: a state
    moved to one of them (its tick that of its price) has the same ends (``low == high``: none).
    """
    if tick_indexes is None:
        return math.inf, -math.inf, 0, 0
    stop_down, _ = _next_stop(tick, True, ticks, tick_indexes, tick_spacing)
    stop_up, _ = _next_stop(tick, False, ticks, tick_indexes, tick_spacing)
    down = -math.inf if stop_down is None else _ladder(stop_down)
    up = math.inf if stop_up is None else _ladder(stop_up)
    at = bisect.bisect_right(tick_indexes, tick)  # the same initialized ticks on either side
    first = tick_indexes[at - 1] if at else MIN_TICK
    last = tick_indexes[at] - 1 if at < len(tick_indexes) else MAX_TICK
    if tick_spacing is not None:  # the same tick arrays for both edges (see _next_stop)
        span = TICK_ARRAY_SIZE * tick_spacing
        below, above = tick // span * span, (tick + tick_spacing) // span * span
        first = max(first, below, above - tick_spacing)
        last = min(last, below + span - 1, above + span - 1 - tick_spacing)
    first, last = max(first, MIN_TICK), min(last, MAX_TICK)
    if first > last:
        return down, up, 0, 0
    return down, up, _ladder(first), (_ladder(last + 1) if last < MAX_TICK else MAX_SQRT_PRICE + 1)


# The four steps of range_quoter, named by the specified (fixed) token. Each is the first step of
# swap_quote (compute_swap_step towards ``target``) when it stops short of the target and leaves
# nothing to swap, with the same rounding and the same overflow limits; anything else is None. In
# a step that stops short, the next price comes from the amount (rounded for the pool) and both
# deltas are taken between the current and the next price; ``product`` is L * |price move|.


def _a_in(sqrt_price: int, liquidity: int, target: int, reach: int, fee_rate: int, keep: int, numerator: int,
          liquidity_x64: int, amount: int) -> tuple[int, int, int, int] | None:
    """Exact input of token A (a to b, the price goes down): B out."""
    calc = amount * keep // FEE_RATE_DENOMINATOR
    if not (calc < reach and 0 < amount <= U64_MAX):
        return None
    price = -(-numerator // (liquidity_x64 + sqrt_price * calc))  # next_sqrt_price_from_a, rounded up
    if price <= target:
        return None
    product = liquidity * (sqrt_price - price)
    if product > U128_MAX:
        return None
    amount_out = product >> 64  # amount_delta_b, rounded down
    amount_in = -(-(product << 64) // (sqrt_price * price))  # amount_delta_a, rounded up
    if amount_out > U64_MAX or amount_in > U64_MAX:
        return None
    return amount, amount_out, amount - amount_in, price


def _a_out(sqrt_price: int, liquidity: int, target: int, reach: int, fee_rate: int, keep: int, numerator: int,
           liquidity_x64: int, amount: int) -> tuple[int, int, int, int] | None:
    """Exact output of token A (b to a, the price goes up): B in."""
    if not 0 < amount < reach:
        return None
    moved = sqrt_price * amount
    if liquidity_x64 <= moved:
        return None
    price = -(-numerator // (liquidity_x64 - moved))  # next_sqrt_price_from_a, rounded up
    if price >= target:
        return None
    product = liquidity * (price - sqrt_price)
    if product > U128_MAX:
        return None
    amount_in = -(-product >> 64)  # amount_delta_b, rounded up
    paid_out = (product << 64) // (sqrt_price * price)  # amount_delta_a, rounded down
    if amount_in > U64_MAX or not amount <= paid_out <= U64_MAX:
        return None
    fee = -(-amount_in * fee_rate // keep)
    if amount_in + fee > U64_MAX:
        return None
    return amount_in + fee, amount, fee, price


def _b_in(sqrt_price: int, liquidity: int, target: int, reach: int, fee_rate: int, keep: int,
          amount: int) -> tuple[int, int, int, int] | None:
    """Exact input of token B (b to a, the price goes up): A out."""
    calc = amount * keep // FEE_RATE_DENOMINATOR
    if not (calc < reach and 0 < amount <= U64_MAX):
        return None
    price = sqrt_price + (calc << 64) // liquidity  # next_sqrt_price_from_b, rounded down
    if price >= target:
        return None
    product = liquidity * (price - sqrt_price)
    if product > U128_MAX:
        return None
    amount_in = -(-product >> 64)  # amount_delta_b, rounded up
    amount_out = (product << 64) // (sqrt_price * price)  # amount_delta_a, rounded down
    if amount_out > U64_MAX or amount_in > U64_MAX:
        return None
    return amount, amount_out, amount - amount_in, price


def _b_out(sqrt_price: int, liquidity: int, target: int, reach: int, fee_rate: int, keep: int,
           amount: int) -> tuple[int, int, int, int] | None:
    """Exact output of token B (a to b, the price goes down): A in."""
    if not 0 < amount < reach:
        return None
    price = sqrt_price - -(-(amount << 64) // liquidity)  # next_sqrt_price_from_b, rounded down
    if price <= target:
        return None
    product = liquidity * (sqrt_price - price)
    if product > U128_MAX:
        return None
    amount_in = -(-(product << 64) // (sqrt_price * price))  # amount_delta_a, rounded up
    paid_out = product >> 64  # amount_delta_b, rounded down
    if amount_in > U64_MAX or not amount <= paid_out <= U64_MAX:
        return None
    fee = -(-amount_in * fee_rate // keep)
    if amount_in + fee > U64_MAX:
        return None
    return amount_in + fee, amount, fee, price
