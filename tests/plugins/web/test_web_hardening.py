"""Bad input, limits and the browser session: 4xx with a clear message, the bot trading on, the server answering.

A bot of its own with tight limits: 4 requests/s (burst 20) per user, 3 wrong tokens a minute per
address, 1,200 connections (from one address too), idle connections closed after 4 s, 4 KiB bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource

import aiohttp
import pytest
import pytest_asyncio

from bot.api.testing import build_bot, wait_for
from plugins.web import running_server
from plugins.web.auth import StrangerAudit

from .conftest import TOKENS, Console, demo_toml, users_toml, web_plugins

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("web-hard")
    saved = {name: os.environ.get(f"ARBOT_WEB_TEST_{name.upper()}") for name in ("vera", "ada")}
    os.environ.update({f"ARBOT_WEB_TEST_{name.upper()}": TOKENS[name][1] for name in ("vera", "ada")})
    web = ("[plugins.web]\nenabled = true\nport = 0\nrequests_per_s = 4\nrequest_burst = 20\n"
           "auth_failures_per_min = 3\nmax_connections = 1200\nmax_connections_per_address = 1200\n"
           "idle_timeout_s = 4\nmax_body_bytes = 4096\n"
           f"{users_toml(data_dir)}\n")
    under_test = build_bot(demo_toml(web), data_dir=data_dir, extra=web_plugins())
    under_test.resolve_secrets()
    await under_test.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Console(under_test, f"http://127.0.0.1:{running_server(under_test.operator).port}", http)
    finally:
        await under_test.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(f"ARBOT_WEB_TEST_{name.upper()}", None)
            else:
                os.environ[f"ARBOT_WEB_TEST_{name.upper()}"] = value


async def raw(console: Console, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (no client-side path normalisation); the status code and the body."""
    port = int(console.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


async def error(response: aiohttp.ClientResponse) -> str:
    return (await response.json())["error"]


async def test_bad_bodies_get_a_400_that_says_what_is_wrong(console):
    pause = "/api/v1/strategies/btc-grid/pause"
    headers = {"Content-Type": "application/json"}
    async with await console.post("/api/v1/observe", "ada", data=b'{"on": tru', headers=headers) as r:
        assert r.status == 400 and (await error(r)).startswith("malformed JSON")
    async with await console.post("/api/v1/observe", "ada", json={"on": True, "force": 1}) as r:
        assert r.status == 400 and "unknown field 'force'" in await error(r)
    async with await console.post("/api/v1/observe", "ada", json={"on": "yes"}) as r:
        assert r.status == 400 and "on: expected a boolean" in await error(r)
    async with await console.post("/api/v1/observe", "ada", json=[1, 2]) as r:
        assert r.status == 400 and "expected a JSON object" in await error(r)
    async with await console.post("/api/v1/observe", "ada", json={}) as r:
        assert r.status == 400 and "missing field(s): on" in await error(r)
    async with await console.post(pause, "ada", json={"why": "x"}) as r:
        assert r.status == 400 and "unknown field 'why'" in await error(r)
    async with await console.post(pause, "ada", data="on=1", headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 415
    async with await console.post("/api/v1/observe", "ada", data=b'{"on": true, "x": "' + b"a" * 100_000 + b'"}',
                                  headers=headers) as r:
        assert r.status == 413 and "max_body_bytes" in await error(r)
    async with await console.get("/api/v1/orders?limt=5", "vera") as r:
        assert r.status == 400 and "unknown query parameter 'limt'" in await error(r)
    async with await console.get("/api/v1/orders?limit=-1", "vera") as r:
        assert r.status == 400 and "limit" in await error(r)
    async with await console.get("/api/v1/orders?since=yesterday", "vera") as r:
        assert r.status == 400 and "since: expected ns since the epoch or an ISO 8601 time" in await error(r)
    async with await console.get("/api/v1/pnl?period=year", "vera") as r:
        assert r.status == 400 and "period: expected one of day, week, month, all" in await error(r)
    async with await console.get("/api/v1/nothing", "vera") as r:
        assert r.status == 404 and "no such endpoint" in await error(r)
    assert console.bot.operator.mode == "paper" and console.bot.operator.strategy_state("btc-grid") == "running"


async def test_static_files_never_leave_their_folder(console):
    for path in (b"/../../../../etc/passwd", b"/%2e%2e/%2e%2e/pyproject.toml", b"/..%2f..%2fpyproject.toml",
                 b"/static/../../server.py", b"/%2e%2e%2f__init__.py", b"/../__init__.py"):
        status, body = await raw(console, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status in (400, 404), path
        assert b"hookimpl" not in body and b"root:" not in body and b"[project]" not in body, path


async def test_a_request_trickled_in_is_cut_off_by_the_idle_timeout(console):
    port = int(console.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = asyncio.get_running_loop().time()
    try:
        writer.write(b"GET /api/v1/status HTTP/1.1\r\n")
        closed = False
        for _ in range(60):  # one header byte a second, never finishing the request
            writer.write(b"X")
            await writer.drain()
            try:
                closed = await asyncio.wait_for(reader.read(100), 1.0) == b""
            except TimeoutError:
                continue
            break
        assert closed, "the server kept a half-sent request open"
        assert asyncio.get_running_loop().time() - started < 30  # idle_timeout_s = 4 here
    finally:
        writer.close()


async def test_malformed_http_gets_a_400(console):
    status, _ = await raw(console, b"GARBAGE\r\n\r\n")
    assert status == 400


async def test_browser_session_cookie_needs_the_csrf_header_for_changes(console):
    op = console.bot.operator
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:  # unsafe: an IP host
        async with browser.post(console.url + "/api/v1/login", json={"token": "wrong"}) as r:
            assert r.status == 401
        async with browser.post(console.url + "/api/v1/login", json={"token": TOKENS["otto"][1]}) as r:
            assert r.status == 200
            login = await r.json()
            cookie = r.cookies["arbot_session"]
        assert login["user"] == "otto" and login["role"] == "operator" and login["csrf_token"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/api/"
        async with browser.get(console.url + "/api/v1/session") as r:
            assert (await r.json())["csrf_token"] == login["csrf_token"]
        async with browser.get(console.url + "/api/v1/status") as r:
            assert r.status == 200 and (await r.json())["user"]["name"] == "otto"
        pause = console.url + "/api/v1/strategies/btc-grid/pause"
        async with browser.post(pause) as r:  # what a forged cross-site request carries: the cookie only
            assert r.status == 403 and "X-CSRF-Token" in await error(r)
        async with browser.post(pause, headers={"X-CSRF-Token": "guess"}) as r:
            assert r.status == 403
        assert op.strategy_state("btc-grid") == "running"
        async with browser.post(pause, headers={"X-CSRF-Token": login["csrf_token"]}) as r:
            assert r.status == 200
        assert op.strategy_state("btc-grid") == "paused by web:otto"
        async with browser.post(pause.replace("pause", "resume"), headers={"X-CSRF-Token": login["csrf_token"]}) as r:
            assert r.status == 200
        events = await browser.get(console.url + "/api/v1/events")  # EventSource's request: the cookie only
        assert events.status == 200
        await events.content.readline()
        async with browser.post(console.url + "/api/v1/logout", headers={"X-CSRF-Token": login["csrf_token"]}) as r:
            assert r.status == 200
        async with asyncio.timeout(30):  # the stream of a logged-out session ends at its next event or heartbeat
            while await events.content.readline():
                pass
        events.release()
        async with browser.get(console.url + "/api/v1/status", cookies={"arbot_session": cookie.value}) as r:
            assert r.status == 401


async def test_per_user_rate_limit_answers_429_with_retry_after(console):
    statuses = []
    for _ in range(40):  # alan's first requests in this module
        async with await console.get("/api/v1/status", "alan") as r:
            statuses.append(r.status)
            if r.status == 429:
                retry_after = int(r.headers["Retry-After"])
                message = await error(r)
    assert statuses[:20] == [200] * 20 and 429 in statuses
    assert 1 <= retry_after <= 2 and "requests/s" in message
    async with await console.get("/api/v1/status", "vera") as r:  # per user: another user is not limited
        assert r.status == 200
    await wait_for(lambda: any(e.user_id == "alan" and e.outcome.startswith("refused: 429")
                               for e in console.bot.operator.audit_log(500)), timeout_s=10, what="the 429 audited")


async def test_an_address_guessing_tokens_gets_429(console):
    failures = running_server(console.bot.operator).failures
    failures.clear()
    statuses = []
    for i in range(5):
        async with await console.get("/api/v1/status", headers={"Authorization": f"Bearer guess-{i}"}) as r:
            statuses.append(r.status)
    assert statuses == [401, 401, 401, 429, 429]
    async with await console.get("/api/v1/status", "ada") as r:  # the right token is not looked at either
        assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    async with console.http.post(console.url + "/api/v1/login", json={"token": TOKENS["ada"][1]}) as r:
        assert r.status == 429
    failures.clear()  # the rest of the module goes on
    async with await console.get("/api/v1/status", "ada") as r:
        assert r.status == 200


async def test_requests_without_a_token_get_429_past_the_limit_and_one_audit_line_a_minute(console):
    """No token (or an ended session): 401, then 429 past auth_failures_per_min (3 here) from one address, counted
    apart from wrong tokens so a user there still logs in; audited folded as chat strangers are: the first
    refusal of the minute, then one line with the count."""
    server = running_server(console.bot.operator)
    server._audit_strangers(force=True)  # earlier tests' windows closed: this one opens its own
    server.strangers.clear()
    started_ns = console.bot.operator.now_ns()
    statuses = []
    for _ in range(60):
        async with await console.get("/api/v1/status") as r:
            statuses.append(r.status)
    async with await console.get("/api/v1/status", headers={"Cookie": "arbot_session=ended"}) as r:
        statuses.append(r.status)
        retry_after = int(r.headers["Retry-After"])
    assert statuses == [401] * 3 + [429] * 58 and 1 <= retry_after <= 61
    async with await console.get("/api/v1/status", "ada") as r:  # a token is still looked at
        assert r.status == 200
    async with console.http.post(console.url + "/api/v1/login", json={"token": TOKENS["ada"][1]}) as r:
        assert r.status == 200
    server._audit_strangers(force=True)  # as when the minute is over (or at stop)
    await server._flush_audit()
    rows = [(e.command, e.args, e.outcome) for e in reversed(console.bot.operator.audit_log(1000))
            if e.transport == "web" and e.user_id == "" and e.ts_ns >= started_ns]
    assert rows == [("GET /api/v1/status", "address 127.0.0.1",
                     "refused: 401 log in: send Authorization: Bearer TOKEN, or POST /api/v1/login for a session "
                     "cookie"),
                    ("GET /api/v1/status", "address 127.0.0.1",
                     "refused: 60 more without a valid token from this address")]
    server.strangers.clear()  # the rest of the module goes on


async def test_a_strangers_count_is_audited_once_the_minute_is_over_with_no_request_after(console, monkeypatch):
    server = running_server(console.bot.operator)
    server._audit_strangers(force=True)
    monkeypatch.setattr(StrangerAudit, "WINDOW_S", 0.3)  # a minute, shortened
    started_ns = console.bot.operator.now_ns()
    for _ in range(3):
        async with await console.get("/api/v1/strategies") as r:
            assert r.status == 401

    def counted() -> list[str]:
        return [e.outcome for e in console.bot.operator.audit_log(1000)
                if e.transport == "web" and e.ts_ns >= started_ns and "more without a valid token" in e.outcome]

    await wait_for(counted, timeout_s=10, what="the count audited by the server's own writer")
    assert counted() == ["refused: 2 more without a valid token from this address"]
    server.strangers.clear()


@pytest.fixture
def open_files():
    """Room for 1,300 connections, both ends in this process (a CI runner's soft limit may be 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 4096
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"needs {need} open files; the hard limit here is {hard}")
    if soft == resource.RLIM_INFINITY or soft >= need:
        yield
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_thousand_idle_connections_the_bot_trades_and_the_server_answers(console, open_files):
    server = running_server(console.bot.operator)
    op = console.bot.operator
    port = int(console.url.rsplit(":", 1)[1])
    idle = []
    try:
        for _ in range(1000):
            idle.append(await asyncio.open_connection("127.0.0.1", port))
        await wait_for(lambda: server.connections() >= 1000, timeout_s=30, what="1,000 connections held")
        data_before = dict(op.feeds())
        async with await console.get("/api/v1/status", "ada") as r:
            assert r.status == 200 and (await r.json())["mode"] == "paper"
        await wait_for(lambda: all(op.feeds()[k] > v for k, v in data_before.items()), timeout_s=30,
                       what="market data still flowing to the strategies")
        orders_before = len(console.bot.store.orders())
        await wait_for(lambda: len(console.bot.store.orders()) > orders_before, timeout_s=60,
                       what="the demo still placing orders")
        over = []
        for _ in range(300):  # past max_connections (1,200): closed at once
            over.append(await asyncio.open_connection("127.0.0.1", port))
        await wait_for(lambda: server.refused_connections > 0, timeout_s=30, what="connections over the cap refused")
        for _, writer in over:
            writer.close()
        # idle ones are closed by the server after idle_timeout_s; then everybody is served again
        await wait_for(lambda: server.connections() < 50, timeout_s=60, what="idle connections closed")
        async with asyncio.timeout(10):
            assert await idle[0][0].read() == b""
        async with await console.get("/api/v1/status", "ada") as r:
            assert r.status == 200
    finally:
        for _, writer in idle:
            with contextlib.suppress(Exception):
                writer.close()


async def test_events_stream_numbers_events_and_resumes_after_a_reconnect(console):
    op = console.bot.operator
    url = console.url + "/api/v1/events"

    async def read_events(response, until, limit=500):
        events = []
        async with asyncio.timeout(30):
            block: dict[str, str] = {}
            async for raw_line in response.content:
                line = raw_line.decode().rstrip("\n")
                if not line:
                    if "event" in block:
                        events.append(block)
                        if until(block) or len(events) >= limit:
                            return events
                    block = {}
                elif not line.startswith(":"):
                    key, _, value = line.partition(": ")
                    block[key] = value
        return events

    async with console.http.get(url, headers=console.auth("ada")) as response:
        assert response.status == 200 and response.content_type == "text/event-stream"
        first = await read_events(response, lambda e: e["event"] == "status")
        assert json.loads(first[-1]["data"])["strategies"]["btc-grid"] == "running"
        async with await console.post("/api/v1/strategies/btc-grid/pause", "ada") as r:
            assert r.status == 200
        events = await read_events(response, lambda e: e["event"] == "status"
                                   and "paused" in json.loads(e["data"])["strategies"]["btc-grid"])
        last_id = events[-1]["id"]
    # disconnected: the bot goes on (resume, orders, fills); reconnecting with Last-Event-ID gets what was missed
    async with await console.post("/api/v1/strategies/btc-grid/resume", "ada") as r:
        assert r.status == 200
    await wait_for(lambda: running_server(op).events.seq >= int(last_id.split("-")[1]) + 3, timeout_s=30,
                   what="events while disconnected")
    async with console.http.get(url, headers={**console.auth("ada"), "Last-Event-ID": last_id}) as response:
        missed = await read_events(response, lambda e: e["event"] == "status"
                                   and json.loads(e["data"])["strategies"]["btc-grid"] == "running")
    epoch, seq = last_id.split("-")
    numbers = [int(e["id"].split("-")[1]) for e in missed]
    assert all(e["id"].startswith(epoch + "-") for e in missed)
    assert numbers == list(range(int(seq) + 1, int(seq) + 1 + len(numbers)))  # in order, none twice, none lost
    async with console.http.get(url, headers={**console.auth("ada"), "Last-Event-ID": "otherepoch-5"}) as response:
        [reset] = await read_events(response, lambda e: True, limit=1)
        assert reset["event"] == "reset"
    async with console.http.get(url) as response:
        assert response.status == 401
