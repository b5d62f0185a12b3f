"""The paper venues' event makers (plugins/paper/events.py): the very events the constructors make, or the
constructors themselves for a type of another shape."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D

from bot.api import PoolUpdate, Side, Trade
from plugins.paper.events import maker, new_pool_update, new_trade


def test_the_makers_make_the_constructors_events():
    trade = new_trade("p", "SOL/USDC", D("150.01"), D("0.5"), Side.SELL, 7)
    assert type(trade) is Trade and trade == Trade("p", "SOL/USDC", D("150.01"), D("0.5"), Side.SELL, 7)
    assert repr(trade) == repr(Trade("p", "SOL/USDC", D("150.01"), D("0.5"), Side.SELL, 7))
    pool = object()  # any pool: the event only carries it
    update = new_pool_update("dex", "SOL/USDC", pool, 9, 3)
    assert type(update) is PoolUpdate and update == PoolUpdate("dex", "SOL/USDC", pool, 9, 3)
    assert (update.pool, update.ts_ns, update.slot) == (pool, 9, 3)


def test_a_type_of_another_shape_keeps_its_constructor():
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(frozen=True, slots=True)
    class Other:
        a: int
        b: int

    assert maker(NoSlots, ("a",)) is NoSlots
    assert maker(Other, ("b", "a")) is Other
    made = maker(Other, ("a", "b"))
    assert made is not Other and made(1, 2) == Other(1, 2)
