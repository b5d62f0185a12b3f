"""``transfers.expected_s``: how long after its intent a transfer should be credited.

A transfer kept no expected settle time (the source's ``TransferTerms.expected_s`` was shown with the proposal and
then dropped), so no surface could say one was overdue: ``arbot fleet transfers`` never flagged one, and the
rebalancer alerted only after the flat ``overdue_after_s``. The new column holds the seconds the source expected
(a float, as ``TransferTerms.expected_s`` is; not money). Old rows get NULL: not known, never guessed (a venue's
figure of the day they were sent is not recorded anywhere).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("transfers", sa.Column("expected_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transfers") as batch:
        batch.drop_column("expected_s")
