"""Token-2022 transfer fees: decoded from the mint, applied and reversed as spl-token-2022 and Orca's SDK do."""

from __future__ import annotations

import struct

import pytest

from arbotlib.amm.whirlpool.accounts import AccountDecodeError, build_mint, decode_mint_decimals
from arbotlib.amm.whirlpool.transfer_fee import (
    TransferFee,
    TransferFeeConfig,
    build_mint_with_transfer_fee,
    decode_transfer_fee_config,
    received_after,
    sent_for,
)

ONE_PERCENT = TransferFee(epoch=0, maximum_fee=10**12, basis_points=100)


@pytest.mark.parametrize("fee, amount, withheld", [
    (ONE_PERCENT, 10_000, 100),
    (ONE_PERCENT, 10_001, 101),  # rounded up
    (TransferFee(0, 10**12, 1), 1, 1),  # the smallest transfer pays a whole unit
    (TransferFee(0, 50, 100), 10_000, 50),  # capped at the maximum fee
    (TransferFee(0, 7, 10_000), 100, 7),
    (TransferFee(0, 10**12, 0), 10_000, 0),
])
def test_the_fee_withheld(fee, amount, withheld):
    assert fee.fee_on(amount) == withheld
    assert received_after(amount, (fee,)) == amount - withheld


@pytest.mark.parametrize("fee, received, sent", [
    (ONE_PERCENT, 9_900, 10_000),
    (TransferFee(0, 50, 100), 9_950, 10_000),  # the maximum fee reached: received plus the maximum
    (TransferFee(0, 7, 10_000), 93, 100),
    (TransferFee(0, 10**12, 0), 93, 93),
])
def test_the_amount_to_send_for_what_must_arrive(fee, received, sent):
    assert sent_for(received, (fee,)) == sent
    assert received_after(sent, (fee,)) >= received


def test_the_epochs_fee_and_a_scheduled_change():
    low, high = TransferFee(0, 10**12, 10), TransferFee(500, 10**12, 300)
    config = TransferFeeConfig(older=low, newer=high)
    assert config.fee_at(499) == low and config.fee_at(500) == high
    # before the newer fee's epoch, a quote assumes whichever withholds more: the epoch may turn before a re-read
    assert config.fees_from(499) == (low, high)
    assert received_after(10_000, config.fees_from(499)) == 10_000 - 300
    assert config.fees_from(500) == (high,)
    assert TransferFeeConfig(high, low).fees_from(500) == (low,)  # a lowered fee in force: the lower one only
    assert TransferFeeConfig(TransferFee(0, 0, 0), TransferFee(0, 0, 0)).fees_from(9) == ()


def test_a_mints_transfer_fee_config_decodes():
    older, newer = TransferFee(7, 5_000, 25), TransferFee(9, 10**9, 80)
    raw = build_mint_with_transfer_fee(6, older, newer)
    assert decode_mint_decimals(raw) == 6
    assert decode_transfer_fee_config(raw) == TransferFeeConfig(older, newer)
    assert decode_transfer_fee_config(build_mint(9)) is None  # an SPL Token mint: no extension at all


def test_other_extensions_are_skipped_and_a_mint_without_the_fee_has_none():
    base = build_mint(6).ljust(165, b"\0") + b"\1"
    other = struct.pack("<HH", 14, 64) + bytes(64)  # TransferHook
    fee = build_mint_with_transfer_fee(6, ONE_PERCENT)[166:]
    assert decode_transfer_fee_config(base + other) is None
    assert decode_transfer_fee_config(base + other + fee) == TransferFeeConfig(ONE_PERCENT, ONE_PERCENT)


@pytest.mark.parametrize("raw, error", [
    (build_mint(6) + bytes(10), "not a Token-2022 mint"),
    (build_mint(6).ljust(165, b"\0") + b"\2", "not a Token-2022 mint"),  # an account, not a mint
    (build_mint_with_transfer_fee(6, ONE_PERCENT)[:-3], "runs past"),
    (build_mint_with_transfer_fee(6, TransferFee(0, 1, 10_001)), "over 10000"),
])
def test_bad_mint_data_is_refused(raw, error):
    with pytest.raises(AccountDecodeError, match=error):
        decode_transfer_fee_config(raw)
