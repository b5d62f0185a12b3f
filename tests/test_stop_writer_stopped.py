"""The bot's stop with a write the database does not answer (a real PostgreSQL server stopped with SIGSTOP:
``ARBOT_TEST_DB_URL``, :mod:`tests.helpers.pg_stop`): the store writer's close waits for what was handed over within
the stop's ``[bot] shutdown_timeout_s`` only, names what was not written in one ERROR line, and its thread (a daemon)
neither holds the loop nor the process's exit. What it did not write lands if the server answers before the process
exits; a restart needs none of it (see :mod:`bot.writer`)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from bot import writer as writers
from bot.store import Store
from bot.writer import StoreWriter, WriterClosed
from tests.helpers.pg_stop import stopped_server
from tests.helpers.waiting import wait_for

STOPPED_S = 8.0
"""How long the server stays stopped: a stop that waits for it takes this long."""
SHUTDOWN_S = 2.0


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name == "arbot.writer"]


async def test_a_bots_stop_with_a_write_the_server_does_not_answer_ends_within_its_timeout(make_bot, postgresql,
                                                                                             caplog):
    bot = await make_bot("")
    object.__setattr__(bot.config.bot, "shutdown_timeout_s", SHUTDOWN_S)  # ([bot] is make_bot's table)
    await bot.writer.later(bot.store.set_state, "stopclose first", "1")  # the thread is up and connected
    with caplog.at_level(logging.INFO), stopped_server(bot.store.engine, max_s=STOPPED_S) as server:
        handed = bot.writer.later(bot.store.set_state, "stopclose late", "2")
        queued = bot.writer.later(bot.store.set_state, "stopclose queued", "3")
        await asyncio.sleep(0.3)  # the write is on the wire, unanswered
        started = time.monotonic()
        await bot.stop()
        took_s = time.monotonic() - started
        threads = [t.name for t in threading.enumerate() if t.name.startswith(writers.THREAD_NAME)]
        daemons = all(t.daemon for t in threading.enumerate() if t.name.startswith(writers.THREAD_NAME))
        server.resume()
    print(f"the stop took {took_s:.2f} s with the server stopped {STOPPED_S} s")
    assert took_s < SHUTDOWN_S + 1.5, f"the stop took {took_s:.2f} s (the server was stopped {STOPPED_S} s)"
    errors = _errors(caplog)
    assert len(errors) == 1, errors
    assert "2 write(s) not done" in errors[0] and "Store.set_state" in errors[0], errors[0]
    assert threads == [] or daemons, threads  # a thread still waiting never holds the process's exit
    for future in (handed, queued):  # whoever awaits them is told, as for work handed over after the close
        with pytest.raises(WriterClosed):
            await future
    # the server answers again: the write on the wire lands, the one never started does not
    other_process = Store(bot.config.db_url, bot=bot.store.bot)
    try:
        await wait_for(lambda: other_process.get_state("stopclose late") == "2", timeout_s=10,
                       what="the write in progress landed")
        assert other_process.get_state("stopclose queued") is None
    finally:
        other_process.close()


async def test_a_writer_closed_with_nothing_unanswered_logs_nothing(caplog, tmp_path):
    # (an earlier test's writer may still wait on a server that never answered: its daemon thread is not this one's)
    others = {t for t in threading.enumerate() if t.name.startswith(writers.THREAD_NAME)}
    store = Store(f"sqlite:///{tmp_path / 'w.db'}", bot="b").open()
    writer = StoreWriter(store)
    try:
        await writer.later(store.set_state, "k", "v")
        with caplog.at_level(logging.INFO):
            writer.close()
        assert _errors(caplog) == []
        assert store.get_state("k") == "v"
        assert not [t for t in threading.enumerate() if t.name.startswith(writers.THREAD_NAME) and t not in others]
    finally:
        store.close()


async def test_a_bots_stop_with_order_changes_to_write_back_ends_within_its_timeout(make_bot, postgresql, caplog):
    """An order change the stop's last flush writes back, the server stopped: the stop ends within its timeout (no
    store call on the loop, none awaited without a bound) and names the batch not written; the next start's recovery
    asks the venue for that order, as after a crash."""
    from bot.domain import Side
    from tests.test_surfaces_agree import CONFIG, PLUGINS, order

    bot = await make_bot(CONFIG, extra=PLUGINS)
    object.__setattr__(bot.config.bot, "shutdown_timeout_s", SHUTDOWN_S)
    await order(bot, "grid", "A1", Side.BUY, "1", "100", "BTC/USD", "v")
    await bot.executor.flush()
    with caplog.at_level(logging.INFO), stopped_server(bot.store.engine, max_s=STOPPED_S) as server:
        executor = bot.executor
        executor._dirty["A1"] = executor.order("A1")  # a change not written back yet
        started = time.monotonic()
        await bot.stop()
        took_s = time.monotonic() - started
        server.resume()
    print(f"the stop took {took_s:.2f} s with the server stopped {STOPPED_S} s")
    assert took_s < 2 * SHUTDOWN_S + 2.5, f"the stop took {took_s:.2f} s (the server was stopped {STOPPED_S} s)"
    assert "Store.write_batch(1 item(s), 0 item(s))" in "\n".join(_errors(caplog)), caplog.text
