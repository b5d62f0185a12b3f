"""Late fills of one order that the grid's slots cannot hold (base sold twice, bought with no slot to sell it, an order
of no slot the grid has now) are alerted once per order, at its first such fill: a finished sell whose venue reports
30 partial fills after its end sent 30 alerts, one per fill. The later ones are logged, each with the order's count
and total so far."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from bot.domain import AlertLevel, OrderStatus

D = Decimal
PARTS = 30


def _late_warnings(ctx, order_id: str) -> list[str]:
    return [a[2] for a in ctx.alerts if a[0] is AlertLevel.WARNING and order_id in a[2]]


def _logged(caplog: pytest.LogCaptureFixture, order_id: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tests.grid" and order_id in r.getMessage()
            and r.levelno == logging.WARNING]


async def test_thirty_late_fills_of_a_sell_sold_twice_are_one_alert(make_grid, ctx, clock, caplog):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")
    ctx.finish(grid, "g-2-2", OrderStatus.CANCELLED)  # nothing filled, says the venue
    clock.advance(30)
    grid.on_market(ctx.book("125", "125.01"))
    ctx.fill_all(grid, "g-2-3")  # the slot's 1 BTC sold again at 130: the slot is free
    with caplog.at_level(logging.WARNING, logger="tests.grid"):
        for _ in range(PARTS):  # then the first sell's fills, 0.01 BTC each: 0.3 BTC sold twice
            ctx.fill(grid, "g-2-2", qty="0.01")
    alerts = _late_warnings(ctx, "g-2-2")
    print(f"{len(alerts)} alert(s) for {PARTS} late fills of one sell")
    assert len(alerts) == 1 and "0.01" in alerts[0], alerts
    logged = _logged(caplog, "g-2-2")
    assert len(logged) == PARTS, logged  # each fill logged; the later ones with the order's count and total
    assert f"late fill {PARTS} of" in logged[-1] and "0.30 BTC in all" in logged[-1], logged[-1]
    assert grid._slots[2].order_id == "g-2-4"
    ctx.fill_all(grid, "g-2-4")  # 1 BTC bought again: 0.3 of it makes good what was sold twice
    assert ctx.last().qty == D("0.7")


async def test_late_fills_of_a_cancelled_buy_are_one_alert(make_grid, ctx, caplog):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.finish(grid, "g-2-1", OrderStatus.CANCELLED)  # nothing filled, says the venue
    with caplog.at_level(logging.WARNING, logger="tests.grid"):
        for _ in range(4):
            ctx.fill(grid, "g-2-1", qty="0.25")  # then its fills: the grid holds 1 BTC no slot sells
    assert len(_late_warnings(ctx, "g-2-1")) == 1, ctx.alerts
    assert "late fill 4 of" in _logged(caplog, "g-2-1")[-1] and "1.00 BTC in all" in _logged(caplog, "g-2-1")[-1]


async def test_late_fills_of_an_order_of_no_slot_are_one_alert(make_grid, ctx, store, restart):
    """Slot 4's cancelled sell, after its lot was sold again and the grid laid out again on 3 levels (no slot 4): its
    late fills too."""
    grid = await make_grid(post_only=False)
    grid.on_market(ctx.book("144.99", "145.01"))
    store.insert_fill(ctx.fill(grid, "g-4-1"), "g")
    ctx.finish(grid, "g-4-1")
    ctx.finish(grid, "g-4-2", OrderStatus.CANCELLED)
    ctx.clock.advance(30)
    grid.on_market(ctx.book("144.99", "145.01"))
    store.insert_fill(ctx.fill(grid, "g-4-3"), "g")
    ctx.finish(grid, "g-4-3")
    for cid in [c for c, o in ctx.orders.items() if not o.status.terminal]:  # the stop cancels what rests
        ctx.finish(grid, cid, OrderStatus.CANCELLED)
    for order in ctx.orders.values():
        store.insert_order(order)
    again = restart()
    again._trade = 100
    grid2 = await make_grid(context=again, post_only=False, levels=3)
    for _ in range(3):
        grid2.on_fill(again.fill(None, "g-4-2", qty="0.1"))
    assert grid2._book.qty == D("-0.3")
    assert len(_late_warnings(again, "g-4-2")) == 1, again.alerts
