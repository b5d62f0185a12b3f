"""Live updates for the console: bus events as server-sent events, numbered, resumable.

Every event gets the next number of one sequence and is kept in a bounded buffer. Its SSE ``id``
is ``EPOCH-SEQ``; a browser's ``EventSource`` sends the last one back as ``Last-Event-ID`` when it
reconnects and gets what it missed, in order, exactly once. When the buffer no longer holds them
(or the bot restarted: another epoch) it gets a ``reset`` event instead and reloads its views.

Events (the SSE ``event`` field; ``data`` is a JSON object):

* ``orders``: an order changed state (:class:`~bot.api.OrderUpdate`);
* ``fills``: a fill was applied, once per fill (``strategy`` and the fill's fields);
* ``opportunities``: an opportunity a strategy published, with its cost breakdown;
* ``executions``: an execution finished (``strategy``, ``predicted_pnl``, ``realized_pnl``, ...);
* ``feeds``: a market feed changed state (``exchange``, ``symbol``, ``state``, ``reason``);
* ``alerts``: an alert (``level`` as a word);
* ``status``: the bot's mode and each strategy's state: first on every new stream, then whenever
  either changes (checked every second);
* ``reset``: what you missed is gone; fetch the views again (sent instead of a replay).

Events are kept while a stream is connected and for ``KEEP_AFTER_LAST_S`` after the last one
closed, so a browser that reconnects resumes; after a longer gap with nobody connected it gets a
``reset``.

Publishing never waits for a browser: each stream has a bounded queue, and one that falls too far
behind is closed (its ``EventSource`` reconnects and resumes from its last id).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.api import Alert, AlertLevel, ExecutionResult, FeedStatus, FillApplied, Opportunity, OrderUpdate
from bot.api.kit import REDACTOR, fill_data

from .views import dumps, opportunity_view, plain

if TYPE_CHECKING:
    from bot.api import Context

log = logging.getLogger("arbot.web")

QUEUE_EVENTS = 2000
"""Events queued for one stream before it counts as too slow and is closed."""
KEEP_AFTER_LAST_S = 120.0
"""Events are still kept this long after the last stream closed (a reload, a dropped connection)."""


def _alert(alert: Alert) -> dict[str, Any]:
    data = plain(alert)
    data["level"] = AlertLevel(alert.level).name.lower()
    return data


class Stream:
    """One connected ``/api/v1/events`` client."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_EVENTS)
        self.closed = False


class EventHub:
    def __init__(self, ctx: Context, buffer_events: int):
        self.ctx = ctx
        self.epoch = secrets.token_hex(4)
        self.seq = 0
        self.buffer: deque[tuple[int, str]] = deque(maxlen=buffer_events)
        self.streams: set[Stream] = set()
        self.dropped = 0
        self._unsubscribe: list[Callable[[], None]] = []
        self._status: Any = None
        self._pending: list[tuple[int, str, Any, Callable[[Any], dict[str, Any]]]] = []
        self._flush_scheduled = False
        self._keep_until = 0.0

    def start(self) -> None:
        bus, owner = self.ctx.bus, self.ctx.name
        self._unsubscribe = [
            bus.subscribe(OrderUpdate, lambda e: self.publish("orders", e, plain), owner=owner),
            bus.subscribe(FillApplied, lambda e: self.publish("fills", e, fill_data), owner=owner),
            bus.subscribe(Opportunity, lambda e: self.publish("opportunities", e, opportunity_view), owner=owner),
            bus.subscribe(ExecutionResult, lambda e: self.publish("executions", e, plain), owner=owner),
            bus.subscribe(FeedStatus, lambda e: self.publish("feeds", e, plain), owner=owner),
            self.ctx.subscribe_alerts(lambda alert: self.publish("alerts", alert, _alert)),
        ]
        self.ctx.create_task(self._watch_status(), what="web status events")

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for stream in list(self.streams):
            self.close(stream)

    def status(self) -> dict[str, Any]:
        op = self.ctx.operator
        return {"mode": op.mode, "strategies": {name: op.strategy_state(name) for name in op.strategy_names()}}

    async def _watch_status(self) -> None:
        while True:
            status = self.status()
            if status != self._status:
                self._status = status
                self.publish("status", status, dict)
            await asyncio.sleep(1.0)

    def frame(self, seq: int, event: str, data: str) -> str:
        """One event as the stream sends it; ``data`` (JSON) with every known secret masked, as the API's answers."""
        return f"id: {self.epoch}-{seq}\nevent: {event}\ndata: {REDACTOR.redact(data)}\n\n"

    def publish(self, event: str, obj: Any, convert: Callable[[Any], dict[str, Any]] = plain) -> None:
        """Number one event; it is encoded, kept and queued for every stream after the current callbacks.

        Called from bus callbacks (a strategy's order, a fill): nothing here waits or encodes. With
        no stream connected nothing is kept either, and a browser resuming across that gap gets a
        ``reset``.
        """
        self.seq += 1
        if not self.streams and self.ctx.clock.monotonic() > self._keep_until:
            self.buffer.clear()
            return
        self._pending.append((self.seq, event, obj, convert))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        for seq, event, obj, convert in pending:
            text = self.frame(seq, event, dumps(convert(obj)))
            self.buffer.append((seq, text))
            for stream in list(self.streams):
                try:
                    stream.queue.put_nowait(text)
                except asyncio.QueueFull:
                    self.dropped += 1
                    log.warning("web: an event stream fell %d events behind; closing it (it resumes on "
                                "reconnect)", QUEUE_EVENTS)
                    self.close(stream)

    def open(self, last_event_id: str | None) -> tuple[Stream, list[str]]:
        """A new stream and what it gets first: the missed events, or a ``reset``."""
        self._flush()  # numbered but not yet kept: kept first, so a replay never misses or repeats one
        stream = Stream()
        self.streams.add(stream)
        first: list[str] = []
        if last_event_id:
            epoch, _, seq_text = last_event_id.partition("-")
            since = int(seq_text) if seq_text.isascii() and seq_text.isdigit() and len(seq_text) <= 19 else -1
            oldest = self.buffer[0][0] if self.buffer else self.seq + 1
            if epoch != self.epoch or since < 0 or since > self.seq:
                first.append(self.frame(self.seq, "reset", dumps({"reason": "the server restarted or the id is "
                                                                            "unknown; reload"})))
            elif since + 1 < oldest:
                first.append(self.frame(self.seq, "reset", dumps({"reason": f"events after {since} are no longer "
                                                                            "kept; reload"})))
            else:
                first.extend(text for seq, text in self.buffer if seq > since)
        return stream, first

    def close(self, stream: Stream) -> None:
        if stream in self.streams:
            self.streams.discard(stream)
            self._keep_until = self.ctx.clock.monotonic() + KEEP_AFTER_LAST_S
            stream.closed = True
            try:
                stream.queue.put_nowait(None)
            except asyncio.QueueFull:
                stream.queue.get_nowait()
                stream.queue.put_nowait(None)
