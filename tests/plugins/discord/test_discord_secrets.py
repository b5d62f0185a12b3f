"""A known secret never reaches a Discord channel: not in a slash command's reply, not in an alert (see
:mod:`tests.helpers.secret_kit` for where a venue's key lands)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import resolve_secrets
from tests.fakes.discord_api import ALERT_CHANNEL_ID, CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.helpers import secret_kit
from tests.helpers.secret_kit import KEY, MASKED
from tests.helpers.waiting import wait_for
from tests.plugins.discord.test_discord import ADMIN


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def rejected(fake, make_bot, monkeypatch):
    """A started bot whose venue refused order o1 with the key in its text, the key known to the redactor."""
    monkeypatch.setenv("ARBOT_TEST_DISCORD_TOKEN", "discord-test-token")
    secret_kit.know_the_key(monkeypatch)
    bot = await make_bot(secret_kit.TOML + f"""
        [notifiers.dc]
        type = "discord"
        token = "env:ARBOT_TEST_DISCORD_TOKEN"
        api_base = "{fake.api_base}"
        gateway_url = "{fake.gateway_url}"
        guild_ids = [{GUILD_ID}]
        channel_ids = [{CHANNEL_ID}]
        alert_channel_id = {ALERT_CHANNEL_ID}
        min_level = "info"
        users = {{ "{ADMIN}" = "admin" }}
    """, extra=[("secret-kit", secret_kit.plugin)], start=False)
    resolve_secrets(bot.config)
    await bot.start()
    try:
        await wait_for(fake.ready.is_set, what="the client to identify on the fake gateway")
        await secret_kit.reject_an_order(bot)
        yield bot
    finally:
        await bot.stop()


async def test_the_alert_of_an_order_rejected_with_a_key_shows_it_masked(fake, rejected):
    alert = await fake.wait_channel_message(ALERT_CHANNEL_ID, "order o1")  # the refusal alert names it
    assert KEY not in alert["content"] and MASKED in alert["content"], alert["content"]


async def test_a_plugin_commands_reply_quoting_an_orders_reason_is_masked(fake, rejected):
    callback = await fake.slash(ADMIN, "rejects")
    assert "o1" in callback.content
    assert KEY not in callback.content and MASKED in callback.content, callback.content


@pytest.mark.parametrize("command", ["strategies", "status"])
async def test_a_strategy_failed_on_a_venue_error_with_a_key_is_shown_masked(fake, rejected, command):
    callback = await fake.slash(ADMIN, command)
    assert "failed (RuntimeError: cannot go on" in callback.content
    assert KEY not in callback.content and MASKED in callback.content, callback.content
