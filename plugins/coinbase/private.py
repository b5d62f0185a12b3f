"""Coinbase Advanced Trade's ``user`` channel: our orders' changes as they happen.

One task owns an authenticated connection to the user-order endpoint. Each (re)connection
subscribes ``heartbeats`` (a message every second, so silence means a dead path) and ``user``,
each message carrying a fresh CDP JWT (the same signer as REST). The channel sends a ``snapshot``
of our open orders, then an ``update`` each time one changes: status, ``cumulative_quantity``,
``avg_price``, ``total_fees``. It carries no per-trade ids, so the exchange reads a changed
order's fills by REST at once (``entry_id`` = trade id, the same the polling path uses: the
executor applies each fill once); the stream removes the wait for the next poll, not the REST read.

Every message of a connection carries ``sequence_num``, one more than the last (over every channel): a gap is a
message lost on the way, maybe an order's event, so ``on_gap`` is called (the exchange polls at once).

A frame that is not JSON, or an order whose fields cannot be read, is logged and counted (``malformed``) and
``on_malformed`` called (the exchange polls); the connection and the event's other orders are kept.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from bot.api.kit import ReconnectingFeed


class CoinbaseUserStream(ReconnectingFeed):
    """The ``user`` subscription kept alive. ``run()`` is the task; ``await stop()`` ends it."""

    venue = "coinbase private"

    def __init__(self, url: str, jwt: Callable[[], str], *, on_order: Callable[[dict[str, Any]], None],
                 on_up: Callable[[], None], on_down: Callable[[str], None], silence_timeout_s: float,
                 reconnect_initial_s: float, reconnect_max_s: float, rng: random.Random | None = None,
                 on_malformed: Callable[[str], None] | None = None, on_gap: Callable[[str], None] | None = None):
        super().__init__(url, [], silence_timeout_s=silence_timeout_s, reconnect_initial_s=reconnect_initial_s,
                         reconnect_max_s=reconnect_max_s, on_state=lambda *_: None, rng=rng)
        self._jwt = jwt
        self._on_order = on_order
        self._on_up = on_up
        self._on_down = on_down
        self._on_malformed = on_malformed
        self._on_gap = on_gap
        self._last_sequence: int | None = None
        self.sequence_gaps = 0
        """Messages lost on the way (``sequence_num`` not one more than the last); each asks for a read."""
        self.up = False
        self.updates = 0
        self.malformed = 0
        """Frames or orders that could not be read (logged and counted; the connection is kept)."""

    async def subscribe(self, ws: Any) -> None:
        self._last_sequence = None  # numbers start again on each connection
        for channel in ("heartbeats", "user"):
            await ws.send(json.dumps({"type": "subscribe", "channel": channel, "jwt": self._jwt()}))

    def _bad(self, reason: str) -> None:
        """A frame or order that cannot be read: counted and logged; what it may have announced is read by REST."""
        self.malformed += 1
        self.log.warning("coinbase user channel: malformed (%d so far): %s", self.malformed, reason)
        if self._on_malformed is not None:
            self._on_malformed(reason)

    def handle(self, frame: str | bytes) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            self._bad("not JSON")
            return
        if not isinstance(message, dict):
            return
        self._check_sequence(message.get("sequence_num"))
        if message.get("type") == "error":
            raise ConnectionError(f"user channel refused: {message.get('message')}")
        channel = message.get("channel")
        if channel == "subscriptions" and "user" in ((message.get("events") or [{}])[0].get("subscriptions") or {}):
            if not self.up:
                self.up = True
                self._on_up()
            return
        if channel != "user":
            return
        events = message.get("events") or []
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            self._bad("user events are not a list of objects")
            return
        for event in events:
            orders = event.get("orders") or []
            if not isinstance(orders, list):
                self._bad("an event's orders are not a list")
                continue
            for order in orders:
                self.updates += 1
                try:
                    if not isinstance(order, dict):
                        raise TypeError("an order that is not an object")
                    self._on_order(order)
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    # one unreadable order must not cost the connection nor the event's other orders
                    self._bad(f"{type(exc).__name__}: {exc}")

    def _check_sequence(self, seq: object) -> None:
        """One counter per connection over every channel: a number that is not the last + 1 is a lost message (maybe
        an order's event), so the orders are read now rather than at the next reconciling poll."""
        if not isinstance(seq, int) or isinstance(seq, bool):
            return
        last, self._last_sequence = self._last_sequence, seq
        if last is None or seq == last + 1:
            return
        self.sequence_gaps += 1
        reason = f"sequence gap: {last} then {seq}"
        self.log.warning("coinbase user channel: %s", reason)
        if self._on_gap is not None:
            self._on_gap(reason)

    def reset_books(self, reason: str) -> None:
        """The connection is lost (the feed's hook): the stream is down until the next acknowledgement."""
        if self.up:
            self.up = False
            self._on_down(reason)
