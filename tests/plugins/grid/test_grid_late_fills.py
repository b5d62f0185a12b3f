"""A fill that arrives after its order was reported cancelled (the venue matched it before the cancel landed, and
said so late) is the slot's: a sell's late fill sold part of what the slot holds, so the slot never offers it again."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import AlertLevel, OrderStatus, Side
from plugins.grid.models import load_grid

D = Decimal


def stored(grid, index: int):
    return load_grid(grid.ctx.store, grid.name)[1][index]


def sells(ctx) -> list[tuple[str, Decimal]]:
    return [(i.client_order_id, i.qty) for i in ctx.submitted if i.side is Side.SELL]


async def test_a_late_fill_of_a_cancelled_sell_is_not_sold_again(make_grid, ctx, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")  # slot 2 holds 1 BTC, offered at 130 (g-2-2)
    ctx.finish(grid, "g-2-2", OrderStatus.CANCELLED)  # cancelled (the operator's /kill), nothing filled ...
    ctx.fill(grid, "g-2-2", qty="0.4")  # ... then its fill of 0.4 arrives: 0.6 BTC left to sell

    clock.advance(30)
    grid.on_market(ctx.book("125", "125.01"))
    assert sells(ctx) == [("g-2-2", D(1)), ("g-2-3", D("0.6"))], f"the grid holds 0.6 BTC: {sells(ctx)}"
    ctx.fill_all(grid, "g-2-3")
    assert (grid.status()["slots"], grid.status()["slots completed"]) == ("2 free / 3 pending / 0 locked", "1")
    assert grid._book.qty == 0


async def test_a_late_fill_of_the_whole_sell_frees_the_slot(make_grid, ctx, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")
    ctx.finish(grid, "g-2-2", OrderStatus.CANCELLED)
    ctx.fill(grid, "g-2-2")  # it had sold everything

    clock.advance(30)
    grid.on_market(ctx.book("125", "125.01"))
    assert sells(ctx) == [("g-2-2", D(1))], f"the grid offers BTC it sold already: {sells(ctx)}"
    assert grid.status()["slots completed"] == "1" and grid._slots[2].state.value != "locked"


async def test_a_late_fill_while_the_next_sell_rests_cancels_that_sell_and_offers_the_rest(make_grid, ctx, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")
    ctx.finish(grid, "g-2-2", OrderStatus.CANCELLED)
    clock.advance(30)
    grid.on_market(ctx.book("125", "125.01"))  # the slot offers its 1 BTC again (g-2-3)
    ctx.fill(grid, "g-2-2", qty="0.4")  # now the first sell's late fill arrives: g-2-3 offers 0.4 too many

    assert "g-2-3" in ctx.cancelled
    ctx.finish(grid, "g-2-3", OrderStatus.CANCELLED)
    clock.advance(30)
    grid.on_market(ctx.book("125", "125.01"))
    assert sells(ctx)[-1] == ("g-2-4", D("0.6"))


async def test_a_cancel_reported_with_fewer_filled_than_the_fills_delivered_sells_only_the_rest(make_grid, ctx, clock):
    """The venue's answer to the cancel was made before its fill feed's last fill (filled 0 while a fill of 0.4 was
    delivered): the fills delivered are what the sell sold."""
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")
    ctx.fill(grid, "g-2-2", qty="0.4")  # delivered while the sell rests
    ctx.orders["g-2-2"].filled_qty = D(0)  # the cancel's answer says nothing filled
    ctx.finish(grid, "g-2-2", OrderStatus.CANCELLED)

    clock.advance(30)
    grid.on_market(ctx.book("125", "125.01"))
    assert sells(ctx) == [("g-2-2", D(1)), ("g-2-3", D("0.6"))], f"the grid holds 0.6 BTC: {sells(ctx)}"


async def test_a_buy_cancel_reported_with_fewer_filled_than_the_fills_delivered_sells_what_was_bought(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill(grid, "g-2-1", qty="0.4", fee="0.05")  # delivered while the buy rests
    ctx.orders["g-2-1"].filled_qty = D(0)  # the cancel's answer says nothing filled
    ctx.finish(grid, "g-2-1", OrderStatus.CANCELLED)

    sell = ctx.last()
    assert (sell.side, sell.price, sell.qty, sell.closes) == (Side.SELL, D(130), D("0.4"), "g-2-1")
    assert grid._slots[2].cost == D("48.05")


async def test_a_late_fill_after_a_restart_of_a_sell_cancelled_before_it(make_grid, ctx, store, restart, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")
    ctx.finish(grid, "g-2-2", OrderStatus.CANCELLED)  # cancelled at shutdown, nothing filled; the bot stops
    for order in ctx.orders.values():  # the host stores every order it accepts
        store.insert_order(order)

    again = restart()
    grid2 = await make_grid(context=again)
    again.fill(grid2, "g-2-2", qty="0.4")  # the venue says now that it had sold 0.4 before the cancel landed
    clock.advance(30)
    grid2.on_market(again.book("125", "125.01"))
    assert sells(again)[-1][1] == D("0.6"), f"the grid holds 0.6 BTC: {sells(again)}"


async def test_a_late_fill_after_the_next_sell_sold_everything_is_taken_off_the_next_round_trip(make_grid, ctx, clock):
    """The first sell's fill comes once a second sell has sold the slot's whole lot: 1.4 BTC sold of 1 bought. It
    cannot be undone; the grid says so, and its next sell offers 0.4 less, so no base is sold twice and none lost."""
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")
    ctx.finish(grid, "g-2-2", OrderStatus.CANCELLED)  # nothing filled, says the venue
    clock.advance(30)
    grid.on_market(ctx.book("125", "125.01"))
    ctx.fill_all(grid, "g-2-3")  # the slot's 1 BTC sold again at 130: the slot is free and bids at 120 (g-2-4)
    assert grid._slots[2].state.value == "pending"
    ctx.fill(grid, "g-2-2", qty="0.4")  # now the first sell's fill: the grid sold 0.4 BTC it did not hold

    warnings = [a for a in ctx.alerts if a[0] is AlertLevel.WARNING]
    assert warnings and "0.4" in warnings[-1][2] and "g-2-2" in warnings[-1][2], ctx.alerts
    assert grid._slots[2].state.value == "pending" and grid._slots[2].order_id == "g-2-4"

    ctx.fill_all(grid, "g-2-4")  # 1 BTC bought again: 0.4 of it makes good what was sold twice
    assert sells(ctx)[-1] == ("g-2-5", D("0.6"))
    ctx.fill_all(grid, "g-2-5")
    assert grid._book.qty == 0
    # two round trips of 1 BTC, 120 -> 130: 1.4 + 0.6 BTC sold at 130, 2 BTC bought at 120
    assert stored(grid, 2).profit == D(20) and grid._figures.realized == D(20)


async def test_a_late_fill_the_cancel_already_reported_is_not_taken_off_twice(make_grid, ctx, clock):
    """The cancel's answer says 0.4 filled before that fill is delivered (counted then at the sell's price); the fill
    itself arrives after: the slot still holds 0.6, not 0.2."""
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")
    late = ctx.fill(None, "g-2-2", qty="0.4", price="130", fee="0.13")  # matched; the fill is on its way
    ctx.finish(grid, "g-2-2", OrderStatus.CANCELLED)  # the answer: cancelled with 0.4 filled
    grid.on_fill(late)

    clock.advance(30)
    grid.on_market(ctx.book("125", "125.01"))
    assert sells(ctx) == [("g-2-2", D(1)), ("g-2-3", D("0.6"))], f"the grid holds 0.6 BTC: {sells(ctx)}"
    ctx.fill_all(grid, "g-2-3")
    assert grid._book.qty == 0
    assert stored(grid, 2).profit == D("9.87")  # 130 - 120 less the late fill's fee, which the estimate left out


async def test_a_late_fill_of_a_cancelled_buy_is_carried_by_a_later_sell_and_paid_for(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.finish(grid, "g-2-1", OrderStatus.CANCELLED)  # nothing filled, says the venue; the slot waits to bid again
    ctx.fill(grid, "g-2-1")  # then its fill: the grid holds 1 BTC no slot sells
    assert [a for a in ctx.alerts if a[0] is AlertLevel.WARNING and "g-2-1" in a[2]], ctx.alerts

    ctx.fill_all(grid, "g-1-1")
    grid.on_market(ctx.book("114.99", "115.01"))
    assert sells(ctx) == [("g-1-2", D(2))]  # slot 1's own 1 BTC and the 1 BTC nobody sold
    ctx.fill_all(grid, "g-1-2")
    assert grid._book.qty == 0
    assert stored(grid, 1).profit + stored(grid, 2).profit == D(10) == grid._figures.realized


async def test_a_fill_counted_before_it_came_is_not_taken_off_again_after_a_restart(make_grid, ctx, store, restart,
                                                                                     clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    buy = ctx.fill(grid, "g-2-1")
    ctx.finish(grid, "g-2-1")
    late = ctx.fill(None, "g-2-2", qty="0.4")  # matched; the fill is on its way
    ctx.finish(grid, "g-2-2", OrderStatus.CANCELLED)  # the answer: 0.4 filled; the slot holds 0.6
    for order in ctx.orders.values():  # what the host stored; then the bot restarts
        store.insert_order(order)
    store.insert_fill(buy, "g")

    again = restart()
    grid2 = await make_grid(context=again)
    grid2.on_fill(late)  # delivered after the restart
    clock.advance(30)
    grid2.on_market(again.book("125", "125.01"))
    assert sells(again) == [("g-2-3", D("0.6"))], f"the grid holds 0.6 BTC: {sells(again)}"


async def test_a_late_fill_while_the_next_sell_fills_too_alerts_what_was_sold_twice(make_grid, ctx, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")
    ctx.finish(grid, "g-2-2", OrderStatus.CANCELLED)  # nothing filled, says the venue
    clock.advance(30)
    grid.on_market(ctx.book("125", "125.01"))  # the slot offers its 1 BTC again (g-2-3) ...
    ctx.fill(grid, "g-2-3", qty="0.7")  # ... which sells 0.7 ...
    ctx.fill(grid, "g-2-2")  # ... when the first sell's fill of the whole 1 BTC arrives: g-2-3 is cancelled
    assert "g-2-3" in ctx.cancelled
    ctx.finish(grid, "g-2-3", OrderStatus.CANCELLED)

    warnings = [a[2] for a in ctx.alerts if a[0] is AlertLevel.WARNING]
    assert any("0.7" in w for w in warnings), ctx.alerts  # sold twice: 1.7 BTC of 1 bought
    assert grid._slots[2].state.value == "pending"
    ctx.fill_all(grid, grid._slots[2].order_id)
    assert sells(ctx)[-1][1] == D("0.3")
    ctx.fill_all(grid, sells(ctx)[-1][0])
    assert grid._book.qty == 0 and stored(grid, 2).profit == D(20)
