"""The commented-out [exchanges.jupiter] table in config.example.toml is valid and shows every key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot.settings import parse_settings
from plugins.jupiter.exchange import JupiterExchange
from plugins.jupiter.settings import JupiterSettings
from tests.test_config import commented_tables


def test_example_table_is_complete_and_valid():
    text = (Path(__file__).parents[3] / "config.example.toml").read_text()
    table = commented_tables(text)["exchanges.jupiter"]
    issues: list = []
    settings = parse_settings(JupiterSettings, table, "exchanges.jupiter", issues)
    assert settings is not None, issues
    assert settings.validate() == []
    assert [f.name for f in dataclasses.fields(JupiterSettings) if f.name not in table] == []


def test_live_only_and_registered():
    from bot.plugins import collect, load_plugins

    assert JupiterExchange.simulated is False
    registry = collect(load_plugins())
    assert registry.components["exchange"]["jupiter"].obj is JupiterExchange
    assert "solana" not in {reg.plugin for regs in registry.components.values() for reg in regs.values()}
