"""The paper venues' event makers (plugins/paper/events.py): the very events the constructors make, for types
of the shape they check."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal as D

from bot.api import PoolUpdate, Side, Trade
from plugins.paper.events import new_pool_update, new_trade, slots_match


def test_the_makers_make_the_constructors_events():
    trade = new_trade("p", "SOL/USDC", D("150.01"), D("0.5"), Side.SELL, 7)
    assert type(trade) is Trade and trade == Trade("p", "SOL/USDC", D("150.01"), D("0.5"), Side.SELL, 7)
    assert repr(trade) == repr(Trade("p", "SOL/USDC", D("150.01"), D("0.5"), Side.SELL, 7))
    pool = object()  # any pool: the event only carries it
    update = new_pool_update("dex", "SOL/USDC", pool, 9, 3)
    assert type(update) is PoolUpdate and update == PoolUpdate("dex", "SOL/USDC", pool, 9, 3)
    assert (update.pool, update.ts_ns, update.slot) == (pool, 9, 3)


def test_only_a_slotted_dataclass_of_those_fields_is_made_slot_by_slot():
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(frozen=True, slots=True)
    class Other:
        a: int
        b: int

    assert not slots_match(NoSlots, ("a",)) and not slots_match(Other, ("b", "a"))
    assert slots_match(Other, ("a", "b")) and slots_match(Trade, tuple(f.name for f in fields(Trade)))
