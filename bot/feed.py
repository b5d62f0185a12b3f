"""A venue's market-data WebSocket kept alive: connect, subscribe, read, reconnect.

:class:`ReconnectingFeed` is what every CEX plugin's feed shares. One task (:meth:`run`) owns the
connection. It reconnects by itself, with exponential backoff and full jitter (first retry under
``reconnect_initial_s``, capped at ``reconnect_max_s``), when the connection fails or stays silent
for ``silence_timeout_s`` (venues send heartbeats, so silence means a dead path even while TCP
looks open). Each (re)connection calls :meth:`subscribe` afresh, so subscriptions always come back.
Losing the connection resets the books (:meth:`reset_books`) and marks every symbol STALE through
``on_state``. A subclass implements the venue's part: what to subscribe, how to handle a frame,
and what to resend after a frame (e.g. resubscribing a symbol whose book needs a snapshot).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from .domain import FeedState
from .ratelimit import backoff_delay
from .recording import FrameSink

StateCallback = Callable[[str, FeedState, str], None]


class _Silent(Exception):
    """No frame within the silence timeout (already reported)."""


class ReconnectingFeed(abc.ABC):
    """Keeps one market-data connection up and the books fed. ``run()`` is the task; ``await stop()`` ends it."""

    venue: str = "venue"
    """Name used in log lines (``"kraken feed lost ..."``)."""
    max_size: int = 16 * 2**20
    """Largest frame accepted, in bytes."""

    def __init__(self, url: str, symbols: list[str], *, silence_timeout_s: float, reconnect_initial_s: float,
                 reconnect_max_s: float, on_state: StateCallback, rng: random.Random | None = None):
        self.url = url
        self.symbols = list(symbols)
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
        self._ws: Any = None
        self._stopping = False
        self.connected = asyncio.Event()
        self.log = logging.getLogger(f"arbot.{self.venue}.feed")

    # --- what a venue implements ------------------------------------------------------------

    @abc.abstractmethod
    async def subscribe(self, ws: Any) -> None:
        """Just connected: mark the symbols RESYNCING, forget pending resyncs, send the subscriptions."""

    @abc.abstractmethod
    def handle(self, frame: str | bytes) -> None:
        """One frame, as received."""

    async def after_frame(self, ws: Any) -> None:  # noqa: B027 - an optional hook: empty on purpose
        """Send what the last frame made necessary (resubscriptions); nothing by default."""

    @abc.abstractmethod
    def reset_books(self, reason: str) -> None:
        """The connection is lost: the books can no longer be trusted."""

    # --- control ----------------------------------------------------------------------------

    async def stop(self) -> None:
        """End :meth:`run`: close the connection (its task then returns)."""
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()

    async def run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                async with connect(self.url, proxy=None, open_timeout=max(self.silence_timeout_s, 1.0),
                                   max_size=self.max_size, close_timeout=1) as ws:
                    self._ws = ws
                    self.connections += 1
                    self.connected.set()
                    await self.subscribe(ws)
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
                        self.handle(frame)
                        await self.after_frame(ws)
            except asyncio.CancelledError:
                raise
            except _Silent:
                pass  # already reported
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                self._lost(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a bug must not end the feed: log, count, reconnect
                self.log.exception("%s feed failed", self.venue)
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
        self.log.warning("%s feed lost (%s): reconnecting", self.venue, reason)
        self.reset_books(reason)
        for symbol in self.symbols:
            self.on_state(symbol, FeedState.STALE, reason)
