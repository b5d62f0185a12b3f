"""A slot whose order is refused again and again (not enough balance, a risk veto) tries every ``retry_after_s``; after
REFUSED_ALERT_AFTER refusals in a row a trader hears of it: one WARNING per cause (side and outcome) naming the slot,
price, reason and fix, however many slots it holds back, and one INFO note once the cause's slots go through."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import AlertLevel, OrderStatus, OrderUpdate
from plugins.grid.strategy import REFUSED_ALERT_AFTER

D = Decimal


def refusals(ctx):
    return [a for a in ctx.alerts if a[0] is AlertLevel.WARNING and "refused" in a[2]]


def reject_open_buys(grid, ctx, reason="insufficient funds"):
    for cid, order in list(ctx.orders.items()):
        if not order.status.terminal:
            ctx.finish(grid, cid, OrderStatus.REJECTED, reason=reason)


async def test_a_buy_refused_again_and_again_is_alerted_once_then_its_recovery(make_grid, ctx, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))  # buys at 100, 110, 120
    for round_ in range(1, REFUSED_ALERT_AFTER + 3):
        reject_open_buys(grid, ctx)
        if round_ < REFUSED_ALERT_AFTER:
            assert refusals(ctx) == [], f"alerted after {round_} refusals"
        clock.advance(30)
        grid.on_market(ctx.book("124.99", "125.01"))  # each slot tries again

    alerts = refusals(ctx)
    assert len(alerts) == 1, alerts  # three slots, one cause, several rounds: one alert
    message = alerts[0][2]
    for part in ("slot 0", "buy", "100", "insufficient funds", "USD", "order_size", "retry_after_s"):
        assert part in message, f"{part!r} missing from {message!r}"

    # the account is funded: the next orders rest on the venue
    for cid, order in list(ctx.orders.items()):
        if not order.status.terminal:
            grid.on_order_update(OrderUpdate("paper", "BTC/USD", cid, "g", OrderStatus.OPEN, D(0), None,
                                             clock.time_ns(), ""))
    notes = [a for a in ctx.alerts if a[0] is AlertLevel.INFO and "going through" in a[2]]
    assert len(notes) == 1, ctx.alerts
    assert "buy" in notes[0][2]

    clock.advance(30)  # refused again later: a new cause episode alerts again, after as many refusals
    for _ in range(REFUSED_ALERT_AFTER):
        reject_open_buys(grid, ctx)
        clock.advance(30)
        grid.on_market(ctx.book("124.99", "125.01"))
    assert len(refusals(ctx)) == 2


async def test_a_vetoed_sell_is_alerted_naming_the_base_and_recovers_on_its_fill(make_grid, ctx, clock):
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
    alerts = refusals(ctx)
    assert len(alerts) == 1, ctx.alerts
    assert all(part in alerts[0][2] for part in ("slot 0", "sell", "110", "BTC")), alerts[0][2]
    ctx.veto = False
    clock.advance(30)
    grid.on_market(ctx.book("104.99", "105.01"))
    ctx.fill(grid, ctx.last().client_order_id)
    assert [a for a in ctx.alerts if a[0] is AlertLevel.INFO and "going through" in a[2]]


async def test_a_single_refusal_alerts_nothing(make_grid, ctx, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.finish(grid, "g-2-1", OrderStatus.REJECTED, reason="PostOnlyWouldCross")
    clock.advance(30)
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill(grid, "g-2-2")
    assert ctx.alerts == []
