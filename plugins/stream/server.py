"""The stream server: authenticated WebSocket fan-out of bus events, with resumable sequences.

It runs in the bot's loop. Events arrive from the bus as plain synchronous calls; each is encoded
once, numbered in its channel, kept in a bounded buffer and written to every subscriber with
``websockets``' synchronous ``broadcast``. Nothing on that path awaits a client: a client whose
unsent bytes pass ``client_buffer_bytes`` is disconnected instead (it can resume with ``since``).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import secrets
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from bot.api import Alert, AlertLevel, FeedStatus, FillApplied, Opportunity, OrderUpdate
from bot.api.kit import REDACTOR, ClientAddresses, escape_controls, fill_data, to_data

from .protocol import (
    CHANNELS,
    CLOSE_AUTH_FAILED,
    CLOSE_SLOW_CONSUMER,
    CLOSE_TOO_MANY_CONNECTIONS,
    CLOSE_TOO_MANY_MESSAGES,
    PROTOCOL,
    challenge_payload,
    dumps,
    loads,
    parse_public_key,
    verify,
)
from .settings import StreamSettings

if TYPE_CHECKING:
    from bot.api import Context

log = logging.getLogger("arbot.stream")

AUTH_FRAME_BYTES = 4096
"""Largest frame before authentication: the auth frame is about 300 bytes."""

BAD_FRAME_CLOSES = frozenset({1002, 1007, 1009})
"""Close codes websockets sends for a frame it refuses itself: a protocol error, text that is not UTF-8, too big."""

SNAPSHOT_CHANNELS = ("portfolio", "status")
"""Channels whose events are whole states: a client that subscribes gets the latest one at once."""


class Refused(Exception):
    """Authentication refused; the message is the reason that is logged (the client gets less)."""


@dataclass(eq=False)
class Client:
    ws: ServerConnection
    name: str
    role: str
    key: str
    peer: str
    channels: set[str] = field(default_factory=set)
    tokens: float = 0.0
    tokens_at: float = 0.0
    dropped: bool = False


class Channel:
    """One channel: its sequence number, the recent frames and the subscribed clients."""

    def __init__(self, name: str, buffer_events: int):
        self.name = name
        self.seq = 0
        self.buffer: deque[tuple[int, str]] = deque(maxlen=buffer_events)
        self.subscribers: dict[Client, None] = {}  # insertion-ordered set
        self.snapshot: Any = None


class StreamServer:
    """Serve ``orders``, ``fills``, ``portfolio``, ``opportunities``, ``alerts`` and ``status``."""

    def __init__(self, settings: StreamSettings, ctx: Context):
        self.settings = settings
        self.ctx = ctx
        self.operator = ctx.operator
        self.clock = ctx.clock
        self.bot = ctx.bot_name
        """``[bot] name``: in ``welcome`` and in every event frame, so a client of several bots tells them apart."""
        self.epoch = secrets.token_hex(8)
        self.channels = {name: Channel(name, settings.buffer_events) for name in CHANNELS}
        self.keys = {}
        for name, entry in settings.clients.items():
            role, _, key = entry.partition(":")
            self.keys[key] = (name, role, parse_public_key(key))
        self.clients: set[Client] = set()
        self._client_of: dict[ServerConnection, Client] = {}
        self.per_key: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self._used_nonces: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._unsubscribe: list[Any] = []
        self._portfolio_pending = False
        self._balances: dict[str, dict[str, dict[str, str]]] = {}
        self._feeds: dict[str, dict[str, Any]] = {}
        self._pending: list[tuple[Channel, str]] = []
        self._flush_scheduled = False
        self.addresses = ClientAddresses(settings.trusted_proxies)
        """Who a connection comes from, for max_unauthenticated_per_address (:meth:`_admit`, :meth:`_handle`)."""
        self._waiting: dict[ServerConnection, str | None] = {}
        """Connections not yet authenticated, from TCP accept on, oldest first, with their client's key (limited
        apart: max_unauthenticated, max_unauthenticated_per_address); None for a trusted proxy's until its
        opening handshake names the client."""
        self._waiting_from: dict[str, dict[ServerConnection, None]] = {}
        """The same connections by client, oldest first: a client's oldest is found without a scan."""
        self._server: Server | None = None
        self.port = 0
        self.open_connections = 0
        """TCP connections open now, from accept to close, whether authenticated, waiting or closing."""

    def waiting(self) -> int:
        """Connections waiting to authenticate now."""
        return len(self._waiting)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        stream = self

        class Connection(ServerConnection):
            """Known to the stream from TCP accept: a connection that never finishes websockets' opening handshake
            waits to authenticate too, within the same limits, instead of holding a descriptor for open_timeout."""

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                super().connection_made(transport)
                stream.open_connections += 1
                stream._admit(self)

            def data_received(self, data: bytes) -> None:
                super().data_received(data)
                # websockets answers a ping with a pong by itself, outside what the stream writes and bounds
                if self.transport.get_write_buffer_size() > s.client_buffer_bytes:
                    stream._overflowing(self)

            def connection_lost(self, exc: Exception | None) -> None:
                super().connection_lost(exc)
                stream.open_connections -= 1
                stream._unwait(self)

        self._server = server = await serve(
            self._handle, s.host, s.port, max_size=s.max_frame_bytes, compression=None,
            close_timeout=2, ping_interval=20, ping_timeout=20, create_connection=Connection,
        )
        self.port = server.sockets[0].getsockname()[1]
        bus, owner = self.ctx.bus, self.ctx.name
        self._unsubscribe = [
            bus.subscribe(OrderUpdate, self._on_order_update, owner=owner),
            bus.subscribe(FillApplied, self._on_fill, owner=owner),
            bus.subscribe(Opportunity, self._on_opportunity, owner=owner),
            bus.subscribe(FeedStatus, self._on_feed_status, owner=owner),
            self.ctx.subscribe_alerts(self._on_alert),
        ]
        self._publish_status()
        self._publish_portfolio()
        self.ctx.create_task(self._every(s.status_every_s, self._publish_status), what="status")
        self.ctx.create_task(self._every(s.portfolio_every_s, self._refresh_portfolio), what="portfolio")
        log.info("stream listening on ws://%s:%d (%d key(s) allowed)", s.host, self.port, len(self.keys))

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _every(self, interval_s: float, func) -> None:
        while True:  # at once, then every interval_s: balances are known from the start
            result = func()
            if asyncio.iscoroutine(result):
                await result
            await asyncio.sleep(interval_s)

    # --- from the bus to the channels (synchronous, never awaits a client) --------------------

    def publish(self, channel_name: str, data: Any) -> int:
        """Number, encode once, buffer and fan out one event; returns its sequence number.

        Every known secret in the event's text (an order's reason quoting a venue's request with its key) is
        masked first, as the web console masks its events (``REDACTOR.redact_event``)."""
        if isinstance(data, dict):
            data = REDACTOR.redact_event(data)
        channel = self.channels[channel_name]
        channel.seq += 1
        text = dumps({"type": "event", "bot": self.bot, "channel": channel_name, "seq": channel.seq,
                      "ts": self.clock.time_ns(), "data": data})
        channel.buffer.append((channel.seq, text))
        if channel_name in SNAPSHOT_CHANNELS:
            channel.snapshot = data
        if channel.subscribers:
            # the writes to every client happen right after the current callback chain, not inside it:
            # the publisher (a strategy's order, a fill) goes on at once, and bursts go out together
            self._pending.append((channel, text))
            if not self._flush_scheduled:
                self._flush_scheduled = True
                asyncio.get_running_loop().call_soon(self._flush)
        self.stats["events"] += 1
        return channel.seq

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        for channel, text in pending:
            self._fan_out(channel, text)

    def _fan_out(self, channel: Channel, text: str) -> None:
        limit = self.settings.client_buffer_bytes
        # A server's frames are not masked and we negotiate no extension (compression=None), so a
        # frame's bytes are the same for every client: serialize it once and write those bytes to each
        # open connection. websockets' own broadcast() builds the frame anew for every connection,
        # which made fan-out to 1,000 clients several times slower (benchmarks/stream.py).
        raw = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
        slow, other = [], []
        for client in channel.subscribers:
            ws = client.ws
            transport = ws.transport
            if transport.get_write_buffer_size() > limit:
                slow.append(client)
            elif ws.protocol.state is State.OPEN and ws.send_in_progress is None and not ws.protocol.extensions:
                transport.write(raw)
            else:
                other.append(ws)
        if other:
            broadcast(other, text)  # skips connections that are closing
        for client in slow:
            self._drop(client, CLOSE_SLOW_CONSUMER, "slow consumer")

    def _on_order_update(self, update: OrderUpdate) -> None:
        self.publish("orders", to_data(update))
        self._portfolio_changed()

    def _on_fill(self, applied: FillApplied) -> None:
        """Each fill once: the executor publishes ``FillApplied`` after applying it (venues' ``Fill`` may repeat)."""
        self.publish("fills", fill_data(applied))
        self._portfolio_changed()

    def _on_opportunity(self, opportunity: Opportunity) -> None:
        self.publish("opportunities", to_data(opportunity))

    def _on_feed_status(self, status: FeedStatus) -> None:
        data = REDACTOR.redact_event(to_data(status))  # kept for the status snapshot too
        self._feeds[f"{status.exchange}:{status.symbol}"] = data
        self.publish("status", {"kind": "feed", **data})

    def _on_alert(self, alert: Alert) -> None:
        data = to_data(alert)
        data["level"] = AlertLevel(alert.level).name.lower()
        self.publish("alerts", data)

    def _portfolio_changed(self) -> None:
        # many fills in one burst make one snapshot, after the burst
        if not self._portfolio_pending:
            self._portfolio_pending = True
            asyncio.get_running_loop().call_soon(self._publish_portfolio)

    def _portfolio_data(self) -> dict[str, Any]:
        op = self.operator
        positions = [{"exchange": e, "symbol": s, "qty": str(q)} for (e, s), q in sorted(op.positions().items())]
        orders = [{"client_order_id": o.client_order_id, "strategy": o.strategy, "exchange": o.exchange,
                   "symbol": o.symbol, "side": o.side.value, "qty": str(o.qty),
                   "price": None if o.price is None else str(o.price), "filled_qty": str(o.filled_qty),
                   "status": o.status.value} for o in op.open_orders()]
        return {"kind": "portfolio", "positions": positions, "open_orders": orders, "balances": self._balances}

    def _publish_portfolio(self) -> None:
        self._portfolio_pending = False
        data = self._portfolio_data()
        if data != self.channels["portfolio"].snapshot:
            self.publish("portfolio", data)

    async def _refresh_portfolio(self) -> None:
        for name, exchange in list(self.operator.exchanges.items()):
            try:
                balances = await exchange.balances()
            except Exception as exc:  # a venue that cannot answer now keeps its last balances
                log.warning("stream: balances of %s unavailable: %s", name, exc)
                continue
            self._balances[name] = {asset: {"free": str(b.free), "total": str(b.total)}
                                    for asset, b in sorted(balances.items())}
        self._publish_portfolio()

    def _publish_status(self) -> None:
        op = self.operator
        # a failed strategy's state quotes its exception, which may quote a venue's request with its key: masked
        # here (the events' own masking reads only their reason and message), before the comparison with the
        # snapshot, which holds what was sent
        data = REDACTOR.redact_data({"kind": "bot", "mode": op.mode, "started_ns": op.started_ns,
                                     "strategies": {name: op.strategy_state(name) for name in op.strategy_names()},
                                     "exchanges": sorted(op.exchanges), "feeds": dict(self._feeds)})
        if data != self.channels["status"].snapshot:
            self.publish("status", data)

    # --- connections -------------------------------------------------------------------------

    def _admit(self, ws: ServerConnection) -> None:
        """A new TCP connection: it waits to authenticate, and an older waiting one may have to go for it.

        The oldest waiting connection goes, not the new one: a real client answers its challenge in milliseconds,
        so a flood of silent connections cannot keep it out. The oldest of the same client goes first, so one
        client flooding cannot push out another client's login half-way through its challenge either. A client is
        its IPv4 address or IPv6 /64; a trusted proxy's connection is counted under the client its opening
        handshake names (:meth:`_handle`), in max_unauthenticated alone until then."""
        address, proxy = self.addresses.peer(str(ws.remote_address[0]) if ws.remote_address else None)
        if len(self._waiting) >= self.settings.max_unauthenticated and (
                proxy or len(self._waiting_from.get(address, ())) < self.settings.max_unauthenticated_per_address):
            self._evict(next(iter(self._waiting)))
        self._waiting[ws] = None
        if not proxy:
            self._wait_as(ws, address)

    def _wait_as(self, ws: ServerConnection, address: str) -> None:
        """Count waiting ``ws`` under its client's key; past max_unauthenticated_per_address that client's oldest
        waiting connection goes."""
        same = self._waiting_from.setdefault(address, {})
        if len(same) >= self.settings.max_unauthenticated_per_address:
            self._evict(next(iter(same)))
            same = self._waiting_from.setdefault(address, {})
        self._waiting[ws] = address
        same[ws] = None

    def _unwait(self, ws: ServerConnection) -> None:
        """``ws`` waits to authenticate no more (authenticated, evicted or gone)."""
        address = self._waiting.pop(ws, None)
        if address is not None:
            same = self._waiting_from[address]
            del same[ws]
            if not same:
                del self._waiting_from[address]

    def _evict(self, ws: ServerConnection) -> None:
        self._unwait(ws)
        self.stats["evicted_unauthenticated"] += 1
        if ws.protocol.state is State.OPEN:  # it has its challenge: told why
            self._shut(ws, 1013, "too many connections waiting to authenticate")
        else:  # still in websockets' opening handshake: there is no WebSocket to say it in
            ws.transport.abort()

    @staticmethod
    def _shut(ws: ServerConnection, code: int, reason: str) -> None:
        """Close a stranger's connection now: its close frame is sent, the stranger's answer is not waited for
        (websockets' close() waits close_timeout for it, the descriptor held and counted nowhere)."""
        if ws.protocol.state is State.OPEN:
            ws.protocol.send_close(code, reason)
            ws.send_data()
        ws.transport.close()  # flushes the few bytes queued, then closes

    async def _handle(self, ws: ServerConnection) -> None:
        peer = "%s:%s" % ws.remote_address[:2] if ws.remote_address else "?"
        if ws not in self._waiting:  # evicted while its opening handshake finished
            self._shut(ws, 1013, "too many connections waiting to authenticate")
            return
        if self._waiting[ws] is None:  # from a trusted proxy: its handshake names the client
            assert ws.request is not None
            client_key = self.addresses.client(str(ws.remote_address[0]) if ws.remote_address else None,
                                               ws.request.headers.get_all("X-Forwarded-For"))
            self._wait_as(ws, client_key)
            peer = f"{client_key} via {peer}"  # the logs name the client, not only the proxy
        try:
            client = await self._authenticate(ws, peer)
        except Refused as exc:
            reason = str(exc)
            self.refusals[reason.split(":")[0]] += 1
            log.warning("stream: refused %s: %s", peer, escape_controls(reason))  # it quotes a stranger's text
            try:
                await ws.send(dumps({"type": "error", "code": "auth_failed", "message": "authentication failed"}))
                self._shut(ws, CLOSE_AUTH_FAILED, "authentication failed")
            except ConnectionClosed:
                pass
            return
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code in BAD_FRAME_CLOSES:  # refused by websockets, not by us
                self.refusals["malformed auth frame"] += 1
                log.warning("stream: refused %s: malformed auth frame: %s (close %d)", peer, exc.sent.reason,
                            exc.sent.code)
            return
        finally:
            self._unwait(ws)
        if len(self.clients) >= self.settings.max_connections:
            self.stats["refused_full"] += 1
            await ws.close(1013, "server full")
            return
        if self.per_key[client.key] >= self.settings.max_connections_per_key:
            self.refusals["too many connections"] += 1
            log.warning("stream: refused %s (%s): already %d connection(s) with this key", peer, client.name,
                        self.per_key[client.key])
            await ws.send(dumps({"type": "error", "code": "too_many_connections",
                                 "message": f"at most {self.settings.max_connections_per_key} connections per key"}))
            await ws.close(CLOSE_TOO_MANY_CONNECTIONS, "too many connections for this key")
            return
        self.clients.add(client)
        self._client_of[ws] = client
        self.per_key[client.key] += 1
        self.stats["authenticated"] += 1
        log.info("stream: %s connected as %s (%s)", peer, client.name, client.role)
        client.tokens, client.tokens_at = float(self.settings.client_message_burst), asyncio.get_running_loop().time()
        self._send(client, {"type": "welcome", "protocol": PROTOCOL, "bot": self.bot, "client": client.name,
                            "role": client.role, "epoch": self.epoch,
                            "channels": {n: c.seq for n, c in self.channels.items()}})
        try:
            async for message in ws:
                if client.dropped:
                    break
                self._on_message(client, message)
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code in BAD_FRAME_CLOSES:
                self.stats["bad frames"] += 1
                log.warning("stream: bad frame from %s (%s): %s (close %d)", peer, client.name, exc.sent.reason,
                            exc.sent.code)
        finally:
            self._forget(client)

    async def _authenticate(self, ws: ServerConnection, peer: str) -> Client:
        ttl = self.settings.challenge_ttl_s
        nonce = secrets.token_hex(16)
        ts_ns = self.clock.time_ns()
        issued = self.clock.monotonic()
        await ws.send(dumps({"type": "challenge", "protocol": PROTOCOL, "nonce": nonce, "ts": ts_ns, "ttl_s": ttl}))
        ws.protocol.max_message_size = AUTH_FRAME_BYTES  # a stranger sends one small frame, nothing bigger
        try:
            async with asyncio.timeout(ttl):
                message = await ws.recv()
        except TimeoutError:
            raise Refused("no answer: the challenge was not answered in time") from None
        ws.protocol.max_message_size = self.settings.max_frame_bytes
        try:
            frame = loads(message)
            if frame["type"] != "auth":
                raise ValueError(f'expected an "auth" frame, got "{frame["type"]}"')
            key, their_nonce, their_ts, sig = frame["key"], frame["nonce"], frame["ts"], frame["sig"]
            if not all(isinstance(v, str) for v in (key, their_nonce, sig)) or not isinstance(their_ts, int):
                raise ValueError("key, nonce and sig are strings, ts an integer")
        except (ValueError, KeyError, TypeError) as exc:
            raise Refused(f"malformed auth frame: {exc}") from None
        self._prune_nonces()
        if their_nonce != nonce or their_ts != ts_ns:
            if their_nonce in self._used_nonces:
                raise Refused("replayed challenge: this challenge was already answered")
            raise Refused("wrong challenge: not the one issued to this connection")
        if self.clock.monotonic() - issued > ttl:
            raise Refused(f"expired challenge: answered after more than {ttl:g} s")
        known = self.keys.get(key)
        if known is None:
            # masked before it is cut: a known secret sent as a key (pasted into the wrong field) shows none of itself
            raise Refused(f"unknown key: {REDACTOR.cut(key, 12)}...")
        name, role, verify_key = known
        if not verify(verify_key, challenge_payload(nonce, ts_ns), sig):
            raise Refused(f"bad signature: for key {name}")
        self._used_nonces[nonce] = self.clock.monotonic()
        return Client(ws=ws, name=name, role=role, key=key, peer=peer)

    def _prune_nonces(self) -> None:
        horizon = self.clock.monotonic() - 2 * self.settings.challenge_ttl_s
        while self._used_nonces:
            nonce, at = next(iter(self._used_nonces.items()))
            if at >= horizon:
                break
            del self._used_nonces[nonce]

    def _forget(self, client: Client) -> None:
        for name in client.channels:
            self.channels[name].subscribers.pop(client, None)
        client.channels.clear()
        if client in self.clients:
            self.clients.discard(client)
            self._client_of.pop(client.ws, None)
            self.per_key[client.key] -= 1
            if self.per_key[client.key] <= 0:
                del self.per_key[client.key]
            log.info("stream: %s (%s) disconnected", client.peer, client.name)

    def _overflowing(self, ws: ServerConnection) -> None:
        """Unsent bytes past ``client_buffer_bytes`` for a connection that keeps sending (pings websockets answers
        by itself): a client is dropped as slow; one not authenticated, or already dropped, is cut off."""
        client = self._client_of.get(ws)
        if client is not None and not client.dropped:
            self._drop(client, CLOSE_SLOW_CONSUMER, "slow consumer")
        elif not ws.transport.is_closing():
            if ws in self._waiting:  # (a dropped client is forgotten: it was counted when dropped)
                self.stats["dropped: slow consumer"] += 1
                log.warning("stream: cutting off %s before authentication: it reads nothing and keeps sending",
                            "%s:%s" % ws.remote_address[:2] if ws.remote_address else "?")
            ws.transport.abort()

    def _drop(self, client: Client, code: int, reason: str) -> None:
        """Disconnect a client without waiting for it: unsubscribe now, close in the background."""
        if client.dropped:
            return
        client.dropped = True
        self.stats[f"dropped: {reason}"] += 1
        log.warning("stream: disconnecting %s (%s): %s", client.peer, client.name, reason)
        self._forget(client)
        self.ctx.create_task(client.ws.close(code, reason), what=f"closing {client.peer}")

    def _send(self, client: Client, frame: dict[str, Any]) -> None:
        self._write(client, dumps(frame))

    def _write(self, client: Client, text: str) -> bool:
        """Queue one frame for one client (a reply, a snapshot, a replayed event), bounded as the live events are:
        a client already further behind than ``client_buffer_bytes`` is dropped instead; False then."""
        if client.dropped:
            return False
        if client.ws.transport.get_write_buffer_size() > self.settings.client_buffer_bytes:
            self._drop(client, CLOSE_SLOW_CONSUMER, "slow consumer")
            return False
        # through broadcast like the events, so replies and events keep their order
        broadcast([client.ws], text)
        return True

    # --- what clients send -------------------------------------------------------------------

    def _on_message(self, client: Client, message: str | bytes) -> None:
        now = asyncio.get_running_loop().time()
        s = self.settings
        refill = (now - client.tokens_at) * s.client_messages_per_s
        client.tokens = min(float(s.client_message_burst), client.tokens + refill)
        client.tokens_at = now
        if client.tokens < 1:
            self._send(client, {"type": "error", "code": "too_many_messages",
                                "message": f"at most {s.client_messages_per_s:g} frames/s"})
            self._drop(client, CLOSE_TOO_MANY_MESSAGES, "too many messages")
            return
        client.tokens -= 1
        try:
            if isinstance(message, bytes):
                raise ValueError("binary frames are not accepted; send JSON text")
            frame = loads(message)
            kind = frame["type"]
            if kind == "subscribe":
                self._subscribe(client, frame)
            elif kind == "unsubscribe":
                for name in self._channel_list(frame):
                    self.channels[name].subscribers.pop(client, None)
                    client.channels.discard(name)
                self._send(client, {"type": "unsubscribed", "channels": sorted(self._channel_list(frame))})
            elif kind == "ping":
                self._send(client, {"type": "pong", "ts": self.clock.time_ns()})
            else:
                raise ValueError(f'unknown frame type "{kind}"; expected subscribe, unsubscribe or ping')
        except (ValueError, KeyError, TypeError) as exc:
            self.stats["bad frames"] += 1
            self._send(client, {"type": "error", "code": "bad_frame", "message": str(exc)})

    def _channel_list(self, frame: dict[str, Any]) -> list[str]:
        names = frame.get("channels")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ValueError('"channels" is a non-empty list of channel names')
        unknown = [n for n in names if n not in self.channels]
        if unknown:
            raise ValueError(f"unknown channel(s) {', '.join(unknown)}; channels: {', '.join(CHANNELS)}")
        return names

    def _subscribe(self, client: Client, frame: dict[str, Any]) -> None:
        names = self._channel_list(frame)
        since = frame.get("since") or {}
        if not isinstance(since, dict) or not all(isinstance(v, int) and v >= 0 for v in since.values()):
            raise ValueError('"since" maps channel names to sequence numbers (integers >= 0)')
        epoch = frame.get("epoch")
        self._flush()  # events numbered but not yet written: out first, so a catch-up never repeats one
        self._send(client, {"type": "subscribed", "channels": {n: self.channels[n].seq for n in names}})
        for name in names:
            channel = self.channels[name]
            if name not in client.channels:
                self._catch_up(client, channel, since.get(name), epoch)
                if client.dropped:  # too far behind to take the catch-up: subscribed to nothing any more
                    return
                channel.subscribers[client] = None
                client.channels.add(name)

    def _catch_up(self, client: Client, channel: Channel, since: int | None, epoch: Any) -> None:
        """Before live events: the missed ones from the buffer, a reset, or the current snapshot."""
        if since is None:
            if channel.snapshot is not None:
                self._send(client, {"type": "snapshot", "channel": channel.name, "seq": channel.seq,
                                    "data": channel.snapshot})
            return
        reason = None
        if epoch is not None and epoch != self.epoch:
            reason = "the server restarted: sequence numbers started again"
        elif since > channel.seq:
            reason = f"since={since} is ahead of this channel (seq {channel.seq})"
        elif since < channel.seq:
            oldest = channel.buffer[0][0] if channel.buffer else channel.seq + 1
            if since + 1 < oldest:
                reason = f"events after {since} are no longer buffered (oldest is {oldest})"
            else:
                missed = list(itertools.islice(channel.buffer, since + 1 - oldest, None))
                if sum(len(text) for _, text in missed) > self.settings.client_buffer_bytes:
                    reason = f"{len(missed)} missed events are more than one client may queue"
                else:
                    for _, text in missed:
                        if not self._write(client, text):
                            return
                        self.stats["replayed"] += 1
                    return
        if reason is not None:
            self._send(client, {"type": "reset", "channel": channel.name, "seq": channel.seq, "reason": reason,
                                "snapshot": channel.snapshot})
