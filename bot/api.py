"""The plugin API: base classes for the four kinds of component, and the objects hooks hand over.

A plugin registers *classes* through the ``register_*`` hooks (see :mod:`bot.hookspecs`). The host
builds one instance per config table (``[exchanges.NAME]``, ``[strategies.NAME]``, ...), passing the
instance name, the validated settings (an instance of the class's ``Settings`` dataclass) and a
:class:`Context`. Hooks are synchronous; the components' I/O methods are coroutines.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .domain import (
    Alert,
    AlertLevel,
    Balance,
    Fill,
    MarketEvent,
    MarketInfo,
    Order,
    OrderIntent,
    OrderState,
    OrderUpdate,
)
from .settings import NoSettings

if TYPE_CHECKING:
    from .app import Bot
    from .bus import Bus
    from .clock import Clock
    from .commands import CommandTable
    from .recording import Recorder
    from .store import Store


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


class Context:
    """What the host gives each component: the bus, the clock, logging, alerts, tasks, storage.

    Strategies also use :meth:`submit` and :meth:`cancel`, which go through the risk gate and the
    shared executor.
    """

    def __init__(self, bot: Bot, kind: str, name: str):
        self._bot = bot
        self.kind = kind
        self.name = name
        self.log = logging.getLogger(f"arbot.{kind}.{name}")

    @property
    def bus(self) -> Bus:
        return self._bot.bus

    @property
    def clock(self) -> Clock:
        return self._bot.clock

    @property
    def store(self) -> Store:
        return self._bot.store

    @property
    def commands(self) -> CommandTable:
        """The command table, for chat transports: ``dispatch(caller, name, args)``, ``confirm(caller, token)``."""
        return self._bot.commands

    @property
    def mode(self) -> str:
        """The mode in force: ``observe``, ``paper`` or ``live`` (``/observe on|off`` switches it at run time)."""
        return self._bot.mode

    @property
    def data_dir(self) -> Path:
        """Directory for a plugin's own files (created at start)."""
        return self._bot.data_dir

    def alert(self, level: AlertLevel, kind: str, message: str, **fields: Any) -> None:
        """Queue an alert for every notifier; never blocks."""
        self._bot.alerts.emit(
            Alert(level=level, kind=kind, source=self.name, message=message, fields=fields,
                  ts_ns=self._bot.clock.time_ns())
        )

    def create_task(self, coro: Coroutine[Any, Any, Any], what: str) -> None:
        """Run a coroutine in the background; an exception is logged and alerted with our name."""
        self._bot.tasks.create(coro, owner=self.name, what=what)

    def exchange(self, name: str) -> Exchange:
        """The running exchange instance called ``name``."""
        return self._bot.exchanges[name]

    def recorder(self, exchange_type: str) -> Recorder:
        """The recorder of the exchange type ``exchange_type`` as this bot registered it (a plugin in
        ``[plugins] disabled`` is not there); ValueError names the types that can record."""
        from .recording import recorder_in

        return recorder_in(self._bot.registry.classes("exchange"), exchange_type)

    def submit(self, intent: OrderIntent) -> str | None:
        """Send an order through the risk gate and the executor.

        Returns the client order id, or None when the strategy is paused, a risk check vetoed the
        order (the veto is stored and alerted), or the intent carries a client order id that an
        earlier order already used (ids are never sent twice; look the order up with :meth:`order`). Sending happens in the background; the outcome
        arrives as :class:`OrderUpdate` and :class:`Fill` on the strategy's callbacks.
        """
        return self._bot.executor.submit(intent)

    def cancel(self, client_order_id: str) -> None:
        """Ask the executor to cancel one of our orders (in the background)."""
        self._bot.executor.cancel(client_order_id)

    def order(self, client_order_id: str) -> Order | None:
        """The executor's record of an order, from memory or the store."""
        return self._bot.executor.order(client_order_id)

    # --- for risk checks: act on what has happened ----------------------------------------

    def strategies_using(self, exchange: str, symbol: str | None = None) -> list[str]:
        """Names of the running strategies that trade ``exchange`` (and ``symbol``, if given)."""
        return self._bot.strategies_using(exchange, symbol)

    def pause(self, strategies: list[str] | None, reason: str) -> list[str]:
        """Pause strategies (None: every strategy) on behalf of this component; quiet (no alert).

        Returns the strategies this call paused (those already paused are left as they are). A
        strategy paused this way stays paused until an operator sends ``/resume`` or this same
        component calls :meth:`resume`. Pair it with :meth:`record_trip`, which stores and alerts.
        """
        return self._bot.pause_for_risk(self.name, strategies, reason)

    def resume(self, strategies: list[str] | None, reason: str) -> list[str]:
        """Resume strategies that *this component* paused (never an operator's or another check's pause).

        Returns the strategies resumed. Quiet: alert with :meth:`alert` if people should hear of it.
        """
        return self._bot.resume_for_risk(self.name, strategies, reason)

    def kill(self, reason: str) -> None:
        """Kill switch: pause every strategy at once, then cancel every resting order (in the background)."""
        self._bot.kill(by=f"risk {self.name}", reason=reason, alert=False)

    def flatten(self, reason: str, max_slippage_bps: Decimal) -> None:
        """Kill switch, then close every position with immediate-or-cancel limit orders.

        Each closing order is priced ``max_slippage_bps`` through the last mid price (sells below,
        buys above) and bypasses the risk gate; what does not fill at that price stays open.
        """
        self._bot.flatten(by=f"risk {self.name}", reason=reason, max_slippage_bps=max_slippage_bps)

    def record_trip(self, cause: str, action: str, *, strategy: str = "", exchange: str = "", symbol: str = "",
                    level: AlertLevel = AlertLevel.WARNING, **figures: Any) -> None:
        """Store a risk trip (``risk_events`` table) and alert it once.

        ``cause`` is one plain sentence *without* figures, identical for identical causes
        ("daily realized loss limit exceeded"), so the host's alert coalescing turns repeated trips
        inside ``[alerts] coalesce_s`` into one alert with a count. The figures go in ``figures``
        (Decimals are stored as exact strings). ``action`` says what was done: ``pause``,
        ``flatten``, ``stop``, ``open circuit``, ...
        """
        self._bot.record_trip(self.name, cause, action, strategy=strategy, exchange=exchange, symbol=symbol,
                              level=level, figures=figures)


# --- components --------------------------------------------------------------------------------


class Component:
    """Common shape: ``Settings`` describes the config table; ``start``/``stop`` bracket the run."""

    Settings: ClassVar[type] = NoSettings
    exchange_settings: ClassVar[tuple[str, ...]] = ("exchange",)
    """Settings fields that name a configured exchange; the config check refuses an unknown name."""

    def __init__(self, name: str, settings: Any, ctx: Context):
        self.name = name
        self.settings = settings
        self.ctx = ctx

    async def start(self) -> None:
        """Called once, inside the running loop, before any event flows."""

    async def stop(self) -> None:
        """Called once on shutdown, in reverse start order."""


class Exchange(Component, abc.ABC):
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
    supports_batch: ClassVar[bool] = False
    """True when :meth:`place_orders`/:meth:`cancel_orders` are single requests on the venue."""
    recorder: ClassVar[Recorder | None] = None
    """Optional: a :class:`bot.recording.Recorder` makes ``arbot record``/``arbot replay --exchange
    TYPE`` work for this venue (record raw frames, replay them through the plugin's own book code)."""

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

    @abc.abstractmethod
    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Every resting order (optionally of one symbol)."""

    @abc.abstractmethod
    async def balances(self) -> dict[str, Balance]:
        """Balances by asset."""


class Strategy(Component):
    """Turns market events into order intents.

    Callbacks (``on_*``) run on the hot path: plain synchronous code on in-memory state. Use
    ``self.ctx.submit(intent)`` to place orders and ``self.ctx.create_task`` for anything slow.
    While ``paused`` is True the host drops this strategy's new intents; resting orders stay.
    """

    paused: bool = False
    order_settings: ClassVar[tuple[str, ...]] = ("exchange",)
    """Settings fields naming the exchanges this strategy places orders on. In paper mode each must be
    simulated (other exchanges may run as market-data sources: a paper exchange can mirror them)."""

    def markets(self) -> list[tuple[str, str]]:
        """The (exchange, symbol) pairs whose market events this strategy receives."""
        return []

    def on_market(self, event: MarketEvent) -> None:
        """A book update, public trade or feed status change for one of :meth:`markets`."""

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


class RiskCheck(Component):
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

    def on_fill(self, strategy: str, fill: Fill) -> None:
        """One of the bot's orders filled (each fill once, with the strategy that owns the order).

        Called before the strategy hears of the fill, so a trip here stops its reaction.
        """

    def status(self) -> dict[str, str]:
        """Limits and current use for ``/risk``, already text with units: ``{"daily loss": "12 / 100 USD"}``."""
        return {}


class Notifier(Component):
    """Delivers alerts. ``send`` may be slow: the host queues alerts and never waits on it."""

    @abc.abstractmethod
    async def send(self, alert: Alert) -> None:
        """Deliver one alert."""


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
    image_png: bytes | None = None
    """A PNG image (a chart) that is the answer itself: chat transports send it as a photo or an
    attachment with the title as caption, ``arbot ctl`` writes it to a file and prints the path."""

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


CommandHandler = Callable[["Bot", Caller, list[str]], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    """A chat/control command: ``/name args...``."""

    name: str
    handler: CommandHandler
    role: Role
    help: str
    usage: str = ""
    confirm: Callable[[Bot, list[str]], str | None] | None = None
    """For dangerous commands: return a question ("Cancel 12 orders and pause everything?") when
    this call must be confirmed by the same user within ``[commands] confirm_ttl_s``, else None."""


JobFunc = Callable[["Bot"], Awaitable[None]]


@dataclass(frozen=True)
class Job:
    """Timed work: ``func(bot)`` runs on an interval (``every_s``) or daily at ``at`` ("HH:MM")."""

    name: str
    func: JobFunc
    every_s: float | None = None
    at: str | None = None
    """Daily at this time in ``[scheduler] timezone``."""

    def __post_init__(self) -> None:
        if (self.every_s is None) == (self.at is None):
            raise ValueError(f'job "{self.name}": give exactly one of every_s or at')
