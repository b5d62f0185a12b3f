"""What a stop cut off by ``[bot] shutdown_timeout_s`` says held it, and what it still undoes: the Discord notifier's
stop sends what is queued, closes the client and releases the chat token's lease; only the first is sending."""

from __future__ import annotations

import logging
import threading

import discord.gateway
import discord.http

from tests.fakes.discord_api import FakeDiscord
from tests.helpers.waiting import wait_for
from tests.plugins.discord.test_discord import start_bot


async def test_a_stop_held_by_the_token_lease_release_names_the_lease_and_restores_the_endpoints(make_bot,
                                                                                                 monkeypatch, caplog):
    public = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    # the endpoints are process-wide: whatever this test leaves, the next one finds them as they were
    monkeypatch.setattr(discord.http.Route, "BASE", public[0])
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", public[1])
    async with FakeDiscord() as fake:
        # a stop of 0.5 s: the notifiers get the 1 s floor, less than the 2 s the lease release waits for the database
        bot = await start_bot(make_bot, fake, monkeypatch, bot_keys="shutdown_timeout_s = 0.5\n")
        dc = bot.notifiers["dc"]
        await wait_for(fake.ready.is_set, what="the client to identify on the fake gateway")
        assert discord.http.Route.BASE == fake.api_base

        database_answers = threading.Event()
        held = dc.lease._lease
        release = held.release
        calls: list[str] = []

        def unlock_unanswered() -> None:
            """The stop's release waits on a database that does not answer; the store's close finds it answering."""
            calls.append(threading.current_thread().name)
            if len(calls) == 1:
                database_answers.wait(60)
            release()

        monkeypatch.setattr(held, "release", unlock_unanswered)
        caplog.set_level(logging.INFO)
        try:
            await bot.stop()
        finally:
            database_answers.set()
    assert calls, "the stop never released the token lease"
    assert (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == public
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    about_dc = [line for line in said if "notifier dc" in line or line.startswith("discord")]
    assert not any("sending" in line for line in about_dc), about_dc  # nothing was left to send
    assert any("token lease" in line for line in about_dc), about_dc
