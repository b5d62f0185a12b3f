"""Decoding (and, for tests, building) Orca Whirlpool and TickArray accounts.

The layouts are the program's Anchor accounts as Orca publishes them: an 8-byte discriminator
(the first 8 bytes of ``sha256("account:<Name>")``), then the fields little-endian, packed.

* ``Whirlpool``, 653 bytes: config, bump, tick spacing, fee and protocol fee rates, liquidity,
  sqrt price, current tick, protocol fees owed, mints and vaults, fee growths, and three reward
  infos.
* ``TickArray`` (the fixed-size one), 9988 bytes: ``start_tick_index``, 88 ticks of 113 bytes
  (initialized, liquidity_net i128, liquidity_gross u128, fee growths outside a/b, three reward
  growths outside), and the whirlpool's address.
* ``DynamicTickArray``, 148 to 10004 bytes: ``start_tick_index``, the whirlpool's address, a u128
  bitmap of the initialized ticks, then per tick a 1-byte tag, followed by its 112 bytes of data
  when initialized (the account grows as ticks are initialized). It decodes to the same
  :class:`TickArray`.

Public keys are returned as base58 strings. Account data from ``getAccountInfo`` with
``encoding: "base64"`` is decoded by :func:`decode_whirlpool_base64` /
:func:`decode_tick_array_base64`. Bad input raises :class:`AccountDecodeError`, and so does a Whirlpool whose
tick spacing, sqrt price and current tick do not hold together (a state the program never writes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass, field

from arbotlib.amm.whirlpool.math import (
    MAX_SQRT_PRICE,
    MIN_SQRT_PRICE,
    TICK_ARRAY_SIZE,
    sqrt_price_at_tick,
    tick_at_sqrt_price,
)


class AccountDecodeError(ValueError):
    """Account data that is not the expected Whirlpool account."""


def discriminator(account_name: str) -> bytes:
    """Anchor's account discriminator: the first 8 bytes of ``sha256("account:<name>")``."""
    return hashlib.sha256(f"account:{account_name}".encode()).digest()[:8]


WHIRLPOOL_DISCRIMINATOR = discriminator("Whirlpool")
TICK_ARRAY_DISCRIMINATOR = discriminator("TickArray")
DYNAMIC_TICK_ARRAY_DISCRIMINATOR = discriminator("DynamicTickArray")

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(raw: bytes) -> str:
    """Base58 (Bitcoin alphabet), as Solana writes public keys."""
    number = int.from_bytes(raw, "big")
    digits = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(_B58_ALPHABET[digit])
    leading_zeros = len(raw) - len(raw.lstrip(b"\0"))
    return "1" * leading_zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    """The inverse of :func:`b58encode`, for 32-byte public keys."""
    number = 0
    for char in text:
        index = _B58_ALPHABET.find(char)
        if index < 0:
            raise AccountDecodeError(f"{text!r} is not base58")
        number = number * 58 + index
    leading_zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * leading_zeros + body


def _u128(raw: bytes, offset: int) -> int:
    return int.from_bytes(raw[offset : offset + 16], "little")


def _i128(raw: bytes, offset: int) -> int:
    return int.from_bytes(raw[offset : offset + 16], "little", signed=True)


def _key(raw: bytes, offset: int) -> str:
    return b58encode(raw[offset : offset + 32])


ZERO_KEY = b58encode(bytes(32))


@dataclass(frozen=True, slots=True)
class RewardInfo:
    mint: str = ZERO_KEY
    vault: str = ZERO_KEY
    authority: str = ZERO_KEY
    emissions_per_second_x64: int = 0
    growth_global_x64: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Whirlpool:
    """A decoded Whirlpool account (the pool's state)."""

    whirlpools_config: str = ZERO_KEY
    whirlpool_bump: int = 0
    tick_spacing: int
    tick_spacing_seed: bytes = b""
    """The pool's ``fee_tier_index_seed`` (u16 little-endian), one of its address's seeds: the tick spacing for a
    fixed-fee pool, the adaptive fee tier's index for an adaptive-fee one (:attr:`adaptive_fee`). Empty when built:
    the tick spacing's (a fixed-fee pool)."""
    fee_rate: int
    """Hundredths of a basis point (3000 = 0.3 %)."""
    protocol_fee_rate: int = 0
    """Basis points of the fee."""
    liquidity: int
    sqrt_price: int
    """Q64.64."""
    tick_current_index: int
    protocol_fee_owed_a: int = 0
    protocol_fee_owed_b: int = 0
    token_mint_a: str = ZERO_KEY
    token_vault_a: str = ZERO_KEY
    fee_growth_global_a: int = 0
    token_mint_b: str = ZERO_KEY
    token_vault_b: str = ZERO_KEY
    fee_growth_global_b: int = 0
    reward_last_updated_timestamp: int = 0
    reward_infos: tuple[RewardInfo, RewardInfo, RewardInfo] = field(
        default=(RewardInfo(), RewardInfo(), RewardInfo())
    )

    def __post_init__(self) -> None:
        if not self.tick_spacing_seed:
            object.__setattr__(self, "tick_spacing_seed", self.tick_spacing.to_bytes(2, "little"))

    @property
    def fee_tier_index(self) -> int:
        """The fee tier the pool was made with: its tick spacing, unless it has an adaptive fee."""
        return int.from_bytes(self.tick_spacing_seed, "little")

    @property
    def adaptive_fee(self) -> bool:
        """The pool was made with an adaptive fee tier (the program's ``is_initialized_with_adaptive_fee``): each
        swap pays ``fee_rate`` plus a variable fee that grows with the price's recent volatility (its Oracle
        account), so ``fee_rate`` is only the least it charges."""
        return self.fee_tier_index != self.tick_spacing


@dataclass(frozen=True, slots=True)
class Tick:
    """One tick slot of a TickArray."""

    initialized: bool = False
    liquidity_net: int = 0
    liquidity_gross: int = 0
    fee_growth_outside_a: int = 0
    fee_growth_outside_b: int = 0
    reward_growths_outside: tuple[int, int, int] = (0, 0, 0)


@dataclass(frozen=True, slots=True)
class TickArray:
    """A decoded TickArray account: 88 consecutive usable ticks from ``start_tick_index``."""

    start_tick_index: int
    ticks: tuple[Tick, ...]
    whirlpool: str = ZERO_KEY

    def initialized_ticks(self, tick_spacing: int) -> list[tuple[int, int]]:
        """``(tick_index, liquidity_net)`` of the initialized ticks, in order."""
        return [
            (self.start_tick_index + offset * tick_spacing, tick.liquidity_net)
            for offset, tick in enumerate(self.ticks)
            if tick.initialized
        ]


_WHIRLPOOL_HEAD = struct.Struct("<32sB H 2s H H")  # config, bump, spacing, seed, fee, protocol fee
_REWARD = struct.Struct("<32s32s32s16s16s")
WHIRLPOOL_SIZE = 653
_TICK_SIZE = 113
TICK_ARRAY_SIZE_BYTES = 8 + 4 + TICK_ARRAY_SIZE * _TICK_SIZE + 32


def _check(raw: bytes, size: int, expected: bytes, what: str) -> None:
    if len(raw) != size:
        raise AccountDecodeError(f"{what} account data is {len(raw)} bytes, expected {size}")
    if raw[:8] != expected:
        raise AccountDecodeError(f"{what} account has discriminator {raw[:8].hex()}, expected {expected.hex()}")


def _check_price(tick_spacing: int, sqrt_price: int, tick_current_index: int) -> None:
    """Refuse a state the program never writes: data of another layout with this size and discriminator, or a
    corrupt node's, would otherwise be quoted (or divide by a zero tick spacing further on)."""
    if tick_spacing < 1:
        raise AccountDecodeError(f"Whirlpool account has tick spacing {tick_spacing}; the program's is at least 1")
    if not MIN_SQRT_PRICE <= sqrt_price <= MAX_SQRT_PRICE:
        raise AccountDecodeError(
            f"Whirlpool account sqrt price {sqrt_price} is outside [{MIN_SQRT_PRICE}, {MAX_SQRT_PRICE}]")
    tick = tick_at_sqrt_price(sqrt_price)
    # a swap down that stops exactly on a tick it crossed leaves the current tick one below the price's
    if tick_current_index != tick and not (tick_current_index == tick - 1 and sqrt_price_at_tick(tick) == sqrt_price):
        raise AccountDecodeError(
            f"Whirlpool account current tick {tick_current_index} is not that of its sqrt price {sqrt_price} "
            f"(tick {tick})")


def decode_whirlpool(raw: bytes) -> Whirlpool:
    """Decode a Whirlpool account's data."""
    _check(raw, WHIRLPOOL_SIZE, WHIRLPOOL_DISCRIMINATOR, "Whirlpool")
    config, bump, spacing, seed, fee_rate, protocol_fee_rate = _WHIRLPOOL_HEAD.unpack_from(raw, 8)
    o = 8 + _WHIRLPOOL_HEAD.size  # 49
    liquidity, sqrt_price = _u128(raw, o), _u128(raw, o + 16)
    (tick_current_index, fee_owed_a, fee_owed_b) = struct.unpack_from("<iQQ", raw, o + 32)
    o += 52
    mint_a, vault_a, growth_a = _key(raw, o), _key(raw, o + 32), _u128(raw, o + 64)
    o += 80
    mint_b, vault_b, growth_b = _key(raw, o), _key(raw, o + 32), _u128(raw, o + 64)
    o += 80
    (reward_timestamp,) = struct.unpack_from("<Q", raw, o)
    o += 8
    _check_price(spacing, sqrt_price, tick_current_index)
    def reward(i: int) -> RewardInfo:
        mint, vault, authority, emissions, growth = _REWARD.unpack_from(raw, o + i * _REWARD.size)
        return RewardInfo(b58encode(mint), b58encode(vault), b58encode(authority),
                          int.from_bytes(emissions, "little"), int.from_bytes(growth, "little"))

    return Whirlpool(
        whirlpools_config=b58encode(config), whirlpool_bump=bump, tick_spacing=spacing,
        tick_spacing_seed=seed, fee_rate=fee_rate, protocol_fee_rate=protocol_fee_rate,
        liquidity=liquidity, sqrt_price=sqrt_price, tick_current_index=tick_current_index,
        protocol_fee_owed_a=fee_owed_a, protocol_fee_owed_b=fee_owed_b,
        token_mint_a=mint_a, token_vault_a=vault_a, fee_growth_global_a=growth_a,
        token_mint_b=mint_b, token_vault_b=vault_b, fee_growth_global_b=growth_b,
        reward_last_updated_timestamp=reward_timestamp, reward_infos=(reward(0), reward(1), reward(2)),
    )


_DYNAMIC_HEAD = 8 + 4 + 32 + 16  # discriminator, start tick, whirlpool, bitmap of the initialized ticks
DYNAMIC_TICK_ARRAY_MIN_BYTES = _DYNAMIC_HEAD + TICK_ARRAY_SIZE
DYNAMIC_TICK_ARRAY_MAX_BYTES = _DYNAMIC_HEAD + TICK_ARRAY_SIZE * _TICK_SIZE


def _tick_at(raw: bytes, o: int) -> Tick:
    """The tick data (liquidity_net, liquidity_gross, fee and reward growths) at ``o``, 112 bytes, initialized."""
    return Tick(initialized=True, liquidity_net=_i128(raw, o), liquidity_gross=_u128(raw, o + 16),
                fee_growth_outside_a=_u128(raw, o + 32), fee_growth_outside_b=_u128(raw, o + 48),
                reward_growths_outside=(_u128(raw, o + 64), _u128(raw, o + 80), _u128(raw, o + 96)))


def _decode_dynamic_tick_array(raw: bytes) -> TickArray:
    """A DynamicTickArray: its header, then per tick a 1-byte tag (0: not initialized, 1: initialized) followed,
    when initialized, by the tick's 112 bytes; the account is exactly as long as its ticks."""
    if not DYNAMIC_TICK_ARRAY_MIN_BYTES <= len(raw) <= DYNAMIC_TICK_ARRAY_MAX_BYTES:
        raise AccountDecodeError(f"DynamicTickArray account data is {len(raw)} bytes, expected "
                                 f"{DYNAMIC_TICK_ARRAY_MIN_BYTES} to {DYNAMIC_TICK_ARRAY_MAX_BYTES}")
    (start,) = struct.unpack_from("<i", raw, 8)
    bitmap = _u128(raw, 44)
    ticks = []
    o = _DYNAMIC_HEAD
    for index in range(TICK_ARRAY_SIZE):
        if o >= len(raw):
            raise AccountDecodeError(f"DynamicTickArray account data ends before tick {index}")
        tag = raw[o]
        if tag == 0:
            ticks.append(Tick())
            o += 1
        elif tag == 1:
            if o + _TICK_SIZE > len(raw):
                raise AccountDecodeError(f"DynamicTickArray account data ends inside tick {index}")
            ticks.append(_tick_at(raw, o + 1))
            o += _TICK_SIZE
        else:
            raise AccountDecodeError(f"DynamicTickArray tick {index} has tag {tag}, expected 0 or 1")
    if o != len(raw):
        extra = len(raw) - o
        raise AccountDecodeError(f"DynamicTickArray account data has {extra} byte{'s' * (extra != 1)} past its ticks")
    if bitmap != sum(1 << index for index, tick in enumerate(ticks) if tick.initialized):
        raise AccountDecodeError(f"DynamicTickArray bitmap {bitmap:#x} does not match its initialized ticks")
    return TickArray(start, tuple(ticks), _key(raw, 12))


def decode_tick_array(raw: bytes) -> TickArray:
    """Decode a TickArray account's data: the fixed-size layout, or the program's variable-size DynamicTickArray
    (the same 88 ticks, only the initialized ones stored in full)."""
    if raw[:8] == DYNAMIC_TICK_ARRAY_DISCRIMINATOR:
        return _decode_dynamic_tick_array(raw)
    _check(raw, TICK_ARRAY_SIZE_BYTES, TICK_ARRAY_DISCRIMINATOR, "TickArray")
    (start,) = struct.unpack_from("<i", raw, 8)
    ticks = []
    o = 12
    for _ in range(TICK_ARRAY_SIZE):
        flag = raw[o]
        if flag > 1:
            raise AccountDecodeError(f"TickArray tick at byte {o} has initialized flag {flag}")
        ticks.append(
            Tick(
                initialized=bool(flag), liquidity_net=_i128(raw, o + 1), liquidity_gross=_u128(raw, o + 17),
                fee_growth_outside_a=_u128(raw, o + 33), fee_growth_outside_b=_u128(raw, o + 49),
                reward_growths_outside=(_u128(raw, o + 65), _u128(raw, o + 81), _u128(raw, o + 97)),
            )
        )
        o += _TICK_SIZE
    return TickArray(start, tuple(ticks), _key(raw, o))


def _from_base64(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AccountDecodeError(f"account data is not base64: {exc}") from None


def decode_whirlpool_base64(data: str) -> Whirlpool:
    """Decode a Whirlpool account from the base64 data ``getAccountInfo`` returns."""
    return decode_whirlpool(_from_base64(data))


def decode_tick_array_base64(data: str) -> TickArray:
    """Decode a TickArray account from the base64 data ``getAccountInfo`` returns."""
    return decode_tick_array(_from_base64(data))


# --- builders, for tests and fakes ----------------------------------------------------------------


def _u128_bytes(value: int) -> bytes:
    return value.to_bytes(16, "little")


def build_whirlpool(pool: Whirlpool) -> bytes:
    """The account bytes that :func:`decode_whirlpool` turns back into ``pool``."""
    parts = [
        WHIRLPOOL_DISCRIMINATOR,
        _WHIRLPOOL_HEAD.pack(
            b58decode(pool.whirlpools_config), pool.whirlpool_bump, pool.tick_spacing,
            pool.tick_spacing_seed, pool.fee_rate, pool.protocol_fee_rate,
        ),
        _u128_bytes(pool.liquidity), _u128_bytes(pool.sqrt_price),
        struct.pack("<iQQ", pool.tick_current_index, pool.protocol_fee_owed_a, pool.protocol_fee_owed_b),
        b58decode(pool.token_mint_a), b58decode(pool.token_vault_a), _u128_bytes(pool.fee_growth_global_a),
        b58decode(pool.token_mint_b), b58decode(pool.token_vault_b), _u128_bytes(pool.fee_growth_global_b),
        struct.pack("<Q", pool.reward_last_updated_timestamp),
    ]
    for reward in pool.reward_infos:
        parts += [
            b58decode(reward.mint), b58decode(reward.vault), b58decode(reward.authority),
            _u128_bytes(reward.emissions_per_second_x64), _u128_bytes(reward.growth_global_x64),
        ]
    raw = b"".join(parts)
    assert len(raw) == WHIRLPOOL_SIZE, len(raw)
    return raw


def build_tick_array(start_tick_index: int, ticks: dict[int, Tick] | None = None, whirlpool: str = ZERO_KEY) -> bytes:
    """TickArray account bytes; ``ticks`` maps an offset (0..87) to its tick, the rest are empty."""
    ticks = ticks or {}
    parts = [TICK_ARRAY_DISCRIMINATOR, struct.pack("<i", start_tick_index)]
    for offset in range(TICK_ARRAY_SIZE):
        tick = ticks.get(offset, Tick())
        parts += [
            bytes([tick.initialized]),
            tick.liquidity_net.to_bytes(16, "little", signed=True),
            _u128_bytes(tick.liquidity_gross), _u128_bytes(tick.fee_growth_outside_a),
            _u128_bytes(tick.fee_growth_outside_b), *map(_u128_bytes, tick.reward_growths_outside),
        ]
    parts.append(b58decode(whirlpool))
    raw = b"".join(parts)
    assert len(raw) == TICK_ARRAY_SIZE_BYTES, len(raw)
    return raw


def build_dynamic_tick_array(start_tick_index: int, ticks: dict[int, Tick] | None = None,
                             whirlpool: str = ZERO_KEY) -> bytes:
    """DynamicTickArray account bytes (the variable-size layout) holding the initialized ``ticks`` (offset -> tick)."""
    ticks = {offset: tick for offset, tick in (ticks or {}).items() if tick.initialized}
    parts = [DYNAMIC_TICK_ARRAY_DISCRIMINATOR, struct.pack("<i", start_tick_index), b58decode(whirlpool),
             _u128_bytes(sum(1 << offset for offset in ticks))]
    for offset in range(TICK_ARRAY_SIZE):
        tick = ticks.get(offset)
        if tick is None:
            parts.append(b"\0")
            continue
        parts += [b"\1", tick.liquidity_net.to_bytes(16, "little", signed=True), _u128_bytes(tick.liquidity_gross),
                  _u128_bytes(tick.fee_growth_outside_a), _u128_bytes(tick.fee_growth_outside_b),
                  *map(_u128_bytes, tick.reward_growths_outside)]
    return b"".join(parts)


# --- addresses and mints --------------------------------------------------------------------------

WHIRLPOOL_PROGRAM_ID = "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc"
"""Orca's Whirlpool program on mainnet-beta (and devnet)."""

MINT_SIZE = 82
"""An SPL Token mint account's size (Token-2022 mints with extensions are longer, same head)."""


def tick_array_start_index(tick: int, tick_spacing: int) -> int:
    """Start tick of the TickArray holding ``tick``: arrays cover ``88 * tick_spacing`` ticks each."""
    span = TICK_ARRAY_SIZE * tick_spacing
    return tick // span * span  # floor division: negative ticks round down, as Orca's program does


def tick_array_address(whirlpool: str, start_tick_index: int, program_id: str = WHIRLPOOL_PROGRAM_ID) -> str:
    """The TickArray PDA: seeds ``[b"tick_array", whirlpool, str(start_tick_index)]`` under the program."""
    from solders.pubkey import Pubkey

    address, _bump = Pubkey.find_program_address(
        [b"tick_array", bytes(Pubkey.from_string(whirlpool)), str(start_tick_index).encode()],
        Pubkey.from_string(program_id),
    )
    return str(address)


def decode_mint_decimals(raw: bytes) -> int:
    """The ``decimals`` of an SPL Token (or Token-2022) mint account's data."""
    if len(raw) < MINT_SIZE:
        raise AccountDecodeError(f"mint account data is {len(raw)} bytes, expected at least {MINT_SIZE}")
    if raw[45] != 1:
        raise AccountDecodeError("mint account is not initialized")
    return raw[44]  # after mint_authority (COption<Pubkey>, 36 bytes) and supply (u64)


def build_mint(decimals: int, supply: int = 0) -> bytes:
    """Mint account bytes with no authorities (for tests and fakes)."""
    return bytes(36) + struct.pack("<QB?", supply, decimals, True) + bytes(36)
