"""Kraken's private WebSocket v2 ``executions`` channel: our orders' fills and changes as they happen.

One task owns the authenticated connection (``wss://ws-auth.kraken.com/v2``). Each (re)connection
asks REST ``GetWebSocketsToken`` for a fresh token (tokens are short-lived; Kraken recommends one
per connection) and subscribes ``executions`` with ``snap_orders`` (the open orders) and without
``snap_trades``. Every execution report goes to ``on_report``; the exchange turns ``trade`` reports
into :class:`~bot.api.Fill` (trade id = ``exec_id``, the trade's txid, the same id REST
``QueryTrades`` gives, so a fill seen on both paths is applied once by the executor) and status
reports into :class:`~bot.api.OrderReport`.

A frame that is not JSON, or a report whose fields cannot be read, is logged and counted (``malformed``) and
``on_malformed`` called (the exchange polls, so a trade it carried is read by REST); the connection and the
frame's other reports are kept.

Kraken sends a ``heartbeat`` every second on this connection too, so silence for
``silence_timeout_s`` means a dead path: the connection is remade like the public feed's. When the
stream goes down ``on_down`` is called once (the exchange alerts and polls at ``fill_poll_s``
again); when a subscription is acknowledged after that ``on_up`` is called (alert, and one
immediate poll reads whatever happened while the stream was down).
"""

from __future__ import annotations

import calendar
import json
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.api import ExchangeError
from bot.api.kit import ReconnectingFeed


def timestamp_ns(text: str) -> int:
    """RFC 3339 (``2026-11-22T01:00:00.123456Z``) -> integer ns, without going through a float."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return calendar.timegm(moment.utctimetuple()) * 1_000_000_000 + moment.microsecond * 1000


class KrakenExecutions(ReconnectingFeed):
    """The ``executions`` subscription kept alive. ``run()`` is the task; ``await stop()`` ends it."""

    venue = "kraken private"

    def __init__(self, url: str, token: Callable[[], Awaitable[str]], *, on_report: Callable[[dict[str, Any]], None],
                 on_up: Callable[[], None], on_down: Callable[[str], None], silence_timeout_s: float,
                 reconnect_initial_s: float, reconnect_max_s: float, rng: random.Random | None = None,
                 on_malformed: Callable[[str], None] | None = None):
        super().__init__(url, [], silence_timeout_s=silence_timeout_s, reconnect_initial_s=reconnect_initial_s,
                         reconnect_max_s=reconnect_max_s, on_state=lambda *_: None, rng=rng)
        self._token = token
        self._on_report = on_report
        self._on_up = on_up
        self._on_down = on_down
        self._on_malformed = on_malformed
        self.up = False
        """Subscribed and acknowledged on the current connection."""
        self.reports = 0
        self.malformed = 0
        """Frames or reports that could not be read (logged and counted; the connection is kept)."""

    async def subscribe(self, ws: Any) -> None:
        try:
            token = await self._token()
        except ExchangeError as exc:  # reconnect with backoff; the reason is logged once per loss
            raise ConnectionError(f"no WebSocket token: {exc}") from exc
        await ws.send(json.dumps({"method": "subscribe", "req_id": 1, "params": {
            "channel": "executions", "token": token, "snap_orders": True, "snap_trades": False}}))

    def _bad(self, reason: str) -> None:
        """A frame or report that cannot be read: counted and logged; what it may have carried is read by REST."""
        self.malformed += 1
        self.log.warning("kraken executions: malformed (%d so far): %s", self.malformed, reason)
        if self._on_malformed is not None:
            self._on_malformed(reason)

    def handle(self, frame: str | bytes) -> None:
        try:
            message = json.loads(frame, parse_float=Decimal)
        except ValueError:
            self._bad("not JSON")
            return
        if not isinstance(message, dict):
            return
        if message.get("method") == "subscribe":
            if not message.get("success"):
                raise ConnectionError(f"executions subscription refused: {message.get('error')}")
            if not self.up:
                self.up = True
                self._on_up()
            return
        if message.get("channel") != "executions":
            return  # heartbeat, status
        reports = message.get("data") or []
        if not isinstance(reports, list):
            self._bad("executions data is not a list")
            return
        for report in reports:
            self.reports += 1
            try:
                if not isinstance(report, dict):
                    raise TypeError("a report that is not an object")
                self._on_report(report)
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                # one unreadable report must not cost the connection nor the frame's other reports
                self._bad(f"{type(exc).__name__}: {exc}")

    def reset_books(self, reason: str) -> None:
        """The connection is lost (the feed's hook): the stream is down until the next acknowledgement."""
        if self.up:
            self.up = False
            self._on_down(reason)
