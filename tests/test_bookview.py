"""BookUpdate views: integers inside, Decimals when read, a kept view never changes under its holder."""

from __future__ import annotations

import pickle
from decimal import Decimal as D

from bot.api import BookUpdate, Side
from bot.api.kit import BookPublisher, BookViews, OrderBook
from bot.bus import Bus


def _book() -> OrderBook:
    book = OrderBook(2, 3, depth=5)
    for i in range(5):
        book.set_bid(10_000 - i, 1_000 + i)
        book.set_ask(10_001 + i, 2_000 + i)
    return book


def test_view_reads_the_live_book_in_units_and_decimals() -> None:
    book = _book()
    ev = BookUpdate.of_book("k", "A/B", book, 3, 7)
    assert (ev.best_bid_units, ev.best_ask_units) == (10_000, 10_001)
    assert ev.bid_units == ((10_000, 1_000), (9_999, 1_001), (9_998, 1_002))
    assert ev.ask_units[0] == (10_001, 2_000)
    assert ev.best_bid == D("100.00") and str(ev.best_ask) == "100.01"
    assert ev.bids == book.levels(Side.BUY, 3) and ev.asks == book.levels(Side.SELL, 3)
    assert str(ev.bids[0][1]) == "1.000"  # the precision's trailing zeros are kept
    assert ev.mid == D("100.005")
    assert (ev.price_decimals, ev.qty_decimals) == (2, 3)


def test_decimal_made_event_derives_units_and_compares_by_value() -> None:
    ev = BookUpdate("k", "A/B", ((D("1.10"), D("2")),), ((D("1.2"), D("3.000")),), 5)
    assert ev.bid_units == ((110, 2_000),) and ev.ask_units == ((120, 3_000),)
    assert (ev.price_decimals, ev.qty_decimals) == (2, 3)
    same = BookUpdate.of_units("k", "A/B", ((11, 2),), ((12, 3),), 1, 0, 5)
    assert ev == same and hash(ev) == hash(same)
    assert ev != BookUpdate.of_units("k", "A/B", ((11, 2),), ((13, 3),), 1, 0, 5)
    assert pickle.loads(pickle.dumps(same)) == same
    empty = BookUpdate("k", "A/B", (), (), 0)
    assert empty.best_bid is None and empty.best_ask_units is None and empty.mid is None


def test_ladder_event_is_the_event_of_its_levels_made_when_read() -> None:
    ev = BookUpdate.of_ladder("k", "A/B", 10_000, 10_002, 5, (1_000, 1_001, 1_002), (2_000, 2_001), 2, 3, 7)
    assert (ev.best_bid_units, ev.best_ask_units) == (10_000, 10_002)
    assert ev.best_bid == D("100.00") and str(ev.best_ask) == "100.02" and ev.mid == D("100.01")
    assert ev._bu is None and ev._au is None  # the touch made no level tuple
    same = BookUpdate.of_units("k", "A/B", ((10_000, 1_000), (9_995, 1_001), (9_990, 1_002)),
                               ((10_002, 2_000), (10_007, 2_001)), 2, 3, 7)
    assert ev.bid_units == same.bid_units and ev.ask_units == same.ask_units
    assert ev.bids == same.bids and str(ev.asks[1]) == "(Decimal('100.07'), Decimal('2.001'))"
    assert ev == same and hash(ev) == hash(same) and pickle.loads(pickle.dumps(ev)) == same
    one_sided = BookUpdate.of_ladder("k", "A/B", 10_000, 10_002, 5, (), (2_000,), 2, 3, 7)
    assert one_sided.best_bid_units is None and one_sided.best_bid is None and one_sided.mid is None
    assert one_sided.bid_units == () and one_sided.best_ask == D("100.02")


def test_a_kept_view_copies_its_levels_on_release_and_an_unkept_one_stays_a_view() -> None:
    book = _book()
    kept: list[BookUpdate] = []
    ev = BookUpdate.of_book("k", "A/B", book, 2, 0)
    kept.append(ev)  # a subscriber keeps it
    ev.release()
    dropped = BookUpdate.of_book("k", "A/B", book, 2, 0)
    dropped.release()
    assert dropped._book is book  # nobody kept it: nothing was copied
    book.set_bid(10_000, 0)  # the book moves on
    book.set_ask(10_001, 5)
    assert kept[0].bid_units == ((10_000, 1_000), (9_999, 1_001))
    assert kept[0].asks[0] == (D("100.01"), D("2.000"))
    assert dropped.best_bid_units == 9_999  # a view not kept shows the book as it is


def test_book_views_release_a_batch_before_the_book_changes() -> None:
    book = _book()
    views = BookViews()
    held = views.add(BookUpdate.of_book("k", "A/B", book, 1, 0))
    views.add(BookUpdate.of_book("k", "A/B", book, 1, 1))
    views.release()
    assert not views.pending
    book.set_bid(10_000, 0)
    assert held.bid_units == ((10_000, 1_000),)


def test_a_topic_delivers_as_publish_does_and_follows_subscriptions() -> None:
    bus = Bus(on_error=lambda owner, exc, event: got.append(("error", owner, str(exc))))
    got: list[tuple[str, ...]] = []
    topic = bus.topic(BookUpdate, "k", "A/B")
    assert bus.topic(BookUpdate, "k", "A/B") is topic and topic.route == ()
    ev = BookUpdate("k", "A/B", (), (), 0)
    stop_all = bus.subscribe(BookUpdate, lambda e: got.append(("all",)), owner="all")
    bus.subscribe(BookUpdate, lambda e: got.append(("k",)), owner="k", exchange="k")
    bus.subscribe(BookUpdate, lambda e: got.append(("other",)), owner="other", exchange="k", symbol="C/D")

    def broken(e: BookUpdate) -> None:
        raise ValueError("bug")

    bus.subscribe(BookUpdate, broken, owner="broken", exchange="k", symbol="A/B")
    topic.publish(ev)
    via_topic = list(got)
    got.clear()
    bus.publish(ev)
    assert got == via_topic == [("all",), ("k",), ("error", "broken", "bug")]
    stop_all()
    bus.unsubscribe_owner("broken")
    assert [owner for owner, _ in topic.route] == ["k"]


def test_a_publisher_reuses_its_view_until_one_is_kept_and_costs_nothing_unheard() -> None:
    book = _book()
    bus = Bus(on_error=lambda owner, exc, event: None)
    ticks = [0]

    def clock() -> int:
        ticks[0] += 1
        return ticks[0]

    pub = BookPublisher(bus, "k", "A/B", book, 2, clock)
    pub.publish()
    assert ticks[0] == 0  # nobody listens: no event, no clock
    seen: list[tuple[int, int | None, tuple, D | None]] = []
    kept: list[BookUpdate] = []
    bus.subscribe(BookUpdate, lambda ev: seen.append((id(ev), ev.ts_ns, ev.bid_units, ev.best_bid)), owner="s",
                  exchange="k", symbol="A/B")
    pub.publish()
    book.set_bid(10_001, 7)  # a new best bid
    pub.publish()
    assert seen[0][0] == seen[1][0]  # the same view object, nobody kept it...
    assert seen[1][1:] == (2, ((10_001, 7), (10_000, 1_000)), D("100.01"))  # ...showing each change afresh
    stop = bus.subscribe(BookUpdate, kept.append, owner="keeper")
    pub.publish()
    stop()
    book.set_bid(10_001, 0)
    pub.publish()
    assert seen[3][0] != seen[2][0] and seen[3][3] == D("100.00")  # a new view after the kept one
    assert kept[0].bid_units == ((10_001, 7), (10_000, 1_000)) and kept[0].best_bid == D("100.01")
    assert kept[0].ts_ns == 3


def test_columns_are_the_levels_taken_apart_and_an_event_of_columns_is_the_event_of_its_levels() -> None:
    book = _book()
    events = [BookUpdate.of_book("k", "A/B", book, 3, 7),
              BookUpdate.of_units("k", "A/B", ((10_000, 1_000), (9_999, 1_001)), ((10_001, 2_000),), 2, 3, 7),
              BookUpdate.of_ladder("k", "A/B", 10_000, 10_002, 5, (1_000, 1_001, 1_002), (2_000,), 2, 3, 7),
              BookUpdate("k", "A/B", ((D("100.00"), D("1.000")),), (), 7),
              BookUpdate.of_units("k", "A/B", (), (), 2, 3, 7)]
    for ev in events:
        for levels in (1, 2, 3, 10):
            bid_prices, bid_sizes, ask_prices, ask_sizes = ev.unit_columns(levels)
            assert tuple(zip(bid_prices, bid_sizes, strict=True)) == ev.bid_units[:levels]
            assert tuple(zip(ask_prices, ask_sizes, strict=True)) == ev.ask_units[:levels]
            same = BookUpdate.of_columns("k", "A/B", bid_prices, bid_sizes, ask_prices, ask_sizes, 2, 3, 7)
            assert same.unit_columns(levels) == (bid_prices, bid_sizes, ask_prices, ask_sizes)
            assert (same.best_bid_units, same.best_ask_units) == (
                bid_prices[0] if bid_prices else None, ask_prices[0] if ask_prices else None)
            assert (same.best_bid, same.best_ask) == (D(bid_prices[0]).scaleb(-2) if bid_prices else None,
                                                      D(ask_prices[0]).scaleb(-2) if ask_prices else None)
            assert same._bu is None and same.owns_levels  # the touch made no level tuple
            want = BookUpdate.of_units("k", "A/B", ev.bid_units[:levels], ev.ask_units[:levels], 2, 3, 7)
            assert (same.bid_units, same.ask_units, same.bids, same.asks) == (want.bid_units, want.ask_units,
                                                                              want.bids, want.asks)
            assert same == want and hash(same) == hash(want) and pickle.loads(pickle.dumps(same)) == want
    view = BookUpdate.of_book("k", "A/B", book, 3, 7)
    assert view.unit_columns(3) == events[0].unit_columns(3)
    assert view._bu is None and not view._cached  # nothing kept in a view: it stays as cheap to reuse


def test_the_decimal_tables_stay_bounded_on_a_walking_market() -> None:
    """A price that walks for hours meets new prices all the time: each table of Decimals made from units keeps at most
    4,096 of them (plus one book's levels; at most about 0.75 MB), and a price read after a table was emptied is still
    right."""
    from bot import bookview

    levels = 10
    for step in range(12_288):  # a new touch a step, read as a strategy reads it; the levels now and then
        bid = 1_000_000 + step
        ev = BookUpdate.of_ladder("k", "A/B", bid, bid + 1, 1, (7,) * levels, (9,) * levels, 2, 5, step)
        assert ev.best_bid == D(bid).scaleb(-2)
        if step % 97 == 0:
            assert ev.bids[-1] == (D(bid - levels + 1).scaleb(-2), D("0.00007"))
    for decimals in (2, 5):
        assert 0 < len(bookview._DECIMALS[decimals]) <= 4_096 + 2 * levels


def test_touch_units_is_the_touch_of_every_kind_of_event() -> None:
    """``touch_units()`` is ``(best_bid_units, best_ask_units, price_decimals)`` in one call, one-sided books included;
    ``owns_levels`` is False for a live book's view only, until it is detached."""
    book = _book()
    one_sided = OrderBook(2, 3, depth=5)
    one_sided.set_ask(10_001, 5)
    events = [
        BookUpdate.of_book("k", "A/B", book, 3, 7), BookUpdate.of_book("k", "A/B", one_sided, 3, 7),
        BookUpdate.of_ladder("k", "A/B", 10_000, 10_002, 1, (1, 2), (3, 4), 2, 3, 7),
        BookUpdate.of_ladder("k", "A/B", 10_000, 10_002, 1, (), (3, 4), 2, 3, 7),
        BookUpdate.of_columns("k", "A/B", (10_000, 9_999), (1, 2), (), (), 2, 3, 7),
        BookUpdate.of_units("k", "A/B", ((10_000, 1),), ((10_001, 2),), 2, 3, 7),
        BookUpdate("k", "A/B", ((D("100.00"), D("1")),), (), 7),
    ]
    for ev in events:
        assert ev.touch_units() == (ev.best_bid_units, ev.best_ask_units, ev.price_decimals)
        assert ev.owns_levels is (ev._book is None)
        ev.bid_units  # noqa: B018 - levels made: the same touch
        assert ev.touch_units() == (ev.best_bid_units, ev.best_ask_units, ev.price_decimals)
    assert [ev.touch_units()[:2] for ev in events[:5]] == [(10_000, 10_001), (None, 10_001), (10_000, 10_002),
                                                            (None, 10_002), (10_000, None)]
    view = events[0]
    assert not view.owns_levels
    view.detach()
    assert view.owns_levels and view.touch_units() == (10_000, 10_001, 2)
