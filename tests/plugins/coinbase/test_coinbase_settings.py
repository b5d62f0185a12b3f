"""The coinbase table: documented (commented out) in config.example.toml, validated with key paths."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from bot.config import build_config, parse_toml
from bot.plugins import collect, load_plugins
from bot.settings import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def coinbase_table_from_example() -> str:
    text = (ROOT / "config.example.toml").read_text()
    block = re.search(r"^# \[exchanges\.coinbase\]\n((?:# .*\n)+)", text, re.M)
    assert block, "config.example.toml has no commented [exchanges.coinbase] table"
    return "[exchanges.coinbase]\n" + "".join(line[2:] + "\n" for line in block.group(1).splitlines())


GRID_ON_COINBASE = ('[strategies.g]\ntype = "grid"\nexchange = "coinbase"\nsymbol = "BTC/USD"\nlower = "1"\n'
                  'upper = "2"\nlevels = 3\norder_size = "1"\n')


def build(table: str, mode: str = "live"):
    return build_config(parse_toml(f'mode = "{mode}"\n' + table, "t.toml"), collect(load_plugins()), "t.toml")


def test_example_documents_every_key_and_is_valid_in_live_mode():
    table = coinbase_table_from_example()
    settings = build(table).of_kind("exchange")["coinbase"].settings
    documented = set(re.findall(r"^(\w+) = ", table, re.M))
    assert documented == {f.name for f in dataclasses.fields(settings)}


def test_coinbase_takes_no_orders_outside_live_mode():
    build("[exchanges.coinbase]\n", mode="paper")  # a market-data source (a paper exchange may mirror it)
    with pytest.raises(ConfigError) as info:
        build("[exchanges.coinbase]\n" + GRID_ON_COINBASE, mode="paper")
    assert 'strategies.g.exchange: exchange "coinbase" (type "coinbase") places real orders' in str(info.value)


def test_half_credentials_and_bad_symbols_are_named_by_key():
    with pytest.raises(ConfigError) as info:
        build('[exchanges.coinbase]\nsymbols = ["BTCUSD"]\napi_key_name = "env:K"\n')
    text = str(info.value)
    assert "exchanges.coinbase.api_private_key: give both api_key_name and api_private_key" in text
    assert "exchanges.coinbase.symbols:" in text
