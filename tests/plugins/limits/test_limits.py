"""The limits risk check, one step either side of each limit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.api import Context, PortfolioView
from bot.domain import Order, OrderIntent, OrderType, Side
from bot.settings import ConfigIssue, parse_settings
from plugins.limits.check import Limits
from plugins.limits.settings import LimitsSettings


class View(PortfolioView):
    def __init__(self, position="0", orders=(), price="100"):
        self._position = Decimal(position)
        self._orders = list(orders)
        self._price = Decimal(price) if price is not None else None

    def position(self, exchange, symbol):
        return self._position

    def open_orders(self, exchange=None, symbol=None):
        return self._orders

    def last_price(self, exchange, symbol):
        return self._price

    def positions(self):
        return {("x", "BTC/USD"): self._position} if self._position else {}


def limits(**table) -> Limits:
    issues: list[ConfigIssue] = []
    settings = parse_settings(LimitsSettings, table, "risk.limits", issues)
    assert not issues, issues
    return Limits("limits", settings, Context.__new__(Context))


def buy(qty: str, price: str | None = "100", side=Side.BUY) -> OrderIntent:
    return OrderIntent("s", "x", "BTC/USD", side, Decimal(qty), Decimal(price) if price else None,
                       order_type=OrderType.LIMIT if price else OrderType.MARKET)


def resting(qty: str, side=Side.BUY) -> Order:
    return Order("r", "s", "x", "BTC/USD", side, Decimal(qty), Decimal("100"))


def test_order_notional_limit_is_exact():
    check = limits(max_order_notional="100")
    assert check.check(buy("1.00"), View()) is None
    reason = check.check(buy("1.01"), View())
    assert reason == "order value 101.00 USD exceeds max_order_notional 100 USD (1.01 BTC/USD at 100)"


def test_market_order_is_valued_at_the_last_price_or_refused():
    check = limits(max_order_notional="100")
    assert check.check(buy("0.5", price=None), View(price="150")) is None
    assert "exceeds" in check.check(buy("1", price=None), View(price="150"))
    assert "no price" in check.check(buy("1", price=None), View(price=None))


def test_a_limit_order_is_valued_at_its_own_price_without_reading_the_last_one():
    class NoLastPrice(View):
        def last_price(self, exchange, symbol):  # a pool's mid is made when first read: a limit order needs none
            raise AssertionError("a limit order read the market's last price")

    check = limits(max_order_notional="100", max_position="5")
    assert check.check(buy("1.00"), NoLastPrice()) is None
    assert "exceeds max_order_notional" in check.check(buy("1.01"), NoLastPrice())


def test_position_limit_counts_resting_orders_on_the_same_side():
    check = limits(max_position="1")
    view = View(position="0.5", orders=[resting("0.25"), resting("9", Side.SELL)])
    assert check.check(buy("0.25"), view) is None
    reason = check.check(buy("0.26"), view)
    assert "could reach 1.01" in reason and "limit is 1" in reason


def test_a_symbols_position_limit_overrides_its_base_assets():
    check = limits(max_position={"BTC": "10", "BTC/USD": "0.1"})
    assert check.check(buy("0.1"), View()) is None
    assert "its limit is 0.1 BTC" in check.check(buy("0.11"), View())


def test_short_side_is_limited_too():
    check = limits(max_position="1")
    assert check.check(buy("1", side=Side.SELL), View()) is None
    assert check.check(buy("1.5", side=Side.SELL), View()) is not None


def test_max_open_orders():
    check = limits(max_open_orders=2)
    assert check.check(buy("1"), View(orders=[resting("1")])) is None
    assert check.check(buy("1"), View(orders=[resting("1"), resting("1")])) == (
        "2 orders are open; max_open_orders is 2")


def test_bad_per_symbol_limit_is_named():
    issues: list[ConfigIssue] = []
    parse_settings(LimitsSettings, {"max_position": {"BTC/USD": "lots"}}, "risk.limits", issues)
    assert [str(i) for i in issues] == [
        'risk.limits.max_position.BTC/USD: expected a decimal number > 0 such as "0.5", got "lots"']


def test_positions_is_refused_naming_max_position_as_the_one_way_to_limit_a_symbol():
    """``positions`` (per-symbol overrides) and ``max_position``'s symbol keys set one fact two ways: refused, with
    where its entries go."""
    issues: list[ConfigIssue] = []
    table = {"max_position": {"BTC": "1"}, "positions": {"BTC/USD": "0.5"}}
    assert parse_settings(LimitsSettings, table, "risk.limits", issues) is None
    [issue] = issues
    assert issue.path == "risk.limits.positions"
    assert issue.problem.startswith("removed: ")
    assert 'move each entry into max_position as a symbol key, e.g. max_position = { "BTC/USD" = "0.5" }' in \
        issue.problem
    assert "delete this key" in issue.problem


def test_a_timezone_of_its_own_is_refused_naming_the_key_and_the_fix():
    """The limits' day is the bot's ([scheduler] timezone): a second zone would give the trader two days."""
    issues: list[ConfigIssue] = []
    assert parse_settings(LimitsSettings, {"timezone": "UTC"}, "risk.limits", issues) is None
    [issue] = issues
    assert issue.path == "risk.limits.timezone"
    assert issue.problem.startswith("removed: the daily loss's day is the bot's day, in [scheduler] timezone")
    assert "set the zone there and delete this key" in issue.problem


@pytest.mark.parametrize("key", ["max_order_notional", "max_position"])
def test_limits_must_be_positive(key):
    issues: list[ConfigIssue] = []
    parse_settings(LimitsSettings, {key: "0"}, "risk.limits", issues)
    assert str(issues[0]).startswith(f"risk.limits.{key}: expected a decimal number > 0")
