"""Daily jobs' records on a real store (SQLite, or PostgreSQL with ``ARBOT_TEST_DB_URL``): two processes of one bot
claiming one day at once."""

from __future__ import annotations

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
