"""In-process typed publish/subscribe.

The hot path (a book update reaching a strategy) is a dictionary look-up and plain function calls:
no pluggy call, no task, no queue. A subscriber that raises is reported with its owner's name and
the other subscribers still get the event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ErrorHandler = Callable[[str, Exception, object], None]
Callback = Callable[[Any], object]


class Bus:
    """Route events by type, optionally narrowed to one (exchange, symbol)."""

    def __init__(self, on_error: ErrorHandler):
        self._on_error = on_error
        self._subs: dict[tuple[type, str | None, str | None], list[tuple[str, Callback]]] = {}
        self._routes: dict[tuple[type, str | None, str | None], tuple[tuple[str, Callback], ...]] = {}

    def subscribe(
        self,
        event_type: type,
        callback: Callback,
        *,
        owner: str,
        exchange: str | None = None,
        symbol: str | None = None,
    ) -> Callable[[], None]:
        """Call ``callback(event)`` for each published ``event_type``; returns an unsubscribe function.

        With ``exchange`` (and ``symbol``) only events whose ``exchange`` (and ``symbol``)
        attributes match are delivered.
        """
        key = (event_type, exchange, symbol)
        entry = (owner, callback)
        self._subs.setdefault(key, []).append(entry)
        self._routes.clear()

        def unsubscribe() -> None:
            subs = self._subs.get(key, [])
            if entry in subs:
                subs.remove(entry)
                self._routes.clear()

        return unsubscribe

    def unsubscribe_owner(self, owner: str) -> None:
        """Drop every subscription of ``owner`` (a component being isolated after failures)."""
        for subs in self._subs.values():
            subs[:] = [s for s in subs if s[0] != owner]
        self._routes.clear()

    def _route(self, key: tuple[type, str | None, str | None]) -> tuple[tuple[str, Callback], ...]:
        cls, exchange, symbol = key
        keys: list[tuple[type, str | None, str | None]] = [(cls, None, None)]
        if exchange is not None:
            keys.append((cls, exchange, None))
            if symbol is not None:
                keys.append((cls, exchange, symbol))
        found = [sub for k in keys for sub in self._subs.get(k, ())]
        route = tuple(found)
        self._routes[key] = route
        return route

    def publish(self, event: object) -> None:
        """Deliver ``event`` to its subscribers, synchronously, in subscription order."""
        key = (type(event), getattr(event, "exchange", None), getattr(event, "symbol", None))
        route = self._routes.get(key)
        if route is None:
            route = self._route(key)
        for owner, callback in route:
            try:
                callback(event)
            except Exception as exc:  # isolate: one bad subscriber must not starve the others
                self._on_error(owner, exc, event)
