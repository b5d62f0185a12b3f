"""Hypothesis feeds the Coinbase message handler bad input: it never raises, and counts what it dropped."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.coinbase.book import CoinbaseBooks
from tests.fakes.coinbase import FakeProduct, populate

SYMBOL = "BTC/USD"
PRODUCT = FakeProduct("BTC-USD")
populate(PRODUCT, levels=10)
BIDS, ASKS = PRODUCT.view()


def message(channel: str, seq: int, events: list) -> str:
    return json.dumps({"channel": channel, "client_id": "", "timestamp": "2026-11-22T01:00:00Z",
                       "sequence_num": seq, "events": events})


def snapshot(seq: int) -> str:
    updates = [PRODUCT.level("bid", p, q) for p, q in BIDS] + [PRODUCT.level("offer", p, q) for p, q in ASKS]
    return message("l2_data", seq, [{"type": "snapshot", "product_id": "BTC-USD", "updates": updates}])


def update(seq: int) -> str:
    return message("l2_data", seq, [{"type": "update", "product_id": "BTC-USD",
                                     "updates": [PRODUCT.level("bid", BIDS[0][0], BIDS[0][1] * 2)]}])


GOOD = [message("subscriptions", 0, [{"subscriptions": {"level2": ["BTC-USD"]}}]), snapshot(1), update(2),
        message("heartbeats", 3, [{"current_time": "now", "heartbeat_counter": 1}]),
        message("ticker", 4, [{"type": "update", "tickers": [{"type": "ticker", "product_id": "BTC-USD",
                                                              "price": "30000.01"}]}])]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _targets(message: dict) -> list[tuple[dict, str]]:
    """Every (dict, key) inside a message, to retype one of them."""
    out, stack = [], [message]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            out += [(node, k) for k in node]
            stack += list(node.values())
        elif isinstance(node, list):
            stack += node
    return out


@st.composite
def bad_frames(draw):
    kind = draw(st.sampled_from(["truncated", "retyped", "reordered", "unknown", "random", "bytes"]))
    base = draw(st.sampled_from(GOOD))
    if kind == "truncated":
        return base[: draw(st.integers(0, len(base) - 1))]
    if kind == "retyped":
        decoded = json.loads(base)
        targets = _targets(decoded)
        node, key = targets[draw(st.integers(0, len(targets) - 1))]
        node[key] = draw(json_values)
        return json.dumps(decoded)
    if kind == "reordered":
        decoded = json.loads(base)
        keys = draw(st.permutations(list(decoded)))
        return json.dumps({k: decoded[k] for k in keys})
    if kind == "unknown":
        return json.dumps({"channel": draw(st.text(max_size=10)), "sequence_num": draw(st.integers(0, 10)),
                           "events": draw(json_values)})
    if kind == "bytes":
        return draw(st.binary(max_size=60))
    return json.dumps(draw(json_values))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(bad_frames(), min_size=1, max_size=12))
def test_bad_frames_never_raise_and_are_counted(frames):
    resyncs = []
    books = CoinbaseBooks([SYMBOL], {SYMBOL: (2, 8)}, on_resync=lambda symbols, reason: resyncs.append(reason))
    for frame in GOOD:
        books.handle(frame)
    assert books.counters.updates == 1 and books.books[SYMBOL].synced
    for frame in frames:
        books.handle(frame)  # must not raise
    c = books.counters
    assert c.messages == len(GOOD) + len(frames)
    handled = c.snapshots + c.updates + c.heartbeats + c.tickers + c.malformed + c.unexpected + c.ignored + c.errors
    assert handled <= c.messages + c.tickers  # a frame is counted once (a ticker event per ticker)
    assert sum(v for k, v in c.by_reason.items() if k.startswith("malformed")) == c.malformed
    assert len(resyncs) == c.resyncs
    # the feed stays usable: a resubscription's snapshot (after a reconnect) is accepted
    books.reset()
    books.handle(snapshot(0))
    assert books.books[SYMBOL].synced and books.books[SYMBOL].levels(1)[0][0] == BIDS[0]


def test_counters_name_what_was_dropped():
    resyncs = []
    books = CoinbaseBooks([SYMBOL], {SYMBOL: (2, 8)}, on_resync=lambda symbols, reason: resyncs.append(reason))
    books.handle(update(0))  # before any snapshot: ignored
    books.handle(snapshot(1))
    books.handle("{")
    books.handle(message("mystery", 2, []))
    books.handle(message("l2_data", 3, [{"type": "update", "product_id": "BTC-USD",
                                         "updates": [PRODUCT.level("bid", BIDS[0][0], BIDS[0][1]) |
                                                     {"new_quantity": "1.123456789"}]}]))  # 9 decimals
    books.handle(update(4))  # ignored: the book waits for a snapshot
    books.handle(update(9))  # a gap while the snapshot is awaited: asked again (it may be what was lost)
    c = books.counters
    assert c.ignored == 3 and c.malformed == 2 and c.unexpected == 1 and c.sequence_gaps == 1
    assert c.resyncs == 2 and resyncs == ["malformed update", "sequence gap: 4 then 9"]
    assert c.by_reason["unexpected: channel 'mystery'"] == 1
    assert c.by_reason["ignored: update while waiting for a snapshot"] == 3
    assert c.by_reason["malformed: bad value"] == 1 and c.by_reason["malformed: not JSON"] == 1


def test_a_gap_resyncs_once_and_a_snapshot_restores():
    resyncs = []
    books = CoinbaseBooks([SYMBOL], {SYMBOL: (2, 8)}, on_resync=lambda symbols, reason: resyncs.append(symbols))
    books.handle(snapshot(0))
    books.handle(update(2))
    books.handle(update(3))  # waiting for the snapshot: ignored, nothing asked
    assert resyncs == [[SYMBOL]] and books.counters.sequence_gaps == 1 and not books.books[SYMBOL].synced
    books.handle(update(7))  # another gap before the snapshot came: it may have been lost, ask again
    assert resyncs == [[SYMBOL], [SYMBOL]]
    books.handle(snapshot(8))
    books.handle(update(9))
    assert books.books[SYMBOL].synced and books.counters.resyncs == 2 and books.counters.updates == 1
