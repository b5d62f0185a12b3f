"""A Whirlpool as a :class:`bot.pool.Pool`: exact concentrated-liquidity quotes for strategies.

Built once per pool state (an account update): the initialized ticks of the known tick arrays
are sorted here and their indexes made and checked once, so each quote is only the swap maths of
:func:`arbotlib.amm.whirlpool.math.swap_quote`; the state after a quote shares them.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from decimal import Decimal

from bot.api.kit import Pool, PoolLiquidityError

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
    tick_indexes: tuple[int, ...] | None = field(default=None, compare=False, repr=False)
    """The tick indexes of ``ticks``, made and checked once per pool state (quotes and the states
    after them reuse them); None when ``ticks`` is not strictly increasing (a quote then says so)."""

    def __post_init__(self) -> None:
        if self.tick_indexes is None:
            indexes = tuple(map(operator.itemgetter(0), self.ticks))
            if all(map(operator.lt, indexes, indexes[1:])):
                object.__setattr__(self, "tick_indexes", indexes)

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
                           fee_rate=self.fee_rate, ticks=self.ticks, tick_spacing=self.tick_spacing,
                           tick_indexes=self.tick_indexes)
        except OrcaMathError as exc:
            raise PoolLiquidityError(f"{self.symbol}: {exc}") from None
        if q.amount_unfilled:
            raise PoolLiquidityError(f"{self.symbol}: the pool can take only {amount - q.amount_unfilled} "
                                     f"of the {amount} units")
        return q, self._moved(q.sqrt_price, q.tick, q.liquidity)

    def at(self, sqrt_price: int, tick: int, liquidity: int) -> WhirlpoolModel:
        """This pool at another price (the state after someone's swap), its ticks unchanged."""
        return self._moved(sqrt_price, tick, liquidity)

    def _moved(self, sqrt_price: int, tick: int, liquidity: int) -> WhirlpoolModel:
        """This pool at another price: ``WhirlpoolModel(...)`` with every other field the same,
        without the frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field, a fifth
        of a one-step quote): the slots are copied directly."""
        after = _new(WhirlpoolModel)
        _set_sqrt_price(after, sqrt_price)
        _set_tick(after, tick)
        _set_liquidity(after, liquidity)
        for get, put in _COPIED:
            put(after, get(self))
        return after

    def sell_units(self, base_units: int) -> tuple[int, int, Pool]:
        q, after = self._swap(base_units, True, a_to_b=self.base_is_a)
        return q.amount_out, q.fee_amount, after

    def buy_units(self, base_units: int) -> tuple[int, int, Pool]:
        q, after = self._swap(base_units, False, a_to_b=not self.base_is_a)
        return q.amount_in, q.fee_amount, after


_new = object.__new__
_set_sqrt_price, _set_tick, _set_liquidity = (WhirlpoolModel.__dict__[name].__set__
                                              for name in ("sqrt_price", "tick", "liquidity"))
_COPIED = tuple((WhirlpoolModel.__dict__[f.name].__get__, WhirlpoolModel.__dict__[f.name].__set__)
                for f in fields(WhirlpoolModel) if f.name not in ("sqrt_price", "tick", "liquidity"))
"""(read, write) of every other slot, for :meth:`WhirlpoolModel._moved`."""
