"""Fixtures for the kraken plugin: the fake venue on 127.0.0.1 and a live-mode bot pointed at it."""

from __future__ import annotations

import pytest

from bot.app import Bot
from bot.config import build_config, parse_toml, resolve_secrets
from bot.plugins import collect, load_plugins
from tests.fakes.kraken import API_KEY, API_SECRET, FakeKrakenAuthWS, FakeKrakenREST, FakeKrakenWS, FakePair, populate


@pytest.fixture
async def fake_ws():
    pair = FakePair("BTC/USD", price_decimals=1, qty_decimals=8)
    populate(pair)
    fake = await FakeKrakenWS([pair]).start()
    yield fake
    await fake.close()


@pytest.fixture
async def fake_rest():
    fake = await FakeKrakenREST().start()
    yield fake
    await fake.close()


@pytest.fixture
async def fake_auth_ws(fake_rest):
    fake = await FakeKrakenAuthWS(fake_rest).start()
    yield fake
    await fake.close()


@pytest.fixture
async def kraken_bot(tmp_path, monkeypatch):
    """``bot, exchange = await kraken_bot(fake_ws, fake_rest=None, auth_ws=None, **settings)``: stopped at teardown.

    Without ``auth_ws`` the private order stream is off (fills by polling only)."""
    started = []

    async def factory(ws, rest=None, auth_ws=None, **settings):
        monkeypatch.setenv("FAKE_KRAKEN_KEY", API_KEY)
        monkeypatch.setenv("FAKE_KRAKEN_SECRET", API_SECRET)
        values = {"symbols": '["BTC/USD"]', "depth": "25", "ws_url": f'"{ws.url}"', "silence_timeout_s": "0.5",
                  "reconnect_initial_s": "0.05", "reconnect_max_s": "0.5", "start_timeout_s": "5"}
        if rest is not None:
            values.update(rest_url=f'"{rest.url}"', api_key='"env:FAKE_KRAKEN_KEY"',
                          api_secret='"env:FAKE_KRAKEN_SECRET"', request_timeout_s="2")
            values.update(private_stream="true" if auth_ws else "false")
            if auth_ws:  # (without one the setting keeps its default, unused: the stream is off)
                values.update(private_ws_url=f'"{auth_ws.url}"')
        def toml(v) -> str:  # a str starting with { or [ is a TOML table or array as written
            if isinstance(v, bool):
                return str(v).lower()
            if isinstance(v, str):
                return v if v[:1] in "{[" else f'"{v}"'
            return str(v)

        values.update({k: toml(v) for k, v in settings.items()})
        body = "\n".join(f"{k} = {v}" for k, v in values.items())
        # mode must come before the [bot] table, so this builds the bot the way make_bot does
        text = f'mode = "live"\n[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n[exchanges.kraken]\n{body}\n'
        plugins = load_plugins()
        registry = collect(plugins)
        config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
        resolve_secrets(config)
        bot = Bot(config, plugins, registry)
        await bot.start()
        started.append(bot)
        return bot, bot.exchanges["kraken"]

    yield factory
    for bot in started:
        await bot.stop()
