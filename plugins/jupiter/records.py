"""Signed swaps, persisted *before* their first send, keyed by the intent's client order id.

A restart reads the row back and resumes confirming the same signed bytes instead of signing
again. One row per (exchange, client order id); ``attempt`` counts signatures for the intent, and
a new one replaces the row's transaction only after the previous one provably expired. Amounts
are raw integers (token base units, stored as :class:`bot.store.Units`: a u64 does not fit a
BIGINT); the signed transaction is base64 text. It holds a signature, never key material. Once
landed, the amounts the transaction really moved and its fee are stored too (``filled_*``,
``fee_lamports``), read back from ``getTransaction``; a transaction that landed failed moved nothing
but its fee, which is stored the same way.

These functions run statements and wait for the database: the exchange calls them on the store writer's thread
(``ctx.read_later``/``ctx.write_later``) or the store's read threads, never on the event loop.
"""

from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel, select

from bot.api.storage import Store, Units

IN_FLIGHT = "in_flight"
LANDED = "landed"
FAILED = "failed"
EXPIRED = "expired"


class JupiterSwapRow(SQLModel, table=True):
    __tablename__ = "jupiter_swaps"
    __table_args__ = (UniqueConstraint("exchange", "client_order_id"),)

    id: int | None = Field(default=None, primary_key=True)
    exchange: str
    client_order_id: str
    symbol: str
    side: str
    qty: str
    """Base quantity of the intent, exact decimal text."""
    limit_price: str = ""
    """The intent's limit price (decimal text), empty for none."""
    input_mint: str
    output_mint: str
    in_amount: int = Field(sa_type=Units)
    out_amount: int = Field(sa_type=Units)
    """The quote's expected amounts (raw units)."""
    min_out_amount: int = Field(sa_type=Units)
    """``otherAmountThreshold``: the minimum out (ExactIn) or maximum in (ExactOut)."""
    filled_base_units: int | None = Field(default=None, sa_type=Units)
    filled_quote_units: int | None = Field(default=None, sa_type=Units)
    """The amounts the landed transaction moved for the wallet (raw units), None until read."""
    fee_lamports: int | None = None
    """``meta.fee`` of the landed transaction (signature + priority fee), also of one that landed failed."""
    attempt: int = 1
    signature: str
    signed_tx_b64: str
    last_valid_block_height: int
    status: str = IN_FLIGHT
    error: str = ""
    updated_ns: int = 0


def load_swap(store: Store, exchange: str, client_order_id: str) -> JupiterSwapRow | None:
    with store.session() as s:
        return s.exec(select(JupiterSwapRow).where(JupiterSwapRow.exchange == exchange,
                                                   JupiterSwapRow.client_order_id == client_order_id)).first()


def in_flight_swaps(store: Store, exchange: str) -> list[JupiterSwapRow]:
    """The store's bot's swaps on ``exchange`` still in flight. The table has no bot column, and two bots of one
    database may name their Jupiter exchange alike: a swap is this bot's when its client order id is in the
    host's orders under this bot (the order is stored before the exchange is asked to place it)."""
    with store.session() as s:
        rows = list(s.exec(select(JupiterSwapRow).where(JupiterSwapRow.exchange == exchange,
                                                        JupiterSwapRow.status == IN_FLIGHT)))
    return [row for row in rows if store.order_exists(row.client_order_id)]


def save_swap(store: Store, row: JupiterSwapRow) -> JupiterSwapRow:
    """Insert or update ``row`` (matched on exchange + client order id) and commit."""
    with store.session() as s:
        existing = s.exec(select(JupiterSwapRow).where(JupiterSwapRow.exchange == row.exchange,
                                                       JupiterSwapRow.client_order_id == row.client_order_id)).first()
        if existing is None:
            s.add(row)
            s.flush()
            s.refresh(row)
            return row
        for name in JupiterSwapRow.model_fields:
            if name != "id":
                setattr(existing, name, getattr(row, name))
        s.add(existing)
        s.flush()
        s.refresh(existing)
        return existing
