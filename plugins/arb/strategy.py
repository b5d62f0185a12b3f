"""The ``arb`` strategy: a CEX order book against a Solana DEX pool, both directions, every cost.

Hot path (every CEX ``BookUpdate`` and every ``PoolUpdate``): keep the latest input, check that
both are fresh and LIVE, price the directions with a gross edge with :class:`~plugins.arb.pricing.Pricer`
(``edges``), publish the opportunity when one starts or changes, and execute it when it clears
``min_edge_bps`` (see :mod:`plugins.arb.execution`). While an episode that is not tradable goes on
(no refresh due), a tick whose touch keeps its direction hopeless (no size can clear ``min_edge_bps``)
and the other without an edge decides nothing more (``Pricer.alone``: integer comparisons).
Storage and alerts are off the hot path: opportunities are queued and written in batches by a
timer (``FLUSH_EVERY_S`` after the first row queued); an execution's row is written at once (it must be
on disk before a leg leaves), which only happens when one is taken.

**Stale inputs.** A decision needs the CEX book and the pool state, each younger than
``max_input_age_ms`` (``ctx.clock`` now minus the event's ``ts_ns``) and each feed LIVE. Otherwise
nothing is decided; the miss is counted (``stale`` in ``/status``) and nothing is sent.

**Episodes.** An opportunity is an episode of positive gross edge (at the CEX touch against the
pool mid) in either direction. It is published (bus ``Opportunity`` and the ``arb_opportunities``
table) when it starts, when its direction or its tradability (or the reason it is not acted on)
changes, when it is executed, and while it lasts at most every ``opportunity_refresh_ms`` if its
figures moved. It ends when the gross edge is gone.

**Modes.** In ``observe`` (``ctx.mode``, read per decision: ``/observe on`` applies at once) a
tradable opportunity is recorded with ``acted = False`` and reason ``observe mode``, and nothing is
submitted. In ``paper`` and ``live`` it is executed.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import ClassVar

from bot.api import (
    ZERO,
    AlertLevel,
    BookUpdate,
    Context,
    FeedState,
    FeedStatus,
    Fill,
    MarketEvent,
    Opportunity,
    OrderUpdate,
    PoolUpdate,
    Strategy,
    split_symbol,
)
from bot.api.ledger import signed_money
from bot.api.storage import StoreBusy, is_store_error

from .execution import NS_PER_MS, REFUSED, ArbExecutions, Execution, opportunity_id
from .inventory import InventoryBook, shared_balances
from .pricing import Direction, Evaluation, Inventory, Pricer, Shortfall, Touch
from .records import costs_json, insert_opportunities
from .settings import SOL, ArbSettings

FLUSH_EVERY_S = 0.2
STALE_INPUTS_FACT = "stale inputs this run"
"""The ``/status`` fact counting decisions skipped for a stale input (the backtest report reads it)."""
"""How often queued opportunity rows are written."""
ROWS_PER_WRITE = 32
"""Most opportunity rows one write stores (~0.3 ms); more queued are written by the next write, one loop turn later
(queued behind whatever is ready then): a tick arriving while a long queue is written waits for one write at most
before its legs' requests start, not for the whole queue."""
ROWS_PER_WRITE_OFF_LOOP = 1000
"""Most opportunity rows one write on the store writer's thread stores (a store whose commits are round trips:
PostgreSQL); the loop only hands them over."""
ROWS_KEPT = 100_000
"""Most opportunity rows kept unwritten while the store fails (a day of a busy pair's is more than memory should
hold): past it the oldest not acted on are dropped, counted and alerted. Rows of executions are never dropped."""
BALANCES_TIMEOUT_S = 10.0
"""A venue that does not answer a balance request within this is skipped until the next snapshot."""


def _account(ctx: Context, venue: str) -> str:
    """The account ``venue`` trades from (:attr:`bot.api.Exchange.account`); its name when it is not running (the
    host then refuses the strategy for the missing venue)."""
    try:
        return ctx.exchange(venue).account
    except KeyError:
        return venue


class ArbStrategy(Strategy):
    """CEX/DEX arbitrage on one pair: see the module documentation."""

    Settings = ArbSettings
    order_settings: ClassVar[tuple[str, ...]] = ("cex", "dex")
    exchange_settings: ClassVar[tuple[str, ...]] = ("cex", "dex", "pool")
    venue_kinds: ClassVar[Mapping[str, tuple[str, ...]]] = {"cex": ("book",), "dex": ("pool",), "pool": ("pool",)}
    market_events: ClassVar[tuple[type, ...]] = (BookUpdate, PoolUpdate, FeedStatus)
    """Public trades never move a decision: the host does not deliver them (nor does a paper venue make them)."""

    @classmethod
    def needs(cls, settings: ArbSettings) -> Mapping[str, tuple[str, ...]]:
        """The CEX leg and the hedge are IOC limit orders under our client ids."""
        return {"cex": ("ioc", "client_ids")}

    @classmethod
    def symbols_at(cls, settings: ArbSettings) -> Mapping[str, str]:
        """The same market on both venues (and on the pricing pool, when there is one)."""
        return {"cex": settings.symbol, "dex": settings.symbol, "pool": settings.symbol}

    def __init__(self, name: str, settings: ArbSettings, ctx: Context):
        super().__init__(name, settings, ctx)
        self.settings: ArbSettings = settings
        self.base, self.quote = split_symbol(settings.symbol)
        self.pool_source = settings.pool or settings.dex
        self._cex = settings.cex
        self._max_age_ns = settings.max_input_age_ms * NS_PER_MS
        self._refresh_ns = settings.opportunity_refresh_ms * NS_PER_MS
        self._time_ns = ctx.clock.time_ns
        self.book: BookUpdate | None = None
        self.pool_update: PoolUpdate | None = None
        self._live = {settings.cex: True, self.pool_source: True}
        self._all_live = True
        """Both feeds LIVE (the last ``FeedStatus`` of each)."""
        shared = shared_balances(ctx.bus) if hasattr(ctx.bus, "subscribe") else None  # one per bot: every pair's fills
        # the venues started before any strategy is made: their accounts are known (pools swapping from one wallet
        # share its balances, split by inventory_weight, rather than each counting on all of it)
        self.inventory = InventoryBook(settings.cex, settings.dex, self.base, self.quote, shared=shared, strategy=name,
                                       weight=settings.inventory_weight, cex_account=_account(ctx, settings.cex),
                                       dex_account=_account(ctx, settings.dex))
        self._shared = self.inventory.shared
        self._inventory = Inventory(ZERO, ZERO, ZERO, ZERO)
        self._inventory_version = -1
        """The shared balances' version ``_inventory`` was made at (-1: not yet)."""
        self.pricer: Pricer | None = None
        self.executions: ArbExecutions | None = None
        self._episode: tuple | None = None
        """Key of the opportunity published last (direction, tradable, why not acted); None: no episode."""
        self._published_ns = 0
        self._published: Evaluation | None = None
        """The evaluation published last: its figures (size, net PnL) are compared only when the refresh is due."""
        self._pending_rows: deque[dict] = deque()
        self.rows_dropped = 0
        """Opportunity rows not acted on dropped unwritten while the store failed (:data:`ROWS_KEPT`)."""
        self._flush_timer: asyncio.Handle | None = None
        """Armed by the first row queued since the last write: :meth:`_write` runs FLUSH_EVERY_S later (or in the
        next loop turn, for rows one write left queued)."""
        self._rows_per_writer = 1
        """Rows queued that arm the writer: 1, or a full write's in a backtest (see :meth:`start`)."""
        self._write_failed = False
        """The last write failed (reported once per streak of failures)."""
        self._writing: asyncio.Future[None] | None = None
        """The write on the store writer's thread under way (:meth:`_write_off_loop`), None when none is."""
        self._write_waited = False
        """The write due now already waited one loop turn behind an execution's legs (:meth:`_write`)."""
        self._running = False
        self._fee_refresh: asyncio.Task[None] | None = None
        """The swap fee asked again after a DEX fill (:meth:`on_fill`), while it runs."""
        self._cooldown_until_ns = 0
        self.counts = {"evaluations": 0, "stale": 0, "opportunities": 0, "executed": 0}
        self.last_reason = ""
        self._reports: list[tuple] = []
        """Opportunities decided, waiting to be published and stored (:meth:`_run_reports`)."""
        self._reports_due: asyncio.Handle | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def markets(self) -> list[tuple[str, str]]:
        return [(self.settings.cex, self.settings.symbol), (self.pool_source, self.settings.symbol)]

    async def start(self) -> None:
        """Build the pricer on the CEX market's rules, read both venues' balances, settle unfinished executions."""
        s = self.settings
        try:
            market = self.market = self.ctx.exchange(s.cex).market(s.symbol)
        except KeyError:
            raise ValueError(f'cex "{s.cex}" does not trade {s.symbol}: add it to that exchange\'s symbols, or set '
                             f"symbol to one of its markets") from None
        self.pricer = Pricer(s, market, self.base, self.quote)
        self.executions = ArbExecutions(self.name, s, self.ctx, market, lambda: self.book, self._execution_done)
        self._opportunity_topic = self.ctx.bus.topic(Opportunity, None, s.symbol)  # where _publish sends them
        # a backtest's store (nobody reads it before the end): the writer waits for a full write's rows (stop() stores
        # the rest) instead of writing every FLUSH_EVERY_S the few rows that came meanwhile; the same rows, in order
        self._rows_per_writer = ROWS_PER_WRITE if self.ctx.store.is_disposable else 1
        self._running = True
        self._loop = asyncio.get_running_loop()
        await self.refresh_inventory()
        self.ctx.create_task(self._inventory_loop(), "inventory snapshots")
        recovered = await self.executions.recover()
        if recovered:
            self.ctx.alert(AlertLevel.WARNING, "arb", f"{len(recovered)} arbitrage execution(s) left unfinished by the "
                           "previous run: following their legs to the end, hedging what cannot be completed",
                           opportunities=", ".join(ex.id for ex in recovered))

    async def stop(self) -> None:
        self._running = False
        if self._reports_due is not None or self._reports:  # decided in the loop turn the stop began in (or held
            if self._reports_due is not None:             # behind an execution's row): stored with the rest
                self._reports_due.cancel()
            self._run_reports(held=False)
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self.ctx.store.records_inline:
            self._flush()
            return
        # the rest go on the store writer's thread after the write under way (the bot's stop waits for them)
        while self._pending_rows:
            self._writing = None
            self._write_off_loop()

    @property
    def _pricer(self) -> Pricer:
        if self.pricer is None:
            raise RuntimeError(f'strategy "{self.name}" used before start()')
        return self.pricer

    @property
    def _executions(self) -> ArbExecutions:
        if self.executions is None:
            raise RuntimeError(f'strategy "{self.name}" used before start()')
        return self.executions

    # --- inventory ------------------------------------------------------------------------------

    async def refresh_inventory(self) -> None:
        """Snapshot both venues' balances (a venue that fails keeps what we knew, and is logged; an answer during which
        a fill of its account was applied is set aside until the next snapshot), and ask the DEX venue what its next
        swap will pay in network fees (:meth:`refresh_swap_fee`)."""
        await self.refresh_swap_fee()
        for venue in dict.fromkeys((self.settings.cex, self.settings.dex)):
            asked = self.inventory.fills_applied
            try:
                async with asyncio.timeout(BALANCES_TIMEOUT_S):
                    balances = await self.ctx.exchange(venue).balances()
            except Exception as exc:  # TimeoutError included: the next snapshot tries again
                self.ctx.log.warning("balances of %s: %s: %s", venue, type(exc).__name__, exc)
                continue
            if not self.inventory.snapshot(venue, balances, self.ctx.clock.time_ns(), since=asked):
                self.ctx.log.info("balances of %s set aside: a fill came while they were on their way (whether they "
                                  "count it cannot be told); what we knew, moved by every fill, is kept until the next "
                                  "snapshot", venue)
        self.check_inventory()

    async def refresh_swap_fee(self) -> None:
        """Price each direction's swap with the DEX venue's own cost of its next swap on that side
        (``Exchange.swap_fee_lamports(symbol, side)``: network fee, the route's compute-unit limit, the rent of an
        output token account it would create): the venue owns those figures. A venue whose method takes no side
        (written before it had one) is asked once for both. A venue that does not say leaves the settings'
        (``signature_fee_lamports``, ``compute_units``, ``compute_unit_price_micro_lamports``); one that fails keeps
        the last figures, logged."""
        s = self.settings
        venue = self.ctx.exchange(s.dex)
        try:
            async with asyncio.timeout(BALANCES_TIMEOUT_S):
                if "side" in inspect.signature(venue.swap_fee_lamports).parameters:
                    fees = {d: await venue.swap_fee_lamports(s.symbol, d.dex_side) for d in Direction}
                else:
                    fee = await venue.swap_fee_lamports(s.symbol)
                    fees = dict.fromkeys(Direction, fee)
        except Exception as exc:  # TimeoutError included: the next refresh asks again
            self.ctx.log.warning("swap fee of %s: %s: %s", s.dex, type(exc).__name__, exc)
            return
        for direction, fee in fees.items():
            if fee is not None:
                self._pricer.set_swap_fee(fee, direction)

    def check_inventory(self) -> None:
        """Alert a direction that newly cannot trade its smallest size for want of inventory, as the pricer's cap
        decides it (:meth:`Pricer.shortfall`; needs a book and a pool to price it)."""
        book, pool = self.book, self.pool_update
        if book is None or pool is None or self._pricer.mid is None:
            return
        inventory = self._pricing_inventory()
        found = [self._pricer.shortfall(direction, book, inventory) for direction in Direction]
        self.inventory.check_low([s for s in found if s is not None], self._low_inventory)

    async def _inventory_loop(self) -> None:
        while self._running:
            await asyncio.sleep(self.settings.inventory_refresh_s)
            if self._running:
                await self.refresh_inventory()

    def _pricing_inventory(self) -> Inventory:
        """What the pricer may spend: made again when the shared balances changed (a snapshot, a fill; another
        pair's fill on a shared venue changes what we may spend too)."""
        version = self._shared.version
        if version != self._inventory_version:
            cex_base, cex_quote, dex_base, dex_quote = self.inventory.amounts()
            dex_sol = None if SOL in (self.base, self.quote) else self.inventory.available(self.settings.dex, SOL)
            self._inventory = Inventory(cex_base, cex_quote, dex_base, dex_quote, dex_sol)
            self._inventory_version = version
        return self._inventory

    def _low_inventory(self, shortfall: Shortfall) -> None:
        self.ctx.alert(AlertLevel.WARNING, "arb", f"{shortfall.direction}: {shortfall.venue} has {shortfall.have} "
                       f"{shortfall.asset}, less than the {shortfall.need} {shortfall.asset} needed to trade min_size "
                       f"{self.settings.min_size} {self.base}", direction=shortfall.direction, venue=shortfall.venue,
                       asset=shortfall.asset, have=str(shortfall.have), need=str(shortfall.need))

    # --- hot path -------------------------------------------------------------------------------

    def on_market(self, event: MarketEvent) -> None:
        if isinstance(event, BookUpdate):
            if event.exchange != self._cex:
                return
            self.book = event
            executions = self.executions or self._executions  # _executions: the error before start()
            if executions.current and self._fresh(event):  # hedges wait for a fresh book
                executions.on_book(event)
        elif isinstance(event, PoolUpdate):
            if event.exchange != self.pool_source:
                return
            self.pool_update = event
            (self.pricer or self._pricer).set_pool(event.pool)  # _pricer: the error before start()
        elif isinstance(event, FeedStatus):
            if event.exchange in self._live:
                self._live[event.exchange] = event.state is FeedState.LIVE
                self._all_live = all(self._live.values())
            return
        else:
            return
        self._evaluate()

    def _fresh(self, book: BookUpdate) -> bool:
        return self._time_ns() - book.ts_ns <= self._max_age_ns and self._live[self._cex]

    def _evaluate(self) -> None:
        book, pool = self.book, self.pool_update
        if book is None or pool is None:
            return
        now = self._time_ns()
        if now - book.ts_ns > self._max_age_ns or now - pool.ts_ns > self._max_age_ns or not self._all_live:
            self.counts["stale"] += 1
            self.last_reason = "stale input"
            return
        self.counts["evaluations"] += 1
        episode = self._episode
        pricer = self.pricer or self._pricer  # set: a pool state was (set_pool)
        if episode is not None and now - self._published_ns < self._refresh_ns:
            # an episode not due for a refresh goes on, unpublished, while the other direction has no edge and its
            # own decides the same (most ticks): not tradable while it stays hopeless at the touch or a cap rules its
            # smallest size out; tradable, not acted on for the same reason (a cooldown, an execution in progress),
            # while its smallest size clears
            direction, tradable, reason = episode
            mine = pricer.alone(book, direction)  # None: the other direction has an edge
            if mine is not None:
                if not tradable and mine is Touch.HOPELESS:
                    return
                if mine is Touch.NO_EDGE:  # neither direction has an edge (alone looked at the other first): the
                    self._episode = None   # episode ends, as edges would say (None, None), without asking it
                    return
                if (mine is Touch.OPEN and (not tradable or (reason and reason == self._why_not_act(now)))
                        and pricer.tradable(direction, book, self._pricing_inventory()) is tradable):
                    return
        # what the pricer may spend (read after the touch: most ticks end there without it)
        inventory = self._inventory if self._shared.version == self._inventory_version else self._pricing_inventory()
        buy_cex, buy_dex = pricer.edges(book, inventory)  # None: no gross edge (> 0)
        if buy_cex is None:
            if buy_dex is None:  # no edge either way
                self._episode = None
                return
            ev = buy_dex
        elif buy_dex is None:
            ev = buy_cex
        else:  # a crossed book
            ev = self._best((buy_cex, buy_dex))
        # not tradable: the pricer's reason, read only when published (formatting it costs more than
        # the rest of a tick; its figures change every tick); tradable: why it is not acted on
        reason = None
        act = False
        if ev.tradable:
            reason = self._why_not_act(now)
            act = not reason
        key = (ev.direction, ev.tradable, reason if ev.tradable else "")
        if act:
            oid = opportunity_id(self.name, ev, book.ts_ns, pool.ts_ns, now)
            sol_price = self._sol_price(book)
            ex = self._executions.execute(oid, ev, sol_price, now)
            if ex is not None:
                self._published_ns, self._published = now, ev
                self._episode = key
                if ex.awaiting_row:  # its row is stored off the loop first: reported once its legs are submitted
                    ex.on_started = partial(self._executed, ex, ev, book, pool, now)
                else:
                    self._executed(ex, ev, book, pool, now)
                return
            reason = "already executed"
        if key != self._episode or (now - self._published_ns >= self._refresh_ns and self._moved(ev)):
            # The decision is made (no trade); telling the bus and the store (an id hash, the reason
            # sentence, the event, a row: several times the decision's own cost, and the evaluation's
            # figures when they are made on first read) waits one loop turn.
            self._published_ns, self._published = now, ev
            self._episode = key
            self._reports.append((ev, book, pool, now, reason, None))
            if self._reports_due is None:
                self._reports_due = self._loop.call_soon(self._run_reports)

    def _executed(self, ex: Execution, ev: Evaluation, book: BookUpdate, pool: PoolUpdate, now: int) -> None:
        """An execution's legs are submitted: its report (the event, the row) waits behind their requests, ahead of
        any decided before; one whose legs were all refused is over already, and is not acted on after all."""
        reason = ""
        if ex.refused:
            reason = ex.why_not or REFUSED
        else:
            self.counts["executed"] += 1
        self._reports.insert(0, (ev, book, pool, now, reason, ex.id))
        if self._reports_due is not None:
            self._reports_due.cancel()
        self._reports_due = self._loop.call_soon(self._run_reports)

    def _run_reports(self, *, held: bool = True) -> None:
        """The reports decided since the last run (scheduled by the decision: the next loop turn, or behind the
        requests of an execution decided meanwhile, which start first). While an execution's row is on its way to
        the store (off the loop) they wait (``held``): its report, published once its legs are submitted, goes
        first, as it would have gone in the turn after its decision."""
        self._reports_due = None
        if held and self._executions.awaiting_row:
            return
        reports, self._reports = self._reports, []
        for report in reports:
            self._report(*report)

    def _report(self, ev: Evaluation, book: BookUpdate, pool: PoolUpdate, now: int, reason: str | None,
                oid: str | None) -> None:
        """Publish and store an opportunity (scheduled by the decision, run right after it): one executed (``oid``,
        its execution's id: acted on unless ``reason`` says why no leg was sent) or not (its id made here)."""
        if oid is not None:
            self._publish(ev, book, pool, now, oid, acted=not reason, reason=reason or "")
            return
        ev.settled()  # every figure is read below
        self._publish(ev, book, pool, now, opportunity_id(self.name, ev, book.ts_ns, pool.ts_ns, now),
                      acted=False, reason=ev.reason if reason is None else reason)

    def _moved(self, ev: Evaluation) -> bool:
        """Whether the figures (size, net PnL) moved since the opportunity published last."""
        last = self._published
        return last is None or (ev is not last and (ev.size != last.size or ev.net_pnl != last.net_pnl))

    @staticmethod
    def _best(evaluations: tuple[Evaluation, Evaluation]) -> Evaluation:
        """A tradable direction first, then one with a gross edge, then the larger net PnL, then the larger gross
        edge (the first on a tie). Figures are read only when the flags tie: an evaluation may make them on first
        read (see :class:`~plugins.arb.pricing.Evaluation`)."""
        a, b = evaluations
        if a.tradable != b.tradable:
            return a if a.tradable else b
        if a.edge != b.edge:
            return a if a.edge else b
        if a.net_pnl != b.net_pnl:
            return a if a.net_pnl > b.net_pnl else b
        return b if b.gross_bps > a.gross_bps else a

    def _why_not_act(self, now: int) -> str:
        """Why a tradable opportunity is not executed now ("" when it is)."""
        if self.ctx.mode == "observe":
            return "observe mode"
        if self.paused:
            return "strategy paused"
        if self._executions.busy:
            return "an execution is in progress"
        if now < self._cooldown_until_ns:
            return "cooldown after the last execution"
        return ""

    def _sol_price(self, book: BookUpdate) -> Decimal:
        if self.quote == SOL:
            return Decimal(1)
        if self.base == SOL:
            price = book.mid or book.best_bid or book.best_ask  # a tradable book has the side it trades
        else:
            price = self.settings.sol_price  # the pricer requires it when neither token is SOL
        if price is None:
            raise ValueError(f"no SOL price for {self.settings.symbol}: the book is empty")
        return price

    def _publish(self, ev: Evaluation, book: BookUpdate, pool: PoolUpdate, now: int, oid: str, *, acted: bool,
                 reason: str) -> None:
        s = self.settings
        mid = self._pricer.mid
        if mid is None:
            mid = pool.pool.mid()
        buy_cex = ev.direction is Direction.BUY_CEX_SELL_DEX
        touch = book.best_ask if buy_cex else book.best_bid
        if touch is None:  # a positive gross edge was priced against this touch
            return
        if buy_cex:
            buy_exchange, sell_exchange, buy_price, sell_price = s.cex, s.dex, touch, mid
        else:
            buy_exchange, sell_exchange, buy_price, sell_price = s.dex, s.cex, mid, touch
        self._published_ns, self._published = now, ev
        self.counts["opportunities"] += 1
        self.last_reason = reason
        # positional, in the fields' order (strategy, symbol, buy/sell exchange, buy/sell price, qty, edge_bps, ts_ns,
        # acted, opportunity_id, costs, net_pnl, reason): keywords cost a third more, an event per opportunity
        self._opportunity_topic.publish(Opportunity(self.name, s.symbol, buy_exchange, sell_exchange, buy_price,
                                                    sell_price, ev.size, ev.net_bps, now, acted, oid, ev.costs,
                                                    ev.net_pnl, reason))
        self._pending_rows.append({  # the row as stored: the writer hands it to the store as it is
            "strategy": self.name, "opportunity_id": oid, "ts_ns": now, "mode": self.ctx.mode, "symbol": s.symbol,
            "direction": str(ev.direction), "buy_exchange": buy_exchange, "sell_exchange": sell_exchange,
            "buy_price": buy_price, "sell_price": sell_price, "qty": ev.size, "gross_pnl": ev.gross_pnl,
            "net_pnl": ev.net_pnl, "net_bps": ev.net_bps, "costs": costs_json(ev.costs), "acted": acted,
            "reason": reason,
        })
        if len(self._pending_rows) > ROWS_KEPT:
            self._drop_oldest_row()
        if self._flush_timer is None and len(self._pending_rows) >= self._rows_per_writer:
            self._arm_writer()

    def _drop_oldest_row(self) -> None:
        """Drop the oldest row not acted on (the store has failed for :data:`ROWS_KEPT` rows); alerted once."""
        rows = self._pending_rows
        for index, row in enumerate(rows):
            if not row["acted"]:
                del rows[index]
                break
        else:
            return  # every row kept is an execution's
        self.rows_dropped += 1
        if self.rows_dropped == 1:
            self.ctx.alert(AlertLevel.ERROR, "arb", f"the store has not taken {ROWS_KEPT:,} opportunity rows: the "
                           "oldest not acted on are dropped from now on (executions' rows are kept); see "
                           "/status", kept=str(ROWS_KEPT))

    def on_order_update(self, update: OrderUpdate) -> None:
        self._executions.on_order_update(update)

    def on_fill(self, fill: Fill) -> None:
        self.inventory.on_fill(fill)
        self._executions.on_fill(fill)
        self.check_inventory()
        if (fill.exchange == self.settings.dex and self._fee_refresh is None and self._running
                and any(fee.account_rent_lamports for fee in self._pricer.swap_fees.values())):
            # a swap priced with an account's rent may have created that account: the next one will not pay it
            self._fee_refresh = self.ctx.create_task(self._refresh_swap_fee_after_fill(), "swap fee after a fill")

    async def _refresh_swap_fee_after_fill(self) -> None:
        try:
            await self.refresh_swap_fee()
        finally:
            self._fee_refresh = None

    async def reconcile(self) -> None:
        await self._executions.reconcile()

    def _execution_done(self, ex: Execution) -> None:
        self._cooldown_until_ns = self.ctx.clock.time_ns() + self.settings.cooldown_ms * NS_PER_MS
        self._episode = None  # the next opportunity is a new episode

    # --- storage off the hot path ---------------------------------------------------------------

    def _arm_writer(self) -> None:
        """:meth:`_write` runs FLUSH_EVERY_S from now (call when no write is due: rows queued until then go with
        it)."""
        self._flush_timer = self._loop.call_later(FLUSH_EVERY_S, self._write)

    def _write(self) -> None:
        """The writer, a timer callback (no task: a write costs no wake-up of its own nor a loop turn): write the
        queued rows (at most :data:`ROWS_PER_WRITE`: the rest in the next loop turn) and, once none is left, check
        the inventory (here, off the hot path, while opportunities come; after snapshots and fills too). A failure
        is logged and alerted (once per streak); the next row queued arms the next write."""
        self._flush_timer = None  # a row queued from now on arms the next write
        if not self._running:
            return
        if self._executions.busy and not self._write_waited:
            # an execution is under way, perhaps decided in this very loop turn: its legs' requests start in the
            # next, and the write waits behind them (once: a later turn writes whatever the execution's state)
            self._write_waited = True
            self._flush_timer = self._loop.call_soon(self._write)
            return
        self._write_waited = False
        if not self.ctx.store.records_inline:
            self._write_off_loop()
            return
        try:
            self._flush(wait=False, at_most=ROWS_PER_WRITE)
            if self._pending_rows:
                if self._flush_timer is None:  # (a busy store armed the timer for them already)
                    self._flush_timer = self._loop.call_soon(self._write)
                return
            self.check_inventory()
        except Exception as exc:
            self.ctx.log.error("opportunity writer: %s: %s", type(exc).__name__, exc, exc_info=exc)
            if not self._write_failed:
                self.ctx.alert(AlertLevel.ERROR, "arb", f"the opportunity writer failed: {type(exc).__name__}: {exc}")
            self._write_failed = True
        else:
            self._write_failed = False

    def _write_off_loop(self) -> None:
        """The writer on a store whose every commit is a round trip (PostgreSQL): hand the queued rows to the store
        writer's thread (one write at a time, in order) so that a database that does not answer never holds the loop;
        :meth:`_written` takes the outcome back on the loop."""
        if self._writing is not None or not self._pending_rows:
            return  # the write under way arms the next when it ends
        pending = self._pending_rows
        rows = [pending.popleft() for _ in range(min(len(pending), ROWS_PER_WRITE_OFF_LOOP))]
        written = self._writing = self.ctx.write_later(insert_opportunities, self.ctx.store, rows)
        written.add_done_callback(lambda done: self._written(rows, done))

    def _written(self, rows: list[dict], done: asyncio.Future[None]) -> None:
        """A write handed to the store writer's thread ended: as :meth:`_write` after a write on the loop (a store
        error keeps the rows, first in the queue, and the next write tries them again; another error is about the
        rows themselves, which are dropped), logged and alerted once per streak."""
        self._writing = None
        exc = None if done.cancelled() else done.exception()
        if exc is not None and (isinstance(exc, StoreBusy) or is_store_error(exc)):
            self._pending_rows.extendleft(reversed(rows))
        if self._running and self._pending_rows and self._flush_timer is None:
            self._arm_writer()
        if exc is None:
            self._write_failed = False
            if self._running and not self._pending_rows:
                self.check_inventory()
            return
        self.ctx.log.error("opportunity writer: %s: %s", type(exc).__name__, exc, exc_info=exc)
        if not self._write_failed:
            self.ctx.alert(AlertLevel.ERROR, "arb", f"the opportunity writer failed: {type(exc).__name__}: {exc}")
        self._write_failed = True

    def _flush(self, *, wait: bool = True, at_most: int | None = None) -> None:
        """Write the queued opportunities (the first ``at_most`` of them; None: all); ``wait=False`` (the writer,
        on the loop): if another writer holds the store's lock, keep them for the next flush instead of waiting.
        A failure of the store itself (a full or failing disk) keeps them too, and raises."""
        pending = self._pending_rows
        if at_most is None or len(pending) <= at_most:
            rows = list(pending)
            pending.clear()
        else:  # from the front of the queue: a backlog's catch-up costs each write its own rows, not the backlog
            rows = [pending.popleft() for _ in range(at_most)]
        try:
            insert_opportunities(self.ctx.store, rows, wait=wait)
        except Exception as exc:
            if not (isinstance(exc, StoreBusy) or is_store_error(exc)):
                raise  # about the rows themselves: written again, they would fail again (and block the rest)
            pending.extendleft(reversed(rows))  # nothing written: the next write tries them again, first
            if self._running and self._flush_timer is None:
                self._arm_writer()
            if not isinstance(exc, StoreBusy):
                raise  # the writer logs and alerts it

    # --- reporting ------------------------------------------------------------------------------

    def status(self) -> dict[str, str]:
        """The facts of ``/status``. Counts are this run's and say so: ``arbot report`` and ``/arb`` count every
        stored row, and an unlabelled "executed 0" after a restart would read as none ever."""
        c, ex = self.counts, self.executions
        facts = {
            "opportunities this run": str(c["opportunities"]),
            STALE_INPUTS_FACT: str(c["stale"]),
        }
        if ex is not None:
            facts["executed this run"] = str(ex.done_count)
            if ex.refused_count:
                facts["refused this run"] = str(ex.refused_count)
            facts["captured this run"] = (f"{signed_money(ex.realized_total, self.quote)} over the executions "
                                          f"(predicted {signed_money(ex.predicted_total, self.quote)})")
            if ex.current:
                facts["in flight"] = ", ".join(ex.current)
            if ex.pending_residual:  # every execution's, not this run's: the account holds it
                facts["pending residual"] = (
                    f"{ex.pending_residual} {self.base} left unhedged by the executions, "
                    + ("kept (hedge = hold)" if self.settings.hedge == "hold"
                       else f"hedged with the next execution once it reaches {ex.market.min_qty} {self.base}"))
        if self.last_reason:
            facts["last"] = self.last_reason
        if self.rows_dropped:
            facts["opportunity rows dropped"] = f"{self.rows_dropped} (the store failed; executions' rows kept)"
        low = self.inventory.low
        if low:
            facts["low inventory"] = ", ".join(f"{s.venue} {s.asset}" for s in low)
        return facts

    def inventory_rows(self) -> list[tuple[str, str, str, str]]:
        """(venue, asset, free, total) as last known: for ``/inventory``."""
        return self.inventory.rows()

    @property
    def low_inventory(self) -> list[Shortfall]:
        return self.inventory.low

    def realized(self) -> Decimal:
        return self.executions.realized_total if self.executions else ZERO
