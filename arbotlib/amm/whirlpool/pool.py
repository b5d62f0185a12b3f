"""Quoting a decoded Whirlpool: price, and what a size costs or yields in either direction.

Amounts are integers in the tokens' smallest units; a price becomes a
:class:`~decimal.Decimal` in whole tokens only here, at the edge, using the mints' decimals.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Context, Decimal

from arbotlib.amm.whirlpool.accounts import TickArray, Whirlpool, tick_array_start_index
from arbotlib.amm.whirlpool.math import (
    TICK_ARRAY_SIZE,
    OrcaMathError,
    SwapQuote,
    swap_known_ticks,
    swap_quote,
)


class AdaptiveFeePool(OrcaMathError):
    """A Whirlpool with an adaptive fee: not quoted (see :func:`fixed_fee_rate`)."""


def fixed_fee_rate(pool: Whirlpool) -> int:
    """The fee rate every swap on ``pool`` pays: its ``fee_rate``; raises :class:`AdaptiveFeePool` for a pool with an
    adaptive fee, whose swaps pay more (a variable fee on top, growing with volatility, from its Oracle account):
    quoting it at ``fee_rate`` would promise more than a swap gives."""
    if pool.adaptive_fee:
        raise AdaptiveFeePool(
            f"the whirlpool has an adaptive fee (fee tier index {pool.fee_tier_index}, tick spacing "
            f"{pool.tick_spacing}): its swaps pay its fee_rate {pool.fee_rate} plus a variable fee that grows "
            "with volatility, so quoting it at fee_rate would understate the fee; adaptive-fee pools are not quoted")
    return pool.fee_rate


def initialized_ticks(pool: Whirlpool, tick_arrays: Iterable[TickArray]) -> list[tuple[int, int]]:
    """Sorted ``(tick_index, liquidity_net)`` of the initialized ticks of ``tick_arrays``."""
    ticks: dict[int, int] = {}
    for array in tick_arrays:
        ticks.update(array.initialized_ticks(pool.tick_spacing))
    return sorted(ticks.items())


def known_ticks(pool: Whirlpool, array_starts: Iterable[int]) -> tuple[int, int]:
    """``(first, end)``: the ticks ``[first, end)`` covered by the unbroken run of tick arrays (by their start
    ticks) around the one holding the current tick; ``first == end`` when that one is not among them.

    Only there are the initialized ticks, and so the liquidity, known: an array beyond a missing one proves
    nothing about the gap. An array start with no account (no initialized tick in it) counts as known.
    """
    span = TICK_ARRAY_SIZE * pool.tick_spacing
    starts = set(array_starts)
    current = tick_array_start_index(pool.tick_current_index, pool.tick_spacing)
    if current not in starts:
        return current, current
    first = end = current
    while first - span in starts:
        first -= span
    while end + span in starts:
        end += span
    return first, end + span


def _quote(pool: Whirlpool, tick_arrays: Iterable[TickArray], amount: int, a_to_b: bool, is_input: bool) -> SwapQuote:
    arrays = list(tick_arrays)
    known, _ = swap_known_ticks(known_ticks(pool, (array.start_tick_index for array in arrays)),
                                pool.tick_current_index, pool.tick_spacing, a_to_b)
    return swap_quote(
        amount=amount,
        amount_specified_is_input=is_input,
        a_to_b=a_to_b,
        sqrt_price=pool.sqrt_price,
        tick=pool.tick_current_index,
        liquidity=pool.liquidity,
        fee_rate=fixed_fee_rate(pool),
        ticks=initialized_ticks(pool, arrays),
        tick_spacing=pool.tick_spacing,
        known_ticks=known,
    )


def quote_exact_in(pool: Whirlpool, tick_arrays: Iterable[TickArray], amount_in: int, a_to_b: bool) -> SwapQuote:
    """What paying ``amount_in`` (fee included) of token A (``a_to_b``) or B buys of the other.

    Only the ticks in ``tick_arrays`` are known (see :func:`known_ticks`), and one swap crosses at most
    :data:`~arbotlib.amm.whirlpool.math.MAX_SWAP_TICK_ARRAYS` of them
    (:func:`~arbotlib.amm.whirlpool.math.swap_known_ticks`): the swap stops at the nearer edge, and what it could
    not take there is the quote's ``amount_unfilled``.
    Raises :class:`AdaptiveFeePool` for a pool with an adaptive fee (:func:`fixed_fee_rate`).
    """
    return _quote(pool, tick_arrays, amount_in, a_to_b, True)


def quote_exact_out(pool: Whirlpool, tick_arrays: Iterable[TickArray], amount_out: int, a_to_b: bool) -> SwapQuote:
    """What receiving exactly ``amount_out`` of token B (``a_to_b``) or A costs, fee included.

    Raises :class:`arbotlib.amm.whirlpool.math.InsufficientLiquidity` if the pool cannot pay it out, or not
    within ``tick_arrays`` (see :func:`known_ticks`) and the :data:`~arbotlib.amm.whirlpool.math.MAX_SWAP_TICK_ARRAYS`
    one swap crosses; :class:`AdaptiveFeePool` for a pool with an adaptive fee (:func:`fixed_fee_rate`).
    """
    return _quote(pool, tick_arrays, amount_out, a_to_b, False)


_PRICE = Context(prec=60)
"""Prices from sqrt prices: 60 digits, rounded half-even, whatever the caller's context."""
_Q128 = Decimal(1 << 128)


class _Scales(dict[int, Decimal]):
    def __missing__(self, shift: int) -> Decimal:
        value = self[shift] = Decimal(5**128).scaleb(shift - 128, Context(prec=100))  # 90 digits: exact
        return value


_SCALES = _Scales()
"""``10**shift / 2**128`` (``5**128 * 10**(shift - 128)``, exactly) by ``shift``: one multiplication makes a price."""
_INEXACT = (1 << 22) - 1
"""A sqrt price with one of these bits set has a quotient by 2**128 of more than 60 digits (see below)."""


def price_from_sqrt_price(sqrt_price: int, decimals_a: int, decimals_b: int) -> Decimal:
    """Price of one whole token A in whole tokens B, from a Q64.64 sqrt price (60 significant digits).

    ``sqrt_price**2 / 2**128``, rounded to 60 digits, then scaled by ``10**(decimals_a - decimals_b)``. When
    ``sqrt_price`` is not a multiple of ``2**22``, the quotient (``sqrt_price**2 * 5**128`` over ``10**128``)
    has more than 60 significant digits: at least ``(128 - 42) * log10(5) > 60`` of them, nothing rounding it
    exactly; so the division's correctly rounded 60 digits are the product's with ``5**128`` and
    ``10**(shift - 128)`` (one operation, the same number and exponent). An exact quotient keeps the division,
    whose result drops trailing zeros.
    """
    if sqrt_price & _INEXACT:  # the context's operation takes the whole number as it is (exactly, no Decimal made)
        return _PRICE.multiply(sqrt_price * sqrt_price, _SCALES[decimals_a - decimals_b])
    return _PRICE.divide(sqrt_price * sqrt_price, _Q128).scaleb(decimals_a - decimals_b, _PRICE)


def price(pool: Whirlpool, decimals_a: int, decimals_b: int) -> Decimal:
    """The pool's current price of one whole token A in whole tokens B."""
    return price_from_sqrt_price(pool.sqrt_price, decimals_a, decimals_b)
