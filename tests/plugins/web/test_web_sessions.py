"""Sessions, confirmations, connections and query numbers of the console, seen by a hostile stranger and a trader.

A small bot of its own (a grid and a second grid on the paper exchange) with an admin whose token is read
from the environment, so that a test can rotate it.
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal

import aiohttp
import pytest
import pytest_asyncio

from bot.api import Caller, Opportunity
from bot.api.testing import build_bot, wait_for
from plugins.web import running_server
from plugins.web.auth import token_hash

from .conftest import web_plugins

pytestmark = pytest.mark.asyncio(loop_scope="module")

OLD = "rotate-me-0123456789abcdef"
NEW = "rotated-0123456789abcdef-new"
OTTO = "otto-sessions-0123456789abcdef"
VAR = "ARBOT_WEB_TEST_SESSIONS_ADA"


def grid(name: str, symbol: str) -> str:
    return (f'[strategies.{name}]\ntype = "grid"\nexchange = "paper"\nsymbol = "{symbol}"\n'
            'lower = "29000"\nupper = "31000"\nlevels = 5\norder_size = "0.01"\n')


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory):
    saved = os.environ.get(VAR)
    os.environ[VAR] = OLD
    data_dir = tmp_path_factory.mktemp("web-sessions")
    bot = build_bot('[exchanges.paper]\nsymbols = ["BTC/USD", "ETH/USD"]\n' + grid("g1", "BTC/USD")
                    + grid("g2", "ETH/USD")
                    + f'[plugins.web]\nenabled = true\nport = 0\n'
                    f'users = {{ ada = {{ role = "admin", token = "env:{VAR}" }}, '
                    f'otto = {{ role = "operator", token = "{token_hash(OTTO)}" }} }}\n',
                    data_dir=data_dir, extra=web_plugins())
    bot.resolve_secrets()
    await bot.start()
    try:
        yield bot, f"http://127.0.0.1:{running_server(bot.operator).port}/api/v1"
    finally:
        await bot.stop()
        if saved is None:
            os.environ.pop(VAR, None)
        else:
            os.environ[VAR] = saved


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_session_opened_with_a_rotated_token_ends_when_the_token_is_reloaded(site):
    bot, url = site
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(url + "/login", json={"token": OLD}) as r:
            assert r.status == 200
        async with browser.get(url + "/session") as r:
            assert r.status == 200 and (await r.json())["user"] == "ada"
        os.environ[VAR] = NEW  # the old token leaked: the operator rotates it and reloads the secrets
        try:
            await bot.operator.reload_secrets(Caller("local", "uid:0", "admin"))
            async with browser.get(url + "/status", headers=bearer(OLD)) as r:
                assert r.status == 401
            async with browser.get(url + "/session") as r:  # whoever logged in with the leaked token is out too
                assert r.status == 401, await r.text()
            async with browser.post(url + "/login", json={"token": NEW}) as r:
                assert r.status == 200
            async with browser.get(url + "/session") as r:
                assert r.status == 200 and (await r.json())["user"] == "ada"
            await bot.operator.reload_secrets(Caller("local", "uid:0", "admin"))  # nothing changed: still in
            async with browser.get(url + "/session") as r:
                assert r.status == 200
        finally:
            os.environ[VAR] = OLD
            await bot.operator.reload_secrets(Caller("local", "uid:0", "admin"))


async def test_a_confirm_token_confirms_only_the_call_it_was_given_for(site):
    bot, url = site
    op = bot.operator
    op.kill("sessions test", Caller("test", "x", "admin"))
    assert op.killed("g1") and op.killed("g2")
    async with aiohttp.ClientSession() as http:
        async with http.post(url + "/strategies/g1/resume", headers=bearer(OTTO)) as r:
            asked = await r.json()
            assert r.status == 202 and asked["question"] == "Resume g1 after the kill switch?", asked
        # the token of g1's resume, sent with g2's: refused, and nothing is resumed
        async with http.post(url + "/strategies/g2/resume", headers=bearer(OTTO),
                             json={"confirm_token": asked["confirm_token"]}) as r:
            body = await r.json()
            assert r.status == 409, body
        assert op.killed("g1") and op.killed("g2")
        # the call it was given for still works with it
        async with http.post(url + "/strategies/g1/resume", headers=bearer(OTTO),
                             json={"confirm_token": asked["confirm_token"]}) as r:
            body = await r.json()
            assert r.status == 200 and body["name"] == "g1" and not body["killed"], body
        assert not op.killed("g1") and op.killed("g2")
        async with http.post(url + "/observe", headers=bearer(OLD), json={"on": True}) as r:
            assert r.status == 200
        async with http.post(url + "/observe", headers=bearer(OLD), json={"on": False}) as r:
            asked = await r.json()
            assert r.status == 202, asked
        async with http.post(url + "/strategies/g2/resume", headers=bearer(OLD),
                             json={"confirm_token": asked["confirm_token"]}) as r:
            assert r.status == 409, await r.json()
        assert op.mode == "observe" and op.killed("g2")
        async with http.post(url + "/observe", headers=bearer(OLD),
                             json={"on": False, "confirm_token": asked["confirm_token"]}) as r:
            assert r.status == 200 and (await r.json())["mode"] == "paper"
    op.resume(["g2"], Caller("test", "x", "admin"))


async def test_a_stranger_holding_every_connection_from_one_address_keeps_nobody_out(tmp_path):
    """``max_connections`` is a cap for everyone together: one address may hold only its own share of it, so a
    stranger opening connections and sending nothing (each lasting ``idle_timeout_s``, again and again) cannot
    fill it and keep the desk out."""
    bot = build_bot('[exchanges.paper]\n' + grid("g1", "BTC/USD")
                    + f'[plugins.web]\nenabled = true\nport = 0\nmax_connections = 150\n'
                    f'users = {{ otto = {{ role = "operator", token = "{token_hash(OTTO)}" }} }}\n',
                    data_dir=tmp_path, extra=web_plugins())
    await bot.start()
    held = []
    try:
        server = running_server(bot.operator)
        for _ in range(150):  # from another loopback address than the desk's
            held.append((await asyncio.open_connection("127.0.0.1", server.port, local_addr=("127.0.0.2", 0)))[1])
        await wait_for(lambda: server.refused_connections > 0 or server.connections() >= 150,
                       what="the stranger's connections seen")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{server.port}/api/v1/status", headers=bearer(OTTO)) as r:
                assert r.status == 200
        assert server.refused_connections > 0  # the stranger's share was used up, not the desk's
        for writer in held:
            writer.close()
        await wait_for(lambda: server.connections() == 0, what="the stranger's connections closed")
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))) as http:
            async with http.get(f"http://127.0.0.1:{server.port}/api/v1/status", headers=bearer(OTTO)) as r:
                assert r.status == 200  # an address's count goes down as its connections close
    finally:
        for writer in held:
            writer.close()
        await bot.stop()


@pytest.mark.parametrize("query", [
    "offset=" + "9" * 5000,  # more digits than Python turns into an int
    "offset=" + "9" * 30,  # an int no database column holds
    "limit=²",  # a digit to str.isdigit, not to int()
    "since=" + "1" * 40,
    "until=" + "9" * 5000,
])
async def test_a_huge_or_odd_number_in_the_query_is_a_400_naming_it(site, query):
    bot, url = site
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/orders?{query}", headers=bearer(OTTO)) as r:
            body = await r.json()
            assert r.status == 400, body
            assert body["error"].startswith(query.split("=")[0] + ":"), body


async def test_a_huge_last_event_id_starts_the_stream_over(site):
    bot, url = site
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/events", headers={**bearer(OTTO), "Last-Event-ID": "x-" + "9" * 5000}) as r:
            assert r.status == 200
            seen = b""
            while b"event: reset" not in seen:
                seen += await r.content.readline()


async def test_a_login_body_trickled_in_is_cut_off_by_the_idle_timeout(tmp_path):
    """The login takes a body from anyone: one sent a byte at a time must not hold its connection for ever."""
    bot = build_bot('[exchanges.paper]\n' + grid("g1", "BTC/USD")
                    + f'[plugins.web]\nenabled = true\nport = 0\nidle_timeout_s = 1\n'
                    f'users = {{ otto = {{ role = "operator", token = "{token_hash(OTTO)}" }} }}\n',
                    data_dir=tmp_path, extra=web_plugins())
    await bot.start()
    try:
        server = running_server(bot.operator)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        loop = asyncio.get_running_loop()
        started = loop.time()
        writer.write(b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 60000\r\n\r\n{")
        answer = None
        for _ in range(20):  # one body byte every half second, never finishing it
            try:
                writer.write(b" ")
                await writer.drain()
                answer = await asyncio.wait_for(reader.read(), 0.5)  # the server's answer, once it closes
            except TimeoutError:
                continue
            except ConnectionError:
                answer = b""
            break
        assert answer is not None, "the server kept a half-sent body open"
        assert loop.time() - started < 6  # idle_timeout_s = 1
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
        writer.close()
    finally:
        await bot.stop()


async def test_an_opportunitys_net_pnl_is_the_figure_chat_shows(site):
    """A strategy that publishes an edge but no ``net_pnl``: /opportunities shows its net profit (60 bps of 2 x 100 =
    1.2 USDC); the console must show that figure too, not a blank."""
    bot, url = site
    now = bot.clock.time_ns()
    bot.bus.publish(Opportunity(strategy="g1", symbol="SOL/USDC", buy_exchange="a", sell_exchange="b",
                                buy_price=Decimal("100"), sell_price=Decimal("101"), qty=Decimal("2"),
                                edge_bps=Decimal("60"), ts_ns=now))
    chat = await bot.commands.dispatch(Caller("telegram", "1", "viewer"), "opportunities", [])
    assert chat.rows[1][chat.rows[0].index("net profit")] == "1.20 USDC"
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/opportunities?strategy=g1", headers=bearer(OTTO)) as r:
            item = (await r.json())["items"][0]
    assert Decimal(item["net_pnl"]) == Decimal("1.2")


async def test_an_event_stream_opened_with_a_rotated_token_ends_when_the_token_is_reloaded(site):
    bot, url = site

    def event() -> None:  # something for the streams to carry
        bot.bus.publish(Opportunity(strategy="g1", symbol="BTC/USD", buy_exchange="a", sell_exchange="b",
                                    buy_price=Decimal("100"), sell_price=Decimal("101"), qty=Decimal("1"),
                                    edge_bps=Decimal("1"), ts_ns=bot.clock.time_ns()))

    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/events", headers=bearer(OLD)) as stream:
            assert stream.status == 200
            event()
            seen = b""
            while b"event: opportunities" not in seen:
                seen += await stream.content.readline()
            os.environ[VAR] = NEW
            try:
                await bot.operator.reload_secrets(Caller("local", "uid:0", "admin"))
                event()
                async with asyncio.timeout(10):  # the stream ends at its next event (or heartbeat)
                    while await stream.content.readline():
                        pass
            finally:
                os.environ[VAR] = OLD
                await bot.operator.reload_secrets(Caller("local", "uid:0", "admin"))


async def test_logins_count_against_the_users_rate_limit(tmp_path):
    """Each login opens a session (kept ``session_ttl_s``) and writes an audit line: a script logging in in a loop
    is held to the user's ``requests_per_s`` like any other call, not let through unbounded."""
    bot = build_bot('[exchanges.paper]\n' + grid("g1", "BTC/USD")
                    + f'[plugins.web]\nenabled = true\nport = 0\nrequests_per_s = 2\nrequest_burst = 10\n'
                    f'users = {{ otto = {{ role = "operator", token = "{token_hash(OTTO)}" }} }}\n',
                    data_dir=tmp_path, extra=web_plugins())
    await bot.start()
    try:
        server = running_server(bot.operator)
        statuses = []
        async with aiohttp.ClientSession() as http:
            for _ in range(40):
                async with http.post(f"http://127.0.0.1:{server.port}/api/v1/login", json={"token": OTTO}) as r:
                    statuses.append(r.status)
                    if r.status == 429:
                        assert 1 <= int(r.headers["Retry-After"]) <= 2
        assert statuses[:10] == [200] * 10 and statuses.count(200) < 20, statuses
        assert len(server.sessions) == statuses.count(200)
    finally:
        await bot.stop()


async def test_a_users_sessions_are_capped_the_oldest_ending_first():
    """A script that logs in for each call (the browser's way, not a bearer token's) opened a session per login,
    each kept ``session_ttl_s`` (12 h): at the default 20 logins/s, 864,000 of them, and every login walked them all
    on the loop. A user keeps its latest ``Sessions.PER_USER`` (100); a login past them ends its oldest."""
    from plugins.web.auth import Sessions, User

    otto, ada = User("otto", "operator"), User("ada", "admin")
    sessions = Sessions(43200.0)
    adas, _ = sessions.open(ada, OLD, 0.0)
    first, _ = sessions.open(otto, OTTO, 0.0)
    for n in range(1, 1000):
        last, _ = sessions.open(otto, OTTO, n * 0.05)
    assert len(sessions) == 101, len(sessions)  # otto's latest 100, and ada's
    assert sessions.get(first, 50.0) is None and sessions.get(last, 50.0) is not None
    assert sessions.get(adas, 50.0) is not None  # another user's session is not otto's to end
    assert sessions.get(last, 50.0 + 43200.0) is None  # expiry as before
    sessions.open(ada, OLD, 60.0 + 43200.0)  # a login clears the expired ones, each user's count with them
    assert len(sessions) == 1
    for n in range(100):
        sessions.open(otto, OTTO, 50_000.0 + n)
    assert len(sessions) == 101


async def test_a_login_past_the_users_sessions_ends_its_oldest_browser_session(site, monkeypatch):
    from plugins.web.auth import Sessions

    _, url = site
    monkeypatch.setattr(Sessions, "PER_USER", 3, raising=False)
    browsers = [aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) for _ in range(4)]
    try:
        for browser in browsers:
            async with browser.post(url + "/login", json={"token": OTTO}) as r:
                assert r.status == 200
        statuses = []
        for browser in browsers:
            async with browser.get(url + "/session") as r:
                statuses.append(r.status)
        assert statuses == [401, 200, 200, 200]
    finally:
        for browser in browsers:
            await browser.close()


@pytest.mark.parametrize("name", ["%00", "a%00b", "%2e%2e%00"])
async def test_a_backtest_name_with_a_nul_byte_is_a_404(site, name):
    bot, url = site
    async with aiohttp.ClientSession() as http:
        for path in (f"/backtests/{name}", f"/backtests/{name}/chart"):
            async with http.get(url + path, headers=bearer(OTTO)) as r:
                assert r.status == 404, await r.text()


async def test_a_backtest_name_longer_than_a_file_name_may_be_is_a_404(site):
    bot, url = site
    async with aiohttp.ClientSession() as http:
        for path in ("/backtests/" + "a" * 300, "/backtests/" + "a" * 300 + "/chart"):
            async with http.get(url + path, headers=bearer(OTTO)) as r:
                assert r.status == 404, await r.text()


async def test_a_body_nested_deeper_than_json_may_be_is_a_400(site):
    bot, url = site
    async with aiohttp.ClientSession() as http:
        async with http.post(url + "/kill", headers={**bearer(OLD), "Content-Type": "application/json"},
                             data=b'{"a":' * 5000) as r:
            body = await r.json()
            assert r.status == 400 and "nest" in body["error"], body


async def test_a_stranger_hammering_what_needs_no_token_gets_429_and_nobody_else_does(tmp_path):
    """The page's files, the OpenAPI document and the login answer anyone: from one address they are held to a
    rate (429 with Retry-After past it), so a stranger cannot keep the bot's loop busy serving them; another
    address and a user's calls are not limited by it."""
    bot = build_bot('[exchanges.paper]\n' + grid("g1", "BTC/USD")
                    + f'[plugins.web]\nenabled = true\nport = 0\n'
                    f'users = {{ otto = {{ role = "operator", token = "{token_hash(OTTO)}" }} }}\n',
                    data_dir=tmp_path, extra=web_plugins())
    await bot.start()
    try:
        base = f"http://127.0.0.1:{running_server(bot.operator).port}"
        stranger = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=stranger) as http:
            statuses = []
            for path in ["/api/openapi.json", "/", "/js/app.js", "/api/v1/nope"] * 100:
                async with http.get(base + path) as r:
                    statuses.append(r.status)
                    if r.status == 429:
                        assert int(r.headers["Retry-After"]) >= 1
            async with http.post(base + "/api/v1/login", json={}) as r:
                assert r.status == 429
        assert statuses[:4] == [200, 200, 200, 404] and statuses.count(429) > 100, statuses
        async with aiohttp.ClientSession() as http:  # the desk, from its own address
            async with http.get(base + "/api/openapi.json") as r:
                assert r.status == 200
            async with http.get(base + "/api/v1/status", headers=bearer(OTTO)) as r:
                assert r.status == 200
    finally:
        await bot.stop()


async def test_a_rate_limit_keeps_a_bounded_number_of_addresses(monkeypatch):
    """Its keys are addresses a stranger chooses (IPv6 gives many): the least recently used bucket is forgotten."""
    from plugins.web.auth import RateLimit

    monkeypatch.setattr(RateLimit, "KEPT", 3, raising=False)
    limit = RateLimit(1.0, 1)
    for n in range(5):
        assert limit.take(f"::{n}", 0.0) == 0.0
    assert len(limit) == 3
    assert limit.take("::4", 0.0) > 0  # a bucket kept is still counted...
    assert limit.take("::0", 0.0) == 0.0  # ...one forgotten starts full again


async def test_a_users_calls_past_the_rate_limit_are_audited_folded(tmp_path, monkeypatch):
    """The per-user limit answers 429 so that a runaway script costs little: its refusals are audited as the first
    of the minute and then one line with their count, not a database row each."""
    from plugins.web.auth import StrangerAudit

    bot = build_bot('[exchanges.paper]\n' + grid("g1", "BTC/USD")
                    + f'[plugins.web]\nenabled = true\nport = 0\nrequests_per_s = 1\nrequest_burst = 5\n'
                    f'users = {{ otto = {{ role = "operator", token = "{token_hash(OTTO)}" }} }}\n',
                    data_dir=tmp_path, extra=web_plugins())
    await bot.start()
    try:
        server = running_server(bot.operator)
        statuses = []
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                async with http.get(f"http://127.0.0.1:{server.port}/api/v1/status", headers=bearer(OTTO)) as r:
                    statuses.append(r.status)
        limited = statuses.count(429)
        assert limited > 150
        monkeypatch.setattr(StrangerAudit, "WINDOW_S", 0.0)  # the minute is over
        server._audit_wakeup.set()
        await wait_for(lambda: any("more this minute" in e.outcome for e in bot.operator.audit_log(500)
                                   if e.user_id == "otto" and e.outcome.startswith("refused: ")),
                       what="the folded count audited")
        refusals = [e for e in bot.operator.audit_log(500) if e.user_id == "otto" and e.outcome.startswith("refused")]
        assert len(refusals) == 2, [e.outcome for e in refusals]
        assert refusals[0].outcome == f"refused: 429, {limited - 1} more this minute"
    finally:
        await bot.stop()
