"""The market data WebSocket: subscribe, read, resubscribe on a sequence gap, reconnect.

One task owns the connection. On each (re)connection it subscribes ``heartbeats`` (a message every
second, which also keeps quiet subscriptions open), ``level2`` and ``ticker`` for every product, so
subscriptions always come back, and hands every frame to :class:`~plugins.coinbase.book.CoinbaseBooks`.
A sequence gap makes the books ask for a resync: ``level2`` is unsubscribed and subscribed again
for a fresh snapshot. An ``error`` message while books wait for their snapshot (it names no product:
it may be their subscription refused) asks for them again after a delay doubling from
``reconnect_initial_s`` to ``reconnect_max_s``, since heartbeats keep the connection up. The
connection is dropped and remade, with exponential backoff and full jitter (first retry under
``reconnect_initial_s``, capped at ``reconnect_max_s``), when it fails or stays silent for
``silence_timeout_s``. Each subscription carries a fresh JWT when an API key is
configured (Coinbase recommends authenticating for the most reliable connection).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable

from bot.api import FeedState
from bot.api.kit import ReconnectingFeed, StateCallback

from .book import CoinbaseBooks

CHANNELS = ("heartbeats", "level2", "ticker")


class CoinbaseFeed(ReconnectingFeed):
    """Keeps the market data connection up and the books fed. ``run()`` is the task; ``await stop()`` ends it."""

    venue = "coinbase"
    max_size = 64 * 2**20

    def __init__(self, url: str, books: CoinbaseBooks, *, silence_timeout_s: float, reconnect_initial_s: float,
                 reconnect_max_s: float, on_state: StateCallback, jwt: Callable[[], str] | None = None,
                 rng: random.Random | None = None):
        super().__init__(url, list(books.symbols), silence_timeout_s=silence_timeout_s,
                         reconnect_initial_s=reconnect_initial_s, reconnect_max_s=reconnect_max_s,
                         on_state=on_state, rng=rng)
        self.books = books
        self.jwt = jwt
        self._resync: list[str] = []
        self._retry_at: float | None = None
        """When to subscribe again the books still waiting for a snapshot after an error message (loop time)."""
        self._retry_delay = 0.0
        books.on_resync = self._request_resync
        books.on_refused = self._refused

    def _request_resync(self, symbols: list[str], reason: str) -> None:
        self._resync.extend(s for s in symbols if s not in self._resync)
        for symbol in symbols:
            self.on_state(symbol, FeedState.RESYNCING, reason)

    def _refused(self, symbols: list[str], message: str) -> None:
        """An error message while books wait for their snapshot: perhaps their subscription was refused. The
        connection stays up on heartbeats, so they are asked for again after a delay doubling from
        ``reconnect_initial_s`` to ``reconnect_max_s`` (per connection)."""
        if self._retry_at is not None:
            return  # one retry at a time
        self._retry_delay = min(max(self._retry_delay * 2, self.reconnect_initial_s), self.reconnect_max_s)
        self._retry_at = asyncio.get_running_loop().time() + self._retry_delay
        for symbol in symbols:
            self.on_state(symbol, FeedState.RESYNCING,
                          f"error while waiting for a snapshot ({message}); asking again in {self._retry_delay:.2f} s")

    def _message(self, kind: str, channel: str, symbols: list[str] | None) -> str:
        message: dict = {"type": kind, "channel": channel}
        if symbols is not None:
            message["product_ids"] = [s.replace("/", "-") for s in symbols]
        if self.jwt is not None:
            message["jwt"] = self.jwt()  # one JWT per message: they expire after two minutes
        return json.dumps(message)

    # --- the venue's part of the connection ------------------------------------------------

    async def subscribe(self, ws) -> None:
        self.books.reset()
        self._resync.clear()
        self._retry_at, self._retry_delay = None, 0.0
        for symbol in self.symbols:
            self.on_state(symbol, FeedState.RESYNCING, "connected: waiting for a snapshot")
        self.books.expect_snapshots(self.symbols)
        for channel in CHANNELS:
            await ws.send(self._message("subscribe", channel, None if channel == "heartbeats" else self.symbols))

    def handle(self, frame: str | bytes) -> None:
        self.books.handle(frame)

    async def after_frame(self, ws) -> None:
        if self._retry_at is not None and asyncio.get_running_loop().time() >= self._retry_at:
            self._retry_at = None  # checked on every frame: heartbeats come every second
            waiting = sorted(self.books.awaiting_snapshot)
            self._resync.extend(s for s in waiting if s not in self._resync)
        if self._resync:
            symbols, self._resync = self._resync, []
            await ws.send(self._message("unsubscribe", "level2", symbols))
            await ws.send(self._message("subscribe", "level2", symbols))

    def reset_books(self, reason: str) -> None:
        self.books.reset()
