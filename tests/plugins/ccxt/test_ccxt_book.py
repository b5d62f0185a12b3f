"""The ccxt plugin's books against the fake Gate.io venue: exact, in sync, resynchronised once per gap."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.api import BookUpdate, Caller, FeedState, FeedStatus
from bot.api.testing import wait_for
from bot.builtins import status
from plugins.ccxt.book import SequenceMonitor

from .conftest import SYMBOL

LEVELS = 50  # ccxt subscribes Gate's spot.obu at 50 levels by default


def fake_view(fake):
    return tuple(map(tuple, fake.pairs["BTC_USDT"].view(LEVELS)))


def listen(bot, kind):
    seen = []
    bot.bus.subscribe(kind, seen.append, owner="test")
    return seen


async def test_local_book_equals_the_fakes_after_10000_random_updates(gate_bot, fake_gate):
    bot, gate = await gate_bot(keys=False)
    books = listen(bot, BookUpdate)
    await wait_for(lambda: gate.states.get(SYMBOL) is FeedState.LIVE, what="first snapshot")
    assert gate.levels(SYMBOL) == fake_view(fake_gate)
    await fake_gate.random_updates("BTC_USDT", 10_000)
    await wait_for(lambda: gate.levels(SYMBOL) == fake_view(fake_gate), timeout_s=60, what="the book to catch up")
    bids, asks = fake_view(fake_gate)
    assert books[-1].bids == bids[:10] and books[-1].asks == asks[:10]
    assert books[-1].best_bid_units == int(bids[0][0] * 100) and books[-1].price_decimals == 2
    assert all(isinstance(p, Decimal) and isinstance(q, Decimal) for p, q in books[-1].bids + books[-1].asks)
    assert gate.counters.resyncs == 0 and gate.counters.broken == 0
    assert fake_gate.sent_updates == 10_000


async def test_a_gap_in_update_ids_triggers_exactly_one_resync(gate_bot, fake_gate):
    bot, gate = await gate_bot(keys=False)
    statuses = listen(bot, FeedStatus)
    await wait_for(lambda: gate.states.get(SYMBOL) is FeedState.LIVE, what="first snapshot")
    await fake_gate.random_updates("BTC_USDT", 20)
    fake_gate.skip_update_ids = 1  # the next update's U is previous u + 3
    await fake_gate.random_updates("BTC_USDT", 50)
    await wait_for(lambda: gate.counters.resyncs == 1 and gate.states.get(SYMBOL) is FeedState.LIVE
                   and gate.levels(SYMBOL) == fake_view(fake_gate), timeout_s=20, what="resync after the gap")
    await fake_gate.random_updates("BTC_USDT", 50)
    await wait_for(lambda: gate.levels(SYMBOL) == fake_view(fake_gate), timeout_s=20, what="the book after resync")
    assert gate.counters.resyncs == 1 and gate.monitor is not None and gate.monitor.gaps == 1
    events = [(r["event"], r["payload"]) for r in fake_gate.ws_requests if r["channel"] == "spot.obu"]
    assert events == [("subscribe", ["ob.BTC_USDT.50"]), ("unsubscribe", ["ob.BTC_USDT.50"]),
                      ("subscribe", ["ob.BTC_USDT.50"])]
    assert [s.state for s in statuses] == [FeedState.RESYNCING, FeedState.LIVE]
    assert "update ids jumped" in statuses[0].reason


async def test_dropped_connection_reconnects_and_resynchronises(gate_bot, fake_gate):
    bot, gate = await gate_bot(keys=False)
    await wait_for(lambda: gate.states.get(SYMBOL) is FeedState.LIVE, what="first snapshot")
    await fake_gate.drop()
    # the drop as counted, not the RESYNCING state: a reconnection quicker than a poll of wait_for would pass it by
    await wait_for(lambda: gate.counters.disconnects >= 1, timeout_s=20, what="the drop noticed")
    await wait_for(lambda: gate.states.get(SYMBOL) is FeedState.LIVE and fake_gate.connection_count == 2,
                   timeout_s=20, what="reconnected")
    await fake_gate.random_updates("BTC_USDT", 100)
    await wait_for(lambda: gate.levels(SYMBOL) == fake_view(fake_gate), timeout_s=20, what="the book after reconnect")
    assert gate.counters.disconnects >= 1


async def test_silent_connection_is_dropped_and_remade(gate_bot, fake_gate):
    bot, gate = await gate_bot(keys=False, silence_timeout_s=0.6)
    await wait_for(lambda: gate.states.get(SYMBOL) is FeedState.LIVE, what="first snapshot")
    fake_gate.silent = True  # no data, no pong; TCP stays open
    await wait_for(lambda: gate.states.get(SYMBOL) is FeedState.RESYNCING, timeout_s=20, what="the silence noticed")
    fake_gate.silent = False
    await wait_for(lambda: gate.states.get(SYMBOL) is FeedState.LIVE and fake_gate.connection_count >= 2,
                   timeout_s=20, what="a new connection")
    await fake_gate.random_updates("BTC_USDT", 50)
    await wait_for(lambda: gate.levels(SYMBOL) == fake_view(fake_gate), timeout_s=20, what="the book after silence")


async def test_verified_book_is_said_so_on_the_bus_and_in_status(gate_bot, fake_gate):
    bot, gate = await gate_bot(keys=False)
    await wait_for(lambda: gate.states.get(SYMBOL) is FeedState.LIVE, what="first snapshot")
    reply = await status(bot.operator, Caller("test", "1", "viewer"), [])
    rows = dict(reply.rows)
    assert rows["gate book"].startswith("verified by arbot (spot.obu U/u")
    assert "0 resyncs" in rows["gate feed"]


async def test_an_unverifiable_book_is_marked_on_the_bus_and_in_status(gate_bot, fake_gate, monkeypatch):
    import plugins.ccxt.exchange as module

    monkeypatch.setattr(module, "integrity", lambda exchange_id: ("none", "no checksum or update ids verified"))
    bot, gate = await gate_bot(keys=False)
    statuses = listen(bot, FeedStatus)
    await wait_for(lambda: gate.states.get(SYMBOL) is FeedState.LIVE, what="first snapshot")
    await fake_gate.drop()
    await wait_for(lambda: any(s.state is FeedState.LIVE for s in statuses), timeout_s=20, what="live again")
    live = [s for s in statuses if s.state is FeedState.LIVE][-1]
    assert live.verified is False and "unverified" in live.reason
    rows = dict((await status(bot.operator, Caller("test", "1", "viewer"), [])).rows)
    assert rows["gate book"].startswith("unverified")


def test_sequence_monitor_holds_updates_from_a_gap_until_the_snapshot():
    gaps = []
    monitor = SequenceMonitor(lambda stream, reason: gaps.append(stream))

    def update(first, last, full=False):
        result = {"s": "ob.BTC_USDT.50", "u": last, **({"full": True} if full else {"U": first})}
        return {"channel": "spot.obu", "event": "update", "result": result}

    assert monitor.admit(update(0, 10, full=True))
    assert monitor.admit(update(11, 12)) and monitor.admit(update(13, 13))
    assert not monitor.admit(update(15, 16))  # 14 is missing
    assert gaps == ["ob.BTC_USDT.50"] and not monitor.in_sync("BTC_USDT")
    assert not monitor.admit(update(17, 18))  # held: the book waits for a snapshot
    assert gaps == ["ob.BTC_USDT.50"]  # one gap, one resync
    assert monitor.admit(update(0, 30, full=True)) and monitor.in_sync("BTC_USDT")
    assert monitor.admit(update(31, 31))
    assert monitor.admit({"channel": "spot.pong", "event": ""})  # anything else goes to ccxt untouched


def test_levels_convert_exactly_and_refuse_what_is_off_the_tick():
    from plugins.ccxt.book import BrokenLevel, LevelConverter

    convert = LevelConverter(Decimal("0.01"), Decimal("0.0001"))
    levels = [[30000.0, 0.1], [29999.99, 12345678.1234], [0.01, 0.0001]]
    decimals, units = convert.side(levels, None)
    assert decimals == ((Decimal("30000.00"), Decimal("0.1000")), (Decimal("29999.99"), Decimal("12345678.1234")),
                        (Decimal("0.01"), Decimal("0.0001")))
    assert units == ((3000000, 1000), (2999999, 123456781234), (1, 1))
    assert str(convert.side(levels, 1)[0][0][0]) == "30000.00"  # written at the market's precision
    with pytest.raises(BrokenLevel, match="not a multiple of 0.01"):
        convert.side([[0.1 + 0.2, 1.0]], None)  # 0.30000000000000004: never rounded
    with pytest.raises(BrokenLevel, match="size"):
        convert.side([[1.0, 0.00005]], None)


async def test_a_level_off_the_tick_is_never_published_and_the_book_is_fetched_again(gate_bot, fake_gate):
    bot, gate = await gate_bot(keys=False)
    books = listen(bot, BookUpdate)
    await wait_for(lambda: gate.states.get(SYMBOL) is FeedState.LIVE, what="first snapshot")
    bad = Decimal("30000.005")  # more decimals than the pair's precision: a venue bug
    await fake_gate.change("BTC_USDT", bids={bad: Decimal("1")})
    await wait_for(lambda: gate.counters.broken >= 1 and gate.states.get(SYMBOL) is FeedState.RESYNCING,
                   timeout_s=20, what="the broken level noticed")
    await fake_gate.change("BTC_USDT", bids={bad: Decimal("0")})
    await wait_for(lambda: gate.states.get(SYMBOL) is FeedState.LIVE and gate.levels(SYMBOL) == fake_view(fake_gate),
                   timeout_s=20, what="a clean snapshot")
    assert all(price != bad for update in books for price, _ in update.bids)


async def test_where_ccxt_checks_update_ids_itself_a_gap_is_one_resync_too(gate_bot, fake_gate):
    """Gate's EU endpoint: ccxt subscribes spot.order_book_update, takes the snapshot over REST
    (with_id) and raises ChecksumError on a gap; the plugin marks the feed and watches again."""
    bot, gate = await gate_bot(keys=False, eu=True, start_timeout_s=0)
    statuses = listen(bot, FeedStatus)
    assert gate.monitor is None and gate.status()["book"].startswith("verified by ccxt (spot.order_book_update")

    def top_equal() -> bool:
        bids, asks = fake_gate.pairs["BTC_USDT"].view(10)
        return gate.states.get(SYMBOL) is FeedState.LIVE and gate.levels(SYMBOL)[0][:10] == tuple(bids) \
            and gate.levels(SYMBOL)[1][:10] == tuple(asks)

    await fake_gate.random_updates("BTC_USDT", 30)  # ccxt fetches the snapshot after 10 updates
    await wait_for(top_equal, timeout_s=20, what="the book from the REST snapshot and the updates")
    assert ("GET", "/spot/order_book") in [(m, p) for m, p, _ in fake_gate.rest_log]
    fake_gate.skip_update_ids = 1
    await fake_gate.random_updates("BTC_USDT", 30)
    await wait_for(lambda: gate.counters.resyncs == 1, timeout_s=20, what="ccxt's ChecksumError")
    await fake_gate.random_updates("BTC_USDT", 30)
    await wait_for(top_equal, timeout_s=20, what="the book after the resync")
    assert gate.counters.resyncs == 1
    assert [s.state for s in statuses if s.reason != "connecting: waiting for a snapshot"][-2:] == [
        FeedState.RESYNCING, FeedState.LIVE]
    await wait_for(lambda: [r["event"] for r in fake_gate.ws_requests if r["channel"] == "spot.order_book_update"]
                   == ["subscribe", "subscribe"], timeout_s=20, what="ccxt subscribing again after the gap")
    assert gate.counters.resyncs == 1
