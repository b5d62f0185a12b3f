"""The running bot: builds components from config and plugins, starts and stops them in order.

Start order: store -> notifiers (so every later problem can be heard) -> exchanges -> executor
and recovery of orders left in flight -> strategies -> watchdog (dead-man alerts) -> scheduler ->
control channel -> services -> ``startup`` hook. Stop runs it backwards.

Plugins never see :class:`Bot`: components get a :class:`~bot.api.Context`, and commands, jobs,
services and the ``startup``/``shutdown`` hooks get the :class:`HostOperator` below. A component
whose constructor or ``start`` raises is reported with its plugin's name and left out; the bot runs
without it (and without strategies that need it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import threading
import time
import warnings
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from types import MappingProxyType
from typing import Any, TypeVar, overload

from .alerts import Alerts
from .api import (
    ROLE_RANK,
    VERB_ROLES,
    AuditEntry,
    Caller,
    Command,
    Component,
    Context,
    Exchange,
    ExecutionView,
    FeedView,
    FleetLink,
    Notifier,
    Operator,
    PluginView,
    Refused,
    RiskTrip,
    RiskView,
    Service,
    Strategy,
)
from .api._core import settings_of_class
from .bus import Bus
from .clock import Clock
from .commands import CommandTable
from .config import Config
from .control import ControlServer
from .dispatch import Dispatch
from .domain import (
    BPS,
    Alert,
    AlertLevel,
    BookUpdate,
    FeedStatus,
    Fill,
    Opportunity,
    Order,
    OrderIntent,
    OrderReport,
    OrderType,
    PoolUpdate,
    Side,
    TimeInForce,
)
from .execution import Executor
from .filemodes import make_private
from .identity import StoreIdentity, StoreMismatch, StoreWatch, check_strategy_names, establish
from .ledger import Ledger, StrategyFigures, period_start_ns
from .logs import describe_failure
from .markouts import MarkoutSampler
from .opportunities import OpportunityLog
from .plugins import ComponentLoadError, PluginInfo, PluginSet, Registry, collect_jobs
from .portfolio import Portfolio
from .quotelimits import strategy_quotes
from .ratelimit import backoff_delay
from .risk import FailedToStart, RiskGate, Veto
from .scheduler import Scheduler
from .settings import resolve_paths
from .store import Store
from .tasks import HEALTHY_AFTER_S, Tasks
from .units import counted, span
from .watchdog import Watchdog
from .writer import StoreWriter, WriterClosed, describe_store_error, is_store_closed, is_store_error

log = logging.getLogger("arbot")
T = TypeVar("T")


class StartInterrupted(Exception):
    """A stop was asked for (or ``--for`` ran out) before :meth:`Bot.start` finished."""


NOTIFIER_STOP_FLOOR_S = 1.0
"""A notifier always gets this long to send what is queued at stop, even when the stop ran late."""
WRITER_CLOSE_FLOOR_S = 1.0
"""The store writer always gets this long at the stop to finish the writes handed over, even when the stop ran late."""
STORE_WATCH_EVERY_S = 5.0
"""How often the running bot checks that its store file is still the one it opened."""


@dataclass(frozen=True)
class StartOptions:
    """The operator's answers to a store that does not match (``arbot run --new-epoch / --cancel-unknown``)."""

    new_epoch: bool = False
    """Draw a new client order id epoch (needed to start on a store older than the last run)."""
    cancel_unknown: bool = False
    """Cancel orders open at a venue under our strategies' id prefixes that the store has never seen."""


@dataclass
class _Held:
    """What a strategy that does not run yet (or for now) would have had: handed over once it runs."""

    events: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    """(method, event): ``on_fill`` and ``on_order_update`` calls, in the order they came."""
    read: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    """(exchange, trade id) of the fills its start() read from the store: not handed over again."""


def _soon(callback: Callable[[], None]) -> None:
    """Run ``callback`` two loop turns later, behind the requests made in this one (an arbitrage's legs, which
    start in the next); at once when no loop runs (a bus used outside one)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        callback()
        return
    loop.call_soon(loop.call_soon, callback)


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _raise(exc: BaseException) -> None:
    raise exc


def _log_unwritten(what: str, done: asyncio.Future[Any]) -> None:
    """The end of a record handed to the store writer by :meth:`Bot._write_soon`: its error, if any, logged."""
    if done.cancelled() or (exc := done.exception()) is None:
        return
    if is_store_closed(exc):
        log.warning("%s not stored: %s", what, describe_store_error(exc))
    elif is_store_error(exc):
        log.error("%s could not be stored: %s", what, describe_store_error(exc))
    else:
        log.error("%s could not be stored", what, exc_info=exc)


class Bot:
    """One running arbot. Plugins see it in ``startup``/``shutdown``, jobs and commands."""

    def __init__(self, config: Config, plugins: PluginSet, registry: Registry, *, clock: Clock | None = None,
                 options: StartOptions | None = None):
        self.config = config
        self.name = config.bot.resolved_name()
        self.options = options or StartOptions()
        self.identity: StoreIdentity | None = None
        self.mode = config.mode
        """The mode in force: ``config.mode``, or ``observe`` after :meth:`set_observe` (``/observe on``)."""
        self.plugins = plugins
        self.registry = registry
        self.clock = clock or Clock()
        self.data_dir = config.data_dir
        self.bus = Bus(self._subscriber_failed)
        self.tasks = Tasks(self._task_failed, self._task_recovered)
        self.alerts = Alerts(config.alerts.coalesce_s, config.alerts.queue_size, self.clock.monotonic,
                             self.clock.time_ns, bot=self.name, plugin_label=self._plugin_label)
        self.store = Store(config.db_url, bot=self.name, migrate_wait_s=config.bot.migrate_wait_s)
        self.exchanges: dict[str, Exchange] = {}
        self.strategies: dict[str, Strategy] = {}
        self.notifiers: dict[str, Notifier] = {}
        self.services: dict[str, Service] = {}
        active: dict[str, Order] = {}
        self.portfolio = Portfolio(lambda: list(active.values()))
        self.risk = RiskGate([], self.portfolio, plugin_label=self._plugin_label)
        self.writer = StoreWriter(self.store, threaded=not self.clock.simulated)
        self.executor = Executor(
            config.executor, store=self.store, writer=self.writer, clock=self.clock, tasks=self.tasks,
            portfolio=self.portfolio, risk=self.risk,
            dispatch=Dispatch(portfolio=self.portfolio, risk_checks=lambda: self.risk.checks, bus=self.bus,
                              deliver=self._deliver, guard=self._guard, alert=self.alert,
                              alerts_heard=lambda: self.alerts.heard),
            alert=self.alert, exchanges=lambda: self.exchanges, mode=lambda: self.mode,
            may_trade=self._may_trade, on_veto=self.on_veto, on_store_state=self._store_state_changed,
            active=active, pause_admits=self._pause_admits,
            plugin_bug=lambda exchange, problem: self.plugin_failed(self._owner_plugin.get(exchange, exchange),
                                                                    problem))
        self.scheduler = Scheduler(config.scheduler, alert=self.alert, clock=self.clock, state=self.store,
                                   off_loop=self.writer.call)
        self.markouts = MarkoutSampler(self._store_markouts, _soon)
        """Samples each fill's market 1, 10 and 60 s after it (bot/markouts.py)."""
        self.operator: Operator = HostOperator(self)
        """What plugins get in ``startup``/``shutdown``, jobs, services (verbs audited themselves)."""
        # a command's audit line is written before it acts, off the loop where a commit is a round trip
        self.commands = CommandTable(registry.commands, HostOperator(self, audited=False),
                                     audit=partial(self._write_soon, "a command's audit line", self.store.audit),
                                     clock=self.clock, settings=config.commands)
        self.opportunities = OpportunityLog()
        self.watchdog = Watchdog(config.alerts, clock=self.clock, bus=self.bus, tasks=self.tasks, alert=self.alert,
                                 running_strategies=self._running_strategies, exchanges=lambda: list(self.exchanges))
        self.control = ControlServer(self.commands, data_dir=self.data_dir,
                                     socket_name=config.bot.control_socket, clock=self.clock,
                                     allowed_uids=config.bot.control_allowed_uids)
        self.started_ns = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        """The loop the bot runs in (set by start): for work done in other threads to report back to."""
        self._owner_plugin: dict[str, str] = {}
        self._failed: dict[str, str] = {}
        self.not_started: dict[str, str] = {}
        """Strategies the config names that this run left out at start (not built, markets() raised, a venue they
        need did not start, start() raised), with why: shown as failed on every surface, never traded."""
        self._paused_by: dict[str, str] = {}
        self._killed: set[str] = set()
        """Strategies paused by the kill switch: resuming them asks for a confirmation."""
        self._kill_switch: str | None = None
        """Who pulled the kill switch, while it holds: it is the bot's, so a strategy configured after the kill
        starts killed too. Released once an operator has resumed every killed strategy of the run."""
        self._store_failed: set[str] = set()
        """Strategies failed only because the store could not be written: resumed when it can again."""
        self._until_strategies: list[Callable[[], object]] | None = []
        """A risk check's pause, kill or flatten asked for in its start() (risk checks start before the strategies
        are built: a limit found past in what the store holds), done once they are built; None from then on."""
        self._held: dict[str, _Held] = {}
        """Strategies not running yet (starting) or for now (failed for the store): the fills and order updates they
        would have had, handed over in order once they run (:meth:`_deliver`, :meth:`_hand_over`)."""
        self._stop = asyncio.Event()
        self._started: list[Any] = []
        self._stopping = False
        self._written_soon: set[asyncio.Future[Any]] = set()
        """The records :meth:`_write_soon` handed to the store writer and not settled yet: the stop waits for the
        line naming each the writer's close gave up on, so that none comes after "stopped"."""
        self._build_failures: dict[str, str] = {}
        """Components that could not be created, with their error (a risk check's stands in the gate)."""
        self._cancelling_killed = False
        """A task is cancelling the killed strategies' open orders (:meth:`_cancel_killed`)."""
        self._strategies_stopped = False
        self._secrets_to_retry: dict[tuple[str, str], list[str]] = {}
        """Components whose reload_secrets failed: asked again at the next re-read, changed or not."""
        self._failing_reads: set[tuple[str, str]] = set()
        """(component, method) of the reads (:meth:`ask`) that raised last time: reported once per streak."""
        self._start_failed = False
        plugins._report = self._plugin_error

    # --- building ---------------------------------------------------------------------------

    def _build(self, kind: str) -> dict[str, Any]:
        built = {}
        for name, comp in self.config.of_kind(kind).items():
            reg = self.registry.components[kind][comp.type]
            self._owner_plugin[name] = reg.plugin
            try:
                settings = resolve_paths(comp.settings, self.data_dir)
                built[name] = reg.obj(name, settings, Context(self, kind, name))
            except Exception as exc:
                self.plugin_failed(reg.plugin, f'{kind} "{name}" could not be created: {describe_failure(exc)}',
                                   exc)
                self._build_failures[name] = describe_failure(exc)
                if kind == "strategy":
                    self.not_started[name] = f"could not be created: {describe_failure(exc)}"
        return built

    async def _start_each(self, components: dict[str, Any], kind: str) -> dict[str, str]:
        """Start each component; one that raises is reported and left out. Returns those, with their error."""
        failures = {}
        for name, component in list(components.items()):
            try:
                await component.start()
            except Exception as exc:
                self.plugin_failed(self._owner_plugin[name], f'{kind} "{name}" failed to start: '
                                                            f'{describe_failure(exc)}', exc)
                del components[name]
                failures[name] = describe_failure(exc)
                if kind == "strategy":
                    self.not_started[name] = f"start() raised {describe_failure(exc)}"
                continue
            self._started.append(component)
        return failures

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.started_ns = self.clock.time_ns()
        created_dir = not self.data_dir.exists()
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        await self.control.refuse_if_taken()  # a second process on a running bot's config: before the store
        await self._wait_for_store()
        # Each store call of the start runs on the store writer's thread, awaited: the start waits for the
        # database in the same order as before, the loop does not (a server that stops answering holds the start,
        # and a stop asked meanwhile, SIGTERM, is heard and ends it)
        await self.writer.call(self.store.open)
        if self.store.fast is not None:  # the loop's own record connection, opened now as the open did on the loop
            self.store.fast.connect()
        self.identity = await self.writer.call(establish, self.store, self.data_dir,
                                               fresh_epoch=self.options.new_epoch, ts_ns=self.started_ns)
        for path in make_private(self.data_dir, created_dir):
            log.info("%s was readable by other users; now private to this one (mode 0600/0700)", path)
        self.executor.id_epoch = self.identity.id_epoch
        await self.writer.call(check_strategy_names, self.store, list(self.config.of_kind("strategy")))
        kept_observe = (self.config.mode != "observe"
                        and await self.writer.read(self.store.get_state, "observe") == "on")
        if kept_observe:  # an operator's /observe on outlives a crash or restart: never trade by surprise
            self.mode = "observe"

        self.notifiers = self._build("notifier")
        self.alerts.notifiers = list(self.notifiers.values())
        await self._start_each(self.notifiers, "notifier")
        self.alerts.notifiers = list(self.notifiers.values())
        self.tasks.create(self.alerts.run(), owner="host", what="alert delivery")
        for info in self.plugins.infos.values():
            for error in info.errors:
                self._alert_plugin_error(info, error)

        risk_checks = self._build("risk")
        failures = {name: f"could not be created ({error})" for name, error in self._build_failures.items()
                    if name in self.config.of_kind("risk")}
        failures |= {name: f"failed to start ({error})"
                     for name, error in (await self._start_each(risk_checks, "risk")).items()}
        # a check that could not be made or started stays in the gate, vetoing every order (fail closed)
        self.risk.checks = [risk_checks[name] if name in risk_checks
                            else FailedToStart(name, comp.settings, Context(self, "risk", name), failures[name])
                            for name, comp in self.config.of_kind("risk").items()]
        self.bus.subscribe(BookUpdate, self.portfolio.on_book, owner="portfolio")
        self.bus.subscribe(PoolUpdate, self.portfolio.on_pool, owner="portfolio")
        self.bus.subscribe(FeedStatus, self.portfolio.on_feed_status, owner="portfolio")
        self.bus.subscribe(Fill, self.executor.apply_fill, owner="executor")
        self.bus.subscribe(OrderReport, self.executor.handle_report, owner="executor")
        self.opportunities.seed(await self._stored_opportunities())
        self.bus.subscribe(Opportunity, self.opportunities.on_opportunity, owner="opportunities")
        self.markouts.subscribe(self.bus, self.portfolio)

        self.exchanges = self._build("exchange")
        await self._start_each(self.exchanges, "exchange")
        await self.executor.start()
        recovered = await self.executor.recover()  # fills stored, and those made while we were down: once each
        if any(recovered.values()):
            log.info("orders left by the previous run: %s", recovered)
        await self._snapshot_balances("start")

        self.strategies = self._build("strategy")
        for name, strategy in list(self.strategies.items()):
            try:
                pairs = strategy.markets()
                missing = [e for e, _ in pairs if e not in self.exchanges]
            except Exception as exc:
                self.plugin_failed(self._owner_plugin[name], f'strategy "{name}" failed to start: markets() '
                                                             f'raised {describe_failure(exc)}', exc)
                del self.strategies[name]
                self.not_started[name] = f"markets() raised {describe_failure(exc)}"
                continue
            untraded = None if missing else self._untraded_market(name, pairs)
            if untraded is not None:
                problem, why = untraded
                self.plugin_failed(self._owner_plugin[name], problem)
                del self.strategies[name]
                self.not_started[name] = why
            if missing:
                configured = self.config.of_kind("exchange")
                unknown = [e for e in missing if e not in configured]
                if unknown:  # the strategy's own mistake, not a venue's failure: say which tables there are
                    problem = (f'strategy "{name}": its markets() name exchange(s) {", ".join(unknown)}, which no '
                               f'[exchanges.NAME] table configures; configured: {", ".join(configured) or "none"}')
                else:
                    problem = f'strategy "{name}" needs exchange(s) {", ".join(missing)}, which did not start'
                self.plugin_failed(self._owner_plugin[name], problem)
                del self.strategies[name]
                self.not_started[name] = (f'exchange(s) {", ".join(unknown)} not configured' if unknown
                                          else f'exchange(s) {", ".join(missing)} did not start')
        kept_paused = self._restore_pauses(await self.writer.read(self.store.get_state, "paused"))
        deferred, self._until_strategies = self._until_strategies or [], None
        for act in deferred:  # what risk checks asked for in their start(), on the strategies now built
            act()
        # a fill applied from here until a strategy runs (a venue's stream while the venues are checked, or while
        # it starts) is held for it; what its start() reads from the store is not handed over again
        self._held = {name: _Held() for name in self.strategies}
        await self._check_venues()
        await self._start_each(self.strategies, "strategy")
        for name in [name for name in self._held if name not in self.strategies]:  # failed to start
            del self._held[name]
        # the jobs are scheduled before the strategies hear the market: scheduling reads each daily job's record on
        # the store writer's thread (awaited), and a loop turn between the strategies' first market event and the
        # services' start would let an order fill before a service (a journal, a notifier) subscribed to it
        collect_jobs(self.plugins, self.registry, self.config)
        for reg in self.registry.jobs.values():
            try:  # a daily job's record read on the store writer's thread: the database delays the start, not the loop
                await self.scheduler.schedule(reg.obj, reg.plugin, self.operator, self.plugin_failed)
            except Exception as exc:  # a schedule the Job let through that the scheduler cannot take
                self.plugin_failed(reg.plugin, f'job "{reg.name}" could not be scheduled: '
                                               f'{describe_failure(exc)}', exc)
        for name, strategy in self.strategies.items():
            self._subscribe_strategy(name, strategy)
            self._hand_over(name)
        self.watchdog.start()
        self.scheduler.start()
        store_id = self.identity.store_id
        self.tasks.supervise(lambda: self._watch_store(store_id), owner="host", what="store watch")

        await self.control.start()
        await self._start_services()
        await self.plugins.call_each_async("startup", bot=self.operator, operator=self.operator)
        self.alert(AlertLevel.INFO, "bot", f"arbot started in {self.config.mode} mode",
                   strategies=", ".join(self.strategies) or "none", exchanges=", ".join(self.exchanges) or "none")
        if self.not_started:  # each was reported against its plugin; this says what it means: no trading
            self.alert(AlertLevel.CRITICAL, "bot", "strategies not started, not trading: "
                       + "; ".join(f"{name} ({why})" for name, why in self.not_started.items())
                       + ". Fix the cause and restart the bot", strategies=", ".join(self.not_started))
        if self.identity.replaced:
            self.alert(AlertLevel.WARNING, "bot", "a new store took the place of the previous one: client order ids "
                       "come from a new epoch", previous=self.identity.replaced, store=self.identity.store_id,
                       epoch=self.identity.id_epoch)
        if kept_observe:
            self.alert(AlertLevel.WARNING, "bot", "observe mode kept from before the restart: orders are recorded, "
                       "not sent; /observe off to trade again")
        if kept_paused:
            self.alert(AlertLevel.WARNING, "bot", "strategies paused before the restart stay paused: "
                       + ", ".join(f"{name} (by {by})" for name, by in kept_paused.items())
                       + "; /resume to trade again", strategies=", ".join(kept_paused))
        resting = [o for o in self.executor.open_orders() if o.strategy in self._killed]
        if resting:  # the kill switch cancels every resting order: one the last run could not cancel, now
            self.alert(AlertLevel.WARNING, "risk", f"kill switch: cancelling {len(resting)} order(s) the last run "
                       "left resting", strategies=", ".join(sorted({o.strategy for o in resting})))
            self.tasks.create(self._cancel_killed(), owner="host", what="kill switch (restart)")
        # What starting made (modules, settings, the store's metadata, plugins, books) lives as long as the bot:
        # kept out of the cyclic collector's passes, a full pass on the loop (between a tick and its orders)
        # takes milliseconds instead of ~100 ms. stop() gives them back.
        gc.freeze()

    def _untraded_market(self, name: str, pairs: list[tuple[str, str]]) -> tuple[str, str] | None:
        """(the problem, why it is not started) when strategy ``name``'s markets() ``pairs`` name a symbol its venue
        does not trade, as the venue's class says from its settings (:meth:`Exchange.markets_of`); None when every
        one is traded or the venue cannot say. Such a market never publishes: the strategy would run and hear
        nothing of it."""
        exchanges = self.config.of_kind("exchange")
        for exchange, symbol in pairs:
            venue = exchanges[exchange]
            markets_of = getattr(self.registry.classes("exchange")[venue.type], "markets_of", None)
            offered = markets_of(venue.settings) if markets_of is not None else None
            if offered is None or symbol in offered:
                continue
            problem = (f'strategy "{name}": its markets() name "{symbol}" on exchange "{exchange}", which trades '
                       f'{", ".join(offered) or "nothing"} only; add it to [exchanges.{exchange}] (or trade it on a '
                       f"venue that has it), or change [strategies.{name}] to a market {exchange} trades")
            return problem, f'exchange "{exchange}" does not trade {symbol}'
        return None

    async def _stored_opportunities(self) -> list[Opportunity]:
        """The opportunities plugins stored before this run (the ``stored_opportunities`` hook), its implementations
        called on the store writer's thread, awaited: they read the store, which may be slow to answer. One that
        raises is reported against its plugin, on the loop, as :meth:`PluginSet.call_each` reports it."""
        stored = {"store": self.store, "limit": self.opportunities.keep}
        raised: list[tuple[str, Exception]] = []

        def read() -> list[Opportunity]:
            return [o for _, found in self.plugins.call_each("stored_opportunities", stored,
                                                             on_error=lambda plugin, exc: raised.append((plugin, exc)))
                    for o in found or []]

        found = await self.writer.read(read)
        for plugin, exc in raised:
            self.plugins.fail(plugin, f"stored_opportunities raised {describe_failure(exc)}", exc)
        return found

    async def _wait_for_store(self) -> None:
        """Wait for a database server that cannot be reached yet, ``[bot] store_wait_s`` at most
        (:meth:`Store.wait_reachable`), in a worker thread: a stop requested meanwhile (SIGTERM) is heard, and ends
        the wait's pause."""
        given_up = threading.Event()
        try:
            await asyncio.to_thread(self.store.wait_reachable, self.config.bot.store_wait_s, given_up=given_up)
        finally:
            given_up.set()

    async def _snapshot_balances(self, when: str) -> None:
        """Store each venue's balances now: at start and at a clean stop, so that a run shorter than the
        balance-snapshot job's period (5 min) has balances to report. A venue that fails or does not answer
        within ``[bot] shutdown_timeout_s`` is logged and skipped; the start or stop goes on. The rows are written on
        the store writer's thread, never on the loop, within that bound too (a database that does not answer: logged).
        A venue that asked for quiet for longer than that bound (its rate limit, as its orders' answers said) is not
        asked: it would not answer in time (a venue's own client waits the quiet out before sending), and the
        snapshot would hold the stop the whole bound for nothing.
        """
        now = self.clock.time_ns()
        bound_s = self.config.bot.shutdown_timeout_s
        venues = []
        for name, exchange in self.exchanges.items():
            quiet_s = self.executor.rate_limited_s(name)
            if quiet_s > bound_s:
                log.warning('%s: balances of exchange "%s" not stored at %s: it asked for no request for another %s '
                            "(its rate limit), past [bot] shutdown_timeout_s (%g s)", self._plugin_label(name), name,
                            when, span(quiet_s), bound_s)
            else:
                venues.append((name, exchange))
        answers = await asyncio.gather(  # asked together: a slow venue holds the start up once, not once per venue
            *(asyncio.wait_for(exchange.balances(), self.config.bot.shutdown_timeout_s) for _, exchange in venues),
            return_exceptions=True)
        loop = asyncio.get_running_loop()
        until = loop.time() + self.config.bot.shutdown_timeout_s
        for (name, _), answer in zip(venues, answers, strict=True):
            try:
                if isinstance(answer, BaseException):
                    raise answer
                await asyncio.wait_for(self.writer.call(self.store.snapshot_balances, name, list(answer.values()), now),
                                       max(0.0, until - loop.time()))
            except Exception as exc:
                log.warning('%s: balances of exchange "%s" not stored at %s: %s: %s', self._plugin_label(name), name,
                            when, type(exc).__name__, exc)

    async def _check_venues(self) -> None:
        """Orders open at a venue under our strategies' id prefixes that the store has never seen: the store
        does not match the venue. Stop (:class:`StoreMismatch`), or cancel them with ``--cancel-unknown``.

        A venue that gets ids derived from ours (``Exchange.derived_client_id``) lists such an order under the
        derived id when it cannot read it back: it counts as ours unless an unfinished order of the store (any bot)
        derives to it."""
        prefixes = tuple(f"{name}-" for name in self.config.of_kind("strategy")) + ("flatten-",)
        unknown = []
        markets = {m for strategy in self.strategies.values() for m in self.ask(strategy, "markets") or []}
        for exchange_name, symbol in sorted(markets):
            exchange = self.exchanges.get(exchange_name)
            if exchange is None:
                continue
            try:
                states = await exchange.open_orders(symbol)
            except Exception as exc:  # a venue that cannot list them is not checked
                log.warning("could not list open orders on %s %s at start: %s", exchange_name, symbol, exc)
                continue
            derived: dict[str, str] | None = None
            for state in states:
                cid = state.client_order_id
                if (cid.startswith(prefixes) and self.executor.order(cid) is None
                        and not self.store.other_bots(client_order_id=cid)):  # not another bot's (shared account)
                    unknown.append((exchange_name, symbol, cid))
                elif not cid.startswith(prefixes) and exchange.derived_client_id(cid):
                    # an id the venue got derived from one of ours (a digest): ours unless no order the store holds
                    # unfinished on this venue, under any bot of the database, derives to it
                    if derived is None:
                        derived = {exchange.venue_client_id(c): c
                                   for c in self.store.unfinished_client_ids(exchange_name)}
                    if cid not in derived:
                        unknown.append((exchange_name, symbol, cid))
        if not unknown:
            return
        listed = ", ".join(f"{e} {s} {cid}" for e, s, cid in unknown[:10]) + (
            f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        if not self.options.cancel_unknown:
            raise StoreMismatch(
                f"{len(unknown)} order(s) open at the venue under our id prefix (or an id derived from ours) are "
                f"unknown to the store "
                f"({listed}): the store is not the one these orders were placed with (deleted, replaced or restored?). "
                "Put the right store back, or start with `arbot run --cancel-unknown` to cancel them at the venue "
                "and trade on (their fills, if any, are not in this store).")
        for exchange_name, symbol, cid in unknown:
            await self.exchanges[exchange_name].cancel_order(symbol, cid)
        self.alert(AlertLevel.WARNING, "bot", f"cancelled {len(unknown)} order(s) unknown to the store "
                   "(--cancel-unknown)", orders=listed)

    async def _watch_store(self, store_id: str) -> None:
        watch = StoreWatch(self.store, store_id)
        reported = None
        while True:
            await asyncio.sleep(STORE_WATCH_EVERY_S)
            # on the writer's thread: a server that stopped answering delays the watch, never the loop
            problem = await self.writer.read(watch.problem)
            if problem and problem != reported:
                log.critical("%s", problem)
                self.alert(AlertLevel.CRITICAL, "store", f"{problem}: what the bot writes now is lost at the next "
                           "start; stop it, put the store back (or start on a new one, see README: store identity)")
            reported = problem

    # --- services -----------------------------------------------------------------------------

    async def _start_services(self) -> None:
        """Build and start every registered service of a loaded plugin, in registration order."""
        for name, reg in self.registry.services.items():
            self._owner_plugin[name] = reg.plugin
            settings = self.config.plugin_settings.get(reg.plugin)
            if settings is not None and not getattr(settings, "enabled", True):
                continue
            try:
                cls = reg.obj  # a class registered by reference is imported now
                if settings is None:
                    settings = cls.Settings()
                    if not getattr(settings, "enabled", True):
                        continue
                service = cls(name, resolve_paths(settings, self.data_dir), Context(self, "service", name))
            except ComponentLoadError:
                continue  # the reference reported itself against the plugin
            except Exception as exc:
                self.plugin_failed(reg.plugin, f'service "{name}" could not be created: {describe_failure(exc)}',
                                   exc)
                continue
            try:
                await service.start()
            except Exception as exc:
                self._end_service(name)
                self.plugin_failed(reg.plugin, f'service "{name}" failed to start: {describe_failure(exc)}', exc)
                continue
            self.services[name] = service

    async def _stop_services(self) -> None:
        """Stop the running services in reverse start order (:meth:`_stop_component`: the others still stop)."""
        for name, service in reversed(list(self.services.items())):
            await self._stop_component("service", service)
            self._end_service(name)
        self.services.clear()

    async def _stop_component(self, kind: str, component: Component) -> None:
        """``component.stop()`` within ``[bot] shutdown_timeout_s`` of its own; one that raises or runs out (then
        cancelled) is reported against its plugin, and the stop goes on."""
        await self.plugins.await_within(self._owner_plugin.get(component.name, component.name),
                                        f'{kind} "{component.name}" stop()', component.stop(),
                                        self.config.bot.shutdown_timeout_s)

    def _end_service(self, name: str) -> None:
        self.bus.unsubscribe_owner(name)
        self.alerts.unsubscribe_owner(name)
        self.tasks.cancel_owner(name)

    # --- what a Context reaches (bot.api.Context's Host) -------------------------------------

    @property
    def alerts_heard(self) -> bool:
        return self.alerts.heard

    def emit_alert(self, alert: Alert) -> None:
        self.alerts.emit(alert)

    def subscribe_alerts(self, callback: Callable[[Alert], None], owner: str) -> Callable[[], None]:
        return self.alerts.subscribe(callback, owner)

    def create_task(self, coro: Coroutine[Any, Any, Any], owner: str, what: str) -> asyncio.Task[Any]:
        return self.tasks.create(coro, owner=owner, what=what)

    def write_later(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        return self.writer.later(fn, *args, **kwargs)

    def read_later(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        return self.writer.read_later(fn, *args, **kwargs)

    @property
    def id_epoch(self) -> str:
        return self.executor.id_epoch

    @property
    def bot_name(self) -> str:
        return self.name

    def attach_fleet(self, link: FleetLink) -> None:
        self.commands.attach_fleet(link)

    def submit(self, intent: OrderIntent) -> str | None:
        return self.executor.submit(intent)

    def intent(self) -> AbstractContextManager[None]:
        return self.executor.intent()

    def cancel(self, client_order_id: str) -> None:
        self.executor.cancel(client_order_id)

    def order(self, client_order_id: str) -> Order | None:
        return self.executor.order(client_order_id)

    async def look_up_order(self, client_order_id: str) -> Order | None:
        return await self.executor.look_up(client_order_id)

    def held_order(self, client_order_id: str) -> Order | None:
        return self.executor.held(client_order_id)

    def recorder(self, exchange_type: str) -> Any:
        from .recording import recorder_in

        return recorder_in(self.registry.classes("exchange"), exchange_type)

    def _running_strategies(self) -> list[str]:
        return [name for name, s in self.strategies.items() if not s.paused and name not in self._failed]

    def _subscribe_strategy(self, name: str, strategy: Strategy) -> None:
        for exchange, symbol in self.ask(strategy, "markets") or []:
            for event_type in strategy.market_events:
                self.bus.subscribe(event_type, strategy.on_market, owner=name, exchange=exchange, symbol=symbol)

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self, duration_s: float | None = None) -> None:
        """Start, run until :meth:`request_stop` (or ``duration_s``), then stop cleanly.

        A stop request or the end of ``duration_s`` while the bot is still starting (a venue slow to
        answer, within its ``start_timeout_s``) ends the start there: what started is stopped.
        """
        loop = asyncio.get_running_loop()
        deadline = None if duration_s is None else loop.time() + duration_s
        starting = asyncio.ensure_future(self.start())
        stop_requested = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({starting, stop_requested}, timeout=duration_s, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
                log.info("stopping before the start finished")
                raise StartInterrupted()
            starting.result()  # a failed start raises here
        except BaseException as exc:
            stop_requested.cancel()
            self._start_failed = True
            await self.stop()  # what started is stopped; resting orders are left as they are
            if isinstance(exc, StartInterrupted):
                return
            raise
        try:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            await asyncio.wait_for(stop_requested, timeout=remaining)
        except TimeoutError:
            log.info("ran for %ss; stopping", duration_s)
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Stop once (later calls do nothing): hooks, control, scheduler, strategies, orders, venues."""
        if self._stopping:
            return
        self._stopping = True
        log.info("stopping")
        deadline = time.monotonic() + self.config.bot.shutdown_timeout_s
        # commands first, while all they use still runs: each running one ends (or is cancelled) and hands over its
        # audit line now, which the store writer's close below writes or names; none is logged after "stopped". They
        # share the stop's one budget with the notifiers' last sends (docs/deploy.md: how long a stop can take)
        cancelled, ignored = await self.commands.close(max(0.0, deadline - time.monotonic()))
        if cancelled:
            log.warning("cancelled %s still running after [bot] shutdown_timeout_s (%g s): %s",
                        counted(len(cancelled), "command"), self.config.bot.shutdown_timeout_s, ", ".join(cancelled))
        if ignored:
            log.error("%s went on after being cancelled at the stop (a handler that swallows its cancel): %s",
                      counted(len(ignored), "command"), ", ".join(ignored))
        self.watchdog.stop()
        await self.plugins.call_each_async("shutdown", timeout_s=self.config.bot.shutdown_timeout_s, bot=self.operator,
                                           operator=self.operator)
        await self._stop_services()
        await self.control.stop()
        self.scheduler.stop()
        await self.scheduler.join(self.config.bot.shutdown_timeout_s, self.plugin_failed)
        for name in list(self.strategies):
            self.bus.unsubscribe_owner(name)
        await self.executor.close(self.config.bot.shutdown_timeout_s)
        self._strategies_stopped = True  # what shutdown cancels is not news to them (no "retry in 30s")
        if self.config.bot.on_shutdown == "cancel" and self.exchanges and not self._start_failed:
            try:
                count = await asyncio.wait_for(self.executor.cancel_all(within_s=self.config.bot.shutdown_timeout_s),
                                               self.config.bot.shutdown_timeout_s)
                log.info("cancelled %d resting order(s)", count)
            except TimeoutError:  # a wait nobody knew of beforehand (a venue that does not answer)
                log.error("cancelling resting orders did not finish within [bot] shutdown_timeout_s (%g s); what was "
                          "not cancelled is left resting", self.config.bot.shutdown_timeout_s)
            except Exception as exc:
                log.error("cancelling resting orders failed: %s", exc)
        answered = await self._flush_within(deadline)
        self.markouts.flush()
        if not self._start_failed:
            await self._snapshot_balances("stop")
        for component in reversed(self._started):
            if not isinstance(component, Notifier):
                await self._stop_component(component.ctx.kind, component)
        await self.tasks.drain(timeout_s=0)  # workers and waits; orders were settled above
        if not answered:  # a database that did not answer: the writer's close names the batch not written
            log.error("order changes and fills could not be stored at shutdown (the database did not answer within "
                      "[bot] shutdown_timeout_s); recovery asks the venues again on the next start")
        elif not await self._flush_within(deadline):
            log.error("order changes and fills could not be stored at shutdown (%s); recovery asks the venues "
                      "again on the next start", self.executor.store_error or "the database did not answer")
        self.commands.flush_refusals(force=True)
        self.alerts.close_windows()  # coalesced summaries first, stamped now
        self.alert(AlertLevel.INFO, "bot", "arbot stopped")  # the last alert: flush sends in time order
        try:  # a send without a timeout of its own must not keep the store open forever
            await asyncio.wait_for(self.alerts.flush(), max(NOTIFIER_STOP_FLOOR_S, deadline - time.monotonic()))
        except TimeoutError:
            hung = self.alerts.sending or "?"
            log.warning('%s: notifier "%s" did not send the last alerts within [bot] shutdown_timeout_s; cancelled',
                        self._plugin_label(hung), hung)
        for component in reversed(self._started):
            if isinstance(component, Notifier):  # what is still queued goes out within the stop's time
                try:
                    await asyncio.wait_for(component.stop(), max(NOTIFIER_STOP_FLOOR_S, deadline - time.monotonic()))
                except TimeoutError:
                    # not "sending": a stop also waits on other things (a chat token's lease on a database that
                    # does not answer), and the notifier names the one that held it
                    log.warning("notifier %s (%s) did not stop within [bot] shutdown_timeout_s; cancelled",
                                component.name, self._plugin_label(component.name))
                except Exception as exc:
                    log.error("notifier %s (%s) failed to stop: %s", component.name,
                              self._plugin_label(component.name), exc)
                # what it alerted while stopping (a token released, a notice) goes to the notifiers still running;
                # once none is, what is left is counted as dropped, never left in the queue unseen
                self.alerts.retire(component)
                try:
                    await asyncio.wait_for(self.alerts.flush(),
                                           max(NOTIFIER_STOP_FLOOR_S, deadline - time.monotonic()))
                except TimeoutError:
                    hung = self.alerts.sending or "?"
                    log.warning('%s: notifier "%s" did not send the alerts raised while notifiers stopped within '
                                "[bot] shutdown_timeout_s; cancelled", self._plugin_label(hung), hung)
        # the writes handed over get what is left of the stop's time: a database that does not answer holds the stop
        # that long at most, and what was not written is named (bot.writer: what a restart recovers)
        not_written = await self.writer.aclose(max(WRITER_CLOSE_FLOOR_S, deadline - time.monotonic()))
        if self._written_soon:  # each settled by now (written, or given up on): their lines come before "stopped"
            await asyncio.wait(set(self._written_soon), timeout=WRITER_CLOSE_FLOOR_S)
        self.store.close()
        gc.unfreeze()
        if not_written:  # the last line says how the stop ended: the ERROR lines above name what was left
            log.warning("stopped: %d store write(s) not done, the database did not answer (named above)",
                        len(not_written))
        else:
            log.info("stopped")

    async def _flush_within(self, deadline: float) -> bool:
        """The executor's flush at the stop, within what is left of the stop's time (``deadline``, ``time.monotonic``;
        :data:`WRITER_CLOSE_FLOOR_S` at least): False when not all was written (the store failed, or a database that
        does not answer: the batch waiting for it is named by the writer's close)."""
        try:
            return await asyncio.wait_for(self.executor.flush(), max(WRITER_CLOSE_FLOOR_S, deadline - time.monotonic()))
        except TimeoutError:
            return False

    # --- secrets rotated while running ---------------------------------------------------------

    async def reload_secrets(self, by: str) -> list[str]:
        """Re-read every ``env:``/``file:`` secret; components whose secrets changed get ``reload_secrets()``.

        Nothing restarts: orders, books and queues stay. A reference that no longer resolves keeps its old
        value and is alerted, as is a component that could not take its new secret. Returns one line each.
        """
        from .secrets import reread

        rotation = reread(self.config)
        for owner, keys in self._secrets_to_retry.items():  # a hook that failed last time is asked again
            rotation.changed.setdefault(owner, keys)
        self._secrets_to_retry = {}
        lines: list[str] = []
        by_kind: dict[str, dict[str, Any]] = {"exchange": self.exchanges, "notifier": self.notifiers,
                                              "strategy": self.strategies,
                                              "risk": {check.name: check for check in self.risk.checks}}
        for (kind, name), keys in rotation.changed.items():
            if kind == "plugin":
                targets = [(n, s) for n, s in self.services.items() if self.registry.services[n].plugin == name]
            else:
                component = by_kind.get(kind, {}).get(name)
                targets = [(name, component)] if component is not None else []
            for target, component in targets:
                try:
                    await component.reload_secrets()
                except Exception as exc:
                    log.error("%s could not take its new secret: %s: %s", target, type(exc).__name__, exc,
                              exc_info=exc)
                    failure = describe_failure(exc)  # the reply and the alert reach a phone: short, no local path
                    self.alert(AlertLevel.ERROR, "bot", f"{target} could not take its new secret; it goes on with "
                               "the old one", source=target, error=failure)
                    lines.append(f"{target}: could not take the new value ({failure})")
                    self._secrets_to_retry[(kind, name)] = keys
                    continue
                if type(component).reload_secrets is Component.reload_secrets:
                    lines.append(f"{target}: new value of {', '.join(keys)} read (no reload hook: used where "
                                 "the plugin reads it again; a restart makes sure)")
                else:
                    lines.append(f"{target}: new value of {', '.join(keys)} in use")
            if not targets:
                lines.append(f"{', '.join(keys)}: new value read (not running)")
        # services may hold references the host does not see (inside a table): each that reloads is asked
        asked = {name for kind, name in rotation.changed if kind == "plugin"}
        for name, service in self.services.items():
            plugin = self.registry.services[name].plugin
            if plugin in asked or type(service).reload_secrets is Component.reload_secrets:
                continue
            try:
                await service.reload_secrets()
            except Exception as exc:
                log.warning("%s could not re-read its secrets: %s: %s", name, type(exc).__name__, exc, exc_info=exc)
                failure = describe_failure(exc)
                self.alert(AlertLevel.WARNING, "bot", f"{name} could not re-read its secrets; it goes on with the "
                           "old ones", source=name, error=failure)
                lines.append(f"{name}: {failure}; the old values stay")
                continue
            lines.append(f"{name}: secrets re-read")
        for key, problem in rotation.failed:
            self.alert(AlertLevel.WARNING, "bot", f"secret {key} no longer resolves; the old value stays in use",
                       key=key, problem=problem)
            lines.append(f"{key}: {problem}; the old value stays")
        if self.config.bot.db_url.startswith(("env:", "file:")):
            lines.append("bot.db_url: read at start only; restart to use a new one")
        summary = (f"secrets re-read by {by}: {sum(len(k) for k in rotation.changed.values())} changed, "
                   f"{rotation.unchanged} unchanged, {len(rotation.failed)} failed")
        log.info("%s", summary)
        return [summary, *lines]

    # --- what the executor and its dispatch ask of the bot -------------------------------------

    def _running_strategy(self, name: str) -> Strategy | None:
        """The strategy called ``name`` if it runs (started, not failed, not stopping)."""
        if name in self._failed or name in self._held or self._strategies_stopped:
            return None
        return self.strategies.get(name)

    def _deliver(self, name: str, method: str, event: Any) -> None:
        """Hand a fill or an order update to strategy ``name``'s ``method``, or hold it until the strategy runs."""
        held = self._held.get(name)
        if held is not None:
            held.events.append((method, event))
            return
        strategy = self._running_strategy(name)
        if strategy is not None:
            self._guard(name, getattr(strategy, method), event)

    def fills_read(self, component: str, fills: list[Fill]) -> None:
        """A component read ``fills`` from the store (``ctx.stored_fills``): while it starts, those are not handed
        over again (a fill applied while it starts may be in the store when its start() reads it, or not yet)."""
        held = self._held.get(component)
        if held is not None:
            held.read.update((fill.exchange, fill.trade_id) for fill in fills)

    def _hand_over(self, name: str) -> None:
        """Strategy ``name`` runs (again): hand it, in order, what was held for it, less the fills its start() read
        from the store. If it fails on one for the store's sake, the rest is held again."""
        held = self._held.pop(name, None)
        strategy = self.strategies.get(name)
        if held is None or strategy is None:
            return
        for i, (method, event) in enumerate(held.events):
            if method == "on_fill" and (event.exchange, event.trade_id) in held.read:
                continue
            again = self._held.get(name)
            if again is not None:  # it failed for the store again: the rest waits with it
                again.events.extend(held.events[i:])
                return
            if name in self._failed:
                return
            self._guard(name, getattr(strategy, method), event)

    def _may_trade(self, name: str) -> bool:
        """Whether strategy ``name``'s new orders may go: not paused, and not stopped for raising (stopped until
        /resume: an order from a task of its own, a timer, is refused as its callbacks are cut). One stopped only
        because the store could not be written is the store's matter (the executor takes what it can then)."""
        strategy = self.strategies.get(name)
        if strategy is None:
            return True
        return not strategy.paused and (name not in self._failed or name in self._store_failed)

    def _pause_admits(self, intent: OrderIntent) -> bool:
        """Whether every risk check whose pause holds ``intent``'s strategy admits this reduce-only order
        (:meth:`RiskCheck.admits_while_paused`). Never through an operator's pause, the kill switch or a check
        gone; a check that raises admits nothing (fail closed)."""
        name = intent.strategy
        pausers = self._risk_pausers(name)
        if name in self._killed or not pausers:
            return False
        for pauser in pausers:  # each risk check holding the pause admits it
            check = next((c for c in self.risk.checks if c.name == pauser), None)
            if check is None:
                return False
            try:
                if check.admits_while_paused(intent, self.portfolio) is not True:
                    return False
            except Exception:
                log.exception("risk check %s raised in admits_while_paused(); the pause holds", check.name)
                return False
        return True

    def _risk_pausers(self, name: str) -> list[str]:
        """The risk checks whose pause holds strategy ``name`` (several may have tripped on it), none when it is not
        paused by risk checks alone (an operator's pause, the host's)."""
        by = self._paused_by.get(name, "")
        parts = by.split(", ") if by else []
        if not parts or not all(part.startswith("risk ") for part in parts):
            return []
        return [part.removeprefix("risk ") for part in parts]

    def _store_state_changed(self, writable: bool) -> None:
        """The executor found the store unwritable or writable again: resume what failed only for that."""
        if not writable:
            return
        for name in sorted(self._store_failed):
            self._store_failed.discard(name)
            strategy = self.strategies.get(name)
            if strategy is None or name not in self._failed:
                continue
            del self._failed[name]
            self._subscribe_strategy(name, strategy)
            self._hand_over(name)
            self.alert(AlertLevel.WARNING, "bot", f"strategy {name} resumed by itself: the store is writable again")

    def _guard(self, owner: str, func: Callable[[Any], object], arg: Any) -> None:
        try:
            func(arg)
        except Exception as exc:
            self._subscriber_failed(owner, exc, arg)

    # --- control ----------------------------------------------------------------------------

    def _save_pauses(self) -> None:
        """Store which strategies are paused, by whom, and which the kill switch paused: a pause outlives a crash or
        a restart (only /resume, or the risk check that paused one, lifts it). A store that cannot be written is
        logged; the pause holds in this run whatever the store says."""
        # a strategy left out of this run (it failed to start) keeps the pause it had
        state = {"paused": {name: by for name, by in self._paused_by.items()
                            if (strategy := self.strategies.get(name)) is None or strategy.paused},
                 "killed": sorted(self._killed)}
        if self._kill_switch is not None:
            state["kill_switch"] = self._kill_switch
        try:
            self._write_soon("the strategies' pauses (a restart would not keep them)", self.store.set_state,
                             "paused", json.dumps(state, sort_keys=True), self.clock.time_ns())
        except Exception as exc:
            if not is_store_error(exc):
                raise
            log.error("the strategies' pauses could not be stored (%s): a restart would not keep them",
                      describe_store_error(exc))

    def _write_soon(self, what: str, fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Write a record the caller does not wait for (a pause, observe mode, an operator's audit line). On a
        file-backed SQLite store now, on this thread (microseconds; a lock is waited for 50 ms at most), its error
        raised; on any other (PostgreSQL: a commit is a round trip, and a server that stops answering would hold
        the loop, /kill included) on the store writer's thread, after the writes handed to it before, its error
        logged naming ``what`` (outside a running loop, as on SQLite). After the bot's stop (the store or its writer
        closed) nothing is written: one line says so, nothing is raised (this run keeps what it decided)."""
        try:
            if self.store.records_inline or not _in_loop():
                fn(*args, **kwargs)
                return
            written = self.writer.later(fn, *args, **kwargs)
        except Exception as exc:
            if not is_store_closed(exc):
                raise
            log.warning("%s not stored: %s", what, describe_store_error(exc))
            return
        written.add_done_callback(partial(_log_unwritten, what))
        self._written_soon.add(written)
        written.add_done_callback(self._written_soon.discard)

    def _restore_pauses(self, text: str | None) -> dict[str, str]:
        """Pause again the strategies that were paused when the last run stopped (:meth:`_save_pauses`), from
        ``text``, the stored pauses (read off the loop by the start); returns them with who paused them."""
        if not text:
            return {}
        try:
            state = json.loads(text)
            paused, killed = dict(state["paused"]), set(state["killed"])
            kill_switch = state.get("kill_switch")
            if kill_switch is not None and not isinstance(kill_switch, str):
                raise TypeError("kill_switch")
        except (ValueError, KeyError, TypeError, AttributeError):
            log.error("the stored pauses cannot be read; every strategy starts paused (/resume to trade): %r", text)
            paused, killed = {name: "host (unreadable stored pauses)" for name in self.strategies}, set()
            kill_switch = None
        if kill_switch is not None:  # the bot was killed: a strategy configured since is held as the others are
            self._kill_switch = kill_switch
            for name in self.strategies:
                if name not in paused:
                    paused[name] = kill_switch
                    killed.add(name)
        for name, by in paused.items():  # one not configured now keeps its pause for when it is again
            self._paused_by[name] = str(by)
            if name in self.strategies:
                self.strategies[name].paused = True
        self._killed.update(name for name in killed if name in paused)
        return {name: self._paused_by[name] for name in paused if name in self.strategies}

    def paused_by(self, component: str) -> list[str]:
        """The strategies risk check ``component`` paused that are paused still (a restart keeps them), less those
        the kill switch holds: they are the operator's to resume."""
        return sorted(name for name in self._paused_by
                      if component in self._risk_pausers(name) and name not in self._killed
                      and (strategy := self.strategies.get(name)) is not None and strategy.paused)

    def pause(self, names: list[str], by: str) -> None:
        for name in names:
            self.strategies[name].paused = True
            self._paused_by[name] = by
            self.alert(AlertLevel.WARNING, "bot", f"strategy {name} paused by {by}")
        self._save_pauses()

    def strategies_using(self, exchange: str, symbol: str | None = None) -> list[str]:
        """Running strategies that trade ``exchange`` (and ``symbol``); one whose markets() raises trades none."""
        return [name for name, strategy in self.strategies.items()
                if any(e == exchange and (symbol is None or s == symbol)
                       for e, s in self.ask(strategy, "markets") or [])]

    def traded_quotes(self) -> dict[str, frozenset[str] | None]:
        """Every configured strategy -> the quote assets its settings say it trades, None when they do not say."""
        strategies = self.config.of_kind("strategy")
        said = strategy_quotes(strategies, self.registry.classes("strategy"))
        return {name: frozenset(said[name]) if name in said else None for name in strategies}

    def pause_for_risk(self, check: str, names: list[str] | None, reason: str) -> list[str]:
        """Pause strategies for a risk check, quietly (the trip's alert says it); returns those newly paused. Asked
        from a check's start(), before the strategies are built: done once they are, returning those configured."""
        if self._until_strategies is not None:
            self._until_strategies.append(lambda: self.pause_for_risk(check, names, reason))
            configured = self.config.of_kind("strategy")
            return [name for name in (configured if names is None else names) if name in configured]
        paused, joined = [], []
        for name in self.strategies if names is None else names:
            strategy = self.strategies.get(name)
            if strategy is None:
                continue
            if strategy.paused:
                # another check's pause: this one holds it too, so that check resuming it does not lift this one's
                pausers = self._risk_pausers(name)
                if pausers and check not in pausers:
                    self._paused_by[name] = ", ".join(f"risk {c}" for c in [*pausers, check])
                    joined.append(name)
                continue
            strategy.paused = True
            self._paused_by[name] = f"risk {check}"
            paused.append(name)
        if paused or joined:
            log.warning("risk %s paused %s: %s", check, ", ".join(paused + joined), reason)
            self._save_pauses()
        return paused

    def resume_for_risk(self, check: str, names: list[str] | None, reason: str) -> list[str]:
        """Resume the strategies that risk check ``check`` itself paused; returns them. The kill switch, pulled
        over such a pause, holds: only an operator's ``/resume`` releases a killed strategy."""
        resumed, released = [], []
        for name in self.strategies if names is None else names:
            strategy = self.strategies.get(name)
            pausers = self._risk_pausers(name)
            if strategy is None or check not in pausers or name in self._killed:
                continue
            others = [c for c in pausers if c != check]
            if others:  # still held by another check's pause
                self._paused_by[name] = ", ".join(f"risk {c}" for c in others)
                released.append(name)
                continue
            strategy.paused = False
            del self._paused_by[name]
            resumed.append(name)
        if resumed or released:
            log.info("risk %s resumed %s: %s", check, ", ".join(resumed + released), reason)
            self._save_pauses()
        return resumed

    def kill(self, by: str, reason: str = "", alert: bool = True, *, cancel: bool = True) -> int:
        """Kill switch: pause every strategy now, cancel every resting order in the background.

        Orders already queued or in flight are let settle first (bounded by ``[bot]
        shutdown_timeout_s``), so none of them is left resting. Returns how many strategies it paused. Pulled from a
        risk check's start(), before the strategies are built: pulled once they are (returns 0).
        """
        if self._until_strategies is not None:
            self._until_strategies.append(lambda: self.kill(by, reason, alert, cancel=cancel))
            return 0
        paused = 0
        self._kill_switch = by
        self._killed.update(self.strategies)
        for name, strategy in self.strategies.items():
            if not strategy.paused:
                strategy.paused = True
                self._paused_by[name] = by
                paused += 1
        log.warning("kill switch by %s: %s", by, reason or "no reason given")
        self._save_pauses()
        if alert:
            self.alert(AlertLevel.CRITICAL, "risk", "kill switch: every strategy paused, resting orders cancelled",
                       by=by, reason=reason)
        if cancel:
            self.tasks.create(self._cancel_everything(), owner="host", what="kill switch")
        return paused

    async def _cancel_killed(self, *, again: bool = False) -> None:
        """Cancel the open orders of every strategy the kill switch holds, and again, with the executor's backoff,
        while a venue refuses (a 503): until none is left, the strategy is resumed or the bot stops. ``again``: a
        first cancel was just refused, so this starts with a wait."""
        if self._cancelling_killed:
            return
        self._cancelling_killed = True
        try:
            s, attempt = self.config.executor, 1 if again else 0
            while not self._stopping:
                names = sorted({o.strategy for o in self.executor.open_orders() if o.strategy in self._killed})
                if not names:
                    return
                if attempt:
                    await asyncio.sleep(backoff_delay(attempt - 1, s.backoff_initial_s, s.backoff_max_s))
                attempt += 1
                for name in names:
                    if name in self._killed:
                        await self.executor.cancel_all(name)
        finally:
            self._cancelling_killed = False

    async def _cancel_everything(self) -> int:
        # what has not left yet never does (queued behind a rate limit it would go out after the kill); then what
        # is on its way settles, so none of it is left resting
        self.executor.cancel_unsent()
        if not await self.executor.settle(self.config.bot.shutdown_timeout_s):
            log.warning("orders still in flight after %ss; cancelling what is open", self.config.bot.shutdown_timeout_s)
        count = await self.executor.cancel_all()
        if any(o.strategy in self._killed for o in self.executor.open_orders()):  # a cancel the venue refused
            self.tasks.create(self._cancel_killed(again=True), owner="host", what="kill switch: cancel again")
        return count

    def flatten(self, by: str, reason: str, max_slippage_bps: Decimal) -> None:
        """Kill switch, then close every position at most ``max_slippage_bps`` through the last mid price (asked from
        a risk check's start(): once the strategies are built). A market with no price yet (a flatten asked at start,
        before the feeds' first books) is waited for, ``[bot] flatten_price_wait_s`` at most, then closed; what could
        not be closed is alerted once, with why."""
        if self._until_strategies is not None:
            self._until_strategies.append(lambda: self.flatten(by, reason, max_slippage_bps))
            return
        self.kill(by, reason, alert=False, cancel=False)  # close_positions cancels first
        self.tasks.create(self._close_positions(max_slippage_bps), owner="host", what="flatten")

    async def _close_positions(self, max_slippage_bps: Decimal) -> None:
        await self._cancel_everything()
        wait_s = self.config.bot.flatten_price_wait_s
        await self._wait_for_prices(wait_s)
        not_closed: list[tuple[str, Decimal, str]] = []  # (market, position, why)
        for (exchange, symbol), qty in self.portfolio.positions().items():
            mid = self.portfolio.last_price(exchange, symbol)
            if exchange not in self.exchanges:
                not_closed.append((f"{exchange} {symbol}", qty, f"no venue {exchange} configured"))
                continue
            if mid is None:
                not_closed.append((f"{exchange} {symbol}", qty, f"no price within {wait_s:g} s"))
                continue
            side = Side.SELL if qty > 0 else Side.BUY
            shift = mid * max_slippage_bps / BPS
            price = mid - shift if side is Side.SELL else mid + shift
            try:
                rules = self.exchanges[exchange].market(symbol)
                price = rules.round_price(price, side)  # never beyond the price limit
                size = rules.round_qty(abs(qty))
            except KeyError:
                size = abs(qty)
            if size <= 0:
                continue
            self.executor.submit(OrderIntent(
                strategy="flatten", exchange=exchange, symbol=symbol, side=side, qty=size, price=price,
                order_type=OrderType.LIMIT, tif=TimeInForce.IOC), risk=False)
        if not_closed:  # one alert for them all, each market with its position and why
            whys = "; ".join(sorted({why for _, _, why in not_closed}))
            count = f"{len(not_closed)} position{'' if len(not_closed) == 1 else 's'}"
            self.alert(AlertLevel.ERROR, "risk", f"flatten: {count} not closed: {whys}",
                       **{market: f"{qty} ({why})" for market, qty, why in not_closed})

    async def _wait_for_prices(self, wait_s: float) -> None:
        """Until every position on a configured venue has a price (a book or pool update came), ``wait_s`` at most."""
        def unpriced() -> list[tuple[str, str]]:
            return [key for key in self.portfolio.positions()
                    if key[0] in self.exchanges and self.portfolio.last_price(*key) is None]

        missing = unpriced()
        if not missing or wait_s <= 0:
            return
        log.warning("flatten: no price yet for %s; waiting up to %ss for one",
                    ", ".join(f"{e} {s}" for e, s in missing), wait_s)
        arrived = asyncio.Event()
        unsubscribe = [self.bus.subscribe(kind, lambda _event: arrived.set(), owner="flatten")
                       for kind in (BookUpdate, PoolUpdate)]
        try:
            async with asyncio.timeout(wait_s):
                while unpriced():  # read after each update is published: the portfolio has taken it by then
                    arrived.clear()
                    await arrived.wait()
        except TimeoutError:
            pass
        finally:
            for undo in unsubscribe:
                undo()

    def record_trip(self, check: str, cause: str, action: str, *, strategy: str = "", exchange: str = "",
                    symbol: str = "", level: AlertLevel = AlertLevel.WARNING,
                    figures: dict[str, Any] | None = None) -> None:
        """Store a risk trip with its figures and alert it (identical causes coalesce in the alert queue)."""
        figures = dict(figures or {})
        self._record_risk_event(check_name=check, reason=cause, strategy=strategy, exchange=exchange,
                                     symbol=symbol, action=action, details=figures, ts_ns=self.clock.time_ns())
        where = {k: v for k, v in (("strategy", strategy), ("exchange", exchange), ("symbol", symbol)) if v}
        self.alert(level, "risk", f"{check}: {cause}; action: {action}", source=check,
                   **where, **{k: str(v) for k, v in figures.items()})

    def resume(self, names: list[str], by: str) -> None:
        for name in names:
            strategy = self.strategies[name]
            self._store_failed.discard(name)
            if name in self._failed:
                del self._failed[name]
                self._subscribe_strategy(name, strategy)
                self._hand_over(name)
            strategy.paused = False
            self._paused_by.pop(name, None)
            self._killed.discard(name)
            self.alert(AlertLevel.INFO, "bot", f"strategy {name} resumed by {by}")
        if not self._killed.intersection(self.strategies):  # every killed strategy of this run resumed
            self._kill_switch = None
        self._save_pauses()

    def set_observe(self, on: bool, by: str) -> str:
        """Switch observe mode at run time (``/observe on|off``); returns the mode now in force.

        On: every new order is recorded as OBSERVED and sent nowhere; resting orders stay. Off: back
        to the configured ``paper`` or ``live`` mode, never beyond it. Raises ValueError when the
        config itself says ``observe`` (there is no trading mode to return to). Alerted each time.
        """
        if not on and self.config.mode == "observe":
            raise ValueError('the config says mode = "observe"; there is no trading mode to return to')
        mode = "observe" if on else self.config.mode
        if mode == self.mode:
            return mode
        self.mode = mode
        self._write_soon("observe mode (a restart would not keep it)", self.store.set_state, "observe",
                         "on" if on else "off", self.clock.time_ns())
        log.warning("mode %s (by %s)", mode, by)
        if on:
            self.alert(AlertLevel.WARNING, "bot", "observe mode on: new orders are recorded, not sent", by=by)
        else:
            self.alert(AlertLevel.WARNING, "bot", f"observe mode off: orders are sent again ({mode} mode)", by=by)
        return mode

    def strategy_state(self, name: str) -> str:
        if name in self.not_started:
            return f"failed (not started: {self.not_started[name]})"
        if name in self._failed:
            return f"failed ({self._failed[name]})"
        if self.strategies[name].paused:
            return f"paused by {self._paused_by.get(name, 'host')}"
        return "running"

    def killed(self, name: str) -> bool:
        """True while a strategy stays paused by the kill switch."""
        return name in self._killed

    def strategy_failed(self, name: str) -> bool:
        return name in self._failed or name in self.not_started

    # --- errors and alerts ------------------------------------------------------------------

    def alert(self, level: AlertLevel, kind: str, message: str, source: str = "host", **fields: Any) -> None:
        if not self.alerts.heard:  # a backtest's: nobody hears it, so nothing is made of it
            return
        self.alerts.emit(Alert(level=level, kind=kind, source=source, message=message, fields=fields,
                               ts_ns=self.clock.time_ns()))

    def _record_risk_event(self, **fields: Any) -> None:
        """Store a risk event on the store writer's thread (a veto decided on the loop never waits for the database:
        the row lands a moment later, before anything the writer is handed after it; stop waits for it); a store
        that cannot be written loses the row (logged), not the veto or trip."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # outside the loop (nothing to keep running): store it here
            self._risk_event_stored(fields, None, lambda: self.store.record_risk_event(**fields))
            return
        try:
            written = self.writer.later(self.store.record_risk_event, **fields)
        except WriterClosed as exc:  # after the bot's stop: the veto or trip holds, its row is not stored
            self._risk_event_stored(fields, None, partial(_raise, exc))
            return
        written.add_done_callback(lambda done: self._risk_event_stored(fields, done, done.result))

    def _store_markouts(self, rows: list[dict[str, Any]]) -> None:
        """Markout samples: on the loop's record connection when the store records there in microseconds (file-backed
        SQLite, never a checkpoint), else on the store writer's thread (a PostgreSQL round trip never holds the loop;
        the samples land a moment later, and stop waits for them). A failure is logged: markouts never stop trading."""
        if self.store.records_inline:
            self.store.insert_markouts(rows)
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.store.insert_markouts(rows)
            return
        written = self.writer.later(self.store.insert_markouts, rows)
        written.add_done_callback(lambda done: None if done.cancelled() or done.exception() is None else log.error(
            "markouts: %d samples could not be stored: %s", len(rows), done.exception()))

    @staticmethod
    def _risk_event_stored(fields: dict[str, Any], done: asyncio.Future[None] | None,
                           result: Callable[[], None]) -> None:
        if done is not None and done.cancelled():
            return
        try:
            result()
        except Exception as exc:
            if is_store_closed(exc):
                log.warning("risk event not stored (%s): %s", describe_store_error(exc), fields)
                return
            if not is_store_error(exc):
                log.error("risk event not stored: %s: %s: %s", type(exc).__name__, exc, fields)
                return
            log.error("risk event not stored (%s): %s", describe_store_error(exc), fields)

    def on_veto(self, intent: OrderIntent, veto: Veto) -> None:
        log.warning("risk %s vetoed %s %s %s: %s", veto.check, intent.strategy, intent.side, intent.symbol, veto.reason)
        self._record_risk_event(
            check_name=veto.check, reason=veto.reason, strategy=intent.strategy, exchange=intent.exchange,
            symbol=intent.symbol, details={"side": intent.side.value, "qty": str(intent.qty),
                                           "price": str(intent.price)}, ts_ns=self.clock.time_ns())
        self.executor.refusals.refused(intent.strategy, intent.exchange, intent.symbol, f"vetoed by {veto.check}",
                                       veto.reason, kind="risk", before_venue=True, check=veto.check)

    def ask(self, component: Component, method: str, *args: Any) -> Any:
        """``component.method(*args)``, a read of a plugin's component (``status``, ``usage``, ``markets``,
        ``chart_levels``), or None when it raised: reported against the component's plugin once per streak (not
        again until it has answered in between), so a page polled every second does not alert every second."""
        key = (component.name, method)
        try:
            answer = getattr(component, method)(*args)
        except Exception as exc:
            if key not in self._failing_reads:
                self._failing_reads.add(key)
                kind = getattr(getattr(component, "ctx", None), "kind", "component")
                self.plugin_failed(self._owner_plugin.get(component.name, component.name),
                                   f'{kind} "{component.name}": {method}() raised {describe_failure(exc)}', exc)
            return None
        self._failing_reads.discard(key)
        return answer

    def plugin_failed(self, plugin: str, message: str, exc: BaseException | None = None) -> None:
        """Record a plugin's failure: logged, listed by ``arbot plugins`` and alerted; ``exc``'s
        traceback is logged at DEBUG."""
        self.plugins.fail(plugin, message, exc)

    def _plugin_label(self, component: str) -> str:
        """``plugin "x" (dist 1.0)``: the plugin of a component, as every error names it."""
        return self.plugins.info(self._owner_plugin.get(component, component)).label

    def _plugin_error(self, info: PluginInfo, message: str) -> None:
        log.error("%s: %s", info.label, message)
        self._alert_plugin_error(info, message)

    def _alert_plugin_error(self, info: PluginInfo, message: str) -> None:
        self.alert(AlertLevel.ERROR, "plugin_error", f"{info.label}: {message}", source=info.name)

    def _subscriber_failed(self, owner: str, exc: Exception, event: object) -> None:
        plugin = self._owner_plugin.get(owner, owner)
        if owner in self.strategies and owner not in self._failed and is_store_error(exc):
            log.error("%s failed on %s: %s", owner, type(event).__name__, describe_store_error(exc))
            # not the strategy's fault: it resumes by itself once the store can be written again
            self._failed[owner] = f"store unavailable: {describe_store_error(exc)}"
            self._store_failed.add(owner)
            self._held.setdefault(owner, _Held())  # its fills and order updates wait for it
            self.bus.unsubscribe_owner(owner)
            self.alert(AlertLevel.ERROR, "bot", f"strategy {owner} stopped: the store cannot be written; it resumes "
                       "by itself when it can", error=describe_store_error(exc))
            self.executor.store_failed(exc, f"strategy {owner}")
            return
        log.error("%s failed on %s", owner, type(event).__name__, exc_info=exc)  # the whole exception: here only
        if owner in self.strategies and owner not in self._failed:
            self._failed[owner] = why = describe_failure(exc)
            self.bus.unsubscribe_owner(owner)
            self.plugin_failed(plugin, f'strategy "{owner}" raised {why} on {type(event).__name__}; it is stopped '
                                       f'until /resume {owner}', exc)
        elif owner not in self.strategies:
            self.plugin_failed(plugin, f'"{owner}" raised {describe_failure(exc)} on {type(event).__name__}', exc)

    def _task_recovered(self, owner: str, what: str, failures: int) -> None:
        """A supervised task whose failure was alerted ("restarting by itself") has held since: its end, alerted."""
        log.warning("%s of %s runs again after %d failure(s)", what, owner, failures)
        self.alert(AlertLevel.INFO, "bot", f"{what} runs again: it has held {HEALTHY_AFTER_S:g} s after {failures} "
                   "failure(s)", source=owner, failures=failures)

    def _task_failed(self, owner: str, what: str, exc: BaseException) -> None:
        log.error("background task %s of %s failed", what, owner, exc_info=exc)
        plugin = self._owner_plugin.get(owner)
        if plugin is not None:
            self.plugin_failed(plugin, f'{what} of "{owner}" raised {describe_failure(exc)}', exc)
        else:
            self.alert(AlertLevel.ERROR, "bot", f"{what} failed: {describe_failure(exc)}", source=owner)


# --- the operator: what commands, jobs, services and startup/shutdown hooks get -------------------

_REPLACEMENTS = {
    "config": "operator.configured_mode, operator.timezone, operator.plugin_settings(NAME)",
    "executor": "operator.open_orders()",
    "portfolio": "operator.positions(), operator.last_price(), operator.feeds()",
    "alerts": "ctx.subscribe_alerts() in a service",
    "tasks": "ctx.create_task() in a service",
    "bus": "ctx.bus in a service",
    "clock": "operator.now_ns()",
    "commands": "operator.commands_for(caller)",
    "risk": "operator.risk()",
}


def _legacy(call: str, instead: str) -> None:
    warnings.warn(f"{call}: the 0.1 form of this call is deprecated and goes in 0.3; use {instead}, which "
                  "checks the caller's role", DeprecationWarning, stacklevel=3)


class HostOperator(Operator):
    """The :class:`~bot.api.Operator` of one :class:`Bot`.

    ``audited``: verbs write their own audit line (services, jobs, hooks). The command table hands
    handlers one with ``audited=False``: the command's own audit line covers what it does. Roles
    are checked either way.

    Attributes of the old ``Bot`` that are not part of the Operator still resolve, with a
    :class:`DeprecationWarning` naming the replacement (see CHANGELOG.md): plugins written for
    0.1, whose handlers received the ``Bot``, keep working for one release.
    """

    def __init__(self, bot: Bot, *, audited: bool = True):
        self._bot = bot
        self._audited = audited

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = getattr(self._bot, name)  # AttributeError for a name the Bot never had
        instead = _REPLACEMENTS.get(name, "the bot.api.Operator methods")
        warnings.warn(f"bot.{name}: command handlers, jobs and startup/shutdown hooks receive a bot.api.Operator "
                      f"since arbot 0.2; reaching the Bot's .{name} through it is deprecated and goes in 0.3 "
                      f"(use {instead})", DeprecationWarning, stacklevel=2)
        return value

    # --- state ------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._bot.mode

    @property
    def configured_mode(self) -> str:
        return self._bot.config.mode

    @property
    def started_ns(self) -> int:
        return self._bot.started_ns

    @property
    def bot_name(self) -> str:
        return self._bot.name

    @property
    def fleet(self) -> FleetLink | None:
        return self._bot.commands.fleet

    def now_ns(self) -> int:
        return self._bot.clock.time_ns()

    @property
    def timezone(self) -> str:
        return self._bot.config.scheduler.timezone

    def period_start_ns(self, period: str) -> int:
        return period_start_ns(period, self.now_ns(), self.timezone)

    @overload
    def plugin_settings(self, plugin: str) -> Any: ...

    @overload
    def plugin_settings(self, plugin: str, cls: type[T]) -> T: ...

    def plugin_settings(self, plugin: str, cls: type[T] | None = None) -> Any:
        settings = self._bot.config.plugin_settings.get(plugin)
        return settings if cls is None else settings_of_class(plugin, settings, cls)

    @property
    def store(self) -> Store:
        return self._bot.store

    # --- components -------------------------------------------------------------------------

    @property
    def strategies(self) -> Mapping[str, Strategy]:
        return MappingProxyType(self._bot.strategies)

    @property
    def exchanges(self) -> Mapping[str, Exchange]:
        return MappingProxyType(self._bot.exchanges)

    @property
    def notifiers(self) -> Mapping[str, Notifier]:
        return MappingProxyType(self._bot.notifiers)

    @property
    def services(self) -> Mapping[str, Service]:
        return MappingProxyType(self._bot.services)

    def strategy_type(self, name: str) -> str:
        return self._bot.config.of_kind("strategy")[name].type

    @property
    def strategies_not_started(self) -> Mapping[str, str]:
        return MappingProxyType(self._bot.not_started)

    def strategy_state(self, name: str) -> str:
        return self._bot.strategy_state(name)

    def strategy_failed(self, name: str) -> bool:
        return self._bot.strategy_failed(name)

    def killed(self, name: str) -> bool:
        return self._bot.killed(name)

    def service(self, name: str) -> Service | None:
        return self._bot.services.get(name)

    # --- orders, positions, money -------------------------------------------------------------

    def open_orders(self, exchange: str | None = None, symbol: str | None = None) -> list[Order]:
        return self._bot.portfolio.open_orders(exchange, symbol)

    def unknown_orders(self) -> list[Order]:
        return self._bot.executor.unknown_orders()

    def unknown_since_ns(self, client_order_id: str) -> int | None:
        return self._bot.executor.unknown_since_ns(client_order_id)

    @property
    def store_error(self) -> str | None:
        error = self._bot.executor.store_error
        return None if error is None else str(error)

    def alerts_dropped(self) -> int:
        return self._bot.alerts.dropped

    def positions(self) -> dict[tuple[str, str], Decimal]:
        return self._bot.portfolio.positions()

    def last_price(self, exchange: str, symbol: str) -> Decimal | None:
        return self._bot.portfolio.last_price(exchange, symbol)

    async def balances(self) -> dict[str, dict[str, Any]]:
        return {name: await exchange.balances() for name, exchange in list(self._bot.exchanges.items())}

    def ledger(self) -> Ledger:
        return Ledger(self._bot.store, self._bot.portfolio.last_price)

    def pnl(self, since_ns: int | None = None) -> dict[str, StrategyFigures]:
        return self.ledger().strategies(since_ns=since_ns)

    def opportunities(self, limit: int) -> list[Opportunity]:
        return self._bot.opportunities.latest(limit)

    def opportunities_kept(self) -> int:
        return len(self._bot.opportunities)

    def feeds(self) -> dict[tuple[str, str], int]:
        return self._bot.portfolio.data_times()

    def feed_health(self) -> list[FeedView]:
        return self._bot.portfolio.feed_health()

    # --- history ---------------------------------------------------------------------------------

    def order_history(self, *, strategy: str | None = None, exchange: str | None = None,
                      statuses: list[str] | None = None, since_ns: int | None = None, until_ns: int | None = None,
                      limit: int = 100, offset: int = 0) -> list[Order]:
        return self._bot.store.order_page(strategy=strategy, exchange=exchange, statuses=statuses,
                                          since_ns=since_ns, until_ns=until_ns, limit=limit, offset=offset)

    def fill_history(self, *, strategy: str | None = None, exchange: str | None = None,
                     since_ns: int | None = None, until_ns: int | None = None, limit: int = 100,
                     offset: int = 0) -> list[tuple[str, Fill]]:
        return self._bot.store.fill_page(strategy=strategy, exchange=exchange, since_ns=since_ns,
                                         until_ns=until_ns, limit=limit, offset=offset)

    def executions(self, *, strategy: str | None = None, since_ns: int | None = None, until_ns: int | None = None,
                   limit: int = 100, offset: int = 0) -> list[ExecutionView]:
        found: list[ExecutionView] = []
        kwargs = {"store": self._bot.store, "strategy": strategy, "since_ns": since_ns, "until_ns": until_ns,
                  "limit": limit + offset}
        plugins, loop = self._bot.plugins, self._bot.loop

        def failed(plugin: str, exc: Exception) -> None:  # reported on the loop: this may run in a worker thread
            message = f"executions raised {type(exc).__name__}: {exc}"
            if loop is None or loop.is_closed():
                plugins.fail(plugin, message, exc)
            else:
                loop.call_soon_threadsafe(plugins.fail, plugin, message, exc)

        for _, views in plugins.call_each("executions", kwargs, on_error=failed):
            found.extend(views or [])
        found.sort(key=lambda v: v.created_ns, reverse=True)
        return found[offset:offset + limit]

    def audit_log(self, limit: int = 50, offset: int = 0) -> list[AuditEntry]:
        return [AuditEntry(ts_ns=row.ts_ns, transport=row.transport, user_id=row.user_id, command=row.command,
                           args=row.args, outcome=row.outcome, role=row.role, chat_id=row.chat_id)
                for row in self._bot.store.audit_log(limit, offset)]

    def record_audit(self, entries: list[AuditEntry]) -> None:
        self._bot.store.audit_many(dataclasses.asdict(entry) for entry in entries)

    # --- risk and plugins -----------------------------------------------------------------------

    def risk(self) -> list[RiskView]:
        views = []
        for check in self._bot.risk.checks:
            facts, usage = self._bot.ask(check, "status"), self._bot.ask(check, "usage")
            views.append(RiskView(check.name, {"status()": "failed"} if facts is None else dict(facts),
                                  dict(usage or {})))
        return views

    def risk_trips(self, limit: int) -> list[RiskTrip]:
        return [RiskTrip(ts_ns=row.ts_ns, check=row.check_name, action=row.action, reason=row.reason,
                         strategy=row.strategy, exchange=row.exchange, symbol=row.symbol)
                for row in self._bot.store.risk_events(limit, trips_only=True)]

    def plugins(self) -> list[PluginView]:
        registry = self._bot.registry
        provided: dict[str, list[str]] = {}
        for kind, table in [*registry.components.items(), ("command", registry.commands),
                            ("service", registry.services)]:
            for name, reg in table.items():
                provided.setdefault(reg.plugin, []).append(f"{kind}:{name}")
        return [PluginView(name=info.name, kinds=frozenset(info.kinds), dist=info.dist or "",
                           version=info.version or "", errors=tuple(info.errors),
                           provides=tuple(provided.get(info.name, ())))
                for info in sorted(self._bot.plugins.infos.values(), key=lambda i: i.name)]

    def commands_for(self, caller: Caller) -> list[Command]:
        return self._bot.commands.visible_to(caller)

    def ask(self, component: Component, method: str, *args: Any) -> Any:
        return self._bot.ask(component, method, *args)

    # --- acting ----------------------------------------------------------------------------------

    def alert(self, level: AlertLevel, kind: str, message: str, source: str = "host", **fields: Any) -> None:
        self._bot.alert(level, kind, message, source=source, **fields)

    def _allow(self, verb: str, caller: Caller, args: list[str]) -> str:
        """Check ``caller``'s role for ``verb`` (audit it when asked to); return who acts, for the alerts."""
        need = VERB_ROLES[verb]
        allowed = ROLE_RANK.get(caller.role or "", 0) >= ROLE_RANK[need]
        if self._audited:
            bot = self._bot
            bot._write_soon(f"the audit line of {verb} by {caller.transport}:{caller.user_id}", bot.store.audit,
                            transport=caller.transport, user_id=caller.user_id, chat_id=caller.chat_id,
                            role=caller.role or "", command=verb, args=" ".join(args),
                            outcome="operator: ok" if allowed else f"operator: refused: needs {need}",
                            ts_ns=bot.clock.time_ns())
        if not allowed:
            raise Refused(f"{verb} needs the {need} role; {caller.user_id} on {caller.transport} is "
                          f"{caller.role or 'without a role'}")
        return f"{caller.transport}:{caller.user_id}"

    def _targets(self, names: list[str]) -> list[str]:
        not_started = [n for n in names if n in self._bot.not_started]
        if not_started:
            raise KeyError(f"strategy {', '.join(not_started)} was not started "
                           f"({'; '.join(self._bot.not_started[n] for n in not_started)}): fix the cause and restart "
                           "the bot")
        unknown = [n for n in names if n not in self._bot.strategies]
        if unknown:
            raise KeyError(f"no strategy named {', '.join(unknown)}")
        return list(names) or list(self._bot.strategies)

    def pause(self, names: list[str], caller: Caller | str | None = None, *, by: str | None = None) -> list[str]:
        if not isinstance(caller, Caller):  # 0.1: bot.pause(names, by="..."), no role check
            _legacy("bot.pause(names, by)", "operator.pause(names, caller)")
            self._bot.pause(names, by=by or caller or "plugin")
            return names
        who = self._allow("pause", caller, names)
        targets = self._targets(names)
        self._bot.pause(targets, by=who)
        return targets

    def resume(self, names: list[str], caller: Caller | str | None = None, *, by: str | None = None) -> list[str]:
        if not isinstance(caller, Caller):  # 0.1: bot.resume(names, by="...")
            _legacy("bot.resume(names, by)", "operator.resume(names, caller)")
            self._bot.resume(names, by=by or caller or "plugin")
            return names
        who = self._allow("resume", caller, names)
        targets = self._targets(names)
        self._bot.resume(targets, by=who)
        return targets

    def kill(self, reason: str, caller: Caller) -> int:
        by = self._allow("kill", caller, [reason])
        return self._bot.kill(by=by, reason=reason or "kill command")

    def flatten(self, reason: str, max_slippage_bps: Decimal, caller: Caller) -> None:
        by = self._allow("flatten", caller, [reason, str(max_slippage_bps)])
        self._bot.flatten(by=by, reason=reason, max_slippage_bps=max_slippage_bps)

    def set_observe(self, on: bool, caller: Caller) -> str:
        by = self._allow("observe", caller, ["on" if on else "off"])
        return self._bot.set_observe(on, by)

    async def reload_secrets(self, caller: Caller) -> list[str]:
        by = self._allow("reload_secrets", caller, [])
        return await self._bot.reload_secrets(by)

    async def reconcile(self) -> None:
        await self._bot.executor.reconcile()
        for name, strategy in list(self._bot.strategies.items()):
            if not self._bot.strategy_failed(name):
                await strategy.reconcile()

    async def snapshot_balances(self) -> None:
        now = self._bot.clock.time_ns()
        for name, exchange in list(self._bot.exchanges.items()):
            self._bot.store.snapshot_balances(name, (await exchange.balances()).values(), now)
