"""Fixtures for the coinbase plugin: the fake venue on 127.0.0.1 and a live-mode bot pointed at it."""

from __future__ import annotations

import pytest

from bot.app import Bot
from bot.config import build_config, parse_toml, resolve_secrets
from bot.plugins import collect, load_plugins
from tests.fakes.coinbase import KEY_NAME, PRIVATE_KEY_PEM, FakeCoinbaseREST, FakeCoinbaseWS, FakeProduct, populate


@pytest.fixture
def product():
    p = FakeProduct("BTC-USD", price_decimals=2, qty_decimals=8)
    populate(p)
    return p


@pytest.fixture
async def fake_ws(product):
    fake = await FakeCoinbaseWS([product]).start()
    yield fake
    await fake.close()


@pytest.fixture
async def fake_rest(product):
    fake = await FakeCoinbaseREST([product]).start()
    yield fake
    await fake.close()


@pytest.fixture
async def fake_user_ws(product, fake_rest):
    fake = await FakeCoinbaseWS([product], rest=fake_rest).start()
    yield fake
    await fake.close()


@pytest.fixture
async def coinbase_bot(tmp_path, monkeypatch):
    """``bot, exchange = await coinbase_bot(fake_ws, fake_rest, user_ws=None, **settings)``: stopped at teardown.

    Without ``user_ws`` the private order stream is off (fills by polling only)."""
    started = []

    async def factory(ws, rest, key_pem=PRIVATE_KEY_PEM, user_ws=None, bot_settings="", **settings):
        monkeypatch.setenv("FAKE_CB_KEY_NAME", KEY_NAME)
        monkeypatch.setenv("FAKE_CB_PRIVATE_KEY", key_pem)
        values = {"symbols": '["BTC/USD"]', "ws_url": f'"{ws.url}"', "rest_url": f'"{rest.url}"',
                  "api_key_name": '"env:FAKE_CB_KEY_NAME"', "api_private_key": '"env:FAKE_CB_PRIVATE_KEY"',
                  "silence_timeout_s": "0.5", "reconnect_initial_s": "0.05", "reconnect_max_s": "0.5",
                  "start_timeout_s": "5", "request_timeout_s": "2", "rest_per_s": "1000.0", "rest_burst": "100",
                  "private_stream": "true" if user_ws else "false"}
        if user_ws:  # (without one the setting keeps its default, unused: the stream is off)
            values["user_ws_url"] = f'"{user_ws.url}"'
        values.update({k: str(v) if not isinstance(v, str) else f'"{v}"' for k, v in settings.items()})
        body = "\n".join(f"{k} = {v}" for k, v in values.items())
        text = (f'mode = "live"\n[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n{bot_settings}\n'
                f'[exchanges.coinbase]\n{body}\n')
        plugins = load_plugins()
        registry = collect(plugins)
        config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
        resolve_secrets(config)
        bot = Bot(config, plugins, registry)
        await bot.start()
        started.append(bot)
        return bot, bot.exchanges["coinbase"]

    yield factory
    for bot in started:
        await bot.stop()
