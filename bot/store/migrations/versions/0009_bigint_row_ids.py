"""Row ids of 64 bits on PostgreSQL (``BIGINT``, their sequences too; no longer ``SERIAL``'s 32 bits).

A host table's ``id`` was ``SERIAL`` on PostgreSQL: its sequence stops at 2^31 - 1, and past that many rows ever
inserted every insert failed ("nextval: reached maximum value of sequence"), which no retry cures. SQLite's row id
(``INTEGER PRIMARY KEY``) already has 64 bits, so nothing changes there. A plugin's row ids are widened when a store
opens (its tables are its models: ``Store._widen_plugin_columns``).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("orders", "fills", "balance_snapshots", "risk_events", "audit_log", "markouts")
"""The host's tables with a row id at revision 0008."""


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "id", type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)
        sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"),
                                {"table": f'"{table}"'}).scalar()
        if sequence:  # ALTER SEQUENCE ... AS raises its maximum with its type (the old one was the type's)
            op.execute(f"ALTER SEQUENCE {sequence} AS BIGINT")
