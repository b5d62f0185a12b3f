"""APScheduler 3 wiring: the jobs plugins register run in the bot's own event loop."""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .api import Job, Operator
from .config import SchedulerSettings

log = logging.getLogger("arbot.scheduler")


class Scheduler:
    """One AsyncIOScheduler for every job; jobs are declared anew on each start (memory job store)."""

    def __init__(self, settings: SchedulerSettings):
        self.settings = settings
        self.tz = zoneinfo.ZoneInfo(settings.timezone)
        self._scheduler = AsyncIOScheduler(
            timezone=self.tz,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.misfire_grace_s},
        )

    def add(self, job: Job, plugin: str, operator: Operator, failed: Callable[[str, str], None]) -> None:
        """Schedule ``job.func(operator)``; a run that raises calls ``failed(plugin, message)``."""
        if job.every_s is not None:
            trigger = IntervalTrigger(seconds=job.every_s, timezone=self.tz)
        elif job.at is not None:
            hour, minute = (int(x) for x in job.at.split(":"))
            trigger = CronTrigger(hour=hour, minute=minute, timezone=self.tz)

        async def run() -> None:
            try:
                await job.func(operator)
            except Exception as exc:  # report with the job's name; it runs again next time
                log.exception("job %s (plugin %s) failed", job.name, plugin)
                failed(plugin, f'job "{job.name}" raised {type(exc).__name__}: {exc}')

        self._scheduler.add_job(run, trigger, id=job.name, name=f"{plugin}:{job.name}", replace_existing=True)

    def start(self) -> None:
        """Must be called inside the running loop."""
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def jobs(self) -> list[tuple[str, str]]:
        """(job name, next run time) for /status."""
        return [(j.id, str(j.next_run_time)) for j in self._scheduler.get_jobs()]
