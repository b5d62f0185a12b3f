"""The running bot: builds components from config and plugins, starts and stops them in order.

Start order: store -> notifiers (so every later problem can be heard) -> exchanges -> executor
and recovery of orders left in flight -> strategies -> watchdog (dead-man alerts) -> scheduler ->
control channel -> ``startup`` hook. Stop runs it backwards. A component whose constructor or ``start`` raises is reported with
its plugin's name and left out; the bot runs without it (and without strategies that need it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .alerts import Alerts
from .api import Context, Exchange, Notifier, Strategy
from .bus import Bus
from .clock import Clock
from .commands import CommandTable
from .config import Config
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
    Trade,
)
from .execution import Executor
from .identity import StoreIdentity, StoreMismatch, StoreWatch, establish
from .opportunities import OpportunityLog
from .plugins import PluginInfo, PluginSet, Registry, collect_jobs
from .portfolio import Portfolio
from .risk import RiskGate, Veto
from .scheduler import Scheduler
from .store import Store
from .tasks import Tasks
from .watchdog import Watchdog
from .writer import StoreWriter, describe_store_error, is_store_error

log = logging.getLogger("arbot")

STORE_WATCH_EVERY_S = 5.0
"""How often the running bot checks that its store file is still the one it opened."""


@dataclass(frozen=True)
class StartOptions:
    """The operator's answers to a store that does not match (``arbot run --new-epoch / --cancel-unknown``)."""

    new_epoch: bool = False
    """Draw a new client order id epoch (needed to start on a store older than the last run)."""
    cancel_unknown: bool = False
    """Cancel orders open at a venue under our strategies' id prefixes that the store has never seen."""


class Bot:
    """One running arbot. Plugins see it in ``startup``/``shutdown``, jobs and commands."""

    def __init__(self, config: Config, plugins: PluginSet, registry: Registry, *, clock: Clock | None = None,
                 options: StartOptions | None = None):
        self.config = config
        self.options = options or StartOptions()
        self.identity: StoreIdentity | None = None
        self.mode = config.mode
        """The mode in force: ``config.mode``, or ``observe`` after :meth:`set_observe` (``/observe on``)."""
        self.plugins = plugins
        self.registry = registry
        self.clock = clock or Clock()
        self.data_dir = config.data_dir
        self.bus = Bus(self._subscriber_failed)
        self.tasks = Tasks(self._task_failed)
        self.alerts = Alerts(config.alerts.coalesce_s, config.alerts.queue_size, self.clock.monotonic)
        self.store = Store(config.db_url)
        self.exchanges: dict[str, Exchange] = {}
        self.strategies: dict[str, Strategy] = {}
        self.notifiers: dict[str, Notifier] = {}
        active: dict[str, Order] = {}
        self.portfolio = Portfolio(lambda: list(active.values()))
        self.risk = RiskGate([], self.portfolio)
        self.writer = StoreWriter(self.store, threaded=not self.clock.simulated)
        self.executor = Executor(
            config.executor, store=self.store, writer=self.writer, clock=self.clock, tasks=self.tasks,
            portfolio=self.portfolio, risk=self.risk,
            dispatch=Dispatch(portfolio=self.portfolio, risk_checks=lambda: self.risk.checks, bus=self.bus,
                              strategy=self._running_strategy, guard=self._guard, alert=self.alert),
            alert=self.alert, exchanges=lambda: self.exchanges, mode=lambda: self.mode,
            may_trade=self._may_trade, on_veto=self.on_veto, on_store_state=self._store_state_changed,
            active=active)
        self.scheduler = Scheduler(config.scheduler)
        self.commands = CommandTable(registry.commands, self)
        self.opportunities = OpportunityLog()
        self.watchdog = Watchdog(self, config.alerts)
        self.started_ns = 0
        self._owner_plugin: dict[str, str] = {}
        self._failed: dict[str, str] = {}
        self._paused_by: dict[str, str] = {}
        self._killed: set[str] = set()
        """Strategies paused by the kill switch: resuming them asks for a confirmation."""
        self._store_failed: set[str] = set()
        """Strategies failed only because the store could not be written: resumed when it can again."""
        self._stop = asyncio.Event()
        self._started: list[Any] = []
        self._stopping = False
        self._start_failed = False
        plugins._report = self._plugin_error

    # --- building ---------------------------------------------------------------------------

    def _build(self, kind: str) -> dict[str, Any]:
        built = {}
        for name, comp in self.config.of_kind(kind).items():
            reg = self.registry.components[kind][comp.type]
            self._owner_plugin[name] = reg.plugin
            try:
                built[name] = reg.obj(name, comp.settings, Context(self, kind, name))
            except Exception as exc:
                self.plugin_failed(reg.plugin, f'{kind} "{name}" could not be created: {type(exc).__name__}: {exc}',
                                   exc)
        return built

    async def _start_each(self, components: dict[str, Any], kind: str) -> None:
        for name, component in list(components.items()):
            try:
                await component.start()
            except Exception as exc:
                self.plugin_failed(self._owner_plugin[name], f'{kind} "{name}" failed to start: '
                                                            f'{type(exc).__name__}: {exc}', exc)
                del components[name]
                continue
            self._started.append(component)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self.started_ns = self.clock.time_ns()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store.open()
        self.identity = establish(self.store, self.data_dir, fresh_epoch=self.options.new_epoch,
                                  ts_ns=self.started_ns)
        self.executor.id_epoch = self.identity.id_epoch
        kept_observe = self.config.mode != "observe" and self.store.get_state("observe") == "on"
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
        await self._start_each(risk_checks, "risk")
        self.risk.checks = list(risk_checks.values())
        self.bus.subscribe(BookUpdate, self.portfolio.on_book, owner="portfolio")
        self.bus.subscribe(PoolUpdate, self.portfolio.on_pool, owner="portfolio")
        self.bus.subscribe(Fill, self.executor.apply_fill, owner="executor")
        self.bus.subscribe(OrderReport, self.executor.handle_report, owner="executor")
        self.bus.subscribe(Opportunity, self.opportunities.on_opportunity, owner="opportunities")

        self.exchanges = self._build("exchange")
        await self._start_each(self.exchanges, "exchange")
        await self.executor.start()
        recovered = await self.executor.recover()  # fills stored, and those made while we were down: once each
        if any(recovered.values()):
            log.info("orders left by the previous run: %s", recovered)

        self.strategies = self._build("strategy")
        for name, strategy in list(self.strategies.items()):
            missing = [e for e, _ in strategy.markets() if e not in self.exchanges]
            if missing:
                self.plugin_failed(self._owner_plugin[name], f'strategy "{name}" needs exchange(s) '
                                                             f'{", ".join(missing)}, which did not start')
                del self.strategies[name]
        await self._check_venues()
        await self._start_each(self.strategies, "strategy")
        for name, strategy in self.strategies.items():
            self._subscribe_strategy(name, strategy)
        self.watchdog.start()

        collect_jobs(self.plugins, self.registry, self.config)
        for reg in self.registry.jobs.values():
            self.scheduler.add(reg.obj, reg.plugin, self)
        self.scheduler.start()
        self.tasks.supervise(self._watch_store, owner="host", what="store watch")

        from .control import ControlServer

        self.control = ControlServer(self)
        await self.control.start()
        await self.plugins.call_each_async("startup", bot=self)
        self.alert(AlertLevel.INFO, "bot", f"arbot started in {self.config.mode} mode",
                   strategies=", ".join(self.strategies) or "none", exchanges=", ".join(self.exchanges) or "none")
        if self.identity.replaced:
            self.alert(AlertLevel.WARNING, "bot", "a new store took the place of the previous one: client order ids "
                       "come from a new epoch", previous=self.identity.replaced, store=self.identity.store_id,
                       epoch=self.identity.id_epoch)
        if kept_observe:
            self.alert(AlertLevel.WARNING, "bot", "observe mode kept from before the restart: orders are recorded, "
                       "not sent; /observe off to trade again")

    async def _check_venues(self) -> None:
        """Orders open at a venue under our strategies' id prefixes that the store has never seen: the store
        does not match the venue. Stop (:class:`StoreMismatch`), or cancel them with ``--cancel-unknown``."""
        prefixes = tuple(f"{name}-" for name in self.config.of_kind("strategy")) + ("flatten-",)
        unknown = []
        for exchange_name, symbol in sorted({m for s in self.strategies.values() for m in s.markets()}):
            exchange = self.exchanges.get(exchange_name)
            if exchange is None:
                continue
            try:
                states = await exchange.open_orders(symbol)
            except Exception as exc:  # a venue that cannot list them is not checked
                log.warning("could not list open orders on %s %s at start: %s", exchange_name, symbol, exc)
                continue
            for state in states:
                cid = state.client_order_id
                if cid.startswith(prefixes) and self.executor.order(cid) is None:
                    unknown.append((exchange_name, symbol, cid))
        if not unknown:
            return
        listed = ", ".join(f"{e} {s} {cid}" for e, s, cid in unknown[:10]) + (
            f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        if not self.options.cancel_unknown:
            raise StoreMismatch(
                f"{len(unknown)} order(s) open at the venue under our id prefix are unknown to the store "
                f"({listed}): the store is not the one these orders were placed with (deleted, replaced or restored?). "
                "Put the right store back, or start with `arbot run --cancel-unknown` to cancel them at the venue "
                "and trade on (their fills, if any, are not in this store).")
        for exchange_name, symbol, cid in unknown:
            await self.exchanges[exchange_name].cancel_order(symbol, cid)
        self.alert(AlertLevel.WARNING, "bot", f"cancelled {len(unknown)} order(s) unknown to the store "
                   "(--cancel-unknown)", orders=listed)

    async def _watch_store(self) -> None:
        watch = StoreWatch(self.store, self.identity.store_id)
        reported = None
        while True:
            await asyncio.sleep(STORE_WATCH_EVERY_S)
            problem = watch.problem()
            if problem and problem != reported:
                log.critical("%s", problem)
                self.alert(AlertLevel.CRITICAL, "store", f"{problem}: what the bot writes now is lost at the next "
                           "start; stop it, put the store back (or start on a new one, see README: store identity)")
            reported = problem

    def _subscribe_strategy(self, name: str, strategy: Strategy) -> None:
        for exchange, symbol in strategy.markets():
            for event_type in (BookUpdate, PoolUpdate, Trade, FeedStatus):
                self.bus.subscribe(event_type, strategy.on_market, owner=name, exchange=exchange, symbol=symbol)

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self, duration_s: float | None = None) -> None:
        """Start, run until :meth:`request_stop` (or ``duration_s``), then stop cleanly."""
        try:
            await self.start()
        except BaseException:
            self._start_failed = True
            await self.stop()  # what started is stopped; resting orders are left as they are
            raise
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=duration_s)
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
        self.watchdog.stop()
        await self.plugins.call_each_async("shutdown", bot=self)
        control = getattr(self, "control", None)
        if control is not None:
            await control.stop()
        self.scheduler.stop()
        for name in list(self.strategies):
            self.bus.unsubscribe_owner(name)
        await self.executor.close(self.config.bot.shutdown_timeout_s)
        if self.config.bot.on_shutdown == "cancel" and self.exchanges and not self._start_failed:
            try:
                count = await asyncio.wait_for(self.executor.cancel_all(), self.config.bot.shutdown_timeout_s)
                log.info("cancelled %d resting order(s)", count)
            except Exception as exc:
                log.error("cancelling resting orders failed: %s", exc)
        await self.executor.flush()
        self.alert(AlertLevel.INFO, "bot", "arbot stopped")
        for component in reversed(self._started):
            if isinstance(component, Notifier):
                continue
            try:
                await component.stop()
            except Exception as exc:
                log.error("%s failed to stop: %s", component.name, exc)
        await self.tasks.drain(timeout_s=0)  # workers and waits; orders were settled above
        if not await self.executor.flush():
            log.error("order changes and fills could not be stored at shutdown (%s); recovery asks the venues "
                      "again on the next start", self.executor.store_error)
        await self.alerts.flush()
        for component in reversed(self._started):
            if isinstance(component, Notifier):
                try:
                    await component.stop()
                except Exception as exc:
                    log.error("%s failed to stop: %s", component.name, exc)
        self.writer.close()
        self.store.close()

    # --- what the executor and its dispatch ask of the bot -------------------------------------

    def _running_strategy(self, name: str) -> Strategy | None:
        """The strategy called ``name`` if it runs (not failed)."""
        return None if name in self._failed else self.strategies.get(name)

    def _may_trade(self, name: str) -> bool:
        strategy = self.strategies.get(name)
        return strategy is None or not strategy.paused

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
            self.alert(AlertLevel.WARNING, "bot", f"strategy {name} resumed by itself: the store is writable again")

    def _guard(self, owner: str, func, arg) -> None:
        try:
            func(arg)
        except Exception as exc:
            self._subscriber_failed(owner, exc, arg)

    # --- control ----------------------------------------------------------------------------

    def pause(self, names: list[str], by: str) -> None:
        for name in names:
            self.strategies[name].paused = True
            self._paused_by[name] = by
            self.alert(AlertLevel.WARNING, "bot", f"strategy {name} paused by {by}")

    def strategies_using(self, exchange: str, symbol: str | None = None) -> list[str]:
        """Running strategies that trade ``exchange`` (and ``symbol``)."""
        return [name for name, strategy in self.strategies.items()
                if any(e == exchange and (symbol is None or s == symbol) for e, s in strategy.markets())]

    def pause_for_risk(self, check: str, names: list[str] | None, reason: str) -> list[str]:
        """Pause strategies for a risk check, quietly (the trip's alert says it); returns those newly paused."""
        paused = []
        for name in self.strategies if names is None else names:
            strategy = self.strategies.get(name)
            if strategy is None or strategy.paused:
                continue
            strategy.paused = True
            self._paused_by[name] = f"risk {check}"
            paused.append(name)
        if paused:
            log.warning("risk %s paused %s: %s", check, ", ".join(paused), reason)
        return paused

    def resume_for_risk(self, check: str, names: list[str] | None, reason: str) -> list[str]:
        """Resume the strategies that risk check ``check`` itself paused; returns them."""
        resumed = []
        for name in self.strategies if names is None else names:
            strategy = self.strategies.get(name)
            if strategy is None or self._paused_by.get(name) != f"risk {check}":
                continue
            strategy.paused = False
            del self._paused_by[name]
            resumed.append(name)
        if resumed:
            log.info("risk %s resumed %s: %s", check, ", ".join(resumed), reason)
        return resumed

    def kill(self, by: str, reason: str = "", alert: bool = True, *, cancel: bool = True) -> int:
        """Kill switch: pause every strategy now, cancel every resting order in the background.

        Orders already queued or in flight are let settle first (bounded by ``[bot]
        shutdown_timeout_s``), so none of them is left resting. Returns how many strategies it paused.
        """
        paused = 0
        self._killed.update(self.strategies)
        for name, strategy in self.strategies.items():
            if not strategy.paused:
                strategy.paused = True
                self._paused_by[name] = by
                paused += 1
        log.warning("kill switch by %s: %s", by, reason or "no reason given")
        if alert:
            self.alert(AlertLevel.CRITICAL, "risk", "kill switch: every strategy paused, resting orders cancelled",
                       by=by, reason=reason)
        if cancel:
            self.tasks.create(self._cancel_everything(), owner="host", what="kill switch")
        return paused

    async def _cancel_everything(self) -> int:
        if not await self.executor.settle(self.config.bot.shutdown_timeout_s):
            log.warning("orders still in flight after %ss; cancelling what is open", self.config.bot.shutdown_timeout_s)
        return await self.executor.cancel_all()

    def flatten(self, by: str, reason: str, max_slippage_bps: Decimal) -> None:
        """Kill switch, then close every position at most ``max_slippage_bps`` through the last mid price."""
        self.kill(by, reason, alert=False, cancel=False)  # close_positions cancels first

        async def close_positions() -> None:
            await self._cancel_everything()
            for (exchange, symbol), qty in self.portfolio.positions().items():
                mid = self.portfolio.last_price(exchange, symbol)
                if mid is None or exchange not in self.exchanges:
                    self.alert(AlertLevel.ERROR, "risk", "flatten: no price to close a position",
                               exchange=exchange, symbol=symbol, position=str(qty))
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

        self.tasks.create(close_positions(), owner="host", what="flatten")

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
            strategy.paused = False
            self._paused_by.pop(name, None)
            self._killed.discard(name)
            self.alert(AlertLevel.INFO, "bot", f"strategy {name} resumed by {by}")

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
        self.store.set_state("observe", "on" if on else "off", self.clock.time_ns())
        log.warning("mode %s (by %s)", mode, by)
        if on:
            self.alert(AlertLevel.WARNING, "bot", "observe mode on: new orders are recorded, not sent", by=by)
        else:
            self.alert(AlertLevel.WARNING, "bot", f"observe mode off: orders are sent again ({mode} mode)", by=by)
        return mode

    def strategy_state(self, name: str) -> str:
        if name in self._failed:
            return f"failed ({self._failed[name]})"
        if self.strategies[name].paused:
            return f"paused by {self._paused_by.get(name, 'host')}"
        return "running"

    def killed(self, name: str) -> bool:
        """True while a strategy stays paused by the kill switch."""
        return name in self._killed

    def strategy_failed(self, name: str) -> bool:
        return name in self._failed

    # --- errors and alerts ------------------------------------------------------------------

    def alert(self, level: AlertLevel, kind: str, message: str, source: str = "host", **fields: Any) -> None:
        self.alerts.emit(Alert(level=level, kind=kind, source=source, message=message, fields=fields,
                               ts_ns=self.clock.time_ns()))

    def _record_risk_event(self, **fields: Any) -> None:
        """Store a risk event; a store that cannot be written loses the row (logged), not the veto or trip."""
        try:
            self.store.record_risk_event(**fields)
        except Exception as exc:
            if not is_store_error(exc):
                raise
            log.error("risk event not stored (%s): %s", describe_store_error(exc), fields)

    def on_veto(self, intent: OrderIntent, veto: Veto) -> None:
        log.warning("risk %s vetoed %s %s %s: %s", veto.check, intent.strategy, intent.side, intent.symbol, veto.reason)
        self._record_risk_event(
            check_name=veto.check, reason=veto.reason, strategy=intent.strategy, exchange=intent.exchange,
            symbol=intent.symbol, details={"side": intent.side.value, "qty": str(intent.qty),
                                           "price": str(intent.price)}, ts_ns=self.clock.time_ns())
        self.alert(AlertLevel.WARNING, "risk", f"{veto.check} blocked an order: {veto.reason}", source=intent.strategy)

    def plugin_failed(self, plugin: str, message: str, exc: BaseException | None = None) -> None:
        """Record a plugin's failure: logged, listed by ``arbot plugins`` and alerted; ``exc``'s
        traceback is logged at DEBUG."""
        self.plugins.fail(plugin, message, exc)

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
            self.bus.unsubscribe_owner(owner)
            self.alert(AlertLevel.ERROR, "bot", f"strategy {owner} stopped: the store cannot be written; it resumes "
                       "by itself when it can", error=describe_store_error(exc))
            self.executor.store_failed(exc, f"strategy {owner}")
            return
        log.error("%s failed on %s", owner, type(event).__name__, exc_info=exc)
        if owner in self.strategies and owner not in self._failed:
            self._failed[owner] = f"{type(exc).__name__}: {exc}"
            self.bus.unsubscribe_owner(owner)
            self.plugin_failed(plugin, f'strategy "{owner}" raised {type(exc).__name__}: {exc} on '
                                       f'{type(event).__name__}; it is stopped until /resume {owner}', exc)
        elif owner not in self.strategies:
            self.plugin_failed(plugin, f'"{owner}" raised {type(exc).__name__}: {exc} on {type(event).__name__}', exc)

    def _task_failed(self, owner: str, what: str, exc: BaseException) -> None:
        log.error("background task %s of %s failed", what, owner, exc_info=exc)
        plugin = self._owner_plugin.get(owner)
        if plugin is not None:
            self.plugin_failed(plugin, f'{what} of "{owner}" raised {type(exc).__name__}: {exc}', exc)
        else:
            self.alert(AlertLevel.ERROR, "bot", f"{what} failed: {type(exc).__name__}: {exc}", source=owner)

