"""The Kraken feed over a real WebSocket against the fake venue: books, checksums, resyncs, reconnects."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from websockets.asyncio.client import connect

from bot.domain import BookUpdate, FeedState, FeedStatus
from tests.helpers.waiting import wait_for

SYMBOL = "BTC/USD"


def local_view(exchange, depth=25):
    bids, asks = exchange.books.books[SYMBOL].levels(depth)
    return [list(bids), list(asks)]


def venue_view(fake, depth=25):
    return fake.pairs[SYMBOL].view(depth)


def in_sync(exchange, fake):
    sb = exchange.books.books.get(SYMBOL)
    return sb is not None and sb.synced and local_view(exchange) == [list(x) for x in venue_view(fake)]


def watch(bot, kind):
    seen = []
    bot.bus.subscribe(kind, seen.append, owner="test")
    return seen


async def test_book_equals_the_venue_after_10000_random_updates(kraken_bot, fake_ws):
    bot, kraken = await kraken_bot(fake_ws)
    books = watch(bot, BookUpdate)
    await wait_for(lambda: kraken.states.get(SYMBOL) is FeedState.LIVE, what="live feed")
    await fake_ws.random_updates(SYMBOL, 10_000)
    counters = kraken.books.counters
    await wait_for(lambda: counters.checksum_ok >= 1 + fake_ws.sent_updates, timeout_s=30, what="all updates")
    assert counters.checksum_failed == 0 and counters.malformed == 0 and counters.resyncs == 0
    assert in_sync(kraken, fake_ws)
    last = books[-1]
    bids, asks = venue_view(fake_ws, 10)
    assert (list(last.bids), list(last.asks)) == (bids, asks)
    assert all(isinstance(q, Decimal) for _, q in last.bids + last.asks)


async def test_depth_10_truncates_like_the_venue(kraken_bot, fake_ws):
    bot, kraken = await kraken_bot(fake_ws, depth=10)
    await wait_for(lambda: kraken.states.get(SYMBOL) is FeedState.LIVE, what="live feed")
    await fake_ws.random_updates(SYMBOL, 2_000)
    counters = kraken.books.counters
    await wait_for(lambda: counters.checksum_ok >= 1 + fake_ws.sent_updates, timeout_s=30, what="all updates")
    assert counters.checksum_failed == 0
    bids, asks = kraken.books.books[SYMBOL].levels(1000)
    assert len(bids) == len(asks) == 10
    assert [list(bids), list(asks)] == [list(x) for x in venue_view(fake_ws, 10)]


async def test_exact_digits_survive(kraken_bot, fake_ws):
    bot, kraken = await kraken_bot(fake_ws)
    await wait_for(lambda: in_sync(kraken, fake_ws), what="snapshot")
    await fake_ws.change(SYMBOL, bids={Decimal("29999.9"): Decimal("0.10000000")})
    await wait_for(lambda: in_sync(kraken, fake_ws), what="update")
    bids, asks = local_view(kraken)
    assert (Decimal("29999.9"), Decimal("0.10000000")) in bids
    assert str(dict(bids)[Decimal("29999.9")]) == "0.10000000"
    assert str(asks[0][1]) == "12345678.12345678"


async def test_checksum_corruption_triggers_exactly_one_resync(kraken_bot, fake_ws):
    bot, kraken = await kraken_bot(fake_ws)
    states = watch(bot, FeedStatus)
    await wait_for(lambda: in_sync(kraken, fake_ws), what="snapshot")
    fake_ws.corrupt_next_checksums = 1
    await fake_ws.random_updates(SYMBOL, 200)
    counters = kraken.books.counters
    await wait_for(lambda: counters.checksum_failed == 1 and in_sync(kraken, fake_ws), what="resynced book")
    await fake_ws.random_updates(SYMBOL, 200)
    await wait_for(lambda: in_sync(kraken, fake_ws), what="book after resync")
    assert counters.checksum_failed == 1
    assert counters.resyncs == 1
    assert len(fake_ws.book_requests("unsubscribe")) == 1
    assert len(fake_ws.book_requests("subscribe")) == 2
    assert [s.state for s in states] == [FeedState.RESYNCING, FeedState.LIVE]
    assert "checksum" in states[0].reason


async def test_dropped_connection_is_detected_restored_and_resubscribed(kraken_bot, fake_ws):
    bot, kraken = await kraken_bot(fake_ws)
    states = watch(bot, FeedStatus)
    await wait_for(lambda: in_sync(kraken, fake_ws), what="snapshot")
    await fake_ws.drop()
    await wait_for(lambda: any(s.state is FeedState.STALE for s in states), what="stale")
    await fake_ws.random_updates(SYMBOL, 20)  # the market moves while we are away
    await wait_for(lambda: states[-1].state is FeedState.LIVE and in_sync(kraken, fake_ws), timeout_s=5,
                   what="restored")
    assert fake_ws.connection_count == 2
    assert len(fake_ws.book_requests("subscribe")) == 2
    assert kraken.feed.disconnects == 1
    await fake_ws.random_updates(SYMBOL, 100)
    await wait_for(lambda: in_sync(kraken, fake_ws), what="live after reconnect")


async def test_silent_connection_is_detected_and_restored(kraken_bot, fake_ws):
    bot, kraken = await kraken_bot(fake_ws)  # silence_timeout_s = 0.5
    states = watch(bot, FeedStatus)
    await wait_for(lambda: in_sync(kraken, fake_ws), what="snapshot")
    fake_ws.silent = True
    await wait_for(lambda: any(s.state is FeedState.STALE and "silent" in s.reason for s in states), timeout_s=5,
                   what="silence detected")
    assert kraken.feed.silences >= 1
    fake_ws.silent = False
    await wait_for(lambda: states[-1].state is FeedState.LIVE, timeout_s=5, what="live again")
    await fake_ws.random_updates(SYMBOL, 50)
    await wait_for(lambda: in_sync(kraken, fake_ws), what="in sync after silence")
    assert fake_ws.connection_count >= 2


async def test_bad_frames_are_counted_and_the_feed_stays_up(kraken_bot, fake_ws):
    bot, kraken = await kraken_bot(fake_ws)
    await wait_for(lambda: in_sync(kraken, fake_ws), what="snapshot")
    bad = ['{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":"x"',
           "not json at all", '{"channel":"book","type":"update","data":7}',
           '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":1.23456,"qty":1}],'
           '"asks":[],"checksum":1}]}',
           '{"channel":"mystery","type":"update","data":[]}', '[1,2,3]']
    for frame in bad:
        await fake_ws.send_raw(frame)
    await fake_ws.random_updates(SYMBOL, 50)
    counters = kraken.books.counters
    await wait_for(lambda: in_sync(kraken, fake_ws) and counters.malformed + counters.unexpected >= 5,
                   what="feed still up")
    # the undecodable book frames may have carried a change: the book is resynced, so the frame with
    # too many decimals is malformed or, when it comes before the fresh snapshot, ignored
    assert 4 <= counters.malformed <= 5 and counters.unexpected == 1
    assert counters.by_reason["resyncs: malformed book message"] >= 2
    assert kraken.feed.disconnects == 0


async def test_the_fake_sends_heartbeats_on_an_idle_subscribed_connection(fake_ws):
    """Kraken's WebSocket v2 sends a heartbeat about every second once a channel is subscribed, so a quiet market is
    not a silent connection (the feed's silence timeout relies on it)."""
    async with connect(fake_ws.url) as ws:
        await ws.send(json.dumps({"method": "subscribe", "params": {"channel": "instrument", "snapshot": True}}))
        frames = []
        loop = asyncio.get_running_loop()
        end = loop.time() + 5 * fake_ws.heartbeat_s
        while loop.time() < end:
            try:
                async with asyncio.timeout(end - loop.time()):
                    frames.append(json.loads(await ws.recv()))
            except TimeoutError:
                break
    assert sum(1 for f in frames if f.get("channel") == "heartbeat") >= 3


async def test_a_refused_book_subscription_is_asked_again(kraken_bot, fake_ws):
    """Kraken may refuse a ``book`` subscription (``success: false`` naming the symbol). The connection stays up
    (heartbeats go on), so nothing else would ever subscribe that symbol again: its market stayed RESYNCING until
    some later reconnect. It is asked again after a backoff."""
    bot, kraken = await kraken_bot(fake_ws)
    states = watch(bot, FeedStatus)
    await wait_for(lambda: in_sync(kraken, fake_ws), what="snapshot")
    connections = fake_ws.connection_count
    fake_ws.refuse_book_subscribes = 1
    fake_ws.corrupt_next_checksums = 1  # the resync's subscription is the one refused
    await fake_ws.random_updates(SYMBOL, 50)
    await wait_for(lambda: kraken.books.counters.errors >= 1, what="the refusal")
    await wait_for(lambda: in_sync(kraken, fake_ws) and kraken.states.get(SYMBOL) is FeedState.LIVE, timeout_s=10,
                   what="subscribed again and live")
    assert fake_ws.connection_count == connections  # on the same connection
    assert [s.state for s in states][-1] is FeedState.LIVE
