"""The paper venue trading against a recorded market (``market = "recording"``)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from decimal import Decimal

import pytest

from bot.domain import BookUpdate, FeedState, FeedStatus, Fill, Liquidity, Order, OrderStatus, OrderType, Side
from bot.settings import parse_settings
from plugins.kraken.record import KrakenRecorder, record
from plugins.paper.settings import PaperSettings
from tests.fakes.kraken import FakeKrakenWS, FakePair, checksum
from tests.helpers.waiting import wait_for

D = Decimal


def order(cid, side, qty, price=None, **kw) -> Order:
    return Order(client_order_id=cid, strategy="test", exchange="paper", symbol="BTC/USD", side=side, qty=D(qty),
                 price=None if price is None else D(price), **kw)  # fmt: skip


def statuses(bot) -> list[FeedStatus]:
    seen: list[FeedStatus] = []
    bot.bus.subscribe(FeedStatus, seen.append, owner="test", exchange="paper")
    return seen


class KrakenTape:
    """Kraken v2 frames for a hand-made recording, checksums computed by the fake's own algorithm."""

    def __init__(self, symbol: str = "BTC/USD", depth: int = 10):
        self.pair = FakePair(symbol, price_decimals=1, qty_decimals=8)
        self.depth = depth
        self.frames: list[str] = []

    def subscribed(self) -> KrakenTape:
        self.frames.append(json.dumps({"method": "subscribe", "success": True, "result": {
            "channel": "book", "depth": self.depth, "snapshot": True, "symbol": self.pair.symbol}}))  # fmt: skip
        self.frames.append(  # numbers as JSON numbers, as Kraken sends them
            '{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"%s",'
            '"price_precision":1,"qty_precision":8,"price_increment":0.1,"qty_increment":0.00000001}]}}'
            % self.pair.symbol
        )
        return self

    def snapshot(self, bids: dict, asks: dict) -> KrakenTape:
        self.pair.bids = {D(p): D(q) for p, q in bids.items()}
        self.pair.asks = {D(p): D(q) for p, q in asks.items()}
        bids_now, asks_now = self.pair.view(self.depth)
        self.frames.append(self._frame("snapshot", bids_now, asks_now))
        return self

    def update(self, bids: dict | None = None, asks: dict | None = None, corrupt: bool = False) -> KrakenTape:
        out = {}
        for name, side, changes in (("bids", self.pair.bids, bids or {}), ("asks", self.pair.asks, asks or {})):
            out[name] = [(D(p), D(q)) for p, q in changes.items()]
            for p, q in changes.items():
                if D(q) == 0:
                    side.pop(D(p), None)
                else:
                    side[D(p)] = D(q)
        self.frames.append(self._frame("update", out["bids"], out["asks"], corrupt=corrupt))
        return self

    def _frame(self, kind: str, bids, asks, corrupt: bool = False) -> str:
        view_bids, view_asks = self.pair.view(self.depth)
        crc = checksum(view_asks, view_bids, self.pair.pd, self.pair.qd) ^ (0x5A5A if corrupt else 0)
        return ('{"channel":"book","type":"%s","data":[{"symbol":"%s","bids":[%s],"asks":[%s],"checksum":%d}]}' % (
            kind, self.pair.symbol, ",".join(self.pair.level_json(p, q) for p, q in bids),
            ",".join(self.pair.level_json(p, q) for p, q in asks), crc))

    def write(self, path, start_ns: int = 1_000_000, gap_ns: int = 1_000_000):
        with open(path, "w", encoding="utf-8") as f:
            for i, raw in enumerate(self.frames):
                f.write(json.dumps({"ts_ns": start_ns + i * gap_ns, "raw": raw}) + "\n")
        return path


def recorded(**overrides):
    """Settings of a paper venue on a Kraken-grid recording, played by hand."""
    values = dict(market="recording", recording_exchange="kraken", playback_speed=D(0), tick_size=D("0.1"),
                  lot_size=D("0.0001"), min_qty=D("0.0001"), maker_fee_bps=D(16), taker_fee_bps=D(26),
                  state_file="")  # fmt: skip
    values.update(overrides)
    return values


def play_until(paper, condition, limit: int = 1000) -> None:
    for _ in range(limit):
        if condition():
            return
        assert paper.step(), "the recording ended first"
    raise AssertionError("condition not reached")


# --- a recording made from the fake Kraken drives the venue -------------------------------------------


async def test_recorded_fake_kraken_book_fills_resting_and_crossing_orders_exactly(
    tmp_path, make_exchange, bot, recorder
):
    pair = FakePair("BTC/USD", price_decimals=1, qty_decimals=8)
    fake = await FakeKrakenWS([pair]).start()
    fake.set_book("BTC/USD", {D("29999.0"): D("0.5"), D("29998.0"): D("1.0")},
                  {D("30001.0"): D("0.4"), D("30002.0"): D("1.2")})
    path = tmp_path / "kraken.jsonl"

    async def market():  # the book moves once the recorder has subscribed
        await wait_for(lambda: any(fake.subscriptions.values()), timeout_s=10, what="subscribed")
        await fake.change("BTC/USD", asks={D("29999.5"): D("0.2")})
        await fake.change("BTC/USD", asks={D("29999.4"): D("0.5")})

    try:
        mover = asyncio.ensure_future(market())
        with open(path, "w", encoding="utf-8") as out:
            # instrument answer + snapshot, book answer + snapshot, two updates
            books = await record(fake.url, ["BTC/USD"], 10, out, messages=6, seconds=20)
        await mover
    finally:
        await fake.close()
    assert books.counters.checksum_ok == 3

    paper = make_exchange(**recorded(recording=str(path)))
    feed = statuses(bot)
    await paper.start()
    assert paper.next_event_ns() == 0  # the first event opens the playback clock
    play_until(paper, lambda: recorder.of(BookUpdate))
    first = recorder.of(BookUpdate)[0]
    assert first.exchange == "paper" and first.symbol == "BTC/USD"
    assert first.bids == ((D("29999.0"), D("0.5")), (D("29998.0"), D("1.0")))
    assert first.asks == ((D("30001.0"), D("0.4")), (D("30002.0"), D("1.2")))
    assert [(s.exchange, s.symbol, s.state) for s in feed] == [("paper", "BTC/USD", FeedState.LIVE)]

    # crosses on arrival: walks the recorded bids as taker, each level at most its size
    sold = await paper.place_order(order("s1", Side.SELL, "0.7", "29998.0"))
    assert sold.status is OrderStatus.FILLED
    assert [(f.price, f.qty, f.fee, f.liquidity) for f in sold.fills] == [
        (D("29999.0"), D("0.5"), D("38.99870000"), Liquidity.TAKER),  # 14999.5 * 0.0026
        (D("29998.0"), D("0.2"), D("15.59896000"), Liquidity.TAKER),  # 5999.6 * 0.0026
    ]
    # rests below the recorded ask, then fills as the recorded asks come down to it
    rest = await paper.place_order(order("b1", Side.BUY, "0.3", "29999.5"))
    assert rest.status is OrderStatus.OPEN and not rest.fills
    recorder.clear()
    assert paper.step()  # update 1: an ask of 0.2 at our price
    assert recorder.of(BookUpdate)[0].asks[0] == (D("29999.5"), D("0.2"))
    assert [(f.client_order_id, f.price, f.qty, f.fee, f.liquidity) for f in recorder.of(Fill)] == [
        ("b1", D("29999.5"), D("0.2"), D("9.59984000"), Liquidity.MAKER),  # 5999.9 * 0.0016
    ]
    recorder.clear()
    assert paper.step()  # update 2: 0.5 more at 29999.4, the rest of ours fills at our own price
    assert [(f.price, f.qty, f.fee) for f in recorder.of(Fill)] == [(D("29999.5"), D("0.1"), D("4.79992000"))]
    final = await paper.fetch_order("BTC/USD", "b1")
    assert final.status is OrderStatus.FILLED and final.filled_qty == D("0.3")
    balances = await paper.balances()
    assert balances["BTC"].total == D("1") - D("0.7") + D("0.3")
    assert balances["USD"].total == (D("100000") + D("14999.5") + D("5999.6") - D("38.9987") - D("15.59896")
                                     - D("8999.85") - D("9.59984") - D("4.79992"))  # fmt: skip

    # the end of the file: the books go stale, nothing fills any more, step() says so
    assert paper.next_event_ns() is None
    assert paper.step() is False and paper.step() is False
    assert feed[-1].state is FeedState.STALE and "ended" in feed[-1].reason
    assert [s.state for s in feed].count(FeedState.STALE) == 1
    gone = await paper.place_order(order("m1", Side.BUY, "0.1", order_type=OrderType.MARKET))
    assert gone.status is OrderStatus.CANCELLED and not gone.fills


# --- hand-written frames: resyncs, loops, the paper grid -------------------------------------------


async def test_a_broken_recorded_book_makes_the_paper_book_resync_and_empty(tmp_path, make_exchange, bot, recorder):
    tape = KrakenTape().subscribed().snapshot({"29999.0": "0.5"}, {"30001.0": "0.4"})
    tape.update(asks={"30000.5": "0.1"}, corrupt=True)  # a checksum mismatch: the recorded book broke
    tape.snapshot({"29990.0": "1.0"}, {"30010.0": "2.0"})  # the resubscription's fresh snapshot
    paper = make_exchange(**recorded(recording=str(tape.write(tmp_path / "r.jsonl"))))
    feed = statuses(bot)
    await paper.start()
    play_until(paper, lambda: len(feed) == 2)
    assert [s.state for s in feed] == [FeedState.LIVE, FeedState.RESYNCING]
    assert "checksum" in feed[1].reason and "r.jsonl" in feed[1].reason
    # nothing to fill against while the book is rebuilt
    state = await paper.place_order(order("m1", Side.BUY, "0.1", order_type=OrderType.MARKET))
    assert state.status is OrderStatus.CANCELLED and not state.fills
    recorder.clear()
    assert paper.step()
    assert [s.state for s in feed][-1] is FeedState.LIVE
    (book,) = recorder.of(BookUpdate)
    assert book.bids == ((D("29990.0"), D("1.0")),) and book.asks == ((D("30010.0"), D("2.0")),)
    state = await paper.place_order(order("m2", Side.BUY, "0.1", order_type=OrderType.MARKET))
    assert [(f.price, f.qty) for f in state.fills] == [(D("30010.0"), D("0.1"))]


async def test_loop_plays_the_file_again_with_playback_time_running_on(tmp_path, make_exchange, bot, recorder):
    tape = KrakenTape().subscribed().snapshot({"29999.0": "0.5"}, {"30001.0": "0.4"})
    tape.update(bids={"29999.0": "0.7"})
    path = tape.write(tmp_path / "loop.jsonl", start_ns=5_000, gap_ns=1_000)
    paper = make_exchange(**recorded(recording=str(path), recording_end="loop"))
    feed = statuses(bot)
    await paper.start()
    offsets = []
    for _ in range(6):
        offsets.append(paper.next_event_ns())
        assert paper.step()
    # snapshot (frame 3) and update (frame 4), 1 us apart; each pass starts 1 s after the last one ended
    assert offsets == [0, 1_000, 1_000_001_000, 1_000_002_000, 2_000_002_000, 2_000_003_000]
    assert paper._player.passes == 3
    assert [b.bids[0][1] for b in recorder.of(BookUpdate)] == [D("0.5"), D("0.7")] * 3
    assert [s.state for s in feed] == [FeedState.LIVE]


async def test_levels_off_the_paper_grid_are_skipped_and_sizes_rounded_down(tmp_path, make_exchange, recorder,
                                                                             caplog):  # fmt: skip
    tape = KrakenTape().subscribed()
    tape.snapshot({"29999.5": "1.0", "29999.0": "0.12345678"}, {"30001.0": "0.0005", "30002.0": "1.0"})
    paper = make_exchange(**recorded(recording=str(tape.write(tmp_path / "grid.jsonl")), tick_size=D("1"),
                                     lot_size=D("0.001"), min_qty=D("0.001")))  # fmt: skip
    await paper.start()
    with caplog.at_level(logging.WARNING, logger="arbot.exchange.paper"):
        play_until(paper, lambda: recorder.of(BookUpdate))
    (book,) = recorder.of(BookUpdate)
    assert book.bids == ((D("29999.0"), D("0.123")),)  # 29999.5 is off the 1 USD grid; 0.12345678 -> 0.123
    assert book.asks == ((D("30002.0"), D("1.0")),)  # 0.0005 is under one lot
    market = paper.markets["BTC/USD"]
    assert (market.skipped_prices, market.rounded_sizes) == (1, 2)
    assert (market.bid_ticks, market.ask_ticks, market.bid_lots, market.ask_lots) == (29999, 30002, (123,), (1000,))
    text = caplog.text
    assert "tick_size 1" in text and "lot_size 0.001" in text and "skipped" in text and "rounded down" in text
    state = await paper.place_order(order("s1", Side.SELL, "0.2", "29000"))
    assert [(f.price, f.qty) for f in state.fills] == [(D("29999"), D("0.123"))]  # the walk sees what was kept


async def test_playback_speed_paces_the_recording_by_its_timestamps(tmp_path, make_exchange, bot, recorder):
    tape = KrakenTape().subscribed().snapshot({"29999.0": "0.5"}, {"30001.0": "0.4"})
    for i in range(4):
        tape.update(bids={"29999.0": f"0.{i + 6}"})
    # frames 100 ms apart: the snapshot to the last update spans 400 ms of recorded time
    path = tape.write(tmp_path / "paced.jsonl", gap_ns=100_000_000)
    paper = make_exchange(**recorded(recording=str(path), playback_speed=D(2)))
    feed = statuses(bot)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await paper.start()
    await wait_for(lambda: feed and feed[-1].state is FeedState.STALE, timeout_s=30, what="the recording to end")
    elapsed = loop.time() - started
    assert elapsed >= 0.2 * 0.95  # 400 ms at twice the recorded pace; never faster, later if the machine is busy
    assert [b.bids[0][1] for b in recorder.of(BookUpdate)] == [D("0.5"), D("0.6"), D("0.7"), D("0.8"), D("0.9")]


async def test_coinbase_recording_with_a_symbol_map_and_a_sequence_gap(tmp_path, make_exchange, bot, recorder):
    def frame(seq: int, channel: str, events: list) -> str:
        return json.dumps({"channel": channel, "client_id": "", "timestamp": "2026-11-22T01:00:00Z",
                           "sequence_num": seq, "events": events})

    def level(side, price, qty):
        return {"side": side, "event_time": "2026-11-22T01:00:00Z", "price_level": price, "new_quantity": qty}

    frames = [
        frame(0, "subscriptions", [{"subscriptions": {"level2": ["BTC-USDC"]}}]),
        frame(1, "l2_data", [{"type": "snapshot", "product_id": "BTC-USDC", "updates": [
            level("bid", "29999.00", "0.50000000"), level("offer", "30001.00", "0.40000000")]}]),
        frame(2, "l2_data", [{"type": "update", "product_id": "BTC-USDC", "updates": [
            level("offer", "30000.50", "0.25000000")]}]),
        frame(5, "heartbeats", [{"current_time": "2026-11-22T01:00:01Z", "heartbeat_counter": 3}]),  # 3, 4 lost
        frame(6, "l2_data", [{"type": "snapshot", "product_id": "BTC-USDC", "updates": [
            level("bid", "29990.00", "1.00000000"), level("offer", "30010.00", "2.00000000")]}]),
    ]  # fmt: skip
    path = tmp_path / "coinbase.jsonl"
    path.write_text("".join(json.dumps({"ts_ns": 1000 + i, "raw": f}) + "\n" for i, f in enumerate(frames)))
    paper = make_exchange(**recorded(recording=str(path), recording_exchange="coinbase", tick_size=D("0.01"),
                                     symbol_map={"BTC/USDC": "BTC/USD"}))  # fmt: skip
    feed = statuses(bot)
    await paper.start()
    rest = await paper.place_order(order("b1", Side.BUY, "0.1", "30000.50"))
    assert rest.status is OrderStatus.OPEN
    while paper.step():
        pass
    books = recorder.of(BookUpdate)
    assert [(b.symbol, b.asks[0]) for b in books] == [
        ("BTC/USD", (D("30001.00"), D("0.4"))), ("BTC/USD", (D("30000.50"), D("0.25"))),
        ("BTC/USD", (D("30010.00"), D("2.0"))),
    ]  # fmt: skip
    assert [(f.price, f.qty, f.fee, f.liquidity) for f in recorder.of(Fill)] == [
        (D("30000.50"), D("0.1"), D("4.80008000"), Liquidity.MAKER)  # 3000.05 * 0.0016
    ]
    assert [s.state for s in feed] == [FeedState.LIVE, FeedState.RESYNCING, FeedState.LIVE, FeedState.STALE]
    assert "sequence gap" in feed[1].reason


# --- settings -------------------------------------------------------------------------------------------


def parse(table: dict):
    issues = []
    settings = parse_settings(PaperSettings, table, "exchanges.paper", issues)
    return settings, [str(i) for i in issues]


def test_recording_settings_are_checked_with_the_key_and_the_fix(tmp_path):
    _, issues = parse({"market": "recording"})
    assert issues == [
        'exchanges.paper.recording: market = "recording" needs the file: recording = "FILE.jsonl" (made by '
        "`arbot record --exchange TYPE --symbol S --out FILE.jsonl`)",
        'exchanges.paper.recording_exchange: market = "recording" needs the exchange type the file was recorded '
        'from, e.g. recording_exchange = "kraken"',
    ]
    missing = str(tmp_path / "none.jsonl")
    _, issues = parse({"market": "recording", "recording": missing, "recording_exchange": "kraken"})
    assert issues == [f"exchanges.paper.recording: no such file: {tmp_path / 'none.jsonl'}"]
    _, issues = parse({"recording": "x.jsonl", "source": "kraken", "symbol_map": {"BTC/USDT": "BTC/USD"}})
    assert issues == [
        'exchanges.paper.recording: only used with market = "recording" (market is "simulated")',
        'exchanges.paper.source: only used with market = "mirror" (market is "simulated")',
        'exchanges.paper.symbol_map: only used with market = "recording" or "mirror"',
    ]
    _, issues = parse({"market": "replay"})
    assert len(issues) == 1 and issues[0].startswith("exchanges.paper.market:") and '"recording"' in issues[0]
    _, issues = parse({"market": "mirror", "source": "kraken", "playback_speed": "-1", "recording_end": "rewind"})
    assert [i.split(":")[0] for i in issues] == ["exchanges.paper.playback_speed", "exchanges.paper.recording_end"]


def test_symbol_map_must_feed_each_symbol_once():
    _, issues = parse({"market": "mirror", "source": "k", "symbols": ["BTC/USD", "ETH/USD"],
                       "symbol_map": {"XBT/USD": "BTC/USD", "BTC/USDT": "BTC/USD", "SOL/USD": "SOL/USDC"}})
    assert issues == [
        'exchanges.paper.symbol_map.BTC/USDT: "BTC/USD" is already fed by "XBT/USD"; each symbol takes one '
        "source symbol",
        "exchanges.paper.symbol_map.SOL/USD: \"SOL/USDC\" is not one of symbols ['BTC/USD', 'ETH/USD']",
    ]
    _, issues = parse({"market": "mirror", "source": "k", "symbols": ["BTC/USD", "ETH/USD"],
                       "symbol_map": {"ETH/USD": "BTC/USD"}})
    assert issues == ['exchanges.paper.symbol_map.ETH/USD: source symbol "ETH/USD" would feed both "BTC/USD" and '
                      '"ETH/USD"; map one of them to another source symbol']
    settings, issues = parse({"market": "mirror", "source": "k", "symbols": ["BTC/USD", "ETH/USD"],
                              "symbol_map": {"BTC/USDT": "BTC/USD"}})
    assert not issues and settings.source_symbols() == {"BTC/USDT": "BTC/USD", "ETH/USD": "ETH/USD"}


async def test_a_recording_exchange_that_cannot_play_back_is_refused_at_start(tmp_path, make_exchange):
    path = KrakenTape().subscribed().write(tmp_path / "r.jsonl")
    paper = make_exchange(**recorded(recording=str(path), recording_exchange="paper"))
    with pytest.raises(ValueError, match=r'recording_exchange: exchange type "paper" cannot record; these can: '
                                         r".*coinbase.*kraken"):
        await paper.start()
    assert paper._state is None  # refused before the state file opened


async def test_bad_recording_lines_are_skipped_counted_and_reported(tmp_path, make_exchange, caplog):
    tape = KrakenTape().subscribed().snapshot({"100.0": "1"}, {"101.0": "1"})
    path = tape.write(tmp_path / "r.jsonl")
    with open(path, "a") as f:
        f.write('not json\n["an", "array"]\n{"ts_ns": 5}\n"a string"\n{"ts_ns": 5, "raw": 7}\n')
    tape.frames = tape.frames[-1:]
    with open(path, "a") as f:  # a good frame after the bad lines still plays
        f.write(json.dumps({"ts_ns": 9_000_000, "raw": tape.frames[0]}) + "\n")
    paper = make_exchange(**recorded(recording=str(path)))
    await paper.start()
    with caplog.at_level(logging.WARNING):
        steps = 0
        while paper.step():
            steps += 1
    assert steps >= 2 and paper._player.stats.frames == 4
    assert ("r.jsonl: 9 lines, 4 frames, 5 malformed lines skipped (not JSON: 1, a JSON array, not an object: 1, "
            "no raw: 1, a JSON string, not an object: 1, raw not a string: 1; first at line 4, 5, 6, 7, 8)"
            in caplog.text)


@pytest.mark.parametrize("speed", [D(0), D(1000)])
async def test_playback_that_cannot_go_on_marks_the_books_stale(tmp_path, make_exchange, bot, monkeypatch, caplog,
                                                                 speed):
    path = KrakenTape().subscribed().snapshot({"100.0": "1"}, {"101.0": "1"}).write(tmp_path / "r.jsonl")
    real = KrakenRecorder.market_events

    def breaks_after_the_first_book(self, frames, options, levels):
        events = real(self, frames, options, levels)
        yield next(iter(events))
        raise RuntimeError("the book code failed")

    monkeypatch.setattr(KrakenRecorder, "market_events", breaks_after_the_first_book)
    paper = make_exchange(**recorded(recording=str(path), playback_speed=speed))
    feed = statuses(bot)
    await paper.start()
    if speed == 0:
        assert paper.step() and not paper.step()
    await wait_for(lambda: feed and feed[-1].state is FeedState.STALE, timeout_s=30, what="the books to go stale")
    assert [s.state for s in feed] == [FeedState.LIVE, FeedState.STALE]
    assert "cannot be played: RuntimeError" in feed[-1].reason
    assert "r.jsonl stopped at line" in caplog.text and "nothing after it is played" in caplog.text
    assert "the book code failed" in caplog.text
    assert not bot.errors
    assert str(path) not in open_files()  # closed when playback failed, not whenever the generators are collected


def open_files() -> set[str]:
    """The paths this process has open (Linux)."""
    paths = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            paths.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # closed meanwhile (the listing's own descriptor)
            pass
    return paths
