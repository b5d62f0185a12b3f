"""Display rounding (bot/units.py) is exact at any magnitude: a figure wider than Decimal's default 28 digits is
shown digit for digit, never refused (``InvalidOperation``) nor rounded to 28 digits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.units import amount, money, on_grid, price, qty, significant


@pytest.mark.parametrize(("value", "asset", "shown"), [
    ("1E+30", "USD", "1000000000000000000000000000000.00 USD"),
    ("-1E+30", "USDC", "-1000000000000000000000000000000.00 USDC"),
    ("1E+27", "USD", "1000000000000000000000000000.00 USD"),
    ("12345678901234567890123456789.505", "USD", "12345678901234567890123456789.50 USD"),
    ("12345678901234567890123456789.515", "EUR", "12345678901234567890123456789.52 EUR"),
    ("1E+30", "SOL", "1000000000000000000000000000000 SOL"),
    ("123456789012345678901234567890.5", "SOL", "123456789012345678901234567890 SOL"),
])
def test_money_of_a_wide_figure_is_exact(value, asset, shown):
    assert money(Decimal(value), asset) == shown


def test_significant_and_price_keep_every_integer_digit():
    wide = Decimal("123456789012345678901234567891.75")
    assert significant(wide) == "123456789012345678901234567892"
    assert price(wide) == "123456789012345678901234567892"
    assert amount(Decimal("-1E+40"), "BTC") == "-1" + "0" * 40


@pytest.mark.parametrize(("value", "step", "shown"), [
    ("123456789012345678901234567890.125", "0.01", "123456789012345678901234567890.12"),  # half to even
    ("123456789012345678901234567890.135", "0.01", "123456789012345678901234567890.14"),
    ("-123456789012345678901234567890.135", "0.01", "-123456789012345678901234567890.14"),
    ("1E+30", "0.001", "1000000000000000000000000000000.000"),
    ("7.5", "3", "6"),  # 2.5 steps: half to the even multiple, 2
    ("10", "0.25", "10.00"),
    ("0.37", "0.25", "0.25"),
    ("0.375", "0.25", "0.50"),  # 1.5 steps -> 2
    ("0.125", "0.25", "0.00"),  # 0.5 steps -> 0 (even)
])
def test_on_grid_is_exact_at_any_width(value, step, shown):
    assert on_grid(Decimal(value), Decimal(step)) == shown


def test_qty_on_a_wide_lot_grid():
    assert qty(Decimal("98765432109876543210987654321.123456789"), Decimal("0.00000001")) == \
        "98765432109876543210987654321.12345679"
