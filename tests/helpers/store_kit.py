"""Reading the bot's store from a test while `arbot run` runs in another process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from bot.store import engine_url


def query(db: Path, sql: str) -> list[tuple]:
    """Rows from a SQLite file, opened read-only; [] while the file or table is missing."""
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def query_db(url: str, sql: str) -> list[tuple]:
    """Rows from the store at ``url`` (the ``db_url`` fixture: SQLite or PostgreSQL); [] while a table is missing."""
    if url.startswith("sqlite:///"):
        return query(Path(url.removeprefix("sqlite:///")), sql)
    engine = create_engine(engine_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]
    except DBAPIError:
        return []
    finally:
        engine.dispose()


def audit_lines(bot, limit: int = 50) -> list:
    """A running bot's audit log, newest first, once every line handed to its store writer is written (where a commit
    is a round trip, PostgreSQL, a command's line goes there and lands a moment after the command)."""
    bot.writer.settle()
    return bot.store.audit_log(limit)
