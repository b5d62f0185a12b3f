"""The stream counts clients waiting to authenticate by client, not by address (the rule of
``bot.api.kit.ClientAddresses``): behind a trusted proxy by the X-Forwarded-For of the WebSocket handshake, an IPv6
client by its /64. The test clients play the proxy from 127.0.0.2."""

from __future__ import annotations

import asyncio
import socket

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from plugins.stream.settings import StreamSettings
from tests.helpers.waiting import wait_for

from .test_stream_server import ALICE, auth_frame, recv, start

PROXY = "127.0.0.2"


async def waiting_through(url: str, forwarded_for: str | None, source: str = PROXY):
    """A connection from ``source`` that has its challenge and has not answered it yet."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else None
    ws = await connect(url, proxy=None, local_addr=(source, 0), additional_headers=headers)
    return ws, await recv(ws)


async def still_open(ws, challenge) -> bool:
    """Whether ``ws`` can still answer its challenge (it was not evicted)."""
    try:
        await ws.send(auth_frame(challenge, ALICE))
        return (await recv(ws))["type"] == "welcome"
    except ConnectionClosed:
        return False


def test_trusted_proxies_default_to_none_and_are_checked():
    assert StreamSettings().trusted_proxies == []
    assert StreamSettings(trusted_proxies=["127.0.0.1", "10.0.0.0/8", "fd00::/8"]).validate() == []
    problems = StreamSettings(trusted_proxies=["10.0.0.0/33", "proxy.example"]).validate()
    assert [key for key, _ in problems] == ["trusted_proxies", "trusted_proxies"]
    assert "proxy.example" in problems[1][1]


async def test_logins_through_a_trusted_proxy_are_not_capped_as_one_address(make_bot):
    # every client of a TLS proxy has the proxy's address: a third login in flight closed the first one's
    _, server, url = await start(make_bot, max_unauthenticated=8, max_unauthenticated_per_address=2,
                                 trusted_proxies=[PROXY])
    logins = [await waiting_through(url, f"203.0.113.{i}") for i in (1, 2, 3)]
    assert server.stats["evicted_unauthenticated"] == 0
    assert [await still_open(ws, challenge) for ws, challenge in logins] == [True, True, True]
    for ws, _ in logins:
        await ws.close()


async def test_each_client_behind_the_trusted_proxy_is_capped_by_itself(make_bot):
    _, server, url = await start(make_bot, max_unauthenticated=8, max_unauthenticated_per_address=2,
                                 trusted_proxies=[PROXY])
    other = await waiting_through(url, "198.51.100.7")
    # one IPv6 client flooding from ever new addresses of its /64 evicts its own oldest, not the other's login
    flood = [await waiting_through(url, f"2001:db8:1:2::{n:x}") for n in range(1, 6)]
    await wait_for(lambda: server.stats["evicted_unauthenticated"] == 3, what="the /64's oldest evicted")
    assert sorted(server._waiting_from) == ["198.51.100.7", "2001:db8:1:2::/64"]
    # nor can it get out by writing another address in its own header: the proxy appends the real one
    flood.append(await waiting_through(url, "198.51.100.8, 2001:db8:1:2::99"))
    await wait_for(lambda: server.stats["evicted_unauthenticated"] == 4, what="the /64's oldest evicted")
    assert await still_open(*other)
    assert [await still_open(ws, challenge) for ws, challenge in flood] == [False] * 4 + [True, True]
    for ws, _ in [other, *flood]:
        await ws.close()
    await wait_for(lambda: not server._waiting and not server._waiting_from, what="closed connections forgotten")


@pytest.mark.parametrize("trusted", [[], ["127.0.0.9"]])
async def test_an_untrusted_peers_x_forwarded_for_is_ignored(make_bot, trusted):
    _, server, url = await start(make_bot, max_unauthenticated=8, max_unauthenticated_per_address=2,
                                 trusted_proxies=trusted)
    logins = [await waiting_through(url, f"203.0.113.{i}") for i in (1, 2, 3)]
    await wait_for(lambda: server.stats["evicted_unauthenticated"] == 1, what="the address's oldest evicted")
    assert list(server._waiting_from) == [PROXY]
    for ws, _ in logins:
        await ws.close()


async def test_a_proxys_connection_carries_one_handshake_so_no_other_client_rides_on_it(make_bot):
    """A proxy pooling its upstream connections (nginx upstream keepalive) cannot send a second client's request on
    a connection counted as the first one's: a request that is no WebSocket handshake is refused and the connection
    closed (and after a handshake the connection is that client's WebSocket, nothing on it is HTTP any more)."""
    _, server, url = await start(make_bot, max_unauthenticated=8, max_unauthenticated_per_address=1,
                                 trusted_proxies=[PROXY])
    port = int(url.rsplit(":", 1)[1])
    plain = "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {}\r\n\r\n"
    one, two = plain.format("203.0.113.5"), plain.format("203.0.113.5") + plain.format("198.51.100.7")
    # one request: 426 and Connection: close; a second client's sent right behind it: closed, neither answered
    for sent, answered in ((one, b"HTTP/1.1 426 Upgrade Required\r\n"), (two, b"")):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((PROXY, 0))
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(sent.encode())
        async with asyncio.timeout(5):
            answer = await reader.read()  # to the end: the server closed the connection
        writer.close()
        assert answer.startswith(answered) and answer.count(b"HTTP/1.1 ") == (1 if answered else 0)
        assert not answered or b"\r\nConnection: close\r\n" in answer
    await wait_for(lambda: not server._waiting and not server._waiting_from, what="the connection forgotten")
    # each of the two clients logs in on a connection of its own, within its own cap of 1
    logins = [await waiting_through(url, client) for client in ("203.0.113.5", "198.51.100.7")]
    assert [await still_open(ws, challenge) for ws, challenge in logins] == [True, True]
    assert server.stats["evicted_unauthenticated"] == 0
    for ws, _ in logins:
        await ws.close()
