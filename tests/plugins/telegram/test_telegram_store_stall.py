"""A Telegram ``/kill`` on a PostgreSQL server that stops answering (SIGSTOP, ARBOT_TEST_DB_URL): the update's
"handled" record cannot be written, and the kill runs anyway; an ordinary command waits for that record a bounded
time only."""

from __future__ import annotations

import asyncio

import pytest

from plugins.telegram import notifier as notifier_module
from tests.helpers.pg_stop import stopped_server
from tests.plugins.telegram.test_telegram import ADMIN, api, start_bot  # noqa: F401 (fixtures)


async def test_a_kill_runs_and_an_ordinary_command_is_answered_while_the_store_hangs(api, start_bot, monkeypatch,  # noqa: F811
                                                                                     db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL server stopped with SIGSTOP (ARBOT_TEST_DB_URL)")
    monkeypatch.setattr(notifier_module, "HANDLED_WAIT_S", 0.5)
    bot = await start_bot()
    tg = bot.notifiers["tg"]
    await api.command(ADMIN, "/status")  # an update handled and recorded before the server stops
    await api.next_message(ADMIN)
    loop = asyncio.get_running_loop()
    with stopped_server(bot.store.engine, max_s=8):
        asked = loop.time()
        await api.command(ADMIN, "/kill market crash")
        question = await api.next_message(ADMIN, timeout_s=6)
        assert question["text"].startswith("<pre>Kill switch") and loop.time() - asked < 1.0
        await api.press(ADMIN, question)
        await api.wait(lambda: "reply_markup" not in question, timeout_s=6)
        assert bot.killed("s") and bot.strategies["s"].paused and loop.time() - asked < 2.0
        asked = loop.time()
        await api.command(ADMIN, "/strategies")  # not urgent: its record is waited for HANDLED_WAIT_S at most
        reply = await api.next_message(ADMIN, timeout_s=6)
        assert reply["text"].startswith("<pre>Strategies") and loop.time() - asked < 2.0
    # the server answers again: the last update id is recorded, so a process taking over skips all three
    await asyncio.wait_for(tg.recorded(), 10)
    assert tg.lease.last_handled(sequence=tg._bot_id) == tg._last_update_id[tg._bot_id]
