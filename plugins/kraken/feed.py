"""The public WebSocket v2 connection: subscribe, read, resubscribe, reconnect.

One task owns the connection. It subscribes to ``instrument`` (precisions and trading rules)
and then ``book`` at the configured depth, and hands every frame to
:class:`~plugins.kraken.book.KrakenBooks`. It reconnects by itself, with exponential backoff
and full jitter (first retry under ``reconnect_initial_s``, capped at ``reconnect_max_s``),
when the connection fails or stays silent for ``silence_timeout_s`` (Kraken sends a heartbeat
every second, so silence means a dead path even while TCP looks open). Each (re)connection
subscribes afresh, so subscriptions always come back; a symbol whose checksum failed is
unsubscribed and subscribed again for a new snapshot; a book subscription Kraken refuses is asked
again after a delay (doubling from ``reconnect_initial_s`` to ``reconnect_max_s``), since on a
connection kept up by heartbeats nothing else would. Feed state changes go to ``on_state``.
"""

from __future__ import annotations

import asyncio
import json
import random

from bot.api import FeedState
from bot.api.kit import ReconnectingFeed, StateCallback

from .book import KrakenBooks


class KrakenFeed(ReconnectingFeed):
    """Keeps the public connection up and the books fed. ``run()`` is the task; ``await stop()`` ends it."""

    venue = "kraken"

    def __init__(self, url: str, symbols: list[str], depth: int, books: KrakenBooks, *,
                 silence_timeout_s: float, reconnect_initial_s: float, reconnect_max_s: float,
                 on_state: StateCallback, rng: random.Random | None = None):
        super().__init__(url, symbols, silence_timeout_s=silence_timeout_s, reconnect_initial_s=reconnect_initial_s,
                         reconnect_max_s=reconnect_max_s, on_state=on_state, rng=rng)
        self.depth = depth
        self.books = books
        self._resync: set[str] = set()
        self._req_id = 0
        self._retry_at: dict[str, float] = {}
        """Symbols whose book subscription Kraken refused -> when to ask again (loop time)."""
        self._retry_delay: dict[str, float] = {}
        books.on_resync = self._request_resync
        books.on_refused = self._refused

    def _request_resync(self, symbol: str, reason: str) -> None:
        self._resync.add(symbol)
        self.on_state(symbol, FeedState.RESYNCING, reason)

    def _refused(self, symbol: str, error: str) -> None:
        """A refused book subscription: the connection stays up (heartbeats), so nothing else would ask again; it is
        asked again after a delay doubling from ``reconnect_initial_s`` to ``reconnect_max_s`` (per connection)."""
        delay = min(self._retry_delay.get(symbol, self.reconnect_initial_s / 2) * 2, self.reconnect_max_s)
        self._retry_delay[symbol] = delay
        self._retry_at[symbol] = asyncio.get_running_loop().time() + delay
        self.log.warning("kraken refused the %s book subscription (%s): asking again in %.2f s", symbol, error, delay)
        self.on_state(symbol, FeedState.RESYNCING, f"subscription refused ({error}); asking again in {delay:.2f} s")

    def _next_id(self) -> int:
        self._req_id += 1
        return self._req_id

    def _subscribe(self, channel: str, symbols: list[str] | None = None, method: str = "subscribe") -> str:
        params: dict = {"channel": channel}
        if channel == "book":
            params.update(symbol=symbols, depth=self.depth)
            if method == "subscribe":
                params["snapshot"] = True
        else:
            params["snapshot"] = True
        return json.dumps({"method": method, "params": params, "req_id": self._next_id()})

    # --- the venue's part of the connection ------------------------------------------------

    async def subscribe(self, ws) -> None:
        for symbol in self.symbols:
            self.on_state(symbol, FeedState.RESYNCING, "connected: waiting for a snapshot")
        self._resync.clear()
        self._retry_at.clear()
        self._retry_delay.clear()
        await ws.send(self._subscribe("instrument"))
        await ws.send(self._subscribe("book", self.symbols))

    def handle(self, frame: str | bytes) -> None:
        self.books.handle(frame)

    async def after_frame(self, ws) -> None:
        if self._retry_at:  # checked on every frame: Kraken's heartbeats come every second
            now = asyncio.get_running_loop().time()
            for symbol in sorted(s for s, at in self._retry_at.items() if at <= now):
                del self._retry_at[symbol]
                await ws.send(self._subscribe("book", [symbol]))
        if self._resync:
            for symbol in sorted(self._resync):
                await ws.send(self._subscribe("book", [symbol], method="unsubscribe"))
                await ws.send(self._subscribe("book", [symbol]))
            self._resync.clear()

    def reset_books(self, reason: str) -> None:
        self.books.reset(reason)
