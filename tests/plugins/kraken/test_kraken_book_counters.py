"""What :class:`KrakenBooks` counts by reason holds no known secret and stays bounded whatever the venue sends.

A venue's error text and an unexpected channel's name are counted by name (``Counters.by_reason``): a secret they
quote is masked, and a hostile stream of ever new, ever longer texts cannot grow the names without bound.
"""

from __future__ import annotations

import json

from bot.redact import REDACTOR
from plugins.kraken.book import MAX_REASON_CHARS, MAX_REASONS, KrakenBooks

KEY = "sk-live-kraken-0123456789abcdef"


def test_a_venue_error_or_channel_counted_by_name_shows_no_known_secret():
    REDACTOR.add(KEY)
    books = KrakenBooks(10)
    books.handle(json.dumps({"method": "subscribe", "success": False, "error": "refused for " + KEY}))
    books.handle(json.dumps({"error": "bad request " + KEY}))
    books.handle(json.dumps({"channel": KEY, "type": "update"}))
    c = books.counters
    assert c.errors == 2 and c.unexpected == 1
    assert not any(KEY[:8] in name for name in c.by_reason), c.by_reason
    assert "errors: bad request ***" in c.by_reason and "unexpected: channel '***'" in c.by_reason, c.by_reason


def test_a_secret_straddling_the_cut_of_a_long_error_shows_none_of_itself():
    REDACTOR.add(KEY)
    books = KrakenBooks(10)
    books.handle(json.dumps({"error": "x" * (MAX_REASON_CHARS - 20) + KEY}))
    [name] = books.counters.by_reason
    assert KEY[:6] not in name and name.endswith("***"), name


def test_a_hostile_stream_cannot_grow_the_counter_names_without_bound():
    books = KrakenBooks(10)
    for n in range(3 * MAX_REASONS):
        books.handle(json.dumps({"error": f"{n} " + "x" * 5000}))
        books.handle(json.dumps({"channel": f"c{n}" + "y" * 5000}))
    books.handle(json.dumps({"method": "subscribe", "success": False, "error": "still counted"}))
    c = books.counters
    assert c.errors == 3 * MAX_REASONS + 1 and c.unexpected == 3 * MAX_REASONS
    kinds = {name.split(":")[0] for name in c.by_reason}
    assert len(c.by_reason) <= MAX_REASONS + len(kinds), len(c.by_reason)
    assert max(len(name) for name in c.by_reason) <= len("unexpected: ") + MAX_REASON_CHARS
    for kind, total in (("errors", c.errors), ("unexpected", c.unexpected)):  # every one counted somewhere
        assert sum(v for name, v in c.by_reason.items() if name.startswith(kind + ":")) == total
