"""The store's reads off the loop: a few threads of the store's own, a bounded wait, identical reads shared.

What a surface reads of the store (``/pnl``, ``/status``, ``/report``, the web console's pages and summaries) runs on a
worker thread so that a database slow to answer holds the one who asked, never the event loop
(:meth:`~bot.store.Store.read_off_loop`). Those threads are the store's own, never the loop's default executor: a
PostgreSQL server that stops answering (``kill -STOP``, a network dropping packets) holds at most
:data:`READ_THREADS` of them, and everything else that uses the default executor (``asyncio.to_thread``,
``loop.run_in_executor(None, ...)``, the DNS look-ups of HTTP and websocket clients) goes on.

- **Shared**: a read asked again while the same read (the same function, equal arguments) is in progress joins it:
  one query, many waiters, each given its own copy of the answer. A trader sending ``/pnl`` ten times, or a console
  polling, costs one thread.
- **Bounded**: at most :data:`READ_THREADS` reads run, at most :data:`READ_QUEUE` wait for a thread, and none
  waits for one longer than :data:`READ_WAIT_S`. A read that cannot get a thread answers at once
  (:class:`ReadRefused`): when every thread holds a read the database has not answered for :data:`READ_WAIT_S`
  ("the database is not answering"), or when :data:`READ_QUEUE` reads are waiting already; one that waited
  :data:`READ_WAIT_S` in the queue is given up then. Nothing queues without bound.
- A read running when the database stops answering waits for it (no client-side timeout ends a query a stopped server
  never answers); it answers once the server does. Its thread is a daemon: a stuck read never holds the process's exit.

:meth:`StoreReads.close` (the store's close) refuses every read after it and those still waiting
(:class:`~bot.store.StoreClosed`).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

THREAD_NAME = "arbot-store-read"
READ_THREADS = 3
"""Store reads that may run at once (each holds one thread of the store's own while the database answers)."""
READ_QUEUE = 16
"""Store reads that may wait for a thread at once; one more is refused at once (:class:`ReadRefused`)."""
READ_WAIT_S = 5.0
"""How long a read may wait for a thread, and how long a running read may go unanswered before every read that would
wait behind it is refused at once (the database is taken as not answering)."""


class ReadRefused(TimeoutError):
    """A store read refused without running: the store's read threads are held by reads the database has not answered
    (or too many reads wait for them). Nothing was read; the same read may be asked again later."""


class _Read:
    """One read handed to the threads: its call, the loop's future of its answer, and where it stands."""

    __slots__ = ("fn", "args", "kwargs", "loop", "done", "key", "state", "started")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 loop: asyncio.AbstractEventLoop, key: Hashable | None):
        self.fn, self.args, self.kwargs, self.loop, self.key = fn, args, kwargs, loop, key
        self.done: asyncio.Future[Any] = loop.create_future()
        self.done.add_done_callback(_retrieved)  # a read nobody awaits any more logs no "never retrieved"
        self.state = "waiting"  # then "running" (on a thread) or "dropped" (given up before it ran)
        self.started = 0.0


class StoreReads:
    """The read threads of one store (its :meth:`scoped` views share them). Use from the loop's thread."""

    def __init__(self, name: str, closed: Callable[[str], Exception]):
        self.name = name
        """The store as it may be shown (its URL, password masked): in the refusals' text."""
        self._closed_error = closed
        """Makes the error of a read refused once closed (the store's :class:`~bot.store.StoreClosed`)."""
        self._queue: queue.SimpleQueue[_Read | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._waiting: list[_Read] = []
        self._running: list[_Read] = []
        self._shared: dict[Hashable, _Read] = {}
        """The reads in progress (waiting or running) by what they read, on the loop's thread."""
        self._closed = False

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on one of the store's read threads (see the module doc), joined to the same read in
        progress if one is. Raises :class:`ReadRefused` when it cannot get a thread, and what ``fn`` raises."""
        key = _key(fn, args, kwargs)
        joined = self._shared.get(key) if key is not None else None
        if joined is not None and joined.loop is asyncio.get_running_loop():  # (a future is its loop's own)
            answer: T = await asyncio.shield(joined.done)
            return _copy(answer)  # the first caller's answer is the first's own
        handed = self._hand(fn, args, kwargs, key)
        own: T = await asyncio.shield(handed.done)  # a caller gone (a request dropped) leaves it to the others
        return own

    def _hand(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
              key: Hashable | None) -> _Read:
        if self._closed:
            raise self._closed_error(f"store {self.name} is closed: it can no longer be read")
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        with self._lock:
            if len(self._running) >= READ_THREADS and all(now - r.started > READ_WAIT_S for r in self._running):
                oldest = now - min(r.started for r in self._running)
                raise ReadRefused(f"the database is not answering: the store's {READ_THREADS} read threads each hold "
                                  f"a read it has not answered (the oldest for {oldest:.0f} s); nothing was read, "
                                  "try again later")
            if len(self._waiting) >= READ_QUEUE + READ_THREADS - len(self._running):  # (a thread free takes one)
                raise ReadRefused(f"the store is not answering fast enough: {READ_QUEUE} reads wait for its "
                                  f"{READ_THREADS} read threads already; nothing was read, try again later")
            handed = _Read(fn, args, kwargs, loop, key)
            self._waiting.append(handed)
            queued = len(self._waiting) + len(self._running) > READ_THREADS  # no thread free for it now
            while len(self._threads) < READ_THREADS:
                thread = threading.Thread(target=self._work, name=f"{THREAD_NAME}-{len(self._threads)}", daemon=True)
                thread.start()
                self._threads.append(thread)
        if key is not None:
            self._shared[key] = handed
            handed.done.add_done_callback(lambda _: self._forget(handed))
        self._queue.put(handed)
        if queued:  # only then: a timer would move a backtest's simulated clock, which jumps to the next one
            loop.call_later(READ_WAIT_S, self._give_up, handed)
        return handed

    def _forget(self, handed: _Read) -> None:
        if handed.key is not None and self._shared.get(handed.key) is handed:
            del self._shared[handed.key]

    def _give_up(self, handed: _Read) -> None:
        """A read still waiting for a thread :data:`READ_WAIT_S` after it was handed over: refused, never run."""
        with self._lock:
            if handed.state != "waiting":
                return
            handed.state = "dropped"
            self._waiting.remove(handed)
            held = len(self._running)
        if not handed.done.done():
            handed.done.set_exception(ReadRefused(
                f"the database is not answering: this read waited {READ_WAIT_S:g} s for one of the store's "
                f"{READ_THREADS} read threads ({held} held by reads not answered yet); nothing was read, "
                "try again later"))

    def _work(self) -> None:
        while True:
            handed = self._queue.get()
            if handed is None:  # closed
                return
            with self._lock:
                if handed.state != "waiting":  # given up meanwhile
                    continue
                handed.state = "running"
                handed.started = time.monotonic()
                self._waiting.remove(handed)
                self._running.append(handed)
            try:
                result = handed.fn(*handed.args, **handed.kwargs)
            except BaseException as exc:  # handed to the caller, on its loop
                self._answer(handed, None, exc)
            else:
                self._answer(handed, result, None)
            finally:
                with self._lock:
                    self._running.remove(handed)

    def _answer(self, handed: _Read, result: Any, exc: BaseException | None) -> None:
        def settle() -> None:
            if handed.done.done():
                return
            if exc is not None:
                handed.done.set_exception(exc)
            else:
                handed.done.set_result(result)

        try:
            handed.loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the loop is closed: nobody waits for the answer any more
            pass

    def close(self) -> None:
        """Refuse every read from now on, and those waiting for a thread (:class:`~bot.store.StoreClosed`); the
        threads end once their read is over (one the database never answers does not hold the process's exit)."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            dropped, self._waiting = self._waiting, []
            for handed in dropped:
                handed.state = "dropped"
            threads = len(self._threads)
        for _ in range(threads):
            self._queue.put(None)
        for handed in dropped:
            self._answer(handed, None, self._closed_error(f"store {self.name} was closed before this read could run"))


def _key(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable | None:
    """What a read reads, for sharing it: None when its arguments cannot tell (one not hashable)."""
    key = (fn, args, tuple(sorted(kwargs.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _copy(answer: T) -> T:
    """A joined caller's own copy of a shared answer (the answer itself when it cannot be copied)."""
    try:
        return copy.deepcopy(answer)
    except Exception:  # a lock, a connection: nothing a caller could change for another
        return answer


def _retrieved(done: asyncio.Future[Any]) -> None:
    if not done.cancelled():
        done.exception()
