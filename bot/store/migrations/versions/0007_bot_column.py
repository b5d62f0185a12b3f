"""``bot``: the name of the bot each row belongs to, so several bots can share one database.

Every host table gets a ``bot`` column (``VARCHAR(64)``, ``[bot] name``), and the keys that identify
a row include it: an order is unique per (bot, client order id), a fill per (bot, exchange, trade id),
a markout per (bot, exchange, trade id, horizon), a state value (the store identity and client-id
epoch among them) per (bot, key), a transfer per (bot, transfer id). The tables queried by bot alone
get an index on it. No two bots share a client order id epoch (a partial unique index).

The rows already stored belong to the bot that upgrades the store: :func:`bot.store.migrate.upgrade`
passes the store's ``[bot] name`` (``arbot run`` and ``arbot db upgrade`` both); Alembic's own command
line takes it as ``-x bot=NAME``. On PostgreSQL the tables are altered in place; SQLite cannot drop a
constraint, so each table is rebuilt with its rows copied.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BOT_LEN = 64
UNIQUE = {
    "orders": ("uq_orders_bot_client_order_id", ("bot", "client_order_id")),
    "fills": ("uq_fills_bot_exchange_trade_id", ("bot", "exchange", "trade_id")),
    "markouts": ("uq_markouts_bot_exchange_trade_id_horizon_s", ("bot", "exchange", "trade_id", "horizon_s")),
}
"""Table -> the unique constraint that replaces its old one (or the unique index on ``orders.client_order_id``)."""
PRIMARY = {"bot_state": ("bot", "key"), "transfers": ("bot", "transfer_id")}
INDEXED = ("balance_snapshots", "risk_events", "audit_log")
TABLES = (*UNIQUE, *PRIMARY, *INDEXED)
EPOCH_INDEX = "ux_bot_state_id_epoch"
EPOCH_WHERE = "key = 'id_epoch'"


def claiming_bot() -> str:
    """The bot the rows stored so far belong to: the upgrading store's name, or ``-x bot=NAME``."""
    name = context.config.attributes.get("bot") or context.get_x_argument(as_dictionary=True).get("bot", "")
    return str(name)


def upgrade() -> None:
    bot = claiming_bot()
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            _rebuild_sqlite(table, bot)
    else:
        for table in TABLES:
            _alter_in_place(table, bot)
    op.create_index(EPOCH_INDEX, "bot_state", ["value"], unique=True, sqlite_where=sa.text(EPOCH_WHERE),
                    postgresql_where=sa.text(EPOCH_WHERE))


def _alter_in_place(table: str, bot: str) -> None:
    conn = op.get_bind()
    inspector = sa.inspect(conn)
    op.add_column(table, sa.Column("bot", sa.String(BOT_LEN), nullable=False, server_default=""))
    op.execute(sa.text(f'UPDATE "{table}" SET bot = :bot').bindparams(bot=bot))
    op.alter_column(table, "bot", server_default=None, existing_type=sa.String(BOT_LEN), existing_nullable=False)
    if table in UNIQUE:
        for constraint in inspector.get_unique_constraints(table):
            op.drop_constraint(str(constraint["name"]), table, type_="unique")
        for index in inspector.get_indexes(table):
            if index["unique"] and not index.get("duplicates_constraint"):
                op.drop_index(str(index["name"]), table)
        name, columns = UNIQUE[table]
        op.create_unique_constraint(name, table, list(columns))
    elif table in PRIMARY:
        op.drop_constraint(str(inspector.get_pk_constraint(table)["name"]), table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, list(PRIMARY[table]))
    else:
        op.create_index(f"ix_{table}_bot", table, ["bot"])


def _rebuild_sqlite(table: str, bot: str) -> None:
    """Create ``table`` anew (its columns as they are, then ``bot``; the new keys) and copy its rows."""
    conn = op.get_bind()
    old = sa.Table(table, sa.MetaData(), autoload_with=conn)
    indexes = sa.inspect(conn).get_indexes(table)
    for index in indexes:
        op.drop_index(str(index["name"]), table)
    op.rename_table(table, f"_0007_{table}")
    key = PRIMARY.get(table)
    args: list[sa.schema.SchemaItem] = [
        sa.Column(c.name, c.type, nullable=c.nullable, server_default=c.server_default,
                  primary_key=c.primary_key and not key) for c in old.columns]
    args.append(sa.Column("bot", sa.String(BOT_LEN), nullable=False))
    if key:
        args.append(sa.PrimaryKeyConstraint(*key))
    if table in UNIQUE:
        name, unique = UNIQUE[table]
        args.append(sa.UniqueConstraint(*unique, name=name))
    sa.Table(table, sa.MetaData(), *args).create(conn)
    for index in indexes:
        if not index["unique"]:
            op.create_index(str(index["name"]), table, [str(c) for c in index["column_names"]])
    if table in INDEXED:
        op.create_index(f"ix_{table}_bot", table, ["bot"])
    names = ", ".join(f'"{c.name}"' for c in old.columns)
    op.execute(sa.text(f'INSERT INTO "{table}" ({names}, bot) SELECT {names}, :bot FROM "_0007_{table}"')
               .bindparams(bot=bot))
    op.drop_table(f"_0007_{table}")
