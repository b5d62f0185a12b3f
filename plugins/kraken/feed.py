"""The public WebSocket v2 connection: subscribe, read, resubscribe, reconnect.

One task owns the connection. It subscribes to ``instrument`` (precisions and trading rules)
and then ``book`` at the configured depth, and hands every frame to
:class:`~plugins.kraken.book.KrakenBooks`. It reconnects by itself, with exponential backoff
and full jitter (first retry under ``reconnect_initial_s``, capped at ``reconnect_max_s``),
when the connection fails or stays silent for ``silence_timeout_s`` (Kraken sends a heartbeat
every second, so silence means a dead path even while TCP looks open). Each (re)connection
subscribes afresh, so subscriptions always come back; a symbol whose checksum failed is
unsubscribed and subscribed again for a new snapshot. Feed state changes go to ``on_state``.
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

from .book import KrakenBooks

log = logging.getLogger("arbot.kraken.feed")

StateCallback = Callable[[str, FeedState, str], None]
FrameSink = Callable[[str | bytes], None]


class KrakenFeed:
    """Keeps the public connection up and the books fed. ``run()`` is the task; ``await stop()`` ends it."""

    def __init__(self, url: str, symbols: list[str], depth: int, books: KrakenBooks, *,
                 silence_timeout_s: float, reconnect_initial_s: float, reconnect_max_s: float,
                 on_state: StateCallback, rng: random.Random | None = None):
        self.url = url
        self.symbols = list(symbols)
        self.depth = depth
        self.books = books
        self.silence_timeout_s = silence_timeout_s
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.on_state = on_state
        self.rng = rng or random.Random()
        self.frame_sink: FrameSink | None = None
        """Called with every frame as received, before it is handled (``arbot record``)."""
        self.connections = 0
        self.disconnects = 0
        self.silences = 0
        self._resync: set[str] = set()
        self._req_id = 0
        self._ws = None
        self._stopping = False
        self.connected = asyncio.Event()
        books.on_resync = self._request_resync

    # --- control ----------------------------------------------------------------------------

    async def stop(self) -> None:
        """End :meth:`run`: close the connection (its task then returns)."""
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()

    def _request_resync(self, symbol: str, reason: str) -> None:
        self._resync.add(symbol)
        self.on_state(symbol, FeedState.RESYNCING, reason)

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

    # --- the task ---------------------------------------------------------------------------

    async def run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                async with connect(self.url, proxy=None, open_timeout=max(self.silence_timeout_s, 1.0),
                                   max_size=16 * 2**20, close_timeout=1) as ws:
                    self._ws = ws
                    self.connections += 1
                    self.connected.set()
                    for symbol in self.symbols:
                        self.on_state(symbol, FeedState.RESYNCING, "connected: waiting for a snapshot")
                    self._resync.clear()
                    await ws.send(self._subscribe("instrument"))
                    await ws.send(self._subscribe("book", self.symbols))
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
                            for symbol in sorted(self._resync):
                                await ws.send(self._subscribe("book", [symbol], method="unsubscribe"))
                                await ws.send(self._subscribe("book", [symbol]))
                            self._resync.clear()
            except asyncio.CancelledError:
                raise
            except _Silent:
                pass  # already reported
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                self._lost(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a bug must not end the feed: log, count, reconnect
                log.exception("kraken feed failed")
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
        log.warning("kraken feed lost (%s): reconnecting", reason)
        self.books.reset(reason)
        for symbol in self.symbols:
            self.on_state(symbol, FeedState.STALE, reason)


class _Silent(Exception):
    """No frame within the silence timeout."""
