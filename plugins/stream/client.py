"""A small client for the arbot stream, for third parties: authenticate, subscribe, resume.

    import asyncio
    from plugins.stream.client import StreamClient
    from plugins.stream.protocol import read_signing_key

    async def main():
        client = StreamClient("ws://127.0.0.1:8765", read_signing_key(Path("watcher.key")), ["fills", "orders"])
        async for frame in client.events():          # reconnects and resumes by itself
            if frame["type"] == "event":
                print(frame["channel"], frame["seq"], frame["data"])

    asyncio.run(main())

``events()`` yields ``event`` frames exactly once each and in order per channel, across reconnects:
it remembers the last sequence number of every channel and reconnects with ``since``. When the
server no longer has the missed events it yields a ``reset`` frame (take a fresh snapshot, carried
in the frame for ``portfolio`` and ``status``) and carries on from there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

from nacl.signing import SigningKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from .protocol import (
    CLOSE_AUTH_FAILED,
    CLOSE_TOO_MANY_CONNECTIONS,
    challenge_payload,
    dumps,
    loads,
    public_key_of,
    sign,
)

log = logging.getLogger("arbot.stream.client")


class StreamRefused(Exception):
    """The server refused us for good (authentication failed, too many connections): retrying will not help."""


class StreamClient:
    """One subscriber to an arbot stream server."""

    def __init__(self, url: str, key: SigningKey, channels: Iterable[str], *, since: dict[str, int] | None = None,
                 epoch: str | None = None, max_backoff_s: float = 30.0, handshake_timeout_s: float = 30.0,
                 **connect_kwargs: Any):
        """``since`` and ``epoch``: a saved :meth:`position`, to resume where an earlier client stopped;
        ``handshake_timeout_s``: how long to wait for the server's challenge, then its welcome."""
        self.url = url
        self.key = key
        self.channels = list(channels)
        self.last_seq: dict[str, int] = dict(since or {})
        """Last sequence number seen per channel: what the next connection resumes from."""
        self.epoch: str | None = epoch
        """The run of the server those sequence numbers belong to: a server restarted since answers with a reset."""
        self.role: str | None = None
        self.ws: ClientConnection | None = None
        self.max_backoff_s = max_backoff_s
        self.handshake_timeout_s = handshake_timeout_s
        self.connect_kwargs = {"proxy": None, "max_size": 2**22, **connect_kwargs}

    def position(self) -> dict[str, Any]:
        """Where this client is, to save and pass back as ``StreamClient(..., **position)`` after a restart: the
        sequence numbers with the server run they count in, so a bot restarted meanwhile is told, not missed."""
        return {"epoch": self.epoch, "since": dict(self.last_seq)}

    async def open(self) -> ClientConnection:
        """Connect, answer the challenge, subscribe (resuming from :attr:`last_seq`); return the connection."""
        ws = await connect(self.url, **self.connect_kwargs)
        try:
            async with asyncio.timeout(self.handshake_timeout_s):  # a server that never speaks is not waited for ever
                return await self._authenticate(ws)
        except ConnectionClosed as exc:
            await ws.close()
            if exc.rcvd is not None and exc.rcvd.code in (CLOSE_AUTH_FAILED, CLOSE_TOO_MANY_CONNECTIONS):
                raise StreamRefused(exc.rcvd.reason) from None
            raise
        except BaseException:
            await ws.close()
            raise

    async def _authenticate(self, ws: ClientConnection) -> ClientConnection:
        """Answer the challenge, check the welcome, subscribe."""
        challenge = loads(await ws.recv())
        if challenge["type"] != "challenge":
            raise StreamRefused(f"expected a challenge, got {challenge['type']}")
        nonce, ts = challenge["nonce"], challenge["ts"]
        await ws.send(dumps({"type": "auth", "key": public_key_of(self.key), "nonce": nonce, "ts": ts,
                             "sig": sign(self.key, challenge_payload(nonce, ts))}))
        welcome = loads(await ws.recv())
        if welcome["type"] != "welcome":
            raise StreamRefused(welcome.get("message", "refused"))
        since = {c: self.last_seq[c] for c in self.channels if c in self.last_seq}
        subscribe = {"type": "subscribe", "channels": self.channels, "since": since}
        if since and self.epoch is not None:
            subscribe["epoch"] = self.epoch
        self.epoch, self.role = welcome["epoch"], welcome["role"]
        await ws.send(dumps(subscribe))
        self.ws = ws
        return ws

    def accept(self, frame: dict[str, Any]) -> bool:
        """Track sequence numbers; False for an event already seen (never yielded twice) or an acknowledgement."""
        kind = frame.get("type")
        channel = str(frame.get("channel"))
        if kind == "event":
            last = self.last_seq.get(channel)
            if last is not None and frame["seq"] <= last:
                return False
            self.last_seq[channel] = frame["seq"]
        elif kind in ("snapshot", "reset"):
            self.last_seq[channel] = frame["seq"]
        elif kind != "error":
            return False  # acknowledgements (subscribed, pong): nothing for the caller
        return True

    async def events(self, *, reconnect: bool = True) -> AsyncIterator[dict[str, Any]]:
        """Yield frames (``event``, ``snapshot``, ``reset``, ``error``) for ever, resuming after each drop.

        Without ``reconnect`` it returns when the connection ends, and raises when none could be made (the
        error of the attempt: ``OSError``, ``InvalidHandshake``...), so "ended" and "never there" differ."""
        backoff = 0.0
        while True:
            opened = False
            try:
                ws = await self.open()
                opened = True
                backoff = 0.0
                async for message in ws:
                    frame = loads(message)
                    if self.accept(frame):
                        yield frame
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                if not reconnect:
                    if opened:
                        return
                    raise
                log.info("stream connection lost (%s); resuming in %.1f s", exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(self.max_backoff_s, max(0.5, backoff * 2))

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
