"""Exact conversion between Decimal amounts and a token's or market's integer smallest units.

A leaf: the order book, the pool models and the venues convert through it (public as
:mod:`bot.api.kit`).
"""

from __future__ import annotations

from decimal import Decimal

_POW10 = [10**i for i in range(40)]


class PrecisionError(ValueError):
    """A number has more significant decimals than the market's precision allows."""


def to_units(value: Decimal | str | int, decimals: int) -> int:
    """``Decimal("1.25")`` at 2 decimals -> ``125``; raises PrecisionError if digits would be lost."""
    d = value if isinstance(value, Decimal) else Decimal(value)
    sign, digits, exponent = d.as_tuple()
    if not isinstance(exponent, int):  # "n", "N" or "F": NaN, signalling NaN or infinity
        raise PrecisionError(f"{value} is not a finite number")
    n: int = int("".join(map(str, digits))) if digits else 0
    shift = exponent + decimals
    if shift >= 0:
        n *= _POW10[shift] if shift < 40 else 10**shift
    else:
        n, rest = divmod(n, 10**-shift)
        if rest:
            raise PrecisionError(f"{value} has more than {decimals} decimals")
    return -n if sign else n


def from_units(units: int, decimals: int) -> Decimal:
    """``125`` at 2 decimals -> ``Decimal("1.25")`` (trailing zeros kept: the market's precision)."""
    return Decimal(units).scaleb(-decimals)


__all__ = ["PrecisionError", "from_units", "to_units"]
