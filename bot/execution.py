"""The executor every strategy shares: the one owner of each order's life and of each fill.

Guarantees:

* An order row (keyed by its unique client order id) is committed *before* the request leaves.
  On a file-backed SQLite store it is the fast durable record on the loop (:mod:`bot.store.fast`,
  tens of microseconds, never waiting for a lock); when the lock is taken, and on PostgreSQL, the
  insert runs on the store writer's thread (:mod:`bot.writer`): the loop goes on meanwhile.
  After a crash, :meth:`Executor.recover` asks the venue about every order not known to be final
  and adopts what it finds; an order the venue never saw is marked FAILED (UNKNOWN first on a venue
  that may take a lost request late: reconciliation adopts it if it lands). "Never saw" only for an order
  nothing says it received (no venue id, no fill, no answer): one it did receive that it answers "not found"
  for may have filled, and stays UNKNOWN, "cannot tell" (alerted once), a partly filled one with its fills. An OPEN
  order its venue no longer finds (:data:`NOT_FOUND_ANSWERS` answers over :data:`NOT_FOUND_S`) becomes so in
  reconciliation. Nothing is re-sent.
* Only errors that prove the request did not execute (:class:`TransientError`) are retried
  blind. A timeout or a lost connection (:class:`UnknownOutcome`, or anything unexpected) is
  resolved by looking the order up by client order id before anything is sent again. An order
  whose look-ups fail too is UNKNOWN: it stays open (``/orders``, the kill switch and shutdown
  cancel it like any open order) and :meth:`reconcile` asks the venue again until it answers: once a pass
  while the venue does not answer, at a slower pace once it answers and cannot tell (up to every
  :data:`UNKNOWN_LOOKUP_MAX_S`); a look-up's failures are logged once, then counted (:data:`LOOKUP_FAILURES_SAID_S`,
  by :class:`bot.folding.Folding`).
* Every fill is applied once, whichever way it arrives (the venue's published ``Fill``, an order
  call's answer, a look-up, reconciliation, recovery after a restart): :meth:`apply_fill` keeps
  the (exchange, trade id) of every fill applied; that set is the store's ``fills`` table, read
  back by :meth:`load` on start (the portfolio is rebuilt from the same rows). A new fill then goes
  to the store (batched by the writer), the portfolio, the risk checks, the strategy and the
  alerts through :class:`~bot.dispatch.Dispatch`.
* Requests to one venue pass through one token bucket; a venue's "rate limited" answer
  blocks the bucket for the time it asked.
* No store error stops a send lane or the writer (both run under :meth:`Tasks.supervise`, and keep
  their pending work). While the store cannot be written, new orders are refused (alerted once);
  cancels go on, and orders that reduce a position (flatten, hedges) wait in their lane until their
  row can be written; when a write succeeds again everything resumes by itself.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from decimal import Decimal, localcontext
from typing import Any

from .api import Exchange, PermanentError, RateLimited, TransientError
from .clock import Clock
from .config import ExecutorSettings
from .dispatch import Dispatch
from .domain import (
    ZERO,
    AlertLevel,
    Fill,
    Order,
    OrderIntent,
    OrderReport,
    OrderState,
    OrderStatus,
    OrderUpdate,
    Side,
    split_symbol,
)
from .folding import Folding
from .ledger import EXACT_DIGITS, fee_in_quote
from .portfolio import Portfolio
from .ratelimit import TokenBucket, backoff_delay
from .refusals import RefusalAlerts
from .risk import RiskGate, Veto
from .store import Store, StoreBusy
from .tasks import Tasks
from .units import counted, span
from .writer import StoreNotAnswering, StoreWriter, describe_store_error, is_store_closed, is_store_error

log = logging.getLogger("arbot.executor")
_new = object.__new__

MAX_BATCH = 20
FLUSH_GATHER_S = 0.05
"""The writer waits this long after a change to gather a few more into one transaction."""
STORE_RETRY_S = (0.2, 5.0)
"""First and longest delay between two attempts to write while the store fails."""
FINISHED_KEPT = 10_000
"""Orders final and written whose fill keys the executor still remembers (the latest), so a fill of theirs that
comes again (a stream's replay of its last trades on reconnect, a look-up) is dropped without a store read."""
WRITTEN_KEPT = 4_096
"""Orders this run wrote final that the executor keeps (the latest), so that :meth:`Executor.order` answers a strategy
asking about one it just finished (the grid's slots, the limits check, the arb's figures) from memory rather than a
store read on the loop (a round trip on PostgreSQL)."""
FILLS_PAGE = 5_000
"""Stored fills read at start per read on the store writer's thread (a short read each, however big the store)."""
STORED_IDS_KEPT = 20_000
"""Client order ids known to be stored (the latest) that :meth:`Executor.submit` refuses, on a store whose reads are
round trips (PostgreSQL), without reading the store on the loop; an older one is refused by its row's insert."""
UNKNOWN_LOOKUP_FIRST_S = 60.0
UNKNOWN_LOOKUP_MAX_S = 900.0
"""An UNKNOWN order that a pass of :meth:`Executor.reconcile` could not settle because its venue cannot tell ("not
found" for an order it acknowledged) is asked again this long after, doubling up to the longest, with one attempt a
pass: a ghost order costs a request every 15 minutes, not ``max_retries + 1`` every pass. One whose look-up failed (the
venue not answering) is asked once at every pass: settled as soon as the venue is back."""
NOT_FOUND_ANSWERS = 3
NOT_FOUND_S = 60.0
"""An OPEN order its venue answers "not found" for (a history that dropped it, a ccxt venue without fetchOrder whose
lists no longer hold it) this many times in a row, over at least this long, in reconciliation's look-ups, is UNKNOWN,
"cannot tell" (:meth:`Executor._not_found`): a venue whose lists lag a moment is not taken for one that forgot it. An
answer that finds it starts the count over; a look-up that fails (no answer) does not count (as ccxt's
``NOT_FOUND_POLLS``)."""
LOOKUP_FAILURES_SAID_S = 3600.0
"""An order's failed look-ups are logged once (the first), then counted and said this often, with the count."""
OPEN_STATUSES = (OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.UNKNOWN)
_SETTLED_NOW = (OrderState, PermanentError, TransientError)
"""Answers handled without another request (:meth:`Executor._handle_settled`); any other is an unknown outcome."""


@dataclass
class _Job:
    order: Order
    attempt: int = 0
    stored: bool = False
    """Its row is committed (it may be sent)."""
    insert_failed: bool = False
    """An insert raised: the row the next one finds may be this order's own (:meth:`Executor._own_row`)."""
    cancelled: bool = False
    """Cancelled before it was sent: it never will be."""
    ended: bool = False
    """Out of the in-flight count already (:meth:`Executor._end_unsent`): cancelled, it is not waited for while its
    lane, behind a token or another order, has yet to drop it."""
    reduce_only: bool = False
    """Its intent was marked ``reduce_only`` (a hedge, a close): it may be retried through a pause."""


@dataclass
class _Intent:
    """What one durable intent (:meth:`Executor.intent`) holds until it commits."""

    jobs: list[_Job]
    """Every order submitted in it (dropped if it rolls back)."""
    requests: list[tuple[_Lane, list[_Job]]]
    """The immediate path's requests, made once it has committed."""
    vetoes: list[tuple[OrderIntent, Veto]]
    """Risk vetoes, stored (through another connection) once the transaction is over."""


@dataclass
class _Pace:
    """One order's look-ups that found no answer or could not tell: when reconciliation asks again."""

    unsettled: int = 0
    """Reconciliation passes in a row that left it UNKNOWN (no answer, or "cannot tell")."""
    next_at: float = 0.0
    """Reconciliation asks it again from then on (monotonic)."""
    not_found: int = 0
    """Reconciliation's look-ups in a row its venue answered "not found" for while it was OPEN."""
    not_found_at: float = 0.0
    """When the first of them came (monotonic)."""


class _Lane:
    """Send queue and token bucket of one exchange."""

    def __init__(self, exchange: Exchange, bucket: TokenBucket):
        self.exchange = exchange
        self.bucket = bucket
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.held: list[_Job] = []
        """Taken from the queue but not yet stored: kept across store failures and restarts."""
        self.next_batch: list[_Job] | None = None
        """Orders stored and sent by :meth:`Executor.submit` itself, in the request created this loop turn."""



def _listed(client_order_ids: list[str], shown: int = 10) -> str:
    """The first ``shown`` ids, then how many more: a log line stays readable for a grid of hundreds."""
    more = len(client_order_ids) - shown
    return ", ".join(client_order_ids[:shown]) + (f" and {more} more" if more > 0 else "")


def _unplaceable(intent: OrderIntent) -> str | None:
    """Why no venue can take ``intent`` (a quantity or a limit price that is not a finite number above zero), else
    None."""
    for what, value in (("quantity", intent.qty), ("price", intent.price)):
        if value is None and what == "price":
            continue  # a market order
        if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
            return f"its {what} is {value}, not a finite number above zero"
    return None


def add_fill_fee(order: Order, fill: Fill) -> None:
    """Add ``fill``'s fee to its order's, as the ledger counts it: in the quote asset to
    :attr:`~bot.domain.Order.fee` (:func:`bot.ledger.fee_in_quote`: a base fee at the fill's price), in any other
    asset to that asset's in :attr:`~bot.domain.Order.other_fees` (not an amount of quote: never added to it)."""
    if not fill.fee:
        return
    base, quote = split_symbol(fill.symbol)
    in_quote = fee_in_quote(fill, base, quote)
    with localcontext(prec=EXACT_DIGITS):  # every digit, as the ledger's sums
        if in_quote is not None:
            order.fee += in_quote
        else:  # a new mapping: copies of the order (read models, updates) keep the one they were made with
            other = order.other_fees
            order.other_fees = {**other, fill.fee_asset: other.get(fill.fee_asset, ZERO) + fill.fee}

class Executor:
    """Build it with what it uses; :meth:`start` opens one send lane per exchange and the writer."""

    def __init__(self, settings: ExecutorSettings, *, store: Store, writer: StoreWriter, clock: Clock,
                 tasks: Tasks, portfolio: Portfolio, risk: RiskGate, dispatch: Dispatch,
                 alert: Callable[..., None], exchanges: Callable[[], Mapping[str, Exchange]],
                 mode: Callable[[], str], may_trade: Callable[[str], bool],
                 on_veto: Callable[[OrderIntent, Veto], None], on_store_state: Callable[[bool], None],
                 active: dict[str, Order], pause_admits: Callable[[OrderIntent], bool] | None = None,
                 plugin_bug: Callable[[str, str], None] | None = None):
        self.settings = settings
        self._plugin_bug = plugin_bug or (lambda exchange, message: None)
        """(exchange name, problem): a venue broke its contract; reported against its plugin."""
        self.store = store
        self.writer = writer
        self.clock = clock
        self.tasks = tasks
        self.portfolio = portfolio
        self.risk = risk
        self.dispatch = dispatch
        self._alert = alert
        self.refusals = RefusalAlerts(alert, clock.monotonic)
        """The one owner of the alerts of refused orders (the venue's, the executor's, the risk checks'): once per
        cause, counted, and a note when orders go through again."""
        self._exchanges = exchanges
        self._mode = mode
        self._may_trade = may_trade
        self._pause_admits = pause_admits or (lambda intent: False)
        """Whether the risk check alone pausing an intent's strategy admits that reduce-only order (Bot)."""
        self._on_veto = on_veto
        self._on_store_state = on_store_state
        self._active = active
        """Orders not known to be final (UNKNOWN included), by client order id (the portfolio reads it)."""
        self._applied: dict[str, set[tuple[str, str]]] = {}
        """(exchange, trade id) of the fills applied, by client order id, for the orders held here (not final, or
        changes not yet written): every fill of such an order applied this run or stored before (see
        :meth:`apply_fill`). An order's keys are dropped once it is final and written, so a bot that runs for
        months keeps the fills of its open orders here, not of its whole history."""
        self._applied_sums: dict[str, tuple[Decimal, Decimal]] = {}
        """(quantity, quantity x price) the fills in :attr:`_applied` add up to, by client order id: what a state
        leaving some of them out is held to (:meth:`_at_least_its_fills`) without reading them back from the store."""
        self._finished: OrderedDict[str, set[tuple[str, str]]] = OrderedDict()
        """The fill keys of the latest :data:`FINISHED_KEPT` orders dropped from :attr:`_applied`: fills the store
        has, remembered so that their repeats cost no store read (a miss here is looked up there)."""
        self._from_store: set[str] = set()
        """Orders read back from the store for a late fill on the loop (file-backed SQLite): their earlier fills are
        the store's, not in :attr:`_applied`, so each fill of theirs not known here is looked up there before it is
        applied. Elsewhere such an order is read with its fills' keys off the loop (:meth:`_look_up`)."""
        self._looking_up: dict[str, list[Fill | OrderState]] = {}
        """Orders being read back on the store writer's thread (:meth:`_look_up`): the late fills and states of each
        that wait for it, in the order they came."""
        self._look_ups: dict[str, asyncio.Task[None]] = {}
        self._written: OrderedDict[str, Order] = OrderedDict()
        """The latest :data:`WRITTEN_KEPT` orders final and written this run, as written (:meth:`order`)."""
        self._stored_ids: OrderedDict[str, None] = OrderedDict()
        """The latest :data:`STORED_IDS_KEPT` client order ids known to be stored (read at start, then every order
        row this run wrote): what :meth:`_carried` checks on a store whose reads are round trips."""
        self._unsent: dict[str, _Job] = {}
        """Orders accepted but not yet handed to the venue, by client order id."""
        self._sending: set[str] = set()
        self._observed: dict[str, Order] = {}
        """Observe-mode orders on their way to the store."""
        self._lanes: dict[str, _Lane] = {}
        self._dirty: dict[str, Order] = {}
        self._unwritten: dict[str, Order] = {}
        """Orders cancelled while queued before their row was written: the writer inserts each (CANCELLED, never
        sent, with its reason), so the store and :meth:`order` know every order the executor took."""
        self._new_fills: list[tuple[str, Fill]] = []
        self._writing: dict[str, Order] = {}
        self._writing_fills: list[tuple[str, Fill]] = []
        """The batch :meth:`flush` is writing now (taken from ``_dirty``, ``_unwritten`` and ``_new_fills``, not
        committed yet): still held here, so that a read meanwhile (:meth:`held`) finds
        it in neither the queue nor the store no more."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gather: asyncio.TimerHandle | None = None
        """Armed by the first change since the writer last took its work: it fires FLUSH_GATHER_S later
        (:meth:`_changed`)."""
        self._gathered = False
        """The gathering timer fired: the writer has work to take."""
        self._gathered_wait: asyncio.Future[None] | None = None
        """What the idle writer awaits: resolved when the gathering timer fires."""
        self._flush_lock = asyncio.Lock()
        self._in_flight = 0
        """Orders queued or being sent (retries included)."""
        self._idle = asyncio.Event()
        self._idle.set()
        self.closing = False
        self.store_error: str | None = None
        """Why the store cannot be written now (None while it can)."""
        self._refused_while_down = 0
        self._stall_error: str | None = None
        """The :attr:`store_error` a stalled write set (:meth:`_store_stalled`): cleared when a write succeeds."""
        self.id_epoch = ""
        """The store's id epoch (see :mod:`bot.identity`): part of every client order id the executor makes."""
        self._intent: _Intent | None = None
        """The durable intent open on the loop (:meth:`intent`), None outside one."""
        self._pace: dict[str, _Pace] = {}
        """Orders held here that reconciliation asks at its own pace, by client order id (:meth:`_settle_later`,
        :meth:`_open_not_found`)."""
        self._lookups_failing: Folding[str] = Folding(LOOKUP_FAILURES_SAID_S, monotonic=lambda: self.clock.monotonic(),
                                                      renew=True)
        """The failed look-ups of each order held here, since it last answered (its note: the last error): the first
        logged, then a count every :data:`LOOKUP_FAILURES_SAID_S` (:meth:`_lookup_failed`)."""
        self._unknown_since: dict[str, int] = {}
        """When each UNKNOWN order held here became UNKNOWN (wall ns; after a restart, its stored ``updated_ns``)."""
        self._unknown_alerted: set[str] = set()
        """UNKNOWN orders alerted this run (or reported UNKNOWN by their venue, whose plugin says why): one alert
        each."""

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        # on the loop's clock: time.monotonic in a run, simulated time in a backtest
        self._loop = asyncio.get_running_loop()
        loop_time = self._loop.time
        for name, exchange in self._exchanges().items():
            bucket = TokenBucket(self.settings.orders_per_s, self.settings.burst, now=loop_time)
            lane = self._lanes[name] = _Lane(exchange, bucket)
            self.tasks.supervise(partial_lane(self, lane), owner="executor", what=f"send queue {name}")
        self.tasks.supervise(self._writer_loop, owner="executor", what="store writer")
        self.writer.watch(self._store_stalled, self._store_answered)

    def open_orders(self) -> list[Order]:
        """Orders not known to be final: pending, open and UNKNOWN."""
        return list(self._active.values())

    def order(self, client_order_id: str) -> Order | None:
        """The order with this id: :meth:`held`, else one of the latest this run wrote final, else the store's (a
        read on the calling thread: a round trip on PostgreSQL; :meth:`look_up` reads it off the loop)."""
        order = self.held(client_order_id) or self._written.get(client_order_id)
        if order is not None:
            return order
        return self.store.get_order(client_order_id)

    async def look_up(self, client_order_id: str) -> Order | None:
        """:meth:`order` for a caller that can wait: where a store read is a round trip (PostgreSQL), it runs on the
        store writer's thread, in order with the writes handed over before, so a server that stops answering delays
        this caller, never the loop. A file-backed SQLite store is read on the calling thread, as :meth:`order`."""
        order = self.held(client_order_id) or self._written.get(client_order_id)
        if order is not None or self.store.records_inline:
            return order if order is not None else self.store.get_order(client_order_id)
        stored = await self.writer.read(self.store.get_order, client_order_id)
        return self.held(client_order_id) or self._written.get(client_order_id) or stored  # newer, if held meanwhile

    def held(self, client_order_id: str) -> Order | None:
        """The order with this id held here (not final, or changes not yet written), None for any other."""
        return (self._active.get(client_order_id) or self._dirty.get(client_order_id)
                or self._unwritten.get(client_order_id) or self._writing.get(client_order_id)
                or self._observed.get(client_order_id))

    def _in_memory(self, client_order_id: str) -> bool:
        """An order of this run not yet written back carries this id."""
        return (client_order_id in self._active or client_order_id in self._dirty
                or client_order_id in self._unwritten or client_order_id in self._writing
                or client_order_id in self._observed)

    def _carried(self, client_order_id: str) -> bool:
        """An order of this run or a stored one carries this id. On a store that reads in microseconds on this thread
        (file-backed SQLite) the store is asked; elsewhere (a PostgreSQL read is a round trip, and a server that stops
        answering would hold the loop) the ids known to be stored (:attr:`_stored_ids`) answer, and an older stored
        id is refused by its row's insert (``ON CONFLICT DO NOTHING``: nothing sent) before any request."""
        if self._in_memory(client_order_id):
            return True
        if self.store.records_inline:
            return self.store.order_exists(client_order_id)
        return client_order_id in self._stored_ids

    def _remember_stored(self, client_order_id: str) -> None:
        ids = self._stored_ids
        ids[client_order_id] = None
        ids.move_to_end(client_order_id)
        while len(ids) > STORED_IDS_KEPT:
            ids.popitem(last=False)

    # --- submit ---------------------------------------------------------------------------

    def submit(self, intent: OrderIntent, *, risk: bool = True) -> str | None:
        """Risk-check an intent and queue it; returns its client order id, or None if refused.

        ``risk=False`` is for the host's own closing orders (flatten), which no check may block.
        """
        if self.closing or not (self._may_trade(intent.strategy) or self._passes_pause(intent)):
            return None
        problem = _unplaceable(intent)
        if problem is not None:  # every check assumes a positive, finite size and price: "buy -5" would pass them
            log.error("strategy %s sent an order no venue can take: %s; refused", intent.strategy, problem)
            self.refusals.refused(intent.strategy, intent.exchange, intent.symbol, "refused (no venue can take them)",
                                  problem, level=AlertLevel.ERROR, before_venue=True)
            return None
        cid = intent.client_order_id
        if cid is None:
            cid = f"{intent.strategy[:16]}-{self.id_epoch}{uuid.uuid4().hex[:16]}"
            intent = replace(intent, client_order_id=cid)  # risk checks see the id the order will carry
        if cid in self._active:
            return cid  # already on its way: idempotent
        lane = self._lanes.get(intent.exchange)
        if lane is None:
            log.error("strategy %s sent an order to unknown exchange %s", intent.strategy, intent.exchange)
            return None
        now_path = self._now_path(lane)
        # a strategy's own id that an earlier order (this run or a previous one) carried: never again. On the
        # immediate path the store's part of the check is the insert itself (ON CONFLICT DO NOTHING)
        if intent.client_order_id is not None and (
                self._in_memory(cid) if now_path else self._carried(cid)):
            self._refuse_carried(intent.strategy, cid)
            return None
        if self.store_error is not None and risk and not self._reduces(intent):
            log.debug("order of %s refused: the store cannot be written (%s)", intent.strategy, self.store_error)
            self._refused_while_down += 1
            return None
        if intent.post_only and intent.price is not None:
            degraded = self._degrade_post_only(intent)
            if degraded is None:
                return None
            intent = degraded
        veto = self.risk.check(intent) if risk else None
        if veto is not None:
            if self._intent is not None:  # its record goes through the engine: after the intent's transaction
                self._intent.vetoes.append((intent, veto))
            else:
                self._on_veto(intent, veto)
            return None
        now = self.clock.time_ns()
        order = Order(
            client_order_id=cid, strategy=intent.strategy, exchange=intent.exchange, symbol=intent.symbol,
            side=intent.side, qty=intent.qty, price=intent.price, order_type=intent.order_type, tif=intent.tif,
            post_only=intent.post_only, created_ns=now, updated_ns=now, closes=intent.closes,
        )
        mode = self._mode()  # read per order: /observe switches it at run time
        if mode == "observe":
            if now_path and intent.client_order_id is not None and self.store.order_exists(cid):
                self._refuse_carried(intent.strategy, cid)
                return None
            if risk:  # a host's closing order (flatten) skips the checks: it says nothing of their vetoes
                self.refusals.passed_checks(intent.strategy, intent.exchange, intent.symbol)
            order.status = OrderStatus.OBSERVED
            order.reason = "observe mode: not sent"
            self._observed[cid] = order
            self.tasks.create(self._record_observed(order), owner="executor", what=f"record {cid}")
            return cid
        if mode != "live" and not lane.exchange.simulated:
            # the config check refuses this; a strategy that picks its venue at run time meets it here
            log.error("strategy %s sent an order to %s, a real venue, in %s mode: refused", intent.strategy,
                      intent.exchange, mode)
            self.refusals.refused(intent.strategy, intent.exchange, intent.symbol, f"refused in {mode} mode",
                                  f"{intent.exchange} is a real venue (order {cid})", level=AlertLevel.ERROR,
                                  before_venue=True, client_order_id=cid)
            return None
        if risk:
            self.refusals.passed_checks(intent.strategy, intent.exchange, intent.symbol)
        self._active[cid] = order
        job = self._unsent[cid] = _Job(order, reduce_only=intent.reduce_only)
        self._begin()
        if self._intent is not None:
            self._intent.jobs.append(job)
        if now_path:
            sent = self._store_and_send(lane, job)
            if sent is None:
                self._refuse_carried(intent.strategy, cid)
                return None
            if sent:
                return cid
        lane.queue.put_nowait(job)
        return cid

    def _refuse_carried(self, strategy: str, cid: str) -> None:
        log.warning("strategy %s submitted client order id %s again; it is already stored, not sent", strategy, cid)

    def _now_path(self, lane: _Lane) -> bool:
        """Whether an order to this lane may be stored and sent right in :meth:`submit`: the store records on
        this thread in microseconds (file-backed SQLite), it is writable, the lane has nothing queued or held
        before it (orders leave in the order they were submitted) and the lane's bucket has a token now."""
        return (self.store.records_inline and self.store_error is None and not lane.held and lane.queue.empty()
                and (self._open_batch(lane) is not None or lane.bucket.available()))

    def _open_batch(self, lane: _Lane) -> list[_Job] | None:
        """The request this loop turn's immediate orders to a batch venue go in, while it has room (in a durable
        intent, only a request of that intent: one made before it is on its way whatever becomes of the intent)."""
        batch = lane.next_batch
        if batch is None or len(batch) >= MAX_BATCH or not lane.exchange.supports_batch:
            return None
        if self._intent is not None and all(made is not batch for _, made in self._intent.requests):
            return None
        return batch

    def _store_and_send(self, lane: _Lane, job: _Job) -> bool | None:
        """The immediate path of :meth:`submit`: commit the order's row (the fast durable record, never
        waiting for a lock) and create its send task, so that orders submitted in one callback (both legs
        of an arbitrage) reach their venues in the next loop turn. True: on its way; None: the store already
        holds this client id (nothing sent, nothing left to do); False: the row could not be written
        now (another writer holds the lock, or an error): the caller queues the job in the lane, whose
        worker writes the row (waiting, retrying) before it sends."""
        order = job.order
        cid = order.client_order_id
        try:
            inserted = self.store.insert_order(order, wait=False)
        except StoreBusy:
            return False  # nothing written
        except Exception as exc:
            if self._intent is not None:  # it rolls back whole (an error may have ended its transaction)
                self._intent.jobs.remove(job)
                self._active.pop(cid, None)
                self._unsent.pop(cid, None)
                self._end()
                raise
            if not is_store_error(exc):
                raise
            job.insert_failed = True  # whether it was written is unknown: the lane's insert finds out
            self.store_failed(exc, f"order insert ({lane.exchange.name})")
            return False
        if not inserted:  # some earlier run (or a recovered order) owns this id: never send it again
            self._active.pop(cid, None)
            self._unsent.pop(cid, None)
            self._end()
            return None
        job.stored = True
        self._remember_stored(cid)
        self.writer.wrote_on_loop()
        self._unsent.pop(cid, None)
        self._sending.add(cid)
        batch = self._open_batch(lane)
        if batch is not None:
            batch.append(job)  # in the request already on its way
            return True
        batch = lane.next_batch = [job]
        lane.bucket.take()  # one token a request, as the lane worker takes
        if self._intent is not None:
            self._intent.requests.append((lane, batch))  # made once the intent has committed
        else:
            self._request(lane, batch)
        return True

    def _request(self, lane: _Lane, batch: list[_Job]) -> None:
        """Make the request task of an immediate batch now: it starts in the next loop turn with every other
        made in this one (both legs of an arbitrage leave together; what one answers is handled once they all
        left: by :meth:`_answered`, a callback of the loop turn after it is done), and orders submitted before it
        starts join it (a batch venue)."""
        request = asyncio.get_running_loop().create_task(self._place_next(lane, batch))
        request.add_done_callback(lambda done: self._answered(lane, batch, done))

    def _answered(self, lane: _Lane, jobs: list[_Job], request: asyncio.Task[Any]) -> None:
        """The request of an immediate batch is done. Answers that need no further request (an order state, a
        refusal, a retry to schedule: every answer but an unknown outcome) are handled here and now, as
        :meth:`_send` would (a failure reported as its task's would be); otherwise :meth:`_send` handles them
        all in its own task (an unknown outcome is looked up before anything else happens)."""
        results: list[OrderState | BaseException] | None = None
        if not request.cancelled():
            exc = request.exception()
            if exc is None:
                results = request.result()
            elif isinstance(exc, Exception):
                results = [exc] * len(jobs)
        if results is None or not all(isinstance(r, _SETTLED_NOW) for r in results):
            self.tasks.create(self._send(lane, jobs, request), owner="executor",
                              what=f"answer from {lane.exchange.name}")
            return
        try:
            for job, result in zip(jobs, results, strict=True):
                try:
                    self._handle_settled(lane, job, result)
                finally:
                    self._sending.discard(job.order.client_order_id)
                    self._end()
        except Exception as exc:
            self.tasks.report("executor", f"answer from {lane.exchange.name}", exc)

    @contextmanager
    def intent(self) -> Iterator[None]:
        """One durable intent: the records the calling code makes on the loop (``Store.record``,
        ``record_update``...) and the rows of the orders it submits, committed together in one transaction when
        the block ends, before any of those orders leaves (their requests are made then, and start in the next
        loop turn, together). All or nothing: a crash leaves every row of it or none. If the block raises, or
        the commit fails, it is rolled back: its orders are dropped unsent (never stored, forgotten) and the
        error is raised. Risk vetoes in it are stored once it is over. The block must not await (it would hold
        the write lock while the loop runs other code): one that does is rolled back with a RuntimeError.

        Only on a file-backed SQLite store with nothing else holding its write lock (taken when the block
        starts, never waited for); otherwise, and nested in another, the block runs as it would outside one:
        each record commits on its own and orders go their usual way."""
        fast = self.store.fast
        if fast is None or self._intent is not None or self.store_error is not None or self.closing:
            yield
            return
        try:
            fast.begin()
        except StoreBusy:
            yield  # another writer holds the lock: records wait for it one by one, orders take their lanes
            return
        except Exception as exc:
            if not is_store_error(exc):
                raise
            yield  # the records raise the store's error themselves
            return
        intent = self._intent = _Intent([], [], [])
        turns: list[bool] = []
        turned = asyncio.get_running_loop().call_soon(turns.append, True)  # runs only if the block awaits
        try:
            try:
                yield
                if turns:  # other code ran on the loop meanwhile, its writes joining this transaction: none of it
                    raise RuntimeError("a durable intent (ctx.intent()) must not await: its block ran across loop "
                                       "turns holding the store's write lock; rolled back, its orders not sent")
                fast.commit()
            finally:
                turned.cancel()
                self._intent = None
        except BaseException:
            self._roll_back(intent)
            raise
        else:
            self.writer.wrote_on_loop()
            for lane, batch in intent.requests:
                self._request(lane, batch)
        finally:
            for veto in intent.vetoes:
                self._on_veto(*veto)

    def _roll_back(self, intent: _Intent) -> None:
        """An intent that did not commit: nothing of it is stored, so none of its orders may leave."""
        try:
            fast = self.store.fast
            if fast is not None:
                fast.rollback()
        finally:
            for lane, batch in intent.requests:
                if lane.next_batch is batch:
                    lane.next_batch = None
            for job in intent.jobs:
                cid = job.order.client_order_id
                log.error("order %s dropped unsent: the durable intent it was part of did not commit", cid)
                self._active.pop(cid, None)
                if job.stored:  # on the immediate path: its request was never made
                    self._sending.discard(cid)
                    self._end()
                elif cid in self._unsent:  # queued in its lane: the lane worker drops it
                    job.cancelled = True
                    self._end_unsent(job)
                elif self._unwritten.pop(cid, None) is not None:  # cancelled in the intent: it never was
                    continue
                else:  # refused by the store already (an id it holds): ended then
                    continue
                job.stored = False

    async def _place_next(self, lane: _Lane, batch: list[_Job]) -> list[OrderState | BaseException]:
        """The request of the immediate path's orders collected for this lane in one loop turn (under the
        request timeout: its answer is handled by :meth:`_answered` when it is done)."""
        if lane.next_batch is batch:
            lane.next_batch = None
        async with asyncio.timeout(self.settings.request_timeout_s):
            return await self._place(lane, batch)

    async def _record_observed(self, order: Order) -> None:
        self._observed[order.client_order_id] = order
        try:
            if await self.writer.call(self.store.insert_order, order):
                self._notify(order)
            self._remember_stored(order.client_order_id)
        finally:
            self._observed.pop(order.client_order_id, None)

    def _reduces(self, intent: OrderIntent, *, across_venues: bool = False) -> bool:
        """The host's one rule of a reducing order (:meth:`bot.api.PortfolioView.reduces`), counting the orders in
        flight (the portfolio's open orders are this executor's)."""
        return self.portfolio.reduces(intent, across_venues=across_venues)

    def _passes_pause(self, intent: OrderIntent) -> bool:
        """A paused strategy's order may go when it is marked reduce-only, does only that (its symbol's net position
        across venues nearer to zero), and the risk check alone pausing the strategy admits it."""
        return intent.reduce_only and self._reduces(intent, across_venues=True) and self._pause_admits(intent)

    def _begin(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def _end(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    def _end_unsent(self, job: _Job) -> None:
        """A job that will never be sent leaves the in-flight count, once: when it is cancelled (its lane may be
        waiting for a token long after; a stop must not wait for it), or when its lane drops it."""
        if not job.ended:
            job.ended = True
            self._end()

    async def settle(self, timeout_s: float) -> bool:
        """Wait until no order is queued or in flight (new ones may still come); False on timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def close(self, timeout_s: float) -> bool:
        """Take no new orders and wait for those queued or in flight to settle; False on timeout. Orders queued for a
        venue whose next token comes after ``timeout_s`` (it asked for quiet that long: its rate limit) could not
        leave in time: they are cancelled before they are sent, and named, not waited for."""
        self.closing = True
        for name, lane in self._lanes.items():
            wait_s = lane.bucket.wait_s(ahead=0)
            if wait_s > timeout_s:
                unsent = [o.client_order_id for o in list(self._active.values())
                          if o.exchange == name and self._cancel_unsent(o)]
                if unsent:
                    log.warning('exchange "%s" takes no request for another %s (its rate limit), past [bot] '
                                "shutdown_timeout_s (%g s): %s not sent at the stop (cancelled before it was sent): "
                                "%s", name, span(wait_s), timeout_s, counted(len(unsent), "queued order"),
                                _listed(unsent))
        settled = await self.settle(timeout_s)
        self.refusals.close()  # a stopping bot's refusals do not go quiet: it stops
        if not settled:
            log.warning("%d order(s) still in flight at shutdown; recovery settles them on the next start",
                        self._in_flight)
            return False
        return True

    def _degrade_post_only(self, intent: OrderIntent) -> OrderIntent | None:
        bid, ask, price = *self.portfolio.top(intent.exchange, intent.symbol), intent.price
        if price is None:  # a market order cannot rest, so it cannot cross
            return intent
        crosses = (intent.side is Side.BUY and ask is not None and price >= ask) or (
            intent.side is Side.SELL and bid is not None and price <= bid)
        if not crosses:
            return intent
        if self.settings.post_only_cross == "limit":
            log.info("post-only %s %s at %s would cross the book; sending as a plain limit order",
                     intent.side, intent.symbol, intent.price)
            return replace(intent, post_only=False)
        log.info("post-only %s %s at %s would cross the book; not sent", intent.side, intent.symbol, intent.price)
        return None

    # --- sending --------------------------------------------------------------------------

    async def _lane_worker(self, lane: _Lane) -> None:
        """Take queued orders, store each (off the loop), then send them; runs under supervision."""
        store_failures = 0
        while True:
            if not lane.held:
                lane.held = [await lane.queue.get()]
                if lane.exchange.supports_batch:
                    while len(lane.held) < MAX_BATCH and not lane.queue.empty():
                        lane.held.append(lane.queue.get_nowait())
            try:
                await self._store_jobs(lane.held)
            except Exception as exc:
                if not is_store_error(exc):
                    raise
                self.store_failed(exc, f"order insert ({lane.exchange.name})")
                await asyncio.sleep(backoff_delay(store_failures, *STORE_RETRY_S))
                store_failures += 1
                continue  # the held orders are tried again; nothing is sent before its row is written
            store_failures = 0
            self.store_recovered()
            batch, lane.held = lane.held, []
            fresh = []
            for job in batch:
                if job.cancelled or not job.stored:
                    self._unsent.pop(job.order.client_order_id, None)
                    self._end_unsent(job)
                    continue
                fresh.append(job)
            if not fresh:
                continue
            await lane.bucket.acquire()
            for job in list(fresh):
                if job.cancelled:  # cancelled while waiting for a token: stored, never sent
                    fresh.remove(job)
                    self._unsent.pop(job.order.client_order_id, None)
                    self._end_unsent(job)
                else:
                    self._unsent.pop(job.order.client_order_id, None)
                    self._sending.add(job.order.client_order_id)
            if fresh:
                self.tasks.create(self._send(lane, fresh), owner="executor", what=f"send to {lane.exchange.name}")

    async def _store_jobs(self, jobs: list[_Job]) -> None:
        """Commit the row of every job not stored yet; raises the store's error (jobs keep their flags)."""
        for job in jobs:
            if job.stored or job.cancelled:
                continue
            if job.attempt > 0:
                job.stored = True  # a retry: its row was written before its first attempt
                continue
            try:
                inserted = await self._insert(job.order)
            except Exception:
                job.insert_failed = True
                raise
            if inserted or (job.insert_failed and await self._own_row(job.order)):
                job.stored = True  # the row found was written by the attempt that failed
                self._remember_stored(job.order.client_order_id)
            else:
                self._remember_stored(job.order.client_order_id)
                # The id is already stored: an earlier order (this run's or some earlier run's) owns it. Never
                # send it again.
                log.error("order %s already exists in the store; not sending it again", job.order.client_order_id)
                self._active.pop(job.order.client_order_id, None)

    async def _own_row(self, order: Order) -> bool:
        """Whether the stored row of ``order``'s client order id is ``order``'s own (an insert that raised may
        have written it), not an earlier order's that carried the same id."""
        stored = await self.writer.read(self.store.get_order, order.client_order_id)
        return stored is not None and (
            (stored.created_ns, stored.strategy, stored.exchange, stored.symbol, stored.side, stored.qty, stored.price)
            == (order.created_ns, order.strategy, order.exchange, order.symbol, order.side, order.qty, order.price))

    async def _insert(self, order: Order) -> bool:
        """Commit an order's row: on the loop in microseconds when the store can (SQLite, lock free), else
        on the store writer's thread (PostgreSQL's round trip, or another writer holding the lock)."""
        if self.store.records_inline:
            try:
                inserted = self.store.insert_order(order, wait=False)
            except StoreBusy:
                pass
            else:
                self.writer.wrote_on_loop()
                return inserted
        return await self.writer.call(self.store.insert_order, order)

    @staticmethod
    async def _place(lane: _Lane, jobs: list[_Job]) -> list[OrderState | BaseException]:
        """The request itself (its own task, so that the requests made in one loop turn all start in the next)."""
        if len(jobs) == 1:
            return [await lane.exchange.place_order(jobs[0].order)]
        return list(await lane.exchange.place_orders([j.order for j in jobs]))

    async def _send(self, lane: _Lane, jobs: list[_Job], request: asyncio.Task[Any] | None = None) -> None:
        """Send ``jobs`` in one request (``request``: already made, done by now) and handle what comes back."""
        if request is None:
            request = asyncio.get_running_loop().create_task(self._place(lane, jobs))
        try:
            async with asyncio.timeout(self.settings.request_timeout_s):  # cancels the request on expiry
                results: list[OrderState | BaseException] = await request
        except Exception as exc:  # the whole request failed: same outcome for each order in it
            results = [exc] * len(jobs)
        for job, result in zip(jobs, results, strict=True):
            try:
                await self._handle_result(lane, job, result)
            finally:
                self._sending.discard(job.order.client_order_id)
                self._end()

    def _handle_settled(self, lane: _Lane, job: _Job, result: OrderState | BaseException) -> bool:
        """Handle an answer that needs no further request (one of :data:`_SETTLED_NOW`); False for any other."""
        order = job.order
        if isinstance(result, OrderState):
            self._apply(order, result)
            return True
        if isinstance(result, PermanentError):
            self._finish(order, OrderStatus.REJECTED, f"{type(result).__name__}: {result}",
                         cause=f"rejected ({type(result).__name__})")
            return True
        if isinstance(result, TransientError):
            if isinstance(result, RateLimited) and result.retry_after_s:
                lane.bucket.block_for(result.retry_after_s)
            self._retry_later(lane, job, f"{type(result).__name__}: {result}")
            return True
        return False

    async def _handle_result(self, lane: _Lane, job: _Job, result: OrderState | BaseException) -> None:
        if self._handle_settled(lane, job, result):
            return
        order = job.order
        if order.status is not OrderStatus.PENDING:
            return  # the venue's feed already reported the order: it arrived, whatever became of the answer
        # Unknown outcome (timeout, lost connection, unexpected error): ask before resending.
        if not isinstance(result, BaseException):  # neither a state nor an error: the venue plugin's bug
            what = f"place_order returned {type(result).__name__}, not an OrderState"
            self._plugin_bug(lane.exchange.name, f'exchange "{lane.exchange.name}": {what}: return the venue\'s '
                             "OrderState, or raise an ExchangeError (bot.api); the order was looked up by its client "
                             "order id")
        elif isinstance(result, TimeoutError):
            what = "timed out"
        else:
            what = f"{type(result).__name__}: {result}"
        log.warning("order %s: outcome unknown (%s); looking it up", order.client_order_id, what)
        answered, state = await self._lookup(lane, order)
        if state is not None:
            self._apply(order, state)
        elif order.status is not OrderStatus.PENDING:
            return  # reported by the feed meanwhile
        elif answered and (received := self._received(order)) is not None:
            # "not found", yet it has a fill (the venue's feed published one): it arrived; sent again it could fill
            # twice
            self._cannot_tell(order, f"its outcome unknown ({what}), looked up", received)
        elif answered:
            self._retry_later(lane, job, f"unknown outcome ({what}); the venue has no such order")
        else:
            self._finish(order, OrderStatus.UNKNOWN, f"outcome unknown ({what}) and the look-up failed; "
                         "reconciliation keeps asking the venue")

    async def _lookup(self, lane: _Lane, order: Order, attempts: int = 0) -> tuple[bool, OrderState | None]:
        """Look an order up by client id, ``attempts`` times at most (default ``max_retries + 1``), with backoff
        between them: (the venue answered, its state or None). An ``UnknownOutcome`` ("cannot tell") is no answer.
        Failures are logged by :meth:`_lookup_failed`: the first, then a count once an hour."""
        attempts = attempts or self.settings.max_retries + 1
        for attempt in range(attempts):
            await lane.bucket.acquire()
            try:
                state = await asyncio.wait_for(
                    lane.exchange.find_order(order), self.settings.request_timeout_s)
            except Exception as exc:
                self._lookup_failed(order, exc)
                if attempt + 1 < attempts:
                    s = self.settings
                    await asyncio.sleep(backoff_delay(attempt, s.backoff_initial_s, s.backoff_max_s))
                continue
            self._lookup_answered(order)
            return True, state
        return False, None

    def _lookup_failed(self, order: Order, exc: Exception) -> None:
        """Log a failed look-up of an order held here: its first failure, then a count every
        :data:`LOOKUP_FAILURES_SAID_S` (a ghost order asked about every reconciliation would fill the log)."""
        cid = order.client_order_id
        if cid not in self._active:
            log.warning("look-up of %s failed: %s", cid, exc)
            return
        error = str(exc) or type(exc).__name__
        failing = self._lookups_failing
        if failing.first(cid, error):
            log.warning("look-up of %s failed: %s (its further failures are counted, logged every %s)", cid, error,
                        span(LOOKUP_FAILURES_SAID_S))
            return
        if (counting := failing.get(cid)) is not None:
            counting.note = error  # the last error, said with the count
        if (said := failing.due_of(cid)) is not None:
            now = self.clock.monotonic()
            log.warning("look-up of %s: %d more look-up(s) failed in the last %s, %d since the first %s ago (last: "
                        "%s); still asking", cid, said.count, span(now - said.started), said.total,
                        span(now - said.since), said.note)

    def _lookup_answered(self, order: Order) -> None:
        failed = self._lookups_failing.forget(order.client_order_id)
        if failed is None:
            return
        log.info("look-up of %s answered after %d failed look-up(s) over %s", order.client_order_id, failed.total,
                 span(self.clock.monotonic() - failed.since))

    def _retry_later(self, lane: _Lane, job: _Job, reason: str) -> None:
        if job.attempt >= self.settings.max_retries:
            self._finish(job.order, OrderStatus.FAILED, f"gave up after {job.attempt + 1} attempts: {reason}")
            return
        delay = backoff_delay(job.attempt, self.settings.backoff_initial_s, self.settings.backoff_max_s)
        log.info("order %s: %s; retry %d in %.2fs", job.order.client_order_id, reason, job.attempt + 1, delay)
        retry = _Job(job.order, job.attempt + 1, stored=True, reduce_only=job.reduce_only)
        self._unsent[job.order.client_order_id] = retry

        async def later() -> None:
            await asyncio.sleep(delay)
            # a pause (a risk trip, an operator's) that came meanwhile holds the retry as it holds a new order; a
            # reduce-only order (a hedge through a pause) still goes
            if not retry.cancelled and not retry.reduce_only and not self._may_trade(retry.order.strategy):
                if self._unsent.get(retry.order.client_order_id) is retry:
                    self._unsent.pop(retry.order.client_order_id)
                retry.cancelled = True
                self._finish_quiet(retry.order, OrderStatus.CANCELLED, "not retried: its strategy is paused")
                self._end()
                return
            lane.queue.put_nowait(retry)

        self._begin()  # the retry is in flight until its own result is handled
        self.tasks.create(later(), owner="executor", what="retry")

    # --- cancelling -----------------------------------------------------------------------

    def cancel(self, client_order_id: str) -> None:
        order = self._active.get(client_order_id)
        if order is None:
            return
        if self._cancel_unsent(order):
            return
        self.tasks.create(self._cancel([order]), owner="executor", what=f"cancel {client_order_id}")

    async def cancel_all(self, strategy: str | None = None, *, within_s: float | None = None) -> int:
        """Cancel every open order (of one strategy), UNKNOWN ones included; returns how many were asked.

        With ``within_s`` (the stop's bound), a venue whose lane gives its next request token only after that long
        (it asked for quiet: its rate limit) is not asked: its orders are left as they are and named in the log,
        rather than the cancel waiting for a token it cannot get in time. Orders not sent yet are cancelled
        anyway (that needs no request)."""
        orders = [o for o in self._active.values() if strategy is None or o.strategy == strategy]
        at_venues = [o for o in orders if not self._cancel_unsent(o)]
        if within_s is not None:
            for name, lane in self._lanes.items():
                wait_s = lane.bucket.wait_s()
                left = [o.client_order_id for o in at_venues if o.exchange == name]
                if wait_s <= within_s or not left:
                    continue
                log.warning('exchange "%s" takes no request for another %s (its rate limit), past [bot] '
                            "shutdown_timeout_s (%g s): %s not cancelled at the stop, left as they are: %s", name,
                            span(wait_s), within_s, counted(len(left), "resting order"), _listed(left))
                at_venues = [o for o in at_venues if o.exchange != name]
                orders = [o for o in orders if o.client_order_id not in left]
        await self._cancel(at_venues)
        return len(orders)

    def rate_limited_s(self, exchange: str) -> float:
        """How long the venue's last "slow down" answer (``RateLimited.retry_after_s``) still holds: 0 when none."""
        lane = self._lanes.get(exchange)
        return lane.bucket.blocked_s() if lane is not None else 0.0

    def cancel_unsent(self) -> int:
        """Cancel every order that has not left yet (queued, held for its row, waiting for a token): none of them
        ever will. Returns how many. Orders on their way to a venue are not touched."""
        return sum(self._cancel_unsent(order) for order in list(self._active.values()))

    def _cancel_unsent(self, order: Order) -> bool:
        """Cancel an order that has not left yet (it never will); False if it is at the venue (or on its way)."""
        job = self._unsent.get(order.client_order_id)
        if job is None:
            return self._withdraw(order)
        if order.client_order_id in self._sending:
            return False
        job.cancelled = True
        self._end_unsent(job)
        self._unsent.pop(order.client_order_id, None)
        if not job.stored:  # still queued in its lane, which writes the row just before sending
            self._unwritten[order.client_order_id] = order
        self._finish_quiet(order, OrderStatus.CANCELLED, "cancelled before it was sent")
        return True

    def _withdraw(self, order: Order) -> bool:
        """Take an order of the open durable intent out of the request it joined (made once the intent commits):
        it never leaves; its row, written in the intent, ends CANCELLED. False if it is not such an order."""
        intent, cid = self._intent, order.client_order_id
        if intent is None:
            return False
        job = next((j for j in intent.jobs if j.order.client_order_id == cid), None)
        if job is None or not job.stored:
            return False
        for i, (lane, batch) in enumerate(intent.requests):
            if job in batch:
                batch.remove(job)
                if not batch:
                    del intent.requests[i]
                    if lane.next_batch is batch:
                        lane.next_batch = None
                break
        else:  # it joined a request made before the intent: on its way
            return False
        intent.jobs.remove(job)
        job.cancelled = True
        self._sending.discard(cid)
        self._end()
        self._finish_quiet(order, OrderStatus.CANCELLED, "cancelled before it was sent")
        return True

    async def _cancel(self, orders: list[Order]) -> None:
        groups: dict[tuple[str, str], list[Order]] = {}
        for order in orders:
            groups.setdefault((order.exchange, order.symbol), []).append(order)
        for (exchange_name, symbol), group in groups.items():
            lane = self._lanes.get(exchange_name)
            if lane is None:
                continue
            await lane.bucket.acquire()
            results: Sequence[OrderState | Exception]  # a failed call: its error for every order
            try:
                results = await asyncio.wait_for(
                    lane.exchange.cancel_orders(symbol, [o.client_order_id for o in group]),
                    self.settings.request_timeout_s)
            except Exception as exc:
                results = [exc] * len(group)
            for order, result in zip(group, results, strict=True):
                if isinstance(result, OrderState):
                    self._apply(order, result)
                else:
                    _, state = await self._lookup(lane, order)
                    if state is not None:
                        self._apply(order, state)

    # --- state from the venue -------------------------------------------------------------

    def apply_fill(self, fill: Fill) -> bool:
        """Apply a fill of one of our orders once, however it arrived; True if it was new (and applied now).

        On a store whose reads are round trips, the fill of an order only the store holds is applied once that
        order is read back off the loop (:meth:`_look_up`): False here.

        Bus subscriber for the venues' published ``Fill``; also called for the fills in every
        order state (answers, look-ups, reconciliation, recovery).
        """
        key = (fill.exchange, fill.trade_id)
        cid = fill.client_order_id
        keys = self._applied.get(cid)
        if keys is not None and key in keys:
            return False
        unchecked = self._unsent.get(cid)
        if unchecked is not None and not unchecked.stored:
            # never sent (its row is not written yet): the fill is of an earlier order that carried this id, which
            # the store holds (its row's insert will refuse this one); never counted against the new order
            log.warning("fill %s of an earlier order %s ignored: the order now holding that id was never sent",
                        fill.trade_id, cid)
            return False
        from_store = cid in self._from_store or not self._in_memory(cid)  # its earlier fills are the store's
        if from_store:
            finished = self._finished.get(cid)
            if finished is not None and key in finished:
                return False  # a repeat of a fill of a recently finished order
            if not self.store.records_inline:  # a read is a round trip: on the writer thread, then applied
                self._look_up(cid, fill)
                return False
            if self.store.fill_stored(fill.exchange, fill.trade_id):
                return False  # a repeat of an older one: one indexed read, before the order's row is read
        order = self.order(cid)
        if order is None:
            log.warning("fill %s for unknown order %s ignored", fill.trade_id, cid)
            return False
        if from_store:
            self._from_store.add(cid)  # held here until written, with this fill
        if keys is None:
            keys = self._applied[cid] = set()
        keys.add(key)
        self._add_to_sums(fill)
        add_fill_fee(order, fill)
        self._dirty[order.client_order_id] = order  # its fee is stored with the fill, in one transaction
        self._new_fills.append((order.strategy, fill))
        self._changed()
        self.dispatch.fill(order.strategy, fill)
        return True

    def _add_to_sums(self, fill: Fill) -> None:
        """Count a fill just added to :attr:`_applied` in its order's :attr:`_applied_sums`."""
        qty, notional = self._applied_sums.get(fill.client_order_id, (ZERO, ZERO))
        with localcontext(prec=EXACT_DIGITS):  # every digit, as the ledger's sums
            self._applied_sums[fill.client_order_id] = (qty + fill.qty, notional + fill.qty * fill.price)

    def _look_up(self, cid: str, late: Fill | OrderState) -> None:
        """A fill (or a final order's state, :meth:`_filled_after_all`) of order ``cid``, which only the store holds,
        on a store whose reads are round trips (PostgreSQL): the order and its stored fills' keys are read on the
        store writer's thread, in order with the writes handed over before, and what came meanwhile for that order
        is applied once they are back (one read per order at a time, so each is applied to one order object)."""
        waiting = self._looking_up.get(cid)
        if waiting is not None:
            waiting.append(late)
            return
        self._looking_up[cid] = [late]
        self._look_ups[cid] = asyncio.get_running_loop().create_task(self._looked_up(cid),
                                                                     name=f"look up order {cid}")

    async def _looked_up(self, cid: str) -> None:
        try:
            try:
                order, stored_fills = await self.writer.read(_order_and_fills, self.store, cid)
            except Exception as exc:
                waiting = self._looking_up.pop(cid, [])
                log.error("order %s could not be read back for %d late report(s) (%s): not applied now; a later "
                          "report of it (reconciliation, the venue's) applies it", cid, len(waiting),
                          describe_store_error(exc))
                return
            waiting = self._looking_up.pop(cid, [])
            if order is None:
                for late in waiting:
                    if isinstance(late, Fill):
                        log.warning("fill %s for unknown order %s ignored", late.trade_id, cid)
                return
            if not self._in_memory(cid):  # held here from now on, until written: its fills' keys with it
                known = self._applied.setdefault(cid, set())
                for stored in stored_fills:
                    if (stored.exchange, stored.trade_id) not in known:
                        known.add((stored.exchange, stored.trade_id))
                        self._add_to_sums(stored)
                known |= self._finished.get(cid, set())  # written, so among the stored ones
                self._dirty[cid] = order
                self._changed()
            for late in waiting:
                if isinstance(late, Fill):
                    self.apply_fill(late)
                else:
                    self._filled_after_all(late)
        finally:
            self._look_ups.pop(cid, None)

    def handle_report(self, report: OrderReport) -> None:
        """Bus subscriber: a venue reported a change of one of our orders."""
        order = self._active.get(report.state.client_order_id)
        if order is not None:
            self._apply(order, report.state)
        else:
            for fill in report.state.fills:  # a late fill of an order already final here
                self.apply_fill(fill)
            self._filled_after_all(report.state)

    def _filled_after_all(self, state: OrderState) -> None:
        """An order final here that its venue reports filled further (given up on, then it landed: a swap confirmed
        late, a request the venue's queue took late): its row says what its fills say, once. A final status the
        venue gives is taken (FAILED -> FILLED); a live one is not (reconciliation finds a live order)."""
        if not state.filled_qty:
            return
        cid = state.client_order_id
        if not self.store.records_inline and (cid in self._looking_up or not self._in_memory(cid)):
            self._look_up(cid, state)  # after the fills of this report that went to be looked up
            return
        order = self.order(cid)
        if order is None or not order.status.terminal or state.filled_qty <= order.filled_qty:
            return
        log.warning("order %s, %s here, is %s at the venue with %s filled: its row now says so",
                    order.client_order_id, order.status.value, state.status.value, state.filled_qty)
        order.filled_qty = state.filled_qty
        order.avg_fill_price = state.avg_fill_price
        order.exchange_order_id = state.exchange_order_id or order.exchange_order_id
        if state.status.terminal:
            order.status = state.status
        order.updated_ns = self.clock.time_ns()
        self._notify(order)

    def _apply(self, order: Order, state: OrderState) -> None:
        for fill in state.fills:
            self.apply_fill(fill)
        state = self._at_least_its_fills(order, state)
        if state.filled_qty < order.filled_qty or (order.status.terminal and not state.status.terminal):
            # older than what the venue reported since (its stream outran its answer to the request): the order
            # keeps the newer state; a FILLED order taken back to OPEN would be open again here and nowhere else
            log.info("order %s: a %s state with %s filled came after its %s state with %s filled; kept the latter",
                     order.client_order_id, state.status.value, state.filled_qty, order.status.value,
                     order.filled_qty)
            if state.exchange_order_id and not order.exchange_order_id:
                order.exchange_order_id = state.exchange_order_id
                self._notify(order)
            return
        was = order.status
        changed = (state.status != order.status or state.filled_qty != order.filled_qty
                   or (state.exchange_order_id and state.exchange_order_id != order.exchange_order_id))
        was_unknown = order.status is OrderStatus.UNKNOWN
        if state.status is OrderStatus.UNKNOWN and not was_unknown:
            self._unknown_alerted.add(order.client_order_id)  # its venue's word: its plugin says why (ccxt alerts)
        order.status = state.status
        order.filled_qty = state.filled_qty
        order.avg_fill_price = state.avg_fill_price
        order.exchange_order_id = state.exchange_order_id or order.exchange_order_id
        if state.reason:
            order.reason = state.reason
        elif was_unknown and state.status is not OrderStatus.UNKNOWN:
            order.reason = ""  # why its outcome was unknown: the venue has answered now
        if changed:
            order.updated_ns = self.clock.time_ns()
            if state.status is OrderStatus.REJECTED and was is not OrderStatus.REJECTED:
                # the venue's answer or its stream said so, not an error: heard as any rejection (once per cause)
                self._refused(order, AlertLevel.WARNING, "rejected", order.reason or "no reason given")
            self._notify(order)

    def _at_least_its_fills(self, order: Order, state: OrderState) -> OrderState:
        """``state``, filled no less than the order's applied fills add up to (the one rule, for every venue): a
        venue that published a fill before its answer to the order, then answered "open, nothing filled", left the
        order under-filled until its next state. A fully filled order is FILLED."""
        cid = order.client_order_id
        sums = self._applied_sums.get(cid)  # every applied fill's, however it came (kept here, never read back)
        if sums is None:
            return state
        applied, notional = sums
        if applied <= state.filled_qty:
            return state
        with localcontext(prec=EXACT_DIGITS):
            avg = (state.avg_fill_price if state.filled_qty and state.avg_fill_price is not None
                   else notional / applied)
        status = OrderStatus.FILLED if applied >= order.qty else state.status
        log.info("order %s: its venue says %s with %s filled, its applied fills add up to %s: %s with %s filled",
                 cid, state.status.value, state.filled_qty, applied, status.value, applied)
        return replace(state, status=status, filled_qty=applied, avg_fill_price=avg)

    def _finish(self, order: Order, status: OrderStatus, reason: str, cause: str = "") -> None:
        """End an order refused or given up on: logged and stored each time, alerted once per ``cause`` (default: the
        status) of its strategy's market (:class:`~bot.refusals.RefusalAlerts`)."""
        order.status = status
        order.reason = reason
        order.updated_ns = self.clock.time_ns()
        if status is OrderStatus.UNKNOWN:
            self._unknown_alerted.add(order.client_order_id)  # this alert is its one
        level = AlertLevel.WARNING if status is OrderStatus.REJECTED else AlertLevel.ERROR
        self._refused(order, level, cause or status.value, reason)
        self._notify(order)

    def _refused(self, order: Order, level: AlertLevel, cause: str, reason: str) -> None:
        """Log an order refused (or given up on) and alert it once per cause of its strategy's market."""
        log.log(int(level), "order %s of %s on %s %s %s: %s", order.client_order_id, order.strategy, order.exchange,
                order.symbol, order.status.value, reason)
        self.refusals.refused(order.strategy, order.exchange, order.symbol, cause,
                              f"{reason} (order {order.client_order_id})", level=level,
                              client_order_id=order.client_order_id)

    def _finish_quiet(self, order: Order, status: OrderStatus, reason: str) -> None:
        order.status, order.reason, order.updated_ns = status, reason, self.clock.time_ns()
        self._notify(order)

    def _notify(self, order: Order) -> None:
        cid = order.client_order_id
        if order.status is OrderStatus.OPEN or order.status is OrderStatus.FILLED or order.filled_qty:
            self.refusals.went_through(order.strategy, order.exchange, order.symbol)
        if order.status is OrderStatus.UNKNOWN:
            self._unknown_since.setdefault(cid, order.updated_ns)
        elif self._unknown_since:
            self._unknown_since.pop(cid, None)
        if order.status.terminal:
            self._active.pop(cid, None)
            if self._pace:
                self._pace.pop(cid, None)
            if self._lookups_failing:
                self._lookups_failing.forget(cid)
            if self._unknown_alerted:
                self._unknown_alerted.discard(cid)
        if order.status is not OrderStatus.OBSERVED:
            self._dirty[order.client_order_id] = order
            self._changed()
        self.dispatch.order_update(order.strategy, _order_update(order))

    # --- the store writer -----------------------------------------------------------------

    def _changed(self) -> None:
        """Something waits to be written: the writer takes it FLUSH_GATHER_S after the first change since it last
        took its work, with every change made meanwhile (a few changes per transaction). One timer, no wake-up of the
        writer per change."""
        if self._gather is None and self._loop is not None and not self._loop.is_closed():
            self._gather = self._loop.call_later(FLUSH_GATHER_S, self._gathering_done)

    def _gathering_done(self) -> None:
        self._gather = None
        self._gathered = True
        waiting = self._gathered_wait
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    async def _writer_loop(self) -> None:
        """Write order changes and fills in batches; while the store fails, retry (and probe) with backoff."""
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            if self.store_error is not None:
                await asyncio.sleep(backoff_delay(failures, *STORE_RETRY_S))
            elif not self._gathered:
                self._gathered_wait = loop.create_future()
                await self._gathered_wait
            self._gathered = False  # the work is taken now: a change from here on is gathered for the next write
            if self._gather is not None:
                self._gather.cancel()
                self._gather = None
            if await self.flush(probe=self.store_error is not None):
                failures = 0
            else:
                failures += 1

    async def flush(self, *, probe: bool = False) -> bool:
        """Write queued order changes and fills now (also on shutdown); False if the store failed.

        A failed batch is kept (changes made since win) and written by the next attempt. ``probe``:
        with nothing to write, write a small state row to learn whether the store works again.
        """
        while self._look_ups:  # late fills being looked up are written with this batch
            await asyncio.wait(list(self._look_ups.values()))
        async with self._flush_lock:
            dirty, self._dirty = self._dirty, {}
            fills, self._new_fills = self._new_fills, []
            unwritten, self._unwritten = self._unwritten, {}
            self._writing, self._writing_fills = {**unwritten, **dirty}, fills  # held here until committed
            try:
                for cid, order in list(unwritten.items()):
                    # final already; a row found (a lane's insert on its way when it was cancelled) takes its
                    # final state from the batch below, which holds the same order
                    await self._insert(order)
                    del unwritten[cid]
                if dirty or fills:
                    await self._write_batch(list(dirty.values()), fills)
                elif probe:
                    await self.writer.call(self.store.set_state, "store_probe", str(self.clock.time_ns()))
                else:
                    return True
            except Exception as exc:
                for cid, order in unwritten.items():
                    self._unwritten.setdefault(cid, order)
                self._put_back(dirty, fills)
                if is_store_closed(exc):  # the bot stopped: no outage, no bad row; the next start asks the venues
                    log.warning("store writer: %d order change(s) and %d fill(s) not written: %s", len(dirty) + len(
                        unwritten), len(fills), describe_store_error(exc))
                    return False
                if not is_store_error(exc):  # a row the database refuses: as long as it does, nothing is stored
                    log.error("store writer: the database refused a batch (%s)", describe_store_error(exc),
                              exc_info=exc)
                self.store_failed(exc, "store writer")
                return False
            finally:  # committed, put back, or given up (a cancelled write)
                self._writing, self._writing_fills = {}, []
            self._forget_written(dirty)
        self.store_recovered()
        return True

    def _forget_written(self, written: dict[str, Order]) -> None:
        """Drop the fill keys of orders just written that are not held here any more (final, no change since):
        their fills are the store's, where a late one is checked (:attr:`_from_store`)."""
        for cid, order in written.items():
            if not self._in_memory(cid):
                self._keep_written(order)
                keys = self._applied.pop(cid, None)
                self._applied_sums.pop(cid, None)
                self._from_store.discard(cid)
                if keys:
                    self._remember_finished(cid, keys)

    def _keep_written(self, order: Order) -> None:
        kept = self._written
        kept[order.client_order_id] = order
        kept.move_to_end(order.client_order_id)
        while len(kept) > WRITTEN_KEPT:
            kept.popitem(last=False)

    def _remember_finished(self, cid: str, keys: set[tuple[str, str]]) -> None:
        finished = self._finished
        known = finished.pop(cid, None)
        finished[cid] = keys | known if known else keys
        while len(finished) > FINISHED_KEPT:
            finished.popitem(last=False)

    async def _write_batch(self, orders: list[Order], fills: list[tuple[str, Fill]]) -> None:
        """On a file-backed SQLite store, on the loop's record connection without waiting for a lock (a batch
        is a few hundred microseconds of work: on the writer thread it would hold the database's write lock
        while waiting for the interpreter lock, and the next order's row, on the loop, would find it taken);
        on the writer thread when another writer holds the lock, and on any other store."""
        if self.store.records_inline:
            for _ in range(3):  # requests made in this loop turn (both legs of an arbitrage) start first
                if all(lane.next_batch is None for lane in self._lanes.values()):
                    break
                await asyncio.sleep(0)
            try:
                self.store.write_batch(orders, fills, wait=False)
            except StoreBusy:
                pass  # nothing written
            else:
                self.writer.wrote_on_loop()
                return
        await self.writer.call(self.store.write_batch, orders, fills)

    def _put_back(self, dirty: dict[str, Order], fills: list[tuple[str, Fill]]) -> None:
        for cid, order in dirty.items():
            self._dirty.setdefault(cid, order)  # the same Order object: its newest state is written
        self._new_fills[:0] = fills
        self._changed()

    def store_failed(self, exc: BaseException, where: str) -> None:
        """The store could not be written: refuse new orders until a write succeeds (alerted once)."""
        if self.store_error is not None:
            log.warning("store still failing (%s): %s", where, describe_store_error(exc))
            return
        self.store_error = describe_store_error(exc)
        self._refused_while_down = 0
        log.error("store cannot be written (%s): %s", where, self.store_error)
        log.debug("store error", exc_info=exc)
        queued = sum(len(lane.held) + lane.queue.qsize() for lane in self._lanes.values())
        self._alert(AlertLevel.CRITICAL, "store",
                    "the store cannot be written: new orders are refused; cancels go on, closing orders wait "
                    "for their row; trading resumes by itself once writes succeed",
                    where=where, error=self.store_error, orders_waiting=str(queued),
                    changes_kept=str(len(self._dirty)), fills_kept=str(len(self._new_fills)))
        self._changed()
        self._on_store_state(False)

    def _store_stalled(self, waited_s: float) -> None:
        """A write has waited ``waited_s`` for a database that does not answer (no error comes, nor any timeout): the
        store cannot be written, as far as trading knows, until one succeeds (:meth:`_store_answered`)."""
        already = self.store_error is not None
        self.store_failed(StoreNotAnswering(f"the database did not answer a write for {waited_s:.1f} s"),
                          "store writer")
        if not already:
            self._stall_error = self.store_error

    def _store_answered(self) -> None:
        """A write succeeded after a stall: the store is writable again, unless a write has failed since (that
        failure's own retries tell when it is over)."""
        if self.store_error is not None and self.store_error == self._stall_error:
            self.store_recovered()
        self._stall_error = None

    def store_recovered(self) -> None:
        if self.store_error is None:
            return
        log.warning("store writable again (after %s)", self.store_error)
        self.store_error = None
        self._alert(AlertLevel.WARNING, "store", "the store is writable again: trading resumes",
                    orders_refused_meanwhile=str(self._refused_while_down))
        self._on_store_state(True)

    # --- recovery and reconciliation ------------------------------------------------------

    async def load(self) -> int:
        """On start: read the fills already applied (the store's) back into the portfolio, and their keys into
        :attr:`_applied` (:meth:`recover` keeps those of the orders it holds)."""
        stored: list[tuple[str, Fill]] = []
        after: tuple[int, int] | None = None
        while True:  # a page per read: writes handed over meanwhile run between them (bot.writer: the stall alarm)
            page, after = await self.writer.read(self.store.fills_page, after, FILLS_PAGE)
            stored += page
            if len(page) < FILLS_PAGE:
                break
        if not self.store.records_inline:  # what submit checks a strategy's own ids against (oldest first)
            for cid in reversed(await self.writer.read(self.store.recent_client_ids, STORED_IDS_KEPT)):
                self._remember_stored(cid)
        for _strategy, fill in stored:
            keys = self._applied.setdefault(fill.client_order_id, set())
            key = (fill.exchange, fill.trade_id)
            if key not in keys:
                keys.add(key)
                self._add_to_sums(fill)
                self.portfolio.on_fill(fill)
        return len(stored)

    async def recover(self) -> dict[str, int]:
        """On start, before anything new is placed: settle every order a previous run left open.

        Fills the venue reports for them go through :meth:`apply_fill` like any other, so a fill
        already stored is not applied again and a fill made while the bot was down is applied once.
        """
        await self.load()
        counts = {"adopted": 0, "failed": 0, "unknown": 0}
        for order in await self.writer.read(self.store.orders, statuses=list(OPEN_STATUSES)):
            lane = self._lanes.get(order.exchange)
            if lane is None:
                log.error("order %s is on exchange %s, which is not configured; left as is",
                          order.client_order_id, order.exchange)
                counts["unknown"] += 1
                continue
            self._active[order.client_order_id] = order
            answered, state = await self._lookup(lane, order)
            if state is not None:
                self._apply(order, state)
                counts["adopted"] += 1
            elif answered and self._may_still_land(lane, order):
                self._finish_quiet(order, OrderStatus.UNKNOWN, "not found after a restart, but its request may "
                                   f"still reach {order.exchange} for {lane.exchange.late_arrival_s():g} s; "
                                   "reconciliation keeps asking")
                counts["unknown"] += 1
            elif answered:
                ended = self._not_found(order, "found after a restart", quiet=True)
                counts["unknown" if ended is OrderStatus.UNKNOWN else "failed"] += 1
            else:  # stays active: reconciliation keeps asking
                if order.status is not OrderStatus.UNKNOWN:
                    self._finish_quiet(order, OrderStatus.UNKNOWN, "no answer from the venue after a restart; "
                                       "reconciliation keeps asking")
                counts["unknown"] += 1
        await self.flush()
        for cid in [cid for cid in self._applied if not self._in_memory(cid)]:
            self._remember_finished(cid, self._applied.pop(cid))  # finished orders: the latest remembered
            self._applied_sums.pop(cid, None)
        return counts

    async def reconcile(self) -> None:
        """Periodic: re-read every order not known to be final from its venue, UNKNOWN ones included.

        A PENDING order may still be on its way: "not found" changes nothing. An UNKNOWN order the
        venue still does not know twice the request timeout after its last attempt (and its venue's
        :meth:`~bot.api.Exchange.late_arrival_s`) never arrived: FAILED, if the venue never acknowledged it
        (:meth:`_not_found`; else it stays UNKNOWN, "cannot tell"). An OPEN order its venue answers "not found" for
        :data:`NOT_FOUND_ANSWERS` times in a row over at least :data:`NOT_FOUND_S` becomes UNKNOWN, "cannot tell"
        (:meth:`_open_not_found`). An UNKNOWN order a pass leaves UNKNOWN is asked
        again :data:`UNKNOWN_LOOKUP_FIRST_S` later, doubling up to :data:`UNKNOWN_LOOKUP_MAX_S`, once a pass, when its
        venue answered and could not tell; one whose look-up failed (the venue not answering) is asked again at the next
        pass, one attempt a pass, so that it is settled as soon as the venue is back (its failures are logged once, then
        counted hourly).
        """
        for order in list(self._active.values()):
            cid = order.client_order_id
            lane = self._lanes.get(order.exchange)
            if lane is None or cid in self._unsent or cid in self._sending:
                continue
            pace = self._pace.get(cid)
            if pace is not None and pace.unsettled and self.clock.monotonic() < pace.next_at:
                continue
            # one attempt a pass for an order whose look-ups already failed or could not tell (the venue's own retries
            # are for a fresh question), every attempt (max_retries + 1) for the first
            answered, state = await self._lookup(lane, order, attempts=1 if (
                pace is not None and pace.unsettled) or cid in self._lookups_failing else 0)
            if state is not None:
                if (pace := self._pace.get(cid)) is not None:
                    pace.not_found = 0  # found: a later "not found" starts the count over
                self._apply(order, state)
            elif answered and order.status is OrderStatus.UNKNOWN and cid in self._active:
                age_s = (self.clock.time_ns() - order.updated_ns) / 1e9
                if age_s > max(2 * self.settings.request_timeout_s, lane.exchange.late_arrival_s()):
                    self._not_found(order, "found by reconciliation", quiet=False)
            elif answered and order.status is OrderStatus.OPEN and cid in self._active:
                self._open_not_found(order)
            if (cid in self._active and order.status is OrderStatus.UNKNOWN and answered
                    and self._received(order) is not None):
                self._settle_later(cid)  # received, and the venue cannot tell: asked again later, each time later
            elif (pace := self._pace.get(cid)) is not None:  # settled, the venue did not answer, or an order never
                pace.unsettled, pace.next_at = 0, 0.0  # acknowledged that may still land: the next pass
        await self.flush()

    def _open_not_found(self, order: Order) -> None:
        """Count an OPEN order's "not found" answer; once they persist (:data:`NOT_FOUND_ANSWERS` in a row over at
        least :data:`NOT_FOUND_S`) it is UNKNOWN, "cannot tell" (:meth:`_not_found`: it was acknowledged, so never
        FAILED), alerted once. Left OPEN it was looked up at every pass for ever, shown open by /orders, cancelled by
        every kill and waited on by its strategy, with no word to anyone."""
        pace = self._pace.setdefault(order.client_order_id, _Pace())
        now = self.clock.monotonic()
        if not pace.not_found:
            pace.not_found_at = now
        pace.not_found += 1
        if pace.not_found < NOT_FOUND_ANSWERS or now - pace.not_found_at < NOT_FOUND_S:
            return
        self._not_found(order, f"not found at {pace.not_found} look-ups in a row over "
                        f"{span(now - pace.not_found_at)}", quiet=False)

    def _settle_later(self, cid: str) -> None:
        """An UNKNOWN order this reconciliation pass could not settle: asked again later, each time later."""
        pace = self._pace.setdefault(cid, _Pace())
        pace.unsettled += 1
        delay = min(UNKNOWN_LOOKUP_FIRST_S * 2 ** min(pace.unsettled - 1, 16), UNKNOWN_LOOKUP_MAX_S)
        pace.next_at = self.clock.monotonic() + delay

    @staticmethod
    def _may_still_land(lane: _Lane, order: Order) -> bool:
        """An order of a previous run its venue does not know (yet): never acknowledged, and its venue may take a
        request whose answer was lost later (:meth:`~bot.api.Exchange.late_arrival_s`): the request the killed run
        made may still be on its way."""
        return (order.exchange_order_id is None and order.filled_qty == 0
                and order.status in (OrderStatus.PENDING, OrderStatus.UNKNOWN) and lane.exchange.late_arrival_s() > 0)

    def _not_found(self, order: Order, how: str, *, quiet: bool) -> OrderStatus:
        """Settle an order its venue answers "not found" for; returns its status now. Never received (FAILED) only
        when nothing says the venue got it. Received (a venue id, a fill, an answer) it may have filled: UNKNOWN,
        "cannot tell" (:meth:`_cannot_tell`), alerted once, with whatever fills it has. A partly filled one too, never
        CANCELLED ("the rest ended"): a venue whose history drops finished orders after N days proves at most that
        the order finished, not whether its rest filled or was cancelled, and one that cannot list finished orders
        (ccxt without fetchOrder) proves not even that; no venue's "not found" tells the rest's fate. ``quiet``:
        FAILED is not alerted (recovery)."""
        if (received := self._received(order)) is not None:
            self._cannot_tell(order, how, received)
            return OrderStatus.UNKNOWN
        reason = f"the venue never received it ({how})"
        if quiet:
            self._finish_quiet(order, OrderStatus.FAILED, reason)
        else:
            self._finish(order, OrderStatus.FAILED, reason)
        return OrderStatus.FAILED

    def _received(self, order: Order) -> str | None:
        """What shows that ``order``'s venue received it (its venue id, a fill, an answer), or None: nothing does."""
        if order.exchange_order_id:
            return f"venue id {order.exchange_order_id}"
        if order.filled_qty > 0 or order.client_order_id in self._applied_sums:
            return "a fill of it was applied"
        if order.status is OrderStatus.OPEN:
            return "it was open there"
        return None

    def _cannot_tell(self, order: Order, how: str, received: str) -> None:
        """An order its venue received does not find it: UNKNOWN (never sent again; reconciliation keeps asking, at a
        slower pace), alerted once (kind ``order-unknown``). Its reason is written when the fact it states changes
        (what shows the venue received it, what filled), not when a later pass says ``how`` in other words (each
        pass's "found by reconciliation" after "not found at 3 look-ups", a restart's): a store write for nothing."""
        filled = f", {order.filled_qty} of {order.qty} filled" if order.filled_qty > 0 else ""
        fact = f"the venue received it ({received}{filled}) but no longer finds it"
        if order.status is not OrderStatus.UNKNOWN or not order.reason.startswith(f"{fact} ("):
            self._finish_quiet(order, OrderStatus.UNKNOWN, f"{fact} ({how}): it may have filled or been cancelled "
                               "there; cannot tell, so it is never sent again and reconciliation keeps asking")
        reason = order.reason
        cid = order.client_order_id
        if cid in self._unknown_alerted:
            return
        self._unknown_alerted.add(cid)
        log.error("order %s of %s on %s %s unknown: %s", cid, order.strategy, order.exchange, order.symbol, reason)
        self._alert(AlertLevel.ERROR, "order-unknown",
                    f"order {cid} of {order.strategy} on {order.exchange} {order.symbol}: {reason}. Check it on the "
                    "venue (its order history, by venue id or client order id): cancel it there if it still rests, "
                    "and compare its fills there with /pnl's position", source=order.strategy,
                    exchange=order.exchange, symbol=order.symbol, client_order_id=cid)

    def unknown_orders(self) -> list[Order]:
        """Orders whose outcome is not known (UNKNOWN): reconciliation keeps asking their venues."""
        return [o for o in self._active.values() if o.status is OrderStatus.UNKNOWN]

    def unknown_since_ns(self, client_order_id: str) -> int | None:
        """When an UNKNOWN order became UNKNOWN (wall time, ns; after a restart, its stored last change), else None."""
        order = self._active.get(client_order_id)
        if order is None or order.status is not OrderStatus.UNKNOWN:
            return None
        return self._unknown_since.get(client_order_id, order.updated_ns)


_UPDATE_FIELDS = ("exchange", "symbol", "client_order_id", "strategy", "status", "filled_qty", "avg_fill_price",
                  "ts_ns", "reason")
if tuple(f.name for f in fields(OrderUpdate)) == _UPDATE_FIELDS and "__slots__" in OrderUpdate.__dict__:
    (_u_exchange, _u_symbol, _u_cid, _u_strategy, _u_status, _u_filled, _u_avg, _u_ts,
     _u_reason) = (getattr(OrderUpdate, name).__set__ for name in _UPDATE_FIELDS)  # fmt: skip

    def _order_update(order: Order) -> OrderUpdate:
        """The :class:`OrderUpdate` of ``order`` as it stands, its slots written directly (a frozen dataclass's
        constructor sets each through ``object.__setattr__``, as much again as the rest; once per order change):
        the same event, equal to the constructor's."""
        update = _new(OrderUpdate)
        _u_exchange(update, order.exchange)
        _u_symbol(update, order.symbol)
        _u_cid(update, order.client_order_id)
        _u_strategy(update, order.strategy)
        _u_status(update, order.status)
        _u_filled(update, order.filled_qty)
        _u_avg(update, order.avg_fill_price)
        _u_ts(update, order.updated_ns)
        _u_reason(update, order.reason)
        return update

else:  # pragma: no cover - the domain type changed shape

    def _order_update(order: Order) -> OrderUpdate:
        """The :class:`OrderUpdate` of ``order`` as it stands."""
        return OrderUpdate(
            exchange=order.exchange, symbol=order.symbol, client_order_id=order.client_order_id,
            strategy=order.strategy, status=order.status, filled_qty=order.filled_qty,
            avg_fill_price=order.avg_fill_price, ts_ns=order.updated_ns, reason=order.reason,
        )


def partial_lane(executor: Executor, lane: _Lane) -> Callable[[], Any]:
    """The factory :meth:`Tasks.supervise` restarts a lane worker with (its queue and held orders stay)."""
    return lambda: executor._lane_worker(lane)


def _order_and_fills(store: Store, client_order_id: str) -> tuple[Order | None, list[Fill]]:
    """The stored order ``client_order_id`` and its stored fills (on the writer thread)."""
    order = store.get_order(client_order_id)
    if order is None:
        return None, []
    return order, [f for _, f in store.fills(client_order_id=client_order_id)]
