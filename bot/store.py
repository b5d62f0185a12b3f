"""Persistence: SQLModel tables and the queries the host needs.

SQLite (WAL mode) by default, any SQLAlchemy URL otherwise (``postgresql+psycopg://...``).
Money is stored as decimal *strings* (SQLite would turn a Decimal into a float), timestamps as
integer nanoseconds since the epoch (UTC by definition). Plugins may declare their own
``SQLModel, table=True`` classes; :meth:`Store.open` creates every table imported by then.

The store is synchronous and used from the event loop: SQLite in WAL mode with
``synchronous=NORMAL`` commits in microseconds, and the executor needs its order row on disk
*before* a request leaves, so there is nothing to gain from a thread hop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, String, UniqueConstraint, bindparam, event, func, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, create_engine, select

from .domain import Fill, Liquidity, Order, OrderStatus, OrderType, Side, TimeInForce


class DecimalText(TypeDecorator):
    """A Decimal stored as its exact text."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money columns take Decimal, got {type(value).__name__}")
        return str(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


def money(nullable: bool = False) -> Any:
    """A Field for an exact amount."""
    return Field(default=None if nullable else Decimal(0), sa_column=Column(DecimalText(), nullable=nullable))


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"

    id: int | None = Field(default=None, primary_key=True)
    client_order_id: str = Field(unique=True, index=True)
    strategy: str = Field(index=True)
    exchange: str
    symbol: str
    side: str
    order_type: str
    tif: str
    post_only: bool = False
    price: Decimal | None = money(nullable=True)
    qty: Decimal = money()
    status: str = Field(index=True)
    exchange_order_id: str | None = None
    filled_qty: Decimal = money()
    avg_fill_price: Decimal | None = money(nullable=True)
    fee: Decimal = money()
    reason: str = ""
    created_ns: int = 0
    updated_ns: int = 0


class FillRow(SQLModel, table=True):
    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("exchange", "trade_id"),)

    id: int | None = Field(default=None, primary_key=True)
    exchange: str
    trade_id: str
    client_order_id: str = Field(index=True)
    strategy: str = Field(index=True)
    symbol: str
    side: str
    price: Decimal = money()
    qty: Decimal = money()
    fee: Decimal = money()
    fee_asset: str
    liquidity: str
    ts_ns: int = Field(index=True)


class BalanceSnapshotRow(SQLModel, table=True):
    __tablename__ = "balance_snapshots"

    id: int | None = Field(default=None, primary_key=True)
    ts_ns: int = Field(index=True)
    exchange: str
    asset: str
    free: Decimal = money()
    total: Decimal = money()


class RiskEventRow(SQLModel, table=True):
    __tablename__ = "risk_events"

    id: int | None = Field(default=None, primary_key=True)
    ts_ns: int = Field(index=True)
    check_name: str
    strategy: str = ""
    exchange: str = ""
    symbol: str = ""
    action: str = "veto"
    reason: str
    details: str = "{}"
    """JSON object of the figures (decimal values as strings)."""


class StateRow(SQLModel, table=True):
    """Small host facts that must outlive a restart (e.g. an operator's ``/observe on``)."""

    __tablename__ = "bot_state"

    key: str = Field(primary_key=True)
    value: str
    updated_ns: int = 0


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    ts_ns: int = Field(index=True)
    transport: str
    user_id: str
    chat_id: str = ""
    role: str = ""
    command: str
    args: str = ""
    outcome: str


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def order_to_row(order: Order) -> OrderRow:
    return OrderRow(
        client_order_id=order.client_order_id, strategy=order.strategy, exchange=order.exchange,
        symbol=order.symbol, side=order.side.value, order_type=order.order_type.value, tif=order.tif.value,
        post_only=order.post_only, price=order.price, qty=order.qty, status=order.status.value,
        exchange_order_id=order.exchange_order_id, filled_qty=order.filled_qty,
        avg_fill_price=order.avg_fill_price, fee=order.fee, reason=order.reason,
        created_ns=order.created_ns, updated_ns=order.updated_ns,
    )


def row_to_order(row: OrderRow) -> Order:
    return Order(
        client_order_id=row.client_order_id, strategy=row.strategy, exchange=row.exchange, symbol=row.symbol,
        side=Side(row.side), qty=row.qty, price=row.price, order_type=OrderType(row.order_type),
        tif=TimeInForce(row.tif), post_only=row.post_only, status=OrderStatus(row.status),
        exchange_order_id=row.exchange_order_id, filled_qty=row.filled_qty, avg_fill_price=row.avg_fill_price,
        fee=row.fee, reason=row.reason, created_ns=row.created_ns, updated_ns=row.updated_ns,
    )


def fill_to_row(fill: Fill, strategy: str) -> FillRow:
    return FillRow(
        exchange=fill.exchange, trade_id=fill.trade_id, client_order_id=fill.client_order_id, strategy=strategy,
        symbol=fill.symbol, side=fill.side.value, price=fill.price, qty=fill.qty, fee=fill.fee,
        fee_asset=fill.fee_asset, liquidity=fill.liquidity.value, ts_ns=fill.ts_ns,
    )


def row_to_fill(row: FillRow) -> Fill:
    return Fill(
        exchange=row.exchange, symbol=row.symbol, client_order_id=row.client_order_id, trade_id=row.trade_id,
        side=Side(row.side), price=row.price, qty=row.qty, fee=row.fee, fee_asset=row.fee_asset,
        liquidity=Liquidity(row.liquidity), ts_ns=row.ts_ns,
    )


class Store:
    """Tables and queries; one instance per bot."""

    def __init__(self, url: str):
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def open(self) -> Store:
        """Create missing tables (the host's and every plugin table imported so far)."""
        SQLModel.metadata.create_all(self.engine)
        return self

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    # --- orders ---------------------------------------------------------------------------

    def insert_order(self, order: Order) -> bool:
        """Persist a new order. False if its client order id already exists (nothing written)."""
        try:
            with self.session() as s:
                s.add(order_to_row(order))
        except IntegrityError:
            return False
        return True

    def update_order(self, order: Order) -> None:
        with self.session() as s:
            row = s.exec(select(OrderRow).where(OrderRow.client_order_id == order.client_order_id)).one()
            for key, value in order_to_row(order).model_dump(exclude={"id"}).items():
                setattr(row, key, value)
            s.add(row)

    def write_batch(self, orders: list[Order], fills: list[tuple[str, Fill]]) -> None:
        """Store order changes and new fills in one transaction (Core statements: this runs often).

        Orders must already exist (the executor inserts each before sending it); a fill already
        stored (same exchange and trade id) is skipped.
        """
        with self.engine.begin() as conn:
            if orders:
                table = OrderRow.__table__
                conn.execute(
                    update(table).where(table.c.client_order_id == bindparam("cid")),
                    [{"cid": o.client_order_id, "status": o.status.value, "exchange_order_id": o.exchange_order_id,
                      "filled_qty": o.filled_qty, "avg_fill_price": o.avg_fill_price, "fee": o.fee,
                      "reason": o.reason, "updated_ns": o.updated_ns} for o in orders],
                )
            if fills:
                table = FillRow.__table__
                stored = {tuple(r) for r in conn.execute(
                    select(table.c.exchange, table.c.trade_id).where(
                        table.c.trade_id.in_([f.trade_id for _, f in fills])))}
                rows = []
                for strategy, fill in fills:
                    if (fill.exchange, fill.trade_id) not in stored:
                        stored.add((fill.exchange, fill.trade_id))
                        rows.append(fill_to_row(fill, strategy).model_dump(exclude={"id"}))
                if rows:
                    conn.execute(insert(table), rows)

    def get_order(self, client_order_id: str) -> Order | None:
        with self.session() as s:
            row = s.exec(select(OrderRow).where(OrderRow.client_order_id == client_order_id)).first()
            return row_to_order(row) if row else None

    def orders(self, *, statuses: Iterable[OrderStatus] | None = None, strategy: str | None = None,
               limit: int | None = None) -> list[Order]:
        with self.session() as s:
            q = select(OrderRow)
            if statuses is not None:
                q = q.where(OrderRow.status.in_([st.value for st in statuses]))
            if strategy is not None:
                q = q.where(OrderRow.strategy == strategy)
            q = q.order_by(OrderRow.id.desc() if limit else OrderRow.id)
            if limit:
                q = q.limit(limit)
            return [row_to_order(r) for r in s.exec(q).all()]

    # --- fills ----------------------------------------------------------------------------

    def insert_fill(self, fill: Fill, strategy: str) -> bool:
        """Persist a fill once; False if this (exchange, trade_id) is already stored."""
        try:
            with self.session() as s:
                s.add(fill_to_row(fill, strategy))
        except IntegrityError:
            return False
        return True

    def fills(self, *, strategy: str | None = None, since_ns: int | None = None) -> list[tuple[str, Fill]]:
        """(strategy, fill) pairs in time order."""
        with self.session() as s:
            q = select(FillRow)
            if strategy is not None:
                q = q.where(FillRow.strategy == strategy)
            if since_ns is not None:
                q = q.where(FillRow.ts_ns >= since_ns)
            q = q.order_by(FillRow.ts_ns, FillRow.id)
            return [(r.strategy, row_to_fill(r)) for r in s.exec(q).all()]

    # --- records --------------------------------------------------------------------------

    def record_risk_event(self, *, check_name: str, reason: str, strategy: str = "", exchange: str = "",
                          symbol: str = "", action: str = "veto", details: dict[str, Any] | None = None,
                          ts_ns: int | None = None) -> None:
        with self.session() as s:
            s.add(RiskEventRow(
                ts_ns=ts_ns or time.time_ns(), check_name=check_name, strategy=strategy, exchange=exchange,
                symbol=symbol, action=action, reason=reason, details=json.dumps(details or {}, default=str),
            ))

    def risk_events(self, limit: int = 20, *, trips_only: bool = False) -> list[RiskEventRow]:
        """Newest first. ``trips_only``: leave out single-order vetoes (action ``veto``)."""
        with self.session() as s:
            q = select(RiskEventRow)
            if trips_only:
                q = q.where(RiskEventRow.action != "veto")
            return list(s.exec(q.order_by(RiskEventRow.id.desc()).limit(limit)).all())

    def risk_event_counts(self) -> dict[tuple[str, str], int]:
        """Number of stored risk events by (check name, action)."""
        with self.session() as s:
            rows = s.exec(select(RiskEventRow.check_name, RiskEventRow.action, func.count())
                          .group_by(RiskEventRow.check_name, RiskEventRow.action)).all()
            return {(check, action): count for check, action, count in rows}

    def get_state(self, key: str) -> str | None:
        with self.session() as s:
            row = s.get(StateRow, key)
            return row.value if row else None

    def set_state(self, key: str, value: str, ts_ns: int | None = None) -> None:
        with self.session() as s:
            row = s.get(StateRow, key) or StateRow(key=key, value=value)
            row.value, row.updated_ns = value, ts_ns or time.time_ns()
            s.add(row)

    def audit(self, *, transport: str, user_id: str, command: str, args: str, outcome: str, role: str = "",
              chat_id: str = "", ts_ns: int | None = None) -> None:
        with self.session() as s:
            s.add(AuditRow(ts_ns=ts_ns or time.time_ns(), transport=transport, user_id=user_id, chat_id=chat_id,
                           role=role, command=command, args=args, outcome=outcome))

    def audit_log(self, limit: int = 50) -> list[AuditRow]:
        with self.session() as s:
            return list(s.exec(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)).all())

    def snapshot_balances(self, exchange: str, balances: Iterable[Any], ts_ns: int) -> None:
        with self.session() as s:
            for b in balances:
                s.add(BalanceSnapshotRow(ts_ns=ts_ns, exchange=exchange, asset=b.asset, free=b.free, total=b.total))

    def latest_balances(self) -> list[BalanceSnapshotRow]:
        """Each exchange's most recent balance snapshot (every asset in it), by exchange then asset."""
        with self.session() as s:
            latest = (select(BalanceSnapshotRow.exchange, func.max(BalanceSnapshotRow.ts_ns).label("ts"))
                      .group_by(BalanceSnapshotRow.exchange).subquery())
            q = (select(BalanceSnapshotRow)
                 .join(latest, (BalanceSnapshotRow.exchange == latest.c.exchange) & (BalanceSnapshotRow.ts_ns == latest.c.ts))
                 .order_by(BalanceSnapshotRow.exchange, BalanceSnapshotRow.asset))
            return list(s.exec(q).all())
