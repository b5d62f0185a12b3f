"""The store writer: the executor's writes run on one thread beside the event loop.

The loop hands each write (an order insert before a send, a batch of order changes and fills) to
:class:`StoreWriter` and awaits it, so a slow database (a lock held by another process, a full
disk, a PostgreSQL round trip) delays that order but never freezes the loop. Writes run one at a
time, in the order they were handed over, on a single thread.

On a file-backed SQLite store the executor's own writes (order rows, the write-back batches) are committed
on the loop's record connection, which never checkpoints (a checkpoint fsyncs), and only go to the writer
thread when another writer holds the lock: two threads sharing the interpreter lock and the database's
write lock delay each other by far more than the writes cost. The writer thread then checkpoints the WAL
(:meth:`StoreWriter.wrote_on_loop`) about :data:`CHECKPOINT_EVERY_S` after such writes.

Records that may land a little later (risk events, markout samples, a plugin's log of opportunities on
PostgreSQL) are handed over without waiting (:meth:`StoreWriter.later`): a database that stops answering
delays them, never the loop.

A write that the database never answers (a server stopped with ``kill -STOP``, a network that drops packets
without a reset) raises no error on the writer thread, and no client-side timeout ends it: past
:data:`WRITE_STALL_S` the writer tells its watcher (:meth:`StoreWriter.watch`: the executor raises the CRITICAL
"store cannot be written" alert and refuses new orders), and tells it again when a write succeeds.

Reads that must keep their place among the writes (a late fill's order, what the executor loads at start, a plugin's
reads handed over with ``ctx.read_later``) run on the same thread (:meth:`StoreWriter.read`,
:meth:`StoreWriter.read_later`) and never count toward that alarm by themselves: reading every stored fill of a big
store may take longer than :data:`WRITE_STALL_S` while the database answers. What counts is how long the oldest
write not yet done has waited since it was handed over, so a write held behind a read the database never answers
raises the alarm as one held behind a write does.

A statement run *on the loop's thread* (a plugin's table, an audit row) waits at most
:data:`LOOP_BUSY_TIMEOUT_MS` for a lock and then fails (SQLite: ``database is locked``;
PostgreSQL: ``lock_timeout``) instead of freezing the loop; the writer thread waits up to
:data:`WRITER_BUSY_TIMEOUT_MS` per attempt, then the executor retries.

:meth:`StoreWriter.close` (the bot's stop: :meth:`StoreWriter.aclose`) waits for what was handed over, within a bound
(the stop's ``[bot] shutdown_timeout_s``; :data:`WRITER_CLOSE_S` for a command's writer): a server that does not
answer (SIGSTOP, packets dropped) never holds the stop, the loop, nor the process's exit (the writer's thread is a
daemon, never joined at exit). What was not done by then is named in one ERROR line and its waiters get
:class:`WriterClosed`: the write already sent may still land when the server answers, even after the process exited
(its statements were sent), and those behind it never run. A restart needs none of them:
an order's row is committed before the order is sent (an order whose row was not written was not sent: never sent
twice), and order changes and fills not written are asked of the venues again by the next start's recovery, as after
a crash. A plugin's record not written (a drawdown peak saved since the last one stored, a risk event, a markout) is
not recovered: the next start has what was stored before. Work handed over after the close is refused
(:class:`WriterClosed`), never run on a thread started again.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, InvalidStateError
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from .store import Store, StoreClosed

T = TypeVar("T")
log = logging.getLogger("arbot.writer")

THREAD_NAME = "arbot-store-writer"
LOOP_BUSY_TIMEOUT_MS = 50
"""How long a write on the event loop's thread waits for an SQLite lock before it fails."""
WRITER_BUSY_TIMEOUT_MS = 5000
"""How long one write on the writer thread waits for an SQLite lock (then it is retried)."""
WRITE_STALL_S = 5.0
"""A write handed to the writer thread and not done after this many seconds: the store is taken as not answering."""
STALL_CHECK_EVERY_S = 0.25
"""How often the loop looks at the write in progress (a fraction of :data:`WRITE_STALL_S` at most)."""
WRITER_CLOSE_S = 5.0
"""How long :meth:`StoreWriter.close` waits for the work handed over (the bot's stop gives what is left of its
``[bot] shutdown_timeout_s`` instead): what is not done by then is named in one ERROR line and dropped."""
CHECKPOINT_EVERY_S = 1.0
"""The WAL is checkpointed (fsynced) on the writer thread at most this long after records committed on the loop."""

_DISK_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EROFS, errno.EDQUOT}


class WriterClosed(RuntimeError):
    """Work handed to a store writer after :meth:`StoreWriter.close`: refused, never run (no thread is started again,
    and nothing would wait for it)."""


class StoreNotAnswering(TimeoutError):
    """A write on the writer thread has waited :data:`WRITE_STALL_S` for the database, with no answer yet."""


def is_store_error(exc: BaseException) -> bool:
    """True when ``exc`` says the database could not be reached or written (locked, disk full, gone),
    as opposed to a bug in what was written: a later try may succeed. A closed store or writer is neither
    (:func:`is_store_closed`): it never reopens, so retried it would be retried forever."""
    if isinstance(exc, (OperationalError, InterfaceError, DisconnectionError, sqlite3.OperationalError)):
        return True
    return isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS


def is_store_closed(exc: BaseException) -> bool:
    """True when ``exc`` says the store (:class:`~bot.store.StoreClosed`) or its writer (:class:`WriterClosed`) was
    closed: the bot or command that opened it stopped. Nothing was wrong with what was written, and no later try
    succeeds: say so in one line and drop the work (what the executor did not write, the next start asks the
    venues), never retry it nor raise the "store cannot be written" alarm."""
    return isinstance(exc, (StoreClosed, WriterClosed))


def describe_store_error(exc: BaseException) -> str:
    """One short line for logs and alerts: the driver's message (no SQL, no parameters, no password)."""
    from .redact import REDACTOR

    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return f"{type(exc).__name__}: {REDACTOR.redact(text[0] if text else '')}"


class StoreWriter:
    """Runs store writes one at a time off the loop (``threaded``), or inline on simulated time."""

    def __init__(self, store: Store, *, threaded: bool = True):
        self.store = store
        self.threaded = threaded
        self._pool: _WriterThread | None = None
        self._checkpoint: asyncio.TimerHandle | None = None
        """The checkpoint scheduled on the loop (None: none waiting to start)."""
        self._checkpoint_due = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._work: dict[int, _Handed] = {}
        """The work (writes and reads) handed over and not done, by number (added on the loop's thread, removed on the
        writer's, under ``_writes_lock``). Oldest first."""
        self._writes_lock = threading.Lock()
        self._numbers = itertools.count()
        self._stalled = False
        """The write in progress was reported as not answered (:meth:`watch`), and no write has succeeded since."""
        self._watch: asyncio.TimerHandle | None = None
        self._on_stalled: Callable[[float], None] | None = None
        self._on_answered: Callable[[], None] | None = None
        self._closed = False
        """:meth:`close` was called: new work is refused (:class:`WriterClosed`)."""
        if store.engine.dialect.name in ("sqlite", "postgresql"):
            event.listen(store.engine, "checkout", _lock_timeout_by_thread)
            event.listen(store.engine, "checkin", partial(_close_after_store, store))
        if store.fast is not None:
            store.fast.wait_ms = _wait_ms_by_thread
            store.fast.checkpoints = _on_writer_thread

    def watch(self, stalled: Callable[[float], None], answered: Callable[[], None]) -> None:
        """Call ``stalled(seconds)`` on the loop when a write has run :data:`WRITE_STALL_S` without an answer from the
        database, then ``answered()`` once a write succeeds (each once per stall). Only on the writer thread: inline
        (simulated time) a write cannot be watched while it runs."""
        self._on_stalled, self._on_answered = stalled, answered

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run the write ``fn(*args, **kwargs)`` on the writer thread and return its result (or raise its error)."""
        self._ensure_open()
        if not self.threaded:
            return fn(*args, **kwargs)
        return await self._handed(True, fn, args, kwargs)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """:meth:`call` for a read: in order with the writes, not watched by itself (see the module doc)."""
        self._ensure_open()
        if not self.threaded:
            return fn(*args, **kwargs)
        return await self._handed(False, fn, args, kwargs)

    def later(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Hand the write ``fn(*args, **kwargs)`` to the writer thread without waiting for it (a record that may
        land a little later: a log row, a markout): a future of the loop, done when it has run, with its result or
        error. It runs after every write handed over before it; :meth:`close` waits for it. Inline on
        simulated time (the future is done when this returns). After :meth:`close`: :class:`WriterClosed`."""
        return self._handed(True, fn, args, kwargs)

    def read_later(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """:meth:`later` for a read: in order with the writes, not watched by itself (see the module doc)."""
        return self._handed(False, fn, args, kwargs)

    def _handed(self, write: bool, fn: Callable[..., T], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> asyncio.Future[T]:
        self._ensure_open()
        loop = asyncio.get_running_loop()
        if self.threaded:
            pool = self._thread()
            number = next(self._numbers)
            with self._writes_lock:  # (the thread's pop of the number waits for it to be recorded)
                handed = pool.submit(partial(self._timed, number, write, fn, args, kwargs))
                self._work[number] = _Handed(time.monotonic(), write, _label(fn, args), handed)
            handed.add_done_callback(partial(self._cancelled, number))  # (outside the lock: it may run at once)
            return asyncio.wrap_future(handed, loop=loop)
        done: asyncio.Future[T] = loop.create_future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as exc:
            done.set_exception(exc)
        return done

    async def drained(self) -> None:
        """Return once every write handed over before this call has run (they run in order)."""
        await self.read(_nothing)

    def settle(self, timeout_s: float = 10.0) -> None:
        """:meth:`drained` for a caller that cannot await (a test reading what a check just stored): block until
        every write handed over before has run. The writer's work never waits for the loop, so this may be called
        on it; TimeoutError after ``timeout_s``. Nothing to wait for once closed (:meth:`close` waited)."""
        if self.threaded and self._pool is not None:
            self._pool.submit(_nothing).result(timeout_s)

    def _timed(self, number: int, write: bool, fn: Callable[..., T], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> T:
        """Run one call on the writer thread; it is done for the loop's watch (:meth:`_look`) and the close once it
        returns or raises."""
        try:
            result = fn(*args, **kwargs)
        finally:
            with self._writes_lock:
                self._work.pop(number, None)
        loop = self._loop
        if write and self._stalled and loop is not None:  # a write the database answered
            try:
                loop.call_soon_threadsafe(self._answered)
            except RuntimeError:  # the loop is closed: nobody watches any more
                pass
        return result

    def _cancelled(self, number: int, handed: Future[Any]) -> None:
        """A call its caller gave up on before it ran (the loop's future cancelled, which cancels this one) never
        runs: it is not waited for, by the stall watch or the close."""
        if handed.cancelled():
            with self._writes_lock:
                self._work.pop(number, None)

    def _oldest_write(self) -> float | None:
        """When the oldest write not yet done was handed over, None when every write is done."""
        with self._writes_lock:
            return next((work.handed_at for work in self._work.values() if work.write), None)

    def _look(self) -> None:
        """The loop's watch over the write in progress (every :data:`STALL_CHECK_EVERY_S`)."""
        loop = self._loop
        if loop is None:
            return
        self._watch = loop.call_later(min(STALL_CHECK_EVERY_S, WRITE_STALL_S / 2), self._look)
        handed = self._oldest_write()
        if handed is None or self._stalled:
            return
        waited_s = time.monotonic() - handed
        if waited_s > WRITE_STALL_S:
            self._stalled = True
            log.error("a store write has waited %.1f s for the database", waited_s)
            if self._on_stalled is not None:
                self._on_stalled(waited_s)

    def _answered(self) -> None:
        if not self._stalled:
            return
        self._stalled = False
        log.warning("the database answers again")
        if self._on_answered is not None:
            self._on_answered()

    def _ensure_open(self) -> None:
        if self._closed:
            raise WriterClosed(f"the store writer of {self.store.url} is closed: nothing more is written or read "
                               "through it (work handed over after the bot stopped)")

    def _thread(self) -> _WriterThread:
        self._ensure_open()
        if self._pool is None:
            self._pool = _WriterThread(THREAD_NAME)
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:  # closing after the loop: nothing left to watch
                self._loop = None
            self._look()
            if self.store.fast is not None:  # the thread's record connection, opened now as the loop's is at open
                self._pool.submit(self.store.fast.connect)
        return self._pool

    def wrote_on_loop(self) -> None:
        """Records were committed on the loop's record connection (file-backed SQLite), which never checkpoints:
        checkpoint the WAL on the writer thread (``PASSIVE``: no write lock taken, the loop's records go on
        meanwhile) at most :data:`CHECKPOINT_EVERY_S` from now, and no sooner than that after the previous one.
        A checkpoint covers every commit before it, whoever made it. Nothing on simulated time (a backtest's store
        is its own, and a checkpoint per simulated second would cost more than the steps between), nor once closed
        (:meth:`close` checkpointed)."""
        if not self.threaded or self.store.fast is None or self._checkpoint is not None or self._closed:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._checkpoint_due - time.monotonic())
        self._checkpoint = loop.call_later(delay, self._start_checkpoint)

    def _start_checkpoint(self) -> None:
        self._checkpoint = None  # records committed from now on schedule the next one
        self._checkpoint_due = time.monotonic() + CHECKPOINT_EVERY_S
        fast = self.store.fast
        if fast is not None:
            self._thread().submit(_checkpoint, fast.checkpoint)

    def close(self, timeout_s: float = WRITER_CLOSE_S) -> list[str]:
        """Wait ``timeout_s`` at most for the work handed over, then stop the thread (a checkpoint due runs first);
        what is not done by then is named in one ERROR line and dropped (see the module doc). From now on new work is
        refused (:class:`WriterClosed`) and no thread is started again; closing again does nothing. Blocks the
        caller: on the loop, :meth:`aclose`. Returns the writes not done (empty: all done)."""
        pool = self._closing()
        if pool is not None and not pool.ended.wait(timeout_s):
            return self._given_up(pool, timeout_s)
        return []

    async def aclose(self, timeout_s: float = WRITER_CLOSE_S) -> list[str]:
        """:meth:`close` for the loop's thread (the bot's stop): the loop runs on while the work handed over ends.
        Returns the writes not done (empty: all done). Their waiters have been told when this returns: what awaits
        the future of one given up on (a coroutine, a done callback: a plugin saying what it did not store) has had its
        say, however many turns of the loop that takes, never after the bot's last line."""
        pool = self._closing()
        if pool is None:
            return []
        ended = asyncio.wrap_future(pool.ended_future)
        await asyncio.wait([ended], timeout=timeout_s)
        if ended.done():
            return []
        loop = asyncio.get_running_loop()

        def told_after(handed: Future[Any]) -> asyncio.Future[None]:
            """Done once ``handed``'s end has reached the caller's future: ``asyncio.wrap_future``'s callback (added at
            hand-over) puts it on the loop before this one's, so that future's own callbacks (a done callback, an
            awaiting coroutine's wakeup) are scheduled before a wait on this one can return."""
            told: asyncio.Future[None] = loop.create_future()
            handed.add_done_callback(lambda _: loop.call_soon_threadsafe(told.set_result, None))
            return told

        with self._writes_lock:
            waiters_told = [told_after(work.future) for work in self._work.values()]
        left = self._given_up(pool, timeout_s)
        if waiters_told:
            await asyncio.wait(waiters_told)
        return left

    def _closing(self) -> _WriterThread | None:
        """Refuse new work and tell the thread to end once the work handed over is done: the thread, if there is one
        (None: nothing to wait for, or closed already)."""
        if self._closed:
            return None
        if self._checkpoint is not None:
            self._checkpoint.cancel()
            self._start_checkpoint()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self._loop = None
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)
        return pool

    def _given_up(self, pool: _WriterThread, waited_s: float) -> list[str]:
        """The close waited ``waited_s`` and the database did not answer: say what was not done, and tell its
        waiters (:class:`WriterClosed`). The thread, a daemon, runs on until the database answers (the write
        already sent may land then) and ends without running what was behind it."""
        with self._writes_lock:
            left, self._work = list(self._work.values()), {}
        writes = [work.label for work in left if work.write]
        reads = len(left) - len(writes)
        for work in left:
            pool.give_up(work.future, WriterClosed(
                f"the store writer of {self.store.url} closed after waiting {waited_s:.1f} s for the database: "
                "not done (a write already sent may still land when the database answers)"))
        if not left:
            return []
        log.error("store writer closed after waiting %.1f s for the database: %d write(s) not done: %s%s; a write "
                  "already sent may still land when the database answers, the others never run. A "
                  "restart needs none of them: an order is stored before it is sent, and the next start asks the "
                  "venues for order changes and fills not stored; a plugin's record not stored (a drawdown peak, a "
                  "risk event) is lost", waited_s, len(writes), ", ".join(writes) or "none",
                  f" (and {reads} read(s))" if reads else "")
        return writes


def _nothing() -> None:
    pass


class _Handed:
    """Work handed to the writer thread and not done yet, as the watch and the close see it."""

    __slots__ = ("handed_at", "write", "label", "future")

    def __init__(self, handed_at: float, write: bool, label: str, future: Future[Any]):
        self.handed_at, self.write, self.label, self.future = handed_at, write, label, future


def _label(fn: Callable[..., Any], args: tuple[Any, ...]) -> str:
    """What a write is, for the log: its function and how many items each list it was given holds (no values: they
    may be anything a plugin stores)."""
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    sizes = [f"{len(arg)} item(s)" for arg in args if isinstance(arg, (list, tuple, dict, set))]
    return f"{name}({', '.join(sizes)})" if sizes else name


class _WriterThread(Executor):
    """One daemon thread running what is submitted, one at a time, in order. Never joined at the interpreter's exit
    (a :class:`~concurrent.futures.ThreadPoolExecutor`'s threads are: one waiting on a database that does not answer
    would hold the process's exit as long)."""

    def __init__(self, name: str):
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self.ended_future: Future[None] = Future()
        """Done when the thread has ended (after :meth:`shutdown` and the work before it)."""
        self.ended = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            with self._lock:
                if future.done() or not future.set_running_or_notify_cancel():  # given up by the close: never run
                    return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                _settle(future.set_exception, exc)
            else:
                _settle(future.set_result, result)

        self._queue.put(run)
        return future

    def give_up(self, future: Future[Any], exc: BaseException) -> None:
        """End ``future`` with ``exc`` now, running or not: not started yet, it never runs; running, its answer is
        dropped when it comes."""
        with self._lock:
            _settle(future.set_exception, exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """End the thread once the work submitted before is done (``wait``: block until then, without bound)."""
        self._queue.put(None)
        if wait:
            self.ended.wait()

    def _run(self) -> None:
        try:
            while (run := self._queue.get()) is not None:
                run()
        finally:
            self.ended.set()
            self.ended_future.set_result(None)


def _settle(set_state: Callable[[Any], None], value: Any) -> None:
    try:
        set_state(value)
    except InvalidStateError:  # the close gave it up meanwhile (its waiters were told)
        pass


def _checkpoint(run: Callable[[], None]) -> None:
    try:
        run()
    except Exception as exc:  # a later one tries again; the records themselves are committed
        log.warning("WAL checkpoint failed: %s", describe_store_error(exc))


def _on_writer_thread() -> bool:
    return threading.current_thread().name.startswith(THREAD_NAME)


def _wait_ms_by_thread() -> int:
    """The lock wait of a write on the calling thread: the writer's, or the loop's."""
    return WRITER_BUSY_TIMEOUT_MS if threading.current_thread().name.startswith(THREAD_NAME) else LOOP_BUSY_TIMEOUT_MS


def _close_after_store(store: Store, dbapi_conn: Any, _record: Any) -> None:
    """A connection given back after its store closed (a write the close gave up on, answered late): closed now,
    never left open in a pool nothing uses any more."""
    if store.closed and dbapi_conn is not None:
        try:
            dbapi_conn.close()
        except Exception:  # the connection is gone already
            pass


def _lock_timeout_by_thread(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    """Give a pooled connection the lock wait of the thread that checks it out (set only when it changes)."""
    on_writer = threading.current_thread().name.startswith(THREAD_NAME)
    if record.info.get("arbot_on_writer") is on_writer:
        return
    ms = WRITER_BUSY_TIMEOUT_MS if on_writer else LOOP_BUSY_TIMEOUT_MS
    cur = dbapi_conn.cursor()
    if isinstance(dbapi_conn, sqlite3.Connection):
        cur.execute(f"PRAGMA busy_timeout={ms}")
        cur.close()
    else:  # PostgreSQL: a session setting, committed so that a later rollback keeps it
        cur.execute(f"SET lock_timeout = {ms}")
        cur.close()
        dbapi_conn.commit()
    record.info["arbot_on_writer"] = on_writer
