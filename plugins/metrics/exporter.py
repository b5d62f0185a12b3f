"""The Prometheus exporter: counters fed from the bus, gauges read at scrape time, one HTTP endpoint.

Nothing here touches the hot path beyond an integer increment per event: counts live in plain dicts
and are turned into Prometheus families only when scraped. The decision latency is sampled: one book
update in ``latency_sample_every`` is timed from the first bus subscriber to the last one of its
market, which is where the strategies run (the bus calls general subscribers before per-market ones).
Money is Decimal inside the bot; it becomes a float only here, at the exposition edge. Every sample
carries a ``bot`` label (``[bot] name``), so the bots of a fleet can share one Prometheus.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.api import Alert, BookUpdate, FeedState, FeedStatus, FillApplied, OrderStatus, OrderUpdate, Trade, alert_origin
from bot.api.kit import REDACTOR, ClientAddresses
from bot.api.ledger import is_trade

from .settings import MetricsSettings

if TYPE_CHECKING:
    from bot.api import Context

log = logging.getLogger("arbot.metrics")

FEED_STATES = [s.value for s in FeedState]
LAG_PROBE_S = 0.25
LAG_WINDOW_S = 60.0


ALERTED_ORDER_STATUSES = (OrderStatus.REJECTED.value, OrderStatus.FAILED.value)
"""Order statuses the shipped rules count (ArbotOrdersFailing): exported at 0 for each strategy's venues."""

MAX_REQUEST_BYTES = 16 * 1024
"""Largest request head read; a scrape's is a few hundred bytes."""

RELAYED_SERIES_MAX = 256
"""Series of ``arbot_relayed_alerts_total`` (origin, kind, level) at most; the rest count under origin and kind
``(other)``: the origin and kind of a relayed alert come from the bus, so their number is not ours to bound."""

SURROGATE = re.compile("[\ud800-\udfff]")


def label_text(value: str) -> str:
    """A label value as UTF-8 can carry it: a name from the bus is any str, a lone surrogate (``"\\ud800"`` in a
    peer's JSON) included, and one would make every scrape fail; it is shown as U+FFFD."""
    return value if value.isascii() else SURROGATE.sub("\ufffd", value)


def forwarded_for(head: bytes) -> list[str]:
    """The X-Forwarded-For lines of a request's head, in order."""
    lines = head.decode("latin-1").split("\r\n")[1:]
    return [value for name, sep, value in (line.partition(":") for line in lines)
            if sep and name.strip().lower() == "x-forwarded-for"]


class MetricsExporter:
    def __init__(self, settings: MetricsSettings, ctx: Context):
        self.settings = settings
        self.ctx = ctx
        self.operator = ctx.operator
        self.bot = ctx.bot_name
        self.registry = CollectorRegistry(auto_describe=False)
        self.decision_latency = Histogram(
            "arbot_decision_latency_seconds", "Book update to the end of strategy dispatch (sampled)",
            labelnames=("bot",), buckets=(5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2),
            registry=self.registry).labels(bot=self.bot)
        self.registry.register(self)  # the collector below
        self.market_events: Counter[tuple[str, str, str]] = Counter()
        self.feed_state: dict[tuple[str, str], str] = {}
        """The state each feed last published while this exporter ran: only to count entries into resyncing."""
        self.resyncs: Counter[tuple[str, str]] = Counter()
        self.orders: Counter[tuple[str, str, str]] = Counter()
        self.fills: Counter[tuple[str, str, str]] = Counter()
        self.fill_qty: defaultdict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        """Filled base quantity, summed exactly: a float only in the exposition."""
        self.alerts: Counter[tuple[str, str]] = Counter()
        """This bot's own alerts by (kind, level)."""
        self.relayed_alerts: Counter[tuple[str, str, str]] = Counter()
        """Other fleet bots' alerts re-emitted here by the fleet relay, by (origin bot, kind, level): each is its
        origin's own alert, counted in that bot's arbot_alerts_total, never in this one's."""
        self.realized: dict[tuple[str, str], float] = {}
        self.fees: dict[tuple[str, str], float] = {}
        self.unrealized: dict[tuple[str, str], float] = {}
        self.risk_events: dict[tuple[str, str], int] = {}
        self._sample_every = settings.latency_sample_every
        self._seen = 0
        self._started_at = 0
        self._unsubscribe: list[Callable[[], None]] = []
        self._strategy_venues: set[tuple[str, str]] = set()
        """(exchange, strategy) of each strategy's markets, read at start: exported even at 0."""
        self._server: asyncio.Server | None = None
        self.port = 0
        self.clients = ClientAddresses(settings.trusted_proxies)
        """Who a connection comes from, for max_connections_per_address (:meth:`_serve`)."""
        self._open: dict[asyncio.StreamWriter, str | None] = {}
        """Connections being served, oldest first, with their client's key (at most ``max_connections``, and
        ``max_connections_per_address`` of one client); None for a trusted proxy's until its request names one."""
        self._open_from: dict[str, dict[asyncio.StreamWriter, None]] = {}
        """The same connections by client, oldest first: a client's oldest is found without a scan."""
        self.evicted = 0
        self._scrape_failing = False
        self.loop_lag_s = 0.0  # the worst lateness of a short sleep over the last LAG_WINDOW_S

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        bus, owner = self.ctx.bus, self.ctx.name
        subs = [
            bus.subscribe(BookUpdate, self._before_strategies, owner=owner),
            bus.subscribe(Trade, self._count, owner=owner),
            bus.subscribe(FeedStatus, self._on_feed, owner=owner),
            bus.subscribe(OrderUpdate, self._on_order, owner=owner),
            bus.subscribe(FillApplied, self._on_fill, owner=owner),
        ]
        op = self.operator
        markets: set[tuple[str, str]] = set()
        for name, strategy in op.strategies.items():
            strategy_markets = op.ask(strategy, "markets") or []
            markets.update(strategy_markets)
            for exchange, _ in strategy_markets:
                self._strategy_venues.add((exchange, name))
                # exported from 0 before the first one: a counter Prometheus first sees at 2 is no increase, so
                # a first burst of rejections would never reach ArbotOrdersFailing
                for status in ALERTED_ORDER_STATUSES:
                    self.orders.setdefault((exchange, name, status), 0)
        for exchange, symbol in sorted(markets):
            subs.append(bus.subscribe(BookUpdate, self._after_strategies, owner=owner, exchange=exchange,
                                      symbol=symbol))
        subs.append(self.ctx.subscribe_alerts(self._on_alert))
        self._unsubscribe = subs
        self._server = await asyncio.start_server(self._serve, self.settings.host, self.settings.port,
                                                  limit=MAX_REQUEST_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]
        self.refresh_from_store()
        self.ctx.create_task(self._refresh_loop(), what="pnl refresh")
        self.ctx.create_task(self._lag_loop(), what="event loop lag")
        log.info("metrics on http://%s:%d/metrics", self.settings.host, self.port)

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- from the bus (cheap: an increment, a sampled clock read) ------------------------------

    def _before_strategies(self, event: BookUpdate) -> None:
        self.market_events[(event.exchange, event.symbol, "book")] += 1
        self._seen += 1
        if self._seen >= self._sample_every:
            self._seen = 0
            self._started_at = time.perf_counter_ns()

    def _after_strategies(self, event: BookUpdate) -> None:
        if self._started_at:
            self.decision_latency.observe((time.perf_counter_ns() - self._started_at) / 1e9)
            self._started_at = 0

    def _count(self, event: Trade) -> None:
        self.market_events[(event.exchange, event.symbol, "trade")] += 1

    def _on_feed(self, event: FeedStatus) -> None:
        key = (event.exchange, event.symbol)
        self.market_events[(event.exchange, event.symbol, "status")] += 1
        if event.state is FeedState.RESYNCING and self.feed_state.get(key) != FeedState.RESYNCING.value:
            self.resyncs[key] += 1
        self.feed_state[key] = event.state.value

    def _on_order(self, update: OrderUpdate) -> None:
        self.orders[(update.exchange, update.strategy, update.status.value)] += 1

    def _on_fill(self, applied: FillApplied) -> None:
        fill = applied.fill  # each fill once, as the executor applied it
        if not is_trade(fill):  # a fee alone (a swap that landed failed): a cost, not a fill, as the ledger counts
            return
        key = (fill.exchange, fill.symbol, fill.side.value)
        self.fills[key] += 1
        self.fill_qty[key] += fill.qty

    def _on_alert(self, alert: Alert) -> None:
        origin, _ = alert_origin(alert, self.bot)
        if origin:  # relayed from another bot of the fleet: that bot owns (and exports) the count
            key = (origin, alert.kind, alert.level.name.lower())
            if key not in self.relayed_alerts and len(self.relayed_alerts) >= RELAYED_SERIES_MAX:
                key = ("(other)", "(other)", key[2])  # names come from the bus: a stranger could make any number
            self.relayed_alerts[key] += 1
            return
        self.alerts[(alert.kind, alert.level.name.lower())] += 1

    # --- from the store (periodic, off the hot path) -------------------------------------------

    def refresh_from_store(self) -> None:
        figures = self.operator.pnl()
        self.realized = {(s, asset): float(v) for s, fig in figures.items() for asset, v in fig.realized.items()}
        self.fees = {(s, asset): float(v) for s, fig in figures.items() for asset, v in fig.fees_paid.items()}
        self.unrealized = {(s, asset): float(v) for s, fig in figures.items() for asset, v in fig.unrealized.items()}
        self.risk_events = self.operator.store.risk_event_counts()

    async def _refresh_loop(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.settings.pnl_every_s)
            try:
                self.refresh_from_store()
            except Exception as exc:  # a store down for a while: keep the last figures, try again next time
                if not failing:
                    log.warning("metrics: PnL and risk events not refreshed from the store (%s); the last figures "
                                "stay until it answers", exc)
                failing = True
                continue
            if failing:
                log.info("metrics: PnL and risk events refreshed from the store again")
                failing = False

    async def _lag_loop(self) -> None:
        """How late a short sleep wakes: what every feed, order and timer waited behind a blocked loop."""
        worst: deque[tuple[float, float]] = deque()  # (woke at, lateness)
        while True:
            asked = time.monotonic()
            await asyncio.sleep(LAG_PROBE_S)
            woke = time.monotonic()
            late = max(0.0, woke - asked - LAG_PROBE_S)
            while worst and worst[-1][1] <= late:  # a smaller, older lateness can no longer be the worst
                worst.pop()
            worst.append((woke, late))
            while worst[0][0] < woke - LAG_WINDOW_S:
                worst.popleft()
            self.loop_lag_s = worst[0][1]

    # --- the collector: families built at scrape time -----------------------------------------

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        """Every family of :meth:`families`, each sample labelled with this bot's name."""
        bot = self.bot
        for family in self.families():
            family.samples = [sample._replace(labels={"bot": bot, **{name: label_text(text) for name, text
                                                                     in sample.labels.items()}})
                              for sample in family.samples]
            yield family

    def families(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        op = self.operator
        key: tuple[str, ...]
        now_ns = op.now_ns()
        g = GaugeMetricFamily("arbot_feed_staleness_seconds", "Age of the latest book update",
                              labels=["exchange", "symbol"])
        for (exchange, symbol), ts_ns in op.feeds().items():
            g.add_metric([exchange, symbol], max(0.0, (now_ns - ts_ns) / 1e9))
        yield g
        g = GaugeMetricFamily("arbot_feed_state", "1 for the feed's current state",
                              labels=["exchange", "symbol", "state"])
        for feed in op.feed_health():  # the host's view: it holds states published before this exporter started
            for s in FEED_STATES:
                g.add_metric([feed.exchange, feed.symbol, s], 1.0 if s == feed.state else 0.0)
        yield g
        c = CounterMetricFamily("arbot_feed_resyncs", "Times a feed went into resync", labels=["exchange", "symbol"])
        for key, n in self.resyncs.items():
            c.add_metric(list(key), n)
        yield c
        c = CounterMetricFamily("arbot_market_events", "Market events seen on the bus",
                                labels=["exchange", "symbol", "type"])
        for key, n in self.market_events.items():
            c.add_metric(list(key), n)
        yield c
        c = CounterMetricFamily("arbot_order_updates", "Order updates by the status reached",
                                labels=["exchange", "strategy", "status"])
        for key, n in self.orders.items():
            c.add_metric(list(key), n)
        yield c
        g = GaugeMetricFamily("arbot_open_orders", "Orders sent or being sent, not final",
                              labels=["exchange", "strategy"])
        open_counts = Counter((o.exchange, o.strategy) for o in op.open_orders())
        for key in self._strategy_venues:  # none open is 0, not a series gone (a gap on the dashboard)
            open_counts[key] += 0
        for key, n in open_counts.items():
            g.add_metric(list(key), n)
        yield g
        c = CounterMetricFamily("arbot_fills", "Fills of our orders (trades: a fee-only entry is not one)",
                                labels=["exchange", "symbol", "side"])
        q = CounterMetricFamily("arbot_filled_base", "Filled quantity (base units)",
                                labels=["exchange", "symbol", "side"])
        for key, n in self.fills.items():
            c.add_metric(list(key), n)
            q.add_metric(list(key), float(self.fill_qty[key]))
        yield c
        yield q
        g = GaugeMetricFamily("arbot_position_base", "Net position from our fills (base units)",
                              labels=["exchange", "symbol"])
        for (exchange, symbol), qty in op.positions().items():
            g.add_metric([exchange, symbol], float(qty))
        yield g
        g = GaugeMetricFamily("arbot_realized_pnl", "Realized PnL before fees (the ledger's)",
                              labels=["strategy", "asset"])
        for key, v in self.realized.items():
            g.add_metric(list(key), v)
        yield g
        g = GaugeMetricFamily("arbot_unrealized_pnl", "Open lots marked to mid (the ledger)",
                              labels=["strategy", "asset"])
        for key, v in self.unrealized.items():
            g.add_metric(list(key), v)
        yield g
        g = GaugeMetricFamily("arbot_fees_paid", "Fees paid", labels=["strategy", "asset"])
        for key, v in self.fees.items():
            g.add_metric(list(key), v)
        yield g
        g = GaugeMetricFamily("arbot_strategy_state", "1 for the strategy's state", labels=["strategy", "state"])
        for name in op.strategy_names():  # one left out at start too: failed, so ArbotStrategyFailed fires
            state = op.strategy_state(name).split(" ")[0]
            for s in ("running", "paused", "failed"):
                g.add_metric([name, s], 1.0 if s == state else 0.0)
        yield g
        c = CounterMetricFamily("arbot_risk_events", "Stored risk events (vetoes, trips)", labels=["check", "action"])
        for key, n in self.risk_events.items():
            c.add_metric([str(k) for k in key], n)
        yield c
        c = CounterMetricFamily("arbot_plugin_errors", "Errors reported against each plugin", labels=["plugin"])
        for info in op.plugins():
            c.add_metric([info.name], len(info.errors))
        yield c
        used = GaugeMetricFamily("arbot_risk_used", "How much of a risk limit is used (in its unit)",
                                 labels=["check", "limit", "unit"])
        limit = GaugeMetricFamily("arbot_risk_limit", "A risk limit (in its unit)", labels=["check", "limit", "unit"])
        for view in op.risk():
            for name, use in view.usage.items():
                used.add_metric([view.name, name, use.unit], float(use.used))
                limit.add_metric([view.name, name, use.unit], float(use.limit))
        yield used
        yield limit
        yield GaugeMetricFamily("arbot_event_loop_lag_seconds",
                                f"Worst lateness of a {LAG_PROBE_S} s sleep over the last {LAG_WINDOW_S:.0f} s",
                                value=self.loop_lag_s)
        c = CounterMetricFamily("arbot_alerts", "Alerts this bot raised (not other bots' alerts relayed here)",
                                labels=["kind", "level"])
        for key, n in self.alerts.items():
            c.add_metric(list(key), n)
        yield c
        c = CounterMetricFamily("arbot_relayed_alerts", "Other fleet bots' alerts relayed here (relay_alerts)",
                                labels=["origin", "kind", "level"])
        for key, n in self.relayed_alerts.items():
            c.add_metric(list(key), n)
        yield c
        yield CounterMetricFamily("arbot_alerts_dropped", "Alerts lost before any chat took them (alert queue "
                                  "full, or every notifier refused them)", value=op.alerts_dropped())
        c = CounterMetricFamily("arbot_notifier_alerts_dropped", "Alert messages a notifier lost after taking "
                                "them (its own queue full, a send given up or refused)", labels=["notifier"])
        for name, notifier in op.notifiers.items():
            dropped = op.ask(notifier, "dropped_alerts")
            if dropped is not None:  # None: it raised, and the host reported it against its plugin
                c.add_metric([name], dropped)
        yield c
        # every service's own figures, under its name: this exporter knows no service (the stream's refusals...)
        c = CounterMetricFamily("arbot_service_counter", "A service's own count since it started (Service.counters)",
                                labels=["service", "figure"])
        g = GaugeMetricFamily("arbot_service_gauge", "A service's own level now (Service.gauges)",
                              labels=["service", "figure"])
        for name, service in op.services.items():
            for family, method in ((c, "counters"), (g, "gauges")):
                figures = op.ask(service, method)
                for figure, number in (figures or {}).items():  # None: it raised, reported against its plugin
                    family.add_metric([name, figure], float(number))
        yield c
        yield g

    # --- HTTP -------------------------------------------------------------------------------------

    def _forget(self, writer: asyncio.StreamWriter) -> None:
        address = self._open.pop(writer, None)
        if address is not None:
            same = self._open_from[address]
            del same[writer]
            if not same:
                del self._open_from[address]

    def _exposition(self) -> tuple[bytes, bytes, bytes]:
        """The scrape's body, status and content type: a 500 naming the reason when it cannot be built (a plugin's
        figure that is no number), logged once until a scrape succeeds again."""
        try:
            body = generate_latest(self.registry)
        except Exception as exc:
            reason = REDACTOR.redact(f"{type(exc).__name__}: {exc}")
            if not self._scrape_failing:
                self._scrape_failing = True
                log.error("metrics: a scrape could not be built, Prometheus gets a 500 until it can: %s", reason)
            return f"metrics could not be collected: {reason}\n".encode(), b"500 Internal Server Error", b"text/plain"
        if self._scrape_failing:
            self._scrape_failing = False
            log.info("metrics: scrapes are built again")
        return body, b"200 OK", CONTENT_TYPE_LATEST.encode()

    def _count_under(self, writer: asyncio.StreamWriter, address: str) -> None:
        """Count ``writer`` under its client's key; past ``max_connections_per_address`` that client's oldest goes."""
        if writer not in self._open:  # evicted while its request came in
            return
        same = self._open_from.setdefault(address, {})
        if len(same) >= self.settings.max_connections_per_address:
            self._evict(next(iter(same)))
            same = self._open_from.setdefault(address, {})
        self._open[writer] = address
        same[writer] = None

    def _evict(self, writer: asyncio.StreamWriter) -> None:
        self._forget(writer)
        writer.transport.abort()
        self.evicted += 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # each connection holds a file descriptor: beyond the cap the oldest goes (an idle one, as a scrape is
        # answered in milliseconds), so idle connections neither exhaust the process's descriptors nor keep a
        # scrape out; the same address's oldest first, so one address's flood cannot close another's scrape
        # (a client: its IPv4 address or IPv6 /64; a trusted proxy's connection is counted under the client its
        # request names once it arrives, in max_connections alone until then)
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else None
        address, proxy = self.clients.peer(host)
        if len(self._open) >= self.settings.max_connections and (
                proxy or len(self._open_from.get(address, ())) < self.settings.max_connections_per_address):
            self._evict(next(iter(self._open)))
        self._open[writer] = None
        if not proxy:
            self._count_under(writer, address)
        try:
            async with asyncio.timeout(self.settings.request_timeout_s):
                head = await reader.readuntil(b"\r\n\r\n")
            if proxy:
                self._count_under(writer, self.clients.client(host, forwarded_for(head)))
            method, path = (head.split(b"\r\n", 1)[0].split(b" ") + [b"", b""])[:2]
            if method == b"GET" and path.split(b"?")[0] == b"/metrics":
                body, status, ctype = self._exposition()
            else:
                body, status, ctype = b"see /metrics\n", b"404 Not Found", b"text/plain"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            self._forget(writer)
            writer.close()
