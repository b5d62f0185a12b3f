"""The metrics endpoint counts clients, not addresses (the rule of ``bot.api.kit.ClientAddresses``): a trusted
proxy's connections are not capped as one client, each client behind it is by the X-Forwarded-For of its request,
and an IPv6 client is its /64. The test client plays the proxy from 127.0.0.2."""

from __future__ import annotations

import asyncio
import socket

from plugins.metrics import running_exporter
from plugins.metrics.settings import MetricsSettings
from tests.helpers.waiting import wait_for

PROXY = "127.0.0.2"


def metrics_toml(**extra) -> str:
    settings = {"enabled": "true", "port": 0, "max_connections": 16, "max_connections_per_address": 2, **extra}
    return "[plugins.metrics]\n" + "".join(f"{key} = {value}\n" for key, value in settings.items())


async def closed(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed (or aborted) this connection without an answer."""
    try:
        async with asyncio.timeout(5):
            return await reader.read() == b""
    except ConnectionError:
        return True


async def connect_from(address: str, port: int, receive_buffer: int | None = None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:  # a client that reads nothing holds the server's answer in its drain
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.bind((address, 0))
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock)


def request(forwarded_for: str | None) -> bytes:
    header = f"X-Forwarded-For: {forwarded_for}\r\n" if forwarded_for else ""
    return f"GET /metrics HTTP/1.1\r\nHost: x\r\n{header}\r\n".encode()


def test_trusted_proxies_default_to_none_and_are_checked():
    assert MetricsSettings().trusted_proxies == []
    assert MetricsSettings(trusted_proxies=["127.0.0.1", "10.0.0.0/8", "fd00::/8"]).validate() == []
    problems = MetricsSettings(trusted_proxies=["10.0.0.0/33", "proxy.example"]).validate()
    assert [key for key, _ in problems] == ["trusted_proxies", "trusted_proxies"]
    assert "proxy.example" in problems[1][1]


async def test_scrapes_through_a_trusted_proxy_are_not_capped_as_one_address(make_bot):
    # every scrape through a reverse proxy comes from the proxy's address: the third one in flight closed the first
    bot = await make_bot(metrics_toml(trusted_proxies=f'["{PROXY}"]'))
    exporter = running_exporter(bot.operator)
    scrapes = [await connect_from(PROXY, exporter.port) for _ in range(4)]
    await wait_for(lambda: len(exporter._open) == 4, what="the proxy's connections accepted")
    for i, (reader, writer) in enumerate(scrapes):
        writer.write(request(f"203.0.113.{i + 1}"))
        async with asyncio.timeout(5):
            assert (await reader.read()).startswith(b"HTTP/1.1 200")
        writer.close()
    assert exporter.evicted == 0


async def test_an_untrusted_peer_is_capped_by_its_address_whatever_its_x_forwarded_for(make_bot):
    bot = await make_bot(metrics_toml(trusted_proxies='["127.0.0.9"]'))
    exporter = running_exporter(bot.operator)
    scrapes = [await connect_from(PROXY, exporter.port) for _ in range(3)]
    await wait_for(lambda: exporter.evicted == 1, what="the address's oldest evicted")
    reader, writer = scrapes[0]
    writer.write(request("203.0.113.1"))
    assert await closed(reader)
    for _, writer in scrapes:
        writer.close()


async def test_each_client_behind_the_trusted_proxy_is_capped_by_itself(make_bot):
    bot = await make_bot(metrics_toml(trusted_proxies=f'["{PROXY}"]', max_connections_per_address=1))
    exporter = running_exporter(bot.operator)
    for n in range(60_000):  # a scrape of a few MB, which a client reading nothing holds in the server's drain
        exporter.market_events[("paper", f"COIN{n}/USD", "book")] = n
    held = []
    for forwarded_for in ("203.0.113.5", "2001:db8:1:2::1", "2001:db8:1:3::1"):
        reader, writer = await connect_from(PROXY, exporter.port, receive_buffer=4096)
        writer.write(request(forwarded_for))
        held.append((reader, writer))
    await wait_for(lambda: len(exporter._open_from) == 3, what="three clients' scrapes in their drain")
    assert exporter.evicted == 0  # three clients behind one proxy: none is capped by the others
    # the same /64 again: that client's oldest goes, not another client's
    reader, writer = await connect_from(PROXY, exporter.port, receive_buffer=4096)
    writer.write(request("2001:db8:1:2::beef"))
    held.append((reader, writer))
    await wait_for(lambda: exporter.evicted == 1, what="the client's own oldest evicted")
    assert sorted(exporter._open_from) == ["2001:db8:1:2::/64", "2001:db8:1:3::/64", "203.0.113.5"]
    for _, writer in held:
        writer.close()
    await wait_for(lambda: not exporter._open and not exporter._open_from, what="closed connections forgotten")


async def test_a_proxys_connection_carries_one_request_so_no_other_client_rides_on_it(make_bot):
    """A proxy pooling its upstream connections (nginx upstream keepalive) cannot send a second client's request on
    a connection counted as the first one's: every answer says Connection: close and the connection closes, so a
    proxied connection is its one request, counted under that request's client only while it is served."""
    bot = await make_bot(metrics_toml(trusted_proxies=f'["{PROXY}"]', max_connections_per_address=1))
    exporter = running_exporter(bot.operator)
    reader, writer = await connect_from(PROXY, exporter.port)
    writer.write(request("203.0.113.5") + request("198.51.100.7"))  # two clients' requests, back to back
    async with asyncio.timeout(5):
        answer = await reader.read()  # to the end: the server closed the connection
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200") and answer.count(b"HTTP/1.1 ") == 1
    assert b"\r\nConnection: close\r\n" in answer
    await wait_for(lambda: not exporter._open and not exporter._open_from, what="the connection forgotten")
    for client in ("203.0.113.5", "198.51.100.7", "203.0.113.5"):  # a cap of 1 each: nothing held over
        reader, writer = await connect_from(PROXY, exporter.port)
        writer.write(request(client))
        async with asyncio.timeout(5):
            assert (await reader.read()).startswith(b"HTTP/1.1 200")
        writer.close()
    assert exporter.evicted == 0
