"""A known secret never reaches a Telegram chat: not in a command's reply, not in an alert (see
:mod:`tests.helpers.secret_kit` for where a venue's key lands)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import resolve_secrets
from tests.fakes.telegram_api import FakeBotAPI
from tests.helpers import secret_kit
from tests.helpers.secret_kit import KEY, MASKED
from tests.plugins.telegram.test_telegram import ADMIN, ALERTS, TOKEN


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    fake = await FakeBotAPI(TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
async def rejected(api, make_bot, monkeypatch):
    """A started bot whose venue refused order o1 with the key in its text, the key known to the redactor."""
    monkeypatch.setenv("ARBOT_TEST_TG_TOKEN", TOKEN)
    secret_kit.know_the_key(monkeypatch)
    bot = await make_bot(secret_kit.TOML + f"""
        [notifiers.tg]
        type = "telegram"
        token = "env:ARBOT_TEST_TG_TOKEN"
        base_url = "{api.base_url}"
        users = {{ {ADMIN} = "admin" }}
        alert_chats = {{ {ALERTS} = "all -bot" }}
        poll_timeout_s = 5
        max_retries = 2
    """, extra=[("secret-kit", secret_kit.plugin)], start=False)
    resolve_secrets(bot.config)
    await bot.start()
    try:
        await secret_kit.reject_an_order(bot)
        yield bot
    finally:
        await bot.stop()


async def test_the_alert_of_an_order_rejected_with_a_key_shows_it_masked(api, rejected):
    alert = await api.next_message(ALERTS)
    while "order o1" not in alert["text"]:  # the refusal alert names it
        alert = await api.next_message(ALERTS)
    assert KEY not in alert["text"] and MASKED in alert["text"], alert["text"]


async def test_a_plugin_commands_reply_quoting_an_orders_reason_is_masked(api, rejected):
    await api.command(ADMIN, "/rejects")
    reply = await api.next_message(ADMIN)
    assert "o1" in reply["text"]
    assert KEY not in reply["text"] and MASKED in reply["text"], reply["text"]


@pytest.mark.parametrize("command", ["/strategies", "/status"])
async def test_a_strategy_failed_on_a_venue_error_with_a_key_is_shown_masked(api, rejected, command):
    await api.command(ADMIN, command)
    reply = await api.next_message(ADMIN)
    assert "failed (RuntimeError: cannot go on" in reply["text"]
    assert KEY not in reply["text"] and MASKED in reply["text"], reply["text"]


PROXY_PASSWORD = "Pr0xyPassw0rd-0123"


@pytest.mark.parametrize("reachable", [True, False])
async def test_a_password_in_base_url_is_in_no_log_line_alert_or_plugin_error(api, make_bot, monkeypatch, caplog,
                                                                              reachable):
    """A local Bot API server behind a proxy that asks for a password (``http://user:PASSWORD@host``): the URL is
    logged when polling starts and named when the server cannot be reached; its password never shows (what the
    redactor on the root logger's handlers leaves of a line, an alert, the plugin's error)."""
    import logging

    from bot.redact import REDACTOR

    monkeypatch.setenv("ARBOT_TEST_TG_TOKEN", TOKEN)
    port = api.port if reachable else 9  # nothing listens on port 9
    caplog.set_level(logging.INFO)
    alerts = []
    bot = await make_bot(f"""
        [notifiers.tg]
        type = "telegram"
        token = "env:ARBOT_TEST_TG_TOKEN"
        base_url = "http://proxy:{PROXY_PASSWORD}@127.0.0.1:{port}"
        users = {{ {ADMIN} = "admin" }}
        poll_timeout_s = 5
        max_retries = 0
    """, start=False)
    resolve_secrets(bot.config)
    bot.alerts.subscribe(alerts.append, "test")
    await bot.start()
    try:
        if reachable:
            await api.command(ADMIN, "/status")
            await api.next_message(ADMIN)
        else:
            from tests.helpers.waiting import wait_for

            await wait_for(lambda: bool(bot.plugins.info("telegram").errors) or any(
                "telegram" in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records),
                timeout_s=30, what="the unreachable server reported")
    finally:
        await bot.stop()
    shown = [REDACTOR.redact(r.getMessage()) for r in caplog.records]
    shown += [f"{a.message} {a.fields}" for a in alerts] + list(bot.plugins.info("telegram").errors)
    assert any(f"127.0.0.1:{port}" in text for text in shown), shown  # the server is still named
    assert not [text for text in shown if PROXY_PASSWORD in text]
