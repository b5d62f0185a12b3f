"""max_position has a unit: the base asset (or the symbol) each value is of, never one number of every base asset."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.clock import ManualClock
from bot.domain import Side
from bot.settings import ConfigIssue, parse_settings
from plugins.limits.check import Limits
from plugins.limits.settings import LimitsSettings
from tests.helpers.risk_kit import intent
from tests.plugins.limits.test_limits_units import ONLY_ETH_BTC, TWO_QUOTES, View, issues_of, limits, load, registry

__all__ = ["registry"]  # the module-scoped fixture, shared


def limits_shown(**table) -> Limits:
    """A check whose ``status()`` can be read (it reads the clock and the bot's time zone)."""
    issues: list[ConfigIssue] = []
    settings = parse_settings(LimitsSettings, table, "risk.limits", issues)
    assert not issues, issues
    return Limits("limits", settings, SimpleNamespace(clock=ManualClock(), operator=SimpleNamespace(timezone="UTC")))


def test_a_plain_max_position_is_refused_when_strategies_trade_two_base_assets(tmp_path: Path, registry):
    """The reproduction: max_position = "0.5" beside a BTC/USD grid and an ETH/BTC grid was 0.5 BTC and 0.5 ETH
    (and would be 0.5 SHIB): one number, no unit."""
    [issue] = issues_of(tmp_path, registry, TWO_QUOTES + '[risk.limits]\nmax_position = "0.5"\n')
    assert issue.path == "risk.limits.max_position"
    for fact in ('"btc-grid" trades BTC/USD (base BTC)', '"eth-btc" trades ETH/BTC (base ETH)',
                 'max_position = { BTC = "...", ETH = "..." }'):
        assert fact in issue.problem, issue.problem


def test_a_plain_max_position_is_placed_in_the_one_base_asset_traded(tmp_path: Path, registry):
    config = load(tmp_path, registry, ONLY_ETH_BTC + '[risk.limits]\nmax_position = "2"\n')
    assert config.components["risk"]["limits"].settings.max_position == {"ETH": "2"}


def test_a_base_asset_the_table_leaves_out_is_refused_naming_strategy_symbol_and_fix(tmp_path: Path, registry):
    [issue] = issues_of(tmp_path, registry, TWO_QUOTES + '[risk.limits]\nmax_position = { BTC = "0.5" }\n')
    assert issue.path == "risk.limits.max_position"
    assert issue.problem.startswith('strategy "eth-btc" trades ETH/BTC, of base asset ETH, which this limit does '
                                    'not cover'), issue.problem
    assert 'add ETH = "..." (or "ETH/BTC" = "...") to it' in issue.problem


def test_a_table_per_base_asset_or_per_symbol_is_accepted(tmp_path: Path, registry):
    table = '[risk.limits]\nmax_position = { BTC = "0.5", "ETH/BTC" = "3" }\n'
    config = load(tmp_path, registry, TWO_QUOTES + table)
    assert config.components["risk"]["limits"].settings.max_position == {"BTC": "0.5", "ETH/BTC": "3"}


@pytest.mark.parametrize("table, expected", [
    ('{ BTC = "0" }', 'risk.limits.max_position.BTC: expected a decimal number > 0 such as "0.5", got "0"'),
    ('{ BTC = "Infinity" }', 'risk.limits.max_position.BTC: expected a decimal number > 0 such as "0.5", got '
                             '"Infinity" (not a finite number)'),
    ("{}", "risk.limits.max_position: an empty table limits nothing; give a value per base asset or symbol, e.g. "
           '{ BTC = "0.5" }, or remove the key'),
])
def test_a_bad_position_value_is_named(table, expected):
    issues: list[ConfigIssue] = []
    parse_settings(LimitsSettings, {"max_position": tomllib.loads(f"x = {table}")["x"]}, "risk.limits", issues)
    assert expected in [str(i) for i in issues], issues


def test_each_base_asset_is_limited_in_its_own_units():
    check = limits(max_position={"BTC": "0.5", "SHIB": "1000000"})
    assert check.check(intent("s", Side.BUY, "0.5", "30000"), View()) is None
    reason = check.check(intent("s", Side.BUY, "0.51", "30000"), View())
    assert reason == ("BTC/USD position could reach 0.51 BTC (held 0, resting 0, this order 0.51); its limit is "
                      "0.5 BTC (max_position)")
    assert check.check(intent("s", Side.BUY, "1000000", "0.00001", symbol="SHIB/USD"), View()) is None
    reason = check.check(intent("s", Side.BUY, "1000001", "0.00001", symbol="SHIB/USD"), View())
    assert reason is not None and "its limit is 1000000 SHIB (max_position)" in reason


def test_a_symbol_entry_wins_over_its_base_assets_and_a_base_left_out_is_vetoed_naming_the_fix():
    check = limits(max_position={"BTC": "0.5", "BTC/USDT": "2"})
    assert check.check(intent("s", Side.BUY, "2", "30000", symbol="BTC/USDT"), View()) is None
    assert check.check(intent("s", Side.BUY, "0.6", "30000"), View()) is not None  # BTC/USD: BTC's 0.5
    reason = check.check(intent("s", Side.BUY, "1", "0.05", symbol="ETH/BTC"), View())
    assert reason == ('max_position sets no limit for ETH/BTC (it has BTC, BTC/USDT): add ETH = "..." or '
                      '"ETH/BTC" = "..." to it')


def test_a_plain_value_the_config_did_not_place_is_of_the_first_base_asset_met_and_no_other():
    check = limits_shown(max_position="0.5")
    assert check.status()["max_position"] == "0.5 (the base asset first traded)"
    assert check.check(intent("s", Side.BUY, "0.5", "30000"), View()) is None  # BTC: its unit from now on
    reason = check.check(intent("s", Side.BUY, "0.1", "0.05", symbol="ETH/BTC"), View())
    assert reason is not None and reason.startswith("max_position sets no limit for ETH/BTC (it has BTC)")
    assert check.status()["max_position BTC"] == "0.5 BTC"


def test_risk_shows_each_position_limit_with_its_unit():
    facts = limits_shown(max_position={"BTC": "0.5", "SOL/USDC": "20"}).status()
    assert facts["max_position BTC"] == "0.5 BTC" and facts["max_position SOL/USDC"] == "20 SOL"
    assert Decimal(facts["max_position BTC"].split()[0]) == Decimal("0.5")
