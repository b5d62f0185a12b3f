"""A running demo bot with the web console on 127.0.0.1, and HTTP clients for each role.

The bot is the embedded default demo (a grid on a paper exchange, CEX/DEX arbitrage on simulated
venues) with whales made frequent so the arbitrage trades within seconds, and ``[plugins.web]``
with one user per role: tokens given as ``env:``, ``file:`` and ``sha256:`` references.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest_asyncio

import bot
from bot.api.testing import BotUnderTest, build_bot, wait_for
from plugins.web.auth import token_hash

TOKENS = {
    "vera": ("viewer", "vera-token-0123456789abcdef"),
    "otto": ("operator", "otto-token-0123456789abcdef"),
    "ada": ("admin", "ada-token-0123456789abcdef"),
    "alan": ("admin", "alan-token-0123456789abcdef"),
}


def web_plugins() -> list[tuple[str, object]]:
    """The web plugin as an extra plugin when this checkout's entry point is not installed yet."""
    if importlib.metadata.entry_points(group="arbot", name="web"):
        return []
    import plugins.web

    return [("web", plugins.web)]


def demo_toml(web: str) -> str:
    """The embedded demo, whales about every 0.5 s, and the given ``[plugins.web]`` table."""
    text = (Path(bot.__file__).parent / "default.toml").read_text()
    text = text.replace('dislocation_probability = "0.03"', 'dislocation_probability = "0.4"')
    text = text.replace('mode = "paper"\n', "")  # the default mode; build_bot's [bot] table comes first
    return text + "\n" + web


def users_toml(secret_dir: Path) -> str:
    """vera by env:, otto by file:, ada by env:, alan by sha256: (only the hash in the config)."""
    token_file = secret_dir / "otto.token"
    token_file.write_text(TOKENS["otto"][1] + "\n")
    token_file.chmod(0o600)
    return ("users = { "
            'vera = { role = "viewer", token = "env:ARBOT_WEB_TEST_VERA" }, '
            f'otto = {{ role = "operator", token = "file:{token_file}" }}, '
            'ada = { role = "admin", token = "env:ARBOT_WEB_TEST_ADA" }, '
            f'alan = {{ role = "admin", token = "{token_hash(TOKENS["alan"][1])}" }} }}')


@dataclass
class Console:
    bot: BotUnderTest
    url: str
    http: aiohttp.ClientSession

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[user][1]}"}

    async def get(self, path: str, user: str | None = None, **kwargs) -> aiohttp.ClientResponse:
        headers = {**(self.auth(user) if user else {}), **kwargs.pop("headers", {})}
        return await self.http.get(self.url + path, headers=headers, **kwargs)

    async def post(self, path: str, user: str | None = None, **kwargs) -> aiohttp.ClientResponse:
        headers = {**(self.auth(user) if user else {}), **kwargs.pop("headers", {})}
        return await self.http.post(self.url + path, headers=headers, **kwargs)

    async def json(self, path: str, user: str, status: int = 200, **kwargs):
        async with await self.get(path, user, **kwargs) as response:
            body = await response.json()
            assert response.status == status, body
            return body


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(tmp_path_factory) -> AsyncIterator[Console]:
    data_dir = tmp_path_factory.mktemp("web")
    saved = {name: os.environ.get(f"ARBOT_WEB_TEST_{name.upper()}") for name in ("vera", "ada")}
    os.environ.update({f"ARBOT_WEB_TEST_{name.upper()}": TOKENS[name][1] for name in ("vera", "ada")})
    web = ("[plugins.web]\nenabled = true\nport = 0\nconfirm_ttl_s = 1\nrequests_per_s = 1000\n"
           f"request_burst = 1000\n{users_toml(data_dir)}\n")
    under_test = build_bot(demo_toml(web), data_dir=data_dir, extra=web_plugins())
    under_test.resolve_secrets()
    await under_test.start()
    try:
        from plugins.web import running_server

        server = running_server(under_test.operator)
        assert server is not None, f"the web service did not start: {under_test.plugin_errors('web')}"
        async with aiohttp.ClientSession() as http:
            yield Console(under_test, f"http://127.0.0.1:{server.port}", http)
    finally:
        await under_test.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(f"ARBOT_WEB_TEST_{name.upper()}", None)
            else:
                os.environ[f"ARBOT_WEB_TEST_{name.upper()}"] = value


async def wait_for_fills(console: Console, strategy: str, count: int = 2) -> None:
    """Until the demo's ``strategy`` has ``count`` fills stored (the arbitrage trades within seconds)."""
    await wait_for(lambda: len(console.bot.store.fills(strategy=strategy)) >= count, timeout_s=120,
                   what=f"{count} fills of {strategy}")
