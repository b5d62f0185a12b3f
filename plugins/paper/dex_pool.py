"""The paper DEX's pool: built from settings, moved to a target price by a swap, saved and restored.

Two shapes, both exact integer models that strategies already quote with (:class:`bot.pool.Pool`):

- **constant product** (:class:`arbotlib.amm.model.ConstantProductModel`): half of ``tvl`` in each
  token at the start price.
- **concentrated** (:class:`arbotlib.amm.whirlpool.model.WhirlpoolModel`): one liquidity position per width of
  ``position_widths_bps`` centred on the start price, ``tvl`` split equally among them, so the
  narrow ones make the pool deep near the price and the wide ones keep it tradable far from it.
  Each position initializes two ticks (on the tick spacing), as on a real Whirlpool.

The base is always the pool's token A (as SOL in Orca's SOL/USDC pool): prices are quote per base.
Other traders move the pool with :func:`move_to`: one swap, through the pool's own maths (its fee
stays in the pool), sized so that the price lands on (or, rounding aside, next to) a target. A
concentrated pool's move that stays inside its current range lands exactly on the target, which
:func:`arbotlib.amm.whirlpool.math.reaches_limit_in_range` tells without working out the swap's amounts;
the move takes that check apart (:func:`~arbotlib.amm.whirlpool.math.range_ends` made once per state and
handed on while the stops stand, :func:`~arbotlib.amm.whirlpool.math.limit_fits` per move), takes the
target's sqrt price from the price (an exact product, then isqrt) and leaves the moved state's tick to be worked
out when read.
``_swap_to(model, _target(model, price))`` is the step-by-step reference every move is tested against.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext
from math import isqrt
from typing import Any

from arbotlib.amm.constant_product import BPS, ConstantProductPool
from arbotlib.amm.model import ConstantProductModel
from arbotlib.amm.whirlpool.math import (
    FEE_RATE_DENOMINATOR,
    MAX_SQRT_PRICE,
    MAX_TICK,
    MIN_SQRT_PRICE,
    MIN_TICK,
    OrcaMathError,
    Stop,
    limit_fits,
    sqrt_price_at_tick,
    swap_quote,
    tick_at_sqrt_price,
)
from arbotlib.amm.whirlpool.model import WhirlpoolModel
from arbotlib.amm.whirlpool.transfer_fee import TransferFee
from bot.api.kit import Pool, PoolError

U64_MAX = (1 << 64) - 1
Q64 = 1 << 64
Q128 = 1 << 128


def _raw_price(price: Decimal, base_decimals: int, quote_decimals: int) -> Decimal:
    """Whole-token price -> smallest-unit price (quote units per base unit)."""
    return price.scaleb(quote_decimals - base_decimals)


def _sqrt_price_x64(price: Decimal, base_decimals: int, quote_decimals: int) -> int:
    """``floor(sqrt(raw price) * 2**64)``, exactly: the integer square root of ``floor(raw price * 2**128)``
    (the floor of a square root is that of the floor of its argument).

    The product is Decimal's, exact (any price of up to 80 digits); a price it cannot make exactly, or
    whose product is not a positive number, is taken as a fraction (:func:`_sqrt_price_of_fraction`).
    """
    try:
        scaled = int(_EXACT.multiply(price, _Q128_SCALED[quote_decimals - base_decimals]))
    except (ArithmeticError, ValueError):  # inexact in _EXACT's digits, or not a finite number
        scaled = 0
    if scaled > 0:
        return isqrt(scaled)
    return _sqrt_price_of_fraction(price, base_decimals, quote_decimals)


def _sqrt_price_of_fraction(price: Decimal, base_decimals: int, quote_decimals: int) -> int:
    """:func:`_sqrt_price_x64` by the price as a fraction: its digits over a power of ten, read from its
    text (no gcd: any fraction of the same value floors alike); a price written with an exponent is taken
    apart by ``as_integer_ratio``."""
    text = str(price)
    whole, _, fraction = text.partition(".")
    if "E" in text or not whole.isdigit():
        num, den = price.as_integer_ratio()
        shift = quote_decimals - base_decimals
        num, den = (num * 10**shift, den) if shift >= 0 else (num, den * 10**-shift)
    else:
        num, shift = int(whole + fraction), quote_decimals - base_decimals - len(fraction)
        num, den = (num * _POW10[shift] if shift >= 0 else num), (1 if shift >= 0 else _POW10[-shift])
    return isqrt((num << 128) // den)


_EXACT = Context(prec=120, traps=[Inexact, InvalidOperation, Overflow])
"""Products that are exact or raise."""


class _Q128Scaled(dict[int, Decimal]):
    def __missing__(self, shift: int) -> Decimal:
        value = self[shift] = _EXACT.scaleb(Decimal(Q128), shift)
        return value


_Q128_SCALED = _Q128Scaled()
"""``2**128 * 10**shift`` by ``shift`` (quote decimals - base decimals): a whole-token price to a Q128 raw one."""


class _Powers(dict[int, int]):
    def __missing__(self, power: int) -> int:
        value = self[power] = 10**power
        return value


_POW10 = _Powers()


def constant_product(*, base: str, quote: str, base_decimals: int, quote_decimals: int, price: Decimal,
                     tvl: Decimal, fee_bps: int) -> ConstantProductModel:  # fmt: skip
    """A constant-product pool at ``price`` holding ``tvl`` (quote units), half in each token."""
    half = tvl / 2
    with localcontext() as ctx:
        ctx.prec = 60
        quote_units = int(half.scaleb(quote_decimals))
        base_units = int((half / price).scaleb(base_decimals))
    if base_units <= 0 or quote_units <= 0:
        raise PoolError(f"tvl {tvl} {quote} is too small for a pool at {price}")
    return ConstantProductModel(ConstantProductPool(base_units, quote_units, fee_bps), base, quote,
                                base_decimals, quote_decimals)


def concentrated(*, base: str, quote: str, base_decimals: int, quote_decimals: int, price: Decimal,
                 tvl: Decimal, fee_bps: int, tick_spacing: int, widths_bps: list[int]) -> WhirlpoolModel:  # fmt: skip
    """A Whirlpool at ``price`` with one position per half-width in ``widths_bps``, ``tvl`` split equally."""
    sqrt_price = _sqrt_price_x64(price, base_decimals, quote_decimals)
    tick = tick_at_sqrt_price(sqrt_price)
    share_raw = (tvl / len(widths_bps)).scaleb(quote_decimals)  # quote units of value per position
    net: dict[int, int] = {}
    liquidity = 0
    with localcontext() as ctx:
        ctx.prec = 60
        sp = Decimal(sqrt_price) / Q64
        p = sp * sp
        for width in widths_bps:
            factor = Decimal(BPS + width) / BPS
            # Each position spans [price / factor, price * factor], its ticks on the spacing.
            lower = _on_spacing(_sqrt_price_x64(price / factor, base_decimals, quote_decimals), tick_spacing, False)
            upper = _on_spacing(_sqrt_price_x64(price * factor, base_decimals, quote_decimals), tick_spacing, True)
            if not lower <= tick < upper:
                raise PoolError(f"a position {width} bps wide does not hold the start price {price} on tick "
                                f"spacing {tick_spacing}; widen it")
            sa = Decimal(sqrt_price_at_tick(lower)) / Q64
            sb = Decimal(sqrt_price_at_tick(upper)) / Q64
            # Value of liquidity L at price p, in quote units: L * (2 sqrt p - p / sqrt pb - sqrt pa).
            per_liquidity = 2 * sp - p / sb - sa
            position = int(share_raw / per_liquidity)
            if position <= 0:
                raise PoolError(f"tvl {tvl} {quote} is too small for a concentrated pool at {price}")
            net[lower] = net.get(lower, 0) + position
            net[upper] = net.get(upper, 0) - position
            liquidity += position
    ticks = tuple(sorted((t, n) for t, n in net.items() if n))
    return WhirlpoolModel(sqrt_price, tick, liquidity, fee_bps * 100, tick_spacing, ticks, base, quote,
                          base_decimals, quote_decimals)


def _on_spacing(sqrt_price: int, spacing: int, up: bool) -> int:
    tick = tick_at_sqrt_price(sqrt_price)
    tick = -(-tick // spacing) * spacing if up else tick // spacing * spacing
    return max(min(tick, MAX_TICK // spacing * spacing), -(-MIN_TICK // spacing) * spacing)


def move_to(pool: Pool, price: Decimal) -> Pool:
    """The pool after one swap by another trader that takes its price to ``price`` (whole tokens).

    A concentrated pool stops at the edge of its liquidity; a move too small to be one unit of a
    token leaves the pool as it is.
    """
    if type(pool) is WhirlpoolModel:  # the usual pool, without the abstract base's isinstance
        return move_whirlpool(pool, price)
    if isinstance(pool, ConstantProductModel):
        return _move_constant_product(pool, price)
    if isinstance(pool, WhirlpoolModel):
        return move_whirlpool(pool, price)
    raise TypeError(f"cannot move a {type(pool).__name__}")


def _move_constant_product(model: ConstantProductModel, price: Decimal) -> ConstantProductModel:
    cp = model.pool
    x, y = Decimal(cp.reserve_a), Decimal(cp.reserve_b)
    with localcontext() as ctx:
        ctx.prec = 60
        t = _raw_price(price, model.base_decimals, model.quote_decimals)
        f = Decimal(cp.fee_bps) / BPS
        # The fee stays in the pool, so the reserves after the swap solve a quadratic (exact, no iteration).
        if t < y / x:  # price down: sell g base (fee included): (x + (1 - f) g)(x + g) = x y / t
            a, b, c = 1 - f, x * (2 - f), x * x - x * y / t
            amount = int((-b + (b * b - 4 * a * c).sqrt()) / (2 * a))
            move = (lambda: cp.quote_exact_in(amount, a_to_b=True)) if amount > 0 else None
        else:  # price up: buy base out down to u = x - out: t (1 - f) u^2 + y f u - x y = 0
            a, b = t * (1 - f), y * f
            u = (-b + (b * b + 4 * a * x * y).sqrt()) / (2 * a)
            amount = int(x - u)
            move = (lambda: cp.quote_exact_out(amount, a_to_b=False)) if 0 < amount < cp.reserve_a else None
    if move is None:
        return model
    try:
        return replace(model, pool=move().pool_after)
    except ValueError:  # a move the pool cannot make: it stays where it is
        return model


def move_whirlpool(model: WhirlpoolModel, price: Decimal) -> WhirlpoolModel:
    """:func:`move_to` for a concentrated pool (the paper DEX's step calls it for one): :func:`_swap_to`
    :func:`_target`, the pool's own way; a move inside the current range (what
    :func:`~arbotlib.amm.whirlpool.math.reaches_limit_in_range` tells) known without the swap's amounts,
    from facts made once per state and handed on to the states moved within the same stops."""
    try:  # _sqrt_price_x64, its usual case inline
        scaled = int(_EXACT.multiply(price, _Q128_SCALED[model.quote_decimals - model.base_decimals]))
    except (ArithmeticError, ValueError):
        scaled = 0
    target = isqrt(scaled) if scaled > 0 else _sqrt_price_of_fraction(price, model.base_decimals,
                                                                        model.quote_decimals)
    facts = model.__dict__.get("_move_facts") or _move_facts(model)
    lowest, highest, down, up, low, high, fits_down, fits_up = facts
    if target < lowest:
        target = int(lowest)  # an int: no target is below -inf
    elif target > highest:
        target = int(highest)
    sqrt_price = model.sqrt_price
    if target == sqrt_price:
        return model
    a_to_b = target < sqrt_price
    if ((target > down and (fits_down or limit_fits(U64_MAX, True, sqrt_price, model.liquidity, model.fee_rate,
                                                    target))) if a_to_b else
            (target < up and (fits_up or limit_fits(U64_MAX, False, sqrt_price, model.liquidity, model.fee_rate,
                                                    target)))):
        after = model.at_in_range(target)  # what _swap_to leaves, known
        if low <= target < high:
            after.__dict__["_move_facts"] = facts
        return after
    return _swap_to(model, target)


_Facts = tuple[float, float, float, float, int, int, bool, bool]


def _move_facts(model: WhirlpoolModel) -> _Facts:
    """``(lowest, highest)`` of :func:`_target` and :func:`~arbotlib.amm.whirlpool.math.range_ends`, the
    ends narrowed to what reaches_limit_in_range takes (a sqrt price the program has, a fee rate below the
    denominator; a state outside the prices, or with another fee rate, is never moved in its range), and
    whether every move down, and every move up, inside the ends fits (limit_fits), from any state these
    facts serve."""
    ticks = model.ticks
    family = _FACTS_BY_TICKS.get(id(ticks))
    if (family is None or family[0] is not ticks or family[1] is not model.tick_indexes
            or family[2] != model.tick_spacing or family[3] != model.known_ticks):
        if len(_FACTS_BY_TICKS) >= _FAMILIES_KEPT:
            _FACTS_BY_TICKS.clear()
        family = _FACTS_BY_TICKS[id(ticks)] = (ticks, model.tick_indexes, model.tick_spacing, model.known_ticks, {},
                                               [])
    by_tick, ranges = family[4], family[5]
    tick, liquidity, fee_rate, sqrt_price = model.tick, model.liquidity, model.fee_rate, model.sqrt_price
    key = (tick, liquidity, fee_rate)
    facts = by_tick.get(key)
    if facts is None:
        at_tick = sqrt_price_at_tick(tick) if MIN_TICK <= tick <= MAX_TICK else None
        for facts_of_range in ranges:  # the ranges met so far: the tick's, if met (its sqrt price in [low, high))
            if (facts_of_range[0] == liquidity and facts_of_range[1] == fee_rate and at_tick is not None
                    and facts_of_range[2][4] <= at_tick < facts_of_range[2][5]):
                facts = by_tick[key] = facts_of_range[2]
                break
    if facts is not None and facts[4] <= sqrt_price < facts[5]:
        model.__dict__["_move_facts"] = facts
        return facts
    facts = _new_move_facts(model)
    low, high = facts[4], facts[5]
    if low <= sqrt_price < high and MIN_TICK <= tick <= MAX_TICK and low <= sqrt_price_at_tick(tick) < high:
        by_tick[key] = facts
        ranges.append((liquidity, fee_rate, facts))
    return facts


_FACTS_BY_TICKS: dict[int, tuple[tuple[tuple[int, int], ...], tuple[int, ...] | None, int, tuple[int, int] | None,
                                 dict[tuple[int, int, int], _Facts], list[tuple[int, int, _Facts]]]]
_FACTS_BY_TICKS = {}
"""The move facts made so far, by pool (the ``ticks`` its states share, held so that its ``id`` is not reused, with
their indexes, its tick spacing and known ticks): by ``(tick, liquidity, fee_rate)``, and as a list of the ranges
met ``(liquidity, fee_rate, facts)``. Every state of the pool with the liquidity and fee rate of a range, whose tick
and sqrt price are both inside its ``[low, high)``, has the same facts (the tick has the same range ends, see
:func:`~arbotlib.amm.whirlpool.math.range_ends`, and :func:`_always_fit` then reads the ends, not the price). A walking
pool goes back and forth over a few ranges, and the states a step-by-step swap (a whale, a crossing) or a quote leaves
come without facts: they find them here."""
_FAMILIES_KEPT = 64
"""Pools whose facts are kept (beyond that, all are dropped: a cache, rebuilt as moves need it)."""


def _new_move_facts(model: WhirlpoolModel) -> _Facts:
    """:func:`_move_facts` made from the state's ticks."""
    ticks = model.ticks
    lowest, highest = ((sqrt_price_at_tick(ticks[0][0]), sqrt_price_at_tick(ticks[-1][0])) if ticks
                       else (-math.inf, math.inf))
    down, up, low, high = model.range_ends()  # the model's own, which its quotes read too
    if not (0 <= model.fee_rate < FEE_RATE_DENOMINATOR and MIN_SQRT_PRICE <= model.sqrt_price <= MAX_SQRT_PRICE):
        down, up = math.inf, -math.inf
    # Going down the limit stays below this price (<= MAX), going up above it (>= MIN).
    down, up = max(down, MIN_SQRT_PRICE - 1), min(up, MAX_SQRT_PRICE + 1)
    facts = (lowest, highest, down, up, low, high, *_always_fit(model, down, up, low, high))
    model.__dict__["_move_facts"] = facts
    return facts


def _always_fit(model: WhirlpoolModel, down: Stop, up: Stop, low: int, high: int) -> tuple[bool, bool]:
    """Whether limit_fits holds for every move down, and every move up, inside ``(down, up)`` from the sqrt
    price of any state holding these facts (``model``'s, or one in ``[low, high)``): it does when it holds
    at the farthest ones, as the amounts grow with the distance between the price and the limit."""
    if not (isinstance(down, int) and isinstance(up, int)):
        return False, False
    sqrt_price = model.sqrt_price
    highest, lowest = (max(high - 1, sqrt_price), min(low, sqrt_price)) if low < high else (sqrt_price, sqrt_price)
    liquidity, fee_rate = model.liquidity, model.fee_rate
    return (highest <= down + 1 or limit_fits(U64_MAX, True, highest, liquidity, fee_rate, down + 1),
            lowest >= up - 1 or limit_fits(U64_MAX, False, lowest, liquidity, fee_rate, up - 1))


def _target(model: WhirlpoolModel, price: Decimal) -> int:
    """The sqrt price a move to ``price`` aims at: never past the liquidity (a real pool has no trades where
    nobody provides it)."""
    target = _sqrt_price_x64(price, model.base_decimals, model.quote_decimals)
    if model.ticks:
        target = min(max(target, sqrt_price_at_tick(model.ticks[0][0])), sqrt_price_at_tick(model.ticks[-1][0]))
    return target


def _swap_to(model: WhirlpoolModel, target: int) -> WhirlpoolModel:
    """The pool after the swap that takes it to ``target`` (at most a u64 of input), step by step: the pool
    as it is when the pool cannot make it."""
    try:
        q = swap_quote(amount=U64_MAX, amount_specified_is_input=True, a_to_b=target < model.sqrt_price,
                       sqrt_price=model.sqrt_price, tick=model.tick, liquidity=model.liquidity,
                       fee_rate=model.fee_rate, ticks=model.ticks, tick_spacing=model.tick_spacing,
                       sqrt_price_limit=target, tick_indexes=model.tick_indexes)
    except OrcaMathError:
        return model
    return model.at(q.sqrt_price, q.tick, q.liquidity)


# --- saved form -----------------------------------------------------------------------------


def dump(pool: Pool) -> str:
    """The pool's state as JSON (integers as decimal strings: exact)."""
    if isinstance(pool, ConstantProductModel):
        state = {"kind": "constant-product", "reserve_a": str(pool.pool.reserve_a),
                 "reserve_b": str(pool.pool.reserve_b), "fee_bps": pool.pool.fee_bps}
    elif isinstance(pool, WhirlpoolModel):
        state = {"kind": "concentrated", "sqrt_price": str(pool.sqrt_price), "tick": pool.tick,
                 "liquidity": str(pool.liquidity), "fee_rate": pool.fee_rate, "tick_spacing": pool.tick_spacing,
                 "ticks": [[t, str(n)] for t, n in pool.ticks]}
        # a mirrored pool (the orca venue's): within its loaded tick arrays only, as one swap goes, paying the mints'
        # transfer fees, and its base may be token B; a pool built whole has none of these (its saved form unchanged)
        if pool.known_ticks is not None:
            state["known_ticks"] = list(pool.known_ticks)
        if pool.arrays_per_swap is not None:
            state["arrays_per_swap"] = pool.arrays_per_swap
        for side, fees in (("base", pool.base_transfer_fees), ("quote", pool.quote_transfer_fees)):
            if fees:
                state[f"{side}_transfer_fees"] = [[str(f.epoch), str(f.maximum_fee), f.basis_points] for f in fees]
        if not pool.base_is_a:
            state["base_is_a"] = False
    else:
        raise TypeError(f"cannot save a {type(pool).__name__}")
    return json.dumps(state, sort_keys=True)


def load(text: str, like: Pool) -> Pool:
    """A pool saved by :func:`dump`, with the symbol and decimals of ``like``."""
    s = json.loads(text)
    names = (like.base, like.quote, like.base_decimals, like.quote_decimals)
    if s["kind"] == "constant-product":
        return ConstantProductModel(ConstantProductPool(int(s["reserve_a"]), int(s["reserve_b"]), s["fee_bps"]),
                                    *names)
    if s["kind"] == "concentrated":
        known = s.get("known_ticks")
        return WhirlpoolModel(int(s["sqrt_price"]), s["tick"], int(s["liquidity"]), s["fee_rate"], s["tick_spacing"],
                              tuple((t, int(n)) for t, n in s["ticks"]), *names, base_is_a=s.get("base_is_a", True),
                              known_ticks=None if known is None else (known[0], known[1]),
                              base_transfer_fees=_transfer_fees(s.get("base_transfer_fees")),
                              quote_transfer_fees=_transfer_fees(s.get("quote_transfer_fees")),
                              arrays_per_swap=s.get("arrays_per_swap"))
    raise ValueError(f"unknown saved pool kind {s['kind']!r}")


def _transfer_fees(saved: list[list[Any]] | None) -> tuple[TransferFee, ...]:
    return tuple(TransferFee(int(epoch), int(maximum), int(bps)) for epoch, maximum, bps in saved or ())
