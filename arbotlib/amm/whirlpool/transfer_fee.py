"""Token-2022 transfer fees: what a mint's ``TransferFeeConfig`` withholds from a swap's input and output.

A Token-2022 mint may carry a ``TransferFeeConfig`` extension: every transfer of the token withholds
``ceil(amount * basis_points / 10_000)``, at most ``maximum_fee``, from what the recipient gets. A Whirlpool swap
makes two transfers, so both are charged: the trader's input reaches the pool less the input mint's fee (the pool
swaps what arrives), and the pool's output reaches the trader less the output mint's fee. Orca's SDK quotes so
(``try_apply_transfer_fee`` on the input, then on the output; ``try_reverse_apply_transfer_fee`` for an exact
output); the functions here do the same, in integers.

The extension holds two configs: ``older`` and ``newer``; the fee charged at an epoch is ``newer`` from its
``epoch`` on, ``older`` before (a change is scheduled two epochs ahead). :meth:`TransferFeeConfig.fees_from`
gives the fees a quote must assume from a known epoch on (see there).

Mint layout (spl-token-2022): the 82-byte mint, zero padding to 165 bytes (a token account's size), one account
type byte (1: a mint), then type-length-value extensions (``u16`` type, ``u16`` length, the value); type 1 is
``TransferFeeConfig``, 108 bytes: two 32-byte authorities, the withheld amount (``u64``), then ``older`` and
``newer``, each ``epoch`` (``u64``), ``maximum_fee`` (``u64``), ``transfer_fee_basis_points`` (``u16``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from arbotlib.amm.whirlpool.accounts import MINT_SIZE, AccountDecodeError, build_mint

BPS_DENOMINATOR = 10_000
TOKEN_ACCOUNT_SIZE = 165
"""Where a Token-2022 mint's extensions start (after its account type byte): the mint is padded to this size."""
MINT_ACCOUNT_TYPE = 1
TRANSFER_FEE_CONFIG = 1
"""``ExtensionType::TransferFeeConfig``."""
_FEE = struct.Struct("<QQH")
TRANSFER_FEE_CONFIG_SIZE = 32 + 32 + 8 + 2 * _FEE.size


@dataclass(frozen=True, slots=True)
class TransferFee:
    """One transfer fee config: ``basis_points`` of the amount (rounded up), at most ``maximum_fee`` units."""

    epoch: int
    maximum_fee: int
    basis_points: int

    def fee_on(self, amount: int) -> int:
        """What a transfer of ``amount`` withholds (spl-token-2022 ``calculate_fee``)."""
        if self.basis_points == 0 or amount <= 0:
            return 0
        return min(-(-amount * self.basis_points // BPS_DENOMINATOR), self.maximum_fee)

    def sent_for(self, received: int) -> int:
        """The least amount whose transfer delivers ``received`` (Orca's ``try_reverse_apply_transfer_fee``)."""
        if self.basis_points == 0 or received <= 0:
            return max(received, 0)
        if self.basis_points >= BPS_DENOMINATOR:
            return received + self.maximum_fee
        pre = -(-received * BPS_DENOMINATOR // (BPS_DENOMINATOR - self.basis_points))
        return received + self.maximum_fee if pre - received >= self.maximum_fee else pre


@dataclass(frozen=True, slots=True)
class TransferFeeConfig:
    """A mint's ``TransferFeeConfig``: the fee before ``newer.epoch`` (``older``) and from it on (``newer``)."""

    older: TransferFee
    newer: TransferFee

    def fee_at(self, epoch: int) -> TransferFee:
        """The fee charged during ``epoch`` (spl-token-2022 ``get_epoch_fee``)."""
        return self.newer if epoch >= self.newer.epoch else self.older

    def fees_from(self, epoch: int) -> tuple[TransferFee, ...]:
        """The fees a quote must assume from ``epoch`` on, until the mint is read again: the one charged now, and
        also ``newer`` when its epoch is still ahead (the epoch may turn before the next read; a quote then assumes,
        for each amount, whichever of the two withholds more: :func:`received_after`, :func:`sent_for`). None that
        charges nothing."""
        fees = (self.newer,) if epoch >= self.newer.epoch else (self.older, self.newer)
        return tuple(dict.fromkeys(fee for fee in fees if fee.basis_points and fee.maximum_fee))


def received_after(amount: int, fees: Sequence[TransferFee]) -> int:
    """What a transfer of ``amount`` delivers under the worst of ``fees`` (none: all of it)."""
    return amount - max((fee.fee_on(amount) for fee in fees), default=0)


def sent_for(received: int, fees: Sequence[TransferFee]) -> int:
    """The amount a transfer must send to deliver ``received`` under the worst of ``fees`` (none: ``received``)."""
    return max((fee.sent_for(received) for fee in fees), default=received)


def decode_transfer_fee_config(raw: bytes) -> TransferFeeConfig | None:
    """The ``TransferFeeConfig`` of a mint account's data; None for a mint without one (any SPL Token mint)."""
    if len(raw) < MINT_SIZE:
        raise AccountDecodeError(f"mint account data is {len(raw)} bytes, expected at least {MINT_SIZE}")
    if len(raw) == MINT_SIZE:
        return None
    if len(raw) <= TOKEN_ACCOUNT_SIZE or raw[TOKEN_ACCOUNT_SIZE] != MINT_ACCOUNT_TYPE:
        raise AccountDecodeError(f"mint account data is {len(raw)} bytes but not a Token-2022 mint with extensions")
    o = TOKEN_ACCOUNT_SIZE + 1
    while o + 4 <= len(raw):
        kind, length = struct.unpack_from("<HH", raw, o)
        if kind == 0:  # ExtensionType::Uninitialized: the rest is unused space
            break
        value = raw[o + 4 : o + 4 + length]
        if len(value) != length:
            raise AccountDecodeError(f"mint extension {kind} at byte {o} runs past the account's end")
        if kind == TRANSFER_FEE_CONFIG:
            if length != TRANSFER_FEE_CONFIG_SIZE:
                raise AccountDecodeError(
                    f"mint TransferFeeConfig is {length} bytes, expected {TRANSFER_FEE_CONFIG_SIZE}")
            older = TransferFee(*_FEE.unpack_from(value, 72))
            newer = TransferFee(*_FEE.unpack_from(value, 72 + _FEE.size))
            for fee in (older, newer):
                if fee.basis_points > BPS_DENOMINATOR:
                    raise AccountDecodeError(f"mint transfer fee of {fee.basis_points} basis points is over 10000")
            return TransferFeeConfig(older, newer)
        o += 4 + length
    return None


def build_mint_with_transfer_fee(decimals: int, older: TransferFee, newer: TransferFee | None = None) -> bytes:
    """Token-2022 mint account bytes with a ``TransferFeeConfig`` (for tests and fakes); ``newer`` defaults to
    ``older``."""
    newer = older if newer is None else newer
    value = bytes(32 + 32 + 8) + b"".join(_FEE.pack(f.epoch, f.maximum_fee, f.basis_points) for f in (older, newer))
    tlv = struct.pack("<HH", TRANSFER_FEE_CONFIG, len(value)) + value
    return build_mint(decimals).ljust(TOKEN_ACCOUNT_SIZE, b"\0") + bytes([MINT_ACCOUNT_TYPE]) + tlv
