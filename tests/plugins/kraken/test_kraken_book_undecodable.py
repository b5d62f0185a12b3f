"""A Kraken ``book`` frame that cannot be decoded is a lost change: the books it may concern are resynced.

Kraken's CRC32 covers the top 10 levels only, so a change deeper in the book that was lost with an
undecodable frame would never show in a later checksum: the book would stay verified and wrong.
Every path (general, Python fast path, C fast path when built) must resync as on a mismatch.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal as D

import pytest

from bot.redact import REDACTOR
from plugins.kraken.book import KrakenBooks
from tests.fakes.kraken import checksum, render

SYMBOLS = ["BTC/USD", "ETH/USD"]
PD, QD = 1, 8
INSTRUMENT = json.dumps({"channel": "instrument", "type": "snapshot", "data": {"pairs": [
    {"symbol": s, "price_precision": PD, "qty_precision": QD} for s in SYMBOLS]}})
BIDS = [(D(1000) - i, D(1)) for i in range(20)]
ASKS = [(D(1001) + i, D(1)) for i in range(20)]
PATHS = {"general": {"fast": False}, "python fast path": {"accelerate": False}, "default (C when built)": {}}


def level(p: D, q: D) -> str:
    return '{"price":%s,"qty":%s}' % (render(p, PD), render(q, QD))


def frame(kind: str, symbol: str, bids: list, asks: list, view_bids: list, view_asks: list) -> str:
    """A book frame exactly as Kraken writes it; the checksum is the venue's top 10 after the change."""
    return ('{"channel":"book","type":"%s","data":[{"symbol":"%s","bids":[%s],"asks":[%s],"checksum":%d,'
            '"timestamp":"2026-11-22T01:00:00.000000Z"}]}' % (
                kind, symbol, ",".join(level(p, q) for p, q in bids), ",".join(level(p, q) for p, q in asks),
                checksum(view_asks, view_bids, PD, QD)))


@pytest.fixture(params=list(PATHS.values()), ids=list(PATHS))
def synced(request):
    """``(books, resyncs)``: both symbols in sync at depth 25; ``resyncs`` lists each ``(symbol, reason)`` asked."""
    resyncs: list[tuple[str, str]] = []
    books = KrakenBooks(25, symbols=SYMBOLS, on_resync=lambda symbol, reason: resyncs.append((symbol, reason)),
                        **request.param)
    books.handle(INSTRUMENT)
    for symbol in SYMBOLS:
        books.handle(frame("snapshot", symbol, BIDS, ASKS, BIDS, ASKS))
    assert all(books.books[s].synced for s in SYMBOLS)
    return books, resyncs


def test_a_cut_short_update_below_the_checksum_depth_resyncs(synced):
    books, resyncs = synced
    deleted = BIDS[14][0]  # 15th bid: below the 10 levels the checksum covers
    bids = [b for b in BIDS if b[0] != deleted]
    text = frame("update", "BTC/USD", [(deleted, D(0))], [], bids, ASKS)
    books.handle(text[:-3])  # not JSON: which symbols followed the cut is unknown, so every book
    assert books.counters.malformed == 1
    assert resyncs == [(s, "malformed book message") for s in sorted(SYMBOLS)]
    assert not any(books.books[s].synced for s in SYMBOLS)
    # the next update matches the venue's top 10, yet is ignored until a fresh snapshot
    bids = [(D(1000), D(2))] + bids[1:]
    books.handle(frame("update", "BTC/USD", [(D(1000), D(2))], [], bids, ASKS))
    assert books.counters.by_reason["ignored: update while waiting for a snapshot"] == 1
    books.handle(frame("snapshot", "BTC/USD", bids, ASKS, bids, ASKS))
    sb = books.books["BTC/USD"]
    assert sb.synced and deleted not in [p for p, _ in sb.levels(25)[0]]


def test_an_update_of_the_wrong_shape_resyncs_only_the_book_it_names(synced):
    books, resyncs = synced
    books.handle('{"channel":"book","type":"update","data":[{"symbol":"ETH/USD","bids":7,"asks":[],"checksum":1}]}')
    assert books.counters.malformed == 1 and resyncs == [("ETH/USD", "malformed book message")]
    assert books.books["BTC/USD"].synced and not books.books["ETH/USD"].synced


def test_an_update_whose_symbol_cannot_be_read_resyncs_every_book(synced):
    books, resyncs = synced
    books.handle('{"channel":"book","type":"update","data":[{"symbol":5,"bids":[],"asks":[],"checksum":1}]}')
    assert resyncs == [(s, "malformed book message") for s in sorted(SYMBOLS)]


def test_an_undecodable_frame_of_another_channel_resyncs_nothing(synced):
    books, resyncs = synced
    for text in ("not json at all", '{"channel":"instrument","type":"snapshot","data":7}', "{"):
        books.handle(text)
    assert books.counters.malformed == 3 and resyncs == []
    assert all(books.books[s].synced for s in SYMBOLS)


def test_a_frame_logged_cut_across_a_known_secret_shows_none_of_it(synced, caplog):
    """A malformed or unexpected frame is logged cut to 200 characters and the log filter masks the line after: the
    frame is masked first, so a secret straddling the cut shows none of itself."""
    key = "sk-live-kraken-0123456789abcdef"
    REDACTOR.add(key)
    books, _ = synced
    with caplog.at_level(logging.DEBUG, logger="arbot"):
        books.handle('{"channel":"book","type":"update","data":"' + "x" * 150 + key)  # cut short: not JSON
        books.handle('{"channel":"surprise","data":"' + "y" * 160 + key + '"}')
    shown = []
    for record in caplog.records:
        REDACTOR.filter(record)  # as the handlers' filter does
        shown.append(record.getMessage())
    assert len(shown) >= 2 and not any(key[:8] in line for line in shown), shown
