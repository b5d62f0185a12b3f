"""Money columns of any length on PostgreSQL (``VARCHAR``, no longer ``VARCHAR(64)``).

The host's exact amounts were ``VARCHAR(64)``: an exact figure with a pool's price in it (a fill price of a
DEX swap has ~50 significant digits; a product or sum of such figures more) can be longer, and PostgreSQL
refused the row ("value too long for type character varying(64)"). SQLite stores any length in any text
column, so nothing changes there. A plugin's money columns are widened when a store opens (its tables are its
models: ``Store._widen_plugin_columns``).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

MONEY = {
    "orders": ("price", "qty", "filled_qty", "avg_fill_price", "fee"),
    "fills": ("price", "qty", "fee"),
    "balance_snapshots": ("free", "total"),
    "transfers": ("amount", "fee", "network_fee"),
    "markouts": ("mid",),
}
"""The host's money columns at revision 0007."""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in MONEY.items():
        for column in columns:
            op.alter_column(table, column, type_=sa.String(), existing_type=sa.String(64))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in MONEY.items():
        for column in columns:
            op.alter_column(table, column, type_=sa.String(64), existing_type=sa.String())
