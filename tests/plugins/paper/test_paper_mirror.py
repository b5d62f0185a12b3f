"""The paper venue following another exchange's live books (``market = "mirror"``)."""

from __future__ import annotations

import contextlib
import textwrap
from decimal import ROUND_HALF_UP, Decimal

import pytest

from bot.app import Bot
from bot.config import build_config, parse_toml
from bot.domain import (
    BookUpdate,
    FeedState,
    FeedStatus,
    Fill,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from bot.plugins import collect, load_plugins
from tests.fakes.kraken import FakeKrakenWS, FakePair, populate
from tests.helpers.waiting import wait_for

D = Decimal


def order(cid, side, qty, price=None, exchange="paper", **kw) -> Order:
    return Order(client_order_id=cid, strategy="test", exchange=exchange, symbol="BTC/USD", side=side, qty=D(qty),
                 price=None if price is None else D(price), **kw)  # fmt: skip


def statuses(bot, exchange: str = "paper") -> list[FeedStatus]:
    seen: list[FeedStatus] = []
    bot.bus.subscribe(FeedStatus, seen.append, owner="test", exchange=exchange)
    return seen


def mirror(**overrides):
    values = dict(market="mirror", state_file="", maker_fee_bps=D(16), taker_fee_bps=D(26))
    values.update(overrides)
    return values


def published(recorder, exchange: str) -> list:
    return [e for e in recorder.of(BookUpdate) if e.exchange == exchange]


async def test_mirror_of_a_paper_venue_republishes_its_books_and_fills_from_them(make_exchange, bot, recorder):
    source = make_exchange("src", volatility_bps=D(5), seed=7)
    paper = make_exchange(**mirror(source="src"))
    feed = statuses(bot)
    await source.start()
    await paper.start()
    assert not published(recorder, "paper")  # nothing until the source's next book
    source.step()
    ours, theirs = published(recorder, "paper")[-1], published(recorder, "src")[-1]
    assert (ours.symbol, ours.bids, ours.asks) == (theirs.symbol, theirs.bids, theirs.asks)
    assert [(s.symbol, s.state) for s in feed] == [("BTC/USD", FeedState.LIVE)]

    # a buy resting 40 ticks under the source's ask fills, at its price, once the source's asks reach it
    price = theirs.asks[0][0] - D("0.40")
    state = await paper.place_order(order("b1", Side.BUY, "2", str(price)))
    assert state.status is OrderStatus.OPEN
    for _ in range(20_000):
        source.step()
        if recorder.of(Fill):
            break
    crossing = published(recorder, "src")[-1]
    assert crossing.asks[0][0] <= price
    available = sum(q for p, q in crossing.asks if p <= price)
    fills = [f for f in recorder.of(Fill) if f.exchange == "paper"]
    expected_qty = min(available, D("2"))
    fee = (price * expected_qty * D("0.0016")).quantize(D("1e-8"), rounding=ROUND_HALF_UP)
    assert [(f.price, f.qty, f.fee, f.liquidity) for f in fills] == [(price, expected_qty, fee, Liquidity.MAKER)]
    assert published(recorder, "paper")[-1].asks == crossing.asks


async def test_mirror_maps_symbols_and_fills_exactly_against_books_on_the_bus(make_exchange, bot, recorder):
    make_exchange("ext")  # only needs to be configured: its books are published by hand below
    paper = make_exchange(**mirror(source="ext", tick_size=D("0.5"), lot_size=D("0.001"), min_qty=D("0.001"),
                                   symbol_map={"BTC/USDT": "BTC/USD"}))  # fmt: skip
    await paper.start()
    now = bot.clock.time_ns()
    publish = bot.bus.publish
    publish(BookUpdate("ext", "ETH/USDT", ((D("2000"), D("1")),), ((D("2001"), D("1")),), now))  # not ours
    publish(BookUpdate("ext", "BTC/USD", ((D("1"), D("1")),), ((D("2"), D("1")),), now))  # mapped away: not ours
    assert not published(recorder, "paper")
    publish(BookUpdate("ext", "BTC/USDT", ((D("29999.5"), D("0.5")), (D("29999.25"), D("9"))),
                       ((D("30001.0"), D("0.4")), (D("30002.0"), D("1.2345"))), now))  # fmt: skip
    (book,) = published(recorder, "paper")
    assert book.symbol == "BTC/USD"
    assert book.bids == ((D("29999.5"), D("0.5")),)  # 29999.25 is off the 0.5 grid
    assert book.asks == ((D("30001.0"), D("0.4")), (D("30002.0"), D("1.234")))  # rounded down to lots

    taken = await paper.place_order(order("t1", Side.BUY, "1", "30002"))
    assert [(f.price, f.qty, f.fee, f.liquidity) for f in taken.fills] == [
        (D("30001.0"), D("0.4"), D("31.20104000"), Liquidity.TAKER),  # 12000.4 * 0.0026
        (D("30002.0"), D("0.6"), D("46.80312000"), Liquidity.TAKER),  # 18001.2 * 0.0026
    ]
    rest = await paper.place_order(order("s1", Side.SELL, "0.3", "30000.5"))
    assert rest.status is OrderStatus.OPEN
    recorder.clear()
    publish(BookUpdate("ext", "BTC/USDT", ((D("30000.5"), D("0.1")), (D("30000"), D("2"))),
                       ((D("30001.0"), D("0.4")),), now))  # fmt: skip
    assert [(f.client_order_id, f.price, f.qty, f.fee, f.liquidity) for f in recorder.of(Fill)] == [
        ("s1", D("30000.5"), D("0.1"), D("4.80008000"), Liquidity.MAKER),  # 3000.05 * 0.0016
    ]


async def test_what_we_take_from_a_mirrored_level_stays_taken_until_the_source_changes_it(make_exchange, bot,
                                                                                             recorder):  # fmt: skip
    make_exchange("ext")
    paper = make_exchange(**mirror(source="ext", tick_size=D("0.5"), lot_size=D("0.001"), min_qty=D("0.001")))
    await paper.start()

    def book(bids, asks):
        bot.bus.publish(BookUpdate("ext", "BTC/USD", tuple((D(p), D(q)) for p, q in bids),
                                   tuple((D(p), D(q)) for p, q in asks), bot.clock.time_ns()))  # fmt: skip

    book([("29999", "1")], [("30001", "0.4"), ("30002", "1")])
    first = await paper.place_order(order("t1", Side.BUY, "0.3", "30001"))
    assert [(f.price, f.qty) for f in first.fills] == [(D("30001"), D("0.3"))]
    second = await paper.place_order(order("t2", Side.BUY, "0.3", "30001", tif=TimeInForce.IOC))
    assert [(f.price, f.qty) for f in second.fills] == [(D("30001"), D("0.1"))]  # only 0.1 was left
    assert second.status is OrderStatus.CANCELLED

    # a resting buy: the source's next books still show 30001 at 0.4, which we took: nothing fills
    rest = await paper.place_order(order("b1", Side.BUY, "0.5", "30001"))
    assert rest.status is OrderStatus.OPEN
    recorder.clear()
    book([("29999", "2")], [("30001", "0.4"), ("30002", "1")])
    book([("29999", "3")], [("30001", "0.4"), ("30002", "1")])
    assert not recorder.of(Fill)
    assert [b.asks for b in published(recorder, "paper")] == [((D("30002"), D("1")),)] * 2  # net of what we took
    # the source changes the level: its new size is new liquidity, and our resting buy takes 0.25 of it
    book([("29999", "3")], [("30001", "0.25"), ("30002", "1")])
    assert [(f.client_order_id, f.price, f.qty, f.liquidity) for f in recorder.of(Fill)] == [
        ("b1", D("30001"), D("0.25"), Liquidity.MAKER)
    ]
    recorder.clear()
    book([("29999", "4")], [("30001", "0.25"), ("30002", "1")])  # unchanged again: no second helping
    assert not recorder.of(Fill)
    book([("29999", "4")], [("30000.5", "0.1"), ("30001", "0.25"), ("30002", "1")])  # a new level through it
    assert [(f.price, f.qty) for f in recorder.of(Fill)] == [(D("30001"), D("0.1"))]


async def test_mirror_goes_stale_with_its_source_and_comes_back_with_its_next_book(make_exchange, bot, recorder):
    source = make_exchange("src")
    paper = make_exchange(**mirror(source="src"))
    feed = statuses(bot)
    await source.start()
    await paper.start()
    source.step()
    bot.bus.publish(FeedStatus("src", "BTC/USD", FeedState.LIVE, bot.clock.time_ns()))  # already live: no echo
    bot.bus.publish(FeedStatus("src", "BTC/USD", FeedState.STALE, bot.clock.time_ns(), "no message for 5 s"))
    assert [(s.exchange, s.state, s.reason) for s in feed] == [
        ("paper", FeedState.LIVE, "book from src"), ("paper", FeedState.STALE, "src: no message for 5 s"),
    ]  # fmt: skip
    gone = await paper.place_order(order("m1", Side.BUY, "0.1", order_type=OrderType.MARKET))
    assert gone.status is OrderStatus.CANCELLED and not gone.fills  # no prices while stale
    bot.bus.publish(FeedStatus("src", "BTC/USD", FeedState.RESYNCING, bot.clock.time_ns(), "reconnected"))
    assert feed[-1].state is FeedState.RESYNCING
    source.step()
    assert feed[-1].state is FeedState.LIVE and len(feed) == 4
    filled = await paper.place_order(order("m2", Side.BUY, "0.1", order_type=OrderType.MARKET))
    assert filled.status is OrderStatus.FILLED and filled.fills[0].price == published(recorder, "src")[-1].asks[0][0]


async def test_stopping_the_mirror_stops_following(make_exchange, bot, recorder):
    source = make_exchange("src")
    paper = make_exchange(**mirror(source="src"))
    await source.start()
    await paper.start()
    source.step()
    await paper.stop()
    recorder.clear()
    source.step()
    assert not published(recorder, "paper")


async def test_a_mirror_needs_a_configured_source_other_than_itself(make_exchange):
    paper = make_exchange(**mirror(source="krakken"))
    with pytest.raises(ValueError, match=r'source: no exchange named "krakken" is configured'):
        await paper.start()
    selfish = make_exchange("self", **mirror(source="self"))
    with pytest.raises(ValueError, match=r'source: exchange "self" cannot mirror itself'):
        await selfish.start()


# --- a real plugin as the source: Kraken against the fake venue ------------------------------------------


async def test_paper_mode_trades_on_live_kraken_books_through_a_mirror(tmp_path):
    pair = FakePair("BTC/USD", price_decimals=1, qty_decimals=8)
    populate(pair)
    async with contextlib.AsyncExitStack() as stack:
        fake = await FakeKrakenWS([pair]).start()
        stack.push_async_callback(fake.close)
        toml = f"""
            mode = "paper"
            [bot]
            data_dir = "{tmp_path}"
            control_socket = ""
            [exchanges.kraken]
            symbols = ["BTC/USD"]
            depth = 10
            ws_url = "{fake.url}"
            silence_timeout_s = 0.5
            reconnect_initial_s = 0.05
            reconnect_max_s = 0.5
            start_timeout_s = 5
            [exchanges.paper]
            market = "mirror"
            source = "kraken"
            tick_size = "0.1"
            lot_size = "0.00000001"
            state_file = ""
        """
        plugins = load_plugins()
        registry = collect(plugins)
        config = build_config(parse_toml(textwrap.dedent(toml), "test.toml"), registry, "test.toml")
        bot = Bot(config, plugins, registry)
        books: list[BookUpdate] = []
        fills: list[Fill] = []
        feed: list[FeedStatus] = []
        bot.bus.subscribe(BookUpdate, books.append, owner="test", exchange="paper")
        bot.bus.subscribe(Fill, fills.append, owner="test", exchange="paper")
        bot.bus.subscribe(FeedStatus, feed.append, owner="test", exchange="paper")
        await bot.start()
        stack.push_async_callback(bot.stop)
        paper = bot.exchanges["paper"]
        await fake.change("BTC/USD", bids={max(pair.bids): D("0.25")})  # the book moves: its next book reaches us
        await wait_for(lambda: books, timeout_s=10, what="the mirrored book")
        bids, asks = pair.view(10)
        assert books[-1].bids == tuple(bids) and books[-1].asks == tuple(asks)
        assert feed[-1].state is FeedState.LIVE

        best_ask = asks[0][0]
        price = best_ask - D("0.5")
        state = await paper.place_order(order("b1", Side.BUY, "0.3", str(price)))
        assert state.status is OrderStatus.OPEN
        await fake.change("BTC/USD", asks={price: D("0.12345678")})  # a seller comes down to our price
        await wait_for(lambda: fills, timeout_s=10, what="the fill")
        fee = (price * D("0.12345678") * D("0.0016")).quantize(D("1e-8"), rounding=ROUND_HALF_UP)
        assert [(f.price, f.qty, f.fee, f.liquidity) for f in fills] == [
            (price, D("0.12345678"), fee, Liquidity.MAKER)
        ]

        fake.silent = True  # the source goes quiet: its book goes stale, and so does ours
        await wait_for(lambda: feed[-1].state is not FeedState.LIVE, timeout_s=10, what="the mirror to go stale")
        assert feed[-1].reason.startswith("kraken: ")
        fake.silent = False
        await wait_for(lambda: feed[-1].state is FeedState.LIVE, timeout_s=15, what="the mirror to come back")
        assert books[-1].asks[0] == (price, D("0.12345678"))  # the fresh snapshot, republished
