"""The metrics plugin: a real bot on the paper venue, scraped over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families

from bot import hookimpl
from bot.api import Notifier, Strategy
from bot.domain import AlertLevel, FeedState, FeedStatus, OrderIntent, OrderStatus, OrderType, Side, TimeInForce
from bot.settings import option
from plugins.metrics import running_exporter
from tests.helpers.waiting import wait_for


@dataclass(frozen=True)
class TakerSettings:
    exchange: str = option(help="venue")


class Taker(Strategy):
    """Buys once, at market, on the first book it sees."""

    Settings = TakerSettings
    sent = False

    def markets(self):
        return [(self.settings.exchange, "BTC/USD")]

    def on_market(self, event):
        if not self.sent and getattr(event, "best_ask", None) is not None:
            self.sent = True
            self.ctx.submit(OrderIntent(strategy=self.name, exchange=self.settings.exchange, symbol="BTC/USD",
                                        side=Side.BUY, qty=Decimal("0.01"), order_type=OrderType.MARKET,
                                        tif=TimeInForce.IOC, client_order_id="taker-1"))


class taker_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("taker", Taker)


async def scrape(port: int) -> dict[tuple[str, tuple], float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    head, _, body = response.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200"), head
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def value(samples, name, **labels) -> float:
    """The sample ``name`` with ``labels`` and the bot label of bot "alpha"."""
    return samples[(name, tuple(sorted({"bot": "alpha", **labels}.items())))]


async def test_disabled_by_default(make_bot):
    bot = await make_bot("")
    assert running_exporter(bot.operator) is None


async def test_scrape_shows_feed_orders_fills_latency_and_errors(make_bot):
    bot = await make_bot("""
        name = "alpha"
        [exchanges.paper]
        tick_interval_ms = 0
        state_file = ""
        volatility_bps = 0
        [strategies.t]
        type = "taker"
        exchange = "paper"
        [risk.limits]
        max_daily_loss = "50"
        max_orders_per_minute = 30
        [plugins.metrics]
        enabled = true
        port = 0
        latency_sample_every = 1
    """, extra=[("taker", taker_plugin)])
    exporter = running_exporter(bot.operator)
    paper = bot.exchanges["paper"]
    for _ in range(20):
        paper.step()
    await wait_for(lambda: (o := bot.executor.order("taker-1")) is not None and o.status is OrderStatus.FILLED)
    bot.bus.publish(FeedStatus("paper", "BTC/USD", FeedState.RESYNCING, bot.clock.time_ns(), "gap"))
    bot.bus.publish(FeedStatus("paper", "BTC/USD", FeedState.LIVE, bot.clock.time_ns()))
    bot.plugin_failed("taker", "something broke")
    samples = await scrape(exporter.port)

    books = value(samples, "arbot_market_events_total", exchange="paper", symbol="BTC/USD", type="book")
    assert books >= 20
    assert value(samples, "arbot_decision_latency_seconds_count") == books  # every one timed at 1 in 1
    assert value(samples, "arbot_feed_resyncs_total", exchange="paper", symbol="BTC/USD") == 1
    assert value(samples, "arbot_feed_state", exchange="paper", symbol="BTC/USD", state="live") == 1
    assert ("arbot_feed_staleness_seconds", (("bot", "alpha"), ("exchange", "paper"), ("symbol", "BTC/USD"))) in samples
    assert {dict(labels).get("bot") for _, labels in samples} == {"alpha"}  # every sample names its bot
    assert value(samples, "arbot_order_updates_total", exchange="paper", strategy="t", status="filled") == 1
    assert value(samples, "arbot_fills_total", exchange="paper", symbol="BTC/USD", side="buy") >= 1
    assert value(samples, "arbot_filled_base_total", exchange="paper", symbol="BTC/USD", side="buy") == 0.01
    assert value(samples, "arbot_position_base", exchange="paper", symbol="BTC/USD") == 0.01
    assert value(samples, "arbot_strategy_state", strategy="t", state="running") == 1
    assert value(samples, "arbot_plugin_errors_total", plugin="taker") == 1
    assert value(samples, "arbot_alerts_total", kind="plugin_error", level="error") == 1
    # risk limits as numbers (the shipped alert rules divide one by the other)
    assert value(samples, "arbot_risk_limit", check="limits", limit="max_daily_loss.USD", unit="USD") == 50
    loss = bot.operator.risk()[0].usage["max_daily_loss.USD"].used  # the taker's fee, marked to mid
    assert value(samples, "arbot_risk_used", check="limits", limit="max_daily_loss.USD", unit="USD") == float(loss)
    assert value(samples, "arbot_risk_used", check="limits", limit="max_orders_per_minute", unit="orders") == 1
    assert value(samples, "arbot_event_loop_lag_seconds") >= 0


class Lossy(Notifier):
    """A notifier that loses every alert it is handed (a chat lane that never drains), and counts them."""

    lost = 0

    async def send(self, alert):
        self.lost += 1

    def dropped_alerts(self):
        return self.lost


class lossy_plugin:
    @staticmethod
    @hookimpl
    def register_notifiers(register):
        register("lossy", Lossy)


async def test_dropped_alerts_are_counted_for_the_host_queue_and_for_each_notifier(make_bot):
    bot = await make_bot("""
        name = "alpha"
        [alerts]
        queue_size = 10
        [notifiers.chat]
        type = "lossy"
        [plugins.metrics]
        enabled = true
        port = 0
    """, extra=[("lossy", lossy_plugin)])
    exporter = running_exporter(bot.operator)
    for n in range(25):  # queued before the delivery task runs once: the host queue holds 10
        bot.alert(AlertLevel.INFO, "fill", f"fill {n}")
    host_dropped = bot.operator.alerts_dropped()
    assert host_dropped >= 15
    chat = bot.notifiers["chat"]
    await wait_for(lambda: chat.lost >= 10)
    samples = await scrape(exporter.port)
    assert value(samples, "arbot_alerts_dropped_total") == host_dropped
    assert value(samples, "arbot_notifier_alerts_dropped_total", notifier="chat") == chat.lost


async def test_unknown_path_is_404(make_bot):
    bot = await make_bot("[plugins.metrics]\nenabled = true\nport = 0\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", running_exporter(bot.operator).port)
    writer.write(b"GET / HTTP/1.1\r\n\r\n")
    assert (await reader.read()).startswith(b"HTTP/1.1 404")
    writer.close()


async def test_idle_connections_are_capped_and_a_scrape_still_answers(make_bot, caplog):
    bot = await make_bot("[plugins.metrics]\nenabled = true\nport = 0\nmax_connections = 64\n")
    exporter = running_exporter(bot.operator)
    idle = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd"))
    # room for our 1,100 client ends and the capped server ends, not for 1,100 server ends as well: an
    # uncapped server runs out of descriptors ("accept() out of system resource")
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, in_use + 1100 + 64 + 100), hard))
    try:
        for _ in range(1100):  # connect and send nothing: each held a descriptor for 10 s before the cap
            idle.append((await asyncio.open_connection("127.0.0.1", exporter.port))[1])
        await wait_for(lambda: exporter.evicted >= 1100 - 64, timeout_s=30)
        assert len(exporter._open) <= 64
        assert await scrape(exporter.port)
    finally:
        for writer in idle:
            writer.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    errors = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert not errors, [r.getMessage() for r in errors]


async def test_a_connection_that_sends_nothing_is_closed_after_request_timeout_s(make_bot):
    bot = await make_bot("[plugins.metrics]\nenabled = true\nport = 0\nrequest_timeout_s = 0.2\n")
    exporter = running_exporter(bot.operator)
    reader, writer = await asyncio.open_connection("127.0.0.1", exporter.port)
    async with asyncio.timeout(10):
        assert await reader.read() == b""  # closed by the server without an answer
    writer.close()
    await wait_for(lambda: not exporter._open, timeout_s=5)
    assert not exporter._open_from  # by address too


def test_a_fee_only_entry_is_not_counted_as_a_fill():
    """A swap that landed failed applies a fill of quantity 0 carrying its fee: the ledger counts it apart from the
    fills, and so does arbot_fills_total."""
    from types import SimpleNamespace

    from bot.domain import Fill, FillApplied, Liquidity
    from plugins.metrics.exporter import MetricsExporter
    from plugins.metrics.settings import MetricsSettings

    exporter = MetricsExporter(MetricsSettings(), SimpleNamespace(operator=None, bot_name="b"))
    traded = Fill("dex", "SOL/USDC", "a", "t1", Side.BUY, Decimal("150"), Decimal("1"), Decimal("0.000005"), "SOL",
                  Liquidity.TAKER, 1)
    fee_only = Fill("dex", "SOL/USDC", "b", "t2", Side.BUY, Decimal("150"), Decimal("0"), Decimal("0.000005"), "SOL",
                    Liquidity.TAKER, 2)
    exporter._on_fill(FillApplied("s", traded))
    exporter._on_fill(FillApplied("s", fee_only))
    assert dict(exporter.fills) == {("dex", "SOL/USDC", "buy"): 1}


async def test_relayed_alerts_from_ever_new_bot_names_cannot_grow_the_label_set_without_bound(make_bot):
    """A stranger on the bus publishing alerts as ghost1, ghost2, ... (each name matching its subject, so relayed):
    before, each made a new series of arbot_relayed_alerts_total. Past RELAYED_SERIES_MAX series the rest are
    counted under origin and kind "(other)", so the total still adds up."""
    from bot.api import FLEET_ORIGIN
    from plugins.metrics.exporter import RELAYED_SERIES_MAX

    bot = await make_bot("[plugins.metrics]\nenabled = true\nport = 0\n")
    exporter = running_exporter(bot.operator)
    for n in range(RELAYED_SERIES_MAX + 50):
        bot.alert(AlertLevel.WARNING, f"k{n}", f"ghost alert {n}", source="x", **{FLEET_ORIGIN: f"ghost{n}"})
    assert len(exporter.relayed_alerts) == RELAYED_SERIES_MAX + 1
    assert exporter.relayed_alerts[("(other)", "(other)", "warning")] == 50
    assert sum(exporter.relayed_alerts.values()) == RELAYED_SERIES_MAX + 50


async def test_feed_state_published_before_the_exporter_started_is_exported(make_bot):
    """The paper venue publishes its feeds' state as it starts, before the services: a scrape right after the
    start shows each feed's current state (what the ArbotFeedStale rule reads), as /status does."""
    bot = await make_bot("""
        name = "alpha"
        [exchanges.paper]
        tick_interval_ms = 0
        state_file = ""
        [plugins.metrics]
        enabled = true
        port = 0
    """)
    samples = await scrape(running_exporter(bot.operator).port)
    views = {(v.exchange, v.symbol): v.state for v in bot.operator.feed_health()}
    assert views and set(views.values()) == {"live"}
    for (exchange, symbol), state in views.items():
        for s in ("live", "stale", "resyncing"):
            assert value(samples, "arbot_feed_state", exchange=exchange, symbol=symbol, state=s) == (s == state)
    bot.bus.publish(FeedStatus("paper", "BTC/USD", FeedState.STALE, bot.clock.time_ns(), "no data"))
    samples = await scrape(running_exporter(bot.operator).port)
    assert value(samples, "arbot_feed_state", exchange="paper", symbol="BTC/USD", state="stale") == 1
    assert value(samples, "arbot_feed_state", exchange="paper", symbol="BTC/USD", state="live") == 0


async def test_rejected_and_failed_orders_are_exported_from_zero_before_the_first_one(make_bot):
    """A counter first seen at 2 is no increase to Prometheus: the ArbotOrdersFailing rule
    (increase(...{status=~"rejected|failed"}[10m]) >= 3) missed a first burst of rejections, such as a grid
    whose every order a venue refuses (no balance, a key without trading permission). Each strategy's venues
    are exported at 0 from the first scrape, so the burst is an increase."""
    bot = await make_bot("""
        name = "alpha"
        [exchanges.paper]
        tick_interval_ms = 0
        state_file = ""
        initial_balances = {USD = "0", BTC = "0"}
        [strategies.g]
        type = "grid"
        exchange = "paper"
        symbol = "BTC/USD"
        lower = "28000"
        upper = "32000"
        levels = 4
        order_size = "0.1"
        [plugins.metrics]
        enabled = true
        port = 0
    """)
    port = running_exporter(bot.operator).port
    before = await scrape(port)
    for status in ("rejected", "failed"):
        assert value(before, "arbot_order_updates_total", exchange="paper", strategy="g", status=status) == 0
    for _ in range(5):
        bot.exchanges["paper"].step()
    rejected = lambda: [o for o in bot.store.order_page(limit=50) if o.status is OrderStatus.REJECTED]  # noqa: E731
    await wait_for(lambda: len(rejected()) >= 2)
    after = await scrape(port)
    count = len(rejected())
    assert value(after, "arbot_order_updates_total", exchange="paper", strategy="g", status="rejected") == count


async def test_the_pnl_refresh_outlives_a_store_that_fails_for_a_while(make_bot, monkeypatch):
    """A store that cannot be read for a while (PostgreSQL restarting, a locked SQLite file) raised out of the
    periodic refresh and ended it: realized PnL, fees and risk events stayed frozen for the rest of the run. The
    refresh logs the failure, keeps the last figures, and carries on once the store answers."""
    from bot.store import StoreError

    bot = await make_bot("[plugins.metrics]\nenabled = true\nport = 0\npnl_every_s = 0.1\n")
    exporter = running_exporter(bot.operator)
    store = bot.operator.store
    failures = []

    def unreadable():
        failures.append(1)
        raise StoreError("store sqlite:///arbot.db: cannot read: database is locked")

    monkeypatch.setattr(store, "risk_event_counts", unreadable)
    await wait_for(lambda: len(failures) >= 3, timeout_s=10)
    monkeypatch.setattr(store, "risk_event_counts", lambda: {("limits", "veto"): 3})
    await wait_for(lambda: exporter.risk_events == {("limits", "veto"): 3}, timeout_s=10)


async def test_open_orders_is_zero_not_missing_for_a_strategy_with_none(make_bot):
    """A strategy's open orders going to none removed its arbot_open_orders series: the dashboard's "Open orders"
    showed a gap, not 0, and `arbot_open_orders == 0` matched nothing. Each strategy's venues are exported, 0
    included."""
    bot = await make_bot("""
        name = "alpha"
        [exchanges.paper]
        tick_interval_ms = 0
        state_file = ""
        [strategies.t]
        type = "taker"
        exchange = "paper"
        [plugins.metrics]
        enabled = true
        port = 0
    """, extra=[("taker", taker_plugin)])
    port = running_exporter(bot.operator).port
    assert value(await scrape(port), "arbot_open_orders", exchange="paper", strategy="t") == 0
    for _ in range(5):
        bot.exchanges["paper"].step()
    await wait_for(lambda: (o := bot.executor.order("taker-1")) is not None and o.status is OrderStatus.FILLED)
    assert value(await scrape(port), "arbot_open_orders", exchange="paper", strategy="t") == 0


class _PaperThatWillNotStart:
    """A paper venue whose start() raises (its connection refused)."""

    @staticmethod
    @hookimpl
    def register_exchanges(register):
        from plugins.paper.exchange import PaperExchange

        class Down(PaperExchange):
            async def start(self) -> None:
                raise ConnectionError("venue down")

        register("paper-down", Down)


async def test_a_strategy_left_out_at_start_is_exported_as_failed(make_bot):
    """Its venue did not start, so the strategy was left out of the run: `arbot_strategy_state{state="failed"}` is 1
    for it from the first scrape (what ArbotStrategyFailed fires on), never no series at all."""
    bot = await make_bot("""
        name = "alpha"
        [exchanges.down]
        type = "paper-down"
        [strategies.t]
        type = "taker"
        exchange = "down"
        [plugins.metrics]
        enabled = true
        port = 0
    """, extra=[("taker", taker_plugin), ("down", _PaperThatWillNotStart)])
    assert "t" not in bot.strategies
    samples = await scrape(running_exporter(bot.operator).port)
    assert value(samples, "arbot_strategy_state", strategy="t", state="failed") == 1
    assert value(samples, "arbot_strategy_state", strategy="t", state="running") == 0


async def test_a_label_value_that_is_not_unicode_text_cannot_break_every_scrape(make_bot):
    # a name from the bus is any str, a lone surrogate ("\ud800" in a peer's JSON) included: it cannot be written
    # as UTF-8, so generate_latest raised on every scrape from then on and Prometheus saw the bot down
    from bot.api import FLEET_ORIGIN

    bot = await make_bot("name = \"alpha\"\n[plugins.metrics]\nenabled = true\nport = 0\n")
    exporter = running_exporter(bot.operator)
    bot.alert(AlertLevel.WARNING, "odd\ud800kind", "ghost alert", source="x", **{FLEET_ORIGIN: "gh\udcffost"})
    bot.bus.publish(FeedStatus("paper", 'B"T\\C\n/\ud83dUSD', FeedState.RESYNCING, bot.clock.time_ns(), "gap"))
    samples = await scrape(exporter.port)  # answers 200, and parses
    relayed = value(samples, "arbot_relayed_alerts_total", origin="gh\ufffdost", kind="odd\ufffdkind", level="warning")
    assert relayed == 1
    assert value(samples, "arbot_feed_resyncs_total", exchange="paper", symbol='B"T\\C\n/\ufffdUSD') == 1
    promtool = shutil.which("promtool")
    if promtool:  # the real checker, where installed: HELP and TYPE lines, escaping, names
        reader, writer = await asyncio.open_connection("127.0.0.1", exporter.port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        body = (await reader.read()).partition(b"\r\n\r\n")[2]
        writer.close()
        checked = await asyncio.create_subprocess_exec(promtool, "check", "metrics", stdin=asyncio.subprocess.PIPE,
                                                       stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await checked.communicate(body)
        assert checked.returncode == 0 and not out and not err, (out, err)


async def test_filled_quantity_is_summed_exactly_and_becomes_a_float_only_when_scraped(make_bot):
    # the quantities were summed as floats: ten fills of 0.1 exported 0.9999999999999999, and the error grew
    # with every fill of a long-running bot
    from bot.domain import Fill, FillApplied, Liquidity

    bot = await make_bot("name = \"alpha\"\n[plugins.metrics]\nenabled = true\nport = 0\n")
    exporter = running_exporter(bot.operator)
    for n in range(10):
        bot.bus.publish(FillApplied("s", Fill("paper", "BTC/USD", f"o{n}", f"t{n}", Side.SELL, Decimal("30000"),
                                              Decimal("0.1"), Decimal("0"), "USD", Liquidity.MAKER, n + 1)))
    samples = await scrape(exporter.port)
    assert value(samples, "arbot_filled_base_total", exchange="paper", symbol="BTC/USD", side="sell") == 1.0
    assert value(samples, "arbot_fills_total", exchange="paper", symbol="BTC/USD", side="sell") == 10


async def test_a_flood_from_one_address_evicts_its_own_connections_not_a_scrape_from_another(make_bot):
    # past max_connections the oldest connection went, whoever's it was: one address opening connections fast
    # closed Prometheus's scrape between its connect and its request, and the bot looked down
    bot = await make_bot("[plugins.metrics]\nenabled = true\nport = 0\nmax_connections = 8\n"
                         "max_connections_per_address = 2\n")
    exporter = running_exporter(bot.operator)
    reader, writer = await asyncio.open_connection("127.0.0.1", exporter.port, local_addr=("127.0.0.2", 0))
    await wait_for(lambda: len(exporter._open) == 1, what="the scrape's connection accepted")
    flood = [(await asyncio.open_connection("127.0.0.1", exporter.port))[1] for _ in range(20)]
    await wait_for(lambda: exporter.evicted >= 18, what="the flood evicting itself")
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    async with asyncio.timeout(5):
        assert (await reader.read()).startswith(b"HTTP/1.1 200")
    writer.close()
    for other in flood:
        other.close()


class Vague(Notifier):
    """A notifier whose count of lost alerts is not a number (a plugin's bug)."""

    async def send(self, alert):
        pass

    def dropped_alerts(self):
        return "a few"


class vague_plugin:
    @staticmethod
    @hookimpl
    def register_notifiers(register):
        register("vague", Vague)


async def test_a_scrape_that_cannot_be_built_answers_500_with_the_reason_and_logs_it(make_bot, caplog):
    # one plugin's bad figure made generate_latest raise: the connection closed with no answer at all, so
    # Prometheus showed "EOF" and the bot's log only asyncio's "Unhandled exception in client_connected_cb"
    bot = await make_bot("[notifiers.chat]\ntype = \"vague\"\n[plugins.metrics]\nenabled = true\nport = 0\n",
                         extra=[("vague", vague_plugin)])
    exporter = running_exporter(bot.operator)
    for _ in range(2):
        reader, writer = await asyncio.open_connection("127.0.0.1", exporter.port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        async with asyncio.timeout(5):
            response = await reader.read()
        writer.close()
        assert response.startswith(b"HTTP/1.1 500"), response
        assert b"arbot_notifier_alerts_dropped" in response and b"a few" in response
    logged = [r for r in caplog.records if r.name == "arbot.metrics" and r.levelname == "ERROR"]
    assert len(logged) == 1 and "a few" in logged[0].getMessage()  # once, not on every scrape
    assert "client_connected_cb" not in caplog.text


async def test_a_services_own_counters_and_gauges_are_exported_without_naming_it(make_bot):
    """A service's figures were readable only through its own object; exporting one service's would tie the
    metrics plugin to it by name. Any service's ``counters()`` and ``gauges()`` are exported under its name; one
    whose figures raise is left out of that scrape (and reported against its plugin), the scrape still answers."""
    from tests.fakes.venue import plugin as venue_plugin
    from tests.test_services import CONFIG, tally_plugin

    bot = await make_bot('name = "alpha"\n' + CONFIG
                         + "[plugins.metrics]\nenabled = true\nport = 0\n",
                         extra=[("venue", venue_plugin), ("tally", tally_plugin)])
    tally = bot.operator.service("tally")
    tally.count = 7
    samples = await scrape(running_exporter(bot.operator).port)
    assert value(samples, "arbot_service_counter_total", service="tally", figure="seen") == 7
    assert value(samples, "arbot_service_gauge", service="tally", figure="backlog") == 2
    assert value(samples, "arbot_service_gauge", service="tally", figure="ratio") == 0.25
    tally.counters = None  # not callable: it raises when asked
    samples = await scrape(running_exporter(bot.operator).port)
    assert ("arbot_service_counter_total", (("bot", "alpha"), ("figure", "seen"), ("service", "tally"))) not in samples
    assert value(samples, "arbot_service_gauge", service="tally", figure="backlog") == 2
