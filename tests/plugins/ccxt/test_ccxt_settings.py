"""The ccxt table: documented in config.example.toml, validated with key paths, refusals at load."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import build_config, parse_toml
from bot.plugins import collect
from bot.settings import ConfigError
from plugins.ccxt.features import POPULAR, refusals, table

from .conftest import ccxt_plugins

ROOT = Path(__file__).resolve().parents[3]


def example_table() -> str:
    text = (ROOT / "config.example.toml").read_text()
    block = re.search(r"^# \[exchanges\.gate\]\n((?:# .*\n)+)", text, re.M)
    assert block, "config.example.toml has no commented [exchanges.gate] table"
    return "[exchanges.gate]\n" + "".join(line[2:] + "\n" for line in block.group(1).splitlines())


def build(table: str, mode: str = "live"):
    return build_config(parse_toml(f'mode = "{mode}"\n' + table, "t.toml"), collect(ccxt_plugins()), "t.toml")


def test_example_documents_every_key_and_is_valid_in_live_mode():
    table = example_table()
    config = build(table)
    settings = config.of_kind("exchange")["gate"].settings
    documented = set(re.findall(r"^(\w+) = ", table, re.M)) - {"type"}
    assert documented == {f.name for f in dataclasses.fields(settings)}
    assert settings.id == "gate" and settings.symbols == ["BTC/USDT"]


def test_an_unknown_id_is_a_config_error_with_suggestions():
    with pytest.raises(ConfigError) as info:
        build('[exchanges.x]\ntype = "ccxt"\nid = "gateio2"\n')
    assert "exchanges.x.id: ccxt has no WebSocket exchange 'gateio2'; did you mean" in str(info.value)


def test_a_venue_without_a_required_feature_is_refused_at_load():
    with pytest.raises(ConfigError) as info:  # coinbase: ccxt passes no client id we know the rules of
        build('[exchanges.cb]\ntype = "ccxt"\nid = "coinbase"\nsymbols = ["BTC/USD"]\n')
    assert "exchanges.cb.require: coinbase through ccxt lacks client_ids (client ids found again" in str(info.value)
    with pytest.raises(ConfigError) as info:  # gemini: ids are sent, but ccxt cannot find an order by one
        build('[exchanges.gm]\ntype = "ccxt"\nid = "gemini"\nsymbols = ["BTC/USD"]\n')
    assert "exchanges.gm.require: gemini through ccxt sends our client ids but cannot find" in str(info.value)
    build('[exchanges.cb]\ntype = "ccxt"\nid = "coinbase"\nsymbols = ["BTC/USD"]\nrequire = ["order_book"]\n')
    with pytest.raises(ConfigError) as info:  # mexc: ccxt verifies neither checksums nor update ids there
        build('[exchanges.m]\ntype = "ccxt"\nid = "mexc"\nrequire = ["verified_book", "ioc", "lasers"]\n')
    text = str(info.value)
    assert "exchanges.m.require: mexc through ccxt lacks verified_book" in text
    assert "exchanges.m.require: unknown lasers" in text
    with pytest.raises(ConfigError) as info:
        build('[exchanges.b]\ntype = "ccxt"\nid = "bitfinex"\nrequire = []\n')
    assert "exchanges.b.id: bitfinex gives precisions as significant digits" in str(info.value)


def test_half_credentials_are_named_by_key():
    with pytest.raises(ConfigError) as info:
        build('[exchanges.gate]\ntype = "ccxt"\nid = "gate"\napi_key = "env:K"\n')
    assert "exchanges.gate.api_secret: give both api_key and api_secret" in str(info.value)


def test_ccxt_not_installed_is_a_clear_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ccxt.pro", None)  # what an import of a missing package does
    assert refusals("gate", ["order_book"]) == [("id", "ccxt is not installed: pip install 'arbot[ccxt]'")]


def test_the_feature_table_in_the_docs_is_the_installed_ccxts():
    docs = (ROOT / "docs" / "venues.md").read_text()
    assert table(POPULAR) in docs, "docs/venues.md is stale: regenerate with python -m plugins.ccxt.features"


def test_registering_the_plugin_imports_no_ccxt():
    code = ("import sys, argparse\nimport plugins.ccxt\nfrom bot.plugins import collect, load_plugins\n"
            "from bot.cli import build_parser\n"
            "plugins_ = load_plugins(extra=[('ccxt', plugins.ccxt)])\ncollect(plugins_)\n"
            "build_parser(plugins_)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'ccxt' or m.startswith('plugins.ccxt.')))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_arbot_ccxt_features_prints_the_table(capsys):
    import argparse

    import plugins.ccxt

    parsers = {}

    def register(name, run, help=""):
        parsers[name] = (argparse.ArgumentParser(prog=name), run)
        return parsers[name][0]

    plugins.ccxt.register_cli(register)
    parser, run = parsers["ccxt-features"]
    assert run(parser.parse_args(["gate", "mexc"])) == 0
    out = capsys.readouterr().out
    assert "| gate | yes | update ids, by arbot | yes | yes |" in out and "| mexc | yes | unverified |" in out


def test_a_strategy_needing_what_the_venue_lacks_is_refused_at_load_with_its_key():
    # the venue itself loads (require = order book only), but a grid's orders need client ids found again
    venue = '[exchanges.cb]\ntype = "ccxt"\nid = "coinbase"\nsymbols = ["BTC/USD"]\nrequire = ["order_book"]\n'
    grid = ('[strategies.g]\ntype = "grid"\nexchange = "cb"\nsymbol = "BTC/USD"\nlower = 1\nupper = 2\nlevels = 3\n'
            'order_size = "0.1"\n')
    with pytest.raises(ConfigError) as info:
        build(venue + grid)
    assert ('strategies.g.exchange: exchange "cb" cannot do what this strategy needs there: our client order ids'
            in str(info.value))
    gate = '[exchanges.cb]\ntype = "ccxt"\nid = "gate"\nsymbols = ["BTC/USD"]\n'
    build(gate + grid)  # gate has them all


def test_a_venue_that_needs_a_passphrase_is_refused_without_one_naming_the_key():
    """OKX, KuCoin and Bitget sign every private request with the API passphrase too (ccxt's requiredCredentials):
    keys without it load, then every order is refused by ccxt at run time."""
    keys = 'api_key = "env:K"\napi_secret = "env:S"\n'
    with pytest.raises(ConfigError) as info:
        build(f'[exchanges.ok]\ntype = "ccxt"\nid = "okx"\n{keys}')
    assert 'exchanges.ok.password: okx signs requests with an API passphrase too: give password = "env:NAME"' in str(
        info.value)
    build(f'[exchanges.ok]\ntype = "ccxt"\nid = "okx"\n{keys}password = "env:P"\n')
    build('[exchanges.ok]\ntype = "ccxt"\nid = "okx"\n')  # market data only: no keys at all
    build(f'[exchanges.gate]\ntype = "ccxt"\nid = "gate"\n{keys}')  # no passphrase at Gate
