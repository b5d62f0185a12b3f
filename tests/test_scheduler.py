"""bot.scheduler: a job run still going when the bot stops is cancelled quietly and waited for."""

from __future__ import annotations

import asyncio
import logging

from bot.api import Job
from bot.config import SchedulerSettings
from bot.scheduler import Scheduler
from tests.helpers.waiting import wait_for


async def test_a_running_job_is_cancelled_on_stop_without_a_traceback_and_join_waits_for_it(caplog):
    scheduler, state = Scheduler(SchedulerSettings()), {"running": False, "ended": False}
    failed: list[tuple[str, str]] = []

    async def reconcile(operator) -> None:
        state["running"] = True
        try:
            await asyncio.sleep(3600)  # a venue that answers slowly
        finally:
            state["ended"] = True

    scheduler.add(Job("reconcile", reconcile, every_s=0.1), "test", operator=None,
                  failed=lambda plugin, message: failed.append((plugin, message)))
    scheduler.start()
    await wait_for(lambda: state["running"], what="the job to be running")
    with caplog.at_level(logging.DEBUG):
        scheduler.stop()
        await scheduler.join()
    assert state["ended"] and failed == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # APScheduler logged nothing either
