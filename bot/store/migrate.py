"""Schema migrations of the host's tables (Alembic), run by :meth:`bot.store.Store.open`.

- An empty database gets the current tables and is stamped at the newest revision.
- A database made before migrations existed (the host's tables, no ``alembic_version`` table) is
  stamped at the baseline revision (the schema those builds created), then upgraded.
- An older database is upgraded in one transaction (SQLite rebuilds each changed table, copying its rows, in it
  too: :func:`begin_ddl`), all of it or nothing: one that fails on the way (a full disk) is left as it was.
- A database at a revision this arbot does not know (written by a newer arbot) is refused.
- Rows stored before revision 0007 (the ``bot`` column) belong to the bot that upgrades the store
  (the store's :attr:`~bot.store.Store.bot`, ``[bot] name``).

Several bots may share one PostgreSQL database. Creating or upgrading its schema takes a
transaction-level advisory lock (one per database schema): the first bot upgrades, the others wait
up to ``[bot] migrate_wait_s`` and then find the new revision and go on (or give up with a message
naming what to do). A store already at the newest revision takes no lock.

``arbot db current`` shows the revision, ``arbot db upgrade`` upgrades without starting the bot.
A new revision goes in ``migrations/versions`` (``NNNN_what.py``, ``down_revision`` = the previous
head) together with the change to the table classes; a test checks that upgrading from the baseline
gives exactly the tables that :func:`create_all` makes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

T = TypeVar("T")


class Store(Protocol):
    """What migrations need of a :class:`bot.store.Store` (a protocol: this module imports no store)."""

    @property
    def url(self) -> str: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def host_tables(self) -> tuple[Table, ...]: ...
    @property
    def Error(self) -> type[Exception]: ...
    @property
    def bot(self) -> str: ...
    @property
    def migrate_wait_s(self) -> float: ...

    def _guard(self, action: Callable[[], T], what: str) -> T: ...


log = logging.getLogger("arbot.store")

SCRIPTS = Path(__file__).with_name("migrations")
BASELINE = "0001"
"""The schema of the builds before migrations: tables made by ``create_all``, 32-bit INTEGER columns."""
HEAD = "0012"
"""The newest revision in ``migrations/versions``, known without importing Alembic (a test checks it
is Alembic's head): a store at it, or a new one, opens without Alembic (about 14 MB and 0.1 s)."""


SCHEMA_LOCK = 0x61726274
"""The first key of the schema lock (``pg_advisory_xact_lock(SCHEMA_LOCK, hashtext(current_schema()))``)."""


def lock_schema(store: Store, conn: Connection) -> None:
    """On PostgreSQL, hold the schema lock until ``conn``'s transaction ends, waiting for it at most
    ``store.migrate_wait_s``; another bot upgrading the same database holds it meanwhile."""
    if conn.dialect.name != "postgresql":
        return  # a SQLite file belongs to one bot; its own write lock serializes the rest
    key = {"lock": SCHEMA_LOCK}
    if conn.execute(text("SELECT pg_try_advisory_xact_lock(:lock, hashtext(current_schema()))"), key).scalar():
        return
    wait_s = store.migrate_wait_s
    log.info("store %s: another bot is creating or upgrading the schema; waiting for it (up to %g s)", store.url,
             wait_s)
    conn.execute(text(f"SET LOCAL lock_timeout = {max(1, round(wait_s * 1000))}"))
    try:
        conn.execute(text("SELECT pg_advisory_xact_lock(:lock, hashtext(current_schema()))"), key)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        raise store.Error(
            f"store {store.url}: another bot has been creating or upgrading the schema for longer than "
            f"[bot] migrate_wait_s = {wait_s:g} s. Start this bot again once it has finished (`arbot db current` "
            "shows the revision), or raise [bot] migrate_wait_s.") from None
    conn.execute(text("SET LOCAL lock_timeout = 0"))


def begin_ddl(conn: Connection) -> None:
    """On SQLite, open ``conn``'s transaction now, taking the file's write lock. The driver opens one only before an
    INSERT, UPDATE or DELETE: the schema changes before the first of them (a table renamed and created anew, to be
    filled with its old rows) would each commit on their own, and an upgrade that failed on the way (a full disk while
    the rows are copied) left the table empty, its rows in the renamed one, and a store no start could upgrade."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _version_table() -> Table:
    """Alembic's ``alembic_version`` table, defined as Alembic defines it (``DefaultImpl.version_table_impl``)."""
    table = Table("alembic_version", MetaData(), Column("version_num", String(32), nullable=False))
    table.append_constraint(PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))
    return table


def alembic_config(connection: Connection | None = None, bot: str = "") -> Config:
    """Alembic's configuration; ``bot``: the bot that upgrades (the rows stored so far become its own)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    config.attributes["bot"] = bot
    return config


@functools.cache
def scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    revision = scripts().get_current_head()
    assert revision is not None
    return revision


def current(store: Store) -> str | None:
    """The database's revision; None for an empty database or one made before migrations."""
    def read() -> str | None:
        from alembic.runtime.migration import MigrationContext

        with store.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    return store._guard(read, "read the schema revision")


def behind(store: Store) -> str | None:
    """The revision of a store holding the host's tables at a revision older than this arbot's (:data:`BASELINE` for
    one made before migrations), which :func:`upgrade` would upgrade; None for one at :data:`HEAD`, an empty one,
    or one newer than this arbot (which :func:`upgrade` refuses, naming it). Reads only; Alembic is imported only
    for a revision other than HEAD."""
    HOST_TABLES = store.host_tables
    version = _version_table()

    def read() -> str | None:
        with store.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            if version.name not in tables:
                return BASELINE if tables & {t.name for t in HOST_TABLES} else None
            revisions = list(conn.execute(select(version.c.version_num)).scalars())
        if revisions == [HEAD] or len(revisions) != 1:
            return None
        try:
            scripts().get_revision(revisions[0])
        except Exception:
            return None  # newer than this arbot
        return str(revisions[0])

    return store._guard(read, "read the schema revision")


def upgrade(store: Store) -> tuple[str | None, str]:
    """Bring the host's tables to the newest revision; returns (revision before, revision now).

    Raises :class:`~bot.store.StoreError` for a database newer than this code, or one that cannot
    be reached.
    """
    return store._guard(functools.partial(_upgrade, store), "open the schema")


def _without_alembic(store: Store) -> tuple[str | None, str] | None:
    """Open a store already at :data:`HEAD`, or create a new one stamped at it, without Alembic.

    None when there is anything else to do (an older or unknown revision, a database made before
    migrations): :func:`_upgrade` then runs Alembic.
    """
    from sqlmodel import SQLModel

    HOST_TABLES = store.host_tables
    version = _version_table()
    with store.engine.begin() as conn:
        for locked in (False, True):
            if locked:  # an empty database: another bot may be creating it right now
                lock_schema(store, conn)
            tables = set(inspect(conn).get_table_names())
            if version.name in tables:
                revisions = list(conn.execute(select(version.c.version_num)).scalars())
                return (HEAD, HEAD) if revisions == [HEAD] else None
            if tables & {t.name for t in HOST_TABLES}:
                return None
        begin_ddl(conn)
        SQLModel.metadata.create_all(conn, tables=list(HOST_TABLES))
        version.create(conn)
        conn.execute(version.insert().values(version_num=HEAD))
        return None, HEAD


def _upgrade(store: Store) -> tuple[str | None, str]:
    quick = _without_alembic(store)
    if quick is not None:
        return quick
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    HOST_TABLES, StoreError = store.host_tables, store.Error
    with store.engine.begin() as conn:
        begin_ddl(conn)  # SQLite: the whole upgrade in one transaction, as on PostgreSQL
        lock_schema(store, conn)  # then read the revision: a bot that waited finds it upgraded
        context = MigrationContext.configure(conn)
        before = context.get_current_revision()
        if before is None:
            existing = set(inspect(conn).get_table_names())
            if not existing & {t.name for t in HOST_TABLES}:
                SQLModel.metadata.create_all(conn, tables=list(HOST_TABLES))
                context.stamp(scripts(), "head")
                return None, head()
            context.stamp(scripts(), BASELINE)
            before = BASELINE
        try:
            scripts().get_revision(before)
        except Exception:
            raise StoreError(
                f"the store {store.url} has schema revision {before}, which this arbot does not know: it was "
                f"written by a newer arbot (this one's newest revision is {head()}). Run the newer arbot, or "
                "point [bot] db_url at another database."
            ) from None
        if before != head():
            log.info("store %s: upgrading the schema from revision %s to %s", store.url, before, head())
            command.upgrade(alembic_config(conn, store.bot), "head")
    return before, head()


def db_command(store: Store, action: str) -> str:
    """``arbot db current`` / ``arbot db upgrade``: what the command prints."""
    HOST_TABLES = store.host_tables

    if action == "upgrade":
        before, now = upgrade(store)
        if before == now:
            return f"{store.url}: already at the newest schema revision {now}"
        return f"{store.url}: upgraded from revision {before or 'none (empty database)'} to {now}"
    revision = current(store)
    if revision is None:
        tables = store._guard(lambda: set(inspect(store.engine).get_table_names()), "list the tables")
        if tables & {t.name for t in HOST_TABLES}:
            return (f"{store.url}: made before migrations (the baseline, {BASELINE}); `arbot db upgrade` or "
                    f"the next start upgrades it to {head()}")
        return f"{store.url}: empty; the first start creates the tables at revision {head()}"
    try:
        scripts().get_revision(revision)
    except Exception:
        return f"{store.url}: revision {revision}, newer than this arbot (newest known: {head()})"
    if revision == head():
        return f"{store.url}: revision {revision} (the newest)"
    return f"{store.url}: revision {revision}; `arbot db upgrade` or the next start upgrades it to {head()}"
