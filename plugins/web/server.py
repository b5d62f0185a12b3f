"""The console's HTTP server: aiohttp in the bot's own loop, auth, limits, audit, the static UI.

Every ``/api/v1/`` call goes through :meth:`WebServer._call`: authenticate (bearer token or the
session cookie, with the CSRF header for cookie-authenticated changes), rate-limit per user, check
the role, validate parameters and body, run the endpoint, audit it (transport ``web``, like a chat
command). A refusal is audited too, with who was refused: a request without a valid token (its address), a call over a
user's rate (its user), and a client refused by a limit (its address: a connection closed over ``max_connections`` or
``max_connections_per_address``, a 429 over the per-client cap behind a proxy or over the public rate), each folded
per address and minute (:class:`~plugins.web.auth.StrangerAudit`), and quoting no secret (:func:`audited_query`).
Audit lines are written by a background task in batches, in order, on a thread of their own (:class:`AuditThread`;
at most :data:`AUDIT_BACKLOG` wait, the rest are counted), and the endpoints' store reads on the store's read threads:
the loop that trades never waits for the database because of the console, nor does anything else of the process
that uses the loop's default executor. A read the store refuses (its database not answering) or a store closed (the
bot stopping) is a 503 with ``Retry-After``, no traceback, and one WARNING line for the first of a kind, then one a
minute with how many more (:attr:`WebServer.unavailable`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import logging
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import unquote, unquote_plus

from aiohttp import web

from bot.api import AuditEntry, Caller
from bot.api.kit import REDACTOR, ClientAddresses, Folding, TooDeep, escape_controls, loads_limited
from bot.api.ledger import counted
from bot.api.storage import ReadRefused, StoreClosed

from .api import Endpoints
from .auth import (
    OTHERS,
    Confirmations,
    FailureWindow,
    RateLimit,
    Refused,
    Sessions,
    StrangerAudit,
    User,
    Users,
    token_hash,
)
from .events import EventHub
from .routes import COOKIE, CSRF_HEADER, MAX_INT, ApiError, Param, Route, openapi
from .settings import WebSettings

if TYPE_CHECKING:
    from bot.api import Context

log = logging.getLogger("arbot.web")

STATIC = Path(__file__).parent / "static"
LINGER_S = 2.0
"""Longest a request body left unread is drained after the answer, before the connection closes."""
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "Cache-Control": "no-store",
    "Server": "arbot",
}
AUDIT_BACKLOG = 10_000
"""Audit lines kept in memory while the database does not take them; one more is counted, not kept (the count is
logged once, and written as a line of its own once the database answers)."""
AUDIT_STOP_S = 2.0
"""How long the stop waits for the audit lines still to be written (a database not answering: the count is logged)."""
AUDIT_THREAD = "arbot-web-audit"
NOT_ANSWERING_RETRY_S = 5
"""The Retry-After of a read the store refused (its database not answering): about how long a read waits for one
of the store's read threads before it is refused."""
STOPPING_RETRY_S = 10
"""``Retry-After`` of a 503 while the bot stops (its store closed)."""
WARNING_FOLD_S = 60.0
"""A WARNING repeated by requests (a 503 while the database does not answer) is logged the first time, then once per
this many seconds with how many more came (:attr:`WebServer.unavailable`)."""
LIMITS = ("max_connections", "max_connections_per_address", "public_requests_per_s")
"""The limits whose refusals of a client are audited folded per address (:meth:`WebServer.refused_client`)."""


@dataclass
class Call:
    """One authenticated API call as an endpoint sees it."""

    request: web.Request
    user: User
    query: dict[str, Any]
    body: dict[str, Any]
    csv: bool
    session: str | None = None
    """The session id when the call came with the session cookie (None: a bearer token)."""
    key: bytes = b""
    """The hash of the token it came with (a session's: the one it was opened with)."""

    @property
    def caller(self) -> Caller:
        return Caller("web", self.user.name, self.user.role)


class AuditThread:
    """Writes batches of audit lines on a daemon thread of its own, one at a time, in the order handed over: a
    database that does not answer holds this thread alone, never one of the loop's default executor (which
    ``asyncio.to_thread`` and DNS look-ups share), and never the process's exit."""

    def __init__(self, write: Callable[[list[AuditEntry]], None]):
        self._write = write
        self._queue: queue.SimpleQueue[tuple[list[AuditEntry], asyncio.Future[None]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def write(self, batch: list[AuditEntry]) -> asyncio.Future[None]:
        """A future of the loop, done once ``batch`` is written (or with the error writing it raised)."""
        done = asyncio.get_running_loop().create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=AUDIT_THREAD, daemon=True)
            self._thread.start()
        self._queue.put((batch, done))
        return done

    def close(self) -> None:
        """The thread ends once what was handed over is written (at once when it never started); a batch handed over
        later starts another."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread = None

    def _work(self) -> None:
        while (handed := self._queue.get()) is not None:
            batch, done = handed
            try:
                self._write(batch)
            except Exception as exc:
                _settle(done, exc)
            else:
                _settle(done, None)


def _settle(done: asyncio.Future[None], error: Exception | None) -> None:
    def settle() -> None:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

    try:
        done.get_loop().call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody waits any more
        pass


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers={**SECURITY_HEADERS, **(headers or {})})


def whole_number(text: str) -> int | None:
    """``text`` as a whole number from 0 to :data:`MAX_INT` in ASCII digits, else None (``str.isdigit`` also takes
    "²", which ``int`` refuses, and ``int`` refuses more than 4,300 digits: a 500 either way)."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_INT)):
        return None
    value = int(text)
    return value if value <= MAX_INT else None


LOOKS_LIKE = {
    "integer": re.compile(r"[+-]?[0-9]{1,40}"),
    "time": re.compile(r"[0-9][0-9TZ:.+ -]{0,39}"),
    "enum": re.compile(r"[A-Za-z_]{1,24}"),
    "csv-enum": re.compile(r"[A-Za-z_,]{1,60}"),
}
"""What a value of each kind of query parameter looks like, right or wrong: only such a value is quoted back (in a
400, in its audit line). A token pasted in the wrong parameter looks like none of them."""


def looks_like(kind: str, text: str) -> bool:
    """Whether ``text`` looks like a value of a query parameter of ``kind`` (a ``string`` one: always)."""
    pattern = LOOKS_LIKE.get(kind)
    return pattern is None or pattern.fullmatch(text) is not None


def shown(kind: str, text: str) -> str:
    """A bad value as a 400 quotes it: itself when it looks like a value of ``kind``, else its length alone (it may
    be a secret pasted in the wrong place)."""
    if looks_like(kind, text):
        return repr(text)
    return f"a value of {len(text)} characters (not quoted: it does not look like a {kind} value)"


def parse_time(name: str, text: str) -> int:
    """ns since the epoch, from an integer or ISO 8601 (a date alone: 00:00 UTC; no offset: UTC)."""
    out_of_range = ApiError(400, f"{name}: expected a time from 1970 to 2262 (ns since the epoch up to {MAX_INT}), "
                                 f"got {shown('time', text)}")
    if text.isascii() and text.isdigit():
        ns = whole_number(text)
        if ns is None:
            raise out_of_range
        return ns
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ApiError(400, f"{name}: expected ns since the epoch or an ISO 8601 time like 2026-01-31 or "
                            f"2026-01-31T12:00:00Z, got {shown('time', text)}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    ns = int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000
    if not 0 <= ns <= MAX_INT:
        raise out_of_range
    return ns


class WebServer:
    """The ``web`` service's server: ``port`` once started, ``connections()`` for tests and benchmarks."""

    def __init__(self, settings: WebSettings, ctx: Context):
        self.settings = settings
        self.ctx = ctx
        self.operator = ctx.operator
        self.users = Users(settings)
        self.sessions = Sessions(settings.session_ttl_s)
        self.limits = RateLimit(settings.requests_per_s, settings.request_burst)
        self.clients = ClientAddresses(settings.trusted_proxies)
        """Who a request comes from, for every per-address limit below (:meth:`client_of`)."""
        self.public = RateLimit(settings.public_requests_per_s, settings.public_request_burst)
        """Requests to what needs no token (files, the OpenAPI document, the login) per address."""
        self.failures = FailureWindow(settings.auth_failures_per_min)
        """Wrong tokens per address (bearer or login): over the limit, no token from it is looked at."""
        self.strangers = FailureWindow(settings.auth_failures_per_min)
        """Requests without a valid token (none, or an ended session) per address: over the limit they get 429.
        Counted apart from wrong tokens, so they never keep a user from logging in."""
        self.stranger_audit = StrangerAudit()
        self.throttled_audit = StrangerAudit(capped=False)
        """A user's calls refused by the per-user rate limit, folded per user as a stranger's are per address: a
        runaway script's 429s cost a line a minute, not a database row each (users are configured: no cap)."""
        self.limit_audit = {limit: StrangerAudit() for limit in LIMITS}
        """Clients refused by each of :data:`LIMITS` (a connection closed, a 429), folded per address the same way."""
        self.unavailable: Folding[str] = Folding(lambda: WARNING_FOLD_S, renew=True)
        """The WARNING of each kind of 503 (the database not answering, the bot stopping: 50 polling browsers, ~25 a
        second), folded per kind: the first logged as it happens, then one line per :data:`WARNING_FOLD_S` with how
        many more came, for as long as they come; a window with none more ends silently, and the next is a first
        again."""
        self.confirmations = Confirmations(settings.confirm_ttl_s)
        self.events = EventHub(ctx, settings.events_buffer)
        self.endpoints = Endpoints(self)
        self.routes: list[Route] = self.endpoints.routes()
        self.refused_connections = 0
        self._client_of_connection: dict[Any, str] = {}
        """Each open direct connection's client (by its aiohttp request handler): its peer's key."""
        self._proxy_connections: set[Any] = set()
        """The open connections of trusted proxies (by handler): never one client's, as a proxy that pools its
        upstream connections sends many clients' requests on each; each request is counted apart (:meth:`_errors`)."""
        self._open_from: dict[str, int] = {}
        """What ``max_connections_per_address`` caps, per client: its direct connections open, and its requests in
        progress through a trusted proxy."""
        self._audit: list[AuditEntry] = []
        self._audit_wakeup = asyncio.Event()
        self._audit_thread = AuditThread(lambda batch: self.operator.record_audit(batch))
        self._unwritten = 0
        """Audit lines handed to the audit thread and not written yet."""
        self._last_write: asyncio.Future[None] | None = None
        """The last batch handed to the audit thread (written after every one before it)."""
        self._audit_dropped = 0
        """Audit lines not kept since the last written (the backlog was full): written as a count of their own."""
        self.audit_not_stored = 0
        """Audit lines never stored since the start (dropped over :data:`AUDIT_BACKLOG`, a write that failed, or
        still unwritten when the stop gave up waiting)."""
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        app = web.Application(client_max_size=s.max_body_bytes, middlewares=[self._errors])
        for route in self.routes:
            app.router.add_route(route.method, route.path, self._handler(route))
        app.router.add_get("/api/openapi.json", self._openapi)
        app.router.add_route("*", "/api/{tail:.*}", self._unknown_api)
        app.router.add_get("/{tail:.*}", self._static)
        # a body left unread (a refusal, a body cut off) is drained at most LINGER_S before the connection closes:
        # aiohttp's 10 s would let a client trickling one in hold its connection that much longer
        self._runner = runner = web.AppRunner(app, access_log=None, keepalive_timeout=s.idle_timeout_s,
                                              handler_cancellation=True, shutdown_timeout=2.0,
                                              lingering_time=min(s.idle_timeout_s, LINGER_S))
        await runner.setup()
        assert runner.server is not None
        self._cap_connections(runner.server)
        site = web.TCPSite(runner, s.host, s.port, backlog=256, reuse_address=True)
        await site.start()
        self.port = runner.addresses[0][1]
        self.events.start()
        self.ctx.create_task(self._write_audit(), what="web audit")
        log.info("web console on http://%s:%d (%d user(s))", s.host, self.port, len(self.users))

    def _cap_connections(self, server: web.Server) -> None:
        """Close a connection at once when ``max_connections`` are open, or ``max_connections_per_address`` from its
        client (aiohttp has no cap of its own): one client, a stranger sending nothing included, cannot hold every
        connection and keep the others out. A trusted proxy's connection is no client's (it carries the requests of
        any number of them): it counts in ``max_connections`` alone, and each request on it under its own client
        while in progress (:meth:`_errors`)."""
        accept, lost = server.connection_made, server.connection_lost
        limit = self.settings.max_connections

        def connection_made(handler: Any, transport: asyncio.Transport) -> None:
            accept(handler, transport)
            peer = transport.get_extra_info("peername")
            address, proxy = self.clients.peer(str(peer[0]) if isinstance(peer, tuple) and peer else None)
            if proxy:
                self._proxy_connections.add(handler)
            if len(server.connections) > limit:
                over, cap = "max_connections", limit
            elif not proxy and not self._count_under(handler, address):
                over, cap = "max_connections_per_address", self.settings.max_connections_per_address
            else:
                return
            self.refused_connections += 1
            transport.abort()
            self.refused_client(address, over, "connect", f"refused: connection closed ({over} {cap})")

        def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
            self._proxy_connections.discard(handler)
            client = self._client_of_connection.pop(handler, None)
            if client is not None:
                self._uncount(client)
            lost(handler, exc)

        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]

    def _count_under(self, handler: Any, client: str) -> bool:
        """Count the direct connection of ``handler`` under ``client``; False when that takes the client past
        ``max_connections_per_address`` (the connection is closed, and forgotten when it is lost)."""
        self._client_of_connection[handler] = client
        return self._count(client)

    def _count(self, client: str) -> bool:
        """One more connection or request in progress of ``client``; False when that takes it past
        ``max_connections_per_address``. Undone with :meth:`_uncount` either way."""
        self._open_from[client] = self._open_from.get(client, 0) + 1
        return self._open_from[client] <= self.settings.max_connections_per_address

    def _uncount(self, client: str) -> None:
        self._open_from[client] -= 1
        if not self._open_from[client]:
            del self._open_from[client]

    def client_of(self, request: web.Request) -> str:
        """The client a request is counted against: its peer's address (an IPv6 one's /64), or behind one of
        ``trusted_proxies`` the right-most untrusted hop of X-Forwarded-For (`bot.api.kit.ClientAddresses`)."""
        return self.clients.client(request.remote, request.headers.getall("X-Forwarded-For", []))

    def connections(self) -> int:
        """Connections open now."""
        return len(self._runner.server.connections) if self._runner and self._runner.server else 0

    async def stop(self) -> None:
        self.events.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        self._audit_strangers(force=True)
        await self._flush_audit(wait_s=AUDIT_STOP_S)
        self._audit_thread.close()

    # --- audit -------------------------------------------------------------------------------

    def audit(self, user: str, role: str, command: str, args: str, outcome: str) -> None:
        """Queue one audit line (written in batches on the audit thread). Past :data:`AUDIT_BACKLOG` lines waiting
        (the database does not take them) it is counted, not kept: said once in the log, and stored as a line with
        the count once the database answers."""
        if len(self._audit) >= AUDIT_BACKLOG:
            self._audit_dropped += 1
            self.audit_not_stored += 1
            if self._audit_dropped == 1:
                log.warning("web: %d audit lines wait for the database, which does not take them; further lines are "
                            "counted, not kept, until it does", AUDIT_BACKLOG)
            return
        self._audit.append(AuditEntry(ts_ns=self.ctx.clock.time_ns(), transport="web", user_id=user, role=role,
                                      command=REDACTOR.cut(command, 200), args=REDACTOR.cut(args, 500),
                                      outcome=outcome))
        self._audit_wakeup.set()

    @property
    def _audit_writing(self) -> bool:
        return self._unwritten > 0

    async def _flush_audit(self, wait_s: float | None = None) -> None:
        """Write the lines queued so far on the audit thread, after those handed to it before; with ``wait_s``
        (the stop) wait that long at most, then log how many were not stored."""
        batch, self._audit = self._audit, []
        if self._audit_dropped:
            batch.append(AuditEntry(ts_ns=self.ctx.clock.time_ns(), transport="web", user_id="", role="",
                                    command="(audit)", args="", outcome=f"error: {self._audit_dropped} audit line(s) "
                                    f"not stored: more than {AUDIT_BACKLOG} waited for the database"))
            self._audit_dropped = 0
        if batch:
            self._unwritten += len(batch)
            self._last_write = written = self._audit_thread.write(batch)
            written.add_done_callback(lambda future: self._written(future, batch))
        elif wait_s is None or not self._unwritten or self._last_write is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._last_write), wait_s)
        except TimeoutError:
            self.audit_not_stored += self._unwritten
            log.warning("web: %d audit line(s) not stored: the database did not take them within %g s of the stop",
                        self._unwritten, wait_s)
        except Exception:  # logged by _written
            pass

    def _written(self, future: asyncio.Future[None], batch: list[AuditEntry]) -> None:
        """A batch handed to the audit thread is done: written, or logged instead of lost silently."""
        self._unwritten -= len(batch)
        exc = future.exception() if not future.cancelled() else None
        if exc is not None:  # the store refused them
            self.audit_not_stored += len(batch)
            log.warning("web: %d audit line(s) not stored (%s): %s", len(batch), type(exc).__name__,
                        "; ".join(f"{e.user_id} {e.command} {e.outcome}" for e in batch[:20]))

    def refused_stranger(self, request: web.Request, command: str, query: str, exc: ApiError) -> None:
        """Audit the refusal of a request without a valid token, folded per address (:class:`StrangerAudit`): its
        address, and ``query`` as :func:`audited_query` makes it."""
        now = asyncio.get_running_loop().time()
        self._audit_strangers(now=now)
        address = self.client_of(request)
        if self.stranger_audit.first(address, Refused(command), now):
            self.audit("", "", command, _from(address, query), f"refused: {exc.status} {exc.message}")

    def refused_client(self, address: str, limit: str, command: str, outcome: str) -> None:
        """Audit the refusal of client ``address`` by ``limit`` (one of :data:`LIMITS`), folded per limit and
        address: the first of a minute as ``outcome``, the rest as one line with their count (:meth:`_audit_strangers`).
        Called on the loop for each refusal, however many a client sends: it costs a dict look-up."""
        now = asyncio.get_running_loop().time()
        self._audit_strangers(now=now)
        if self.limit_audit[limit].first(address, Refused(command), now):
            self.audit("", "", command, _from(address), outcome)

    def refused_user(self, user: User, command: str, args: str, exc: ApiError) -> None:
        """Audit a call of ``user`` the per-user rate limit refused, folded per user (:attr:`throttled_audit`)."""
        now = asyncio.get_running_loop().time()
        self._audit_strangers(now=now)
        if self.throttled_audit.first(user.name, Refused(command, user.role), now):
            self.audit(user.name, user.role, command, args, f"refused: {exc.status} {exc.message}")

    def _audit_strangers(self, *, now: float | None = None, force: bool = False) -> None:
        """One line for each address (or throttled user) whose refusal window is over (each one with ``force``),
        with its count."""
        if now is None:
            now = asyncio.get_running_loop().time()
        for window in self.stranger_audit.due(now, force):
            self.audit("", "", window.note.command, _from(window.key),
                       f"refused: {window.count} more without a valid token from {_whence(window.key)}")
        for window in self.throttled_audit.due(now, force):
            self.audit(window.key, window.note.role, window.note.command, "",
                       f"refused: 429, {window.count} more this minute")
        for limit, folded in self.limit_audit.items():
            for window in folded.due(now, force):
                self.audit("", "", window.note.command, _from(window.key),
                           f"refused: {window.count} more ({limit}) from {_whence(window.key)}")
        self._log_unavailable(now, force)

    def _log_unavailable(self, now: float, force: bool = False) -> None:
        """One WARNING line with the count of each kind of 503 whose window is over (each one with ``force``)."""
        for window in self.unavailable.due(now, force):
            log.warning("web: %s answered 503 in the last %s: %s", counted(window.count, "more request"),
                        "minute" if WARNING_FOLD_S == 60 else f"{WARNING_FOLD_S:g} s", window.key)

    def _folds(self) -> list[Folding[str]]:
        return [self.stranger_audit, self.throttled_audit, *self.limit_audit.values(), self.unavailable]

    async def _write_audit(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:  # woken by a line to write, or when a stranger's refusal window is over
                due = [d for d in (folded.due_in(loop.time()) for folded in self._folds()) if d is not None]
                await asyncio.wait_for(self._audit_wakeup.wait(), min(due, default=None))
            except TimeoutError:
                pass
            self._audit_wakeup.clear()
            self._audit_strangers(now=loop.time())
            await self._flush_audit()
            await asyncio.sleep(0.5)  # at most two transactions a second, whatever the request rate

    # --- requests ----------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Every answer passes here: errors become ``{"error": ...}``, the security headers are added, and a JSON
        or CSV body is served with every known secret masked (an exception's text quoting a request with its
        key, a plugin's error): the one place no endpoint can forget.

        On a trusted proxy's connection each request is counted under its own client while in progress (an event
        stream as long as it is open): past ``max_connections_per_address`` it gets 429, and the connection, which
        carries other clients' requests too, stays open."""
        if request.protocol not in self._proxy_connections:
            return await self._answer(request, handler, None)
        client = self.client_of(request)
        try:
            return await self._answer(request, handler, None if self._count(client) else client)
        finally:
            self._uncount(client)

    async def _answer(self, request: web.Request, handler: Any, over_cap: str | None) -> web.StreamResponse:
        """The handler's answer, or 429 (audited) for client ``over_cap``, as :meth:`_errors` describes."""
        try:
            if over_cap is not None:
                refused = ApiError(429, "too many requests in progress from this client (max_connections_per_address "
                                        f"{self.settings.max_connections_per_address})")
                self.refused_client(over_cap, "max_connections_per_address", _pattern(request),
                                    f"refused: 429 {refused.message}")
                raise refused
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc.status, exc.message, exc.headers)
        except web.HTTPException as exc:  # aiohttp's own: 404, 405, 413 ...
            if exc.status < 400:
                raise
            response = error_response(exc.status, exc.reason)
        if not response.prepared:
            for key, value in SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
            _mask_secrets(response)
        return response

    def _authenticate(self, request: web.Request) -> tuple[User, bool, bytes]:
        """(the user, whether by the session cookie, the hash of its token); 401, or 429 for an address over its
        limit of wrong tokens or of requests without a valid token."""
        loop_now = asyncio.get_running_loop().time()
        header = request.headers.get("Authorization", "")
        sid = request.cookies.get(COOKIE)
        if not header and sid:
            session = self.sessions.get(sid, loop_now)
            if session is not None:
                if request.method != "GET" and not _same(request.headers.get(CSRF_HEADER, ""), session.csrf):
                    raise ApiError(403, f"a change made with the session cookie needs the {CSRF_HEADER} header "
                                        "with the csrf_token from the login")
                return session.user, True, session.key
            self._no_token(request, loop_now, "the session ended; log in again")
        if not header:
            self._no_token(request, loop_now, "log in: send Authorization: Bearer TOKEN, or POST /api/v1/login for "
                                              "a session cookie")
        self.check_guesses(request, loop_now)
        scheme, _, token = header.partition(" ")
        user = self.users.by_token(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            self.failures.failed(self.client_of(request), loop_now)
            raise ApiError(401, "wrong token (send Authorization: Bearer TOKEN)", {"WWW-Authenticate": "Bearer"})
        return user, False, token_hash(token.strip()).encode()

    def still_valid(self, call: Call) -> bool:
        """Whether the credential ``call`` came with still holds: its session is open, or its token is still its
        user's (not rotated away by ``arbot ctl reload-secrets``). An event stream ends when it does not."""
        if call.session is not None:
            return self.sessions.get(call.session, asyncio.get_running_loop().time()) is not None
        return (call.user, call.key) in self.users.keys()

    def _no_token(self, request: web.Request, now: float, message: str) -> NoReturn:
        """401 for a request without a valid token (none, or an ended session); 429 once its address sent
        ``auth_failures_per_min`` of them in the last minute."""
        address = self.client_of(request)
        wait = self.strangers.blocked(address, now)
        if wait:
            raise ApiError(429, "too many requests without a valid token from this address; wait",
                           {"Retry-After": str(int(wait) + 1)})
        self.strangers.failed(address, now)
        raise ApiError(401, message, {"WWW-Authenticate": "Bearer"})

    def check_guesses(self, request: web.Request, now: float) -> None:
        """429 for an address with ``auth_failures_per_min`` wrong tokens in the last minute (its token,
        right or wrong, is not even looked at until then)."""
        wait = self.failures.blocked(self.client_of(request), now)
        if wait:
            raise ApiError(429, "too many wrong tokens from this address; wait", {"Retry-After": str(int(wait) + 1)})

    def _check_public(self, request: web.Request) -> None:
        """429 for an address past its rate of requests to what needs no token: serving them runs on the bot's
        loop, so a stranger must not be able to keep it busy."""
        address = self.client_of(request)
        wait = self.public.take(address, asyncio.get_running_loop().time())
        if wait:
            refused = ApiError(429, f"more than {self.settings.public_requests_per_s:g} requests/s from this address "
                                    f"without a token (burst {self.settings.public_request_burst}); slow down",
                               {"Retry-After": str(int(wait) + 1)})
            self.refused_client(address, "public_requests_per_s", _pattern(request), f"refused: 429 {refused.message}")
            raise refused

    def _handler(self, route: Route) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._call(route, request)

        return handle

    async def _call(self, route: Route, request: web.Request) -> web.StreamResponse:
        command = f"{route.method} {audited_path(request.path, self.users.knows)}"
        args = audited_query(route, request.query_string, self.users.knows)
        if route.role is None:  # login: audited by the endpoint with the user it found
            self._check_public(request)
            return await self._run(route, Call(request, User("", "viewer"), self._query(route, request),
                                               await self._body(route, request), False))
        try:
            user, by_cookie, key = self._authenticate(request)
        except ApiError as exc:
            if exc.status == 403:  # a live session's change without the CSRF header (forged?): each one audited
                self.audit("", "", command, _from(self.client_of(request), args),
                           f"refused: {exc.status} {exc.message}")
            else:  # no valid token: folded per address
                self.refused_stranger(request, command, args, exc)
            raise
        wait = self.limits.take(user.name, asyncio.get_running_loop().time())
        if wait:
            limited = ApiError(429, f"more than {self.settings.requests_per_s:g} requests/s (burst "
                                    f"{self.settings.request_burst}); slow down", {"Retry-After": str(int(wait) + 1)})
            self.refused_user(user, command, args, limited)
            raise limited
        try:
            if not user.may(route.role):
                raise ApiError(403, f"{route.method} {route.path} needs the {route.role} role; {user.name} is "
                                    f"{user.role}")
            call = Call(request, user, self._query(route, request), await self._body(route, request),
                        route.csv and self._wants_csv(request), request.cookies.get(COOKIE) if by_cookie else None,
                        key)
            streaming = route.content == "text/event-stream"
            if streaming:  # audited when it opens: it may stay open for days
                self.audit(user.name, user.role, command, args, "stream opened")
            response = await self._run(route, call)
        except ApiError as exc:
            self.audit(user.name, user.role, command, args, f"refused: {exc.status} {exc.audited}")
            raise
        except (ReadRefused, StoreClosed) as exc:  # no fault of the console's: the client may come back
            refused = store_down(exc)
            self.audit(user.name, user.role, command, args, f"refused: 503 {refused.message}")
            now = asyncio.get_running_loop().time()
            self._log_unavailable(now)
            if self.unavailable.first(refused.message, now):
                log.warning("web: %s answered 503: %s (%s); further 503s of this kind are counted, one line a "
                            "minute", command, refused.message, REDACTOR.cut(str(exc), 300))
            raise refused from None
        except Exception as exc:
            self.audit(user.name, user.role, command, args, f"error: {type(exc).__name__}")
            log.exception("web: %s failed", command)
            raise ApiError(500, f"{type(exc).__name__}; the bot's log has details") from None
        if not streaming and (route.method != "GET" or self.settings.audit_reads or response.status >= 400):
            self.audit(user.name, user.role, command, args, "ok" if response.status < 400 else f"{response.status}")
        return response

    async def _run(self, route: Route, call: Call) -> web.StreamResponse:
        result = await route.handler(call)
        if isinstance(result, web.StreamResponse):
            return result
        return web.Response(text=json.dumps(result, separators=(",", ":")), content_type="application/json")

    def _wants_csv(self, request: web.Request) -> bool:
        fmt = request.query.get("format")
        if fmt is not None:
            return fmt == "csv"
        accept = request.headers.get("Accept", "")
        return "text/csv" in accept and "application/json" not in accept

    def _query(self, route: Route, request: web.Request) -> dict[str, Any]:
        known = {p.name: p for p in route.params}
        out: dict[str, Any] = {p.name: p.default for p in route.params}
        for name in request.query:
            if name not in known:
                allowed = ", ".join(known) or "none"
                raise ApiError(400, f"unknown query parameter {name!r}; {route.path} takes: {allowed}",
                               audited=f"unknown query parameter; {route.path} takes: {allowed}")
            values = request.query.getall(name)
            if len(values) > 1:
                raise ApiError(400, f"query parameter {name!r} given {len(values)} times")
            out[name] = self._value(known[name], values[0])
        limit = out.get("limit")
        if limit is not None and not 1 <= limit <= self.settings.max_page:
            raise ApiError(400, f"limit: expected 1 to {self.settings.max_page}, got {limit}")
        return out

    def _value(self, param: Param, text: str) -> Any:
        """``text`` as ``param`` takes it, else 400; a bad value is quoted only when it looks like one of its kind
        (:func:`shown`)."""
        if param.kind == "integer":
            value = whole_number(text)
            if value is None:
                raise ApiError(400, f"{param.name}: expected a whole number from 0 to {MAX_INT}, "
                                    f"got {shown(param.kind, text)}")
            return value
        if param.kind == "time":
            return parse_time(param.name, text)
        if param.kind == "enum" and text not in param.choices:
            raise ApiError(400, f"{param.name}: expected one of {', '.join(param.choices)}, "
                                f"got {shown(param.kind, text)}")
        if param.kind == "csv-enum":
            values = [v for v in text.split(",") if v]
            wrong = [v for v in values if v not in param.choices]
            if wrong or not values:
                raise ApiError(400, f"{param.name}: expected a comma-separated list of "
                                    f"{', '.join(param.choices)}, got {shown(param.kind, text)}")
            return values
        return text

    async def _body(self, route: Route, request: web.Request) -> dict[str, Any]:
        if not request.body_exists:
            if route.body is not None and any(f.required for f in route.body):
                raise ApiError(400, "expected a JSON object body with: " + ", ".join(
                    f.name for f in route.body if f.required))
            return {}
        if route.body is None:
            raise ApiError(400, f"{route.method} {route.path} takes no body")
        if request.content_type != "application/json":
            raise ApiError(415, f"send the body as JSON (Content-Type: application/json), not "
                                f"{request.content_type or 'untyped'}")
        too_large = ApiError(413, f"the body is larger than {self.settings.max_body_bytes} bytes "
                                  "([plugins.web] max_body_bytes)")
        if (request.content_length or 0) > self.settings.max_body_bytes:
            raise too_large
        wait_s = self.settings.idle_timeout_s
        try:
            async with asyncio.timeout(wait_s):  # the login takes a body from anyone: one trickled in is cut off
                raw = await request.read()
        except web.HTTPRequestEntityTooLarge:  # sent without a length (chunked), and too long
            raise too_large from None
        except TimeoutError:
            raise ApiError(408, f"the body did not arrive within {wait_s:g} s ([plugins.web] idle_timeout_s)",
                           {"Connection": "close"}) from None
        try:  # depth checked first: json.loads recurses per level, and 64 KiB of '{"a":' is a RecursionError
            body = loads_limited(raw) if raw.strip() else {}
        except TooDeep as exc:
            raise ApiError(400, f"{exc} (a body nests a few)") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"malformed JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, f"expected a JSON object, got {type(body).__name__}")
        fields = {f.name: f for f in route.body}
        for name, value in body.items():
            spec = fields.get(name)
            if spec is None:
                takes = f"{route.path} takes: {', '.join(fields) or 'none'}"
                raise ApiError(400, f"unknown field {name!r}; {takes}", audited=f"unknown field; {takes}")
            expected = bool if spec.kind == "boolean" else str
            if not isinstance(value, expected):
                raise ApiError(400, f"{name}: expected a {spec.kind}, got {type(value).__name__}")
        missing = [f.name for f in route.body if f.required and f.name not in body]
        if missing:
            raise ApiError(400, f"missing field(s): {', '.join(missing)}")
        return body

    async def _unknown_api(self, request: web.Request) -> web.StreamResponse:
        self._check_public(request)
        path = audited_path(request.path, self.users.knows)  # a token pasted into the path is not quoted back
        raise ApiError(404, f"no such endpoint: {request.method} {path} (see /api/openapi.json)")

    async def _openapi(self, request: web.Request) -> web.StreamResponse:
        self._check_public(request)
        return web.json_response(openapi(self.routes, "1"))

    async def _static(self, request: web.Request) -> web.StreamResponse:
        """Files of ``plugins/web/static`` (``/`` is its index.html); anything outside it is a 404."""
        self._check_public(request)
        tail = request.match_info["tail"] or "index.html"
        root = STATIC.resolve()
        try:
            path = (root / tail).resolve()
        except (OSError, ValueError):
            raise ApiError(404, "not found") from None
        if ".." in tail.split("/") or not path.is_relative_to(root) or not path.is_file():
            raise ApiError(404, "not found")
        return web.FileResponse(path, headers=SECURITY_HEADERS)


def audited_query(route: Route, query_string: str, secret: Callable[[str], bool] = lambda _: False) -> str:
    """A request's query string as its audit line quotes it: each parameter ``route`` takes as it came when its value
    looks like one of its kind (:func:`looks_like`) and is no secret, else as ``name=***``, any other one as ``***``,
    name and value (the outcome says it was unknown). A value is a secret when ``secret`` says so (the console's
    :meth:`~plugins.web.auth.Users.knows`: a user's token, or the ``sha256:`` hash the config holds of one) or the
    redactor masks anything in it. A token pasted into a URL (``?token=...``, ``?TOKEN``, ``?since=TOKEN``,
    ``?strategy=TOKEN``) is neither a parameter a route takes nor a value it may keep, and the redactor cannot know a
    token the config holds only as its hash."""
    known = {param.name: param for param in route.params}
    parts = []
    for part in query_string.split("&"):
        name, _, value = part.partition("=")
        param = known.get(unquote_plus(name))
        if param is not None:
            text = unquote_plus(value)
            kept = looks_like(param.kind, text) and not secret(text) and REDACTOR.redact(text) == text
            parts.append(part if kept else f"{name}=***")
        elif part:
            parts.append("***")
    return "&".join(parts)


def audited_path(path: str, secret: Callable[[str], bool]) -> str:
    """A request's path as its audit line names it: each segment ``secret`` knows (a user's token, or the ``sha256:``
    hash the config holds of one, which the redactor cannot mask) as ``***``, and each character that is not printable
    (a line break, a terminal escape, NUL, a right-to-left override: the path is decoded) as its escape, ``\\x1b``:
    an audit line is read on a terminal and in chat, one line each."""
    return "/".join("***" if segment and secret(unquote(segment)) else escape_controls(segment)
                    for segment in path.split("/"))


def store_down(exc: ReadRefused | StoreClosed) -> ApiError:
    """The 503 of a call the store could not answer: its database does not answer (a read refused), or the bot is
    stopping (its store closed)."""
    if isinstance(exc, StoreClosed):
        return ApiError(503, "the bot is stopping; try again once it is back", {"Retry-After": str(STOPPING_RETRY_S)})
    return ApiError(503, "the database is not answering; nothing was read, try again later",
                    {"Retry-After": str(NOT_ANSWERING_RETRY_S)})


def _from(address: str, query: str = "") -> str:
    """A refusal's audit arguments: its client (:data:`OTHERS` past the named ones), and the query if any."""
    who = OTHERS if address == OTHERS else f"address {address}"
    return f"{who}; {query}" if query else who


def _whence(address: str) -> str:
    return (f"{OTHERS} (over {StrangerAudit.NAMED} addresses this minute)" if address == OTHERS
            else "this address")


def _pattern(request: web.Request) -> str:
    """``METHOD PATH`` of the route a request matched, as declared (``/api/v1/backtests/{name}``, ``/{tail}`` for a
    file): the audit line of a refusal by a limit quotes none of the text a stranger sent."""
    resource = getattr(request.match_info.route, "resource", None)
    return f"{request.method} {resource.canonical if resource is not None else '(no route)'}"


def _mask_secrets(response: web.StreamResponse) -> None:
    """A JSON or CSV body, every known secret in it masked (a file or a stream is left as it is). A secret is known
    as JSON writes it too; CSV's doubled quote is not, so a CSV export's cells are masked before encoding as well."""
    if not isinstance(response, web.Response) or response.content_type not in ("application/json", "text/csv"):
        return
    text = response.text if isinstance(response.body, bytes) else None
    if text:
        clean = REDACTOR.redact(text)
        if clean != text:
            response.text = clean


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


__all__ = ["MAX_INT", "Call", "WebServer", "error_response", "parse_time", "whole_number"]
