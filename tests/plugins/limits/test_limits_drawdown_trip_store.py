"""A drawdown trip restarts the trailing peak at the equity and stores it. The store write came before the trip's
action, and on SQLite (written at once, on the loop) its error was raised out of the check: a peak that could not be
stored (another process holding the database's lock, a full disk) left the bot unpaused and the trip unrecorded,
with the peak restarted in memory all the same, so no later tick tripped either; a crash as the trip's pause was
taken left the restarted peak stored, so the restart found no fall. The peak is now stored after the action, as the
limits breached today are (:mod:`plugins.limits.tripped`), and a write that fails is logged and tried again."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal

import pytest

import plugins.limits.check as check
from bot.clock import ManualClock
from bot.domain import Side
from bot.store import Store, StoreError
from plugins.limits.peaks import stored_peaks
from tests.helpers.risk_kit import book, fill, risk_check, trips
from tests.plugins.limits.test_limits_losses import BASE, PLUGINS, start

LIMITS = 'max_drawdown = "5"\n'


def _stored(bot) -> dict[str, Decimal]:
    store = Store(bot.config.db_url, bot=bot.store.bot)  # a stopped bot's store is closed: read it anew
    try:
        return stored_peaks(store, "limits").peaks
    finally:
        store.close()


async def test_a_drawdown_trip_whose_peak_cannot_be_stored_pauses_and_is_recorded(make_bot, monkeypatch, caplog):
    bot = await start(make_bot, LIMITS)
    lim = risk_check(bot, "limits")
    lim.on_fill("s", fill("x", Side.BUY, "1", "100"))
    bot.bus.publish(book("110"))  # equity 10: the peak

    def locked(*args, **kwargs):
        raise StoreError("store sqlite:///arbot.db: cannot write: database is locked")
    monkeypatch.setattr(check, "save_peaks", locked)
    with caplog.at_level(logging.ERROR):
        bot.bus.publish(book("104.99"))  # 5.01 below the peak: past the limit, and the peak cannot be stored
        await bot.writer.drained()  # (PostgreSQL: the write fails on the writer's thread, logged on the loop)
        await asyncio.sleep(0)
    assert bot.strategies["s"].paused and bot.strategies["t"].paused
    [trip] = trips(bot, "limits")
    assert trip.reason == "drawdown from peak equity exceeded" and json.loads(trip.details)["equity"] == "4.99"
    assert "drawdown peaks could not be stored" in caplog.text and "database is locked" in caplog.text
    monkeypatch.undo()
    lim._save_peaks()  # the next save (every 10 s) stores it: tried again
    await bot.stop()
    assert _stored(bot) == {"USD": Decimal("4.99")}


class Crash(BaseException):
    """The process dying at that point: nothing after it runs (a BaseException: no handler takes it)."""


async def test_a_crash_as_a_drawdown_trips_pause_is_taken_trips_again_at_the_restart(make_bot, monkeypatch):
    """The restarted peak is stored only after the trip's action: a crash as the pause is taken leaves the peak the
    trip was measured from, so the restart's first tick trips again (stored first, the restart found the equity at
    the restarted peak, no fall, and traded on unpaused)."""
    clock = ManualClock()
    config = BASE + "[risk.limits]\n" + LIMITS
    first = await make_bot(config, extra=PLUGINS, clock=clock, start=False)
    first.store.open()
    first.store.insert_fill(fill("a", Side.BUY, "1", "100", ts_ns=clock.time_ns() - 1), "s")  # a long lot at 100
    await first.start()
    lim = risk_check(first, "limits")
    first.bus.publish(book("110"))  # equity 10: the peak
    lim._save_peaks()  # stored (the 10 s save)
    assert _stored(first) == {"USD": Decimal(10)}

    def crash(*args, **kwargs):
        raise Crash
    monkeypatch.setattr(first, "pause_for_risk", crash)
    with pytest.raises(Crash):
        lim._on_book(book("104.99"))  # 5.01 below the peak: the trip's pause
    monkeypatch.undo()

    async def killed() -> None:  # the process died: the check saves nothing more
        lim._stop_hearing()
    lim.stop = killed
    await first.stop()

    clock.advance(60)
    second = await make_bot(config, extra=PLUGINS, clock=clock)
    assert risk_check(second, "limits")._peak["USD"] == 10
    second.bus.publish(book("104.99"))
    assert [t.reason for t in trips(second, "limits")] == ["drawdown from peak equity exceeded"]
    assert second.strategies["s"].paused


async def test_the_periodic_save_of_the_peaks_goes_on_after_a_write_failed(make_bot, monkeypatch):
    """A peak write that fails on SQLite (written at once) ended the task that saves the peaks as they move: none
    was stored again until the stop, and a crash lost every new high since. It is logged and tried again."""
    from tests.helpers.waiting import wait_for

    monkeypatch.setattr(check, "SAVE_EVERY_S", 0.02)
    bot = await start(make_bot, LIMITS)
    lim = risk_check(bot, "limits")
    lim.on_fill("s", fill("x", Side.BUY, "1", "100"))
    failed = []

    def locked_once(*args, **kwargs):
        failed.append(args)
        raise StoreError("store sqlite:///arbot.db: cannot write: database is locked")
    real = check.save_peaks
    monkeypatch.setattr(check, "save_peaks", locked_once)
    bot.bus.publish(book("110"))  # equity 10: a new peak, to be saved
    await wait_for(lambda: failed, what="a save that fails")
    monkeypatch.setattr(check, "save_peaks", real)
    bot.bus.publish(book("120"))  # equity 20: a new peak, saved by the next round
    await wait_for(lambda: stored_peaks(bot.store, "limits").peaks.get("USD") == 20, timeout_s=2,
                   what="the peak stored by the periodic save")


async def test_a_trips_peak_is_handed_over_while_an_earlier_write_of_the_peaks_waits(make_bot, postgresql):
    """On PostgreSQL (written on the store writer's thread) a save of the peaks waits while an earlier write of them
    does (a slow server), but a trip's goes at once: handed over after the earlier one, it is what is stored. It
    waited instead, and the earlier write stored the peak the trip was measured from: a restart before the next 10 s
    save tripped on the same fall again."""
    from tests.helpers.pg_stop import stopped_server

    bot = await make_bot(BASE + "[risk.limits]\n" + LIMITS, extra=PLUGINS)  # the real clock: the writer's thread
    lim = risk_check(bot, "limits")
    lim.on_fill("s", fill("x", Side.BUY, "1", "100", ts_ns=lim.ctx.clock.time_ns()))
    bot.bus.publish(book("110"))  # equity 10: the peak
    with stopped_server(bot.store.engine, max_s=5) as server:
        lim._save_peaks()  # the 10 s save: handed over, waiting for the server
        bot.bus.publish(book("104.99"))  # 5.01 below the peak: the trip restarts it at 4.99
        server.resume()
    bot.writer.settle()
    assert stored_peaks(bot.store, "limits").peaks == {"USD": Decimal("4.99")}
    assert [t.reason for t in trips(bot, "limits")] == ["drawdown from peak equity exceeded"]
