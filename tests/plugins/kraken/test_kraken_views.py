"""What KrakenExchange publishes is a view of its live book, through a ``BookPublisher`` that the C fast path drives
by itself: on each of the handler's paths a subscriber that keeps an event sees the book as it was when the event was
published, one that reads and drops it costs no new object, and a failing subscriber is reported and isolated."""

from __future__ import annotations

import pytest

from bot.api import BookUpdate
from bot.api.kit import BookPublisher
from bot.bus import Bus
from plugins.kraken import book as kraken_book
from plugins.kraken.book import KrakenBooks
from tests.plugins.kraken.test_kraken_book_paths import DEPTH, SYMBOL, Venue, dump

PATHS = [{}, {"accelerate": False}, {"fast": False}]
IDS = ["c", "python", "general"]


def _books(bus: Bus, clock, **kwargs) -> tuple[KrakenBooks, Venue]:
    books = KrakenBooks(DEPTH, symbols=[SYMBOL], **kwargs,
                        publisher=lambda symbol, book: BookPublisher(bus, "kraken", symbol, book, DEPTH, clock))
    return books, Venue(seed=3)


def _start(books: KrakenBooks, venue: Venue) -> None:
    books.handle(dump(venue.instrument()))
    books.handle(dump(venue.snapshot()))


@pytest.mark.parametrize("kwargs", PATHS, ids=IDS)
def test_kept_views_keep_the_book_they_were_published_with(kwargs):
    bus = Bus(on_error=lambda owner, exc, event: (_ for _ in ()).throw(exc))
    kept: list[tuple[BookUpdate, tuple]] = []
    touches: list[tuple] = []
    levels: list[tuple] = []
    ids: set[int] = set()
    seen = [0]

    def keeper(event: BookUpdate) -> None:  # keeps every third event, as a strategy keeps "the latest book"
        seen[0] += 1
        if seen[0] % 3 == 0:
            kept.append((event, books.books[SYMBOL].levels(DEPTH)))

    def toucher(event: BookUpdate) -> None:  # reads the touch in its callback and keeps nothing
        touches.append((event.best_bid_units, event.best_ask_units))
        ids.add(id(event))

    def reader(event: BookUpdate) -> None:  # reads the levels (cached on the event for this change only)
        levels.append((event.bids, event.asks) == books.books[SYMBOL].levels(DEPTH) and event.ask_units[0][0])

    bus.subscribe(BookUpdate, keeper, owner="keeper")
    bus.subscribe(BookUpdate, toucher, owner="toucher", exchange="kraken")
    bus.subscribe(BookUpdate, reader, owner="reader", exchange="kraken", symbol=SYMBOL)
    books, venue = _books(bus, lambda: 5, **kwargs)
    _start(books, venue)
    for _ in range(1_500):
        books.handle(dump(venue.update()).encode())
        book = books.books[SYMBOL].book
        assert touches[-1] == (-book.bid_keys[0], book.ask_keys[0]) and levels[-1] == book.ask_keys[0]
    assert books.counters.checksum_ok == 1_501 and len(kept) == 500 and len(touches) == 1_501
    for event, at_publish in kept:
        assert (event.bids, event.asks) == at_publish  # not the book as it is now
        assert event.bid_units[0][0] == at_publish[0][0][0].scaleb(1)  # price precision 1
        assert event.ts_ns == 5
    assert len(ids) <= 502  # a new view only after each kept one (ids of freed views may come back)


@pytest.mark.parametrize("kwargs", PATHS, ids=IDS)
def test_a_view_nobody_keeps_is_reused_and_nobody_listening_costs_no_clock(kwargs):
    bus = Bus(on_error=lambda owner, exc, event: (_ for _ in ()).throw(exc))
    reads = [0]

    def clock() -> int:
        reads[0] += 1
        return reads[0]

    books, venue = _books(bus, clock, **kwargs)
    _start(books, venue)
    for _ in range(50):
        books.handle(dump(venue.update()))
    assert reads[0] == 0  # nobody subscribed: no event, no clock
    received: list[tuple[int, int]] = []
    bus.subscribe(BookUpdate, lambda ev: received.append((id(ev), ev.ts_ns)), owner="late", symbol=SYMBOL,
                  exchange="kraken")
    for _ in range(50):
        books.handle(dump(venue.update()))
    assert [ts for _, ts in received] == list(range(1, 51))
    assert len({i for i, _ in received}) == 1  # one view, reused from change to change


@pytest.mark.parametrize("kwargs", PATHS, ids=IDS)
def test_a_failing_subscriber_is_reported_and_the_others_still_receive(kwargs):
    errors: list[tuple[str, str, int]] = []
    bus = Bus(on_error=lambda owner, exc, event: errors.append((owner, str(exc), event.best_ask_units)))
    got: list[int | None] = []

    def broken(event: BookUpdate) -> None:
        raise RuntimeError("strategy bug")

    bus.subscribe(BookUpdate, broken, owner="broken")
    bus.subscribe(BookUpdate, lambda ev: got.append(ev.best_ask_units), owner="fine")
    books, venue = _books(bus, lambda: 1, **kwargs)
    _start(books, venue)
    for _ in range(20):
        books.handle(dump(venue.update()))
    assert len(got) == 21 and errors == [("broken", "strategy bug", ask) for ask in got]
    assert books.counters.checksum_ok == 21 and books.counters.malformed == 0


@pytest.mark.skipif(kraken_book._fast_update is None, reason="plugins/kraken/_fastbook.c is not built")
def test_the_c_path_publishes_through_a_publisher_subclass_too():
    """The C path reads the publisher's slots in place by type, so a subclass works too: its own slots, an
    overridden hook (every kept view goes through its ``_renew``), and an attribute that is no plain slot (a
    property: the C path falls back to getattr)."""

    class Traced(BookPublisher):
        __slots__ = ("renewed", "clock_reads", "_clock")

        def __init__(self, *args):
            self.renewed = self.clock_reads = 0
            super().__init__(*args)

        @property
        def _time_ns(self):
            self.clock_reads += 1
            return self._clock

        @_time_ns.setter
        def _time_ns(self, value) -> None:
            self._clock = value

        def _renew(self) -> None:
            self.renewed += 1
            super()._renew()

    bus = Bus(on_error=lambda owner, exc, event: (_ for _ in ()).throw(exc))
    kept: list[BookUpdate] = []
    bus.subscribe(BookUpdate, kept.append, owner="keeper")
    pubs: list[Traced] = []
    books = KrakenBooks(DEPTH, symbols=[SYMBOL], publisher=lambda symbol, book: pubs.append(
        Traced(bus, "kraken", symbol, book, 2, lambda: 9)) or pubs[-1])
    venue = Venue(seed=4)
    books.handle(dump(venue.instrument()))
    books.handle(dump(venue.snapshot()))
    for _ in range(10):
        books.handle(dump(venue.update()))
    assert pubs[0].renewed == pubs[0].clock_reads == 11 and len({id(ev) for ev in kept}) == 11
    assert all(ev.ts_ns == 9 and len(ev.bid_units) == 2 for ev in kept)


def test_an_older_c_build_is_not_used(caplog):
    """A build without the publisher's duties (``VERSION`` 1, or none) would apply updates without publishing them:
    the handler keeps to its Python paths then, and says why."""

    class OldBuild:
        @staticmethod
        def update(frame, live):
            raise AssertionError("an older build must not be called")

    assert kraken_book._accelerator(OldBuild()) is None
    assert "older build" in caplog.text
    if kraken_book._fast_update is not None:
        from plugins.kraken import _fastbook

        assert kraken_book._accelerator(_fastbook) is _fastbook.update
