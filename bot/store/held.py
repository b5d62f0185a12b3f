"""What a store's close does with the leases still held on it (:meth:`bot.store.Store.close`): each released on a
thread of its own, within a bound. Apart from :mod:`bot.store.lease` (which imports the store for its types) so
that the store can use it without an import cycle."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Protocol

log = logging.getLogger("bot.store.lease")

LEASE_RELEASE_S = 2.0
"""How long :meth:`Store.close` waits for the leases still held on it to be released (:func:`end_leases`)."""


class Releasable(Protocol):
    """A lease held on a store, as its close ends it."""

    name: str

    def release(self) -> None: ...


def end_leases(held: Iterable[Releasable], timeout_s: float = LEASE_RELEASE_S) -> list[str]:
    """Release each lease of ``held``, each on a thread of its own, waiting ``timeout_s`` at most for them all: the
    names of those not released by then (a database that does not answer: PostgreSQL's unlock is a round trip, and
    a server stopped with SIGSTOP never answers it, nor does any client-side timeout end it). Their release goes on
    on its daemon thread (never joined at exit) and ends when the server answers; the server frees the lock when
    the session ends, the process's exit included."""
    threads = []
    for each in held:
        thread = threading.Thread(target=_release, args=(each,), name=f"arbot-lease-release {each.name}", daemon=True)
        thread.start()
        threads.append((each.name, thread))
    deadline = time.monotonic() + timeout_s
    left = []
    for name, thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            left.append(name)
    return left


def _release(held: Releasable) -> None:
    try:
        held.release()
    except Exception as exc:  # the connection is dropped all the same: the server frees the lock with its session
        log.warning("lease %s: release failed: %s: %s", held.name, type(exc).__name__, exc)
