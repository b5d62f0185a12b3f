"""Base classes of the component kinds, the :class:`Context` they receive, and command/job types.

Part of the public plugin API: import these names from :mod:`bot.api`, not from here.

A plugin registers *classes* through the ``register_*`` hooks (see :mod:`bot.hookspecs`). The host
builds one instance per config table (``[exchanges.NAME]``, ``[strategies.NAME]``, ...), passing the
instance name, the validated settings (an instance of the class's ``Settings`` dataclass) and a
:class:`Context`. Hooks are synchronous; the components' I/O methods are coroutines.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar, overload

from ..domain import (
    Alert,
    AlertLevel,
    Balance,
    ExecutionResult,
    FeedStatus,
    Fill,
    MarketInfo,
    Opportunity,
    Order,
    OrderIntent,
    OrderState,
    OrderUpdate,
    PoolUpdate,
    Side,
    SwapFee,
    Trade,
    Transfer,
    TransferStatus,
    TransferTerms,
)
from ..redact import REDACTOR
from ..settings import NoSettings

if TYPE_CHECKING:
    import asyncio

    from ..bus import Bus, EventBus
    from ..clock import Clock
    from ..domain import MarketEvent
    from ..ledger import Ledger, StrategyFigures
    from ..store import Store

T = TypeVar("T")
if TYPE_CHECKING:
    from typing_extensions import TypeVar as DefaultedTypeVar

    SettingsT = DefaultedTypeVar("SettingsT", default=Any)
else:  # the default (PEP 696) is for type checkers: a component with no type argument holds Any settings
    SettingsT = TypeVar("SettingsT")


class _AllMarketEvents:
    """The default of :attr:`Strategy.market_events`, all four kinds of market event: ``BookUpdate``'s module (the
    book view) is imported when it is first read, as a strategy starts, not by every command that loads plugins."""

    def __get__(self, obj: object, owner: type | None = None) -> tuple[type, ...]:
        from ..domain import BookUpdate

        return (BookUpdate, PoolUpdate, Trade, FeedStatus)


# --- errors an exchange raises ----------------------------------------------------------------


class ExchangeError(Exception):
    """Base of the errors an exchange plugin raises from its order methods."""


class TransientError(ExchangeError):
    """The request was certainly not executed (network refused, 5xx before processing): safe to retry."""


class RateLimited(TransientError):
    """The venue asked us to slow down; ``retry_after_s`` if it said how long."""

    def __init__(self, message: str = "rate limited", retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnknownOutcome(ExchangeError):
    """The request may or may not have executed (timeout, connection lost after sending).

    The executor looks the order up by its client order id before it sends anything again.
    """


class PermanentError(ExchangeError):
    """The venue refused the request for good (invalid arguments, insufficient funds, ...)."""


class InsufficientFunds(PermanentError):
    pass


class PostOnlyWouldCross(PermanentError):
    """A post-only order would have taken liquidity and was refused."""


class OrderNotFound(PermanentError):
    pass


# --- context -----------------------------------------------------------------------------------


class CommandDispatcher(Protocol):
    """The host's command table as a chat transport sees it: roles, confirmations and audit inside."""

    async def dispatch(self, caller: Caller, name: str, args: list[str], *, via: str = "",
                       confirmed: bool = False) -> Reply:
        """Run ``/name args`` for ``caller`` (or refuse it, or ask for a confirmation).

        ``via``: the name of the fleet bot that forwarded this call (a fleet link's receiving side
        sets it): the call runs here only, never routed on, and is audited with its origin. The
        receiving bot authorizes ``caller`` itself. ``confirmed``: the caller already confirmed it
        once on the bot ``via`` names, so no question is asked again (only together with ``via``).
        """
        ...

    async def confirm(self, caller: Caller, token: str) -> Reply:
        """Run a command waiting for this caller's confirmation."""
        ...

    def visible_to(self, caller: Caller) -> list[Command]:
        """The commands ``caller``'s role may run, by name."""
        ...

    def urgent(self, name: str) -> bool:
        """Whether ``/name`` is an urgent command (:attr:`Command.urgent`; False for a name no command has): a
        transport that orders a chat's commands runs it in the chat's urgent lane."""
        ...

    def urgent_confirmation(self, token: str) -> bool:
        """Whether ``token`` (a reply's ``confirm_token``) confirms an urgent command: the press of its Confirm
        button goes in the urgent lane too (an unknown token: False)."""
        ...

    def halts(self, name: str) -> bool:
        """Whether ``/name`` only stops trading (:attr:`Command.halts`; False for a name no command has): a fleet
        link runs it even after its sender stopped waiting for the answer."""
        ...


class Host(Protocol):
    """What a :class:`Context` needs from the running host (the bot implements it; plugins never see it)."""

    @property
    def bus(self) -> Bus: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def mode(self) -> str: ...
    @property
    def data_dir(self) -> Path: ...
    @property
    def id_epoch(self) -> str: ...
    @property
    def exchanges(self) -> Mapping[str, Exchange]: ...
    @property
    def operator(self) -> Operator: ...
    @property
    def commands(self) -> CommandDispatcher: ...
    @property
    def bot_name(self) -> str: ...

    @property
    def alerts_heard(self) -> bool: ...

    def attach_fleet(self, link: FleetLink) -> None: ...
    def emit_alert(self, alert: Alert) -> None: ...
    def subscribe_alerts(self, callback: Callable[[Alert], None], owner: str) -> Callable[[], None]: ...
    def create_task(self, coro: Coroutine[Any, Any, Any], owner: str, what: str) -> asyncio.Task[Any]: ...
    def submit(self, intent: OrderIntent) -> str | None: ...
    def intent(self) -> AbstractContextManager[None]: ...
    def write_later(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]: ...
    def read_later(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]: ...
    def fills_read(self, component: str, fills: list[Fill]) -> None: ...
    def cancel(self, client_order_id: str) -> None: ...
    def order(self, client_order_id: str) -> Order | None: ...
    async def look_up_order(self, client_order_id: str) -> Order | None: ...
    def held_order(self, client_order_id: str) -> Order | None: ...
    def recorder(self, exchange_type: str) -> Any: ...
    def strategies_using(self, exchange: str, symbol: str | None = None) -> list[str]: ...
    def traded_quotes(self) -> Mapping[str, frozenset[str] | None]: ...
    def pause_for_risk(self, check: str, names: list[str] | None, reason: str) -> list[str]: ...
    def resume_for_risk(self, check: str, names: list[str] | None, reason: str) -> list[str]: ...
    def paused_by(self, component: str) -> list[str]: ...
    def kill(self, by: str, reason: str = "", alert: bool = True, *, cancel: bool = True) -> int: ...
    def flatten(self, by: str, reason: str, max_slippage_bps: Decimal) -> None: ...
    def record_trip(self, check: str, cause: str, action: str, *, strategy: str = "", exchange: str = "",
                    symbol: str = "", level: AlertLevel = AlertLevel.WARNING,
                    figures: dict[str, Any] | None = None) -> None: ...


class Context:
    """What the host gives each component: the bus, the clock, logging, alerts, tasks, storage.

    Strategies also use :meth:`submit` and :meth:`cancel`, which go through the risk gate and the
    shared executor, and read what the store holds about them with :meth:`stored_orders`,
    :meth:`stored_fills` and :meth:`stored_position`.
    """

    def __init__(self, host: Host, kind: str, name: str):
        self._host = host
        self.kind = kind
        self.name = name
        self.log = logging.getLogger(f"arbot.{kind}.{name}")

    @property
    def bus(self) -> EventBus:
        """Publish events, and subscribe: ``subscribe(EventType, callback, owner=..., exchange=..., symbol=...)``."""
        return self._host.bus

    @property
    def clock(self) -> Clock:
        return self._host.clock

    @property
    def store(self) -> Store:
        """The bot's database, for a plugin's own tables (read the host's figures through :attr:`operator`)."""
        return self._host.store

    @property
    def operator(self) -> Operator:
        """Read models and control verbs of the running bot (what commands and jobs receive)."""
        return self._host.operator

    @property
    def commands(self) -> CommandDispatcher:
        """The command table, for chat transports: ``dispatch(caller, name, args)``, ``confirm(caller, token)``."""
        return self._host.commands

    @property
    def mode(self) -> str:
        """The mode in force: ``observe``, ``paper`` or ``live`` (``/observe on|off`` switches it at run time)."""
        return self._host.mode

    @property
    def bot_name(self) -> str:
        """``[bot] name`` (the host name when unset): which bot of a fleet this is."""
        return self._host.bot_name

    def attach_fleet(self, link: FleetLink) -> None:
        """Make ``link`` the bot's way to the other bots of its fleet (one service provides it).

        From then on commands registered with ``fleet=True`` accept fleet targets (``all``,
        ``<bot>:<arg>``) and :attr:`Operator.fleet` returns ``link``. A second link is refused with
        :class:`ValueError`.
        """
        self._host.attach_fleet(link)

    @property
    def id_epoch(self) -> str:
        """The store's client order id epoch: put it in deterministic client order ids (``f"{name}-{epoch}.{n}"``)
        so that a new or restored store can never repeat an id a venue has already seen."""
        return self._host.id_epoch

    @property
    def data_dir(self) -> Path:
        """Directory for a plugin's own files (created at start)."""
        return self._host.data_dir

    def alert(self, level: AlertLevel, kind: str, message: str, **fields: Any) -> None:
        """Queue an alert for every notifier; never blocks."""
        self._host.emit_alert(
            Alert(level=level, kind=kind, source=self.name, message=message, fields=fields,
                  ts_ns=self._host.clock.time_ns())
        )

    @property
    def alerts_heard(self) -> bool:
        """Whether an alert queued now can reach anyone (False in a backtest, where every alert is dropped): an
        alert whose text or figures cost something to compose may be skipped when nobody hears it."""
        return self._host.alerts_heard

    def subscribe_alerts(self, callback: Callable[[Alert], None]) -> Callable[[], None]:
        """Call ``callback(alert)`` with every alert as it is queued (after coalescing and redaction).

        Synchronous and on the hot path: it must not block. Returns a function that unsubscribes;
        the host also unsubscribes a component when it stops. A callback that raises is logged.
        """
        return self._host.subscribe_alerts(callback, self.name)

    def create_task(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run a coroutine in the background; an exception is logged and alerted with our name."""
        return self._host.create_task(coro, self.name, what)

    def exchange(self, name: str) -> Exchange:
        """The running exchange instance called ``name``."""
        return self._host.exchanges[name]

    def recorder(self, exchange_type: str) -> Any:
        """The :class:`bot.api.kit.Recorder` of the exchange type ``exchange_type`` as this bot registered
        it (a plugin in ``[plugins] disabled`` is not there); ValueError names the types that can record."""
        return self._host.recorder(exchange_type)

    def submit(self, intent: OrderIntent) -> str | None:
        """Send an order through the risk gate and the executor.

        Returns the client order id, or None when the strategy is paused, a risk check vetoed the
        order (the veto is stored and alerted), or the intent carries a client order id that an
        earlier order already used (ids are never sent twice; look the order up with :meth:`order`). On
        PostgreSQL an id older than the latest 20,000 the bot stored is returned, and then refused by its row's
        insert before any request (logged): it is never sent either.
        Sending happens in the background; the outcome
        arrives as :class:`OrderUpdate` and :class:`Fill` on the strategy's callbacks.

        Orders are for strategies, each under its own name: ``intent.strategy`` is what its pause and the kill
        switch are looked up by, so an intent naming another strategy (or sent by a component that is not a
        strategy) is refused (None, logged as an error).
        """
        if self.kind != "strategy" or intent.strategy != self.name:
            self.log.error("order refused: %s %s submitted an intent under the strategy name %r; a strategy submits "
                           "under its own name only", self.kind, self.name, intent.strategy)
            return None
        return self._host.submit(intent)

    def intent(self) -> AbstractContextManager[None]:
        """A durable intent: ``with ctx.intent():`` the rows the block records (``ctx.store.record``,
        ``record_update``, ``record_many``) and the orders it submits are committed together, in one transaction,
        when it ends, before any of those orders leaves; a crash leaves all of them or none. If the block raises,
        nothing of it is stored and its orders are dropped unsent (forgotten: :meth:`order` no longer knows
        them); the error goes on. Used for a record that must exist whenever its orders do (the ``arb``
        strategy's execution row and its two legs): one commit instead of one per row. On a store that cannot
        (PostgreSQL, an in-memory SQLite, another process holding the lock) each row commits on its own as
        without it. Keep the block short, and never ``await`` in it: it holds the store's write lock (a block
        that awaits is rolled back with a RuntimeError)."""
        return self._host.intent()

    def write_later(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Run ``fn(*args, **kwargs)`` (a store call: ``self.ctx.store.record_many``, ...) on the store writer's
        thread, after the writes handed to it before, without waiting: a future of the loop, done with its result
        or error once it has run (the bot's stop waits for it). For records that may land a little later (a log
        written from the loop) on a store whose every commit is a round trip (PostgreSQL:
        ``store.records_inline`` is false), so that a database that stops answering never holds the loop. Inline
        in a backtest (done when this returns)."""
        return self._host.write_later(fn, *args, **kwargs)

    def read_later(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """:meth:`write_later` for a read (``fn`` writes nothing): in order with the writes handed over before, but
        not watched as one: a read the database is slow to answer, or does not answer, raises no "store cannot be
        written" alarm and refuses no order (a write handed over behind it still does)."""
        return self._host.read_later(fn, *args, **kwargs)

    def cancel(self, client_order_id: str) -> None:
        """Ask the executor to cancel one of our orders (in the background)."""
        self._host.cancel(client_order_id)

    def order(self, client_order_id: str) -> Order | None:
        """The executor's record of an order, from memory (those it holds, and the latest it wrote final this run) or
        the store (where ``store.records_inline`` is false, a read on the loop: see :meth:`look_up_order`)."""
        return self._host.order(client_order_id)

    async def look_up_order(self, client_order_id: str) -> Order | None:
        """:meth:`order` for a coroutine: where ``store.records_inline`` is false (PostgreSQL) the store is read on the
        store writer's thread, so a database that stops answering delays this caller, never the loop."""
        return await self._host.look_up_order(client_order_id)

    def held_order(self, client_order_id: str) -> Order | None:
        """The executor's record of an order it holds in memory (not final, or its changes not yet written), its
        newest state; None for any other, never a store read (what the store holds can be read off the loop with
        :meth:`write_later`)."""
        return self._host.held_order(client_order_id)

    # --- for strategies: what the store holds about us -------------------------------------

    def stored_orders(self, *, open_only: bool = False) -> list[Order]:
        """Every order this component placed, as stored (oldest first); ``open_only``: those not final."""
        orders = self._host.store.orders(strategy=self.name)
        return [o for o in orders if not o.status.terminal] if open_only else orders

    def stored_fills(self, *, client_order_id: str | None = None, since_ns: int | None = None) -> list[Fill]:
        """Every fill of this component's orders, as stored (oldest first); optionally of one order or since a time.

        A strategy's start() reads here what happened before it runs; a fill applied while it starts, and not read
        here, reaches its ``on_fill`` once it runs: each fill once, whether the store had it yet or not."""
        fills = [fill for _, fill in self._host.store.fills(strategy=self.name, since_ns=since_ns,
                                                             client_order_id=client_order_id)]
        self._host.fills_read(self.name, fills)
        return fills

    def stored_position(self, exchange: str, symbol: str) -> Decimal:
        """Net base quantity this component holds on ``exchange`` ``symbol`` from its stored fills (long positive)."""
        total = Decimal(0)
        for fill in self.stored_fills():
            if fill.exchange == exchange and fill.symbol == symbol:
                total += fill.base_change
        return total

    # --- for risk checks: act on what has happened ----------------------------------------

    def strategies_using(self, exchange: str, symbol: str | None = None) -> list[str]:
        """Names of the running strategies that trade ``exchange`` (and ``symbol``, if given); one whose
        ``markets()`` raises trades none here (reported against its plugin)."""
        return self._host.strategies_using(exchange, symbol)

    def traded_quotes(self) -> Mapping[str, frozenset[str] | None]:
        """Every strategy the config names -> the quote assets its settings say it trades
        (:meth:`Strategy.symbols_at`), or None for one that does not say (it may trade any). What a component that
        keeps figures per strategy and quote asks at start: a strategy gone from the config, or a quote it trades no
        more, feeds nothing any more."""
        return self._host.traded_quotes()

    def pause(self, strategies: list[str] | None, reason: str) -> list[str]:
        """Pause strategies (None: every strategy) on behalf of this component; quiet (no alert).

        Returns the strategies this call paused (those already paused are left as they are). A
        strategy paused this way stays paused until an operator sends ``/resume`` or this same
        component calls :meth:`resume`, across a restart too (:meth:`paused_by_me`). Pair it with
        :meth:`record_trip`, which stores and alerts. Risk checks start before the strategies are built: asked in
        :meth:`~Component.start` (a limit already past in what the store holds), the pause (or :meth:`kill`,
        :meth:`flatten`) is done once they are, and the strategies configured among ``strategies`` are returned.
        """
        return self._host.pause_for_risk(self.name, strategies, reason)

    def resume(self, strategies: list[str] | None, reason: str) -> list[str]:
        """Resume strategies that *this component* paused (never an operator's or another check's pause, nor one
        the kill switch holds: only an operator releases it).

        Returns the strategies resumed. Quiet: alert with :meth:`alert` if people should hear of it.
        """
        return self._host.resume_for_risk(self.name, strategies, reason)

    def paused_by_me(self) -> list[str]:
        """The strategies this component paused (:meth:`pause`) that are paused still. A pause outlives a restart,
        and what a component remembers may not: one that resumes what it paused by itself asks here at start."""
        return self._host.paused_by(self.name)

    def kill(self, reason: str) -> None:
        """Kill switch: pause every strategy at once, then cancel every resting order (in the background)."""
        self._host.kill(by=f"risk {self.name}", reason=reason, alert=False)

    def flatten(self, reason: str, max_slippage_bps: Decimal) -> None:
        """Kill switch, then close every position with immediate-or-cancel limit orders.

        Each closing order is priced ``max_slippage_bps`` through the last mid price (sells below,
        buys above) and bypasses the risk gate; what does not fill at that price stays open.
        """
        self._host.flatten(by=f"risk {self.name}", reason=reason, max_slippage_bps=max_slippage_bps)

    def record_trip(self, cause: str, action: str, *, strategy: str = "", exchange: str = "", symbol: str = "",
                    level: AlertLevel = AlertLevel.WARNING, **figures: Any) -> None:
        """Store a risk trip (``risk_events`` table) and alert it once.

        ``cause`` is one plain sentence *without* figures, identical for identical causes
        ("daily realized loss limit exceeded"), so the host's alert coalescing turns repeated trips
        inside ``[alerts] coalesce_s`` into one alert with a count. The figures go in ``figures``
        (Decimals are stored as exact strings). ``action`` says what was done: ``pause``,
        ``flatten``, ``stop``, ``open circuit``, ...
        """
        self._host.record_trip(self.name, cause, action, strategy=strategy, exchange=exchange, symbol=symbol,
                              level=level, figures=figures)


# --- components --------------------------------------------------------------------------------


class Component(Generic[SettingsT]):
    """Common shape: ``Settings`` describes the config table; ``start``/``stop`` bracket the run.

    Generic over the settings class, so a type checker knows what ``self.settings`` holds:
    ``class MyStrategy(Strategy[MySettings])`` with ``Settings = MySettings``. A class with no type argument
    (``class MyStrategy(Strategy)``) holds its settings as ``Any``, as before."""

    Settings: ClassVar[type] = NoSettings
    exchange_settings: ClassVar[tuple[str, ...]] = ("exchange",)
    """Settings fields that name a configured exchange (one name, or a list of names); the config check refuses an
    unknown name."""
    strategy_settings: ClassVar[tuple[str, ...]] = ()
    """Settings fields that name configured strategies (a list of names, or a table keyed by name: a risk limit per
    strategy); the config check refuses an unknown name."""
    market_settings: ClassVar[tuple[str, ...]] = ()
    """Settings fields that name market symbols (a list, or a table keyed by symbol: a risk limit per market); the
    config check refuses a symbol no configured exchange trades (when every exchange says what it trades).
    ``asset_settings``, on a component or a ``[plugins.NAME]`` settings class, does the same for fields naming assets
    (a cap per asset)."""
    quote_settings: ClassVar[tuple[str, ...]] = ()
    """Settings fields holding money in a quote asset: a table quote asset -> value (``{ USD = "100" }``), or one
    value. The config check refuses a strategy trading a quote asset a set table leaves out, places one value in
    the quote asset every strategy trades (``{ QUOTE = value }``), and refuses one value when they trade several:
    a number without its unit would be that number of every quote asset."""
    base_settings: ClassVar[tuple[str, ...]] = ()
    """Settings fields holding a quantity of a market's base asset (a position): a table per base asset or per symbol
    (``{ BTC = "0.5", "SOL/USDC" = "20" }``), or one value. The config check refuses a strategy trading a symbol a
    set table covers neither by its symbol nor by its base asset, places one value in the base asset every strategy
    trades (``{ BASE = value }``), and refuses one value when they trade several (0.5 BTC is not 0.5 SHIB). A symbol
    key no configured exchange trades is refused, as a ``market_settings`` field's."""

    def __init__(self, name: str, settings: SettingsT, ctx: Context):
        self.name = name
        self.settings: SettingsT = settings
        self.ctx = ctx

    async def start(self) -> None:
        """Called once, inside the running loop, before any event flows."""

    async def stop(self) -> None:
        """Called once on shutdown, in reverse start order."""

    async def reload_secrets(self) -> None:
        """One of this component's :class:`~bot.api.Secret` settings has a new value (``arbot ctl
        reload-secrets`` or SIGHUP re-read every ``env:``/``file:`` reference): use it from now on.

        The Secret objects already hold the new value (``reveal()`` returns it). A component that
        reveals at each use needs nothing; one that copied the value into a client (a signing key, a
        bot token) swaps the client's credentials here, without dropping orders, subscriptions or
        queued messages. Raising keeps the component running on what it had, and is alerted.
        """


class Exchange(Component[SettingsT], abc.ABC):
    """A venue: market data in (published on the bus), orders out, balances.

    Publish :class:`~bot.domain.BookUpdate`, :class:`~bot.domain.Trade` and
    :class:`~bot.domain.FeedStatus` with ``self.ctx.bus.publish(event)``. When one of our orders
    changes on the venue by itself (a resting order fills, expires), publish each
    :class:`~bot.domain.Fill` and then an :class:`~bot.domain.OrderReport`; the executor keeps its
    records from those, and from the return values of the order methods.

    Order methods raise :class:`TransientError`, :class:`UnknownOutcome` or :class:`PermanentError`
    subclasses; anything else is treated as an unknown outcome.
    """

    simulated: ClassVar[bool] = False
    """True for paper venues. A venue that is not simulated places real orders: live mode only."""
    venue_kind: ClassVar[str] = "book"
    """``"book"``: an order-book venue taking limit orders; ``"pool"``: a DEX pool taking swaps. A strategy
    names the kinds it can trade in :attr:`Strategy.venue_kinds`; the config check refuses the others."""
    supports_batch: ClassVar[bool] = False
    """True when :meth:`place_orders`/:meth:`cancel_orders` are single requests on the venue."""

    @classmethod
    def lacks(cls, settings: Any, features: tuple[str, ...]) -> list[str]:
        """Of the order ``features`` a strategy needs here (names in :data:`ORDER_FEATURES`), those this
        venue, configured with ``settings``, cannot do. Called by the config check, before anything
        starts: a strategy needing one is refused at load with the feature named. Default: none
        lacking (a venue that implements the order methods does them all)."""
        return []
    @classmethod
    def markets_of(cls, settings: Any) -> Collection[str] | None:
        """The symbols this venue, configured with ``settings``, trades (those :meth:`market` knows), or None
        when only the running venue knows them. Called by the config check, before anything starts: a
        strategy naming another symbol here (:meth:`Strategy.symbols_at`) is refused at load; and at start,
        before strategies start: one whose :meth:`Strategy.markets` name another symbol here is left out,
        saying so. Default: the settings' ``symbols`` field when it is a list of strings that is not empty
        (a venue configured with the markets it trades); None otherwise. Override it where ``symbols`` means
        something else, or the markets are elsewhere in the settings."""
        symbols = getattr(settings, "symbols", None)
        if isinstance(symbols, (list, tuple)) and symbols and all(isinstance(s, str) for s in symbols):
            return list(symbols)
        return None

    recorder: ClassVar[Any] = None
    """Optional: a :class:`bot.recording.Recorder` makes ``arbot record``/``arbot replay --exchange
    TYPE`` work for this venue (record raw frames, replay them through the plugin's own book code)."""

    @property
    def account(self) -> str:
        """Whose funds :meth:`balances` reports and the orders here spend: this venue's own name by default. Venues
        that trade from one account (several pools swapping from one wallet) return the same key, so that a strategy
        counting on those balances counts them once. Read once the venue has started; it never changes then."""
        return self.name

    def status(self) -> dict[str, str]:
        """A few short facts for ``/status``, already text: ``{"book": "unverified (no checksum)"}``; optional."""
        return {}

    @abc.abstractmethod
    def market(self, symbol: str) -> MarketInfo:
        """Trading rules of ``symbol``; raises KeyError for an unknown symbol."""

    @abc.abstractmethod
    async def place_order(self, order: Order) -> OrderState:
        """Submit one order carrying ``order.client_order_id``; return the venue's view of it."""

    async def place_orders(self, orders: list[Order]) -> list[OrderState | ExchangeError]:
        """Submit several orders; one result (state or error) per order, in order."""
        results: list[OrderState | ExchangeError] = []
        for order in orders:
            try:
                results.append(await self.place_order(order))
            except ExchangeError as exc:
                results.append(exc)
        return results

    @abc.abstractmethod
    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        """Cancel one order; return its final state. Raises OrderNotFound if the venue has no such order."""

    async def cancel_orders(self, symbol: str, client_order_ids: list[str]) -> list[OrderState | ExchangeError]:
        results: list[OrderState | ExchangeError] = []
        for cid in client_order_ids:
            try:
                results.append(await self.cancel_order(symbol, cid))
            except ExchangeError as exc:
                results.append(exc)
        return results

    @abc.abstractmethod
    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """Look an order up by client order id, with all its fills; None if the venue never saw it."""

    async def find_order(self, order: Order) -> OrderState | None:
        """The executor's look-up of one of its stored orders (after an unknown outcome, at start, in
        reconciliation): :meth:`fetch_order` by default. Override when what the stored order tells (its
        ``created_ns``, the time of its intent) bounds the venue's search; the answer means what
        :meth:`fetch_order`'s does."""
        return await self.fetch_order(order.symbol, order.client_order_id)

    def late_arrival_s(self) -> float:
        """How long after it was sent an order request whose answer was lost may still reach the venue's matching
        engine (a venue that queues requests: Kraken until the AddOrder's ``deadline``). 0, the default: a request
        the venue does not know once its connection is gone never arrives. After a restart, an order of the previous
        run that was never acknowledged and that its venue does not know is FAILED at once when this is 0;
        otherwise it is UNKNOWN, and reconciliation fails it only when the venue still does not know it this long
        (and twice the request timeout) after the restart: if it lands meanwhile, it is adopted."""
        return 0.0

    @abc.abstractmethod
    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Every resting order (optionally of one symbol): ``client_order_id`` is ours when the venue's id reads back
        to it, else the venue's own (see :meth:`derived_client_id`)."""

    def venue_client_id(self, client_order_id: str) -> str:
        """The client order id the venue receives for ``client_order_id``: itself by default. A venue that takes
        only short or UUID ids gets one derived from ours (a digest, which cannot be read back)."""
        return client_order_id

    def derived_client_id(self, venue_id: str) -> bool:
        """Whether ``venue_id``, a client order id :meth:`open_orders` lists that it could not read back to one of
        ours, has the shape this venue derives from ours (:meth:`venue_client_id`): the start-up check of orders
        unknown to the store then counts the order as possibly ours, unless an order stored under any bot derives
        to it. Default: False (every id sent is ours as it is)."""
        return False

    @abc.abstractmethod
    async def balances(self) -> dict[str, Balance]:
        """Balances by asset."""

    async def swap_fee_lamports(self, symbol: str, side: Side | None = None) -> SwapFee | None:
        """A pool venue's cost in lamports of its next swap of ``symbol`` on ``side`` (SELL: base in, quote out;
        BUY: quote in, base out), as this venue will pay it: the same figures its swaps are charged or signed
        with (a fixed or derived priority price, the compute-unit limit of that route, the rent of an output token
        account the swap would create); None when it cannot say. ``side`` None: either side (what a venue that
        prices both alike answers). A strategy pricing swaps (``arb``) asks it now and then, once per side, and
        prices each direction with its answer; a venue whose method takes no ``side`` (written before it had
        one) is asked once for both. Default: None."""
        return None


class Strategy(Component[SettingsT]):
    """Turns market events into order intents.

    Callbacks (``on_*``) run on the hot path: plain synchronous code on in-memory state. Use
    ``self.ctx.submit(intent)`` to place orders and ``self.ctx.create_task`` for anything slow.
    While ``paused`` is True the host drops this strategy's new intents; resting orders stay.
    """

    paused: bool = False
    order_settings: ClassVar[tuple[str, ...]] = ("exchange",)
    """Settings fields naming the exchanges this strategy places orders on. In paper mode each must be
    simulated (other exchanges may run as market-data sources: a paper exchange can mirror them)."""
    venue_kinds: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Settings field naming an exchange -> the :attr:`Exchange.venue_kind` values this strategy can trade
    there, e.g. ``{"exchange": ("book",)}``; a field not listed accepts any venue."""

    @classmethod
    def needs(cls, settings: Any) -> Mapping[str, tuple[str, ...]]:
        """Settings field naming an exchange -> the order features (:data:`ORDER_FEATURES`) this
        strategy, configured with ``settings``, uses there; the config check asks the exchange
        (:meth:`Exchange.lacks`) and refuses the strategy on a venue lacking one. Default: none."""
        return {}

    @classmethod
    def symbols_at(cls, settings: Any) -> Mapping[str, str]:
        """Settings field naming an exchange -> the symbol this strategy, configured with ``settings``, trades
        there; the config check refuses a symbol the exchange does not trade (:meth:`Exchange.markets_of`).
        Default: none."""
        return {}

    if TYPE_CHECKING:
        market_events: ClassVar[tuple[type, ...]]
    else:
        market_events = _AllMarketEvents()
    """The kinds of market event :meth:`on_market` receives (default: all four). A strategy that never reads
    one leaves it out, e.g. ``(BookUpdate, PoolUpdate, FeedStatus)`` without ``Trade``: the host then does not
    subscribe it to them, and a venue nobody else hears makes no such event (the paper venue's public trades)."""

    def markets(self) -> list[tuple[str, str]]:
        """The (exchange, symbol) pairs whose market events this strategy receives."""
        return []

    def on_market(self, event: MarketEvent) -> None:
        """A book update, public trade, pool update or feed status change for one of :meth:`markets` (of the
        kinds in :attr:`market_events`)."""

    def on_order_update(self, update: OrderUpdate) -> None:
        """One of this strategy's orders changed status or filled quantity."""

    def on_fill(self, fill: Fill) -> None:
        """One of this strategy's orders (partly) filled."""

    async def reconcile(self) -> None:
        """Periodic job: bring the strategy's state in line with the executor's order records."""

    def status(self) -> dict[str, str]:
        """A few short facts for ``/status`` (already formatted as text, units included)."""
        return {}

    def chart_levels(self, symbol: str) -> list[Decimal]:
        """Price levels to mark on ``/chart price SYMBOL`` (a grid's levels); optional, none by default."""
        return []


class TransferVenue(abc.ABC):
    """What an exchange adds to take part in inventory rebalancing (``plugins/rebalance``).

    Mix it into an :class:`Exchange`. A venue is asked, as source, for its withdrawal terms and to
    withdraw; as destination, for a deposit address, its deposit fee and limit, and whether a transfer has been
    credited. ``transfer.amount`` is always what reaches the destination's deposit address (:meth:`withdraw`).
    Every call may raise an :class:`ExchangeError`; the planner retries later.
    """

    @abc.abstractmethod
    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        """Fees, minimum and expected time of a withdrawal of ``asset``; None if this venue cannot send it."""

    async def transfer_terms_to(self, asset: str, address: str) -> TransferTerms | None:
        """The terms of sending ``asset`` to ``address`` (the destination's deposit address), where the
        destination changes the cost: a wallet that must create the receiver's token account pays its
        rent. Asked before a proposal is shown and again when it is sent, whose cost is recorded.
        Default: :meth:`transfer_terms`."""
        return await self.transfer_terms(asset)

    @abc.abstractmethod
    async def deposit_address(self, asset: str) -> str:
        """Where ``asset`` sent to this venue arrives (an address, or the name the source knows it by)."""

    async def deposit_fee(self, asset: str, amount: Decimal) -> Decimal:
        """What this venue, as destination, keeps of a deposit of ``amount`` of ``asset`` (in ``asset``): a cost of
        the transfer, as the source's withdrawal fee is. Asked with the source's terms, before a proposal is shown
        and when it is sent; raise :class:`PermanentError` for an amount it would not credit (below its deposit
        minimum), naming that minimum. Default: 0 (a venue that takes no deposit fee)."""
        return Decimal(0)

    async def deposit_limit(self, asset: str) -> Decimal | None:
        """The most one deposit of ``asset`` may bring this venue now, net of its :meth:`deposit_fee` (a CEX's deposit
        limit): the planner caps a move to this venue at it plus the fee, as ``max_per_transfer``, and the proposal
        names it. Asked once a round for a proposal's destination, before its deposit fee. Default: None (no
        limit)."""
        return None

    @abc.abstractmethod
    async def withdraw(self, transfer: Transfer) -> str:
        """Send ``transfer.asset`` to ``transfer.address`` so that ``transfer.amount`` reaches it; return the venue's
        reference.

        The amount rule: ``transfer.amount`` is what arrives at the destination's deposit address. This venue pays
        its own withdrawal fee (:attr:`TransferTerms.fee`) and any network fee on top: a venue whose withdrawal
        amount includes its fee asks for ``amount`` + that fee, read from the venue when sending. The destination
        keeps its :meth:`deposit_fee` out of what arrives. Never add ``transfer.fee`` (both venues' fees, for the
        ledger) to what is sent, nor use it to find the withdrawal again: use this venue's own listed or quoted fee.

        Called again for the same ``transfer_id`` (after a crash), it must not send twice: it returns
        the reference of the withdrawal already made."""

    async def withdrawal_fee(self, transfer: Transfer) -> Decimal | None:
        """The withdrawal fee this venue charged for ``transfer`` (made: ``transfer.venue_ref`` is the reference
        :meth:`withdraw` answered), in ``transfer.asset``, from the venue's answer or its record of the withdrawal.
        The service asks it once the withdrawal is made (or found after a crash) and records it, with the
        destination's deposit fee, as the transfer's cost (:attr:`Transfer.fee`): a venue may change its fee between
        the quote (:meth:`transfer_terms_to`) and the withdrawal. None: the venue does not say; the quoted
        :attr:`TransferTerms.fee` is recorded. Default: None (a venue whose fee cannot change between the two)."""
        return None

    async def network_fee_paid(self, transfer: Transfer) -> Decimal | None:
        """The chain's fee this venue paid on top for ``transfer`` (made: ``transfer.venue_ref`` is its reference), in
        ``transfer.network_fee_asset``, from the landed transaction (a wallet: the signature's fee, and the rent of a
        token account it created, which the quote counts only when the account did not exist then). The service asks
        it once the withdrawal is made, and again when the transfer is credited while it did not say, and records it
        as :attr:`Transfer.network_fee`. None: not known (yet); the quoted :attr:`TransferTerms.network_fee` stays.
        Default: None (a venue paying no network fee of its own: a CEX counts it in its withdrawal fee)."""
        return None

    async def deposit_fee_charged(self, transfer: Transfer) -> Decimal | None:
        """What this venue, as destination, kept of ``transfer``'s deposit, from its record of it, asked once it is
        credited: recorded in :attr:`Transfer.fee` in place of the :meth:`deposit_fee` quoted when it was sent (a
        venue may change it in between). None: the venue does not say; the quote stays. Default: None."""
        return None

    @abc.abstractmethod
    async def withdrawal(self, transfer: Transfer) -> TransferStatus | None:
        """What became of a withdrawal asked for here: None if this venue never received it."""

    @abc.abstractmethod
    async def credited(self, transfer: Transfer) -> bool:
        """True once this venue (the destination) has credited ``transfer``: a deposit of ``transfer.amount``, or of
        that less what this venue kept (:meth:`deposit_fee`) where it lists deposits net of it."""


class PortfolioView(abc.ABC):
    """Read-only view a risk check gets: positions, open orders and last prices, in memory."""

    @abc.abstractmethod
    def position(self, exchange: str, symbol: str) -> Decimal:
        """Net base quantity held through this bot's fills (long positive)."""

    @abc.abstractmethod
    def open_orders(self, exchange: str | None = None, symbol: str | None = None) -> list[Order]:
        """Orders sent or being sent that are not terminal."""

    @abc.abstractmethod
    def last_price(self, exchange: str, symbol: str) -> Decimal | None:
        """Mid price of the latest book update, if any."""

    def positions(self) -> dict[tuple[str, str], Decimal]:
        """(exchange, symbol) -> net base quantity held there, for the markets where it is not zero.

        Not abstract, so that a view written before it was added (a risk check's test double) still builds; the
        host's view implements it, and :meth:`reduces` across venues needs it."""
        raise NotImplementedError(f"{type(self).__name__} does not implement PortfolioView.positions(), which "
                                  "reduces() needs to net a symbol's position across venues")

    def reduces(self, intent: OrderIntent, *, across_venues: bool = True) -> bool:
        """True when ``intent`` only brings the position nearer to zero (a hedge, a close), not past it, whichever
        of the open orders fill: those on its own side count as filled (they go the same way), those on the other
        side as not (one that never fills must not be what keeps this order short of zero).

        ``across_venues`` (the default): the net position in its symbol on every venue, an arbitrage's exposure
        (its hedge on one venue closes what another venue's leg left); False: on its own venue only. The host's one
        rule of a reducing order: what passes a risk check's pause (:meth:`RiskCheck.admits_while_paused`), what
        the executor still takes while the store cannot be written, and what ``limits`` lets through its loss
        limits after a breach."""
        def here(exchange: str, symbol: str) -> bool:
            return symbol == intent.symbol and (across_venues or exchange == intent.exchange)

        if across_venues:
            position = sum((qty for (e, s), qty in self.positions().items() if here(e, s)), Decimal(0))
        else:
            position = self.position(intent.exchange, intent.symbol)
        pending = sum((o.remaining_qty if o.side is Side.BUY else -o.remaining_qty for o in self.open_orders()
                       if o.side is intent.side and here(o.exchange, o.symbol)), Decimal(0))
        signed = intent.qty if intent.side is Side.BUY else -intent.qty
        before = position + pending
        after = before + signed
        return abs(after) < abs(before) and (after == 0 or (after > 0) == (before > 0))


class RiskCheck(Component[SettingsT]):
    """Asked before every order is sent; may veto it. May also act on what happened (pause, kill).

    ``check``, ``accepted`` and ``on_fill`` run on the hot path: in-memory state only. To watch
    other events, subscribe in :meth:`start` (``self.ctx.bus.subscribe(OrderUpdate, ...)``);
    ``FeedStatus``, ``BookUpdate``, ``Fill``, ``OrderUpdate`` and ``ExecutionResult`` are on the bus.
    """

    def check(self, intent: OrderIntent, view: PortfolioView) -> str | None:
        """Return a reason (one sentence with the figures) to veto ``intent``, or None to allow it."""
        return None

    def accepted(self, intent: OrderIntent) -> None:
        """Every check allowed ``intent`` (its ``client_order_id`` is set): it goes to the executor now."""

    def admits_while_paused(self, intent: OrderIntent, view: PortfolioView) -> bool:
        """Whether ``intent`` may go although this check paused its strategy (``ctx.pause``).

        Asked only for an order marked :attr:`~bot.domain.OrderIntent.reduce_only` that the host found brings the
        net position in its symbol across venues nearer to zero (a hedge, a close), of a strategy paused by this
        check alone (not by an operator, the kill switch or another check). The order then still goes through
        every :meth:`check`. Default False: the pause holds every order. In-memory state only (hot path).
        """
        return False

    def on_fill(self, strategy: str, fill: Fill) -> None:
        """One of the bot's orders filled (each fill once, with the strategy that owns the order).

        Called before the strategy hears of the fill, so a trip here stops its reaction.
        """

    def status(self) -> dict[str, str]:
        """Limits and current use for ``/risk``, already text with units: ``{"daily loss": "12 / 100 USD"}``."""
        return {}

    def usage(self) -> dict[str, LimitUse]:
        """The same limits as numbers, keyed by the setting that sets each (``max_daily_loss.USDC``).

        Read by the metrics exporter (``arbot_risk_used`` / ``arbot_risk_limit``, which the shipped
        Prometheus rules compare) and the console. Only limits with a numeric use belong here.
        """
        return {}


@dataclass(frozen=True)
class LimitUse:
    """How much of one risk limit is used: ``used`` and ``limit`` in ``unit`` (an asset, or ``orders``)."""

    used: Decimal
    limit: Decimal
    unit: str = ""
    since_ns: int | None = None
    """When what ``used`` counts began, for a limit that counts over a day of its own (a daily loss from its reset
    time): ``/status`` says it, as ``/pnl`` says its day's start. None for a limit with no such start."""


class Notifier(Component[SettingsT]):
    """Delivers alerts. ``send`` may be slow: the host queues alerts and never waits on it."""

    @abc.abstractmethod
    async def send(self, alert: Alert) -> None:
        """Deliver one alert."""

    def status(self) -> dict[str, str]:
        """A few short facts for ``/status`` (a chat transport: live, or standing by for another process)."""
        return {}

    def dropped_alerts(self) -> int:
        """Alert messages this notifier lost after taking them, since it started (its own queue full, a send
        given up or refused); 0 for one that loses none. Exported as ``arbot_notifier_alerts_dropped_total``;
        show it in :meth:`status` too, so ``/status`` names the loss."""
        return 0


class Service(Component[SettingsT]):
    """Plugin-wide work that runs beside the trading: a stream server, a metrics endpoint, a chart history.

    Registered with ``register_services``; the host builds one instance per registered service
    (the name it was registered under), with the plugin's ``[plugins.PLUGIN]`` settings (the
    service class's ``Settings``; a settings object whose ``enabled`` is False means the service is
    built but not started). Services start after the strategies, the scheduler and the control
    channel, in registration order, and stop first, in reverse order. One that fails to build or
    start is reported with its plugin's name and left out; the others run.

    The service *is* the place for its own state. Through :attr:`ctx` it subscribes to bus events
    (``ctx.bus.subscribe``) and alerts (``ctx.subscribe_alerts``), runs background tasks
    (``ctx.create_task``) and reads or controls the bot (``ctx.operator``). Subscriptions made with
    its name as owner and its tasks end when it stops.

    Its own figures (connections, refusals, drops) are published through :meth:`status`, :meth:`counters` and
    :meth:`gauges`: ``/status`` shows the first, the metrics plugin exports the others, neither knowing the service
    by name. The host reads each as :meth:`Operator.ask` does: one that raises is reported against its plugin and
    left out of that page or scrape.
    """

    def status(self) -> dict[str, str]:
        """A few short facts for ``/status``, already text (``{"clients": "2 connected"}``), each shown as a row
        ``NAME KEY``; optional. Keep it to what an operator acts on (leave out what is zero)."""
        return {}

    def counters(self) -> Mapping[str, int]:
        """Counts since the service started, each only going up (``{"bad_frames": 2}``); optional. Exported as
        ``arbot_service_counter_total{service="NAME", figure="KEY"}``. Keep the keys a fixed few, in snake_case
        (each is a time series), and give each one from the start, at 0, so that a rule sees it before it moves."""
        return {}

    def gauges(self) -> Mapping[str, int | Decimal]:
        """Levels now, going up and down (``{"open_connections": 3}``); optional. Exported as
        ``arbot_service_gauge{service="NAME", figure="KEY"}`` (a float only there); keys as for :meth:`counters`."""
        return {}


# --- commands and jobs -------------------------------------------------------------------------

Role = Literal["viewer", "operator", "admin"]
ROLE_RANK: dict[str, int] = {"viewer": 1, "operator": 2, "admin": 3}


@dataclass(frozen=True)
class Caller:
    """Who sent a command, through which transport."""

    transport: str
    user_id: str
    role: Role | None
    chat_id: str = ""


@dataclass(frozen=True)
class Reply:
    """A transport-independent answer. Transports render it (monospace table on chat, text on a TTY)."""

    title: str
    rows: list[tuple[str, ...]] = field(default_factory=list)
    """Table rows; the first row is the header when ``header`` is True."""
    header: bool = False
    text: str = ""
    ok: bool = True
    confirm_token: str | None = None
    """Set when the command waits for the same caller to confirm it: transports show a button
    (or ask for a reply) that calls ``CommandTable.confirm(caller, token)``."""
    silent: bool = False
    """Send nothing: a stranger's refusal folded into one already answered in the same chat (the
    command table counts and audits it). Transports drop a silent reply."""
    image_png: bytes | None = None
    """A PNG image (a chart) that is the answer itself: chat transports send it as a photo or an
    attachment with the title as caption, ``arbot ctl`` writes it to a file and prints the path."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """Machine-readable facts behind the answer, JSON-shaped (exact decimals as strings); transports
    show only the text. Two keys have a meaning for a fleet front merging several bots' answers:
    ``summary`` (a few short ``{column: text}`` cells, one row of the fleet table) and ``totals``
    (``{figure: {asset: "exact decimal"}}``, summed over the bots with :class:`~decimal.Decimal`)."""

    def render_text(self) -> str:
        """Plain text with aligned columns: what a console or a chat code block shows."""
        lines = [self.title] if self.title else []
        if self.rows:
            widths = [max(len(r[i]) if i < len(r) else 0 for r in self.rows) for i in range(max(map(len, self.rows)))]
            for n, row in enumerate(self.rows):
                cells = [c.ljust(widths[i]) for i, c in enumerate(row)]
                lines.append("  ".join(cells).rstrip())
                if n == 0 and self.header:
                    lines.append("  ".join("-" * w for w in widths))
        if self.text:
            lines.append(self.text)
        return "\n".join(lines)


CommandHandler = Callable[["Operator", Caller, list[str]], Awaitable[Reply]]
"""``async def handler(operator, caller, args) -> Reply``."""


@dataclass(frozen=True)
class Command:
    """A chat/control command: ``/name args...``."""

    name: str
    handler: CommandHandler
    role: Role
    help: str
    usage: str = ""
    confirm: Callable[[Operator, list[str]], str | None] | None = None
    """For dangerous commands: return a question ("Cancel 12 orders and pause everything?") when
    this call must be confirmed by the same user within ``[commands] confirm_ttl_s``, else None."""
    fleet: bool = False
    """The command may target other bots of a fleet: an argument ``all`` runs it on every bot, and
    ``<bot>:<arg>`` runs it on that bot with ``<arg>`` (``<bot>:`` alone: with no argument). The
    host routes such calls through the attached :class:`FleetLink`; each bot authorizes and audits
    its part itself, and the replies come back as one."""
    urgent: bool = False
    """The command must be reachable while another command hangs (one waiting on a slow venue): a chat transport
    that keeps the commands of a chat in order (Telegram) runs an urgent one, and the press of its Confirm button,
    in a lane of its own beside that order, so it never waits behind an ordinary command; urgent commands keep
    their order among themselves (``/pause`` then ``/resume`` stays in that order). The host marks its kill switch,
    ``/pause``, ``/resume`` (it must not overtake a ``/pause`` sent after it) and ``/status`` (what the trader
    reads before and after pulling it). Mark only a command whose handler answers from the bot's own state and
    never waits on a venue or another network: an urgent command that hangs holds up the urgent ones behind it."""
    halts: bool = False
    """The command only stops trading: it never lets the bot place an order or take more risk, and running it
    twice is running it once. The host marks its kill switch and ``/pause``. A fleet bot runs such a command even
    when it waited there for a turn longer than its sender waits for the answer (a kill switch late is still
    wanted); any other command that late is refused, since its sender has told its user "no answer" and running it
    then would act behind their back (a late ``/resume`` would restart trading the user believes still paused)."""


@dataclass(frozen=True)
class FleetMember:
    """One bot of a fleet as its last heartbeat described it."""

    name: str
    seen_ns: int
    """Wall-clock time of its last heartbeat (ns since the epoch); 0 when never heard."""
    alive: bool
    """Heard from within the link's liveness window."""
    status: Mapping[str, Any] = field(default_factory=dict)
    """Its last status summary, JSON-shaped (mode, strategies and their states, open orders, ...)."""


class FleetLink(abc.ABC):
    """The other bots of a fleet, as one service plugin provides them (``Context.attach_fleet``).

    The host uses it to route fleet commands (see :attr:`Command.fleet`); the console and chat read
    :meth:`members` through :attr:`Operator.fleet`.
    """

    @abc.abstractmethod
    def members(self) -> list[FleetMember]:
        """Every bot known to the fleet, this one included, sorted by name."""

    timeout_s: float = 5.0
    """How long :meth:`call` waits for one bot (the host gives up on a call one second after that)."""

    @abc.abstractmethod
    async def call(self, bot: str, caller: Caller, name: str, args: list[str], *, confirmed: bool) -> Reply:
        """Run ``/name args`` on ``bot`` for ``caller``; that bot authorizes and audits it itself.

        ``confirmed``: the caller confirmed it here once. Never raises for a bot that is gone or
        slow: the answer is then :meth:`no_answer` saying so. The returned ``Reply`` carries the
        bot's ``title``, ``rows``, ``header``, ``text``, ``ok`` and ``data`` as the bot sent them.
        """

    @staticmethod
    def no_answer(bot: str, why: str) -> Reply:
        """What :meth:`call` returns when ``bot`` did not answer (gone, slow, unreachable): the host
        shows it as "no answer", not as a refusal."""
        return Reply(f"{bot}: no answer", text=why, ok=False, data={"no_answer": why})

    @staticmethod
    def unanswered(reply: Reply) -> bool:
        """True for a :meth:`no_answer` reply."""
        return "no_answer" in reply.data


FLEET_ORIGIN = "fleet_origin"
"""The alert field a fleet relay sets on another bot's alert that it re-emits here: that bot's name."""


def alert_origin(alert: Alert, this_bot: str) -> tuple[str, Alert]:
    """The other fleet bot an alert comes from ("" for this bot's own), and the alert without the
    relay's marks (the :data:`FLEET_ORIGIN` field, a ``[bot] `` message prefix, a ``bot/`` source
    prefix), so a chat transport shows ``[bot] ...`` once."""
    origin = str(alert.fields.get(FLEET_ORIGIN) or getattr(alert, "bot", "") or "")
    if not origin or origin == this_bot:
        return "", alert
    fields = {k: v for k, v in alert.fields.items() if k != FLEET_ORIGIN}
    return origin, replace(alert, message=alert.message.removeprefix(f"[{origin}] "),
                           source=alert.source.removeprefix(f"{origin}/"), fields=fields)


JobFunc = Callable[["Operator"], Awaitable[None]]
"""``async def job(operator) -> None``."""


_AT = re.compile(r"([01]?[0-9]|2[0-3]):[0-5][0-9]")


@dataclass(frozen=True)
class Job:
    """Timed work: ``func(operator)`` runs on an interval (``every_s``) or daily at ``at`` ("HH:MM").

    A schedule that cannot run (both or neither given, ``at`` not a time of day, ``every_s`` not a finite
    number of seconds above 0, ``catch_up`` on an interval job) raises ValueError here, so the plugin's
    ``register_jobs`` is refused by name."""

    name: str
    func: JobFunc
    every_s: float | None = None
    """Seconds between runs: a finite number > 0."""
    at: str | None = None
    """Daily at this time in ``[scheduler] timezone``, "HH:MM" from "00:00" to "23:59"."""
    catch_up: bool = False
    """Daily jobs only: a run missed today (the bot was down, or asleep past its time) is made once, as soon as
    the bot can: at start, or late. Only today's: a run missed on an earlier day is not made up."""

    def __post_init__(self) -> None:
        if (self.every_s is None) == (self.at is None):
            raise ValueError(f'job "{self.name}": give exactly one of every_s or at')
        if self.every_s is not None and (isinstance(self.every_s, bool) or not isinstance(self.every_s, (int, float))
                                         or not math.isfinite(self.every_s) or self.every_s <= 0):
            raise ValueError(f'job "{self.name}": every_s must be a finite number of seconds > 0, got {self.every_s!r}')
        if self.at is not None and not (isinstance(self.at, str) and _AT.fullmatch(self.at)):
            raise ValueError(f'job "{self.name}": at must be a time of day "HH:MM" (00:00 to 23:59), got {self.at!r}')
        if not isinstance(self.catch_up, bool):
            raise ValueError(f'job "{self.name}": catch_up must be true or false, got {self.catch_up!r}')
        if self.catch_up and self.at is None:
            raise ValueError(f'job "{self.name}": catch_up is for daily jobs (at="HH:MM"), not every_s')


# --- the operator --------------------------------------------------------------------------------
# The :class:`Operator`: what command handlers, jobs, ``startup``/``shutdown`` hooks and services get.
#
# Part of the public plugin API: import these names from :mod:`bot.api`, not from here.
#
# Read models (status, strategies, orders, positions, balances, PnL, opportunities, risk, feeds,
# plugins) return plain values; nothing hands out the host's internals. Control verbs (pause, resume,
# kill, flatten, observe) take the :class:`~bot.api.Caller` they act for and apply the roles the
# command layer applies: ``pause``/``resume`` need ``operator``, ``kill``/``flatten``/``observe``
# need ``admin``; a caller without the role gets :class:`Refused`. Each verb called outside a
# command (a service acting for its own client, a job) is written to the audit log like a command;
# inside a command handler the command's own audit line covers it.


class Refused(PermissionError):
    """A control verb was refused: the caller's role is too low (the message says which role it needs)."""


VERB_ROLES: dict[str, str] = {"pause": "operator", "resume": "operator", "kill": "admin", "flatten": "admin",
                              "observe": "admin", "reload_secrets": "admin"}
"""The role each control verb needs, the same as the host's command of that name."""


@dataclass(frozen=True)
class PluginView:
    """One loaded plugin as ``/plugins`` and ``arbot plugins`` show it."""

    name: str
    kinds: frozenset[str]
    dist: str
    version: str
    errors: tuple[str, ...] = ()
    provides: tuple[str, ...] = field(default=())
    """``kind:name`` of everything it registered."""


@dataclass(frozen=True)
class RiskView:
    """One risk check: its name, its ``status()`` facts (limits and current use, as text) and ``usage()``."""

    name: str
    facts: Mapping[str, str]
    usage: Mapping[str, LimitUse] = field(default_factory=dict)


@dataclass(frozen=True)
class RiskTrip:
    """A stored risk event (a trip or a veto)."""

    ts_ns: int
    check: str
    action: str
    reason: str
    strategy: str = ""
    exchange: str = ""
    symbol: str = ""


@dataclass(frozen=True)
class AuditEntry:
    """One audited call: a chat command, an ``arbot ctl`` line, a web console request, a verb."""

    ts_ns: int
    transport: str
    user_id: str
    command: str
    args: str = ""
    outcome: str = ""
    role: str = ""
    chat_id: str = ""


@dataclass(frozen=True)
class FeedView:
    """One market data feed as the host sees it: its state, the age of its data, its resyncs."""

    exchange: str
    symbol: str
    state: str
    """``live``, ``stale`` or ``resyncing`` as the venue last published it; ``live`` when it never
    published a state but data arrives."""
    data_ns: int | None
    """Time of the latest market data (None: none yet)."""
    changed_ns: int | None
    """When the venue last published a state change (None: never)."""
    reason: str
    """The venue's reason for the last state change."""
    resyncs: int
    """How many times the feed went ``resyncing`` or ``stale`` since the bot started."""


@dataclass(frozen=True)
class ExecutionLeg:
    """One order of an execution: what was asked and how it ended."""

    role: str
    """The strategy's name for the leg (``cex``, ``dex``, ``hedge``, ...)."""
    exchange: str
    side: str
    qty: Decimal
    price: Decimal
    """The leg's limit (worst acceptable) price."""
    client_order_id: str
    status: str
    filled: Decimal
    avg_price: Decimal | None
    submitted_ns: int = 0
    final_ns: int = 0

    @property
    def latency_ms(self) -> Decimal | None:
        """From submission to a final state, in ms (None while it is not final)."""
        if not self.submitted_ns or not self.final_ns:
            return None
        return Decimal(self.final_ns - self.submitted_ns) / 1_000_000


@dataclass(frozen=True)
class ExecutionView:
    """One executed opportunity (a plugin's ``executions`` hook reports them): predicted vs realized."""

    strategy: str
    opportunity_id: str
    symbol: str
    state: str
    """``open``, ``hedging``, ``done`` (the strategy's words)."""
    created_ns: int
    predicted_pnl: Decimal
    realized_pnl: Decimal | None
    """None until every leg is final."""
    quote: str
    size: Decimal
    legs: tuple[ExecutionLeg, ...] = ()
    residual: Decimal = Decimal(0)
    """Base left over once everything is final, not hedged (long positive)."""
    finished_ns: int = 0
    note: str = ""
    filled: Decimal | None = None
    """How much of ``size`` was executed, in its unit (None: not given; the prediction is then taken as being for
    what was executed), as the strategy's :class:`~bot.domain.ExecutionResult` gives it."""

    def result(self) -> ExecutionResult | None:
        """The execution as the :class:`~bot.domain.ExecutionResult` its strategy publishes (None until realized):
        what :func:`bot.api.ledger.prediction_error` compares, as every surface does."""
        if self.realized_pnl is None:
            return None
        return ExecutionResult(self.strategy, self.predicted_pnl, self.realized_pnl, self.quote, self.finished_ns,
                               self.opportunity_id, None if self.filled is None else self.size, self.filled)


BALANCES_TIMEOUT_S = 5.0
"""How long :meth:`Operator.venue_balances` waits for a venue's balances."""


def settings_of_class(plugin: str, settings: object, cls: type[T]) -> T:
    """``plugin``'s settings as an instance of ``cls`` (what :meth:`Operator.plugin_settings` returns given the class);
    a TypeError naming the plugin and both classes when they are not one, or the plugin has none (None)."""
    if isinstance(settings, cls):
        return settings
    expected = f"{cls.__module__}.{cls.__qualname__}"
    if settings is None:
        raise TypeError(f'plugin "{plugin}" has no settings ([plugins.{plugin}]): not installed, disabled, or it '
                        f"registers none; expected {expected}")
    got = type(settings)
    raise TypeError(f'plugin "{plugin}": its settings ([plugins.{plugin}]) are {got.__module__}.{got.__qualname__}, '
                    f"not {expected}")


class Operator(abc.ABC):
    """Read models and control verbs of one running bot."""

    # --- state ----------------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def mode(self) -> str:
        """The mode in force: ``observe``, ``paper`` or ``live`` (``/observe`` switches it at run time)."""

    @property
    @abc.abstractmethod
    def configured_mode(self) -> str:
        """The mode the config says (what ``/observe off`` returns to)."""

    @property
    @abc.abstractmethod
    def started_ns(self) -> int:
        """Wall-clock time the bot started (ns since the epoch)."""

    @property
    @abc.abstractmethod
    def bot_name(self) -> str:
        """``[bot] name`` (the host name when unset): which bot of a fleet this is."""

    @property
    @abc.abstractmethod
    def fleet(self) -> FleetLink | None:
        """The fleet this bot is part of (see :meth:`Context.attach_fleet`), or None when alone."""

    @abc.abstractmethod
    def now_ns(self) -> int:
        """The bot clock's wall time now (simulated in a backtest)."""

    @property
    @abc.abstractmethod
    def timezone(self) -> str:
        """``[scheduler] timezone``: the zone of days, weeks and daily jobs."""

    @abc.abstractmethod
    def period_start_ns(self, period: str) -> int:
        """Start of the current ``day``, ``week`` or ``month`` in :attr:`timezone`, in ns."""

    @overload
    def plugin_settings(self, plugin: str) -> Any: ...

    @overload
    def plugin_settings(self, plugin: str, cls: type[T]) -> T: ...

    @abc.abstractmethod
    def plugin_settings(self, plugin: str, cls: type[T] | None = None) -> Any:
        """The validated ``[plugins.PLUGIN]`` settings of a plugin (None if it declares none).

        Given the settings class (``plugin_settings("beacon", BeaconSettings)``), they are that class's instance to a
        type checker too, checked here (:func:`settings_of_class`): a TypeError naming the plugin and both classes
        when they are another class's, or the plugin has none (not installed, disabled, or it registers none)."""

    @property
    @abc.abstractmethod
    def store(self) -> Store:
        """The bot's database, for a plugin's own tables. Read host figures through the methods here."""

    # --- strategies and components -------------------------------------------------------

    @property
    @abc.abstractmethod
    def strategies(self) -> Mapping[str, Strategy]:
        """Running strategies by name (read-only mapping; use the verbs below to change their state)."""

    @property
    @abc.abstractmethod
    def exchanges(self) -> Mapping[str, Exchange]:
        """Running exchanges by name (read-only mapping)."""

    @property
    def notifiers(self) -> Mapping[str, Notifier]:
        """Running notifiers by name (read-only mapping; ``/status`` shows their :meth:`Notifier.status`)."""
        return {}

    @property
    def services(self) -> Mapping[str, Service]:
        """Running services by name, in start order (read-only mapping; ``/status`` shows their
        :meth:`Service.status`, the metrics plugin exports their :meth:`Service.counters` and
        :meth:`Service.gauges`)."""
        return {}

    @abc.abstractmethod
    def strategy_type(self, name: str) -> str:
        """The registered type of strategy ``name`` (its ``type = "..."``)."""

    @property
    def strategies_not_started(self) -> Mapping[str, str]:
        """Strategies the config names that this run left out at start, with why (not created, ``markets()`` or
        ``start()`` raised, a venue they need did not start): not in :attr:`strategies`, never trading until the bot
        is restarted. Surfaces list them with the running ones (:meth:`strategy_names`), as failed."""
        return {}

    def strategy_names(self) -> list[str]:
        """Every strategy the config names: the running ones, then those not started (each has a
        :meth:`strategy_state`); what a surface lists so that none is silently missing."""
        return [*self.strategies, *(n for n in self.strategies_not_started if n not in self.strategies)]

    @abc.abstractmethod
    def strategy_state(self, name: str) -> str:
        """``running``, ``paused by WHO`` or ``failed (ERROR)`` (``failed (not started: WHY)`` for one of
        :attr:`strategies_not_started`). ERROR quotes the exception short: ``TYPE: message``, one line of at most
        200 characters, secrets masked, no local path (``bot.logs.describe_failure``)."""

    @abc.abstractmethod
    def strategy_failed(self, name: str) -> bool:
        """True when the strategy raised and is stopped until ``/resume``, or was not started at all."""

    @abc.abstractmethod
    def killed(self, name: str) -> bool:
        """True while a strategy stays paused by the kill switch."""

    @abc.abstractmethod
    def service(self, name: str) -> Service | None:
        """The running service registered as ``name`` (None when absent, disabled or failed)."""

    # --- orders, positions, money ---------------------------------------------------------

    @abc.abstractmethod
    def open_orders(self, exchange: str | None = None, symbol: str | None = None) -> list[Order]:
        """Orders sent or being sent that are not final."""

    @abc.abstractmethod
    def unknown_orders(self) -> list[Order]:
        """Orders whose outcome is not known yet (a lost answer): reconciliation keeps asking the venue."""

    def unknown_since_ns(self, client_order_id: str) -> int | None:
        """When an order of :meth:`unknown_orders` became UNKNOWN (wall time, ns); None for any other order."""
        return None

    @property
    @abc.abstractmethod
    def store_error(self) -> str | None:
        """Why the store cannot be written now (new orders are refused meanwhile); None when it can."""

    @abc.abstractmethod
    def alerts_dropped(self) -> int:
        """Alerts this bot lost before any chat took them, since it started: pushed out of the full alert queue
        (``[alerts] queue_size``), or refused by every notifier that wanted them. A notifier's own losses after
        taking an alert are its :meth:`Notifier.dropped_alerts`."""

    def transfers_in_flight(self) -> list[Transfer]:
        """The transfers of funds between venues on their way (stored, not credited nor failed yet), oldest first,
        as :class:`Transfer` values; ``bot.api.ledger.transfer_text`` words one as ``/status`` does."""
        return self.store.transfers_in_flight()

    @abc.abstractmethod
    def positions(self) -> dict[tuple[str, str], Decimal]:
        """Net base position per (exchange, symbol) from this bot's fills; flat markets left out."""

    @abc.abstractmethod
    def last_price(self, exchange: str, symbol: str) -> Decimal | None:
        """Mid price of the latest book (or pool) update of a market, if any."""

    @abc.abstractmethod
    async def balances(self) -> dict[str, dict[str, Balance]]:
        """Balances by exchange, then asset, as each venue reports them now."""

    async def venue_balances(self) -> dict[str, dict[str, Balance] | str]:
        """Each venue's balances by asset as it reports them now, every venue asked at once, by exchange name; a
        venue that raised, or gave no answer within ``BALANCES_TIMEOUT_S``, has why instead (``TransientError:
        503 ...``, ``no answer within 5 s``). What ``/balance`` and the console show: one venue down hides no
        other."""

        async def one(exchange: Exchange) -> dict[str, Balance] | str:
            timeout_s = BALANCES_TIMEOUT_S
            try:
                async with asyncio.timeout(timeout_s):
                    return await exchange.balances()
            except TimeoutError:
                return f"no answer within {timeout_s:g} s"
            except Exception as exc:  # masked before the cut: a cut secret is no longer one the redactor finds
                return REDACTOR.cut(f"{type(exc).__name__}: {exc}", 300)

        venues = sorted(self.exchanges.items())
        found = await asyncio.gather(*(one(exchange) for _, exchange in venues))
        return {name: result for (name, _), result in zip(venues, found, strict=True)}

    @abc.abstractmethod
    def ledger(self) -> Ledger:
        """The one ledger over the stored fills (lots per strategy and market), open lots marked
        to the current mids: ``strategies(since_ns)``, ``strategy(name)``, ``steps(since_ns)``."""

    @abc.abstractmethod
    def pnl(self, since_ns: int | None = None) -> dict[str, StrategyFigures]:
        """``ledger().strategies(since_ns)``: per strategy, fills, realized PnL, fees, net and
        unrealized (asset -> Decimal), from the fills since ``since_ns`` (all without it)."""

    @abc.abstractmethod
    def opportunities(self, limit: int) -> list[Opportunity]:
        """The latest ``limit`` opportunities strategies published, newest first."""

    @abc.abstractmethod
    def opportunities_kept(self) -> int:
        """How many opportunities the host keeps in memory now."""

    @abc.abstractmethod
    def feeds(self) -> dict[tuple[str, str], int]:
        """Time (ns) of the latest market data per (exchange, symbol)."""

    @abc.abstractmethod
    def feed_health(self) -> list[FeedView]:
        """Every market feed the bot has heard of: state, data age, resyncs, by exchange and symbol."""

    # --- history (these read the store: from a server, call them in a thread) -----------------

    @abc.abstractmethod
    def order_history(self, *, strategy: str | None = None, exchange: str | None = None,
                      statuses: list[str] | None = None, since_ns: int | None = None, until_ns: int | None = None,
                      limit: int = 100, offset: int = 0) -> list[Order]:
        """Stored orders, newest first (as stored: the order they were created in), those created in
        ``[since_ns, until_ns)``, filtered."""

    @abc.abstractmethod
    def fill_history(self, *, strategy: str | None = None, exchange: str | None = None,
                     since_ns: int | None = None, until_ns: int | None = None, limit: int = 100,
                     offset: int = 0) -> list[tuple[str, Fill]]:
        """Stored (strategy, fill) pairs, newest first, of the fills in ``[since_ns, until_ns)``."""

    @abc.abstractmethod
    def executions(self, *, strategy: str | None = None, since_ns: int | None = None, until_ns: int | None = None,
                   limit: int = 100, offset: int = 0) -> list[ExecutionView]:
        """Executed opportunities, newest first, as the plugins' ``executions`` hooks report them.

        A plugin whose hook raises is left out and reported (on the bot's loop, also when this
        runs in a worker thread)."""

    @abc.abstractmethod
    def audit_log(self, limit: int = 50, offset: int = 0) -> list[AuditEntry]:
        """The audit log, newest first."""

    @abc.abstractmethod
    def record_audit(self, entries: list[AuditEntry]) -> None:
        """Write audit lines (one transaction; callable from any thread). For transports of their own,
        such as the web console, which audit each call as the command table audits a chat command."""

    # --- risk and plugins -----------------------------------------------------------------

    @abc.abstractmethod
    def risk(self) -> list[RiskView]:
        """Every risk check with its current ``status()`` facts and ``usage()``, each read as :meth:`ask` reads
        (facts ``{"status()": "failed"}`` and no usage for one that raised)."""

    @abc.abstractmethod
    def risk_trips(self, limit: int) -> list[RiskTrip]:
        """The latest ``limit`` stored risk trips (not vetoes), newest first."""

    @abc.abstractmethod
    def plugins(self) -> list[PluginView]:
        """Every loaded plugin with what it provides and its errors, by name."""

    @abc.abstractmethod
    def commands_for(self, caller: Caller) -> list[Command]:
        """The commands ``caller``'s role may run, by name."""

    @abc.abstractmethod
    def ask(self, component: Component, method: str, *args: Any) -> Any:
        """``component.method(*args)`` for a read of another plugin's component (``status()``, ``markets()``,
        ``chart_levels(symbol)``), or None when it raised: the failure is reported against that component's plugin
        (once until it answers again), and your page or command goes on without it."""

    # --- acting ----------------------------------------------------------------------------

    @abc.abstractmethod
    def alert(self, level: AlertLevel, kind: str, message: str, source: str = "host", **fields: Any) -> None:
        """Queue an alert for every notifier; never blocks."""

    @abc.abstractmethod
    def pause(self, names: list[str], caller: Caller) -> list[str]:
        """Pause strategies (``[]``: every one): no new orders, resting orders stay. Returns the names paused."""

    @abc.abstractmethod
    def resume(self, names: list[str], caller: Caller) -> list[str]:
        """Resume strategies (``[]``: every one), including one that failed or the kill switch paused."""

    @abc.abstractmethod
    def kill(self, reason: str, caller: Caller) -> int:
        """Kill switch: pause every strategy, cancel every resting order (in the background).

        Returns how many strategies it paused.
        """

    @abc.abstractmethod
    def flatten(self, reason: str, max_slippage_bps: Decimal, caller: Caller) -> None:
        """Kill switch, then close every position with IOC orders at most ``max_slippage_bps`` through the mid."""

    @abc.abstractmethod
    def set_observe(self, on: bool, caller: Caller) -> str:
        """Observe mode on or off at run time; returns the mode now in force.

        Raises ValueError when the config itself says ``observe`` and ``on`` is False.
        """

    @abc.abstractmethod
    async def reload_secrets(self, caller: Caller) -> list[str]:
        """Re-read every ``env:``/``file:`` secret and hand new values to the components that use them.

        Returns one line per change or problem; a reference that no longer resolves keeps its old
        value (and is alerted). Needs the admin role.
        """

    @abc.abstractmethod
    async def reconcile(self) -> None:
        """Bring the executor's order records and every running strategy in line with the venues."""

    @abc.abstractmethod
    async def snapshot_balances(self) -> None:
        """Store every venue's balances now (the ``balance-snapshot`` job)."""
