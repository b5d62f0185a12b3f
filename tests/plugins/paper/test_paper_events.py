"""The paper venues' event makers (plugins/paper/events.py): the very events the constructors make, for types
of the shape they check."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, fields
from decimal import Decimal as D

import pytest

from bot.api import Fill, Liquidity, OrderReport, OrderState, OrderStatus, PoolUpdate, Side, Trade
from plugins.paper.events import (
    new_fill,
    new_order_report,
    new_order_state,
    new_pool_update,
    new_trade,
    slots_match,
)


def test_the_makers_make_the_constructors_events():
    trade = new_trade("p", "SOL/USDC", D("150.01"), D("0.5"), Side.SELL, 7)
    assert type(trade) is Trade and trade == Trade("p", "SOL/USDC", D("150.01"), D("0.5"), Side.SELL, 7)
    assert repr(trade) == repr(Trade("p", "SOL/USDC", D("150.01"), D("0.5"), Side.SELL, 7))
    pool = object()  # any pool: the event only carries it
    update = new_pool_update("dex", "SOL/USDC", pool, 9, 3)
    assert type(update) is PoolUpdate and update == PoolUpdate("dex", "SOL/USDC", pool, 9, 3)
    assert (update.pool, update.ts_ns, update.slot) == (pool, 9, 3)
    fill_fields = ("p", "SOL/USDC", "c1", "paper-7", Side.BUY, D("150.01"), D("0.5"), D("0.07"), "USDC",
                   Liquidity.TAKER, 11)
    fill = new_fill(*fill_fields)
    assert type(fill) is Fill and fill == Fill(*fill_fields) and hash(fill) == hash(Fill(*fill_fields))
    assert repr(fill) == repr(Fill(*fill_fields))
    for state_fields in (("c1", OrderStatus.FILLED, "paper-o-3", D("0.5"), D("150.01"), (fill,), ""),
                         ("c2", OrderStatus.REJECTED, None, D(0), None, (), "refused")):
        state = new_order_state(*state_fields)
        assert type(state) is OrderState and state == OrderState(*state_fields)
        assert repr(state) == repr(OrderState(*state_fields))
        report = new_order_report("p", "SOL/USDC", state, 13)
        made = OrderReport("p", "SOL/USDC", OrderState(*state_fields), 13)
        assert type(report) is OrderReport and report == made and hash(report) == hash(made)
        assert repr(report) == repr(made)
    for event in (trade, update, fill, state, report):  # made on a writable twin, frozen as the constructor's
        with pytest.raises(FrozenInstanceError):
            setattr(event, fields(event)[0].name, None)


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
