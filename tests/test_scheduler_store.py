"""Daily jobs' records on a real store (SQLite, or PostgreSQL with ``ARBOT_TEST_DB_URL``): two processes of one bot
claiming one day at once, and a change of ``[scheduler] timezone`` between runs."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest

from bot.api import Job
from bot.clock import ManualClock
from bot.config import SchedulerSettings
from bot.scheduler import Scheduler
from bot.store import Store


def local_ns(zone: str, *when: int) -> int:
    return int(dt.datetime(*when, tzinfo=zoneinfo.ZoneInfo(zone)).timestamp()) * 1_000_000_000  # type: ignore[misc]


async def nothing(operator: Any) -> None:
    """A job's body: these tests look at the claims, not the runs."""


@pytest.fixture
def stores(db_url: str) -> Iterator[list[Store]]:
    """Two stores of one bot on one database: two processes, each with its own connections."""
    opened = [Store(db_url, bot="twin").open() for _ in range(2)]
    try:
        yield opened
    finally:
        for store in opened:
            store.close()


class ReadsTogether:
    """Holds each store's first read of a daily job's record until both have read it: the two claims then run
    exactly interleaved (both read the day before either writes), as two processes firing within milliseconds."""

    def __init__(self, store: Store, barrier: threading.Barrier):
        self._store, self._barrier, self._held = store, barrier, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def get_state(self, key: str) -> str | None:
        value = self._store.get_state(key)
        if not self._held:
            self._held = True
            self._barrier.wait(timeout=10)
        return value


def test_two_processes_claiming_one_day_at_once_make_one_run(stores: list[Store]):
    """Before, the claim read the stored day and then wrote it: both processes read "not run today", both wrote,
    and both ran the job."""
    zone = "Europe/Berlin"
    now_ns = local_ns(zone, 2026, 6, 10, 9, 0, 1)
    job = Job("mine-daily", nothing, at="09:00")
    barrier = threading.Barrier(2)
    schedulers = [Scheduler(SchedulerSettings(timezone=zone), clock=ManualClock(now_ns), state=store)
                  for store in stores]
    dailies = [scheduler._daily(job) for scheduler in schedulers]  # both scheduled the job before 09:00
    for scheduler, store in zip(schedulers, stores, strict=True):
        scheduler._state = ReadsTogether(store, barrier)
    won: list[bool] = []

    def claim(n: int) -> None:
        won.append(schedulers[n]._claim_day(dailies[n]))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(won) == [False, True]


def test_many_processes_racing_for_one_new_record_make_one_run(stores: list[Store], db_url: str):
    """No barrier: eight claims of a job no process scheduled before, each on its own store, started together."""
    zone = "UTC"
    more = [Store(db_url, bot="twin").open() for _ in range(6)]
    try:
        everyone = stores + more
        start = threading.Barrier(len(everyone))
        won: list[bool] = []

        def claim(store: Store) -> None:
            scheduler = Scheduler(SchedulerSettings(timezone=zone), state=store,
                                  clock=ManualClock(local_ns(zone, 2026, 6, 10, 9, 0, 1)))
            start.wait(timeout=10)
            daily = scheduler._daily(Job("mine-daily", nothing, at="09:00"))
            daily.since_ns = 0  # scheduled long before 09:00
            won.append(scheduler._claim_day(daily))

        threads = [threading.Thread(target=claim, args=(store,)) for store in everyone]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert won.count(True) == 1 and len(won) == len(everyone)
    finally:
        for store in more:
            store.close()


async def runs_at(store: Store, zone: str, now_ns: int, fire: bool = False, at: str = "23:00") -> int:
    """Start a scheduler of a catch-up daily job at ``at`` in ``zone`` with its clock at ``now_ns``, let it settle
    (``fire``: APScheduler fires the job, as at its time), stop it: how many runs it made."""
    runs: list[str] = []

    async def count(operator: Any) -> None:
        runs.append("ran")

    scheduler = Scheduler(SchedulerSettings(timezone=zone), clock=ManualClock(now_ns), state=store)
    scheduler.add(Job("mine-daily", count, at=at, catch_up=True), "mine", operator=None,
                  failed=lambda *_: None)
    scheduler.start()
    try:
        if fire:
            scheduler._scheduler.get_job("mine-daily").modify(next_run_time=dt.datetime.now(dt.UTC))
        await asyncio.sleep(0.3)
    finally:
        scheduler.stop()
        await scheduler.join(5, lambda *_: None)
    return len(runs)


async def test_a_run_before_the_timezone_changed_counts_for_the_day_its_time_falls_on_in_the_new_zone(db_url: str):
    """Run in UTC at 23:30 on June 10 (made up: due at 23:00), then restarted in Asia/Tokyo, where that run was
    at 08:30 on June 11. Before, the stored day (June 10, a UTC date) was read as a Tokyo date, and the job ran
    again at 23:00 on June 11 in Tokyo: twice that Tokyo day."""
    store = Store(db_url, bot="moved").open()
    try:
        assert await runs_at(store, "UTC", local_ns("UTC", 2026, 6, 10, 22, 0)) == 0
        assert await runs_at(store, "UTC", local_ns("UTC", 2026, 6, 10, 23, 30)) == 1
        assert await runs_at(store, "Asia/Tokyo", local_ns("Asia/Tokyo", 2026, 6, 11, 23, 0, 1), fire=True) == 0
        assert await runs_at(store, "Asia/Tokyo", local_ns("Asia/Tokyo", 2026, 6, 12, 23, 0, 1), fire=True) == 1
    finally:
        store.close()


async def test_a_day_of_the_new_timezone_is_not_lost_to_a_run_dated_later_in_the_old_one(db_url: str):
    """Run in Asia/Tokyo at 08:00 on June 11 (23:00 UTC on June 10), then restarted in UTC: that run was on June 10
    in UTC, so June 11's UTC run at 08:00 is made. Before, the stored day (June 11, a Tokyo date) was read as a UTC
    date, and June 11 had no run in UTC at all."""
    store = Store(db_url, bot="moved").open()
    try:
        assert await runs_at(store, "Asia/Tokyo", local_ns("Asia/Tokyo", 2026, 6, 11, 7, 0), at="08:00") == 0
        assert await runs_at(store, "Asia/Tokyo", local_ns("Asia/Tokyo", 2026, 6, 11, 8, 0, 1), fire=True,
                             at="08:00") == 1
        assert await runs_at(store, "UTC", local_ns("UTC", 2026, 6, 11, 8, 0, 1), fire=True, at="08:00") == 1
        assert await runs_at(store, "UTC", local_ns("UTC", 2026, 6, 11, 9, 0), fire=True, at="08:00") == 0
    finally:
        store.close()


def test_processes_setting_a_new_key_at_once_all_succeed_and_one_value_stays(db_url: str):
    """``set_state`` read the row, then inserted it when missing: two processes of one bot setting a key for the first
    time at the same moment (a standby's lease, a run counter) both inserted, and one raised IntegrityError. It is now
    one upsert: every call succeeds, and the value left is one of theirs."""
    opened = [Store(db_url, bot="twin").open() for _ in range(8)]
    barrier = threading.Barrier(len(opened))
    errors: list[BaseException] = []

    def set_it(store: Store, n: int) -> None:
        barrier.wait(timeout=10)
        try:
            store.set_state("first-key", f"v{n}")
        except BaseException as exc:  # the race lost: what a caller would have seen
            errors.append(exc)

    try:
        for _ in range(5):  # a race: a few rounds, each with a fresh key
            threads = [threading.Thread(target=set_it, args=(s, n)) for n, s in enumerate(opened)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(20)
            assert not errors, errors
            assert opened[0].get_state("first-key") in {f"v{n}" for n in range(len(opened))}
            with opened[0].engine.begin() as conn:  # the next round sets a new key again
                conn.exec_driver_sql("DELETE FROM bot_state WHERE bot = 'twin'")
    finally:
        for store in opened:
            store.close()


async def test_a_daily_run_claims_its_day_off_the_loop(db_url: str, monkeypatch):
    """The claim of a daily run (a read and a compare-and-set) runs on the store writer's thread: a PostgreSQL server
    that stops answering delays the run, never the loop."""
    import tests.test_store_off_loop as off_loop
    from bot.writer import StoreWriter
    from tests.helpers.waiting import wait_for

    monkeypatch.setattr(off_loop, "BLOCK_S", 1.0)
    store = Store(db_url, bot="slow").open()
    writer = StoreWriter(store)
    runs: list[str] = []

    async def count(operator: Any) -> None:
        runs.append("ran")

    scheduler = Scheduler(SchedulerSettings(timezone="UTC"), clock=ManualClock(local_ns("UTC", 2026, 6, 10, 23, 0, 1)),
                          state=store, off_loop=writer.call)
    scheduler.add(Job("mine-daily", count, at="23:00", catch_up=True), "mine", operator=None, failed=lambda *_: None)
    stalls = off_loop.Stalls(store.engine, threading.current_thread())
    scheduler.start()
    try:
        with off_loop.LagMeter() as lag:
            await asyncio.sleep(0.05)  # the meter runs
            assert runs == []
            stalls.blocked = True
            scheduler._scheduler.get_job("mine-daily").modify(next_run_time=dt.datetime.now(dt.UTC))
            await wait_for(lambda: runs, timeout_s=10, what="the run")
            await asyncio.sleep(0.05)  # the meter measures the turn the run was in
            stalls.blocked = False
            stalls.watching = False
        assert lag.worst_s < off_loop.MAX_LAG_S, f"the loop stalled {lag.worst_s:.2f} s"
        assert stalls.on_loop == [], stalls.on_loop
        assert runs == ["ran"]
    finally:
        scheduler.stop()
        await scheduler.join(5, lambda *_: None)
        writer.close()
        store.close()
