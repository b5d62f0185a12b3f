"""Every background task goes through :class:`Tasks`: referenced, named, reported, awaited on stop.

A task that must keep running whatever happens (a send lane, the store writer) is started with
:meth:`Tasks.supervise`: when it raises, the failure is reported once per streak and it is started
again after a growing delay, and its recovery is reported once it has held for ``HEALTHY_AFTER_S``; the work it had
not finished lives outside the coroutine (in its queue), so a restart picks it up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from .ratelimit import backoff_delay

log = logging.getLogger("arbot.tasks")

SUPERVISE_BACKOFF_S = (0.1, 5.0)
"""First and longest delay before a supervised task is started again."""
HEALTHY_AFTER_S = 30.0
"""A supervised task that ran this long without failing starts a new streak (its next failure is reported)."""


class Tasks:
    def __init__(self, on_error: Callable[[str, str, BaseException], None],
                 on_recovered: Callable[[str, str, int], None] | None = None):
        self._on_error = on_error
        self._on_recovered = on_recovered
        """``(owner, what, failures)``: a supervised task whose failure was reported has run HEALTHY_AFTER_S since."""
        self._tasks: set[asyncio.Task[Any]] = set()

    def create(self, coro: Coroutine[Any, Any, Any], *, owner: str, what: str) -> asyncio.Task[Any]:
        """Start ``coro``; if it raises, ``on_error(owner, what, exc)`` reports it."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{owner}:{what}")
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, owner, what))
        return task

    def supervise(self, factory: Callable[[], Coroutine[Any, Any, Any]], *, owner: str, what: str) -> asyncio.Task[Any]:
        """Run ``factory()`` until it returns; each time it raises, report it (once per streak) and run
        it again after a backoff delay; once a run after a reported failure has held for HEALTHY_AFTER_S,
        ``on_recovered`` is told (the streak is over). Cancelling the returned task stops it for good."""
        return self.create(self._supervised(factory, owner, what), owner=owner, what=what)

    async def _supervised(self, factory: Callable[[], Coroutine[Any, Any, Any]], owner: str, what: str) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            started = loop.time()
            # after a reported failure: once the task has held for HEALTHY_AFTER_S, say so (the report's end)
            held = (loop.call_later(HEALTHY_AFTER_S, self._on_recovered, owner, what, failures)
                    if failures and self._on_recovered is not None else None)
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if loop.time() - started >= HEALTHY_AFTER_S:
                    failures = 0
                if failures == 0:
                    self._on_error(owner, f"{what} (restarting by itself)", exc)
                else:
                    log.warning("%s of %s failed again (%s: %s); restarting", what, owner, type(exc).__name__, exc)
                delay = backoff_delay(failures, *SUPERVISE_BACKOFF_S)
                failures += 1
            finally:
                if held is not None:
                    held.cancel()
            await asyncio.sleep(delay)

    def report(self, owner: str, what: str, exc: BaseException) -> None:
        """Report a failure of work done in a loop callback rather than a task, as a task's would be reported."""
        self._on_error(owner, what, exc)

    def _done(self, task: asyncio.Task[Any], owner: str, what: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._on_error(owner, what, exc)

    def cancel_owner(self, owner: str) -> None:
        """Cancel every running task of ``owner`` (a service that stopped)."""
        for task in list(self._tasks):
            if task.get_name().startswith(f"{owner}:"):
                task.cancel()

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for running tasks (orders in flight), then cancel the rest."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
