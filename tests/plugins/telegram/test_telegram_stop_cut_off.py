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
from tests.helpers.store_kit import audit_lines
from tests.plugins.telegram.test_telegram import ADMIN, ALERTS, api  # noqa: F401 (a fixture)
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


async def test_an_update_handled_before_a_stop_cut_off_is_not_run_again_at_the_next_start(api, make_bot,  # noqa: F811
                                                                                          monkeypatch, caplog):
    """A stop cut off leaves the last handled update id to no step of its own, and the token's lease to the store's
    close. Telegram never had the update confirmed (getUpdates failing: the stop's own confirming call too), so it hands
    the command out again to the next start, which must not run it a second time. It does not: an update's id is
    stored before its command runs (``_seen``), not by the stop, and a command sent during the stop is refused by the
    host (nothing to run twice); the stop's step only waits for a record still being written, and a record that a
    database never wrote is the documented "may run again" of a store that does not answer."""
    first = await started(api, make_bot, monkeypatch, extra="drain_on_stop_s = 30\n")
    api.fail_next("getUpdates", 502, count=1000)  # the poll in flight returns the command; none confirms it
    pause = await api.command(ADMIN, "/pause s")
    assert "Paused" in (await api.next_message(ADMIN))["text"]
    api.refuse_next("sendMessage", retry_after_s=30, count=100, chat_id=ALERTS)  # a backlog the stop cannot send
    first.alert(AlertLevel.ERROR, "risk", "feed lost", source="v")
    await api.wait(lambda: any(c.status == 429 for c in api.calls))
    caplog.set_level(logging.INFO)
    await first.stop()
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "telegram: the stop was cut off while sending the replies and alerts still queued" in said, said
    assert pause["update_id"] in api.unconfirmed()  # Telegram hands it out again
    api.heal("getUpdates")

    answered = len(api.messages_to(ADMIN))
    second = await started(api, make_bot, monkeypatch)
    await api.command(ADMIN, "/status")  # handled after the replayed /pause, were it run
    await api.wait(lambda: any(m["text"].startswith("<pre>Status") for m in api.messages_to(ADMIN)[answered:]),
                   timeout_s=10)
    replies = [m["text"] for m in api.messages_to(ADMIN)[answered:]]
    assert len(replies) == 1, replies  # the /status answer only: no second answer to /pause
    pauses = [line for line in audit_lines(second) if line.command == "pause"]
    assert [(line.user_id, line.outcome) for line in pauses] == [(str(ADMIN), "ok")]  # run once, by the first bot
    assert f"telegram: update {pause['update_id']} handled already (before a crash or a take-over); skipped" in [
        r.getMessage() for r in caplog.records]
