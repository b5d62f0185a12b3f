"""The ``limits`` risk check: per-order limits vetoed before sending, loss limits that trip an action."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import zoneinfo
from collections import deque
from collections.abc import Callable
from decimal import Decimal, localcontext
from typing import Any, ParamSpec, TypeVar

from bot.api import (
    ZERO,
    BookUpdate,
    Fill,
    LimitUse,
    OrderIntent,
    OrderUpdate,
    PoolUpdate,
    PortfolioView,
    RiskCheck,
    Side,
    Transfer,
    split_symbol,
)
from bot.api.kit import Pool, PoolError
from bot.api.ledger import (
    EXACT_DIGITS,
    Position,
    TimeOrderedPosition,
    amount,
    day_start_ns,
    lot_mark,
    money,
    next_day_start_ns,
    transfer_costs,
)

from .costs import DAILY, DRAWDOWN, TransferCosts, costs_of
from .peaks import SAVE_EVERY_S, StoredPeaks, save_peaks
from .pnl import worst_loss, worst_position
from .settings import BASE_KEYS, MONEY_KEYS, LimitsSettings
from .stored import FILLS_PAGE, read_start
from .tripped import save_tripped
from .units import BaseLimit, QuoteLimit

log = logging.getLogger("arbot.limits")

P = ParamSpec("P")
R = TypeVar("R")

NS_PER_S = 1_000_000_000

VENUE_CLOCK_AHEAD_NS = 60 * NS_PER_S
"""How far ahead of the bot's clock a fill's own time may roll the limits' day (clocks differ by milliseconds)."""

TRANSFER_COSTS_EVERY_S = 10.0
"""How often the bot's transfers are read again from the store, a backstop: the check holds every transfer of the
bot, read at start, and takes each one the bot's store saves as it is saved (``Store.on_transfer_saved``), so its
costs count in the loss limits, and can trip them, at once, and ``/risk`` shows the figures ``/pnl`` shows at that
moment without reading the store. The read only catches a transfer stored by another process of this bot."""

CLOSES_KEPT = 10_000
"""Accepted orders whose ``closes`` the check remembers, at most (an order is forgotten when it is final, or when
this many newer ones were accepted: one vetoed by a later check, or never sent, has no final update). Any other
order's is asked of the executor (:meth:`Limits._closes_of`), which holds the order of every fill it hands out: a
forgotten order changes no figure."""


def _exact(method: Callable[P, R]) -> Callable[P, R]:
    """Run ``method`` in the ledger's exact context: the limits' running figures (a day's net, equity, a drawdown)
    are the ledger's to the last digit, which Decimal's default 28 digits would round (a unary minus too)."""

    @functools.wraps(method)
    def exact(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(prec=EXACT_DIGITS):
            return method(*args, **kwargs)
    return exact


class Limits(RiskCheck):
    """Vetoes an order that would break a configured limit; trips the configured action on a loss breach.

    Per-order limits (order value, position, open orders, orders per minute, notional caps) veto
    the order: nothing is breached. Loss limits are watched on every fill (and at start, on the day's fills the store
    holds: a limit already past and not acted on yet is acted on then), with the ledger's
    accounting (:mod:`bot.ledger`: lots per strategy and market, the lot a closing order names else
    FIFO, fees apart, fills matched in time order and a fill counted in the day it was made, however
    late it arrives: :class:`~bot.ledger.TimeOrderedPosition`): a day's realized loss beyond
    ``max_daily_loss`` (or a strategy's own limit), or equity ``max_drawdown`` below its peak, runs
    ``action`` once and stores and alerts the trip with its figures. Orders that could take the day's
    loss past its limit if they all filled are vetoed before that can happen.
    """

    Settings = LimitsSettings
    strategy_settings = ("strategy_max_daily_loss", "strategy_max_position_notional")
    quote_settings = MONEY_KEYS
    base_settings = BASE_KEYS

    def __init__(self, name, settings, ctx):
        super().__init__(name, settings, ctx)
        s: LimitsSettings = settings
        self._books: dict[tuple[str, str], TimeOrderedPosition] = {}
        """(strategy, symbol) -> the strategy's open lots in that market, as the ledger keeps them (in time order)."""
        self._closes: dict[str, str | None] = {}
        """Client order id -> the one whose lot it closes (:attr:`OrderIntent.closes`, None for none), as the ledger
        matches fills: the accepted orders not final yet (at most CLOSES_KEPT), oldest first."""
        self._positions: dict[tuple[str, str, str], Decimal] = {}
        """(strategy, exchange, symbol) -> net quantity bought there."""
        self._quote: dict[str, str] = {}
        self._day_net: dict[str, Decimal] = {}
        """Today's realized PnL after fees, per quote currency."""
        self._strategy_day_net: dict[tuple[str, str], Decimal] = {}
        self._realized_total: dict[str, Decimal] = {}
        self._marks: dict[tuple[str, str], Decimal] = {}
        self._touches: dict[tuple[str, str], tuple[int | None, int | None, int]] = {}
        """(best bid, best ask, price decimals) in units of the book each mark was last made from."""
        self._pools: dict[tuple[str, str], Pool] = {}
        """The pool each pool venue's mark was last made from."""
        self._peak: dict[str, Decimal] = {}
        self._unpriced_in_peak: dict[str, list[tuple[str, Decimal, str]]] = {}
        """Quote -> the transfer costs paid before its peak as the start set it (a stored peak rebased, or a new one
        from the realized total) that no venue priced then, as (asset, cost, ASSET/QUOTE): none has sent a price
        when the check starts. Each moves the peak at its first price, once, as it moves the equity (both lacked it:
        :meth:`_price_peak`), so an upgrade or a start never shows a cost paid before the peak as a fall. Stored with
        the peaks (:func:`~plugins.limits.peaks.save_peaks`): a restart before that first price keeps it pending."""
        self._saved_peak: dict[str, Decimal] = {}
        self._saved_unpriced: dict[str, dict[str, Decimal]] = {}
        """:attr:`_unpriced_in_peak` as last handed to the store with the peaks."""
        self._held_books: dict[str, dict[str, tuple[Position, Callable[[str], Decimal | None]]]] = {}
        """Symbol -> strategy -> its book there while it holds lots, with its marks (:func:`~bot.ledger.lot_mark`, made
        at the fill that changed the book): the books a mark of that symbol moves (a lot is marked at its venue's
        mid, else at another venue's mid for the same symbol). A symbol is here only while some book holds lots."""
        self._unrealized: dict[tuple[str, str], Decimal] = {}
        """(strategy, symbol) -> that book's open lots marked to the marks now (held books only)."""
        self._unrealized_sum: dict[str, Decimal] = {}
        """Quote -> the sum of :attr:`_unrealized` of the books priced in it: equity's unrealized part, kept up to date
        book by book (a tick re-marks the books of its own symbol only), exact."""
        self._tripped: set[tuple[str, ...]] = set()
        """Loss limits breached today (a breach runs the action once): ``("daily", quote)`` and
        ``("daily", quote, strategy)``, kept across a restart the same day (:mod:`.tripped`)."""
        self._costs = TransferCosts(lambda key: self._quotes(self._money[key]), self._mid_of)
        """What moving funds cost the bot: today's in the daily loss (in no strategy's), every transfer's in the
        drawdown's equity (:mod:`.costs`)."""
        self._transfers: dict[str, Transfer] = {}
        """Transfer id -> the bot's transfer as last stored (when a loss limit counts their costs): read at start and
        every ``TRANSFER_COSTS_EVERY_S``, each one the store saves taken as it is saved (:meth:`_heard_transfer`)."""
        self._heard: dict[str, Transfer] = {}
        """The transfers saved since the read of the transfers under way was handed over: newer than what it finds."""
        self._unhear: Callable[[], None] | None = None
        self._peaks_written: asyncio.Future[None] | None = None
        """The write of the peaks handed to the store writer last, while it is not done (records not inline)."""
        self._pricing: tuple[tuple[str, str], Decimal] | None = None
        """(exchange, symbol) and its mid, while a tick of a price a transfer cost converts at is handled."""
        self._recent: deque[float] = deque()
        self._next_reset_ns = 0
        self._day_start_ns = 0
        """When the day of :attr:`_day_net` began: a fill made before it is not today's, however late it came."""
        self._money = {key: QuoteLimit(key, getattr(s, key)) for key in MONEY_KEYS if getattr(s, key) is not None}
        """The money limits set, each in its quote assets."""
        self._max_position = BaseLimit("max_position", s.max_position) if s.max_position is not None else None
        """``max_position``, in the base asset of each symbol (a symbol's own entry wins over its base asset's)."""
        self._strategy_loss = {k: QuoteLimit(f"strategy_max_daily_loss.{k}", Decimal(v), strategy=k)
                               for k, v in s.strategy_max_daily_loss.items()}
        self._strategy_notional = {k: QuoteLimit(f"strategy_max_position_notional.{k}", Decimal(v), strategy=k)
                                   for k, v in s.strategy_max_position_notional.items()}

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        now = self.ctx.clock.time_ns()
        s: LimitsSettings = self.settings
        self._next_reset_ns = next_day_start_ns(now, self._timezone(), s.daily_reset_at)
        self._day_start_ns = day_start_ns(now, self._timezone(), s.daily_reset_at)
        self._costs.reads = DAILY in self._money or DRAWDOWN in self._money
        if self._costs.reads:  # heard from before the read: a transfer saved while it runs is not missed
            self._heard = {}
            self._unhear = self.ctx.store.on_transfer_saved(self._heard_transfer, asyncio.get_running_loop())
        # the fills a page a read, then the rest in one, off the loop where a read is a round trip; a store that
        # cannot be read fails the start (before the first check: never checks with the fills or the costs unknown
        # as none)
        try:
            fills: list[tuple[str, Fill]] = []
            after: tuple[int, int] | None = None
            while True:
                page, after = await self._off_loop(self.ctx.store.fills_page, after, FILLS_PAGE)
                fills += page
                if len(page) < FILLS_PAGE:
                    break
            read = await self._off_loop(read_start, self.ctx.store, self.name, self._day_start_ns, self._costs.reads,
                                        s.max_orders_per_minute)
        except BaseException:  # the check did not start: a transfer saved from now on is not its business
            self._stop_hearing()
            raise
        if read.tripped_error is not None:  # the vetoes hold all the same (the day's loss is rebuilt below): at most a
            log.error("limits %s: the limits breached today cannot be read (%s); a breach may be acted on and "
                      "alerted again", self.name, read.tripped_error)  # second trip
        self._tripped = read.tripped
        for strategy, fill in fills:  # today's figures and positions survive a restart
            self._book_fill(strategy, fill, read.closes.get(fill.client_order_id))
        if self._costs.reads:
            self._took_transfers(read.transfers)
        # a stored peak is the peak, below the realized total too (a trip restarts it at the equity then); a quote
        # with none starts from its realized total less the transfer costs counted in it (no fall of its own)
        # the costs pending in the stored peaks: a restart before their first price keeps them pending
        self._unpriced_in_peak = {q: [(asset, cost, f"{asset}/{q}") for asset, cost in sorted(costs.items())]
                                  for q, costs in read.peaks.unpriced.items() if q in read.peaks.peaks}
        self._saved_unpriced = {q: dict(costs) for q, costs in read.peaks.unpriced.items()}
        peaks, rebased = self._rebased(read.peaks)
        self._peak = {q: self._realized_equity(q) for q in self._realized_total} | peaks
        if self._costs.all_time and DRAWDOWN in self._money:  # what the new peaks could not price yet
            for q in self._peak.keys() - peaks.keys():
                self._unpriced_at_start(q, self._costs)
        # a rebased peak (stored again as counting the costs: rebased once only) and, with max_drawdown, a peak this
        # start set anew (none stored in its quote) are stored at once, through the store writer where a commit is a
        # round trip. A new one kept in memory only was never stored while the equity only fell from it (a peak is
        # saved when it changes): the next start began at its lower realized total, and the fall did not count
        self._saved_peak = {} if rebased else dict(read.peaks.peaks if DRAWDOWN in self._money else self._peak)
        self._save_peaks(now=True)
        self._act_on_losses_past()
        self._count_recent_orders(now, read.recent_ns)
        self.ctx.bus.subscribe(OrderUpdate, self._on_order_update, owner=self.name)
        if "max_drawdown" in self._money or self._costs.reads:  # a mark, or a price a cost converts at, moves
            self.ctx.bus.subscribe(BookUpdate, self._on_book, owner=self.name)
            self.ctx.bus.subscribe(PoolUpdate, self._on_pool, owner=self.name)
        if "max_drawdown" in self._money:
            self.ctx.create_task(self._keep_peaks(), "save peak equity")
        if self._costs.reads:
            self.ctx.create_task(self._watch_transfer_costs(), "read the transfer costs")

    async def stop(self) -> None:
        self._stop_hearing()
        self._save_peaks(now=True)  # the bot's stop waits for the store writer: stored before the store closes

    def _stop_hearing(self) -> None:
        """Take no more of the transfers the store saves (:meth:`_heard_transfer`)."""
        if self._unhear is not None:
            self._unhear()
            self._unhear = None

    def _count_recent_orders(self, now_ns: int, created: list[int]) -> None:
        """Count the stored orders of the last minute against ``max_orders_per_minute``: a strategy that crashes the
        bot again and again gets no fresh minute at each start. The minute is the wall clock's (the monotonic clock
        starts afresh); an order the gate accepted and a later check vetoed was never stored, so is not counted."""
        per_minute = self.settings.max_orders_per_minute
        if per_minute is None:
            return
        monotonic = self.ctx.clock.monotonic()
        horizon_ns = now_ns - 60 * NS_PER_S
        recent = [created_ns for created_ns in created if horizon_ns < created_ns <= now_ns]
        self._recent.extend(monotonic - (now_ns - created_ns) / NS_PER_S for created_ns in sorted(recent))

    async def _keep_peaks(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY_S)
            self._save_peaks()

    @_exact
    def _rebased(self, stored: StoredPeaks) -> tuple[dict[str, Decimal], bool]:
        """The stored peaks, each counting the transfer costs paid up to it, and whether they are to be stored again
        as counting them. A peak an older version stored counted none, and every cost paid before it would be a fall
        at the first tick (an upgrade tripping the limit by itself): such a peak is rebased once (logged), by the
        costs of the transfers created until it was saved (read at start, as the fills are), at the prices known."""
        if stored.counts_costs or not stored.peaks or DRAWDOWN not in self._money:
            return stored.peaks, False
        peaks = dict(stored.peaks)
        after: dict[int, dict[str, Decimal]] = {}  # saved_ns -> the costs of the transfers created after it
        for quote, peak in stored.peaks.items():
            saved_ns = stored.saved_ns[quote]
            if saved_ns not in after:
                after[saved_ns] = transfer_costs(t for t in self._transfers.values() if t.created_ns > saved_ns)
            until = {asset: left for asset, cost in self._costs.all_time.items()
                     if (left := cost - after[saved_ns].get(asset, ZERO))}
            upto = TransferCosts(lambda key: self._quotes(self._money[key]), self._mid_of)
            upto.update({}, until)
            loss, counted, unpriced = upto.words(DRAWDOWN, quote)
            if counted or unpriced:
                peaks[quote] = peak - loss
                log.warning("limits %s: the %s drawdown peak %s was stored before peaks counted transfer costs: "
                            "rebased to %s by the transfer costs paid up to it (%s)%s", self.name, quote,
                            money(peak, quote), money(peaks[quote], quote), "; ".join(counted + unpriced),
                            "; those not priced yet rebase it at their first price" if unpriced else "")
                self._unpriced_at_start(quote, upto)
        return peaks, True

    def _unpriced_at_start(self, quote: str, costs: TransferCosts) -> None:
        """Keep the costs of ``costs`` counted in ``quote``'s drawdown that no venue prices yet: the peak the start
        set lacks them (:attr:`_unpriced_in_peak`)."""
        unpriced = [(asset, cost, f"{asset}/{quote}") for asset, cost, mid in costs.priced(DRAWDOWN, quote)
                    if mid is None]
        if unpriced:
            self._unpriced_in_peak[quote] = unpriced

    def _price_peak(self, quote: str) -> None:
        """Move ``quote``'s peak by each cost of :attr:`_unpriced_in_peak` a venue prices now (the equity counts it
        from now on, at that price: so does the peak, once; logged), in the caller's exact context."""
        peak = was = self._peak[quote]
        left: list[tuple[str, Decimal, str]] = []
        priced: list[str] = []
        for asset, cost, symbol in self._unpriced_in_peak[quote]:
            mid = self._mid_of(symbol)
            if mid is None:
                left.append((asset, cost, symbol))
                continue
            peak -= cost * mid
            priced.append(f"{money(cost, asset)} at {money(mid, quote)}")
        if left:
            self._unpriced_in_peak[quote] = left
        else:
            del self._unpriced_in_peak[quote]
        if priced:
            self._peak[quote] = peak
            log.warning("limits %s: the %s drawdown peak %s rebased to %s by the transfer costs paid before it that "
                        "no venue priced at start, priced now (%s)", self.name, quote, money(was, quote),
                        money(peak, quote), "; ".join(priced))

    async def _watch_transfer_costs(self) -> None:
        while True:
            await asyncio.sleep(TRANSFER_COSTS_EVERY_S)
            await self._refresh_transfer_costs()

    async def _refresh_transfer_costs(self) -> None:
        """Read the bot's transfers again (off the loop where records are not inline) and, when their costs changed,
        check the loss limits on them. A store that cannot be read keeps those held (logged): the loss limits hold on
        the figures known."""
        self._heard = {}
        try:
            transfers = await self._off_loop(self.ctx.store.transfers)
        except Exception:
            log.exception("limits %s: the transfers cannot be read; the daily loss and the drawdown count those "
                          "known", self.name)
            return
        self._roll_day(self.ctx.clock.time_ns())
        if self._took_transfers(transfers):
            self._act_on_daily_losses()
            self._act_on_drawdowns()

    def _took_transfers(self, transfers: list[Transfer]) -> bool:
        """Hold the transfers a read found, with those saved since it was handed over (newer: :attr:`_heard`), and
        count their costs; True when the costs changed."""
        self._transfers = {t.transfer_id: t for t in transfers} | self._heard
        self._heard = {}
        return self._count_transfers()

    def _count_transfers(self) -> bool:
        """The costs of the transfers held, as the ledger sums them (:func:`~.costs.costs_of`); True when changed."""
        return self._costs.update(*costs_of(self._transfers.values(), self._day_start_ns, DAILY in self._money,
                                            DRAWDOWN in self._money))

    def _heard_transfer(self, transfer: Transfer) -> None:
        """The bot's store saved ``transfer`` (``Store.on_transfer_saved``, handed to the loop: at once when saved
        there, else next, before the saver's await of its write returns): held as saved now and, when the costs
        changed, the loss limits checked on them (a cost alone can trip them)."""
        self._transfers[transfer.transfer_id] = transfer
        self._heard[transfer.transfer_id] = transfer
        self._roll_day(self.ctx.clock.time_ns())
        if self._count_transfers():
            self._act_on_daily_losses()
            self._act_on_drawdowns()

    def _off_loop(self, fn: Callable[..., R], *args: Any) -> asyncio.Future[R]:
        """Run the store read ``fn(*args)``: on the store writer's thread where a store call is a round trip
        (PostgreSQL: ``store.records_inline`` false), in order with the writes handed to it and not watched as a
        write (``ctx.read_later``), so that a server that stops answering never holds the loop; at once on SQLite and
        in a backtest (a future already done)."""
        if not self.ctx.store.records_inline:
            return self.ctx.read_later(fn, *args)
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        try:
            done.set_result(fn(*args))
        except Exception as exc:
            done.set_exception(exc)
        return done

    def _save_peaks(self, *, now: bool = False) -> None:
        """Store the peaks when they changed since they were last handed over: at once on SQLite and in a backtest;
        else on the store writer's thread, after the writes handed to it before (the last handed over is the one
        stored). While a write of them waits (a slow server) the 10 s save hands over no other, but a trip's and the
        stop's (``now``) always go: the bot's stop waits for them. One that fails is logged and tried again."""
        unpriced = {q: {asset: cost for asset, cost, _ in costs} for q, costs in self._unpriced_in_peak.items()}
        if self._peak == self._saved_peak and unpriced == self._saved_unpriced:
            return
        if not now and self._peaks_written is not None and not self._peaks_written.done():
            return
        peaks = self._saved_peak = dict(self._peak)
        self._saved_unpriced = unpriced
        args = (self.ctx.store, self.name, peaks, self.ctx.clock.time_ns(), unpriced)
        if self.ctx.store.records_inline:
            try:
                save_peaks(*args)
            except Exception as exc:  # (a database locked by another process, a full disk) the peak holds in this
                self._saved_peak = {}  # run whatever the store says; the next save tries again
                self._peaks_unstored(exc)
            return
        written = self._peaks_written = self.ctx.write_later(save_peaks, *args)
        written.add_done_callback(lambda done: self._peaks_stored(done, peaks))

    def _peaks_stored(self, done: asyncio.Future[None], peaks: dict[str, Decimal]) -> None:
        if done.cancelled() or (exc := done.exception()) is None:
            return
        self._peaks_unstored(exc)
        if self._saved_peak is peaks:  # none handed over since: the next save hands them over again
            self._saved_peak = {}

    def _peaks_unstored(self, exc: BaseException) -> None:
        log.error("limits %s: the drawdown peaks could not be stored (%s); tried again", self.name, exc)

    def _roll_day(self, now_ns: int) -> None:
        if now_ns >= self._next_reset_ns:
            self._day_net.clear()
            self._strategy_day_net.clear()
            self._tripped = {t for t in self._tripped if t[0] != "daily"}
            zone = self._timezone()
            self._day_start_ns = day_start_ns(now_ns, zone, self.settings.daily_reset_at)
            self._next_reset_ns = next_day_start_ns(now_ns, zone, self.settings.daily_reset_at)
            if self._costs.reads:  # the new day's of the transfers held (none made yet, but at the very reset)
                self._count_transfers()

    def _timezone(self) -> str:
        """The bot's time zone (``[scheduler] timezone``): the limits' day is the one ``/pnl day``, the daily
        summary and the web's "today" count, not a day of their own."""
        return self.ctx.operator.timezone

    # --- fills and prices ----------------------------------------------------------------------

    def _quote_of(self, symbol: str) -> str:
        quote = self._quote.get(symbol)
        if quote is None:
            quote = self._quote[symbol] = split_symbol(symbol)[1]
        return quote

    def _closes_of(self, client_order_id: str) -> str | None:
        """What an order closes: remembered since :meth:`accepted`, else the executor's record of the order (in
        memory while a fill of it is handed out, else its stored row: what the ledger reads)."""
        if client_order_id in self._closes:
            return self._closes[client_order_id]
        order = self.ctx.order(client_order_id)
        return order.closes if order is not None else None

    def _on_order_update(self, update: OrderUpdate) -> None:
        if update.status.terminal:  # a late fill asks the executor
            self._closes.pop(update.client_order_id, None)

    @_exact
    def _book_fill(self, strategy: str, fill: Fill, closes: str | None) -> None:
        """Book ``fill`` as the ledger does: in its time order (fills booked after it matched again) and in the day
        it was made (:attr:`_day_start_ns`), so today's figures are those of ``/pnl day`` whatever order fills
        arrive in, and the same after a restart rebuilt them from the store."""
        quote = self._quote_of(fill.symbol)
        for limit in (*self._money.values(), self._strategy_loss.get(strategy), self._strategy_notional.get(strategy)):
            if limit is not None:
                limit.of(quote)  # a value the config did not place is in the first quote asset traded
        if self._max_position is not None:
            self._max_position.of(fill.symbol)  # and of the first base asset traded
        ordered = self._books.get((strategy, fill.symbol))
        if ordered is None:
            ordered = self._books[(strategy, fill.symbol)] = TimeOrderedPosition()
        day_start = self._day_start_ns
        total = today = ZERO
        for ts_ns, change in ordered.book(fill, closes):
            total += change
            if ts_ns >= day_start:
                today += change
        book = ordered.position
        key3 = (strategy, fill.exchange, fill.symbol)
        self._positions[key3] = self._positions.get(key3, ZERO) + fill.base_change
        if quote not in self._realized_total:  # a quote first traded: the limits' quotes, so what converts, moved
            self._costs.forget_plans()
        self._realized_total[quote] = self._realized_total.get(quote, ZERO) + total
        if today or fill.ts_ns >= day_start:
            self._day_net[quote] = self._day_net.get(quote, ZERO) + today
            key = (strategy, quote)
            self._strategy_day_net[key] = self._strategy_day_net.get(key, ZERO) + today
        self._marks.setdefault((fill.exchange, fill.symbol), fill.price)
        symbol = fill.symbol
        held = self._held_books.setdefault(symbol, {})
        if book.held:
            held[strategy] = (book, lot_mark(self._mark, symbol, book))
        else:  # closed: its part of the unrealized sum goes with it
            held.pop(strategy, None)
            self._unrealized_sum[quote] = self._unrealized_sum.get(quote, ZERO) - self._unrealized.pop(
                (strategy, symbol), ZERO)
            if not held:
                del self._held_books[symbol]
        self._remark(symbol)  # the book changed, and a first fill may have made the symbol's first mark

    def _remark(self, symbol: str) -> None:
        """Mark the held books of ``symbol`` again and move their quote's unrealized sum by what changed (in the
        caller's exact context: the sum stays the sum of every book's figure, to the last digit)."""
        books = self._held_books.get(symbol)
        if not books:
            return
        unrealized = self._unrealized
        change = ZERO
        for strategy, (book, mark) in books.items():
            key = (strategy, symbol)
            new = book.unrealized(mark)
            old = unrealized.get(key, ZERO)
            if new != old:
                unrealized[key] = new
                change += new - old
        if change:
            quote = self._quote_of(symbol)
            self._unrealized_sum[quote] = self._unrealized_sum.get(quote, ZERO) + change

    def _mid_of(self, symbol: str) -> Decimal | None:
        """The mid the portfolio holds for ``symbol``: the first venue's by name that has one (a tick being handled:
        its mid, :meth:`_repriced`)."""
        operator = self.ctx.operator
        pricing = self._pricing
        for ex in sorted(operator.exchanges):
            mid = pricing[1] if pricing is not None and pricing[0] == (ex, symbol) else operator.last_price(ex, symbol)
            if mid is not None:
                return mid
        return None

    @_exact
    def _transfer_loss(self, quote: str, key: str = DAILY) -> tuple[Decimal, list[str], list[str]]:
        """The transfer costs ``key`` counts as a loss in ``quote`` (:class:`~.costs.TransferCosts`): (the loss,
        what was counted, what could not be priced), the last two as text for ``/risk``."""
        return self._costs.words(key, quote)

    def _day_loss(self, quote: str) -> Decimal:
        """Today's loss in ``quote`` for ``max_daily_loss``: the realized loss after fees of every strategy, plus the
        day's transfer costs counted in ``quote``, exact (on the hot path: no context is entered without a cost)."""
        net = self._day_net.get(quote)
        loss = net.copy_negate() if net else ZERO  # exact at any precision, as a unary minus is not
        if self._costs.today and DAILY in self._money:
            with localcontext(prec=EXACT_DIGITS):
                loss += self._costs.loss(DAILY, quote)
        return loss

    def _limit(self, key: str, quote: str) -> Decimal | None:
        """The money limit ``key`` in ``quote``: None when it is not set, or sets none there."""
        limit = self._money.get(key)
        return limit.of(quote) if limit is not None else None

    @_exact
    def on_fill(self, strategy: str, fill: Fill) -> None:
        # a fill the venue stamped after the reset, come before our clock got there, is the new day's (as on /pnl
        # day): the day rolls before it is booked, not after, which would wipe it from the new day. Within a clock
        # difference only: a stamp far ahead (a venue's clock gone wrong) must not end today early
        now = self.ctx.clock.time_ns()
        self._roll_day(max(now, min(fill.ts_ns, now + VENUE_CLOCK_AHEAD_NS)))
        self._book_fill(strategy, fill, self._closes_of(fill.client_order_id))
        quote = self._quote_of(fill.symbol)
        self._check_daily(quote)
        self._check_strategy_daily(strategy, quote)
        if "max_drawdown" in self._money:
            self._check_drawdown(quote)

    @_exact
    def _act_on_losses_past(self) -> None:
        """At start, the day's loss rebuilt from the stored fills: a loss limit already past and not kept as acted
        on today (its trip's state could not be stored, or the bot stopped before it was) is acted on now, not at
        the next fill, which may never come while the bot sits unpaused. Risk checks start before the strategies
        are built: the host pauses them once they are."""
        self._act_on_daily_losses()
        for strategy, quote in sorted(self._strategy_day_net):
            self._check_strategy_daily(strategy, quote)

    @_exact
    def _act_on_daily_losses(self) -> None:
        """Check ``max_daily_loss`` in every quote with a loss today (a fill's, or a transfer cost counted there)."""
        if "max_daily_loss" not in self._money:
            return
        for quote in self._quotes(self._money["max_daily_loss"]):
            self._check_daily(quote)

    def _check_daily(self, quote: str) -> None:
        """Trip ``max_daily_loss`` in ``quote`` when the day's loss is past it (once a day)."""
        daily = self._limit("max_daily_loss", quote)
        if daily is None:
            return
        loss = self._day_loss(quote)
        if loss > daily and ("daily", quote) not in self._tripped:
            figures: dict[str, Any] = {"quote": quote, "loss": loss, "limit": daily}
            if self._costs.today:  # the part of the loss that moving funds cost
                figures["transfer_costs"] = self._costs.loss(DAILY, quote)
            self._trip("daily realized loss limit exceeded", None, **figures)
            self._tripped_now(("daily", quote))

    def _check_strategy_daily(self, strategy: str, quote: str) -> None:
        """Trip ``strategy``'s own daily loss limit in ``quote`` when its day's loss is past it (once a day)."""
        of_strategy = self._strategy_loss.get(strategy)
        limit = of_strategy.of(quote) if of_strategy is not None else None
        loss = -self._strategy_day_net.get((strategy, quote), ZERO)
        if limit is not None and loss > limit and ("daily", quote, strategy) not in self._tripped:
            self._trip("strategy daily realized loss limit exceeded", [strategy], strategy=strategy, quote=quote,
                       loss=loss, limit=limit)
            self._tripped_now(("daily", quote, strategy))

    def _tripped_now(self, limit: tuple[str, ...]) -> None:
        """``limit`` is breached today and was acted on: kept, so that a restart today does not act on it and alert
        it again. Kept only after the action (the host keeps a pause): a crash in between acts again at start, never
        leaves a breach kept as acted on that was not."""
        self._tripped.add(limit)
        args = (self.ctx.store, self.name, self._day_start_ns, set(self._tripped), self.ctx.clock.time_ns())
        if self.ctx.store.records_inline:
            try:
                save_tripped(*args)
            except Exception as exc:  # the trip holds in this run whatever the store says
                self._tripped_unstored(exc)
            return
        # a round trip: on the store writer's thread, after the trip's own record and the host's pause handed to it
        # before (what a restart loads is the last one handed over: each holds every limit breached today)
        written = self.ctx.write_later(save_tripped, *args)
        written.add_done_callback(lambda done: None if done.cancelled() or (exc := done.exception()) is None
                                  else self._tripped_unstored(exc))

    def _tripped_unstored(self, exc: BaseException) -> None:
        log.error("limits %s: the limits breached today could not be stored (%s); a restart today would act on them "
                  "and alert them again", self.name, exc, exc_info=exc)

    def _on_book(self, event: BookUpdate) -> None:
        # equity moves only with a mark (a fill checks its own): a book whose touch did not move (most ticks change
        # sizes, or levels behind the touch) changes nothing, decided on the touch's integers
        key = (event.exchange, event.symbol)
        touch = (event.best_bid_units, event.best_ask_units, event.price_decimals)
        if self._touches.get(key) == touch:
            return
        self._touches[key] = touch
        mid = event.mid
        if mid is not None:
            self._marks[key] = mid
            if event.symbol in self._held_books:
                self._moved(event.symbol)
            costs = self._costs
            if (costs.today or costs.all_time) and (counted := costs.converted_at(event.symbol)):
                self._repriced(counted, key, mid)

    def _on_pool(self, event: PoolUpdate) -> None:
        # a pool venue is marked at its pool's mid, as the portfolio marks it; the same pool published again (a
        # paper pool's quiet step) or a new one at the same mid (an account that moved no price) changes nothing
        key = (event.exchange, event.symbol)
        pool = event.pool
        if self._pools.get(key) is pool:
            return
        self._pools[key] = pool
        try:
            mid = pool.mid()
        except (PoolError, ArithmeticError):  # an empty pool prices nothing: the mark stays
            return
        if mid != self._marks.get(key):
            self._marks[key] = mid
            if event.symbol in self._held_books:
                self._moved(event.symbol)
            costs = self._costs
            if (costs.today or costs.all_time) and (counted := costs.converted_at(event.symbol)):
                self._repriced(counted, key, mid)

    @_exact
    def equity(self, quote: str) -> Decimal:
        """Realized PnL after fees since the store began, plus open positions marked to the last mid, less the
        transfer costs counted in ``quote`` (every transfer's, by the daily loss's rule: :mod:`.costs`)."""
        return self._equity(quote)

    def _equity(self, quote: str) -> Decimal:
        """:meth:`equity`, in the caller's exact context: the realized total and the books' unrealized sum, both
        kept up to date as fills and marks come (the same figure as marking every book again, digit for digit)."""
        equity = self._realized_total.get(quote, ZERO) + self._unrealized_sum.get(quote, ZERO)
        if self._costs.all_time:  # (none: nothing to price, the tick stays as cheap as before)
            equity -= self._costs.loss(DRAWDOWN, quote)
        return equity

    @_exact
    def _realized_equity(self, quote: str) -> Decimal:
        """The equity without its open positions: the peak of a quote none was stored for starts here."""
        realized = self._realized_total.get(quote, ZERO)
        return realized - self._costs.loss(DRAWDOWN, quote) if self._costs.all_time else realized

    @_exact
    def _moved(self, symbol: str) -> None:
        """A mark of ``symbol``, where some strategy holds lots, moved: re-mark its books, then check the drawdown."""
        self._remark(symbol)
        self._drawdown(self._quote_of(symbol))

    @_exact
    def _repriced(self, counted: tuple[tuple[str, str], ...], market: tuple[str, str], mid: Decimal) -> None:
        """``market``'s mid, at which some counted transfer cost converts (a SOL fee's SOL/USD), moved to ``mid``:
        check the limits it is counted in, (limit, quote) each, as a fill or a tick in a held market does. The check
        subscribed before the portfolio, which takes the tick after it: the tick's mid is the one the portfolio will
        hold for ``market``."""
        self._pricing = (market, mid)
        try:
            for key, quote in counted:
                if key == DAILY:
                    self._check_daily(quote)
                else:
                    self._drawdown(quote)
        finally:
            self._pricing = None

    def _mark(self, exchange: str, symbol: str) -> Decimal | None:
        return self._marks.get((exchange, symbol))

    @_exact
    def _check_drawdown(self, quote: str) -> None:
        self._drawdown(quote)

    @_exact
    def _act_on_drawdowns(self) -> None:
        """Check ``max_drawdown`` in every quote it is shown in: the transfer costs read changed its equity."""
        if "max_drawdown" not in self._money:
            return
        for quote in self._quotes(self._money["max_drawdown"]):
            self._drawdown(quote)

    def _drawdown(self, quote: str) -> None:
        """:meth:`_check_drawdown` in the caller's exact context (a tick's re-marking and check share one)."""
        limit = self._limit("max_drawdown", quote)
        if limit is None:  # no limit in this quote: its orders are vetoed (check)
            return
        if self._unpriced_in_peak and quote in self._unpriced_in_peak:  # (none: the tick pays one look)
            self._price_peak(quote)
        equity = self._equity(quote)
        peak = self._peak.get(quote)
        if peak is None or equity > peak:
            self._peak[quote] = peak = equity
        drawdown = peak - equity
        if drawdown > limit:
            self._peak[quote] = equity  # the trailing peak restarts: the next trip needs a new fall
            figures: dict[str, Any] = {"quote": quote, "drawdown": drawdown, "peak": peak, "equity": equity,
                                       "limit": limit}
            if self._costs.all_time:  # what moving funds cost, in the equity (since the store began)
                figures["transfer_costs"] = self._costs.loss(DRAWDOWN, quote)
            self._trip("drawdown from peak equity exceeded", None, **figures)
            # stored after the action, as the limits breached today are: a crash before it leaves the peak the trip
            # was measured from (the restart trips again), never a restarted one with the breach not acted on. Handed
            # over even while an earlier write of the peaks waits (now): that one holds the peak from before the trip
            self._save_peaks(now=True)

    def _trip(self, cause: str, strategies: list[str] | None, *, strategy: str = "", **figures) -> None:
        action = self.settings.action
        if action == "pause":
            paused = self.ctx.pause(strategies, cause)
            figures["paused"] = ", ".join(paused) or "none"
        elif action == "stop":
            self.ctx.kill(cause)
        else:
            self.ctx.flatten(cause, self.settings.flatten_slippage_bps)
        self.ctx.record_trip(cause, action, strategy=strategy, **figures)

    # --- the gate ------------------------------------------------------------------------------

    def accepted(self, intent: OrderIntent) -> None:
        if intent.client_order_id is not None:  # how the ledger will match its fills
            self._closes[intent.client_order_id] = intent.closes
            if len(self._closes) > CLOSES_KEPT:
                del self._closes[next(iter(self._closes))]
        if self.settings.max_orders_per_minute is not None:
            self._recent.append(self.ctx.clock.monotonic())

    def check(self, intent: OrderIntent, view: PortfolioView) -> str | None:
        s: LimitsSettings = self.settings
        if s.max_open_orders is not None:
            count = len(view.open_orders())
            if count + 1 > s.max_open_orders:
                return f"{count} orders are open; max_open_orders is {s.max_open_orders}"
        if s.max_orders_per_minute is not None:
            horizon = self.ctx.clock.monotonic() - 60
            while self._recent and self._recent[0] <= horizon:
                self._recent.popleft()
            if len(self._recent) >= s.max_orders_per_minute:
                return f"{len(self._recent)} orders in the last minute; max_orders_per_minute is " \
                       f"{s.max_orders_per_minute}"
        quote = self._quote_of(intent.symbol)
        # a money limit that sets none in this quote would leave the order unlimited: refused instead
        for limit in (*self._money.values(), self._strategy_loss.get(intent.strategy),
                      self._strategy_notional.get(intent.strategy)):
            if limit is not None and (refused := limit.refuses(quote)) is not None:
                return refused
        # a limit order is valued at its own price: the market's last price (a pool's mid, made when first read)
        # only values a market order
        price = intent.price if intent.price is not None else view.last_price(intent.exchange, intent.symbol)
        max_order = self._limit("max_order_notional", quote)
        if max_order is not None:
            if price is None:
                return f"no price to value a {intent.symbol} market order against max_order_notional"
            notional = price * intent.qty
            if notional > max_order:
                return (f"order value {notional} {quote} exceeds max_order_notional {max_order} {quote} "
                        f"({intent.qty} {intent.symbol} at {intent.price})")
        reason = self._check_position(intent, view)
        if reason is None and ("max_position_notional" in self._money or "max_total_notional" in self._money
                               or intent.strategy in self._strategy_notional):
            reason = self._check_notional(intent, view, price)
        # an order that only reduces the exposure (the host's rule, the one a pause admits by) passes the loss
        # limits: vetoing it would not undo a loss, only keep the position, and after a breach a close must go
        if reason is None and ("max_daily_loss" in self._money or intent.strategy in self._strategy_loss) \
                and not view.reduces(intent):
            reason = self._check_loss(intent, view, price)
        return reason

    def admits_while_paused(self, intent: OrderIntent, view: PortfolioView) -> bool:
        """This check pauses only on a loss limit's breach: what only reduces the exposure (the host found it does)
        may still go, and passes the loss limits in :meth:`check` too (every other limit still applies)."""
        return True

    def _check_position(self, intent: OrderIntent, view: PortfolioView) -> str | None:
        if self._max_position is None:
            return None
        if (refused := self._max_position.refuses(intent.symbol)) is not None:
            return refused  # no limit for this base asset: it would be unlimited
        limit, key = self._max_position.of(intent.symbol), "max_position"
        base = split_symbol(intent.symbol)[0]
        position = view.position(intent.exchange, intent.symbol)
        resting = sum((o.remaining_qty for o in view.open_orders(intent.exchange, intent.symbol)
                       if o.side is intent.side), ZERO)
        worst = position + resting + intent.qty if intent.side is Side.BUY else -(position - resting - intent.qty)
        if limit is not None and worst > limit:
            return (f"{intent.symbol} position could reach {worst} {base} (held {position}, resting {resting}, "
                    f"this order {intent.qty}); its limit is {limit} {base} ({key})")
        return None

    def _exposure(self, view: PortfolioView, intent: OrderIntent,
                  strategy: str | None) -> dict[tuple[str, str], Decimal]:
        """Worst absolute position per market (all strategies, or one), counting resting orders and ``intent``."""
        legs: dict[tuple[str, str], list[Decimal]] = {}  # market -> [position, resting buys, resting sells]
        if strategy is None:
            markets = {(ex, sym) for (_, ex, sym), qty in self._positions.items() if qty}
            for market in markets:
                legs[market] = [view.position(*market), ZERO, ZERO]
        else:
            for (st, ex, sym), qty in self._positions.items():
                if st == strategy and qty:
                    legs[(ex, sym)] = [qty, ZERO, ZERO]
        for order in view.open_orders():
            if strategy is None or order.strategy == strategy:
                leg = legs.setdefault((order.exchange, order.symbol), [ZERO, ZERO, ZERO])
                leg[1 if order.side is Side.BUY else 2] += order.remaining_qty
        leg = legs.setdefault((intent.exchange, intent.symbol), [ZERO, ZERO, ZERO])
        if strategy is None and not leg[0]:
            leg[0] = view.position(intent.exchange, intent.symbol)
        leg[1 if intent.side is Side.BUY else 2] += intent.qty
        return {market: worst_position(*leg) for market, leg in legs.items()}

    def _value(self, view: PortfolioView, market: tuple[str, str], intent: OrderIntent,
               price: Decimal | None) -> Decimal | None:
        mark = view.last_price(*market)
        if mark is None and market == (intent.exchange, intent.symbol):
            mark = price
        return mark

    def _check_notional(self, intent: OrderIntent, view: PortfolioView, price: Decimal | None) -> str | None:
        quote = self._quote_of(intent.symbol)
        max_position = self._limit("max_position_notional", quote)
        caps: list[tuple[str | None, Decimal | None]] = []  # (strategy or None for all, limit)
        if "max_position_notional" in self._money or "max_total_notional" in self._money:
            caps.append((None, self._limit("max_total_notional", quote)))
        if intent.strategy in self._strategy_notional:
            caps.append((intent.strategy, self._strategy_notional[intent.strategy].of(quote)))
        for strategy, total_limit in caps:
            total = ZERO
            for market, qty in self._exposure(view, intent, strategy).items():
                if self._quote_of(market[1]) != quote or not qty:
                    continue
                mark = self._value(view, market, intent, price)
                if mark is None:
                    return f"no price to value the {market[1]} position against the notional limits"
                value = qty * mark
                if strategy is None and market == (intent.exchange, intent.symbol) \
                        and max_position is not None and value > max_position:
                    return (f"{intent.symbol} position could be worth {value} {quote}; max_position_notional is "
                            f"{max_position} {quote}")
                total += value
            if total_limit is not None and total > total_limit:
                who = f"strategy {strategy}'s positions" if strategy else "all positions"
                key = f"strategy_max_position_notional.{strategy}" if strategy else "max_total_notional"
                return f"{who} could be worth {total} {quote}; {key} is {total_limit} {quote}"
        return None

    def _check_loss(self, intent: OrderIntent, view: PortfolioView, price: Decimal | None) -> str | None:
        s: LimitsSettings = self.settings
        if price is None:
            return f"no price to bound what a {intent.symbol} market order could lose"
        self._roll_day(self.ctx.clock.time_ns())
        quote = self._quote_of(intent.symbol)
        checks: list[tuple[str | None, Decimal, Decimal]] = []  # (strategy or None for all, limit, loss)
        daily = self._limit("max_daily_loss", quote)
        if daily is not None:
            checks.append((None, daily, self._day_loss(quote)))
        of_strategy = self._strategy_loss.get(intent.strategy)
        if of_strategy is not None and (limit := of_strategy.of(quote)) is not None:
            checks.append((intent.strategy, limit, -self._strategy_day_net.get((intent.strategy, quote), ZERO)))
        for strategy, limit, loss in checks:
            orders: dict[tuple[str, str], list[tuple[Side, Decimal, Decimal]]] = {}
            for o in view.open_orders():
                if (strategy is None or o.strategy == strategy) and self._quote_of(o.symbol) == quote:
                    o_price = o.price if o.price is not None else view.last_price(o.exchange, o.symbol)
                    if o_price is not None:
                        orders.setdefault((o.strategy, o.symbol), []).append((o.side, o.remaining_qty, o_price))
            orders.setdefault((intent.strategy, intent.symbol), []).append((intent.side, intent.qty, price))
            bound = sum((worst_loss(self._book(key), legs, s.fee_bps_bound)
                         for key, legs in orders.items()), ZERO)
            if loss + bound > limit:
                who = f"strategy {strategy}'s" if strategy else "the"
                key = f"strategy_max_daily_loss.{strategy}" if strategy else "max_daily_loss"
                so_far = f"realized {loss}" if strategy or not self._costs.today else \
                    f"realized and transfer costs {loss}"  # a strategy's own limit counts no transfer
                return (f"{who} day's loss could reach {loss + bound} {quote} ({so_far}, open orders and "
                        f"this one up to {bound}); {key} is {limit} {quote}")
        return None

    def _book(self, key: tuple[str, str]) -> Position:
        """The open lots of (strategy, symbol), empty when it has none."""
        ordered = self._books.get(key)
        return ordered.position if ordered is not None else Position()

    # --- /risk ---------------------------------------------------------------------------------

    def _transfer_note(self, quote: str, key: str = DAILY) -> str:
        """What of the transfer costs the loss limit ``key`` in ``quote`` counts, and what it could not price."""
        loss, counted, unpriced = self._transfer_loss(quote, key)
        converted = [text for text in counted if " at " in text]
        parts = ([f"transfer costs {money(loss, quote)}" + (f" ({', '.join(converted)})" if converted else "")]
                 if counted else []) + unpriced
        return f" ({'; '.join(parts)})" if parts else ""

    def _quotes(self, limit: QuoteLimit) -> list[str]:
        """The quote assets to show ``limit`` in: those it is placed in, and those traded since the store began."""
        return sorted(set(limit.placed()) | set(self._day_net) | set(self._realized_total))

    def _day_text(self) -> str:
        """When the limits' day began, in the bot's zone: ``since Wed 2026-11-18 08:00 Europe/Berlin``."""
        zone = self._timezone()
        start = dt.datetime.fromtimestamp(self._day_start_ns // NS_PER_S, zoneinfo.ZoneInfo(zone))
        return f"since {start:%a %Y-%m-%d %H:%M} {zone}"

    def status(self) -> dict[str, str]:
        s: LimitsSettings = self.settings
        self._roll_day(self.ctx.clock.time_ns())  # a day that ended with no fill or order since shows the new one
        # the transfer costs are those of the transfers held, kept current as each is saved: /pnl's now, no read
        facts: dict[str, str] = {}
        if "max_daily_loss" in self._money or self._strategy_loss:  # /pnl day's start is in its title: say ours
            facts["daily loss day"] = self._day_text()
        for key, what in (("max_daily_loss", "daily loss"), ("max_drawdown", "drawdown")):
            limit = self._money.get(key)
            if limit is None:
                continue
            if (plain := limit.unplaced()) is not None:
                facts[what] = f"0 / {plain} (the quote asset first traded)"
                continue
            for q in self._quotes(limit):
                used = max(self._day_loss(q), ZERO) if key == "max_daily_loss" else \
                    max(self._peak.get(q, ZERO) - self.equity(q), ZERO)
                value = limit.placed().get(q)
                facts[f"{what} {q}"] = f"{amount(used, q)} / " + (
                    f"{amount(value, q)} {q}" if value is not None else f"no limit in {q} (its orders are refused)")
                if self._costs.of(key):
                    facts[f"{what} {q}"] += self._transfer_note(q, key)
        for strategy, limit in self._strategy_loss.items():
            losses = {q: max(-v, ZERO) for (st, q), v in self._strategy_day_net.items() if st == strategy}
            q, loss = max(losses.items(), key=lambda item: item[1], default=("", ZERO))
            value = limit.placed().get(q)
            if value is not None:
                text = f"{amount(value, q)} {q}"
            elif (plain := limit.unplaced()) is not None:
                text = f"{plain} (the quote asset {strategy} trades)"
            else:
                text = f"no limit in {q} (its orders are refused)"
            facts[f"daily loss {strategy}"] = f"{amount(loss, q)} / {text}"
        if s.max_orders_per_minute is not None:
            horizon = self.ctx.clock.monotonic() - 60
            facts["orders per minute"] = f"{sum(1 for t in self._recent if t > horizon)} / {s.max_orders_per_minute}"
        for key in ("max_order_notional", "max_position_notional", "max_total_notional"):
            if key in self._money:
                for q, text in self._money[key].text():
                    facts[f"{key} {q}".rstrip()] = text
        for strategy, limit in self._strategy_notional.items():
            for _, text in limit.text():
                facts[f"max position value {strategy}"] = text
        if self._max_position is not None:
            for name, text in self._max_position.text():
                facts[f"max_position {name}".rstrip()] = text
        if s.max_open_orders is not None:
            facts["max_open_orders"] = str(s.max_open_orders)
        facts["on breach"] = s.action
        return facts

    @_exact
    def usage(self) -> dict[str, LimitUse]:
        """The loss, drawdown and rate limits as numbers (what ``status`` shows as text)."""
        s: LimitsSettings = self.settings
        self._roll_day(self.ctx.clock.time_ns())
        uses: dict[str, LimitUse] = {}
        for key in ("max_daily_loss", "max_drawdown"):
            limit = self._money.get(key)
            for q, value in (limit.placed() if limit is not None else {}).items():
                if key == DAILY:  # the day's, from its reset time: /status says since when
                    uses[f"{key}.{q}"] = LimitUse(max(self._day_loss(q), ZERO), value, q, self._day_start_ns)
                else:
                    uses[f"{key}.{q}"] = LimitUse(max(self._peak.get(q, ZERO) - self.equity(q), ZERO), value, q)
        for (strategy, q), net in self._strategy_day_net.items():
            of_strategy = self._strategy_loss.get(strategy)
            limit_there = of_strategy.placed().get(q) if of_strategy is not None else None
            if limit_there is not None:
                uses[f"strategy_max_daily_loss.{strategy}.{q}"] = LimitUse(max(-net, ZERO), limit_there, q,
                                                                            self._day_start_ns)
        if s.max_orders_per_minute is not None:
            horizon = self.ctx.clock.monotonic() - 60
            uses["max_orders_per_minute"] = LimitUse(Decimal(sum(1 for t in self._recent if t > horizon)),
                                                     Decimal(s.max_orders_per_minute), "orders")
        return uses
