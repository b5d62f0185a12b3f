"""A plugin's record that the store writer's close gives up on (the database did not answer within the stop's time):
the plugin is told (:class:`~bot.writer.WriterClosed`) and says "not stored" before the stop's last line, "stopped",
however it waits for the write: a done callback on the future ``ctx.write_later`` returned (the limits check's peaks,
the grid's slots), or a coroutine awaiting it. Before, the close let the loop run one turn only, and a future of
``asyncio.wrap_future`` is told in two: the plugin's line came after "stopped". SQLite, or PostgreSQL with
ARBOT_TEST_DB_URL (the database's silence is a write that waits here, on either)."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from bot import hookimpl
from bot.api import Service

SHUTDOWN_S = 0.5
"""The stop's time: the writer's close waits its 1 s floor for the records handed over, then gives up on them."""


class _SavesOnStop(Service):
    """Stores its last state on stop, off the loop (``ctx.write_later``), as the limits check stores its peaks, and
    does not hold the stop for it: the bot's stop waits for the writes handed over. One record is followed by a done
    callback, the other awaited by a coroutine of the plugin's; each says what it did not store."""

    answered = threading.Event()
    """Set when the database answers (never, until the test is over)."""
    awaiting: asyncio.Future[None] | None = None

    async def stop(self) -> None:
        peaks = self.ctx.write_later(_unanswered, "peaks")
        peaks.add_done_callback(self._peaks_told)
        _SavesOnStop.awaiting = asyncio.ensure_future(self._save_last_state())

    def _peaks_told(self, done: asyncio.Future[str]) -> None:
        if not done.cancelled() and (exc := done.exception()) is not None:
            self.ctx.log.error("the peaks not stored: %s", type(exc).__name__)

    async def _save_last_state(self) -> None:
        try:
            await self.ctx.write_later(_unanswered, "last state")
        except Exception as exc:
            self.ctx.log.error("the last state not stored: %s", type(exc).__name__)


def _unanswered(what: str) -> str:
    """A store write the database does not answer (a server stopped, packets dropped), on the writer's thread."""
    _SavesOnStop.answered.wait(30)
    return what


class _Plugin:
    @staticmethod
    @hookimpl
    def register_services(register):
        register("saves-on-stop", _SavesOnStop)


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("arbot")]


async def test_a_plugins_records_the_writer_gives_up_on_are_said_not_stored_before_stopped(make_bot, caplog):
    _SavesOnStop.answered.clear()
    bot = await make_bot(f"shutdown_timeout_s = {SHUTDOWN_S}\n", extra=[("saves", _Plugin)])
    try:
        with caplog.at_level(logging.INFO):
            await bot.stop()
            awaiting = _SavesOnStop.awaiting
            if awaiting is not None:  # (what it says after the stop returned is in the log all the same)
                await asyncio.wait_for(asyncio.shield(awaiting), 5)
    finally:
        _SavesOnStop.answered.set()
    lines = _lines(caplog)
    print("\n".join(lines[-4:]))
    assert lines[-1].startswith("stopped: 2 store write(s) not done"), lines[-4:]  # the last line: nothing after it
    assert "the peaks not stored: WriterClosed" in lines, lines[-4:]  # a done callback's
    assert "the last state not stored: WriterClosed" in lines, lines[-4:]  # a coroutine awaiting it
