"""A store closed because the bot stopped is neither an outage nor a bug in what was written.

``is_store_error`` answers "the database could not be reached or written: a later try may succeed" (the executor's
lanes and writer retry it, the CRITICAL "store cannot be written" alarm promises trading resumes by itself); a closed
store (``StoreClosed``) or store writer (``WriterClosed``) never reopens, so it stays out of it (retried, it would be
retried forever) and ``is_store_closed`` tells it apart. What still reaches the store after the bot's stop (an order
change the executor writes back, a pause, a veto's risk event, the audit line of a command refused after the stop)
says once, in one line, that the store is closed, and goes on: no traceback, no "the database refused a batch", no
alarm, no exception into the caller.
SQLite, or PostgreSQL with ARBOT_TEST_DB_URL."""

from __future__ import annotations

import logging

import pytest

from bot.api import Caller
from bot.domain import Side
from bot.store import StoreClosed
from bot.writer import WriterClosed, is_store_closed, is_store_error
from tests.test_surfaces_agree import CONFIG, PLUGINS, VIEWER, order

ADMIN = Caller("test", "boss", "admin")


def _loud(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The ERROR lines and the lines with a traceback logged."""
    return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in caplog.records
            if r.levelno >= logging.ERROR or r.exc_info]


def _closed_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "is closed" in r.getMessage()]


@pytest.fixture
async def stopped(make_bot, caplog):
    bot = await make_bot(CONFIG, extra=PLUGINS)
    await order(bot, "grid", "A1", Side.BUY, "1", "100", "BTC/USD", "v")
    await bot.stop()
    caplog.clear()
    caplog.set_level(logging.INFO)
    return bot


def test_a_closed_store_is_no_outage_but_is_told_apart():
    closed, writer_closed = StoreClosed("store x is closed"), WriterClosed("the store writer of x is closed")
    assert not is_store_error(closed) and not is_store_error(writer_closed)
    assert is_store_closed(closed) and is_store_closed(writer_closed)
    assert not is_store_closed(RuntimeError("closed"))
    from bot.api import storage
    assert storage.is_store_closed is is_store_closed  # for plugins too


async def test_an_order_change_written_back_after_the_stop_is_no_refused_batch_nor_an_alarm(stopped, caplog):
    executor = stopped.executor
    executor._dirty["A1"] = executor.order("A1")
    assert await executor.flush() is False  # not written: the next start asks the venue, as after a crash
    assert _loud(caplog) == []
    assert executor.store_error is None  # no "store cannot be written" alarm, no order refused for it
    assert len(_closed_lines(caplog)) == 1, caplog.text
    assert "A1" in executor._dirty  # kept, as a failed batch is


async def test_a_pause_after_the_stop_is_kept_in_this_run_and_raises_nothing(stopped, caplog):
    assert stopped.operator.pause(["grid"], ADMIN) == ["grid"]
    assert stopped.strategies["grid"].paused
    assert _loud(caplog) == []
    assert any("pauses" in line for line in _closed_lines(caplog)), caplog.text


async def test_a_risk_event_after_the_stop_is_not_stored_and_raises_nothing(stopped, caplog):
    stopped._record_risk_event(check_name="limits", reason="daily loss", strategy="grid", exchange="v",
                               symbol="BTC/USD", details={}, ts_ns=1)
    assert _loud(caplog) == []
    assert any("risk event" in line for line in _closed_lines(caplog)), caplog.text


async def test_a_command_after_the_stop_is_refused_without_reading_the_closed_store(stopped, caplog):
    # (before the stop closed the command table, it ran and answered "/pnl could not read the store: ... is closed")
    reply = await stopped.commands.dispatch(VIEWER, "pnl", [])
    assert not reply.ok and reply.title == "The bot is stopping: /pnl not run.", reply
    assert [line for line in _loud(caplog) if "/pnl" in line] == []
    assert [line.split(":")[0] for line in _closed_lines(caplog)] == ["a command's audit line not stored"]


async def test_no_send_lane_nor_the_writer_loop_outlives_the_stop(stopped):
    """The lanes and the write-back loop are cancelled before the writer and the store close (``Bot.stop``): a closed
    store never reaches them, so they keep treating every other error as they did."""
    assert [t.get_name() for t in stopped.tasks._tasks if not t.done()] == []
