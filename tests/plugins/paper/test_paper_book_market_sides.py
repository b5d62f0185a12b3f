"""BookMarket on a source at its own precision (the recorded Kraken book's case), where one side often
stays the same from book to book while the other changes: the integer path still publishes exactly what
the Decimal path does, also when a level priced or sized at or below zero comes and goes on either side."""

from __future__ import annotations

import random
from decimal import Decimal

from bot.api import BookUpdate
from plugins.paper.book_market import BookMarket


def side(rng: random.Random, best: int, step: int) -> tuple[tuple[int, int], ...]:
    levels = [(best + k * step, rng.choice((1, 7, 12_345, 10**8))) for k in range(4)]
    if rng.random() < 0.15:  # a level no venue can trade: priced at or below zero, or sized so
        k = rng.randrange(4)
        price, size = levels[k]
        levels[k] = (price, rng.choice((0, -5))) if rng.random() < 0.5 else (rng.choice((0, -1)), size)
    return tuple(levels)


def test_a_side_that_did_not_change_is_kept_exactly_as_the_decimal_path_keeps_it():
    rng = random.Random(16)
    decimal_path = BookMarket("paper", "SOL/USDC", Decimal("0.01"), Decimal("0.00000001"), 4)
    unit_path = BookMarket("paper", "SOL/USDC", Decimal("0.01"), Decimal("0.00000001"), 4)
    bids, asks = side(rng, 14_999, -1), side(rng, 15_001, 1)
    kept_as_is = 0
    for i in range(3000):
        change = rng.random()
        if change < 0.45:
            bids = side(rng, 14_999 - rng.randrange(3), -1)
        elif change < 0.9:
            asks = side(rng, 15_001 + rng.randrange(3), 1)
        # equal levels in new tuples, as a source makes them for every book
        book = BookUpdate.of_units("src", "SOL/USDC", tuple(map(tuple, bids)), tuple(map(tuple, asks)), 2, 8, i)
        want = decimal_path.update(book.bids, book.asks, i)
        got = unit_path.update_event(book, i)
        kept_as_is += got._col is not None  # copied as columns (before anything read made the level tuples)
        assert (got.bid_units, got.ask_units) == (want.bid_units, want.ask_units)
        assert (got.bids, got.asks) == (want.bids, want.asks)
        for name in ("bid_ticks", "ask_ticks", "bid_lots", "ask_lots", "_bid_levels", "_ask_levels", "_taken"):
            assert getattr(unit_path, name) == getattr(decimal_path, name), name
        if rng.random() < 0.05:  # our orders take some of a side
            from_asks, lots = rng.random() < 0.5, rng.randint(1, 20_000)
            decimal_path.consume(from_asks, lots)
            unit_path.consume(from_asks, lots)
    assert (unit_path.skipped_prices, unit_path.updates) == (decimal_path.skipped_prices, decimal_path.updates)
    assert unit_path.skipped_prices > 0 and kept_as_is > 1000
