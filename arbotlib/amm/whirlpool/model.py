"""A Whirlpool as a :class:`bot.pool.Pool`: exact concentrated-liquidity quotes for strategies.

A quote is what one swap instruction gives: at most ``arrays_per_swap`` tick arrays crossed (the program's three for
a state built from the chain, :meth:`WhirlpoolModel.of`), the mints' Token-2022 transfer fees withheld from what
reaches the pool and from what reaches us, and only for a fixed-fee pool (an adaptive-fee one is refused).

Built once per pool state (an account update): the initialized ticks of the known tick arrays
are sorted here and their indexes made and checked once; the state after a quote shares them.

A quote that stays inside the state's current range (most of them: no tick reached) is the closed
form of :func:`arbotlib.amm.whirlpool.math.range_quoter`, made on the state's first quote of that
kind (sale or purchase of the base); every other quote is
:func:`arbotlib.amm.whirlpool.math.swap_quote`, step by step. Both give the same numbers, to the unit.

A state costs only what is read of it: the state after an in-range quote holds its sqrt price and
the state it was quoted on, and takes the other fields from it (its tick is the tick of its sqrt
price) when first read; a state moved inside its range (:meth:`WhirlpoolModel.at_in_range`, the
paper DEX's other traders) works out its tick when first read, and takes along the
:meth:`~WhirlpoolModel.range_ends` of the state it moved from when its price shares their stops, so
its range quoters are made without its tick; a state's mid, range ends and range quoters are
made once, when first needed, and kept in the instance's ``__dict__`` (:class:`bot.pool.Pool` has
no ``__slots__``; the keys start with an underscore, so they hide none of the class's names), not in
fields (so are the paper DEX's move facts, ``_move_facts``). Reads, equality, hashing,
``dataclasses.fields``, copies and JSON see an ordinary frozen dataclass. The states after quotes and
moves are written slot by slot on a private writable twin of the class (``_Unfrozen``), then given
the class: exactly ``WhirlpoolModel`` instances, frozen from then on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from decimal import Context, Decimal
from typing import TYPE_CHECKING, Any

from bot.api.kit import Pool, PoolLiquidityError

from .accounts import TickArray, Whirlpool
from .math import (
    MAX_SWAP_TICK_ARRAYS,
    U64_MAX,
    InsufficientLiquidity,
    OrcaMathError,
    RangeEnds,
    RangeQuote,
    known_sqrt_prices,
    range_ends,
    range_quoter_within,
    sorted_tick_indexes,
    swap_known_ticks,
    swap_quote,
    tick_at_sqrt_price,
)
from .pool import fixed_fee_rate, initialized_ticks, known_ticks, price_from_sqrt_price
from .transfer_fee import TransferFee, received_after, sent_for


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
    known_ticks: tuple[int, int] | None = None
    """``(first, end)``: the ticks ``[first, end)`` whose initialized ticks ``ticks`` holds (the tick arrays
    loaded); quotes go no further (:func:`~arbotlib.amm.whirlpool.math.swap_quote`), a size that would is
    refused. None: ``ticks`` holds every initialized tick (a pool built whole, as the paper DEX's)."""
    base_transfer_fees: tuple[TransferFee, ...] = ()
    """The base mint's Token-2022 transfer fees a swap must assume (the worst of them for each amount, see
    :meth:`~arbotlib.amm.whirlpool.transfer_fee.TransferFeeConfig.fees_from`); empty: its transfers are whole."""
    quote_transfer_fees: tuple[TransferFee, ...] = ()
    """The same for the quote mint."""
    arrays_per_swap: int | None = None
    """Tick arrays one swap crosses at most, counted from the state's tick (the program's three,
    :data:`~arbotlib.amm.whirlpool.math.MAX_SWAP_TICK_ARRAYS`; see
    :func:`~arbotlib.amm.whirlpool.math.swap_known_ticks`): a size that needs more is refused. None: no such limit
    (a pool built whole, as the paper DEX's)."""

    def __post_init__(self) -> None:
        if self.tick_indexes is None:
            object.__setattr__(self, "tick_indexes", sorted_tick_indexes(self.ticks))

    @classmethod
    def of(cls, pool: Whirlpool, tick_arrays: Iterable[TickArray], *, base: str, quote: str,
           base_decimals: int, quote_decimals: int, base_is_a: bool = True,
           array_starts: Iterable[int] | None = None, base_transfer_fees: tuple[TransferFee, ...] = (),
           quote_transfer_fees: tuple[TransferFee, ...] = ()) -> WhirlpoolModel:
        """The state of ``pool`` with the ticks of ``tick_arrays``, known over the arrays starting at
        ``array_starts`` (default: those of ``tick_arrays``; give them to count an array start whose account
        does not exist, no initialized tick in it), see :func:`~arbotlib.amm.whirlpool.pool.known_ticks`; quoted
        as one swap instruction goes (:data:`~arbotlib.amm.whirlpool.math.MAX_SWAP_TICK_ARRAYS` arrays at most),
        paying the mints' transfer fees. Raises :class:`~arbotlib.amm.whirlpool.pool.AdaptiveFeePool` for a pool
        with an adaptive fee (its ``fee_rate`` is not what its swaps pay)."""
        arrays = list(tick_arrays)
        starts = [array.start_tick_index for array in arrays] if array_starts is None else array_starts
        return cls(pool.sqrt_price, pool.tick_current_index, pool.liquidity, fixed_fee_rate(pool), pool.tick_spacing,
                   tuple(initialized_ticks(pool, arrays)), base, quote, base_decimals, quote_decimals,
                   base_is_a, known_ticks=known_ticks(pool, starts), base_transfer_fees=base_transfer_fees,
                   quote_transfer_fees=quote_transfer_fees, arrays_per_swap=MAX_SWAP_TICK_ARRAYS)

    def mid(self) -> Decimal:
        cache = self.__dict__
        mid = cache.get("_mid")
        if mid is None:
            if self.base_is_a:
                mid = price_from_sqrt_price(self.sqrt_price, self.base_decimals, self.quote_decimals)
            else:
                mid = _INVERSE.divide(1, price_from_sqrt_price(self.sqrt_price, self.quote_decimals,
                                                               self.base_decimals))
            cache["_mid"] = mid
        return mid

    @property
    def fee_bps(self) -> Decimal:
        """``fee_rate / 100``, exactly: made once per fee rate (every state of a pool reads the same one)."""
        return _FEE_BPS[self.fee_rate]

    if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute name

        def __getattr__(self, name: str):
            """The fields of a state made by an in-range quote, filled when first read (only unfilled
            slots come here)."""
            if name == "tick":
                value = tick_at_sqrt_price(self.sqrt_price)
            elif name in _SHARED and "_quoted" in self.__dict__:
                value = getattr(self.__dict__["_quoted"], name)
            else:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            _SLOTS[name].__set__(self, value)
            return value

    def range_ends(self) -> RangeEnds:
        """This state's :func:`~arbotlib.amm.whirlpool.math.range_ends` ``(down, up, low, high)``: made once, and
        handed on to the states :meth:`at_in_range` makes with a sqrt price in ``[low, high)`` (the same stops)."""
        cache = self.__dict__
        ends = cache.get("_ends")
        if ends is None:
            ends = range_ends(self.tick, self.ticks, self.tick_spacing, self.tick_indexes)
            if self.known_ticks is not None:  # an in-range quote goes no further than a step-by-step one
                floor, ceiling = known_sqrt_prices(self.known_ticks)
                ends = (max(ends[0], floor), min(ends[1], ceiling), ends[2], ends[3])
            cache["_ends"] = ends
        return ends

    def _range_quoter(self, sell: bool) -> RangeQuote | None:
        """This state's :func:`~arbotlib.amm.whirlpool.math.range_quoter` for a sale or a purchase of the
        base, made on first use (None: no such quote stays in range), from the state's :meth:`range_ends`
        (:func:`~arbotlib.amm.whirlpool.math.range_quoter_within`: no tick worked out for a state that has them)."""
        cache = self.__dict__
        key = "_sell_quoter" if sell else "_buy_quoter"
        if key not in cache:
            cache[key] = range_quoter_within(
                amount_specified_is_input=sell, a_to_b=self.base_is_a == sell, sqrt_price=self.sqrt_price,
                liquidity=self.liquidity, fee_rate=self.fee_rate, ends=cache.get("_ends") or self.range_ends())
        return cache[key]

    def _swap(self, amount: int, is_input: bool, a_to_b: bool):
        known, one_swap = self.known_ticks, False
        if self.arrays_per_swap is not None:
            known, one_swap = swap_known_ticks(known, self.tick, self.tick_spacing, a_to_b, self.arrays_per_swap)
        try:
            q = swap_quote(amount=amount, amount_specified_is_input=is_input, a_to_b=a_to_b,
                           sqrt_price=self.sqrt_price, tick=self.tick, liquidity=self.liquidity,
                           fee_rate=self.fee_rate, ticks=self.ticks, tick_spacing=self.tick_spacing,
                           tick_indexes=self.tick_indexes, known_ticks=known)
        except InsufficientLiquidity as exc:
            if one_swap and known is not None:
                raise PoolLiquidityError(f"{self.symbol}: the pool cannot pay out {amount} units in one swap: "
                                         f"{self._one_swap(known)}") from None
            raise PoolLiquidityError(f"{self.symbol}: {exc}") from None
        except OrcaMathError as exc:
            raise PoolLiquidityError(f"{self.symbol}: {exc}") from None
        if q.amount_unfilled:
            if one_swap and known is not None:
                where = f" in one swap: {self._one_swap(known)}"
            elif self.known_ticks is not None:
                where = f" within the tick arrays loaded (ticks {self.known_ticks[0]} to {self.known_ticks[1]})"
            else:
                where = ""
            raise PoolLiquidityError(f"{self.symbol}: the pool can take only {amount - q.amount_unfilled} "
                                     f"of the {amount} units{where}")
        return q, self._moved(q.sqrt_price, q.tick, q.liquidity)

    def _one_swap(self, known: tuple[int, int]) -> str:
        return (f"one swap crosses at most {self.arrays_per_swap} tick arrays (from tick {self.tick}: ticks "
                f"{known[0]} to {known[1]}); a larger size needs several swaps")

    def at(self, sqrt_price: int, tick: int, liquidity: int) -> WhirlpoolModel:
        """This pool at another price (the state after someone's swap), its ticks unchanged."""
        return self._moved(sqrt_price, tick, liquidity)

    def at_in_range(self, sqrt_price: int) -> WhirlpoolModel:
        """This pool at another sqrt price inside its current range (the state after a swap that stops
        there): its liquidity and ticks unchanged, its tick that of the price, worked out when first read."""
        after: Any = _new(_Unfrozen)  # its frozen fields written (mypy would refuse), then a WhirlpoolModel
        after.sqrt_price = sqrt_price
        after.liquidity = self.liquidity
        # _keep(after, self) written out: the paper DEX's step makes one of these a step (_KEPT checks the names)
        after.base = self.base
        after.base_decimals = self.base_decimals
        after.base_is_a = self.base_is_a
        after.fee_rate = self.fee_rate
        after.quote = self.quote
        after.quote_decimals = self.quote_decimals
        after.tick_indexes = self.tick_indexes
        after.tick_spacing = self.tick_spacing
        after.ticks = self.ticks
        after.known_ticks = self.known_ticks
        after.base_transfer_fees = self.base_transfer_fees
        after.quote_transfer_fees = self.quote_transfer_fees
        after.arrays_per_swap = self.arrays_per_swap
        after.__class__ = WhirlpoolModel
        ends = self.__dict__.get("_ends")
        if ends is not None and ends[2] <= sqrt_price < ends[3]:
            after.__dict__["_ends"] = ends
        return after

    def _moved(self, sqrt_price: int, tick: int, liquidity: int) -> WhirlpoolModel:
        """This pool at another price: ``WhirlpoolModel(...)`` with every other field the same, without
        the frozen dataclass's ``__init__`` (see :class:`_Unfrozen`)."""
        after: Any = _new(_Unfrozen)  # its frozen fields written (mypy would refuse), then a WhirlpoolModel
        after.sqrt_price = sqrt_price
        after.tick = tick
        after.liquidity = liquidity
        _keep(after, self)
        return after

    def _in_range(self, sqrt_price: int) -> WhirlpoolModel:
        """The state after an in-range quote that leaves the price at ``sqrt_price``: the rest is this
        state's, read from the fully built one when first asked (see ``__getattr__``)."""
        after: Any = _new(_Unfrozen)  # its frozen fields written (mypy would refuse), then a WhirlpoolModel
        after.sqrt_price = sqrt_price
        if sqrt_price == self.sqrt_price:
            after.tick = self.tick
        after.__class__ = WhirlpoolModel
        after.__dict__["_quoted"] = self.__dict__.get("_quoted") or self
        return after

    # sell_units and buy_units are _sell_in_pool and _buy_in_pool written out again after the transfer-fee check: the
    # hot path (a quote in range is a microsecond) does not pay a method call more for pools without transfer fees

    def sell_units(self, base_units: int) -> tuple[int, int, Pool]:
        if self.base_transfer_fees or self.quote_transfer_fees:
            return self._sell_paying_transfer_fees(base_units)
        in_range = self.__dict__.get("_sell_quoter", _UNMADE)
        if in_range is _UNMADE:
            in_range = self._range_quoter(True)
        if in_range is not None and (done := in_range(base_units)) is not None:
            return done[1], done[2], self._in_range(done[3])
        q, after = self._swap(base_units, True, a_to_b=self.base_is_a)
        return q.amount_out, q.fee_amount, after

    def buy_units(self, base_units: int) -> tuple[int, int, Pool]:
        if self.base_transfer_fees or self.quote_transfer_fees:
            return self._buy_paying_transfer_fees(base_units)
        in_range = self.__dict__.get("_buy_quoter", _UNMADE)
        if in_range is _UNMADE:
            in_range = self._range_quoter(False)
        if in_range is not None and (done := in_range(base_units)) is not None:
            return done[0], done[2], self._in_range(done[3])
        q, after = self._swap(base_units, False, a_to_b=not self.base_is_a)
        return q.amount_in, q.fee_amount, after

    def _sell_paying_transfer_fees(self, base_units: int) -> tuple[int, int, Pool]:
        """A sale whose base reaches the pool less its transfer fee, and whose quote reaches us less its own (Orca's
        SDK: ``try_apply_transfer_fee`` on the input, then on the swap's output)."""
        into_pool = received_after(base_units, self.base_transfer_fees)
        if into_pool <= 0:
            raise PoolLiquidityError(f"{self.symbol}: the {self.base} transfer fee withholds all of the {base_units} "
                                     "units sold; nothing would reach the pool")
        out, fee, after = self._sell_in_pool(into_pool)
        return received_after(out, self.quote_transfer_fees), fee, after

    def _buy_paying_transfer_fees(self, base_units: int) -> tuple[int, int, Pool]:
        """A purchase: the pool pays out what reaches us as ``base_units`` after the base's transfer fee, and we send
        what reaches the pool as its price after the quote's (Orca's SDK: ``try_reverse_apply_transfer_fee``)."""
        paid, fee, after = self._buy_in_pool(sent_for(base_units, self.base_transfer_fees))
        sent = sent_for(paid, self.quote_transfer_fees)
        if sent > U64_MAX:
            raise PoolLiquidityError(f"{self.symbol}: {base_units} units would cost {sent} with the {self.quote} "
                                     "transfer fee, more than a token amount can be")
        return sent, fee, after

    def _sell_in_pool(self, base_units: int) -> tuple[int, int, Pool]:
        """What the pool pays for ``base_units`` reaching it (:meth:`sell_units` without transfer fees)."""
        in_range = self.__dict__.get("_sell_quoter", _UNMADE)
        if in_range is _UNMADE:
            in_range = self._range_quoter(True)
        if in_range is not None and (done := in_range(base_units)) is not None:
            return done[1], done[2], self._in_range(done[3])
        q, after = self._swap(base_units, True, a_to_b=self.base_is_a)
        return q.amount_out, q.fee_amount, after

    def _buy_in_pool(self, base_units: int) -> tuple[int, int, Pool]:
        """What must reach the pool for it to pay out ``base_units`` (:meth:`buy_units` without transfer fees)."""
        in_range = self.__dict__.get("_buy_quoter", _UNMADE)
        if in_range is _UNMADE:
            in_range = self._range_quoter(False)
        if in_range is not None and (done := in_range(base_units)) is not None:
            return done[0], done[2], self._in_range(done[3])
        q, after = self._swap(base_units, False, a_to_b=not self.base_is_a)
        return q.amount_in, q.fee_amount, after


_INVERSE = Context(prec=28)
"""The mid of a pool whose base is its token B: the inverse of A's price at the default context's 28
digits, whatever the context of the first caller (a state computes its mid once)."""
_new = object.__new__
_UNMADE = object()


class _FeeBps(dict[int, Decimal]):
    def __missing__(self, fee_rate: int) -> Decimal:
        value = self[fee_rate] = _EXACT.divide(Decimal(fee_rate), 100)
        return value


_EXACT = Context(prec=100)
"""A fee rate (a u16 on chain) over 100, exact whatever the caller's context."""
_FEE_BPS = _FeeBps()
_SLOTS = {f.name: WhirlpoolModel.__dict__[f.name] for f in fields(WhirlpoolModel)}
_SHARED = frozenset(_SLOTS) - {"sqrt_price", "tick"}
"""Fields a state made by an in-range quote takes from the state it was quoted on."""


class _Unfrozen(WhirlpoolModel):
    """A :class:`WhirlpoolModel` being built: the same slots, written by plain assignment (the frozen
    dataclass's ``__setattr__`` and ``__init__`` go through ``object.__setattr__`` once per field, and a slot's
    ``__set__`` is a method call: several times the cost of a slot store). Made with ``object.__new__``, its
    fields assigned, then turned into a ``WhirlpoolModel`` by assigning its ``__class__`` (same layout: no
    slot of its own); no instance of it outlives the method that builds it."""

    __slots__ = ()
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__  # with __setattr__, what makes the stores the generic (fast) ones


def _keep(after: Any, state: WhirlpoolModel) -> None:
    """Writes the fields a moved state keeps from ``state`` into ``after`` and makes it a ``WhirlpoolModel``."""
    after.base = state.base
    after.base_decimals = state.base_decimals
    after.base_is_a = state.base_is_a
    after.fee_rate = state.fee_rate
    after.quote = state.quote
    after.quote_decimals = state.quote_decimals
    after.tick_indexes = state.tick_indexes
    after.tick_spacing = state.tick_spacing
    after.ticks = state.ticks
    after.known_ticks = state.known_ticks
    after.base_transfer_fees = state.base_transfer_fees
    after.quote_transfer_fees = state.quote_transfer_fees
    after.arrays_per_swap = state.arrays_per_swap
    after.__class__ = WhirlpoolModel


_KEPT = ("base", "base_decimals", "base_is_a", "fee_rate", "quote", "quote_decimals", "tick_indexes", "tick_spacing",
         "ticks", "known_ticks", "base_transfer_fees", "quote_transfer_fees", "arrays_per_swap")
"""What :func:`_keep` (and :meth:`WhirlpoolModel.at_in_range`, which writes it out) copies: the fields a moved state
keeps."""
if set(_KEPT) != _SHARED - {"liquidity"}:
    raise ImportError(f"WhirlpoolModel._moved keeps {_KEPT}, not every field a moved state keeps")
