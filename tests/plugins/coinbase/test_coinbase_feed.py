"""The Coinbase feed over a real WebSocket against the fake venue: books, sequence gaps, reconnects."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import BookUpdate, FeedState, FeedStatus
from tests.helpers.waiting import wait_for

SYMBOL = "BTC/USD"
PID = "BTC-USD"


def in_sync(exchange, fake):
    pb = exchange.books.books.get(SYMBOL)
    if pb is None or not pb.synced:
        return False
    bids, asks = pb.levels(10_000)
    venue_bids, venue_asks = fake.products[PID].view()
    return list(bids) == venue_bids and list(asks) == venue_asks


def watch(bot, kind):
    seen = []
    bot.bus.subscribe(kind, seen.append, owner="test")
    return seen


async def test_book_equals_the_venue_after_10000_random_updates(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    books = watch(bot, BookUpdate)
    await wait_for(lambda: coinbase.states.get(SYMBOL) is FeedState.LIVE, what="live feed")
    await fake_ws.random_updates(PID, 10_000)
    counters = coinbase.books.counters
    await wait_for(lambda: counters.updates >= fake_ws.sent_updates, timeout_s=30, what="all updates")
    assert counters.sequence_gaps == 0 and counters.malformed == 0 and counters.resyncs == 0
    assert in_sync(coinbase, fake_ws)
    assert coinbase.market(SYMBOL).tick_size == Decimal("0.01")
    last = books[-1]
    bids, asks = fake_ws.products[PID].view(10)
    assert (list(last.bids), list(last.asks)) == (bids, asks)


async def test_exact_digits_survive(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    await wait_for(lambda: in_sync(coinbase, fake_ws), what="snapshot")
    await fake_ws.change(PID, bids={Decimal("29999.99"): Decimal("0.10000000")})
    await wait_for(lambda: in_sync(coinbase, fake_ws), what="update")
    bids, asks = coinbase.books.books[SYMBOL].levels(5)
    assert str(dict(bids)[Decimal("29999.99")]) == "0.10000000"
    assert str(asks[0][1]) == "12345678.12345678"


async def test_sequence_gap_triggers_exactly_one_resync(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    states = watch(bot, FeedStatus)
    await wait_for(lambda: in_sync(coinbase, fake_ws), what="snapshot")
    fake_ws.skip_sequence = 1
    await fake_ws.random_updates(PID, 200)
    counters = coinbase.books.counters
    await wait_for(lambda: counters.sequence_gaps == 1 and in_sync(coinbase, fake_ws), what="resynced book")
    await fake_ws.random_updates(PID, 200)
    await wait_for(lambda: in_sync(coinbase, fake_ws) and counters.updates >= 300, what="book after resync")
    assert counters.sequence_gaps == 1 and counters.resyncs == 1
    assert len(fake_ws.level2_requests("unsubscribe")) == 1
    assert len(fake_ws.level2_requests("subscribe")) == 2
    assert fake_ws.connection_count == 1
    assert [s.state for s in states] == [FeedState.RESYNCING, FeedState.LIVE]
    assert "sequence gap" in states[0].reason


async def test_dropped_connection_is_detected_restored_and_resubscribed(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    states = watch(bot, FeedStatus)
    await wait_for(lambda: in_sync(coinbase, fake_ws), what="snapshot")
    await fake_ws.drop()
    await wait_for(lambda: any(s.state is FeedState.STALE for s in states), what="stale")
    await fake_ws.random_updates(PID, 20)  # the market moves while we are away
    await wait_for(lambda: states[-1].state is FeedState.LIVE and in_sync(coinbase, fake_ws), timeout_s=5,
                   what="restored")
    assert fake_ws.connection_count == 2
    assert len(fake_ws.level2_requests("subscribe")) == 2
    assert [r["channel"] for r in fake_ws.requests[-3:]] == ["heartbeats", "level2", "ticker"]
    assert coinbase.feed.disconnects == 1
    await fake_ws.random_updates(PID, 100)
    await wait_for(lambda: in_sync(coinbase, fake_ws), what="live after reconnect")


async def test_silent_connection_is_detected_and_restored(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)  # silence_timeout_s = 0.5, heartbeats every 0.1 s
    states = watch(bot, FeedStatus)
    await wait_for(lambda: in_sync(coinbase, fake_ws), what="snapshot")
    await wait_for(lambda: coinbase.books.counters.heartbeats >= 2, what="heartbeats")
    fake_ws.silent = True
    await wait_for(lambda: any(s.state is FeedState.STALE and "silent" in s.reason for s in states), timeout_s=5,
                   what="silence detected")
    assert coinbase.feed.silences >= 1
    fake_ws.silent = False
    await wait_for(lambda: states[-1].state is FeedState.LIVE, timeout_s=5, what="live again")
    await fake_ws.random_updates(PID, 50)
    await wait_for(lambda: in_sync(coinbase, fake_ws), what="in sync after silence")
    assert fake_ws.connection_count >= 2


async def test_ticker_and_authenticated_subscriptions(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    await wait_for(lambda: SYMBOL in coinbase.books.tickers, what="ticker")
    ticker = coinbase.books.tickers[SYMBOL]
    assert Decimal(ticker.best_ask) == min(fake_ws.products[PID].asks)
    assert fake_ws.jwt_results and all(r is None for r in fake_ws.jwt_results)


async def test_bad_frames_are_counted_and_the_feed_stays_up(coinbase_bot, fake_ws, fake_rest):
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    await wait_for(lambda: in_sync(coinbase, fake_ws), what="snapshot")
    bad = ['{"channel":"l2_data","sequence_num":', "not json at all", '{"channel":"l2_data"}',
           '[1,2,3]', '{"type":"error","message":"boom"}']
    for frame in bad:
        await fake_ws.send_raw(frame)
    await fake_ws.random_updates(PID, 50)
    counters = coinbase.books.counters
    await wait_for(lambda: in_sync(coinbase, fake_ws) and counters.malformed >= 4, what="feed still up")
    assert counters.malformed == 4 and counters.errors == 1 and counters.sequence_gaps == 0
    assert coinbase.feed.disconnects == 0


async def test_a_refused_level2_subscription_is_asked_again(coinbase_bot, fake_ws, fake_rest):
    """Coinbase answers a subscription it refuses with an ``error`` message naming no product; the connection stays up
    on heartbeats, so nothing else would subscribe again and the books awaiting a snapshot stayed RESYNCING. They
    are asked for again after a backoff."""
    bot, coinbase = await coinbase_bot(fake_ws, fake_rest)
    await wait_for(lambda: in_sync(coinbase, fake_ws), what="snapshot")
    connections = fake_ws.connection_count
    fake_ws.refuse_level2_subscribes = 1
    fake_ws.skip_sequence = 1  # a gap: the resync's subscription is the one refused
    await fake_ws.random_updates(PID, 50)
    await wait_for(lambda: coinbase.books.counters.errors >= 1, what="the refusal")
    await wait_for(lambda: in_sync(coinbase, fake_ws) and coinbase.states.get(SYMBOL) is FeedState.LIVE,
                   timeout_s=10, what="subscribed again and live")
    assert fake_ws.connection_count == connections
