"""Quoting a decoded Whirlpool: price, and what a size costs or yields in either direction.

Amounts are integers in the tokens' smallest units; a price becomes a
:class:`~decimal.Decimal` in whole tokens only here, at the edge, using the mints' decimals.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Context, Decimal

from arbotlib.amm.whirlpool.accounts import TickArray, Whirlpool
from arbotlib.amm.whirlpool.math import SwapQuote, swap_quote


def initialized_ticks(pool: Whirlpool, tick_arrays: Iterable[TickArray]) -> list[tuple[int, int]]:
    """Sorted ``(tick_index, liquidity_net)`` of the initialized ticks of ``tick_arrays``."""
    ticks: dict[int, int] = {}
    for array in tick_arrays:
        ticks.update(array.initialized_ticks(pool.tick_spacing))
    return sorted(ticks.items())


def _quote(pool: Whirlpool, tick_arrays: Iterable[TickArray], amount: int, a_to_b: bool, is_input: bool) -> SwapQuote:
    return swap_quote(
        amount=amount,
        amount_specified_is_input=is_input,
        a_to_b=a_to_b,
        sqrt_price=pool.sqrt_price,
        tick=pool.tick_current_index,
        liquidity=pool.liquidity,
        fee_rate=pool.fee_rate,
        ticks=initialized_ticks(pool, tick_arrays),
        tick_spacing=pool.tick_spacing,
    )


def quote_exact_in(pool: Whirlpool, tick_arrays: Iterable[TickArray], amount_in: int, a_to_b: bool) -> SwapQuote:
    """What paying ``amount_in`` (fee included) of token A (``a_to_b``) or B buys of the other.

    Only the ticks in ``tick_arrays`` are known: liquidity is assumed constant past the last of
    them, so pass the arrays the swap can reach (the program takes up to three).
    """
    return _quote(pool, tick_arrays, amount_in, a_to_b, True)


def quote_exact_out(pool: Whirlpool, tick_arrays: Iterable[TickArray], amount_out: int, a_to_b: bool) -> SwapQuote:
    """What receiving exactly ``amount_out`` of token B (``a_to_b``) or A costs, fee included.

    Raises :class:`arbotlib.amm.whirlpool.math.InsufficientLiquidity` if the pool cannot pay it out.
    """
    return _quote(pool, tick_arrays, amount_out, a_to_b, False)


_PRICE = Context(prec=60)
"""Prices from sqrt prices: 60 digits, rounded half-even, whatever the caller's context."""
_Q128 = Decimal(1 << 128)


def price_from_sqrt_price(sqrt_price: int, decimals_a: int, decimals_b: int) -> Decimal:
    """Price of one whole token A in whole tokens B, from a Q64.64 sqrt price (60 significant digits)."""
    return _PRICE.divide(Decimal(sqrt_price * sqrt_price), _Q128).scaleb(decimals_a - decimals_b, _PRICE)


def price(pool: Whirlpool, decimals_a: int, decimals_b: int) -> Decimal:
    """The pool's current price of one whole token A in whole tokens B."""
    return price_from_sqrt_price(pool.sqrt_price, decimals_a, decimals_b)
