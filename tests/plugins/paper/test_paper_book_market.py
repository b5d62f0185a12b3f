"""BookMarket's integer path (a source's units straight to ticks and lots) publishes exactly what its
Decimal path publishes: the same levels, written the same way, the same ticks, lots and memory of what
our fills took, the same skipped prices and rounded sizes."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from bot.api import BookUpdate
from plugins.paper.book_market import BookMarket


def books(rng: random.Random, pd: int, qd: int, n: int) -> list[BookUpdate]:
    """Books of a source in 10**-pd / 10**-qd units (a few levels repeating from book to book)."""
    out = []
    mid = 15_000 * 10 ** (pd - 2)
    for i in range(n):
        mid += rng.choice((-3, -1, 0, 0, 1, 3))
        sizes = [rng.choice((1, 7, 50, 999, 12_345, 10**qd, 3 * 10**qd + 5)) for _ in range(12)]
        bids = tuple((mid - 1 - k * rng.choice((1, 1, 2)), sizes[k]) for k in range(6))
        asks = tuple((mid + 1 + k * rng.choice((1, 1, 2)), sizes[6 + k]) for k in range(6))
        bids = tuple(sorted(dict(bids).items(), reverse=True))
        asks = tuple(sorted(dict(asks).items()))
        out.append(BookUpdate.of_units("src", "SOL/USDC", bids, asks, pd, qd, i))
    return out


@pytest.mark.parametrize(("tick", "lot", "pd", "qd"), [
    ("0.01", "0.00000001", 2, 8),  # the venue's grid is the source's (Kraken SOL/USDC)
    ("0.01", "0.00001000", 2, 8),  # lots of 1000 units: sizes rounded down
    ("0.02", "0.00000001", 2, 8),  # a coarser tick: every other price off the grid
    ("0.005", "0.00000001", 2, 8),  # a finer tick: two ticks per price unit
    ("0.01", "0.001", 2, 8),  # a lot written with fewer decimals: the Decimal path
])
def test_the_integer_path_publishes_what_the_decimal_path_does(tick, lot, pd, qd):
    rng = random.Random(f"{tick}{lot}")
    decimal_path = BookMarket("paper", "SOL/USDC", Decimal(tick), Decimal(lot), 5)
    unit_path = BookMarket("paper", "SOL/USDC", Decimal(tick), Decimal(lot), 5)
    for book in books(rng, pd, qd, 400):
        want = decimal_path.update(book.bids, book.asks, book.ts_ns)
        got = unit_path.update_event(book, book.ts_ns)
        assert (got.bids, got.asks) == (want.bids, want.asks)
        assert [tuple(map(str, level)) for level in got.bids + got.asks] == \
            [tuple(map(str, level)) for level in want.bids + want.asks]  # written the same way too
        assert (got.bid_units, got.ask_units) == (want.bid_units, want.ask_units)
        for name in ("bid_ticks", "ask_ticks", "bid_lots", "ask_lots", "_bid_levels", "_ask_levels", "_taken"):
            assert getattr(unit_path, name) == getattr(decimal_path, name), name
        if rng.random() < 0.3:  # our orders take some of a side: remembered while the source keeps the level
            from_asks, lots = rng.random() < 0.5, rng.randint(1, 20_000)
            decimal_path.consume(from_asks, lots)
            unit_path.consume(from_asks, lots)
    assert (unit_path.skipped_prices, unit_path.rounded_sizes, unit_path.updates) == \
        (decimal_path.skipped_prices, decimal_path.rounded_sizes, decimal_path.updates)
    if tick in ("0.02",):
        assert unit_path.skipped_prices > 0
    if lot == "0.00001000":
        assert unit_path.rounded_sizes > 0


def test_a_live_books_view_is_copied_as_the_decimal_path_copies_its_levels():
    """A recording replays views of the recorded venue's live book (``BookUpdate.of_book``): copied as columns
    off the book, the venue publishes what the Decimal path does, deeper or shallower than the view, also when
    a level priced or sized at or below zero comes and goes."""
    from bot.api.kit import OrderBook

    rng = random.Random(7)
    odd_levels = 0
    for depth, view_levels in ((5, 10), (10, 5), (10, 10)):
        decimal_path = BookMarket("paper", "SOL/USDC", Decimal("0.01"), Decimal("0.00000001"), depth)
        unit_path = BookMarket("paper", "SOL/USDC", Decimal("0.01"), Decimal("0.00000001"), depth)
        live = OrderBook(2, 8, depth=12)
        for i in range(600):
            for _ in range(rng.randint(1, 3)):
                price = 15_000 + rng.choice((-1, 1)) * rng.randint(1, 14)
                size = rng.choice((0, 0, 1, 7, 10**8, 12_345))
                (live.set_bid if price < 15_000 else live.set_ask)(price, size)
            if rng.random() < 0.05:  # a level no venue can trade comes or goes: priced at or below zero, or sized so
                odd = rng.choice(((0, 10**8), (-3, 10**8), (14_990, -5), (15_010, -5), (-1, 0), (14_990, 0)))
                (live.set_bid if odd[0] < 15_000 else live.set_ask)(*odd)
            live.truncate()
            view = BookUpdate.of_book("src", "SOL/USDC", live, view_levels, i)
            want = decimal_path.update(view.bids, view.asks, i)
            got = unit_path.update_event(view, i)
            assert (got.best_bid_units, got.best_ask_units) == (want.best_bid_units, want.best_ask_units)
            assert (got.bid_units, got.ask_units, got.bids, got.asks) == (want.bid_units, want.ask_units, want.bids,
                                                                          want.asks)
            for name in ("bid_ticks", "ask_ticks", "bid_lots", "ask_lots", "_bid_levels", "_ask_levels"):
                assert getattr(unit_path, name) == getattr(decimal_path, name), name
            odd_levels += got._col is None
            if rng.random() < 0.1:
                from_asks, lots = rng.random() < 0.5, rng.randint(1, 20_000)
                decimal_path.consume(from_asks, lots)
                unit_path.consume(from_asks, lots)
        assert unit_path.skipped_prices == decimal_path.skipped_prices
    assert odd_levels > 20  # the general path took the books with such a level (or with our fills remembered)
