"""The fast durable record: one statement, one commit, on a dedicated SQLite connection per thread.

What makes an order (or an arbitrage execution) durable before it is sent is a single ``INSERT``
committed on its own. Through the SQLAlchemy engine that costs a pool checkout, a statement built
from the values, a compile-cache look-up, ``BEGIN``/``COMMIT`` and the result machinery: about a
millisecond of CPU. Here the same statement is compiled once per (table, columns), its parameters
go through the columns' own bind processors (so the row is exactly what the engine would have
written: decimal text, BIGINT nanoseconds), and it runs in autocommit mode on a raw ``sqlite3``
connection of the calling thread: tens of microseconds.

Durability is the store's: WAL with ``synchronous=NORMAL``. A commit is in the WAL file (the
operating system's page cache) when the call returns, so it survives the process being killed
(SIGKILL, a crash); it is fsynced at the next checkpoint, so a power loss or a kernel crash may
lose the commits since the last checkpoint (SQLite rolls them back whole: never half a row). A
record connection checkpoints only on the store writer's thread (:attr:`FastRecords.checkpoints`,
:meth:`FastRecords.checkpoint`, which the writer runs about a second after records on the loop).
:meth:`FastRecords.write` runs several ``executemany`` in one transaction (the write-back batch, a
log), its parameters converted before the lock is taken. :meth:`FastRecords.begin` opens a transaction
on the calling thread's connection that the records made on it join until :meth:`FastRecords.commit`
(a durable intent: an execution row and its orders in one commit). See "The order path" in
``docs/architecture.md``.

Only file-backed SQLite databases get these connections (an in-memory database lives in the
engine's one connection); PostgreSQL runs the same statements through the engine.

A disposable store (a backtest's, :meth:`bot.store.Store.disposable`) is re-created, never recovered, after a
crash: its records are not committed one by one but in batches (:attr:`FastRecords.commit_every`): the
calling thread's connection keeps one transaction open across records and commits it every that many
statements, before any engine connection is checked out (so that every read sees every record, and no
engine write waits for the batch's lock), and at close. A durable intent in a batch is a savepoint: all or
nothing as before. Its many-row inserts (:meth:`FastRecords.insert_many`, :meth:`FastRecords.write` without
updates: a log written from the loop, a row or two at a time) are not even run at once: their parameters are
converted when they come and kept per statement, and run as one ``executemany`` each just before the next
other statement on that connection (a record, a read, an intent), a commit of the batch, or close: the same rows
in the same order, for a call and a statement per write. What is stored is the same; only when it reaches the
file differs. Live stores never batch.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine

T = TypeVar("T")
_FIRST_PAUSE_S = 50e-6
_LONGEST_PAUSE_S = 2e-3


def decimal_text(value: Any) -> str | None:
    """The stored text of a money value (``bot.store.DecimalText``'s bind, owned here so that the parameter maker
    can tell it apart without importing the package that imports this module): None, or ``str`` of a Decimal."""
    if value is None:
        return None
    if not isinstance(value, Decimal):
        raise TypeError(f"money columns take Decimal, got {type(value).__name__}")
    return str(value)


class StoreBusy(Exception):
    """A no-wait record found the database locked by another writer: nothing was written; try again
    with a wait (the executor hands it to the store writer's thread)."""


_Statement = tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...]]
_Parameters = Callable[..., list[Any]]
"""One row's parameters in statement order, from the row (and, for :meth:`FastRecords.update`, what it matches)."""
_Plan = tuple[str, _Parameters]
"""An ``executemany``'s SQL and the function making one row's parameters (:func:`_parameter_maker`)."""


def _column_defaults(table: Table) -> dict[str, Callable[[], Any]]:
    """Column -> its Python-side default (what the engine would insert for a column not given)."""
    out: dict[str, Callable[[], Any]] = {}
    for column in table.columns:
        default = column.default
        if default is None or column.primary_key:
            continue
        if getattr(default, "is_scalar", False):
            out[column.key] = lambda value=default.arg: value  # type: ignore[attr-defined,misc]
        elif getattr(default, "is_callable", False):
            out[column.key] = lambda fn=default.arg: fn(None)  # type: ignore[attr-defined,misc]
    return out


def _parameter_maker(columns: Sequence[tuple[str, Callable[[Any], Any] | None, Callable[[], Any] | None]],
                     matched: int = 0) -> _Parameters:
    """The function making one row's parameters in statement order, from ``columns``: (the row's key, the column's
    bind processor or None, the column's default when the row leaves the column out, else None). ``matched``: the
    last that many columns are an update's ``WHERE`` columns, read from the function's second mapping (what
    :meth:`FastRecords.update` matches, kept apart from what it sets: a column may be both).

    It is written out as one list display and compiled once per plan, because it runs for every row the store
    records (an order, a fill, an execution, a logged opportunity: about 27,000 values a 20,000-step backtest):
    one call per row instead of an item getter, a list, a loop over the values to convert and, for an insert
    leaving columns to their defaults, two dicts merged. The conversion is the same: each value goes through its
    column's own processor, and a money column's (:func:`decimal_text`, which is ``str`` of a
    Decimal) is inlined as ``str`` for a value whose type is exactly ``Decimal``, called for any other (None, or a
    wrong type: its error)."""
    namespace: dict[str, Any] = {"_Decimal": Decimal, "_str": str, "_type": type}
    items = []
    first_matched = len(columns) - matched
    for i, (key, proc, default) in enumerate(columns):
        value = f"where[{key!r}]" if i >= first_matched else f"row[{key!r}]"
        if default is not None:
            namespace[f"_d{i}"] = default
            value = f"_d{i}()"
        if proc is None:
            items.append(value)
        elif proc is decimal_text:
            namespace[f"_p{i}"] = proc
            items.append(f"(_str(v) if _type(v := {value}) is _Decimal else _p{i}(v))")
        else:
            namespace[f"_p{i}"] = proc
            items.append(f"_p{i}({value})")
    source = "def parameters(row, where=None):\n    return [" + ", ".join(items) + "]\n"
    exec(compile(source, "<bot.store.fast parameters>", "exec"), namespace)  # the keys are repr()'d: no injection
    made: _Parameters = namespace["parameters"]
    return made


class FastRecords:
    """Single-statement commits of one SQLite file store (see the module documentation)."""

    def __init__(self, engine: Engine, path: str, pragmas: Callable[[Any, Any], None]):
        self.dialect = engine.dialect
        self.path = path
        self._pragmas = pragmas
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._statements: dict[tuple[str, str, tuple[str, ...]], _Statement] = {}
        self._defaults: dict[str, dict[str, Callable[[], Any]]] = {}
        self._plans: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], _Plan] = {}
        """(kind, table, columns, key) -> how a record makes the parameters of its rows (:meth:`_planned`)."""
        self.wait_ms: Callable[[], int] | None = None
        """The lock wait of a record that may wait, for the calling thread (set by the store writer)."""
        self.checkpoints: Callable[[], bool] | None = None
        """Whether the calling thread's connection checkpoints the WAL when it grows (set by the store writer:
        its own thread does; None: no record connection does)."""
        self.commit_every = 0
        """0 (every store but a disposable one): each record commits on its own. N: records join one open
        transaction of the calling thread's connection, committed every N statements (:meth:`flush`)."""
        self._pending = 0
        """Statements in the open batch (a disposable store's)."""
        self._deferred: dict[sqlite3.Connection, dict[str, list[list[Any]]]] = {}
        """A disposable store's many-row inserts not run yet, per connection: SQL -> parameters, in order
        (:meth:`_run_deferred`)."""

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            # mode=rw: never create the file (a database deleted under a running bot must not be replaced by an
            # empty one; the host's store watch reports the deletion)
            uri = Path(self.path).absolute().as_uri() + "?mode=rw"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            self._pragmas(conn, None)
            # checkpoints (which fsync) are left to the store writer's thread (its engine connections and its
            # record connection), never a record on the loop
            checkpoints = self.checkpoints is not None and self.checkpoints()
            conn.execute(f"PRAGMA wal_autocheckpoint={1000 if checkpoints else 0}")
            conn.execute("PRAGMA busy_timeout=0")  # a lock taken is waited for by _retrying, in fine steps
            with self._lock:
                self._opened.append(conn)
            local.conn = conn
        return conn

    def connect(self) -> None:
        """Open the calling thread's record connection now (it is made on first use otherwise): one opened
        after the file was deleted would fail where an open one keeps working (``mode=rw``)."""
        self._connection()

    def _retrying(self, attempt: Callable[[sqlite3.Connection], T], wait_ms: int | None) -> T:
        """``attempt(connection)``, tried again while another writer holds the lock, for up to ``wait_ms``
        (None: the calling thread's wait), pausing 50 us, then twice as long each time up to 2 ms: a lock
        held for a hundred microseconds costs about that (SQLite's own busy handler sleeps 1 ms, then 2,
        5, 10...). 0: :class:`StoreBusy` at once. A disposable store's batch waits for no lock: the wait is not
        even looked up."""
        conn = self._connection()
        if self.commit_every:
            return self._batched(conn, attempt)
        if wait_ms is None:
            wait_ms = self.wait_ms() if self.wait_ms is not None else 5000
        deadline = None
        pause = _FIRST_PAUSE_S
        while True:
            try:
                return attempt(conn)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + wait_ms / 1000
                if now >= deadline:
                    if wait_ms == 0:
                        raise StoreBusy(str(exc)) from None
                    raise
                time.sleep(min(pause, deadline - now))
                pause = min(2 * pause, _LONGEST_PAUSE_S)

    def _batched(self, conn: sqlite3.Connection, attempt: Callable[[sqlite3.Connection], T]) -> T:
        """``attempt(connection)`` in the open batch (opened now if none is), which commits every
        :attr:`commit_every` statements. A disposable store has one writer (a backtest's loop): no lock to wait
        for."""
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
        if conn in self._deferred:
            self._run_deferred(conn)
        result = attempt(conn)
        self._pending += 1
        if self._pending >= self.commit_every:
            self.flush()
        return result

    def _defer(self, conn: sqlite3.Connection, work: list[tuple[str, list[list[Any]]]]) -> None:
        """Keep a disposable store's inserts (SQL, converted parameters) to run later (:meth:`_run_deferred`), as
        a statement of the open batch."""
        deferred = self._deferred.get(conn)
        if deferred is None:
            deferred = self._deferred[conn] = {}
        for sql, params in work:
            kept = deferred.get(sql)
            if kept is None:
                deferred[sql] = params
            else:
                kept += params
        self._pending += 1
        if self._pending >= self.commit_every:
            self.flush()

    def _run_deferred(self, conn: sqlite3.Connection) -> None:
        """Run the inserts kept for ``conn`` (in its open batch, opened now if none is): one ``executemany`` per
        statement, its rows in the order they came. Call before any other statement on ``conn``."""
        deferred = self._deferred.pop(conn, None)
        if deferred:
            if not conn.in_transaction:
                conn.execute("BEGIN IMMEDIATE")
            for sql, params in deferred.items():
                conn.executemany(sql, params)

    def flush(self) -> None:
        """Commit the calling thread's open batch, if any (a disposable store's; nothing otherwise)."""
        if not self.commit_every:
            return
        if getattr(self._local, "intent", False):  # a durable intent is open: it is committed with the batch later
            return
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and conn in self._deferred:
            self._run_deferred(conn)
        if conn is not None and conn.in_transaction:
            conn.execute("COMMIT")
        self._pending = 0

    def _statement(self, kind: str, table: Table, columns: tuple[str, ...], key: tuple[str, ...] = ()) -> _Statement:
        cache_key = (kind, table.name, columns + ("|",) + key)
        found = self._statements.get(cache_key)
        if found is None:
            dialect = self.dialect
            if kind == "insert":
                stmt: Any = sqlite.insert(table).values({c: bindparam(f"v_{c}") for c in columns})
                stmt = stmt.on_conflict_do_nothing()
            else:
                stmt = update(table).values({c: bindparam(f"v_{c}") for c in columns})
                for k in key:
                    stmt = stmt.where(table.c[k] == bindparam(f"k_{k}"))
            compiled = stmt.compile(dialect=dialect)
            names = compiled.positiontup or []
            binds = []
            for name in names:
                column = table.c[name[2:]]
                # a type's own direct bind (bot.store.DecimalText.bind_text), else the engine's processor chain
                direct = getattr(column.type, "bind_text", None) if dialect.name == "sqlite" else None
                binds.append((name, direct if callable(direct) else
                              column.type.dialect_impl(dialect).bind_processor(dialect)))
            found = self._statements[cache_key] = (str(compiled), tuple(binds))
        return found

    def insert_once(self, table: Table, values: Mapping[str, Any], wait_ms: int | None = None) -> bool:
        """Insert one row and commit; False (nothing written) when it clashes with a unique key.

        ``wait_ms``: how long to wait for another writer's lock (0: raise :class:`StoreBusy` at once;
        None: the calling thread's wait)."""
        sql, params = self._rows("insert", table, tuple(values), (), (values,))
        return self._retrying(lambda conn: conn.execute(sql, params[0]).rowcount, wait_ms) == 1

    def insert_many(self, table: Table, rows: Sequence[Mapping[str, Any]], wait_ms: int | None = None) -> None:
        """Insert rows (each with the same columns) in one transaction: one ``executemany`` and one commit,
        the lock held only for them. A row clashing with a unique key is skipped. ``wait_ms`` as for
        :meth:`insert_once` (0: :class:`StoreBusy` at once, nothing written)."""
        self.write(inserts=[(table, rows)], wait_ms=wait_ms)

    def write(self, *, inserts: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]] = (),
              updates: Sequence[tuple[Table, tuple[str, ...], Sequence[Mapping[str, Any]]]] = (),
              wait_ms: int | None = None) -> None:
        """Several ``executemany`` in one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), every parameter
        converted before the lock is taken, so that it is held only while SQLite runs them.

        ``inserts``: (table, rows with the same columns), a row clashing with a unique key skipped;
        ``updates``: (table, key columns, rows), each row setting its other columns where its key
        columns match. ``wait_ms`` as for :meth:`insert_once`."""
        work = []
        for table, rows in inserts:
            if rows:
                work.append(self._rows("insert", table, tuple(rows[0]), (), rows))
        for table, key, rows in updates:
            if rows:
                work.append(self._rows("update", table, tuple(c for c in rows[0] if c not in key), key, rows))
        if not work:
            return
        conn = self._connection()
        if conn.in_transaction and not self.commit_every:  # inside the thread's open transaction (:meth:`begin`)
            for sql, params in work:
                conn.executemany(sql, params)
            return
        if self.commit_every:  # a disposable store's batch: the transaction (opened if need be) commits them
            if not updates and not getattr(self._local, "intent", False):  # (an intent's rows are its own: run now)
                self._defer(conn, work)
                return
            self._batched(conn, lambda conn: [conn.executemany(sql, params) for sql, params in work])
            return
        conn = self._retrying(lambda conn: conn.execute("BEGIN IMMEDIATE").connection, wait_ms)
        try:
            for sql, params in work:
                conn.executemany(sql, params)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _rows(self, kind: str, table: Table, columns: tuple[str, ...], key: tuple[str, ...],
              rows: Sequence[Mapping[str, Any]]) -> tuple[str, list[list[Any]]]:
        """The SQL of an ``executemany`` of ``rows`` (each with ``columns``, plus ``key`` for an update) and its
        parameters, through a plan made once per (kind, table, columns): an insert's missing columns get their
        defaults, each value goes through its column's bind processor."""
        sql, parameters = self._planned(kind, table, columns, key)
        return sql, [parameters(row) for row in rows]

    def _planned(self, kind: str, table: Table, columns: tuple[str, ...], key: tuple[str, ...]) -> _Plan:
        """The plan of (kind, table, columns, key), made once (:meth:`_plan`). Kinds: ``insert``; ``update`` (each
        row holds the columns it sets and those it matches); ``set`` (:meth:`update`: the parameters are made from
        the values set and, apart, the values matched)."""
        plan_key = (kind, table.name, columns, key)
        plan = self._plans.get(plan_key)
        if plan is None:
            plan = self._plans[plan_key] = self._plan(kind, table, columns, key)
        return plan

    def _plan(self, kind: str, table: Table, columns: tuple[str, ...], key: tuple[str, ...]) -> _Plan:
        missing: tuple[tuple[str, Callable[[], Any]], ...] = ()
        if kind == "insert":
            defaults = self._defaults.get(table.name)
            if defaults is None:
                defaults = self._defaults[table.name] = _column_defaults(table)
            missing = tuple((k, v) for k, v in defaults.items() if k not in columns)
            sql, binds = self._statement("insert", table, (*columns, *(k for k, _ in missing)))
        else:
            sql, binds = self._statement("update", table, columns, key)
        defaults = dict(missing)
        if kind == "set" and [name[:2] for name, _ in binds] != ["v_"] * len(columns) + ["k_"] * len(key):
            raise AssertionError(f"{sql}: the values set do not come before the values matched")  # (once a plan)
        return sql, _parameter_maker([(name[2:], proc, defaults.get(name[2:])) for name, proc in binds],
                                     len(key) if kind == "set" else 0)

    def update(self, table: Table, where: Mapping[str, Any], values: Mapping[str, Any],
               wait_ms: int | None = None) -> int:
        """Set ``values`` on the rows matching every ``where`` column and commit; the rows changed."""
        sql, parameters = self._planned("set", table, tuple(values), tuple(where))
        row = parameters(values, where)  # a column may be both set and matched: two mappings, no renamed copy
        return int(self._retrying(lambda conn: conn.execute(sql, row).rowcount, wait_ms))

    def begin(self) -> None:
        """Open a transaction on the calling thread's connection, taking the write lock now (``BEGIN IMMEDIATE``;
        :class:`StoreBusy` at once, nothing open, when another writer holds it): the records made on this thread
        until :meth:`commit` go in it, none of them waiting for a lock (one durable intent, see
        :meth:`bot.execution.Executor.intent`). In a disposable store's batch: a savepoint of it."""
        if self.commit_every:
            conn = self._connection()
            if not conn.in_transaction:
                conn.execute("BEGIN IMMEDIATE")
            if conn in self._deferred:  # before the savepoint: a rolled back intent keeps them
                self._run_deferred(conn)
            conn.execute("SAVEPOINT arbot_intent")
            self._local.intent = True
            return
        self._retrying(lambda conn: conn.execute("BEGIN IMMEDIATE"), 0)

    def commit(self) -> None:
        """Commit the calling thread's transaction (:meth:`begin`): durable as one record is, all or nothing
        (a disposable store's: the savepoint released into the batch)."""
        if self.commit_every:
            self._local.intent = False
            self._connection().execute("RELEASE arbot_intent")
            self._pending += 1
            if self._pending >= self.commit_every:
                self.flush()
            return
        self._connection().execute("COMMIT")

    def rollback(self) -> None:
        """Roll the calling thread's transaction back, if one is open (an error may have ended it already);
        a disposable store's: back to the intent's savepoint, the batch before it kept."""
        conn = self._connection()
        if self.commit_every and getattr(self._local, "intent", False):
            self._local.intent = False
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK TO arbot_intent")
                    conn.execute("RELEASE arbot_intent")
                except sqlite3.OperationalError:  # the error that ended the savepoint ended the batch
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
            return
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def checkpoint(self) -> None:
        """Checkpoint the WAL now on the calling thread's connection (``PASSIVE``: it waits for no reader or
        writer and takes no write lock): the WAL is fsynced, then copied into the database file and fsynced."""
        self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def exists(self, table: Table, where: Mapping[str, Any]) -> bool:
        """Whether a row matches every ``where`` column (a read on the calling thread's connection: no lock wait)."""
        sql = f'SELECT 1 FROM "{table.name}" WHERE ' + " AND ".join(f'"{c}" = ?' for c in where) + " LIMIT 1"
        conn = self._connection()
        if conn in self._deferred:
            self._run_deferred(conn)
        return conn.execute(sql, tuple(where.values())).fetchone() is not None

    def close(self) -> None:
        """Close every record connection (a disposable store's open batches committed first)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            if conn in self._deferred:
                self._run_deferred(conn)
            if self.commit_every and conn.in_transaction:
                conn.execute("COMMIT")
            conn.close()
        self._local = threading.local()
