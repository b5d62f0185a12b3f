"""Persistence: SQLModel tables and the queries the host needs, on SQLite or PostgreSQL.

``db_url`` is ``sqlite:///PATH`` (the default, WAL mode) or ``postgresql://USER:PASSWORD@HOST/DB``
(the ``postgres`` extra installs the driver, psycopg 3; ``postgresql://`` and ``postgres://`` mean
``postgresql+psycopg://``). Column types hold what is stored on both:

- money and quantities are exact decimal *text* (:class:`DecimalText`; SQLite would turn a Decimal
  into a float);
- timestamps are integer nanoseconds since the epoch (UTC by definition) in 64-bit ``BIGINT``
  columns (:func:`ns`), and so is every other ``int`` column of a SQLModel table, plugins' included
  (:func:`widen_int_columns`), and row ids are 64-bit too (:data:`ROW_ID`: ``INTEGER PRIMARY KEY``, the
  row id, on SQLite);
- integer token amounts of any size (raw base units, up to 2^256) are :class:`Units`:
  ``NUMERIC(78, 0)`` on PostgreSQL, exact text on SQLite.

Alembic migrations (:mod:`bot.store.migrate`, scripts in ``bot/store/migrations/versions``) own
the host's tables: :meth:`Store.open` upgrades an older database, stamps one made before
migrations existed, and refuses one written by a newer arbot. Plugins may declare their own
``SQLModel, table=True`` classes; :meth:`Store.open` creates those imported by then when missing.

One engine per store and a session (or connection) per call, so any method may run on a worker
thread (SQLite connections are opened with ``check_same_thread=False``, WAL and a busy timeout).
The store's :attr:`~Store.url` is the URL with its password masked; the password itself is added
to the log redactor (:mod:`bot.redact`) and printed nowhere.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    text,
    update,
)
from sqlalchemy import select as core_select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from ..domain import Fill, Liquidity, Order, OrderStatus, OrderType, Side, TimeInForce, Transfer, TransferStatus
from ..redact import REDACTOR, add_url, safe_url
from .fast import FastRecords, decimal_text
from .fast import StoreBusy as StoreBusy
from .held import LEASE_RELEASE_S, Releasable, end_leases
from .reads import ReadRefused as ReadRefused
from .reads import StoreReads

log = logging.getLogger(__name__)
logging.getLogger("alembic").setLevel(logging.WARNING)  # before alembic is imported: INFO is a line per step

T = TypeVar("T")


BUSY_TIMEOUT_MS = 5000
"""How long a SQLite write waits for another writer's lock before it fails."""
PG_CONNECT_TIMEOUT_S = 10
"""How long opening a PostgreSQL connection may take (libpq ``connect_timeout``): a server that accepts and never
answers (a stopped or hung postmaster) fails the attempt, and the store's outage handling takes over."""
PG_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
                 "tcp_user_timeout": 30_000}
"""TCP keepalives on every PostgreSQL connection (libpq parameters): a server or network gone quiet is noticed on
an idle connection after about 25 s (10 s idle, then 3 probes 5 s apart) and with data unacknowledged after 30 s,
instead of the kernel's two hours and more. A parameter in the URL's query wins."""


def _pg_connect_args(url: str) -> dict[str, Any]:
    """The connect timeout and keepalives of a PostgreSQL connection, less those the URL sets itself."""
    from sqlalchemy.engine import make_url

    try:
        given = set(make_url(url).query)
    except Exception:  # create_engine reports a URL it cannot read
        given = set()
    wanted: dict[str, Any] = {"connect_timeout": PG_CONNECT_TIMEOUT_S, **PG_KEEPALIVES}
    return {name: value for name, value in wanted.items() if name not in given}


class StoreError(Exception):
    """The store cannot be used as configured (unreachable, or a schema this arbot does not know).

    ``str()`` is the user-facing text; it never contains the database password. ``unreachable``: the database
    server could not be reached (connection refused, a timeout, a server still starting up): a later try may
    succeed, unlike a wrong password or a missing database.
    """

    def __init__(self, message: str, *, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable


class StoreClosed(StoreError):
    """The store was closed (:meth:`Store.close`): nothing reads or writes it any more, and no connection is opened
    for a later call (one would be left open, nobody closing it). A bug in the caller, never a database outage."""


PROBE_TIMEOUT_S = 10
"""How long one try to reach a PostgreSQL server waits (libpq's ``connect_timeout``, whole seconds)."""
REACH_RETRY_FIRST_S = 1.0
"""The first pause before trying an unreachable server again (:meth:`Store.wait_reachable`); doubled after each
try ..."""
REACH_RETRY_MAX_S = 15.0
"""... up to this (within the wait, ``[bot] store_wait_s``)."""

_REFUSED = ("password authentication failed", "does not exist", "no password supplied", "no pg_hba.conf entry",
            "permission denied")
"""A PostgreSQL server that answered and refused: waiting cannot fix it."""
_UNREACHABLE = ("connection refused", "timeout expired", "timed out", "the database system is starting up",
                "the database system is shutting down", "the database system is in recovery mode",
                "could not connect", "no such file or directory", "failed to resolve host",
                "could not translate host name", "network is unreachable", "no route to host",
                "server closed the connection unexpectedly", "connection reset", "too many clients already")
"""A PostgreSQL server not reached (yet): down, starting, the network not up after a reboot."""


def connection_problem(reason: str) -> tuple[bool, str]:
    """(whether a PostgreSQL connection error's ``reason`` says the server was not reached, so that a later try may
    succeed; the fix to name when it answered and refused)."""
    lowered = reason.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return False, (" Fix the user or password in [bot] db_url (or the env:/file: secret it names); "
                       "docs/deploy.md, PostgreSQL.")
    if "database" in lowered and "does not exist" in lowered:
        return False, (" Create the database (`createdb -O USER NAME` as the postgres user) or fix its name in "
                       "[bot] db_url; docs/deploy.md, PostgreSQL.")
    if "role" in lowered and "does not exist" in lowered:
        return False, " Create the role (`createuser -P USER`) or fix the user in [bot] db_url."
    if any(marker in lowered for marker in _REFUSED):
        return False, ""
    return any(marker in lowered for marker in _UNREACHABLE), ""


class DecimalText(TypeDecorator[Decimal]):
    """A Decimal stored as its exact text: ``VARCHAR`` of any length on PostgreSQL (an exact figure with a pool
    price in it can have more than 64 characters: ``VARCHAR(64)`` refused it, revision 0008), ``VARCHAR(64)`` on
    SQLite (which stores any length in it)."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return self.bind_text(value)

    bind_text = staticmethod(decimal_text)
    """The stored text of a value: what a statement binds (:class:`FastRecords` calls it directly, one call per value
    rather than the engine's processor chain)."""

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


class Units(TypeDecorator[int]):
    """An integer of any size, such as a token amount in raw base units (a u64 does not fit a BIGINT).

    ``NUMERIC(78, 0)`` on PostgreSQL (up to 2^256), exact decimal text elsewhere (SQLite would turn an
    integer beyond 64 bits into a float). Python sees an ``int`` either way.
    """

    impl = String(80)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(78, 0))
        return dialect.type_descriptor(String(80))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"unit columns take int, got {type(value).__name__}")
        return Decimal(value) if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Any) -> int | None:
        return None if value is None else int(value)


class AssetAmounts(TypeDecorator[dict[str, Decimal]]):
    """Amounts per asset (an order's fees in assets other than its quote) as a JSON object of exact decimal text,
    keys sorted: ``{"SOL":"0.000005"}``; ``{}`` for none. Text of any length on both databases."""

    impl = String()
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str:
        return self.bind_text(value)

    @staticmethod
    def bind_text(value: Any) -> str:
        """The stored text of a mapping of asset -> Decimal."""
        if not value:  # most orders: every fee in the quote or base asset
            return "{}"
        amounts = {}
        for asset, amount in sorted(value.items()):
            if not isinstance(amount, Decimal):
                raise TypeError(f"amounts per asset take Decimal, got {type(amount).__name__} for {asset!r}")
            amounts[str(asset)] = str(amount)
        return json.dumps(amounts, separators=(",", ":"))

    def process_result_value(self, value: Any, dialect: Any) -> dict[str, Decimal]:
        return {asset: Decimal(amount) for asset, amount in json.loads(value or "{}").items()}


def money(nullable: bool = False) -> Any:
    """A Field for an exact amount."""
    return Field(default=None if nullable else Decimal(0), sa_column=Column(DecimalText(), nullable=nullable))


def ns(*, index: bool = False) -> Any:
    """A Field for a timestamp in nanoseconds since the epoch (64-bit), 0 by default."""
    return Field(default=0, index=index, sa_type=BigInteger)


ROW_ID = BigInteger().with_variant(Integer(), "sqlite")
"""A row id: ``BIGINT`` (``BIGSERIAL``) on PostgreSQL, where ``SERIAL`` stops at 2^31 rows ever inserted (a log of
opportunities, markouts), and SQLite's ``INTEGER PRIMARY KEY``, its 64-bit row id (revision 0009)."""


def row_id() -> Any:
    """A Field for a table's row id (:data:`ROW_ID`), given by the database."""
    return Field(default=None, primary_key=True, sa_type=ROW_ID)


BOT_NAME_LEN = 64
"""The longest bot name (``[bot] name``) a ``bot`` column holds."""


def bot_field(*, primary_key: bool = False, index: bool = False) -> Any:
    """A Field for the name of the bot a row belongs to (several bots may share one database)."""
    return Field(default="", primary_key=primary_key, index=index, max_length=BOT_NAME_LEN)


def _db_type(inspector: Any, table: str, column: str) -> Any:
    """A column's type as the database has it."""
    return next(c["type"] for c in inspector.get_columns(table) if c["name"] == column)


def widen_row_id(conn: Connection, table: str, column: str = "id") -> None:
    """On PostgreSQL, make a ``SERIAL`` row id ``BIGINT``, and its sequence too (which would stop at 2^31 - 1)."""
    conn.execute(text(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE BIGINT'))
    sequence = conn.execute(text("SELECT pg_get_serial_sequence(:table, :column)"),
                            {"table": f'"{table}"', "column": column}).scalar()
    if sequence:
        conn.execute(text(f"ALTER SEQUENCE {sequence} AS BIGINT"))


def widen_int_columns(metadata: MetaData) -> None:
    """Make every plain ``Integer`` column a 64-bit ``BIGINT``, a primary key a :data:`ROW_ID`.

    SQLModel maps ``int`` to ``INTEGER``, 32 bits on PostgreSQL: a nanosecond timestamp there fails
    with "integer out of range", a row id past 2^31 rows with "reached maximum value of sequence".
    Applied to every table (plugins' too) before tables are created.
    """
    for table in metadata.tables.values():
        for column in table.columns:
            if type(column.type) is Integer:
                column.type = ROW_ID if column.primary_key else BigInteger()


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("bot", "client_order_id", name="uq_orders_bot_client_order_id"),)

    id: int | None = row_id()
    bot: str = bot_field()
    client_order_id: str
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
    created_ns: int = ns()
    updated_ns: int = ns()
    closes: str | None = None
    """The client order id of the order whose lot this one closes (None: FIFO)."""
    other_fees: dict[str, Decimal] = Field(
        default_factory=dict, sa_column=Column(AssetAmounts(), nullable=False, server_default="{}"))
    """Its fills' fees in neither its base nor its quote asset, per asset (``fee`` is the rest, in quote)."""


class FillRow(SQLModel, table=True):
    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("bot", "exchange", "trade_id", name="uq_fills_bot_exchange_trade_id"),)

    id: int | None = row_id()
    bot: str = bot_field()
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
    ts_ns: int = ns(index=True)


class BalanceSnapshotRow(SQLModel, table=True):
    __tablename__ = "balance_snapshots"

    id: int | None = row_id()
    bot: str = bot_field(index=True)
    ts_ns: int = ns(index=True)
    exchange: str
    asset: str
    free: Decimal = money()
    total: Decimal = money()


class RiskEventRow(SQLModel, table=True):
    __tablename__ = "risk_events"

    id: int | None = row_id()
    bot: str = bot_field(index=True)
    ts_ns: int = ns(index=True)
    check_name: str
    strategy: str = ""
    exchange: str = ""
    symbol: str = ""
    action: str = "veto"
    reason: str
    details: str = "{}"
    """JSON object of the figures (decimal values as strings)."""


ID_EPOCH_ROWS = "key = 'id_epoch'"
"""The rows of ``bot_state`` that ``ux_bot_state_id_epoch`` covers."""


class StateRow(SQLModel, table=True):
    """Small host facts that must outlive a restart (e.g. an operator's ``/observe on``)."""

    __tablename__ = "bot_state"
    __table_args__ = (Index("ux_bot_state_id_epoch", "value", unique=True, sqlite_where=text(ID_EPOCH_ROWS)),)
    """No two bots of one database share a client order id epoch (:mod:`bot.identity`). A partial index on both
    databases: PostgreSQL's ``WHERE`` is added by a PostgreSQL store (:func:`_postgresql_index_options`), since
    naming a ``postgresql_`` option here would import that dialect into every process that imports the store."""

    bot: str = bot_field(primary_key=True)
    key: str = Field(primary_key=True)
    value: str
    updated_ns: int = ns()


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = row_id()
    bot: str = bot_field(index=True)
    ts_ns: int = ns(index=True)
    transport: str
    user_id: str
    chat_id: str = ""
    role: str = ""
    command: str
    args: str = ""
    outcome: str


class TransferRow(SQLModel, table=True):
    """A transfer of funds between two venues (``bot.domain.Transfer``): stored before it is sent."""

    __tablename__ = "transfers"

    bot: str = bot_field(primary_key=True)
    transfer_id: str = Field(primary_key=True)
    asset: str
    amount: Decimal = money()
    source: str
    destination: str
    address: str
    fee: Decimal = money()
    network_fee: Decimal = money()
    network_fee_asset: str | None = None
    expected_s: float | None = None
    status: str = Field(index=True)
    venue_ref: str = ""
    reason: str = ""
    created_ns: int = ns(index=True)
    updated_ns: int = ns()


class MarkoutRow(SQLModel, table=True):
    """The mid of a fill's market some seconds after it (:mod:`bot.markouts`): one row per fill and horizon."""

    __tablename__ = "markouts"
    __table_args__ = (UniqueConstraint("bot", "exchange", "trade_id", "horizon_s",
                                       name="uq_markouts_bot_exchange_trade_id_horizon_s"),)

    id: int | None = row_id()
    bot: str = bot_field()
    exchange: str
    trade_id: str
    horizon_s: int
    mid: Decimal = money()
    ts_ns: int = ns()
    """When the sampled mid was published (at or before the fill's time + the horizon)."""


def table_of(row: type[SQLModel]) -> Table:
    """The Core table of a SQLModel table class."""
    table: Table = row.__table__  # type: ignore[attr-defined]
    return table


ORDERS, FILLS = table_of(OrderRow), table_of(FillRow)
STRATEGY_CLAIM = "strategy:"
"""``bot_state`` key prefix of the strategy names a bot claimed at start (:meth:`Store.claim_strategies`)."""
CLAIMS_LOCK = 0x61726263
"""PostgreSQL advisory lock key (with the schema's hash) under which a bot checks and claims its strategy names."""
MARKOUTS = table_of(MarkoutRow)
HOST_TABLES = (ORDERS, FILLS, *(table_of(r) for r in (BalanceSnapshotRow, RiskEventRow, StateRow, AuditRow,
                                                       TransferRow)), MARKOUTS)
"""The host's tables: their shape is owned by the migrations in ``bot/store/migrations``."""


DISPOSABLE_COMMIT_EVERY = 1000
"""A disposable store's records are committed in batches of this many statements (:meth:`Store.disposable`)."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, *, durable: bool = True) -> None:
    """Every connection of a SQLite store: WAL, ``synchronous=NORMAL`` (a commit survives a killed process; a
    power loss may lose the commits since the last checkpoint, see ``docs/architecture.md``). A disposable store
    (``durable=False``): ``synchronous=OFF``, nothing fsynced, not even at a checkpoint."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL" if durable else "PRAGMA synchronous=OFF")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _disposable_pragmas(dbapi_conn: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_conn, record, durable=False)


def _read_only_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Every connection of a SQLite store opened only to read (:meth:`Store.read_only`): ``query_only``, and the
    journal mode left as the file has it (``journal_mode=WAL`` rewrites the header of a rollback-journal file)."""
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA query_only=ON")
    cur.close()


def _read_only_session(dbapi_conn: Any, _record: Any) -> None:
    """Every connection of a PostgreSQL store opened only to read (:meth:`Store.read_only`)."""
    cur = dbapi_conn.cursor()
    cur.execute("SET SESSION default_transaction_read_only = on")
    cur.close()
    dbapi_conn.commit()  # the SET holds for the session once its transaction is committed


def _table(table: Table | type[SQLModel]) -> Table:
    found = table if isinstance(table, Table) else getattr(table, "__table__", None)
    if not isinstance(found, Table):
        raise TypeError(f"{table!r} is not a table (a SQLModel class with table=True, or a Table)")
    return found


def engine_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` select psycopg 3 (the ``postgres`` extra)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _postgresql_index_options() -> None:
    """Give ``ux_bot_state_id_epoch`` PostgreSQL's ``WHERE`` (as revision 0007 made it there): set by a PostgreSQL
    store, whose engine has imported that dialect, before it creates or compares any table. Setting it again is
    the same."""
    for index in table_of(StateRow).indexes:
        if index.name == "ux_bot_state_id_epoch":
            index.dialect_kwargs["postgresql_where"] = text(ID_EPOCH_ROWS)


def conflict_insert(dialect: str) -> Callable[..., Any] | None:
    """The dialect's ``insert`` that takes ``ON CONFLICT`` (SQLite's or PostgreSQL's), None for another database.
    PostgreSQL's dialect is imported only here and by a PostgreSQL engine: about 2 MB that a SQLite store (the
    demo's) does without."""
    if dialect == "sqlite":
        return sqlite.insert
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    return None


NUL_STAND_IN = "\ufffd"
"""What a NUL character of free text is stored as: PostgreSQL's text refuses NUL (a ``DataError``, which no retry
cures), so a venue's error text holding one would hold back every later write of its batch; SQLite stores the same."""


def free_text(text: str) -> str:
    """Free text (a venue's error, an operator's command) as the store writes it: known secrets masked, a NUL
    character replaced by :data:`NUL_STAND_IN`."""
    text = REDACTOR.redact(text)
    return text.replace("\x00", NUL_STAND_IN) if "\x00" in text else text


def row_to_order(row: OrderRow | Row[Any]) -> Order:
    return Order(
        client_order_id=row.client_order_id, strategy=row.strategy, exchange=row.exchange, symbol=row.symbol,
        side=Side(row.side), qty=row.qty, price=row.price, order_type=OrderType(row.order_type),
        tif=TimeInForce(row.tif), post_only=row.post_only, status=OrderStatus(row.status),
        exchange_order_id=row.exchange_order_id, filled_qty=row.filled_qty, avg_fill_price=row.avg_fill_price,
        fee=row.fee, reason=row.reason, created_ns=row.created_ns, updated_ns=row.updated_ns, closes=row.closes,
        other_fees=row.other_fees,
    )


def order_values(order: Order) -> dict[str, Any]:
    """The ``orders`` columns of a new order (Core insert parameters)."""
    return dict(
        client_order_id=order.client_order_id, strategy=order.strategy, exchange=order.exchange,
        symbol=order.symbol, side=order.side.value, order_type=order.order_type.value, tif=order.tif.value,
        post_only=order.post_only, price=order.price, qty=order.qty, status=order.status.value,
        exchange_order_id=order.exchange_order_id, filled_qty=order.filled_qty,
        avg_fill_price=order.avg_fill_price, fee=order.fee, reason=free_text(order.reason),
        created_ns=order.created_ns, updated_ns=order.updated_ns, closes=order.closes, other_fees=order.other_fees,
    )


def fill_values(fill: Fill, strategy: str, bot: str | None = None) -> dict[str, Any]:
    """The ``fills`` columns of a fill (Core insert parameters); with ``bot``, its ``bot`` column too."""
    values = dict(
        exchange=fill.exchange, trade_id=fill.trade_id, client_order_id=fill.client_order_id, strategy=strategy,
        symbol=fill.symbol, side=fill.side.value, price=fill.price, qty=fill.qty, fee=fill.fee,
        fee_asset=fill.fee_asset, liquidity=fill.liquidity.value, ts_ns=fill.ts_ns,
    )
    if bot is not None:
        values["bot"] = bot
    return values


def _order_changes(o: Order, bot: str | None = None) -> dict[str, Any]:
    """What :meth:`Store.write_batch` sets on a stored order (keyed by ``client_order_id``, and ``bot`` if given)."""
    changes = {"client_order_id": o.client_order_id, "status": o.status.value,
               "exchange_order_id": o.exchange_order_id, "filled_qty": o.filled_qty,
               "avg_fill_price": o.avg_fill_price, "fee": o.fee, "other_fees": o.other_fees,
               "reason": free_text(o.reason),
               "updated_ns": o.updated_ns}
    if bot is not None:
        changes["bot"] = bot
    return changes


def row_to_fill(row: FillRow | Row[Any]) -> Fill:
    return Fill(
        exchange=row.exchange, symbol=row.symbol, client_order_id=row.client_order_id, trade_id=row.trade_id,
        side=Side(row.side), price=row.price, qty=row.qty, fee=row.fee, fee_asset=row.fee_asset,
        liquidity=Liquidity(row.liquidity), ts_ns=row.ts_ns,
    )


class Store:
    """Tables and queries of one bot; every method may be called from any thread.

    Several bots may share one database (PostgreSQL): every row of the host's tables carries the name of
    the bot that wrote it (its ``bot`` column), and every query of a store reads and writes the rows of
    its own :attr:`bot` only. :meth:`scoped` gives the same database seen as another bot (``arbot report
    --all``), :meth:`bots` the bots that stored anything.
    """

    host_tables = HOST_TABLES
    """The host's own tables, whose schema :mod:`bot.store.migrate` keeps (it does not import this package)."""
    Error = StoreError

    def __init__(self, url: str, *, bot: str = "", migrate_wait_s: float = 60.0):
        self.bot = bot
        self._transfer_listeners: list[Callable[[Transfer], None]] = []
        """Called with each transfer :meth:`save_transfer` committed (:meth:`on_transfer_saved`)."""
        """The bot whose rows this store reads and writes (``[bot] name``); the upgrade of an older store
        gives this bot the rows stored before bots had names."""
        self.migrate_wait_s = migrate_wait_s
        """How long :meth:`open` waits for another bot's schema upgrade of a shared PostgreSQL database."""
        add_url(url)
        self.url = safe_url(url)
        """The URL as it may be shown: the password, if any, masked."""
        real = engine_url(url)
        kwargs: dict[str, Any] = {}
        if real.startswith("postgresql"):
            kwargs["connect_args"] = _pg_connect_args(real)
        if real.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False}
            if real in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool  # one in-memory database, whichever thread asks
        try:
            self.engine: Engine = create_engine(real, **kwargs)
        except ModuleNotFoundError as exc:
            extra = ": pip install 'arbot[postgres]'" if real.startswith("postgresql") else ""
            raise StoreError(f"store {self.url}: the database driver {exc.name} is not installed{extra}") from None
        except Exception as exc:  # ArgumentError and friends: the message may quote the URL
            raise StoreError(f"db_url is not a usable database URL ({type(exc).__name__}); expected "
                             '"sqlite:///PATH" or "postgresql://USER:PASSWORD@HOST:PORT/DB"') from None
        if self.engine.dialect.name == "postgresql":
            _postgresql_index_options()
        self._closed = threading.Event()
        """Set by :meth:`close`; shared with the views of :meth:`scoped` (one engine, closed once)."""
        self._leases: set[Releasable] = set()
        """The leases held on this store or its views (:mod:`.lease`), ended by :meth:`close`; shared with the views."""
        self._leases_lock = threading.Lock()
        self._reads = StoreReads(self.url, StoreClosed)
        """The threads of :meth:`read_off_loop`; shared with the views."""
        event.listen(self.engine, "do_connect", self._refuse_connect)
        self.fast: FastRecords | None = None
        """Single-statement commits on a dedicated connection per thread (file-backed SQLite only)."""
        self._disposable = False
        if real.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            path = self.engine.url.database
            if path and path != ":memory:" and not path.startswith("file:"):
                self.fast = FastRecords(self.engine, path, _sqlite_pragmas)
        dialect = self.engine.dialect.name
        orders, fills = ORDERS, FILLS
        self._insert_order: Executable
        self._insert_fill: Executable
        ins = conflict_insert(dialect)
        if ins is not None:
            self._insert_order = ins(orders).on_conflict_do_nothing().returning(orders.c.id)
            self._insert_fill = ins(fills).on_conflict_do_nothing().returning(fills.c.id)
            self._conflict_is_error = False
        else:
            self._insert_order, self._insert_fill = insert(orders), insert(fills)
            self._conflict_is_error = True

    def disposable(self, commit_every: int = DISPOSABLE_COMMIT_EVERY) -> None:
        """Make this store one that a crash makes the caller re-create, never recover: a backtest's (the backtest
        driver calls this before the bot starts, the one place these settings are decided). A file-backed SQLite
        store then fsyncs nothing (``synchronous=OFF``; WAL stays, the cheapest commit) and commits its records in
        batches of ``commit_every`` statements (:attr:`FastRecords.commit_every`), before any engine connection is
        checked out and at close: every read sees every record, and the rows stored are the same. It has one
        writing thread (a backtest's loop: its store writer runs inline). A kill or a power loss may lose any of
        it. Call it before the store's first connection (:meth:`open`); ``arbot run`` never does: its records stay
        durable one by one. Nothing changes on PostgreSQL or an in-memory database, but :attr:`is_disposable` says
        so on any store."""
        self.ensure_open()
        self._disposable = True
        fast = self.fast
        if fast is None:
            return
        event.remove(self.engine, "connect", _sqlite_pragmas)
        event.listen(self.engine, "connect", _disposable_pragmas)
        fast._pragmas = _disposable_pragmas
        fast.commit_every = commit_every
        event.listen(self.engine, "checkout", lambda *_: fast.flush())

    def read_only(self) -> Store:
        """Make every connection of this store read-only (a command that only reads: ``arbot report``): SQLite's
        ``query_only``, with the file's journal mode left as it is (a rollback-journal file stays one, byte for byte),
        PostgreSQL's ``default_transaction_read_only``. A write then fails. Connections opened before are closed.
        Returns the store."""
        self.ensure_open()
        self.engine.dispose()
        if self.engine.dialect.name == "sqlite":
            for pragmas in (_sqlite_pragmas, _disposable_pragmas):
                if event.contains(self.engine, "connect", pragmas):
                    event.remove(self.engine, "connect", pragmas)
            event.listen(self.engine, "connect", _read_only_pragmas)
            if self.fast is not None:
                self.fast._pragmas = _read_only_pragmas
        else:
            event.listen(self.engine, "connect", _read_only_session)
        return self

    @property
    def is_disposable(self) -> bool:
        """Whether this store is a backtest's (:meth:`disposable`): nobody reads it before the run ends, and a crash
        re-creates it rather than recovering it. A component writing a log of its own (rows that are not an order's
        record) may then keep its rows longer and write them in fewer, larger batches; what it decides must not
        depend on this."""
        return self._disposable

    def probe(self) -> None:
        """Connect once and disconnect, waiting at most :data:`PROBE_TIMEOUT_S` (a database server's; a SQLite
        file is opened by :meth:`open`). Raises :class:`StoreError`, ``unreachable`` when a later try may succeed."""
        self.ensure_open()
        dialect = self.engine.dialect
        if dialect.name != "postgresql":
            return
        cargs, cparams = dialect.create_connect_args(self.engine.url)
        try:
            dialect.connect(*cargs, **{**cparams, "connect_timeout": PROBE_TIMEOUT_S}).close()
        except dialect.loaded_dbapi.Error as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            unreachable, fix = connection_problem(reason)
            raise StoreError(f"store {self.url}: cannot connect: {REDACTOR.redact(reason)}{fix}",
                             unreachable=unreachable) from None

    def wait_reachable(self, wait_s: float, *, given_up: threading.Event | None = None) -> None:
        """Wait for a database server that cannot be reached yet (after a reboot PostgreSQL may come up after the
        bot, or after the cron job of a report), :meth:`probe` again with a bounded backoff for ``wait_s`` (``[bot]
        store_wait_s``); then raise its StoreError (``unreachable``). One that answers and refuses (a wrong password, a
        missing database) raises at once. The one owner of this wait: ``arbot run`` (in a worker thread, ``given_up``
        set when the start is abandoned: the pause ends at once) and every command that opens the store. A blocking
        call: never on the event loop."""
        given_up = given_up or threading.Event()
        deadline = time.monotonic() + wait_s
        delay_s = REACH_RETRY_FIRST_S
        while True:
            try:
                self.probe()
                return
            except StoreError as exc:
                left_s = deadline - time.monotonic()
                if not exc.unreachable or left_s <= 0 or given_up.is_set():
                    raise
                # what it means first: a log line may be cut (logs.MAX_LINE)
                log.warning("store cannot be reached yet; waiting for it, next try in %g s (up to [bot] store_wait_s "
                            "= %g s): %s", min(delay_s, left_s), wait_s, exc)
                if given_up.wait(min(delay_s, left_s)):
                    raise
                delay_s = min(delay_s * 2, REACH_RETRY_MAX_S)

    def open(self) -> Store:
        """Bring the schema up to date (see :func:`bot.store.migrate.upgrade`), then create plugin tables."""
        from .migrate import upgrade

        self.ensure_open()
        upgrade(self)
        widen_int_columns(SQLModel.metadata)
        self._guard(self._create_plugin_tables, "create the plugin tables")
        self._guard(self._widen_plugin_columns, "widen the plugin tables' columns")
        fast = self.fast
        if fast is not None:  # the opening thread's (the loop's) record connection, opened now like the pool's
            self._guard(lambda: fast.exists(ORDERS, {"bot": self.bot, "client_order_id": ""}),
                        "open the record connection")
        return self

    def _create_plugin_tables(self) -> None:
        """Create the tables of imported plugins that are missing, under the schema lock (bots starting together
        on one PostgreSQL database would otherwise both create them)."""
        from .migrate import lock_schema

        with self.engine.begin() as conn:
            existing = set(inspect(conn).get_table_names())
            if set(SQLModel.metadata.tables) - existing:
                lock_schema(self, conn)
                SQLModel.metadata.create_all(conn)

    def _widen_plugin_columns(self) -> None:
        """On PostgreSQL, widen what an older store made narrow in a plugin's table (a plugin's tables are its models,
        created at open; revisions 0008 and 0009 widen the host's): a money column ``VARCHAR(64)`` becomes ``VARCHAR``
        of any length, a ``SERIAL`` row id ``BIGINT`` (its sequence too)."""
        if self.engine.dialect.name != "postgresql":
            return
        from .migrate import lock_schema

        host = {t.name for t in HOST_TABLES}
        with self.engine.begin() as conn:
            inspector = inspect(conn)
            existing = set(inspector.get_table_names())
            narrow_money, narrow_ids = [], []
            for table in SQLModel.metadata.tables.values():
                if table.name not in existing - host:
                    continue
                for column in table.columns:
                    if isinstance(column.type, DecimalText) or (column.primary_key and
                                                                isinstance(column.type, BigInteger)):
                        found = _db_type(inspector, table.name, column.name)
                        if isinstance(column.type, DecimalText) and getattr(found, "length", None) is not None:
                            narrow_money.append((table.name, column.name))
                        elif isinstance(column.type, BigInteger) and not isinstance(found, (BigInteger, String)):
                            narrow_ids.append((table.name, column.name))
            if narrow_money or narrow_ids:
                lock_schema(self, conn)
                for table_name, column_name in narrow_money:
                    conn.execute(text(f'ALTER TABLE "{table_name}" ALTER COLUMN "{column_name}" TYPE VARCHAR'))
                for table_name, column_name in narrow_ids:
                    widen_row_id(conn, table_name, column_name)
                log.info("plugin columns widened: %s", ", ".join(f"{t}.{c}" for t, c in narrow_money + narrow_ids))

    def scoped(self, bot: str) -> Store:
        """This database as the store of ``bot``: the same engine and connections, that bot's rows.

        Reading another bot's rows is for fleet reports; a bot writes only through its own store. The view
        shares this store's engine: close this store, not the view.
        """
        if bot == self.bot:
            return self
        view = copy.copy(self)
        view.bot = bot
        view._transfer_listeners = []  # another bot's transfers are not this bot's listeners' business
        return view

    def has_table(self, table: Table | type[SQLModel]) -> bool:
        """True when ``table`` exists in this database. A plugin's tables are created by :meth:`open` only once its
        models are imported: a store where none of its components ran (``arbot report`` on a grid's store reading
        the arb plugin's section) may have none."""
        return inspect(self.engine).has_table(_table(table).name)

    def bots(self) -> list[str]:
        """Every bot with a row in the host's tables (orders, fills, balances, risk events, ...), sorted."""
        names: set[str] = set()
        with self.engine.connect() as conn:
            for table in HOST_TABLES:
                names.update(conn.execute(core_select(table.c.bot).distinct()).scalars())
        return sorted(names)

    def strategies(self) -> list[str]:
        """The strategies this bot trades under, sorted: the names its orders carry and those it claimed at start
        (:meth:`claim_strategies`; one that has only observed has stored no order). Strategy names are unique
        across the bots of a database, so plugin rows keyed by these names are its own."""
        t, state = ORDERS, table_of(StateRow)
        with self.engine.connect() as conn:
            names = set(conn.execute(core_select(t.c.strategy).where(t.c.bot == self.bot).distinct()).scalars())
            names.update(conn.execute(core_select(state.c.value).where(
                state.c.bot == self.bot, state.c.key.startswith(STRATEGY_CLAIM, autoescape=True))).scalars())
        return sorted(names)

    def claim_strategies(self, names: Iterable[str], ts_ns: int | None = None) -> dict[str, str]:
        """Claim ``names`` for this bot (``bot_state`` rows ``strategy:<name>``, seen by another bot of the database
        before this one stores any order: :meth:`other_bots`), unless another bot holds one of them: then nothing is
        claimed and the taken ones are returned (name -> that bot).

        The check and the claim are one step: two bots starting together under one name cannot both get it. On
        PostgreSQL the claims lock (an advisory transaction lock) orders them; on SQLite the claim is written first,
        which takes the file's write lock, and read back against the others' in the same transaction.
        """
        names = list(names)
        state = table_of(StateRow)
        ts = ts_ns or time.time_ns()
        with self.engine.connect() as conn, conn.begin() as tx:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:lock, hashtext(current_schema()))"),
                             {"lock": CLAIMS_LOCK})
            keys = [STRATEGY_CLAIM + name for name in names]
            conn.execute(delete(state).where(state.c.bot == self.bot, state.c.key.in_(keys)))
            if names:
                conn.execute(insert(state), [{"bot": self.bot, "key": STRATEGY_CLAIM + name, "value": name,
                                              "updated_ns": ts} for name in names])
            taken = self._other_bots(conn, names, None)
            if taken:
                tx.rollback()
        return taken

    def other_bots(self, *, strategies: Iterable[str] = (), client_order_id: str | None = None) -> dict[str, str]:
        """*Other* bots of this database: strategy name -> a bot that stored orders under it or claimed it
        (:meth:`claim_strategies`), for ``strategies``; and ``client_order_id`` -> the bot that stored an order
        with that id, when given."""
        with self.engine.connect() as conn:
            return self._other_bots(conn, list(strategies), client_order_id)

    def _other_bots(self, conn: Connection, names: list[str], client_order_id: str | None) -> dict[str, str]:
        t, state = ORDERS, table_of(StateRow)
        out: dict[str, str] = {}
        if names:
            q = core_select(t.c.strategy, t.c.bot).where(t.c.bot != self.bot, t.c.strategy.in_(names)).distinct()
            out.update({strategy: bot for strategy, bot in conn.execute(q)})
            claims = core_select(state.c.value, state.c.bot).where(
                state.c.bot != self.bot, state.c.key.in_([STRATEGY_CLAIM + n for n in names]))
            for strategy, bot in conn.execute(claims):
                out.setdefault(strategy, bot)
        if client_order_id is not None:
            q = core_select(t.c.bot).where(t.c.bot != self.bot, t.c.client_order_id == client_order_id).limit(1)
            found = conn.execute(q).scalar()
            if found is not None:
                out[client_order_id] = found
        return out

    def _guard(self, action: Callable[[], T], what: str) -> T:
        """Run ``action``; a database error becomes a StoreError naming the store (password masked)."""
        from sqlalchemy.exc import DBAPIError, OperationalError

        try:
            return action()
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
            unreachable, fix = (connection_problem(reason) if self.engine.dialect.name == "postgresql"
                                else (False, ""))
            raise StoreError(f"store {self.url}: cannot {what}: {REDACTOR.redact(reason)}{fix}",
                             unreachable=unreachable) from None
        except DBAPIError as exc:
            raise StoreError(f"store {self.url}: cannot {what}: {REDACTOR.redact(str(exc.orig).strip())}") from None

    def close(self) -> None:
        """Close every connection; from now on every use of this store (and of its :meth:`scoped` views) raises
        :class:`StoreClosed` and opens none. A lease still held on it is released, within
        :data:`~bot.store.lease.LEASE_RELEASE_S` (one not released by then is logged by name). Closing again does
        nothing."""
        if self._closed.is_set():
            return
        self._closed.set()  # first: a connection asked for from now on is refused, not opened behind the close
        self._reads.close()
        with self._leases_lock:  # a lease its holder did not release: freed for the process taking over, and its
            held = list(self._leases)  # connection closed (the writer closed before: after every write)
        if held and (left := end_leases(held)):  # a server that does not answer holds no close (a bound)
            log.error("store %s closed with lease(s) %s not released: the database did not answer within %g s; the "
                      "server frees them when their sessions end", self.url, ", ".join(sorted(left)),
                      LEASE_RELEASE_S)
        if self.fast is not None:
            self.fast._pragmas = self._refuse_record_connection
            self.fast.close()
        self.engine.dispose()

    async def read_off_loop(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, a read of this store (``fn`` writes nothing), on one of the store's own read
        threads (:mod:`bot.store.reads`), never on the loop nor on its default executor: a database slow to answer,
        or not answering (a PostgreSQL server stopped), holds this caller, never the loop, and at most
        :data:`~bot.store.reads.READ_THREADS` threads, whatever the number of callers. The same read (the same
        ``fn``, equal hashable arguments) asked while one is in progress joins it: one query, each caller given its
        own copy of the answer. A read that cannot get a thread raises :class:`ReadRefused` ("the database is not
        answering") at once, or after waiting :data:`~bot.store.reads.READ_WAIT_S` at most; it never queues without
        bound. Not ordered with the writes handed to the store writer (``ctx.read_later`` is).
        :class:`StoreClosed` once the store is closed."""
        self.ensure_open()
        return await self._reads.read(fn, *args, **kwargs)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (on this store or the one it is a view of)."""
        return self._closed.is_set()

    def ensure_open(self) -> None:
        if self._closed.is_set():
            raise StoreClosed(f"store {self.url} is closed: it can no longer be read or written "
                              "(a call made after the bot or command that opened it stopped)")

    def _refuse_connect(self, *_args: Any) -> None:
        """The engine's ``do_connect``: no new connection of a closed store (checked before any is opened)."""
        self.ensure_open()

    def _refuse_record_connection(self, dbapi_conn: Any, _record: Any) -> None:
        """A closed store's record connection (file-backed SQLite), just opened by :class:`FastRecords`: closed at
        once, and the call refused."""
        dbapi_conn.close()
        self.ensure_open()

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

    def _insert_once(self, statement: Any, values: dict[str, Any]) -> bool:
        """Insert a row unless it clashes with a unique key; True if it was written."""
        try:
            with self.engine.begin() as conn:
                result = conn.execute(statement, values)
                return result.first() is not None if result.returns_rows else result.rowcount == 1
        except IntegrityError:
            if self._conflict_is_error:
                return False
            raise

    # --- orders ---------------------------------------------------------------------------

    @property
    def records_inline(self) -> bool:
        """True when :meth:`record` and ``insert_order(wait=False)`` commit in microseconds on the calling
        thread (file-backed SQLite); False when a commit is a round trip (PostgreSQL, in-memory SQLite)."""
        return self.fast is not None

    def insert_order(self, order: Order, *, wait: bool = True) -> bool:
        """Persist a new order. False if its client order id already exists (nothing written).

        ``wait=False`` (file-backed SQLite: :attr:`records_inline`): the fast durable record on the calling
        thread's dedicated connection, raising :class:`StoreBusy` at once if another writer holds the lock
        (nothing written); the caller then writes it with a wait, on the store writer's thread."""
        if not wait and self.fast is not None:
            return self.fast.insert_once(ORDERS, self._order_values(order), 0)
        return self._insert_once(self._insert_order, self._order_values(order))

    def _order_values(self, order: Order) -> dict[str, Any]:
        values = order_values(order)
        values["bot"] = self.bot
        return values

    def record(self, table: Table | type[SQLModel], values: dict[str, Any]) -> bool:
        """The fast durable record: insert one row of a plugin's table, committed when this returns.

        False (nothing written) when it clashes with a unique key. On a file-backed SQLite store one
        statement in autocommit on a dedicated connection of the calling thread (tens of microseconds;
        durable across a killed process, see "The order path" in ``docs/architecture.md``); elsewhere
        an ordinary transaction. Waits for another writer's lock as the thread's other writes do.
        """
        table = _table(table)
        if self.fast is not None:
            return self.fast.insert_once(table, values)
        ins = conflict_insert(self.engine.dialect.name)
        if ins is not None:
            return self._insert_once(ins(table).on_conflict_do_nothing().returning(*table.primary_key.columns),
                                     values)
        try:
            return self._insert_once(insert(table), values)
        except IntegrityError:
            return False

    def record_many(self, table: Table | type[SQLModel], rows: list[dict[str, Any]], *, wait: bool = True) -> None:
        """Insert rows of a plugin's table (each with the same columns) in one transaction; a row clashing
        with a unique key is skipped. On a file-backed SQLite store one ``executemany`` on the calling
        thread's record connection, which holds the lock only for it and never checkpoints (a log
        of opportunities written from the loop); elsewhere an ordinary transaction. ``wait=False``
        (file-backed SQLite): raise :class:`StoreBusy` at once, nothing written, when another writer
        holds the lock (keep the rows for a later attempt)."""
        table = _table(table)
        if not rows:
            return
        if self.fast is not None:
            self.fast.insert_many(table, rows, None if wait else 0)
            return
        ins = conflict_insert(self.engine.dialect.name)
        if ins is not None:
            with self.engine.begin() as conn:
                conn.execute(ins(table).on_conflict_do_nothing(), rows)
            return
        with self.engine.begin() as conn:
            conn.execute(insert(table), rows)

    def record_update(self, table: Table | type[SQLModel], where: dict[str, Any], values: dict[str, Any]) -> int:
        """Set ``values`` on the rows of a plugin's table matching every ``where`` column, committed when this
        returns (the same path as :meth:`record`); the number of rows changed."""
        table = _table(table)
        if self.fast is not None:
            return self.fast.update(table, where, values)
        stmt = update(table).values(**values)
        for name, value in where.items():
            stmt = stmt.where(table.c[name] == value)
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).rowcount)

    def write_batch(self, orders: list[Order], fills: list[tuple[str, Fill]], *, wait: bool = True) -> None:
        """Store order changes and new fills in one transaction (Core statements: this runs often).

        Orders must already exist (the executor inserts each before sending it); a fill already
        stored (same exchange and trade id) is skipped. On a file-backed SQLite store: two
        ``executemany`` on the calling thread's record connection (:meth:`FastRecords.write`), the
        lock held only while SQLite runs them. ``wait=False`` (file-backed SQLite: :attr:`records_inline`):
        raise :class:`StoreBusy` at once, nothing written, when another writer holds the lock.
        """
        if self.fast is not None:
            bot = self.bot
            self.fast.write(updates=[(ORDERS, ("bot", "client_order_id"), [_order_changes(o, bot) for o in orders])],
                            inserts=[(FILLS, [fill_values(fill, strategy, bot) for strategy, fill in fills])],
                            wait_ms=None if wait else 0)
            return
        with self.engine.begin() as conn:
            if orders:
                table = ORDERS
                rows = [_order_changes(o) for o in orders]
                for row in rows:
                    row["cid"] = row.pop("client_order_id")
                conn.execute(update(table).where(table.c.bot == self.bot, table.c.client_order_id == bindparam("cid")),
                             rows)
            if fills:
                table = FILLS
                stored = {tuple(r) for r in conn.execute(
                    select(table.c.exchange, table.c.trade_id).where(
                        table.c.bot == self.bot, table.c.trade_id.in_([f.trade_id for _, f in fills])))}
                rows = []
                for strategy, fill in fills:
                    if (fill.exchange, fill.trade_id) not in stored:
                        stored.add((fill.exchange, fill.trade_id))
                        rows.append(fill_values(fill, strategy, self.bot))
                if rows:
                    # another process of this bot (a standby taking over) may store one of these fills after
                    # the check above: skip it, as the SQLite path does, rather than fail the whole batch
                    ins = conflict_insert(conn.dialect.name)
                    if ins is not None:
                        conn.execute(ins(table).on_conflict_do_nothing(), rows)
                    else:
                        conn.execute(insert(table), rows)

    def order_exists(self, client_order_id: str) -> bool:
        """Whether an order with this client order id is stored (cheaper than :meth:`get_order`)."""
        if self.fast is not None:
            return self.fast.exists(ORDERS, {"bot": self.bot, "client_order_id": client_order_id})
        return self.get_order(client_order_id) is not None

    def recent_client_ids(self, limit: int) -> list[str]:
        """The client order ids of this bot's latest ``limit`` stored orders, newest first."""
        t = ORDERS
        with self.engine.connect() as conn:
            rows = conn.execute(core_select(t.c.client_order_id).where(t.c.bot == self.bot)
                                .order_by(t.c.id.desc()).limit(limit))
            return [row[0] for row in rows]

    def fill_stored(self, exchange: str, trade_id: str) -> bool:
        """Whether this fill is stored (by the unique key a fill has: its exchange and trade id)."""
        where = {"bot": self.bot, "exchange": exchange, "trade_id": trade_id}
        if self.fast is not None:
            return self.fast.exists(FILLS, where)
        with self.session() as s:
            return s.exec(select(FillRow.id).where(FillRow.bot == self.bot, FillRow.exchange == exchange,
                                                   FillRow.trade_id == trade_id)).first() is not None

    def get_order(self, client_order_id: str) -> Order | None:
        with self.session() as s:
            row = s.exec(select(OrderRow).where(OrderRow.bot == self.bot,
                                                OrderRow.client_order_id == client_order_id)).first()
            return row_to_order(row) if row else None

    def unfinished_client_ids(self, exchange: str) -> list[str]:
        """Client order ids of the orders on ``exchange`` not known to be final, stored by *any* bot of this database
        (the start-up check reads back ids a venue got derived from ours against them)."""
        t = ORDERS
        unfinished = [st.value for st in OrderStatus if not st.terminal]
        q = core_select(t.c.client_order_id).where(t.c.exchange == exchange, t.c.status.in_(unfinished))
        with self.engine.connect() as conn:
            return [cid for (cid,) in conn.execute(q)]

    def orders(self, *, statuses: Iterable[OrderStatus] | None = None, strategy: str | None = None,
               limit: int | None = None) -> list[Order]:
        with self.session() as s:
            q = select(OrderRow).where(OrderRow.bot == self.bot)
            if statuses is not None:
                q = q.where(col(OrderRow.status).in_([st.value for st in statuses]))
            if strategy is not None:
                q = q.where(OrderRow.strategy == strategy)
            q = q.order_by(col(OrderRow.id).desc() if limit else col(OrderRow.id))
            if limit:
                q = q.limit(limit)
            return [row_to_order(r) for r in s.exec(q).all()]

    def order_page(self, *, strategy: str | None = None, exchange: str | None = None,
                   statuses: Iterable[str] | None = None, since_ns: int | None = None, until_ns: int | None = None,
                   limit: int = 100, offset: int = 0) -> list[Order]:
        """Orders created in ``[since_ns, until_ns)``, filtered, newest first (in the order they were
        stored, which is the order they were created); one page of them. Core rows, no ORM objects:
        a console polls this."""
        t = ORDERS
        q = core_select(t).where(t.c.bot == self.bot)
        if strategy is not None:
            q = q.where(t.c.strategy == strategy)
        if exchange is not None:
            q = q.where(t.c.exchange == exchange)
        if statuses is not None:
            q = q.where(t.c.status.in_(list(statuses)))
        if since_ns is not None:
            q = q.where(t.c.created_ns >= since_ns)
        if until_ns is not None:
            q = q.where(t.c.created_ns < until_ns)
        q = q.order_by(t.c.id.desc()).offset(offset).limit(limit)
        with self.engine.connect() as conn:
            return [row_to_order(r) for r in conn.execute(q)]

    def closes(self, *, strategy: str | None = None) -> dict[str, str]:
        """Client order id -> the client order id of the order whose lot it closes, for orders that name one."""
        table = ORDERS
        q = select(table.c.client_order_id, table.c.closes).where(table.c.bot == self.bot, table.c.closes.is_not(None))
        if strategy is not None:
            q = q.where(table.c.strategy == strategy)
        with self.engine.connect() as conn:
            return {cid: closes for cid, closes in conn.execute(q)}

    # --- fills ----------------------------------------------------------------------------

    def insert_fill(self, fill: Fill, strategy: str) -> bool:
        """Persist a fill once; False if this (exchange, trade_id) is already stored."""
        return self._insert_once(self._insert_fill, fill_values(fill, strategy, self.bot))

    def fills(self, *, strategy: str | None = None, since_ns: int | None = None,
              client_order_id: str | None = None) -> list[tuple[str, Fill]]:
        """(strategy, fill) pairs in time order; optionally of one strategy, since a time, of one order (indexed)."""
        with self.session() as s:
            q = select(FillRow).where(FillRow.bot == self.bot)
            if client_order_id is not None:
                q = q.where(FillRow.client_order_id == client_order_id)
            if strategy is not None:
                q = q.where(FillRow.strategy == strategy)
            if since_ns is not None:
                q = q.where(FillRow.ts_ns >= since_ns)
            q = q.order_by(col(FillRow.ts_ns), col(FillRow.id))
            return [(r.strategy, row_to_fill(r)) for r in s.exec(q).all()]

    def fills_page(self, after: tuple[int, int] | None,
                   limit: int) -> tuple[list[tuple[str, Fill]], tuple[int, int] | None]:
        """Up to ``limit`` (strategy, fill) pairs in time order after the place ``after`` (None: from the first),
        and the place of the last one (None: none left). Every fill, a page at a time: each page is a short read,
        so writes handed to the store writer's thread meanwhile run between the pages, not after them all."""
        with self.session() as s:
            q = select(FillRow).where(FillRow.bot == self.bot)
            if after is not None:
                ts_ns, row_id = after
                q = q.where(or_(col(FillRow.ts_ns) > ts_ns,
                                and_(col(FillRow.ts_ns) == ts_ns, col(FillRow.id) > row_id)))
            rows = s.exec(q.order_by(col(FillRow.ts_ns), col(FillRow.id)).limit(limit)).all()
            if not rows:
                return [], None
            last = rows[-1]
            assert last.id is not None  # a stored row
            return [(r.strategy, row_to_fill(r)) for r in rows], (last.ts_ns, last.id)

    # --- markouts -------------------------------------------------------------------------

    def insert_markouts(self, rows: list[dict[str, Any]]) -> None:
        """Store markout samples (``exchange``, ``trade_id``, ``horizon_s``, ``mid``, ``ts_ns``); one already
        stored for that fill and horizon is kept."""
        if not rows:
            return
        rows = [{**row, "bot": self.bot} for row in rows]
        if self.fast is not None:  # one executemany on the calling thread's record connection (the loop's)
            self.fast.insert_many(MARKOUTS, rows)
            return
        ins = conflict_insert(self.engine.dialect.name)
        if ins is not None:
            with self.engine.begin() as conn:
                conn.execute(ins(MARKOUTS).on_conflict_do_nothing(), rows)
            return
        for row in rows:
            self._insert_once(insert(MARKOUTS), row)

    def markouts(self) -> dict[tuple[str, str], dict[int, Decimal]]:
        """(exchange, trade_id) -> horizon_s -> the sampled mid."""
        out: dict[tuple[str, str], dict[int, Decimal]] = {}
        t = MARKOUTS
        with self.engine.connect() as conn:
            for exchange, trade_id, horizon, mid in conn.execute(
                    select(t.c.exchange, t.c.trade_id, t.c.horizon_s, t.c.mid).where(t.c.bot == self.bot)):
                out.setdefault((exchange, trade_id), {})[horizon] = mid
        return out

    def fill_page(self, *, strategy: str | None = None, exchange: str | None = None, since_ns: int | None = None,
                  until_ns: int | None = None, limit: int = 100, offset: int = 0) -> list[tuple[str, Fill]]:
        """(strategy, fill) pairs of the fills in ``[since_ns, until_ns)``, newest first; one page of them."""
        t = FILLS
        q = core_select(t).where(t.c.bot == self.bot)
        if strategy is not None:
            q = q.where(t.c.strategy == strategy)
        if exchange is not None:
            q = q.where(t.c.exchange == exchange)
        if since_ns is not None:
            q = q.where(t.c.ts_ns >= since_ns)
        if until_ns is not None:
            q = q.where(t.c.ts_ns < until_ns)
        q = q.order_by(t.c.ts_ns.desc(), t.c.id.desc()).offset(offset).limit(limit)
        with self.engine.connect() as conn:
            return [(r.strategy, row_to_fill(r)) for r in conn.execute(q)]

    # --- records --------------------------------------------------------------------------

    def record_risk_event(self, *, check_name: str, reason: str, strategy: str = "", exchange: str = "",
                          symbol: str = "", action: str = "veto", details: dict[str, Any] | None = None,
                          ts_ns: int | None = None) -> None:
        with self.session() as s:
            s.add(RiskEventRow(
                bot=self.bot, ts_ns=ts_ns or time.time_ns(), check_name=check_name, strategy=strategy,
                exchange=exchange, symbol=symbol, action=action, reason=free_text(reason),
                details=free_text(json.dumps(details or {}, default=str)),
            ))

    def risk_events(self, limit: int = 20, *, trips_only: bool = False) -> list[RiskEventRow]:
        """Newest first. ``trips_only``: leave out single-order vetoes (action ``veto``)."""
        with self.session() as s:
            q = select(RiskEventRow).where(RiskEventRow.bot == self.bot)
            if trips_only:
                q = q.where(RiskEventRow.action != "veto")
            return list(s.exec(q.order_by(col(RiskEventRow.id).desc()).limit(limit)).all())

    def risk_event_counts(self) -> dict[tuple[str, str], int]:
        """Number of stored risk events by (check name, action)."""
        with self.session() as s:
            rows = s.exec(select(RiskEventRow.check_name, RiskEventRow.action, func.count())
                          .where(RiskEventRow.bot == self.bot)
                          .group_by(RiskEventRow.check_name, RiskEventRow.action)).all()
            return {(check, action): count for check, action, count in rows}

    def get_state(self, key: str) -> str | None:
        with self.session() as s:
            row = s.get(StateRow, (self.bot, key))
            return row.value if row else None

    def state_of_every_bot(self, key: str) -> dict[str, tuple[str, int]]:
        """``key`` in every bot's ``bot_state`` of this database: bot name -> (value, updated_ns). What the bots
        sharing a resource (a chat token's lease) each recorded about it, and when."""
        state = table_of(StateRow)
        with self.engine.connect() as conn:
            rows = conn.execute(core_select(state.c.bot, state.c.value, state.c.updated_ns)
                                .where(state.c.key == key))
            return {bot: (value, updated_ns) for bot, value, updated_ns in rows}

    def set_state(self, key: str, value: str, ts_ns: int | None = None) -> None:
        """Set ``key`` to ``value``: one upsert, so two processes of this bot setting a new key at the same moment
        both succeed (the last write stays) instead of one raising on the primary key. Another unique index (the
        id epoch's) still refuses a value it forbids."""
        state = table_of(StateRow)
        ts = ts_ns or time.time_ns()
        with self.engine.begin() as conn:
            ins = conflict_insert(conn.dialect.name)
            if ins is not None:
                row = {"bot": self.bot, "key": key, "value": value, "updated_ns": ts}
                conn.execute(ins(state).values(row).on_conflict_do_update(index_elements=[state.c.bot, state.c.key],
                                                       set_={"value": value, "updated_ns": ts}))
                return
        with self.session() as s:  # another database: read, then write
            existing = s.get(StateRow, (self.bot, key)) or StateRow(bot=self.bot, key=key, value=value)
            existing.value, existing.updated_ns = value, ts
            s.add(existing)

    def compare_and_set_state(self, key: str, expected: str | None, value: str, ts_ns: int | None = None) -> bool:
        """Set ``key`` to ``value`` only if it holds ``expected`` (None: only if it has no row yet); True when set.

        One statement, so two processes of this bot that read the same ``expected`` cannot both set theirs: a
        conditional UPDATE (``WHERE value = expected``; on PostgreSQL the second waits for the first's row lock and
        then finds the value changed) or an INSERT that a row already there turns into nothing."""
        state = table_of(StateRow)
        ts = ts_ns or time.time_ns()
        with self.engine.begin() as conn:
            if expected is not None:
                changed = conn.execute(update(state).where(state.c.bot == self.bot, state.c.key == key,
                                                           state.c.value == expected)
                                       .values(value=value, updated_ns=ts))
                return changed.rowcount == 1
            row = {"bot": self.bot, "key": key, "value": value, "updated_ns": ts}
            ins = conflict_insert(conn.dialect.name)
            if ins is not None:
                added = conn.execute(ins(state).values(row).on_conflict_do_nothing(
                    index_elements=[state.c.bot, state.c.key]))
                return added.rowcount == 1
        try:  # another database: the primary key refuses the second insert
            with self.engine.begin() as conn:
                conn.execute(insert(state).values(row))
        except IntegrityError:
            return False
        return True

    def save_transfer(self, transfer: Transfer) -> None:
        """Insert or update one transfer (its intent is saved before anything is sent)."""
        with self.session() as s:
            fields = {key: getattr(transfer, key) for key in (
                "asset", "amount", "source", "destination", "address", "fee", "network_fee",
                "network_fee_asset", "expected_s", "venue_ref", "created_ns", "updated_ns")}
            fields["reason"] = free_text(transfer.reason)
            row = s.get(TransferRow, (self.bot, transfer.transfer_id))
            if row is None:
                row = TransferRow(bot=self.bot, transfer_id=transfer.transfer_id, status=transfer.status.value,
                                  **fields)
            else:
                for key, value in fields.items():
                    setattr(row, key, value)
                row.status = transfer.status.value
            s.add(row)
        for listener in list(self._transfer_listeners):  # committed: what a read of the transfers now returns
            try:
                listener(transfer)
            except Exception:  # a listener's bug never fails the save (the transfer is stored)
                log.exception("a listener of saved transfers failed on %s", transfer.transfer_id)

    def on_transfer_saved(self, listener: Callable[[Transfer], None],
                          loop: asyncio.AbstractEventLoop | None = None) -> Callable[[], None]:
        """Call ``listener(transfer)`` with each transfer :meth:`save_transfer` commits, right after the commit (what
        keeps a figure of the transfers current without reading them again: the ``limits`` check's transfer costs,
        the rebalancer's transfers on their way). On the thread that saved it; with ``loop``, on that loop: at once
        when saved on it, else next (handed over thread-safely, before the saver's await of its write returns), and
        never once the loop is closed. Returns the function that stops it."""
        if loop is not None:
            listener = functools.partial(_on_loop, loop, listener)
        self._transfer_listeners.append(listener)
        return lambda: self._transfer_listeners.remove(listener) if listener in self._transfer_listeners else None

    def transfers_in_flight(self) -> list[Transfer]:
        """The transfers on their way, oldest first: stored, not credited nor failed yet (funds that may have left
        one venue and are not on the other)."""
        return self.transfers([status for status in TransferStatus if not status.final])

    def transfers(self, statuses: list[TransferStatus] | None = None, since_ns: int = 0) -> list[Transfer]:
        """Stored transfers, oldest first (of these statuses, created since ``since_ns``)."""
        with self.session() as s:
            query = select(TransferRow).where(TransferRow.bot == self.bot, TransferRow.created_ns >= since_ns)
            if statuses is not None:
                query = query.where(col(TransferRow.status).in_([st.value for st in statuses]))
            rows = s.exec(query.order_by(col(TransferRow.created_ns))).all()
            return [Transfer(r.transfer_id, r.asset, r.amount, r.source, r.destination, r.address, r.fee,
                             r.network_fee, TransferStatus(r.status), r.created_ns, r.updated_ns, r.venue_ref,
                             r.reason, r.network_fee_asset, r.expected_s) for r in rows]

    def audit(self, *, transport: str, user_id: str, command: str, args: str, outcome: str, role: str = "",
              chat_id: str = "", ts_ns: int | None = None) -> None:
        with self.session() as s:
            s.add(AuditRow(bot=self.bot, ts_ns=ts_ns or time.time_ns(), transport=transport, user_id=user_id,
                           chat_id=chat_id, role=role, command=free_text(command), args=free_text(args),
                           outcome=free_text(outcome)))

    def audit_many(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write audit lines (the ``audit_log`` columns but ``id``) in one transaction."""
        redact = free_text
        # the command too: the web console's is the request's path, which can hold anything (a report's name)
        values = [{**row, "bot": self.bot, "command": redact(row["command"]), "args": redact(row["args"]),
                   "outcome": redact(row["outcome"])} for row in rows]
        if values:
            with self.engine.begin() as conn:
                conn.execute(insert(table_of(AuditRow)), values)

    def audit_log(self, limit: int = 50, offset: int = 0) -> list[AuditRow]:
        with self.session() as s:
            q = select(AuditRow).where(AuditRow.bot == self.bot).order_by(col(AuditRow.id).desc())
            return list(s.exec(q.offset(offset).limit(limit)).all())

    def snapshot_balances(self, exchange: str, balances: Iterable[Any], ts_ns: int) -> None:
        with self.session() as s:
            for b in balances:
                s.add(BalanceSnapshotRow(bot=self.bot, ts_ns=ts_ns, exchange=exchange, asset=b.asset, free=b.free,
                                         total=b.total))

    def latest_balances(self) -> list[BalanceSnapshotRow]:
        """Each exchange's most recent balance snapshot (every asset in it), by exchange then asset."""
        with self.session() as s:
            latest = (select(BalanceSnapshotRow.exchange, func.max(BalanceSnapshotRow.ts_ns).label("ts"))
                      .where(BalanceSnapshotRow.bot == self.bot).group_by(BalanceSnapshotRow.exchange).subquery())
            on_latest = (col(BalanceSnapshotRow.bot) == self.bot) & (
                col(BalanceSnapshotRow.exchange) == latest.c.exchange) & (col(BalanceSnapshotRow.ts_ns) == latest.c.ts)
            rows = s.exec(select(BalanceSnapshotRow).join(latest, on_latest)).all()
        # sorted here, by code point as SQLite's ORDER BY would: PostgreSQL's ORDER BY follows the database's
        # collation, and one made with a language's (en_US.UTF-8) puts "solana" before "sol-pool"
        return sorted(rows, key=lambda row: (row.exchange, row.asset))


def _on_loop(loop: asyncio.AbstractEventLoop, listener: Callable[[Transfer], None], transfer: Transfer) -> None:
    """``listener(transfer)`` on ``loop``: at once when called on it, else handed to it; nothing once it is closed."""
    if loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        listener(transfer)
    else:
        loop.call_soon_threadsafe(listener, transfer)
