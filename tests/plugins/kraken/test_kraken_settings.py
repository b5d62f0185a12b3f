"""The kraken table: documented (commented out) in config.example.toml, validated with key paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import build_config, parse_toml
from bot.plugins import collect, load_plugins
from bot.settings import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def kraken_table_from_example() -> str:
    text = (ROOT / "config.example.toml").read_text()
    block = re.search(r"^# \[exchanges\.kraken\]\n((?:# .*\n)+)", text, re.M)
    assert block, "config.example.toml has no commented [exchanges.kraken] table"
    return "[exchanges.kraken]\n" + "".join(line[2:] + "\n" for line in block.group(1).splitlines())


GRID_ON_KRAKEN = ('[strategies.g]\ntype = "grid"\nexchange = "kraken"\nsymbol = "BTC/USD"\nlower = "1"\n'
                  'upper = "2"\nlevels = 3\norder_size = "1"\n')


def build(table: str, mode: str = "live"):
    return build_config(parse_toml(f'mode = "{mode}"\n' + table, "t.toml"), collect(load_plugins()), "t.toml")


def test_example_documents_every_key_and_is_valid_in_live_mode():
    table = kraken_table_from_example()
    config = build(table)
    settings = config.of_kind("exchange")["kraken"].settings
    import dataclasses

    documented = set(re.findall(r"^(\w+) = ", table, re.M))
    assert documented == {f.name for f in dataclasses.fields(settings)}


def test_kraken_takes_no_orders_outside_live_mode():
    build("[exchanges.kraken]\n", mode="paper")  # a market-data source (a paper exchange may mirror it)
    with pytest.raises(ConfigError) as info:
        build("[exchanges.kraken]\n" + GRID_ON_KRAKEN, mode="paper")
    assert 'strategies.g.exchange: exchange "kraken" (type "kraken") places real orders' in str(info.value)


def test_bad_depth_and_half_credentials_are_named_by_key():
    with pytest.raises(ConfigError) as info:
        build('[exchanges.kraken]\ndepth = 20\napi_key = "env:K"\n')
    text = str(info.value)
    assert "exchanges.kraken.depth: expected one of 10, 25, 100, 500, 1000, got 20" in text
    assert "exchanges.kraken.api_secret: give both api_key and api_secret" in text
