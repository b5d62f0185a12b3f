"""BookUpdate views: integers inside, Decimals when read, a kept view never changes under its holder."""

from __future__ import annotations

import pickle
from decimal import Decimal as D

from bot.api import BookUpdate, Side
from bot.api.kit import BookViews, OrderBook


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
