"""The bot's stop with a command running (a chat's, the control socket's): the stop finishes it, or cancels it after
``[bot] shutdown_timeout_s``, and its audit line is written (or named by the store writer's close as not written)
before the last line, ``stopped``. Before, the stop did not wait for it: a command still running when the store closed
logged "a command's audit line not stored: WriterClosed" (PostgreSQL) or "StoreClosed" (SQLite) after "stopped".
A command sent once the stop has begun is refused, and audited, while the store is still open."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot import hookimpl
from bot.api import Caller, Command, Reply
from bot.store import Store
from tests.helpers.waiting import wait_for

SHUTDOWN_S = 1.0
ADMIN = Caller("test", "root", "admin")


class Slow:
    """``/slow``: runs until the test releases it (a command waiting on a venue or a store that does not answer)."""

    started = asyncio.Event()
    release = asyncio.Event()

    @staticmethod
    @hookimpl
    def register_commands(register):
        async def slow(op, caller, args):
            Slow.started.set()
            await Slow.release.wait()
            return Reply("Answered at last.")

        register(Command("slow", slow, "viewer", "a command that waits for the test"))


@pytest.fixture
def slow():
    Slow.started, Slow.release = asyncio.Event(), asyncio.Event()
    return Slow


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("arbot")]


def _audit(bot) -> list[tuple[str, str]]:
    """(command, outcome) of every audit line the stopped bot stored, oldest first (read through a store of its own)."""
    store = Store(bot.config.db_url, bot=bot.store.bot).open()
    try:
        return [(row.command, row.outcome) for row in reversed(store.audit_log(50))]
    finally:
        store.close()


async def _bot(make_bot, slow):
    bot = await make_bot("", extra=[("slow", slow)])
    object.__setattr__(bot.config.bot, "shutdown_timeout_s", SHUTDOWN_S)  # ([bot] is make_bot's table)
    return bot


async def test_a_command_still_running_at_the_stop_is_cancelled_and_audited_before_stopped(make_bot, slow, caplog):
    bot = await _bot(make_bot, slow)
    running = asyncio.ensure_future(bot.commands.dispatch(ADMIN, "slow", []))  # as a transport runs it
    await asyncio.wait_for(slow.started.wait(), 5)
    with caplog.at_level(logging.INFO):
        started = time.monotonic()
        await bot.stop()
        took_s = time.monotonic() - started
        ended_with_the_stop = running.done()
        slow.release.set()  # a command the stop left running would end now, after "stopped"
        reply = await asyncio.wait_for(running, 5)
        await asyncio.sleep(0)  # (what it handed over says its last word)
    lines = _lines(caplog)
    print(f"the stop took {took_s:.2f} s; its last lines: {lines[-3:]}")
    assert lines[-1] == "stopped", lines[-4:]
    assert ended_with_the_stop, "the stop returned with the command still running"
    assert took_s < 2 * SHUTDOWN_S + 2, took_s
    assert not reply.ok and "stopping" in reply.render_text(), reply.render_text()
    assert ("slow", "cancelled: the bot stopped") in _audit(bot)
    assert any("/slow" in line and "cancelled" in line for line in lines), lines  # the stop says what it cut short


async def test_a_command_that_ends_during_the_stop_is_answered_and_audited(make_bot, slow, caplog):
    bot = await _bot(make_bot, slow)
    object.__setattr__(bot.config.bot, "shutdown_timeout_s", 10.0)  # room to end before being cancelled
    running = asyncio.ensure_future(bot.commands.dispatch(ADMIN, "slow", []))
    await asyncio.wait_for(slow.started.wait(), 5)
    with caplog.at_level(logging.INFO):
        stopping = asyncio.ensure_future(bot.stop())
        await wait_for(lambda: "stopping" in _lines(caplog), timeout_s=5, what="the stop began")
        slow.release.set()
        await asyncio.wait_for(stopping, 15)
    assert running.done() and running.result().render_text() == "Answered at last."
    lines = _lines(caplog)
    assert lines[-1] == "stopped", lines[-4:]
    assert ("slow", "ok") in _audit(bot)


async def test_a_command_sent_during_the_stop_is_refused_and_audited(make_bot, slow, caplog):
    bot = await _bot(make_bot, slow)
    running = asyncio.ensure_future(bot.commands.dispatch(ADMIN, "slow", []))
    await asyncio.wait_for(slow.started.wait(), 5)
    with caplog.at_level(logging.INFO):
        stopping = asyncio.ensure_future(bot.stop())
        await wait_for(lambda: "stopping" in _lines(caplog), timeout_s=5, what="the stop began")
        late = await bot.commands.dispatch(ADMIN, "status", [])
        slow.release.set()
        await asyncio.wait_for(stopping, 15)
    assert not late.ok and "stopping" in late.render_text(), late.render_text()
    assert ("status", "refused: the bot is stopping") in _audit(bot)
    assert _lines(caplog)[-1] == "stopped"
    await running


async def test_a_cancelled_commands_audit_line_the_server_does_not_take_is_named_before_stopped(
        make_bot, slow, postgresql, caplog):
    """PostgreSQL stopped with SIGSTOP: the cancelled command's audit line waits for the server; the writer's close
    gives up on it, and the line saying it was not stored comes before the stop's last line."""
    from tests.helpers.pg_stop import stopped_server

    bot = await _bot(make_bot, slow)
    await bot.writer.later(bot.store.set_state, "stopcommands first", "1")  # the writer's thread is up and connected
    running = asyncio.ensure_future(bot.commands.dispatch(ADMIN, "slow", []))
    await asyncio.wait_for(slow.started.wait(), 5)
    with caplog.at_level(logging.INFO), stopped_server(bot.store.engine, max_s=8.0) as server:
        await bot.stop()
        server.resume()
    assert running.done()
    lines = _lines(caplog)
    print("\n".join(lines[-5:]))
    assert lines[-1].startswith("stopped: 1 store write(s) not done"), lines[-5:]
    assert any(line.startswith("a command's audit line not stored") for line in lines), lines[-5:]
