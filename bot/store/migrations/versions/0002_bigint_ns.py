"""Nanosecond timestamps in 64-bit BIGINT columns (32-bit INTEGER overflows on PostgreSQL).

On SQLite (where INTEGER already holds 64 bits) each table is rebuilt with the new declaration and
its rows copied.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NS_COLUMNS = {
    "orders": ("created_ns", "updated_ns"),
    "fills": ("ts_ns",),
    "balance_snapshots": ("ts_ns",),
    "risk_events": ("ts_ns",),
    "bot_state": ("updated_ns",),
    "audit_log": ("ts_ns",),
}


def upgrade() -> None:
    for table, columns in NS_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)
