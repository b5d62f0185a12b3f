"""The console's per-client limits count clients, not addresses: behind a trusted reverse proxy the client is the
right-most untrusted hop of X-Forwarded-For (ignored from anyone else), and an IPv6 client is its /64."""

from __future__ import annotations

import asyncio
import os

import pytest
import pytest_asyncio
from aiohttp import ClientSession

from bot.api.kit import ClientAddresses
from bot.api.testing import build_bot, wait_for
from plugins.web import running_server
from plugins.web.settings import WebSettings

from .conftest import TOKENS, Console, demo_toml, users_toml, web_plugins


def test_without_trusted_proxies_the_peer_is_the_client_and_x_forwarded_for_is_ignored():
    clients = ClientAddresses(WebSettings().trusted_proxies)
    assert WebSettings().trusted_proxies == []
    assert clients.client("127.0.0.1", ["10.0.0.7"]) == "127.0.0.1"
    assert clients.client("203.0.113.9", ["198.51.100.1, 10.0.0.7"]) == "203.0.113.9"


def test_from_a_trusted_proxy_the_client_is_the_right_most_untrusted_hop():
    clients = ClientAddresses(["127.0.0.1", "10.0.0.0/8"])
    assert clients.client("127.0.0.1", ["203.0.113.5"]) == "203.0.113.5"
    # a client writing its own header cannot choose its address: the hops the proxies added are read from the right
    assert clients.client("127.0.0.1", ["1.1.1.1, 203.0.113.5, 10.1.2.3"]) == "203.0.113.5"
    assert clients.client("127.0.0.1", ["1.1.1.1", "203.0.113.5"]) == "203.0.113.5"  # several header lines, in order
    assert clients.client("127.0.0.1", []) == "127.0.0.1"  # no header: the proxy itself (a health check)
    assert clients.client("127.0.0.1", ["10.9.9.9"]) == "10.9.9.9"  # every hop trusted: the left-most one
    assert clients.client("127.0.0.1", ["garbage, 10.9.9.9"]) == "10.9.9.9"  # a hop that is no address ends it
    assert clients.client("127.0.0.1", ["[2001:db8::1]:4711"]) == "2001:db8::/64"
    assert clients.client("127.0.0.1", ["203.0.113.5:4711"]) == "203.0.113.5"


def test_an_ipv6_client_is_counted_by_its_64():
    clients = ClientAddresses([])
    assert clients.client("2001:db8:1:2::1", []) == clients.client("2001:db8:1:2:ffff::9", []) == "2001:db8:1:2::/64"
    assert clients.client("2001:db8:1:3::1", []) == "2001:db8:1:3::/64"
    assert clients.client("::ffff:192.0.2.1", []) == "192.0.2.1"  # an IPv4 client on a dual-stack socket
    assert clients.client(None, []) == "?"
    assert clients.peer("2001:db8:1:2::1") == ("2001:db8:1:2::/64", False)  # connections per client too
    assert ClientAddresses(["127.0.0.1"]).peer("127.0.0.1") == ("127.0.0.1", True)


def test_trusted_proxies_are_checked():
    assert WebSettings(trusted_proxies=["127.0.0.1", "10.0.0.0/8", "fd00::/8"]).validate() == []
    problems = WebSettings(trusted_proxies=["10.0.0.0/33", "proxy.example"]).validate()
    assert [key for key, _ in problems] == ["trusted_proxies", "trusted_proxies"]
    assert "proxy.example" in problems[1][1]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def proxied(tmp_path_factory):
    """A console behind a trusted proxy on 127.0.0.1 (the test client plays the proxy)."""
    data_dir = tmp_path_factory.mktemp("web-proxy")
    saved = {name: os.environ.get(f"ARBOT_WEB_TEST_{name.upper()}") for name in ("vera", "ada")}
    os.environ.update({f"ARBOT_WEB_TEST_{name.upper()}": TOKENS[name][1] for name in ("vera", "ada")})
    web = ('[plugins.web]\nenabled = true\nport = 0\nauth_failures_per_min = 2\nmax_connections_per_address = 2\n'
           'trusted_proxies = ["127.0.0.1"]\n'
           f"{users_toml(data_dir)}\n")
    under_test = build_bot(demo_toml(web), data_dir=data_dir, extra=web_plugins())
    under_test.resolve_secrets()
    await under_test.start()
    try:
        async with ClientSession() as http:
            yield Console(under_test, f"http://127.0.0.1:{running_server(under_test.operator).port}", http)
    finally:
        await under_test.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(f"ARBOT_WEB_TEST_{name.upper()}", None)
            else:
                os.environ[f"ARBOT_WEB_TEST_{name.upper()}"] = value


async def guesses(console: Console, forwarded: str | None, count: int) -> list[int]:
    statuses = []
    for i in range(count):
        headers = {"Authorization": f"Bearer guess-{i}"}
        if forwarded is not None:
            headers["X-Forwarded-For"] = forwarded
        async with await console.get("/api/v1/status", headers=headers) as r:
            statuses.append(r.status)
    return statuses


@pytest.mark.asyncio(loop_scope="module")
async def test_clients_behind_the_trusted_proxy_each_have_their_own_limit(proxied):
    server = running_server(proxied.bot.operator)
    server.failures.clear()
    assert await guesses(proxied, "203.0.113.5", 3) == [401, 401, 429]
    # another client behind the same proxy is not locked out by the first one's guesses
    assert await guesses(proxied, "198.51.100.7", 1) == [401]
    # nor can the first one get out by writing another address in its own header: the proxy appends the real one
    assert await guesses(proxied, "198.51.100.8, 203.0.113.5", 1) == [429]
    # one IPv6 client with many addresses is one client: its /64
    assert await guesses(proxied, "2001:db8:1:2::1", 2) == [401, 401]
    assert await guesses(proxied, "2001:db8:1:2::beef", 1) == [429]
    assert await guesses(proxied, "2001:db8:1:3::1", 1) == [401]
    server.failures.clear()
    async with await proxied.get("/api/v1/status", "ada", headers={"X-Forwarded-For": "203.0.113.5"}) as r:
        assert r.status == 200


async def proxied_get(port: int, client: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A keep-alive connection through the proxy with one request for ``client``: (its streams, the status line)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {client}\r\n\r\n".encode())
    await writer.drain()
    async with asyncio.timeout(10):
        status = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)  # the answer read whole: the connection is idle, kept alive
    return reader, writer, status


async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, client: str,
               token: str | None = None) -> bytes:
    """One more request on an open keep-alive connection, for ``client`` (as a proxy forwards it): its status line,
    the answer read whole (an event stream, which has no length, is left open)."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {client}\r\n{auth}\r\n".encode())
    await writer.drain()
    async with asyncio.timeout(10):
        status = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
    return status


@pytest.mark.asyncio(loop_scope="module")
async def test_a_proxys_pooled_connection_is_no_clients_own(proxied):
    """nginx with an upstream keepalive pool sends many clients' requests on one connection: the connection a
    client's request happened to open first is not that client's, so its idle pooled connections never refuse it."""
    server = running_server(proxied.bot.operator)
    port = int(proxied.url.rsplit(":", 1)[1])
    refused = server.refused_connections
    pooled = [await proxied_get(port, "203.0.113.20") for _ in range(3)]  # max_connections_per_address is 2
    try:
        assert [status for *_, status in pooled] == [b"HTTP/1.1 200 OK\r\n"] * 3
        # the same connections carry other clients' requests, and the first client's again
        for n, (reader, writer, _) in enumerate(pooled):
            assert await send(reader, writer, "/api/openapi.json", f"198.51.100.{20 + n}") == b"HTTP/1.1 200 OK\r\n"
            assert await send(reader, writer, "/api/openapi.json", "203.0.113.20") == b"HTTP/1.1 200 OK\r\n"
        assert server.refused_connections == refused
    finally:
        for _, writer, _ in pooled:
            writer.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_on_a_pooled_connection_each_request_is_charged_to_its_own_client(proxied):
    """Client B's wrong tokens on a connection client A's request opened are B's, never A's."""
    server = running_server(proxied.bot.operator)
    server.failures.clear()
    port = int(proxied.url.rsplit(":", 1)[1])
    reader, writer, status = await proxied_get(port, "203.0.113.30")  # A opens the connection
    try:
        assert status == b"HTTP/1.1 200 OK\r\n"
        guesses_of_b = [await send(reader, writer, "/api/v1/status", "198.51.100.30", f"guess-{i}")
                        for i in range(3)]  # auth_failures_per_min is 2
        assert guesses_of_b == [b"HTTP/1.1 401 Unauthorized\r\n"] * 2 + [b"HTTP/1.1 429 Too Many Requests\r\n"]
        assert await send(reader, writer, "/api/v1/status", "203.0.113.30", TOKENS["ada"][1]) == b"HTTP/1.1 200 OK\r\n"
        assert await send(reader, writer, "/api/v1/status", "203.0.113.30", "guess-a") == (
            b"HTTP/1.1 401 Unauthorized\r\n")  # A's own first wrong token: counted from 0
    finally:
        server.failures.clear()
        writer.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_behind_the_proxy_a_clients_requests_in_flight_are_capped_not_the_connections_it_opened(proxied):
    """Through a trusted proxy, max_connections_per_address caps one client's requests in progress (an event stream
    is one as long as it is open), whichever pooled connection carries them, as its connections cap a direct client."""
    ok, refused = b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 429 Too Many Requests\r\n"
    events = ("/api/v1/events", "203.0.113.40", TOKENS["vera"][1])  # client A's event stream
    server = running_server(proxied.bot.operator)
    port = int(proxied.url.rsplit(":", 1)[1])
    pooled = [await proxied_get(port, "198.51.100.40") for _ in range(2)]  # B's requests opened both
    opened = list(pooled)
    try:
        # A streams events on both of them: two requests of A in flight, the cap
        for reader, writer, _ in pooled:
            assert await send(reader, writer, *events) == ok
        third = await proxied_get(port, "198.51.100.41")
        opened.append(third)
        assert await send(third[0], third[1], *events) == refused
        # B, whose requests opened the connections A's streams hold, has none in flight: not refused
        fourth = await proxied_get(port, "198.51.100.40")
        opened.append(fourth)
        assert fourth[2] == ok
        # the refusal did not close the proxy's connection: it carries the next client's request
        assert await send(third[0], third[1], "/api/openapi.json", "198.51.100.42") == ok
        # one of A's streams ends: A may open another
        pooled[0][1].close()
        await wait_for(lambda: server._open_from.get("203.0.113.40") == 1, what="the ended stream forgotten")
        assert await send(third[0], third[1], *events) == ok
    finally:
        for _, writer, _ in opened:
            writer.close()
