"""The console's last texts and leaks: a user's token in a free-text filter is never audited, a database down is one
WARNING a minute not one per request, and a count agrees with its noun ("1 strategy").

A small bot of its own with one strategy; ada's token the config holds only as its hash (unknown to the log
redactor), vera's is read from the environment.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from bot.api import AuditEntry, Secret
from bot.api.testing import build_bot, wait_for
from bot.store import ReadRefused
from plugins.web import running_server
from plugins.web.auth import token_hash

from .conftest import web_plugins

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADA = "ada-texts-0123456789abcdef"
VERA = "vera-texts-0123456789abcdef"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("web-texts")
    os.environ["ARBOT_WEB_TEXTS_VERA"] = VERA
    bot = build_bot('[exchanges.paper]\n[strategies.g1]\ntype = "grid"\nexchange = "paper"\nsymbol = "BTC/USD"\n'
                    'lower = "29000"\nupper = "31000"\nlevels = 5\norder_size = "0.01"\n'
                    '[plugins.web]\nenabled = true\nport = 0\nrequests_per_s = 1000\nrequest_burst = 1000\n'
                    'read_cache_s = 0\naudit_reads = true\n'
                    f'users = {{ ada = {{ role = "admin", token = "{token_hash(ADA)}" }}, '
                    'vera = { role = "viewer", token = "env:ARBOT_WEB_TEXTS_VERA" } }\n',
                    data_dir=data_dir, extra=web_plugins())
    bot.resolve_secrets()
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()
        os.environ.pop("ARBOT_WEB_TEXTS_VERA", None)


def url(bot, path: str) -> str:
    return f"http://127.0.0.1:{running_server(bot.operator).port}{path}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def written(bot) -> None:
    server = running_server(bot.operator)
    server._audit_wakeup.set()
    await wait_for(lambda: not server._audit and not server._audit_writing, timeout_s=10, what="the audit written")


def web_audit(bot, since_ns: int) -> list[AuditEntry]:
    return [e for e in reversed(bot.operator.audit_log(5000)) if e.transport == "web" and e.ts_ns >= since_ns]


# --- 1. a known token in a free-text filter ----------------------------------------------------------------------

async def test_a_users_token_in_a_free_text_filter_is_audited_as_stars(site, monkeypatch):
    """``?strategy=<a user's token>`` (its hash in the config: unknown to the redactor), ``?exchange=<the stored
    sha256: hash>``, a token read from the environment percent-encoded, and another known secret percent-encoded:
    none of them reaches the audit line; an ordinary filter is quoted as it came."""
    key = "sk-live-web-texts-0123456789abcdef"
    monkeypatch.setenv("ARBOT_WEB_TEXTS_KEY", key)
    Secret("env:ARBOT_WEB_TEXTS_KEY").resolve()  # known to the redactor, as every env:/file: setting is
    encoded_vera = "".join(f"%{ord(c):02X}" for c in VERA)
    encoded_key = "".join(f"%{ord(c):02X}" for c in key)
    queries = {
        f"strategy={ADA}&limit=5": "strategy=***&limit=5",
        f"exchange={quote(token_hash(ADA))}": "exchange=***",
        f"strategy={encoded_vera}": "strategy=***",
        f"exchange={encoded_key}": "exchange=***",
        "strategy=g1&exchange=paper": "strategy=g1&exchange=paper",
    }
    since = site.clock.time_ns()
    async with aiohttp.ClientSession() as http:
        for query in queries:
            sent = URL(url(site, "/api/v1/orders?" + query), encoded=True)  # as written: %76 stays %76
            async with http.get(sent, headers=auth(VERA)) as response:
                assert response.status == 200, await response.text()
    await written(site)
    args = [e.args for e in web_audit(site, since) if e.command == "GET /api/v1/orders"]
    assert args == list(queries.values()), args
    for secret in (ADA, token_hash(ADA), VERA, key, encoded_vera[:12], encoded_key[:12]):
        assert not any(secret in a for a in args), (secret, args)


# --- 2. a database down: one WARNING, then a count a minute ------------------------------------------------------

async def test_503s_are_logged_the_first_then_a_count_a_minute(site, monkeypatch, caplog):
    """50 requests while the database does not answer: one WARNING line with the first, then (once the minute is
    over) one with how many more, not 50."""
    from plugins.web import server as web_server

    async def refused(*_args, **_kwargs):
        raise ReadRefused("the database is not answering: the store's 3 read threads each hold a read it has not "
                          "answered (the oldest for 7 s); nothing was read, try again later")

    monkeypatch.setattr(site.store, "read_off_loop", refused)
    monkeypatch.setattr(web_server, "WARNING_FOLD_S", 1.0, raising=False)  # a minute, shortened
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="arbot.web"):
        async with aiohttp.ClientSession() as http:
            for _ in range(50):
                async with http.get(url(site, "/api/v1/orders"), headers=auth(VERA)) as response:
                    assert response.status == 503
        first = [r.getMessage() for r in caplog.records if r.name == "arbot.web"]
        assert len(first) == 1 and "answered 503" in first[0], first
        await wait_for(lambda: len([r for r in caplog.records if r.name == "arbot.web"]) == 2, timeout_s=10,
                       what="the count line")
    lines = [r.getMessage() for r in caplog.records if r.name == "arbot.web"]
    assert "49 more" in lines[1] and "the database is not answering" in lines[1], lines


# --- 3. counts agree with their noun -------------------------------------------------------------------------------

async def test_the_kill_question_counts_one_strategy_as_one(site):
    async with aiohttp.ClientSession() as http, http.post(url(site, "/api/v1/kill"), headers=auth(ADA),
                                                         json={"reason": "texts"}) as response:
        asked = await response.json()
    assert response.status == 202, asked
    assert asked["question"].startswith("Kill switch: pause 1 strategy and cancel every resting order?"), asked


# --- 4. a backtest's summary ---------------------------------------------------------------------------------------

async def test_the_backtest_list_gives_each_reports_summary(site):
    """``GET /api/v1/backtests`` lists each report with the ``summary`` docs/web.md promises, read from the
    ``report.json`` the backtest wrote (its pinned form: the figures digit for digit); a report.json that is no
    backtest's has none."""
    root = Path(running_server(site.operator).ctx.data_dir)
    pinned = json.loads((Path(__file__).parents[2] / "backtest" / "pinned" / "grid.json").read_text())["report"]
    (root / "bt-grid").mkdir()
    (root / "bt-grid" / "report.json").write_text(json.dumps(pinned, indent=2))
    (root / "bt-other").mkdir()
    (root / "bt-other" / "report.json").write_text('["not a report"]')
    async with aiohttp.ClientSession() as http, http.get(url(site, "/api/v1/backtests"), headers=auth(VERA)) as r:
        reports = {report["name"]: report for report in (await r.json())["reports"]}
    assert reports["bt-grid"]["summary"] == {
        "input": "paper: synthetic paper seed 42", "steps": 3000, "simulated_s": "299.9", "fills": 106,
        "strategies": {"btc-grid": {"type": "grid", "fills": 106, "round_trips": 51, "realized": {"USD": "15.3"},
                                    "fees": {"USD": "50.59824"}, "net": {"USD": "-35.29824"},
                                    "max_drawdown": {"USD": "106.02298"}, "unrealized": {"USD": "-2.102"}}}}
    assert reports["bt-other"]["summary"] is None


async def test_a_users_token_in_the_path_is_audited_as_stars(site):
    """``POST /api/v1/strategies/<a user's token>/pause``: the audit line's command names the path with the token
    (the config holds only its hash: unknown to the redactor) as ``***``."""
    since = site.clock.time_ns()
    async with aiohttp.ClientSession() as http:
        for name in (ADA, token_hash(ADA)):
            async with http.post(url(site, f"/api/v1/strategies/{quote(name)}/pause"), headers=auth(ADA)) as r:
                assert r.status == 404
    await written(site)
    commands = [e.command for e in web_audit(site, since) if e.command.startswith("POST /api/v1/strategies/")]
    assert commands == ["POST /api/v1/strategies/***/pause"] * 2, commands
