"""bot.api.kit.OrderMemory: a venue's ids and fills of its newest orders, never forgetting one still open."""

from __future__ import annotations

from decimal import Decimal

from bot.api import Fill, Liquidity, Side
from bot.api.kit import OrderMemory


def fill(cid: str, tid: str) -> Fill:
    return Fill("v", "BTC/USD", cid, tid, Side.BUY, Decimal(100), Decimal("0.01"), Decimal(0), "USD",
                Liquidity.TAKER, 0)


def test_the_newest_orders_are_kept_and_an_open_one_is_never_forgotten():
    open_orders = {"o1", "o2"}
    memory = OrderMemory(3, open_orders.__contains__)
    for i in range(10):
        memory.remember(f"v{i}", f"o{i}")
        for leg in range(2):
            memory.keep(fill(f"o{i}", f"t{i}-{leg}"))
        memory.keep(fill(f"o{i}", f"t{i}-0"))  # read again: kept once
        memory.forget_old()
    assert set(memory.ids.values()) == {"o1", "o2", "o9"}  # three kept: the two still open and the newest
    assert list(memory.ids.values())[-1] == "o9"
    assert set(memory.trade_ids) == {"o1", "o2", "o9"}
    assert memory.trade_ids["o9"] == ["t9-0", "t9-1"]
    assert set(memory.fills) == {tid for tids in memory.trade_ids.values() for tid in tids}
    assert "o0" not in memory.trade_ids and "t0-0" not in memory.fills  # forgotten with its fills


def test_an_order_used_again_goes_to_the_back():
    memory = OrderMemory(2, lambda cid: False)
    memory.remember("a", "A")
    memory.remember("b", "B")
    memory.remember("a", "A")  # looked up again
    memory.remember("c", "C")
    assert list(memory.ids) == ["a", "c"]
