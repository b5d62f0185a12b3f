"""Hypothesis feeds the Kraken message handler bad input: it never raises, and counts what it dropped."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.kraken.book import KrakenBooks
from tests.fakes.kraken import FakePair, checksum, populate

SYMBOL = "BTC/USD"
PAIR = FakePair(SYMBOL)
populate(PAIR)
BIDS, ASKS = PAIR.view(10)
INSTRUMENT = json.dumps({"channel": "instrument", "type": "snapshot",
                         "data": {"assets": [], "pairs": [{"symbol": SYMBOL, "price_precision": 1,
                                                           "qty_precision": 8}]}})


def book_frame(kind="snapshot", bids=BIDS, asks=ASKS, crc=None) -> str:
    crc = checksum(ASKS, BIDS, 1, 8) if crc is None else crc
    return ('{"channel":"book","type":"%s","data":[{"symbol":"BTC/USD","bids":[%s],"asks":[%s],"checksum":%d}]}'
            % (kind, ",".join(PAIR.level_json(p, q) for p, q in bids),
               ",".join(PAIR.level_json(p, q) for p, q in asks), crc))


GOOD = [INSTRUMENT, book_frame()]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def bad_frames(draw):
    kind = draw(st.sampled_from(["truncated", "retyped", "reordered", "unknown", "random", "bytes"]))
    base = draw(st.sampled_from(GOOD))
    if kind == "truncated":
        return base[: draw(st.integers(0, len(base) - 1))]
    if kind == "retyped":
        message = json.loads(base)
        target = message["data"][0] if isinstance(message["data"], list) else message["data"]
        key = draw(st.sampled_from(sorted(target)))
        target[key] = draw(json_values)
        return json.dumps(message)
    if kind == "reordered":
        message = json.loads(base, parse_float=Decimal)
        keys = draw(st.permutations(list(message)))
        return json.dumps({k: message[k] for k in keys}, default=str)
    if kind == "unknown":
        return json.dumps({"channel": draw(st.text(max_size=10)), "type": draw(st.text(max_size=6)),
                           "data": draw(json_values)})
    if kind == "bytes":
        return draw(st.binary(max_size=60))
    return json.dumps(draw(json_values))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(bad_frames(), min_size=1, max_size=12))
def test_bad_frames_never_raise_and_are_counted(frames):
    books = KrakenBooks(10, symbols=[SYMBOL])
    for frame in GOOD:
        books.handle(frame)
    for frame in frames:
        books.handle(frame)  # must not raise
    c = books.counters
    assert c.messages == len(GOOD) + len(frames)
    # every frame is accounted for: verified, dropped (malformed/unexpected/ignored), or harmless control
    assert c.checksum_ok + c.checksum_failed + c.malformed + c.unexpected + c.ignored + c.errors <= c.messages
    # the feed stays usable: a fresh snapshot is accepted and verified
    before = c.checksum_ok
    books.handle(INSTRUMENT)
    books.handle(book_frame())
    assert c.checksum_ok == before + 1 and books.books[SYMBOL].synced


def test_counters_name_what_was_dropped():
    books = KrakenBooks(10, symbols=[SYMBOL])
    books.handle(book_frame())  # before the instrument: ignored, resync asked
    for frame in GOOD:
        books.handle(frame)
    books.handle("{")
    books.handle('{"channel":"ticker","type":"update","data":[]}')
    books.handle('{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":%s,'
                 '"qty":1.123456789}],"asks":[],"checksum":0}]}' % BIDS[0][0])  # 9 decimals: would lose a digit
    books.handle(book_frame(kind="update", crc=123))  # wrong checksum
    books.handle(book_frame(kind="update"))  # ignored until a snapshot
    c = books.counters
    assert c.ignored == 3 and c.malformed == 2 and c.unexpected == 1 and c.checksum_failed == 0
    assert c.by_reason["ignored: book before instrument"] == 1
    assert c.by_reason["resyncs: malformed book message"] == 1
    assert c.by_reason["ignored: update while waiting for a snapshot"] == 2


def test_reordered_fields_and_exponents_are_still_understood():
    books = KrakenBooks(10, symbols=[SYMBOL])
    books.handle(INSTRUMENT)
    message = json.loads(book_frame(), parse_float=Decimal)
    books.handle(json.dumps({"data": message["data"], "type": "snapshot", "channel": "book"}, default=float))
    assert books.counters.checksum_ok == 1
    books.handle('{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],'
                 '"asks":[{"qty":1e-8,"price":%s}],"checksum":%d}]}' % (
                     ASKS[0][0], checksum([(ASKS[0][0], Decimal("0.00000001"))] + ASKS[1:], BIDS, 1, 8)))
    assert books.counters.checksum_ok == 2
    assert books.books[SYMBOL].levels(1)[1][0][1] == Decimal("0.00000001")
