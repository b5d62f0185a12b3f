"""The stream server against the real ``websockets`` client on 127.0.0.1: auth, resume, limits."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal

import pytest
from nacl.signing import SigningKey
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bot.clock import ManualClock
from bot.domain import AlertLevel, Fill, FillApplied, Liquidity, OrderStatus, OrderUpdate, Side
from plugins.stream import running_server
from plugins.stream.protocol import challenge_payload, public_key_of, sign
from tests.helpers.waiting import wait_for

ALICE = SigningKey.generate()
BOB = SigningKey.generate()
MALLORY = SigningKey.generate()


def stream_toml(**extra) -> str:
    lines = [f"{k} = {json.dumps(v) if isinstance(v, str) else v}" for k, v in extra.items()]
    return ("[plugins.stream]\nenabled = true\nport = 0\n"
            f'clients = {{ alice = "viewer:{public_key_of(ALICE)}", bob = "admin:{public_key_of(BOB)}" }}\n'
            + "\n".join(lines) + "\n")


async def start(make_bot, clock=None, **extra):
    bot = await make_bot(stream_toml(**extra), clock=clock)
    server = running_server(bot.operator)
    assert server is not None
    return bot, server, f"ws://127.0.0.1:{server.port}"


async def recv(ws, timeout_s: float = 5.0) -> dict:
    async with asyncio.timeout(timeout_s):
        return json.loads(await ws.recv())


def auth_frame(challenge: dict, key: SigningKey, claimed: SigningKey | None = None) -> str:
    return json.dumps({"type": "auth", "key": public_key_of(claimed or key), "nonce": challenge["nonce"],
                       "ts": challenge["ts"], "sig": sign(key, challenge_payload(challenge["nonce"], challenge["ts"]))})


async def login(url: str, key: SigningKey = ALICE, **kwargs):
    ws = await connect(url, proxy=None, **kwargs)
    challenge = await recv(ws)
    await ws.send(auth_frame(challenge, key))
    welcome = await recv(ws)
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


async def refused(ws) -> tuple[dict, int]:
    """The error frame, then the close code, of a refused connection."""
    error = await recv(ws)
    with pytest.raises(ConnectionClosed) as info:
        await recv(ws)
    return error, info.value.rcvd.code


def fill(n: int) -> Fill:
    return Fill(exchange="paper", symbol="BTC/USD", client_order_id="g-1", trade_id=f"t{n}", side=Side.BUY,
                price=Decimal("30000.10"), qty=Decimal("0.01"), fee=Decimal("0.048"), fee_asset="USD",
                liquidity=Liquidity.MAKER, ts_ns=n)


def applied(n: int) -> FillApplied:
    """A fill as the executor publishes it once applied."""
    return FillApplied("g", fill(n))


async def subscribed_events(ws, count: int, channel: str | None = None) -> list[dict]:
    events = []
    while len(events) < count:
        frame = await recv(ws)
        if frame["type"] == "event" and (channel is None or frame["channel"] == channel):
            events.append(frame)
    return events


async def test_disabled_by_default_opens_no_port(make_bot):
    bot = await make_bot("")
    assert running_server(bot.operator) is None


async def test_authenticated_client_receives_orders_with_decimals_as_strings(make_bot):
    bot, server, url = await start(make_bot)
    ws, welcome = await login(url, BOB)
    assert welcome["role"] == "admin" and welcome["client"] == "bob" and welcome["bot"] == bot.name
    await ws.send(json.dumps({"type": "subscribe", "channels": ["orders", "fills"]}))
    assert (await recv(ws))["type"] == "subscribed"
    bot.bus.publish(OrderUpdate(exchange="paper", symbol="BTC/USD", client_order_id="g-1", strategy="g",
                                status=OrderStatus.OPEN, filled_qty=Decimal("0"), avg_fill_price=None, ts_ns=1))
    bot.bus.publish(applied(1))
    orders, fills = await subscribed_events(ws, 2)
    assert orders["channel"] == "orders" and orders["seq"] == 1
    assert orders["data"]["status"] == "open" and orders["data"]["filled_qty"] == "0"
    assert fills["channel"] == "fills" and fills["data"]["price"] == "30000.10" and fills["data"]["side"] == "buy"
    assert orders["bot"] == fills["bot"] == bot.name != ""  # [bot] name: the host name here
    await ws.close()


async def test_a_fill_event_names_its_strategy_as_the_web_and_fleet_events_do(make_bot):
    bot, server, url = await start(make_bot)
    ws, _ = await login(url, BOB)
    await ws.send(json.dumps({"type": "subscribe", "channels": ["fills"]}))
    assert (await recv(ws))["type"] == "subscribed"
    bot.bus.publish(applied(1))
    [event] = await subscribed_events(ws, 1)
    # a client splits fills and fees per strategy: the same fields as the fleet bus's and the web console's
    assert event["data"]["strategy"] == "g"
    from bot.api.kit import fill_data
    from plugins.web.views import fill_view

    assert event["data"] == fill_data(applied(1)) == fill_view("g", fill(1))
    await ws.close()


async def test_bad_signature_is_refused_and_logged(make_bot, caplog):
    _, server, url = await start(make_bot)
    ws = await connect(url, proxy=None)
    challenge = await recv(ws)
    with caplog.at_level(logging.WARNING, "arbot.stream"):
        await ws.send(auth_frame(challenge, MALLORY, claimed=ALICE))  # alice's key, mallory's signature
        error, code = await refused(ws)
    assert error == {"type": "error", "code": "auth_failed", "message": "authentication failed"}
    assert code == 4001
    assert server.refusals["bad signature"] == 1
    assert "bad signature" in caplog.text


async def test_unknown_key_is_refused(make_bot, caplog):
    _, server, url = await start(make_bot)
    ws = await connect(url, proxy=None)
    with caplog.at_level(logging.WARNING, "arbot.stream"):
        await ws.send(auth_frame(await recv(ws), MALLORY))
        _, code = await refused(ws)
    assert code == 4001 and server.refusals["unknown key"] == 1
    assert "unknown key" in caplog.text


async def test_replayed_challenge_answer_is_refused(make_bot):
    _, server, url = await start(make_bot)
    first = await connect(url, proxy=None)
    answer = auth_frame(await recv(first), ALICE)
    await first.send(answer)
    assert (await recv(first))["type"] == "welcome"
    second = await connect(url, proxy=None)  # an eavesdropper replays the captured answer
    await recv(second)
    await second.send(answer)
    _, code = await refused(second)
    assert code == 4001 and server.refusals["replayed challenge"] == 1
    await first.close()


async def test_expired_challenge_is_refused(make_bot):
    clock = ManualClock()
    _, server, url = await start(make_bot, clock=clock, challenge_ttl_s=5.0)
    ws = await connect(url, proxy=None)
    challenge = await recv(ws)
    clock.advance(5.5)
    await ws.send(auth_frame(challenge, ALICE))
    _, code = await refused(ws)
    assert code == 4001 and server.refusals["expired challenge"] == 1


async def test_reconnect_with_since_receives_exactly_the_missed_events_in_order(make_bot):
    bot, server, url = await start(make_bot)
    ws, _ = await login(url)
    await ws.send(json.dumps({"type": "subscribe", "channels": ["fills"]}))
    assert (await recv(ws))["type"] == "subscribed"
    for n in (1, 2, 3):
        bot.bus.publish(applied(n))
    seen = await subscribed_events(ws, 3)
    assert [e["seq"] for e in seen] == [1, 2, 3]
    await ws.close()
    await wait_for(lambda: not server.clients, what="server to forget the client")
    for n in (4, 5, 6):
        bot.bus.publish(applied(n))  # missed while away

    ws, welcome = await login(url)
    assert welcome["channels"]["fills"] == 6
    await ws.send(json.dumps({"type": "subscribe", "channels": ["fills"], "since": {"fills": 3},
                              "epoch": welcome["epoch"]}))
    bot.bus.publish(applied(7))  # live again
    frames = []
    while len(frames) < 5:
        frames.append(await recv(ws))
    assert frames[0]["type"] == "subscribed"  # with fills at 6 or 7: 7 may be published before or after
    assert [(f["type"], f["seq"], f["data"]["trade_id"]) for f in frames[1:]] == [
        ("event", 4, "t4"), ("event", 5, "t5"), ("event", 6, "t6"), ("event", 7, "t7")]
    await ws.close()


async def test_since_older_than_the_buffer_gets_a_reset(make_bot):
    bot, server, url = await start(make_bot, buffer_events=5)
    for n in range(1, 11):
        bot.bus.publish(applied(n))
    ws, _ = await login(url)
    await ws.send(json.dumps({"type": "subscribe", "channels": ["fills"], "since": {"fills": 2}}))
    assert (await recv(ws))["type"] == "subscribed"
    reset = await recv(ws)
    assert reset["type"] == "reset" and reset["channel"] == "fills" and reset["seq"] == 10
    assert "no longer buffered" in reset["reason"]
    bot.bus.publish(applied(11))
    assert (await recv(ws))["seq"] == 11
    await ws.close()


async def test_python_client_resumes_by_itself_after_a_dropped_connection(make_bot):
    from plugins.stream.client import StreamClient

    bot, server, url = await start(make_bot)
    client = StreamClient(url, ALICE, ["fills"])
    got: list[int] = []

    async def consume():
        async for frame in client.events():
            if frame["type"] == "event":
                got.append(frame["seq"])

    task = asyncio.create_task(consume())
    try:
        await wait_for(lambda: len(server.clients) == 1 and server.channels["fills"].subscribers, what="subscribed")
        for n in (1, 2, 3):
            bot.bus.publish(applied(n))
        await wait_for(lambda: got == [1, 2, 3], what="first events")
        client.ws.transport.abort()  # the network drops...
        for n in (4, 5, 6):
            bot.bus.publish(applied(n))  # ...and these are written to a dead connection
        await wait_for(lambda: got == [1, 2, 3, 4, 5, 6], what="missed events after resuming")
        bot.bus.publish(applied(7))
        await wait_for(lambda: got == [1, 2, 3, 4, 5, 6, 7], what="live event")
        assert server.stats["authenticated"] == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()


async def test_a_client_that_reads_nothing_is_dropped_and_the_others_keep_up(make_bot):
    bot, server, url = await start(make_bot, client_buffer_bytes=65536)
    stuck, _ = await login(url, max_queue=1)  # never reads: its client soon stops reading the socket
    good, _ = await login(url, BOB)
    for ws in (stuck, good):
        await ws.send(json.dumps({"type": "subscribe", "channels": ["alerts"]}))
    assert (await recv(good))["type"] == "subscribed"
    await wait_for(lambda: len(server.channels["alerts"].subscribers) == 2, what="both subscribed")

    received = 0

    async def read_good():
        nonlocal received
        async for _ in good:
            received += 1

    reader = asyncio.create_task(read_good())
    published = 0
    padding = "x" * 4000
    try:
        while server.stats["dropped: slow consumer"] == 0:
            assert published < 20000, "the stuck client was never dropped"
            for _ in range(50):  # publishing is synchronous: it cannot wait for any client
                bot.alert(AlertLevel.INFO, "test", f"event {published}", padding=padding)
                published += 1
            await wait_for(lambda n=published: received >= n, what="the good client to keep up")
        assert len(server.clients) == 1 and [c.name for c in server.clients] == ["bob"]
        for _ in range(100):  # after the drop the good client still gets every event
            bot.alert(AlertLevel.INFO, "test", f"event {published}")
            published += 1
        await wait_for(lambda: received >= published, what="events after the drop")
        assert received == published
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await good.close()
        stuck.transport.abort()


async def test_malformed_frames_get_an_error_frame_and_the_server_stays_up(make_bot):
    _, server, url = await start(make_bot)
    ws, _ = await login(url)
    for bad in ("not json", "[1, 2]", '{"type": "frobnicate"}', '{"type": "subscribe", "channels": ["nope"]}',
                '{"type": "subscribe", "channels": ["fills"], "since": {"fills": -1}}', b"\x00\x01"):
        await ws.send(bad)
        error = await recv(ws)
        assert error["type"] == "error" and error["code"] == "bad_frame", (bad, error)
    await ws.send('{"type": "ping"}')
    assert (await recv(ws))["type"] == "pong"
    other, _ = await login(url, BOB)  # and others can still connect
    assert server.stats["bad frames"] == 6
    await ws.close()
    await other.close()


async def test_malformed_auth_frame_is_refused_without_harm(make_bot):
    _, server, url = await start(make_bot)
    ws = await connect(url, proxy=None)
    await recv(ws)
    await ws.send("{not json")
    _, code = await refused(ws)
    assert code == 4001 and server.refusals["malformed auth frame"] == 1
    ws, _ = await login(url)
    await ws.close()


async def test_connections_per_key_are_limited(make_bot):
    _, server, url = await start(make_bot, max_connections_per_key=1)
    first, _ = await login(url)
    second = await connect(url, proxy=None)
    await second.send(auth_frame(await recv(second), ALICE))
    error, code = await refused(second)
    assert error["code"] == "too_many_connections" and code == 4003
    other, _ = await login(url, BOB)  # another key is not affected
    await first.close()
    await other.close()


async def test_a_client_sending_too_many_frames_is_disconnected(make_bot):
    _, server, url = await start(make_bot, client_message_burst=3, client_messages_per_s=0.001)
    ws, _ = await login(url)
    for _ in range(4):
        await ws.send('{"type": "ping"}')
    frames = [await recv(ws) for _ in range(4)]
    assert [f["type"] for f in frames] == ["pong", "pong", "pong", "error"]
    assert frames[3]["code"] == "too_many_messages"
    with pytest.raises(ConnectionClosed) as info:
        await recv(ws)
    assert info.value.rcvd.code == 4029


async def test_snapshot_channels_and_alerts(make_bot):
    bot, server, url = await start(make_bot)
    ws, _ = await login(url)
    await ws.send(json.dumps({"type": "subscribe", "channels": ["portfolio", "status", "alerts"]}))
    assert (await recv(ws))["type"] == "subscribed"
    portfolio, status = await recv(ws), await recv(ws)
    assert portfolio["type"] == "snapshot" and portfolio["data"]["positions"] == []
    assert status["type"] == "snapshot" and status["data"]["mode"] == "paper"
    bot.alert(AlertLevel.WARNING, "risk", "limits blocked an order", notional=Decimal("1000.5"))
    alert = (await subscribed_events(ws, 1, "alerts"))[0]
    assert alert["data"]["level"] == "warning" and alert["data"]["fields"] == {"notional": "1000.5"}
    bot.portfolio.on_fill(fill(1))  # as the executor does for one of our fills, which it then publishes
    bot.bus.publish(applied(1))
    portfolio = (await subscribed_events(ws, 1, "portfolio"))[0]
    assert portfolio["data"]["positions"] == [{"exchange": "paper", "symbol": "BTC/USD", "qty": "0.01"}]
    await ws.close()


async def test_opportunities_from_any_plugin_reach_the_channel(make_bot):
    from bot.domain import Opportunity

    bot, server, url = await start(make_bot)
    ws, _ = await login(url)
    await ws.send(json.dumps({"type": "subscribe", "channels": ["opportunities"]}))
    assert (await recv(ws))["type"] == "subscribed"
    bot.bus.publish(Opportunity(strategy="arb", symbol="SOL/USDC", buy_exchange="orca", sell_exchange="kraken",
                                buy_price=Decimal("150.10"), sell_price=Decimal("150.55"), qty=Decimal("2"),
                                edge_bps=Decimal("12.5"), ts_ns=1))
    event = (await subscribed_events(ws, 1))[0]
    assert event["channel"] == "opportunities" and event["data"]["edge_bps"] == "12.5"
    assert event["data"]["acted"] is False
    await ws.close()


def test_client_entries_are_validated_with_their_key_path():
    from bot.config import build_config, parse_toml
    from bot.plugins import collect, load_plugins
    from bot.settings import ConfigError

    registry = collect(load_plugins())
    with pytest.raises(ConfigError) as info:
        build_config(parse_toml('[plugins.stream]\nclients = { a = "root:abc", b = "viewer:AAAA" }\n', "t"),
                     registry, "t")
    issues = [str(i) for i in info.value.issues]
    assert issues[0].startswith('plugins.stream.clients.a: expected "ROLE:BASE64_PUBLIC_KEY"')
    assert issues[1] == ("plugins.stream.clients.b: not an Ed25519 public key: an Ed25519 public key is 32 bytes, "
                         "this is 3")


async def test_a_flood_of_unauthenticated_connections_cannot_lock_out_a_real_client(make_bot):
    _, server, url = await start(make_bot, max_connections=2, max_unauthenticated=4)
    silent = []
    for _ in range(20):  # each takes its challenge and never answers
        ws = await connect(url, proxy=None)
        await recv(ws)
        silent.append(ws)
    await wait_for(lambda: server.stats["evicted_unauthenticated"] >= 16, timeout_s=10)
    assert len(server._waiting) <= 4
    first, _ = await login(url)  # authenticated connections are counted apart: both fit
    second, _ = await login(url, BOB)
    third = await connect(url, proxy=None)  # beyond max_connections: refused once authenticated
    await third.send(auth_frame(await recv(third), ALICE))
    with pytest.raises(ConnectionClosed) as info:
        await recv(third)
    assert info.value.rcvd.code == 1013
    for ws in [first, second, *silent]:
        await ws.close()


async def test_deep_nesting_is_refused_before_parsing_not_a_1011(make_bot, caplog):
    _, server, url = await start(make_bot)
    ws = await connect(url, proxy=None)
    await recv(ws)
    await ws.send("[" * 2000 + "]" * 2000)  # json.loads alone raises RecursionError at this depth
    error, code = await refused(ws)
    assert code == 4001 and error["code"] == "auth_failed"
    assert server.refusals["malformed auth frame"] == 1 and "RecursionError" not in caplog.text
    big = await connect(url, proxy=None)
    await recv(big)
    await big.send("x" * 10_000)  # before authentication, a frame is small
    with pytest.raises(ConnectionClosed) as info:
        await recv(big)
    assert info.value.rcvd.code == 1009
    client, _ = await login(url)
    await client.send('{"type": "ping", "x": ' + "[" * 5000 + "]" * 5000 + "}")
    frame = await recv(client)
    assert frame["code"] == "bad_frame" and "nested deeper" in frame["message"]
    await client.send('{"type": "ping"}')
    assert (await recv(client))["type"] == "pong"
    await client.close()


def unread_socket(port: int):
    """A connected socket with a small receive buffer, for a client that never reads: the server's writes
    back up on its side at once, not after the kernel's megabytes of loopback buffering."""
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


async def test_replies_to_a_client_that_never_reads_are_bounded_too_not_only_live_events(make_bot):
    # every subscribe with since=0 replays the buffered events; a client asking again and again while reading
    # nothing made the server queue them all: its memory grew without bound, and the client was never dropped
    bot, server, url = await start(make_bot, client_buffer_bytes=65536, client_messages_per_s=1000,
                                   client_message_burst=1000)
    for n in range(50):
        bot.alert(AlertLevel.INFO, "test", f"event {n}", padding="x" * 1000)  # 50 kB: one replay fits
    sock = unread_socket(server.port)
    stuck, _ = await login(url, sock=sock, max_queue=1)
    [client] = server.clients
    asked = 0
    try:
        while server.stats["dropped: slow consumer"] == 0:
            assert asked < 400, "the client that reads nothing was never dropped"
            await stuck.send(json.dumps({"type": "subscribe", "channels": ["alerts"], "since": {"alerts": 0}}))
            await stuck.send(json.dumps({"type": "unsubscribe", "channels": ["alerts"]}))
            asked += 1
            await wait_for(lambda n=asked: server.stats["replayed"] >= 50 * n or client.dropped,
                           what="the replay")
            # never more than the limit and one replay queued for it
            assert client.ws.transport.get_write_buffer_size() <= 65536 + 60_000
        assert not server.clients and not server.channels["alerts"].subscribers
        ws, _ = await login(url, BOB)  # the others are served as before
        await ws.close()
    finally:
        stuck.transport.abort()


async def eof(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed this raw connection."""
    try:
        return await reader.read(1024) == b""
    except ConnectionError:
        return True


async def test_connections_that_never_finish_the_websocket_handshake_count_as_waiting_too(make_bot):
    # a TCP connection that sends no HTTP request was not counted at all until websockets' open_timeout (10 s):
    # a stranger opening thousands held as many of the bot's file descriptors
    _, server, url = await start(make_bot, max_unauthenticated=4)
    raw = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(20)]
    async with asyncio.timeout(3):
        closed = await asyncio.gather(*(eof(reader) for reader, _ in raw[:16]))
    assert all(closed) and server.stats["evicted_unauthenticated"] == 16
    assert len(server._waiting) == 4
    ws, _ = await login(url)  # a real client still gets in
    await ws.close()
    for _, writer in raw:
        writer.close()
    await wait_for(lambda: not server._waiting, what="closed connections forgotten")
    assert not server._waiting_from  # by address too


async def test_a_flood_from_one_address_evicts_its_own_connections_not_another_addresss_login(make_bot):
    _, server, url = await start(make_bot, max_unauthenticated=8, max_unauthenticated_per_address=2)
    real = await connect(url, proxy=None, local_addr=("127.0.0.2", 0))
    challenge = await recv(real)  # the real client is about to answer when the flood comes
    flood = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(20)]
    await wait_for(lambda: server.stats["evicted_unauthenticated"] >= 18, what="the flood evicting itself")
    await real.send(auth_frame(challenge, ALICE))
    assert (await recv(real))["type"] == "welcome"
    await real.close()
    for _, writer in flood:
        writer.close()


async def test_frames_websockets_itself_refuses_are_counted_and_logged_too(make_bot, caplog):
    # a frame too big or a text frame that is not UTF-8 closed the connection inside websockets (1009, 1007)
    # without a word in the log or a count: the bad frames a stranger sent left no trace
    _, server, url = await start(make_bot, max_frame_bytes=1024)
    stranger = await connect(url, proxy=None)
    await recv(stranger)
    await stranger.send("x" * 10_000)  # before authentication: a refused answer
    with pytest.raises(ConnectionClosed) as info:
        await recv(stranger)
    assert info.value.rcvd.code == 1009
    await wait_for(lambda: server.refusals["malformed auth frame"] == 1, what="the refusal counted")
    for bad, code in (("x" * 2000, 1009), (b"\xff\xfe", 1007)):
        client, _ = await login(url)
        await client.send(bad, text=True)
        with pytest.raises(ConnectionClosed) as info:
            await recv(client)
        assert info.value.rcvd.code == code
    await wait_for(lambda: server.stats["bad frames"] == 2, what="both bad frames counted")
    assert caplog.text.count("stream: bad frame from 127.0.0.1") == 2
    assert "refused 127.0.0.1" in caplog.text and "malformed auth frame" in caplog.text


async def test_a_client_flooding_websocket_pings_while_reading_nothing_is_dropped(make_bot):
    # websockets answers each ping with a pong by itself, outside the frames the server counts and bounds: a
    # client sending pings and reading nothing grew the bot's memory by every pong, subscribed or not
    import os
    import socket

    _, server, url = await start(make_bot, client_buffer_bytes=65536)
    stuck, _ = await login(url, sock=unread_socket(server.port), max_queue=1)
    [client] = server.clients
    client.ws.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    stuck.transport.pause_reading()  # it reads nothing more, and sends no frame the server would answer itself
    try:
        for _ in range(2000):  # 250 kB of pongs
            await stuck.ping(os.urandom(125))
        await wait_for(lambda: client.dropped or client.ws.transport.get_write_buffer_size() > 2 * 65536,
                       what="the pongs to back up")
        assert client.dropped and server.stats["dropped: slow consumer"] == 1
        await wait_for(lambda: not server.clients, what="the client forgotten")
    finally:
        stuck.transport.abort()


async def test_a_stranger_flooding_websocket_pings_before_authenticating_is_cut_off(make_bot):
    import os
    import socket

    _, server, url = await start(make_bot, client_buffer_bytes=65536)
    stranger = await connect(url, proxy=None, sock=unread_socket(server.port))
    await recv(stranger)  # its challenge, never answered
    [waiting] = server._waiting
    waiting.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    stranger.transport.pause_reading()
    try:
        for _ in range(2000):
            await stranger.ping(os.urandom(125))
        await wait_for(lambda: waiting.transport.is_closing() or waiting.transport.get_write_buffer_size() > 2 * 65536,
                       what="the pongs to back up")
        assert waiting.transport.is_closing() and server.stats["dropped: slow consumer"] == 1
        await wait_for(lambda: not server._waiting, what="the stranger forgotten")
    finally:
        stranger.transport.abort()


async def test_a_restarted_client_resuming_from_a_saved_position_is_told_the_bot_restarted_too(make_bot):
    # a client that persisted last_seq (as docs/stream.md told it to) could not persist the server's epoch: after
    # both restarted, since=3 against the new run's sequence numbers gave its events 4, 5 as if nothing was missed
    from plugins.stream.client import StreamClient

    bot, server, url = await start(make_bot)
    for n in (1, 2, 3):
        bot.bus.publish(applied(n))
    first = StreamClient(url, ALICE, ["fills"], since={"fills": 0})
    frames = []
    async for frame in first.events(reconnect=False):
        frames.append(frame)
        if len(frames) == 3:
            break
    await first.close()
    saved = first.position()
    assert saved == {"epoch": server.epoch, "since": {"fills": 3}}
    service = bot.operator.service("stream")
    await service.stop()  # the bot restarts: its stream numbers from 1 again
    await service.start()
    server = running_server(bot.operator)
    for n in (4, 5, 6, 7, 8):
        bot.bus.publish(applied(n))
    again = StreamClient(f"ws://127.0.0.1:{server.port}", ALICE, ["fills"], **saved)
    async for frame in again.events(reconnect=False):
        assert frame["type"] == "reset" and "restarted" in frame["reason"] and frame["seq"] == 5, frame
        break
    await again.close()


async def test_the_python_client_gives_up_on_a_server_that_never_sends_its_challenge(tmp_path):
    # a WebSocket server that accepts and then says nothing (a wrong service on that port, a stuck bot) held the
    # client in open() for ever, `arbot watch` silent, since websockets' keepalive pings are still answered
    from websockets.asyncio.server import serve

    from plugins.stream.client import StreamClient

    async def silent(ws):
        await ws.wait_closed()

    async with serve(silent, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = StreamClient(f"ws://127.0.0.1:{port}", ALICE, ["fills"], handshake_timeout_s=0.2)
        opening = asyncio.create_task(client.open())
        done, _ = await asyncio.wait([opening], timeout=5)
        assert done, "open() still waiting for a challenge"
        assert isinstance(opening.exception(), TimeoutError)


async def test_a_refused_or_evicted_stranger_that_reads_nothing_is_not_held_for_a_closing_handshake(make_bot):
    # a refused or evicted connection was closed politely: the server waited up to 2 s for the stranger's own
    # close frame, no longer counted as waiting, so a stranger refused at a high rate held that many descriptors
    _, server, url = await start(make_bot, max_unauthenticated=2)
    strangers = []
    for n in range(10):
        ws = await connect(url, proxy=None)
        await recv(ws)
        if n < 5:
            await ws.send("{not json")  # refused
        ws.transport.pause_reading()  # and it never answers the close
        strangers.append(ws)
    await wait_for(lambda: server.refusals["malformed auth frame"] == 5, what="five refused")
    await wait_for(lambda: server.stats["evicted_unauthenticated"] >= 3, what="the oldest waiting evicted")
    await wait_for(lambda: server.open_connections <= 2, timeout_s=1.0, what="refused and evicted ones gone")
    for ws in strangers:
        ws.transport.abort()


async def test_the_streams_refusals_drops_and_connections_are_in_status_and_the_metrics(make_bot):
    """Its bad frames, drops, refusals and open connections were readable only through the server object: no status
    page or metric showed them. The stream publishes them the generic way (Service.status/counters/gauges), so
    /status shows them and the metrics plugin exports them without knowing the stream."""
    from bot.api import Caller
    from bot.builtins import status
    from plugins.metrics import running_exporter
    from tests.plugins.metrics.test_metrics_exporter import scrape, value

    bot = await make_bot('name = "alpha"\n' + stream_toml() + "[plugins.metrics]\nenabled = true\nport = 0\n")
    server = running_server(bot.operator)
    url = f"ws://127.0.0.1:{server.port}"
    ws = await connect(url, proxy=None)
    await ws.send(auth_frame(await recv(ws), MALLORY))
    await refused(ws)
    kept, _ = await login(url, ALICE)
    await wait_for(lambda: server.refusals["unknown key"] == 1 and server.stats["authenticated"] == 1)
    rows = dict((await status(bot.operator, Caller("local", "uid:0", "admin"), [])).rows)
    assert rows["stream clients"].startswith("1 connected"), rows
    assert rows["stream refused"] == "unknown key 1", rows
    samples = await scrape(running_exporter(bot.operator).port)
    assert value(samples, "arbot_service_counter_total", service="stream", figure="refused_unknown_key") == 1
    assert value(samples, "arbot_service_counter_total", service="stream", figure="authenticated") == 1
    assert value(samples, "arbot_service_counter_total", service="stream", figure="bad_frames") == 0
    assert value(samples, "arbot_service_gauge", service="stream", figure="clients") == 1
    assert value(samples, "arbot_service_gauge", service="stream", figure="open_connections") >= 1
    await kept.close()
