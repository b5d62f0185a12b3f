"""Constant-product (x * y = k) pool quotes, in integers, as Uniswap v2 and Raydium-style AMMs.

Amounts and reserves are integers in the tokens' smallest units and the fee is in basis points
of the input (``fee_bps=30`` is 0.3 %). The fee stays in the pool. Rounding always favours the
pool: an exact-input quote rounds the output down, an exact-output quote rounds the input up, so
``k`` never decreases and a quote never pays out the whole reserve.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

BPS = 10_000


class PoolQuoteError(ValueError):
    """A quote the pool cannot give (empty pool, bad amount, output beyond the reserve)."""


def _div_ceil(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _check(reserve_in: int, reserve_out: int, fee_bps: int, amount: int, what: str) -> None:
    if reserve_in <= 0 or reserve_out <= 0:
        raise PoolQuoteError(f"pool reserves must be positive, not {reserve_in} and {reserve_out}")
    if not 0 <= fee_bps < BPS:
        raise PoolQuoteError(f"fee_bps {fee_bps} is outside [0, {BPS})")
    if amount < 0:
        raise PoolQuoteError(f"{what} must not be negative, not {amount}")


def amount_out_for_exact_in(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int) -> int:
    """Output for paying ``amount_in`` (fee included), rounded down; always < ``reserve_out``."""
    _check(reserve_in, reserve_out, fee_bps, amount_in, "amount_in")
    in_after_fee = amount_in * (BPS - fee_bps)
    return in_after_fee * reserve_out // (reserve_in * BPS + in_after_fee)


def amount_in_for_exact_out(amount_out: int, reserve_in: int, reserve_out: int, fee_bps: int) -> int:
    """Input (fee included) needed to receive ``amount_out``, rounded up.

    Raises :class:`PoolQuoteError` if ``amount_out`` is not below ``reserve_out``.
    """
    _check(reserve_in, reserve_out, fee_bps, amount_out, "amount_out")
    if amount_out >= reserve_out:
        raise PoolQuoteError(f"cannot take {amount_out} out of a reserve of {reserve_out}")
    if amount_out == 0:
        return 0
    return _div_ceil(reserve_in * amount_out * BPS, (reserve_out - amount_out) * (BPS - fee_bps))


@dataclass(frozen=True, slots=True)
class CpQuote:
    """One quoted swap against a :class:`ConstantProductPool`."""

    amount_in: int
    """Paid by the trader, fee included."""
    amount_out: int
    fee_amount: int
    """Part of ``amount_in`` that is fee (rounded up), for reporting; it stays in the pool."""
    pool_after: ConstantProductPool


@dataclass(frozen=True, slots=True)
class ConstantProductPool:
    """Reserves of token A and token B and the fee, in basis points of the input."""

    reserve_a: int
    reserve_b: int
    fee_bps: int

    def _reserves(self, a_to_b: bool) -> tuple[int, int]:
        return (self.reserve_a, self.reserve_b) if a_to_b else (self.reserve_b, self.reserve_a)

    def _after(self, a_to_b: bool, amount_in: int, amount_out: int) -> ConstantProductPool:
        if a_to_b:
            return ConstantProductPool(self.reserve_a + amount_in, self.reserve_b - amount_out, self.fee_bps)
        return ConstantProductPool(self.reserve_a - amount_out, self.reserve_b + amount_in, self.fee_bps)

    def quote_exact_in(self, amount_in: int, a_to_b: bool) -> CpQuote:
        """Swap exactly ``amount_in`` of A (``a_to_b``) or B for as much of the other as possible."""
        reserve_in, reserve_out = self._reserves(a_to_b)
        amount_out = amount_out_for_exact_in(amount_in, reserve_in, reserve_out, self.fee_bps)
        fee = _div_ceil(amount_in * self.fee_bps, BPS)
        return CpQuote(amount_in, amount_out, fee, self._after(a_to_b, amount_in, amount_out))

    def quote_exact_out(self, amount_out: int, a_to_b: bool) -> CpQuote:
        """Receive exactly ``amount_out`` of B (``a_to_b``) or A for as little as possible."""
        reserve_in, reserve_out = self._reserves(a_to_b)
        amount_in = amount_in_for_exact_out(amount_out, reserve_in, reserve_out, self.fee_bps)
        fee = _div_ceil(amount_in * self.fee_bps, BPS)
        return CpQuote(amount_in, amount_out, fee, self._after(a_to_b, amount_in, amount_out))

    def price(self, decimals_a: int = 0, decimals_b: int = 0) -> Decimal:
        """Marginal price of one whole token A in whole tokens B, before fees."""
        if self.reserve_a <= 0:
            raise PoolQuoteError("the pool has no token A")
        with localcontext() as ctx:
            ctx.prec = 40
            return +(Decimal(self.reserve_b) / Decimal(self.reserve_a)).scaleb(decimals_a - decimals_b)
