"""What a stop cut off by ``[bot] shutdown_timeout_s`` says held it: the Telegram notifier's stop sends what is
queued, stores the last handled update id and releases the chat token's lease, and only the first of those is
sending."""

from __future__ import annotations

import logging
import threading

from bot.config import resolve_secrets
from bot.domain import AlertLevel
from tests.fakes.venue import plugin as venue_plugin
from tests.plugins.telegram.test_telegram import ADMIN, ALERTS, TOKEN, Throwaway, api, config  # noqa: F401 (a fixture)


async def started(api, make_bot, monkeypatch, extra: str = ""):  # noqa: F811
    """A bot whose stop may take 0.5 s: the notifiers get the 1 s floor, less than the 2 s the lease release waits
    for the database."""
    monkeypatch.setenv("ARBOT_TEST_TG_TOKEN", TOKEN)
    bot = await make_bot("shutdown_timeout_s = 0.5\n" + config(api, extra),
                         extra=[("venue", venue_plugin), ("throwaway", Throwaway)], start=False)
    resolve_secrets(bot.config)
    await bot.start()
    return bot


def said_about_tg(caplog) -> list[str]:
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    return [line for line in said if "notifier tg" in line or line.startswith("telegram")]


async def test_a_stop_held_by_the_token_lease_release_names_the_lease_not_sending(api, make_bot,  # noqa: F811
                                                                                  monkeypatch, caplog):
    bot = await started(api, make_bot, monkeypatch)
    tg = bot.notifiers["tg"]
    await api.command(ADMIN, "/status")
    await api.next_message(ADMIN)  # sent: nothing is left queued, and no handled-update record is pending
    await tg.recorded()

    database_answers = threading.Event()
    held = tg.lease._lease
    release = held.release
    calls: list[str] = []

    def unlock_unanswered() -> None:
        """The stop's release waits on a database that does not answer (PostgreSQL's unlock is a round trip); the
        store's close, later, finds it answering again."""
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
    about_tg = said_about_tg(caplog)
    assert not any("sending" in line for line in about_tg), about_tg  # nothing was left to send
    assert any("token lease" in line for line in about_tg), about_tg


async def test_a_stop_held_by_a_send_says_sending(api, make_bot, monkeypatch, caplog):  # noqa: F811
    """The other side: a send waiting out Telegram's retry_after is what a stop cut off then names."""
    bot = await started(api, make_bot, monkeypatch, extra="drain_on_stop_s = 30\n")
    api.refuse_next("sendMessage", retry_after_s=30, count=100, chat_id=ALERTS)
    bot.alert(AlertLevel.ERROR, "risk", "feed lost", source="v")
    await api.wait(lambda: any(c.status == 429 for c in api.calls))
    caplog.set_level(logging.INFO)
    await bot.stop()  # (the cut-off stop cancels the send and closes the session: test_telegram_stop_cut_off.py)
    about_tg = said_about_tg(caplog)
    assert [line for line in about_tg if "cut off" in line] == [
        "telegram: the stop was cut off while sending the replies and alerts still queued"], about_tg
    assert not any("lease" in line for line in about_tg), about_tg
