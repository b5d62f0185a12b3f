"""bot.scheduler and jobs: a run still going when the bot stops is cancelled quietly and waited for; a job whose
schedule cannot run is refused with its plugin's name, and the bot starts without it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot import hookimpl
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
        await scheduler.join(5, lambda plugin, message: failed.append((plugin, message)))
    assert state["ended"] and failed == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # APScheduler logged nothing either


async def test_a_job_that_swallows_its_cancellation_is_named_and_left_at_stop():
    scheduler, failed = Scheduler(SchedulerSettings()), []
    running, give_up = asyncio.Event(), asyncio.Event()

    async def stubborn(operator) -> None:
        running.set()
        while not give_up.is_set():
            try:
                await give_up.wait()
            except asyncio.CancelledError:  # a job that will not stop when told
                continue

    scheduler.add(Job("stubborn", stubborn, every_s=0.1), "mine", operator=None,
                  failed=lambda plugin, message: failed.append((plugin, message)))
    scheduler.start()
    await asyncio.wait_for(running.wait(), 5)
    scheduler.stop()
    try:
        async with asyncio.timeout(5):  # before: join() waited for it forever
            await scheduler.join(0.2, lambda plugin, message: failed.append((plugin, message)))
        assert failed == [("mine", 'job "stubborn" did not end within 0.2 s of being cancelled at stop; '
                                   "left running")]
    finally:
        give_up.set()  # the test's own clean-up: the loop must not end with it running
        await asyncio.sleep(0.05)


async def tick(operator) -> None:
    pass


@pytest.mark.parametrize("schedule", [{"at": "25:00"}, {"at": "8am"}, {"at": "12:60"}, {"at": ""},
                                      {"every_s": float("nan")}, {"every_s": float("inf")}, {"every_s": 0},
                                      {"every_s": -5}, {"every_s": True}, {"every_s": "60"}])
def test_a_job_whose_schedule_cannot_run_is_refused_when_made(schedule: dict[str, Any]):
    with pytest.raises(ValueError, match='job "mine-tick": (at|every_s) must be'):
        Job("mine-tick", tick, **schedule)


@pytest.mark.parametrize("schedule", [{"at": "00:00"}, {"at": "8:05"}, {"at": "23:59"}, {"every_s": 0.5},
                                      {"every_s": 3600}])
def test_a_job_with_a_good_schedule_is_made(schedule: dict[str, Any]):
    assert Job("mine-tick", tick, **schedule).name == "mine-tick"


def jobs_plugin(**schedule: Any) -> object:
    class plugin:
        @staticmethod
        @hookimpl
        def register_jobs(register):
            register(Job("mine-tick", tick, **schedule))

    return plugin


class fine_jobs:
    @staticmethod
    @hookimpl
    def register_jobs(register):
        register(Job("fine-tick", tick, every_s=60))


@pytest.mark.parametrize("schedule", [{"at": "25:00"}, {"at": "8am"}, {"every_s": float("nan")}])
async def test_a_job_with_a_bad_schedule_is_reported_against_its_plugin_and_the_bot_starts(make_bot, schedule):
    bot = await make_bot("", extra=[("mine", jobs_plugin(**schedule)), ("fine", fine_jobs)])
    [error] = bot.plugins.info("mine").errors  # before: ValueError out of Bot.start, naming no plugin
    assert error.startswith('register_jobs raised ValueError: job "mine-tick": ')
    scheduled = [name for name, _ in bot.scheduler.jobs()]
    assert "fine-tick" in scheduled and "mine-tick" not in scheduled


async def test_a_schedule_the_scheduler_cannot_take_is_reported_against_its_plugin(make_bot):
    bot = await make_bot("", extra=[("mine", jobs_plugin(every_s=1e300)), ("fine", fine_jobs)])
    [error] = bot.plugins.info("mine").errors  # before: OverflowError out of Bot.start
    assert error.startswith('job "mine-tick" could not be scheduled: OverflowError')
    assert "fine-tick" in [name for name, _ in bot.scheduler.jobs()]
