"""Say the first, then a count per interval: the one owner of the rule that keeps a repeat out of a log line each.

A database down answers every poll of 50 browsers with a 503; a stranger hammering the web console is refused a
thousand times a minute; a ghost order's look-up fails at every reconciliation pass; a recording of another venue
draws a warning per frame. Each is worth a line as it happens, then a count: not a line each. :class:`Folding`
decides, per key (a kind of warning, an address, an order), what each occurrence is worth:

* :meth:`Folding.first` is True for an occurrence to say now: the first of its key (the first ``shown``), which
  opens the key's window; any later one is counted in that window (False);
* once a window has lasted ``interval_s``, :meth:`Folding.due` hands it back if it counted any: say its
  :attr:`Fold.count` in one summary line. A window that counted none ends silently;
* after a summary, with ``renew``, the key goes on counting in a new window (a steady repeat is a count per
  interval, never a first again until an interval passes with none); without it, the key is forgotten and its next
  occurrence is a first again (a refusal audited with its own details).

The owner keeps its own words, and decides when to ask: on a timer (:meth:`Folding.due_in` says when the oldest
window is over), at each occurrence (:meth:`Folding.due_of`, one key), or once at the end (``interval_s`` None:
windows end only with ``due(force=True)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass
class Fold(Generic[K]):
    """One key's window: what was said and counted of it, and since when."""

    key: K
    since: float
    """When the first occurrence of its run came (a renewed window keeps it)."""
    started: float
    """When this window began: its first occurrence, or the summary before it."""
    note: Any = None
    """The owner's, kept with the window: given by the occurrence that opened it (the owner may change it)."""
    said: int = 0
    """Occurrences of its run said as they came (at most ``shown``)."""
    total: int = 0
    """Occurrences of its run, said or counted."""
    count: int = 0
    """Occurrences counted in this window, not said yet: what its summary says."""


class Folding(Generic[K]):
    """The first occurrences of each key said, the rest counted and said once per ``interval_s``.

    ``interval_s``: how long a window lasts (None: until ``due(force=True)``), or a function that says it, read at
    every use (a setting that may change: the windows open follow it); ``monotonic``: the owner's clock (a
    test's ``ManualClock().monotonic``), read when a method is given no ``now``; ``shown``: occurrences said at the
    start of a run (0: none, every one counted); ``renew``: a key goes on counting after its summary, rather than
    being forgotten; ``keys``: at most this many keys have a window of their own at once, an occurrence of any
    other key counts in the window of ``others`` (keys a stranger chooses, such as addresses: memory and lines stay
    bounded)."""

    def __init__(self, interval_s: float | Callable[[], float | None] | None, *,
                 monotonic: Callable[[], float] = time.monotonic, shown: int = 1, renew: bool = False,
                 keys: int | None = None, others: K | None = None) -> None:
        if keys is not None and others is None:
            raise ValueError("keys needs others: the key the occurrences of any other key count under")
        self._interval = interval_s
        self._monotonic = monotonic
        self.shown = shown
        self.renew = renew
        self._keys = keys
        self._others = others
        self._windows: dict[K, Fold[K]] = {}
        """By key, in the order they began: the first is the next to be over."""

    @property
    def interval_s(self) -> float | None:
        """How long a window lasts now."""
        interval = self._interval
        return interval() if callable(interval) else interval

    def first(self, key: K, note: Any = None, now: float | None = None) -> bool:
        """An occurrence of ``key``: True to say it now, False when it is only counted. The first occurrence opens
        the key's window and keeps ``note`` with it. Call :meth:`due` (or :meth:`due_of`) before it, so that an
        occurrence is not counted into a window that is over."""
        window = self._windows.get(key)
        if window is None and self._keys is not None and self._others is not None and key != self._others \
                and len(self._windows) - (self._others in self._windows) >= self._keys:
            key = self._others
            window = self._windows.get(key)
        if window is None:
            at = self._monotonic() if now is None else now
            window = self._windows[key] = Fold(key, at, at, note)
        window.total += 1
        if window.said < self.shown:
            window.said += 1
            return True
        window.count += 1
        return False

    def due(self, now: float | None = None, force: bool = False) -> list[Fold[K]]:
        """The windows over (every one with ``force``) that counted any, oldest first: say each one's count. Each
        window over ends; with ``renew`` (and not ``force``) a key that counted some goes on in a new window from
        ``now``."""
        now = self._monotonic() if now is None else now
        interval = self.interval_s
        over: list[Fold[K]] = []
        while self._windows:
            key, window = next(iter(self._windows.items()))
            if not force and (interval is None or now - window.started < interval):
                break  # the windows began in this order: the rest are not over either
            del self._windows[key]
            if window.count:
                over.append(window)
        if self.renew and not force:
            for window in over:
                self._windows[window.key] = replace(window, started=now, count=0)
        return over

    def due_of(self, key: K, now: float | None = None) -> Fold[K] | None:
        """:meth:`due` for ``key`` alone: its window if it is over and counted any, else None."""
        window = self._windows.get(key)
        interval = self.interval_s
        if window is None or interval is None:
            return None
        now = self._monotonic() if now is None else now
        if now - window.started < interval:
            return None
        del self._windows[key]
        if not window.count:
            return None
        if self.renew:
            self._windows[key] = replace(window, started=now, count=0)
        return window

    def due_in(self, now: float | None = None) -> float | None:
        """Seconds until the oldest window is over (0: it is); None when none is open or windows never end."""
        interval = self.interval_s
        oldest = next(iter(self._windows.values()), None)
        if oldest is None or interval is None:
            return None
        now = self._monotonic() if now is None else now
        return max(interval - (now - oldest.started), 0.0)

    def get(self, key: K) -> Fold[K] | None:
        """The window of ``key``, if it has one."""
        return self._windows.get(key)

    def forget(self, key: K) -> Fold[K] | None:
        """End the window of ``key`` unsaid (what it stood for is over: an order answered): its next occurrence is a
        first again. Returns the window, or None."""
        return self._windows.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._windows

    def __iter__(self) -> Iterator[K]:
        """The keys with a window, oldest first."""
        return iter(self._windows)

    def __len__(self) -> int:
        return len(self._windows)
