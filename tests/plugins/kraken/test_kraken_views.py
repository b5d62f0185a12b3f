"""What KrakenExchange publishes is a view of its live book: a subscriber that keeps an event sees the book
as it was when the event was published, through every later frame, on each of the handler's paths."""

from __future__ import annotations

import pytest

from bot.api import BookUpdate
from bot.bus import Bus
from plugins.kraken.book import KrakenBooks
from tests.plugins.kraken.test_kraken_book_paths import DEPTH, SYMBOL, Venue, dump


@pytest.mark.parametrize("kwargs", [{}, {"accelerate": False}, {"fast": False}], ids=["c", "python", "general"])
def test_kept_views_keep_the_book_they_were_published_with(kwargs):
    bus = Bus(on_error=lambda owner, exc, event: (_ for _ in ()).throw(exc))
    kept: list[tuple[BookUpdate, tuple]] = []
    touches: list[tuple] = []
    seen = [0]

    def keeper(event: BookUpdate) -> None:  # keeps every third event, as a strategy keeps "the latest book"
        seen[0] += 1
        if seen[0] % 3 == 0:
            kept.append((event, books.books[SYMBOL].levels(DEPTH)))

    def toucher(event: BookUpdate) -> None:  # reads the touch in its callback and keeps nothing
        touches.append((event.best_bid_units, event.best_ask_units))

    bus.subscribe(BookUpdate, keeper, owner="keeper")
    bus.subscribe(BookUpdate, toucher, owner="toucher")

    def on_book(sb) -> None:  # KrakenExchange._on_book
        event = BookUpdate.of_book("kraken", sb.symbol, sb.book, DEPTH, 0)
        bus.publish(event)
        event.release()

    books = KrakenBooks(DEPTH, symbols=[SYMBOL], on_book=on_book, **kwargs)
    venue = Venue(seed=3)
    books.handle(dump(venue.instrument()))
    books.handle(dump(venue.snapshot()))
    for _ in range(1_500):
        books.handle(dump(venue.update()).encode())
    assert books.counters.checksum_ok == 1_501 and len(kept) == 500
    for event, levels in kept:
        assert (event.bids, event.asks) == levels  # not the book as it is now
        assert event.bid_units[0][0] == levels[0][0][0].scaleb(1)  # price precision 1
    book = books.books[SYMBOL].book
    assert touches[-1] == (-book.bid_keys[0], book.ask_keys[0])
