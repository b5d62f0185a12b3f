"""What a stop cut off while sending (``[bot] shutdown_timeout_s``) leaves behind: nothing. Discord holds the alert
channel back (429, retry after 30 s) and the notifier may drain for 30 s: the host cuts its stop off first. Before, the
outbox's send task went on waiting out the 429 after the bot's stop returned, the client (its HTTP session and gateway)
stayed open, and the alert it never sent was counted nowhere. Now the cut-off stop cancels the sends, closes the client
and says what was not sent, within the stop's bound."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time

import discord.gateway
import discord.http

from bot.domain import AlertLevel
from tests.fakes.discord_api import ALERT_CHANNEL_ID, FakeDiscord
from tests.helpers.waiting import wait_for
from tests.plugins.discord.test_discord import start_bot

SHUTDOWN_S = 0.5
"""The stop's bound (the notifiers get the host's 1 s floor): far less than the 30 s drain and 429."""


def outbox_tasks(notifier) -> list[asyncio.Task]:
    """The notifier's send tasks still pending (the outbox names each ``<its name>:outbox <channel>``)."""
    prefix = f"{notifier.outbox.name}:outbox "
    return [task for task in asyncio.all_tasks() if task.get_name().startswith(prefix) and not task.done()]


async def test_a_stop_cut_off_while_sending_leaves_no_send_running_nor_the_client_open(make_bot, monkeypatch,
                                                                                      caplog):
    # the endpoints are process-wide: whatever this test leaves, the next one finds them as they were
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY",
                        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        bot = await start_bot(make_bot, fake, monkeypatch, bot_keys=f"shutdown_timeout_s = {SHUTDOWN_S}\n")
        dc = bot.notifiers["dc"]
        dc.settings = dataclasses.replace(dc.settings, drain_on_stop_s=30.0, send_timeout_s=30.0)
        await fake.wait_channel_message(ALERT_CHANNEL_ID, "arbot started")  # nothing else in flight
        fake.rate_limits = [30.0] * 10  # Discord holds the alert channel back for 30 s
        bot.alert(AlertLevel.ERROR, "risk", "feed lost", source="limits")
        await wait_for(lambda: any(status == 429 for _, status in fake.message_times), what="the 429")
        client = dc.client
        assert outbox_tasks(dc) and not client.is_closed()
        caplog.set_level(logging.INFO)
        began = time.monotonic()
        try:
            await bot.stop()
            took_s = time.monotonic() - began
            left_running, left_open = len(outbox_tasks(dc)), not client.is_closed()
            dropped = dc.dropped_alerts()
            said = [r.getMessage() for r in caplog.records
                    if r.levelno >= logging.WARNING or r.getMessage() == "stopped"]
        finally:  # what a stop left behind is not left to the next test
            await dc.outbox.close(0)
            await client.close()
    print(f"the stop took {took_s:.2f} s; send tasks left running: {left_running}; client left open: {left_open}")
    assert (left_running, left_open) == (0, False)
    assert said[-1] == "stopped", said  # what was not sent is said before the stop's last line
    # its alert, and "arbot stopped" queued behind it
    assert any(line.startswith("discord dc: 2 message(s) not sent") for line in said), said
    assert dropped == 2, dropped
    assert took_s < SHUTDOWN_S + 1.0 + 1.5, took_s  # the notifiers' 1 s floor, and the rest of the stop


async def test_a_stop_cut_off_does_not_wait_on_a_gateway_that_does_not_answer_its_close(make_bot, monkeypatch,
                                                                                        caplog):
    """The cut-off's close of the client waits for the gateway's close handshake a bounded time: a gateway that does
    not answer it holds the stop no longer than that, and says so."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY",
                        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        bot = await start_bot(make_bot, fake, monkeypatch, bot_keys=f"shutdown_timeout_s = {SHUTDOWN_S}\n")
        dc = bot.notifiers["dc"]
        dc.settings = dataclasses.replace(dc.settings, drain_on_stop_s=30.0, send_timeout_s=30.0)
        await fake.wait_channel_message(ALERT_CHANNEL_ID, "arbot started")
        fake.rate_limits = [30.0] * 10
        bot.alert(AlertLevel.ERROR, "risk", "feed lost", source="limits")
        await wait_for(lambda: any(status == 429 for _, status in fake.message_times), what="the 429")
        client = dc.client
        unanswered = asyncio.Event()

        close_in_order = discord.gateway.DiscordClientWebSocketResponse.close

        async def close_unanswered(self, *, code: int = 4000, message: bytes = b"") -> bool:
            """The gateway never answers the close frame (aiohttp would wait for it up to 10 s)."""
            await unanswered.wait()
            return await close_in_order(self, code=code, message=message)

        monkeypatch.setattr(discord.gateway.DiscordClientWebSocketResponse, "close", close_unanswered)
        caplog.set_level(logging.INFO)
        began = time.monotonic()
        stopping = asyncio.ensure_future(bot.stop())
        try:
            done, _ = await asyncio.wait({stopping}, timeout=10)
            took_s = time.monotonic() - began
        finally:  # what a stop left behind is not left to the next test
            unanswered.set()
            await stopping
            await dc.outbox.close(0)
            await client.http.close()
    # (the heartbeat thread was stopped before the close frame went: none calls into this test's loop once it closed)
    await wait_for(lambda: not [t for t in threading.enumerate() if t.name.startswith("keep-alive-handler")],
                   what="the gateway's heartbeat thread to end")
    print(f"the stop took {took_s:.2f} s")
    assert done, "the bot's stop waited on the gateway's answer to its close"
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert ("discord: the client of a stop cut off did not close within 0.5 s (the gateway did not answer): its "
            "sessions end with the process") in said, said
    assert took_s < SHUTDOWN_S + 1.0 + 0.5 + 1.5, took_s
