"""The one accounting: realized PnL (lots per strategy and market), unrealized, fees, periods.

Every figure a person or a risk check sees about profit comes from here:

- **Realized PnL: a closing order that names the lot it closes (a grid slot's sell) is matched to
  that lot, anything else FIFO per strategy and market.** A market is a symbol (``SOL/USDC``)
  across venues: an arbitrage that buys on one venue and sells on the other closes its own lot.
  Each lot remembers the client order id of the order that opened it. A fill whose order names
  another in ``closes`` (:attr:`bot.domain.OrderIntent.closes`) first closes the strategy's open lots
  of the other side that this order opened, as far as they go; then (and every other fill at once)
  the oldest lots of the other side. Realized PnL is ``(sell price - buy price) x qty`` of each
  matched quantity, before fees. What is left opens a lot (long for a buy, short for a sell).
- **Unrealized PnL** is each open lot marked to the current mid of its venue (else of any venue
  with a mid for the symbol); a lot without a mark counts 0.
- **Fees are shown apart** and converted to the quote asset: a fee in the quote asset as is, a fee
  in the base asset (a DEX's SOL network fee on SOL/USDC) at the fill's price. A fee in any other
  asset is kept in that asset (``other_fees``) and left out of ``net``. Lots keep the filled
  quantity: a base fee is an expense, not a smaller lot. The base a fee took is bought back by what the account buys
  while it holds no more than that base (an arbitrage's hedge of the SOL its pool fees took): the buy closes it,
  realizing what it was expensed at less what it cost, and opens no lot.
- **Fills are trades.** A fill of no quantity carries a fee alone (a DEX swap that landed on chain but failed
  paid its network fee): it counts in fees and so in ``net``, never among the fills (:func:`is_trade`); the
  figures count it apart (``fee_only``).
- **Periods** (day, week, month) start at midnight in the configured timezone
  (:func:`period_start_ns`); a period's figures are those of its fills, matched against lots that
  earlier fills opened.

Pure functions over ``(strategy, fill)`` pairs in time order, :class:`Position` for code that books
fills one at a time (the ``limits`` check), and :class:`Ledger`, which reads the store.
"""

from __future__ import annotations

import copy
import datetime as dt
import zoneinfo
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, Inexact, localcontext
from typing import TYPE_CHECKING, Any

from .domain import ZERO, ExecutionResult, Fill, Side, Transfer, TransferStatus, split_symbol

if TYPE_CHECKING:
    from .markouts import MarkoutFigures
    from .store import Store

NS = 1_000_000_000
EXACT_DIGITS = 200
"""Precision of the ledger's arithmetic: sums and products of stored amounts (a DEX price has ~50 digits) stay
exact, where Decimal's default 28 digits would round them."""
MIDNIGHT = dt.time(0, 0)
PAID_PLACES = Decimal("1e-150")
"""The quantum of what a venue's base fees paid away were expensed at once a part of them was bought back, when that
share has no exact decimal (a third of it)."""

Marks = Callable[[str, str], Decimal | None]
"""(exchange, symbol) -> current mid, or None when unknown."""



def predicted_for_filled(result: ExecutionResult) -> tuple[Decimal, bool]:
    """(``result``'s prediction for what it executed, whether it had to be rounded): ``predicted_pnl * filled /
    size`` when it gives both, else ``predicted_pnl`` (taken as being for what was executed). At the ledger's
    precision: exact whenever the quotient has a finite decimal expansion within it (a size in decimal lots filled in
    part), a third of a size filled rounded to 200 significant digits. The one rule every comparison of a prediction
    with its realized PnL uses (the ``prediction`` risk check, the backtest report's prediction error)."""
    if result.size is None or result.filled is None:
        return result.predicted_pnl, False
    with localcontext(prec=EXACT_DIGITS) as context:
        context.clear_flags()
        scaled = result.predicted_pnl * result.filled / result.size
        return scaled, bool(context.flags[Inexact])


def prediction_error(result: ExecutionResult) -> Decimal:
    """``result``'s realized PnL minus its prediction for what it executed (:func:`predicted_for_filled`), at the
    ledger's precision: the one error every surface shows for an execution (``arbot report``'s arbitrage section,
    the web console's executions, the backtest report)."""
    predicted, _ = predicted_for_filled(result)
    with localcontext(prec=EXACT_DIGITS):
        return result.realized_pnl - predicted

# --- days and periods --------------------------------------------------------------------------

def day_start_ns(now_ns: int, timezone: str, at: dt.time = MIDNIGHT) -> int:
    """The latest local time ``at`` (midnight by default) in ``timezone`` at or before ``now_ns``."""
    tz = zoneinfo.ZoneInfo(timezone)
    now = dt.datetime.fromtimestamp(now_ns // NS, tz)
    start = dt.datetime.combine(now.date(), at, tz)
    if start > now:
        start = dt.datetime.combine(now.date() - dt.timedelta(days=1), at, tz)
    return int(start.timestamp()) * NS


def next_day_start_ns(now_ns: int, timezone: str, at: dt.time = MIDNIGHT) -> int:
    """The first local time ``at`` in ``timezone`` strictly after ``now_ns`` (a daily reset)."""
    tz = zoneinfo.ZoneInfo(timezone)
    start = dt.datetime.fromtimestamp(day_start_ns(now_ns, timezone, at) // NS, tz)
    return int(dt.datetime.combine(start.date() + dt.timedelta(days=1), at, tz).timestamp()) * NS


PERIODS = ("day", "week", "month")


def period_start_ns(period: str, now_ns: int, timezone: str) -> int:
    """Start of the current day, week (Monday) or month in ``timezone``, as ns since the epoch."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    start = day_start_ns(now_ns, timezone)
    if period == "day":
        return start
    tz = zoneinfo.ZoneInfo(timezone)
    day = dt.datetime.fromtimestamp(start // NS, tz).date()
    first = day - dt.timedelta(days=day.weekday()) if period == "week" else day.replace(day=1)
    return int(dt.datetime.combine(first, MIDNIGHT, tz).timestamp()) * NS


# --- lots --------------------------------------------------------------------------------------

@dataclass(slots=True)
class Lot:
    qty: Decimal
    """Signed: positive for a long (bought), negative for a short (sold); the quantity filled."""
    price: Decimal
    exchange: str
    ts_ns: int
    order: str = ""
    """The client order id of the fill that opened the lot (what a closing order's ``closes`` names)."""
    fee: Decimal = ZERO
    """Base the opening buy's fee took (charged in the base asset): the lot holds ``qty - fee``."""


class Position:
    """One strategy's open lots in one market, oldest first (all long or all short), and the base its fees paid away.

    A lot keeps the quantity filled, so a fill realizes the same PnL whatever asset its fee is in (an arbitrage's
    executions that each close flat sum to the ledger's net). A fee charged in the base asset (a DEX's network fee in
    SOL on SOL/USDC, some venues' buy fees) is an expense at the fill's price (:func:`fee_in_quote`), and base the
    account no longer holds: a buy's is kept on the lot it opened (:attr:`Lot.fee`; once the rest is closed the lot
    holds nothing and goes), any other in :attr:`paid`. Both count in :attr:`qty` (what the account holds, as the
    portfolio's positions) and in :meth:`unrealized` (the base a fee took, marked, against what it was expensed
    at). Long lots that hold no more than :attr:`paid` are that base bought back (:meth:`_bought_back`): they close
    it, so a hedge that buys back a pool's SOL fees leaves neither a lot nor the fees' base open, only what the
    account holds.
    """

    __slots__ = ("lots", "paid")

    def __init__(self) -> None:
        self.lots: deque[Lot] = deque()
        self.paid: dict[str, tuple[Decimal, Decimal]] = {}
        """Venue -> (base its fees took that no lot holds, what it was expensed at in quote: fee x fill price)."""

    def apply(self, side: Side, qty: Decimal, price: Decimal, exchange: str = "", ts_ns: int = 0,
              order: str = "", closes: str | None = None, base_fee: Decimal = ZERO) -> Decimal:
        """Book a fill of order ``order``; returns the PnL it realized (before fees) by closing opposite lots, and
        the base fees paid away when it leaves the long lots holding no more than them (:meth:`_bought_back`).

        The lots that order ``closes`` opened are closed first, as far as they go (what their buy received: less
        its base fee), then the oldest. ``base_fee``: its fee, when charged in the base asset.
        """
        signed = qty if side is Side.BUY else -qty
        realized = ZERO
        lots = self.lots
        with localcontext(prec=EXACT_DIGITS):
            if closes is not None and lots and (lots[0].qty > 0) != (signed > 0):
                for lot in [lot for lot in lots if lot.order == closes]:
                    gain, signed = _close(lot, signed, price, lot.fee)  # what that buy received, then the oldest
                    realized += gain
                    if self._spent(lot):
                        lots.remove(lot)
                    if not signed:
                        break
            while signed and lots and (lots[0].qty > 0) != (signed > 0):
                gain, signed = _close(lots[0], signed, price)
                realized += gain
                if self._spent(lots[0]):
                    lots.popleft()
            if signed > base_fee > 0:  # a buy's fee comes out of the lot it opens
                lots.append(Lot(signed, price, exchange, ts_ns, order, base_fee))
            else:
                if signed:
                    lots.append(Lot(signed, price, exchange, ts_ns, order))
                if base_fee:
                    self._pay(exchange, base_fee, price)
            if self.paid and lots and lots[0].qty > 0:
                realized += self._bought_back()
        return realized

    def apply_fill(self, fill: Fill, closes: str | None = None) -> Decimal:
        """:meth:`apply` a fill; ``closes``: what its order names (:attr:`bot.domain.Order.closes`)."""
        return self.apply(fill.side, fill.qty, fill.price, fill.exchange, fill.ts_ns, fill.client_order_id, closes,
                          fill.base_fee)

    def _spent(self, lot: Lot) -> bool:
        """Whether ``lot``, just closed into, holds nothing any more (the base its fee took moves to :attr:`paid`
        when more of the lot was closed than its fee left: the figures stay the same). Exact context."""
        if not lot.fee:
            return not lot.qty
        if lot.qty > lot.fee:
            return False
        if lot.fee > lot.qty:
            self._pay(lot.exchange, lot.fee - lot.qty, lot.price)
        return True

    def _pay(self, exchange: str, base: Decimal, price: Decimal) -> None:
        paid, value = self.paid.get(exchange, (ZERO, ZERO))
        self.paid[exchange] = (paid + base, value + base * price)

    def _bought_back(self) -> Decimal:
        """When the long lots hold no more than the base the fees took (:attr:`paid`), the account holds no base of
        its own: what they hold is that base bought back (a hedge that buys back a pool's SOL fees with what its legs
        left; one that sells less, keeping them). They close it: each realizes what the base it covers was expensed
        at less what it cost, and goes. Returns that PnL (0 while the lots hold more: a position of their own, the
        fees' base kept apart). Exact context."""
        lots = self.lots
        if sum((lot.qty - lot.fee for lot in lots), ZERO) > self.paid_base:
            return ZERO
        realized = ZERO
        for lot in lots:
            if lot.fee:  # its own fee's base is paid away too
                self._pay(lot.exchange, lot.fee, lot.price)
            realized += self._cover(lot.qty, lot.price, lot.exchange)
        lots.clear()
        return realized

    def _cover(self, qty: Decimal, price: Decimal, exchange: str) -> Decimal:
        """Take ``qty`` (at most :attr:`paid_base`) off the base paid away, bought at ``price`` on ``exchange`` (that
        venue's first, then the others by name); returns what it was expensed at less ``qty x price``. A part of a
        venue's base takes its share of the expensed value, rounded at :data:`PAID_PLACES` when it has no exact
        decimal: the PnL realized is what is left of the value, so realized plus what stays paid is exact. Exact
        context."""
        realized = ZERO
        for venue in sorted(self.paid, key=lambda v: (v != exchange, v)):
            base, value = self.paid[venue]
            take = min(qty, base)
            if take == base:
                del self.paid[venue]
                kept = ZERO
            else:
                with localcontext(prec=EXACT_DIGITS) as context:
                    context.clear_flags()
                    kept = value * (base - take) / base
                    if context.flags[Inexact]:
                        kept = kept.quantize(PAID_PLACES)
                self.paid[venue] = (base - take, kept)
            realized += value - kept - take * price
            qty -= take
            if not qty:
                break
        return realized

    @property
    def paid_base(self) -> Decimal:
        """The base the fees took that no lot holds (:attr:`paid`, every venue's)."""
        with localcontext(prec=EXACT_DIGITS):
            return sum((base for base, _ in self.paid.values()), ZERO)

    @property
    def held(self) -> bool:
        """Whether anything is open: a lot, or base fees paid away."""
        return bool(self.lots or self.paid)

    @property
    def qty(self) -> Decimal:
        """What the account holds (long positive): the lots, less the base their fees and :attr:`paid` took."""
        with localcontext(prec=EXACT_DIGITS):
            return (sum((lot.qty - lot.fee for lot in self.lots), ZERO)
                    - sum((base for base, _ in self.paid.values()), ZERO))

    def worst_price(self) -> Decimal | None:
        """The highest lot price of a long (lowest of a short): what a closing fill is matched against at worst."""
        if not self.lots:
            return None
        prices = [lot.price for lot in self.lots]
        return max(prices) if self.lots[0].qty > 0 else min(prices)

    def unrealized(self, mark: Callable[[str], Decimal | None]) -> Decimal:
        """Open lots, less the base their fees took, marked to ``mark(lot's exchange)``, and the base :attr:`paid`
        on a venue marked against what it was expensed at; a lot or venue without a mark counts 0."""
        total = ZERO
        with localcontext(prec=EXACT_DIGITS):
            for lot in self.lots:
                price = mark(lot.exchange)
                if price is not None:
                    total += (price - lot.price) * (lot.qty - lot.fee)
            for exchange, (base, value) in self.paid.items():
                price = mark(exchange)
                if price is not None:
                    total += value - base * price
        return total


def _close(lot: Lot, signed: Decimal, price: Decimal, keep: Decimal = ZERO) -> tuple[Decimal, Decimal]:
    """Close as much of ``lot`` as the signed fill quantity ``signed`` can (the other side), leaving ``keep`` of it
    (a named lot's fee: a sell naming its buy closes what that buy received); returns the PnL realized and what
    is left of ``signed``. Runs in the caller's exact context."""
    closing = min(abs(signed), abs(lot.qty) - keep)
    direction = 1 if lot.qty > 0 else -1
    lot.qty -= closing * direction
    return (price - lot.price) * closing * direction, signed + closing * direction


def fee_in_quote(fill: Fill, base: str, quote: str) -> Decimal | None:
    """The fill's fee in the quote asset (a base fee at the fill's price); None for any other asset."""
    if not fill.fee:
        return ZERO
    if fill.fee_asset == quote:
        return fill.fee
    if fill.fee_asset == base:
        with localcontext(prec=EXACT_DIGITS):
            return fill.fee * fill.price
    return None


# --- figures -----------------------------------------------------------------------------------

def is_trade(fill: Fill) -> bool:
    """Whether ``fill`` traded (a quantity): what every "fills" figure counts. A fill of quantity 0 carries only a
    fee (a DEX swap that landed failed paid its network fee): a cost, counted apart as a fee-only entry."""
    return bool(fill.qty)


@dataclass(frozen=True, slots=True)
class Step:
    """What one fill did to its strategy's books."""

    strategy: str
    fill: Fill
    quote: str
    realized: Decimal
    """PnL realized by closing lots, before fees (0 for a fill that only opened a lot)."""
    closed: bool
    """The fill closed (part of) a lot."""
    fee: Decimal
    """The fee in quote (0 when paid in another asset)."""

    @property
    def net(self) -> Decimal:
        with localcontext(prec=EXACT_DIGITS):
            return self.realized - self.fee


def steps(fills: Iterable[tuple[str, Fill]], positions: dict[tuple[str, str], Position] | None = None,
          closes: Mapping[str, str] | None = None) -> Iterator[Step]:
    """Each (strategy, fill), in the given (time) order, with what it realized; ``positions`` gets the open lots.

    ``closes``: client order id -> the client order id whose lot that order closes (:meth:`bot.store.Store.closes`).
    """
    books = positions if positions is not None else {}
    names = closes or {}
    for strategy, fill in fills:
        base, quote = split_symbol(fill.symbol)
        book = books.get((strategy, fill.symbol))
        if book is None:
            book = books[(strategy, fill.symbol)] = Position()
        # a fill of no quantity (a fee alone: a DEX swap that landed failed) closes nothing
        closing = bool(fill.qty) and bool(book.lots) and (book.lots[0].qty > 0) != (fill.side is Side.BUY)
        realized = book.apply_fill(fill, names.get(fill.client_order_id))
        fee = fee_in_quote(fill, base, quote)
        yield Step(strategy, fill, quote, realized, closing, fee if fee is not None else ZERO)


class TimeOrderedPosition:
    """A :class:`Position` booked as the ledger books it, in the fills' time order, whatever order they arrive in.

    For code that books fills one at a time as they come (the ``limits`` check, the grid's ``/status``): a fill older
    than one already
    booked (a trade made before midnight that recovery hands over after it; a DEX leg confirmed after the CEX
    leg it preceded) is put in its place and the fills after it are matched again with :func:`steps`, so every
    fill realizes what :class:`Ledger` (which replays the stored fills by ``ts_ns``) says it does. Fills with the
    same ``ts_ns`` keep their arrival order (the store's). The newest ``kept`` fills are remembered to replay;
    a fill older than every one of them is booked right after them (a restart's replay of the store places it
    exactly).
    """

    __slots__ = ("position", "_base", "_fills", "_kept")

    KEPT = 1_000
    """How many of the newest fills are remembered to match again after a late one."""

    def __init__(self, kept: int = KEPT) -> None:
        self.position = Position()
        """The open lots now (the same object throughout: its lots change in place)."""
        self._base = Position()
        """The lots before the fills remembered."""
        self._fills: list[tuple[Fill, str | None, Step | None]] = []
        """The fills remembered, in time order: (fill, what its order closes, what it did: its :class:`Step`)."""
        self._kept = kept

    def book(self, fill: Fill, closes: str | None = None) -> list[tuple[int, Decimal]]:
        """Book ``fill`` (``closes``: what its order closes); returns ``(ts_ns, change of net)`` of each fill whose
        realized PnL after fees this changed: ``fill``'s own net and, when later fills were booked before it, what
        matching them again changed of theirs."""
        with localcontext(prec=EXACT_DIGITS):
            return [(new.fill.ts_ns, new.net if old is None else new.net - old.net)
                    for old, new in self.book_steps(fill, closes) if old is None or new.net != old.net]

    def book_steps(self, fill: Fill, closes: str | None = None) -> list[tuple[Step | None, Step]]:
        """Book ``fill`` as :meth:`book` does; returns ``(step before, step now)`` of each fill whose :class:`Step`
        this changed: ``(None, its step)`` for ``fill`` and, when later fills were booked before it, each of those
        that matched differently (what a :class:`MarketFigures` counted of it is taken back
        (:meth:`MarketFigures.remove`) and the new step counted). The steps' ``strategy`` is ``""``."""
        fills = self._fills
        at = len(fills)
        while at and fills[at - 1][0].ts_ns > fill.ts_ns:
            at -= 1
        if at == len(fills):  # in time order: the lots as they are
            step = next(steps([("", fill)], {("", fill.symbol): self.position}, _closing(fill, closes)))
            fills.append((fill, closes, step))
            changes: list[tuple[Step | None, Step]] = [(None, step)]
        else:
            fills.insert(at, (fill, closes, None))
            changes = self._replay()
        if len(fills) > self._kept:  # the oldest is forgotten into the base lots
            old, old_closes, _ = fills.pop(0)
            next(steps([("", old)], {("", old.symbol): self._base}, _closing(old, old_closes)))
        return changes

    def _replay(self) -> list[tuple[Step | None, Step]]:
        """Match every remembered fill again from the base lots; each step that changed (the new fill's too)."""
        book = copy.deepcopy(self._base)
        names = {f.client_order_id: c for f, c, _ in self._fills if c is not None}
        changes: list[tuple[Step | None, Step]] = []
        with localcontext(prec=EXACT_DIGITS):
            symbol = self._fills[0][0].symbol
            for i, step in enumerate(steps([("", f) for f, _, _ in self._fills], {("", symbol): book}, names)):
                fill, closes, old = self._fills[i]
                if old is None or (step.realized, step.closed, step.fee) != (old.realized, old.closed, old.fee):
                    self._fills[i] = (fill, closes, step)
                    changes.append((old, step))
        self.position.lots, self.position.paid = book.lots, book.paid
        return changes


def _closing(fill: Fill, closes: str | None) -> dict[str, str]:
    return {} if closes is None else {fill.client_order_id: closes}


ALL = ""
"""The key of the curves of every strategy together in :func:`pnl_curves`."""


def pnl_curves(ledger_steps: Iterable[Step], since_ns: int | None = None,
               per_strategy: bool = True) -> dict[str, dict[str, list[tuple[int, Decimal]]]]:
    """Cumulative realized PnL net of fees, a (ts_ns, value) point after each fill that changed it.

    Strategy (or :data:`ALL`, every strategy together, when ``per_strategy`` is False) -> quote ->
    curve. ``ledger_steps`` are :func:`steps` (:meth:`Ledger.steps`) in time order; with ``since_ns``
    each curve starts at ``(since_ns, 0)``. The backtest report, ``/chart pnl`` and the console draw
    these curves; their last points are the ledger's net figures.
    """
    curves: dict[str, dict[str, list[tuple[int, Decimal]]]] = {}
    running: dict[tuple[str, str], Decimal] = {}
    with localcontext(prec=EXACT_DIGITS):
        for step in ledger_steps:
            key = (step.strategy if per_strategy else ALL, step.quote)
            change = step.net
            if since_ns is not None:  # a curve from the start of the period, even if flat
                curves.setdefault(key[0], {}).setdefault(key[1], [(since_ns, ZERO)])
            if not change:
                continue
            running[key] = running.get(key, ZERO) + change
            curves.setdefault(key[0], {}).setdefault(key[1], []).append((step.fill.ts_ns, running[key]))
    return curves


MarkChange = tuple[int, str, str, Decimal]
"""(ts_ns, exchange, symbol, mid): a market's mid from that time on (what :func:`equity_curves` marks lots at)."""


def equity_curves(fills: Iterable[tuple[str, Fill]], marks: Iterable[MarkChange],
                  closes: Mapping[str, str] | None = None) -> dict[str, dict[str, list[tuple[int, Decimal]]]]:
    """Each strategy's equity per quote over time: its cumulative net realized PnL plus its open lots marked at the
    mids in force then (:meth:`Position.unrealized`, a lot marked as :func:`lot_mark` marks it; a lot whose market
    has no mid yet counts 0), a (ts_ns, value) point after each fill and each mid change that moved it.

    ``fills`` in time order (every fill of the strategies: the lots need them all), ``marks`` in time order; a
    fill and a mid change at the same nanosecond: the fill first. What a drawdown is measured on: a loss held in
    open lots is a loss (realized PnL alone shows none until the lots close). The last point is the net plus the
    unrealized PnL at the last marks (the ledger's figures at the end, marked there).
    """
    positions: dict[tuple[str, str], Position] = {}
    holders: dict[str, set[str]] = {}
    """Symbol -> the strategies with a position in it (the ones a mid change of it moves)."""
    net: dict[tuple[str, str], Decimal] = {}
    mids: dict[tuple[str, str], Decimal] = {}
    curves: dict[str, dict[str, list[tuple[int, Decimal]]]] = {}

    def mark(exchange: str, symbol: str) -> Decimal | None:
        return mids.get((exchange, symbol))

    def point(ts_ns: int, strategy: str, quote: str) -> None:
        value = net.get((strategy, quote), ZERO)
        for (name, symbol), book in positions.items():
            if name == strategy and book.held and split_symbol(symbol)[1] == quote:
                value += book.unrealized(lot_mark(mark, symbol, book))
        curve = curves.setdefault(strategy, {}).setdefault(quote, [])
        if (curve[-1][1] if curve else ZERO) != value:
            curve.append((ts_ns, value))

    changes = iter(marks)
    pending = next(changes, None)
    with localcontext(prec=EXACT_DIGITS):
        def marks_until(ts_ns: int | None) -> None:
            nonlocal pending
            while pending is not None and (ts_ns is None or pending[0] < ts_ns):
                at, exchange, symbol, mid = pending
                mids[(exchange, symbol)] = mid
                quote = split_symbol(symbol)[1]
                for strategy in sorted(holders.get(symbol, ())):
                    point(at, strategy, quote)
                pending = next(changes, None)

        def after_marks() -> Iterator[tuple[str, Fill]]:
            for strategy, fill in fills:  # the mids before each fill move the lots as they were before it
                marks_until(fill.ts_ns)
                yield strategy, fill

        for step in steps(after_marks(), positions, closes):
            fill = step.fill
            key = (step.strategy, step.quote)
            net[key] = net.get(key, ZERO) + step.net
            holders.setdefault(fill.symbol, set()).add(step.strategy)
            point(fill.ts_ns, step.strategy, step.quote)
        marks_until(None)
    return curves


def pnl_curve_drawdown(curve: Iterable[tuple[int, Decimal]]) -> Decimal:
    """The largest fall of a cumulative PnL curve ((ts_ns, value) points in time order) from its running
    peak, the start (0) counting as a peak: 0 when it never fell below a level it had reached."""
    peak = worst = ZERO
    with localcontext(prec=EXACT_DIGITS):
        for _, value in curve:
            if value > peak:
                peak = value
            elif peak - value > worst:
                worst = peak - value
    return worst


@dataclass(frozen=True)
class DayFigures:
    """One strategy's fills of one UTC day in one quote asset (what :func:`daily` returns)."""

    strategy: str
    day: str
    """The UTC date, ISO (``2023-11-14``)."""
    quote: str
    fills: int
    """Trades (:func:`is_trade`); a fee-only entry's fee is in ``fees``."""
    realized: Decimal
    fees: Decimal
    net: Decimal


def daily(ledger_steps: Iterable[Step]) -> list[DayFigures]:
    """The ledger's steps summed per strategy, UTC day and quote asset, sorted by strategy, day, quote."""
    sums: dict[tuple[str, str, str], list[Any]] = {}
    with localcontext(prec=EXACT_DIGITS):
        for step in ledger_steps:
            day = dt.datetime.fromtimestamp(step.fill.ts_ns // NS, dt.UTC).date().isoformat()
            row = sums.setdefault((step.strategy, day, step.quote), [0, ZERO, ZERO])
            row[0] += is_trade(step.fill)
            row[1] += step.realized
            row[2] += step.fee
        return [DayFigures(strategy, day, quote, n, realized, fee, realized - fee)
                for (strategy, day, quote), (n, realized, fee) in sorted(sums.items())]


@dataclass
class MarketFigures:
    """One strategy's figures in one market (a symbol on any venue), amounts in its quote asset."""

    strategy: str
    symbol: str
    quote: str
    fills: int = 0
    """Trades (:func:`is_trade`)."""
    fee_only: int = 0
    """Fills of no quantity that carried only a fee (in ``fees``), counted apart from ``fills``."""
    round_trips: int = 0
    """Fills that closed (part of) a lot."""
    bought: Decimal = ZERO
    sold: Decimal = ZERO
    realized: Decimal = ZERO
    """Realized PnL (the named lot, else FIFO), before fees."""
    fees: Decimal = ZERO
    """Fees paid in the quote or base asset, in quote."""
    other_fees: dict[str, Decimal] = field(default_factory=dict)
    """Fees in any other asset, in that asset (not in ``net``)."""
    position: Decimal = ZERO
    """Open lots' quantity now (all fills, whatever the period)."""
    unrealized: Decimal = ZERO
    """Open lots marked to mid now."""

    @property
    def net(self) -> Decimal:
        """Realized PnL after fees."""
        with localcontext(prec=EXACT_DIGITS):
            return self.realized - self.fees

    def add(self, step: Step) -> None:
        """Count one fill of this market (a :func:`steps` step): what :func:`market_figures` does with each, and
        what code that books its own fills one at a time (the grid's ``/status``) does to show the same figures."""
        self._count(step, 1)

    def remove(self, step: Step) -> None:
        """Take back a step :meth:`add` counted: its fill was matched again (a fill older than it came late,
        :meth:`TimeOrderedPosition.book_steps`), and its new step is added instead."""
        self._count(step, -1)

    def _count(self, step: Step, sign: int) -> None:
        fill = step.fill
        with localcontext(prec=EXACT_DIGITS):
            if is_trade(fill):
                self.fills += sign
            else:
                self.fee_only += sign
            self.round_trips += sign * step.closed
            self.realized += sign * step.realized
            if fill.side is Side.BUY:
                self.bought += sign * fill.qty
            else:
                self.sold += sign * fill.qty
            base, _ = split_symbol(fill.symbol)
            if fee_in_quote(fill, base, step.quote) is None:
                self.other_fees[fill.fee_asset] = self.other_fees.get(fill.fee_asset, ZERO) + sign * fill.fee
            else:
                self.fees += sign * step.fee


@dataclass
class StrategyFigures:
    """A strategy's markets summed per quote asset."""

    strategy: str
    markets: list[MarketFigures] = field(default_factory=list)
    orders: Counter[str] = field(default_factory=Counter)
    """Stored orders by status (filled by :meth:`Ledger.report`)."""

    def _sum(self, attr: str) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        with localcontext(prec=EXACT_DIGITS):
            for m in self.markets:
                out[m.quote] = out.get(m.quote, ZERO) + getattr(m, attr)
        return out

    @property
    def fills(self) -> int:
        """Trades (:func:`is_trade`): the one "fills" figure every surface shows."""
        return sum(m.fills for m in self.markets)

    @property
    def fee_only(self) -> int:
        """Fee-only entries (:attr:`MarketFigures.fee_only`), shown apart from the fills."""
        return sum(m.fee_only for m in self.markets)

    @property
    def round_trips(self) -> int:
        return sum(m.round_trips for m in self.markets)

    @property
    def quotes(self) -> list[str]:
        return sorted({m.quote for m in self.markets})

    @property
    def realized(self) -> dict[str, Decimal]:
        return self._sum("realized")

    @property
    def fees(self) -> dict[str, Decimal]:
        return self._sum("fees")

    @property
    def net(self) -> dict[str, Decimal]:
        return self._sum("net")

    @property
    def unrealized(self) -> dict[str, Decimal]:
        return self._sum("unrealized")

    @property
    def other_fees(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        with localcontext(prec=EXACT_DIGITS):
            for m in self.markets:
                for asset, fee in m.other_fees.items():
                    out[asset] = out.get(asset, ZERO) + fee
        return out

    @property
    def fees_paid(self) -> dict[str, Decimal]:
        """Every fee paid, per asset: those in a quote asset (:attr:`fees`) and those in another
        (:attr:`other_fees`) summed, an asset that is one market's quote and another's "other" fee once."""
        fees, other = self.fees, self.other_fees
        with localcontext(prec=EXACT_DIGITS):
            return {asset: fees.get(asset, ZERO) + other.get(asset, ZERO) for asset in sorted(fees.keys() | other)}


def market_figures(fills: Iterable[tuple[str, Fill]], since_ns: int | None = None,
                   marks: Marks | None = None,
                   closes: Mapping[str, str] | None = None) -> dict[tuple[str, str], MarketFigures]:
    """Figures per (strategy, symbol) of the fills from ``since_ns`` on; earlier fills only open lots.

    ``fills`` must be every fill of the strategies concerned, in time order (the lots need them all).
    Positions and unrealized PnL are those of now, marked with ``marks``. ``closes``: as :func:`steps`.
    """
    with localcontext(prec=EXACT_DIGITS):
        return _market_figures(fills, since_ns, marks, closes)


def _market_figures(fills: Iterable[tuple[str, Fill]], since_ns: int | None, marks: Marks | None,
                    closes: Mapping[str, str] | None) -> dict[tuple[str, str], MarketFigures]:
    out: dict[tuple[str, str], MarketFigures] = {}
    positions: dict[tuple[str, str], Position] = {}
    for step in steps(fills, positions, closes):
        fill = step.fill
        if since_ns is not None and fill.ts_ns < since_ns:
            continue
        key = (step.strategy, fill.symbol)
        fig = out.get(key)
        if fig is None:
            fig = out[key] = MarketFigures(step.strategy, fill.symbol, step.quote)
        fig.add(step)
    for (strategy, symbol), book in positions.items():
        if not book.held:
            continue
        fig = out.get((strategy, symbol))
        if fig is None:  # lots opened before the period, nothing traded in it: still held now
            fig = out[(strategy, symbol)] = MarketFigures(strategy, symbol, split_symbol(symbol)[1])
        fig.position = book.qty
        if marks is not None:
            fig.unrealized = book.unrealized(lot_mark(marks, symbol, book))
    return out


def lot_mark(marks: Marks, symbol: str, book: Position) -> Callable[[str], Decimal | None]:
    """Mark a lot at its venue's mid, else at the mid of another venue the strategy's lots are on."""
    venues = sorted({lot.exchange for lot in book.lots} | set(book.paid))

    def mark(exchange: str) -> Decimal | None:
        price = marks(exchange, symbol)
        if price is None:
            price = next((p for v in venues if (p := marks(v, symbol)) is not None), None)
        return price
    return mark


def strategy_figures(fills: Iterable[tuple[str, Fill]], since_ns: int | None = None, marks: Marks | None = None,
                     closes: Mapping[str, str] | None = None) -> dict[str, StrategyFigures]:
    """:func:`market_figures` grouped per strategy."""
    out: dict[str, StrategyFigures] = {}
    for (strategy, _), fig in sorted(market_figures(fills, since_ns, marks, closes).items()):
        out.setdefault(strategy, StrategyFigures(strategy)).markets.append(fig)
    return out


def totals(figures: Iterable[StrategyFigures]) -> StrategyFigures:
    """Every strategy's markets (and stored orders) as one (``strategy`` is "total")."""
    out = StrategyFigures("total")
    for fig in figures:
        out.markets.extend(fig.markets)
        out.orders.update(fig.orders)
    return out


def fleet_totals(parts: Iterable[Mapping[str, Mapping[str, str]]]) -> dict[str, dict[str, Decimal]]:
    """Several bots' own totals (``{figure: {asset: "exact decimal"}}``, as each bot's ledger gave them) summed
    exactly per figure and asset: what ``/pnl all`` shows as the fleet total."""
    out: dict[str, dict[str, Decimal]] = {}
    with localcontext(prec=EXACT_DIGITS):
        for part in parts:
            for figure, amounts in part.items():
                sums = out.setdefault(figure, {})
                for asset, value in amounts.items():
                    sums[asset] = sums.get(asset, ZERO) + Decimal(value)
    return out


TRANSFERS_PAID = (TransferStatus.SENT, TransferStatus.CREDITED)
"""Transfers whose fees were paid: the source sent them. One refused or not sent yet cost nothing."""

UNIT_UNKNOWN = "(unit unknown)"
"""The key of a network fee whose asset a transfer did not record (none is stored so since revision 0011)."""


def transfer_costs(transfers: Iterable[Transfer]) -> dict[str, Decimal]:
    """What moving funds between venues cost, per asset: each sent transfer's withdrawal fee (in the asset it moved)
    and its network fee (in the asset the chain charged it in). A bot's cost: no transfer is a strategy's."""
    out: dict[str, Decimal] = {}
    with localcontext(prec=EXACT_DIGITS):
        for t in transfers:
            if t.status not in TRANSFERS_PAID:
                continue
            for asset, fee in ((t.asset, t.fee), (t.network_fee_asset or UNIT_UNKNOWN, t.network_fee)):
                if fee:
                    out[asset] = out.get(asset, ZERO) + fee
    return dict(sorted(out.items()))


def net_after_transfer_costs(net: Mapping[str, Decimal], costs: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The bot's net result per asset once what moving funds cost is taken off: the strategies' ``net`` less the
    ``costs`` paid in the same asset; a cost in an asset no strategy quotes in (a wallet's SOL network fee on a
    USDC transfer) stands as a loss in that asset, never converted at a price."""
    with localcontext(prec=EXACT_DIGITS):
        return {asset: net.get(asset, ZERO) - costs.get(asset, ZERO) for asset in sorted(net.keys() | costs)}


class Ledger:
    """The figures of one bot's stored fills, per strategy and market, marked with the bot's current mids.

    ``bot``: whose fills (several bots may share one database); the store's own bot when None.
    What each stored order ``closes`` is read with the fills (:meth:`bot.store.Store.closes`)."""

    def __init__(self, store: Store, marks: Marks | None = None, *, bot: str | None = None) -> None:
        self.store = store if bot is None else store.scoped(bot)
        self.bot = self.store.bot
        self.marks = marks

    def strategies(self, since_ns: int | None = None, strategy: str | None = None) -> dict[str, StrategyFigures]:
        """Figures per strategy of the fills from ``since_ns`` on (all of them without it)."""
        return strategy_figures(self.store.fills(strategy=strategy), since_ns, self.marks,
                                self.store.closes(strategy=strategy))

    def strategy(self, name: str, since_ns: int | None = None) -> StrategyFigures:
        return self.strategies(since_ns, name).get(name) or StrategyFigures(name)

    def steps(self, since_ns: int | None = None) -> list[Step]:
        """Each fill from ``since_ns`` on with what it realized (lots built from every fill)."""
        return [s for s in steps(self.store.fills(), closes=self.store.closes())
                if since_ns is None or s.fill.ts_ns >= since_ns]

    def transfer_costs(self, since_ns: int | None = None) -> dict[str, Decimal]:
        """:func:`transfer_costs` of the bot's transfers created from ``since_ns`` on (all of them without it)."""
        return transfer_costs(self.store.transfers(since_ns=since_ns or 0))

    def report(self) -> dict[str, StrategyFigures]:
        """All-time figures per strategy, with their stored orders counted by status."""
        figures = self.strategies()
        for order in self.store.orders():
            figures.setdefault(order.strategy, StrategyFigures(order.strategy)).orders[order.status.value] += 1
        return figures

    def markouts(self) -> list[MarkoutFigures]:
        """Each strategy's markouts per horizon (:func:`bot.markouts.summarize` of the stored fills and samples)."""
        from .markouts import summarize

        return summarize(self.store.fills(), self.store.markouts())
