"""``orders.closes``: the client order id of the order whose lot an order closes (the ledger's specific match).

A new nullable column: every stored order keeps its row and closes nothing (its fills match FIFO, as before).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("closes", sa.String(), nullable=True))
