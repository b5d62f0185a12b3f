"""A 404 names what was not found as the audit names it: a name that is a user's token (or the hash the config holds
of one) is answered as ``***``, never quoted back to whoever sent it; any other unknown name is still quoted, so a
typo is easy to see.

A small bot of its own: otto calls, and vera's token is held in the config only as its hash, so the redactor cannot
know it: only the console's own care keeps it out of the answers.
"""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio

from bot.api.testing import build_bot
from plugins.web import running_server
from plugins.web.auth import token_hash

from .conftest import web_plugins

pytestmark = pytest.mark.asyncio(loop_scope="module")

OTTO = "otto-unknown-names-0123456789abcdef"
VERA = "vera-unknown-names-0123456789abcdef"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("web-unknown-names")
    bot = build_bot('[exchanges.paper]\n[strategies.g1]\ntype = "grid"\nexchange = "paper"\nsymbol = "BTC/USD"\n'
                    'lower = "29000"\nupper = "31000"\nlevels = 5\norder_size = "0.01"\n'
                    '[plugins.web]\nenabled = true\nport = 0\n'
                    f'users = {{ otto = {{ role = "admin", token = "{token_hash(OTTO)}" }}, '
                    f'vera = {{ role = "viewer", token = "{token_hash(VERA)}" }} }}\n',
                    data_dir=data_dir, extra=web_plugins())
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


async def answers(bot, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
    server = running_server(bot.operator)
    async with aiohttp.ClientSession() as http, http.request(
            method, f"http://127.0.0.1:{server.port}{path}", json=body,
            headers={"Authorization": f"Bearer {OTTO}"}) as response:
        return response.status, await response.text()


async def audited(bot) -> list[str]:
    server = running_server(bot.operator)
    await server._flush_audit()
    return [f"{e.command} {e.args} {e.outcome}" for e in bot.operator.audit_log(500) if e.transport == "web"]


@pytest.mark.parametrize("secret", [VERA, token_hash(VERA)], ids=["token", "its hash"])
async def test_a_users_token_as_an_unknown_name_is_not_quoted_back(site, secret):
    """A token pasted where a name goes (a strategy's, a report's, a fleet bot's, a path): the 404 quoted it."""
    calls = [("POST", f"/api/v1/strategies/{quote(secret)}/pause", None),
             ("POST", f"/api/v1/strategies/{quote(secret)}/resume", {}),
             ("GET", f"/api/v1/backtests/{quote(secret)}", None),
             ("POST", f"/api/v1/fleet/{quote(secret)}/strategies/g1/pause", None),
             ("POST", "/api/v1/fleet/kill", {"bot": secret}),
             ("GET", f"/api/v1/{quote(secret)}", None)]
    for method, path, body in calls:
        status, text = await answers(site, method, path, body)
        print(method, path[:40], "->", status, text)
        assert status == 404 and secret not in text and "***" in text, (path, text)
    leaks = [line for line in await audited(site) if secret in line]
    assert not leaks, leaks


async def test_an_unknown_name_that_is_no_secret_is_still_quoted(site):
    status, text = await answers(site, "POST", "/api/v1/strategies/nope/pause")
    assert status == 404 and "no strategy named 'nope'" in text, text
    status, text = await answers(site, "POST", "/api/v1/fleet/kill", {"bot": "nobot"})
    assert status == 404 and "no bot named 'nobot'" in text, text
