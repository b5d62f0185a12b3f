"""The orca table: documented (commented out) in config.example.toml, validated with key paths."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from bot.config import build_config, parse_toml
from bot.plugins import collect, load_plugins
from bot.settings import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def orca_table_from_example() -> str:
    text = (ROOT / "config.example.toml").read_text()
    block = re.search(r"^# \[exchanges\.orca\]\n((?:# .*\n)+)", text, re.MULTILINE)
    assert block, "config.example.toml has no commented [exchanges.orca] table"
    return "[exchanges.orca]\n" + "".join(line[2:] + "\n" for line in block.group(1).splitlines())


GRID_ON_ORCA = ('[strategies.g]\ntype = "grid"\nexchange = "orca"\nsymbol = "SOL/USDC"\nlower = "1"\n'
                'upper = "2"\nlevels = 3\norder_size = "1"\n')


def build(table: str, mode: str = "live"):
    return build_config(parse_toml(f'mode = "{mode}"\n' + table, "t.toml"), collect(load_plugins()), "t.toml")


def test_example_documents_every_key_and_is_valid():
    table = orca_table_from_example()
    config = build(table)
    settings = config.of_kind("exchange")["orca"].settings
    documented = set(re.findall(r"^(\w+) = ", table, re.MULTILINE))
    assert documented == {f.name for f in dataclasses.fields(settings)}
    assert settings.pools == {"SOL/USDC": "Czfq3xZZDmsdGdUyrNLtRhGc47cXcZtLG4crryfu44zE"}
    assert settings.token("USDC") == ("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", 6)


def test_orca_is_a_data_source_in_paper_mode_but_takes_no_orders_there():
    build("[exchanges.orca]\n", mode="paper")
    build("[exchanges.orca]\n", mode="observe")
    with pytest.raises(ConfigError) as info:
        build("[exchanges.orca]\n" + GRID_ON_ORCA, mode="paper")
    assert 'strategies.g.exchange: exchange "orca" (type "orca") places real orders' in str(info.value)


def test_bad_pools_and_tokens_are_named_by_key():
    with pytest.raises(ConfigError) as info:
        build('[exchanges.orca]\ncommitment = "final"\n'
              'pools = { "SOL/USDT" = "not-an-address", "SOLUSDC" = "Czfq3xZZDmsdGdUyrNLtRhGc47cXcZtLG4crryfu44zE" }\n'
              'tokens = { SOL = "So11111111111111111111111111111111111111112:99" }\n')
    text = str(info.value)
    assert 'exchanges.orca.commitment: expected "processed", "confirmed" or "finalized"' in text
    assert "exchanges.orca.pools: SOL/USDT: 'not-an-address' is not a base58 account address" in text
    assert "exchanges.orca.pools: " in text and "SOLUSDC" in text
    assert 'exchanges.orca.tokens: SOL: expected "MINT" or "MINT:DECIMALS" (0-18)' in text
    assert 'exchanges.orca.tokens: SOL/USDT: no mint for USDT; add USDT = "MINT:DECIMALS"' in text


def test_decimals_may_be_left_to_the_chain():
    config = build('[exchanges.orca]\ntokens = { SOL = "So11111111111111111111111111111111111111112", '
                   'USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v" }\n')
    assert config.of_kind("exchange")["orca"].settings.token("SOL") == (
        "So11111111111111111111111111111111111111112", None)
