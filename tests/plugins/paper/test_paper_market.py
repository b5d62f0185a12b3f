"""The simulated market: reproducible, on the grid, with a sensible book and tape."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain import Side
from plugins.paper.market import MarketParams, SimulatedMarket


def params(**overrides) -> MarketParams:
    values = dict(
        tick_size=Decimal("0.01"), lot_size=Decimal("0.00001"), start_price=Decimal("30000"), spread_ticks=10,
        level_step_ticks=10, depth_levels=10, level_qty=Decimal("0.5"), volatility_bps=Decimal("0.5"), seed=42,
    )
    values.update(overrides)
    return MarketParams(**values)


def run(market: SimulatedMarket, steps: int) -> list:
    return [market.step(ts_ns=i) for i in range(steps)]


def test_same_seed_gives_the_same_market():
    a = run(SimulatedMarket("paper", "BTC/USD", params()), 5000)
    b = run(SimulatedMarket("paper", "BTC/USD", params()), 5000)
    assert a == b


def test_another_seed_or_symbol_gives_another_market():
    base = run(SimulatedMarket("paper", "BTC/USD", params()), 200)
    assert run(SimulatedMarket("paper", "BTC/USD", params(seed=7)), 200) != base
    other = [(book.bids, trade) for book, trade in run(SimulatedMarket("paper", "ETH/USD", params()), 200)]
    assert other != [(book.bids, trade) for book, trade in base]


def test_a_resumed_market_carries_on_exactly():
    whole = SimulatedMarket("paper", "BTC/USD", params())
    first = run(whole, 5000)  # crosses a reseeding block boundary (4096)
    rest = run(whole, 300)

    resumed = SimulatedMarket("paper", "BTC/USD", params())
    resumed.resume(5000, int(first[-1][0].bids[0][0] / Decimal("0.01")))
    assert run(resumed, 300) == rest


@pytest.mark.parametrize("steps", [37, 4096, 4097])  # inside a block, at a reseeding boundary, just after one
def test_a_resumed_market_shows_the_book_it_stopped_with(steps):
    """An order sent right after a restart meets the book the venue showed when it stopped: the same levels, the
    same sizes (not those of the first step's draw)."""
    whole = SimulatedMarket("paper", "BTC/USD", params())
    stopped, _ = run(whole, steps)[-1]

    resumed = SimulatedMarket("paper", "BTC/USD", params())
    resumed.resume(steps, whole.bid_ticks)
    assert (resumed.bid_lots, resumed.ask_lots) == (whole.bid_lots, whole.ask_lots)
    assert resumed.book(stopped.ts_ns) == stopped
    assert run(resumed, 300) == run(whole, 300)  # and carries on as before


def test_book_shape_is_on_the_grid():
    market = SimulatedMarket("paper", "BTC/USD", params())
    for book, trade in run(market, 2000):
        assert len(book.bids) == len(book.asks) == 10
        assert book.asks[0][0] - book.bids[0][0] == Decimal("0.10")
        assert [p for p, _ in book.bids] == sorted((p for p, _ in book.bids), reverse=True)
        assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)
        assert book.bids[0][0] - book.bids[1][0] == Decimal("0.10")
        for price, qty in book.bids + book.asks:
            assert price % Decimal("0.01") == 0 and qty % Decimal("0.00001") == 0 and qty > 0
        if trade is not None:
            # A buyer takes the ask, a seller hits the bid.
            assert trade.price == (book.best_ask if trade.taker_side is Side.BUY else book.best_bid)
            assert trade.qty > 0


def test_the_price_walks_with_the_asked_volatility():
    market = SimulatedMarket("paper", "BTC/USD", params())
    mids = [book.mid for book, _ in run(market, 20_000)]
    moves = [abs(b - a) / a * 10_000 for a, b in zip(mids, mids[1:], strict=False)]
    mean_abs_bps = sum(moves) / len(moves)
    # E|N(0, 0.5 bps)| = 0.5 * sqrt(2 / pi) = 0.40 bps
    assert Decimal("0.35") < mean_abs_bps < Decimal("0.45")
    trades = sum(1 for _, trade in run(market, 1000) if trade is not None)
    assert trades > 900  # the price moves almost every step, and a move prints a trade


def test_a_quiet_market_stands_still_and_trades_half_the_time():
    market = SimulatedMarket("paper", "BTC/USD", params(volatility_bps=Decimal(0)))
    steps = run(market, 1000)
    assert {book.best_bid for book, _ in steps} == {Decimal("29999.95")}
    trades = [trade for _, trade in steps if trade is not None]
    assert 400 < len(trades) < 600
    assert {t.taker_side for t in trades} == {Side.BUY, Side.SELL}


def test_price_never_reaches_zero():
    market = SimulatedMarket("paper", "X/USD", params(start_price=Decimal("1"), volatility_bps=Decimal(500)))
    for book, _ in run(market, 3000):
        assert book.bids[-1][0] > 0


def test_the_books_decimals_read_as_ticks_times_tick_size_and_lots_times_lot_size():
    """A book leaves as integer units; the Decimals a subscriber reads are ``ticks * tick_size`` and ``lots *
    lot_size``, written with the same digits (whatever the sizes' exponents), as is the trade's price."""
    for tick, lot in (("0.01", "0.001"), ("0.05", "0.25"), ("1", "1"), ("1E+1", "0.5"), ("0.5", "1E+1")):
        market = SimulatedMarket("paper", "BTC/USD", params(tick_size=Decimal(tick), lot_size=Decimal(lot),
                                                            start_price=Decimal("30000"),
                                                            level_qty=Decimal(lot) * 40))
        for _ in range(300):
            book, trade = market.step(0)
            want_bids = [(market.price(market.bid_level(i)), market.qty(n)) for i, n in enumerate(market.bid_lots)]
            want_asks = [(market.price(market.ask_level(i)), market.qty(n)) for i, n in enumerate(market.ask_lots)]
            assert [tuple(map(str, level)) for level in book.bids] == [tuple(map(str, lv)) for lv in want_bids]
            assert [tuple(map(str, level)) for level in book.asks] == [tuple(map(str, lv)) for lv in want_asks]
            assert str(book.best_bid) == str(want_bids[0][0]) and str(book.mid) == str((want_bids[0][0] +
                                                                                        want_asks[0][0]) / 2)
            if trade is not None:
                assert str(trade.price) == str(market.price(market.trade_ticks))
