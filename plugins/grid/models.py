"""Grid storage: the ``grid_slots`` and ``grid_layouts`` tables and the queries the grid makes.

The strategy works on :class:`Slot` objects in memory and writes a slot back whenever it
changes, before it acts on the change (a slot's next client order id is on disk before the
order is submitted): inline on SQLite, on the store writer's thread, in order, on PostgreSQL
(copies, whose row ids :func:`save` finds by slot index when an earlier queued write made the
row). Money columns are exact decimal strings.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, UniqueConstraint, bindparam
from sqlmodel import Field, SQLModel, col, select

from bot.api import ZERO
from bot.api.storage import Store, money


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
    """The price the slot sells at; while its own sell rests at the price of a tick the venue has changed since, that
    sell's price (:attr:`Slot.offered_at`)."""
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


_SLOTS: Table = GridSlotRow.__table__  # type: ignore[attr-defined]  # SQLModel's metaclass sets it; its types do not say
_UPDATE_SLOT = _SLOTS.update().where(_SLOTS.c.id == bindparam("_row_id"))
"""Update one slot row by id; executed with a list of parameter sets to write many at once."""


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


@dataclass(slots=True)
class Slot:
    """One slot in memory: the strategy's working copy of its ``grid_slots`` row.

    A plain object on purpose: the strategy scans its slots on the hot path, and reading an
    attribute of a mapped row costs some thirty times as much.
    """

    index: int
    buy_price: Decimal
    sell_price: Decimal
    state: SlotState = SlotState.FREE
    qty: Decimal = ZERO
    order_id: str | None = None
    seq: int = 0
    cost: Decimal = ZERO
    proceeds: Decimal = ZERO
    round_trips: int = 0
    profit: Decimal = ZERO
    updated_ns: int = 0
    row_id: int | None = None
    opened_by: str | None = None
    """Client order id of the buy whose inventory the slot holds (LOCKED): its sells close that buy's lot.
    Not a column: at start it is found again among the stored orders."""
    bought_at: Decimal | None = None
    """Average price the inventory held (LOCKED) was bought at, by its buy's fills; None: not known. Not a column: at
    start it is the stored buy's average price."""
    sold_qty: Decimal = ZERO
    """Base sold so far of the inventory held, by its sells' fills (with ``sold_value``: the price they sold at, for
    the round trip's log line: the slot's prices may have moved onto a new tick since). Not columns: at start they
    are the stored sells' figures."""
    sold_value: Decimal = ZERO
    offered_at: Decimal | None = None
    """The price of the slot's own sell resting on the venue (LOCKED) while ``sell_price`` has moved onto a tick the
    venue changed since it was placed (a finer tick: 150.1 on a tick of 0.1, the slot's price 150.05 on one of 0.01);
    None otherwise, and once that sell ends. Not a column: while that sell rests, the row's ``sell_price`` says this
    price, so a restart knows the sell for the slot's own, not one offered above the range
    (:meth:`GridStrategy._find_repriced`), and lays the slot out on the tick of then as a fresh start would."""

    def values(self, strategy: str) -> dict[str, Any]:
        """Column values of this slot's row."""
        sell_price = self.sell_price if self.offered_at is None else self.offered_at
        return dict(strategy=strategy, slot=self.index, state=self.state.value, buy_price=self.buy_price,
                    sell_price=sell_price, qty=self.qty, order_id=self.order_id, seq=self.seq, cost=self.cost,
                    proceeds=self.proceeds, round_trips=self.round_trips, profit=self.profit,
                    updated_ns=self.updated_ns)

    @classmethod
    def from_row(cls, row: GridSlotRow) -> Slot:
        return cls(index=row.slot, buy_price=row.buy_price, sell_price=row.sell_price, state=SlotState(row.state),
                   qty=row.qty, order_id=row.order_id, seq=row.seq, cost=row.cost, proceeds=row.proceeds,
                   round_trips=row.round_trips, profit=row.profit, updated_ns=row.updated_ns, row_id=row.id)


def load_grid(store: Store, strategy: str) -> tuple[GridLayoutRow | None, list[Slot]]:
    """The stored layout and slots (by slot index) of ``strategy``; (None, []) for a new one."""
    with store.session() as s:
        layout = s.exec(select(GridLayoutRow).where(GridLayoutRow.strategy == strategy)).first()
        rows = s.exec(select(GridSlotRow).where(GridSlotRow.strategy == strategy).order_by(col(GridSlotRow.slot))).all()
        return layout, [Slot.from_row(row) for row in rows]


def save(store: Store, strategy: str, slots: Iterable[Slot], layout: GridLayoutRow | None = None) -> None:
    """Write slots (and the layout) in one transaction; new slots get their ``row_id``."""
    slots = list(slots)
    if layout is None and all(slot.row_id is not None for slot in slots):
        # The frequent case (slots changing state): plain Core, a third cheaper than an ORM session.
        with store.engine.begin() as conn:
            conn.execute(_UPDATE_SLOT, [{"_row_id": slot.row_id, **slot.values(strategy)} for slot in slots])
        return
    with store.session() as s:
        if layout is not None:  # a copy written off the loop (the strategy's own is never shared with that thread)
            if layout.id is None:  # written meanwhile by an earlier write queued with this one (off the loop)
                layout.id = s.exec(select(GridLayoutRow.id).where(GridLayoutRow.strategy == strategy)).first()
            merged = s.merge(layout)
            s.flush()
            layout.id = merged.id
        unknown = {slot.index: slot for slot in slots if slot.row_id is None}
        if unknown:  # written meanwhile by an earlier write that was queued with this one (off the loop)
            found = s.exec(select(GridSlotRow.slot, GridSlotRow.id).where(
                GridSlotRow.strategy == strategy, col(GridSlotRow.slot).in_(list(unknown)))).all()
            for index, row_id in found:
                unknown[index].row_id = row_id
        new, changed = [], []
        for slot in slots:
            if slot.row_id is None:
                row = GridSlotRow(**slot.values(strategy))
                s.add(row)
                new.append((slot, row))
            else:
                changed.append({"_row_id": slot.row_id, **slot.values(strategy)})
        if changed:  # one compiled statement, executed for every slot
            s.connection().execute(_UPDATE_SLOT, changed)
        if new:
            s.flush()
            for slot, row in new:
                slot.row_id = row.id

