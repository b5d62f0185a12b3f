"""Store leases: one process at a time holds a name among the processes that share one store.

What needs exactly one holder in a fleet (one poller per Telegram token, one gateway session per
Discord token) takes a :class:`Lease` on a name derived from it (never the secret itself: hash it):

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock`` on a 64-bit key hashed from the
  name) on a dedicated connection kept open while leased. The server frees it when the holder
  releases it, exits, or loses its connection.
- SQLite (a file): an exclusive ``fcntl.flock`` on a lock file next to the database
  (``arbot.db.lease-<hash>``), freed on release or when the process ends. Processes coordinate when
  they share the database file; a bot with its own SQLite file holds its own leases.
- An in-memory database: a lease within this process.

Every method does blocking I/O: call them off the loop on a daemon thread (:func:`off_loop`), never on the loop's
default executor (``asyncio.to_thread``): the interpreter joins that executor's threads at exit (``asyncio.run``
waits for them first), so a call waiting on a PostgreSQL server that does not answer (SIGSTOP, packets dropped; no
client-side timeout ends it) would hold the process's exit as long as the server stays stopped.
Public for plugins as :func:`bot.api.storage.lease`. A lease of a closed store (:meth:`Store.close`) is refused
(:class:`~bot.store.StoreClosed`), never taken on a connection opened behind the close. A lease still held when its
store closes ends with it (:meth:`Store.close` releases it, its connection or lock file closed): a holder that forgot to
release it (a notifier whose stop timed out) neither keeps the name from the process taking over nor leaks a
connection. The bot's stop closes the store after its writer, so the handover still comes after every write. A
release is a round trip on PostgreSQL: the close waits :data:`LEASE_RELEASE_S` at most for them (:func:`end_leases`),
so that a server that stops answering never holds the close, nor the bot's stop on the loop; what was not released by
then is logged by name, and the server frees it when the session ends (the release, left running, ends it as soon as
the server answers; the process exiting ends it too).
"""

from __future__ import annotations

import abc
import asyncio
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import text

from .held import LEASE_RELEASE_S as LEASE_RELEASE_S
from .held import Releasable as Releasable
from .held import end_leases as end_leases

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from . import Store


log = logging.getLogger(__name__)
T = TypeVar("T")


def off_loop(fn: Callable[[], T], what: str) -> asyncio.Future[T]:
    """``fn()`` (a lease's or its store's blocking call) on a daemon thread of its own: a future of the running loop
    with its result or error. Never the loop's default executor, whose threads hold the process's exit (see the
    module doc): a call the database never answers leaves a daemon thread waiting, which the exit does not join. A
    caller that stops waiting (a timeout, a cancelled task) leaves the call to end when the database answers; its
    answer is then dropped. ``what`` names the thread (no secret)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, exc: BaseException | None) -> None:
        if done.done():  # cancelled: nobody waits for it
            return
        if exc is not None:
            done.set_exception(exc)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = fn()
        except BaseException as exc:  # handed to the caller, on its loop
            error = exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop is closed: nobody waits for the answer any more
            pass

    threading.Thread(target=run, name=f"arbot-lease {what}", daemon=True).start()
    return done



class LeaseUnavailable(Exception):
    """The store could not be asked (the database is unreachable): whether the lease is free is unknown."""


class Lease(abc.ABC):
    """An exclusive, non-blocking lease on ``name`` among the processes sharing one store."""

    def __init__(self, name: str, store: Store | None = None) -> None:
        self.name = name
        self._store = store

    def _ensure_open(self) -> None:
        if self._store is not None:
            self._store.ensure_open()

    def _taken(self) -> None:
        """Now held: kept by its store until released, so that closing the store ends it.
        A store closed while it was being taken: released at once, and the close is raised."""
        store = self._store
        if store is None:
            return
        with store._leases_lock:
            store._leases.add(self)
        if store.closed:
            self.release()
            store.ensure_open()

    def _given_up(self) -> None:
        if self._store is not None:
            with self._store._leases_lock:
                self._store._leases.discard(self)

    @abc.abstractmethod
    def acquire(self) -> bool:
        """Take the lease if it is free (True), or say it is held elsewhere (False); True again while held.

        Raises :class:`LeaseUnavailable` when the store cannot be asked, :class:`~bot.store.StoreClosed` when it was
        closed.
        """

    @abc.abstractmethod
    def held(self) -> bool:
        """Whether this process still holds the lease (False once released or lost with the connection)."""

    @abc.abstractmethod
    def release(self) -> None:
        """Give the lease up (nothing when not held)."""


def key_of(name: str) -> int:
    """The signed 64-bit advisory lock key of a lease name."""
    return int.from_bytes(hashlib.sha256(f"arbot lease {name}".encode()).digest()[:8], "big", signed=True)


class AdvisoryLease(Lease):
    """PostgreSQL: a session advisory lock on a connection of its own, held while leased."""

    def __init__(self, store: Store, name: str) -> None:
        super().__init__(name, store)
        self._key = key_of(name)
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        store = self._store
        assert store is not None
        with self._lock:
            if self._conn is not None and self._alive(self._conn):
                return True
            self._drop()
            store.ensure_open()
            try:
                conn = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            except Exception as exc:
                store.ensure_open()  # closed meanwhile: that, not an unreachable database
                raise LeaseUnavailable(f"store {store.url}: {type(exc).__name__}") from None
            try:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar())
            except Exception as exc:
                conn.invalidate()
                conn.close()
                raise LeaseUnavailable(f"store {store.url}: {type(exc).__name__}") from None
            if got:
                self._conn = conn
            else:
                conn.close()
        if got:
            self._taken()
        return got

    @staticmethod
    def _alive(conn: Connection) -> bool:
        try:
            conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def held(self) -> bool:
        with self._lock:
            if self._conn is None:
                return False
            if self._alive(self._conn):
                return True
            self._drop()  # the session is gone, and the server freed its lock with it
            return False

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.invalidate()  # never back to the pool: the session may still hold the lock
            conn.close()
            self._given_up()

    def release(self) -> None:
        with self._lock:
            conn = self._conn
            if conn is None:
                return
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            except Exception:
                pass  # a lost connection: the server already freed the lock
            self._drop()


class FileLease(Lease):
    """SQLite: an exclusive ``flock`` on a lock file next to the database, held while the file is open."""

    def __init__(self, path: str, name: str, store: Store | None = None) -> None:
        super().__init__(name, store)
        self.path = path
        self._fd: int | None = None
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self._fd is not None:
                return True
            self._ensure_open()
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise LeaseUnavailable(f"lease file {self.path}: {exc.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._fd = fd
        self._taken()
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)  # closing the only descriptor frees the flock
                self._given_up()


class LocalLease(Lease):
    """An in-memory database: the store lives in this process, so its leases do too."""

    _held: set[str] = set()
    _guard = threading.Lock()

    def __init__(self, name: str, store: Store | None = None) -> None:
        super().__init__(name, store)
        self._mine = False

    def acquire(self) -> bool:
        self._ensure_open()
        with LocalLease._guard:
            taken = not self._mine and self.name not in LocalLease._held
            if taken:
                LocalLease._held.add(self.name)
                self._mine = True
            mine = self._mine
        if taken:
            self._taken()
        return mine

    def held(self) -> bool:
        return self._mine

    def release(self) -> None:
        with LocalLease._guard:
            released = self._mine
            if released:
                LocalLease._held.discard(self.name)
                self._mine = False
        if released:
            self._given_up()


def lease(store: Store, name: str) -> Lease:
    """A lease on ``name`` among the processes sharing ``store`` (not taken yet: call :meth:`Lease.acquire`)."""
    store.ensure_open()
    url = store.engine.url
    if url.get_backend_name() == "postgresql":
        return AdvisoryLease(store, name)
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        return FileLease(f"{database}.lease-{digest}", name, store)
    return LocalLease(name, store)
