"""A level2 message that passes the sequence check but cannot be decoded is a lost update: its books are resynced."""

from __future__ import annotations

import json
import logging

from bot.redact import REDACTOR
from plugins.coinbase.book import MAX_REASONS, CoinbaseBooks

SYMBOLS = ["BTC/USD", "ETH/USD"]
PRECISIONS = {"BTC/USD": (2, 8), "ETH/USD": (2, 8)}


def message(seq: int, events: list) -> str:
    return json.dumps({"channel": "l2_data", "client_id": "", "timestamp": "2026-11-22T01:00:00Z",
                       "sequence_num": seq, "events": events})


def snapshot(product: str) -> dict:
    return {"type": "snapshot", "product_id": product, "updates": [
        {"side": "bid", "price_level": "100.00", "new_quantity": "1.0", "event_time": ""},
        {"side": "offer", "price_level": "101.00", "new_quantity": "1.0", "event_time": ""}]}


def synced_books() -> tuple[CoinbaseBooks, list[tuple[list[str], str]]]:
    resyncs: list[tuple[list[str], str]] = []
    books = CoinbaseBooks(SYMBOLS, PRECISIONS, on_resync=lambda symbols, reason: resyncs.append((symbols, reason)))
    books.handle(message(1, [snapshot("BTC-USD"), snapshot("ETH-USD")]))
    assert all(books.books[s].synced for s in SYMBOLS)
    return books, resyncs


def test_an_update_of_the_wrong_shape_resyncs_its_book():
    books, resyncs = synced_books()
    # the venue removed the best bid, but new_quantity is a number, not a string: the sequence is
    # accepted, the events fail to decode, and no later gap or checksum would reveal the loss
    books.handle(message(2, [{"type": "update", "product_id": "BTC-USD", "updates": [
        {"side": "bid", "price_level": "100.00", "new_quantity": 0, "event_time": ""}]}]))
    assert books.counters.malformed == 1 and books.counters.by_reason["malformed: wrong shape"] == 1
    assert resyncs == [(["BTC/USD"], "malformed update")]
    assert not books.books["BTC/USD"].synced and "BTC/USD" in books.awaiting_snapshot
    assert books.books["ETH/USD"].synced  # another product's book is not concerned
    books.handle(message(3, [snapshot("BTC-USD")]))
    assert books.books["BTC/USD"].synced and books.counters.resyncs == 1


def test_an_update_whose_product_cannot_be_read_resyncs_every_book():
    books, resyncs = synced_books()
    books.handle(message(2, [{"type": "update", "product_id": 7, "updates": []}]))
    assert resyncs == [(SYMBOLS, "malformed update")]
    assert not any(books.books[s].synced for s in SYMBOLS)
    books.handle(message(3, {"not": "a list"}))  # events that are no list at all: every book again
    assert resyncs[1] == (SYMBOLS, "malformed update") and books.counters.malformed == 2


def test_a_frame_that_is_not_json_is_counted_without_a_resync():
    books, resyncs = synced_books()
    books.handle('{"channel":"l2_data","sequence_num":2,')  # no sequence was taken: the next gap shows a loss
    assert books.counters.malformed == 1 and resyncs == []


KEY = "sk-live-coinbase-0123456789abcdef"


def test_an_error_message_cut_across_a_known_secret_counts_none_of_it():
    """An error message is counted under its first 60 characters: masked first, so a secret straddling the cut
    leaves none of itself in the counter's name (``arbot replay`` prints them)."""
    REDACTOR.add(KEY)
    books, _ = synced_books()
    books.handle(json.dumps({"type": "error", "message": "subscribe refused: " + "x" * 30 + KEY}))
    [name] = [n for n in books.counters.by_reason if n.startswith("errors:")]
    assert KEY[:8] not in name and name.endswith("x***"), name


def test_a_malformed_frame_logged_cut_across_a_known_secret_shows_none_of_it(caplog):
    """A malformed or unexpected frame is logged cut to 200 characters; the log filter masks the line after, so the
    frame is masked first: a secret straddling the cut shows none of itself."""
    REDACTOR.add(KEY)
    books, _ = synced_books()
    with caplog.at_level(logging.DEBUG, logger="arbot"):
        books.handle('{"channel": "l2_data", "sequence_num": "' + "x" * 150 + KEY + '"}')
        books.handle('{"channel": "surprise", "sequence_num": 2, "events": "' + "y" * 150 + KEY + '"}')
    shown = []
    for record in caplog.records:
        REDACTOR.filter(record)  # as the handlers' filter does
        shown.append(record.getMessage())
    assert len(shown) >= 2 and not any(KEY[:8] in line for line in shown), shown


def test_a_level2_event_type_quoting_a_known_secret_is_counted_masked_not_cut():
    """An unknown level2 event type is counted under its first 20 characters: masked first, so a secret it holds
    shows none of its head."""
    REDACTOR.add(KEY)
    books, _ = synced_books()
    books.handle(message(2, [{"type": KEY, "product_id": "BTC-USD", "updates": []}]))
    assert books.counters.unexpected == 1
    assert not any(KEY[:8] in name for name in books.counters.by_reason), books.counters.by_reason


def test_a_hostile_stream_cannot_grow_the_counter_names_without_bound():
    """Every error message and unexpected channel is counted by name; past MAX_REASONS names a new one is counted
    as ``KIND: (other reasons)``, so ever new texts hold no more memory (every one is still counted)."""
    books, _ = synced_books()
    for n in range(3 * MAX_REASONS):
        books.handle(json.dumps({"type": "error", "message": f"{n} refused " + "x" * 5000}))
        books.handle(json.dumps({"channel": f"c{n}" + "y" * 5000, "sequence_num": 2 + n, "events": []}))
    c = books.counters
    assert c.errors == 3 * MAX_REASONS and c.unexpected == 3 * MAX_REASONS
    kinds = {name.split(":")[0] for name in c.by_reason}
    assert len(c.by_reason) <= MAX_REASONS + len(kinds), len(c.by_reason)
    for kind, total in (("errors", c.errors), ("unexpected", c.unexpected)):
        assert sum(v for name, v in c.by_reason.items() if name.startswith(kind + ":")) == total


def test_a_level_of_an_unknown_side_quoting_a_known_secret_is_logged_masked_not_cut(caplog):
    """A level's side that is neither bid nor offer is quoted short in the log line: masked first, so a secret it
    holds shows none of its head (the log filter sees only the cut, no longer the whole secret)."""
    REDACTOR.add(KEY)
    books, _ = synced_books()
    level = {"side": KEY, "price_level": "100.00", "new_quantity": "1.0", "event_time": ""}
    with caplog.at_level(logging.WARNING, logger="arbot"):
        books.handle(message(2, [{"type": "update", "product_id": "BTC-USD", "updates": [level]}]))
    shown = []
    for record in caplog.records:
        REDACTOR.filter(record)  # as the handlers' filter does
        shown.append(record.getMessage())
    assert books.counters.malformed == 1 and shown, shown
    assert not any(KEY[:8] in line for line in shown), shown
