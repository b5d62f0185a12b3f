"""A Whirlpool as a :class:`bot.pool.Pool`: exact concentrated-liquidity quotes for strategies.

Built once per pool state (an account update): the initialized ticks of the known tick arrays
are sorted here, so each quote is only the swap maths of :func:`plugins.orca.math.swap_quote`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from bot.pool import Pool, PoolLiquidityError

from .accounts import TickArray, Whirlpool
from .math import OrcaMathError, swap_quote
from .pool import initialized_ticks, price_from_sqrt_price


@dataclass(frozen=True, slots=True)
class WhirlpoolModel(Pool):
    """One Whirlpool state quoted for ``base``/``quote``; ``base_is_a`` when the base is the pool's token A."""

    sqrt_price: int
    tick: int
    liquidity: int
    fee_rate: int
    """Hundredths of a basis point."""
    tick_spacing: int
    ticks: tuple[tuple[int, int], ...]
    """Sorted ``(tick_index, liquidity_net)`` of the initialized ticks known."""
    base: str
    quote: str
    base_decimals: int
    quote_decimals: int
    base_is_a: bool = True

    @classmethod
    def of(cls, pool: Whirlpool, tick_arrays: Iterable[TickArray], *, base: str, quote: str,
           base_decimals: int, quote_decimals: int, base_is_a: bool = True) -> WhirlpoolModel:
        return cls(pool.sqrt_price, pool.tick_current_index, pool.liquidity, pool.fee_rate, pool.tick_spacing,
                   tuple(initialized_ticks(pool, tick_arrays)), base, quote, base_decimals, quote_decimals,
                   base_is_a)

    def mid(self) -> Decimal:
        if self.base_is_a:
            return price_from_sqrt_price(self.sqrt_price, self.base_decimals, self.quote_decimals)
        return 1 / price_from_sqrt_price(self.sqrt_price, self.quote_decimals, self.base_decimals)

    @property
    def fee_bps(self) -> Decimal:
        return Decimal(self.fee_rate) / 100

    def _swap(self, amount: int, is_input: bool, a_to_b: bool):
        try:
            q = swap_quote(amount=amount, amount_specified_is_input=is_input, a_to_b=a_to_b,
                           sqrt_price=self.sqrt_price, tick=self.tick, liquidity=self.liquidity,
                           fee_rate=self.fee_rate, ticks=self.ticks, tick_spacing=self.tick_spacing)
        except OrcaMathError as exc:
            raise PoolLiquidityError(f"{self.symbol}: {exc}") from None
        if q.amount_unfilled:
            raise PoolLiquidityError(f"{self.symbol}: the pool can take only {amount - q.amount_unfilled} "
                                     f"of the {amount} units")
        after = WhirlpoolModel(q.sqrt_price, q.tick, q.liquidity, self.fee_rate, self.tick_spacing, self.ticks,
                               self.base, self.quote, self.base_decimals, self.quote_decimals, self.base_is_a)
        return q, after

    def sell_units(self, base_units: int) -> tuple[int, int, Pool]:
        q, after = self._swap(base_units, True, a_to_b=self.base_is_a)
        return q.amount_out, q.fee_amount, after

    def buy_units(self, base_units: int) -> tuple[int, int, Pool]:
        q, after = self._swap(base_units, False, a_to_b=not self.base_is_a)
        return q.amount_in, q.fee_amount, after
