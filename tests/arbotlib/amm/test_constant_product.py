"""Constant-product pool quotes: hand-checked numbers and hypothesis properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbotlib.amm.constant_product import (
    ConstantProductPool,
    PoolQuoteError,
    amount_in_for_exact_out,
    amount_out_for_exact_in,
)


def test_exact_in_by_hand():
    # 1000 in with 0.3 %: 997 effective; out = 997 * 1_000_000 / (1_000_000 + 997) = 996.006... -> 996.
    assert amount_out_for_exact_in(1000, 1_000_000, 1_000_000, 30) == 996
    # No fee: 100 into 100/100 gives 100 * 100 / 200 = 50 exactly.
    assert amount_out_for_exact_in(100, 100, 100, 0) == 50


def test_exact_out_by_hand():
    # 996 out of 1_000_000/1_000_000 at 0.3 %: 1e6 * 996 * 1e4 / (999_004 * 9970) = 999.9960... -> 1000.
    assert amount_in_for_exact_out(996, 1_000_000, 1_000_000, 30) == 1000
    assert amount_in_for_exact_out(50, 100, 100, 0) == 100
    assert amount_in_for_exact_out(0, 100, 100, 30) == 0


def test_pool_quotes_both_ways_and_keeps_the_fee():
    pool = ConstantProductPool(reserve_a=10**12, reserve_b=2 * 10**12, fee_bps=25)  # 1000 SOL, 2M USDC
    sell = pool.quote_exact_in(10**6, a_to_b=True)
    assert sell.pool_after == ConstantProductPool(10**12 + 10**6, 2 * 10**12 - sell.amount_out, 25)
    assert sell.fee_amount == 2500
    assert sell.pool_after.reserve_a * sell.pool_after.reserve_b > pool.reserve_a * pool.reserve_b
    buy = pool.quote_exact_out(10**6, a_to_b=False)
    assert buy.amount_out == 10**6 and buy.pool_after.reserve_a == 10**12 - 10**6
    assert pool.price(9, 6) == Decimal(2000)


def test_bad_quotes_are_refused():
    with pytest.raises(PoolQuoteError, match="cannot take 100 out of a reserve of 100"):
        amount_in_for_exact_out(100, 100, 100, 30)
    with pytest.raises(PoolQuoteError, match="reserves must be positive"):
        amount_out_for_exact_in(1, 0, 100, 30)
    with pytest.raises(PoolQuoteError, match="fee_bps"):
        amount_out_for_exact_in(1, 100, 100, 10_000)
    with pytest.raises(PoolQuoteError, match="must not be negative"):
        amount_out_for_exact_in(-1, 100, 100, 30)


reserves = st.integers(1, 10**20)
fees = st.integers(0, 1000)


@settings(max_examples=300, deadline=None)
@given(reserve_in=reserves, reserve_out=reserves, fee=fees, amount=st.integers(0, 10**22), extra=st.integers(0, 10**20))
def test_exact_in_never_drains_is_monotonic_and_keeps_k(reserve_in, reserve_out, fee, amount, extra):
    out = amount_out_for_exact_in(amount, reserve_in, reserve_out, fee)
    assert 0 <= out < reserve_out
    assert out <= amount_out_for_exact_in(amount + extra, reserve_in, reserve_out, fee)
    assert (reserve_in + amount) * (reserve_out - out) >= reserve_in * reserve_out
    # Never more than the input is worth at the starting price.
    assert out * reserve_in <= amount * reserve_out


@settings(max_examples=300, deadline=None)
@given(reserve_in=reserves, reserve_out=st.integers(2, 10**20), fee=fees, data=st.data())
def test_exact_out_fed_back_as_exact_in_yields_at_least_the_amount(reserve_in, reserve_out, fee, data):
    wanted = data.draw(st.integers(0, reserve_out - 1))
    cost = amount_in_for_exact_out(wanted, reserve_in, reserve_out, fee)
    assert amount_out_for_exact_in(cost, reserve_in, reserve_out, fee) >= wanted
    if cost > 0:  # and it is the least such input
        assert amount_out_for_exact_in(cost - 1, reserve_in, reserve_out, fee) < wanted
