"""The shared L2 order book: levels, truncation, touch, spread, and exact fill prices."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.book import OrderBook
from bot.domain import Side
from bot.exact import PrecisionError, from_units, plain, to_units

D = Decimal


def book(depth=None) -> OrderBook:
    b = OrderBook(price_decimals=2, qty_decimals=8, depth=depth)
    b.snapshot(bids=[(D("99.50"), D("1")), (D("99.00"), D("2")), (D("98.00"), D("3"))],
               asks=[(D("100.00"), D("0.5")), (D("100.50"), D("1.5")), (D("101.00"), D("4"))])
    return b


def test_units_round_trip_keeps_every_digit():
    assert to_units(D("0.10000000"), 8) == 10_000_000
    assert to_units(D("12345678.12345678"), 8) == 1_234_567_812_345_678
    assert str(from_units(10_000_000, 8)) == "0.10000000"
    assert str(from_units(1_234_567_812_345_678, 8)) == "12345678.12345678"
    assert to_units("1.5E+2", 1) == 1500
    with pytest.raises(PrecisionError):
        to_units(D("0.123"), 2)


def _to_units_digit_by_digit(value, decimals: int) -> int:
    """The definition: the value's digits, its exponent moved by ``decimals``, nothing dropped."""
    d = value if isinstance(value, D) else D(value)
    if not d.is_finite():
        raise PrecisionError(str(value))
    sign, digits, exponent = d.as_tuple()
    n = int("".join(map(str, digits))) if digits else 0
    shift = exponent + decimals
    if shift >= 0:
        n *= 10**shift
    else:
        n, rest = divmod(n, 10**-shift)
        if rest:
            raise PrecisionError(str(value))
    return -n if sign else n


@settings(max_examples=2000, deadline=None)
@given(st.decimals(allow_nan=True, allow_infinity=True, min_value=None, max_value=None, places=None)
       | st.integers(-10**30, 10**30).map(str) | st.sampled_from(["-0", "0E-50", "1.5E+2", "-12.340", "120"]),
       st.integers(-5, 40))
def test_to_units_is_the_exact_digit_by_digit_conversion(value, decimals):
    assume(not (isinstance(value, D) and value.is_finite() and abs(value.adjusted() + decimals) > 400))  # the
    # reference would build a huge power of ten
    try:
        expected = _to_units_digit_by_digit(value, decimals)
    except PrecisionError:
        with pytest.raises(PrecisionError):
            to_units(value, decimals)
    else:
        assert to_units(value, decimals) == expected


def test_plain_writes_every_digit_without_rounding_or_exponent():
    long = "155.45904274395785714285714285714285714285714285725785653"  # a figure with a pool price in it
    assert plain(Decimal(long)) == long  # normalize() alone would round it to 28 digits
    assert plain(Decimal("1E+2")) == "100" and plain(Decimal("12.50")) == "12.5"
    assert plain(Decimal("-0.000")) == "0" and plain(Decimal("-1.10")) == "-1.1"


def test_to_units_refuses_a_number_beyond_any_exponent_by_name():
    with pytest.raises(PrecisionError, match="too large"):
        to_units("1E+999999999999999999", 8)
    with pytest.raises(PrecisionError, match="more than 8 decimals"):
        to_units("1E-999999999999999999", 8)


def test_snapshot_touch_spread_mid_and_levels():
    b = book()
    assert b.best_bid == D("99.50") and b.best_ask == D("100.00")
    assert b.spread == D("0.50") and b.mid == D("99.75")
    assert b.levels(Side.BUY) == ((D("99.50"), D("1.00000000")), (D("99.00"), D("2.00000000")),
                                  (D("98.00"), D("3.00000000")))
    assert b.levels(Side.SELL, 1) == ((D("100.00"), D("0.50000000")),)
    assert len(b) == 6


def test_update_sets_inserts_and_size_zero_deletes():
    b = book()
    b.update(Side.BUY, D("99.75"), D("0.25"))
    b.update(Side.SELL, D("100.00"), D("0"))
    b.update(Side.SELL, D("100.50"), D("3"))
    b.update(Side.SELL, D("250"), D("0"))  # absent level: nothing happens
    assert b.best_bid == D("99.75")
    assert b.levels(Side.SELL)[0] == (D("100.50"), D("3.00000000"))
    assert len(b.asks) == 2


def test_truncation_to_depth_drops_the_worst_levels():
    b = book(depth=2)
    assert [p for p, _ in b.levels(Side.BUY)] == [D("99.50"), D("99.00")]
    b.update(Side.SELL, D("99.90"), D("1"))
    dropped_bids, dropped_asks = b.truncate()
    assert dropped_bids == [] and dropped_asks == [10050]
    assert [p for p, _ in b.levels(Side.SELL)] == [D("99.90"), D("100.00")]


def test_empty_book_has_no_touch():
    b = OrderBook(2, 8)
    assert b.best_bid is None and b.best_ask is None and b.spread is None and b.mid is None
    est = b.fill_price(Side.BUY, D("1"))
    assert est.avg_price is None and est.unfilled_qty == D("1") and not est.complete


def test_fill_price_for_a_base_size_walks_the_asks():
    est = book().fill_price(Side.BUY, D("1"))
    # 0.5 @ 100.00 + 0.5 @ 100.50 = 100.25
    assert est.avg_price == D("100.25") and est.filled_qty == D("1") and est.cost == D("100.25")
    assert est.unfilled_qty == 0 and est.levels_used == 2 and est.complete


def test_fill_price_sell_walks_the_bids_and_reports_what_is_missing():
    est = book().fill_price(Side.SELL, D("10"))
    assert est.filled_qty == D("6") and est.unfilled_qty == D("4")
    assert est.cost == D("99.50") + D("198.00") + D("294.00")
    assert est.avg_price == est.cost / D("6")


def test_fill_price_for_a_quote_notional():
    est = book().fill_price(Side.BUY, notional=D("100.25"))
    assert est.filled_qty == D("1") and est.avg_price == D("100.25") and est.unfilled_notional == 0
    partial = book().fill_price(Side.BUY, notional=D("10000"))
    assert partial.filled_qty == D("6") and partial.unfilled_notional == D("10000") - partial.cost
    with pytest.raises(ValueError):
        book().fill_price(Side.BUY, D("1"), notional=D("1"))


def test_notional_partial_level_is_taken_in_whole_lots():
    b = OrderBook(price_decimals=0, qty_decimals=2)
    b.snapshot(bids=[], asks=[(D("3"), D("10"))])
    est = b.fill_price(Side.BUY, notional=D("1"))
    assert est.filled_qty == D("0.33") and est.cost == D("0.99") and est.unfilled_notional == D("0.01")


@given(st.lists(st.tuples(st.booleans(), st.integers(1, 60), st.integers(0, 5)), max_size=200))
def test_matches_a_naive_model(changes):
    b = OrderBook(price_decimals=1, qty_decimals=3, depth=10)
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for is_bid, price, qty in changes:
        side = bids if is_bid else asks
        (b.set_bid if is_bid else b.set_ask)(price, qty)
        if qty:
            side[price] = qty
        else:
            side.pop(price, None)
        b.truncate()
        for p in sorted(bids, reverse=True)[10:]:
            del bids[p]
        for p in sorted(asks)[10:]:
            del asks[p]
    assert b.bids == bids and b.asks == asks
    assert [-k for k in b.bid_keys] == sorted(bids, reverse=True)
    assert b.ask_keys == sorted(asks)


def test_fill_price_is_exact_against_decimal_arithmetic():
    rng = random.Random(5)
    b = OrderBook(price_decimals=1, qty_decimals=8)
    levels = [(D(30000 + i) + D("0.5"), D(rng.randint(1, 10**8)).scaleb(-8)) for i in range(20)]
    b.snapshot(bids=[], asks=levels)
    want = D("3.7")
    left, cost = want, D(0)
    for price, qty in levels:
        take = min(qty, left)
        cost += take * price
        left -= take
        if not left:
            break
    est = b.fill_price(Side.BUY, want)
    assert est.cost == cost and est.filled_qty == want - left and est.unfilled_qty == left
