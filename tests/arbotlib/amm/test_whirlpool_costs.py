"""Whirlpool quotes count what a swap really costs: an adaptive fee, Token-2022 transfer fees, and the three tick
arrays one swap instruction can cross."""

from __future__ import annotations

import pytest

from arbotlib.amm.whirlpool.accounts import Tick, TickArray, Whirlpool, build_whirlpool, decode_whirlpool
from arbotlib.amm.whirlpool.math import TICK_ARRAY_SIZE, sqrt_price_at_tick
from arbotlib.amm.whirlpool.model import WhirlpoolModel
from arbotlib.amm.whirlpool.pool import AdaptiveFeePool, quote_exact_in
from arbotlib.amm.whirlpool.transfer_fee import TransferFee, received_after, sent_for
from bot.pool import PoolLiquidityError

SPACING = 64
SPAN = TICK_ARRAY_SIZE * SPACING
LIQUIDITY = 10**12
EMPTY = tuple(Tick() for _ in range(TICK_ARRAY_SIZE))


def pool(tick: int = 100, **fields) -> Whirlpool:
    return Whirlpool(tick_spacing=SPACING, fee_rate=3000, liquidity=LIQUIDITY,
                     sqrt_price=sqrt_price_at_tick(tick) + 7, tick_current_index=tick, **fields)


def arrays(*starts: int) -> list[TickArray]:
    return [TickArray(start, EMPTY) for start in starts]


SEVEN = arrays(*(k * SPAN for k in range(-3, 4)))  # the orca venue's default window: 3 arrays each side


def model(tick: int = 100, **kwargs) -> WhirlpoolModel:
    return WhirlpoolModel.of(pool(tick), SEVEN, base="SOL", quote="USDC", base_decimals=9, quote_decimals=6, **kwargs)


# --- 1. adaptive fee ---------------------------------------------------------------------------------------------


def test_a_whirlpool_with_its_tick_spacing_as_fee_tier_index_has_a_fixed_fee():
    raw = build_whirlpool(pool())
    assert raw[41:43] == SPACING.to_bytes(2, "little")  # the seed the program derives the pool's address with
    assert not decode_whirlpool(raw).adaptive_fee


def test_an_adaptive_fee_pool_is_refused_not_quoted_at_its_base_fee():
    """Its fee_rate is only the static part: the program adds a variable fee that grows with volatility."""
    adaptive = pool(tick_spacing_seed=(1024 + SPACING).to_bytes(2, "little"))
    assert decode_whirlpool(build_whirlpool(adaptive)).adaptive_fee
    with pytest.raises(AdaptiveFeePool, match=r"adaptive fee \(fee tier index 1088, tick spacing 64\).*fee_rate 3000"):
        WhirlpoolModel.of(adaptive, SEVEN, base="SOL", quote="USDC", base_decimals=9, quote_decimals=6)
    with pytest.raises(AdaptiveFeePool):
        quote_exact_in(adaptive, SEVEN, 10**6, a_to_b=True)


# --- 2. Token-2022 transfer fees ---------------------------------------------------------------------------------

IN_FEE = TransferFee(epoch=0, maximum_fee=5 * 10**6, basis_points=100)
OUT_FEE = TransferFee(epoch=0, maximum_fee=10**12, basis_points=50)


def test_a_sale_pays_the_input_mints_fee_before_the_pool_and_the_output_mints_fee_after():
    plain = model()
    fees = model(base_transfer_fees=(IN_FEE,), quote_transfer_fees=(OUT_FEE,))
    for size in (10**6, 10**9, 3 * 10**11):  # in range, the closed form; and across arrays, step by step
        into_pool = received_after(size, (IN_FEE,))
        assert into_pool < size
        out, fee, after = plain.sell_units(into_pool)
        got = fees.sell_units(size)
        assert got[0] == out - OUT_FEE.fee_on(out) < plain.sell_units(size)[0]
        assert (got[1], got[2].sqrt_price) == (fee, after.sqrt_price)


def test_a_purchase_pays_for_the_fee_withheld_on_what_it_receives_and_on_what_it_sends():
    plain = model()
    fees = model(base_transfer_fees=(IN_FEE,), quote_transfer_fees=(OUT_FEE,))
    for size in (10**6, 10**9, 3 * 10**11):
        out_of_pool = sent_for(size, (IN_FEE,))  # the base token's fee is withheld from what we receive
        assert out_of_pool > size
        paid, fee, after = plain.buy_units(out_of_pool)
        got = fees.buy_units(size)
        assert got[0] == sent_for(paid, (OUT_FEE,)) > plain.buy_units(size)[0]
        assert (got[1], got[2].sqrt_price) == (fee, after.sqrt_price)


def test_the_state_after_a_quote_keeps_the_transfer_fees():
    fees = model(base_transfer_fees=(IN_FEE,), quote_transfer_fees=(OUT_FEE,))
    after = fees.sell_units(10**6)[2]
    assert isinstance(after, WhirlpoolModel)
    assert (after.base_transfer_fees, after.quote_transfer_fees) == ((IN_FEE,), (OUT_FEE,))
    out = model().at_in_range(after.sqrt_price).sell_units(received_after(10**6, (IN_FEE,)))[0]
    assert after.sell_units(10**6)[0] == out - OUT_FEE.fee_on(out)


def test_a_fee_that_takes_the_whole_input_is_refused():
    everything = TransferFee(epoch=0, maximum_fee=10**18, basis_points=10_000)
    with pytest.raises(PoolLiquidityError, match="transfer fee"):
        model(base_transfer_fees=(everything,)).sell_units(10**6)


# --- 3. one swap crosses at most three tick arrays ----------------------------------------------------------------


@pytest.mark.parametrize("a_to_b, edge", [(True, -2 * SPAN), (False, 3 * SPAN - SPACING)])
def test_a_quote_stops_where_one_swap_must_stop_though_more_arrays_are_loaded(a_to_b, edge):
    """Down: the current array and two below, to the start of the lowest; up: the current array and two above,
    to the last tick of the highest (the program's sequence for the swap)."""
    q = quote_exact_in(pool(), SEVEN, 10**13, a_to_b=a_to_b)
    assert q.sqrt_price == sqrt_price_at_tick(edge) and q.amount_unfilled > 0


def test_up_from_the_last_tick_of_an_array_the_swap_starts_in_the_next_one():
    """The program shifts the sequence up when the current tick plus the spacing is in the next array."""
    q = quote_exact_in(pool(SPAN - SPACING), SEVEN, 10**13, a_to_b=False)
    assert q.sqrt_price == sqrt_price_at_tick(4 * SPAN - SPACING)


def test_the_model_refuses_a_size_one_swap_cannot_execute():
    m = model()
    with pytest.raises(PoolLiquidityError, match=r"one swap crosses at most 3 tick arrays"):
        m.sell_units(10**13)
    with pytest.raises(PoolLiquidityError, match=r"one swap crosses at most 3 tick arrays"):
        m.buy_units(6 * 10**11)  # within the loaded arrays, past the three one swap crosses
    # two arrays down fit: the window's third one below (loaded) does not count
    down_two = quote_exact_in(pool(), SEVEN, 10**13, a_to_b=True).amount_in - 1
    assert m.sell_units(down_two)[0] > 0


def test_a_moved_state_counts_the_arrays_from_its_own_tick():
    m = model()
    size = quote_exact_in(pool(), SEVEN, 10**13, a_to_b=True).amount_in - 1
    after = m.sell_units(size)[2]  # two arrays down
    assert isinstance(after, WhirlpoolModel)
    after.sell_units(10**9)  # from there, more of the loaded arrays below are within one swap
