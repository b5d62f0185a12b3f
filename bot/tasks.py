"""Every background task goes through :class:`Tasks`: referenced, named, reported, awaited on stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("arbot.tasks")


class Tasks:
    def __init__(self, on_error: Callable[[str, str, BaseException], None]):
        self._on_error = on_error
        self._tasks: set[asyncio.Task] = set()

    def create(self, coro: Coroutine[Any, Any, Any], *, owner: str, what: str) -> asyncio.Task:
        """Start ``coro``; if it raises, ``on_error(owner, what, exc)`` reports it."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{owner}:{what}")
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, owner, what))
        return task

    def _done(self, task: asyncio.Task, owner: str, what: str) -> None:
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
