"""The bot's side of the fleet bus: events out, heartbeats, commands in, the :class:`FleetLink` to the others.

Runs in the bot's loop. Bus events arrive as plain synchronous calls: each is encoded once and put
in a bounded outbox; one task sends the outbox in order while NATS is connected. While it is not,
the outbox fills up to ``buffer_max`` and then drops its oldest events, counting them. Trading never
waits on NATS: nothing on the bus path awaits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import secrets
import socket
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import StorageType, StreamConfig
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from bot.api import (
    FLEET_ORIGIN,
    Alert,
    AlertLevel,
    AuditEntry,
    Caller,
    ExecutionResult,
    FillApplied,
    FleetLink,
    FleetMember,
    Opportunity,
    OrderUpdate,
    Reply,
    Transfer,
)
from bot.api.kit import COUNTED, FLAPPING, LOST, REDACTOR, Flapping, Loss, fill_data, to_data
from bot.api.ledger import exact, net_after_transfer_costs, totals

from . import wire
from .client import connect_options, servers_of, shown
from .settings import FleetSettings

if TYPE_CHECKING:
    from decimal import Decimal

    from bot.api import Context
    from bot.api.ledger import StrategyFigures

log = logging.getLogger("arbot.fleet")

MAX_CONCURRENT_COMMANDS = 16
"""Ordinary commands from the fleet run at once; the others wait for a turn."""
MAX_PENDING_COMMANDS = 256
"""Ordinary commands received and not answered yet; beyond, a request is answered "busy" at once."""
MAX_CONCURRENT_URGENT = 4
"""Urgent commands (:attr:`bot.api.Command.urgent`: the kill switch, ``/pause``, ``/resume``, ``/status``) of a
caller this bot gives a role run at once on turns of their own, so that ordinary commands hanging on a venue never
hold them up. Strangers' go with the ordinary ones (the command table refuses them anyway): they cannot take these
turns from an operator."""
MAX_PENDING_URGENT = 64
"""Urgent commands received and not answered yet; beyond, one is answered "busy" at once."""
CONFIRM_EVERY = 256
"""Events sent between two confirmations: a flush (PING) the server answers only after reading them. Events
sent when the connection goes unconfirmed are sent again on reconnection, and JetStream drops the copies."""
CONFIRM_TIMEOUT_S = 5
RELAYED_IDS_KEPT = 4 * CONFIRM_EVERY
"""Ids of the alerts relayed last, remembered to relay a copy once: a bot sends again at most one unconfirmed
batch (``CONFIRM_EVERY`` events) after a reconnection."""
MAX_PEERS = 256
"""Other bots kept in the member table. Beyond, the one heard from longest ago is forgotten (counted in
``forgotten``): heartbeats forged under many names cannot grow it, nor make ``/status all`` send to each of them.
A real bot pushed out is back with its next heartbeat."""
CLOCK_SAMPLES = 16
"""Heartbeats of each other bot kept to tell how far its clock is from this one's (:meth:`NatsFleet._transit_s`)."""
class Stored(NamedTuple):
    """What this bot's status reads of the store (:meth:`NatsFleet.stored`): the day's figures per strategy, the day's
    transfer costs, and the transfers on their way (None when the store cannot say)."""

    day_ns: int
    today: dict[str, StrategyFigures]
    costs: dict[str, Decimal]
    moving: list[Transfer] | None


CONNECT_STATUS_WAIT_S = 2.0
"""How long a (re)connected link waits, before it is ready, for the status its first heartbeat carries (read off the
loop)."""
MAX_TRANSFERS = 50
"""Transfers on their way a status lists at most (the oldest; ``transfers_total`` counts them all): ~200 bytes each,
well within ``max_event_bytes``."""
MAX_FLUSH_ROUNDS = 16
"""Round trips :func:`flush_written` waits for the client's buffer to empty (other tasks publish meanwhile)."""


Outgoing = tuple[str, int, int, Any, "Callable[[Any], Any] | None"]
"""One event in the outbox: (kind, seq, ts_ns, event, encode). ``event`` is JSON-ready data, or the event
object ``encode`` turns into it when it is sent: a publisher pays only for the tuple (a plain tuple: a
NamedTuple costs ten times more to make)."""


def alert_data(alert: Alert) -> dict[str, Any]:
    data = to_data(alert)
    data["level"] = AlertLevel(alert.level).name.lower()
    return data


class NatsFleet(FleetLink):
    """This bot on NATS: publishes its events and heartbeats, answers commands, knows the other bots."""

    def __init__(self, settings: FleetSettings, ctx: Context):
        self.settings = settings
        self.ctx = ctx
        self.name = ctx.bot_name
        self.op = ctx.operator
        self.roles = dict(settings.roles)
        self.timeout_s = settings.call_timeout_s
        self.nc: NATS | None = None
        self.kv: KeyValue | None = None
        self._watcher: KeyValue.KeyWatcher | None = None
        self.outbox: deque[Outgoing] = deque()
        self.kinds = frozenset(settings.events)
        self.counters: Counter[str] = Counter({"published": 0, "dropped": 0, "malformed": 0, "refused": 0,
                                               "relayed": 0, "repeated": 0, "expired": 0,
                                               "forgotten": 0})
        """published: events sent; dropped: events lost to a full outbox; malformed: bad command requests;
        refused: heartbeats and alerts from the bus not taken (unreadable, or naming a bot other than their
        subject's); relayed: other bots' alerts re-emitted here; repeated: copies of alerts relayed already (a
        batch another bot sent again after a reconnection), not relayed twice; expired: commands not run because
        they waited (on the way and for a turn here) longer than their sender waits for the answer; forgotten: other
        bots dropped from a full member table (``MAX_PEERS``), the one heard from longest ago first."""
        self._relayed_ids: OrderedDict[str, None] = OrderedDict()
        """The ``Nats-Msg-Id`` of the alerts relayed last (at most ``RELAYED_IDS_KEPT``)."""
        self.peers: dict[str, FleetMember] = {}
        self._clock_gaps: dict[str, deque[int]] = {}
        """Per other bot, its last ``CLOCK_SAMPLES`` live heartbeats' (received here - sent, by its clock), ns: the
        smallest is its clock's offset from this one's plus the shortest trip, what a request's trip is measured
        against."""
        self._status: dict[str, Any] | None = None
        """This bot's status as of its last heartbeat (reading PnL from the ledger is not free)."""
        self.seq = 0
        self.status_seq = 0
        self.ready = False
        """Connected, subscribed, the stream and bucket set up: events go out."""
        self._wake = asyncio.Event()
        self._epoch = time.time_ns()
        """This run's start: with an event's ``seq``, its id (a restarted bot numbers from 1 again)."""
        self._unsubscribe: list[Any] = []
        self._lanes = {False: _Lane(MAX_CONCURRENT_COMMANDS, MAX_PENDING_COMMANDS),
                       True: _Lane(MAX_CONCURRENT_URGENT, MAX_PENDING_URGENT)}
        """Fleet commands waiting for a turn or running, ordinary (False) and urgent (True), each lane bounded."""
        self._pending = 0
        """Fleet commands received and not answered yet, in both lanes."""
        self._answered = asyncio.Event()
        """Set while no command is being answered: stopping waits for it (their senders wait for the answer)."""
        self._answered.set()
        self._command_sub: Any = None
        self._outage_alerted = False
        self.flap = Flapping(monotonic=ctx.clock.monotonic, spawn=ctx.create_task, held=self._held,
                             what="NATS connection")
        """The flap rule of the NATS connection: a drop soon after its return is alerted once as flapping, the drops
        after it counted, and one note when it has held again (see :class:`bot.api.kit.Flapping`)."""
        self._drop_alerted = False
        self._servers = ""
        self._stopping = False
        self.instance = secrets.token_hex(6)
        """This process: tells this bot's own heartbeats from another process's that has the same name."""
        self.identity: dict[str, Any] = {"instance": self.instance, "host": socket.gethostname(), "pid": os.getpid(),
                                         "claimed_ns": self._epoch}
        """This process as the bus names it to another process under the same name: with ``claimed_ns`` (when it
        claimed the name) what decides which of the two keeps the name (:func:`wire.claim_order`)."""
        self.holds_name = False
        """Whether this process takes the fleet's commands for its name (subscribed to ``arbot.<bot>.cmd``): the
        first process to claim the name keeps it; another under the same name takes none until it is gone."""
        self.rivals: dict[str, tuple[dict[str, Any], int]] = {}
        """Other processes under this bot's name heard from (instance -> (identity, when last heard, ns))."""
        self._name_lock = asyncio.Lock()
        self._name_unsettled = False
        self._clash_alerted: set[str] = set()
        """The rivals' instances alerted already: each clash is alerted once, by each of the two processes."""
        self._yielded = False
        self._big_status_said = False
        self._full_said = False
        self._back: tuple[bool, int, int] | None = None
        self._listening_since_ns: int | None = None
        """When this bot last (re)connected and began hearing the fleet's heartbeats; None while not connected."""
        """Set when (re)connected: (after an outage, events waiting, dropped so far), said once the outbox is out."""

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the bot's events and start connecting in the background (never waits for NATS)."""
        options = connect_options(self.settings, f"arbot {self.name}")  # a LinkConfigError fails the service
        self._servers = shown(options["servers"])
        bus, owner = self.ctx.bus, self.ctx.name
        # on the publisher's path only a tuple is queued: the JSON is made by the send loop
        events: list[tuple[type, str, Callable[[Any], Any]]] = [
            (OrderUpdate, "order", to_data), (FillApplied, "fill", fill_data), (Opportunity, "opportunity", to_data),
            (ExecutionResult, "execution", to_data)]
        self._unsubscribe = [bus.subscribe(cls, partial(self.publish, kind, encode=encode), owner=owner)
                             for cls, kind, encode in events if kind in self.kinds]
        if self.kinds & {"alert", "risk"}:
            self._unsubscribe.append(self.ctx.subscribe_alerts(self._on_alert))
        self.ctx.create_task(self._connect(options), what="connecting to NATS")
        self.ctx.create_task(self._send_loop(), what="sending events to NATS")
        self.ctx.create_task(self._heartbeats(), what="fleet heartbeats")

    async def stop(self) -> None:
        self._stopping = True
        self.flap.close()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        nc = self.nc
        if nc is None:
            return
        await self._finish_commands(nc)
        if nc.is_connected and self.ready:
            try:  # what is still in the outbox goes out first, for 2 s at most
                async with asyncio.timeout(2):
                    while self.outbox:
                        item = self.outbox.popleft()
                        try:
                            subject, payload = self._encoded(item)
                        except Exception:
                            self.counters["unencodable"] += 1
                            continue
                        await nc.publish(subject, payload)
                        self.counters["published"] += 1
                    await flush_written(nc)
            except (nats.errors.Error, TimeoutError, OSError):
                pass
        await close_quietly(nc)

    async def _finish_commands(self, nc: NATS) -> None:
        """Before leaving NATS: take no new command (a sender is told at once that no bot of this name is on NATS)
        and answer those being run, for ``call_timeout_s`` at most (their senders wait that long). Without a
        connection no answer can leave: nothing to wait for."""
        if not nc.is_connected:
            return
        if self._command_sub is not None:
            try:
                await self._command_sub.unsubscribe()
                await flush_written(nc)
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                log.debug("fleet: leaving the command subject: %s", exc)
        if self._pending:
            try:
                async with asyncio.timeout(self.settings.call_timeout_s):
                    await self._answered.wait()
            except TimeoutError:
                log.warning("fleet: stopping with %d command(s) from the fleet still running: their senders get "
                            "no answer", self._pending)

    async def _connect(self, options: dict[str, Any]) -> None:
        nc = NATS()
        self.nc = nc
        log.info("fleet: bot %s connecting to NATS at %s", self.name, self._servers)

        async def on_error(exc: Exception) -> None:
            text = REDACTOR.redact(f"{type(exc).__name__}: {exc}")
            if not nc.is_connected:  # a reset can be reported here before the disconnection is
                self._outage(was_up=self.ready, error=text)
            else:
                log.debug("fleet: NATS error: %s", text)

        async def on_disconnected() -> None:
            was_up = self.ready
            self.ready = False
            self._listening_since_ns = None
            self._outage(was_up=was_up, error=None)

        async def on_reconnected() -> None:  # not inside nats-py's reconnect: JetStream requests follow
            self.ctx.create_task(self._on_connected(again=True), what="rejoining NATS")

        await nc.connect(**options, error_cb=on_error, disconnected_cb=on_disconnected,
                         reconnected_cb=on_reconnected)
        await nc.subscribe(wire.ALL_STATUS, cb=self._on_status)
        if self.settings.relay_alerts:
            await nc.subscribe(wire.ALL_ALERTS, cb=self._on_remote_alert)
        await self._settle_name(probe=True)  # the command subject, unless another process holds this name
        await self._on_connected(again=False)

    async def _on_connected(self, *, again: bool) -> None:
        """(Re)connected: the subscriptions known to the server, the stream and bucket (a new server may lack
        them), then the outbox goes out. The status the first heartbeat carries is read meanwhile (off the loop), so
        it is published as soon as the link is ready, as a status read then would be; a store that does not answer
        within :data:`CONNECT_STATUS_WAIT_S` delays the link no longer (that heartbeat reads it again)."""
        reading = asyncio.ensure_future(self._read_stored())
        try:
            if self.nc is not None:
                try:  # ready means subscribed: a command or a relayed alert sent once we say so reaches us
                    await flush_written(self.nc)
                except (nats.errors.Error, OSError, TimeoutError) as exc:
                    log.debug("fleet: subscriptions not confirmed: %s", exc)
            if self.settings.jetstream and self.nc is not None:
                await self._setup_jetstream(self.nc)
            self._back = (self._outage_alerted or again, len(self.outbox), self.counters["dropped"])
            self._outage_alerted = False
            if self._listening_since_ns is None:
                self._listening_since_ns = time.time_ns()
            done, _ = await asyncio.wait({reading}, timeout=CONNECT_STATUS_WAIT_S)
            self.ready = True
            self._wake.set()  # the send loop says it is back once the outbox is out (an alert now could push one out)
            await self._heartbeat(reading.result() if done else None)
        finally:  # a link stopped meanwhile: the read is no longer wanted
            reading.cancel()

    def _announce_back(self) -> None:
        after_outage, waiting, dropped = self._back or (False, 0, 0)
        self._back = None
        if after_outage:
            log.warning("fleet: NATS at %s reached; %d buffered event(s) sent, %d dropped since the start",
                        self._servers, waiting, dropped)
            if self.flap.back():
                self.ctx.alert(AlertLevel.INFO, "fleet", "NATS connection back: buffered events sent",
                               buffered=str(waiting), dropped=str(dropped))
        else:
            log.info("fleet: bot %s on NATS at %s", self.name, self._servers)
        self._drop_alerted = False

    def _outage(self, *, was_up: bool, error: str | None) -> None:
        """NATS is gone: said once per outage, whichever of nats-py's callbacks reports it first. A link that was
        ready lost its connection; one that was not could not reach the server."""
        if self._outage_alerted or self._stopping:
            return
        self._outage_alerted = True
        if self._lost(error or "disconnected") != LOST:
            return
        if was_up:
            log.warning("fleet: lost NATS at %s%s; trading goes on, events are buffered (at most %d)", self._servers,
                        f" ({error})" if error else "", self.settings.buffer_max)
            self.ctx.alert(AlertLevel.WARNING, "fleet", "lost the NATS connection: trading goes on, events are "
                           "buffered until it is back", servers=self._servers)
        else:
            log.warning("fleet: NATS at %s unreachable (%s); trading goes on, events are buffered (at most %d) and "
                        "NATS is tried every %g s", self._servers, error or "disconnected", self.settings.buffer_max,
                        self.settings.reconnect_wait_s)
            self.ctx.alert(AlertLevel.WARNING, "fleet", "NATS unreachable: trading goes on, events are buffered "
                           "until it is back", servers=self._servers, **({"error": error} if error else {}))

    def _lost(self, reason: str) -> Loss:
        """The connection is lost (or unreachable): the flap rule's word on it. A flap is alerted here, once; a drop
        while flapping is only logged; a plain loss is the caller's to alert ("lost")."""
        flap = self.flap
        loss = flap.lost()
        if loss == COUNTED:
            log.warning("fleet: NATS at %s lost again (%s): %d drops since the connection began flapping",
                        self._servers, reason, flap.losses)
        elif loss == FLAPPING:
            log.warning("fleet: NATS at %s lost again (%s) %.0f s after it came back: flapping", self._servers,
                        reason, flap.up_s)
            self.ctx.alert(AlertLevel.WARNING, "fleet", f"NATS connection flapping: lost again {flap.up_s:.0f} s "
                           "after it came back; trading goes on, events are buffered while it is down; its next "
                           f"drops are counted, not alerted, until it holds for {flap.window_s / 60:g} minutes",
                           servers=self._servers)
        return loss

    def _held(self, drops: int, seconds: float) -> None:
        """The flapping connection has held for the flap window: said once, with the drops counted."""
        log.warning("fleet: NATS at %s holds again after %d drops in %.0f s", self._servers, drops, seconds)
        self.ctx.alert(AlertLevel.INFO, "fleet", f"NATS connection holds again: held for {self.flap.window_s / 60:g} "
                       f"minutes after {drops} losses in {seconds:.0f} s", servers=self._servers,
                       drops=str(drops))

    async def _setup_jetstream(self, nc: NATS) -> None:
        """The events stream and the status bucket, created if absent, updated if their limits changed."""
        s = self.settings
        js = nc.jetstream()
        config = StreamConfig(name=wire.STREAM, storage=StorageType.FILE, max_age=s.stream_max_age_s,
                              max_bytes=s.stream_max_bytes,
                              subjects=[f"{wire.PREFIX}.*.evt.{kind}" for kind in wire.DURABLE_KINDS])
        try:
            try:
                await js.add_stream(config)
            except nats.js.errors.BadRequestError:  # exists with other limits (JetStream error 10058)
                await js.update_stream(config)
            try:
                self.kv = await js.key_value(wire.BUCKET)
            except nats.js.errors.BucketNotFoundError:
                self.kv = await js.create_key_value(bucket=wire.BUCKET, history=1, storage=StorageType.FILE)
            await self._watch_bucket()
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("fleet: JetStream unavailable (%s: %s); events are not kept durably",
                        type(exc).__name__, REDACTOR.redact(str(exc)))
            self.ctx.alert(AlertLevel.WARNING, "fleet", "JetStream unavailable: events are not kept durably "
                           "(start nats-server with -js)", error=type(exc).__name__)

    async def _watch_bucket(self) -> None:
        """Every bot's last status from the KV bucket, then its changes as they come: the fleet is known at once,
        before heartbeats, and a bot whose key is deleted or purged (``nats kv del arbot_fleet BOT``) is forgotten.
        A reconnection watches anew (the bucket may have changed meanwhile)."""
        assert self.kv is not None
        if self._watcher is not None:
            await stop_watching(self._watcher)
        watcher = self._watcher = await self.kv.watchall()
        while (entry := await watcher.updates(timeout=self.settings.call_timeout_s)) is not None:  # what is there
            self._bucket_entry(entry)
        self.ctx.create_task(self._follow_bucket(watcher), what="watching the fleet's KV bucket")

    async def _follow_bucket(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is not None:
                self._bucket_entry(entry)

    def _bucket_entry(self, entry: KeyValue.Entry) -> None:
        if entry.operation in (KV_DEL, KV_PURGE):
            # forgotten; a bot still running comes back with its next heartbeat
            self._clock_gaps.pop(entry.key, None)
            if self.peers.pop(entry.key, None) is not None:
                log.info("fleet: %s left the fleet's bucket (its key %s)", entry.key,
                         "deleted" if entry.operation == KV_DEL else "purged")
            return
        try:
            self._remember(entry.value or b"", received_ns=None)
        except ValueError as exc:
            log.debug("fleet: status of %s in the bucket unreadable: %s", entry.key, exc)

    # --- events out ------------------------------------------------------------------------

    def publish(self, kind: str, event: Any, *, encode: Callable[[Any], Any] | None = None) -> None:
        """Queue one event for ``arbot.<bot>.evt.<kind>``: JSON-ready data, or an event object and the function
        that makes its data (called when it is sent). Never blocks; a full outbox drops its oldest event."""
        self.seq += 1
        outbox = self.outbox
        first_drop = False
        while len(outbox) >= self.settings.buffer_max:
            outbox.popleft()
            self.counters["dropped"] += 1
            first_drop = first_drop or not self._drop_alerted
            self._drop_alerted = True
        outbox.append((kind, self.seq, time.time_ns(), event, encode))
        self._wake.set()
        if first_drop:  # after the append: the alert is itself an event published through here
            log.warning("fleet: NATS outbox full (%d events): dropping the oldest; the count is in the status",
                        self.settings.buffer_max)
            self.ctx.alert(AlertLevel.WARNING, "fleet", "fleet outbox full: the oldest events are dropped "
                           "while NATS is unreachable", buffer_max=str(self.settings.buffer_max))

    def _encoded(self, item: Outgoing) -> tuple[str, bytes]:
        """An event's subject and payload, every known secret in its text masked (an order's reason quoting a
        venue's request with its key): the fleet front and the other bots see what the web console shows."""
        kind, seq, ts_ns, event, encode = item
        data = encode(event) if encode is not None else event
        if isinstance(data, dict):
            data = REDACTOR.redact_event(data)
        return wire.event_subject(self.name, kind), wire.event(self.name, kind, seq, ts_ns, data)

    def _on_alert(self, alert: Alert) -> None:
        if FLEET_ORIGIN in alert.fields:  # another bot's alert relayed here: it was published by its own bot
            return
        if "alert" in self.kinds:
            self.publish("alert", alert, encode=alert_data)
        if alert.kind == "risk" and "risk" in self.kinds:
            self.publish("risk", alert, encode=alert_data)

    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            nc = self.nc
            sent: list[Outgoing] = []  # published, not yet confirmed by the server
            while self.outbox and self.ready and nc is not None and nc.is_connected:
                item = self.outbox.popleft()
                try:
                    subject, payload = self._encoded(item)
                except Exception:  # an event its encoder cannot take: left out, said, counted
                    self.counters["unencodable"] += 1
                    log.exception("fleet: a %s event could not be encoded; left out", item[0])
                    continue
                sent.append(item)
                try:
                    # the id lets JetStream drop a copy it already has when a batch is sent again
                    await nc.publish(subject, payload, headers={"Nats-Msg-Id": f"{self.name}.{self._epoch}.{item[1]}"})
                except (nats.errors.Error, OSError) as exc:
                    log.debug("fleet: publish deferred: %s", exc)
                    break
                if len(sent) >= CONFIRM_EVERY or not self.outbox:
                    if not await self._confirmed(nc, sent):
                        break
                    sent = []
            if sent and not (nc is not None and nc.is_connected and await self._confirmed(nc, sent)):
                self.outbox.extendleft(reversed(sent))  # lost meanwhile: back in front, in order, sent once reconnected
            if self._back is not None and not self.outbox and self.ready:
                self._announce_back()

    async def _confirmed(self, nc: NATS, sent: list[Outgoing]) -> bool:
        """Whether the server has read ``sent`` (a flush: its PONG comes after them); counted as published if so."""
        try:
            await flush_written(nc)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            log.debug("fleet: %d event(s) not confirmed: %s", len(sent), exc)
            return False
        self.counters["published"] += len(sent)
        return True

    # --- heartbeats and members -----------------------------------------------------------

    def stored(self, day_ns: int) -> Stored:
        """What the status reads of the store, the day starting at ``day_ns``: the ledger's figures (as ``/pnl``'s), the
        transfer costs (the bot's, no strategy's: out of the strategies' net) and the transfers on their way. The
        heartbeat runs it on the store writer's thread (``ctx.read_later``): a database that stops answering holds
        the heartbeat, never the loop."""
        op = self.op
        try:
            moving: list[Transfer] | None = op.transfers_in_flight()
        except Exception as exc:  # the store failing: the heartbeat still goes out, saying so
            log.debug("fleet: transfers on their way not read: %s", exc)
            moving = None
        return Stored(day_ns, op.pnl(since_ns=day_ns), op.ledger().transfer_costs(since_ns=day_ns), moving)

    def status(self, stored: Stored | None = None) -> dict[str, Any]:
        """This bot's status summary: what the heartbeat carries and ``members()`` shows for it, every known secret
        masked (a failed strategy's state quotes its exception, which may quote a venue's request). ``stored``: what
        it reads of the store, read before (:meth:`stored`); without it, read here, on the calling thread."""
        op = self.op
        now = op.now_ns()
        if stored is None:
            stored = self.stored(op.period_start_ns("day"))
        today, costs = stored.today, stored.costs
        total = totals(today.values())

        def money(values: dict[str, Any]) -> dict[str, str]:
            return {asset: str(v) for asset, v in sorted(values.items())}

        return REDACTOR.redact_data({
            "bot": self.name, **self.identity, "holds_name": self.holds_name, "name_clash": self.name_clash(),
            "mode": op.mode, "configured_mode": op.configured_mode,
            "started_ns": op.started_ns,
            "strategies": {name: {"type": op.strategy_type(name), "state": op.strategy_state(name)}
                           for name in op.strategy_names()},
            "open_orders": len(op.open_orders()), "unknown_orders": len(op.unknown_orders()),
            "store_error": op.store_error,
            "pnl_today": {"realized": money(total.realized), "net": money(total.net),
                          "transfer_costs": money(costs),
                          "net_after_transfer_costs": money(net_after_transfer_costs(total.net, costs)),
                          "unrealized": money(total.unrealized),
                          "strategies": {name: {"realized": money(fig.realized), "net": money(fig.net)}
                                         for name, fig in sorted(today.items())}},
            "feeds": [{"exchange": f.exchange, "symbol": f.symbol, "state": f.state,
                       "age_ms": None if f.data_ns is None else max(0, now - f.data_ns) // 1_000_000}
                      for f in op.feed_health()],
            "link": self.stats(),
            "fleet": self.view(),
            **self._transfers(stored.moving, now),
        })

    def _transfers(self, moving: list[Transfer] | None, now_ns: int) -> dict[str, Any]:
        """The transfers on their way for the status (``arbot fleet transfers``): the oldest ``MAX_TRANSFERS``, each
        with its amount exact and without padding zeros (``"4.02"``, not ``"4.020000"``), its age by this bot's clock
        (so another machine's clock does not matter), and how many there are;
        ``transfers`` None when the store cannot say."""
        if moving is None:
            return {"transfers": None}
        return {"transfers": [{"id": t.transfer_id, "asset": t.asset, "amount": exact(t.amount), "source": t.source,
                               "destination": t.destination, "status": t.status.value,
                               "created_ns": t.created_ns, "age_ms": max(0, now_ns - t.created_ns) // 1_000_000,
                               "expected_s": t.expected_s}
                              for t in moving[:MAX_TRANSFERS]],
                "transfers_total": len(moving)}

    def view(self) -> dict[str, Any]:
        """The fleet as this bot knows it, for ``arbot fleet`` to know it at once from one status: the other bots
        alive (name -> when last heard from, ns), and whether that is every one of them (``complete``: connected
        for ``alive_after_s`` at least, so every live bot's heartbeat was heard since)."""
        now = time.time_ns()
        window = int(self.settings.alive_after_s * 1e9)
        since = self._listening_since_ns
        return {"complete": since is not None and now - since >= window,
                "alive": {peer.name: peer.seen_ns for peer in self.peers.values() if now - peer.seen_ns <= window}}

    def stats(self) -> dict[str, Any]:
        """The link's counters: connected, published, buffered (in the outbox now), dropped, malformed, relayed."""
        return {"connected": self.ready and self.nc is not None and self.nc.is_connected, "buffered": len(self.outbox),
                **self.counters}

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            await self._heartbeat()
            if self.ready:
                await self._check_rivals()

    async def _read_stored(self) -> Stored | None:
        """:meth:`stored` for today, read on the store writer's thread (None when it raised: logged)."""
        try:
            return await self.ctx.read_later(self.stored, self.op.period_start_ns("day"))
        except Exception:
            log.exception("fleet: this bot's status could not be read; heartbeat skipped")
            return None

    async def _heartbeat(self, stored: Stored | None = None) -> None:
        """Refresh this bot's status; publish it (not buffered: a status is only worth its latest), and put it in
        the bucket with JetStream. A status that cannot be read now (the store failing) skips one beat. The store is
        read on the store writer's thread (:meth:`stored`): a database that does not answer holds this beat (the next
        waits for it), never the loop. ``stored``: read already (:meth:`_on_connected`)."""
        if stored is None:
            stored = await self._read_stored()
            if stored is None:
                return
        try:
            self._status = self.status(stored)
        except Exception:
            log.exception("fleet: this bot's status could not be read; heartbeat skipped")
            return
        nc = self.nc
        if nc is None or not nc.is_connected or "status" not in self.kinds:
            return
        self.status_seq += 1
        payload = wire.event(self.name, "status", self.status_seq, time.time_ns(), self._status)
        if len(payload) > self.settings.max_event_bytes and not self._big_status_said:
            self._big_status_said = True  # other bots with the same limit refuse it: they would not see this one
            log.warning("fleet: this bot's status is %d bytes, more than max_event_bytes (%d): other bots refuse "
                        "it; raise max_event_bytes on every bot", len(payload), self.settings.max_event_bytes)
        try:
            await nc.publish(wire.event_subject(self.name, "status"), payload)
            if self.kv is not None:
                await self.kv.put(self.name, payload)
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            log.debug("fleet: heartbeat not sent: %s", exc)

    def _oversized(self, msg: Msg, what: str) -> bool:
        """A heartbeat or alert bigger than ``max_event_bytes``: refused before it is read (reading one of most of
        NATS's 1 MiB payload takes tens of ms of this bot's loop, its trading loop)."""
        if len(msg.data) <= self.settings.max_event_bytes:
            return False
        self._refuse(msg.subject, what, ValueError(f"{len(msg.data)} bytes; at most {self.settings.max_event_bytes}"))
        return True

    async def _on_status(self, msg: Msg) -> None:
        if self._oversized(msg, "status"):
            return
        try:
            self._remember(msg.data, received_ns=time.time_ns(), subject=msg.subject)
        except ValueError as exc:
            self._refuse(msg.subject, "status", exc)
        if self._name_unsettled:
            await self._settle_name()

    def _refuse(self, subject: str, what: str, exc: ValueError) -> None:
        """A heartbeat or an alert from the bus not taken: counted (``link.refused``); logged at debug only, so
        a stranger flooding the bus cannot flood the log."""
        self.counters["refused"] += 1
        # masked, then cut: the log filter sees only what is left of a secret straddling the cut, no longer it whole
        log.debug("fleet: %s on %s refused: %s", what, REDACTOR.cut(subject, 200), exc)

    def _remember(self, raw: bytes, *, received_ns: int | None, subject: str | None = None) -> None:
        obj = wire.load_object(raw, "a status")
        bot, data, ts = obj.get("bot"), obj.get("data"), obj.get("ts")
        if not isinstance(bot, str) or not wire.BOT_NAME.fullmatch(bot) or not isinstance(data, dict):
            raise ValueError('a status has a bot name "bot" and an object "data"')
        if subject is not None and wire.bot_of(subject) != bot:
            raise ValueError(f"status of {bot} on the subject of {wire.bot_of(subject)}")
        if bot == self.name:
            if received_ns is not None and data.get("instance") != self.instance:  # live, and not our own
                identity = wire.identity_of(data)
                if identity is None:  # a bot of a version before claims: it was there first
                    identity = {**wire.UNKNOWN_HOLDER, "instance": REDACTOR.cut(str(data.get("instance")), 64)}
                self._rival_heard(identity)
            return
        if received_ns is None:  # from the bucket: as old as the bot's own clock says, never in the future
            received_ns = min(ts, time.time_ns()) if isinstance(ts, int) else 0
            known = self.peers.get(bot)
            if known is not None and known.seen_ns >= received_ns:
                return
        if bot not in self.peers and len(self.peers) >= MAX_PEERS:
            oldest = min(self.peers.values(), key=lambda m: m.seen_ns)
            self.counters["forgotten"] += 1
            if not self._full_said:  # once: a stranger flooding the bus cannot flood the log
                self._full_said = True
                log.warning("fleet: more than %d other bots heard from; the one heard from longest ago is forgotten "
                            "(counted in link.forgotten)", MAX_PEERS)
            if oldest.seen_ns > received_ns:  # an old status from the bucket: the one to leave out
                return
            del self.peers[oldest.name]
            self._clock_gaps.pop(oldest.name, None)
        self.peers[bot] = FleetMember(bot, received_ns, True, data)
        if subject is not None and isinstance(ts, int) and not isinstance(ts, bool):  # live: a clock sample
            self._clock_gaps.setdefault(bot, deque(maxlen=CLOCK_SAMPLES)).append(received_ns - ts)

    # --- one process per name --------------------------------------------------------------

    @property
    def claim(self) -> tuple[int, str]:
        """This process's claim on its name: the earliest of all the processes under one name keeps it."""
        return wire.claim_order(self.identity)

    def _should_hold(self) -> bool:
        return all(self.claim < wire.claim_order(identity) for identity, _ in self.rivals.values())

    def _rival_heard(self, identity: dict[str, Any]) -> None:
        """Another process under this bot's name was heard from (its heartbeat, its probe, its answer to ours)."""
        if identity["instance"] == self.instance:
            return
        self.rivals[identity["instance"]] = (identity, time.time_ns())
        self._name_unsettled = True

    async def _probe(self, nc: NATS) -> dict[str, Any] | None:
        """Who holds this bot's name on NATS now (it answers on the command subject), or None: nobody."""
        try:
            msg = await nc.request(wire.command_subject(self.name), wire.claim(self.identity),
                                   timeout=self.settings.call_timeout_s)
        except nats.errors.NoRespondersError:
            return None
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            # no answer (a holder hung, or this user may not publish on its own command subject): a bot that took
            # no command at all could not be stopped from the fleet; the heartbeats still tell a clash
            log.warning("fleet: could not tell whether another process holds the name %s (%s: %s): taking it; "
                        "its NATS user needs to publish on %s", self.name, type(exc).__name__, exc,
                        wire.command_subject(self.name))
            return None
        return wire.parse_holder(msg.data)

    async def _settle_name(self, *, probe: bool = False) -> None:
        """Take or give up the command subject as the claims known now say; alert each clash once. ``probe``: ask
        NATS first whether another process holds the name (before taking it for the first time, or again)."""
        async with self._name_lock:
            self._name_unsettled = False
            nc = self.nc
            if nc is None or not nc.is_connected or self._stopping:
                return
            if probe and not self.holds_name:
                holder = await self._probe(nc)
                if holder is not None:
                    self._rival_heard(holder)
            hold = self._should_hold()
            subject = wire.command_subject(self.name)
            try:
                if hold and not self.holds_name:
                    self._command_sub = await nc.subscribe(subject, cb=self._on_request)
                    self.holds_name = True
                    await flush_written(nc)
                elif not hold and self.holds_name:
                    self.holds_name = False
                    sub, self._command_sub = self._command_sub, None
                    if sub is not None:
                        await sub.unsubscribe()
                    self._clash_alerted.clear()  # said again, now as the one that gave the name up
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                log.debug("fleet: the command subject not (un)subscribed yet: %s", exc)
            if not hold:
                self._yielded = True
            elif self._yielded and not self.rivals:
                self._yielded = False
                log.warning("fleet: this process (%s) now answers the fleet's commands for %s",
                            self._who(self.identity), self.name)
                self.ctx.alert(AlertLevel.WARNING, "fleet", f"the clash over the name {self.name} is over: this "
                               f"process ({self._who(self.identity)}) answers the fleet's commands for {self.name} now",
                               **self._fields("this", self.identity))
            for instance, (identity, _) in list(self.rivals.items()):
                if instance not in self._clash_alerted:
                    self._clash_alerted.add(instance)
                    self._name_clash(identity)

    async def _check_rivals(self) -> None:
        """Forget the other processes under this name not heard from within ``alive_after_s``; a process that gave
        the name up takes it once none is left (asking NATS first: a holder that sends no heartbeat still answers)."""
        now = time.time_ns()
        window = int(self.settings.alive_after_s * 1e9)
        for instance, (identity, seen_ns) in list(self.rivals.items()):
            if now - seen_ns > window:
                del self.rivals[instance]
                log.warning("fleet: the other process named %s (%s) not heard from for %g s: it is gone",
                            self.name, self._who(identity), self.settings.alive_after_s)
        if self._name_unsettled or (not self.holds_name and not self.rivals):
            await self._settle_name(probe=not self.rivals)
        if not self.rivals:  # the clash is over (a holder that sends no heartbeat was found again by the probe)
            self._clash_alerted.clear()

    @staticmethod
    def _who(identity: dict[str, Any]) -> str:
        return f"host {identity['host']}, pid {identity['pid']}, instance {identity['instance']}"

    @staticmethod
    def _fields(prefix: str, identity: dict[str, Any]) -> dict[str, str]:
        return {f"{prefix}_{key}": str(value) for key, value in identity.items()}

    def _name_clash(self, other: dict[str, Any]) -> None:
        """Another process runs under this bot's name. Said loudly, once per clash, by each of the two: the one
        that holds the name answers the fleet's commands; the other takes none, and its trading cannot be stopped
        from the fleet."""
        me, them = self._who(self.identity), self._who(other)
        fields = {**self._fields("this", self.identity), **self._fields("other", other)}
        if self.holds_name:
            log.error("fleet: another bot named %s is on NATS (%s): it takes no fleet commands while this process "
                      "(%s) holds the name; give each bot its own [bot] name", self.name, them, me)
            self.ctx.alert(AlertLevel.ERROR, "fleet", f"another bot named {self.name} is on NATS ({them}): it takes "
                           f"no fleet commands while this process ({me}) holds the name; give each bot its own "
                           "[bot] name", **fields)
        else:
            log.critical("fleet: another bot named %s is on NATS and holds the name (%s): this process (%s) takes no "
                         "fleet commands until it is gone, so a /kill or /pause of %s from the fleet does not stop "
                         "it; stop one of them, and give each bot its own [bot] name", self.name, them, me, self.name)
            self.ctx.alert(AlertLevel.CRITICAL, "fleet", f"another bot named {self.name} is on NATS and holds the "
                           f"name ({them}): this process ({me}) takes no fleet commands until it is gone, so a /kill "
                           f"or /pause of {self.name} from the fleet does not stop it; stop one of them, and give "
                           "each bot its own [bot] name", **fields)

    def name_clash(self) -> list[dict[str, Any]]:
        """The other processes under this bot's name heard from within ``alive_after_s``, each with whether it holds
        the name: what the status, ``/status`` and ``arbot fleet`` show."""
        identities = [identity for identity, _ in self.rivals.values()]
        first = min([self.identity, *identities], key=wire.claim_order)
        return [{**identity, "holds_name": identity is first}
                for identity in sorted(identities, key=wire.claim_order)]

    def clash_text(self) -> str:
        """The clash in one line for ``/status`` ("" when there is none)."""
        clash = self.name_clash()
        if not clash:
            return ""
        others = "; ".join(self._who(c) + (" (holds the name)" if c["holds_name"] else "") for c in clash)
        if self.holds_name:
            return f"{len(clash) + 1} processes named {self.name} on NATS; this one holds the name; other: {others}"
        return (f"{len(clash) + 1} processes named {self.name} on NATS; this one takes NO fleet commands; "
                f"other: {others}")

    def members(self) -> list[FleetMember]:
        """Every bot heard from and this one, whose status is as of its last heartbeat (read off the loop); empty
        before one has read it (not known yet): this runs on the loop and never reads the store."""
        now = time.time_ns()
        window = int(self.settings.alive_after_s * 1e9)
        mine = {} if self._status is None else {**self._status, "link": self.stats()}
        out = [FleetMember(self.name, now, True, mine)]
        for peer in self.peers.values():
            out.append(FleetMember(peer.name, peer.seen_ns, now - peer.seen_ns <= window, peer.status))
        return sorted(out, key=lambda m: m.name)

    # --- commands --------------------------------------------------------------------------

    async def call(self, bot: str, caller: Caller, name: str, args: list[str], *, confirmed: bool) -> Reply:
        if bot == self.name:  # this bot: run here, as a call forwarded by itself
            return await self.ctx.commands.dispatch(caller, name, args, via=self.name, confirmed=confirmed)
        if not wire.BOT_NAME.fullmatch(bot):
            return Reply(f"{REDACTOR.cut(bot, 64)}: not a bot name", ok=False)  # masked before it is cut
        nc = self.nc
        if nc is None or not nc.is_connected:
            return self.no_answer(bot, f"not reachable: this bot ({self.name}) is not connected to NATS now")
        data = wire.request(caller, self.name, name, args, confirmed, self.settings.call_timeout_s, time.time_ns())
        return await send_request(nc, bot, data, self.settings.call_timeout_s)

    async def _on_request(self, msg: Msg) -> None:
        # each request in its own task: a slow command does not hold the others up; a flood is refused
        if not msg.reply:
            self.counters["malformed"] += 1
            log.warning("fleet: a command without a reply subject ignored (use a NATS request)")
            return
        claimant = wire.parse_claim(msg.data)
        if claimant is not None:  # another process under this name asks who holds it: this one, while it answers
            if claimant["instance"] != self.instance:
                await self._respond(msg, wire.holder(self.identity))
                self._rival_heard(claimant)
                # in a task: giving the name up unsubscribes from this subject, which would cancel this callback
                self.ctx.create_task(self._settle_name(), what="settling who holds the bot's name")
            return
        try:
            request = wire.parse_request(msg.data, self.settings.max_request_bytes)
        except ValueError as exc:
            self.counters["malformed"] += 1
            log.warning("fleet: malformed command refused: %s", exc)
            await self._respond(msg, wire.error(f"malformed request: {exc}"))
            return
        c = request.caller
        role = self.roles.get(f"{c.transport}:{c.user_id}")
        caller = Caller(c.transport, c.user_id, role, c.chat_id)  # type: ignore[arg-type]  # checked in settings
        lane = self._lanes[role is not None and self.ctx.commands.urgent(request.name)]
        if lane.pending >= lane.max_pending:
            self.counters["refused_busy"] += 1
            self._audit_refusal(caller, request.via, request.name, request.args,
                                f"refused: busy: {lane.pending} commands waiting")
            await self._respond(msg, wire.error(f"{self.name} is busy: {lane.pending} commands waiting"))
            return
        lane.pending += 1
        self._pending += 1
        self._answered.clear()
        received = asyncio.get_running_loop().time() - self._transit_s(request)
        self.ctx.create_task(self._answer(msg, request, caller, lane, received),
                             what=f"answering a command on {msg.subject}")

    def _transit_s(self, request: wire.Request) -> float:
        """How much longer than the shortest trip ``request`` was on its way here: its ``sent_ns`` against this
        bot's clock, less the offset its sender's heartbeats show (the smallest received - sent of its last ones,
        so clocks apart by any amount compare). 0 when it cannot be told: no ``sent_ns``, or a sender with no
        heartbeat heard (``arbot fleet``). Held on the way (a network stall TCP recovers from, a reconnection
        sending what waited), a request may come after its sender told its user "no answer"."""
        gaps = self._clock_gaps.get(request.via)
        if request.sent_ns is None or not gaps:
            return 0.0
        return max(0, time.time_ns() - request.sent_ns - min(gaps)) / 1e9

    async def _answer(self, msg: Msg, request: wire.Request, caller: Caller, lane: _Lane, received: float) -> None:
        try:
            async with lane.turns:
                await self._answer_one(msg, request, caller, received)
        finally:
            lane.pending -= 1
            self._pending -= 1
            if not self._pending:
                self._answered.set()

    async def _answer_one(self, msg: Msg, request: wire.Request, caller: Caller, received: float) -> None:
        # the sender said how long it waits: past that it has told its user "no answer", so running the command
        # now would act behind their back (and again if they send it once more); only a command that just stops
        # trading (Command.halts: the kill switch, /pause) is still wanted late, and twice is once. ``received``
        # is when it would have come without a delay on the way (:meth:`_transit_s`)
        late_s = asyncio.get_running_loop().time() - received
        patience_s = request.timeout_s if request.timeout_s is not None else self.settings.call_timeout_s
        if late_s >= patience_s and not self.ctx.commands.halts(request.name):
            self.counters["expired"] += 1
            log.warning("fleet: /%s from %s@%s not run: %.1f s late here (on the way and waiting for a turn), and "
                        "its sender waits %g s", request.name, caller.transport, request.via, late_s, patience_s)
            self._audit_refusal(caller, request.via, request.name, request.args,
                                f"refused: waited {late_s:.1f} s on the way and for a turn, longer than its sender "
                                f"waits ({patience_s:g} s)")
            await self._respond(msg, wire.error(f"/{request.name} not run on {self.name}: it waited {late_s:.1f} s "
                                                "on the way and for a turn, longer than its sender waits"))
            return
        try:
            answer = await self.ctx.commands.dispatch(caller, request.name, request.args, via=request.via,
                                                      confirmed=request.confirmed)
        except Exception as exc:  # the command table answers for its commands; this is the host failing
            log.exception("fleet: /%s from %s@%s failed", request.name, caller.transport, request.via)
            await self._respond(msg, wire.error(f"/{request.name} failed on {self.name}: {type(exc).__name__}"))
            return
        summary = answer.data.get("summary")
        if self.rivals and isinstance(summary, dict):  # /status all's table shows the clash in this bot's row
            answer = dataclasses.replace(answer, data={**answer.data, "summary": {
                **summary, "name clash": f"{len(self.rivals) + 1} processes"}})
        max_bytes = self.nc.max_payload if self.nc is not None else 1 << 20
        await self._respond(msg, wire.reply(answer, self.name, max_bytes - 1024))

    def _audit_refusal(self, caller: Caller, via: str, name: str, args: list[str], outcome: str) -> None:
        """A command this link refused before the command table saw it (too late, or busy), in this bot's audit log
        as the command table writes a refusal (the caller as ``<transport>@<forwarding bot>``, its role here). A
        store failing is logged: the answer still goes out."""
        entry = AuditEntry(ts_ns=time.time_ns(), transport=f"{caller.transport}@{via}", user_id=caller.user_id,
                           command=name.lstrip("/").lower(), args=" ".join(args), role=caller.role or "",
                           chat_id=caller.chat_id, outcome=outcome)
        try:
            self.op.record_audit([entry])
        except Exception:
            log.exception("fleet: the refusal of /%s could not be audited", entry.command)

    async def _respond(self, msg: Msg, data: bytes) -> None:
        try:
            await msg.respond(data)
        except (nats.errors.Error, OSError) as exc:
            log.warning("fleet: could not answer a command: %s", exc)

    # --- other bots' alerts ------------------------------------------------------------------

    async def _on_remote_alert(self, msg: Msg) -> None:
        bot = wire.bot_of(msg.subject)
        if bot == self.name or self._oversized(msg, "alert"):
            return
        try:
            obj = wire.load_object(msg.data, "an alert")
            if obj.get("bot") != bot or not wire.BOT_NAME.fullmatch(bot):  # whose alert is it, then?
                raise ValueError(f"alert of {REDACTOR.cut(str(obj.get('bot')), 64)!r} "
                                 f"on the subject of {REDACTOR.cut(bot, 64)!r}")
            data = obj.get("data")
            if not isinstance(data, dict):
                raise ValueError('no "data" object')
            level = AlertLevel[str(data.get("level", "warning")).upper()]
            fields = data.get("fields")
            if not isinstance(fields, dict):
                fields = {}
        except (ValueError, KeyError) as exc:
            self._refuse(msg.subject, "alert", ValueError(str(exc)))
            return
        if self._relayed_before(msg):
            return
        # masked, then cut: the alert is masked when emitted, but by then a secret straddling a cut is no longer
        # whole (the other bot masked what it sent, but with its own secrets, not this bot's)
        cut = REDACTOR.cut
        extra = {cut(str(k), 64): cut(str(v), wire.MAX_TEXT) for k, v in list(fields.items())[:32]
                 if k not in ("level", "kind", "message", "source")}
        extra[FLEET_ORIGIN] = bot
        self.counters["relayed"] += 1
        self.op.alert(level, cut(str(data.get("kind", "fleet")), 64),
                      f"[{bot}] {cut(str(data.get('message', '')), 2000)}",
                      source=f"{bot}/{cut(str(data.get('source', '')), 64)}", **extra)

    def _relayed_before(self, msg: Msg) -> bool:
        """Whether this alert was relayed already: its id (``<bot>.<start ns>.<seq>``, the one JetStream drops
        copies by) seen among the last ones relayed. A copy is counted in ``repeated``."""
        msg_id = (msg.headers or {}).get("Nats-Msg-Id")
        if not msg_id:
            return False
        if msg_id in self._relayed_ids:
            self.counters["repeated"] += 1
            log.debug("fleet: alert %s relayed already; its copy is not", REDACTOR.cut(msg_id, 200))
            return True
        self._relayed_ids[msg_id] = None
        if len(self._relayed_ids) > RELAYED_IDS_KEPT:
            self._relayed_ids.popitem(last=False)
        return False


class _Lane:
    """Fleet commands of one kind (ordinary or urgent): at most ``turns`` run at once, at most ``max_pending``
    received and not answered."""

    def __init__(self, turns: int, max_pending: int):
        self.turns = asyncio.Semaphore(turns)
        self.max_pending = max_pending
        self.pending = 0


async def flush_written(nc: NATS, timeout_s: int = CONFIRM_TIMEOUT_S) -> None:
    """Return once the server has read everything handed to ``nc`` before the call (subscriptions, events).

    nats-py's ``flush()`` writes its PING straight to the socket, ahead of the commands still waiting in the
    client's buffer for its flusher task (``Client._send_ping``, nats-py 2.16), so that PONG alone proves nothing
    about them: a subscription could reach the server after a message another client publishes once our flush
    returned, and a batch of events could be counted published before it left this process. The first flush
    lets the flusher hand the buffer to the socket while its PING travels; once the buffer is empty, a second
    PING follows all of it, and the server answers it only after reading everything before it. Raises what
    ``flush()`` raises (nats.errors.Error, TimeoutError) when the connection cannot confirm.
    """
    await nc.flush(timeout=timeout_s)
    for _ in range(MAX_FLUSH_ROUNDS):  # the flusher still writing a large buffer to a slow socket
        if not nc.pending_data_size:
            break
        await nc.flush(timeout=timeout_s)
    await nc.flush(timeout=timeout_s)


async def close_quietly(nc: NATS, timeout_s: float = 5.0) -> None:
    """Close a NATS connection without letting its errors out: nats-py's close can raise CancelledError from
    inside (a transport it closed itself while reconnecting), which would read as our own task cancelled."""
    closing = asyncio.ensure_future(nc.close())
    done, _ = await asyncio.wait({closing}, timeout=timeout_s)
    if not done:
        closing.cancel()
    elif not closing.cancelled() and closing.exception() is not None:
        log.debug("fleet: closing the NATS connection: %s", closing.exception())


async def stop_watching(watcher: KeyValue.KeyWatcher) -> None:
    """Stop a KV watch whose connection may be gone already (a reconnection, a stop)."""
    try:
        await watcher.stop()
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        log.debug("fleet: stopping the bucket watch: %s", exc)


async def send_request(nc: NATS, bot: str, data: bytes, timeout_s: float) -> Reply:
    """One command to ``bot`` over NATS; every failure is an ``ok=False`` :class:`Reply` saying what happened."""
    try:
        msg = await nc.request(wire.command_subject(bot), data, timeout=timeout_s)
    except nats.errors.NoRespondersError:
        return FleetLink.no_answer(bot, "no bot of that name is on NATS now")
    except (nats.errors.TimeoutError, TimeoutError):
        return FleetLink.no_answer(bot, f"no answer within {timeout_s:g} s")
    except (nats.errors.Error, OSError) as exc:
        return FleetLink.no_answer(bot, f"not sent: {type(exc).__name__}: {REDACTOR.cut(str(exc), 200)}")
    return wire.parse_reply(msg.data, bot)


__all__ = ["NatsFleet", "close_quietly", "flush_written", "send_request", "servers_of"]
