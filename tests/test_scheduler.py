"""bot.scheduler and jobs: a run still going when the bot stops is cancelled quietly and waited for; a job whose
schedule cannot run is refused with its plugin's name, and the bot starts without it."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
import zoneinfo
from typing import Any

import pytest

from bot import hookimpl
from bot.api import AlertLevel, Job
from bot.clock import Clock
from bot.config import SchedulerSettings
from bot.scheduler import Scheduler, trigger_of
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


def fire_times(trigger: Any, start_utc: dt.datetime, end_utc: dt.datetime) -> list[dt.datetime]:
    """The runs APScheduler 3 makes between two instants: each next time is asked for just after the run before
    (``get_next_fire_time(last_run, now)``, as ``BaseScheduler._process_jobs`` does)."""
    runs: list[dt.datetime] = []
    next_run = trigger.get_next_fire_time(None, start_utc.astimezone(trigger.timezone))
    while next_run is not None and next_run.astimezone(dt.UTC) < end_utc:
        runs.append(next_run.astimezone(dt.UTC))
        now = (next_run.astimezone(dt.UTC) + dt.timedelta(milliseconds=5)).astimezone(trigger.timezone)
        next_run = trigger.get_next_fire_time(next_run, now)
    return runs


@pytest.mark.parametrize("zone, at, night", [
    ("America/New_York", "01:30", dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),  # 01:00-01:59 happens twice
    ("Europe/Berlin", "02:15", dt.datetime(2026, 10, 25, tzinfo=dt.UTC)),  # 02:00-02:59 happens twice
])
def test_a_daily_job_in_the_hour_a_dst_change_repeats_runs_once_that_day(zone: str, at: str, night: dt.datetime):
    tz = zoneinfo.ZoneInfo(zone)
    runs = fire_times(trigger_of(Job("daily-summary", tick, at=at), tz),
                      night - dt.timedelta(days=1), night + dt.timedelta(days=2))
    local_days = [run.astimezone(tz).date() for run in runs]
    assert len(local_days) == len(set(local_days)) == 3  # the day before, the night itself (once), the day after
    assert all(run.astimezone(tz).strftime("%H:%M") == at for run in runs)


def test_a_daily_job_at_a_time_a_dst_change_skips_runs_once_an_hour_later():
    tz = zoneinfo.ZoneInfo("America/New_York")
    night = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)  # 02:00-02:59 never happens
    runs = fire_times(trigger_of(Job("daily-summary", tick, at="02:30"), tz), night, night + dt.timedelta(days=2))
    assert [run.astimezone(tz).strftime("%m-%d %H:%M") for run in runs] == ["03-08 03:30", "03-09 02:30"]


async def test_a_run_skipped_because_the_last_one_hangs_is_alerted_once_with_the_job_and_how_long(caplog):
    alerts: list[tuple[AlertLevel, str, str, str]] = []
    scheduler = Scheduler(SchedulerSettings(),
                          alert=lambda level, kind, message, source="host", **fields: alerts.append(
                              (level, kind, message, source)))
    release = asyncio.Event()

    async def reconcile(operator) -> None:
        await release.wait()  # a venue call with no timeout that never answers

    scheduler.add(Job("reconcile", reconcile, every_s=0.1), "test", operator=None, failed=lambda *_: None)
    scheduler.start()
    try:
        with caplog.at_level(logging.WARNING, logger="apscheduler"):
            await wait_for(lambda: sum("maximum number of running instances" in r.getMessage()
                                       for r in caplog.records) >= 3, what="three skipped runs")
        assert len(alerts) == 1, alerts
        level, kind, message, source = alerts[0]
        assert level == AlertLevel.WARNING and source == "test"
        assert re.fullmatch(r'job "reconcile" skipped: its last run is still going after \d+ s', message), message
        release.set()  # the run ends; a later hang is a new one, alerted again
        await wait_for(lambda: not scheduler._running, what="the run to end")
    finally:
        scheduler.stop()
        await scheduler.join(5, lambda *_: None)


async def test_a_run_due_while_the_machine_slept_is_made_soon_after_it_wakes(monkeypatch):
    """The loop's timers run on the monotonic clock, which stands still while the machine is suspended: before,
    APScheduler's one wait for the next run ended as late as the machine had slept (in wall time), so that run was
    made that much late, or dropped as missed past ``misfire_grace_s``. The wall clock is simulated here: it jumps
    an hour, the loop's clock does not, as over a suspend of an hour."""

    class Wall(dt.datetime):
        slept = dt.timedelta(0)

        @classmethod
        def now(cls, tz: Any = None) -> Any:  # type: ignore[override]
            return dt.datetime.now(tz) + cls.slept

    for module in ("apscheduler.schedulers.base", "apscheduler.executors.base", "apscheduler.triggers.interval"):
        monkeypatch.setattr(f"{module}.datetime", Wall)
    monkeypatch.setattr("bot.scheduler.WAKE_CHECK_S", 0.1, raising=False)  # the production check: seconds
    runs: list[str] = []

    async def snapshot(operator) -> None:
        runs.append("ran")

    scheduler = Scheduler(SchedulerSettings())
    scheduler.add(Job("balance-snapshot", snapshot, every_s=3600), "test", operator=None, failed=lambda *_: None)
    scheduler.start()
    try:
        await asyncio.sleep(0.2)
        assert runs == []
        Wall.slept = dt.timedelta(seconds=3605)  # due 5 s ago by the wall clock
        await wait_for(lambda: runs, what="the run due while the machine slept", timeout_s=3)
    finally:
        scheduler.stop()
        await scheduler.join(5, lambda *_: None)


def test_after_a_run_made_up_at_start_in_the_hour_the_clocks_go_back_the_next_run_is_the_next_day():
    """A bot started at 01:35 EDT makes up the 01:30 run it missed (``catch_up``); before, its trigger then
    fired again at 01:30 EST the same night: a run shown in /status and skipped."""
    tz = zoneinfo.ZoneInfo("America/New_York")
    trigger = trigger_of(Job("daily-summary", tick, at="01:30", catch_up=True), tz)
    made_up = dt.datetime(2026, 11, 1, 1, 35, tzinfo=tz)  # EDT, the first of the two hours
    following = trigger.get_next_fire_time(made_up, made_up + dt.timedelta(milliseconds=5))
    assert following.astimezone(tz).replace(tzinfo=None) == dt.datetime(2026, 11, 2, 1, 30)



@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe"])
@pytest.mark.parametrize("at", ["00:00", "00:30", "01:30", "02:30", "23:59"])
def test_a_daily_job_runs_once_on_every_local_day_of_a_year(zone: str, at: str):
    tz = zoneinfo.ZoneInfo(zone)  # Santiago changes at midnight; Lord Howe by half an hour
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    runs = fire_times(trigger_of(Job("daily-summary", tick, at=at), tz), start, start + dt.timedelta(days=365))
    days = [run.astimezone(tz).date() for run in runs]
    assert days == sorted(set(days)) and len(days) >= 364
    assert all((later - earlier).days == 1 for earlier, later in zip(days, days[1:], strict=False))


async def test_an_interval_job_runs_once_after_a_suspend_longer_than_its_period(monkeypatch):
    """Asleep two and a half periods: APScheduler coalesces the missed runs into the latest, which is up to a period
    old; before, one more than ``misfire_grace_s`` old was dropped too (a balance snapshot every 300 s, 60 s
    grace: most suspends), and the job waited for its next period."""

    class Wall(dt.datetime):
        slept = dt.timedelta(0)

        @classmethod
        def now(cls, tz: Any = None) -> Any:  # type: ignore[override]
            return dt.datetime.now(tz) + cls.slept

    for module in ("apscheduler.schedulers.base", "apscheduler.executors.base", "apscheduler.triggers.interval"):
        monkeypatch.setattr(f"{module}.datetime", Wall)
    monkeypatch.setattr("bot.scheduler.WAKE_CHECK_S", 0.1, raising=False)
    runs: list[str] = []

    async def snapshot(operator) -> None:
        runs.append("ran")

    scheduler = Scheduler(SchedulerSettings(misfire_grace_s=60))
    scheduler.add(Job("balance-snapshot", snapshot, every_s=3600), "test", operator=None, failed=lambda *_: None)
    scheduler.start()
    try:
        await asyncio.sleep(0.2)
        Wall.slept = dt.timedelta(seconds=9000)  # due at 3600 s and 7200 s: the latest is 1800 s late
        await wait_for(lambda: runs, what="one run after the suspend", timeout_s=3)
        await asyncio.sleep(0.3)
        assert runs == ["ran"]
    finally:
        scheduler.stop()
        await scheduler.join(5, lambda *_: None)


async def test_a_daily_run_missed_past_its_grace_is_alerted_with_the_job_and_how_late(monkeypatch):
    """A plugin's daily job (no ``catch_up``) whose run came more than ``misfire_grace_s`` late (the machine
    slept through it) is not made that day: APScheduler only logged it. It is now a WARNING naming the job,
    its plugin and how late the run was."""

    class Wall(dt.datetime):
        slept = dt.timedelta(0)

        @classmethod
        def now(cls, tz: Any = None) -> Any:  # type: ignore[override]
            return dt.datetime.now(tz) + cls.slept

    for module in ("apscheduler.schedulers.base", "apscheduler.executors.base"):
        monkeypatch.setattr(f"{module}.datetime", Wall)
    monkeypatch.setattr("bot.scheduler.WAKE_CHECK_S", 0.1, raising=False)
    alerts: list[tuple[AlertLevel, str, str, str, dict[str, Any]]] = []
    runs: list[str] = []

    async def export(operator) -> None:
        runs.append("ran")

    class Asleep(Clock):
        @staticmethod
        def time_ns() -> int:
            return time.time_ns() + int(Wall.slept.total_seconds()) * 10**9

    scheduler = Scheduler(SchedulerSettings(), alert=lambda level, kind, message, source="host", **fields:
                          alerts.append((level, kind, message, source, fields)), clock=Asleep())
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).strftime("%H:%M")
    scheduler.add(Job("export", export, at=due), "reports", operator=None, failed=lambda *_: None)
    scheduler.start()
    try:
        Wall.slept = dt.timedelta(minutes=10)  # asleep through its run, well past the 60 s grace
        await wait_for(lambda: alerts, what="the missed run's alert", timeout_s=3)
    finally:
        scheduler.stop()
        await scheduler.join(5, lambda *_: None)
    assert runs == []
    [(level, kind, message, source, fields)] = alerts
    assert (level, kind, source) == (AlertLevel.WARNING, "plugin_error", "reports")
    assert message.startswith('job "export" missed its run at ') and "s late" in message, message
    assert fields["job"] == "export" and fields["late_s"] >= 7 * 60


async def test_a_hung_run_that_ends_at_last_is_alerted_ending_so_the_skips_are_known_to_be_over():
    alerts: list[tuple[AlertLevel, str, str, str]] = []
    scheduler = Scheduler(SchedulerSettings(),
                          alert=lambda level, kind, message, source="host", **fields: alerts.append(
                              (level, kind, message, source)))
    release = asyncio.Event()

    async def reconcile(operator) -> None:
        await release.wait()

    scheduler.add(Job("reconcile", reconcile, every_s=0.05), "test", operator=None, failed=lambda *_: None)
    scheduler.start()
    try:
        await wait_for(lambda: len(alerts) == 1, what="the skip alerted")
        release.set()
        await wait_for(lambda: len(alerts) == 2, what="the end of the hung run alerted")
        level, kind, message, source = alerts[1]
        assert (level, kind, source) == (AlertLevel.INFO, "plugin_error", "test"), alerts[1]
        assert re.fullmatch(r'job "reconcile": its hung run ended after \d+ s; its runs go on', message), message
    finally:
        scheduler.stop()
        await scheduler.join(5, lambda *_: None)
