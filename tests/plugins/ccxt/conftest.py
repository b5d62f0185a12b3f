"""Fixtures for the ccxt plugin: the fake Gate.io venue on 127.0.0.1 and a bot whose ccxt gate is pointed at it."""

from __future__ import annotations

import importlib.metadata

import pytest

import plugins.ccxt
from bot.app import Bot
from bot.config import build_config, parse_toml, resolve_secrets
from bot.plugins import PluginSet, collect, load_plugins
from tests.fakes.gate import API_KEY, API_SECRET, FakeGate, GatePair, populate

SYMBOL = "BTC/USDT"


def ccxt_plugins() -> PluginSet:
    """Every installed plugin, plus this one when the installed distribution does not list it yet."""
    registered = importlib.metadata.entry_points(group="arbot", name="ccxt")
    return load_plugins(extra=[] if registered else [("ccxt", plugins.ccxt)])


@pytest.fixture
async def fake_gate():
    pair = GatePair("BTC_USDT", price_precision=2, amount_precision=4)
    populate(pair)
    fake = await FakeGate([pair]).start()
    yield fake
    await fake.close()


def gate_table(fake: FakeGate, name: str = "gate", keys: bool = True, eu: bool = False, **settings) -> str:
    """An ``[exchanges.NAME]`` table for a ccxt gate pointed at ``fake`` (``eu``: at its Gate EU endpoint)."""
    values = {"type": '"ccxt"', "id": '"gate"', "symbols": f'["{SYMBOL}"]', "silence_timeout_s": "5.0",
              "reconnect_initial_s": "0.05", "reconnect_max_s": "0.5", "start_timeout_s": "10",
              "request_timeout_s": "5", "fill_poll_s": "0.2",
              "urls": "{" + ", ".join(f'"{k}" = "{v}"' for k, v in fake.urls(eu).items()) + "}"}
    if keys:
        values.update(api_key='"env:FAKE_GATE_KEY"', api_secret='"env:FAKE_GATE_SECRET"')
    values.update({k: str(v) if not isinstance(v, str) else f'"{v}"' for k, v in settings.items()})
    return f"[exchanges.{name}]\n" + "\n".join(f"{k} = {v}" for k, v in values.items()) + "\n"


@pytest.fixture
async def make_bot(tmp_path, monkeypatch, fake_gate):
    """``bot = await make_bot(tables, mode="live")``: a started bot from config tables; stopped at teardown
    (before the fake venue closes)."""
    monkeypatch.setenv("FAKE_GATE_KEY", API_KEY)
    monkeypatch.setenv("FAKE_GATE_SECRET", API_SECRET)
    started = []

    async def factory(tables: str, mode: str = "live") -> Bot:
        text = f'mode = "{mode}"\n[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n{tables}'
        plugin_set = ccxt_plugins()
        registry = collect(plugin_set)
        config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
        resolve_secrets(config)
        bot = Bot(config, plugin_set, registry)
        await bot.start()
        started.append(bot)
        return bot

    yield factory
    for bot in started:
        await bot.stop()


@pytest.fixture
async def gate_bot(make_bot, fake_gate):
    """``bot, gate = await gate_bot(**settings)``: a live bot with only the ccxt gate exchange."""

    async def factory(**settings):
        bot = await make_bot(gate_table(fake_gate, **settings))
        return bot, bot.exchanges["gate"]

    return factory
