"""Grid storage: the ``grid_slots`` and ``grid_layouts`` tables and the queries the grid makes.

The strategy keeps these rows in memory as its state and writes a row back whenever that slot
changes, before it acts on the change (a slot's next client order id is on disk before the
order is submitted). Money columns are exact decimal strings.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel, select

from bot.domain import Fill
from bot.store import FillRow, Store, money, row_to_fill


class SlotState(enum.StrEnum):
    FREE = "free"
    """Holds quote only; a buy goes out once the price is above the slot's buy price."""
    PENDING = "pending"
    """A buy rests at ``buy_price``."""
    LOCKED = "locked"
    """Holds ``qty`` base bought at ``buy_price``; sells it at ``sell_price``."""


class GridSlotRow(SQLModel, table=True):
    """One slot of one grid strategy: buys at ``buy_price``, sells one level up at ``sell_price``."""

    __tablename__ = "grid_slots"
    __table_args__ = (UniqueConstraint("strategy", "slot"),)

    id: int | None = Field(default=None, primary_key=True)
    strategy: str = Field(index=True)
    slot: int
    state: str = SlotState.FREE.value
    buy_price: Decimal = money()
    sell_price: Decimal = money()
    qty: Decimal = money()
    """Base quantity: of the resting buy (PENDING) or still to sell (LOCKED); zero when FREE."""
    order_id: str | None = None
    """Client order id of the slot's current order: the buy (PENDING) or the sell (LOCKED)."""
    seq: int = 0
    """Sequence number of the slot's latest client order id; only ever increases."""
    cost: Decimal = money()
    """Quote paid for the inventory being sold, fees included."""
    proceeds: Decimal = money()
    """Quote received, net of fees, from the part of the inventory already sold."""
    round_trips: int = 0
    profit: Decimal = money()
    """Realized quote profit of all completed round trips, net of fees."""
    updated_ns: int = 0


class GridLayoutRow(SQLModel, table=True):
    """Where one grid strategy trades and the range its slots were laid out on."""

    __tablename__ = "grid_layouts"

    id: int | None = Field(default=None, primary_key=True)
    strategy: str = Field(unique=True, index=True)
    exchange: str
    symbol: str
    spacing: str
    levels: int
    config_lower: Decimal = money()
    """``lower`` as configured when the slots were laid out (compared with the config at start)."""
    config_upper: Decimal = money()
    lower: Decimal = money()
    """Current range: the configured one, or where the last shift re-centred the grid."""
    upper: Decimal = money()
    shifts: int = 0
    updated_ns: int = 0


def load_grid(store: Store, strategy: str) -> tuple[GridLayoutRow | None, list[GridSlotRow]]:
    """The stored layout and slots (by slot index) of ``strategy``; (None, []) for a new one."""
    with store.session() as s:
        layout = s.exec(select(GridLayoutRow).where(GridLayoutRow.strategy == strategy)).first()
        slots = s.exec(select(GridSlotRow).where(GridSlotRow.strategy == strategy).order_by(GridSlotRow.slot)).all()
        return layout, list(slots)


def save(store: Store, rows: Iterable[SQLModel]) -> None:
    """Insert or update rows in one transaction; the objects stay usable afterwards."""
    with store.session() as s:
        for row in rows:
            s.add(row)


def stored_fills(store: Store, client_order_id: str) -> list[Fill]:
    """The fills the host stored for one order (used when some never reached the strategy)."""
    with store.session() as s:
        rows = s.exec(select(FillRow).where(FillRow.client_order_id == client_order_id).order_by(FillRow.id)).all()
        return [row_to_fill(r) for r in rows]
