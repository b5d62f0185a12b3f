"""One Discord token, one gateway session: a second bot on the same store and token stands by, then takes over."""

from __future__ import annotations

import discord.gateway
import discord.http

from tests.fakes.discord_api import CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.helpers.waiting import wait_for
from tests.plugins.discord.test_discord import start_bot

PLACES = f"guild_ids = [{GUILD_ID}]\nchannel_ids = [{CHANNEL_ID}]\nlease_retry_s = 0.2"


async def test_the_second_bot_stands_by_until_the_first_stops(make_bot, monkeypatch):
    # discord.py's endpoints are process-wide: put them back whatever order the two bots stop in
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY",
                        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        first = await start_bot(make_bot, fake, monkeypatch, places=PLACES)  # one store: make_bot's database
        second = None
        try:
            await wait_for(fake.ready.is_set, what="the first bot's gateway session")
            second = await start_bot(make_bot, fake, monkeypatch, places=PLACES)
            notifier = second.notifiers["dc"]
            assert notifier.client is None and notifier.status()["chat"].startswith("standing by")
            assert first.notifiers["dc"].status() == {"chat": "live"}
            assert fake.identifies == 1
            await first.stop()
            await wait_for(lambda: fake.identifies == 2, timeout_s=20, what="the second bot taking over")
            assert notifier.status() == {"chat": "live"} and notifier.client is not None
        finally:
            await first.stop()
            if second is not None:
                await second.stop()
