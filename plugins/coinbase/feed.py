"""The market data WebSocket: subscribe, read, resubscribe on a sequence gap, reconnect.

One task owns the connection. On each (re)connection it subscribes ``heartbeats`` (a message every
second, which also keeps quiet subscriptions open), ``level2`` and ``ticker`` for every product, so
subscriptions always come back, and hands every frame to :class:`~plugins.coinbase.book.CoinbaseBooks`.
A sequence gap makes the books ask for a resync: ``level2`` is unsubscribed and subscribed again
for a fresh snapshot. The connection is dropped and remade, with exponential backoff and full
jitter (first retry under ``reconnect_initial_s``, capped at ``reconnect_max_s``), when it fails or
stays silent for ``silence_timeout_s``. Each subscription carries a fresh JWT when an API key is
configured (Coinbase recommends authenticating for the most reliable connection).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from bot.domain import FeedState
from bot.ratelimit import backoff_delay

from .book import CoinbaseBooks

log = logging.getLogger("arbot.coinbase.feed")

StateCallback = Callable[[str, FeedState, str], None]
FrameSink = Callable[[str | bytes], None]
CHANNELS = ("heartbeats", "level2", "ticker")


class CoinbaseFeed:
    """Keeps the market data connection up and the books fed. ``run()`` is the task; ``await stop()`` ends it."""

    def __init__(self, url: str, books: CoinbaseBooks, *, silence_timeout_s: float, reconnect_initial_s: float,
                 reconnect_max_s: float, on_state: StateCallback, jwt: Callable[[], str] | None = None,
                 rng: random.Random | None = None):
        self.url = url
        self.books = books
        self.symbols = list(books.symbols)
        self.silence_timeout_s = silence_timeout_s
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.on_state = on_state
        self.jwt = jwt
        self.rng = rng or random.Random()
        self.frame_sink: FrameSink | None = None
        """Called with every frame as received, before it is handled (``arbot record``)."""
        self.connections = 0
        self.disconnects = 0
        self.silences = 0
        self._resync: list[str] = []
        self._ws = None
        self._stopping = False
        self.connected = asyncio.Event()
        books.on_resync = self._request_resync

    async def stop(self) -> None:
        """End :meth:`run`: close the connection (its task then returns)."""
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()

    def _request_resync(self, symbols: list[str], reason: str) -> None:
        self._resync.extend(s for s in symbols if s not in self._resync)
        for symbol in symbols:
            self.on_state(symbol, FeedState.RESYNCING, reason)

    def _message(self, kind: str, channel: str, symbols: list[str] | None) -> str:
        message: dict = {"type": kind, "channel": channel}
        if symbols is not None:
            message["product_ids"] = [s.replace("/", "-") for s in symbols]
        if self.jwt is not None:
            message["jwt"] = self.jwt()  # one JWT per message: they expire after two minutes
        return json.dumps(message)

    async def run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                async with connect(self.url, proxy=None, open_timeout=max(self.silence_timeout_s, 1.0),
                                   max_size=64 * 2**20, close_timeout=1) as ws:
                    self._ws = ws
                    self.connections += 1
                    self.connected.set()
                    self.books.reset()
                    self._resync.clear()
                    for symbol in self.symbols:
                        self.on_state(symbol, FeedState.RESYNCING, "connected: waiting for a snapshot")
                    self.books.expect_snapshots(self.symbols)
                    for channel in CHANNELS:
                        await ws.send(self._message("subscribe", channel,
                                                    None if channel == "heartbeats" else self.symbols))
                    got_any = False
                    while True:
                        try:
                            async with asyncio.timeout(self.silence_timeout_s):
                                frame = await ws.recv()
                        except TimeoutError:
                            self.silences += 1
                            self._lost(f"silent for {self.silence_timeout_s:g} s")  # now, not after the close
                            raise _Silent from None
                        if not got_any:
                            got_any = True
                            failures = 0
                        if self.frame_sink is not None:
                            self.frame_sink(frame)
                        self.books.handle(frame)
                        if self._resync:
                            symbols, self._resync = self._resync, []
                            await ws.send(self._message("unsubscribe", "level2", symbols))
                            await ws.send(self._message("subscribe", "level2", symbols))
            except asyncio.CancelledError:
                raise
            except _Silent:
                pass  # already reported
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                self._lost(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a bug must not end the feed: log, count, reconnect
                log.exception("coinbase feed failed")
                self._lost(f"{type(exc).__name__}: {exc}")
            finally:
                self._ws = None
                self.connected.clear()
            if self._stopping:
                break
            delay = backoff_delay(failures, self.reconnect_initial_s, self.reconnect_max_s, self.rng)
            failures += 1
            await asyncio.sleep(delay)

    def _lost(self, reason: str) -> None:
        if self._stopping:
            return
        self.disconnects += 1
        log.warning("coinbase feed lost (%s): reconnecting", reason)
        self.books.reset()
        for symbol in self.symbols:
            self.on_state(symbol, FeedState.STALE, reason)


class _Silent(Exception):
    """No frame within the silence timeout."""
