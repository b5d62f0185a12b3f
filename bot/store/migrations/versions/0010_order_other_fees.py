"""``orders.other_fees``: an order's fees paid in neither its base nor its quote asset, per asset.

``orders.fee`` holds an order's fees in its quote asset (a base fee at its fill's price): a fee in a third asset (a
JUP/USDC swap's network fee in SOL) was on the fill alone, so the order showed a fee too small. The new column is a
JSON object of exact decimal text per asset (``{"SOL":"0.000005"}``, ``{}`` for none).

Each stored order's fees are made again from its stored fills, as the executor adds them (``bot.execution
.add_fill_fee``): the fee in quote or base (at the fill's price) into ``fee``, any other into ``other_fees``.
Builds before 0.2 added every fill's fee to ``fee`` whatever its asset (0.000005 SOL stood as 0.000005 USDC),
so ``fee`` is rewritten too. An order without a fill that paid a fee keeps its row as it was.

Revision ID: 0010
Revises: 0009
"""

import json
from decimal import Decimal, localcontext

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

EXACT_DIGITS = 200
"""The ledger's precision (``bot.ledger.EXACT_DIGITS``): a base fee times a DEX price keeps every digit."""

FILLS = sa.table("fills", sa.column("bot"), sa.column("client_order_id"), sa.column("symbol"), sa.column("price"),
                 sa.column("fee"), sa.column("fee_asset"), sa.column("id"))
ORDERS = sa.table("orders", sa.column("bot"), sa.column("client_order_id"), sa.column("fee"),
                  sa.column("other_fees"))


def upgrade() -> None:
    op.add_column("orders", sa.Column("other_fees", sa.String(), nullable=False, server_default="{}"))
    conn = op.get_bind()
    fees: dict[tuple[str, str], tuple[Decimal, dict[str, Decimal]]] = {}
    rows = conn.execute(sa.select(FILLS.c.bot, FILLS.c.client_order_id, FILLS.c.symbol, FILLS.c.price, FILLS.c.fee,
                                  FILLS.c.fee_asset).order_by(FILLS.c.id))
    with localcontext(prec=EXACT_DIGITS):
        for bot, cid, symbol, price, fee_text, asset in rows:
            fee = Decimal(fee_text)
            if not fee:
                continue
            base, _, quote = symbol.partition("/")
            in_quote, other = fees.get((bot, cid), (Decimal(0), {}))
            if asset == quote:
                in_quote += fee
            elif asset == base:
                in_quote += fee * Decimal(price)
            else:
                other[asset] = other.get(asset, Decimal(0)) + fee
            fees[(bot, cid)] = (in_quote, other)
    if not fees:
        return
    stmt = (sa.update(ORDERS)
            .where(ORDERS.c.bot == sa.bindparam("b_bot"), ORDERS.c.client_order_id == sa.bindparam("b_cid"))
            .values(fee=sa.bindparam("b_fee"), other_fees=sa.bindparam("b_other")))
    conn.execute(stmt, [{"b_bot": bot, "b_cid": cid, "b_fee": str(in_quote),
                         "b_other": json.dumps({a: str(v) for a, v in sorted(other.items())}, separators=(",", ":"))}
                        for (bot, cid), (in_quote, other) in fees.items()])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("other_fees")
