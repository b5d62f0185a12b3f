"""A venue that changes its tick or lot size while the bot runs, with no re-centre or new layout to follow: the grid
reads the rules again (each reconcile, and whenever an order is refused) and moves its slots onto them once, with
one alert, rather than sending every order on the old tick to be refused until a restart."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from bot.domain import OrderStatus, Side

D = Decimal

GEOMETRIC = dict(lower=D(100), upper=D(200), levels=4, spacing="geometric")
"""Levels 100, 125.99.., 158.74.., 200: slot 1 buys at 125.99 and sells at 158.75 at a tick of 0.01."""

OFF_TICK = "price 125.99 is not a multiple of the tick size 0.1"


def change_rules(context, **rules) -> None:
    """The venue's rules of BTC/USD change (what ``ctx.exchange("paper").market("BTC/USD")`` answers from now)."""
    exchange = context._exchange
    exchange._market = dataclasses.replace(exchange._market, **rules)


def rules_alerts(context) -> list[str]:
    return [a[2] for a in context.alerts if "rules" in a[2]]


async def test_a_buy_refused_for_the_new_tick_moves_the_slots_onto_it_once(make_grid, ctx):
    grid = await make_grid(**GEOMETRIC)
    grid.on_market(ctx.book("124.99", "125.01"))  # slot 0 buys at 100; slot 1 (125.99) waits for the ask
    change_rules(ctx, tick_size=D("0.1"))
    grid.on_market(ctx.book("126.5", "126.51"))
    assert (ctx.last().client_order_id, ctx.last().price) == ("g-1-1", D("125.99"))
    ctx.finish(grid, "g-1-1", OrderStatus.REJECTED, OFF_TICK)
    assert [(s.buy_price, s.sell_price) for s in grid._slots] == [(D(100), D("126.0")), (D("125.9"), D("158.8")),
                                                                  (D("158.7"), D(200))]
    assert (ctx.last().client_order_id, ctx.last().price) == ("g-1-2", D("125.9"))  # at once, on the new tick
    alerts = rules_alerts(ctx)
    assert len(alerts) == 1 and "tick size 0.01 -> 0.1" in alerts[0], ctx.alerts

    ctx.finish(grid, "g-1-2", OrderStatus.REJECTED, "insufficient funds")  # another refusal: no second move
    await grid.reconcile()
    assert len(rules_alerts(ctx)) == 1
    assert ctx.last().client_order_id == "g-1-2"  # this one waits retry_after_s, as any refusal


async def test_a_reconcile_finds_a_new_tick_and_lot_before_any_order_is_refused(make_grid, ctx, store):
    grid = await make_grid(order_size=D("0.075"), **GEOMETRIC)
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-0-1")  # slot 0 holds 0.075, offered at 125.99 (g-0-2)
    ctx.finish(grid, "g-0-2", OrderStatus.CANCELLED)  # its sell cancelled (say by hand): offered again later
    change_rules(ctx, tick_size=D("0.1"), lot_size=D("0.01"), min_qty=D("0.01"))
    await grid.reconcile()
    assert len(rules_alerts(ctx)) == 1
    await grid.reconcile()
    assert len(rules_alerts(ctx)) == 1  # once
    ctx.clock.advance(30)
    grid.on_market(ctx.book("125", "125.1"))
    sell = ctx.last()
    assert (sell.client_order_id, sell.side, sell.price, sell.qty) == ("g-0-3", Side.SELL, D("126.0"), D("0.07"))
    ctx.fill_all(grid, "g-0-3")  # the slot's round trip is done; the 0.005 below a lot stays, for a later sell
    assert grid.status()["slots completed"] == "1"  # and slot 0 buys again at once, the new lot size
    assert (ctx.last().client_order_id, ctx.last().side, ctx.last().qty) == ("g-0-4", Side.BUY, D("0.07")), ctx.last()


async def test_a_tick_too_coarse_for_the_running_grid_stops_its_buys_and_says_so_once(make_grid, ctx):
    grid = await make_grid(**GEOMETRIC)
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-0-1")  # slot 0 holds 1 BTC, offered at 125.99 (g-0-2)
    ctx.finish(grid, "g-0-2", OrderStatus.CANCELLED)
    change_rules(ctx, tick_size=D(40))
    await grid.reconcile()
    await grid.reconcile()
    alerts = rules_alerts(ctx)
    assert len(alerts) == 1 and "tick size 40" in alerts[0] and "no new buys" in alerts[0], alerts
    ctx.clock.advance(30)
    grid.on_market(ctx.book("119", "121"))
    placed = [i for i in ctx.submitted if i.client_order_id not in ("g-0-1", "g-0-2")]
    assert [(i.side, i.price) for i in placed] == [(Side.SELL, D(160))]  # the held lot sells, on the tick, up
    change_rules(ctx, tick_size=D("0.1"))  # fits again: the grid buys again
    await grid.reconcile()
    assert len(rules_alerts(ctx)) == 2
    grid.on_market(ctx.book("129", "130"))
    assert (ctx.last().side, ctx.last().price) == (Side.BUY, D("125.9"))


async def test_a_lot_below_the_new_lot_size_is_left_unsold_not_offered_over_and_over(make_grid, ctx):
    grid = await make_grid(order_size=D("0.075"), **GEOMETRIC)
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-0-1")  # slot 0 holds 0.075
    ctx.finish(grid, "g-0-2", OrderStatus.CANCELLED)
    change_rules(ctx, lot_size=D("0.1"), min_qty=D("0.1"))  # 0.075 is no whole lot: no sell can offer it
    await grid.reconcile()
    ctx.clock.advance(30)
    grid.on_market(ctx.book("125", "125.1"))
    assert ctx.submitted_ids() == ["g-0-1", "g-0-2"]  # nothing sent to be refused: the order size fits no more
    assert grid.status()["slots"] == "3 free / 0 pending / 0 locked"
    alerts = rules_alerts(ctx)
    assert len(alerts) == 1 and "order_size 0.075 rounds to 0.0" in alerts[0] and "no new buys" in alerts[0], alerts


async def test_a_higher_minimum_order_value_stops_the_buys_once_until_they_fit_again(make_grid, ctx):
    """Only the venue's min_notional changed (tick and lot as before): the grid kept the new rules but did nothing
    until its next layout, so every buy went out to be refused each retry_after_s. It is followed as a tick or lot
    change is: one alert, no buy while 1 BTC at the lowest level (100) is worth less than the minimum, and buys again
    once the minimum fits."""
    grid = await make_grid(**GEOMETRIC)
    grid.on_market(ctx.book("124.99", "125.01"))  # slot 0's buy rests at 100
    ctx.finish(grid, "g-0-1", OrderStatus.CANCELLED)  # (cancelled by hand): free again
    change_rules(ctx, min_notional=D(500))
    await grid.reconcile()
    await grid.reconcile()
    alerts = rules_alerts(ctx)
    assert len(alerts) == 1, ctx.alerts
    assert "min notional 5 -> 500" in alerts[0] and "no new buys" in alerts[0], alerts
    ctx.clock.advance(30)
    grid.on_market(ctx.book("125", "125.1"))
    assert ctx.submitted_ids() == ["g-0-1"]  # nothing sent to be refused
    change_rules(ctx, min_notional=D(50))  # fits again
    await grid.reconcile()
    assert len(rules_alerts(ctx)) == 2
    grid.on_market(ctx.book("125", "125.1"))
    assert (ctx.last().client_order_id, ctx.last().side, ctx.last().price) == ("g-0-2", Side.BUY, D(100))


async def test_a_higher_minimum_quantity_stops_the_buys_once(make_grid, ctx):
    """Only min_qty changed, above the order size: one alert, no buy sent to be refused."""
    grid = await make_grid(**GEOMETRIC)
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.finish(grid, "g-0-1", OrderStatus.CANCELLED)
    change_rules(ctx, min_qty=D(2))
    ctx.clock.advance(30)
    grid.on_market(ctx.book("125", "125.1"))
    assert ctx.last().client_order_id == "g-0-2"  # sent before the change is read: refused by the venue
    ctx.finish(grid, "g-0-2", OrderStatus.REJECTED, "order size below the minimum of 2")
    await grid.reconcile()
    alerts = rules_alerts(ctx)
    assert len(alerts) == 1 and "min qty 0.001 -> 2" in alerts[0] and "no new buys" in alerts[0], ctx.alerts
    ctx.clock.advance(30)
    grid.on_market(ctx.book("125", "125.1"))
    assert ctx.submitted_ids() == ["g-0-1", "g-0-2"]
