"""Daily jobs across restarts: the last day each ran is stored, so a restart never runs one twice on a day (the
night the clocks go back included), and one that declares it (``catch_up``, the daily summary does) runs once at
start when its time today passed while the bot was down. The bot's clock is simulated (``ManualClock``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import zoneinfo
from typing import Any

from bot.api import Alert, Job
from bot.clock import ManualClock
from bot.config import SchedulerSettings
from bot.scheduler import MemoryState, Scheduler
from tests.helpers.waiting import wait_for

BERLIN = '[scheduler]\ntimezone = "Europe/Berlin"\ndaily_summary_at = "09:00"\n'
NEW_YORK = '[scheduler]\ntimezone = "America/New_York"\ndaily_summary_at = "01:30"\n'


def local_ns(zone: str, *when: int, fold: int = 0) -> int:
    """The instant of a local wall time in ``zone`` (``fold=1``: the second of a time that happens twice)."""
    local = dt.datetime(*when, tzinfo=zoneinfo.ZoneInfo(zone), fold=fold)  # type: ignore[misc]
    return int(local.timestamp()) * 1_000_000_000


def summaries(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.kind == "summary" and a.message.startswith("daily summary")]


async def run_once_at(make_bot: Any, toml: str, now_ns: int) -> int:
    """Start the bot with its clock at ``now_ns``, let it settle, stop it: how many daily summaries it sent."""
    bot = await make_bot(toml, start=False, clock=ManualClock(now_ns))
    seen: list[Alert] = []
    bot.alerts.subscribe(seen.append, "test")
    try:
        await bot.start()
        await asyncio.sleep(0.3)  # a run due at start is made by now (the positive cases wait the same)
    finally:
        await bot.stop()
    return len(summaries(seen))


async def test_a_daily_summary_missed_while_the_bot_was_down_is_sent_once_at_start(make_bot):
    zone = "Europe/Berlin"
    assert await run_once_at(make_bot, BERLIN, local_ns(zone, 2026, 6, 10, 8, 55)) == 0  # stopped before 09:00
    # restarted at 09:20: before, no summary that day at all
    assert await run_once_at(make_bot, BERLIN, local_ns(zone, 2026, 6, 10, 9, 20)) == 1
    assert await run_once_at(make_bot, BERLIN, local_ns(zone, 2026, 6, 10, 9, 40)) == 0  # it ran today
    # down three days: the latest missed day only, never a backlog
    assert await run_once_at(make_bot, BERLIN, local_ns(zone, 2026, 6, 13, 10, 0)) == 1
    # today's time has not come yet: nothing at start, the 09:00 run comes
    assert await run_once_at(make_bot, BERLIN, local_ns(zone, 2026, 6, 14, 8, 0)) == 0


async def test_a_new_bot_started_after_the_summarys_time_sends_none_that_day(make_bot):
    assert await run_once_at(make_bot, BERLIN, local_ns("Europe/Berlin", 2026, 6, 10, 9, 20)) == 0  # never missed


async def test_a_restart_in_the_hour_the_clocks_go_back_does_not_send_the_summary_again(make_bot):
    zone = "America/New_York"  # 01:00-01:59 happens twice on 2026-11-01
    assert await run_once_at(make_bot, NEW_YORK, local_ns(zone, 2026, 11, 1, 0, 50)) == 0
    assert await run_once_at(make_bot, NEW_YORK, local_ns(zone, 2026, 11, 1, 1, 35)) == 1  # EDT: missed, sent
    assert await run_once_at(make_bot, NEW_YORK, local_ns(zone, 2026, 11, 1, 1, 35, fold=1)) == 0  # EST: not again
    assert await run_once_at(make_bot, NEW_YORK, local_ns(zone, 2026, 11, 2, 1, 35)) == 1  # the next day's


async def test_a_daily_summary_the_loop_slept_through_still_runs_that_day(make_bot):
    """A suspended machine (or a loop blocked) past the summary's time by more than ``misfire_grace_s``: before,
    APScheduler dropped the run as missed and no summary came that day."""
    bot = await make_bot(BERLIN, clock=ManualClock(local_ns("Europe/Berlin", 2026, 6, 10, 11, 0)))
    seen: list[Alert] = []
    bot.alerts.subscribe(seen.append, "test")
    job = bot.scheduler._scheduler.get_job("daily-summary")
    job.modify(next_run_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))  # due at 09:00, woken at 11:00
    await wait_for(lambda: summaries(seen), what="the daily summary")
    await asyncio.sleep(0.2)
    assert len(summaries(seen)) == 1


async def test_a_run_slept_through_on_an_earlier_day_is_not_made_up(make_bot):
    """Asleep from before yesterday's 09:00 until 08:00 today: yesterday's summary is not sent late (today's
    comes at 09:00), as at a start."""
    zone = "Europe/Berlin"
    assert await run_once_at(make_bot, BERLIN, local_ns(zone, 2026, 6, 9, 8, 0)) == 0
    bot = await make_bot(BERLIN, clock=ManualClock(local_ns(zone, 2026, 6, 11, 8, 0)))
    seen: list[Alert] = []
    bot.alerts.subscribe(seen.append, "test")
    job = bot.scheduler._scheduler.get_job("daily-summary")
    job.modify(next_run_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=23))
    await asyncio.sleep(0.3)
    assert summaries(seen) == []


def counting_job(runs: list[str], **schedule: Any) -> Job:
    async def count(operator: Any) -> None:
        runs.append("ran")

    return Job("mine-daily", count, **schedule)


async def start_scheduler(zone: str, now_ns: int, state: MemoryState, job: Job) -> Scheduler:
    scheduler = Scheduler(SchedulerSettings(timezone=zone), clock=ManualClock(now_ns), state=state)
    scheduler.add(job, "mine", operator=None, failed=lambda *_: None)
    scheduler.start()
    return scheduler


async def stop_scheduler(scheduler: Scheduler) -> None:
    scheduler.stop()
    await scheduler.join(5, lambda *_: None)


async def test_a_daily_job_without_catch_up_is_not_run_at_start_and_one_with_it_once():
    zone, runs = "Europe/Berlin", []
    state = MemoryState()
    first = await start_scheduler(zone, local_ns(zone, 2026, 6, 10, 8, 0), state, counting_job(runs, at="09:00"))
    await stop_scheduler(first)
    plain = await start_scheduler(zone, local_ns(zone, 2026, 6, 10, 9, 30), state, counting_job(runs, at="09:00"))
    await asyncio.sleep(0.2)
    await stop_scheduler(plain)
    assert runs == []  # a plugin's daily job that did not ask for it: its missed run stays missed
    late = await start_scheduler(zone, local_ns(zone, 2026, 6, 10, 9, 30), state,
                                 counting_job(runs, at="09:00", catch_up=True))
    await wait_for(lambda: runs, what="the missed run")
    await stop_scheduler(late)
    assert runs == ["ran"]


async def test_a_daily_run_apscheduler_makes_on_a_day_already_run_is_skipped():
    """The restart in the repeated hour: the run at 01:30 EDT was stored; the new process's trigger knows no
    previous run, and APScheduler fires at 01:30 EST."""
    zone, runs, state = "America/New_York", [], MemoryState()
    before = await start_scheduler(zone, local_ns(zone, 2026, 11, 1, 0, 50), state,
                                   counting_job(runs, at="01:30", catch_up=True))
    await stop_scheduler(before)
    ran = await start_scheduler(zone, local_ns(zone, 2026, 11, 1, 1, 31), state,
                                counting_job(runs, at="01:30", catch_up=True))
    await wait_for(lambda: runs, what="the missed run")
    await stop_scheduler(ran)
    again = await start_scheduler(zone, local_ns(zone, 2026, 11, 1, 1, 31, fold=1), state,
                                  counting_job(runs, at="01:30"))
    try:
        again._scheduler.get_job("mine-daily").modify(next_run_time=dt.datetime.now(dt.UTC))  # APScheduler fires
        await asyncio.sleep(0.3)
    finally:
        await stop_scheduler(again)
    assert runs == ["ran"]


def test_the_first_run_after_a_restart_in_the_repeated_hour_is_the_next_day():
    from bot.scheduler import trigger_of

    zone = "America/New_York"
    tz = zoneinfo.ZoneInfo(zone)
    trigger = trigger_of(Job("mine-daily", counting_job([], at="01:30").func, at="01:30"), tz,
                         last_day=dt.date(2026, 11, 1))
    now = dt.datetime(2026, 11, 1, 1, 10, tzinfo=tz, fold=1)  # 01:10 EST, after the 01:30 EDT run
    first = trigger.get_next_fire_time(None, now)
    assert first.astimezone(tz).replace(tzinfo=None) == dt.datetime(2026, 11, 2, 1, 30)


def test_catch_up_is_for_daily_jobs_only():
    import pytest

    with pytest.raises(ValueError, match='job "mine-daily": catch_up is for daily jobs'):
        counting_job([], every_s=60, catch_up=True)


class LockedState(MemoryState):
    """A store that cannot be written (locked, disk full)."""

    def compare_and_set_state(self, key: str, expected: str | None, value: str, ts_ns: int | None = None) -> bool:
        import sqlite3

        raise sqlite3.OperationalError("database is locked")


async def test_a_store_that_cannot_keep_the_day_is_logged_and_the_job_runs_once_that_day(caplog):
    zone, runs = "Europe/Berlin", []
    scheduler = await start_scheduler(zone, local_ns(zone, 2026, 6, 10, 9, 30), LockedState(),
                                      counting_job(runs, at="09:00"))
    try:
        for _ in range(2):  # APScheduler fires it twice the same day (a repeated hour)
            scheduler._scheduler.get_job("mine-daily").modify(next_run_time=dt.datetime.now(dt.UTC))
            await asyncio.sleep(0.2)
    finally:
        await stop_scheduler(scheduler)
    assert runs == ["ran"]
    assert "the last run day of job mine-daily could not be stored (OperationalError: database is locked)" \
        in caplog.text


async def test_two_processes_of_one_bot_at_once_run_a_daily_job_once():
    """A handover: the new process starts while the old one still runs, on one store. Before, each process kept
    the day of its own runs only, and both ran the 09:00 job."""
    zone, runs, state = "Europe/Berlin", [], MemoryState()
    old = await start_scheduler(zone, local_ns(zone, 2026, 6, 10, 9, 0, 1), state, counting_job(runs, at="09:00"))
    new = await start_scheduler(zone, local_ns(zone, 2026, 6, 10, 9, 0, 1), state, counting_job(runs, at="09:00"))
    try:
        for scheduler in (old, new):  # each fires at 09:00
            scheduler._scheduler.get_job("mine-daily").modify(next_run_time=dt.datetime.now(dt.UTC))
            await asyncio.sleep(0.2)
    finally:
        await stop_scheduler(old)
        await stop_scheduler(new)
    assert runs == ["ran"]


async def test_a_daily_job_that_raises_is_reported_and_not_run_again_that_day():
    zone, state, calls, failed = "Europe/Berlin", MemoryState(), [], []

    async def broken(operator: Any) -> None:
        calls.append("called")
        raise RuntimeError("venue said no")

    scheduler = Scheduler(SchedulerSettings(timezone=zone), clock=ManualClock(local_ns(zone, 2026, 6, 10, 9, 0, 2)),
                          state=state)
    scheduler.add(Job("mine-daily", broken, at="09:00"), "mine", operator=None,
                  failed=lambda plugin, message: failed.append((plugin, message)))
    scheduler.start()
    try:
        for _ in range(2):
            scheduler._scheduler.get_job("mine-daily").modify(next_run_time=dt.datetime.now(dt.UTC))
            await asyncio.sleep(0.2)
    finally:
        await stop_scheduler(scheduler)
    assert calls == ["called"] and failed == [("mine", 'job "mine-daily" raised RuntimeError: venue said no')]


async def test_a_record_in_the_earlier_form_holding_a_date_is_that_days_run_in_the_zone_in_force():
    zone, runs, state = "Europe/Berlin", [], MemoryState()
    state.compare_and_set_state("daily_job:mine-daily", None, '{"last_day": "2026-06-10", "since_ns": 0}')
    today = await start_scheduler(zone, local_ns(zone, 2026, 6, 10, 9, 30), state,
                                  counting_job(runs, at="09:00", catch_up=True))
    await asyncio.sleep(0.2)
    await stop_scheduler(today)
    assert runs == []  # it ran on June 10
    tomorrow = await start_scheduler(zone, local_ns(zone, 2026, 6, 11, 9, 30), state,
                                     counting_job(runs, at="09:00", catch_up=True))
    await wait_for(lambda: runs, what="the missed run")
    await stop_scheduler(tomorrow)
    assert runs == ["ran"]
    assert json.loads(state.get_state("daily_job:mine-daily") or "") == {
        "last_run_ns": local_ns(zone, 2026, 6, 11, 9, 0), "since_ns": 0}
