"""APScheduler 3 wiring: the jobs plugins register run in the bot's own event loop.

A job runs one at a time (``max_instances=1``): a run that hangs makes APScheduler skip every later one with
only a log line of its own, so the first skip of each hung run is alerted (WARNING: the job, how long its run
has gone on).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .api import Job, Operator
from .config import SchedulerSettings
from .domain import AlertLevel

log = logging.getLogger("arbot.scheduler")


class Scheduler:
    """One AsyncIOScheduler for every job; jobs are declared anew on each start (memory job store)."""

    def __init__(self, settings: SchedulerSettings, alert: Callable[..., None] | None = None):
        """``alert(level, kind, message, source=plugin)``: how a run skipped behind a hung one is told."""
        self.settings = settings
        self._alert = alert
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
        self._scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES)

    def add(self, job: Job, plugin: str, operator: Operator, failed: Callable[[str, str], None]) -> None:
        """Schedule ``job.func(operator)``; a run that raises calls ``failed(plugin, message)``."""
        trigger = trigger_of(job, self.tz)

        async def run() -> None:
            task = asyncio.current_task()
            if task is None or self._stopping:
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
                failed(plugin, f'job "{job.name}" raised {type(exc).__name__}: {exc}')
            finally:
                self._running.pop(task, None)
                self._run_started.pop(job.name, None)

        self._scheduler.add_job(run, trigger, id=job.name, name=f"{plugin}:{job.name}", replace_existing=True)

    def _skipped(self, event: JobSubmissionEvent) -> None:
        """APScheduler skipped a run: the last one is still going. Alerted once per hung run, not per skip."""
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

    def start(self) -> None:
        """Must be called inside the running loop."""
        self._scheduler.start()

    def stop(self) -> None:
        """No new runs; the runs still going are cancelled (:meth:`join` waits for them to end)."""
        self._stopping = True
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


def trigger_of(job: Job, tz: zoneinfo.ZoneInfo) -> BaseTrigger:
    """The APScheduler trigger of a job: every ``every_s`` seconds, or daily at ``at`` local time in ``tz``."""
    if job.every_s is not None:
        return IntervalTrigger(seconds=job.every_s, timezone=tz)
    if job.at is None:  # Job refuses this when made
        raise ValueError(f'job "{job.name}" has neither every_s nor at')
    hour, minute = (int(x) for x in job.at.split(":"))
    return DailyTrigger(hour=hour, minute=minute, timezone=tz)


class DailyTrigger(CronTrigger):  # type: ignore[misc]  # APScheduler 3 ships no types
    """Once a local day at ``hour:minute``, a DST change included.

    APScheduler 3's CronTrigger fires twice on the night the clocks go back when the time falls in the hour
    that repeats (01:30 in New York: at 01:30 EDT and again at 01:30 EST): the second is skipped here. A time
    the clocks skip (02:30 on the night they go forward) still runs once, an hour later (03:30), as before.
    """

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
        next_time: dt.datetime | None = super().get_next_fire_time(previous_fire_time, now)
        if next_time is None or previous_fire_time is None:
            return next_time
        wall = previous_fire_time.astimezone(self.timezone).replace(tzinfo=None, fold=0)
        if next_time.replace(tzinfo=None, fold=0) != wall:
            return next_time
        # the same wall time again, an hour later: ask from just after it (in UTC: adding to a local time
        # would lose its fold and land in the first of the two hours again)
        after = (next_time.astimezone(dt.UTC) + dt.timedelta(seconds=1)).astimezone(self.timezone)
        later: dt.datetime | None = super().get_next_fire_time(next_time, after)
        return later
