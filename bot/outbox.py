"""What a chat transport sends goes through an :class:`Outbox`: one lane per chat, nobody waits on it.

A chat service limits how fast a bot may write (Telegram: about 20 messages a minute to one group,
30 a second overall; a 429 asks to wait ``retry_after`` seconds). A transport that awaited each
reply inside its update handling would make everyone wait behind the slowest chat: a flood in a
group would hold up an admin's private ``/kill``. Instead the handler puts the send into the lane
of its chat and returns; each lane sends its items in order, in its own task, so a slow chat
delays only itself. Lanes are bounded: when one is full, the oldest of its least urgent items is dropped
and counted (an item's ``priority``: a transport passes an alert's level, so a burst of fills never
pushes out the CRITICAL queued before it; a new item less urgent than everything queued is the one
dropped), and
:meth:`Outbox.close` gives them a bounded time to finish, then cancels the rest: stopping never
waits on a chat service. What close gives up on (still queued, or cut off while being sent) is lost and counted
in :attr:`Outbox.dropped` like a full lane's drop: a trader must not read the silence as calm.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

Send = Callable[[], Awaitable[object]]
T = TypeVar("T")


def drop_least_urgent(queue: deque[T], priority: int, priority_of: Callable[[T], int]) -> bool:
    """Make room in a full ``queue`` for an item of ``priority``: drop the oldest of its least urgent items, or,
    when the new item is less urgent than all of them, nothing. Returns whether the new item may go in; either
    way one item is lost, and the caller counts it. One rule for every bounded queue of alerts (a chat lane,
    the host's alert queue, a notifier's held alerts)."""
    lowest = min(priority_of(queued) for queued in queue)
    if priority < lowest:
        return False
    del queue[next(i for i, queued in enumerate(queue) if priority_of(queued) == lowest)]
    return True


class Outbox:
    """Per-destination send lanes: ``put(chat, send)`` returns at once; ``close(timeout_s)`` on stop."""

    def __init__(self, name: str, log: logging.Logger, *, lane_size: int = 50):
        self.name = name
        self.log = log
        self.lane_size = lane_size
        self._lanes: dict[Hashable, deque[tuple[int, str, Send]]] = {}
        """Per destination, (priority, kind, send) in the order they were put."""
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}
        self._closed = False
        self._cut_off: list[str] = []
        """The kinds of the sends cancelled by :meth:`close` while in flight (a wait for a 429's ``retry_after``, a
        slow server)."""
        self.dropped = 0
        """Items lost: dropped because their lane was full (the oldest of the least urgent go first), put after
        :meth:`close`, or given up by :meth:`close` (still queued, or cut off while being sent)."""
        self.dropped_by_kind: Counter[str] = Counter()
        """:attr:`dropped` per the ``kind`` each item was put with (a transport tells its replies from its alerts)."""
        self.failed = 0
        """Sends that raised (logged, then the lane goes on)."""

    def put(self, destination: Hashable, send: Send, priority: int = 0, *, kind: str = "alert") -> None:
        """Queue ``send()`` behind what ``destination`` already has queued; never blocks. A full lane drops the
        oldest of its lowest ``priority`` items (this one, if it is less urgent than all of them). ``kind``: what
        a drop of it is counted as in :attr:`dropped_by_kind` (``"alert"``, ``"reply"``)."""
        if self._closed:
            self.count_dropped(kind=kind)
            return
        lane = self._lanes.setdefault(destination, deque())
        if len(lane) >= self.lane_size:
            lowest = min(lane, key=_priority)
            admitted = drop_least_urgent(lane, priority, _priority)
            self.count_dropped(kind=lowest[1] if admitted else kind)
            if self.dropped % 100 == 1:  # the first of a flood, then one line per hundred
                self.log.warning("%s: too much queued for %s; dropped the oldest least urgent message "
                                 "(%d dropped so far)", self.name, destination, self.dropped)
            if not admitted:
                return
        lane.append((priority, kind, send))
        if destination not in self._tasks:
            task = asyncio.get_running_loop().create_task(self._drain(destination),
                                                          name=f"{self.name}:outbox {destination}")
            self._tasks[destination] = task

    def count_dropped(self, count: int = 1, kind: str = "alert") -> None:
        """Count ``count`` items of ``kind`` lost before they reached a lane (a transport's own held queue)."""
        self.dropped += count
        self.dropped_by_kind[kind] += count

    def pending(self) -> int:
        """Items queued and not yet sent, all lanes together."""
        return sum(len(lane) for lane in self._lanes.values())

    async def _drain(self, destination: Hashable) -> None:
        lane = self._lanes[destination]
        try:
            while lane:
                _, kind, send = lane.popleft()
                try:
                    await send()
                except asyncio.CancelledError:  # close gave up on it: maybe never sent, so counted as lost
                    self._cut_off.append(kind)
                    raise
                except Exception as exc:  # one failed send must not stop the lane (or the transport)
                    self.failed += 1
                    self.log.warning("%s: sending to %s failed: %s: %s", self.name, destination,
                                     type(exc).__name__, exc)
        finally:
            if not lane:
                self._lanes.pop(destination, None)
            self._tasks.pop(destination, None)

    async def close(self, timeout_s: float) -> int:
        """Let the lanes send what they hold for up to ``timeout_s``, then cancel; returns what was not sent (still
        queued, or cut off while being sent), which is also added to :attr:`dropped`."""
        self._closed = True
        tasks = list(self._tasks.values())
        if tasks and timeout_s > 0:
            await asyncio.wait(tasks, timeout=timeout_s)
        queued = [kind for lane in self._lanes.values() for _, kind, _ in lane]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._lanes.clear()
        lost, self._cut_off = queued + self._cut_off, []
        unsent = len(lost)
        for kind in lost:
            self.count_dropped(kind=kind)
        if unsent:
            self.log.warning("%s: %d message(s) not sent before stopping, counted as dropped (%d dropped in all)",
                             self.name, unsent, self.dropped)
        return unsent


def _priority(item: tuple[int, str, Send]) -> int:
    return item[0]
