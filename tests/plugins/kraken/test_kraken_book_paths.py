"""The Kraken book handler's three paths agree frame for frame: general, Python fast path, C fast path.

``KrakenBooks(fast=False)`` sends every frame through the general path (msgspec envelope, then the
book data), the reference. The default handler tries the C fast path (``_fastbook``, when it is
built), then the Python fast path (a decoder that accepts only a book update), then the general
path. Whatever the frame -- a venue's stream, or hypothesis' odd variants of it (reordered keys,
extra fields, exponents, wrong types, whitespace, bad checksums, truncation) -- all three must end
with the same books, the same counters and the same callbacks, and none may raise. The callbacks
include what a bus subscriber receives from each book's ``BookPublisher``, which the C path drives
by itself.
"""

from __future__ import annotations

import itertools
import json
import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.api import BookUpdate
from bot.api.kit import BookPublisher
from bot.bus import Bus
from plugins.kraken import book as kraken_book
from plugins.kraken.book import KrakenBooks
from tests.fakes.kraken import FakeKrakenWS, FakePair, checksum, populate, render

SYMBOL = "BTC/USD"
DEPTH = 10
needs_c = pytest.mark.skipif(kraken_book._fast_update is None, reason="plugins/kraken/_fastbook.c is not built")


class Num(str):
    """A JSON number written exactly as given."""


def dump(value, space: str = "") -> str:
    """JSON text with :class:`Num` written verbatim (so digits and notation are ours to choose)."""
    if isinstance(value, Num):
        return str(value)
    if isinstance(value, dict):
        return "{" + ("," + space).join(json.dumps(k) + ":" + space + dump(v, space) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ("," + space).join(dump(v, space) for v in value) + "]"
    return json.dumps(value)


class Venue:
    """A Decimal venue (the fake's book and checksum, written from Kraken's text) emitting frame structures."""

    def __init__(self, seed: int, pd: int = 1, qd: int = 8):
        self.pair = FakePair(SYMBOL, pd, qd)
        populate(self.pair, seed=seed)
        self.rng = random.Random(seed)

    def level(self, p: Decimal, q: Decimal) -> dict:
        return {"price": Num(render(p, self.pair.pd)), "qty": Num(render(q, self.pair.qd))}

    def instrument(self) -> dict:
        pair = self.pair.instrument()
        for key in ("qty_increment", "price_increment", "qty_min", "cost_min"):
            pair[key] = Num(pair[key])  # JSON numbers, as Kraken sends them
        return {"channel": "instrument", "type": "snapshot", "data": {"assets": [], "pairs": [pair]}}

    def crc(self) -> int:
        bids, asks = self.pair.view(DEPTH)
        return checksum(asks, bids, self.pair.pd, self.pair.qd)

    def snapshot(self) -> dict:
        bids, asks = self.pair.view(DEPTH)
        return {"channel": "book", "type": "snapshot",
                "data": [{"symbol": SYMBOL, "bids": [self.level(p, q) for p, q in bids],
                          "asks": [self.level(p, q) for p, q in asks], "checksum": self.crc()}]}

    def update(self) -> dict:
        """One random change, sent as Kraken sends it to a depth-10 subscriber."""
        pair, rng = self.pair, self.rng
        tick = Decimal(1).scaleb(-pair.pd)
        before = pair.view(DEPTH)
        bid_side = rng.random() < 0.5
        side = pair.bids if bid_side else pair.asks
        keys = sorted(side, reverse=bid_side)
        i = min(int(rng.expovariate(0.3)), len(keys) - 1)
        qty = rng.choice([Decimal("0.10000000"), Decimal("12345678.12345678"),
                          Decimal(rng.randint(1, 10**9)).scaleb(-pair.qd)])
        r = rng.random()
        if r < 0.55:
            change = {keys[i]: qty}
        elif r < 0.8 and len(keys) > 30:
            change = {keys[i]: Decimal(0)}
        else:
            best_other = min(pair.asks) if bid_side else max(pair.bids)
            price = keys[0] + (tick if bid_side else -tick) * rng.randint(1, 2)
            crosses = price >= best_other if bid_side else price <= best_other
            change = {keys[-1] + (-tick if bid_side else tick): qty} if crosses else {price: qty}
        for price, q in change.items():
            if q == 0:
                side.pop(price, None)
            else:
                side[price] = q
        after = pair.view(DEPTH)
        out_bids = FakeKrakenWS._diff(before[0], after[0], pair.bids, change if bid_side else {})
        out_asks = FakeKrakenWS._diff(before[1], after[1], pair.asks, {} if bid_side else change)
        return {"channel": "book", "type": "update",
                "data": [{"symbol": SYMBOL, "bids": [self.level(p, q) for p, q in out_bids],
                          "asks": [self.level(p, q) for p, q in out_asks], "checksum": self.crc(),
                          "timestamp": "2026-11-22T01:00:00.000000Z"}]}


def handlers():
    """general, Python fast path, default (C fast path when built); each records its callbacks and what a bus
    subscriber receives from the books' publishers (the C path publishes by itself)."""
    out = []
    for kwargs in ({"fast": False}, {"accelerate": False}, {}):
        events: list = []
        bus = Bus(on_error=lambda owner, exc, event: (_ for _ in ()).throw(exc))
        bus.subscribe(BookUpdate, lambda ev, events=events: events.append(
            ("view", ev.exchange, ev.symbol, ev.ts_ns, ev.best_bid_units, ev.best_ask_units, ev.bid_units[:3],
             ev.ask_units)), owner="strategy")
        clock = itertools.count(1).__next__

        def publisher(symbol, book, bus=bus, clock=clock):
            return BookPublisher(bus, "kraken", symbol, book, 5, clock)

        books = KrakenBooks(DEPTH, symbols=[SYMBOL], **kwargs, publisher=publisher,
                            on_live=lambda symbol, events=events: events.append(("live", symbol)),
                            on_book=lambda sb, events=events: events.append(("book", sb.symbol, sb.levels(3))),
                            on_resync=lambda symbol, reason, events=events: events.append(("resync", symbol, reason)))
        out.append((books, events))
    return out


def state(books: KrakenBooks) -> tuple:
    c = books.counters
    counters = (c.messages, c.book_messages, c.checksum_ok, c.checksum_failed, c.resyncs, c.malformed,
                c.unexpected, c.ignored, c.errors, sorted(c.by_reason.items()))
    sides = {}
    for symbol, sb in books.books.items():
        ob = sb.book
        sides[symbol] = (sb.synced, list(ob.bid_keys), dict(ob.bids), list(sb.bids.frags), list(ob.ask_keys),
                         dict(ob.asks), list(sb.asks.frags), sb.compute_checksum() if sb.synced else None)
    return counters, sides


def feed_all(hs, frame) -> None:
    for books, _ in hs:
        books.handle(frame)
    reference = state(hs[0][0])
    for books, events in hs[1:]:
        assert state(books) == reference, frame
        assert events == hs[0][1], frame


def count_c_path(books: KrakenBooks) -> list[int]:
    hits = [0]
    accel = books._accel

    def counted(frame, live):
        done = accel(frame, live)
        hits[0] += done is not None
        return done

    books._accel = counted
    return hits


def test_paths_agree_on_a_venue_stream_and_match_the_venue():
    venue = Venue(seed=11)
    hs = handlers()
    hits = count_c_path(hs[2][0]) if kraken_book._fast_update is not None else [0]
    feed_all(hs, dump(venue.instrument()))
    feed_all(hs, dump(venue.snapshot()).encode())
    n = 1000
    for k in range(n):
        frame = dump(venue.update())
        feed_all(hs, frame.encode() if k % 2 else frame)  # the feed hands us str, a replay may hand bytes
    books, events = hs[2]
    assert books.counters.checksum_ok == n + 1 and books.counters.checksum_failed == 0
    views = [e for e in events if e[0] == "view"]
    assert len(views) == n + 1 and events[:2] == [("live", SYMBOL), views[0]]  # LIVE before the snapshot's view
    assert [v[3] for v in views] == list(range(1, n + 2))  # every change, timed by the publisher's clock
    bids, asks = venue.pair.view(DEPTH)
    assert books.books[SYMBOL].levels(DEPTH) == (tuple(bids), tuple(asks))
    if kraken_book._fast_update is not None:
        assert hits[0] == n  # every update took the C path


@needs_c
def test_c_path_keeps_every_digit_and_truncates():
    venue = Venue(seed=5)
    books = KrakenBooks(DEPTH, symbols=[SYMBOL])
    hits = count_c_path(books)
    books.handle(dump(venue.instrument()))
    books.handle(dump(venue.snapshot()))
    best_bid = max(venue.pair.bids)
    best_ask = min(venue.pair.asks)
    venue.pair.bids[best_bid] = Decimal("0.10000000")
    venue.pair.asks[best_ask] = Decimal("12345678.12345678")
    new_bid = best_bid + Decimal("0.1")  # a new best bid pushes the 10th level out of view: no delete is sent
    venue.pair.bids[new_bid] = Decimal("99999999999999999999.99999999")  # beyond 64 bits: still exact
    frame = {"channel": "book", "type": "update",
             "data": [{"symbol": SYMBOL, "bids": [venue.level(best_bid, Decimal("0.10000000")),
                                                   venue.level(new_bid, venue.pair.bids[new_bid])],
                       "asks": [venue.level(best_ask, Decimal("12345678.12345678"))], "checksum": venue.crc(),
                       "timestamp": "2026-11-22T01:00:00.000000Z"}]}
    books.handle(dump(frame).encode())
    assert hits[0] == 1 and books.counters.checksum_ok == 2
    sb = books.books[SYMBOL]
    bids, asks = sb.levels(DEPTH)
    assert [str(q) for _, q in bids[:2]] == ["99999999999999999999.99999999", "0.10000000"]
    assert str(asks[0][1]) == "12345678.12345678"
    assert len(sb.book.bid_keys) == len(sb.book.bids) == len(sb.bids.frags) == DEPTH
    assert all(type(q) is int for q in sb.book.bids.values())


@needs_c
def test_c_path_mismatch_resyncs_once_and_ignores_until_snapshot():
    venue = Venue(seed=6)
    resyncs = []
    books = KrakenBooks(DEPTH, symbols=[SYMBOL], on_resync=lambda s, r: resyncs.append((s, r)))
    hits = count_c_path(books)
    books.handle(dump(venue.instrument()))
    books.handle(dump(venue.snapshot()))
    bad = venue.update()
    bad["data"][0]["checksum"] ^= 0x5A5A
    books.handle(dump(bad))
    books.handle(dump(venue.update()))  # ignored: waiting for a snapshot
    assert hits[0] == 1 and resyncs == [(SYMBOL, "checksum mismatch")]
    c = books.counters
    assert (c.checksum_failed, c.resyncs, c.ignored) == (1, 1, 1)
    books.handle(dump(venue.snapshot()))
    books.handle(dump(venue.update()))
    assert hits[0] == 2 and c.checksum_ok == 3


# --- hypothesis: odd frames ---------------------------------------------------------------------


def _retype(draw):
    return draw(st.sampled_from([None, True, "x", "0.5", [], {}, -1, Num("1e400"), Num("-0"), 2**70]))


MUTATIONS = ["none", "reorder", "extra", "exponent", "fewer_decimals", "more_zeros", "more_digits", "negative",
             "leading_zero", "quoted", "retype", "whitespace", "crc_off", "crc_big", "crc_quoted", "crc_missing",
             "no_timestamp", "timestamp_escape", "other_symbol", "unicode_symbol", "two_entries", "duplicate_level",
             "truncate", "empty", "snapshot", "int_qty", "zero_price", "many_levels"]


@st.composite
def odd_frame(draw, venue: Venue):
    kind = draw(st.sampled_from(MUTATIONS))
    if kind == "snapshot":
        return dump(venue.snapshot())
    message = venue.update()
    entry = message["data"][0]
    levels = entry["bids"] + entry["asks"]
    level = draw(st.sampled_from(levels)) if levels else None
    field = draw(st.sampled_from(["price", "qty"]))
    space = ""
    if kind == "reorder":
        target = draw(st.sampled_from(["top", "entry", "level"]))
        obj = message if target == "top" else entry if target == "entry" or level is None else level
        keys = draw(st.permutations(list(obj)))
        reordered = {k: obj[k] for k in keys}
        obj.clear()
        obj.update(reordered)
    elif kind == "extra":
        obj = draw(st.sampled_from([message, entry] + ([level] if level else [])))
        obj[draw(st.sampled_from(["x", "price_increment", "snapshot"]))] = _retype(draw)
    elif kind == "exponent" and level:
        level[field] = Num(f"{Decimal(level[field]):E}")
    elif kind == "fewer_decimals" and level:
        level[field] = Num(str(Decimal(level[field]).normalize()) if "E" not in str(Decimal(level[field]).normalize())
                           else level[field])
    elif kind == "more_zeros" and level:
        level[field] = Num(level[field] + "00")
    elif kind == "more_digits" and level:
        level[field] = Num(level[field] + "7")
    elif kind == "negative" and level:
        level[field] = Num("-" + level[field])
    elif kind == "leading_zero" and level:
        level[field] = Num("0" + level[field])
    elif kind == "quoted" and level:
        level[field] = str(level[field])
    elif kind == "retype":
        obj = draw(st.sampled_from([message, entry] + ([level] if level else [])))
        obj[draw(st.sampled_from(sorted(obj)))] = _retype(draw)
    elif kind == "whitespace":
        space = " "
    elif kind == "crc_off":
        entry["checksum"] = (entry["checksum"] + 1) % 2**32
    elif kind == "crc_big":
        entry["checksum"] += 2**32
    elif kind == "crc_quoted":
        entry["checksum"] = str(entry["checksum"])
    elif kind == "crc_missing":
        del entry["checksum"]
    elif kind == "no_timestamp":
        del entry["timestamp"]
    elif kind == "timestamp_escape":
        entry["timestamp"] = "2026-11-22T01:00:00\u00e9\n"
    elif kind == "other_symbol":
        entry["symbol"] = "ETH/USD"
    elif kind == "unicode_symbol":
        entry["symbol"] = "BTC/US\u00d0"
    elif kind == "two_entries":
        message["data"].append(dict(entry))
    elif kind == "duplicate_level" and level:
        entry["bids" if level in entry["bids"] else "asks"].append(dict(level))
    elif kind == "empty":
        entry["bids"], entry["asks"] = [], []
    elif kind == "int_qty" and level:
        level["qty"] = Num(str(draw(st.integers(0, 5))))
    elif kind == "zero_price" and level:
        level["price"] = Num("0.0")
    elif kind == "many_levels" and level:
        entry["bids" if level in entry["bids"] else "asks"].extend(dict(level) for _ in range(70))
    text = dump(message, space)
    if kind == "truncate":
        text = text[: draw(st.integers(0, len(text) - 1))]
    return text.encode() if draw(st.booleans()) else text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_odd_frames_get_the_same_answer_on_every_path(data):
    venue = Venue(seed=data.draw(st.integers(0, 3)))
    hs = handlers()
    feed_all(hs, dump(venue.instrument()))
    feed_all(hs, dump(venue.snapshot()))
    n = data.draw(st.integers(1, 25))
    resyncs = 0
    for _ in range(n):
        feed_all(hs, data.draw(odd_frame(venue)))  # never raises, and all three paths agree
        if not hs[0][0].books[SYMBOL].synced:  # so that the next odd frame meets a book in sync
            feed_all(hs, dump(venue.snapshot()))
            resyncs += 1
    assert hs[0][0].counters.messages == n + 2 + resyncs
    feed_all(hs, dump(venue.snapshot()))  # and the feed recovers with the next snapshot
    assert all(books.books[SYMBOL].synced for books, _ in hs)
