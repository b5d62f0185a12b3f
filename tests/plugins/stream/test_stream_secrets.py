"""A known secret never leaves through the stream: an order's reason (a venue's error text, which can quote a request
with its key) is masked in every event, as the web console masks its answers and live events."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal

from websockets.asyncio.client import connect

from bot.api import Secret
from bot.domain import OrderStatus, OrderUpdate
from plugins.stream import running_server
from tests.helpers import secret_kit
from tests.plugins.stream.test_stream_server import BOB, login, recv, refused, start, stream_toml


async def test_stream_orders_channel_masks_a_known_secret_in_the_reason(make_bot, monkeypatch):
    key = "sk-live-stream-0123456789"
    monkeypatch.setenv("ARBOT_AUDIT_VENUE_KEY", key)
    Secret("env:ARBOT_AUDIT_VENUE_KEY").resolve()  # known to the redactor, as every env:/file: setting is
    bot, server, url = await start(make_bot)
    ws, _ = await login(url, BOB)
    await ws.send(json.dumps({"type": "subscribe", "channels": ["orders"]}))
    assert (await recv(ws))["type"] == "subscribed"
    # what the executor puts in an order's reason when a venue refuses it: the exception text, here quoting the
    # request with its key (as a ccxt error quotes its URL)
    bot.bus.publish(OrderUpdate(exchange="paper", symbol="BTC/USD", client_order_id="g-1", strategy="g",
                                status=OrderStatus.REJECTED, filled_qty=Decimal("0"), avg_fill_price=None, ts_ns=1,
                                reason=f"PermanentError: 401 for https://venue.example/order?apikey={key}"))
    async with asyncio.timeout(5):
        while True:
            raw = await ws.recv()
            if json.loads(raw).get("type") == "event":
                break
    await ws.close()
    assert key not in raw, raw  # the web console serves the same reason as "apikey=***"
    assert json.loads(raw)["data"]["reason"] == "PermanentError: 401 for https://venue.example/order?apikey=***"


async def test_stream_status_channel_masks_a_known_secret_in_a_failed_strategys_state(make_bot, monkeypatch):
    """The status channel's strategies: a strategy failed on a venue's refusal shows the exception, which quotes
    the venue's request with its key; it is masked as the fleet's heartbeat and the web console mask it."""
    secret_kit.know_the_key(monkeypatch)
    bot = await make_bot(secret_kit.TOML + stream_toml(status_every_s=0.1), extra=[("secret-kit", secret_kit.plugin)])
    url = f"ws://127.0.0.1:{running_server(bot.operator).port}"
    ws, _ = await login(url, BOB)
    await ws.send(json.dumps({"type": "subscribe", "channels": ["status"]}))
    assert (await recv(ws))["type"] == "subscribed"
    await secret_kit.reject_an_order(bot)
    async with asyncio.timeout(10):
        while True:
            raw = await ws.recv()
            frame = json.loads(raw)
            state = frame.get("data", {}).get("strategies", {}).get("s", "")
            if frame.get("type") == "event" and state.startswith("failed"):
                break
    await ws.close()
    assert secret_kit.KEY not in raw and secret_kit.MASKED in state, raw


async def test_an_unknown_key_that_is_a_known_secret_is_logged_masked_not_cut(make_bot, monkeypatch, caplog):
    """A refused key is quoted short in the log; a client sending a known secret as its key (a key pasted into the
    wrong field) sees it masked before it is cut, so not even its first characters are shown."""
    key = "sk-live-stream-0123456789"
    monkeypatch.setenv("ARBOT_AUDIT_VENUE_KEY", key)
    Secret("env:ARBOT_AUDIT_VENUE_KEY").resolve()
    _, server, url = await start(make_bot)
    ws = await connect(url, proxy=None)
    challenge = await recv(ws)
    with caplog.at_level(logging.WARNING, "arbot.stream"):
        await ws.send(json.dumps({"type": "auth", "key": key, "nonce": challenge["nonce"], "ts": challenge["ts"],
                                  "sig": "00"}))
        _, code = await refused(ws)
    assert code == 4001 and server.refusals["unknown key"] == 1
    assert "unknown key" in caplog.text and key[:6] not in caplog.text, caplog.text


async def test_a_strangers_text_reaches_the_log_with_its_control_characters_escaped(make_bot, caplog):
    # a refusal quotes what the stranger sent (its frame's type, its key): an escape sequence in it went to the
    # bot's log as it came, and the operator's terminal obeyed it (a retitled window, a cleared screen)
    _, server, url = await start(make_bot)
    with caplog.at_level(logging.WARNING, "arbot.stream"):
        for frame in ({"type": "\x1b]0;owned\x07\x1b[2J"},
                      {"type": "auth", "key": "\x1b[2J\x1b[H\x9b", "nonce": "n", "ts": 1, "sig": "s"}):
            ws = await connect(url, proxy=None)
            challenge = await recv(ws)
            if frame["type"] == "auth":
                frame = {**frame, "nonce": challenge["nonce"], "ts": challenge["ts"]}
            await ws.send(json.dumps(frame))
            await refused(ws)
    assert server.refusals["malformed auth frame"] == 1 and server.refusals["unknown key"] == 1
    logged = [r.getMessage() for r in caplog.records  # the refusals (an INFO line may be there: another test's level)
              if r.name == "arbot.stream" and r.levelno >= logging.WARNING]
    assert len(logged) == 2 and "\\x1b" in logged[0] and "\\x1b" in logged[1], logged
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for line in logged for c in line), logged
