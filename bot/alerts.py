"""Alert fan-out: a bounded queue in front of every notifier, with duplicates coalesced.

``emit`` never blocks and never raises: trading goes on whatever the notifiers do. Messages
and fields pass through the secret redactor; an alert without a bot gets this bot's name. The
first alert of a kind goes out at once; identical ones (same bot, kind, source, message and level, about the same
strategy, exchange and symbol when its fields name them) within the coalescing window are counted and summarised once
when the window closes ("... (3 more in 60 s)"). An identical alert after its window has closed opens a new window
(the closed one's summary queued first), so no repeat goes uncounted, whenever the runner wakes.

Closing the due windows costs what it closes, not how many are open: the windows are kept in the order
they opened (a window's start never changes, a reopened window goes to the end), so the due ones are
always at the front. A busy bot (a fill alert per fill, each with its own text, all open for
``coalesce_s``) does not make every wake walk every window of the last minute.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from .api import Notifier
from .domain import Alert, AlertLevel
from .outbox import drop_least_urgent
from .redact import REDACTOR

log = logging.getLogger("arbot.alerts")

SUBJECT_FIELDS = ("strategy", "exchange", "symbol")
"""The fields that say what an alert is about: identical words about another strategy or market are not coalesced."""

_Key = tuple[str, str, str, str, AlertLevel, tuple[str, ...]]


class Alerts:
    def __init__(self, coalesce_s: float, queue_size: int, monotonic: Callable[[], float],
                 time_ns: Callable[[], int] | None = None, *, bot: str = "",
                 plugin_label: Callable[[str], str] | None = None):
        self.coalesce_s = coalesce_s
        self._plugin_label = plugin_label
        self.sending: str | None = None
        """The notifier whose ``send`` is being awaited (left set when that await is cancelled: the stop names it)."""
        """A notifier's name -> its plugin as errors name it (``plugin "x" (dist 1.0)``); None: not known."""
        self.bot = bot
        """``[bot] name``: set on every alert queued without a bot (:attr:`bot.domain.Alert.bot`)."""
        self._time_ns = time_ns
        """Wall time for a coalesced summary (sent when its window closes, so stamped then); None: the last
        repeat's time."""
        self.queue_size = queue_size
        self._queue: deque[Alert] = deque()
        self._wakeup = asyncio.Event()
        self._windows: OrderedDict[_Key, tuple[float, int, Alert]] = OrderedDict()
        """Open coalescing windows, key -> (start, count, last alert), in the order they opened (so by start)."""
        self._monotonic = monotonic
        self.notifiers: list[Notifier] = []
        """The running notifiers alerts go to."""
        self._retired: list[Notifier] = []
        """Notifiers stopped (on shutdown, :meth:`retire`): an alert one of them would have taken that no running
        notifier takes is lost, so counted in :attr:`dropped`."""
        self._listeners: list[tuple[str, Callable[[Alert], None]]] = []
        """(owner, callback): called synchronously with every alert that is queued; must not block."""
        self.dropped = 0
        """Alerts lost: pushed out of the full queue (its oldest least urgent first), or taken by no notifier
        (every one that wanted it raised, or had stopped)."""
        self._bad_min_level: set[str] = set()
        """Notifiers whose unknown ``min_level`` was warned about."""
        self.sent = 0
        """Alerts handed to at least one notifier (or wanted by none)."""
        self.nowhere = False
        """True when no notifier will ever be attached (a backtest sends no alert to anyone): an alert that no
        listener hears is then dropped as it is emitted, since nothing could ever read it (see :attr:`heard`)."""

    @property
    def heard(self) -> bool:
        """Whether an alert emitted now can reach anyone: always, unless :attr:`nowhere` is set and no listener
        is subscribed. A caller may skip composing an alert nobody hears (its figures, its text)."""
        return not self.nowhere or bool(self._listeners)

    def subscribe(self, callback: Callable[[Alert], None], owner: str) -> Callable[[], None]:
        """Call ``callback`` with every alert that is queued (a stream, metrics); returns the unsubscribe."""
        entry = (owner, callback)
        self._listeners.append(entry)

        def unsubscribe() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)

        return unsubscribe

    def unsubscribe_owner(self, owner: str) -> None:
        """Drop every alert subscription of ``owner`` (when it stops)."""
        self._listeners = [entry for entry in self._listeners if entry[0] != owner]

    def emit(self, alert: Alert) -> None:
        """Queue an alert (or count it, inside its coalescing window); drop it when nobody hears it (:attr:`heard`)."""
        if self.nowhere and not self._listeners:
            return
        message = REDACTOR.redact(alert.message)
        fields = {key: _redacted(value) for key, value in alert.fields.items()}
        if message != alert.message or fields != alert.fields or not alert.bot:
            alert = replace(alert, message=message, fields=fields, bot=alert.bot or self.bot)
        # the level is in the key: a CRITICAL with a WARNING's words must not wait in the WARNING's window
        # (a notifier with min_level "error" would never see it, the summary carrying the last repeat's level);
        # so is what it is about: the same fixed sentence about another market is a new problem, heard at once
        key = (alert.bot, alert.kind, alert.source, alert.message, alert.level, _subject(alert))
        now = self._monotonic()
        window = self._windows.get(key)
        if window is not None:
            if now - window[0] < self.coalesce_s:
                self._windows[key] = (window[0], window[1] + 1, alert)  # same place: its start is the same
                return
            self._close(key, window)  # closed by its repeat before the runner came to it
        self._windows[key] = (now, 1, alert)
        self._put(alert)

    def _put(self, alert: Alert) -> None:
        for owner, listener in list(self._listeners):
            try:
                listener(alert)
            except Exception:  # a listener must never stop an alert
                log.exception("alert listener of %s failed", owner)
        if self._retired and not self.notifiers:  # every notifier has stopped: nothing will ever deliver it
            if self._wanted_by_retired(alert):
                self.dropped += 1
            return
        if len(self._queue) >= self.queue_size:
            # a burst of fills must not push out the CRITICAL before it (bot.outbox's rule, for chat lanes too)
            self.dropped += 1
            if self.dropped % 100 == 1:
                log.warning("alert queue full (%d): dropped the oldest least urgent alert (%d dropped so far)",
                            self.queue_size, self.dropped)
            if not drop_least_urgent(self._queue, alert.level, _level):
                return
        self._queue.append(alert)
        self._wakeup.set()

    def close_windows(self) -> None:
        """Queue the summary of every open coalescing window now (on stop, before the last alert)."""
        self._close_windows(force=True)

    def _close_windows(self, force: bool = False) -> None:
        """Close every window whose time is up (``force``: every window), oldest first, stopping at the first
        still open: the ones after it opened later."""
        now = self._monotonic()
        windows = self._windows
        while windows:
            key, window = next(iter(windows.items()))
            if not force and now - window[0] < self.coalesce_s:
                return
            self._close(key, window)

    def _close(self, key: _Key, window: tuple[float, int, Alert]) -> None:
        """Drop a window and queue its summary when its alert was repeated in it."""
        del self._windows[key]
        _, count, last = window
        if count > 1:
            repeats = count - 1
            ts_ns = self._time_ns() if self._time_ns is not None else last.ts_ns
            self._put(replace(last, message=f"{last.message} ({repeats} more in {self.coalesce_s:g} s)",
                              fields={**last.fields, "repeats": repeats}, ts_ns=max(ts_ns, last.ts_ns)))

    async def run(self) -> None:
        """Deliver queued alerts until cancelled."""
        while True:
            try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                async with asyncio.timeout(max(self.coalesce_s, 0.1)):
                    await self._wakeup.wait()
            except TimeoutError:
                pass
            self._wakeup.clear()
            self._close_windows()
            await self.deliver()

    async def deliver(self) -> None:
        """Send what is queued, oldest first (a coalesced summary carries the time of its last repeat)."""
        if len(self._queue) > 1:
            self._queue = deque(sorted(self._queue, key=lambda a: a.ts_ns))
        while self._queue:
            alert = self._queue.popleft()
            wanted = taken = 0
            for notifier in self.notifiers:
                if alert.level < self._min_level(notifier):
                    continue
                wanted += 1
                self.sending = notifier.name
                try:
                    await notifier.send(alert)
                    taken += 1
                except Exception as exc:  # one broken notifier must not silence the others
                    owner = f"{self._plugin_label(notifier.name)}: " if self._plugin_label else ""
                    log.error('%snotifier "%s" failed to send an alert: %s: %s', owner, notifier.name,
                              type(exc).__name__, exc, exc_info=exc)
                self.sending = None
            if not taken and (wanted or self._wanted_by_retired(alert)):  # it reached no chat
                self.dropped += 1
            else:
                self.sent += 1

    def retire(self, notifier: Notifier) -> None:
        """``notifier`` has stopped (on shutdown): alerts go only to the others from now on, and one it would have
        taken that none of them takes is counted as dropped, not as sent."""
        self.notifiers = [running for running in self.notifiers if running is not notifier]
        self._retired.append(notifier)

    def _wanted_by_retired(self, alert: Alert) -> bool:
        return any(alert.level >= self._min_level(notifier) for notifier in self._retired)

    def _min_level(self, notifier: Notifier) -> AlertLevel:
        """The quietest level ``notifier`` wants: its ``min_level`` setting, INFO without one. A name the host does
        not know (a third party's settings taking any text: ``"warn"``) sends it everything, warned once: an
        unknown word must neither stop delivery to every notifier nor silence this one."""
        name = str(getattr(notifier.settings, "min_level", "info"))
        try:
            return AlertLevel[name.upper()]
        except KeyError:
            if notifier.name not in self._bad_min_level:
                self._bad_min_level.add(notifier.name)
                log.warning('notifier %s: min_level "%s" is not one of info, warning, error, critical; it is sent '
                            "every alert", notifier.name, name)
            return AlertLevel.INFO

    async def flush(self) -> None:
        """Send everything still queued, including open coalescing windows (on shutdown: again after each notifier
        stops, so an alert raised meanwhile reaches the notifiers still running, or is counted as dropped)."""
        self._close_windows(force=True)
        await self.deliver()


def _subject(alert: Alert) -> tuple[str, ...]:
    """What ``alert`` is about (its :data:`SUBJECT_FIELDS`), part of its coalescing key."""
    fields = alert.fields
    return tuple(str(fields.get(name, "")) for name in SUBJECT_FIELDS)


def _level(alert: Alert) -> int:
    return alert.level


def _redacted(value: object) -> object:
    """A field's value with known secrets masked (text only: numbers and Decimals carry none)."""
    if isinstance(value, str):
        return REDACTOR.redact(value)
    if isinstance(value, (int, float, Decimal)) or value is None:
        return value
    text = str(value)
    clean = REDACTOR.redact(text)
    return clean if clean != text else value
