"""What a stop cut off while sending (``[bot] shutdown_timeout_s``) leaves behind: nothing. Telegram holds the alert
chat's sends back (429, retry after 30 s) and the notifier may drain for 30 s: the host cuts its stop off first. Before,
the outbox's send task went on waiting out retry_after after the bot's stop returned, the Bot API's HTTP session stayed
open, and the alert it never sent was counted nowhere. Now the cut-off stop cancels the sends, closes the session and
says what was not sent, within the stop's bound."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.domain import AlertLevel
from tests.plugins.telegram.test_telegram import ALERTS, api  # noqa: F401 (a fixture)
from tests.plugins.telegram.test_telegram_stop import started

SHUTDOWN_S = 0.5
"""The stop's bound (the notifiers get the host's 1 s floor): far less than the 30 s drain and retry_after."""


def outbox_tasks(notifier) -> list[asyncio.Task]:
    """The notifier's send tasks still pending (the outbox names each ``<its name>:outbox <chat>``)."""
    prefix = f"{notifier.outbox.name}:outbox "
    return [task for task in asyncio.all_tasks() if task.get_name().startswith(prefix) and not task.done()]


def session_open(app) -> bool:
    """Whether the Bot API HTTP clients of ``app`` (PTB's requests: API calls, getUpdates) are still open."""
    return any(not request._client.is_closed for request in app.bot._request)


async def test_a_stop_cut_off_while_sending_leaves_no_send_running_nor_the_session_open(api, make_bot,  # noqa: F811
                                                                                       monkeypatch, caplog):
    bot = await started(api, make_bot, monkeypatch, extra="drain_on_stop_s = 30\n")
    tg = bot.notifiers["tg"]
    api.refuse_next("sendMessage", retry_after_s=30, count=100, chat_id=ALERTS)
    bot.alert(AlertLevel.ERROR, "risk", "feed lost", source="v")
    await api.wait(lambda: any(c.status == 429 for c in api.calls))
    app = tg.app
    assert outbox_tasks(tg) and session_open(app)
    caplog.set_level(logging.INFO)
    began = time.monotonic()
    try:
        await bot.stop()
        took_s = time.monotonic() - began
        left_running, left_open = len(outbox_tasks(tg)), session_open(app)
        dropped = tg.dropped_alerts()
        said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING or r.getMessage() == "stopped"]
    finally:  # what a stop left behind is not left to the next test
        await tg.outbox.close(0)
        await tg._close(app)
    print(f"the stop took {took_s:.2f} s; send tasks left running: {left_running}; session left open: {left_open}")
    assert (left_running, left_open) == (0, False)
    assert said[-1] == "stopped", said  # what was not sent is said before the stop's last line
    assert any(line.startswith("telegram tg: 1 message(s) not sent") for line in said), said  # the alert held back
    assert dropped == 1, dropped
    assert took_s < SHUTDOWN_S + 1.0 + 1.5, took_s  # the notifiers' 1 s floor, and the rest of the stop



async def test_a_stop_cut_off_with_an_update_still_handled_cancels_it_and_closes_the_session(api, make_bot,  # noqa: F811
                                                                                             monkeypatch, caplog):
    """PTB's own stop waits for every update being handled: one that does not end (held here: a handler waiting on
    something that never answers, as PTB runs it, in ``Application.create_task``) would hold the cut-off's close. It
    is given a bounded time, then cancelled, and the Bot API session is closed all the same."""
    bot = await started(api, make_bot, monkeypatch, extra="drain_on_stop_s = 30\n")
    tg = bot.notifiers["tg"]
    api.refuse_next("sendMessage", retry_after_s=30, count=100, chat_id=ALERTS)
    bot.alert(AlertLevel.ERROR, "risk", "feed lost", source="v")
    await api.wait(lambda: any(c.status == 429 for c in api.calls))
    app = tg.app
    handling = app.create_task(asyncio.Event().wait(), name="an update's handler that never ends")
    caplog.set_level(logging.INFO)
    began = time.monotonic()
    stopping = asyncio.ensure_future(bot.stop())
    try:
        done, _ = await asyncio.wait({stopping}, timeout=10)
        took_s = time.monotonic() - began
        left_open, still_handled = session_open(app), not handling.done()
    finally:  # what a stop left behind is not left to the next test
        handling.cancel()
        await stopping
        await tg.outbox.close(0)
        await tg._close(app)
    print(f"the stop took {took_s:.2f} s; session left open: {left_open}; update still handled: {still_handled}")
    assert done, "the bot's stop waited on the update still being handled"
    assert (left_open, still_handled) == (False, False)
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "telegram: updates still being handled when the stop was cut off were cancelled after 0.5 s" in said, said
    assert took_s < SHUTDOWN_S + 1.0 + 0.5 + 1.5, took_s
