"""The paper venue as the bot sees it: bus events, idempotency, persistence, latency, batches."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

import pytest

import plugins.paper
from bot.api import Exchange, InsufficientFunds, OrderNotFound, PostOnlyWouldCross
from bot.domain import (
    BookUpdate,
    FeedState,
    FeedStatus,
    Fill,
    Liquidity,
    Order,
    OrderReport,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from bot.plugins import collect, load_plugins
from bot.settings import parse_settings
from plugins.paper.exchange import PaperExchange
from plugins.paper.market import SimulatedMarket
from plugins.paper.settings import PaperSettings

D = Decimal


def order(cid, side, qty, price=None, **kw) -> Order:
    return Order(
        client_order_id=cid, strategy="test", exchange="paper", symbol="BTC/USD", side=side, qty=D(qty),
        price=None if price is None else D(price), **kw,
    )


def book(exchange: PaperExchange):
    market = exchange.markets["BTC/USD"]
    return market.price(market.bid_ticks), market.price(market.ask_ticks)


async def wait_for(condition, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.002)


# --- registration and settings ------------------------------------------------------------------


def test_registers_as_paper_with_documented_settings():
    registered = collect(load_plugins(entry_points=[], extra=[("paper", plugins.paper)])).classes("exchange")
    assert registered["paper"] is PaperExchange  # (and "paper-dex": tests/plugins/paper/test_paper_dex.py)
    assert issubclass(PaperExchange, Exchange) and PaperExchange.simulated and PaperExchange.supports_batch
    assert PaperExchange.Settings is PaperSettings
    issues = []
    settings = parse_settings(PaperSettings, {"symbols": ["BTC/USD", "ETH/USD"], "start_prices": {"ETH/USD": "2000"}},
                              "exchanges.paper", issues)  # fmt: skip
    assert not issues and settings.start_price_of("ETH/USD") == D("2000")
    assert all(f.metadata.get("help") for f in dataclasses.fields(PaperSettings))


async def test_market_rules(paper):
    info = paper.market("BTC/USD")
    assert (info.base, info.quote, info.tick_size, info.lot_size, info.min_qty) == (
        "BTC", "USD", D("0.01"), D("0.00001"), D("0.0001"),
    )
    assert (info.maker_fee_bps, info.taker_fee_bps) == (D(16), D(26))  # the settings' defaults
    with pytest.raises(KeyError):
        paper.market("DOGE/USD")


# --- market data ---------------------------------------------------------------------------------


async def test_start_announces_a_live_feed_and_steps_publish_the_market(make_exchange, bot, recorder):
    statuses = []
    bot.bus.subscribe(FeedStatus, statuses.append, owner="test")
    exchange = make_exchange()
    await exchange.start()
    assert [(s.exchange, s.symbol, s.state) for s in statuses] == [("paper", "BTC/USD", FeedState.LIVE)]
    assert len(recorder.of(BookUpdate)) == 1  # the first book, before any step

    for _ in range(100):
        exchange.step()

    books = recorder.of(BookUpdate)
    assert len(books) == 101 and all(b.exchange == "paper" and b.ts_ns == bot.clock.time_ns() for b in books)
    assert len(recorder.of(Trade)) > 80


async def test_a_step_makes_the_trade_only_for_its_subscribers_and_moves_the_same_either_way(make_exchange, bot,
                                                                                              monkeypatch):
    made = []
    real_trade = SimulatedMarket.trade
    monkeypatch.setattr(SimulatedMarket, "trade", lambda self, ts_ns: made.append(real_trade(self, ts_ns)) or made[-1])
    paper = make_exchange()
    await paper.start()
    market = paper.markets["BTC/USD"]
    reference = SimulatedMarket(market.exchange, market.symbol, market.params)
    now = bot.clock.time_ns()
    for _ in range(50):  # nobody subscribed to trades: none is made
        paper.step()
    assert made == [] and market.step_count == 50
    expected = [reference.step(now) for _ in range(100)][50:]
    trades: list[Trade] = []
    bot.bus.subscribe(Trade, trades.append, owner="test", exchange="paper")
    books: list[BookUpdate] = []
    bot.bus.subscribe(BookUpdate, books.append, owner="test", exchange="paper")
    for _ in range(50):
        paper.step()
    assert trades == [trade for _, trade in expected if trade is not None] and len(trades) > 30
    assert books == [book for book, _ in expected] and (market.bid_ticks, market.step_count) == (
        reference.bid_ticks, reference.step_count)


async def test_the_market_runs_by_itself_when_given_an_interval(make_exchange, recorder):
    exchange = make_exchange(tick_interval_ms=5)
    await exchange.start()
    await wait_for(lambda: len(recorder.of(BookUpdate)) >= 4)
    await exchange.stop()
    seen = len(recorder.of(BookUpdate))
    await asyncio.sleep(0.02)
    assert len(recorder.of(BookUpdate)) <= seen + 1  # at most the step already under way


# --- orders and the bus ----------------------------------------------------------------------------


async def test_resting_order_fills_in_parts_as_sellers_trade_at_its_price(make_exchange, recorder):
    paper = make_exchange(volatility_bps=D(0))  # the book stands still; sellers hit the bid now and then
    await paper.start()
    bid, _ = book(paper)
    placed = await paper.place_order(order("grid-1", Side.BUY, "0.5", bid))
    assert placed.status is OrderStatus.OPEN and placed.fills == () and placed.exchange_order_id
    assert recorder.of(Fill) == []  # nothing filled, nothing published

    for _ in range(1000):
        paper.step()
        if not await paper.open_orders():
            break

    state = await paper.fetch_order("BTC/USD", "grid-1")
    fills = recorder.of(Fill)
    assert state.status is OrderStatus.FILLED and state.filled_qty == D("0.5")
    assert len(fills) > 1 and state.fills == tuple(fills)
    trades = {t.ts_ns: t for t in recorder.of(Trade)}
    assert all(f.qty <= trades[f.ts_ns].qty for f in fills)  # each part is at most the trade's size
    assert {f.price for f in fills} == {bid} and {f.liquidity for f in fills} == {Liquidity.MAKER}
    assert sum(f.qty for f in fills) == D("0.5")
    assert len({f.trade_id for f in fills}) == len(fills)
    # Each fill is published before the report that includes it; the last report says FILLED.
    private = [e for e in recorder.events if isinstance(e, (Fill, OrderReport))]
    for i, event in enumerate(private):
        if isinstance(event, OrderReport):
            assert all(f in private[:i] for f in event.state.fills)
    reports = recorder.of(OrderReport)
    assert len(reports) == len(fills) and reports[-1].state == state and reports[-1].exchange == "paper"
    # Fees: 16 bps maker on each part, rounded to 8 decimals.
    assert all(f.fee == (f.price * f.qty * D("0.0016")).quantize(D("1e-8")) for f in fills)


async def test_resting_order_fills_at_its_price_when_the_walk_crosses_it(paper, recorder):
    bid, _ = book(paper)
    await paper.place_order(order("deep", Side.BUY, "0.2", bid - D("5.00")))
    for _ in range(20_000):
        paper.step()
        if not await paper.open_orders():
            break
    fills = recorder.of(Fill)
    assert fills and {f.price for f in fills} == {bid - D("5.00")}
    assert (await paper.fetch_order("BTC/USD", "deep")).status is OrderStatus.FILLED


async def test_immediate_fills_are_returned_and_published(paper, recorder):
    _, ask = book(paper)
    placed = await paper.place_order(order("take", Side.BUY, "0.1", ask + D("1.00")))

    assert placed.status is OrderStatus.FILLED and placed.fills
    assert tuple(recorder.of(Fill)) == placed.fills
    assert [r.state for r in recorder.of(OrderReport)] == [placed]
    assert all(f.liquidity is Liquidity.TAKER for f in placed.fills)


async def test_errors_are_raised_and_the_refused_order_is_kept(paper, recorder):
    _, ask = book(paper)
    with pytest.raises(PostOnlyWouldCross):
        await paper.place_order(order("po", Side.BUY, "0.1", ask, post_only=True))
    with pytest.raises(InsufficientFunds):
        await paper.place_order(order("rich", Side.BUY, "100", ask - D("100.00")))

    refused = await paper.fetch_order("BTC/USD", "po")
    assert refused.status is OrderStatus.REJECTED and "would cross" in refused.reason
    assert await paper.fetch_order("BTC/USD", "never-sent") is None
    assert recorder.of(Fill) == [] and recorder.of(OrderReport) == []


async def test_a_known_client_order_id_returns_the_existing_order(paper):
    bid, _ = book(paper)
    first = await paper.place_order(order("same", Side.BUY, "0.1", bid - D("10.00")))
    before = await paper.balances()

    again = await paper.place_order(order("same", Side.BUY, "0.1", bid - D("10.00")))

    assert again == first
    assert len(await paper.open_orders()) == 1
    assert await paper.balances() == before  # nothing reserved twice
    attempts = paper.submissions("same")
    assert len(attempts) == 2 and attempts[0][3] == attempts[1][3]
    assert attempts[0][3]["price"] == str(bid - D("10.00"))


async def test_cancel(paper):
    bid, _ = book(paper)
    await paper.place_order(order("c", Side.BUY, "0.5", bid - D("10.00")))
    assert (await paper.balances())["USD"].free < D("100000")

    cancelled = await paper.cancel_order("BTC/USD", "c")

    assert cancelled.status is OrderStatus.CANCELLED
    assert (await paper.balances())["USD"].free == D("100000")
    assert await paper.open_orders() == []
    assert (await paper.cancel_order("BTC/USD", "c")).status is OrderStatus.CANCELLED  # already final
    with pytest.raises(OrderNotFound):
        await paper.cancel_order("BTC/USD", "nope")


async def test_batches(paper):
    bid, ask = book(paper)
    results = await paper.place_orders([
        order("b1", Side.BUY, "0.1", bid - D("10.00")),
        order("b2", Side.SELL, "5", ask + D("10.00")),  # only 1 BTC
        order("b3", Side.SELL, "0.1", ask + D("10.00")),
        order("b1", Side.BUY, "0.1", bid - D("10.00")),  # a duplicate within the batch
    ])  # fmt: skip
    assert [type(r).__name__ for r in results] == ["OrderState", "InsufficientFunds", "OrderState", "OrderState"]
    assert results[3] == results[0]
    assert sorted(s.client_order_id for s in await paper.open_orders()) == ["b1", "b3"]

    cancelled = await paper.cancel_orders("BTC/USD", ["b1", "zz", "b3"])
    assert [getattr(r, "status", type(r).__name__) for r in cancelled] == [
        OrderStatus.CANCELLED, "OrderNotFound", OrderStatus.CANCELLED,
    ]


async def test_ioc_and_market_orders(paper):
    _, ask = book(paper)
    ioc = await paper.place_order(order("ioc", Side.BUY, "3", ask, tif=TimeInForce.IOC))
    assert ioc.status is OrderStatus.CANCELLED and D(0) < ioc.filled_qty < D("3")
    assert {f.price for f in ioc.fills} == {ask}
    assert (await paper.balances())["USD"].free == (await paper.balances())["USD"].total
    market = await paper.place_order(order("mkt", Side.SELL, "0.01", order_type=OrderType.MARKET))
    assert market.status is OrderStatus.FILLED and market.fills[0].price == book(paper)[0]


# --- persistence -------------------------------------------------------------------------------------


async def test_state_survives_stop_and_start(make_exchange, bot):
    first = make_exchange()
    await first.start()
    bid, ask = book(first)
    await first.place_order(order("rest", Side.BUY, "0.5", bid - D("3.00")))
    await first.place_order(order("took", Side.BUY, "0.1", ask))
    for _ in range(50):
        first.step()
    balances = await first.balances()
    resting = await first.open_orders()
    took = await first.fetch_order("BTC/USD", "took")
    position = first.markets["BTC/USD"].step_count, book(first)
    await first.stop()

    second = make_exchange()
    await second.start()
    assert await second.balances() == balances
    assert await second.open_orders() == resting
    assert await second.fetch_order("BTC/USD", "took") == took
    assert (second.markets["BTC/USD"].step_count, book(second)) == position  # the market carries on
    # Fill ids carry on too: never reused.
    more = await second.place_order(order("more", Side.BUY, "0.1", book(second)[1]))
    used = {f.trade_id for f in took.fills}
    assert not used & {f.trade_id for f in more.fills}
    # Initial balances are for a new account only.
    assert (await second.balances())["BTC"].total != D("1")


async def test_a_resting_order_off_a_changed_tick_size_is_said_to_rest_on_the_new_grid(make_exchange, caplog):
    first = make_exchange()
    await first.start()
    bid, _ = book(first)
    limit = (bid - D("10")).quantize(D("1")) + D("0.05")  # on the 0.01 grid, off a 0.1 one
    await first.place_order(order("rest", Side.BUY, "0.1", limit))
    await first.stop()

    second = make_exchange(tick_size=D("0.1"))
    await second.start()

    assert [o.client_order_id for o in await second.open_orders()] == ["rest"]
    assert (f"paper paper: order rest's limit {limit} is off the tick size 0.1 (changed since it was placed); "
            f"it rests at {(limit - D('0.05')).quantize(D('0.1'))}") in caplog.text


async def test_a_resting_order_below_a_coarser_lot_size_is_cancelled_at_restart_and_stays_so(make_exchange, caplog):
    first = make_exchange()
    await first.start()
    bid, _ = book(first)
    await first.place_order(order("rest", Side.BUY, "0.00015", bid - D("10")))
    await first.stop()

    second = make_exchange(lot_size=D("0.001"), min_qty=D("0"))  # what is left, 0.00015, is below one lot now
    await second.start()
    found = await second.fetch_order("BTC/USD", "rest")
    assert found.status is OrderStatus.CANCELLED and found.filled_qty == 0
    assert found.reason == "the rest, 0.00015, is below the lot size 0.001 (changed since it was placed)"
    assert await second.open_orders() == []
    usd = (await second.balances())["USD"]
    assert usd.free == usd.total  # its reservation is gone with it
    assert "paper paper: order rest cancelled: the rest, 0.00015, is below the lot size 0.001" in caplog.text
    await second.stop()

    third = make_exchange()  # the cancel was written at start: the old lot size does not bring it back
    await third.start()
    assert (await third.fetch_order("BTC/USD", "rest")).status is OrderStatus.CANCELLED
    assert await third.open_orders() == []


async def test_initial_balances_apply_only_to_a_new_state_file(make_exchange):
    first = make_exchange(initial_balances={"USD": "500", "BTC": "0"})
    await first.start()
    assert {a: (b.free, b.total) for a, b in (await first.balances()).items()} == {
        "BTC": (D(0), D(0)), "USD": (D(500), D(500)),
    }
    await first.stop()
    second = make_exchange(initial_balances={"USD": "1000000"})
    await second.start()
    assert (await second.balances())["USD"].total == D(500)


async def test_an_order_the_venue_received_survives_a_crash_before_the_answer(make_exchange):
    crashed = make_exchange(latency_ms=400)
    await crashed.start()
    bid, _ = book(crashed)
    in_flight = asyncio.ensure_future(crashed.place_order(order("flying", Side.BUY, "0.1", bid - D("10.00"))))
    await wait_for(lambda: crashed.submissions("flying"))
    in_flight.cancel()  # the process dies: the bot never hears the answer, and nothing is saved on the way out
    with pytest.raises(asyncio.CancelledError):
        await in_flight

    restarted = make_exchange()
    await restarted.start()
    found = await restarted.fetch_order("BTC/USD", "flying")
    assert found is not None and found.status is OrderStatus.OPEN
    # The executor's retry with the same id after the restart creates nothing new.
    assert await restarted.place_order(order("flying", Side.BUY, "0.1", bid - D("10.00"))) == found
    assert len(restarted.submissions("flying")) == 2
    assert len(await restarted.open_orders()) == 1


async def test_a_request_lost_before_the_venue_got_it_leaves_no_trace(make_exchange):
    exchange = make_exchange(latency_ms=400)
    await exchange.start()
    bid, _ = book(exchange)
    lost = asyncio.ensure_future(exchange.place_order(order("lost", Side.BUY, "0.1", bid - D("10.00"))))
    await asyncio.sleep(0.01)
    lost.cancel()
    with pytest.raises(asyncio.CancelledError):
        await lost
    assert exchange.submissions("lost") == []
    assert await exchange.fetch_order("BTC/USD", "lost") is None


async def test_in_memory_state(make_exchange):
    exchange = make_exchange(state_file="")
    await exchange.start()
    assert exchange.state_path == ":memory:"
    bid, _ = book(exchange)
    assert (await exchange.place_order(order("m", Side.BUY, "0.1", bid))).status is OrderStatus.OPEN


async def test_after_a_crash_the_market_resumes_from_its_last_save(make_exchange):
    from plugins.paper.exchange import SAVE_MARKETS_EVERY

    crashed = make_exchange()
    await crashed.start()
    for _ in range(SAVE_MARKETS_EVERY + 10):
        crashed.step()
    # No stop(): the process died. A new venue on the same file resumes from the last save.
    restarted = make_exchange()
    await restarted.start()
    assert restarted.markets["BTC/USD"].step_count == SAVE_MARKETS_EVERY


async def test_markets_kept_in_memory_are_never_saved(make_exchange):
    """A venue kept in memory (a backtest's) is never reopened: its steps and its stop save no market position."""
    from plugins.paper.exchange import SAVE_MARKETS_EVERY

    exchange = make_exchange(state_file="")
    await exchange.start()
    state = exchange._state_ready()
    saved = []
    state.save_market_positions = saved.append  # type: ignore[method-assign]
    for _ in range(2 * SAVE_MARKETS_EVERY + 1):
        exchange.step()
    await exchange.stop()
    assert saved == [] and exchange.markets["BTC/USD"].step_count == 2 * SAVE_MARKETS_EVERY + 1


async def test_markets_of_another_scale_take_their_own_shape(make_exchange):
    """shapes: one account trading SOL at 150 and BONK at 0.00002 needs a tick and a lot for each."""
    paper = make_exchange(symbols=["SOL/USDC", "BONK/USDC"], start_prices={"SOL/USDC": "150", "BONK/USDC": "0.00002"},
                          shapes={"BONK/USDC": {"tick_size": "0.00000001", "lot_size": "1", "min_qty": "1000",
                                                "level_qty": "1000000"}}, state_file="")
    await paper.start()
    sol, bonk = paper.market("SOL/USDC"), paper.market("BONK/USDC")
    assert (sol.tick_size, sol.lot_size) == (Decimal("0.01"), Decimal("0.00001"))
    assert (bonk.tick_size, bonk.lot_size, bonk.min_qty) == (Decimal("0.00000001"), Decimal(1), Decimal(1000))
    paper.step()
    book = paper.markets["BONK/USDC"].book(paper.ctx.clock.time_ns())
    assert Decimal("0.000019") < book.bids[0][0] < book.asks[0][0] < Decimal("0.000021")
    issues: list = []
    parse_settings(PaperSettings, {"symbols": ["SOL/USDC"], "shapes": {"SOL/USDC": {"tick": "0.1"}}}, "exchanges.p",
                   issues)
    assert [i.path for i in issues] == ["exchanges.p.shapes.SOL/USDC.tick"]
