"""``markouts``: the mid of each fill's market 1, 10 and 60 s after it (bot/markouts.py).

A new table; stores written before it have no samples (their fills show as unsampled).

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "markouts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("exchange", sa.String(), nullable=False),
        sa.Column("trade_id", sa.String(), nullable=False),
        sa.Column("horizon_s", sa.BigInteger(), nullable=False),
        sa.Column("mid", sa.String(64), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("exchange", "trade_id", "horizon_s"),
    )


def downgrade() -> None:
    op.drop_table("markouts")
