"""The SQLite file a paper venue keeps its own state in: WAL, explicit transactions, an account.

Shared by the paper exchange (:mod:`.state`) and the paper DEX (:mod:`.dex_state`); each adds its
own tables to the ``meta`` and ``balances`` tables every venue file has.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from types import TracebackType

ACCOUNT_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS balances (asset TEXT PRIMARY KEY, total TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transfers (transfer_id TEXT NOT NULL, direction TEXT NOT NULL, asset TEXT NOT NULL,
    amount TEXT NOT NULL, ts_ns INTEGER NOT NULL, PRIMARY KEY (transfer_id, direction));
CREATE TABLE IF NOT EXISTS withdrawal_requests (transfer_id TEXT NOT NULL, answer TEXT NOT NULL,
    ts_ns INTEGER NOT NULL);
"""
"""``transfers``: each withdrawal (``out``) and deposit (``in``) the venue made, once: its key refuses a second row
(loudly, ``sqlite3.IntegrityError``, the balance's change rolled back with it), so it cannot count how often the
venue was asked. ``withdrawal_requests`` can, as a real venue's request log would: every :meth:`withdraw` asked of the
venue, in order, with what it did (``sent``, or ``made already``: asked again for one it made, answered with its
reference); a crash test counts the sends there."""


json_str = json.encoder.encode_basestring_ascii
"""A string as ``json.dumps`` writes it (quoted, escaped, ASCII): for a submission's JSON text written directly."""
_ROWS_PER_STATEMENT = 100
"""Rows written by one multi-row INSERT (far below SQLite's limit of bound parameters per statement)."""
_VALUES: dict[tuple[str, int, int], str] = {}
"""The text of an INSERT of ``rows`` rows of ``width`` columns, by (head, width, rows): made once."""


def insert_sql(head: str, width: int, rows: int) -> str:
    """``head VALUES (?, ...), (?, ...)``: ``rows`` rows of ``width`` parameters each (the text made once)."""
    key = (head, width, rows)
    sql = _VALUES.get(key)
    if sql is None:
        row = f"({', '.join('?' * width)})"
        sql = _VALUES[key] = f"{head} VALUES {', '.join([row] * rows)}"
    return sql


class _Transaction:
    """BEGIN on entry; COMMIT on a normal exit, ROLLBACK (and the exception goes on) otherwise. One per file,
    reused: a plain context manager costs a fraction of a generator-based one, once per venue request."""

    __slots__ = ("_db",)

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


class VenueFile:
    """One venue's SQLite file (``":memory:"`` keeps it in memory); writes go inside :meth:`transaction`."""

    def __init__(self, path: str, schema: str):
        self.path = path
        # Autocommit mode: transactions are explicit (BEGIN ... COMMIT in :meth:`transaction`).
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(ACCOUNT_SCHEMA + schema)
        self._transaction = _Transaction(self._db)
        self.in_memory = path == ":memory:"
        """Kept in memory (a backtest's venue): never opened again, so what only a restart would read (the wallet,
        the pool) is not written after the start."""
        self._ids: set[str] | None = set() if self.in_memory else None
        """A file kept in memory starts empty and only this venue writes it: the client order ids of the orders
        (swaps) it holds, so that a look-up of an id it never saw (every new order) needs no query. None for a
        file on disk (it holds what earlier runs wrote)."""

    def unseen(self, client_order_id: str) -> bool:
        """True when no order (swap) of ``client_order_id`` can be in the file: a file kept in memory never
        had it written (:attr:`_ids`); False means it may be there (look it up)."""
        ids = self._ids
        return ids is not None and client_order_id not in ids

    def close(self) -> None:
        self._db.close()

    def transaction(self) -> _Transaction:
        """Everything written inside (``with file.transaction(): ...``) is committed together, or not at all."""
        return self._transaction

    def initialize(self, balances: dict[str, Decimal]) -> bool:
        """Give a new account its starting balances; False (and nothing written) if the file had them."""
        if self._db.execute("SELECT 1 FROM meta WHERE key = 'initialized'").fetchone():
            return False
        with self.transaction():
            self.save_balances(balances)
            self._db.execute("INSERT INTO meta (key, value) VALUES ('initialized', '1')")
        return True

    def balances(self) -> dict[str, Decimal]:
        return {asset: Decimal(total) for asset, total in self._db.execute("SELECT asset, total FROM balances")}

    def transfer(self, transfer_id: str, direction: str) -> tuple[str, Decimal, int] | None:
        """(asset, amount, ts_ns) of a withdrawal (``"out"``) or deposit (``"in"``) this venue made, if any."""
        row = self._db.execute("SELECT asset, amount, ts_ns FROM transfers WHERE transfer_id = ? AND direction = ?",
                               (transfer_id, direction)).fetchone()
        return None if row is None else (row[0], Decimal(row[1]), int(row[2]))

    def record_transfer(self, transfer_id: str, direction: str, asset: str, amount: Decimal, ts_ns: int) -> None:
        """Log a withdrawal or deposit (inside the transaction that moves the balance)."""
        self._db.execute("INSERT INTO transfers (transfer_id, direction, asset, amount, ts_ns) VALUES (?, ?, ?, ?, ?)",
                         (transfer_id, direction, asset, format(amount, "f"), ts_ns))

    def record_withdrawal_request(self, transfer_id: str, answer: str, ts_ns: int) -> None:
        """Log a withdrawal the venue was asked for and what it did (``sent``: inside the transaction that moves the
        balance; ``made already``: on its own)."""
        self._db.execute("INSERT INTO withdrawal_requests (transfer_id, answer, ts_ns) VALUES (?, ?, ?)",
                         (transfer_id, answer, ts_ns))

    def withdrawal_requests(self, transfer_id: str) -> list[str]:
        """What the venue answered each time it was asked for the withdrawal ``transfer_id``, in order."""
        return [answer for (answer,) in self._db.execute(
            "SELECT answer FROM withdrawal_requests WHERE transfer_id = ? ORDER BY rowid", (transfer_id,))]

    def insert(self, head: str, width: int, rows: list[tuple]) -> None:
        """Run ``head`` (``INSERT [OR REPLACE] INTO t (columns)``) for each row, in order: one statement per
        ``_ROWS_PER_STATEMENT`` rows (what ``executemany`` would write, in a fraction of its statements)."""
        if len(rows) == 1:
            self._db.execute(insert_sql(head, width, 1), rows[0])
            return
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start:start + _ROWS_PER_STATEMENT]
            self._db.execute(insert_sql(head, width, len(chunk)), [value for row in chunk for value in row])

    def save_balances(self, balances: dict[str, Decimal]) -> None:
        """Write the new totals of these assets (inside a transaction)."""
        self.insert("INSERT OR REPLACE INTO balances (asset, total)", 2,
                    [(asset, format(total, "f")) for asset, total in balances.items()])
