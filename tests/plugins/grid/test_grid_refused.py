"""A slot whose order is refused again and again (not enough balance, a risk veto, the venue cancelling it) tries every
``retry_after_s``; after REFUSED_ALERT_AFTER refusals in a row the grid says so once per cause (side and outcome),
naming the slot, price, reason and fix, however many slots it holds back, and once the cause's slots go through. A
rejected, failed or vetoed order is the host's to alert (once per cause, ``bot.refusals``): the grid logs it; an order
the venue cancelled is the grid's to alert."""

from __future__ import annotations

import logging
from decimal import Decimal

from bot.domain import AlertLevel, OrderStatus, OrderUpdate
from plugins.grid.strategy import REFUSED_ALERT_AFTER

D = Decimal


def refusals(ctx):
    return [a for a in ctx.alerts if a[0] is AlertLevel.WARNING and "refused" in a[2]]


def logged(caplog, level, words):
    return [r.getMessage() for r in caplog.records if r.levelno == level and words in r.getMessage()]


def end_open_orders(grid, ctx, status, reason=""):
    for cid, order in list(ctx.orders.items()):
        if not order.status.terminal:
            ctx.finish(grid, cid, status, reason=reason)


async def test_a_buy_the_venue_cancels_again_and_again_is_alerted_once_then_its_recovery(make_grid, ctx, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))  # buys at 100, 110, 120
    for round_ in range(1, REFUSED_ALERT_AFTER + 3):
        end_open_orders(grid, ctx, OrderStatus.CANCELLED, reason="post-only order would have crossed")
        if round_ < REFUSED_ALERT_AFTER:
            assert refusals(ctx) == [], f"alerted after {round_} refusals"
        clock.advance(30)
        grid.on_market(ctx.book("124.99", "125.01"))  # each slot tries again

    alerts = refusals(ctx)
    assert len(alerts) == 1, alerts  # three slots, one cause, several rounds: one alert
    message = alerts[0][2]
    for part in ("slot 0", "buy", "100", "cancelled", "would have crossed", "order_size", "retry_after_s"):
        assert part in message, f"{part!r} missing from {message!r}"

    for cid, order in list(ctx.orders.items()):  # the next orders rest on the venue
        if not order.status.terminal:
            grid.on_order_update(OrderUpdate("paper", "BTC/USD", cid, "g", OrderStatus.OPEN, D(0), None,
                                             clock.time_ns(), ""))
    notes = [a for a in ctx.alerts if a[0] is AlertLevel.INFO and "going through" in a[2]]
    assert len(notes) == 1, ctx.alerts
    assert "buy" in notes[0][2]

    clock.advance(30)  # refused again later: a new cause episode alerts again, after as many refusals
    for _ in range(REFUSED_ALERT_AFTER):
        end_open_orders(grid, ctx, OrderStatus.CANCELLED)
        clock.advance(30)
        grid.on_market(ctx.book("124.99", "125.01"))
    assert len(refusals(ctx)) == 2


async def test_a_buy_rejected_again_and_again_is_logged_with_the_fix_and_left_to_the_host_to_alert(
        make_grid, ctx, clock, caplog):
    caplog.set_level(logging.INFO, logger="tests.grid")
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    for _ in range(REFUSED_ALERT_AFTER + 2):
        end_open_orders(grid, ctx, OrderStatus.REJECTED, reason="insufficient funds")
        clock.advance(30)
        grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.alerts == []  # the host alerted each cause once (bot.refusals): not a second owner
    [warning] = logged(caplog, logging.WARNING, "refused")
    for part in ("slot 0", "buy", "100", "insufficient funds", "USD", "order_size", "retry_after_s"):
        assert part in warning, f"{part!r} missing from {warning!r}"
    for cid, order in list(ctx.orders.items()):
        if not order.status.terminal:
            grid.on_order_update(OrderUpdate("paper", "BTC/USD", cid, "g", OrderStatus.OPEN, D(0), None,
                                             clock.time_ns(), ""))
    assert len(logged(caplog, logging.INFO, "going through again")) == 1 and ctx.alerts == []


async def test_a_vetoed_sell_is_logged_naming_the_base_and_recovers_on_its_fill(make_grid, ctx, clock, caplog):
    caplog.set_level(logging.INFO, logger="tests.grid")
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-0-1")
    ctx.veto = True
    grid.on_market(ctx.book("104.99", "105.01"))  # below 110: the sell is due once the buys at 110, 120 are gone
    for cid in ("g-1-1", "g-2-1"):
        ctx.finish(grid, cid, OrderStatus.CANCELLED)  # the sell is vetoed
    for _ in range(REFUSED_ALERT_AFTER - 1):
        clock.advance(30)
        grid.on_market(ctx.book("104.99", "105.01"))  # vetoed again
    [warning] = logged(caplog, logging.WARNING, "refused")
    assert all(part in warning for part in ("slot 0", "sell", "110", "BTC")), warning
    assert refusals(ctx) == []  # the host alerts the veto (bot.refusals)
    ctx.veto = False
    clock.advance(30)
    grid.on_market(ctx.book("104.99", "105.01"))
    ctx.fill(grid, ctx.last().client_order_id)
    assert logged(caplog, logging.INFO, "going through again")


async def test_a_single_refusal_alerts_nothing(make_grid, ctx, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.finish(grid, "g-2-1", OrderStatus.REJECTED, reason="PostOnlyWouldCross")
    clock.advance(30)
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill(grid, "g-2-2")
    assert ctx.alerts == []
