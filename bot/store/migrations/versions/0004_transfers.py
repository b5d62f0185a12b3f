"""``transfers``: funds moved between venues by inventory rebalancing, each stored before it is sent.

A new table; nothing else changes. A transfer's row is written with status ``planned`` before the
withdrawal is asked for, so a crash at any point leaves a row that the next start resolves against
the source venue (never sending twice).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("transfer_id", sa.String(), nullable=False),
        sa.Column("asset", sa.String(), nullable=False),
        sa.Column("amount", sa.String(64), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("destination", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("fee", sa.String(64), nullable=False),
        sa.Column("network_fee", sa.String(64), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("venue_ref", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("transfer_id"),
    )
    op.create_index("ix_transfers_status", "transfers", ["status"])
    op.create_index("ix_transfers_created_ns", "transfers", ["created_ns"])


def downgrade() -> None:
    op.drop_index("ix_transfers_created_ns", "transfers")
    op.drop_index("ix_transfers_status", "transfers")
    op.drop_table("transfers")
