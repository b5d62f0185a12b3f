"""The SQLite file a paper venue keeps its own state in: WAL, explicit transactions, an account.

Shared by the paper exchange (:mod:`.state`) and the paper DEX (:mod:`.dex_state`); each adds its
own tables to the ``meta`` and ``balances`` tables every venue file has.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

ACCOUNT_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS balances (asset TEXT PRIMARY KEY, total TEXT NOT NULL);
"""


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

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside is committed together, or not at all."""
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

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

    def save_balances(self, balances: dict[str, Decimal]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO balances (asset, total) VALUES (?, ?)",
                             [(asset, format(total, "f")) for asset, total in balances.items()])
