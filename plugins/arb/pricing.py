"""Arbitrage pricing: every cost of a CEX/DEX round trip, and the size that nets the most.

Pure and fast (no I/O): the strategy calls :meth:`Pricer.set_pool` on every pool update and, on
every book tick and pool update, :meth:`Pricer.edges` (both directions, None for one without a gross
edge at the touch; :meth:`Pricer.evaluate` hands back an evaluation for that one too), or first
:meth:`Pricer.alone` (what the touch alone decides of a direction whose other has no edge) when an episode may just
go on (:meth:`Pricer.touch`: both directions).

Definitions (``q`` the base size, all amounts in quote currency, exact)
---------------------------------------------------------------------------------
Direction ``buy-cex-sell-dex``: buy ``q`` on the CEX walking the asks, sell ``q`` into the pool.
Direction ``buy-dex-sell-cex``: buy ``q`` out of the pool, sell ``q`` on the CEX walking the bids.

* ``touch``: the CEX best ask (we buy) or best bid (we sell); ``mid``: the pool's mid price,
  rounded to 28 significant digits (``Pricer.mid``).
* **gross_pnl** = ``q * (mid - ask)`` (buy on the CEX) or ``q * (bid - mid)`` (buy on the DEX):
  the round trip priced at the touch and the pool mid, before any cost.
* **notional** (the buy leg) = ``q * ask`` or ``q * mid``: what ``net_bps``, the latency haircut
  and ``max_notional`` are measured on.
* costs, each >= 0 up to one smallest quote unit of pool rounding:

  - ``cex fee`` = taker fee bps x the CEX leg's traded value (``sum(price x qty)`` over the levels walked);
  - ``cex slippage`` = ``|traded value - q * touch|``: walking beyond the touch;
  - ``dex fee`` = the pool's fee, in quote (a fee taken in base is valued at ``mid``);
  - ``dex impact`` = the rest of the distance between the swap and ``q * mid``:
    ``q * mid - quote_out - dex fee`` (sell) or ``quote_in - dex fee - q * mid`` (buy);
  - ``network fee`` (the signature fee), ``priority fee`` and ``account rent`` (the deposit into an output token
    account the swap creates; listed only when the swap pays one), in lamports: the DEX venue's figures for its
    next swap on the direction's side (:meth:`Pricer.set_swap_fee`, from :meth:`bot.api.Exchange.swap_fee_lamports`:
    each direction its own, as the route, its compute-unit limit and the output token differ); for a venue that
    does not say, ``signature_fee_lamports`` and ``ceil(compute_unit_price_micro_lamports x compute_units /
    10**6)`` both ways. Each converted at the SOL price (the CEX mid when SOL is the base, 1 when it is the quote,
    else ``sol_price``);
  - ``latency haircut`` = ``latency_haircut_bps`` x notional.

* **net_pnl** = ``gross_pnl - sum(costs)``, which is exactly the cash flow of the round trip:
  quote received on the sell leg - quote paid on the buy leg - CEX fee - SOL fees - haircut.
  Arithmetic runs in a 90-digit decimal context, so no sum or product here rounds.
* **net_bps** = ``net_pnl / notional x 10_000``.

Decision
--------
Tradable iff ``net_bps > min_edge_bps`` (strictly; compared as ``net x 10_000 > min x notional``,
without division) at a size inside every cap. The size is the one of the ladder (multiples of
``size_step``, from ``min_size``) with the largest ``net_pnl`` among the sizes that clear
``min_edge_bps``, under: the CEX levels within ``max_cex_slippage_bps`` of the touch, DEX impact
<= ``max_dex_impact_bps``, inventory on both venues (CEX fee and SOL fees included; a CEX buy needs what the
venue holds for it, its limit price x size with the fee, not what it will cost), and
``max_notional``. When no size clears, the evaluation reports the size with the largest net PnL
(or size 0 when no size fits the caps, or there is no edge at the touch) and ``reason`` says why.

Speed
-----
The hot path runs on integers; Decimals are made only at its edges (the evaluation handed back,
and a reason sentence when someone reads it). The book is read in integer units
(``BookUpdate.ask_units``/``bid_units``, the venue's precision) and the size search walks them: base
amounts in ``10**-qb`` (the book's qty decimals, or ``size_step``'s if finer), the CEX leg's value
in ``10**-(pd + qb)``, and net PnL and everything it is compared with in ``10**-e`` quote, ``e``
chosen per pool state (:meth:`Pricer._scales`) so that every term (the walk times ``1 +/- cex fee``,
the pool's integer quote, the haircut and the min-edge floor per ladder step, the SOL fees, the
bound) is a whole number there: each comparison decides as the exact Decimal one
(``tests/plugins/arb/decimal_reference.py`` keeps the Decimal search the tests compare it with,
size included). What depends only on the touch (its Decimal, the gross edge, the ladder's bounds)
is kept per touch and pool state, what depends on the inventory per inventory (across pool states),
and the SOL fees per CEX touch (their integer from the touch's units, their Decimals, kept per CEX mid, only for the
chosen size). Pool quotes per ladder size are cached per pool state, made the first time a size is needed (a pool
update's own decision quotes what its search needs; nothing is quoted ahead), so a CEX tick with an
unchanged pool costs integer arithmetic, not pool maths. What a pool state's integers need beyond
its mid (the scale ``e``, the factors of each threshold and the products the touch thresholds
divide) is kept per decimals and pool fee: a pool state costs its mid's integer times a few of them,
made on its first tick (:meth:`Pricer._gates`).

**Decision first, figures when read.** An evaluation's ``tradable`` and ``edge`` (a gross edge at
the touch) are decided at once; its figures (size, costs, net PnL, limits, reason) are made the
first time one is read (:class:`Evaluation`, "unsettled"), by the same code on the same inputs, so
a tick whose decision is read and nothing else (no edge, no edge worth trading, or tradable while
the strategy cannot act: cooldown, an execution in flight) pays for the decision only. The DEX leg's
:class:`SwapEstimate` (``dex``), which neither the strategy nor its reports read, is made from the pool
quote only when read. Unsettled
evaluations still held when the pool state or the book's decimals change are settled first, on
the state they were decided on (held is told by CPython's reference count). Per direction:

1. no edge at the touch (``ask >= mid`` / ``bid <= mid``): one integer comparison of the touch with
   a threshold made once per pool state (:meth:`Pricer._gates`); :meth:`Pricer.edges` hands back
   None, :meth:`Pricer.evaluate` an evaluation of size 0 (its gross edge and reason made when read);
2. the marginal check at the touch (an integer comparison too): when it fails, no size can clear
   ``min_edge_bps`` (the first base unit's PnL per unit bounds every size's) and the direction is
   decided on the touch alone (:attr:`Touch.HOPELESS`): not tradable, without reading the book's
   levels or a pool quote; when read, only the smallest size is priced, to show why (straight: one
   walk to it and one pool quote, no search, :meth:`Pricer._smallest`).
   Then a bound from the book alone (the pool pays out at most ``mid x (1 - fee)`` per base unit
   and charges at least ``mid x (1 + fee)``): when even that cannot clear ``min_edge_bps`` after
   the SOL fees, the smallest size is priced, to show why;
3. when the smallest size clears ``min_edge_bps`` the direction is tradable, and the size netting
   the most is searched (as below) when the figures are read: when the strategy acts or publishes
   (on from the decision: its walk of the levels and its smallest size priced are kept for it);
4. otherwise a bisection on the slope of net PnL, which is concave in the size (a concave pool
   output less a convex book walk) up to the pools' integer rounding (``ROUNDING_SLACK_UNITS``
   smallest quote units): a step gaining more than the rounding can explain proves every smaller
   size worse, one losing more proves every larger size worse. About 2 log2(ladder) sizes are
   priced; a flat top is priced size by size until the slope is clear on both sides. The search
   starts from the direction's last best size (galloping 1, 2, 4... sizes away), so a new pool
   state near the last one needs a handful of quotes. When the best size does not clear
   ``min_edge_bps``, the best one that does is searched below it.

A direction's evaluations are kept per touch (both sides' touch when the SOL price is the CEX mid)
for the pool state, each with what it read (the book levels its walk looked at, in integer units,
the inventory) and handed back while none of it changes: most CEX ticks change a size deeper in the
book or on the other side, or bring the touch back to where it was. For a tick without a marginal
edge only the smallest size is walked, and the last level read matters only by still holding what
that size takes. A direction decided by step 2 is kept only once its figures are read (on its pool
state): most are never read, and a new one costs less than comparing book sides.

Caps (book depth, DEX impact and liquidity, inventory, max notional) are taken to hold for a prefix
of the ladder: each grows with the size, so the first size breaking one ends the ladder.

The CEX market's ``min_qty`` and ``min_notional`` set where the ladder starts. The venue checks
``min_notional`` against the IOC's limit price x size: buying on the CEX the limit is at or above the
touch, so the size worth ``min_notional`` at the touch is enough; selling there the limit is the lowest
bid walked, so the smallest size is the one worth ``min_notional`` at the lowest price the walk may
reach, ``touch x (1 - max_cex_slippage_bps)``.

Without a pool model (a Jupiter-only route) there is nothing to price the DEX leg on the hot path:
the strategy needs a ``pool`` exchange publishing :class:`~bot.domain.PoolUpdate`.
"""

from __future__ import annotations

import enum
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    localcontext,
)
from decimal import (
    getcontext as _getcontext,
)
from decimal import (
    setcontext as _setcontext,
)
from functools import partial
from operator import attrgetter
from sys import getrefcount
from typing import Any, TypeVar

from bot.api import BPS, BookUpdate, MarketInfo, Side, SwapFee
from bot.api.kit import Pool, PoolError, PoolLiquidityError, PrecisionError, SwapEstimate, from_units, to_units

from .settings import SOL, ArbSettings

ZERO = Decimal(0)
ROUNDING_SLACK_UNITS = 4
"""Smallest quote units a pool's integer rounding may move one quote away from its concave ideal.

Two suffice for a constant-product pool (a floored or ceiled exact ratio); a Whirlpool's rounded
sqrt price adds well under one more. The size search trusts a step's change of net PnL only
beyond this (in either direction); a smaller change is a flat top, priced size by size."""

_NO_EDGE_KEPT = 4096
"""Evaluations without an edge kept per pool state (one per direction and touch price seen)."""
_HELD = 3
"""References to an unsettled evaluation nobody else holds, while the pricer looks at it (``getrefcount``): its
list's, the loop variable's and ``getrefcount``'s argument's (in a comprehension too). More: someone may still
read it (CPython)."""
_EXACT = Context(prec=90, traps=[InvalidOperation, DivisionByZero])
"""Sums and products of book prices, sizes and a pool mid (28 digits) never round at 90 digits."""
_DISPLAY = Context(prec=28)
"""Ratios (bps, averages) are for people and comparisons that tolerate 28 digits."""
_DISPLAY_UNITS = 10**28
"""An integer below it has at most the 28 digits of ``_DISPLAY``."""


class _Unit(dict[int, Decimal]):
    """decimals -> ``Decimal(1).scaleb(-decimals)``, made once."""

    def __missing__(self, decimals: int) -> Decimal:
        unit = self[decimals] = Decimal(1).scaleb(-decimals)
        return unit


_UNIT = _Unit()
_times = _EXACT.multiply
_scaleb = _EXACT.scaleb
"""``_times(units, _UNIT[d])`` is ``from_units(units, d)`` in the exact context, digits and exponent (an integer
of fewer than 90 digits times a power of ten is exact), without the call and the ``scaleb``: the hot path's
Decimals from integers."""
_TENTH = Decimal("0.1")
BPS_INT = int(BPS)
_T = TypeVar("_T")


def _exactly(make: Callable[..., _T], *args: Any) -> _T:
    """``make(*args)`` in the exact context: what ``with localcontext(_EXACT)`` does, at less than half its cost (a
    direction priced, an evaluation settled when a report reads it). ``_EXACT`` itself is made the thread's context,
    not a copy of it: the same settings, so the same results; only the status flags an operation raises land on
    ``_EXACT`` (as those of ``_times`` do), and nothing reads them (the traps raise on the operation's own status)."""
    saved = _getcontext()
    _setcontext(_EXACT)
    try:
        return make(*args)
    finally:
        _setcontext(saved)


class Direction(enum.StrEnum):
    """Which venue buys: the other one sells the same base size."""

    BUY_CEX_SELL_DEX = "buy-cex-sell-dex"
    BUY_DEX_SELL_CEX = "buy-dex-sell-cex"

    @property
    def cex_side(self) -> Side:
        return Side.BUY if self is Direction.BUY_CEX_SELL_DEX else Side.SELL

    @property
    def dex_side(self) -> Side:
        return Side.SELL if self is Direction.BUY_CEX_SELL_DEX else Side.BUY


class Touch(enum.Enum):
    """What a direction's touch alone decides against the pool state (:meth:`Pricer.touch`)."""

    NO_EDGE = "no edge"
    """No gross edge at the touch (or no level on its side, or no usable pool)."""
    HOPELESS = "hopeless"
    """An edge, but no size can clear ``min_edge_bps``: not tradable, whatever the book's other levels."""
    OPEN = "open"
    """An edge that may be tradable: the book's levels and the pool decide."""


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One direction cannot trade its smallest size: which venue lacks which asset, and by how much."""

    direction: str
    venue: str
    asset: str
    have: Decimal
    need: Decimal


@dataclass(frozen=True, slots=True)
class Inventory:
    """What each venue can spend right now (free balances), in whole tokens."""

    cex_base: Decimal
    cex_quote: Decimal
    dex_base: Decimal
    dex_quote: Decimal
    dex_sol: Decimal | None = None
    """SOL on the DEX wallet for network fees when SOL is neither base nor quote (None: not checked)."""


@dataclass(slots=True)
class Evaluation:
    """One direction priced at one size: the legs, every cost, and the decision.

    Read-only by convention: not ``frozen`` because a frozen dataclass's ``__init__`` costs ~10 µs
    here (one ``object.__setattr__`` per field), a fifth of a tick's budget.

    It may come *unsettled* from the pricer: ``direction``, the sides, ``tradable`` and ``edge`` (the
    decision) are set, and every other field is made the first time any of them is read, by the same
    code and on the same inputs as when it is made at once, so with the same values (most evaluations
    are never read further: the strategy publishes or executes few of them). An unsettled evaluation is an
    instance of a private subclass whose figures are properties that settle it (the decision's fields are the
    same slots); settled, it is an ``Evaluation`` again, its fields plain slots: a class with ``__getattr__``
    would send every attribute read, of every evaluation, through the slow generic look-up.
    """

    direction: Direction
    size: Decimal
    """Base quantity; 0 when nothing can be traded (no edge at the touch, or the caps leave no size)."""
    cex_side: Side
    cex_limit_price: Decimal | None
    """IOC limit of the CEX leg: the worst level the size walks to."""
    cex_avg_price: Decimal | None
    dex_side: Side
    dex_limit_price: Decimal | None
    """Worst acceptable *average* price of the swap: min-out / size (sell) or max-in / size (buy)."""
    _swap: SwapEstimate | _Quote | None = field(repr=False, compare=False)
    """The swap as :attr:`dex` shows it, or the pool quote it is made from when first read."""
    gross_pnl: Decimal
    """Quote: at the CEX touch and the pool mid, before any cost."""
    costs: tuple[tuple[str, Decimal], ...]
    """``(name, quote)``: cex fee, cex slippage, dex fee, dex impact, network fee, priority fee, account rent (only
    when the swap pays one), latency haircut."""
    net_pnl: Decimal
    net_bps: Decimal
    """Bps of the buy leg's notional (``size x ask`` or ``size x pool mid``)."""
    tradable: bool
    why: str | Callable[[], str] = field(repr=False, compare=False)
    """The reason, or a function formatting it: formatting waits until someone reads :attr:`reason`."""
    gross_bps: Decimal = Decimal(0)
    """Edge at the touch against the pool mid, in bps of the buy price (independent of the size)."""
    notional: Decimal = Decimal(0)
    """Buy leg at the touch / pool mid: ``size x ask`` or ``size x mid``."""
    dex_limit_quote: Decimal | None = None
    """The DEX leg's minimum out (sell) or maximum in (buy), in quote: ``dex_limit_price x size`` rounded safe."""
    limited_by: str = ""
    """What stopped the size from growing: "cex depth", "dex impact", "dex liquidity", "inventory",
    "max notional", "min edge" (a larger size nets more but not min_edge_bps); "" when the net PnL
    peaked inside every cap."""
    edge: bool = False
    """An edge at the touch (``gross_bps > 0``): known from the touch alone, before any figure is made."""
    _make: Callable[[Evaluation], Evaluation] | None = field(default=None, init=False, repr=False, compare=False)
    """Unsettled: makes the evaluation whose fields this one takes when one is first read, or makes them in this
    one and hands it back (None: settled)."""

    def settled(self) -> Evaluation:
        """This evaluation, its figures made now if they were not yet: what reading one does, without a figure's
        property first (for a reader of every figure, such as a published opportunity)."""
        make = self._make
        if make is not None:
            made = make(self)
            if made is not self:  # else made in place
                _set_figures(self, _figures_of(made))
        return self

    @property
    def dex(self) -> SwapEstimate | None:
        """The DEX leg's swap as the pool quotes it (made when first read: no decision or report reads it)."""
        swap = self._swap
        if swap is None or isinstance(swap, SwapEstimate):
            return swap
        return swap.swap_estimate()

    @property
    def reason(self) -> str:
        """"" when tradable, else one sentence naming the binding cause with its figures."""
        why = self.why
        if not isinstance(why, str):
            why = self.why = why()
        return why

    def __repr__(self) -> str:
        return (f"Evaluation({self.direction}, size={self.size}, net_pnl={self.net_pnl}, net_bps={self.net_bps}, "
                f"tradable={self.tradable}, reason={self.reason!r})")

    def cost(self, name: str) -> Decimal:
        """One cost by name (0 when absent)."""
        for n, amount in self.costs:
            if n == name:
                return amount
        return Decimal(0)


_FIGURES = tuple(f for f in Evaluation.__dataclass_fields__
                 if f not in ("direction", "cex_side", "dex_side", "tradable", "edge", "_make"))
"""What an unsettled evaluation makes when first read."""
_figures_of = attrgetter(*_FIGURES)


class _Unsettled(Evaluation):
    """An evaluation whose figures are made when first read (see :class:`Evaluation`): each figure is a property
    that settles it (:meth:`Evaluation.settled`, which makes it an ``Evaluation``) and reads the slot. Made with
    ``__new__`` and its decision's fields set, never with ``__init__``."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return self.settled() == other  # compared as the settled evaluation it stands for


def _settling(slot: Any) -> property:
    """The property standing for a figure's slot on an unsettled evaluation."""
    read = slot.__get__

    def figure(ev: Evaluation) -> Any:
        return read(ev.settled())

    return property(figure, doc=slot.__doc__)


for _name in _FIGURES:
    setattr(_Unsettled, _name, _settling(Evaluation.__dict__[_name]))


def _set_figures(ev: Evaluation, figures: tuple) -> None:
    """Set an unsettled evaluation's figures, in ``_FIGURES``' order (one statement, no attribute walk by name), and
    mark it settled: an ``Evaluation`` (same slots) whose fields read as plain slots."""
    ev.__class__ = Evaluation
    (ev.size, ev.cex_limit_price, ev.cex_avg_price, ev.dex_limit_price, ev._swap, ev.gross_pnl, ev.costs, ev.net_pnl,
     ev.net_bps, ev.why, ev.gross_bps, ev.notional, ev.dex_limit_quote, ev.limited_by) = figures
    ev._make = None


_new_evaluation = Evaluation.__new__
_init_evaluation = Evaluation.__init__


def _unsettled(direction: Direction, tradable: bool, edge: bool,
               make: Callable[[Evaluation], Evaluation]) -> Evaluation:
    """A decided evaluation whose figures ``make`` makes when first read."""
    ev = _new_evaluation(_Unsettled)
    ev.direction, ev.tradable, ev.edge, ev._make = direction, tradable, edge, make
    ev.cex_side, ev.dex_side = _SIDES[direction]
    return ev


class _Quote:
    """One pool quote of a ladder size, cached per pool state (exact Decimals, the pool's integers)."""

    __slots__ = (
        "amount",
        "base_units",
        "estimate",
        "fee",
        "impact",
        "limit",
        "mid",
        "over_cap",
        "pool_after",
        "quote_units",
        "sell",
        "size",
    )
    sell: bool
    size: Decimal
    mid: Decimal

    def __init__(self, amount: Decimal, fee: Decimal, impact: Decimal, base_units: int, quote_units: int,
                 pool_after: Pool, over_cap: bool):
        self.amount = amount
        """Quote out (our sell) or in (our buy), the pool's fee included."""
        self.fee = fee
        self.impact = impact
        self.base_units = base_units
        self.quote_units = quote_units
        self.pool_after = pool_after
        self.over_cap = over_cap
        """Impact above ``max_dex_impact_bps``."""
        self.limit: tuple[Decimal, Decimal] | None = None
        """The swap's (limit average price, minimum out / maximum in), made once per pool state (with ``sell``,
        ``size`` and the pool ``mid`` the quote was made on, for :meth:`swap_estimate`)."""
        self.estimate: SwapEstimate | None = None

    def swap_estimate(self) -> SwapEstimate:
        """The quote as a :class:`SwapEstimate` (made on first use, once its limits are made)."""
        estimate = self.estimate
        if estimate is None:
            estimate = self.estimate = SwapEstimate(Side.SELL if self.sell else Side.BUY, self.size, self.amount,
                                                    self.fee, self.impact, self.mid, self.base_units,
                                                    self.quote_units, self.pool_after)
        return estimate


class _NoQuote:
    """The pool cannot fill a ladder size (cached like a quote)."""

    __slots__ = ("why",)

    def __init__(self, why: str):
        self.why = why


def _bps(amount: Decimal, notional: Decimal) -> Decimal:
    return _DISPLAY.divide(amount * BPS, notional)


_HUNDREDTH = Decimal("0.01")
_ONE = Decimal(1)
_MINUS_ONE = Decimal(-1)
_display_quantize = _DISPLAY.quantize  # the same as value.quantize(exp, context=_DISPLAY), without keyword parsing


def _show_bps(value: Decimal) -> str:
    """Bps for people: one decimal, two below 1 bps."""
    return str(_display_quantize(value, _TENTH if value >= _ONE or value <= _MINUS_ONE else _HUNDREDTH))


_SHOW = Context(prec=10)


def _show(value: Decimal) -> str:
    """A price or amount for people: at most 10 significant digits, never an exponent."""
    return f"{_SHOW.plus(value).normalize(_SHOW):f}"


def _no_edge_reason(buy_cex: bool, touch: Decimal, mid: Decimal) -> str:
    if buy_cex:
        return f"no edge: CEX ask {_show(touch)} >= pool mid {_show(mid)}"
    return f"no edge: CEX bid {_show(touch)} <= pool mid {_show(mid)}"


_SIDES = {d: (d.cex_side, d.dex_side) for d in Direction}


def _decimals(value: Decimal) -> int:
    """Digits after the point in a finite Decimal (0 for an integral exponent)."""
    return max(0, -int(value.as_tuple().exponent))


def _scaled(value: Decimal, e: int) -> int:
    """``value x 10**e`` as an int; it must be one (the scales are chosen so): anything else is a bug."""
    scaled = value.scaleb(e, _EXACT)
    out = int(scaled)
    if out != scaled:
        raise AssertionError(f"{value} is not a whole number of 10**-{e}")
    return out


def _limit_units(quote_units: int, tolerance: tuple[int, int], sell: bool) -> int:
    """A swap's minimum out (``sell``: quote out x (1 - tolerance), rounded down) or maximum in (quote in x (1 +
    tolerance), rounded up), in the quote's smallest units; ``tolerance`` is dex_slippage_bps as (numerator,
    denominator)."""
    tn, td = tolerance
    if sell:
        return quote_units * (BPS_INT * td - tn) // (BPS_INT * td)
    return -(-quote_units * (BPS_INT * td + tn) // (BPS_INT * td))


def _but(gross_bps: Decimal, why: Callable[[], str]) -> str:
    return f"gross edge {_show_bps(gross_bps)} bps, but {why()}"


LAMPORT_DECIMALS = 9
"""SOL has 9 decimals: a lamport figure is an integer of ``10**-9`` SOL, whatever its size."""


class _SwapCost:
    """One direction's swap cost in SOL (:class:`SwapFee`'s figures), and its Decimals in quote per CEX mid."""

    __slots__ = ("fee", "fees_sol", "lamports", "network_sol", "pairs", "priority_sol", "rent_sol")

    def __init__(self, fee: SwapFee):
        self.fee = fee
        self.network_sol = Decimal(fee.signature_lamports).scaleb(-LAMPORT_DECIMALS)
        self.priority_sol = Decimal(fee.priority_lamports).scaleb(-LAMPORT_DECIMALS)
        self.rent_sol = Decimal(fee.account_rent_lamports).scaleb(-LAMPORT_DECIMALS)
        self.fees_sol = self.network_sol + self.priority_sol + self.rent_sol
        """What the DEX wallet must hold in SOL for the swap besides its amounts."""
        self.lamports = fee.total_lamports
        self.pairs: dict[tuple[int, int], tuple[Decimal, Decimal, Decimal]] = {}
        """(bid + ask, price decimals) -> :meth:`in_quote` at that CEX mid (see :meth:`Pricer._fee_pair`)."""

    def in_quote(self, sol: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        """(network, priority, account rent) in quote at the SOL price ``sol`` (call in the exact context)."""
        return self.network_sol * sol, self.priority_sol * sol, self.rent_sol * sol


class _Fees:
    """One direction's SOL fees on one book: made from its touch (None: a fixed SOL price) when first needed."""

    __slots__ = ("cost", "pair", "scaled", "touch")

    def __init__(self, touch: tuple[int | None, int | None] | None, cost: _SwapCost):
        self.touch = touch
        """(best bid, best ask) in price units: the SOL price when SOL is the base."""
        self.cost = cost
        """The direction's swap cost these fees price."""
        self.pair: tuple[Decimal, Decimal, Decimal] | None = None
        self.scaled: tuple[int, int] | None = None
        """(scale e, the fees' sum as an integer of it)."""


class _Touch:
    """What pricing one direction reads of one touch price, made once per pool state (see ``_touch_facts``)."""

    __slots__ = ("floor_k", "gross_bps", "hk", "kmax", "kmin", "limit", "per_unit", "ref", "touch")

    def __init__(self, touch: Decimal, ref: Decimal, gross_bps: Decimal, kmin: int, kmax: int, hk: int, floor_k: int,
                 limit: int, per_unit: int):
        self.touch = touch
        self.ref = ref
        """The buy leg's price: the touch (buying on the CEX) or the pool mid."""
        self.gross_bps = gross_bps
        self.kmin = kmin
        self.kmax = kmax
        """The ladder's top under max_notional."""
        self.hk = hk
        """The latency haircut of one ladder step (``haircut x ref x size_step``), scaled."""
        self.floor_k = floor_k
        """What one ladder step must net to clear min_edge_bps (``min edge x ref x size_step``), scaled."""
        self.limit = limit
        """The slippage cap: a level is walked while ``price_units x den`` is within this."""
        self.per_unit = per_unit
        """The pool's best price per base unit less haircut and min edge (the bound), scaled by ``e - qb``."""


class _Limits:
    """What the inventory allows one direction (see ``_inventory_limits``)."""

    __slots__ = ("have", "k_inv", "sol_have")

    def __init__(self, k_inv: int, sol_have: Decimal | None, have: int):
        self.k_inv = k_inv
        self.sol_have = sol_have
        self.have = have


def touch_gates(mid: Decimal, price_decimals: int, pool_fee: Decimal, cex_fee: Decimal, haircut: Decimal,
                min_edge_rate: Decimal) -> tuple[int, int, int, int | None]:
    """:meth:`Pricer._gates`' four thresholds, exact: ``(ceil(M), ceil(M (1 - pool fee) / (1 + cex fee + haircut
    + min edge)), floor(M), floor(M (1 + pool fee + haircut + min edge) / (1 - cex fee))`` with ``M = mid x
    10**price_decimals``, the last None when selling keeps nothing (``cex fee >= 1``).

    On integer numerators and denominators (each Decimal's ``as_integer_ratio``), with one floor division each:
    the same values as rational (``Fraction``) arithmetic, at a tenth of its cost. The pricer makes the
    products that depend only on the decimals and the fees once (:func:`_gate_factors`), and a few per pool state.
    """
    mn, md = mid.as_integer_ratio()
    ratios = _gate_ratios(pool_fee, cex_fee, haircut, min_edge_rate)
    return _touch_gates(mn, _gate_factors(md, price_decimals, ratios))


def _gate_ratios(pool_fee: Decimal, cex_fee: Decimal, haircut: Decimal, min_edge_rate: Decimal) -> tuple[int, ...]:
    """The fees' and rates' integer ratios :func:`_gate_factors` reads: (pool fee, cex fee, haircut + min edge)."""
    pn, pd = pool_fee.as_integer_ratio()
    cn, cd = cex_fee.as_integer_ratio()
    hn, hd = haircut.as_integer_ratio()
    en, ed = min_edge_rate.as_integer_ratio()
    return pn, pd, cn, cd, hn * ed + en * hd, hd * ed  # haircut + min edge = xn / xd


def _gate_factors(md: int, price_decimals: int, ratios: tuple[int, ...]) -> tuple[int, int, int, int, int, int | None]:
    """What :func:`_touch_gates` multiplies a mid's numerator ``mn`` by (the mid being ``mn / md``) and divides
    by, for :func:`_gate_ratios`: ``M = mn x a / b`` and the two hopeless thresholds ``M x c / d`` and ``M x e /
    f`` (``f`` None when selling keeps nothing)."""
    a, b = (10**price_decimals, md) if price_decimals >= 0 else (1, md * 10**-price_decimals)
    pn, pd, cn, cd, xn, xd = ratios
    # M (1 - pf) / (1 + cf + x) = M (pd - pn) cd xd / (pd ((cd + cn) xd + xn cd))
    c, d = a * (pd - pn) * cd * xd, b * pd * ((cd + cn) * xd + xn * cd)
    keep = cd - cn  # (1 - cf) = keep / cd
    # M (1 + pf + x) / (1 - cf) = M ((pd + pn) xd + xn pd) cd / (pd xd keep)
    e, f = a * ((pd + pn) * xd + xn * pd) * cd, (b * pd * xd * keep if keep > 0 else None)
    return a, b, c, d, e, f


def _touch_gates(mn: int, factors: tuple[int, int, int, int, int, int | None]) -> tuple[int, int, int, int | None]:
    """:func:`touch_gates` on the mid's numerator ``mn`` and :func:`_gate_factors` of its denominator."""
    a, b, c, d, e, f = factors
    m = mn * a
    return -(-m // b), -(-(mn * c) // d), m // b, (mn * e) // f if f is not None else None


def _held(evaluations: list[Evaluation]) -> list[Evaluation]:
    """The unsettled evaluations someone besides ``evaluations`` holds (the memo, a caller: they may be read)."""
    return [ev for ev in evaluations if ev._make is not None and getrefcount(ev) > _HELD]


def _remembered(memo: tuple, units, inv: Inventory) -> bool:
    """Whether a memo entry ``(inventory, levels read, all read, what the last must hold, evaluation)`` of
    :meth:`Pricer._direction` holds for a book side ``units`` and inventory ``inv`` (see there)."""
    m_inv, read, whole, need, _ = memo
    if m_inv is not inv and m_inv != inv:
        return False
    if need is None:
        return units == read if whole else units[:len(read)] == read
    n = len(read) - 1
    if len(units) > n and units[:n] == read[:n]:
        price, qty = units[n]
        return price == read[n][0] and qty >= need
    return False


class Pricer:
    """Prices both directions of one pair: a CEX market against one pool."""

    def __init__(self, settings: ArbSettings, cex_market: MarketInfo, base: str, quote: str):
        """Check the ladder against the CEX market; raise ValueError naming the setting to fix."""
        self.settings = settings
        self.market = cex_market
        self.base = base
        self.quote = quote
        step = settings.size_step
        lot = cex_market.lot_size
        with localcontext(_EXACT):
            if lot > 0 and step % lot != 0:
                raise ValueError(
                    f"size_step: {step} {base} is not a multiple of the lot size {lot} of {cex_market.symbol} on "
                    f"{settings.cex}; use a multiple of {lot}")
            self._step = step
            self._kmin = max(1, int((settings.min_size / step).to_integral_value(ROUND_CEILING)),
                             int((cex_market.min_qty / step).to_integral_value(ROUND_CEILING)))
        if base == SOL:
            self._sol_price: Decimal | None = None  # the CEX mid, per tick
        elif quote == SOL:
            self._sol_price = Decimal(1)
        elif settings.sol_price is None:
            raise ValueError(f"sol_price: required for {base}/{quote} (network fees are paid in SOL and neither "
                             f"token is SOL); set sol_price = <{quote} per SOL>")
        else:
            self._sol_price = settings.sol_price
        own = _SwapCost(SwapFee(settings.signature_fee_lamports, -(
            -settings.compute_unit_price_micro_lamports * settings.compute_units // 10**6)))
        self._cost: dict[Direction, _SwapCost] = dict.fromkeys(Direction, own)
        """Per direction, the cost of its swap (:meth:`set_swap_fee`; until then the settings')."""
        # every rate below is a bps figure shifted 4 places: exact
        fee_bps = settings.cex_taker_fee_bps if settings.cex_taker_fee_bps is not None else cex_market.taker_fee_bps
        if fee_bps is None:
            raise ValueError(f'cex_taker_fee_bps: "{settings.cex}" does not state its taker fee for '
                             f"{cex_market.symbol}; set cex_taker_fee_bps = <your fee on that venue, in bps>")
        self.cex_fee_bps: Decimal = fee_bps
        """The CEX taker fee priced in: the setting, else the fee the exchange states for the market."""
        self._cex_fee = fee_bps.scaleb(-4)
        self._one_plus_fee = 1 + self._cex_fee
        self._one_minus_fee = 1 - self._cex_fee
        self._haircut = settings.latency_haircut_bps.scaleb(-4)
        self._min_edge = settings.min_edge_bps
        self._min_edge_text = str(settings.min_edge_bps)
        self._min_edge_rate = settings.min_edge_bps.scaleb(-4)
        self._slippage = settings.max_cex_slippage_bps.scaleb(-4)
        self._tolerance_ratio = settings.dex_slippage_bps.as_integer_ratio()
        """dex_slippage_bps as integers (numerator, denominator): the swap limits are made on them."""
        self._pool: Pool | None = None
        self._pool_fee_bps: Decimal | None = None
        self._step_units_at: dict[int, int] = {}
        """The base token's decimals -> ``size_step`` in its units."""
        self._mid: Decimal | None = None
        self._pool_problem = "no pool state yet"
        self._sell: dict[int, _Quote | _NoQuote] = {}
        self._buy: dict[int, _Quote | _NoQuote] = {}
        self._last_top: dict[Direction, int] = {}
        """Per direction, the ladder index (size / size_step) that netted the most last time."""
        self._memo: dict[tuple, tuple] = {}
        """(direction, the SOL price's touch, the touch) -> the last evaluation there and what it read."""
        self._pending: list[Evaluation] = []
        """The unsettled evaluations handed out on this pool state (see :meth:`_settle_held`)."""
        self._prune_at = _NO_EDGE_KEPT
        """``_pending``'s length at which those nobody holds are dropped."""
        self._limits: tuple[Inventory, int, dict[Direction, _Limits]] | None = None
        """(inventory, the scale ``e``, per direction what it allows): kept while both stand (pool states come and
        go; what an inventory allows depends on none but the scale its quote is written in)."""
        self._fees: dict[Direction, _Fees] = {}
        self._fixed_fees: dict[Direction, _Fees] = {}
        """Per direction, the SOL fees of the last book, and of every book when the SOL price is fixed (or the book
        has no touch): :meth:`_fees_at`."""
        self._fees_pd: int | None = None
        """The book's price decimals the touches of ``_fees`` are in."""
        self._reset_fees()
        self._gate_decimals: tuple[int, int] | None = None
        """The book's (price, qty) decimals the integer thresholds (:meth:`_gates`) were made for."""
        self._gate_pd: int | None = None
        self._gate_qd: int | None = None
        """The same decimals one by one (None: no thresholds made for this pool state yet)."""
        self._era = 0
        """Grows when the pool state or the book's decimals change (:meth:`_settle_held`): what an unsettled
        evaluation was decided on is current while its era is."""
        self._no_edge_at: dict[tuple[Direction, int], Evaluation] = {}
        """(direction, touch units) -> its evaluation without an edge, for this pool state and precision."""
        self._factors: dict[tuple, tuple] = {}
        """(price and qty decimals, the pool mid's decimals, pool fee, quote decimals) -> :meth:`_scale_factors`."""
        self._gate_factors_at: dict[tuple, tuple] = {}
        """(price decimals, the pool mid's decimals, pool fee) -> :func:`_gate_factors`."""
        self._state_key: tuple = ()
        """The key of the :meth:`_scale_factors` and :func:`_gate_factors` in use (pool states in a row share it)."""
        self._at_touch: dict[tuple[Direction, int], _Touch] = {}
        self._unscaled: int | None = None
        """The pool mid's integer whose :meth:`_scales` are not made yet (None: made, or no thresholds yet)."""
        self._quote_decimals = -1
        self._base_decimals = -1
        """The pool's tokens' decimals (-1: no pool state priced yet)."""

    @property
    def swap_fees(self) -> dict[Direction, SwapFee]:
        """The cost each direction's swap is priced with (:meth:`set_swap_fee`; until then the settings')."""
        return {direction: cost.fee for direction, cost in self._cost.items()}

    def set_swap_fee(self, fee: SwapFee, direction: Direction | None = None) -> None:
        """The DEX venue's cost of its next swap on ``direction``'s side (None: both directions;
        :meth:`bot.api.Exchange.swap_fee_lamports`): what every evaluation of it from now on prices. Evaluations
        someone holds are settled on the fee they were decided with."""
        directions = tuple(Direction) if direction is None else (direction,)
        if all(self._cost[d].fee == fee for d in directions):
            return
        self._settle_held()  # (drops the memo: every kept decision read the old fee)
        cost = _SwapCost(fee)  # lamports are 10**-9 SOL whatever the amount: the scale ``e`` does not move
        for d in directions:
            self._cost[d] = cost
        self._limits = None
        self._reset_fees()

    def _reset_fees(self) -> None:
        """Forget the fees made of the swap costs for books seen so far."""
        self._fixed_fees = {d: _Fees(None, cost) for d, cost in self._cost.items()}
        self._fees = dict(self._fixed_fees)

    @property
    def pool(self) -> Pool | None:
        """The pool state pricing the DEX leg (None until :meth:`set_pool`)."""
        return self._pool

    @property
    def mid(self) -> Decimal | None:
        """The pool's mid price (None without a usable pool)."""
        return self._mid

    def set_pool(self, pool: Pool) -> None:
        """A new pool state: drops every cached pool quote.

        Raises ValueError when the pool is for another pair or ``size_step`` is finer than its base
        token's decimals (a configuration problem); an empty pool only makes evaluations untradable.
        """
        if pool is self._pool:
            return
        if pool.base != self.base or pool.quote != self.quote:
            raise ValueError(f"the pool is {pool.base}/{pool.quote}, the strategy trades {self.base}/{self.quote}")
        self._settle_held()
        step_units = self._step_units_at.get(pool.base_decimals)
        if step_units is None:
            try:
                step_units = self._step_units_at[pool.base_decimals] = to_units(self._step, pool.base_decimals)
            except PrecisionError:
                raise ValueError(f"size_step: {self._step} {self.base} is finer than the token's {pool.base_decimals} "
                                 f"decimals on the DEX; use a multiple of {Decimal(1).scaleb(-pool.base_decimals)}"
                                 ) from None
        self._step_units = step_units
        self._pool = pool
        if self._sell:  # the last state's quotes (an empty cache is no one's)
            self._sell = {}
        if self._buy:
            self._buy = {}
        self._gate_decimals = self._gate_pd = None  # the thresholds (and what they keep) are made on the next tick
        try:
            self._mid = mid = _DISPLAY.plus(pool.mid())  # 28 digits, whatever context the pool computed it in
        except PoolLiquidityError as exc:
            self._mid = None
            self._pool_problem = f"the pool cannot be priced: {exc}"
            return
        # what the pricing below reads; only while _mid is set (evaluate checks)
        self._priced_pool, self._priced_mid = pool, mid
        fee_bps = pool.fee_bps
        if fee_bps is not self._pool_fee_bps and fee_bps != self._pool_fee_bps:  # (a pool's states share one)
            self._pool_fee_bps, self._pool_fee = fee_bps, fee_bps.scaleb(-4)
        if pool.quote_decimals != self._quote_decimals or pool.base_decimals != self._base_decimals:
            self._quote_decimals = pool.quote_decimals
            self._base_decimals = pool.base_decimals

    # --- the hot path -------------------------------------------------------------------------

    def evaluate(self, book: BookUpdate, inventory: Inventory) -> tuple[Evaluation, Evaluation]:
        """Both directions on this book and the current pool: (buy-cex-sell-dex, buy-dex-sell-cex).

        Decided on the book's integer units (``book.ask_units``/``bid_units``): whether a direction has an
        edge at the touch and whether it can clear ``min_edge_bps`` at all are integer comparisons with
        thresholds made once per pool state (:meth:`_gates`), and the memo compares integer levels.
        Decimals are made only to price a direction that has an edge (the size search) and for the
        figures of the evaluation handed back. :meth:`edges` is the same decision without the evaluations
        of directions that have no edge.
        """
        if self._mid is None:
            return (self._nothing(Direction.BUY_CEX_SELL_DEX, self._pool_problem),
                    self._nothing(Direction.BUY_DEX_SELL_CEX, self._pool_problem))
        buy_cex, buy_dex = self.edges(book, inventory)
        if buy_cex is None:
            buy_cex = self._without_edge(Direction.BUY_CEX_SELL_DEX, book.best_ask_units, book.price_decimals)
        if buy_dex is None:
            buy_dex = self._without_edge(Direction.BUY_DEX_SELL_CEX, book.best_bid_units, book.price_decimals)
        return buy_cex, buy_dex

    def touch(self, book: BookUpdate) -> tuple[Touch, Touch]:
        """What the touch alone decides of each direction (buy-cex-sell-dex, buy-dex-sell-cex): integer comparisons
        with the pool state's thresholds (:meth:`_gates`), nothing made. A HOPELESS direction is the one
        :meth:`edges` hands back not tradable whatever the rest of the book (a caller that needs no figures of it
        need not ask)."""
        if self._mid is None:
            return Touch.NO_EDGE, Touch.NO_EDGE
        pd = book.price_decimals
        if pd != self._gate_pd or book.qty_decimals != self._gate_qd:
            self._gates(pd, book.qty_decimals)
        bid, ask = book.best_bid_units, book.best_ask_units
        buy_cex = buy_dex = Touch.NO_EDGE
        if ask is not None and ask < self._ask_edge_below:
            buy_cex = Touch.HOPELESS if ask >= self._ask_hopeless_from else Touch.OPEN
        if bid is not None and bid > self._bid_edge_above:
            hopeless_to = self._bid_hopeless_to
            buy_dex = Touch.HOPELESS if hopeless_to is None or bid <= hopeless_to else Touch.OPEN
        return buy_cex, buy_dex

    def alone(self, book: BookUpdate, direction: Direction) -> Touch | None:
        """What the touch alone decides of ``direction`` (as :meth:`touch` does) when the other direction has no edge
        at the touch; None when it has one. The question of a tick in an episode not due for a refresh (most ticks):
        one call and the comparisons it needs, no pair made (the other side's touch is read first: when it has an
        edge, the direction's own is not read)."""
        if self._mid is None:
            return Touch.NO_EDGE
        pd = book.price_decimals
        if pd != self._gate_pd or book.qty_decimals != self._gate_qd:
            self._gates(pd, book.qty_decimals)
        if direction is Direction.BUY_CEX_SELL_DEX:
            bid = book.best_bid_units
            if bid is not None and bid > self._bid_edge_above:
                return None
            ask = book.best_ask_units
            if ask is None or ask >= self._ask_edge_below:
                return Touch.NO_EDGE
            return Touch.HOPELESS if ask >= self._ask_hopeless_from else Touch.OPEN
        ask = book.best_ask_units
        if ask is not None and ask < self._ask_edge_below:
            return None
        bid = book.best_bid_units
        if bid is None or bid <= self._bid_edge_above:
            return Touch.NO_EDGE
        hopeless_to = self._bid_hopeless_to
        return Touch.HOPELESS if hopeless_to is None or bid <= hopeless_to else Touch.OPEN

    def edges(self, book: BookUpdate, inventory: Inventory) -> tuple[Evaluation | None, Evaluation | None]:
        """:meth:`evaluate`'s pair with None for a direction without a gross edge at the touch (no edge, no
        level on its side, or no usable pool): what a caller that acts only on an edge reads.

        A tick costs the touch's two integers compared with the pool state's thresholds (:meth:`_gates`);
        no evaluation is made for a direction without an edge, and a direction with an edge but no
        marginal edge (it cannot clear ``min_edge_bps``) is decided without reading the book's levels
        (its figures read them when first read).
        """
        if self._mid is None:
            return None, None
        pd = book.price_decimals
        if pd != self._gate_pd or book.qty_decimals != self._gate_qd:
            self._gates(pd, book.qty_decimals)
        bid, ask = book.best_bid_units, book.best_ask_units
        buy_cex = buy_dex = None
        if ask is not None and ask < self._ask_edge_below:
            buy_cex = self._direction(Direction.BUY_CEX_SELL_DEX, book, ask, bid, ask, inventory)
        if bid is not None and bid > self._bid_edge_above:
            buy_dex = self._direction(Direction.BUY_DEX_SELL_CEX, book, bid, bid, ask, inventory)
        return buy_cex, buy_dex

    def _without_edge(self, direction: Direction, t: int | None, price_decimals: int) -> Evaluation:
        """:meth:`evaluate`'s evaluation of a direction :meth:`edges` found without an edge: at its touch ``t``,
        or without a level on its side."""
        if t is not None:
            return self._no_edge_at_touch(direction, t, price_decimals)
        side = "asks" if direction is Direction.BUY_CEX_SELL_DEX else "bids"
        return self._nothing(direction, f"the {self.settings.cex} book has no {side}")

    def _fees_at(self, touch: tuple[int | None, int | None] | None, direction: Direction) -> _Fees:
        """``direction``'s SOL fees on a book whose touch is ``touch`` ((bid, ask) units; None: the SOL price is
        fixed): they change with the SOL price only, and are made (integer or Decimal) only when a direction is
        priced."""
        if touch is None:
            return self._fixed_fees[direction]
        fees = self._fees[direction]
        if touch != fees.touch:
            fees = _Fees(touch, self._cost[direction])
            if touch[0] is not None or touch[1] is not None:  # (a book without a touch prices at the pool mid)
                self._fees[direction] = fees  # kept across pool states: the CEX touch is its SOL price
        return fees

    def _gates(self, price_decimals: int, qty_decimals: int) -> None:
        """Integer thresholds on the touch in price units, exact (rationals), for this pool state.

        With ``t`` the touch in units of ``10**-price_decimals`` and ``M = mid x 10**price_decimals``:
        buying on the CEX has an edge iff ``t < ceil(M)`` (``ask < mid``) and cannot clear
        ``min_edge_bps`` at any size iff ``t >= ceil(M (1 - pool fee) / (1 + cex fee + haircut +
        min edge))`` (the marginal check of the module doc: ``mid (1 - pool fee) - t (1 + cex fee)
        - haircut t - min edge t <= 0``); selling on the CEX has an edge iff ``t > floor(M)`` and is
        hopeless iff ``t (1 - cex fee) <= M (1 + pool fee + haircut + min edge)``.

        Made on the first tick of a pool state (and when the book's decimals change); the integers the size
        search runs on (:meth:`_scales`) are made when a direction is first priced on the state (most pool
        states decide on the thresholds alone): what depends on the decimals and the fees only is made once
        and kept; a pool state costs its mid's integer times a few of those.
        """
        if self._gate_pd is not None:  # the book's decimals changed on this pool state
            self._settle_held()
        if price_decimals != self._fees_pd:  # the SOL fees kept are of touches in other units
            self._fees_pd = price_decimals
            self._fees = dict(self._fixed_fees)
        mid = self._priced_mid
        # mid = m / 10**mid_d: mid has at most 28 digits (see set_pool), so these decimals write it as an integer
        # (more than its own when it has fewer digits: every scale below only needs enough)
        adjusted = mid.adjusted()
        mid_d = 27 - adjusted if adjusted < 27 else 0
        m = int(_scaleb(mid, mid_d))  # mid.scaleb(mid_d, _EXACT), without the keyword's parsing
        key = (price_decimals, qty_decimals, mid_d, self._pool_fee, self._quote_decimals)
        if key != self._state_key:
            self._state_key = key
            self._set_factors(*key)
        # _touch_gates(m, self._gate_at), inline (a pool state's first tick: most ticks of a busy pool)
        a, b, c, d, e, f = self._gate_at
        ma = m * a
        self._ask_edge_below, self._ask_hopeless_from, self._bid_edge_above = -(-ma // b), -(-(m * c) // d), ma // b
        self._bid_hopeless_to = (m * e) // f if f is not None else None
        self._unscaled = m  # _scales(m) when a direction is first priced (_touch_facts)
        self._gate_decimals = (price_decimals, qty_decimals)
        self._gate_pd, self._gate_qd = price_decimals, qty_decimals
        if self._no_edge_at:
            self._no_edge_at = {}
        if self._at_touch:
            self._at_touch = {}

    def _set_factors(self, pd: int, qd: int, mid_d: int, pool_fee: Decimal, quote_decimals: int) -> None:
        """What :meth:`_gates` and :meth:`_scales` read that depends on the decimals and the fees only (kept)."""
        key = (pd, qd, mid_d, pool_fee, quote_decimals)
        factors = self._factors.get(key)
        if factors is None:
            factors = self._factors[key] = self._scale_factors(*key)
        (self._qb, self._qf, self._s, self._e, self._rate_buy, self._rate_sell, self._amount_scale, self._slack_scaled,
         self._slip, self._hk_per_t, self._floor_per_t, self._bound_per_t, self._notional_units,
         self._min_notional_units, *self._per_m) = factors
        gate_key = (pd, mid_d, pool_fee)
        gate = self._gate_factors_at.get(gate_key)
        if gate is None:
            ratios = _gate_ratios(pool_fee, self._cex_fee, self._haircut, self._min_edge_rate)
            gate = self._gate_factors_at[gate_key] = _gate_factors(10**mid_d, pd, ratios)
        self._gate_at = gate

    def _scales(self, m: int) -> None:
        """The integers the size search runs on, for this pool state and the book's decimals.

        Base amounts are in ``10**-qb`` (``qb``: the book's qty decimals, or more if ``size_step``
        needs them), the CEX leg's value in ``10**-(pd + qb)``, and every quote amount compared in
        ``10**-e``: ``e`` is large enough that each term of net PnL (the book walk times ``1 +/- cex
        fee``, the pool's quote, the haircut and the min-edge floor per ladder step, the SOL fees, the
        bound from the pool mid) is an integer there, so integer comparisons decide exactly as the
        exact Decimal ones.

        What depends on the pool mid is its integer ``M = mid x 10**mid_d`` (``mid_d``: decimals enough)
        times a factor made once per decimals and pool fee (:meth:`_scale_factors`, kept): e.g. the
        bound's pool part ``mid x (1 - pool fee) x 10**(e - qb) = M x (1 - pool fee) x 10**(e - qb -
        mid_d)``, a whole number as ``e >= mid_d + qb +`` the fee's decimals.
        """
        self._unscaled = None
        sell_per_m, buy_per_m, hk_per_m, floor_per_m, kmax_num, kmax_den = self._per_m
        # buying on the DEX (ref = the pool mid): the haircut, the min-edge floor, the bound and the ladder's top
        self._bound_sell = m * sell_per_m
        self._bound_buy = m * buy_per_m
        self._hk_dex = m * hk_per_m
        self._floor_dex = m * floor_per_m
        self._kmax_dex = kmax_num // (kmax_den * m)  # max_notional // (mid x size_step), exact

    def _scale_factors(self, pd: int, qd: int, mid_d: int, pool_fee: Decimal, quote_decimals: int) -> tuple:
        """:meth:`_scales`' integers that do not depend on the pool mid's value (only the decimals ``mid_d`` it is
        written with)."""
        qb = max(qd, _decimals(self._step))
        qf, s = 10 ** (qb - qd), _scaled(self._step, qb)
        rate_d = max(_decimals(self._one_plus_fee), _decimals(self._one_minus_fee))
        hd, me, pf = _decimals(self._haircut), _decimals(self._min_edge_rate), _decimals(pool_fee)
        # the SOL price the fees are converted at: fixed, or the CEX mid (one more decimal than a price) or the pool's
        sol_d = _decimals(self._sol_price) if self._sol_price is not None else max(pd + 1, mid_d)
        fees_d = LAMPORT_DECIMALS + sol_d
        e = max(quote_decimals, pd + qb + rate_d, mid_d + max(pf, hd, me) + qb, pd + max(hd, me) + qb, fees_d)
        amount_scale = 10 ** (e - quote_decimals)
        sd = _decimals(self._slippage)
        step, settings = self._step, self.settings
        with localcontext(_EXACT):
            # max_notional // (t x step) and ceil(min_notional / (t x step)), from t: floor(X / t) = floor(floor(X) / t)
            min_notional = self.market.min_notional
            notional_n, notional_d = settings.max_notional.as_integer_ratio()
            step_n, step_d = step.as_integer_ratio()
            return (
                qb, qf, s, e,
                _scaled(self._one_plus_fee, e - pd - qb), _scaled(self._one_minus_fee, e - pd - qb),
                amount_scale, ROUNDING_SLACK_UNITS * amount_scale, (10**sd, _scaled(self._slippage, sd)),
                # buying on the CEX (ref = the touch t): the haircut, the min-edge floor and the bound's book part
                # grow with t; in price units they are t times these
                _scaled(self._haircut * step, e - pd), _scaled(self._min_edge_rate * step, e - pd),
                _scaled(self._haircut + self._min_edge_rate, e - qb - pd),
                int((settings.max_notional.scaleb(pd) / step).to_integral_value(ROUND_FLOOR)),
                int((min_notional.scaleb(pd) / step).to_integral_value(ROUND_CEILING)) if min_notional > 0 else 0,
                # per unit of the pool mid's integer M
                _scaled(1 - pool_fee, e - qb - mid_d),
                _scaled(1 + pool_fee + self._haircut + self._min_edge_rate, e - qb - mid_d),
                _scaled(self._haircut * step, e - mid_d), _scaled(self._min_edge_rate * step, e - mid_d),
                notional_n * step_d * 10**mid_d, notional_d * step_n,
            )

    def best(self, book: BookUpdate, inventory: Inventory) -> Evaluation:
        """The better direction: a tradable one first, then a priced one, then the larger net PnL and edge."""
        return max(self.evaluate(book, inventory),
                   key=lambda e: (e.tradable, e.size > 0, e.net_pnl, e.gross_bps))

    def _nothing(self, direction: Direction, reason: str | Callable[[], str], gross_bps: Decimal = ZERO,
                 limited_by: str = "") -> Evaluation:
        cex_side, dex_side = _SIDES[direction]
        return Evaluation(direction, ZERO, cex_side, None, None, dex_side, None, None, ZERO, (),
                          ZERO, ZERO, False, reason, gross_bps, ZERO, None, limited_by, gross_bps > ZERO)

    def _quote_size(self, side: Side, k: int) -> _Quote | _NoQuote:
        pool = self._priced_pool
        units = k * self._step_units
        try:
            out, fee_units, after = pool.sell_units(units) if side is Side.SELL else pool.buy_units(units)
        except PoolError as exc:  # mostly PoolLiquidityError: the pool cannot pay (or take) this size
            return _NoQuote(str(exc))
        mid = self._priced_mid
        at_mid = self._step * k * mid
        amount = _times(out, _UNIT[self._quote_decimals])
        if side is Side.SELL:
            fee = _times(fee_units, _UNIT[self._base_decimals]) * mid
            impact = at_mid - amount - fee
        else:
            fee = _times(fee_units, _UNIT[self._quote_decimals])
            impact = amount - fee - at_mid
        return _Quote(amount, fee, impact, units, out, after,
                      impact * BPS > self.settings.max_dex_impact_bps * at_mid)

    def _direction(self, direction: Direction, book: BookUpdate, t: int, bid: int | None, ask: int | None,
                   inv: Inventory) -> Evaluation:
        """One direction with an edge at its touch ``t`` (the book's ``bid``, ``ask``), or its last evaluation at
        this touch when nothing it read has changed.

        Evaluations are kept per touch (the book's touch on both sides when the SOL price is the CEX mid),
        for this pool state: a book that moves back to a touch it had finds what was priced there.

        The book side walked is ``book.ask_units``/``bid_units``, ``(price_units, qty_units)`` best first. An
        evaluation reads the pool (the memo is dropped with it), the inventory, the SOL fees and a prefix of
        the book side: the levels its walk looked at (the touch at least). A tick that changes nothing in
        that prefix (most ticks move sizes deeper in the book or on the other side) gets the same
        evaluation object back. When the walk ran out of levels, the whole side was read and must be
        the same. When only the smallest size was walked (a tick with no marginal edge), the last
        level read matters only by holding what that size takes from it (in qty units, rounded up).

        Without a marginal edge (hopeless, decided by :meth:`_gates`' thresholds) and nothing kept at the
        touch, the evaluation is decided on the touch alone: its figures are made from the book when first
        read, and only then kept (:meth:`_hopeless_read`); most of them are never read.
        """
        buy_cex = direction is Direction.BUY_CEX_SELL_DEX
        if buy_cex:
            hopeless = t >= self._ask_hopeless_from
        else:
            hopeless_to = self._bid_hopeless_to
            hopeless = hopeless_to is None or t <= hopeless_to
        key = (direction, (bid, ask) if self._sol_price is None else None, t)
        memo = self._memo.get(key) if self._memo else None
        units = None
        if memo is not None:
            units = book.ask_units if buy_cex else book.bid_units
            if _remembered(memo, units, inv):
                return memo[4]
        if hopeless:
            # decided: not tradable. What it would show (the smallest size priced) is made when read
            return self._later(direction, False, partial(self._hopeless_read, key, book, inv, self._era))
        if units is None:
            units = book.ask_units if buy_cex else book.bid_units
        if len(self._memo) >= _NO_EDGE_KEPT:
            self._forget()
        span = [1, False, None]  # levels read, all of them read, what the last one must hold (None: all of it)
        ev = _exactly(self._direction_uncached, direction, units, inv, self._fees_at(key[1], direction), span, False)
        self._memo[key] = (inv, units[:span[0]], span[1], span[2], ev)
        return ev

    def _hopeless_read(self, key: tuple, book: BookUpdate, inv: Inventory, era: int, ev: Evaluation) -> Evaluation:
        """A hopeless direction's figures, made when first read on the book side it was decided on (a view someone
        holds keeps its levels): the smallest size priced, to show why. Read on the pool state it was decided on,
        it is kept in the memo, against the levels its walk read."""
        direction, touch = key[0], key[1]
        units = book.ask_units if direction is Direction.BUY_CEX_SELL_DEX else book.bid_units
        # the SOL fees of the book it was decided on; the last book's (``_fees_at``) stay kept for the ticks to come
        last = self._fees[direction]
        fees = (self._fixed_fees[direction] if touch is None else last if touch == last.touch
                else _Fees(touch, self._cost[direction]))
        saved = _getcontext()
        _setcontext(_EXACT)  # the exact context, as _exactly sets it (inline: a report settles here)
        try:
            smallest = self._smallest(direction, units, inv, fees, ev)
            if smallest is None:  # a cap rules the smallest size out: the general path says which
                read: list = [1, False, None]
                made = self._direction_uncached(direction, units, inv, fees, read, True, True)
                span = tuple(read)
            else:
                made, span = smallest  # made in ``ev`` itself
        finally:
            _setcontext(saved)
        if era == self._era:
            memo = self._memo
            if len(memo) >= _NO_EDGE_KEPT:
                self._forget()
            memo[key] = (inv, units[:span[0]], span[1], span[2], ev)
        return made

    def _smallest(self, direction: Direction, units, inv: Inventory, fees: _Fees,
                  into: Evaluation | None = None) -> tuple[Evaluation, tuple] | None:
        """A hopeless direction's smallest size priced straight (what :meth:`_search` does for it, without a search):
        its evaluation (made in ``into`` when given) and the span its walk read (as ``span`` there); None when a cap
        rules the size out.

        Call in the exact context."""
        at, found, span, _ = self._walk_smallest(direction, units, inv)
        if found is None:
            return None
        return self._chosen(direction, found, at, fees, False, "", into), span

    def _walk_smallest(self, direction: Direction, units, inv: Inventory
                       ) -> tuple[_Touch, tuple | None, tuple, tuple | None]:
        """The smallest size of a direction with an edge at its touch (``units``, one level at least): its touch's
        facts, what :meth:`_search` finds of it ``(k, value, worst price, quote, level)`` (None when a cap rules it
        out: the inventory, the CEX depth within the slippage cap, the pool's liquidity or impact), the span of
        the book side this read, as :meth:`_direction`'s memo keeps it ``(levels, all of them, what the last must
        hold)``, and, when the inventory is what rules it out, which of its checks did (``("sol",)``, ``("base",)``,
        ``("quote", worst price, pool quote)``; None otherwise): the one inventory cap of the smallest size, which
        :meth:`shortfall` reports."""
        buy_cex = direction is Direction.BUY_CEX_SELL_DEX
        t = units[0][0]
        at = self._at_touch.get((direction, t))
        if at is None:
            at = self._touch_facts(direction, t)
        limits = self._inventory_limits(direction, inv)
        kmin = at.kmin
        if limits.sol_have is not None:
            return at, None, (0, False, None), ("sol",)  # decided by the inventory alone
        if at.kmax < kmin:
            return at, None, (0, False, None), None  # decided by the touch alone (max notional)
        if limits.k_inv < kmin:
            return at, None, (0, False, None), ("base",)
        need, qf = self._s * kmin, self._qf
        limit, den = at.limit, self._slip[0]
        before = value_before = 0  # base and value of the levels wholly taken
        level = -1
        for level, (price, qty) in enumerate(units):  # noqa: B007 - the level the walk stops in is read below
            if (price * den > limit) if buy_cex else (price * den < limit):
                return at, None, (level + 1, False, None), None  # the slippage cap leaves less than the smallest size
            qty *= qf
            if before + qty >= need:
                break
            before += qty
            value_before += qty * price
        else:
            return at, None, (len(units), True, None), None  # the book holds less than the smallest size
        value = value_before + (need - before) * price
        whole = level + 1 == len(units)
        span = (level + 1, whole, None if whole else -(-(need - before) // qf))
        cache = self._sell if buy_cex else self._buy
        quote = cache.get(kmin)
        if quote is None:
            quote = cache[kmin] = self._quote_size(Side.SELL if buy_cex else Side.BUY, kmin)
        if isinstance(quote, _NoQuote) or quote.over_cap:
            return at, None, span, None
        # a CEX buy holds its limit (the highest ask walked) x size with the fee: what the venue checks it against
        if (need * price * self._rate_buy if buy_cex else quote.quote_units * self._amount_scale) > limits.have:
            return at, None, span, ("quote", price, quote)
        return at, (kmin, value, price, quote, level), span, None

    def shortfall(self, direction: Direction, book: BookUpdate, inventory: Inventory) -> Shortfall | None:
        """What the inventory lacks for ``direction``'s smallest size on this book and pool state, by the very check
        that caps the size (:meth:`_walk_smallest`): the venue, the asset, what it holds and what that size needs
        of it (a CEX buy: its limit, the highest ask walked, x size with the CEX fee; a DEX buy: the pool's quote;
        the SOL fees on the DEX wallet). None when the inventory allows it, or when something else rules it out
        first (no pool, no level on that side, the book's depth within the slippage cap, the pool)."""
        if self._mid is None:
            return None
        pd = book.price_decimals
        if pd != self._gate_pd or book.qty_decimals != self._gate_qd:
            self._gates(pd, book.qty_decimals)
        buy_cex = direction is Direction.BUY_CEX_SELL_DEX
        units = book.ask_units if buy_cex else book.bid_units
        if not units:
            return None
        with localcontext(_EXACT):
            if buy_cex and self._cex_buy_fits(units[0][0], inventory):
                return None
            at, _, _, short = self._walk_smallest(direction, units, inventory)
            if short is None:
                return None
            settings, fees_sol, q = self.settings, self._cost[direction].fees_sol, self._step * at.kmin
            if short[0] == "sol":
                have = self._inventory_limits(direction, inventory).sol_have
                assert have is not None
                return Shortfall(str(direction), settings.dex, SOL, have, fees_sol)
            if short[0] == "base":
                if buy_cex:  # the DEX wallet sells the size, and pays the SOL fees from it when SOL is the base
                    return Shortfall(str(direction), settings.dex, self.base, inventory.dex_base,
                                     q + (fees_sol if self.base == SOL else ZERO))
                return Shortfall(str(direction), settings.cex, self.base, inventory.cex_base, q)
            _, price, quote = short
            if buy_cex:
                need = q * from_units(price, pd) * self._one_plus_fee
                return Shortfall(str(direction), settings.cex, self.quote, inventory.cex_quote, need)
            return Shortfall(str(direction), settings.dex, self.quote, inventory.dex_quote,
                             quote.amount + (fees_sol if self.quote == SOL else ZERO))

    def _cex_buy_fits(self, t: int, inventory: Inventory) -> bool:
        """Whether buying on the CEX at the touch ``t`` can lack no inventory for its smallest size, told without
        walking the book or quoting the pool (:meth:`shortfall` after every fill: most find plenty): the SOL fees
        and the DEX's base are there, and the CEX's quote holds the smallest size at the highest price its walk may
        reach (``floor(limit / den)``: a level is walked while ``price x den <= limit``) with the fee, so the
        walk's own check (the level reached x size x ``1 + fee``) cannot fail. False: ask the walk. Call in the
        exact context."""
        at = self._at_touch.get((Direction.BUY_CEX_SELL_DEX, t))
        if at is None:
            at = self._touch_facts(Direction.BUY_CEX_SELL_DEX, t)
        limits = self._inventory_limits(Direction.BUY_CEX_SELL_DEX, inventory)
        kmin = at.kmin
        if limits.sol_have is not None:
            return False
        if at.kmax < kmin:  # no size under max_notional: the walk says None before any inventory check
            return True
        return (limits.k_inv >= kmin
                and self._s * kmin * (at.limit // self._slip[0]) * self._rate_buy <= limits.have)

    def tradable(self, direction: Direction, book: BookUpdate, inventory: Inventory) -> bool | None:
        """Whether :meth:`edges` decides ``direction`` tradable on this book and pool state, when that is cheap to
        tell; None when only its size search can (then ask it). For a caller that needs only to know that an episode
        goes on as it was decided (a tradable one that cannot act, waiting for its cooldown or an execution; one
        that no size can trade), on a touch where the direction has an edge (:meth:`touch` says OPEN).

        Told by the evaluation :meth:`edges` made of the same inputs when it is kept, else on integers by the
        smallest size: tradable when it clears ``min_edge_bps`` within every cap (the search looks for the best
        clearing size from there), not when a cap rules it out (and so every size: caps hold for a prefix of the
        ladder); the net is :meth:`_search`'s ``net_of`` for that size. No evaluation is made: what is kept is the
        answer (beside the evaluations, against the levels its walk read) and the caches :meth:`edges` fills (the
        touch's facts, the pool's quote of that size)."""
        if self._mid is None:
            return None
        pd = book.price_decimals
        if pd != self._gate_pd or book.qty_decimals != self._gate_qd:
            self._gates(pd, book.qty_decimals)
        buy_cex = direction is Direction.BUY_CEX_SELL_DEX
        units = book.ask_units if buy_cex else book.bid_units
        if not units:
            return None
        touch = (book.best_bid_units, book.best_ask_units) if self._sol_price is None else None
        key = (direction, touch, units[0][0])
        memo = self._memo
        if memo:
            kept = memo.get(key)  # the evaluation edges made of these inputs
            if kept is not None and _remembered(kept, units, inventory):
                return kept[4].tradable
            kept = memo.get(key + (None,))  # what this told of them
            if kept is not None and _remembered(kept, units, inventory):
                return kept[4]
        fees = self._fees_at(touch, direction)
        told: bool | None = False
        saved = _getcontext()
        _setcontext(_EXACT)  # as _exactly does (inline: an episode's tick asks here)
        try:
            at, found, span, _ = self._walk_smallest(direction, units, inventory)
            if found is not None:
                k, value, _, quote, _ = found
                amount = quote.quote_units * self._amount_scale
                fixed = self._fixed_scaled(fees)
                if buy_cex:
                    net = amount - value * self._rate_buy - at.hk * k - fixed
                else:
                    net = value * self._rate_sell - amount - at.hk * k - fixed
                told = True if net > at.floor_k * k else None
        finally:
            _setcontext(saved)
        if len(memo) >= _NO_EDGE_KEPT:
            self._forget()
        # kept beside the evaluations, against the levels the walk read: the next ticks that leave them (and the
        # touch) as they are get the same answer for a look-up
        self._memo[key + (None,)] = (inventory, units[:span[0]], span[1], span[2], told)
        return told

    def _later(self, direction: Direction, tradable: bool, make: Callable[[Evaluation], Evaluation]) -> Evaluation:
        """An unsettled evaluation with an edge (see :class:`Evaluation`), made on this pool state by ``make``."""
        ev = _new_evaluation(_Unsettled)  # _unsettled, inline: most ticks make one
        ev.direction, ev.tradable, ev.edge, ev._make = direction, tradable, True, make
        ev.cex_side, ev.dex_side = _SIDES[direction]
        pending = self._pending
        if len(pending) >= self._prune_at:  # a pool state that lasts: keep only what may still be read
            pending = self._pending = _held(pending)
            self._prune_at = max(_NO_EDGE_KEPT, 2 * len(pending))
        pending.append(ev)
        return ev

    def _forget(self) -> None:
        """Drop the memo, and the unsettled evaluations nobody else holds (nobody can read them any more)."""
        self._memo.clear()
        self._pending = _held(self._pending)

    def _settle_held(self) -> None:
        """Before the pool state or the book's decimals change: settle the unsettled evaluations someone still
        holds (a deferred report, a caller), on the state they were decided on; the others are dropped."""
        if self._memo:
            self._memo = {}
        self._era += 1
        self._prune_at = _NO_EDGE_KEPT
        pending = self._pending
        if pending:  # (an empty list is kept: no new one per pool state)
            self._pending = []
            for ev in pending:
                if ev._make is not None and getrefcount(ev) > _HELD:
                    ev.size  # noqa: B018 - settles it

    def _no_edge_at_touch(self, direction: Direction, t: int, price_decimals: int) -> Evaluation:
        """No edge at the touch ``t``: the same touch gives the same evaluation while the pool stands (kept).

        Unsettled: its gross edge and reason are made when read (the pool mid they need is taken along)."""
        found = self._no_edge_at.get((direction, t))
        if found is None:
            if len(self._no_edge_at) >= _NO_EDGE_KEPT:
                self._no_edge_at.clear()
            found = self._no_edge_at[(direction, t)] = _unsettled(
                direction, False, False, partial(self._no_edge, direction, t, price_decimals, self._priced_mid))
        return found

    def _no_edge(self, direction: Direction, t: int, price_decimals: int, mid: Decimal, _: Evaluation) -> Evaluation:
        """No edge at the touch (the gate said so): size 0, the gross edge (<= 0) for the record."""
        buy_cex = direction is Direction.BUY_CEX_SELL_DEX
        with localcontext(_EXACT):
            touch = from_units(t, price_decimals)
            edge, ref = (mid - touch, touch) if buy_cex else (touch - mid, mid)
            return self._nothing(direction, partial(_no_edge_reason, buy_cex, touch, mid),
                                 _DISPLAY.divide(edge * BPS, ref))

    def _direction_uncached(self, direction: Direction, units, inv: Inventory, fees: _Fees,
                            span: list, hopeless: bool, now: bool = False) -> Evaluation:
        """Price a direction that has an edge at the touch, on the book side's integer levels.

        ``units``: ``(price_units, qty_units)`` best first (one level at least), in the decimals :meth:`_gates`
        was made for. What depends only on the touch (its Decimal, the gross edge, the ladder's bounds, the haircut
        and the min-edge floor per ladder step as integers) is kept per touch and pool state; what
        depends on the inventory, per inventory. ``hopeless``: the marginal check at the touch failed
        (decided on integers by :meth:`_gates`): the first base unit's PnL bounds every size's PnL per
        unit (a pool pays out at most mid x (1 - fee) and charges at least mid x (1 + fee); a book
        walk only gets worse), so no size can clear min_edge_bps and only the smallest is priced, to
        show why. ``now``: make the figures now (an unsettled evaluation is being settled), else the
        evaluation handed back may make them when read (see :meth:`_search`).
        """
        buy_cex = direction is Direction.BUY_CEX_SELL_DEX
        at = self._at_touch.get((direction, units[0][0]))
        if at is None:
            at = self._touch_facts(direction, units[0][0])
        limits = self._inventory_limits(direction, inv)
        kmax, static_cap = at.kmax, "max notional"
        if limits.sol_have is not None:
            return self._nothing(direction, partial(self._why_no_sol, at.gross_bps, limits.sol_have,
                                                    self._cost[direction]), at.gross_bps, "inventory")
        if limits.k_inv < kmax:
            kmax, static_cap = limits.k_inv, "inventory"
        if kmax < at.kmin:
            return self._nothing(direction, partial(self._why_no_size, buy_cex, at, static_cap, inv), at.gross_bps,
                                 static_cap)
        return self._search(direction, units, inv, at, limits, fees, kmax, static_cap, hopeless, span, now)

    def _touch_facts(self, direction: Direction, t: int) -> _Touch:
        """What pricing a direction reads of its touch ``t`` (price units), kept for this pool state."""
        if self._unscaled is not None:  # the first on this pool state (or book decimals)
            self._scales(self._unscaled)
        pd = self._gate_decimals[0] if self._gate_decimals else 0
        touch, mid = _times(t, _UNIT[pd]), self._priced_mid
        kmin = self._kmin
        if self._min_notional_units:
            if direction is Direction.BUY_CEX_SELL_DEX:
                kmin = max(kmin, -(-self._min_notional_units // t))
            else:
                kmin = max(kmin, self._min_sell_k(touch))
        slip_den, slip_num = self._slip
        if direction is Direction.BUY_CEX_SELL_DEX:
            # a level is walked while price <= touch x (1 + slippage): price x den <= limit
            at = _Touch(touch, touch, _DISPLAY.divide((mid - touch) * BPS, touch), kmin, self._notional_units // t,
                        t * self._hk_per_t, t * self._floor_per_t, t * (slip_den + slip_num),
                        self._bound_sell - t * self._bound_per_t)
        else:  # price >= touch x (1 - slippage)
            at = _Touch(touch, mid, _DISPLAY.divide((touch - mid) * BPS, mid), kmin, self._kmax_dex, self._hk_dex,
                        self._floor_dex, t * (slip_den - slip_num), self._bound_buy)
        if len(self._at_touch) >= _NO_EDGE_KEPT:
            self._at_touch.clear()
        self._at_touch[(direction, t)] = at
        return at

    def _min_sell_k(self, touch: Decimal) -> int:
        """The fewest steps a CEX sell at ``touch`` may have: the venue checks ``min_notional`` against the IOC's
        limit x size, and the limit is the lowest bid walked, as low as ``touch x (1 - max_cex_slippage_bps)``."""
        with localcontext(_EXACT):
            lowest = touch * (1 - self._slippage)
            if lowest <= 0:
                return self._kmin
            return int((self.market.min_notional / (lowest * self._step)).to_integral_value(ROUND_CEILING))

    def _inventory_limits(self, direction: Direction, inv: Inventory) -> _Limits:
        """What the inventory allows a direction: the ladder's top, the SOL short of the fees (None: enough)
        and the quote the buy leg may spend, as an integer of the pricing scale (floored: an integer
        amount exceeds it exactly when it exceeds the Decimal)."""
        kept = self._limits
        if kept is not None and kept[1] == self._e and (kept[0] is inv or kept[0] == inv):
            found = kept[2].get(direction)
            if found is not None:
                return found
        else:
            kept = self._limits = (inv, self._e, {})
        step, fees_sol = self._step, self._cost[direction].fees_sol
        sol_in_base, sol_in_quote = self.base == SOL, self.quote == SOL
        sol_have = None  # SOL on the DEX wallet when it falls short of the swap's fees
        if direction is Direction.BUY_CEX_SELL_DEX:  # the DEX wallet sells the base, the CEX account pays
            k_inv = max(0, int((inv.dex_base - (fees_sol if sol_in_base else 0)) // step))
            if sol_in_quote and inv.dex_quote < fees_sol:
                sol_have = inv.dex_quote
            have = inv.cex_quote
        else:  # the CEX account sells the base, the DEX wallet pays (and its SOL fees when SOL is the quote)
            k_inv = int(inv.cex_base // step)
            if sol_in_base and inv.dex_base < fees_sol:
                sol_have = inv.dex_base
            have = inv.dex_quote - (fees_sol if sol_in_quote else ZERO)
        if not (sol_in_base or sol_in_quote) and inv.dex_sol is not None and inv.dex_sol < fees_sol:
            sol_have = inv.dex_sol
        limits = kept[2][direction] = _Limits(k_inv, sol_have, int(have.scaleb(self._e).to_integral_value(ROUND_FLOOR)))
        return limits

    def _why_no_sol(self, gross_bps: Decimal, sol_have: Decimal, cost: _SwapCost) -> str:
        fees = "network and priority fees and the account rent" if cost.rent_sol else "network and priority fees"
        return (f"gross edge {_show_bps(gross_bps)} bps, but the DEX wallet has {sol_have} SOL free; the {fees} "
                f"need {_show(cost.fees_sol)}")

    def _why_no_size(self, buy_cex: bool, at: _Touch, static_cap: str, inv: Inventory) -> str:
        settings, q = self.settings, self._step * at.kmin
        if static_cap == "max notional":
            why = (f"max_notional {settings.max_notional} {self.quote} buys less than the smallest size "
                   f"{q} {self.base} at {_show(at.ref)}")
        elif buy_cex:
            fees_sol = self._cost[Direction.BUY_CEX_SELL_DEX].fees_sol
            why = f"the DEX wallet has {inv.dex_base} {self.base} free; the smallest size is {q}" + (
                f" plus {_show(fees_sol)} SOL of fees" if self.base == SOL else "")
        else:
            why = f"the CEX account has {inv.cex_base} {self.base} free; the smallest size is {q}"
        return f"gross edge {_show_bps(at.gross_bps)} bps, but {why}"

    def _search(self, direction: Direction, units, inv: Inventory, at: _Touch, limits: _Limits,
                fees: _Fees, kmax: int, static_cap: str, hopeless: bool,
                span: list, now: bool) -> Evaluation:
        """The size netting the most among those clearing min_edge_bps, inside the caps, on integers.

        Every amount is an integer of one scale (``10**-self._e`` quote, :meth:`_gates`) in which the
        book walk, the pool's quotes, the fees, the haircut and the min-edge floor are all exact, so
        each comparison decides as the exact Decimal one would (the reference in the tests).

        Net PnL is a concave function plus pool rounding of at most ``slack``, so a step gaining
        ``slack`` or more (``net(m) - net(m-1) >= slack``) proves every smaller size worse than
        ``m``, and one losing ``slack`` or more proves every size from ``m`` up worse than ``m - 1``:
        a bisection on the slope finds the best size with O(log n) pool quotes. Where neither holds
        (a flat top), the sizes around are priced one by one until the slope is clear on both
        sides. When that size does not clear min_edge_bps, the best one that does is searched below
        it the same way. ``hopeless`` (or a bound from the book alone showing that no size can
        clear): only the smallest size is priced, to show why.

        Unless ``now``, the evaluation is handed back unsettled: its Decimal figures made when read,
        and, when the smallest size already clears min_edge_bps (tradable: a best size clearing it
        exists), the search itself too (:meth:`_settle_search`).
        """
        buy_cex = direction is Direction.BUY_CEX_SELL_DEX
        walk_once = hopeless  # no marginal edge: only the smallest size is walked (the bound below is not run)
        kmin = at.kmin
        s, qf = self._s, self._qf
        # the CEX levels within the slippage cap, with running sums (base in 10**-qb, value in 10**-(pd+qb))
        # for pricing any size; summed as far as a size needs (a hopeless tick needs only the smallest)
        limit, den = at.limit, self._slip[0]
        cum_qty: list[int] = []
        cum_value: list[int] = []
        prices: list[int] = []
        total_qty = total_value = 0
        n_levels, next_level = len(units), 0

        def extend(q: int) -> None:
            nonlocal total_qty, total_value, next_level
            while total_qty < q and next_level < n_levels:
                price, qty = units[next_level]
                if (price * den > limit) if buy_cex else (price * den < limit):
                    span[0] = next_level + 1
                    next_level = n_levels
                    return
                next_level += 1
                span[0] = next_level
                if next_level == n_levels:
                    span[1] = True  # whatever comes next depends on there being no more levels
                qty *= qf
                total_qty += qty
                total_value += qty * price
                cum_qty.append(total_qty)
                cum_value.append(total_value)
                prices.append(price)

        if buy_cex:
            cache, dex_side, rate = self._sell, Side.SELL, self._rate_buy
        else:
            cache, dex_side, rate = self._buy, Side.BUY, self._rate_sell
        quote_have, amount_scale = limits.have, self._amount_scale
        fixed = self._fixed_scaled(fees)
        hk = at.hk
        if not hopeless and not now:
            # (``now`` and not hopeless: a direction decided tradable at its smallest size is being settled, so this
            # bound, run when it was decided, passed; the sizes' walk below reads the levels it needs)
            # An upper bound without the pool: it pays out at most mid x (1 - fee) per base unit
            # (charges at least mid x (1 + fee)), so net(q) - min edge <= a concave, piecewise-linear
            # function of the book walk, largest at a level's end or the ladder's end. At or below
            # the SOL fees: no size can clear.
            q_lo, q_hi = s * kmin, s * kmax
            extend(q_hi)
            q_hi = min(q_hi, total_qty)
            if q_lo <= q_hi:  # the smallest size, then each level's end below the largest, then the largest
                per_unit = at.per_unit
                i = bisect_left(cum_qty, q_lo)
                value = (cum_value[i - 1] + (q_lo - cum_qty[i - 1]) * prices[i]) if i else q_lo * prices[0]
                bound = (q_lo * per_unit - value * rate) if buy_cex else (value * rate - q_lo * per_unit)
                j, ends = (i + 1 if cum_qty[i] == q_lo else i), len(cum_qty)
                q = q_lo
                while q < q_hi:
                    if j < ends and cum_qty[j] < q_hi:  # a level's end: its running sums are the walk's value there
                        q, value = cum_qty[j], cum_value[j]
                        j += 1
                    else:
                        q = q_hi
                        i = bisect_left(cum_qty, q)
                        value = (cum_value[i - 1] + (q - cum_qty[i - 1]) * prices[i]) if i else q * prices[0]
                    at_q = (q * per_unit - value * rate) if buy_cex else (value * rate - q * per_unit)
                    if at_q <= bound:
                        break  # concave: it only falls from here
                    bound = at_q
                if bound <= fixed:
                    hopeless = True
        nets: dict[int, int | None] = {}
        found: dict[int, tuple] = {}
        failures: dict[int, tuple[str, Callable[[], str]]] = {}  # size -> (the cap, why)
        # what a reason formatted later reads of this state (the book's decimals, the pool mid), bound now
        qb, pd, mid = self._qb, self._gate_decimals[0] if self._gate_decimals else 0, self._priced_mid

        def net_of(k: int) -> int | None:
            """Net PnL of size k (scaled), or None when a cap rules it out (caps hold for a prefix of the ladder)."""
            if k in nets:
                return nets[k]
            q = s * k
            if total_qty < q:
                extend(q)
            i = bisect_left(cum_qty, q)
            net = None
            if i == len(prices):
                failures[k] = ("cex depth", partial(self._why_depth, k, total_qty, qb))
            else:
                value = (cum_value[i - 1] + (q - cum_qty[i - 1]) * prices[i]) if i else q * prices[0]
                quote = cache.get(k)
                if quote is None:
                    quote = cache[k] = self._quote_size(dex_side, k)
                if isinstance(quote, _NoQuote):
                    failures[k] = ("dex liquidity", partial(self._why_liquidity, k, quote))
                elif quote.over_cap:
                    failures[k] = ("dex impact", partial(self._why_impact, k, quote, mid))
                else:
                    amount = quote.quote_units * amount_scale
                    if buy_cex:
                        # the venue holds the limit (this level's price) x size with the fee, not what it costs
                        if q * prices[i] * rate > quote_have:
                            failures[k] = ("inventory", partial(self._why_cex_quote, k, q * prices[i], pd + qb, inv))
                        else:
                            net = amount - value * rate - hk * k - fixed
                    elif amount > quote_have:
                        failures[k] = ("inventory", partial(self._why_dex_quote, k, quote, inv))
                    else:
                        net = value * rate - amount - hk * k - fixed
                if net is not None:
                    found[k] = (k, value, prices[i], quote, i)
            nets[k] = net
            return net

        kmin_net = net_of(kmin)
        if walk_once and not span[1] and total_qty >= s * kmin:
            # the walk stopped in the last level read, which matters only by holding what the size takes
            # (in the book's qty units, rounded up: a level holds it iff its units are >= this)
            span[2] = -(-(s * kmin - (cum_qty[-2] if len(cum_qty) > 1 else 0)) // qf)
        if kmin_net is None:
            cap, why = failures[kmin]
            return self._nothing(direction, partial(_but, at.gross_bps, why), at.gross_bps, cap)

        def search(into: Evaluation | None) -> Evaluation:
            """The size netting the most among those clearing min_edge_bps (the bisection on the slope below), its
            evaluation made in ``into`` when given (:meth:`_settle_search`)."""
            slack = self._slack_scaled

            def argmax(value, lo: int, hi: int, hint: int | None = None) -> int:
                """The smallest size in [lo, hi] with the largest ``value`` (None: ruled out by a cap).

                ``hint`` (the last tick's best size): gallop from it, 1, 2, 4... sizes at a time, while
                the slope keeps pointing the same way, then bisect what is left.
                """
                if hint is not None and lo < hint <= hi:
                    m, stride, heading = hint, 1, 0
                    while lo < m <= hi:
                        at_m = value(m)
                        before = value(m - 1) if at_m is not None else None
                        if at_m is None or before is None or abs(at_m - before) < slack:
                            break  # a cap or a flat top: the bisection below deals with it
                        up = at_m - before > 0
                        if heading and up != (heading > 0):
                            if up:
                                lo = m
                            else:
                                hi = m - 1
                            break
                        heading = 1 if up else -1
                        if up:
                            lo = m
                        else:
                            hi = m - 1
                        m += stride * heading
                        stride *= 2
                while lo < hi:
                    m = (lo + hi + 1) // 2
                    at_m = value(m)
                    if at_m is None:
                        hi = m - 1
                        continue
                    before = value(m - 1)
                    if before is None:  # m - 1 > lo, as lo is priced
                        hi = m - 2
                        continue
                    if at_m - before >= slack:
                        lo = m
                    elif at_m - before <= -slack:
                        hi = m - 1
                    else:  # a flat top around m: price outwards until the slope is clear
                        j = m - 1
                        while j > lo and value(j) - value(j - 1) < slack:
                            j -= 1
                        lo = j
                        j = m + 1
                        while j <= hi:
                            at_j = value(j)
                            if at_j is None or at_j - value(j - 1) <= -slack:
                                break
                            j += 1
                        hi = j - 1
                        break
                best, best_value = lo, value(lo)
                for k in range(lo + 1, hi + 1):
                    if value(k) > best_value:
                        best, best_value = k, value(k)
                return best

            def priced(k: int) -> int:
                """Net PnL of a size from kmin to ``top``: every cap holds there (caps hold for a prefix)."""
                net = net_of(k)
                if net is None:
                    raise AssertionError(f"size {k} <= {top} was ruled out by a cap")
                return net

            top = argmax(net_of, kmin, kmax, self._last_top.get(direction))
            self._last_top[direction] = top
            top_net = priced(top)
            floor_unit = at.floor_k  # clearing min_edge_bps: net(k) > floor_unit x k
            limited_by = ""
            if top == kmax:
                limited_by = static_cap
            elif net_of(top + 1) is None:
                limited_by = failures[top + 1][0]
            if top_net > floor_unit * top or top_net <= 0:
                # the best size clears min_edge_bps; or nets nothing, and then no smaller size clears it
                return chosen(found[top], top_net > floor_unit * top, limited_by, into)

            # min_edge_bps binds: the best size that clears it is below ``top`` (a larger one netting
            # more than floor_unit x k would net more than ``top``). g(k) = net(k) - floor_unit x k is
            # concave too: find its top, then the last size where it is still positive
            def margin(k: int) -> int:  # only asked for sizes from kmin to top
                return priced(k) - floor_unit * k

            lo = argmax(margin, kmin, top)
            if margin(lo) <= 0:  # nothing clears: report the size netting the most
                return chosen(found[top], False, limited_by, into)
            hi = top  # margin(lo) > 0 >= margin(hi)
            while hi - lo > 1:
                m = (lo + hi) // 2
                if margin(m) > 0:
                    lo = m
                else:
                    hi = m
            clearing = [lo]
            # upwards: rounding may let a size past the crossing clear; stop where margin is <= 0 and falls
            # by slack or more (every larger size then has a margin below it)
            j = lo + 1
            while j < top and not (margin(j) <= 0 and margin(j + 1) - margin(j) <= -slack):
                j += 1
                if margin(j) > 0:
                    clearing.append(j)
            # downwards: net still rising by slack or more at j proves every smaller size nets less than j
            j = lo
            while j > kmin and not (priced(j) - priced(j - 1) >= slack and margin(j) > 0):
                j -= 1
                if margin(j) > 0:
                    clearing.append(j)
            best = min(clearing, key=lambda k: (-priced(k), k))
            return chosen(found[best], True, "min edge", into)

        def chosen(size: tuple, tradable: bool, limited_by: str, into: Evaluation | None = None) -> Evaluation:
            """The evaluation of the chosen size: its figures made now (``now``), or in ``into`` (an unsettled
            evaluation being settled), else when first read."""
            if now or into is not None:
                return self._chosen(direction, size, at, fees, tradable, limited_by, into)
            return self._later(direction, tradable,
                               partial(self._chosen_exactly, direction, size, at, fees, tradable, limited_by))

        if hopeless:
            return chosen(found[kmin], False, "")
        if not now and kmin_net > at.floor_k * kmin:
            # the smallest size clears min_edge_bps: tradable. Which size nets the most is searched when the
            # figures are read, on from here (:meth:`_settle_search`): the walk above read every level the sizes
            # up to kmax need (the bound ran), and the smallest size is priced
            return self._later(direction, True, partial(self._settle_search, search))
        return search(None)

    def _chosen_exactly(self, direction: Direction, found: tuple, at: _Touch, fees: _Fees, tradable: bool,
                        limited_by: str, into: Evaluation) -> Evaluation:
        """:meth:`_chosen` made when first read (in the exact context), in the unsettled evaluation ``into``."""
        return _exactly(self._chosen, direction, found, at, fees, tradable, limited_by, into)

    @staticmethod
    def _settle_search(search: Callable[[Evaluation | None], Evaluation], into: Evaluation) -> Evaluation:
        """The size search of a direction found tradable at its smallest size, run when its figures are first read:
        on from where its decision stopped (``search``, :meth:`_search`'s: the levels walked and the smallest size
        priced are those of the decision), its figures made in the unsettled evaluation ``into`` (which checks that
        the size found is tradable: one clearing min_edge_bps exists, the search finds the best one that does)."""
        return _exactly(search, into)

    def _chosen(self, direction: Direction, found: tuple, at: _Touch, fees: _Fees,
                tradable: bool, limited_by: str, into: Evaluation | None = None) -> Evaluation:
        """The evaluation of the size the search chose: its figures made in Decimal (the edge of the hot path), in
        ``into`` when given."""
        k, value, worst, quote, level = found
        if level == 0:  # the size is taken from the touch alone: its value is the Decimal product size x touch (its
            # exponent the sum of theirs: the same figures, ids and stored text as before the search ran on
            # integers), its worst price the touch, and so is its average price: value / size, the 28-digit quotient
            # of that product by the size, is the touch itself, digits and exponent (the ideal exponent of an exact
            # quotient) when the touch's units have at most 28 digits (a book price always has)
            touch = at.touch
            return self._breakdown(direction, (k, self._step * k * touch, touch, quote), touch, at.ref,
                                   self._fee_pair(fees), at.gross_bps, tradable, limited_by, into,
                                   touch if worst < _DISPLAY_UNITS else None)
        pd = self._gate_decimals[0] if self._gate_decimals else 0
        chosen = (k, _times(value, _UNIT[pd + self._qb]), _times(worst, _UNIT[pd]), quote)
        return self._breakdown(direction, chosen, at.touch, at.ref, self._fee_pair(fees), at.gross_bps, tradable,
                               limited_by, into)

    def _fixed_scaled(self, fees: _Fees) -> int:
        """The SOL fees in quote as an integer of the pricing scale ``e``: ``lamports x SOL price / 10**9``,
        the SOL price being the CEX mid ``(bid + ask) / 2`` (else the one touch there is, else the pool
        mid) when SOL is the base, else the fixed one."""
        e = self._e
        kept = fees.scaled
        if kept is not None and kept[0] == e:
            return kept[1]
        bid, ask = fees.touch if fees.touch is not None else (None, None)
        shift = e - 9 - (self._gate_decimals[0] if self._gate_decimals else 0)  # >= 1: see _scales
        cost = fees.cost
        if self._sol_price is not None:
            fixed = _scaled(cost.fees_sol * self._sol_price, e)
        elif bid is not None and ask is not None:
            fixed = cost.lamports * (bid + ask) * 10**shift // 2  # exact: 10**shift is even
        elif bid is not None:
            fixed = cost.lamports * bid * 10**shift
        elif ask is not None:
            fixed = cost.lamports * ask * 10**shift
        else:
            fixed = _scaled(cost.fees_sol * self._priced_mid, e)
        fees.scaled = (e, fixed)
        return fixed

    def _fee_pair(self, fees: _Fees) -> tuple[Decimal, Decimal, Decimal]:
        """The (network, priority, account rent) fees in quote as Decimals, for an evaluation's costs (call in the
        exact context)."""
        pair = fees.pair
        if pair is None:
            bid, ask = fees.touch if fees.touch is not None else (None, None)
            pd = self._gate_decimals[0] if self._gate_decimals else 0
            cost = fees.cost
            if self._sol_price is not None:
                sol = self._sol_price
            elif bid is not None and ask is not None:  # the CEX mid: kept per (bid + ask): a mid comes back
                key = (bid + ask, pd)
                pairs = cost.pairs
                pair = pairs.get(key)
                if pair is None:
                    if len(pairs) >= _NO_EDGE_KEPT:
                        pairs.clear()
                    pair = pairs[key] = cost.in_quote(from_units(bid + ask, pd) / 2)
                fees.pair = pair
                return pair
            elif bid is not None:
                sol = from_units(bid, pd)
            elif ask is not None:
                sol = from_units(ask, pd)
            else:
                sol = self._mid or ZERO
            pair = fees.pair = cost.in_quote(sol)
        return pair

    # the reasons a size is ruled out, formatted only when read: each takes along what it reads of the book's
    # decimals and the pool state (either may have changed by then)

    def _why_depth(self, k: int, total_qty: int, qb: int) -> str:
        return (f"the CEX book has only {_show(from_units(total_qty, qb))} {self.base} within "
                f"{self.settings.max_cex_slippage_bps} bps of the touch, less than {self._step * k}")

    def _why_liquidity(self, k: int, quote: _NoQuote) -> str:
        return f"the pool cannot fill {self._step * k} {self.base}: {quote.why}"

    def _why_impact(self, k: int, quote: _Quote, mid: Decimal) -> str:
        q = self._step * k
        return (f"the pool's price impact for {q} {self.base} is {_show_bps(_bps(quote.impact, q * mid))} "
                f"bps > max_dex_impact_bps {self.settings.max_dex_impact_bps}")

    def _why_cex_quote(self, k: int, value: int, value_decimals: int, inv: Inventory) -> str:
        """``value``: the buy's limit x size (what the venue holds for it, with the fee)."""
        spend = _EXACT.multiply(from_units(value, value_decimals), self._one_plus_fee)
        return (f"the CEX account has {inv.cex_quote} {self.quote} free; buying {self._step * k} {self.base} "
                f"needs {_show(spend)}")

    def _why_dex_quote(self, k: int, quote: _Quote, inv: Inventory) -> str:
        fees_sol = self._cost[Direction.BUY_DEX_SELL_CEX].fees_sol
        return (f"the DEX wallet has {inv.dex_quote} {self.quote} free; buying {self._step * k} {self.base} needs "
                f"{quote.amount}" + (f" plus {_show(fees_sol)} SOL of fees" if self.quote == SOL else ""))

    def _breakdown(self, direction: Direction, chosen, touch: Decimal, ref: Decimal,
                   fees: tuple[Decimal, Decimal, Decimal],
                   gross_bps: Decimal, tradable: bool, limited_by: str, into: Evaluation | None = None,
                   avg_price: Decimal | None = None) -> Evaluation:
        """The evaluation of a size: every figure in Decimal; made in ``into`` (an unsettled evaluation of the same
        decision, settled by it) when given. ``avg_price``: the CEX leg's average price when the caller knows it
        (else the value over the size)."""
        k, cex_value, worst, quote = chosen
        buy_cex = direction is Direction.BUY_CEX_SELL_DEX
        mid = self._priced_mid
        q = self._step * k
        notional = q * ref
        cex_fee = cex_value * self._cex_fee
        haircut = self._haircut * notional
        network, priority, rent = fees
        if buy_cex:
            gross = q * (mid - touch)
            slippage = cex_value - q * touch
            net = quote.amount - cex_value - cex_fee - network - priority - haircut
        else:
            gross = q * (touch - mid)
            slippage = q * touch - cex_value
            net = cex_value - cex_fee - quote.amount - network - priority - haircut
        if rent:  # a swap creating its output token account: listed only then (most swaps have it already)
            net -= rent
            costs: tuple[tuple[str, Decimal], ...] = (
                ("cex fee", cex_fee), ("cex slippage", slippage), ("dex fee", quote.fee), ("dex impact", quote.impact),
                ("network fee", network), ("priority fee", priority), ("account rent", rent),
                ("latency haircut", haircut))
        else:
            costs = (("cex fee", cex_fee), ("cex slippage", slippage), ("dex fee", quote.fee),
                     ("dex impact", quote.impact), ("network fee", network), ("priority fee", priority),
                     ("latency haircut", haircut))
        net_bps = _DISPLAY.divide(net * BPS, notional)  # _bps, inline
        if quote.limit is None:  # once per ladder size and pool state
            self._settle(quote, buy_cex, q)
        limit_price, limit_quote = quote.limit
        why = "" if tradable else partial(self._reason, q, gross_bps, costs, net, notional)
        if avg_price is None:
            avg_price = _DISPLAY.divide(cex_value, q)
        if into is None:
            cex_side, dex_side = _SIDES[direction]
            into = _new_evaluation(Evaluation)
            _init_evaluation(into, direction, q, cex_side, worst, avg_price, dex_side, limit_price, quote, gross,
                             costs, net, net_bps, tradable, why, gross_bps, notional, limit_quote, limited_by,
                             gross_bps > ZERO)
            return into
        # an unsettled evaluation of this decision: its direction, sides, tradable and edge are set; only its figures
        # are (what __init__ would set of them, without setting the decision again)
        if tradable is not into.tradable:  # the same inputs decide the same: anything else is a bug
            raise AssertionError(f"{direction} decided {'' if into.tradable else 'not '}tradable, its figures say "
                                 f"otherwise: {why() if callable(why) else why}")
        # _set_figures, inline (a published opportunity's every evaluation comes here): no tuple, no call
        into.__class__ = Evaluation
        into.size = q
        into.cex_limit_price = worst
        into.cex_avg_price = avg_price
        into.dex_limit_price = limit_price
        into._swap = quote
        into.gross_pnl = gross
        into.costs = costs
        into.net_pnl = net
        into.net_bps = net_bps
        into.why = why
        into.gross_bps = gross_bps
        into.notional = notional
        into.dex_limit_quote = limit_quote
        into.limited_by = limited_by
        into._make = None
        return into

    def _settle(self, quote: _Quote, buy_cex: bool, q: Decimal) -> None:
        """A ladder size's swap limits, once per pool state (in the exact context), and what its estimate is made
        of when read (:meth:`_Quote.swap_estimate`)."""
        # minimum out (we sell) rounded down, and so is the average price it is written as; maximum in rounded up.
        # The price is limit_quote / q in the pool's price exponent 10**-(qd + bd): with
        # limit_quote = units / 10**qd and q = base_units / 10**bd, that is units x 10**(2 bd) / base_units of it,
        # rounded on integers (the Decimal quotient, quantized, is the same number with the same exponent)
        qd, bd = self._quote_decimals, self._base_decimals
        units = _limit_units(quote.quote_units, self._tolerance_ratio, buy_cex)
        limit_quote = _times(units, _UNIT[qd])
        scaled = units * 10 ** (2 * bd)
        limit_price = _times(scaled // quote.base_units if buy_cex else -(-scaled // quote.base_units), _UNIT[qd + bd])
        quote.sell, quote.size, quote.mid = buy_cex, q, self._priced_mid
        quote.limit = (limit_price, limit_quote)

    def _reason(self, q: Decimal, gross_bps: Decimal, costs, net: Decimal, notional: Decimal) -> str:
        """Why the best size does not clear min_edge_bps: the costs, largest first."""
        scale = _DISPLAY.divide(BPS, notional)  # quote -> bps of the buy leg
        ranked = [(amount, name) for name, amount in costs if amount > ZERO]
        ranked.sort(reverse=True)
        # each cost in bps as _show_bps writes a positive one (one decimal from 1 bps up, else two), without a call
        # per cost (a published opportunity's reason lists up to seven); a Decimal's text as str() writes it (!s: an
        # f-string would call its __format__, the same text at twice the cost)
        show = _display_quantize
        listing = ", ".join([f"{name} {show(bps := amount * scale, _TENTH if bps >= _ONE else _HUNDREDTH)!s}"
                             for amount, name in ranked])
        at = f"at {q!s} {self.base}: "
        edge, floor = _show_bps(gross_bps), self._min_edge_text
        if gross_bps <= self._min_edge:  # (most hopeless sides: the costs' total is not shown)
            return f"{at}gross edge {edge} bps <= min {floor} bps before any cost (costs {listing} bps)"
        total = ZERO  # summed in order, as sum(amounts, ZERO) would
        for _, amount in costs:
            total += amount
        text = (f"{at}gross edge {edge} bps less costs {_show_bps(total * scale)} bps ({listing} bps): "
                f"net {_show_bps(net * scale)} bps <= min {floor} bps")
        if ranked and (net + ranked[0][0]) * BPS > self._min_edge * notional:
            text += f"; the {ranked[0][1]} alone turns it"
        return text
