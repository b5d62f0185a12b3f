"""A fill that arrives after its order was reported cancelled (the venue matched it before the cancel landed, and
said so late) is the slot's: a sell's late fill sold part of what the slot holds, so the slot never offers it again."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import OrderStatus, Side

D = Decimal


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
