"""Baseline: the host's tables as the builds before migrations created them (``create_all``).

A database with these tables and no ``alembic_version`` table is stamped at this revision.
Integers are 32-bit ``INTEGER`` here (SQLModel's mapping of ``int``); 0002 widens them.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TEXT = sa.String()
MONEY = sa.String(64)
"""Exact decimal text (bot.store.DecimalText)."""


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", TEXT, nullable=False),
        sa.Column("strategy", TEXT, nullable=False),
        sa.Column("exchange", TEXT, nullable=False),
        sa.Column("symbol", TEXT, nullable=False),
        sa.Column("side", TEXT, nullable=False),
        sa.Column("order_type", TEXT, nullable=False),
        sa.Column("tif", TEXT, nullable=False),
        sa.Column("post_only", sa.Boolean(), nullable=False),
        sa.Column("price", MONEY, nullable=True),
        sa.Column("qty", MONEY, nullable=False),
        sa.Column("status", TEXT, nullable=False),
        sa.Column("exchange_order_id", TEXT, nullable=True),
        sa.Column("filled_qty", MONEY, nullable=False),
        sa.Column("avg_fill_price", MONEY, nullable=True),
        sa.Column("fee", MONEY, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("created_ns", sa.Integer(), nullable=False),
        sa.Column("updated_ns", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_orders_client_order_id", "orders", ["client_order_id"], unique=True)
    op.create_index("ix_orders_strategy", "orders", ["strategy"])
    op.create_index("ix_orders_status", "orders", ["status"])

    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exchange", TEXT, nullable=False),
        sa.Column("trade_id", TEXT, nullable=False),
        sa.Column("client_order_id", TEXT, nullable=False),
        sa.Column("strategy", TEXT, nullable=False),
        sa.Column("symbol", TEXT, nullable=False),
        sa.Column("side", TEXT, nullable=False),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("qty", MONEY, nullable=False),
        sa.Column("fee", MONEY, nullable=False),
        sa.Column("fee_asset", TEXT, nullable=False),
        sa.Column("liquidity", TEXT, nullable=False),
        sa.Column("ts_ns", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("exchange", "trade_id"),
    )
    op.create_index("ix_fills_client_order_id", "fills", ["client_order_id"])
    op.create_index("ix_fills_strategy", "fills", ["strategy"])
    op.create_index("ix_fills_ts_ns", "fills", ["ts_ns"])

    op.create_table(
        "balance_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts_ns", sa.Integer(), nullable=False),
        sa.Column("exchange", TEXT, nullable=False),
        sa.Column("asset", TEXT, nullable=False),
        sa.Column("free", MONEY, nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_balance_snapshots_ts_ns", "balance_snapshots", ["ts_ns"])

    op.create_table(
        "risk_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts_ns", sa.Integer(), nullable=False),
        sa.Column("check_name", TEXT, nullable=False),
        sa.Column("strategy", TEXT, nullable=False),
        sa.Column("exchange", TEXT, nullable=False),
        sa.Column("symbol", TEXT, nullable=False),
        sa.Column("action", TEXT, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("details", TEXT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_risk_events_ts_ns", "risk_events", ["ts_ns"])

    op.create_table(
        "bot_state",
        sa.Column("key", TEXT, nullable=False),
        sa.Column("value", TEXT, nullable=False),
        sa.Column("updated_ns", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts_ns", sa.Integer(), nullable=False),
        sa.Column("transport", TEXT, nullable=False),
        sa.Column("user_id", TEXT, nullable=False),
        sa.Column("chat_id", TEXT, nullable=False),
        sa.Column("role", TEXT, nullable=False),
        sa.Column("command", TEXT, nullable=False),
        sa.Column("args", TEXT, nullable=False),
        sa.Column("outcome", TEXT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_ts_ns", "audit_log", ["ts_ns"])
