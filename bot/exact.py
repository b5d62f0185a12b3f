"""Exact conversion between Decimal amounts and a token's or market's integer smallest units.

A leaf: the order book, the pool models and the venues convert through it (public as
:mod:`bot.api.kit`).
"""

from __future__ import annotations

from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal

_SCALE = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[])
"""Moves a decimal point and nothing else: no coefficient is long enough to be rounded, no exponent to overflow."""


class PrecisionError(ValueError):
    """A number has more significant decimals than the market's precision allows."""


def to_units(value: Decimal | str | int, decimals: int) -> int:
    """``Decimal("1.25")`` at 2 decimals -> ``125``; raises PrecisionError if digits would be lost.

    The value's decimal point moved by ``decimals`` (``scaleb``: the same digits), then taken as an integer, which
    it must equal exactly."""
    d = value if isinstance(value, Decimal) else Decimal(value)
    if not d.is_finite():
        raise PrecisionError(f"{value} is not a finite number")
    scaled = d.scaleb(decimals, _SCALE)
    try:
        units = int(scaled)
    except OverflowError:  # beyond any exponent: scaleb made it infinite
        raise PrecisionError(f"{value} is too large for {decimals} decimals") from None
    if scaled != units:
        raise PrecisionError(f"{value} has more than {decimals} decimals")
    return units


def from_units(units: int, decimals: int) -> Decimal:
    """``125`` at 2 decimals -> ``Decimal("1.25")`` (trailing zeros kept: the market's precision)."""
    return Decimal(units).scaleb(-decimals)



def plain(value: Decimal) -> str:
    """Every significant digit as plain text, without exponent or trailing zeros ("12.5", not "1.25E+1"); "0" for
    any zero. Never rounded: ``Decimal.normalize`` alone rounds to the context's precision (28 digits by default),
    and a figure with a pool price in it has more."""
    return format(value.normalize(_SCALE), "f") if value else "0"


__all__ = ["PrecisionError", "from_units", "plain", "to_units"]
