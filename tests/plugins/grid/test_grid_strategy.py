"""The grid's slot state machine, driven event by event through a stand-in Context (see conftest)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from bot.domain import (
    AlertLevel,
    BookUpdate,
    FeedState,
    FeedStatus,
    Fill,
    Liquidity,
    Order,
    OrderReport,
    OrderState,
    OrderStatus,
    Side,
)
from bot.settings import ConfigIssue, parse_settings
from plugins.grid.models import Slot, load_grid
from plugins.grid.settings import GridSettings
from plugins.grid.strategy import GridConfigError, GridStrategy

D = Decimal


def slot_states(grid: GridStrategy) -> list[str]:
    _, rows = load_grid(grid.ctx.store, grid.name)
    return [row.state.value for row in rows]


def stored(grid: GridStrategy, index: int) -> Slot:
    _, rows = load_grid(grid.ctx.store, grid.name)
    return rows[index]


# --- placing buys ------------------------------------------------------------------------------


async def test_buys_go_out_only_below_the_market(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))

    assert [(i.side, i.price, i.qty, i.post_only) for i in ctx.submitted] == [
        (Side.BUY, D(100), D(1), True), (Side.BUY, D(110), D(1), True), (Side.BUY, D(120), D(1), True)]
    assert ctx.submitted_ids() == ["g-0-1", "g-1-1", "g-2-1"]
    assert slot_states(grid) == ["pending", "pending", "pending", "free", "free"]
    assert grid.status()["slots"] == "2 free / 3 pending / 0 locked"


async def test_a_quiet_market_places_nothing_more(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    for bid in ("124", "125.5", "129.98"):
        grid.on_market(ctx.book(bid, "129.99"))
    assert ctx.attempts == 3


async def test_a_rising_ask_releases_the_next_buy(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    grid.on_market(ctx.book("129.99", "130.00"))  # a buy at 130 would cross: still waiting
    assert ctx.attempts == 3
    grid.on_market(ctx.book("130.00", "130.01"))
    assert ctx.last().price == D(130) and ctx.last().client_order_id == "g-3-1"


async def test_geometric_levels_are_rounded_to_the_tick(make_grid, ctx):
    grid = await make_grid(lower=D(100), upper=D(200), levels=4, spacing="geometric")  # 100, 125.99.., 158.74.., 200
    grid.on_market(ctx.book("158.73", "158.75"))
    assert [i.price for i in ctx.submitted] == [D(100), D("125.99"), D("158.74")]  # buys round down
    ctx.fill_all(grid, "g-1-1")
    assert ctx.last().price == D("158.75")  # the sell rounds up


async def test_nothing_is_placed_before_a_book_or_while_the_feed_is_stale(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(FeedStatus("paper", "BTC/USD", FeedState.STALE, 0))
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.attempts == 0
    grid.on_market(FeedStatus("paper", "BTC/USD", FeedState.LIVE, 0))
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.attempts == 3


async def test_orders_are_plain_limits_when_post_only_is_off(make_grid, ctx):
    grid = await make_grid(post_only=False)
    grid.on_market(ctx.book("124.99", "125.01"))
    assert {i.post_only for i in ctx.submitted} == {False}


# --- the round trip ----------------------------------------------------------------------------


async def test_a_filled_buy_places_its_sell_one_step_up(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")

    sell = ctx.last()
    assert (sell.side, sell.price, sell.qty, sell.client_order_id) == (Side.SELL, D(130), D(1), "g-2-2")
    row = stored(grid, 2)
    assert (row.state, row.order_id, row.qty, row.seq) == ("locked", "g-2-2", D(1), 2)
    assert grid.status()["slots"] == "2 free / 2 pending / 1 locked"


async def test_a_sold_slot_books_its_profit_net_of_fees_and_buys_again(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1", fee="0.12")  # paid 120 + 0.12
    grid.on_market(ctx.book("130.00", "130.02"))
    ctx.fill_all(grid, "g-2-2", fee="0.13")  # received 130 - 0.13

    assert grid.status()["round trips"] == "1"
    # the ledger's figures (as /pnl): the step's profit, fees apart; net = the slot's own result
    assert (grid.status()["realized"], grid.status()["fees"]) == ("10.00 USD", "0.25 USD")
    row = stored(grid, 2)
    assert (row.round_trips, row.profit, row.cost, row.proceeds) == (1, D("9.75"), 0, 0)  # 130 - 0.13 - 120.12
    # free again, the ask is above 120 (slot 3's buy at 130 goes out with it, now that nothing is offered there)
    assert [(i.client_order_id, i.side, i.price) for i in ctx.submitted[-2:]] == [
        ("g-2-3", Side.BUY, D(120)), ("g-3-1", Side.BUY, D(130))]


async def test_each_sell_names_its_slots_buy_so_a_round_trip_realizes_its_step(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    for cid, bid in (("g-2-1", "115"), ("g-1-1", "105"), ("g-0-1", "95")):  # bought 120, 110, 100: three held
        ctx.fill_all(grid, cid)
        grid.on_market(ctx.book(bid, f"{bid}.01"))  # the price fell through the buy: its post-only sell goes out
    assert [(i.client_order_id, i.closes) for i in ctx.submitted if i.side is Side.SELL] == [
        ("g-2-2", "g-2-1"), ("g-1-2", "g-1-1"), ("g-0-2", "g-0-1")]
    assert {i.closes for i in ctx.submitted if i.side is Side.BUY} == {None}
    ctx.fill_all(grid, "g-0-2")  # 100 -> 110; FIFO would match the 120 buy: -10
    assert (grid.status()["round trips"], grid.status()["realized"]) == ("1", "10.00 USD")


async def test_a_restart_finds_a_locked_slots_buy_among_the_stored_orders(make_grid, ctx, store, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.veto = True
    ctx.fill_all(grid, "g-2-1")  # its sell is refused: the slot holds what it bought, with no order
    assert stored(grid, 2).state == "locked" and stored(grid, 2).order_id is None
    for order in ctx.orders.values():  # the host stores every order it accepts
        store.insert_order(order)

    again = restart()
    grid2 = await make_grid(context=again)
    grid2.on_market(again.book("125", "125.01"))
    sell = again.last()
    assert (sell.side, sell.client_order_id, sell.closes) == (Side.SELL, "g-2-3", "g-2-1")


async def test_partial_fills_are_summed_and_a_duplicate_fill_counts_once(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    first = ctx.fill(grid, "g-2-1", qty="0.4", price="119.5", fee="0.05")
    grid.on_fill(first)  # delivered twice
    ctx.fill(grid, "g-2-1", qty="0.6", fee="0.07")
    ctx.finish(grid, "g-2-1")
    ctx.fill_all(grid, "g-2-2", fee="0.13")
    # cost 0.4 * 119.5 + 0.6 * 120 + 0.12 = 119.92; proceeds 130 - 0.13 = 129.87: net 9.95
    assert (grid.status()["realized"], grid.status()["fees"]) == ("10.20 USD", "0.25 USD")
    assert stored(grid, 2).profit == D("9.95")


async def test_a_fee_in_base_shrinks_what_the_sell_offers(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1", fee="0.001", fee_asset="BTC")
    sell = ctx.last()
    assert (sell.side, sell.qty) == (Side.SELL, D("0.999"))
    ctx.fill_all(grid, "g-2-2", fee="0.13")
    # the ledger: 0.999 sold 10 above its buy; fees 0.001 BTC at 120 and 0.13: net 9.74 as the slot's own result
    assert (grid.status()["realized"], grid.status()["fees"]) == ("9.99 USD", "0.25 USD")
    assert stored(grid, 2).profit == D("9.74")  # 0.999 * 130 - 0.13 - 120


async def test_a_buy_partly_filled_then_cancelled_sells_what_was_bought(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill(grid, "g-2-1", qty="0.4")
    ctx.finish(grid, "g-2-1", OrderStatus.CANCELLED)

    sell = ctx.last()
    assert (sell.side, sell.price, sell.qty) == (Side.SELL, D(130), D("0.4"))
    assert stored(grid, 2).cost == D(48)


async def test_a_sell_partly_filled_then_cancelled_offers_the_rest_later(make_grid, ctx, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")
    ctx.fill(grid, "g-2-2", qty="0.25")
    ctx.finish(grid, "g-2-2", OrderStatus.CANCELLED)
    assert stored(grid, 2).state == "locked" and stored(grid, 2).qty == D("0.75")
    grid.on_market(ctx.book("125", "125.01"))
    assert ctx.attempts == 4  # waits retry_after_s

    clock.advance(30)
    grid.on_market(ctx.book("125", "125.01"))
    sell = ctx.last()
    assert (sell.side, sell.price, sell.qty, sell.client_order_id) == (Side.SELL, D(130), D("0.75"), "g-2-3")
    ctx.fill_all(grid, "g-2-3")
    # one slot cycle; the ledger's round trips count each fill that closed a lot: the sell's two parts
    assert (grid.status()["slots completed"], grid.status()["round trips"]) == ("1", "2")
    assert (grid.status()["realized"], grid.status()["fees"]) == ("10.00 USD", "0.00 USD")


async def test_a_post_only_sell_waits_while_it_would_cross(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill(grid, "g-2-1")
    grid.on_market(ctx.book("131", "131.01"))  # the bid jumped past 130 before we heard of the fill
    ctx.finish(grid, "g-2-1")
    assert ctx.last().side is Side.BUY  # no crossing sell
    grid.on_market(ctx.book("129.9", "130.5"))
    assert ctx.cancelled == ["g-3-1"]  # slot 3's buy rests at 130 (placed at 131): cancelled first
    ctx.finish(grid, "g-3-1", OrderStatus.CANCELLED)
    assert (ctx.last().side, ctx.last().price) == (Side.SELL, D(130))


async def test_updates_for_unknown_orders_are_ignored(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.orders["other-1"] = Order("other-1", "other", "paper", "BTC/USD", Side.BUY, D(1), D(100))
    ctx.fill(grid, "other-1")
    ctx.finish(grid, "other-1")
    assert grid.status()["slots"] == "2 free / 3 pending / 0 locked"


# --- refusals and retries ----------------------------------------------------------------------


async def test_a_vetoed_buy_waits_retry_after_s_and_never_reuses_its_id(make_grid, ctx, clock):
    grid = await make_grid()
    ctx.veto = True
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.attempts == 3 and ctx.submitted == []
    assert slot_states(grid) == ["free"] * 5

    for _ in range(5):
        grid.on_market(ctx.book("124.99", "125.01"))
    clock.advance(29.9)
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.attempts == 3  # no spam

    ctx.veto = False
    clock.advance(0.1)
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.submitted_ids() == ["g-0-2", "g-1-2", "g-2-2"]


async def test_a_rejected_buy_frees_its_slot_and_waits(make_grid, ctx, clock):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.finish(grid, "g-2-1", OrderStatus.REJECTED, reason="PostOnlyWouldCross")
    assert stored(grid, 2).state == "free"
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.attempts == 3
    clock.advance(30)
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.last().client_order_id == "g-2-2"


async def test_a_paused_strategy_submits_nothing_and_catches_up_when_resumed(make_grid, ctx):
    grid = await make_grid()
    grid.paused = True
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.attempts == 0
    grid.paused = False
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.attempts == 3


# --- restart and reconciliation ----------------------------------------------------------------


async def test_a_restart_resumes_the_same_slots_without_resubmitting(make_grid, ctx, store, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    first = ctx.fill(grid, "g-2-1", fee="0.12")  # sell g-2-2 rests at 130
    ctx.finish(grid, "g-2-1")
    store.insert_fill(first, "g")  # the host stores every fill
    missed = ctx.fill(None, "g-1-1", fee="0.11")  # filled while the bot was down: only the host saw it
    ctx.finish(None, "g-1-1")
    store.insert_fill(missed, "g")
    del ctx.orders["g-0-1"]  # persisted by us but never reached the executor (crash in between)

    again = restart()
    grid2 = await make_grid(context=again)
    assert slot_states(grid2) == ["free", "locked", "locked", "free", "free"]
    grid2.on_market(again.book("115", "115.01"))

    # slot 0 buys again with a fresh id, slot 1 sells what it bought, slot 2's sell is left resting
    assert again.submitted_ids() == ["g-0-2", "g-1-2"]
    assert (again.last().side, again.last().price) == (Side.SELL, D(120))
    again.fill_all(grid2, "g-2-2", fee="0.13")
    again.fill_all(grid2, "g-1-2")
    assert grid2.status()["round trips"] == "2"
    # (130 - 0.13 - 120.12) + (120 - 110.11)
    assert sum((r.profit for r in load_grid(store, "g")[1]), D(0)) == D("19.64")
    # the ledger, rebuilt from the store at start: 130 closes the lot bought at 120, 120 the one at 110
    assert (grid2.status()["realized"], grid2.status()["fees"]) == ("20.00 USD", "0.36 USD")


async def test_reconcile_catches_a_missed_update(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill(None, "g-2-1")
    ctx.finish(None, "g-2-1")  # neither the fill nor the update reached the strategy
    ctx.orders["g-0-1"].status = OrderStatus.CANCELLED
    await grid.reconcile()
    assert slot_states(grid) == ["free", "pending", "locked", "free", "free"]
    assert (ctx.last().side, ctx.last().price, ctx.last().client_order_id) == (Side.SELL, D(130), "g-2-2")
    await grid.reconcile()
    assert ctx.attempts == 4


async def test_every_client_order_id_is_on_disk_before_it_is_submitted(make_grid, ctx, store):
    on_disk = []
    submit = ctx.submit

    def checking_submit(intent):
        _, slots = load_grid(store, "g")
        on_disk.append(intent.client_order_id in {slot.order_id for slot in slots})
        return submit(intent)

    ctx.submit = checking_submit
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")
    assert on_disk == [True] * 4


async def test_a_fresh_grid_skips_ids_the_executor_already_used(make_grid, ctx, store):
    store.insert_order(Order("g-1-7", "g", "paper", "BTC/USD", Side.BUY, D(1), D(110), status=OrderStatus.FILLED))
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    assert ctx.submitted_ids() == ["g-0-1", "g-1-8", "g-2-1"]


async def test_changed_levels_are_refused_while_slots_hold_inventory(make_grid, ctx, restart):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-1-1")
    ctx.fill_all(grid, "g-2-1")
    again = restart()
    with pytest.raises(GridConfigError, match=r"lower 100 -> 90.*slots 1, 2 hold inventory or a partly filled buy"):
        await make_grid(context=again, lower=D(90))


async def test_changed_levels_lay_the_grid_out_again_when_every_slot_is_free(make_grid, ctx, store, restart):
    grid = await make_grid()
    ctx.veto = True
    grid.on_market(ctx.book("124.99", "125.01"))  # spends ids g-0-1 .. g-2-1, all slots stay free
    again = restart()
    grid2 = await make_grid(context=again, lower=D(80), levels=8)  # 80, 90, ..., 150
    grid2.on_market(again.book("124.99", "125.01"))
    assert [i.price for i in again.submitted] == [D(80), D(90), D(100), D(110), D(120)]
    assert again.submitted_ids() == ["g-0-2", "g-1-2", "g-2-2", "g-3-1", "g-4-1"]  # vetoed ids stay spent
    assert load_grid(store, "g")[0].config_lower == D(80)


# --- out of range ------------------------------------------------------------------------------


async def test_hold_alerts_once_per_excursion(make_grid, ctx):
    grid = await make_grid()
    grid.on_market(ctx.book("124.99", "125.01"))
    for bid in ("150.5", "151", "152"):
        grid.on_market(ctx.book(bid, D(bid) + D("0.01")))
    assert len(ctx.alerts) == 1 and ctx.cancelled == []
    level, kind, message, _ = ctx.alerts[0]
    assert (level, kind) == (AlertLevel.INFO, "strategy") and "above the grid's upper price 150" in message
    assert grid.status()["state"] == "above range, holding"
    grid.on_market(ctx.book("149", "149.01"))
    grid.on_market(ctx.book("151", "151.01"))
    assert len(ctx.alerts) == 2


async def test_shift_recentres_the_grid_on_the_price_with_fresh_ids(make_grid, ctx, store):
    grid = await make_grid(out_of_range="shift")
    grid.on_market(ctx.book("124.99", "125.01"))
    grid.on_market(ctx.book("199.99", "200.01"))
    assert ctx.cancelled == ["g-0-1", "g-1-1", "g-2-1", "g-3-1", "g-4-1"]
    assert grid.status()["state"] == "re-centring"
    for cid in ctx.cancelled:
        ctx.finish(grid, cid, OrderStatus.CANCELLED)

    layout, rows = load_grid(store, "g")
    assert (layout.lower, layout.upper, layout.shifts) == (D(175), D(225), 1)
    assert [(r.buy_price, r.sell_price) for r in rows] == [(D(175), D(185)), (D(185), D(195)), (D(195), D(205)),
                                                           (D(205), D(215)), (D(215), D(225))]
    assert [(i.price, i.client_order_id) for i in ctx.submitted[5:]] == [
        (D(175), "g-0-2"), (D(185), "g-1-2"), (D(195), "g-2-2")]
    assert "re-centred on 200.00: 175-225 (was 100-150)" in ctx.alerts[-1][2]
    assert grid.status()["range"] == "175-225 USD"


async def test_reconcile_asks_again_for_cancels_a_shift_still_waits_for(make_grid, ctx):
    grid = await make_grid(out_of_range="shift")
    grid.on_market(ctx.book("124.99", "125.01"))
    grid.on_market(ctx.book("199.99", "200.01"))
    for cid in ("g-0-1", "g-1-1", "g-2-1", "g-3-1"):
        ctx.finish(grid, cid, OrderStatus.CANCELLED)
    ctx.cancelled.clear()
    await grid.reconcile()
    assert ctx.cancelled == ["g-4-1"]
    ctx.finish(None, "g-4-1", OrderStatus.CANCELLED)  # the update is lost; the next reconcile finds it
    await grid.reconcile()
    assert load_grid(ctx.store, "g")[0].shifts == 1


async def test_shift_holds_while_a_slot_holds_inventory(make_grid, ctx):
    grid = await make_grid(out_of_range="shift")
    grid.on_market(ctx.book("124.99", "125.01"))
    ctx.fill_all(grid, "g-2-1")  # slot 2 is locked; its sell rests at 130
    grid.on_market(ctx.book("150.5", "150.51"))
    assert ctx.cancelled == []
    assert "1 slots hold inventory" in ctx.alerts[0][2]
    ctx.fill_all(grid, "g-2-2")  # sold: nothing is locked any more, so the next tick shifts
    grid.on_market(ctx.book("151", "151.01"))
    assert set(ctx.cancelled) == {"g-0-1", "g-1-1", "g-3-1", "g-4-1", "g-2-3"}


async def test_shift_is_abandoned_when_a_cancelled_buy_had_filled(make_grid, ctx):
    grid = await make_grid(out_of_range="shift")
    grid.on_market(ctx.book("124.99", "125.01"))
    grid.on_market(ctx.book("150.5", "150.51"))
    ctx.fill(grid, "g-4-1", qty="0.5")
    for cid in list(ctx.cancelled):
        ctx.finish(grid, cid, OrderStatus.CANCELLED)
    assert load_grid(ctx.store, "g")[0].shifts == 0
    # the grid keeps working in its range; the bought half is offered a tick above the bid (waiting for the bid to
    # come back below 150 would stop the grid following the market), and once it has sold the grid re-centres
    assert slot_states(grid) == ["pending", "pending", "pending", "pending", "locked"]
    assert ctx.submitted_ids()[5:] == ["g-0-2", "g-1-2", "g-2-2", "g-3-2", "g-4-2"]
    assert (ctx.last().side, ctx.last().price, ctx.last().qty) == (Side.SELL, D("150.51"), D("0.5"))
    ctx.fill_all(grid, "g-4-2")
    grid.on_market(ctx.book("150.5", "150.51"))
    assert ctx.cancelled[-5:] == ["g-0-2", "g-1-2", "g-2-2", "g-3-2", "g-4-3"]  # g-4-3: slot 4 bought again at 140
    for cid in ctx.cancelled[-5:]:
        ctx.finish(grid, cid, OrderStatus.CANCELLED)
    assert load_grid(ctx.store, "g")[0].shifts == 1


# --- settings and status -----------------------------------------------------------------------


TABLE = {"exchange": "paper", "symbol": "BTC/USD", "lower": "100", "upper": "150", "levels": 6, "order_size": "1"}


def test_settings_parse_with_their_defaults():
    issues: list[ConfigIssue] = []
    settings = parse_settings(GridSettings, {**TABLE, "type": "grid"}, "strategies.g", issues, ignore={"type"})
    assert issues == []
    assert (settings.lower, settings.upper, settings.spacing, settings.out_of_range, settings.post_only,
            settings.retry_after_s) == (D(100), D(150), "arithmetic", "hold", True, 30.0)


def test_settings_refuse_upper_not_above_lower():
    issues: list[ConfigIssue] = []
    table = {**TABLE, "lower": "200", "upper": "100"}
    assert parse_settings(GridSettings, table, "strategies.g", issues) is None
    assert [str(i) for i in issues] == ["strategies.g.upper: must be greater than lower (got 100 <= 200)"]


def test_settings_report_every_bad_key():
    issues: list[ConfigIssue] = []
    parse_settings(GridSettings, {"symbol": "BTCUSD", "lower": 0, "upper": 10, "levels": 1, "order_size": "1",
                                  "spacing": "log"}, "strategies.g", issues)
    text = "\n".join(map(str, issues))
    assert "strategies.g.lower: expected a decimal number > 0" in text
    assert "strategies.g.levels: expected an integer >= 2 and <= 1000, got 1" in text
    assert 'strategies.g.spacing: expected one of "arithmetic", "geometric", got "log"' in text
    assert "strategies.g.exchange: missing required key" in text


def test_settings_check_the_symbol_form():
    issues: list[ConfigIssue] = []
    parse_settings(GridSettings, {**TABLE, "symbol": "BTCUSD"}, "", issues)
    assert issues == [("symbol", "symbol 'BTCUSD' is not of the form \"BASE/QUOTE\"")]
    settings = GridSettings(exchange="paper", symbol="BTCUSD", lower=D(1), upper=D(2), levels=2, order_size=D(1))
    assert settings.validate() == [("symbol", "symbol 'BTCUSD' is not of the form \"BASE/QUOTE\"")]


def test_every_setting_has_help():
    import dataclasses

    assert all(f.metadata.get("help") for f in dataclasses.fields(GridSettings))


async def test_an_order_size_below_the_lot_is_refused(make_grid):
    with pytest.raises(GridConfigError, match=r"order_size 0.0004 rounds to 0.000 at lot size 0.001"):
        await make_grid(order_size=D("0.0004"))


async def test_a_grid_finer_than_the_tick_is_refused(make_grid):
    with pytest.raises(GridConfigError, match="both round to"):
        await make_grid(lower=D(100), upper=D("100.02"), levels=5)


async def test_status_and_markets(make_grid):
    grid = await make_grid()
    assert grid.markets() == [("paper", "BTC/USD")]
    assert grid.status() == {"slots": "5 free / 0 pending / 0 locked", "range": "100-150 USD",
                             "slots completed": "0", "round trips": "0",
                             "realized": "0.00 USD", "fees": "0.00 USD"}


# --- inside the real host ------------------------------------------------------------------------

HOST_CONFIG = """
[exchanges.v]
type = "scripted"
[strategies.g]
type = "grid"
exchange = "v"
symbol = "BTC/USD"
lower = "100"
upper = "150"
levels = 6
order_size = "1"
"""


async def eventually(condition, what: str) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_grid_trades_through_the_real_host(make_bot):
    from tests.fakes.venue import plugin as venue_plugin

    bot = await make_bot(HOST_CONFIG, extra=[("venue", venue_plugin)])
    grid, venue = bot.strategies["g"], bot.exchanges["v"]
    bot.bus.publish(BookUpdate("v", "BTC/USD", ((D("124.99"), D(1)),), ((D("125.01"), D(1)),), 1))
    await eventually(lambda: len(venue.orders) == 3, "the three buys below the market")
    p = f"g-{bot.executor.id_epoch}."  # ids carry the store's epoch
    assert len(bot.executor.id_epoch) == 5

    fill = Fill("v", "BTC/USD", f"{p}2-1", "T1", Side.BUY, D(120), D(1), D("0.12"), "USD", Liquidity.MAKER, 2)
    bot.bus.publish(fill)
    bot.bus.publish(OrderReport("v", "BTC/USD", OrderState(f"{p}2-1", OrderStatus.FILLED, "X3", D(1), D(120)), 2))
    await eventually(lambda: f"{p}2-2" in venue.orders, "the sell one step up")

    assert grid.status()["slots"] == "2 free / 2 pending / 1 locked"
    assert bot.executor.order(f"{p}2-2").price == D(130)
    assert dict(venue.submissions) == {f"{p}0-1": 1, f"{p}1-1": 1, f"{p}2-1": 1, f"{p}2-2": 1}


async def test_what_a_base_fee_leaves_below_the_lot_size_is_sold_once_it_adds_up_to_a_lot(make_grid, ctx):
    # 1 BTC bought, 0.0012 BTC fee in the base: 0.9988 received, 0.998 sellable on a 0.001 lot; the 0.0008 left
    # would pile up in the account round trip after round trip. A later sell carries it once it makes a lot.
    grid = await make_grid()
    sells = []
    for _ in range(10):
        grid.on_market(ctx.book("124.99", "125.01"))
        buy = stored(grid, 2).order_id
        ctx.fill_all(grid, buy, fee="0.0012", fee_asset="BTC")
        sell = ctx.last()
        assert sell.side is Side.SELL and sell.closes == buy
        sells.append(sell.qty)
        ctx.fill_all(grid, sell.client_order_id)
    assert sells == [D("0.998"), D("0.999"), D("0.999"), D("0.999"), D("0.999")] * 2
    assert sum(sells) == 10 * D("0.9988")  # everything bought is sold: before, 0.008 BTC stayed in the account
    assert grid._book.qty == 0 and not grid._book.lots  # the ledger holds nothing either
    # the ledger's figure: each sell names its buy and closes what it received, the carry the oldest lot
    assert grid.status()["realized"] == "99.88 USD"


async def test_a_lower_below_one_tick_is_refused_naming_the_key_and_the_fix(make_grid):
    with pytest.raises(GridConfigError, match=r"the lowest level 0.004 rounds down to 0.00 at tick size 0.01: set "
                                              r"lower to at least 0.01"):
        await make_grid(lower=D("0.004"), upper=D(150))
