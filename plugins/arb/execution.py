"""Executing one arbitrage opportunity: two legs, at most once, hedged when they disagree.

The life of an execution (one :class:`~plugins.arb.records.ArbExecutionRow`):

1. **Decide and persist.** The opportunity id is a hash of the decision's content and time
   (:func:`opportunity_id`); the legs' client order ids derive from it (``<id>-cex``,
   ``<id>-dex``, ``<id>-hedge``). The row, with both legs' sizes and limit prices, is committed
   *before* any leg leaves, in one durable intent with the rows of the legs sent at once
   (``ctx.intent()``: one transaction, so a crash leaves the row and those legs' orders, or none of
   them); its id is unique, so the same opportunity can never be executed twice. Where a commit is a round
   trip (PostgreSQL: ``store.records_inline`` is false) the row is inserted on the store writer's thread
   (``ctx.write_later``) and the legs are submitted once it is committed (their own rows are then written on
   that thread before they leave), or not at all if that took longer than ``max_input_age_ms`` (refused:
   the prices no longer stand); every later change of the row goes there too, in order. A server that stops
   answering holds the execution, never the event loop.
2. **Send.** Both legs through ``ctx.submit`` (risk gate, then the host executor, which stores
   each order before it leaves and never sends a stored client id again) at once
   (``concurrent_legs = true``), or one after the other in ``leg_order``: the second leg is sent
   only for what the first filled (nothing if it filled nothing). A leg the risk gate (or a pause)
   refuses is not sent, and neither is the other: concurrent legs are submitted in one durable
   intent, and a cex leg already submitted when the dex leg is refused is taken back before its
   request is made. An execution with no leg sent is ``refused``, not ``done``: no
   :class:`~bot.domain.ExecutionResult`, and the opportunity is recorded as not acted on.
3. **Follow.** ``on_order_update``/``on_fill`` track each leg; a leg is final when its order is. What follows waits
   for the fills its order counted (a CEX answering "filled" before its private stream brings the trade and the
   fee it charged, :data:`FILLS_WAIT_MS` at most, then on the order's figures): it is decided once, on them.
4. **Hedge.** When every leg is final and the accounts' base changed (the residual: each fill's
   :attr:`~bot.domain.Fill.base_change` summed, so base bought minus sold, less the fees charged in the base, e.g.
   a swap's network fee on SOL/USDC or a CEX's buy fee in SOL), it is an exposure: a WARNING alert names it
   (quantity, venue, value at the CEX mid) and,
   with ``hedge = "ioc"``, an IOC limit order on the CEX closes it at most
   ``hedge_max_slippage_bps`` through the touch (sent on the next fresh book). ``hedge = "hold"``
   keeps it. A hedge, like a sequential execution's second leg, is sent in one durable intent with
   the row's update that names it. Neither is sent when the venue would refuse it (rounded down to the lot, under
   the CEX market's ``min_qty``, or worth less than its ``min_notional`` at the limit price): the residual is held,
   alerted (a residual under ``min_qty`` in the first alert, which says it is held). A hedge closes the residual
   together with the **pending residual** (:attr:`ArbExecutions.pending_residual`: what the done executions left
   unhedged, summed; read back from their rows at a restart), so residuals each too small to hedge (every SOL/USDC
   swap's network fee in SOL) are hedged by the execution that takes their sum to ``min_qty``; its row's residual
   counts that hedge, and the rows' residuals sum to what the account drifted by.
5. **Report.** Realized PnL from the fills: sells minus buys in quote, minus the CEX fee (quote),
   minus the DEX network fee (SOL, converted at the SOL price the opportunity was priced with; a fee in the base
   at its fill's price), and the base bought minus sold still held valued at the CEX mid (a fee in the base is
   counted once, at its fill's price, not again in that value). An execution settled before any CEX book came, as
   a restart settles them, is finished on the first fresh book; a leg whose fills are missing counts its order's
   average price and its fees (in quote as the ledger counts it, :attr:`~bot.domain.Order.fee`, and each in
   another asset, :attr:`~bot.domain.Order.other_fees`, as a fill's fee in that asset) and, in the residual, its
   filled quantity (its fees in the base are not known apart from the order).
   Predicted vs realized and each leg's latency
   (submit -> final) are stored, an :class:`~bot.domain.ExecutionResult` (with the decided ``size`` and the
   ``filled`` part of it, the larger of the base bought and sold, so a partial fill is judged against its prediction
   for what filled) is published on the bus
   and an INFO alert gives the figures.

**Late fills.** A fill of a leg whose execution already finished (its order had ended: a swap the executor gave
up on that was confirmed later) reopens it (:meth:`ArbExecutions._late_fill`; one finished before a restart is
read back from the store, :meth:`ArbExecutions._finished_before`): a WARNING alert, then the new
residual is hedged like any (``<id>-hedge2``, ``<id>-hedge3``...: the earlier hedges stay its legs, and a restart
finds them by those ids), and its row's realized PnL and residual are made again from every fill. Only what lands
beyond what the leg's order counted is late: a trade that comes after its order's answer already said "filled" (a
CEX's private stream lagging its REST answer) is the fill that answer counted; it is never hedged again, and once a
leg's fills are all there its figures are made again from them (with their fees) and the result corrected. The
:class:`~bot.domain.ExecutionResult` of its first finish is not published again; ``/status``'s total is corrected.
One that lands while its execution is still under way (:meth:`ArbExecutions._landed_after_end`, whether the fill or
the order's update comes first, or only the fill) is alerted too: a hedge not sent yet is sized on the residual as it
is when it goes (nothing is sent when the legs agree now), and a hedge in flight, decided on the residual before, is
followed to its end and what is left hedged under the next id. A hedge that ended with the residual on its own side
(more than it was decided on: it is reduce-only, its size rounded down) is one such case, also after a restart.

**Unknown outcomes.** A leg whose outcome the executor could not establish (``UNKNOWN``: a timeout,
a lost connection) is not final: its execution stays open, and no new one starts, until
reconciliation settles it. Nothing is hedged against a fill that may or may not have happened.
Hedges go through the risk gate like any order: a vetoed hedge leaves the residual held, alerted. A hedge is
``reduce_only``: while the strategy is paused by ``staleness`` for the pool's stale data it still goes to the CEX
when that venue's data is fresh (the check admits it, the host checks that it reduces the exposure).

**Restarts** (:meth:`ArbExecutions.recover`). Rows not ``done`` are loaded at start. A leg whose
order exists (``ctx.order(cid)``) is followed to its end, with its fills stored before the restart (its realized
PnL counts each fill and its fee, as the ledger does, also for a leg part filled when the bot stopped); it is never
submitted again. A leg with
no order was never sent (the executor stores an order before sending it): it is sent only while the
opportunity is younger than ``max_input_age_ms`` (its prices still stand); otherwise it is dropped
for good and the other leg's fill, if any, is hedged like any residual.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

from bot.api import (
    BPS,
    ZERO,
    AlertLevel,
    BookUpdate,
    ExecutionResult,
    Fill,
    MarketInfo,
    Order,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    Side,
    TimeInForce,
)
from bot.api.ledger import EXACT_DIGITS, money, predicted_for_filled, significant

from .records import (
    ArbExecutionRow,
    ExecutionRecord,
    FinishedExecution,
    StoredLegs,
    earlier_hedge_ids,
    executed,
    execution_changes,
    execution_of,
    execution_values,
    finished_execution,
    insert_execution,
    new_execution,
    open_executions,
    save_execution,
    stored_legs,
    unhedged_residual,
    update_execution,
)
from .settings import SOL, ArbSettings

if TYPE_CHECKING:
    from bot.api import Context
    from bot.api.storage import Store

    from .pricing import Evaluation

NS_PER_MS = 1_000_000
FILLS_WAIT_MS = 5_000
"""How long the residual's decision waits for the fills of a leg whose order ended with more filled than its fills
add up to (a CEX answering "filled" before its private stream brings the trade and the fee it charged): once they
are in, it is taken on them; past this, on the order's figures (a trade that comes after makes the figures again)."""
FINISHED_KEPT = 1000
"""Finished executions whose legs a late fill is still matched to."""
NO_LEG_SENT = "no leg was sent"
"""The note of an execution that is not one (:attr:`Execution.refused`)."""
REFUSED = f"{NO_LEG_SENT}: refused by the risk gate or a pause"
"""Why an opportunity decided on was not acted on after all (its row's reason): its legs were refused."""
_sha256 = hashlib.sha256


def opportunity_id(strategy: str, evaluation: Evaluation, book_ts_ns: int, pool_ts_ns: int, now_ns: int) -> str:
    """The idempotency key of a decision: a hash of what was decided and when (20 hex characters)."""
    e = evaluation
    # the text is "strategy|direction|size|cex limit|dex limit|net PnL|book ts|pool ts|now", each as str() writes
    # it (joined rather than f-string formatted: the same text, cheaper); stored ids and the legs' client ids are it
    text = "|".join((strategy, str(e.direction), str(e.size), str(e.cex_limit_price), str(e.dex_limit_price),
                     str(e.net_pnl), str(book_ts_ns), str(pool_ts_ns), str(now_ns)))
    return _sha256(text.encode()).hexdigest()[:20]


@dataclass
class Leg:
    """One order of an execution, as the strategy follows it."""

    name: str
    """``cex``, ``dex`` or ``hedge``."""
    exchange: str
    side: Side
    qty: Decimal
    price: Decimal
    cid: str
    submitted_ns: int = 0
    final_ns: int = 0
    status: str = ""
    """An :class:`OrderStatus` value, or ``refused`` (risk gate, pause), ``not sent`` (never will be)."""
    filled: Decimal = ZERO
    avg_price: Decimal | None = None
    fills: dict[str, Fill] = field(default_factory=dict)
    order: Order | None = None
    """Its order as last read (:meth:`ArbExecutions._adopt`: after a restart, what ``recover()`` read off the loop),
    whose fees count where its fills are missing, without reading the store again."""
    ended_here: bool = False
    """Its end came in this run, by its order's update: fills it counted may still be on their way (a restart's or a
    reconcile's legs are taken as the store holds them)."""

    @property
    def sent(self) -> bool:
        return self.submitted_ns > 0

    @property
    def final(self) -> bool:
        return self.final_ns > 0

    @property
    def traded(self) -> Decimal:
        """The base it bought (positive) or sold (negative): its filled quantity, signed."""
        return self.filled if self.side is Side.BUY else -self.filled

    @property
    def base_delta(self) -> Decimal:
        """What it did to its account's base asset: the sum of its fills' :attr:`~bot.domain.Fill.base_change` (a fee
        charged in the base asset included: a CEX's buy fee in SOL, a swap's network fee on SOL/USDC) once its fills
        are all here; until then (or without fills) :attr:`traded`, the order's figure, whose fees in the base are
        not known apart."""
        fills = self.fills
        if not fills:
            return self.traded
        with localcontext(prec=EXACT_DIGITS):
            if sum((f.qty for f in fills.values()), ZERO) != self.filled:
                return self.traded
            return sum((f.base_change for f in fills.values()), ZERO)

    @property
    def fills_missing(self) -> bool:
        """Its order counted more than its fills add up to: trades not come yet (or never to come)."""
        if self.filled <= 0:
            return False
        with localcontext(prec=EXACT_DIGITS):
            return sum((f.qty for f in self.fills.values()), ZERO) < self.filled

    @property
    def latency_ms(self) -> Decimal | None:
        if not self.sent or not self.final:
            return None
        return Decimal(self.final_ns - self.submitted_ns) / NS_PER_MS


_LEG_COLUMNS = {name: tuple(f"{name}_{column}" for column in ("submitted_ns", "final_ns", "status", "filled",
                                                                "avg_price", "qty")) for name in ("cex", "dex")}
"""The row's columns of the CEX and DEX legs' state (:meth:`Execution.sync_row` copies them)."""
CHANGING_COLUMNS = ("state", "note", "realized_pnl", "residual", "finished_ns", *_LEG_COLUMNS["cex"],
                    *_LEG_COLUMNS["dex"], "hedge_cid", "hedge_side", "hedge_qty", "hedge_price", "hedge_status",
                    "hedge_filled")
"""The columns of an execution row that change once it is inserted: the legs' state (:meth:`Execution.sync_row`)
and what this module sets on the row itself; the others hold the decision, written once."""
_UNHEDGED_COLUMNS = tuple(name for name in CHANGING_COLUMNS if not name.startswith("hedge_"))
"""What a save compares while the execution has no hedge (and its row names none): the hedge's columns change only
when :meth:`Execution.sync_row` copies a hedge into them."""


class Execution:
    """One execution in memory: its row (written through on every change) and its legs."""

    def __init__(self, row: ArbExecutionRow | ExecutionRecord, saved: dict[str, object] | None = None):
        self.row = row
        self.saved = execution_values(row) if saved is None else saved
        """The row's values as stored (it is made from a row just inserted, with the values inserted, or loaded): a
        save writes what differs."""
        self.cex = Leg("cex", row.cex_exchange, Side(row.cex_side), row.cex_qty, row.cex_price, row.cex_cid,
                       row.cex_submitted_ns, row.cex_final_ns, row.cex_status, row.cex_filled, row.cex_avg_price)
        self.dex = Leg("dex", row.dex_exchange, Side(row.dex_side), row.dex_qty, row.dex_price, row.dex_cid,
                       row.dex_submitted_ns, row.dex_final_ns, row.dex_status, row.dex_filled, row.dex_avg_price)
        self.hedge: Leg | None = None
        self.earlier_hedges: list[Leg] = []
        """Hedges sent before the current one: a fill that landed after the execution finished reopened it."""
        self.reported: Decimal | None = None
        """The realized PnL it last finished with (None: not finished in this run; the first is its ExecutionResult's,
        a late fill's finish corrects the row and this run's total)."""
        self.reported_predicted: Decimal | None = None
        """Its prediction for what it executed when it last finished in this run (``predicted_for_filled``: what
        this run's predicted total counts, corrected as the realized one when a late fill changes what executed)."""
        if row.hedge_cid:
            self.hedge = Leg("hedge", row.cex_exchange, Side(row.hedge_side), row.hedge_qty, row.hedge_price,
                             row.hedge_cid, status=row.hedge_status, filled=row.hedge_filled)
        self.hedge_wanted = False
        """A residual waits for a fresh CEX book to be hedged."""
        self.rehedge = False
        """A leg filled more after the hedge in flight was decided: what is left is hedged once that one ends."""
        self.finish_wanted = False
        """Over, but a residual is held and no CEX book has come yet to value it at its mid: finished on the next."""
        self.awaiting_fills = False
        """Its legs are over, but one's fills are not all in yet: the residual is decided once they are, or once
        :data:`FILLS_WAIT_MS` passed (:meth:`ArbExecutions._fills_awaited`)."""
        self.second_scheduled = False
        self.recovered = False
        """Loaded after a restart: a leg not yet sent goes only while the opportunity is fresh."""
        self.saves = 0
        """How many times its row was written (a leg's end is written once, with whatever it leads to)."""
        self.awaiting_row = False
        """Its row is on its way to the store (off the loop): no leg is submitted before it is committed."""
        self.in_pending: Decimal | None = None
        """The residual it adds to :attr:`ArbExecutions.pending_residual` (its row's, once done); None while it is
        not counted there (not done in this run, nor done when the pending residual was read back)."""
        self.on_started: Callable[[], None] | None = None
        """Called once its legs are submitted, or it is given up, after its row was stored off the loop (then
        :attr:`refused` and :attr:`why_not` tell which)."""
        self.why_not = ""
        """Why no leg was sent, when it is not the risk gate or a pause (:data:`REFUSED`)."""

    @property
    def id(self) -> str:
        return self.row.opportunity_id

    @property
    def refused(self) -> bool:
        """Whether no leg reached a venue (the risk gate or a pause refused them, or after a restart they were too old
        to send): not an execution."""
        return all(leg.status in ("refused", "not sent") for leg in self.legs())

    def legs(self) -> list[Leg]:
        hedge, earlier = self.hedge, self.earlier_hedges
        legs = [self.cex, self.dex] if hedge is None else [self.cex, self.dex, hedge]
        return legs if not earlier else [*legs[:2], *earlier, *legs[2:]]

    def leg_of(self, cid: str) -> Leg | None:
        hedge = self.hedge
        found = (self.cex if cid == self.cex.cid else self.dex if cid == self.dex.cid
                 else hedge if hedge is not None and cid == hedge.cid else None)
        if found is None and self.earlier_hedges:
            found = next((leg for leg in self.earlier_hedges if leg.cid == cid), None)
        return found

    def hedge_cid(self) -> str:
        """The client id of its current hedge, or of the one it sends next: ``<id>-hedge``, then ``<id>-hedge2``...
        (the hedges before it, :attr:`earlier_hedges`, took the lower numbers)."""
        n = len(self.earlier_hedges) + 1
        return f"{self.id}-hedge" if n == 1 else f"{self.id}-hedge{n}"

    @property
    def sequential(self) -> bool:
        return self.row.legs != "concurrent"

    def first_second(self) -> tuple[Leg, Leg]:
        """The legs in the order they go (sequential executions)."""
        return (self.cex, self.dex) if self.row.legs == "cex-first" else (self.dex, self.cex)

    def sync_row(self) -> None:
        """Copy the legs' state into the row (before it is written): the columns of :data:`_LEG_COLUMNS` and the
        hedge's."""
        r, cex, dex = self.row, self.cex, self.dex
        r.cex_submitted_ns, r.cex_final_ns, r.cex_status = cex.submitted_ns, cex.final_ns, cex.status
        r.cex_filled, r.cex_avg_price, r.cex_qty = cex.filled, cex.avg_price, cex.qty
        r.dex_submitted_ns, r.dex_final_ns, r.dex_status = dex.submitted_ns, dex.final_ns, dex.status
        r.dex_filled, r.dex_avg_price, r.dex_qty = dex.filled, dex.avg_price, dex.qty
        hedge = self.hedge
        if hedge is not None:
            r.hedge_cid, r.hedge_side, r.hedge_qty = hedge.cid, hedge.side.value, hedge.qty
            r.hedge_price = hedge.price
            r.hedge_status, r.hedge_filled = hedge.status, hedge.filled

    def residual(self) -> Decimal:
        """What the accounts' base changed by over every leg so far (long positive): base bought minus base sold, less
        the fees charged in the base (:attr:`Leg.base_delta`), the position a hedge closes."""
        with localcontext(prec=EXACT_DIGITS):
            return sum((leg.base_delta for leg in self.legs()), ZERO)

    def executed(self) -> Decimal:
        """How much of its size was executed: the larger of the base bought and the base sold over every leg (the
        realized PnL counts a residual at the CEX mid, as if sold there), what its prediction is scaled to."""
        return executed((leg.side.value, leg.filled) for leg in self.legs())


class ArbExecutions:
    """The executions of one arb strategy: at most one at a time, each followed to its end."""

    def __init__(self, strategy: str, settings: ArbSettings, ctx: Context, market: MarketInfo,
                 latest_book: Callable[[], BookUpdate | None], on_done: Callable[[Execution], None]):
        self.strategy = strategy
        self.settings = settings
        self.ctx = ctx
        self.market = market
        self.base, self.quote = market.base, market.quote
        self._latest_book = latest_book
        self._on_done = on_done
        self.current: dict[str, Execution] = {}
        """Executions not done, by opportunity id (one in normal running; recovery may load more)."""
        self._by_cid: dict[str, Execution] = {}
        self._finished: OrderedDict[str, Execution] = OrderedDict()
        """The legs' client ids of the latest finished executions (about :data:`FINISHED_KEPT`): a fill that lands
        after its execution finished (a swap confirmed after the executor gave it up) reopens it."""
        self._prefetched: FinishedExecution | StoredLegs | None = None
        """While a late fill's execution read off the loop is rebuilt, or legs are reconciled: what was read (the late
        leg's order as the executor held it when the fill came). An order the executor holds is newer: it wins."""
        self.pending_residual = ZERO
        """The base the done executions left unhedged, summed (long positive): every done row's residual (read back
        at a restart, :func:`~plugins.arb.records.unhedged_residual`; moved by each finish). The one owner of the
        figure: an execution's hedge closes its own residual and this together (:meth:`_exposure`), so what is too
        small to hedge alone is hedged once the sum reaches the CEX's ``min_qty``; ``/status`` shows it."""
        self.done_count = 0
        self.refused_count = 0
        self.realized_total = ZERO
        self.predicted_total = ZERO

    # --- starting one -------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return bool(self.current)

    @property
    def awaiting_row(self) -> bool:
        """An execution's row is on its way to the store off the loop: its legs are not submitted yet."""
        # asked before every published opportunity's report: with no execution under way (most), no generator
        return bool(self.current) and any(ex.awaiting_row for ex in self.current.values())

    def execute(self, oid: str, evaluation: Evaluation, sol_price: Decimal, now_ns: int) -> Execution | None:
        """Persist the execution, then submit its legs; None if this opportunity already has a row. One whose
        legs were all refused (:attr:`Execution.refused`) is over when this returns."""
        e, s = evaluation, self.settings
        if e.cex_limit_price is None or e.dex_limit_price is None:
            raise ValueError(f"opportunity {oid}: an untradable evaluation (no leg prices) cannot be executed")
        legs = "concurrent" if s.concurrent_legs else s.leg_order
        # the legs about to be sent carry their submission time in the row as inserted: unless one is refused,
        # the row needs no second write before they leave
        row = new_execution(
            opportunity_id=oid, strategy=self.strategy, state="open", symbol=s.symbol, direction=str(e.direction),
            created_ns=now_ns, size=e.size, legs=legs, predicted_pnl=e.net_pnl, sol_price=sol_price,
            cex_exchange=s.cex, cex_side=e.cex_side.value, cex_qty=e.size, cex_price=e.cex_limit_price,
            cex_cid=f"{oid}-cex", cex_submitted_ns=now_ns if legs != "dex-first" else 0,
            dex_exchange=s.dex, dex_side=e.dex_side.value, dex_qty=e.size, dex_price=e.dex_limit_price,
            dex_cid=f"{oid}-dex", dex_submitted_ns=now_ns if legs != "cex-first" else 0,
        )
        values = dict(vars(row))  # every column as inserted (a new record's attributes are its columns)
        if not self.ctx.store.records_inline:
            if oid in self.current or f"{oid}-cex" in self._finished:  # its row's insert would find it: known here
                self.ctx.log.error("opportunity %s already has an execution; not executing it again", oid)
                return None
            return self._execute_off_loop(Execution(row, values), now_ns)
        ex = None
        try:
            # one durable intent: the row and the rows of the legs sent now commit together, before they leave
            with self.ctx.intent():
                if not insert_execution(self.ctx.store, row, values):
                    self.ctx.log.error("opportunity %s already has an execution; not executing it again", oid)
                    return None
                ex = self._track(Execution(row, values))
                self._send_first(ex, now_ns)
        except Exception:
            if ex is not None:  # nothing of it was stored, and its legs were dropped unsent
                self._untrack(ex)
            raise
        self._advance(ex)
        return ex

    def _send_first(self, ex: Execution, now_ns: int) -> None:
        """Submit what goes first (both legs, or the first of a sequential execution) once its row is written."""
        if ex.sequential:
            self._send(ex, ex.first_second()[0], now_ns)
        else:
            self._send(ex, ex.cex, now_ns)
            if ex.cex.status == "refused":  # nothing left: do not make it one-legged
                self._drop(ex, ex.dex, "not sent: the cex leg was refused")
            else:
                self._send(ex, ex.dex, now_ns)
                if ex.dex.status == "refused":  # the cex leg alone would be one-legged: take it back
                    self._withdraw(ex, ex.cex, "not sent: the dex leg was refused")
        if ex.cex.final or ex.dex.final:  # a leg refused or dropped: otherwise the row is as inserted
            self._save(ex)

    def _execute_off_loop(self, ex: Execution, now_ns: int) -> Execution:
        """On a store whose commits are round trips (PostgreSQL): the row is inserted on the store writer's thread,
        and the legs are submitted once it is committed (each leg's own row is then written on that thread before
        the leg leaves, as every order's is): a server that stops answering delays the execution, never the loop.
        The execution is in progress meanwhile (no other starts); :attr:`Execution.on_started` is called when its
        legs are submitted or it is given up. Inline on simulated time."""
        self._track(ex)
        ex.awaiting_row = True
        stored = self.ctx.write_later(insert_execution, self.ctx.store, ex.row, dict(ex.saved))
        if stored.done():
            self._row_stored(ex, now_ns, stored)
        else:
            stored.add_done_callback(lambda done: self._row_stored(ex, now_ns, done))
        return ex

    def _row_stored(self, ex: Execution, decided_ns: int, done: asyncio.Future[bool]) -> None:
        """The insert of an execution's row (:meth:`_execute_off_loop`) is over: send its legs, or give it up."""
        ex.awaiting_row = False
        try:
            exc = done.exception() if not done.cancelled() else asyncio.CancelledError()
            if exc is not None or not done.result():
                self._untrack(ex)
                for leg in (ex.cex, ex.dex):
                    leg.submitted_ns, leg.status = 0, "not sent"
                if exc is None:
                    ex.why_not = "already executed"
                    self.ctx.log.error("opportunity %s already has an execution; not executing it again", ex.id)
                else:
                    ex.why_not = f"{NO_LEG_SENT}: its row could not be stored"
                    self.ctx.log.error("arbitrage %s not executed: its row could not be stored (%s: %s); no leg sent",
                                       ex.id, type(exc).__name__, exc)
                    self.ctx.alert(AlertLevel.ERROR, "arb", f"arbitrage {ex.id} not executed: its row could not be "
                                   f"stored ({type(exc).__name__}); no leg was sent", opportunity=ex.id)
                    self._on_done(ex)
                return
            waited_ms = (self.ctx.clock.time_ns() - decided_ns) // NS_PER_MS
            if waited_ms > self.settings.max_input_age_ms:  # the prices it was decided on no longer stand
                why = (f"not sent: its row was stored {waited_ms} ms after the decision, past max_input_age_ms "
                       f"({self.settings.max_input_age_ms})")
                ex.why_not = f"{NO_LEG_SENT}: its row was stored too late"
                for leg in (ex.cex, ex.dex):
                    leg.submitted_ns = 0
                    self._drop(ex, leg, why)
            else:
                # decided_ns, as the row says: each leg's latency runs from the decision
                with self.ctx.intent():
                    self._send_first(ex, decided_ns)
            self._advance(ex)
        finally:
            if ex.on_started is not None:
                ex.on_started()

    def _withdraw(self, ex: Execution, leg: Leg, why: str) -> None:
        """Take back a leg submitted in this durable intent, before it leaves (the executor drops an order whose
        request is not made yet: it never reaches the venue). If it has left after all, it is followed as any leg."""
        self._by_cid.pop(leg.cid, None)  # its cancellation is this, not a leg's end to act on
        self.ctx.cancel(leg.cid)
        order = self.ctx.order(leg.cid)
        if order is not None and order.status is OrderStatus.CANCELLED and not order.filled_qty:
            self._drop(ex, leg, why)
        else:
            self._by_cid[leg.cid] = ex

    def _track(self, ex: Execution) -> Execution:
        self.current[ex.id] = ex
        for leg in ex.legs():
            self._by_cid[leg.cid] = ex
        return ex

    def _untrack(self, ex: Execution) -> None:
        self.current.pop(ex.id, None)
        for leg in ex.legs():
            self._by_cid.pop(leg.cid, None)

    def _send(self, ex: Execution, leg: Leg, now_ns: int) -> None:
        # a hedge only closes the residual: reduce-only, so a pause for the other venue's stale data lets it go
        intent = OrderIntent(strategy=self.strategy, exchange=leg.exchange, symbol=self.settings.symbol,
                             side=leg.side, qty=leg.qty, price=leg.price, tif=TimeInForce.IOC,
                             client_order_id=leg.cid, reduce_only=leg.name == "hedge")
        leg.submitted_ns = now_ns
        if self.ctx.submit(intent) is None:  # paused, or a risk check said no (stored and alerted by the host)
            leg.final_ns, leg.status = now_ns, "refused"
        self._by_cid[leg.cid] = ex

    # --- following the legs -------------------------------------------------------------------

    def on_order_update(self, update: OrderUpdate) -> None:
        ex = self._by_cid.get(update.client_order_id)
        if ex is None:
            return
        leg = ex.leg_of(update.client_order_id)
        if leg is None:  # _by_cid maps only the legs' own ids
            return
        if leg.final and update.filled_qty < leg.filled:  # what landed after its end counts (its fills came first)
            return
        grew = leg.final and update.filled_qty > leg.filled
        leg.status = update.status.value
        if grew:
            leg.avg_price = update.avg_fill_price
            self._landed_after_end(ex, leg, update.filled_qty)
            return
        leg.filled, leg.avg_price = update.filled_qty, update.avg_fill_price
        if update.status.terminal and not leg.final:
            leg.final_ns = self.ctx.clock.time_ns()
            leg.ended_here = True
            saves = ex.saves
            self._advance(ex)  # what the leg's end leads to (the next leg, a hedge, the finish) writes the row
            if ex.saves == saves:  # nothing followed yet: the leg's end is written on its own (its columns only:
                self._save(ex, _LEG_COLUMNS.get(leg.name))  # what else changed was written when it changed)

    def on_fill(self, fill: Fill) -> None:
        ex = self._by_cid.get(fill.client_order_id)
        if ex is None:
            late = self._finished.get(fill.client_order_id)
            if late is None and not self.ctx.store.records_inline:
                self._look_up_off_loop(fill)
                return
            late = late or self._finished_before(fill)
            if late is not None:
                self._late_fill(late, fill)
            return
        leg = ex.leg_of(fill.client_order_id)
        if leg is not None:
            leg.fills[fill.trade_id] = fill
            if leg.final:  # its order had ended: more than it said may have landed (the update may never come)
                landed = sum((f.qty for f in leg.fills.values()), ZERO)
                if landed > leg.filled:
                    self._landed_after_end(ex, leg, landed)
                elif ex.awaiting_fills:  # a trade its order counted: the decision waited for it
                    self._advance(ex)

    def _landed_after_end(self, ex: Execution, leg: Leg, filled: Decimal) -> None:
        """A leg of an execution still under way filled ``filled`` in all, more than when its order ended (a swap
        given up on that landed): the exposure is not what a hedge in flight was decided on. That hedge is followed
        to its end, then what is left hedged (:meth:`_advance`); a hedge not sent yet is decided on the residual
        as it is when it goes; one already over (the residual waits for a book) is decided again now."""
        added, leg.filled = filled - leg.filled, filled
        what = f"{leg.name} leg {leg.side.value} {added} {self.base} on {leg.exchange} landed after its order ended"
        ex.row.note = (ex.row.note + "; " if ex.row.note else "") + what
        hedge = ex.hedge
        in_flight = hedge is not None and hedge is not leg and hedge.sent and not hedge.final
        self.ctx.alert(AlertLevel.WARNING, "arb", f"arbitrage {ex.id}: the {what}; {ex.residual()} {self.base} left"
                       + (", hedged once the hedge in flight ends" if in_flight else ""), opportunity=ex.id,
                       qty=f"{added} {self.base}", venue=leg.exchange)
        if in_flight:
            ex.rehedge = True
            self._save(ex)
        elif not ex.hedge_wanted and all(other.final for other in ex.legs()):
            ex.finish_wanted = False
            self._expose_again(ex)
        else:  # the other leg is still open, or the hedge waits for a book: each looks at the residual as it is
            self._save(ex)

    def _look_up_off_loop(self, fill: Fill) -> None:
        """:meth:`_finished_before` where a read is a round trip (PostgreSQL): the execution, its legs' orders and
        fills are read on the store writer's thread, and the late fill is matched once they are back."""
        oid, sep, _ = fill.client_order_id.rpartition("-")
        if not sep:
            return
        own = self.ctx.order(fill.client_order_id)  # the executor holds it now, having just applied this fill
        read = self.ctx.read_later(finished_execution, self.ctx.store, self.strategy, oid)
        if read.done():
            self._looked_up(fill, own, read)
        else:
            read.add_done_callback(lambda done: self._looked_up(fill, own, done))

    def _looked_up(self, fill: Fill, own: Order | None, done: asyncio.Future[FinishedExecution | None]) -> None:
        exc = done.exception() if not done.cancelled() else asyncio.CancelledError()
        if exc is not None:
            self.ctx.log.error("fill %s of %s: its execution could not be read back (%s: %s); not matched to one",
                               fill.trade_id, fill.client_order_id, type(exc).__name__, exc)
            return
        stored = done.result()
        if stored is None:
            return
        if fill.client_order_id in self._by_cid or fill.client_order_id in self._finished:  # reopened meanwhile
            self.on_fill(fill)
            return
        stored.orders[fill.client_order_id] = own  # the order as the fill left it (read before, its row may lag)
        self._prefetched = stored
        try:
            late = self._reopened(stored.row, fill)
        finally:
            self._prefetched = None
        if late is not None:
            self._late_fill(late, fill)

    def _order(self, cid: str) -> Order | None:
        """``ctx.order(cid)``: the order the executor holds, else the one read off the loop (:meth:`_looked_up`,
        :meth:`reconcile`), else the store's."""
        held = self.ctx.held_order(cid)
        if held is not None:
            return held
        prefetched = self._prefetched
        if prefetched is not None and cid in prefetched.orders:
            return prefetched.orders[cid]
        return self.ctx.order(cid)

    def _stored_fills(self, cid: str) -> list[Fill]:
        """``ctx.stored_fills`` of one order, or those read with a finished execution (:meth:`_looked_up`)."""
        prefetched = self._prefetched
        if prefetched is not None and cid in prefetched.fills:
            return prefetched.fills[cid]
        return self.ctx.stored_fills(client_order_id=cid)

    def _finished_before(self, fill: Fill) -> Execution | None:
        """The finished execution a fill of none of this run's is for, read back from the store (one finished before
        a restart, or too long ago to be remembered), with its legs' fills as stored but this one; None when the fill
        is not of one of its legs (another strategy's order, or an execution not finished)."""
        oid, sep, _ = fill.client_order_id.rpartition("-")
        if not sep:
            return None
        row = execution_of(self.ctx.store, self.strategy, oid)
        if row is None or row.state != "done":
            return None
        return self._reopened(row, fill)

    def _reopened(self, row: ArbExecutionRow, fill: Fill) -> Execution | None:
        """The finished execution of ``row``, its legs as their orders and fills say, but ``fill``; None when the fill
        is not of one of its legs."""
        ex = Execution(row)
        ex.reported = row.realized_pnl  # its ExecutionResult was published when it finished
        ex.in_pending = row.residual  # done as stored: in the pending residual read back at the start
        self._earlier_hedges(ex)
        for leg in ex.legs():
            order = self._order(leg.cid)
            if order is not None:
                leg.submitted_ns = leg.submitted_ns or row.created_ns
                self._adopt(ex, leg)
        filled = ex.leg_of(fill.client_order_id)
        if filled is None:
            return None
        if filled.fills.pop(fill.trade_id, None) is not None:  # stored already: it is what _late_fill adds
            order = self._order(filled.cid)
            filled.filled = max(order.filled_qty if order is not None else ZERO,
                                sum((f.qty for f in filled.fills.values()), ZERO))
        # its prediction for what it executed before this fill, as its result published it: the finish corrects
        # this run's predicted total by what that changes, as the realized total by what the realized PnL does
        ex.reported_predicted, _ = predicted_for_filled(ExecutionResult(
            strategy=self.strategy, predicted_pnl=row.predicted_pnl, realized_pnl=row.realized_pnl or ZERO,
            quote=self.quote, ts_ns=row.finished_ns, opportunity_id=ex.id, size=row.size, filled=ex.executed()))
        return ex

    def _late_fill(self, ex: Execution, fill: Fill) -> None:
        """A fill of a leg whose execution finished (its order had ended, e.g. given up on by the executor, before
        the swap landed): the execution is open again, its exposure alerted and hedged like any residual, and its
        figures made again from every fill when it finishes."""
        leg = ex.leg_of(fill.client_order_id)
        if leg is None or fill.trade_id in leg.fills:
            return
        leg.fills[fill.trade_id] = fill
        landed = sum((f.qty for f in leg.fills.values()), ZERO)
        if landed <= leg.filled:
            # a fill its order counted already (the venue answered "filled" before the trade came on its stream):
            # not late, nothing more to hedge. Once its fills are all there its figures are made again from them (each
            # with its fee, where the finish had the order's average and the fee known then), the result corrected
            if landed == leg.filled:
                self._finish(ex, told=True)
            return
        added, leg.filled = landed - leg.filled, landed
        for other in ex.legs():
            self._finished.pop(other.cid, None)
        what = f"{leg.name} leg {fill.side.value} {added} {self.base} on {leg.exchange} landed late"
        ex.row.note = (ex.row.note + "; " if ex.row.note else "") + f"{what}, after the execution finished"
        ex.row.state = "open"
        self._track(ex)
        self.ctx.alert(AlertLevel.WARNING, "arb", f"arbitrage {ex.id}: the {what} ({leg.status} before), after the "
                       f"execution finished; it is open again, {ex.residual()} {self.base} left", opportunity=ex.id,
                       qty=f"{added} {self.base}", venue=leg.exchange)
        self._expose_again(ex)

    def _expose_again(self, ex: Execution) -> None:
        """Every leg is over but a fill landed after its hedge was decided (or after it finished): finish it if the
        legs agree now, else hedge (or hold) what is left, under the next hedge id."""
        residual = ex.residual()
        if residual == ZERO or self._exposed(ex) == ZERO:
            self._finish(ex)
            return
        if ex.hedge is not None:  # done with: the next hedge takes the next id
            ex.earlier_hedges.append(ex.hedge)
            ex.hedge = None
        if self.settings.hedge == "ioc":
            # the row names the hedge to come, not yet sent: a restart before it goes decides it again under that id
            # (and finds the earlier ones by theirs), rather than take the last one's end for this hedge's
            r = ex.row
            r.hedge_cid, r.hedge_side = ex.hedge_cid(), (Side.SELL if residual > 0 else Side.BUY).value
            r.hedge_qty, r.hedge_price, r.hedge_status, r.hedge_filled = ZERO, ZERO, "", ZERO
        self._exposure(ex, residual)

    def on_book(self, book: BookUpdate) -> None:
        """A fresh CEX book: send the hedges waiting for one, finish the executions whose residual waits for a mid."""
        for ex in list(self.current.values()):
            if ex.hedge_wanted:
                self._send_hedge(ex, book)
            elif ex.finish_wanted:
                self._finish(ex)
            elif ex.awaiting_fills:  # decided on the orders' figures once the wait is over
                self._advance(ex)

    async def reconcile(self) -> None:
        """Catch missed updates: settle legs against the executor's records. Where a read is a round trip
        (PostgreSQL) the legs' stored orders and fills are read first on the store writer's thread, in one call: a
        server that stops answering delays the reconcile, not the loop."""
        open_legs = [leg.cid for ex in self.current.values() for leg in ex.legs() if leg.sent and not leg.final]
        if open_legs and not self.ctx.store.records_inline:
            self._prefetched = await self.ctx.read_later(stored_legs, self.ctx.store, self.strategy, open_legs)
        try:
            for ex in list(self.current.values()):
                for leg in ex.legs():
                    if leg.sent and not leg.final and (self._prefetched is None or leg.cid in self._prefetched.orders):
                        self._adopt(ex, leg)
                if ex.id in self.current:
                    self._advance(ex)
        finally:
            self._prefetched = None

    def _adopt(self, ex: Execution, leg: Leg) -> None:
        order = self._order(leg.cid)
        if order is None:
            return
        leg.order = order
        leg.status, leg.filled, leg.avg_price = order.status.value, order.filled_qty, order.avg_fill_price
        # its fills as stored, also for a leg whose end was stored before a restart, or that is still open (its fills
        # before the restart come no more; those after it do): realized from them is exact, each with its own fee;
        # from the order's average price (a rounded quotient, or the venue's own rounding) and the fee it had when
        # read here it is not
        for fill in self._stored_fills(leg.cid):
            leg.fills.setdefault(fill.trade_id, fill)
        if order.status.terminal:
            landed = sum((f.qty for f in leg.fills.values()), ZERO)
            if landed > leg.filled:  # a fill that landed after its order ended (the order does not count it)
                leg.filled = landed
            if not leg.final:
                leg.final_ns = self.ctx.clock.time_ns()
                self._save(ex)

    # --- the state machine --------------------------------------------------------------------

    def _advance(self, ex: Execution) -> None:
        if ex.id not in self.current or ex.finish_wanted:
            return
        if ex.sequential:
            first, second = ex.first_second()
            if first.final and not second.sent and not second.final:
                self._second_leg(ex, first, second)
                return
        if not (ex.cex.final and ex.dex.final) or self._fills_awaited(ex):
            return
        if ex.hedge is None:
            residual = ex.residual()
            if residual == ZERO:
                self._finish(ex)
            elif not ex.hedge_wanted:
                self._exposure(ex, residual)
            return
        if ex.hedge.final:
            hedge, residual = ex.hedge, self._exposed(ex)
            # a hedge never goes past what it was decided on (reduce-only, its size rounded down): one left on the
            # hedge's own side means a leg filled more after it was decided (ex.rehedge: seen in this run)
            if residual and (ex.rehedge or (hedge.filled and (residual > 0) == (hedge.side is Side.BUY))):
                ex.rehedge = False
                self._expose_again(ex)
                return
            ex.rehedge = False
            self._finish(ex)

    def _fills_awaited(self, ex: Execution) -> bool:
        """Whether what the legs left waits for fills: a leg that ended in this run (:attr:`Leg.ended_here`) with
        more filled than its fills add up to, for at most :data:`FILLS_WAIT_MS` since it ended. The hold-or-hedge
        decision, and the figures, are then taken once, on the trades as they came (a fee charged in the base asset
        is in them, not in the order's answer)."""
        now = self.ctx.clock.time_ns()
        ex.awaiting_fills = any(leg.ended_here and leg.fills_missing and now - leg.final_ns < FILLS_WAIT_MS * NS_PER_MS
                                for leg in ex.legs())
        return ex.awaiting_fills

    def _too_old(self, ex: Execution) -> bool:
        """After a restart, a leg not yet sent goes only while its opportunity is fresh."""
        age_ns = self.ctx.clock.time_ns() - ex.row.created_ns
        return ex.recovered and age_ns > self.settings.max_input_age_ms * NS_PER_MS

    def _second_leg(self, ex: Execution, first: Leg, second: Leg) -> None:
        if ex.second_scheduled:
            return
        if first.filled <= 0:
            self._drop(ex, second, f"not sent: the {first.name} leg filled nothing ({first.status})")
            self._advance(ex)
            return
        if self._too_old(ex):
            self._drop(ex, second, "never sent before the restart; the opportunity is too old to send it now")
            self._advance(ex)
            return
        qty = self.market.round_qty(first.filled) if second.name == "cex" else first.filled
        if qty <= 0 or (second.name == "cex" and (qty < self.market.min_qty
                                                   or qty * second.price < self.market.min_notional)):
            # (the venue refuses an order under min_qty, or worth less than min_notional at its limit price)
            self._drop(ex, second, f"not sent: {first.filled} {self.base} is below the CEX minimum")
            self._advance(ex)
            return
        second.qty = qty
        if self.settings.leg_gap_ms:
            ex.second_scheduled = True
            self.ctx.create_task(self._second_after_gap(ex, second), f"second leg of {ex.id}")
            return
        self._send_and_save(ex, second)
        self._advance(ex)

    def _send_and_save(self, ex: Execution, leg: Leg) -> None:
        """Send a leg and write it in the row, in one durable intent (a crash leaves both or neither)."""
        with self.ctx.intent():
            self._send(ex, leg, self.ctx.clock.time_ns())
            self._save(ex)

    async def _second_after_gap(self, ex: Execution, second: Leg) -> None:
        await asyncio.sleep(self.settings.leg_gap_ms / 1000)
        if ex.id not in self.current or second.sent or second.final:
            return
        self._send_and_save(ex, second)
        self._advance(ex)

    def _drop(self, ex: Execution, leg: Leg, why: str) -> None:
        leg.final_ns = self.ctx.clock.time_ns()
        leg.status = "not sent"
        ex.row.note = (ex.row.note + "; " if ex.row.note else "") + f"{leg.name} leg {why}"
        self._save(ex)

    def _pending_without(self, ex: Execution) -> Decimal:
        """What the other done executions left unhedged: :attr:`pending_residual` less ``ex``'s own part of it."""
        in_pending = ex.in_pending
        if in_pending is None:
            return self.pending_residual
        with localcontext(prec=EXACT_DIGITS):
            return self.pending_residual - in_pending

    def _exposed(self, ex: Execution) -> Decimal:
        """What a hedge of ``ex`` closes: its residual and what the executions before it left unhedged, together."""
        with localcontext(prec=EXACT_DIGITS):
            return ex.residual() + self._pending_without(ex)

    def _mid(self) -> Decimal | None:
        book = self._latest_book()
        return book.mid if book is not None else None

    def _exposure(self, ex: Execution, residual: Decimal) -> None:
        """Every leg is final and they disagree: hedge the residual, together with what the executions before it left
        unhedged (:attr:`pending_residual`), or hold it there. Held while the sum is under the CEX minimum, or with
        ``hedge = "hold"``. Legs that bought and sold the same base whose residual is only fees charged in the base,
        under the CEX minimum alone (every SOL/USDC swap pays its network fee in SOL): noted on the row and logged,
        not alerted, whether it is held or hedged with the pending residual; any other residual is alerted."""
        s, base = self.settings, self.base
        pending = self._pending_without(ex)
        with localcontext(prec=EXACT_DIGITS):
            exposure = residual + pending
            traded = sum((leg.traded for leg in ex.legs()), ZERO)
        below = self._below_min_qty(exposure)
        hedging = s.hedge == "ioc" and not below
        with_pending = (f"; with the {pending} {base} pending from the executions before, {exposure} {base}"
                        if pending else "")
        if not traded and self._below_min_qty(residual):
            # the legs bought and sold the same base: what is left is fees charged in the base (a swap's network fee
            # on SOL/USDC, every execution), too small to hedge alone: noted and logged, not alerted each time
            fees = f"fees in {base} "
            if hedging:
                fees += f"{residual} {base}{with_pending}: hedged"
            else:
                fees += f"held: {self._below_min_qty(residual)}" + (f" ({exposure} {base} pending)" if pending else "")
            ex.row.note = (ex.row.note + "; " if ex.row.note else "") + fees
            self.ctx.log.info("arbitrage %s: %s", ex.id, fees)
            if not hedging:
                self._finish(ex)
                return
        else:
            # the excess sits where more was filled: the venue that bought more (long) or sold more (short)
            venue = max((ex.cex, ex.dex), key=lambda leg: leg.filled).exchange
            mid = self._mid()
            value = f"{(abs(residual) * mid).quantize(Decimal('0.01'))} {self.quote}" if mid is not None else "unknown"
            long_short = "long" if residual > 0 else "short"
            action = ("hedging it with an IOC limit order on " + s.cex if hedging
                      else f"holding it ({below})" if below else "holding it (hedge = hold)")
            legs = (f"{ex.cex.side.value} {ex.cex.filled} on {ex.cex.exchange} ({ex.cex.status}), "
                    f"{ex.dex.side.value} {ex.dex.filled} on {ex.dex.exchange} ({ex.dex.status})")
            self.ctx.alert(AlertLevel.WARNING, "arb", f"arbitrage {ex.id} left {long_short} {abs(residual)} {base} "
                           f"on {venue} ({legs}){with_pending}; {action}", opportunity=ex.id,
                           qty=f"{residual} {base}", venue=venue, value_at_mid=value,
                           cex_leg=f"{ex.cex.status} {ex.cex.filled}", dex_leg=f"{ex.dex.status} {ex.dex.filled}",
                           **({"pending": f"{pending} {base}"} if pending else {}))
            if not hedging:  # (a residual the venue would refuse to hedge: no hedge waits for a book)
                held = f"residual held: {below}" if below else "residual held (hedge = hold)"
                ex.row.note = (ex.row.note + "; " if ex.row.note else "") + held + (
                    f" ({exposure} {base} pending)" if pending else "")
                self._finish(ex)
                return
        ex.hedge_wanted = True
        ex.row.state = "hedging"
        self._save(ex)
        book = self._latest_book()
        if book is not None and self._fresh(book):
            self._send_hedge(ex, book)

    def _below_min_qty(self, residual: Decimal) -> str:
        """Why no hedge of ``residual`` can go, whatever the price (rounded down to the lot, never past the residual:
        nothing, or under the CEX market's ``min_qty``), else ''."""
        qty = self.market.round_qty(abs(residual))
        if qty <= 0 or qty < self.market.min_qty:
            return f"{abs(residual)} {self.base} is below the CEX minimum ({self.market.min_qty} {self.base})"
        return ""

    def _fees_alone(self, ex: Execution) -> str:
        """Why what ``ex``'s legs before its current hedge left cannot be hedged alone, when it is fees charged in the
        base (they bought and sold the same base); else ''. Such a residual's hedge, with the pending residual, is
        logged, not alerted."""
        legs = [leg for leg in ex.legs() if leg is not ex.hedge]
        with localcontext(prec=EXACT_DIGITS):
            if sum((leg.traded for leg in legs), ZERO):
                return ""
            return self._below_min_qty(sum((leg.base_delta for leg in legs), ZERO))

    def _fresh(self, book: BookUpdate) -> bool:
        return self.ctx.clock.time_ns() - book.ts_ns <= self.settings.max_input_age_ms * NS_PER_MS

    def _send_hedge(self, ex: Execution, book: BookUpdate) -> None:
        """Send the hedge of what ``ex`` and the executions before it left (:meth:`_exposed`), as it is now."""
        ex.hedge_wanted = False
        residual = self._exposed(ex)
        if residual == ZERO or ex.residual() == ZERO:  # a leg's fill that landed meanwhile closed it: nothing to hedge
            self._finish(ex)
            return
        side = Side.SELL if residual > 0 else Side.BUY
        touch = book.best_bid if side is Side.SELL else book.best_ask
        qty = self.market.round_qty(abs(residual))
        price = None
        if touch is not None:
            shift = touch * self.settings.hedge_max_slippage_bps / BPS
            price = self.market.round_price(touch - shift if side is Side.SELL else touch + shift, side)
        # what the venue would refuse is not sent: off the lot grid to nothing, under min_qty, or worth less than
        # min_notional at its limit price (the value the venue checks)
        if price is None or qty <= 0 or qty < self.market.min_qty or qty * price < self.market.min_notional:
            why = ("no CEX touch to price it" if price is None
                   else self._below_min_qty(residual) if qty < self.market.min_qty or qty <= 0
                   else f"{qty} {self.base} at {price} is below the CEX minimum order value "
                        f"{self.market.min_notional} {self.quote}")
            ex.row.note = (ex.row.note + "; " if ex.row.note else "") + f"residual held: {why}"
            self.ctx.alert(AlertLevel.WARNING, "arb",
                           f"arbitrage {ex.id}: cannot hedge {residual} {self.base} ({why}); "
                           "holding it", opportunity=ex.id, qty=f"{residual} {self.base}")
            self._finish(ex)
            return
        ex.hedge = Leg("hedge", self.settings.cex, side, qty, price, ex.hedge_cid())
        self._by_cid[ex.hedge.cid] = ex
        self._send_and_save(ex, ex.hedge)
        if ex.hedge.final:  # refused by the risk gate
            self.ctx.alert(AlertLevel.WARNING, "arb", f"arbitrage {ex.id}: the hedge of {residual} {self.base} was "
                           "refused; holding it", opportunity=ex.id, qty=f"{residual} {self.base}")
            self._advance(ex)

    # --- the end ------------------------------------------------------------------------------

    def realized(self, ex: Execution) -> tuple[Decimal, Decimal]:
        """(realized PnL in quote, residual base still held) from the legs' fills, exact as the ledger's sums."""
        with localcontext(prec=EXACT_DIGITS):
            return self._realized(ex)

    def _realized(self, ex: Execution) -> tuple[Decimal, Decimal]:
        # the residual held is valued at the mid as traded (bought minus sold): a fee charged in the base is in the
        # cash already, at its fill's price as the ledger counts it, and is not counted again in the residual's value
        cash, traded, residual = ZERO, ZERO, ZERO
        for leg in ex.legs():
            fills = list(leg.fills.values())
            if fills and sum((f.qty for f in fills), ZERO) == leg.filled:
                for f in fills:
                    cash += (f.price * f.qty) if f.side is Side.SELL else -(f.price * f.qty)
                    cash -= self._fee_in_quote(f.fee, f.fee_asset, f.price, ex.row.sol_price)
            elif leg.filled > 0 and leg.avg_price is not None:  # fills missing: the order's own figures
                notional = leg.avg_price * leg.filled
                cash += notional if leg.side is Side.SELL else -notional
                # held (the newest), else as last read (a restart read it off the loop), else the executor's
                order = self.ctx.held_order(leg.cid) or leg.order or self._order(leg.cid)
                if order is not None:  # its fee in quote (Order.fee), then each in another asset as a fill's
                    cash -= order.fee
                    for asset, fee in order.other_fees.items():  # a swap's SOL network fee on JUP/USDC
                        cash -= self._fee_in_quote(fee, asset, leg.avg_price, ex.row.sol_price)
            traded += leg.traded
            residual += leg.base_delta
        if traded != ZERO:
            mid = self._mid()
            if mid is not None:
                cash += traded * mid
        return cash, residual

    def _fee_in_quote(self, fee: Decimal, asset: str, price: Decimal, sol_price: Decimal) -> Decimal:
        if not fee:
            return ZERO
        if asset == self.quote:
            return fee
        if asset == self.base:  # at the fill's price, as the ledger (bot.ledger.fee_in_quote) counts it
            return fee * price
        if asset == SOL:  # the network fee: at the SOL price the opportunity was priced with
            return fee * sol_price
        self.ctx.log.warning("fee in %s cannot be converted to %s; counted as 0", asset, self.quote)
        return ZERO

    def _finish(self, ex: Execution, *, told: bool = False) -> None:
        """Settle an execution whose legs are over: its row, this run's totals, its result on the bus, an INFO alert and
        the strategy's ``on_done`` (neither when ``told``: its figures made again from fills its legs' orders had
        counted, the same end)."""
        now = self.ctx.clock.time_ns()
        r = ex.row
        if ex.refused:
            # Nothing reached a venue (the risk gate or a pause refused a leg): not an execution, so no
            # ExecutionResult (it would read as a prediction that failed), nor a done row. The host stored and
            # alerted the veto.
            r.state, r.residual, r.finished_ns = "refused", ZERO, now
            r.note = (r.note + "; " if r.note else "") + NO_LEG_SENT
            self._save(ex)
            self._untrack(ex)
            self.refused_count += 1
            self.ctx.log.info("arbitrage %s not executed: no leg was sent", ex.id)
            self._on_done(ex)
            return
        if self._mid() is None and sum((leg.traded for leg in ex.legs()), ZERO) != ZERO:
            # a residual held is valued at the CEX mid: without a book yet (a restart settles executions before the
            # market data comes) it would count as worth nothing; the first fresh book finishes it (on_book)
            ex.finish_wanted = True
            return
        ex.finish_wanted = False
        realized, residual = self.realized(ex)
        r.state, r.realized_pnl, r.residual, r.finished_ns = "done", realized, residual, now
        self._save(ex)
        self._untrack(ex)
        for leg in ex.legs():
            self._finished[leg.cid] = ex
        while len(self._finished) > FINISHED_KEPT * 3:
            self._finished.popitem(last=False)
        with localcontext(prec=EXACT_DIGITS):  # the row, done, is in the pending residual with this residual
            self.pending_residual = self._pending_without(ex) + residual
        ex.in_pending = residual
        hedge = ex.hedge
        if hedge is not None and self.pending_residual != ZERO and not self._fees_alone(ex):
            left = self.pending_residual
            self.ctx.alert(AlertLevel.WARNING, "arb", f"arbitrage {ex.id}: the hedge left {left} {self.base} "
                           f"on {self.settings.cex} ({hedge.status} {hedge.filled} of {hedge.qty})",
                           opportunity=ex.id, qty=f"{left} {self.base}", venue=self.settings.cex)
        result = ExecutionResult(strategy=self.strategy, predicted_pnl=r.predicted_pnl, realized_pnl=realized,
                                 quote=self.quote, ts_ns=now, opportunity_id=ex.id, size=r.size, filled=ex.executed())
        predicted, _ = predicted_for_filled(result)  # a partial fill is judged on its part, as every surface does
        if ex.reported_predicted is not None:
            self.predicted_total += predicted - ex.reported_predicted
        elif ex.reported is None:
            self.predicted_total += predicted
        ex.reported_predicted = predicted
        if ex.reported is None:
            self.done_count += 1
            self.realized_total += realized
            self.ctx.bus.publish(result)
        else:  # finished again after a late fill: the row and this run's total take the new figure, and a changed
            self.realized_total += realized - ex.reported  # one is told as a correction of the result published
            if realized != ex.reported:  # first (the backtest's captured PnL, the prediction gate count it once)
                self.ctx.bus.publish(ExecutionResult(strategy=self.strategy, predicted_pnl=r.predicted_pnl,
                                                     realized_pnl=realized, quote=self.quote, ts_ns=now,
                                                     opportunity_id=ex.id, size=r.size, filled=ex.executed(),
                                                     corrects=True))
        ex.reported = realized
        if told:  # the same end, its figures exact now: no alert, nor a new cooldown
            return
        if self.ctx.alerts_heard:  # its rounded figures are composed only for someone to read (not in a backtest)
            self._alert_done(ex, realized, residual)
        self._on_done(ex)

    def _alert_done(self, ex: Execution, realized: Decimal, residual: Decimal) -> None:
        r = ex.row
        latency = {f"{leg.name}_latency_ms": significant(ms, 4) for leg in ex.legs()
                   if (ms := leg.latency_ms) is not None}
        # the alert is for people (rounded); the row and the ExecutionResult keep the exact figures
        self.ctx.alert(AlertLevel.INFO, "arb", f"arbitrage {ex.id} done: predicted "
                       f"{money(r.predicted_pnl, self.quote)}, realized {money(realized, self.quote)}",
                       opportunity=ex.id, direction=r.direction,
                       size=f"{r.size} {self.base}", predicted=money(r.predicted_pnl, self.quote),
                       realized=money(realized, self.quote), cex=f"{ex.cex.status} {ex.cex.filled}",
                       dex=f"{ex.dex.status} {ex.dex.filled}", residual=money(residual, self.base),
                       pending=money(self.pending_residual, self.base), **latency)

    def _save(self, ex: Execution, columns: tuple[str, ...] | None = None) -> None:
        """Write what changed in the row: among ``columns`` when given (the only ones that may have changed since
        the last write), else among every changing column (:data:`CHANGING_COLUMNS`)."""
        ex.saves += 1
        ex.sync_row()
        if columns is None:
            columns = _UNHEDGED_COLUMNS if ex.hedge is None and not ex.row.hedge_cid else CHANGING_COLUMNS
        store = self.ctx.store
        if store.records_inline:
            save_execution(store, ex.row, ex.saved, columns)
            return
        # a round trip (PostgreSQL): on the store writer's thread, after the row's insert and every earlier save;
        # what changed is taken here, on the loop, which alone changes the row
        changed = execution_changes(ex.row, ex.saved, columns)
        if not changed:
            return
        ex.saved.update(changed)
        done = self.ctx.write_later(update_execution, store, ex.id, changed)
        if done.done():
            self._update_done(ex, changed, done)
        else:
            done.add_done_callback(lambda d: self._update_done(ex, changed, d))

    def _update_done(self, ex: Execution, changed: dict[str, object], done: asyncio.Future[int]) -> None:
        """A save off the loop is over: one that failed leaves its columns to the next save (not as stored)."""
        exc = done.exception() if not done.cancelled() else asyncio.CancelledError()
        if exc is None:
            return
        for name, value in changed.items():
            if ex.saved.get(name) is value:
                del ex.saved[name]
        self.ctx.log.error("arbitrage %s: its row's changes (%s) could not be stored (%s: %s); the next save of it "
                           "writes them", ex.id, ", ".join(changed), type(exc).__name__, exc)

    # --- restart ------------------------------------------------------------------------------

    def _earlier_hedges(self, ex: Execution) -> None:
        """The hedges sent before the row's own (reopened by a late fill): ``<id>-hedge``, ``<id>-hedge2``... up to
        the one the row names, each as its stored order (their fills are part of the execution's figures)."""
        for cid in earlier_hedge_ids(ex.row):
            order = self._order(cid)
            leg = Leg("hedge", ex.row.cex_exchange, order.side if order else Side.BUY, order.qty if order else ZERO,
                      (order.price or ZERO) if order else ZERO, cid, submitted_ns=ex.row.created_ns,
                      final_ns=ex.row.created_ns, status=order.status.value if order else "not sent")
            ex.earlier_hedges.append(leg)
            if order is not None:
                self._adopt(ex, leg)

    async def recover(self) -> list[Execution]:
        """Load the executions a previous run left unfinished and settle each (see the module doc). Where a read is a
        round trip (PostgreSQL) their rows, and their legs' stored orders and fills, are read first on the store
        writer's thread in one call (an order the executor holds still wins, as the newer): a server that stops
        answering delays the start, not the loop."""
        store = self.ctx.store

        def unfinished(store: Store, strategy: str) -> tuple[list[ArbExecutionRow], StoredLegs, Decimal]:
            rows = open_executions(store, strategy)
            cids = [cid for row in rows
                    for cid in (*(leg.cid for leg in Execution(row).legs()), *earlier_hedge_ids(row))]
            return rows, stored_legs(store, strategy, cids), unhedged_residual(store, strategy)

        if store.records_inline:
            rows = open_executions(store, self.strategy)
            self.pending_residual = unhedged_residual(store, self.strategy)
        else:
            rows, self._prefetched, self.pending_residual = await self.ctx.read_later(unfinished, store,
                                                                                       self.strategy)
        if self.pending_residual:  # an upgrade from a version that never hedged it: said before the first hedge
            self.ctx.log.warning(
                "arbitrage: %s %s left unhedged by earlier executions (their base fees); %s", self.pending_residual,
                self.base, "kept (hedge = hold)" if self.settings.hedge == "hold" else
                f"hedged with the next execution once it reaches {self.market.min_qty} {self.base} (set hedge = "
                "\"hold\" to keep it, e.g. when the account was flattened by hand)")
        try:
            return self._recovered(rows)
        finally:
            self._prefetched = None

    def _recovered(self, rows: list[ArbExecutionRow]) -> list[Execution]:
        now = self.ctx.clock.time_ns()
        max_age = self.settings.max_input_age_ms * NS_PER_MS
        loaded: list[Execution] = []
        for row in rows:
            ex = Execution(row)
            self._earlier_hedges(ex)
            self._track(ex)
            loaded.append(ex)
            ex.recovered = True
            fresh = now - row.created_ns <= max_age
            for leg in ex.legs():
                order = self._order(leg.cid)  # held, prefetched, else the store's
                if order is not None:  # it was sent: follow it, never send it again
                    leg.submitted_ns = leg.submitted_ns or row.created_ns
                    self._adopt(ex, leg)
                elif leg.final:
                    continue
                elif leg.name == "hedge":  # decided but never sent: decided again on the next fresh book
                    self._by_cid.pop(leg.cid, None)
                    ex.hedge, ex.hedge_wanted = None, True
                elif ex.sequential and leg is ex.first_second()[1]:
                    leg.submitted_ns = 0  # the second leg: _advance decides once the first is final
                elif fresh:
                    self._send(ex, leg, now)
                else:
                    leg.submitted_ns = 0
                    self._drop(ex, leg, "never sent before the restart; the opportunity is too old to send it now")
            self.ctx.log.warning("arbitrage %s left unfinished by the previous run: cex %s %s, dex %s %s",
                                 ex.id, ex.cex.status or "never sent", ex.cex.filled, ex.dex.status or "never sent",
                                 ex.dex.filled)
            self._save(ex)
        for ex in loaded:
            self._advance(ex)
        return loaded
