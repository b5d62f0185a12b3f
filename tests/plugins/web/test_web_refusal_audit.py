"""Every refusal of a client by a limit reaches the audit log: who (its address), what (which limit), when; folded per
address and limit (the first of a minute as it happens, then one line with the count), bounded in addresses, and
never with a secret the request carried.

A small bot of its own behind a trusted proxy on 127.0.0.1 (a client's address is then its X-Forwarded-For); a
connection from another loopback address (127.0.0.2 ...) is a direct client. Tight limits: 2 connections (or requests
in progress through the proxy) per client, 8 connections in all, 3 requests at once without a token per address.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import pytest_asyncio

from bot.api.testing import build_bot, wait_for
from plugins.web import running_server
from plugins.web.auth import StrangerAudit, token_hash
from plugins.web.routes import LIMIT, STRATEGY, Route
from plugins.web.server import audited_query

from .conftest import web_plugins

pytestmark = pytest.mark.asyncio(loop_scope="module")

OTTO = "otto-refusals-0123456789abcdef"
"""A token the config holds only as its hash: the redactor does not know it, so only the audit's own care keeps it
out of the log."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("web-refusals")
    bot = build_bot('[exchanges.paper]\n[strategies.g1]\ntype = "grid"\nexchange = "paper"\nsymbol = "BTC/USD"\n'
                    'lower = "29000"\nupper = "31000"\nlevels = 5\norder_size = "0.01"\n'
                    '[plugins.web]\nenabled = true\nport = 0\nmax_connections = 8\nmax_connections_per_address = 2\n'
                    'trusted_proxies = ["127.0.0.1"]\npublic_requests_per_s = 0.01\npublic_request_burst = 3\n'
                    'auth_failures_per_min = 2\n'
                    f'users = {{ otto = {{ role = "operator", token = "{token_hash(OTTO)}" }} }}\n',
                    data_dir=data_dir, extra=web_plugins())
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


def refusals(bot, started_ns: int, address: str) -> list[tuple[str, str, str]]:
    """(command, args, outcome) of the web audit lines without a user naming ``address``, oldest first."""
    return [(e.command, e.args, e.outcome) for e in reversed(bot.operator.audit_log(5000))
            if e.transport == "web" and e.user_id == "" and e.ts_ns >= started_ns and address in e.args]


async def written(bot) -> None:
    """Every folded window closed and every line stored (as when the minute is over, or at stop)."""
    server = running_server(bot.operator)
    server._audit_strangers(force=True)
    await server._flush_audit()


async def no_connections(bot) -> None:
    await wait_for(lambda: running_server(bot.operator).connections() == 0, what="every connection closed")


async def test_a_direct_connection_closed_over_its_cap_is_audited_then_counted(site, monkeypatch):
    """The 3rd to 5th connections of one address (max_connections_per_address = 2) are closed at once: the first of
    them is audited with the address and the limit, the rest as one line with their count, written by the server's
    own writer when the window is over, with no request after."""
    server = running_server(site.operator)
    await no_connections(site)
    await written(site)
    monkeypatch.setattr(StrangerAudit, "WINDOW_S", 2.0)  # a minute, shortened
    started_ns = site.operator.now_ns()
    refused = server.refused_connections
    held = []
    try:
        for _ in range(5):
            held.append((await asyncio.open_connection("127.0.0.1", server.port, local_addr=("127.0.0.2", 0)))[1])
        await wait_for(lambda: server.refused_connections == refused + 3, what="three connections refused")

        def counted() -> list[tuple[str, str, str]]:
            return refusals(site, started_ns, "127.0.0.2")

        await wait_for(lambda: len(counted()) == 2, timeout_s=15, what="the count written by the server's writer")
        assert counted() == [
            ("connect", "address 127.0.0.2", "refused: connection closed (max_connections_per_address 2)"),
            ("connect", "address 127.0.0.2", "refused: 2 more (max_connections_per_address) from this address")]
    finally:
        for writer in held:
            writer.close()


async def test_a_connection_closed_over_max_connections_is_audited_with_its_address(site):
    server = running_server(site.operator)
    await no_connections(site)
    await written(site)
    started_ns = site.operator.now_ns()
    held = []
    try:
        for n in range(4):  # 8 connections, 2 from each of 4 addresses: max_connections
            for _ in range(2):
                held.append((await asyncio.open_connection("127.0.0.1", server.port,
                                                           local_addr=(f"127.0.0.{3 + n}", 0)))[1])
        await wait_for(lambda: server.connections() == 8, what="8 connections held")
        refused = server.refused_connections
        held.append((await asyncio.open_connection("127.0.0.1", server.port, local_addr=("127.0.0.9", 0)))[1])
        await wait_for(lambda: server.refused_connections == refused + 1, what="the 9th connection refused")
        await written(site)
        assert refusals(site, started_ns, "127.0.0.9") == [
            ("connect", "address 127.0.0.9", "refused: connection closed (max_connections 8)")]
        assert all(not refusals(site, started_ns, f"127.0.0.{3 + n}") for n in range(4))
    finally:
        for writer in held:
            writer.close()


async def test_a_proxied_clients_429_over_its_cap_is_audited_then_counted(site):
    """Through the trusted proxy, max_connections_per_address caps a client's requests in progress: its 3rd and 4th
    event streams get 429, the first audited with the client the proxy named, the second counted."""
    server = running_server(site.operator)
    await no_connections(site)
    await written(site)
    started_ns = site.operator.now_ns()
    url = f"http://127.0.0.1:{server.port}/api/v1/events"
    headers = {"Authorization": f"Bearer {OTTO}", "X-Forwarded-For": "203.0.113.50"}
    async with aiohttp.ClientSession() as http:
        streams = [await http.get(url, headers=headers) for _ in range(2)]
        try:
            assert [s.status for s in streams] == [200, 200]
            statuses = []
            for _ in range(2):
                async with http.get(url, headers=headers) as r:
                    statuses.append(r.status)
            assert statuses == [429, 429]
        finally:
            for stream in streams:
                stream.close()
    await written(site)
    assert refusals(site, started_ns, "203.0.113.50") == [
        ("GET /api/v1/events", "address 203.0.113.50",
         "refused: 429 too many requests in progress from this client (max_connections_per_address 2)"),
        ("GET /api/v1/events", "address 203.0.113.50",
         "refused: 1 more (max_connections_per_address) from this address")]


async def test_requests_over_the_public_rate_are_audited_then_counted(site):
    server = running_server(site.operator)
    await written(site)
    started_ns = site.operator.now_ns()
    statuses = []
    async with aiohttp.ClientSession() as http:
        for _ in range(6):  # public_request_burst = 3
            async with http.get(f"http://127.0.0.1:{server.port}/api/openapi.json?password=hunter2-secret",
                                headers={"X-Forwarded-For": "203.0.113.60"}) as r:
                statuses.append(r.status)
    assert statuses == [200] * 3 + [429] * 3
    await written(site)
    assert refusals(site, started_ns, "203.0.113.60") == [
        ("GET /api/openapi.json", "address 203.0.113.60",
         "refused: 429 more than 0.01 requests/s from this address without a token (burst 3); slow down"),
        ("GET /api/openapi.json", "address 203.0.113.60",
         "refused: 2 more (public_requests_per_s) from this address")]


async def test_a_secret_in_the_query_string_never_reaches_the_audit_log(site):
    """A token pasted into a URL (``?token=``, ``?TOKEN``) or sent as a body's field name: the 400 tells the client
    what it sent, the audit line never quotes it. The token here is held as a hash only, so the redactor cannot know
    it."""
    server = running_server(site.operator)
    await written(site)
    server.strangers.clear()
    started_ns = site.operator.now_ns()
    base = f"http://127.0.0.1:{server.port}/api/v1"
    forwarded = {"X-Forwarded-For": "203.0.113.70"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/status?token={OTTO}", headers=forwarded) as r:
            assert r.status == 401  # no Authorization header: a stranger
        async with http.get(f"{base}/orders?limit=5&access_token={OTTO}",
                            headers={**forwarded, "Authorization": f"Bearer {OTTO}"}) as r:
            assert r.status == 400  # a parameter /orders does not take
        async with http.get(f"{base}/orders?{OTTO}", headers={**forwarded, "Authorization": f"Bearer {OTTO}"}) as r:
            assert r.status == 400 and OTTO in (await r.json())["error"]  # the client is told what it sent...
        async with http.post(f"{base}/strategies/g1/pause", json={OTTO: True},
                             headers={**forwarded, "Authorization": f"Bearer {OTTO}"}) as r:
            assert r.status == 400 and OTTO in (await r.json())["error"]
    await written(site)
    lines = [e for e in site.operator.audit_log(5000) if e.transport == "web" and e.ts_ns >= started_ns]
    leaks = [(e.user_id, e.args, e.outcome) for e in lines if OTTO in f"{e.command} {e.args} {e.outcome}"]
    assert lines and not leaks, leaks
    assert [(e.user_id, e.args, e.outcome) for e in reversed(lines)] == [
        ("", "address 203.0.113.70; ***", "refused: 401 log in: send Authorization: Bearer TOKEN, or POST "
                                                "/api/v1/login for a session cookie"),
        ("otto", "limit=5&***", "refused: 400 unknown query parameter; /api/v1/orders takes: strategy, "
                                             "exchange, state, since, until, limit, offset, format"),
        ("otto", "***", "refused: 400 unknown query parameter; /api/v1/orders takes: strategy, exchange, state, since, "
                        "until, limit, offset, format"),  # ...the audit log, never
        ("otto", "", "refused: 400 unknown field; /api/v1/strategies/{name}/pause takes: none")]
    server.strangers.clear()


async def test_refusals_from_a_thousand_addresses_write_a_bounded_number_of_lines(site):
    """Each address has its own window, and addresses are a stranger's to choose (IPv6 gives many): at most
    StrangerAudit.NAMED addresses a minute are named, the refusals of every other address folded into one window."""
    server = running_server(site.operator)
    await written(site)
    server.strangers.clear()
    started_ns = site.operator.now_ns()
    statuses = []
    async with aiohttp.ClientSession() as http:
        for n in range(1000):
            async with http.get(f"http://127.0.0.1:{server.port}/api/v1/status",
                                headers={"X-Forwarded-For": f"2001:db8:{n:x}::1"}) as r:
                statuses.append(r.status)
    assert statuses == [401] * 1000
    await written(site)
    lines = [e for e in site.operator.audit_log(5000) if e.transport == "web" and e.ts_ns >= started_ns]
    assert len(lines) <= 102, len(lines)  # StrangerAudit.NAMED (100) first lines, the others' first and their count
    assert StrangerAudit.NAMED == 100 and lines[0].args == "other addresses" and lines[0].outcome == (
        f"refused: {1000 - StrangerAudit.NAMED - 1} more without a valid token from other addresses "
        f"(over {StrangerAudit.NAMED} addresses this minute)")
    server.strangers.clear()


async def test_a_refusal_costs_the_loop_microseconds():
    """A client hammering the console: each refusal folded costs a dict look-up, not a line."""
    folded = StrangerAudit()
    started = time.perf_counter()
    lines = sum(folded.first("203.0.113.9", "connect", 0.0) for _ in range(100_000))
    per_refusal_us = (time.perf_counter() - started) * 1e6 / 100_000
    assert lines == 1 and per_refusal_us < 50, per_refusal_us


async def test_the_audited_query_keeps_only_what_the_route_takes():
    async def handler(call):
        return {}

    route = Route("GET", "/api/v1/orders", handler, "viewer", "orders", params=(LIMIT, STRATEGY))
    assert audited_query(route, "limit=5&strategy=g1") == "limit=5&strategy=g1"
    assert audited_query(route, "token=abc&limit=5") == "***&limit=5"
    assert audited_query(route, OTTO) == "***"  # a bare word, or a name: it may be the token itself
    assert audited_query(route, OTTO + "=1") == "***"
    assert audited_query(route, "lim%69t=5&") == "lim%69t=5"  # a name as a browser may encode it
    assert audited_query(route, "") == ""
