"""Whirlpool and TickArray accounts: decoding built bytes, refusing bad ones, quoting the pool."""

from __future__ import annotations

import base64
import dataclasses
from decimal import Decimal

import pytest

from arbotlib.amm.whirlpool.accounts import (
    TICK_ARRAY_DISCRIMINATOR,
    WHIRLPOOL_DISCRIMINATOR,
    AccountDecodeError,
    RewardInfo,
    Tick,
    Whirlpool,
    b58decode,
    b58encode,
    build_dynamic_tick_array,
    build_tick_array,
    build_whirlpool,
    decode_tick_array,
    decode_tick_array_base64,
    decode_whirlpool,
    decode_whirlpool_base64,
)
from arbotlib.amm.whirlpool.math import Q64, InsufficientLiquidity, sqrt_price_at_tick, swap_quote
from arbotlib.amm.whirlpool.pool import (
    initialized_ticks,
    price,
    price_from_sqrt_price,
    quote_exact_in,
    quote_exact_out,
)

SOL = "So11111111111111111111111111111111111111112"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
PROGRAM = "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc"

POOL = Whirlpool(
    whirlpools_config=PROGRAM, whirlpool_bump=255, tick_spacing=64, tick_spacing_seed=b"\x40\x00",
    fee_rate=3000, protocol_fee_rate=1300, liquidity=10**12, sqrt_price=sqrt_price_at_tick(-20000) + 7,
    tick_current_index=-20000, protocol_fee_owed_a=11, protocol_fee_owed_b=12,
    token_mint_a=SOL, token_vault_a=USDC, fee_growth_global_a=2**100 + 3,
    token_mint_b=USDC, token_vault_b=SOL, fee_growth_global_b=2**127 - 1,
    reward_last_updated_timestamp=1_700_000_000,
    reward_infos=(RewardInfo(SOL, USDC, PROGRAM, 5 * Q64, 9), RewardInfo(), RewardInfo()),
)


def test_discriminators_are_orcas():
    # The first 8 bytes of sha256("account:Whirlpool") / ("account:TickArray"), as in Orca's IDL.
    assert list(WHIRLPOOL_DISCRIMINATOR) == [63, 149, 209, 12, 225, 128, 99, 9]
    assert list(TICK_ARRAY_DISCRIMINATOR) == [69, 97, 189, 190, 110, 7, 66, 187]


def test_base58_round_trips_public_keys():
    for key in (SOL, USDC, PROGRAM, "11111111111111111111111111111111"):
        raw = b58decode(key)
        assert len(raw) == 32 and b58encode(raw) == key


def test_whirlpool_round_trips_through_its_bytes():
    raw = build_whirlpool(POOL)
    assert len(raw) == 653
    assert decode_whirlpool(raw) == POOL
    assert decode_whirlpool_base64(base64.b64encode(raw).decode()) == POOL


def test_whirlpool_fields_sit_at_orcas_offsets():
    raw = build_whirlpool(POOL)
    assert int.from_bytes(raw[41:43], "little") == 64  # tick_spacing
    assert int.from_bytes(raw[45:47], "little") == 3000  # fee_rate
    assert int.from_bytes(raw[49:65], "little") == POOL.liquidity
    assert int.from_bytes(raw[65:81], "little") == POOL.sqrt_price
    assert int.from_bytes(raw[81:85], "little", signed=True) == -20000
    assert b58encode(raw[101:133]) == SOL and b58encode(raw[181:213]) == USDC


def test_tick_array_round_trips_through_its_bytes():
    ticks = {
        0: Tick(True, -(10**20), 10**20, 1, 2, (3, 4, 5)),
        5: Tick(True, 2**127 - 1, 2**128 - 1, 0, 0, (0, 0, 0)),
        87: Tick(True, -(2**127), 7, 8, 9, (10, 11, 12)),
    }
    raw = build_tick_array(-5632, ticks, whirlpool=PROGRAM)
    assert len(raw) == 9988
    array = decode_tick_array(raw)
    assert array.start_tick_index == -5632 and array.whirlpool == PROGRAM and len(array.ticks) == 88
    assert {i: t for i, t in enumerate(array.ticks) if t.initialized} == ticks
    assert array.initialized_ticks(64) == [(-5632, -(10**20)), (-5632 + 320, 2**127 - 1), (-5632 + 87 * 64, -(2**127))]
    assert decode_tick_array_base64(base64.b64encode(raw).decode()) == array


def _dynamic_bytes(start: int, ticks: dict[int, Tick], whirlpool: str, *, bitmap: int | None = None) -> bytes:
    """A DynamicTickArray as the program lays it out, written here by hand: header (discriminator, start tick,
    whirlpool, u128 bitmap of the initialized ticks), then per tick a 1-byte tag, followed by its 112 bytes of
    data when initialized."""
    raw = bytes([17, 216, 246, 142, 225, 199, 218, 56]) + start.to_bytes(4, "little", signed=True)
    raw += b58decode(whirlpool)
    raw += (sum(1 << i for i in ticks) if bitmap is None else bitmap).to_bytes(16, "little")
    for i in range(88):
        tick = ticks.get(i)
        if tick is None:
            raw += b"\0"
            continue
        raw += b"\1" + tick.liquidity_net.to_bytes(16, "little", signed=True)
        for value in (tick.liquidity_gross, tick.fee_growth_outside_a, tick.fee_growth_outside_b,
                      *tick.reward_growths_outside):
            raw += value.to_bytes(16, "little")
    return raw


DYNAMIC_TICKS = {
    0: Tick(True, -(10**20), 10**20, 1, 2, (3, 4, 5)),
    5: Tick(True, 2**127 - 1, 2**128 - 1, 0, 0, (0, 0, 0)),
    87: Tick(True, -(2**127), 7, 8, 9, (10, 11, 12)),
}


def test_a_dynamic_tick_array_decodes_to_the_same_ticks_as_a_fixed_one():
    """Orca's newer variable-size tick arrays (DynamicTickArray): an array with no initialized tick is 148 bytes,
    each initialized one adds 112. They hold the same ticks a fixed array would."""
    raw = _dynamic_bytes(-5632, DYNAMIC_TICKS, PROGRAM)
    assert len(raw) == 148 + 3 * 112
    assert decode_tick_array(raw) == decode_tick_array(build_tick_array(-5632, DYNAMIC_TICKS, whirlpool=PROGRAM))
    empty = _dynamic_bytes(0, {}, PROGRAM)
    assert decode_tick_array(empty) == decode_tick_array(build_tick_array(0, whirlpool=PROGRAM))
    # the builder the orca venue's tests use writes these very bytes
    assert build_dynamic_tick_array(-5632, DYNAMIC_TICKS, whirlpool=PROGRAM) == raw
    assert build_dynamic_tick_array(0, whirlpool=PROGRAM) == empty


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_dynamic_bytes(0, DYNAMIC_TICKS, PROGRAM)[:-1], "DynamicTickArray account data ends inside tick 87"),
        (_dynamic_bytes(0, DYNAMIC_TICKS, PROGRAM) + b"\0", "DynamicTickArray account data has 1 byte past its ticks"),
        (_dynamic_bytes(0, {}, PROGRAM)[:-1], "DynamicTickArray account data is 147 bytes, expected 148 to 10004"),
        (_dynamic_bytes(0, {}, PROGRAM)[:60] + b"\2" + b"\0" * 87, "DynamicTickArray tick 0 has tag 2"),
        (_dynamic_bytes(0, DYNAMIC_TICKS, PROGRAM, bitmap=1), "bitmap"),
    ],
)
def test_a_dynamic_tick_array_that_does_not_hold_together_is_refused(raw, message):
    with pytest.raises(AccountDecodeError, match=message):
        decode_tick_array(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (build_whirlpool(POOL)[:-1], "652 bytes, expected 653"),
        (build_tick_array(0) + b"\0", "9989 bytes, expected 9988"),
        (b"\0" * 8 + build_whirlpool(POOL)[8:], "discriminator 0000000000000000"),
        (TICK_ARRAY_DISCRIMINATOR + build_whirlpool(POOL)[8:], "discriminator 4561bdbe6e0742bb"),
    ],
)
def test_wrong_size_or_discriminator_is_refused(raw, message):
    decode = decode_tick_array if len(raw) > 1000 else decode_whirlpool
    with pytest.raises(AccountDecodeError, match=message):
        decode(raw)


def test_a_tick_array_passed_as_a_whirlpool_is_refused():
    with pytest.raises(AccountDecodeError, match="Whirlpool account data is 9988 bytes"):
        decode_whirlpool(build_tick_array(0))
    with pytest.raises(AccountDecodeError, match="not base64"):
        decode_whirlpool_base64("not base64!")
    raw = bytearray(build_tick_array(0))
    raw[12] = 2
    with pytest.raises(AccountDecodeError, match="initialized flag 2"):
        decode_tick_array(bytes(raw))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tick_spacing": 0}, "tick spacing 0"),
        ({"sqrt_price": 0}, "sqrt price 0 is outside"),
        ({"sqrt_price": (1 << 128) - 1}, "is outside"),
        ({"tick_current_index": -19000}, "current tick -19000 is not that of its sqrt price"),
        ({"tick_current_index": -20002}, "current tick -20002 is not that of its sqrt price"),
    ],
)
def test_a_whirlpool_whose_fields_do_not_hold_together_is_refused(change, message):
    """Right size and discriminator, but a state the program never writes (another layout read as this one, a
    corrupt node): decoding it would quote nonsense or divide by zero further on."""
    with pytest.raises(AccountDecodeError, match=message):
        decode_whirlpool(build_whirlpool(dataclasses.replace(POOL, **change)))


def test_a_whirlpool_left_on_a_tick_by_a_downward_crossing_decodes():
    """A swap down that ends exactly on an initialized tick leaves the current tick one below the price's."""
    on_tick = dataclasses.replace(POOL, sqrt_price=sqrt_price_at_tick(-20000), tick_current_index=-20001)
    assert decode_whirlpool(build_whirlpool(on_tick)) == on_tick


# --- quoting the decoded pool -------------------------------------------------------------------


def test_price_is_adjusted_by_decimals_at_the_edge():
    # sqrt price 1/2 in Q64: 0.25 smallest-B per smallest-A; SOL (9) in USDC (6): 250 USDC per SOL.
    assert price_from_sqrt_price(Q64 // 2, 9, 6) == Decimal(250)
    assert price_from_sqrt_price(Q64, 6, 6) == Decimal(1)
    decoded = decode_whirlpool(build_whirlpool(POOL))
    assert abs(price(decoded, 9, 6) - Decimal("1.0001") ** -20000 * 1000) < Decimal("1e-6")


def _arrays():
    # Arrays of 88 * 64 ticks around tick -20000 with positions [-21120, -19200] and [-20480, -19456].
    span = 88 * 64
    starts = [-22528, -22528 + span, -22528 - span]
    wide, narrow = 4 * 10**11, 6 * 10**11  # POOL.liquidity = 10**12 = wide + narrow inside both
    nets = {-21120: wide, -20480: narrow, -19456: -narrow, -19200: -wide}
    arrays = []
    for start in starts:
        ticks = {(i - start) // 64: Tick(True, net, abs(net)) for i, net in nets.items() if start <= i < start + span}
        arrays.append(decode_tick_array(build_tick_array(start, ticks, whirlpool=PROGRAM)))
    return arrays


def test_initialized_ticks_are_gathered_in_order():
    assert initialized_ticks(POOL, _arrays()) == [
        (-21120, 4 * 10**11), (-20480, 6 * 10**11), (-19456, -6 * 10**11), (-19200, -4 * 10**11)
    ]


@pytest.mark.parametrize("a_to_b", [True, False])
def test_depth_for_a_size_in_both_directions(a_to_b):
    arrays = _arrays()
    size = 8 * 10**10 if a_to_b else 11 * 10**9
    bought = quote_exact_in(POOL, arrays, size, a_to_b)
    assert bought.amount_in == size and bought.ticks_crossed == 1 and bought.liquidity == 4 * 10**11
    cost = quote_exact_out(POOL, arrays, bought.amount_out, a_to_b)
    assert cost.amount_out == bought.amount_out and cost.amount_in <= size
    same = swap_quote(
        amount=size, amount_specified_is_input=True, a_to_b=a_to_b, sqrt_price=POOL.sqrt_price,
        tick=POOL.tick_current_index, liquidity=POOL.liquidity, fee_rate=3000,
        ticks=initialized_ticks(POOL, arrays), tick_spacing=64,
    )
    assert same == bought
    with pytest.raises(InsufficientLiquidity):
        quote_exact_out(POOL, arrays, 10**12, a_to_b)


def test_decoded_accounts_quote_as_orcas_sdk_does():
    # The fixture of Orca's rust-sdk/core/src/quote/swap.rs tests, as real account bytes: every
    # tick initialized, +1000 net below tick 0, -1000 from 0 up, tick spacing 2, liquidity 265_000.
    pool = decode_whirlpool(build_whirlpool(Whirlpool(
        tick_spacing=2, fee_rate=3000, liquidity=265_000, sqrt_price=Q64, tick_current_index=0
    )))
    arrays = [
        decode_tick_array(build_tick_array(start, {k: Tick(True, 1000 if start < 0 else -1000, 1000)
                                                   for k in range(88)}))
        for start in (-352, -176, 0, 176, 352)
    ]
    sell_a = quote_exact_in(pool, arrays, 1000, a_to_b=True)
    assert (sell_a.amount_in, sell_a.amount_out, sell_a.fee_amount) == (1000, 920, 38)
    sell_b = quote_exact_in(pool, arrays, 1000, a_to_b=False)
    assert (sell_b.amount_in, sell_b.amount_out, sell_b.fee_amount) == (1000, 918, 39)
    for a_to_b in (True, False):
        buy = quote_exact_out(pool, arrays, 1000, a_to_b=a_to_b)
        assert (buy.amount_in, buy.amount_out, buy.fee_amount) == (1088, 1000, 42)
