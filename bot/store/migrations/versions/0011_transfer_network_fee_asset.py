"""``transfers.network_fee_asset``: the asset a transfer's network fee was paid in.

A transfer stored its network fee as a bare number: a Jupiter USDC transfer's 0.00204428 was SOL (the signature
fee and a token account's rent), and every surface showed it with no unit. The new column holds the source's
``TransferTerms.network_fee_asset`` (NULL: not known).

Old rows are filled from what is known: the only sources that charged a network fee before this revision were
Solana wallets (the Jupiter wallet, the paper DEX), which pay it in SOL, so a row with a network fee gets
``SOL``. A row without one (a CEX includes the chain's fee in its withdrawal fee) had nothing paid in any asset:
it stays NULL. The withdrawal fee (``fee``) was and is in the transfer's own ``asset``.

Revision ID: 0011
Revises: 0010
"""

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NETWORK_FEE_ASSET = "SOL"
"""What every transfer source before 0011 that charged a network fee charged it in (a Solana wallet)."""

TRANSFERS = sa.table("transfers", sa.column("bot"), sa.column("transfer_id"), sa.column("network_fee"),
                     sa.column("network_fee_asset"))


def upgrade() -> None:
    op.add_column("transfers", sa.Column("network_fee_asset", sa.String(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(TRANSFERS.c.bot, TRANSFERS.c.transfer_id, TRANSFERS.c.network_fee))
    charged = [{"b_bot": bot, "b_tid": tid} for bot, tid, fee in rows if Decimal(fee)]
    if not charged:
        return
    stmt = (sa.update(TRANSFERS)
            .where(TRANSFERS.c.bot == sa.bindparam("b_bot"), TRANSFERS.c.transfer_id == sa.bindparam("b_tid"))
            .values(network_fee_asset=NETWORK_FEE_ASSET))
    conn.execute(stmt, charged)


def downgrade() -> None:
    with op.batch_alter_table("transfers") as batch:
        batch.drop_column("network_fee_asset")
