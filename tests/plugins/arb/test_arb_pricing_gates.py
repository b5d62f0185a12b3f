"""The touch gates on integers decide exactly as rational arithmetic (the reference they replaced)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from plugins.arb.pricing import touch_gates


def reference(mid: Decimal, pd: int, pool_fee: Decimal, cex_fee: Decimal, haircut: Decimal,
              min_edge: Decimal) -> tuple[int, int, int, int | None]:
    m = Fraction(mid) * Fraction(10) ** pd
    pool, cex = Fraction(pool_fee), Fraction(cex_fee)
    extra = Fraction(haircut) + Fraction(min_edge)
    keep = 1 - cex
    return (math.ceil(m), math.ceil(m * (1 - pool) / (1 + cex + extra)), math.floor(m),
            math.floor(m * (1 + pool + extra) / keep) if keep > 0 else None)


def decimals(low: str, high: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(Decimal(low), Decimal(high), places=places, allow_nan=False, allow_infinity=False)


@given(mid=st.one_of(decimals("0.000001", "100000", 6), decimals("0.0000000001", "1000", 25)),
       pd=st.integers(-2, 10), pool_fee=decimals("0", "0.05", 6), cex_fee=decimals("0", "1.5", 6),
       haircut=decimals("0", "0.01", 6), min_edge=decimals("0", "0.02", 6))
def test_the_integer_gates_equal_the_rational_ones(mid, pd, pool_fee, cex_fee, haircut, min_edge):
    assert touch_gates(mid, pd, pool_fee, cex_fee, haircut, min_edge) == reference(mid, pd, pool_fee, cex_fee,
                                                                                  haircut, min_edge)


def test_an_exact_threshold_is_not_rounded_past():
    # mid 150, no fees: M = 15000 exactly, so ceil and floor meet; a 100 % CEX fee keeps nothing
    assert touch_gates(Decimal("150.00"), 2, Decimal(0), Decimal(0), Decimal(0), Decimal(0)) == (15000, 15000,
                                                                                                   15000, 15000)
    assert touch_gates(Decimal("150"), 2, Decimal(0), Decimal(1), Decimal(0), Decimal(0))[3] is None
