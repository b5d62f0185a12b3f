"""Typical mistakes in the shipped configs, checked with the first-party plugins: one clear problem each."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import load_config, read_toml
from bot.plugins import collect, load_plugins
from bot.settings import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = (ROOT / "bot" / "default.toml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def registry():
    return collect(load_plugins(disabled=[], report=lambda info, message: None))


def issues_of(path: Path, registry) -> list[str]:
    try:
        load_config(path, registry)
    except ConfigError as exc:
        return [str(issue) for issue in exc.issues]
    return []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, expected", [
    ('type = "paper-dex"', 'type = "paperdex"', 'exchanges.sol-pool.type: no exchange plugin provides "paperdex"'),
    ('tick_interval_ms = 100\n', 'tick_interval_ms = -100\n', "exchanges.paper.tick_interval_ms: expected an integer"),
])
def test_an_invalid_exchange_is_one_problem_not_a_missing_one(tmp_path, registry, old, new, expected):
    """Strategies naming an exchange whose own table is wrong are not told it is not configured."""
    issues = issues_of(write(tmp_path, DEFAULT.replace(old, new, 1)), registry)
    assert len(issues) == 1 and issues[0].startswith(expected), issues


def test_a_symbol_the_exchange_does_not_trade_is_refused_at_check(tmp_path, registry):
    issues = issues_of(write(tmp_path, DEFAULT.replace('symbol = "BTC/USD"', 'symbol = "ETH/USD"', 1)), registry)
    assert issues == ['strategies.btc-grid.exchange: exchange "paper" has no market "ETH/USD" (it trades BTC/USD); '
                      'add it to [exchanges.paper], or trade one of those',
                      'risk.limits.max_position: strategy "btc-grid" trades ETH/USD, of base asset ETH, which this '
                      'limit does not cover (it has BTC, SOL); add ETH = "..." (or "ETH/USD" = "...") to it'], issues


def test_a_pool_of_another_market_is_refused_at_check(tmp_path, registry):
    text = DEFAULT.replace('symbol = "SOL/USDC"\nanchor', 'symbol = "JUP/USDC"\nanchor', 1)
    issues = issues_of(write(tmp_path, text), registry)
    assert any(i.startswith('strategies.sol-arb.dex: exchange "sol-pool" has no market "SOL/USDC" (it trades '
                            'JUP/USDC)') for i in issues), issues


@pytest.mark.parametrize("text", ["", "\n  \n# only a comment\n"])
def test_an_empty_file_is_refused_with_the_way_to_start(tmp_path, text):
    with pytest.raises(ConfigError) as info:
        read_toml(write(tmp_path, text))
    assert "the file is empty" in str(info.value) and "arbot init" in str(info.value)


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    """Windows editors (Notepad) save UTF-8 with a byte order mark; before, the config was refused as "not valid TOML:
    Invalid statement (at line 1, column 1)", which names nothing an operator can see."""
    path = tmp_path / "arbot.toml"
    path.write_bytes("\ufeff".encode() + b'mode = "paper"\n[bot]\nname = "bom"\n')
    assert read_toml(path) == {"mode": "paper", "bot": {"name": "bom"}}


def test_a_float_money_amount_is_taken_exactly(tmp_path, registry):
    """``order_size = 0.01`` unquoted is the decimal 0.01, never the float nearest it."""
    config = load_config(write(tmp_path, DEFAULT.replace('order_size = "0.01"', "order_size = 0.01", 1)), registry)
    assert config.components["strategy"]["btc-grid"].settings.order_size == Decimal("0.01")


def test_a_misspelt_required_key_is_one_problem(tmp_path, registry):
    """The did-you-mean already names the required key; it is not reported missing as well."""
    issues = issues_of(write(tmp_path, DEFAULT.replace('order_size = "0.01"', 'ordr_size = "0.01"', 1)), registry)
    assert issues == ['strategies.btc-grid.ordr_size: unknown key; did you mean "order_size"? (a required key)'], issues


@pytest.mark.parametrize("key, value", [
    ("rpc_urls", '"https://rpc.example.com/?api-key=K3y0123456789abcdef"'),  # a list written as one string
    ("api_url", '"https://arbot:Pa55word-0123456789@jup.example.com/swap/v1\\n"'),  # a control character
])
def test_a_wrong_value_is_shown_without_the_password_or_key_of_its_url(tmp_path, registry, key, value):
    """A value the config refuses is quoted in the error (on the terminal, a CI log, the journal): a provider's
    key or a password in a URL is shown as ``***``, as a log line shows it."""
    text = DEFAULT + f'\n[exchanges.sol]\ntype = "jupiter"\nkeypair = "env:KP"\n{key} = {value}\n'
    shown = "\n".join(issues_of(write(tmp_path, text), registry))
    assert f"exchanges.sol.{key}" in shown and "***" in shown, shown
    assert "K3y0123456789" not in shown and "Pa55word" not in shown, shown


@pytest.mark.parametrize("check", ["staleness", "breaker"])
def test_a_risk_check_watching_an_unknown_exchange_is_refused_by_key(tmp_path, registry, check):
    """``exchanges = ["papr"]`` watched only a venue that does not exist: every real one went unguarded, silently."""
    issues = issues_of(write(tmp_path, DEFAULT + f'\n[risk.{check}]\nexchanges = ["paper", "papr"]\n'), registry)
    assert issues == [f'risk.{check}.exchanges: no exchange named "papr" is configured; did you mean "paper"?'], issues
    assert not issues_of(write(tmp_path, DEFAULT + f'\n[risk.{check}]\nexchanges = ["paper", "sol-cex"]\n'), registry)


@pytest.mark.parametrize("table, expected", [
    ('[risk.prediction]\nstrategies = ["sol-arb", "sol_arb"]\n', 'risk.prediction.strategies'),
    ('[risk.limits]\nstrategy_max_daily_loss = { sol_arb = "50" }\n', 'risk.limits.strategy_max_daily_loss'),
    ('[risk.limits]\nstrategy_max_position_notional = { sol_arb = "500" }\n',
     'risk.limits.strategy_max_position_notional'),
])
def test_a_risk_limit_for_an_unknown_strategy_is_refused_by_key(tmp_path, registry, table, expected):
    """A misspelt strategy name left that strategy without the limit it was meant to have, with nothing said."""
    text = DEFAULT.replace("[risk.limits]\n", "[risk.limits-default]\ntype = \"limits\"\n", 1) + "\n" + table
    issues = issues_of(write(tmp_path, text), registry)
    assert issues == [f'{expected}: no strategy named "sol_arb" is configured; did you mean "sol-arb"?'], issues
    assert not issues_of(write(tmp_path, text.replace("sol_arb", "sol-arb")), registry)


def test_a_position_limit_for_a_market_no_exchange_trades_is_refused_by_key(tmp_path, registry):
    """``max_position = { "BTC/USDT" = "0.5" }`` beside exchanges trading BTC/USD limited nothing: BTC/USD went on
    under its base asset's limit (or none), with nothing said."""
    text = DEFAULT + ('\n[risk.limits-more]\ntype = "limits"\n'
                      'max_position = { "SOL/USDC" = "100", "BTC/USDT" = "0.5", BTC = "1" }\n')
    issues = issues_of(write(tmp_path, text), registry)
    assert issues == ['risk.limits-more.max_position.BTC/USDT: no configured exchange trades "BTC/USDT" (they trade '
                      'BTC/USD, SOL/USDC); name one of those markets, or a base asset'], issues
    assert not issues_of(write(tmp_path, text.replace("BTC/USDT", "BTC/USD")), registry)


def test_per_symbol_positions_are_refused_pointing_at_max_position(tmp_path, registry):
    """``positions = { "BTC/USD" = "0.5" }`` beside ``max_position``'s own symbol keys set one fact two ways:
    check-config refuses it by key, saying where its entries go."""
    text = DEFAULT.replace("[risk.limits]\n", '[risk.limits]\npositions = { "BTC/USD" = "0.5" }\n', 1)
    issues = issues_of(write(tmp_path, text), registry)
    assert len(issues) == 1 and issues[0].startswith("risk.limits.positions: removed: "), issues
    assert "move each entry into max_position as a symbol key" in issues[0]


def test_a_rebalancing_cap_on_an_asset_no_exchange_trades_is_refused_by_key(tmp_path, registry):
    """``max_per_day = { SLO = "200" }`` (a typo for SOL) capped nothing: SOL moved without a daily cap in auto mode."""
    table = '\n[plugins.rebalance]\nenabled = true\nmode = "auto"\nmax_per_day = { SLO = "200" }\n'
    issues = issues_of(write(tmp_path, DEFAULT + table), registry)
    assert issues == ['plugins.rebalance.max_per_day.SLO: no configured exchange trades the asset "SLO" (they '
                      'trade BTC, SOL, USD, USDC); name one of those assets'], issues
    assert not issues_of(write(tmp_path, DEFAULT + table.replace("SLO", "SOL")), registry)


@pytest.mark.parametrize("table, key", [
    ('[risk.limits-more]\ntype = "limits"\nstrategy_max_daily_loss = { btc-grid = "Infinity" }\n',
     "risk.limits-more.strategy_max_daily_loss.btc-grid"),
    ('[risk.limits-more]\ntype = "limits"\nmax_position = { "BTC/USD" = "inf" }\n',
     "risk.limits-more.max_position.BTC/USD"),
    ('[plugins.rebalance]\nmax_per_day = { SOL = "Infinity" }\n', "plugins.rebalance.max_per_day.SOL"),
])
def test_an_infinite_limit_in_a_table_is_refused_as_the_plain_keys_refuse_it(tmp_path, registry, table, key):
    """``max_daily_loss = "Infinity"`` is refused (not a finite number); the same word in a per-strategy, per-market
    or per-asset table was taken, a limit that limits nothing."""
    issues = issues_of(write(tmp_path, DEFAULT + "\n" + table), registry)
    assert len(issues) == 1 and issues[0].startswith(f"{key}: expected a decimal number > 0"), issues
    assert "not a finite number" in issues[0], issues


def test_a_strategy_named_flatten_is_refused(tmp_path, registry):
    """The host stores its closing orders under the strategy name "flatten": a strategy of that name is paused by the
    flatten's own kill switch, so the closing orders were refused with it and no position was closed."""
    text = DEFAULT.replace("[strategies.btc-grid]", "[strategies.flatten]", 1)
    issues = issues_of(write(tmp_path, text), registry)
    assert len(issues) == 1 and issues[0].startswith('strategies.flatten: "flatten" is the name of a part of the '
                                                     "host; choose another name"), issues


def test_a_limits_table_that_sets_no_limit_is_refused(tmp_path, registry):
    """``[risk.limits]`` with only ``action = "flatten"`` (its limits commented out, or misplaced under another table)
    looked like protection and limited nothing."""
    issues = issues_of(write(tmp_path, DEFAULT + '\n[risk.more]\ntype = "limits"\naction = "flatten"\n'), registry)
    assert len(issues) == 1 and issues[0].startswith("risk.more: no limit is set, so this check limits nothing; set "
                                                     "at least one of max_order_notional, max_position"), issues


def test_a_venue_listing_its_markets_in_its_settings_needs_no_markets_of_for_the_check(tmp_path):
    """A venue whose settings list what it trades (``symbols``) is judged by them: a strategy naming another symbol
    there (``symbols_at``) is refused at check, as on a venue with its own ``markets_of``."""
    import dataclasses

    from bot import hookimpl
    from bot.api import Strategy, option
    from tests.fakes.venue import ScriptedVenue

    @dataclasses.dataclass(frozen=True)
    class ListedSettings:
        symbols: list[str] = option(["BTC/USD"], help="the markets it trades")

    class ListedVenue(ScriptedVenue):
        Settings = ListedSettings

    @dataclasses.dataclass(frozen=True)
    class OneSettings:
        exchange: str = option(help="the venue")
        symbol: str = option(help="the market")

    class One(Strategy):
        Settings = OneSettings

        @classmethod
        def symbols_at(cls, settings):
            return {"exchange": settings.symbol}

    class listed:
        @staticmethod
        @hookimpl
        def register_exchanges(register):
            register("listed", ListedVenue)

        @staticmethod
        @hookimpl
        def register_strategies(register):
            register("one", One)

    registry = collect(load_plugins(entry_points=[], extra=[("listed", listed)], report=lambda info, message: None))
    text = '[exchanges.v]\ntype = "listed"\n[strategies.s]\ntype = "one"\nexchange = "v"\nsymbol = "ETH/USD"\n'
    assert issues_of(write(tmp_path, text), registry) == [
        'strategies.s.exchange: exchange "v" has no market "ETH/USD" (it trades BTC/USD); add it to [exchanges.v], '
        "or trade one of those"]
