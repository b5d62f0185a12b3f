"""A constant-product pool as a :class:`bot.pool.Pool`: exact x*y=k quotes for strategies."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.api.kit import Pool, PoolLiquidityError

from .constant_product import ConstantProductPool, PoolQuoteError


@dataclass(frozen=True, slots=True)
class ConstantProductModel(Pool):
    """``pool`` quoted for ``base``/``quote``; ``base_is_a`` says which of the pool's tokens is the base."""

    pool: ConstantProductPool
    base: str
    quote: str
    base_decimals: int
    quote_decimals: int
    base_is_a: bool = True

    def mid(self) -> Decimal:
        p = self.pool
        base_reserve, quote_reserve = (p.reserve_a, p.reserve_b) if self.base_is_a else (p.reserve_b, p.reserve_a)
        if base_reserve <= 0 or quote_reserve <= 0:
            raise PoolLiquidityError(f"the {self.symbol} pool is empty")
        return (Decimal(quote_reserve) / Decimal(base_reserve)).scaleb(self.base_decimals - self.quote_decimals)

    @property
    def fee_bps(self) -> Decimal:
        return Decimal(self.pool.fee_bps)

    def _with(self, pool: ConstantProductPool) -> ConstantProductModel:
        return ConstantProductModel(pool, self.base, self.quote, self.base_decimals, self.quote_decimals,
                                    self.base_is_a)

    def sell_units(self, base_units: int) -> tuple[int, int, Pool]:
        try:
            q = self.pool.quote_exact_in(base_units, a_to_b=self.base_is_a)
        except PoolQuoteError as exc:
            raise PoolLiquidityError(f"{self.symbol}: {exc}") from None
        return q.amount_out, q.fee_amount, self._with(q.pool_after)

    def buy_units(self, base_units: int) -> tuple[int, int, Pool]:
        try:
            q = self.pool.quote_exact_out(base_units, a_to_b=not self.base_is_a)
        except PoolQuoteError as exc:
            raise PoolLiquidityError(f"{self.symbol}: {exc}") from None
        return q.amount_in, q.fee_amount, self._with(q.pool_after)
