"""In-process typed publish/subscribe.

The hot path (a book update reaching a strategy) is a dictionary look-up and plain function calls:
no pluggy call, no task, no queue. A subscriber that raises is reported with its owner's name and
the other subscribers still get the event.

A publisher that sends many events of one type for one market asks for a :class:`Topic` once
(:meth:`Bus.topic`): the topic holds the subscribers resolved for that key, kept current as
subscriptions change, so each publish skips the key's look-up, and the publisher can see that
nobody listens (``topic.route`` empty) and skip making the event at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

ErrorHandler = Callable[[str, Exception, object], None]
Callback = Callable[[Any], object]
Key = tuple[type, str | None, str | None]
Route = tuple[tuple[str, Callback], ...]


class Topic:
    """Where events of one type for one (exchange, symbol) go: :meth:`Bus.topic` makes it.

    ``topic.publish(event)`` delivers exactly as ``bus.publish(event)`` would for an event of that
    type and those ``exchange``/``symbol`` attributes. ``route`` is the ``(owner, callback)`` pairs
    it delivers to, in subscription order (read-only; the bus replaces it when subscriptions
    change): empty when nobody listens.
    """

    __slots__ = ("key", "route", "_on_error")

    def __init__(self, key: Key, route: Route, on_error: ErrorHandler):
        self.key = key
        self.route = route
        self._on_error = on_error

    def publish(self, event: object) -> None:
        """Deliver ``event`` to the topic's subscribers, synchronously, in subscription order."""
        for owner, callback in self.route:
            try:
                callback(event)
            except Exception as exc:  # isolate: one bad subscriber must not starve the others
                self._on_error(owner, exc, event)


class EventBus(Protocol):
    """The bot's in-process event bus as a plugin sees it (``ctx.bus``, ``BotUnderTest.bus``), public as
    ``bot.api.EventBus``; :class:`Bus` is the host's.

    Delivery is synchronous, in subscription order; a subscriber that raises is reported with its owner's
    name and the others still get the event."""

    def publish(self, event: object) -> None:
        """Deliver ``event`` to the subscribers of its type (and of its ``exchange``/``symbol`` attributes)."""
        ...

    def subscribe(self, event_type: type, callback: Callable[[Any], object], *, owner: str,
                  exchange: str | None = None, symbol: str | None = None) -> Callable[[], None]:
        """Call ``callback(event)`` for each published ``event_type`` (with ``exchange``, and ``symbol``: only
        those events whose attributes match); returns a function that unsubscribes. ``owner`` names who reports
        a subscriber that raises, and whose subscriptions end when that component stops."""
        ...

    def topic(self, event_type: type, exchange: str | None = None, symbol: str | None = None) -> Topic:
        """The :class:`Topic` of ``event_type`` events of one market: a publisher's shortcut (public as
        ``bot.api.kit.Topic``)."""
        ...


class Bus:
    """Route events by type, optionally narrowed to one (exchange, symbol)."""

    def __init__(self, on_error: ErrorHandler):
        self._on_error = on_error
        self._subs: dict[Key, list[tuple[str, Callback]]] = {}
        self._routes: dict[Key, Route] = {}
        self._topics: dict[Key, Topic] = {}

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
        self._changed()

        def unsubscribe() -> None:
            subs = self._subs.get(key, [])
            if entry in subs:
                subs.remove(entry)
                self._changed()

        return unsubscribe

    def unsubscribe_owner(self, owner: str) -> None:
        """Drop every subscription of ``owner`` (a component being isolated after failures)."""
        for subs in self._subs.values():
            subs[:] = [s for s in subs if s[0] != owner]
        self._changed()

    def topic(self, event_type: type, exchange: str | None = None, symbol: str | None = None) -> Topic:
        """The :class:`Topic` of ``event_type`` events whose ``exchange`` and ``symbol`` are these (one per key)."""
        key = (event_type, exchange, symbol)
        topic = self._topics.get(key)
        if topic is None:
            topic = self._topics[key] = Topic(key, self._route(key), self._on_error)
        return topic

    def _changed(self) -> None:
        self._routes.clear()
        for topic in self._topics.values():
            topic.route = self._route(topic.key)

    def _route(self, key: Key) -> Route:
        cls, exchange, symbol = key
        keys: list[Key] = [(cls, None, None)]
        if exchange is not None:
            keys.append((cls, exchange, None))
            if symbol is not None:
                keys.append((cls, exchange, symbol))
        route = tuple([sub for k in keys for sub in self._subs.get(k, ())])
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
