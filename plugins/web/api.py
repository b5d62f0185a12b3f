"""The ``/api/v1/`` endpoints: each reads or acts through the :class:`~bot.api.Operator` only.

Store reads (orders, fills, executions, PnL, audit, risk trips) run in a worker thread so the loop
keeps trading while they run. Lists are newest first, paged with ``limit`` and ``offset``; each
page says its ``next_offset`` (null on the last page).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.api import Alert, AlertLevel, OrderStatus, Refused, Reply
from bot.api.kit import REDACTOR
from bot.api.ledger import PERIODS, StrategyFigures, counted, net_after_transfer_costs, pnl_curves, totals

from .routes import API, COOKIE, EXCHANGE, FORMAT, LIMIT, OFFSET, SINCE, STRATEGY, UNTIL, ApiError, Field, Param, Route
from .views import (
    EXECUTION_COLUMNS,
    FILL_COLUMNS,
    ORDER_COLUMNS,
    csv_text,
    execution_view,
    fill_view,
    money_map,
    opportunity_view,
    order_view,
    plain,
)

if TYPE_CHECKING:
    from .server import Call, WebServer

log = logging.getLogger("arbot.web")

ALERTS_KEPT = 200
CONFIRMS_KEPT_S = 3600.0
STRATEGY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A strategy's name as the host allows a component's (``bot.conflicts.NAME_PATTERN``, a test keeps them equal): what
the fleet's pause and resume pass on to another bot."""
NOT_A_NAME = "is not a strategy name (letters, digits, '_', '.' and '-' only, at most 64 characters)"
"""How long a confirm_token's call is remembered: the longest ``[commands] confirm_ttl_s``."""
CONFIRM_TOKEN = Field("confirm_token", "string", "the token the first call returned")
REFUSED = ("the command layer refused it (a confirmation unknown, used, expired or another user's; too many "
           "commands): the message says which")


def _figures(fig: StrategyFigures) -> dict[str, Any]:
    return {"fills": fig.fills, "fee_only": fig.fee_only, "round_trips": fig.round_trips, "quotes": fig.quotes,
            "realized": money_map(fig.realized), "fees": money_map(fig.fees), "net": money_map(fig.net),
            "unrealized": money_map(fig.unrealized), "other_fees": money_map(fig.other_fees)}


SUMMARY_FIGURES = ("type", "fills", "round_trips", "realized", "fees", "net", "max_drawdown", "unrealized")
"""A strategy's figures a backtest's summary gives, as its ``report.json`` has them (money: exact decimal strings)."""


def backtest_summary(report: Any) -> dict[str, Any] | None:
    """What ``GET /api/v1/backtests`` shows of one run, read from the ``report.json`` it wrote (whose format the
    backtest owns and the pinned tests hold): its input, market steps, simulated seconds, fills, and per strategy
    :data:`SUMMARY_FIGURES`. None for a file that is no backtest report (no ``strategies`` table)."""
    if not isinstance(report, dict) or not isinstance(report.get("strategies"), dict):
        return None
    scenario, fills = report.get("scenario"), report.get("fills")
    scenario = scenario if isinstance(scenario, dict) else {}
    fills = fills if isinstance(fills, dict) else {}
    return {"input": scenario.get("input"), "steps": scenario.get("steps"), "simulated_s": scenario.get("simulated_s"),
            "fills": fills.get("count"),
            "strategies": {name: {key: figures.get(key) for key in SUMMARY_FIGURES}
                           for name, figures in report["strategies"].items() if isinstance(figures, dict)}}


def _page(items: list[Any], query: dict[str, Any]) -> dict[str, Any]:
    limit, offset = query["limit"], query["offset"]
    return {"items": items, "limit": limit, "offset": offset,
            "next_offset": offset + len(items) if len(items) == limit else None}


class Endpoints:
    def __init__(self, server: WebServer):
        self.server = server
        self.op = server.operator
        self.settings = server.settings
        self.alerts: deque[Alert] = deque(maxlen=ALERTS_KEPT)
        server.ctx.subscribe_alerts(self.alerts.append)
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self.streams_stalled = 0
        """Event streams closed because their client took nothing for ``events_write_timeout_s``."""
        self._reading: dict[tuple[Any, ...], asyncio.Task[Any]] = {}
        self._asked: dict[str, tuple[float, str, tuple[str, ...]]] = {}
        """Each confirm_token the command layer gave a call here: when, and the command and arguments it confirms
        (the command layer checks the user, the time and the single use; this, that it comes back with its call)."""

    def routes(self) -> list[Route]:
        v = API
        range_ = (STRATEGY, EXCHANGE, SINCE, UNTIL, LIMIT, OFFSET, FORMAT)
        states = tuple(s.value for s in OrderStatus)
        return [
            Route("POST", f"{v}/login", self.login, None, "log in with a token: sets the HttpOnly session cookie "
                  "and returns the CSRF token for state-changing calls",
                  body=(Field("token", "string", "the user's token", required=True),)),
            Route("POST", f"{v}/logout", self.logout, "viewer", "end the cookie session", body=()),
            Route("GET", f"{v}/session", self.session, "viewer", "who is logged in (and the CSRF token of a "
                                                                 "cookie session)"),
            Route("GET", f"{v}/status", self.status, "viewer", "mode, uptime, strategies and their states, counts"),
            Route("GET", f"{v}/strategies", self.strategies, "viewer", "every strategy with its type and state"),
            Route("GET", f"{v}/orders", self.orders, "viewer", "stored orders, newest first (CSV too)",
                  params=(STRATEGY, EXCHANGE, Param("state", "csv-enum", "only these statuses", states), SINCE,
                          UNTIL, LIMIT, OFFSET, FORMAT), csv=True, page=True),
            Route("GET", f"{v}/fills", self.fills, "viewer", "stored fills, newest first (CSV too)", params=range_,
                  csv=True, page=True),
            Route("GET", f"{v}/positions", self.positions, "viewer", "net position per exchange and market, marked "
                                                                     "to the latest mid"),
            Route("GET", f"{v}/balances", self.balances, "viewer", "inventory per venue, as each venue reports it "
                                                                   "now"),
            Route("GET", f"{v}/pnl", self.pnl, "viewer", "the ledger's figures per strategy since the start of the "
                  "period (all: the same as `arbot report`), and the curve of the net realized PnL per quote "
                  "asset, [ts_ns, value] after each fill that changed it",
                  params=(Param("period", "enum", "day, week or month in [scheduler] timezone, or all",
                                (*PERIODS, "all"), "day"),)),
            Route("GET", f"{v}/opportunities", self.opportunities, "viewer", "the latest opportunities with their "
                  "cost breakdown, newest first",
                  params=(STRATEGY, Param("limit", "integer", "how many", default=100))),
            Route("GET", f"{v}/arb/executions", self.executions, "viewer", "executed opportunities: predicted vs "
                  "realized PnL, legs and their latencies (CSV too)",
                  params=(STRATEGY, SINCE, UNTIL, LIMIT, OFFSET, FORMAT), csv=True, page=True),
            Route("GET", f"{v}/risk", self.risk, "viewer", "risk checks with their limits and use, recent trips, "
                                                           "killed strategies"),
            Route("GET", f"{v}/feeds", self.feeds, "viewer", "market feeds: state, data age, resyncs"),
            Route("GET", f"{v}/plugins", self.plugins, "viewer", "loaded plugins, what they provide, their errors"),
            Route("GET", f"{v}/alerts", self.alerts_, "viewer", "recent alerts, newest first (kept in memory)",
                  params=(Param("limit", "integer", "how many", default=50),)),
            Route("GET", f"{v}/audit", self.audit, "admin", "the audit log (every transport), newest first",
                  params=(LIMIT, OFFSET), page=True),
            Route("GET", f"{v}/backtests", self.backtests, "viewer", "backtest reports in the bot's data_dir"),
            Route("GET", f"{v}/backtests/{{name}}", self.backtest, "viewer", "one backtest report (JSON and "
                                                                            "markdown)"),
            Route("GET", f"{v}/backtests/{{name}}/chart", self.backtest_chart, "viewer", "a backtest report's PnL "
                                                                                       "chart", content="image/png"),
            Route("GET", f"{v}/events", self.stream, "viewer", "live updates as server-sent events; resume with "
                  "Last-Event-ID", content="text/event-stream"),
            Route("POST", f"{v}/strategies/{{name}}/pause", self.pause, "operator", "pause a strategy (no new "
                  "orders; resting orders stay)", body=(), responses={404: "no strategy of that name"}),
            Route("POST", f"{v}/strategies/{{name}}/resume", self.resume, "operator", "resume a strategy (also "
                  "one that failed) through the command layer, as /resume in chat: one the kill switch paused is "
                  "confirmed in two steps (202 with confirm_token; the same call with it resumes)",
                  body=(CONFIRM_TOKEN,), responses={202: "confirmation needed: the answer holds confirm_token",
                                                    404: "no strategy of that name", 409: REFUSED}),
            Route("POST", f"{v}/observe", self.observe, "admin", "observe mode on (no orders) or off, through the "
                  "command layer as /observe in chat: off is confirmed in two steps (202 with confirm_token; the "
                  "same call with it leaves observe mode)",
                  body=(Field("on", "boolean", "true: observe; false: back to the configured mode", True),
                        CONFIRM_TOKEN),
                  responses={202: "confirmation needed: the answer holds confirm_token",
                             409: REFUSED + "; or the config itself says observe"}),
            Route("POST", f"{v}/kill", self.kill, "admin", "kill switch in two steps: without confirm_token "
                  "answers 202 with a token; the same user sends it back within confirm_ttl_s to kill",
                  body=(Field("reason", "string", "why (shown in the alert and the audit log)"),
                        CONFIRM_TOKEN),
                  responses={202: "confirmation needed: the answer holds confirm_token",
                             404: "unknown token", 409: "token already used", 410: "token expired",
                             403: "a token of another user (nothing happens)"}),
            Route("GET", f"{v}/fleet", self.fleet, "viewer", "every bot of the fleet (this one alone when it has "
                  "no fleet link): alive, last heard, and its status summary"),
            Route("POST", f"{v}/fleet/{{bot}}/strategies/{{name}}/pause", self.fleet_pause, "operator", "pause a "
                  "strategy of a fleet bot through the command layer (/pause bot:name): that bot authorizes and "
                  "audits it too", body=(), responses={400: "a name no strategy can have (nothing is sent)",
                                                       404: "no bot of that name in the fleet"}),
            Route("POST", f"{v}/fleet/{{bot}}/strategies/{{name}}/resume", self.fleet_resume, "operator", "resume a "
                  "strategy of a fleet bot (/resume bot:name), confirmed in two steps like /resume in chat: "
                  "without confirm_token it answers 202 with one",
                  body=(CONFIRM_TOKEN,),
                  responses={202: "confirmation needed: the answer holds confirm_token",
                             400: "a name no strategy can have (nothing is sent)",
                             404: "no bot of that name in the fleet", 409: "the confirmation was refused "
                             "(unknown, used, expired or another user's token): the message says which"}),
            Route("POST", f"{v}/fleet/kill", self.fleet_kill, "admin", "kill switch on one fleet bot or on all "
                  "(/kill all), in two steps: without confirm_token it answers 202 with one",
                  body=(Field("bot", "string", 'a bot\'s name, or "all"', required=True),
                        Field("reason", "string", "why (shown in the alerts and audit logs)"),
                        CONFIRM_TOKEN),
                  responses={202: "confirmation needed: the answer holds confirm_token",
                             404: "no bot of that name in the fleet", 409: "the confirmation was refused "
                             "(unknown, used, expired or another user's token): the message says which"}),
        ]

    # --- helpers -----------------------------------------------------------------------------

    def _quoted(self, shown: str, name: str | None = None) -> str:
        """``shown`` quoted in an answer that names what was not found: ``'***'`` when the name is a user's token or
        the hash the config holds of one, as the audit masks it (:func:`~plugins.web.server.audited_path`): the
        redactor knows neither, and the client, its proxy's log or a shared screen need not see it again."""
        return "'***'" if self.server.users.knows(shown if name is None else name) else repr(shown)

    def _strategy(self, name: str) -> dict[str, Any]:
        op = self.op
        state = op.strategy_state(name)
        return {"name": name, "type": op.strategy_type(name), "state": state,
                "paused": state.startswith("paused"), "failed": op.strategy_failed(name), "killed": op.killed(name)}

    async def _thread(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self.op.store.read_off_loop(func, *args, **kwargs)  # the store's threads, never the loop's

    async def _shared(self, key: tuple[Any, ...], func: Callable[..., Any], **kwargs: Any) -> Any:
        """``func(**kwargs)`` in a worker thread, its answer shared by identical reads for ``read_cache_s``.

        Fifty browsers polling the same page cost one store query (and one thread's worth of the
        GIL) instead of fifty; a read already running is joined, not repeated.
        """
        ttl = self.settings.read_cache_s
        if ttl <= 0:
            return await self._thread(func, **kwargs)
        loop = asyncio.get_running_loop()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > loop.time():
            return hit[1]
        reading = self._reading.get(key)
        if reading is None:  # a task of its own: a caller that goes away does not cancel it for the others

            def done(task: asyncio.Task[Any]) -> None:
                del self._reading[key]
                if not task.cancelled() and task.exception() is None:  # (exception() marks it retrieved)
                    now = loop.time()
                    if len(self._cache) > 256:
                        self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                    self._cache[key] = (now + ttl, task.result())

            reading = self._reading[key] = loop.create_task(self._thread(func, **kwargs))
            reading.add_done_callback(done)
        return await asyncio.shield(reading)

    def _csv(self, name: str, columns: tuple[str, ...], rows: list[dict[str, Any]], call: Call) -> web.Response:
        span = "-".join(str(call.query.get(k) or "") for k in ("since", "until")).strip("-") or "all"
        # masked before encoding: CSV doubles a quote, so a secret holding one is not found in the text after
        rows = REDACTOR.redact_data(rows)
        return web.Response(text=csv_text(columns, rows), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="arbot-{name}-{span}.csv"'})

    def _window(self, call: Call) -> dict[str, Any]:
        q = call.query
        if q["since"] is not None and q["until"] is not None and q["until"] <= q["since"]:
            raise ApiError(400, "until must be after since")
        if call.csv:
            return {"limit": self.settings.max_csv_rows, "offset": 0}
        return {"limit": q["limit"], "offset": q["offset"]}

    # --- session -----------------------------------------------------------------------------

    async def login(self, call: Call) -> Any:
        server = self.server
        now = asyncio.get_running_loop().time()
        peer = server.client_of(call.request)
        try:
            server.check_guesses(call.request, now)
            user = server.users.by_token(call.body["token"])
            if user is None:
                server.failures.failed(peer, now)
                raise ApiError(401, "wrong token")
        except ApiError as exc:
            server.refused_stranger(call.request, "POST /api/v1/login", "", exc)
            raise
        wait = server.limits.take(user.name, now)  # each login opens a session and writes a line: the user's budget
        if wait:
            limited = ApiError(429, f"more than {self.settings.requests_per_s:g} requests/s (burst "
                                    f"{self.settings.request_burst}); slow down", {"Retry-After": str(int(wait) + 1)})
            server.refused_user(user, "POST /api/v1/login", "", limited)
            raise limited
        sid, session = server.sessions.open(user, call.body["token"], now)
        server.audit(user.name, user.role, "POST /api/v1/login", "", "ok")
        response = web.json_response({"user": user.name, "role": user.role, "csrf_token": session.csrf,
                                      "expires_in_s": self.settings.session_ttl_s})
        response.set_cookie(COOKIE, sid, httponly=True, samesite="Strict", path="/api/",
                            max_age=int(self.settings.session_ttl_s), secure=self.settings.cookie_secure)
        return response

    async def logout(self, call: Call) -> Any:
        if call.session:
            self.server.sessions.close(call.session)
        response = web.json_response({"logged_out": True})
        response.del_cookie(COOKIE, path="/api/")
        return response

    async def session(self, call: Call) -> Any:
        session = self.server.sessions.get(call.session, asyncio.get_running_loop().time()) if call.session else None
        return {"user": call.user.name, "role": call.user.role, "csrf_token": session.csrf if session else None}

    # --- read models -------------------------------------------------------------------------

    async def status(self, call: Call) -> Any:
        op = self.op
        now = op.now_ns()
        return {"mode": op.mode, "configured_mode": op.configured_mode, "started_ns": op.started_ns, "now_ns": now,
                "uptime_s": max(0, (now - op.started_ns) // 1_000_000_000), "timezone": op.timezone,
                "strategies": [self._strategy(name) for name in op.strategy_names()],
                "exchanges": sorted(op.exchanges), "open_orders": len(op.open_orders()),
                "unknown_orders": len(op.unknown_orders()), "store_error": op.store_error,
                "user": {"name": call.user.name, "role": call.user.role}}

    async def strategies(self, call: Call) -> Any:
        return {"items": [self._strategy(name) for name in self.op.strategy_names()]}

    async def _history(self, call: Call, name: str, read: Callable[..., list[Any]],
                       view: Callable[[Any], dict[str, Any]], columns: tuple[str, ...], **filters: Any) -> Any:
        """A page of JSON (its text shared by identical requests for ``read_cache_s``), or the CSV export."""
        args = {**filters, "since_ns": call.query["since"], "until_ns": call.query["until"], **self._window(call)}
        if call.csv:
            return self._csv(name, columns, [view(row) for row in await self._thread(read, **args)], call)

        def page() -> str:  # in the worker thread: read, convert and encode once for everyone asking
            return json.dumps(_page([view(row) for row in read(**args)], call.query), separators=(",", ":"))

        text = await self._shared((name, *map(str, args.values())), page)
        return web.Response(text=text, content_type="application/json")

    async def orders(self, call: Call) -> Any:
        q = call.query
        return await self._history(call, "orders", self.op.order_history, order_view, ORDER_COLUMNS,
                                   strategy=q["strategy"], exchange=q["exchange"], statuses=q["state"])

    async def fills(self, call: Call) -> Any:
        q = call.query
        return await self._history(call, "fills", self.op.fill_history, lambda pair: fill_view(*pair), FILL_COLUMNS,
                                   strategy=q["strategy"], exchange=q["exchange"])

    async def executions(self, call: Call) -> Any:
        return await self._history(call, "executions", self.op.executions, execution_view, EXECUTION_COLUMNS,
                                   strategy=call.query["strategy"])

    async def positions(self, call: Call) -> Any:
        op = self.op
        items = []
        for (exchange, symbol), qty in sorted(op.positions().items()):
            mid = op.last_price(exchange, symbol)
            items.append({"exchange": exchange, "symbol": symbol, "qty": str(qty),
                          "mid": None if mid is None else str(mid),
                          "notional": None if mid is None else str(qty * mid)})
        return {"items": items}

    async def balances(self, call: Call) -> Any:
        found = await self.op.venue_balances()  # /balance's reading: a venue down is named, the others shown
        return {"balances": {name: {"error": held} if isinstance(held, str) else
                             {asset: {"free": str(b.free), "total": str(b.total)} for asset, b in sorted(held.items())}
                             for name, held in found.items()},
                "ts_ns": self.op.now_ns()}

    async def pnl(self, call: Call) -> Any:
        period = call.query["period"]
        since = None if period == "all" else self.op.period_start_ns(period)
        figures = await self._shared(("pnl", since), self.op.pnl, since_ns=since)
        curves = await self._shared(("pnl-curve", since), self._curve, since_ns=since)
        costs = await self._shared(("transfer-costs", since), self.op.ledger().transfer_costs, since_ns=since)
        total = totals(figures.values())
        return {"period": period, "since_ns": since, "timezone": self.op.timezone,
                "strategies": {name: _figures(fig) for name, fig in sorted(figures.items())},
                "total": _figures(total), "transfer_costs": money_map(costs),
                "net_after_transfer_costs": money_map(net_after_transfer_costs(total.net, costs)),
                "curve": {quote: [[ts, str(value)] for ts, value in points] for quote, points in curves.items()}}

    def _curve(self, since_ns: int | None) -> dict[str, list[tuple[int, Decimal]]]:
        """Every strategy's net realized PnL together, per quote asset, after each fill (the ledger's curve)."""
        return next(iter(pnl_curves(self.op.ledger().steps(since_ns=since_ns), since_ns,
                                    per_strategy=False).values()), {})

    async def opportunities(self, call: Call) -> Any:
        q = call.query
        limit = min(q["limit"], self.settings.max_page)
        kept = self.op.opportunities(limit if q["strategy"] is None else self.op.opportunities_kept())
        items = [opportunity_view(o) for o in kept if q["strategy"] in (None, o.strategy)][:limit]
        return {"items": items, "kept": self.op.opportunities_kept()}

    async def risk(self, call: Call) -> Any:
        op = self.op
        trips = await self._thread(op.risk_trips, 20)
        return {"checks": [plain(r) for r in op.risk()],  # name, facts (text) and usage {limit: used, limit, unit}
                "trips": [plain(t) for t in trips],
                "killed": [name for name in op.strategies if op.killed(name)],
                "strategies": [self._strategy(name) for name in op.strategy_names()]}

    async def feeds(self, call: Call) -> Any:
        now = self.op.now_ns()
        return {"items": [{**plain(f), "age_ms": None if f.data_ns is None else max(0, now - f.data_ns) // 1_000_000}
                          for f in self.op.feed_health()], "now_ns": now}

    async def plugins(self, call: Call) -> Any:
        return {"items": [plain(p) for p in self.op.plugins()]}

    async def alerts_(self, call: Call) -> Any:
        limit = min(call.query["limit"], ALERTS_KEPT)
        newest = list(self.alerts)[-limit:][::-1]
        return {"items": [{**plain(a), "level": AlertLevel(a.level).name.lower()} for a in newest]}

    async def audit(self, call: Call) -> Any:
        q = call.query
        entries = await self._thread(self.op.audit_log, q["limit"], q["offset"])
        return _page([plain(e) for e in entries], q)

    # --- backtest reports --------------------------------------------------------------------

    def _reports(self) -> Path:
        return Path(self.server.ctx.data_dir).resolve()

    def _report_dir(self, name: str) -> Path:
        root = self._reports()
        # masked, then cut: the answer is masked whole, when a secret straddling the cut is no longer whole
        missing = ApiError(404, f"no backtest report {self._quoted(REDACTOR.cut(name, 80), name)} in the data "
                                "directory")
        if "/" in name or "\0" in name or name in ("", ".", ".."):  # a NUL: no file name has one (resolve raises)
            raise missing
        try:
            path = (root / name).resolve()
            found = path.parent == root and (path / "report.json").is_file()
        except OSError:  # a name no file can have (longer than the file system's NAME_MAX): no such report
            raise missing from None
        if not found:
            raise missing
        return path

    async def backtests(self, call: Call) -> Any:
        def scan() -> list[dict[str, Any]]:
            root = self._reports()
            found = []
            for report in sorted(root.glob("*/report.json")):
                folder = report.parent
                try:
                    data = json.loads(report.read_text())
                except (OSError, ValueError):
                    continue
                found.append({"name": folder.name, "modified_ns": report.stat().st_mtime_ns,
                              "summary": backtest_summary(data),
                              "png_url": f"{API}/backtests/{folder.name}/chart" if (folder / "pnl.png").is_file()
                              else None})
            return sorted(found, key=lambda r: r["modified_ns"], reverse=True)

        return {"reports": await self._thread(scan)}

    async def backtest(self, call: Call) -> Any:
        folder = self._report_dir(call.request.match_info["name"])

        def read() -> dict[str, Any]:
            markdown = folder / "report.md"
            return {"name": folder.name, "report": json.loads((folder / "report.json").read_text()),
                    "markdown": markdown.read_text() if markdown.is_file() else None,
                    "png_url": f"{API}/backtests/{folder.name}/chart" if (folder / "pnl.png").is_file() else None}

        return await self._thread(read)

    async def backtest_chart(self, call: Call) -> Any:
        chart = self._report_dir(call.request.match_info["name"]) / "pnl.png"
        if not chart.is_file():
            raise ApiError(404, "this report has no chart")
        return web.FileResponse(chart, headers={"Content-Type": "image/png"})

    # --- live --------------------------------------------------------------------------------

    async def stream(self, call: Call) -> Any:
        hub = self.server.events
        request = call.request
        stream, first = hub.open(request.headers.get("Last-Event-ID"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                               "X-Accel-Buffering": "no"})
        write_s = self.settings.events_write_timeout_s

        async def write(text: str) -> None:  # a client that stops reading holds a write until TCP gives up: bounded
            async with asyncio.timeout(write_s):
                await response.write(text.encode())

        try:
            await response.prepare(request)
            await write(f"retry: 2000\n: arbot events epoch {hub.epoch}\n\n")
            if not first:  # a new stream starts with the state, so a page can draw at once
                first.append(hub.frame(hub.seq, "status", json.dumps(hub.status(), separators=(",", ":"))))
            await write("".join(first))
            heartbeat = self.settings.events_heartbeat_s
            while True:
                try:
                    text = await asyncio.wait_for(stream.queue.get(), heartbeat)
                except TimeoutError:
                    text = ": keep-alive\n\n"
                if text is None:
                    break
                if not self.server.still_valid(call):
                    break  # logged out, expired, or its token rotated away: it gets nothing more
                batch = [text]
                while not stream.queue.empty() and len(batch) < 200:
                    more = stream.queue.get_nowait()
                    if more is None:
                        stream.closed = True
                        break
                    batch.append(more)
                await write("".join(batch))
                if stream.closed:
                    break
        except TimeoutError:
            self.streams_stalled += 1
            log.warning("web: an event stream's client took nothing for %g s ([plugins.web] events_write_timeout_s); "
                        "closing it", write_s)
            if request.transport is not None:  # what was half written is lost: the connection goes with it
                request.transport.abort()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            hub.close(stream)
        return response

    # --- control -----------------------------------------------------------------------------

    def _name(self, call: Call) -> str:
        name = call.request.match_info["name"]
        why = self.op.strategies_not_started.get(name)
        if why is not None:
            raise ApiError(409, f"strategy {name!r} was not started ({why}): fix the cause and restart the bot")
        if name not in self.op.strategies:
            raise ApiError(404, f"no strategy named {self._quoted(name)}; strategies: {', '.join(self.op.strategies)}")
        return name

    async def pause(self, call: Call) -> Any:
        name = self._name(call)
        try:
            self.op.pause([name], call.caller)
        except Refused as exc:
            raise ApiError(403, str(exc)) from None
        return self._strategy(name)

    async def resume(self, call: Call) -> Any:
        name = self._name(call)
        return await self._verb(call, "resume", [name]) or self._strategy(name)

    async def observe(self, call: Call) -> Any:
        return await self._verb(call, "observe", ["on" if call.body["on"] else "off"]) or {"mode": self.op.mode}

    async def _verb(self, call: Call, name: str, args: list[str]) -> web.Response | None:
        """``/name args`` of this bot through the command layer: the 202 when it asks first, None once it ran;
        409 when the command layer refused it (the message says why)."""
        reply = await self._through_commands(call, name, args)
        if isinstance(reply, web.Response):
            return reply
        if not reply.ok:
            raise ApiError(409, reply.title)
        return None

    async def _through_commands(self, call: Call, name: str, args: list[str],
                                target: list[str] | None = None) -> Reply | web.Response:
        """Run ``/name args`` through the command layer as the web user, so roles, confirmations and audit are
        chat's: when it asks first, a 202 with ``confirm_token`` and the ``question``; the same call with
        ``confirm_token`` confirms it (only for this user, once, within ``[commands] confirm_ttl_s``), and only with
        the call that returned it: the same command and ``target`` (its arguments unless given: what it acts on,
        free text such as a reason left out)."""
        commands = self.server.ctx.commands
        token = call.body.get("confirm_token")
        now = asyncio.get_running_loop().time()
        acts_on = tuple(args if target is None else target)
        if token:
            asked = self._asked.get(token)
            if asked is not None and asked[1:] != (name, acts_on):  # the token of another verb or strategy
                raise ApiError(409, f"this confirm_token confirms /{asked[1]} {' '.join(asked[2])}, not "
                                    f"/{name} {' '.join(acts_on)}; send it with the call that returned it")
        reply = await (commands.confirm(call.caller, token) if token else commands.dispatch(call.caller, name, args))
        if reply.confirm_token:
            for old in [t for t, (at, _, _) in self._asked.items() if now - at > CONFIRMS_KEPT_S]:
                del self._asked[old]
            self._asked[reply.confirm_token] = (now, name, acts_on)
            return web.json_response({"confirm_token": reply.confirm_token, "question": reply.title,
                                      "text": reply.text}, status=202)
        return reply

    # --- the fleet: read from the fleet link, act through the command layer (roles, confirmation, audit) -----

    def _summary(self, figures: dict[str, StrategyFigures] | None = None,
                 costs: dict[str, Decimal] | None = None) -> dict[str, Any]:
        """This bot's status summary when no fleet link gives one (the same keys a link's heartbeat has): the day's
        ``net`` is the strategies', ``net_after_transfer_costs`` the bot's (as in ``GET /api/v1/pnl``). ``figures``
        and ``costs``: the day's, read before (:meth:`_read_summary`); without them, read here, on the calling
        thread."""
        op = self.op
        day = op.period_start_ns("day")
        if figures is None:
            figures = op.pnl(since_ns=day)
        if costs is None:
            costs = op.ledger().transfer_costs(since_ns=day)
        today = totals(figures.values())
        return {"mode": op.mode, "configured_mode": op.configured_mode, "started_ns": op.started_ns,
                "strategies": {name: {"type": op.strategy_type(name), "state": op.strategy_state(name)}
                               for name in op.strategy_names()},
                "open_orders": len(op.open_orders()), "unknown_orders": len(op.unknown_orders()),
                "store_error": op.store_error, "pnl_today": {
                    "net": money_map(today.net), "transfer_costs": money_map(costs),
                    "net_after_transfer_costs": money_map(net_after_transfer_costs(today.net, costs))}}

    async def _read_summary(self) -> dict[str, Any]:
        """:meth:`_summary` with the day's figures and transfer costs read in a worker thread (the reads
        ``GET /api/v1/pnl?period=day`` shares), the rest on the loop."""
        day = self.op.period_start_ns("day")
        figures = await self._shared(("pnl", day), self.op.pnl, since_ns=day)
        costs = await self._shared(("transfer-costs", day), self.op.ledger().transfer_costs, since_ns=day)
        return self._summary(figures, costs)

    def _bots(self) -> list[str]:
        link, me = self.op.fleet, self.op.bot_name
        return sorted({m.name for m in link.members()} | {me}) if link is not None else [me]

    async def fleet(self, call: Call) -> Any:
        op = self.op
        me, link = op.bot_name, op.fleet
        members = {m.name: {"name": m.name, "self": m.name == me, "alive": m.alive, "seen_ns": m.seen_ns,
                            "status": plain(dict(m.status))} for m in (link.members() if link is not None else [])}
        if me not in members or not members[me]["status"]:
            members[me] = {"name": me, "self": True, "alive": True, "seen_ns": op.now_ns(),
                           "status": await self._read_summary()}
        return {"bot": me, "linked": link is not None, "now_ns": op.now_ns(),
                "members": [members[name] for name in sorted(members)]}

    def _fleet_bot(self, call: Call, name: str) -> str:
        bots = self._bots()
        if name != "all" and name not in bots:
            raise ApiError(404, f"no bot named {self._quoted(name)} in the fleet; bots: {', '.join(bots)}")
        return name

    async def _command(self, call: Call, name: str, args: list[str], target: list[str] | None = None) -> Any:
        """A fleet command through the command layer (:meth:`_through_commands`): 202 with a token when it asks
        for a confirmation, 200 with every bot's answer once run."""
        reply = await self._through_commands(call, name, args, target)
        if isinstance(reply, web.Response):
            return reply
        bots = reply.data.get("bots")
        if not isinstance(bots, dict):  # this bot alone: its own answer (or the command layer's refusal)
            if call.body.get("confirm_token") and not reply.ok:
                raise ApiError(409, reply.title)
            bots = {self.op.bot_name: {"answer": "ok" if reply.ok else "refused", "text": reply.render_text()}}
        gone = reply.data.get("gone")  # "all" left these out: not heard from within the link's liveness window
        return {"ok": reply.ok, "title": reply.title, "text": reply.text,
                "bots": {**{bot: {"answer": part["answer"], "text": part["text"]} for bot, part in bots.items()},
                         **{bot: {"answer": "gone", "text": "not sent: gone from the fleet"}
                            for bot in (gone if isinstance(gone, dict) else {})}}}

    def _fleet_strategy(self, call: Call) -> str:
        """The strategy name of a fleet call's path; 400 for one no strategy can have (markup, quotes, a control
        character, a space, a colon that would name a target): refused here, before any bot is asked, since the
        answers and audit lines of every bot would quote it; quoted escaped (``repr``, a token masked)."""
        name = call.request.match_info["name"]
        if not STRATEGY_NAME.fullmatch(name):
            more = f" ({len(name)} characters)" if len(name) > 64 else ""
            raise ApiError(400, f"{self._quoted(name[:64], name)}{more} {NOT_A_NAME}", audited=NOT_A_NAME)
        return name

    async def fleet_pause(self, call: Call) -> Any:
        bot = self._fleet_bot(call, call.request.match_info["bot"])
        return await self._command(call, "pause", [f"{bot}:{self._fleet_strategy(call)}"])

    async def fleet_resume(self, call: Call) -> Any:
        bot = self._fleet_bot(call, call.request.match_info["bot"])
        return await self._command(call, "resume", [f"{bot}:{self._fleet_strategy(call)}"])

    async def fleet_kill(self, call: Call) -> Any:
        bot = self._fleet_bot(call, call.body["bot"])
        # the reason is one argument, without colons: the command layer reads a lone "all" or "x:" as a target
        reason = " ".join((call.body.get("reason") or "").replace(":", " ").split()) or "web console kill"
        if reason.lower() == "all":
            raise ApiError(400, 'reason: "all" alone reads as "every bot"; say why in more words')
        where = "all" if bot == "all" else f"{bot}:"
        return await self._command(call, "kill", [where, reason], [where])

    async def kill(self, call: Call) -> Any:
        confirmations = self.server.confirmations
        now = asyncio.get_running_loop().time()
        token = call.body.get("confirm_token")
        if token is None:
            reason = call.body.get("reason") or "web console kill"
            n = len(self.op.strategies)  # worded as chat's /kill asks it (bot.builtins.confirm_kill)
            token = confirmations.ask(call.user, "kill", {"reason": reason}, now)
            return web.json_response(
                {"confirm_token": token, "expires_in_s": confirmations.ttl_s,
                 "question": f"Kill switch: pause {'all ' if n > 1 else ''}{counted(n, 'strategy')} and cancel every "
                             f"resting order? Send confirm_token back within {confirmations.ttl_s:g} s."},
                status=202)
        pending, status, why = confirmations.redeem(call.user, "kill", token, now)
        if pending is None:
            raise ApiError(status, why)
        try:
            paused = self.op.kill(pending.args["reason"], call.caller)
        except Refused as exc:
            raise ApiError(403, str(exc)) from None
        return {"killed": True, "paused": paused, "reason": pending.args["reason"]}
