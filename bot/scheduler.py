"""APScheduler 3 wiring: the jobs plugins register run in the bot's own event loop.

A job runs one at a time (``max_instances=1``): a run that hangs makes APScheduler skip every later one with
only a log line of its own, so the first skip of each hung run is alerted (WARNING: the job, how long its run
has gone on); so is a run APScheduler drops for coming more than its grace late.

A daily job's last run is stored (``bot_state``, key ``daily_job:NAME``), with when the job was first
scheduled: APScheduler's triggers live in memory, so without it a restart could run a job a second time the same
day (in the hour the clocks go back), and nothing would know that a run was missed while the bot was down.

The last run is kept as an instant, the one it was due at (``last_run_ns``, ns since the epoch), not as a date:
whether the job "ran today" is decided by the local day that instant falls on in the ``[scheduler] timezone`` now
in force. A run made before the timezone changed counts for the day of the new zone its time falls on: no day of
the new zone gets a second run for it, and none is left without one because the old zone's date was later. (A
record in the earlier form holds a date, ``last_day``: it is read as that day's run in the zone now in force.)

A run claims its day in the store before it starts, in one compare-and-set (:meth:`StateStore.compare_and_set_state`)
on the record it read: of two processes of one bot firing at once (a standby handover, two bots of one name on one
database), exactly one runs the job.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import threading
import zoneinfo
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .api import Job, Operator
from .clock import Clock
from .config import SchedulerSettings
from .domain import AlertLevel
from .logs import describe_failure
from .writer import describe_store_error, is_store_error

log = logging.getLogger("arbot.scheduler")

WAKE_CHECK_S = 5.0
"""How often the due jobs are looked for by the wall clock, beside APScheduler's own wait for the next run: the
loop's timers run on the monotonic clock, which stands still while the machine is suspended, so that wait alone
ends as late as the machine slept and the run it was for is made that late, or dropped past the misfire grace."""


CLAIM_TRIES = 5
"""How many times a claim of a daily run reads the record again after another process changed it first."""


class StateStore(Protocol):
    """Where the daily jobs' last runs are kept: the store's ``bot_state`` (``Store.get_state``,
    ``Store.compare_and_set_state``)."""

    def get_state(self, key: str) -> str | None: ...

    def compare_and_set_state(self, key: str, expected: str | None, value: str, ts_ns: int | None = None) -> bool:
        """Set ``key`` to ``value`` only if it holds ``expected`` (None: has none), atomically; True when set."""
        ...


class MemoryState:
    """A ``StateStore`` that lasts as long as the process (a scheduler built without a store)."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def get_state(self, key: str) -> str | None:
        return self._values.get(key)

    def compare_and_set_state(self, key: str, expected: str | None, value: str, ts_ns: int | None = None) -> bool:
        with self._lock:
            if self._values.get(key) != expected:
                return False
            self._values[key] = value
            return True


@dataclass
class _Daily:
    """What is kept of one daily job: the instant its last run was due, and when it was first scheduled."""

    name: str
    hour: int
    minute: int
    last_run_ns: int | None
    since_ns: int
    catch_up: bool = False

    def last_day(self, tz: zoneinfo.ZoneInfo) -> dt.date | None:
        """The local day in ``tz`` of the last run (None: never ran)."""
        if self.last_run_ns is None:
            return None
        return dt.datetime.fromtimestamp(self.last_run_ns / 1e9, tz).date()

    def record(self, last_run_ns: int | None) -> str:
        """The stored text of this job's record with ``last_run_ns`` as its last run."""
        return json.dumps({"last_run_ns": last_run_ns, "since_ns": self.since_ns}, sort_keys=True)


class Scheduler:
    """One AsyncIOScheduler for every job; jobs are declared anew on each start (memory job store), the daily
    jobs' last run days are kept in ``state``."""

    def __init__(self, settings: SchedulerSettings, alert: Callable[..., None] | None = None, *,
                 clock: Clock | None = None, state: StateStore | None = None,
                 off_loop: Callable[..., Awaitable[Any]] | None = None):
        """``alert(level, kind, message, source=plugin)``: how a run skipped behind a hung one is told. ``clock``
        says which local day it is; ``state`` keeps each daily job's last run day across restarts. ``off_loop(fn,
        *args)`` runs ``fn(*args)`` away from the event loop and returns its result (the store writer's
        :meth:`~bot.writer.StoreWriter.call`): a run's claim of its day, and the record read when the job is
        scheduled (:meth:`schedule`), go there (None: on the loop)."""
        self.settings = settings
        self._alert = alert
        self._clock = clock or Clock()
        self._state: StateStore = state if state is not None else MemoryState()
        self._off_loop = off_loop
        self.tz = zoneinfo.ZoneInfo(settings.timezone)
        self._scheduler = AsyncIOScheduler(
            timezone=self.tz,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.misfire_grace_s},
        )
        self._running: dict[asyncio.Task[Any], tuple[str, str]] = {}
        """Runs under way: their job's name and plugin."""
        self._run_started: dict[str, tuple[float, str, bool]] = {}
        """Per job with a run under way: (loop time it started, plugin, whether a skip behind it was alerted)."""
        self._stopping = False
        self._wake_check: asyncio.TimerHandle | None = None
        self._plugins: dict[str, str] = {}
        """Each job's plugin, by job name: whom an alert about its runs names."""
        self._scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES)
        self._scheduler.add_listener(self._missed, EVENT_JOB_MISSED)

    def add(self, job: Job, plugin: str, operator: Operator, failed: Callable[[str, str], None]) -> None:
        """Schedule ``job.func(operator)``; a run that raises calls ``failed(plugin, message)``.

        A daily job runs at most once a local day, across restarts too; one with ``catch_up`` whose time today
        passed while the bot was down (it was scheduled before that time, and has not run today) runs once now,
        and a run of it that comes late (a loop asleep past its time) is made however late. A daily job's record
        is read (and stored the first time) here, on the calling thread: :meth:`schedule` reads it off the loop."""
        self._add(job, plugin, operator, failed, self._daily(job) if job.at is not None else None)

    async def schedule(self, job: Job, plugin: str, operator: Operator, failed: Callable[[str, str], None]) -> None:
        """:meth:`add`, a daily job's record read (and stored the first time) off the loop when the scheduler was
        given a way (``off_loop``): a database that stops answering delays the start, never the loop."""
        if job.at is None or self._off_loop is None:
            self.add(job, plugin, operator, failed)
            return
        self._add(job, plugin, operator, failed, await self._off_loop(self._daily, job))

    def _add(self, job: Job, plugin: str, operator: Operator, failed: Callable[[str, str], None],
             daily: _Daily | None) -> None:
        trigger = trigger_of(job, self.tz, last_day=daily.last_day(self.tz) if daily else None)
        options: dict[str, Any] = {}
        if job.every_s is not None:
            # the missed runs of an interval job are coalesced into the latest, which is up to one period old: a
            # grace shorter than the period would drop it too, and the job would wait a period more after a suspend
            options["misfire_grace_time"] = max(self.settings.misfire_grace_s, math.ceil(job.every_s))
        if daily is not None and job.catch_up:
            options["misfire_grace_time"] = None  # however late today; _claim_day keeps it to one run, today's
            if self._missed_today(daily):
                log.info("job %s (plugin %s) missed its run today at %02d:%02d while the bot was down: running it now",
                         job.name, plugin, daily.hour, daily.minute)
                options["next_run_time"] = dt.datetime.now(self.tz)

        async def run() -> None:
            task = asyncio.current_task()
            if task is None or self._stopping:
                return
            if daily is not None and not await self._claim(daily):
                return
            self._running[task] = (job.name, plugin)
            self._run_started[job.name] = (asyncio.get_running_loop().time(), plugin, False)
            try:
                await job.func(operator)
            except asyncio.CancelledError:
                if not self._stopping:
                    raise
                # stop() cancelled this run: it ends quietly here (APScheduler would log a cancelled job
                # as a job that raised) and stop() waits for it
                task.uncancel()
                log.debug("job %s cancelled on stop", job.name)
            except Exception as exc:  # report with the job's name; it runs again next time
                log.exception("job %s (plugin %s) failed", job.name, plugin)
                failed(plugin, f'job "{job.name}" raised {describe_failure(exc)}')
            finally:
                self._running.pop(task, None)
                started = self._run_started.pop(job.name, None)
                if started is not None and started[2] and not self._stopping:
                    self._hung_run_ended(job.name, plugin, started[0])

        self._plugins[job.name] = plugin
        self._scheduler.add_job(run, trigger, id=job.name, name=f"{plugin}:{job.name}", replace_existing=True,
                                **options)

    def _daily(self, job: Job) -> _Daily:
        """The stored record of a daily job, made (and stored) the first time the job is scheduled."""
        assert job.at is not None
        hour, minute = (int(x) for x in job.at.split(":"))
        daily = _Daily(job.name, hour, minute, None, self._clock.time_ns(), job.catch_up)
        key = f"daily_job:{job.name}"
        try:
            for _ in range(CLAIM_TRIES):
                text = self._state.get_state(key)
                found = self._parse(daily, text)
                if found is not None:
                    daily.last_run_ns, daily.since_ns = found
                    return daily
                # none yet (or unreadable): another process starting now may store its own first, then it holds
                if self._state.compare_and_set_state(key, text, daily.record(None), self._clock.time_ns()):
                    return daily
            log.error("the record of job %s kept changing while it was read: kept anew from now", job.name)
        except Exception as exc:
            if not is_store_error(exc):
                raise
            log.error("the last run day of job %s cannot be read (%s): a restart today may run it again",
                      job.name, describe_store_error(exc))
        return daily

    def _parse(self, daily: _Daily, text: str | None) -> tuple[int | None, int] | None:
        """The stored (instant the last run was due, first scheduled) of a daily job; None when there is none or it
        is unreadable. A record in the earlier form (``last_day``, a date) is that day's run in the zone now in
        force: the zone it was dated in is not known."""
        if text is None:
            return None
        try:
            record = json.loads(text)
            since_ns = int(record["since_ns"])
            if "last_run_ns" in record:
                last = record["last_run_ns"]
                return (None if last is None else int(last)), since_ns
            day = record["last_day"]
            return (self._fire_ns(daily, dt.date.fromisoformat(day)) if day else None), since_ns
        except (ValueError, KeyError, TypeError):
            log.error("the stored last run of job %s cannot be read (%r): kept anew from now", daily.name, text)
            return None

    def _fire_ns(self, daily: _Daily, day: dt.date) -> int:
        """The instant of the job's run on local ``day`` (a time the clocks skip: as much later, as it runs)."""
        fire = DailyTrigger(hour=daily.hour, minute=daily.minute, timezone=self.tz).fire_on(day)
        return int(fire.timestamp()) * 1_000_000_000

    def _today(self) -> tuple[dt.date, int]:
        now_ns = self._clock.time_ns()
        return dt.datetime.fromtimestamp(now_ns / 1e9, self.tz).date(), now_ns

    def _ran_on(self, daily: _Daily, day: dt.date) -> bool:
        """Whether the last run was due on local ``day`` or later, in the zone now in force."""
        last_day = daily.last_day(self.tz)
        return last_day is not None and last_day >= day

    def _missed_today(self, daily: _Daily) -> bool:
        """Whether today's run is past, was due after the job was first scheduled, and was not made."""
        today, now_ns = self._today()
        due_ns = self._fire_ns(daily, today)
        return daily.since_ns <= due_ns <= now_ns and not self._ran_on(daily, today)

    async def _claim(self, daily: _Daily) -> bool:
        """:meth:`_claim_day`, off the loop when the scheduler was given a way (a database round trip, or two)."""
        if self._off_loop is None:
            return self._claim_day(daily)
        return bool(await self._off_loop(self._claim_day, daily))

    def _claim_day(self, daily: _Daily) -> bool:
        """Mark the local day this run is for (today's once its time came, else yesterday's come late) as run;
        False when a run for that day was made already (by this process, one before the restart, or another
        process of this bot at the same moment: the claim is a compare-and-set on the record read)."""
        today, now_ns = self._today()
        if self._fire_ns(daily, today) <= now_ns:
            day = today
        else:
            day = today - dt.timedelta(days=1)
            late_s = (now_ns - self._fire_ns(daily, day)) / 1e9
            if daily.catch_up and late_s > self.settings.misfire_grace_s:
                # a catch-up job runs however late (no misfire grace), but only for today, as at a start
                log.info("job %s missed its run of %s (%.0f s ago): not made up, today's comes", daily.name, day,
                         late_s)
                return False
        due_ns = self._fire_ns(daily, day)
        key = f"daily_job:{daily.name}"
        try:
            for _ in range(CLAIM_TRIES):
                text = self._state.get_state(key)
                found = self._parse(daily, text)
                if found is not None:
                    daily.since_ns = found[1]  # the stored record's: another process may have stored it first
                    if found[0] is not None and (daily.last_run_ns is None or found[0] > daily.last_run_ns):
                        daily.last_run_ns = found[0]  # another process of this bot ran it since this one read it
                if self._ran_on(daily, day):
                    log.info("job %s already ran for %s: this run is skipped", daily.name, daily.last_day(self.tz))
                    return False
                # stored before it runs: a run that dies half-way is not made again; False: the record changed
                # since it was read (another process claimed, or first stored it), so it is read again
                if self._state.compare_and_set_state(key, text, daily.record(due_ns), now_ns):
                    daily.last_run_ns = due_ns
                    return True
            log.error("job %s: its record kept changing while its run of %s was claimed: this run is skipped",
                      daily.name, day)
            return False
        except Exception as exc:
            if not is_store_error(exc):
                raise
            log.error("the last run day of job %s could not be stored (%s): a restart today may run it again",
                      daily.name, describe_store_error(exc))
        # this process's own record holds: once a day in this process
        if self._ran_on(daily, day):
            log.info("job %s already ran for %s: this run is skipped", daily.name, daily.last_day(self.tz))
            return False
        daily.last_run_ns = due_ns
        return True

    def _skipped(self, event: JobSubmissionEvent) -> None:
        """APScheduler skipped a run: the last one is still going. Alerted once per hung run, not per skip; its end is
        alerted too (:meth:`_hung_run_ended`)."""
        started = self._run_started.get(event.job_id)
        if started is None or started[2] or self._stopping:
            return
        began, plugin, _ = started
        self._run_started[event.job_id] = (began, plugin, True)
        running_s = asyncio.get_running_loop().time() - began
        log.warning("job %s (plugin %s) skipped: its last run is still going after %.0f s",
                    event.job_id, plugin, running_s)
        if self._alert is not None:
            self._alert(AlertLevel.WARNING, "plugin_error",
                        f'job "{event.job_id}" skipped: its last run is still going after {running_s:.0f} s',
                        source=plugin, job=event.job_id, running_s=round(running_s))

    def _hung_run_ended(self, name: str, plugin: str, began: float) -> None:
        """A run whose skips were alerted has ended: the skips are over, and the trader hears so."""
        running_s = asyncio.get_running_loop().time() - began
        log.warning("job %s (plugin %s): its hung run ended after %.0f s", name, plugin, running_s)
        if self._alert is not None:
            self._alert(AlertLevel.INFO, "plugin_error", f'job "{name}": its hung run ended after {running_s:.0f} s; '
                        "its runs go on", source=plugin, job=name, running_s=round(running_s))

    def _missed(self, event: JobExecutionEvent) -> None:
        """APScheduler dropped a run that came more than its grace late (the loop or the machine slept through
        it): alerted, as only APScheduler's own log line said so. A daily job with ``catch_up`` is never
        dropped; an interval job's grace covers its period, so what it drops is a later run's to make."""
        if self._stopping:
            return
        plugin = self._plugins.get(event.job_id, "host")
        late_s = self._clock.time_ns() / 1e9 - event.scheduled_run_time.timestamp()
        at = event.scheduled_run_time.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")
        log.warning("job %s (plugin %s) missed its run at %s: %.0f s late, more than its grace", event.job_id,
                    plugin, at, late_s)
        if self._alert is not None:
            self._alert(AlertLevel.WARNING, "plugin_error",
                        f'job "{event.job_id}" missed its run at {at}: it came {late_s:.0f} s late, more than '
                        f"[scheduler] misfire_grace_s allows (the bot or its machine was asleep)",
                        source=plugin, job=event.job_id, late_s=round(late_s))

    def start(self) -> None:
        """Must be called inside the running loop."""
        self._scheduler.start()
        self._wake_check = asyncio.get_running_loop().call_later(WAKE_CHECK_S, self._look_for_due_jobs)

    def _look_for_due_jobs(self) -> None:
        """Every ``WAKE_CHECK_S``: have APScheduler look for runs due by the wall clock (after a suspend)."""
        if self._stopping or not self._scheduler.running:
            return
        self._scheduler.wakeup()
        self._wake_check = asyncio.get_running_loop().call_later(WAKE_CHECK_S, self._look_for_due_jobs)

    def stop(self) -> None:
        """No new runs; the runs still going are cancelled (:meth:`join` waits for them to end)."""
        self._stopping = True
        if self._wake_check is not None:
            self._wake_check.cancel()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        for task in self._running:
            task.cancel()

    async def join(self, timeout_s: float, failed: Callable[[str, str], None]) -> None:
        """Wait for the runs :meth:`stop` cancelled, ``timeout_s`` at most: the host stops the venues they use only
        after. A run still going then (a job that swallows its cancellation) is reported, ``failed(plugin,
        message)``, and left: the stop goes on."""
        if not self._running:
            return
        _, pending = await asyncio.wait(list(self._running), timeout=timeout_s)
        for task in pending:
            name, plugin = self._running[task]
            failed(plugin, f'job "{name}" did not end within {timeout_s:g} s of being cancelled at stop; left running')

    def jobs(self) -> list[tuple[str, str]]:
        """(job name, next run time) for /status."""
        return [(j.id, str(j.next_run_time)) for j in self._scheduler.get_jobs()]


def trigger_of(job: Job, tz: zoneinfo.ZoneInfo, last_day: dt.date | None = None) -> BaseTrigger:
    """The APScheduler trigger of a job: every ``every_s`` seconds, or daily at ``at`` local time in ``tz``, first
    on the day after ``last_day`` (the local day it last ran) at the earliest."""
    if job.every_s is not None:
        return IntervalTrigger(seconds=job.every_s, timezone=tz)
    if job.at is None:  # Job refuses this when made
        raise ValueError(f'job "{job.name}" has neither every_s nor at')
    hour, minute = (int(x) for x in job.at.split(":"))
    trigger = DailyTrigger(hour=hour, minute=minute, timezone=tz)
    trigger.after_day = last_day
    return trigger


class DailyTrigger(CronTrigger):  # type: ignore[misc]  # APScheduler 3 ships no types
    """Once every local day at ``hour:minute``, a DST change included: never twice on one local day, never a day
    left out.

    The run of a day is that day's wall time: the first of the two on the night the clocks go back (01:30 EDT
    in New York, not again at 01:30 EST, nor after a run made up at start at 01:35 EDT); a time the clocks skip
    (02:30 on the night they go forward) runs once, as much later as the clocks skipped (03:30). APScheduler 3's
    own cron adds 24 hours to go to the next day, so after a 23-hour day it left that day out for a time before
    the change (a job at 00:30 in Berlin had no run on the Monday after the clocks went forward): each run here
    is computed from its local date instead. Only the cron's fields and its text (``/status``) are used.
    """

    after_day: dt.date | None = None
    """The local day of the job's last run (the day its stored instant falls on): the first fire is on a later
    day (a restart in the hour the clocks go back, after the run in the first of the two hours, would otherwise
    fire in the second)."""

    def __init__(self, hour: int, minute: int, timezone: zoneinfo.ZoneInfo):
        super().__init__(hour=hour, minute=minute, timezone=timezone)
        self.at = dt.time(hour, minute)

    def fire_on(self, day: dt.date) -> dt.datetime:
        """The run of local ``day``."""
        # fold 0 is the first of a wall time that happens twice, and for one the clocks skip, the offset before
        # the change: in UTC, that is the time as much later as the clocks skipped
        wall = dt.datetime.combine(day, self.at, tzinfo=self.timezone)
        return wall.astimezone(dt.UTC).astimezone(self.timezone)

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
        if previous_fire_time is not None:  # the next day's, due or not: APScheduler coalesces what is past
            return self.fire_on(previous_fire_time.astimezone(self.timezone).date() + dt.timedelta(days=1))
        # from the day before: the run of a day whose time the clocks skipped may fall on the next one
        day = now.astimezone(self.timezone).date() - dt.timedelta(days=1)
        if self.after_day is not None:
            day = max(day, self.after_day + dt.timedelta(days=1))
        while (fire := self.fire_on(day)) < now:
            day += dt.timedelta(days=1)
        return fire
