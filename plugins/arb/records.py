"""Arbitrage storage: the ``arb_opportunities`` and ``arb_executions`` tables and their queries.

Both tables live in the bot's store (created by :meth:`bot.store.Store.open`, like every plugin
table imported by then). Money columns are exact decimal strings (:func:`bot.store.money`),
timestamps integer nanoseconds.

* ``arb_opportunities``: every opportunity the strategy published, in every mode (observe
  included), with its cost breakdown (JSON object name -> decimal string), predicted PnL, whether
  it was acted on and why not.
* ``arb_executions``: one row per executed opportunity, keyed by its unique ``opportunity_id``
  (the idempotency key). The row is committed *before* any leg leaves, with the rows of the legs
  sent at once, in one durable intent (``ctx.intent()``: one transaction); a second insert of the
  same id fails, so one opportunity is executed at most once, across restarts. The row then
  follows the legs to their end: fills, latencies, the hedge, realized PnL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from types import SimpleNamespace

from sqlalchemy import Table
from sqlmodel import Field, SQLModel, col, select

from bot.api import ExecutionLeg, ExecutionResult, ExecutionView, Fill, Opportunity, Order, split_symbol
from bot.api.ledger import EXACT_DIGITS, amount, prediction_error, significant
from bot.api.storage import Store, money


class ArbOpportunityRow(SQLModel, table=True):
    """One published opportunity (one per episode or change, not one per tick)."""

    __tablename__ = "arb_opportunities"

    id: int | None = Field(default=None, primary_key=True)
    strategy: str = Field(index=True)
    opportunity_id: str = Field(index=True)
    ts_ns: int = Field(index=True)
    mode: str
    symbol: str
    direction: str
    buy_exchange: str
    sell_exchange: str
    buy_price: Decimal = money()
    sell_price: Decimal = money()
    qty: Decimal = money()
    gross_pnl: Decimal = money()
    net_pnl: Decimal = money()
    net_bps: Decimal = money()
    costs: str = "{}"
    """JSON object: cost name -> quote amount as a decimal string, in the order they were charged."""
    acted: bool = False
    reason: str = ""


class ArbExecutionRow(SQLModel, table=True):
    """One execution of one opportunity: both legs, the hedge, and what it earned."""

    __tablename__ = "arb_executions"

    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: str = Field(unique=True, index=True)
    strategy: str = Field(index=True)
    state: str = Field(index=True)
    """``open`` (legs under way), ``hedging`` (a residual is being closed), ``done``; or ``refused`` (no leg was
    sent: the risk gate or a pause refused them, or after a restart they were too old to send; not an
    execution)."""
    symbol: str
    direction: str
    created_ns: int = 0
    """When the opportunity was decided (its inputs were at most ``max_input_age_ms`` older)."""
    size: Decimal = money()
    legs: str = "concurrent"
    """How the legs go: ``concurrent``, ``cex-first`` or ``dex-first`` (as configured when it was decided)."""
    predicted_pnl: Decimal = money()
    sol_price: Decimal = money()
    """Quote per SOL used for pricing: converts the DEX network fee (paid in SOL) into quote."""
    cex_exchange: str
    cex_side: str
    cex_qty: Decimal = money()
    cex_price: Decimal = money()
    """The CEX leg's IOC limit price."""
    cex_cid: str
    cex_submitted_ns: int = 0
    cex_final_ns: int = 0
    cex_status: str = ""
    cex_filled: Decimal = money()
    cex_avg_price: Decimal | None = money(nullable=True)
    dex_exchange: str
    dex_side: str
    dex_qty: Decimal = money()
    dex_price: Decimal = money()
    """The DEX leg's worst acceptable average price (min-out / max-in per base unit)."""
    dex_cid: str
    dex_submitted_ns: int = 0
    dex_final_ns: int = 0
    dex_status: str = ""
    dex_filled: Decimal = money()
    dex_avg_price: Decimal | None = money(nullable=True)
    hedge_cid: str = ""
    hedge_side: str = ""
    hedge_qty: Decimal = money()
    hedge_price: Decimal = money()
    hedge_status: str = ""
    hedge_filled: Decimal = money()
    residual: Decimal = money()
    """What the execution's fills did to the accounts' base once everything is final (long positive): base bought
    minus sold, less the fees charged in the base. The residuals of the done executions summed are the strategy's
    pending residual (:func:`unhedged_residual`), which the hedge of a later execution closes once it reaches the
    CEX's ``min_qty``: that execution's residual then counts its hedge."""
    realized_pnl: Decimal | None = money(nullable=True)
    note: str = ""
    finished_ns: int = 0


# SQLModel's metaclass sets __table__; its types do not declare it
_OPPORTUNITIES: Table = ArbOpportunityRow.__table__  # type: ignore[attr-defined]


def costs_json(costs: Sequence[tuple[str, Decimal]]) -> str:
    """``json.dumps({name: str(value)})``, character for character, without the encoder (a row per opportunity):
    one format string per list of names, kept (the names are the same in every row), filled with the amounts'
    text (a Decimal's text never needs escaping)."""
    names = tuple([name for name, _ in costs])
    plan = _COSTS_FORMATS.get(names)
    if plan is None:
        if len(_COSTS_FORMATS) >= 64:
            _COSTS_FORMATS.clear()
        plan = _COSTS_FORMATS[names] = _costs_format(names)
    template, picks = plan
    texts = tuple([str(value) for _, value in costs])
    return template % (texts if picks is None else tuple([texts[i] for i in picks]))


_COSTS_FORMATS: dict[tuple[str, ...], tuple[str, tuple[int, ...] | None]] = {}
"""Cost names -> (``%`` format of the JSON object, which amounts fill it: None for all, in order)."""


def _costs_format(names: tuple[str, ...]) -> tuple[str, tuple[int, ...] | None]:
    """A dict keeps a repeated name where it first came, with the amount it came with last."""
    last = {name: i for i, name in enumerate(names)}  # first-seen order, last index
    picks = tuple(last.values())
    template = "{" + ", ".join(_quote(name).replace("%", "%%") + ': "%s"' for name in last) + "}"
    return template, None if picks == tuple(range(len(names))) else picks


_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii


def insert_opportunities(store: Store, rows: list[dict], *, wait: bool = True) -> None:
    """Write a batch of opportunities, each the row as stored (column -> value, every column but ``id``; ``costs``
    the JSON text :func:`costs_json` makes of the ``(name, amount)`` pairs), in one transaction
    (:meth:`Store.record_many`: on SQLite one ``executemany`` on the loop's record connection, no checkpoint).
    ``wait=False``: raise :class:`~bot.api.storage.StoreBusy`, nothing written, when another writer holds the
    lock."""
    if rows:
        store.record_many(_OPPORTUNITIES, rows, wait=wait)


def opportunities(store: Store, strategy: str | None = None, limit: int = 50) -> list[ArbOpportunityRow]:
    """Newest first."""
    with store.session() as s:
        q = select(ArbOpportunityRow)
        if strategy is not None:
            q = q.where(ArbOpportunityRow.strategy == strategy)
        return list(s.exec(q.order_by(col(ArbOpportunityRow.id).desc()).limit(limit)).all())


def stored_opportunities(store: Store, limit: int) -> list[Opportunity] | None:
    """The newest ``limit`` stored opportunities of the store's bot, newest first, as the strategy published them
    (``edge_bps`` is the stored ``net_bps``); None when the tables are missing."""
    if not stored_here(store):
        return None
    own = own_strategies(store)
    with store.session() as s:
        q = select(ArbOpportunityRow)
        if own is not None:
            q = q.where(col(ArbOpportunityRow.strategy).in_(own))
        rows = list(s.exec(q.order_by(col(ArbOpportunityRow.id).desc()).limit(limit)).all())
    return [Opportunity(strategy=r.strategy, symbol=r.symbol, buy_exchange=r.buy_exchange,
                        sell_exchange=r.sell_exchange, buy_price=r.buy_price, sell_price=r.sell_price, qty=r.qty,
                        edge_bps=r.net_bps, ts_ns=r.ts_ns, acted=r.acted, opportunity_id=r.opportunity_id,
                        costs=tuple((name, Decimal(value)) for name, value in json.loads(r.costs or "{}").items()),
                        net_pnl=r.net_pnl, reason=r.reason) for r in rows]


class ExecutionRecord(SimpleNamespace):
    """A new execution's columns in memory, as attributes (what :class:`ArbExecutionRow` holds, without
    the cost of a SQLModel instance: the decision that sends the legs makes one)."""


_EXECUTION_FIELDS = tuple(name for name in ArbExecutionRow.model_fields if name != "id")
_EXECUTION_DEFAULTS = {name: field.default for name, field in ArbExecutionRow.model_fields.items()
                       if name != "id" and not field.is_required()}


_EXECUTION_REQUIRED = frozenset(_EXECUTION_FIELDS) - _EXECUTION_DEFAULTS.keys()


def new_execution(**values: object) -> ExecutionRecord:
    """A new execution's record: ``values`` over the table's defaults (every column but ``id``)."""
    if not _EXECUTION_REQUIRED <= values.keys():  # one set comparison when nothing is missing (every execution)
        missing = [name for name in _EXECUTION_FIELDS if name in _EXECUTION_REQUIRED and name not in values]
        raise TypeError(f"an execution needs {', '.join(missing)}")
    return ExecutionRecord(**_EXECUTION_DEFAULTS | values)


def execution_values(row: ArbExecutionRow | ExecutionRecord) -> dict[str, object]:
    """Every column but ``id``, read from a stored row or a new record."""
    return {name: getattr(row, name) for name in _EXECUTION_FIELDS}


def insert_execution(store: Store, row: ArbExecutionRow | ExecutionRecord,
                     values: dict[str, object] | None = None) -> bool:
    """Persist a new execution; False if this opportunity id already has one (nothing written).

    The store's fast durable record (:meth:`Store.record`): on a store that records inline (file-backed SQLite)
    this runs on the loop, in the decision that sends the legs, and is committed when it returns, or, inside
    ``ctx.intent()``, when the intent commits (with the legs' order rows, before they leave); on any other
    (PostgreSQL) on the store writer's thread (``ctx.write_later``), the legs submitted once it is committed.
    ``values``: :func:`execution_values` of ``row``, when the caller has them already (to keep as what was stored).
    """
    return store.record(ArbExecutionRow, execution_values(row) if values is None else values)


def save_execution(store: Store, row: ArbExecutionRow | ExecutionRecord,
                   saved: dict[str, object] | None = None, columns: Sequence[str] | None = None) -> None:
    """Write an execution row's changes (the row was inserted before).

    ``saved``: the row's values as stored (:func:`execution_values` of it when inserted or loaded), kept up to date
    here: only the columns that differ from it are set (none: nothing is written), and the stored row ends the
    same as if every column had been. None: every column. ``columns``: the only ones that may have changed since
    (every column but the key when None)."""
    if saved is None:
        values = execution_values(row)
        del values["opportunity_id"]
        store.record_update(ArbExecutionRow, {"opportunity_id": row.opportunity_id}, values)
        return
    changed = execution_changes(row, saved, columns)
    if changed:
        update_execution(store, row.opportunity_id, changed)
        saved.update(changed)


def execution_changes(row: ArbExecutionRow | ExecutionRecord, saved: dict[str, object],
                      columns: Sequence[str] | None = None) -> dict[str, object]:
    """The columns of ``row`` (among ``columns``; None: every one but the key) whose values differ from ``saved``
    (the row as stored): what a save writes (``saved`` is left as it is)."""
    changed = {}
    for name in _SAVED_FIELDS if columns is None else columns:  # one pass: most are as stored (the same objects)
        value = getattr(row, name)
        stored = saved.get(name, _UNSAVED)
        if stored is not value and not _same(stored, value):
            changed[name] = value
    return changed


def update_execution(store: Store, opportunity_id: str, values: dict[str, object]) -> int:
    """Set ``values`` on the stored execution of ``opportunity_id`` (committed when this returns); rows changed."""
    return store.record_update(ArbExecutionRow, {"opportunity_id": opportunity_id}, values)


_UNSAVED = object()
_SAVED_FIELDS = tuple(name for name in _EXECUTION_FIELDS if name != "opportunity_id")
"""What a save may change: every column but ``id`` and the key."""


def _same(stored: object, value: object) -> bool:
    """Whether writing ``value`` over ``stored`` leaves the column as it is: equal and of the same type, and for a
    Decimal the same digits and exponent (``1.0`` and ``1.00`` are equal but stored as different text)."""
    if stored is value:
        return True
    if type(stored) is not type(value) or stored != value:
        return False
    return not isinstance(value, Decimal) or value.as_tuple() == stored.as_tuple()  # type: ignore[attr-defined]


def open_executions(store: Store, strategy: str) -> list[ArbExecutionRow]:
    """Executions of ``strategy`` not yet over (done or refused), oldest first (what a restart must finish)."""
    with store.session() as s:
        q = select(ArbExecutionRow).where(ArbExecutionRow.strategy == strategy,
                                          col(ArbExecutionRow.state).not_in(("done", "refused")))
        return list(s.exec(q.order_by(col(ArbExecutionRow.id))).all())


def residual_sum(residuals: Iterable[Decimal]) -> Decimal:
    """Executions' residuals summed, exactly: the base they left unhedged together."""
    with localcontext(prec=EXACT_DIGITS):
        return sum(residuals, Decimal(0))


def unhedged_residual(store: Store, strategy: str) -> Decimal:
    """The pending residual of ``strategy`` as stored: its done executions' residuals summed (long positive), what
    ``arbot report``'s residual column shows and what a restart starts from."""
    with store.session() as s:
        q = select(col(ArbExecutionRow.residual)).where(ArbExecutionRow.strategy == strategy,
                                                        ArbExecutionRow.state == "done")
        return residual_sum(s.exec(q).all())


def execution_of(store: Store, strategy: str, opportunity_id: str) -> ArbExecutionRow | None:
    """The execution of ``strategy`` with this opportunity id (None: there is none)."""
    with store.session() as s:
        q = select(ArbExecutionRow).where(ArbExecutionRow.strategy == strategy,
                                          ArbExecutionRow.opportunity_id == opportunity_id)
        return s.exec(q).first()


@dataclass(frozen=True)
class StoredLegs:
    """Legs' orders and fills as stored, by client order id (:func:`stored_legs`)."""

    orders: dict[str, Order | None]
    fills: dict[str, list[Fill]]


def stored_legs(store: Store, strategy: str, cids: list[str]) -> StoredLegs:
    """The stored orders and fills of these legs in one call (for the store writer's thread: the reconcile of legs
    whose end was missed, on a store whose reads are round trips)."""
    return StoredLegs({cid: store.get_order(cid) for cid in cids},
                      {cid: [f for _, f in store.fills(strategy=strategy, client_order_id=cid)] for cid in cids})


@dataclass(frozen=True)
class FinishedExecution:
    """A finished execution as stored, with every leg's order and fills (:func:`finished_execution`)."""

    row: ArbExecutionRow
    orders: dict[str, Order | None]
    """By client order id: the legs', the hedges' (``<id>-hedge``, ``<id>-hedge2``... up to the row's)."""
    fills: dict[str, list[Fill]]


def finished_execution(store: Store, strategy: str, opportunity_id: str) -> FinishedExecution | None:
    """The ``done`` execution of ``strategy`` with this opportunity id, its legs' stored orders and fills in one call
    (for the store writer's thread: a late fill's look-up on a store whose reads are round trips); None when there is
    none, or it is not done."""
    row = execution_of(store, strategy, opportunity_id)
    if row is None or row.state != "done":
        return None
    prefix, last = f"{opportunity_id}-hedge", row.hedge_cid or ""
    number = last[len(prefix):] if last.startswith(prefix) else ""
    hedges = 0 if not last else int(number) if number.isdigit() else 1
    cids = [row.cex_cid, row.dex_cid, *(prefix if n == 1 else f"{prefix}{n}" for n in range(1, hedges + 1))]
    return FinishedExecution(row, {cid: store.get_order(cid) for cid in cids},
                             {cid: [f for _, f in store.fills(strategy=strategy, client_order_id=cid)]
                              for cid in cids})


def executions(store: Store, strategy: str | None = None, limit: int = 50) -> list[ArbExecutionRow]:
    """Newest first."""
    with store.session() as s:
        q = select(ArbExecutionRow)
        if strategy is not None:
            q = q.where(ArbExecutionRow.strategy == strategy)
        return list(s.exec(q.order_by(col(ArbExecutionRow.id).desc()).limit(limit)).all())



def stored_here(store: Store) -> bool:
    """True when the store has the arbitrage tables: a store where no arb strategy ran (a grid's backtest) has
    none, and reading them would fail."""
    return store.has_table(ArbOpportunityRow) and store.has_table(ArbExecutionRow)


def own_strategies(store: Store) -> set[str] | None:
    """The strategy names whose arbitrage rows belong to the store's bot; None for all of them.

    The arbitrage tables have no bot column: their rows are keyed by strategy name, and strategy names are
    unique across the bots of a database. A bot's strategies are the names its orders carry
    (:meth:`Store.strategies`), which holds for a running bot and for ``arbot report --all`` reading another
    bot's store alike. When no other bot has rows in the database, every row is this bot's (so a strategy that
    only observed, and never sent an order, is still reported).
    """
    if set(store.bots()) <= {store.bot}:
        return None
    return set(store.strategies())


def executed(legs: Iterable[tuple[str, Decimal]]) -> Decimal:
    """How much of an execution's size was executed, from its legs' (side, filled): the larger of the base bought
    and the base sold (the realized PnL counts a residual at the CEX mid, as if sold there). What its prediction is
    scaled to, by the strategy as it publishes its result and by every surface that reads its row."""
    bought, sold = Decimal(0), Decimal(0)
    for side, filled in legs:
        if side == "buy":
            bought += filled
        else:
            sold += filled
    return max(bought, sold)


def earlier_hedge_ids(row: ArbExecutionRow | ExecutionRecord) -> list[str]:
    """The client ids of the hedges sent before the one the row names (a late fill reopened the execution):
    ``<id>-hedge``, ``<id>-hedge2``... below the row's own ``<id>-hedgeN``; their fills count in its figures."""
    prefix, last = f"{row.opportunity_id}-hedge", row.hedge_cid or ""
    number = last[len(prefix):] if last.startswith(prefix) else ""
    return [prefix if n == 1 else f"{prefix}{n}" for n in range(1, int(number) if number.isdigit() else 1)]


def row_executed(store: Store, row: ArbExecutionRow) -> Decimal:
    """:func:`executed` of a stored execution: its CEX, DEX and hedge legs, and the earlier hedges' stored orders."""
    legs = [(row.cex_side, row.cex_filled), (row.dex_side, row.dex_filled)]
    if row.hedge_cid:
        legs.append((row.hedge_side, row.hedge_filled))
    for cid in earlier_hedge_ids(row):
        order = store.get_order(cid)
        if order is not None:
            legs.append((order.side.value, order.filled_qty))
    return executed(legs)


def row_result(store: Store, row: ArbExecutionRow) -> ExecutionResult | None:
    """A finished row as the :class:`~bot.api.ExecutionResult` its strategy published (None until realized): with
    its size and what filled, for :func:`bot.api.ledger.prediction_error`."""
    if row.realized_pnl is None:
        return None
    return ExecutionResult(row.strategy, row.predicted_pnl, row.realized_pnl, split_symbol(row.symbol)[1],
                           row.finished_ns, row.opportunity_id, row.size, row_executed(store, row))


CAPTURED = ("Captured PnL is the executions' own PnL summed: each execution's fills and fees, the residual it left "
            "valued at the CEX mid when it finished (with what its hedge bought or sold of what earlier executions "
            "left) and a fee in a third asset at the SOL price it was priced with. It is not the ledger's net PnL of "
            "the strategy, which realizes a residual at the prices of the fills that open and close it and leaves a "
            "third-asset fee apart: the two differ by the mid's moves while a residual was held from one execution "
            "to the next, by the base the fees took that a hedge bought back (at the mid; the ledger at the price "
            "those fees were expensed at) and by third-asset fees.")
"""What every surface that shows the executions' PnL summed (``arbot report``'s arbitrage table, ``/arb``, the
backtest's captured PnL) calls it and says of it: a quantity of its own, next to the ledger's figures."""


def summary(store: Store) -> list[tuple[str, ...]]:
    """``arbot report``'s arbitrage table: per strategy, opportunities and executions with PnL.

    Rows: strategy, opportunities recorded, acted on, executions done / open, hedged, residual
    left (base), predicted PnL and the executions' own PnL (``captured``, :data:`CAPTURED`: never named like the
    ledger's realized or net PnL, which the report shows above) summed over the finished executions, and the mean
    absolute prediction error (:func:`bot.api.ledger.prediction_error`: a partial fill against its prediction for
    what filled). A header row first; only the header when nothing is stored.
    """
    rows: list[tuple[str, ...]] = [("strategy", "opportunities", "acted", "done", "open", "refused", "hedged",
                                    "residual", "predicted", "captured", "mean |error|")]
    if not stored_here(store):
        return rows
    own = own_strategies(store)
    with store.session() as s:
        seen: dict[str, list[int]] = {}
        q_opportunities = select(ArbOpportunityRow.strategy, ArbOpportunityRow.acted)
        q_executions = select(ArbExecutionRow)
        if own is not None:
            q_opportunities = q_opportunities.where(col(ArbOpportunityRow.strategy).in_(own))
            q_executions = q_executions.where(col(ArbExecutionRow.strategy).in_(own))
        for strategy, was_acted in s.exec(q_opportunities).all():
            counts = seen.setdefault(strategy, [0, 0])
            counts[0] += 1
            counts[1] += bool(was_acted)
        done: dict[str, list[tuple[ArbExecutionRow, ExecutionResult]]] = {}  # finished rows, as their results
        open_: dict[str, int] = {}
        refused: dict[str, int] = {}
        for row in s.exec(q_executions).all():
            if row.state == "refused":
                refused[row.strategy] = refused.get(row.strategy, 0) + 1
            elif row.state == "done" and (result := row_result(store, row)) is not None:
                done.setdefault(row.strategy, []).append((row, result))
            else:
                open_[row.strategy] = open_.get(row.strategy, 0) + 1
    for name in sorted(set(seen) | set(done) | set(open_) | set(refused)):
        finished = done.get(name, [])
        quote = split_symbol(finished[0][0].symbol)[1] if finished else ""
        with localcontext(prec=EXACT_DIGITS):  # summed exactly, as the backtest's captured PnL
            predicted = sum((r.predicted_pnl for r, _ in finished), Decimal(0))
            captured = sum((result.realized_pnl for _, result in finished), Decimal(0))
            error = (sum((abs(prediction_error(result)) for _, result in finished), Decimal(0)) / len(finished)
                     if finished else None)
        opportunities, acted = seen.get(name, [0, 0])
        residual = residual_sum(r.residual for r, _ in finished)
        rows.append((name, str(opportunities), str(acted), str(len(finished)), str(open_.get(name, 0)),
                     str(refused.get(name, 0)), str(sum(1 for r, _ in finished if r.hedge_cid)),
                     significant(residual), _q(predicted, quote),
                     _q(captured, quote), _q(error, quote)))
    return rows


def _q(value: Decimal | None, quote: str) -> str:
    return "-" if value is None else amount(value, quote)


def execution_views(store: Store, strategy: str | None, since_ns: int | None, until_ns: int | None,
                    limit: int) -> list[ExecutionView]:
    """The ``executions`` hook: executions created in ``[since_ns, until_ns)``, newest first, as the
    operator's read model (legs with their submission and final times); the store's bot's only
    (:func:`own_strategies`)."""
    if not stored_here(store):
        return []
    own = own_strategies(store)
    with store.session() as s:
        q = select(ArbExecutionRow)
        if strategy is not None:
            q = q.where(ArbExecutionRow.strategy == strategy)
        if own is not None:
            q = q.where(col(ArbExecutionRow.strategy).in_(own))
        if since_ns is not None:
            q = q.where(ArbExecutionRow.created_ns >= since_ns)
        if until_ns is not None:
            q = q.where(ArbExecutionRow.created_ns < until_ns)
        rows = list(s.exec(q.order_by(col(ArbExecutionRow.created_ns).desc(), col(ArbExecutionRow.id).desc())
                           .limit(limit)).all())
    return [_view(store, row) for row in rows]


def _view(store: Store, row: ArbExecutionRow) -> ExecutionView:
    legs = [ExecutionLeg("cex", row.cex_exchange, row.cex_side, row.cex_qty, row.cex_price, row.cex_cid,
                         row.cex_status, row.cex_filled, row.cex_avg_price, row.cex_submitted_ns, row.cex_final_ns),
            ExecutionLeg("dex", row.dex_exchange, row.dex_side, row.dex_qty, row.dex_price, row.dex_cid,
                         row.dex_status, row.dex_filled, row.dex_avg_price, row.dex_submitted_ns, row.dex_final_ns)]
    if row.hedge_cid:
        legs.append(ExecutionLeg("hedge", row.cex_exchange, row.hedge_side, row.hedge_qty, row.hedge_price,
                                 row.hedge_cid, row.hedge_status, row.hedge_filled, None))
    return ExecutionView(strategy=row.strategy, opportunity_id=row.opportunity_id, symbol=row.symbol,
                         state=row.state, created_ns=row.created_ns, predicted_pnl=row.predicted_pnl,
                         realized_pnl=row.realized_pnl, quote=split_symbol(row.symbol)[1], size=row.size,
                         legs=tuple(legs), residual=row.residual, finished_ns=row.finished_ns, note=row.note,
                         filled=row_executed(store, row))
